/* mp.h: the writer's smallest forms at every boundary, the strict reader's
 * rejection of every larger form (DESIGN §3.1), wrong types, truncation,
 * lying lengths, mp_skip and the writer's size bound. Expected bytes are
 * written out from the msgpack specification, never taken from the writer. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "mp.h"

#define BIG (1u << 20)

/* ---- helpers ---- */

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    long n = hex_decode(out, cap, hex, strlen(hex));
    cr_assert_geq(n, 0, "bad hex constant %s", hex);
    return (size_t)n;
}

/* Asserts that b holds exactly the bytes of hex (then `tail` more bytes,
 * each equal to fill, when tail > 0). */
static void assert_buf(const mp_buf_t *b, const char *hex, size_t tail, uint8_t fill)
{
    uint8_t want[32];
    size_t n = unhex(want, sizeof want, hex);
    cr_assert(mp_buf_ok(b), "buffer failed writing %s", hex);
    cr_assert_eq(b->len, n + tail, "wrote %zu bytes, want %zu (%s + %zu)", b->len, n + tail, hex,
                 tail);
    char got[2 * 32 + 1];
    hex_encode(got, b->data, n);
    cr_assert_str_eq(got, hex);
    for (size_t i = 0; i < tail; i++)
        cr_assert_eq(b->data[n + i], fill, "payload byte %zu", i);
}

typedef enum { G_UINT, G_STR, G_BIN, G_ARRAY, G_MAP, G_BOOL, G_NIL } getter_t;
static const char *const getter_name[] = {"uint", "str", "bin", "array", "map", "bool", "nil"};

/* Runs one getter; *value is the uint, the str/bin length, the element
 * count, or the bool. */
static int get_any(mp_reader_t *r, getter_t g, uint64_t *value)
{
    uint32_t n = 0;
    size_t len = 0;
    const uint8_t *d;
    const char *s;
    bool bv = false;
    int rc;
    *value = 0;
    switch (g) {
    case G_UINT: return mp_get_uint(r, value);
    case G_STR: rc = mp_get_str(r, &s, &len); *value = len; return rc;
    case G_BIN: rc = mp_get_bin(r, &d, &len); *value = len; return rc;
    case G_ARRAY: rc = mp_get_array(r, &n); *value = n; return rc;
    case G_MAP: rc = mp_get_map(r, &n); *value = n; return rc;
    case G_BOOL: rc = mp_get_bool(r, &bv); *value = bv; return rc;
    case G_NIL: return mp_get_nil(r);
    }
    return -2;
}

/* A reader positioned after a one-byte prefix (nil), so that "the position
 * is unchanged" is checked at a non-zero offset. Caller frees *storage. */
static void reader_with_prefix(mp_reader_t *r, uint8_t **storage, const uint8_t *data,
                               size_t len, bool strict)
{
    uint8_t *buf = malloc(len + 1);
    cr_assert_not_null(buf);
    buf[0] = 0xc0;
    if (len)
        memcpy(buf + 1, data, len);
    mp_reader_init(r, buf, len + 1, strict);
    cr_assert_eq(mp_get_nil(r), 0);
    cr_assert_eq(r->pos, 1);
    *storage = buf;
}

static void expect_ok(const uint8_t *data, size_t len, bool strict, getter_t g, uint64_t want,
                      size_t consumed, const char *what)
{
    mp_reader_t r;
    uint8_t *buf;
    uint64_t v;
    reader_with_prefix(&r, &buf, data, len, strict);
    cr_assert_eq(get_any(&r, g, &v), 0, "%s: %s get_%s failed", what,
                 strict ? "strict" : "lenient", getter_name[g]);
    cr_assert_eq(v, want, "%s: value %llu, want %llu", what, (unsigned long long)v,
                 (unsigned long long)want);
    cr_assert_eq(r.pos, 1 + consumed, "%s: consumed %zu, want %zu", what, r.pos - 1, consumed);
    free(buf);
}

