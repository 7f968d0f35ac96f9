#include "node.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "hex.h"
#include "clock.h"
#include "log.h"
#include "parking.h"
#include "phase.h"
#include "proto.h"
#include "script.h"

#define NODE_MAX_WORKERS 64     /* miners whose rate is remembered */
#define HASHRATE_TTL 120        /* seconds a rate report counts */
#define JOB_INTERVAL_MS 1000    /* mempool-driven jobs at most once a second */
#define DROPS_LOGGED 20         /* start-up drops logged one by one; then counted */

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
    node_publish_fn listen;
    void *listen_ctx;
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
    char mempool_path[4096]; /* the legacy mempool.dat, imported once */
    journal_t *journal;
    hash32_t *evicted; /* by the admission under way, for their deletes */
    size_t n_evicted, cap_evicted;
    mp_buf_t encoding; /* a disconnected transaction's, for its record */
    parking_t parked;  /* acknowledged children waiting for a parent to confirm */
    parking_t cands;   /* refused for a coin not confirmed: to park or to drop */
    hash32_t pushed[PARKING_MAX_COUNT]; /* what a parking_add() pushed out */
    uint64_t phase_ns[NODE_PHASES], phase_txs; /* cfg.phases: node_phases() */
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
    if (n->listen && mp_buf_ok(b))
        n->listen(n->listen_ctx, proto_topic_name(topic), b->data, b->len);
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

/* Inside a block's write (chain_hooks_t.writing): a connect takes out the
 * records of what the block confirms and of the pooled transactions it
 * conflicts with; a disconnect puts its transactions back (the readmission
 * that follows drops those the new branch makes invalid). So a transaction
 * is confirmed or pending at every commit, never neither. */
typedef struct {
    store_write_t *w;
    int rc;
    err_t *e;
} unrecord_t;

static void unrecord(void *ctx, const mempool_entry_t *x)
{
    unrecord_t *u = ctx;
    if (u->rc == 0)
        u->rc = store_del_mempool(u->w, &x->txid, NULL, u->e);
}

static int on_writing(void *ctx, store_write_t *w, const block_t *b, const chain_entry_t *entry,
                      bool connect, err_t *e)
{
    node_t *n = ctx;
    (void)entry;
    unrecord_t u = {w, 0, e};
    for (size_t i = 0; connect && u.rc == 0 && i < b->n_txs; i++)
        u.rc = store_del_mempool(w, &b->txids[i], NULL, e);
    if (connect) {
        mempool_block_spenders(n->mempool, b, unrecord, &u);
        return u.rc;
    }
    store_mempool_rec_t rec = {0, clock_unix(), NULL, 0};
    for (size_t i = 1; u.rc == 0 && i < b->n_txs; i++) {
        mp_buf_reset(&n->encoding);
        if (tx_encode(&b->txs[i], &n->encoding, false) < 0)
            return err_set(e, ERR_INTERNAL, "out of memory encoding a transaction");
        rec.raw = n->encoding.data;
        rec.len = n->encoding.len;
        u.rc = store_put_mempool(w, &b->txids[i], &rec, e);
    }
    return u.rc;
}

/* An admission evicts: its deletes are queued once it is through. */
static void on_evicted(void *ctx, const mempool_entry_t *x)
{
    node_t *n = ctx;
    if (n->n_evicted == n->cap_evicted) {
        size_t cap = n->cap_evicted ? 2 * n->cap_evicted : 64;
        hash32_t *p = realloc(n->evicted, cap * sizeof *p);
        if (!p) { /* out of memory: queue it now, at worst costing the newcomer its room */
            (void)journal_delete(n->journal, &x->txid);
            return;
        }
        n->evicted = p;
        n->cap_evicted = cap;
    }
    n->evicted[n->n_evicted++] = x->txid;
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

/* Admits a transaction into the in-memory pool (the lock held, or node_open
 * alone) with meta. */
static int admit(node_t *n, const uint8_t *raw, size_t len, const mempool_meta_t *meta,
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
                        n->cfg.params->coinbase_maturity, n->cache, meta, txid, e);
    if (rc == -(int)ERR_UNKNOWN_UTXO) {
        tx_t tx;
        if (tx_decode(&tx, raw, len, NULL) == 0) {
            rc = explain_missing(r, &tx, e);
            tx_free(&tx);
        }
    }
    store_read_end(&r);
    return rc;
}

