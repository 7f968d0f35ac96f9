/* minerd/client.h (named test_miner_client: gossipd's client.h has
 * test_client): minerd's client against a chaind of the test's own — a
 * ROUTER for its rpc socket and an XPUB for its events (which also shows
 * when the client's subscription is in), on ipc:// in a temporary
 * directory. client_run() runs on a thread of its own with a real worker
 * pool; the test plays chaind: it answers get_job, checks each submit_work
 * by rebuilding the block independently (job_make_work from the same
 * body), and sends what the client must survive. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "builder.h"
#include "../../minerd/client.h" /* gossipd has a client.h too: named by path */
#include "log.h"
#include "miner.h"
#include "proto.h"

#define WAIT_MS 10000 /* a liveness bound: what must arrive does within it */
#define START_GET_JOBS 3 /* at start, and on each socket's handshake */

typedef struct {
    char dir[256], rpc_ep[300], events_ep[300];
    void *zctx, *router, *xpub;
    worker_pool_t *pool;
    client_t *client;
    client_config_t cfg;
    pthread_t thread;
    volatile sig_atomic_t stop;
    bool running;
    uint8_t id[256]; /* the client's identity at the ROUTER */
    size_t id_len;
    uint8_t req[1 << 16]; /* the last request: far more than any of minerd's */
} fixture_t;

static fixture_t f;

static void *run(void *arg)
{
    (void)arg;
    client_run(f.client, &f.stop, NULL, NULL);
    return NULL;
}

static void start(bool empty_blocks)
{
    log_init("test", LOG_ERROR);
    memset(&f, 0, sizeof f);
    tb_tmpdir(f.dir);
    snprintf(f.rpc_ep, sizeof f.rpc_ep, "ipc://%s/rpc", f.dir);
    snprintf(f.events_ep, sizeof f.events_ep, "ipc://%s/events", f.dir);
    f.zctx = zmq_ctx_new();
    f.router = zmq_socket(f.zctx, ZMQ_ROUTER);
    f.xpub = zmq_socket(f.zctx, ZMQ_XPUB);
    cr_assert(f.router && f.xpub);
    int wait = WAIT_MS, zero = 0;
    for (int i = 0; i < 2; i++) {
        void *s = i ? f.xpub : f.router;
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &wait, sizeof wait);
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    }
    cr_assert_eq(zmq_bind(f.router, f.rpc_ep), 0);
    cr_assert_eq(zmq_bind(f.xpub, f.events_ep), 0);
    f.pool = tb_pool_new(2);
    f.cfg = (client_config_t){.params = params_by_name("regtest"), .rpc_endpoint = f.rpc_ep,
                              .events_endpoint = f.events_ep, .empty_blocks = empty_blocks,
                              .worker = "test-rig"};
    memset(f.cfg.payout.b, 0x5c, 20);
    err_t e;
    cr_assert_eq(client_new(&f.client, &f.cfg, f.pool, &e), 0, "%s", e.message);
    cr_assert_eq(pthread_create(&f.thread, NULL, run, NULL), 0);
    f.running = true;
}

static void stop(void)
{
    if (f.running) {
        f.stop = 1;
        pthread_join(f.thread, NULL);
    }
    client_destroy(&f.client);
    cr_assert_null(f.client);
    worker_pool_destroy(&f.pool);
    zmq_close(f.router);
    zmq_close(f.xpub);
    zmq_ctx_term(f.zctx);
    tb_rmdir(f.dir);
}

/* --- playing chaind ------------------------------------------------------------------ */

/* The next request from the client (hashrate reports answered and
 * skipped), decoded into *req; its bytes stay in f.req until the next
 * call. */