static void expect_fail(const uint8_t *data, size_t len, bool strict, getter_t g,
                        const char *what)
{
    mp_reader_t r;
    uint8_t *buf;
    uint64_t v;
    reader_with_prefix(&r, &buf, data, len, strict);
    cr_assert_eq(get_any(&r, g, &v), -1, "%s: %s get_%s accepted it", what,
                 strict ? "strict" : "lenient", getter_name[g]);
    cr_assert_eq(r.pos, 1, "%s: position moved on failure", what);
    free(buf);
}

static void expect_ok_hex(const char *hex, bool strict, getter_t g, uint64_t want,
                          size_t consumed)
{
    uint8_t data[64];
    size_t n = unhex(data, sizeof data, hex);
    expect_ok(data, n, strict, g, want, consumed, hex);
}

static void expect_fail_hex(const char *hex, bool strict, getter_t g)
{
    uint8_t data[64];
    size_t n = unhex(data, sizeof data, hex);
    expect_fail(data, n, strict, g, hex);
}

/* header bytes then payload bytes of zeros (0x00 is also a valid element). */
static uint8_t *with_payload(const char *hdr_hex, size_t payload, size_t *len)
{
    uint8_t hdr[16];
    size_t h = unhex(hdr, sizeof hdr, hdr_hex);
    uint8_t *buf = calloc(h + payload + 1, 1);
    cr_assert_not_null(buf);
    memcpy(buf, hdr, h);
    *len = h + payload;
    return buf;
}

/* ---- writer: smallest forms ---- */

Test(mp_writer, uint_boundaries)
{
    static const struct {
        uint64_t v;
        const char *hex;
    } v[] = {
        {0, "00"},
        {1, "01"},
        {0x7f, "7f"},
        {0x80, "cc80"},
        {0xff, "ccff"},
        {0x100, "cd0100"},
        {0xffff, "cdffff"},
        {0x10000, "ce00010000"},
        {0xffffffffu, "ceffffffff"},
        {0x100000000ull, "cf0000000100000000"},
        {0x0123456789abcdefull, "cf0123456789abcdef"},
        {UINT64_MAX, "cfffffffffffffffff"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        mp_buf_t b;
        mp_buf_init(&b, BIG);
        mp_put_uint(&b, v[i].v);
        assert_buf(&b, v[i].hex, 0, 0);
        mp_buf_free(&b);
    }
}

Test(mp_writer, str_boundaries)
{
    static const struct {
        size_t len;
        const char *hdr;
    } v[] = {
        {0, "a0"},       {1, "a1"},         {31, "bf"},         {32, "d920"},
        {255, "d9ff"},   {256, "da0100"},   {65535, "daffff"},  {65536, "db00010000"},
    };
    char *s = malloc(65536);
    cr_assert_not_null(s);
    memset(s, 'x', 65536);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        mp_buf_t b;
        mp_buf_init(&b, BIG);
        mp_put_str(&b, s, v[i].len);
        assert_buf(&b, v[i].hdr, v[i].len, 'x');
        mp_buf_free(&b);
    }
    free(s);
}

Test(mp_writer, cstr_bool_nil)
{
    mp_buf_t b;
    mp_buf_init(&b, BIG);
    mp_put_cstr(&b, "hi");
    mp_put_bool(&b, true);
    mp_put_bool(&b, false);
    mp_put_nil(&b);
    mp_put_cstr(&b, "");
    assert_buf(&b, "a26869c3c2c0a0", 0, 0);
    mp_buf_free(&b);
}

Test(mp_writer, bin_boundaries)
{
    /* bin has no fix form: even an empty bin is bin8 */
    static const struct {
        size_t len;
        const char *hdr;
    } v[] = {
        {0, "c400"},     {1, "c401"},       {32, "c420"},      {255, "c4ff"},
        {256, "c50100"}, {65535, "c5ffff"}, {65536, "c600010000"},
    };
    uint8_t *d = malloc(65536);
    cr_assert_not_null(d);
    memset(d, 0xab, 65536);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        mp_buf_t b;
        mp_buf_init(&b, BIG);
        mp_put_bin(&b, d, v[i].len);
        assert_buf(&b, v[i].hdr, v[i].len, 0xab);
        mp_buf_free(&b);
    }
    free(d);
}

