/* address.h: Base58Check addresses of the shared key vectors, the 40-hex
 * form, and rejection of every kind of malformed address. */
#include <criterion/criterion.h>
#include <string.h>

#include "address.h"
#include "hex.h"
#include "vectors.h"

#define VERSION_DEMO 0x1c
#define VERSION_REGTEST 0x57

static const char b58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* A decode that must fail with ERR_BAD_ADDRESS and a message. */
static void assert_bad(uint8_t version, const char *text)
{
    hash20_t h;
    err_t e = {.code = ERR_OK, .message = ""};
    cr_assert_eq(address_decode(&h, version, text, &e), -(int)ERR_BAD_ADDRESS,
                 "accepted \"%s\"", text);
    cr_assert_eq(e.code, ERR_BAD_ADDRESS, "\"%s\": code %s", text, err_str(e.code));
    cr_assert_neq(e.message[0], '\0', "\"%s\": no message", text);
    cr_assert_eq(address_decode(&h, version, text, NULL), -(int)ERR_BAD_ADDRESS);
}

static void assert_decodes(uint8_t version, const char *text, const uint8_t want[20])
{
    hash20_t h;
    err_t e = {0};
    cr_assert_eq(address_decode(&h, version, text, &e), 0, "\"%s\": %s", text, e.message);
    cr_assert_arr_eq(h.b, want, 20, "\"%s\" decodes to another hash", text);
}

Test(address, vectors_encode)
{
    json_t *keys = vectors_section("keys");
    size_t i;
    json_t *v;
    json_array_foreach(keys, i, v) {
        hash20_t pkh;
        vhex_exact(v, "pubkey_hash", pkh.b, 20);
        char out[ADDRESS_MAX];
        address_encode(out, VERSION_DEMO, &pkh);
        cr_assert_str_eq(out, vstr(v, "address_demo"), "%s: demo address", vstr(v, "name"));
        cr_assert_eq(out[0], 'C', "demo addresses start with C");
        address_encode(out, VERSION_REGTEST, &pkh);
        cr_assert_str_eq(out, vstr(v, "address_regtest"), "%s: regtest address",
                         vstr(v, "name"));
        cr_assert_eq(out[0], 'c', "regtest addresses start with c");
    }
}

Test(address, vectors_decode)
{
    json_t *keys = vectors_section("keys");
    size_t i;
    json_t *v;
    json_array_foreach(keys, i, v) {
        uint8_t pkh[20];
        vhex_exact(v, "pubkey_hash", pkh, 20);
        assert_decodes(VERSION_DEMO, vstr(v, "address_demo"), pkh);
        assert_decodes(VERSION_REGTEST, vstr(v, "address_regtest"), pkh);
        /* the tutorial's 40-hex form, on either network */
        assert_decodes(VERSION_DEMO, vstr(v, "pubkey_hash"), pkh);
        assert_decodes(VERSION_REGTEST, vstr(v, "pubkey_hash"), pkh);
    }
}

Test(address, other_network_rejected)
{
    json_t *keys = vectors_section("keys");
    size_t i;
    json_t *v;
    json_array_foreach(keys, i, v) {
        assert_bad(VERSION_REGTEST, vstr(v, "address_demo"));
        assert_bad(VERSION_DEMO, vstr(v, "address_regtest"));
    }
}

Test(address, bitcoin_leading_zeros)
{
    /* Version 0 puts leading '1's in the text: the Bitcoin wiki's example
     * address, and the all-zero hash (21 zero bytes, then the checksum). */
    hash20_t pkh, zero = {{0}};
    cr_assert_eq(hex_decode_exact(pkh.b, 20, "010966776006953d5567439e5e39f86a0d273bee"), 0);
    char out[ADDRESS_MAX];
    address_encode(out, 0x00, &pkh);
    cr_assert_str_eq(out, "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM");
    assert_decodes(0x00, "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM", pkh.b);
    address_encode(out, 0x00, &zero);
    cr_assert_str_eq(out, "1111111111111111111114oLvT2");
    assert_decodes(0x00, "1111111111111111111114oLvT2", zero.b);
    /* a '1' too many or too few changes the byte count */
    assert_bad(0x00, "11111111111111111111114oLvT2");
    assert_bad(0x00, "111111111111111111114oLvT2");
}

