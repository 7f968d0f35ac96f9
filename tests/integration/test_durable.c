/* Durability of acknowledged payments (DESIGN §4.1, docs/PROTOCOL.md
 * "Durability"): a child posts payments over HTTP from several connections
 * (so that group commits are in flight) and reports each 200 through a
 * pipe; the parent SIGKILLs chaind right after a random number of them, or
 * while a block that confirms some of them is being connected (every fifth
 * round SIGTERMs it instead, with answers still held: it must exit 0,
 * resuming its suspended connections and draining its queue). After each
 * restart, every payment ever acknowledged must be pending (GET
 * /transactions/<txid> in_mempool, its coin spent_in_mempool in /utxo) or
 * confirmed, and the mempool must hold nothing the test did not post. At
 * the end the store is stopped cleanly and store_check() must find it
 * consistent (no record of a confirmed transaction). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "builder.h"
#include "hex.h"
#include "store.h"

#define ROUNDS 30
#define PER_ROUND 40  /* payments a round posts, each spending its own coin */
#define IN_BLOCK 16   /* of them, the round's block confirms the first ones */
#define SENDERS 4     /* the child's connections */
#define N_COINS (ROUNDS * PER_ROUND)
#define FEE 10000

typedef struct {
    mp_buf_t raw;
    hash32_t txid;
    char *body; /* {"hex": ...} */
    bool acked;
} pay_t;

static const chain_params_t *P;
static pay_t pays[N_COINS];
static mp_buf_t blocks[ROUNDS]; /* block r (height r + 2) confirms round r's first IN_BLOCK */
static mp_buf_t fan_block;
static hash32_t fan_txid;
static tb_wallet_t albert, stranger;
static char albert_addr[64];

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data, (void)arg;
    return size * n;
}

static char *hex_body(const uint8_t *data, size_t len)
{
    char *body = malloc(2 * len + 16);
    cr_assert_not_null(body);
    memcpy(body, "{\"hex\":\"", 8);
    hex_encode(body + 8, data, len);
    strcpy(body + 8 + 2 * len, "\"}");
    return body;
}

/* Block 1 splits albert's 40 coins into N_COINS coins; payment i spends
 * coin i to a stranger; block r confirms payments r*PER_ROUND .. + IN_BLOCK. */
static void build(void)
{
    P = params_by_name("regtest");
    tb_demo_wallet(&albert, "albert");
    tb_wallet(&stranger, 0x33);
    hash32_t genesis, gtx, tip;
    tb_genesis(P, &genesis, &gtx);
    amount_t value = (40 * AMOUNT_COIN - FEE) / N_COINS;
    tb_input_t in = {gtx, 0, &albert};
    static tb_output_t outs[N_COINS];
    for (size_t i = 0; i < N_COINS; i++)
        outs[i] = (tb_output_t){value, &albert.pkh};
    mp_buf_t fan;
    mp_buf_init(&fan, TX_MAX_SIZE);
    tb_tx_multi(&fan, &fan_txid, &in, 1, outs, N_COINS, -1);
    const uint8_t *txs[IN_BLOCK];
    size_t lens[IN_BLOCK];
    txs[0] = fan.data;
    lens[0] = fan.len;
    mp_buf_init(&fan_block, BLOCK_MAX_SIZE);
    tb_block(&fan_block, &tip, NULL, &genesis, 1, P->genesis_timestamp + 1, P->pow_limit_bits,
             &albert.pkh, params_subsidy(P, 1) + 40 * AMOUNT_COIN - value * N_COINS, txs, lens, 1,
             1);
    mp_buf_free(&fan);
    for (size_t i = 0; i < N_COINS; i++) {
        mp_buf_init(&pays[i].raw, TX_MAX_SIZE);
        tb_tx(&pays[i].raw, &pays[i].txid, &fan_txid, (uint32_t)i, value, &albert,
              &stranger.pkh, value - FEE, FEE);
        pays[i].body = hex_body(pays[i].raw.data, pays[i].raw.len);
    }
    for (size_t r = 0; r < ROUNDS; r++) {
        for (size_t k = 0; k < IN_BLOCK; k++) {
            txs[k] = pays[r * PER_ROUND + k].raw.data;
            lens[k] = pays[r * PER_ROUND + k].raw.len;
        }
        uint64_t h = r + 2;
        mp_buf_init(&blocks[r], BLOCK_MAX_SIZE);
        tb_block(&blocks[r], &tip, NULL, &tip, h, P->genesis_timestamp + h, P->pow_limit_bits,
                 &albert.pkh, params_subsidy(P, h) + (amount_t)FEE * IN_BLOCK, txs, lens,
                 IN_BLOCK, h);
    }
    address_encode(albert_addr, P->address_version, &albert.pkh);
}