Test(mp_writer, array_map_headers)
{
    static const struct {
        uint32_t n;
        const char *array, *map;
    } v[] = {
        {0, "90", "80"},
        {15, "9f", "8f"},
        {16, "dc0010", "de0010"},
        {65535, "dcffff", "deffff"},
        {65536, "dd00010000", "df00010000"},
        {UINT32_MAX, "ddffffffff", "dfffffffff"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        mp_buf_t b;
        mp_buf_init(&b, BIG);
        mp_put_array(&b, v[i].n);
        assert_buf(&b, v[i].array, 0, 0);
        mp_buf_reset(&b);
        mp_put_map(&b, v[i].n);
        assert_buf(&b, v[i].map, 0, 0);
        mp_buf_free(&b);
    }
}

Test(mp_writer, raw_appends)
{
    mp_buf_t b;
    mp_buf_init(&b, BIG);
    mp_put_raw(&b, "\x92\x01", 2);
    mp_put_raw(&b, "", 0);
    mp_put_uint(&b, 0x80);
    assert_buf(&b, "9201cc80", 0, 0);
    mp_buf_free(&b);
}

Test(mp_writer, max_bound_is_sticky)
{
    mp_buf_t b;
    mp_buf_init(&b, 4);
    mp_put_uint(&b, 1); /* 1 byte */
    cr_assert(mp_buf_ok(&b));
    mp_put_uint(&b, 0x10000); /* 5 more: past 4 */
    cr_assert_not(mp_buf_ok(&b));
    cr_assert_eq(b.len, 1, "a failed put must not write part of its value");
    /* later puts are no-ops, even ones that would fit */
    mp_put_nil(&b);
    mp_put_raw(&b, "\x01", 1);
    cr_assert_not(mp_buf_ok(&b));
    cr_assert_eq(b.len, 1);
    cr_assert_eq(b.data[0], 0x01);
    mp_buf_free(&b);
    mp_buf_free(&b); /* safe twice */
}

Test(mp_writer, max_bound_exact_fit)
{
    mp_buf_t b;
    mp_buf_init(&b, 5);
    mp_put_uint(&b, 0x10000); /* exactly 5 bytes */
    assert_buf(&b, "ce00010000", 0, 0);
    mp_put_nil(&b); /* the 6th byte */
    cr_assert_not(mp_buf_ok(&b));
    cr_assert_eq(b.len, 5);
    mp_buf_free(&b);

    /* a bin whose header fits but whose payload does not */
    mp_buf_init(&b, 10);
    mp_put_bin(&b, "0123456789", 10);
    cr_assert_not(mp_buf_ok(&b));
    mp_buf_free(&b);

    /* max 0: nothing fits */
    mp_buf_init(&b, 0);
    mp_put_nil(&b);
    cr_assert_not(mp_buf_ok(&b));
    cr_assert_eq(b.len, 0);
    mp_buf_free(&b);
}

Test(mp_writer, grows_past_initial_capacity)
{
    /* many small puts: the buffer must grow and keep every byte */
    mp_buf_t b;
    mp_buf_init(&b, BIG);
    for (unsigned i = 0; i < 5000; i++)
        mp_put_uint(&b, i % 128);
    cr_assert(mp_buf_ok(&b));
    cr_assert_eq(b.len, 5000);
    for (unsigned i = 0; i < 5000; i++)
        cr_assert_eq(b.data[i], i % 128, "byte %u", i);
    mp_buf_free(&b);
}

Test(mp_writer, reset_clears_failure_and_content)
{
    mp_buf_t b;
    mp_buf_init(&b, 3);
    mp_put_uint(&b, 0xffff); /* 3 bytes */
    mp_put_uint(&b, 1);      /* fails */
    cr_assert_not(mp_buf_ok(&b));
    mp_buf_reset(&b);
    cr_assert(mp_buf_ok(&b));
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.max, 3, "reset keeps the bound");
    mp_put_uint(&b, 0x80);
    assert_buf(&b, "cc80", 0, 0);
    mp_put_uint(&b, 0x100); /* would be 5 bytes in all */
    cr_assert_not(mp_buf_ok(&b));
    mp_buf_free(&b);
}

