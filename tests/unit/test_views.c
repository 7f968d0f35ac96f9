/* views.h: every JSON view of the HTTP API, field by field, from values
 * built here (no store, no node). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "builder.h"
#include "hex.h"
#include "jsonfmt.h"
#include "pow.h"
#include "script.h"
#include "views.h"

static const char *str(const json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    cr_assert_not_null(s, "\"%s\" is not a string", key);
    return s;
}

static json_int_t num(const json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    cr_assert(json_is_integer(v), "\"%s\" is not an integer", key);
    return json_integer_value(v);
}

static bool flag(const json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    cr_assert(json_is_boolean(v), "\"%s\" is not a boolean", key);
    return json_is_true(v);
}

static void hash_is(const json_t *j, const char *key, const hash32_t *h)
{
    char hex[65];
    hex_encode(hex, h->b, 32);
    cr_assert_str_eq(str(j, key), hex, "\"%s\"", key);
}

typedef struct {
    mp_buf_t raw;
    block_t b;
    hash32_t hash;
} gen_t;

static void genesis(gen_t *g)
{
    err_t e;
    mp_buf_init(&g->raw, BLOCK_MAX_SIZE);
    cr_assert_eq(params_genesis_encode(params_by_name("regtest"), &g->raw), 0);
    cr_assert_eq(block_decode(&g->b, g->raw.data, g->raw.len, &e), 0, "%s", e.message);
    block_header_hash(&g->hash, &g->b.header);
}

static void gen_free(gen_t *g)
{
    block_free(&g->b);
    mp_buf_free(&g->raw);
}

Test(views, blocks)
{
    gen_t g;
    genesis(&g);
    views_block_meta_t m = {.height = 7, .main_chain = false, .size = g.raw.len};
    json_t *j = views_block(&g.b, &m);
    cr_assert_not_null(j);
    cr_assert_not(flag(j, "main_chain"));
    json_t *h = json_object_get(j, "header");
    cr_assert_eq(num(h, "height"), 7);
    hash_is(h, "hash", &g.hash);
    cr_assert_eq(json_array_size(json_object_get(j, "transactions")), 1);
    cr_assert_eq(num(j, "size"), (json_int_t)g.raw.len);
    cr_assert_eq(num(j, "tx_count"), 1);
    cr_assert(json_is_null(json_object_get(j, "next_block_hash")));
    json_decref(j);
    m = (views_block_meta_t){.height = 0, .main_chain = true, .size = 9, .has_next = true,
                             .next = {{0x5e}}};
    j = views_block(&g.b, &m);
    cr_assert(flag(j, "main_chain"));
    hash_is(j, "next_block_hash", &m.next);
    json_decref(j);
    /* a page of its transactions: the header and the same facts, no list but the page */
    json_t *txs = json_array();
    j = views_block_txs(&g.b.header, &g.hash, 12, &m, 25, txs);
    hash_is(json_object_get(j, "header"), "hash", &g.hash);
    cr_assert_eq(num(json_object_get(j, "header"), "height"), 0);
    hash_is(j, "hash", &g.hash);
    cr_assert_eq(num(j, "height"), 0);
    cr_assert(flag(j, "main_chain"));
    cr_assert_eq(num(j, "size"), 9);
    cr_assert_eq(num(j, "tx_count"), 12);
    cr_assert_eq(num(j, "offset"), 25);
    hash_is(j, "next_block_hash", &m.next);
    cr_assert_eq(json_object_get(j, "transactions"), txs);
    cr_assert_eq(json_object_size(j), 9);
    json_decref(j);
    /* a summary */
    store_block_info_t info = {g.raw.len, 1};
    const chain_params_t *p = params_by_name("regtest");
    j = views_block_summary(&g.b.header, &g.hash, 3, &info, p);
    cr_assert_eq(num(j, "height"), 3);
    hash_is(j, "hash", &g.hash);
    cr_assert_eq(num(j, "timestamp"), (json_int_t)g.b.header.timestamp);
    cr_assert_eq(num(j, "tx_count"), 1);
    cr_assert_eq(num(j, "size"), (json_int_t)g.raw.len);
    cr_assert_eq(num(j, "bits"), (json_int_t)g.b.header.bits);
    cr_assert_float_eq(json_number_value(json_object_get(j, "difficulty")), 1.0, 1e-12);
    json_t *page = views_blocks_page(json_pack("[o]", j), true, 2);
    cr_assert_eq(json_array_size(json_object_get(page, "blocks")), 1);
    cr_assert_eq(num(page, "next"), 2);
    json_decref(page);
    page = views_blocks_page(json_array(), false, 0);
    cr_assert(json_is_null(json_object_get(page, "next")));
    json_decref(page);

    j = views_block_hex(&g.hash, 0, true, g.raw.data, g.raw.len);
    hash_is(j, "hash", &g.hash);
    cr_assert_eq(num(j, "height"), 0);
    cr_assert(flag(j, "main_chain"));
    char *hex = malloc(2 * g.raw.len + 1);
    hex_encode(hex, g.raw.data, g.raw.len);
    cr_assert_str_eq(str(j, "hex"), hex);
    cr_assert_eq(json_object_size(j), 4);
    free(hex);
    json_decref(j);
    gen_free(&g);
}

