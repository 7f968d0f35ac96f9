#include "u256.h"

#include <assert.h>
#include <string.h>

typedef unsigned __int128 u128;

void u256_from_be(u256_t *x, const uint8_t be[32])
{
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (int j = 0; j < 8; j++)
            v = v << 8 | be[(3 - i) * 8 + j];
        x->w[i] = v;
    }
}

void u256_to_be(uint8_t be[32], const u256_t *x)
{
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            be[(3 - i) * 8 + j] = (uint8_t)(x->w[i] >> (56 - 8 * j));
}

int u256_cmp(const u256_t *a, const u256_t *b)
{
    for (int i = 3; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

bool u256_is_zero(const u256_t *a) { return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]); }

bool u256_add(u256_t *a, const u256_t *b)
{
    u128 carry = 0;
    for (int i = 0; i < 4; i++) {
        carry += (u128)a->w[i] + b->w[i];
        a->w[i] = (uint64_t)carry;
        carry >>= 64;
    }
    return carry != 0;
}

unsigned u256_bits(const u256_t *x)
{
    for (int i = 3; i >= 0; i--)
        if (x->w[i])
            return (unsigned)(64 * i + 64 - __builtin_clzll(x->w[i]));
    return 0;
}

static bool bit(const u256_t *x, unsigned i) { return x->w[i / 64] >> (i % 64) & 1; }

static void sub(u256_t *a, const u256_t *b)
{
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 d = (u128)a->w[i] - b->w[i] - borrow;
        a->w[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) & 1;
    }
}

static void shl1(u256_t *a, bool in)
{
    for (int i = 3; i > 0; i--)
        a->w[i] = a->w[i] << 1 | a->w[i - 1] >> 63;
    a->w[0] = a->w[0] << 1 | (uint64_t)in;
}

void u256_div(u256_t *q, const u256_t *n, const u256_t *d)
{
    assert(!u256_is_zero(d));
    u256_t rem = {{0}}, quo = {{0}};
    for (int i = (int)u256_bits(n) - 1; i >= 0; i--) {
        bool overflow = rem.w[3] >> 63; /* rem << 1 would pass 2^256 */
        shl1(&rem, bit(n, (unsigned)i));
        if (overflow || u256_cmp(&rem, d) >= 0) {
            sub(&rem, d);
            quo.w[i / 64] |= (uint64_t)1 << (i % 64);
        }
    }
    *q = quo;
}

bool u256_mul_div(u256_t *x, uint64_t mul, uint64_t div)
{
    if (div == 0)
        return false;
    uint64_t wide[5];
    u128 carry = 0;
    for (int i = 0; i < 4; i++) {
        carry += (u128)x->w[i] * mul;
        wide[i] = (uint64_t)carry;
        carry >>= 64;
    }
    wide[4] = (uint64_t)carry;
    u128 rem = 0;
    for (int i = 4; i >= 0; i--) {
        u128 cur = rem << 64 | wide[i];
        wide[i] = (uint64_t)(cur / div);
        rem = cur % div;
    }
    if (wide[4])
        return false;
    memcpy(x->w, wide, sizeof x->w);
    return true;
}

void u256_to_dec(char out[79], const u256_t *x)
{
    u256_t v = *x;
    char tmp[79];
    size_t n = 0;
    do {
        u128 rem = 0;
        for (int i = 3; i >= 0; i--) {
            u128 cur = rem << 64 | v.w[i];
            v.w[i] = (uint64_t)(cur / 10);
            rem = cur % 10;
        }
        tmp[n++] = (char)('0' + (int)rem);
    } while (!u256_is_zero(&v));
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

void u256_to_hex(char out[65], const u256_t *x)
{
    static const char digits[] = "0123456789abcdef";
    uint8_t be[32];
    u256_to_be(be, x);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[be[i] >> 4];
        out[2 * i + 1] = digits[be[i] & 15];
    }
    out[64] = '\0';
}
