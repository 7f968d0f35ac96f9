#include "journal.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "phase.h"
#include "tx.h"

#define RETRY_FIRST_MS 10
#define RETRY_MAX_MS 1000
#define RETRIES_AT_CLOSE 3
#define FAILURE_LOG_EVERY 100 /* a store that keeps failing: one line in so many */

typedef enum { OP_PUT, OP_DELETE, OP_FLAGS } op_kind_t;

typedef struct {
    op_kind_t kind;
    hash32_t txid;
    uint8_t flags;
    uint64_t arrival;
    uint8_t *raw; /* OP_PUT: owned */
    size_t len;
    uint64_t queued_ns; /* when timed (set by append) */
} op_t;

typedef struct {
    journal_notify_fn fn;
    void *ctx;
} sub_t;

/* The ops not yet durable sit in a ring, oldest first: the first n_busy
 * are the committer's (being applied; nobody else touches them), the
 * n_queued after them wait for the next commit. The op at ring position
 * head + i has sequence number durable + 1 + i. */
struct journal {
    store_t *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, room, done;
    op_t *ring;
    size_t cap, head, n_busy, n_queued;
    size_t bytes, max_bytes; /* of the puts' transactions, busy or queued */
    uint64_t durable;
    bool stop;
    bool timed; /* journal_time() */
    journal_stats_t st;
    pthread_mutex_t sub_lock; /* held while subscribers run */
    sub_t subs[JOURNAL_MAX_SUBSCRIBERS];
};

/* --- applying ops ----------------------------------------------------------- */

/* Whether r still lets the transaction be pending: every coin it spends
 * unspent. That also refuses a confirmed one, whose coins its own block
 * spent, so a look at the transaction index would add nothing. 1 yes, 0
 * no, or the store's error. */
static int still_pending(store_read_t *r, const op_t *op, err_t *e)
{
    tx_t tx;
    if (tx_decode(&tx, op->raw, op->len, NULL) < 0) /* the pool took it: never so */
        return 0;
    int rc = 1;
    for (size_t i = 0; rc == 1 && i < tx.n_inputs; i++) {
        store_coin_t coin;
        rc = store_get_coin(r, &tx.inputs[i].prev_txid, tx.inputs[i].index, &coin, e);
        rc = rc == 0 ? 1 : rc == -(int)ERR_NOT_FOUND ? 0 : rc;
    }
    tx_free(&tx);
    return rc;
}

static int apply_op(store_write_t *w, const op_t *op, uint64_t *skipped, err_t *e)
{
    int rc;
    switch (op->kind) {
    case OP_PUT:
        rc = still_pending(store_write_reader(w), op, e);
        if (rc == 0)
            ++*skipped;
        if (rc == 1) {
            store_mempool_rec_t rec = {op->flags, op->arrival, op->raw, op->len};
            rc = store_put_mempool(w, &op->txid, &rec, e);
        }
        /* a record the store refuses is dropped, not retried for ever */
        return rc == -(int)ERR_BAD_ENCODING ? 0 : rc;
    case OP_FLAGS:
        rc = store_set_mempool_flags(w, &op->txid, op->flags, e);
        /* gone, or unreadable (start-up drops it): nothing to flag */
        return rc == -(int)ERR_NOT_FOUND || rc == -(int)ERR_BAD_ENCODING ? 0 : rc;
    case OP_DELETE:
        return store_del_mempool(w, &op->txid, NULL, e);
    }
    return 0;
}

/* One write for the busy ops, committed and synced; *skipped counts the
 * puts it skipped; ns[0] and ns[1] get the write's and the sync's
 * nanoseconds when timed. */
