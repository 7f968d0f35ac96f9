/* make_seeds: writes the fuzz targets' seed corpora.
 *
 *   make_seeds VECTORS_JSON OUTDIR
 *
 * Built with the fuzz targets (target make_seeds in build-fuzz/; an ordinary
 * program, no libFuzzer main). From shared/vectors.json and the project's own
 * encoders it writes:
 *   OUTDIR/tx        every transactions/coinbase/reject_encodings hex (and the
 *                    sighash preimages)
 *   OUTDIR/block     the regtest and demo genesis blocks, each header vector
 *                    over the first coinbase vector, a mined regtest block
 *                    carrying the vector transactions, and its mutated twin
 *                    (a repeated transaction)
 *   OUTDIR/script    every script vector, in fuzz_script's format:
 *                    split (2 bytes, little-endian) | unlocking | locking
 *   OUTDIR/envelope  every message type written from its schema (events as
 *                    [topic byte] | map, see fuzz_envelope), error replies
 *   OUTDIR/msgpack   every message type, raw and as a sampler seed (see
 *                    fuzz_msgpack)
 * Seed files are named seed-*, so reruns overwrite them and keep what the
 * fuzzer added. Exits non-zero on any failure. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "block.h"
#include "err.h"
#include "hex.h"
#include "merkle.h"
#include "mp.h"
#include "params.h"
#include "proto.h"
#include "sample.h"
#include "tx.h"

static const char *outdir;
static int written;

static void die(const char *what)
{
    fprintf(stderr, "make_seeds: %s\n", what);
    exit(1);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) < 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
}

static void write_seed(const char *corpus, const char *name, const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/seed-%s", outdir, corpus, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    written++;
}

static void write_buf(const char *corpus, const char *name, mp_buf_t *b)
{
    if (!mp_buf_ok(b))
        die("an encoding failed");
    write_seed(corpus, name, b->data, b->len);
    mp_buf_reset(b);
}

/* The hex field key of o, decoded into a malloc'd buffer (never NULL). */
static uint8_t *unhex(const json_t *o, const char *key, size_t *len)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s)
        die("a vector lacks a hex field");
    size_t n = strlen(s) / 2;
    uint8_t *out = malloc(n ? n : 1);
    if (!out || hex_decode(out, n, s, strlen(s)) != (long)n)
        die("a vector field is not hex");
    *len = n;
    return out;
}

static json_t *section(json_t *v, const char *name)
{
    json_t *a = json_object_get(v, name);
    if (!json_is_array(a))
        die("vectors.json lacks a section");
    return a;
}

static void seed_hex_section(json_t *v, const char *name, const char *key)
{
    size_t i;
    json_t *o;
    json_array_foreach(section(v, name), i, o) {
        if (!json_object_get(o, key))
            continue;
        size_t len;
        uint8_t *d = unhex(o, key, &len);
        char seed[96];
        snprintf(seed, sizeof seed, "%s-%s-%zu", name, key, i);
        write_seed("tx", seed, d, len);
        free(d);
    }
}

static void decode_tx_hex(const json_t *o, tx_t *tx)
{
    size_t len;
    uint8_t *d = unhex(o, "hex", &len);
    err_t e;
    if (tx_decode(tx, d, len, &e) < 0)
        die(e.message);
    free(d);
}

/* Encodes b after filling its txids and merkle root; mines when asked. */
static void seed_block(const char *name, block_t *b, bool fill_root, bool mine, mp_buf_t *out)
{
    for (size_t i = 0; i < b->n_txs; i++)
        if (tx_txid(&b->txs[i], &b->txids[i]) < 0)
            die("txid");
    if (fill_root) {
        bool mutated;
        if (merkle_root(&b->header.merkle_root, &mutated, b->txids, b->n_txs) < 0)
            die("merkle root");
    }
    if (mine) {
        hash32_t h;
        for (b->header.nonce = 0;; b->header.nonce++) {
            block_header_hash(&h, &b->header);
            if (block_hash_meets(&h, b->header.bits))
                break;
        }
    }
    if (block_encode(b, out) < 0)
        die("block encoding");
    write_buf("block", name, out);
}

