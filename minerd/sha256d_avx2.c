/* The AVX2 kernel: 8 nonces a batch, one per 32-bit lane of a YMM register,
 * for x86-64 CPUs without AVX-512 (AVX2 has no rotate: shift, shift, or).
 * Built with -mavx2: call only when has_avx2() said yes. */
#include <immintrin.h>

#include "sha256d_impl.h"

typedef __m256i LV;

#define L_ADD(a, b) _mm256_add_epi32(a, b)
#define L_SET1(c) _mm256_set1_epi32((int)(c))
#define L_XOR(a, b) _mm256_xor_si256(a, b)
#define L_ROR(x, n) _mm256_or_si256(_mm256_srli_epi32(x, n), _mm256_slli_epi32(x, 32 - (n)))
#define L_S0(x) L_XOR(L_XOR(L_ROR(x, 2), L_ROR(x, 13)), L_ROR(x, 22))
#define L_S1(x) L_XOR(L_XOR(L_ROR(x, 6), L_ROR(x, 11)), L_ROR(x, 25))
#define L_s0(x) L_XOR(L_XOR(L_ROR(x, 7), L_ROR(x, 18)), _mm256_srli_epi32(x, 3))
#define L_s1(x) L_XOR(L_XOR(L_ROR(x, 17), L_ROR(x, 19)), _mm256_srli_epi32(x, 10))
#define L_CH(e, f, g) L_XOR(g, _mm256_and_si256(e, L_XOR(f, g)))
#define L_MAJ(a, b, c) \
    _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(c, _mm256_or_si256(a, b)))

#include "sha256d_lanes.h"

#define LANES 8

/* The lanes' nonce low halves lo, lo+1, … as big-endian words. */
static inline LV nonce_words(LV n)
{
    const __m256i swap = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
                                          3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    return _mm256_shuffle_epi8(n, swap);
}

static inline LV first_nonces(uint32_t lo)
{
    return L_ADD(L_SET1(lo), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void sha256d_avx2_hash(const sha256d_work_t *w, uint32_t lo, uint8_t (*out)[32])
{
    LV d[8], h[8];
    uint32_t words[8][LANES];
    lanes_first(w, nonce_words(first_nonces(lo)), d);
    lanes_second(d, h, 1);
    for (int j = 0; j < 8; j++)
        _mm256_storeu_si256((__m256i *)words[j], h[j]);
    for (int i = 0; i < LANES; i++)
        for (int j = 0; j < 8; j++)
            sha256d_put_be(out[i] + 4 * j, words[j][i]);
}

bool sha256d_avx2_scan(const sha256d_work_t *w, uint32_t lo, uint64_t count, uint32_t *found)
{
    const LV target = L_SET1(w->target0), step = L_SET1(LANES);
    LV n = first_nonces(lo);
    for (uint64_t done = 0; done < count; done += LANES, n = L_ADD(n, step)) {
        LV d[8], h[8];
        lanes_first(w, nonce_words(n), d);
        lanes_second(d, h, 0);
        /* unsigned h0 <= target: max(h0, target) is target */
        LV le = _mm256_cmpeq_epi32(_mm256_max_epu32(h[0], target), target);
        unsigned hit = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(le));
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
