/* Blocks (DESIGN §3.4): the 88-byte header against the independent vectors,
 * proof of work at the exact target, the block encoding, and every
 * context-free rejection of block_check() and block_decode(). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "hex.h"
#include "jsonfmt.h"
#include "merkle.h"
#include "params.h"
#include "script.h"
#include "tx.h"
#include "vectors.h"

#define REGTEST_BITS 0x207fffffu

/* ---- helpers ---------------------------------------------------------- */

static const chain_params_t *regtest(void)
{
    const chain_params_t *p = params_by_name("regtest");
    cr_assert_not_null(p);
    return p;
}

static const chain_params_t *demo(void)
{
    const chain_params_t *p = params_by_name("demo");
    cr_assert_not_null(p);
    return p;
}

static void assert_hash_hex(const hash32_t *h, const char *expected, const char *what)
{
    char hex[65];
    jsonfmt_hash_hex(hex, h);
    cr_assert_str_eq(hex, expected, "%s", what);
}

/* The big-endian target of bits from the "targets" vectors: an independent
 * reading of the compact form, so proof of work is checked by a plain byte
 * comparison here and not by the code under test. */
static void vector_target(uint8_t target[32], uint32_t bits)
{
    json_t *arr = vectors_section("targets"), *v;
    size_t i;
    json_array_foreach(arr, i, v) {
        if ((uint32_t)json_integer_value(json_object_get(v, "bits")) == bits) {
            vhex_exact(v, "target", target, 32);
            return;
        }
    }
    cr_assert_fail("no target vector for bits 0x%08x", bits);
}

static bool meets_by_bytes(const hash32_t *h, uint32_t bits)
{
    uint8_t t[32];
    vector_target(t, bits);
    return memcmp(h->b, t, 32) <= 0;
}

/* A block built in the test: caller-owned arrays (never block_free'd). */
#define MAX_TXS 6
typedef struct {
    uint8_t scripts[MAX_TXS][TX_COINBASE_SCRIPT_MAX];
    uint8_t lock[SCRIPT_P2PKH_LOCK_LEN];
    tx_input_t ins[MAX_TXS];
    tx_output_t outs[MAX_TXS];
    tx_t txs[MAX_TXS];
    hash32_t txids[MAX_TXS];
    block_t b;
} built_t;

static void init_built(built_t *bb)
{
    memset(bb, 0, sizeof *bb);
    hash20_t h;
    vhex_exact(json_array_get(vectors_section("keys"), 0), "pubkey_hash", h.b, 20);
    script_p2pkh_lock(bb->lock, &h);
    bb->b.txs = bb->txs;
    bb->b.txids = bb->txids;
}

static void set_tx(built_t *bb, size_t i, size_t script_len)
{
    bb->ins[i].script = bb->scripts[i];
    bb->ins[i].script_len = script_len;
    bb->outs[i] = (tx_output_t){params_subsidy(regtest(), 1), bb->lock, sizeof bb->lock};
    bb->txs[i] = (tx_t){.version = TX_VERSION, .n_inputs = 1, .inputs = &bb->ins[i],
                        .n_outputs = 1, .outputs = &bb->outs[i]};
}

/* txs[i] = a coinbase at height with a one-byte extranonce. */
static void put_coinbase(built_t *bb, size_t i, uint64_t height, uint8_t extranonce)
{
    int n = tx_coinbase_script(bb->scripts[i], height, &extranonce, 1);
    cr_assert_eq(n, 11);
    memset(bb->ins[i].prev_txid.b, 0, 32);
    bb->ins[i].index = TX_COINBASE_INDEX;
    set_tx(bb, i, (size_t)n);
}

/* txs[i] = a spend of output 0 of a made-up txid (its script is not run by
 * block_check, which is context-free). */
static void put_spend(built_t *bb, size_t i, uint8_t seed)
{
    memset(bb->scripts[i], 0x01, sizeof bb->scripts[i]);
    memset(bb->ins[i].prev_txid.b, seed, 32);
    bb->ins[i].index = 0;
    set_tx(bb, i, 4); /* 01 01 01 01: two pushes */
}

/* Grinds the nonce until the header's proof of work is (want_ok) or is not
 * met, checking the verdict against the vector target byte by byte. */
