/* chain.h in process: the block tree, the main chain, every contextual
 * rejection, reorganisations (checked against a from-scratch recomputation of
 * the UTXO set and the indexes), invalid branches, hooks and reopening. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builder.h"
#include "fixture.h"
#include "chain.h"
#include "clock.h"
#include "hash.h"
#include "hex.h"
#include "pow.h"
#include "script.h"
#include "tx.h"

#define SUBSIDY ((amount_t)625000000)
#define COIN AMOUNT_COIN
#define BITS 0x207fffffu

/* --- fixture --------------------------------------------------------------- */

static const chain_params_t *P;
static char dir[256];
static chain_t *C;
static sigcache_t *cache;
static hash32_t G, GTX; /* genesis hash and its allocation txid */
static uint64_t GT;     /* genesis timestamp */
static uint64_t NOW;
static tb_wallet_t albert, bertrand, camille, miner, stranger;

static void open_chain(void)
{
    err_t e;
    cr_assert_eq(chain_open(&C, P, dir, (size_t)1 << 30, 2, cache, NULL, &e), 0, "%s", e.message);
}

static void setup(void)
{
    P = params_by_name("regtest");
    cr_assert_not_null(P);
    tb_tmpdir(dir);
    cache = sigcache_new(1000);
    cr_assert_not_null(cache);
    open_chain();
    tb_genesis(P, &G, &GTX);
    GT = P->genesis_timestamp;
    NOW = (uint64_t)time(NULL);
    tb_cast(&albert, &bertrand, &camille, &miner, &stranger);
}

static void teardown(void)
{
    chain_close(&C);
    sigcache_destroy(&cache);
    tb_keep_free();
    tb_rmdir(dir);
}

TestSuite(chain, .init = setup, .fini = teardown, .timeout = 60);

/* --- transactions ---------------------------------------------------------- */

typedef tb_rtx_t rtx_t;

typedef tb_input_t in_t;
typedef tb_output_t out_t;

/* --- blocks ----------------------------------------------------------------- */

typedef tb_blk_t blk_t;

/* A block on parent at height with the given txs; the coinbase (coinbase
 * height cb_height) pays value to the miner. */
static blk_t mkblock_full(const hash32_t *parent, uint64_t height, uint64_t cb_height, uint64_t ts,
                          uint32_t bits, amount_t value, const rtx_t *txs, size_t n, uint64_t tag)
{
    return tb_mkblock(parent, height, cb_height, ts, bits, &miner.pkh, value, txs, n, tag);
}

static uint64_t ts_at(uint64_t height) { return GT + 60 * height; }

/* The usual block: timestamp GT + 60 h, regtest bits, coinbase = subsidy + fees. */
static blk_t mkblock(const hash32_t *parent, uint64_t height, const rtx_t *txs, size_t n,
                     amount_t fees, uint64_t tag)
{
    return mkblock_full(parent, height, height, ts_at(height), BITS, SUBSIDY + fees, txs, n, tag);
}

/* --- store snapshots ---------------------------------------------------------- */

static store_read_t *read_begin(void)
{
    store_read_t *r;
    err_t e;
    cr_assert_eq(store_read_begin(chain_store(C), &r, &e), 0, "%s", e.message);
    return r;
}

static void put_coin(mp_buf_t *out, const store_outpoint_t *op, const store_coin_t *c)
{
    mp_put_bin(out, op->txid.b, 32);
    mp_put_uint(out, op->index);
    mp_put_uint(out, c->amount);
    mp_put_uint(out, c->height);
    mp_put_bool(out, c->coinbase);
    mp_put_bin(out, c->script, c->script_len);
}

/* The undo record of main-chain block hash, coin by coin. */
static void snap_undo(store_read_t *r, const hash32_t *hash, mp_buf_t *out)
{
    store_iter_t *it;
    store_outpoint_t op;
    store_coin_t coin;
    err_t e;
    cr_assert_eq(store_iter_undo(r, hash, &it, &e), 0, "%s", e.message);
    int rc;
    while ((rc = store_next_coin(it, &op, &coin, &e)) == 1)
        put_coin(out, &op, &coin);
    cr_assert_eq(rc, 0, "%s", e.message);
    store_iter_end(&it);
}

/* The state a rejected block must not touch: the UTXO set (its digest
 * covers every field of every coin), the main chain with each block's undo
 * record, the tip, and the size of the other tables. store_check() proves
 * the address and transaction indexes follow from those exactly. */
static mp_buf_t snapshot(void)
{
    store_read_t *r = read_begin();
    mp_buf_t b;
    mp_buf_init(&b, (size_t)256 << 20);
    store_counts_t n;
    store_utxo_stats_t st;
    hash32_t tip, at;
    uint64_t height;
    err_t e;
    cr_assert_eq(store_check(r, &n, &e), 0, "%s", e.message);
    cr_assert_eq(store_utxo_stats(r, &st, &e), 0, "%s", e.message);
    cr_assert_eq(store_get_tip(r, &tip, &height, &e), 0, "%s", e.message);
    /* not the index and blocks: a block is stored before it is judged */
    const uint64_t fields[] = {n.chain, n.coins, n.addr, n.txs, n.undo, st.count, st.total, height};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        mp_put_uint(&b, fields[i]);
    mp_put_bin(&b, st.digest.b, 32);
    mp_put_bin(&b, tip.b, 32);
    for (uint64_t h = 0; h <= height; h++) {
        cr_assert_eq(store_get_chain_hash(r, h, &at, &e), 0, "%s", e.message);
        mp_put_bin(&b, at.b, 32);
        if (h > 0)
            snap_undo(r, &at, &b);
    }
    store_read_end(&r);
    mp_put_bin(&b, chain_tip(C)->hash.b, 32);
    mp_put_uint(&b, chain_tip(C)->height);
    cr_assert(mp_buf_ok(&b));
    return b;
}

static void assert_same_snapshot(mp_buf_t *before, const char *what)
{
    mp_buf_t after = snapshot();
    cr_assert(before->len == after.len && memcmp(before->data, after.data, after.len) == 0,
              "%s changed the chain state", what);
    mp_buf_free(&after);
}

/* --- hooks ------------------------------------------------------------------- */

typedef struct {
    char kind; /* 'c' connected, 'd' disconnected */
    hash32_t hash, cb;
    uint64_t height;
} ev_t;

static ev_t events[256];
static size_t n_events;

static void record(char kind, const block_t *b, const chain_entry_t *entry)
{
    cr_assert(n_events < 256);
    hash32_t h;
    block_header_hash(&h, &b->header);
    cr_assert(hash32_eq(&h, &entry->hash), "hook: the block is not the entry's");
    events[n_events++] = (ev_t){kind, entry->hash, b->txids[0], entry->height};
}

static void on_conn(void *ctx, const block_t *b, const chain_entry_t *entry)
{
    cr_assert_eq(ctx, (void *)&events);
    record('c', b, entry);
}

static void on_disc(void *ctx, const block_t *b, const chain_entry_t *entry)
{
    cr_assert_eq(ctx, (void *)&events);
    record('d', b, entry);
}

static void set_hooks(void)
{
    chain_hooks_t h = {.connected = on_conn, .disconnected = on_disc, .ctx = &events};
    chain_set_hooks(C, &h);
    n_events = 0;
}

static void expect_event(size_t i, char kind, const blk_t *b)
{
    cr_assert(i < n_events, "event %zu missing (only %zu)", i, n_events);
    cr_assert_eq(events[i].kind, kind, "event %zu is '%c', expected '%c'", i, events[i].kind,
                 kind);
    cr_assert(hash32_eq(&events[i].hash, &b->hash), "event %zu is for another block", i);
    cr_assert(hash32_eq(&events[i].cb, &b->cb), "event %zu carries another block's txs", i);
    cr_assert_eq(events[i].height, b->height);
}

/* --- submission ---------------------------------------------------------------- */

static int submit_at(const blk_t *b, uint64_t now, chain_status_t *st, err_t *e)
{
    hash32_t h;
    memset(&h, 0, sizeof h);
    int rc = chain_submit_block(C, b->data, b->len, now, st, &h, e);
    if (rc == 0)
        cr_assert(hash32_eq(&h, &b->hash), "submit returned another hash");
    return rc;
}

static void submit_ok(const blk_t *b, chain_status_t expect)
{
    chain_status_t st;
    err_t e = {0};
    int rc = submit_at(b, NOW, &st, &e);
    cr_assert_eq(rc, 0, "block at height %llu rejected: %s (%s)", (unsigned long long)b->height,
                 err_str(e.code), e.message);
    cr_assert_eq(st, expect, "status %d, expected %d", st, expect);
    if (expect == CHAIN_TIP) {
        cr_assert(hash32_eq(&chain_tip(C)->hash, &b->hash));
        cr_assert_eq(chain_tip(C)->height, b->height);
    }
}

/* Submits a block that must be rejected with code, and checks nothing moved. */
static void submit_fail_at(const blk_t *b, uint64_t now, err_code_t code, const char *what)
{
    mp_buf_t before = snapshot();
    chain_status_t st;
    err_t e = {0};
    int rc = submit_at(b, now, &st, &e);
    cr_assert_eq(rc, -(int)code, "%s: rc %d (%s: %s), expected %s", what, rc,
                 rc < 0 ? err_str(e.code) : "accepted", rc < 0 ? e.message : "", err_str(code));
    cr_assert_eq(e.code, code, "%s: e.code %s", what, err_str(e.code));
    assert_same_snapshot(&before, what);
    mp_buf_free(&before);
}

