/* The HTTP API (DESIGN §4.3) against the real chaind binary: every route
 * answers as documented, every rejection carries its code and status and
 * changes nothing, a reorganisation shows through the API, and a thousand
 * hostile connections neither stall the server, nor grow it, nor crash it.
 *
 * Expected values come from the test's own construction: the transactions
 * and blocks it signs and grinds (their hashes, amounts and heights), the
 * genesis allocations (albert 40, bertrand 30, camille 10 and 5 coins), and
 * the independent vectors in ../shared/vectors.json. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "address.h"
#include "builder.h"
#include "hex.h"
#include "jsonfmt.h"
#include "proto.h"
#include "script.h"
#include "tx.h"
#include "vectors.h"

#define COIN AMOUNT_COIN
#define FEE ((amount_t)10000) /* well above 10 units a byte for these sizes */

/* --- the world every test starts from ------------------------------------ */

static const chain_params_t *P;
static tb_wallet_t albert, bertrand, camille, miner, miner_b;
static hash32_t genesis_hash, gtx; /* gtx: the allocation tx, outputs 0..3 */

static void setup_world(void)
{
    P = params_by_name("regtest");
    cr_assert_not_null(P);
    tb_demo_wallet(&albert, "albert");
    tb_demo_wallet(&bertrand, "bertrand");
    tb_demo_wallet(&camille, "camille");
    tb_wallet(&miner, 0x51);
    tb_wallet(&miner_b, 0x52);
    tb_genesis(P, &genesis_hash, &gtx);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hexof(char out[65], const hash32_t *h) { hex_encode(out, h->b, 32); }

static void addr_of(char out[ADDRESS_MAX], const tb_wallet_t *w)
{
    address_encode(out, P->address_version, &w->pkh);
}

/* --- HTTP with headers ----------------------------------------------------- */

typedef struct {
    long status;
    char *body; /* NUL-terminated */
    size_t len;
    char *head; /* the response's header lines */
    size_t head_len;
    json_t *json;
    CURLcode rc;
} resp_t;

static void append(char **buf, size_t *len, const char *data, size_t add)
{
    char *grown = realloc(*buf, *len + add + 1);
    cr_assert_not_null(grown);
    memcpy(grown + *len, data, add);
    *len += add;
    grown[*len] = '\0';
    *buf = grown;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    append(&r->body, &r->len, data, size * n);
    return size * n;
}

static size_t on_head(char *data, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    append(&r->head, &r->head_len, data, size * n);
    return size * n;
}

typedef struct {
    size_t left;
} chunk_src_t;

static size_t read_filler(char *buf, size_t size, size_t n, void *arg)
{
    chunk_src_t *s = arg;
    size_t k = size * n < s->left ? size * n : s->left;
    memset(buf, ' ', k); /* whitespace: valid JSON padding, so only the size can fail it */
    s->left -= k;
    return k;
}

/* One request. content_type NULL: application/json. headers: extra header
 * lines, NULL-terminated, or NULL. chunked_len > 0: the body is that many
 * bytes sent chunked (no Content-Length). Does not assert success of the
 * transfer: r->rc says. */
static void req_ex(resp_t *r, const char *method, const char *url, const char *body, size_t len,
                   const char *content_type, const char *const *headers, size_t chunked_len)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    struct curl_slist *hl = NULL;
    char ct[256];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/json");
    hl = curl_slist_append(hl, ct);
    hl = curl_slist_append(hl, "Expect:");
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    chunk_src_t src = {chunked_len};
    if (chunked_len)
        hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (chunked_len) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_filler);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (r->body)
        r->json = json_loads(r->body, 0, NULL);
}

static void req(resp_t *r, const char *method, const char *url, const char *body, size_t len,
                const char *content_type, const char *const *headers)
{
    req_ex(r, method, url, body, len, content_type, headers, 0);
    cr_assert_eq(r->rc, CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(r->rc));
}

