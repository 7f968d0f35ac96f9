/* sha256d: the proof-of-work hash of block headers, SHA256(SHA256(88 bytes))
 * (DESIGN §3.4), in several kernels behind one table, chosen at run time.
 *
 * The 88 header bytes are two SHA-256 blocks for the first hash. The first
 * block (bytes 0..63) is fixed for a job: it is hashed once into a midstate.
 * The second block holds header bytes 64..87 and the padding; as big-endian
 * words W0..W3 are fixed for the job (merkle root tail, timestamp, bits), W4
 * is the nonce's low 32 bits (byte-swapped: the header is little-endian), W5
 * its high 32 bits, W6..W15 padding. So rounds 0..3 and most of round 4 are
 * done once per job (sha256d_work_init), and every schedule term made of fixed
 * words is folded into a constant (sha256d_work_set_hi for those that read
 * W5). The second hash's input is the 32 digest bytes and constant padding,
 * folded the same way.
 *
 * Early exit: the hash is read as a big-endian number, so its most
 * significant 32 bits are the first digest word H0 = IV0 + a64, known only
 * after all 64 rounds (Bitcoin's shortcut of skipping rounds 61..63 works for
 * H7, its most significant word, not ours). The scan computes round 63 for a
 * alone, skips the other seven output words, and reports a nonce whose H0 is at
 * most the target's top word: a candidate that the caller must check in full
 * (block_hash_meets), since H0 equal to that word decides nothing.
 *
 * Nonces: a kernel works on one high half (hi) at a time and on runs of low
 * halves lo; sha256d_scan() walks any 64-bit range, crossing hi boundaries. */
#ifndef MINERD_SHA256D_H
#define MINERD_SHA256D_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"

#define SHA256D_MAX_LANES 16

extern const uint32_t sha256d_k[64];
extern const uint32_t sha256d_iv[8];

/* Everything a kernel needs for one job and one high nonce half. Filled by
 * sha256d_work_init() then sha256d_work_set_hi(); read-only for kernels. */
typedef struct {
    uint32_t mid[8];     /* state after header bytes 0..63 */
    uint32_t w[16];      /* second block words; w[4] is 0 (the nonce's place) */
    uint32_t target0;    /* candidates have H0 <= target0 */
    uint32_t hi;         /* the nonce's high half in force */
    uint32_t st[8];      /* a..h after rounds 0..3 of the second block */
    uint32_t r4a, r4e;   /* a and e after round 4, less W4 */
    uint32_t kw[14];     /* K[i] + W[i] of rounds 5..18, all fixed words */
    uint32_t w16, w17, w18;
    uint32_t c19, c20, c21, c31, c32, c33; /* folded schedule terms (see lanes) */
} sha256d_work_t;

/* A kernel. Lane i of a batch hashes nonce (hi << 32) | (uint32_t)(lo + i).
 *   hash: full digests of `lanes` nonces from lo into out[0..lanes) (the
 *         32 digest bytes, the block hash as DESIGN shows it).
 *   scan: the nonces lo .. lo+count-1 (count >= 1, lo + count <= 2^32), in
 *         order; true with *found = the low half of the first candidate
 *         (H0 <= target0), false when there is none. */
typedef struct {
    const char *name;
    unsigned lanes;                 /* nonces a batch */
    bool (*supported)(void);        /* the CPU and the OS can run it */
    void (*hash)(const sha256d_work_t *w, uint32_t lo, uint8_t (*out)[32]);
    bool (*scan)(const sha256d_work_t *w, uint32_t lo, uint64_t count, uint32_t *found);
} sha256d_kernel_t;

/* The array of kernels compiled in, fastest first (as measured; see
 * sha256d.c), *n of them. Unsupported ones are listed too. */
const sha256d_kernel_t *sha256d_kernels(size_t *n);
/* The fastest kernel this CPU supports (the portable one at least). */
const sha256d_kernel_t *sha256d_best(void);
/* The kernel called name, or NULL. A named kernel may be unsupported: ask it. */
const sha256d_kernel_t *sha256d_by_name(const char *name);

/* The top 32 bits of the target of bits (DESIGN §3.4): a hash can meet the
 * target only if its first four bytes, big-endian, are at most this. 0 for
 * bits that are no valid target (then a candidate never passes the check). */
uint32_t sha256d_target_word(uint32_t bits);

/* Prepares w for the header (88 bytes; its nonce bytes are ignored) and the
 * candidate bound target0, with the high nonce half 0. */
void sha256d_work_init(sha256d_work_t *w, const uint8_t header[BLOCK_HEADER_LEN],
                       uint32_t target0);
/* Sets the high nonce half (cheap: a few folded terms). */
void sha256d_work_set_hi(sha256d_work_t *w, uint32_t hi);

/* Scans nonces start .. start+count-1 (count >= 1, no wrap past 2^64-1) in
 * order with kernel k, moving w's high half as needed (w is left on the last
 * one scanned). True with *nonce = the first candidate, false if none. */
bool sha256d_scan(const sha256d_kernel_t *k, sha256d_work_t *w, uint64_t start, uint64_t count,
                  uint64_t *nonce);

#endif
