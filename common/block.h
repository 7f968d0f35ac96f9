/* block: the 88-byte header and the block encoding (DESIGN §3.4), block hash,
 * proof of work against the header's bits, and the context-free block rules.
 *
 * A block_t owns its transactions and txids when filled by block_decode();
 * block_free() releases them. A caller that builds a block_t itself owns its
 * arrays and must not call block_free() on it. */
#ifndef CHAIN_BLOCK_H
#define CHAIN_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"
#include "mp.h"
#include "params.h"
#include "tx.h"

#define BLOCK_HEADER_LEN 88
#define BLOCK_MAX_SIZE 1000000
#define BLOCK_VERSION 1
/* The header bytes that stay fixed for a mining job (the midstate). */
#define BLOCK_HEADER_MIDSTATE_LEN 64

typedef struct {
    uint32_t version;
    hash32_t previous_block_hash;
    hash32_t merkle_root;
    uint64_t timestamp;
    uint32_t bits;
    uint64_t nonce;
} block_header_t;

typedef struct {
    block_header_t header;
    size_t n_txs;
    tx_t *txs;
    hash32_t *txids; /* txids[i] of txs[i], filled by block_decode() */
    bool owned;      /* set by block_decode(): block_free() frees the arrays */
} block_t;

/* Header <-> its 88 bytes (little-endian integers). */
void block_header_encode(uint8_t out[BLOCK_HEADER_LEN], const block_header_t *h);
void block_header_decode(block_header_t *h, const uint8_t in[BLOCK_HEADER_LEN]);
/* SHA256d of the 88 header bytes. */
void block_header_hash(hash32_t *hash, const block_header_t *h);

/* Whether bits is a valid compact target (not negative, no overflow, not zero)
 * no easier than the network's limit. */
bool block_bits_valid(uint32_t bits, const chain_params_t *params);
/* Whether hash, read as a big-endian number, is at most the target of bits
 * (DESIGN §3.4). False for bits that are not a valid compact target. */
bool block_hash_meets(const hash32_t *hash, uint32_t bits);

/* Decodes [header: bin(88), [tx…]] from all of data[0..len), strictly (§3.1).
 * ERR_TOO_LARGE over BLOCK_MAX_SIZE, ERR_BAD_ENCODING otherwise. Fills txids.
 * On success the caller frees *b with block_free(); on failure nothing. */
int block_decode(block_t *b, const uint8_t *data, size_t len, err_t *e)
    __attribute__((warn_unused_result));
void block_free(block_t *b);
/* Appends the canonical encoding; -1 when the buffer failed. */
int block_encode(const block_t *b, mp_buf_t *out) __attribute__((warn_unused_result));

/* Appends the encoding of a block made of header h, the coinbase, and n
 * transactions already encoded (txs[i], lens[i] bytes). -1 when the buffer
 * failed (its maximum or memory). */
int block_assemble(mp_buf_t *out, const block_header_t *h, const tx_t *coinbase,
                   const uint8_t *const *txs, const size_t *lens, size_t n)
    __attribute__((warn_unused_result));

/* Context-free rules: version 1; bits valid and proof of work met (ERR_BAD_BITS,
 * ERR_BAD_POW); at least one tx, the first a coinbase and only the first
 * (ERR_BAD_COINBASE, ERR_COINBASE_TX); each tx passes tx_check(); no two equal
 * txids (ERR_DUPLICATE_TX, the CVE-2012-2459 mutation) and the merkle root
 * matches (ERR_BAD_MERKLE). b->txids must be filled. */
int block_check(const block_t *b, const chain_params_t *params, err_t *e)
    __attribute__((warn_unused_result));

#endif
