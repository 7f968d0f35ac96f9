#include "gossip_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "builder.h"
#include "clock.h"
#include "sample.h"

#define WAIT_MS 5000
#define SETTLE_MS 8000

static void no_linger(void *s)
{
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
}

/* --- the stand-in chaind ---------------------------------------------------------- */

void tg_chaind_open(tg_chaind_t *c, void *zctx, const char *dir)
{
    snprintf(c->rpc_ep, sizeof c->rpc_ep, "ipc://%s/rpc", dir);
    snprintf(c->events_ep, sizeof c->events_ep, "ipc://%s/events", dir);
    c->rpc = zmq_socket(zctx, ZMQ_ROUTER);
    c->pub = zmq_socket(zctx, ZMQ_XPUB);
    cr_assert(c->rpc && c->pub);
    no_linger(c->rpc);
    no_linger(c->pub);
    cr_assert_eq(zmq_bind(c->rpc, c->rpc_ep), 0, "%s", zmq_strerror(zmq_errno()));
    cr_assert_eq(zmq_bind(c->pub, c->events_ep), 0, "%s", zmq_strerror(zmq_errno()));
}

void tg_chaind_close(tg_chaind_t *c)
{
    zmq_close(c->rpc);
    zmq_close(c->pub);
    c->rpc = c->pub = NULL;
}

void tg_chaind_subscribed(tg_chaind_t *c, size_t n, void (*pump)(void *arg), void *arg)
{
    uint64_t until = clock_ms() + WAIT_MS;
    size_t seen = 0;
    uint8_t frame[64];
    while (seen < n && clock_ms() < until) {
        if (pump)
            pump(arg);
        zmq_pollitem_t it = {c->pub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10) <= 0)
            continue;
        int k = zmq_recv(c->pub, frame, sizeof frame, ZMQ_DONTWAIT);
        seen += k > 0 && frame[0] == 1;
    }
    cr_assert_eq(seen, n, "%zu of %zu subscriptions reached chaind", seen, n);
}

bool tg_chaind_recv(tg_chaind_t *c, uint8_t rid[256], size_t *rid_len, proto_request_t *req,
                    uint8_t *buf, size_t cap, void (*pump)(void *arg), void *arg)
{
    uint64_t until = clock_ms() + WAIT_MS;
    while (clock_ms() < until) {
        if (pump)
            pump(arg);
        zmq_pollitem_t it = {c->rpc, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, pump ? 0 : 10) <= 0)
            continue;
        int n = zmq_recv(c->rpc, rid, 256, 0);
        cr_assert_gt(n, 0);
        *rid_len = (size_t)n;
        int k = zmq_recv(c->rpc, buf, cap, 0);
        cr_assert_geq(k, 0);
        cr_assert_leq((size_t)k, cap);
        err_t e;
        cr_assert_eq(proto_decode_request(req, buf, (size_t)k, &e), 0, "%s", e.message);
        return true;
    }
    return false;
}

void tg_chaind_reply(tg_chaind_t *c, const uint8_t *rid, size_t rid_len, const mp_buf_t *b)
{
    cr_assert(mp_buf_ok(b));
    cr_assert_eq(zmq_send(c->rpc, rid, rid_len, ZMQ_SNDMORE), (int)rid_len);
    cr_assert_eq(zmq_send(c->rpc, b->data, b->len, 0), (int)b->len);
}

void tg_chaind_publish(tg_chaind_t *c, proto_topic_t topic, const mp_buf_t *body)
{
    const char *name = proto_topic_name(topic);
    cr_assert(mp_buf_ok(body));
    cr_assert_eq(zmq_send(c->pub, name, strlen(name), ZMQ_SNDMORE), (int)strlen(name));
    cr_assert_eq(zmq_send(c->pub, body->data, body->len, 0), (int)body->len);
}

/* --- the daemon ------------------------------------------------------------------- */

void tg_open(tg_fixture_t *f, const tg_options_t *o)
{
    static const tg_options_t none;
    char rpc[300], events[300];
    o = o ? o : &none;
    memset(f, 0, sizeof *f);
    tb_tmpdir(f->dir);
    snprintf(f->listen, sizeof f->listen, "ipc://%s/p2p", f->dir);
    snprintf(rpc, sizeof rpc, "ipc://%s/rpc", f->dir);
    snprintf(events, sizeof events, "ipc://%s/events", f->dir);
    f->zctx = zmq_ctx_new();
    cr_assert_not_null(f->zctx);
    f->has_chaind = o->chaind;
    if (o->chaind)
        tg_chaind_open(&f->chaind, f->zctx, f->dir);
    gossip_config_t cfg = {.params = params_by_name("regtest"), .datadir = f->dir,
                           .listen = f->listen, .advertise = "127.0.0.1:1", .seeds = o->seeds,
                           .rpc = rpc, .events = events, .max_inbound = 8, .max_outbound = 2,
                           .max_per_group = o->max_per_group ? o->max_per_group : 8,
                           .ban_seconds = 3600};
    err_t e;
    cr_assert_eq(gossip_open(&f->g, &cfg, &e), 0, "%s", e.message);
    mp_buf_init(&f->b, PROTO_MAX_MSG);
}

