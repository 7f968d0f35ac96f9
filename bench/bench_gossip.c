/* bench_gossip: what gossipd costs on top of chaind, measured on real
 * processes over loopback.
 *
 *  1. Propagation: a line of 5 nodes (chaind + gossipd each, one connection
 *     between neighbours). LATENCY_BLOCKS blocks are handed to the first
 *     chaind one at a time; each node's `block` event is timestamped by this
 *     process (a SUB on every chaind), giving the delay per hop (p50, p99).
 *  2. Sync: a chain of BLOCKS blocks of TXS signed transactions each is given
 *     to one chaind straight over its rpc socket (submit_block, pipelined):
 *     that is chaind's own validation rate in this run. Then a fresh node
 *     with --peer on it syncs the chain through gossipd; its rate is set
 *     against chaind's. ROUNDS rounds, fresh nodes each, the best of each
 *     kept (on a shared machine other work only ever slows a run down).
 *
 *   bench_gossip [BLOCKS [TXS [LATENCY_BLOCKS [ROUNDS]]]]  defaults: 2000 10 200 3
 *   BENCH_KEEP=1 keeps the nodes' directories (their logs) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_util.h"
#include "key.h"
#include "params.h"
#include "proto.h"
#include "rpckey.h"
#include "zmqopt.h"

#define LINE 5

/* --- processes ------------------------------------------------------------------- */

typedef struct {
    char dir[64];
    int http, rpc, events, p2p;
    char rpc_ep[64], events_ep[64], addr[32];
    char key[96]; /* the gossip key its chaind made */
    pid_t chaind, gossipd;
    void *req, *sub; /* our sockets to its chaind */
} node_t;

static void *zctx;
static node_t nodes[LINE + 2];
static size_t n_nodes;

static node_t *start_chaind(void)
{
    node_t *n = &nodes[n_nodes++];
    memset(n, 0, sizeof *n);
    bench_tmpdir(n->dir, sizeof n->dir, "bench-gossip");
    n->http = bench_free_port();
    n->rpc = bench_free_port();
    n->events = bench_free_port();
    n->p2p = bench_free_port();
    snprintf(n->rpc_ep, sizeof n->rpc_ep, "tcp://127.0.0.1:%d", n->rpc);
    snprintf(n->events_ep, sizeof n->events_ep, "tcp://127.0.0.1:%d", n->events);
    snprintf(n->addr, sizeof n->addr, "127.0.0.1:%d", n->p2p);
    char http[32], log[128];
    snprintf(http, sizeof http, "127.0.0.1:%d", n->http);
    snprintf(log, sizeof log, "%s/chaind.log", n->dir);
    const char *argv[] = {CHAIN_BINARY_DIR "/chaind/chaind", "--network", "regtest", "--datadir",
                          n->dir, "--http", http, "--rpc", n->rpc_ep, "--events", n->events_ep,
                          NULL};
    n->chaind = bench_spawn(argv, log);
    bench_wait_port(n->http, n->chaind, "chaind did not start");
    n->req = zmq_socket(zctx, ZMQ_DEALER);
    n->sub = zmq_socket(zctx, ZMQ_SUB);
    /* a gossip key, as gossipd's: the bench submits blocks as gossipd does */
    rpckey_client_t key;
    err_t e;
    memcpy(n->key, n->dir, sizeof n->dir);
    strncat(n->key, "/rpc/gossip.key", sizeof n->key - strlen(n->key) - 1);
    zmqopt_t o = {.sndhwm = 1000, .rcvhwm = 100000, .curve_client = &key};
    if (rpckey_load_client(n->key, &key, &e) < 0 || zmqopt_apply(n->req, &o, &e) < 0 ||
        zmqopt_apply(n->sub, &o, &e) < 0)
        bench_die("%s", e.message);
    int hwm = 0;
    zmq_setsockopt(n->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(n->sub, ZMQ_SUBSCRIBE, "block", 5);
    if (zmq_connect(n->req, n->rpc_ep) < 0 || zmq_connect(n->sub, n->events_ep) < 0)
        bench_die("cannot connect to chaind");
    return n;
}

static void start_gossipd(node_t *n, const char *const *extra)
{
    char listen[32], dir[96], log[128];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", n->p2p);
    snprintf(dir, sizeof dir, "%s/gossipd", n->dir);
    snprintf(log, sizeof log, "%s/gossipd.log", n->dir);
    const char *argv[32] = {CHAIN_BINARY_DIR "/gossipd/gossipd", "--network", "regtest",
                            "--datadir", dir, "--listen", listen, "--rpc", n->rpc_ep,
                            "--events", n->events_ep, "--rpc-key", n->key};
    int argc = 13;
    for (int i = 0; extra && extra[i] && argc < 30; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    n->gossipd = bench_spawn(argv, log);
    bench_wait_port(n->p2p, n->gossipd, "gossipd did not start");
}

static void stop_all(void)
{
    for (size_t i = 0; i < n_nodes; i++) {
        node_t *n = &nodes[i];
        if (n->req)
            zmq_close(n->req);
        if (n->sub)
            zmq_close(n->sub);
        pid_t pids[2] = {n->gossipd, n->chaind};
        for (int k = 0; k < 2; k++) {
            if (pids[k])
                (void)bench_stop(pids[k], 20);
        }
        if (getenv("BENCH_KEEP"))
            fprintf(stderr, "bench_gossip: kept %s\n", n->dir);
        else
            bench_rmdir(n->dir);
    }
    n_nodes = 0;
}

/* --- chaind requests --------------------------------------------------------------- */

static uint64_t next_id = 1;

static void send_block(node_t *n, const mp_buf_t *block)
{
    mp_buf_t b;
    mp_buf_init(&b, PROTO_MAX_MSG);
    proto_open_request(&b, PROTO_REQ_SUBMIT_BLOCK, next_id++);
    mp_put_cstr(&b, "block");
    mp_put_bin(&b, block->data, block->len);
    mp_put_cstr(&b, "origin");
    mp_put_cstr(&b, "bench");
    if (!mp_buf_ok(&b) || zmq_send(n->req, b.data, b.len, 0) < 0)
        bench_die("submit_block not sent");
    mp_buf_free(&b);
}

static void read_reply(node_t *n)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_pollitem_t it = {n->req, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 60000) <= 0 || zmq_msg_recv(&m, n->req, 0) < 0)
        bench_die("chaind did not answer");
    proto_reply_t r;
    err_t e;
    if (proto_decode_reply(&r, zmq_msg_data(&m), zmq_msg_size(&m), &e) < 0 || !r.ok) {
        fprintf(stderr, "bench_gossip: chaind refused a block: %s\n", r.message);
        exit(1);
    }
    zmq_msg_close(&m);
}