Test(views, transactions)
{
    gen_t g;
    genesis(&g);
    store_tx_loc_t loc = {.block = g.hash, .height = 3};
    views_spender_t none[4] = {{0}};
    json_t *j = views_chain_tx(views_tx(&g.b.txs[0], &g.b.txids[0], 9, NULL, none, 0x57), &loc,
                               5);
    hash_is(j, "transaction_hash", &g.b.txids[0]);
    hash_is(j, "block_hash", &g.hash);
    cr_assert_eq(num(j, "height"), 3);
    cr_assert_eq(num(j, "confirmations"), 3);
    cr_assert_not(flag(j, "in_mempool"), "in_mempool is always there");
    json_decref(j);
    j = views_chain_tx(views_tx(&g.b.txs[0], &g.b.txids[0], 9, NULL, none, 0x57), &loc, 2);
    cr_assert_eq(num(j, "confirmations"), 0); /* a tip below (a race) */
    json_decref(j);
    j = views_mempool_tx(views_tx(&g.b.txs[0], &g.b.txids[0], 9, NULL, none, 0x57), false);
    cr_assert(flag(j, "in_mempool"));
    cr_assert_eq(num(j, "confirmations"), 0);
    cr_assert_null(json_object_get(j, "block_hash"));
    json_decref(j);
    gen_free(&g);
}

/* A transaction spending two coins (a P2PKH one of albert's, one with a
 * script of another form) to a P2PKH output and a data output. */
Test(views, a_transaction_with_its_coins_and_spenders)
{
    tb_wallet_t albert;
    tb_demo_wallet(&albert, "albert");
    uint8_t lock[SCRIPT_P2PKH_LOCK_LEN], odd[3] = {0x01, 0x07, 0x87}, data[1] = {0x6a};
    script_p2pkh_lock(lock, &albert.pkh);
    tx_input_t in[2] = {{.prev_txid = {{0x11}}, .index = 0}, {.prev_txid = {{0x22}}, .index = 5}};
    tx_output_t out[2] = {{700, lock, sizeof lock}, {0, data, 1}};
    tx_t tx = {.version = 1, .n_inputs = 2, .inputs = in, .n_outputs = 2, .outputs = out};
    hash32_t txid = {{0x33}};
    store_coin_t coins[2] = {{1000, 4, false, lock, sizeof lock}, {250, 2, true, odd, 3}};
    views_spender_t sp[2] = {{true, true, {{0x44}}, 1}, {false, false, {{0}}, 0}};
    json_t *j = views_tx(&tx, &txid, 200, coins, sp, 0x57);
    cr_assert_not_null(j);
    hash_is(j, "transaction_hash", &txid);
    cr_assert_eq(num(j, "size"), 200);
    cr_assert_not(flag(j, "coinbase"));
    cr_assert_eq(num(j, "fee"), 1250 - 700);
    cr_assert_float_eq(json_real_value(json_object_get(j, "fee_rate")), 550.0 / 200, 1e-12);
    char addr[ADDRESS_MAX];
    address_encode(addr, 0x57, &albert.pkh);
    json_t *i0 = json_array_get(json_object_get(j, "inputs"), 0);
    json_t *i1 = json_array_get(json_object_get(j, "inputs"), 1);
    json_t *s0 = json_object_get(i0, "spent_output"), *s1 = json_object_get(i1, "spent_output");
    cr_assert_str_eq(str(s0, "address"), addr);
    cr_assert_eq(num(s0, "amount"), 1000);
    cr_assert_str_eq(str(s0, "locking_script"), str(json_array_get(json_object_get(j,
                                                                   "outputs"), 0),
                                                    "locking_script"));
    cr_assert(json_is_null(json_object_get(s1, "address")), "not P2PKH: no address");
    cr_assert_eq(num(s1, "amount"), 250);
    cr_assert_str_eq(str(s1, "locking_script"), "07 OP_EQUAL");
    json_t *o0 = json_array_get(json_object_get(j, "outputs"), 0);
    json_t *o1 = json_array_get(json_object_get(j, "outputs"), 1);
    cr_assert_str_eq(str(o0, "address"), addr);
    json_t *by = json_object_get(o0, "spent_by");
    hash_is(by, "transaction_hash", &sp[0].txid);
    cr_assert_eq(num(by, "input_index"), 1);
    cr_assert(flag(by, "in_mempool"));
    cr_assert(json_is_null(json_object_get(o1, "address")));
    cr_assert(json_is_null(json_object_get(o1, "spent_by")));
    json_decref(j);
    /* coins unknown (a block off the main chain): no spent outputs, no fee */
    j = views_tx(&tx, &txid, 200, NULL, sp, 0x57);
    cr_assert(json_is_null(json_object_get(j, "fee")));
    cr_assert(json_is_null(json_object_get(j, "fee_rate")));
    cr_assert(json_is_null(json_object_get(json_array_get(json_object_get(j, "inputs"), 1),
                                           "spent_output")));
    json_decref(j);
}