/* --- the child: posts, and reports each 200 -------------------------------- */

typedef struct {
    const char *base;
    int fd;
    size_t first, step, end;
} sender_t;

static void report(int fd, char kind, const hash32_t *txid)
{
    char msg[33] = {kind};
    if (txid)
        memcpy(msg + 1, txid->b, 32);
    if (write(fd, msg, sizeof msg) != (ssize_t)sizeof msg) /* atomic: under PIPE_BUF */
        _exit(1);
}

static long post(CURL *c, const char *url, const char *body)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static CURL *client(struct curl_slist *h)
{
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    return c;
}

static void *send_payments(void *arg)
{
    sender_t *s = arg;
    char url[128];
    snprintf(url, sizeof url, "%s/transactions", s->base);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = client(h);
    for (size_t i = s->first; i < s->end; i += s->step)
        if (post(c, url, pays[i].body) == 200)
            report(s->fd, 'A', &pays[i].txid);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return NULL;
}

/* Round r's payments from SENDERS connections, and its block once some of
 * them are in (a 'B' goes through the pipe just before the block's POST). */
static void child(const char *base, size_t r, int fd, unsigned seed)
{
    pthread_t th[SENDERS];
    sender_t s[SENDERS];
    for (size_t k = 0; k < SENDERS; k++) {
        s[k] = (sender_t){base, fd, r * PER_ROUND + k, SENDERS, (r + 1) * PER_ROUND};
        pthread_create(&th[k], NULL, send_payments, &s[k]);
    }
    struct timespec ts = {0, (long)(rand_r(&seed) % 20) * 1000000L};
    nanosleep(&ts, NULL);
    char url[128];
    snprintf(url, sizeof url, "%s/block", base);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = client(h);
    char *body = hex_body(blocks[r].data, blocks[r].len);
    report(fd, 'B', NULL);
    post(c, url, body);
    for (size_t k = 0; k < SENDERS; k++)
        pthread_join(th[k], NULL);
    _exit(0);
}

/* --- the parent's checks ------------------------------------------------------ */

static bool posted(const char *hex, size_t upto)
{
    hash32_t h;
    if (hex_decode_exact(h.b, 32, hex) < 0)
        return false;
    for (size_t i = 0; i < upto; i++)
        if (hash32_eq(&h, &pays[i].txid))
            return true;
    return false;
}

/* Every acknowledged payment is pending (its coin spent_in_mempool) or
 * confirmed; the mempool holds only posted payments. Returns how many of
 * the acknowledged are pending. */
static size_t check_promises(const tb_chaind_t *d, size_t upto)
{
    char url[256], hex[65];
    tb_http_t r, u;
    snprintf(url, sizeof url, "%s/utxo/%s", d->http_url, albert_addr);
    tb_http(&u, "GET", url, NULL, 0, NULL);
    cr_assert_eq(u.status, 200);
    json_t *coins = json_object_get(u.json, "utxos");
    size_t pending = 0;
    for (size_t i = 0; i < upto; i++) {
        if (!pays[i].acked)
            continue;
        hex_encode(hex, pays[i].txid.b, 32);
        snprintf(url, sizeof url, "%s/transactions/%s", d->http_url, hex);
        tb_http(&r, "GET", url, NULL, 0, NULL);
        cr_assert_eq(r.status, 200, "acknowledged payment %zu (%s) is lost: %s", i, hex, r.body);
        bool in_pool = json_is_true(json_object_get(r.json, "in_mempool"));
        json_int_t conf = json_integer_value(json_object_get(r.json, "confirmations"));
        cr_assert(in_pool || conf >= 1, "payment %zu is neither pending nor confirmed", i);
        tb_http_free(&r);
        if (!in_pool)
            continue;
        pending++;
        char fan_hex[65];
        hex_encode(fan_hex, fan_txid.b, 32);
        bool spent = false;
        for (size_t k = 0; k < json_array_size(coins); k++) {
            json_t *c = json_array_get(coins, k);
            if (strcmp(json_string_value(json_object_get(c, "transaction_hash")), fan_hex) == 0 &&
                json_integer_value(json_object_get(c, "output_index")) == (json_int_t)i)
                spent = json_is_true(json_object_get(c, "spent_in_mempool"));
        }
        cr_assert(spent, "the coin of pending payment %zu is not spent_in_mempool", i);
    }
    tb_http_free(&u);
    snprintf(url, sizeof url, "%s/mempool", d->http_url);
    tb_http(&r, "GET", url, NULL, 0, NULL);
    cr_assert_eq(r.status, 200);
    for (size_t k = 0; k < json_array_size(r.json); k++) {
        const char *h = json_string_value(json_object_get(json_array_get(r.json, k),
                                                          "transaction_hash"));
        cr_assert(h && posted(h, upto), "the mempool holds %s, which nobody posted", h);
    }
    tb_http_free(&r);
    return pending;
}

