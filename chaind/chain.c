#include "chain.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "hex.h"
#include "hmap.h"
#include "log.h"
#include "pow.h"
#include "script.h"

typedef struct {
    hash32_t hash, prev;
    uint8_t *data;
    size_t len;
    uint64_t seq; /* arrival order: the oldest is evicted first */
} orphan_t;

struct chain {
    const chain_params_t *params;
    store_t store;
    hmap_t *index; /* hash -> chain_entry_t* */
    chain_entry_t **main;
    size_t main_len, main_cap;
    hmap_t *orphans; /* hash -> orphan_t* */
    size_t orphan_bytes;
    uint64_t orphan_seq;
    vpool_t *pool;
    sigcache_t *cache;
    chain_hooks_t hooks;
};

static const char tip_key[] = "tip";

/* --- small helpers ------------------------------------------------------ */

static int lmdb_fail(err_t *e, const char *what, int rc)
{
    return err_set(e, ERR_INTERNAL, "store: %s: %s", what, mdb_strerror(rc));
}

static int main_push(chain_t *c, chain_entry_t *entry)
{
    if (c->main_len == c->main_cap) {
        size_t cap = c->main_cap ? c->main_cap * 2 : 1024;
        chain_entry_t **m = realloc(c->main, cap * sizeof *m);
        if (!m)
            return -1;
        c->main = m;
        c->main_cap = cap;
    }
    c->main[c->main_len++] = entry;
    return 0;
}

const chain_params_t *chain_params(const chain_t *c) { return c->params; }
store_t *chain_store(chain_t *c) { return &c->store; }
const chain_entry_t *chain_tip(const chain_t *c) { return c->main[c->main_len - 1]; }
size_t chain_orphan_count(const chain_t *c) { return hmap_count(c->orphans); }
void chain_set_hooks(chain_t *c, const chain_hooks_t *hooks) { c->hooks = *hooks; }

const chain_entry_t *chain_at(const chain_t *c, uint64_t height)
{
    return height < c->main_len ? c->main[height] : NULL;
}

const chain_entry_t *chain_lookup(const chain_t *c, const hash32_t *hash)
{
    return hmap_get(c->index, hash->b);
}

