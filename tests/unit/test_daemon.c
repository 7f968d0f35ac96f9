/* common/daemon.h: the stop and reload signals, the flags every daemon
 * parses, and the systemd notifications, read from a NOTIFY_SOCKET of the
 * test's own (a datagram socket in a temporary directory) so that what each
 * call sends, and that it sends nothing else, is seen exactly. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "builder.h"
#include "daemon.h"
#include "params.h"

/* --- signals ------------------------------------------------------------------- */

Test(daemon, term_and_int_set_the_stop_flag)
{
    static volatile sig_atomic_t stop;
    daemon_signals(&stop);
    const int sigs[] = {SIGTERM, SIGINT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        stop = 0;
        cr_assert_eq(raise(sigs[i]), 0);
        cr_assert_eq(stop, 1, "signal %d did not set the flag", sigs[i]);
    }
}

Test(daemon, a_closed_pipe_is_an_error_not_a_death)
{
    static volatile sig_atomic_t stop;
    daemon_signals(&stop);
    cr_assert_eq(raise(SIGPIPE), 0); /* the test process lives on */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    close(fds[0]);
    cr_assert_eq(write(fds[1], "x", 1), -1);
    cr_assert_eq(errno, EPIPE);
    close(fds[1]);
    cr_assert_eq(stop, 0, "SIGPIPE is no stop");
}

Test(daemon, hup_is_a_reload_not_a_stop)
{
    static volatile sig_atomic_t stop, hup;
    daemon_signals(&stop);
    daemon_on_hup(&hup);
    cr_assert_eq(raise(SIGHUP), 0);
    cr_assert_eq(hup, 1);
    cr_assert_eq(stop, 0);
    hup = 0; /* its reader clears it: the next one sets it again */
    cr_assert_eq(raise(SIGHUP), 0);
    cr_assert_eq(hup, 1);
}

/* --- the common flags ------------------------------------------------------------ */

/* daemon_common_flags() with what it writes on stderr into out. */
static int common_flags(const char *level, const char *network, const chain_params_t **params,
                        char *out, size_t cap)
{
    char path[] = "/tmp/chain-test-stderr-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    cr_assert_geq(saved, 0);
    dup2(fd, STDERR_FILENO);
    int rc = daemon_common_flags("testd", level, network, params);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    return rc;
}

Test(daemon, common_flags_take_each_level_and_network)
{
    const char *levels[] = {"error", "warn", "info", "debug"};
    const char *networks[] = {"demo", "regtest"};
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        for (size_t n = 0; n < sizeof networks / sizeof networks[0]; n++) {
            const chain_params_t *p = NULL;
            char err[512];
            cr_assert_eq(common_flags(levels[l], networks[n], &p, err, sizeof err), 0,
                         "%s/%s: %s", levels[l], networks[n], err);
            cr_assert_eq(p, params_by_name(networks[n]));
            cr_assert_str_empty(err, "a success said: %s", err);
        }
    }
}

