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

static void digest(EVP_MD *const *md, uint8_t *out, const void *data, size_t len)
{
    pthread_once(&fetch_once, fetch_digests);
    if (EVP_Digest(data, len, out, NULL, *md, NULL) != 1) {
        fprintf(stderr, "fatal: OpenSSL EVP_Digest failed\n");
        abort();
    }
}

void hash_sha256(uint8_t out[32], const void *data, size_t len)
{
    digest(&md_sha256, out, data, len);
}

void hash_sha256d(hash32_t *out, const void *data, size_t len)
{
    uint8_t first[32];
    digest(&md_sha256, first, data, len);
    digest(&md_sha256, out->b, first, sizeof first);
}

void hash_ripemd160(uint8_t out[20], const void *data, size_t len)
{
    digest(&md_ripemd160, out, data, len);
}

void hash_hash160(hash20_t *out, const void *data, size_t len)
{
    uint8_t first[32];
    digest(&md_sha256, first, data, len);
    digest(&md_ripemd160, out->b, first, sizeof first);
}
