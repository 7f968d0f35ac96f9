/* metrics.h: the Prometheus text of a status, line by line: each metric's
 * HELP, TYPE and value, in order, then the latency histograms (their
 * rendering is test_prom.c's), and nothing else; a timed route shows up
 * under its label. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "params.h"

Test(metrics, every_metric_with_help_type_and_value)
{
    node_status_t s = {.height = 12, .bits = 0x1e00ffff, .timestamp = 1700000000,
                       .mempool_count = 3, .mempool_bytes = 456, .peers = 2, .hashrate = 99,
                       .orphans = 1, .sigcache_hits = 10, .sigcache_misses = 4,
                       .sigcache_entries = 7, .mempool_unbroadcast = 5, .mempool_parked = 8,
                       .journal = {.commits = 20, .ops = 300, .failures = 1, .waiting = 6}};
    metrics_http_t http = {.requests = 321, .guard = {.cuts = {1, 2, 3, 4, 5}}};
    char *text;
    size_t len;
    err_t e;
    cr_assert_eq(metrics_render(&text, &len, &s, params_by_name("demo"), &http, &e), 0, "%s",
                 e.message);
    cr_assert_eq(strlen(text), len);
    const struct { const char *name, *type, *value; } want[] = {
        {"chain_height", "gauge", "12"},
        {"chain_tip_timestamp_seconds", "gauge", "1700000000"},
        {"chain_bits", "gauge", "503382015"},
        {"chain_difficulty", "gauge", "256"},
        {"chain_mempool_transactions", "gauge", "3"},
        {"chain_mempool_bytes", "gauge", "456"},
        {"chain_mempool_unbroadcast", "gauge", "5"},
        {"chain_mempool_parked", "gauge", "8"},
        {"chain_mempool_commits_total", "counter", "20"},
        {"chain_mempool_commit_ops_total", "counter", "300"},
        {"chain_mempool_commit_failures_total", "counter", "1"},
        {"chain_mempool_journal_waiting", "gauge", "6"},
        {"chain_peers", "gauge", "2"},
        {"chain_hashrate", "gauge", "99"},
        {"chain_orphans", "gauge", "1"},
        {"chain_sigcache_hits_total", "counter", "10"},
        {"chain_sigcache_misses_total", "counter", "4"},
        {"chain_sigcache_entries", "gauge", "7"},
        {"chain_http_requests_total", "counter", "321"},
    };
    char *line = text;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char help[128], type[128], value[128];
        size_t n = strlen(want[i].name);
        snprintf(help, sizeof help, "# HELP %s ", want[i].name);
        snprintf(type, sizeof type, "# TYPE %s %s\n", want[i].name, want[i].type);
        snprintf(value, sizeof value, "%s %s\n", want[i].name, want[i].value);
        cr_assert(strncmp(line, help, strlen(help)) == 0, "%s: no HELP line", want[i].name);
        line = strchr(line, '\n') + 1;
        cr_assert(strncmp(line, type, strlen(type)) == 0, "%s: no TYPE line", want[i].name);
        line += strlen(type);
        cr_assert(strncmp(line, value, strlen(value)) == 0, "%s: \"%.*s\"", want[i].name,
                  (int)(n + 12), line);
        line += strlen(value);
    }
    /* the guard's cuts, a series a reason */
    const char *cut_help = "# HELP chain_http_connections_cut_total ";
    cr_assert(strncmp(line, cut_help, strlen(cut_help)) == 0, "no cuts: %.80s", line);
    line = strchr(line, '\n') + 1;
    const char *cut_type = "# TYPE chain_http_connections_cut_total counter\n";
    cr_assert(strncmp(line, cut_type, strlen(cut_type)) == 0);
    line += strlen(cut_type);
    const char *reasons[] = {"slow_head", "slow_body", "long_drain", "over_per_ip", "evicted"};
    for (int i = 0; i < HTTPGUARD_CUTS; i++) {
        char want_line[128];
        snprintf(want_line, sizeof want_line,
                 "chain_http_connections_cut_total{reason=\"%s\"} %d\n", reasons[i], i + 1);
        cr_assert(strncmp(line, want_line, strlen(want_line)) == 0, "\"%.60s\", not %s", line,
                  want_line);
        line += strlen(want_line);
    }
    const char *tail = "# HELP chain_http_request_duration_seconds ";
    cr_assert(strncmp(line, tail, strlen(tail)) == 0, "more than the metrics listed: %s", line);
    cr_assert_not_null(strstr(line, "# TYPE chain_block_connect_seconds histogram\n"));
    cr_assert_not_null(strstr(line, "chain_block_connect_seconds_count 0\n"));
    free(text);
}

Test(metrics, routes_are_timed_under_their_label)
{
    struct timespec start;
    cr_assert_eq(clock_gettime(CLOCK_MONOTONIC, &start), 0);
    metrics_http_observe("/status", &start);
    metrics_http_observe(NULL, &start);
    node_status_t s = {0};
    char *text;
    size_t len;
    err_t e;
    metrics_http_t http = {0};
    cr_assert_eq(metrics_render(&text, &len, &s, params_by_name("demo"), &http, &e), 0, "%s",
                 e.message);
    cr_assert_not_null(strstr(text, "chain_http_request_duration_seconds_count{route=\"/status\"} 1\n"));
    cr_assert_not_null(strstr(text, "chain_http_request_duration_seconds_count{route=\"none\"} 1\n"));
    free(text);
}
