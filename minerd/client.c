#include "client.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"
#include "hex.h"
#include "job.h"
#include "log.h"
#include "miner_metrics.h"
#include "proto.h"
#include "reactor.h"
#include "zmqopt.h"

#define CLIENT_HWM 1000
#define CLIENT_PENDING 32 /* requests awaiting replies that are remembered */
#define CLIENT_TICK_MS 100 /* request timeouts and the caller's tick, at least this often */

typedef struct {
    uint64_t id; /* 0: free */
    proto_req_t kind;
    uint64_t sent_ms;
    uint64_t job_id, height; /* submit_work: for the log */
} pending_t;

/* A socket and the PAIR end of its monitor. */
typedef struct {
    void *sock, *monitor;
    const char *name, *endpoint;
    bool connected;
    int redial; /* a redial due (its timer): -1 when none */
} link_t;

struct client {
    client_config_t cfg;
    worker_pool_t *pool;
    void *ctx;
    reactor_t *reactor;
    link_t rpc, events;
    uint64_t next_id;
    pending_t pending[CLIENT_PENDING];
    bool have_seq;
    uint64_t last_seq;
    /* the job in force: mined, or held back by the policy; consumed once a
     * block was found for it (the same job then needs a new extranonce) */
    bool have_job, consumed;
    job_t job;
    uint8_t random[JOB_EXTRANONCE_RANDOM];
    uint32_t extranonce_counter;
    bool warned_no_answer;
    uint64_t found, accepted, rejected;
    uint64_t last_report_ms, last_report_hashes, last_log_ms, last_log_hashes;
    mp_buf_t buf;
    void (*tick)(void *ctx);
    void *tick_ctx;
};

static uint64_t total_hashes(client_t *c)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < worker_pool_threads(c->pool); i++)
        sum += worker_pool_hashes(c->pool, i);
    return sum;
}

/* --- sockets ----------------------------------------------------------------- */

static int open_link(client_t *c, link_t *l, int type, const char *name, const char *endpoint,
                     const char *const *subscribe, err_t *e)
{
    /* a restarted chaind is found again within ~2 s */
    zmqopt_t o = {.sndhwm = CLIENT_HWM, .rcvhwm = CLIENT_HWM, .max_msg = PROTO_MAX_MSG + 1024,
                  .reconnect_ivl_ms = 100, .reconnect_ivl_max_ms = 2000, .subscribe = subscribe,
                  .curve_client = rpckey_endpoint_curve(endpoint) ? c->cfg.key : NULL};
    l->name = name;
    l->endpoint = endpoint;
    l->redial = -1;
    l->sock = zmq_socket(c->ctx, type);
    if (!l->sock)
        return err_set(e, ERR_INTERNAL, "cannot create the %s socket: %s", name,
                       zmq_strerror(zmq_errno()));
    int rc = zmqopt_apply(l->sock, &o, e);
    /* connected once the handshake succeeded: a TCP connection whose key
     * chaind refuses is no connection */
    if (rc == 0 && !(l->monitor = zmqopt_monitor(c->ctx, l->sock, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                                 ZMQ_EVENT_DISCONNECTED |
                                                 ZMQOPT_HANDSHAKE_FAILED, e)))
        rc = -(int)e->code;
    if (rc == 0 && zmq_connect(l->sock, endpoint) < 0)
        rc = err_set(e, ERR_INTERNAL, "cannot connect to %s (%s): %s", endpoint, name,
                     zmq_strerror(zmq_errno()));
    return rc;
}

static void close_link(link_t *l)
{
    zmqopt_monitor_close(l->sock, l->monitor);
    if (l->sock)
        zmq_close(l->sock);
    l->sock = l->monitor = NULL;
}

/* --- requests ----------------------------------------------------------------- */

static pending_t *pending_find(client_t *c, uint64_t id)
{
    for (int i = 0; i < CLIENT_PENDING; i++)
        if (c->pending[i].id == id)
            return &c->pending[i];
    return NULL;
}