/* admit(), then the journal: the put of its record (unless it has one
 * already: record false, for what comes back from the store or from a
 * disconnected block) and the deletes of what it evicted, the last of
 * which is *ticket; then its event. A full journal refuses it before
 * anything changes. */
static int accept_tx(node_t *n, const uint8_t *raw, size_t len, const char *origin,
                     const mempool_meta_t *meta, bool record, hash32_t *txid, uint64_t *ticket,
                     err_t *e)
{
    *ticket = 0;
    n->n_evicted = 0;
    int rc = record ? journal_room(n->journal, len, e) : 0;
    if (rc == 0)
        rc = admit(n, raw, len, meta, txid, e);
    if (rc == 0 && record) {
        store_mempool_rec_t rec = {meta->flags, meta->arrival, raw, len};
        rc = journal_put(n->journal, txid, &rec, ticket, e);
        if (rc < 0) /* out of memory: the pool must not hold what the table lacks */
            mempool_remove(n->mempool, txid);
    }
    for (size_t i = 0; i < n->n_evicted; i++) {
        uint64_t seq = journal_delete(n->journal, &n->evicted[i]);
        if (rc == 0)
            *ticket = seq;
    }
    n->n_evicted = 0;
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

/* --- parking (parking.h) -------------------------------------------------- */

/* Whether a transaction is confirmed on the main chain. */
static bool confirmed(node_t *n, const hash32_t *txid)
{
    store_read_t *r;
    store_tx_loc_t loc;
    if (store_read_begin(chain_store(n->chain), &r, NULL) < 0)
        return false;
    bool yes = store_find_tx(r, txid, &loc, NULL) == 0;
    store_read_end(&r);
    return yes;
}

/* Whether the encoding spends an output of a pooled or parked transaction. */
static bool waits_for_parent(node_t *n, const uint8_t *raw, size_t len)
{
    tx_t tx;
    if (tx_decode(&tx, raw, len, NULL) < 0)
        return false;
    bool waits = false;
    for (size_t i = 0; i < tx.n_inputs && !waits; i++) {
        const hash32_t *parent = &tx.inputs[i].prev_txid;
        waits = mempool_get(n->mempool, parent) || parking_get(&n->parked, parent);
    }
    tx_free(&tx);
    return waits;
}

/* An acknowledged transaction leaves for good: its record goes too. */
static void unpark_drop(node_t *n, const hash32_t *txid, const char *why)
{
    char hex[65];
    hex_encode(hex, txid->b, 32);
    log_limited(LOG_INFO, "parked drop", "mempool: %s dropped: %s", hex, why);
    (void)journal_delete(n->journal, txid);
}

/* Adds to set (n->parked or n->cands); what the bound pushes out is dropped. */
static void park_into(node_t *n, parking_t *set, const hash32_t *txid, const uint8_t *raw,
                      size_t len, uint8_t flags, uint64_t arrival)
{
    size_t k;
    if (parking_add(set, txid, raw, len, flags, arrival, n->pushed, &k) < 0) {
        unpark_drop(n, txid, "no room to park it (out of memory)");
        return;
    }
    for (size_t i = 0; i < k; i++)
        unpark_drop(n, &n->pushed[i], "pushed out of the parked set by newer ones (its bound)");
}

/* The candidates park when they spend a pooled or parked transaction's
 * output (again until none moves: a grandchild may come before its parent);
 * the others stay in n->cands for the caller to drop. The parked count is
 * returned. */
static size_t settle_candidates(node_t *n)
{
    size_t parked = 0;
    for (bool moved = true; moved;) {
        moved = false;
        for (size_t i = 0; i < n->cands.n;) {
            parking_entry_t c = n->cands.v[i];
            if (!waits_for_parent(n, c.raw, c.len)) {
                i++;
                continue;
            }
            park_into(n, &n->parked, &c.txid, c.raw, c.len, c.flags, c.arrival);
            parking_remove(&n->cands, &c.txid);
            parked++;
            moved = true;
        }
    }
    return parked;
}

#define NO_PARENT "it spends a coin that is not confirmed, of no transaction the node holds"

/* After a block: the parked are offered to the pool again, in the order
 * they came; one whose parent is still pending keeps waiting. */
static void retry_parked(node_t *n)
{
    size_t admitted = 0, gone = 0;
    for (size_t i = 0; i < n->parked.n;) {
        parking_entry_t x = n->parked.v[i];
        mempool_meta_t meta = {x.flags, x.arrival, false};
        hash32_t txid;
        uint64_t ticket;
        err_t e;
        int rc = accept_tx(n, x.raw, x.len, "parked", &meta, false, &txid, &ticket, &e);
        if (rc == -(int)ERR_UNKNOWN_UTXO && waits_for_parent(n, x.raw, x.len)) {
            i++;
            continue;
        }
        if (rc == 0)
            admitted++;
        else if (!confirmed(n, &x.txid)) { /* confirmed: its block took its record */
            unpark_drop(n, &x.txid, e.message);
            gone++;
        }
        parking_remove(&n->parked, &x.txid);
    }
    if (admitted || gone)
        LOGINFO("parked: %zu back in the mempool, %zu dropped, %zu still waiting for a parent",
                admitted, gone, n->parked.n);
}

/* After blocks left the main chain: the mempool transactions that spend a
 * coin the new main chain does not have (an output of a disconnected
 * transaction, a vanished coinbase) become candidates to park; those that
 * spend a coinbase not yet mature are dropped. */
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
    size_t immature = 0;
    for (size_t i = 0; i < count; i++) {
        const mempool_entry_t *x = all[i];
        for (size_t j = 0; j < x->tx.n_inputs; j++) {
            store_coin_t coin;
            bool missing = store_get_coin(r, &x->tx.inputs[j].prev_txid, x->tx.inputs[j].index,
                                          &coin, NULL) < 0;
            if (!missing && !(coin.coinbase && next_height < coin.height + maturity))
                continue;
            if (missing) {
                park_into(n, &n->cands, &x->txid, x->raw, x->len, x->flags, x->arrival);
            } else {
                (void)journal_delete(n->journal, &x->txid);
                immature++;
            }
            gone[n_gone++] = x->txid;
            break;
        }
    }
    store_read_end(&r);
    free(all);
    for (size_t i = 0; i < n_gone; i++)
        mempool_remove(n->mempool, &gone[i]);
    free(gone);
    if (n_gone) {
        n->mempool_changed = true;
        LOGINFO("reorganisation: %zu mempool transaction(s) spent coins no longer confirmed "
                "(%zu of them an immature coinbase: dropped)", n_gone, immature);
    }
}