Test(views, a_coinbase_has_no_fee_and_spends_nothing)
{
    gen_t g;
    genesis(&g);
    views_spender_t sp[4] = {{0}};
    store_coin_t ignored[1] = {{0}};
    json_t *j = views_tx(&g.b.txs[0], &g.b.txids[0], 300, ignored, sp, 0x57);
    cr_assert(flag(j, "coinbase"));
    cr_assert(json_is_null(json_object_get(j, "fee")));
    cr_assert(json_is_null(json_object_get(j, "fee_rate")));
    cr_assert(json_is_null(json_object_get(json_array_get(json_object_get(j, "inputs"), 0),
                                           "spent_output")));
    cr_assert_eq(json_array_size(json_object_get(j, "outputs")), 4);
    json_decref(j);
    gen_free(&g);
}

Test(views, mempool_histogram_recent_address_history_search)
{
    const uint64_t edges[3] = {0, 10, 50}, count[3] = {1, 2, 3}, bytes[3] = {100, 200, 300};
    json_t *j = views_histogram(edges, 3, count, bytes);
    cr_assert_eq(num(j, "count"), 6);
    cr_assert_eq(num(j, "bytes"), 600);
    json_t *b = json_object_get(j, "buckets");
    cr_assert_eq(json_array_size(b), 3);
    cr_assert_eq(num(json_array_get(b, 1), "fee_rate_min"), 10);
    cr_assert_eq(num(json_array_get(b, 1), "fee_rate_max"), 50);
    cr_assert_eq(num(json_array_get(b, 1), "count"), 2);
    cr_assert_eq(num(json_array_get(b, 1), "bytes"), 200);
    cr_assert(json_is_null(json_object_get(json_array_get(b, 2), "fee_rate_max")));
    json_decref(j);

    node_mempool_item_t items[1] = {{{{7}}, 250, 5000, false, 1700000000}};
    j = views_recent(items, 1);
    json_t *t = json_array_get(json_object_get(j, "transactions"), 0);
    hash_is(t, "transaction_hash", &items[0].txid);
    cr_assert_eq(num(t, "size"), 250);
    cr_assert_eq(num(t, "fee"), 5000);
    cr_assert_eq(num(t, "time"), 1700000000);
    cr_assert_float_eq(json_real_value(json_object_get(t, "fee_rate")), 20.0, 1e-12);
    json_decref(j);

    hash32_t txid = {{9}}, block = {{8}};
    json_t *pending = views_address_tx(&txid, 5, 0, NULL, 0, 0);
    cr_assert(json_is_null(json_object_get(pending, "height")));
    cr_assert(json_is_null(json_object_get(pending, "block_hash")));
    cr_assert(json_is_null(json_object_get(pending, "timestamp")));
    cr_assert_eq(num(pending, "received"), 5);
    cr_assert_eq(num(pending, "sent"), 0);
    json_t *mined = views_address_tx(&txid, 0, 7, &block, 12, 1600000000);
    cr_assert_eq(num(mined, "height"), 12);
    hash_is(mined, "block_hash", &block);
    cr_assert_eq(num(mined, "timestamp"), 1600000000);
    cr_assert_eq(num(mined, "sent"), 7);
    j = views_address_page("cAddr", json_pack("[oo]", pending, mined), "c12.0");
    cr_assert_str_eq(str(j, "address"), "cAddr");
    cr_assert_eq(json_array_size(json_object_get(j, "transactions")), 2);
    cr_assert_str_eq(str(j, "next_cursor"), "c12.0");
    json_decref(j);
    j = views_address_page("cAddr", json_array(), NULL);
    cr_assert(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);

    uint64_t h = 4;
    j = views_search("4", "block", "ab", &h);
    cr_assert_str_eq(str(j, "query"), "4");
    cr_assert_str_eq(str(j, "kind"), "block");
    cr_assert_str_eq(str(j, "id"), "ab");
    cr_assert_eq(num(j, "height"), 4);
    json_decref(j);
    j = views_search("<b>", NULL, NULL, NULL);
    cr_assert_str_eq(str(j, "query"), "<b>");
    cr_assert(json_is_null(json_object_get(j, "kind")) && json_is_null(json_object_get(j, "id")) &&
              json_is_null(json_object_get(j, "height")));
    json_decref(j);
}

