/* common/jsonfmt.h: the JSON forms of transactions, headers and blocks
 * (DESIGN §4.3) — built and parsed back to the same bytes, every refusal of
 * a parser with its code and the field named, and the bounds: amounts past
 * int64, counts, nonces, sizes. (The vectors' own JSON is checked against
 * jsonfmt in test_tx.c and test_block.c, beside their encodings.) */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "builder.h"
#include "hex.h"
#include "jsonfmt.h"
#include "script.h"
#include "tx.h"
#include "vectors.h"

/* ---- jsonfmt_parse_tx -------------------------------------------------- */

static int parse_json_text(const char *text, tx_t *tx, err_t *e)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    cr_assert_not_null(j, "test JSON does not parse: %s", je.text);
    int rc = jsonfmt_parse_tx(tx, j, e);
    json_decref(j);
    return rc;
}

#define PREV "\"e26e1e6badeafdd7f86bb576867d9e6dc28c27a9669a701f38422fd19c4b4ed7\""

Test(jsonfmt, parse_defaults_and_refusals)
{
    tx_t tx;
    err_t e = {0};
    /* version may be left out; "OP_EQUAL_VERIFY" is the tutorial's spelling */
    const char *ok = "{\"inputs\":[{\"transaction_hash\":" PREV ",\"output_index\":1,"
                     "\"unlocking_script\":\"\"}],\"outputs\":[{\"amount\":1,\"locking_script\":"
                     "\"OP_DUP OP_HASH160 8d6324c8d2eb4c79afed7baaf78cc248a10de8c5 "
                     "OP_EQUAL_VERIFY OP_CHECKSIG\"}]}";
    cr_assert_eq(parse_json_text(ok, &tx, &e), 0, "%s", e.message);
    char *enc = tb_tx_hex(&tx, false);
    /* the "index needing uint32" vector's preimage shape: index 1, P2PKH to 8d63… */
    cr_assert_str_eq(enc, "93019193c420"
                          "e26e1e6badeafdd7f86bb576867d9e6dc28c27a9669a701f38422fd19c4b4ed7"
                          "01c400919201c419"
                          "76a9148d6324c8d2eb4c79afed7baaf78cc248a10de8c588ac");
    free(enc);
    tx_free(&tx);

    static const struct {
        const char *json, *why;
        err_code_t code;
    } bad[] = {
        {"[]", "an array", ERR_BAD_REQUEST},
        {"{\"outputs\":[]}", "no inputs field", ERR_BAD_REQUEST},
        {"{\"inputs\":[]}", "no outputs field", ERR_BAD_REQUEST},
        {"{\"inputs\":{},\"outputs\":[]}", "inputs not an array", ERR_BAD_REQUEST},
        {"{\"version\":-1,\"inputs\":[],\"outputs\":[]}", "negative version", ERR_BAD_REQUEST},
        {"{\"version\":\"1\",\"inputs\":[],\"outputs\":[]}", "version as string", ERR_BAD_REQUEST},
        {"{\"inputs\":[{\"transaction_hash\":\"e26e\",\"output_index\":1,"
         "\"unlocking_script\":\"\"}],\"outputs\":[]}", "short txid", ERR_BAD_REQUEST},
        {"{\"inputs\":[{\"transaction_hash\":" PREV ",\"output_index\":4294967296,"
         "\"unlocking_script\":\"\"}],\"outputs\":[]}", "index over 32 bits", ERR_BAD_REQUEST},
        {"{\"inputs\":[{\"transaction_hash\":" PREV ",\"output_index\":1}],\"outputs\":[]}",
         "no unlocking script", ERR_BAD_REQUEST},
        {"{\"inputs\":[{\"transaction_hash\":" PREV ",\"output_index\":1,"
         "\"unlocking_script\":\"OP_FOO\"}],\"outputs\":[]}", "bad unlocking ASM", ERR_BAD_SCRIPT},
        {"{\"inputs\":[],\"outputs\":[{\"amount\":-5,\"locking_script\":\"\"}]}",
         "negative amount", ERR_BAD_REQUEST},
        {"{\"inputs\":[],\"outputs\":[{\"amount\":1.5,\"locking_script\":\"\"}]}",
         "fractional amount", ERR_BAD_REQUEST},
        {"{\"inputs\":[],\"outputs\":[{\"amount\":1,\"locking_script\":\"abc\"}]}",
         "odd hex in a locking script", ERR_BAD_SCRIPT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&e, 0, sizeof e);
        int rc = parse_json_text(bad[i].json, &tx, &e);
        cr_assert_eq(rc, -(int)bad[i].code, "%s: got %d (%s)", bad[i].why, rc, e.message);
        cr_assert_neq(e.message[0], '\0', "%s: message", bad[i].why);
        cr_assert_null(tx.mem, "%s: nothing owned after failure", bad[i].why);
    }
}

