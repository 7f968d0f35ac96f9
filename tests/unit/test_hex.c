/* hex.h: lowercase encoding, strict decoding (either case accepted). */
#include <criterion/criterion.h>
#include <string.h>

#include "hex.h"

Test(hex, encode_lowercase_all_nibbles)
{
    static const uint8_t data[] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x00, 0xff};
    char out[2 * sizeof data + 1];
    memset(out, 'x', sizeof out);
    hex_encode(out, data, sizeof data);
    cr_assert_str_eq(out, "0123456789abcdef00ff");
}

Test(hex, encode_empty_writes_nul)
{
    char out[1] = {'x'};
    hex_encode(out, (const uint8_t *)"", 0);
    cr_assert_eq(out[0], '\0');
}

Test(hex, decode_lower_and_upper)
{
    static const uint8_t want[] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    uint8_t out[8];
    cr_assert_eq(hex_decode(out, sizeof out, "0123456789abcdef", 16), 8);
    cr_assert_arr_eq(out, want, 8);
    memset(out, 0, sizeof out);
    cr_assert_eq(hex_decode(out, sizeof out, "0123456789ABCDEF", 16), 8);
    cr_assert_arr_eq(out, want, 8);
    memset(out, 0, sizeof out);
    cr_assert_eq(hex_decode(out, sizeof out, "0123456789aBcDeF", 16), 8);
    cr_assert_arr_eq(out, want, 8);
}

Test(hex, decode_respects_hexlen_not_nul)
{
    /* only hexlen digits are read: the rest of the string is not looked at */
    uint8_t out[4] = {0};
    cr_assert_eq(hex_decode(out, sizeof out, "abcdzz", 4), 2);
    cr_assert_eq(out[0], 0xab);
    cr_assert_eq(out[1], 0xcd);
}

Test(hex, decode_empty)
{
    uint8_t out[1] = {0x55};
    cr_assert_eq(hex_decode(out, sizeof out, "", 0), 0);
    cr_assert_eq(hex_decode(out, 0, "", 0), 0);
    cr_assert_eq(out[0], 0x55);
}

Test(hex, decode_odd_length)
{
    uint8_t out[8];
    cr_assert_eq(hex_decode(out, sizeof out, "abc", 3), -1);
    cr_assert_eq(hex_decode(out, sizeof out, "a", 1), -1);
}

Test(hex, decode_bad_char)
{
    /* a bad character in the high nibble, the low nibble, first or last byte */
    static const char *const bad[] = {"g0", "0g", "zz00", "00 0", "0x00", "000-", "ab\n0",
                                      "G1", "@0", "/0", ":0", "`0", "\x80" "0"};
    uint8_t out[8];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(hex_decode(out, sizeof out, bad[i], strlen(bad[i])), -1, "accepted \"%s\"",
                     bad[i]);
}

Test(hex, decode_embedded_nul_is_bad)
{
    uint8_t out[4];
    cr_assert_eq(hex_decode(out, sizeof out, "ab\0d", 4), -1);
}

Test(hex, decode_capacity)
{
    uint8_t out[4] = {0};
    cr_assert_eq(hex_decode(out, 3, "00112233", 8), -1, "4 bytes into capacity 3");
    cr_assert_eq(hex_decode(out, 4, "00112233", 8), 4);
    cr_assert_eq(out[3], 0x33);
    cr_assert_eq(hex_decode(out, 0, "00", 2), -1);
}

Test(hex, decode_exact)
{
    uint8_t out[3];
    cr_assert_eq(hex_decode_exact(out, 3, "a1B2c3"), 0);
    cr_assert_eq(out[0], 0xa1);
    cr_assert_eq(out[1], 0xb2);
    cr_assert_eq(out[2], 0xc3);
    cr_assert_eq(hex_decode_exact(out, 3, "a1b2"), -1, "too short");
    cr_assert_eq(hex_decode_exact(out, 3, "a1b2c3d4"), -1, "too long");
    cr_assert_eq(hex_decode_exact(out, 3, "a1b2c"), -1, "odd");
    cr_assert_eq(hex_decode_exact(out, 3, "a1b2cg"), -1, "bad char");
    cr_assert_eq(hex_decode_exact(out, 0, ""), 0);
    cr_assert_eq(hex_decode_exact(out, 0, "00"), -1);
}

Test(hex, round_trip_every_byte)
{
    uint8_t data[256], back[256];
    char text[2 * 256 + 1];
    for (int i = 0; i < 256; i++)
        data[i] = (uint8_t)i;
    hex_encode(text, data, sizeof data);
    cr_assert_eq(strlen(text), 512);
    /* byte 0xa5 sits at offset 2*0xa5 */
    cr_assert_eq(strncmp(text + 2 * 0xa5, "a5", 2), 0);
    cr_assert_eq(hex_decode_exact(back, sizeof back, text), 0);
    cr_assert_arr_eq(back, data, sizeof data);
}