Test(views, coins_and_utxo_answers)
{
    store_outpoint_t op = {{{0xaa}}, 3};
    const uint8_t script[1] = {0x6a};
    store_coin_t c = {(amount_t)INT64_MAX + 5, 9, true, script, 1};
    json_t *coin = views_coin(&op, &c, false);
    hash_is(coin, "transaction_hash", &op.txid);
    cr_assert_eq(num(coin, "output_index"), 3);
    cr_assert_eq(num(coin, "amount"), INT64_MAX, "past int64: clamped, never negative");
    cr_assert_eq(num(coin, "height"), 9);
    cr_assert(flag(coin, "coinbase"));
    cr_assert_null(json_object_get(coin, "spent_in_mempool"));
    json_t *spent = views_coin(&op, &c, true);
    cr_assert(flag(spent, "spent_in_mempool"));
    json_decref(spent);
    json_t *list = json_array();
    json_array_append_new(list, coin);
    json_t *j = views_utxo("albert", "cAddr", 42, list, false);
    cr_assert_str_eq(str(j, "user"), "albert");
    cr_assert_str_eq(str(j, "address"), "cAddr");
    cr_assert_eq(num(j, "total"), 42);
    cr_assert_eq(json_object_get(j, "utxos"), list);
    cr_assert_null(json_object_get(j, "truncated"));
    json_decref(j);
    j = views_utxo("u", "a", 0, json_array(), true);
    cr_assert(flag(j, "truncated"));
    json_decref(j);

    store_utxo_stats_t st = {4, 8500000000u, {{0x0f}}};
    hash32_t tip = {{0xcd}};
    j = views_utxo_set(12, &tip, &st);
    cr_assert_eq(num(j, "height"), 12);
    hash_is(j, "tip", &tip);
    cr_assert_eq(num(j, "count"), 4);
    cr_assert_eq(num(j, "total"), 8500000000);
    cr_assert_str_eq(str(j, "digest"),
                     "0f00000000000000000000000000000000000000000000000000000000000000");
    json_decref(j);
}

Test(views, mempool_list)
{
    node_mempool_item_t items[2] = {{{{1}}, 200, 4000, true, 0}, {{{2}}, 100, 1000, false, 0}};
    json_t *j = views_mempool(items, 2);
    cr_assert_eq(json_array_size(j), 2);
    json_t *a = json_array_get(j, 0), *b = json_array_get(j, 1);
    hash_is(a, "transaction_hash", &items[0].txid);
    cr_assert_eq(num(a, "size"), 200);
    cr_assert_eq(num(a, "fee"), 4000);
    cr_assert_eq(json_real_value(json_object_get(a, "fee_rate")), 20.0);
    cr_assert(flag(a, "unbroadcast"));
    hash_is(b, "transaction_hash", &items[1].txid);
    cr_assert_eq(json_real_value(json_object_get(b, "fee_rate")), 10.0);
    cr_assert_null(json_object_get(b, "unbroadcast"), "a broadcast entry says so");
    json_decref(j);
    j = views_mempool(NULL, 0);
    cr_assert(json_is_array(j) && json_array_size(j) == 0);
    json_decref(j);
}

