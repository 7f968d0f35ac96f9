#include "chain.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "clock.h"
#include "hex.h"
#include "hmap.h"
#include "log.h"
#include "metrics.h"
#include "phase.h"
#include "pow.h"
#include "script.h"

typedef struct {
    hash32_t hash, prev;
    uint8_t *data;
    size_t len;
    uint64_t seq; /* arrival order: the oldest is evicted first */
} orphan_t;

/* A prefetched block that passed its context-free checks, decoded from raw
 * (owned: the decoding borrows from it). */
typedef struct {
    uint8_t *raw;
    size_t len;
    block_t b;
} ahead_t;

struct chain {
    const chain_params_t *params;
    store_t *store;
    hmap_t *index; /* hash -> chain_entry_t* */
    chain_entry_t **main;
    size_t main_len, main_cap;
    hmap_t *orphans; /* hash -> orphan_t* */
    size_t orphan_bytes;
    uint64_t orphan_seq;
    vpool_t *pool;
    sigcache_t *cache;
    chain_hooks_t hooks;
    bool timed; /* chain_phases_enable() */
    chain_phases_t phases;
    ahead_t ahead[CHAIN_MAX_DECODED_AHEAD]; /* oldest first */
    size_t n_ahead;
    /* A block that extends the tip is stored in its connect's own write (one
     * commit a block, not two): from its acceptance to that commit, its
     * entry is indexed in memory only and its bytes are the submitter's. */
    struct {
        chain_entry_t *entry; /* NULL: none */
        const uint8_t *data;
        size_t len;
    } unstored;
};

/* --- small helpers ------------------------------------------------------ */

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
store_t *chain_store(chain_t *c) { return c->store; }
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

/* --- phases --------------------------------------------------------------- */

static const char *const phase_names[CHAIN_PHASES] = {
    [CHAIN_PHASE_DECODE] = "decode (txids included)",
    [CHAIN_PHASE_CHECK] = "context-free checks (merkle root)",
    [CHAIN_PHASE_SIGHASH] = "sighashes, signatures queued",
    [CHAIN_PHASE_STORE_BLOCK] = "LMDB: the block's bytes (a side block: own commit)",
    [CHAIN_PHASE_COINS] = "coin lookups, input rules",
    [CHAIN_PHASE_COIN_WRITES] = "LMDB: coins spent and created",
    [CHAIN_PHASE_SIG_HELP] = "signatures left in the queue, here",
    [CHAIN_PHASE_SCRIPTS] = "script checks, here",
    [CHAIN_PHASE_POOL_WAIT] = "waiting for the pool's threads",
    [CHAIN_PHASE_UNDO] = "LMDB: undo, main chain, tip",
    [CHAIN_PHASE_INDEXES] = "LMDB: tx, explorer, block indexes",
    [CHAIN_PHASE_COMMIT] = "commit (with its sync)",
};

const char *chain_phase_name(chain_phase_t p) { return p < CHAIN_PHASES ? phase_names[p] : "?"; }

_Static_assert(CHAIN_PHASE_SCRIPTS - CHAIN_PHASE_SIG_HELP == VPOOL_SCRIPTS &&
               CHAIN_PHASE_POOL_WAIT - CHAIN_PHASE_SIG_HELP == VPOOL_WAITING,
               "the pool's phases follow CHAIN_PHASE_SIG_HELP in its order");

void chain_phases_enable(chain_t *c, bool on)
{
    memset(&c->phases, 0, sizeof c->phases);
    c->timed = on;
    vpool_set_timers(c->pool, on ? &c->phases.ns[CHAIN_PHASE_SIG_HELP] : NULL);
}

void chain_phases(const chain_t *c, chain_phases_t *out) { *out = c->phases; }

/* The end of phase ph begun at t (see phase.h): the start of the next. */
static uint64_t lap(chain_t *c, chain_phase_t ph, uint64_t t)
{
    return phase_stop(c->timed, &c->phases.ns[ph], t);
}

