/* api.h: every handler in process against a node (no HTTP: http.c and
 * tests/integration/test_http.c do the transport). The arguments and query
 * parameters each route takes, their bounds and their malformed forms, the
 * POST bodies' forms (hex, JSON, neither, both, mistyped, oversized), a
 * resubmission, a held answer settled or refused, the cached UTXO digest,
 * and that a rejected request changes nothing. The answers' fields are
 * test_views.c's. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "api.h"
#include "builder.h"
#include "fixture.h"
#include "hex.h"
#include "jsonfmt.h"
#include "log.h"
#include "metrics.h"
#include "node.h"

#define SUBSIDY ((amount_t)625000000)
#define COIN AMOUNT_COIN
#define BITS 0x207fffffu

static const chain_params_t *P;
static char dir[256];
static node_t *N;
static api_t *A;
static hash32_t G, GTX;
static tb_wallet_t albert, bertrand, camille, miner;
/* the chain: genesis, b1 (confirms t1), b2; the mempool: t2 */
static tb_blk_t b1, b2;
static tb_rtx_t t1, t2;
static char b1_hex[65], t1_hex[65], t2_hex[65], albert_addr[ADDRESS_MAX];

static tb_blk_t mkblock(const hash32_t *parent, uint64_t height, const tb_rtx_t *txs, size_t n,
                        amount_t fees, uint64_t tag)
{
    return tb_mkblock(parent, height, height, P->genesis_timestamp + 60 * height + tag, BITS,
                      &miner.pkh, SUBSIDY + fees, txs, n, tag);
}

static void setup(void)
{
    log_init("test", LOG_ERROR);
    P = params_by_name("regtest");
    tb_tmpdir(dir);
    node_config_t cfg = tb_node_config(dir, (size_t)1 << 20);
    tb_node_open(&N, &cfg);
    err_t e;
    cr_assert_eq(api_new(&A, N, "test-1.0", &e), 0, "%s", e.message);
    tb_genesis(P, &G, &GTX);
    tb_demo_wallet(&albert, "albert");
    tb_demo_wallet(&bertrand, "bertrand");
    tb_demo_wallet(&camille, "camille");
    tb_wallet(&miner, 0x11);
    t1 = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    b1 = mkblock(&G, 1, &t1, 1, 10000, 1);
    tb_node_block_ok(N, &b1, CHAIN_TIP);
    b2 = mkblock(&b1.hash, 2, NULL, 0, 0, 2);
    tb_node_block_ok(N, &b2, CHAIN_TIP);
    t2 = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, 2 * COIN, 10000);
    tb_node_submit_ok(N, &t2, 0);
    hex_encode(b1_hex, b1.hash.b, 32);
    hex_encode(t1_hex, t1.txid.b, 32);
    hex_encode(t2_hex, t2.txid.b, 32);
    address_encode(albert_addr, P->address_version, &albert.pkh);
}

static void teardown(void)
{
    api_destroy(&A);
    node_close(&N);
    tb_keep_free();
    tb_rmdir(dir);
}

TestSuite(api, .init = setup, .fini = teardown, .timeout = 60);

/* --- requests -------------------------------------------------------------- */

/* Query parameters as the transport hands them over: a key without "="
 * has a NULL value; len -1 means strlen (others let a value hold a NUL). */
typedef struct {
    const char *key, *value;
    long len;
} kv_t;

#define MAX_KV 2
typedef struct {
    kv_t kv[MAX_KV];
} query_t;

static bool query_of(void *ctx, const char *key, const char **value, size_t *len)
{
    const query_t *q = ctx;
    for (int i = 0; i < MAX_KV && q->kv[i].key; i++)
        if (strcmp(q->kv[i].key, key) == 0) {
            *value = q->kv[i].value;
            *len = !*value ? 0 : q->kv[i].len < 0 ? strlen(*value) : (size_t)q->kv[i].len;
            return true;
        }
    return false;
}

/* What nothing may change: the tip, the mempool, the peers advertised. */
typedef struct {
    node_status_t s;
    int adverts;
} world_t;

static int adverts;

static void count_adverts(void *ctx, const char *topic, const uint8_t *body, size_t len)
{
    (void)ctx, (void)body, (void)len;
    adverts += strcmp(topic, "peer.add") == 0;
}

static world_t world_now(void)
{
    world_t w;
    node_status(N, &w.s);
    w.adverts = adverts;
    return w;
}

static void assert_world_same(const world_t *before, const char *what)
{
    world_t now = world_now();
    cr_assert(now.s.height == before->s.height && hash32_eq(&now.s.hash, &before->s.hash),
              "%s moved the tip", what);
    cr_assert(now.s.mempool_count == before->s.mempool_count &&
              now.s.mempool_bytes == before->s.mempool_bytes, "%s changed the mempool", what);
    cr_assert_eq(now.adverts, before->adverts, "%s advertised a peer", what);
}

/* One call of h; 0 with an answer (released unless *keep is given), or the
 * error code with e. */
typedef struct {
    const char *what;
    api_handler_t h;
    const char *arg;
    query_t q;
    const char *body; /* JSON text, or NULL for a GET */
    err_code_t code;  /* ERR_OK: a 200 answer */
} call_t;

