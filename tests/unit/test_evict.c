/* evict.h: which inbound peer goes for a newcomer, table by table: the
 * unverified and those in their handshake first (the oldest of the lowest
 * kind), then, among verified peers, what protects one (distinct groups,
 * fast pings, recent transactions and blocks, age) and the youngest of the
 * largest group for the rest; and none when all are protected. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "evict.h"

static const uint8_t key[EVICT_KEY_LEN] = {1, 2, 3};

#define NOPING UINT64_MAX

typedef struct {
    evict_rank_t rank;
    const char *group;
    uint64_t connected, ping, tx, block;
} row_t;

/* The id (the row's index) evict_choose picks from rows, or -1. */
static long pick(const row_t *rows, size_t n)
{
    evict_candidate_t c[64];
    cr_assert_leq(n, 64);
    for (size_t i = 0; i < n; i++)
        c[i] = (evict_candidate_t){.id = (uint32_t)i, .rank = rows[i].rank,
                                   .group = rows[i].group, .connected_ms = rows[i].connected,
                                   .min_ping_ms = rows[i].ping, .last_tx_ms = rows[i].tx,
                                   .last_block_ms = rows[i].block};
    long k = evict_choose(c, n, key);
    return k < 0 ? -1 : (long)c[k].id;
}

Test(evict, the_unearned_go_first_the_oldest_of_the_lowest_kind)
{
    static const struct {
        const char *what;
        row_t rows[6];
        size_t n;
        long want;
    } cases[] = {
        {"a handshake before an unverified peer",
         {{EVICT_UNVERIFIED, "a", 1, 5, 0, 0}, {EVICT_HANDSHAKE, "b", 9, NOPING, 0, 0},
          {EVICT_VERIFIED, "c", 0, NOPING, 0, 0}}, 3, 1},
        {"the oldest handshake", {{EVICT_HANDSHAKE, "a", 7, NOPING, 0, 0},
          {EVICT_HANDSHAKE, "a", 3, NOPING, 0, 0}, {EVICT_HANDSHAKE, "a", 5, NOPING, 0, 0}},
         3, 1},
        {"unverified before a dial-back to come, whatever their ages",
         {{EVICT_CHECKING, "a", 1, 1, 0, 0}, {EVICT_UNVERIFIED, "b", 50, 1, 1, 1},
          {EVICT_VERIFIED, "c", 100, NOPING, 0, 0}}, 3, 1},
        {"the oldest still checking (the newest keeps its chance)",
         {{EVICT_CHECKING, "a", 20, 1, 0, 0}, {EVICT_CHECKING, "b", 10, 1, 0, 0},
          {EVICT_CHECKING, "c", 30, 1, 0, 0}, {EVICT_VERIFIED, "d", 0, NOPING, 0, 0}}, 4, 1},
        {"a fast, delivering unverified peer still goes before any verified one",
         {{EVICT_VERIFIED, "a", 50, NOPING, 0, 0}, {EVICT_UNVERIFIED, "b", 1, 1, 99, 99}}, 2,
         1},
        {"nobody", {{0}}, 0, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(pick(cases[i].rows, cases[i].n), cases[i].want, "%s", cases[i].what);
}

Test(evict, all_protected_means_no_eviction)
{
    /* four peers of four groups: each its group's protected peer */
    row_t rows[] = {{EVICT_VERIFIED, "a", 1, NOPING, 0, 0}, {EVICT_VERIFIED, "b", 2, NOPING, 0, 0},
                    {EVICT_VERIFIED, "c", 3, NOPING, 0, 0}, {EVICT_VERIFIED, "d", 4, NOPING, 0, 0}};
    cr_assert_eq(pick(rows, 4), -1, "a protected peer was evicted");
    /* one verified peer alone: its group's oldest */
    cr_assert_eq(pick(rows, 1), -1);
}

/* Twenty peers of one attacker group and four honest ones of four groups:
 * the attacker's youngest goes, whatever the honest ones lack. */
Test(evict, the_largest_group_loses_its_youngest)
{
    row_t rows[24];
    char groups[4][4] = {"h0", "h1", "h2", "h3"};
    for (int i = 0; i < 20; i++)
        rows[i] = (row_t){EVICT_VERIFIED, "attacker", (uint64_t)(1000 + i), NOPING, 0, 0};
    for (int i = 0; i < 4; i++)
        rows[20 + i] = (row_t){EVICT_VERIFIED, groups[i], (uint64_t)(2000 + i), NOPING, 0, 0};
    cr_assert_eq(pick(rows, 24), 19, "not the attacker's youngest");
    /* an honest peer is protected by its group, or stays as its group's only
     * member: even the youngest of all */
    rows[23].connected = 5000;
    cr_assert_eq(pick(rows, 24), 19);
}

Test(evict, pings_deliveries_and_age_protect)
{
    /* 30 peers of one group, ages 0..29 (29 the youngest) */
    row_t rows[30];
    for (int i = 0; i < 30; i++)
        rows[i] = (row_t){EVICT_VERIFIED, "g", (uint64_t)i, NOPING, 0, 0};
    /* one group: its protected peer is its oldest (0); of the 29 left the
     * older half (1..14) is protected; the youngest (29) goes */
    cr_assert_eq(pick(rows, 30), 29);
    /* the youngest with the fastest ping is protected: the next youngest goes */
    rows[29].ping = 3;
    cr_assert_eq(pick(rows, 30), 28);
    /* the next one delivered a transaction lately: protected too */
    rows[28].tx = 77;
    cr_assert_eq(pick(rows, 30), 27);
    rows[27].block = 5;
    cr_assert_eq(pick(rows, 30), 26);
    /* nine faster pings: only EVICT_PROTECT_PING of them are protected */
    for (int i = 15; i < 30; i++)
        rows[i] = (row_t){EVICT_VERIFIED, "g", (uint64_t)i, (uint64_t)(100 - i), 0, 0};
    /* pings 71..85 for ages 29..15: the 8 fastest are 22..29; the youngest
     * unprotected by ping is 21 */
    cr_assert_eq(pick(rows, 30), 21);
}

Test(evict, ties_between_groups_go_to_the_group_with_the_youngest)
{
    /* each group's oldest (10, 12) is protected, then the older half of the
     * rest (11, 13): one peer of each group is left */
    row_t rows[] = {
        {EVICT_VERIFIED, "x", 10, NOPING, 0, 0}, {EVICT_VERIFIED, "x", 11, NOPING, 0, 0},
        {EVICT_VERIFIED, "x", 30, NOPING, 0, 0}, {EVICT_VERIFIED, "y", 12, NOPING, 0, 0},
        {EVICT_VERIFIED, "y", 13, NOPING, 0, 0}, {EVICT_VERIFIED, "y", 31, NOPING, 0, 0},
    };
    cr_assert_eq(pick(rows, 6), 5, "y's youngest (31) is the youngest of all");
    rows[5].connected = 29;
    cr_assert_eq(pick(rows, 6), 2, "x's youngest (30) is the youngest of all");
}
