/* chaind: owns the chain. Parses flags, wires the node, the HTTP server and
 * the ZeroMQ sockets, and runs until SIGTERM. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "daemon.h"
#include "flags.h"
#include "http.h"
#include "log.h"
#include "node.h"
#include "rpc.h"

static volatile sig_atomic_t stop;

static flag_t flags[] = {
    {"network", "CHAIND_NETWORK", "NAME", "demo or regtest", "demo", false},
    {"datadir", "CHAIND_DATADIR", "DIR", "where the chain and mempool are kept", "./data", false},
    {"http", "CHAIND_HTTP", "HOST:PORT", "HTTP API address", "127.0.0.1:8080", false},
    {"rpc", "CHAIND_RPC", "ENDPOINT", "ZeroMQ rpc (ROUTER) endpoint", "tcp://127.0.0.1:9340", false},
    {"events", "CHAIND_EVENTS", "ENDPOINT", "ZeroMQ events (PUB) endpoint",
     "tcp://127.0.0.1:9341", false},
    {"cors", "CHAIND_CORS", "ORIGIN", "allow browser clients from ORIGIN", NULL, false},
    {"verify-threads", "CHAIND_VERIFY_THREADS", "N", "signature-check threads (0: all CPUs)", "0",
     false},
    {"http-threads", "CHAIND_HTTP_THREADS", "N", "HTTP worker threads", "4", false},
    {"max-connections", "CHAIND_MAX_CONNECTIONS", "N", "HTTP connections at most", "1024", false},
    {"mempool-mb", "CHAIND_MEMPOOL_MB", "MB", "mempool size bound", "64", false},
    {"min-fee-rate", "CHAIND_MIN_FEE_RATE", "UNITS", "minimum fee, units a byte", "10", false},
    {"db-size-mb", "CHAIND_DB_SIZE_MB", "MB", "LMDB map size (address space, not disk)", "16384",
     false},
    {"log-level", "CHAIND_LOG_LEVEL", "LEVEL", "error, warn, info or debug", "info", false},
    {"explorer", "CHAIND_EXPLORER", "on|off", "serve the block explorer at / (the API and "
     "/openapi.json stay)", "on", false},
    {"event-streams", "CHAIND_EVENT_STREAMS", "N", "GET /events streams at most", "64", false},
};
#define N_FLAGS (sizeof flags / sizeof flags[0])
#define FLAG(name) flags_get(flags, N_FLAGS, name)

int main(int argc, char **argv)
{
    int rc = flags_parse(flags, N_FLAGS, argc, argv, "chaind",
                         "chaind owns the chain: validation, the LMDB store, the mempool and the "
                         "HTTP API.");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    const chain_params_t *params;
    uint64_t verify_threads, http_threads, max_conn, mempool_mb, fee_rate, db_mb, streams;
    if (daemon_common_flags("chaind", FLAG("log-level"), FLAG("network"), &params) < 0)
        return 2;
    if (flags_uint("chaind", "verify-threads", FLAG("verify-threads"), 0, 1024, &verify_threads) ||
        flags_uint("chaind", "http-threads", FLAG("http-threads"), 1, 256, &http_threads) ||
        flags_uint("chaind", "max-connections", FLAG("max-connections"), 1, 100000, &max_conn) ||
        flags_uint("chaind", "mempool-mb", FLAG("mempool-mb"), 1, 65536, &mempool_mb) ||
        flags_uint("chaind", "min-fee-rate", FLAG("min-fee-rate"), 0, 1000000, &fee_rate) ||
        flags_uint("chaind", "db-size-mb", FLAG("db-size-mb"), 16, (uint64_t)1 << 24, &db_mb) ||
        flags_uint("chaind", "event-streams", FLAG("event-streams"), 1, 10000, &streams))
        return 2;
    bool explorer = strcmp(FLAG("explorer"), "on") == 0;
    if (!explorer && strcmp(FLAG("explorer"), "off") != 0) {
        LOGERR("chaind: --explorer must be on or off, not \"%s\"", FLAG("explorer"));
        return 2;
    }

    /* every HTTP connection holds a descriptor: allow as many as permitted */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &nofile) != 0)
            LOGWARN("cannot raise the open-file limit; HTTP connections are capped by it");
    }

    daemon_signals(&stop);

    node_config_t cfg = {
        .params = params,
        .datadir = FLAG("datadir"),
        .map_size = (size_t)db_mb << 20,
        .verify_threads = (unsigned)verify_threads,
        .mempool_max_bytes = (size_t)mempool_mb << 20,
        .min_fee_rate = fee_rate,
        .sigcache_entries = SIGCACHE_DEFAULT_ENTRIES,
    };
    err_t e;
    node_t *node;
    LOGINFO("starting: network %s, data in %s", params->name, cfg.datadir);
    if (node_open(&node, &cfg, &e) < 0) {
        LOGERR("%s", e.message);
        return 1;
    }
    node_status_t s;
    node_status(node, &s);
    LOGINFO("chain loaded: height %" PRIu64 ", %zu mempool transaction(s)", s.height,
            s.mempool_count);
    rpc_t *rpc = NULL;
    http_server_t *http = NULL;
    http_config_t hcfg = {
        .listen = FLAG("http"),
        .cors_origin = FLAG("cors"),
        .threads = (unsigned)http_threads,
        .max_connections = (unsigned)max_conn,
        .version = CHAIN_VERSION,
        .no_explorer = !explorer,
        .event_streams = (unsigned)streams,
    };
    if (rpc_open(&rpc, node, FLAG("rpc"), FLAG("events"), &e) < 0 ||
        http_start(&http, node, &hcfg, &e) < 0) {
        LOGERR("%s", e.message);
        http_stop(&http);
        rpc_close(&rpc);
        node_close(&node);
        return 1;
    }
    LOGINFO("serving HTTP on %s, rpc on %s, events on %s", FLAG("http"), FLAG("rpc"),
            FLAG("events"));
    daemon_watchdog_t wd;
    daemon_ready(&wd);

    rpc_run(rpc, &stop, daemon_watchdog_tick, &wd);

    daemon_stopping();
    LOGINFO("stopping");
    http_stop(&http);
    rpc_close(&rpc);
    node_close(&node);
    LOGINFO("stopped");
    return 0;
}