static void submit_fail(const blk_t *b, err_code_t code, const char *what)
{
    submit_fail_at(b, NOW, code, what);
}

/* A chain of empty blocks on the tip; returns the last. */
static blk_t extend(size_t count, uint64_t tag)
{
    blk_t last = {0};
    for (size_t i = 0; i < count; i++) {
        const chain_entry_t *tip = chain_tip(C);
        last = mkblock(&tip->hash, tip->height + 1, NULL, 0, 0, tag);
        submit_ok(&last, CHAIN_TIP);
    }
    return last;
}

/* --- an independent UTXO set ------------------------------------------------------ */

typedef struct {
    uint8_t key[36];
    amount_t amount;
    uint64_t height;
    bool coinbase;
    uint8_t script[SCRIPT_MAX_SIZE];
    size_t script_len;
} xcoin_t;

typedef struct {
    xcoin_t *coins;
    size_t n, cap;
    uint8_t (*txids)[64]; /* txid ‖ block hash of every main-chain tx */
    size_t n_txids, cap_txids;
} xstate_t;

static void outpoint(uint8_t key[36], const hash32_t *txid, uint32_t index)
{
    memcpy(key, txid->b, 32);
    key[32] = (uint8_t)(index >> 24);
    key[33] = (uint8_t)(index >> 16);
    key[34] = (uint8_t)(index >> 8);
    key[35] = (uint8_t)index;
}

static int cmp_coin(const void *a, const void *b)
{
    return memcmp(((const xcoin_t *)a)->key, ((const xcoin_t *)b)->key, 36);
}

static int cmp_64(const void *a, const void *b) { return memcmp(a, b, 32); }

static bool p2pkh(const uint8_t *s, size_t len, uint8_t pkh[20])
{
    if (len != 25 || s[0] != 0x76 || s[1] != 0xa9 || s[2] != 0x14 || s[23] != 0x88 ||
        s[24] != 0xac)
        return false;
    memcpy(pkh, s + 3, 20);
    return true;
}

/* Walks the main chain from genesis, reading every block from the store,
 * and applies each transaction to an empty set. */
static void recompute(xstate_t *x)
{
    memset(x, 0, sizeof *x);
    store_read_t *r = read_begin();
    for (uint64_t h = 0; h <= chain_tip(C)->height; h++) {
        const chain_entry_t *entry = chain_at(C, h);
        cr_assert_not_null(entry);
        cr_assert_eq(entry->height, h);
        block_t b;
        err_t e;
        cr_assert_eq(store_load_block(r, &entry->hash, &b, NULL, &e), 0, "block at %llu: %s",
                     (unsigned long long)h, e.message);
        hash32_t bh;
        block_header_hash(&bh, &b.header);
        cr_assert(hash32_eq(&bh, &entry->hash));
        if (h > 0)
            cr_assert(hash32_eq(&b.header.previous_block_hash, &chain_at(C, h - 1)->hash));
        for (size_t i = 0; i < b.n_txs; i++) {
            const tx_t *tx = &b.txs[i];
            if (i > 0) {
                for (size_t j = 0; j < tx->n_inputs; j++) {
                    uint8_t key[36];
                    outpoint(key, &tx->inputs[j].prev_txid, tx->inputs[j].index);
                    size_t at = x->n;
                    for (size_t q = 0; q < x->n; q++)
                        if (memcmp(x->coins[q].key, key, 36) == 0)
                            at = q;
                    cr_assert(at < x->n, "main chain spends a coin that does not exist");
                    x->coins[at] = x->coins[--x->n];
                }
            }
            for (size_t j = 0; j < tx->n_outputs; j++) {
                if (x->n == x->cap) {
                    x->cap = x->cap ? 2 * x->cap : 64;
                    x->coins = realloc(x->coins, x->cap * sizeof *x->coins);
                    cr_assert_not_null(x->coins);
                }
                xcoin_t *c = &x->coins[x->n++];
                outpoint(c->key, &b.txids[i], (uint32_t)j);
                c->amount = tx->outputs[j].amount;
                c->height = h;
                c->coinbase = i == 0 && h > 0; /* the genesis allocations spend at once */
                c->script_len = tx->outputs[j].script_len;
                memcpy(c->script, tx->outputs[j].script, c->script_len);
            }
            if (x->n_txids == x->cap_txids) {
                x->cap_txids = x->cap_txids ? 2 * x->cap_txids : 64;
                x->txids = realloc(x->txids, x->cap_txids * sizeof *x->txids);
                cr_assert_not_null(x->txids);
            }
            memcpy(x->txids[x->n_txids], b.txids[i].b, 32);
            memcpy(x->txids[x->n_txids++] + 32, entry->hash.b, 32);
        }
        block_free(&b);
    }
    store_read_end(&r);
    qsort(x->coins, x->n, sizeof *x->coins, cmp_coin);
    qsort(x->txids, x->n_txids, sizeof *x->txids, cmp_64);
}

static void xfree(xstate_t *x)
{
    free(x->coins);
    free(x->txids);
}

