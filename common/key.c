#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
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

bool key_verify(const uint8_t pubkey[KEY_PUBKEY_LEN], const uint8_t sig[KEY_SIG_LEN],
                const uint8_t *msg, size_t len)
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pubkey, KEY_PUBKEY_LEN);
    if (!pkey)
        return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
              EVP_DigestVerify(ctx, sig, KEY_SIG_LEN, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return ok;
}
