/* make_seeds: writes the fuzz targets' seed corpora.
 *
 *   make_seeds VECTORS_JSON ED25519_JSON OUTDIR
 *
 * Built with the fuzz targets (target make_seeds in build-fuzz/; an ordinary
 * program, no libFuzzer main). From shared/vectors.json,
 * shared/vectors-ed25519.json, the edge encodings of tests/support and the
 * project's own encoders it writes:
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
 *   OUTDIR/ed25519   in fuzz_ed25519's format: every ed25519 vector, each with
 *                    every small-order point as its key and as R, y >= p keys
 *                    and R, S >= L, and signed triples by the vectors.json keys
 *   OUTDIR/ed25519.dict  libFuzzer dictionary of those encodings and of the
 *                    vectors' keys, R and S halves
 * Seed files are named seed-*, so reruns overwrite them and keep what the
 * fuzzer added. Exits non-zero on any failure. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "block.h"
#include "ed25519_edges.h"
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

/* --- ed25519 ------------------------------------------------------------ */

#define ED_KEY 32
#define ED_SIG 64

static void seed_triple(const char *name, const uint8_t *pub, const uint8_t *sig,
                        const uint8_t *msg, size_t msg_len)
{
    uint8_t seed[1 + ED_KEY + ED_SIG + 64];
    if (msg_len > 64)
        die("an ed25519 seed message over 64 bytes");
    seed[0] = 0; /* raw */
    memcpy(seed + 1, pub, ED_KEY);
    memcpy(seed + 1 + ED_KEY, sig, ED_SIG);
    memcpy(seed + 1 + ED_KEY + ED_SIG, msg, msg_len);
    write_seed("ed25519", name, seed, 1 + ED_KEY + ED_SIG + msg_len);
}

/* A signed triple: the key of `key_seed` signs msg, under a zero mask. */
static void seed_signed(const char *name, const uint8_t *key_seed, const uint8_t *msg,
                        size_t msg_len)
{
    uint8_t seed[1 + 32 + ED_KEY + ED_SIG + 32] = {1};
    if (msg_len > 32)
        die("an ed25519 seed message over 32 bytes");
    memcpy(seed + 1, key_seed, 32);
    memcpy(seed + 1 + 32 + ED_KEY + ED_SIG, msg, msg_len);
    write_seed("ed25519", name, seed, 1 + 32 + ED_KEY + ED_SIG + msg_len);
}

static void dict_entry(FILE *f, const char *name, const uint8_t *b, size_t n)
{
    fprintf(f, "%s=\"", name);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "\\x%02x", b[i]);
    fprintf(f, "\"\n");
}