bool chain_is_main(const chain_t *c, const chain_entry_t *entry)
{
    return entry->height < c->main_len && c->main[entry->height] == entry;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

uint64_t chain_median_time(const chain_entry_t *entry)
{
    uint64_t times[11];
    size_t n = 0;
    for (; entry && n < 11; entry = entry->parent)
        times[n++] = entry->header.timestamp;
    qsort(times, n, sizeof times[0], cmp_u64);
    return times[n / 2];
}

static const chain_entry_t *ancestor(const chain_entry_t *entry, uint64_t height)
{
    while (entry && entry->height > height)
        entry = entry->parent;
    return entry;
}

uint32_t chain_next_bits(const chain_t *c, const chain_entry_t *parent)
{
    uint64_t height = parent->height + 1;
    uint64_t first_height = height >= c->params->retarget_interval
                                ? height - c->params->retarget_interval : 0;
    const chain_entry_t *first = ancestor(parent, first_height);
    return pow_next_bits(c->params, height, parent->header.bits, first->header.timestamp,
                         parent->header.timestamp);
}

/* --- index records ------------------------------------------------------- */

static int put_index(MDB_txn *txn, chain_t *c, const chain_entry_t *entry)
{
    store_index_rec_t rec = {entry->header, entry->height, entry->chainwork, entry->status};
    uint8_t buf[STORE_INDEX_REC_LEN];
    store_index_encode(buf, &rec);
    MDB_val k = {32, (void *)entry->hash.b}, v = {sizeof buf, buf};
    return mdb_put(txn, c->store.index, &k, &v, 0);
}

static chain_entry_t *new_entry(chain_t *c, const hash32_t *hash, const block_header_t *h,
                                chain_entry_t *parent)
{
    chain_entry_t *entry = calloc(1, sizeof *entry);
    if (!entry)
        return NULL;
    entry->hash = *hash;
    entry->header = *h;
    entry->parent = parent;
    entry->height = parent ? parent->height + 1 : 0;
    u256_t target;
    pow_compact_to_target(&target, h->bits, NULL, NULL);
    pow_work(&entry->chainwork, &target);
    if (parent)
        u256_add(&entry->chainwork, &parent->chainwork);
    if (hmap_put(c->index, hash->b, entry) < 0) {
        free(entry);
        return NULL;
    }
    return entry;
}

static int mark_invalid(chain_t *c, chain_entry_t *entry)
{
    entry->status |= STORE_INVALID;
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->store.env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    if ((rc = put_index(txn, c, entry)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* --- coins --------------------------------------------------------------- */

static int put_coin(MDB_txn *txn, chain_t *c, const uint8_t key[STORE_OUTPOINT_LEN],
                    const store_coin_t *coin, unsigned flags)
{
    uint8_t buf[17 + SCRIPT_MAX_SIZE];
    store_coin_encode(buf, coin);
    MDB_val k = {STORE_OUTPOINT_LEN, (void *)key}, v = {store_coin_size(coin), buf};
    int rc = mdb_put(txn, c->store.utxo, &k, &v, flags);
    hash20_t pkh;
    if (rc == 0 && script_p2pkh_hash(coin->script, coin->script_len, &pkh)) {
        uint8_t akey[STORE_ADDR_KEY_LEN];
        memcpy(akey, pkh.b, 20);
        memcpy(akey + 20, key, STORE_OUTPOINT_LEN);
        MDB_val ak = {sizeof akey, akey}, av = {0, ""};
        rc = mdb_put(txn, c->store.addr, &ak, &av, 0);
    }
    return rc;
}

/* Deletes a coin (and its address entry). MDB_NOTFOUND when absent. */
static int del_coin(MDB_txn *txn, chain_t *c, const uint8_t key[STORE_OUTPOINT_LEN],
                    const uint8_t *script, size_t script_len)
{
    MDB_val k = {STORE_OUTPOINT_LEN, (void *)key};
    int rc = mdb_del(txn, c->store.utxo, &k, NULL);
    hash20_t pkh;
    if (rc == 0 && script_p2pkh_hash(script, script_len, &pkh)) {
        uint8_t akey[STORE_ADDR_KEY_LEN];
        memcpy(akey, pkh.b, 20);
        memcpy(akey + 20, key, STORE_OUTPOINT_LEN);
        MDB_val ak = {sizeof akey, akey};
        rc = mdb_del(txn, c->store.addr, &ak, NULL);
    }
    return rc;
}

static int txn_get_coin(void *ctx, const hash32_t *txid, uint32_t index, store_coin_t *coin)
{
    void **args = ctx;
    return store_get_coin(args[0], args[1], txid, index, coin);
}

static int set_tip(MDB_txn *txn, chain_t *c, const hash32_t *hash)
{
    MDB_val k = {sizeof tip_key - 1, (void *)tip_key}, v = {32, (void *)hash->b};
    return mdb_put(txn, c->store.meta, &k, &v, 0);
}

static int read_block(MDB_txn *txn, chain_t *c, const hash32_t *hash, block_t *b, err_t *e)
{
    MDB_val k = {32, (void *)hash->b}, v;
    int rc = mdb_get(txn, c->store.blocks, &k, &v);
    if (rc != 0)
        return lmdb_fail(e, "reading a block", rc);
    err_t de;
    if (block_decode(b, v.mv_data, v.mv_size, &de) < 0)
        return err_set(e, ERR_INTERNAL, "store: a stored block does not decode: %s", de.message);
    return 0;
}

/* --- connect and disconnect ---------------------------------------------- */

/* Appends a spent coin to the undo record: outpoint, length, coin bytes. */
static void undo_append(mp_buf_t *undo, const uint8_t key[STORE_OUTPOINT_LEN], const MDB_val *v)
{
    uint8_t len[4];
    bytes_put_le(len, v->mv_size, 4);
    mp_put_raw(undo, key, STORE_OUTPOINT_LEN);
    mp_put_raw(undo, len, 4);
    mp_put_raw(undo, v->mv_data, v->mv_size);
}

/* Spends, creates and records everything of block b at entry in txn. */
static int apply_block(MDB_txn *txn, chain_t *c, const block_t *b, const chain_entry_t *entry,
                       mp_buf_t *undo, err_t *e)
{
    size_t n_inputs = 0;
    for (size_t i = 1; i < b->n_txs; i++)
        n_inputs += b->txs[i].n_inputs;
    script_job_t *jobs = malloc((n_inputs ? n_inputs : 1) * sizeof *jobs);
    mp_buf_t arena;
    mp_buf_init(&arena, (size_t)1 << 30);
    size_t n_jobs = 0;
    amount_t fees = 0;
    int rc = jobs ? 0 : err_set(e, ERR_INTERNAL, "out of memory connecting a block");
    void *view_args[2] = {txn, &c->store};
    coin_view_t view = {txn_get_coin, view_args};

    for (size_t i = 0; i < b->n_txs && rc == 0; i++) {
        const tx_t *tx = &b->txs[i];
        if (i > 0) {
            hash32_t sighash;
            amount_t fee;
            if (tx_sighash(tx, &sighash) < 0) {
                rc = err_set(e, ERR_INTERNAL, "out of memory hashing a transaction");
                break;
            }
            rc = validate_tx_inputs(tx, &view, entry->height, c->params->coinbase_maturity, &fee,
                                    &sighash, (uint32_t)i, jobs, &n_jobs, &arena, e);
            if (rc == 0 && !amount_add(&fees, fee))
                rc = err_set(e, ERR_BAD_AMOUNT, "fees sum over max money");
            for (size_t j = 0; j < tx->n_inputs && rc == 0; j++) {
                uint8_t key[STORE_OUTPOINT_LEN];
                store_outpoint_key(key, &tx->inputs[j].prev_txid, tx->inputs[j].index);
                MDB_val k = {sizeof key, key}, v;
                store_coin_t coin;
                int g = mdb_get(txn, c->store.utxo, &k, &v);
                if (g == MDB_NOTFOUND) /* spent by an earlier input of this block */
                    rc = err_set(e, ERR_UNKNOWN_UTXO, "transaction %zu input %zu spends an "
                                 "output already spent", i, j);
                else if (g != 0)
                    rc = lmdb_fail(e, "reading a coin", g);
                else if (store_coin_decode(&coin, v.mv_data, v.mv_size) < 0)
                    rc = err_set(e, ERR_INTERNAL, "store: a corrupt coin record");
                if (rc != 0)
                    break;
                undo_append(undo, key, &v);
                uint8_t script[SCRIPT_MAX_SIZE];
                size_t script_len = coin.script_len;
                memcpy(script, coin.script, script_len); /* v dies with the delete */
                if ((g = del_coin(txn, c, key, script, script_len)) != 0)
                    rc = lmdb_fail(e, "spending a coin", g);
            }
        }
        for (size_t j = 0; j < tx->n_outputs && rc == 0; j++) {
            uint8_t key[STORE_OUTPOINT_LEN];
            store_outpoint_key(key, &b->txids[i], (uint32_t)j);
            store_coin_t coin = {tx->outputs[j].amount, entry->height, i == 0,
                                 tx->outputs[j].script, tx->outputs[j].script_len};
            int p = put_coin(txn, c, key, &coin, MDB_NOOVERWRITE);
            if (p == MDB_KEYEXIST)
                rc = err_set(e, ERR_DUPLICATE_TX, "transaction %zu would overwrite an unspent "
                             "output of the same txid", i);
            else if (p != 0)
                rc = lmdb_fail(e, "adding a coin", p);
        }
        if (rc == 0) {
            MDB_val k = {32, (void *)b->txids[i].b}, v = {32, (void *)entry->hash.b};
            int p = mdb_put(txn, c->store.txindex, &k, &v, 0);
            if (p != 0)
                rc = lmdb_fail(e, "indexing a transaction", p);
        }
    }
    if (rc == 0) {
        amount_t coinbase_out = 0, allowed = params_subsidy(c->params, entry->height);
        for (size_t j = 0; j < b->txs[0].n_outputs; j++)
            (void)amount_add(&coinbase_out, b->txs[0].outputs[j].amount); /* checked by tx_check */
        if (!amount_add(&allowed, fees) || coinbase_out > allowed)
            rc = err_set(e, ERR_BAD_COINBASE, "the coinbase pays %" PRIu64 ", more than subsidy "
                         "plus fees (%" PRIu64 ")", coinbase_out, allowed);
    }
    if (rc == 0 && !mp_buf_ok(undo))
        rc = err_set(e, ERR_INTERNAL, "out of memory recording undo data");
    if (rc == 0) {
        validate_fix_jobs(jobs, n_jobs, &arena);
        rc = vpool_run(c->pool, &entry->hash, jobs, n_jobs, e);
    }
    free(jobs);
    mp_buf_free(&arena);
    return rc;
}

/* Connects entry (whose parent is the tip); decoded is its block when the
 * caller holds it decoded (NULL: read from the store). A rule the block
 * breaks returns its code; ERR_INTERNAL means the store failed and says
 * nothing of the block. */
static int connect_tip(chain_t *c, chain_entry_t *entry, const block_t *decoded, err_t *e)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->store.env, NULL, 0, &txn);
    if (rc != 0)
        return lmdb_fail(e, "starting a write", rc);
    block_t stored;
    const block_t *b = decoded;
    mp_buf_t undo;
    mp_buf_init(&undo, (size_t)1 << 30);
    if (!b) {
        rc = read_block(txn, c, &entry->hash, &stored, e);
        b = &stored;
    }
    if (rc == 0) {
        rc = apply_block(txn, c, b, entry, &undo, e);
        uint8_t hkey[8];
        store_height_key(hkey, entry->height);
        MDB_val uk = {32, (void *)entry->hash.b}, uv = {undo.len, undo.data ? undo.data : (void *)""};
        MDB_val ck = {8, hkey}, cv = {32, (void *)entry->hash.b};
        uint8_t old_status = entry->status;
        entry->status |= STORE_VALID;
        int p = 0;
        if (rc != 0) {
            mdb_txn_abort(txn);
        } else if ((p = mdb_put(txn, c->store.undo, &uk, &uv, 0)) != 0 ||
                   (p = mdb_put(txn, c->store.chain, &ck, &cv, 0)) != 0 ||
                   (p = set_tip(txn, c, &entry->hash)) != 0 || (p = put_index(txn, c, entry)) != 0) {
            mdb_txn_abort(txn);
            rc = lmdb_fail(e, "recording a connected block", p);
        } else if ((p = mdb_txn_commit(txn)) != 0) { /* commit frees txn even on failure */
            rc = lmdb_fail(e, "committing a block", p);
        }
        if (rc != 0)
            entry->status = old_status;
        else if (main_push(c, entry) < 0)
            rc = err_set(e, ERR_INTERNAL, "out of memory extending the chain");
        if (rc == 0 && c->hooks.connected)
            c->hooks.connected(c->hooks.ctx, b, entry);
        if (!decoded)
            block_free(&stored);
    } else {
        mdb_txn_abort(txn);
    }
    mp_buf_free(&undo);
    return rc;
}

static int disconnect_tip(chain_t *c, err_t *e)
{
    chain_entry_t *entry = c->main[c->main_len - 1];
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->store.env, NULL, 0, &txn);
    if (rc != 0)
        return lmdb_fail(e, "starting a write", rc);
    block_t b;
    rc = read_block(txn, c, &entry->hash, &b, e);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    MDB_val uk = {32, entry->hash.b}, uv;
    int p = mdb_get(txn, c->store.undo, &uk, &uv);
    if (p != 0) {
        rc = lmdb_fail(e, "reading undo data", p);
    } else {
        /* copy: the puts below may move the page the value lives in */
        uint8_t *undo = malloc(uv.mv_size ? uv.mv_size : 1);
        size_t undo_len = uv.mv_size;
        if (!undo)
            rc = err_set(e, ERR_INTERNAL, "out of memory reading undo data");
        else
            memcpy(undo, uv.mv_data, undo_len);
        /* First bring back every coin the block spent, then delete every coin
         * it created: a coin both created and spent inside the block comes
         * back in the first step and goes again in the second. */
        for (size_t pos = 0; rc == 0 && pos < undo_len;) {
            store_coin_t coin;
            uint32_t len;
            if (undo_len - pos < STORE_OUTPOINT_LEN + 4) {
                rc = err_set(e, ERR_INTERNAL, "store: corrupt undo data");
                break;
            }
            const uint8_t *rec = undo + pos;
            len = (uint32_t)bytes_get_le(rec + 36, 4);
            if (len > undo_len - pos - 40 || store_coin_decode(&coin, rec + 40, len) < 0) {
                rc = err_set(e, ERR_INTERNAL, "store: corrupt undo data");
                break;
            }
            if ((p = put_coin(txn, c, rec, &coin, 0)) != 0)
                rc = lmdb_fail(e, "restoring a coin", p);
            pos += 40 + len;
        }
        free(undo);
        for (size_t i = 0; rc == 0 && i < b.n_txs; i++) {
            const tx_t *tx = &b.txs[i];
            for (size_t j = 0; rc == 0 && j < tx->n_outputs; j++) {
                uint8_t key[STORE_OUTPOINT_LEN];
                store_outpoint_key(key, &b.txids[i], (uint32_t)j);
                p = del_coin(txn, c, key, tx->outputs[j].script, tx->outputs[j].script_len);
                if (p != 0 && p != MDB_NOTFOUND)
                    rc = lmdb_fail(e, "removing a coin", p);
            }
            MDB_val tk = {32, b.txids[i].b};
            p = mdb_del(txn, c->store.txindex, &tk, NULL);
            if (rc == 0 && p != 0 && p != MDB_NOTFOUND)
                rc = lmdb_fail(e, "unindexing a transaction", p);
        }
        uint8_t hkey[8];
        store_height_key(hkey, entry->height);
        MDB_val ck = {8, hkey};
        if (rc == 0 && ((p = mdb_del(txn, c->store.undo, &uk, NULL)) != 0 ||
                        (p = mdb_del(txn, c->store.chain, &ck, NULL)) != 0 ||
                        (p = set_tip(txn, c, &entry->parent->hash)) != 0))
            rc = lmdb_fail(e, "disconnecting a block", p);
    }
    if (rc == 0) {
        p = mdb_txn_commit(txn);
        if (p != 0)
            rc = lmdb_fail(e, "committing a disconnect", p);
    } else {
        mdb_txn_abort(txn);
    }
    if (rc == 0) {
        c->main_len--;
        if (c->hooks.disconnected)
            c->hooks.disconnected(c->hooks.ctx, &b, entry);
    }
    block_free(&b);
    return rc;
}

/* The main-chain block where entry's branch leaves it. */
static chain_entry_t *fork_point(const chain_t *c, chain_entry_t *entry)
{
    while (!chain_is_main(c, entry))
        entry = entry->parent;
    return entry;
}

/* Makes target the tip; target_block is its block decoded, if the caller
 * has it (NULL: every block is read from the store). On a block of the new
 * branch that fails, marks it invalid, restores the old branch and returns
 * that block's error. */
static int reorganise(chain_t *c, chain_entry_t *target, const block_t *target_block, err_t *e)
{
    chain_entry_t *fork = fork_point(c, target);
    size_t old_len = c->main_len;
    size_t n_new = (size_t)(target->height - fork->height);
    size_t n_old = old_len - 1 - (size_t)fork->height;
    chain_entry_t **path = malloc((n_new + n_old + 1) * sizeof *path);
    if (!path)
        return err_set(e, ERR_INTERNAL, "out of memory reorganising");
    chain_entry_t **old = path + n_new;
    memcpy(old, c->main + fork->height + 1, n_old * sizeof *old);
    for (chain_entry_t *x = target; x != fork; x = x->parent)
        path[x->height - fork->height - 1] = x;
    if (n_old)
        LOGINFO("reorganisation: %zu block(s) off, %zu on, fork at height %" PRIu64, n_old, n_new,
                fork->height);
    int rc = 0;
    while (rc == 0 && c->main_len - 1 > fork->height)
        rc = disconnect_tip(c, e);
    size_t connected = 0;
    for (; rc == 0 && connected < n_new; connected++)
        rc = connect_tip(c, path[connected], path[connected] == target ? target_block : NULL, e);
    if (rc != 0 && rc != -(int)ERR_INTERNAL && connected > 0) {
        chain_entry_t *bad = path[connected - 1];
        char hex[65];
        hex_encode(hex, bad->hash.b, 32);
        LOGWARN("block %s at height %" PRIu64 " is invalid: %s", hex, bad->height,
                e ? e->message : "");
        if (mark_invalid(c, bad) != 0)
            LOGERR("could not record block %s as invalid", hex);
        err_t restore_err;
        int r = 0;
        while (r == 0 && c->main_len - 1 > fork->height)
            r = disconnect_tip(c, &restore_err);
        for (size_t i = 0; r == 0 && i < n_old; i++)
            r = connect_tip(c, old[i], NULL, &restore_err);
        if (r != 0)
            LOGERR("restoring the previous chain failed: %s", restore_err.message);
    }
    free(path);
    return rc;
}

/* The most-work entry that is not invalid and descends from no invalid one. */
static chain_entry_t *best_candidate(chain_t *c)
{
    chain_entry_t *best = c->main[c->main_len - 1];
    size_t pos = 0;
    const void *key;
    void *value;
    while (hmap_next(c->index, &pos, &key, &value)) {
        chain_entry_t *x = value;
        if (u256_cmp(&x->chainwork, &best->chainwork) <= 0)
            continue;
        chain_entry_t *y = x;
        while (y && !(y->status & STORE_INVALID) && !chain_is_main(c, y))
            y = y->parent;
        if (y && !(y->status & STORE_INVALID))
            best = x;
    }
    return best;
}

/* --- arrival of blocks ------------------------------------------------- */

static int store_block(chain_t *c, const hash32_t *hash, const uint8_t *data, size_t len,
                       chain_entry_t *entry, err_t *e)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->store.env, NULL, 0, &txn);
    if (rc != 0)
        return lmdb_fail(e, "starting a write", rc);
    MDB_val k = {32, (void *)hash->b}, v = {len, (void *)data};
    if ((rc = mdb_put(txn, c->store.blocks, &k, &v, 0)) != 0 ||
        (rc = put_index(txn, c, entry)) != 0) {
        mdb_txn_abort(txn);
        return lmdb_fail(e, "storing a block", rc);
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return lmdb_fail(e, "storing a block", rc);
    return 0;
}

