/* chaind's HTTP port against a hostile neighbour (issue 10 part 3, issue 9
 * part 5): slowloris heads, a trickling body, one address taking every slot,
 * a client that writes a too-large body before it reads, a slowloris spread
 * over many addresses. The attackers connect from 127.0.0.2 and up (still
 * loopback), the well-behaved client from 127.0.0.1, so that the per-address
 * cap tells them apart. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"

#define ATTACKERS 1100        /* slowloris connections: past the 1 024 slots */
#define ATTACK_S 13           /* the head deadline (10 s), a sweep and slack */
#define PROBE_BOUND_MS 2000.0 /* /status from another address, under attack */
#define RSS_BOUND_KIB (256 * 1024)
#define SPREAD_ADDRS 20      /* a slowloris from this many addresses ... */
#define SPREAD_EACH 60       /* ... each under the per-address cap: 1 200 > 1 024 slots */
#define SPREAD_S 4           /* well inside the head deadline: eviction, not the deadline */
#define LOG_BOUND_BYTES (64 * 1024)

static tb_chaind_t daemon_;

static void reap_daemon(void)
{
    if (daemon_.pid > 0) {
        tb_chaind_kill(&daemon_);
        cr_log_warn("chaind killed; its log is %s/chaind.log", daemon_.datadir);
    }
}

/* SIGTERM: chaind must exit 0; its data directory stays. */
static void stop_daemon_keep(tb_chaind_t *d)
{
    cr_assert_eq(tb_chaind_stop(d), 0, "chaind did not exit 0 on SIGTERM");
}

