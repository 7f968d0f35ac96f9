#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "address.h"
#include "hex.h"
#include "jsonfmt.h"
#include "log.h"
#include "pow.h"

#define DEFAULT_THREADS 4
#define MAX_THREADS 64 /* each thread holds at most one of LMDB's 256 reader slots */
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_MAX_BODY ((size_t)2 << 20)
#define CONNECTION_TIMEOUT_S 30
#define BLOCKS_DEFAULT 100
#define BLOCKS_MAX 1000
#define BLOCKS_MAX_BYTES ((size_t)4 << 20) /* encoded blocks in one /block answer */
#define UTXO_MAX 10000
#define MEMPOOL_LIST_MAX 1000
#define HOSTNAME_MAX 255
#define ADDRESS_TEXT_MAX 100 /* longer is no address in either form */
#define LOG_TEXT_MAX 160     /* bytes of a client's URL or method shown in a log line */

#define JSON_TYPE "application/json"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* The answer when even the error's JSON cannot be built. */
#define OOM_BODY "{\"error\":\"internal\",\"message\":\"out of memory\"}"

struct http_server {
    struct MHD_Daemon *daemon;
    node_t *node;
    char *cors_origin;
    char *version;
    size_t max_body;
    _Atomic uint64_t requests;
};

enum { M_GET = 1, M_POST = 2 };

typedef enum {
    R_BLOCKS, R_BLOCK, R_TXS, R_TX, R_UTXO, R_ADVERT, R_PEERS,
    R_STATUS, R_MEMPOOL, R_METRICS, R_HEALTHZ, R_READYZ
} route_id_t;

typedef struct {
    const char *path;
    bool prefix; /* path is followed by one non-empty segment, the argument */
    route_id_t id;
    unsigned methods;
} route_t;

static const route_t routes[] = {
    {"/block", false, R_BLOCKS, M_GET | M_POST},
    {"/block/", true, R_BLOCK, M_GET},
    {"/transactions", false, R_TXS, M_POST},
    {"/transactions/", true, R_TX, M_GET},
    {"/utxo/", true, R_UTXO, M_GET},
    {"/new_node_advertisement", false, R_ADVERT, M_POST},
    {"/known_node_request", false, R_PEERS, M_GET},
    {"/status", false, R_STATUS, M_GET},
    {"/mempool", false, R_MEMPOOL, M_GET},
    {"/metrics", false, R_METRICS, M_GET},
    {"/healthz", false, R_HEALTHZ, M_GET},
    {"/readyz", false, R_READYZ, M_GET},
};

/* One request's state, kept in MHD's con_cls across the handler's calls. */
typedef struct {
    struct timespec start;
    char *body; /* POST body so far, at most max_body bytes */
    size_t len, cap;
    size_t received; /* body bytes seen, kept or dropped */
    bool too_large;  /* past max_body: the rest is dropped, 413 follows */
    bool answered;
} req_t;

/* What a handler needs to answer. */
typedef struct {
    http_server_t *s;
    struct MHD_Connection *c;
    req_t *r;
    const char *method, *url;
    bool preflight; /* an OPTIONS answer: add the CORS preflight headers */
} ctx_t;

/* --- small parsers -------------------------------------------------------- */

/* Exactly n decimal digits (1..20, no sign) that fit in 64 bits. */
static int parse_u64n(const char *s, size_t n, uint64_t *v)
{
    if (n == 0 || n > 20)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

static uint64_t get_be(const uint8_t *p, int width)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++)
        v = v << 8 | p[i];
    return v;
}

/* Copies text for a log line or a JSON message: bytes outside printable
 * ASCII become '?', so neither can be forged or made invalid UTF-8. */
static void printable(char *out, size_t cap, const char *in)
{
    size_t i = 0;
    for (; in && in[i] && i + 1 < cap; i++)
        out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
    out[i] = '\0';
}

/* JSON numbers are signed 64-bit in jansson. */
static json_int_t jint(uint64_t v) { return v > INT64_MAX ? INT64_MAX : (json_int_t)v; }

static json_t *hash_json(const hash32_t *h)
{
    char hex[65];
    jsonfmt_hash_hex(hex, h);
    return json_string(hex);
}

/* --- answers -------------------------------------------------------------- */

static double elapsed_ms(const req_t *r)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return 0;
    return (double)(now.tv_sec - r->start.tv_sec) * 1e3 +
           (double)(now.tv_nsec - r->start.tv_nsec) / 1e6;
}

/* Queues body (freed by MHD when mode is MHD_RESPMEM_MUST_FREE) with the
 * headers every answer carries. type: the Content-Type, or NULL for no body;
 * allow: the Allow header, or NULL. */
static enum MHD_Result send_body(ctx_t *x, unsigned status, const char *type, void *body,
                                 size_t len, enum MHD_ResponseMemoryMode mode, const char *allow)
{
    x->r->answered = true;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    const char *cors = x->s->cors_origin;
    bool ok = (!type || MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) ==
                            MHD_YES) &&
              MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES;
    if (ok && allow)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) == MHD_YES;
    if (ok && cors)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, cors) ==
             MHD_YES;
    if (ok && cors && x->preflight)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_METHODS,
                                     allow) == MHD_YES &&
             MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_HEADERS,
                                     "Content-Type") == MHD_YES &&
             MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_MAX_AGE, "86400") ==
                 MHD_YES;
    enum MHD_Result rc = ok ? MHD_queue_response(x->c, status, resp) : MHD_NO;
    MHD_destroy_response(resp);
    char method[32], url[LOG_TEXT_MAX];
    printable(method, sizeof method, x->method);
    printable(url, sizeof url, x->url);
    LOGDEBUG("http: %s %s %u %.1f ms", method, url, status, elapsed_ms(x->r));
    return rc;
}

