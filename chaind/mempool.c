#include "mempool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "clock.h"
#include "hex.h"
#include "hmap.h"
#include "store.h"

struct mempool {
    hmap_t *by_txid;  /* txid -> entry */
    hmap_t *spent;    /* outpoint -> entry spending it */
    size_t bytes, max_bytes, n_unbroadcast;
    uint64_t min_fee_rate, seq;
    void (*evicted)(void *ctx, const mempool_entry_t *x);
    void *evicted_ctx;
};

static const char file_magic[8] = "CHAINMP1";

mempool_t *mempool_new(size_t max_bytes, uint64_t min_fee_rate)
{
    mempool_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->by_txid = hmap_new(32);
    m->spent = hmap_new(STORE_OUTPOINT_LEN);
    m->max_bytes = max_bytes;
    m->min_fee_rate = min_fee_rate;
    if (!m->by_txid || !m->spent)
        mempool_destroy(&m);
    return m;
}

static void free_entry(mempool_entry_t *x)
{
    tx_free(&x->tx);
    free(x->raw);
    free(x);
}

void mempool_destroy(mempool_t **mp)
{
    mempool_t *m = *mp;
    if (!m)
        return;
    if (m->by_txid) {
        size_t pos = 0;
        const void *key;
        void *value;
        while (hmap_next(m->by_txid, &pos, &key, &value))
            free_entry(value);
    }
    hmap_destroy(&m->by_txid);
    hmap_destroy(&m->spent);
    free(m);
    *mp = NULL;
}

void mempool_set_evict_hook(mempool_t *m, void (*fn)(void *ctx, const mempool_entry_t *x),
                            void *ctx)
{
    m->evicted = fn;
    m->evicted_ctx = ctx;
}

size_t mempool_count(const mempool_t *m) { return hmap_count(m->by_txid); }
size_t mempool_unbroadcast_count(const mempool_t *m) { return m->n_unbroadcast; }
size_t mempool_bytes(const mempool_t *m) { return m->bytes; }
uint64_t mempool_min_fee_rate(const mempool_t *m) { return m->min_fee_rate; }

const mempool_entry_t *mempool_get(const mempool_t *m, const hash32_t *txid)
{
    return hmap_get(m->by_txid, txid->b);
}

const mempool_entry_t *mempool_spender(const mempool_t *m, const hash32_t *txid, uint32_t index)
{
    uint8_t key[STORE_OUTPOINT_LEN];
    store_outpoint_key(key, txid, index);
    return hmap_get(m->spent, key);
}

/* a pays a lower fee rate than b (fee/len compared without division) */
static bool lower_rate(const mempool_entry_t *a, const mempool_entry_t *b)
{
    unsigned __int128 x = (unsigned __int128)a->fee * b->len, y = (unsigned __int128)b->fee * a->len;
    return x < y || (x == y && a->seq > b->seq);
}

static void unlink_entry(mempool_t *m, mempool_entry_t *x)
{
    for (size_t i = 0; i < x->tx.n_inputs; i++) {
        uint8_t key[STORE_OUTPOINT_LEN];
        store_outpoint_key(key, &x->tx.inputs[i].prev_txid, x->tx.inputs[i].index);
        hmap_del(m->spent, key);
    }
    hmap_del(m->by_txid, x->txid.b);
    m->bytes -= x->len;
    m->n_unbroadcast -= (x->flags & STORE_MEMPOOL_UNBROADCAST) != 0;
    free_entry(x);
}

void mempool_remove(mempool_t *m, const hash32_t *txid)
{
    mempool_entry_t *x = hmap_get(m->by_txid, txid->b);
    if (x)
        unlink_entry(m, x);
}

/* a pays a strictly lower fee rate than b */
static bool strictly_lower_rate(const mempool_entry_t *a, const mempool_entry_t *b)
{
    return (unsigned __int128)a->fee * b->len < (unsigned __int128)b->fee * a->len;
}

static int by_rate_asc(const void *a, const void *b)
{
    const mempool_entry_t *x = *(mempool_entry_t *const *)a;
    const mempool_entry_t *y = *(mempool_entry_t *const *)b;
    return lower_rate(x, y) ? -1 : lower_rate(y, x) ? 1 : 0;
}

/* Evicts the lowest fee rates until x fits, all or nothing: ERR_MEMPOOL_FULL,
 * with the pool untouched, when x does not pay strictly more than every
 * entry that would have to go. */
