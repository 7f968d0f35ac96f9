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
/* A block as jsonfmt_block (its header with "height") plus "main_chain". */
json_t *views_block(const block_t *b, uint64_t height, bool main_chain);
/* {"hash", "height", "main_chain", "hex": the block's encoding}. */
json_t *views_block_hex(const hash32_t *hash, uint64_t height, bool main_chain,
                        const uint8_t *raw, size_t len);
/* A main-chain transaction (jsonfmt_tx) with "block_hash", "height" and
 * "confirmations" (tip_height - its height + 1). */
json_t *views_chain_tx(const tx_t *tx, const hash32_t *txid, const store_tx_loc_t *loc,
                       uint64_t tip_height);
/* A mempool transaction with "in_mempool": true, "confirmations": 0. */
json_t *views_mempool_tx(const tx_t *tx, const hash32_t *txid);
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
/* gossipd's peer report (a msgpack array of maps, as node_peers_copy gives
 * it; len 0 for none) as [{"hostname", "height", "inbound"}...]; maps
 * without "addr" are left out, as is anything after a malformed element. */
json_t *views_peers(const uint8_t *raw, size_t len);
/* The /status answer: {"network", "height", "tip", "tip_timestamp", "bits",
 * "difficulty", "chainwork", "mempool_size", "mempool_bytes", "peers",
 * "hashrate", "orphans", "version"}. */
json_t *views_status(const node_status_t *s, const chain_params_t *p, const char *version);

#endif
