/* prom: Prometheus text format 0.0.4, shared by the three daemons' /metrics.
 *
 * Two halves. The live half (prom_hist_t) is what a daemon's hot path updates:
 * C11 atomics only, so a reactor thread observes and the metrics thread
 * renders without a lock and without disturbing the loop. The render half
 * (prom_buf_t) appends HELP/TYPE headers, samples and whole histograms to a
 * growable text buffer.
 *
 * Labels are fixed at compile time: a sample takes at most one label pair
 * (two, with prom_sample2) whose values come from the daemon's own tables, never raw peer input (the
 * caller maps unknown input to "other"). Values are still escaped as the
 * format asks (backslash, double quote, newline). */
#ifndef CHAIN_PROM_H
#define CHAIN_PROM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PROM_BUCKETS_MAX 16    /* upper bounds of one histogram, +Inf aside */
#define PROM_BUF_INITIAL 4096  /* first allocation of a render buffer */
#define PROM_BUF_MAX (1 << 20) /* a render never grows past this: a fixed schema */

/* A fixed-bucket histogram of durations. bounds: ascending upper bounds in
 * seconds (static storage, n <= PROM_BUCKETS_MAX). Observations are in
 * microseconds so the sum stays an integer atomic. */
typedef struct {
    const double *bounds;
    size_t n;
    _Atomic uint64_t counts[PROM_BUCKETS_MAX + 1]; /* per bucket, not cumulative; last: +Inf */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t count;
} prom_hist_t;

/* Zeroes h and binds its bounds. Returns -1 when n is 0, too large or the
 * bounds are not strictly ascending (a programmer error the caller asserts). */
int prom_hist_init(prom_hist_t *h, const double *bounds, size_t n);
/* Counts one observation of us microseconds; lock-free, any thread. */
void prom_hist_observe(prom_hist_t *h, uint64_t us);

typedef struct {
    char *text; /* malloc'd, NUL-terminated; the caller frees it (prom_buf_free) */
    size_t len;
    size_t cap;
    bool failed; /* an append ran out of memory or past PROM_BUF_MAX */
} prom_buf_t;

void prom_buf_init(prom_buf_t *b);
void prom_buf_free(prom_buf_t *b);
/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge or histogram. */
void prom_header(prom_buf_t *b, const char *name, const char *type, const char *help);
/* One sample line: name{label="value"} v, or name v when label is NULL. */
void prom_sample(prom_buf_t *b, const char *name, const char *label, const char *value,
                 double v);
/* The same with a second label pair (l2 may be NULL; l1 NULL means none). */
void prom_sample2(prom_buf_t *b, const char *name, const char *l1, const char *v1,
                  const char *l2, const char *v2, double v);
/* Header and sample together, for an unlabelled counter or gauge. */
void prom_metric(prom_buf_t *b, const char *name, const char *type, const char *help,
                 double v);
/* The _bucket{le=...} (cumulative), _sum (seconds) and _count lines of h,
 * with an optional extra label pair before le; no header (one header may
 * cover several label values). */
void prom_hist(prom_buf_t *b, const char *name, const char *label, const char *value,
               const prom_hist_t *h);
/* Hands the text over: *text (the caller frees), *len. ERR_INTERNAL, with
 * the buffer freed, when any append failed. */
int prom_buf_finish(prom_buf_t *b, char **text, size_t *len, err_t *e)
    __attribute__((warn_unused_result));

#endif
