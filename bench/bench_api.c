/* bench_api: how fast chaind's HTTP API answers, against the bounds that
 * matter, measured in the same run on the same machine: GET /healthz (what
 * the server costs before any handler works) and libsodium's Ed25519 verify
 * (the consensus rule; every accepted POST /transactions costs at least one)
 * on every CPU over as many distinct keys as the spends have, before and
 * after the run, with OpenSSL's rate beside it.
 *
 * It starts the built chaind (regtest, a temporary data directory, free
 * loopback ports), funds N coins through blocks it grinds and posts (coinbases
 * to a bench key, two blocks for maturity, then fan-out transactions paying
 * ten coins to each of N/10 holder keys), signs N one-input transactions
 * spending them, and then drives the API from a pool of client threads, each
 * with its own keep-alive connection (libcurl):
 *   POST /transactions   each of the N transactions once: accepted/s
 *   GET  /utxo/<address> over the holders' addresses (10 coins each)
 *   GET  /status, GET /healthz
 * The GET phases run for a fixed time each; latencies are per request.
 * Around the POST phase it reads chaind's /metrics for the mempool's group
 * commits (a POST is answered once its record is durable): how many
 * transactions one commit made durable on average. A chaind without those
 * metrics (an older one, through CHAIND_BIN) says so. The disk's bound is
 * measured beside it, before and after the run: 4 KiB writes each followed
 * by fdatasync, in chaind's data directory's file system; a group commit
 * costs two of them (LMDB's data pages, then its meta page).
 *
 * With --phases, chaind runs with --phases and a table after the others
 * says where a POST /transactions request's time went (node_phases(), read
 * from /metrics around the POST phase), as shares of the mean latency the
 * clients saw; what chaind does not time (HTTP parsing, the hex decode, the
 * resume after the commit, the answer, the client, loopback) is the rest,
 * beside the hex decode alone, timed here over the same bodies.
 *
 *   bench_api [--phases] [N [CONNECTIONS [SECONDS [HTTP_THREADS]]]]
 *     defaults: 20000 transactions, 16 connections, 5 s a GET phase, and
 *     chaind's default HTTP thread pool. CHAIND_BIN overrides the binary. */
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "bench_util.h"
#include "hex.h"
#include "key.h"
#include "node.h"
#include "params.h"

#ifndef CHAIND_PATH
#define CHAIND_PATH "chaind"
#endif

#define FANOUT_MAX 16000 /* outputs of one fan-out transaction (~530 kB) */
#define COINS_PER_HOLDER 10
#define SPEND_FEE 4000 /* a one-input, one-output spend is ~180 bytes: 10 units a byte */

/* --- chaind ---------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    char dir[64], base[64];
} daemon_t;

static size_t sink(char *data, size_t size, size_t n, void *arg);

static long http_get_status(const char *url, long timeout_ms)
{
    CURL *c = curl_easy_init();
    long status = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static void daemon_start(daemon_t *d, const char *http_threads, bool phases)
{
    bench_tmpdir(d->dir, sizeof d->dir, "bench-api");
    int hp = bench_free_port(), rp = bench_free_port(), ep = bench_free_port();
    char http[32], rpc[64], events[64], data[96], log[96];
    snprintf(http, sizeof http, "127.0.0.1:%d", hp);
    snprintf(rpc, sizeof rpc, "tcp://127.0.0.1:%d", rp);
    snprintf(events, sizeof events, "tcp://127.0.0.1:%d", ep);
    snprintf(data, sizeof data, "%s/data", d->dir);
    snprintf(log, sizeof log, "%s/chaind.log", d->dir);
    snprintf(d->base, sizeof d->base, "http://%s", http);
    const char *bin = getenv("CHAIND_BIN") ? getenv("CHAIND_BIN") : CHAIND_PATH;
    const char *argv[20] = {bin,      "--network", "regtest", "--datadir", data,
                            "--http", http,        "--rpc",   rpc,         "--events",
                            events,   "--log-level", "warn"};
    int argc = 13;
    if (http_threads) {
        argv[argc++] = "--http-threads";
        argv[argc++] = http_threads;
    }
    if (phases)
        argv[argc++] = "--phases";
    argv[argc] = NULL;
    d->pid = bench_spawn(argv, log);
    char what[160], url[128];
    snprintf(what, sizeof what, "chaind did not open its HTTP port (see %s)", log);
    bench_wait_port(hp, d->pid, what);
    snprintf(url, sizeof url, "%s/healthz", d->base);
    for (double end = bench_now() + 10; bench_now() < end; bench_sleep_ms(50))
        if (http_get_status(url, 500) == 200)
            return;
    bench_die("chaind did not answer /healthz within 10 s (see %s)", log);
}

/* --- HTTP ------------------------------------------------------------------ */

