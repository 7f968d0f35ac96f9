/* sha256d_lanes: the SHA-256d of a header for one nonce per lane, written
 * once for every multi-lane kernel (portable C with 1 lane, AVX2 with 8,
 * AVX-512 with 16). Not a normal header: a kernel file defines the lane type
 * and its operations, then includes this, once:
 *
 *   LV              the lane vector type (uint32_t, __m256i, __m512i)
 *   L_ADD(a, b)     lane-wise a + b mod 2^32
 *   L_SET1(c)       c in every lane
 *   L_S0, L_S1      SHA-256's Σ0, Σ1;  L_s0, L_s1: σ0, σ1
 *   L_CH(e, f, g)   (e & f) ^ (~e & g);  L_MAJ(a, b, c): majority
 *
 * and gets two static functions:
 *   lanes_first(p, w4, d)    the first hash: W4 = the byte-swapped low nonce
 *                            halves, d[8] = its digest words;
 *   lanes_second(d, h, full) the second hash of d: all eight words, or (full
 *                            = 0) only h[0], for the early exit (sha256d.h).
 *
 * The rounds are unrolled with the state in eight named variables renamed
 * each round (no moves), and every schedule term made of fixed words comes
 * folded from sha256d_work_t or as a literal; the comments name the fixed
 * words of each folded term. Round i is L_ROUND with the names rotated by
 * i mod 8, so a line's arguments tell which round it is. */

#define L_ROUND(a, b, c, d, e, f, g, h, kw)                                  \
    do {                                                                     \
        LV t1_ = L_ADD(L_ADD(L_ADD(h, kw), L_CH(e, f, g)), L_S1(e));         \
        d = L_ADD(d, t1_);                                                   \
        h = L_ADD(t1_, L_ADD(L_S0(a), L_MAJ(a, b, c)));                      \
    } while (0)

