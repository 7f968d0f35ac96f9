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
    if (rc == 0 && !hex && (rc = store_load_block(r, &hash, &b, NULL, e)) == 0) {
        j = views_block(&b, height, main_chain);
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
    tx_t tx;
    err_t de;
    int rc = store_read_begin(node_store(a->node), &r, e);
    if (rc == 0 && (rc = store_find_tx(r, txid, &loc, e)) == 0 &&
        (rc = store_get_tip(r, NULL, &tip, e)) == 0) {
        if (tx_decode(&tx, loc.raw, loc.len, &de) < 0) {
            rc = err_set(e, ERR_INTERNAL, "store: a stored transaction does not decode: %s",
                         de.message);
        } else {
            *j = views_chain_tx(&tx, txid, &loc, tip);
            tx_free(&tx);
        }
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
    if (node_mempool_tx(a->node, &txid, &raw, &len) < 0)
        return err_set(e, ERR_NOT_FOUND, "unknown transaction");
    tx_t tx;
    err_t de;
    rc = tx_decode(&tx, raw, len, &de);
    free(raw);
    if (rc < 0)
        return err_set(e, ERR_INTERNAL, "a mempool transaction does not decode: %s",
                       de.message);
    j = views_mempool_tx(&tx, &txid);
    tx_free(&tx);
    return answer(out, j);
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
    if (strlen(q->arg) > ADDRESS_TEXT_MAX)
        return err_set(e, ERR_BAD_ADDRESS, "an address has at most %d characters",
                       ADDRESS_TEXT_MAX);
    uint8_t version = node_params(a->node)->address_version;
    hash20_t pkh;
    int rc = address_decode(&pkh, version, q->arg, e);
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
    int rc = metrics_render(&text, &len, &s, node_params(a->node), q->http_requests, e);
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