/* ---- reader: canonical forms ---- */

Test(mp_reader, uint_smallest_forms_accepted)
{
    expect_ok_hex("00", true, G_UINT, 0, 1);
    expect_ok_hex("7f", true, G_UINT, 0x7f, 1);
    expect_ok_hex("cc80", true, G_UINT, 0x80, 2);
    expect_ok_hex("ccff", true, G_UINT, 0xff, 2);
    expect_ok_hex("cd0100", true, G_UINT, 0x100, 3);
    expect_ok_hex("cdffff", true, G_UINT, 0xffff, 3);
    expect_ok_hex("ce00010000", true, G_UINT, 0x10000, 5);
    expect_ok_hex("ceffffffff", true, G_UINT, 0xffffffff, 5);
    expect_ok_hex("cf0000000100000000", true, G_UINT, 0x100000000ull, 9);
    expect_ok_hex("cfffffffffffffffff", true, G_UINT, UINT64_MAX, 9);
}

Test(mp_reader, uint_larger_forms_strict_rejects_lenient_accepts)
{
    static const struct {
        const char *hex;
        uint64_t v;
    } v[] = {
        {"cc00", 0},
        {"cc7f", 0x7f},
        {"cd0000", 0},
        {"cd007f", 0x7f},
        {"cd00ff", 0xff},
        {"ce00000000", 0},
        {"ce000000ff", 0xff},
        {"ce0000ffff", 0xffff},
        {"cf0000000000000000", 0},
        {"cf000000000000007f", 0x7f},
        {"cf000000000000ffff", 0xffff},
        {"cf00000000ffffffff", 0xffffffff},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t d[16];
        size_t n = unhex(d, sizeof d, v[i].hex);
        expect_fail(d, n, true, G_UINT, v[i].hex);
        expect_ok(d, n, false, G_UINT, v[i].v, n, v[i].hex);
    }
}

/* A header in a larger form than needed, with its payload, for str/bin. */
static void check_len_form(const char *hdr, size_t payload, getter_t g, bool strict_ok)
{
    size_t len;
    uint8_t *buf = with_payload(hdr, payload, &len);
    if (strict_ok)
        expect_ok(buf, len, true, g, payload, len, hdr);
    else
        expect_fail(buf, len, true, g, hdr);
    expect_ok(buf, len, false, g, payload, len, hdr);
    free(buf);
}

Test(mp_reader, str_forms)
{
    check_len_form("a0", 0, G_STR, true);
    check_len_form("bf", 31, G_STR, true);
    check_len_form("d920", 32, G_STR, true);
    check_len_form("d9ff", 255, G_STR, true);
    check_len_form("da0100", 256, G_STR, true);
    check_len_form("db00010000", 65536, G_STR, true);
    /* larger than needed */
    check_len_form("d900", 0, G_STR, false);
    check_len_form("d91f", 31, G_STR, false);
    check_len_form("da001f", 31, G_STR, false);
    check_len_form("da00ff", 255, G_STR, false);
    check_len_form("db0000001f", 31, G_STR, false);
    check_len_form("db000000ff", 255, G_STR, false);
    check_len_form("db0000ffff", 65535, G_STR, false);
}

Test(mp_reader, bin_forms)
{
    check_len_form("c400", 0, G_BIN, true);
    check_len_form("c4ff", 255, G_BIN, true);
    check_len_form("c50100", 256, G_BIN, true);
    check_len_form("c600010000", 65536, G_BIN, true);
    /* larger than needed */
    check_len_form("c50000", 0, G_BIN, false);
    check_len_form("c50020", 32, G_BIN, false);
    check_len_form("c500ff", 255, G_BIN, false);
    check_len_form("c600000000", 0, G_BIN, false);
    check_len_form("c6000000ff", 255, G_BIN, false);
    check_len_form("c60000ffff", 65535, G_BIN, false);
}