static void grind(block_header_t *h, bool want_ok)
{
    for (h->nonce = 0; h->nonce < 10000; h->nonce++) {
        hash32_t hash;
        block_header_hash(&hash, h);
        bool meets = block_hash_meets(&hash, h->bits);
        if (h->bits == REGTEST_BITS)
            cr_assert_eq(meets, meets_by_bytes(&hash, h->bits), "block_hash_meets disagrees "
                         "with the target vector at nonce %llu", (unsigned long long)h->nonce);
        if (meets == want_ok)
            return;
    }
    cr_assert_fail("no nonce found in 10000 at bits 0x%08x", h->bits);
}

/* Fills txids, the merkle root and a header on the regtest genesis, ground
 * to meet its bits. */
static void finish(built_t *bb, size_t n_txs)
{
    bb->b.n_txs = n_txs;
    for (size_t i = 0; i < n_txs; i++)
        cr_assert_eq(tx_txid(&bb->txs[i], &bb->txids[i]), 0);
    block_header_t *h = &bb->b.header;
    memset(h, 0, sizeof *h);
    h->version = BLOCK_VERSION;
    cr_assert_eq(hex_decode_exact(h->previous_block_hash.b, 32, regtest()->genesis_hash), 0);
    bool mutated;
    cr_assert_eq(merkle_root(&h->merkle_root, &mutated, bb->txids, n_txs), 0);
    h->timestamp = regtest()->genesis_timestamp + 600;
    h->bits = REGTEST_BITS;
    grind(h, true);
}

/* A valid block of a coinbase and n_txs - 1 spends. */
static void build_block(built_t *bb, size_t n_txs)
{
    init_built(bb);
    put_coinbase(bb, 0, 1, 0);
    for (size_t i = 1; i < n_txs; i++)
        put_spend(bb, i, (uint8_t)(0x40 + i));
    finish(bb, n_txs);
}

static void assert_block_ok(const block_t *b, const chain_params_t *p, const char *why)
{
    err_t e = {0};
    cr_assert_eq(block_check(b, p, &e), 0, "%s: rejected: %s", why, e.message);
}

static void assert_block_fails(const block_t *b, const chain_params_t *p, err_code_t code,
                               const char *why)
{
    err_t e = {0};
    int rc = block_check(b, p, &e);
    cr_assert_eq(rc, -(int)code, "%s: got %d (%s), expected %s", why, rc,
                 rc ? e.message : "accepted", err_str(code));
    cr_assert_eq(e.code, code);
    cr_assert_neq(e.message[0], '\0', "%s: message", why);
}

static mp_buf_t encode_block(const block_t *b)
{
    mp_buf_t out;
    mp_buf_init(&out, (size_t)4 << 20);
    cr_assert_eq(block_encode(b, &out), 0);
    return out;
}

static void assert_decode_fails(const uint8_t *data, size_t len, err_code_t code, const char *why)
{
    /* an exact-size copy, so ASan sees any read past the end */
    uint8_t *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    memcpy(copy, data, len);
    block_t b;
    memset(&b, 0x5a, sizeof b);
    err_t e = {0};
    int rc = block_decode(&b, copy, len, &e);
    cr_assert_eq(rc, -(int)code, "%s: got %d, expected %s", why, rc, err_str(code));
    cr_assert_neq(e.message[0], '\0', "%s: message", why);
    cr_assert_null(b.txs, "%s: nothing to free after a failure", why);
    cr_assert_null(b.txids);
    cr_assert_eq(b.n_txs, 0);
    block_free(&b); /* safe on a failed decode */
    free(copy);
}

/* ---- header vectors --------------------------------------------------- */

Test(block_header, vectors)
{
    json_t *arr = vectors_section("headers"), *v;
    size_t i;
    json_array_foreach(arr, i, v) {
        uint8_t raw[BLOCK_HEADER_LEN], back[BLOCK_HEADER_LEN];
        vhex_exact(v, "hex", raw, sizeof raw);
        block_header_t h;
        block_header_decode(&h, raw);
        block_header_encode(back, &h);
        cr_assert_arr_eq(back, raw, BLOCK_HEADER_LEN, "header %zu re-encodes", i);
        cr_assert_eq(h.version, 1);
        cr_assert_eq(h.bits, (uint32_t)json_integer_value(json_object_get(v, "bits")));
        cr_assert_eq(h.nonce, (uint64_t)json_integer_value(json_object_get(v, "nonce")));

        hash32_t hash;
        block_header_hash(&hash, &h);
        assert_hash_hex(&hash, vstr(v, "hash"), "header hash");
        bool pow_ok = json_is_true(json_object_get(v, "pow_ok"));
        cr_assert_eq(block_hash_meets(&hash, h.bits), pow_ok, "pow of header %zu", i);
        cr_assert_eq(meets_by_bytes(&hash, h.bits), pow_ok, "vector self-consistency %zu", i);

        json_t *expected = json_object_get(v, "json");
        if (expected) {
            json_t *j = jsonfmt_header(&h, -1);
            char *dump = json_dumps(j, JSON_SORT_KEYS);
            cr_assert(json_equal(j, expected), "JSON of header %zu: %s", i, dump);
            free(dump);
            json_decref(j);
            j = jsonfmt_header(&h, 12345);
            cr_assert_eq(json_integer_value(json_object_get(j, "height")), 12345);
            cr_assert_eq(json_object_del(j, "height"), 0);
            cr_assert(json_equal(j, expected), "JSON with height of header %zu", i);
            json_decref(j);
            j = jsonfmt_header(&h, 0);
            cr_assert(json_is_integer(json_object_get(j, "height")), "height 0 is a height");
            json_decref(j);
        }
    }
}