static void put_le(mp_buf_t *b, uint64_t v, int width)
{
    uint8_t p[8];
    for (int i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    mp_put_raw(b, p, (size_t)width);
}

/* The UTXO-set digest exactly as docs/PROTOCOL.md defines it, written here
 * from the definition: SHA-256 over txid ‖ index (4, BE) ‖ height (8, LE) ‖
 * coinbase (1) ‖ amount (8, LE) ‖ script length (4, LE) ‖ script, coin by
 * coin in key order. */
static void x_digest(const xstate_t *x, uint8_t out[32], uint64_t *total)
{
    mp_buf_t b;
    mp_buf_init(&b, (size_t)1 << 30);
    *total = 0;
    for (size_t i = 0; i < x->n; i++) {
        const xcoin_t *c = &x->coins[i];
        mp_put_raw(&b, c->key, 36);
        put_le(&b, c->height, 8);
        mp_put_raw(&b, c->coinbase ? "\1" : "\0", 1);
        put_le(&b, c->amount, 8);
        put_le(&b, c->script_len, 4);
        mp_put_raw(&b, c->script, c->script_len);
        *total += c->amount;
    }
    cr_assert(mp_buf_ok(&b));
    hash_sha256(out, b.data, b.len);
    mp_buf_free(&b);
}

/* The store's coins, in key order, are exactly x's. */
static void verify_coins(store_read_t *r, const xstate_t *x)
{
    store_iter_t *it;
    store_outpoint_t op;
    store_coin_t coin;
    err_t e;
    size_t i = 0;
    int rc;
    cr_assert_eq(store_iter_utxo(r, &it, &e), 0, "%s", e.message);
    for (; (rc = store_next_coin(it, &op, &coin, &e)) == 1; i++) {
        cr_assert(i < x->n, "the store has more coins than the chain makes (%zu)", x->n);
        const xcoin_t *c = &x->coins[i];
        uint8_t key[36];
        outpoint(key, &op.txid, op.index);
        cr_assert(memcmp(key, c->key, 36) == 0, "coin %zu: another outpoint", i);
        cr_assert_eq(coin.amount, c->amount, "coin %zu amount", i);
        cr_assert_eq(coin.height, c->height, "coin %zu height", i);
        cr_assert_eq(coin.coinbase, c->coinbase, "coin %zu coinbase flag", i);
        cr_assert_eq(coin.script_len, c->script_len);
        cr_assert(memcmp(coin.script, c->script, c->script_len) == 0);
    }
    cr_assert_eq(rc, 0, "%s", e.message);
    store_iter_end(&it);
    cr_assert_eq(i, x->n, "the store has %zu coins, the chain makes %zu", i, x->n);
    /* the digest of the same set, computed from its definition */
    store_utxo_stats_t st;
    uint8_t want[32];
    uint64_t total;
    x_digest(x, want, &total);
    cr_assert_eq(store_utxo_stats(r, &st, &e), 0, "%s", e.message);
    cr_assert_eq(st.count, x->n);
    cr_assert_eq(st.total, total);
    cr_assert(memcmp(st.digest.b, want, 32) == 0, "the UTXO-set digest differs");
}

/* Each P2PKH coin of x shows under its address, and nothing else does. */
static void verify_addresses(store_read_t *r, const xstate_t *x, uint64_t n_addr)
{
    size_t n_p2pkh = 0;
    for (size_t q = 0; q < x->n; q++) {
        hash20_t pkh;
        if (!p2pkh(x->coins[q].script, x->coins[q].script_len, pkh.b))
            continue;
        n_p2pkh++;
        /* the coins of that address: x's with the same pubkey hash, in key order */
        store_iter_t *it;
        store_outpoint_t op;
        store_coin_t coin;
        err_t e;
        bool seen = false;
        cr_assert_eq(store_iter_address(r, &pkh, &it, &e), 0, "%s", e.message);
        while (store_next_coin(it, &op, &coin, &e) == 1) {
            uint8_t key[36], other[20];
            outpoint(key, &op.txid, op.index);
            cr_assert(p2pkh(coin.script, coin.script_len, other) &&
                      memcmp(other, pkh.b, 20) == 0, "a coin listed under another address");
            seen |= memcmp(key, x->coins[q].key, 36) == 0;
        }
        store_iter_end(&it);
        cr_assert(seen, "coin %zu missing under its address", q);
    }
    cr_assert_eq(n_addr, n_p2pkh, "addr index holds stale entries");
}

/* The store's UTXO set, address index, tx index, chain and undo records
 * equal what the main chain's blocks say, exactly, and store_check() agrees
 * that the store is consistent. */
static void verify_state(void)
{
    xstate_t x;
    recompute(&x);
    store_read_t *r = read_begin();
    store_counts_t n;
    err_t e;
    cr_assert_eq(store_check(r, &n, &e), 0, "%s", e.message);
    verify_coins(r, &x);
    verify_addresses(r, &x, n.addr);

    /* txindex: exactly the main-chain txids, each to its block */
    cr_assert_eq(n.txs, x.n_txids, "txindex holds txids off the main chain");
    for (size_t i = 0; i < x.n_txids; i++) {
        hash32_t txid, h;
        store_tx_loc_t loc;
        memcpy(txid.b, x.txids[i], 32);
        cr_assert_eq(store_find_tx(r, &txid, &loc, &e), 0, "tx %zu: %s", i, e.message);
        cr_assert(memcmp(loc.block.b, x.txids[i] + 32, 32) == 0, "txindex %zu: another block", i);
        hash_sha256d(&h, loc.raw, loc.len);
        cr_assert(hash32_eq(&h, &txid), "tx %zu: another transaction's bytes", i);
        cr_assert_eq(loc.height, chain_lookup(C, &loc.block)->height);
    }

    /* chain by height and undo data: exactly the main chain */
    uint64_t tip_height = chain_tip(C)->height, height;
    cr_assert_eq(n.chain, tip_height + 1);
    cr_assert_eq(n.undo, tip_height);
    for (uint64_t h = 0; h <= tip_height; h++) {
        hash32_t hh;
        store_iter_t *it;
        cr_assert_eq(store_get_chain_hash(r, h, &hh, &e), 0, "%s", e.message);
        cr_assert(hash32_eq(&hh, &chain_at(C, h)->hash), "chain db differs at %llu",
                  (unsigned long long)h);
        cr_assert_eq(store_iter_undo(r, &hh, &it, &e), h > 0 ? 0 : -(int)ERR_NOT_FOUND,
                     "undo data at %llu", (unsigned long long)h);
        store_iter_end(&it);
    }
    hash32_t tip;
    cr_assert_eq(store_get_tip(r, &tip, &height, &e), 0, "%s", e.message);
    cr_assert(hash32_eq(&tip, &chain_tip(C)->hash) && height == tip_height);
    store_read_end(&r);
    xfree(&x);
}

/* A coin as the store has it: true when present. */
static bool get_coin(const hash32_t *txid, uint32_t index, store_coin_t *coin,
                     uint8_t script[SCRIPT_MAX_SIZE])
{
    store_read_t *r = read_begin();
    err_t e;
    int rc = store_get_coin(r, txid, index, coin, &e);
    cr_assert(rc == 0 || rc == -(int)ERR_NOT_FOUND, "%s", e.message);
    if (rc == 0) {
        memcpy(script, coin->script, coin->script_len);
        coin->script = script;
    }
    store_read_end(&r);
    return rc == 0;
}

/* --- tests ------------------------------------------------------------------------ */

Test(chain, open_creates_genesis)
{
    const chain_entry_t *tip = chain_tip(C);
    cr_assert_eq(tip->height, 0);
    char hex[65];
    hex_encode(hex, tip->hash.b, 32);
    cr_assert_str_eq(hex, P->genesis_hash);
    cr_assert(hash32_eq(&tip->hash, &G));
    cr_assert_eq(chain_at(C, 0), tip);
    cr_assert_null(chain_at(C, 1));
    cr_assert_eq(chain_lookup(C, &G), tip);
    cr_assert(chain_is_main(C, tip));
    cr_assert_null(tip->parent);
    cr_assert_eq(tip->header.timestamp, GT);
    cr_assert_eq(tip->header.bits, BITS);
    cr_assert_eq(chain_median_time(tip), GT);
    cr_assert_eq(chain_next_bits(C, tip), BITS);
    cr_assert_eq(chain_orphan_count(C), 0);
    /* work of 0x207fffff: 2^256 / (0x7fffff * 2^232 + 1) = 2 */
    u256_t two = {{2, 0, 0, 0}};
    cr_assert_eq(u256_cmp(&tip->chainwork, &two), 0);

    /* the allocations, spendable at once */
    const tb_wallet_t *owners[4] = {&albert, &bertrand, &camille, &camille};
    const amount_t amounts[4] = {40 * COIN, 30 * COIN, 10 * COIN, 5 * COIN};
    for (uint32_t i = 0; i < 4; i++) {
        store_coin_t coin;
        uint8_t script[SCRIPT_MAX_SIZE], lock[SCRIPT_P2PKH_LOCK_LEN];
        cr_assert(get_coin(&GTX, i, &coin, script), "genesis output %u missing", i);
        script_p2pkh_lock(lock, &owners[i]->pkh);
        cr_assert_eq(coin.amount, amounts[i]);
        cr_assert_eq(coin.height, 0);
        cr_assert_not(coin.coinbase);
        cr_assert_eq(coin.script_len, sizeof lock);
        cr_assert(memcmp(coin.script, lock, sizeof lock) == 0);
    }
    store_coin_t coin;
    uint8_t script[SCRIPT_MAX_SIZE];
    cr_assert_not(get_coin(&GTX, 4, &coin, script));
    verify_state();

    /* reopening an existing store does not recreate anything */
    mp_buf_t before = snapshot();
    chain_close(&C);
    cr_assert_null(C);
    open_chain();
    assert_same_snapshot(&before, "reopening");
    mp_buf_free(&before);
}

Test(chain, connects_a_chain)
{
    set_hooks();
    blk_t blocks[13];
    u256_t work = chain_tip(C)->chainwork;
    u256_t two = {{2, 0, 0, 0}};
    for (uint64_t h = 1; h <= 12; h++) {
        const chain_entry_t *tip = chain_tip(C);
        cr_assert_eq(chain_next_bits(C, tip), BITS);
        blocks[h] = mkblock(&tip->hash, h, NULL, 0, 0, h);
        submit_ok(&blocks[h], CHAIN_TIP);
        u256_add(&work, &two);
        cr_assert_eq(u256_cmp(&chain_tip(C)->chainwork, &work), 0);
        cr_assert_eq(chain_tip(C)->parent, tip);
        expect_event(h - 1, 'c', &blocks[h]);
    }
    cr_assert_eq(n_events, 12);
    cr_assert_eq(chain_tip(C)->height, 12);
    for (uint64_t h = 1; h <= 12; h++) {
        const chain_entry_t *x = chain_at(C, h);
        cr_assert(hash32_eq(&x->hash, &blocks[h].hash));
        cr_assert_eq(chain_lookup(C, &blocks[h].hash), x);
        cr_assert(chain_is_main(C, x));
        cr_assert_eq(x->status & STORE_VALID, STORE_VALID);
        /* each coinbase is a coin of its height, marked as a coinbase */
        store_coin_t coin;
        uint8_t script[SCRIPT_MAX_SIZE];
        cr_assert(get_coin(&blocks[h].cb, 0, &coin, script));
        cr_assert_eq(coin.amount, SUBSIDY);
        cr_assert_eq(coin.height, h);
        cr_assert(coin.coinbase);
    }
    /* median of the last 11: heights 2..12 of GT + 60 h -> height 7 */
    cr_assert_eq(chain_median_time(chain_tip(C)), GT + 60 * 7);
    cr_assert_eq(chain_median_time(chain_at(C, 4)), GT + 60 * 2);
    verify_state();

    /* headers after a locator */
    uint8_t *hdrs;
    size_t n;
    cr_assert_eq(chain_headers_after(C, &blocks[10].hash, 1, 100, &hdrs, &n), 0);
    cr_assert_eq(n, 2);
    hash32_t hh;
    block_header_t bh;
    block_header_decode(&bh, hdrs);
    block_header_hash(&hh, &bh);
    cr_assert(hash32_eq(&hh, &blocks[11].hash));
    free(hdrs);
}

Test(chain, submit_statuses_and_orphans)
{
    blk_t b1 = mkblock(&G, 1, NULL, 0, 0, 1);
    submit_ok(&b1, CHAIN_TIP);
    /* a sibling with equal work: side, the first seen stays */
    blk_t s1 = mkblock(&G, 1, NULL, 0, 0, 2);
    cr_assert_not(hash32_eq(&s1.hash, &b1.hash));
    submit_ok(&s1, CHAIN_SIDE);
    cr_assert(hash32_eq(&chain_tip(C)->hash, &b1.hash));
    const chain_entry_t *se = chain_lookup(C, &s1.hash);
    cr_assert_not_null(se);
    cr_assert_not(chain_is_main(C, se));
    cr_assert_eq(se->height, 1);
    /* both again: known, nothing changes */
    mp_buf_t before = snapshot();
    submit_ok(&b1, CHAIN_KNOWN);
    submit_ok(&s1, CHAIN_KNOWN);
    assert_same_snapshot(&before, "a known block");
    mp_buf_free(&before);

    /* b2, b3, b4 on b1: b3 and b4 arrive first */
    blk_t b2 = mkblock(&b1.hash, 2, NULL, 0, 0, 3);
    blk_t b3 = mkblock(&b2.hash, 3, NULL, 0, 0, 4);
    blk_t b4 = mkblock(&b3.hash, 4, NULL, 0, 0, 5);
    before = snapshot();
    submit_ok(&b4, CHAIN_ORPHAN);
    submit_ok(&b3, CHAIN_ORPHAN);
    cr_assert_eq(chain_orphan_count(C), 2);
    submit_ok(&b3, CHAIN_KNOWN); /* an orphan already held */
    cr_assert_eq(chain_orphan_count(C), 2);
    cr_assert_null(chain_lookup(C, &b3.hash));
    assert_same_snapshot(&before, "orphans");
    mp_buf_free(&before);

    set_hooks();
    chain_status_t st;
    err_t e;
    cr_assert_eq(submit_at(&b2, NOW, &st, &e), 0, "%s", e.message);
    cr_assert_eq(st, CHAIN_TIP);
    /* the orphans were adopted in order */
    cr_assert_eq(chain_orphan_count(C), 0);
    cr_assert_eq(chain_tip(C)->height, 4);
    cr_assert(hash32_eq(&chain_tip(C)->hash, &b4.hash));
    cr_assert_eq(n_events, 3);
    expect_event(0, 'c', &b2);
    expect_event(1, 'c', &b3);
    expect_event(2, 'c', &b4);
    submit_ok(&b3, CHAIN_KNOWN);
    verify_state();

    /* an orphan whose parent is a side block becomes a side block */
    blk_t s2 = mkblock(&s1.hash, 2, NULL, 0, 0, 6);
    blk_t s3 = mkblock(&s2.hash, 3, NULL, 0, 0, 7);
    submit_ok(&s3, CHAIN_ORPHAN);
    submit_ok(&s2, CHAIN_SIDE);
    cr_assert_eq(chain_orphan_count(C), 0);
    cr_assert_not_null(chain_lookup(C, &s3.hash));
    cr_assert_not(chain_is_main(C, chain_lookup(C, &s3.hash)));
    cr_assert(hash32_eq(&chain_tip(C)->hash, &b4.hash));

    /* undecodable bytes */
    uint8_t junk[] = {0x92, 0xc4, 0x01, 0x00, 0x90};
    before = snapshot();
    hash32_t h;
    cr_assert_eq(chain_submit_block(C, junk, sizeof junk, NOW, &st, &h, &e),
                 -(int)ERR_BAD_ENCODING);
    assert_same_snapshot(&before, "junk");
    mp_buf_free(&before);
}

Test(chain, rejects_bad_bits)
{
    /* harder than the rule (valid targets, proof of work met) */
    blk_t b = mkblock_full(&G, 1, 1, ts_at(1), 0x1f7fffff, SUBSIDY, NULL, 0, 1);
    submit_fail(&b, ERR_BAD_BITS, "bits 0x1f7fffff");
    b = mkblock_full(&G, 1, 1, ts_at(1), 0x207ffffe, SUBSIDY, NULL, 0, 2);
    submit_fail(&b, ERR_BAD_BITS, "bits 0x207ffffe");
    cr_assert_null(chain_lookup(C, &b.hash));
    b = mkblock_full(&G, 1, 1, ts_at(1), BITS, SUBSIDY, NULL, 0, 3);
    submit_ok(&b, CHAIN_TIP);
}

static uint64_t median_of(const uint64_t *ts, size_t upto /* inclusive */)
{
    uint64_t w[11];
    size_t n = 0;
    for (size_t i = upto + 1; i-- > 0 && n < 11;)
        w[n++] = ts[i];
    for (size_t i = 1; i < n; i++) /* insertion sort */
        for (size_t j = i; j > 0 && w[j - 1] > w[j]; j--) {
            uint64_t t = w[j];
            w[j] = w[j - 1];
            w[j - 1] = t;
        }
    return w[n / 2];
}

Test(chain, rejects_timestamp_not_after_median)
{
    /* timestamps that step back now and then but stay above the median */
    uint64_t ts[16];
    ts[0] = GT;
    for (uint64_t h = 1; h < 14; h++)
        ts[h] = GT + 60 * h;
    ts[8] = GT + 380;  /* before block 7 */
    ts[10] = GT + 361; /* before blocks 7..9 */
    for (uint64_t h = 1; h < 14; h++) {
        const chain_entry_t *tip = chain_tip(C);
        uint64_t m = median_of(ts, (size_t)h - 1);
        cr_assert_eq(chain_median_time(tip), m, "median at %llu", (unsigned long long)h - 1);
        cr_assert(ts[h] > m);
        /* at the median: refused; one second later: accepted */
        blk_t bad = mkblock_full(&tip->hash, h, h, m, BITS, SUBSIDY, NULL, 0, 100 + h);
        submit_fail(&bad, ERR_BAD_TIMESTAMP, "timestamp = median");
        if (m > GT) {
            blk_t worse = mkblock_full(&tip->hash, h, h, m - 1, BITS, SUBSIDY, NULL, 0, 200 + h);
            submit_fail(&worse, ERR_BAD_TIMESTAMP, "timestamp < median");
        }
        blk_t ok = mkblock_full(&tip->hash, h, h, h % 4 == 0 ? m + 1 : ts[h], BITS, SUBSIDY,
                                NULL, 0, h);
        if (h % 4 == 0)
            ts[h] = m + 1;
        submit_ok(&ok, CHAIN_TIP);
    }
    cr_assert_eq(chain_median_time(chain_tip(C)), median_of(ts, 13));
}

Test(chain, rejects_timestamp_in_the_future)
{
    uint64_t now = GT + 100000;
    blk_t b = mkblock_full(&G, 1, 1, now + 7201, BITS, SUBSIDY, NULL, 0, 1);
    submit_fail_at(&b, now, ERR_BAD_TIMESTAMP, "now + 2 h + 1 s");
    /* not remembered as invalid: later, when its time has come, it is fine */
    cr_assert_null(chain_lookup(C, &b.hash));
    blk_t ok = mkblock_full(&G, 1, 1, now + 7200, BITS, SUBSIDY, NULL, 0, 2);
    chain_status_t st;
    err_t e;
    cr_assert_eq(submit_at(&ok, now, &st, &e), 0, "%s", e.message);
    cr_assert_eq(st, CHAIN_TIP);
    blk_t later = mkblock_full(&ok.hash, 2, 2, now + 7201, BITS, SUBSIDY, NULL, 0, 3);
    cr_assert_eq(submit_at(&later, now + 1, &st, &e), 0, "%s", e.message);
    cr_assert_eq(chain_tip(C)->height, 2);
}

Test(chain, rejects_wrong_coinbase_height)
{
    blk_t b = mkblock_full(&G, 1, 2, ts_at(1), BITS, SUBSIDY, NULL, 0, 1);
    submit_fail(&b, ERR_BAD_COINBASE, "coinbase height 2 at height 1");
    b = mkblock_full(&G, 1, 0, ts_at(1), BITS, SUBSIDY, NULL, 0, 2);
    submit_fail(&b, ERR_BAD_COINBASE, "coinbase height 0 at height 1");
    blk_t b1 = mkblock(&G, 1, NULL, 0, 0, 3);
    submit_ok(&b1, CHAIN_TIP);
    b = mkblock_full(&b1.hash, 2, 1, ts_at(2), BITS, SUBSIDY, NULL, 0, 4);
    submit_fail(&b, ERR_BAD_COINBASE, "coinbase height 1 at height 2");
}

Test(chain, rejects_coinbase_over_subsidy_and_fees)
{
    blk_t b = mkblock(&G, 1, NULL, 0, 1, 1); /* subsidy + 1 without fees */
    submit_fail(&b, ERR_BAD_COINBASE, "subsidy + 1");
    const amount_t fee = 12345;
    rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 3 * COIN, fee);
    b = mkblock(&G, 1, &t, 1, fee + 1, 2);
    submit_fail(&b, ERR_BAD_COINBASE, "subsidy + fees + 1");
    blk_t ok = mkblock(&G, 1, &t, 1, fee, 3);
    submit_ok(&ok, CHAIN_TIP);
    store_coin_t coin;
    uint8_t script[SCRIPT_MAX_SIZE];
    cr_assert(get_coin(&ok.cb, 0, &coin, script));
    cr_assert_eq(coin.amount, SUBSIDY + fee);
    cr_assert(get_coin(&t.txid, 0, &coin, script));
    cr_assert_eq(coin.amount, 3 * COIN);
    cr_assert(get_coin(&t.txid, 1, &coin, script));
    cr_assert_eq(coin.amount, 40 * COIN - 3 * COIN - fee);
    cr_assert_not(get_coin(&GTX, 0, &coin, script));
    /* a coinbase may also claim less */
    blk_t less = mkblock_full(&ok.hash, 2, 2, ts_at(2), BITS, SUBSIDY - 1, NULL, 0, 4);
    submit_ok(&less, CHAIN_TIP);
    verify_state();
}

