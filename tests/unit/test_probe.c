/* probe.h: the dial-back of a claimed listen address, as a state machine
 * over the peer table: a claim waits PROBE_DELAY_MS, then takes a slot; a
 * proof with the claimant's node id and challenge verifies it, anything else
 * fails it (and bans nothing); at most PROBE_MAX at once, PROBE_RATE a
 * second, one at a time an address, the youngest claim first; a claimant
 * gone meanwhile is no one's win. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "peer.h"
#include "probe.h"

static peer_table_t t;
static probe_t pr;

static void setup(void)
{
    cr_assert_eq(peer_table_init(&t, 64, 0), 0);
    probe_init(&pr, 0);
}

static void teardown(void) { peer_table_free(&t); }

/* A ready inbound peer, connected at `at`, node id of id_byte, claiming claim. */
static peer_t *claimant(uint64_t at, uint8_t id_byte, const char *claim)
{
    peer_t *p = peer_alloc(&t, true, at, 1000);
    cr_assert_not_null(p);
    p->state = PEER_READY;
    p->have_id = true;
    memset(p->node_id, id_byte, PEER_ID_LEN);
    snprintf(p->ip, sizeof p->ip, "127.0.0.1");
    cr_assert_eq(probe_claim(p, claim, at), 0);
    return p;
}

TestSuite(probe, .init = setup, .fini = teardown);

Test(probe, a_claim_waits_then_a_matching_proof_verifies_it)
{
    peer_t *p = claimant(0, 1, "127.0.0.1:4000");
    static const uint8_t zero[PEER_ID_LEN];
    cr_assert(p->have_challenge);
    cr_assert_neq(memcmp(p->challenge, zero, PEER_ID_LEN), 0, "a zero challenge");
    cr_assert_eq(p->claim_state, PEER_CLAIM_WAIT);
    cr_assert_eq(probe_next(&pr, &t, PROBE_DELAY_MS - 1), -1, "dialled before the delay");
    int s = probe_next(&pr, &t, PROBE_DELAY_MS);
    cr_assert_geq(s, 0);
    cr_assert_str_eq(pr.slot[s].addr, "127.0.0.1:4000");
    cr_assert_eq(p->claim_state, PEER_CLAIM_PROBING);
    cr_assert_eq(probe_next(&pr, &t, PROBE_DELAY_MS), -1, "one claim dialled twice");
    cr_assert_eq(probe_done(&pr, &t, s, p->node_id, p->challenge), p);
    cr_assert_eq(p->claim_state, PEER_CLAIM_VERIFIED);
    const char *keys[2];
    cr_assert_eq(peer_ban_keys(p, keys), 1);
    cr_assert_str_eq(keys[0], "127.0.0.1:4000");
}

