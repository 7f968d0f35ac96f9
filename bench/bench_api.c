/* bench_api: how fast chaind's HTTP API answers, against the bounds that
 * matter, measured in the same run on the same machine: GET /healthz (what
 * the server costs before any handler works) and OpenSSL's Ed25519 verify on
 * one core (every accepted POST /transactions costs at least one).
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
 *
 *   bench_api [N [CONNECTIONS [SECONDS [HTTP_THREADS]]]]
 *     defaults: 20000 transactions, 16 connections, 5 s a GET phase, and
 *     chaind's default HTTP thread pool. CHAIND_BIN overrides the binary. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "block.h"
#include "hex.h"
#include "key.h"
#include "merkle.h"
#include "params.h"
#include "script.h"
#include "tx.h"

#ifndef CHAIND_PATH
#define CHAIND_PATH "chaind"
#endif

#define FANOUT_MAX 16000 /* outputs of one fan-out transaction (~530 kB) */
#define COINS_PER_HOLDER 10
#define SPEND_FEE 4000 /* a one-input, one-output spend is ~180 bytes: 10 units a byte */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, const char *detail)
{
    fprintf(stderr, "bench_api: ");
    fprintf(stderr, fmt, detail ? detail : "");
    fprintf(stderr, "\n");
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory%s", NULL);
    return p;
}