Test(chain, rejects_unknown_and_doubly_spent_outputs)
{
    hash32_t nowhere;
    memset(nowhere.b, 0x5a, 32);
    in_t in = {nowhere, 0, &albert};
    out_t out = {COIN, &bertrand.pkh};
    rtx_t t = tb_mktx(&in, 1, &out, 1, -1);
    blk_t b = mkblock(&G, 1, &t, 1, 0, 1);
    submit_fail(&b, ERR_UNKNOWN_UTXO, "an unknown txid");
    t = tb_pay(&GTX, 4, 40 * COIN, &albert, &bertrand.pkh, COIN, 0);
    b = mkblock(&G, 1, &t, 1, 0, 2);
    submit_fail(&b, ERR_UNKNOWN_UTXO, "an index beyond the genesis outputs");

    /* one output spent by two transactions of a block */
    rtx_t two[2] = {tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 0),
                    tb_pay(&GTX, 0, 40 * COIN, &albert, &camille.pkh, COIN, 0)};
    b = mkblock(&G, 1, two, 2, 0, 3);
    mp_buf_t before = snapshot();
    chain_status_t st;
    err_t e;
    int rc = submit_at(&b, NOW, &st, &e);
    cr_assert(rc == -(int)ERR_UNKNOWN_UTXO || rc == -(int)ERR_DUPLICATE_INPUT,
              "rc %d (%s)", rc, rc < 0 ? err_str(e.code) : "accepted");
    assert_same_snapshot(&before, "a double spend inside a block");
    mp_buf_free(&before);

    /* one output spent twice by one transaction */
    in_t dup[2] = {{GTX, 2, &camille}, {GTX, 2, &camille}};
    out_t o2 = {15 * COIN, &albert.pkh};
    rtx_t d = tb_mktx(dup, 2, &o2, 1, -1);
    b = mkblock(&G, 1, &d, 1, 0, 4);
    submit_fail(&b, ERR_DUPLICATE_INPUT, "an input spent twice in a tx");

    /* each alone is fine; a later block spending the same output again is not */
    blk_t ok = mkblock(&G, 1, &two[0], 1, 0, 5);
    submit_ok(&ok, CHAIN_TIP);
    b = mkblock(&ok.hash, 2, &two[1], 1, 0, 6);
    submit_fail(&b, ERR_UNKNOWN_UTXO, "spending a spent output");
    /* but a transaction may spend an output made earlier in its own block */
    rtx_t p1 = tb_pay(&GTX, 3, 5 * COIN, &camille, &stranger.pkh, 2 * COIN, 1000);
    rtx_t p2 = tb_pay(&p1.txid, 0, 2 * COIN, &stranger, &albert.pkh, COIN, 1000);
    rtx_t chained[2] = {p1, p2};
    b = mkblock(&ok.hash, 2, chained, 2, 2000, 7);
    submit_ok(&b, CHAIN_TIP);
    store_coin_t coin;
    uint8_t script[SCRIPT_MAX_SIZE];
    cr_assert_not(get_coin(&p1.txid, 0, &coin, script));
    cr_assert(get_coin(&p2.txid, 0, &coin, script));
    verify_state();
    /* in the wrong order it is not */
    rtx_t q1 = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &stranger.pkh, 2 * COIN, 1000);
    rtx_t q2 = tb_pay(&q1.txid, 0, 2 * COIN, &stranger, &albert.pkh, COIN, 1000);
    rtx_t wrong[2] = {q2, q1};
    blk_t w = mkblock(&b.hash, 3, wrong, 2, 2000, 8);
    submit_fail(&w, ERR_UNKNOWN_UTXO, "spending an output made later in the block");
}

