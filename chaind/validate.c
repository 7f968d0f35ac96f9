#include "validate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <inttypes.h>

#include "hex.h"
#include "hmap.h"
#include "phase.h"

/* --- signature cache --------------------------------------------------- */

/* Entries are keyed by SHA256(pubkey ‖ sig ‖ sighash); a ring of the keys in
 * insertion order gives the oldest to evict, so the cache never grows past
 * its bound however many signatures pass through. */
struct sigcache {
    pthread_mutex_t lock;
    hmap_t *map;
    uint8_t *ring; /* max * 32 bytes */
    size_t max, next;
    uint64_t hits, misses;
};

sigcache_t *sigcache_new(size_t max_entries)
{
    sigcache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->max = max_entries ? max_entries : 1;
    c->map = hmap_new(32);
    c->ring = calloc(c->max, 32);
    if (!c->map || !c->ring) {
        sigcache_destroy(&c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void sigcache_destroy(sigcache_t **c)
{
    if (!*c)
        return;
    if ((*c)->map)
        pthread_mutex_destroy(&(*c)->lock);
    hmap_destroy(&(*c)->map);
    free((*c)->ring);
    free(*c);
    *c = NULL;
}

static void entry_key(uint8_t key[32], const uint8_t *pubkey, const uint8_t *sig,
                      const hash32_t *sighash)
{
    uint8_t buf[KEY_PUBKEY_LEN + KEY_SIG_LEN + 32];
    memcpy(buf, pubkey, KEY_PUBKEY_LEN);
    memcpy(buf + KEY_PUBKEY_LEN, sig, KEY_SIG_LEN);
    memcpy(buf + KEY_PUBKEY_LEN + KEY_SIG_LEN, sighash->b, 32);
    hash_sha256(key, buf, sizeof buf);
}

bool sigcache_verify(sigcache_t *c, const uint8_t pubkey[KEY_PUBKEY_LEN],
                     const uint8_t sig[KEY_SIG_LEN], const hash32_t *sighash)
{
    if (!c)
        return key_verify(pubkey, sig, sighash->b, 32);
    uint8_t key[32];
    entry_key(key, pubkey, sig, sighash);
    pthread_mutex_lock(&c->lock);
    bool hit = hmap_get(c->map, key) != NULL;
    if (hit)
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->lock);
    if (hit)
        return true;
    /* verify outside the lock: it is the expensive part */
    if (!key_verify(pubkey, sig, sighash->b, 32))
        return false;
    pthread_mutex_lock(&c->lock);
    if (!hmap_get(c->map, key)) {
        uint8_t *slot = c->ring + c->next * 32;
        if (hmap_count(c->map) >= c->max)
            hmap_del(c->map, slot);
        memcpy(slot, key, 32);
        /* a failed insert only costs a later re-verification */
        if (hmap_put(c->map, slot, slot) == 0)
            c->next = (c->next + 1) % c->max;
    }
    pthread_mutex_unlock(&c->lock);
    return true;
}

void sigcache_stats(sigcache_t *c, uint64_t *hits, uint64_t *misses, size_t *entries)
{
    pthread_mutex_lock(&c->lock);
    *hits = c->hits;
    *misses = c->misses;
    *entries = hmap_count(c->map);
    pthread_mutex_unlock(&c->lock);
}

static bool cache_check(void *ctx, const uint8_t pubkey[KEY_PUBKEY_LEN],
                        const uint8_t sig[KEY_SIG_LEN], const hash32_t *sighash)
{
    return sigcache_verify(ctx, pubkey, sig, sighash);
}

static int run_job(sigcache_t *cache, const script_job_t *job, err_t *e)
{
    script_checker_t checker = {cache_check, cache};
    err_t se;
    if (script_verify(job->unlocking, job->unlocking_len, job->locking, job->locking_len,
                      &job->sighash, &checker, &se) == 0)
        return 0;
    return err_set(e, se.code, "transaction %u input %u: %s", job->tx_index, job->input_index,
                   se.message);
}

int validate_scripts(sigcache_t *cache, const script_job_t *jobs, size_t n, err_t *e)
{
    for (size_t i = 0; i < n; i++) {
        int rc = run_job(cache, &jobs[i], e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

bool validate_input_sig(const tx_input_t *in, const hash32_t *sighash, vpool_sig_t *out)
{
    if (!script_p2pkh_unlock_parse(in->script, in->script_len, out->sig, out->pubkey))
        return false;
    out->sighash = *sighash;
    return true;
}

/* --- worker pool ------------------------------------------------------- */

/* Two kinds of work, both taken one item at a time (an item is a signature
 * check, 40–75 µs with libsodium on the development machine: bench_validate's
 * bound gave 13 000–25 000 a second a thread; a lock or an atomic a check
 * costs nothing next to it, and threads never sit idle behind a chunk
 * another one holds at the end):
 *   - the batch of vpool_run(), whose caller waits: first;
 *   - prefetched blocks' signatures, oldest block first, when no batch has
 *     work left. */
typedef struct {
    hash32_t id;
    vpool_sig_t *sigs;
    size_t n, next; /* next: the first not yet taken */
} prefetch_t;

struct vpool {
    sigcache_t *cache;
    pthread_t *threads;
    unsigned n_threads;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    bool stop;
    /* the batch */
    const script_job_t *jobs;
    size_t n_jobs;
    atomic_size_t next;
    atomic_bool failed;
    unsigned busy; /* threads inside the batch */
    err_t error;
    /* prefetched blocks, a ring oldest first */
    prefetch_t queue[VPOOL_MAX_PREFETCH];
    size_t q_head, q_len;
    /* the blocks queued last, so that one offered twice (read ahead, then
     * submitted) is queued once */
    hash32_t recent[2 * VPOOL_MAX_PREFETCH];
    size_t recent_next;
    bool recent_any[2 * VPOOL_MAX_PREFETCH];
    bool timed;
    uint64_t *timers; /* VPOOL_PHASES counters: the caller's when timed */
    uint64_t untimed[VPOOL_PHASES];
};

static bool batch_has_work(const vpool_t *p)
{
    return p->jobs && atomic_load(&p->next) < p->n_jobs && !atomic_load(&p->failed);
}

static void drain_batch(vpool_t *p)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n_jobs || atomic_load(&p->failed))
            return;
        err_t e;
        if (run_job(p->cache, &p->jobs[i], &e) < 0) {
            pthread_mutex_lock(&p->lock);
            if (!atomic_load(&p->failed))
                p->error = e;
            atomic_store(&p->failed, true);
            pthread_mutex_unlock(&p->lock);
            return;
        }
    }
}

static prefetch_t *queued(vpool_t *p, size_t k)
{
    return &p->queue[(p->q_head + k) % VPOOL_MAX_PREFETCH];
}

/* Takes the next signature of queued block k (lock held) into *out; a block
 * whose signatures are all taken leaves the queue (the takers hold copies). */
static void take_sig(vpool_t *p, size_t k, vpool_sig_t *out)
{
    prefetch_t *t = queued(p, k);
    *out = t->sigs[t->next++];
    if (t->next < t->n)
        return;
    free(t->sigs);
    for (; k > 0; k--) /* close the gap: the ring stays oldest first */
        *queued(p, k) = *queued(p, k - 1);
    p->q_head = (p->q_head + 1) % VPOOL_MAX_PREFETCH;
    p->q_len--;
}

/* Checks one signature into the cache with the lock released; a bad one is
 * simply not cached, and its block's script check will say so. */
static void check_sig(vpool_t *p, const vpool_sig_t *sig)
{
    pthread_mutex_unlock(&p->lock);
    (void)sigcache_verify(p->cache, sig->pubkey, sig->sig, &sig->sighash);
    pthread_mutex_lock(&p->lock);
}

static void *worker(void *arg)
{
    vpool_t *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        if (batch_has_work(p)) {
            p->busy++;
            pthread_mutex_unlock(&p->lock);
            drain_batch(p);
            pthread_mutex_lock(&p->lock);
            if (--p->busy == 0)
                pthread_cond_signal(&p->done);
        } else if (p->q_len > 0) {
            vpool_sig_t sig;
            take_sig(p, 0, &sig);
            check_sig(p, &sig);
        } else {
            pthread_cond_wait(&p->work, &p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

vpool_t *vpool_new(unsigned threads, sigcache_t *cache)
{
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    vpool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cache = cache;
    p->timers = p->untimed;
    /* one thread a CPU: prefetched checks use every CPU while the caller
     * waits on the disk; in a batch the caller works too, one thread more */
    p->threads = calloc(threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            vpool_destroy(&p);
            return NULL;
        }
        p->n_threads++;
    }
    return p;
}

void vpool_destroy(vpool_t **pp)
{
    vpool_t *p = *pp;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    for (size_t k = 0; k < p->q_len; k++)
        free(queued(p, k)->sigs);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
    *pp = NULL;
}

unsigned vpool_threads(const vpool_t *p) { return p->n_threads; }
void vpool_set_timers(vpool_t *p, uint64_t *ns)
{
    p->timed = ns != NULL;
    p->timers = ns ? ns : p->untimed;
}

/* The queue position of block id (lock held), or -1. */
static long find_queued(vpool_t *p, const hash32_t *id)
{
    for (size_t k = 0; id && k < p->q_len; k++)
        if (hash32_eq(&queued(p, k)->id, id))
            return (long)k;
    return -1;
}

static bool seen_locked(const vpool_t *p, const hash32_t *id)
{
    for (size_t k = 0; k < 2 * VPOOL_MAX_PREFETCH; k++)
        if (p->recent_any[k] && hash32_eq(&p->recent[k], id))
            return true;
    return false;
}

bool vpool_prefetched(vpool_t *p, const hash32_t *id)
{
    pthread_mutex_lock(&p->lock);
    bool seen = seen_locked(p, id);
    pthread_mutex_unlock(&p->lock);
    return seen;
}

int vpool_prefetch(vpool_t *p, const hash32_t *id, vpool_sig_t *sigs, size_t n)
{
    if (!p->cache || p->n_threads == 0 || n == 0) {
        free(sigs);
        return -1;
    }
    pthread_mutex_lock(&p->lock);
    int rc = 0;
    if (seen_locked(p, id)) {
        free(sigs);
    } else if (p->q_len == VPOOL_MAX_PREFETCH) {
        free(sigs);
        rc = -1;
    } else {
        *queued(p, p->q_len++) = (prefetch_t){*id, sigs, n, 0};
        p->recent[p->recent_next] = *id;
        p->recent_any[p->recent_next] = true;
        p->recent_next = (p->recent_next + 1) % (2 * VPOOL_MAX_PREFETCH);
        pthread_cond_broadcast(&p->work);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int vpool_run(vpool_t *p, const hash32_t *id, const script_job_t *jobs, size_t n, err_t *e)
{
    bool on = p->timed;
    uint64_t t = phase_start(on);
    pthread_mutex_lock(&p->lock);
    /* the block's own prefetched signatures first: its jobs then hit the
     * cache instead of checking the same signatures again */
    for (long k; (k = find_queued(p, id)) >= 0;) {
        vpool_sig_t sig;
        take_sig(p, (size_t)k, &sig);
        check_sig(p, &sig);
    }
    t = phase_stop(on, &p->timers[VPOOL_HELPING], t);
    if (n < 2 || p->n_threads == 0) {
        pthread_mutex_unlock(&p->lock);
        int rc = validate_scripts(p->cache, jobs, n, e);
        (void)phase_stop(on, &p->timers[VPOOL_SCRIPTS], t);
        return rc;
    }
    p->jobs = jobs;
    p->n_jobs = n;
    atomic_store(&p->next, 0);
    atomic_store(&p->failed, false);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    drain_batch(p);
    t = phase_stop(on, &p->timers[VPOOL_SCRIPTS], t);
    pthread_mutex_lock(&p->lock);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->lock);
    (void)phase_stop(on, &p->timers[VPOOL_WAITING], t);
    p->jobs = NULL;
    bool failed = atomic_load(&p->failed);
    err_t error = p->error;
    pthread_mutex_unlock(&p->lock);
    if (failed) {
        if (e)
            *e = error;
        return -(int)error.code;
    }
    return 0;
}

/* --- inputs ------------------------------------------------------------ */

static int store_view_get(void *ctx, const hash32_t *txid, uint32_t index, store_coin_t *coin,
                          err_t *e)
{
    return store_get_coin(ctx, txid, index, coin, e);
}

void validate_store_view(coin_view_t *view, store_read_t *r)
{
    *view = (coin_view_t){store_view_get, r};
}

int validate_tx_inputs(const tx_t *tx, const coin_view_t *view, uint64_t height,
                       uint32_t maturity, amount_t *fee, const hash32_t *sighash,
                       uint32_t tx_index, script_job_t *jobs, size_t *n_jobs, mp_buf_t *arena,
                       err_t *e)
{
    amount_t in_sum = 0, out_sum = 0;
    for (size_t i = 0; i < tx->n_inputs; i++) {
        const tx_input_t *in = &tx->inputs[i];
        store_coin_t coin;
        char hex[65];
        int rc = view->get(view->ctx, &in->prev_txid, in->index, &coin, e);
        if (rc == -(int)ERR_NOT_FOUND) {
            hex_encode(hex, in->prev_txid.b, 32);
            return err_set(e, ERR_UNKNOWN_UTXO, "input %zu spends %s:%u, which is not an "
                           "unspent output", i, hex, in->index);
        }
        if (rc < 0)
            return rc;
        if (coin.coinbase && height < coin.height + maturity)
            return err_set(e, ERR_IMMATURE_COINBASE, "input %zu spends a coinbase of height "
                           "%" PRIu64 " before %u confirmations", i, coin.height, maturity);
        if (!amount_add(&in_sum, coin.amount))
            return err_set(e, ERR_BAD_AMOUNT, "inputs sum over max money");
        if (jobs) {
            script_job_t *job = &jobs[(*n_jobs)++];
            *job = (script_job_t){
                .unlocking = in->script, .unlocking_len = in->script_len,
                /* an offset into the arena until validate_fix_jobs() */
                .locking = (const uint8_t *)(uintptr_t)arena->len,
                .locking_len = coin.script_len,
                .sighash = *sighash, .tx_index = tx_index, .input_index = (uint32_t)i,
            };
            mp_put_raw(arena, coin.script, coin.script_len);
            if (!mp_buf_ok(arena))
                return err_set(e, ERR_INTERNAL, "out of memory copying scripts");
        }
    }
    for (size_t i = 0; i < tx->n_outputs; i++)
        if (!amount_add(&out_sum, tx->outputs[i].amount))
            return err_set(e, ERR_BAD_AMOUNT, "outputs sum over max money");
    if (out_sum > in_sum)
        return err_set(e, ERR_INSUFFICIENT_FUNDS, "outputs (%" PRIu64 ") exceed inputs (%" PRIu64
                       ")", out_sum, in_sum);
    *fee = in_sum - out_sum;
    return 0;
}

void validate_fix_jobs(script_job_t *jobs, size_t n, const mp_buf_t *arena)
{
    static const uint8_t empty[1];
    for (size_t i = 0; i < n; i++)
        jobs[i].locking = arena->data ? arena->data + (uintptr_t)jobs[i].locking : empty;
}
