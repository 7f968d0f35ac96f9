#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* sodium_init() is itself safe to call from several threads, but it takes a
 * lock on every call; key_verify() is the node's hottest path, so the result
 * of the one real call is kept. */
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static bool sodium_ok;

static void sodium_start(void) { sodium_ok = sodium_init() >= 0; }

int key_init(err_t *e)
{
    pthread_once(&sodium_once, sodium_start);
    if (!sodium_ok)
        return err_set(e, ERR_INTERNAL, "libsodium could not be initialised (sodium_init "
                       "failed): no signature can be made or checked");
    return 0;
}

int key_from_seed(key_pair_t *k, const uint8_t seed[KEY_SEED_LEN], err_t *e)
{
    int rc = key_init(e);
    if (rc < 0)
        return rc;
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(k->pubkey, sk, seed);
    sodium_memzero(sk, sizeof sk);
    memmove(k->seed, seed, KEY_SEED_LEN); /* seed may be k->seed itself */
    return 0;
}

int key_generate(key_pair_t *k, err_t *e)
{
    int rc = key_init(e);
    if (rc < 0)
        return rc;
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(k->pubkey, sk);
    crypto_sign_ed25519_sk_to_seed(k->seed, sk);
    sodium_memzero(sk, sizeof sk);
    return 0;
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
    uint8_t seed[KEY_SEED_LEN];
    size_t len = sizeof seed;
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)
        rc = err_set(e, ERR_BAD_KEY, "%s is not an Ed25519 key", path);
    else if (EVP_PKEY_get_raw_private_key(pkey, seed, &len) != 1 || len != KEY_SEED_LEN)
        rc = err_set(e, ERR_BAD_KEY, "cannot read the Ed25519 seed of %s", path);
    else
        rc = key_from_seed(k, seed, e); /* the public key as signing derives it */
    EVP_PKEY_free(pkey);
    sodium_memzero(seed, sizeof seed);
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
    int rc = key_init(e);
    if (rc < 0)
        return rc;
    /* libsodium's secret key is seed ‖ pubkey and it hashes that pubkey into
     * the signature; one that is not the seed's own would let two signatures
     * of one message reveal the seed, so it is derived here, never taken */
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(pk, sk, k->seed);
    rc = crypto_sign_detached(sig, NULL, msg, len, sk);
    sodium_memzero(sk, sizeof sk);
    return rc == 0 ? 0 : err_set(e, ERR_INTERNAL, "Ed25519 signing failed");
}

bool key_verify(const uint8_t pubkey[KEY_PUBKEY_LEN], const uint8_t sig[KEY_SIG_LEN],
                const uint8_t *msg, size_t len)
{
    return key_init(NULL) == 0 && crypto_sign_verify_detached(sig, msg, len, pubkey) == 0;
}