static bool get_job_pending(client_t *c)
{
    for (int i = 0; i < CLIENT_PENDING; i++)
        if (c->pending[i].id && c->pending[i].kind == PROTO_REQ_GET_JOB)
            return true;
    return false;
}

/* Sends the request built in c->buf, remembering it as kind. */
static void send_request(client_t *c, uint64_t id, proto_req_t kind, uint64_t job_id,
                         uint64_t height)
{
    if (!mp_buf_ok(&c->buf)) {
        LOGERR("a request did not fit in its buffer");
        return;
    }
    proto_assert(PROTO_REQUEST, (int)kind, c->buf.data, c->buf.len);
    /* without ZMQ_IMMEDIATE a disconnected DEALER queues (up to its HWM) and
     * delivers on reconnection; EAGAIN means that queue is full */
    if (zmq_send(c->rpc.sock, c->buf.data, c->buf.len, ZMQ_DONTWAIT) < 0) {
        LOGWARN("request not sent to chaind: %s", zmq_strerror(zmq_errno()));
        return;
    }
    pending_t *slot = pending_find(c, 0), *oldest = &c->pending[0];
    for (int i = 1; !slot && i < CLIENT_PENDING; i++)
        if (c->pending[i].sent_ms < oldest->sent_ms)
            oldest = &c->pending[i];
    slot = slot ? slot : oldest;
    *slot = (pending_t){id, kind, clock_ms(), job_id, height};
}

static void request_job(client_t *c)
{
    uint64_t id = c->next_id++;
    mp_buf_reset(&c->buf);
    proto_open_request(&c->buf, PROTO_REQ_GET_JOB, id);
    send_request(c, id, PROTO_REQ_GET_JOB, 0, 0);
}

static void submit(client_t *c, const worker_solution_t *s)
{
    uint64_t id = c->next_id++;
    mp_buf_reset(&c->buf);
    proto_open_request(&c->buf, PROTO_REQ_SUBMIT_WORK, id);
    mp_put_cstr(&c->buf, "job_id");
    mp_put_uint(&c->buf, s->work.job_id);
    mp_put_cstr(&c->buf, "extranonce");
    mp_put_bin(&c->buf, s->work.extranonce, JOB_EXTRANONCE_LEN);
    mp_put_cstr(&c->buf, "timestamp");
    mp_put_uint(&c->buf, s->work.timestamp);
    mp_put_cstr(&c->buf, "nonce");
    mp_put_uint(&c->buf, s->nonce);
    mp_put_cstr(&c->buf, "payout");
    mp_put_bin(&c->buf, c->cfg.payout.b, 20);
    send_request(c, id, PROTO_REQ_SUBMIT_WORK, s->work.job_id, s->work.height);
}

static void report_hashrate(client_t *c, uint64_t rate)
{
    uint64_t id = c->next_id++;
    mp_buf_reset(&c->buf);
    proto_open_request(&c->buf, PROTO_REQ_HASHRATE, id);
    mp_put_cstr(&c->buf, "worker");
    mp_put_cstr(&c->buf, c->cfg.worker);
    mp_put_cstr(&c->buf, "rate");
    mp_put_uint(&c->buf, rate);
    send_request(c, id, PROTO_REQ_HASHRATE, 0, 0);
}

/* --- jobs ---------------------------------------------------------------------- */

static void idle(client_t *c, const char *why)
{
    LOGWARN("no job: %s", why);
    worker_pool_set_work(c->pool, NULL);
    c->have_job = false;
}

/* Whether a block of job_id awaits chaind's verdict. */
static bool submit_pending(client_t *c, uint64_t job_id)
{
    for (int i = 0; i < CLIENT_PENDING; i++)
        if (c->pending[i].id && c->pending[i].kind == PROTO_REQ_SUBMIT_WORK &&
            c->pending[i].job_id == job_id)
            return true;
    return false;
}

/* Field by field: a struct's padding is not copied reliably. */
static bool same_job(const job_t *a, const job_t *b)
{
    if (a->job_id != b->job_id || a->height != b->height || a->bits != b->bits ||
        a->timestamp != b->timestamp || a->coinbase_value != b->coinbase_value ||
        a->tx_count != b->tx_count || a->branch_len != b->branch_len ||
        !hash32_eq(&a->previous_block_hash, &b->previous_block_hash))
        return false;
    for (size_t i = 0; i < a->branch_len; i++)
        if (!hash32_eq(&a->merkle_branch[i], &b->merkle_branch[i]))
            return false;
    return true;
}

