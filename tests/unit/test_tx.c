/* Transactions (DESIGN §3.2, §3.4 coinbase form): encoding, txid, sighash,
 * signatures and the JSON form, checked against the independent vectors in
 * shared/vectors.json; the strict decoder against hostile bytes; and each
 * context-free rule of tx_check(). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "hex.h"
#include "jsonfmt.h"
#include "key.h"
#include "script.h"
#include "tx.h"
#include "vectors.h"

/* ---- helpers ---------------------------------------------------------- */

/* Lowercase hex of bytes, malloc'd: comparing hex strings makes a failing
 * assertion show where the bytes differ. */
static char *to_hex(const uint8_t *d, size_t n)
{
    char *s = malloc(2 * n + 1);
    cr_assert_not_null(s);
    hex_encode(s, d, n);
    return s;
}

static void assert_hash_hex(const hash32_t *h, const char *expected, const char *what, size_t i)
{
    char hex[65];
    jsonfmt_hash_hex(hex, h);
    cr_assert_str_eq(hex, expected, "%s of vector %zu", what, i);
}

/* The "keys" vector called name. */
static const json_t *key_vector(const char *name)
{
    json_t *keys = vectors_section("keys"), *k;
    size_t i;
    json_array_foreach(keys, i, k)
        if (strcmp(vstr(k, "name"), name) == 0)
            return k;
    cr_assert_fail("no key vector named %s", name);
    return NULL;
}

static void decode_vector(tx_t *tx, const json_t *v, size_t i)
{
    size_t len;
    uint8_t *raw = vhex(v, "hex", &len);
    err_t e = {0};
    cr_assert_eq(tx_decode(tx, raw, len, &e), 0, "vector %zu does not decode: %s", i, e.message);
    free(raw);
}

/* A transaction built in the test (caller-owned storage), valid by default:
 * one input spending output 1 of prev, one P2PKH output of 5 coins. */
typedef struct {
    tx_input_t in[3];
    tx_output_t out[3];
    uint8_t unlock[SCRIPT_P2PKH_UNLOCK_LEN];
    uint8_t lock[SCRIPT_P2PKH_LOCK_LEN];
    tx_t tx;
} built_tx_t;

static void build_valid(built_tx_t *b)
{
    memset(b, 0, sizeof *b);
    memset(b->unlock, 0x11, sizeof b->unlock);
    hash20_t h;
    memset(h.b, 0x22, sizeof h.b);
    script_p2pkh_lock(b->lock, &h);
    for (int i = 0; i < 3; i++) {
        memset(b->in[i].prev_txid.b, 0x33 + i, 32);
        b->in[i].index = 1;
        b->in[i].script = b->unlock;
        b->in[i].script_len = sizeof b->unlock;
        b->out[i] = (tx_output_t){5 * AMOUNT_COIN, b->lock, sizeof b->lock};
    }
    b->tx = (tx_t){.version = TX_VERSION, .n_inputs = 1, .inputs = b->in,
                   .n_outputs = 1, .outputs = b->out};
}

static void assert_check_fails(const tx_t *tx, err_code_t code, const char *why)
{
    err_t e = {0};
    int rc = tx_check(tx, NULL, &e);
    cr_assert_eq(rc, -(int)code, "%s: tx_check gave %d (%s), expected %s", why, rc,
                 rc ? e.message : "accepted", err_str(code));
    cr_assert_eq(e.code, code, "%s: err code", why);
    cr_assert_neq(e.message[0], '\0', "%s: a rejection carries a message", why);
}

static void assert_check_ok(const tx_t *tx, const char *why)
{
    err_t e = {0};
    cr_assert_eq(tx_check(tx, NULL, &e), 0, "%s: rejected: %s", why, e.message);
}

/* ---- the "transactions" vectors -------------------------------------- */

