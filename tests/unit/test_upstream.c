/* upstream.h: gossipd's link to chaind, on a daemon whose chaind is the
 * stand-in of support/gossip_fixture.h (a ROUTER and an XPUB on ipc://),
 * its state read through gossip_state.h. The topics it follows; the tip
 * check one at a time, chaind's answer making it "up" (and the mempool
 * caught up), a timeout making it "down"; results of unknown kinds ignored;
 * chaind's events: peer.add learnt (an undialable one not), a tx announced
 * to every peer but the one it came from; a peer's transaction submitted
 * with its origin and chaind's verdict scoring it; a getdata served from
 * chaind (what it lacks answered notfound, what was served marked
 * broadcast); one getheaders of a peer with chaind at a time; the reserve
 * of client slots the download leaves; the peers report. */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"
#include "gossip_fixture.h"
#include "gossip_state.h"
#include "hex.h"
#include "sample.h"

static uint8_t buf[1 << 16];

/* Runs the daemon until chaind hears a request of type (others are
 * skipped): its routing id in rid, the request in *req (its body in rbuf). */
static void expect_request(tg_fixture_t *f, proto_req_t type, uint8_t rid[256], size_t *rid_len,
                           proto_request_t *req, uint8_t *rbuf, size_t cap)
{
    uint64_t until = clock_ms() + 5000;
    while (clock_ms() < until) {
        if (!tg_chaind_recv(&f->chaind, rid, rid_len, req, rbuf, cap, tg_pump, f))
            break;
        if (req->type == type)
            return;
    }
    cr_assert_fail("chaind heard no %s", proto_req_name(type));
}

static void open_with_chaind(tg_fixture_t *f)
{
    tg_open(f, &(tg_options_t){.chaind = true});
}

static void reply(tg_fixture_t *f, const uint8_t *rid, size_t rid_len)
{
    tg_chaind_reply(&f->chaind, rid, rid_len, &f->b);
}

static void reply_error(tg_fixture_t *f, const uint8_t *rid, size_t rid_len, uint64_t id,
                        err_code_t code)
{
    mp_buf_reset(&f->b);
    proto_error(&f->b, id, code, "the stand-in says no");
    reply(f, rid, rid_len);
}

Test(upstream, the_topics_are_blocks_transactions_and_advertised_peers)
{
    const char *names[PROTO_TOPIC_COUNT + 1];
    upstream_topics(names);
    cr_assert_str_eq(names[0], "block");
    cr_assert_str_eq(names[1], "tx");
    cr_assert_str_eq(names[2], "peer.add");
    cr_assert_null(names[3], "a topic gossipd has no use for (job) is followed");
    upstream_state_t u;
    cr_assert_eq(upstream_init(&u, 0), 0);
    cr_assert(u.serving_headers && u.marks);
    upstream_free(&u);
    cr_assert_null(u.serving_headers);
    upstream_free(&u);
}

/* Results of no kind upstream knows, or for no slot, change nothing. */
Test(upstream, results_of_unknown_kinds_are_ignored)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    static const int kinds[] = {-1, 12, 1000, -2147483647 - 1, 2147483647};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        client_result_t r = {.tag = {.kind = kinds[i], .slot = UINT32_MAX}, .timed_out = true};
        upstream_on_result(f.g, &r);
        r.tag.slot = (uint32_t)f.g->pt.cap;
        upstream_on_result(f.g, &r);
    }
    tg_close(&f);
}

static void put_tip(mp_buf_t *b, uint64_t id, uint64_t height, uint8_t fill)
{
    uint8_t hash[32];
    memset(hash, fill, sizeof hash);
    mp_buf_reset(b);
    proto_open_ok(b, PROTO_REQ_GET_TIP, id);
    mp_put_cstr(b, "height");
    mp_put_uint(b, height);
    mp_put_cstr(b, "hash");
    mp_put_bin(b, hash, 32);
    mp_put_cstr(b, "chainwork");
    mp_put_bin(b, hash, 32);
}

