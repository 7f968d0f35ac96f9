/* rpc.h: rpc_handle() against a node in process. Each request type reaches
 * its own handler through the dispatch table and is answered with its
 * reply's schema (or an error reply), carrying the request's id; malformed
 * and unknown requests are answered with their error codes. */
#include <criterion/criterion.h>
#include <string.h>

#include "builder.h"
#include "log.h"
#include "node.h"
#include "proto.h"
#include "rpc.h"

static node_t *node;
static char dir[256];
static mp_buf_t req, reply;

static void setup(void)
{
    err_t e;
    log_init("test", LOG_ERROR);
    tb_tmpdir(dir);
    node_config_t cfg = {.params = params_by_name("regtest"), .datadir = dir,
                         .map_size = (size_t)1 << 30, .verify_threads = 1,
                         .mempool_max_bytes = 1 << 24, .min_fee_rate = 10,
                         .sigcache_entries = 1000};
    cr_assert_eq(node_open(&node, &cfg, &e), 0, "%s", e.message);
    mp_buf_init(&req, PROTO_MAX_MSG);
    mp_buf_init(&reply, PROTO_MAX_MSG + 1024);
}

static void teardown(void)
{
    node_close(&node);
    mp_buf_free(&req);
    mp_buf_free(&reply);
    tb_rmdir(dir);
}

TestSuite(rpc, .init = setup, .fini = teardown);

static hash32_t genesis(void)
{
    hash32_t hash, txid;
    tb_genesis(params_by_name("regtest"), &hash, &txid);
    return hash;
}

static void put_hash(const char *key, const hash32_t *h)
{
    mp_put_cstr(&req, key);
    mp_put_bin(&req, h->b, 32);
}

/* The fields of each request, as a client writes them. */
static void w_none(void) {}
static void w_submit(void)
{
    static const uint8_t junk[] = {0x93, 0x01, 0x02};
    mp_put_cstr(&req, proto_schema(PROTO_REQUEST, PROTO_REQ_SUBMIT_TX)->fields[0].key);
    mp_put_bin(&req, junk, sizeof junk);
    mp_put_cstr(&req, "origin");
    mp_put_cstr(&req, "test");
}
static void w_submit_block(void)
{
    static const uint8_t junk[] = {0x93, 0x01, 0x02};
    mp_put_cstr(&req, "block");
    mp_put_bin(&req, junk, sizeof junk);
    mp_put_cstr(&req, "origin");
    mp_put_cstr(&req, "test");
}
static void w_headers(void)
{
    hash32_t g = genesis();
    mp_put_cstr(&req, "locator");
    mp_put_array(&req, 1);
    mp_put_bin(&req, g.b, 32);
    mp_put_cstr(&req, "max");
    mp_put_uint(&req, 10);
}
static void w_genesis_block(void)
{
    hash32_t g = genesis();
    put_hash("hash", &g);
}
static void w_unknown_tx(void)
{
    hash32_t h = {{7}};
    put_hash("txid", &h);
}
static void w_work(void)
{
    uint8_t x[12] = {0}, payout[20] = {0};
    mp_put_cstr(&req, "job_id");
    mp_put_uint(&req, 999);
    mp_put_cstr(&req, "extranonce");
    mp_put_bin(&req, x, sizeof x);
    mp_put_cstr(&req, "timestamp");
    mp_put_uint(&req, 1700000000);
    mp_put_cstr(&req, "nonce");
    mp_put_uint(&req, 1);
    mp_put_cstr(&req, "payout");
    mp_put_bin(&req, payout, sizeof payout);
}
static void w_hashrate(void)
{
    mp_put_cstr(&req, "worker");
    mp_put_cstr(&req, "w1");
    mp_put_cstr(&req, "rate");
    mp_put_uint(&req, 1000);
}
static void w_max(void)
{
    mp_put_cstr(&req, "max");
    mp_put_uint(&req, 10);
}
static void w_txids(void)
{
    hash32_t none = {{0x3c}};
    mp_put_cstr(&req, "txids");
    mp_put_array(&req, 1);
    mp_put_bin(&req, none.b, 32);
}
static void w_peers(void)
{
    mp_put_cstr(&req, "peers");
    mp_put_array(&req, 0);
}

/* Answers and checks one request: the reply answers its id and follows its
 * type's schema; ok, or the error code want. */
static proto_reply_t ask(proto_req_t type, uint64_t id, err_code_t want)
{
    proto_reply_t rep;
    err_t e;
    rpc_handle(node, RPC_LOCAL, req.data, req.len, &reply);
    cr_assert(mp_buf_ok(&reply));
    cr_assert_eq(proto_check(PROTO_OK_REPLY, (int)type, reply.data, reply.len, &e), 0, "%s: %s",
                 proto_req_name(type), e.message);
    cr_assert_eq(proto_decode_reply(&rep, reply.data, reply.len, &e), 0, "%s", e.message);
    cr_assert_eq(rep.id, id);
    cr_assert_eq(rep.ok ? ERR_OK : rep.code, want, "%s answered %s (%s)", proto_req_name(type),
                 rep.ok ? "ok" : err_str(rep.code), rep.message);
    return rep;
}