static void take_job(client_t *c, const job_t *job)
{
    /* The same job again (a get_job answered with the job in force) changes
     * nothing, and neither does it while a block found for it is on its way
     * (mining it again would only make a sibling). Once chaind has judged that
     * block and still offers the job, it is mined anew with the next
     * extranonce. */
    uint64_t received_ns = clock_ns(); /* the switch's clock starts with its arrival */
    mmetrics_count(MMETRICS_JOB);
    bool again = c->have_job && same_job(job, &c->job);
    if (again && (!c->consumed || submit_pending(c, job->job_id)))
        return;
    c->job = *job;
    c->have_job = true;
    c->consumed = false;
    if (job->tx_count == 0 && !c->cfg.empty_blocks) {
        worker_pool_set_work(c->pool, NULL);
        LOGINFO("job %" PRIu64 " at height %" PRIu64 " has no transactions: waiting for some "
                "(--empty-blocks mines anyway)", job->job_id, job->height);
        return;
    }
    uint8_t extranonce[JOB_EXTRANONCE_LEN];
    job_work_t work;
    job_extranonce(extranonce, c->random, c->extranonce_counter++);
    if (job_make_work(&work, job, &c->cfg.payout, extranonce) < 0) {
        idle(c, "out of memory building the coinbase");
        return;
    }
    mmetrics_switch(c->pool, worker_pool_set_work(c->pool, &work), received_ns);
    LOGINFO("mining job %" PRIu64 "%s: height %" PRIu64 ", %" PRIu64 " transaction(s), bits "
            "%08x, %u thread(s)", job->job_id, again ? " again, its block not taken" : "",
            job->height, job->tx_count, job->bits, worker_pool_threads(c->pool));
}

static void on_job_body(client_t *c, const proto_body_t *body, const char *from)
{
    job_t job;
    err_t e;
    if (job_decode(&job, body, c->cfg.params, &e) < 0) {
        LOGWARN("a job from %s was rejected: %s", from, e.message);
        return;
    }
    take_job(c, &job);
}

static void on_reply(client_t *c, const uint8_t *data, size_t len)
{
    proto_reply_t rep;
    err_t e;
    if (proto_decode_reply(&rep, data, len, &e) < 0) {
        LOGWARN("a malformed reply from chaind: %s", e.message);
        return;
    }
    pending_t *p = pending_find(c, rep.id);
    if (rep.id == 0 || !p)
        return; /* a reply to a request given up on */
    pending_t req = *p;
    p->id = 0;
    c->warned_no_answer = false;
    switch (req.kind) {
    case PROTO_REQ_GET_JOB:
        if (rep.ok)
            on_job_body(c, &rep.body, "get_job");
        else
            idle(c, rep.message);
        break;
    case PROTO_REQ_SUBMIT_WORK:
        if (rep.ok) {
            hash32_t hash;
            char hex[65] = "?";
            if (proto_get_bin_exact(&rep.body, "hash", hash.b, 32) == 0)
                hex_encode(hex, hash.b, 32);
            c->accepted++;
            mmetrics_count(MMETRICS_ACCEPTED);
            LOGINFO("block %s at height %" PRIu64 " accepted (job %" PRIu64 ")", hex, req.height,
                    req.job_id);
        } else {
            c->rejected++;
            mmetrics_count(MMETRICS_REJECTED);
            LOGWARN("block at height %" PRIu64 " rejected (job %" PRIu64 "): %s: %s", req.height,
                    req.job_id, err_str(rep.code), rep.message);
        }
        request_job(c); /* the pool idles since the find: on to the next job */
        break;
    case PROTO_REQ_HASHRATE:
        if (!rep.ok)
            LOGDEBUG("hashrate report refused: %s", rep.message);
        break;
    default:
        break;
    }
}

