/* The SHA-NI kernel: x86's SHA extensions, SHA256RNDS2 doing two rounds of
 * one block. One block's rounds form a single chain of dependent
 * instructions, so a lone hash waits on each instruction's latency (which
 * is why OpenSSL's bulk SHA-256 runs well below the unit's throughput);
 * here SHA256D_SHANI_STREAMS nonces run side by side, each stream's rounds
 * filling the others' latency. Rounds 0..3 of the first hash's second block
 * come precomputed, and the rounds over constant words (the padding) add a
 * precomputed K + W.
 *
 * Register layout as Intel's reference code: the state in two vectors,
 * ABEF = (F, E, B, A) and CDGH = (H, G, D, C) in lanes 0..3; message words
 * W[i..i+3] in lanes 0..3. Built with -msha -msse4.1: call only when
 * has_shani() said yes. */
#include <immintrin.h>

#include "sha256d_impl.h"

#define S SHA256D_SHANI_STREAMS

/* Every stream the same step; unrolled so the per-stream arrays live in
 * registers. */
#define EACH(stmt)                                                           \
    do {                                                                     \
        _Pragma("GCC unroll 8") for (int j = 0; j < S; j++) { stmt; }       \
    } while (0)

static inline __m128i kvec(int i) { return _mm_loadu_si128((const __m128i *)&sha256d_k[i]); }

/* Four rounds of every stream with K + W in kw[j]. */
#define QROUNDS(kw)                                                          \
    EACH(s1[j] = _mm_sha256rnds2_epu32(s1[j], s0[j], (kw)[j]);               \
         s0[j] = _mm_sha256rnds2_epu32(s0[j], s1[j], _mm_shuffle_epi32((kw)[j], 0x0e)))

/* Four rounds with the same constant K + W in every stream. */
#define QROUNDS_CONST(kw)                                                    \
    EACH(s1[j] = _mm_sha256rnds2_epu32(s1[j], s0[j], kw);                    \
         s0[j] = _mm_sha256rnds2_epu32(s0[j], s1[j], _mm_shuffle_epi32(kw, 0x0e)))

/* Schedule group g (W[4g..4g+3]) into a = W[4g-16..]: b, c, d hold the
 * three groups after a; then its four rounds. */
#define GROUP(g, a, b, c, d)                                                 \
    do {                                                                     \
        __m128i kw_[S];                                                      \
        EACH(a[j] = _mm_sha256msg2_epu32(                                    \
                 _mm_add_epi32(_mm_sha256msg1_epu32(a[j], b[j]),             \
                               _mm_alignr_epi8(d[j], c[j], 4)),              \
                 d[j]);                                                      \
             kw_[j] = _mm_add_epi32(a[j], kvec(4 * (g))));                   \
        QROUNDS(kw_);                                                        \
    } while (0)

/* Groups 8..15 (rounds 32..63) need no shortcut: the generic schedule. */
#define GROUPS_8_TO_15(x0, x1, x2, x3)                                       \
    GROUP(8, x0, x1, x2, x3);                                                \
    GROUP(9, x1, x2, x3, x0);                                                \
    GROUP(10, x2, x3, x0, x1);                                               \
    GROUP(11, x3, x0, x1, x2);                                               \
    GROUP(12, x0, x1, x2, x3);                                               \
    GROUP(13, x1, x2, x3, x0);                                               \
    GROUP(14, x2, x3, x0, x1);                                               \
    GROUP(15, x3, x0, x1, x2)

static inline __m128i abef(const uint32_t s[8])
{
    return _mm_set_epi32((int)s[0], (int)s[1], (int)s[4], (int)s[5]);
}

static inline __m128i cdgh(const uint32_t s[8])
{
    return _mm_set_epi32((int)s[2], (int)s[3], (int)s[6], (int)s[7]);
}

/* ABEF, CDGH -> (A, B, C, D), (E, F, G, H): the digest words in order. */
static inline void to_words(__m128i *abef_abcd, __m128i *cdgh_efgh)
{
    __m128i t = _mm_shuffle_epi32(*abef_abcd, 0x1b);   /* A B E F */
    __m128i u = _mm_shuffle_epi32(*cdgh_efgh, 0xb1);   /* G H C D */
    *abef_abcd = _mm_blend_epi16(t, u, 0xf0);          /* A B C D */
    *cdgh_efgh = _mm_alignr_epi8(u, t, 8);             /* E F G H */
}

/* SHA-256d of S nonces lo, lo+1, …: the second hash's ABEF and CDGH state
 * (before adding the IV) in s0[], s1[]. */
