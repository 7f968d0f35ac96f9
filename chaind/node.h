/* node: chaind's state behind one lock — the chain, the mempool, mining jobs,
 * the peer table gossipd reports, miners' hash rates — and the events it
 * publishes. The HTTP server's threads and the rpc loop both call these
 * functions; each takes the lock itself. Store reads (blocks, coins, the
 * transaction and address indexes) need no lock: open a snapshot on
 * node_store() (store_read_begin).
 *
 * Durability (DESIGN §4.1). The mempool is kept in memory, the fast index,
 * and in the store's mempool table, its durable copy (chaind/journal.h): an
 * admission changes the memory under the lock and queues the table's
 * change, getting a ticket; a submitter answers ok only once
 * node_durable() >= its ticket (node_wait_durable(), or a callback from
 * node_subscribe_durable() for one that must not block), and then asks
 * node_settle_tx() whether the transaction is still pending or confirmed
 * (a block may have spent its coins in between). A block's connect or
 * disconnect moves its transactions out of the table or back in its own
 * write. At open, every record is revalidated against the tip.
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
#include "journal.h"
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
    size_t journal_max_ops;   /* the mempool journal's bound (0: JOURNAL_DEFAULT_MAX_OPS) */
    bool phases;              /* time node_submit_tx's phases, the journal's, the chain's */
} node_config_t;

/* Where node_submit_tx's time goes (cfg.phases; see phase.h): nanoseconds
 * summed over every submission, on the submitting threads, in order. */
typedef enum {
    NODE_PHASE_DECODE,    /* decoding, for the checks before the lock */
    NODE_PHASE_SIGNATURES, /* the signature checks before the lock (sighash, coins, verify) */
    NODE_PHASE_LOCK_WAIT, /* waiting for the node's lock */
    NODE_PHASE_ACCEPT,    /* the mempool's admission and the journal's queueing, locked */
    NODE_PHASE_DURABLE,   /* a put queued until durable (the journal's put_wait_ns) */
    NODE_PHASES
} node_phase_t;

typedef struct {
    bool on;
    uint64_t ns[NODE_PHASES];
    uint64_t txs;     /* submissions timed (NODE_PHASE_DURABLE: journal.puts_timed) */
    journal_stats_t journal;
} node_phases_t;

/* A phase's name, a Prometheus label value ("decode", ...). */
const char *node_phase_name(node_phase_t p);

typedef struct node node_t;

/* Publishes one event; called with the node's lock held, from any thread.
 * body is a complete msgpack map (with "seq"). */
typedef void (*node_publish_fn)(void *ctx, const char *topic, const uint8_t *body, size_t len);

/* Opens the chain in cfg->datadir and the mempool recorded there: every
 * record is admitted again against the tip (origin "store"); one no longer
 * valid is dropped, with one log line naming the rule (after 20, a count
 * for the rest), and so is one that does not decode; a table that cannot be
 * read is emptied. A legacy <datadir>/mempool.dat is imported once (origin
 * "saved", durably) and removed. None of these stop the node from opening. */
int node_open(node_t **n, const node_config_t *cfg, err_t *e) __attribute__((warn_unused_result));
/* Makes what is queued durable, closes the store, frees everything; *n
 * becomes NULL. No one may be waiting on it. */
void node_close(node_t **n);
void node_set_publisher(node_t *n, node_publish_fn fn, void *ctx);
/* A second receiver of every event, called like the publisher and after it
 * (the HTTP server's event streams); NULL stops it. Once this returns, the
 * old one is called no more. */
void node_set_listener(node_t *n, node_publish_fn fn, void *ctx);

const chain_params_t *node_params(const node_t *n);
store_t *node_store(node_t *n);

typedef struct {
    uint64_t height;
    hash32_t hash;
    u256_t chainwork;
    uint32_t bits;
    uint64_t timestamp;
    size_t mempool_count, mempool_bytes;
    size_t mempool_unbroadcast;
    size_t mempool_parked; /* acknowledged, waiting for a parent to confirm (parking.h) */
    journal_stats_t journal; /* the mempool table's group commits */
    size_t peers;
    uint64_t hashrate; /* hashes a second, summed over reporting miners (saturating) */
    size_t orphans;
    uint64_t sigcache_hits, sigcache_misses;
    size_t sigcache_entries;
    node_phases_t phases; /* all 0 unless cfg.phases */
} node_status_t;

void node_status(node_t *n, node_status_t *s);
/* The phase counters so far (no lock taken). */
void node_phases(node_t *n, node_phases_t *out);

/* A transaction from HTTP ("http"), a peer ("peer:<addr>") or a file, with
 * its record's flags (STORE_MEMPOOL_UNBROADCAST for what a user submitted
 * here). 0 when admitted: *ticket covers its record (and the drops of what
 * it evicted), to wait for before saying ok. ERR_KNOWN when already pending: *ticket is set too, since the first
 * submission's record may still be on its way. ERR_MEMPOOL_FULL also when
 * the journal is full (busy: retry). Other rejections set *ticket to 0. */
