#include "node.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bytes.h"
#include "hex.h"
#include "clock.h"
#include "log.h"
#include "merkle.h"
#include "proto.h"
#include "script.h"

#define NODE_JOBS 8             /* recent jobs a found block may belong to */
#define NODE_MAX_WORKERS 64     /* miners whose rate is remembered */
#define HASHRATE_TTL 120        /* seconds a rate report counts */
#define JOB_INTERVAL_MS 1000    /* mempool-driven jobs at most once a second */
#define COINBASE_RESERVE 1000   /* block bytes kept for header and coinbase */

typedef struct {
    uint64_t id; /* 0: empty slot */
    uint64_t height;
    hash32_t prev;
    uint32_t bits;
    uint64_t timestamp;
    amount_t coinbase_value;
    hash32_t branch[MERKLE_MAX_BRANCH];
    int branch_len;
    size_t n_txs;
    uint8_t **raws; /* copies: the mempool may drop them before a block is found */
    size_t *lens;
} job_t;

typedef struct {
    char worker[64];
    uint64_t rate, time;
} rate_t;

struct node {
    pthread_mutex_t lock;
    node_config_t cfg;
    chain_t *chain;
    mempool_t *mempool;
    sigcache_t *cache;
    node_publish_fn publish;
    void *publish_ctx;
    uint64_t seq[PROTO_TOPIC_COUNT];
    job_t jobs[NODE_JOBS];
    uint64_t next_job_id, last_job_ms;
    bool tip_changed, mempool_changed;
    bool disconnected;  /* a block left the main chain during this submission */
    const char *origin; /* of the block being submitted, for its event */
    mp_buf_t readd;     /* encodings of disconnected txs: [len32 LE, bytes]… */
    uint8_t *peers_raw;
    size_t peers_len, peers_count;
    rate_t rates[NODE_MAX_WORKERS];
    char mempool_path[4096];
};

const chain_params_t *node_params(const node_t *n) { return n->cfg.params; }
store_t *node_store(node_t *n) { return chain_store(n->chain); }

void node_set_publisher(node_t *n, node_publish_fn fn, void *ctx)
{
    pthread_mutex_lock(&n->lock);
    n->publish = fn;
    n->publish_ctx = ctx;
    pthread_mutex_unlock(&n->lock);
}

/* Sends an event built in b (a map whose first pair is "seq"). */
static void publish(node_t *n, proto_topic_t topic, mp_buf_t *b)
{
    if (n->publish && mp_buf_ok(b))
        n->publish(n->publish_ctx, proto_topic_name(topic), b->data, b->len);
    mp_buf_free(b);
}

static void begin_event(node_t *n, proto_topic_t topic, mp_buf_t *b)
{
    mp_buf_init(b, PROTO_MAX_MSG);
    proto_open_event(b, topic, n->seq[topic]++);
}

/* --- chain hooks --------------------------------------------------------- */

static void on_connected(void *ctx, const block_t *b, const chain_entry_t *entry)
{
    node_t *n = ctx;
    size_t before = mempool_count(n->mempool);
    mempool_remove_for_block(n->mempool, b);
    n->mempool_changed |= mempool_count(n->mempool) != before;
    n->tip_changed = true;
    mp_buf_t ev;
    begin_event(n, PROTO_TOPIC_BLOCK, &ev);
    mp_put_cstr(&ev, "hash");
    mp_put_bin(&ev, entry->hash.b, 32);
    mp_put_cstr(&ev, "height");
    mp_put_uint(&ev, entry->height);
    mp_put_cstr(&ev, "origin");
    mp_put_cstr(&ev, n->origin ? n->origin : "store");
    publish(n, PROTO_TOPIC_BLOCK, &ev);
}

static void on_disconnected(void *ctx, const block_t *b, const chain_entry_t *entry)
{
    node_t *n = ctx;
    (void)entry;
    n->tip_changed = true;
    n->disconnected = true;
    /* keep the transactions to offer them to the mempool once the new branch
     * is in place: those still valid there come back */
    for (size_t i = 1; i < b->n_txs; i++) {
        size_t at = n->readd.len;
        mp_put_raw(&n->readd, "\0\0\0\0", 4);
        if (tx_encode(&b->txs[i], &n->readd, false) < 0)
            break;
        bytes_put_le(n->readd.data + at, n->readd.len - at - 4, 4);
    }
}