Test(tx_vectors, decode_reencode_txid_sighash)
{
    json_t *txs = vectors_section("transactions"), *v;
    size_t i;
    json_array_foreach(txs, i, v) {
        tx_t tx;
        decode_vector(&tx, v, i);
        cr_assert_not_null(tx.mem, "a decoded tx owns its storage");

        char *enc = tb_tx_hex(&tx, false);
        cr_assert_str_eq(enc, vstr(v, "hex"), "re-encoding of vector %zu", i);
        free(enc);
        char *pre = tb_tx_hex(&tx, true);
        cr_assert_str_eq(pre, vstr(v, "sighash_preimage_hex"), "sighash preimage of vector %zu", i);
        free(pre);

        hash32_t txid, sighash;
        cr_assert_eq(tx_txid(&tx, &txid), 0);
        cr_assert_eq(tx_sighash(&tx, &sighash), 0);
        assert_hash_hex(&txid, vstr(v, "txid"), "txid", i);
        assert_hash_hex(&sighash, vstr(v, "sighash"), "sighash", i);

        /* the decoded fields are the JSON's (an independent reading of them) */
        json_t *j = json_object_get(v, "json");
        cr_assert_eq(tx.version, json_integer_value(json_object_get(j, "version")));
        json_t *ins = json_object_get(j, "inputs"), *outs = json_object_get(j, "outputs");
        cr_assert_eq(tx.n_inputs, json_array_size(ins), "inputs of vector %zu", i);
        cr_assert_eq(tx.n_outputs, json_array_size(outs), "outputs of vector %zu", i);
        for (size_t k = 0; k < tx.n_inputs; k++) {
            json_t *in = json_array_get(ins, k);
            assert_hash_hex(&tx.inputs[k].prev_txid, vstr(in, "transaction_hash"), "prev txid", i);
            cr_assert_eq(tx.inputs[k].index,
                         (uint32_t)json_integer_value(json_object_get(in, "output_index")));
        }
        for (size_t k = 0; k < tx.n_outputs; k++)
            cr_assert_eq(tx.outputs[k].amount,
                         (amount_t)json_integer_value(
                             json_object_get(json_array_get(outs, k), "amount")),
                         "amount %zu of vector %zu", k, i);

        amount_t sum = 0;
        err_t e = {0};
        cr_assert_eq(tx_check(&tx, &sum, &e), 0, "vector %zu fails tx_check: %s", i, e.message);
        amount_t expected_sum = 0;
        for (size_t k = 0; k < json_array_size(outs); k++)
            expected_sum += (amount_t)json_integer_value(
                json_object_get(json_array_get(outs, k), "amount"));
        cr_assert_eq(sum, expected_sum, "sum of outputs of vector %zu", i);
        cr_assert_not(tx_is_coinbase(&tx), "vector %zu is no coinbase", i);

        tx_free(&tx);
        cr_assert_null(tx.mem, "tx_free zeroes the tx");
        cr_assert_eq(tx.n_inputs, 0);
    }
}

Test(tx_vectors, signatures)
{
    json_t *txs = vectors_section("transactions"), *v;
    size_t i;
    json_array_foreach(txs, i, v) {
        const json_t *kv = key_vector(vstr(v, "signer"));
        uint8_t seed[KEY_SEED_LEN], pubkey[KEY_PUBKEY_LEN], expected_sig[KEY_SIG_LEN];
        vhex_exact(kv, "seed", seed, sizeof seed);
        vhex_exact(kv, "pubkey", pubkey, sizeof pubkey);
        vhex_exact(v, "signature", expected_sig, sizeof expected_sig);

        key_pair_t k;
        err_t e = {0};
        cr_assert_eq(key_from_seed(&k, seed, &e), 0, "%s", e.message);
        cr_assert_arr_eq(k.pubkey, pubkey, KEY_PUBKEY_LEN, "pubkey of %s", vstr(kv, "name"));

        tx_t tx;
        decode_vector(&tx, v, i);
        hash32_t sighash;
        cr_assert_eq(tx_sighash(&tx, &sighash), 0);
        uint8_t sig[KEY_SIG_LEN];
        cr_assert_eq(key_sign(&k, sig, sighash.b, sizeof sighash.b, &e), 0, "%s", e.message);
        char *sig_hex = to_hex(sig, sizeof sig);
        cr_assert_str_eq(sig_hex, vstr(v, "signature"), "signature of vector %zu", i);
        free(sig_hex);
        cr_assert(key_verify(pubkey, expected_sig, sighash.b, sizeof sighash.b),
                  "the vector's signature verifies (vector %zu)", i);

        /* every input of the vector is the P2PKH unlocking of that signature */
        uint8_t unlock[SCRIPT_P2PKH_UNLOCK_LEN];
        script_p2pkh_unlock(unlock, expected_sig, pubkey);
        for (size_t k2 = 0; k2 < tx.n_inputs; k2++) {
            cr_assert_eq(tx.inputs[k2].script_len, sizeof unlock);
            cr_assert_arr_eq(tx.inputs[k2].script, unlock, sizeof unlock,
                             "unlocking script %zu of vector %zu", k2, i);
        }
        tx_free(&tx);
    }
}

Test(tx_vectors, json_form)
{
    json_t *txs = vectors_section("transactions"), *v;
    size_t i;
    json_array_foreach(txs, i, v) {
        json_t *expected = json_object_get(v, "json");
        cr_assert_not_null(expected);
        tx_t tx;
        decode_vector(&tx, v, i);

        json_t *j = jsonfmt_tx(&tx, NULL);
        cr_assert_not_null(j);
        char *got = json_dumps(j, JSON_SORT_KEYS);
        cr_assert(json_equal(j, expected), "JSON of vector %zu differs: %s", i, got);
        free(got);
        json_decref(j);

        /* with a txid, the answer adds "transaction_hash" and nothing else */
        hash32_t txid;
        cr_assert_eq(tx_txid(&tx, &txid), 0);
        j = jsonfmt_tx(&tx, &txid);
        cr_assert_not_null(j);
        const char *th = json_string_value(json_object_get(j, "transaction_hash"));
        cr_assert_not_null(th, "transaction_hash present");
        cr_assert_str_eq(th, vstr(v, "txid"));
        cr_assert_eq(json_object_del(j, "transaction_hash"), 0);
        cr_assert(json_equal(j, expected), "JSON with txid of vector %zu", i);
        json_decref(j);
        tx_free(&tx);

        /* the vector's JSON parses back to exactly the vector's bytes */
        err_t e = {0};
        tx_t parsed;
        cr_assert_eq(jsonfmt_parse_tx(&parsed, expected, &e), 0, "vector %zu JSON: %s", i,
                     e.message);
        char *enc = tb_tx_hex(&parsed, false);
        cr_assert_str_eq(enc, vstr(v, "hex"), "JSON of vector %zu re-encodes", i);
        free(enc);
        tx_free(&parsed);
    }
}