static int make_room(mempool_t *m, const mempool_entry_t *x, err_t *e)
{
    size_t count = hmap_count(m->by_txid), n = 0, freed = 0;
    mempool_entry_t **all = malloc((count ? count : 1) * sizeof *all);
    if (!all)
        return err_set(e, ERR_INTERNAL, "out of memory");
    size_t pos = 0;
    const void *key;
    void *value;
    while (hmap_next(m->by_txid, &pos, &key, &value))
        all[n++] = value;
    qsort(all, n, sizeof *all, by_rate_asc);
    size_t k = 0;
    while (m->bytes - freed + x->len > m->max_bytes && k < n && strictly_lower_rate(all[k], x))
        freed += all[k++]->len;
    int rc = 0;
    if (m->bytes - freed + x->len > m->max_bytes)
        rc = err_set(e, ERR_MEMPOOL_FULL, "the mempool is full and this fee rate is too low");
    else
        for (size_t i = 0; i < k; i++) {
            if (m->evicted)
                m->evicted(m->evicted_ctx, all[i]);
            unlink_entry(m, all[i]);
        }
    free(all);
    return rc;
}

/* ERR_DUST when an output of tx is below TX_DUST_LIMIT (policy only: a
 * block may hold such outputs). */
static int no_dust(const tx_t *tx, err_t *e)
{
    for (size_t i = 0; i < tx->n_outputs; i++)
        if (tx->outputs[i].amount < TX_DUST_LIMIT)
            return err_set(e, ERR_DUST, "output %zu pays %" PRIu64 " units, below the dust "
                           "limit of %" PRIu64, i, (uint64_t)tx->outputs[i].amount,
                           (uint64_t)TX_DUST_LIMIT);
    return 0;
}

/* ERR_DOUBLE_SPEND when an input of tx is spent by a pooled transaction. */
static int spends_nothing_pooled(const mempool_t *m, const tx_t *tx, err_t *e)
{
    for (size_t i = 0; i < tx->n_inputs; i++) {
        const mempool_entry_t *other = mempool_spender(m, &tx->inputs[i].prev_txid,
                                                       tx->inputs[i].index);
        if (other) {
            char hex[65];
            hex_encode(hex, other->txid.b, 32);
            return err_set(e, ERR_DOUBLE_SPEND, "input %zu is already spent by mempool "
                           "transaction %s", i, hex);
        }
    }
    return 0;
}

