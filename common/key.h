/* key: Ed25519 keys through OpenSSL (pure Ed25519, RFC 8032).
 *
 * A key_pair_t is a plain value: the 32-byte seed (the private key) and the
 * 32-byte public key. Nothing is allocated that outlives a call. Functions
 * return 0 on success or a negative err code, with a message in *e. */
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

/* A new key from the OS's random source. */
int key_generate(key_pair_t *k, err_t *e) __attribute__((warn_unused_result));
/* The key of a given 32-byte seed (RFC 8032 private key). */
int key_from_seed(key_pair_t *k, const uint8_t seed[KEY_SEED_LEN], err_t *e)
    __attribute__((warn_unused_result));
/* Reads a PKCS#8 PEM Ed25519 private key from path. ERR_BAD_KEY when the file
 * is missing, unreadable, or holds anything but an Ed25519 private key. */
int key_load_pem(key_pair_t *k, const char *path, err_t *e) __attribute__((warn_unused_result));
/* Writes k as PKCS#8 PEM to path, created with mode 0600; fails (ERR_BAD_KEY)
 * rather than overwrite an existing file. */
int key_save_pem(const key_pair_t *k, const char *path, err_t *e)
    __attribute__((warn_unused_result));
/* sig = Ed25519(k, msg). */
int key_sign(const key_pair_t *k, uint8_t sig[KEY_SIG_LEN], const uint8_t *msg, size_t len,
             err_t *e) __attribute__((warn_unused_result));
/* Whether sig is a valid signature of msg by pubkey. Any malformed input
 * (a pubkey off the curve, a non-canonical S) is simply false. */
bool key_verify(const uint8_t pubkey[KEY_PUBKEY_LEN], const uint8_t sig[KEY_SIG_LEN],
                const uint8_t *msg, size_t len);

#endif