Test(upstream, the_tip_check_is_one_at_a_time_and_tells_whether_chaind_is_up)
{
    tg_fixture_t f;
    open_with_chaind(&f);
    gossip_t *g = f.g;
    uint8_t rid[256], rbuf[4096];
    size_t rid_len;
    proto_request_t req;
    expect_request(&f, PROTO_REQ_GET_TIP, rid, &rid_len, &req, rbuf, sizeof rbuf);
    cr_assert(g->up.tip_pending);
    size_t pending = client_pending(g->client);
    upstream_request_tip(g);
    cr_assert_eq(client_pending(g->client), pending, "a second tip check while one is out");
    cr_assert_not(g->up.chaind_up);
    put_tip(&f.b, req.id, 0, 0x77);
    reply(&f, rid, rid_len);
    uint64_t until = clock_ms() + 5000;
    while (!g->up.chaind_up && clock_ms() < until)
        tg_pass(&f, 10);
    cr_assert(g->up.chaind_up, "chaind's answer did not make it up");
    cr_assert_not(g->up.tip_pending);
    cr_assert(g->up.have_last_tip);
    cr_assert_eq(g->up.last_tip.b[0], 0x77);
    /* chaind is back: its mempool is asked for, the txids it missed */
    expect_request(&f, PROTO_REQ_GET_MEMPOOL, rid, &rid_len, &req, rbuf, sizeof rbuf);
    uint64_t max;
    cr_assert_eq(proto_get_uint(&req.body, "max", &max), 0);
    cr_assert_eq(max, UPSTREAM_MEMPOOL_MAX);
    /* a check that times out makes chaind down */
    upstream_request_tip(g);
    cr_assert(g->up.tip_pending);
    client_result_t r;
    while (client_expired(g->client, UINT64_MAX, &r))
        upstream_on_result(gossip_enter(g), &r);
    cr_assert_not(g->up.tip_pending);
    cr_assert_not(g->up.chaind_up, "a timed-out tip check left chaind up");
    cr_assert_not(g->up.have_last_tip);
    tg_close(&f);
}

static void publish_peer_add(tg_fixture_t *f, uint64_t seq, const char *host)
{
    mp_buf_reset(&f->b);
    proto_open_event(&f->b, PROTO_TOPIC_PEER_ADD, seq);
    mp_put_cstr(&f->b, "hostname");
    mp_put_cstr(&f->b, host);
    tg_chaind_publish(&f->chaind, PROTO_TOPIC_PEER_ADD, &f->b);
}

Test(upstream, an_advertised_peer_is_learnt_and_an_undialable_one_not)
{
    tg_fixture_t f;
    open_with_chaind(&f);
    gossip_t *g = f.g;
    tg_chaind_subscribed(&f.chaind, 3, tg_pump, &f);
    size_t known = addrbook_count(g->ab);
    publish_peer_add(&f, 0, "nonsense");
    publish_peer_add(&f, 1, "10.50.50.50:9333");
    uint64_t until = clock_ms() + 5000;
    while (!addrbook_find(g->ab, "10.50.50.50:9333") && clock_ms() < until)
        tg_pass(&f, 10);
    cr_assert_not_null(addrbook_find(g->ab, "10.50.50.50:9333"));
    cr_assert_null(addrbook_find(g->ab, "nonsense"));
    cr_assert_eq(addrbook_count(g->ab), known + 1);
    tg_close(&f);
}

/* Whether s hears an inv holding h before the pong to a ping it sends now. */
static bool inv_before_pong(tg_fixture_t *f, void *s, const hash32_t *h)
{
    tg_send_nonce(f, s, PROTO_MSG_PING, 4242);
    uint64_t until = clock_ms() + 5000;
    bool seen = false;
    while (clock_ms() < until) {
        tg_pass(f, 10);
        int n = zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n < 0)
            continue;
        proto_peer_msg_t m;
        err_t e;
        cr_assert_eq(proto_decode_peer(&m, "regtest", buf, (size_t)n, &e), 0, "%s", e.message);
        if (m.type == PROTO_MSG_PONG)
            return seen;
        if (m.type != PROTO_MSG_INV)
            continue;
        mp_reader_t r;
        uint32_t k;
        cr_assert_eq(proto_get_array(&m.body, "hashes", &r, &k), 0);
        for (uint32_t i = 0; i < k; i++) {
            hash32_t x;
            cr_assert_eq(mp_get_bin_exact(&r, x.b, 32), 0);
            seen |= hash32_eq(&x, h);
        }
    }
    cr_assert_fail("no pong");
    return false;
}