static void resp_free(resp_t *r)
{
    free(r->body);
    free(r->head);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* The value of response header name (case-insensitive), or NULL. */
static const char *header(const resp_t *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *line = r->head; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        if (ll > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(line + ll - v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            snprintf(out, cap, "%.*s", (int)vl, v);
            return out;
        }
        line = end ? end + 1 : line + ll;
    }
    return NULL;
}

static bool contains_ci(const char *hay, const char *needle)
{
    for (size_t n = strlen(needle); *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

static long get(resp_t *r, const tb_chaind_t *d, const char *path)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", d->http_url, path);
    req(r, "GET", url, NULL, 0, NULL, NULL);
    return r->status;
}

static long post_text(resp_t *r, const tb_chaind_t *d, const char *path, const char *body,
                      const char *content_type)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", d->http_url, path);
    req(r, "POST", url, body, strlen(body), content_type, NULL);
    return r->status;
}

/* Posts j (taken) as the body. */
static long post_json(resp_t *r, const tb_chaind_t *d, const char *path, json_t *j)
{
    cr_assert_not_null(j);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    long st = post_text(r, d, path, text, NULL);
    free(text);
    return st;
}

static long post_hex(resp_t *r, const tb_chaind_t *d, const char *path, const mp_buf_t *b)
{
    char *hex = malloc(2 * b->len + 1);
    cr_assert_not_null(hex);
    hex_encode(hex, b->data, b->len);
    long st = post_json(r, d, path, json_pack("{s:s}", "hex", hex));
    free(hex);
    return st;
}

/* {"transaction": <its JSON form>} of an encoded transaction. */
static long post_tx_json(resp_t *r, const tb_chaind_t *d, const mp_buf_t *b)
{
    tx_t tx;
    err_t e;
    cr_assert_eq(tx_decode(&tx, b->data, b->len, &e), 0, "%s", e.message);
    json_t *jt = jsonfmt_tx(&tx, NULL);
    tx_free(&tx);
    return post_json(r, d, "/transactions", json_pack("{s:o}", "transaction", jt));
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    cr_assert_not_null(s, "field \"%s\" missing or not a string", key);
    return s;
}

static long long jint(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "field \"%s\" missing or not an integer", key);
    return json_integer_value(v);
}

/* Asserts an error answer: the status, {"error": code, "message": text}. */
static void check_error(const resp_t *r, long status, const char *code, const char *what)
{
    cr_assert_eq(r->status, status, "%s: status %ld, want %ld (%s)", what, r->status, status,
                 r->body ? r->body : "");
    cr_assert_not_null(r->json, "%s: the error body is not JSON: %s", what, r->body);
    const char *got = json_string_value(json_object_get(r->json, "error"));
    cr_assert_not_null(got, "%s: no \"error\" in %s", what, r->body);
    cr_assert_str_eq(got, code, "%s: error \"%s\", want \"%s\" (%s)", what, got, code, r->body);
    const char *msg = json_string_value(json_object_get(r->json, "message"));
    cr_assert(msg && *msg, "%s: no message", what);
}

/* --- builders ------------------------------------------------------------- */

typedef struct {
    const hash32_t *txid;
    uint32_t index;
} in_t;

typedef struct {
    const hash20_t *to;
    amount_t amount;
} out_t;

/* A transaction whose every input is signed (P2PKH) with signer; flip_sig
 * flips a bit of the first signature after signing. */
static void make_tx(mp_buf_t *b, hash32_t *txid, const in_t *ins, size_t n_in, const out_t *outs,
                    size_t n_out, const tb_wallet_t *signer, bool flip_sig)
{
    tx_input_t in[4];
    tx_output_t out[4];
    uint8_t unlock[4][SCRIPT_P2PKH_UNLOCK_LEN], lock[4][SCRIPT_P2PKH_LOCK_LEN];
    cr_assert(n_in <= 4 && n_out <= 4);
    for (size_t i = 0; i < n_in; i++)
        in[i] = (tx_input_t){.prev_txid = *ins[i].txid, .index = ins[i].index};
    for (size_t i = 0; i < n_out; i++) {
        script_p2pkh_lock(lock[i], outs[i].to);
        out[i] = (tx_output_t){outs[i].amount, lock[i], sizeof lock[i]};
    }
    tx_t tx = {.version = TX_VERSION, .n_inputs = n_in, .inputs = in, .n_outputs = n_out,
               .outputs = out};
    err_t e;
    cr_assert_eq(tx_sign_p2pkh(&tx, &signer->key, unlock, &e), 0);
    if (flip_sig)
        unlock[0][1 + 10] ^= 0x01; /* a byte inside the 64-byte signature push */
    cr_assert_eq(tx_txid(&tx, txid), 0);
    mp_buf_init(b, TX_MAX_SIZE);
    cr_assert_eq(tx_encode(&tx, b, false), 0);
}

/* A block at height on parent holding txs, paying the subsidy plus fees to
 * payout; timestamps rise with the height from the genesis's. */
static void mine(mp_buf_t *out, hash32_t *hash, hash32_t *coinbase_txid, const hash32_t *parent,
                 uint64_t height, const tb_wallet_t *payout, amount_t fees, const mp_buf_t *txs,
                 size_t n, uint64_t tag)
{
    const uint8_t *ptr[8];
    size_t lens[8];
    cr_assert(n <= 8);
    for (size_t i = 0; i < n; i++) {
        ptr[i] = txs[i].data;
        lens[i] = txs[i].len;
    }
    mp_buf_init(out, BLOCK_MAX_SIZE);
    tb_block(out, hash, coinbase_txid, parent, height, P->genesis_timestamp + height, P->pow_limit_bits,
             &payout->pkh, params_subsidy(P, height) + fees, ptr, lens, n, tag);
}