/* --- chaind ---------------------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("cannot find a free port%s", NULL);
    close(fd);
    return ntohs(a.sin_port);
}

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

static void daemon_start(daemon_t *d, const char *http_threads)
{
    snprintf(d->dir, sizeof d->dir, "/tmp/bench-api-XXXXXX");
    if (!mkdtemp(d->dir))
        die("mkdtemp: %s", strerror(errno));
    int hp = free_port(), rp = free_port(), ep = free_port();
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
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0)
            dup2(fd, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    d->pid = pid;
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", d->base);
    for (double end = now_s() + 10; now_s() < end;) {
        if (http_get_status(url, 500) == 200)
            return;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            die("chaind exited at start (see %s)", log);
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    die("chaind did not answer /healthz within 10 s (see %s)", log);
}

/* SIGTERM and wait: the exit status (-1 when it had to be killed). */
static int daemon_stop(daemon_t *d)
{
    kill(d->pid, SIGTERM);
    int st = 0;
    for (double end = now_s() + 20; now_s() < end;) {
        if (waitpid(d->pid, &st, WNOHANG) == d->pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &st, 0);
    return -1;
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
        die("curl_easy_init%s", NULL);
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
    char *s = xmalloc(2 * len + 16);
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

/* --- building -------------------------------------------------------------- */

/* A block on parent with txs, paying value to payout; ground to the target. */
static void make_block(mp_buf_t *out, hash32_t *hash, hash32_t *cb_txid, const hash32_t *parent,
                       uint64_t height, uint64_t timestamp, uint32_t bits, const hash20_t *payout,
                       amount_t value, const uint8_t *const *txs, const size_t *lens, size_t n)
{
    tx_coinbase_t cb;
    uint8_t extranonce[8] = {0};
    hash32_t *leaves = xmalloc((n + 1) * sizeof *leaves);
    if (tx_coinbase_build(&cb, height, extranonce, sizeof extranonce, payout, value) < 0 ||
        tx_txid(&cb.tx, &leaves[0]) < 0)
        die("a coinbase%s", NULL);
    if (cb_txid)
        *cb_txid = leaves[0];
    for (size_t i = 0; i < n; i++)
        hash_sha256d(&leaves[i + 1], txs[i], lens[i]);
    block_header_t h = {.version = BLOCK_VERSION, .previous_block_hash = *parent,
                        .timestamp = timestamp, .bits = bits};
    if (merkle_root(&h.merkle_root, NULL, leaves, n + 1) < 0)
        die("merkle%s", NULL);
    free(leaves);
    for (;; h.nonce++) {
        block_header_hash(hash, &h);
        if (block_hash_meets(hash, bits))
            break;
    }
    mp_buf_init(out, BLOCK_MAX_SIZE);
    if (block_assemble(out, &h, &cb.tx, txs, lens, n) < 0)
        die("a block over 1 MB%s", NULL);
}

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
            die("out of memory%s", NULL);
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
        } else if ((k & 15) == 0 && now_s() >= w->until) {
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
    double seconds, p50_ms, p99_ms;
} result_t;

static result_t run_phase(const char *what, phase_t phase, unsigned conns, const char *base,
                          char **bodies, size_t *lens, size_t n_bodies, const holder_t *holders,
                          size_t n_holders, double seconds)
{
    worker_t *w = calloc(conns, sizeof *w);
    pthread_t *t = calloc(conns, sizeof *t);
    _Atomic size_t next = 0;
    if (!w || !t)
        die("out of memory%s", NULL);
    double t0 = now_s();
    for (unsigned i = 0; i < conns; i++) {
        w[i] = (worker_t){.phase = phase, .base = base, .bodies = bodies, .body_lens = lens,
                          .n_bodies = n_bodies, .next = &next, .holders = holders,
                          .n_holders = n_holders, .until = t0 + seconds, .seed = 1234 + i};
        if (pthread_create(&t[i], NULL, work, &w[i]) != 0)
            die("pthread_create%s", NULL);
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
    r.seconds = now_s() - t0;
    if (all.n) {
        qsort(all.ns, all.n, sizeof *all.ns, cmp_u64);
        r.p50_ms = (double)all.ns[all.n / 2] / 1e6;
        r.p99_ms = (double)all.ns[(all.n * 99) / 100] / 1e6; /* n*99/100 < n */
    }
    free(all.ns);
    free(w);
    free(t);
    return r;
}

/* --- the bound: OpenSSL Ed25519 verify on one core -------------------------- */

static double verify_rate_one_core(double seconds)
{
    key_pair_t key;
    uint8_t seed[32] = {7}, msg[32] = {1}, sig[64];
    err_t e;
    if (key_from_seed(&key, seed, &e) < 0 || key_sign(&key, sig, msg, 32, &e) < 0)
        die("OpenSSL Ed25519%s", NULL);
    uint64_t n = 0;
    double t0 = now_s(), end = t0 + seconds;
    while (now_s() < end)
        for (int i = 0; i < 64; i++, n++)
            if (!key_verify(key.pubkey, sig, msg, 32))
                die("Ed25519 verify failed%s", NULL);
    return (double)n / (now_s() - t0);
}

int main(int argc, char **argv)
{
    size_t n_tx = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    unsigned conns = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 16;
    double seconds = argc > 3 ? strtod(argv[3], NULL) : 5.0;
    const char *http_threads = argc > 4 ? argv[4] : NULL;
    if (n_tx < COINS_PER_HOLDER || n_tx > 4 * FANOUT_MAX * 16 || conns == 0 || conns > 1024 ||
        !(seconds > 0))
        die("usage: bench_api [N (10..1024000) [CONNECTIONS [SECONDS [HTTP_THREADS]]]]%s", NULL);
    n_tx -= n_tx % COINS_PER_HOLDER;
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        die("curl_global_init%s", NULL);
    const chain_params_t *p = params_by_name("regtest");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    /* keys: one funding key, N/10 holders */
    double t_prep = now_s();
    err_t e;
    key_pair_t fund;
    uint8_t seed[32] = {42};
    if (key_from_seed(&fund, seed, &e) < 0)
        die("key: %s", e.message);
    hash20_t fund_pkh;
    hash_hash160(&fund_pkh, fund.pubkey, KEY_PUBKEY_LEN);
    size_t n_holders = n_tx / COINS_PER_HOLDER;
    holder_t *holders = xmalloc(n_holders * sizeof *holders);
    for (size_t i = 0; i < n_holders; i++) {
        memset(seed, 0, sizeof seed);
        seed[0] = 0xb0;
        for (int k = 0; k < 8; k++)
            seed[1 + k] = (uint8_t)(i >> (8 * k));
        if (key_from_seed(&holders[i].key, seed, &e) < 0)
            die("key: %s", e.message);
        hash_hash160(&holders[i].pkh, holders[i].key.pubkey, KEY_PUBKEY_LEN);
        address_encode(holders[i].address, p->address_version, &holders[i].pkh);
    }

    daemon_t d;
    daemon_start(&d, http_threads);
    printf("chaind at %s (data in %s); preparing %zu transactions...\n", d.base, d.dir, n_tx);
    fflush(stdout);

    /* blocks 1..F pay the funding key; 2 more for maturity; then F fan-outs */
    mp_buf_t gb;
    block_t genesis;
    mp_buf_init(&gb, BLOCK_MAX_SIZE);
    if (params_genesis_encode(p, &gb) < 0 || block_decode(&genesis, gb.data, gb.len, &e) < 0)
        die("genesis%s", NULL);
    hash32_t tip;
    block_header_hash(&tip, &genesis.header);
    uint64_t t_base = genesis.header.timestamp, height = 0;
    block_free(&genesis);
    mp_buf_free(&gb);
    size_t n_fan = (n_tx + FANOUT_MAX - 1) / FANOUT_MAX;
    hash32_t *cb_txids = xmalloc(n_fan * sizeof *cb_txids);
    amount_t subsidy = params_subsidy(p, 1);
    for (size_t f = 0; f < n_fan + p->coinbase_maturity; f++) {
        mp_buf_t b;
        height++;
        make_block(&b, &tip, f < n_fan ? &cb_txids[f] : NULL, &tip, height, t_base + height,
                   p->pow_limit_bits, &fund_pkh, params_subsidy(p, height), NULL, NULL, 0);
        post_block(d.base, &b, (int)height);
        mp_buf_free(&b);
    }
    /* fan-out f pays coins f*FANOUT_MAX.. to holder (coin / 10) */
    hash32_t *fan_txids = xmalloc(n_fan * sizeof *fan_txids);
    amount_t *coin_value = xmalloc(n_fan * sizeof *coin_value);
    uint8_t(*locks)[SCRIPT_P2PKH_LOCK_LEN] = xmalloc(FANOUT_MAX * sizeof *locks);
    tx_output_t *outs = xmalloc(FANOUT_MAX * sizeof *outs);
    for (size_t f = 0; f < n_fan; f++) {
        size_t first = f * FANOUT_MAX;
        size_t count = n_tx - first < FANOUT_MAX ? n_tx - first : FANOUT_MAX;
        /* fee: 10 units a byte of ~34 bytes an output, with room to spare */
        amount_t fee = 20 * 40 * (amount_t)count + 10000;
        coin_value[f] = (subsidy - fee) / count;
        for (size_t k = 0; k < count; k++) {
            script_p2pkh_lock(locks[k], &holders[(first + k) / COINS_PER_HOLDER].pkh);
            outs[k] = (tx_output_t){coin_value[f], locks[k], SCRIPT_P2PKH_LOCK_LEN};
        }
        tx_input_t in = {.prev_txid = cb_txids[f], .index = 0};
        tx_t tx = {.version = TX_VERSION, .n_inputs = 1, .inputs = &in, .n_outputs = count,
                   .outputs = outs};
        uint8_t unlock[1][SCRIPT_P2PKH_UNLOCK_LEN];
        mp_buf_t tb, b;
        mp_buf_init(&tb, TX_MAX_SIZE);
        if (tx_sign_p2pkh(&tx, &fund, unlock, &e) < 0 || tx_txid(&tx, &fan_txids[f]) < 0 ||
            tx_encode(&tx, &tb, false) < 0)
            die("a fan-out transaction%s", NULL);
        const uint8_t *txs[1] = {tb.data};
        size_t lens[1] = {tb.len};
        amount_t paid = coin_value[f] * count;
        height++;
        make_block(&b, &tip, NULL, &tip, height, t_base + height, p->pow_limit_bits, &fund_pkh,
                   params_subsidy(p, height) + (subsidy - paid), txs, lens, 1);
        post_block(d.base, &b, (int)height);
        mp_buf_free(&b);
        mp_buf_free(&tb);
    }
    free(locks);
    free(outs);

    /* the N spends: coin i by its holder, one output back to the holder */
    char **bodies = xmalloc(n_tx * sizeof *bodies);
    size_t *body_lens = xmalloc(n_tx * sizeof *body_lens);
    size_t tx_bytes = 0;
    for (size_t i = 0; i < n_tx; i++) {
        const holder_t *hd = &holders[i / COINS_PER_HOLDER];
        size_t f = i / FANOUT_MAX;
        uint8_t lock[SCRIPT_P2PKH_LOCK_LEN], unlock[1][SCRIPT_P2PKH_UNLOCK_LEN];
        script_p2pkh_lock(lock, &hd->pkh);
        tx_input_t in = {.prev_txid = fan_txids[f], .index = (uint32_t)(i % FANOUT_MAX)};
        tx_output_t out = {coin_value[f] - SPEND_FEE, lock, sizeof lock};
        tx_t tx = {.version = TX_VERSION, .n_inputs = 1, .inputs = &in, .n_outputs = 1,
                   .outputs = &out};
        mp_buf_t tb;
        mp_buf_init(&tb, TX_MAX_SIZE);
        if (tx_sign_p2pkh(&tx, &hd->key, unlock, &e) < 0 || tx_encode(&tx, &tb, false) < 0)
            die("a spend%s", NULL);
        if ((amount_t)tb.len * 10 > SPEND_FEE)
            die("the spend fee is under 10 units a byte%s", NULL);
        tx_bytes += tb.len;
        bodies[i] = hex_body(tb.data, tb.len, &body_lens[i]);
        mp_buf_free(&tb);
    }
    t_prep = now_s() - t_prep;
    printf("prepared in %.1f s (%zu blocks posted); measuring with %u connections...\n", t_prep,
           (size_t)height, conns);
    fflush(stdout);

    result_t res[4];
    res[0] = run_phase("POST /transactions (accepted)", PH_POST_TX, conns, d.base, bodies,
                       body_lens, n_tx, holders, n_holders, 0);
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
    int rc = daemon_stop(&d);
    double verify = verify_rate_one_core(2.0);

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
    printf("| bound: OpenSSL Ed25519 verify, one core | | | | 2.00 | %.0f | %.3f | |\n", verify,
           1e3 / verify);
    double tx_rate = (double)res[0].ok / res[0].seconds;
    printf("\n| ratio | value |\n| --- | --- |\n");
    printf("| accepted tx/s ÷ one-core verify/s | %.2f |\n", tx_rate / verify);
    printf("| accepted tx/s ÷ GET /healthz/s | %.2f |\n",
           tx_rate / ((double)res[3].ok / res[3].seconds));
    printf("| GET /status/s ÷ GET /healthz/s | %.2f |\n",
           ((double)res[2].ok / res[2].seconds) / ((double)res[3].ok / res[3].seconds));
    printf("\nchaind: GET /status after the run answered %ld; exit status on SIGTERM %d\n", st,
           rc);

    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", d.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_api: could not remove %s\n", d.dir);
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