static json_t *body_of(const char *text)
{
    if (!text)
        return NULL;
    json_error_t je;
    /* NULs allowed: a handler takes any object, more than http.c lets by */
    json_t *j = json_loads(text, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
    cr_assert_not_null(j, "a test body that is no JSON: %s", je.text);
    return j;
}

static int call(const call_t *c, api_answer_t *out, err_t *e)
{
    json_t *body = body_of(c->body);
    api_request_t q = {.arg = c->arg, .body = body, .query = query_of,
                       .query_ctx = (void *)&c->q, .http = {.requests = 3}};
    memset(out, 0, sizeof *out);
    *e = (err_t){0};
    int rc = c->h(A, &q, out, e);
    json_decref(body);
    return rc;
}

static void answer_free(api_answer_t *out)
{
    json_decref(out->json);
    free(out->text);
    memset(out, 0, sizeof *out);
}

/* Runs each call: the answer or the refusal it must get, with nothing
 * changed by a refusal. */
static void run_calls(const call_t *calls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const call_t *c = &calls[i];
        world_t before = world_now();
        api_answer_t out;
        err_t e;
        int rc = call(c, &out, &e);
        if (c->code == ERR_OK) {
            cr_assert_eq(rc, 0, "%s: refused with %s: %s", c->what, err_str(e.code), e.message);
            cr_assert_eq(out.status, 200, "%s", c->what);
            cr_assert(out.json || out.text, "%s: an empty answer", c->what);
        } else {
            cr_assert_eq(rc, -(int)c->code, "%s: rc %d (%s), expected %s", c->what, rc,
                         rc < 0 ? e.message : "answered", err_str(c->code));
            cr_assert_eq(e.code, c->code, "%s", c->what);
            cr_assert_gt(strlen(e.message), 0, "%s: no message", c->what);
            cr_assert_null(out.json, "%s: an answer with the error", c->what);
            assert_world_same(&before, c->what);
        }
        answer_free(&out);
    }
}

#define RUN(calls) run_calls(calls, sizeof calls / sizeof calls[0])
#define Q1(k, v) {{{k, v, -1}}}
#define Q2(k1, v1, k2, v2) {{{k1, v1, -1}, {k2, v2, -1}}}
#define NOQ {{{0}}}

static const char hex64_unknown[] = "abababababababababababababababababababababababababababababababab";
static const char hex64_bad[] = "zbababababababababababababababababababababababababababababababab";
static const char hex63[] = "bababababababababababababababababababababababababababababababab";
static const char hex65[] = "ababababababababababababababababababababababababababababababababa";
static const char u64_over[] = "18446744073709551616";

/* --- blocks --------------------------------------------------------------- */

Test(api, the_block_list_and_its_parameters)
{
    const call_t calls[] = {
        {"no parameters", api_get_blocks, NULL, NOQ, NULL, ERR_OK},
        {"limit 1", api_get_blocks, NULL, Q1("limit", "1"), NULL, ERR_OK},
        {"limit at its bound", api_get_blocks, NULL, Q1("limit", "1000"), NULL, ERR_OK},
        {"from above the tip", api_get_blocks, NULL, Q1("from", "99"), NULL, ERR_OK},
        {"limit 0", api_get_blocks, NULL, Q1("limit", "0"), NULL, ERR_BAD_REQUEST},
        {"limit over its bound", api_get_blocks, NULL, Q1("limit", "1001"), NULL, ERR_BAD_REQUEST},
        {"limit negative", api_get_blocks, NULL, Q1("limit", "-1"), NULL, ERR_BAD_REQUEST},
        {"limit not a number", api_get_blocks, NULL, Q1("limit", "ten"), NULL, ERR_BAD_REQUEST},
        {"limit without a value", api_get_blocks, NULL, Q1("limit", NULL), NULL, ERR_BAD_REQUEST},
        {"limit empty", api_get_blocks, NULL, Q1("limit", ""), NULL, ERR_BAD_REQUEST},
        {"limit past 64 bits", api_get_blocks, NULL, Q1("limit", u64_over), NULL,
         ERR_BAD_REQUEST},
        {"from not a number", api_get_blocks, NULL, Q2("limit", "2", "from", "1x"), NULL,
         ERR_BAD_REQUEST},
    };
    RUN(calls);

    /* from 1, two blocks: b1 then the genesis */
    call_t c = {"from 1", api_get_blocks, NULL, Q2("limit", "5", "from", "1"), NULL, ERR_OK};
    api_answer_t out;
    err_t e;
    cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
    cr_assert_eq(json_array_size(out.json), 2);
    json_t *h = json_object_get(json_array_get(out.json, 0), "header");
    cr_assert_str_eq(json_string_value(json_object_get(h, "hash")), b1_hex);
    answer_free(&out);
}