Test(daemon, common_flags_refuse_with_a_message)
{
    static const struct {
        const char *level, *network, *says;
    } bad[] = {
        {"loud", "regtest", "testd: --log-level is error, warn, info or debug\n"},
        {"", "demo", "testd: --log-level is error, warn, info or debug\n"},
        {"INFO ", "demo", "testd: --log-level is error, warn, info or debug\n"},
        {"info", "mainnet", "testd: --network is demo or regtest\n"},
        {"info", "", "testd: --network is demo or regtest\n"},
        {"loud", "mainnet", "testd: --log-level is error, warn, info or debug\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const chain_params_t *p;
        char err[512];
        cr_assert_eq(common_flags(bad[i].level, bad[i].network, &p, err, sizeof err), -1,
                     "case %zu accepted", i);
        cr_assert_str_eq(err, bad[i].says, "case %zu", i);
    }
}

/* --- systemd notifications -------------------------------------------------------- */

typedef struct {
    char dir[256];
    int fd;
} notify_t;

/* A datagram socket at <tmp>/notify, named by NOTIFY_SOCKET; WATCHDOG_USEC
 * set to watchdog_usec (NULL: unset). */
static void notify_open(notify_t *n, const char *watchdog_usec)
{
    tb_tmpdir(n->dir);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    cr_assert_lt(strlen(n->dir) + sizeof "/notify", sizeof a.sun_path);
    memcpy(a.sun_path, n->dir, strlen(n->dir));
    strcat(a.sun_path, "/notify");
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(n->fd, 0);
    cr_assert_eq(bind(n->fd, (struct sockaddr *)&a, sizeof a), 0, "%s", strerror(errno));
    cr_assert_eq(setenv("NOTIFY_SOCKET", a.sun_path, 1), 0);
    unsetenv("WATCHDOG_PID");
    if (watchdog_usec)
        cr_assert_eq(setenv("WATCHDOG_USEC", watchdog_usec, 1), 0);
    else
        unsetenv("WATCHDOG_USEC");
}

static void notify_close(notify_t *n)
{
    close(n->fd);
    tb_rmdir(n->dir);
}

/* The next notification, or "" when none waits: sd_notify's send has
 * returned before the call under test did, so what was sent is queued. */
static void notify_next(notify_t *n, char *out, size_t cap)
{
    ssize_t got = recv(n->fd, out, cap - 1, MSG_DONTWAIT);
    cr_assert(got >= 0 || errno == EAGAIN, "recv: %s", strerror(errno));
    out[got > 0 ? got : 0] = '\0';
}

static void expect_next(notify_t *n, const char *want)
{
    char got[256];
    notify_next(n, got, sizeof got);
    cr_assert_str_eq(got, want);
}

Test(daemon, ready_without_a_watchdog)
{
    notify_t n;
    notify_open(&n, NULL);
    daemon_watchdog_t w;
    daemon_ready(&w);
    cr_assert_eq(w.interval_usec, 0);
    expect_next(&n, "READY=1");
    w.last_ping = 0; /* however long since: no watchdog, no ping */
    daemon_watchdog_tick(&w);
    expect_next(&n, "");
    daemon_stopping();
    expect_next(&n, "STOPPING=1");
    expect_next(&n, "");
    notify_close(&n);
}

Test(daemon, watchdog_pings_after_half_its_interval)
{
    notify_t n;
    notify_open(&n, "3600000000"); /* an hour: no tick of this test comes near half of it */
    daemon_watchdog_t w;
    daemon_ready(&w);
    cr_assert_eq(w.interval_usec, 3600000000u);
    expect_next(&n, "READY=1");
    daemon_watchdog_tick(&w);
    expect_next(&n, "");
    /* as if half the interval had passed since the last ping */
    uint64_t last = w.last_ping;
    cr_assert_gt(last, w.interval_usec / 2, "the monotonic clock is younger than the test");
    w.last_ping = last - w.interval_usec / 2;
    daemon_watchdog_tick(&w);
    expect_next(&n, "WATCHDOG=1");
    cr_assert_geq(w.last_ping, last, "the ping restarts the count");
    daemon_watchdog_tick(&w);
    expect_next(&n, "");
    notify_close(&n);
}

Test(daemon, a_watchdog_for_another_process_is_not_ours)
{
    notify_t n;
    notify_open(&n, "1000000");
    char other[32];
    snprintf(other, sizeof other, "%d", (int)getpid() + 1);
    setenv("WATCHDOG_PID", other, 1);
    daemon_watchdog_t w;
    daemon_ready(&w);
    cr_assert_eq(w.interval_usec, 0);
    expect_next(&n, "READY=1");
    notify_close(&n);
}

Test(daemon, no_notify_socket_is_no_error)
{
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    daemon_watchdog_t w;
    daemon_ready(&w);
    cr_assert_eq(w.interval_usec, 0);
    daemon_watchdog_tick(&w);
    daemon_stopping();
}