typedef struct {
    char buf[512]; /* the start of the answer, for checks */
    size_t len;
} body_t;

static size_t sink(char *data, size_t size, size_t n, void *arg)
{
    body_t *b = arg;
    size_t k = size * n;
    if (b && b->len + 1 < sizeof b->buf) {
        size_t take = k < sizeof b->buf - 1 - b->len ? k : sizeof b->buf - 1 - b->len;
        memcpy(b->buf + b->len, data, take);
        b->len += take;
        b->buf[b->len] = '\0';
    }
    return k;
}

/* One blocking POST of a JSON body: the status, the answer's start in *out. */
static long post(CURL *c, const char *url, const char *body, size_t len, body_t *out)
{
    out->len = 0;
    out->buf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static CURL *client(struct curl_slist *headers)
{
    CURL *c = curl_easy_init();
    if (!c)
        bench_die("curl_easy_init");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    return c;
}

/* {"hex": "<data>"} */
static char *hex_body(const uint8_t *data, size_t len, size_t *out_len)
{
    char *s = bench_xmalloc(2 * len + 16);
    memcpy(s, "{\"hex\":\"", 8);
    hex_encode(s + 8, data, len);
    memcpy(s + 8 + 2 * len, "\"}", 3);
    *out_len = 8 + 2 * len + 2;
    return s;
}

static void post_block(const char *base, const mp_buf_t *b, int height)
{
    char url[128];
    snprintf(url, sizeof url, "%s/block", base);
    size_t len;
    char *body = hex_body(b->data, b->len, &len);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    CURL *c = client(h);
    body_t out;
    long st = post(c, url, body, len, &out);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(body);
    if (st != 200 || !strstr(out.buf, "\"tip\"")) {
        fprintf(stderr, "bench_api: block %d: HTTP %ld %s\n", height, st, out.buf);
        exit(1);
    }
}

/* Collects a whole answer (bounded: /metrics is a few kB). */
typedef struct {
    char buf[16384];
    size_t len;
} text_t;

static size_t collect_text(char *data, size_t size, size_t n, void *arg)
{
    text_t *t = arg;
    size_t k = size * n, room = sizeof t->buf - 1 - t->len;
    memcpy(t->buf + t->len, data, k < room ? k : room);
    t->len += k < room ? k : room;
    t->buf[t->len] = '\0';
    return k;
}

/* A counter of chaind's /metrics; false when it has none of that name. */
static bool metric_value(const char *base, const char *name, double *v)
{
    char url[128], want[128];
    snprintf(url, sizeof url, "%s/metrics", base);
    text_t t = {.len = 0};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_text);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    bool ok = curl_easy_perform(c) == CURLE_OK;
    curl_easy_cleanup(c);
    snprintf(want, sizeof want, "\n%s ", name);
    const char *at = ok ? strstr(t.buf, want) : NULL;
    return at && sscanf(at + strlen(want), "%lf", v) == 1;
}

/* 4 KiB pwrite + fdatasync a second, over `seconds`, in dir. */
static double fsync_rate(const char *dir, double seconds)
{
    char path[128];
    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0)
        bench_die("cannot write %s", path);
    static const char page[4096] = {1};
    size_t n = 0;
    double start = bench_now(), end = start + seconds;
    while (bench_now() < end)
        if (pwrite(fd, page, sizeof page, (off_t)(n++ % 16) * 4096) != (ssize_t)sizeof page ||
            fdatasync(fd) != 0)
            bench_die("fdatasync in %s failed", dir);
    double rate = (double)n / (bench_now() - start);
    close(fd);
    unlink(path);
    return rate;
}

