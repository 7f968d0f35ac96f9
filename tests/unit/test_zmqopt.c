/* common/zmqopt.h: every option zmqopt_apply() sets read back with
 * zmq_getsockopt (and ZeroMQ's defaults kept where the struct says 0), each
 * refusal with its reason, what the options do on real sockets (topics
 * subscribed, ROUTER_MANDATORY, a CURVE handshake and a failed one seen by
 * the monitor), the monitor reader past malformed events, drain, redial and
 * the handshake log line. Sockets are ipc:// in a temporary directory or
 * inproc://: nothing a parallel test could collide with. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder.h"
#include "clock.h"
#include "log.h"
#include "rpckey.h"
#include "zap.h"
#include "zmqopt.h"

#define WAIT_MS 10000 /* a liveness bound: what must arrive does within it */

static void *zctx;
static char dir[256];
/* Every socket a test opens, so that one that fails half-way still closes
 * them all (zmq_ctx_term waits for every socket). */
#define MAX_SOCKETS 16
static void *open_socks[MAX_SOCKETS];

static void *track(void *s)
{
    cr_assert_not_null(s, "%s", zmq_strerror(zmq_errno()));
    for (int i = 0; i < MAX_SOCKETS; i++)
        if (!open_socks[i]) {
            open_socks[i] = s;
            return s;
        }
    cr_assert_fail("more than %d sockets", MAX_SOCKETS);
    return NULL;
}

static void untrack(void *s)
{
    for (int i = 0; i < MAX_SOCKETS; i++)
        if (open_socks[i] == s)
            open_socks[i] = NULL;
}

/* zmq_close, tracked */
static void done(void *s)
{
    untrack(s);
    zmq_close(s);
}

/* zmqopt_monitor, tracked, asserted */
static void *monitor(void *s, int events)
{
    err_t e;
    void *mon = zmqopt_monitor(zctx, s, events, &e);
    cr_assert_not_null(mon, "%s", e.message);
    return track(mon);
}

/* zmqopt_monitor_close, tracked */
static void monitor_done(void *s, void *mon)
{
    untrack(mon);
    zmqopt_monitor_close(s, mon);
}

static void setup(void)
{
    zctx = zmq_ctx_new();
    cr_assert_not_null(zctx);
    tb_tmpdir(dir);
}

static void teardown(void)
{
    for (int i = 0; i < MAX_SOCKETS; i++)
        if (open_socks[i])
            done(open_socks[i]);
    zmq_ctx_term(zctx);
    tb_rmdir(dir);
}

TestSuite(zmqopt, .init = setup, .fini = teardown);

/* ipc://<dir>/<name> */
static void endpoint(char out[300], const char *name) { snprintf(out, 300, "ipc://%s/%s", dir, name); }

static void *sock(int type) { return track(zmq_socket(zctx, type)); }

static int get_int(void *s, int option)
{
    int v;
    size_t len = sizeof v;
    cr_assert_eq(zmq_getsockopt(s, option, &v, &len), 0, "option %d: %s", option,
                 zmq_strerror(zmq_errno()));
    return v;
}

/* --- options ----------------------------------------------------------------------- */

Test(zmqopt, sets_every_option)
{
    void *s = sock(ZMQ_DEALER);
    zmqopt_t o = {.sndhwm = 11, .rcvhwm = 22, .max_msg = 12345, .heartbeat_ivl_ms = 1500,
                  .heartbeat_timeout_ms = 4500, .heartbeat_ttl_ms = 6000,
                  .reconnect_ivl_ms = 250, .reconnect_ivl_max_ms = 3000, .ipv6 = true,
                  .handshake_ivl_ms = 2500, .sndbuf = 65536};
    err_t e;
    cr_assert_eq(zmqopt_apply(s, &o, &e), 0, "%s", e.message);
    static const struct {
        int option, want;
    } ints[] = {
        {ZMQ_SNDHWM, 11}, {ZMQ_RCVHWM, 22}, {ZMQ_LINGER, 0}, {ZMQ_HEARTBEAT_IVL, 1500},
        {ZMQ_HEARTBEAT_TIMEOUT, 4500}, {ZMQ_RECONNECT_IVL, 250},
        {ZMQ_RECONNECT_IVL_MAX, 3000}, {ZMQ_IPV6, 1}, {ZMQ_HANDSHAKE_IVL, 2500},
        {ZMQ_SNDBUF, 65536},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        cr_assert_eq(get_int(s, ints[i].option), ints[i].want, "option %d", ints[i].option);
    int64_t max;
    size_t len = sizeof max;
    cr_assert_eq(zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &max, &len), 0);
    cr_assert_eq(max, 12345);
    done(s);
}

