/* jsonfmt: the JSON form of transactions, headers and blocks (DESIGN §4.3),
 * one implementation for the HTTP API and chain-cli.
 *
 * Builders return a new jansson reference the caller owns (json_decref), or
 * NULL when memory runs out or an amount is over 2^63 - 1 (JSON integers
 * are int64 here; no valid amount is near: max money is far below). */
#ifndef CHAIN_JSONFMT_H
#define CHAIN_JSONFMT_H

#include <jansson.h>
#include <stdint.h>

#include "block.h"
#include "err.h"
#include "hash.h"
#include "mp.h"
#include "tx.h"

/* {"version", "inputs", "outputs"}, plus "transaction_hash" when txid is set. */
json_t *jsonfmt_tx(const tx_t *tx, const hash32_t *txid);
/* {"version", "previous_block_hash", "merkle_root", "timestamp", "bits",
 * "nonce" (16 hex digits), "hash"}, plus "height" when height >= 0. */
json_t *jsonfmt_header(const block_header_t *h, int64_t height);
/* {"header": {...}, "transactions": [...]}; b->txids must be filled. */
json_t *jsonfmt_block(const block_t *b, int64_t height);

/* Builds a transaction from its JSON form ("version" may be left out: 1).
 * On success *tx is owned by the caller (tx_free). ERR_BAD_REQUEST names a
 * missing or mistyped field; ERR_BAD_SCRIPT a script that does not parse. */
int jsonfmt_parse_tx(tx_t *tx, const json_t *j, err_t *e) __attribute__((warn_unused_result));

/* Builds a header from its JSON form (jsonfmt_header's): "nonce" as 16 hex
 * digits or an integer, "version" 1 when left out, "height" ignored, "hash"
 * (if given) must match. ERR_BAD_REQUEST names a missing or mistyped
 * field. */
int jsonfmt_parse_header(block_header_t *h, const json_t *j, err_t *e)
    __attribute__((warn_unused_result));
/* Encodes a block from its JSON form, {"header": {...}, "transactions":
 * [...]} (the header's fields may also sit beside "transactions"), into out,
 * which this initialises (at most BLOCK_MAX_SIZE bytes) and the caller frees
 * whatever the result. The bytes are not checked as a block: that is the
 * chain's job. Errors as jsonfmt_parse_header and jsonfmt_parse_tx (naming
 * the transaction), ERR_TOO_LARGE past BLOCK_MAX_SIZE. */
int jsonfmt_parse_block(mp_buf_t *out, const json_t *j, err_t *e)
    __attribute__((warn_unused_result));

/* A script as ASM (DESIGN §3.3), a JSON string. */
json_t *jsonfmt_script(const uint8_t *s, size_t len);

/* An unsigned count as a JSON integer: jansson's are int64, so a count
 * above 2^63 - 1 shows as 2^63 - 1, never negative. */
json_int_t jsonfmt_count(uint64_t v);

/* Lowercase hex of a hash, NUL-terminated. */
void jsonfmt_hash_hex(char out[65], const hash32_t *h);

#endif