static void next_request(proto_request_t *req)
{
    /* the whole wait is bounded, hashrate reports or not: the client's own
     * timers (a get_job every CLIENT_LOG_MS) must not stand in for what a
     * test waits for */
    uint64_t t0 = tb_now_ns();
    for (;;) {
        cr_assert_lt(tb_now_ns() - t0, (uint64_t)WAIT_MS * 1000000, "no request came");
        int n = zmq_recv(f.router, f.id, sizeof f.id, 0);
        cr_assert_gt(n, 0, "no request came: %s", zmq_strerror(zmq_errno()));
        f.id_len = (size_t)n;
        n = zmq_recv(f.router, f.req, sizeof f.req, 0);
        cr_assert(n >= 0 && (size_t)n <= sizeof f.req);
        err_t e;
        cr_assert_eq(proto_decode_request(req, f.req, (size_t)n, &e), 0,
                     "the client sent a malformed request: %s", e.message);
        if (req->type != PROTO_REQ_HASHRATE)
            return;
    }
}

static void expect_request(proto_request_t *req, proto_req_t type)
{
    next_request(req);
    cr_assert_eq(req->type, type, "the client sent %s, not %s", proto_req_name(req->type),
                 proto_req_name(type));
}

static void send_to_client(const void *data, size_t len)
{
    cr_assert_eq(zmq_send(f.router, f.id, f.id_len, ZMQ_SNDMORE), (int)f.id_len);
    cr_assert_eq(zmq_send(f.router, data, len, 0), (int)len);
}

static uint64_t job_id_to_put;
static void put_job_id(mp_buf_t *b) { mp_put_uint(b, job_id_to_put); }

/* The pairs of a job body of shape s with this job id. */
static void put_job_pairs(mp_buf_t *b, const tb_job_shape_t *s, uint64_t job_id)
{
    mp_buf_t body;
    mp_buf_init(&body, 1 << 16);
    job_id_to_put = job_id;
    tb_job_body(&body, s, NULL, "job_id", put_job_id);
    mp_put_raw(b, body.data + 1, body.len - 1); /* past the 8-pair map's one-byte head */
    mp_buf_free(&body);
}

static void reply_job(uint64_t id, const tb_job_shape_t *s, uint64_t job_id)
{
    mp_buf_t b;
    mp_buf_init(&b, 1 << 16);
    proto_open_ok(&b, PROTO_REQ_GET_JOB, id);
    put_job_pairs(&b, s, job_id);
    cr_assert(mp_buf_ok(&b));
    send_to_client(b.data, b.len);
    mp_buf_free(&b);
}

static void reply_error(uint64_t id, err_code_t code, const char *message)
{
    mp_buf_t b;
    mp_buf_init(&b, 1024);
    proto_error(&b, id, code, message);
    send_to_client(b.data, b.len);
    mp_buf_free(&b);
}

/* Waits until the client's SUB has subscribed to `job` (the XPUB sees it). */
static void subscribed(void)
{
    char sub[16];
    int n = zmq_recv(f.xpub, sub, sizeof sub, 0);
    cr_assert_eq(n, 4, "no subscription came");
    cr_assert_arr_eq(sub, "\x01job", 4);
}

static void publish_job(uint64_t seq, const tb_job_shape_t *s, uint64_t job_id)
{
    mp_buf_t b;
    mp_buf_init(&b, 1 << 16);
    proto_open_event(&b, PROTO_TOPIC_JOB, seq);
    put_job_pairs(&b, s, job_id);
    cr_assert_eq(zmq_send(f.xpub, "job", 3, ZMQ_SNDMORE), 3);
    cr_assert_eq(zmq_send(f.xpub, b.data, b.len, 0), (int)b.len);
    mp_buf_free(&b);
}

/* The start's get_jobs, each answered with an error: the client idles. */
static void answer_start_unavailable(void)
{
    for (int i = 0; i < START_GET_JOBS; i++) {
        proto_request_t req;
        expect_request(&req, PROTO_REQ_GET_JOB);
        reply_error(req.id, ERR_UNAVAILABLE, "no job yet");
    }
}