/* POST /block {"hex"}: asserts 200 and the status word. */
static void post_block_expect(const tb_chaind_t *d, const mp_buf_t *b, const hash32_t *hash,
                              const char *want)
{
    resp_t r;
    cr_assert_eq(post_hex(&r, d, "/block", b), 200, "POST /block: %s", r.body);
    char hex[65];
    hexof(hex, hash);
    cr_assert_str_eq(jstr(r.json, "hash"), hex);
    cr_assert_str_eq(jstr(r.json, "status"), want, "block status %s, want %s",
                     jstr(r.json, "status"), want);
    resp_free(&r);
}

/* --- state checks ------------------------------------------------------- */

typedef struct {
    long long height, mempool_size;
    char tip[65];
    char *mempool, *utxo[3];
} snap_t;

static void snap(snap_t *s, const tb_chaind_t *d)
{
    resp_t r;
    cr_assert_eq(get(&r, d, "/status"), 200);
    s->height = jint(r.json, "height");
    s->mempool_size = jint(r.json, "mempool_size");
    snprintf(s->tip, sizeof s->tip, "%s", jstr(r.json, "tip"));
    resp_free(&r);
    cr_assert_eq(get(&r, d, "/mempool"), 200);
    s->mempool = r.body;
    r.body = NULL;
    resp_free(&r);
    const tb_wallet_t *ws[3] = {&albert, &bertrand, &camille};
    for (int i = 0; i < 3; i++) {
        char a[ADDRESS_MAX], path[128];
        addr_of(a, ws[i]);
        snprintf(path, sizeof path, "/utxo/%s", a);
        cr_assert_eq(get(&r, d, path), 200);
        s->utxo[i] = r.body;
        r.body = NULL;
        resp_free(&r);
    }
}

static void snap_free(snap_t *s)
{
    free(s->mempool);
    for (int i = 0; i < 3; i++)
        free(s->utxo[i]);
}

static void assert_unchanged(const tb_chaind_t *d, const snap_t *before, const char *what)
{
    snap_t now;
    snap(&now, d);
    cr_assert_eq(now.height, before->height, "%s changed the height", what);
    cr_assert_str_eq(now.tip, before->tip, "%s changed the tip", what);
    cr_assert_eq(now.mempool_size, before->mempool_size, "%s changed mempool_size (%lld -> %lld)",
                 what, before->mempool_size, now.mempool_size);
    cr_assert_str_eq(now.mempool, before->mempool, "%s changed /mempool", what);
    for (int i = 0; i < 3; i++)
        cr_assert_str_eq(now.utxo[i], before->utxo[i], "%s changed a /utxo answer", what);
    snap_free(&now);
}

typedef struct {
    const hash32_t *txid;
    uint32_t index;
    amount_t amount;
    uint64_t height;
} coin_t;

/* GET /utxo/<user> lists exactly the coins want (any order), their total,
 * and "user"/"address" as documented. */
static void check_utxo(const tb_chaind_t *d, const char *user, const tb_wallet_t *w,
                       const coin_t *want, size_t n)
{
    char path[160], canonical[ADDRESS_MAX];
    snprintf(path, sizeof path, "/utxo/%s", user);
    addr_of(canonical, w);
    resp_t r;
    cr_assert_eq(get(&r, d, path), 200, "GET %s: %s", path, r.body);
    cr_assert_str_eq(jstr(r.json, "user"), user);
    cr_assert_str_eq(jstr(r.json, "address"), canonical);
    json_t *list = json_object_get(r.json, "utxos");
    cr_assert(json_is_array(list));
    cr_assert_eq(json_array_size(list), n, "%s: %zu coins, want %zu: %s", path,
                 json_array_size(list), n, r.body);
    amount_t total = 0;
    for (size_t i = 0; i < n; i++) {
        char hex[65];
        hexof(hex, want[i].txid);
        bool found = false;
        for (size_t k = 0; k < n && !found; k++) {
            json_t *c = json_array_get(list, k);
            if (strcmp(jstr(c, "transaction_hash"), hex) != 0 ||
                jint(c, "output_index") != want[i].index)
                continue;
            found = true;
            cr_assert_eq((amount_t)jint(c, "amount"), want[i].amount, "%s: coin %s:%u amount",
                         path, hex, want[i].index);
            cr_assert_eq((uint64_t)jint(c, "height"), want[i].height);
        }
        cr_assert(found, "%s lacks the coin %s:%u: %s", path, hex, want[i].index, r.body);
        total += want[i].amount;
    }
    cr_assert_eq((amount_t)jint(r.json, "total"), total, "%s: total", path);
    resp_free(&r);
}

/* /utxo answers for a wallet in both forms: Base58Check and 40 hex digits. */
static void check_utxo_both(const tb_chaind_t *d, const tb_wallet_t *w, const coin_t *want,
                            size_t n)
{
    char a[ADDRESS_MAX], h[41];
    addr_of(a, w);
    hex_encode(h, w->pkh.b, 20);
    check_utxo(d, a, w, want, n);
    check_utxo(d, h, w, want, n);
}