/* The mempool's group commits so far: false for a chaind without them. */
static bool commits(const char *base, double *n_commits, double *n_ops)
{
    return metric_value(base, "chain_mempool_commits_total", n_commits) &&
           metric_value(base, "chain_mempool_commit_ops_total", n_ops);
}

/* chaind --phases' counters (/metrics): NODE_PHASES phases' seconds, then
 * transactions, puts, the commits' and syncs' seconds. false without them. */
#define PHASE_VALUES (NODE_PHASES + 4)
static bool read_phases(const char *base, double v[PHASE_VALUES])
{
    static const char *const tail[] = {"chain_tx_phase_transactions_total",
                                       "chain_tx_phase_puts_total",
                                       "chain_tx_phase_commit_seconds_total",
                                       "chain_tx_phase_sync_seconds_total"};
    char name[96];
    bool ok = true;
    for (int i = 0; ok && i < PHASE_VALUES; i++) {
        if (i < NODE_PHASES)
            snprintf(name, sizeof name, "chain_tx_phase_seconds_total{phase=\"%s\"}",
                     node_phase_name(i));
        ok = metric_value(base, i < NODE_PHASES ? name : tail[i - NODE_PHASES], &v[i]);
    }
    return ok;
}

/* Seconds a hex decode of a request's transaction takes, on average over
 * the bodies, on one thread: the part of HTTP parsing chaind does not time. */
static double hex_decode_seconds(char *const *bodies, const size_t *lens, size_t n)
{
    static uint8_t buf[TX_MAX_SIZE]; /* a POST body holds one transaction at most */
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++) /* {"hex":"...."} */
        if (hex_decode(buf, sizeof buf, bodies[i] + 8, lens[i] - 10) < 0)
            bench_die("a body's hex does not decode");
    return (bench_now() - t0) / (double)(n ? n : 1);
}

/* The table of bench_api --phases: d = the counters' growth over the POST
 * phase, whose requests took mean_ms on average. */
static void print_phases(const double d[PHASE_VALUES], double mean_ms, double hex_s)
{
    double txs = d[NODE_PHASES] > 0 ? d[NODE_PHASES] : 1;
    double puts = d[NODE_PHASES + 1] > 0 ? d[NODE_PHASES + 1] : 1, sum_us = 0;
    printf("\nPOST /transactions, where a request's time went: %.0f timed, %.0f puts made "
           "durable; mean latency %.3f ms\n\n", d[NODE_PHASES], d[NODE_PHASES + 1], mean_ms);
    printf("| phase (chaind --phases) | total ms, summed over requests | µs a transaction | "
           "share of the mean latency |\n| --- | ---: | ---: | ---: |\n");
    for (int i = 0; i < NODE_PHASES; i++) {
        double us = 1e6 * d[i] / (i == NODE_PHASE_DURABLE ? puts : txs);
        sum_us += us;
        printf("| %s | %.1f | %.2f | %.1f %% |\n", node_phase_name(i), 1e3 * d[i], us,
               100 * us / (1e3 * mean_ms));
    }
    double rest = 1e3 * mean_ms - sum_us;
    printf("| the rest: HTTP parse (hex decode %.2f µs of it, timed here), resume, answer, "
           "client, loopback | | %.2f | %.1f %% |\n", 1e6 * hex_s, rest,
           100 * rest / (1e3 * mean_ms));
    printf("\nthe committer: %.1f ms in writes with their commits, %.1f ms in store_sync "
           "(%.2f µs and %.2f µs a put)\n", 1e3 * d[NODE_PHASES + 2], 1e3 * d[NODE_PHASES + 3],
           1e6 * d[NODE_PHASES + 2] / puts, 1e6 * d[NODE_PHASES + 3] / puts);
}

/* --- building -------------------------------------------------------------- */

typedef struct {
    key_pair_t key;
    hash20_t pkh;
    char address[ADDRESS_MAX];
} holder_t;

/* --- the client pool ------------------------------------------------------- */

typedef struct {
    uint64_t *ns; /* latencies */
    size_t n, cap;
} lat_t;