static void on_event(client_t *c, const char *topic, size_t topic_len, const uint8_t *data,
                     size_t len)
{
    proto_event_t ev;
    err_t e;
    if (proto_decode_event(&ev, topic, topic_len, data, len, &e) < 0) {
        LOGWARN("a malformed event from chaind: %s", e.message);
        return;
    }
    if (ev.type != PROTO_TOPIC_JOB)
        return;
    if (c->have_seq && ev.seq > c->last_seq + 1) {
        LOGINFO("job events %" PRIu64 " to %" PRIu64 " missed: asking for the current job",
                c->last_seq + 1, ev.seq - 1);
        request_job(c);
    } else if (c->have_seq && ev.seq <= c->last_seq) {
        LOGINFO("job events count again from %" PRIu64 " (a new chaind): asking for the "
                "current job", ev.seq);
        request_job(c);
    }
    c->have_seq = true;
    c->last_seq = ev.seq;
    on_job_body(c, &ev.body, "the job event");
}

/* --- the loop ------------------------------------------------------------------ */

/* Reads one multi-frame message: frames[0..*n) (the rest dropped). */
static int recv_frames(void *sock, zmq_msg_t *frames, int max, int *n)
{
    int more = 1;
    *n = 0;
    while (more) {
        zmq_msg_t scratch, *m = *n < max ? &frames[*n] : &scratch;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            return *n ? 0 : -1;
        }
        more = zmq_msg_more(m);
        if (m == &scratch)
            zmq_msg_close(m);
        else
            (*n)++;
    }
    return 0;
}

static void close_frames(zmq_msg_t *frames, int n)
{
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
}

static void on_redial_rpc(void *arg)
{
    client_t *c = arg;
    c->rpc.redial = -1;
    zmqopt_redial(c->rpc.sock, c->rpc.endpoint);
}

static void on_redial_events(void *arg)
{
    client_t *c = arg;
    c->events.redial = -1;
    zmqopt_redial(c->events.sock, c->events.endpoint);
}

/* A failed handshake is logged; one libzmq gives up on (a key chaind
 * refused) is dialled again later, so a key listed after a SIGHUP gets in. */
static void on_link_event(client_t *c, link_t *l, uint16_t event, int32_t value)
{
    if (event & ZMQOPT_HANDSHAKE_FAILED) {
        zmqopt_log_handshake(l->endpoint, c->cfg.key_path, event, value);
        if ((event & ZMQOPT_GIVEN_UP) && l->redial < 0)
            l->redial = reactor_timer(c->reactor, ZMQOPT_REDIAL_MS, 0,
                                      l == &c->rpc ? on_redial_rpc : on_redial_events, c);
    } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        l->connected = true;
        LOGINFO("connected to chaind's %s socket at %s", l->name, l->endpoint);
        /* either socket coming back may mean a new chaind, new job ids */
        request_job(c);
    } else if (event == ZMQ_EVENT_DISCONNECTED && l->connected) {
        l->connected = false;
        if (l == &c->rpc) {
            /* what the lost peer had not answered, it never will */
            for (int i = 0; i < CLIENT_PENDING; i++) {
                if (c->pending[i].id && c->pending[i].kind == PROTO_REQ_SUBMIT_WORK)
                    LOGWARN("the block of job %" PRIu64 " at height %" PRIu64 " got no answer "
                            "before chaind went away", c->pending[i].job_id,
                            c->pending[i].height);
                c->pending[i].id = 0;
            }
            char why[300];
            snprintf(why, sizeof why, "lost chaind at %s; reconnecting", l->endpoint);
            idle(c, why);
        } else {
            LOGWARN("lost chaind's events at %s; reconnecting", l->endpoint);
        }
    }
}

/* --- the loop: reactor callbacks -------------------------------------------------- */

static void on_monitor(client_t *c, link_t *l)
{
    uint16_t event;
    int32_t value;
    while (zmqopt_monitor_read(l->monitor, &event, &value))
        on_link_event(c, l, event, value);
}

static void on_rpc_monitor(void *arg)
{
    client_t *c = arg;
    on_monitor(c, &c->rpc);
}