static enum MHD_Result reply_fail(ctx_t *x, unsigned status, err_code_t code, const char *allow,
                                  const char *message)
{
    char msg[sizeof ((err_t *)0)->message], method[32], url[LOG_TEXT_MAX];
    printable(msg, sizeof msg, message);
    printable(method, sizeof method, x->method);
    printable(url, sizeof url, x->url);
    LOGINFO("http: %s %s -> %u %s: %s", method, url, status, err_str(code), msg);
    json_t *j = json_pack("{s:s, s:s}", "error", err_str(code), "message", msg);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return send_body(x, 500, JSON_TYPE, (void *)OOM_BODY, sizeof OOM_BODY - 1,
                         MHD_RESPMEM_PERSISTENT, allow);
    return send_body(x, status, JSON_TYPE, text, strlen(text), MHD_RESPMEM_MUST_FREE, allow);
}

/* Answers a rejection with its code's status from the one table. */
static enum MHD_Result reply_err(ctx_t *x, const err_t *e)
{
    err_code_t code = e->code;
    /* a failure that forgot its code is still a failure */
    if (code == ERR_OK || (unsigned)code >= ERR_COUNT_)
        code = ERR_INTERNAL;
    return reply_fail(x, (unsigned)err_http_status(code), code, NULL, e->message);
}

static enum MHD_Result reply_error(ctx_t *x, err_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result reply_error(ctx_t *x, err_code_t code, const char *fmt, ...)
{
    err_t e = {.code = code};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    return reply_err(x, &e);
}

/* Takes j (NULL: memory ran out). */
static enum MHD_Result reply_json(ctx_t *x, unsigned status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return reply_error(x, ERR_INTERNAL, "out of memory");
    return send_body(x, status, JSON_TYPE, text, strlen(text), MHD_RESPMEM_MUST_FREE, NULL);
}

/* --- LMDB reads (read-only transactions, no lock) ------------------------- */

static int lmdb_fail(err_t *e, const char *what, int rc)
{
    return err_set(e, ERR_INTERNAL, "store: %s: %s", what, mdb_strerror(rc));
}

static int read_begin(store_t *st, MDB_txn **txn, err_t *e)
{
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
    return rc ? lmdb_fail(e, "read transaction", rc) : 0;
}

/* The main chain's height in this snapshot: its last height key. */
static int tip_height(MDB_txn *txn, const store_t *st, uint64_t *height, err_t *e)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, st->chain, &cur);
    if (rc)
        return lmdb_fail(e, "chain cursor", rc);
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc)
        return lmdb_fail(e, "chain tip", rc);
    if (k.mv_size != 8)
        return err_set(e, ERR_INTERNAL, "store: corrupt chain key");
    *height = get_be(k.mv_data, 8);
    return 0;
}

static int main_hash(MDB_txn *txn, const store_t *st, uint64_t height, hash32_t *hash, err_t *e)
{
    int rc = store_get_chain_hash(txn, st, height, hash);
    if (rc == MDB_NOTFOUND)
        return err_set(e, ERR_NOT_FOUND, "no main-chain block at height %" PRIu64, height);
    return rc ? lmdb_fail(e, "chain", rc) : 0;
}

static int read_index(MDB_txn *txn, const store_t *st, const hash32_t *hash,
                      store_index_rec_t *rec, err_t *e)
{
    MDB_val k = {32, (void *)hash->b}, v;
    int rc = mdb_get(txn, st->index, &k, &v);
    if (rc == MDB_NOTFOUND)
        return err_set(e, ERR_NOT_FOUND, "unknown block");
    if (rc)
        return lmdb_fail(e, "block index", rc);
    if (store_index_decode(rec, &v) < 0)
        return err_set(e, ERR_INTERNAL, "store: corrupt index record");
    return 0;
}

/* Decodes a stored block; *size (may be NULL) gets its encoded length. */
static int read_block(MDB_txn *txn, const store_t *st, const hash32_t *hash, block_t *b,
                      size_t *size, err_t *e)
{
    MDB_val k = {32, (void *)hash->b}, v;
    int rc = mdb_get(txn, st->blocks, &k, &v);
    if (rc == MDB_NOTFOUND)
        return err_set(e, ERR_NOT_FOUND, "unknown block");
    if (rc)
        return lmdb_fail(e, "blocks", rc);
    err_t de;
    if (block_decode(b, v.mv_data, v.mv_size, &de) < 0)
        return err_set(e, ERR_INTERNAL, "store: a stored block does not decode: %s",
                       de.message);
    if (size)
        *size = v.mv_size;
    return 0;
}

/* --- GET handlers --------------------------------------------------------- */

/* A query parameter: 1 when absent, 0 with *v, or an ERR_BAD_REQUEST. */
static int query_u64(ctx_t *x, const char *key, uint64_t *v, err_t *e)
{
    const char *val = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(x->c, MHD_GET_ARGUMENT_KIND, key, strlen(key), &val,
                                      &len) != MHD_YES)
        return 1;
    if (!val || parse_u64n(val, len, v) < 0)
        return err_set(e, ERR_BAD_REQUEST, "\"%s\" must be a decimal number", key);
    return 0;
}

static enum MHD_Result get_blocks(ctx_t *x)
{
    err_t e;
    uint64_t limit = BLOCKS_DEFAULT, from = 0;
    int lq = query_u64(x, "limit", &limit, &e);
    int fq = lq < 0 ? lq : query_u64(x, "from", &from, &e);
    if (lq < 0 || fq < 0)
        return reply_err(x, &e);
    if (limit < 1 || limit > BLOCKS_MAX)
        return reply_error(x, ERR_BAD_REQUEST, "\"limit\" must be from 1 to %d", BLOCKS_MAX);
    store_t *st = node_store(x->s->node);
    MDB_txn *txn;
    if (read_begin(st, &txn, &e) < 0)
        return reply_err(x, &e);
    uint64_t tip;
    json_t *list = NULL;
    int rc = tip_height(txn, st, &tip, &e);
    if (rc == 0) {
        /* a height above the tip (say, after a reorganisation) starts at the tip */
        if (fq == 1 || from > tip)
            from = tip;
        list = json_array();
        if (!list)
            rc = err_set(&e, ERR_INTERNAL, "out of memory");
    }
    size_t bytes = 0;
    for (uint64_t n = 0, h = from; rc == 0 && n < limit; n++, h--) {
        hash32_t hash;
        block_t b;
        size_t size;
        if ((rc = main_hash(txn, st, h, &hash, &e)) < 0 ||
            (rc = read_block(txn, st, &hash, &b, &size, &e)) < 0)
            break;
        bytes += size;
        if (n > 0 && bytes > BLOCKS_MAX_BYTES) {
            block_free(&b);
            break;
        }
        if (json_array_append_new(list, jsonfmt_block(&b, (int64_t)h)) < 0)
            rc = err_set(&e, ERR_INTERNAL, "out of memory");
        block_free(&b);
        if (h == 0)
            break;
    }
    mdb_txn_abort(txn);
    if (rc < 0) {
        json_decref(list);
        return reply_err(x, &e);
    }
    return reply_json(x, 200, list);
}

