/* handlers.h: what each peer message does, over a real socket (the test
 * peers of support/gossip_fixture.h): the dispatch of each message type, a
 * message before the hello scored and not handled, answers to our own
 * requests free of the flood bucket and the rest charged. Then, handed to
 * handlers_handle() directly: hostile messages scored by what they are (a
 * message of several frames, a block that is no block, unknown kinds and
 * types, another network, past PROTO_MAX_INV, truncated); a hello again
 * telling the height; a challenge from an inbound peer ignored; an addr's
 * new addresses learnt and passed on (10 at most, never to the sender); an
 * inv of what we lack asked for once; and the download's operations
 * reaching only the ready, undoomed peer of a slot. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "block.h"
#include "clock.h"
#include "gossip.h"
#include "gossip_fixture.h"
#include "gossip_state.h"
#include "peer.h"
#include "proto.h"
#include "relay.h"
#include "sample.h"

Test(handlers, a_peer_shakes_hands_and_each_message_reaches_its_handler)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    void *s = tg_dial(&f);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    /* a message before the hello is scored, and not handled */
    tg_send_nonce(&f, s, PROTO_MSG_PING, 1);
    const peer_t *p = tg_shake_hands(&f, s, "10.1.1.1:9333", 0x42, &m, buf, sizeof buf);
    uint64_t version;
    cr_assert_eq(proto_get_uint(&m.body, "version", &version), 0);
    cr_assert_eq(version, PROTO_VERSION);
    cr_assert_eq(p->score, err_ban_score(ERR_BAD_REQUEST), "a ping before hello was not scored");
    /* the claimed address is not the peer's until its dial-back proves it */
    cr_assert_str_eq(p->addr, "", "an unverified claim was taken");
    cr_assert_str_eq(p->claim, "10.1.1.1:9333");
    cr_assert_eq(p->claim_state, PEER_CLAIM_WAIT);
    tg_expect(&f, s, PROTO_MSG_CHALLENGE, &m, buf, sizeof buf);
    uint8_t challenge[PEER_ID_LEN];
    cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", challenge, PEER_ID_LEN), 0);
    cr_assert_arr_eq(challenge, p->challenge, PEER_ID_LEN);
    tg_expect(&f, s, PROTO_MSG_ADDR, &m, buf, sizeof buf);
    /* a ping is answered with its nonce */
    tg_send_nonce(&f, s, PROTO_MSG_PING, 77);
    tg_expect(&f, s, PROTO_MSG_PONG, &m, buf, sizeof buf);
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
    tg_send(s, &f.b);
    for (int i = 0; i < 20 && p->score < 2 * err_ban_score(ERR_BAD_REQUEST); i++)
        tg_pass(&f, 10);
    cr_assert_eq(p->score, 2 * err_ban_score(ERR_BAD_REQUEST), "an unknown kind was not scored");
    zmq_close(s);
    tg_close(&f);
}

/* Sends n pongs of a nonce, in batches the daemon's queue takes (it reads
 * them in passes between the batches). */
static void pongs(tg_fixture_t *f, void *s, int n, uint64_t nonce)
{
    mp_buf_reset(&f->b);
    proto_open_peer(&f->b, "regtest", PROTO_MSG_PONG);
    mp_put_cstr(&f->b, "nonce");
    mp_put_uint(&f->b, nonce);
    for (int sent = 0; sent < n;) {
        for (int i = 0; i < 100 && sent < n; i++, sent++)
            cr_assert_eq(zmq_send(s, f->b.data, f->b.len, 0), (int)f->b.len);
        for (int i = 0; i < 3; i++)
            tg_pass(f, 1);
    }
    for (int i = 0; i < 20; i++)
        tg_pass(f, 5);
}

Test(handlers, answers_to_our_requests_are_free_the_rest_cost_a_token)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    void *s = tg_dial(&f);
    const peer_t *p = tg_shake_hands(&f, s, "10.1.1.4:9333", 0x20, &m, buf, sizeof buf);
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
    tg_close(&f);
}