/* Container headers: only the header is consumed, so `consumed` is its size. */
static void check_container_form(const char *hdr, uint32_t n, getter_t g, bool strict_ok)
{
    size_t len, hdrlen = strlen(hdr) / 2, items = (size_t)n * (g == G_MAP ? 2 : 1);
    uint8_t *buf = with_payload(hdr, items, &len);
    if (strict_ok)
        expect_ok(buf, len, true, g, n, hdrlen, hdr);
    else
        expect_fail(buf, len, true, g, hdr);
    expect_ok(buf, len, false, g, n, hdrlen, hdr);
    free(buf);
}

Test(mp_reader, array_forms)
{
    check_container_form("90", 0, G_ARRAY, true);
    check_container_form("9f", 15, G_ARRAY, true);
    check_container_form("dc0010", 16, G_ARRAY, true);
    check_container_form("dcffff", 65535, G_ARRAY, true);
    check_container_form("dd00010000", 65536, G_ARRAY, true);
    check_container_form("dc0000", 0, G_ARRAY, false);
    check_container_form("dc000f", 15, G_ARRAY, false);
    check_container_form("dd00000000", 0, G_ARRAY, false);
    check_container_form("dd0000000f", 15, G_ARRAY, false);
    check_container_form("dd0000ffff", 65535, G_ARRAY, false);
}

Test(mp_reader, map_forms)
{
    check_container_form("80", 0, G_MAP, true);
    check_container_form("8f", 15, G_MAP, true);
    check_container_form("de0010", 16, G_MAP, true);
    check_container_form("deffff", 65535, G_MAP, true);
    check_container_form("df00010000", 65536, G_MAP, true);
    check_container_form("de0000", 0, G_MAP, false);
    check_container_form("de000f", 15, G_MAP, false);
    check_container_form("df00000000", 0, G_MAP, false);
    check_container_form("df0000000f", 15, G_MAP, false);
    check_container_form("df0000ffff", 65535, G_MAP, false);
}

Test(mp_reader, bool_nil_and_pointers)
{
    expect_ok_hex("c3", true, G_BOOL, 1, 1);
    expect_ok_hex("c2", true, G_BOOL, 0, 1);
    expect_ok_hex("c0", true, G_NIL, 0, 1);
    /* str and bin hand back pointers into the reader's bytes */
    static const uint8_t data[] = {0xa3, 'a', 'b', 'c', 0xc4, 0x02, 0x10, 0x20};
    mp_reader_t r;
    mp_reader_init(&r, data, sizeof data, true);
    const char *s;
    const uint8_t *d;
    size_t len;
    cr_assert_eq(mp_get_str(&r, &s, &len), 0);
    cr_assert_eq(len, 3);
    cr_assert_eq((const void *)s, (const void *)(data + 1));
    cr_assert_eq(mp_get_bin(&r, &d, &len), 0);
    cr_assert_eq(len, 2);
    cr_assert_eq(d, data + 6);
    cr_assert_eq(mp_left(&r), 0);
}

Test(mp_reader, round_trip_writer_output_strictly)
{
    static const uint64_t values[] = {0,      1,          0x7f,        0x80,       0xff,
                                      0x100,  0xffff,     0x10000,     0xffffffff, 0x100000000ull,
                                      12345,  1u << 31,   UINT64_MAX};
    mp_buf_t b;
    mp_buf_init(&b, BIG);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        mp_put_uint(&b, values[i]);
    cr_assert(mp_buf_ok(&b));
    mp_reader_t r;
    mp_reader_init(&r, b.data, b.len, true);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint64_t v;
        cr_assert_eq(mp_get_uint(&r, &v), 0, "value %zu", i);
        cr_assert_eq(v, values[i]);
    }
    cr_assert_eq(mp_left(&r), 0);
    mp_buf_free(&b);
}

/* ---- reader: wrong types ---- */