static void write_dict(json_t *ed)
{
    char path[4096], name[64];
    snprintf(path, sizeof path, "%s/ed25519.dict", outdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    for (size_t i = 0; i < ED25519_SMALL_ORDER_COUNT; i++) {
        snprintf(name, sizeof name, "small_order_%zu", i);
        dict_entry(f, name, ed25519_small_order[i].enc, 32);
    }
    for (unsigned k = 0; k < ED25519_NON_CANONICAL_COUNT; k++)
        for (int sign = 0; sign < 2; sign++) {
            uint8_t enc[32];
            ed25519_non_canonical(enc, k, sign);
            snprintf(name, sizeof name, "y_p_plus_%u_sign_%d", k, sign);
            dict_entry(f, name, enc, 32);
        }
    uint8_t max[32];
    memset(max, 0xff, sizeof max);
    dict_entry(f, "order_l", ed25519_order_l, 32);
    dict_entry(f, "s_max", max, 32);
    size_t i;
    json_t *o;
    json_array_foreach(section(ed, "signatures"), i, o) {
        size_t pl, sl;
        uint8_t *pub = unhex(o, "pubkey", &pl), *sig = unhex(o, "signature", &sl);
        if (pl != ED_KEY || sl != ED_SIG)
            die("an ed25519 vector of the wrong size");
        snprintf(name, sizeof name, "vector_%zu_key", i);
        dict_entry(f, name, pub, ED_KEY);
        snprintf(name, sizeof name, "vector_%zu_r", i);
        dict_entry(f, name, sig, 32);
        snprintf(name, sizeof name, "vector_%zu_s", i);
        dict_entry(f, name, sig + 32, 32);
        free(pub);
        free(sig);
    }
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* Vector i, and its variants with the edge encodings in place of its key,
 * its R and its S. */
static void seed_ed25519_vector(size_t i, const uint8_t *pub, const uint8_t *sig,
                                const uint8_t *msg, size_t msg_len)
{
    char name[64];
    uint8_t key[ED_KEY], bad[ED_SIG];
    snprintf(name, sizeof name, "vector-%zu", i);
    seed_triple(name, pub, sig, msg, msg_len);
    for (size_t j = 0; j < ED25519_SMALL_ORDER_COUNT; j++) {
        snprintf(name, sizeof name, "vector-%zu-small-key-%zu", i, j);
        seed_triple(name, ed25519_small_order[j].enc, sig, msg, msg_len);
        memcpy(bad, sig, ED_SIG);
        memcpy(bad, ed25519_small_order[j].enc, 32);
        snprintf(name, sizeof name, "vector-%zu-small-r-%zu", i, j);
        seed_triple(name, pub, bad, msg, msg_len);
    }
    for (unsigned k = 0; k < ED25519_NON_CANONICAL_COUNT; k++)
        for (int sign = 0; sign < 2; sign++) {
            ed25519_non_canonical(key, k, sign);
            snprintf(name, sizeof name, "vector-%zu-y-p-plus-%u-%d-key", i, k, sign);
            seed_triple(name, key, sig, msg, msg_len);
            memcpy(bad, sig, ED_SIG);
            memcpy(bad, key, 32);
            snprintf(name, sizeof name, "vector-%zu-y-p-plus-%u-%d-r", i, k, sign);
            seed_triple(name, pub, bad, msg, msg_len);
        }
    memcpy(bad, sig, ED_SIG);
    ed25519_add_l(bad + 32);
    snprintf(name, sizeof name, "vector-%zu-s-plus-l", i);
    seed_triple(name, pub, bad, msg, msg_len);
    memcpy(bad + 32, ed25519_order_l, 32);
    snprintf(name, sizeof name, "vector-%zu-s-is-l", i);
    seed_triple(name, pub, bad, msg, msg_len);
}

static void seed_ed25519(json_t *ed, json_t *v)
{
    size_t i;
    json_t *o;
    json_array_foreach(section(ed, "signatures"), i, o) {
        size_t pl, sl, ml;
        uint8_t *pub = unhex(o, "pubkey", &pl), *sig = unhex(o, "signature", &sl),
                *msg = unhex(o, "sighash", &ml);
        if (pl != ED_KEY || sl != ED_SIG || ml > 64)
            die("an ed25519 vector of the wrong size");
        seed_ed25519_vector(i, pub, sig, msg, ml);
        free(pub);
        free(sig);
        free(msg);
    }
    /* the small-order points against each other: key P, R Q, S = 0 */
    static const uint8_t msg[32] = {1};
    for (size_t a = 0; a < ED25519_SMALL_ORDER_COUNT; a++)
        for (size_t r = 0; r < ED25519_SMALL_ORDER_COUNT; r++) {
            uint8_t sig[ED_SIG] = {0};
            memcpy(sig, ed25519_small_order[r].enc, 32);
            char name[64];
            snprintf(name, sizeof name, "small-key-%zu-small-r-%zu", a, r);
            seed_triple(name, ed25519_small_order[a].enc, sig, msg, sizeof msg);
        }
    json_t *sighash_src = json_array_get(section(v, "transactions"), 0);
    size_t shl;
    uint8_t *sighash = unhex(sighash_src, "sighash", &shl);
    json_array_foreach(section(v, "keys"), i, o) {
        size_t kl;
        uint8_t *key_seed = unhex(o, "seed", &kl);
        if (kl != 32 || shl != 32)
            die("a key vector of the wrong size");
        char name[64];
        snprintf(name, sizeof name, "signed-key-%zu", i);
        seed_signed(name, key_seed, sighash, shl);
        snprintf(name, sizeof name, "signed-key-%zu-empty", i);
        seed_signed(name, key_seed, msg, 0);
        free(key_seed);
    }
    free(sighash);
    write_dict(ed);
}

static json_t *load_json(const char *path)
{
    json_error_t jerr;
    json_t *v = json_load_file(path, 0, &jerr);
    if (!v) {
        fprintf(stderr, "make_seeds: %s: %s (line %d)\n", path, jerr.text, jerr.line);
        exit(1);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s VECTORS_JSON ED25519_JSON OUTDIR\n", argv[0]);
        return 2;
    }
    json_t *v = load_json(argv[1]), *ed = load_json(argv[2]);
    outdir = argv[3];
    make_dir(outdir);
    static const char *const corpora[] = {"tx", "block", "script", "envelope", "ed25519",
                                          "msgpack"};
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
    seed_ed25519(ed, v);
    json_decref(v);
    json_decref(ed);
    printf("make_seeds: %d seeds in %s/{tx,block,script,envelope,ed25519,msgpack}\n", written,
           outdir);
    return 0;
}