Test(chain, coinbase_maturity)
{
    blk_t b1 = mkblock(&G, 1, NULL, 0, 0, 1);
    submit_ok(&b1, CHAIN_TIP);
    rtx_t spend = tb_pay(&b1.cb, 0, SUBSIDY, &miner, &albert.pkh, SUBSIDY / 2, 1000);
    blk_t early = mkblock(&b1.hash, 2, &spend, 1, 1000, 2);
    submit_fail(&early, ERR_IMMATURE_COINBASE, "a coinbase spent one block later");
    blk_t b2 = mkblock(&b1.hash, 2, NULL, 0, 0, 3);
    submit_ok(&b2, CHAIN_TIP);
    /* the b2 coinbase is still immature at height 3; b1's is mature */
    rtx_t spend2 = tb_pay(&b2.cb, 0, SUBSIDY, &miner, &albert.pkh, SUBSIDY / 2, 1000);
    blk_t early2 = mkblock(&b2.hash, 3, &spend2, 1, 1000, 4);
    submit_fail(&early2, ERR_IMMATURE_COINBASE, "b2's coinbase at height 3");
    blk_t b3 = mkblock(&b2.hash, 3, &spend, 1, 1000, 5);
    submit_ok(&b3, CHAIN_TIP);
    store_coin_t coin;
    uint8_t script[SCRIPT_MAX_SIZE];
    cr_assert_not(get_coin(&b1.cb, 0, &coin, script));
    cr_assert(get_coin(&spend.txid, 0, &coin, script));
    cr_assert_eq(coin.amount, SUBSIDY / 2);
    cr_assert_not(coin.coinbase);
    cr_assert_eq(coin.height, 3);
    verify_state();
}

Test(chain, rejects_bad_signatures)
{
    in_t in = {GTX, 0, &albert};
    out_t outs[2] = {{COIN, &bertrand.pkh}, {39 * COIN, &albert.pkh}};
    rtx_t forged = tb_mktx(&in, 1, outs, 2, 0);
    blk_t b = mkblock(&G, 1, &forged, 1, 0, 1);
    submit_fail(&b, ERR_SCRIPT_FAILED, "a forged signature");
    /* a valid signature by bertrand over albert's coin */
    in_t theft = {GTX, 0, &bertrand};
    rtx_t stolen = tb_mktx(&theft, 1, outs, 2, -1);
    b = mkblock(&G, 1, &stolen, 1, 0, 2);
    submit_fail(&b, ERR_SCRIPT_FAILED, "another owner's key");
    /* a valid signature of another transaction: albert's own, outputs changed */
    rtx_t honest = tb_mktx(&in, 1, outs, 2, -1);
    tx_t tx;
    err_t e;
    cr_assert_eq(tx_decode(&tx, honest.raw, honest.len, &e), 0);
    mp_buf_t rb;
    mp_buf_init(&rb, TX_MAX_SIZE);
    tx.outputs[0].amount = 3 * COIN;
    tx.outputs[1].amount = 37 * COIN;
    cr_assert_eq(tx_encode(&tx, &rb, false), 0);
    tx_free(&tx);
    rtx_t replay = {tb_keep(rb.data), rb.len, {{0}}};
    b = mkblock(&G, 1, &replay, 1, 0, 3);
    submit_fail(&b, ERR_SCRIPT_FAILED, "a signature over other outputs");

    /* many inputs: the parallel path (more than one chunk of jobs) */
    out_t split[40];
    for (int i = 0; i < 40; i++)
        split[i] = (out_t){COIN - 10000, &stranger.pkh};
    rtx_t fan = tb_mktx(&in, 1, split, 40, -1);
    blk_t b1 = mkblock(&G, 1, &fan, 1, 40 * 10000, 4);
    submit_ok(&b1, CHAIN_TIP);
    rtx_t spends[40];
    for (uint32_t i = 0; i < 40; i++) {
        in_t si = {fan.txid, i, &stranger};
        out_t so = {COIN - 20000, &camille.pkh};
        spends[i] = tb_mktx(&si, 1, &so, 1, i == 33 ? 0 : -1);
    }
    b = mkblock(&b1.hash, 2, spends, 40, 40 * 10000, 5);
    submit_fail(&b, ERR_SCRIPT_FAILED, "one forged signature among 40");
    spends[33] = tb_mktx(&(in_t){fan.txid, 33, &stranger}, 1, &(out_t){COIN - 20000, &camille.pkh},
                      1, -1);
    b = mkblock(&b1.hash, 2, spends, 40, 40 * 10000, 6);
    submit_ok(&b, CHAIN_TIP);
    verify_state();
}

Test(chain, rejects_outputs_over_inputs)
{
    in_t in = {GTX, 0, &albert};
    out_t outs[2] = {{COIN, &bertrand.pkh}, {39 * COIN + 1, &albert.pkh}};
    rtx_t t = tb_mktx(&in, 1, outs, 2, -1);
    blk_t b = mkblock(&G, 1, &t, 1, 0, 1);
    submit_fail(&b, ERR_INSUFFICIENT_FUNDS, "outputs one unit over the input");
    outs[1].amount = 39 * COIN;
    t = tb_mktx(&in, 1, outs, 2, -1);
    b = mkblock(&G, 1, &t, 1, 0, 2);
    submit_ok(&b, CHAIN_TIP);
}

/* --- prefetch: signatures checked before their block is connected --------- */

static uint64_t cache_hits(void)
{
    uint64_t hits, misses;
    size_t entries;
    sigcache_stats(cache, &hits, &misses, &entries);
    return hits;
}

