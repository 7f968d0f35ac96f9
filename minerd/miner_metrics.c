#include "miner_metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "prom.h"

/* Job switch: a chunk of work per thread, from microseconds to a slow CPU's second. */
static const double SWITCH_BOUNDS[] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1};
#define N_SWITCH_BOUNDS (sizeof SWITCH_BOUNDS / sizeof SWITCH_BOUNDS[0])

static const char *const EVENT_NAMES[MMETRICS_N][2] = {
    {"miner_jobs_received_total", "Jobs taken from chaind."},
    {"miner_blocks_found_total", "Blocks the workers found."},
    {"miner_blocks_accepted_total", "Found blocks chaind accepted."},
    {"miner_blocks_rejected_total", "Found blocks chaind rejected."},
};

static struct {
    _Atomic uint64_t events[MMETRICS_N];
    prom_hist_t job_switch;
    pthread_mutex_t lock; /* guards the pending switch */
    uint64_t pending_gen, pending_ns;
} m = {.job_switch = {.bounds = SWITCH_BOUNDS, .n = N_SWITCH_BOUNDS},
       .lock = PTHREAD_MUTEX_INITIALIZER};

void mmetrics_count(mmetrics_event_t ev)
{
    atomic_fetch_add_explicit(&m.events[ev], 1, memory_order_relaxed);
}

/* Observes the pending switch once every thread has taken it up; the lock held. */
static void settle(worker_pool_t *pool)
{
    if (m.pending_gen == 0 || worker_pool_min_generation(pool) < m.pending_gen)
        return;
    uint64_t last = 0;
    for (unsigned i = 0; i < worker_pool_threads(pool); i++) {
        uint64_t t = worker_pool_pickup_ns(pool, i);
        last = t > last ? t : last;
    }
    prom_hist_observe(&m.job_switch, last > m.pending_ns ? (last - m.pending_ns) / 1000 : 0);
    m.pending_gen = 0;
}

void mmetrics_switch(worker_pool_t *pool, uint64_t gen, uint64_t received_ns)
{
    pthread_mutex_lock(&m.lock);
    settle(pool);
    m.pending_gen = gen;
    m.pending_ns = received_ns;
    pthread_mutex_unlock(&m.lock);
}

static void per_thread(prom_buf_t *b, worker_pool_t *pool)
{
    char id[16];
    prom_header(b, "miner_hashes_total", "counter", "Hashes tried, by worker thread.");
    for (unsigned i = 0; i < worker_pool_threads(pool); i++) {
        snprintf(id, sizeof id, "%u", i);
        prom_sample(b, "miner_hashes_total", "thread", id, (double)worker_pool_hashes(pool, i));
    }
    prom_header(b, "miner_thread_hashrate", "gauge",
                "Hashes per CPU second of each worker thread since it started.");
    for (unsigned i = 0; i < worker_pool_threads(pool); i++) {
        double cpu = worker_pool_cpu_seconds(pool, i);
        snprintf(id, sizeof id, "%u", i);
        prom_sample(b, "miner_thread_hashrate", "thread", id,
                    cpu > 0 ? (double)worker_pool_hashes(pool, i) / cpu : 0);
    }
}

int mmetrics_render(void *ctx, char **text, size_t *len, err_t *e)
{
    worker_pool_t *pool = ctx;
    pthread_mutex_lock(&m.lock);
    settle(pool);
    pthread_mutex_unlock(&m.lock);
    prom_buf_t b;
    prom_buf_init(&b);
    for (size_t i = 0; i < MMETRICS_N; i++)
        prom_metric(&b, EVENT_NAMES[i][0], "counter", EVENT_NAMES[i][1],
                    (double)atomic_load(&m.events[i]));
    per_thread(&b, pool);
    prom_header(&b, "miner_job_switch_seconds", "histogram",
                "Time from a job's arrival to every worker thread grinding it.");
    prom_hist(&b, "miner_job_switch_seconds", NULL, NULL, &m.job_switch);
    return prom_buf_finish(&b, text, len, e);
}
