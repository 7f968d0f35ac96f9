#include "evict.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

/* The sorts below put the peers most worth keeping last: protecting k of
 * them is cutting them off the end of the unprotected range c[0..m). */

static int older_first(const evict_candidate_t *a, const evict_candidate_t *b)
{
    if (a->connected_ms != b->connected_ms)
        return a->connected_ms < b->connected_ms ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int by_age(const void *x, const void *y) /* youngest first, oldest last */
{
    return -older_first(x, y);
}

static int by_ping(const void *x, const void *y) /* slowest first */
{
    const evict_candidate_t *a = x, *b = y;
    if (a->min_ping_ms != b->min_ping_ms)
        return a->min_ping_ms > b->min_ping_ms ? -1 : 1;
    return by_age(x, y);
}

static int by_tx(const void *x, const void *y) /* longest since a transaction first */
{
    const evict_candidate_t *a = x, *b = y;
    if (a->last_tx_ms != b->last_tx_ms)
        return a->last_tx_ms < b->last_tx_ms ? -1 : 1;
    return by_age(x, y);
}

static int by_block(const void *x, const void *y)
{
    const evict_candidate_t *a = x, *b = y;
    if (a->last_block_ms != b->last_block_ms)
        return a->last_block_ms < b->last_block_ms ? -1 : 1;
    return by_age(x, y);
}

static bool has_ping(const evict_candidate_t *c) { return c->min_ping_ms != UINT64_MAX; }
static bool has_tx(const evict_candidate_t *c) { return c->last_tx_ms != 0; }
static bool has_block(const evict_candidate_t *c) { return c->last_block_ms != 0; }

/* Protects the last k of c[0..m) once sorted by cmp, those that pass worth
 * (NULL: all). */
static size_t protect(evict_candidate_t *c, size_t m, int (*cmp)(const void *, const void *),
                      size_t k, bool (*worth)(const evict_candidate_t *))
{
    qsort(c, m, sizeof *c, cmp);
    while (k > 0 && m > 0 && (!worth || worth(&c[m - 1]))) {
        m--;
        k--;
    }
    return m;
}

static int by_group_key(const void *x, const void *y) /* then each group's oldest first */
{
    const evict_candidate_t *a = x, *b = y;
    if (a->group_key != b->group_key)
        return a->group_key < b->group_key ? -1 : 1;
    int g = strcmp(a->group, b->group);
    return g ? g : older_first(a, b);
}

static uint64_t keyed(const uint8_t key[EVICT_KEY_LEN], const char *group)
{
    uint8_t buf[EVICT_KEY_LEN + 256], out[32];
    size_t len = strnlen(group, sizeof buf - EVICT_KEY_LEN);
    memcpy(buf, key, EVICT_KEY_LEN);
    memcpy(buf + EVICT_KEY_LEN, group, len);
    hash_sha256(out, buf, EVICT_KEY_LEN + len);
    uint64_t v;
    memcpy(&v, out, sizeof v);
    return v;
}

/* The oldest peer of each of the first EVICT_PROTECT_GROUPS groups in the
 * keyed order. */
static size_t protect_groups(evict_candidate_t *c, size_t m)
{
    size_t pick[EVICT_PROTECT_GROUPS], k = 0;
    qsort(c, m, sizeof *c, by_group_key);
    for (size_t i = 0; i < m && k < EVICT_PROTECT_GROUPS; i++)
        if (i == 0 || strcmp(c[i].group, c[i - 1].group) != 0)
            pick[k++] = i;
    /* highest first: what is swapped in from the end is never a pick */
    while (k-- > 0) {
        evict_candidate_t t = c[pick[k]];
        c[pick[k]] = c[m - 1];
        c[m - 1] = t;
        m--;
    }
    return m;
}

static int by_group(const void *x, const void *y) /* each group's youngest last */
{
    const evict_candidate_t *a = x, *b = y;
    int g = strcmp(a->group, b->group);
    return g ? g : older_first(a, b);
}

/* The youngest of the group with the most peers in c[0..m), m > 0. */
static long youngest_of_largest(evict_candidate_t *c, size_t m)
{
    qsort(c, m, sizeof *c, by_group);
    size_t best = 0, best_n = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j + 1 < m && strcmp(c[j + 1].group, c[i].group) == 0)
            j++;
        size_t count = j - i + 1; /* c[j]: the run's youngest */
        if (count > best_n || (count == best_n && older_first(&c[best], &c[j]) < 0)) {
            best = j;
            best_n = count;
        }
        i = j + 1;
    }
    return (long)best;
}

long evict_choose(evict_candidate_t *c, size_t n, const uint8_t key[EVICT_KEY_LEN])
{
    long first = -1;
    for (size_t i = 0; i < n; i++) {
        const evict_candidate_t *x = &c[i], *f = first < 0 ? NULL : &c[first];
        if (x->rank < EVICT_VERIFIED &&
            (!f || x->rank < f->rank || (x->rank == f->rank && older_first(x, f) < 0)))
            first = (long)i;
    }
    if (first >= 0 || n == 0)
        return first;
    for (size_t i = 0; i < n; i++)
        c[i].group_key = keyed(key, c[i].group);
    size_t m = protect_groups(c, n);
    m = protect(c, m, by_ping, EVICT_PROTECT_PING, has_ping);
    m = protect(c, m, by_tx, EVICT_PROTECT_TX, has_tx);
    m = protect(c, m, by_block, EVICT_PROTECT_BLOCK, has_block);
    m = protect(c, m, by_age, m / 2, NULL);
    return m == 0 ? -1 : youngest_of_largest(c, m);
}