/* What the struct leaves at 0 keeps ZeroMQ's own default: read from a socket
 * that zmqopt never touched. Only the marks and linger are always set. */
Test(zmqopt, zero_keeps_zeromq_defaults)
{
    void *plain = sock(ZMQ_DEALER), *s = sock(ZMQ_DEALER);
    zmqopt_t o = {.sndhwm = 5, .rcvhwm = 6};
    err_t e;
    cr_assert_eq(zmqopt_apply(s, &o, &e), 0, "%s", e.message);
    const int kept[] = {ZMQ_HEARTBEAT_IVL, ZMQ_HEARTBEAT_TIMEOUT, ZMQ_RECONNECT_IVL,
                        ZMQ_RECONNECT_IVL_MAX, ZMQ_IPV6, ZMQ_HANDSHAKE_IVL, ZMQ_SNDBUF,
                        ZMQ_CURVE_SERVER};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        cr_assert_eq(get_int(s, kept[i]), get_int(plain, kept[i]), "option %d", kept[i]);
    int64_t max, plain_max;
    size_t len = sizeof max;
    cr_assert_eq(zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &max, &len), 0);
    cr_assert_eq(zmq_getsockopt(plain, ZMQ_MAXMSGSIZE, &plain_max, &len), 0);
    cr_assert_eq(max, plain_max);
    cr_assert_eq(get_int(s, ZMQ_LINGER), 0, "linger is always 0");
    done(s);
    done(plain);
}

Test(zmqopt, never_reconnect)
{
    void *s = sock(ZMQ_DEALER);
    zmqopt_t o = {.sndhwm = 1, .rcvhwm = 1, .reconnect_ivl_ms = -1};
    err_t e;
    cr_assert_eq(zmqopt_apply(s, &o, &e), 0, "%s", e.message);
    cr_assert_eq(get_int(s, ZMQ_RECONNECT_IVL), -1);
    done(s);
}

