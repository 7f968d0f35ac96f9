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
#include "rpckey.h"

static volatile sig_atomic_t stop, reload_keys;

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
    {"max-connections", "CHAIND_MAX_CONNECTIONS", "N", "HTTP connections at most (lowered, with "
     "a warning, to what the open-file limit leaves)", "1024", false},
    {"http-max-per-ip", "CHAIND_HTTP_MAX_PER_IP", "N", "HTTP connections from one address at "
     "once", "64", false},
    {"rpc-keys", "CHAIND_RPC_KEYS", "DIR", "the control plane's key set: server.key, clients, "
     "and the keys made for clients (default: <datadir>/rpc; made at first start)", NULL, false},
    {"max-rpc-connections", "CHAIND_MAX_RPC_CONNECTIONS", "N", "tcp:// rpc connections at once",
     "64", false},
    {"max-subscribers", "CHAIND_MAX_SUBSCRIBERS", "N", "tcp:// event subscribers at once", "64",
     false},
    {"new-rpc-key", "CHAIND_NEW_RPC_KEY", "ROLE:NAME:FILE", "write a new client key (role gossip, "
     "miner or subscriber) to FILE, list it in the clients file, and exit (a running chaind "
     "takes it on SIGHUP)", NULL, false},
    {"init-rpc-keys", "CHAIND_INIT_RPC_KEYS", "DIR", "write a complete key set to DIR and exit "
     "(for a Kubernetes Secret)", NULL, false},
    {"mempool-mb", "CHAIND_MEMPOOL_MB", "MB", "mempool size bound", "64", false},
    {"min-fee-rate", "CHAIND_MIN_FEE_RATE", "UNITS", "minimum fee, units a byte", "10", false},
    {"db-size-mb", "CHAIND_DB_SIZE_MB", "MB", "LMDB map size (address space, not disk)", "16384",
     false},
    {"log-level", "CHAIND_LOG_LEVEL", "LEVEL", "error, warn, info or debug", "info", false},
    {"explorer", "CHAIND_EXPLORER", "on|off", "serve the block explorer at / (the API and "
     "/openapi.json stay)", "on", false},
    {"event-streams", "CHAIND_EVENT_STREAMS", "N", "GET /events streams at most", "64", false},
    {"phases", "CHAIND_PHASES", NULL, "time the phases of admitting transactions (shown in "
     "/metrics, for bench_api --phases)", NULL, false},
};
#define N_FLAGS (sizeof flags / sizeof flags[0])
#define FLAG(name) flags_get(flags, N_FLAGS, name)

/* --init-rpc-keys and --new-rpc-key: an exit status, or -1 when neither was asked. */
static int key_tools(const char *keys_dir)
{
    err_t e;
    bool created;
    if (FLAG("init-rpc-keys")) {
        if (rpckey_init_dir(FLAG("init-rpc-keys"), &created, &e) < 0) {
            fprintf(stderr, "chaind: %s\n", e.message);
            return 1;
        }
        printf("%s %s: server.key and clients for chaind; gossip.key, miner.key and "
               "subscriber.key for its clients\n", FLAG("init-rpc-keys"),
               created ? "holds a new key set" : "already holds a key set, left as it is");
        return 0;
    }
    if (!FLAG("new-rpc-key"))
        return -1;
    if (rpckey_new_client(keys_dir, FLAG("new-rpc-key"), &e) < 0) {
        fprintf(stderr, "chaind: %s\n", e.message);
        return 1;
    }
    printf("wrote %s and listed it in %s/clients; a running chaind takes it on SIGHUP\n",
           strchr(strchr(FLAG("new-rpc-key"), ':') + 1, ':') + 1, keys_dir);
    return 0;
}

/* Every connection holds a descriptor: the soft limit is raised to the
 * hard one, and the HTTP server gets what the rpc side leaves of it. */
static unsigned http_connections(unsigned wanted, const rpc_config_t *rcfg)
{
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) != 0)
        return wanted;
    if (nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &nofile) != 0)
            (void)getrlimit(RLIMIT_NOFILE, &nofile);
    }
    uint64_t need = rpc_fds(rcfg), limit = nofile.rlim_cur;
    if (limit == RLIM_INFINITY || wanted + need <= limit)
        return wanted;
    unsigned fit = limit > need + 16 ? (unsigned)(limit - need) : 16;
    LOGWARN("the open-file limit is %llu: %u HTTP connections, not %u, beside %u rpc "
            "connections, %u subscribers and %u descriptors in reserve (raise LimitNOFILE or "
            "ulimit -n)", (unsigned long long)limit, fit, wanted, rcfg->max_rpc_connections,
            rcfg->max_subscribers, RPC_FD_RESERVE);
    return fit;
}

/* Opens the node, the rpc side and the HTTP server, serves until SIGTERM,
 * and closes them: the exit status. */