/* Checks a submit_work against the job of shape s and job_id: every field,
 * and the block it names meets the bits once rebuilt from the job body as
 * an outsider would. */
static void check_submission(const proto_request_t *req, const tb_job_shape_t *s,
                             uint64_t job_id)
{
    uint64_t got_id, timestamp, nonce;
    uint8_t extranonce[JOB_EXTRANONCE_LEN];
    hash20_t payout;
    cr_assert_eq(proto_get_uint(&req->body, "job_id", &got_id), 0);
    cr_assert_eq(got_id, job_id);
    cr_assert_eq(proto_get_uint(&req->body, "timestamp", &timestamp), 0);
    cr_assert_eq(timestamp, TB_JOB_TIMESTAMP);
    cr_assert_eq(proto_get_uint(&req->body, "nonce", &nonce), 0);
    cr_assert_eq(proto_get_bin_exact(&req->body, "extranonce", extranonce, sizeof extranonce), 0,
                 "not %d bytes of extranonce", JOB_EXTRANONCE_LEN);
    cr_assert_eq(proto_get_bin_exact(&req->body, "payout", payout.b, 20), 0);
    cr_assert_arr_eq(payout.b, f.cfg.payout.b, 20, "another payout");

    mp_buf_t b;
    mp_buf_init(&b, 1 << 16);
    mp_put_map(&b, 8);
    put_job_pairs(&b, s, job_id);
    proto_body_t body = {b.data, b.len};
    job_t job;
    job_work_t work;
    err_t e;
    cr_assert_eq(job_decode(&job, &body, f.cfg.params, &e), 0, "%s", e.message);
    cr_assert_eq(job_make_work(&work, &job, &payout, extranonce), 0);
    block_header_t h;
    hash32_t hash;
    block_header_decode(&h, work.header);
    h.nonce = nonce;
    block_header_hash(&hash, &h);
    cr_assert(block_hash_meets(&hash, job.bits), "the submitted block misses its target");
    mp_buf_free(&b);
}

/* Answers every get_job with the job of shape s and job_id until the
 * client submits a block (which may come before the start's get_jobs are
 * all in): *sub. */
static void mine_until_submission(proto_request_t *sub, const tb_job_shape_t *s,
                                  uint64_t job_id)
{
    for (;;) {
        next_request(sub);
        if (sub->type == PROTO_REQ_SUBMIT_WORK)
            return;
        cr_assert_eq(sub->type, PROTO_REQ_GET_JOB, "%s", proto_req_name(sub->type));
        reply_job(sub->id, s, job_id); /* the same job each time: mined once */
    }
}

/* --- the tests ------------------------------------------------------------------------ */