Test(zmqopt, refusals_name_their_reason)
{
    rpckey_pair_t pair;
    rpckey_client_t client;
    err_t e;
    cr_assert_eq(rpckey_generate(&pair, &e), 0, "%s", e.message);
    cr_assert_eq(rpckey_generate(&client.pair, &e), 0, "%s", e.message);
    memcpy(client.server_key, pair.public_key, sizeof client.server_key);
    static const char *const topics[] = {"job", NULL};
    const struct {
        int type;
        zmqopt_t o;
        const char *says;
    } cases[] = {
        {ZMQ_DEALER, {.sndhwm = 0, .rcvhwm = 1}, "without high-water marks (0, 1)"},
        {ZMQ_DEALER, {.sndhwm = 1, .rcvhwm = -3}, "without high-water marks (1, -3)"},
        {ZMQ_DEALER, {.sndhwm = -1, .rcvhwm = 0}, "without high-water marks"},
        {ZMQ_ROUTER, {.sndhwm = 1, .rcvhwm = 1, .curve_server = &pair},
         "a CURVE server needs a ZAP domain"},
        {ZMQ_ROUTER, {.sndhwm = 1, .rcvhwm = 1, .curve_server = &pair, .zap_domain = ""},
         "a CURVE server needs a ZAP domain"},
        {ZMQ_ROUTER, {.sndhwm = 1, .rcvhwm = 1, .curve_server = &pair, .zap_domain = "rpc",
                      .curve_client = &client},
         "a CURVE server or a client, not both"},
        {ZMQ_DEALER, {.sndhwm = 1, .rcvhwm = 1, .router_mandatory = true},
         "cannot set ZMQ_ROUTER_MANDATORY"},
        {ZMQ_DEALER, {.sndhwm = 1, .rcvhwm = 1, .subscribe = topics}, "cannot subscribe to job"},
        {ZMQ_DEALER, {.sndhwm = 1, .rcvhwm = 1, .handshake_ivl_ms = -5},
         "cannot set ZMQ_HANDSHAKE_IVL to -5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *s = sock(cases[i].type);
        memset(&e, 0, sizeof e);
        cr_assert_eq(zmqopt_apply(s, &cases[i].o, &e), -(int)ERR_INTERNAL, "case %zu taken", i);
        cr_assert_eq(e.code, ERR_INTERNAL);
        cr_assert_not_null(strstr(e.message, cases[i].says), "case %zu: %s", i, e.message);
        done(s);
    }
}

/* The SUB's topics reach the publisher, as an XPUB sees them. */
Test(zmqopt, subscribes_to_its_topics)
{
    char ep[300];
    endpoint(ep, "xpub");
    void *xpub = sock(ZMQ_XPUB), *sub = sock(ZMQ_SUB);
    int wait = WAIT_MS, zero = 0;
    zmq_setsockopt(xpub, ZMQ_RCVTIMEO, &wait, sizeof wait);
    zmq_setsockopt(xpub, ZMQ_LINGER, &zero, sizeof zero);
    cr_assert_eq(zmq_bind(xpub, ep), 0);
    static const char *const topics[] = {"job", "block", NULL};
    zmqopt_t o = {.sndhwm = 10, .rcvhwm = 10, .subscribe = topics};
    err_t e;
    cr_assert_eq(zmqopt_apply(sub, &o, &e), 0, "%s", e.message);
    cr_assert_eq(zmq_connect(sub, ep), 0);
    bool seen[2] = {false, false};
    for (int i = 0; i < 2; i++) {
        char buf[16];
        int n = zmq_recv(xpub, buf, sizeof buf, 0);
        cr_assert_gt(n, 1, "no subscription came: %s", zmq_strerror(zmq_errno()));
        cr_assert_eq(buf[0], 1, "an unsubscription");
        for (int t = 0; t < 2; t++)
            if ((size_t)(n - 1) == strlen(topics[t]) && memcmp(buf + 1, topics[t], n - 1) == 0)
                seen[t] = true;
    }
    cr_assert(seen[0] && seen[1], "not the topics given");
    done(sub);
    done(xpub);
}

Test(zmqopt, router_mandatory_refuses_a_gone_peer)
{
    void *r = sock(ZMQ_ROUTER);
    zmqopt_t o = {.sndhwm = 10, .rcvhwm = 10, .router_mandatory = true};
    err_t e;
    cr_assert_eq(zmqopt_apply(r, &o, &e), 0, "%s", e.message);
    cr_assert_eq(zmq_send(r, "nobody", 6, ZMQ_SNDMORE), -1);
    cr_assert_eq(zmq_errno(), EHOSTUNREACH);
    done(r);
}

/* --- the monitor -------------------------------------------------------------------- */

/* Reads mon until an event in mask comes (WAIT_MS at most); returns it. */
static uint16_t wait_event(void *mon, int mask, int32_t *value)
{
    uint64_t t0 = clock_ms();
    for (;;) {
        uint16_t ev;
        while (zmqopt_monitor_read(mon, &ev, value))
            if (ev & mask)
                return ev;
        uint64_t spent = clock_ms() - t0;
        cr_assert_lt(spent, WAIT_MS, "no event of mask %#x came", mask);
        zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, (long)(WAIT_MS - spent));
    }
}