/* First hash, rounds 5..63 of the second block; d[] = its digest words. */
static inline __attribute__((always_inline)) void
lanes_first(const sha256d_work_t *p, LV w4, LV d[8])
{
    /* the state entering round 5: round 4 is done but for adding W4 */
    LV s3 = L_ADD(L_SET1(p->r4a), w4), s7 = L_ADD(L_SET1(p->r4e), w4);
    LV s4 = L_SET1(p->st[0]), s5 = L_SET1(p->st[1]), s6 = L_SET1(p->st[2]);
    LV s0 = L_SET1(p->st[4]), s1 = L_SET1(p->st[5]), s2 = L_SET1(p->st[6]);
    /* rounds 5..18 read only words fixed for the job and the nonce's high half */
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_SET1(p->kw[0]));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_SET1(p->kw[1]));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_SET1(p->kw[2]));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_SET1(p->kw[3]));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_SET1(p->kw[4]));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_SET1(p->kw[5]));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_SET1(p->kw[6]));
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_SET1(p->kw[7]));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_SET1(p->kw[8]));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_SET1(p->kw[9]));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_SET1(p->kw[10]));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_SET1(p->kw[11]));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_SET1(p->kw[12]));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_SET1(p->kw[13]));
    /* W19..W34 with the job's constant terms folded in (W7..W14 are zero) */
    LV w19 = L_ADD(L_SET1(p->c19), L_s0(w4));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w19, L_SET1(0x240ca1ccu)));
    LV w20 = L_ADD(L_SET1(p->c20), w4);
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w20, L_SET1(0x2de92c6fu)));
    LV w21 = L_ADD(L_s1(w19), L_SET1(p->c21));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w21, L_SET1(0x4a7484aau)));
    LV w22 = L_ADD(L_s1(w20), L_SET1(0x800002c0u)); /* W15 + W6 */
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w22, L_SET1(0x5cb0a9dcu)));
    LV w23 = L_ADD(L_s1(w21), L_SET1(p->w16));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w23, L_SET1(0x76f988dau)));
    LV w24 = L_ADD(L_s1(w22), L_SET1(p->w17));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_ADD(w24, L_SET1(0x983e5152u)));
    LV w25 = L_ADD(L_s1(w23), L_SET1(p->w18));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(w25, L_SET1(0xa831c66du)));
    LV w26 = L_ADD(L_s1(w24), w19);
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(w26, L_SET1(0xb00327c8u)));
    LV w27 = L_ADD(L_s1(w25), w20);
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w27, L_SET1(0xbf597fc7u)));
    LV w28 = L_ADD(L_s1(w26), w21);
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w28, L_SET1(0xc6e00bf3u)));
    LV w29 = L_ADD(L_s1(w27), w22);
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w29, L_SET1(0xd5a79147u)));
    LV w30 = L_ADD(L_ADD(L_s1(w28), w23), L_SET1(0x80b0005du)); /* s0(W15) */
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w30, L_SET1(0x06ca6351u)));
    LV w31 = L_ADD(L_ADD(L_s1(w29), w24), L_SET1(p->c31));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w31, L_SET1(0x14292967u)));
    LV w32 = L_ADD(L_ADD(L_s1(w30), w25), L_SET1(p->c32));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_ADD(w32, L_SET1(0x27b70a85u)));
    LV w33 = L_ADD(L_ADD(L_s1(w31), w26), L_SET1(p->c33));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(w33, L_SET1(0x2e1b2138u)));
    LV w34 = L_ADD(L_ADD(L_s1(w32), w27), L_ADD(L_s0(w19), L_SET1(p->w18)));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(w34, L_SET1(0x4d2c6dfcu)));
    LV w35 = L_ADD(L_ADD(L_s1(w33), w28), L_ADD(L_s0(w20), w19));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w35, L_SET1(0x53380d13u)));
    LV w36 = L_ADD(L_ADD(L_s1(w34), w29), L_ADD(L_s0(w21), w20));
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w36, L_SET1(0x650a7354u)));
    LV w37 = L_ADD(L_ADD(L_s1(w35), w30), L_ADD(L_s0(w22), w21));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w37, L_SET1(0x766a0abbu)));
    LV w38 = L_ADD(L_ADD(L_s1(w36), w31), L_ADD(L_s0(w23), w22));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w38, L_SET1(0x81c2c92eu)));
    LV w39 = L_ADD(L_ADD(L_s1(w37), w32), L_ADD(L_s0(w24), w23));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w39, L_SET1(0x92722c85u)));
    LV w40 = L_ADD(L_ADD(L_s1(w38), w33), L_ADD(L_s0(w25), w24));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_ADD(w40, L_SET1(0xa2bfe8a1u)));
    LV w41 = L_ADD(L_ADD(L_s1(w39), w34), L_ADD(L_s0(w26), w25));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(w41, L_SET1(0xa81a664bu)));
    LV w42 = L_ADD(L_ADD(L_s1(w40), w35), L_ADD(L_s0(w27), w26));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(w42, L_SET1(0xc24b8b70u)));
    LV w43 = L_ADD(L_ADD(L_s1(w41), w36), L_ADD(L_s0(w28), w27));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w43, L_SET1(0xc76c51a3u)));
    LV w44 = L_ADD(L_ADD(L_s1(w42), w37), L_ADD(L_s0(w29), w28));
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w44, L_SET1(0xd192e819u)));
    LV w45 = L_ADD(L_ADD(L_s1(w43), w38), L_ADD(L_s0(w30), w29));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w45, L_SET1(0xd6990624u)));
    LV w46 = L_ADD(L_ADD(L_s1(w44), w39), L_ADD(L_s0(w31), w30));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w46, L_SET1(0xf40e3585u)));
    LV w47 = L_ADD(L_ADD(L_s1(w45), w40), L_ADD(L_s0(w32), w31));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w47, L_SET1(0x106aa070u)));
    LV w48 = L_ADD(L_ADD(L_s1(w46), w41), L_ADD(L_s0(w33), w32));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_ADD(w48, L_SET1(0x19a4c116u)));
    LV w49 = L_ADD(L_ADD(L_s1(w47), w42), L_ADD(L_s0(w34), w33));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(w49, L_SET1(0x1e376c08u)));
    LV w50 = L_ADD(L_ADD(L_s1(w48), w43), L_ADD(L_s0(w35), w34));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(w50, L_SET1(0x2748774cu)));
    LV w51 = L_ADD(L_ADD(L_s1(w49), w44), L_ADD(L_s0(w36), w35));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w51, L_SET1(0x34b0bcb5u)));
    LV w52 = L_ADD(L_ADD(L_s1(w50), w45), L_ADD(L_s0(w37), w36));
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w52, L_SET1(0x391c0cb3u)));
    LV w53 = L_ADD(L_ADD(L_s1(w51), w46), L_ADD(L_s0(w38), w37));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w53, L_SET1(0x4ed8aa4au)));
    LV w54 = L_ADD(L_ADD(L_s1(w52), w47), L_ADD(L_s0(w39), w38));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w54, L_SET1(0x5b9cca4fu)));
    LV w55 = L_ADD(L_ADD(L_s1(w53), w48), L_ADD(L_s0(w40), w39));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w55, L_SET1(0x682e6ff3u)));
    LV w56 = L_ADD(L_ADD(L_s1(w54), w49), L_ADD(L_s0(w41), w40));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_ADD(w56, L_SET1(0x748f82eeu)));
    LV w57 = L_ADD(L_ADD(L_s1(w55), w50), L_ADD(L_s0(w42), w41));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(w57, L_SET1(0x78a5636fu)));
    LV w58 = L_ADD(L_ADD(L_s1(w56), w51), L_ADD(L_s0(w43), w42));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(w58, L_SET1(0x84c87814u)));
    LV w59 = L_ADD(L_ADD(L_s1(w57), w52), L_ADD(L_s0(w44), w43));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w59, L_SET1(0x8cc70208u)));
    LV w60 = L_ADD(L_ADD(L_s1(w58), w53), L_ADD(L_s0(w45), w44));
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w60, L_SET1(0x90befffau)));
    LV w61 = L_ADD(L_ADD(L_s1(w59), w54), L_ADD(L_s0(w46), w45));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w61, L_SET1(0xa4506cebu)));
    LV w62 = L_ADD(L_ADD(L_s1(w60), w55), L_ADD(L_s0(w47), w46));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w62, L_SET1(0xbef9a3f7u)));
    LV w63 = L_ADD(L_ADD(L_s1(w61), w56), L_ADD(L_s0(w48), w47));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w63, L_SET1(0xc67178f2u)));
    d[0] = L_ADD(s0, L_SET1(p->mid[0]));
    d[1] = L_ADD(s1, L_SET1(p->mid[1]));
    d[2] = L_ADD(s2, L_SET1(p->mid[2]));
    d[3] = L_ADD(s3, L_SET1(p->mid[3]));
    d[4] = L_ADD(s4, L_SET1(p->mid[4]));
    d[5] = L_ADD(s5, L_SET1(p->mid[5]));
    d[6] = L_ADD(s6, L_SET1(p->mid[6]));
    d[7] = L_ADD(s7, L_SET1(p->mid[7]));
}

