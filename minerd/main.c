/* minerd: proof of work on every core for chaind (DESIGN §1, §4.4). Parses
 * flags, wires the worker pool to the client, and runs until SIGTERM; or
 * runs the benchmark. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "bench.h"
#include "client.h"
#include "daemon.h"
#include "flags.h"
#include "job.h"
#include "log.h"
#include "miner_metrics.h"
#include "promhttp.h"
#include "sha256d.h"
#include "worker.h"

static volatile sig_atomic_t stop;

static flag_t flags[] = {
    {"network", "MINERD_NETWORK", "NAME", "demo or regtest", "demo", false},
    {"rpc", "MINERD_RPC", "ENDPOINT", "chaind's rpc (ROUTER) endpoint", "tcp://127.0.0.1:9340",
     false},
    {"events", "MINERD_EVENTS", "ENDPOINT", "chaind's events (PUB) endpoint",
     "tcp://127.0.0.1:9341", false},
    {"threads", "MINERD_THREADS", "N", "mining threads (default: one per usable CPU)", NULL, false},
    {"payout", "MINERD_PAYOUT", "ADDRESS",
     "address or 40-hex pubkey hash paid by found blocks (demo default " JOB_DEMO_PAYOUT
     ", the key deploy/demo-keys/miner.pem; required on regtest)", NULL, false},
    {"empty-blocks", "MINERD_EMPTY_BLOCKS", NULL,
     "mine jobs without transactions too (default: only while the mempool has some)", NULL,
     false},
    {"benchmark", "MINERD_BENCHMARK", NULL, "measure hash rates and exit", NULL, false},
    {"seconds", "MINERD_SECONDS", "S", "benchmark time a row", "5", false},
    {"kernel", "MINERD_KERNEL", "NAME",
     "SHA-256d kernel: avx512, shani, avx2 or generic (default: the fastest this CPU runs)",
     NULL, false},
    {"rpc-key", "MINERD_RPC_KEY", "FILE", "the miner key chaind made, for tcp:// endpoints "
     "(<chaind datadir>/rpc/miner.key, or one from chaind --new-rpc-key miner:NAME:FILE)", NULL,
     false},
    {"worker", "MINERD_WORKER", "NAME", "name in hash rate reports (default: hostname-pid)", NULL,
     false},
    {"metrics", "MINERD_METRICS", "HOST:PORT", "serve Prometheus metrics at http://HOST:PORT"
     "/metrics (default: off)", NULL, false},
    {"log-level", "MINERD_LOG_LEVEL", "LEVEL", "error, warn, info or debug", "info", false},
};
#define N_FLAGS (sizeof flags / sizeof flags[0])
#define FLAG(name) flags_get(flags, N_FLAGS, name)

static const sha256d_kernel_t *pick_kernel(const char *name)
{
    if (!name)
        return sha256d_best();
    const sha256d_kernel_t *k = sha256d_by_name(name);
    if (!k)
        fprintf(stderr, "minerd: --kernel is avx512, shani, avx2 or generic (got \"%s\")\n", name);
    else if (!k->supported())
        fprintf(stderr, "minerd: this CPU (or OS) cannot run the %s kernel\n", name);
    return k && k->supported() ? k : NULL;
}

static int run_miner(const chain_params_t *params, const sha256d_kernel_t *kernel, unsigned threads)
{
    client_config_t cfg = {
        .params = params,
        .rpc_endpoint = FLAG("rpc"),
        .events_endpoint = FLAG("events"),
        .empty_blocks = FLAG("empty-blocks") != NULL,
    };
    const char *payout = FLAG("payout");
    if (!payout && strcmp(params->name, "demo") != 0) {
        fprintf(stderr, "minerd: --payout is required on %s\n", params->name);
        return 2;
    }
    err_t e;
    if (address_decode(&cfg.payout, params->address_version, payout ? payout : JOB_DEMO_PAYOUT,
                       &e) < 0) {
        fprintf(stderr, "minerd: --payout: %s\n", e.message);
        return 2;
    }
    char worker[65], host[48] = "minerd";
    if (FLAG("worker")) {
        if (strlen(FLAG("worker")) > 64) {
            fprintf(stderr, "minerd: --worker is at most 64 bytes\n");
            return 2;
        }
        snprintf(worker, sizeof worker, "%s", FLAG("worker"));
    } else {
        (void)gethostname(host, sizeof host);
        host[sizeof host - 1] = '\0';
        snprintf(worker, sizeof worker, "%s-%ld", host, (long)getpid());
    }
    cfg.worker = worker;
    rpckey_client_t key;
    int keyed = rpckey_client_for(FLAG("rpc-key"), cfg.rpc_endpoint, cfg.events_endpoint,
                                  RPCKEY_MINER, &key, &e);
    if (keyed < 0) {
        fprintf(stderr, "minerd: %s\n", e.message);
        return 2;
    }
    cfg.key = keyed ? &key : NULL;
    cfg.key_path = FLAG("rpc-key");

    daemon_signals(&stop);

    LOGINFO("starting: network %s, %u thread(s), kernel %s, payout %s%s, worker %s",
            params->name, threads, kernel->name, payout ? payout : JOB_DEMO_PAYOUT,
            cfg.empty_blocks ? ", empty blocks too" : "", worker);
    worker_pool_t *pool = NULL;
    client_t *client = NULL;
    worker_config_t wcfg = {threads, kernel, true};
    promhttp_t *metrics = NULL;
    if (worker_pool_new(&pool, &wcfg, &e) < 0 || client_new(&client, &cfg, pool, &e) < 0 ||
        (FLAG("metrics") &&
         promhttp_start(&metrics, FLAG("metrics"), mmetrics_render, pool, &e) < 0)) {
        LOGERR("%s", e.message);
        client_destroy(&client);
        worker_pool_destroy(&pool);
        return 1;
    }
    daemon_watchdog_t wd;
    daemon_ready(&wd);

    client_run(client, &stop, daemon_watchdog_tick, &wd);

    daemon_stopping();
    LOGINFO("stopping");
    promhttp_stop(&metrics); /* it reads the pool */
    worker_pool_destroy(&pool);
    client_destroy(&client);
    LOGINFO("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    int rc = flags_parse(flags, N_FLAGS, argc, argv, "minerd",
                         "minerd does proof of work for chaind on every core: it takes jobs from "
                         "chaind's events and rpc sockets and submits the blocks it finds.");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    const chain_params_t *params;
    if (daemon_common_flags("minerd", FLAG("log-level"), FLAG("network"), &params) < 0)
        return 2;
    uint64_t threads = worker_cpu_count(), seconds;
    if ((FLAG("threads") &&
         flags_uint("minerd", "threads", FLAG("threads"), 1, WORKER_MAX_THREADS, &threads) < 0) ||
        flags_uint("minerd", "seconds", FLAG("seconds"), 1, 3600, &seconds) < 0)
        return 2;
    const sha256d_kernel_t *kernel = pick_kernel(FLAG("kernel"));
    if (!kernel)
        return 2;
    if (FLAG("benchmark")) {
        bench_config_t b = {(unsigned)threads, (double)seconds, kernel};
        return bench_run(&b, stdout) < 0 ? 1 : 0;
    }
    return run_miner(params, kernel, (unsigned)threads);
}
