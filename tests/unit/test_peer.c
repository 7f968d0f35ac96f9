/* peer.h: the peer table's caps and refs, misbehaviour scores and their
 * decay, the flood bucket, the ban keys (where a peer is: verified,
 * unverified, loopback) and ban persistence, the ping round trip, and the
 * decoding of a peer's message scoring what is bad. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "peer.h"
#include "proto.h"
#include "sample.h"

static peer_table_t table(void)
{
    peer_table_t t;
    cr_assert_eq(peer_table_init(&t, 2, 1), 0);
    return t;
}

Test(peer, caps_inbound_and_outbound_separately)
{
    peer_table_t t = table();
    peer_t *a = peer_alloc(&t, true, 0, 1000), *b = peer_alloc(&t, true, 0, 1000);
    cr_assert(a && b);
    cr_assert_null(peer_alloc(&t, true, 0, 1000), "a third inbound peer passed the cap");
    peer_t *c = peer_alloc(&t, false, 0, 1000);
    cr_assert_not_null(c);
    cr_assert_null(peer_alloc(&t, false, 0, 1000));
    cr_assert_eq(a->state, PEER_HANDSHAKE);
    cr_assert_eq(c->state, PEER_CONNECTING);
    cr_assert_eq(c->deadline_ms, 1000);
    peer_ref_t ref = peer_ref(&t, a);
    cr_assert_eq(peer_get(&t, ref), a);
    peer_free(&t, a);
    cr_assert_null(peer_get(&t, ref), "a freed peer's ref still resolves");
    peer_t *d = peer_alloc(&t, true, 0, 1000);
    cr_assert_eq(d, a, "the slot is reused");
    cr_assert_null(peer_get(&t, ref), "an old ref resolves to the slot's new peer");
    peer_table_free(&t);
}

Test(peer, scores_add_up_to_a_ban_and_decay)
{
    peer_table_t t = table();
    peer_t *p = peer_alloc(&t, true, 0, 1000);
    peer_misbehave(p, err_ban_score(ERR_DOUBLE_SPEND), 0);
    cr_assert_eq(p->score, 10);
    cr_assert_not(peer_should_ban(p));
    for (int i = 0; i < 8; i++)
        peer_misbehave(p, err_ban_score(ERR_UNKNOWN_UTXO), 0);
    cr_assert_eq(p->score, 90);
    cr_assert_not(peer_should_ban(p));
    /* ten minutes later ten points have gone */
    peer_misbehave(p, 0, 10 * PEER_SCORE_DECAY_MS);
    cr_assert_eq(p->score, 80);
    peer_misbehave(p, err_ban_score(ERR_BAD_TIMESTAMP), 10 * PEER_SCORE_DECAY_MS);
    cr_assert_eq(p->score, 100);
    cr_assert(peer_should_ban(p));
    /* one invalid block is enough on its own */
    peer_t *q = peer_alloc(&t, true, 0, 1000);
    peer_misbehave(q, err_ban_score(ERR_BAD_POW), 0);
    cr_assert(peer_should_ban(q));
    peer_table_free(&t);
}

Test(peer, flood_bucket_refills_and_scores_when_empty)
{
    peer_table_t t = table();
    peer_t *p = peer_alloc(&t, true, 0, 1000);
    for (int i = 0; i < PEER_FLOOD_BURST; i++)
        cr_assert(peer_charge(p, 0, 1), "message %d of the burst refused", i);
    cr_assert_eq(p->score, 0);
    cr_assert_not(peer_charge(p, 0, 1), "the burst is past but the message passed");
    cr_assert_eq(p->score, PEER_FLOOD_DROP_SCORE);
    cr_assert(peer_charge(p, 0, 0), "an answer to our own request costs nothing");
    /* a second later PEER_FLOOD_RATE more pass */
    for (int i = 0; i < PEER_FLOOD_RATE; i++)
        cr_assert(peer_charge(p, 1000, 1));
    cr_assert_not(peer_charge(p, 1000, 1));
    cr_assert_not(peer_should_ban(p), "an honest burst two messages over made a ban");
    /* a peer that keeps on past the bucket is banned */
    int drops = 2;
    while (!peer_should_ban(p) && drops < 10 * PEER_BAN_SCORE)
        drops += !peer_charge(p, 1000, 1);
    cr_assert(peer_should_ban(p), "a flood went on unbanned");
    cr_assert_eq(drops, PEER_BAN_SCORE / PEER_FLOOD_DROP_SCORE, "banned after %d drops", drops);
    peer_table_free(&t);
}