/* b1 fans albert's coin out to 40 of stranger's; b2 spends all 40 (one
 * forged when forge >= 0). */
static void fan_and_spend(blk_t *b1, blk_t *b2, int forge)
{
    in_t in = {GTX, 0, &albert};
    out_t split[40];
    for (int i = 0; i < 40; i++)
        split[i] = (out_t){COIN - 10000, &stranger.pkh};
    rtx_t fan = tb_mktx(&in, 1, split, 40, -1);
    *b1 = mkblock(&G, 1, &fan, 1, 40 * 10000, 1);
    rtx_t spends[40];
    for (uint32_t i = 0; i < 40; i++) {
        in_t si = {fan.txid, i, &stranger};
        out_t so = {COIN - 20000, &camille.pkh};
        spends[i] = tb_mktx(&si, 1, &so, 1, (int)i == forge ? 0 : -1);
    }
    *b2 = mkblock(&b1->hash, 2, spends, 40, 40 * 10000, forge >= 0 ? 3 : 2);
}

Test(chain, prefetch_takes_the_next_blocks_and_their_checks_hit_the_cache)
{
    blk_t b1, b2;
    fan_and_spend(&b1, &b2, -1);
    hash32_t h1, h2, h;
    cr_assert_eq(chain_prefetch(C, b2.data, b2.len, NULL, &h), -(int)ERR_ORPHAN,
                 "a block not on the tip, with no `after`");
    cr_assert(hash32_eq(&h, &b2.hash));
    cr_assert_eq(chain_prefetch(C, b1.data, b1.len, NULL, &h1), 0);
    cr_assert(hash32_eq(&h1, &b1.hash));
    cr_assert_eq(chain_prefetch(C, b2.data, b2.len, &h1, &h2), 0, "the block after b1");
    cr_assert_eq(chain_prefetch(C, b2.data, b2.len, &h1, &h2), 0, "offered twice: still next");
    uint8_t junk[] = {0x93, 0x01, 0x02};
    cr_assert_lt(chain_prefetch(C, junk, sizeof junk, NULL, &h), 0, "undecodable");
    /* a block failing a context-free check gets none of its signatures checked */
    uint8_t *bad = tb_keep(malloc(b1.len));
    cr_assert_not_null(bad);
    memcpy(bad, b1.data, b1.len);
    bad[BLOCK_HEADER_LEN / 2] ^= 1; /* inside the header: merkle root or hash broken */
    cr_assert_lt(chain_prefetch(C, bad, b1.len, NULL, &h), 0);
    /* the pool checks the two blocks' 41 signatures into the cache by itself,
     * before either is submitted */
    size_t entries = 0;
    for (int i = 0; i < 500 && entries < 41; i++) {
        uint64_t hits, misses;
        sigcache_stats(cache, &hits, &misses, &entries);
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    }
    cr_assert_eq(entries, 41, "the pool cached %zu of the 41 prefetched signatures", entries);

    uint64_t before = cache_hits();
    submit_ok(&b1, CHAIN_TIP);
    submit_ok(&b2, CHAIN_TIP);
    /* 41 signatures; a check a pool thread still had in hand when the block
     * connected is done again (at most one a thread, two threads) */
    cr_assert_geq(cache_hits() - before, 41 - 2, "only %llu of 41 checks hit the cache",
                  (unsigned long long)(cache_hits() - before));
    cr_assert_eq(chain_prefetch(C, b2.data, b2.len, NULL, &h), -(int)ERR_KNOWN);
    verify_state();
}

/* The phases of connecting (chain_phases): nothing counted while off; on,
 * every phase the path goes through is counted, and the phases, all on the
 * caller's thread, add up to no more than its wall time. */
Test(chain, phases_are_zero_when_off_and_add_up_when_on)
{
    blk_t b1, b2;
    fan_and_spend(&b1, &b2, -1);
    chain_phases_t ph;
    submit_ok(&b1, CHAIN_TIP);
    chain_phases(C, &ph);
    for (int i = 0; i < CHAIN_PHASES; i++)
        cr_assert_eq(ph.ns[i], 0, "phase %s counted while off", chain_phase_name(i));
    cr_assert_eq(ph.blocks + ph.txs, 0);

    chain_phases_enable(C, true);
    uint64_t t0 = clock_ns();
    hash32_t h;
    cr_assert_eq(chain_prefetch(C, b2.data, b2.len, NULL, &h), 0);
    submit_ok(&b2, CHAIN_TIP);
    uint64_t wall = clock_ns() - t0, sum = 0;
    chain_phases(C, &ph);
    cr_assert_eq(ph.blocks, 1);
    cr_assert_eq(ph.txs, 41);
    for (int i = 0; i < CHAIN_PHASES; i++) {
        sum += ph.ns[i];
        /* the pool's threads may have done all of the block's signatures */
        if (i != CHAIN_PHASE_SIG_HELP && i != CHAIN_PHASE_POOL_WAIT)
            cr_assert_gt(ph.ns[i], 0, "phase %s not counted", chain_phase_name(i));
    }
    cr_assert_leq(sum, wall, "phases sum to %llu ns, more than the %llu ns they ran in",
                  (unsigned long long)sum, (unsigned long long)wall);

    chain_phases_enable(C, false);
    chain_phases(C, &ph);
    cr_assert_eq(ph.blocks + ph.ns[CHAIN_PHASE_DECODE], 0, "off starts from zero again");
    verify_state();
}

/* A prefetched block stays decoded for its submission, but only the very
 * same bytes reuse that decoding: a block with the same header and other
 * transactions is decoded and checked anew, and refused. */
Test(chain, prefetched_decoding_serves_only_the_same_bytes)
{
    blk_t b1, b2;
    fan_and_spend(&b1, &b2, -1);
    hash32_t h;
    cr_assert_eq(chain_prefetch(C, b1.data, b1.len, NULL, &h), 0);
    uint8_t *other = tb_keep(malloc(b1.len));
    cr_assert_not_null(other);
    memcpy(other, b1.data, b1.len);
    other[b1.len - 1] ^= 1; /* the last transaction's last byte: same header */
    chain_status_t st;
    err_t e = {0};
    cr_assert_lt(chain_submit_block(C, other, b1.len, NOW, &st, &h, &e), 0,
                 "other bytes under a prefetched header were taken");
    cr_assert_eq(chain_tip(C)->height, 0);
    submit_ok(&b1, CHAIN_TIP);
    cr_assert_eq(chain_prefetch(C, b2.data, b2.len, NULL, &h), 0);
    submit_ok(&b2, CHAIN_TIP);
    verify_state();
}

/* A block on the tip that breaks a header rule gets none of its signatures
 * checked, whether read ahead or submitted. */
Test(chain, no_signature_checks_for_a_block_with_the_wrong_bits)
{
    rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    /* valid proof of work for its own (harder) bits, but not the bits due */
    blk_t b = mkblock_full(&G, 1, 1, ts_at(1), 0x2000ffffu, SUBSIDY + 10000, &t, 1, 7);
    hash32_t h;
    cr_assert_eq(chain_prefetch(C, b.data, b.len, NULL, &h), -(int)ERR_BAD_BITS);
    submit_fail(&b, ERR_BAD_BITS, "bits other than the tip's child must carry");
    /* a check queued on the pool would have run by now (one takes ~0.1 ms) */
    nanosleep(&(struct timespec){0, 200 * 1000000}, NULL);
    uint64_t hits, misses;
    size_t entries;
    sigcache_stats(cache, &hits, &misses, &entries);
    cr_assert_eq(misses, 0, "%llu signatures checked for a block refused on its header",
                 (unsigned long long)misses);
    cr_assert_eq(entries, 0);
}

Test(chain, prefetched_signatures_prove_nothing_on_their_own)
{
    /* a valid signature by the wrong key is cached, yet the script (its
     * HASH160 against the coin's pubkey hash) still refuses the spend */
    out_t outs[1] = {{COIN, &bertrand.pkh}};
    rtx_t theft = tb_mktx(&(in_t){GTX, 0, &bertrand}, 1, outs, 1, -1);
    blk_t b0 = mkblock(&G, 1, &theft, 1, 0, 9);
    hash32_t h;
    cr_assert_eq(chain_prefetch(C, b0.data, b0.len, NULL, &h), 0);
    submit_fail(&b0, ERR_SCRIPT_FAILED, "a prefetched spend signed by another owner");

    /* a forged signature is not cached: the block fails its script check */
    blk_t b1, b2;
    fan_and_spend(&b1, &b2, 17);
    hash32_t h1, h2;
    cr_assert_eq(chain_prefetch(C, b1.data, b1.len, NULL, &h1), 0);
    cr_assert_eq(chain_prefetch(C, b2.data, b2.len, &h1, &h2), 0);
    submit_ok(&b1, CHAIN_TIP);
    submit_fail(&b2, ERR_SCRIPT_FAILED, "a prefetched block with a forged signature");
    verify_state();
}

/* A branch A of 3 blocks and a heavier branch B of 4 from the same fork, with
 * conflicting spends, chained spends and coinbase spends on both sides. */