/* --- coins for the mempool ------------------------------------------------ */

static int read_coin(void *ctx, const hash32_t *txid, uint32_t index, store_coin_t *coin)
{
    void **args = ctx;
    return store_get_coin(args[0], args[1], txid, index, coin);
}

/* After an unknown_utxo rejection: says whether the output existed and was
 * spent on chain (a double spend, 409) or never existed (an index beyond the
 * transaction's outputs). */
static int explain_missing(node_t *n, MDB_txn *txn, const tx_t *tx, err_t *e)
{
    store_t *s = chain_store(n->chain);
    for (size_t i = 0; i < tx->n_inputs; i++) {
        const tx_input_t *in = &tx->inputs[i];
        store_coin_t coin;
        if (store_get_coin(txn, s, &in->prev_txid, in->index, &coin) == 0)
            continue;
        MDB_val k = {32, (void *)in->prev_txid.b}, v;
        if (mdb_get(txn, s->txindex, &k, &v) != 0 || v.mv_size != 32)
            continue; /* never confirmed: unknown it is */
        MDB_val bk = {32, v.mv_data}, bv;
        block_t b;
        err_t de;
        if (mdb_get(txn, s->blocks, &bk, &bv) != 0 || block_decode(&b, bv.mv_data, bv.mv_size, &de) < 0)
            continue;
        for (size_t t = 0; t < b.n_txs; t++) {
            if (!hash32_eq(&b.txids[t], &in->prev_txid))
                continue;
            size_t n_out = b.txs[t].n_outputs;
            block_free(&b);
            if (in->index >= n_out)
                return err_set(e, ERR_UNKNOWN_UTXO, "input %zu: output index %u is beyond the "
                               "%zu outputs of its transaction", i, in->index, n_out);
            return err_set(e, ERR_DOUBLE_SPEND, "input %zu spends an output already spent on "
                           "chain", i);
        }
        block_free(&b);
    }
    return -(int)(e ? e->code : ERR_UNKNOWN_UTXO);
}

static int accept_tx(node_t *n, const uint8_t *raw, size_t len, const char *origin,
                     hash32_t *txid, err_t *e)
{
    store_t *s = chain_store(n->chain);
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return err_set(e, ERR_INTERNAL, "store: %s", mdb_strerror(rc));
    void *args[2] = {txn, s};
    coin_view_t view = {read_coin, args};
    uint64_t next_height = chain_tip(n->chain)->height + 1;
    rc = mempool_accept(n->mempool, raw, len, &view, next_height,
                        n->cfg.params->coinbase_maturity, n->cache, txid, e);
    if (rc == -(int)ERR_UNKNOWN_UTXO) {
        tx_t tx;
        if (tx_decode(&tx, raw, len, NULL) == 0) {
            rc = explain_missing(n, txn, &tx, e);
            tx_free(&tx);
        }
    }
    mdb_txn_abort(txn);
    if (rc < 0)
        return rc;
    n->mempool_changed = true;
    mp_buf_t ev;
    begin_event(n, PROTO_TOPIC_TX, &ev);
    mp_put_cstr(&ev, "txid");
    mp_put_bin(&ev, txid->b, 32);
    mp_put_cstr(&ev, "origin");
    mp_put_cstr(&ev, origin);
    publish(n, PROTO_TOPIC_TX, &ev);
    return 0;
}

/* After blocks left the main chain: drops the mempool transactions that spend
 * a coin the new main chain does not have (an output of a disconnected
 * transaction, a vanished coinbase) or has as a coinbase not yet mature. */