Test(zmqopt, monitor_reports_connections_with_their_descriptor)
{
    char ep[300];
    endpoint(ep, "pair");
    void *server = sock(ZMQ_ROUTER), *client = sock(ZMQ_DEALER);
    zmqopt_t o = {.sndhwm = 10, .rcvhwm = 10};
    err_t e;
    cr_assert_eq(zmqopt_apply(server, &o, &e), 0);
    cr_assert_eq(zmqopt_apply(client, &o, &e), 0);
    void *smon = monitor(server, ZMQ_EVENT_ACCEPTED);
    void *cmon = monitor(client, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED);
    uint16_t ev;
    int32_t value;
    cr_assert_eq(zmqopt_monitor_read(cmon, &ev, &value), 0, "an event before any connection");
    cr_assert_eq(zmq_bind(server, ep), 0);
    cr_assert_eq(zmq_connect(client, ep), 0);
    cr_assert_eq(wait_event(cmon, ZMQ_EVENT_CONNECTED, &value), ZMQ_EVENT_CONNECTED);
    cr_assert_geq(value, 0, "not a descriptor");
    cr_assert_eq(wait_event(smon, ZMQ_EVENT_ACCEPTED, &value), ZMQ_EVENT_ACCEPTED);
    cr_assert_geq(value, 0, "not a descriptor");
    monitor_done(server, smon);
    done(server); /* the client sees the loss */
    cr_assert_eq(wait_event(cmon, ZMQ_EVENT_DISCONNECTED, &value), ZMQ_EVENT_DISCONNECTED);
    monitor_done(client, cmon);
    done(client);
    zmqopt_monitor_close(NULL, NULL); /* either may be NULL */
    cr_assert_eq(zmqopt_monitor_read(NULL, &ev, &value), 0);
}

/* A CURVE server and client as the daemons set them: the right server key
 * gets through, a plain client fails the handshake, as the monitor says. */
