/* fuzz_ed25519: the node's verifier (key_verify) against a direct call of
 * libsodium's crypto_sign_verify_detached, the consensus rule itself.
 *
 * Input format (make_seeds writes its seeds so; a short input reads as if
 * padded with zero bytes):
 *   byte 0 even  a raw triple: bytes 1-32 the public key, 33-96 the
 *                signature, the rest the message
 *   byte 0 odd   a signed triple, mutated: bytes 1-32 a seed, 33-128 a mask
 *                XORed over the seed's (public key ‖ signature of the rest);
 *                a zero mask leaves a valid signature, and the fuzzer's flips
 *                of the mask give the near misses
 *
 * Invariants (abort() when broken):
 *   - key_verify and crypto_sign_verify_detached agree on every triple;
 *   - with a zero mask, key_sign's signature verifies (both say valid).
 * libsodium is not built with coverage, so the fuzzer is guided only by the
 * seeds and the dictionary (make_seeds: small-order points, y >= p,
 * S >= L, the vectors' keys and signatures). */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "key.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

#define RAW_HEAD (1 + KEY_PUBKEY_LEN + KEY_SIG_LEN)
#define SIGNED_HEAD (1 + KEY_SEED_LEN + KEY_PUBKEY_LEN + KEY_SIG_LEN)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    uint8_t head[SIGNED_HEAD] = {0};
    bool sign = len > 0 && (data[0] & 1);
    size_t head_len = sign ? SIGNED_HEAD : RAW_HEAD;
    memcpy(head, data, len < head_len ? len : head_len);
    size_t msg_len = len > head_len ? len - head_len : 0;
    /* a copy of exactly its size, so ASan sees a read past the message */
    uint8_t *msg = malloc(msg_len ? msg_len : 1);
    CHECK(msg != NULL);
    if (msg_len)
        memcpy(msg, data + head_len, msg_len);

    CHECK(key_init(NULL) == 0); /* before libsodium is called directly */
    uint8_t triple[KEY_PUBKEY_LEN + KEY_SIG_LEN]; /* pubkey ‖ signature */
    bool zero_mask = false;
    if (sign) {
        key_pair_t k;
        err_t e;
        CHECK(key_from_seed(&k, head + 1, &e) == 0);
        memcpy(triple, k.pubkey, KEY_PUBKEY_LEN);
        CHECK(key_sign(&k, triple + KEY_PUBKEY_LEN, msg, msg_len, &e) == 0);
        const uint8_t *mask = head + 1 + KEY_SEED_LEN;
        uint8_t any = 0;
        for (size_t i = 0; i < sizeof triple; i++) {
            triple[i] ^= mask[i];
            any |= mask[i];
        }
        zero_mask = any == 0;
    } else {
        memcpy(triple, head + 1, sizeof triple);
    }
    const uint8_t *pubkey = triple, *sig = triple + KEY_PUBKEY_LEN;

    bool ours = key_verify(pubkey, sig, msg, msg_len);
    bool rule = crypto_sign_verify_detached(sig, msg, msg_len, pubkey) == 0;
    CHECK(ours == rule);
    if (zero_mask)
        CHECK(ours);
    free(msg);
    return 0;
}