/* --- the contract function by function ------------------------------------------- */

Test(handlers, init_allocates_and_free_is_safe_twice)
{
    handlers_state_t h;
    cr_assert_eq(handlers_init(&h), 0);
    cr_assert(h.hashes && h.hdrbuf);
    h.hashes[PROTO_MAX_INV - 1] = (hash32_t){{1}};
    h.hdrbuf[(size_t)PROTO_MAX_HEADERS * BLOCK_HEADER_LEN - 1] = 1; /* the bounds are writable */
    handlers_free(&h);
    cr_assert_null(h.hashes);
    cr_assert_null(h.hdrbuf);
    handlers_free(&h);
}

static uint8_t buf[1 << 16];

/* Hands f->b to the handler as p's (frames > 1: malformed). */
static void handle(tg_fixture_t *f, peer_t *p, bool malformed)
{
    cr_assert(mp_buf_ok(&f->b));
    handlers_handle(f->g, p, f->b.data, f->b.len, malformed);
}

/* A peer serving our getdata from its chaind says notfound an item at a
 * time: answers to what we asked of it are free, however many; a notfound
 * of what we never asked costs a token like any unsolicited message. (The
 * soak once banned an honest peer for the first kind.) */
Test(handlers, notfounds_of_what_we_asked_are_free)
{
    enum { N = 2 * PEER_FLOOD_BURST };
    cr_assert_leq(N, RELAY_REQ_MAX);
    tg_fixture_t f;
    tg_open(&f, NULL);
    void *s;
    peer_t *p = tg_peer(&f, &s, 0xd7);
    uint32_t slot = peer_slot(&f.g->pt, p);
    static hash32_t asked[N];
    for (int i = 0; i < N; i++) {
        asked[i].b[0] = 0xa5;
        memcpy(asked[i].b + 1, &i, sizeof i);
        cr_assert(relay_request(f.g->relay, slot, RELAY_TX, &asked[i], f.g->now_ms));
    }
    for (int i = 0; i < N; i++) {
        tg_put_hashes(&f.b, PROTO_MSG_NOTFOUND, "tx", &asked[i], 1);
        handle(&f, p, false);
    }
    cr_assert_eq(p->score, 0, "notfounds of what we asked were charged");
    cr_assert_eq(p->doom, PEER_KEEP);
    cr_assert_not(relay_asked(f.g->relay, slot, &asked[0]), "a notfound leaves the request");
    /* the same again: asked no more, so a flood */
    for (int i = 0; i < N && p->doom == PEER_KEEP; i++) {
        tg_put_hashes(&f.b, PROTO_MSG_NOTFOUND, "tx", &asked[i], 1);
        handle(&f, p, false);
    }
    cr_assert_geq(p->score, PEER_BAN_SCORE, "unsolicited notfounds cost nothing");
    conn_reap(f.g, p);
    zmq_close(s);
    tg_close(&f);
}

/* Each hostile message on a fresh peer: the score it costs, and whether it
 * dooms the peer to a ban. Handed to the handler directly, so nothing but
 * the message decides. */
