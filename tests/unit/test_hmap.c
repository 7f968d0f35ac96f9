/* hmap.h: put, get and delete; replacement; growth; iteration; the deletion
 * rules (backward shift keeps every other key findable); and keys of every
 * length the map takes, including keys that differ in one byte only, which
 * must each be hashed and compared in full. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

#define MAX_KEY 64

/* Key i of length len: a fixed pattern with i written at offset `at`
 * (little-endian, as far as the key has room), so keys that share all but
 * a few bytes — the outpoints of one transaction — are the common case. */
static void make_key(uint8_t *key, size_t len, size_t at, size_t i)
{
    for (size_t k = 0; k < len; k++)
        key[k] = (uint8_t)(0xa5 ^ k);
    for (size_t k = 0; at + k < len && k < sizeof i; k++)
        key[at + k] ^= (uint8_t)(i >> (8 * k));
}

/* How many distinct keys make_key gives for len and at (capped at want). */
static size_t distinct(size_t len, size_t at, size_t want)
{
    size_t room = len - at, n = 1;
    for (size_t k = 0; k < room && k < sizeof(size_t) && n < want; k++)
        n = n > want / 256 ? want : n * 256;
    return n < want ? n : want;
}

/* Puts keys 0..n, values &slots[i]; checks each as it goes. */
static void fill(hmap_t *m, size_t len, size_t at, size_t n, int *slots)
{
    uint8_t key[MAX_KEY];
    for (size_t i = 0; i < n; i++) {
        make_key(key, len, at, i);
        cr_assert_null(hmap_get(m, key), "len %zu: key %zu present before its put", len, i);
        cr_assert_eq(hmap_put(m, key, &slots[i]), 0);
        cr_assert_eq(hmap_get(m, key), &slots[i], "len %zu: key %zu lost at once", len, i);
        cr_assert_eq(hmap_count(m), i + 1);
    }
}

static void assert_all(const hmap_t *m, size_t len, size_t at, size_t n, int *slots,
                       const bool *gone)
{
    uint8_t key[MAX_KEY];
    for (size_t i = 0; i < n; i++) {
        make_key(key, len, at, i);
        void *want = gone && gone[i] ? NULL : &slots[i];
        cr_assert_eq(hmap_get(m, key), want, "len %zu at %zu: key %zu %s", len, at, i,
                     want ? "not found or wrong value" : "found after its deletion");
    }
}

Test(hmap, every_key_length)
{
    /* the lengths around SipHash's 8-byte words, a txid, an outpoint, the max;
     * the varying bytes at the start and at the very end of the key */
    static const size_t lens[] = {1, 2, 7, 8, 9, 15, 16, 17, 32, 36, 63, 64};
    static int slots[1000];
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        size_t len = lens[l];
        const size_t ats[] = {0, len > 2 ? len - 2 : 0, len - 1};
        for (size_t a = 0; a < 3; a++) {
            size_t n = distinct(len, ats[a], 1000);
            hmap_t *m = hmap_new(len);
            cr_assert_not_null(m);
            fill(m, len, ats[a], n, slots);
            assert_all(m, len, ats[a], n, slots, NULL);
            hmap_destroy(&m);
            cr_assert_null(m);
        }
    }
}

Test(hmap, replacement_keeps_one_entry)
{
    hmap_t *m = hmap_new(32);
    uint8_t key[32] = {1, 2, 3};
    int a, b;
    cr_assert_eq(hmap_put(m, key, &a), 0);
    cr_assert_eq(hmap_put(m, key, &b), 0);
    cr_assert_eq(hmap_count(m), 1);
    cr_assert_eq(hmap_get(m, key), &b);
    cr_assert_eq(hmap_del(m, key), &b);
    cr_assert_null(hmap_get(m, key));
    cr_assert_eq(hmap_count(m), 0);
    hmap_destroy(&m);
}

Test(hmap, grows_past_many_doublings)
{
    enum { N = 200000 };
    int *slots = calloc(N, sizeof *slots);
    hmap_t *m = hmap_new(36);
    cr_assert(slots && m);
    fill(m, 36, 32, N, slots); /* outpoints: one txid, N indexes */
    assert_all(m, 36, 32, N, slots, NULL);
    hmap_destroy(&m);
    free(slots);
}