/* A ban names where the peer really is, never what it claims to be. */
Test(peer, ban_keys_are_where_a_peer_is_not_what_it_claims)
{
    static const struct {
        bool inbound;
        const char *ip, *addr, *claim;
        peer_claim_t claim_state;
        const char *keys[2]; /* NULL-terminated */
    } cases[] = {
        /* outbound: the address we dialled */
        {false, "", "10.0.0.5:9333", "", PEER_CLAIM_NONE, {"10.0.0.5:9333", NULL}},
        /* inbound: its connection's IP; a claim only once verified */
        {true, "10.0.0.5", "", "10.9.9.9:9333", PEER_CLAIM_WAIT, {"10.0.0.5", NULL}},
        {true, "10.0.0.5", "", "10.9.9.9:9333", PEER_CLAIM_PROBING, {"10.0.0.5", NULL}},
        {true, "10.0.0.5", "", "10.9.9.9:9333", PEER_CLAIM_FAILED, {"10.0.0.5", NULL}},
        {true, "10.0.0.5", "10.0.0.5:9333", "10.0.0.5:9333", PEER_CLAIM_VERIFIED,
         {"10.0.0.5", "10.0.0.5:9333"}},
        {true, "2001:db8::7", "", "", PEER_CLAIM_NONE, {"2001:db8::7", NULL}},
        /* local: the shared address bans nobody; only a verified claim names it */
        {true, "127.0.0.1", "", "127.0.0.1:4000", PEER_CLAIM_FAILED, {NULL}},
        {true, "127.0.0.1", "", "127.0.0.1:4000", PEER_CLAIM_WAIT, {NULL}},
        {true, "127.0.0.1", "127.0.0.1:4000", "127.0.0.1:4000", PEER_CLAIM_VERIFIED,
         {"127.0.0.1:4000", NULL}},
        {true, "::1", "", "", PEER_CLAIM_NONE, {NULL}},
        {true, "", "", "127.0.0.1:4001", PEER_CLAIM_FAILED, {NULL}}, /* ipc:// */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        peer_table_t t = table();
        peer_t *p = peer_alloc(&t, cases[i].inbound, 0, 1000);
        memset(p->node_id, 7, PEER_ID_LEN);
        p->have_id = true;
        snprintf(p->ip, sizeof p->ip, "%s", cases[i].ip);
        peer_set_addr(p, cases[i].addr);
        snprintf(p->claim, sizeof p->claim, "%s", cases[i].claim);
        p->claim_state = cases[i].claim_state;
        size_t want = 0;
        while (want < 2 && cases[i].keys[want])
            want++;
        cr_assert_eq(peer_ban_peer(&t, p, 1000, 60), want, "case %zu", i);
        cr_assert_eq(t.n_bans, want, "case %zu: %zu bans", i, t.n_bans);
        for (size_t k = 0; k < want; k++)
            cr_assert(peer_banned(&t, cases[i].keys[k], 1000), "case %zu: %s", i,
                      cases[i].keys[k]);
        /* never the node id, never an unverified claim */
        cr_assert_not(peer_banned(&t, "id:0707070707070707", 1000), "case %zu", i);
        if (cases[i].claim_state != PEER_CLAIM_VERIFIED && cases[i].claim[0])
            cr_assert_not(peer_banned(&t, cases[i].claim, 1000), "case %zu", i);
        cr_assert_eq(peer_banned_peer(&t, p, 1000), want > 0, "case %zu", i);
        cr_assert_not(peer_banned_peer(&t, p, 1060), "case %zu: the ban outlived it", i);
        peer_table_free(&t);
    }
}

/* An inbound peer from ip, node id of id_byte, claiming claim. */
static peer_t *inbound(peer_table_t *t, const char *ip, uint8_t id_byte, const char *claim,
                       peer_claim_t state)
{
    peer_t *p = peer_alloc(t, true, 0, 1000);
    snprintf(p->ip, sizeof p->ip, "%s", ip);
    snprintf(p->claim, sizeof p->claim, "%s", claim);
    p->claim_state = state;
    memset(p->node_id, id_byte, PEER_ID_LEN);
    p->have_id = true;
    return p;
}

/* The attack the keys are for: a peer claims an honest node's address and
 * id, then misbehaves. The honest node stays welcome. */
Test(peer, a_peer_that_claims_an_honest_node_bans_only_itself)
{
    peer_table_t t = table();
    peer_t *liar = inbound(&t, "10.6.6.6", 1, "10.1.1.1:9333", PEER_CLAIM_FAILED);
    peer_ban_peer(&t, liar, 1000, 86400);
    peer_t *honest = inbound(&t, "10.1.1.1", 1, "10.1.1.1:9333", PEER_CLAIM_VERIFIED);
    cr_assert_not(peer_banned_peer(&t, honest, 1001), "the honest node was banned");
    cr_assert_not(peer_banned(&t, "10.1.1.1:9333", 1001));
    cr_assert(peer_banned(&t, "10.6.6.6", 1001), "the liar's own address was not banned");
    peer_table_free(&t);
}

