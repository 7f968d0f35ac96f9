/* conn.h on a daemon with no chaind (support/gossip_fixture.h), its state
 * read through gossip_state.h: a peer's name, trust and log level; doom
 * keeping the gravest verdict and its first reason; misbehaviour scored and
 * banned at the ban score, by where the peer is (a local one dropped, not
 * banned); the closed routing ids remembered, CONN_CLOSED_RIDS of them;
 * conn_ready's bounds; groups counted; deliveries stamped; the eviction
 * pick; and what is sent — to a real DEALER: a message, hashes, addresses,
 * nothing to a doomed peer, a gone peer doomed — and the announcements,
 * batched at most CONN_INV_FLUSH_MS, a full queue sent at once. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"
#include "gossip_fixture.h"
#include "gossip_state.h"
#include "netgroup.h"
#include "sample.h"

static uint8_t buf[1 << 16];

/* The test's DEALERs, closed by done(). */
static void *socks[16];
static size_t n_socks;

/* tg_peer(), its DEALER closed by done(). */
static peer_t *real_peer(tg_fixture_t *f, void **s, uint8_t id_byte)
{
    cr_assert_lt(n_socks, sizeof socks / sizeof socks[0]);
    peer_t *p = tg_peer(f, s, id_byte);
    socks[n_socks++] = *s;
    return p;
}

/* A ready inbound peer of node id_byte, as if it came from ip (its group
 * that ip's, as the daemon sets it when it admits a remote connection). */
static peer_t *peer_from(tg_fixture_t *f, const char *ip, uint8_t id_byte)
{
    void *s;
    peer_t *p = real_peer(f, &s, id_byte);
    snprintf(p->ip, sizeof p->ip, "%s", ip);
    char group[NETGROUP_MAX];
    netgroup_of(ip, group);
    snprintf(p->group, sizeof p->group, "%s", group);
    return p;
}

static void done(tg_fixture_t *f)
{
    while (n_socks)
        zmq_close(socks[--n_socks]);
    tg_close(f);
}

/* Waits (the loop not run) for a message of type on s; others skipped. */
static bool recv_type(void *s, proto_msg_t type, proto_peer_msg_t *m)
{
    while (tg_recv(s, m, buf, sizeof buf))
        if (m->type == type)
            return true;
    return false;
}

static uint64_t nonce_of(const proto_peer_msg_t *m)
{
    uint64_t v;
    cr_assert_eq(proto_get_uint(&m->body, "nonce", &v), 0);
    return v;
}

static void send_ping(gossip_t *g, peer_t *p, uint64_t nonce)
{
    mp_buf_t *b = conn_begin(g, PROTO_MSG_PING);
    mp_put_cstr(b, "nonce");
    mp_put_uint(b, nonce);
    conn_send(g, p);
}

