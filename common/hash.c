#include "hash.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>

/* Fetching an EVP_MD walks the provider tables; do it once per process. */
static EVP_MD *md_sha256, *md_ripemd160;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_digests(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_ripemd160 = EVP_MD_fetch(NULL, "RIPEMD160", NULL);
    if (!md_sha256 || !md_ripemd160) {
        fprintf(stderr, "fatal: OpenSSL provides no SHA256 or RIPEMD160 digest\n");
        abort();
    }
}

/* One context per thread, reset for each digest: EVP_Digest() would allocate
 * and free one per call, and the node hashes several times per transaction. */
static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void free_ctx(void *ctx) { EVP_MD_CTX_free(ctx); }

static void make_ctx_key(void)
{
    if (pthread_key_create(&ctx_key, free_ctx) != 0)
        abort();
}

static void digest_failed(void)
{
    fprintf(stderr, "fatal: OpenSSL digest failed\n");
    abort();
}

static void digest(EVP_MD *const *md, uint8_t *out, const void *data, size_t len)
{
    pthread_once(&fetch_once, fetch_digests);
    pthread_once(&ctx_once, make_ctx_key);
    EVP_MD_CTX *ctx = pthread_getspecific(ctx_key);
    if (!ctx && (ctx = EVP_MD_CTX_new()) != NULL && pthread_setspecific(ctx_key, ctx) != 0) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    if (!ctx || EVP_DigestInit_ex2(ctx, *md, NULL) != 1 || EVP_DigestUpdate(ctx, data, len) != 1 ||
        EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        digest_failed();
}

void hash_sha256(uint8_t out[32], const void *data, size_t len)
{
    digest(&md_sha256, out, data, len);
}

/* SHA-256 of data, then md of that digest: the two-round hashes. */
static void sha256_then(EVP_MD *const *md, uint8_t *out, const void *data, size_t len)
{
    uint8_t first[32];
    digest(&md_sha256, first, data, len);
    digest(md, out, first, sizeof first);
}

void hash_sha256d(hash32_t *out, const void *data, size_t len)
{
    sha256_then(&md_sha256, out->b, data, len);
}

void hash_ripemd160(uint8_t out[20], const void *data, size_t len)
{
    digest(&md_ripemd160, out, data, len);
}

void hash_hash160(hash20_t *out, const void *data, size_t len)
{
    sha256_then(&md_ripemd160, out->b, data, len);
}

void hash_sha256_begin(hash_stream_t *s)
{
    pthread_once(&fetch_once, fetch_digests);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex2(ctx, md_sha256, NULL) != 1)
        digest_failed();
    s->ctx_ = ctx;
}

void hash_stream_update(hash_stream_t *s, const void *data, size_t len)
{
    if (len && EVP_DigestUpdate(s->ctx_, data, len) != 1)
        digest_failed();
}

void hash_stream_end(hash_stream_t *s, uint8_t out[32])
{
    if (EVP_DigestFinal_ex(s->ctx_, out, NULL) != 1)
        digest_failed();
    EVP_MD_CTX_free(s->ctx_);
    s->ctx_ = NULL;
}
