/* pow.h and u256.h: compact targets against the shared vectors and Bitcoin
 * Core's arith_uint256 SetCompact/GetCompact cases, block work, the 256-bit
 * arithmetic, and the retarget rule (DESIGN §3.4, §3.5). Expected values were
 * computed independently (Python big integers), never by the code under test. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "hex.h"
#include "params.h"
#include "pow.h"
#include "u256.h"
#include "vectors.h"

static u256_t from_hex(const char *hex64)
{
    uint8_t be[32];
    cr_assert_eq(hex_decode_exact(be, 32, hex64), 0, "bad constant %s", hex64);
    u256_t x;
    u256_from_be(&x, be);
    return x;
}

static u256_t small(uint64_t v)
{
    u256_t x = {{v, 0, 0, 0}};
    return x;
}

static void assert_u256_hex(const u256_t *x, const char *want, const char *what)
{
    char got[65];
    u256_to_hex(got, x);
    cr_assert_str_eq(got, want, "%s", what);
}

static const char zero64[] = "0000000000000000000000000000000000000000000000000000000000000000";
static const char max64[] = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/* ---- compact targets ---- */

Test(pow, vectors_targets)
{
    json_t *targets = vectors_section("targets");
    size_t i;
    json_t *v;
    json_array_foreach(targets, i, v) {
        json_t *jbits = json_object_get(v, "bits");
        cr_assert(json_is_integer(jbits), "targets[%zu].bits", i);
        uint32_t bits = (uint32_t)json_integer_value(jbits);
        u256_t target, work;
        bool negative = true, overflow = true;
        pow_compact_to_target(&target, bits, &negative, &overflow);
        cr_assert_not(negative, "bits 0x%08x", bits);
        cr_assert_not(overflow, "bits 0x%08x", bits);
        assert_u256_hex(&target, vstr(v, "target"), "target of the bits");

        pow_work(&work, &target);
        char dec[79];
        u256_to_dec(dec, &work);
        cr_assert_str_eq(dec, vstr(v, "work"), "work of bits 0x%08x", bits);

        u256_t want = from_hex(vstr(v, "target"));
        cr_assert_eq(pow_target_to_compact(&want), bits, "compact of %s", vstr(v, "target"));
    }
}

Test(pow, bitcoin_core_set_compact)
{
    /* arith_uint256_tests.cpp (bignum_SetCompact) plus the overflow borders
     * of SetCompact's rule. back: GetCompact of the resulting value. */
    static const struct {
        uint32_t bits;
        const char *target;
        bool negative, overflow;
        uint32_t back;
    } v[] = {
        {0x00000000, zero64, false, false, 0},
        {0x00123456, zero64, false, false, 0},
        {0x01003456, zero64, false, false, 0},
        {0x02000056, zero64, false, false, 0},
        {0x03000000, zero64, false, false, 0},
        {0x04000000, zero64, false, false, 0},
        {0x00923456, zero64, false, false, 0},
        {0x01803456, zero64, false, false, 0},
        {0x02800056, zero64, false, false, 0},
        {0x03800000, zero64, false, false, 0},
        {0x04800000, zero64, false, false, 0},
        {0x01123456, "0000000000000000000000000000000000000000000000000000000000000012", false,
         false, 0x01120000},
        {0x02123456, "0000000000000000000000000000000000000000000000000000000000001234", false,
         false, 0x02123400},
        {0x03123456, "0000000000000000000000000000000000000000000000000000000000123456", false,
         false, 0x03123456},
        {0x04123456, "0000000000000000000000000000000000000000000000000000000012345600", false,
         false, 0x04123456},
        {0x05009234, "0000000000000000000000000000000000000000000000000000000092340000", false,
         false, 0x05009234},
        {0x20123456, "1234560000000000000000000000000000000000000000000000000000000000", false,
         false, 0x20123456},
        /* the largest values that still fit, and a non-canonical spelling of 2^248 */
        {0x2100ffff, "ffff000000000000000000000000000000000000000000000000000000000000", false,
         false, 0x2100ffff},
        {0x22000001, "0100000000000000000000000000000000000000000000000000000000000000", false,
         false, 0x20010000},
        {0x21000100, "0100000000000000000000000000000000000000000000000000000000000000", false,
         false, 0x20010000},
        {0x23000000, zero64, false, false, 0},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        u256_t t;
        bool negative = !v[i].negative, overflow = !v[i].overflow;
        pow_compact_to_target(&t, v[i].bits, &negative, &overflow);
        char what[64];
        snprintf(what, sizeof what, "SetCompact(0x%08x)", v[i].bits);
        assert_u256_hex(&t, v[i].target, what);
        cr_assert_eq(negative, v[i].negative, "%s: negative", what);
        cr_assert_eq(overflow, v[i].overflow, "%s: overflow", what);
        cr_assert_eq(pow_target_to_compact(&t), v[i].back, "%s: GetCompact 0x%08x, want 0x%08x",
                     what, pow_target_to_compact(&t), v[i].back);
    }
}