static long long status_field(const tb_chaind_t *d, const char *key)
{
    resp_t r;
    cr_assert_eq(get(&r, d, "/status"), 200);
    long long v = jint(r.json, key);
    resp_free(&r);
    return v;
}

static bool mempool_has(const tb_chaind_t *d, const hash32_t *txid)
{
    char hex[65];
    hexof(hex, txid);
    resp_t r;
    cr_assert_eq(get(&r, d, "/mempool"), 200);
    cr_assert(json_is_array(r.json), "/mempool is not a list: %s", r.body);
    bool found = false;
    for (size_t i = 0; i < json_array_size(r.json); i++)
        found |= strcmp(jstr(json_array_get(r.json, i), "transaction_hash"), hex) == 0;
    resp_free(&r);
    return found;
}

/* ===================================================================== */

/* Every route of §4.3 on a live node. */
Test(http, routes_answer_as_documented, .timeout = 120)
{
    setup_world();
    tb_chaind_t d;
    const char *extra[] = {"--cors", "https://wallet.example", NULL};
    tb_chaind_start(&d, NULL, extra);
    char ghex[65], gtxhex[65];
    hexof(ghex, &genesis_hash);
    hexof(gtxhex, &gtx);
    resp_t r;

    /* /status at genesis */
    cr_assert_eq(get(&r, &d, "/status"), 200);
    cr_assert_str_eq(jstr(r.json, "network"), "regtest");
    cr_assert_eq(jint(r.json, "height"), 0);
    cr_assert_str_eq(jstr(r.json, "tip"), ghex);
    cr_assert_eq(jint(r.json, "bits"), 0x207fffff);
    cr_assert(json_is_number(json_object_get(r.json, "difficulty")));
    cr_assert_float_eq(json_number_value(json_object_get(r.json, "difficulty")), 1.0, 1e-9);
    cr_assert_eq(jint(r.json, "mempool_size"), 0);
    cr_assert_eq(jint(r.json, "peers"), 0);
    cr_assert_eq(jint(r.json, "hashrate"), 0);
    cr_assert(strlen(jstr(r.json, "version")) > 0);
    cr_assert_eq(strlen(jstr(r.json, "chainwork")), 64);
    char v[256];
    cr_assert_not_null(header(&r, "Content-Type", v, sizeof v));
    cr_assert(strncmp(v, "application/json", 16) == 0, "Content-Type %s", v);
    cr_assert_not_null(header(&r, "Access-Control-Allow-Origin", v, sizeof v),
                       "--cors gave no Access-Control-Allow-Origin");
    cr_assert_str_eq(v, "https://wallet.example");
    resp_free(&r);

    /* GET /block at genesis: one block, the allocation tx, outputs in order */
    cr_assert_eq(get(&r, &d, "/block"), 200);
    cr_assert(json_is_array(r.json) && json_array_size(r.json) == 1, "%s", r.body);
    {
        json_t *b0 = json_array_get(r.json, 0), *h0 = json_object_get(b0, "header");
        cr_assert_str_eq(jstr(h0, "hash"), ghex);
        cr_assert_eq(jint(h0, "height"), 0);
        cr_assert_eq(jint(h0, "timestamp"), (long long)P->genesis_timestamp);
        json_t *t0 = json_array_get(json_object_get(b0, "transactions"), 0);
        cr_assert_str_eq(jstr(t0, "transaction_hash"), gtxhex);
        json_t *outs = json_object_get(t0, "outputs");
        const amount_t alloc[4] = {40 * COIN, 30 * COIN, 10 * COIN, 5 * COIN};
        cr_assert_eq(json_array_size(outs), 4);
        for (size_t i = 0; i < 4; i++)
            cr_assert_eq((amount_t)jint(json_array_get(outs, i), "amount"), alloc[i]);
    }
    resp_free(&r);

    /* block 1 by {"hex"}, block 2 by its JSON form (as GET /block/<id> gives it) */
    mp_buf_t b1, b2;
    hash32_t h1, h2, cb1, cb2;
    mine(&b1, &h1, &cb1, &genesis_hash, 1, &miner, 0, NULL, 0, 1);
    mine(&b2, &h2, &cb2, &h1, 2, &miner, 0, NULL, 0, 2);
    post_block_expect(&d, &b1, &h1, "tip");
    post_block_expect(&d, &b1, &h1, "known");
    block_t blk2;
    err_t e;
    cr_assert_eq(block_decode(&blk2, b2.data, b2.len, &e), 0);
    json_t *form2 = jsonfmt_block(&blk2, 2);
    cr_assert_not_null(form2);
    cr_assert_eq(post_json(&r, &d, "/block", json_pack("{s:O}", "block", form2)), 200, "%s",
                 r.body);
    char h1hex[65], h2hex[65], cb2hex[65];
    hexof(h1hex, &h1);
    hexof(h2hex, &h2);
    hexof(cb2hex, &cb2);
    cr_assert_str_eq(jstr(r.json, "hash"), h2hex);
    cr_assert_str_eq(jstr(r.json, "status"), "tip");
    resp_free(&r);
    /* and back: GET /block/<hash> is the form that was posted */
    char path[256];
    snprintf(path, sizeof path, "/block/%s", h2hex);
    cr_assert_eq(get(&r, &d, path), 200);
    cr_assert(json_is_true(json_object_get(r.json, "main_chain")));
    json_object_del(r.json, "main_chain");
    cr_assert(json_equal(r.json, form2), "GET /block/<hash> differs from the posted form:\n%s",
              r.body);
    {
        json_t *hd = json_object_get(r.json, "header");
        char nonce[17];
        snprintf(nonce, sizeof nonce, "%016" PRIx64, blk2.header.nonce);
        cr_assert_str_eq(jstr(hd, "nonce"), nonce);
        cr_assert_str_eq(jstr(hd, "previous_block_hash"), h1hex);
        cr_assert_eq(jint(hd, "height"), 2);
        cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "transactions"), 0),
                              "transaction_hash"),
                         cb2hex);
    }
    resp_free(&r);
    block_free(&blk2);
    json_decref(form2);
    /* a JSON block whose "hash" does not match its header */
    {
        cr_assert_eq(block_decode(&blk2, b2.data, b2.len, &e), 0);
        json_t *f = jsonfmt_block(&blk2, 2);
        block_free(&blk2);
        json_object_set_new(json_object_get(f, "header"), "hash", json_string(ghex));
        post_json(&r, &d, "/block", json_pack("{s:o}", "block", f));
        check_error(&r, 400, "bad_request", "a block JSON whose hash does not match");
        resp_free(&r);
    }

    /* GET /block/<height>, /block/<hash>, unknown and malformed */
    cr_assert_eq(get(&r, &d, "/block/1"), 200);
    cr_assert_str_eq(jstr(json_object_get(r.json, "header"), "hash"), h1hex);
    cr_assert_eq(jint(json_object_get(r.json, "header"), "height"), 1);
    resp_free(&r);
    snprintf(path, sizeof path, "/block/%s", ghex);
    cr_assert_eq(get(&r, &d, path), 200);
    cr_assert_eq(jint(json_object_get(r.json, "header"), "height"), 0);
    resp_free(&r);
    get(&r, &d, "/block/3");
    check_error(&r, 404, "not_found", "GET /block/<height above the tip>");
    resp_free(&r);
    get(&r, &d, "/block/00000000000000000000000000000000000000000000000000000000000000ab");
    check_error(&r, 404, "not_found", "GET /block/<unknown hash>");
    resp_free(&r);
    get(&r, &d, "/block/xyz");
    check_error(&r, 400, "bad_request", "GET /block/xyz");
    resp_free(&r);

    /* GET /block: newest first, limit and from */
    cr_assert_eq(get(&r, &d, "/block"), 200);
    cr_assert_eq(json_array_size(r.json), 3);
    cr_assert_str_eq(jstr(json_object_get(json_array_get(r.json, 0), "header"), "hash"), h2hex);
    cr_assert_str_eq(jstr(json_object_get(json_array_get(r.json, 1), "header"), "hash"), h1hex);
    cr_assert_str_eq(jstr(json_object_get(json_array_get(r.json, 2), "header"), "hash"), ghex);
    resp_free(&r);
    cr_assert_eq(get(&r, &d, "/block?limit=2"), 200);
    cr_assert_eq(json_array_size(r.json), 2);
    cr_assert_eq(jint(json_object_get(json_array_get(r.json, 1), "header"), "height"), 1);
    resp_free(&r);
    cr_assert_eq(get(&r, &d, "/block?limit=1&from=1"), 200);
    cr_assert_eq(json_array_size(r.json), 1);
    cr_assert_str_eq(jstr(json_object_get(json_array_get(r.json, 0), "header"), "hash"), h1hex);
    resp_free(&r);
    cr_assert_eq(get(&r, &d, "/block?from=0"), 200);
    cr_assert_eq(json_array_size(r.json), 1);
    cr_assert_str_eq(jstr(json_object_get(json_array_get(r.json, 0), "header"), "hash"), ghex);
    resp_free(&r);
    const char *bad_queries[] = {"/block?limit=0",   "/block?limit=abc", "/block?from=-1",
                                 "/block?limit=1001", "/block?from=1x",  "/block?limit=",
                                 "/block?from=99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_queries / sizeof bad_queries[0]; i++) {
        get(&r, &d, bad_queries[i]);
        check_error(&r, 400, "bad_request", bad_queries[i]);
        resp_free(&r);
    }

    /* POST /transactions: T1 as {"transaction"}, T2 as {"hex"} */
    mp_buf_t t1, t2;
    hash32_t t1id, t2id;
    in_t i1[] = {{&gtx, 0}};
    out_t o1[] = {{&camille.pkh, 1 * COIN}, {&albert.pkh, 39 * COIN - FEE}};
    make_tx(&t1, &t1id, i1, 1, o1, 2, &albert, false);
    in_t i2[] = {{&gtx, 1}};
    out_t o2[] = {{&albert.pkh, 3 * COIN}, {&bertrand.pkh, 27 * COIN - FEE}};
    make_tx(&t2, &t2id, i2, 1, o2, 2, &bertrand, false);
    char t1hex[65], t2hex[65];
    hexof(t1hex, &t1id);
    hexof(t2hex, &t2id);
    cr_assert_eq(post_tx_json(&r, &d, &t1), 200, "POST /transactions (JSON): %s", r.body);
    cr_assert_str_eq(jstr(r.json, "transaction_hash"), t1hex);
    resp_free(&r);
    cr_assert_eq(post_hex(&r, &d, "/transactions", &t2), 200, "POST /transactions (hex): %s",
                 r.body);
    cr_assert_str_eq(jstr(r.json, "transaction_hash"), t2hex);
    resp_free(&r);
    /* a resubmission is a success marked known */
    cr_assert_eq(post_hex(&r, &d, "/transactions", &t1), 200);
    cr_assert_str_eq(jstr(r.json, "transaction_hash"), t1hex);
    cr_assert(json_is_true(json_object_get(r.json, "known")));
    resp_free(&r);

    /* GET /transactions/<mempool tx> */
    snprintf(path, sizeof path, "/transactions/%s", t1hex);
    cr_assert_eq(get(&r, &d, path), 200);
    cr_assert(json_is_true(json_object_get(r.json, "in_mempool")), "%s", r.body);
    cr_assert_str_eq(jstr(r.json, "transaction_hash"), t1hex);
    cr_assert_eq((amount_t)jint(json_array_get(json_object_get(r.json, "outputs"), 0), "amount"),
                 1 * COIN);
    cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "inputs"), 0),
                          "transaction_hash"),
                     gtxhex);
    resp_free(&r);
    get(&r, &d, "/transactions/00000000000000000000000000000000000000000000000000000000000000cd");
    check_error(&r, 404, "not_found", "GET /transactions/<unknown>");
    resp_free(&r);
    get(&r, &d, "/transactions/beef");
    check_error(&r, 400, "bad_request", "GET /transactions/<short>");
    resp_free(&r);

    /* GET /mempool and mempool_size */
    cr_assert(mempool_has(&d, &t1id) && mempool_has(&d, &t2id));
    cr_assert_eq(status_field(&d, "mempool_size"), 2);
    cr_assert_eq(get(&r, &d, "/mempool"), 200);
    cr_assert_eq(json_array_size(r.json), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *m = json_array_get(r.json, i);
        cr_assert_eq((amount_t)jint(m, "fee"), FEE, "%s", r.body);
        cr_assert_gt(jint(m, "size"), 0);
    }
    resp_free(&r);

    /* mine T1 and T2 in block 3 (posted), then check /transactions and /utxo */
    mp_buf_t b3, txs3[2] = {t1, t2};
    hash32_t h3, cb3;
    mine(&b3, &h3, &cb3, &h2, 3, &miner, 2 * FEE, txs3, 2, 3);
    post_block_expect(&d, &b3, &h3, "tip");
    char h3hex[65];
    hexof(h3hex, &h3);
    cr_assert_eq(status_field(&d, "mempool_size"), 0, "mined transactions stayed in the mempool");
    cr_assert_eq(status_field(&d, "height"), 3);
    cr_assert_eq(get(&r, &d, path), 200);
    cr_assert_str_eq(jstr(r.json, "block_hash"), h3hex);
    cr_assert_eq(jint(r.json, "height"), 3);
    cr_assert_eq(jint(r.json, "confirmations"), 1);
    cr_assert(!json_is_true(json_object_get(r.json, "in_mempool")));
    resp_free(&r);
    mp_buf_t b4;
    hash32_t h4, cb4;
    mine(&b4, &h4, &cb4, &h3, 4, &miner, 0, NULL, 0, 4);
    post_block_expect(&d, &b4, &h4, "tip");
    cr_assert_eq(get(&r, &d, path), 200);
    cr_assert_eq(jint(r.json, "confirmations"), 2);
    resp_free(&r);

    /* /utxo in both forms: amounts, heights, totals as sent */
    coin_t cam[] = {{&gtx, 2, 10 * COIN, 0}, {&gtx, 3, 5 * COIN, 0}, {&t1id, 0, 1 * COIN, 3}};
    check_utxo_both(&d, &camille, cam, 3);
    coin_t alb[] = {{&t1id, 1, 39 * COIN - FEE, 3}, {&t2id, 0, 3 * COIN, 3}};
    check_utxo_both(&d, &albert, alb, 2);
    coin_t ber[] = {{&t2id, 1, 27 * COIN - FEE, 3}};
    check_utxo_both(&d, &bertrand, ber, 1);
    coin_t mn[] = {{&cb1, 0, params_subsidy(P, 1), 1},
                   {&cb2, 0, params_subsidy(P, 2), 2},
                   {&cb3, 0, params_subsidy(P, 3) + 2 * FEE, 3},
                   {&cb4, 0, params_subsidy(P, 4), 4}};
    check_utxo_both(&d, &miner, mn, 4);
    check_utxo_both(&d, &miner_b, NULL, 0);
    get(&r, &d, "/utxo/not-an-address");
    check_error(&r, 400, "bad_address", "GET /utxo/<garbage>");
    resp_free(&r);
    {
        char demo_addr[ADDRESS_MAX], p2[128];
        address_encode(demo_addr, params_by_name("demo")->address_version, &albert.pkh);
        snprintf(p2, sizeof p2, "/utxo/%s", demo_addr);
        get(&r, &d, p2);
        check_error(&r, 400, "bad_address", "GET /utxo/<a demo-network address>");
        resp_free(&r);
    }

    /* /metrics, /healthz, /readyz, HEAD */
    cr_assert_eq(get(&r, &d, "/metrics"), 200);
    cr_assert_not_null(header(&r, "Content-Type", v, sizeof v));
    cr_assert(strncmp(v, "text/plain", 10) == 0, "metrics Content-Type %s", v);
    cr_assert_not_null(strstr(r.body, "# TYPE chain_height gauge\n"), "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\nchain_height 4\n"), "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\nchain_mempool_transactions 0\n"), "%s", r.body);
    resp_free(&r);
    cr_assert_eq(get(&r, &d, "/healthz"), 200);
    cr_assert_str_eq(jstr(r.json, "status"), "ok");
    resp_free(&r);
    cr_assert_eq(get(&r, &d, "/readyz"), 200);
    cr_assert_str_eq(jstr(r.json, "status"), "ready");
    cr_assert_eq(jint(r.json, "height"), 4);
    resp_free(&r);
    {
        char url[256];
        snprintf(url, sizeof url, "%s/status", d.http_url);
        req(&r, "HEAD", url, NULL, 0, NULL, NULL);
        cr_assert_eq(r.status, 200);
        cr_assert_eq(r.len, 0);
        resp_free(&r);
    }

    /* CORS preflight */
    {
        char url[256];
        snprintf(url, sizeof url, "%s/transactions", d.http_url);
        const char *hs[] = {"Origin: https://wallet.example",
                            "Access-Control-Request-Method: POST",
                            "Access-Control-Request-Headers: content-type", NULL};
        req(&r, "OPTIONS", url, NULL, 0, NULL, hs);
        cr_assert_eq(r.status, 204, "OPTIONS: %ld", r.status);
        cr_assert_not_null(header(&r, "Access-Control-Allow-Origin", v, sizeof v));
        cr_assert_str_eq(v, "https://wallet.example");
        cr_assert_not_null(header(&r, "Access-Control-Allow-Methods", v, sizeof v));
        cr_assert_not_null(strstr(v, "POST"), "Allow-Methods: %s", v);
        cr_assert_not_null(header(&r, "Access-Control-Allow-Headers", v, sizeof v));
        cr_assert(contains_ci(v, "content-type"), "Allow-Headers: %s", v);
        resp_free(&r);
    }

    /* 405 and 404 */
    {
        char url[256];
        snprintf(url, sizeof url, "%s/status", d.http_url);
        req(&r, "DELETE", url, NULL, 0, NULL, NULL);
        check_error(&r, 405, "method_not_allowed", "DELETE /status");
        cr_assert_not_null(header(&r, "Allow", v, sizeof v), "405 without Allow");
        cr_assert_not_null(strstr(v, "GET"), "Allow: %s", v);
        resp_free(&r);
        req(&r, "POST", url, "{}", 2, NULL, NULL);
        check_error(&r, 405, "method_not_allowed", "POST /status");
        resp_free(&r);
    }
    get(&r, &d, "/transactions");
    check_error(&r, 405, "method_not_allowed", "GET /transactions");
    resp_free(&r);
    get(&r, &d, "/nope");
    check_error(&r, 404, "not_found", "GET /nope");
    resp_free(&r);
    get(&r, &d, "/block/1/2");
    check_error(&r, 404, "not_found", "GET /block/1/2");
    resp_free(&r);

    /* POST /new_node_advertisement: a peer.add event on the events socket */
    void *zctx = zmq_ctx_new();
    void *sub = zmq_socket(zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "peer.add", 8), 0);
    cr_assert_eq(zmq_connect(sub, d.events_endpoint), 0);
    const char *host = "peer-seven.example:9333";
    bool got = false;
    uint64_t last_seq = 0;
    int events = 0;
    /* a SUB joins asynchronously: advertise until one event arrives */
    for (double end = now_s() + 10; !got && now_s() < end;) {
        cr_assert_eq(post_json(&r, &d, "/new_node_advertisement",
                               json_pack("{s:s}", "hostname", host)),
                     200, "%s", r.body);
        cr_assert_str_eq(jstr(r.json, "hostname"), host);
        resp_free(&r);
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        while (zmq_poll(&it, 1, 200) > 0) {
            char topic[32];
            uint8_t body[1024];
            int tn = zmq_recv(sub, topic, sizeof topic, 0);
            int more = 0;
            size_t ml = sizeof more;
            zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
            cr_assert(tn > 0 && more, "an event is two frames");
            int bn = zmq_recv(sub, body, sizeof body, 0);
            cr_assert(bn > 0 && bn <= (int)sizeof body);
            proto_event_t ev;
            cr_assert_eq(proto_decode_event(&ev, topic, (size_t)tn, body, (size_t)bn, &e), 0,
                         "%s", e.message);
            cr_assert_str_eq(ev.topic, "peer.add");
            char hn[256];
            cr_assert_eq(proto_get_str(&ev.body, "hostname", hn, sizeof hn), 0);
            cr_assert_str_eq(hn, host);
            cr_assert(events == 0 || ev.seq > last_seq, "peer.add seq did not rise");
            last_seq = ev.seq;
            events++;
            got = true;
            it.revents = 0;
        }
    }
    cr_assert(got, "no peer.add event within 10 s");
    const char *bad_hosts[] = {"{\"hostname\": \"nohost\"}", "{\"hostname\": \"h:0\"}",
                               "{\"hostname\": \"h:70000\"}", "{\"hostname\": \"a b:1\"}",
                               "{\"hostname\": 5}", "{}"};
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
        post_text(&r, &d, "/new_node_advertisement", bad_hosts[i], NULL);
        check_error(&r, 400, "bad_request", bad_hosts[i]);
        resp_free(&r);
    }

    /* GET /known_node_request shows gossipd's `peers` report */
    cr_assert_eq(get(&r, &d, "/known_node_request"), 200);
    cr_assert(json_is_array(r.json) && json_array_size(r.json) == 0, "%s", r.body);
    resp_free(&r);
    void *dealer = zmq_socket(zctx, ZMQ_DEALER);
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(dealer, d.rpc_endpoint), 0);
    mp_buf_t m;
    mp_buf_init(&m, PROTO_MAX_MSG);
    proto_begin_request(&m, "peers", 77, 1);
    mp_put_cstr(&m, "peers");
    mp_put_array(&m, 2);
    mp_put_map(&m, 3);
    mp_put_cstr(&m, "addr");
    mp_put_cstr(&m, "10.1.2.3:9333");
    mp_put_cstr(&m, "inbound");
    mp_put_bool(&m, false);
    mp_put_cstr(&m, "height");
    mp_put_uint(&m, 4);
    mp_put_map(&m, 3);
    mp_put_cstr(&m, "addr");
    mp_put_cstr(&m, "[2001:db8::1]:9333");
    mp_put_cstr(&m, "inbound");
    mp_put_bool(&m, true);
    mp_put_cstr(&m, "height");
    mp_put_uint(&m, 2);
    cr_assert(mp_buf_ok(&m));
    cr_assert_eq(zmq_send(dealer, m.data, m.len, 0), (int)m.len);
    zmq_pollitem_t it = {dealer, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&it, 1, 5000), 1, "no reply to `peers` within 5 s");
    uint8_t rep[4096];
    int rn = zmq_recv(dealer, rep, sizeof rep, 0);
    cr_assert(rn > 0);
    proto_reply_t pr;
    cr_assert_eq(proto_decode_reply(&pr, rep, (size_t)rn, &e), 0, "%s", e.message);
    cr_assert(pr.ok, "peers answered %s", pr.message);
    cr_assert_eq(pr.id, 77);
    mp_buf_free(&m);
    cr_assert_eq(get(&r, &d, "/known_node_request"), 200);
    cr_assert(json_is_array(r.json) && json_array_size(r.json) == 2, "%s", r.body);
    cr_assert_str_eq(jstr(json_array_get(r.json, 0), "hostname"), "10.1.2.3:9333");
    cr_assert_str_eq(jstr(json_array_get(r.json, 1), "hostname"), "[2001:db8::1]:9333");
    cr_assert_eq(jint(json_array_get(r.json, 0), "height"), 4);
    resp_free(&r);
    cr_assert_eq(status_field(&d, "peers"), 2);
    zmq_close(dealer);
    zmq_close(sub);
    zmq_ctx_term(zctx);

    mp_buf_free(&b1);
    mp_buf_free(&b2);
    mp_buf_free(&b3);
    mp_buf_free(&b4);
    mp_buf_free(&t1);
    mp_buf_free(&t2);
    cr_assert_eq(tb_chaind_stop(&d), 0, "chaind did not exit 0 on SIGTERM");
    tb_rmdir(d.datadir);
}