/* Offers the transactions of disconnected blocks to the mempool again; those
 * refused for a coin not confirmed join the candidates to park. */
static void readmit(node_t *n)
{
    size_t pos = 0, back = 0, known = 0, dropped = 0;
    while (n->readd.len - pos >= 4) {
        const uint8_t *p = n->readd.data + pos;
        size_t len = (size_t)bytes_get_le(p, 4);
        if (len > n->readd.len - pos - 4)
            break;
        hash32_t txid;
        uint64_t ticket;
        err_t e;
        mempool_meta_t meta = {0, clock_unix(), false};
        /* its record came back in the disconnect's write */
        int rc = accept_tx(n, p + 4, len, "reorg", &meta, false, &txid, &ticket, &e);
        if (rc < 0) {
            hash_sha256d(&txid, p + 4, len);
            if (confirmed(n, &txid)) {
                known++; /* the new branch has it; its block took the record */
            } else if (rc == -(int)ERR_UNKNOWN_UTXO) {
                park_into(n, &n->cands, &txid, p + 4, len, 0, meta.arrival);
            } else {
                (void)journal_delete(n->journal, &txid);
                dropped++;
            }
        }
        back += rc == 0;
        pos += 4 + len;
    }
    mp_buf_reset(&n->readd);
    size_t parked = settle_candidates(n);
    for (size_t i = 0; i < n->cands.n; i++)
        unpark_drop(n, &n->cands.v[i].txid, NO_PARENT);
    dropped += n->cands.n;
    parking_free(&n->cands);
    if (back || known || parked || dropped)
        LOGINFO("reorganisation: %zu transaction(s) back in the mempool, %zu already "
                "confirmed, %zu parked, %zu dropped", back, known, parked, dropped);
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
    /* not ms - last_job_ms: a reading older than the last job (taken before
     * the lock while another thread made one) would wrap to a huge age */
    if (n->tip_changed || (n->mempool_changed && ms >= n->last_job_ms + JOB_INTERVAL_MS))
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
    if (n->readd.len || n->cands.n)
        readmit(n);
    if (n->tip_changed && n->parked.n)
        retry_parked(n);
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
    uint64_t t = phase_start(n->cfg.phases);
    int decoded = tx_decode(&tx, raw, len, NULL);
    t = phase_stop(n->cfg.phases, &n->phase_ns[NODE_PHASE_DECODE], t);
    if (decoded < 0)
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
    (void)phase_stop(n->cfg.phases, &n->phase_ns[NODE_PHASE_SIGNATURES], t);
}

