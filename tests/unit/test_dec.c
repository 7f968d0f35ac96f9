/* dec.h: strict decimals, every edge (empty, 20 digits, 2^64, signs,
 * spaces), and that the digits need no NUL after them. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "dec.h"

static void ok(const char *s, uint64_t want)
{
    uint64_t v = 12345;
    cr_assert_eq(dec_u64(s, strlen(s), &v), 0, "\"%s\" refused", s);
    cr_assert_eq(v, want, "\"%s\"", s);
}

static void bad(const char *s, size_t n)
{
    uint64_t v = 12345;
    cr_assert_eq(dec_u64(s, n, &v), -1, "\"%.*s\" taken", (int)n, s);
    cr_assert_eq(v, 12345, "\"%.*s\" wrote a value", (int)n, s);
}

Test(dec, digits)
{
    ok("0", 0);
    ok("7", 7);
    ok("0042", 42);
    ok("18446744073709551615", UINT64_MAX);
    ok("00000000000000000001", 1);
}

Test(dec, refused)
{
    bad("", 0);
    bad("18446744073709551616", 20);  /* 2^64 */
    bad("99999999999999999999", 20);
    bad("000000000000000000001", 21); /* 21 digits, even of a small value */
    const char *not[] = {"-1", "+1", " 1", "1 ", "1x", "0x10", "1.0", "١"};
    for (size_t i = 0; i < sizeof not / sizeof not[0]; i++)
        bad(not[i], strlen(not[i]));
}

Test(dec, only_n_bytes_are_read)
{
    uint64_t v;
    cr_assert_eq(dec_u64("8080/block", 4, &v), 0);
    cr_assert_eq(v, 8080);
    bad("12", 3); /* the NUL is not a digit */
}
