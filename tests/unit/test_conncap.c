/* conncap.h: a ROUTER capped at CAP takes CAP + EXTRA real TCP connections;
 * the cap's thread shuts the extras down (each sees EOF after ZeroMQ's
 * greeting) and keeps CAP live. Liveness is bounded (the test gives up after
 * a generous wait); nothing is timed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "conncap.h"
#include "log.h"

#define CAP 4
#define EXTRA 10
#define WAIT_MS 30000 /* a liveness bound, not a timing assertion */

static void *zctx, *router, *pub;
static int port;
static conncap_t *cap; /* stopped by the teardown when an assertion ended a test */

static void setup(void)
{
    log_init("test", LOG_ERROR);
    zctx = zmq_ctx_new();
    router = zmq_socket(zctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
    char ep[64];
    size_t len = sizeof ep;
    cr_assert_eq(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    cr_assert_eq(sscanf(strrchr(ep, ':') + 1, "%d", &port), 1);
}

static void teardown(void)
{
    conncap_stop(&cap, router);
    if (pub)
        zmq_close(pub);
    zmq_close(router);
    zmq_ctx_term(zctx);
}

TestSuite(conncap, .init = setup, .fini = teardown);

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "%s", strerror(errno));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Reads what is there; true once the peer closed (EOF or reset). */
static bool closed(int fd)
{
    char buf[256];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return true;
        if (n < 0)
            return false;
    }
}

Test(conncap, keeps_cap_connections_and_shuts_the_rest)
{
    err_t e;
    cr_assert_eq(conncap_start(&cap, zctx, router, CAP, "test", &e), 0, "%s", e.message);
    int fds[CAP + EXTRA];
    bool gone[CAP + EXTRA] = {false};
    for (int i = 0; i < CAP + EXTRA; i++)
        fds[i] = dial();
    conncap_stats_t st;
    int n_gone = 0;
    for (uint64_t end = clock_ms() + WAIT_MS; clock_ms() < end;) {
        for (int i = 0; i < CAP + EXTRA; i++)
            if (!gone[i] && closed(fds[i])) {
                gone[i] = true;
                n_gone++;
            }
        conncap_stats(cap, &st);
        if (n_gone >= EXTRA && st.accepted == CAP + EXTRA)
            break;
        poll(NULL, 0, 20);
    }
    conncap_stats(cap, &st);
    cr_assert_eq(st.accepted, CAP + EXTRA);
    cr_assert_eq(n_gone, EXTRA, "%d of %d connections were shut", n_gone, CAP + EXTRA);
    cr_assert_eq(st.live, CAP);
    cr_assert_eq(st.kicked, EXTRA);
    cr_assert_geq(st.peak, CAP);
    for (int i = 0; i < CAP + EXTRA; i++)
        close(fds[i]);
    /* the kept ones leave: the count follows */
    for (uint64_t end = clock_ms() + WAIT_MS; clock_ms() < end; poll(NULL, 0, 20)) {
        conncap_stats(cap, &st);
        if (st.live == 0 && st.disconnected == CAP + EXTRA)
            break;
    }
    cr_assert_eq(st.live, 0);
    cr_assert_eq(st.disconnected, CAP + EXTRA);
    conncap_stop(&cap, router);
    cr_assert_null(cap);
}

/* Cap 0 counts and shuts nothing; a socket without a tcp:// endpoint is
 * refused. */
Test(conncap, counts_only_without_a_cap)
{
    err_t e;
    cr_assert_eq(conncap_start(&cap, zctx, router, 0, "test", &e), 0, "%s", e.message);
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = dial();
    conncap_stats_t st;
    for (uint64_t end = clock_ms() + WAIT_MS; clock_ms() < end; poll(NULL, 0, 20)) {
        conncap_stats(cap, &st);
        if (st.accepted == 3)
            break;
    }
    cr_assert_eq(st.live, 3);
    cr_assert_eq(st.kicked, 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_not(closed(fds[i]));
        close(fds[i]);
    }
    conncap_stop(&cap, router);

    pub = zmq_socket(zctx, ZMQ_PUB);
    cr_assert_eq(zmq_bind(pub, "inproc://not-tcp"), 0);
    cr_assert_lt(conncap_start(&cap, zctx, pub, 1, "test", &e), 0);
    cr_assert_null(cap);
}
