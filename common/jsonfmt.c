#include "jsonfmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "mp.h"
#include "script.h"

void jsonfmt_hash_hex(char out[65], const hash32_t *h) { hex_encode(out, h->b, 32); }

static json_t *hash_json(const hash32_t *h)
{
    char hex[65];
    jsonfmt_hash_hex(hex, h);
    return json_string(hex);
}

static json_t *asm_json(const uint8_t *s, size_t len)
{
    char *text = malloc(SCRIPT_ASM_MAX(len));
    if (!text)
        return NULL;
    script_to_asm(text, s, len);
    json_t *j = json_string(text);
    free(text);
    return j;
}

/* json_object_set_new and json_array_append_new take the reference even on
 * failure, so a builder only has to check the result once at the end. */
json_t *jsonfmt_tx(const tx_t *tx, const hash32_t *txid)
{
    json_t *j = json_object(), *ins = json_array(), *outs = json_array();
    int fail = !j || !ins || !outs;
    for (size_t i = 0; i < tx->n_inputs && !fail; i++) {
        const tx_input_t *in = &tx->inputs[i];
        json_t *o = json_object();
        fail |= !o || json_object_set_new(o, "transaction_hash", hash_json(&in->prev_txid)) ||
                json_object_set_new(o, "output_index", json_integer(in->index)) ||
                json_object_set_new(o, "unlocking_script", asm_json(in->script, in->script_len));
        fail |= json_array_append_new(ins, o);
    }
    for (size_t i = 0; i < tx->n_outputs && !fail; i++) {
        const tx_output_t *out = &tx->outputs[i];
        json_t *o = json_object();
        /* JSON integers here are int64: a larger amount (never a valid one)
         * cannot be shown rather than shown negative */
        fail |= out->amount > (uint64_t)INT64_MAX;
        fail |= !o || json_object_set_new(o, "amount", json_integer((json_int_t)out->amount)) ||
                json_object_set_new(o, "locking_script", asm_json(out->script, out->script_len));
        fail |= json_array_append_new(outs, o);
    }
    if (!fail && txid)
        fail |= json_object_set_new(j, "transaction_hash", hash_json(txid));
    if (!fail)
        fail |= json_object_set_new(j, "version", json_integer(tx->version)) ||
                json_object_set_new(j, "inputs", json_incref(ins)) ||
                json_object_set_new(j, "outputs", json_incref(outs));
    json_decref(ins);
    json_decref(outs);
    if (fail) {
        json_decref(j);
        return NULL;
    }
    return j;
}

json_int_t jsonfmt_count(uint64_t v) { return v > INT64_MAX ? INT64_MAX : (json_int_t)v; }