int node_submit_tx(node_t *n, const uint8_t *raw, size_t len, const char *origin, uint8_t flags,
                   hash32_t *txid, uint64_t *ticket, err_t *e)
{
    bool on = n->cfg.phases;
    precheck_sigs(n, raw, len);
    mempool_meta_t meta = {flags, clock_unix(), true};
    uint64_t t = phase_start(on);
    pthread_mutex_lock(&n->lock);
    t = phase_stop(on, &n->phase_ns[NODE_PHASE_LOCK_WAIT], t);
    memset(txid, 0, sizeof *txid);
    int rc = accept_tx(n, raw, len, origin, &meta, true, txid, ticket, e);
    if (rc == -(int)ERR_KNOWN)
        *ticket = journal_last(n->journal);
    (void)phase_stop(on, &n->phase_ns[NODE_PHASE_ACCEPT], t);
    pthread_mutex_unlock(&n->lock);
    phase_count(on, &n->phase_txs, 1);
    return rc;
}

uint64_t node_durable(node_t *n) { return journal_durable(n->journal); }
void node_wait_durable(node_t *n, uint64_t ticket) { journal_wait(n->journal, ticket); }

int node_subscribe_durable(node_t *n, journal_notify_fn fn, void *ctx)
{
    return journal_subscribe(n->journal, fn, ctx);
}

void node_unsubscribe_durable(node_t *n, int handle) { journal_unsubscribe(n->journal, handle); }

int node_settle_tx(node_t *n, const hash32_t *txid, err_t *e)
{
    pthread_mutex_lock(&n->lock);
    bool pooled = mempool_get(n->mempool, txid) != NULL;
    pthread_mutex_unlock(&n->lock);
    store_read_t *r;
    store_tx_loc_t loc;
    int rc = pooled ? 0 : store_read_begin(chain_store(n->chain), &r, e);
    if (pooled || rc < 0)
        return rc;
    rc = store_find_tx(r, txid, &loc, e);
    store_read_end(&r);
    if (rc == -(int)ERR_NOT_FOUND)
        return err_set(e, ERR_DOUBLE_SPEND, "the transaction left the mempool before it was "
                       "stored (a block spent one of its coins, or higher fee rates evicted it)");
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
    s->mempool_unbroadcast = mempool_unbroadcast_count(n->mempool);
    s->mempool_parked = parking_count(&n->parked);
    s->peers = n->peers_count;
    s->orphans = chain_orphan_count(n->chain);
    s->hashrate = 0;
    for (int i = 0; i < NODE_MAX_WORKERS; i++)
        /* not now - time: a report made after `now` was read would wrap */
        if (n->rates[i].time && n->rates[i].time + HASHRATE_TTL >= now &&
            __builtin_add_overflow(s->hashrate, n->rates[i].rate, &s->hashrate))
            s->hashrate = UINT64_MAX; /* saturates: reports never wrap the sum to 0 */
    pthread_mutex_unlock(&n->lock);
    sigcache_stats(n->cache, &s->sigcache_hits, &s->sigcache_misses, &s->sigcache_entries);
    journal_stats(n->journal, &s->journal);
    node_phases(n, &s->phases);
}

static const char *const node_phase_names[NODE_PHASES] = {
    [NODE_PHASE_DECODE] = "decode", [NODE_PHASE_SIGNATURES] = "signatures",
    [NODE_PHASE_LOCK_WAIT] = "lock_wait", [NODE_PHASE_ACCEPT] = "accept",
    [NODE_PHASE_DURABLE] = "durable",
};

const char *node_phase_name(node_phase_t p) { return p < NODE_PHASES ? node_phase_names[p] : "?"; }

void node_phases(node_t *n, node_phases_t *out)
{
    memset(out, 0, sizeof *out);
    out->on = n->cfg.phases;
    if (!out->on)
        return;
    for (int i = 0; i < NODE_PHASES; i++)
        out->ns[i] = phase_read(&n->phase_ns[i]);
    out->txs = phase_read(&n->phase_txs);
    journal_stats(n->journal, &out->journal);
    out->ns[NODE_PHASE_DURABLE] = out->journal.put_wait_ns;
}

int node_headers_after(node_t *n, const hash32_t *locator, size_t n_locator, size_t max,
                       uint8_t **out, size_t *count)
{
    pthread_mutex_lock(&n->lock);
    int rc = chain_headers_after(n->chain, locator, n_locator, max, out, count);
    pthread_mutex_unlock(&n->lock);
    return rc;
}

