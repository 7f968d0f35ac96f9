/* miner_metrics: minerd's counters for --metrics (Prometheus text, prom.h).
 *
 * Process-wide C11 atomics, counted on the client's thread and rendered on
 * the metrics server's; the per-thread hash counts are the pool's own
 * atomics (worker.h). A job switch is timed from the job's arrival to the
 * moment the last worker took it up (worker_pool_pickup_ns); a pending
 * switch settles, under a mutex, when the next one starts or a scrape comes. */
#ifndef MINERD_MINER_METRICS_H
#define MINERD_MINER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "worker.h"

typedef enum { MMETRICS_JOB, MMETRICS_FOUND, MMETRICS_ACCEPTED, MMETRICS_REJECTED, MMETRICS_N } mmetrics_event_t;

/* Counts one event. */
void mmetrics_count(mmetrics_event_t ev);
/* A job that arrived at received_ns (clock_ns) was handed to the pool as
 * generation gen: its switch is timed from now on. */
void mmetrics_switch(worker_pool_t *pool, uint64_t gen, uint64_t received_ns);
/* promhttp_render_fn; ctx is the worker pool. ERR_INTERNAL out of memory. */
int mmetrics_render(void *ctx, char **text, size_t *len, err_t *e);

#endif