static void drop_unconfirmed_spends(node_t *n)
{
    const mempool_entry_t **all;
    size_t count, n_gone = 0;
    if (mempool_select(n->mempool, SIZE_MAX, &all, &count) < 0)
        return;
    hash32_t *gone = malloc((count ? count : 1) * sizeof *gone);
    store_t *s = chain_store(n->chain);
    MDB_txn *txn;
    if (!gone || mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) {
        LOGERR("could not recheck the mempool after a reorganisation");
        free(gone);
        free(all);
        return;
    }
    uint64_t next_height = chain_tip(n->chain)->height + 1;
    uint32_t maturity = n->cfg.params->coinbase_maturity;
    for (size_t i = 0; i < count; i++) {
        const tx_t *tx = &all[i]->tx;
        for (size_t j = 0; j < tx->n_inputs; j++) {
            store_coin_t coin;
            if (store_get_coin(txn, s, &tx->inputs[j].prev_txid, tx->inputs[j].index, &coin) != 0 ||
                (coin.coinbase && next_height < coin.height + maturity)) {
                gone[n_gone++] = all[i]->txid;
                break;
            }
        }
    }
    mdb_txn_abort(txn);
    free(all);
    for (size_t i = 0; i < n_gone; i++)
        mempool_remove(n->mempool, &gone[i]);
    free(gone);
    if (n_gone) {
        n->mempool_changed = true;
        LOGINFO("reorganisation: %zu mempool transaction(s) spent coins no longer confirmed",
                n_gone);
    }
}

/* Offers the transactions of disconnected blocks to the mempool again. */
static void readmit(node_t *n)
{
    size_t pos = 0, back = 0, dropped = 0;
    while (n->readd.len - pos >= 4) {
        const uint8_t *p = n->readd.data + pos;
        size_t len = (size_t)bytes_get_le(p, 4);
        if (len > n->readd.len - pos - 4)
            break;
        hash32_t txid;
        err_t e;
        if (accept_tx(n, p + 4, len, "reorg", &txid, &e) == 0)
            back++;
        else
            dropped++;
        pos += 4 + len;
    }
    if (back || dropped)
        LOGINFO("reorganisation: %zu transaction(s) back in the mempool, %zu dropped", back,
                dropped);
    mp_buf_reset(&n->readd);
}

/* --- jobs ---------------------------------------------------------------- */

static void job_clear(job_t *j)
{
    for (size_t i = 0; i < j->n_txs; i++)
        free(j->raws[i]);
    free(j->raws);
    free(j->lens);
    memset(j, 0, sizeof *j);
}

static job_t *current_job(node_t *n)
{
    job_t *j = &n->jobs[(n->next_job_id - 1) % NODE_JOBS];
    return n->next_job_id && j->id == n->next_job_id - 1 ? j : NULL;
}

static int make_job(node_t *n)
{
    const chain_entry_t *tip = chain_tip(n->chain);
    const mempool_entry_t **sel;
    size_t n_sel;
    if (mempool_select(n->mempool, BLOCK_MAX_SIZE - COINBASE_RESERVE, &sel, &n_sel) < 0)
        return -1;
    job_t *j = &n->jobs[n->next_job_id % NODE_JOBS];
    job_clear(j);
    hash32_t *leaves = malloc((n_sel + 1) * sizeof *leaves);
    j->raws = calloc(n_sel ? n_sel : 1, sizeof *j->raws);
    j->lens = calloc(n_sel ? n_sel : 1, sizeof *j->lens);
    int rc = leaves && j->raws && j->lens ? 0 : -1;
    amount_t value = params_subsidy(n->cfg.params, tip->height + 1);
    if (leaves)
        memset(leaves[0].b, 0, 32); /* the coinbase's place: the branch never reads it */
    for (size_t i = 0; rc == 0 && i < n_sel; i++) {
        j->raws[i] = malloc(sel[i]->len);
        if (!j->raws[i]) {
            rc = -1;
            break;
        }
        memcpy(j->raws[i], sel[i]->raw, sel[i]->len);
        j->lens[i] = sel[i]->len;
        j->n_txs = i + 1;
        leaves[i + 1] = sel[i]->txid;
        (void)amount_add(&value, sel[i]->fee); /* fees of a block stay under max money */
    }
    if (rc == 0) {
        int len = merkle_branch_first(j->branch, leaves, n_sel + 1);
        rc = len < 0 ? -1 : 0;
        j->branch_len = len;
    }
    free(leaves);
    free(sel);
    if (rc < 0) {
        job_clear(j);
        return -1;
    }
    uint64_t mtp = chain_median_time(tip), now = clock_unix();
    j->id = n->next_job_id++;
    j->height = tip->height + 1;
    j->prev = tip->hash;
    j->bits = chain_next_bits(n->chain, tip);
    j->timestamp = now > mtp ? now : mtp + 1;
    j->coinbase_value = value;
    n->tip_changed = n->mempool_changed = false;
    n->last_job_ms = clock_ms();
    return 0;
}

