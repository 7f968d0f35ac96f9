/* The portable kernel: one nonce at a time in plain C, on any CPU. It shares
 * the folded rounds of sha256d_lanes.h with the vector kernels, so it is also
 * the reference that the tests hold the folding against. */
#include "sha256d_impl.h"

typedef uint32_t LV;

static inline uint32_t ror32(uint32_t x, unsigned n) { return x >> n | x << (32 - n); }

#define L_ADD(a, b) ((uint32_t)((a) + (b)))
#define L_SET1(c) ((uint32_t)(c))
#define L_S0(x) (ror32(x, 2) ^ ror32(x, 13) ^ ror32(x, 22))
#define L_S1(x) (ror32(x, 6) ^ ror32(x, 11) ^ ror32(x, 25))
#define L_s0(x) (ror32(x, 7) ^ ror32(x, 18) ^ ((x) >> 3))
#define L_s1(x) (ror32(x, 17) ^ ror32(x, 19) ^ ((x) >> 10))
#define L_CH(e, f, g) ((g) ^ ((e) & ((f) ^ (g))))
#define L_MAJ(a, b, c) (((a) & (b)) | ((c) & ((a) | (b))))

#include "sha256d_lanes.h"

void sha256d_generic_hash(const sha256d_work_t *w, uint32_t lo, uint8_t (*out)[32])
{
    LV d[8], h[8];
    lanes_first(w, __builtin_bswap32(lo), d);
    lanes_second(d, h, 1);
    for (int i = 0; i < 8; i++)
        sha256d_put_be(out[0] + 4 * i, h[i]);
}

bool sha256d_generic_scan(const sha256d_work_t *w, uint32_t lo, uint64_t count, uint32_t *found)
{
    for (uint64_t i = 0; i < count; i++, lo++) {
        LV d[8], h[8];
        lanes_first(w, __builtin_bswap32(lo), d);
        lanes_second(d, h, 0);
        if (h[0] <= w->target0) {
            *found = lo;
            return true;
        }
    }
    return false;
}