static int commit_busy(journal_t *j, uint64_t *skipped, uint64_t ns[2], err_t *e)
{
    store_write_t *w;
    *skipped = 0;
    uint64_t t = phase_start(j->timed);
    int rc = store_write_begin(j->store, &w, e);
    for (size_t i = 0; rc == 0 && i < j->n_busy; i++)
        rc = apply_op(w, &j->ring[(j->head + i) % j->cap], skipped, e);
    if (rc == 0)
        rc = store_write_commit(&w, e);
    else
        store_write_abort(&w);
    t = phase_stop(j->timed, &ns[0], t);
    rc = rc == 0 ? store_sync(j->store, e) : rc;
    (void)phase_stop(j->timed, &ns[1], t);
    return rc;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Commits the busy ops, retrying a failing store; false when it gave up
 * (only while closing). */
static bool commit_or_retry(journal_t *j, uint64_t *skipped, uint64_t ns[2])
{
    unsigned pause = RETRY_FIRST_MS;
    for (unsigned tries = 1;; tries++) {
        err_t e;
        if (commit_busy(j, skipped, ns, &e) == 0)
            return true;
        pthread_mutex_lock(&j->lock);
        bool closing = j->stop;
        uint64_t failures = ++j->st.failures;
        pthread_mutex_unlock(&j->lock);
        if (closing && tries >= RETRIES_AT_CLOSE) {
            LOGERR("mempool journal: %zu change(s) not stored at close: %s", j->n_busy,
                   e.message);
            return false;
        }
        if (failures % FAILURE_LOG_EVERY == 1)
            LOGERR("mempool journal: a commit failed (%" PRIu64 " so far), retrying: %s",
                   failures, e.message);
        sleep_ms(pause);
        pause = pause * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : pause * 2;
    }
}

static void notify(journal_t *j, uint64_t durable)
{
    pthread_mutex_lock(&j->sub_lock);
    for (int i = 0; i < JOURNAL_MAX_SUBSCRIBERS; i++)
        if (j->subs[i].fn)
            j->subs[i].fn(j->subs[i].ctx, durable);
    pthread_mutex_unlock(&j->sub_lock);
}

/* Adds what the commit of the busy ops took to the stats (lock held). */
static void time_busy(journal_t *j, const uint64_t ns[2])
{
    uint64_t now = phase_start(j->timed);
    for (size_t i = 0; j->timed && i < j->n_busy; i++) {
        const op_t *op = &j->ring[(j->head + i) % j->cap];
        if (op->kind == OP_PUT) {
            j->st.put_wait_ns += now - op->queued_ns;
            j->st.puts_timed++;
        }
    }
    j->st.commit_ns += ns[0];
    j->st.sync_ns += ns[1];
}

/* Frees the busy ops and makes them durable (or, when given up, drops them
 * without moving durable). Called with the lock held. */
static void retire_busy(journal_t *j, bool stored, uint64_t skipped)
{
    for (size_t i = 0; i < j->n_busy; i++) {
        op_t *op = &j->ring[(j->head + i) % j->cap];
        j->bytes -= op->len;
        free(op->raw);
        op->raw = NULL;
    }
    j->head = (j->head + j->n_busy) % j->cap;
    if (stored) {
        j->durable += j->n_busy;
        j->st.commits++;
        j->st.ops += j->n_busy;
        j->st.skipped += skipped;
    }
    j->n_busy = 0;
    pthread_cond_broadcast(&j->done);
    pthread_cond_broadcast(&j->room);
}

static void *committer(void *arg)
{
    journal_t *j = arg;
    pthread_mutex_lock(&j->lock);
    for (;;) {
        while (j->n_queued == 0 && !j->stop)
            pthread_cond_wait(&j->work, &j->lock);
        if (j->n_queued == 0)
            break;
        j->n_busy = j->n_queued;
        j->n_queued = 0;
        pthread_mutex_unlock(&j->lock);
        uint64_t skipped, ns[2] = {0, 0};
        bool stored = commit_or_retry(j, &skipped, ns);
        pthread_mutex_lock(&j->lock);
        if (stored)
            time_busy(j, ns);
        retire_busy(j, stored, skipped);
        uint64_t durable = j->durable;
        pthread_mutex_unlock(&j->lock);
        if (stored)
            notify(j, durable);
        pthread_mutex_lock(&j->lock);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

/* --- queueing ---------------------------------------------------------------- */

static bool fits(const journal_t *j, size_t len)
{
    return j->n_busy + j->n_queued < j->cap && j->bytes + len <= j->max_bytes;
}

/* Appends op (taking its raw) and wakes the committer. Lock held; room
 * checked. */
static uint64_t append(journal_t *j, const op_t *op)
{
    size_t n = j->n_busy + j->n_queued;
    j->ring[(j->head + n) % j->cap] = *op;
    j->ring[(j->head + n) % j->cap].queued_ns = phase_start(j->timed);
    j->n_queued++;
    j->bytes += op->len;
    pthread_cond_signal(&j->work);
    return j->durable + n + 1;
}

static int busy(err_t *e)
{
    return err_set(e, ERR_MEMPOOL_FULL, "busy: the mempool's writes are behind, retry");
}

int journal_room(journal_t *j, size_t len, err_t *e)
{
    pthread_mutex_lock(&j->lock);
    bool ok = fits(j, len);
    pthread_mutex_unlock(&j->lock);
    return ok ? 0 : busy(e);
}

int journal_put(journal_t *j, const hash32_t *txid, const store_mempool_rec_t *rec,
                uint64_t *seq, err_t *e)
{
    op_t op = {OP_PUT, *txid, rec->flags, rec->arrival, malloc(rec->len ? rec->len : 1),
               rec->len, 0};
    if (!op.raw)
        return err_set(e, ERR_INTERNAL, "out of memory");
    memcpy(op.raw, rec->raw, rec->len);
    pthread_mutex_lock(&j->lock);
    bool ok = fits(j, op.len);
    if (ok)
        *seq = append(j, &op);
    pthread_mutex_unlock(&j->lock);
    if (ok)
        return 0;
    free(op.raw);
    return busy(e);
}

int journal_set_flags(journal_t *j, const hash32_t *txid, uint8_t flags, uint64_t *seq,
                      err_t *e)
{
    op_t op = {OP_FLAGS, *txid, flags, 0, NULL, 0, 0};
    pthread_mutex_lock(&j->lock);
    bool ok = fits(j, 0);
    if (ok)
        *seq = append(j, &op);
    pthread_mutex_unlock(&j->lock);
    return ok ? 0 : busy(e);
}

uint64_t journal_delete(journal_t *j, const hash32_t *txid)
{
    op_t op = {OP_DELETE, *txid, 0, 0, NULL, 0, 0};
    pthread_mutex_lock(&j->lock);
    while (!fits(j, 0))
        pthread_cond_wait(&j->room, &j->lock);
    uint64_t seq = append(j, &op);
    pthread_mutex_unlock(&j->lock);
    return seq;
}

/* --- waiting and watching ------------------------------------------------------ */

uint64_t journal_last(journal_t *j)
{
    pthread_mutex_lock(&j->lock);
    uint64_t last = j->durable + j->n_busy + j->n_queued;
    pthread_mutex_unlock(&j->lock);
    return last;
}

uint64_t journal_durable(journal_t *j)
{
    pthread_mutex_lock(&j->lock);
    uint64_t d = j->durable;
    pthread_mutex_unlock(&j->lock);
    return d;
}

void journal_wait(journal_t *j, uint64_t seq)
{
    pthread_mutex_lock(&j->lock);
    while (j->durable < seq)
        pthread_cond_wait(&j->done, &j->lock);
    pthread_mutex_unlock(&j->lock);
}

int journal_subscribe(journal_t *j, journal_notify_fn fn, void *ctx)
{
    int slot = -1;
    pthread_mutex_lock(&j->sub_lock);
    for (int i = 0; slot < 0 && i < JOURNAL_MAX_SUBSCRIBERS; i++)
        if (!j->subs[i].fn) {
            j->subs[i] = (sub_t){fn, ctx};
            slot = i;
        }
    pthread_mutex_unlock(&j->sub_lock);
    return slot;
}

void journal_unsubscribe(journal_t *j, int slot)
{
    if (slot < 0 || slot >= JOURNAL_MAX_SUBSCRIBERS)
        return;
    pthread_mutex_lock(&j->sub_lock);
    j->subs[slot] = (sub_t){NULL, NULL};
    pthread_mutex_unlock(&j->sub_lock);
}

void journal_stats(journal_t *j, journal_stats_t *st)
{
    pthread_mutex_lock(&j->lock);
    *st = j->st;
    st->waiting = j->n_busy + j->n_queued;
    pthread_mutex_unlock(&j->lock);
}

void journal_time(journal_t *j, bool on)
{
    pthread_mutex_lock(&j->lock);
    j->timed = on;
    pthread_mutex_unlock(&j->lock);
}

/* --- open and close ------------------------------------------------------------ */

int journal_open(journal_t **out, store_t *s, size_t max_ops, size_t max_bytes, err_t *e)
{
    *out = NULL;
    journal_t *j = calloc(1, sizeof *j);
    if (!j)
        return err_set(e, ERR_INTERNAL, "out of memory");
    j->store = s;
    j->cap = max_ops ? max_ops : JOURNAL_DEFAULT_MAX_OPS;
    j->max_bytes = max_bytes >= TX_MAX_SIZE ? max_bytes : JOURNAL_DEFAULT_MAX_BYTES;
    j->ring = calloc(j->cap, sizeof *j->ring);
    pthread_mutex_init(&j->lock, NULL);
    pthread_mutex_init(&j->sub_lock, NULL);
    pthread_cond_init(&j->work, NULL);
    pthread_cond_init(&j->room, NULL);
    pthread_cond_init(&j->done, NULL);
    if (!j->ring || pthread_create(&j->thread, NULL, committer, j) != 0) {
        free(j->ring);
        free(j);
        return err_set(e, ERR_INTERNAL, "cannot start the mempool journal (out of memory or "
                       "threads)");
    }
    *out = j;
    return 0;
}

void journal_close(journal_t **jp)
{
    journal_t *j = *jp;
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stop = true;
    pthread_cond_signal(&j->work);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL); /* it ends with nothing queued */
    free(j->ring);
    pthread_mutex_destroy(&j->lock);
    pthread_mutex_destroy(&j->sub_lock);
    pthread_cond_destroy(&j->work);
    pthread_cond_destroy(&j->room);
    pthread_cond_destroy(&j->done);
    free(j);
    *jp = NULL;
}
