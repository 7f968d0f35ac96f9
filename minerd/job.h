/* job: a mining job from chaind (DESIGN §4.4), decoded strictly, and the
 * work a miner builds from it: its own coinbase (payout, height, extranonce)
 * and the 88-byte header template whose merkle root commits to it — the same
 * bytes chaind's node_submit_work() rebuilds from a submission.
 *
 * A job arrives as a msgpack map, as the `job` event or the get_job reply:
 *   {job_id, height, previous_block_hash: bin32, bits, timestamp,
 *    coinbase_value, merkle_branch: [bin32], tx_count}
 * chaind is trusted to mean well but not to be bug-free or to be chaind:
 * anything malformed is rejected with a reason, never a crash. */
#ifndef MINERD_JOB_H
#define MINERD_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amount.h"
#include "block.h"
#include "err.h"
#include "hash.h"
#include "merkle.h"
#include "params.h"
#include "proto.h"
#include "script.h"
#include "tx.h"

/* The demo network's default payout: the address of deploy/demo-keys/miner.pem
 * (pubkey hash 030e4d4eea0611b51c115b92d169abe541d17621), computed once so
 * that nothing is read from disk at run time. */
#define JOB_DEMO_PAYOUT "CGk3jLSxzK9n5Crha33zzFWvuhYLHUfhaa"

/* The extranonce: 8 random bytes a process, then a 4-byte counter (LE). */
#define JOB_EXTRANONCE_RANDOM 8
#define JOB_EXTRANONCE_LEN (JOB_EXTRANONCE_RANDOM + 4)

typedef struct {
    uint64_t job_id;
    uint64_t height;
    hash32_t previous_block_hash;
    uint32_t bits;
    uint64_t timestamp;
    amount_t coinbase_value;
    hash32_t merkle_branch[MERKLE_MAX_BRANCH];
    size_t branch_len;
    uint64_t tx_count; /* transactions besides the coinbase */
} job_t;

/* One job made concrete for this miner: what the threads grind and what a
 * submission names. A plain value. */
typedef struct {
    uint64_t job_id;
    uint64_t height;
    uint32_t bits;
    uint64_t timestamp;
    uint8_t extranonce[JOB_EXTRANONCE_LEN];
    hash32_t coinbase_txid;
    uint8_t header[BLOCK_HEADER_LEN]; /* nonce bytes zero */
} job_work_t;

/* Decodes a job from a validated body map (an event's or a reply's). Every
 * field must be present with its kind: unsigned integers, bits within 32 bits
 * and a valid compact target no easier than the network's limit, coinbase
 * value at most max money, previous_block_hash and each branch entry bin of
 * exactly 32 bytes, and a branch exactly as long as the merkle tree of
 * tx_count + 1 leaves is high. ERR_BAD_REQUEST naming the field otherwise;
 * *job is then unspecified. */
int job_decode(job_t *job, const proto_body_t *body, const chain_params_t *params, err_t *e)
    __attribute__((warn_unused_result));

/* The coinbase of job paying payout, with extranonce (at most
 * TX_EXTRANONCE_MAX bytes), into caller storage: script (capacity
 * TX_COINBASE_SCRIPT_MAX) and lock (the P2PKH locking script) back the
 * returned tx's input and output, which live in *in and *out. As chaind
 * builds it: one input (the height push, then the extranonce push), one
 * output of coinbase_value. */
void job_coinbase(tx_t *coinbase, tx_input_t *in, tx_output_t *out,
                  uint8_t script[TX_COINBASE_SCRIPT_MAX], uint8_t lock[SCRIPT_P2PKH_LOCK_LEN],
                  const job_t *job,
                  const hash20_t *payout, const uint8_t *extranonce, size_t extranonce_len);

/* Builds the work for job, payout and extranonce (JOB_EXTRANONCE_LEN bytes):
 * the coinbase's txid, the merkle root from it and the branch, and the header
 * (version 1, the job's previous hash, bits and timestamp, nonce 0).
 * -1 only when memory for the coinbase's encoding cannot be had. */
int job_make_work(job_work_t *work, const job_t *job, const hash20_t *payout,
                  const uint8_t extranonce[JOB_EXTRANONCE_LEN]) __attribute__((warn_unused_result));

/* The extranonce of the n-th job of a process with these random bytes. */
void job_extranonce(uint8_t out[JOB_EXTRANONCE_LEN],
                    const uint8_t random[JOB_EXTRANONCE_RANDOM], uint32_t n);

#endif