/* Queues the signatures of block b's P2PKH inputs on the pool (see
 * vpool_prefetch); inputs of another shape are left to the script checks.
 * 0 when queued (or nothing to queue). */
static int prefetch_sigs(chain_t *c, const block_t *b, const hash32_t *hash)
{
    size_t n_inputs = 0;
    for (size_t i = 1; i < b->n_txs; i++)
        n_inputs += b->txs[i].n_inputs;
    if (n_inputs == 0 || vpool_prefetched(c->pool, hash))
        return 0;
    vpool_sig_t *sigs = malloc(n_inputs * sizeof *sigs);
    if (!sigs)
        return -1;
    size_t n = 0;
    for (size_t i = 1; i < b->n_txs; i++) {
        const tx_t *tx = &b->txs[i];
        hash32_t sighash;
        if (tx_sighash(tx, &sighash) < 0)
            continue;
        for (size_t j = 0; j < tx->n_inputs; j++)
            n += validate_input_sig(&tx->inputs[j], &sighash, &sigs[n]);
    }
    return vpool_prefetch(c->pool, hash, sigs, n);
}

/* Header rules that need the parent, then storage of the block. */
static int accept_block(chain_t *c, const block_t *b, const hash32_t *hash, const uint8_t *data,
                        size_t len, chain_entry_t *parent, uint64_t now, chain_entry_t **out,
                        err_t *e)
{
    const block_header_t *h = &b->header;
    uint64_t height = parent->height + 1, cb_height;
    uint32_t bits = chain_next_bits(c, parent);
    if (h->bits != bits)
        return err_set(e, ERR_BAD_BITS, "bits 0x%08x, expected 0x%08x at height %" PRIu64,
                       h->bits, bits, height);
    if (h->timestamp <= chain_median_time(parent))
        return err_set(e, ERR_BAD_TIMESTAMP, "timestamp not after the median of the last 11");
    if (h->timestamp > now + CHAIN_MAX_FUTURE)
        return err_set(e, ERR_BAD_TIMESTAMP, "timestamp more than 2 hours in the future");
    int rc = tx_coinbase_height(&b->txs[0], &cb_height, e);
    if (rc < 0)
        return rc;
    if (cb_height != height)
        return err_set(e, ERR_BAD_COINBASE, "coinbase height %" PRIu64 ", block height %" PRIu64,
                       cb_height, height);
    const chain_entry_t *tip = chain_tip(c);
    if (parent != tip) {
        const chain_entry_t *fork = fork_point(c, parent);
        if (tip->height - fork->height > CHAIN_MAX_FORK_DEPTH)
            return err_set(e, ERR_BAD_PREVIOUS, "forks %" PRIu64 " blocks below the tip (at "
                           "most %d)", tip->height - fork->height, CHAIN_MAX_FORK_DEPTH);
        if (hmap_count(c->index) - c->main_len >= CHAIN_MAX_SIDE_BLOCKS)
            return err_set(e, ERR_FLOOD, "too many side-branch blocks stored");
    }
    /* a block on the tip that passed the header rules: its signatures get
     * checked while it is stored and its coins looked up (a no-op when
     * prefetched already) */
    if (parent == tip)
        (void)prefetch_sigs(c, b, hash);
    chain_entry_t *entry = new_entry(c, hash, h, parent);
    if (!entry)
        return err_set(e, ERR_INTERNAL, "out of memory indexing a block");
    rc = store_block(c, hash, data, len, entry, e);
    if (rc < 0) {
        hmap_del(c->index, hash->b);
        free(entry);
        return rc;
    }
    *out = entry;
    return 0;
}