Test(handlers, hostile_messages_are_scored_by_what_they_are)
{
    enum { MULTI_FRAME, NO_BLOCK, BAD_KIND_NOTFOUND, BAD_KIND_INV, WRONG_NETWORK, TOO_MANY,
           UNKNOWN_TYPE, TRUNCATED, COUNT };
    static const struct {
        const char *what;
        int score;
    } cases[COUNT] = {
        [MULTI_FRAME] = {"a message of several frames", 100},
        [NO_BLOCK] = {"a block that is no block", 100},
        [BAD_KIND_NOTFOUND] = {"a notfound of an unknown kind", 20},
        [BAD_KIND_INV] = {"an inv of an unknown kind", 20},
        [WRONG_NETWORK] = {"a ping of another network", 100},
        [TOO_MANY] = {"an inv past PROTO_MAX_INV", 20},
        [UNKNOWN_TYPE] = {"a message of no type", 20},
        [TRUNCATED] = {"a truncated ping", 100},
    };
    tg_fixture_t f;
    tg_open(&f, NULL);
    static hash32_t many[PROTO_MAX_INV + 1];
    for (int c = 0; c < COUNT; c++) {
        void *s;
        peer_t *p = tg_peer(&f, &s, (uint8_t)(0xc0 + c));
        switch (c) {
        case MULTI_FRAME: tg_hello(&f.b, PROTO_VERSION, 0, "", 1); break;
        case NO_BLOCK:
            mp_buf_reset(&f.b);
            proto_open_peer(&f.b, "regtest", PROTO_MSG_BLOCK);
            mp_put_cstr(&f.b, "block");
            mp_put_bin(&f.b, (const uint8_t *)"\x92\xc4\x03" "abc\x90", 7);
            break;
        case BAD_KIND_NOTFOUND: tg_put_hashes(&f.b, PROTO_MSG_NOTFOUND, "utxo", many, 1); break;
        case BAD_KIND_INV: tg_put_hashes(&f.b, PROTO_MSG_INV, "", many, 1); break;
        case WRONG_NETWORK:
            mp_buf_reset(&f.b);
            proto_open_peer(&f.b, "demo", PROTO_MSG_PING);
            mp_put_cstr(&f.b, "nonce");
            mp_put_uint(&f.b, 1);
            break;
        case TOO_MANY: tg_put_hashes(&f.b, PROTO_MSG_INV, "tx", many, PROTO_MAX_INV + 1); break;
        case UNKNOWN_TYPE:
            mp_buf_reset(&f.b);
            mp_put_array(&f.b, 3);
            mp_put_cstr(&f.b, "regtest");
            mp_put_cstr(&f.b, "nosuchtype");
            mp_put_map(&f.b, 0);
            break;
        case TRUNCATED:
            mp_buf_reset(&f.b);
            proto_open_peer(&f.b, "regtest", PROTO_MSG_PING);
            mp_put_cstr(&f.b, "nonce");
            mp_put_uint(&f.b, 1);
            f.b.len -= 1;
            break;
        }
        handle(&f, p, c == MULTI_FRAME);
        cr_assert_eq(p->score, cases[c].score, "%s: score %d", cases[c].what, p->score);
        cr_assert_eq(p->doom, cases[c].score >= PEER_BAN_SCORE ? PEER_BAN : PEER_KEEP, "%s",
                     cases[c].what);
        conn_reap(f.g, p);
        zmq_close(s);
    }
    tg_close(&f);
}

/* A hello after the handshake only tells the peer's height. */
Test(handlers, a_hello_after_the_handshake_tells_the_height)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    void *s;
    peer_t *p = tg_peer(&f, &s, 0xd1);
    uint32_t slot = peer_slot(&f.g->pt, p);
    cr_assert_eq(sync_peer_get_height(f.g->sync, slot), 0);
    tg_hello(&f.b, PROTO_VERSION, 77, "10.1.1.1:9333", 0xd1);
    handle(&f, p, false);
    cr_assert_eq(sync_peer_get_height(f.g->sync, slot), 77);
    cr_assert_eq(p->state, PEER_READY);
    cr_assert_eq(p->score, 0);
    cr_assert_str_eq(p->claim, "", "a second hello made a claim");
    zmq_close(s);
    tg_close(&f);
}

/* A challenge means something only from a peer we dialled. */
Test(handlers, a_challenge_from_an_inbound_peer_is_ignored)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    void *s;
    peer_t *p = tg_peer(&f, &s, 0xd2);
    uint8_t nonce[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    tg_put_bins(&f.b, PROTO_MSG_CHALLENGE, "nonce", nonce, NULL, NULL);
    handle(&f, p, false);
    cr_assert_not(p->have_challenge);
    zmq_close(s);
    tg_close(&f);
}