Test(api, a_block_by_height_or_hash)
{
    const call_t calls[] = {
        {"the genesis by height", api_get_block, "0", NOQ, NULL, ERR_OK},
        {"the tip by height", api_get_block, "2", NOQ, NULL, ERR_OK},
        {"b1 by hash", api_get_block, b1_hex, NOQ, NULL, ERR_OK},
        {"as hex", api_get_block, "1", Q1("format", "hex"), NULL, ERR_OK},
        {"as json", api_get_block, "1", Q1("format", "json"), NULL, ERR_OK},
        {"above the tip", api_get_block, "3", NOQ, NULL, ERR_NOT_FOUND},
        {"an unknown hash", api_get_block, hex64_unknown, NOQ, NULL, ERR_NOT_FOUND},
        {"neither hash nor height", api_get_block, "tip", NOQ, NULL, ERR_BAD_REQUEST},
        {"a hash with a non-hex digit", api_get_block, hex64_bad, NOQ, NULL, ERR_BAD_REQUEST},
        {"63 hex digits", api_get_block, hex63, NOQ, NULL, ERR_BAD_REQUEST},
        {"65 hex digits", api_get_block, hex65, NOQ, NULL, ERR_BAD_REQUEST},
        {"nothing", api_get_block, "", NOQ, NULL, ERR_BAD_REQUEST},
        {"a negative height", api_get_block, "-1", NOQ, NULL, ERR_BAD_REQUEST},
        {"a height past 64 bits", api_get_block, u64_over, NOQ, NULL, ERR_BAD_REQUEST},
        {"another format", api_get_block, "1", Q1("format", "xml"), NULL, ERR_BAD_REQUEST},
        {"a format in capitals", api_get_block, "1", Q1("format", "HEX"), NULL, ERR_BAD_REQUEST},
        {"a format without a value", api_get_block, "1", Q1("format", NULL), NULL,
         ERR_BAD_REQUEST},
    };
    RUN(calls);

    /* format=hex gives the block's bytes */
    call_t c = {"hex", api_get_block, b1_hex, Q1("format", "hex"), NULL, ERR_OK};
    api_answer_t out;
    err_t e;
    cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
    const char *hex = json_string_value(json_object_get(out.json, "hex"));
    cr_assert_not_null(hex);
    cr_assert_eq(strlen(hex), 2 * b1.len);
    uint8_t *raw = tb_keep(malloc(b1.len));
    cr_assert_eq(hex_decode(raw, b1.len, hex, 2 * b1.len), (long)b1.len);
    cr_assert(memcmp(raw, b1.data, b1.len) == 0, "other bytes");
    answer_free(&out);

    /* a side block: found by hash, off the main chain, its transactions too */
    tb_blk_t side = mkblock(&G, 1, NULL, 0, 0, 9);
    tb_node_block_ok(N, &side, CHAIN_SIDE);
    char side_hex[65];
    hex_encode(side_hex, side.hash.b, 32);
    const api_handler_t handlers[] = {api_get_block, api_get_block_txs};
    for (int i = 0; i < 2; i++) {
        c = (call_t){"a side block", handlers[i], side_hex, NOQ, NULL, ERR_OK};
        cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
        json_t *mc = json_object_get(out.json, "main_chain");
        cr_assert(json_is_false(mc), "handler %d: a side block on the main chain", i);
        answer_free(&out);
    }
}

Test(api, block_pages_and_summaries)
{
    const call_t calls[] = {
        {"summaries", api_get_summaries, NULL, NOQ, NULL, ERR_OK},
        {"summaries from 1", api_get_summaries, NULL, Q2("from", "1", "limit", "100"), NULL,
         ERR_OK},
        {"summaries, limit 0", api_get_summaries, NULL, Q1("limit", "0"), NULL, ERR_BAD_REQUEST},
        {"summaries over the page bound", api_get_summaries, NULL, Q1("limit", "101"), NULL,
         ERR_BAD_REQUEST},
        {"summaries from junk", api_get_summaries, NULL, Q1("from", "x"), NULL, ERR_BAD_REQUEST},
        {"a block's transactions", api_get_block_txs, "1", NOQ, NULL, ERR_OK},
        {"by hash", api_get_block_txs, b1_hex, Q2("offset", "1", "limit", "100"), NULL, ERR_OK},
        {"an offset past the end", api_get_block_txs, "1", Q1("offset", "1000"), NULL, ERR_OK},
        {"limit 0", api_get_block_txs, "1", Q1("limit", "0"), NULL, ERR_BAD_REQUEST},
        {"limit over the page bound", api_get_block_txs, "1", Q1("limit", "101"), NULL,
         ERR_BAD_REQUEST},
        {"an offset of junk", api_get_block_txs, "1", Q1("offset", "one"), NULL, ERR_BAD_REQUEST},
        {"an unknown block", api_get_block_txs, "7", NOQ, NULL, ERR_NOT_FOUND},
        {"no block name", api_get_block_txs, "zz", NOQ, NULL, ERR_BAD_REQUEST},
    };
    RUN(calls);
}

/* --- transactions and coins ----------------------------------------------- */

Test(api, a_transaction_confirmed_or_pending)
{
    const call_t calls[] = {
        {"confirmed", api_get_tx, t1_hex, NOQ, NULL, ERR_OK},
        {"pending", api_get_tx, t2_hex, NOQ, NULL, ERR_OK},
        {"unknown", api_get_tx, hex64_unknown, NOQ, NULL, ERR_NOT_FOUND},
        {"a block hash is no transaction", api_get_tx, b1_hex, NOQ, NULL, ERR_NOT_FOUND},
        {"a non-hex digit", api_get_tx, hex64_bad, NOQ, NULL, ERR_BAD_REQUEST},
        {"63 digits", api_get_tx, hex63, NOQ, NULL, ERR_BAD_REQUEST},
        {"65 digits", api_get_tx, hex65, NOQ, NULL, ERR_BAD_REQUEST},
        {"a height", api_get_tx, "1", NOQ, NULL, ERR_BAD_REQUEST},
    };
    RUN(calls);
}