/* JSON integers are int64 here: an amount over 2^63 - 1 (only an invalid
 * transaction has one) makes the builder fail instead of showing it negative;
 * max money and 2^63 - 1 itself are shown exactly. */
Test(jsonfmt, amounts_beyond_int64_are_not_shown_negative)
{
    uint8_t lock[SCRIPT_P2PKH_LOCK_LEN] = {0};
    tx_input_t in = {.index = 0};
    tx_output_t out = {AMOUNT_MAX_MONEY, lock, sizeof lock};
    tx_t tx = {.version = TX_VERSION, .n_inputs = 1, .inputs = &in, .n_outputs = 1,
               .outputs = &out};
    const uint64_t shown[] = {AMOUNT_MAX_MONEY, (uint64_t)INT64_MAX};
    for (size_t i = 0; i < 2; i++) {
        out.amount = shown[i];
        json_t *j = jsonfmt_tx(&tx, NULL);
        cr_assert_not_null(j);
        json_t *amount = json_object_get(json_array_get(json_object_get(j, "outputs"), 0), "amount");
        cr_assert_eq((uint64_t)json_integer_value(amount), shown[i]);
        json_decref(j);
    }
    out.amount = (uint64_t)INT64_MAX + 1;
    cr_assert_null(jsonfmt_tx(&tx, NULL));
    out.amount = UINT64_MAX;
    cr_assert_null(jsonfmt_tx(&tx, NULL));
}

/* ---- the small builders ------------------------------------------------- */

