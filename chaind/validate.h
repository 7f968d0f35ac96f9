/* validate: the rules that need the UTXO set (DESIGN §3.2–3.4, §4.2), the
 * bounded signature cache, and the pool of threads that checks a block's
 * scripts in parallel and, ahead of them, the signatures of blocks about to
 * be connected. Shared by the mempool and block connection, so a
 * transaction is judged by one function wherever it arrives. */
#ifndef CHAIND_VALIDATE_H
#define CHAIND_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mp.h"
#include "script.h"
#include "store.h"
#include "tx.h"

/* --- signature cache --------------------------------------------------- */
typedef struct sigcache sigcache_t;

/* chaind's default bound: the inputs of some forty full blocks, far
 * more than the prefetched blocks (VPOOL_MAX_PREFETCH) need. */
#define SIGCACHE_DEFAULT_ENTRIES 200000

/* A cache of at most max_entries (0 counts as 1) verified (pubkey, sig,
 * sighash) triples. Thread-safe. NULL when memory runs out. */
sigcache_t *sigcache_new(size_t max_entries);
void sigcache_destroy(sigcache_t **c);
/* Verifies one signature, answering from the cache when it can; a valid
 * signature checked for the first time is remembered. */
bool sigcache_verify(sigcache_t *c, const uint8_t pubkey[KEY_PUBKEY_LEN],
                     const uint8_t sig[KEY_SIG_LEN], const hash32_t *sighash);
/* Hits and misses so far (for /metrics). */
void sigcache_stats(sigcache_t *c, uint64_t *hits, uint64_t *misses, size_t *entries);

/* --- script checks ----------------------------------------------------- */
/* One input's spend: scripts are borrowed from the caller's storage. */
typedef struct {
    const uint8_t *unlocking;
    size_t unlocking_len;
    const uint8_t *locking;
    size_t locking_len;
    hash32_t sighash;
    uint32_t tx_index, input_index; /* for the error message */
} script_job_t;

typedef struct vpool vpool_t;

/* A signature as a P2PKH input presents it: checkable before the coin it
 * spends is known, since the transaction alone gives all three parts. */
typedef struct {
    uint8_t pubkey[KEY_PUBKEY_LEN];
    uint8_t sig[KEY_SIG_LEN];
    hash32_t sighash;
} vpool_sig_t;

/* Whether input `in` of a transaction whose sighash is `sighash` presents a
 * P2PKH signature (40 <sig> 20 <pubkey>); if so, *out gets the triple. */
bool validate_input_sig(const tx_input_t *in, const hash32_t *sighash, vpool_sig_t *out);

/* Blocks whose signatures may wait in the pool at once (a bound on memory:
 * at most one block's inputs each). */
#define VPOOL_MAX_PREFETCH 8

/* A pool of threads (0: one per online CPU) checking scripts through cache
 * (may be NULL). NULL when threads cannot be started. */
vpool_t *vpool_new(unsigned threads, sigcache_t *cache);
/* Stops the threads; signatures still queued are dropped. */
void vpool_destroy(vpool_t **p);
unsigned vpool_threads(const vpool_t *p);
/* Queues the n signatures of block `id` to be checked in the background into
 * the cache, so that the block's script checks later hit it: they overlap
 * what the caller does meanwhile (storing the block, looking its coins up,
 * committing the block before it). Takes ownership of sigs (malloc'd) in
 * every case. Returns 0 when queued or queued lately, -1 when nothing is
 * gained (no cache, no threads) or VPOOL_MAX_PREFETCH blocks are waiting. */
int vpool_prefetch(vpool_t *p, const hash32_t *id, vpool_sig_t *sigs, size_t n);
/* Whether block id was queued lately (its signatures need no second pass). */
bool vpool_prefetched(vpool_t *p, const hash32_t *id);
/* Runs every job, spread over the pool and the calling thread, which first
 * helps with what is left of block `id`'s prefetched signatures (id may be
 * NULL); returns 0 when all pass, or the error of a failing one
 * (ERR_SCRIPT_FAILED naming tx and input). Blocks until done; one caller at a
 * time. */
int vpool_run(vpool_t *p, const hash32_t *id, const script_job_t *jobs, size_t n, err_t *e)
    __attribute__((warn_unused_result));
/* What vpool_run()'s caller spends its time on, for chain_phases(): the
 * block's prefetched signatures not yet taken, which it checks itself; the
 * script checks it runs (most hit the cache); waiting for the pool's threads
 * to finish the checks they took. */
typedef enum { VPOOL_HELPING, VPOOL_SCRIPTS, VPOOL_WAITING, VPOOL_PHASES } vpool_phase_t;
/* Makes vpool_run() add its caller's nanoseconds to ns[0..VPOOL_PHASES)
 * (borrowed; NULL: no timing, the default). Set it while no run is under
 * way. */
void vpool_set_timers(vpool_t *p, uint64_t *ns);
/* The same on the calling thread only (the mempool's single transactions). */
int validate_scripts(sigcache_t *cache, const script_job_t *jobs, size_t n, err_t *e)
    __attribute__((warn_unused_result));

/* --- inputs ------------------------------------------------------------ */
/* Where inputs are looked up: as store_get_coin(), 0 and the coin (script
 * borrowed), -ERR_NOT_FOUND, or another error with e set. */
typedef struct {
    int (*get)(void *ctx, const hash32_t *txid, uint32_t index, store_coin_t *coin, err_t *e);
    void *ctx;
} coin_view_t;

/* A view of the coins r holds (a snapshot or a write's reader), valid as
 * long as r is. */
void validate_store_view(coin_view_t *view, store_read_t *r);

/* Checks a non-coinbase transaction's inputs against view for a spend in a
 * block at `height`: every coin exists (ERR_UNKNOWN_UTXO), coinbase coins are
 * mature (ERR_IMMATURE_COINBASE), no coin and no sum of inputs passes max
 * money (ERR_BAD_AMOUNT), and the inputs cover the outputs
 * (ERR_INSUFFICIENT_FUNDS). *fee gets inputs - outputs. When jobs is set,
 * appends one script job per input at jobs[*n_jobs] (the caller sizes jobs
 * for every input it will check), its locking script copied into arena (so it outlives the view's borrowed bytes;
 * pointers are fixed up by validate_fix_jobs() once the arena stops growing). */
int validate_tx_inputs(const tx_t *tx, const coin_view_t *view, uint64_t height,
                       uint32_t maturity, amount_t *fee, const hash32_t *sighash,
                       uint32_t tx_index, script_job_t *jobs, size_t *n_jobs, mp_buf_t *arena,
                       err_t *e) __attribute__((warn_unused_result));
/* Points each job's locking script into the arena (they hold offsets until now). */
void validate_fix_jobs(script_job_t *jobs, size_t n, const mp_buf_t *arena);

#endif
