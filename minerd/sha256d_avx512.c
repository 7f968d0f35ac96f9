/* The AVX-512 kernel: 16 nonces a batch, one per 32-bit lane of a ZMM
 * register. AVX-512F gives the rotate (vprord) and the three-input logic
 * (vpternlogd) that make Σ, σ, Ch and Maj one or two instructions each;
 * AVX-512BW the byte shuffle that swaps the nonces into big-endian words.
 * Built with -mavx512f -mavx512bw: call only when has_avx512() said yes. */
#include <immintrin.h>

#include "sha256d_impl.h"

typedef __m512i LV;

#define L_ADD(a, b) _mm512_add_epi32(a, b)
#define L_SET1(c) _mm512_set1_epi32((int)(c))
#define L_ROR(x, n) _mm512_ror_epi32(x, n)
#define L_XOR3(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0x96)
#define L_S0(x) L_XOR3(L_ROR(x, 2), L_ROR(x, 13), L_ROR(x, 22))
#define L_S1(x) L_XOR3(L_ROR(x, 6), L_ROR(x, 11), L_ROR(x, 25))
#define L_s0(x) L_XOR3(L_ROR(x, 7), L_ROR(x, 18), _mm512_srli_epi32(x, 3))
#define L_s1(x) L_XOR3(L_ROR(x, 17), L_ROR(x, 19), _mm512_srli_epi32(x, 10))
#define L_CH(e, f, g) _mm512_ternarylogic_epi32(e, f, g, 0xca)  /* e ? f : g */
#define L_MAJ(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0xe8) /* two of three */

#include "sha256d_lanes.h"

#define LANES 16

/* The lanes' nonce low halves lo, lo+1, … as big-endian words. */
static inline LV nonce_words(LV n)
{
    const __m512i swap = _mm512_broadcast_i32x4(
        _mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12));
    return _mm512_shuffle_epi8(n, swap);
}

static inline LV first_nonces(uint32_t lo)
{
    return L_ADD(L_SET1(lo),
                 _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

void sha256d_avx512_hash(const sha256d_work_t *w, uint32_t lo, uint8_t (*out)[32])
{
    LV d[8], h[8];
    uint32_t words[8][LANES];
    lanes_first(w, nonce_words(first_nonces(lo)), d);
    lanes_second(d, h, 1);
    for (int j = 0; j < 8; j++)
        _mm512_storeu_si512((void *)words[j], h[j]);
    for (int i = 0; i < LANES; i++)
        for (int j = 0; j < 8; j++)
            sha256d_put_be(out[i] + 4 * j, words[j][i]);
}

bool sha256d_avx512_scan(const sha256d_work_t *w, uint32_t lo, uint64_t count, uint32_t *found)
{
    const LV target = L_SET1(w->target0), step = L_SET1(LANES);
    LV n = first_nonces(lo);
    for (uint64_t done = 0; done < count; done += LANES, n = L_ADD(n, step)) {
        LV d[8], h[8];
        lanes_first(w, nonce_words(n), d);
        lanes_second(d, h, 0);
        unsigned hit = _mm512_cmple_epu32_mask(h[0], target);
        if (__builtin_expect(hit != 0, 0)) {
            if (count - done < LANES)
                hit &= (1u << (count - done)) - 1; /* lanes past the range */
            if (hit) {
                *found = lo + (uint32_t)done + (uint32_t)__builtin_ctz(hit);
                return true;
            }
        }
    }
    return false;
}