static enum MHD_Result get_block(ctx_t *x, const char *arg)
{
    hash32_t hash;
    uint64_t height = 0;
    size_t n = strlen(arg);
    bool by_hash = n == 64 && hex_decode_exact(hash.b, 32, arg) == 0;
    if (!by_hash && parse_u64n(arg, n, &height) < 0)
        return reply_error(x, ERR_BAD_REQUEST,
                           "a block is named by its hash (64 hex digits) or its height");
    store_t *st = node_store(x->s->node);
    MDB_txn *txn;
    err_t e;
    if (read_begin(st, &txn, &e) < 0)
        return reply_err(x, &e);
    bool on_main = true;
    int rc;
    if (by_hash) {
        store_index_rec_t rec;
        hash32_t at;
        rc = read_index(txn, st, &hash, &rec, &e);
        if (rc == 0) {
            height = rec.height;
            int g = store_get_chain_hash(txn, st, height, &at);
            if (g != 0 && g != MDB_NOTFOUND)
                rc = lmdb_fail(&e, "chain", g);
            on_main = g == 0 && hash32_eq(&at, &hash);
        }
    } else {
        rc = main_hash(txn, st, height, &hash, &e);
    }
    block_t b;
    if (rc == 0)
        rc = read_block(txn, st, &hash, &b, NULL, &e);
    mdb_txn_abort(txn);
    if (rc < 0)
        return reply_err(x, &e);
    json_t *j = jsonfmt_block(&b, (int64_t)height);
    block_free(&b);
    if (j && json_object_set_new(j, "main_chain", json_boolean(on_main)) < 0) {
        json_decref(j);
        j = NULL;
    }
    return reply_json(x, 200, j);
}

