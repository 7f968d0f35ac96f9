/* node: chaind's state behind one lock — the chain, the mempool, mining jobs,
 * the peer table gossipd reports, miners' hash rates — and the events it
 * publishes. The HTTP server's threads and the rpc loop both call these
 * functions; each takes the lock itself. Store reads (blocks, coins, the
 * transaction and address indexes) need no lock: open a snapshot on
 * node_store() (store_read_begin).
 *
 * Events (DESIGN §2), published through the publisher set with
 * node_set_publisher(), one msgpack map per event, "seq" first:
 *   block     {hash: bin32, height: uint, origin: str}  a block joined the main chain
 *   tx        {txid: bin32, origin: str}                 a transaction entered the mempool
 *   job       a mining job (see node_job_body())
 *   peer.add  {hostname: str}                            POST /new_node_advertisement */
#ifndef CHAIND_NODE_H
#define CHAIND_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "err.h"
#include "jobs.h"
#include "mempool.h"
#include "mp.h"
#include "params.h"
#include "store.h"

typedef struct {
    const chain_params_t *params;
    const char *datadir;
    size_t map_size;          /* the store's address space (store_open) */
    unsigned verify_threads;  /* 0: one per CPU */
    size_t mempool_max_bytes;
    uint64_t min_fee_rate;    /* units a byte */
    size_t sigcache_entries;
} node_config_t;

typedef struct node node_t;

/* Publishes one event; called with the node's lock held, from any thread.
 * body is a complete msgpack map (with "seq"). */
typedef void (*node_publish_fn)(void *ctx, const char *topic, const uint8_t *body, size_t len);

/* Opens the chain in cfg->datadir and reloads the mempool saved there. */
int node_open(node_t **n, const node_config_t *cfg, err_t *e) __attribute__((warn_unused_result));
/* Saves the mempool, closes the store, frees everything; *n becomes NULL. */
void node_close(node_t **n);
void node_set_publisher(node_t *n, node_publish_fn fn, void *ctx);

const chain_params_t *node_params(const node_t *n);
store_t *node_store(node_t *n);

typedef struct {
    uint64_t height;
    hash32_t hash;
    u256_t chainwork;
    uint32_t bits;
    uint64_t timestamp;
    size_t mempool_count, mempool_bytes;
    size_t peers;
    uint64_t hashrate; /* hashes a second, summed over reporting miners (saturating) */
    size_t orphans;
    uint64_t sigcache_hits, sigcache_misses;
    size_t sigcache_entries;
} node_status_t;

void node_status(node_t *n, node_status_t *s);

/* A transaction from HTTP ("http"), a peer ("peer:<addr>") or a file. */
int node_submit_tx(node_t *n, const uint8_t *raw, size_t len, const char *origin, hash32_t *txid,
                   err_t *e) __attribute__((warn_unused_result));
/* Starts checking the signatures of a block that is to be submitted soon
 * (chain_prefetch()); 0 when taken, a negative code (no verdict) if not. */
int node_prefetch_block(node_t *n, const uint8_t *raw, size_t len, const hash32_t *after,
                        hash32_t *hash);
/* A block; *status and *hash as chain_submit_block(). */
int node_submit_block(node_t *n, const uint8_t *raw, size_t len, const char *origin,
                      chain_status_t *status, hash32_t *hash, err_t *e)
    __attribute__((warn_unused_result));

/* Main-chain headers after the first locator hash on the main chain, at most
 * max; as chain_headers_after(). */
int node_headers_after(node_t *n, const hash32_t *locator, size_t n_locator, size_t max,
                       uint8_t **out, size_t *count) __attribute__((warn_unused_result));

/* Mempool queries. node_mempool_tx copies the encoding of a mempool
 * transaction into *raw (malloc'd, the caller frees): 0, or -1 when absent. */
int node_mempool_tx(node_t *n, const hash32_t *txid, uint8_t **raw, size_t *len);
typedef struct {
    hash32_t txid;
    size_t size; /* bytes of its encoding */
    amount_t fee;
} node_mempool_item_t;
/* The mempool by fee rate, highest first, into items (the caller's, max of
 * them): returns how many were written (0 also when memory ran out). */
size_t node_mempool_list(node_t *n, node_mempool_item_t *items, size_t max);
/* Whether a mempool transaction spends txid:index. */
bool node_mempool_spends(node_t *n, const hash32_t *txid, uint32_t index);

/* Mining (DESIGN §4.4). node_job_body appends the current job as
 * NODE_JOB_FIELDS key/value pairs into a map the caller has opened (the same
 * pairs serve the get_job reply and the `job` event): job_id, height,
 * previous_block_hash, bits, timestamp, coinbase_value, merkle_branch,
 * tx_count (jobs_put_pairs). A new job is made when the tip or the mempool
 * changed. */
#define NODE_JOB_FIELDS JOBS_FIELDS
int node_job_body(node_t *n, mp_buf_t *out) __attribute__((warn_unused_result));
/* Assembles (jobs_assemble: its errors) and submits the block a miner found
 * for job_id, kept among the last JOBS_KEPT jobs (else ERR_NOT_FOUND). */
int node_submit_work(node_t *n, uint64_t job_id, const uint8_t *extranonce, size_t extranonce_len,
                     const hash20_t *payout, uint64_t timestamp, uint64_t nonce, hash32_t *hash,
                     err_t *e) __attribute__((warn_unused_result));
/* Called by the event loop about every 100 ms: publishes a job when the
 * mempool changed (at most once a second). */
void node_tick(node_t *n, uint64_t now_ms);

/* Miners report their rate; entries older than 2 minutes stop counting. */
void node_report_hashrate(node_t *n, const char *worker, uint64_t hashes_per_second,
                          uint64_t now);

/* gossipd's peer table (raw msgpack array of maps, copied). */
void node_set_peers(node_t *n, const uint8_t *peers, size_t len, size_t count);
/* A copy of the last report as set (*raw malloc'd, the caller frees; *len
 * 0 before any report): 0, or -1 when memory runs out. */
int node_peers_copy(node_t *n, uint8_t **raw, size_t *len) __attribute__((warn_unused_result));
/* Publishes peer.add {hostname} for gossipd. */
void node_advertise_peer(node_t *n, const char *hostname);

#endif