/* ---- the "coinbase" vectors ------------------------------------------ */

/* The pubkey hash in a P2PKH ASM text, read with sscanf (not script_from_asm,
 * so that the hand-built script does not depend on the parser under test). */
static void p2pkh_hash_from_asm(hash20_t *h, const char *asm_text)
{
    char hex[41];
    cr_assert_eq(sscanf(asm_text, "OP_DUP OP_HASH160 %40s OP_EQUALVERIFY OP_CHECKSIG", hex), 1,
                 "not a P2PKH ASM: %s", asm_text);
    cr_assert_eq(hex_decode_exact(h->b, 20, hex), 0);
}

Test(tx_vectors, coinbase)
{
    json_t *cbs = vectors_section("coinbase"), *v;
    size_t i;
    json_array_foreach(cbs, i, v) {
        uint64_t height = (uint64_t)json_integer_value(json_object_get(v, "height"));
        size_t en_len;
        uint8_t *en = vhex(v, "extranonce", &en_len);
        json_t *j = json_object_get(v, "json");
        json_t *outs = json_object_get(j, "outputs");
        size_t n_out = json_array_size(outs);
        cr_assert(n_out > 0 && n_out <= 4);

        /* by hand: the coinbase input and P2PKH outputs */
        uint8_t script[TX_COINBASE_SCRIPT_MAX];
        int slen = tx_coinbase_script(script, height, en, en_len);
        cr_assert_eq(slen, (int)(9 + 1 + en_len), "coinbase script length of vector %zu", i);
        tx_input_t in = {.index = TX_COINBASE_INDEX, .script = script, .script_len = (size_t)slen};
        uint8_t locks[4][SCRIPT_P2PKH_LOCK_LEN];
        tx_output_t out[4];
        for (size_t k = 0; k < n_out; k++) {
            json_t *o = json_array_get(outs, k);
            hash20_t h;
            p2pkh_hash_from_asm(&h, vstr(o, "locking_script"));
            script_p2pkh_lock(locks[k], &h);
            out[k] = (tx_output_t){(amount_t)json_integer_value(json_object_get(o, "amount")),
                                   locks[k], SCRIPT_P2PKH_LOCK_LEN};
        }
        tx_t tx = {.version = TX_VERSION, .n_inputs = 1, .inputs = &in, .n_outputs = n_out,
                   .outputs = out};
        char *enc = tb_tx_hex(&tx, false);
        cr_assert_str_eq(enc, vstr(v, "hex"), "hand-built coinbase of vector %zu", i);
        free(enc);
        hash32_t txid;
        cr_assert_eq(tx_txid(&tx, &txid), 0);
        assert_hash_hex(&txid, vstr(v, "txid"), "coinbase txid", i);
        cr_assert(tx_is_coinbase(&tx));
        uint64_t got_height = ~(uint64_t)0;
        err_t e = {0};
        cr_assert_eq(tx_coinbase_height(&tx, &got_height, &e), 0, "%s", e.message);
        cr_assert_eq(got_height, height, "height of coinbase vector %zu", i);
        cr_assert_eq(tx_check(&tx, NULL, &e), 0, "coinbase vector %zu: %s", i, e.message);
        json_t *got = jsonfmt_tx(&tx, NULL);
        cr_assert(json_equal(got, j), "JSON of coinbase vector %zu", i);
        json_decref(got);

        /* from its JSON */
        tx_t parsed;
        cr_assert_eq(jsonfmt_parse_tx(&parsed, j, &e), 0, "coinbase JSON %zu: %s", i, e.message);
        enc = tb_tx_hex(&parsed, false);
        cr_assert_str_eq(enc, vstr(v, "hex"), "coinbase JSON of vector %zu", i);
        free(enc);
        cr_assert_eq(tx_txid(&parsed, &txid), 0);
        assert_hash_hex(&txid, vstr(v, "txid"), "txid of parsed coinbase", i);
        got_height = 0;
        cr_assert_eq(tx_coinbase_height(&parsed, &got_height, &e), 0, "%s", e.message);
        cr_assert_eq(got_height, height);
        tx_free(&parsed);

        /* and from its bytes */
        tx_t decoded;
        decode_vector(&decoded, v, i);
        cr_assert(tx_is_coinbase(&decoded));
        got_height = 0;
        cr_assert_eq(tx_coinbase_height(&decoded, &got_height, &e), 0, "%s", e.message);
        cr_assert_eq(got_height, height);
        got = jsonfmt_tx(&decoded, NULL);
        cr_assert(json_equal(got, j), "JSON of decoded coinbase vector %zu", i);
        json_decref(got);
        tx_free(&decoded);
        free(en);
    }
}

/* Every extranonce length the contract allows makes a script that passes the
 * coinbase form check (≤ 100 bytes, push-only, 8-byte height first) and
 * reads back the height; one byte more is refused. */