Test(api, coins_of_an_address)
{
    char bad_check[ADDRESS_MAX];
    memcpy(bad_check, albert_addr, sizeof bad_check);
    size_t n = strlen(bad_check);
    bad_check[n - 1] = bad_check[n - 1] == '1' ? '2' : '1'; /* the checksum breaks */
    char *longer = tb_keep(malloc(102));
    memset(longer, 'C', 101);
    longer[101] = '\0';
    const call_t calls[] = {
        {"an address", api_get_utxo, albert_addr, NOQ, NULL, ERR_OK},
        {"a broken checksum", api_get_utxo, bad_check, NOQ, NULL, ERR_BAD_ADDRESS},
        {"junk", api_get_utxo, "not-an-address", NOQ, NULL, ERR_BAD_ADDRESS},
        {"nothing", api_get_utxo, "", NOQ, NULL, ERR_BAD_ADDRESS},
        {"over the text bound", api_get_utxo, longer, NOQ, NULL, ERR_BAD_ADDRESS},
    };
    RUN(calls);

    /* what albert holds: 40 coins spent by t1, its change back at height 1 */
    call_t c = calls[0];
    api_answer_t out;
    err_t e;
    cr_assert_eq(call(&c, &out, &e), 0);
    cr_assert_eq(json_integer_value(json_object_get(out.json, "total")),
                 (json_int_t)(39 * COIN - 10000));
    cr_assert_eq(json_array_size(json_object_get(out.json, "utxos")), 1);
    answer_free(&out);
}

Test(api, an_address_history_and_its_cursor)
{
    char long_cursor[64];
    memset(long_cursor, '1', sizeof long_cursor - 1);
    long_cursor[0] = 'c';
    long_cursor[10] = '.';
    long_cursor[sizeof long_cursor - 1] = '\0';
    const call_t calls[] = {
        {"the first page", api_get_address_txs, albert_addr, NOQ, NULL, ERR_OK},
        {"a page of one", api_get_address_txs, albert_addr, Q1("limit", "1"), NULL, ERR_OK},
        {"a mempool cursor", api_get_address_txs, albert_addr, Q1("cursor", "m5.2"), NULL,
         ERR_OK},
        {"a confirmed cursor at its bound", api_get_address_txs, albert_addr,
         Q1("cursor", "c1.4294967295"), NULL, ERR_OK},
        {"a bad address", api_get_address_txs, "x", NOQ, NULL, ERR_BAD_ADDRESS},
        {"limit 0", api_get_address_txs, albert_addr, Q1("limit", "0"), NULL, ERR_BAD_REQUEST},
        {"limit over the page bound", api_get_address_txs, albert_addr, Q1("limit", "101"), NULL,
         ERR_BAD_REQUEST},
        {"an empty cursor", api_get_address_txs, albert_addr, Q1("cursor", ""), NULL,
         ERR_BAD_REQUEST},
        {"a cursor without a value", api_get_address_txs, albert_addr, Q1("cursor", NULL), NULL,
         ERR_BAD_REQUEST},
        {"a cursor of one letter", api_get_address_txs, albert_addr, Q1("cursor", "m"), NULL,
         ERR_BAD_REQUEST},
        {"a cursor without its dot", api_get_address_txs, albert_addr, Q1("cursor", "m12"), NULL,
         ERR_BAD_REQUEST},
        {"a cursor of another kind", api_get_address_txs, albert_addr, Q1("cursor", "x1.2"),
         NULL, ERR_BAD_REQUEST},
        {"a cursor missing a number", api_get_address_txs, albert_addr, Q1("cursor", "m1."),
         NULL, ERR_BAD_REQUEST},
        {"a cursor position past 32 bits", api_get_address_txs, albert_addr,
         Q1("cursor", "c1.4294967296"), NULL, ERR_BAD_REQUEST},
        {"a cursor over its bound", api_get_address_txs, albert_addr, Q1("cursor", long_cursor),
         NULL, ERR_BAD_REQUEST},
    };
    RUN(calls);

    /* pages of one walk the mempool (t2 pays albert), then the chain (t1, genesis) */
    const char *want[] = {t2_hex, t1_hex};
    char cursor[64] = "";
    for (int page = 0; page < 2; page++) {
        call_t c = {"a page", api_get_address_txs, albert_addr,
                    {{{"limit", "1", -1}, {page ? "cursor" : NULL, cursor, -1}}}, NULL, ERR_OK};
        api_answer_t out;
        err_t e;
        cr_assert_eq(call(&c, &out, &e), 0, "page %d: %s", page, e.message);
        json_t *txs = json_object_get(out.json, "transactions");
        cr_assert_eq(json_array_size(txs), 1, "page %d", page);
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(txs, 0),
                                                           "transaction_hash")), want[page],
                         "page %d", page);
        const char *next = json_string_value(json_object_get(out.json, "next_cursor"));
        cr_assert_not_null(next, "page %d has no next cursor", page);
        snprintf(cursor, sizeof cursor, "%s", next);
        answer_free(&out);
    }
}

/* --- the node's state --------------------------------------------------------- */