int node_submit_tx(node_t *n, const uint8_t *raw, size_t len, const char *origin, uint8_t flags,
                   hash32_t *txid, uint64_t *ticket, err_t *e) __attribute__((warn_unused_result));
/* Every ticket up to this one is durable. */
uint64_t node_durable(node_t *n);
/* Waits until node_durable(n) >= ticket (about one group commit). */
void node_wait_durable(node_t *n, uint64_t ticket);
/* fn(ctx, durable) runs on the journal's thread each time durable moves
 * (it must not block nor call back into the node): a handle for
 * node_unsubscribe_durable(), or -1 when no slot is free. */
int node_subscribe_durable(node_t *n, journal_notify_fn fn, void *ctx);
void node_unsubscribe_durable(node_t *n, int handle);
/* After the wait: 0 when txid is pending or confirmed, the answer a
 * submitter may give; ERR_DOUBLE_SPEND when it left the mempool before its
 * record was durable (a block spent one of its coins, or higher fee rates
 * evicted it). */
int node_settle_tx(node_t *n, const hash32_t *txid, err_t *e) __attribute__((warn_unused_result));
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

/* Mempool queries. node_mempool_tx copies the encoding of a pending
 * transaction, pooled or parked, into *raw (malloc'd, the caller frees),
 * with *parked (unless NULL) saying which: 0, or -1 when absent. */
int node_mempool_tx(node_t *n, const hash32_t *txid, uint8_t **raw, size_t *len, bool *parked);
typedef struct {
    hash32_t txid;
    size_t size; /* bytes of its encoding */
    amount_t fee;
    bool unbroadcast;
    uint64_t time; /* unix seconds of its admission */
} node_mempool_item_t;
/* The mempool by fee rate, highest first, into items (the caller's, max of
 * them): returns how many were written (0 also when memory ran out). */
size_t node_mempool_list(node_t *n, node_mempool_item_t *items, size_t max);
/* Whether a mempool transaction spends txid:index. */
bool node_mempool_spends(node_t *n, const hash32_t *txid, uint32_t index);
/* The mempool transaction spending txid:index and its input index: 0, or -1
 * when none does. */
int node_mempool_spender(node_t *n, const hash32_t *txid, uint32_t index, hash32_t *spender,
                         uint32_t *input);
/* The latest arrivals still in the mempool, newest first, into items (the
 * caller's, max of them, max <= NODE_RECENT_MAX): how many. One pass over
 * the pool. */
#define NODE_RECENT_MAX 1000
size_t node_mempool_recent(node_t *n, node_mempool_item_t *items, size_t max);
/* The mempool by fee rate: bucket i of n_edges counts the transactions (and
 * sums the bytes) whose fee rate is at least edges[i] units a byte and below
 * edges[i + 1] (the last bucket has no upper edge; edges ascend, edges[0] is
 * 0). One pass over the pool. */
void node_mempool_histogram(node_t *n, const uint64_t *edges, size_t n_edges, uint64_t *count,
                            uint64_t *bytes);
/* What mempool transactions did to an address. */
typedef struct {
    hash32_t txid;
    uint64_t seq;      /* its arrival order: larger is newer */
    amount_t received; /* its outputs to the address */
    amount_t sent;     /* the address's coins it spends */
} node_address_tx_t;
/* The mempool transactions that pay pkh or spend one of coins[0..n_coins)
 * (the address's confirmed coins, with their amounts), that arrived before
 * before_seq, newest first, into out (max of them): how many; *more says
 * whether others follow. One pass over the pool and a lookup a coin. 0
 * also when memory runs out. */
size_t node_mempool_address(node_t *n, const hash20_t *pkh, const store_outpoint_t *coins,
                            const amount_t *amounts, size_t n_coins, uint64_t before_seq,
                            node_address_tx_t *out, size_t max, bool *more);

/* The unbroadcast set (as Bitcoin Core's): transactions submitted here that
 * no peer has asked for yet, kept in their records across restarts; they
 * leave it when announced, confirmed or evicted. node_unbroadcast writes at
 * most max (NODE_UNBROADCAST_MAX is what a caller should ask for at most)
 * txids into the caller's txids, oldest first, and returns how many.
 * node_mark_broadcast takes txids (at most NODE_UNBROADCAST_MAX) out of the
 * set, through the journal: 0 with *ticket (of the last change queued; 0
 * when none was needed), or ERR_MEMPOOL_FULL (busy) with the first ones
 * done. A txid not pooled or not in the set is no error. */
#define NODE_UNBROADCAST_MAX 1000
size_t node_unbroadcast(node_t *n, hash32_t *txids, size_t max);
int node_mark_broadcast(node_t *n, const hash32_t *txids, size_t count, uint64_t *ticket,
                        err_t *e) __attribute__((warn_unused_result));

/* What a peer that was away should hear of: at most max pooled txids,
 * highest fee rate first, into the caller's txids; how many (0 also when
 * memory runs out). */
size_t node_mempool_txids(node_t *n, hash32_t *txids, size_t max);

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
