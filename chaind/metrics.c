#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "pow.h"
#include "prom.h"

#define METRICS_CAP 8192 /* the whole text: it is a fixed list */

/* HTTP answers: from a cached tip in microseconds to a large utxo-set page */
static const double HTTP_BOUNDS[] = {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
/* a block's validation and connection: empty regtest blocks to full ones */
static const double CONNECT_BOUNDS[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static struct {
    pthread_mutex_t lock; /* guards n and route; the histograms are atomic */
    size_t n;
    const char *route[METRICS_ROUTES_MAX + 1]; /* the last one: "other" */
    prom_hist_t hist[METRICS_ROUTES_MAX + 1];
} http_m = {.lock = PTHREAD_MUTEX_INITIALIZER};

static prom_hist_t connect_hist = {.bounds = CONNECT_BOUNDS, .n = N_OF(CONNECT_BOUNDS)};

/* The slot labelled label, claimed when new and fewer than cap are taken;
 * SIZE_MAX when none is left. The lock held. */
static size_t find_or_claim(const char *label, size_t cap)
{
    for (size_t i = 0; i < http_m.n; i++)
        if (strcmp(http_m.route[i], label) == 0)
            return i;
    if (http_m.n == cap)
        return SIZE_MAX;
    http_m.route[http_m.n] = label;
    (void)prom_hist_init(&http_m.hist[http_m.n], HTTP_BOUNDS, N_OF(HTTP_BOUNDS));
    return http_m.n++;
}

void metrics_http_observe(const char *route, const struct timespec *start)
{
    struct timespec now;
    if (start->tv_sec == 0 || clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return; /* no clock at the start: nothing to time */
    int64_t us = ((int64_t)now.tv_sec - start->tv_sec) * 1000000 +
                 (now.tv_nsec - start->tv_nsec) / 1000;
    pthread_mutex_lock(&http_m.lock);
    size_t i = find_or_claim(route ? route : "none", METRICS_ROUTES_MAX);
    if (i == SIZE_MAX) /* the last slot is "other"'s, always free for it */
        i = find_or_claim("other", METRICS_ROUTES_MAX + 1);
    pthread_mutex_unlock(&http_m.lock);
    prom_hist_observe(&http_m.hist[i], us > 0 ? (uint64_t)us : 0);
}

void metrics_block_connect_observe(uint64_t us) { prom_hist_observe(&connect_hist, us); }

/* The histograms' text, appended to the fixed list's buffer. */
static int append_histograms(char **buf, size_t *pos, err_t *e)
{
    prom_buf_t b;
    prom_buf_init(&b);
    prom_header(&b, "chain_http_request_duration_seconds", "histogram",
                "Time from an HTTP request's arrival to its answer's completion, by route.");
    pthread_mutex_lock(&http_m.lock);
    for (size_t i = 0; i < http_m.n; i++)
        prom_hist(&b, "chain_http_request_duration_seconds", "route", http_m.route[i],
                  &http_m.hist[i]);
    pthread_mutex_unlock(&http_m.lock);
    prom_header(&b, "chain_block_connect_seconds", "histogram",
                "Time to validate and connect a block that became the tip.");
    prom_hist(&b, "chain_block_connect_seconds", NULL, NULL, &connect_hist);
    char *text;
    size_t len;
    if (prom_buf_finish(&b, &text, &len, e) < 0)
        return -1;
    char *grown = realloc(*buf, *pos + len + 1);
    if (!grown) {
        free(text);
        return err_set(e, ERR_INTERNAL, "out of memory rendering metrics");
    }
    memcpy(grown + *pos, text, len + 1);
    free(text);
    *buf = grown;
    *pos += len;
    return 0;
}

/* Appends to a bounded text buffer; false once it is full. */
static bool appendf(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool appendf(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
    if (*pos >= cap)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *pos)
        return false;
    *pos += (size_t)n;
    return true;
}

static bool metric(char *buf, size_t cap, size_t *pos, const char *name, const char *type,
                   const char *help, uint64_t value)
{
    return appendf(buf, cap, pos, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help,
                   name, type, name, value);
}

int metrics_render(char **text, size_t *len, const node_status_t *s, const chain_params_t *p,
                   const metrics_http_t *http, err_t *e)
{
    size_t cap = METRICS_CAP, pos = 0;
    char *buf = malloc(cap);
    if (!buf)
        return err_set(e, ERR_INTERNAL, "out of memory");
    bool ok =
        metric(buf, cap, &pos, "chain_height", "gauge", "Height of the main chain's tip.",
               s->height) &&
        metric(buf, cap, &pos, "chain_tip_timestamp_seconds", "gauge",
               "Header timestamp of the tip.", s->timestamp) &&
        metric(buf, cap, &pos, "chain_bits", "gauge", "Compact target of the tip.", s->bits) &&
        appendf(buf, cap, &pos,
                "# HELP chain_difficulty Easiest target over the tip's target.\n"
                "# TYPE chain_difficulty gauge\nchain_difficulty %.17g\n",
                pow_difficulty(p, s->bits)) &&
        metric(buf, cap, &pos, "chain_mempool_transactions", "gauge",
               "Transactions in the mempool.", s->mempool_count) &&
        metric(buf, cap, &pos, "chain_mempool_bytes", "gauge",
               "Encoded bytes of the mempool's transactions.", s->mempool_bytes) &&
        metric(buf, cap, &pos, "chain_mempool_unbroadcast", "gauge",
               "Mempool transactions submitted here that no peer has asked for yet.",
               s->mempool_unbroadcast) &&
        metric(buf, cap, &pos, "chain_mempool_parked", "gauge",
               "Acknowledged transactions waiting for a parent to confirm (not in the mempool "
               "proper).", s->mempool_parked) &&
        metric(buf, cap, &pos, "chain_mempool_commits_total", "counter",
               "Group commits of the stored mempool (one sync each).", s->journal.commits) &&
        metric(buf, cap, &pos, "chain_mempool_commit_ops_total", "counter",
               "Changes of the stored mempool those commits made durable.", s->journal.ops) &&
        metric(buf, cap, &pos, "chain_mempool_commit_failures_total", "counter",
               "Commits of the stored mempool that failed and were retried.",
               s->journal.failures) &&
        metric(buf, cap, &pos, "chain_mempool_journal_waiting", "gauge",
               "Changes of the stored mempool not yet durable.", s->journal.waiting) &&
        metric(buf, cap, &pos, "chain_peers", "gauge", "Peers in gossipd's last report.",
               s->peers) &&
        metric(buf, cap, &pos, "chain_hashrate", "gauge",
               "Hashes a second reported by miners.", s->hashrate) &&
        metric(buf, cap, &pos, "chain_orphans", "gauge", "Orphan blocks held.", s->orphans) &&
        metric(buf, cap, &pos, "chain_sigcache_hits_total", "counter",
               "Signature checks answered by the signature cache.", s->sigcache_hits) &&
        metric(buf, cap, &pos, "chain_sigcache_misses_total", "counter",
               "Signature checks the signature cache could not answer.", s->sigcache_misses) &&
        metric(buf, cap, &pos, "chain_sigcache_entries", "gauge",
               "Verified signatures held by the signature cache.", s->sigcache_entries) &&
        metric(buf, cap, &pos, "chain_http_requests_total", "counter",
               "HTTP requests received.", http->requests) &&
        appendf(buf, cap, &pos, "# HELP chain_http_connections_cut_total HTTP connections the "
                "guard closed, by why (docs/PROTOCOL.md, \"Slow and greedy clients\").\n"
                "# TYPE chain_http_connections_cut_total counter\n");
    for (int i = 0; ok && i < HTTPGUARD_CUTS; i++)
        ok = appendf(buf, cap, &pos, "chain_http_connections_cut_total{reason=\"%s\"} %" PRIu64
                     "\n", httpguard_cut_name((httpguard_cut_t)i), http->guard.cuts[i]);
    /* chaind --phases: where node_submit_tx's time goes */
    for (int i = 0; ok && s->phases.on && i <= NODE_PHASES; i++)
        ok = i == NODE_PHASES
                 ? appendf(buf, cap, &pos, "chain_tx_phase_transactions_total %" PRIu64 "\n"
                           "chain_tx_phase_puts_total %" PRIu64 "\nchain_tx_phase_commit_seconds"
                           "_total %.9f\nchain_tx_phase_sync_seconds_total %.9f\n",
                           s->phases.txs, s->phases.journal.puts_timed,
                           (double)s->phases.journal.commit_ns / 1e9,
                           (double)s->phases.journal.sync_ns / 1e9)
                 : appendf(buf, cap, &pos, "chain_tx_phase_seconds_total{phase=\"%s\"} %.9f\n",
                           node_phase_name(i), (double)s->phases.ns[i] / 1e9);
    if (!ok) { /* a fixed list that outgrew its buffer: the bound above is wrong */
        free(buf);
        return err_set(e, ERR_INTERNAL, "metrics overflow their buffer");
    }
    if (append_histograms(&buf, &pos, e) < 0) {
        free(buf);
        return -1;
    }
    *text = buf;
    *len = pos;
    return 0;
}