int node_mempool_tx(node_t *n, const hash32_t *txid, uint8_t **raw, size_t *len, bool *parked)
{
    pthread_mutex_lock(&n->lock);
    const mempool_entry_t *x = mempool_get(n->mempool, txid);
    const parking_entry_t *p = x ? NULL : parking_get(&n->parked, txid);
    const uint8_t *bytes = x ? x->raw : p ? p->raw : NULL;
    size_t size = x ? x->len : p ? p->len : 0;
    int rc = -1;
    if (bytes && (*raw = malloc(size ? size : 1)) != NULL) {
        memcpy(*raw, bytes, size);
        *len = size;
        if (parked)
            *parked = p != NULL;
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
            items[k] = (node_mempool_item_t){sel[k]->txid, sel[k]->len, sel[k]->fee,
                                             (sel[k]->flags & STORE_MEMPOOL_UNBROADCAST) != 0,
                                             sel[k]->arrival};
        free(sel);
    }
    pthread_mutex_unlock(&n->lock);
    return k;
}

size_t node_unbroadcast(node_t *n, hash32_t *txids, size_t max)
{
    pthread_mutex_lock(&n->lock);
    size_t k = mempool_unbroadcast_list(n->mempool, txids, max);
    pthread_mutex_unlock(&n->lock);
    return k;
}

size_t node_mempool_txids(node_t *n, hash32_t *txids, size_t max)
{
    pthread_mutex_lock(&n->lock);
    size_t k = mempool_best(n->mempool, txids, max);
    pthread_mutex_unlock(&n->lock);
    return k;
}

int node_mark_broadcast(node_t *n, const hash32_t *txids, size_t count, uint64_t *ticket,
                        err_t *e)
{
    if (count > NODE_UNBROADCAST_MAX)
        return err_set(e, ERR_TOO_LARGE, "at most %d txids at once", NODE_UNBROADCAST_MAX);
    int rc = 0;
    *ticket = 0;
    pthread_mutex_lock(&n->lock);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const mempool_entry_t *x = mempool_get(n->mempool, &txids[i]);
        if (!x || !(x->flags & STORE_MEMPOOL_UNBROADCAST))
            continue;
        uint8_t flags = x->flags & ~STORE_MEMPOOL_UNBROADCAST;
        if ((rc = journal_set_flags(n->journal, &txids[i], flags, ticket, e)) == 0)
            (void)mempool_set_flags(n->mempool, &txids[i], flags);
    }
    pthread_mutex_unlock(&n->lock);
    return rc;
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
    if (len)
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

/* Start-up drops, logged one by one up to DROPS_LOGGED, then counted by
 * rule for one summary line. */
typedef struct {
    size_t n;
    size_t by_code[ERR_COUNT_];
} drops_t;

static void drop_logged(node_t *n, drops_t *d, const char *what, const hash32_t *txid,
                        const err_t *why)
{
    char hex[65];
    hex_encode(hex, txid->b, 32);
    if (d->n++ < DROPS_LOGGED)
        LOGWARN("mempool: %s %s dropped: %s: %s", what, hex, err_str(why->code), why->message);
    else
        d->by_code[(unsigned)why->code < ERR_COUNT_ ? why->code : ERR_INTERNAL]++;
    (void)journal_delete(n->journal, txid);
}

static void drops_summary(const drops_t *d)
{
    if (d->n <= DROPS_LOGGED)
        return;
    char rules[512];
    size_t pos = 0;
    rules[0] = '\0';
    for (int c = 0; c < ERR_COUNT_ && pos < sizeof rules; c++)
        if (d->by_code[c])
            pos += (size_t)snprintf(rules + pos, sizeof rules - pos, "%s%s %zu", pos ? ", " : "",
                                    err_str((err_code_t)c), d->by_code[c]);
    LOGWARN("mempool: %zu more stored transaction(s) dropped, by rule: %s", d->n - DROPS_LOGGED,
            rules);
}

/* Start-up writes many records at once: past the journal's bound, each
 * waits for the commit that makes room. */
static void wait_room(journal_t *j, size_t len)
{
    if (journal_room(j, len, NULL) < 0)
        journal_wait(j, journal_last(j));
}