static void put_job_pairs(const job_t *j, mp_buf_t *out)
{
    mp_put_cstr(out, "job_id");
    mp_put_uint(out, j->id);
    mp_put_cstr(out, "height");
    mp_put_uint(out, j->height);
    mp_put_cstr(out, "previous_block_hash");
    mp_put_bin(out, j->prev.b, 32);
    mp_put_cstr(out, "bits");
    mp_put_uint(out, j->bits);
    mp_put_cstr(out, "timestamp");
    mp_put_uint(out, j->timestamp);
    mp_put_cstr(out, "coinbase_value");
    mp_put_uint(out, j->coinbase_value);
    mp_put_cstr(out, "merkle_branch");
    mp_put_array(out, (uint32_t)j->branch_len);
    for (int i = 0; i < j->branch_len; i++)
        mp_put_bin(out, j->branch[i].b, 32);
    mp_put_cstr(out, "tx_count");
    mp_put_uint(out, j->n_txs);
}

static void publish_job(node_t *n)
{
    if (make_job(n) < 0) {
        LOGERR("out of memory making a mining job");
        return;
    }
    mp_buf_t ev;
    begin_event(n, PROTO_TOPIC_JOB, &ev);
    put_job_pairs(current_job(n), &ev);
    publish(n, PROTO_TOPIC_JOB, &ev);
}

int node_job_body(node_t *n, mp_buf_t *out)
{
    pthread_mutex_lock(&n->lock);
    int rc = 0;
    if (!current_job(n) || n->tip_changed || n->mempool_changed)
        rc = make_job(n);
    if (rc == 0)
        put_job_pairs(current_job(n), out);
    pthread_mutex_unlock(&n->lock);
    return rc == 0 && mp_buf_ok(out) ? 0 : -1;
}

void node_tick(node_t *n, uint64_t ms)
{
    pthread_mutex_lock(&n->lock);
    if (n->tip_changed || (n->mempool_changed && ms - n->last_job_ms >= JOB_INTERVAL_MS))
        publish_job(n);
    pthread_mutex_unlock(&n->lock);
}

/* --- submissions ----------------------------------------------------------- */

static int submit_block_locked(node_t *n, const uint8_t *raw, size_t len, const char *origin,
                               chain_status_t *status, hash32_t *hash, err_t *e)
{
    n->origin = origin;
    int rc = chain_submit_block(n->chain, raw, len, clock_unix(), status, hash, e);
    n->origin = NULL;
    if (n->disconnected) {
        n->disconnected = false;
        drop_unconfirmed_spends(n);
    }
    if (n->readd.len)
        readmit(n);
    if (n->tip_changed)
        publish_job(n);
    char hex[65];
    hex_encode(hex, hash->b, 32);
    if (rc == 0 && *status == CHAIN_TIP)
        LOGINFO("new tip %s at height %" PRIu64 " (from %s)", hex, chain_tip(n->chain)->height,
                origin);
    return rc;
}

int node_prefetch_block(node_t *n, const uint8_t *raw, size_t len, const hash32_t *after,
                        hash32_t *hash)
{
    pthread_mutex_lock(&n->lock);
    int rc = chain_prefetch(n->chain, raw, len, after, hash);
    pthread_mutex_unlock(&n->lock);
    return rc;
}

int node_submit_block(node_t *n, const uint8_t *raw, size_t len, const char *origin,
                      chain_status_t *status, hash32_t *hash, err_t *e)
{
    pthread_mutex_lock(&n->lock);
    memset(hash, 0, sizeof *hash);
    int rc = submit_block_locked(n, raw, len, origin, status, hash, e);
    pthread_mutex_unlock(&n->lock);
    return rc;
}

/* Checks a transaction's P2PKH signatures into the signature cache before
 * the node's lock is taken: they need only the transaction and the confirmed
 * coins it spends (LMDB readers take no lock), so HTTP threads check them in
 * parallel and the mempool's script checks under the lock hit the cache. Only
 * a signature whose key hashes to its coin's pubkey hash is checked, so the
 * cache holds nothing but real spends; the first failure ends it (the lock's
 * checks will refuse the transaction and say why). */