static void seed_blocks(json_t *v, mp_buf_t *out)
{
    static const char *const nets[] = {"regtest", "demo"};
    for (int i = 0; i < 2; i++) {
        if (params_genesis_encode(params_by_name(nets[i]), out) < 0)
            die("genesis encoding");
        char name[32];
        snprintf(name, sizeof name, "genesis-%s", nets[i]);
        write_buf("block", name, out);
    }

    json_t *txs = section(v, "transactions"), *headers = section(v, "headers");
    size_t n = 1 + json_array_size(txs);
    tx_t *all = calloc(n + 1, sizeof *all);
    hash32_t *txids = calloc(n + 1, sizeof *txids);
    if (!all || !txids)
        die("out of memory");
    decode_tx_hex(json_array_get(section(v, "coinbase"), 0), &all[0]);
    for (size_t i = 1; i < n; i++)
        decode_tx_hex(json_array_get(txs, i - 1), &all[i]);

    /* each header vector over the first coinbase vector (its merkle root) */
    size_t i;
    json_t *o;
    json_array_foreach(headers, i, o) {
        uint8_t raw[BLOCK_HEADER_LEN];
        size_t len;
        uint8_t *d = unhex(o, "hex", &len);
        if (len != BLOCK_HEADER_LEN)
            die("a header vector is not 88 bytes");
        memcpy(raw, d, len);
        free(d);
        block_t b = {.n_txs = 1, .txs = all, .txids = txids};
        block_header_decode(&b.header, raw);
        char name[32];
        snprintf(name, sizeof name, "header-%zu", i);
        seed_block(name, &b, false, false, out);
    }

    /* a mined regtest block: coinbase then the vector transactions */
    const chain_params_t *regtest = params_by_name("regtest");
    block_t b = {.header = {.version = BLOCK_VERSION, .timestamp = regtest->genesis_timestamp + 10,
                            .bits = regtest->pow_limit_bits},
                 .n_txs = n, .txs = all, .txids = txids};
    if (params_genesis_encode(regtest, out) < 0)
        die("genesis encoding");
    hash_sha256d(&b.header.previous_block_hash, out->data + 3, BLOCK_HEADER_LEN);
    mp_buf_reset(out);
    seed_block("vectors", &b, true, true, out);
    /* the CVE-2012-2459 twin: the last transaction repeated */
    all[n] = all[n - 1];
    b.n_txs = n + 1;
    seed_block("vectors-dup", &b, true, true, out);

    for (size_t k = 0; k < n; k++)
        tx_free(&all[k]);
    free(all);
    free(txids);
}

static void seed_scripts(json_t *v)
{
    size_t i;
    json_t *o;
    json_array_foreach(section(v, "scripts"), i, o) {
        size_t ul, ll;
        uint8_t *u = unhex(o, "unlocking", &ul), *l = unhex(o, "locking", &ll);
        uint8_t *seed = malloc(2 + ul + ll);
        if (!seed || ul > 0xffff)
            die("script vector");
        seed[0] = (uint8_t)ul;
        seed[1] = (uint8_t)(ul >> 8);
        memcpy(seed + 2, u, ul);
        memcpy(seed + 2 + ul, l, ll);
        char name[32];
        snprintf(name, sizeof name, "vector-%zu", i);
        write_seed("script", name, seed, 2 + ul + ll);
        free(seed);
        free(u);
        free(l);
    }
}

static const proto_family_t families[] = {PROTO_REQUEST, PROTO_OK_REPLY, PROTO_PEER, PROTO_EVENT};
static const char *const family_names[] = {"req", "reply", "peer", "event"};

/* Every message type written from its schema (events behind fuzz_envelope's
 * topic byte), and the hand-written cases the schema does not make. */