static void drop_orphan(chain_t *c, orphan_t *o)
{
    hmap_del(c->orphans, o->hash.b);
    c->orphan_bytes -= o->len;
    free(o->data);
    free(o);
}

static void add_orphan(chain_t *c, const hash32_t *hash, const hash32_t *prev,
                       const uint8_t *data, size_t len)
{
    /* evict the oldest until the newcomer fits both bounds */
    while (hmap_count(c->orphans) &&
           (hmap_count(c->orphans) >= CHAIN_MAX_ORPHANS ||
            c->orphan_bytes + len > CHAIN_MAX_ORPHAN_BYTES)) {
        orphan_t *oldest = NULL;
        size_t pos = 0;
        const void *key;
        void *value;
        while (hmap_next(c->orphans, &pos, &key, &value))
            if (!oldest || ((orphan_t *)value)->seq < oldest->seq)
                oldest = value;
        drop_orphan(c, oldest);
    }
    orphan_t *o = calloc(1, sizeof *o);
    uint8_t *copy = malloc(len);
    if (!o || !copy || hmap_put(c->orphans, hash->b, o) < 0) {
        free(o);
        free(copy);
        return; /* an orphan is only a hint: it will be asked for again */
    }
    memcpy(copy, data, len);
    *o = (orphan_t){*hash, *prev, copy, len, c->orphan_seq++};
    c->orphan_bytes += len;
}