/* The target itself meets, one more does not (DESIGN: hash ≤ target), for
 * every vector target; invalid compact values meet nothing. */
Test(block_header, hash_meets_at_the_target)
{
    json_t *arr = vectors_section("targets"), *v;
    size_t i;
    json_array_foreach(arr, i, v) {
        uint32_t bits = (uint32_t)json_integer_value(json_object_get(v, "bits"));
        hash32_t h;
        vhex_exact(v, "target", h.b, 32);
        cr_assert(block_hash_meets(&h, bits), "the target of 0x%08x meets it", bits);
        /* target + 1, big-endian */
        int k = 31;
        while (k >= 0 && ++h.b[k] == 0)
            k--;
        cr_assert_not(block_hash_meets(&h, bits), "target + 1 of 0x%08x", bits);
        memset(h.b, 0, 32);
        cr_assert(block_hash_meets(&h, bits), "zero meets 0x%08x", bits);
        memset(h.b, 0xff, 32);
        cr_assert_not(block_hash_meets(&h, bits), "all ones fails 0x%08x", bits);
    }
    hash32_t zero;
    memset(zero.b, 0, 32);
    static const uint32_t invalid[] = {0x04923456 /* negative */, 0xff123456 /* overflow */,
                                       0x00000000 /* zero */, 0x01003456 /* zero */,
                                       0x22000100 /* overflow */};
    for (size_t n = 0; n < sizeof invalid / sizeof invalid[0]; n++) {
        cr_assert_not(block_hash_meets(&zero, invalid[n]), "bits 0x%08x", invalid[n]);
        cr_assert_not(block_bits_valid(invalid[n], regtest()), "bits 0x%08x", invalid[n]);
    }
}

Test(block_header, bits_against_the_network_limit)
{
    cr_assert(block_bits_valid(REGTEST_BITS, regtest()));
    cr_assert(block_bits_valid(0x1f00ffff, regtest()), "harder is fine");
    cr_assert(block_bits_valid(0x03123456, regtest()), "much harder is fine");
    cr_assert_not(block_bits_valid(0x2100ffff, regtest()), "easier than the limit (ffff00…)");
    cr_assert_not(block_bits_valid(0x20800000, regtest()), "mantissa 0: zero target");
    cr_assert(block_bits_valid(0x1f00ffff, demo()));
    cr_assert(block_bits_valid(0x1e00ffff, demo()));
    cr_assert_not(block_bits_valid(0x1f010000, demo()), "just easier than demo's limit");
    cr_assert_not(block_bits_valid(REGTEST_BITS, demo()));
}

/* ---- a block made of the vectors -------------------------------------- */


