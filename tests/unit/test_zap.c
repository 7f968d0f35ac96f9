/* zap.h: the verdicts (pure), the handler's replies over ZAP itself, a
 * reload that takes a new key and one that keeps the old list, and CURVE
 * sockets of one context admitted by role and domain, carrying the role as
 * User-Id. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "builder.h"
#include "clock.h"
#include "log.h"
#include "rpckey.h"
#include "zap.h"
#include "zmqopt.h"

#define WAIT_MS 10000 /* a liveness bound */

static char dir[256], keys[300], clients_path[400];
static rpckey_client_t key[RPCKEY_ROLE_COUNT_];
static rpckey_pair_t server;
static void *zctx;
/* What a test opened, closed by the teardown when an assertion ended the
 * test early (the context's end waits for every socket). */
static zap_t *handler;
static void *open_socks[16];

static void *track(void *s)
{
    cr_assert_not_null(s);
    for (size_t i = 0; i < sizeof open_socks / sizeof open_socks[0]; i++)
        if (!open_socks[i]) {
            open_socks[i] = s;
            return s;
        }
    cr_assert_fail("too many sockets for one test");
    return NULL;
}

static void close_sock(void *s)
{
    for (size_t i = 0; i < sizeof open_socks / sizeof open_socks[0]; i++)
        if (open_socks[i] == s)
            open_socks[i] = NULL;
    zmq_close(s);
}

static void load(const char *file, rpckey_client_t *c)
{
    char path[400];
    err_t e;
    snprintf(path, sizeof path, "%s/%s", keys, file);
    cr_assert_eq(rpckey_load_client(path, c, &e), 0, "%s", e.message);
}

static void setup(void)
{
    log_init("test", LOG_ERROR);
    tb_tmpdir(dir);
    snprintf(keys, sizeof keys, "%s/rpc", dir);
    snprintf(clients_path, sizeof clients_path, "%s/clients", keys);
    bool created;
    err_t e;
    cr_assert_eq(rpckey_init_dir(keys, &created, &e), 0, "%s", e.message);
    for (int r = 0; r < RPCKEY_ROLE_COUNT_; r++) {
        char file[64];
        snprintf(file, sizeof file, "%s.key", rpckey_role_name((rpckey_role_t)r));
        load(file, &key[r]);
    }
    char path[400];
    snprintf(path, sizeof path, "%s/server.key", keys);
    cr_assert_eq(rpckey_load_server(path, &server, &e), 0, "%s", e.message);
    zctx = zmq_ctx_new();
}

static void teardown(void)
{
    for (size_t i = 0; i < sizeof open_socks / sizeof open_socks[0]; i++)
        if (open_socks[i])
            close_sock(open_socks[i]);
    zap_stop(&handler);
    zmq_ctx_term(zctx);
    tb_rmdir(dir);
}

TestSuite(zap, .init = setup, .fini = teardown);

static void raw(uint8_t out[32], const rpckey_client_t *c)
{
    cr_assert_not_null(zmq_z85_decode(out, c->pair.public_key));
}

