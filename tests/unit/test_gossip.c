/* gossip.h: the daemon as a whole, with no chaind. Hostile input handed to
 * its message handler; and a peer over a real socket (a DEALER on the
 * daemon's ipc:// ROUTER, its loop driven a pass at a time): the handshake
 * and what follows it, the dispatch of each message type, a message before
 * the hello, a self-dial and a twin connection. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "builder.h"
#include "clock.h"
#include "gossip.h"
#include "peer.h"
#include "proto.h"
#include "sample.h"

/* A daemon with no chaind and no peers. */
static gossip_t *lone_daemon(char dir[256], char listen[300])
{
    char rpc[300], events[300];
    tb_tmpdir(dir);
    snprintf(listen, 300, "ipc://%s/p2p", dir);
    snprintf(rpc, sizeof rpc, "ipc://%s/rpc", dir);
    snprintf(events, sizeof events, "ipc://%s/events", dir);
    gossip_config_t cfg = {.params = params_by_name("regtest"), .datadir = dir, .listen = listen,
                           .advertise = "127.0.0.1:1", .rpc = rpc, .events = events,
                           .max_inbound = 8, .max_outbound = 2, .ban_seconds = 3600};
    gossip_t *g;
    err_t e;
    cr_assert_eq(gossip_open(&g, &cfg, &e), 0, "%s", e.message);
    return g;
}

Test(gossip, the_handler_survives_hostile_input_and_bans)
{
    char dir[256], listen[300];
    gossip_t *g = lone_daemon(dir, listen);
    const peer_table_t *pt = gossip_peers(g);
    uint8_t rid[5] = {0, 1, 2, 3, 4};
    /* garbage from a remote address: that address is banned */
    const uint8_t garbage[] = {0x93, 0xa7, 'r', 'e', 'g', 't', 'e', 's', 't', 0xa3, 'f', 'o', 'o'};
    gossip_inject(g, rid, sizeof rid, -1, "10.9.8.7", garbage, sizeof garbage);
    cr_assert(peer_banned(pt, "10.9.8.7", (uint64_t)time(NULL)));
    cr_assert_null(peer_find_rid(pt, rid, sizeof rid), "the peer that sent garbage stayed");
    /* a wrong network's hello: its address and id are banned */
    mp_buf_t hello;
    mp_buf_init(&hello, PROTO_MAX_MSG);
    rid[4] = 5;
    sample_hello(&hello, "demo", "10.9.8.6:9333", 9);
    gossip_inject(g, rid, sizeof rid, -1, "127.0.0.1", hello.data, hello.len);
    cr_assert_null(peer_find_rid(pt, rid, sizeof rid));
    cr_assert(peer_banned(pt, "10.9.8.6:9333", (uint64_t)time(NULL)));
    /* messages before hello, then random bytes and mutations of a valid
     * hello: none may crash the daemon (the sanitizer build checks memory) */
    srand(7);
    sample_hello(&hello, "regtest", "127.0.0.1:2", 3);
    size_t n = hello.len;
    for (int i = 0; i < 20000; i++) {
        uint8_t msg[512];
        size_t len = n;
        memcpy(msg, hello.data, n);
        if (i % 2) {
            len = (size_t)rand() % sizeof msg;
            for (size_t k = 0; k < len; k++)
                msg[k] = (uint8_t)rand();
        } else {
            for (int k = 0; k < 1 + rand() % 4; k++)
                msg[(size_t)rand() % n] = (uint8_t)rand();
            len = (size_t)rand() % (n + 1);
        }
        rid[0] = (uint8_t)i;
        rid[1] = (uint8_t)(i >> 8);
        gossip_inject(g, rid, sizeof rid, -1, "127.0.0.1", msg, len);
    }
    cr_assert_leq(pt->n_inbound, pt->max_inbound);
    mp_buf_free(&hello);
    gossip_close(&g);
    tb_rmdir(dir);
}

/* --- a peer on a real socket ---------------------------------------------------- */

typedef struct {
    char dir[256], listen[300];
    gossip_t *g;
    void *zctx;
    mp_buf_t b;
} fixture_t;

