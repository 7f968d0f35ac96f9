/* chain: the block tree and the main chain (DESIGN §3.4, §4.1).
 *
 * Keeps the whole block index in memory (hash -> entry, loaded at open), the
 * main chain by height, a bounded pool of orphans (blocks whose parent is not
 * known yet), and the LMDB store. Every block that arrives is checked; one
 * with more cumulative work than the tip triggers a reorganisation:
 * disconnect to the fork, then connect the new branch, each step one store
 * write. If a block of the new branch fails, it is marked invalid
 * and the old branch is restored.
 *
 * Not thread-safe: chaind's node layer serialises calls. Store snapshots on
 * other threads (store_read_begin on chain_store()) see each committed step
 * without taking any lock. */
#ifndef CHAIND_CHAIN_H
#define CHAIND_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "err.h"
#include "params.h"
#include "store.h"
#include "u256.h"
#include "validate.h"

#define CHAIN_MAX_ORPHANS 64
#define CHAIN_MAX_ORPHAN_BYTES (16u << 20)
#define CHAIN_MAX_FORK_DEPTH 1000  /* deeper forks than this are refused */
#define CHAIN_MAX_SIDE_BLOCKS 5000 /* blocks off the main chain kept at most */
#define CHAIN_MAX_FUTURE 7200      /* seconds a timestamp may be ahead (2 h) */
/* Blocks a reader of a stream (the rpc loop) prefetches ahead of the one it
 * submits: enough to keep the checks of the next block going while one
 * commits; the pool's queue (VPOOL_MAX_PREFETCH) holds them all. */
#define CHAIN_PREFETCH_WINDOW 4
/* Prefetched blocks kept decoded (with a copy of their bytes) until their
 * submission, so that it decodes and checks them no second time: as many as
 * the pool queues (VPOOL_MAX_PREFETCH), the oldest dropped first. */
#define CHAIN_MAX_DECODED_AHEAD 8

typedef struct chain_entry {
    hash32_t hash;
    block_header_t header;
    uint64_t height;
    u256_t chainwork;
    uint8_t status; /* STORE_VALID, STORE_INVALID */
    struct chain_entry *parent;
} chain_entry_t;

typedef enum { CHAIN_TIP, CHAIN_SIDE, CHAIN_ORPHAN, CHAIN_KNOWN } chain_status_t;

/* Called as blocks join or leave the main chain, with the decoded block.
 * connected and disconnected run after the block's write commits: the
 * mempool follows the chain through these. writing (may be NULL) runs
 * inside that write, after the block's own changes and before the commit,
 * so that what it writes in w (records of other tables, such as a durable
 * mempool's) commits with the block or not at all; connect says which step
 * it is. It returns 0, or an error that aborts the step, which then fails as
 * the store's failure (ERR_INTERNAL), never as a verdict on the block. */
typedef struct {
    void (*connected)(void *ctx, const block_t *b, const chain_entry_t *entry);
    void (*disconnected)(void *ctx, const block_t *b, const chain_entry_t *entry);
    int (*writing)(void *ctx, store_write_t *w, const block_t *b, const chain_entry_t *entry,
                   bool connect, err_t *e);
    void *ctx;
} chain_hooks_t;

typedef struct chain chain_t;

/* Opens the store in datadir (map_size bytes of address space), creating the
 * genesis block on first use, loading the index, and finishing any
 * reorganisation that a crash interrupted. threads: script-check threads
 * (0: one per CPU). cache may be NULL. hooks (copied; may be NULL) are set
 * before that reorganisation is finished, so its steps run them too. */
int chain_open(chain_t **c, const chain_params_t *params, const char *datadir, size_t map_size,
               unsigned threads, sigcache_t *cache, const chain_hooks_t *hooks, err_t *e)
    __attribute__((warn_unused_result));
void chain_close(chain_t **c);
void chain_set_hooks(chain_t *c, const chain_hooks_t *hooks);

const chain_params_t *chain_params(const chain_t *c);
store_t *chain_store(chain_t *c);
const chain_entry_t *chain_tip(const chain_t *c);
/* The main-chain entry at height, or NULL above the tip. */
const chain_entry_t *chain_at(const chain_t *c, uint64_t height);
/* Any known block (main chain or side), or NULL. */
const chain_entry_t *chain_lookup(const chain_t *c, const hash32_t *hash);
bool chain_is_main(const chain_t *c, const chain_entry_t *entry);
/* Median timestamp of entry and its ten predecessors. */
uint64_t chain_median_time(const chain_entry_t *entry);
/* The bits a child of parent must carry. */
uint32_t chain_next_bits(const chain_t *c, const chain_entry_t *parent);
size_t chain_orphan_count(const chain_t *c);