void tg_stop(tg_fixture_t *f)
{
    mp_buf_free(&f->b);
    gossip_close(&f->g);
    if (f->has_chaind)
        tg_chaind_close(&f->chaind);
    zmq_ctx_term(f->zctx);
}

void tg_close(tg_fixture_t *f)
{
    tg_stop(f);
    tb_rmdir(f->dir);
}

void tg_pass(tg_fixture_t *f, long ms) { cr_assert_eq(gossip_once(f->g, ms), 0); }

void tg_pump(void *f) { tg_pass(f, 10); }

/* --- peers on the daemon's ROUTER ------------------------------------------------- */

void *tg_dial(tg_fixture_t *f)
{
    void *s = zmq_socket(f->zctx, ZMQ_DEALER);
    cr_assert_not_null(s);
    no_linger(s);
    cr_assert_eq(zmq_connect(s, f->listen), 0);
    return s;
}

void tg_send(void *s, const mp_buf_t *b)
{
    cr_assert(mp_buf_ok(b));
    cr_assert_eq(zmq_send(s, b->data, b->len, 0), (int)b->len);
}

void tg_expect(tg_fixture_t *f, void *s, proto_msg_t type, proto_peer_msg_t *m, uint8_t *buf,
               size_t cap)
{
    uint64_t until = clock_ms() + WAIT_MS;
    while (clock_ms() < until) {
        tg_pass(f, 10);
        int n = zmq_recv(s, buf, cap, ZMQ_DONTWAIT);
        if (n < 0)
            continue;
        err_t e;
        cr_assert_leq((size_t)n, cap);
        cr_assert_eq(proto_decode_peer(m, "regtest", buf, (size_t)n, &e), 0, "%s", e.message);
        if (m->type == type)
            return;
    }
    cr_assert_fail("no %s from the daemon within 5 s", proto_msg_name(type));
}

const peer_t *tg_ready_peer(tg_fixture_t *f, size_t want_ready)
{
    const peer_table_t *pt = gossip_peers(f->g);
    uint64_t until = clock_ms() + WAIT_MS;
    while (peer_count_ready(pt) != want_ready && clock_ms() < until)
        tg_pass(f, 10);
    cr_assert_eq(peer_count_ready(pt), want_ready);
    for (size_t i = 0; i < pt->cap; i++)
        if (pt->peers[i].state == PEER_READY)
            return &pt->peers[i];
    return NULL;
}

const peer_t *tg_shake_hands(tg_fixture_t *f, void *s, const char *listen, uint8_t id_byte,
                             proto_peer_msg_t *hello, uint8_t *buf, size_t cap)
{
    sample_hello(&f->b, "regtest", listen, id_byte);
    tg_send(s, &f->b);
    tg_expect(f, s, PROTO_MSG_HELLO, hello, buf, cap);
    return tg_ready_peer(f, 1);
}

void tg_send_nonce(tg_fixture_t *f, void *s, proto_msg_t type, uint64_t nonce)
{
    mp_buf_reset(&f->b);
    proto_open_peer(&f->b, "regtest", type);
    mp_put_cstr(&f->b, "nonce");
    mp_put_uint(&f->b, nonce);
    tg_send(s, &f->b);
}

void *tg_hello_peer(tg_fixture_t *f, uint8_t id_byte)
{
    void *s = tg_dial(f);
    sample_hello(&f->b, "regtest", "", id_byte);
    tg_send(s, &f->b);
    return s;
}

void tg_hello(mp_buf_t *b, uint64_t version, uint64_t height, const char *listen,
              uint8_t id_byte)
{
    uint8_t zero[32] = {0}, id[PEER_ID_LEN];
    memset(id, id_byte, sizeof id);
    mp_buf_reset(b);
    proto_open_peer(b, "regtest", PROTO_MSG_HELLO);
    mp_put_cstr(b, "version");
    mp_put_uint(b, version);
    mp_put_cstr(b, "height");
    mp_put_uint(b, height);
    mp_put_cstr(b, "tip");
    mp_put_bin(b, zero, 32);
    mp_put_cstr(b, "listen");
    mp_put_cstr(b, listen);
    mp_put_cstr(b, "node_id");
    mp_put_bin(b, id, PEER_ID_LEN);
}

const peer_t *tg_node(const tg_fixture_t *f, uint8_t id_byte)
{
    uint8_t id[PEER_ID_LEN];
    memset(id, id_byte, sizeof id);
    return peer_find_id(gossip_peers(f->g), id, NULL);
}