Test(tx_coinbase, every_extranonce_length)
{
    uint8_t en[TX_COINBASE_SCRIPT_MAX + 8];
    for (size_t k = 0; k < sizeof en; k++)
        en[k] = (uint8_t)(0xa0 + k);
    const uint64_t height = 0x0102030405060708ull;
    for (size_t n = 0; n <= TX_EXTRANONCE_MAX; n++) {
        uint8_t script[TX_COINBASE_SCRIPT_MAX];
        int len = tx_coinbase_script(script, height, en, n);
        cr_assert(len >= 9 && len <= TX_COINBASE_SCRIPT_MAX, "extranonce %zu: length %d", n, len);
        /* the height push: 08, then the height little-endian */
        static const uint8_t head[9] = {8, 8, 7, 6, 5, 4, 3, 2, 1};
        cr_assert_arr_eq(script, head, 9, "height push with extranonce %zu", n);
        cr_assert(script_is_push_only(script, (size_t)len), "extranonce %zu: not push-only", n);
        if (n == 0)
            cr_assert_eq(len, 9, "no extranonce: only the height push");
        else
            cr_assert_arr_eq(script + len - n, en, n, "extranonce %zu is the last push", n);

        tx_input_t in = {.index = TX_COINBASE_INDEX, .script = script, .script_len = (size_t)len};
        uint8_t lock[SCRIPT_P2PKH_LOCK_LEN] = {0};
        tx_output_t out = {1, lock, sizeof lock};
        tx_t tx = {.version = 1, .n_inputs = 1, .inputs = &in, .n_outputs = 1, .outputs = &out};
        uint64_t got = 0;
        err_t e = {0};
        cr_assert_eq(tx_coinbase_height(&tx, &got, &e), 0, "extranonce %zu: %s", n, e.message);
        cr_assert_eq(got, height);
        cr_assert_eq(tx_check(&tx, NULL, &e), 0, "extranonce %zu: %s", n, e.message);
    }
    uint8_t script[TX_COINBASE_SCRIPT_MAX + 16];
    cr_assert_eq(tx_coinbase_script(script, 1, en, TX_EXTRANONCE_MAX + 1), -1,
                 "an extranonce over TX_EXTRANONCE_MAX is refused");
}

/* ---- hostile encodings ----------------------------------------------- */

Test(tx_decode, reject_encodings)
{
    json_t *rej = vectors_section("reject_encodings"), *v;
    size_t i;
    json_array_foreach(rej, i, v) {
        size_t len;
        uint8_t *raw = vhex(v, "hex", &len);
        tx_t tx;
        memset(&tx, 0x5a, sizeof tx); /* the decoder must clear it */
        err_t e = {0};
        int rc = tx_decode(&tx, raw, len, &e);
        cr_assert(rc == -ERR_BAD_ENCODING || rc == -ERR_TOO_LARGE,
                  "\"%s\" gave %d, expected a rejection", vstr(v, "description"), rc);
        cr_assert_eq(rc, -(int)e.code, "\"%s\": return value is -code", vstr(v, "description"));
        cr_assert_neq(e.message[0], '\0', "\"%s\" carries a message", vstr(v, "description"));
        cr_assert_null(tx.mem, "\"%s\": nothing to free after failure", vstr(v, "description"));
        cr_assert_eq(tx.n_inputs, 0);
        tx_free(&tx); /* safe on a failed decode */

        /* the strict reader rejects it as well, and does not move */
        mp_reader_t r;
        mp_reader_init(&r, raw, len, true);
        rc = tx_read(&tx, &r, &e);
        if (rc == 0) {
            /* only the trailing-bytes case may read a transaction here */
            cr_assert(mp_left(&r) > 0, "\"%s\" read fully", vstr(v, "description"));
            tx_free(&tx);
        } else {
            cr_assert_eq(r.pos, 0, "\"%s\": a failed read leaves the reader",
                         vstr(v, "description"));
        }
        free(raw);
    }
}

/* Every proper prefix of every valid vector is refused cleanly: no crash, no
 * leak (the sanitizer build runs this), nothing left to free. */
Test(tx_decode, every_truncation_fails)
{
    const char *sections[] = {"transactions", "coinbase"};
    for (size_t s = 0; s < 2; s++) {
        json_t *arr = vectors_section(sections[s]), *v;
        size_t i;
        json_array_foreach(arr, i, v) {
            size_t len;
            uint8_t *raw = vhex(v, "hex", &len);
            for (size_t n = 0; n < len; n++) {
                /* a copy of exactly n bytes, so ASan sees any read past it */
                uint8_t *cut = malloc(n ? n : 1);
                cr_assert_not_null(cut);
                memcpy(cut, raw, n);
                tx_t tx;
                err_t e = {0};
                int rc = tx_decode(&tx, cut, n, &e);
                cr_assert_eq(rc, -ERR_BAD_ENCODING, "%s %zu cut at %zu: got %d", sections[s], i,
                             n, rc);
                cr_assert_neq(e.message[0], '\0');
                cr_assert_null(tx.mem);
                free(cut);
            }
            free(raw);
        }
    }
}