/* Takes a block's encoding (from a peer, a miner or HTTP). On success *status
 * says where it went and *hash is its hash; a rejection returns the reason's
 * code. Orphans waiting for this block are processed after it. `now` is the
 * local time for the future-timestamp rule. */
int chain_submit_block(chain_t *c, const uint8_t *data, size_t len, uint64_t now,
                       chain_status_t *status, hash32_t *hash, err_t *e)
    __attribute__((warn_unused_result));

/* Starts checking the signatures of a block expected next, one of a stream
 * handed over in order (a sync's blocks waiting in the rpc socket), so that
 * they are checked while the blocks before it are connected. Only a block
 * that decodes, passes the checks needing no context, carries the bits the
 * tip's child must (proof of work at the current difficulty: nobody gets
 * signature checks for free) and builds on the tip or on `after` (the block
 * prefetched before it; may be NULL) is taken. Sets *hash
 * when the block decodes. Returns 0 when the block is next in line (its
 * signatures are queued, unless the pool's queue is full), so that the
 * stream's following block may name it as `after`; a negative code when it
 * is not, which is no verdict: the block's submission gives that. */
int chain_prefetch(chain_t *c, const uint8_t *data, size_t len, const hash32_t *after,
                   hash32_t *hash);
/* Of the blocks taken, the last CHAIN_MAX_DECODED_AHEAD stay decoded: a
 * submission of the very same bytes reuses that decoding and its checks. */

/* --- phases: where connecting blocks spends its time (bench_validate
 * --phases) ---------------------------------------------------------------
 * Each counter sums the nanoseconds the calling thread (the one that submits
 * and prefetches) spent in that phase since chain_phases_enable(): the pool's
 * own threads are not counted, only what the caller does or waits for, so
 * the phases never overlap and add up to at most the caller's wall time (the
 * rest: header rules, allocation, hooks). Off by default: then no clock is
 * read. */
typedef enum {
    CHAIN_PHASE_DECODE,      /* block_decode, txids included; both of a prefetched block */
    CHAIN_PHASE_CHECK,       /* block_check: context-free rules, the merkle root */
    CHAIN_PHASE_SIGHASH,     /* sighashes, and the signatures queued on the pool */
    CHAIN_PHASE_STORE_BLOCK, /* the block's bytes: in its connect's write, a side block's own */
    CHAIN_PHASE_COINS,       /* coin lookups and the input rules (validate_tx_inputs) */
    CHAIN_PHASE_COIN_WRITES, /* spends (with their undo) and new outputs */
    CHAIN_PHASE_SIG_HELP,    /* the block's prefetched signatures still queued, checked here */
    CHAIN_PHASE_SCRIPTS,     /* script checks on this thread */
    CHAIN_PHASE_POOL_WAIT,   /* waiting for the pool's threads to end theirs */
    CHAIN_PHASE_UNDO,        /* the undo record, the main chain's and tip's records */
    CHAIN_PHASE_INDEXES,     /* transaction index, explorer indexes, the block's index record */
    CHAIN_PHASE_COMMIT,      /* the connect's commit, with its sync */
    CHAIN_PHASES
} chain_phase_t;

typedef struct {
    uint64_t ns[CHAIN_PHASES];
    uint64_t blocks, txs; /* connected (disconnects are not counted) */
} chain_phases_t;

/* Starts (on, from zero) or stops timing the phases. */
void chain_phases_enable(chain_t *c, bool on);
/* The counters so far (all zero when never enabled). */
void chain_phases(const chain_t *c, chain_phases_t *out);
/* A phase's name for a table ("decode", ...). */
const char *chain_phase_name(chain_phase_t p);

/* Headers of the main chain after the first locator hash found on it (the
 * genesis when none is), at most max. *out (owned by the caller, free()) holds
 * *n headers of BLOCK_HEADER_LEN bytes. */
int chain_headers_after(const chain_t *c, const hash32_t *locator, size_t n_locator, size_t max,
                        uint8_t **out, size_t *n) __attribute__((warn_unused_result));

#endif
