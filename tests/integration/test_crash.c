/* Crash safety (DESIGN §4.1): SIGKILL chaind at random moments while it
 * connects a stream of blocks. After each restart the store must open, its
 * tip must be one of the blocks the test sent, and the UTXO set must equal a
 * recomputation from those blocks up to that tip. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "hex.h"
#include "store.h"

#define N_BLOCKS 600
#define TXS_PER_BLOCK 40
#define MAX_ROUNDS 80
#define KILLS 24

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data, (void)arg;
    return size * n;
}

typedef struct {
    uint8_t key[STORE_OUTPOINT_LEN];
    uint8_t *coin;
    size_t len;
} utxo_t;

static int cmp_utxo(const void *a, const void *b)
{
    return memcmp(((const utxo_t *)a)->key, ((const utxo_t *)b)->key, STORE_OUTPOINT_LEN);
}

/* The UTXO set after blocks[0..n) on top of genesis, sorted by outpoint. */
static utxo_t *recompute(mp_buf_t *blocks, size_t n, size_t *count)
{
    size_t cap = 1024, len = 0;
    utxo_t *set = malloc(cap * sizeof *set);
    const chain_params_t *p = params_by_name("regtest");
    mp_buf_t g;
    mp_buf_init(&g, BLOCK_MAX_SIZE);
    cr_assert_eq(params_genesis_encode(p, &g), 0);
    for (size_t k = 0; k <= n; k++) {
        block_t b;
        err_t e;
        const mp_buf_t *src = k == 0 ? &g : &blocks[k - 1];
        cr_assert_eq(block_decode(&b, src->data, src->len, &e), 0);
        for (size_t t = 0; t < b.n_txs; t++) {
            for (size_t i = 0; t > 0 && i < b.txs[t].n_inputs; i++) {
                utxo_t probe;
                store_outpoint_key(probe.key, &b.txs[t].inputs[i].prev_txid,
                                   b.txs[t].inputs[i].index);
                size_t j = 0;
                while (j < len && memcmp(set[j].key, probe.key, STORE_OUTPOINT_LEN) != 0)
                    j++;
                cr_assert_lt(j, len, "the test's own chain spends a missing coin");
                free(set[j].coin);
                set[j] = set[--len];
            }
            for (size_t o = 0; o < b.txs[t].n_outputs; o++) {
                if (len == cap)
                    set = realloc(set, (cap *= 2) * sizeof *set);
                store_coin_t coin = {b.txs[t].outputs[o].amount, k, k > 0 && t == 0,
                                     b.txs[t].outputs[o].script, b.txs[t].outputs[o].script_len};
                set[len].len = store_coin_size(&coin);
                set[len].coin = malloc(set[len].len);
                store_coin_encode(set[len].coin, &coin);
                store_outpoint_key(set[len].key, &b.txids[t], (uint32_t)o);
                len++;
            }
        }
        block_free(&b);
    }
    mp_buf_free(&g);
    qsort(set, len, sizeof *set, cmp_utxo);
    *count = len;
    return set;
}

/* Compares the store's utxo database with the expected set. */
static void check_store(const char *datadir, utxo_t *want, size_t n_want)
{
    store_t s;
    err_t e;
    cr_assert_eq(store_open(&s, datadir, (size_t)1 << 30, "regtest", &e), 0, "%s", e.message);
    MDB_txn *txn;
    MDB_cursor *cur;
    cr_assert_eq(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_cursor_open(txn, s.utxo, &cur), 0);
    MDB_val k, v;
    size_t i = 0;
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT, i++) {
        cr_assert_lt(i, n_want, "the store holds more coins than the chain made");
        cr_assert_eq(k.mv_size, STORE_OUTPOINT_LEN);
        cr_assert(memcmp(k.mv_data, want[i].key, STORE_OUTPOINT_LEN) == 0, "coin %zu differs", i);
        cr_assert(v.mv_size == want[i].len && memcmp(v.mv_data, want[i].coin, v.mv_size) == 0,
                  "coin %zu has another amount, height or script", i);
    }
    cr_assert_eq(i, n_want, "the store lacks %zu coins", n_want - i);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    store_close(&s);
}