static void stop_daemon(tb_chaind_t *d)
{
    stop_daemon_keep(d);
    tb_rmdir(d->datadir);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A non-blocking TCP connection from address src to 127.0.0.1:port (in
 * progress), or -1. */
static int connect_from(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Whether the server has closed fd: the end of the stream or a reset. */
static bool closed_by_peer(int fd)
{
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Waits up to ms for fd to be closed by the server. */
static bool closed_within(int fd, int ms)
{
    for (double end = now_s() + ms / 1000.0; now_s() < end;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0 && closed_by_peer(fd))
            return true;
    }
    return false;
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};
    nanosleep(&ts, NULL);
}

static const char trickle[] = "GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";

/* Starts chaind for an attack of n connections; log gets its log's path,
 * *log0 the log's size before the attack. */
static tb_chaind_t *start_for_attack(int n, char *log, size_t log_size, long *log0)
{
    signal(SIGPIPE, SIG_IGN);
    tb_raise_nofile(n + 100);
    tb_asan_small_quarantine();
    tb_chaind_t *d = &daemon_;
    tb_chaind_start(d, NULL, NULL);
    snprintf(log, log_size, "%s/chaind.log", d->datadir);
    *log0 = tb_file_size(log);
    return d;
}

Test(httpguard, slowloris_heads_are_cut_and_others_are_served, .fini = reap_daemon,
     .timeout = 90)
{
    char log[1024];
    long log0;
    tb_chaind_t *d = start_for_attack(ATTACKERS, log, sizeof log, &log0);
    double idle_ms = 0, took, worst = 0;
    cr_assert_eq(tb_status_probe(d, 5000, &idle_ms), 200);
    static int fds[ATTACKERS];
    for (int i = 0; i < ATTACKERS; i++)
        cr_assert_geq(fds[i] = connect_from("127.0.0.2", d->http_port), 0, "connect %d", i);
    long rss = 0;
    double t0 = now_s();
    for (int sec = 0; now_s() - t0 < ATTACK_S; sec++) {
        for (int i = 0; i < ATTACKERS; i++) /* a byte a second each; errors: cut already */
            (void)send(fds[i], trickle + (sec % (int)(sizeof trickle - 1)), 1, MSG_NOSIGNAL);
        cr_assert_eq(tb_status_probe(d, 5000, &took), 200, "/status failed under attack");
        worst = took > worst ? took : worst;
        long r = tb_rss_kib(d->pid);
        rss = r > rss ? r : rss;
        sleep_ms(1000 - (took > 900 ? 900 : took));
    }
    int open = 0;
    for (int i = 0; i < ATTACKERS; i++) {
        open += !closed_by_peer(fds[i]);
        close(fds[i]);
    }
    long log_bytes = tb_file_size(log) - log0;
    cr_log_info("slowloris: /status idle %.1f ms, worst under attack %.1f ms; chaind VmRSS at "
                "most %ld KiB; log +%ld bytes; %d of %d attackers still open after %d s",
                idle_ms, worst, rss, log_bytes, open, ATTACKERS, ATTACK_S);
    cr_assert_lt(worst, PROBE_BOUND_MS, "/status took %.1f ms under attack", worst);
    cr_assert_lt(rss, RSS_BOUND_KIB, "chaind's RSS %ld KiB", rss);
    cr_assert_lt(log_bytes, LOG_BOUND_BYTES, "the log grew %ld bytes", log_bytes);
    cr_assert_eq(open, 0, "%d trickling heads outlived the 10 s deadline", open);
    cr_assert(tb_log_mentions(log, log0, "request head took over"), "no cut was logged");
    stop_daemon(d);
}

/* Opens SPREAD_EACH connections from each of SPREAD_ADDRS addresses and
 * sends each the first bytes of a head; fds[] holds them. */
static void spread_attack(const tb_chaind_t *d, int *fds)
{
    for (int a = 0; a < SPREAD_ADDRS; a++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.0.%d", 2 + a);
        for (int i = 0; i < SPREAD_EACH; i++) {
            int *fd = &fds[a * SPREAD_EACH + i];
            cr_assert_geq(*fd = connect_from(src, d->http_port), 0, "connect %s #%d", src, i);
        }
    }
    sleep_ms(500); /* the connections complete */
    for (int i = 0; i < SPREAD_ADDRS * SPREAD_EACH; i++)
        (void)send(fds[i], trickle, 8, MSG_NOSIGNAL);
}

/* Fewer than a sixteenth of the slots free: a new connection evicts an
 * unfinished head from the address holding the most, so a client from
 * another address is served at once, not when the head deadline frees the
 * slots 10 s later. Without eviction every probe here waits past its 5 s. */
Test(httpguard, a_slowloris_from_many_addresses_is_evicted_for_others, .fini = reap_daemon,
     .timeout = 90)
{
    char log[1024];
    long log0;
    tb_chaind_t *d = start_for_attack(SPREAD_ADDRS * SPREAD_EACH, log, sizeof log, &log0);
    static int fds[SPREAD_ADDRS * SPREAD_EACH];
    spread_attack(d, fds);
    double t0 = now_s(), took, worst = 0;
    int probes = 0;
    while (now_s() - t0 < SPREAD_S) {
        cr_assert_eq(tb_status_probe(d, 5000, &took), 200, "/status failed under attack");
        worst = took > worst ? took : worst;
        probes++;
        sleep_ms(200);
    }
    int open = 0;
    for (int i = 0; i < SPREAD_ADDRS * SPREAD_EACH; i++) {
        open += !closed_by_peer(fds[i]);
        close(fds[i]);
    }
    long log_bytes = tb_file_size(log) - log0;
    cr_log_info("spread slowloris: %d connections from %d addresses, %d still open after %d s; "
                "%d probes, worst /status %.1f ms; log +%ld bytes",
                SPREAD_ADDRS * SPREAD_EACH, SPREAD_ADDRS, open, SPREAD_S, probes, worst,
                log_bytes);
    cr_assert_lt(worst, PROBE_BOUND_MS, "/status took %.1f ms under attack", worst);
    cr_assert_lt(open, 1024, "every slot still held");
    cr_assert_lt(log_bytes, LOG_BOUND_BYTES, "the log grew %ld bytes", log_bytes);
    cr_assert(tb_log_mentions(log, log0, "slots are short"), "no eviction was logged");
    /* and /metrics counts them */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", d->http_port);
    tb_http_t m;
    tb_http(&m, "GET", url, NULL, 0, NULL);
    cr_assert_eq(m.status, 200);
    const char *series = "chain_http_connections_cut_total{reason=\"evicted\"} ";
    const char *at = strstr(m.body, series);
    cr_assert_not_null(at, "no eviction series in /metrics");
    long evicted = strtol(at + strlen(series), NULL, 10);
    cr_log_info("spread slowloris: /metrics counts %ld evictions", evicted);
    cr_assert_geq(evicted, SPREAD_ADDRS * SPREAD_EACH - 1024, "%ld evictions counted", evicted);
    tb_http_free(&m);
    stop_daemon(d);
}

Test(httpguard, a_slow_body_is_cut, .fini = reap_daemon, .timeout = 60)
{
    signal(SIGPIPE, SIG_IGN);
    tb_chaind_t *d = &daemon_;
    tb_chaind_start(d, NULL, NULL);
    /* a body at 10 bytes a second: cut after the 5 s grace */
    int slow = connect_from("127.0.0.1", d->http_port);
    cr_assert_geq(slow, 0);
    struct pollfd p = {slow, POLLOUT, 0};
    cr_assert_eq(poll(&p, 1, 2000), 1);
    static const char head[] = "POST /transactions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               "application/json\r\nContent-Length: 100000\r\n\r\n";
    cr_assert_eq(send(slow, head, sizeof head - 1, MSG_NOSIGNAL), (ssize_t)(sizeof head - 1));
    double t0 = now_s();
    bool cut = false;
    while (!cut && now_s() - t0 < 12) {
        (void)send(slow, "          ", 10, MSG_NOSIGNAL);
        cut = closed_within(slow, 1000);
    }
    cr_log_info("a 10 B/s body was cut after %.1f s", now_s() - t0);
    cr_assert(cut, "a body at 10 bytes a second was not cut in 12 s");
    cr_assert_geq(now_s() - t0, 4.0, "the body was cut inside its grace");
    close(slow);
    stop_daemon(d);
}

Test(httpguard, one_address_is_capped_and_others_are_served, .fini = reap_daemon, .timeout = 60)
{
    signal(SIGPIPE, SIG_IGN);
    tb_chaind_t *d = &daemon_;
    const char *extra[] = {"--http-max-per-ip", "4", NULL};
    tb_chaind_start(d, NULL, extra);
    /* four connections from 127.0.0.2 are served; a fifth is closed */
    int held[5];
    for (int i = 0; i < 5; i++) {
        cr_assert_geq(held[i] = connect_from("127.0.0.2", d->http_port), 0);
        sleep_ms(100); /* accepted in order */
    }
    for (int i = 0; i < 4; i++)
        cr_assert_not(closed_within(held[i], 300), "connection %d under the cap was closed", i);
    cr_assert(closed_within(held[4], 3000), "the fifth connection from one address stayed");
    double took;
    cr_assert_eq(tb_status_probe(d, 2000, &took), 200, "another address was not served");
    for (int i = 0; i < 5; i++)
        close(held[i]);
    stop_daemon(d);
}

/* 8 MiB with Python's http.client, which writes its whole request before it
 * reads: it reads the 413 JSON, with and without Expect: 100-continue. */
Test(httpguard, a_too_large_post_reads_its_413, .fini = reap_daemon, .timeout = 60)
{
    tb_chaind_t *d = &daemon_;
    tb_chaind_start(d, NULL, NULL);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/integration/post_large.py %d",
             CHAIN_SOURCE_DIR, d->http_port);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
    stop_daemon(d);
}