Test(pow, negative_and_overflow_flags)
{
    static const struct {
        uint32_t bits;
        bool negative, overflow;
        const char *target; /* NULL: meaningless */
    } v[] = {
        {0x01fedcba, true, false,
         "000000000000000000000000000000000000000000000000000000000000007e"},
        {0x04923456, true, false,
         "0000000000000000000000000000000000000000000000000000000012345600"},
        {0x1d80ffff, true, false, NULL},
        {0xff123456, false, true, NULL},
        {0x23000001, false, true, NULL},
        {0x22000100, false, true, NULL},
        {0x21010000, false, true, NULL},
        {0x22010000, false, true, NULL},
        {0xff000001, false, true, NULL},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        u256_t t;
        bool negative = !v[i].negative, overflow = !v[i].overflow;
        pow_compact_to_target(&t, v[i].bits, &negative, &overflow);
        cr_assert_eq(negative, v[i].negative, "0x%08x: negative", v[i].bits);
        cr_assert_eq(overflow, v[i].overflow, "0x%08x: overflow", v[i].bits);
        if (v[i].target)
            assert_u256_hex(&t, v[i].target, "target");
        /* the flags are optional outputs */
        pow_compact_to_target(&t, v[i].bits, NULL, NULL);
    }
}

Test(pow, target_to_compact)
{
    static const struct {
        const char *target;
        uint32_t bits;
    } v[] = {
        {zero64, 0},
        {"0000000000000000000000000000000000000000000000000000000000000080", 0x02008000},
        {"000000000000000000000000000000000000000000000000000000000000007e", 0x017e0000},
        {"0000000000000000000000000000000000000000000000000000000000ffffff", 0x0400ffff},
        /* rounded down to three significant bytes */
        {"0000000000000000000000000000000000000000000000000000000123456789", 0x05012345},
        {"00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 0x1d00ffff},
        {max64, 0x2100ffff},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        u256_t t = from_hex(v[i].target);
        cr_assert_eq(pow_target_to_compact(&t), v[i].bits, "compact of %s: 0x%08x, want 0x%08x",
                     v[i].target, pow_target_to_compact(&t), v[i].bits);
        /* the produced compact never has the sign bit */
        cr_assert_eq(pow_target_to_compact(&t) & 0x00800000, 0);
    }
}

Test(pow, work_extremes)
{
    u256_t t = from_hex(max64), w;
    pow_work(&w, &t);
    assert_u256_hex(&w, "0000000000000000000000000000000000000000000000000000000000000001",
                    "work of the largest target");
    /* 2^256 / (2^255) = 2: target 2^255 - 1 */
    t = from_hex("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    pow_work(&w, &t);
    assert_u256_hex(&w, "0000000000000000000000000000000000000000000000000000000000000002",
                    "work of 2^255-1");
    /* 2^256 / 2^128 = 2^128 */
    t = from_hex("00000000000000000000000000000000ffffffffffffffffffffffffffffffff");
    pow_work(&w, &t);
    char dec[79];
    u256_to_dec(dec, &w);
    cr_assert_str_eq(dec, "340282366920938463463374607431768211456");
}

/* ---- u256 ---- */

Test(u256, be_round_trip_and_limbs)
{
    uint8_t be[32], back[32];
    for (int i = 0; i < 32; i++)
        be[i] = (uint8_t)i;
    u256_t x;
    u256_from_be(&x, be);
    cr_assert_eq(x.w[0], 0x18191a1b1c1d1e1full);
    cr_assert_eq(x.w[3], 0x0001020304050607ull);
    u256_to_be(back, &x);
    cr_assert_arr_eq(back, be, 32);
    assert_u256_hex(&x, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                    "hex is big-endian");
}

Test(u256, cmp_and_zero)
{
    u256_t a = small(5), b = small(6), hi = {{0, 0, 0, 1}}, lo_max = {{UINT64_MAX, UINT64_MAX,
                                                                        UINT64_MAX, 0}};
    cr_assert_lt(u256_cmp(&a, &b), 0);
    cr_assert_gt(u256_cmp(&b, &a), 0);
    cr_assert_eq(u256_cmp(&a, &a), 0);
    /* the high limb decides */
    cr_assert_gt(u256_cmp(&hi, &lo_max), 0);
    cr_assert_lt(u256_cmp(&lo_max, &hi), 0);
    u256_t z = small(0);
    cr_assert(u256_is_zero(&z));
    cr_assert_not(u256_is_zero(&hi));
    cr_assert_not(u256_is_zero(&a));
}

Test(u256, add)
{
    u256_t a = small(UINT64_MAX), one = small(1);
    cr_assert_not(u256_add(&a, &one));
    assert_u256_hex(&a, "0000000000000000000000000000000000000000000000010000000000000000",
                    "carry into the second limb");
    a = from_hex("0000000000000000ffffffffffffffffffffffffffffffffffffffffffffffff");
    cr_assert_not(u256_add(&a, &one));
    assert_u256_hex(&a, "0000000000000001000000000000000000000000000000000000000000000000",
                    "carry through three limbs");
    a = from_hex(max64);
    cr_assert(u256_add(&a, &one), "2^256-1 + 1 overflows");
    assert_u256_hex(&a, zero64, "and wraps to 0");
    a = from_hex(max64);
    u256_t b = from_hex(max64);
    cr_assert(u256_add(&a, &b));
    assert_u256_hex(&a, "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe",
                    "(2^256-1)*2 mod 2^256");
    a = from_hex("8000000000000000000000000000000000000000000000000000000000000000");
    b = a;
    cr_assert(u256_add(&a, &b), "2^255 + 2^255 overflows");
    assert_u256_hex(&a, zero64, "to exactly 0");
}

Test(u256, div)
{
    static const struct {
        const char *n, *d, *q;
    } v[] = {
        {"123456789abcdef0fedcba9876543210123456789abcdef0fedcba9876543210",
         "0000000000000000000000000000000000000000000000001234567890abcdef",
         "0000000000000001000000008d8fff2c5e47f0934d2b9b86c07804db6e2f33ea"},
        {"123456789abcdef0fedcba9876543210123456789abcdef0fedcba9876543210",
         "0000000000000000000000000000000100000000000000000000000000000007",
         "00000000000000000000000000000000123456789abcdef0fedcba987654320f"},
        {"123456789abcdef0fedcba9876543210123456789abcdef0fedcba9876543210",
         "0000000000000000000000000000000000000000000000000000000000000003",
         "0611722833944a5054f43e32d21c10b00611722833944a5054f43e32d21c10b0"},
        {max64, "000000000000000000000000000000000000000000000000ffffffffffffffff",
         "0000000000000001000000000000000100000000000000010000000000000001"},
        {max64, "0000000000000001000000000000000000000000000000000000000000000001",
         "000000000000000000000000000000000000000000000000ffffffffffffffff"},
        {max64, "0000000000000000000000000000000000000000000000000000000000000001", max64},
        {max64, max64, "0000000000000000000000000000000000000000000000000000000000000001"},
        {"0000000000000000000000000000000000000000000000000000000000000005", max64, zero64},
        {zero64, "0000000000000000000000000000000000000000000000000000000000000007", zero64},
        /* a divisor with its top bit set: the remainder's shift must not lose a bit */
        {max64, "8000000000000000000000000000000000000000000000000000000000000001",
         "0000000000000000000000000000000000000000000000000000000000000001"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        u256_t n = from_hex(v[i].n), d = from_hex(v[i].d), q;
        u256_div(&q, &n, &d);
        char what[32];
        snprintf(what, sizeof what, "division %zu", i);
        assert_u256_hex(&q, v[i].q, what);
        /* the output may alias an input */
        u256_div(&n, &n, &d);
        assert_u256_hex(&n, v[i].q, what);
    }
}

Test(u256, mul_div)
{
    u256_t x = from_hex("8000000000000000000000000000000000000000000000000000000000000000");
    cr_assert(u256_mul_div(&x, 2, 4), "2^255*2/4 fits (the product needs 257 bits)");
    assert_u256_hex(&x, "4000000000000000000000000000000000000000000000000000000000000000",
                    "2^254");

    x = from_hex("8000000000000000000000000000000000000000000000000000000000000000");
    cr_assert_not(u256_mul_div(&x, 2, 1), "2^256 does not fit");
    assert_u256_hex(&x, "8000000000000000000000000000000000000000000000000000000000000000",
                    "unchanged on overflow");

    x = from_hex(max64);
    cr_assert(u256_mul_div(&x, UINT64_MAX, UINT64_MAX));
    assert_u256_hex(&x, max64, "(2^256-1)*m/m");

    x = small(7);
    cr_assert_not(u256_mul_div(&x, 10, 0), "division by zero");
    assert_u256_hex(&x, "0000000000000000000000000000000000000000000000000000000000000007",
                    "unchanged on division by zero");
    cr_assert(u256_mul_div(&x, 10, 3));
    assert_u256_hex(&x, "0000000000000000000000000000000000000000000000000000000000000017",
                    "70/3 rounds down to 23");

    x = from_hex("00000000ffff0000000000000000000000000000000000000000000000000000");
    cr_assert(u256_mul_div(&x, 47, 190));
    assert_u256_hex(&x, "000000003f534a1af286bca1af286bca1af286bca1af286bca1af286bca1af28",
                    "0xffff<<208 * 47/190");

    x = small(0);
    cr_assert(u256_mul_div(&x, UINT64_MAX, 1));
    assert_u256_hex(&x, zero64, "0 * m");
}

Test(u256, bits)
{
    static const struct {
        const char *x;
        unsigned bits;
    } v[] = {
        {zero64, 0},
        {"0000000000000000000000000000000000000000000000000000000000000001", 1},
        {"0000000000000000000000000000000000000000000000000000000000000080", 8},
        {"000000000000000000000000000000000000000000000000ffffffffffffffff", 64},
        {"0000000000000000000000000000000000000000000000010000000000000000", 65},
        {"0000000000000000000000000000000100000000000000000000000000000000", 129},
        {"8000000000000000000000000000000000000000000000000000000000000000", 256},
        {max64, 256},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        u256_t x = from_hex(v[i].x);
        cr_assert_eq(u256_bits(&x), v[i].bits, "bits of %s", v[i].x);
    }
}

Test(u256, to_dec)
{
    static const struct {
        const char *x, *dec;
    } v[] = {
        {zero64, "0"},
        {"0000000000000000000000000000000000000000000000000000000000000009", "9"},
        {"000000000000000000000000000000000000000000000000000000000000000a", "10"},
        {"0000000000000000000000000000000000000000000000010000000000000000",
         "18446744073709551616"},
        {max64, "115792089237316195423570985008687907853269984665640564039457584007913129639935"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        u256_t x = from_hex(v[i].x);
        char dec[79];
        memset(dec, 'x', sizeof dec);
        u256_to_dec(dec, &x);
        cr_assert_str_eq(dec, v[i].dec);
    }
}

/* ---- retargeting ---- */

#define T0 1320365123u

/* The demo rule with its documented numbers spelled out, so that these cases
 * do not move when the demo network is retuned: every 20 blocks toward 10 s,
 * expected time (20-1)*10 = 190 s, limit 0x1f00ffff. */
static chain_params_t retarget_params(void)
{
    chain_params_t p = *params_by_name("demo");
    p.retarget = true;
    p.retarget_interval = 20;
    p.target_spacing = 10;
    p.pow_limit_bits = 0x1f00ffff;
    return p;
}

Test(retarget, non_retarget_heights_keep_bits)
{
    chain_params_t p = retarget_params();
    static const uint64_t heights[] = {0, 1, 2, 19, 21, 39, 41, 100001};
    for (size_t i = 0; i < sizeof heights / sizeof heights[0]; i++) {
        /* timestamps that would move the target a lot, were they read */
        cr_assert_eq(pow_next_bits(&p, heights[i], 0x1d00ffff, T0, T0 + 1), 0x1d00ffff,
                     "height %llu", (unsigned long long)heights[i]);
        cr_assert_eq(pow_next_bits(&p, heights[i], 0x1c3fffc0, T0, T0 + 100000), 0x1c3fffc0);
    }
}

Test(retarget, on_time_keeps_target)
{
    chain_params_t p = retarget_params();
    static const uint64_t heights[] = {20, 40, 2000};
    static const uint32_t prev[] = {0x1d00ffff, 0x1e0fffff, 0x1c3fffc0, 0x1f00ffff};
    for (size_t h = 0; h < 3; h++)
        for (size_t i = 0; i < sizeof prev / sizeof prev[0]; i++)
            cr_assert_eq(pow_next_bits(&p, heights[h], prev[i], T0, T0 + 190), prev[i],
                         "height %llu, bits 0x%08x", (unsigned long long)heights[h], prev[i]);
}

Test(retarget, proportional_in_range)
{
    chain_params_t p = retarget_params();
    static const struct {
        uint64_t actual;
        uint32_t bits;
    } v[] = {
        {380, 0x1d01fffe}, /* x2 */
        {95, 0x1c7fff80},  /* x1/2 */
        {48, 0x1c40ac35},  /* just above 1/4 */
        {100, 0x1d0086bc},
        {250, 0x1d0150d6},
        {759, 0x1d03fea3}, /* just below 4 */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_assert_eq(pow_next_bits(&p, 20, 0x1d00ffff, T0, T0 + v[i].actual), v[i].bits,
                     "actual %llu s: 0x%08x, want 0x%08x", (unsigned long long)v[i].actual,
                     pow_next_bits(&p, 20, 0x1d00ffff, T0, T0 + v[i].actual), v[i].bits);
}

Test(retarget, fast_blocks_clamped_to_quarter)
{
    /* (0xffff << 208) / 4 = 0x3fffc << 204, compact 0x1c3fffc0: exactly a
     * quarter, whatever the time (47 s is below 190/4 = 47.5 s). */
    chain_params_t p = retarget_params();
    static const uint64_t actual[] = {0, 1, 10, 47};
    for (size_t i = 0; i < sizeof actual / sizeof actual[0]; i++)
        cr_assert_eq(pow_next_bits(&p, 20, 0x1d00ffff, T0, T0 + actual[i]), 0x1c3fffc0,
                     "actual %llu s: 0x%08x", (unsigned long long)actual[i],
                     pow_next_bits(&p, 20, 0x1d00ffff, T0, T0 + actual[i]));
    /* timestamps going backwards count as the fastest */
    cr_assert_eq(pow_next_bits(&p, 20, 0x1d00ffff, T0 + 1000, T0), 0x1c3fffc0);
}

Test(retarget, slow_blocks_clamped_to_four)
{
    chain_params_t p = retarget_params();
    static const uint64_t actual[] = {760, 761, 100000, 1000000000};
    for (size_t i = 0; i < sizeof actual / sizeof actual[0]; i++) {
        cr_assert_eq(pow_next_bits(&p, 20, 0x1d00ffff, T0, T0 + actual[i]), 0x1d03fffc,
                     "actual %llu s", (unsigned long long)actual[i]);
        cr_assert_eq(pow_next_bits(&p, 20, 0x1e00ffff, T0, T0 + actual[i]), 0x1e03fffc);
    }
}

Test(retarget, never_easier_than_limit)
{
    chain_params_t p = retarget_params();
    /* at the limit, slow blocks cannot ease it */
    cr_assert_eq(pow_next_bits(&p, 20, 0x1f00ffff, T0, T0 + 760), 0x1f00ffff);
    /* x4 and x2 of 0x1e7fffff pass the limit: clamped to it */
    cr_assert_eq(pow_next_bits(&p, 20, 0x1e7fffff, T0, T0 + 760), 0x1f00ffff);
    cr_assert_eq(pow_next_bits(&p, 20, 0x1e7fffff, T0, T0 + 380), 0x1f00ffff);
    /* x1.5 stays under it */
    cr_assert_eq(pow_next_bits(&p, 20, 0x1e7fffff, T0, T0 + 285), 0x1f00bfff);
    /* a previous target whose x4 does not fit 256 bits still ends at the limit */
    cr_assert_eq(pow_next_bits(&p, 20, 0x2100ffff, T0, T0 + 760), 0x1f00ffff);
}

Test(retarget, demo_network)
{
    /* The real demo params, whatever their tuning: retargets at multiples of
     * its interval, a quarter at most per step. */
    const chain_params_t *p = params_by_name("demo");
    cr_assert_not_null(p);
    cr_assert(p->retarget);
    cr_assert_gt(p->retarget_interval, 1);
    uint64_t n = p->retarget_interval;
    cr_assert_eq(pow_next_bits(p, n, 0x1d00ffff, T0, T0), 0x1c3fffc0);
    cr_assert_eq(pow_next_bits(p, 2 * n, 0x1d00ffff, T0, T0), 0x1c3fffc0);
    cr_assert_eq(pow_next_bits(p, n + 1, 0x1d00ffff, T0, T0), 0x1d00ffff);
    cr_assert_eq(pow_next_bits(p, n, 0x1d00ffff, T0, T0 + (n - 1) * p->target_spacing),
                 0x1d00ffff);
    cr_assert_eq(pow_next_bits(p, n, p->pow_limit_bits, T0, T0 + 1000000000),
                 p->pow_limit_bits);
}

Test(retarget, regtest_never_retargets)
{
    const chain_params_t *p = params_by_name("regtest");
    cr_assert_not_null(p);
    cr_assert_eq(p->pow_limit_bits, 0x207fffff, "DESIGN §3.5: regtest's fixed easiest target");
    static const uint64_t heights[] = {0, 1, 19, 20, 40, 2000, 2016, 210000};
    for (size_t i = 0; i < sizeof heights / sizeof heights[0]; i++) {
        cr_assert_eq(pow_next_bits(p, heights[i], 0x207fffff, T0, T0), 0x207fffff);
        cr_assert_eq(pow_next_bits(p, heights[i], 0x207fffff, T0, T0 + 1000000000), 0x207fffff);
        cr_assert_eq(pow_next_bits(p, heights[i], 0x1d00ffff, T0, T0), 0x1d00ffff);
    }
}

/* ---- difficulty (/status, /metrics) ---- */

Test(difficulty, target_values)
{
    /* exact in a double: at most 24 significant bits times a power of two */
    cr_assert_eq(pow_target_value(0x207fffff), ldexp(0x7fffff, 232));
    cr_assert_eq(pow_target_value(0x1f00ffff), ldexp(0xffff, 224));
    cr_assert_eq(pow_target_value(0x03123456), (double)0x123456);
    cr_assert_eq(pow_target_value(0x01003456), 0.0); /* shifted out: zero, not invalid */
    cr_assert_eq(pow_target_value(0x04923456), 0.0, "negative");
    cr_assert_eq(pow_target_value(0xff123456), 0.0, "overflow");
}

Test(difficulty, easiest_over_current)
{
    const chain_params_t *demo = params_by_name("demo"), *reg = params_by_name("regtest");
    cr_assert_eq(pow_difficulty(demo, demo->pow_limit_bits), 1.0);
    cr_assert_eq(pow_difficulty(reg, 0x207fffff), 1.0);
    cr_assert_eq(pow_difficulty(demo, 0x1e00ffff), 256.0);
    cr_assert_eq(pow_difficulty(demo, 0x1d00ffff), 65536.0);
    cr_assert_eq(pow_difficulty(demo, 0x1f007fff), (double)0xffff / 0x7fff);
    /* invalid or zero targets: 0, never a division by zero */
    cr_assert_eq(pow_difficulty(demo, 0x04923456), 0.0);
    cr_assert_eq(pow_difficulty(demo, 0), 0.0);
}
