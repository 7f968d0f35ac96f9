/* gossip.h: the daemon as a whole, with no chaind. Hostile input handed to
 * its message handler (bans by where a peer is, never by its claims); and a
 * peer over a real socket (a DEALER on the daemon's ipc:// ROUTER, its loop
 * driven a pass at a time): the handshake and what follows it, the dispatch
 * of each message type, a message before the hello, a self-dial and a twin
 * connection; the dial-back of a claimed listen address, with the test as
 * the claimed node, and the other side (a probe answered); eviction when the
 * inbound slots are full; the loopback group of a verified listen address. */
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

/* What a test daemon differs in (0 or NULL: the default). */
typedef struct {
    unsigned max_per_group;
    const char *seeds;
} options_t;

/* A daemon with no chaind and no peers (but o's seeds). */
static gossip_t *daemon_with(char dir[256], char listen[300], const options_t *o)
{
    char rpc[300], events[300];
    tb_tmpdir(dir);
    snprintf(listen, 300, "ipc://%s/p2p", dir);
    snprintf(rpc, sizeof rpc, "ipc://%s/rpc", dir);
    snprintf(events, sizeof events, "ipc://%s/events", dir);
    gossip_config_t cfg = {.params = params_by_name("regtest"), .datadir = dir, .listen = listen,
                           .advertise = "127.0.0.1:1", .seeds = o->seeds, .rpc = rpc,
                           .events = events, .max_inbound = 8, .max_outbound = 2,
                           .max_per_group = o->max_per_group ? o->max_per_group : 8,
                           .ban_seconds = 3600};
    gossip_t *g;
    err_t e;
    cr_assert_eq(gossip_open(&g, &cfg, &e), 0, "%s", e.message);
    return g;
}

