#define _GNU_SOURCE /* CPU_SET, sched_getaffinity, pthread_setaffinity_np */
#include "worker.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* One thread's counters on their own cache line: the client reads them while
 * the thread bumps them. */
typedef struct {
    _Alignas(64) atomic_uint_fast64_t hashes;
    atomic_uint_fast64_t seen_generation;
    atomic_uint_fast64_t pickup_ns; /* when seen_generation was stored */
    struct worker_pool *pool;
    pthread_t thread;
    unsigned index;
    int cpu; /* -1: not pinned */
} worker_thread_t;

struct worker_pool {
    atomic_uint_fast64_t generation; /* read by every thread each chunk */
    pthread_mutex_t lock;            /* guards the fields below */
    pthread_cond_t wake;
    job_work_t work;
    uint64_t work_generation, solved_generation;
    bool has_work, stop;
    worker_solution_t queue[WORKER_QUEUE];
    size_t queue_head, queue_len;
    int pipe_rd, pipe_wr;
    const sha256d_kernel_t *kernel;
    unsigned n_threads, started;
    worker_thread_t *threads;
};

static int allowed_cpus(cpu_set_t *set)
{
    CPU_ZERO(set);
    return sched_getaffinity(0, sizeof *set, set);
}

unsigned worker_cpu_count(void)
{
    cpu_set_t set;
    int n = allowed_cpus(&set) == 0 ? CPU_COUNT(&set) : 0;
    if (n <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (int)online : 1;
    }
    return (unsigned)n;
}

/* The i-th CPU of the set (i taken modulo its size), or -1. */
static int nth_cpu(const cpu_set_t *set, unsigned i)
{
    int count = CPU_COUNT(set);
    if (count <= 0)
        return -1;
    unsigned want = i % (unsigned)count;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, set) && want-- == 0)
            return cpu;
    return -1;
}

int worker_cpu_nth(unsigned i)
{
    cpu_set_t set;
    return allowed_cpus(&set) == 0 ? nth_cpu(&set, i) : -1;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Publishes that t has taken up generation gen. */
static void seen(worker_thread_t *t, uint64_t gen)
{
    atomic_store_explicit(&t->pickup_ns, monotonic_ns(), memory_order_relaxed);
    atomic_store_explicit(&t->seen_generation, gen, memory_order_release);
}

/* Ends the current work for all threads. Called with the lock held. */
static void bump_generation(worker_pool_t *p)
{
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_relaxed);
    pthread_cond_broadcast(&p->wake);
}

/* A checked solution: into the queue, and the work is done. Another thread's
 * block for work already solved is dropped: the same transactions on the same
 * parent, it could only be the first one's sibling. A block of work that was
 * merely replaced still goes: it may be as good (same parent, older mempool). */
static void found(worker_pool_t *p, const job_work_t *work, uint64_t gen, uint64_t nonce,
                  const hash32_t *hash)
{
    pthread_mutex_lock(&p->lock);
    if (p->solved_generation == gen) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->solved_generation = gen;
    if (p->has_work && p->work_generation == gen) {
        p->has_work = false;
        bump_generation(p);
    }
    if (p->queue_len == WORKER_QUEUE) {
        /* one block a generation: only a client that stopped reading gets here */
        LOGWARN("a found block was dropped: %d wait for the client already", WORKER_QUEUE);
    } else {
        worker_solution_t *s = &p->queue[(p->queue_head + p->queue_len++) % WORKER_QUEUE];
        s->work = *work;
        s->generation = gen;
        s->nonce = nonce;
        s->hash = *hash;
        /* a full pipe already says "readable": the byte is only a wake-up */
        ssize_t w = write(p->pipe_wr, "", 1);
        (void)w;
    }
    pthread_mutex_unlock(&p->lock);
}

/* Whether nonce really meets the target (the kernels only filter on the
 * hash's top word); *hash receives the block hash. */
