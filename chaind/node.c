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
#include "proto.h"
#include "script.h"

#define NODE_MAX_WORKERS 64     /* miners whose rate is remembered */
#define HASHRATE_TTL 120        /* seconds a rate report counts */
#define JOB_INTERVAL_MS 1000    /* mempool-driven jobs at most once a second */

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
    jobs_t jobs;
    uint64_t last_job_ms;
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

/* After an unknown_utxo rejection: says whether the output existed and was
 * spent on chain (a double spend, 409) or never existed (an index beyond the
 * transaction's outputs). */
static int explain_missing(store_read_t *r, const tx_t *tx, err_t *e)
{
    for (size_t i = 0; i < tx->n_inputs; i++) {
        const tx_input_t *in = &tx->inputs[i];
        store_coin_t coin;
        store_tx_loc_t loc;
        tx_t prev;
        if (store_get_coin(r, &in->prev_txid, in->index, &coin, NULL) == 0 ||
            store_find_tx(r, &in->prev_txid, &loc, NULL) < 0) /* never confirmed: unknown */
            continue;
        if (tx_decode(&prev, loc.raw, loc.len, NULL) < 0)
            continue;
        size_t n_out = prev.n_outputs;
        tx_free(&prev);
        if (in->index >= n_out)
            return err_set(e, ERR_UNKNOWN_UTXO, "input %zu: output index %u is beyond the "
                           "%zu outputs of its transaction", i, in->index, n_out);
        return err_set(e, ERR_DOUBLE_SPEND, "input %zu spends an output already spent on "
                       "chain", i);
    }
    return -(int)(e ? e->code : ERR_UNKNOWN_UTXO);
}

static int accept_tx(node_t *n, const uint8_t *raw, size_t len, const char *origin,
                     hash32_t *txid, err_t *e)
{
    store_read_t *r;
    int rc = store_read_begin(chain_store(n->chain), &r, e);
    if (rc < 0)
        return rc;
    coin_view_t view;
    validate_store_view(&view, r);
    uint64_t next_height = chain_tip(n->chain)->height + 1;
    rc = mempool_accept(n->mempool, raw, len, &view, next_height,
                        n->cfg.params->coinbase_maturity, n->cache, txid, e);
    if (rc == -(int)ERR_UNKNOWN_UTXO) {
        tx_t tx;
        if (tx_decode(&tx, raw, len, NULL) == 0) {
            rc = explain_missing(r, &tx, e);
            tx_free(&tx);
        }
    }
    store_read_end(&r);
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
    store_read_t *r = NULL;
    err_t e;
    if (!gone || store_read_begin(chain_store(n->chain), &r, &e) < 0) {
        LOGERR("could not recheck the mempool after a reorganisation: %s",
               gone ? e.message : "out of memory");
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
            if (store_get_coin(r, &tx->inputs[j].prev_txid, tx->inputs[j].index, &coin, NULL) < 0 ||
                (coin.coinbase && next_height < coin.height + maturity)) {
                gone[n_gone++] = all[i]->txid;
                break;
            }
        }
    }
    store_read_end(&r);
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

static int make_job(node_t *n)
{
    if (jobs_make(&n->jobs, n->chain, n->mempool, clock_unix()) < 0)
        return -1;
    n->tip_changed = n->mempool_changed = false;
    n->last_job_ms = clock_ms();
    return 0;
}

static void publish_job(node_t *n)
{
    if (make_job(n) < 0) {
        LOGERR("out of memory making a mining job");
        return;
    }
    mp_buf_t ev;
    begin_event(n, PROTO_TOPIC_JOB, &ev);
    jobs_put_pairs(jobs_current(&n->jobs), &ev);
    publish(n, PROTO_TOPIC_JOB, &ev);
}