Test(peer, a_pong_to_our_ping_measures_the_round_trip)
{
    peer_table_t t = table();
    peer_t *p = peer_alloc(&t, true, 0, 1000);
    cr_assert_eq(p->min_ping_ms, UINT64_MAX);
    p->ping_nonce = 42;
    p->last_ping_ms = 1000;
    p->ping_out = true;
    cr_assert_not(peer_pong(p, 41, 1003), "a pong to another nonce answered our ping");
    cr_assert_eq(p->min_ping_ms, UINT64_MAX);
    cr_assert(peer_pong(p, 42, 1030));
    cr_assert_eq(p->min_ping_ms, 30);
    cr_assert(peer_pong(p, 42, 1001), "an answer is an answer");
    cr_assert_eq(p->min_ping_ms, 30, "a second pong to one ping counted");
    p->last_ping_ms = 2000;
    p->ping_out = true;
    cr_assert(peer_pong(p, 42, 2012));
    cr_assert_eq(p->min_ping_ms, 12);
    peer_table_free(&t);
}

Test(peer, bans_persist_and_stay_bounded)
{
    char dir[256], path[300];
    tb_tmpdir(dir);
    snprintf(path, sizeof path, "%s/bans.txt", dir);
    peer_table_t t = table();
    peer_ban(&t, "1.2.3.4:9333", 1000, 100);
    peer_ban(&t, "id:00000000000000ff", 1000, 5);
    err_t e;
    cr_assert_eq(peer_bans_save(&t, path, &e), 0, "%s", e.message);
    peer_table_free(&t);
    peer_table_t u = table();
    cr_assert_eq(peer_bans_load(&u, path, 1010, &e), 0, "%s", e.message);
    cr_assert_eq(u.n_bans, 1, "the expired ban came back");
    cr_assert(peer_banned(&u, "1.2.3.4:9333", 1050));
    /* garbage lines are skipped, not fatal */
    FILE *f = fopen(path, "a");
    fputs("no-number-here\n\x01\x02 zz\n", f);
    fclose(f);
    cr_assert_eq(peer_bans_load(&u, path, 1010, &e), 0);
    for (int i = 0; i < PEER_BAN_MAX + 50; i++) {
        char key[32];
        snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
        peer_ban(&u, key, 1000, 1000 + (uint64_t)i);
    }
    cr_assert_eq(u.n_bans, PEER_BAN_MAX, "the ban table grew past its bound");
    peer_table_free(&u);
    tb_rmdir(dir);
}

Test(peer, garbage_wrong_network_and_oversized_are_scored)
{
    peer_table_t t = table();
    proto_peer_msg_t m;
    err_t e;
    mp_buf_t hb;
    mp_buf_init(&hb, PROTO_MAX_MSG);
    peer_t *p = peer_alloc(&t, true, 0, 1000);
    const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef, 0xc1};
    cr_assert_lt(peer_decode(p, "regtest", garbage, sizeof garbage, 0, &m, &e), 0);
    cr_assert_eq(e.code, ERR_BAD_ENCODING);
    cr_assert(peer_should_ban(p));

    peer_t *q = peer_alloc(&t, true, 0, 1000);
    sample_hello(&hb, "demo", "127.0.0.1:1", 7);
    cr_assert_lt(peer_decode(q, "regtest", hb.data, hb.len, 0, &m, &e), 0);
    cr_assert_eq(e.code, ERR_BAD_NETWORK);
    cr_assert(peer_should_ban(q));
    peer_free(&t, p);
    peer_free(&t, q);

    peer_t *r = peer_alloc(&t, true, 0, 1000);
    size_t big = PROTO_MAX_MSG + 1;
    uint8_t *huge = calloc(1, big);
    cr_assert_lt(peer_decode(r, "regtest", huge, big, 0, &m, &e), 0);
    cr_assert_eq(e.code, ERR_TOO_LARGE);
    cr_assert(peer_should_ban(r));
    free(huge);

    /* a well-formed hello of the right network passes and costs nothing */
    peer_t *s = peer_alloc(&t, true, 0, 1000);
    sample_hello(&hb, "regtest", "127.0.0.1:1", 7);
    cr_assert_eq(peer_decode(s, "regtest", hb.data, hb.len, 0, &m, &e), 0, "%s", e.message);
    cr_assert_eq(m.type, PROTO_MSG_HELLO);
    cr_assert_eq(s->score, 0);
    peer_table_free(&t);
    mp_buf_free(&hb);
}