/* Whether entry or one of its ancestors off the main chain failed validation
 * (main-chain blocks never have). */
static bool descends_from_invalid(const chain_t *c, const chain_entry_t *entry)
{
    for (; entry && !chain_is_main(c, entry); entry = entry->parent)
        if (entry->status & STORE_INVALID)
            return true;
    return false;
}

int chain_prefetch(chain_t *c, const uint8_t *data, size_t len, const hash32_t *after,
                   hash32_t *hash)
{
    block_t b;
    err_t e;
    int rc = block_decode(&b, data, len, &e);
    if (rc < 0)
        return rc;
    hash32_t h; /* *hash may be *after */
    block_header_hash(&h, &b.header);
    const hash32_t *prev = &b.header.previous_block_hash;
    if (hmap_get(c->index, h.b))
        rc = -ERR_KNOWN;
    else if (!hash32_eq(prev, &chain_tip(c)->hash) && !(after && hash32_eq(prev, after)))
        rc = -ERR_ORPHAN; /* not next: it would wait, or go to a side branch */
    else if (b.header.bits != chain_next_bits(c, chain_tip(c)))
        rc = -ERR_BAD_BITS; /* proof of work at the current difficulty, or no checks (a
                               block past a retarget is only not prefetched) */
    else
        rc = block_check(&b, c->params, &e);
    if (rc == 0) /* a full queue or no memory only costs the overlap */
        (void)prefetch_sigs(c, &b, &h);
    block_free(&b);
    *hash = h;
    return rc;
}