static void fixture_open(fixture_t *f)
{
    f->g = lone_daemon(f->dir, f->listen);
    f->zctx = zmq_ctx_new();
    mp_buf_init(&f->b, PROTO_MAX_MSG);
}

static void fixture_close(fixture_t *f)
{
    mp_buf_free(&f->b);
    gossip_close(&f->g);
    zmq_ctx_term(f->zctx);
    tb_rmdir(f->dir);
}

static void *dial(fixture_t *f)
{
    void *s = zmq_socket(f->zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(s, f->listen), 0);
    return s;
}

static void send_buf(void *s, const mp_buf_t *b)
{
    cr_assert(mp_buf_ok(b));
    cr_assert_eq(zmq_send(s, b->data, b->len, 0), (int)b->len);
}

/* Runs the daemon until s has a message of type, which lands in *m (its
 * body in buf); messages of other types are skipped. */
static void expect(fixture_t *f, void *s, proto_msg_t type, proto_peer_msg_t *m, uint8_t *buf,
                   size_t cap)
{
    uint64_t until = clock_ms() + 5000;
    while (clock_ms() < until) {
        cr_assert_eq(gossip_once(f->g, 10), 0);
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

/* The one ready peer, after passes of the loop. */
static const peer_t *ready_peer(fixture_t *f, size_t want_ready)
{
    const peer_table_t *pt = gossip_peers(f->g);
    uint64_t until = clock_ms() + 5000;
    while (peer_count_ready(pt) != want_ready && clock_ms() < until)
        cr_assert_eq(gossip_once(f->g, 10), 0);
    cr_assert_eq(peer_count_ready(pt), want_ready);
    for (size_t i = 0; i < pt->cap; i++)
        if (pt->peers[i].state == PEER_READY)
            return &pt->peers[i];
    return NULL;
}

/* A peer that completed its handshake on s (its hello, the daemon's back). */
static const peer_t *shake_hands(fixture_t *f, void *s, const char *listen, uint8_t id_byte,
                                 proto_peer_msg_t *hello, uint8_t *buf, size_t cap)
{
    sample_hello(&f->b, "regtest", listen, id_byte);
    send_buf(s, &f->b);
    expect(f, s, PROTO_MSG_HELLO, hello, buf, cap);
    return ready_peer(f, 1);
}

static void send_nonce(fixture_t *f, void *s, proto_msg_t type, uint64_t nonce)
{
    mp_buf_reset(&f->b);
    proto_open_peer(&f->b, "regtest", type);
    mp_put_cstr(&f->b, "nonce");
    mp_put_uint(&f->b, nonce);
    send_buf(s, &f->b);
}

Test(gossip, a_peer_shakes_hands_and_each_message_reaches_its_handler)
{
    fixture_t f;
    fixture_open(&f);
    void *s = dial(&f);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    /* a message before the hello is scored, and not handled */
    send_nonce(&f, s, PROTO_MSG_PING, 1);
    const peer_t *p = shake_hands(&f, s, "10.1.1.1:9333", 0x42, &m, buf, sizeof buf);
    uint64_t version;
    cr_assert_eq(proto_get_uint(&m.body, "version", &version), 0);
    cr_assert_eq(version, PROTO_VERSION);
    cr_assert_eq(p->score, err_ban_score(ERR_BAD_REQUEST), "a ping before hello was not scored");
    cr_assert_str_eq(p->addr, "10.1.1.1:9333");
    expect(&f, s, PROTO_MSG_ADDR, &m, buf, sizeof buf);
    /* a ping is answered with its nonce */
    send_nonce(&f, s, PROTO_MSG_PING, 77);
    expect(&f, s, PROTO_MSG_PONG, &m, buf, sizeof buf);
    uint64_t nonce;
    cr_assert_eq(proto_get_uint(&m.body, "nonce", &nonce), 0);
    cr_assert_eq(nonce, 77);
    /* an inventory of a kind that does not exist is scored on the spot */
    mp_buf_reset(&f.b);
    proto_open_peer(&f.b, "regtest", PROTO_MSG_GETDATA);
    mp_put_cstr(&f.b, "kind");
    mp_put_cstr(&f.b, "utxo");
    mp_put_cstr(&f.b, "hashes");
    mp_put_array(&f.b, 0);
    send_buf(s, &f.b);
    for (int i = 0; i < 20 && p->score < 2 * err_ban_score(ERR_BAD_REQUEST); i++)
        cr_assert_eq(gossip_once(f.g, 10), 0);
    cr_assert_eq(p->score, 2 * err_ban_score(ERR_BAD_REQUEST), "an unknown kind was not scored");
    zmq_close(s);
    fixture_close(&f);
}

Test(gossip, a_self_dial_and_a_twin_connection_are_dropped)
{
    fixture_t f;
    fixture_open(&f);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    void *a = dial(&f);
    shake_hands(&f, a, "10.1.1.2:9333", 0x10, &m, buf, sizeof buf);
    uint8_t daemon_id[PEER_ID_LEN];
    cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", daemon_id, PEER_ID_LEN), 0);
    /* the same node again: of two connections that node dialled, the older
     * stays */
    void *b = dial(&f);
    send_buf(b, &f.b);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(gossip_once(f.g, 10), 0);
    cr_assert_eq(peer_count_ready(gossip_peers(f.g)), 1, "two connections to one node stayed");
    /* a hello with the daemon's own id: it answers, and forgets the connection */
    void *c = dial(&f);
    sample_hello_of(&f.b, "regtest", "10.1.1.3:9333", daemon_id);
    send_buf(c, &f.b);
    expect(&f, c, PROTO_MSG_HELLO, &m, buf, sizeof buf);
    const peer_table_t *pt = gossip_peers(f.g);
    cr_assert_eq(peer_count_ready(pt), 1);
    cr_assert_eq(pt->n_inbound, 1, "the self-dial stayed in the table");
    zmq_close(a);
    zmq_close(b);
    zmq_close(c);
    fixture_close(&f);
}

/* Sends n pongs of a nonce, in batches the daemon's queue takes (it reads
 * them in passes between the batches). */
static void pongs(fixture_t *f, void *s, int n, uint64_t nonce)
{
    mp_buf_reset(&f->b);
    proto_open_peer(&f->b, "regtest", PROTO_MSG_PONG);
    mp_put_cstr(&f->b, "nonce");
    mp_put_uint(&f->b, nonce);
    for (int sent = 0; sent < n;) {
        for (int i = 0; i < 100 && sent < n; i++, sent++)
            cr_assert_eq(zmq_send(s, f->b.data, f->b.len, 0), (int)f->b.len);
        for (int i = 0; i < 3; i++)
            cr_assert_eq(gossip_once(f->g, 1), 0);
    }
    for (int i = 0; i < 20; i++)
        cr_assert_eq(gossip_once(f->g, 5), 0);
}

Test(gossip, answers_to_our_requests_are_free_the_rest_cost_a_token)
{
    fixture_t f;
    fixture_open(&f);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    void *s = dial(&f);
    const peer_t *p = shake_hands(&f, s, "10.1.1.4:9333", 0x20, &m, buf, sizeof buf);
    /* the pong to our (not yet sent) ping of nonce 0 answers us: free, however many */
    pongs(&f, s, 2 * PEER_FLOOD_BURST, p->ping_nonce);
    cr_assert_eq(p->state, PEER_READY);
    cr_assert_eq(p->score, 0, "answers to our own ping were charged");
    /* pongs to nothing we asked: the bucket runs dry and the flood bans */
    pongs(&f, s, 3 * PEER_FLOOD_BURST, p->ping_nonce + 1);
    cr_assert_eq(peer_count_ready(gossip_peers(f.g)), 0, "a flood of unsolicited pongs stayed");
    cr_assert(peer_banned(gossip_peers(f.g), "10.1.1.4:9333", (uint64_t)time(NULL)));
    zmq_close(s);
    fixture_close(&f);
}
