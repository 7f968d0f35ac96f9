/* handshake.h: hello and what follows it, over a real socket (the test
 * peers of support/gossip_fixture.h): a self-dial and a twin connection
 * dropped; the dial-back that makes a claimed listen address a peer's own
 * (the test plays the claimed node), and the other side of it (a probe
 * answered with our proof, never a peer); on loopback a verified listen
 * address is the group. Then function by function: the node id drawn and
 * the advertised address kept (cut to fit); a known node (ourselves, one
 * connected); our hello; hostile hellos (an older version, a banned claim)
 * that end a connection and ban nothing; claims that cannot be dialled. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "builder.h"
#include "clock.h"
#include "gossip.h"
#include "gossip_fixture.h"
#include "gossip_state.h"
#include "peer.h"
#include "proto.h"
#include "sample.h"

Test(handshake, a_self_dial_and_a_twin_connection_are_dropped)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    void *a = tg_dial(&f);
    tg_shake_hands(&f, a, "10.1.1.2:9333", 0x10, &m, buf, sizeof buf);
    uint8_t daemon_id[PEER_ID_LEN];
    cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", daemon_id, PEER_ID_LEN), 0);
    /* the same node again: of two connections that node dialled, the older
     * stays */
    void *b = tg_dial(&f);
    tg_send(b, &f.b);
    for (int i = 0; i < 20; i++)
        tg_pass(&f, 10);
    cr_assert_eq(peer_count_ready(gossip_peers(f.g)), 1, "two connections to one node stayed");
    /* a hello with the daemon's own id: it answers, and forgets the connection */
    void *c = tg_dial(&f);
    sample_hello_of(&f.b, "regtest", "10.1.1.3:9333", daemon_id);
    tg_send(c, &f.b);
    tg_expect(&f, c, PROTO_MSG_HELLO, &m, buf, sizeof buf);
    const peer_table_t *pt = gossip_peers(f.g);
    cr_assert_eq(peer_count_ready(pt), 1);
    cr_assert_eq(pt->n_inbound, 1, "the self-dial stayed in the table");
    zmq_close(a);
    zmq_close(b);
    zmq_close(c);
    tg_close(&f);
}

/* A peer claims the listener's address; the listener answers the dial-back
 * as `answer` says. Only the right proof makes the address the peer's: kept
 * in the address book, and a ban key. */
Test(handshake, a_claim_is_the_peers_only_once_its_dial_back_proves_it)
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
        tg_fixture_t f;
        tg_open(&f, NULL);
        tg_listener_t l;
        tg_listen_at(&f, &l, tb_free_port());
        if (cases[i].answer == NOBODY)
            zmq_close(l.sock);
        void *s = tg_dial(&f);
        proto_peer_msg_t m;
        const peer_t *p = tg_shake_hands(&f, s, l.addr, 0x31, &m, buf, sizeof buf);
        uint8_t daemon_id[PEER_ID_LEN], nonce[PEER_ID_LEN], id[PEER_ID_LEN], rid[256];
        cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", daemon_id, PEER_ID_LEN), 0);
        tg_expect(&f, s, PROTO_MSG_CHALLENGE, &m, buf, sizeof buf);
        cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", nonce, PEER_ID_LEN), 0);
        memset(id, 0x31, sizeof id);
        if (cases[i].answer != NOBODY) {
            size_t rid_len;
            cr_assert(tg_listener_expect(&f, &l, PROTO_MSG_PROBE, rid, &rid_len, &m, buf, sizeof buf,
                                      5000), "%s: no dial-back", cases[i].what);
            uint8_t who[PEER_ID_LEN];
            cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", who, PEER_ID_LEN), 0);
            cr_assert_arr_eq(who, daemon_id, PEER_ID_LEN, "the probe names another node");
            nonce[0] ^= cases[i].answer == OTHER_NONCE;
            id[0] ^= cases[i].answer == OTHER_ID;
            tg_put_bins(&f.b, PROTO_MSG_PROOF, "node_id", id, "nonce", nonce);
            tg_listener_send(&l, rid, rid_len, &f.b);
        }
        tg_settle(&f, p);
        bool ok = cases[i].answer == PROOF;
        cr_assert_eq(p->claim_state, ok ? PEER_CLAIM_VERIFIED : PEER_CLAIM_FAILED, "%s",
                     cases[i].what);
        cr_assert_str_eq(p->addr, ok ? l.addr : "", "%s", cases[i].what);
        const char *keys[2];
        cr_assert_eq(peer_ban_keys(p, keys), ok ? 1u : 0u, "%s", cases[i].what);
        zmq_close(s);
        if (cases[i].answer != NOBODY)
            zmq_close(l.sock);
        tg_stop(&f);
        char path[300];
        snprintf(path, sizeof path, "%s/peers.txt", f.dir);
        cr_assert_eq(tg_file_has(path, l.addr), ok, "%s: the address book %s the claim",
                     cases[i].what, ok ? "lacks" : "took");
        tb_rmdir(f.dir);
    }
}