static void check_store(const char *datadir)
{
    store_t *s;
    store_read_t *r;
    store_counts_t n;
    err_t e;
    cr_assert_eq(store_open(&s, datadir, (size_t)1 << 30, "regtest", &e), 0, "%s", e.message);
    cr_assert_eq(store_read_begin(s, &r, &e), 0, "%s", e.message);
    cr_assert_eq(store_check(r, &n, &e), 0, "%s", e.message);
    store_read_end(&r);
    store_close(&s);
}

/* Reads the child's reports until `want` acks (or, in a block round, the
 * block's start plus a few ms) or the child is done; marks the acks. */
static int read_reports(int fd, size_t want, bool at_block, unsigned *seed)
{
    size_t acks = 0;
    char msg[33];
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20000) <= 0 || read(fd, msg, sizeof msg) != (ssize_t)sizeof msg)
            return (int)acks;
        if (msg[0] == 'B' && at_block) {
            struct timespec ts = {0, (long)(rand_r(seed) % 8) * 1000000L};
            nanosleep(&ts, NULL);
            return (int)acks;
        }
        if (msg[0] != 'A')
            continue;
        hash32_t h;
        memcpy(h.b, msg + 1, 32);
        for (size_t i = 0; i < N_COINS; i++)
            if (hash32_eq(&h, &pays[i].txid))
                pays[i].acked = true;
        if (++acks >= want && !at_block)
            return (int)acks;
    }
}

Test(durable, every_acknowledged_payment_survives_kill9, .timeout = 600)
{
    build();
    char datadir[256];
    tb_tmpdir(datadir);
    unsigned seed = (unsigned)time(NULL);
    cr_log_info("seed %u", seed);
    tb_chaind_t d;
    tb_chaind_start(&d, datadir, NULL);
    tb_http_t r;
    cr_assert_eq(tb_post_hex(d.http_url, "/block", fan_block.data, fan_block.len, &r), 200);
    tb_http_free(&r);
    size_t acked = 0, pending = 0, mid_block = 0;
    for (size_t round = 0; round < ROUNDS; round++) {
        /* the chain the blocks build on: every earlier round's block in */
        for (long h = tb_chaind_height(&d, NULL); h < (long)round + 1; h++) {
            cr_assert_eq(tb_post_hex(d.http_url, "/block", blocks[h - 1].data, blocks[h - 1].len,
                                     &r), 200, "%s", r.body);
            tb_http_free(&r);
        }
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            child(d.http_url, round, fds[1], seed + (unsigned)round); /* never returns */
        }
        close(fds[1]);
        bool at_block = round % 3 == 2;
        size_t want = 1 + (size_t)rand_r(&seed) % (PER_ROUND - 4);
        acked += (size_t)read_reports(fds[0], want, at_block, &seed);
        if (round % 5 == 4)
            cr_assert_eq(tb_chaind_stop(&d), 0, "chaind did not stop cleanly under load");
        else
            tb_chaind_kill(&d); /* right after the acks (or in the block's connect) */
        int status;
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        close(fds[0]);
        tb_chaind_start(&d, datadir, NULL);
        if (at_block && tb_chaind_height(&d, NULL) == (long)round + 1)
            mid_block++; /* killed before the block was in */
        pending = check_promises(&d, (round + 1) * PER_ROUND);
    }
    cr_log_info("%zu payments acknowledged before kills, %zu pending at the end, %zu kills "
                "before a block round's block connected", acked, pending, mid_block);
    cr_assert_gt(acked, ROUNDS, "too few acknowledgements to mean anything");
    cr_assert_eq(tb_chaind_stop(&d), 0, "chaind did not exit 0 on SIGTERM");
    check_store(datadir);
    tb_chaind_start(&d, datadir, NULL);
    check_promises(&d, N_COINS);
    cr_assert_eq(tb_chaind_stop(&d), 0);
    for (size_t i = 0; i < N_COINS; i++) {
        mp_buf_free(&pays[i].raw);
        free(pays[i].body);
    }
    for (size_t r2 = 0; r2 < ROUNDS; r2++)
        mp_buf_free(&blocks[r2]);
    mp_buf_free(&fan_block);
    tb_rmdir(datadir);
}