Test(chain, reorganisation_matches_recomputation)
{
    rtx_t c_tx = tb_pay(&GTX, 3, 5 * COIN, &camille, &albert.pkh, COIN, 1000);
    blk_t c1 = mkblock(&G, 1, &c_tx, 1, 1000, 1);
    submit_ok(&c1, CHAIN_TIP);

    /* branch A */
    rtx_t a_t1 = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 10 * COIN, 1000);
    rtx_t a_t2 = tb_pay(&a_t1.txid, 0, 10 * COIN, &bertrand, &camille.pkh, 4 * COIN, 1000);
    rtx_t a2_txs[2] = {a_t1, a_t2};
    blk_t a2 = mkblock(&c1.hash, 2, a2_txs, 2, 2000, 2);
    rtx_t a_t3 = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &camille.pkh, 3 * COIN, 1000);
    rtx_t a_t4 = tb_pay(&c1.cb, 0, SUBSIDY + 1000, &miner, &stranger.pkh, COIN, 1000);
    rtx_t a3_txs[2] = {a_t3, a_t4};
    blk_t a3 = mkblock(&a2.hash, 3, a3_txs, 2, 2000, 3);
    blk_t a4 = mkblock(&a3.hash, 4, NULL, 0, 0, 4);

    /* branch B */
    rtx_t b_t1 = tb_pay(&GTX, 0, 40 * COIN, &albert, &camille.pkh, 20 * COIN, 2000);
    blk_t b2 = mkblock(&c1.hash, 2, &b_t1, 1, 2000, 12);
    rtx_t b_t2 = tb_pay(&c1.cb, 0, SUBSIDY + 1000, &miner, &bertrand.pkh, 2 * COIN, 3000);
    blk_t b3 = mkblock(&b2.hash, 3, &b_t2, 1, 3000, 13);
    rtx_t b_t3 = tb_pay(&b_t1.txid, 0, 20 * COIN, &camille, &stranger.pkh, 5 * COIN, 1000);
    rtx_t b_t4 = tb_pay(&b2.cb, 0, SUBSIDY + 2000, &miner, &albert.pkh, COIN, 1000);
    rtx_t b4_txs[2] = {b_t3, b_t4};
    blk_t b4 = mkblock(&b3.hash, 4, b4_txs, 2, 2000, 14);
    blk_t b5 = mkblock(&b4.hash, 5, NULL, 0, 0, 15);

    set_hooks();
    submit_ok(&a2, CHAIN_TIP);
    submit_ok(&a3, CHAIN_TIP);
    submit_ok(&a4, CHAIN_TIP);
    cr_assert_eq(n_events, 3);
    expect_event(0, 'c', &a2);
    expect_event(1, 'c', &a3);
    expect_event(2, 'c', &a4);
    verify_state();
    mp_buf_t on_a = snapshot();

    n_events = 0;
    submit_ok(&b2, CHAIN_SIDE);
    submit_ok(&b3, CHAIN_SIDE);
    submit_ok(&b4, CHAIN_SIDE); /* equal work: the first seen stays */
    cr_assert_eq(n_events, 0);
    assert_same_snapshot(&on_a, "side blocks");
    cr_assert(hash32_eq(&chain_tip(C)->hash, &a4.hash));

    submit_ok(&b5, CHAIN_TIP);
    cr_assert_eq(chain_tip(C)->height, 5);
    /* hooks: A off from the tip down, then B on from the fork up */
    cr_assert_eq(n_events, 7, "%zu hook calls", n_events);
    expect_event(0, 'd', &a4);
    expect_event(1, 'd', &a3);
    expect_event(2, 'd', &a2);
    expect_event(3, 'c', &b2);
    expect_event(4, 'c', &b3);
    expect_event(5, 'c', &b4);
    expect_event(6, 'c', &b5);
    cr_assert(chain_is_main(C, chain_lookup(C, &b2.hash)));
    cr_assert_not(chain_is_main(C, chain_lookup(C, &a2.hash)));
    cr_assert_eq(chain_at(C, 1), chain_lookup(C, &c1.hash));
    verify_state();

    /* spot checks of what the recomputation also says */
    store_coin_t coin;
    uint8_t script[SCRIPT_MAX_SIZE];
    cr_assert_not(get_coin(&a_t1.txid, 0, &coin, script));
    cr_assert_not(get_coin(&a_t1.txid, 1, &coin, script));
    cr_assert_not(get_coin(&a_t2.txid, 0, &coin, script));
    cr_assert_not(get_coin(&a3.cb, 0, &coin, script));
    cr_assert(get_coin(&GTX, 1, &coin, script), "a_t3 undone: bertrand's allocation is back");
    cr_assert_eq(coin.amount, 30 * COIN);
    cr_assert_eq(coin.height, 0);
    cr_assert_not(coin.coinbase);
    cr_assert(get_coin(&b_t3.txid, 0, &coin, script));
    cr_assert_eq(coin.amount, 5 * COIN);
    cr_assert_eq(coin.height, 4);
    cr_assert(get_coin(&c_tx.txid, 0, &coin, script));
    cr_assert_not(get_coin(&c1.cb, 0, &coin, script));

    /* and back: A grows heavier again (its blocks were valid) */
    blk_t a5 = mkblock(&a4.hash, 5, NULL, 0, 0, 5);
    blk_t a6 = mkblock(&a5.hash, 6, NULL, 0, 0, 6);
    n_events = 0;
    submit_ok(&a5, CHAIN_SIDE);
    submit_ok(&a6, CHAIN_TIP);
    cr_assert_eq(n_events, 9);
    expect_event(0, 'd', &b5);
    expect_event(1, 'd', &b4);
    expect_event(2, 'd', &b3);
    expect_event(3, 'd', &b2);
    expect_event(4, 'c', &a2);
    expect_event(5, 'c', &a3);
    expect_event(6, 'c', &a4);
    expect_event(7, 'c', &a5);
    expect_event(8, 'c', &a6);
    verify_state();
    cr_assert(get_coin(&a_t2.txid, 0, &coin, script));
    cr_assert_eq(coin.amount, 4 * COIN);
    cr_assert_not(get_coin(&b_t1.txid, 0, &coin, script));
    mp_buf_free(&on_a);
}

/* A heavier branch whose second block is invalid: the chain goes back to the
 * valid branch, and the invalid block and its descendants are refused after. */
Test(chain, invalid_block_deep_in_a_branch)
{
    blk_t m1 = mkblock(&G, 1, NULL, 0, 0, 1);
    submit_ok(&m1, CHAIN_TIP);
    rtx_t mt = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 1000);
    blk_t m2 = mkblock(&m1.hash, 2, &mt, 1, 1000, 2);
    submit_ok(&m2, CHAIN_TIP);
    mp_buf_t before = snapshot();

    rtx_t good = tb_pay(&GTX, 0, 40 * COIN, &albert, &camille.pkh, COIN, 1000);
    blk_t v1 = mkblock(&G, 1, &good, 1, 1000, 11);
    in_t in = {GTX, 2, &camille};
    out_t out = {9 * COIN, &stranger.pkh};
    rtx_t forged = tb_mktx(&in, 1, &out, 1, 0);
    blk_t x2 = mkblock(&v1.hash, 2, &forged, 1, COIN, 12);
    blk_t v3 = mkblock(&x2.hash, 3, NULL, 0, 0, 13);
    blk_t v4 = mkblock(&v3.hash, 4, NULL, 0, 0, 14);

    submit_ok(&v1, CHAIN_SIDE);
    submit_ok(&x2, CHAIN_SIDE); /* equal work: not validated yet */
    set_hooks();
    chain_status_t st;
    err_t e;
    int rc = submit_at(&v3, NOW, &st, &e);
    cr_assert_lt(rc, 0, "a branch through an invalid block was accepted");
    cr_assert_eq(e.code, ERR_SCRIPT_FAILED, "%s", err_str(e.code));
    /* went over to v1, failed at x2, came back */
    cr_assert(hash32_eq(&chain_tip(C)->hash, &m2.hash));
    cr_assert_eq(n_events, 6, "%zu hook calls", n_events);
    expect_event(0, 'd', &m2);
    expect_event(1, 'd', &m1);
    expect_event(2, 'c', &v1);
    expect_event(3, 'd', &v1);
    expect_event(4, 'c', &m1);
    expect_event(5, 'c', &m2);
    assert_same_snapshot(&before, "a failed reorganisation");
    verify_state();
    cr_assert(chain_lookup(C, &x2.hash)->status & STORE_INVALID);
    cr_assert_not(chain_lookup(C, &v1.hash)->status & STORE_INVALID);

    /* later: the invalid block, its child and a new grandchild are refused at
     * once, without touching the main chain */
    n_events = 0;
    submit_fail(&x2, ERR_BAD_PREVIOUS, "a block known to be invalid");
    submit_fail(&v3, ERR_BAD_PREVIOUS, "a child of an invalid block, again");
    submit_fail(&v4, ERR_BAD_PREVIOUS, "a grandchild of an invalid block");
    cr_assert_eq(n_events, 0, "a known-invalid branch was tried again");

    /* the valid branch goes on */
    blk_t m3 = mkblock(&m2.hash, 3, NULL, 0, 0, 3);
    submit_ok(&m3, CHAIN_TIP);
    verify_state();

    /* a direct child of the tip that is invalid: the chain stays */
    mp_buf_free(&before);
    before = snapshot();
    rtx_t theft = tb_mktx(&(in_t){GTX, 2, &bertrand}, 1, &out, 1, -1);
    blk_t y4 = mkblock(&m3.hash, 4, &theft, 1, COIN, 4);
    submit_fail(&y4, ERR_SCRIPT_FAILED, "an invalid child of the tip");
    cr_assert(chain_lookup(C, &y4.hash)->status & STORE_INVALID);
    submit_fail(&y4, ERR_BAD_PREVIOUS, "the same block again");
    blk_t y5 = mkblock(&y4.hash, 5, NULL, 0, 0, 5);
    submit_fail(&y5, ERR_BAD_PREVIOUS, "a child of the invalid block");
    mp_buf_free(&before);

    /* a heavier branch whose valid part becomes the tip before its bad block */
    blk_t w4 = mkblock(&m3.hash, 4, NULL, 0, 0, 24);
    submit_ok(&w4, CHAIN_TIP);
    blk_t z4 = mkblock(&m3.hash, 4, NULL, 0, 0, 34);
    submit_ok(&z4, CHAIN_SIDE);
    blk_t z5 = mkblock(&z4.hash, 5, NULL, 0, 0, 35);
    submit_ok(&z5, CHAIN_TIP);
    before = snapshot();
    blk_t z6 = mkblock(&z5.hash, 6, &theft, 1, COIN, 36);
    submit_fail(&z6, ERR_SCRIPT_FAILED, "an invalid block on the new tip");
    cr_assert(hash32_eq(&chain_tip(C)->hash, &z5.hash));
    verify_state();
    mp_buf_free(&before);
}

