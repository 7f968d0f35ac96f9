/* jobs: chaind's mining jobs (DESIGN §4.4, docs/PROTOCOL.md "Mining jobs"):
 * a job's assembly from the tip and the mempool, the last JOBS_KEPT of them,
 * their msgpack body, and the block a miner's solution makes of one.
 *
 * A jobs_t is a plain struct the caller owns (jobs_init, jobs_free); entries
 * it hands out stay valid until the next jobs_make() or jobs_free(). Not
 * thread-safe: the node's lock serialises calls. */
#ifndef CHAIND_JOBS_H
#define CHAIND_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "amount.h"
#include "chain.h"
#include "err.h"
#include "hash.h"
#include "mempool.h"
#include "merkle.h"
#include "mp.h"

#define JOBS_KEPT 8              /* recent jobs a found block may belong to */
#define JOBS_FIELDS 8            /* key/value pairs jobs_put_pairs() writes */
#define JOBS_COINBASE_RESERVE 1000 /* block bytes kept for header and coinbase */

typedef struct {
    uint64_t id;
    uint64_t height;
    hash32_t prev;
    uint32_t bits;
    uint64_t timestamp;
    amount_t coinbase_value;
    hash32_t branch[MERKLE_MAX_BRANCH];
    int branch_len;
    size_t n_txs;
    uint8_t **raws; /* copies: the mempool may drop them before a block is found */
    size_t *lens;
} jobs_entry_t;

typedef struct {
    jobs_entry_t ring[JOBS_KEPT]; /* job id % JOBS_KEPT; id 0 in a slot never used */
    uint64_t next_id;
} jobs_t;

void jobs_init(jobs_t *j);
/* Frees every job's copies; j can be used again after jobs_init. */
void jobs_free(jobs_t *j);

/* Makes the next job on c's tip: the mempool's best transactions by fee
 * rate that fit a block beside the coinbase, the subsidy plus their fees,
 * the bits due, a timestamp of now (or just after the median time, when
 * that is later). Evicts the oldest job. -1 when memory runs out (no job
 * made, the others kept). */
int jobs_make(jobs_t *j, const chain_t *c, const mempool_t *m, uint64_t now)
    __attribute__((warn_unused_result));
/* The job made last, or NULL before the first. */
const jobs_entry_t *jobs_current(const jobs_t *j);
/* Job id if it is still kept, else NULL. */
const jobs_entry_t *jobs_find(const jobs_t *j, uint64_t id);

/* Appends a job's JOBS_FIELDS key/value pairs (job_id, height,
 * previous_block_hash, bits, timestamp, coinbase_value, merkle_branch,
 * tx_count) into a map the caller has opened: the get_job reply and the
 * `job` event share them. */
void jobs_put_pairs(const jobs_entry_t *job, mp_buf_t *out);

/* The block a miner's solution makes of job: the coinbase exactly as the
 * miner built it (tx_coinbase_build: height, extranonce, one output paying
 * the job's value to payout), the merkle root from the job's branch, the
 * header with timestamp and nonce, then the job's transactions. Appends the
 * block's encoding to out (the caller's, at least BLOCK_MAX_SIZE of room)
 * and sets *hash. ERR_BAD_REQUEST for an extranonce over
 * TX_EXTRANONCE_MAX bytes, ERR_BAD_POW when the hash misses the job's
 * target (checked before anything is assembled), ERR_TOO_LARGE when the
 * block does not fit, ERR_INTERNAL when memory runs out. */
int jobs_assemble(const jobs_entry_t *job, const uint8_t *extranonce, size_t extranonce_len,
                  const hash20_t *payout, uint64_t timestamp, uint64_t nonce, mp_buf_t *out,
                  hash32_t *hash, err_t *e) __attribute__((warn_unused_result));

#endif