static int submit_one(chain_t *c, const uint8_t *data, size_t len, uint64_t now,
                      chain_status_t *status, hash32_t *hash, err_t *e)
{
    block_t b;
    int rc = block_decode(&b, data, len, e);
    if (rc < 0)
        return rc;
    block_header_hash(hash, &b.header);
    chain_entry_t *known = hmap_get(c->index, hash->b);
    if (known || hmap_get(c->orphans, hash->b)) {
        block_free(&b);
        if (known && descends_from_invalid(c, known))
            return err_set(e, ERR_BAD_PREVIOUS, "a block already found invalid, or a "
                           "descendant of one");
        *status = CHAIN_KNOWN;
        return 0;
    }
    rc = block_check(&b, c->params, e);
    chain_entry_t *parent = rc == 0 ? hmap_get(c->index, b.header.previous_block_hash.b) : NULL;
    if (rc == 0 && !parent) {
        add_orphan(c, hash, &b.header.previous_block_hash, data, len);
        *status = CHAIN_ORPHAN;
    } else if (rc == 0 && descends_from_invalid(c, parent)) {
        rc = err_set(e, ERR_BAD_PREVIOUS, "the parent block is invalid or descends from an "
                     "invalid block");
    } else if (rc == 0) {
        chain_entry_t *entry = NULL;
        rc = accept_block(c, &b, hash, data, len, parent, now, &entry, e);
        if (rc == 0 && u256_cmp(&entry->chainwork, &chain_tip(c)->chainwork) > 0)
            rc = reorganise(c, entry, &b, e);
        if (rc == 0)
            *status = chain_is_main(c, entry) ? CHAIN_TIP : CHAIN_SIDE;
    }
    block_free(&b);
    return rc;
}

