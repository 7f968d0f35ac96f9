#include "block.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "merkle.h"
#include "pow.h"

void block_header_encode(uint8_t out[BLOCK_HEADER_LEN], const block_header_t *h)
{
    bytes_put_le(out, h->version, 4);
    memcpy(out + 4, h->previous_block_hash.b, 32);
    memcpy(out + 36, h->merkle_root.b, 32);
    bytes_put_le(out + 68, h->timestamp, 8);
    bytes_put_le(out + 76, h->bits, 4);
    bytes_put_le(out + 80, h->nonce, 8);
}

void block_header_decode(block_header_t *h, const uint8_t in[BLOCK_HEADER_LEN])
{
    h->version = (uint32_t)bytes_get_le(in, 4);
    memcpy(h->previous_block_hash.b, in + 4, 32);
    memcpy(h->merkle_root.b, in + 36, 32);
    h->timestamp = bytes_get_le(in + 68, 8);
    h->bits = (uint32_t)bytes_get_le(in + 76, 4);
    h->nonce = bytes_get_le(in + 80, 8);
}

void block_header_hash(hash32_t *hash, const block_header_t *h)
{
    uint8_t raw[BLOCK_HEADER_LEN];
    block_header_encode(raw, h);
    hash_sha256d(hash, raw, sizeof raw);
}

bool block_bits_valid(uint32_t bits, const chain_params_t *params)
{
    u256_t target, limit;
    bool negative, overflow;
    pow_compact_to_target(&target, bits, &negative, &overflow);
    pow_compact_to_target(&limit, params->pow_limit_bits, NULL, NULL);
    return !negative && !overflow && !u256_is_zero(&target) && u256_cmp(&target, &limit) <= 0;
}

bool block_hash_meets(const hash32_t *hash, uint32_t bits)
{
    u256_t target, value;
    bool negative, overflow;
    pow_compact_to_target(&target, bits, &negative, &overflow);
    if (negative || overflow || u256_is_zero(&target))
        return false;
    u256_from_be(&value, hash->b);
    return u256_cmp(&value, &target) <= 0;
}

void block_free(block_t *b)
{
    if (b->owned) {
        for (size_t i = 0; i < b->n_txs; i++)
            tx_free(&b->txs[i]);
        free(b->txs);
        free(b->txids);
    }
    memset(b, 0, sizeof *b);
}

/* The smallest transaction: [1, [input], [output]] with empty scripts. */
#define MIN_TX_BYTES (1 + 1 + 1 + 38 + 1 + 4)

int block_decode(block_t *b, const uint8_t *data, size_t len, err_t *e)
{
    memset(b, 0, sizeof *b);
    if (len > BLOCK_MAX_SIZE)
        return err_set(e, ERR_TOO_LARGE, "block over %d bytes", BLOCK_MAX_SIZE);
    mp_reader_t r;
    mp_reader_init(&r, data, len, true);
    uint32_t n, n_txs;
    uint8_t raw[BLOCK_HEADER_LEN];
    if (mp_get_array(&r, &n) < 0 || n != 2 || mp_get_bin_exact(&r, raw, sizeof raw) < 0 ||
        mp_get_array(&r, &n_txs) < 0 || n_txs > mp_left(&r) / MIN_TX_BYTES)
        return err_set(e, ERR_BAD_ENCODING, "not a canonical block encoding (header or tx list)");
    block_header_decode(&b->header, raw);
    b->owned = true;
    b->txs = calloc(n_txs ? n_txs : 1, sizeof *b->txs);
    b->txids = calloc(n_txs ? n_txs : 1, sizeof *b->txids);
    if (!b->txs || !b->txids) {
        block_free(b);
        return err_set(e, ERR_INTERNAL, "out of memory decoding a block");
    }
    for (uint32_t i = 0; i < n_txs; i++) {
        size_t start = r.pos;
        int rc = tx_read(&b->txs[i], &r, e);
        if (rc < 0) {
            block_free(b);
            return rc;
        }
        b->n_txs = i + 1;
        /* strict decoding means these bytes are the canonical encoding */
        hash_sha256d(&b->txids[i], data + start, r.pos - start);
    }
    if (mp_left(&r) != 0) {
        block_free(b);
        return err_set(e, ERR_BAD_ENCODING, "%zu trailing bytes after the block", mp_left(&r));
    }
    return 0;
}

int block_encode(const block_t *b, mp_buf_t *out)
{
    if (b->n_txs > UINT32_MAX)
        return -1;
    uint8_t raw[BLOCK_HEADER_LEN];
    block_header_encode(raw, &b->header);
    mp_put_array(out, 2);
    mp_put_bin(out, raw, sizeof raw);
    mp_put_array(out, (uint32_t)b->n_txs);
    for (size_t i = 0; i < b->n_txs; i++)
        if (tx_encode(&b->txs[i], out, false) < 0)
            return -1;
    return mp_buf_ok(out) ? 0 : -1;
}

int block_assemble(mp_buf_t *out, const block_header_t *h, const tx_t *coinbase,
                   const uint8_t *const *txs, const size_t *lens, size_t n)
{
    if (n >= UINT32_MAX)
        return -1;
    uint8_t raw[BLOCK_HEADER_LEN];
    block_header_encode(raw, h);
    mp_put_array(out, 2);
    mp_put_bin(out, raw, sizeof raw);
    mp_put_array(out, (uint32_t)(n + 1));
    if (tx_encode(coinbase, out, false) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        mp_put_raw(out, txs[i], lens[i]);
    return mp_buf_ok(out) ? 0 : -1;
}

int block_check(const block_t *b, const chain_params_t *params, err_t *e)
{
    const block_header_t *h = &b->header;
    if (h->version != BLOCK_VERSION)
        return err_set(e, ERR_BAD_VERSION, "block version %u, only 1 is valid", h->version);
    if (!block_bits_valid(h->bits, params))
        return err_set(e, ERR_BAD_BITS, "bits 0x%08x: not a valid target for %s", h->bits,
                       params->name);
    hash32_t hash;
    block_header_hash(&hash, h);
    if (!block_hash_meets(&hash, h->bits))
        return err_set(e, ERR_BAD_POW, "block hash above the target of bits 0x%08x", h->bits);
    if (b->n_txs == 0 || !tx_is_coinbase(&b->txs[0]))
        return err_set(e, ERR_BAD_COINBASE, "the first transaction must be a coinbase");
    for (size_t i = 0; i < b->n_txs; i++) {
        if (i > 0 && tx_is_coinbase(&b->txs[i]))
            return err_set(e, ERR_COINBASE_TX, "transaction %zu is a second coinbase", i);
        int rc = tx_check(&b->txs[i], NULL, e);
        if (rc < 0)
            return rc;
    }
    hash32_t root;
    bool mutated;
    if (merkle_root(&root, &mutated, b->txids, b->n_txs) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory computing the merkle root");
    if (mutated)
        return err_set(e, ERR_DUPLICATE_TX, "two transactions with one txid (CVE-2012-2459)");
    if (!hash32_eq(&root, &h->merkle_root))
        return err_set(e, ERR_BAD_MERKLE, "merkle root does not match the transactions");
    return 0;
}