static void precheck_sigs(node_t *n, const uint8_t *raw, size_t len)
{
    tx_t tx;
    hash32_t sighash;
    if (tx_decode(&tx, raw, len, NULL) < 0)
        return;
    store_t *s = chain_store(n->chain);
    MDB_txn *txn;
    if (tx_sighash(&tx, &sighash) == 0 && mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) == 0) {
        for (size_t i = 0; i < tx.n_inputs; i++) {
            const tx_input_t *in = &tx.inputs[i];
            vpool_sig_t sig;
            store_coin_t coin;
            hash20_t coin_pkh, key_pkh;
            if (!validate_input_sig(in, &sighash, &sig) ||
                store_get_coin(txn, s, &in->prev_txid, in->index, &coin) != 0 ||
                !script_p2pkh_hash(coin.script, coin.script_len, &coin_pkh))
                continue;
            hash_hash160(&key_pkh, sig.pubkey, KEY_PUBKEY_LEN);
            if (memcmp(key_pkh.b, coin_pkh.b, sizeof coin_pkh.b) != 0 ||
                !sigcache_verify(n->cache, sig.pubkey, sig.sig, &sig.sighash))
                break;
        }
        mdb_txn_abort(txn);
    }
    tx_free(&tx);
}

int node_submit_tx(node_t *n, const uint8_t *raw, size_t len, const char *origin, hash32_t *txid,
                   err_t *e)
{
    precheck_sigs(n, raw, len);
    pthread_mutex_lock(&n->lock);
    memset(txid, 0, sizeof *txid);
    int rc = accept_tx(n, raw, len, origin, txid, e);
    pthread_mutex_unlock(&n->lock);
    return rc;
}

int node_submit_work(node_t *n, uint64_t job_id, const uint8_t *extranonce, size_t extranonce_len,
                     const hash20_t *payout, uint64_t timestamp, uint64_t nonce, hash32_t *hash,
                     err_t *e)
{
    if (extranonce_len > TX_EXTRANONCE_MAX)
        return err_set(e, ERR_BAD_REQUEST, "extranonce over %d bytes", TX_EXTRANONCE_MAX);
    pthread_mutex_lock(&n->lock);
    const job_t *j = &n->jobs[job_id % NODE_JOBS];
    if (j->id != job_id || n->next_job_id == 0) {
        pthread_mutex_unlock(&n->lock);
        return err_set(e, ERR_NOT_FOUND, "job %" PRIu64 " is unknown or too old", job_id);
    }
    /* the coinbase exactly as the miner built it (DESIGN §4.4, PROTOCOL.md) */
    tx_coinbase_t cb;
    block_header_t h = {.version = BLOCK_VERSION, .previous_block_hash = j->prev,
                        .timestamp = timestamp, .bits = j->bits, .nonce = nonce};
    hash32_t coinbase_txid;
    mp_buf_t b;
    mp_buf_init(&b, BLOCK_MAX_SIZE + 1024);
    int rc = 0;
    if (tx_coinbase_build(&cb, j->height, extranonce, extranonce_len, payout,
                          j->coinbase_value) < 0 ||
        tx_txid(&cb.tx, &coinbase_txid) < 0)
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    if (rc == 0) {
        merkle_root_from_branch(&h.merkle_root, &coinbase_txid, j->branch, (size_t)j->branch_len);
        block_header_hash(hash, &h);
        /* a cheap check before the block is assembled and validated */
        if (!block_hash_meets(hash, h.bits))
            rc = err_set(e, ERR_BAD_POW, "the solution does not meet the job's target");
    }
    if (rc == 0 && block_assemble(&b, &h, &cb.tx, (const uint8_t *const *)j->raws, j->lens,
                                  j->n_txs) < 0)
        rc = err_set(e, ERR_TOO_LARGE, "the block does not fit");
    if (rc == 0) {
        chain_status_t status;
        hash32_t got;
        rc = submit_block_locked(n, b.data, b.len, "miner", &status, &got, e);
        if (rc == 0 && status != CHAIN_TIP && status != CHAIN_KNOWN)
            LOGINFO("a found block went to a side branch (job %" PRIu64 " was stale)", job_id);
    }
    mp_buf_free(&b);
    pthread_mutex_unlock(&n->lock);
    return rc;
}

/* --- queries --------------------------------------------------------------- */