int chain_submit_block(chain_t *c, const uint8_t *data, size_t len, uint64_t now,
                       chain_status_t *status, hash32_t *hash, err_t *e)
{
    int rc = submit_one(c, data, len, now, status, hash, e);
    if (rc < 0 || *status == CHAIN_ORPHAN || *status == CHAIN_KNOWN)
        return rc;
    /* adopt the orphans this block was missing, and theirs in turn */
    hash32_t parents[CHAIN_MAX_ORPHANS + 1];
    size_t n_parents = 0;
    parents[n_parents++] = *hash;
    while (n_parents > 0) {
        hash32_t parent = parents[--n_parents];
        size_t pos = 0;
        const void *key;
        void *value;
        orphan_t *child = NULL;
        while (hmap_next(c->orphans, &pos, &key, &value))
            if (hash32_eq(&((orphan_t *)value)->prev, &parent))
                child = value;
        if (!child)
            continue;
        hmap_del(c->orphans, child->hash.b);
        c->orphan_bytes -= child->len;
        chain_status_t st;
        hash32_t h;
        err_t oe;
        if (submit_one(c, child->data, child->len, now, &st, &h, &oe) == 0 &&
            n_parents + 1 < sizeof parents / sizeof parents[0])
            parents[n_parents++] = h;
        /* the parent may have more orphan children: look again */
        if (n_parents < sizeof parents / sizeof parents[0])
            parents[n_parents++] = parent;
        free(child->data);
        free(child);
    }
    return rc;
}

int chain_headers_after(const chain_t *c, const hash32_t *locator, size_t n_locator, size_t max,
                        uint8_t **out, size_t *n)
{
    uint64_t start = 0;
    for (size_t i = 0; i < n_locator; i++) {
        const chain_entry_t *x = hmap_get(c->index, locator[i].b);
        if (x && chain_is_main(c, x)) {
            start = x->height + 1;
            break;
        }
    }
    size_t count = start < c->main_len ? c->main_len - (size_t)start : 0;
    if (count > max)
        count = max;
    *out = malloc(count ? count * BLOCK_HEADER_LEN : 1);
    if (!*out)
        return -1;
    for (size_t i = 0; i < count; i++)
        block_header_encode(*out + i * BLOCK_HEADER_LEN, &c->main[start + i]->header);
    *n = count;
    return 0;
}

/* --- open and close -------------------------------------------------------- */