static void lat_add(lat_t *l, uint64_t ns)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4096;
        l->ns = realloc(l->ns, l->cap * sizeof *l->ns);
        if (!l->ns)
            bench_die("out of memory");
    }
    l->ns[l->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef enum { PH_POST_TX, PH_UTXO, PH_STATUS, PH_HEALTHZ } phase_t;

typedef struct {
    phase_t phase;
    const char *base;
    char **bodies; /* POST phase */
    size_t *body_lens;
    size_t n_bodies;
    _Atomic size_t *next;
    const holder_t *holders;
    size_t n_holders;
    double until; /* GET phases */
    unsigned seed;
    /* results */
    lat_t lat;
    uint64_t ok, failed, known;
    long connects;
    char first_error[200];
} worker_t;

static uint64_t elapsed_ns(const struct timespec *a, const struct timespec *b)
{
    return (uint64_t)(b->tv_sec - a->tv_sec) * 1000000000u + (uint64_t)b->tv_nsec -
           (uint64_t)a->tv_nsec;
}

static void *work(void *arg)
{
    worker_t *w = arg;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    CURL *c = client(h);
    body_t out;
    char url[256];
    for (size_t k = 0;; k++) {
        size_t i = 0;
        if (w->phase == PH_POST_TX) {
            i = atomic_fetch_add(w->next, 1);
            if (i >= w->n_bodies)
                break;
        } else if ((k & 15) == 0 && bench_now() >= w->until) {
            break;
        }
        struct timespec t0, t1;
        long st = 0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (w->phase == PH_POST_TX) {
            snprintf(url, sizeof url, "%s/transactions", w->base);
            st = post(c, url, w->bodies[i], w->body_lens[i], &out);
        } else {
            if (w->phase == PH_UTXO)
                snprintf(url, sizeof url, "%s/utxo/%s", w->base,
                         w->holders[(size_t)rand_r(&w->seed) % w->n_holders].address);
            else
                snprintf(url, sizeof url, "%s%s", w->base,
                         w->phase == PH_STATUS ? "/status" : "/healthz");
            out.len = 0;
            curl_easy_setopt(c, CURLOPT_URL, url);
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
            if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        lat_add(&w->lat, elapsed_ns(&t0, &t1));
        long made = 0;
        if (curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &made) == CURLE_OK)
            w->connects += made;
        bool known = st == 200 && w->phase == PH_POST_TX && strstr(out.buf, "\"known\"");
        if (st == 200 && !known) {
            w->ok++;
        } else {
            w->failed += !known;
            w->known += known;
            if (!w->first_error[0])
                snprintf(w->first_error, sizeof w->first_error, "HTTP %ld %.150s", st, out.buf);
        }
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return NULL;
}

typedef struct {
    const char *what;
    uint64_t ok, failed;
    long connects;
    double seconds, p50_ms, p99_ms, mean_ms;
} result_t;

static result_t run_phase(const char *what, phase_t phase, unsigned conns, const char *base,
                          char **bodies, size_t *lens, size_t n_bodies, const holder_t *holders,
                          size_t n_holders, double seconds)
{
    worker_t *w = calloc(conns, sizeof *w);
    pthread_t *t = calloc(conns, sizeof *t);
    _Atomic size_t next = 0;
    if (!w || !t)
        bench_die("out of memory");
    double t0 = bench_now();
    for (unsigned i = 0; i < conns; i++) {
        w[i] = (worker_t){.phase = phase, .base = base, .bodies = bodies, .body_lens = lens,
                          .n_bodies = n_bodies, .next = &next, .holders = holders,
                          .n_holders = n_holders, .until = t0 + seconds, .seed = 1234 + i};
        if (pthread_create(&t[i], NULL, work, &w[i]) != 0)
            bench_die("pthread_create");
    }
    lat_t all = {0};
    result_t r = {.what = what};
    for (unsigned i = 0; i < conns; i++) {
        pthread_join(t[i], NULL);
        for (size_t k = 0; k < w[i].lat.n; k++)
            lat_add(&all, w[i].lat.ns[k]);
        r.ok += w[i].ok;
        r.failed += w[i].failed + w[i].known;
        r.connects += w[i].connects;
        if (w[i].first_error[0] && w[i].failed)
            fprintf(stderr, "bench_api: %s: first failure: %s\n", what, w[i].first_error);
        free(w[i].lat.ns);
    }
    r.seconds = bench_now() - t0;
    if (all.n) {
        qsort(all.ns, all.n, sizeof *all.ns, cmp_u64);
        r.p50_ms = (double)all.ns[all.n / 2] / 1e6;
        r.p99_ms = (double)all.ns[(all.n * 99) / 100] / 1e6; /* n*99/100 < n */
        double sum = 0;
        for (size_t k = 0; k < all.n; k++)
            sum += (double)all.ns[k];
        r.mean_ms = sum / (double)all.n / 1e6;
    }
    free(all.ns);
    free(w);
    free(t);
    return r;
}

int main(int argc, char **argv)
{
    bench_init("bench_api");
    bool phases = argc > 1 && strcmp(argv[1], "--phases") == 0;
    if (phases) {
        argc--;
        argv++;
    }
    size_t n_tx = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    unsigned conns = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 16;
    double seconds = argc > 3 ? strtod(argv[3], NULL) : 5.0;
    const char *http_threads = argc > 4 ? argv[4] : NULL;
    if (n_tx < COINS_PER_HOLDER || n_tx > 4 * FANOUT_MAX * 16 || conns == 0 || conns > 1024 ||
        !(seconds > 0))
        bench_die("usage: bench_api [--phases] [N (10..1024000) [CONNECTIONS [SECONDS "
                  "[HTTP_THREADS]]]]");
    n_tx -= n_tx % COINS_PER_HOLDER;
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        bench_die("curl_global_init");
    const chain_params_t *p = params_by_name("regtest");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    /* keys: one funding key, N/10 holders */
    double t_prep = bench_now();
    err_t e;
    key_pair_t fund;
    uint8_t seed[32] = {42};
    if (key_from_seed(&fund, seed, &e) < 0)
        bench_die("key: %s", e.message);
    hash20_t fund_pkh;
    hash_hash160(&fund_pkh, fund.pubkey, KEY_PUBKEY_LEN);
    size_t n_holders = n_tx / COINS_PER_HOLDER;
    holder_t *holders = bench_xmalloc(n_holders * sizeof *holders);
    for (size_t i = 0; i < n_holders; i++) {
        memset(seed, 0, sizeof seed);
        seed[0] = 0xb0;
        for (int k = 0; k < 8; k++)
            seed[1 + k] = (uint8_t)(i >> (8 * k));
        if (key_from_seed(&holders[i].key, seed, &e) < 0)
            bench_die("key: %s", e.message);
        hash_hash160(&holders[i].pkh, holders[i].key.pubkey, KEY_PUBKEY_LEN);
        address_encode(holders[i].address, p->address_version, &holders[i].pkh);
    }

    daemon_t d;
    daemon_start(&d, http_threads, phases);
    printf("chaind at %s (data in %s); preparing %zu transactions...\n", d.base, d.dir, n_tx);
    fflush(stdout);

    /* blocks 1..F pay the funding key; 2 more for maturity; then F fan-outs */
    hash32_t tip;
    uint64_t t_base, height = 0;
    bench_genesis(p, &tip, NULL, &t_base);
    size_t n_fan = (n_tx + FANOUT_MAX - 1) / FANOUT_MAX;
    hash32_t *cb_txids = bench_xmalloc(n_fan * sizeof *cb_txids);
    amount_t subsidy = params_subsidy(p, 1);
    for (size_t f = 0; f < n_fan + p->coinbase_maturity; f++) {
        mp_buf_t b;
        height++;
        bench_block(&b, &tip, f < n_fan ? &cb_txids[f] : NULL, &tip, height, t_base + height,
                   p->pow_limit_bits, &fund_pkh, params_subsidy(p, height), NULL, NULL, 0);
        post_block(d.base, &b, (int)height);
        mp_buf_free(&b);
    }
    /* fan-out f pays coins f*FANOUT_MAX.. to holder (coin / 10) */
    hash32_t *fan_txids = bench_xmalloc(n_fan * sizeof *fan_txids);
    amount_t *coin_value = bench_xmalloc(n_fan * sizeof *coin_value);
    hash20_t *to = bench_xmalloc(FANOUT_MAX * sizeof *to);
    for (size_t f = 0; f < n_fan; f++) {
        size_t first = f * FANOUT_MAX;
        size_t count = n_tx - first < FANOUT_MAX ? n_tx - first : FANOUT_MAX;
        /* fee: 10 units a byte of ~34 bytes an output, with room to spare */
        amount_t fee = 20 * 40 * (amount_t)count + 10000;
        coin_value[f] = (subsidy - fee) / count;
        for (size_t k = 0; k < count; k++)
            to[k] = holders[(first + k) / COINS_PER_HOLDER].pkh;
        mp_buf_t tb, b;
        bench_tx(&tb, &fan_txids[f], &fund, &cb_txids[f], 0, to, count, coin_value[f]);
        const uint8_t *txs[1] = {tb.data};
        size_t lens[1] = {tb.len};
        amount_t paid = coin_value[f] * count;
        height++;
        bench_block(&b, &tip, NULL, &tip, height, t_base + height, p->pow_limit_bits, &fund_pkh,
                   params_subsidy(p, height) + (subsidy - paid), txs, lens, 1);
        post_block(d.base, &b, (int)height);
        mp_buf_free(&b);
        mp_buf_free(&tb);
    }
    free(to);

    /* the N spends: coin i by its holder, one output back to the holder */
    char **bodies = bench_xmalloc(n_tx * sizeof *bodies);
    size_t *body_lens = bench_xmalloc(n_tx * sizeof *body_lens);
    size_t tx_bytes = 0;
    for (size_t i = 0; i < n_tx; i++) {
        const holder_t *hd = &holders[i / COINS_PER_HOLDER];
        size_t f = i / FANOUT_MAX;
        mp_buf_t tb;
        bench_tx(&tb, NULL, &hd->key, &fan_txids[f], (uint32_t)(i % FANOUT_MAX), &hd->pkh, 1,
                 coin_value[f] - SPEND_FEE);
        if ((amount_t)tb.len * 10 > SPEND_FEE)
            bench_die("the spend fee is under 10 units a byte");
        tx_bytes += tb.len;
        bodies[i] = hex_body(tb.data, tb.len, &body_lens[i]);
        mp_buf_free(&tb);
    }
    t_prep = bench_now() - t_prep;
    printf("prepared in %.1f s (%zu blocks posted); measuring with %u connections...\n", t_prep,
           (size_t)height, conns);
    fflush(stdout);

    /* the bounds before and after the run: on a shared machine their mean
     * is what the run competed with; as many keys as the spends' holders */
    unsigned all = cpus > 0 ? (unsigned)cpus : 1;
    bench_bound_t sodium, openssl, disk;
    disk.before = fsync_rate(d.dir, 1.0);
    sodium.before = bench_verify_rate(BENCH_LIBSODIUM, all, n_holders, 2.0);
    openssl.before = bench_verify_rate(BENCH_OPENSSL, all, n_holders, 2.0);
    result_t res[4];
    double c0 = 0, o0 = 0, c1 = 0, o1 = 0;
    double ph0[PHASE_VALUES], ph1[PHASE_VALUES];
    bool grouped = commits(d.base, &c0, &o0);
    bool timed = phases && read_phases(d.base, ph0);
    res[0] = run_phase("POST /transactions (accepted)", PH_POST_TX, conns, d.base, bodies,
                       body_lens, n_tx, holders, n_holders, 0);
    grouped = grouped && commits(d.base, &c1, &o1);
    timed = timed && read_phases(d.base, ph1);
    res[1] = run_phase("GET /utxo/<address> (10 coins)", PH_UTXO, conns, d.base, NULL, NULL, 0,
                       holders, n_holders, seconds);
    res[2] = run_phase("GET /status", PH_STATUS, conns, d.base, NULL, NULL, 0, holders, n_holders,
                       seconds);
    res[3] = run_phase("bound: GET /healthz (server floor)", PH_HEALTHZ, conns, d.base, NULL, NULL,
                       0, holders, n_holders, seconds);

    /* the node must hold every accepted transaction */
    char url[128];
    snprintf(url, sizeof url, "%s/status", d.base);
    long st = http_get_status(url, 5000);
    int rc = bench_stop(d.pid, 20);
    sodium.after = bench_verify_rate(BENCH_LIBSODIUM, all, n_holders, 2.0);
    openssl.after = bench_verify_rate(BENCH_OPENSSL, all, n_holders, 2.0);
    disk.after = fsync_rate(d.dir, 1.0);
    double verify = bench_bound_mean(sodium), beside = bench_bound_mean(openssl),
           syncs = bench_bound_mean(disk);

    printf("\n| machine | %ld CPUs online; chaind HTTP threads: %s; %u client threads, one "
           "keep-alive connection each, on the same machine |\n",
           cpus, http_threads ? http_threads : "default (4)", conns);
    printf("| --- | --- |\n");
    printf("| workload | %zu one-input P2PKH spends (%.0f bytes average), %zu addresses of %d "
           "coins |\n\n",
           n_tx, (double)tx_bytes / (double)n_tx, n_holders, COINS_PER_HOLDER);
    printf("| what | requests ok | failed | connections | seconds | requests/s | p50 ms | p99 ms "
           "|\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < 4; i++)
        printf("| %s | %" PRIu64 " | %" PRIu64 " | %ld | %.2f | %.0f | %.3f | %.3f |\n",
               res[i].what, res[i].ok, res[i].failed, res[i].connects, res[i].seconds,
               (double)res[i].ok / res[i].seconds, res[i].p50_ms, res[i].p99_ms);
    printf("| bound: libsodium Ed25519 verify, %u threads, %zu keys (%.0f before, %.0f after) "
           "| | | | 4.00 | %.0f | | |\n", all, n_holders, sodium.before, sodium.after, verify);
    printf("| beside it: OpenSSL Ed25519 verify, %u threads, %zu keys (%.0f before, %.0f after) "
           "| | | | 4.00 | %.0f | | |\n", all, n_holders, openssl.before, openssl.after,
           beside);
    printf("| bound: 4 KiB write + fdatasync, one thread (%.0f before, %.0f after) | | | | 2.00 "
           "| %.0f | | |\n", disk.before, disk.after, syncs);
    double tx_rate = (double)res[0].ok / res[0].seconds;
    printf("\n| ratio | value |\n| --- | --- |\n");
    printf("| accepted tx/s ÷ libsodium verify/s on %u threads | %.2f |\n", all,
           tx_rate / verify);
    printf("| libsodium verify/s ÷ OpenSSL verify/s | %.2f |\n", verify / beside);
    printf("| accepted tx/s ÷ GET /healthz/s | %.2f |\n",
           tx_rate / ((double)res[3].ok / res[3].seconds));
    printf("| GET /status/s ÷ GET /healthz/s | %.2f |\n",
           ((double)res[2].ok / res[2].seconds) / ((double)res[3].ok / res[3].seconds));
    if (grouped && c1 > c0)
        printf("\nmempool group commits during POST /transactions: %.0f for %.0f changes, "
               "%.1f a commit (%.0f commits/s, %.2f of the disk's fdatasync/s ÷ 2)\n", c1 - c0,
               o1 - o0, (o1 - o0) / (c1 - c0), (c1 - c0) / res[0].seconds,
               (c1 - c0) / res[0].seconds / (syncs / 2));
    else
        printf("\nmempool group commits: not reported by this chaind\n");
    if (timed) {
        for (int i = 0; i < PHASE_VALUES; i++)
            ph1[i] -= ph0[i];
        print_phases(ph1, res[0].mean_ms, hex_decode_seconds(bodies, body_lens, n_tx));
    } else if (phases) {
        printf("\nphases: not reported by this chaind (no --phases)\n");
    }
    printf("\nchaind: GET /status after the run answered %ld; exit status on SIGTERM %d\n", st,
           rc);

    bench_rmdir(d.dir);
    for (size_t i = 0; i < n_tx; i++)
        free(bodies[i]);
    free(bodies);
    free(body_lens);
    free(holders);
    free(cb_txids);
    free(fan_txids);
    free(coin_value);
    curl_global_cleanup();
    bool bad = res[0].ok != n_tx || res[0].failed || res[1].failed || res[2].failed ||
               res[3].failed || st != 200 || rc != 0;
    if (bad)
        fprintf(stderr, "bench_api: some requests failed or chaind did not stop cleanly\n");
    return bad ? 1 : 0;
}