Test(jsonfmt, counts_clamp_at_int64)
{
    static const struct {
        uint64_t v;
        json_int_t shown;
    } cases[] = {
        {0, 0}, {1, 1}, {(uint64_t)INT64_MAX - 1, INT64_MAX - 1}, {(uint64_t)INT64_MAX, INT64_MAX},
        {(uint64_t)INT64_MAX + 1, INT64_MAX}, {UINT64_MAX, INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(jsonfmt_count(cases[i].v), cases[i].shown, "case %zu", i);
}

Test(jsonfmt, hash_hex_is_lowercase_in_byte_order)
{
    hash32_t h;
    for (int i = 0; i < 32; i++)
        h.b[i] = (uint8_t)(i * 8 + 0x0a);
    char hex[65];
    memset(hex, 'x', sizeof hex);
    jsonfmt_hash_hex(hex, &h);
    cr_assert_str_eq(hex, "0a121a222a323a424a525a626a727a828a929aa2aab2bac2cad2dae2eaf2fa02");
}

/* A script shown as ASM parses back to the same bytes, the empty one too. */
Test(jsonfmt, script_asm_parses_back)
{
    uint8_t lock[SCRIPT_P2PKH_LOCK_LEN];
    hash20_t pkh;
    memset(pkh.b, 0x8d, 20);
    script_p2pkh_lock(lock, &pkh);
    const struct {
        const uint8_t *s;
        size_t len;
    } cases[] = {{lock, sizeof lock}, {(const uint8_t *)"", 0}, {(const uint8_t *)"\x01\xff", 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = jsonfmt_script(cases[i].s, cases[i].len);
        cr_assert(json_is_string(j), "case %zu", i);
        uint8_t back[SCRIPT_MAX_SIZE];
        size_t len;
        err_t e;
        cr_assert_eq(script_from_asm(back, sizeof back, &len, json_string_value(j), &e), 0,
                     "case %zu: %s", i, e.message);
        cr_assert_eq(len, cases[i].len);
        cr_assert_arr_eq(back, cases[i].s, len, "case %zu", i);
        json_decref(j);
    }
}

/* ---- headers ------------------------------------------------------------ */

static block_header_t some_header(uint64_t nonce)
{
    block_header_t h = {.version = 1, .timestamp = 1700000000, .bits = 0x207fffff,
                        .nonce = nonce};
    memset(h.previous_block_hash.b, 0x11, 32);
    memset(h.merkle_root.b, 0x22, 32);
    return h;
}

Test(jsonfmt, header_fields_and_height)
{
    block_header_t h = some_header(0xab);
    json_t *j = jsonfmt_header(&h, -1);
    cr_assert_not_null(j);
    cr_assert_eq(json_object_size(j), 7, "the seven fields, no height");
    cr_assert_str_eq(json_string_value(json_object_get(j, "nonce")), "00000000000000ab");
    char hex[65];
    hash32_t hash;
    block_header_hash(&hash, &h);
    jsonfmt_hash_hex(hex, &hash);
    cr_assert_str_eq(json_string_value(json_object_get(j, "hash")), hex);
    json_decref(j);
    j = jsonfmt_header(&h, 0);
    cr_assert_eq(json_integer_value(json_object_get(j, "height")), 0, "height 0 is shown");
    json_decref(j);
}

/* "nonce" as 16 hex digits (big-endian) or an integer; the bounds of
 * "bits", "timestamp" and "version" inclusive. */
Test(jsonfmt, header_parse_takes_its_forms_and_bounds)
{
    static const struct {
        const char *key;
        const char *json; /* the field's value */
        int ok;
        uint64_t want; /* of the field read back */
    } cases[] = {
        {"nonce", "\"00000000000000ff\"", 1, 0xff},
        {"nonce", "\"ffffffffffffffff\"", 1, UINT64_MAX},
        {"nonce", "\"0123456789ABCDEF\"", 1, 0x0123456789abcdefu},
        {"nonce", "255", 1, 255},
        {"nonce", "9223372036854775807", 1, INT64_MAX},
        {"nonce", "\"ff\"", 0, 0},
        {"nonce", "\"000000000000000ff\"", 0, 0},
        {"nonce", "\"zz00000000000000\"", 0, 0},
        {"nonce", "-1", 0, 0},
        {"nonce", "1.5", 0, 0},
        {"bits", "4294967295", 1, UINT32_MAX},
        {"bits", "4294967296", 0, 0},
        {"timestamp", "9223372036854775807", 1, INT64_MAX},
        {"timestamp", "-1", 0, 0},
        {"version", "4294967295", 1, UINT32_MAX},
        {"version", "4294967296", 0, 0},
        {"version", "null", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        block_header_t h = some_header(0);
        json_t *j = jsonfmt_header(&h, -1);
        json_object_del(j, "hash"); /* it would not match */
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        cr_assert_not_null(v, "case %zu", i);
        json_object_set_new(j, cases[i].key, v);
        block_header_t got;
        err_t e = {0};
        int rc = jsonfmt_parse_header(&got, j, &e);
        if (cases[i].ok) {
            cr_assert_eq(rc, 0, "case %zu: %s", i, e.message);
            uint64_t field = strcmp(cases[i].key, "nonce") == 0  ? got.nonce
                             : strcmp(cases[i].key, "bits") == 0 ? got.bits
                             : strcmp(cases[i].key, "version") == 0 ? got.version
                                                                    : got.timestamp;
            cr_assert_eq(field, cases[i].want, "case %zu", i);
        } else {
            cr_assert_eq(rc, -(int)ERR_BAD_REQUEST, "case %zu accepted", i);
            cr_assert_not_null(strstr(e.message, cases[i].key), "case %zu: %s", i, e.message);
        }
        json_decref(j);
    }
}

/* ---- transactions ---------------------------------------------------------- */

Test(jsonfmt, tx_names_its_hash_only_when_given)
{
    uint8_t lock[SCRIPT_P2PKH_LOCK_LEN] = {0};
    tx_input_t in = {.index = 3};
    memset(in.prev_txid.b, 0x44, 32);
    tx_output_t out = {12345, lock, sizeof lock};
    tx_t tx = {.version = TX_VERSION, .n_inputs = 1, .inputs = &in, .n_outputs = 1,
               .outputs = &out};
    hash32_t txid;
    cr_assert_eq(tx_txid(&tx, &txid), 0);
    json_t *without = jsonfmt_tx(&tx, NULL), *with = jsonfmt_tx(&tx, &txid);
    cr_assert_null(json_object_get(without, "transaction_hash"));
    char hex[65];
    jsonfmt_hash_hex(hex, &txid);
    cr_assert_str_eq(json_string_value(json_object_get(with, "transaction_hash")), hex);
    /* either parses back to the same bytes ("transaction_hash" is not read) */
    for (int k = 0; k < 2; k++) {
        tx_t back;
        err_t e;
        cr_assert_eq(jsonfmt_parse_tx(&back, k ? with : without, &e), 0, "%s", e.message);
        char *a = tb_tx_hex(&tx, false), *b = tb_tx_hex(&back, false);
        cr_assert_str_eq(a, b);
        free(a);
        free(b);
        tx_free(&back);
    }
    json_decref(without);
    json_decref(with);
}

/* Hostile shapes: elements that are not objects, and a transaction past
 * TX_MAX_SIZE (too_large before any decoding). */
Test(jsonfmt, tx_parse_refuses_hostile_shapes)
{
    static const struct {
        const char *json, *says;
        err_code_t code;
    } cases[] = {
        {"{\"inputs\":[5],\"outputs\":[]}", "input 0", ERR_BAD_REQUEST},
        {"{\"inputs\":[],\"outputs\":[null]}", "output 0", ERR_BAD_REQUEST},
        {"{\"inputs\":[],\"outputs\":[{\"amount\":1,\"locking_script\":5}]}",
         "\"locking_script\" must be a string", ERR_BAD_REQUEST},
        {"{\"version\":4294967296,\"inputs\":[],\"outputs\":[]}", "\"version\"",
         ERR_BAD_REQUEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tx_t tx;
        err_t e = {0};
        cr_assert_eq(parse_json_text(cases[i].json, &tx, &e), -(int)cases[i].code, "case %zu",
                     i);
        cr_assert_not_null(strstr(e.message, cases[i].says), "case %zu: %s", i, e.message);
    }
    /* 120 outputs of a 9 000-byte script: over a megabyte */
    char *script = malloc(2 + 18000 + 1);
    cr_assert_not_null(script);
    memcpy(script, "0x", 2);
    memset(script + 2, 'a', 18000);
    script[18002] = '\0';
    json_t *outs = json_array();
    for (int i = 0; i < 120; i++)
        json_array_append_new(outs, json_pack("{s:i, s:s}", "amount", 1, "locking_script",
                                              script));
    free(script);
    json_t *j = json_pack("{s:[], s:o}", "inputs", "outputs", outs);
    tx_t tx;
    err_t e;
    cr_assert_eq(jsonfmt_parse_tx(&tx, j, &e), -(int)ERR_TOO_LARGE);
    cr_assert_not_null(strstr(e.message, "over 1000000 bytes"), "%s", e.message);
    cr_assert_null(tx.mem);
    json_decref(j);
}

/* ---- the JSON form parsed back (POST /block: jsonfmt_parse_block) -------- */

/* jsonfmt_parse_block(j) must give exactly want[0..len). */
static void parses_to(json_t *j, const uint8_t *want, size_t len, const char *what)
{
    mp_buf_t out;
    err_t e = {0};
    cr_assert_eq(jsonfmt_parse_block(&out, j, &e), 0, "%s: %s", what, e.message);
    cr_assert(out.len == len && memcmp(out.data, want, len) == 0, "%s: other bytes", what);
    mp_buf_free(&out);
}

/* The vector block (raw, len: malloc'd) decoded into *b and its JSON at
 * height. */
static json_t *vector_json(int64_t height, block_t *b, uint8_t **raw, size_t *len)
{
    err_t e;
    *raw = vectors_block(0, len);
    cr_assert_eq(block_decode(b, *raw, *len, &e), 0, "%s", e.message);
    json_t *j = jsonfmt_block(b, height);
    cr_assert_not_null(j);
    return j;
}

Test(jsonfmt, block_parse_gives_back_the_encoding)
{
    size_t len;
    uint8_t *raw;
    block_t b;
    err_t e;
    json_t *j = vector_json(1, &b, &raw, &len); /* "height" and "hash" in the header */
    parses_to(j, raw, len, "the JSON of a block");
    json_t *header = json_object_get(j, "header");
    json_t *flat = json_deep_copy(header);
    json_object_set(flat, "transactions", json_object_get(j, "transactions"));
    parses_to(flat, raw, len, "the header's fields beside the transactions");
    json_decref(flat);
    json_object_set_new(header, "nonce", json_integer((json_int_t)b.header.nonce));
    parses_to(j, raw, len, "the nonce as an integer");
    json_object_del(header, "version");
    json_object_del(header, "hash");
    parses_to(j, raw, len, "no version (1) and no hash");
    block_header_t h;
    cr_assert_eq(jsonfmt_parse_header(&h, header, &e), 0, "%s", e.message);
    cr_assert(memcmp(&h.merkle_root, &b.header.merkle_root, 32) == 0 &&
              h.nonce == b.header.nonce && h.timestamp == b.header.timestamp &&
              h.bits == b.header.bits && h.version == 1);
    json_decref(j);
    block_free(&b);
    free(raw);
}

/* A block JSON that must be refused with code and a message saying needle. */
static void refused(json_t *j, err_code_t code, const char *needle)
{
    mp_buf_t out;
    err_t e = {0};
    cr_assert_eq(jsonfmt_parse_block(&out, j, &e), -(int)code, "%s: accepted or %s", needle,
                 err_str(e.code));
    cr_assert(strstr(e.message, needle), "\"%s\" does not say \"%s\"", e.message, needle);
    mp_buf_free(&out);
    json_decref(j);
}

/* A copy of block JSON good with header[key] = value (taken; NULL: key
 * deleted). */
static json_t *with(const json_t *good, const char *key, json_t *value)
{
    json_t *c = json_deep_copy(good), *h = json_object_get(c, "header");
    if (value)
        json_object_set_new(h, key, value);
    else
        json_object_del(h, key);
    return c;
}

Test(jsonfmt, block_parse_refusals)
{
    size_t len;
    uint8_t *raw;
    block_t b;
    json_t *good = vector_json(-1, &b, &raw, &len);
    block_free(&b);
    free(raw);
    refused(json_string("x"), ERR_BAD_REQUEST, "\"block\" must be an object");
    refused(json_pack("{s:{}}", "header"), ERR_BAD_REQUEST, "\"transactions\"");
    refused(with(good, "previous_block_hash", NULL), ERR_BAD_REQUEST,
            "header: \"previous_block_hash\" must be 64 hex digits");
    refused(with(good, "merkle_root", json_string("abcd")), ERR_BAD_REQUEST, "\"merkle_root\"");
    refused(with(good, "bits", json_integer((json_int_t)1 << 32)), ERR_BAD_REQUEST,
            "\"bits\" must be an integer from 0 to 4294967295");
    refused(with(good, "timestamp", json_integer(-1)), ERR_BAD_REQUEST, "\"timestamp\"");
    refused(with(good, "version", json_string("1")), ERR_BAD_REQUEST, "\"version\"");
    refused(with(good, "nonce", json_string("xyz")), ERR_BAD_REQUEST, "\"nonce\" must be 16 hex");
    refused(with(good, "nonce", json_integer(-5)), ERR_BAD_REQUEST, "\"nonce\"");
    refused(with(good, "timestamp", json_integer(12)), ERR_BAD_REQUEST, "\"hash\" does not match");
    json_t *bad_tx = json_deep_copy(good);
    json_array_append_new(json_object_get(bad_tx, "transactions"), json_pack("{s:[]}", "inputs"));
    refused(bad_tx, ERR_BAD_REQUEST, "transaction 1: ");
    /* past a block's size: 120 transactions of a 9 000-byte script each */
    char *script = malloc(2 + 18000 + 1);
    memcpy(script, "0x", 2);
    memset(script + 2, 'a', 18000);
    script[18002] = '\0';
    json_t *tx = json_pack("{s:[{s:s, s:i, s:s}], s:[{s:i, s:s}]}", "inputs", "transaction_hash",
                           "0101010101010101010101010101010101010101010101010101010101010101",
                           "output_index", 0, "unlocking_script", "", "outputs", "amount", 1,
                           "locking_script", script);
    free(script);
    cr_assert_not_null(tx);
    json_t *big = json_deep_copy(good), *txs = json_object_get(big, "transactions");
    for (int i = 0; i < 120; i++)
        json_array_append(txs, tx);
    json_decref(tx);
    refused(big, ERR_TOO_LARGE, "the block is over 1000000 bytes");
    json_decref(good);
}