static void on_events_monitor(void *arg)
{
    client_t *c = arg;
    on_monitor(c, &c->events);
}

static void on_rpc(void *arg)
{
    client_t *c = arg;
    zmq_msg_t f[2];
    int n;
    while (recv_frames(c->rpc.sock, f, 2, &n) == 0) {
        /* a DEALER gets the ROUTER's reply as one frame */
        if (n == 1)
            on_reply(c, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]));
        close_frames(f, n);
    }
}

static void on_events(void *arg)
{
    client_t *c = arg;
    zmq_msg_t f[2];
    int n;
    while (recv_frames(c->events.sock, f, 2, &n) == 0) {
        if (n == 2)
            on_event(c, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), zmq_msg_data(&f[1]),
                     zmq_msg_size(&f[1]));
        close_frames(f, n);
    }
}

static void on_found(void *arg)
{
    client_t *c = arg;
    worker_solution_t s;
    while (worker_pool_take(c->pool, &s)) {
        char hex[65];
        hex_encode(hex, s.hash.b, 32);
        c->found++;
        mmetrics_count(MMETRICS_FOUND);
        if (s.work.job_id == c->job.job_id)
            c->consumed = true;
        LOGINFO("found block %s at height %" PRIu64 " (job %" PRIu64 ", nonce %016" PRIx64
                "): submitting", hex, s.work.height, s.work.job_id, s.nonce);
        submit(c, &s);
    }
}

/* A request unanswered for CLIENT_TIMEOUT_MS: given up on, and a job asked
 * for again where that is what it was for. */
static void expire(client_t *c, pending_t *p)
{
    pending_t req = *p;
    p->id = 0;
    if (req.kind == PROTO_REQ_SUBMIT_WORK) {
        LOGWARN("no answer to the block of job %" PRIu64 " in %d s", req.job_id,
                CLIENT_TIMEOUT_MS / 1000);
        request_job(c);
    }
    if (req.kind != PROTO_REQ_GET_JOB)
        return;
    /* slow is not gone (the monitor reports a lost connection): a job in
     * force stays in force */
    if (!c->warned_no_answer && c->have_job)
        LOGWARN("chaind at %s has not answered get_job for %d s; still on job %" PRIu64,
                c->cfg.rpc_endpoint, CLIENT_TIMEOUT_MS / 1000, c->job.job_id);
    else if (!c->warned_no_answer)
        LOGWARN("no job: chaind at %s has not answered get_job for %d s; asking again",
                c->cfg.rpc_endpoint, CLIENT_TIMEOUT_MS / 1000);
    c->warned_no_answer = true;
    request_job(c);
}

/* After every pass, and at least every CLIENT_TICK_MS. */
static void on_pass(void *arg)
{
    client_t *c = arg;
    uint64_t now = clock_ms();
    for (int i = 0; i < CLIENT_PENDING; i++)
        if (c->pending[i].id && now - c->pending[i].sent_ms >= CLIENT_TIMEOUT_MS)
            expire(c, &c->pending[i]);
    if (c->tick)
        c->tick(c->tick_ctx);
}

static void on_report(void *arg)
{
    client_t *c = arg;
    uint64_t now = clock_ms(), h = total_hashes(c);
    report_hashrate(c, (h - c->last_report_hashes) * 1000 / (now - c->last_report_ms));
    c->last_report_ms = now;
    c->last_report_hashes = h;
}

static void on_log(void *arg)
{
    client_t *c = arg;
    uint64_t now = clock_ms(), h = total_hashes(c);
    double ms = now > c->last_log_ms ? (double)(now - c->last_log_ms) : 1;
    double mhs = (double)(h - c->last_log_hashes) / ms / 1e3;
    if (c->have_job)
        LOGINFO("%.2f MH/s on %u thread(s), job %" PRIu64 " at height %" PRIu64 "%s; blocks "
                "found %" PRIu64 ", accepted %" PRIu64 ", rejected %" PRIu64, mhs,
                worker_pool_threads(c->pool), c->job.job_id, c->job.height,
                worker_pool_busy(c->pool) ? "" : " (idle)", c->found, c->accepted, c->rejected);
    else
        LOGINFO("%.2f MH/s: no job (chaind at %s %s); blocks found %" PRIu64 ", accepted %"
                PRIu64 ", rejected %" PRIu64, mhs, c->cfg.rpc_endpoint,
                c->rpc.connected ? "connected" : "not connected", c->found, c->accepted,
                c->rejected);
    c->last_log_ms = now;
    c->last_log_hashes = h;
    if (!get_job_pending(c))
        request_job(c);
}

