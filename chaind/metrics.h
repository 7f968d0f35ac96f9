/* metrics: chaind's /metrics in Prometheus text format 0.0.4, one gauge or
 * counter a line with its HELP and TYPE, from a node status snapshot, then
 * the latency histograms (prom.h) of the HTTP routes and of block connection. */
#ifndef CHAIND_METRICS_H
#define CHAIND_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "httpguard.h"
#include "node.h"
#include "params.h"

#define METRICS_ROUTES_MAX 32 /* routes timed apart; any more share route="other" */

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What the HTTP server counted so far. */
typedef struct {
    uint64_t requests;       /* requests received */
    httpguard_stats_t guard; /* connections its guard closed */
} metrics_http_t;

/* Renders every metric into *text (malloc'd, the caller frees; *len bytes,
 * NUL-terminated). ERR_INTERNAL when memory runs out. */
int metrics_render(char **text, size_t *len, const node_status_t *s, const chain_params_t *p,
                   const metrics_http_t *http, err_t *e) __attribute__((warn_unused_result));

/* Times one HTTP request of route (a path pattern from http.c's route table,
 * static storage; NULL: no route matched, label "none") from start
 * (CLOCK_MONOTONIC; {0, 0}: not timed) to now. Any HTTP thread; a short
 * mutex guards the route table. */
void metrics_http_observe(const char *route, const struct timespec *start);
/* Times one block's validation and connection as the new tip (chain.c). */
void metrics_block_connect_observe(uint64_t us);

#endif