Test(mp_reader, wrong_types_rejected)
{
    /* each value next to the getters that must refuse it */
    static const struct {
        const char *hex;
        getter_t good;
    } v[] = {
        {"05", G_UINT},   {"cc80", G_UINT}, {"a161", G_STR},  {"c40161", G_BIN},
        {"9100", G_ARRAY}, {"810000", G_MAP}, {"c3", G_BOOL},  {"c0", G_NIL},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        for (int g = G_UINT; g <= G_NIL; g++)
            if ((getter_t)g != v[i].good) {
                expect_fail_hex(v[i].hex, true, (getter_t)g);
                expect_fail_hex(v[i].hex, false, (getter_t)g);
            }
    /* signed ints (even non-negative ones), floats, ext and 0xc1 are never uints */
    static const char *const not_uint[] = {"ff", "e0", "d001", "d0ff", "d10001", "d200000001",
                                           "d30000000000000001", "ca3f800000",
                                           "cb3ff0000000000000", "d40100", "c1"};
    for (size_t i = 0; i < sizeof not_uint / sizeof not_uint[0]; i++) {
        expect_fail_hex(not_uint[i], true, G_UINT);
        expect_fail_hex(not_uint[i], false, G_UINT);
    }
    /* str where bin is due, and the other way round (DESIGN §3.1) */
    expect_fail_hex("a0", true, G_BIN);
    expect_fail_hex("d920" "0000000000000000000000000000000000000000000000000000000000000000",
                    true, G_BIN);
    expect_fail_hex("c400", true, G_STR);
}

Test(mp_reader, get_bin_exact)
{
    static const uint8_t data[] = {0xc4, 0x03, 'a', 'b', 'c'};
    uint8_t out[4] = {0};
    mp_reader_t r;
    mp_reader_init(&r, data, sizeof data, true);
    cr_assert_eq(mp_get_bin_exact(&r, out, 4), -1, "3 bytes read as 4");
    cr_assert_eq(r.pos, 0);
    cr_assert_eq(mp_get_bin_exact(&r, out, 2), -1, "3 bytes read as 2");
    cr_assert_eq(r.pos, 0);
    cr_assert_eq(mp_get_bin_exact(&r, out, 3), 0);
    cr_assert_eq(r.pos, 5);
    cr_assert_arr_eq(out, "abc", 3);
    /* a str of the right length is still not a bin */
    static const uint8_t str[] = {0xa3, 'a', 'b', 'c'};
    mp_reader_init(&r, str, sizeof str, true);
    cr_assert_eq(mp_get_bin_exact(&r, out, 3), -1);
    cr_assert_eq(r.pos, 0);
    /* a non-canonical bin16 of 3 bytes, strict */
    static const uint8_t bin16[] = {0xc5, 0x00, 0x03, 'a', 'b', 'c'};
    mp_reader_init(&r, bin16, sizeof bin16, true);
    cr_assert_eq(mp_get_bin_exact(&r, out, 3), -1);
    cr_assert_eq(r.pos, 0);
}

/* ---- reader: truncation and lying lengths ---- */

Test(mp_reader, truncated_values)
{
    static const struct {
        const char *hex;
        getter_t g;
    } v[] = {
        {"", G_UINT},      {"cc", G_UINT},         {"cd01", G_UINT},
        {"ce000100", G_UINT}, {"cf00000001000000", G_UINT},
        {"", G_STR},       {"a1", G_STR},          {"a36162", G_STR},
        {"d9", G_STR},     {"d920", G_STR},        {"da01", G_STR},   {"db000100", G_STR},
        {"", G_BIN},       {"c4", G_BIN},          {"c401", G_BIN},   {"c405aabbccdd", G_BIN},
        {"c501", G_BIN},   {"c50100", G_BIN},      {"c6000100", G_BIN},
        {"", G_ARRAY},     {"dc", G_ARRAY},        {"dc00", G_ARRAY}, {"dd000000", G_ARRAY},
        {"", G_MAP},       {"de", G_MAP},          {"de00", G_MAP},   {"df000000", G_MAP},
        {"", G_BOOL},      {"", G_NIL},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        expect_fail_hex(v[i].hex, true, v[i].g);
        expect_fail_hex(v[i].hex, false, v[i].g);
    }
}

Test(mp_reader, container_longer_than_bytes_left)
{
    /* every element takes at least one byte; a map entry two */
    static const struct {
        const char *hex;
        getter_t g;
    } bad[] = {
        {"91", G_ARRAY},       {"930102", G_ARRAY},   {"9f" "0000", G_ARRAY},
        {"dc0010" "00", G_ARRAY}, {"ddffffffff", G_ARRAY}, {"dcffff", G_ARRAY},
        {"81", G_MAP},         {"8100", G_MAP},       {"82000000", G_MAP},
        {"de0010" "0000", G_MAP}, {"dfffffffff", G_MAP},   {"df7fffffff00", G_MAP},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_fail_hex(bad[i].hex, true, bad[i].g);
        expect_fail_hex(bad[i].hex, false, bad[i].g);
    }
    /* exactly enough bytes is fine */
    expect_ok_hex("93010203", true, G_ARRAY, 3, 1);
    expect_ok_hex("810102", true, G_MAP, 1, 1);
    expect_ok_hex("82010203c0", true, G_MAP, 2, 1);
    /* a 16-element array16 needs 16 bytes after its header */
    size_t len;
    uint8_t *buf = with_payload("dc0010", 15, &len);
    expect_fail(buf, len, true, G_ARRAY, "array16 of 16 with 15 bytes");
    free(buf);
    buf = with_payload("de0010", 31, &len);
    expect_fail(buf, len, true, G_MAP, "map16 of 16 with 31 bytes");
    free(buf);
}

Test(mp_reader, peek_types)
{
    static const struct {
        uint8_t b;
        mp_type_t t;
    } v[] = {
        {0x00, MP_UINT},  {0x7f, MP_UINT},  {0xcc, MP_UINT},  {0xcf, MP_UINT},
        {0xe0, MP_INT},   {0xff, MP_INT},   {0xd0, MP_INT},   {0xd3, MP_INT},
        {0x80, MP_MAP},   {0x8f, MP_MAP},   {0xde, MP_MAP},   {0xdf, MP_MAP},
        {0x90, MP_ARRAY}, {0x9f, MP_ARRAY}, {0xdc, MP_ARRAY}, {0xdd, MP_ARRAY},
        {0xa0, MP_STR},   {0xbf, MP_STR},   {0xd9, MP_STR},   {0xdb, MP_STR},
        {0xc4, MP_BIN},   {0xc6, MP_BIN},   {0xc0, MP_NIL},   {0xc2, MP_BOOL},
        {0xc3, MP_BOOL},  {0xca, MP_FLOAT}, {0xcb, MP_FLOAT}, {0xc7, MP_EXT},
        {0xc9, MP_EXT},   {0xd4, MP_EXT},   {0xd8, MP_EXT},   {0xc1, MP_INVALID},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        mp_reader_t r;
        mp_reader_init(&r, &v[i].b, 1, true);
        cr_assert_eq(mp_peek(&r), v[i].t, "byte 0x%02x", v[i].b);
        cr_assert_eq(r.pos, 0, "peek consumed");
    }
    mp_reader_t r;
    mp_reader_init(&r, "", 0, true);
    cr_assert_eq(mp_peek(&r), MP_INVALID, "peek at the end");
}

/* ---- mp_skip ---- */

/* Skips the value of hex followed by a sentinel 0x2a; checks it lands on it. */
static void expect_skip(const char *hex)
{
    uint8_t d[64];
    size_t n = unhex(d, sizeof d - 1, hex);
    d[n] = 0x2a;
    mp_reader_t r;
    mp_reader_init(&r, d, n + 1, true);
    cr_assert_eq(mp_skip(&r), 0, "cannot skip %s", hex);
    cr_assert_eq(r.pos, n, "skipping %s consumed %zu bytes, want %zu", hex, r.pos, n);
}

static void expect_skip_fails(const char *hex)
{
    uint8_t d[64];
    size_t n = unhex(d, sizeof d, hex);
    mp_reader_t r;
    uint8_t *buf;
    reader_with_prefix(&r, &buf, d, n, true);
    cr_assert_eq(mp_skip(&r), -1, "skipped %s", hex);
    cr_assert_eq(r.pos, 1, "%s: position moved on failure", hex);
    free(buf);
}

Test(mp_skip, every_type)
{
    static const char *const v[] = {
        "00", "cc80", "cf0000000100000000", "c0", "c2", "c3", "a3616263", "d9200000000000000000"
        "000000000000000000000000000000000000000000000000", "c40161", "c400", "90", "80",
        /* the types consensus objects never use, still skippable */
        "ff", "e0", "d0ff", "d1ffff", "d2ffffffff", "d3ffffffffffffffff", "ca3f800000",
        "cb3ff0000000000000", "d401aa", "d501aabb", "d601aabbccdd",
        "d701" "0011223344556677", "d801" "00112233445566778899aabbccddeeff",
        "c70201aabb", "c7000a", "c8000201aabb", "c90000000201aabb",
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        expect_skip(v[i]);
    /* and strict/lenient does not matter for values it does not inspect */
    expect_skip("93" "01" "a0" "c0");
}

Test(mp_skip, nested)
{
    /* [1, {"a": [bin(3), "xyz"], "b": nil}, true, 2^32] then a sentinel */
    expect_skip("94" "01" "82" "a161" "92" "c403010203" "a378797a" "a162" "c0" "c3"
                "cf0000000100000000");
}

Test(mp_skip, truncated_and_invalid)
{
    static const char *const v[] = {
        "", "c1", "cc", "cd01", "a2", "a261", "c402aa", "d9", "dc00",
        "d0", "d1ff", "d2ffffff", "d3ffffffffffffff", "ca3f80", "cb3ff0",
        "d401", "d501aa", "d801" "00112233", "c7", "c702", "c70201aa", "c8ffff01",
        "c9ffffffff01",
        /* an element missing or truncated inside a container */
        "92", "9201", "9201cd00", "82a161c0a162", "91" "91" "91" "cc",
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        expect_skip_fails(v[i]);
}

/* k nested one-element arrays around a 0. */
static uint8_t *nested(size_t k, size_t *len)
{
    uint8_t *d = malloc(k + 1);
    cr_assert_not_null(d);
    memset(d, 0x91, k);
    d[k] = 0x00;
    *len = k + 1;
    return d;
}

Test(mp_skip, depth_limit)
{
    size_t len;
    uint8_t *d = nested(32, &len);
    mp_reader_t r;
    mp_reader_init(&r, d, len, true);
    cr_assert_eq(mp_skip(&r), 0, "32 nested arrays are allowed");
    cr_assert_eq(r.pos, len);
    free(d);

    d = nested(33, &len);
    mp_reader_init(&r, d, len, true);
    cr_assert_eq(mp_skip(&r), -1, "33 nested arrays pass the limit of 32");
    cr_assert_eq(r.pos, 0);
    free(d);

    /* deep hostile input: no stack exhaustion, a clean failure */
    d = nested(100000, &len);
    mp_reader_init(&r, d, len, true);
    cr_assert_eq(mp_skip(&r), -1);
    cr_assert_eq(r.pos, 0);
    free(d);

    /* maps nest too: {0: {0: ... 0}} 33 deep */
    uint8_t m[2 * 33 + 1];
    for (size_t i = 0; i < 33; i++) {
        m[2 * i] = 0x81;
        m[2 * i + 1] = 0x00;
    }
    m[66] = 0x00;
    mp_reader_init(&r, m, sizeof m, true);
    cr_assert_eq(mp_skip(&r), -1, "33 nested maps");
    mp_reader_init(&r, m + 2, sizeof m - 2, true);
    cr_assert_eq(mp_skip(&r), 0, "32 nested maps");
    cr_assert_eq(r.pos, sizeof m - 2);
}