void node_status(node_t *n, node_status_t *s)
{
    uint64_t now = clock_unix();
    pthread_mutex_lock(&n->lock);
    const chain_entry_t *tip = chain_tip(n->chain);
    s->height = tip->height;
    s->hash = tip->hash;
    s->chainwork = tip->chainwork;
    s->bits = tip->header.bits;
    s->timestamp = tip->header.timestamp;
    s->mempool_count = mempool_count(n->mempool);
    s->mempool_bytes = mempool_bytes(n->mempool);
    s->peers = n->peers_count;
    s->orphans = chain_orphan_count(n->chain);
    s->hashrate = 0;
    for (int i = 0; i < NODE_MAX_WORKERS; i++)
        if (n->rates[i].time && now - n->rates[i].time <= HASHRATE_TTL)
            s->hashrate += n->rates[i].rate;
    pthread_mutex_unlock(&n->lock);
    sigcache_stats(n->cache, &s->sigcache_hits, &s->sigcache_misses, &s->sigcache_entries);
}

int node_headers_after(node_t *n, const hash32_t *locator, size_t n_locator, size_t max,
                       uint8_t **out, size_t *count)
{
    pthread_mutex_lock(&n->lock);
    int rc = chain_headers_after(n->chain, locator, n_locator, max, out, count);
    pthread_mutex_unlock(&n->lock);
    return rc;
}

int node_mempool_tx(node_t *n, const hash32_t *txid, uint8_t **raw, size_t *len)
{
    pthread_mutex_lock(&n->lock);
    const mempool_entry_t *x = mempool_get(n->mempool, txid);
    int rc = -1;
    if (x && (*raw = malloc(x->len)) != NULL) {
        memcpy(*raw, x->raw, x->len);
        *len = x->len;
        rc = 0;
    }
    pthread_mutex_unlock(&n->lock);
    return rc;
}

bool node_mempool_spends(node_t *n, const hash32_t *txid, uint32_t index)
{
    pthread_mutex_lock(&n->lock);
    bool spent = mempool_spender(n->mempool, txid, index) != NULL;
    pthread_mutex_unlock(&n->lock);
    return spent;
}

json_t *node_mempool_json(node_t *n, size_t limit)
{
    json_t *list = json_array();
    pthread_mutex_lock(&n->lock);
    const mempool_entry_t **sel;
    size_t count;
    if (list && mempool_select(n->mempool, SIZE_MAX, &sel, &count) == 0) {
        for (size_t i = 0; i < count && i < limit; i++) {
            char hex[65];
            hex_encode(hex, sel[i]->txid.b, 32);
            json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:f}", "transaction_hash", hex,
                                                  "size", (json_int_t)sel[i]->len, "fee",
                                                  (json_int_t)sel[i]->fee, "fee_rate",
                                                  (double)sel[i]->fee / (double)sel[i]->len));
        }
        free(sel);
    }
    pthread_mutex_unlock(&n->lock);
    return list;
}

void node_report_hashrate(node_t *n, const char *worker, uint64_t hashes_per_second, uint64_t now)
{
    char name[sizeof n->rates[0].worker];
    snprintf(name, sizeof name, "%s", worker);
    pthread_mutex_lock(&n->lock);
    /* the worker's own slot, else the stalest one */
    rate_t *slot = NULL, *stalest = &n->rates[0];
    for (int i = 0; i < NODE_MAX_WORKERS && !slot; i++) {
        if (n->rates[i].time && strcmp(n->rates[i].worker, name) == 0)
            slot = &n->rates[i];
        else if (n->rates[i].time < stalest->time)
            stalest = &n->rates[i];
    }
    if (!slot)
        slot = stalest;
    memcpy(slot->worker, name, sizeof name);
    slot->rate = hashes_per_second;
    slot->time = now;
    pthread_mutex_unlock(&n->lock);
}

void node_set_peers(node_t *n, const uint8_t *peers, size_t len, size_t count)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, peers, len);
    pthread_mutex_lock(&n->lock);
    free(n->peers_raw);
    n->peers_raw = copy;
    n->peers_len = len;
    n->peers_count = count;
    pthread_mutex_unlock(&n->lock);
}

