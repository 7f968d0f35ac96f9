/* u256.h: the 256-bit arithmetic of targets and chain work, at its edges
 * (carries across limbs, the top bit, overflow), checked against values
 * computed outside (Python's integers). */
#include <criterion/criterion.h>
#include <string.h>

#include "hex.h"
#include "u256.h"

static u256_t of_hex(const char *hex)
{
    char pad[65];
    size_t n = strlen(hex);
    memset(pad, '0', 64 - n);
    memcpy(pad + 64 - n, hex, n + 1);
    uint8_t be[32];
    cr_assert_eq(hex_decode_exact(be, 32, pad), 0, "%s", hex);
    u256_t x;
    u256_from_be(&x, be);
    return x;
}

static void is_hex(const u256_t *x, const char *want)
{
    char got[65];
    u256_to_hex(got, x);
    const char *g = got;
    while (*g == '0' && g[1])
        g++;
    cr_assert_str_eq(g, want);
}

Test(u256, bytes_round_trip_and_order)
{
    uint8_t be[32], back[32];
    for (int i = 0; i < 32; i++)
        be[i] = (uint8_t)(i * 7 + 1);
    u256_t x;
    u256_from_be(&x, be);
    u256_to_be(back, &x);
    cr_assert_eq(memcmp(be, back, 32), 0);
    u256_t hi = of_hex("1" "0000000000000000" "0000000000000000" "0000000000000000");
    u256_t lo = of_hex("ffffffffffffffff" "ffffffffffffffff" "ffffffffffffffff");
    cr_assert_gt(u256_cmp(&hi, &lo), 0, "a higher limb outweighs every lower one");
    cr_assert_lt(u256_cmp(&lo, &hi), 0);
    cr_assert_eq(u256_cmp(&hi, &hi), 0);
    cr_assert(u256_is_zero(&(u256_t){{0}}));
    cr_assert_not(u256_is_zero(&lo));
}

Test(u256, addition_carries_and_reports_overflow)
{
    u256_t a = of_hex("ffffffffffffffff"), one = {{1, 0, 0, 0}};
    cr_assert_not(u256_add(&a, &one));
    is_hex(&a, "10000000000000000");
    u256_t max;
    memset(&max, 0xff, sizeof max);
    cr_assert(u256_add(&max, &one), "2^256 - 1 + 1 did not overflow");
    cr_assert(u256_is_zero(&max), "an overflow wraps");
}

Test(u256, division_and_scaling)
{
    u256_t q, n = of_hex("100000000000000000000000000000000000000000000003039"), /* 2^200+12345 */
              d = of_hex("10000000000000007");                                    /* 2^64+7 */
    u256_div(&q, &n, &d);
    is_hex(&q, "fffffffffffffff90000000000000030ff");
    u256_t x = of_hex("8000000000000000000000000000000000000000000000000000000000000000");
    cr_assert(u256_mul_div(&x, 3, 4));
    is_hex(&x, "6000000000000000000000000000000000000000000000000000000000000000");
    u256_t big = of_hex("8000000000000000000000000000000000000000000000000000000000000000");
    u256_t keep = big;
    cr_assert_not(u256_mul_div(&big, 2, 1), "2^256 fits");
    cr_assert_eq(u256_cmp(&big, &keep), 0, "a refused scaling changed x");
    cr_assert_not(u256_mul_div(&big, 1, 0), "a division by zero was done");
}

Test(u256, bits_and_decimal)
{
    static const struct {
        const char *hex;
        unsigned bits;
        const char *dec;
    } cases[] = {
        {"0", 0, "0"},
        {"1", 1, "1"},
        {"10000000000000000", 65, "18446744073709551616"},
        {"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 256,
         "115792089237316195423570985008687907853269984665640564039457584007913129639935"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        u256_t x = of_hex(cases[i].hex);
        cr_assert_eq(u256_bits(&x), cases[i].bits, "%s", cases[i].hex);
        char dec[79];
        u256_to_dec(dec, &x);
        cr_assert_str_eq(dec, cases[i].dec);
    }
}