Test(zap, verdicts)
{
    rpckey_clients_t clients;
    err_t e;
    cr_assert_eq(rpckey_clients_load(clients_path, &clients, &e), 0, "%s", e.message);
    uint8_t g[32], m[32], s[32], stranger[32] = {1, 2, 3};
    raw(g, &key[RPCKEY_GOSSIP]);
    raw(m, &key[RPCKEY_MINER]);
    raw(s, &key[RPCKEY_SUBSCRIBER]);
    rpckey_role_t role;
    static const struct {
        const char *domain, *mechanism;
        int who; /* a role, or -1 for an unlisted key */
        size_t len;
        int want;
    } cases[] = {
        {ZAP_DOMAIN_RPC, "CURVE", RPCKEY_GOSSIP, 32, ZAP_OK},
        {ZAP_DOMAIN_RPC, "CURVE", RPCKEY_MINER, 32, ZAP_OK},
        {ZAP_DOMAIN_RPC, "CURVE", RPCKEY_SUBSCRIBER, 32, ZAP_DENIED},
        {ZAP_DOMAIN_EVENTS, "CURVE", RPCKEY_GOSSIP, 32, ZAP_OK},
        {ZAP_DOMAIN_EVENTS, "CURVE", RPCKEY_MINER, 32, ZAP_OK},
        {ZAP_DOMAIN_EVENTS, "CURVE", RPCKEY_SUBSCRIBER, 32, ZAP_OK},
        {ZAP_DOMAIN_RPC, "CURVE", -1, 32, ZAP_DENIED},
        {ZAP_DOMAIN_EVENTS, "CURVE", -1, 32, ZAP_DENIED},
        {"admin", "CURVE", RPCKEY_GOSSIP, 32, ZAP_DENIED},
        {"", "CURVE", RPCKEY_GOSSIP, 32, ZAP_DENIED},
        {ZAP_DOMAIN_RPC, "NULL", RPCKEY_GOSSIP, 32, ZAP_DENIED},
        {ZAP_DOMAIN_RPC, "PLAIN", RPCKEY_GOSSIP, 32, ZAP_DENIED},
        {ZAP_DOMAIN_RPC, "CURVE", RPCKEY_GOSSIP, 31, ZAP_DENIED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint8_t *k = cases[i].who == RPCKEY_GOSSIP  ? g
                           : cases[i].who == RPCKEY_MINER ? m
                           : cases[i].who < 0             ? stranger
                                                          : s;
        role = RPCKEY_ROLE_COUNT_;
        int v = zap_verdict(&clients, cases[i].domain, cases[i].mechanism, k, cases[i].len, &role);
        cr_assert_eq(v, cases[i].want, "case %zu", i);
        if (v == ZAP_OK)
            cr_assert_eq((int)role, cases[i].who, "case %zu", i);
    }
    rpckey_clients_free(&clients);
}

/* One ZAP request by hand; the status code and user id of the reply. */
static void ask(void *req, const char *domain, const char *mechanism, const uint8_t *k,
                size_t len, char status[4], char user[32])
{
    const char *frames[] = {"1.0", "id-7", domain, "127.0.0.1", "", mechanism};
    for (int i = 0; i < 6; i++)
        cr_assert_geq(zmq_send(req, frames[i], strlen(frames[i]), ZMQ_SNDMORE), 0);
    cr_assert_geq(zmq_send(req, k, len, 0), 0);
    char f[6][64];
    int n = 0, more = 1;
    while (more) {
        cr_assert_lt(n, 6, "a ZAP reply has six frames");
        int got = zmq_recv(req, f[n], sizeof f[n] - 1, 0);
        cr_assert_geq(got, 0);
        f[n][got] = '\0';
        size_t ml = sizeof more;
        zmq_getsockopt(req, ZMQ_RCVMORE, &more, &ml);
        n++;
    }
    cr_assert_eq(n, 6);
    cr_assert_str_eq(f[0], "1.0");
    cr_assert_str_eq(f[1], "id-7");
    memcpy(status, f[2], 4);
    snprintf(user, 32, "%.31s", f[4]);
}

static void *zap_req(void)
{
    void *req = track(zmq_socket(zctx, ZMQ_REQ));
    int linger = 0, timeout = WAIT_MS;
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    cr_assert_eq(zmq_connect(req, ZAP_ENDPOINT), 0);
    return req;
}

Test(zap, the_handler_answers_and_reloads)
{
    static volatile sig_atomic_t reload = 0;
    err_t e;
    cr_assert_eq(zap_start(&handler, zctx, clients_path, &reload, &e), 0, "%s", e.message);
    void *req = zap_req();
    uint8_t m[32];
    raw(m, &key[RPCKEY_MINER]);
    char status[4], user[32];
    ask(req, ZAP_DOMAIN_RPC, "CURVE", m, 32, status, user);
    cr_assert_str_eq(status, "200");
    cr_assert_str_eq(user, "miner");
    ask(req, ZAP_DOMAIN_RPC, "NULL", (const uint8_t *)"", 0, status, user);
    cr_assert_str_eq(status, "400");
    cr_assert_str_eq(user, "");

    /* a key added to the file counts once the handler was told */
    char path[400], spec[512];
    snprintf(path, sizeof path, "%s/rig.key", dir);
    snprintf(spec, sizeof spec, "subscriber:rig:%s", path);
    cr_assert_eq(rpckey_new_client(keys, spec, &e), 0, "%s", e.message);
    rpckey_client_t rig;
    cr_assert_eq(rpckey_load_client(path, &rig, &e), 0);
    uint8_t r[32];
    raw(r, &rig);
    ask(req, ZAP_DOMAIN_EVENTS, "CURVE", r, 32, status, user);
    cr_assert_str_eq(status, "400", "a new key counted before the reload");
    reload = 1;
    for (uint64_t end = clock_ms() + WAIT_MS; reload && clock_ms() < end;)
        poll(NULL, 0, 10);
    cr_assert_eq(reload, 0, "the handler never saw the reload flag");
    /* it cleared the flag and then read the file, before this request */
    ask(req, ZAP_DOMAIN_EVENTS, "CURVE", r, 32, status, user);
    cr_assert_str_eq(status, "200");
    cr_assert_str_eq(user, "subscriber");

    /* a broken file leaves the list as it was */
    FILE *f = fopen(clients_path, "a");
    cr_assert_not_null(f);
    fputs("miner not-a-key\n", f);
    fclose(f);
    reload = 1;
    for (uint64_t end = clock_ms() + WAIT_MS; reload && clock_ms() < end;)
        poll(NULL, 0, 10);
    ask(req, ZAP_DOMAIN_EVENTS, "CURVE", r, 32, status, user);
    cr_assert_str_eq(status, "200", "a malformed file replaced the list");
    ask(req, ZAP_DOMAIN_RPC, "CURVE", m, 32, status, user);
    cr_assert_str_eq(status, "200");

    /* a request that is not RFC 27's still gets an answer */
    cr_assert_geq(zmq_send(req, "1.0", 3, ZMQ_SNDMORE), 0);
    cr_assert_geq(zmq_send(req, "id-8", 4, 0), 0);
    char buf[16];
    cr_assert_geq(zmq_recv(req, buf, sizeof buf, 0), 0);
    int more;
    size_t ml = sizeof more;
    zmq_getsockopt(req, ZMQ_RCVMORE, &more, &ml);
    cr_assert(more);
    cr_assert_eq(zmq_recv(req, buf, sizeof buf, 0), 4);
    cr_assert_eq(zmq_recv(req, buf, sizeof buf, 0), 3);
    cr_assert_eq(memcmp(buf, "500", 3), 0);
    for (zmq_getsockopt(req, ZMQ_RCVMORE, &more, &ml); more;
         zmq_getsockopt(req, ZMQ_RCVMORE, &more, &ml))
        zmq_recv(req, buf, sizeof buf, 0);
    close_sock(req);
    zap_stop(&handler);
    cr_assert_null(handler);
}

/* A client socket with key c (NULL: none) to endpoint, its options as the
 * daemons set them. */
static void *client(int type, const char *endpoint, const rpckey_client_t *c)
{
    void *s = track(zmq_socket(zctx, type));
    zmqopt_t o = {.sndhwm = 10, .rcvhwm = 10, .curve_client = c,
                  .subscribe = (const char *const[]){"", NULL}};
    err_t e;
    if (type != ZMQ_SUB)
        o.subscribe = NULL;
    cr_assert_eq(zmqopt_apply(s, &o, &e), 0, "%s", e.message);
    cr_assert_eq(zmq_connect(s, endpoint), 0);
    return s;
}

/* Whether a message reaches sock within ms; its User-Id into user. */
static bool arrives(void *sock, int ms, char *user, size_t cap)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0)
        return false;
    zmq_msg_t m;
    zmq_msg_init(&m);
    int more = 1;
    while (more && zmq_msg_recv(&m, sock, 0) >= 0) {
        const char *u = zmq_msg_gets(&m, "User-Id");
        snprintf(user, cap, "%s", u ? u : "");
        more = zmq_msg_more(&m);
    }
    zmq_msg_close(&m);
    return true;
}