static int run(const node_config_t *cfg, const rpc_config_t *rcfg, const http_config_t *hcfg)
{
    err_t e;
    node_t *node;
    LOGINFO("starting: network %s, data in %s", cfg->params->name, cfg->datadir);
    if (node_open(&node, cfg, &e) < 0) {
        LOGERR("%s", e.message);
        return 1;
    }
    node_status_t s;
    node_status(node, &s);
    LOGINFO("chain loaded: height %" PRIu64 ", %zu mempool transaction(s)", s.height,
            s.mempool_count);
    rpc_t *rpc = NULL;
    http_server_t *http = NULL;
    if (rpc_open(&rpc, node, rcfg, &e) < 0 || http_start(&http, node, hcfg, &e) < 0) {
        LOGERR("%s", e.message);
        http_stop(&http);
        rpc_close(&rpc);
        node_close(&node);
        return 1;
    }
    LOGINFO("serving HTTP on %s, rpc on %s, events on %s", hcfg->listen, rcfg->rpc_endpoint,
            rcfg->events_endpoint);
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

/* The numeric flags, each within its bounds: -1 after a message. */
typedef struct {
    uint64_t verify_threads, http_threads, max_conn, per_ip, mempool_mb, fee_rate, db_mb, max_rpc,
        max_sub, streams;
    bool explorer;
} numbers_t;

static int parse_numbers(numbers_t *n)
{
    if (flags_uint("chaind", "verify-threads", FLAG("verify-threads"), 0, 1024,
                   &n->verify_threads) ||
        flags_uint("chaind", "http-threads", FLAG("http-threads"), 1, 256, &n->http_threads) ||
        flags_uint("chaind", "max-connections", FLAG("max-connections"), 1, 100000,
                   &n->max_conn) ||
        flags_uint("chaind", "http-max-per-ip", FLAG("http-max-per-ip"), 1, 100000, &n->per_ip) ||
        flags_uint("chaind", "mempool-mb", FLAG("mempool-mb"), 1, 65536, &n->mempool_mb) ||
        flags_uint("chaind", "min-fee-rate", FLAG("min-fee-rate"), 0, 1000000, &n->fee_rate) ||
        flags_uint("chaind", "db-size-mb", FLAG("db-size-mb"), 16, (uint64_t)1 << 24,
                   &n->db_mb) ||
        flags_uint("chaind", "max-rpc-connections", FLAG("max-rpc-connections"), 1, 10000,
                   &n->max_rpc) ||
        flags_uint("chaind", "max-subscribers", FLAG("max-subscribers"), 1, 10000,
                   &n->max_sub) ||
        flags_uint("chaind", "event-streams", FLAG("event-streams"), 1, 10000, &n->streams))
        return -1;
    n->explorer = strcmp(FLAG("explorer"), "on") == 0;
    if (!n->explorer && strcmp(FLAG("explorer"), "off") != 0) {
        fprintf(stderr, "chaind: --explorer must be on or off, not \"%s\"\n", FLAG("explorer"));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rc = flags_parse(flags, N_FLAGS, argc, argv, "chaind",
                         "chaind owns the chain: validation, the LMDB store, the mempool and the "
                         "HTTP API.");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    const chain_params_t *params;
    numbers_t n;
    if (daemon_common_flags("chaind", FLAG("log-level"), FLAG("network"), &params) < 0 ||
        parse_numbers(&n) < 0)
        return 2;
    char keys_dir[4096];
    if (snprintf(keys_dir, sizeof keys_dir, "%s%s", FLAG("rpc-keys") ? FLAG("rpc-keys")
                 : FLAG("datadir"), FLAG("rpc-keys") ? "" : "/rpc") >= (int)sizeof keys_dir) {
        fprintf(stderr, "chaind: --rpc-keys: the path is too long\n");
        return 2;
    }
    rc = key_tools(keys_dir);
    if (rc >= 0)
        return rc;
    rpc_config_t rcfg = {
        .rpc_endpoint = FLAG("rpc"),
        .events_endpoint = FLAG("events"),
        .keys_dir = keys_dir,
        .max_rpc_connections = (unsigned)n.max_rpc,
        .max_subscribers = (unsigned)n.max_sub,
        .reload = &reload_keys,
    };
    unsigned max_conn = http_connections((unsigned)n.max_conn, &rcfg);

    daemon_signals(&stop);
    daemon_on_hup(&reload_keys);

    node_config_t cfg = {
        .params = params,
        .datadir = FLAG("datadir"),
        .map_size = (size_t)n.db_mb << 20,
        .verify_threads = (unsigned)n.verify_threads,
        .mempool_max_bytes = (size_t)n.mempool_mb << 20,
        .min_fee_rate = n.fee_rate,
        .sigcache_entries = SIGCACHE_DEFAULT_ENTRIES,
        .phases = FLAG("phases") != NULL,
    };
    http_config_t hcfg = {
        .listen = FLAG("http"),
        .cors_origin = FLAG("cors"),
        .threads = (unsigned)n.http_threads,
        .max_connections = max_conn,
        .max_per_ip = (unsigned)n.per_ip,
        .version = CHAIN_VERSION,
        .no_explorer = !n.explorer,
        .event_streams = (unsigned)n.streams,
    };
    return run(&cfg, &rcfg, &hcfg);
}