Test(conn, a_peers_name_trust_and_log_level)
{
    peer_t p = {.inbound = true};
    cr_assert_str_eq(conn_name(&p), "(unknown)");
    snprintf(p.ip, sizeof p.ip, "10.1.2.3");
    cr_assert_str_eq(conn_name(&p), "10.1.2.3");
    snprintf(p.addr, sizeof p.addr, "10.1.2.3:9333");
    cr_assert_str_eq(conn_name(&p), "10.1.2.3:9333", "the address comes before the IP");
    static const struct {
        bool inbound;
        peer_claim_t claim;
        bool trusted;
    } cases[] = {
        {false, PEER_CLAIM_NONE, true},       {true, PEER_CLAIM_NONE, false},
        {true, PEER_CLAIM_WAIT, false},       {true, PEER_CLAIM_PROBING, false},
        {true, PEER_CLAIM_FAILED, false},     {true, PEER_CLAIM_VERIFIED, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p.inbound = cases[i].inbound;
        p.claim_state = cases[i].claim;
        cr_assert_eq(conn_trusted(&p), cases[i].trusted, "case %zu", i);
        cr_assert_eq(conn_log_level(&p), cases[i].trusted ? LOG_INFO : LOG_DEBUG, "case %zu", i);
    }
}

Test(conn, doom_keeps_the_gravest_verdict_and_its_first_reason)
{
    peer_t p = {0};
    conn_doom(&p, PEER_KEEP, "nothing");
    cr_assert_eq(p.doom, PEER_KEEP);
    cr_assert_str_eq(p.doom_why, "");
    conn_doom(&p, PEER_CLOSE, "first");
    conn_doom(&p, PEER_CLOSE, "second");
    cr_assert_eq(p.doom, PEER_CLOSE);
    cr_assert_str_eq(p.doom_why, "first");
    conn_doom(&p, PEER_BAN, "graver");
    conn_doom(&p, PEER_CLOSE, "milder");
    conn_doom(&p, PEER_BAN, "again");
    cr_assert_eq(p.doom, PEER_BAN);
    cr_assert_str_eq(p.doom_why, "graver");
    /* a reason longer than the field is cut, not overrun */
    peer_t q = {0};
    char why[1000];
    memset(why, 'w', sizeof why - 1);
    why[sizeof why - 1] = '\0';
    conn_doom(&q, PEER_CLOSE, why);
    cr_assert_eq(strlen(q.doom_why), sizeof q.doom_why - 1);
}

Test(conn, misbehaviour_is_scored_and_banned_by_where_the_peer_is)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    gossip_t *g = f.g;
    peer_t *p = peer_from(&f, "10.5.6.7", 0x11);
    conn_misbehave(g, p, 0, "nothing");
    conn_misbehave(g, p, -5, "less than nothing");
    cr_assert_eq(p->score, 0, "points of 0 or less counted");
    conn_misbehave(g, p, PEER_BAN_SCORE - 1, "almost");
    cr_assert_eq(p->score, PEER_BAN_SCORE - 1);
    cr_assert_eq(p->doom, PEER_KEEP, "doomed below the ban score");
    conn_misbehave(g, p, 1, "the last straw");
    cr_assert_eq(p->doom, PEER_BAN);
    cr_assert_str_eq(p->doom_why, "the last straw");
    cr_assert(tg_node(&f, 0x11), "a doomed peer was closed before its reaping");
    uint64_t banned = g->conn.counts.banned;
    conn_reap(g, p);
    cr_assert_null(tg_node(&f, 0x11));
    cr_assert(peer_banned(&g->pt, "10.5.6.7", clock_unix()), "the peer's IP was not banned");
    cr_assert_eq(g->conn.counts.banned, banned + 1);
    /* a local peer with no verified address has nothing to ban: dropped */
    peer_t *q = peer_from(&f, "127.0.0.1", 0x12);
    size_t bans = g->pt.n_bans;
    uint64_t dropped = g->conn.counts.dropped;
    conn_misbehave(g, q, PEER_BAN_SCORE, "garbage");
    conn_reap(g, q);
    cr_assert_null(tg_node(&f, 0x12));
    cr_assert_eq(g->pt.n_bans, bans, "a local peer's claim or id was banned");
    cr_assert_eq(g->conn.counts.dropped, dropped + 1);
    /* reaping a peer no one doomed, or a free slot, does nothing */
    peer_t *r = peer_from(&f, "10.5.6.8", 0x13);
    conn_reap(g, r);
    cr_assert_not_null(tg_node(&f, 0x13));
    conn_reap_all(g);
    cr_assert_not_null(tg_node(&f, 0x13));
    done(&f);
}

Test(conn, a_closed_peer_is_forgotten_and_its_routing_id_remembered)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    gossip_t *g = f.g;
    peer_t *p = peer_from(&f, "10.5.6.9", 0x21);
    uint8_t rid[PEER_RID_MAX];
    size_t rid_len = p->rid_len;
    memcpy(rid, p->rid, rid_len);
    cr_assert_not(conn_rid_closed(g, rid, rid_len));
    conn_close(g, p, "a test", false);
    cr_assert_null(tg_node(&f, 0x21));
    cr_assert_eq(g->pt.n_inbound, 0);
    cr_assert(conn_rid_closed(g, rid, rid_len), "a closed peer's routing id was forgotten");
    /* what it sends later starts no peer */
    sample_hello(&f.b, "regtest", "", 0x21);
    gossip_inject(g, rid, rid_len, -1, "10.5.6.9", f.b.data, f.b.len);
    cr_assert_null(tg_node(&f, 0x21), "a closed routing id came back as a peer");
    done(&f);
}

Test(conn, the_last_conn_closed_rids_routing_ids_are_remembered)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    gossip_t *g = f.g;
    uint8_t rid[4];
    for (uint32_t i = 0; i <= CONN_CLOSED_RIDS; i++) {
        memcpy(rid, &i, 4);
        conn_rid_close(g, rid, 4);
    }
    uint32_t first = 0, last = CONN_CLOSED_RIDS;
    memcpy(rid, &first, 4);
    cr_assert_not(conn_rid_closed(g, rid, 4), "past the bound, the oldest stayed");
    for (uint32_t i = 1; i <= last; i++) {
        memcpy(rid, &i, 4);
        cr_assert(conn_rid_closed(g, rid, 4), "rid %u forgotten", i);
    }
    /* a prefix, or one byte more, is another routing id */
    memcpy(rid, &last, 4);
    cr_assert_not(conn_rid_closed(g, rid, 3));
    uint8_t longer[5] = {rid[0], rid[1], rid[2], rid[3], 0};
    cr_assert_not(conn_rid_closed(g, longer, 5));
    done(&f);
}