Test(client, new_refuses_an_endpoint_zeromq_refuses)
{
    log_init("test", LOG_ERROR);
    worker_pool_t *pool = tb_pool_new(1);
    const struct {
        const char *rpc, *events, *names;
    } cases[] = {
        {"nope://x", "ipc:///tmp/chain-test-unused", "nope://x"},
        {"ipc:///tmp/chain-test-unused", "tcp://no-port", "tcp://no-port"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        client_config_t cfg = {.params = params_by_name("regtest"), .rpc_endpoint = cases[i].rpc,
                               .events_endpoint = cases[i].events, .worker = "w"};
        client_t *c = (client_t *)1;
        err_t e;
        cr_assert_eq(client_new(&c, &cfg, pool, &e), -(int)ERR_INTERNAL, "case %zu", i);
        cr_assert_null(c);
        cr_assert_not_null(strstr(e.message, cases[i].names), "%s", e.message);
    }
    client_t *none = NULL;
    client_destroy(&none); /* NULL: nothing to do */
    worker_pool_destroy(&pool);
}

/* The whole round: a job asked for and mined, its block submitted with the
 * right fields, and, whatever chaind's verdict, the next job asked for. */
Test(client, mines_the_job_and_submits_its_block)
{
    static const bool accepted[] = {true, false};
    for (size_t i = 0; i < 2; i++) {
        start(false);
        tb_job_shape_t s = tb_job_three_txs();
        proto_request_t sub;
        mine_until_submission(&sub, &s, TB_JOB_ID);
        check_submission(&sub, &s, TB_JOB_ID);
        if (accepted[i]) {
            mp_buf_t b;
            mp_buf_init(&b, 256);
            proto_open_ok(&b, PROTO_REQ_SUBMIT_WORK, sub.id);
            mp_put_cstr(&b, "hash");
            mp_put_bin(&b, (uint8_t[32]){0}, 32);
            send_to_client(b.data, b.len);
            mp_buf_free(&b);
        } else {
            reply_error(sub.id, ERR_BAD_PREVIOUS, "stale");
        }
        proto_request_t next;
        expect_request(&next, PROTO_REQ_GET_JOB);
        stop();
    }
}

/* A job without transactions is mined only with --empty-blocks: without,
 * the first block submitted is of the job that came next, with some. */
Test(client, empty_jobs_wait_unless_asked)
{
    const bool empty_blocks[] = {false, true};
    for (size_t i = 0; i < 2; i++) {
        start(empty_blocks[i]);
        tb_job_shape_t empty = {.tx_count = 0}, full = tb_job_three_txs();
        proto_request_t sub;
        if (empty_blocks[i]) {
            mine_until_submission(&sub, &empty, 7);
            check_submission(&sub, &empty, 7);
        } else {
            for (int n = 0; n < START_GET_JOBS; n++) { /* nothing mined: all three come */
                expect_request(&sub, PROTO_REQ_GET_JOB);
                reply_job(sub.id, &empty, 7);
            }
            subscribed();
            publish_job(1, &full, 8);
            expect_request(&sub, PROTO_REQ_SUBMIT_WORK);
            check_submission(&sub, &full, 8);
        }
        stop();
    }
}

/* A gap in the job events' seq, or a seq counting again (a new chaind),
 * makes the client ask for the current job. */
Test(client, a_seq_gap_asks_for_the_job)
{
    start(false);
    answer_start_unavailable();
    subscribed();
    tb_job_shape_t empty = {.tx_count = 0}; /* nothing to mine: no submission in the way */
    publish_job(1, &empty, 7);
    publish_job(2, &empty, 7);
    publish_job(4, &empty, 7); /* 3 missed */
    proto_request_t req;
    expect_request(&req, PROTO_REQ_GET_JOB);
    reply_job(req.id, &empty, 7);
    publish_job(1, &empty, 7); /* counting again */
    expect_request(&req, PROTO_REQ_GET_JOB);
    reply_job(req.id, &empty, 7);
    stop();
}

/* Garbage from chaind — replies that do not decode, to no request, an
 * event that does not decode, a job that breaks its rules — changes
 * nothing: the next good job is mined. */
Test(client, survives_what_chaind_should_never_send)
{
    start(false);
    answer_start_unavailable();
    subscribed();
    static const uint8_t junk[] = {0xc1, 0xff, 0x00, 0x92};
    send_to_client(junk, sizeof junk);
    send_to_client("", 0);
    tb_job_shape_t s = tb_job_three_txs(), bad = tb_job_three_txs();
    reply_job(999, &s, 9); /* an id never used */
    bad.branch_len = 1;    /* a branch too short for three transactions */
    publish_job(1, &bad, 10);
    cr_assert_eq(zmq_send(f.xpub, "job", 3, ZMQ_SNDMORE), 3);
    cr_assert_eq(zmq_send(f.xpub, junk, sizeof junk, 0), sizeof junk);
    cr_assert_eq(zmq_send(f.xpub, "job", 3, 0), 3); /* one frame only */
    publish_job(2, &s, 11);
    proto_request_t sub;
    expect_request(&sub, PROTO_REQ_SUBMIT_WORK);
    check_submission(&sub, &s, 11);
    stop();
}
