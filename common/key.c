#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fill_pubkey(key_pair_t *k, EVP_PKEY *pkey, err_t *e)
{
    size_t len = KEY_PUBKEY_LEN;
    if (EVP_PKEY_get_raw_public_key(pkey, k->pubkey, &len) != 1 || len != KEY_PUBKEY_LEN)
        return err_set(e, ERR_BAD_KEY, "cannot derive the Ed25519 public key");
    return 0;
}

int key_from_seed(key_pair_t *k, const uint8_t seed[KEY_SEED_LEN], err_t *e)
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, KEY_SEED_LEN);
    if (!pkey)
        return err_set(e, ERR_BAD_KEY, "OpenSSL rejected the Ed25519 seed");
    memcpy(k->seed, seed, KEY_SEED_LEN);
    int rc = fill_pubkey(k, pkey, e);
    EVP_PKEY_free(pkey);
    return rc;
}

int key_generate(key_pair_t *k, err_t *e)
{
    uint8_t seed[KEY_SEED_LEN];
    if (RAND_bytes(seed, sizeof seed) != 1)
        return err_set(e, ERR_INTERNAL, "the random source failed");
    int rc = key_from_seed(k, seed, e);
    OPENSSL_cleanse(seed, sizeof seed);
    return rc;
}

/* Refuses every passphrase prompt: OpenSSL would otherwise read one from the
 * terminal, and a daemon must fail with a message rather than hang. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0;
}

int key_load_pem(key_pair_t *k, const char *path, err_t *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(e, ERR_BAD_KEY, "cannot open key file %s: %s", path, strerror(errno));
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (!pkey)
        return err_set(e, ERR_BAD_KEY, "%s holds no unencrypted PEM private key", path);
    int rc = 0;
    size_t len = KEY_SEED_LEN;
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)
        rc = err_set(e, ERR_BAD_KEY, "%s is not an Ed25519 key", path);
    else if (EVP_PKEY_get_raw_private_key(pkey, k->seed, &len) != 1 || len != KEY_SEED_LEN)
        rc = err_set(e, ERR_BAD_KEY, "cannot read the Ed25519 seed of %s", path);
    else
        rc = fill_pubkey(k, pkey, e);
    EVP_PKEY_free(pkey);
    return rc;
}

int key_save_pem(const key_pair_t *k, const char *path, err_t *e)
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed, KEY_SEED_LEN);
    if (!pkey)
        return err_set(e, ERR_BAD_KEY, "OpenSSL rejected the Ed25519 seed");
    int rc = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        rc = err_set(e, ERR_BAD_KEY, "cannot create %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    } else {
        int ok = PEM_write_PKCS8PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
        if (fclose(f) != 0 || ok != 1)
            rc = err_set(e, ERR_BAD_KEY, "cannot write %s", path);
    }
    EVP_PKEY_free(pkey);
    return rc;
}

int key_sign(const key_pair_t *k, uint8_t sig[KEY_SIG_LEN], const uint8_t *msg, size_t len,
             err_t *e)
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed, KEY_SEED_LEN);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = KEY_SIG_LEN;
    int rc = 0;
    if (!pkey || !ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, msg, len) != 1 || siglen != KEY_SIG_LEN)
        rc = err_set(e, ERR_INTERNAL, "Ed25519 signing failed");
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

/* Verification is the node's hottest path (every input of every block), and
 * in OpenSSL 3 building an EVP_PKEY and its first init cost about as much as
 * the curve arithmetic. Each thread keeps the keys it saw last (a small
 * direct-mapped cache) and one EVP_MD_CTX, re-initialised for every check:
 * a context is never reused across checks without an init, so no OpenSSL
 * version's one-shot rules can make a valid signature fail. */
#define VERIFY_CACHE 64

typedef struct {
    EVP_MD_CTX *ctx;
    struct {
        uint8_t pubkey[KEY_PUBKEY_LEN];
        EVP_PKEY *pkey;
    } keys[VERIFY_CACHE];
} verify_cache_t;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *arg)
{
    verify_cache_t *c = arg;
    for (int i = 0; i < VERIFY_CACHE; i++)
        EVP_PKEY_free(c->keys[i].pkey);
    EVP_MD_CTX_free(c->ctx);
    free(c);
}

static void cache_init(void)
{
    if (pthread_key_create(&cache_key, cache_free) != 0)
        abort(); /* only at the first verification: out of keys is a bug */
}

/* This thread's cache, or NULL when memory runs out (then nothing is cached). */
static verify_cache_t *thread_cache(void)
{
    pthread_once(&cache_once, cache_init);
    verify_cache_t *c = pthread_getspecific(cache_key);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return NULL;
        c->ctx = EVP_MD_CTX_new();
        if (!c->ctx || pthread_setspecific(cache_key, c) != 0) {
            EVP_MD_CTX_free(c->ctx);
            free(c);
            return NULL;
        }
    }
    return c;
}

static bool verify_with(EVP_MD_CTX *ctx, EVP_PKEY *pkey, const uint8_t sig[KEY_SIG_LEN],
                        const uint8_t *msg, size_t len)
{
    return EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
           EVP_DigestVerify(ctx, sig, KEY_SIG_LEN, msg, len) == 1;
}

bool key_verify(const uint8_t pubkey[KEY_PUBKEY_LEN], const uint8_t sig[KEY_SIG_LEN],
                const uint8_t *msg, size_t len)
{
    verify_cache_t *c = thread_cache();
    if (c) {
        /* public keys are uniform bytes: two of them pick the slot */
        unsigned slot = (unsigned)(pubkey[0] | pubkey[1] << 8) % VERIFY_CACHE;
        if (!c->keys[slot].pkey || memcmp(c->keys[slot].pubkey, pubkey, KEY_PUBKEY_LEN) != 0) {
            EVP_PKEY *pkey =
                EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pubkey, KEY_PUBKEY_LEN);
            if (!pkey)
                return false;
            EVP_PKEY_free(c->keys[slot].pkey);
            c->keys[slot].pkey = pkey;
            memcpy(c->keys[slot].pubkey, pubkey, KEY_PUBKEY_LEN);
        }
        bool ok = verify_with(c->ctx, c->keys[slot].pkey, sig, msg, len);
        EVP_MD_CTX_reset(c->ctx);
        return ok;
    }
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pubkey, KEY_PUBKEY_LEN);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = pkey && ctx && verify_with(ctx, pkey, sig, msg, len);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return ok;
}