static gossip_t *lone_daemon(char dir[256], char listen[300])
{
    return daemon_with(dir, listen, &(options_t){0});
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
    /* a wrong network's hello: where it comes from is banned, never what it
     * claims; from loopback, nothing is (it loses its connection) */
    mp_buf_t hello;
    mp_buf_init(&hello, PROTO_MAX_MSG);
    rid[4] = 5;
    sample_hello(&hello, "demo", "10.9.8.6:9333", 9);
    gossip_inject(g, rid, sizeof rid, -1, "10.9.8.5", hello.data, hello.len);
    cr_assert_null(peer_find_rid(pt, rid, sizeof rid));
    cr_assert(peer_banned(pt, "10.9.8.5", (uint64_t)time(NULL)));
    cr_assert_not(peer_banned(pt, "10.9.8.6:9333", (uint64_t)time(NULL)), "a claim was banned");
    size_t bans = pt->n_bans;
    rid[4] = 6;
    gossip_inject(g, rid, sizeof rid, -1, "127.0.0.1", hello.data, hello.len);
    cr_assert_null(peer_find_rid(pt, rid, sizeof rid));
    cr_assert_eq(pt->n_bans, bans, "a loopback peer's claim or id was banned");
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

static void fixture_open_with(fixture_t *f, const options_t *o)
{
    f->g = daemon_with(f->dir, f->listen, o);
    f->zctx = zmq_ctx_new();
    mp_buf_init(&f->b, PROTO_MAX_MSG);
}

static void fixture_open(fixture_t *f) { fixture_open_with(f, &(options_t){0}); }

/* Closes the daemon (it saves its files) and keeps its directory. */
static void fixture_stop(fixture_t *f)
{
    mp_buf_free(&f->b);
    gossip_close(&f->g);
    zmq_ctx_term(f->zctx);
}

static void fixture_close(fixture_t *f)
{
    fixture_stop(f);
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
    /* the claimed address is not the peer's until its dial-back proves it */
    cr_assert_str_eq(p->addr, "", "an unverified claim was taken");
    cr_assert_str_eq(p->claim, "10.1.1.1:9333");
    cr_assert_eq(p->claim_state, PEER_CLAIM_WAIT);
    expect(&f, s, PROTO_MSG_CHALLENGE, &m, buf, sizeof buf);
    uint8_t challenge[PEER_ID_LEN];
    cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", challenge, PEER_ID_LEN), 0);
    cr_assert_arr_eq(challenge, p->challenge, PEER_ID_LEN);
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
    /* pongs to nothing we asked: the bucket runs dry and the flood ends the
     * peer (a local one whose claim is unverified: nothing to ban) */
    pongs(&f, s, 3 * PEER_FLOOD_BURST, p->ping_nonce + 1);
    cr_assert_eq(peer_count_ready(gossip_peers(f.g)), 0, "a flood of unsolicited pongs stayed");
    cr_assert_not(peer_banned(gossip_peers(f.g), "10.1.1.4:9333", (uint64_t)time(NULL)),
                  "an unverified claim was banned");
    zmq_close(s);
    fixture_close(&f);
}

/* --- the dial-back: the test plays the node a peer claims to be ----------------- */

typedef struct {
    void *sock; /* a ROUTER on addr: where a peer claims to listen */
    char addr[32];
} listener_t;

static void listen_at(fixture_t *f, listener_t *l, int port)
{
    char ep[64];
    snprintf(l->addr, sizeof l->addr, "127.0.0.1:%d", port);
    snprintf(ep, sizeof ep, "tcp://%s", l->addr);
    l->sock = zmq_socket(f->zctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(l->sock, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_bind(l->sock, ep), 0, "%s", zmq_strerror(zmq_errno()));
}

/* Runs the daemon until l hears a message of type (others are skipped):
 * its sender's routing id in rid, the message in *m (its body in buf). false
 * after ms without one. */
static bool listener_expect(fixture_t *f, listener_t *l, proto_msg_t type, uint8_t rid[256],
                            size_t *rid_len, proto_peer_msg_t *m, uint8_t *buf, size_t cap,
                            long ms)
{
    uint64_t until = clock_ms() + (uint64_t)ms;
    while (clock_ms() < until) {
        cr_assert_eq(gossip_once(f->g, 10), 0);
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

static void listener_send(listener_t *l, const uint8_t *rid, size_t rid_len, const mp_buf_t *b)
{
    cr_assert_eq(zmq_send(l->sock, rid, rid_len, ZMQ_SNDMORE), (int)rid_len);
    cr_assert_eq(zmq_send(l->sock, b->data, b->len, 0), (int)b->len);
}

/* A message of two 8-byte fields (a proof, a probe, a challenge: k2 NULL). */
static void put_bins(mp_buf_t *b, proto_msg_t type, const char *k1, const uint8_t *v1,
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

/* Runs the daemon until p's dial-back is over (8 s at most). */
static void settle(fixture_t *f, const peer_t *p)
{
    uint64_t until = clock_ms() + 8000;
    while ((p->claim_state == PEER_CLAIM_WAIT || p->claim_state == PEER_CLAIM_PROBING) &&
           clock_ms() < until)
        cr_assert_eq(gossip_once(f->g, 10), 0);
}

static bool file_has(const char *path, const char *needle)
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

/* A peer claims the listener's address; the listener answers the dial-back
 * as `answer` says. Only the right proof makes the address the peer's: kept
 * in the address book, and a ban key. */
Test(gossip, a_claim_is_the_peers_only_once_its_dial_back_proves_it)
{
    enum { PROOF, OTHER_NONCE, OTHER_ID, NOBODY };
    static const struct {
        const char *what;
        int answer;
    } cases[] = {
        {"the claimant's proof", PROOF},
        {"a proof of another connection", OTHER_NONCE},
        {"another node's proof", OTHER_ID},
        {"nobody listening", NOBODY},
    };
    static uint8_t buf[1 << 16];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_t f;
        fixture_open(&f);
        listener_t l;
        listen_at(&f, &l, tb_free_port());
        if (cases[i].answer == NOBODY)
            zmq_close(l.sock);
        void *s = dial(&f);
        proto_peer_msg_t m;
        const peer_t *p = shake_hands(&f, s, l.addr, 0x31, &m, buf, sizeof buf);
        uint8_t daemon_id[PEER_ID_LEN], nonce[PEER_ID_LEN], id[PEER_ID_LEN], rid[256];
        cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", daemon_id, PEER_ID_LEN), 0);
        expect(&f, s, PROTO_MSG_CHALLENGE, &m, buf, sizeof buf);
        cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", nonce, PEER_ID_LEN), 0);
        memset(id, 0x31, sizeof id);
        if (cases[i].answer != NOBODY) {
            size_t rid_len;
            cr_assert(listener_expect(&f, &l, PROTO_MSG_PROBE, rid, &rid_len, &m, buf, sizeof buf,
                                      5000), "%s: no dial-back", cases[i].what);
            uint8_t who[PEER_ID_LEN];
            cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", who, PEER_ID_LEN), 0);
            cr_assert_arr_eq(who, daemon_id, PEER_ID_LEN, "the probe names another node");
            nonce[0] ^= cases[i].answer == OTHER_NONCE;
            id[0] ^= cases[i].answer == OTHER_ID;
            put_bins(&f.b, PROTO_MSG_PROOF, "node_id", id, "nonce", nonce);
            listener_send(&l, rid, rid_len, &f.b);
        }
        settle(&f, p);
        bool ok = cases[i].answer == PROOF;
        cr_assert_eq(p->claim_state, ok ? PEER_CLAIM_VERIFIED : PEER_CLAIM_FAILED, "%s",
                     cases[i].what);
        cr_assert_str_eq(p->addr, ok ? l.addr : "", "%s", cases[i].what);
        const char *keys[2];
        cr_assert_eq(peer_ban_keys(p, keys), ok ? 1u : 0u, "%s", cases[i].what);
        zmq_close(s);
        if (cases[i].answer != NOBODY)
            zmq_close(l.sock);
        fixture_stop(&f);
        char path[300];
        snprintf(path, sizeof path, "%s/peers.txt", f.dir);
        cr_assert_eq(file_has(path, l.addr), ok, "%s: the address book %s the claim",
                     cases[i].what, ok ? "lacks" : "took");
        tb_rmdir(f.dir);
    }
}

/* The other side: a probe, as the first message of a connection, is answered
 * with the nonce the node it names challenged us with on our connection to
 * it (zeros for a node we have no connection to), and is never a peer. */
Test(gossip, a_probe_is_answered_with_our_proof_and_never_becomes_a_peer)
{
    static uint8_t buf[1 << 16];
    int port = tb_free_port();
    char seed[32];
    snprintf(seed, sizeof seed, "127.0.0.1:%d", port);
    fixture_t f;
    fixture_open_with(&f, &(options_t){.seeds = seed});
    listener_t l;
    listen_at(&f, &l, port);
    /* the daemon dials its seed, the listener: it answers as a node would */
    uint8_t rid[256], daemon_id[PEER_ID_LEN], node[PEER_ID_LEN], nonce[PEER_ID_LEN];
    size_t rid_len;
    proto_peer_msg_t m;
    cr_assert(listener_expect(&f, &l, PROTO_MSG_HELLO, rid, &rid_len, &m, buf, sizeof buf, 5000),
              "the daemon did not dial its seed");
    cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", daemon_id, PEER_ID_LEN), 0);
    memset(node, 0x55, sizeof node);
    memcpy(nonce, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    sample_hello_of(&f.b, "regtest", "", node);
    listener_send(&l, rid, rid_len, &f.b);
    put_bins(&f.b, PROTO_MSG_CHALLENGE, "nonce", nonce, NULL, NULL);
    listener_send(&l, rid, rid_len, &f.b);
    const peer_t *out = ready_peer(&f, 1);
    uint64_t until = clock_ms() + 5000;
    while (!out->have_challenge && clock_ms() < until)
        cr_assert_eq(gossip_once(f.g, 10), 0);
    cr_assert(out->have_challenge, "the challenge was not kept");
    /* a probe for that node: our proof is its nonce */
    void *s = dial(&f);
    put_bins(&f.b, PROTO_MSG_PROBE, "node_id", node, NULL, NULL);
    send_buf(s, &f.b);
    expect(&f, s, PROTO_MSG_PROOF, &m, buf, sizeof buf);
    uint8_t got_id[PEER_ID_LEN], got[PEER_ID_LEN];
    cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", got_id, PEER_ID_LEN), 0);
    cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", got, PEER_ID_LEN), 0);
    cr_assert_arr_eq(got_id, daemon_id, PEER_ID_LEN);
    cr_assert_arr_eq(got, nonce, PEER_ID_LEN, "the proof is not the node's challenge");
    /* a probe for a node we have no connection to: zeros */
    void *t = dial(&f);
    memset(node, 0x66, sizeof node);
    put_bins(&f.b, PROTO_MSG_PROBE, "node_id", node, NULL, NULL);
    send_buf(t, &f.b);
    expect(&f, t, PROTO_MSG_PROOF, &m, buf, sizeof buf);
    cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", got, PEER_ID_LEN), 0);
    static const uint8_t zero[PEER_ID_LEN];
    cr_assert_arr_eq(got, zero, PEER_ID_LEN);
    cr_assert_eq(gossip_peers(f.g)->n_inbound, 0, "a probe became a peer");
    zmq_close(s);
    zmq_close(t);
    zmq_close(l.sock);
    fixture_close(&f);
}

/* Sends a hello without a listen address (node id_byte) on a new connection. */
static void *hello_peer(fixture_t *f, uint8_t id_byte)
{
    void *s = dial(f);
    sample_hello(&f->b, "regtest", "", id_byte);
    send_buf(s, &f->b);
    return s;
}

static bool has_node(const fixture_t *f, uint8_t id_byte)
{
    uint8_t id[PEER_ID_LEN];
    memset(id, id_byte, sizeof id);
    return peer_find_id(gossip_peers(f->g), id, NULL) != NULL;
}

/* With the 8 inbound slots full, a newcomer's hello evicts (the oldest
 * unverified here); a newcomer whose first words are anything else is
 * refused, and evicts nobody. */
Test(gossip, full_inbound_slots_evict_for_a_hello_and_refuse_anything_else)
{
    fixture_t f;
    fixture_open(&f);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    void *s[10];
    for (int i = 0; i < 8; i++) {
        s[i] = hello_peer(&f, (uint8_t)(0x40 + i));
        expect(&f, s[i], PROTO_MSG_HELLO, &m, buf, sizeof buf);
        nanosleep(&(struct timespec){0, 2000000}, NULL); /* distinct ages */
    }
    cr_assert_eq(peer_count_ready(gossip_peers(f.g)), 8);
    s[8] = dial(&f);
    send_nonce(&f, s[8], PROTO_MSG_PING, 1);
    for (int i = 0; i < 50; i++)
        cr_assert_eq(gossip_once(f.g, 5), 0);
    cr_assert_eq(gossip_peers(f.g)->n_inbound, 8, "a ninth peer past the slots");
    cr_assert(has_node(&f, 0x40), "a newcomer that said no hello evicted a peer");
    s[9] = hello_peer(&f, 0x50);
    expect(&f, s[9], PROTO_MSG_HELLO, &m, buf, sizeof buf);
    cr_assert_eq(peer_count_ready(gossip_peers(f.g)), 8);
    cr_assert(has_node(&f, 0x50), "the newcomer was not admitted");
    cr_assert_not(has_node(&f, 0x40), "not the oldest unverified peer evicted");
    for (int i = 1; i < 8; i++)
        cr_assert(has_node(&f, (uint8_t)(0x40 + i)), "peer %d evicted too", i);
    for (int i = 0; i < 10; i++)
        zmq_close(s[i]);
    fixture_close(&f);
}

/* On loopback a listen address is the group: with a cap of one, a second
 * peer that proves the same address is dropped. */
Test(gossip, on_loopback_one_verified_listen_address_is_one_group)
{
    static uint8_t buf[1 << 16];
    fixture_t f;
    fixture_open_with(&f, &(options_t){.max_per_group = 1});
    listener_t l;
    listen_at(&f, &l, tb_free_port());
    void *s[2];
    const peer_t *p[2];
    uint8_t nonce[2][PEER_ID_LEN], id[PEER_ID_LEN], rid[256];
    proto_peer_msg_t m;
    for (int i = 0; i < 2; i++) {
        s[i] = dial(&f);
        sample_hello(&f.b, "regtest", l.addr, (uint8_t)(0x61 + i));
        send_buf(s[i], &f.b);
        expect(&f, s[i], PROTO_MSG_CHALLENGE, &m, buf, sizeof buf);
        cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", nonce[i], PEER_ID_LEN), 0);
        memset(id, 0x61 + i, sizeof id);
        p[i] = peer_find_id(gossip_peers(f.g), id, NULL);
        cr_assert_not_null(p[i]);
    }
    /* one dial-back at a time to the address; each answer is the proof of
     * the peer being checked */
    int first = -1;
    for (int round = 0; round < 2; round++) {
        size_t rid_len;
        cr_assert(listener_expect(&f, &l, PROTO_MSG_PROBE, rid, &rid_len, &m, buf, sizeof buf,
                                  5000), "no dial-back %d", round);
        int k = p[0]->claim_state == PEER_CLAIM_PROBING ? 0 : 1;
        cr_assert_eq(p[k]->claim_state, PEER_CLAIM_PROBING);
        if (first < 0)
            first = k;
        memset(id, 0x61 + k, sizeof id);
        put_bins(&f.b, PROTO_MSG_PROOF, "node_id", id, "nonce", nonce[k]);
        listener_send(&l, rid, rid_len, &f.b);
        settle(&f, p[k]);
    }
    cr_assert_eq(p[first]->claim_state, PEER_CLAIM_VERIFIED);
    cr_assert_eq(peer_count_ready(gossip_peers(f.g)), 1, "two peers of one listen address");
    cr_assert(has_node(&f, (uint8_t)(0x61 + first)), "the first to prove the address went");
    cr_assert_not(has_node(&f, (uint8_t)(0x62 - first)), "the second to prove it stayed");
    zmq_close(s[0]);
    zmq_close(s[1]);
    zmq_close(l.sock);
    fixture_close(&f);
}

/* The ready peer of node id_byte. */
static const peer_t *node(const fixture_t *f, uint8_t id_byte)
{
    uint8_t id[PEER_ID_LEN];
    memset(id, id_byte, sizeof id);
    return peer_find_id(gossip_peers(f->g), id, NULL);
}

/* What a closed peer had queued is read after its connection ended, with its
 * old descriptor, which the next connection may hold by then (as here,
 * where the leftover is handed over with b's descriptor): that must not end
 * b's connection. And a routing id never seen that comes with the
 * descriptor of a peer's connection makes that connection doubtful: neither
 * keeps it. */
Test(gossip, a_message_with_another_connections_descriptor_ends_nothing)
{
    fixture_t f;
    fixture_open(&f);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    void *a = hello_peer(&f, 0x70);
    expect(&f, a, PROTO_MSG_HELLO, &m, buf, sizeof buf);
    uint8_t rid_a[PEER_RID_MAX];
    size_t rid_a_len = node(&f, 0x70)->rid_len;
    memcpy(rid_a, node(&f, 0x70)->rid, rid_a_len);
    cr_assert_eq(zmq_send(a, "\x93garbage", 8, 0), 8);
    uint64_t until = clock_ms() + 5000;
    while (node(&f, 0x70) && clock_ms() < until)
        cr_assert_eq(gossip_once(f.g, 5), 0);
    cr_assert_null(node(&f, 0x70), "garbage was kept");
    void *b = hello_peer(&f, 0x71);
    expect(&f, b, PROTO_MSG_HELLO, &m, buf, sizeof buf);
    int fd_b = node(&f, 0x71)->fd;
    sample_hello(&f.b, "regtest", "", 0x70);
    gossip_inject(f.g, rid_a, rid_a_len, fd_b, "", f.b.data, f.b.len);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(gossip_once(f.g, 5), 0);
    send_nonce(&f, b, PROTO_MSG_PING, 5);
    expect(&f, b, PROTO_MSG_PONG, &m, buf, sizeof buf); /* b's connection lives */
    /* a routing id never seen, on b's descriptor: b is let go, unkicked */
    const uint8_t stranger[5] = {0, 9, 9, 9, 9};
    gossip_inject(f.g, stranger, sizeof stranger, fd_b, "", f.b.data, f.b.len);
    cr_assert_null(node(&f, 0x71), "a doubtful connection kept its peer");
    cr_assert_null(node(&f, 0x70), "a doubtful connection gave a new peer");
    zmq_close(a);
    zmq_close(b);
    fixture_close(&f);
}