/* The other side: a probe, as the first message of a connection, is answered
 * with the nonce the node it names challenged us with on our connection to
 * it (zeros for a node we have no connection to), and is never a peer. */
Test(handshake, a_probe_is_answered_with_our_proof_and_never_becomes_a_peer)
{
    static uint8_t buf[1 << 16];
    int port = tb_free_port();
    char seed[32];
    snprintf(seed, sizeof seed, "127.0.0.1:%d", port);
    tg_fixture_t f;
    tg_open(&f, &(tg_options_t){.seeds = seed});
    tg_listener_t l;
    tg_listen_at(&f, &l, port);
    /* the daemon dials its seed, the listener: it answers as a node would */
    uint8_t rid[256], daemon_id[PEER_ID_LEN], node[PEER_ID_LEN], nonce[PEER_ID_LEN];
    size_t rid_len;
    proto_peer_msg_t m;
    cr_assert(tg_listener_expect(&f, &l, PROTO_MSG_HELLO, rid, &rid_len, &m, buf, sizeof buf, 5000),
              "the daemon did not dial its seed");
    cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", daemon_id, PEER_ID_LEN), 0);
    memset(node, 0x55, sizeof node);
    memcpy(nonce, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    sample_hello_of(&f.b, "regtest", "", node);
    tg_listener_send(&l, rid, rid_len, &f.b);
    tg_put_bins(&f.b, PROTO_MSG_CHALLENGE, "nonce", nonce, NULL, NULL);
    tg_listener_send(&l, rid, rid_len, &f.b);
    const peer_t *out = tg_ready_peer(&f, 1);
    uint64_t until = clock_ms() + 5000;
    while (!out->have_challenge && clock_ms() < until)
        tg_pass(&f, 10);
    cr_assert(out->have_challenge, "the challenge was not kept");
    /* a probe for that node: our proof is its nonce */
    void *s = tg_dial(&f);
    tg_put_bins(&f.b, PROTO_MSG_PROBE, "node_id", node, NULL, NULL);
    tg_send(s, &f.b);
    tg_expect(&f, s, PROTO_MSG_PROOF, &m, buf, sizeof buf);
    uint8_t got_id[PEER_ID_LEN], got[PEER_ID_LEN];
    cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", got_id, PEER_ID_LEN), 0);
    cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", got, PEER_ID_LEN), 0);
    cr_assert_arr_eq(got_id, daemon_id, PEER_ID_LEN);
    cr_assert_arr_eq(got, nonce, PEER_ID_LEN, "the proof is not the node's challenge");
    /* a probe for a node we have no connection to: zeros */
    void *t = tg_dial(&f);
    memset(node, 0x66, sizeof node);
    tg_put_bins(&f.b, PROTO_MSG_PROBE, "node_id", node, NULL, NULL);
    tg_send(t, &f.b);
    tg_expect(&f, t, PROTO_MSG_PROOF, &m, buf, sizeof buf);
    cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", got, PEER_ID_LEN), 0);
    static const uint8_t zero[PEER_ID_LEN];
    cr_assert_arr_eq(got, zero, PEER_ID_LEN);
    cr_assert_eq(gossip_peers(f.g)->n_inbound, 0, "a probe became a peer");
    zmq_close(s);
    zmq_close(t);
    zmq_close(l.sock);
    tg_close(&f);
}

/* On loopback a listen address is the group: with a cap of one, a second
 * peer that proves the same address is dropped. */
Test(handshake, on_loopback_one_verified_listen_address_is_one_group)
{
    static uint8_t buf[1 << 16];
    tg_fixture_t f;
    tg_open(&f, &(tg_options_t){.max_per_group = 1});
    tg_listener_t l;
    tg_listen_at(&f, &l, tb_free_port());
    void *s[2];
    const peer_t *p[2];
    uint8_t nonce[2][PEER_ID_LEN], id[PEER_ID_LEN], rid[256];
    proto_peer_msg_t m;
    for (int i = 0; i < 2; i++) {
        s[i] = tg_dial(&f);
        sample_hello(&f.b, "regtest", l.addr, (uint8_t)(0x61 + i));
        tg_send(s[i], &f.b);
        tg_expect(&f, s[i], PROTO_MSG_CHALLENGE, &m, buf, sizeof buf);
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
        cr_assert(tg_listener_expect(&f, &l, PROTO_MSG_PROBE, rid, &rid_len, &m, buf, sizeof buf,
                                  5000), "no dial-back %d", round);
        int k = p[0]->claim_state == PEER_CLAIM_PROBING ? 0 : 1;
        cr_assert_eq(p[k]->claim_state, PEER_CLAIM_PROBING);
        if (first < 0)
            first = k;
        memset(id, 0x61 + k, sizeof id);
        tg_put_bins(&f.b, PROTO_MSG_PROOF, "node_id", id, "nonce", nonce[k]);
        tg_listener_send(&l, rid, rid_len, &f.b);
        tg_settle(&f, p[k]);
    }
    cr_assert_eq(p[first]->claim_state, PEER_CLAIM_VERIFIED);
    cr_assert_eq(peer_count_ready(gossip_peers(f.g)), 1, "two peers of one listen address");
    cr_assert_not_null(tg_node(&f, (uint8_t)(0x61 + first)), "the first to prove the address went");
    cr_assert_null(tg_node(&f, (uint8_t)(0x62 - first)), "the second to prove it stayed");
    zmq_close(s[0]);
    zmq_close(s[1]);
    zmq_close(l.sock);
    tg_close(&f);
}

/* --- the contract function by function ------------------------------------------- */

Test(handshake, init_draws_a_node_id_and_keeps_the_advertised_address)
{
    handshake_state_t a, b;
    cr_assert_eq(handshake_init(&a, NULL, 0), 0);
    cr_assert_str_eq(a.advertise, "", "NULL is no advertised address");
    cr_assert_eq(handshake_init(&b, "10.1.2.3:9333", 0), 0);
    cr_assert_str_eq(b.advertise, "10.1.2.3:9333");
    cr_assert_neq(memcmp(a.node_id, b.node_id, PEER_ID_LEN), 0, "two nodes drew one id");
    /* one longer than an address can be is cut to fit, not overrun */
    char long_addr[1000];
    memset(long_addr, 'a', sizeof long_addr - 1);
    long_addr[sizeof long_addr - 1] = '\0';
    cr_assert_eq(handshake_init(&a, long_addr, 0), 0);
    cr_assert_eq(strlen(a.advertise), ADDRBOOK_ADDR_MAX);
}

Test(handshake, a_known_node_is_ourselves_or_one_connected)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    void *s = tg_hello_peer(&f, 0x81);
    tg_expect(&f, s, PROTO_MSG_HELLO, &m, buf, sizeof buf);
    uint8_t own[PEER_ID_LEN], other[PEER_ID_LEN], connected[PEER_ID_LEN];
    cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", own, PEER_ID_LEN), 0);
    memset(connected, 0x81, sizeof connected);
    memset(other, 0x82, sizeof other);
    cr_assert(handshake_known_node(f.g, own), "ourselves");
    cr_assert(handshake_known_node(f.g, connected), "a connected node");
    cr_assert_not(handshake_known_node(f.g, other), "a node never seen");
    zmq_close(s);
    tg_close(&f);
}