/* Runs the daemon until s has an addr holding needle: its address count. */
static uint32_t addr_with(tg_fixture_t *f, void *s, const char *needle)
{
    uint64_t until = clock_ms() + 5000;
    while (clock_ms() < until) {
        proto_peer_msg_t m;
        tg_expect(f, s, PROTO_MSG_ADDR, &m, buf, sizeof buf);
        mp_reader_t r;
        uint32_t n;
        cr_assert_eq(proto_get_array(&m.body, "addrs", &r, &n), 0);
        bool found = false;
        for (uint32_t i = 0; i < n; i++) {
            const char *a;
            size_t len;
            cr_assert_eq(mp_get_str(&r, &a, &len), 0);
            found |= len == strlen(needle) && memcmp(a, needle, len) == 0;
        }
        if (found)
            return n;
    }
    cr_assert_fail("no addr with %s", needle);
    return 0;
}

static void put_addrs(mp_buf_t *b, const char *const *addrs, size_t n)
{
    mp_buf_reset(b);
    proto_open_peer(b, "regtest", PROTO_MSG_ADDR);
    mp_put_cstr(b, "addrs");
    mp_put_array(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        mp_put_cstr(b, addrs[i]);
}

/* An addr's new, dialable addresses are learnt and passed on to the other
 * peers (at most 10 from one message), never back to the sender; what the
 * book knows already, or cannot dial, goes nowhere. */
Test(handlers, an_addr_is_learnt_and_its_new_addresses_passed_on)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    void *a, *b;
    peer_t *pa = tg_peer(&f, &a, 0xe1);
    tg_peer(&f, &b, 0xe2);
    size_t known = addrbook_count(f.g->ab);
    static const char *first[] = {"10.20.30.40:9333", "not an address", "", "10.20.30.40:9333",
                                  "10.20.30.40"};
    put_addrs(&f.b, first, 5);
    handle(&f, pa, false);
    cr_assert_eq(addrbook_count(f.g->ab), known + 1, "not one address learnt");
    cr_assert_eq(addr_with(&f, b, "10.20.30.40:9333"), 1, "more than the new address passed on");
    static const char *second[] = {"10.20.30.40:9333", "10.20.30.41:9333"};
    put_addrs(&f.b, second, 2);
    handle(&f, pa, false);
    cr_assert_eq(addr_with(&f, b, "10.20.30.41:9333"), 1, "a known address passed on again");
    /* 15 new ones: 10 passed on */
    char many[15][32];
    const char *ptrs[15];
    for (int i = 0; i < 15; i++) {
        snprintf(many[i], sizeof many[i], "10.21.0.%d:9333", i + 1);
        ptrs[i] = many[i];
    }
    put_addrs(&f.b, ptrs, 15);
    handle(&f, pa, false);
    cr_assert_eq(addr_with(&f, b, "10.21.0.1:9333"), 10);
    cr_assert_eq(addrbook_count(f.g->ab), known + 17, "an address past the forward bound lost");
    /* none of it came back to the sender: its next message is the pong */
    tg_send_nonce(&f, a, PROTO_MSG_PING, 9);
    proto_peer_msg_t m;
    while (tg_recv(a, &m, buf, sizeof buf) && m.type != PROTO_MSG_PONG) {
        if (m.type == PROTO_MSG_ADDR) {
            mp_reader_t r;
            uint32_t n;
            cr_assert_eq(proto_get_array(&m.body, "addrs", &r, &n), 0);
            const char *x;
            size_t len;
            cr_assert(n > 0 && mp_get_str(&r, &x, &len) == 0);
            cr_assert(len < 5 || memcmp(x, "10.2", 4) != 0, "an address went back to its sender");
        }
        tg_pass(&f, 10);
    }
    cr_assert_eq(m.type, PROTO_MSG_PONG);
    cr_assert_eq(pa->score, 0);
    zmq_close(a);
    zmq_close(b);
    tg_close(&f);
}

/* An inv of transactions we lack becomes one getdata of them; what was
 * asked for already is not asked again. */
