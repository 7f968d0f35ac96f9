/* journal: the mempool's durable copy, written by group commit (DESIGN §4.1).
 *
 * The node changes its in-memory mempool under its lock and queues here what
 * the store's mempool table must follow: a put of a record, a delete, a
 * change of flags, each op with the next sequence number. One thread, the
 * committer, takes everything queued, applies it in order in ONE store
 * write, commits, syncs the store (store_sync: the meta page too, so that
 * the commit needs no later one to survive a power cut) and then publishes
 * `durable`: every op up to that sequence number is on disk. A submitter
 * waits for durable >= its op's sequence number (its ticket) before it
 * answers ok: many submitters, one sync.
 *
 * A put is applied only if, inside that write, every coin its transaction
 * spends is unspent (so it is not confirmed either: its block spent them):
 * a put that lost a race with a block that confirmed the transaction or
 * spent one of its coins is skipped, whichever of the two writes came first
 * (a block's own write takes out the records of what it confirms). A
 * delete or a change of flags of an absent record does nothing.
 *
 * Bounds: at most max_ops ops, holding at most max_bytes of transactions,
 * wait at once (queued or being committed). A put or a change of flags that
 * does not fit is refused with ERR_MEMPOOL_FULL (busy: retry); a delete
 * waits for room instead, since what leaves the pool must leave the table,
 * and the committer, needing nothing from the caller, makes room within a
 * commit. So a delete must never be queued by a thread holding a store
 * write (the committer would wait for it).
 *
 * A commit that fails (the store's error: disk full, map full) is logged and
 * retried after a pause growing to a second, so nothing counts as durable
 * that is not on disk; at close, one that still fails is given up (and
 * logged), as no one waits then.
 *
 * Threads: every function from any thread. Subscribers run on the
 * committer's thread after durable moved; they must not wait on the journal
 * nor queue into it. */
#ifndef CHAIND_JOURNAL_H
#define CHAIND_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"
#include "store.h"

#define JOURNAL_DEFAULT_MAX_OPS 4096
#define JOURNAL_DEFAULT_MAX_BYTES ((size_t)32 << 20)
#define JOURNAL_MAX_SUBSCRIBERS 4

typedef struct journal journal_t;

/* Called with the new durable sequence number. */
typedef void (*journal_notify_fn)(void *ctx, uint64_t durable);

typedef struct {
    uint64_t commits;  /* group commits made */
    uint64_t ops;      /* ops they applied or skipped */
    uint64_t skipped;  /* puts skipped: confirmed, or a coin spent, by a block */
    uint64_t failures; /* commits that failed (and were retried) */
    size_t waiting;    /* ops not yet durable */
    /* with journal_time() on (else 0): nanoseconds the puts made durable
     * waited from queued to durable, summed, and how many; the committer's
     * writes with their commits, and its store_sync()s */
    uint64_t put_wait_ns, puts_timed, commit_ns, sync_ns;
} journal_stats_t;

/* Starts the committer on s (borrowed: it outlives *j). max_ops of 0 and
 * max_bytes below TX_MAX_SIZE take the defaults' places (one transaction
 * always fits). ERR_INTERNAL when memory or a thread runs out. */
int journal_open(journal_t **j, store_t *s, size_t max_ops, size_t max_bytes, err_t *e)
    __attribute__((warn_unused_result));
/* Commits everything queued, stops the committer and frees; *j becomes
 * NULL. Safe on NULL. No one may be waiting or queueing. */
void journal_close(journal_t **j);

/* 0 when a put of len bytes would be taken now, else ERR_MEMPOOL_FULL (as
 * journal_put's). Only a caller that is the sole producer (the node, under
 * its lock) may count on it afterwards. */
int journal_room(journal_t *j, size_t len, err_t *e) __attribute__((warn_unused_result));
/* Queues a put of txid's record (raw copied): 0 with *seq, ERR_MEMPOOL_FULL
 * when it does not fit, ERR_INTERNAL when memory runs out. */
int journal_put(journal_t *j, const hash32_t *txid, const store_mempool_rec_t *rec,
                uint64_t *seq, err_t *e) __attribute__((warn_unused_result));
/* Queues new flags for txid's record: 0 with *seq, or ERR_MEMPOOL_FULL. */
int journal_set_flags(journal_t *j, const hash32_t *txid, uint8_t flags, uint64_t *seq,
                      err_t *e) __attribute__((warn_unused_result));
/* Queues the delete of txid's record, waiting for room; its sequence number. */
uint64_t journal_delete(journal_t *j, const hash32_t *txid);

/* The sequence number of the last op queued (0: none yet), and the one up to
 * which every op is on disk. */
uint64_t journal_last(journal_t *j);
uint64_t journal_durable(journal_t *j);
/* Waits until journal_durable(j) >= seq. */
void journal_wait(journal_t *j, uint64_t seq);

/* Adds fn(ctx, durable) to what runs after each commit: a slot number, or
 * -1 when all JOURNAL_MAX_SUBSCRIBERS are taken. */
int journal_subscribe(journal_t *j, journal_notify_fn fn, void *ctx);
/* Removes a subscriber; once this returns, fn is not running and never runs
 * again. */
void journal_unsubscribe(journal_t *j, int slot);

void journal_stats(journal_t *j, journal_stats_t *st);
/* Starts or stops the timers of journal_stats (phase.h: off, no clock is
 * read). Call it while nothing is queued (node_open does, before any). */
void journal_time(journal_t *j, bool on);

#endif