/* One write a block, whatever becomes of it: a block on the tip is stored
 * in its connect's own write (each commit is a sync of the data). */
Test(chain, a_block_costs_one_commit)
{
    store_t *s = chain_store(C);
    uint64_t n = store_commits(s);
    blk_t b1 = extend(1, 1);
    cr_assert_eq(store_commits(s) - n, 1, "a block on the tip: %llu commits",
                 (unsigned long long)(store_commits(s) - n));
    n = store_commits(s);
    blk_t s1 = mkblock(&G, 1, NULL, 0, 0, 2);
    submit_ok(&s1, CHAIN_SIDE);
    cr_assert_eq(store_commits(s) - n, 1, "a side block");
    /* a block on the tip that breaks a rule: its verdict, with its bytes */
    n = store_commits(s);
    in_t in = {GTX, 2, &bertrand};
    out_t out = {COIN, &stranger.pkh};
    rtx_t theft = tb_mktx(&in, 1, &out, 1, -1);
    blk_t bad = mkblock(&b1.hash, 2, &theft, 1, 0, 3);
    submit_fail(&bad, ERR_SCRIPT_FAILED, "an invalid block");
    cr_assert_eq(store_commits(s) - n, 1, "an invalid block");
    const uint8_t *raw;
    size_t len;
    err_t e;
    store_read_t *r = read_begin();
    cr_assert_eq(store_get_block(r, &bad.hash, &raw, &len, &e), 0, "the invalid block's bytes");
    store_read_end(&r);
    cr_assert(chain_lookup(C, &bad.hash)->status & STORE_INVALID);
    verify_state();
}

Test(chain, reopen_keeps_tip_and_coins)
{
    rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 7 * COIN, 5000);
    blk_t b1 = mkblock(&G, 1, &t, 1, 5000, 1);
    submit_ok(&b1, CHAIN_TIP);
    blk_t s1 = mkblock(&G, 1, NULL, 0, 0, 2);
    submit_ok(&s1, CHAIN_SIDE);
    blk_t b2 = extend(1, 3);
    in_t in = {GTX, 2, &bertrand};
    out_t out = {COIN, &stranger.pkh};
    rtx_t theft = tb_mktx(&in, 1, &out, 1, -1);
    blk_t bad = mkblock(&b2.hash, 3, &theft, 1, 9 * COIN, 4);
    submit_fail(&bad, ERR_SCRIPT_FAILED, "an invalid block");
    verify_state();
    mp_buf_t before = snapshot();
    u256_t work = chain_tip(C)->chainwork;

    chain_close(&C);
    open_chain();
    assert_same_snapshot(&before, "close and open");
    cr_assert(hash32_eq(&chain_tip(C)->hash, &b2.hash));
    cr_assert_eq(chain_tip(C)->height, 2);
    cr_assert_eq(u256_cmp(&chain_tip(C)->chainwork, &work), 0);
    cr_assert_eq(chain_at(C, 1), chain_lookup(C, &b1.hash));
    const chain_entry_t *side = chain_lookup(C, &s1.hash);
    cr_assert_not_null(side);
    cr_assert_not(chain_is_main(C, side));
    cr_assert_eq(side->parent, chain_at(C, 0));
    cr_assert_eq(chain_median_time(chain_tip(C)), GT + 60);
    verify_state();
    /* what was learnt is kept: the side block is known, the bad one invalid */
    submit_ok(&s1, CHAIN_KNOWN);
    submit_fail(&bad, ERR_BAD_PREVIOUS, "an invalid block after a restart");
    /* and it goes on */
    blk_t b3 = extend(1, 6);
    cr_assert_eq(b3.height, 3);
    verify_state();
    mp_buf_free(&before);
}

/* --- the hook inside a block's write ------------------------------------------- */

static struct {
    bool fail;
    size_t n;
    char kind[16];
    hash32_t hash[16];
} W;

/* Sees the block's own changes in w (the tip, its coinbase coin or its
 * absence), records the step, and fails when told to. */
static int on_writing(void *ctx, store_write_t *w, const block_t *b, const chain_entry_t *entry,
                      bool connect, err_t *e)
{
    cr_assert_eq(ctx, (void *)&events);
    store_read_t *r = store_write_reader(w);
    hash32_t tip;
    store_coin_t coin;
    err_t ge;
    cr_assert_eq(store_get_tip(r, &tip, NULL, &ge), 0, "%s", ge.message);
    cr_assert(hash32_eq(&tip, connect ? &entry->hash : &entry->parent->hash));
    cr_assert_eq(store_get_coin(r, &b->txids[0], 0, &coin, &ge), connect ? 0 : -(int)ERR_NOT_FOUND);
    cr_assert(W.n < 16);
    W.kind[W.n] = connect ? 'c' : 'd';
    W.hash[W.n++] = entry->hash;
    return W.fail ? err_set(e, ERR_BAD_POW, "the hook refuses") : 0;
}

Test(chain, writing_hook_commits_with_the_block_or_not_at_all)
{
    chain_hooks_t h = {.connected = on_conn, .disconnected = on_disc, .writing = on_writing,
                       .ctx = &events};
    chain_set_hooks(C, &h);
    blk_t b1 = extend(1, 1);
    cr_assert(W.n == 1 && W.kind[0] == 'c' && hash32_eq(&W.hash[0], &b1.hash));

    /* a failing hook: the block's write is dropped, as a store failure */
    W.fail = true;
    blk_t b2 = mkblock(&b1.hash, 2, NULL, 0, 0, 2);
    mp_buf_t before = snapshot();
    chain_status_t st;
    err_t e;
    cr_assert_eq(submit_at(&b2, NOW, &st, &e), -(int)ERR_INTERNAL);
    cr_assert_eq(e.code, ERR_INTERNAL, "the hook's failure is the store's");
    assert_same_snapshot(&before, "a failing hook");
    mp_buf_free(&before);
    cr_assert(hash32_eq(&chain_tip(C)->hash, &b1.hash));
    /* stored in its connect's write, the block went with it: no verdict,
     * no trace, and it may come again */
    cr_assert_null(chain_lookup(C, &b2.hash), "a block whose write failed stays indexed");
    verify_state();

    /* the hook works again: a child waits for it, then comes in with it */
    W.fail = false;
    W.n = 0;
    blk_t b3 = mkblock(&b2.hash, 3, NULL, 0, 0, 3);
    submit_ok(&b3, CHAIN_ORPHAN);
    cr_assert_eq(submit_at(&b2, NOW, &st, &e), 0, "%s", e.message);
    cr_assert(W.n == 2 && hash32_eq(&W.hash[0], &b2.hash) && hash32_eq(&W.hash[1], &b3.hash));
    cr_assert(hash32_eq(&chain_tip(C)->hash, &b3.hash));

    /* a heavier branch from b1: b3 and b2 leave (in that order), the branch joins */
    W.n = 0;
    blk_t s2 = mkblock(&b1.hash, 2, NULL, 0, 0, 12);
    submit_ok(&s2, CHAIN_SIDE);
    blk_t s3 = mkblock(&s2.hash, 3, NULL, 0, 0, 13);
    submit_ok(&s3, CHAIN_SIDE);
    blk_t s4 = mkblock(&s3.hash, 4, NULL, 0, 0, 14);
    submit_ok(&s4, CHAIN_TIP);
    cr_assert_eq(W.n, 5);
    cr_assert(strncmp(W.kind, "ddccc", 5) == 0, "steps %.5s", W.kind);
    cr_assert(hash32_eq(&W.hash[0], &b3.hash) && hash32_eq(&W.hash[1], &b2.hash));
    cr_assert(hash32_eq(&W.hash[4], &s4.hash));
    verify_state();
}