/* Single-byte changes of a valid encoding: whatever the decoder accepts must
 * re-encode to exactly the bytes given (one encoding per object, §3.1). */
Test(tx_decode, mutations_are_canonical_or_rejected)
{
    json_t *txs = vectors_section("transactions"), *v;
    size_t i;
    json_array_foreach(txs, i, v) {
        size_t len;
        uint8_t *raw = vhex(v, "hex", &len);
        static const uint8_t deltas[] = {0x01, 0x10, 0x80, 0xff};
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t d = 0; d < sizeof deltas; d++) {
                uint8_t *m = malloc(len);
                cr_assert_not_null(m);
                memcpy(m, raw, len);
                m[pos] ^= deltas[d];
                tx_t tx;
                err_t e = {0};
                int rc = tx_decode(&tx, m, len, &e);
                if (rc == 0) {
                    mp_buf_t b;
                    mp_buf_init(&b, (size_t)4 << 20);
                    cr_assert_eq(tx_encode(&tx, &b, false), 0);
                    cr_assert_eq(b.len, len, "vector %zu byte %zu ^%02x: accepted a "
                                 "non-canonical form", i, pos, deltas[d]);
                    cr_assert_arr_eq(b.data, m, len, "vector %zu byte %zu ^%02x", i, pos,
                                     deltas[d]);
                    mp_buf_free(&b);
                    tx_free(&tx);
                } else {
                    cr_assert(rc == -ERR_BAD_ENCODING, "vector %zu byte %zu: code %d", i, pos, rc);
                    cr_assert_null(tx.mem);
                }
                free(m);
            }
        }
        free(raw);
    }
}

/* A canonical transaction of exactly `size` bytes: one input, one output whose
 * locking script fills the rest. Encoded by hand (msgpack bin32 for the big
 * script) so the test does not lean on tx_encode. */
static uint8_t *tx_of_size(size_t size)
{
    /* 93 01 91 93 c4 20 <32> 00 c4 00 91 92 00 c6 <len32> <script> */
    const size_t fixed = 3 + 1 + 2 + 32 + 1 + 2 + 1 + 1 + 1 + 5; /* 49 */
    cr_assert(size > fixed + 65535, "bin32 needs a script over 65535 bytes");
    size_t slen = size - fixed;
    uint8_t *p = calloc(1, size);
    cr_assert_not_null(p);
    size_t o = 0;
    p[o++] = 0x93;
    p[o++] = 0x01;
    p[o++] = 0x91;
    p[o++] = 0x93;
    p[o++] = 0xc4;
    p[o++] = 0x20;
    memset(p + o, 0x44, 32);
    o += 32;
    p[o++] = 0x00;
    p[o++] = 0xc4;
    p[o++] = 0x00;
    p[o++] = 0x91;
    p[o++] = 0x92;
    p[o++] = 0x00;
    p[o++] = 0xc6;
    p[o++] = (uint8_t)(slen >> 24);
    p[o++] = (uint8_t)(slen >> 16);
    p[o++] = (uint8_t)(slen >> 8);
    p[o++] = (uint8_t)slen;
    cr_assert_eq(o + slen, size);
    return p;
}

Test(tx_decode, size_limit)
{
    /* exactly TX_MAX_SIZE is a transaction (tx_check would refuse the script,
     * but the encoding itself is fine) */
    uint8_t *p = tx_of_size(TX_MAX_SIZE);
    tx_t tx;
    err_t e = {0};
    cr_assert_eq(tx_decode(&tx, p, TX_MAX_SIZE, &e), 0, "%s", e.message);
    cr_assert_eq(tx.outputs[0].script_len, TX_MAX_SIZE - 49);
    tx_free(&tx);
    free(p);

    /* one byte more: ERR_TOO_LARGE from tx_decode and from the reader */
    p = tx_of_size(TX_MAX_SIZE + 1);
    cr_assert_eq(tx_decode(&tx, p, TX_MAX_SIZE + 1, &e), -ERR_TOO_LARGE);
    cr_assert_eq(e.code, ERR_TOO_LARGE);
    cr_assert_null(tx.mem);
    mp_reader_t r;
    mp_reader_init(&r, p, TX_MAX_SIZE + 1, true);
    cr_assert_eq(tx_read(&tx, &r, &e), -ERR_TOO_LARGE, "tx_read measures the tx it reads");
    cr_assert_eq(r.pos, 0, "a refused read leaves the reader");
    cr_assert_null(tx.mem);
    free(p);

    /* any input over TX_MAX_SIZE is refused before it is parsed */
    uint8_t *junk = calloc(1, TX_MAX_SIZE + 1);
    cr_assert_not_null(junk);
    cr_assert_eq(tx_decode(&tx, junk, TX_MAX_SIZE + 1, &e), -ERR_TOO_LARGE);
    cr_assert_neq(e.message[0], '\0');
    free(junk);
}