Test(rpc, every_request_type_reaches_its_handler)
{
    static const struct {
        proto_req_t type;
        void (*write)(void);
        err_code_t want;
        const char *field; /* one the ok reply must hold */
    } cases[] = {
        {PROTO_REQ_GET_TIP, w_none, ERR_OK, "chainwork"},
        {PROTO_REQ_SUBMIT_TX, w_submit, ERR_BAD_ENCODING, NULL},
        {PROTO_REQ_SUBMIT_BLOCK, w_submit_block, ERR_BAD_ENCODING, NULL},
        {PROTO_REQ_GET_HEADERS, w_headers, ERR_OK, "headers"},
        {PROTO_REQ_GET_BLOCK, w_genesis_block, ERR_OK, "block"},
        {PROTO_REQ_GET_TX, w_unknown_tx, ERR_NOT_FOUND, NULL},
        {PROTO_REQ_GET_JOB, w_none, ERR_OK, "merkle_branch"},
        {PROTO_REQ_SUBMIT_WORK, w_work, ERR_NOT_FOUND, NULL},
        {PROTO_REQ_HASHRATE, w_hashrate, ERR_OK, NULL},
        {PROTO_REQ_PEERS, w_peers, ERR_OK, NULL},
        {PROTO_REQ_GET_MEMPOOL, w_max, ERR_OK, "txids"},
        {PROTO_REQ_GET_UNBROADCAST, w_none, ERR_OK, "txids"},
        {PROTO_REQ_MARK_BROADCAST, w_txids, ERR_OK, NULL},
    };
    cr_assert_eq(sizeof cases / sizeof cases[0], PROTO_REQ_COUNT, "a request type untested");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp_buf_reset(&req);
        proto_open_request(&req, cases[i].type, 100 + i);
        cases[i].write();
        proto_reply_t rep = ask(cases[i].type, 100 + i, cases[i].want);
        if (cases[i].field)
            cr_assert(proto_has(&rep.body, cases[i].field), "the reply to %s lacks %s",
                      proto_req_name(cases[i].type), cases[i].field);
    }
    /* what the handlers changed: the hash rate counts, the tip is genesis */
    node_status_t st;
    node_status(node, &st);
    cr_assert_eq(st.hashrate, 1000);
    cr_assert_eq(st.height, 0);
}

Test(rpc, malformed_and_unknown_requests_are_answered_with_their_codes)
{
    static const struct {
        const char *type;
        uint32_t fields;
        err_code_t want;
    } cases[] = {
        {"get_tips", 0, ERR_UNKNOWN_TYPE},
        {"get_block", 0, ERR_BAD_REQUEST}, /* its hash missing */
        {"hello", 0, ERR_UNKNOWN_TYPE},    /* a peer message is no request */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp_buf_reset(&req);
        proto_begin_request(&req, cases[i].type, 7, cases[i].fields);
        ask(PROTO_REQ_GET_TIP, 7, cases[i].want);
    }
    /* not even an envelope */
    mp_buf_reset(&req);
    mp_put_uint(&req, 5);
    rpc_handle(node, RPC_LOCAL, req.data, req.len, &reply);
    proto_reply_t rep;
    err_t e;
    cr_assert_eq(proto_decode_reply(&rep, reply.data, reply.len, &e), 0, "%s", e.message);
    cr_assert(!rep.ok && rep.code == ERR_BAD_ENCODING);
}

/* The role table (DESIGN §1): what each key's role may ask over tcp://;
 * over ipc:// (RPC_LOCAL) everything, without a role nothing. A request type
 * added to proto must be given its roles here and in rpc.c. */
Test(rpc, the_role_table)
{
    static const struct {
        proto_req_t type;
        bool gossip, miner;
    } want[] = {
        {PROTO_REQ_GET_TIP, true, true},       {PROTO_REQ_SUBMIT_TX, true, false},
        {PROTO_REQ_SUBMIT_BLOCK, true, false}, {PROTO_REQ_GET_HEADERS, true, false},
        {PROTO_REQ_GET_BLOCK, true, false},    {PROTO_REQ_GET_TX, true, false},
        {PROTO_REQ_GET_JOB, false, true},      {PROTO_REQ_SUBMIT_WORK, false, true},
        {PROTO_REQ_HASHRATE, false, true},     {PROTO_REQ_PEERS, true, false},
        {PROTO_REQ_GET_MEMPOOL, true, false},  {PROTO_REQ_GET_UNBROADCAST, true, false},
        {PROTO_REQ_MARK_BROADCAST, true, false},
    };
    cr_assert_eq(sizeof want / sizeof want[0], PROTO_REQ_COUNT, "a request type without roles");
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *name = proto_req_name(want[i].type);
        cr_assert_eq(rpc_allowed(RPCKEY_GOSSIP, want[i].type), want[i].gossip, "gossip %s", name);
        cr_assert_eq(rpc_allowed(RPCKEY_MINER, want[i].type), want[i].miner, "miner %s", name);
        cr_assert_not(rpc_allowed(RPCKEY_SUBSCRIBER, want[i].type), "subscriber %s", name);
        cr_assert_not(rpc_allowed(-1, want[i].type), "no role %s", name);
        cr_assert(rpc_allowed(RPC_LOCAL, want[i].type), "ipc %s", name);
    }
}