static inline __attribute__((always_inline)) void
sha256d_streams(const sha256d_work_t *w, uint32_t lo, __m128i s0[S], __m128i s1[S])
{
    __m128i x0[S], x1[S], x2[S], x3[S], kw[S];
    /* first hash, second block, from round 4 */
    const __m128i base1 = _mm_setr_epi32(0, (int)w->w[5], (int)w->w[6], 0);
    const __m128i st_abef = abef(w->st), st_cdgh = cdgh(w->st);
    const __m128i w0 = _mm_loadu_si128((const __m128i *)w->w);
    const __m128i w12 = _mm_setr_epi32(0, 0, 0, (int)w->w[15]);
    EACH(s0[j] = st_abef; s1[j] = st_cdgh;
         x1[j] = _mm_insert_epi32(base1, (int)__builtin_bswap32(lo + (uint32_t)j), 0);
         kw[j] = _mm_add_epi32(x1[j], kvec(4)));
    QROUNDS(kw);
    QROUNDS_CONST(kvec(8));                               /* W8..W11 = 0 */
    QROUNDS_CONST(_mm_add_epi32(kvec(12), w12));          /* W12..W15 */
    /* W16..: W9..W12 are zero, so group 4 skips its alignr term and group 6
     * its msg1 term (σ0 of zeros) */
    EACH(x0[j] = _mm_sha256msg2_epu32(_mm_sha256msg1_epu32(w0, x1[j]), w12);
         kw[j] = _mm_add_epi32(x0[j], kvec(16)));
    QROUNDS(kw);
    EACH(x2[j] = _mm_sha256msg2_epu32(
             _mm_add_epi32(_mm_sha256msg1_epu32(x1[j], _mm_setzero_si128()),
                           _mm_alignr_epi8(x0[j], w12, 4)),
             x0[j]);
         kw[j] = _mm_add_epi32(x2[j], kvec(20)));
    QROUNDS(kw);
    EACH(x3[j] = _mm_sha256msg2_epu32(_mm_alignr_epi8(x2[j], x0[j], 4), x2[j]);
         kw[j] = _mm_add_epi32(x3[j], kvec(24)));
    QROUNDS(kw);
    EACH(x1[j] = _mm_sha256msg2_epu32(
             _mm_add_epi32(_mm_sha256msg1_epu32(w12, x0[j]), _mm_alignr_epi8(x3[j], x2[j], 4)),
             x3[j]);
         kw[j] = _mm_add_epi32(x1[j], kvec(28)));
    QROUNDS(kw);
    /* groups 4..7 now sit in x0, x2, x3, x1 */
    GROUPS_8_TO_15(x0, x2, x3, x1);
    const __m128i mid_abef = abef(w->mid), mid_cdgh = cdgh(w->mid);
    EACH(s0[j] = _mm_add_epi32(s0[j], mid_abef); s1[j] = _mm_add_epi32(s1[j], mid_cdgh);
         to_words(&s0[j], &s1[j]); x0[j] = s0[j]; x1[j] = s1[j]);

    /* second hash: W0..W7 the digest, W8 = 0x80000000, W15 = 256 */
    const __m128i iv_abef = abef(sha256d_iv), iv_cdgh = cdgh(sha256d_iv);
    const __m128i w8 = _mm_setr_epi32((int)0x80000000u, 0, 0, 0);
    const __m128i w12b = _mm_setr_epi32(0, 0, 0, 256);
    EACH(s0[j] = iv_abef; s1[j] = iv_cdgh; kw[j] = _mm_add_epi32(x0[j], kvec(0)));
    QROUNDS(kw);
    EACH(kw[j] = _mm_add_epi32(x1[j], kvec(4)));
    QROUNDS(kw);
    QROUNDS_CONST(_mm_add_epi32(kvec(8), w8));
    QROUNDS_CONST(_mm_add_epi32(kvec(12), w12b));
    /* W9..W12 are zero (group 4's alignr term); σ0(W8..W11) is folded */
    EACH(x0[j] = _mm_sha256msg2_epu32(_mm_sha256msg1_epu32(x0[j], x1[j]), w12b);
         kw[j] = _mm_add_epi32(x0[j], kvec(16)));
    QROUNDS(kw);
    EACH(x1[j] = _mm_sha256msg2_epu32(
             _mm_add_epi32(_mm_sha256msg1_epu32(x1[j], w8), _mm_alignr_epi8(x0[j], w12b, 4)),
             x0[j]);
         kw[j] = _mm_add_epi32(x1[j], kvec(20)));
    QROUNDS(kw);
    const __m128i m1_8_12 = _mm_sha256msg1_epu32(w8, w12b);
    EACH(x2[j] = _mm_sha256msg2_epu32(_mm_add_epi32(m1_8_12, _mm_alignr_epi8(x1[j], x0[j], 4)),
                                      x1[j]);
         kw[j] = _mm_add_epi32(x2[j], kvec(24)));
    QROUNDS(kw);
    EACH(x3[j] = _mm_sha256msg2_epu32(
             _mm_add_epi32(_mm_sha256msg1_epu32(w12b, x0[j]), _mm_alignr_epi8(x2[j], x1[j], 4)),
             x2[j]);
         kw[j] = _mm_add_epi32(x3[j], kvec(28)));
    QROUNDS(kw);
    GROUPS_8_TO_15(x0, x1, x2, x3);
}

void sha256d_shani_hash(const sha256d_work_t *w, uint32_t lo, uint8_t (*out)[32])
{
    __m128i s0[S], s1[S];
    const __m128i swap = _mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    sha256d_streams(w, lo, s0, s1);
    for (int j = 0; j < S; j++) {
        s0[j] = _mm_add_epi32(s0[j], abef(sha256d_iv));
        s1[j] = _mm_add_epi32(s1[j], cdgh(sha256d_iv));
        to_words(&s0[j], &s1[j]);
        _mm_storeu_si128((__m128i *)out[j], _mm_shuffle_epi8(s0[j], swap));
        _mm_storeu_si128((__m128i *)(out[j] + 16), _mm_shuffle_epi8(s1[j], swap));
    }
}

bool sha256d_shani_scan(const sha256d_work_t *w, uint32_t lo, uint64_t count, uint32_t *found)
{
    for (uint64_t done = 0; done < count; done += S) {
        __m128i s0[S], s1[S];
        uint32_t first = lo + (uint32_t)done;
        sha256d_streams(w, first, s0, s1);
        /* H0 = IV0 + A, A in lane 3 of ABEF; lanes past the range are ignored */
        for (int j = 0; j < S && (uint64_t)j < count - done; j++) {
            uint32_t h0 = (uint32_t)_mm_extract_epi32(s0[j], 3) + sha256d_iv[0];
            if (__builtin_expect(h0 <= w->target0, 0)) {
                *found = first + (uint32_t)j;
                return true;
            }
        }
    }
    return false;
}