/* Our hello says who we are: the protocol version, our node id and the
 * advertised address. */
Test(handshake, our_hello_names_us)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    void *s = tg_hello_peer(&f, 0x83);
    tg_expect(&f, s, PROTO_MSG_HELLO, &m, buf, sizeof buf);
    uint64_t version, height;
    char listen[64];
    uint8_t id[PEER_ID_LEN];
    cr_assert_eq(proto_get_uint(&m.body, "version", &version), 0);
    cr_assert_eq(version, PROTO_VERSION);
    cr_assert_eq(proto_get_uint(&m.body, "height", &height), 0);
    cr_assert_eq(height, 0, "a daemon without a chain view claims a height");
    cr_assert_eq(proto_get_str(&m.body, "listen", listen, sizeof listen), 0);
    cr_assert_str_eq(listen, "127.0.0.1:1");
    cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", id, PEER_ID_LEN), 0);
    cr_assert(handshake_known_node(f.g, id), "the hello's id is not ours");
    zmq_close(s);
    tg_close(&f);
}

/* Sends b from a new connection of routing id rid, and runs the daemon
 * until it closed that routing id (5 s at most): the connection was heard,
 * and ended. */
static void *closed_after(tg_fixture_t *f, const char *rid, const mp_buf_t *b)
{
    void *s = zmq_socket(f->zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, strlen(rid)), 0);
    cr_assert_eq(zmq_connect(s, f->listen), 0);
    tg_send(s, b);
    uint64_t until = clock_ms() + 5000;
    while (!conn_rid_closed(f->g, (const uint8_t *)rid, strlen(rid)) && clock_ms() < until)
        tg_pass(f, 10);
    cr_assert(conn_rid_closed(f->g, (const uint8_t *)rid, strlen(rid)),
              "connection %s was not ended", rid);
    return s;
}