/* A transaction spending prev:index (worth value, owned by w) into n equal
 * coins for w, paying fee. */
static void fan_out(mp_buf_t *out, hash32_t *txid, const hash32_t *prev, uint32_t index,
                    amount_t value, const tb_wallet_t *w, size_t n, amount_t fee)
{
    uint8_t lock[SCRIPT_P2PKH_LOCK_LEN], unlock[1][SCRIPT_P2PKH_UNLOCK_LEN];
    tx_output_t outs[TXS_PER_BLOCK];
    script_p2pkh_lock(lock, &w->pkh);
    for (size_t i = 0; i < n; i++)
        outs[i] = (tx_output_t){(value - fee) / n, lock, sizeof lock};
    tx_input_t in = {.prev_txid = *prev, .index = index};
    tx_t tx = {.version = TX_VERSION, .n_inputs = 1, .inputs = &in, .n_outputs = n,
               .outputs = outs};
    err_t e;
    cr_assert_eq(tx_sign_p2pkh(&tx, &w->key, unlock, &e), 0);
    cr_assert_eq(tx_txid(&tx, txid), 0);
    cr_assert_eq(tx_encode(&tx, out, false), 0);
}

/* Builds the chain the test streams: block 1 splits albert's 40 coins into
 * TXS_PER_BLOCK coins; every later block passes each coin on to a new
 * transaction, so a UTXO set that missed or doubled a step shows. */
static void build_chain(mp_buf_t *blocks, hash32_t *hashes)
{
    const chain_params_t *p = params_by_name("regtest");
    tb_wallet_t albert;
    tb_demo_wallet(&albert, "albert");
    hash32_t tip, gtx, fan;
    tb_genesis(p, &tip, &gtx);
    const amount_t fee = 1000;
    amount_t value = (40 * AMOUNT_COIN - fee) / TXS_PER_BLOCK;
    hash32_t prev[TXS_PER_BLOCK];
    mp_buf_t txbufs[TXS_PER_BLOCK];
    for (size_t h = 1; h <= N_BLOCKS; h++) {
        const uint8_t *txs[TXS_PER_BLOCK];
        size_t lens[TXS_PER_BLOCK], n = h == 1 ? 1 : TXS_PER_BLOCK;
        for (size_t i = 0; i < n; i++) {
            mp_buf_init(&txbufs[i], TX_MAX_SIZE);
            if (h == 1)
                fan_out(&txbufs[i], &fan, &gtx, 0, 40 * AMOUNT_COIN, &albert, TXS_PER_BLOCK, fee);
            else
                tb_tx(&txbufs[i], &prev[i], h == 2 ? &fan : &prev[i], h == 2 ? (uint32_t)i : 0,
                      value, &albert, &albert.pkh, value - fee, fee);
            txs[i] = txbufs[i].data;
            lens[i] = txbufs[i].len;
        }
        if (h > 1)
            value -= fee;
        mp_buf_init(&blocks[h - 1], BLOCK_MAX_SIZE);
        tb_block(&blocks[h - 1], &hashes[h - 1], NULL, &tip, h, p->genesis_timestamp + h,
                 p->pow_limit_bits, &albert.pkh, params_subsidy(p, h) + fee * n, txs, lens, n, h);
        tip = hashes[h - 1];
        for (size_t i = 0; i < n; i++)
            mp_buf_free(&txbufs[i]);
    }
}

/* The child's loop: plain libcurl, no assertions, since its requests start
 * failing the moment chaind is killed. */