Test(api, the_node_routes_answer)
{
    const call_t calls[] = {
        {"status", api_get_status, NULL, NOQ, NULL, ERR_OK},
        {"mempool", api_get_mempool, NULL, NOQ, NULL, ERR_OK},
        {"peers", api_get_peers, NULL, NOQ, NULL, ERR_OK},
        {"healthz", api_get_healthz, NULL, NOQ, NULL, ERR_OK},
        {"readyz", api_get_readyz, NULL, NOQ, NULL, ERR_OK},
        {"utxo-set", api_get_utxo_set, NULL, NOQ, NULL, ERR_OK},
        {"histogram", api_get_histogram, NULL, NOQ, NULL, ERR_OK},
        {"recent", api_get_recent, NULL, NOQ, NULL, ERR_OK},
        {"recent at the page bound", api_get_recent, NULL, Q1("limit", "100"), NULL, ERR_OK},
        {"recent, limit 0", api_get_recent, NULL, Q1("limit", "0"), NULL, ERR_BAD_REQUEST},
        {"recent over the page bound", api_get_recent, NULL, Q1("limit", "101"), NULL,
         ERR_BAD_REQUEST},
    };
    RUN(calls);

    api_answer_t out;
    err_t e;
    call_t c = {"status", api_get_status, NULL, NOQ, NULL, ERR_OK};
    cr_assert_eq(call(&c, &out, &e), 0);
    cr_assert_str_eq(json_string_value(json_object_get(out.json, "version")), "test-1.0",
                     "the version is not api_new's");
    answer_free(&out);
    c = (call_t){"readyz", api_get_readyz, NULL, NOQ, NULL, ERR_OK};
    cr_assert_eq(call(&c, &out, &e), 0);
    cr_assert_eq(json_integer_value(json_object_get(out.json, "height")), 2);
    answer_free(&out);
    /* metrics: text, not JSON, with the transport's request count */
    c = (call_t){"metrics", api_get_metrics, NULL, NOQ, NULL, ERR_OK};
    cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
    cr_assert_null(out.json);
    cr_assert_str_eq(out.content_type, METRICS_CONTENT_TYPE);
    cr_assert(out.text && out.text_len > 0 && strlen(out.text) == out.text_len);
    answer_free(&out);
}

/* The digest is computed once a tip: asked again it is the same; a new tip
 * gives another. */
Test(api, the_utxo_digest_follows_the_tip)
{
    call_t c = {"utxo-set", api_get_utxo_set, NULL, NOQ, NULL, ERR_OK};
    api_answer_t out;
    err_t e;
    char *first[2];
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
        first[i] = json_dumps(out.json, JSON_SORT_KEYS);
        answer_free(&out);
    }
    cr_assert_str_eq(first[0], first[1], "two answers at one tip differ");
    cr_assert(strstr(first[0], "\"height\": 2"), "%s", first[0]);
    tb_blk_t b3 = mkblock(&b2.hash, 3, &t2, 1, 10000, 3);
    tb_node_block_ok(N, &b3, CHAIN_TIP);
    cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
    char *next = json_dumps(out.json, JSON_SORT_KEYS);
    answer_free(&out);
    cr_assert_str_neq(next, first[0], "the cached digest outlived its tip");
    cr_assert(strstr(next, "\"height\": 3"), "%s", next);
    free(first[0]);
    free(first[1]);
    free(next);
}

Test(api, search_queries)
{
    char *longer = tb_keep(malloc(102));
    memset(longer, '7', 101);
    longer[101] = '\0';
    const call_t calls[] = {
        {"a height", api_get_search, NULL, Q1("q", "1"), NULL, ERR_OK},
        {"a block hash", api_get_search, NULL, Q1("q", b1_hex), NULL, ERR_OK},
        {"a transaction", api_get_search, NULL, Q1("q", t1_hex), NULL, ERR_OK},
        {"an address", api_get_search, NULL, Q1("q", albert_addr), NULL, ERR_OK},
        {"nothing found", api_get_search, NULL, Q1("q", "hello"), NULL, ERR_OK},
        {"no q", api_get_search, NULL, NOQ, NULL, ERR_BAD_REQUEST},
        {"an empty q", api_get_search, NULL, Q1("q", ""), NULL, ERR_BAD_REQUEST},
        {"q without a value", api_get_search, NULL, Q1("q", NULL), NULL, ERR_BAD_REQUEST},
        {"q over its bound", api_get_search, NULL, Q1("q", longer), NULL, ERR_BAD_REQUEST},
        {"q holding a NUL", api_get_search, NULL, {{{"q", "12\0003", 4}}}, NULL,
         ERR_BAD_REQUEST},
        {"q that is no UTF-8", api_get_search, NULL, Q1("q", "\xff\xfe"), NULL, ERR_BAD_REQUEST},
    };
    RUN(calls);

    /* what each names */
    const struct {
        const char *q, *kind, *id;
    } found[] = {
        {"1", "block", b1_hex},
        {b1_hex, "block", b1_hex},
        {t2_hex, "transaction", t2_hex},
        {albert_addr, "address", albert_addr},
        {"99", NULL, NULL},
        {hex64_unknown, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof found / sizeof found[0]; i++) {
        call_t c = {"search", api_get_search, NULL, Q1("q", found[i].q), NULL, ERR_OK};
        api_answer_t out;
        err_t e;
        cr_assert_eq(call(&c, &out, &e), 0, "%s: %s", found[i].q, e.message);
        const char *kind = json_string_value(json_object_get(out.json, "kind"));
        const char *id = json_string_value(json_object_get(out.json, "id"));
        if (found[i].kind) {
            cr_assert(kind && strcmp(kind, found[i].kind) == 0, "%s: kind %s", found[i].q, kind);
            cr_assert(id && strcmp(id, found[i].id) == 0, "%s: id %s", found[i].q, id);
        } else {
            cr_assert_null(kind, "%s: found a %s", found[i].q, kind);
        }
        answer_free(&out);
    }
}

/* Handlers are thread-safe: threads asking at once all get their answers,
 * and the one UTXO digest. */
enum { THREADS = 4, ROUNDS = 20 };

static void *ask_often(void *arg)
{
    char **digest = arg;
    const call_t calls[] = {
        {"utxo-set", api_get_utxo_set, NULL, NOQ, NULL, ERR_OK},
        {"blocks", api_get_blocks, NULL, NOQ, NULL, ERR_OK},
        {"status", api_get_status, NULL, NOQ, NULL, ERR_OK},
        {"search", api_get_search, NULL, Q1("q", t2_hex), NULL, ERR_OK},
        {"txs", api_get_address_txs, albert_addr, NOQ, NULL, ERR_OK},
    };
    for (int r = 0; r < ROUNDS; r++)
        for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
            api_answer_t out;
            err_t e;
            if (call(&calls[i], &out, &e) < 0 || !out.json)
                return (void *)calls[i].what;
            if (i == 0 && !*digest)
                *digest = json_dumps(out.json, JSON_SORT_KEYS);
            else if (i == 0) {
                char *again = json_dumps(out.json, JSON_SORT_KEYS);
                bool same = again && strcmp(again, *digest) == 0;
                free(again);
                if (!same)
                    return "another utxo-set digest";
            }
            answer_free(&out);
        }
    return NULL;
}