/* An older protocol, or a claim of a banned address, ends the connection
 * before it is a peer; neither bans anything. */
Test(handshake, an_older_version_or_a_banned_claim_ends_the_connection)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    const peer_table_t *pt = gossip_peers(f.g);
    tg_hello(&f.b, PROTO_VERSION - 1, 0, "", 0x84);
    void *s = closed_after(&f, "old-version", &f.b);
    cr_assert_eq(pt->n_inbound, 0, "an older version was admitted");
    cr_assert_eq(pt->n_bans, 0, "an older version was banned");
    /* a newer version is welcome */
    void *t = tg_dial(&f);
    tg_hello(&f.b, PROTO_VERSION + 1, 0, "", 0x85);
    tg_send(t, &f.b);
    tg_ready_peer(&f, 1);
    cr_assert_eq(tg_node(&f, 0x85)->version, PROTO_VERSION + 1);
    /* a claim of a banned address */
    peer_ban(&f.g->pt, "10.1.1.9:9333", clock_unix(), 3600);
    size_t bans = pt->n_bans;
    tg_hello(&f.b, PROTO_VERSION, 0, "10.1.1.9:9333", 0x86);
    void *u = closed_after(&f, "banned-claim", &f.b);
    cr_assert_null(tg_node(&f, 0x86), "a peer claiming a banned address stayed");
    cr_assert_eq(pt->n_inbound, 1);
    cr_assert_eq(pt->n_bans, bans, "a claim was banned");
    zmq_close(s);
    zmq_close(t);
    zmq_close(u);
    tg_close(&f);
}

/* A wildcard or unspecified host in a claim is the connection's own IP:
 * on ipc:// (no IP) such a claim is no claim. */
Test(handshake, a_claim_that_cannot_be_dialled_is_no_claim)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    static const char *claims[] = {"0.0.0.0:9333", "not an address", "10.1.1.1", "10.1.1.1:0",
                                   ":9333", "10.1.1.1:99999"};
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        void *s = tg_dial(&f);
        const peer_t *p = tg_shake_hands(&f, s, claims[i], (uint8_t)(0x90 + i), &m, buf,
                                         sizeof buf);
        cr_assert_str_eq(p->claim, "", "\"%s\" was taken for a claim", claims[i]);
        cr_assert_eq(p->claim_state, PEER_CLAIM_NONE, "\"%s\"", claims[i]);
        conn_close(f.g, (peer_t *)p, "the next case", true);
        zmq_close(s);
    }
    tg_close(&f);
}