/* A record of the table, admitted again against the tip. */
static void readmit_record(node_t *n, drops_t *d, const hash32_t *txid,
                           const store_mempool_rec_t *rec)
{
    hash32_t got;
    uint64_t ticket;
    err_t e;
    mempool_meta_t meta = {rec->flags, rec->arrival, false};
    hash_sha256d(&got, rec->raw, rec->len);
    if (!hash32_eq(&got, txid))
        drop_logged(n, d, "record", txid,
                    &(err_t){ERR_BAD_ENCODING, "the record is not its key's transaction"});
    else if (accept_tx(n, rec->raw, rec->len, "store", &meta, false, &got, &ticket, &e) == 0)
        return;
    else if (e.code == ERR_UNKNOWN_UTXO) /* a child whose parent may come later in the table */
        park_into(n, &n->cands, txid, rec->raw, rec->len, rec->flags, rec->arrival);
    else
        drop_logged(n, d, "stored transaction", txid, &e);
}

/* The mempool table, read back into the pool. A table that cannot be read
 * is emptied; what was read of it is put back. */
static void load_records(node_t *n, drops_t *d)
{
    store_read_t *r;
    store_iter_t *it = NULL;
    hash32_t txid;
    store_mempool_rec_t rec;
    err_t e;
    int rc = store_read_begin(chain_store(n->chain), &r, &e);
    if (rc == 0)
        rc = store_iter_mempool(r, &it, &e);
    while (rc == 0 && (rc = store_next_mempool(it, &txid, &rec, &e)) != 0) {
        if (rc == 1)
            readmit_record(n, d, &txid, &rec);
        else if (rc == -(int)ERR_BAD_ENCODING)
            drop_logged(n, d, "unreadable record", &txid, &e);
        else
            break;
        rc = 0;
    }
    store_iter_end(&it);
    store_read_end(&r);
    if (rc == 0)
        return;
    LOGERR("mempool: the stored mempool cannot be read, emptying it: %s", e.message);
    store_write_t *w;
    if ((rc = store_write_begin(chain_store(n->chain), &w, &e)) == 0)
        rc = store_write_end(&w, store_clear_mempool(w, &e), &e);
    if (rc < 0)
        LOGERR("mempool: the stored mempool could not be emptied: %s", e.message);
    const mempool_entry_t **all;
    size_t count;
    if (mempool_select(n->mempool, SIZE_MAX, &all, &count) < 0)
        return;
    for (size_t i = 0; i < count; i++) {
        store_mempool_rec_t back = {all[i]->flags, all[i]->arrival, all[i]->raw, all[i]->len};
        uint64_t seq;
        wait_room(n->journal, all[i]->len);
        if (journal_put(n->journal, &all[i]->txid, &back, &seq, &e) < 0)
            LOGERR("mempool: %s", e.message);
    }
    free(all);
}

typedef struct {
    node_t *n;
    drops_t *d;
    size_t taken;
} legacy_t;

static void take_legacy(void *ctx, const uint8_t *raw, size_t len)
{
    legacy_t *l = ctx;
    journal_t *j = l->n->journal;
    hash32_t txid;
    uint64_t ticket;
    err_t e;
    mempool_meta_t meta = {0, clock_unix(), false};
    wait_room(j, len);
    if (accept_tx(l->n, raw, len, "saved", &meta, true, &txid, &ticket, &e) == 0)
        l->taken++;
    else if (e.code != ERR_KNOWN) /* known: an import that a crash cut short */
        drop_logged(l->n, l->d, "saved transaction", &txid, &e);
}

/* A mempool.dat of an older chaind: its transactions admitted durably, then
 * the file removed, so it is read once. */