static bool check(const job_work_t *work, uint64_t nonce, hash32_t *hash)
{
    block_header_t h;
    block_header_decode(&h, work->header);
    h.nonce = nonce;
    block_header_hash(hash, &h);
    return block_hash_meets(hash, work->bits);
}

bool worker_search(const sha256d_kernel_t *k, sha256d_work_t *sw, const job_work_t *work,
                   uint64_t start, uint64_t count, uint64_t *nonce, hash32_t *hash)
{
    uint64_t end = start + (count - 1); /* inclusive: start + count may be 2^64 */
    while (sha256d_scan(k, sw, start, end - start + 1, nonce)) {
        if (check(work, *nonce, hash))
            return true;
        if (*nonce == end)
            return false;
        start = *nonce + 1; /* H0 was the target's top word, the rest above */
    }
    return false;
}

/* Grinds work until the generation moves on or this thread's nonces run out. */
static void mine(worker_thread_t *t, const job_work_t *work, uint64_t gen)
{
    worker_pool_t *p = t->pool;
    sha256d_work_t sw;
    sha256d_work_init(&sw, work->header, sha256d_target_word(work->bits));
    uint64_t hi = t->index, cursor = hi << 32;
    while (atomic_load_explicit(&p->generation, memory_order_relaxed) == gen) {
        /* chunks aligned to WORKER_CHUNK never cross a high half */
        uint64_t n = WORKER_CHUNK - ((uint32_t)cursor & (WORKER_CHUNK - 1)), nonce, done = n;
        hash32_t hash;
        if (worker_search(p->kernel, &sw, work, cursor, n, &nonce, &hash)) {
            done = nonce - cursor + 1;
            found(p, work, gen, nonce, &hash);
        }
        atomic_fetch_add_explicit(&t->hashes, done, memory_order_relaxed);
        cursor += done;
        if ((uint32_t)cursor == 0) {
            hi += p->n_threads;
            if (hi > UINT32_MAX)
                return; /* 2^64 / N nonces searched: wait for new work */
            cursor = hi << 32;
        }
    }
}

