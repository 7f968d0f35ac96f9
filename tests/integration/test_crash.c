/* Crash safety (DESIGN §4.1): SIGKILL chaind at random moments while it
 * connects a stream of blocks. After each restart the store must open, its
 * tip must be one of the blocks the test sent, store_check() must find it
 * consistent, and its UTXO set (count, total, digest) must equal a
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

/* The store at datadir is consistent (store_check), its tip is tip_hex, and
 * its UTXO set's count, total and digest are those of a replay of blocks
 * 1..height. */
static void check_store(const char *datadir, const char *tip_hex, const mp_buf_t *blocks,
                        size_t height)
{
    store_t *s;
    store_read_t *r;
    err_t e;
    cr_assert_eq(store_open(&s, datadir, (size_t)1 << 30, "regtest", &e), 0, "%s", e.message);
    cr_assert_eq(store_read_begin(s, &r, &e), 0, "%s", e.message);
    cr_assert_eq(store_check(r, NULL, &e), 0, "%s", e.message);
    hash32_t tip;
    char hex[65];
    cr_assert_eq(store_get_tip(r, &tip, NULL, &e), 0, "%s", e.message);
    hex_encode(hex, tip.b, 32);
    cr_assert_str_eq(hex, tip_hex, "the store's tip is not the one chaind served");
    tb_utxo_t want;
    tb_utxo_replay(&want, params_by_name("regtest"), blocks, height);
    store_utxo_stats_t st;
    cr_assert_eq(store_utxo_stats(r, &st, &e), 0, "%s", e.message);
    cr_assert_eq(st.count, want.count, "the store holds %llu coins, the chain made %llu",
                 (unsigned long long)st.count, (unsigned long long)want.count);
    cr_assert_eq(st.total, want.total, "the coins sum to another total");
    cr_assert(memcmp(st.digest.b, want.digest, 32) == 0,
              "a coin has another outpoint, amount, height or script");
    store_read_end(&r);
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
        long h = tb_chaind_height(&d, tip);
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
        h = tb_chaind_height(&d, tip);
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
        check_store(datadir, tip, blocks, (size_t)h);
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