/* Sends req on a new connection from 127.0.0.1 and reads the answer until
 * the server closes (at most 5 s): malloc'd, NUL-terminated. */
static char *exchange(const tb_chaind_t *d, const char *req, size_t len)
{
    int fd = connect_from("127.0.0.1", d->http_port);
    cr_assert_geq(fd, 0);
    struct pollfd p = {fd, POLLOUT, 0};
    cr_assert_eq(poll(&p, 1, 2000), 1);
    for (size_t off = 0; off < len;) {
        p.events = POLLOUT;
        cr_assert_eq(poll(&p, 1, 2000), 1);
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        off += (size_t)n;
    }
    size_t cap = 65536, got = 0;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    for (double end = now_s() + 5; now_s() < end && got < cap - 1;) {
        p.events = POLLIN;
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
    return out;
}

static void expect_json_error(const tb_chaind_t *d, const char *req, size_t len,
                              const char *status_line, const char *what)
{
    char *ans = exchange(d, req, len);
    cr_assert(strncmp(ans, status_line, strlen(status_line)) == 0, "%s: got %.200s", what, ans);
    const char *body = strstr(ans, "\r\n\r\n");
    cr_assert_not_null(body, "%s: no body", what);
    json_error_t je;
    json_t *j = json_loads(body + 4, 0, &je);
    cr_assert_not_null(j, "%s: the body is not JSON: %.200s", what, body + 4);
    cr_assert_str_eq(json_string_value(json_object_get(j, "error")), "too_large", "%s", what);
    cr_assert_not_null(json_string_value(json_object_get(j, "message")), "%s", what);
    json_decref(j);
    free(ans);
}

/* A URI or headers past chaind's bounds (8 KiB, 16 KiB) are refused with
 * its JSON, not libmicrohttpd's HTML. */
Test(httpguard, a_long_uri_and_long_headers_answer_json, .fini = reap_daemon, .timeout = 60)
{
    signal(SIGPIPE, SIG_IGN);
    tb_chaind_t *d = &daemon_;
    tb_chaind_start(d, NULL, NULL);
    size_t big = 20000, cap = big + 256;
    char *req = malloc(cap);
    cr_assert_not_null(req);
    int n = snprintf(req, cap, "GET /status?q=%0*d HTTP/1.1\r\nHost: x\r\n\r\n", (int)big, 0);
    expect_json_error(d, req, (size_t)n, "HTTP/1.1 414", "a 20 KB URI");
    n = snprintf(req, cap, "GET /status HTTP/1.1\r\nHost: x\r\nX-Big: %0*d\r\n\r\n", (int)big, 0);
    expect_json_error(d, req, (size_t)n, "HTTP/1.1 431", "a 20 KB header");
    free(req);
    double took;
    cr_assert_eq(tb_status_probe(d, 2000, &took), 200);
    stop_daemon(d);
}

/* Refusals a client repeats at will cost a log line a second, not one each. */
Test(httpguard, repeated_refusals_are_logged_at_a_bounded_rate, .fini = reap_daemon,
     .timeout = 60)
{
    signal(SIGPIPE, SIG_IGN);
    tb_chaind_t *d = &daemon_;
    tb_chaind_start(d, NULL, NULL);
    char log[1024];
    snprintf(log, sizeof log, "%s/chaind.log", d->datadir);
    static const char req[] =
        "GET /no-such-route HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    double t0 = now_s();
    for (int i = 0; i < 200; i++)
        free(exchange(d, req, sizeof req - 1));
    double took = now_s() - t0;
    stop_daemon_keep(d);
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    char line[1024];
    int lines = 0;
    while (fgets(line, sizeof line, f))
        lines += strstr(line, "-> 404 not_found") != NULL;
    fclose(f);
    cr_log_info("200 refusals in %.1f s: %d log lines", took, lines);
    cr_assert_leq(lines, (int)took + 2, "200 refusals in %.1f s wrote %d lines", took, lines);
    tb_rmdir(d->datadir);
}