Test(address, extremes_round_trip)
{
    /* all-zero and all-ones hashes on both networks (shortest and longest text) */
    static const uint8_t versions[] = {VERSION_DEMO, VERSION_REGTEST, 0x00, 0xff};
    for (int fill = 0; fill < 2; fill++) {
        hash20_t pkh;
        memset(pkh.b, fill ? 0xff : 0x00, 20);
        for (size_t i = 0; i < sizeof versions; i++) {
            char out[ADDRESS_MAX];
            address_encode(out, versions[i], &pkh);
            cr_assert_lt(strlen(out), (size_t)ADDRESS_MAX);
            cr_assert_eq(strspn(out, b58), strlen(out), "non-base58 output %s", out);
            assert_decodes(versions[i], out, pkh.b);
        }
    }
    /* the same hash on the two networks, spelled out */
    hash20_t ones;
    memset(ones.b, 0xff, 20);
    char out[ADDRESS_MAX];
    address_encode(out, VERSION_DEMO, &ones);
    cr_assert_str_eq(out, "CfoVZ9eMbESQia3WiAfF4dtpFdUMYHY9na");
    address_encode(out, VERSION_REGTEST, &ones);
    cr_assert_str_eq(out, "cQk5eZEMUsn6y9Gd9vK3g2xEPPg1UHCL3p");
}

Test(address, every_changed_character_rejected)
{
    /* One changed character anywhere breaks the checksum (or the length). */
    json_t *keys = vectors_section("keys");
    size_t i;
    json_t *v;
    json_array_foreach(keys, i, v) {
        const char *addr = vstr(v, "address_demo");
        size_t n = strlen(addr);
        for (size_t pos = 0; pos < n; pos++) {
            char bad[ADDRESS_MAX];
            strcpy(bad, addr);
            const char *p = strchr(b58, bad[pos]);
            cr_assert_not_null(p);
            bad[pos] = b58[(size_t)(p - b58 + 1) % 58];
            assert_bad(VERSION_DEMO, bad);
        }
    }
}

Test(address, malformed_strings)
{
    const char *demo = vstr(json_array_get(vectors_section("keys"), 0), "address_demo");
    char buf[128];

    assert_bad(VERSION_DEMO, "");
    /* characters outside the Base58 alphabet, in place of the last one */
    static const char not_b58[] = {'0', 'O', 'I', 'l', '+', '/', ' ', '-', '\xc3'};
    for (size_t i = 0; i < sizeof not_b58; i++) {
        strcpy(buf, demo);
        buf[strlen(buf) - 1] = not_b58[i];
        assert_bad(VERSION_DEMO, buf);
        /* and in the middle */
        strcpy(buf, demo);
        buf[10] = not_b58[i];
        assert_bad(VERSION_DEMO, buf);
    }
    /* surrounding whitespace is not trimmed */
    snprintf(buf, sizeof buf, " %s", demo);
    assert_bad(VERSION_DEMO, buf);
    snprintf(buf, sizeof buf, "%s\n", demo);
    assert_bad(VERSION_DEMO, buf);
    /* truncated and extended */
    strcpy(buf, demo);
    buf[strlen(buf) - 1] = '\0';
    assert_bad(VERSION_DEMO, buf);
    snprintf(buf, sizeof buf, "%s2", demo);
    assert_bad(VERSION_DEMO, buf);
    /* far too long, of valid characters: 39, 41, 60 and 127 digits */
    static const size_t long_lens[] = {39, 41, 60, 127};
    for (size_t i = 0; i < sizeof long_lens / sizeof long_lens[0]; i++) {
        memset(buf, 'z', long_lens[i]);
        buf[long_lens[i]] = '\0';
        assert_bad(VERSION_DEMO, buf);
    }
    /* just one digit */
    assert_bad(VERSION_DEMO, "C");
    assert_bad(VERSION_DEMO, "1");
}

Test(address, forty_chars_not_hex)
{
    json_t *v = json_array_get(vectors_section("keys"), 0);
    char buf[64];
    /* 40 characters: hex with one non-hex digit */
    strcpy(buf, vstr(v, "pubkey_hash"));
    cr_assert_eq(strlen(buf), 40);
    buf[17] = 'g';
    assert_bad(VERSION_DEMO, buf);
    strcpy(buf, vstr(v, "pubkey_hash"));
    buf[39] = 'z';
    assert_bad(VERSION_DEMO, buf);
    /* 40 Base58 characters that are not hex */
    memset(buf, 'Z', 40);
    buf[40] = '\0';
    assert_bad(VERSION_DEMO, buf);
    /* 38 and 42 hex digits are neither form */
    strcpy(buf, vstr(v, "pubkey_hash"));
    buf[38] = '\0';
    assert_bad(VERSION_DEMO, buf);
    snprintf(buf, sizeof buf, "%s00", vstr(v, "pubkey_hash"));
    assert_bad(VERSION_DEMO, buf);
}