/* A request the role may not make is answered `forbidden` and changes
 * nothing. */
Test(rpc, a_role_is_refused_what_it_may_not_ask)
{
    static const struct {
        int caller;
        proto_req_t type;
        void (*write)(void);
    } cases[] = {
        {RPCKEY_MINER, PROTO_REQ_PEERS, NULL},
        {RPCKEY_MINER, PROTO_REQ_SUBMIT_BLOCK, w_submit_block},
        {RPCKEY_GOSSIP, PROTO_REQ_HASHRATE, w_hashrate},
        {RPCKEY_SUBSCRIBER, PROTO_REQ_GET_TIP, w_none},
        {-1, PROTO_REQ_GET_TIP, w_none},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp_buf_reset(&req);
        proto_open_request(&req, cases[i].type, 40 + i);
        if (cases[i].type == PROTO_REQ_PEERS) {
            mp_put_cstr(&req, "peers");
            mp_put_array(&req, 1);
            mp_put_map(&req, 1);
            mp_put_cstr(&req, "addr");
            mp_put_cstr(&req, "6.6.6.6:666");
        } else {
            cases[i].write();
        }
        rpc_handle(node, cases[i].caller, req.data, req.len, &reply);
        proto_reply_t rep;
        err_t e;
        cr_assert_eq(proto_decode_reply(&rep, reply.data, reply.len, &e), 0, "%s", e.message);
        cr_assert_eq(rep.id, 40 + i);
        cr_assert(!rep.ok && rep.code == ERR_FORBIDDEN, "case %zu answered %s", i,
                  rep.ok ? "ok" : err_str(rep.code));
    }
    node_status_t st;
    node_status(node, &st);
    cr_assert_eq(st.hashrate, 0);
    cr_assert_eq(st.peers, 0);
}

static void w_rate(const char *worker, uint64_t rate)
{
    mp_buf_reset(&req);
    proto_open_request(&req, PROTO_REQ_HASHRATE, 9);
    mp_put_cstr(&req, "worker");
    mp_put_cstr(&req, worker);
    mp_put_cstr(&req, "rate");
    mp_put_uint(&req, rate);
}

/* JSON shows int64 (jansson): a rate or a peer height above 2^63-1 is
 * refused, and the sum of rates saturates instead of wrapping. */
Test(rpc, numbers_that_json_cannot_show_are_refused)
{
    w_rate("big", (uint64_t)INT64_MAX + 1);
    ask(PROTO_REQ_HASHRATE, 9, ERR_BAD_REQUEST);
    w_rate("max", UINT64_MAX);
    ask(PROTO_REQ_HASHRATE, 9, ERR_BAD_REQUEST);
    node_status_t st;
    node_status(node, &st);
    cr_assert_eq(st.hashrate, 0, "a refused rate counted");
    for (int i = 0; i < 3; i++) {
        char name[8];
        snprintf(name, sizeof name, "w%d", i);
        w_rate(name, INT64_MAX);
        ask(PROTO_REQ_HASHRATE, 9, ERR_OK);
    }
    w_rate("one", 1);
    ask(PROTO_REQ_HASHRATE, 9, ERR_OK);
    node_status(node, &st);
    cr_assert_eq(st.hashrate, UINT64_MAX, "the sum wrapped to %llu",
                 (unsigned long long)st.hashrate);

    mp_buf_reset(&req);
    proto_open_request(&req, PROTO_REQ_PEERS, 9);
    mp_put_cstr(&req, "peers");
    mp_put_array(&req, 2);
    for (int i = 0; i < 2; i++) {
        mp_put_map(&req, 2);
        mp_put_cstr(&req, "addr");
        mp_put_cstr(&req, i ? "10.0.0.2:9333" : "10.0.0.1:9333");
        mp_put_cstr(&req, "height");
        mp_put_uint(&req, i ? (uint64_t)INT64_MAX + 1 : 5);
    }
    ask(PROTO_REQ_PEERS, 9, ERR_BAD_REQUEST);
    node_status(node, &st);
    cr_assert_eq(st.peers, 0, "a refused report replaced the peer table");
}