/* Each socket, monitor and descriptor with its callback; the timers and
 * the pass hook. */
static int register_all(client_t *c)
{
    struct { void *sock; int fd; reactor_fn fn; } io[] = {
        {c->rpc.monitor, -1, on_rpc_monitor},
        {c->events.monitor, -1, on_events_monitor},
        {c->rpc.sock, -1, on_rpc},
        {c->events.sock, -1, on_events},
        {NULL, worker_pool_fd(c->pool), on_found},
    };
    for (size_t i = 0; i < sizeof io / sizeof io[0]; i++)
        if ((io[i].sock ? reactor_add_socket(c->reactor, io[i].sock, io[i].fn, c)
                        : reactor_add_fd(c->reactor, io[i].fd, io[i].fn, c)) < 0)
            return -1;
    if (reactor_timer(c->reactor, CLIENT_REPORT_MS, CLIENT_REPORT_MS, on_report, c) < 0 ||
        reactor_timer(c->reactor, CLIENT_LOG_MS, CLIENT_LOG_MS, on_log, c) < 0)
        return -1;
    reactor_on_pass(c->reactor, on_pass, c, CLIENT_TICK_MS);
    return 0;
}

void client_run(client_t *c, volatile sig_atomic_t *stop, void (*tick)(void *ctx), void *ctx)
{
    err_t e;
    c->tick = tick;
    c->tick_ctx = ctx;
    if (register_all(c) < 0) {
        LOGERR("the miner's loop has no room for its sockets and timers");
        return;
    }
    request_job(c);
    if (reactor_run(c->reactor, stop, &e) < 0)
        LOGERR("%s", e.message);
}

int client_new(client_t **out, const client_config_t *cfg, worker_pool_t *pool, err_t *e)
{
    *out = NULL;
    client_t *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, ERR_INTERNAL, "out of memory");
    c->cfg = *cfg;
    c->pool = pool;
    c->next_id = 1;
    mp_buf_init(&c->buf, PROTO_MAX_MSG);
    c->last_report_ms = c->last_log_ms = clock_ms();
    const char *const job_topic[] = {proto_topic_name(PROTO_TOPIC_JOB), NULL};
    int rc = RAND_bytes(c->random, sizeof c->random) == 1
                 ? 0
                 : err_set(e, ERR_INTERNAL, "the random source failed");
    if (rc == 0 && (!(c->ctx = zmq_ctx_new()) || !(c->reactor = reactor_new(5, 4 /* reports, log, redials */))))
        rc = err_set(e, ERR_INTERNAL, "cannot create a ZeroMQ context and its loop");
    if (rc == 0)
        rc = open_link(c, &c->rpc, ZMQ_DEALER, "rpc", cfg->rpc_endpoint, NULL, e);
    if (rc == 0)
        rc = open_link(c, &c->events, ZMQ_SUB, "events", cfg->events_endpoint, job_topic, e);
    if (rc < 0) {
        client_destroy(&c);
        return rc;
    }
    char hex[2 * JOB_EXTRANONCE_RANDOM + 1];
    hex_encode(hex, c->random, sizeof c->random);
    LOGINFO("extranonce prefix %s; rpc %s, events %s", hex, cfg->rpc_endpoint,
            cfg->events_endpoint);
    *out = c;
    return 0;
}

void client_destroy(client_t **cp)
{
    client_t *c = *cp;
    if (!c)
        return;
    close_link(&c->rpc);
    close_link(&c->events);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    reactor_destroy(&c->reactor);
    mp_buf_free(&c->buf);
    free(c);
    *cp = NULL;
}
