#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "pow.h"

#define METRICS_CAP 8192 /* the whole text: it is a fixed list */

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
                   uint64_t http_requests, err_t *e)
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
               "HTTP requests received.", http_requests);
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
    *text = buf;
    *len = pos;
    return 0;
}