static void import_legacy(node_t *n, drops_t *d)
{
    legacy_t l = {n, d, 0};
    err_t e;
    if (access(n->mempool_path, F_OK) != 0)
        return;
    if (mempool_load(n->mempool_path, n->cfg.mempool_max_bytes, take_legacy, &l, &e) < 0)
        LOGWARN("mempool: the legacy %s was only partly read: %s", n->mempool_path, e.message);
    journal_wait(n->journal, journal_last(n->journal));
    if (unlink(n->mempool_path) != 0)
        LOGWARN("mempool: cannot remove %s: %s", n->mempool_path, strerror(errno));
    else
        LOGINFO("mempool: %zu transaction(s) imported from %s, which is removed", l.taken,
                n->mempool_path);
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
    mp_buf_init(&n->encoding, TX_MAX_SIZE);
    n->cache = sigcache_new(cfg->sigcache_entries);
    n->mempool = mempool_new(cfg->mempool_max_bytes, cfg->min_fee_rate);
    int rc = !n->cache || !n->mempool ? err_set(e, ERR_INTERNAL, "out of memory") : 0;
    if (rc == 0 && snprintf(n->mempool_path, sizeof n->mempool_path, "%s/mempool.dat",
                            cfg->datadir) >= (int)sizeof n->mempool_path)
        rc = err_set(e, ERR_INTERNAL, "data directory path too long");
    chain_hooks_t hooks = {.connected = on_connected, .disconnected = on_disconnected,
                           .writing = on_writing, .ctx = n};
    if (rc == 0) {
        mempool_set_evict_hook(n->mempool, on_evicted, n);
        rc = chain_open(&n->chain, cfg->params, cfg->datadir, cfg->map_size,
                        cfg->verify_threads, n->cache, &hooks, e);
    }
    if (rc == 0)
        rc = journal_open(&n->journal, chain_store(n->chain), cfg->journal_max_ops, 0, e);
    if (rc < 0) {
        node_close(&n);
        return rc;
    }
    /* blocks a finished reorganisation disconnected: their records are back,
     * and load_records() admits them with the rest */
    mp_buf_reset(&n->readd);
    n->disconnected = false;
    drops_t d = {0};
    load_records(n, &d);
    import_legacy(n, &d);
    size_t parked = settle_candidates(n);
    for (size_t i = 0; i < n->cands.n; i++)
        drop_logged(n, &d, "stored transaction", &n->cands.v[i].txid,
                    &(err_t){ERR_UNKNOWN_UTXO, NO_PARENT});
    parking_free(&n->cands);
    drops_summary(&d);
    if (parked)
        LOGINFO("mempool: %zu stored transaction(s) parked until a parent confirms", parked);
    journal_wait(n->journal, journal_last(n->journal)); /* the drops on disk too */
    if (cfg->phases) { /* nothing queued now, as journal_time() wants */
        chain_phases_enable(n->chain, true);
        journal_time(n->journal, true);
    }
    if (mempool_count(n->mempool))
        LOGINFO("mempool: %zu stored transaction(s) still valid", mempool_count(n->mempool));
    *out = n;
    return 0;
}

void node_close(node_t **np)
{
    node_t *n = *np;
    if (!n)
        return;
    journal_close(&n->journal);
    chain_close(&n->chain);
    mempool_destroy(&n->mempool);
    sigcache_destroy(&n->cache);
    jobs_free(&n->jobs);
    mp_buf_free(&n->readd);
    mp_buf_free(&n->encoding);
    parking_free(&n->parked);
    parking_free(&n->cands);
    free(n->evicted);
    free(n->peers_raw);
    pthread_mutex_destroy(&n->lock);
    free(n);
    *np = NULL;
}

/* --- the explorer's queries ------------------------------------------------ */

void node_set_listener(node_t *n, node_publish_fn fn, void *ctx)
{
    pthread_mutex_lock(&n->lock);
    n->listen = fn;
    n->listen_ctx = ctx;
    pthread_mutex_unlock(&n->lock);
}

int node_mempool_spender(node_t *n, const hash32_t *txid, uint32_t index, hash32_t *spender,
                         uint32_t *input)
{
    pthread_mutex_lock(&n->lock);
    const mempool_entry_t *x = mempool_spender(n->mempool, txid, index);
    for (size_t i = 0; x && i < x->tx.n_inputs; i++)
        if (x->tx.inputs[i].index == index && hash32_eq(&x->tx.inputs[i].prev_txid, txid)) {
            *spender = x->txid;
            *input = (uint32_t)i;
        }
    pthread_mutex_unlock(&n->lock);
    return x ? 0 : -1;
}

size_t node_mempool_recent(node_t *n, node_mempool_item_t *items, size_t max)
{
    uint64_t seqs[NODE_RECENT_MAX];
    size_t k = 0, pos = 0;
    max = max < NODE_RECENT_MAX ? max : NODE_RECENT_MAX;
    pthread_mutex_lock(&n->lock);
    for (const mempool_entry_t *x; max && (x = mempool_next(n->mempool, &pos)) != NULL;) {
        if (k == max && x->seq < seqs[k - 1])
            continue;
        /* insertion into the newest-first list: rarely past the first entries */
        size_t at = k < max ? k++ : max - 1;
        for (; at > 0 && seqs[at - 1] < x->seq; at--) {
            seqs[at] = seqs[at - 1];
            items[at] = items[at - 1];
        }
        seqs[at] = x->seq;
        items[at] = (node_mempool_item_t){x->txid, x->len, x->fee,
                                          (x->flags & STORE_MEMPOOL_UNBROADCAST) != 0,
                                          x->arrival};
    }
    pthread_mutex_unlock(&n->lock);
    return k;
}