Test(zmqopt, curve_handshakes_seen_by_the_monitor)
{
    rpckey_pair_t server_pair;
    rpckey_client_t key;
    err_t e;
    cr_assert_eq(rpckey_generate(&server_pair, &e), 0, "%s", e.message);
    cr_assert_eq(rpckey_generate(&key.pair, &e), 0, "%s", e.message);
    memcpy(key.server_key, server_pair.public_key, sizeof key.server_key);
    char ep[300];
    endpoint(ep, "curve");
    void *server = sock(ZMQ_ROUTER);
    zmqopt_t so = {.sndhwm = 10, .rcvhwm = 10, .curve_server = &server_pair,
                   .zap_domain = "test"};
    cr_assert_eq(zmqopt_apply(server, &so, &e), 0, "%s", e.message);
    cr_assert_eq(get_int(server, ZMQ_CURVE_SERVER), 1);
    cr_assert_eq(zmq_bind(server, ep), 0);
    const struct {
        const rpckey_client_t *key;
        int want;
    } cases[] = {
        {&key, ZMQ_EVENT_HANDSHAKE_SUCCEEDED},
        {NULL, ZMQOPT_HANDSHAKE_FAILED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *c = sock(ZMQ_DEALER);
        zmqopt_t co = {.sndhwm = 10, .rcvhwm = 10, .curve_client = cases[i].key};
        cr_assert_eq(zmqopt_apply(c, &co, &e), 0, "%s", e.message);
        void *mon = monitor(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQOPT_HANDSHAKE_FAILED);
        cr_assert_eq(zmq_connect(c, ep), 0);
        int32_t value;
        uint16_t ev = wait_event(mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQOPT_HANDSHAKE_FAILED,
                                 &value);
        cr_assert(ev & cases[i].want, "case %zu: event %#x", i, ev);
        monitor_done(c, mon);
        done(c);
    }
    done(server);
}

/* What arrives on a monitor's socket that is not an event (a frame too
 * short) is skipped; the event after it is read, its endpoint frame
 * dropped with it. */
Test(zmqopt, monitor_read_skips_malformed_events)
{
    void *a = sock(ZMQ_PAIR), *b = sock(ZMQ_PAIR);
    cr_assert_eq(zmq_bind(a, "inproc://fake-monitor"), 0);
    cr_assert_eq(zmq_connect(b, "inproc://fake-monitor"), 0);
    uint8_t event[6];
    uint16_t type = ZMQ_EVENT_CONNECTED;
    int32_t fd = 42;
    memcpy(event, &type, 2);
    memcpy(event + 2, &fd, 4);
    cr_assert_eq(zmq_send(b, "abc", 3, ZMQ_SNDMORE), 3); /* too short, with an endpoint */
    cr_assert_eq(zmq_send(b, "ipc://x", 7, 0), 7);
    cr_assert_eq(zmq_send(b, "", 0, 0), 0);              /* empty, alone */
    cr_assert_eq(zmq_send(b, event, 6, ZMQ_SNDMORE), 6);
    cr_assert_eq(zmq_send(b, "ipc://y", 7, 0), 7);
    cr_assert_eq(zmq_send(b, event, 6, 0), 6);           /* no endpoint frame */
    uint16_t got;
    int32_t value;
    cr_assert_eq(zmqopt_monitor_read(a, &got, &value), 1);
    cr_assert_eq(got, ZMQ_EVENT_CONNECTED);
    cr_assert_eq(value, 42);
    cr_assert_eq(zmqopt_monitor_read(a, &got, &value), 1, "the endpoint read as an event");
    cr_assert_eq(zmqopt_monitor_read(a, &got, &value), 0);
    done(a);
    done(b);
}

/* --- drain and redial ----------------------------------------------------------------- */

Test(zmqopt, drain_drops_the_rest_of_a_message)
{
    void *a = sock(ZMQ_PAIR), *b = sock(ZMQ_PAIR);
    cr_assert_eq(zmq_bind(a, "inproc://drain"), 0);
    cr_assert_eq(zmq_connect(b, "inproc://drain"), 0);
    const int frames[] = {1, 2, 5}; /* messages of 1, 2 and 5 frames */
    for (size_t m = 0; m < 3; m++)
        for (int f = 0; f < frames[m]; f++) {
            char text[32];
            snprintf(text, sizeof text, "%zu.%d", m, f);
            cr_assert_geq(zmq_send(b, text, strlen(text), f + 1 < frames[m] ? ZMQ_SNDMORE : 0), 0);
        }
    for (size_t m = 0; m < 3; m++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        cr_assert_geq(zmq_msg_recv(&msg, a, 0), 0);
        char want[32];
        snprintf(want, sizeof want, "%zu.0", m);
        cr_assert_eq(zmq_msg_size(&msg), strlen(want));
        cr_assert_arr_eq(zmq_msg_data(&msg), want, strlen(want), "message %zu", m);
        zmqopt_drain(a, &msg);
        cr_assert_not(zmq_msg_more(&msg));
        zmq_msg_close(&msg);
    }
    char buf[8];
    cr_assert_eq(zmq_recv(a, buf, sizeof buf, ZMQ_DONTWAIT), -1, "frames left over");
    cr_assert_eq(zmq_errno(), EAGAIN);
    done(a);
    done(b);
}

/* libzmq gives an endpoint up after the server refused the key (chaind's
 * ZAP handler, with nobody in its clients file, answers 400);
 * zmqopt_redial() dials it again, and the handshake is tried anew. (A
 * redial while the old connection is still being retried is not what it is
 * for: libzmq 4.3's zmq_disconnect leaves that attempt running, and the
 * socket ends up with two connections.) */
Test(zmqopt, redial_dials_an_endpoint_given_up_again)
{
    char clients[300];
    snprintf(clients, sizeof clients, "%s/clients", dir);
    FILE *f = fopen(clients, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(chmod(clients, 0600), 0);
    zap_t *zap;
    err_t e;
    log_init("test", LOG_ERROR);
    cr_assert_eq(zap_start(&zap, zctx, clients, NULL, &e), 0, "%s", e.message);
    rpckey_pair_t server_pair;
    rpckey_client_t key;
    cr_assert_eq(rpckey_generate(&server_pair, &e), 0, "%s", e.message);
    cr_assert_eq(rpckey_generate(&key.pair, &e), 0, "%s", e.message);
    memcpy(key.server_key, server_pair.public_key, sizeof key.server_key);
    char ep[300];
    endpoint(ep, "redial");
    void *server = sock(ZMQ_ROUTER), *d = sock(ZMQ_DEALER);
    zmqopt_t so = {.sndhwm = 10, .rcvhwm = 10, .curve_server = &server_pair,
                   .zap_domain = ZAP_DOMAIN_RPC};
    zmqopt_t co = {.sndhwm = 10, .rcvhwm = 10, .curve_client = &key};
    cr_assert_eq(zmqopt_apply(server, &so, &e), 0, "%s", e.message);
    cr_assert_eq(zmqopt_apply(d, &co, &e), 0, "%s", e.message);
    cr_assert_eq(zmq_bind(server, ep), 0);
    void *mon = monitor(d, ZMQOPT_HANDSHAKE_FAILED);
    cr_assert_eq(zmq_connect(d, ep), 0);
    int32_t value;
    for (int round = 0; round < 3; round++) {
        uint16_t ev = wait_event(mon, ZMQOPT_HANDSHAKE_FAILED, &value);
        cr_assert(ev & ZMQOPT_GIVEN_UP, "round %d: event %#x, not one libzmq gives up on",
                  round, ev);
        zmqopt_redial(d, ep);
    }
    zmqopt_redial(d, "nope://nowhere"); /* logged, not fatal */
    monitor_done(d, mon);
    done(d);
    done(server);
    zap_stop(&zap);
}

/* --- the handshake log line ------------------------------------------------------------ */

/* The lines fn() writes on stderr, into out. */
static void stderr_of(void (*fn)(void), char *out, size_t cap)
{
    char path[300];
    snprintf(path, sizeof path, "%s/stderr", dir);
    FILE *f = fopen(path, "w+");
    cr_assert_not_null(f);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(f), STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void log_refusals(void)
{
    log_init("test", LOG_INFO);
    for (int i = 0; i < 10; i++)
        zmqopt_log_handshake("tcp://10.0.0.1:9350", "/etc/minerd/miner.key",
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400);
    zmqopt_log_handshake("tcp://10.0.0.2:9350", NULL, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
                         0x10000001);
    zmqopt_log_handshake("tcp://10.0.0.3:9350", NULL, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL,
                         ECONNRESET);
}

Test(zmqopt, handshake_failures_are_logged_with_what_to_do)
{
    char out[8192];
    stderr_of(log_refusals, out, sizeof out);
    cr_assert_not_null(strstr(out, "chaind at tcp://10.0.0.1:9350 refused our key "
                                   "(/etc/minerd/miner.key, status 400)"), "%s", out);
    cr_assert_not_null(strstr(out, "send chaind SIGHUP"), "no remedy in: %s", out);
    /* ten refusals in a row: the limiter lets one through (two should a
     * second pass between them on a very loaded machine) */
    int lines = count(out, "refused our key");
    cr_assert(lines >= 1 && lines <= 2, "%d lines of one endpoint's refusals", lines);
    cr_assert_not_null(strstr(out, "the handshake with chaind at tcp://10.0.0.2:9350 failed "
                                   "(no key, protocol error"), "%s", out);
    cr_assert_not_null(strstr(out, "tcp://10.0.0.3:9350 failed (no key, errno"), "%s", out);
}