/* The height of chaind's tip (get_tip). */
static uint64_t tip_height(node_t *n)
{
    mp_buf_t b;
    mp_buf_init(&b, 256);
    proto_open_request(&b, PROTO_REQ_GET_TIP, next_id++);
    if (zmq_send(n->req, b.data, b.len, 0) < 0)
        bench_die("get_tip not sent");
    mp_buf_free(&b);
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_pollitem_t it = {n->req, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 10000) <= 0 || zmq_msg_recv(&m, n->req, 0) < 0)
        bench_die("chaind did not answer get_tip");
    proto_reply_t r;
    err_t e;
    uint64_t h = 0;
    if (proto_decode_reply(&r, zmq_msg_data(&m), zmq_msg_size(&m), &e) < 0 ||
        proto_get_uint(&r.body, "height", &h) < 0)
        bench_die("a bad get_tip reply");
    zmq_msg_close(&m);
    return h;
}

/* Reads block events of n until one of height h; its arrival time. */
static double wait_event(node_t *n, uint64_t h, double timeout)
{
    double end = bench_now() + timeout;
    while (bench_now() < end) {
        zmq_pollitem_t it = {n->sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        double t = bench_now();
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        zmq_msg_recv(&topic, n->sub, 0);
        zmq_msg_recv(&body, n->sub, 0);
        proto_event_t ev;
        err_t e;
        uint64_t height = 0;
        if (proto_decode_event(&ev, zmq_msg_data(&topic), zmq_msg_size(&topic),
                               zmq_msg_data(&body), zmq_msg_size(&body), &e) == 0)
            (void)proto_get_uint(&ev.body, "height", &height);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
        if (height == h)
            return t;
    }
    return -1;
}

/* --- the chain ------------------------------------------------------------------------ */

typedef struct {
    mp_buf_t *blocks;
    size_t n, n_txs;
} chain_t;

/* A block over the encodings txs[0..n) (bench_block with the regtest bits
 * and the subsidy). */
static void make_block(mp_buf_t *out, hash32_t *hash, const hash32_t *parent, uint64_t height,
                       uint64_t time, const hash20_t *payout, mp_buf_t *txs, size_t n)
{
    const uint8_t **raws = bench_xmalloc(n * sizeof *raws);
    size_t *lens = bench_xmalloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        raws[i] = txs[i].data;
        lens[i] = txs[i].len;
    }
    bench_block(out, hash, NULL, parent, height, time, 0x207fffff, payout, 625000000, raws, lens,
                n);
    free(raws);
    free(lens);
}

