/* The dispatcher: CPU detection, the per-job precomputation every kernel
 * shares, and the 64-bit scan over the kernels' 32-bit runs. Compiled for
 * the baseline x86-64 (or any other) target: nothing here may use the
 * instruction sets that the kernels are built for. */
#include "sha256d.h"

#include <assert.h>
#include <string.h>

#include "pow.h"
#include "sha256d_impl.h"
#include "u256.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define SHA256D_X86 1
#endif

const uint32_t sha256d_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

const uint32_t sha256d_iv[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* --- CPU features ---------------------------------------------------------- */

#ifdef SHA256D_X86
typedef struct {
    bool ssse3, sse41, sha, avx2, avx512; /* usable: the CPU has it and the OS saves it */
} cpu_t;

static uint64_t xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static cpu_t cpu_detect(void)
{
    cpu_t c = {false, false, false, false, false};
    unsigned a, b, cx, d;
    if (!__get_cpuid(1, &a, &b, &cx, &d))
        return c;
    c.ssse3 = cx & bit_SSSE3;
    c.sse41 = cx & bit_SSE4_1;
    bool avx = (cx & bit_AVX) && (cx & bit_OSXSAVE);
    /* the OS must save the YMM (bits 1-2) and, for AVX-512, the opmask and
     * ZMM registers (bits 5-7) on a context switch, else they get clobbered */
    uint64_t xcr = avx ? xcr0() : 0;
    bool os_ymm = (xcr & 0x6) == 0x6, os_zmm = (xcr & 0xe6) == 0xe6;
    if (__get_cpuid_max(0, NULL) < 7)
        return c;
    __cpuid_count(7, 0, a, b, cx, d);
    c.sha = (b & bit_SHA) && c.ssse3 && c.sse41;
    c.avx2 = (b & bit_AVX2) && os_ymm;
    c.avx512 = (b & bit_AVX512F) && (b & bit_AVX512BW) && os_zmm;
    return c;
}

static bool has_shani(void) { return cpu_detect().sha; }
static bool has_avx2(void) { return cpu_detect().avx2; }
static bool has_avx512(void) { return cpu_detect().avx512; }
#endif

static bool always(void) { return true; }

/* Fastest first, as `minerd --benchmark` measured them on AMD Zen 5, per core
 * against OpenSSL's bound: avx512 2.7x, shani 2.0x, avx2 0.9x, generic 0.18x.
 * The portable kernel is last and always there. */
static const sha256d_kernel_t kernels[] = {
#ifdef SHA256D_X86
    {"avx512", 16, has_avx512, sha256d_avx512_hash, sha256d_avx512_scan},
    {"shani", SHA256D_SHANI_STREAMS, has_shani, sha256d_shani_hash, sha256d_shani_scan},
    {"avx2", 8, has_avx2, sha256d_avx2_hash, sha256d_avx2_scan},
#endif
    {"generic", 1, always, sha256d_generic_hash, sha256d_generic_scan},
};
#define N_KERNELS (sizeof kernels / sizeof kernels[0])

const sha256d_kernel_t *sha256d_kernels(size_t *n)
{
    *n = N_KERNELS;
    return kernels;
}

const sha256d_kernel_t *sha256d_best(void)
{
    for (size_t i = 0; i < N_KERNELS; i++)
        if (kernels[i].supported())
            return &kernels[i];
    return &kernels[N_KERNELS - 1];
}

const sha256d_kernel_t *sha256d_by_name(const char *name)
{
    for (size_t i = 0; i < N_KERNELS; i++)
        if (strcmp(kernels[i].name, name) == 0)
            return &kernels[i];
    return NULL;
}

/* --- precomputation -------------------------------------------------------- */

static inline uint32_t ror(uint32_t x, unsigned n) { return x >> n | x << (32 - n); }
static inline uint32_t big_s0(uint32_t x) { return ror(x, 2) ^ ror(x, 13) ^ ror(x, 22); }
static inline uint32_t big_s1(uint32_t x) { return ror(x, 6) ^ ror(x, 11) ^ ror(x, 25); }
static inline uint32_t small_s0(uint32_t x) { return ror(x, 7) ^ ror(x, 18) ^ x >> 3; }
static inline uint32_t small_s1(uint32_t x) { return ror(x, 17) ^ ror(x, 19) ^ x >> 10; }
static inline uint32_t ch(uint32_t e, uint32_t f, uint32_t g) { return g ^ (e & (f ^ g)); }
static inline uint32_t maj(uint32_t a, uint32_t b, uint32_t c) { return (a & b) | (c & (a | b)); }

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* s[0..8) = a..h; rounds first .. last-1 with message words w. */
static void rounds(uint32_t s[8], const uint32_t *w, int first, int last)
{
    for (int i = first; i < last; i++) {
        uint32_t t1 = s[7] + big_s1(s[4]) + ch(s[4], s[5], s[6]) + sha256d_k[i] + w[i];
        uint32_t t2 = big_s0(s[0]) + maj(s[0], s[1], s[2]);
        memmove(&s[1], &s[0], 7 * sizeof s[0]);
        s[4] += t1;
        s[0] = t1 + t2;
    }
}

static void compress(uint32_t state[8], const uint8_t block[64])
{
    uint32_t w[64], s[8];
    for (int i = 0; i < 16; i++)
        w[i] = be32(block + 4 * i);
    for (int i = 16; i < 64; i++)
        w[i] = small_s1(w[i - 2]) + w[i - 7] + small_s0(w[i - 15]) + w[i - 16];
    memcpy(s, state, sizeof s);
    rounds(s, w, 0, 64);
    for (int i = 0; i < 8; i++)
        state[i] += s[i];
}

uint32_t sha256d_target_word(uint32_t bits)
{
    u256_t target;
    bool negative, overflow;
    uint8_t be[32];
    pow_compact_to_target(&target, bits, &negative, &overflow);
    if (negative || overflow)
        return 0;
    u256_to_be(be, &target);
    return be32(be);
}

void sha256d_work_init(sha256d_work_t *w, const uint8_t header[BLOCK_HEADER_LEN], uint32_t target0)
{
    memset(w, 0, sizeof *w);
    memcpy(w->mid, sha256d_iv, sizeof w->mid);
    compress(w->mid, header);
    for (int i = 0; i < 4; i++)
        w->w[i] = be32(header + 64 + 4 * i);
    /* 88 bytes: 0x80 right after the nonce, the bit length 704 at the end */
    w->w[6] = 0x80000000u;
    w->w[15] = 8 * BLOCK_HEADER_LEN;
    w->target0 = target0;

    memcpy(w->st, w->mid, sizeof w->st);
    rounds(w->st, w->w, 0, 4);
    const uint32_t *s = w->st;
    uint32_t t1 = s[7] + big_s1(s[4]) + ch(s[4], s[5], s[6]) + sha256d_k[4];
    w->r4a = t1 + big_s0(s[0]) + maj(s[0], s[1], s[2]);
    w->r4e = s[3] + t1;

    /* schedule words from fixed words only (W7..W14 are zero, W15 = 704) */
    const uint32_t *x = w->w;
    w->w16 = small_s0(x[1]) + x[0];
    w->w17 = small_s1(x[15]) + small_s0(x[2]) + x[1];
    w->w18 = small_s1(w->w16) + small_s0(x[3]) + x[2];
    w->c19 = small_s1(w->w17) + x[3];
    w->c31 = small_s0(w->w16) + x[15];
    w->c32 = small_s0(w->w17) + w->w16;
    w->c33 = small_s0(w->w18) + w->w17;
    for (int i = 6; i <= 15; i++)
        w->kw[i - 5] = sha256d_k[i] + x[i];
    w->kw[11] = sha256d_k[16] + w->w16;
    w->kw[12] = sha256d_k[17] + w->w17;
    w->kw[13] = sha256d_k[18] + w->w18;
    sha256d_work_set_hi(w, 0);
}

void sha256d_work_set_hi(sha256d_work_t *w, uint32_t hi)
{
    w->hi = hi;
    w->w[5] = __builtin_bswap32(hi);
    w->kw[0] = sha256d_k[5] + w->w[5];
    w->c20 = small_s1(w->w18) + small_s0(w->w[5]);
    w->c21 = small_s0(w->w[6]) + w->w[5];
}

bool sha256d_scan(const sha256d_kernel_t *k, sha256d_work_t *w, uint64_t start, uint64_t count,
                  uint64_t *nonce)
{
    assert(count >= 1 && start + (count - 1) >= start);
    while (count) {
        uint32_t hi = (uint32_t)(start >> 32), lo = (uint32_t)start, found;
        if (hi != w->hi)
            sha256d_work_set_hi(w, hi);
        uint64_t room = ((uint64_t)1 << 32) - lo, n = count < room ? count : room;
        if (k->scan(w, lo, n, &found)) {
            *nonce = (uint64_t)hi << 32 | found;
            return true;
        }
        count -= n;
        start += n; /* wraps to 0 only when count just became 0 */
    }
    return false;
}