static void seed_envelopes(mp_buf_t *b)
{
    mp_buf_t m;
    mp_buf_init(&m, PROTO_MAX_MSG);
    for (size_t f = 0; f < 4; f++) {
        for (int t = 0; t < sample_types(families[f]); t++) {
            char name[64];
            snprintf(name, sizeof name, "%s-%s", family_names[f],
                     proto_schema(families[f], t)->name);
            sample_message(&m, families[f], t, (uint64_t)t);
            if (families[f] == PROTO_EVENT) {
                uint8_t topic = (uint8_t)t; /* fuzz_envelope: the first byte picks the topic */
                mp_put_raw(b, &topic, 1);
            }
            mp_put_raw(b, m.data, m.len);
            write_buf("envelope", name, b);
        }
    }
    /* an unknown extra field is accepted; an unknown error code is internal */
    proto_begin_request(b, "get_tip", 10, 1);
    mp_put_cstr(b, "extra");
    mp_put_cstr(b, "newer peer");
    write_buf("envelope", "req-get_tip-extra", b);
    proto_error(b, 2, ERR_DOUBLE_SPEND, "output 0 of abab... is already spent");
    write_buf("envelope", "reply-error", b);
    proto_begin_request(b, "error", 3, 2);
    mp_put_cstr(b, "code");
    mp_put_cstr(b, "a_code_from_a_newer_node");
    mp_put_cstr(b, "message");
    mp_put_cstr(b, "unknown to this one");
    write_buf("envelope", "reply-error-unknown", b);
    proto_open_peer(b, "demo", PROTO_MSG_PING);
    mp_put_cstr(b, "nonce");
    mp_put_uint(b, 1);
    write_buf("envelope", "peer-ping-demo", b);
    mp_buf_free(&m);
}

/* fuzz_msgpack's two modes: raw msgpack (0 | bytes), and a message the
 * sampler writes (1 | family | type | seed). */
static void seed_msgpack(mp_buf_t *b)
{
    mp_buf_t m;
    mp_buf_init(&m, PROTO_MAX_MSG);
    for (size_t f = 0; f < 4; f++) {
        for (int t = 0; t < sample_types(families[f]); t++) {
            char name[64];
            snprintf(name, sizeof name, "raw-%s-%s", family_names[f],
                     proto_schema(families[f], t)->name);
            sample_message(&m, families[f], t, 7 + (uint64_t)t);
            if (m.len > 4096)
                continue; /* the fuzzer's inputs stay small */
            uint8_t head[4] = {0, (uint8_t)f, (uint8_t)t, (uint8_t)(7 + t)};
            mp_put_raw(b, head, 1);
            mp_put_raw(b, m.data, m.len);
            write_buf("msgpack", name, b);
            snprintf(name, sizeof name, "encode-%s-%s", family_names[f],
                     proto_schema(families[f], t)->name);
            head[0] = 1;
            mp_put_raw(b, head, sizeof head);
            write_buf("msgpack", name, b);
        }
    }
    mp_buf_free(&m);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s VECTORS_JSON OUTDIR\n", argv[0]);
        return 2;
    }
    json_error_t jerr;
    json_t *v = json_load_file(argv[1], 0, &jerr);
    if (!v) {
        fprintf(stderr, "make_seeds: %s: %s (line %d)\n", argv[1], jerr.text, jerr.line);
        return 1;
    }
    outdir = argv[2];
    make_dir(outdir);
    static const char *const corpora[] = {"tx", "block", "script", "envelope", "msgpack"};
    for (size_t i = 0; i < sizeof corpora / sizeof corpora[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", outdir, corpora[i]);
        make_dir(path);
    }

    seed_hex_section(v, "transactions", "hex");
    seed_hex_section(v, "transactions", "sighash_preimage_hex");
    seed_hex_section(v, "coinbase", "hex");
    seed_hex_section(v, "reject_encodings", "hex");

    mp_buf_t b;
    mp_buf_init(&b, PROTO_MAX_MSG);
    seed_blocks(v, &b);
    seed_scripts(v);
    seed_envelopes(&b);
    seed_msgpack(&b);
    mp_buf_free(&b);
    json_decref(v);
    printf("make_seeds: %d seeds in %s/{tx,block,script,envelope,msgpack}\n", written, outdir);
    return 0;
}