/* Iterates m, which holds keys 0..n of slots: each exactly once. */
static void assert_iteration(const hmap_t *m, size_t n, int *slots, unsigned *visits)
{
    memset(visits, 0, n * sizeof *visits);
    size_t pos = 0, seen = 0;
    const void *k;
    void *v;
    while (hmap_next(m, &pos, &k, &v)) {
        size_t i = (size_t)((int *)v - slots);
        cr_assert_lt(i, n, "a value that was never put");
        uint8_t want[32];
        make_key(want, 32, 0, i);
        cr_assert_arr_eq(k, want, 32, "entry %zu yields another key", i);
        visits[i]++;
        seen++;
    }
    cr_assert_eq(seen, n, "%zu entries: iteration yields %zu", n, seen);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(visits[i], 1, "%zu entries: key %zu visited %u times", n, i, visits[i]);
    cr_assert_not(hmap_next(m, &pos, &k, &v), "the end is sticky");
}

Test(hmap, iteration_visits_each_once)
{
    /* after every put while the map is small (so every slot, the first and
     * the last included, is filled at some point), then when it is large */
    enum { N = 5000, SMALL = 300 };
    static int slots[N];
    static unsigned visits[N];
    hmap_t *m = hmap_new(32);
    assert_iteration(m, 0, slots, visits);
    uint8_t key[32];
    for (size_t i = 0; i < N; i++) {
        make_key(key, 32, 0, i);
        cr_assert_eq(hmap_put(m, key, &slots[i]), 0);
        if (i < SMALL)
            assert_iteration(m, i + 1, slots, visits);
    }
    assert_iteration(m, N, slots, visits);
    hmap_destroy(&m);
}

Test(hmap, deletion_keeps_the_rest_findable)
{
    /* a small map in heavy use: long probe runs, so each deletion shifts
     * entries back; after every one, all the others are still found */
    enum { N = 3000 };
    static int slots[N];
    static bool gone[N];
    hmap_t *m = hmap_new(36);
    fill(m, 36, 32, N, slots);
    uint8_t key[36];
    /* a fixed shuffled order (an LCG walk over N, N prime to 7919) */
    for (size_t s = 0; s < N; s++) {
        size_t i = (s * 7919) % N;
        make_key(key, 36, 32, i);
        cr_assert_eq(hmap_del(m, key), &slots[i], "deleting key %zu", i);
        cr_assert_null(hmap_del(m, key), "key %zu deleted twice", i);
        gone[i] = true;
        cr_assert_eq(hmap_count(m), N - s - 1);
        if (s % 97 == 0 || s > N - 50)
            assert_all(m, 36, 32, N, slots, gone);
    }
    /* deleting what was never there changes nothing */
    make_key(key, 36, 32, N + 1);
    cr_assert_null(hmap_del(m, key));
    cr_assert_eq(hmap_count(m), 0);
    /* and the map is usable again */
    fill(m, 36, 32, 100, slots);
    hmap_destroy(&m);
}

Test(hmap, delete_while_iterating_by_restarting)
{
    /* the rule of hmap.h: deleting moves entries, so restart from 0 */
    enum { N = 1000 };
    static int slots[N];
    hmap_t *m = hmap_new(8);
    fill(m, 8, 0, N, slots);
    size_t deleted = 0, pos = 0;
    const void *k;
    void *v;
    while (hmap_next(m, &pos, &k, &v)) {
        if (((int *)v - slots) % 2 == 0) {
            uint8_t copy[8];
            memcpy(copy, k, sizeof copy);
            cr_assert_eq(hmap_del(m, copy), v);
            deleted++;
            pos = 0;
        }
    }
    cr_assert_eq(deleted, N / 2);
    cr_assert_eq(hmap_count(m), N / 2);
    uint8_t key[8];
    for (size_t i = 0; i < N; i++) {
        make_key(key, 8, 0, i);
        cr_assert_eq(hmap_get(m, key), i % 2 ? &slots[i] : NULL, "key %zu", i);
    }
    hmap_destroy(&m);
}

Test(hmap, destroy_null_is_safe)
{
    hmap_t *m = NULL;
    hmap_destroy(&m);
    cr_assert_null(m);
}
