/* key: Ed25519 keys (pure Ed25519, RFC 8032). libsodium signs, verifies and
 * generates; OpenSSL only reads and writes the PKCS#8 PEM key files.
 *
 * A key_pair_t is a plain value: the 32-byte seed (the private key) and the
 * 32-byte public key. Nothing is allocated that outlives a call. Functions
 * return 0 on success or a negative err code, with a message in *e.
 *
 * The signature rule is consensus (DESIGN §3.3, docs/PROTOCOL.md): a
 * signature is valid iff libsodium's crypto_sign_verify_detached accepts it.
 * libsodium is initialised on first use (once, thread-safe); if that fails,
 * every function here fails (key_verify answers false), so daemons call
 * key_init() at start to stop with a message instead. */
#ifndef CHAIN_KEY_H
#define CHAIN_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define KEY_SEED_LEN 32
#define KEY_PUBKEY_LEN 32
#define KEY_SIG_LEN 64

typedef struct {
    uint8_t seed[KEY_SEED_LEN];
    uint8_t pubkey[KEY_PUBKEY_LEN];
} key_pair_t;

/* Initialises libsodium; ERR_INTERNAL when it cannot be. Safe to call from
 * any thread, any number of times: the first call does the work. */
int key_init(err_t *e) __attribute__((warn_unused_result));
/* A new key from the OS's random source. */
int key_generate(key_pair_t *k, err_t *e) __attribute__((warn_unused_result));
/* The key of a given 32-byte seed (RFC 8032 private key). */
int key_from_seed(key_pair_t *k, const uint8_t seed[KEY_SEED_LEN], err_t *e)
    __attribute__((warn_unused_result));
/* Reads a PKCS#8 PEM Ed25519 private key from path. ERR_BAD_KEY when the file
 * is missing, unreadable, or holds anything but an Ed25519 private key. */
int key_load_pem(key_pair_t *k, const char *path, err_t *e) __attribute__((warn_unused_result));
/* Writes k's seed as PKCS#8 PEM to path, created with mode 0600; fails
 * (ERR_BAD_KEY) rather than overwrite an existing file. */
int key_save_pem(const key_pair_t *k, const char *path, err_t *e)
    __attribute__((warn_unused_result));
/* sig = Ed25519(k, msg), by the key of k->seed (k->pubkey is not read, so a
 * key_pair_t whose halves disagree cannot make a signature leak the seed). */
int key_sign(const key_pair_t *k, uint8_t sig[KEY_SIG_LEN], const uint8_t *msg, size_t len,
             err_t *e) __attribute__((warn_unused_result));
/* Whether sig is a valid signature of msg by pubkey under the consensus rule:
 * libsodium's crypto_sign_verify_detached (RFC 8032's cofactorless equation,
 * S < L, the key canonical and not of small order, R not of small order).
 * Anything else, malformed input included, is simply false. */
bool key_verify(const uint8_t pubkey[KEY_PUBKEY_LEN], const uint8_t sig[KEY_SIG_LEN],
                const uint8_t *msg, size_t len);

#endif