Test(conn, conn_ready_is_a_ready_undoomed_peer_in_range)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    gossip_t *g = f.g;
    cr_assert_null(conn_ready(g, (uint32_t)g->pt.cap));
    cr_assert_null(conn_ready(g, UINT32_MAX));
    for (uint32_t i = 0; i < g->pt.cap; i++)
        cr_assert_null(conn_ready(g, i), "slot %u of an empty table", i);
    peer_t *p = peer_from(&f, "10.5.6.10", 0x31);
    uint32_t slot = peer_slot(&g->pt, p);
    cr_assert_eq(conn_ready(g, slot), p);
    p->state = PEER_HANDSHAKE;
    cr_assert_null(conn_ready(g, slot), "a peer in its handshake");
    p->state = PEER_READY;
    conn_doom(p, PEER_CLOSE, "going");
    cr_assert_null(conn_ready(g, slot), "a doomed peer");
    done(&f);
}

Test(conn, groups_are_counted_and_deliveries_stamped)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    gossip_t *g = f.g;
    peer_from(&f, "10.1.0.1", 0x41);
    peer_from(&f, "10.1.9.9", 0x42);
    peer_t *p = peer_from(&f, "10.2.0.1", 0x43);
    cr_assert_eq(conn_count_group(g, "v4:10.1"), 2);
    cr_assert_eq(conn_count_group(g, "v4:10.2"), 1);
    cr_assert_eq(conn_count_group(g, "v4:10.3"), 0);
    cr_assert_eq(conn_count_group(g, "v4:10"), 0, "a prefix of a group counted");
    cr_assert_eq(conn_count_group(g, ""), 0, "no peer here is local");
    conn_delivered(g, NULL, RELAY_TX); /* the peer is gone: nothing */
    g->now_ms = 0;
    conn_delivered(g, p, RELAY_TX);
    cr_assert_eq(p->last_tx_ms, 1, "a delivery at 0 ms reads as never");
    cr_assert_eq(p->last_block_ms, 0);
    g->now_ms = 5000;
    conn_delivered(g, p, RELAY_BLOCK);
    cr_assert_eq(p->last_block_ms, 5000);
    cr_assert_eq(p->last_tx_ms, 1);
    done(&f);
}

Test(conn, the_eviction_pick_is_an_inbound_undoomed_peer)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    gossip_t *g = f.g;
    cr_assert_null(conn_evict_pick(g), "a pick from no peers");
    peer_t *a = peer_from(&f, "10.7.0.1", 0x51);
    peer_t *b = peer_from(&f, "10.8.0.1", 0x52);
    a->connected_ms = 200;
    b->connected_ms = 100;
    cr_assert_eq(conn_evict_pick(g), b, "not the oldest unverified");
    conn_doom(b, PEER_CLOSE, "going anyway");
    cr_assert_eq(conn_evict_pick(g), a, "a doomed peer was picked");
    conn_doom(a, PEER_CLOSE, "going anyway");
    cr_assert_null(conn_evict_pick(g));
    done(&f);
}

/* --- sending ----------------------------------------------------------------------- */