Test(upstream, a_tx_event_is_announced_to_every_peer_but_its_origin)
{
    tg_fixture_t f;
    open_with_chaind(&f);
    tg_chaind_subscribed(&f.chaind, 3, tg_pump, &f);
    void *a, *b;
    peer_t *pa = tg_peer(&f, &a, 0x41);
    tg_peer(&f, &b, 0x42);
    hash32_t txid = sample_hash(9, 0x99);
    mp_buf_reset(&f.b);
    proto_open_event(&f.b, PROTO_TOPIC_TX, 0);
    mp_put_cstr(&f.b, "txid");
    mp_put_bin(&f.b, txid.b, 32);
    mp_put_cstr(&f.b, "origin");
    mp_put_cstr(&f.b, pa->origin);
    tg_chaind_publish(&f.chaind, PROTO_TOPIC_TX, &f.b);
    proto_peer_msg_t m;
    tg_expect(&f, b, PROTO_MSG_INV, &m, buf, sizeof buf);
    hash32_t got;
    cr_assert_eq(tg_hashes(&m, &got, 1), 1);
    cr_assert(hash32_eq(&got, &txid));
    cr_assert_not(inv_before_pong(&f, a, &txid), "the transaction went back to its origin");
    zmq_close(a);
    zmq_close(b);
    tg_close(&f);
}

static void send_tx(tg_fixture_t *f, void *s, const char *bytes)
{
    mp_buf_reset(&f->b);
    proto_open_peer(&f->b, "regtest", PROTO_MSG_TX);
    mp_put_cstr(&f->b, "tx");
    mp_put_bin(&f->b, bytes, strlen(bytes));
    tg_send(s, &f->b);
}

/* Runs the daemon until cond(p) holds (5 s at most). */
static void until(tg_fixture_t *f, bool (*cond)(const peer_t *), const peer_t *p)
{
    uint64_t end = clock_ms() + 5000;
    while (!cond(p) && clock_ms() < end)
        tg_pass(f, 10);
    cr_assert(cond(p));
}

static bool scored(const peer_t *p) { return p->score > 0; }
static bool delivered(const peer_t *p) { return p->last_tx_ms > 0; }

Test(upstream, a_peers_transaction_goes_to_chaind_and_its_verdict_scores_it)
{
    tg_fixture_t f;
    open_with_chaind(&f);
    void *s;
    peer_t *p = tg_peer(&f, &s, 0x51);
    uint8_t rid[256], rbuf[4096];
    size_t rid_len;
    proto_request_t req;
    send_tx(&f, s, "a transaction");
    expect_request(&f, PROTO_REQ_SUBMIT_TX, rid, &rid_len, &req, rbuf, sizeof rbuf);
    const uint8_t *tx;
    size_t len;
    char origin[PEER_ORIGIN_MAX + 1];
    cr_assert_eq(proto_get_bin(&req.body, "tx", &tx, &len), 0);
    cr_assert_eq(len, strlen("a transaction"));
    cr_assert_eq(memcmp(tx, "a transaction", len), 0);
    cr_assert_eq(proto_get_str(&req.body, "origin", origin, sizeof origin), 0);
    cr_assert_str_eq(origin, p->origin);
    reply_error(&f, rid, rid_len, req.id, ERR_BAD_REQUEST);
    until(&f, scored, p);
    cr_assert_eq(p->score, err_tx_ban_score(ERR_BAD_REQUEST));
    cr_assert_eq(p->last_tx_ms, 0);
    /* one chaind takes is the peer's delivery, and costs nothing */
    send_tx(&f, s, "another transaction");
    expect_request(&f, PROTO_REQ_SUBMIT_TX, rid, &rid_len, &req, rbuf, sizeof rbuf);
    hash32_t txid = sample_hash(1, 0);
    mp_buf_reset(&f.b);
    proto_open_ok(&f.b, PROTO_REQ_SUBMIT_TX, req.id);
    mp_put_cstr(&f.b, "txid");
    mp_put_bin(&f.b, txid.b, 32);
    reply(&f, rid, rid_len);
    until(&f, delivered, p);
    cr_assert_eq(p->score, err_tx_ban_score(ERR_BAD_REQUEST));
    zmq_close(s);
    tg_close(&f);
}