/* A signed tx spending prev:index (value) into n_out equal coins of key. */
static void make_tx(mp_buf_t *out, hash32_t *txid, const key_pair_t *key, const hash20_t *pkh,
                    const hash32_t *prev, uint32_t index, amount_t value, size_t n_out)
{
    hash20_t *to = bench_xmalloc(n_out * sizeof *to);
    for (size_t i = 0; i < n_out; i++)
        to[i] = *pkh;
    amount_t fee = 10000;
    bench_tx(out, txid, key, prev, index, to, n_out, (value - fee) / n_out);
    free(to);
}

/* Block 1 fans albert's genesis coin out into n_txs coins; every later block
 * moves each coin on in its own transaction. Empty blocks when n_txs is 0. */
static void make_chain(chain_t *c, size_t n_blocks, size_t n_txs)
{
    hash32_t tip, gtx;
    bench_genesis(params_by_name("regtest"), &tip, &gtx, NULL);
    err_t e;
    key_pair_t albert;
    char path[512];
    snprintf(path, sizeof path, "%s/deploy/demo-keys/albert.pem", CHAIN_SOURCE_DIR);
    if (key_load_pem(&albert, path, &e) < 0)
        bench_die("%s", e.message);
    hash20_t pkh;
    hash_hash160(&pkh, albert.pubkey, KEY_PUBKEY_LEN);
    c->n = n_blocks;
    c->n_txs = 0;
    c->blocks = calloc(n_blocks, sizeof *c->blocks);
    hash32_t *coins = calloc(n_txs ? n_txs : 1, sizeof *coins);
    amount_t *values = calloc(n_txs ? n_txs : 1, sizeof *values);
    mp_buf_t *txs = calloc(n_txs ? n_txs : 1, sizeof *txs);
    if (!c->blocks || !coins || !values || !txs)
        bench_die("out of memory");
    uint64_t t0 = (uint64_t)time(NULL) - n_blocks - 600;
    for (size_t h = 1; h <= n_blocks; h++) {
        size_t n = 0;
        if (n_txs && h == 1) {
            hash32_t fan;
            make_tx(&txs[0], &fan, &albert, &pkh, &gtx, 0, 40 * AMOUNT_COIN, n_txs);
            for (size_t i = 0; i < n_txs; i++) {
                coins[i] = fan;
                values[i] = (40 * AMOUNT_COIN - 10000) / n_txs;
            }
            n = 1;
        } else if (n_txs) {
            for (size_t i = 0; i < n_txs; i++) {
                hash32_t id;
                make_tx(&txs[i], &id, &albert, &pkh, &coins[i], h == 2 ? (uint32_t)i : 0,
                        values[i], 1);
                coins[i] = id;
                values[i] -= 10000;
            }
            n = n_txs;
        }
        make_block(&c->blocks[h - 1], &tip, &tip, h, t0 + h, &pkh, txs, n);
        for (size_t i = 0; i < n; i++)
            mp_buf_free(&txs[i]);
        c->n_txs += n;
    }
    free(coins);
    free(values);
    free(txs);
}

static void free_chain(chain_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        mp_buf_free(&c->blocks[i]);
    free(c->blocks);
}

/* --- the runs ------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static void propagation(size_t n_blocks)
{
    node_t *line[LINE];
    for (int i = 0; i < LINE; i++)
        line[i] = start_chaind();
    start_gossipd(line[0], (const char *[]){"--max-outbound", "0", "--max-inbound", "1", NULL});
    for (int i = 1; i < LINE; i++)
        start_gossipd(line[i], (const char *[]){"--peer", line[i - 1]->addr, "--max-outbound", "1",
                                                "--max-inbound", "1", NULL});
    chain_t c;
    make_chain(&c, n_blocks, 0);
    bench_sleep_ms(2000); /* the line forms (a handshake is a round trip) */
    double *hop = calloc((size_t)(LINE - 1) * n_blocks, sizeof *hop);
    double *total = calloc(n_blocks, sizeof *total);
    size_t measured = 0;
    for (size_t b = 0; b < n_blocks; b++) {
        send_block(line[0], &c.blocks[b]);
        double t[LINE];
        bool ok = true;
        for (int i = 0; i < LINE && ok; i++)
            ok = (t[i] = wait_event(line[i], b + 1, 10)) > 0;
        read_reply(line[0]);
        if (!ok) {
            fprintf(stderr, "bench_gossip: block %zu did not cross the line\n", b + 1);
            continue;
        }
        for (int i = 1; i < LINE; i++)
            hop[(size_t)(i - 1) * n_blocks + measured] = (t[i] - t[i - 1]) * 1000;
        total[measured++] = (t[LINE - 1] - t[0]) * 1000;
        bench_sleep_ms(20);
    }
    if (measured == 0)
        bench_die("no block crossed the line");
    printf("\n### Block propagation, line of %d nodes, %zu blocks (ms)\n\n", LINE, measured);
    printf("| hop | p50 | p99 |\n| --- | --- | --- |\n");
    for (int i = 1; i < LINE; i++) {
        double *v = &hop[(size_t)(i - 1) * n_blocks];
        printf("| node %d -> node %d | %.2f | %.2f |\n", i - 1, i, pct(v, measured, 0.5),
               pct(v, measured, 0.99));
    }
    double *all = calloc((size_t)(LINE - 1) * measured, sizeof *all);
    for (int i = 1; i < LINE; i++)
        memcpy(all + (size_t)(i - 1) * measured, &hop[(size_t)(i - 1) * n_blocks],
               measured * sizeof *all);
    printf("| any hop | %.2f | %.2f |\n", pct(all, (LINE - 1) * measured, 0.5),
           pct(all, (LINE - 1) * measured, 0.99));
    printf("| end to end (4 hops) | %.2f | %.2f |\n", pct(total, measured, 0.5),
           pct(total, measured, 0.99));
    free(all);
    free(hop);
    free(total);
    free_chain(&c);
    stop_all();
}

