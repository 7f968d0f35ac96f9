#include "pow.h"

#include <string.h>

void pow_compact_to_target(u256_t *target, uint32_t bits, bool *negative, bool *overflow)
{
    unsigned size = bits >> 24;
    uint32_t word = bits & 0x007fffff;
    memset(target, 0, sizeof *target);
    if (size <= 3) {
        /* shifted in place, as Bitcoin Core does: the sign test below reads
         * what is left of the word (0x00923456 is zero, not negative) */
        word >>= 8 * (3 - size);
        target->w[0] = word;
    } else if (size - 3 < 32) {
        /* word << 8*(size-3), dropping what passes 2^256 (flagged below) */
        uint8_t be[32] = {0};
        for (unsigned i = 0; i < 3; i++) {
            unsigned pos = (size - 3) + i; /* byte index from the least significant */
            if (pos < 32)
                be[31 - pos] = (uint8_t)(word >> (8 * i));
        }
        u256_from_be(target, be);
    }
    if (negative)
        *negative = word != 0 && (bits & 0x00800000) != 0;
    if (overflow)
        *overflow = word != 0 && (size > 34 || (word > 0xff && size > 33) ||
                                  (word > 0xffff && size > 32));
}

uint32_t pow_target_to_compact(const u256_t *target)
{
    unsigned size = (u256_bits(target) + 7) / 8;
    uint32_t compact;
    if (size <= 3) {
        compact = (uint32_t)(target->w[0] << (8 * (3 - size)));
    } else {
        uint8_t be[32];
        u256_to_be(be, target);
        /* the three most significant bytes */
        compact = (uint32_t)be[32 - size] << 16 | (uint32_t)be[33 - size] << 8 | be[34 - size];
    }
    /* the 0x00800000 bit is a sign: move a set top bit into the next byte */
    if (compact & 0x00800000) {
        compact >>= 8;
        size++;
    }
    return compact | (uint32_t)size << 24;
}

void pow_work(u256_t *work, const u256_t *target)
{
    /* 2^256 / (t+1) does not fit the arithmetic; it equals ~t / (t+1) + 1 */
    u256_t not_t, t1 = *target, one = {{1, 0, 0, 0}};
    for (int i = 0; i < 4; i++)
        not_t.w[i] = ~target->w[i];
    if (u256_add(&t1, &one)) {
        *work = one; /* t = 2^256 - 1: the work is 1 */
        return;
    }
    u256_div(work, &not_t, &t1);
    u256_add(work, &one);
}

uint32_t pow_next_bits(const chain_params_t *params, uint64_t height, uint32_t prev_bits,
                       uint64_t first_time, uint64_t last_time)
{
    if (!params->retarget || height == 0 || height % params->retarget_interval != 0)
        return prev_bits;
    uint64_t expected = (uint64_t)(params->retarget_interval - 1) * params->target_spacing;
    uint64_t actual = last_time > first_time ? last_time - first_time : 0;
    /* the ratio actual/expected clamped to exactly [1/4, 4]: clamping actual
     * to expected/4 would round down when expected is not a multiple of 4
     * (190 s on demo) and let the target fall by more than a quarter */
    uint64_t mul = actual, div = expected;
    if (actual < expected / 4 + (expected % 4 != 0)) { /* 4 * actual < expected */
        mul = 1;
        div = 4;
    } else if (actual > expected * 4) {
        mul = 4;
        div = 1;
    }
    u256_t target, limit;
    pow_compact_to_target(&target, prev_bits, NULL, NULL);
    pow_compact_to_target(&limit, params->pow_limit_bits, NULL, NULL);
    if (!u256_mul_div(&target, mul, div) || u256_cmp(&target, &limit) > 0)
        target = limit;
    return pow_target_to_compact(&target);
}

double pow_target_value(uint32_t bits)
{
    u256_t t;
    bool negative = false, overflow = false;
    pow_compact_to_target(&t, bits, &negative, &overflow);
    if (negative || overflow)
        return 0;
    double v = 0;
    for (int i = 3; i >= 0; i--)
        v = v * 18446744073709551616.0 + (double)t.w[i];
    return v;
}

double pow_difficulty(const chain_params_t *params, uint32_t bits)
{
    double cur = pow_target_value(bits);
    return cur > 0 ? pow_target_value(params->pow_limit_bits) / cur : 0;
}