Test(block_vectors, header_and_coinbase_block)
{
    const json_t *cb = json_array_get(vectors_section("coinbase"), 0);
    /* headers 0..3: regtest bits ok / bad pow, demo bits ok / bad pow */
    static const struct {
        err_code_t regtest, demo;
    } verdict[4] = {{ERR_OK, ERR_BAD_BITS}, {ERR_BAD_POW, ERR_BAD_BITS},
                    {ERR_OK, ERR_OK}, {ERR_BAD_POW, ERR_BAD_POW}};
    cr_assert_eq(json_array_size(vectors_section("headers")), 4,
                 "the verdict table covers every header vector");
    for (size_t k = 0; k < 4; k++) {
        size_t len;
        uint8_t *raw = vectors_block(k, &len);
        block_t b;
        err_t e = {0};
        cr_assert_eq(block_decode(&b, raw, len, &e), 0, "block of header %zu: %s", k, e.message);
        cr_assert(b.owned);
        cr_assert_eq(b.n_txs, 1);
        assert_hash_hex(&b.txids[0], vstr(cb, "txid"), "txid filled by block_decode");
        hash32_t hash;
        block_header_hash(&hash, &b.header);
        assert_hash_hex(&hash, vstr(json_array_get(vectors_section("headers"), k), "hash"),
                        "hash of the decoded header");
        uint64_t height = 0;
        cr_assert_eq(tx_coinbase_height(&b.txs[0], &height, &e), 0);
        cr_assert_eq(height, 1);

        mp_buf_t out = encode_block(&b);
        cr_assert_eq(out.len, len);
        cr_assert_arr_eq(out.data, raw, len, "block %zu re-encodes", k);
        mp_buf_free(&out);

        if (verdict[k].regtest == ERR_OK)
            assert_block_ok(&b, regtest(), "vector block on regtest");
        else
            assert_block_fails(&b, regtest(), verdict[k].regtest, "vector block on regtest");
        if (verdict[k].demo == ERR_OK)
            assert_block_ok(&b, demo(), "vector block on demo");
        else
            assert_block_fails(&b, demo(), verdict[k].demo, "vector block on demo");
        block_free(&b);
        cr_assert_null(b.txs);
        free(raw);
    }
}

Test(block_vectors, json)
{
    const json_t *cb = json_array_get(vectors_section("coinbase"), 0);
    const json_t *hv = json_array_get(vectors_section("headers"), 0);
    size_t len;
    uint8_t *raw = vectors_block(0, &len);
    block_t b;
    err_t e = {0};
    cr_assert_eq(block_decode(&b, raw, len, &e), 0, "%s", e.message);

    json_t *j = jsonfmt_block(&b, 1);
    cr_assert_not_null(j);
    cr_assert_eq(json_object_size(j), 2, "header and transactions only");
    json_t *header = json_deep_copy(json_object_get(j, "header"));
    cr_assert_eq(json_integer_value(json_object_get(header, "height")), 1);
    json_object_del(header, "height");
    cr_assert(json_equal(header, json_object_get(hv, "json")), "block header JSON");
    json_decref(header);

    json_t *txs = json_object_get(j, "transactions");
    cr_assert_eq(json_array_size(txs), 1);
    json_t *tx = json_deep_copy(json_array_get(txs, 0));
    cr_assert_str_eq(json_string_value(json_object_get(tx, "transaction_hash")), vstr(cb, "txid"));
    json_object_del(tx, "transaction_hash");
    cr_assert(json_equal(tx, json_object_get(cb, "json")), "coinbase JSON in the block");
    json_decref(tx);
    json_decref(j);

    /* no height: the header has none */
    j = jsonfmt_block(&b, -1);
    cr_assert_null(json_object_get(json_object_get(j, "header"), "height"));
    cr_assert(json_equal(json_object_get(j, "header"), json_object_get(hv, "json")));
    json_decref(j);
    block_free(&b);
    free(raw);
}

/* ---- blocks built here ------------------------------------------------ */