Test(handlers, an_inv_of_what_we_lack_is_asked_for_once)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    void *s;
    peer_t *p = tg_peer(&f, &s, 0xe3);
    proto_peer_msg_t m;
    while (tg_recv(s, &m, buf, sizeof buf) && m.type != PROTO_MSG_ADDR) /* what the handshake sent */
        ;
    hash32_t h[3] = {sample_hash(1, 0xf1), sample_hash(2, 0xf1), sample_hash(3, 0xf1)}, got[4];
    tg_put_hashes(&f.b, PROTO_MSG_INV, "tx", h, 2);
    handle(&f, p, false);
    cr_assert(tg_recv(s, &m, buf, sizeof buf));
    cr_assert_eq(m.type, PROTO_MSG_GETDATA);
    cr_assert_eq(tg_hashes(&m, got, 4), 2);
    cr_assert_arr_eq(got[0].b, h[0].b, 32);
    cr_assert_arr_eq(got[1].b, h[1].b, 32);
    tg_put_hashes(&f.b, PROTO_MSG_INV, "tx", h, 3);
    handle(&f, p, false);
    cr_assert(tg_recv(s, &m, buf, sizeof buf));
    cr_assert_eq(m.type, PROTO_MSG_GETDATA);
    cr_assert_eq(tg_hashes(&m, got, 4), 1, "a hash asked for already was asked again");
    cr_assert_arr_eq(got[0].b, h[2].b, 32);
    cr_assert_eq(p->score, 0);
    zmq_close(s);
    tg_close(&f);
}

/* The download's operations reach the peer of a slot, and nothing else. */
Test(handlers, the_sync_ops_act_on_the_ready_peer_of_a_slot)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    void *s;
    peer_t *p = tg_peer(&f, &s, 0xe4);
    uint32_t slot = peer_slot(&f.g->pt, p);
    proto_peer_msg_t m;
    while (tg_recv(s, &m, buf, sizeof buf) && m.type != PROTO_MSG_ADDR)
        ;
    sync_ops_t ops = handlers_sync_ops(f.g);
    cr_assert_eq(ops.ctx, f.g);
    hash32_t h[2] = {sample_hash(1, 0xf2), sample_hash(2, 0xf2)}, got[2];
    ops.getheaders(ops.ctx, slot, h, 2);
    cr_assert(tg_recv(s, &m, buf, sizeof buf));
    cr_assert_eq(m.type, PROTO_MSG_GETHEADERS);
    ops.getdata(ops.ctx, slot, h, 2);
    cr_assert(tg_recv(s, &m, buf, sizeof buf));
    cr_assert_eq(m.type, PROTO_MSG_GETDATA);
    cr_assert_eq(tg_hashes(&m, got, 2), 2);
    char kind[8];
    cr_assert_eq(proto_get_str(&m.body, "kind", kind, sizeof kind), 0);
    cr_assert_str_eq(kind, "block");
    /* free slots and slots past the table are no one */
    for (uint32_t k = 0; k <= f.g->pt.cap; k++)
        if (k != slot) {
            ops.misbehave(ops.ctx, k, ERR_BAD_POW, "nobody");
            ops.drop(ops.ctx, k, "nobody");
            ops.getdata(ops.ctx, k, h, 2);
        }
    ops.misbehave(ops.ctx, UINT32_MAX, ERR_BAD_POW, "nobody");
    cr_assert_eq(p->score, 0);
    ops.misbehave(ops.ctx, slot, ERR_BAD_TIMESTAMP, "a block from the future");
    cr_assert_eq(p->score, err_ban_score(ERR_BAD_TIMESTAMP));
    cr_assert_eq(p->doom, PEER_KEEP);
    ops.drop(ops.ctx, slot, "it stalls");
    cr_assert_eq(p->doom, PEER_CLOSE);
    cr_assert_str_eq(p->doom_why, "it stalls");
    /* a doomed peer is no one either */
    ops.getdata(ops.ctx, slot, h, 2);
    ops.misbehave(ops.ctx, slot, ERR_BAD_TIMESTAMP, "again");
    cr_assert_eq(p->score, err_ban_score(ERR_BAD_TIMESTAMP));
    zmq_close(s);
    tg_close(&f);
}