Test(api, handlers_answer_threads_at_once)
{
    pthread_t th[THREADS];
    char *digest[THREADS] = {0};
    for (int t = 0; t < THREADS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, ask_often, &digest[t]), 0);
    for (int t = 0; t < THREADS; t++) {
        void *failed;
        pthread_join(th[t], &failed);
        cr_assert_null(failed, "thread %d: %s", t, (const char *)failed);
    }
    for (int t = 1; t < THREADS; t++)
        cr_assert_str_eq(digest[t], digest[0], "threads saw different digests");
    for (int t = 0; t < THREADS; t++)
        free(digest[t]);
}

/* --- submissions ------------------------------------------------------------------ */

/* {"hex": "<bytes>"} as JSON text, kept. */
static const char *hex_body(const uint8_t *raw, size_t len)
{
    char *text = tb_keep(malloc(2 * len + 16));
    memcpy(text, "{\"hex\": \"", 9);
    hex_encode(text + 9, raw, len);
    strcpy(text + 9 + 2 * len, "\"}");
    return text;
}

/* {"hex": "00..."} of n bytes, kept. */
static const char *zeros_body(size_t n)
{
    char *text = tb_keep(malloc(2 * n + 16));
    memcpy(text, "{\"hex\": \"", 9);
    memset(text + 9, '0', 2 * n);
    strcpy(text + 9 + 2 * n, "\"}");
    return text;
}