Test(block_built, round_trip_and_check)
{
    for (size_t n = 1; n <= 5; n++) {
        built_t bb;
        build_block(&bb, n);
        hash32_t hash;
        block_header_hash(&hash, &bb.b.header);
        cr_assert(meets_by_bytes(&hash, REGTEST_BITS), "ground header meets the vector target");
        assert_block_ok(&bb.b, regtest(), "built block");

        mp_buf_t out = encode_block(&bb.b);
        /* the outer form by hand: fixarray 2, bin8 of 88, fixarray n */
        cr_assert_eq(out.data[0], 0x92);
        cr_assert_eq(out.data[1], 0xc4);
        cr_assert_eq(out.data[2], 88);
        cr_assert_eq(out.data[91], 0x90 + n);
        block_t d;
        err_t e = {0};
        cr_assert_eq(block_decode(&d, out.data, out.len, &e), 0, "%zu txs: %s", n, e.message);
        cr_assert_eq(d.n_txs, n);
        uint8_t h1[BLOCK_HEADER_LEN], h2[BLOCK_HEADER_LEN];
        block_header_encode(h1, &d.header);
        block_header_encode(h2, &bb.b.header);
        cr_assert_arr_eq(h1, h2, BLOCK_HEADER_LEN, "header survives the round trip");
        cr_assert_arr_eq(out.data + 3, h2, BLOCK_HEADER_LEN, "header bytes in the block");
        for (size_t i = 0; i < n; i++)
            cr_assert_arr_eq(d.txids[i].b, bb.txids[i].b, 32, "txid %zu of %zu", i, n);
        assert_block_ok(&d, regtest(), "decoded built block");
        mp_buf_t again = encode_block(&d);
        cr_assert_eq(again.len, out.len);
        cr_assert_arr_eq(again.data, out.data, out.len);

        json_t *j = jsonfmt_block(&d, 7);
        json_t *txs = json_object_get(j, "transactions");
        cr_assert_eq(json_array_size(txs), n);
        for (size_t i = 0; i < n; i++) {
            char hex[65];
            jsonfmt_hash_hex(hex, &bb.txids[i]);
            json_t *t = json_array_get(txs, i);
            cr_assert_str_eq(json_string_value(json_object_get(t, "transaction_hash")), hex);
            /* each element parses back to its transaction */
            tx_t parsed;
            cr_assert_eq(jsonfmt_parse_tx(&parsed, t, &e), 0, "%s", e.message);
            hash32_t txid;
            cr_assert_eq(tx_txid(&parsed, &txid), 0);
            cr_assert_arr_eq(txid.b, bb.txids[i].b, 32);
            tx_free(&parsed);
        }
        json_t *jh = json_object_get(j, "header");
        char hash_hex[65];
        jsonfmt_hash_hex(hash_hex, &hash);
        cr_assert_str_eq(json_string_value(json_object_get(jh, "hash")), hash_hex);
        cr_assert_eq(json_integer_value(json_object_get(jh, "height")), 7);
        char nonce_hex[17];
        snprintf(nonce_hex, sizeof nonce_hex, "%016llx", (unsigned long long)bb.b.header.nonce);
        cr_assert_str_eq(json_string_value(json_object_get(jh, "nonce")), nonce_hex);
        json_decref(j);
        mp_buf_free(&again);
        mp_buf_free(&out);
        block_free(&d);
    }
}

Test(block_built, bad_version)
{
    built_t bb;
    build_block(&bb, 2);
    bb.b.header.version = 2;
    grind(&bb.b.header, true);
    assert_block_fails(&bb.b, regtest(), ERR_BAD_VERSION, "version 2");
    bb.b.header.version = 0;
    grind(&bb.b.header, true);
    assert_block_fails(&bb.b, regtest(), ERR_BAD_VERSION, "version 0");
}

