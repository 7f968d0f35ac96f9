#include "api.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "dec.h"
#include "hex.h"
#include "jsonfmt.h"
#include "metrics.h"
#include "store.h"
#include "views.h"

#define BLOCKS_DEFAULT 100
#define BLOCKS_MAX 1000
#define BLOCKS_MAX_BYTES ((size_t)4 << 20) /* encoded blocks in one /block answer */
#define UTXO_MAX 10000
#define MEMPOOL_LIST_MAX 1000
#define HOSTNAME_MAX 255
#define ADDRESS_TEXT_MAX 100 /* longer is no address in either form */

struct api {
    node_t *node;
    char *version;
    /* the last /utxo-set answer, by tip; the lock also makes the
     * computations take turns, so that a burst of requests costs one */
    pthread_mutex_t utxo_lock;
    bool have_utxo_set;
    hash32_t utxo_tip;
    store_utxo_stats_t utxo_stats;
};

int api_new(api_t **out, node_t *node, const char *version, err_t *e)
{
    *out = NULL;
    api_t *a = calloc(1, sizeof *a);
    if (!a || !(a->version = strdup(version ? version : ""))) {
        free(a);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    a->node = node;
    pthread_mutex_init(&a->utxo_lock, NULL);
    *out = a;
    return 0;
}

void api_destroy(api_t **a)
{
    if (!*a)
        return;
    pthread_mutex_destroy(&(*a)->utxo_lock);
    free((*a)->version);
    free(*a);
    *a = NULL;
}

/* Takes j (NULL: memory ran out) as a 200 answer. */
static int answer(api_answer_t *out, json_t *j)
{
    *out = (api_answer_t){.status = 200, .json = j};
    return 0;
}

/* A query parameter: 1 when absent, 0 with *v, or an ERR_BAD_REQUEST. */
static int query_u64(const api_request_t *q, const char *key, uint64_t *v, err_t *e)
{
    const char *val = NULL;
    size_t len = 0;
    if (!q->query || !q->query(q->query_ctx, key, &val, &len))
        return 1;
    if (!val || dec_u64(val, len, v) < 0)
        return err_set(e, ERR_BAD_REQUEST, "\"%s\" must be a decimal number", key);
    return 0;
}

/* --- blocks ---------------------------------------------------------------- */

static int block_meta(store_read_t *r, uint64_t height, bool main_chain, size_t size,
                      views_block_meta_t *m, err_t *e);
static int block_tx_view(api_t *a, store_read_t *r, const block_t *b, const hash32_t *hash,
                         bool main_chain, size_t i, json_t **out, err_t *e);
static int mempool_tx_view(api_t *a, const tx_t *tx, const hash32_t *txid, size_t size,
                           json_t **out, err_t *e);
static int parse_address(api_t *a, const char *text, hash20_t *pkh, err_t *e);

/* The main chain from height `from` down, at most limit blocks and
 * BLOCKS_MAX_BYTES of their encodings (but always one), into list. */
static int list_blocks(store_read_t *r, uint64_t from, uint64_t limit, json_t *list, err_t *e)
{
    size_t bytes = 0;
    int rc = 0;
    for (uint64_t n = 0, h = from; rc == 0 && n < limit; n++, h--) {
        hash32_t hash;
        block_t b;
        size_t size;
        if ((rc = store_get_chain_hash(r, h, &hash, e)) < 0 ||
            (rc = store_load_block(r, &hash, &b, &size, e)) < 0)
            break;
        bytes += size;
        if (n > 0 && bytes > BLOCKS_MAX_BYTES) {
            block_free(&b);
            break;
        }
        if (json_array_append_new(list, jsonfmt_block(&b, (int64_t)h)) < 0)
            rc = err_set(e, ERR_INTERNAL, "out of memory");
        block_free(&b);
        if (h == 0)
            break;
    }
    return rc;
}

int api_get_blocks(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    uint64_t limit = BLOCKS_DEFAULT, from = 0, tip;
    int lq = query_u64(q, "limit", &limit, e);
    int fq = lq < 0 ? lq : query_u64(q, "from", &from, e);
    if (lq < 0 || fq < 0)
        return lq < 0 ? lq : fq;
    if (limit < 1 || limit > BLOCKS_MAX)
        return err_set(e, ERR_BAD_REQUEST, "\"limit\" must be from 1 to %d", BLOCKS_MAX);
    store_read_t *r;
    int rc = store_read_begin(node_store(a->node), &r, e);
    if (rc < 0)
        return rc;
    json_t *list = NULL;
    if ((rc = store_get_tip(r, NULL, &tip, e)) == 0 && !(list = json_array()))
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    /* a height above the tip (say, after a reorganisation) starts at the tip */
    if (rc == 0)
        rc = list_blocks(r, fq == 1 || from > tip ? tip : from, limit, list, e);
    store_read_end(&r);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    return answer(out, list);
}

/* A block named by hash or height in r: its hash, height and whether it is
 * on the main chain. */
static int name_block(store_read_t *r, const char *arg, hash32_t *hash, uint64_t *height,
                      bool *main_chain, err_t *e)
{
    size_t n = strlen(arg);
    *main_chain = true;
    if (n != 64 || hex_decode_exact(hash->b, 32, arg) < 0) {
        if (dec_u64(arg, n, height) < 0)
            return err_set(e, ERR_BAD_REQUEST,
                           "a block is named by its hash (64 hex digits) or its height");
        return store_get_chain_hash(r, *height, hash, e);
    }
    store_index_rec_t rec;
    hash32_t at;
    int rc = store_get_index(r, hash, &rec, e);
    if (rc < 0)
        return rc;
    *height = rec.height;
    rc = store_get_chain_hash(r, rec.height, &at, e);
    if (rc == -(int)ERR_NOT_FOUND) { /* above the main chain's tip: a side block */
        *main_chain = false;
        return 0;
    }
    *main_chain = rc == 0 && hash32_eq(&at, hash);
    return rc;
}

int api_get_block(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    const char *format;
    size_t flen;
    bool hex = false;
    if (q->query && q->query(q->query_ctx, "format", &format, &flen)) {
        hex = format && flen == 3 && memcmp(format, "hex", 3) == 0;
        if (!hex && !(format && flen == 4 && memcmp(format, "json", 4) == 0))
            return err_set(e, ERR_BAD_REQUEST, "\"format\" must be json or hex");
    }
    store_read_t *r;
    int rc = store_read_begin(node_store(a->node), &r, e);
    hash32_t hash;
    uint64_t height;
    bool main_chain;
    const uint8_t *raw;
    size_t len;
    block_t b;
    json_t *j = NULL;
    if (rc == 0)
        rc = name_block(r, q->arg, &hash, &height, &main_chain, e);
    if (rc == 0 && hex && (rc = store_get_block(r, &hash, &raw, &len, e)) == 0)
        j = views_block_hex(&hash, height, main_chain, raw, len);
    views_block_meta_t m;
    if (rc == 0 && !hex && (rc = store_load_block(r, &hash, &b, &len, e)) == 0) {
        if ((rc = block_meta(r, height, main_chain, len, &m, e)) == 0)
            j = views_block(&b, &m);
        block_free(&b);
    }
    store_read_end(&r);
    return rc < 0 ? rc : answer(out, j);
}

/* --- transactions ------------------------------------------------------ */

/* A main-chain transaction's view; NOT_FOUND when it is not on it. */
static int chain_tx(api_t *a, const hash32_t *txid, json_t **j, err_t *e)
{
    store_read_t *r;
    store_tx_loc_t loc;
    uint64_t tip;
    block_t b;
    int rc = store_read_begin(node_store(a->node), &r, e);
    if (rc == 0 && (rc = store_find_tx(r, txid, &loc, e)) == 0 &&
        (rc = store_get_tip(r, NULL, &tip, e)) == 0 &&
        (rc = store_load_block(r, &loc.block, &b, NULL, e)) == 0) {
        json_t *t = NULL;
        rc = block_tx_view(a, r, &b, &loc.block, true, loc.position, &t, e);
        *j = rc == 0 ? views_chain_tx(t, &loc, tip) : NULL;
        block_free(&b);
    }
    store_read_end(&r);
    return rc;
}

int api_get_tx(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    hash32_t txid;
    if (strlen(q->arg) != 64 || hex_decode_exact(txid.b, 32, q->arg) < 0)
        return err_set(e, ERR_BAD_REQUEST, "a transaction hash is 64 hex digits");
    json_t *j = NULL;
    int rc = chain_tx(a, &txid, &j, e);
    if (rc != -(int)ERR_NOT_FOUND)
        return rc < 0 ? rc : answer(out, j);
    uint8_t *raw;
    size_t len;
    bool parked;
    if (node_mempool_tx(a->node, &txid, &raw, &len, &parked) < 0)
        return err_set(e, ERR_NOT_FOUND, "unknown transaction");
    tx_t tx;
    err_t de;
    rc = tx_decode(&tx, raw, len, &de);
    free(raw);
    if (rc < 0)
        return err_set(e, ERR_INTERNAL, "a mempool transaction does not decode: %s",
                       de.message);
    rc = mempool_tx_view(a, &tx, &txid, len, &j, e);
    tx_free(&tx);
    return rc < 0 ? rc : answer(out, views_mempool_tx(j, parked));
}

/* --- coins ------------------------------------------------------------------ */

/* The coins of pkh in r into list (at most UTXO_MAX, then *truncated), their
 * sum into *total. */
static int address_coins(api_t *a, store_read_t *r, const hash20_t *pkh, json_t *list,
                         amount_t *total, bool *truncated, err_t *e)
{
    store_iter_t *it;
    store_outpoint_t op;
    store_coin_t coin;
    int rc = store_iter_address(r, pkh, &it, e);
    while (rc == 0 && (rc = store_next_coin(it, &op, &coin, e)) == 1) {
        if (json_array_size(list) == UTXO_MAX) {
            *truncated = true;
            rc = 0;
            break;
        }
        bool spent = node_mempool_spends(a->node, &op.txid, op.index);
        if (!amount_add(total, coin.amount))
            rc = err_set(e, ERR_INTERNAL, "store: coins of an address sum past max money");
        else if (json_array_append_new(list, views_coin(&op, &coin, spent)) < 0)
            rc = err_set(e, ERR_INTERNAL, "out of memory");
        else
            rc = 0;
    }
    store_iter_end(&it);
    return rc;
}

int api_get_utxo(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    uint8_t version = node_params(a->node)->address_version;
    hash20_t pkh;
    int rc = parse_address(a, q->arg, &pkh, e);
    if (rc < 0)
        return rc;
    json_t *list = json_array();
    store_read_t *r = NULL;
    amount_t total = 0;
    bool truncated = false;
    rc = list ? store_read_begin(node_store(a->node), &r, e)
              : err_set(e, ERR_INTERNAL, "out of memory");
    if (rc == 0)
        rc = address_coins(a, r, &pkh, list, &total, &truncated, e);
    store_read_end(&r);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    char canonical[ADDRESS_MAX];
    address_encode(canonical, version, &pkh);
    return answer(out, views_utxo(q->arg, canonical, total, list, truncated));
}

int api_get_utxo_set(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    (void)q;
    store_read_t *r;
    hash32_t tip;
    uint64_t height;
    store_utxo_stats_t st;
    int rc = store_read_begin(node_store(a->node), &r, e);
    if (rc == 0 && (rc = store_get_tip(r, &tip, &height, e)) == 0) {
        pthread_mutex_lock(&a->utxo_lock);
        if (a->have_utxo_set && hash32_eq(&a->utxo_tip, &tip)) {
            st = a->utxo_stats;
        } else if ((rc = store_utxo_stats(r, &st, e)) == 0) {
            a->have_utxo_set = true;
            a->utxo_tip = tip;
            a->utxo_stats = st;
        }
        pthread_mutex_unlock(&a->utxo_lock);
    }
    store_read_end(&r);
    return rc < 0 ? rc : answer(out, views_utxo_set(height, &tip, &st));
}

/* --- the node ------------------------------------------------------------ */

int api_get_peers(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    (void)q;
    uint8_t *raw;
    size_t len;
    if (node_peers_copy(a->node, &raw, &len) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory");
    json_t *j = views_peers(raw, len);
    free(raw);
    return answer(out, j);
}

int api_get_status(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    (void)q, (void)e;
    node_status_t s;
    node_status(a->node, &s);
    return answer(out, views_status(&s, node_params(a->node), a->version));
}

int api_get_mempool(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    (void)q;
    node_mempool_item_t *items = malloc(MEMPOOL_LIST_MAX * sizeof *items);
    if (!items)
        return err_set(e, ERR_INTERNAL, "out of memory");
    size_t n = node_mempool_list(a->node, items, MEMPOOL_LIST_MAX);
    json_t *j = views_mempool(items, n);
    free(items);
    return answer(out, j);
}

int api_get_metrics(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    node_status_t s;
    node_status(a->node, &s);
    char *text;
    size_t len;
    int rc = metrics_render(&text, &len, &s, node_params(a->node), &q->http, e);
    if (rc < 0)
        return rc;
    *out = (api_answer_t){.status = 200, .content_type = METRICS_CONTENT_TYPE, .text = text,
                          .text_len = len};
    return 0;
}

int api_get_healthz(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    (void)a, (void)q, (void)e;
    return answer(out, json_pack("{s:s}", "status", "ok"));
}

int api_get_readyz(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    (void)q;
    store_read_t *r;
    uint64_t height;
    err_t se;
    int rc = store_read_begin(node_store(a->node), &r, &se);
    if (rc == 0)
        rc = store_get_tip(r, NULL, &height, &se);
    store_read_end(&r);
    if (rc < 0)
        return err_set(e, ERR_UNAVAILABLE, "the store does not answer: %s", se.message);
    return answer(out, json_pack("{s:s, s:I}", "status", "ready", "height",
                                 (json_int_t)(height > INT64_MAX ? INT64_MAX : height)));
}

/* --- submissions ------------------------------------------------------------ */

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

int api_post_block(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    int rc = one_of(q->body, "block", "hex", e);
    if (rc < 0)
        return rc;
    mp_buf_t b;
    uint8_t *raw = NULL;
    size_t len = 0;
    json_t *jb = json_object_get(q->body, "block");
    if (jb) {
        rc = jsonfmt_parse_block(&b, jb, e);
        raw = b.data;
        len = b.len;
    } else {
        mp_buf_init(&b, 0);
        rc = hex_field(json_object_get(q->body, "hex"), BLOCK_MAX_SIZE, &raw, &len, e);
    }
    chain_status_t status = CHAIN_KNOWN;
    hash32_t hash;
    if (rc == 0)
        rc = node_submit_block(a->node, raw, len, "http", &status, &hash, e);
    if (!jb)
        free(raw);
    mp_buf_free(&b);
    if (rc < 0)
        return rc;
    return answer(out, json_pack("{s:o, s:s}", "hash", views_hash(&hash), "status",
                                 chain_status_str(status)));
}

/* The transaction of a POST body, encoded into b (the JSON form) or *raw
 * (malloc'd, from "hex"). */
static int tx_of_body(const json_t *body, mp_buf_t *b, uint8_t **raw, size_t *len, err_t *e)
{
    int rc = one_of(body, "transaction", "hex", e);
    json_t *jt = json_object_get(body, "transaction");
    if (rc < 0 || !jt)
        return rc < 0 ? rc : hex_field(json_object_get(body, "hex"), TX_MAX_SIZE, raw, len, e);
    tx_t tx;
    if ((rc = jsonfmt_parse_tx(&tx, jt, e)) < 0)
        return rc;
    if (tx_encode(&tx, b, false) < 0)
        rc = err_set(e, ERR_TOO_LARGE, "the transaction is over %d bytes", TX_MAX_SIZE);
    tx_free(&tx);
    *raw = b->data;
    *len = b->len;
    return rc;
}

int api_post_tx(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    mp_buf_t b;
    mp_buf_init(&b, TX_MAX_SIZE);
    uint8_t *raw = NULL;
    size_t len = 0;
    bool known = false;
    hash32_t txid;
    uint64_t ticket = 0;
    int rc = tx_of_body(q->body, &b, &raw, &len, e);
    if (rc == 0) {
        rc = node_submit_tx(a->node, raw, len, "http", STORE_MEMPOOL_UNBROADCAST, &txid, &ticket,
                            e);
        /* a resubmission is a success, so that a client may simply retry */
        known = rc < 0 && e->code == ERR_KNOWN;
        if (known)
            hash_sha256d(&txid, raw, len);
    }
    if (raw != b.data)
        free(raw);
    mp_buf_free(&b);
    if (rc < 0 && !known)
        return rc;
    json_t *j = json_pack("{s:o}", "transaction_hash", views_hash(&txid));
    if (j && known && json_object_set_new(j, "known", json_true()) < 0) {
        json_decref(j);
        j = NULL;
    }
    answer(out, j);
    /* the 200 is a promise: it waits for the record to be on disk */
    out->ticket = ticket;
    out->txid = txid;
    return 0;
}

int api_settle(api_t *a, api_answer_t *out, err_t *e)
{
    int rc = node_settle_tx(a->node, &out->txid, e);
    if (rc < 0) {
        json_decref(out->json);
        out->json = NULL;
    }
    return rc;
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
    if (!colon || colon == h || dec_u64(colon + 1, strlen(colon + 1), &port) < 0 ||
        port < 1 || port > 65535)
        return err_set(e, ERR_BAD_REQUEST, "\"hostname\" must end in \":PORT\", a port from 1 "
                       "to 65535");
    return 0;
}

int api_post_advert(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    const char *host = json_string_value(json_object_get(q->body, "hostname"));
    int rc = check_hostname(host, e);
    if (rc < 0)
        return rc;
    node_advertise_peer(a->node, host);
    return answer(out, json_pack("{s:s}", "hostname", host));
}

/* --- the explorer's routes ------------------------------------------------- */

#define SUMMARIES_DEFAULT 10
#define PAGE_MAX 100 /* /blocks, /block/<id>/txs, /address/<a>/txs, /mempool/recent */
#define BLOCK_TXS_DEFAULT 25
#define ADDRESS_TXS_DEFAULT 25
#define RECENT_DEFAULT 20
#define CURSOR_MAX 48 /* "m" or "c", two decimal numbers and a dot */

/* The fee-rate edges of /mempool/histogram, units a byte (docs/openapi.json). */
static const uint64_t histogram_edges[] = {0, 10, 20, 50, 100, 200, 500, 1000};
#define N_EDGES (sizeof histogram_edges / sizeof histogram_edges[0])

/* A count parameter from 1 to max, def when absent. */
static int query_count(const api_request_t *q, const char *key, uint64_t def, uint64_t max,
                       uint64_t *v, err_t *e)
{
    *v = def;
    int rc = query_u64(q, key, v, e);
    if (rc < 0)
        return rc;
    if (*v < 1 || *v > max)
        return err_set(e, ERR_BAD_REQUEST, "\"%s\" must be from 1 to %" PRIu64, key, max);
    return 0;
}

/* A text parameter: 1 when absent, 0 with value (len bytes), or an
 * ERR_BAD_REQUEST when empty or over max bytes. */
static int query_text(const api_request_t *q, const char *key, size_t max, const char **value,
                      size_t *len, err_t *e)
{
    if (!q->query || !q->query(q->query_ctx, key, value, len))
        return 1;
    if (!*value || *len == 0 || *len > max)
        return err_set(e, ERR_BAD_REQUEST, "\"%s\" must be 1 to %zu characters", key, max);
    return 0;
}

/* A block's height, main_chain and size into m, with the main chain's next
 * block when it is on it. */
static int block_meta(store_read_t *r, uint64_t height, bool main_chain, size_t size,
                      views_block_meta_t *m, err_t *e)
{
    *m = (views_block_meta_t){.height = height, .main_chain = main_chain, .size = size};
    int rc = main_chain ? store_get_chain_hash(r, height + 1, &m->next, e) : -(int)ERR_NOT_FOUND;
    m->has_next = rc == 0;
    return rc == -(int)ERR_NOT_FOUND ? 0 : rc;
}

/* The coins transaction i of main-chain block b (hash) spent, in its
 * inputs' order, from the block's undo record (scripts borrowed from r). */
static int spent_coins(store_read_t *r, const block_t *b, const hash32_t *hash, size_t i,
                       store_coin_t *coins, err_t *e)
{
    size_t skip = 0, take = i > 0 ? b->txs[i].n_inputs : 0;
    for (size_t k = 1; k < i; k++)
        skip += b->txs[k].n_inputs;
    if (take == 0)
        return 0;
    store_iter_t *it;
    store_outpoint_t op;
    int rc = store_iter_undo(r, hash, &it, e);
    if (rc == -(int)ERR_NOT_FOUND)
        return err_set(e, ERR_INTERNAL, "store: a main-chain block has no undo record");
    for (size_t k = 0; rc == 0 && k < skip + take; k++) {
        store_coin_t c;
        if ((rc = store_next_coin(it, &op, &c, e)) == 1)
            rc = 0;
        else if (rc == 0)
            rc = err_set(e, ERR_INTERNAL, "store: an undo record lacks coins its block spent");
        if (rc == 0 && k >= skip)
            coins[k - skip] = c;
    }
    store_iter_end(&it);
    return rc;
}

/* Who spends each of txid's n outputs: a main-chain transaction, else a
 * mempool one, else nobody. */
static int output_spenders(api_t *a, store_read_t *r, const hash32_t *txid, size_t n,
                           views_spender_t *out, err_t *e)
{
    for (size_t j = 0; j < n; j++) {
        store_spender_t sp;
        views_spender_t *v = &out[j];
        int rc = store_get_spender(r, txid, (uint32_t)j, &sp, e);
        *v = (views_spender_t){.spent = rc == 0, .txid = sp.txid, .input = sp.input};
        if (rc == -(int)ERR_NOT_FOUND) {
            v->spent = node_mempool_spender(a->node, txid, (uint32_t)j, &v->txid, &v->input) == 0;
            v->in_mempool = v->spent;
        } else if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static size_t tx_size(const tx_t *tx)
{
    mp_buf_t b;
    mp_buf_init(&b, TX_MAX_SIZE);
    size_t n = tx_encode(tx, &b, false) == 0 ? b.len : 0;
    mp_buf_free(&b);
    return n;
}

/* The views_tx of coins (NULL: unknown) and the spenders it looks up. */
static int tx_view(api_t *a, store_read_t *r, const tx_t *tx, const hash32_t *txid, size_t size,
                   const store_coin_t *coins, json_t **out, err_t *e)
{
    views_spender_t *sp = malloc((tx->n_outputs ? tx->n_outputs : 1) * sizeof *sp);
    int rc = sp ? output_spenders(a, r, txid, tx->n_outputs, sp, e)
                : err_set(e, ERR_INTERNAL, "out of memory");
    if (rc == 0 && !(*out = views_tx(tx, txid, size, coins, sp,
                                     node_params(a->node)->address_version)))
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    free(sp);
    return rc;
}

/* Transaction i of block b (hash): its view, with the coins it spent when
 * the block is on the main chain (its undo record holds them). */
static int block_tx_view(api_t *a, store_read_t *r, const block_t *b, const hash32_t *hash,
                         bool main_chain, size_t i, json_t **out, err_t *e)
{
    const tx_t *tx = &b->txs[i];
    store_coin_t *coins = malloc((tx->n_inputs ? tx->n_inputs : 1) * sizeof *coins);
    int rc = coins ? 0 : err_set(e, ERR_INTERNAL, "out of memory");
    if (rc == 0 && main_chain)
        rc = spent_coins(r, b, hash, i, coins, e);
    if (rc == 0)
        rc = tx_view(a, r, tx, &b->txids[i], tx_size(tx), main_chain ? coins : NULL, out, e);
    free(coins);
    return rc;
}

/* A mempool transaction's view: the confirmed coins it spends (the mempool
 * spends no other) from a snapshot of now; unknown when one is gone (a
 * block took it meanwhile). */
static int mempool_tx_view(api_t *a, const tx_t *tx, const hash32_t *txid, size_t size,
                           json_t **out, err_t *e)
{
    store_read_t *r;
    store_coin_t *coins = malloc((tx->n_inputs ? tx->n_inputs : 1) * sizeof *coins);
    int rc = coins ? store_read_begin(node_store(a->node), &r, e)
                   : err_set(e, ERR_INTERNAL, "out of memory");
    if (rc < 0) {
        free(coins);
        return rc;
    }
    bool known = true;
    for (size_t i = 0; known && i < tx->n_inputs; i++)
        known = store_get_coin(r, &tx->inputs[i].prev_txid, tx->inputs[i].index, &coins[i],
                               NULL) == 0;
    rc = tx_view(a, r, tx, txid, size, known ? coins : NULL, out, e);
    store_read_end(&r);
    free(coins);
    return rc;
}

/* /blocks: summaries from height from down, into list; *next_height the
 * height below the last (has_next false past the genesis). */
static int list_summaries(api_t *a, store_read_t *r, uint64_t from, uint64_t limit,
                          json_t *list, bool *has_next, uint64_t *next_height, err_t *e)
{
    int rc = 0;
    uint64_t h = from;
    for (uint64_t n = 0; rc == 0 && n < limit; n++, h--) {
        hash32_t hash;
        store_index_rec_t rec;
        store_block_info_t info;
        if ((rc = store_get_chain_hash(r, h, &hash, e)) < 0 ||
            (rc = store_get_index(r, &hash, &rec, e)) < 0 ||
            (rc = store_get_block_info(r, &hash, &info, e)) < 0)
            break;
        if (json_array_append_new(list, views_block_summary(&rec.header, &hash, h, &info,
                                                            node_params(a->node))) < 0)
            rc = err_set(e, ERR_INTERNAL, "out of memory");
        if (h == 0) {
            *has_next = false;
            return rc;
        }
    }
    *has_next = true;
    *next_height = h;
    return rc;
}

int api_get_summaries(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    uint64_t limit, from = 0, tip, next = 0;
    int rc = query_count(q, "limit", SUMMARIES_DEFAULT, PAGE_MAX, &limit, e);
    int fq = rc < 0 ? rc : query_u64(q, "from", &from, e);
    if (rc < 0 || fq < 0)
        return rc < 0 ? rc : fq;
    store_read_t *r;
    json_t *list = json_array();
    bool has_next = false;
    rc = list ? store_read_begin(node_store(a->node), &r, e)
              : err_set(e, ERR_INTERNAL, "out of memory");
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    if ((rc = store_get_tip(r, NULL, &tip, e)) == 0)
        rc = list_summaries(a, r, fq == 1 || from > tip ? tip : from, limit, list, &has_next,
                            &next, e);
    store_read_end(&r);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    return answer(out, views_blocks_page(list, has_next, next));
}

/* Transactions [offset, offset + n) of block b (hash) into list. */
static int list_block_txs(api_t *a, store_read_t *r, const block_t *b, const hash32_t *hash,
                          bool main_chain, size_t offset, size_t n, json_t *list, err_t *e)
{
    int rc = 0;
    for (size_t i = offset; rc == 0 && i < offset + n && i < b->n_txs; i++) {
        json_t *t = NULL;
        if ((rc = block_tx_view(a, r, b, hash, main_chain, i, &t, e)) == 0 &&
            json_array_append_new(list, t) < 0)
            rc = err_set(e, ERR_INTERNAL, "out of memory");
    }
    return rc;
}

int api_get_block_txs(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    uint64_t offset = 0, limit;
    int rc = query_count(q, "limit", BLOCK_TXS_DEFAULT, PAGE_MAX, &limit, e);
    if (rc == 0 && query_u64(q, "offset", &offset, e) < 0)
        return -(int)ERR_BAD_REQUEST;
    if (rc < 0)
        return rc;
    store_read_t *r;
    hash32_t hash;
    uint64_t height;
    bool main_chain;
    size_t size;
    block_t b;
    views_block_meta_t m;
    json_t *list = json_array(), *j = NULL;
    rc = list ? store_read_begin(node_store(a->node), &r, e)
              : err_set(e, ERR_INTERNAL, "out of memory");
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    if ((rc = name_block(r, q->arg, &hash, &height, &main_chain, e)) == 0 &&
        (rc = store_load_block(r, &hash, &b, &size, e)) == 0) {
        /* past the last transaction: an empty page, as past any list's end */
        if ((rc = block_meta(r, height, main_chain, size, &m, e)) == 0 && offset < b.n_txs)
            rc = list_block_txs(a, r, &b, &hash, main_chain, (size_t)offset, (size_t)limit,
                                list, e);
        if (rc == 0)
            j = views_block_txs(&b.header, &hash, b.n_txs, &m, (size_t)offset, list);
        list = rc == 0 ? NULL : list;
        block_free(&b);
    }
    store_read_end(&r);
    json_decref(list);
    return rc < 0 ? rc : answer(out, j);
}

/* --- an address's history -------------------------------------------------- */

/* An address in either form (DESIGN §3.5) into *pkh. */
static int parse_address(api_t *a, const char *text, hash20_t *pkh, err_t *e)
{
    if (strlen(text) > ADDRESS_TEXT_MAX)
        return err_set(e, ERR_BAD_ADDRESS, "an address has at most %d characters",
                       ADDRESS_TEXT_MAX);
    return address_decode(pkh, node_params(a->node)->address_version, text, e);
}

/* Where a page of /address/<a>/txs starts: in the mempool, before arrival
 * seq (the confirmed part then runs from height anchor down), or among
 * confirmed entries below (height, position). */
typedef struct {
    bool mempool;
    uint64_t seq, anchor;
    store_history_t below;
} cursor_t;

/* The opaque cursor: "m<seq>.<anchor>" or "c<height>.<position>". */
static void cursor_text(char out[CURSOR_MAX], const cursor_t *c)
{
    if (c->mempool)
        snprintf(out, CURSOR_MAX, "m%" PRIu64 ".%" PRIu64, c->seq, c->anchor);
    else
        snprintf(out, CURSOR_MAX, "c%" PRIu64 ".%" PRIu32, c->below.height, c->below.position);
}

static int cursor_parse(const char *text, size_t len, cursor_t *c, err_t *e)
{
    const char *dot = len > 1 ? memchr(text, '.', len) : NULL;
    uint64_t x, y;
    if (!dot || (text[0] != 'm' && text[0] != 'c') || dec_u64(text + 1, (size_t)(dot - text - 1),
                                                               &x) < 0 ||
        dec_u64(dot + 1, len - (size_t)(dot - text) - 1, &y) < 0 ||
        (text[0] == 'c' && y > UINT32_MAX))
        return err_set(e, ERR_BAD_REQUEST, "\"cursor\" must be a next_cursor this route gave");
    *c = (cursor_t){.mempool = text[0] == 'm', .seq = x, .anchor = y};
    c->below = (store_history_t){.height = x, .position = (uint32_t)y};
    return 0;
}

/* The address's confirmed coins (at most UTXO_MAX, as /utxo) and their
 * amounts, for the mempool's spends of them; *n of them. */
static int coins_of(store_read_t *r, const hash20_t *pkh, store_outpoint_t **ops,
                    amount_t **amounts, size_t *n, err_t *e)
{
    store_iter_t *it;
    store_coin_t coin;
    size_t cap = 0;
    *n = 0;
    int rc = store_iter_address(r, pkh, &it, e);
    while (rc == 0 && *n < UTXO_MAX) {
        store_outpoint_t op;
        if ((rc = store_next_coin(it, &op, &coin, e)) != 1)
            break;
        rc = 0;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            store_outpoint_t *o = realloc(*ops, cap * sizeof *o);
            amount_t *m = o ? realloc(*amounts, cap * sizeof *m) : NULL;
            *ops = o ? o : *ops;
            *amounts = m ? m : *amounts;
            if (!o || !m)
                rc = err_set(e, ERR_INTERNAL, "out of memory");
        }
        if (rc == 0) {
            (*ops)[*n] = op;
            (*amounts)[(*n)++] = coin.amount;
        }
    }
    store_iter_end(&it);
    return rc;
}

/* The mempool part of a page: at most limit entries before c->seq into
 * list; *c becomes the next page's cursor (*done: the mempool part ended). */
static int mempool_part(api_t *a, store_read_t *r, const hash20_t *pkh, size_t limit,
                        cursor_t *c, json_t *list, bool *done, err_t *e)
{
    store_outpoint_t *ops = NULL;
    amount_t *amounts = NULL;
    size_t n_coins = 0;
    node_address_tx_t *txs = malloc(limit * sizeof *txs);
    int rc = txs ? coins_of(r, pkh, &ops, &amounts, &n_coins, e)
                 : err_set(e, ERR_INTERNAL, "out of memory");
    bool more = false;
    size_t n = rc == 0 ? node_mempool_address(a->node, pkh, ops, amounts, n_coins, c->seq, txs,
                                              limit, &more)
                       : 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (json_array_append_new(list, views_address_tx(&txs[i].txid, txs[i].received,
                                                         txs[i].sent, NULL, 0, 0)) < 0)
            rc = err_set(e, ERR_INTERNAL, "out of memory");
    if (n)
        c->seq = txs[n - 1].seq;
    *done = !more;
    free(txs);
    free(ops);
    free(amounts);
    return rc;
}

/* The confirmed part: at most limit entries below c->below into list;
 * *more when others follow (c->below is then the last one listed). */
static int confirmed_part(store_read_t *r, const hash20_t *pkh, size_t limit, cursor_t *c,
                          json_t *list, bool *more, err_t *e)
{
    store_iter_t *it;
    store_history_t h;
    size_t n = 0;
    *more = false;
    int rc = store_iter_history(r, pkh, &c->below, &it, e);
    while (rc == 0 && (rc = store_next_history(it, &h, e)) == 1) {
        hash32_t block;
        store_index_rec_t rec;
        rc = 0;
        if (n == limit) {
            *more = true;
            break;
        }
        if ((rc = store_get_chain_hash(r, h.height, &block, e)) < 0 ||
            (rc = store_get_index(r, &block, &rec, e)) < 0)
            break;
        if (json_array_append_new(list, views_address_tx(&h.txid, h.received, h.sent, &block,
                                                         h.height, rec.header.timestamp)) < 0)
            rc = err_set(e, ERR_INTERNAL, "out of memory");
        c->below = h;
        n++;
    }
    store_iter_end(&it);
    return rc;
}

/* One page from *c into list; *next_cursor gets the next page's cursor text
 * ("" on the last page). */
static int address_page(api_t *a, store_read_t *r, const hash20_t *pkh, size_t limit,
                        cursor_t *c, json_t *list, char next_cursor[CURSOR_MAX], err_t *e)
{
    bool done = true, more = false;
    int rc = 0;
    next_cursor[0] = '\0';
    if (c->mempool && (rc = mempool_part(a, r, pkh, limit, c, list, &done, e)) == 0 && !done) {
        cursor_text(next_cursor, c);
        return 0;
    }
    if (c->mempool) /* then the confirmed part, from the tip the first page saw */
        *c = (cursor_t){.below = {.height = c->anchor + 1, .position = 0}};
    /* with no room left, this only asks whether a confirmed entry follows */
    size_t left = limit - json_array_size(list);
    if (rc == 0 && (rc = confirmed_part(r, pkh, left, c, list, &more, e)) == 0 && more)
        cursor_text(next_cursor, c);
    return rc;
}

int api_get_address_txs(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    hash20_t pkh;
    uint64_t limit;
    const char *ctext;
    size_t clen;
    cursor_t c = {.mempool = true, .seq = UINT64_MAX};
    int rc = parse_address(a, q->arg, &pkh, e);
    if (rc == 0)
        rc = query_count(q, "limit", ADDRESS_TXS_DEFAULT, PAGE_MAX, &limit, e);
    int cq = rc < 0 ? rc : query_text(q, "cursor", CURSOR_MAX - 1, &ctext, &clen, e);
    if (cq == 0)
        cq = cursor_parse(ctext, clen, &c, e);
    if (rc < 0 || cq < 0)
        return rc < 0 ? rc : cq;
    store_read_t *r;
    json_t *list = json_array();
    char next[CURSOR_MAX];
    rc = list ? store_read_begin(node_store(a->node), &r, e)
              : err_set(e, ERR_INTERNAL, "out of memory");
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    if (cq == 1)
        rc = store_get_tip(r, NULL, &c.anchor, e);
    if (rc == 0)
        rc = address_page(a, r, &pkh, (size_t)limit, &c, list, next, e);
    store_read_end(&r);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    char canonical[ADDRESS_MAX];
    address_encode(canonical, node_params(a->node)->address_version, &pkh);
    return answer(out, views_address_page(canonical, list, next[0] ? next : NULL));
}

/* --- the mempool, and search ------------------------------------------------ */

int api_get_histogram(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    (void)q, (void)e;
    uint64_t count[N_EDGES], bytes[N_EDGES];
    node_mempool_histogram(a->node, histogram_edges, N_EDGES, count, bytes);
    return answer(out, views_histogram(histogram_edges, N_EDGES, count, bytes));
}

int api_get_recent(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    uint64_t limit;
    int rc = query_count(q, "limit", RECENT_DEFAULT, PAGE_MAX, &limit, e);
    if (rc < 0)
        return rc;
    node_mempool_item_t items[PAGE_MAX];
    size_t n = node_mempool_recent(a->node, items, (size_t)limit);
    return answer(out, views_recent(items, n));
}

/* A 64-hex search: a transaction (main chain or mempool), else a block
 * (any the node knows). */
static int search_hash(api_t *a, const hash32_t *h, const char **kind, bool *has_height,
                       uint64_t *height, err_t *e)
{
    store_read_t *r;
    store_tx_loc_t loc;
    store_index_rec_t rec;
    uint8_t *raw;
    size_t len;
    int rc = store_read_begin(node_store(a->node), &r, e);
    if (rc == 0 && (rc = store_find_tx(r, h, &loc, e)) == -(int)ERR_NOT_FOUND &&
        node_mempool_tx(a->node, h, &raw, &len, NULL) == 0) {
        free(raw);
        rc = 0;
    }
    if (rc == 0)
        *kind = "transaction";
    if (rc == -(int)ERR_NOT_FOUND && (rc = store_get_index(r, h, &rec, e)) == 0) {
        *kind = "block";
        *has_height = true;
        *height = rec.height;
    }
    store_read_end(&r);
    return rc == -(int)ERR_NOT_FOUND ? 0 : rc;
}

/* A height search: the main-chain block there. */
static int search_height(api_t *a, uint64_t height, const char **kind, hash32_t *hash,
                         err_t *e)
{
    store_read_t *r;
    int rc = store_read_begin(node_store(a->node), &r, e);
    if (rc == 0 && (rc = store_get_chain_hash(r, height, hash, e)) == 0)
        *kind = "block";
    store_read_end(&r);
    return rc == -(int)ERR_NOT_FOUND ? 0 : rc;
}

int api_get_search(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e)
{
    const char *text, *kind = NULL;
    size_t len;
    int rc = query_text(q, "q", ADDRESS_TEXT_MAX, &text, &len, e);
    if (rc == 1)
        return err_set(e, ERR_BAD_REQUEST, "give \"q\": a height, a block hash, a transaction "
                       "id or an address");
    if (rc < 0 || memchr(text, '\0', len))
        return rc < 0 ? rc : err_set(e, ERR_BAD_REQUEST, "\"q\" holds a NUL");
    json_t *utf8 = json_stringn(text, len);
    if (!utf8)
        return err_set(e, ERR_BAD_REQUEST, "\"q\" must be UTF-8 text");
    json_decref(utf8);
    char query[ADDRESS_TEXT_MAX + 1], id[ADDRESS_MAX > 65 ? ADDRESS_MAX : 65] = "";
    memcpy(query, text, len);
    query[len] = '\0';
    hash32_t h;
    hash20_t pkh;
    uint64_t height = 0;
    bool has_height = false;
    if (len <= 20 && dec_u64(query, len, &height) == 0) {
        rc = search_height(a, height, &kind, &h, e);
        has_height = kind != NULL;
    } else if (len == 64 && hex_decode_exact(h.b, 32, query) == 0) {
        rc = search_hash(a, &h, &kind, &has_height, &height, e);
    } else if (address_decode(&pkh, node_params(a->node)->address_version, query, NULL) == 0) {
        kind = "address";
        address_encode(id, node_params(a->node)->address_version, &pkh);
    }
    if (rc < 0)
        return rc;
    if (kind && strcmp(kind, "address") != 0)
        jsonfmt_hash_hex(id, &h);
    return answer(out, views_search(query, kind, kind ? id : NULL, has_height ? &height : NULL));
}
