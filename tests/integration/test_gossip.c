/* gossipd end to end: real chaind and gossipd processes on loopback, each
 * node its own pair. Relay along a line, the sync of a late node, a partition
 * that heals onto the most-work chain, misbehaving peers (a test DEALER plays
 * them), and restarts of either daemon. GOSSIP_TEST_KEEP=1 keeps each node's
 * directory (chaind.log, gossipd.log) for a look after the run. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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

/* Whether chaind's /known_node_request (gossipd's report) names addr. */
static bool lists(const node_t *n, const char *addr)
{
    json_t *j = get_json(n, "/known_node_request", NULL);
    bool found = false;
    for (size_t i = 0; j && i < json_array_size(j); i++) {
        const char *h = json_string_value(json_object_get(json_array_get(j, i), "hostname"));
        found |= h && strcmp(h, addr) == 0;
    }
    json_decref(j);
    return found;
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
    void *listener;  /* a ROUTER where it claims to listen (bad_listen), or NULL */
    char listen[32]; /* its address */
} bad_t;

static void bad_connect(bad_t *b, void *ctx, const node_t *n, int id)
{
    char ep[64], mon[64];
    b->ctx = ctx;
    b->listener = NULL;
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
    if (b->listener)
        zmq_close(b->listener);
    b->listener = NULL;
}

/* The bad peer listens too, so that the node can dial it back. */
static void bad_listen(bad_t *b)
{
    char ep[64];
    int linger = 0;
    snprintf(b->listen, sizeof b->listen, "127.0.0.1:%d", tb_free_port());
    snprintf(ep, sizeof ep, "tcp://%s", b->listen);
    b->listener = zmq_socket(b->ctx, ZMQ_ROUTER);
    zmq_setsockopt(b->listener, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_bind(b->listener, ep), 0, "%s", zmq_strerror(zmq_errno()));
}

/* Reads what the node sends b until a message of type (ms at most), into m. */
static bool bad_expect(bad_t *b, proto_msg_t type, proto_peer_msg_t *m, uint8_t *buf, size_t cap,
                       long ms)
{
    long until = now_ms() + ms;
    while (now_ms() < until) {
        zmq_pollitem_t it = {b->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, until - now_ms()) <= 0)
            continue;
        int n = zmq_recv(b->sock, buf, cap, ZMQ_DONTWAIT);
        if (n > 0 && (size_t)n <= cap &&
            proto_decode_peer(m, "regtest", buf, (size_t)n, NULL) == 0 && m->type == type)
            return true;
    }
    return false;
}

/* The node's challenge to b, after b's hello. */
static void bad_challenged(bad_t *b, uint8_t nonce[8])
{
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    cr_assert(bad_expect(b, PROTO_MSG_CHALLENGE, &m, buf, sizeof buf, 5000), "no challenge");
    cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", nonce, 8), 0);
}