Test(block_built, bad_bits)
{
    static const struct {
        uint32_t bits;
        const char *why;
    } cases[] = {
        {0x2100ffff, "easier than the regtest limit"},
        {0x04923456, "negative compact"},
        {0xff123456, "overflowing compact"},
        {0x00000000, "zero target"},
        {0x20800000, "zero mantissa"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        built_t bb;
        build_block(&bb, 1);
        bb.b.header.bits = cases[i].bits;
        assert_block_fails(&bb.b, regtest(), ERR_BAD_BITS, cases[i].why);
    }
    /* demo's limit is harder: a valid regtest block is refused there */
    built_t bb;
    build_block(&bb, 1);
    assert_block_fails(&bb.b, demo(), ERR_BAD_BITS, "regtest bits on demo");
}

Test(block_built, bad_pow)
{
    built_t bb;
    build_block(&bb, 2);
    grind(&bb.b.header, false);
    hash32_t hash;
    block_header_hash(&hash, &bb.b.header);
    cr_assert_not(meets_by_bytes(&hash, REGTEST_BITS), "the ground nonce really fails");
    assert_block_fails(&bb.b, regtest(), ERR_BAD_POW, "nonce failing the target");
}

Test(block_built, coinbase_rules)
{
    built_t bb;
    /* no transactions at all */
    build_block(&bb, 1);
    bb.b.n_txs = 0;
    assert_block_fails(&bb.b, regtest(), ERR_BAD_COINBASE, "no transactions");

    /* a spend first, the coinbase second */
    init_built(&bb);
    put_spend(&bb, 0, 0x41);
    put_coinbase(&bb, 1, 1, 0);
    finish(&bb, 2);
    assert_block_fails(&bb.b, regtest(), ERR_BAD_COINBASE, "coinbase not first");

    /* only a spend */
    init_built(&bb);
    put_spend(&bb, 0, 0x41);
    finish(&bb, 1);
    assert_block_fails(&bb.b, regtest(), ERR_BAD_COINBASE, "no coinbase");

    /* two coinbases (distinct txids through their extranonces) */
    init_built(&bb);
    put_coinbase(&bb, 0, 1, 0);
    put_spend(&bb, 1, 0x41);
    put_coinbase(&bb, 2, 1, 1);
    finish(&bb, 3);
    assert_block_fails(&bb.b, regtest(), ERR_COINBASE_TX, "a second coinbase");

    /* a coinbase whose script lacks the height push fails tx_check */
    init_built(&bb);
    put_coinbase(&bb, 0, 1, 0);
    bb.scripts[0][0] = 7;
    finish(&bb, 1);
    assert_block_fails(&bb.b, regtest(), ERR_BAD_COINBASE, "coinbase without its height");
}

Test(block_built, transactions_are_checked)
{
    built_t bb;
    init_built(&bb);
    put_coinbase(&bb, 0, 1, 0);
    put_spend(&bb, 1, 0x41);
    bb.txs[1].version = 2;
    finish(&bb, 2);
    assert_block_fails(&bb.b, regtest(), ERR_BAD_VERSION, "a version-2 transaction");

    init_built(&bb);
    put_coinbase(&bb, 0, 1, 0);
    put_spend(&bb, 1, 0x41);
    bb.outs[1].amount = AMOUNT_MAX_MONEY + 1;
    finish(&bb, 2);
    assert_block_fails(&bb.b, regtest(), ERR_BAD_AMOUNT, "an amount over max money");

    init_built(&bb);
    put_coinbase(&bb, 0, 1, 0);
    put_spend(&bb, 1, 0x41);
    bb.txs[1].n_outputs = 0;
    finish(&bb, 2);
    assert_block_fails(&bb.b, regtest(), ERR_NO_OUTPUTS, "a transaction without outputs");
}

Test(block_built, duplicate_transactions)
{
    built_t bb;
    init_built(&bb);
    put_coinbase(&bb, 0, 1, 0);
    put_spend(&bb, 1, 0x41);
    put_spend(&bb, 2, 0x41); /* the same transaction as txs[1] */
    finish(&bb, 3);
    cr_assert_arr_eq(bb.txids[1].b, bb.txids[2].b, 32, "the two spends are one transaction");
    assert_block_fails(&bb.b, regtest(), ERR_DUPLICATE_TX, "the same transaction twice");

    /* CVE-2012-2459: [cb, a, b] and [cb, a, b, b] share a merkle root; the
     * first is valid, the second (its mutation) is refused */
    init_built(&bb);
    put_coinbase(&bb, 0, 1, 0);
    put_spend(&bb, 1, 0x41);
    put_spend(&bb, 2, 0x42);
    finish(&bb, 3);
    assert_block_ok(&bb.b, regtest(), "three distinct transactions");
    hash32_t root3 = bb.b.header.merkle_root;
    put_spend(&bb, 3, 0x42);
    cr_assert_eq(tx_txid(&bb.txs[3], &bb.txids[3]), 0);
    hash32_t root4;
    cr_assert_eq(merkle_root(&root4, NULL, bb.txids, 4), 0);
    cr_assert_arr_eq(root4.b, root3.b, 32, "the mutation keeps the root");
    bb.b.n_txs = 4; /* same header: its root and pow still hold */
    assert_block_fails(&bb.b, regtest(), ERR_DUPLICATE_TX, "CVE-2012-2459 mutation");
}

Test(block_built, bad_merkle)
{
    built_t bb;
    build_block(&bb, 3);
    bb.b.header.merkle_root.b[5] ^= 0x01;
    grind(&bb.b.header, true);
    assert_block_fails(&bb.b, regtest(), ERR_BAD_MERKLE, "merkle root off by one bit");

    /* the transactions reordered: same txids, another root */
    build_block(&bb, 3);
    hash32_t t = bb.txids[1];
    bb.txids[1] = bb.txids[2];
    bb.txids[2] = t;
    tx_t tx = bb.txs[1];
    bb.txs[1] = bb.txs[2];
    bb.txs[2] = tx;
    assert_block_fails(&bb.b, regtest(), ERR_BAD_MERKLE, "transactions swapped");
}

/* ---- decoding ------------------------------------------------------- */

Test(block_decode, non_canonical_forms)
{
    built_t bb;
    build_block(&bb, 1);
    mp_buf_t out = encode_block(&bb.b);
    const uint8_t *raw = out.data;
    size_t len = out.len;
    /* raw = 92 c4 58 <88> 91 <tx>; the tx starts 93 01 */
    cr_assert_eq(raw[92], 0x93);
    cr_assert_eq(raw[93], 0x01);
    uint8_t *m = malloc(len + 8);
    cr_assert_not_null(m);
    block_t b;
    err_t e = {0};
    cr_assert_eq(block_decode(&b, raw, len, &e), 0, "%s", e.message);
    block_free(&b);

    /* trailing byte */
    memcpy(m, raw, len);
    m[len] = 0x00;
    assert_decode_fails(m, len + 1, ERR_BAD_ENCODING, "trailing byte");
    /* a second block after the first */
    uint8_t *two = malloc(2 * len);
    cr_assert_not_null(two);
    memcpy(two, raw, len);
    memcpy(two + len, raw, len);
    assert_decode_fails(two, 2 * len, ERR_BAD_ENCODING, "two blocks");
    free(two);
    /* outer array of 3 (with a nil after the txs) */
    memcpy(m, raw, len);
    m[0] = 0x93;
    m[len] = 0xc0;
    assert_decode_fails(m, len + 1, ERR_BAD_ENCODING, "array of 3");
    /* outer array16 of 2 */
    m[0] = 0xdc;
    m[1] = 0x00;
    m[2] = 0x02;
    memcpy(m + 3, raw + 1, len - 1);
    assert_decode_fails(m, len + 2, ERR_BAD_ENCODING, "array16 for the block");
    /* header as bin16 */
    m[0] = 0x92;
    m[1] = 0xc5;
    m[2] = 0x00;
    m[3] = 88;
    memcpy(m + 4, raw + 3, len - 3);
    assert_decode_fails(m, len + 1, ERR_BAD_ENCODING, "bin16 header");
    /* header as str8 */
    memcpy(m, raw, len);
    m[1] = 0xd9;
    assert_decode_fails(m, len, ERR_BAD_ENCODING, "str header");
    /* a header of 87 and of 89 bytes */
    memcpy(m, raw, len);
    m[2] = 87;
    assert_decode_fails(m, len, ERR_BAD_ENCODING, "87-byte header");
    m[2] = 89;
    assert_decode_fails(m, len, ERR_BAD_ENCODING, "89-byte header");
    /* tx list as array16 */
    memcpy(m, raw, 91);
    m[91] = 0xdc;
    m[92] = 0x00;
    m[93] = 0x01;
    memcpy(m + 94, raw + 92, len - 92);
    assert_decode_fails(m, len + 2, ERR_BAD_ENCODING, "array16 tx list");
    /* more transactions declared than present */
    memcpy(m, raw, len);
    m[91] = 0x92;
    assert_decode_fails(m, len, ERR_BAD_ENCODING, "two txs declared, one present");
    m[91] = 0x9f;
    assert_decode_fails(m, len, ERR_BAD_ENCODING, "fifteen txs declared");
    /* a non-canonical transaction inside: version as uint8 */
    memcpy(m, raw, 93);
    m[93] = 0xcc;
    m[94] = 0x01;
    memcpy(m + 95, raw + 94, len - 94);
    assert_decode_fails(m, len + 1, ERR_BAD_ENCODING, "tx version as uint8");
    /* not an array at all */
    const uint8_t map[] = {0x80};
    assert_decode_fails(map, 1, ERR_BAD_ENCODING, "a map");
    assert_decode_fails(raw, 0, ERR_BAD_ENCODING, "nothing");
    /* the header alone, no tx list */
    assert_decode_fails(raw, 91, ERR_BAD_ENCODING, "no tx list");
    free(m);
    mp_buf_free(&out);

    /* an empty tx list decodes (block_check refuses it) */
    uint8_t empty[92];
    empty[0] = 0x92;
    empty[1] = 0xc4;
    empty[2] = 88;
    block_header_encode(empty + 3, &bb.b.header);
    empty[91] = 0x90;
    cr_assert_eq(block_decode(&b, empty, sizeof empty, &e), 0, "%s", e.message);
    cr_assert_eq(b.n_txs, 0);
    assert_block_fails(&b, regtest(), ERR_BAD_COINBASE, "decoded empty block");
    block_free(&b);
}

Test(block_decode, every_truncation_fails)
{
    size_t vlen;
    uint8_t *vraw = vectors_block(0, &vlen);
    built_t bb;
    build_block(&bb, 3);
    mp_buf_t out = encode_block(&bb.b);
    const uint8_t *blocks[2] = {vraw, out.data};
    size_t lens[2] = {vlen, out.len};
    for (size_t k = 0; k < 2; k++) {
        for (size_t n = 0; n < lens[k]; n++) {
            char why[64];
            snprintf(why, sizeof why, "block %zu cut at %zu of %zu", k, n, lens[k]);
            assert_decode_fails(blocks[k], n, ERR_BAD_ENCODING, why);
        }
    }
    mp_buf_free(&out);
    free(vraw);
}

/* A block of a coinbase and a spend whose output script is sized so that the
 * block encoding is exactly `size` bytes. */
static mp_buf_t block_of_size(size_t size, uint8_t **script_out)
{
    built_t *bb = malloc(sizeof *bb);
    cr_assert_not_null(bb);
    init_built(bb);
    put_coinbase(bb, 0, 1, 0);
    put_spend(bb, 1, 0x41);
    size_t slen = 100000; /* bin32 from here on: the encoding grows 1:1 */
    uint8_t *script = calloc(1, size);
    cr_assert_not_null(script);
    bb->outs[1].script = script;
    bb->outs[1].script_len = slen;
    bb->b.n_txs = 2;
    mp_buf_t probe = encode_block(&bb->b);
    cr_assert(probe.len < size);
    slen += size - probe.len;
    mp_buf_free(&probe);
    bb->outs[1].script_len = slen;
    mp_buf_t out;
    mp_buf_init(&out, size + 16);
    cr_assert_eq(block_encode(&bb->b, &out), 0);
    cr_assert_eq(out.len, size);
    free(bb);
    *script_out = script;
    return out;
}

Test(block_decode, size_limit)
{
    uint8_t *script;
    mp_buf_t out = block_of_size(BLOCK_MAX_SIZE, &script);
    block_t b;
    err_t e = {0};
    cr_assert_eq(block_decode(&b, out.data, out.len, &e), 0, "exactly the limit: %s", e.message);
    cr_assert_eq(b.n_txs, 2);
    block_free(&b);
    mp_buf_free(&out);
    free(script);

    out = block_of_size(BLOCK_MAX_SIZE + 1, &script);
    assert_decode_fails(out.data, out.len, ERR_TOO_LARGE, "one byte over the limit");
    mp_buf_free(&out);
    free(script);

    uint8_t *junk = calloc(1, BLOCK_MAX_SIZE + 1);
    cr_assert_not_null(junk);
    assert_decode_fails(junk, BLOCK_MAX_SIZE + 1, ERR_TOO_LARGE, "junk over the limit");
    free(junk);
}

/* ---- block_assemble (the miner's encoder) ----------------------------- */

Test(block_assemble, matches_the_encoding)
{
    /* the vector block: header 0 and coinbase 0, nothing else */
    size_t vlen;
    uint8_t *vraw = vectors_block(0, &vlen);
    block_t vb;
    err_t e = {0};
    cr_assert_eq(block_decode(&vb, vraw, vlen, &e), 0, "%s", e.message);
    mp_buf_t out;
    mp_buf_init(&out, BLOCK_MAX_SIZE);
    cr_assert_eq(block_assemble(&out, &vb.header, &vb.txs[0], NULL, NULL, 0), 0);
    cr_assert_eq(out.len, vlen);
    cr_assert_arr_eq(out.data, vraw, vlen, "assembled vector block");
    mp_buf_free(&out);
    block_free(&vb);
    free(vraw);

    /* a built block: the coinbase and two transactions given pre-encoded */
    built_t bb;
    build_block(&bb, 3);
    mp_buf_t expected = encode_block(&bb.b);
    mp_buf_t enc[2];
    const uint8_t *ptrs[2];
    size_t lens[2];
    for (size_t i = 0; i < 2; i++) {
        mp_buf_init(&enc[i], TX_MAX_SIZE);
        cr_assert_eq(tx_encode(&bb.txs[i + 1], &enc[i], false), 0);
        ptrs[i] = enc[i].data;
        lens[i] = enc[i].len;
    }
    mp_buf_init(&out, BLOCK_MAX_SIZE);
    cr_assert_eq(block_assemble(&out, &bb.b.header, &bb.txs[0], ptrs, lens, 2), 0);
    cr_assert_eq(out.len, expected.len);
    cr_assert_arr_eq(out.data, expected.data, expected.len, "assembled built block");
    block_t d;
    cr_assert_eq(block_decode(&d, out.data, out.len, &e), 0, "%s", e.message);
    assert_block_ok(&d, regtest(), "assembled block");
    block_free(&d);
    mp_buf_free(&out);
    for (size_t i = 0; i < 2; i++)
        mp_buf_free(&enc[i]);
    mp_buf_free(&expected);
}