/* A transaction of the main chain: 0, ERR_NOT_FOUND, or another error. */
static int chain_tx(ctx_t *x, const hash32_t *txid, json_t **out, err_t *e)
{
    store_t *st = node_store(x->s->node);
    MDB_txn *txn;
    int rc = read_begin(st, &txn, e);
    if (rc < 0)
        return rc;
    MDB_val k = {32, (void *)txid->b}, v;
    rc = mdb_get(txn, st->txindex, &k, &v);
    hash32_t bhash;
    if (rc == MDB_NOTFOUND)
        rc = err_set(e, ERR_NOT_FOUND, "unknown transaction");
    else if (rc)
        rc = lmdb_fail(e, "transaction index", rc);
    else if (v.mv_size != 32)
        rc = err_set(e, ERR_INTERNAL, "store: corrupt transaction index");
    else
        memcpy(bhash.b, v.mv_data, 32);
    store_index_rec_t rec;
    uint64_t tip;
    block_t b;
    if (rc == 0 && (rc = read_index(txn, st, &bhash, &rec, e)) == 0 &&
        (rc = tip_height(txn, st, &tip, e)) == 0)
        rc = read_block(txn, st, &bhash, &b, NULL, e);
    mdb_txn_abort(txn);
    if (rc < 0)
        return rc;
    size_t i = 0;
    while (i < b.n_txs && !hash32_eq(&b.txids[i], txid))
        i++;
    if (i == b.n_txs) {
        block_free(&b);
        return err_set(e, ERR_INTERNAL, "store: the indexed block lacks the transaction");
    }
    json_t *j = jsonfmt_tx(&b.txs[i], txid);
    block_free(&b);
    uint64_t confirmations = tip >= rec.height ? tip - rec.height + 1 : 0;
    if (!j || json_object_set_new(j, "block_hash", hash_json(&bhash)) < 0 ||
        json_object_set_new(j, "height", json_integer(jint(rec.height))) < 0 ||
        json_object_set_new(j, "confirmations", json_integer(jint(confirmations))) < 0) {
        json_decref(j);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    *out = j;
    return 0;
}

static enum MHD_Result get_tx(ctx_t *x, const char *arg)
{
    hash32_t txid;
    if (strlen(arg) != 64 || hex_decode_exact(txid.b, 32, arg) < 0)
        return reply_error(x, ERR_BAD_REQUEST, "a transaction hash is 64 hex digits");
    err_t e;
    json_t *j = NULL;
    int rc = chain_tx(x, &txid, &j, &e);
    if (rc == 0)
        return reply_json(x, 200, j);
    if (e.code != ERR_NOT_FOUND)
        return reply_err(x, &e);
    uint8_t *raw;
    size_t len;
    if (node_mempool_tx(x->s->node, &txid, &raw, &len) < 0)
        return reply_error(x, ERR_NOT_FOUND, "unknown transaction");
    tx_t tx;
    rc = tx_decode(&tx, raw, len, &e);
    free(raw);
    if (rc < 0)
        return reply_error(x, ERR_INTERNAL, "a mempool transaction does not decode: %s",
                           e.message);
    j = jsonfmt_tx(&tx, &txid);
    tx_free(&tx);
    if (j && (json_object_set_new(j, "in_mempool", json_true()) < 0 ||
              json_object_set_new(j, "confirmations", json_integer(0)) < 0)) {
        json_decref(j);
        j = NULL;
    }
    return reply_json(x, 200, j);
}

/* One coin of an address as JSON, or NULL when memory runs out. */
static json_t *coin_json(ctx_t *x, const hash32_t *txid, uint32_t index, const store_coin_t *c)
{
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "transaction_hash", hash_json(txid)) < 0 ||
        json_object_set_new(o, "output_index", json_integer(index)) < 0 ||
        json_object_set_new(o, "amount", json_integer(jint(c->amount))) < 0 ||
        json_object_set_new(o, "height", json_integer(jint(c->height))) < 0 ||
        json_object_set_new(o, "coinbase", json_boolean(c->coinbase)) < 0 ||
        /* a wallet that skips these avoids a double spend */
        (node_mempool_spends(x->s->node, txid, index) &&
         json_object_set_new(o, "spent_in_mempool", json_true()) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The coins of pubkey hash pkh into list: the address index gives their
 * outpoints (keys pkh ‖ outpoint, so a range scan from pkh), the utxo
 * database their values. */
static int address_coins(ctx_t *x, const hash20_t *pkh, json_t *list, amount_t *total,
                         bool *truncated, err_t *e)
{
    store_t *st = node_store(x->s->node);
    MDB_txn *txn;
    int rc = read_begin(st, &txn, e);
    if (rc < 0)
        return rc;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, st->addr, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return lmdb_fail(e, "address cursor", rc);
    }
    MDB_val k = {20, (void *)pkh->b}, v;
    int g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    rc = 0;
    for (; g == 0 && rc == 0; g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != STORE_ADDR_KEY_LEN || memcmp(k.mv_data, pkh->b, 20) != 0)
            break;
        if (json_array_size(list) == UTXO_MAX) {
            *truncated = true;
            break;
        }
        const uint8_t *op = (const uint8_t *)k.mv_data + 20;
        hash32_t txid;
        memcpy(txid.b, op, 32);
        uint32_t index = (uint32_t)get_be(op + 32, 4);
        store_coin_t coin;
        int c = store_get_coin(txn, st, &txid, index, &coin);
        if (c == MDB_NOTFOUND)
            continue; /* the index entry outlived its coin: nothing to spend */
        if (c)
            rc = lmdb_fail(e, "utxo", c);
        else if (!amount_add(total, coin.amount))
            rc = err_set(e, ERR_INTERNAL, "store: coins of an address sum past max money");
        else if (json_array_append_new(list, coin_json(x, &txid, index, &coin)) < 0)
            rc = err_set(e, ERR_INTERNAL, "out of memory");
    }
    if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
        rc = lmdb_fail(e, "address index", g);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

static enum MHD_Result get_utxo(ctx_t *x, const char *arg)
{
    if (strlen(arg) > ADDRESS_TEXT_MAX)
        return reply_error(x, ERR_BAD_ADDRESS, "an address has at most %d characters",
                           ADDRESS_TEXT_MAX);
    uint8_t version = node_params(x->s->node)->address_version;
    hash20_t pkh;
    err_t e;
    if (address_decode(&pkh, version, arg, &e) < 0)
        return reply_err(x, &e);
    json_t *list = json_array();
    if (!list)
        return reply_error(x, ERR_INTERNAL, "out of memory");
    amount_t total = 0;
    bool truncated = false;
    if (address_coins(x, &pkh, list, &total, &truncated, &e) < 0) {
        json_decref(list);
        return reply_err(x, &e);
    }
    char canonical[ADDRESS_MAX];
    address_encode(canonical, version, &pkh);
    json_t *j = json_object();
    if (!j || json_object_set_new(j, "user", json_string(arg)) < 0 ||
        json_object_set_new(j, "address", json_string(canonical)) < 0 ||
        json_object_set_new(j, "total", json_integer(jint(total))) < 0 ||
        json_object_set_new(j, "utxos", json_incref(list)) < 0 ||
        (truncated && json_object_set_new(j, "truncated", json_true()) < 0)) {
        json_decref(j);
        j = NULL;
    }
    json_decref(list);
    return reply_json(x, 200, j);
}

/* A target as a double (for the difficulty ratio); 0 for invalid bits. */
static double target_value(uint32_t bits)
{
    u256_t t;
    bool negative = false, overflow = false;
    pow_compact_to_target(&t, bits, &negative, &overflow);
    if (negative || overflow)
        return 0;
    double v = 0;
    for (int i = 3; i >= 0; i--)
        v = v * 18446744073709551616.0 + (double)t.w[i];
    return v;
}

/* The easiest target over the tip's: 1.0 at the network's easiest. */
static double difficulty(const chain_params_t *p, uint32_t bits)
{
    double cur = target_value(bits);
    return cur > 0 ? target_value(p->pow_limit_bits) / cur : 0;
}

static enum MHD_Result get_status(ctx_t *x)
{
    node_status_t s;
    node_status(x->s->node, &s);
    const chain_params_t *p = node_params(x->s->node);
    char work[65];
    u256_to_hex(work, &s.chainwork);
    json_t *j = json_object();
    if (!j || json_object_set_new(j, "network", json_string(p->name)) < 0 ||
        json_object_set_new(j, "height", json_integer(jint(s.height))) < 0 ||
        json_object_set_new(j, "tip", hash_json(&s.hash)) < 0 ||
        json_object_set_new(j, "tip_timestamp", json_integer(jint(s.timestamp))) < 0 ||
        json_object_set_new(j, "bits", json_integer(s.bits)) < 0 ||
        json_object_set_new(j, "difficulty", json_real(difficulty(p, s.bits))) < 0 ||
        json_object_set_new(j, "chainwork", json_string(work)) < 0 ||
        json_object_set_new(j, "mempool_size", json_integer(jint(s.mempool_count))) < 0 ||
        json_object_set_new(j, "mempool_bytes", json_integer(jint(s.mempool_bytes))) < 0 ||
        json_object_set_new(j, "peers", json_integer(jint(s.peers))) < 0 ||
        json_object_set_new(j, "hashrate", json_integer(jint(s.hashrate))) < 0 ||
        json_object_set_new(j, "orphans", json_integer(jint(s.orphans))) < 0 ||
        json_object_set_new(j, "version", json_string(x->s->version)) < 0) {
        json_decref(j);
        j = NULL;
    }
    return reply_json(x, 200, j);
}

/* Appends to a bounded text buffer; false once it is full. */
static bool appendf(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool appendf(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
    if (*pos >= cap)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *pos)
        return false;
    *pos += (size_t)n;
    return true;
}

static bool metric(char *buf, size_t cap, size_t *pos, const char *name, const char *type,
                   const char *help, uint64_t value)
{
    return appendf(buf, cap, pos, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help,
                   name, type, name, value);
}

static enum MHD_Result get_metrics(ctx_t *x)
{
    node_status_t s;
    node_status(x->s->node, &s);
    const chain_params_t *p = node_params(x->s->node);
    size_t cap = 4096, pos = 0;
    char *buf = malloc(cap);
    if (!buf)
        return reply_error(x, ERR_INTERNAL, "out of memory");
    bool ok =
        metric(buf, cap, &pos, "chain_height", "gauge", "Height of the main chain's tip.",
               s.height) &&
        metric(buf, cap, &pos, "chain_tip_timestamp_seconds", "gauge",
               "Header timestamp of the tip.", s.timestamp) &&
        metric(buf, cap, &pos, "chain_bits", "gauge", "Compact target of the tip.", s.bits) &&
        appendf(buf, cap, &pos,
                "# HELP chain_difficulty Easiest target over the tip's target.\n"
                "# TYPE chain_difficulty gauge\nchain_difficulty %.17g\n",
                difficulty(p, s.bits)) &&
        metric(buf, cap, &pos, "chain_mempool_transactions", "gauge",
               "Transactions in the mempool.", s.mempool_count) &&
        metric(buf, cap, &pos, "chain_mempool_bytes", "gauge",
               "Encoded bytes of the mempool's transactions.", s.mempool_bytes) &&
        metric(buf, cap, &pos, "chain_peers", "gauge", "Peers in gossipd's last report.",
               s.peers) &&
        metric(buf, cap, &pos, "chain_hashrate", "gauge",
               "Hashes a second reported by miners.", s.hashrate) &&
        metric(buf, cap, &pos, "chain_orphans", "gauge", "Orphan blocks held.", s.orphans) &&
        metric(buf, cap, &pos, "chain_sigcache_hits_total", "counter",
               "Signature checks answered by the signature cache.", s.sigcache_hits) &&
        metric(buf, cap, &pos, "chain_sigcache_misses_total", "counter",
               "Signature checks the signature cache could not answer.", s.sigcache_misses) &&
        metric(buf, cap, &pos, "chain_sigcache_entries", "gauge",
               "Verified signatures held by the signature cache.", s.sigcache_entries) &&
        metric(buf, cap, &pos, "chain_http_requests_total", "counter",
               "HTTP requests received.", http_requests_total(x->s));
    if (!ok) {
        free(buf);
        return reply_error(x, ERR_INTERNAL, "metrics overflow their buffer");
    }
    return send_body(x, 200, METRICS_TYPE, buf, pos, MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result get_readyz(ctx_t *x)
{
    store_t *st = node_store(x->s->node);
    MDB_txn *txn;
    err_t e;
    uint64_t height;
    int rc = read_begin(st, &txn, &e);
    if (rc == 0) {
        rc = tip_height(txn, st, &height, &e);
        mdb_txn_abort(txn);
    }
    if (rc < 0)
        return reply_error(x, ERR_UNAVAILABLE, "the store does not answer: %s", e.message);
    return reply_json(x, 200, json_pack("{s:s, s:I}", "status", "ready", "height", jint(height)));
}

static enum MHD_Result handle_get(ctx_t *x, route_id_t id, const char *arg)
{
    switch (id) {
    case R_BLOCKS:
        return get_blocks(x);
    case R_BLOCK:
        return get_block(x, arg);
    case R_TX:
        return get_tx(x, arg);
    case R_UTXO:
        return get_utxo(x, arg);
    case R_PEERS:
        return reply_json(x, 200, node_peers_json(x->s->node));
    case R_STATUS:
        return get_status(x);
    case R_MEMPOOL:
        return reply_json(x, 200, node_mempool_json(x->s->node, MEMPOOL_LIST_MAX));
    case R_METRICS:
        return get_metrics(x);
    case R_HEALTHZ:
        return reply_json(x, 200, json_pack("{s:s}", "status", "ok"));
    case R_READYZ:
        return get_readyz(x);
    case R_TXS:
    case R_ADVERT:
        break; /* POST only: the method check keeps them out */
    }
    return reply_error(x, ERR_INTERNAL, "no GET handler");
}

/* --- POST handlers -------------------------------------------------------- */

/* The body as a JSON object (a new reference), or NULL with e set. */
static json_t *body_json(ctx_t *x, err_t *e)
{
    json_error_t je;
    json_t *j = json_loadb(x->r->body ? x->r->body : "", x->r->len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        err_set(e, ERR_BAD_JSON, "line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        err_set(e, ERR_BAD_REQUEST, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* {"hex": "..."} of at most max bytes into *out (malloc'd). */
static int hex_field(const json_t *v, size_t max, uint8_t **out, size_t *len, err_t *e)
{
    const char *text = json_string_value(v);
    if (!text)
        return err_set(e, ERR_BAD_REQUEST, "\"hex\" must be a string");
    size_t n = json_string_length(v);
    if (n / 2 > max)
        return err_set(e, ERR_TOO_LARGE, "\"hex\" holds over %zu bytes", max);
    /* bytes that are not even hex are a malformed encoding, as bytes that do
     * not decode are */
    if (n == 0 || n % 2)
        return err_set(e, ERR_BAD_ENCODING, "\"hex\" must be a non-empty even number of digits");
    uint8_t *buf = malloc(n / 2);
    if (!buf)
        return err_set(e, ERR_INTERNAL, "out of memory");
    if (hex_decode(buf, n / 2, text, n) != (long)(n / 2)) {
        free(buf);
        return err_set(e, ERR_BAD_ENCODING, "\"hex\" holds a character that is not a hex digit");
    }
    *out = buf;
    *len = n / 2;
    return 0;
}

static int json_uint(const json_t *o, const char *key, uint64_t max, uint64_t *v, err_t *e)
{
    json_t *j = json_object_get(o, key);
    if (!json_is_integer(j) || json_integer_value(j) < 0 ||
        (uint64_t)json_integer_value(j) > max)
        return err_set(e, ERR_BAD_REQUEST, "header: \"%s\" must be an integer from 0 to %" PRIu64,
                       key, max);
    *v = (uint64_t)json_integer_value(j);
    return 0;
}

static int json_hash(const json_t *o, const char *key, hash32_t *h, err_t *e)
{
    const char *text = json_string_value(json_object_get(o, key));
    if (!text || strlen(text) != 64 || hex_decode_exact(h->b, 32, text) < 0)
        return err_set(e, ERR_BAD_REQUEST, "header: \"%s\" must be 64 hex digits", key);
    return 0;
}

/* The header's JSON form (jsonfmt_header): "nonce" as 16 hex digits (or an
 * integer), "version" 1 when left out, "height" ignored, "hash" checked. */
static int parse_header(block_header_t *h, const json_t *j, err_t *e)
{
    uint64_t version = BLOCK_VERSION, timestamp = 0, bits = 0, nonce = 0;
    int rc = json_object_get(j, "version") ? json_uint(j, "version", UINT32_MAX, &version, e) : 0;
    if (rc == 0)
        rc = json_hash(j, "previous_block_hash", &h->previous_block_hash, e);
    if (rc == 0)
        rc = json_hash(j, "merkle_root", &h->merkle_root, e);
    if (rc == 0)
        rc = json_uint(j, "timestamp", INT64_MAX, &timestamp, e);
    if (rc == 0)
        rc = json_uint(j, "bits", UINT32_MAX, &bits, e);
    if (rc < 0)
        return rc;
    json_t *jn = json_object_get(j, "nonce");
    const char *text = json_string_value(jn);
    uint8_t be[8];
    if (text && strlen(text) == 16 && hex_decode_exact(be, 8, text) == 0)
        nonce = get_be(be, 8);
    else if (json_is_integer(jn) && json_integer_value(jn) >= 0)
        nonce = (uint64_t)json_integer_value(jn);
    else
        return err_set(e, ERR_BAD_REQUEST, "header: \"nonce\" must be 16 hex digits");
    h->version = (uint32_t)version;
    h->timestamp = timestamp;
    h->bits = (uint32_t)bits;
    h->nonce = nonce;
    if (json_object_get(j, "hash")) {
        hash32_t given, actual;
        if ((rc = json_hash(j, "hash", &given, e)) < 0)
            return rc;
        block_header_hash(&actual, h);
        if (!hash32_eq(&given, &actual))
            return err_set(e, ERR_BAD_REQUEST, "header: \"hash\" does not match the header");
    }
    return 0;
}

/* Encodes a block's JSON form into out (initialised here; the caller frees). */
static int build_block(mp_buf_t *out, const json_t *jb, err_t *e)
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
    int rc = parse_header(&h, jh, e);
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

/* Exactly one of two keys must be given. */
static int one_of(const json_t *root, const char *a, const char *b, err_t *e)
{
    if (!json_object_get(root, a) == !json_object_get(root, b))
        return err_set(e, ERR_BAD_REQUEST, "give either \"%s\" or \"%s\"", a, b);
    return 0;
}

static const char *chain_status_str(chain_status_t s)
{
    switch (s) {
    case CHAIN_TIP:
        return "tip";
    case CHAIN_SIDE:
        return "side";
    case CHAIN_ORPHAN:
        return "orphan";
    case CHAIN_KNOWN:
        return "known";
    }
    return "unknown";
}

static enum MHD_Result post_block(ctx_t *x)
{
    err_t e;
    json_t *root = body_json(x, &e);
    if (!root || one_of(root, "block", "hex", &e) < 0) {
        json_decref(root);
        return reply_err(x, &e);
    }
    mp_buf_t b;
    uint8_t *raw = NULL;
    size_t len = 0;
    int rc;
    json_t *jb = json_object_get(root, "block");
    if (jb) {
        rc = build_block(&b, jb, &e);
        raw = b.data;
        len = b.len;
    } else {
        mp_buf_init(&b, 0);
        rc = hex_field(json_object_get(root, "hex"), BLOCK_MAX_SIZE, &raw, &len, &e);
    }
    json_decref(root);
    chain_status_t status = CHAIN_KNOWN;
    hash32_t hash;
    if (rc == 0)
        rc = node_submit_block(x->s->node, raw, len, "http", &status, &hash, &e);
    if (!jb)
        free(raw);
    mp_buf_free(&b);
    if (rc < 0)
        return reply_err(x, &e);
    return reply_json(x, 200, json_pack("{s:o, s:s}", "hash", hash_json(&hash), "status",
                                        chain_status_str(status)));
}

static enum MHD_Result post_tx(ctx_t *x)
{
    err_t e;
    json_t *root = body_json(x, &e);
    if (!root || one_of(root, "transaction", "hex", &e) < 0) {
        json_decref(root);
        return reply_err(x, &e);
    }
    mp_buf_t b;
    mp_buf_init(&b, TX_MAX_SIZE);
    uint8_t *raw = NULL;
    size_t len = 0;
    int rc;
    bool known = false;
    json_t *jt = json_object_get(root, "transaction");
    if (jt) {
        tx_t tx;
        rc = jsonfmt_parse_tx(&tx, jt, &e);
        if (rc == 0) {
            if (tx_encode(&tx, &b, false) < 0)
                rc = err_set(&e, ERR_TOO_LARGE, "the transaction is over %d bytes", TX_MAX_SIZE);
            tx_free(&tx);
        }
        raw = b.data;
        len = b.len;
    } else {
        rc = hex_field(json_object_get(root, "hex"), TX_MAX_SIZE, &raw, &len, &e);
    }
    json_decref(root);
    hash32_t txid;
    if (rc == 0) {
        rc = node_submit_tx(x->s->node, raw, len, "http", &txid, &e);
        /* a resubmission is a success, so that a client may simply retry */
        known = rc < 0 && e.code == ERR_KNOWN;
        if (known)
            hash_sha256d(&txid, raw, len);
    }
    if (!jt)
        free(raw);
    mp_buf_free(&b);
    if (rc < 0 && !known)
        return reply_err(x, &e);
    json_t *j = json_pack("{s:o}", "transaction_hash", hash_json(&txid));
    if (j && known && json_object_set_new(j, "known", json_true()) < 0) {
        json_decref(j);
        j = NULL;
    }
    return reply_json(x, 200, j);
}

/* "host:port": printable ASCII without spaces, a host, a port 1-65535. */
static int check_hostname(const char *h, err_t *e)
{
    size_t n = h ? strlen(h) : 0;
    if (n == 0 || n > HOSTNAME_MAX)
        return err_set(e, ERR_BAD_REQUEST, "\"hostname\" must be \"host:port\", at most %d "
                       "characters", HOSTNAME_MAX);
    for (size_t i = 0; i < n; i++)
        if (h[i] <= 0x20 || h[i] >= 0x7f)
            return err_set(e, ERR_BAD_REQUEST, "\"hostname\" holds a space or a character "
                           "outside printable ASCII");
    const char *colon = strrchr(h, ':');
    uint64_t port;
    if (!colon || colon == h || parse_u64n(colon + 1, strlen(colon + 1), &port) < 0 ||
        port < 1 || port > 65535)
        return err_set(e, ERR_BAD_REQUEST, "\"hostname\" must end in \":PORT\", a port from 1 "
                       "to 65535");
    return 0;
}

static enum MHD_Result post_advert(ctx_t *x)
{
    err_t e;
    json_t *root = body_json(x, &e);
    if (!root)
        return reply_err(x, &e);
    const char *host = json_string_value(json_object_get(root, "hostname"));
    if (check_hostname(host, &e) < 0) {
        json_decref(root);
        return reply_err(x, &e);
    }
    node_advertise_peer(x->s->node, host);
    json_t *j = json_pack("{s:s}", "hostname", host);
    json_decref(root);
    return reply_json(x, 200, j);
}

static enum MHD_Result handle_post(ctx_t *x, route_id_t id)
{
    switch (id) {
    case R_BLOCKS:
        return post_block(x);
    case R_TXS:
        return post_tx(x);
    case R_ADVERT:
        return post_advert(x);
    default:
        break; /* GET only: the method check keeps them out */
    }
    return reply_error(x, ERR_INTERNAL, "no POST handler");
}

/* --- request flow --------------------------------------------------------- */

static const route_t *route_find(const char *url, const char **arg)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route_t *r = &routes[i];
        size_t n = strlen(r->path);
        if (!r->prefix && strcmp(url, r->path) == 0) {
            *arg = NULL;
            return r;
        }
        if (r->prefix && strncmp(url, r->path, n) == 0 && url[n] && !strchr(url + n, '/')) {
            *arg = url + n;
            return r;
        }
    }
    return NULL;
}

static const char *allow_str(unsigned methods)
{
    if (methods == (M_GET | M_POST))
        return "GET, HEAD, POST, OPTIONS";
    return methods == M_POST ? "POST, OPTIONS" : "GET, HEAD, OPTIONS";
}

/* application/json, with parameters (charset) or not, any case. */
static bool is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct)
        return false;
    ct += strspn(ct, " \t");
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    char next = ct[sizeof want - 1];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* First call of a POST, headers only: refuse what cannot succeed before a
 * byte of the body is read (MHD can answer only now or after the body; an
 * answer now also closes the connection, which suits a refused upload). */
static enum MHD_Result post_begin(ctx_t *x)
{
    const char *ct =
        MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!is_json_type(ct))
        return reply_error(x, ERR_NOT_JSON, "the body must be sent as application/json");
    const char *cl =
        MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t declared;
    if (cl && parse_u64n(cl, strlen(cl), &declared) == 0 && declared > x->s->max_body)
        return reply_error(x, ERR_TOO_LARGE, "the body is over %zu bytes", x->s->max_body);
    return MHD_YES;
}

/* A piece of a request body; keep: a POST body the route reads. Past the
 * bound (or when not kept) the body is freed and the rest dropped; MHD
 * 0.9.75 cannot answer in mid-upload, so the answer (413 for a kept body)
 * goes out once the body ends, and a body running on past twice the bound
 * is cut off by closing the connection. */
static enum MHD_Result take_body(ctx_t *x, const char *data, size_t *size, bool keep)
{
    req_t *r = x->r;
    size_t max = x->s->max_body, n = *size;
    *size = 0;
    r->received = n > SIZE_MAX - r->received ? SIZE_MAX : r->received + n;
    if (keep && !r->too_large && r->received > max) {
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
        r->too_large = true;
    }
    if (!keep || r->too_large)
        return r->received > max && r->received - max > max ? MHD_NO : MHD_YES;
    size_t need = r->len + n; /* at most max: received bounds it */
    if (need > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < need)
            cap = cap > max / 2 ? max : cap * 2;
        if (cap > max)
            cap = max;
        char *p = realloc(r->body, cap);
        if (!p)
            return MHD_NO;
        r->body = p;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return MHD_YES;
}

static unsigned method_bit(const char *method)
{
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
        return M_GET;
    return strcmp(method, MHD_HTTP_METHOD_POST) == 0 ? M_POST : 0;
}

/* MHD calls this once with the headers, once for each piece of the body, and
 * once more when the request is complete; the answer is queued on that last
 * call (an answer queued on the first would close a keep-alive connection). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    http_server_t *s = cls;
    req_t *r = *con_cls;
    ctx_t x = {s, c, r, method, url, false};
    const char *arg = NULL;
    const route_t *rt = route_find(url, &arg);
    unsigned m = method_bit(method);
    bool post = rt && m == M_POST && (rt->methods & M_POST);
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = x.r = r;
        atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
        if (clock_gettime(CLOCK_MONOTONIC, &r->start) != 0)
            r->start = (struct timespec){0, 0};
        return post ? post_begin(&x) : MHD_YES;
    }
    if (r->answered) { /* answered on the first call: drop whatever MHD still passes on */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size)
        return take_body(&x, upload, upload_size, post);
    if (!rt)
        return reply_error(&x, ERR_NOT_FOUND, "no such route");
    const char *allow = allow_str(rt->methods);
    if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0) {
        x.preflight = true;
        return send_body(&x, MHD_HTTP_NO_CONTENT, NULL, (void *)"", 0,
                         MHD_RESPMEM_PERSISTENT, allow);
    }
    if (!(m & rt->methods))
        return reply_fail(&x, MHD_HTTP_METHOD_NOT_ALLOWED, ERR_METHOD_NOT_ALLOWED, allow,
                          "method not allowed on this route");
    if (m == M_GET)
        return handle_get(&x, rt->id, arg);
    if (r->too_large)
        return reply_error(&x, ERR_TOO_LARGE, "the body is over %zu bytes", s->max_body);
    return handle_post(&x, rt->id);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    req_t *r = *con_cls;
    if (r) {
        free(r->body);
        free(r);
    }
    *con_cls = NULL;
}