/* Answers the node's dial-back on b's listener with a proof (id, nonce). */
static bool bad_prove(bad_t *b, uint8_t id_byte, const uint8_t nonce[8], long ms)
{
    uint8_t rid[256], buf[512], id[8];
    zmq_pollitem_t it = {b->listener, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0)
        return false;
    int rid_len = zmq_recv(b->listener, rid, sizeof rid, 0), n = zmq_recv(b->listener, buf,
                                                                            sizeof buf, 0);
    proto_peer_msg_t m;
    if (rid_len <= 0 || n <= 0 || proto_decode_peer(&m, "regtest", buf, (size_t)n, NULL) < 0 ||
        m.type != PROTO_MSG_PROBE)
        return false;
    mp_buf_t proof;
    mp_buf_init(&proof, 256);
    memset(id, id_byte, sizeof id);
    proto_open_peer(&proof, "regtest", PROTO_MSG_PROOF);
    mp_put_cstr(&proof, "node_id");
    mp_put_bin(&proof, id, 8);
    mp_put_cstr(&proof, "nonce");
    mp_put_bin(&proof, nonce, 8);
    cr_assert_eq(zmq_send(b->listener, rid, (size_t)rid_len, ZMQ_SNDMORE), rid_len);
    cr_assert_eq(zmq_send(b->listener, proof.data, proof.len, 0), (int)proof.len);
    mp_buf_free(&proof);
    return true;
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

/* Whether bans.txt at path holds key ("key until" a line). */
static bool bans_hold(const char *path, const char *key)
{
    char needle[300];
    snprintf(needle, sizeof needle, "%s ", key);
    return file_has(path, needle);
}

/* A hello of height 2^64 - 1, which JSON would show as -1. */
static void send_tall_hello(bad_t *x)
{
    mp_buf_t m;
    uint8_t zero[32] = {0}, id[8] = {3, 3, 3, 3, 3, 3, 3, 3};
    mp_buf_init(&m, 512);
    proto_open_peer(&m, "regtest", PROTO_MSG_HELLO);
    mp_put_cstr(&m, "version");
    mp_put_uint(&m, PROTO_VERSION);
    mp_put_cstr(&m, "height");
    mp_put_uint(&m, UINT64_MAX);
    mp_put_cstr(&m, "tip");
    mp_put_bin(&m, zero, 32);
    mp_put_cstr(&m, "listen");
    mp_put_cstr(&m, "");
    mp_put_cstr(&m, "node_id");
    mp_put_bin(&m, id, 8);
    bad_send(x, m.data, m.len);
    mp_buf_free(&m);
}

/* A bad peer (node id of id_byte) that listens, and proves it to n: its
 * listen address, now n's to report and ban, in addr. */
static void bad_verified(bad_t *x, void *ctx, const node_t *n, uint8_t id_byte, char addr[32])
{
    uint8_t nonce[8];
    bad_connect(x, ctx, n, id_byte);
    bad_listen(x);
    snprintf(addr, 32, "%s", x->listen);
    send_hello(x, "regtest", x->listen, id_byte);
    bad_challenged(x, nonce);
    cr_assert(bad_prove(x, id_byte, nonce, 5000), "no dial-back");
    WAIT_UNTIL(lists(n, addr), 5000, "the verified listen address was not reported");
}

/* A block whose proof of work is right and whose merkle root is wrong (tag:
 * its coinbase's extranonce, so that each is a block chaind has not seen). */
static void send_invalid_block(bad_t *x, uint8_t tag)
{
    tb_wallet_t w;
    tb_wallet(&w, 9);
    tx_coinbase_t cb;
    uint8_t extra[8] = {tag};
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
    bad_send(x, m.data, m.len);
    mp_buf_free(&m);
    mp_buf_free(&blk);
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
    /* a hello whose height would show as a negative JSON number: refused */
    bad_connect(&x, ctx, a, 3);
    send_tall_hello(&x);
    cr_assert_not(answered(&x, 1500), "a hello of height 2^64 - 1 was answered");
    bad_close(&x);
    /* a hello for another network */
    bad_connect(&x, ctx, a, 2);
    send_hello(&x, "demo", "127.0.0.1:3", 3);
    cr_assert(hung_up(&x, 5000), "a peer of another network stayed connected");
    bad_close(&x);

    /* an invalid block (its merkle root is wrong, its proof of work right),
     * from a peer whose listen address is verified */
    char verified[32];
    bad_verified(&x, ctx, a, 4, verified);
    send_invalid_block(&x, 4);
    cr_assert(hung_up(&x, 5000), "a peer that sent an invalid block stayed connected");
    bad_close(&x);
    /* it is banned by its verified address: the same node coming back gets no hello */
    bad_connect(&x, ctx, a, 5);
    send_hello(&x, "regtest", verified, 4);
    cr_assert_not(answered(&x, 1500), "a banned peer was answered");
    cr_assert(hung_up(&x, 5000), "a banned peer stayed connected");
    bad_close(&x);

    /* a flood of pings, from a peer whose claim nothing answers: it loses
     * its connection, and that is all a loopback peer can lose */
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
    bad_connect(&x, ctx, a, 7);
    send_hello(&x, "regtest", "127.0.0.1:6", 6);
    cr_assert(answered(&x, 5000), "an unverified loopback peer was banned beyond its connection");
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
    cr_assert(bans_hold(bans, verified), "the invalid block's ban was not saved");
    /* claims nobody verified, node ids: never ban keys */
    cr_assert_not(bans_hold(bans, "127.0.0.1:3"), "a wrong network's claim was banned");
    cr_assert_not(bans_hold(bans, "127.0.0.1:6"), "the flood's claim was banned");
    cr_assert_not(file_has(bans, "id:"), "a node id was banned");
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

/* Whether n's GET /mempool lists txid, and with "unbroadcast": true. */
static bool pooled(const node_t *n, const hash32_t *txid, bool *unbroadcast)
{
    char want[65];
    hex_encode(want, txid->b, 32);
    json_t *j = get_json(n, "/mempool", NULL);
    bool found = false;
    for (size_t i = 0; j && i < json_array_size(j); i++) {
        json_t *o = json_array_get(j, i);
        const char *h = json_string_value(json_object_get(o, "transaction_hash"));
        if (h && strcmp(h, want) == 0) {
            found = true;
            *unbroadcast = json_is_true(json_object_get(o, "unbroadcast"));
        }
    }
    json_decref(j);
    return found;
}

/* A payment acknowledged while the node's gossipd was down reaches its peer
 * once gossipd is back (it announces chaind's mempool to each new peer), and
 * leaves the unbroadcast set once the peer asked for it. */
Test(gossip, a_payment_taken_while_gossipd_was_down_is_relayed_when_it_returns)
{
    node_t *a = node_start((const char *[]){NULL});
    node_t *b = node_start((const char *[]){"--peer", a->addr, NULL});
    WAIT_UNTIL(peers_of(a) == 1 && peers_of(b) == 1, 15000, "the nodes did not connect");
    gossipd_stop(a);
    mp_buf_t tx;
    hash32_t txid;
    albert_pays(&tx, &txid, 10 * COIN);
    post_tx(a, &tx);
    bool unbroadcast = false;
    cr_assert(pooled(a, &txid, &unbroadcast) && unbroadcast, "not in the unbroadcast set");
    sleep_ms(500);
    cr_assert_not(in_mempool(b, &txid), "relayed without a gossipd");
    gossipd_start(a, (const char *[]){NULL});
    WAIT_UNTIL(in_mempool(b, &txid), 15000, "the payment never reached the peer");
    WAIT_UNTIL(pooled(a, &txid, &unbroadcast) && !unbroadcast, 5000,
               "still unbroadcast after the peer asked for it");
    mp_buf_free(&tx);
    node_stop(b);
    node_stop(a);
}

/* --- claims and the inbound slots ------------------------------------------------------ */

/* The node id a node's hello gives (a DEALER says hello and reads it). */
static void node_id_of(void *ctx, const node_t *n, uint8_t id[8])
{
    static uint8_t buf[1 << 16];
    bad_t x;
    proto_peer_msg_t m;
    bad_connect(&x, ctx, n, 90);
    send_hello(&x, "regtest", "", 0x90);
    cr_assert(bad_expect(&x, PROTO_MSG_HELLO, &m, buf, sizeof buf, 5000), "no hello");
    cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", id, 8), 0);
    bad_close(&x);
}

/* The line of node n's peers.txt (after its gossipd stopped) for addr, or "". */
static void book_line(const node_t *n, const char *addr, char out[512])
{
    char path[340];
    snprintf(path, sizeof path, "%s/peers.txt", n->gdir);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    while (f && fgets(out, 512, f))
        if (strncmp(out, addr, strlen(addr)) == 0 && out[strlen(addr)] == ' ')
            break;
        else
            out[0] = '\0';
    if (f)
        fclose(f);
}

/* Ban poisoning: while an honest node is away, a peer says hello with its
 * listen address (and, the second time, its node id too), then misbehaves.
 * It loses its own connection, and that is all: the honest node comes back
 * welcome, unbanned, its address book entry still there. */
Test(gossip, a_peer_claiming_an_honest_nodes_address_gets_only_itself_dropped)
{
    node_t *a = node_start((const char *[]){NULL});
    node_t *b = node_start((const char *[]){"--peer", a->addr, NULL});
    WAIT_UNTIL(lists(a, b->addr), 15000, "the honest peer did not connect and verify");
    void *ctx = zmq_ctx_new();
    uint8_t bid[8];
    node_id_of(ctx, b, bid);
    gossipd_stop(b);
    WAIT_UNTIL(!lists(a, b->addr), 10000, "the honest peer did not leave");
    mp_buf_t hello;
    mp_buf_init(&hello, PROTO_MAX_MSG);
    for (int i = 0; i < 2; i++) {
        uint8_t id[8];
        memset(id, 0x77, sizeof id);
        sample_hello_of(&hello, "regtest", b->addr, i ? bid : id);
        bad_t x;
        bad_connect(&x, ctx, a, 1 + i);
        bad_send(&x, hello.data, hello.len);
        cr_assert(answered(&x, 5000), "no hello back");
        sleep_ms(1500); /* its dial-back finds nobody at b's address */
        send_invalid_block(&x, (uint8_t)(8 + i));
        cr_assert(hung_up(&x, 5000), "the liar stayed connected");
        bad_close(&x);
    }
    mp_buf_free(&hello);
    zmq_ctx_term(ctx);
    /* b comes back (from its saved address book): welcome */
    gossipd_start(b, (const char *[]){NULL});
    WAIT_UNTIL(lists(a, b->addr), 15000, "the honest node is refused after the attack");
    cr_assert_eq(peers_of(a), 1);
    gossipd_stop(a);
    char bans[340], line[512];
    snprintf(bans, sizeof bans, "%s/bans.txt", a->gdir);
    cr_assert_not(bans_hold(bans, b->addr), "the honest node's address was banned");
    cr_assert_not(file_has(bans, "id:"), "a node id was banned");
    book_line(a, b->addr, line);
    cr_assert_str_neq(line, "", "the honest node's address book entry is gone");
    /* (its failures are a's own dials of b while b was away) */
    unsigned long long seen;
    unsigned failures;
    int source;
    cr_assert_eq(sscanf(line + strlen(b->addr), "%llu %u %d", &seen, &failures, &source), 3);
    cr_assert_eq(source, 2, "the honest node's entry changed its source: %s", line);
    node_stop(b);
    node_stop(a);
}

/* A claimed address where another node answers the dial-back is not
 * reported, kept or passed on. */
Test(gossip, a_claim_that_another_node_answers_is_not_gossiped)
{
    node_t *a = node_start((const char *[]){NULL});
    node_t *b = node_start((const char *[]){"--peer", a->addr, NULL});
    node_t *c = node_start((const char *[]){NULL}); /* a bystander, connected to no one */
    WAIT_UNTIL(lists(a, b->addr), 15000, "the honest peer did not connect and verify");
    void *ctx = zmq_ctx_new();
    bad_t x;
    bad_connect(&x, ctx, a, 1);
    send_hello(&x, "regtest", c->addr, 0x78);
    cr_assert(answered(&x, 5000), "no hello back");
    sleep_ms(3000); /* the dial-back: c answers with its own id */
    cr_assert_not(lists(a, c->addr), "an address another node answers for was reported");
    bad_close(&x);
    zmq_ctx_term(ctx);
    gossipd_stop(a);
    gossipd_stop(b);
    char line[512];
    book_line(a, c->addr, line);
    cr_assert_str_eq(line, "", "the claim was kept: %s", line);
    book_line(b, c->addr, line);
    cr_assert_str_eq(line, "", "the claim was gossiped: %s", line);
    book_line(a, b->addr, line);
    cr_assert_str_neq(line, "", "the verified peer was not kept");
    node_stop(c);
    node_stop(b);
    node_stop(a);
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static long open_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    long n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n - 2;
}

static long lines_of(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;
    for (int c; f && (c = fgetc(f)) != EOF;)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

#define FLOOD 300

/* 300 connections from one address (some say hello with a claim nothing
 * answers, some say nothing), then an honest node: it completes its
 * handshake, is verified and stays; the node keeps answering; its memory,
 * descriptors and log stay bounded. */
Test(gossip, three_hundred_connections_from_one_address_leave_room_for_an_honest_peer)
{
    node_t *a = node_start((const char *[]){"--log-level", "info", NULL});
    char log[340];
    snprintf(log, sizeof log, "%s.log", a->gdir);
    sleep_ms(500);
    long rss0 = rss_kb(a->gpid), lines0 = lines_of(log);
    void *ctx = zmq_ctx_new();
    int max_sockets = 4 * FLOOD + 64; /* a DEALER, its monitor and the monitor's reader */
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, max_sockets);
    static bad_t flood[FLOOD];
    for (int i = 0; i < FLOOD; i++) {
        bad_connect(&flood[i], ctx, a, 1000 + i);
        if (i % 3) {
            char claim[32];
            snprintf(claim, sizeof claim, "127.0.0.1:%d", 1 + i); /* nothing listens there */
            send_hello(&flood[i], "regtest", claim, (uint8_t)i);
        }
    }
    sleep_ms(3000);
    long fds = open_fds(a->gpid);
    node_t *b = node_start((const char *[]){"--peer", a->addr, NULL});
    WAIT_UNTIL(peers_of(b) == 1 && lists(a, b->addr), 20000,
               "the honest peer did not get in (b has %zu peers)", peers_of(b));
    sleep_ms(3000);
    cr_assert(lists(a, b->addr) && peers_of(b) == 1, "the honest peer did not stay");
    long status;
    json_t *j = get_json(a, "/status", &status);
    cr_assert_eq(status, 200, "/status did not answer");
    cr_assert_geq(json_integer_value(json_object_get(j, "peers")), 1);
    json_decref(j);
    long rss1 = rss_kb(a->gpid), lines1 = lines_of(log);
    cr_log_info("gossipd: rss %ld -> %ld kB, %ld descriptors under the flood, %ld log lines",
                rss0, rss1, fds, lines1 - lines0);
    cr_assert_lt(fds, 64 + 16 + 48, "gossipd holds %ld descriptors", fds);
    cr_assert_lt(rss1 - rss0, 64 * 1024, "gossipd grew by %ld kB", rss1 - rss0);
    cr_assert_lt(lines1 - lines0, 100, "gossipd logged %ld lines", lines1 - lines0);
    for (int i = 0; i < FLOOD; i++)
        bad_close(&flood[i]);
    zmq_ctx_term(ctx);
    node_stop(b);
    node_stop(a);
}

/* A plain TCP connection that never completes ZeroMQ's handshake is closed
 * by gossipd within NET_HANDSHAKE_MS (ZMQ_HANDSHAKE_IVL), instead of
 * holding a descriptor for as long as the client likes. */
Test(gossip, a_connection_that_never_handshakes_is_closed)
{
    node_t *a = node_start((const char *[]){NULL});
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    long start = now_ms(), closed_at = -1;
    char buf[256];
    /* gossipd's greeting comes first; then, past the limit, the end */
    while (closed_at < 0 && now_ms() - start < 20000) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            closed_at = now_ms();
    }
    close(fd);
    cr_assert_geq(closed_at, 0, "still open after 20 s");
    cr_assert_lt(closed_at - start, 15000, "closed only after %ld ms", closed_at - start);
    node_stop(a);
}

/* The rebroadcast timer: a payment submitted here that no peer has asked
 * for is announced again every --rebroadcast-interval (here with no peer at
 * all, so nothing takes it out of the set). */
Test(gossip, the_unbroadcast_set_is_rebroadcast_on_its_timer)
{
    node_t *a = node_start((const char *[]){"--rebroadcast-interval", "1", NULL});
    mp_buf_t tx;
    hash32_t txid;
    albert_pays(&tx, &txid, 10 * COIN);
    post_tx(a, &tx);
    char log[340];
    snprintf(log, sizeof log, "%s.log", a->gdir);
    WAIT_UNTIL(file_has(log, "rebroadcast: 1 transaction(s)"), 5000,
               "no rebroadcast within 5 s at a 1 s interval (see %s)", log);
    mp_buf_free(&tx);
    node_stop(a);
}