int mempool_accept(mempool_t *m, const uint8_t *raw, size_t len, const coin_view_t *view,
                   uint64_t next_height, uint32_t maturity, sigcache_t *cache,
                   const mempool_meta_t *meta, hash32_t *txid, err_t *e)
{
    mempool_entry_t *x = calloc(1, sizeof *x);
    if (!x)
        return err_set(e, ERR_INTERNAL, "out of memory");
    int rc = tx_decode(&x->tx, raw, len, e);
    if (rc < 0) {
        free(x);
        return rc;
    }
    hash_sha256d(&x->txid, raw, len);
    *txid = x->txid;
    x->len = len;
    script_job_t *jobs = malloc(x->tx.n_inputs * sizeof *jobs);
    mp_buf_t arena;
    mp_buf_init(&arena, (size_t)64 << 20);
    size_t n_jobs = 0;
    hash32_t sighash;
    if (!jobs)
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    else if (hmap_get(m->by_txid, x->txid.b))
        rc = err_set(e, ERR_KNOWN, "the transaction is already in the mempool");
    else if ((rc = tx_check(&x->tx, NULL, e)) == 0 && tx_is_coinbase(&x->tx))
        rc = err_set(e, ERR_COINBASE_TX, "a coinbase is only valid in a block");
    if (rc == 0 && meta && meta->fresh)
        rc = no_dust(&x->tx, e);
    if (rc == 0)
        rc = spends_nothing_pooled(m, &x->tx, e);
    if (rc == 0 && tx_sighash(&x->tx, &sighash) < 0)
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    if (rc == 0)
        rc = validate_tx_inputs(&x->tx, view, next_height, maturity, &x->fee, &sighash, 0, jobs,
                                &n_jobs, &arena, e);
    if (rc == 0 && (unsigned __int128)x->fee < (unsigned __int128)m->min_fee_rate * len)
        rc = err_set(e, ERR_FEE_TOO_LOW, "fee %" PRIu64 " below %" PRIu64 " units a byte of its "
                     "%zu bytes (%" PRIu64 " needed)", x->fee, m->min_fee_rate, len,
                     (uint64_t)(m->min_fee_rate * len));
    if (rc == 0) {
        validate_fix_jobs(jobs, n_jobs, &arena);
        rc = validate_scripts(cache, jobs, n_jobs, e);
    }
    free(jobs);
    mp_buf_free(&arena);
    /* make room: evict lower fee rates, unless the newcomer pays no more than
     * what would have to go; nothing is evicted for a newcomer refused */
    if (rc == 0 && m->bytes + len > m->max_bytes)
        rc = make_room(m, x, e);
    if (rc == 0) {
        x->raw = malloc(len);
        if (!x->raw || hmap_put(m->by_txid, x->txid.b, x) < 0)
            rc = err_set(e, ERR_INTERNAL, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < x->tx.n_inputs; i++) {
        uint8_t key[STORE_OUTPOINT_LEN];
        store_outpoint_key(key, &x->tx.inputs[i].prev_txid, x->tx.inputs[i].index);
        if (hmap_put(m->spent, key, x) < 0) {
            for (size_t j = 0; j < i; j++) {
                store_outpoint_key(key, &x->tx.inputs[j].prev_txid, x->tx.inputs[j].index);
                hmap_del(m->spent, key);
            }
            hmap_del(m->by_txid, x->txid.b);
            rc = err_set(e, ERR_INTERNAL, "out of memory");
        }
    }
    if (rc < 0) {
        free_entry(x);
        return rc;
    }
    memcpy(x->raw, raw, len);
    x->seq = m->seq++;
    if (meta) {
        x->flags = meta->flags;
        x->arrival = meta->arrival;
    }
    m->n_unbroadcast += (x->flags & STORE_MEMPOOL_UNBROADCAST) != 0;
    m->bytes += len;
    return 0;
}

/* fn may unlink the entry it is given: the spenders are looked up afresh
 * for every input, so a gone one is not found again. */
static void each_block_spender(const mempool_t *m, const block_t *b,
                               void (*fn)(void *ctx, const mempool_entry_t *x), void *ctx)
{
    for (size_t i = 0; i < b->n_txs; i++)
        for (size_t j = 0; j < b->txs[i].n_inputs; j++) {
            const tx_input_t *in = &b->txs[i].inputs[j];
            const mempool_entry_t *x = mempool_spender(m, &in->prev_txid, in->index);
            if (x)
                fn(ctx, x);
        }
}

void mempool_block_spenders(const mempool_t *m, const block_t *b,
                            void (*fn)(void *ctx, const mempool_entry_t *x), void *ctx)
{
    each_block_spender(m, b, fn, ctx);
}

static void unlink_cb(void *ctx, const mempool_entry_t *x)
{
    unlink_entry(ctx, (mempool_entry_t *)x);
}

void mempool_remove_for_block(mempool_t *m, const block_t *b)
{
    /* a pooled transaction of b spends b's coins too: it goes as a spender */
    each_block_spender(m, b, unlink_cb, m);
}

bool mempool_set_flags(mempool_t *m, const hash32_t *txid, uint8_t flags)
{
    mempool_entry_t *x = hmap_get(m->by_txid, txid->b);
    if (!x)
        return false;
    m->n_unbroadcast -= (x->flags & STORE_MEMPOOL_UNBROADCAST) != 0;
    x->flags = flags;
    m->n_unbroadcast += (x->flags & STORE_MEMPOOL_UNBROADCAST) != 0;
    return true;
}

static int by_arrival(const void *a, const void *b)
{
    const mempool_entry_t *x = *(const mempool_entry_t *const *)a;
    const mempool_entry_t *y = *(const mempool_entry_t *const *)b;
    if (x->arrival != y->arrival)
        return x->arrival < y->arrival ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t mempool_unbroadcast_list(const mempool_t *m, hash32_t *out, size_t max)
{
    const mempool_entry_t **sel = malloc((m->n_unbroadcast ? m->n_unbroadcast : 1) * sizeof *sel);
    if (!sel)
        return 0;
    size_t pos = 0, n = 0;
    const void *key;
    void *value;
    while (n < m->n_unbroadcast && hmap_next(m->by_txid, &pos, &key, &value))
        if (((const mempool_entry_t *)value)->flags & STORE_MEMPOOL_UNBROADCAST)
            sel[n++] = value;
    qsort(sel, n, sizeof *sel, by_arrival);
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        out[i] = sel[i]->txid;
    free(sel);
    return n;
}

static int by_rate_desc(const void *a, const void *b)
{
    const mempool_entry_t *x = *(const mempool_entry_t *const *)a;
    const mempool_entry_t *y = *(const mempool_entry_t *const *)b;
    return lower_rate(y, x) ? -1 : lower_rate(x, y) ? 1 : 0;
}

int mempool_select(const mempool_t *m, size_t max_bytes, const mempool_entry_t ***out, size_t *n)
{
    size_t count = hmap_count(m->by_txid);
    const mempool_entry_t **all = malloc((count ? count : 1) * sizeof *all);
    if (!all)
        return -1;
    size_t pos = 0, k = 0;
    const void *key;
    void *value;
    while (hmap_next(m->by_txid, &pos, &key, &value))
        all[k++] = value;
    qsort(all, k, sizeof *all, by_rate_desc);
    size_t used = 0, kept = 0;
    for (size_t i = 0; i < k; i++) {
        if (all[i]->len > max_bytes - used)
            continue; /* a smaller one further down may still fit */
        used += all[i]->len;
        all[kept++] = all[i];
    }
    *out = all;
    *n = kept;
    return 0;
}

/* Restores the min-heap (the lowest rate at h[0]) below i. */
static void sift_down(const mempool_entry_t **h, size_t n, size_t i)
{
    for (;;) {
        size_t low = i, l = 2 * i + 1, r = l + 1;
        if (l < n && lower_rate(h[l], h[low]))
            low = l;
        if (r < n && lower_rate(h[r], h[low]))
            low = r;
        if (low == i)
            return;
        const mempool_entry_t *t = h[i];
        h[i] = h[low];
        h[low] = t;
        i = low;
    }
}

size_t mempool_best(const mempool_t *m, hash32_t *out, size_t max)
{
    size_t count = hmap_count(m->by_txid), cap = max < count ? max : count, n = 0;
    const mempool_entry_t **h = malloc((cap ? cap : 1) * sizeof *h);
    if (!h)
        return 0;
    size_t pos = 0;
    const void *key;
    void *value;
    while (cap && hmap_next(m->by_txid, &pos, &key, &value)) {
        const mempool_entry_t *x = value;
        if (n < cap) {
            h[n++] = x;
            for (size_t i = n / 2; n == cap && i-- > 0;) /* heapify once full */
                sift_down(h, n, i);
        } else if (lower_rate(h[0], x)) {
            h[0] = x;
            sift_down(h, n, 0);
        }
    }
    qsort(h, n, sizeof *h, by_rate_desc);
    for (size_t i = 0; i < n; i++)
        out[i] = h[i]->txid;
    free(h);
    return n;
}

int mempool_load(const char *path, size_t max_bytes,
                 void (*take)(void *ctx, const uint8_t *raw, size_t len), void *ctx, err_t *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? 0
                               : err_set(e, ERR_INTERNAL, "cannot read %s: %s", path,
                                         strerror(errno));
    char magic[sizeof file_magic];
    int rc = 0;
    uint8_t *buf = malloc(TX_MAX_SIZE);
    size_t total = 0;
    if (!buf)
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    else if (fread(magic, 1, sizeof magic, f) != sizeof magic ||
             memcmp(magic, file_magic, sizeof magic) != 0)
        rc = err_set(e, ERR_BAD_ENCODING, "%s is not a saved mempool", path);
    uint8_t len_bytes[4];
    while (rc == 0 && fread(len_bytes, 1, 4, f) == 4) {
        size_t len = (size_t)bytes_get_le(len_bytes, 4);
        if (len > TX_MAX_SIZE || fread(buf, 1, len, f) != len)
            rc = err_set(e, ERR_BAD_ENCODING, "%s is truncated or corrupt", path);
        else if ((total += len) <= max_bytes)
            take(ctx, buf, len);
    }
    free(buf);
    fclose(f);
    return rc;
}

const mempool_entry_t *mempool_next(const mempool_t *m, size_t *pos)
{
    const void *key;
    void *value;
    return hmap_next(m->by_txid, pos, &key, &value) ? value : NULL;
}