peer_t *tg_peer(tg_fixture_t *f, void **s, uint8_t id_byte)
{
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    *s = tg_hello_peer(f, id_byte);
    tg_expect(f, *s, PROTO_MSG_HELLO, &m, buf, sizeof buf);
    peer_t *p = (peer_t *)tg_node(f, id_byte);
    cr_assert_not_null(p, "node %02x is no peer", id_byte);
    cr_assert_eq(p->state, PEER_READY);
    return p;
}

bool tg_recv(void *s, proto_peer_msg_t *m, uint8_t *buf, size_t cap)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, WAIT_MS) <= 0)
        return false;
    int n = zmq_recv(s, buf, cap, 0);
    cr_assert_geq(n, 0);
    cr_assert_leq((size_t)n, cap);
    err_t e;
    cr_assert_eq(proto_decode_peer(m, "regtest", buf, (size_t)n, &e), 0, "%s", e.message);
    return true;
}

void tg_put_hashes(mp_buf_t *b, proto_msg_t type, const char *kind, const hash32_t *h, size_t n)
{
    mp_buf_reset(b);
    proto_open_peer(b, "regtest", type);
    if (kind) {
        mp_put_cstr(b, "kind");
        mp_put_cstr(b, kind);
    }
    mp_put_cstr(b, kind ? "hashes" : "locator");
    mp_put_array(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        mp_put_bin(b, h[i].b, 32);
}

uint32_t tg_hashes(const proto_peer_msg_t *m, hash32_t *out, uint32_t cap)
{
    mp_reader_t r;
    uint32_t n;
    cr_assert_eq(proto_get_array(&m->body, "hashes", &r, &n), 0);
    for (uint32_t i = 0; out && i < n && i < cap; i++)
        cr_assert_eq(mp_get_bin_exact(&r, out[i].b, 32), 0);
    return n;
}

/* --- the node a peer claims to be ------------------------------------------------- */

void tg_listen_at(tg_fixture_t *f, tg_listener_t *l, int port)
{
    char ep[64];
    snprintf(l->addr, sizeof l->addr, "127.0.0.1:%d", port);
    snprintf(ep, sizeof ep, "tcp://%s", l->addr);
    l->sock = zmq_socket(f->zctx, ZMQ_ROUTER);
    cr_assert_not_null(l->sock);
    no_linger(l->sock);
    cr_assert_eq(zmq_bind(l->sock, ep), 0, "%s", zmq_strerror(zmq_errno()));
}

bool tg_listener_expect(tg_fixture_t *f, tg_listener_t *l, proto_msg_t type, uint8_t rid[256],
                        size_t *rid_len, proto_peer_msg_t *m, uint8_t *buf, size_t cap, long ms)
{
    uint64_t until = clock_ms() + (uint64_t)ms;
    while (clock_ms() < until) {
        tg_pass(f, 10);
        int n = zmq_recv(l->sock, rid, 256, ZMQ_DONTWAIT);
        if (n < 0)
            continue;
        *rid_len = (size_t)n;
        int k = zmq_recv(l->sock, buf, cap, 0);
        cr_assert_geq(k, 0);
        err_t e;
        cr_assert_eq(proto_decode_peer(m, "regtest", buf, (size_t)k, &e), 0, "%s", e.message);
        if (m->type == type)
            return true;
    }
    return false;
}

void tg_listener_send(tg_listener_t *l, const uint8_t *rid, size_t rid_len, const mp_buf_t *b)
{
    cr_assert_eq(zmq_send(l->sock, rid, rid_len, ZMQ_SNDMORE), (int)rid_len);
    cr_assert_eq(zmq_send(l->sock, b->data, b->len, 0), (int)b->len);
}

void tg_put_bins(mp_buf_t *b, proto_msg_t type, const char *k1, const uint8_t *v1,
                 const char *k2, const uint8_t *v2)
{
    mp_buf_reset(b);
    proto_open_peer(b, "regtest", type);
    mp_put_cstr(b, k1);
    mp_put_bin(b, v1, 8);
    if (k2) {
        mp_put_cstr(b, k2);
        mp_put_bin(b, v2, 8);
    }
}

void tg_settle(tg_fixture_t *f, const peer_t *p)
{
    uint64_t until = clock_ms() + SETTLE_MS;
    while ((p->claim_state == PEER_CLAIM_WAIT || p->claim_state == PEER_CLAIM_PROBING) &&
           clock_ms() < until)
        tg_pass(f, 10);
}

bool tg_file_has(const char *path, const char *needle)
{
    char line[512];
    bool found = false;
    FILE *fp = fopen(path, "r");
    while (fp && fgets(line, sizeof line, fp))
        found |= strstr(line, needle) != NULL;
    if (fp)
        fclose(fp);
    return found;
}