json_t *node_peers_json(node_t *n)
{
    json_t *list = json_array();
    pthread_mutex_lock(&n->lock);
    mp_reader_t r;
    uint32_t count;
    mp_reader_init(&r, n->peers_raw, n->peers_len, false);
    if (list && n->peers_raw && mp_get_array(&r, &count) == 0) {
        for (uint32_t i = 0; i < count; i++) {
            size_t start = r.pos;
            if (mp_skip(&r) < 0)
                break;
            proto_body_t peer = {r.p + start, r.pos - start};
            char addr[256];
            uint64_t height = 0;
            bool inbound = false;
            if (proto_get_str(&peer, "addr", addr, sizeof addr) < 0)
                continue; /* gossipd's schema makes every field but addr optional */
            (void)proto_get_uint(&peer, "height", &height);
            (void)proto_get_bool(&peer, "inbound", &inbound);
            json_array_append_new(list, json_pack("{s:s, s:I, s:b}", "hostname", addr, "height",
                                                  (json_int_t)height, "inbound", inbound));
        }
    }
    pthread_mutex_unlock(&n->lock);
    return list;
}

void node_advertise_peer(node_t *n, const char *hostname)
{
    pthread_mutex_lock(&n->lock);
    mp_buf_t ev;
    begin_event(n, PROTO_TOPIC_PEER_ADD, &ev);
    mp_put_cstr(&ev, "hostname");
    mp_put_cstr(&ev, hostname);
    publish(n, PROTO_TOPIC_PEER_ADD, &ev);
    pthread_mutex_unlock(&n->lock);
}

/* --- open and close -------------------------------------------------------- */

static void take_saved(void *ctx, const uint8_t *raw, size_t len)
{
    node_t *n = ctx;
    hash32_t txid;
    err_t e;
    if (accept_tx(n, raw, len, "saved", &txid, &e) < 0)
        LOGDEBUG("a saved transaction is no longer valid: %s", e.message);
}

int node_open(node_t **out, const node_config_t *cfg, err_t *e)
{
    *out = NULL;
    node_t *n = calloc(1, sizeof *n);
    if (!n)
        return err_set(e, ERR_INTERNAL, "out of memory");
    n->cfg = *cfg;
    pthread_mutex_init(&n->lock, NULL);
    mp_buf_init(&n->readd, (size_t)256 << 20);
    n->cache = sigcache_new(cfg->sigcache_entries);
    n->mempool = mempool_new(cfg->mempool_max_bytes, cfg->min_fee_rate);
    int rc = !n->cache || !n->mempool ? err_set(e, ERR_INTERNAL, "out of memory") : 0;
    if (rc == 0 && snprintf(n->mempool_path, sizeof n->mempool_path, "%s/mempool.dat",
                            cfg->datadir) >= (int)sizeof n->mempool_path)
        rc = err_set(e, ERR_INTERNAL, "data directory path too long");
    if (rc == 0)
        rc = chain_open(&n->chain, cfg->params, cfg->datadir, cfg->map_size, cfg->verify_threads,
                        n->cache, e);
    if (rc < 0) {
        node_close(&n);
        return rc;
    }
    chain_hooks_t hooks = {on_connected, on_disconnected, n};
    chain_set_hooks(n->chain, &hooks);
    err_t le;
    size_t before = 0;
    if (mempool_load(n->mempool_path, cfg->mempool_max_bytes, take_saved, n, &le) < 0)
        LOGWARN("the saved mempool was only partly read: %s", le.message);
    before = mempool_count(n->mempool);
    if (before)
        LOGINFO("mempool: %zu saved transaction(s) still valid", before);
    *out = n;
    return 0;
}

void node_close(node_t **np)
{
    node_t *n = *np;
    if (!n)
        return;
    if (n->chain && n->mempool) {
        err_t e;
        if (mempool_save(n->mempool, n->mempool_path, &e) < 0)
            LOGERR("%s", e.message);
        else
            LOGINFO("mempool saved: %zu transaction(s)", mempool_count(n->mempool));
    }
    chain_close(&n->chain);
    mempool_destroy(&n->mempool);
    sigcache_destroy(&n->cache);
    for (int i = 0; i < NODE_JOBS; i++)
        job_clear(&n->jobs[i]);
    mp_buf_free(&n->readd);
    free(n->peers_raw);
    pthread_mutex_destroy(&n->lock);
    free(n);
    *np = NULL;
}