Test(conn, a_message_reaches_its_peer_and_none_a_doomed_one)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    gossip_t *g = f.g;
    void *s;
    peer_t *p = real_peer(&f, &s, 0x61);
    proto_peer_msg_t m;
    conn_doom(p, PEER_CLOSE, "doomed");
    send_ping(g, p, 1);
    p->doom = PEER_KEEP;
    p->send_drops = CONN_SEND_DROPS_MAX - 1;
    send_ping(g, p, 2);
    cr_assert(recv_type(s, PROTO_MSG_PING, &m));
    cr_assert_eq(nonce_of(&m), 2, "a doomed peer was sent a message");
    cr_assert_eq(p->send_drops, 0, "a send that went did not clear the drops");
    /* hashes and addresses: nothing for none, one message for several */
    hash32_t h[3] = {sample_hash(1, 0xa1), sample_hash(2, 0xa2), sample_hash(3, 0xa3)};
    conn_send_hashes(g, p, PROTO_MSG_NOTFOUND, RELAY_TX, h, 0);
    conn_send_hashes(g, p, PROTO_MSG_NOTFOUND, RELAY_BLOCK, h, 3);
    cr_assert(recv_type(s, PROTO_MSG_NOTFOUND, &m));
    char kind[8];
    cr_assert_eq(proto_get_str(&m.body, "kind", kind, sizeof kind), 0);
    cr_assert_str_eq(kind, "block", "the empty notfound of txs was sent");
    mp_reader_t r;
    uint32_t n;
    cr_assert_eq(proto_get_array(&m.body, "hashes", &r, &n), 0);
    cr_assert_eq(n, 3);
    for (uint32_t i = 0; i < n; i++) {
        hash32_t got;
        cr_assert_eq(mp_get_bin_exact(&r, got.b, 32), 0);
        cr_assert_arr_eq(got.b, h[i].b, 32);
    }
    const char *addrs[2] = {"10.9.9.9:9333", "[2001:db8::1]:9333"};
    conn_send_addrs(g, p, addrs, 0);
    send_ping(g, p, 3); /* a marker: an empty addr would come before it */
    cr_assert(recv_type(s, PROTO_MSG_PING, &m));
    conn_send_addrs(g, p, addrs, 2);
    cr_assert(recv_type(s, PROTO_MSG_ADDR, &m));
    cr_assert_eq(proto_get_array(&m.body, "addrs", &r, &n), 0);
    cr_assert_eq(n, 2, "an empty addr was sent, or the addresses were not");
    done(&f);
}

/* A peer whose routing id is no connection any more is doomed by a send. */
Test(conn, a_send_to_a_gone_peer_dooms_it)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    void *s;
    peer_t *p = real_peer(&f, &s, 0x71);
    p->rid[0] ^= 0xff; /* a routing id the ROUTER does not know */
    send_ping(f.g, p, 1);
    cr_assert_eq(p->doom, PEER_CLOSE);
    cr_assert_str_eq(p->doom_why, "the connection is gone");
    done(&f);
}

Test(conn, announcements_are_batched_and_a_full_queue_goes_at_once)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    gossip_t *g = f.g;
    void *s;
    peer_t *p = real_peer(&f, &s, 0x62);
    proto_peer_msg_t m;
    /* the first after a quiet spell goes at once */
    g->now_ms = g->conn.last_flush_ms + 10 * CONN_INV_FLUSH_MS;
    uint64_t t0 = g->now_ms;
    hash32_t h = sample_hash(1, 0xb1);
    conn_announce(g, p, RELAY_TX, &h);
    conn_flush_due(g);
    cr_assert(recv_type(s, PROTO_MSG_INV, &m));
    cr_assert_eq(tg_hashes(&m, NULL, 0), 1);
    cr_assert_eq(g->conn.last_flush_ms, t0);
    /* within CONN_INV_FLUSH_MS: queued, a timer armed for when it is due */
    g->now_ms = t0 + CONN_INV_FLUSH_MS - 1;
    for (uint64_t i = 2; i < 5; i++) {
        h = sample_hash(i, 0xb1);
        conn_announce(g, p, RELAY_TX, &h);
    }
    conn_flush_due(g);
    cr_assert_geq(g->conn.flush_timer, 0, "no timer for the batch");
    cr_assert_eq(relay_inv_pending(g->relay, peer_slot(&g->pt, p), RELAY_TX), 3);
    g->now_ms = t0 + CONN_INV_FLUSH_MS;
    conn_flush_due(g);
    cr_assert(recv_type(s, PROTO_MSG_INV, &m));
    cr_assert_eq(tg_hashes(&m, NULL, 0), 3, "the batch was not one inv");
    cr_assert_eq(relay_inv_pending(g->relay, peer_slot(&g->pt, p), RELAY_TX), 0);
    /* a full queue is a full inv, sent without waiting */
    for (uint64_t i = 0; i <= RELAY_INV_MAX; i++) {
        h = sample_hash(100 + i, 0xb2);
        conn_announce(g, p, RELAY_BLOCK, &h);
    }
    cr_assert(recv_type(s, PROTO_MSG_INV, &m));
    cr_assert_eq(tg_hashes(&m, NULL, 0), RELAY_INV_MAX);
    cr_assert_eq(relay_inv_pending(g->relay, peer_slot(&g->pt, p), RELAY_BLOCK), 1);
    done(&f);
}