/* --- index records ------------------------------------------------------- */

static int put_index(store_write_t *w, const chain_entry_t *entry, err_t *e)
{
    store_index_rec_t rec = {entry->header, entry->height, entry->chainwork, entry->status};
    return store_put_index(w, &entry->hash, &rec, e);
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

/* Writes entry's index record, and its block's bytes when they are not
 * stored yet (c->unstored), in one write. */
static int store_entry(chain_t *c, chain_entry_t *entry, err_t *e)
{
    store_write_t *w;
    int rc = store_write_begin(c->store, &w, e);
    if (rc < 0)
        return rc;
    if (entry == c->unstored.entry)
        rc = store_put_block(w, &entry->hash, c->unstored.data, c->unstored.len, e);
    if (rc == 0)
        rc = put_index(w, entry, e);
    rc = store_write_end(&w, rc, e);
    if (rc == 0 && entry == c->unstored.entry)
        c->unstored.entry = NULL;
    return rc;
}

static int mark_invalid(chain_t *c, chain_entry_t *entry, err_t *e)
{
    entry->status |= STORE_INVALID;
    return store_entry(c, entry, e);
}

/* A block the index holds, from the store: missing or corrupt is the
 * store's failure (ERR_INTERNAL), never a verdict on the block. */
static int read_block(store_read_t *r, const chain_entry_t *entry, block_t *b, err_t *e)
{
    int rc = store_load_block(r, &entry->hash, b, NULL, e);
    if (rc == -(int)ERR_NOT_FOUND)
        return err_set(e, ERR_INTERNAL, "store: an indexed block at height %" PRIu64
                       " is not stored", entry->height);
    return rc;
}

/* Runs the hook that writes in the block's own transaction; its failure is
 * the store's. */
static int hook_writing(chain_t *c, store_write_t *w, const block_t *b,
                        const chain_entry_t *entry, bool connect, err_t *e)
{
    if (!c->hooks.writing || c->hooks.writing(c->hooks.ctx, w, b, entry, connect, e) == 0)
        return 0;
    if (e)
        e->code = ERR_INTERNAL;
    return -(int)ERR_INTERNAL;
}

/* --- connect and disconnect ---------------------------------------------- */

typedef struct {
    store_write_t *w;
    coin_view_t view;
    script_job_t *jobs;
    size_t n_jobs;
    mp_buf_t arena; /* the spent coins' locking scripts, for the jobs */
    amount_t fees;
} connect_t;

/* Checks and spends the inputs of tx (i > 0 in b), adding its fee. */
static int spend_inputs(chain_t *c, connect_t *k, const block_t *b, size_t i,
                        const chain_entry_t *entry, err_t *e)
{
    const tx_t *tx = &b->txs[i];
    hash32_t sighash;
    amount_t fee;
    uint64_t t = phase_start(c->timed);
    if (tx_sighash(tx, &sighash) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory hashing a transaction");
    t = lap(c, CHAIN_PHASE_SIGHASH, t);
    int rc = validate_tx_inputs(tx, &k->view, entry->height, c->params->coinbase_maturity, &fee,
                                &sighash, (uint32_t)i, k->jobs, &k->n_jobs, &k->arena, e);
    t = lap(c, CHAIN_PHASE_COINS, t);
    if (rc == 0 && !amount_add(&k->fees, fee))
        rc = err_set(e, ERR_BAD_AMOUNT, "fees sum over max money");
    for (size_t j = 0; j < tx->n_inputs && rc == 0; j++) {
        rc = store_spend_coin(k->w, &tx->inputs[j].prev_txid, tx->inputs[j].index, e);
        if (rc == -(int)ERR_NOT_FOUND) /* spent by an earlier input of this block */
            rc = err_set(e, ERR_UNKNOWN_UTXO, "transaction %zu input %zu spends an output "
                         "already spent", i, j);
    }
    (void)lap(c, CHAIN_PHASE_COIN_WRITES, t);
    return rc;
}

/* Creates the outputs of tx i of b and indexes it. */
static int add_outputs(chain_t *c, connect_t *k, const block_t *b, size_t i,
                       const chain_entry_t *entry, err_t *e)
{
    const tx_t *tx = &b->txs[i];
    int rc = 0;
    uint64_t t = phase_start(c->timed);
    for (size_t j = 0; j < tx->n_outputs && rc == 0; j++) {
        store_coin_t coin = {tx->outputs[j].amount, entry->height, i == 0, tx->outputs[j].script,
                             tx->outputs[j].script_len};
        rc = store_add_coin(k->w, &b->txids[i], (uint32_t)j, &coin, e);
        if (rc == -(int)ERR_DUPLICATE_TX)
            rc = err_set(e, ERR_DUPLICATE_TX, "transaction %zu would overwrite an unspent "
                         "output of the same txid", i);
    }
    t = lap(c, CHAIN_PHASE_COIN_WRITES, t);
    if (rc == 0)
        rc = store_put_tx(k->w, &b->txids[i], &entry->hash, e);
    (void)lap(c, CHAIN_PHASE_INDEXES, t);
    return rc;
}

/* Spends, creates and indexes everything of block b at entry in w, then
 * runs its script checks. */
static int apply_block(store_write_t *w, chain_t *c, const block_t *b, const chain_entry_t *entry,
                       err_t *e)
{
    size_t n_inputs = 0;
    for (size_t i = 1; i < b->n_txs; i++)
        n_inputs += b->txs[i].n_inputs;
    connect_t k = {.w = w, .jobs = malloc((n_inputs ? n_inputs : 1) * sizeof *k.jobs)};
    validate_store_view(&k.view, store_write_reader(w));
    mp_buf_init(&k.arena, (size_t)1 << 30);
    int rc = k.jobs ? 0 : err_set(e, ERR_INTERNAL, "out of memory connecting a block");
    for (size_t i = 0; i < b->n_txs && rc == 0; i++) {
        if (i > 0)
            rc = spend_inputs(c, &k, b, i, entry, e);
        if (rc == 0)
            rc = add_outputs(c, &k, b, i, entry, e);
    }
    if (rc == 0) {
        amount_t coinbase_out = 0, allowed = params_subsidy(c->params, entry->height);
        for (size_t j = 0; j < b->txs[0].n_outputs; j++)
            (void)amount_add(&coinbase_out, b->txs[0].outputs[j].amount); /* checked by tx_check */
        if (!amount_add(&allowed, k.fees) || coinbase_out > allowed)
            rc = err_set(e, ERR_BAD_COINBASE, "the coinbase pays %" PRIu64 ", more than subsidy "
                         "plus fees (%" PRIu64 ")", coinbase_out, allowed);
    }
    if (rc == 0) {
        validate_fix_jobs(k.jobs, k.n_jobs, &k.arena);
        rc = vpool_run(c->pool, &entry->hash, k.jobs, k.n_jobs, e);
    }
    free(k.jobs);
    mp_buf_free(&k.arena);
    return rc;
}

/* Connects entry (whose parent is the tip) in one write; decoded is its
 * block when the caller holds it decoded (NULL: read from the store). A
 * rule the block breaks returns its code; ERR_INTERNAL means the store
 * failed and says nothing of the block. */
static int connect_tip(chain_t *c, chain_entry_t *entry, const block_t *decoded, err_t *e)
{
    store_write_t *w;
    int rc = store_write_begin(c->store, &w, e);
    if (rc < 0)
        return rc;
    block_t stored;
    const block_t *b = decoded;
    if (!b && (rc = read_block(store_write_reader(w), entry, &stored, e)) == 0)
        b = &stored;
    uint8_t old_status = entry->status;
    entry->status |= STORE_VALID;
    if (rc == 0)
        rc = apply_block(w, c, b, entry, e);
    uint64_t t = phase_start(c->timed);
    bool unstored = entry == c->unstored.entry;
    if (rc == 0 && unstored)
        rc = store_put_block(w, &entry->hash, c->unstored.data, c->unstored.len, e);
    t = lap(c, CHAIN_PHASE_STORE_BLOCK, t);
    if (rc == 0)
        rc = store_connect(w, &entry->hash, entry->height, e);
    t = lap(c, CHAIN_PHASE_UNDO, t);
    if (rc == 0)
        rc = store_index_block(w, b, &entry->hash, entry->height, true, e);
    if (rc == 0)
        rc = put_index(w, entry, e);
    t = lap(c, CHAIN_PHASE_INDEXES, t);
    if (rc == 0)
        rc = hook_writing(c, w, b, entry, true, e);
    t = phase_start(c->timed);
    rc = store_write_end(&w, rc, e);
    (void)lap(c, CHAIN_PHASE_COMMIT, t);
    if (rc == 0 && unstored)
        c->unstored.entry = NULL;
    if (rc != 0)
        entry->status = old_status;
    else if (main_push(c, entry) < 0)
        rc = err_set(e, ERR_INTERNAL, "out of memory extending the chain");
    if (rc == 0 && c->timed) {
        c->phases.blocks++;
        c->phases.txs += b->n_txs;
    }
    if (rc == 0 && c->hooks.connected)
        c->hooks.connected(c->hooks.ctx, b, entry);
    if (b && !decoded)
        block_free(&stored);
    return rc;
}

static int disconnect_tip(chain_t *c, err_t *e)
{
    chain_entry_t *entry = c->main[c->main_len - 1];
    store_write_t *w;
    int rc = store_write_begin(c->store, &w, e);
    if (rc < 0)
        return rc;
    block_t b;
    if ((rc = read_block(store_write_reader(w), entry, &b, e)) < 0) {
        store_write_abort(&w);
        return rc;
    }
    rc = store_index_block(w, &b, &entry->hash, entry->height, false, e);
    if (rc == 0)
        rc = store_disconnect(w, &b, &entry->hash, entry->height, e);
    if (rc == 0)
        rc = hook_writing(c, w, &b, entry, false, e);
    rc = store_write_end(&w, rc, e);
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
        err_t mark_err;
        if (mark_invalid(c, bad, &mark_err) != 0)
            LOGERR("could not record block %s as invalid: %s", hex, mark_err.message);
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

/* Forgets the entry of a block whose write failed: the store never had it. */
static void drop_unstored(chain_t *c)
{
    chain_entry_t *entry = c->unstored.entry;
    if (!entry)
        return;
    hmap_del(c->index, entry->hash.b);
    free(entry);
    c->unstored.entry = NULL;
}

/* Header rules that need the parent, then storage of the block: a side
 * block's now, a block on the tip's in its connect's write (c->unstored). */
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
    uint64_t t = phase_start(c->timed);
    if (parent == tip)
        (void)prefetch_sigs(c, b, hash);
    t = lap(c, CHAIN_PHASE_SIGHASH, t);
    chain_entry_t *entry = new_entry(c, hash, h, parent);
    if (!entry)
        return err_set(e, ERR_INTERNAL, "out of memory indexing a block");
    c->unstored.entry = entry;
    c->unstored.data = data;
    c->unstored.len = len;
    if (parent != tip) { /* a side block: stored now, connected perhaps never */
        t = phase_start(c->timed);
        rc = store_entry(c, entry, e);
        (void)lap(c, CHAIN_PHASE_STORE_BLOCK, t);
    }
    if (rc < 0) {
        drop_unstored(c);
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

static void unlink_ahead(chain_t *c, size_t i)
{
    memmove(&c->ahead[i], &c->ahead[i + 1], (c->n_ahead - i - 1) * sizeof c->ahead[0]);
    c->n_ahead--;
}

static void drop_ahead(chain_t *c, size_t i)
{
    block_free(&c->ahead[i].b);
    free(c->ahead[i].raw);
    unlink_ahead(c, i);
}

/* Keeps b, decoded from raw (both taken), for its submission. */
static void keep_ahead(chain_t *c, uint8_t *raw, size_t len, block_t *b)
{
    if (c->n_ahead == CHAIN_MAX_DECODED_AHEAD)
        drop_ahead(c, 0);
    c->ahead[c->n_ahead++] = (ahead_t){raw, len, *b};
}

/* The kept decoding of exactly these bytes into *b, and its bytes into *raw
 * (the caller frees both): false when none is kept. */
static bool take_ahead(chain_t *c, const uint8_t *data, size_t len, block_t *b, uint8_t **raw)
{
    for (size_t i = 0; i < c->n_ahead; i++) {
        ahead_t *a = &c->ahead[i];
        if (a->len != len || memcmp(a->raw, data, len) != 0)
            continue;
        *b = a->b;
        *raw = a->raw;
        unlink_ahead(c, i);
        return true;
    }
    return false;
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
    uint64_t t = phase_start(c->timed);
    uint8_t *raw = malloc(len ? len : 1); /* kept with the decoding, which borrows from it */
    if (!raw)
        return -ERR_INTERNAL;
    memcpy(raw, data, len);
    int rc = block_decode(&b, raw, len, &e);
    t = lap(c, CHAIN_PHASE_DECODE, t);
    if (rc < 0) {
        free(raw);
        return rc;
    }
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
    t = lap(c, CHAIN_PHASE_CHECK, t);
    if (rc == 0) /* a full queue or no memory only costs the overlap */
        (void)prefetch_sigs(c, &b, &h);
    (void)lap(c, CHAIN_PHASE_SIGHASH, t);
    if (rc == 0) {
        keep_ahead(c, raw, len, &b);
    } else {
        block_free(&b);
        free(raw);
    }
    *hash = h;
    return rc;
}

static int submit_one(chain_t *c, const uint8_t *data, size_t len, uint64_t now,
                      chain_status_t *status, hash32_t *hash, err_t *e)
{
    block_t b;
    uint8_t *kept = NULL; /* the bytes of a decoding kept by chain_prefetch */
    uint64_t t = phase_start(c->timed);
    bool checked = take_ahead(c, data, len, &b, &kept);
    int rc = checked ? 0 : block_decode(&b, data, len, e);
    t = lap(c, CHAIN_PHASE_DECODE, t);
    if (rc < 0)
        return rc;
    block_header_hash(hash, &b.header);
    chain_entry_t *known = hmap_get(c->index, hash->b);
    if (known || hmap_get(c->orphans, hash->b)) {
        block_free(&b);
        free(kept);
        if (known && descends_from_invalid(c, known))
            return err_set(e, ERR_BAD_PREVIOUS, "a block already found invalid, or a "
                           "descendant of one");
        *status = CHAIN_KNOWN;
        return 0;
    }
    t = phase_start(c->timed);
    rc = checked ? 0 : block_check(&b, c->params, e); /* the same bytes passed it */
    (void)lap(c, CHAIN_PHASE_CHECK, t);
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
        if (rc != 0) /* an entry whose block reached no store (a write failed) is forgotten */
            drop_unstored(c);
        c->unstored.entry = NULL;
        if (rc == 0)
            *status = chain_is_main(c, entry) ? CHAIN_TIP : CHAIN_SIDE;
    }
    block_free(&b);
    free(kept);
    return rc;
}

int chain_submit_block(chain_t *c, const uint8_t *data, size_t len, uint64_t now,
                       chain_status_t *status, hash32_t *hash, err_t *e)
{
    uint64_t started_ns = clock_ns();
    int rc = submit_one(c, data, len, now, status, hash, e);
    if (rc == 0 && *status == CHAIN_TIP)
        metrics_block_connect_observe((clock_ns() - started_ns) / 1000);
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

/* Writes the genesis block and its allocations in w: spendable at once, so
 * not coinbase coins. */
static int write_genesis(store_write_t *w, const block_t *b, const mp_buf_t *raw,
                         const chain_entry_t *entry, err_t *e)
{
    int rc = store_put_block(w, &entry->hash, raw->data, raw->len, e);
    if (rc == 0)
        rc = put_index(w, entry, e);
    for (size_t j = 0; rc == 0 && j < b->txs[0].n_outputs; j++) {
        const tx_output_t *out = &b->txs[0].outputs[j];
        store_coin_t coin = {out->amount, 0, false, out->script, out->script_len};
        rc = store_add_coin(w, &b->txids[0], (uint32_t)j, &coin, e);
    }
    if (rc == 0)
        rc = store_put_tx(w, &b->txids[0], &entry->hash, e);
    if (rc == 0)
        rc = store_connect(w, &entry->hash, 0, e);
    return rc == 0 ? store_index_block(w, b, &entry->hash, 0, true, e) : rc;
}

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
    chain_entry_t *entry = NULL;
    if (strcmp(hex, c->params->genesis_hash) != 0)
        rc = err_set(e, ERR_INTERNAL, "the %s genesis block hashes to %s, not the pinned hash",
                     c->params->name, hex);
    else if (!(entry = new_entry(c, &hash, &b.header, NULL)))
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    store_write_t *w;
    if (rc == 0 && (rc = store_write_begin(c->store, &w, e)) == 0) {
        entry->status = STORE_VALID;
        rc = store_write_end(&w, write_genesis(w, &b, &buf, entry, e), e);
    }
    block_free(&b);
    mp_buf_free(&buf);
    if (rc == 0 && main_push(c, entry) < 0)
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    return rc;
}

/* Every index record into the in-memory index; *tip gets the tip's hash
 * (*has_tip false in a store without one). */
static int read_index(chain_t *c, hash32_t *tip, bool *has_tip, err_t *e)
{
    store_read_t *r;
    store_iter_t *it = NULL;
    int rc = store_read_begin(c->store, &r, e);
    if (rc < 0)
        return rc;
    rc = store_iter_index(r, &it, e);
    hash32_t hash;
    store_index_rec_t rec;
    while (rc == 0 && (rc = store_next_index(it, &hash, &rec, e)) == 1) {
        chain_entry_t *entry = calloc(1, sizeof *entry);
        if (!entry || hmap_put(c->index, hash.b, entry) < 0) {
            free(entry);
            rc = err_set(e, ERR_INTERNAL, "out of memory loading the index");
            break;
        }
        *entry = (chain_entry_t){hash, rec.header, rec.height, rec.chainwork, rec.status, NULL};
        rc = 0;
    }
    store_iter_end(&it);
    if (rc == 0)
        rc = store_get_tip(r, tip, NULL, e);
    *has_tip = rc == 0;
    if (rc == -(int)ERR_NOT_FOUND)
        rc = 0;
    store_read_end(&r);
    return rc;
}

static int load_index(chain_t *c, err_t *e)
{
    hash32_t tip_hash;
    bool has_tip;
    int rc = read_index(c, &tip_hash, &has_tip, e);
    if (rc < 0)
        return rc;
    if (hmap_count(c->index) == 0)
        return create_genesis(c, e);
    if (!has_tip)
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
               unsigned threads, sigcache_t *cache, const chain_hooks_t *hooks, err_t *e)
{
    chain_t *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return err_set(e, ERR_INTERNAL, "out of memory");
    c->params = params;
    c->cache = cache;
    if (hooks)
        c->hooks = *hooks;
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
    while (c->n_ahead)
        drop_ahead(c, c->n_ahead - 1);
    vpool_destroy(&c->pool);
    store_close(&c->store);
    free(c->main);
    free(c);
    *cp = NULL;
}
