/* gossipd end to end: real chaind and gossipd processes on loopback, each
 * node its own pair. Relay along a line, the sync of a late node, a partition
 * that heals onto the most-work chain, misbehaving peers (a test DEALER plays
 * them), and restarts of either daemon. GOSSIP_TEST_KEEP=1 keeps each node's
 * directory (chaind.log, gossipd.log) for a look after the run. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "builder.h"
#include "hex.h"
#include "proto.h"
#include "sample.h"
#include "tx.h"

#define COIN AMOUNT_COIN
#define SUBSIDY 625000000

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls expr every 100 ms for ms milliseconds; fails the test with msg. */
#define WAIT_UNTIL(expr, ms, ...)                                                  \
    do {                                                                           \
        long until_ = now_ms() + (ms);                                             \
        while (!(expr)) {                                                          \
            cr_assert_lt(now_ms(), until_, __VA_ARGS__);                           \
            sleep_ms(100);                                                         \
        }                                                                          \
    } while (0)

/* --- a node: chaind + gossipd ----------------------------------------------------- */

typedef struct {
    tb_chaind_t c;
    pid_t gpid;
    char gdir[300];
    int port;
    char addr[32]; /* "127.0.0.1:port" of its gossipd */
} node_t;

/* Every node a test starts lives here, not on the test's stack, so that a
 * failed test (criterion leaves the test function at the failed assert)
 * still ends its processes in the suite's fini. */
static node_t pool[8];
static bool pool_used[8];

static void reap_leftovers(void)
{
    for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++) {
        node_t *n = &pool[i];
        if (!pool_used[i])
            continue;
        if (n->gpid) {
            kill(n->gpid, SIGKILL);
            waitpid(n->gpid, NULL, 0);
        }
        if (n->c.pid)
            tb_chaind_kill(&n->c);
        pool_used[i] = false;
    }
}

static void gossipd_start(node_t *n, const char *const *extra)
{
    char bin[512], listen[32], log[340];
    tb_binary(bin, "gossipd/gossipd");
    snprintf(listen, sizeof listen, "127.0.0.1:%d", n->port);
    snprintf(log, sizeof log, "%s.log", n->gdir);
    char key[320];
    tb_rpc_key(key, &n->c, "gossip");
    const char *argv[48] = {bin, "--network", "regtest", "--datadir", n->gdir, "--listen", listen,
                            "--rpc", n->c.rpc_endpoint, "--events", n->c.events_endpoint,
                            "--log-level", "debug", "--rpc-key", key};
    int argc = 15;
    for (int i = 0; extra && extra[i] && argc < 46; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    pid_t pid = tb_spawn(argv, log);
    n->gpid = pid;
    /* ready once its port takes connections */
    for (int i = 0; i < 100; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)n->port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return;
        int status;
        cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "gossipd exited at start (see %s)", log);
        sleep_ms(50);
    }
    cr_assert_fail("gossipd did not listen within 5 s (see %s)", log);
}

/* A node: chaind on free ports, gossipd on a free port with extra args. */
static node_t *node_start(const char *const *gossip_args)
{
    size_t k = 0;
    while (k < sizeof pool / sizeof pool[0] && pool_used[k])
        k++;
    cr_assert_lt(k, sizeof pool / sizeof pool[0], "too many nodes for one test");
    pool_used[k] = true;
    node_t *n = &pool[k];
    memset(n, 0, sizeof *n);
    tb_chaind_start(&n->c, "", NULL);
    char gdir[sizeof n->gdir];
    snprintf(gdir, sizeof gdir, "%s/gossipd", n->c.datadir);
    memcpy(n->gdir, gdir, sizeof gdir);
    n->port = tb_free_port();
    snprintf(n->addr, sizeof n->addr, "127.0.0.1:%d", n->port);
    if (gossip_args)
        gossipd_start(n, gossip_args);
    return n;
}