/* What a peer asks for is asked of chaind: what it has goes to the peer,
 * what it lacks is answered notfound, and a served txid is marked
 * broadcast. */
Test(upstream, a_getdata_is_served_from_chaind)
{
    tg_fixture_t f;
    open_with_chaind(&f);
    void *s;
    tg_peer(&f, &s, 0x61);
    hash32_t h[2] = {sample_hash(1, 0x61), sample_hash(2, 0x61)};
    tg_put_hashes(&f.b, PROTO_MSG_GETDATA, "tx", h, 2);
    tg_send(s, &f.b);
    uint8_t rid[256], rbuf[4096];
    size_t rid_len;
    proto_request_t req;
    for (int i = 0; i < 2; i++) {
        expect_request(&f, PROTO_REQ_GET_TX, rid, &rid_len, &req, rbuf, sizeof rbuf);
        hash32_t asked;
        cr_assert_eq(proto_get_bin_exact(&req.body, "txid", asked.b, 32), 0);
        if (hash32_eq(&asked, &h[0])) {
            mp_buf_reset(&f.b);
            proto_open_ok(&f.b, PROTO_REQ_GET_TX, req.id);
            mp_put_cstr(&f.b, "tx");
            mp_put_bin(&f.b, "xyz", 3);
            reply(&f, rid, rid_len);
        } else {
            cr_assert(hash32_eq(&asked, &h[1]), "chaind was asked for what no one asked");
            reply_error(&f, rid, rid_len, req.id, ERR_NOT_FOUND);
        }
    }
    proto_peer_msg_t m;
    tg_expect(&f, s, PROTO_MSG_TX, &m, buf, sizeof buf);
    const uint8_t *tx;
    size_t len;
    cr_assert_eq(proto_get_bin(&m.body, "tx", &tx, &len), 0);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(tx, "xyz", 3), 0);
    tg_expect(&f, s, PROTO_MSG_NOTFOUND, &m, buf, sizeof buf);
    hash32_t got;
    cr_assert_eq(tg_hashes(&m, &got, 1), 1);
    cr_assert(hash32_eq(&got, &h[1]));
    mp_reader_t r;
    uint32_t n;
    expect_request(&f, PROTO_REQ_MARK_BROADCAST, rid, &rid_len, &req, rbuf, sizeof rbuf);
    cr_assert_eq(proto_get_array(&req.body, "txids", &r, &n), 0);
    cr_assert_eq(n, 1, "not only the served txid was marked");
    cr_assert_eq(mp_get_bin_exact(&r, got.b, 32), 0);
    cr_assert(hash32_eq(&got, &h[0]));
    zmq_close(s);
    tg_close(&f);
}

/* A peer's getheaders goes to chaind one at a time: one sent while another
 * is out is dropped, not queued. */