static void stream_blocks(const char *base_url, const mp_buf_t *blocks, long from)
{
    char url[128];
    snprintf(url, sizeof url, "%s/block", base_url);
    CURL *c = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    for (long k = from; c && k < N_BLOCKS; k++) {
        char *body = malloc(2 * blocks[k].len + 16);
        if (!body)
            break;
        memcpy(body, "{\"hex\":\"", 8);
        hex_encode(body + 8, blocks[k].data, blocks[k].len);
        strcat(body, "\"}");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        CURLcode rc = curl_easy_perform(c);
        free(body);
        if (rc != CURLE_OK)
            break;
    }
    _exit(0);
}

static long height_of(const tb_chaind_t *d, char tip_hex[65])
{
    char url[128];
    tb_http_t r;
    snprintf(url, sizeof url, "%s/status", d->http_url);
    tb_http(&r, "GET", url, NULL, 0, NULL);
    cr_assert_eq(r.status, 200);
    long h = (long)json_integer_value(json_object_get(r.json, "height"));
    snprintf(tip_hex, 65, "%s", json_string_value(json_object_get(r.json, "tip")));
    tb_http_free(&r);
    return h;
}

Test(crash, kill9_while_connecting_keeps_a_consistent_store, .timeout = 600)
{
    static mp_buf_t blocks[N_BLOCKS];
    static hash32_t hashes[N_BLOCKS];
    build_chain(blocks, hashes);
    char datadir[256];
    tb_tmpdir(datadir);
    srand((unsigned)time(NULL));
    long last_height = 0;
    int kills_mid_stream = 0;
    /* the kill lands 10 ms to window_ms into a round; a slower build (the
     * sanitizers) connects nothing in a short window, so it widens, and a
     * round that connects more than its share of the chain (so that every
     * kill finds blocks left to connect) narrows it */
    long window_ms = 140;
    const long share = N_BLOCKS / (2 * KILLS);
    for (int round = 0; kills_mid_stream < KILLS && round < MAX_ROUNDS; round++) {
        tb_chaind_t d;
        tb_chaind_start(&d, datadir, NULL);
        char tip[65];
        long h = height_of(&d, tip);
        cr_assert_geq(h, last_height, "a restart lost connected blocks (%ld < %ld)", h,
                      last_height);
        last_height = h;
        /* a child streams the remaining blocks; the parent kills chaind at a
         * random moment (see window_ms) */
        pid_t child = fork();
        cr_assert(child >= 0);
        if (child == 0)
            stream_blocks(d.http_url, blocks, h); /* never returns */
        long delay_ms = 10 + rand() % window_ms;
        struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        tb_chaind_kill(&d);
        int status;
        kill(child, SIGKILL);
        waitpid(child, &status, 0);

        /* restart: the store opens, its tip is one of ours, coins match */
        tb_chaind_start(&d, datadir, NULL);
        h = height_of(&d, tip);
        cr_assert_geq(h, last_height);
        if (h > last_height && h < N_BLOCKS) {
            kills_mid_stream++;
            if (h - last_height > share && window_ms > 20)
                window_ms /= 2;
        } else if (h == last_height && window_ms < 4000) {
            window_ms *= 2;
        }
        if (h > 0) {
            char want[65];
            hex_encode(want, hashes[h - 1].b, 32);
            cr_assert_str_eq(tip, want, "the tip after a crash is not a block the test sent");
        }
        last_height = h;
        cr_assert_eq(tb_chaind_stop(&d), 0, "chaind did not exit 0 on SIGTERM");
        size_t n_want;
        utxo_t *want = recompute(blocks, (size_t)h, &n_want);
        check_store(datadir, want, n_want);
        for (size_t i = 0; i < n_want; i++)
            free(want[i].coin);
        free(want);
        if (h == N_BLOCKS)
            break;
    }
    cr_log_info("chain at height %ld after the kills; %d kills fell mid-stream", last_height,
                kills_mid_stream);
    cr_assert_geq(kills_mid_stream, KILLS, "only %d kills landed while blocks were connecting",
                  kills_mid_stream);
    for (size_t i = 0; i < N_BLOCKS; i++)
        mp_buf_free(&blocks[i]);
    tb_rmdir(datadir);
}