void node_mempool_histogram(node_t *n, const uint64_t *edges, size_t n_edges, uint64_t *count,
                            uint64_t *bytes)
{
    memset(count, 0, n_edges * sizeof *count);
    memset(bytes, 0, n_edges * sizeof *bytes);
    size_t pos = 0;
    pthread_mutex_lock(&n->lock);
    for (const mempool_entry_t *x; n_edges && (x = mempool_next(n->mempool, &pos)) != NULL;) {
        size_t b = n_edges - 1; /* rate >= edges[b]: fee >= edges[b] * len, without division */
        while (b > 0 && (unsigned __int128)x->fee < (unsigned __int128)edges[b] * x->len)
            b--;
        count[b]++;
        bytes[b] += x->len;
    }
    pthread_mutex_unlock(&n->lock);
}

static int newest_first(const void *a, const void *b)
{
    uint64_t x = ((const node_address_tx_t *)a)->seq, y = ((const node_address_tx_t *)b)->seq;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Appends t to the growing list *list (*len of *cap): -1 when memory runs
 * out. */
static int address_tx_push(node_address_tx_t **list, size_t *len, size_t *cap,
                           const node_address_tx_t *t)
{
    if (*len == *cap) {
        size_t cap2 = *cap ? 2 * *cap : 64;
        node_address_tx_t *p = realloc(*list, cap2 * sizeof *p);
        if (!p)
            return -1;
        *list = p;
        *cap = cap2;
    }
    (*list)[(*len)++] = *t;
    return 0;
}

/* Under the lock: the entries before before_seq that pay pkh (lock, its
 * P2PKH script) or spend one of coins, one record each way, into *list. */
static int address_matches(node_t *n, const uint8_t *lock, const store_outpoint_t *coins,
                           const amount_t *amounts, size_t n_coins, uint64_t before_seq,
                           node_address_tx_t **list, size_t *len)
{
    size_t pos = 0, cap = 0;
    int rc = 0;
    for (const mempool_entry_t *x; rc == 0 && (x = mempool_next(n->mempool, &pos)) != NULL;) {
        node_address_tx_t t = {x->txid, x->seq, 0, 0};
        for (size_t j = 0; x->seq < before_seq && j < x->tx.n_outputs; j++)
            if (x->tx.outputs[j].script_len == SCRIPT_P2PKH_LOCK_LEN &&
                memcmp(x->tx.outputs[j].script, lock, SCRIPT_P2PKH_LOCK_LEN) == 0)
                t.received += x->tx.outputs[j].amount; /* below max money: it was admitted */
        if (t.received)
            rc = address_tx_push(list, len, &cap, &t);
    }
    for (size_t i = 0; rc == 0 && i < n_coins; i++) {
        const mempool_entry_t *x = mempool_spender(n->mempool, &coins[i].txid, coins[i].index);
        if (x && x->seq < before_seq)
            rc = address_tx_push(list, len, &cap,
                                 &(node_address_tx_t){x->txid, x->seq, 0, amounts[i]});
    }
    return rc;
}

size_t node_mempool_address(node_t *n, const hash20_t *pkh, const store_outpoint_t *coins,
                            const amount_t *amounts, size_t n_coins, uint64_t before_seq,
                            node_address_tx_t *out, size_t max, bool *more)
{
    uint8_t lock[SCRIPT_P2PKH_LOCK_LEN];
    script_p2pkh_lock(lock, pkh);
    node_address_tx_t *list = NULL;
    size_t len = 0, k = 0;
    pthread_mutex_lock(&n->lock);
    int rc = address_matches(n, lock, coins, amounts, n_coins, before_seq, &list, &len);
    pthread_mutex_unlock(&n->lock);
    /* one transaction's records side by side, then summed */
    if (len)
        qsort(list, len, sizeof *list, newest_first);
    *more = false;
    for (size_t i = 0; rc == 0 && i < len; i++) {
        if (k > 0 && out[k - 1].seq == list[i].seq) {
            out[k - 1].received += list[i].received;
            out[k - 1].sent += list[i].sent;
        } else if (k == max) {
            *more = true;
            break;
        } else {
            out[k++] = list[i];
        }
    }
    free(list);
    return rc == 0 ? k : 0;
}