static void bound_endpoint(void *sock, char *ep, size_t cap)
{
    cr_assert_eq(zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &cap), 0);
}

/* Real CURVE sockets: the rpc domain lets gossip and miner keys in, not a
 * subscriber's, a stranger's or a plain client; the events domain takes a
 * subscriber. */
Test(zap, curve_sockets_admit_by_role_and_domain)
{
    err_t e;
    cr_assert_eq(zap_start(&handler, zctx, clients_path, NULL, &e), 0, "%s", e.message);
    void *router = track(zmq_socket(zctx, ZMQ_ROUTER)), *pub = track(zmq_socket(zctx, ZMQ_PUB));
    zmqopt_t ro = {.sndhwm = 10, .rcvhwm = 10, .curve_server = &server,
                   .zap_domain = ZAP_DOMAIN_RPC};
    zmqopt_t po = {.sndhwm = 10, .rcvhwm = 10, .curve_server = &server,
                   .zap_domain = ZAP_DOMAIN_EVENTS};
    cr_assert_eq(zmqopt_apply(router, &ro, &e), 0, "%s", e.message);
    cr_assert_eq(zmqopt_apply(pub, &po, &e), 0, "%s", e.message);
    cr_assert_eq(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
    cr_assert_eq(zmq_bind(pub, "tcp://127.0.0.1:*"), 0);
    char rep[64], pep[64], user[32];
    bound_endpoint(router, rep, sizeof rep);
    bound_endpoint(pub, pep, sizeof pep);
    rpckey_pair_t stray;
    cr_assert_eq(rpckey_generate(&stray, &e), 0);
    rpckey_client_t stranger = key[RPCKEY_MINER];
    stranger.pair = stray;
    const struct {
        const rpckey_client_t *key;
        const char *role; /* the User-Id it comes in with; NULL: kept out */
    } cases[] = {
        {&key[RPCKEY_GOSSIP], "gossip"}, {&key[RPCKEY_MINER], "miner"},
        {&key[RPCKEY_SUBSCRIBER], NULL}, {&stranger, NULL}, {NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *d = client(ZMQ_DEALER, rep, cases[i].key);
        cr_assert_eq(zmq_send(d, "hi", 2, 0), 2);
        bool in = arrives(router, cases[i].role ? WAIT_MS : 1500, user, sizeof user);
        cr_assert_eq(in, cases[i].role != NULL, "case %zu", i);
        if (in)
            cr_assert_str_eq(user, cases[i].role, "case %zu", i);
        close_sock(d);
    }
    void *sub = client(ZMQ_SUB, pep, &key[RPCKEY_SUBSCRIBER]);
    bool got = false;
    for (uint64_t end = clock_ms() + WAIT_MS; !got && clock_ms() < end;) {
        zmq_send(pub, "job", 3, 0);
        got = arrives(sub, 50, user, sizeof user);
    }
    cr_assert(got, "a subscriber key got no event");
    close_sock(sub);
    close_sock(router);
    close_sock(pub);
    zap_stop(&handler);
}
