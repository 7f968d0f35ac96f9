/* views.h: every JSON view of the HTTP API, field by field, from values
 * built here (no store, no node). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "hex.h"
#include "jsonfmt.h"
#include "pow.h"
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
    json_t *j = views_block(&g.b, 7, false);
    cr_assert_not_null(j);
    cr_assert_not(flag(j, "main_chain"));
    json_t *h = json_object_get(j, "header");
    cr_assert_eq(num(h, "height"), 7);
    hash_is(h, "hash", &g.hash);
    cr_assert_eq(json_array_size(json_object_get(j, "transactions")), 1);
    json_decref(j);

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
    json_t *j = views_chain_tx(&g.b.txs[0], &g.b.txids[0], &loc, 5);
    hash_is(j, "transaction_hash", &g.b.txids[0]);
    hash_is(j, "block_hash", &g.hash);
    cr_assert_eq(num(j, "height"), 3);
    cr_assert_eq(num(j, "confirmations"), 3);
    cr_assert_null(json_object_get(j, "in_mempool"));
    json_decref(j);
    j = views_chain_tx(&g.b.txs[0], &g.b.txids[0], &loc, 2); /* a tip below (a race) */
    cr_assert_eq(num(j, "confirmations"), 0);
    json_decref(j);
    j = views_mempool_tx(&g.b.txs[0], &g.b.txids[0]);
    cr_assert(flag(j, "in_mempool"));
    cr_assert_eq(num(j, "confirmations"), 0);
    cr_assert_null(json_object_get(j, "block_hash"));
    json_decref(j);
    gen_free(&g);
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
    node_mempool_item_t items[2] = {{{{1}}, 200, 4000}, {{{2}}, 100, 1000}};
    json_t *j = views_mempool(items, 2);
    cr_assert_eq(json_array_size(j), 2);
    json_t *a = json_array_get(j, 0), *b = json_array_get(j, 1);
    hash_is(a, "transaction_hash", &items[0].txid);
    cr_assert_eq(num(a, "size"), 200);
    cr_assert_eq(num(a, "fee"), 4000);
    cr_assert_eq(json_real_value(json_object_get(a, "fee_rate")), 20.0);
    hash_is(b, "transaction_hash", &items[1].txid);
    cr_assert_eq(json_real_value(json_object_get(b, "fee_rate")), 10.0);
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
                       .mempool_bytes = 300, .peers = 4, .hashrate = 1000, .orphans = 1};
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
    cr_assert_eq(num(j, "peers"), 4);
    cr_assert_eq(num(j, "hashrate"), 1000);
    cr_assert_eq(num(j, "orphans"), 1);
    cr_assert_str_eq(str(j, "version"), "9.9.9");
    cr_assert_eq(json_object_size(j), 13);
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