static int create_genesis(chain_t *c, err_t *e)
{
    mp_buf_t buf;
    mp_buf_init(&buf, BLOCK_MAX_SIZE);
    block_t b;
    int rc = params_genesis_encode(c->params, &buf) < 0
                 ? err_set(e, ERR_INTERNAL, "out of memory building the genesis block")
                 : block_decode(&b, buf.data, buf.len, e);
    if (rc < 0) {
        mp_buf_free(&buf);
        return rc;
    }
    hash32_t hash;
    char hex[65];
    block_header_hash(&hash, &b.header);
    hex_encode(hex, hash.b, 32);
    if (strcmp(hex, c->params->genesis_hash) != 0) {
        block_free(&b);
        mp_buf_free(&buf);
        return err_set(e, ERR_INTERNAL, "the %s genesis block hashes to %s, not the pinned hash",
                       c->params->name, hex);
    }
    chain_entry_t *entry = new_entry(c, &hash, &b.header, NULL);
    if (!entry) {
        block_free(&b);
        mp_buf_free(&buf);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    entry->status = STORE_VALID;
    MDB_txn *txn;
    rc = mdb_txn_begin(c->store.env, NULL, 0, &txn);
    uint8_t hkey[8];
    store_height_key(hkey, 0);
    MDB_val k = {32, hash.b}, v = {buf.len, buf.data}, ck = {8, hkey}, cv = {32, hash.b};
    MDB_val tk = {32, b.txids[0].b};
    if (rc == 0 && ((rc = mdb_put(txn, c->store.blocks, &k, &v, 0)) != 0 ||
                    (rc = put_index(txn, c, entry)) != 0 ||
                    (rc = mdb_put(txn, c->store.chain, &ck, &cv, 0)) != 0 ||
                    (rc = mdb_put(txn, c->store.txindex, &tk, &cv, 0)) != 0 ||
                    (rc = set_tip(txn, c, &hash)) != 0))
        mdb_txn_abort(txn);
    /* the allocations are spendable at once: not marked as coinbase coins */
    for (size_t j = 0; rc == 0 && j < b.txs[0].n_outputs; j++) {
        uint8_t key[STORE_OUTPOINT_LEN];
        store_outpoint_key(key, &b.txids[0], (uint32_t)j);
        store_coin_t coin = {b.txs[0].outputs[j].amount, 0, false, b.txs[0].outputs[j].script,
                             b.txs[0].outputs[j].script_len};
        if ((rc = put_coin(txn, c, key, &coin, 0)) != 0)
            mdb_txn_abort(txn);
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    block_free(&b);
    mp_buf_free(&buf);
    if (rc != 0)
        return lmdb_fail(e, "writing the genesis block", rc);
    return main_push(c, entry) < 0 ? err_set(e, ERR_INTERNAL, "out of memory") : 0;
}

static int load_index(chain_t *c, err_t *e)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(c->store.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return lmdb_fail(e, "reading the index", rc);
    rc = mdb_cursor_open(txn, c->store.index, &cur);
    bool cursor_open = rc == 0;
    MDB_val k, v;
    int op = MDB_FIRST;
    while (rc == 0 && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        store_index_rec_t rec;
        chain_entry_t *entry = calloc(1, sizeof *entry);
        if (k.mv_size != 32 || store_index_decode(&rec, &v) < 0 || !entry) {
            free(entry);
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(entry->hash.b, k.mv_data, 32);
        entry->header = rec.header;
        entry->height = rec.height;
        entry->chainwork = rec.chainwork;
        entry->status = rec.status;
        if (hmap_put(c->index, entry->hash.b, entry) < 0) {
            free(entry);
            rc = ENOMEM;
        }
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    MDB_val tk = {sizeof tip_key - 1, (void *)tip_key}, tv;
    hash32_t tip_hash;
    int t = rc == 0 ? mdb_get(txn, c->store.meta, &tk, &tv) : rc;
    if (t == 0 && tv.mv_size == 32)
        memcpy(tip_hash.b, tv.mv_data, 32);
    /* a read-only transaction does not free its cursors */
    if (cursor_open)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc != 0)
        return lmdb_fail(e, "loading the index", rc);
    if (hmap_count(c->index) == 0)
        return create_genesis(c, e);
    if (t != 0)
        return err_set(e, ERR_INTERNAL, "store: the index has blocks but no tip");
    /* link parents, then the main chain from the tip down */
    size_t pos = 0;
    const void *key;
    void *value;
    while (hmap_next(c->index, &pos, &key, &value)) {
        chain_entry_t *x = value;
        x->parent = x->height ? hmap_get(c->index, x->header.previous_block_hash.b) : NULL;
        if (x->height && !x->parent)
            return err_set(e, ERR_INTERNAL, "store: block at height %" PRIu64 " lacks its parent",
                           x->height);
    }
    chain_entry_t *tip = hmap_get(c->index, tip_hash.b);
    if (!tip)
        return err_set(e, ERR_INTERNAL, "store: the tip is not in the index");
    size_t len = (size_t)tip->height + 1;
    c->main = malloc(len * sizeof *c->main);
    if (!c->main)
        return err_set(e, ERR_INTERNAL, "out of memory");
    c->main_len = c->main_cap = len;
    for (chain_entry_t *x = tip; x; x = x->parent)
        c->main[x->height] = x;
    return 0;
}

int chain_open(chain_t **out, const chain_params_t *params, const char *datadir, size_t map_size,
               unsigned threads, sigcache_t *cache, err_t *e)
{
    chain_t *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return err_set(e, ERR_INTERNAL, "out of memory");
    c->params = params;
    c->cache = cache;
    c->index = hmap_new(32);
    c->orphans = hmap_new(32);
    c->pool = vpool_new(threads, cache);
    int rc = !c->index || !c->orphans || !c->pool
                 ? err_set(e, ERR_INTERNAL, "out of memory or threads")
                 : store_open(&c->store, datadir, map_size, params->name, e);
    if (rc == 0)
        rc = load_index(c, e);
    if (rc == 0) {
        /* a crash between the steps of a reorganisation leaves a consistent
         * but lighter tip: finish the job */
        chain_entry_t *best = best_candidate(c);
        if (best != chain_tip(c))
            rc = reorganise(c, best, NULL, e);
    }
    if (rc < 0) {
        chain_close(&c);
        return rc;
    }
    *out = c;
    return 0;
}

void chain_close(chain_t **cp)
{
    chain_t *c = *cp;
    if (!c)
        return;
    if (c->index) {
        size_t pos = 0;
        const void *key;
        void *value;
        while (hmap_next(c->index, &pos, &key, &value))
            free(value);
        hmap_destroy(&c->index);
    }
    if (c->orphans) {
        size_t pos = 0;
        const void *key;
        void *value;
        while (hmap_next(c->orphans, &pos, &key, &value)) {
            free(((orphan_t *)value)->data);
            free(value);
        }
        hmap_destroy(&c->orphans);
    }
    vpool_destroy(&c->pool);
    store_close(&c->store);
    free(c->main);
    free(c);
    *cp = NULL;
}
