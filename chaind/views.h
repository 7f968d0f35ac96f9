/* views: the JSON the HTTP API shows of chain objects (DESIGN §4.3; the
 * fields are listed with the routes in http.h), built from values the
 * caller has read: nothing here reads the store or takes the node's lock.
 *
 * Each builder returns a new jansson reference the caller owns
 * (json_decref), or NULL when memory runs out (or, for a transaction, an
 * amount is past JSON's int64). Integers past 2^63 - 1 show as 2^63 - 1. */
#ifndef CHAIND_VIEWS_H
#define CHAIND_VIEWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amount.h"
#include "block.h"
#include "hash.h"
#include "node.h"
#include "params.h"
#include "store.h"
#include "tx.h"

/* A hash as 64 lowercase hex digits. */
json_t *views_hash(const hash32_t *h);
/* Where a block stands, as /block/<id> and /block/<id>/txs show it. */
typedef struct {
    uint64_t height;
    bool main_chain;
    size_t size;       /* bytes of its encoding */
    bool has_next;     /* next: the main chain's block above it */
    hash32_t next;
} views_block_meta_t;

/* A block as jsonfmt_block (its header with "height") plus "main_chain",
 * "size", "tx_count" and "next_block_hash" (null at the tip or off the
 * main chain). */
json_t *views_block(const block_t *b, const views_block_meta_t *m);
/* A page of a block's transactions: {"header" (with "height"), "hash",
 * "height", "main_chain", "size", "tx_count", "next_block_hash", "offset",
 * "transactions": txs (views_tx objects; the reference is taken, even on
 * failure)}. */
json_t *views_block_txs(const block_header_t *h, const hash32_t *hash, size_t tx_count,
                        const views_block_meta_t *m, size_t offset, json_t *txs);
/* A summary of a main-chain block: {"height", "hash", "timestamp",
 * "tx_count", "size", "bits", "difficulty"}. */
json_t *views_block_summary(const block_header_t *h, const hash32_t *hash, uint64_t height,
                            const store_block_info_t *info, const chain_params_t *p);
/* {"blocks": summaries (taken), "next": the height to page on from, or null
 * when has_next is false}. */
json_t *views_blocks_page(json_t *blocks, bool has_next, uint64_t next);
/* {"hash", "height", "main_chain", "hex": the block's encoding}. */
json_t *views_block_hex(const hash32_t *hash, uint64_t height, bool main_chain,
                        const uint8_t *raw, size_t len);
/* Who spends an output. */
typedef struct {
    bool spent;      /* false: unspent (or unknown: see views_tx) */
    bool in_mempool; /* spent by a mempool transaction, not a confirmed one */
    hash32_t txid;
    uint32_t input;
} views_spender_t;
/* A transaction with what it spent and who spent what it made: jsonfmt_tx
 * plus "size" (bytes of its encoding), "coinbase", "fee" and "fee_rate"
 * (units a byte); each input with "spent_output" {"address" (null unless
 * P2PKH), "amount", "locking_script"} from coins[i]; each output with
 * "address" and "spent_by" {"transaction_hash", "input_index",
 * "in_mempool"} from spenders[j], null when not spent. coins NULL: the
 * spent coins are unknown (a block off the main chain keeps no undo
 * record), so every spent_output, fee and fee_rate is null, as they are
 * for a coinbase. */
json_t *views_tx(const tx_t *tx, const hash32_t *txid, size_t size, const store_coin_t *coins,
                 const views_spender_t *spenders, uint8_t address_version);
/* A views_tx object (taken) of a main-chain transaction, with "in_mempool":
 * false, "block_hash", "height" and "confirmations" (tip_height - its
 * height + 1). */
json_t *views_chain_tx(json_t *tx, const store_tx_loc_t *loc, uint64_t tip_height);
/* A views_tx object (taken) of a pending transaction, with "in_mempool":
 * true and "confirmations": 0, and "parked": true when it waits for a
 * parent to confirm (chaind/parking.h). */
json_t *views_mempool_tx(json_t *tx, bool parked);
/* One coin of /utxo: {"transaction_hash", "output_index", "amount",
 * "height", "coinbase"}, plus "spent_in_mempool": true when it is. */
json_t *views_coin(const store_outpoint_t *op, const store_coin_t *c, bool spent_in_mempool);
/* The /utxo answer: {"user" (as given), "address", "total", "utxos": coins
 * (a JSON array; the reference is taken, even on failure), and
 * "truncated": true when the list was cut}. */
json_t *views_utxo(const char *user, const char *address, amount_t total, json_t *coins,
                   bool truncated);
/* {"height", "tip", "count", "total", "digest"} of a UTXO set at a tip. */
json_t *views_utxo_set(uint64_t height, const hash32_t *tip, const store_utxo_stats_t *st);
/* [{"transaction_hash", "size", "fee", "fee_rate"}...] in the given order,
 * with "unbroadcast": true on those in the unbroadcast set. */
json_t *views_mempool(const node_mempool_item_t *items, size_t n);
/* {"count", "bytes", "buckets": [{"fee_rate_min": edges[i], "fee_rate_max":
 * edges[i + 1] or null for the last, "count", "bytes"}...]}. */
json_t *views_histogram(const uint64_t *edges, size_t n, const uint64_t *count,
                        const uint64_t *bytes);
/* {"transactions": [{"transaction_hash", "size", "fee", "fee_rate",
 * "time"}...]} in the given order. */
json_t *views_recent(const node_mempool_item_t *items, size_t n);
/* One transaction of an address's history: {"transaction_hash", "height",
 * "block_hash", "timestamp" (the block's; all three null when block is NULL:
 * in the mempool), "received", "sent"}. */
json_t *views_address_tx(const hash32_t *txid, amount_t received, amount_t sent,
                         const hash32_t *block, uint64_t height, uint64_t timestamp);
/* {"address", "transactions": txs (taken), "next_cursor": cursor or null}. */
json_t *views_address_page(const char *address, json_t *txs, const char *cursor);
/* {"query", "kind": kind or null, "id": what names it (a hash or the
 * address) or null, "height": a block's or null}. */
json_t *views_search(const char *query, const char *kind, const char *id,
                     const uint64_t *height);
/* gossipd's peer report (a msgpack array of maps, as node_peers_copy gives
 * it; len 0 for none) as [{"hostname", "height", "inbound"}...]; maps
 * without "addr" are left out, as is anything after a malformed element. */
json_t *views_peers(const uint8_t *raw, size_t len);
/* The /status answer: {"network", "height", "tip", "tip_timestamp", "bits",
 * "difficulty", "chainwork", "mempool_size", "mempool_bytes", "peers",
 * "hashrate", "orphans", "version"}. */
json_t *views_status(const node_status_t *s, const chain_params_t *p, const char *version);

#endif