Test(views, peers_report)
{
    mp_buf_t b;
    mp_buf_init(&b, 4096);
    mp_put_array(&b, 3);
    mp_put_map(&b, 4);
    mp_put_cstr(&b, "addr");
    mp_put_cstr(&b, "10.0.0.1:9333");
    mp_put_cstr(&b, "height");
    mp_put_uint(&b, 17);
    mp_put_cstr(&b, "inbound");
    mp_put_bool(&b, true);
    mp_put_cstr(&b, "score"); /* a field the view does not show */
    mp_put_uint(&b, 3);
    mp_put_map(&b, 1); /* no addr: left out */
    mp_put_cstr(&b, "height");
    mp_put_uint(&b, 1);
    mp_put_map(&b, 1);
    mp_put_cstr(&b, "addr");
    mp_put_cstr(&b, "peer:1");
    json_t *j = views_peers(b.data, b.len);
    cr_assert_eq(json_array_size(j), 2);
    json_t *p = json_array_get(j, 0);
    cr_assert_str_eq(str(p, "hostname"), "10.0.0.1:9333");
    cr_assert_eq(num(p, "height"), 17);
    cr_assert(flag(p, "inbound"));
    cr_assert_null(json_object_get(p, "score"));
    p = json_array_get(j, 1);
    cr_assert_str_eq(str(p, "hostname"), "peer:1");
    cr_assert_eq(num(p, "height"), 0);
    cr_assert_not(flag(p, "inbound"));
    json_decref(j);
    /* none yet, or bytes that are no array */
    j = views_peers(NULL, 0);
    cr_assert(json_is_array(j) && json_array_size(j) == 0);
    json_decref(j);
    j = views_peers((const uint8_t *)"\xc1", 1);
    cr_assert(json_is_array(j) && json_array_size(j) == 0);
    json_decref(j);
    /* a truncated element ends the list */
    j = views_peers(b.data, b.len - 3);
    cr_assert_eq(json_array_size(j), 1);
    json_decref(j);
    mp_buf_free(&b);
}

Test(views, status)
{
    const chain_params_t *p = params_by_name("demo");
    node_status_t s = {.height = 5, .hash = {{0xee}}, .chainwork = {{0x1234, 0, 0, 0}},
                       .bits = 0x1e00ffff, .timestamp = 1700000000, .mempool_count = 2,
                       .mempool_bytes = 300, .mempool_parked = 3, .peers = 4, .hashrate = 1000,
                       .orphans = 1};
    json_t *j = views_status(&s, p, "9.9.9");
    cr_assert_str_eq(str(j, "network"), "demo");
    cr_assert_eq(num(j, "height"), 5);
    hash_is(j, "tip", &s.hash);
    cr_assert_eq(num(j, "tip_timestamp"), 1700000000);
    cr_assert_eq(num(j, "bits"), 0x1e00ffff);
    cr_assert_eq(json_real_value(json_object_get(j, "difficulty")), 256.0);
    cr_assert_str_eq(str(j, "chainwork"),
                     "0000000000000000000000000000000000000000000000000000000000001234");
    cr_assert_eq(num(j, "mempool_size"), 2);
    cr_assert_eq(num(j, "mempool_bytes"), 300);
    cr_assert_eq(num(j, "mempool_parked"), 3);
    cr_assert_eq(num(j, "peers"), 4);
    cr_assert_eq(num(j, "hashrate"), 1000);
    cr_assert_eq(num(j, "orphans"), 1);
    cr_assert_str_eq(str(j, "version"), "9.9.9");
    cr_assert_eq(json_object_size(j), 14);
    json_decref(j);
}

/* Counts past what JSON's int64 holds show as 2^63 - 1, never negative or
 * wrapped: a saturated hash rate, a height, a header's timestamp. */
Test(views, counts_past_int64_are_clamped)
{
    const chain_params_t *p = params_by_name("demo");
    node_status_t s = {.height = UINT64_MAX, .timestamp = (uint64_t)INT64_MAX + 1,
                       .hashrate = UINT64_MAX, .bits = 0x1e00ffff};
    json_t *j = views_status(&s, p, "9.9.9");
    cr_assert_eq(num(j, "hashrate"), INT64_MAX);
    cr_assert_eq(num(j, "height"), INT64_MAX);
    cr_assert_eq(num(j, "tip_timestamp"), INT64_MAX);
    json_decref(j);
    block_header_t h = {.version = 1, .timestamp = UINT64_MAX, .bits = 0x207fffff};
    j = jsonfmt_header(&h, 3);
    cr_assert_eq(num(j, "timestamp"), INT64_MAX);
    json_decref(j);
}