/* Second hash of the 32 digest bytes d[] (W8..W15 are the constant padding).
 * full: all eight words into h[]; otherwise only h[0], the most significant
 * word of the hash read as a big-endian number, and round 63 skips e. */
static inline __attribute__((always_inline)) void
lanes_second(const LV d[8], LV h[8], int full)
{
    /* round 0 from the initial state: a and e are constants plus W0 */
    LV s7 = L_ADD(d[0], L_SET1(0xfc08884du)), s3 = L_ADD(d[0], L_SET1(0x98c7e2a2u));
    LV s0 = L_SET1(0x6a09e667u), s1 = L_SET1(0xbb67ae85u), s2 = L_SET1(0x3c6ef372u);
    LV s4 = L_SET1(0x510e527fu), s5 = L_SET1(0x9b05688cu), s6 = L_SET1(0x1f83d9abu);
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(d[1], L_SET1(0x71374491u)));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(d[2], L_SET1(0xb5c0fbcfu)));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(d[3], L_SET1(0xe9b5dba5u)));
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(d[4], L_SET1(0x3956c25bu)));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(d[5], L_SET1(0x59f111f1u)));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(d[6], L_SET1(0x923f82a4u)));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(d[7], L_SET1(0xab1c5ed5u)));
    /* rounds 8..15: K + the padding words, W8 = 0x80000000, W15 = 256 */
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_SET1(0x5807aa98u));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_SET1(0x12835b01u));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_SET1(0x243185beu));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_SET1(0x550c7dc3u));
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_SET1(0x72be5d74u));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_SET1(0x80deb1feu));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_SET1(0x9bdc06a7u));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_SET1(0xc19bf274u));
    LV w16 = L_ADD(L_s0(d[1]), d[0]);
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_ADD(w16, L_SET1(0xe49b69c1u)));
    LV w17 = L_ADD(L_ADD(L_s0(d[2]), d[1]), L_SET1(0x00a00000u)); /* s1(W15) */
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(w17, L_SET1(0xefbe4786u)));
    LV w18 = L_ADD(L_ADD(L_s1(w16), L_s0(d[3])), d[2]);
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(w18, L_SET1(0x0fc19dc6u)));
    LV w19 = L_ADD(L_ADD(L_s1(w17), L_s0(d[4])), d[3]);
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w19, L_SET1(0x240ca1ccu)));
    LV w20 = L_ADD(L_ADD(L_s1(w18), L_s0(d[5])), d[4]);
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w20, L_SET1(0x2de92c6fu)));
    LV w21 = L_ADD(L_ADD(L_s1(w19), L_s0(d[6])), d[5]);
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w21, L_SET1(0x4a7484aau)));
    LV w22 = L_ADD(L_ADD(L_s1(w20), L_s0(d[7])), L_ADD(d[6], L_SET1(256u)));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w22, L_SET1(0x5cb0a9dcu)));
    LV w23 = L_ADD(L_ADD(L_s1(w21), w16), L_ADD(d[7], L_SET1(0x11002000u))); /* s0(W8) */
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w23, L_SET1(0x76f988dau)));
    LV w24 = L_ADD(L_ADD(L_s1(w22), w17), L_SET1(0x80000000u));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_ADD(w24, L_SET1(0x983e5152u)));
    LV w25 = L_ADD(L_s1(w23), w18);
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(w25, L_SET1(0xa831c66du)));
    LV w26 = L_ADD(L_s1(w24), w19);
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(w26, L_SET1(0xb00327c8u)));
    LV w27 = L_ADD(L_s1(w25), w20);
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w27, L_SET1(0xbf597fc7u)));
    LV w28 = L_ADD(L_s1(w26), w21);
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w28, L_SET1(0xc6e00bf3u)));
    LV w29 = L_ADD(L_s1(w27), w22);
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w29, L_SET1(0xd5a79147u)));
    LV w30 = L_ADD(L_ADD(L_s1(w28), w23), L_SET1(0x00400022u)); /* s0(W15) */
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w30, L_SET1(0x06ca6351u)));
    LV w31 = L_ADD(L_ADD(L_s1(w29), w24), L_ADD(L_s0(w16), L_SET1(256u)));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w31, L_SET1(0x14292967u)));
    LV w32 = L_ADD(L_ADD(L_s1(w30), w25), L_ADD(L_s0(w17), w16));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_ADD(w32, L_SET1(0x27b70a85u)));
    LV w33 = L_ADD(L_ADD(L_s1(w31), w26), L_ADD(L_s0(w18), w17));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(w33, L_SET1(0x2e1b2138u)));
    LV w34 = L_ADD(L_ADD(L_s1(w32), w27), L_ADD(L_s0(w19), w18));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(w34, L_SET1(0x4d2c6dfcu)));
    LV w35 = L_ADD(L_ADD(L_s1(w33), w28), L_ADD(L_s0(w20), w19));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w35, L_SET1(0x53380d13u)));
    LV w36 = L_ADD(L_ADD(L_s1(w34), w29), L_ADD(L_s0(w21), w20));
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w36, L_SET1(0x650a7354u)));
    LV w37 = L_ADD(L_ADD(L_s1(w35), w30), L_ADD(L_s0(w22), w21));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w37, L_SET1(0x766a0abbu)));
    LV w38 = L_ADD(L_ADD(L_s1(w36), w31), L_ADD(L_s0(w23), w22));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w38, L_SET1(0x81c2c92eu)));
    LV w39 = L_ADD(L_ADD(L_s1(w37), w32), L_ADD(L_s0(w24), w23));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w39, L_SET1(0x92722c85u)));
    LV w40 = L_ADD(L_ADD(L_s1(w38), w33), L_ADD(L_s0(w25), w24));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_ADD(w40, L_SET1(0xa2bfe8a1u)));
    LV w41 = L_ADD(L_ADD(L_s1(w39), w34), L_ADD(L_s0(w26), w25));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(w41, L_SET1(0xa81a664bu)));
    LV w42 = L_ADD(L_ADD(L_s1(w40), w35), L_ADD(L_s0(w27), w26));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(w42, L_SET1(0xc24b8b70u)));
    LV w43 = L_ADD(L_ADD(L_s1(w41), w36), L_ADD(L_s0(w28), w27));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w43, L_SET1(0xc76c51a3u)));
    LV w44 = L_ADD(L_ADD(L_s1(w42), w37), L_ADD(L_s0(w29), w28));
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w44, L_SET1(0xd192e819u)));
    LV w45 = L_ADD(L_ADD(L_s1(w43), w38), L_ADD(L_s0(w30), w29));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w45, L_SET1(0xd6990624u)));
    LV w46 = L_ADD(L_ADD(L_s1(w44), w39), L_ADD(L_s0(w31), w30));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w46, L_SET1(0xf40e3585u)));
    LV w47 = L_ADD(L_ADD(L_s1(w45), w40), L_ADD(L_s0(w32), w31));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w47, L_SET1(0x106aa070u)));
    LV w48 = L_ADD(L_ADD(L_s1(w46), w41), L_ADD(L_s0(w33), w32));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_ADD(w48, L_SET1(0x19a4c116u)));
    LV w49 = L_ADD(L_ADD(L_s1(w47), w42), L_ADD(L_s0(w34), w33));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(w49, L_SET1(0x1e376c08u)));
    LV w50 = L_ADD(L_ADD(L_s1(w48), w43), L_ADD(L_s0(w35), w34));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(w50, L_SET1(0x2748774cu)));
    LV w51 = L_ADD(L_ADD(L_s1(w49), w44), L_ADD(L_s0(w36), w35));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w51, L_SET1(0x34b0bcb5u)));
    LV w52 = L_ADD(L_ADD(L_s1(w50), w45), L_ADD(L_s0(w37), w36));
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w52, L_SET1(0x391c0cb3u)));
    LV w53 = L_ADD(L_ADD(L_s1(w51), w46), L_ADD(L_s0(w38), w37));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w53, L_SET1(0x4ed8aa4au)));
    LV w54 = L_ADD(L_ADD(L_s1(w52), w47), L_ADD(L_s0(w39), w38));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w54, L_SET1(0x5b9cca4fu)));
    LV w55 = L_ADD(L_ADD(L_s1(w53), w48), L_ADD(L_s0(w40), w39));
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w55, L_SET1(0x682e6ff3u)));
    LV w56 = L_ADD(L_ADD(L_s1(w54), w49), L_ADD(L_s0(w41), w40));
    L_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, L_ADD(w56, L_SET1(0x748f82eeu)));
    LV w57 = L_ADD(L_ADD(L_s1(w55), w50), L_ADD(L_s0(w42), w41));
    L_ROUND(s7, s0, s1, s2, s3, s4, s5, s6, L_ADD(w57, L_SET1(0x78a5636fu)));
    LV w58 = L_ADD(L_ADD(L_s1(w56), w51), L_ADD(L_s0(w43), w42));
    L_ROUND(s6, s7, s0, s1, s2, s3, s4, s5, L_ADD(w58, L_SET1(0x84c87814u)));
    LV w59 = L_ADD(L_ADD(L_s1(w57), w52), L_ADD(L_s0(w44), w43));
    L_ROUND(s5, s6, s7, s0, s1, s2, s3, s4, L_ADD(w59, L_SET1(0x8cc70208u)));
    LV w60 = L_ADD(L_ADD(L_s1(w58), w53), L_ADD(L_s0(w45), w44));
    L_ROUND(s4, s5, s6, s7, s0, s1, s2, s3, L_ADD(w60, L_SET1(0x90befffau)));
    LV w61 = L_ADD(L_ADD(L_s1(w59), w54), L_ADD(L_s0(w46), w45));
    L_ROUND(s3, s4, s5, s6, s7, s0, s1, s2, L_ADD(w61, L_SET1(0xa4506cebu)));
    LV w62 = L_ADD(L_ADD(L_s1(w60), w55), L_ADD(L_s0(w47), w46));
    L_ROUND(s2, s3, s4, s5, s6, s7, s0, s1, L_ADD(w62, L_SET1(0xbef9a3f7u)));
    LV w63 = L_ADD(L_ADD(L_s1(w61), w56), L_ADD(L_s0(w48), w47));
    if (!full) {
        /* round 63 for a alone: H0 = IV0 + T1 + T2 */
        LV kw = L_ADD(w63, L_SET1(0xc67178f2u));
        LV t1 = L_ADD(L_ADD(L_ADD(s0, kw), L_CH(s5, s6, s7)), L_S1(s5));
        h[0] = L_ADD(L_ADD(t1, L_SET1(0x6a09e667u)), L_ADD(L_S0(s1), L_MAJ(s1, s2, s3)));
        return;
    }
    L_ROUND(s1, s2, s3, s4, s5, s6, s7, s0, L_ADD(w63, L_SET1(0xc67178f2u)));
    h[0] = L_ADD(s0, L_SET1(0x6a09e667u));
    h[1] = L_ADD(s1, L_SET1(0xbb67ae85u));
    h[2] = L_ADD(s2, L_SET1(0x3c6ef372u));
    h[3] = L_ADD(s3, L_SET1(0xa54ff53au));
    h[4] = L_ADD(s4, L_SET1(0x510e527fu));
    h[5] = L_ADD(s5, L_SET1(0x9b05688cu));
    h[6] = L_ADD(s6, L_SET1(0x1f83d9abu));
    h[7] = L_ADD(s7, L_SET1(0x5be0cd19u));
}