json_t *jsonfmt_header(const block_header_t *h, int64_t height)
{
    char nonce[17];
    hash32_t hash;
    block_header_hash(&hash, h);
    snprintf(nonce, sizeof nonce, "%016" PRIx64, h->nonce);
    json_t *j = json_object();
    if (!j || json_object_set_new(j, "version", json_integer(h->version)) ||
        json_object_set_new(j, "previous_block_hash", hash_json(&h->previous_block_hash)) ||
        json_object_set_new(j, "merkle_root", hash_json(&h->merkle_root)) ||
        json_object_set_new(j, "timestamp", json_integer(jsonfmt_count(h->timestamp))) ||
        json_object_set_new(j, "bits", json_integer(h->bits)) ||
        json_object_set_new(j, "nonce", json_string(nonce)) ||
        json_object_set_new(j, "hash", hash_json(&hash)) ||
        (height >= 0 && json_object_set_new(j, "height", json_integer(height)))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

json_t *jsonfmt_block(const block_t *b, int64_t height)
{
    json_t *j = json_object(), *txs = json_array();
    int fail = !j || !txs;
    for (size_t i = 0; i < b->n_txs && !fail; i++)
        fail |= json_array_append_new(txs, jsonfmt_tx(&b->txs[i], &b->txids[i]));
    if (!fail)
        fail |= json_object_set_new(j, "header", jsonfmt_header(&b->header, height)) ||
                json_object_set_new(j, "transactions", json_incref(txs));
    json_decref(txs);
    if (fail) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int get_uint(const json_t *o, const char *key, uint64_t max, uint64_t *v, err_t *e,
                    const char *where)
{
    json_t *x = json_object_get(o, key);
    if (!json_is_integer(x) || json_integer_value(x) < 0 ||
        (uint64_t)json_integer_value(x) > max)
        return err_set(e, ERR_BAD_REQUEST, "%s: \"%s\" must be an integer from 0 to %" PRIu64,
                       where, key, max);
    *v = (uint64_t)json_integer_value(x);
    return 0;
}

static int get_script(const json_t *o, const char *key, mp_buf_t *b, err_t *e, const char *where)
{
    const char *text = json_string_value(json_object_get(o, key));
    if (!text)
        return err_set(e, ERR_BAD_REQUEST, "%s: \"%s\" must be a string (script ASM)", where, key);
    uint8_t script[SCRIPT_MAX_SIZE];
    size_t len;
    err_t se;
    if (script_from_asm(script, sizeof script, &len, text, &se) < 0)
        return err_set(e, ERR_BAD_SCRIPT, "%s: %s", where, se.message);
    mp_put_bin(b, script, len);
    return 0;
}

/* The JSON is turned into the canonical encoding and decoded by the one strict
 * decoder, so a JSON transaction is owned and checked exactly as a binary one. */
int jsonfmt_parse_tx(tx_t *tx, const json_t *j, err_t *e)
{
    memset(tx, 0, sizeof *tx);
    json_t *ins = json_object_get(j, "inputs"), *outs = json_object_get(j, "outputs");
    if (!json_is_object(j) || !json_is_array(ins) || !json_is_array(outs))
        return err_set(e, ERR_BAD_REQUEST,
                       "a transaction is an object with \"inputs\" and \"outputs\" arrays");
    uint64_t version = TX_VERSION;
    if (json_object_get(j, "version")) {
        int rc = get_uint(j, "version", UINT32_MAX, &version, e, "transaction");
        if (rc < 0)
            return rc;
    }
    mp_buf_t b;
    mp_buf_init(&b, TX_MAX_SIZE);
    mp_put_array(&b, 3);
    mp_put_uint(&b, version);
    mp_put_array(&b, (uint32_t)json_array_size(ins));
    int rc = 0;
    char where[32];
    for (size_t i = 0; i < json_array_size(ins) && rc == 0; i++) {
        json_t *in = json_array_get(ins, i);
        const char *txid = json_string_value(json_object_get(in, "transaction_hash"));
        uint8_t prev[32];
        uint64_t index = 0;
        snprintf(where, sizeof where, "input %zu", i);
        if (!txid || hex_decode_exact(prev, 32, txid) < 0) {
            rc = err_set(e, ERR_BAD_REQUEST, "%s: \"transaction_hash\" must be 64 hex digits",
                         where);
            break;
        }
        mp_put_array(&b, 3);
        mp_put_bin(&b, prev, 32);
        rc = get_uint(in, "output_index", UINT32_MAX, &index, e, where);
        if (rc == 0) {
            mp_put_uint(&b, index);
            rc = get_script(in, "unlocking_script", &b, e, where);
        }
    }
    if (rc == 0)
        mp_put_array(&b, (uint32_t)json_array_size(outs));
    for (size_t i = 0; i < json_array_size(outs) && rc == 0; i++) {
        json_t *out = json_array_get(outs, i);
        uint64_t amount = 0;
        snprintf(where, sizeof where, "output %zu", i);
        rc = get_uint(out, "amount", UINT64_MAX, &amount, e, where);
        if (rc == 0) {
            mp_put_array(&b, 2);
            mp_put_uint(&b, amount);
            rc = get_script(out, "locking_script", &b, e, where);
        }
    }
    if (rc == 0 && !mp_buf_ok(&b))
        rc = err_set(e, ERR_TOO_LARGE, "transaction over %d bytes", TX_MAX_SIZE);
    if (rc == 0)
        rc = tx_decode(tx, b.data, b.len, e);
    mp_buf_free(&b);
    return rc;
}

static int get_hash(const json_t *o, const char *key, hash32_t *h, err_t *e, const char *where)
{
    const char *text = json_string_value(json_object_get(o, key));
    if (!text || strlen(text) != 64 || hex_decode_exact(h->b, 32, text) < 0)
        return err_set(e, ERR_BAD_REQUEST, "%s: \"%s\" must be 64 hex digits", where, key);
    return 0;
}

/* "nonce" as jsonfmt_header() writes it (16 hex digits, the value
 * big-endian) or as an integer. */
static int get_nonce(const json_t *j, uint64_t *nonce, err_t *e)
{
    json_t *jn = json_object_get(j, "nonce");
    const char *text = json_string_value(jn);
    uint8_t be[8];
    if (text && strlen(text) == 16 && hex_decode_exact(be, 8, text) == 0) {
        *nonce = 0;
        for (int i = 0; i < 8; i++)
            *nonce = *nonce << 8 | be[i];
    } else if (json_is_integer(jn) && json_integer_value(jn) >= 0) {
        *nonce = (uint64_t)json_integer_value(jn);
    } else {
        return err_set(e, ERR_BAD_REQUEST, "header: \"nonce\" must be 16 hex digits");
    }
    return 0;
}

int jsonfmt_parse_header(block_header_t *h, const json_t *j, err_t *e)
{
    uint64_t version = BLOCK_VERSION, timestamp = 0, bits = 0, nonce = 0;
    int rc = json_object_get(j, "version")
                 ? get_uint(j, "version", UINT32_MAX, &version, e, "header")
                 : 0;
    if (rc == 0)
        rc = get_hash(j, "previous_block_hash", &h->previous_block_hash, e, "header");
    if (rc == 0)
        rc = get_hash(j, "merkle_root", &h->merkle_root, e, "header");
    if (rc == 0)
        rc = get_uint(j, "timestamp", INT64_MAX, &timestamp, e, "header");
    if (rc == 0)
        rc = get_uint(j, "bits", UINT32_MAX, &bits, e, "header");
    if (rc == 0)
        rc = get_nonce(j, &nonce, e);
    if (rc < 0)
        return rc;
    h->version = (uint32_t)version;
    h->timestamp = timestamp;
    h->bits = (uint32_t)bits;
    h->nonce = nonce;
    if (json_object_get(j, "hash")) {
        hash32_t given, actual;
        if ((rc = get_hash(j, "hash", &given, e, "header")) < 0)
            return rc;
        block_header_hash(&actual, h);
        if (!hash32_eq(&given, &actual))
            return err_set(e, ERR_BAD_REQUEST, "header: \"hash\" does not match the header");
    }
    return 0;
}

int jsonfmt_parse_block(mp_buf_t *out, const json_t *jb, err_t *e)
{
    mp_buf_init(out, BLOCK_MAX_SIZE);
    if (!json_is_object(jb))
        return err_set(e, ERR_BAD_REQUEST, "\"block\" must be an object");
    const json_t *jh = json_object_get(jb, "header");
    const json_t *txs = json_object_get(jb, "transactions");
    if (!jh)
        jh = jb; /* the header's fields beside "transactions" */
    if (!json_is_object(jh) || !json_is_array(txs) || json_array_size(txs) > UINT32_MAX)
        return err_set(e, ERR_BAD_REQUEST,
                       "a block is {\"header\": {...}, \"transactions\": [...]}");
    block_header_t h;
    int rc = jsonfmt_parse_header(&h, jh, e);
    if (rc < 0)
        return rc;
    uint8_t raw[BLOCK_HEADER_LEN];
    block_header_encode(raw, &h);
    mp_put_array(out, 2);
    mp_put_bin(out, raw, sizeof raw);
    mp_put_array(out, (uint32_t)json_array_size(txs));
    for (size_t i = 0; i < json_array_size(txs) && mp_buf_ok(out); i++) {
        tx_t tx;
        err_t te;
        if (jsonfmt_parse_tx(&tx, json_array_get(txs, i), &te) < 0)
            return err_set(e, te.code, "transaction %zu: %s", i, te.message);
        rc = tx_encode(&tx, out, false);
        tx_free(&tx);
        if (rc < 0)
            break;
    }
    if (!mp_buf_ok(out))
        return err_set(e, ERR_TOO_LARGE, "the block is over %d bytes", BLOCK_MAX_SIZE);
    return 0;
}

json_t *jsonfmt_script(const uint8_t *s, size_t len) { return asm_json(s, len); }