Test(api, posted_transactions_in_every_form)
{
    tb_rtx_t t3 = tb_pay(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 10000);
    const call_t calls[] = {
        {"neither hex nor transaction", api_post_tx, NULL, NOQ, "{}", ERR_BAD_REQUEST},
        {"both", api_post_tx, NULL, NOQ, "{\"hex\": \"00\", \"transaction\": {}}",
         ERR_BAD_REQUEST},
        {"hex not a string", api_post_tx, NULL, NOQ, "{\"hex\": 12}", ERR_BAD_REQUEST},
        {"hex null", api_post_tx, NULL, NOQ, "{\"hex\": null}", ERR_BAD_REQUEST},
        {"empty hex", api_post_tx, NULL, NOQ, "{\"hex\": \"\"}", ERR_BAD_ENCODING},
        {"odd hex", api_post_tx, NULL, NOQ, "{\"hex\": \"abc\"}", ERR_BAD_ENCODING},
        {"a non-hex digit", api_post_tx, NULL, NOQ, "{\"hex\": \"zz\"}", ERR_BAD_ENCODING},
        {"a NUL in the hex", api_post_tx, NULL, NOQ, "{\"hex\": \"0\\u00000\"}",
         ERR_BAD_ENCODING},
        {"bytes that are no transaction", api_post_tx, NULL, NOQ, "{\"hex\": \"9301\"}",
         ERR_BAD_ENCODING},
        {"over TX_MAX_SIZE", api_post_tx, NULL, NOQ, zeros_body(TX_MAX_SIZE + 1), ERR_TOO_LARGE},
        {"a transaction that is no object", api_post_tx, NULL, NOQ, "{\"transaction\": 5}",
         ERR_BAD_REQUEST},
        {"a transaction without its fields", api_post_tx, NULL, NOQ, "{\"transaction\": {}}",
         ERR_BAD_REQUEST},
        {"a rule broken: the coin is spent", api_post_tx, NULL, NOQ, hex_body(t1.raw, t1.len),
         ERR_DOUBLE_SPEND},
        {"a new one in hex", api_post_tx, NULL, NOQ, hex_body(t3.raw, t3.len), ERR_OK},
    };
    RUN(calls);

    /* the answer holds its ticket and txid; a resubmission is answered too,
     * "known", with a ticket of its own */
    call_t c = {"again", api_post_tx, NULL, NOQ, hex_body(t3.raw, t3.len), ERR_OK};
    api_answer_t out;
    err_t e;
    cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
    cr_assert(hash32_eq(&out.txid, &t3.txid));
    cr_assert_gt(out.ticket, 0, "a resubmission without a ticket");
    cr_assert(json_is_true(json_object_get(out.json, "known")));
    char hex[65];
    hex_encode(hex, t3.txid.b, 32);
    cr_assert_str_eq(json_string_value(json_object_get(out.json, "transaction_hash")), hex);
    answer_free(&out);
    /* a user's submission joins the unbroadcast set */
    hash32_t unb[4];
    cr_assert_eq(node_unbroadcast(N, unb, 4), 1);
    cr_assert(hash32_eq(&unb[0], &t3.txid));

    /* the JSON form of a transaction */
    tb_rtx_t t4 = tb_pay(&GTX, 3, 5 * COIN, &camille, &bertrand.pkh, COIN, 10000);
    tx_t tx;
    cr_assert_eq(tx_decode(&tx, t4.raw, t4.len, &e), 0);
    json_t *body = json_pack("{s:o}", "transaction", jsonfmt_tx(&tx, &t4.txid));
    tx_free(&tx);
    char *text = json_dumps(body, 0);
    json_decref(body);
    c = (call_t){"the JSON form", api_post_tx, NULL, NOQ, text, ERR_OK};
    cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
    free(text);
    cr_assert(hash32_eq(&out.txid, &t4.txid), "the JSON form encoded to another transaction");
    cr_assert_gt(out.ticket, 0);
    cr_assert_null(json_object_get(out.json, "known"));
    answer_free(&out);
}

/* A held answer is sent as it is while its transaction is pending or
 * confirmed, and becomes a double_spend when it left the mempool. */
Test(api, a_held_answer_is_settled)
{
    tb_rtx_t t3 = tb_pay(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 10000);
    call_t c = {"t3", api_post_tx, NULL, NOQ, hex_body(t3.raw, t3.len), ERR_OK};
    api_answer_t out;
    err_t e;
    cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
    node_wait_durable(N, out.ticket);
    cr_assert_eq(api_settle(A, &out, &e), 0, "%s", e.message);
    cr_assert_not_null(out.json, "a settled answer lost its body");
    answer_free(&out);

    tb_rtx_t t4 = tb_pay(&GTX, 3, 5 * COIN, &camille, &albert.pkh, COIN, 10000);
    c.body = hex_body(t4.raw, t4.len);
    cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
    /* before it is settled, a block spends its coin otherwise */
    tb_rtx_t rival = tb_pay(&GTX, 3, 5 * COIN, &camille, &bertrand.pkh, 2 * COIN, 10000);
    tb_blk_t b3 = mkblock(&b2.hash, 3, &rival, 1, 10000, 3);
    tb_node_block_ok(N, &b3, CHAIN_TIP);
    node_wait_durable(N, out.ticket);
    cr_assert_eq(api_settle(A, &out, &e), -(int)ERR_DOUBLE_SPEND);
    cr_assert_eq(e.code, ERR_DOUBLE_SPEND);
    cr_assert_null(out.json, "the refused answer's body was not released");
    answer_free(&out);
}

Test(api, posted_blocks_in_every_form)
{
    tb_blk_t b3 = mkblock(&b2.hash, 3, NULL, 0, 0, 3);
    tb_blk_t b4 = mkblock(&b3.hash, 4, NULL, 0, 0, 4);
    const call_t calls[] = {
        {"neither hex nor block", api_post_block, NULL, NOQ, "{}", ERR_BAD_REQUEST},
        {"both", api_post_block, NULL, NOQ, "{\"hex\": \"00\", \"block\": {}}", ERR_BAD_REQUEST},
        {"hex not a string", api_post_block, NULL, NOQ, "{\"hex\": []}", ERR_BAD_REQUEST},
        {"odd hex", api_post_block, NULL, NOQ, "{\"hex\": \"0\"}", ERR_BAD_ENCODING},
        {"a non-hex digit", api_post_block, NULL, NOQ, "{\"hex\": \"0g\"}", ERR_BAD_ENCODING},
        {"bytes that are no block", api_post_block, NULL, NOQ, "{\"hex\": \"c0\"}",
         ERR_BAD_ENCODING},
        {"a truncated block", api_post_block, NULL, NOQ, hex_body(b3.data, b3.len - 1),
         ERR_BAD_ENCODING},
        {"over BLOCK_MAX_SIZE", api_post_block, NULL, NOQ, zeros_body(BLOCK_MAX_SIZE + 1),
         ERR_TOO_LARGE},
        {"a block that is no object", api_post_block, NULL, NOQ, "{\"block\": \"b\"}",
         ERR_BAD_REQUEST},
        {"a block without transactions", api_post_block, NULL, NOQ, "{\"block\": {}}",
         ERR_BAD_REQUEST},
    };
    RUN(calls);

    /* hex: a new tip, then known */
    static const char *const statuses[] = {"tip", "known"};
    for (int i = 0; i < 2; i++) {
        call_t c = {"b3", api_post_block, NULL, NOQ, hex_body(b3.data, b3.len), ERR_OK};
        api_answer_t out;
        err_t e;
        cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
        cr_assert_str_eq(json_string_value(json_object_get(out.json, "status")), statuses[i]);
        answer_free(&out);
    }
    /* the JSON form */
    block_t b;
    err_t e;
    cr_assert_eq(block_decode(&b, b4.data, b4.len, &e), 0, "%s", e.message);
    json_t *body = json_pack("{s:o}", "block", jsonfmt_block(&b, -1));
    block_free(&b);
    char *text = json_dumps(body, 0);
    json_decref(body);
    call_t c = {"b4 as JSON", api_post_block, NULL, NOQ, text, ERR_OK};
    api_answer_t out;
    cr_assert_eq(call(&c, &out, &e), 0, "%s", e.message);
    free(text);
    cr_assert_str_eq(json_string_value(json_object_get(out.json, "status")), "tip");
    char hex[65];
    hex_encode(hex, b4.hash.b, 32);
    cr_assert_str_eq(json_string_value(json_object_get(out.json, "hash")), hex);
    answer_free(&out);
}