/* One round: a fresh chaind takes the chain over rpc (chaind alone), then a
 * fresh node syncs it from there through gossipd. Seconds of each. */
static void sync_round(const chain_t *c, double *t_chaind, double *t_sync)
{
    node_t *a = start_chaind();
    double t0 = bench_now();
    size_t sent = 0, done = 0;
    while (done < c->n) {
        while (sent < c->n && sent - done < 32)
            send_block(a, &c->blocks[sent++]);
        read_reply(a);
        done++;
    }
    *t_chaind = bench_now() - t0;
    if (tip_height(a) != c->n)
        bench_die("chaind did not take the whole chain");
    start_gossipd(a, NULL);
    node_t *b = start_chaind();
    t0 = bench_now();
    start_gossipd(b, (const char *[]){"--peer", a->addr, NULL});
    while (tip_height(b) < c->n) {
        if (bench_now() - t0 > 600)
            bench_die("the fresh node did not sync in 10 minutes");
        bench_sleep_ms(20);
    }
    *t_sync = bench_now() - t0;
    stop_all();
}

static void sync_speed(size_t n_blocks, size_t n_txs, int rounds)
{
    printf("\ngenerating %zu blocks x %zu transactions...\n", n_blocks, n_txs);
    fflush(stdout);
    chain_t c;
    make_chain(&c, n_blocks, n_txs);
    /* the best of a few rounds: other work on the machine only slows a run */
    double best_chaind = 1e9, best_sync = 1e9;
    for (int r = 0; r < rounds; r++) {
        double tc, ts;
        sync_round(&c, &tc, &ts);
        printf("round %d: chaind alone %.2f s, through gossipd %.2f s\n", r + 1, tc, ts);
        fflush(stdout);
        best_chaind = tc < best_chaind ? tc : best_chaind;
        best_sync = ts < best_sync ? ts : best_sync;
    }
    size_t txs = c.n_txs + c.n; /* with the coinbases */
    printf("\n### Sync of a fresh node from one peer: %zu blocks, %zu transactions "
           "(best of %d rounds)\n\n", c.n, txs, rounds);
    printf("| path | seconds | blocks/s | tx/s |\n| --- | --- | --- | --- |\n");
    printf("| chaind alone (submit_block over rpc, 32 in flight) | %.2f | %.0f | %.0f |\n",
           best_chaind, (double)c.n / best_chaind, (double)txs / best_chaind);
    printf("| fresh node via gossipd (headers first, then blocks) | %.2f | %.0f | %.0f |\n",
           best_sync, (double)c.n / best_sync, (double)txs / best_sync);
    printf("| ratio (gossipd sync / chaind alone) | | %.2f | |\n", best_chaind / best_sync);
    free_chain(&c);
}

int main(int argc, char **argv)
{
    bench_init("bench_gossip");
    size_t n_blocks = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
    size_t n_txs = argc > 2 ? strtoul(argv[2], NULL, 10) : 10;
    size_t n_latency = argc > 3 ? strtoul(argv[3], NULL, 10) : 200;
    int rounds = argc > 4 ? atoi(argv[4]) : 3;
    if (n_blocks == 0 || n_latency == 0 || n_txs > 4000 || rounds < 1 || rounds > 20)
        bench_die("usage: bench_gossip [BLOCKS [TXS [LATENCY_BLOCKS [ROUNDS]]]]");
    signal(SIGPIPE, SIG_IGN);
    zctx = zmq_ctx_new();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_gossip: %ld CPUs online; every node is a chaind and a gossipd on loopback\n",
           cpus);
    atexit(stop_all);
    propagation(n_latency);
    sync_speed(n_blocks, n_txs, rounds);
    zmq_ctx_term(zctx);
    return 0;
}
