/* mempool: transactions waiting for a block (DESIGN §4.2).
 *
 * Policy: a transaction spends confirmed coins only (an output still in the
 * mempool is not spendable yet); fee = inputs - outputs must be at least
 * min_fee_rate units a byte of its encoding; no two transactions spend one
 * output (ERR_DOUBLE_SPEND); the pool holds at most max_bytes of encodings, and
 * when full a newcomer evicts the lowest fee rates or, paying no more than
 * they do, is refused (ERR_MEMPOOL_FULL). A new submission (meta->fresh)
 * with an output below TX_DUST_LIMIT is ERR_DUST; one acknowledged before
 * (a stored record, a disconnected block's) is never refused for dust, so a
 * higher limit never loses an acknowledged payment.
 *
 * The pool lives in memory; its durable copy is the store's mempool table,
 * which the node keeps in step (chaind/journal.h). An entry carries that
 * record's flags and arrival time.
 *
 * Not thread-safe: chaind's node layer serialises calls. Entries are owned by
 * the pool; pointers to them stay valid until the next call that changes it. */
#ifndef CHAIND_MEMPOOL_H
#define CHAIND_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "err.h"
#include "tx.h"
#include "validate.h"

#define MEMPOOL_DEFAULT_MAX_BYTES (64u << 20)
#define MEMPOOL_DEFAULT_MIN_FEE_RATE 10 /* units a byte: DESIGN §4.3 */

typedef struct {
    hash32_t txid;
    uint8_t *raw; /* the canonical encoding */
    size_t len;
    tx_t tx;
    amount_t fee;
    uint64_t seq;     /* arrival order in this process */
    uint64_t arrival; /* unix seconds, kept across restarts */
    uint8_t flags;    /* STORE_MEMPOOL_UNBROADCAST (store.h) */
} mempool_entry_t;

/* What an admission records beside the transaction (its store record's). */
typedef struct {
    uint8_t flags;
    uint64_t arrival;
    bool fresh; /* a new submission: the dust rule applies (policy, not recorded) */
} mempool_meta_t;

typedef struct mempool mempool_t;

mempool_t *mempool_new(size_t max_bytes, uint64_t min_fee_rate);
void mempool_destroy(mempool_t **m);

/* fn(ctx, entry) runs for each entry evicted to make room for a newcomer,
 * just before it goes (so the node can drop its record too). */
void mempool_set_evict_hook(mempool_t *m, void (*fn)(void *ctx, const mempool_entry_t *x),
                            void *ctx);

/* Decodes, checks and admits a transaction: the context-free rules, the
 * inputs against view for a spend at next_height, the scripts (through
 * cache), then the pool's policy. meta (NULL: no flags, arrival 0) is kept
 * in the entry. *txid is set as soon as the encoding decodes (so a
 * rejection can name it). */
int mempool_accept(mempool_t *m, const uint8_t *raw, size_t len, const coin_view_t *view,
                   uint64_t next_height, uint32_t maturity, sigcache_t *cache,
                   const mempool_meta_t *meta, hash32_t *txid, err_t *e)
    __attribute__((warn_unused_result));

/* Calls fn(ctx, entry) for each pooled transaction that spends a coin one of
 * b's transactions spends: b's own (when pooled) and its conflicts, all that
 * connecting b takes out. An entry may come twice. */
void mempool_block_spenders(const mempool_t *m, const block_t *b,
                            void (*fn)(void *ctx, const mempool_entry_t *x), void *ctx);
/* Drops what a connected block confirmed, and whatever spent the same coins
 * (mempool_block_spenders). */
void mempool_remove_for_block(mempool_t *m, const block_t *b);
/* Drops one transaction (no-op when absent). */
void mempool_remove(mempool_t *m, const hash32_t *txid);

const mempool_entry_t *mempool_get(const mempool_t *m, const hash32_t *txid);
/* The transaction that spends an outpoint, or NULL. */
const mempool_entry_t *mempool_spender(const mempool_t *m, const hash32_t *txid, uint32_t index);
size_t mempool_count(const mempool_t *m);
size_t mempool_bytes(const mempool_t *m);
uint64_t mempool_min_fee_rate(const mempool_t *m);

/* Sets an entry's flags: false when txid is not pooled. */
bool mempool_set_flags(mempool_t *m, const hash32_t *txid, uint8_t flags);
/* Entries with STORE_MEMPOOL_UNBROADCAST set. */
size_t mempool_unbroadcast_count(const mempool_t *m);
/* The txids of those entries, oldest arrival first, at most max into out
 * (the caller's): how many were written (0 also when memory ran out). */
size_t mempool_unbroadcast_list(const mempool_t *m, hash32_t *out, size_t max);

/* The entries by fee rate, highest first, that fit together in max_bytes.
 * *out is a malloc'd array (the caller frees it, not the entries); *n its
 * length. -1 when memory runs out. */
int mempool_select(const mempool_t *m, size_t max_bytes, const mempool_entry_t ***out, size_t *n)
    __attribute__((warn_unused_result));

/* The txids of the best max entries by fee rate, highest first, into out
 * (the caller's): how many. One pass with a heap of max (O(n log max), no
 * copy of the pool), for what is asked of it on every peer connection; 0
 * also when memory runs out. */
size_t mempool_best(const mempool_t *m, hash32_t *out, size_t max);

/* Every entry, in no order: *pos starts at 0; NULL after the last. The
 * pool must not change between the calls. */
const mempool_entry_t *mempool_next(const mempool_t *m, size_t *pos);

/* Reads a pool saved by an older chaind (<datadir>/mempool.dat: "CHAINMP1",
 * then for each transaction its length, 4 LE, and its encoding): calls
 * take(ctx, raw, len) for each one so the caller can admit it against
 * today's chain, up to max_bytes of them. A missing file is not an error; a
 * corrupt one is (ERR_BAD_ENCODING) after the good prefix. */
int mempool_load(const char *path, size_t max_bytes,
                 void (*take)(void *ctx, const uint8_t *raw, size_t len), void *ctx, err_t *e)
    __attribute__((warn_unused_result));

#endif