/* MHD's own messages (bind failures, broken clients) into our log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char raw[512], line[512];
    vsnprintf(raw, sizeof raw, fmt, ap);
    raw[strcspn(raw, "\r\n")] = '\0';
    printable(line, sizeof line, raw);
    LOGINFO("http: libmicrohttpd: %s", line);
}

/* "a.b.c.d:PORT", "[v6]:PORT" or "localhost:PORT" (127.0.0.1): numeric
 * hosts, so that exactly that address is bound. */
static int parse_listen(const char *text, struct sockaddr_storage *ss, bool *v6, uint16_t *port,
                        err_t *e)
{
    char host[INET6_ADDRSTRLEN];
    const char *p = NULL, *h = text, *end = NULL;
    if (text && text[0] == '[') {
        h = text + 1;
        end = strchr(h, ']');
        p = end && end[1] == ':' ? end + 2 : NULL;
    } else if (text) {
        end = strrchr(text, ':');
        p = end ? end + 1 : NULL;
    }
    *v6 = h != text;
    uint64_t n;
    if (!p || (size_t)(end - h) >= sizeof host || parse_u64n(p, strlen(p), &n) < 0 ||
        n > 65535)
        return err_set(e, ERR_INTERNAL, "HTTP address \"%.64s\": want IPV4:PORT or [IPV6]:PORT",
                       text ? text : "");
    memcpy(host, h, (size_t)(end - h));
    host[end - h] = '\0';
    if (!*v6 && strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    memset(ss, 0, sizeof *ss);
    *port = (uint16_t)n;
    int ok;
    if (*v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(*port);
        ok = inet_pton(AF_INET6, host, &a->sin6_addr);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(*port);
        ok = inet_pton(AF_INET, host, &a->sin_addr);
    }
    if (ok != 1)
        return err_set(e, ERR_INTERNAL, "HTTP address \"%.64s\": the host must be a numeric "
                       "IPv4 or [IPv6] address", text);
    return 0;
}

static char *dup_or_null(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    *fail |= !d;
    return d;
}

/* Linux caps a listener's accept queue at net.core.somaxconn (128 before
 * kernel 5.4). Connections arriving while it is full are not refused: the
 * handshake's last ACK is dropped and the client, believing itself connected,
 * waits on retransmissions for seconds. Worth a warning when the queue is
 * smaller than the connections the operator allows. */
static void warn_small_accept_queue(unsigned conns)
{
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    if (!f)
        return;
    unsigned cap;
    if (fscanf(f, "%u", &cap) == 1 && cap < conns)
        LOGWARN("http: the kernel caps the accept queue at %u (net.core.somaxconn), below the "
                "%u connections allowed: a burst of new connections past it stalls until "
                "clients retransmit; raise it with sysctl -w net.core.somaxconn=%u",
                cap, conns, conns);
    fclose(f);
}

int http_start(http_server_t **out, node_t *node, const http_config_t *cfg, err_t *e)
{
    *out = NULL;
    struct sockaddr_storage ss;
    bool v6 = false;
    uint16_t port = 0;
    int rc = parse_listen(cfg->listen, &ss, &v6, &port, e);
    if (rc < 0)
        return rc;
    /* MHD refuses a header value with a control character on every answer */
    for (const char *o = cfg->cors_origin; o && *o; o++)
        if ((unsigned char)*o < 0x20 || *o == 0x7f)
            return err_set(e, ERR_INTERNAL, "the CORS origin holds a control character");
    http_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(e, ERR_INTERNAL, "out of memory");
    bool fail = false;
    s->node = node;
    s->cors_origin = dup_or_null(cfg->cors_origin, &fail);
    s->version = dup_or_null(cfg->version ? cfg->version : "", &fail);
    s->max_body = cfg->max_body ? cfg->max_body : DEFAULT_MAX_BODY;
    atomic_init(&s->requests, 0);
    unsigned threads = cfg->threads ? cfg->threads : DEFAULT_THREADS;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    unsigned conns = cfg->max_connections ? cfg->max_connections : DEFAULT_MAX_CONNECTIONS;
    if (conns < threads) /* MHD splits the limit among the threads */
        conns = threads;
    /* A pool of internal threads, never one a connection, each with a poll()
     * loop. Not epoll: under the load test's burst of 1 000 connections,
     * libmicrohttpd 0.9.75's edge-triggered epoll loop once left one thread
     * asleep for 5 s with requests readable on some 50 of its connections,
     * until a client's close woke it; poll() is level-triggered, and its cost
     * over the few hundred connections a thread holds is small (bench_api). */
    unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_POLL_INTERNAL_THREAD;
    if (v6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    if (!fail)
        s->daemon = MHD_start_daemon(
            /* the logger first, so that MHD's messages about the rest reach it */
            flags, port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
            (void *)s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
            threads, MHD_OPTION_CONNECTION_LIMIT, conns, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)s,
            MHD_OPTION_END);
    if (!s->daemon) {
        int err = errno;
        free(s->cors_origin);
        free(s->version);
        free(s);
        if (fail)
            return err_set(e, ERR_INTERNAL, "out of memory");
        return err_set(e, ERR_INTERNAL, "cannot serve HTTP on %s: %s", cfg->listen,
                       err ? strerror(err) : "libmicrohttpd failed to start");
    }
    LOGDEBUG("http: serving on %s (%u threads, %u connections)", cfg->listen, threads, conns);
    warn_small_accept_queue(conns);
    *out = s;
    return 0;
}

void http_stop(http_server_t **s)
{
    if (!s || !*s)
        return;
    MHD_stop_daemon((*s)->daemon);
    free((*s)->cors_origin);
    free((*s)->version);
    free(*s);
    *s = NULL;
}

uint64_t http_requests_total(const http_server_t *s)
{
    return s ? atomic_load_explicit(&s->requests, memory_order_relaxed) : 0;
}

uint16_t http_port(const http_server_t *s)
{
    const union MHD_DaemonInfo *info =
        s ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    return info ? info->port : 0;
}
