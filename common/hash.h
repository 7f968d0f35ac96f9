/* hash: SHA-256, SHA-256d, RIPEMD-160 and HASH160 through OpenSSL's EVP.
 *
 * Digests are fixed-size values written into caller storage. OpenSSL failing
 * to hash (an allocation failure, a provider without the algorithm) is not an
 * input error: it aborts, since no caller could carry on with a wrong hash. */
#ifndef CHAIN_HASH_H
#define CHAIN_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct { uint8_t b[32]; } hash32_t;
typedef struct { uint8_t b[20]; } hash20_t;

/* out = SHA256(data[0..len)). */
void hash_sha256(uint8_t out[32], const void *data, size_t len);
/* out = SHA256(SHA256(data)): txids, block hashes, merkle nodes. */
void hash_sha256d(hash32_t *out, const void *data, size_t len);
/* out = RIPEMD160(data). */
void hash_ripemd160(uint8_t out[20], const void *data, size_t len);
/* out = RIPEMD160(SHA256(data)): pubkey hashes (OP_HASH160). */
void hash_hash160(hash20_t *out, const void *data, size_t len);

/* SHA-256 over data fed in pieces (the UTXO-set digest, too large to hold
 * at once): begin, any number of updates, end, which writes the digest and
 * frees the state. A stream begun must be ended. */
typedef struct {
    void *ctx_; /* OpenSSL's */
} hash_stream_t;
void hash_sha256_begin(hash_stream_t *s);
void hash_stream_update(hash_stream_t *s, const void *data, size_t len);
void hash_stream_end(hash_stream_t *s, uint8_t out[32]);

static inline bool hash32_eq(const hash32_t *a, const hash32_t *b)
{
    for (int i = 0; i < 32; i++)
        if (a->b[i] != b->b[i])
            return false;
    return true;
}

static inline bool hash32_is_zero(const hash32_t *a)
{
    for (int i = 0; i < 32; i++)
        if (a->b[i])
            return false;
    return true;
}

#endif