Test(probe, another_id_another_nonce_or_no_answer_fails_and_bans_nothing)
{
    static const struct {
        const char *what;
        int id_delta, nonce_delta;
        bool answer, timeout;
    } cases[] = {
        {"another node id", 1, 0, true, false},
        {"another nonce (a node that is not the claimant's)", 0, 1, true, false},
        {"no proof (refused, closed, no probe answer)", 0, 0, false, false},
        {"no answer in time", 0, 0, false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        peer_table_free(&t);
        setup();
        peer_t *p = claimant(0, 1, "127.0.0.1:4000");
        int s = probe_next(&pr, &t, PROBE_DELAY_MS);
        cr_assert_geq(s, 0);
        if (cases[i].timeout) {
            cr_assert_eq(probe_overdue(&pr, PROBE_DELAY_MS + PROBE_TIMEOUT_MS - 1), -1);
            cr_assert_eq(probe_overdue(&pr, PROBE_DELAY_MS + PROBE_TIMEOUT_MS), s);
        }
        uint8_t id[PEER_ID_LEN], nonce[PEER_ID_LEN];
        memcpy(id, p->node_id, PEER_ID_LEN);
        memcpy(nonce, p->challenge, PEER_ID_LEN);
        id[0] ^= (uint8_t)cases[i].id_delta;
        nonce[3] ^= (uint8_t)cases[i].nonce_delta;
        cr_assert_null(probe_done(&pr, &t, s, cases[i].answer ? id : NULL,
                                  cases[i].answer ? nonce : NULL), "%s", cases[i].what);
        cr_assert_eq(p->claim_state, PEER_CLAIM_FAILED, "%s", cases[i].what);
        const char *keys[2];
        cr_assert_eq(peer_ban_keys(p, keys), 0, "%s: a failed claim is a ban key",
                     cases[i].what);
        /* once failed, never dialled again for this connection */
        cr_assert_eq(probe_next(&pr, &t, 100000), -1, "%s", cases[i].what);
        cr_assert_eq(probe_overdue(&pr, 100000), -1, "the slot stayed busy");
    }
}

Test(probe, a_claimant_gone_meanwhile_is_nobody_and_a_late_answer_nothing)
{
    peer_t *p = claimant(0, 1, "127.0.0.1:4000");
    int s = probe_next(&pr, &t, PROBE_DELAY_MS);
    uint8_t id[PEER_ID_LEN], nonce[PEER_ID_LEN];
    memcpy(id, p->node_id, PEER_ID_LEN);
    memcpy(nonce, p->challenge, PEER_ID_LEN);
    peer_free(&t, p);
    /* the slot is taken by a new peer claiming the same address */
    peer_t *q = claimant(10, 1, "127.0.0.1:4000");
    cr_assert_eq(q, p, "the slot is reused");
    cr_assert_null(probe_done(&pr, &t, s, id, nonce), "the gone peer's proof verified another");
    cr_assert_eq(q->claim_state, PEER_CLAIM_WAIT);
    cr_assert_null(probe_done(&pr, &t, s, id, nonce), "a slot ended twice");
}

Test(probe, bounded_in_number_and_rate_one_at_a_time_an_address_youngest_first)
{
    char addr[32];
    /* 40 claims of 40 addresses, connected at times 0..39 */
    for (int i = 0; i < 40; i++) {
        snprintf(addr, sizeof addr, "127.0.0.1:%d", 5000 + i);
        claimant((uint64_t)i, (uint8_t)i, addr);
    }
    uint64_t now = 1000;
    int started = 0, s, slots[PROBE_MAX];
    while ((s = probe_next(&pr, &t, now)) >= 0)
        slots[started++] = s;
    cr_assert_eq(started, PROBE_MAX, "%d probes at once", started);
    /* the youngest first */
    cr_assert_str_eq(pr.slot[slots[0]].addr, "127.0.0.1:5039");
    cr_assert_str_eq(pr.slot[slots[PROBE_MAX - 1]].addr, "127.0.0.1:5032");
    for (int i = 0; i < PROBE_MAX; i++)
        (void)probe_done(&pr, &t, slots[i], NULL, NULL);
    /* the burst is PROBE_BURST; then PROBE_RATE a second */
    int burst = PROBE_MAX;
    while ((s = probe_next(&pr, &t, now)) >= 0) {
        (void)probe_done(&pr, &t, s, NULL, NULL);
        burst++;
    }
    cr_assert_eq(burst, PROBE_BURST, "%d probes in a burst", burst);
    int later = 0;
    while ((s = probe_next(&pr, &t, now + 1000)) >= 0) {
        (void)probe_done(&pr, &t, s, NULL, NULL);
        later++;
    }
    cr_assert_eq(later, PROBE_RATE, "%d probes in the next second", later);
}

Test(probe, one_address_is_dialled_once_at_a_time)
{
    peer_t *a = claimant(0, 1, "127.0.0.1:4000");
    peer_t *b = claimant(1, 2, "127.0.0.1:4000");
    int s = probe_next(&pr, &t, PROBE_DELAY_MS + 1);
    cr_assert_geq(s, 0);
    cr_assert_eq(b->claim_state, PEER_CLAIM_PROBING, "not the youngest first");
    cr_assert_eq(probe_next(&pr, &t, PROBE_DELAY_MS + 1), -1, "an address dialled twice at once");
    /* b's claim is another's (a's node answers with a's proof): b fails */
    cr_assert_null(probe_done(&pr, &t, s, a->node_id, a->challenge));
    cr_assert_eq(b->claim_state, PEER_CLAIM_FAILED);
    /* then a's turn, and a's own proof */
    s = probe_next(&pr, &t, PROBE_DELAY_MS + 1);
    cr_assert_geq(s, 0);
    cr_assert_eq(probe_done(&pr, &t, s, a->node_id, a->challenge), a);
}