Test(tx_decode, handmade_non_canonical_forms)
{
    /* the "index needing uint32" vector's body with a valid encoding as base */
    static const struct {
        const char *hex, *why;
    } cases[] = {
        /* index 1 as uint8 (cc 01) instead of fixint */
        {"93019193c420" "e26e1e6badeafdd7f86bb576867d9e6dc28c27a9669a701f38422fd19c4b4ed7"
         "cc01c400919201c400", "index as uint8"},
        /* empty script as bin16 */
        {"93019193c420" "e26e1e6badeafdd7f86bb576867d9e6dc28c27a9669a701f38422fd19c4b4ed7"
         "01c50000919201c400", "bin16 for an empty script"},
        /* inputs as array16 */
        {"9301dc000193c420" "e26e1e6badeafdd7f86bb576867d9e6dc28c27a9669a701f38422fd19c4b4ed7"
         "01c400919201c400", "array16 for one input"},
        /* input array of 2 elements */
        {"93019192c420" "e26e1e6badeafdd7f86bb576867d9e6dc28c27a9669a701f38422fd19c4b4ed7"
         "01919201c400", "input of two fields"},
        /* output of three elements */
        {"93019193c420" "e26e1e6badeafdd7f86bb576867d9e6dc28c27a9669a701f38422fd19c4b4ed7"
         "01c400919301c40000", "output of three fields"},
        /* version 2^32 as uint64 */
        {"93cf00000001000000009193c420"
         "e26e1e6badeafdd7f86bb576867d9e6dc28c27a9669a701f38422fd19c4b4ed7"
         "01c400919201c400", "version over 32 bits"},
        /* script as str */
        {"93019193c420" "e26e1e6badeafdd7f86bb576867d9e6dc28c27a9669a701f38422fd19c4b4ed7"
         "01a0919201c400", "str for a script"},
        /* a map where the tx array is due */
        {"8100", "a map"},
        {"c1", "the never-used byte"},
        {"", "nothing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].hex) / 2;
        uint8_t buf[128];
        cr_assert_eq(hex_decode(buf, sizeof buf, cases[i].hex, strlen(cases[i].hex)), (long)n);
        tx_t tx;
        err_t e = {0};
        cr_assert_eq(tx_decode(&tx, buf, n, &e), -ERR_BAD_ENCODING, "%s accepted", cases[i].why);
        cr_assert_null(tx.mem);
    }
    /* the same body written canonically decodes: the cases above fail only for
     * their one deviation */
    const char *good = "93019193c420"
                       "e26e1e6badeafdd7f86bb576867d9e6dc28c27a9669a701f38422fd19c4b4ed7"
                       "01c400919201c400";
    uint8_t buf[128];
    long n = hex_decode(buf, sizeof buf, good, strlen(good));
    tx_t tx;
    err_t e = {0};
    cr_assert_eq(tx_decode(&tx, buf, (size_t)n, &e), 0, "%s", e.message);
    cr_assert_eq(tx.inputs[0].index, 1);
    cr_assert_eq(tx.outputs[0].amount, 1);
    tx_free(&tx);
}

/* ---- tx_check --------------------------------------------------------- */

Test(tx_check, valid_base_case)
{
    built_tx_t b;
    build_valid(&b);
    amount_t sum = 0;
    err_t e = {0};
    cr_assert_eq(tx_check(&b.tx, &sum, &e), 0, "%s", e.message);
    cr_assert_eq(sum, 5 * AMOUNT_COIN);
}

Test(tx_check, version)
{
    built_tx_t b;
    build_valid(&b);
    b.tx.version = 2;
    assert_check_fails(&b.tx, ERR_BAD_VERSION, "version 2");
    b.tx.version = 0;
    assert_check_fails(&b.tx, ERR_BAD_VERSION, "version 0");
}

Test(tx_check, no_inputs_or_outputs)
{
    built_tx_t b;
    build_valid(&b);
    b.tx.n_inputs = 0;
    assert_check_fails(&b.tx, ERR_NO_INPUTS, "no inputs");
    build_valid(&b);
    b.tx.n_outputs = 0;
    assert_check_fails(&b.tx, ERR_NO_OUTPUTS, "no outputs");
}

Test(tx_check, amounts)
{
    built_tx_t b;
    build_valid(&b);
    b.out[0].amount = AMOUNT_MAX_MONEY;
    assert_check_ok(&b.tx, "exactly max money");
    b.out[0].amount = AMOUNT_MAX_MONEY + 1;
    assert_check_fails(&b.tx, ERR_BAD_AMOUNT, "one output over max money");
    b.out[0].amount = UINT64_MAX;
    assert_check_fails(&b.tx, ERR_BAD_AMOUNT, "UINT64_MAX");

    /* two outputs each within the limit, their sum over it */
    b.tx.n_outputs = 2;
    b.out[0].amount = AMOUNT_MAX_MONEY / 2 + 1;
    b.out[1].amount = AMOUNT_MAX_MONEY / 2;
    assert_check_fails(&b.tx, ERR_BAD_AMOUNT, "sum over max money");
    b.out[0].amount = AMOUNT_MAX_MONEY / 2;
    amount_t sum = 0;
    err_t e = {0};
    cr_assert_eq(tx_check(&b.tx, &sum, &e), 0, "sum exactly max money: %s", e.message);
    cr_assert_eq(sum, AMOUNT_MAX_MONEY);
    /* amounts that would wrap 64 bits if added naively */
    b.out[0].amount = (amount_t)1 << 63;
    b.out[1].amount = (amount_t)1 << 63;
    assert_check_fails(&b.tx, ERR_BAD_AMOUNT, "a sum that wraps");
    b.out[0].amount = 0;
    b.out[1].amount = 0;
    assert_check_ok(&b.tx, "zero amounts");
}

Test(tx_check, duplicate_inputs)
{
    built_tx_t b;
    build_valid(&b);
    b.tx.n_inputs = 3;
    assert_check_ok(&b.tx, "three distinct outpoints");
    b.in[2].prev_txid = b.in[0].prev_txid;
    b.in[2].index = 2;
    assert_check_ok(&b.tx, "same txid, other index");
    b.in[2].index = b.in[0].index;
    assert_check_fails(&b.tx, ERR_DUPLICATE_INPUT, "same outpoint twice (not adjacent)");
    b.tx.n_inputs = 2;
    b.in[1] = b.in[0];
    assert_check_fails(&b.tx, ERR_DUPLICATE_INPUT, "same outpoint twice");
}

Test(tx_check, coinbase_input_among_others)
{
    built_tx_t b;
    build_valid(&b);
    uint8_t cb[TX_COINBASE_SCRIPT_MAX];
    int n = tx_coinbase_script(cb, 7, NULL, 0);
    memset(b.in[1].prev_txid.b, 0, 32);
    b.in[1].index = TX_COINBASE_INDEX;
    b.in[1].script = cb;
    b.in[1].script_len = (size_t)n;
    b.tx.n_inputs = 2;
    assert_check_fails(&b.tx, ERR_COINBASE_TX, "coinbase input second of two");
    build_valid(&b);
    b.in[0].index = TX_COINBASE_INDEX;
    memset(b.in[0].prev_txid.b, 0, 32);
    b.in[0].script = cb;
    b.in[0].script_len = (size_t)n;
    b.tx.n_inputs = 2;
    cr_assert_not(tx_is_coinbase(&b.tx), "two inputs: not a coinbase");
    assert_check_fails(&b.tx, ERR_COINBASE_TX, "coinbase input first of two");
    /* alone it is a coinbase */
    b.tx.n_inputs = 1;
    cr_assert(tx_is_coinbase(&b.tx));
    assert_check_ok(&b.tx, "a lone coinbase input");
    /* zero txid with another index, or index 0xffffffff of another txid: not coinbase */
    b.in[0].index = 0;
    cr_assert_not(tx_is_coinbase(&b.tx));
    b.in[0].index = TX_COINBASE_INDEX;
    b.in[0].prev_txid.b[31] = 1;
    cr_assert_not(tx_is_coinbase(&b.tx));
}

Test(tx_check, script_size)
{
    static uint8_t big[SCRIPT_MAX_SIZE + 1];
    memset(big, 0x01, sizeof big);
    built_tx_t b;
    build_valid(&b);
    b.out[0].script = big;
    b.out[0].script_len = SCRIPT_MAX_SIZE;
    assert_check_ok(&b.tx, "locking script of exactly 10000 bytes");
    b.out[0].script_len = SCRIPT_MAX_SIZE + 1;
    assert_check_fails(&b.tx, ERR_BAD_SCRIPT, "locking script of 10001 bytes");

    build_valid(&b);
    b.in[0].script = big;
    b.in[0].script_len = SCRIPT_MAX_SIZE;
    assert_check_ok(&b.tx, "unlocking script of exactly 10000 bytes");
    b.in[0].script_len = SCRIPT_MAX_SIZE + 1;
    assert_check_fails(&b.tx, ERR_BAD_SCRIPT, "unlocking script of 10001 bytes");
}

/* A coinbase with the given unlocking script. */
static void coinbase_with(built_tx_t *b, const uint8_t *script, size_t len)
{
    build_valid(b);
    memset(b->in[0].prev_txid.b, 0, 32);
    b->in[0].index = TX_COINBASE_INDEX;
    b->in[0].script = script;
    b->in[0].script_len = len;
}

static void assert_bad_coinbase(const uint8_t *script, size_t len, const char *why)
{
    built_tx_t b;
    coinbase_with(&b, script, len);
    assert_check_fails(&b.tx, ERR_BAD_COINBASE, why);
    uint64_t h;
    err_t e = {0};
    cr_assert_eq(tx_coinbase_height(&b.tx, &h, &e), -ERR_BAD_COINBASE, "%s: height", why);
}

/* s = 0x01 bytes (each pair "01 01" is a one-byte push), ready to edit. */
static uint8_t *fresh(uint8_t *s, size_t n)
{
    memset(s, 0x01, n);
    return s;
}

Test(tx_check, coinbase_form)
{
    uint8_t s[TX_COINBASE_SCRIPT_MAX + 8];
    built_tx_t b;

    /* well-formed: 08 <height> alone */
    fresh(s, sizeof s)[0] = 8;
    coinbase_with(&b, s, 9);
    assert_check_ok(&b.tx, "height push alone");
    /* 08 h(8) 4c 59 <89 bytes> = 100 bytes: the largest allowed */
    s[9] = OP_PUSHDATA1;
    s[10] = 89;
    coinbase_with(&b, s, 100);
    assert_check_ok(&b.tx, "100-byte coinbase script");
    /* 08 h(8) 4c 5a <90 bytes> = 101 bytes, push-only but too long */
    s[10] = 90;
    cr_assert(script_is_push_only(s, 101));
    assert_bad_coinbase(s, 101, "101-byte coinbase script");

    assert_bad_coinbase(fresh(s, sizeof s), 0, "empty coinbase script");
    s[0] = 8;
    assert_bad_coinbase(s, 8, "height push cut short");
    /* 07 <7 bytes> 01 01: push-only, but the first push is not 8 bytes */
    fresh(s, sizeof s)[0] = 7;
    assert_bad_coinbase(s, 10, "7-byte first push");
    fresh(s, sizeof s)[0] = 9;
    assert_bad_coinbase(s, 10, "9-byte first push");
    /* 4c 08 <8 bytes>: the height, but not as the direct 8-byte push */
    fresh(s, sizeof s)[0] = OP_PUSHDATA1;
    s[1] = 8;
    assert_bad_coinbase(s, 10, "height via OP_PUSHDATA1");
    /* height push then a non-push byte */
    fresh(s, sizeof s)[0] = 8;
    s[9] = OP_DUP;
    assert_bad_coinbase(s, 10, "height push then OP_DUP");
    /* height push then a truncated push (05 and only 2 bytes) */
    fresh(s, sizeof s)[0] = 8;
    s[9] = 5;
    assert_bad_coinbase(s, 12, "height push then a truncated push");
}

/* ---- the miner's and the wallet's helpers ----------------------------- */

/* tx_coinbase_build gives exactly each coinbase vector (one P2PKH output). */
Test(tx_vectors, coinbase_build)
{
    json_t *cbs = vectors_section("coinbase"), *v;
    size_t i;
    json_array_foreach(cbs, i, v) {
        json_t *outs = json_object_get(json_object_get(v, "json"), "outputs");
        cr_assert_eq(json_array_size(outs), 1, "tx_coinbase_build makes one output");
        json_t *o = json_array_get(outs, 0);
        hash20_t payout;
        p2pkh_hash_from_asm(&payout, vstr(o, "locking_script"));
        size_t en_len;
        uint8_t *en = vhex(v, "extranonce", &en_len);
        tx_coinbase_t cb;
        uint64_t height = (uint64_t)json_integer_value(json_object_get(v, "height"));
        amount_t amount = (amount_t)json_integer_value(json_object_get(o, "amount"));
        cr_assert_eq(tx_coinbase_build(&cb, height, en, en_len, &payout, amount), 0);
        char *enc = tb_tx_hex(&cb.tx, false);
        cr_assert_str_eq(enc, vstr(v, "hex"), "tx_coinbase_build of vector %zu", i);
        free(enc);
        hash32_t txid;
        cr_assert_eq(tx_txid(&cb.tx, &txid), 0);
        assert_hash_hex(&txid, vstr(v, "txid"), "built coinbase txid", i);
        free(en);
    }
    uint8_t en[TX_EXTRANONCE_MAX + 1] = {0};
    hash20_t payout = {{0}};
    tx_coinbase_t cb;
    cr_assert_eq(tx_coinbase_build(&cb, 1, en, TX_EXTRANONCE_MAX, &payout, 1), 0);
    cr_assert_eq(tx_coinbase_build(&cb, 1, en, TX_EXTRANONCE_MAX + 1, &payout, 1), -1);
}

/* tx_sign_p2pkh turns each vector with its unlocking scripts replaced by junk
 * back into exactly the vector (the sighash blanks the unlocking scripts). */
Test(tx_vectors, sign_p2pkh)
{
    json_t *txs = vectors_section("transactions"), *v;
    size_t i;
    json_array_foreach(txs, i, v) {
        const json_t *kv = key_vector(vstr(v, "signer"));
        uint8_t seed[KEY_SEED_LEN];
        vhex_exact(kv, "seed", seed, sizeof seed);
        key_pair_t k;
        err_t e = {0};
        cr_assert_eq(key_from_seed(&k, seed, &e), 0, "%s", e.message);

        tx_t tx;
        decode_vector(&tx, v, i);
        static const uint8_t junk[] = {0x01, 0xff};
        for (size_t n = 0; n < tx.n_inputs; n++) {
            tx.inputs[n].script = junk;
            tx.inputs[n].script_len = sizeof junk;
        }
        uint8_t (*unlock)[SCRIPT_P2PKH_UNLOCK_LEN] = calloc(tx.n_inputs, sizeof *unlock);
        cr_assert_not_null(unlock);
        cr_assert_eq(tx_sign_p2pkh(&tx, &k, unlock, &e), 0, "%s", e.message);
        char *enc = tb_tx_hex(&tx, false);
        cr_assert_str_eq(enc, vstr(v, "hex"), "signed vector %zu", i);
        free(enc);
        for (size_t n = 0; n < tx.n_inputs; n++)
            cr_assert_eq(tx.inputs[n].script, unlock[n], "input %zu points to unlock[%zu]", n, n);
        tx_free(&tx);
        free(unlock);
    }
}