static void *thread_main(void *arg)
{
    worker_thread_t *t = arg;
    worker_pool_t *p = t->pool;
    if (t->cpu >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(t->cpu, &one);
        int rc = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
        if (rc != 0)
            LOGDEBUG("thread %u: not pinned to CPU %d: %s", t->index, t->cpu, strerror(rc));
    }
    uint64_t mine_gen = 0;
    job_work_t work;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        uint64_t gen = atomic_load_explicit(&p->generation, memory_order_relaxed);
        if (p->has_work && p->work_generation != mine_gen) {
            work = p->work;
            mine_gen = p->work_generation;
            seen(t, mine_gen);
            pthread_mutex_unlock(&p->lock);
            mine(t, &work, mine_gen);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        /* idle (no work, solved, or this thread's nonces spent) */
        if (atomic_load_explicit(&t->seen_generation, memory_order_relaxed) != gen)
            seen(t, gen);
        pthread_cond_wait(&p->wake, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int worker_pool_new(worker_pool_t **out, const worker_config_t *cfg, err_t *e)
{
    assert(cfg->threads >= 1 && cfg->threads <= WORKER_MAX_THREADS && cfg->kernel);
    *out = NULL;
    worker_pool_t *p = calloc(1, sizeof *p);
    int fds[2];
    if (!p)
        return err_set(e, ERR_INTERNAL, "out of memory");
    p->threads = aligned_alloc(64, cfg->threads * sizeof *p->threads);
    bool piped = p->threads && pipe(fds) == 0;
    /* worker_pool_take() reads the pipe dry: it must not block */
    if (!piped || set_nonblock(fds[0]) < 0 || set_nonblock(fds[1]) < 0) {
        int err = errno;
        if (piped) {
            close(fds[0]);
            close(fds[1]);
        }
        free(p->threads);
        free(p);
        return err_set(e, ERR_INTERNAL, "cannot set up the worker threads: %s", strerror(err));
    }
    p->pipe_rd = fds[0];
    p->pipe_wr = fds[1];
    p->kernel = cfg->kernel;
    p->n_threads = cfg->threads;
    atomic_init(&p->generation, 0);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    cpu_set_t set;
    bool pin = cfg->pin && allowed_cpus(&set) == 0;
    for (unsigned i = 0; i < cfg->threads; i++) {
        worker_thread_t *t = &p->threads[i];
        memset(t, 0, sizeof *t);
        atomic_init(&t->hashes, 0);
        atomic_init(&t->seen_generation, 0);
        atomic_init(&t->pickup_ns, 0);
        t->pool = p;
        t->index = i;
        t->cpu = pin ? nth_cpu(&set, i) : -1;
        int rc = pthread_create(&t->thread, NULL, thread_main, t);
        if (rc != 0) {
            worker_pool_destroy(&p);
            return err_set(e, ERR_INTERNAL, "cannot start thread %u: %s", i, strerror(rc));
        }
        p->started++;
    }
    *out = p;
    return 0;
}

void worker_pool_destroy(worker_pool_t **pp)
{
    worker_pool_t *p = *pp;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    p->has_work = false;
    bump_generation(p);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->threads[i].thread, NULL);
    close(p->pipe_rd);
    close(p->pipe_wr);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
    *pp = NULL;
}

uint64_t worker_pool_set_work(worker_pool_t *p, const job_work_t *work)
{
    pthread_mutex_lock(&p->lock);
    bump_generation(p);
    uint64_t gen = atomic_load_explicit(&p->generation, memory_order_relaxed);
    p->has_work = work != NULL;
    if (work) {
        p->work = *work;
        p->work_generation = gen;
    }
    pthread_mutex_unlock(&p->lock);
    return gen;
}

uint64_t worker_pool_min_generation(worker_pool_t *p)
{
    uint64_t least = UINT64_MAX;
    for (unsigned i = 0; i < p->n_threads; i++) {
        uint64_t g = atomic_load_explicit(&p->threads[i].seen_generation, memory_order_acquire);
        if (g < least)
            least = g;
    }
    return least;
}

uint64_t worker_pool_pickup_ns(worker_pool_t *p, unsigned i)
{
    assert(i < p->n_threads);
    return atomic_load_explicit(&p->threads[i].pickup_ns, memory_order_relaxed);
}

bool worker_pool_busy(worker_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    bool busy = p->has_work;
    pthread_mutex_unlock(&p->lock);
    return busy;
}

bool worker_pool_take(worker_pool_t *p, worker_solution_t *out)
{
    pthread_mutex_lock(&p->lock);
    bool got = p->queue_len > 0;
    if (got) {
        *out = p->queue[p->queue_head];
        p->queue_head = (p->queue_head + 1) % WORKER_QUEUE;
        p->queue_len--;
    }
    if (p->queue_len == 0) {
        char buf[64];
        while (read(p->pipe_rd, buf, sizeof buf) > 0)
            ;
    }
    pthread_mutex_unlock(&p->lock);
    return got;
}

int worker_pool_fd(const worker_pool_t *p) { return p->pipe_rd; }

unsigned worker_pool_threads(const worker_pool_t *p) { return p->n_threads; }

uint64_t worker_pool_hashes(worker_pool_t *p, unsigned i)
{
    assert(i < p->n_threads);
    return atomic_load_explicit(&p->threads[i].hashes, memory_order_relaxed);
}

double worker_pool_cpu_seconds(worker_pool_t *p, unsigned i)
{
    assert(i < p->n_threads);
    clockid_t clock;
    struct timespec ts;
    if (pthread_getcpuclockid(p->threads[i].thread, &clock) != 0 || clock_gettime(clock, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