int node_job_body(node_t *n, mp_buf_t *out)
{
    pthread_mutex_lock(&n->lock);
    int rc = 0;
    if (!jobs_current(&n->jobs) || n->tip_changed || n->mempool_changed)
        rc = make_job(n);
    if (rc == 0)
        jobs_put_pairs(jobs_current(&n->jobs), out);
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
 * coins it spends (store snapshots take no lock), so HTTP threads check them in
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
    store_read_t *r;
    if (tx_sighash(&tx, &sighash) == 0 && store_read_begin(chain_store(n->chain), &r, NULL) == 0) {
        for (size_t i = 0; i < tx.n_inputs; i++) {
            const tx_input_t *in = &tx.inputs[i];
            vpool_sig_t sig;
            store_coin_t coin;
            hash20_t coin_pkh, key_pkh;
            if (!validate_input_sig(in, &sighash, &sig) ||
                store_get_coin(r, &in->prev_txid, in->index, &coin, NULL) < 0 ||
                !script_p2pkh_hash(coin.script, coin.script_len, &coin_pkh))
                continue;
            hash_hash160(&key_pkh, sig.pubkey, KEY_PUBKEY_LEN);
            if (memcmp(key_pkh.b, coin_pkh.b, sizeof coin_pkh.b) != 0 ||
                !sigcache_verify(n->cache, sig.pubkey, sig.sig, &sig.sighash))
                break;
        }
        store_read_end(&r);
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
    mp_buf_t b;
    mp_buf_init(&b, BLOCK_MAX_SIZE + 1024);
    pthread_mutex_lock(&n->lock);
    const jobs_entry_t *j = jobs_find(&n->jobs, job_id);
    int rc = j ? jobs_assemble(j, extranonce, extranonce_len, payout, timestamp, nonce, &b, hash,
                               e)
               : err_set(e, ERR_NOT_FOUND, "job %" PRIu64 " is unknown or too old", job_id);
    if (rc == 0) {
        chain_status_t status;
        hash32_t got;
        rc = submit_block_locked(n, b.data, b.len, "miner", &status, &got, e);
        if (rc == 0 && status != CHAIN_TIP && status != CHAIN_KNOWN)
            LOGINFO("a found block went to a side branch (job %" PRIu64 " was stale)", job_id);
    }
    pthread_mutex_unlock(&n->lock);
    mp_buf_free(&b);
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
        if (n->rates[i].time && now - n->rates[i].time <= HASHRATE_TTL &&
            __builtin_add_overflow(s->hashrate, n->rates[i].rate, &s->hashrate))
            s->hashrate = UINT64_MAX; /* saturates: reports never wrap the sum to 0 */
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

size_t node_mempool_list(node_t *n, node_mempool_item_t *items, size_t max)
{
    pthread_mutex_lock(&n->lock);
    const mempool_entry_t **sel;
    size_t count, k = 0;
    if (mempool_select(n->mempool, SIZE_MAX, &sel, &count) == 0) {
        for (; k < count && k < max; k++)
            items[k] = (node_mempool_item_t){sel[k]->txid, sel[k]->len, sel[k]->fee};
        free(sel);
    }
    pthread_mutex_unlock(&n->lock);
    return k;
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

int node_peers_copy(node_t *n, uint8_t **raw, size_t *len)
{
    pthread_mutex_lock(&n->lock);
    *len = n->peers_raw ? n->peers_len : 0;
    *raw = malloc(*len ? *len : 1);
    if (*raw)
        memcpy(*raw, n->peers_raw ? n->peers_raw : (uint8_t *)"", *len);
    pthread_mutex_unlock(&n->lock);
    return *raw ? 0 : -1;
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
    jobs_init(&n->jobs);
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
    chain_hooks_t hooks = {.connected = on_connected, .disconnected = on_disconnected, .ctx = n};
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
    jobs_free(&n->jobs);
    mp_buf_free(&n->readd);
    free(n->peers_raw);
    pthread_mutex_destroy(&n->lock);
    free(n);
    *np = NULL;
}
