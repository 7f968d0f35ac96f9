/* worker: the mining threads (DESIGN §4.4). One pool of N threads grinds the
 * work in force; the client hands it new work and takes found blocks.
 *
 * Nonces: thread i of N searches the 64-bit nonces whose high half is
 * i, i+N, i+2N, … (each high half's 2^32 low halves in order), so ranges are
 * disjoint within a process; the extranonce keeps processes apart (job.h).
 *
 * Job switching: worker_pool_set_work() bumps an atomic generation counter;
 * each thread compares it with its own every WORKER_CHUNK nonces (a relaxed
 * load, no lock on the hot path) and, when it moved, takes the new work under
 * the pool's mutex. A chunk takes well under a millisecond with the vector
 * kernels, so every thread is on new work within milliseconds.
 *
 * Solutions: a thread checks each kernel candidate in full (block_hash_meets
 * on OpenSSL's hash of the header). The first valid one of a generation ends
 * it for every thread (a second block of the same work would only be a
 * sibling, so other threads' finds of it are dropped) and goes to a bounded
 * queue; the pool then idles until new work comes. The queue's file
 * descriptor wakes the client's poll loop. */
#ifndef MINERD_WORKER_H
#define MINERD_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"
#include "job.h"
#include "sha256d.h"

#define WORKER_CHUNK 4096u   /* nonces between generation checks; divides 2^32 */
#define WORKER_QUEUE 16      /* found blocks waiting for the client at most */
#define WORKER_MAX_THREADS 1024

typedef struct worker_pool worker_pool_t;

typedef struct {
    unsigned threads;               /* 1 .. WORKER_MAX_THREADS */
    const sha256d_kernel_t *kernel; /* supported by this CPU */
    bool pin;                       /* pin thread i to the i-th CPU this process may use */
} worker_config_t;

typedef struct {
    job_work_t work;     /* the work it was found for */
    uint64_t generation; /* of that work */
    uint64_t nonce;
    hash32_t hash;       /* the block hash, meeting work.bits */
} worker_solution_t;

/* The first nonce in start .. start+count-1 (count >= 1, no wrap past
 * 2^64-1) whose block hash meets work->bits: kernel k scans with sw (made by
 * sha256d_work_init() for work->header and sha256d_target_word(work->bits))
 * and each candidate is checked in full (block_hash_meets on OpenSSL's
 * hash). True with *nonce and the block hash in *hash; false if none. */
bool worker_search(const sha256d_kernel_t *k, sha256d_work_t *sw, const job_work_t *work,
                   uint64_t start, uint64_t count, uint64_t *nonce, hash32_t *hash);

/* The CPUs this process may run on (its affinity mask), at least 1. */
unsigned worker_cpu_count(void);
/* The i-th of them (i modulo their number), as pinned thread i uses; -1 when
 * the mask cannot be read. */
int worker_cpu_nth(unsigned i);

/* Starts cfg->threads threads, idle until worker_pool_set_work(). Pinning
 * that the OS refuses is logged and skipped. ERR_INTERNAL when threads or the
 * wake-up pipe cannot be had. */
int worker_pool_new(worker_pool_t **pool, const worker_config_t *cfg, err_t *e)
    __attribute__((warn_unused_result));
/* Stops and joins the threads, frees the pool; *pool becomes NULL. */
void worker_pool_destroy(worker_pool_t **pool);

/* Replaces the work of every thread (a copy is taken); NULL idles them.
 * Returns the new generation. Threads drop the old work within one chunk. */
uint64_t worker_pool_set_work(worker_pool_t *pool, const job_work_t *work);
/* The generation every thread has reached: the least over the threads of
 * the last generation each one took up (working or idle). Once it is at
 * least what worker_pool_set_work() returned, no thread grinds older work. */
uint64_t worker_pool_min_generation(worker_pool_t *pool);
/* When thread i took up its latest generation (CLOCK_MONOTONIC, ns): with
 * worker_pool_min_generation(), how fast the threads themselves switched,
 * whatever delays the thread that watches them. */
uint64_t worker_pool_pickup_ns(worker_pool_t *pool, unsigned i);
/* Whether threads have work to grind (set, not yet solved). */
bool worker_pool_busy(worker_pool_t *pool);

/* Pops the oldest found block into *out: true, or false when none waits. */
bool worker_pool_take(worker_pool_t *pool, worker_solution_t *out);
/* Readable while found blocks wait (worker_pool_take() empties it with the
 * queue). Owned by the pool. */
int worker_pool_fd(const worker_pool_t *pool);

unsigned worker_pool_threads(const worker_pool_t *pool);
/* Nonces thread i has hashed since the pool started (relaxed: a rate meter). */
uint64_t worker_pool_hashes(worker_pool_t *pool, unsigned i);
/* CPU seconds thread i has used (its CPU-time clock): rates per CPU-second
 * compare kernels fairly on a machine that other processes share. */
double worker_pool_cpu_seconds(worker_pool_t *pool, unsigned i);

#endif