static void check_gossip_log(const node_t *n)
{
    char path[340], line[1024];
    snprintf(path, sizeof path, "%s.log", n->gdir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        cr_assert(!strstr(line, "ERROR: LeakSanitizer") && !strstr(line, "ERROR: AddressSanitizer") &&
                      !strstr(line, "runtime error:"),
                  "%s has a sanitizer report: %s", path, line);
    fclose(f);
}

/* SIGTERM; gossipd must save and exit 0 within 10 s. */
static void gossipd_stop(node_t *n)
{
    if (!n->gpid)
        return;
    int status = -1;
    kill(n->gpid, SIGTERM);
    for (int i = 0; i < 200 && waitpid(n->gpid, &status, WNOHANG) != n->gpid; i++)
        sleep_ms(50);
    if (!WIFEXITED(status)) {
        kill(n->gpid, SIGKILL);
        waitpid(n->gpid, &status, 0);
        n->gpid = 0;
        cr_assert_fail("gossipd did not stop within 10 s of SIGTERM");
    }
    n->gpid = 0;
    cr_assert_eq(WEXITSTATUS(status), 0, "gossipd exited %d on SIGTERM", WEXITSTATUS(status));
    check_gossip_log(n);
}

static void node_stop(node_t *n)
{
    gossipd_stop(n);
    if (n->c.pid)
        cr_assert_eq(tb_chaind_stop(&n->c), 0);
    if (!getenv("GOSSIP_TEST_KEEP"))
        tb_rmdir(n->c.datadir);
    pool_used[n - pool] = false;
}

/* --- HTTP probes ----------------------------------------------------------------- */

static json_t *get_json(const node_t *n, const char *route, long *status)
{
    char url[256];
    tb_http_t r;
    snprintf(url, sizeof url, "%s%s", n->c.http_url, route);
    tb_http(&r, "GET", url, NULL, 0, NULL);
    json_t *j = json_incref(r.json);
    if (status)
        *status = r.status;
    tb_http_free(&r);
    return j;
}

static long height_of(const node_t *n)
{
    json_t *j = get_json(n, "/status", NULL);
    long h = j ? (long)json_integer_value(json_object_get(j, "height")) : -1;
    json_decref(j);
    return h;
}

static bool tip_is(const node_t *n, const hash32_t *hash)
{
    char want[65];
    hex_encode(want, hash->b, 32);
    json_t *j = get_json(n, "/status", NULL);
    const char *tip = j ? json_string_value(json_object_get(j, "tip")) : NULL;
    bool same = tip && strcmp(tip, want) == 0;
    json_decref(j);
    return same;
}

static bool in_mempool(const node_t *n, const hash32_t *txid)
{
    char route[100], hex[65];
    hex_encode(hex, txid->b, 32);
    snprintf(route, sizeof route, "/transactions/%s", hex);
    long status;
    json_t *j = get_json(n, route, &status);
    bool yes = status == 200 && j && json_is_true(json_object_get(j, "in_mempool"));
    json_decref(j);
    return yes;
}

/* How many peers chaind's /known_node_request lists (gossipd's report). */
static size_t peers_of(const node_t *n)
{
    json_t *j = get_json(n, "/known_node_request", NULL);
    size_t count = j ? json_array_size(j) : 0;
    json_decref(j);
    return count;
}

static void post_block(const node_t *n, const mp_buf_t *b)
{
    tb_http_t r;
    long status = tb_post_hex(n->c.http_url, "/block", b->data, b->len, &r);
    cr_assert(status == 200 || status == 202, "POST /block: %ld %s", status, r.body);
    tb_http_free(&r);
}

static void post_tx(const node_t *n, const mp_buf_t *b)
{
    tb_http_t r;
    long status = tb_post_hex(n->c.http_url, "/transactions", b->data, b->len, &r);
    cr_assert(status == 200 || status == 201, "POST /transactions: %ld %s", status, r.body);
    tb_http_free(&r);
}

/* --- chains ------------------------------------------------------------------------ */

typedef struct {
    mp_buf_t *blocks;
    hash32_t *hashes;
    size_t n;
} chain_t;

/* n blocks on parent (at parent_height), extranonce tag; block 0 carries the
 * transactions txs (may be none). */
static void build_chain(chain_t *c, const hash32_t *parent, uint64_t parent_height, size_t n,
                        uint64_t tag, const mp_buf_t *txs, size_t n_txs)
{
    tb_wallet_t miner;
    tb_wallet(&miner, 0x42);
    c->n = n;
    c->blocks = calloc(n, sizeof *c->blocks);
    c->hashes = calloc(n, sizeof *c->hashes);
    cr_assert(c->blocks && c->hashes);
    const uint8_t *raws[4];
    size_t lens[4];
    for (size_t i = 0; i < n_txs && i < 4; i++) {
        raws[i] = txs[i].data;
        lens[i] = txs[i].len;
    }
    uint64_t t0 = (uint64_t)time(NULL) - n - 600;
    const hash32_t *prev = parent;
    amount_t fees = n_txs ? 100000 * (amount_t)n_txs : 0;
    for (size_t i = 0; i < n; i++) {
        mp_buf_init(&c->blocks[i], BLOCK_MAX_SIZE);
        tb_block(&c->blocks[i], &c->hashes[i], NULL, prev, parent_height + 1 + i, t0 + i,
                 0x207fffff, &miner.pkh, SUBSIDY + (i == 0 ? fees : 0), raws, lens,
                 i == 0 ? n_txs : 0, tag);
        prev = &c->hashes[i];
    }
}

static void free_chain(chain_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        mp_buf_free(&c->blocks[i]);
    free(c->blocks);
    free(c->hashes);
}

/* albert's genesis coin (output 0, 40 coins) to bertrand: one transaction. */
static void albert_pays(mp_buf_t *tx, hash32_t *txid, amount_t amount)
{
    tb_wallet_t albert, bertrand;
    tb_demo_wallet(&albert, "albert");
    tb_demo_wallet(&bertrand, "bertrand");
    hash32_t genesis, gtx;
    tb_genesis(params_by_name("regtest"), &genesis, &gtx);
    mp_buf_init(tx, TX_MAX_SIZE);
    tb_tx(tx, txid, &gtx, 0, 40 * COIN, &albert, &bertrand.pkh, amount, 100000);
}

static hash32_t genesis_hash(void)
{
    hash32_t g, gtx;
    tb_genesis(params_by_name("regtest"), &g, &gtx);
    return g;
}

/* --- tests ---------------------------------------------------------------------------- */

TestSuite(gossip, .timeout = 240, .fini = reap_leftovers);

/* A line a - b - c - d (each dials the one before; one connection each way
 * at most, so nothing shortcuts the line): a transaction posted at one end
 * and a block posted at the other reach every node. */
Test(gossip, relay_along_a_line_of_four)
{
    node_t *n[4];
    n[0] = node_start((const char *[]){"--max-outbound", "0", "--max-inbound", "1", NULL});
    for (int i = 1; i < 4; i++)
        n[i] = node_start((const char *[]){"--peer", n[i - 1]->addr, "--max-outbound", "1",
                                           "--max-inbound", "1", NULL});
    for (int i = 0; i < 4; i++)
        WAIT_UNTIL(peers_of(n[i]) == (i == 0 || i == 3 ? 1u : 2u), 15000,
                   "node %d did not join the line", i);
    mp_buf_t tx;
    hash32_t txid;
    albert_pays(&tx, &txid, 10 * COIN);
    post_tx(n[0], &tx);
    for (int i = 0; i < 4; i++)
        WAIT_UNTIL(in_mempool(n[i], &txid), 10000, "the transaction did not reach node %d", i);
    chain_t c;
    hash32_t g = genesis_hash();
    build_chain(&c, &g, 0, 1, 7, NULL, 0);
    post_block(n[3], &c.blocks[0]);
    for (int i = 0; i < 4; i++)
        WAIT_UNTIL(tip_is(n[i], &c.hashes[0]), 10000, "the block did not reach node %d", i);
    free_chain(&c);
    mp_buf_free(&tx);
    for (int i = 0; i < 4; i++)
        node_stop(n[i]);
}

/* A node started after 2 100 blocks were made catches up from its peer. */
Test(gossip, late_node_syncs_2100_blocks)
{
    node_t *a = node_start((const char *[]){NULL}), *b;
    chain_t c;
    hash32_t g = genesis_hash();
    build_chain(&c, &g, 0, 2100, 1, NULL, 0);
    for (size_t i = 0; i < c.n; i++)
        post_block(a, &c.blocks[i]);
    cr_assert_eq(height_of(a), 2100);
    b = node_start((const char *[]){"--peer", a->addr, NULL});
    long t0 = now_ms();
    WAIT_UNTIL(tip_is(b, &c.hashes[c.n - 1]), 90000, "the late node is at height %ld",
               height_of(b));
    cr_log_info("2100 blocks synced in %ld ms", now_ms() - t0);
    free_chain(&c);
    node_stop(b);
    node_stop(a);
}

/* Two halves build apart; joined (an advertisement tells one side about the
 * other) every node takes the most-work chain, and the losing side's
 * transaction returns to its mempool. */
Test(gossip, partition_heals_onto_the_most_work_chain)
{
    node_t *n[4];
    n[0] = node_start((const char *[]){NULL});
    n[1] = node_start((const char *[]){"--peer", n[0]->addr, NULL});
    n[2] = node_start((const char *[]){NULL});
    n[3] = node_start((const char *[]){"--peer", n[2]->addr, NULL});
    WAIT_UNTIL(peers_of(n[1]) == 1 && peers_of(n[3]) == 1, 15000, "the halves did not form");
    hash32_t g = genesis_hash();
    mp_buf_t tx;
    hash32_t txid;
    albert_pays(&tx, &txid, 5 * COIN);
    chain_t left, right;
    build_chain(&left, &g, 0, 5, 1, &tx, 1); /* confirms the transaction */
    build_chain(&right, &g, 0, 8, 2, NULL, 0);
    for (size_t i = 0; i < left.n; i++)
        post_block(n[0], &left.blocks[i]);
    for (size_t i = 0; i < right.n; i++)
        post_block(n[3], &right.blocks[i]);
    WAIT_UNTIL(tip_is(n[1], &left.hashes[4]), 15000, "the left half did not agree");
    WAIT_UNTIL(tip_is(n[2], &right.hashes[7]), 15000, "the right half did not agree");
    cr_assert_not(in_mempool(n[0], &txid), "a confirmed transaction in the mempool");
    /* the bridge: node 1 is told about node 2 */
    char body[128], url[128];
    snprintf(body, sizeof body, "{\"hostname\": \"%s\"}", n[2]->addr);
    snprintf(url, sizeof url, "%s/new_node_advertisement", n[1]->c.http_url);
    tb_http_t r;
    tb_http(&r, "POST", url, body, strlen(body), NULL);
    cr_assert_lt(r.status, 300, "POST /new_node_advertisement: %ld", r.status);
    tb_http_free(&r);
    for (int i = 0; i < 4; i++)
        WAIT_UNTIL(tip_is(n[i], &right.hashes[7]), 30000, "node %d is at height %ld", i,
                   height_of(n[i]));
    for (int i = 0; i < 2; i++)
        WAIT_UNTIL(in_mempool(n[i], &txid), 10000,
                   "the left half's transaction did not return to node %d's mempool", i);
    free_chain(&left);
    free_chain(&right);
    mp_buf_free(&tx);
    for (int i = 0; i < 4; i++)
        node_stop(n[i]);
}

/* --- a misbehaving peer, played by a test DEALER ---------------------------------------- */

typedef struct {
    void *ctx, *sock, *mon;
} bad_t;

static void bad_connect(bad_t *b, void *ctx, const node_t *n, int id)
{
    char ep[64], mon[64];
    b->ctx = ctx;
    b->sock = zmq_socket(ctx, ZMQ_DEALER);
    int never = -1, unlimited = 0, linger = 0;
    zmq_setsockopt(b->sock, ZMQ_RECONNECT_IVL, &never, sizeof never);
    zmq_setsockopt(b->sock, ZMQ_SNDHWM, &unlimited, sizeof unlimited);
    zmq_setsockopt(b->sock, ZMQ_LINGER, &linger, sizeof linger);
    snprintf(mon, sizeof mon, "inproc://bad-%d", id);
    cr_assert_eq(zmq_socket_monitor(b->sock, mon, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED), 0);
    b->mon = zmq_socket(ctx, ZMQ_PAIR);
    cr_assert_eq(zmq_connect(b->mon, mon), 0);
    snprintf(ep, sizeof ep, "tcp://%s", n->addr);
    cr_assert_eq(zmq_connect(b->sock, ep), 0);
}

static void bad_close(bad_t *b)
{
    zmq_socket_monitor(b->sock, NULL, 0);
    zmq_close(b->sock);
    zmq_close(b->mon);
}

static void bad_send(bad_t *b, const void *data, size_t len)
{
    cr_assert_geq(zmq_send(b->sock, data, len, 0), 0, "%s", zmq_strerror(zmq_errno()));
}

/* Whether the node hung up on us within ms. What it sends meanwhile is
 * read and dropped: a DEALER whose receive queue is full stops reading its
 * connection, and would not see it close. */
static bool hung_up(bad_t *b, long ms)
{
    long until = now_ms() + ms;
    while (now_ms() < until) {
        zmq_pollitem_t it[2] = {{b->mon, 0, ZMQ_POLLIN, 0}, {b->sock, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(it, 2, until - now_ms()) < 0)
            return false;
        if (it[0].revents & ZMQ_POLLIN)
            return true;
        char buf[64];
        while (zmq_recv(b->sock, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
            ;
    }
    return false;
}

/* Whether a message (the node's hello) comes within ms. */
static bool answered(bad_t *b, long ms)
{
    zmq_pollitem_t it = {b->sock, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&it, 1, ms) > 0;
}

static void send_hello(bad_t *b, const char *network, const char *listen, uint8_t id_byte)
{
    mp_buf_t m;
    mp_buf_init(&m, PROTO_MAX_MSG);
    sample_hello(&m, network, listen, id_byte);
    bad_send(b, m.data, m.len);
    mp_buf_free(&m);
}

static bool file_has(const char *path, const char *needle)
{
    char line[512];
    bool found = false;
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        found |= strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return found;
}

Test(gossip, misbehaving_peers_are_banned_and_others_served)
{
    node_t *a = node_start((const char *[]){NULL});
    node_t *b = node_start((const char *[]){"--peer", a->addr, NULL});
    WAIT_UNTIL(peers_of(a) == 1, 15000, "the honest peer did not connect");
    void *ctx = zmq_ctx_new();
    bad_t x;

    /* garbage, before any hello */
    bad_connect(&x, ctx, a, 1);
    bad_send(&x, "\x93\xc1\xc1\xc1 not msgpack", 16);
    cr_assert(hung_up(&x, 5000), "a peer that sent garbage stayed connected");
    bad_close(&x);

    /* a hello for another network */
    bad_connect(&x, ctx, a, 2);
    send_hello(&x, "demo", "127.0.0.1:3", 3);
    cr_assert(hung_up(&x, 5000), "a peer of another network stayed connected");
    bad_close(&x);

    /* an invalid block (its merkle root is wrong, its proof of work right) */
    bad_connect(&x, ctx, a, 4);
    send_hello(&x, "regtest", "127.0.0.1:4", 4);
    cr_assert(answered(&x, 5000), "no hello back");
    {
        tb_wallet_t w;
        tb_wallet(&w, 9);
        tx_coinbase_t cb;
        uint8_t extra[8] = {4};
        cr_assert_eq(tx_coinbase_build(&cb, 1, extra, sizeof extra, &w.pkh, SUBSIDY), 0);
        hash32_t g = genesis_hash(), hash;
        block_header_t h = {.version = 1, .previous_block_hash = g,
                            .timestamp = (uint64_t)time(NULL), .bits = 0x207fffff};
        for (;; h.nonce++) {
            block_header_hash(&hash, &h);
            if (block_hash_meets(&hash, h.bits))
                break;
        }
        mp_buf_t blk, m;
        mp_buf_init(&blk, BLOCK_MAX_SIZE);
        cr_assert_eq(block_assemble(&blk, &h, &cb.tx, NULL, NULL, 0), 0);
        mp_buf_init(&m, PROTO_MAX_MSG);
        proto_open_peer(&m, "regtest", PROTO_MSG_BLOCK);
        mp_put_cstr(&m, "block");
        mp_put_bin(&m, blk.data, blk.len);
        bad_send(&x, m.data, m.len);
        mp_buf_free(&m);
        mp_buf_free(&blk);
    }
    cr_assert(hung_up(&x, 5000), "a peer that sent an invalid block stayed connected");
    bad_close(&x);
    /* it is banned: the same node coming back gets no hello */
    bad_connect(&x, ctx, a, 5);
    send_hello(&x, "regtest", "127.0.0.1:4", 4);
    cr_assert_not(answered(&x, 1500), "a banned peer was answered");
    cr_assert(hung_up(&x, 5000), "a banned peer stayed connected");
    bad_close(&x);

    /* a flood of pings */
    bad_connect(&x, ctx, a, 6);
    send_hello(&x, "regtest", "127.0.0.1:6", 6);
    cr_assert(answered(&x, 5000), "no hello back");
    mp_buf_t ping;
    mp_buf_init(&ping, 256);
    proto_open_peer(&ping, "regtest", PROTO_MSG_PING);
    mp_put_cstr(&ping, "nonce");
    mp_put_uint(&ping, 1);
    for (int i = 0; i < 20000; i++)
        if (zmq_send(x.sock, ping.data, ping.len, ZMQ_DONTWAIT) < 0)
            break;
    mp_buf_free(&ping);
    cr_assert(hung_up(&x, 10000), "a flooding peer stayed connected");
    bad_close(&x);
    zmq_ctx_term(ctx);

    /* the honest peer was served throughout */
    WAIT_UNTIL(peers_of(a) == 1, 3000, "the honest peer was dropped, or a bad one kept");
    mp_buf_t tx;
    hash32_t txid;
    albert_pays(&tx, &txid, 3 * COIN);
    post_tx(b, &tx);
    WAIT_UNTIL(in_mempool(a, &txid), 10000, "relay stopped after the attacks");
    mp_buf_free(&tx);
    /* the bans outlive the process */
    gossipd_stop(a);
    char bans[340];
    snprintf(bans, sizeof bans, "%s/bans.txt", a->gdir);
    cr_assert(file_has(bans, "127.0.0.1:3"), "the wrong network's ban was not saved");
    cr_assert(file_has(bans, "127.0.0.1:4"), "the invalid block's ban was not saved");
    cr_assert(file_has(bans, "127.0.0.1:6"), "the flood's ban was not saved");
    cr_assert(file_has(bans, "id:0404040404040404"));
    node_stop(b);
    node_stop(a);
}

/* gossipd restarts (with no --peer: it reads its saved peers), then chaind
 * restarts: the nodes find each other again by themselves. */
Test(gossip, restarts_reconnect_by_themselves)
{
    node_t *a = node_start((const char *[]){NULL});
    node_t *b = node_start((const char *[]){"--peer", a->addr, NULL});
    WAIT_UNTIL(peers_of(a) == 1 && peers_of(b) == 1, 15000, "the nodes did not connect");
    hash32_t g = genesis_hash();
    chain_t c;
    build_chain(&c, &g, 0, 3, 5, NULL, 0);

    /* b's gossipd restarts from its saved address book */
    gossipd_stop(b);
    char peers[340];
    snprintf(peers, sizeof peers, "%s/peers.txt", b->gdir);
    cr_assert(file_has(peers, a->addr), "known peers were not saved");
    gossipd_start(b, (const char *[]){NULL});
    WAIT_UNTIL(peers_of(a) == 1 && peers_of(b) == 1, 15000, "b did not reconnect");
    post_block(a, &c.blocks[0]);
    WAIT_UNTIL(tip_is(b, &c.hashes[0]), 10000, "no relay after gossipd restarted");

    /* a's gossipd (which only ever had inbound peers) restarts: b redials */
    gossipd_stop(a);
    gossipd_start(a, (const char *[]){NULL});
    WAIT_UNTIL(peers_of(a) == 1, 15000, "b did not redial the restarted node");
    post_block(b, &c.blocks[1]);
    WAIT_UNTIL(tip_is(a, &c.hashes[1]), 10000, "no relay after the second restart");

    /* a's chaind restarts on the same endpoints: its gossipd follows */
    cr_assert_eq(tb_chaind_stop(&a->c), 0);
    const char *same[] = {"--rpc", a->c.rpc_endpoint, "--events", a->c.events_endpoint, NULL};
    char rpc[64], events[64], dir[256];
    snprintf(rpc, sizeof rpc, "%s", a->c.rpc_endpoint);
    snprintf(events, sizeof events, "%s", a->c.events_endpoint);
    snprintf(dir, sizeof dir, "%s", a->c.datadir);
    same[1] = rpc;
    same[3] = events;
    tb_chaind_start(&a->c, dir, same);
    snprintf(a->c.rpc_endpoint, sizeof a->c.rpc_endpoint, "%s", rpc);
    snprintf(a->c.events_endpoint, sizeof a->c.events_endpoint, "%s", events);
    post_block(b, &c.blocks[2]);
    WAIT_UNTIL(tip_is(a, &c.hashes[2]), 20000, "no relay into a restarted chaind (height %ld)",
               height_of(a));
    free_chain(&c);
    node_stop(b);
    node_stop(a);
}