Test(api, peer_adverts_take_host_and_port_only)
{
    node_set_listener(N, count_adverts, NULL);
    char *at_bound = tb_keep(malloc(300)), *over = tb_keep(malloc(300));
    /* {"hostname": "000...:80"} of 255 and 256 characters */
    snprintf(at_bound, 300, "{\"hostname\": \"%0*d:80\"}", 252, 0);
    snprintf(over, 300, "{\"hostname\": \"%0*d:80\"}", 253, 0);
    const call_t calls[] = {
        {"a host and port", api_post_advert, NULL, NOQ, "{\"hostname\": \"node.example:9333\"}",
         ERR_OK},
        {"an IPv6 host", api_post_advert, NULL, NOQ, "{\"hostname\": \"[::1]:9333\"}", ERR_OK},
        {"the highest port", api_post_advert, NULL, NOQ, "{\"hostname\": \"h:65535\"}", ERR_OK},
        {"255 characters", api_post_advert, NULL, NOQ, at_bound, ERR_OK},
        {"256 characters", api_post_advert, NULL, NOQ, over, ERR_BAD_REQUEST},
        {"no hostname", api_post_advert, NULL, NOQ, "{}", ERR_BAD_REQUEST},
        {"a hostname not a string", api_post_advert, NULL, NOQ, "{\"hostname\": 9333}",
         ERR_BAD_REQUEST},
        {"an empty hostname", api_post_advert, NULL, NOQ, "{\"hostname\": \"\"}", ERR_BAD_REQUEST},
        {"no port", api_post_advert, NULL, NOQ, "{\"hostname\": \"node.example\"}",
         ERR_BAD_REQUEST},
        {"no host", api_post_advert, NULL, NOQ, "{\"hostname\": \":9333\"}", ERR_BAD_REQUEST},
        {"an empty port", api_post_advert, NULL, NOQ, "{\"hostname\": \"h:\"}", ERR_BAD_REQUEST},
        {"port 0", api_post_advert, NULL, NOQ, "{\"hostname\": \"h:0\"}", ERR_BAD_REQUEST},
        {"port 65536", api_post_advert, NULL, NOQ, "{\"hostname\": \"h:65536\"}",
         ERR_BAD_REQUEST},
        {"a signed port", api_post_advert, NULL, NOQ, "{\"hostname\": \"h:+80\"}",
         ERR_BAD_REQUEST},
        {"a space", api_post_advert, NULL, NOQ, "{\"hostname\": \"a b:80\"}", ERR_BAD_REQUEST},
        {"a newline", api_post_advert, NULL, NOQ, "{\"hostname\": \"h:80\\n\"}", ERR_BAD_REQUEST},
        {"a DEL", api_post_advert, NULL, NOQ, "{\"hostname\": \"h\\u007f:80\"}",
         ERR_BAD_REQUEST},
        {"beyond ASCII", api_post_advert, NULL, NOQ, "{\"hostname\": \"h\\u00e9:80\"}",
         ERR_BAD_REQUEST},
    };
    RUN(calls);
    cr_assert_eq(adverts, 4, "%d adverts published for 4 good ones", adverts);
    node_set_listener(N, NULL, NULL);
}

Test(api, new_and_destroy)
{
    api_t *a = NULL;
    err_t e;
    cr_assert_eq(api_new(&a, N, NULL, &e), 0, "no version is an empty one");
    api_request_t q = {0};
    api_answer_t out = {0};
    cr_assert_eq(api_get_status(a, &q, &out, &e), 0);
    cr_assert_str_eq(json_string_value(json_object_get(out.json, "version")), "");
    answer_free(&out);
    api_destroy(&a);
    cr_assert_null(a);
    api_destroy(&a); /* safe on NULL */
    /* no query callback at all: every parameter is absent */
    q.arg = "1";
    cr_assert_eq(api_get_block(A, &q, &out, &e), 0, "%s", e.message);
    answer_free(&out);
}