Test(upstream, one_getheaders_of_a_peer_at_a_time)
{
    tg_fixture_t f;
    open_with_chaind(&f);
    void *s;
    peer_t *p = tg_peer(&f, &s, 0x71);
    uint32_t slot = peer_slot(&f.g->pt, p);
    hash32_t loc[3] = {sample_hash(1, 0x71), sample_hash(2, 0x71), sample_hash(3, 0x71)};
    uint8_t rid[256], rbuf[4096];
    size_t rid_len;
    proto_request_t req;
    tg_put_hashes(&f.b, PROTO_MSG_GETHEADERS, NULL, &loc[0], 1);
    tg_send(s, &f.b);
    expect_request(&f, PROTO_REQ_GET_HEADERS, rid, &rid_len, &req, rbuf, sizeof rbuf);
    cr_assert(f.g->up.serving_headers[slot]);
    uint64_t first = req.id;
    tg_put_hashes(&f.b, PROTO_MSG_GETHEADERS, NULL, &loc[1], 1);
    tg_send(s, &f.b);
    /* the answer waits until the second getheaders was heard */
    proto_peer_msg_t m;
    tg_send_nonce(&f, s, PROTO_MSG_PING, 5);
    tg_expect(&f, s, PROTO_MSG_PONG, &m, buf, sizeof buf);
    mp_buf_reset(&f.b);
    proto_open_ok(&f.b, PROTO_REQ_GET_HEADERS, first);
    mp_put_cstr(&f.b, "headers");
    mp_put_array(&f.b, 0);
    reply(&f, rid, rid_len);
    tg_expect(&f, s, PROTO_MSG_HEADERS, &m, buf, sizeof buf);
    mp_reader_t r;
    uint32_t n;
    cr_assert_eq(proto_get_array(&m.body, "headers", &r, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_not(f.g->up.serving_headers[slot]);
    tg_put_hashes(&f.b, PROTO_MSG_GETHEADERS, NULL, &loc[2], 1);
    tg_send(s, &f.b);
    expect_request(&f, PROTO_REQ_GET_HEADERS, rid, &rid_len, &req, rbuf, sizeof rbuf);
    cr_assert_eq(proto_get_array(&req.body, "locator", &r, &n), 0);
    hash32_t got;
    cr_assert_eq(n, 1);
    cr_assert_eq(mp_get_bin_exact(&r, got.b, 32), 0);
    cr_assert(hash32_eq(&got, &loc[2]), "the getheaders sent while one was out was queued");
    zmq_close(s);
    tg_close(&f);
}

/* The download's blocks leave UPSTREAM_CLIENT_RESERVE slots for our own
 * requests. */
Test(upstream, the_download_leaves_a_reserve_of_client_slots)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    gossip_t *g = f.g;
    mp_buf_t scratch;
    mp_buf_init(&scratch, 256);
    while (client_pending(g->client) + UPSTREAM_CLIENT_RESERVE < CLIENT_MAX_PENDING)
        cr_assert_geq(client_begin(g->client, &scratch, PROTO_REQ_GET_TIP), 0);
    hash32_t h = sample_hash(1, 0x81);
    size_t before = client_pending(g->client);
    cr_assert_eq(upstream_submit_sync(g, 0, &h, (const uint8_t *)"block", 5), -1);
    cr_assert_eq(client_pending(g->client), before, "the reserve was taken");
    int t = client_begin(g->client, &scratch, PROTO_REQ_GET_TIP);
    cr_assert_geq(t, 0, "the reserve is not there for our own requests");
    mp_buf_free(&scratch);
    tg_close(&f);
}

/* The peers report lists the ready peers, one at a time. */
Test(upstream, the_peers_report_lists_the_ready_peers)
{
    tg_fixture_t f;
    open_with_chaind(&f);
    gossip_t *g = f.g;
    void *s;
    peer_t *p = tg_peer(&f, &s, 0x91);
    uint8_t rid[256], rbuf[4096];
    size_t rid_len;
    proto_request_t req;
    /* answer the reports already out (the timer's, the new peer's) */
    uint64_t end = clock_ms() + 5000;
    while (g->up.report_pending && clock_ms() < end) {
        expect_request(&f, PROTO_REQ_PEERS, rid, &rid_len, &req, rbuf, sizeof rbuf);
        mp_buf_reset(&f.b);
        proto_open_ok(&f.b, PROTO_REQ_PEERS, req.id);
        reply(&f, rid, rid_len);
        for (int i = 0; i < 5; i++)
            tg_pass(&f, 10);
    }
    cr_assert_not(g->up.report_pending);
    upstream_report_peers(g);
    cr_assert(g->up.report_pending);
    size_t pending = client_pending(g->client);
    upstream_report_peers(g);
    cr_assert_eq(client_pending(g->client), pending, "a second report while one is out");
    expect_request(&f, PROTO_REQ_PEERS, rid, &rid_len, &req, rbuf, sizeof rbuf);
    mp_reader_t r;
    uint32_t n;
    cr_assert_eq(proto_get_array(&req.body, "peers", &r, &n), 0);
    cr_assert_eq(n, 1);
    char want[2 * PEER_ID_LEN + 1];
    hex_encode(want, p->node_id, PEER_ID_LEN);
    cr_assert_not_null(memmem(rbuf, sizeof rbuf, want, strlen(want)), "the peer's node id");
    zmq_close(s);
    tg_close(&f);
}
