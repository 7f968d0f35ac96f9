/* Test support: the Ed25519 encodings at the edges of the signature rule
 * (DESIGN §3.3), for the unit tests and the fuzz seeds alike.
 *
 *   - the eight points of small order (the torsion subgroup), canonically
 *     encoded: the rule refuses each as a key and as R;
 *   - non-canonical encodings, y >= p: the rule refuses them as a key;
 *   - the group order L: an S >= L is refused (it would make signatures
 *     malleable).
 * Encodings are little-endian, as on the wire. */
#ifndef CHAIN_TEST_ED25519_EDGES_H
#define CHAIN_TEST_ED25519_EDGES_H

#include <stdbool.h>
#include <stdint.h>

#define ED25519_SMALL_ORDER_COUNT 8
/* The ways y >= p can be written in 255 bits: p, p + 1, ..., 2^255 - 1. */
#define ED25519_NON_CANONICAL_COUNT 19

typedef struct {
    const char *name;
    unsigned order;
    uint8_t enc[32];
} ed25519_point_t;

extern const ed25519_point_t ed25519_small_order[ED25519_SMALL_ORDER_COUNT];
/* L = 2^252 + 27742317777372353535851937790883648493. */
extern const uint8_t ed25519_order_l[32];

/* out = the encoding of y = p + k (k < ED25519_NON_CANONICAL_COUNT), with the
 * sign bit set or not. */
void ed25519_non_canonical(uint8_t out[32], unsigned k, bool sign);
/* s += L modulo 2^256: a canonical S becomes a non-canonical twin (S >= L)
 * that satisfies the same equation. */
void ed25519_add_l(uint8_t s[32]);

#endif
