#include "rpc.h"

#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "clock.h"
#include "conncap.h"
#include "log.h"
#include "proto.h"
#include "reactor.h"
#include "zap.h"
#include "zmqopt.h"

#define RPC_SNDHWM 10000     /* replies queued a connection at most */
#define RPC_RCVHWM 16        /* requests queued a connection: (16 + 1) x 2 MiB at most */
#define RPC_MAX_FRAMES 4     /* identity, optional delimiter, payload */
#define RPC_BATCH 256        /* requests served a pass, so timers are never starved */
#define RPC_TICK_MS 100      /* node_tick() and the caller's tick at least this often */
#define EVENTS_SNDHWM 500    /* events queued a subscriber */
#define EVENTS_SNDBUF 65536  /* the kernel's send buffer a subscriber */
#define EVENTS_MAX_MSG 1024  /* from a subscriber: a subscription, or CURVE's INITIATE (~300) */
#define HANDSHAKE_MS 2000    /* a connection's ZMTP (and CURVE) handshake at most */
#define HEARTBEAT_MS 2000    /* ZMTP pings; silent this long after one: gone */
#define HEARTBEAT_TIMEOUT_MS 6000
#define TRIM_EVERY_MS 1000   /* memory handed back while connections leave ... */
#define TRIM_FOR_MS 5000     /* ... and this long after the last left */

/* One request as read from the ROUTER: identity, optional delimiter, payload,
 * and who sent it (a role, or RPC_LOCAL). */
typedef struct {
    zmq_msg_t frames[RPC_MAX_FRAMES];
    int n;
    int caller;
} request_t;

/* An accepted submit_tx: its ok waits for the ticket (see "durable
 * acknowledgements" below). */
typedef struct {
    uint64_t ticket, id;
    hash32_t txid;
} ack_t;

/* A held ok: the route to send it on (the request's frames but the payload). */
typedef struct {
    ack_t ack;
    zmq_msg_t route[RPC_MAX_FRAMES - 1];
    int n_route;
} held_t;

struct rpc {
    void *ctx, *router, *pub;
    node_t *node;
    pthread_mutex_t pub_lock;
    zap_t *zap;                     /* NULL: no tcp:// endpoint */
    conncap_t *rpc_cap, *events_cap; /* NULL: not a tcp:// endpoint */
    bool rpc_curve;                 /* the ROUTER's callers carry a role */
    reactor_t *reactor;
    int serve_timer;  /* a pass soon, while requests read ahead wait: -1 when none */
    uint64_t departures, trim_until_ms; /* connections gone so far; trimming until */
    mp_buf_t reply;
    void (*tick)(void *ctx);
    void *tick_ctx;
    /* requests read ahead of the one being served, oldest first, so that a
     * sync's next blocks have their signatures checked while one commits */
    request_t window[CHAIN_PREFETCH_WINDOW + 1];
    size_t w_head, w_len;
    hash32_t last_prefetched;
    bool have_last;
    held_t held[RPC_BATCH]; /* this batch's submit_tx oks */
    size_t n_held;
};

static void close_request(request_t *q)
{
    for (int i = 0; i < q->n; i++)
        zmq_msg_close(&q->frames[i]);
    q->n = 0;
}

static void publish(void *arg, const char *topic, const uint8_t *body, size_t len)
{
    rpc_t *r = arg;
    proto_assert(PROTO_EVENT, proto_topic_of(topic, strlen(topic)), body, len);
    pthread_mutex_lock(&r->pub_lock);
    /* PUB never blocks: past the high-water mark ZeroMQ drops, and the
     * subscriber sees the gap in seq */
    if (zmq_send(r->pub, topic, strlen(topic), ZMQ_SNDMORE) < 0 ||
        zmq_send(r->pub, body, len, 0) < 0)
        log_limited(LOG_WARN, NULL, "event %s not sent: %s", topic, zmq_strerror(zmq_errno()));
    pthread_mutex_unlock(&r->pub_lock);
}

/* --- the sockets ----------------------------------------------------------------- */

static bool is_tcp(const char *endpoint) { return strncmp(endpoint, "tcp://", 6) == 0; }
static bool is_ipc(const char *endpoint) { return strncmp(endpoint, "ipc://", 6) == 0; }

/* An ipc:// socket file is the group's: the systemd units run every daemon
 * as the group chain in a RuntimeDirectory, and the file's permissions are
 * what guards the endpoint. */
static int share_ipc(void *sock, err_t *e)
{
    char ep[4096 + 8];
    size_t len = sizeof ep;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &len) < 0 || !is_ipc(ep))
        return err_set(e, ERR_INTERNAL, "cannot read the ipc endpoint's path");
    if (chmod(ep + 6, 0660) != 0)
        return err_set(e, ERR_INTERNAL, "cannot chmod 0660 %s", ep + 6);
    return 0;
}

/* Sets o (CURVE for tcp://) on sock, binds it, and caps its tcp://
 * connections at cap (named name in the log) or shares its ipc:// file. */
static int bind_socket(rpc_t *r, void *sock, zmqopt_t *o, const char *endpoint, unsigned cap,
                       const char *name, conncap_t **capped, err_t *e)
{
    bool tcp = is_tcp(endpoint);
    if (!tcp && (!is_ipc(endpoint) || endpoint[6] == '@'))
        return err_set(e, ERR_INTERNAL, "the %s endpoint %s is neither tcp:// (CURVE) nor "
                       "ipc:// on a path (file permissions)", name, endpoint);
    if (!tcp)
        o->curve_server = NULL;
    int rc = zmqopt_apply(sock, o, e);
    if (rc == 0 && zmq_bind(sock, endpoint) < 0)
        rc = err_set(e, ERR_INTERNAL, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
    if (rc == 0)
        rc = tcp ? conncap_start(capped, r->ctx, sock, cap, name, e) : share_ipc(sock, e);
    return rc;
}

/* The key set (made at first start) and, for tcp:// endpoints, the server
 * key and the ZAP handler, which must answer before either socket binds. */
static int open_keys(rpc_t *r, const rpc_config_t *cfg, rpckey_pair_t *server, err_t *e)
{
    char path[4096];
    bool created;
    int rc = rpckey_init_dir(cfg->keys_dir, &created, e);
    if (rc == 0 && created)
        LOGINFO("rpc keys: made a key set in %s: gossipd takes %s/gossip.key, minerd %s/miner.key "
                "(--rpc-key), event readers %s/subscriber.key", cfg->keys_dir, cfg->keys_dir,
                cfg->keys_dir, cfg->keys_dir);
    if (rc < 0 || (!is_tcp(cfg->rpc_endpoint) && !is_tcp(cfg->events_endpoint)))
        return rc;
    if (snprintf(path, sizeof path, "%s/server.key", cfg->keys_dir) >= (int)sizeof path)
        return err_set(e, ERR_INTERNAL, "the key directory's path is too long");
    rc = rpckey_load_server(path, server, e);
    snprintf(path, sizeof path, "%s/clients", cfg->keys_dir);
    return rc < 0 ? rc : zap_start(&r->zap, r->ctx, path, cfg->reload, e);
}

static int open_sockets(rpc_t *r, const rpc_config_t *cfg, err_t *e)
{
    rpckey_pair_t server;
    int rc = open_keys(r, cfg, &server, e);
    zmqopt_t router = {.sndhwm = RPC_SNDHWM, .rcvhwm = RPC_RCVHWM,
                       .max_msg = PROTO_MAX_MSG + 1024, .heartbeat_ivl_ms = HEARTBEAT_MS,
                       .heartbeat_timeout_ms = HEARTBEAT_TIMEOUT_MS,
                       .handshake_ivl_ms = HANDSHAKE_MS, .curve_server = &server,
                       .zap_domain = ZAP_DOMAIN_RPC};
    zmqopt_t pub = {.sndhwm = EVENTS_SNDHWM, .rcvhwm = RPC_SNDHWM, .max_msg = EVENTS_MAX_MSG,
                    .heartbeat_ivl_ms = HEARTBEAT_MS, .heartbeat_timeout_ms = HEARTBEAT_TIMEOUT_MS,
                    .handshake_ivl_ms = HANDSHAKE_MS, .sndbuf = EVENTS_SNDBUF,
                    .curve_server = &server, .zap_domain = ZAP_DOMAIN_EVENTS};
    if (rc == 0)
        rc = bind_socket(r, r->router, &router, cfg->rpc_endpoint, cfg->max_rpc_connections,
                         "rpc", &r->rpc_cap, e);
    if (rc == 0)
        rc = bind_socket(r, r->pub, &pub, cfg->events_endpoint, cfg->max_subscribers, "events",
                         &r->events_cap, e);
    r->rpc_curve = is_tcp(cfg->rpc_endpoint);
    memset(&server, 0, sizeof server);
    return rc;
}

unsigned rpc_fds(const rpc_config_t *cfg)
{
    return cfg->max_rpc_connections + cfg->max_subscribers + RPC_FD_RESERVE;
}

int rpc_open(rpc_t **out, node_t *node, const rpc_config_t *cfg, err_t *e)
{
    *out = NULL;
    rpc_t *r = calloc(1, sizeof *r);
    if (!r)
        return err_set(e, ERR_INTERNAL, "out of memory");
    r->node = node;
    r->serve_timer = -1;
    pthread_mutex_init(&r->pub_lock, NULL);
    mp_buf_init(&r->reply, PROTO_MAX_MSG + 1024);
    r->reactor = reactor_new(1, 2);
    r->ctx = zmq_ctx_new();
    r->router = r->ctx ? zmq_socket(r->ctx, ZMQ_ROUTER) : NULL;
    r->pub = r->ctx ? zmq_socket(r->ctx, ZMQ_PUB) : NULL;
    int rc = !r->reactor || !r->router || !r->pub
                 ? err_set(e, ERR_INTERNAL, "cannot create ZeroMQ sockets")
                 : open_sockets(r, cfg, e);
    if (rc < 0) {
        rpc_close(&r);
        return rc;
    }
    node_set_publisher(node, publish, r);
    *out = r;
    return 0;
}

void rpc_close(rpc_t **rp)
{
    rpc_t *r = *rp;
    if (!r)
        return;
    if (r->node)
        node_set_publisher(r->node, NULL, NULL);
    size_t cap = sizeof r->window / sizeof r->window[0];
    for (; r->w_len > 0; r->w_len--, r->w_head = (r->w_head + 1) % cap)
        close_request(&r->window[r->w_head]); /* unanswered: the client retries */
    conncap_stop(&r->rpc_cap, r->router);
    conncap_stop(&r->events_cap, r->pub);
    if (r->router)
        zmq_close(r->router);
    if (r->pub)
        zmq_close(r->pub);
    zap_stop(&r->zap); /* after the CURVE sockets: none may handshake without it */
    if (r->ctx)
        zmq_ctx_term(r->ctx);
    reactor_destroy(&r->reactor);
    mp_buf_free(&r->reply);
    pthread_mutex_destroy(&r->pub_lock);
    free(r);
    *rp = NULL;
}

/* --- the handlers, one a request type ------------------------------------------- */

static const char *status_name(chain_status_t s)
{
    static const char *const names[] = {"tip", "side", "orphan", "known"};
    return names[s];
}

static void reply_error(mp_buf_t *reply, uint64_t id, const err_t *e)
{
    mp_buf_reset(reply);
    proto_error(reply, id, e->code, e->message);
}

static void handle_get_block(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    hash32_t hash;
    err_t e;
    store_read_t *r;
    const uint8_t *raw;
    size_t len;
    (void)proto_get_bin_exact(&req->body, "hash", hash.b, 32); /* schema: present */
    if (store_read_begin(node_store(node), &r, &e) < 0 ||
        store_get_block(r, &hash, &raw, &len, &e) < 0) {
        reply_error(reply, req->id, &e);
    } else {
        proto_begin_ok(reply, req->id, 1);
        mp_put_cstr(reply, "block");
        mp_put_bin(reply, raw, len);
    }
    store_read_end(&r);
}

static void handle_get_tx(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    hash32_t txid;
    err_t e;
    uint8_t *raw;
    size_t len;
    (void)proto_get_bin_exact(&req->body, "txid", txid.b, 32);
    if (node_mempool_tx(node, &txid, &raw, &len, NULL) == 0) {
        proto_begin_ok(reply, req->id, 1);
        mp_put_cstr(reply, "tx");
        mp_put_bin(reply, raw, len);
        free(raw);
        return;
    }
    /* a confirmed one: its bytes in its block */
    store_read_t *r;
    store_tx_loc_t loc;
    if (store_read_begin(node_store(node), &r, &e) < 0 || store_find_tx(r, &txid, &loc, &e) < 0) {
        reply_error(reply, req->id, &e);
    } else {
        proto_begin_ok(reply, req->id, 1);
        mp_put_cstr(reply, "tx");
        mp_put_bin(reply, loc.raw, loc.len);
    }
    store_read_end(&r);
}

static void handle_get_headers(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    hash32_t locator[PROTO_MAX_LOCATOR];
    mp_reader_t r;
    uint32_t n;
    uint64_t max;
    (void)proto_get_uint(&req->body, "max", &max);
    if (max > PROTO_MAX_HEADERS)
        max = PROTO_MAX_HEADERS;
    if (proto_get_array(&req->body, "locator", &r, &n) < 0)
        n = 0;
    for (uint32_t i = 0; i < n; i++)
        (void)mp_get_bin_exact(&r, locator[i].b, 32); /* schema: bin32 each */
    uint8_t *headers;
    size_t count;
    err_t e;
    if (node_headers_after(node, locator, n, (size_t)max, &headers, &count) < 0) {
        err_set(&e, ERR_INTERNAL, "out of memory");
        reply_error(reply, req->id, &e);
        return;
    }
    proto_open_ok(reply, req->type, req->id);
    mp_put_cstr(reply, "headers");
    mp_put_array(reply, (uint32_t)count);
    for (size_t i = 0; i < count; i++)
        mp_put_bin(reply, headers + i * BLOCK_HEADER_LEN, BLOCK_HEADER_LEN);
    free(headers);
}

static void handle_get_tip(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    node_status_t s;
    node_status(node, &s);
    uint8_t work[32];
    u256_to_be(work, &s.chainwork);
    proto_open_ok(reply, req->type, req->id);
    mp_put_cstr(reply, "height");
    mp_put_uint(reply, s.height);
    mp_put_cstr(reply, "hash");
    mp_put_bin(reply, s.hash.b, 32);
    mp_put_cstr(reply, "chainwork");
    mp_put_bin(reply, work, 32);
}

/* A submission's answer: the error, or the ok reply opened with the hash
 * (under key) that the submission was given; the caller adds the rest. */
static bool reply_hash(mp_buf_t *reply, const proto_request_t *req, int rc, const err_t *e,
                       const char *key, const hash32_t *hash)
{
    if (rc < 0) {
        reply_error(reply, req->id, e);
        return false;
    }
    proto_open_ok(reply, req->type, req->id);
    mp_put_cstr(reply, key);
    mp_put_bin(reply, hash->b, 32);
    return true;
}

/* An accepted transaction's ok is written now and sent once *ack's ticket
 * is durable (see "durable acknowledgements"). */
static void handle_submit_tx(node_t *node, const proto_request_t *req, mp_buf_t *reply,
                             ack_t *ack)
{
    const uint8_t *data;
    size_t len;
    char origin[129];
    hash32_t txid;
    uint64_t ticket = 0;
    err_t e;
    (void)proto_get_bin(&req->body, "tx", &data, &len); /* schema: present */
    (void)proto_get_str(&req->body, "origin", origin, sizeof origin);
    int rc = node_submit_tx(node, data, len, origin, 0, &txid, &ticket, &e);
    if (reply_hash(reply, req, rc, &e, "txid", &txid))
        *ack = (ack_t){ticket, req->id, txid};
}

static void handle_submit_block(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    const uint8_t *data;
    size_t len;
    char origin[129];
    hash32_t hash;
    chain_status_t status = CHAIN_KNOWN;
    err_t e;
    (void)proto_get_bin(&req->body, "block", &data, &len);
    (void)proto_get_str(&req->body, "origin", origin, sizeof origin);
    int rc = node_submit_block(node, data, len, origin, &status, &hash, &e);
    if (reply_hash(reply, req, rc, &e, "hash", &hash)) {
        mp_put_cstr(reply, "status");
        mp_put_cstr(reply, status_name(status));
    }
}

static void handle_get_job(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    err_t e;
    proto_open_ok(reply, req->type, req->id);
    if (node_job_body(node, reply) < 0) {
        err_set(&e, ERR_INTERNAL, "no job could be made");
        reply_error(reply, req->id, &e);
    }
}

static void handle_submit_work(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    uint64_t job_id, timestamp, nonce;
    const uint8_t *extranonce;
    size_t extranonce_len;
    hash20_t payout;
    hash32_t hash;
    err_t e;
    (void)proto_get_uint(&req->body, "job_id", &job_id);
    (void)proto_get_uint(&req->body, "timestamp", &timestamp);
    (void)proto_get_uint(&req->body, "nonce", &nonce);
    (void)proto_get_bin(&req->body, "extranonce", &extranonce, &extranonce_len);
    (void)proto_get_bin_exact(&req->body, "payout", payout.b, 20);
    int rc = node_submit_work(node, job_id, extranonce, extranonce_len, &payout, timestamp,
                              nonce, &hash, &e);
    reply_hash(reply, req, rc, &e, "hash", &hash);
}

/* JSON numbers are signed 64-bit (jansson): a count above that cannot be
 * shown, so none is taken. */
static bool over_json(uint64_t v) { return v > (uint64_t)INT64_MAX; }

static void handle_hashrate(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    char worker[65];
    uint64_t rate;
    err_t e;
    (void)proto_get_str(&req->body, "worker", worker, sizeof worker);
    (void)proto_get_uint(&req->body, "rate", &rate);
    if (over_json(rate)) {
        err_set(&e, ERR_BAD_REQUEST, "a hash rate above 2^63-1 is not believed");
        reply_error(reply, req->id, &e);
        return;
    }
    node_report_hashrate(node, worker, rate, clock_unix());
    proto_open_ok(reply, req->type, req->id);
}

/* Whether every peer of a report (n maps at r) has a height JSON can show;
 * r ends past the last one. */
static bool peers_heights_ok(mp_reader_t *r, uint32_t n)
{
    bool ok = true;
    for (uint32_t i = 0; i < n; i++) {
        size_t start = r->pos;
        uint64_t height;
        (void)mp_skip(r); /* schema: well-formed maps */
        proto_body_t peer = {r->p + start, r->pos - start};
        if (proto_get_uint(&peer, "height", &height) == 0 && over_json(height))
            ok = false;
    }
    return ok;
}

static void handle_peers(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    mp_reader_t r;
    uint32_t n;
    if (proto_get_array(&req->body, "peers", &r, &n) == 0) {
        size_t start = r.pos;
        if (!peers_heights_ok(&r, n)) {
            err_t e;
            err_set(&e, ERR_BAD_REQUEST, "a peer height above 2^63-1 is not believed");
            reply_error(reply, req->id, &e);
            return;
        }
        /* keep the array with its header: rebuild it around the elements */
        mp_buf_t arr;
        mp_buf_init(&arr, PROTO_MAX_MSG);
        mp_put_array(&arr, n);
        mp_put_raw(&arr, r.p + start, r.pos - start);
        if (mp_buf_ok(&arr))
            node_set_peers(node, arr.data, arr.len, n);
        mp_buf_free(&arr);
    }
    proto_open_ok(reply, req->type, req->id);
}

/* get_mempool and get_unbroadcast: the ok reply with txids[0..n). */
static void reply_txids(mp_buf_t *reply, const proto_request_t *req, const hash32_t *txids,
                        size_t n)
{
    proto_open_ok(reply, req->type, req->id);
    mp_put_cstr(reply, "txids");
    mp_put_array(reply, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        mp_put_bin(reply, txids[i].b, 32);
}

static void handle_get_mempool(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    hash32_t txids[PROTO_MAX_INV];
    uint64_t max;
    (void)proto_get_uint(&req->body, "max", &max); /* schema: present */
    reply_txids(reply, req, txids,
                node_mempool_txids(node, txids, max < PROTO_MAX_INV ? (size_t)max : PROTO_MAX_INV));
}

_Static_assert(NODE_UNBROADCAST_MAX <= PROTO_MAX_INV, "the unbroadcast set fits a reply");

static void handle_get_unbroadcast(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    hash32_t txids[NODE_UNBROADCAST_MAX];
    reply_txids(reply, req, txids, node_unbroadcast(node, txids, NODE_UNBROADCAST_MAX));
}

/* Answered once queued, not once durable: a change lost to a crash only
 * means one more announcement. */
static void handle_mark_broadcast(node_t *node, const proto_request_t *req, mp_buf_t *reply)
{
    hash32_t txids[PROTO_MAX_INV];
    mp_reader_t r;
    uint32_t n = 0;
    uint64_t ticket;
    err_t e;
    if (proto_get_array(&req->body, "txids", &r, &n) < 0)
        n = 0;
    for (uint32_t i = 0; i < n; i++)
        (void)mp_get_bin_exact(&r, txids[i].b, 32); /* schema: bin32 each, at most 1000 */
    if (node_mark_broadcast(node, txids, n, &ticket, &e) < 0)
        reply_error(reply, req->id, &e);
    else
        proto_open_ok(reply, req->type, req->id);
}

/* --- dispatch ------------------------------------------------------------------- */

typedef void (*handler_fn)(node_t *node, const proto_request_t *req, mp_buf_t *reply);

/* How each request type is served: handle answers at once; acked (instead)
 * writes an ok that waits for durability. read_ahead (NULL: nothing) starts
 * work on a request the loop read ahead of its turn; its answer still comes
 * in turn. */
typedef struct {
    handler_fn handle;
    void (*acked)(node_t *node, const proto_request_t *req, mp_buf_t *reply, ack_t *ack);
    void (*read_ahead)(rpc_t *r, const proto_request_t *req);
} route_t;

static void prefetch_block(rpc_t *r, const proto_request_t *req);

/* How each request type is served, and (below) who may ask it. */
static const route_t routes[PROTO_REQ_COUNT] = {
    [PROTO_REQ_GET_TIP] = {handle_get_tip, NULL, NULL},
    [PROTO_REQ_SUBMIT_TX] = {NULL, handle_submit_tx, NULL},
    [PROTO_REQ_SUBMIT_BLOCK] = {handle_submit_block, NULL, prefetch_block},
    [PROTO_REQ_GET_HEADERS] = {handle_get_headers, NULL, NULL},
    [PROTO_REQ_GET_BLOCK] = {handle_get_block, NULL, NULL},
    [PROTO_REQ_GET_TX] = {handle_get_tx, NULL, NULL},
    [PROTO_REQ_GET_JOB] = {handle_get_job, NULL, NULL},
    [PROTO_REQ_SUBMIT_WORK] = {handle_submit_work, NULL, NULL},
    [PROTO_REQ_HASHRATE] = {handle_hashrate, NULL, NULL},
    [PROTO_REQ_PEERS] = {handle_peers, NULL, NULL},
    [PROTO_REQ_GET_MEMPOOL] = {handle_get_mempool, NULL, NULL},
    [PROTO_REQ_GET_UNBROADCAST] = {handle_get_unbroadcast, NULL, NULL},
    [PROTO_REQ_MARK_BROADCAST] = {handle_mark_broadcast, NULL, NULL},
};

/* Who may make each request over tcp:// (DESIGN §1), by name, so that a
 * request another branch adds to proto can be granted before it exists;
 * one missing here is refused to every key (test_rpc checks there is none).
 * Over ipc:// file permissions decide: every request is allowed. */
#define GOSSIP (1u << RPCKEY_GOSSIP)
#define MINER (1u << RPCKEY_MINER)
static const struct {
    const char *type;
    unsigned roles;
} access_table[] = {
    {"get_tip", GOSSIP | MINER},
    {"submit_tx", GOSSIP},
    {"submit_block", GOSSIP},
    {"get_headers", GOSSIP},
    {"get_block", GOSSIP},
    {"get_tx", GOSSIP},
    {"peers", GOSSIP},
    {"get_mempool", GOSSIP},
    {"get_unbroadcast", GOSSIP},
    {"mark_broadcast", GOSSIP},
    {"get_job", MINER},
    {"submit_work", MINER},
    {"hashrate", MINER},
};

bool rpc_allowed(int caller, proto_req_t type)
{
    if (caller == RPC_LOCAL)
        return true;
    const char *name = proto_req_name(type);
    for (size_t i = 0; name && caller >= 0 && i < sizeof access_table / sizeof access_table[0];
         i++)
        if (strcmp(access_table[i].type, name) == 0)
            return (access_table[i].roles & 1u << caller) != 0;
    return false;
}


/* rpc_handle() but for durability: an accepted submit_tx fills *ack (whose
 * ticket is 0 otherwise), leaving its ok in reply. */
static void dispatch(node_t *node, int caller, const uint8_t *request, size_t len,
                     mp_buf_t *reply, ack_t *ack)
{
    proto_request_t req;
    err_t e;
    mp_buf_reset(reply);
    if (proto_decode_request(&req, request, len, &e) < 0) {
        reply_error(reply, req.id, &e);
        return;
    }
    if (!rpc_allowed(caller, req.type)) {
        const char *role = rpckey_role_name((rpckey_role_t)caller);
        err_set(&e, ERR_FORBIDDEN, "%s%s key may not make `%s` requests", role ? "a " : "",
                role ? role : "a connection without a", proto_req_name(req.type));
        reply_error(reply, req.id, &e);
        return;
    }
    const route_t *route = &routes[req.type];
    if (route->acked)
        route->acked(node, &req, reply, ack);
    else
        route->handle(node, &req, reply);
    if (!mp_buf_ok(reply)) {
        err_set(&e, ERR_TOO_LARGE, "the reply does not fit in a message");
        reply_error(reply, req.id, &e);
    }
    proto_assert(PROTO_OK_REPLY, (int)req.type, reply->data, reply->len);
}

/* --- the loop --------------------------------------------------------------------- */

/* Who sent payload: the role its connection's key was admitted with (ZAP's
 * User-Id), -1 when it carries none (no request is then allowed), or
 * RPC_LOCAL on an ipc:// endpoint. */
static int caller_of(const rpc_t *r, zmq_msg_t *payload)
{
    if (!r->rpc_curve)
        return RPC_LOCAL;
    const char *user = zmq_msg_gets(payload, "User-Id");
    rpckey_role_t role;
    return user && rpckey_role_parse(user, &role) == 0 ? (int)role : -1;
}

/* Reads one multi-frame message from the ROUTER without waiting; false when
 * none is there. Frames past RPC_MAX_FRAMES are dropped. */
static bool read_request(rpc_t *r, request_t *q)
{
    q->n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t scratch, *m = q->n < RPC_MAX_FRAMES ? &q->frames[q->n] : &scratch;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, r->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        if (m == &scratch)
            zmq_msg_close(m);
        else
            q->n++;
    }
    q->caller = q->n > 0 ? caller_of(r, &q->frames[q->n - 1]) : -1;
    return q->n > 0;
}

/* A submit_block read ahead: its signatures start on the pool, chained
 * after the block prefetched before it. */
static void prefetch_block(rpc_t *r, const proto_request_t *req)
{
    const uint8_t *block;
    size_t len;
    hash32_t hash;
    if (proto_get_bin(&req->body, "block", &block, &len) < 0)
        return;
    int rc = node_prefetch_block(r->node, block, len, r->have_last ? &r->last_prefetched : NULL,
                                 &hash);
    if (rc == 0) {
        r->last_prefetched = hash;
        r->have_last = true;
    }
}

static void read_ahead(rpc_t *r, request_t *q)
{
    proto_request_t req;
    err_t e;
    if (q->n < 2 || proto_decode_request(&req, zmq_msg_data(&q->frames[q->n - 1]),
                                         zmq_msg_size(&q->frames[q->n - 1]), &e) < 0 ||
        !rpc_allowed(q->caller, req.type))
        return;
    if (routes[req.type].read_ahead)
        routes[req.type].read_ahead(r, &req);
}

/* Fills the window from the socket; false when it is empty. A request alone
 * in the window is served at once, with nothing to overlap: it is not read
 * ahead (its block would be decoded twice for nothing). Otherwise every new
 * one is, the first of a fresh window too, since the blocks after it chain
 * on it. */
static bool fill_window(rpc_t *r)
{
    size_t cap = sizeof r->window / sizeof r->window[0], first_new = r->w_len;
    while (r->w_len < cap && read_request(r, &r->window[(r->w_head + r->w_len) % cap]))
        r->w_len++;
    for (size_t k = first_new; r->w_len > 1 && k < r->w_len; k++)
        read_ahead(r, &r->window[(r->w_head + k) % cap]);
    return r->w_len > 0;
}

/* Sends reply on a route: the identity (and a REQ client's empty delimiter). */
static void send_reply(rpc_t *r, zmq_msg_t *route, int n_route, const mp_buf_t *reply)
{
    for (int i = 0; i < n_route; i++)
        zmq_send(r->router, zmq_msg_data(&route[i]), zmq_msg_size(&route[i]),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (zmq_send(r->router, reply->data, reply->len, ZMQ_DONTWAIT) < 0)
        log_limited(LOG_DEBUG, NULL, "reply not sent: %s", zmq_strerror(zmq_errno()));
}

/* --- durable acknowledgements ----------------------------------------------- */
/* An accepted submit_tx is answered ok only once its record is durable
 * (node.h: the ticket). Served alone (rpc_handle) it waits for that itself;
 * the loop holds the oks of a batch and sends them after ONE wait for the
 * batch's highest ticket, so that a relay burst costs one group commit.
 * Each still goes to its own route; clients match replies by id, so other
 * requests' replies may pass it. */

/* The final reply of an accepted submit_tx once its ticket is durable: the
 * ok, or the error node_settle_tx() gives. */
static void settle_reply(node_t *node, const ack_t *ack, mp_buf_t *reply)
{
    err_t e;
    mp_buf_reset(reply);
    if (node_settle_tx(node, &ack->txid, &e) < 0) {
        proto_error(reply, ack->id, e.code, e.message);
        return;
    }
    proto_open_ok(reply, PROTO_REQ_SUBMIT_TX, ack->id);
    mp_put_cstr(reply, "txid");
    mp_put_bin(reply, ack->txid.b, 32);
}

void rpc_handle(node_t *node, int caller, const uint8_t *request, size_t len, mp_buf_t *reply)
{
    ack_t ack = {0};
    dispatch(node, caller, request, len, reply, &ack);
    if (ack.ticket) {
        node_wait_durable(node, ack.ticket);
        settle_reply(node, &ack, reply);
    }
}

/* Keeps q's route (its frames move) for an ok sent by flush_held(). */
static void hold(rpc_t *r, request_t *q, const ack_t *ack)
{
    held_t *h = &r->held[r->n_held++];
    h->ack = *ack;
    h->n_route = q->n - 1;
    for (int i = 0; i < h->n_route; i++) {
        zmq_msg_init(&h->route[i]);
        zmq_msg_move(&h->route[i], &q->frames[i]);
    }
}

static void flush_held(rpc_t *r)
{
    uint64_t top = 0;
    for (size_t i = 0; i < r->n_held; i++)
        top = r->held[i].ack.ticket > top ? r->held[i].ack.ticket : top;
    if (r->n_held)
        node_wait_durable(r->node, top);
    for (size_t i = 0; i < r->n_held; i++) {
        held_t *h = &r->held[i];
        settle_reply(r->node, &h->ack, &r->reply);
        send_reply(r, h->route, h->n_route, &r->reply);
        for (int k = 0; k < h->n_route; k++)
            zmq_msg_close(&h->route[k]);
    }
    r->n_held = 0;
}

/* --- serving ---------------------------------------------------------------------- */

/* Serves the oldest request of the window and replies on its route (or
 * holds the reply of a submit_tx until its ticket is durable). */
static void serve_one(rpc_t *r)
{
    size_t cap = sizeof r->window / sizeof r->window[0];
    request_t *q = &r->window[r->w_head];
    if (q->n >= 2) {
        zmq_msg_t *payload = &q->frames[q->n - 1];
        ack_t ack = {0};
        dispatch(r->node, q->caller, zmq_msg_data(payload), zmq_msg_size(payload), &r->reply, &ack);
        if (ack.ticket)
            hold(r, q, &ack);
        else
            send_reply(r, q->frames, q->n - 1, &r->reply);
    }
    close_request(q);
    r->w_head = (r->w_head + 1) % cap;
    r->w_len--;
    if (r->w_len == 0)
        r->have_last = false; /* the stream paused: the next block starts one */
}

static void on_serve_timer(void *arg);

/* A batch of requests; what the window still holds is served in the next
 * pass, without waiting (the socket may have nothing new to wake it). */
static void serve(void *arg)
{
    rpc_t *r = arg;
    for (int i = 0; i < RPC_BATCH && fill_window(r); i++)
        serve_one(r);
    flush_held(r);
    if (r->w_len > 0 && r->serve_timer < 0)
        r->serve_timer = reactor_timer(r->reactor, 0, 0, on_serve_timer, r);
}

static void on_serve_timer(void *arg)
{
    rpc_t *r = arg;
    r->serve_timer = -1;
    serve(r);
}

/* After every pass (what it served may have moved the tip: its job goes
 * out now), and at least every RPC_TICK_MS. */
static void on_pass(void *arg)
{
    rpc_t *r = arg;
    node_tick(r->node, clock_ms());
    if (r->tick)
        r->tick(r->tick_ctx);
}

static uint64_t departures(conncap_t *c)
{
    conncap_stats_t st = {0};
    if (c)
        conncap_stats(c, &st);
    return st.disconnected;
}

/* A subscriber that leaves frees its queue in ZeroMQ's io thread, and glibc
 * keeps what was freed (a few hundred megabytes after hundreds of slow
 * subscribers): it is handed back to the system every second while
 * connections leave, and for TRIM_FOR_MS after (a call takes up to ~26 ms). */
static void on_trim(void *arg)
{
    rpc_t *r = arg;
    uint64_t gone = departures(r->rpc_cap) + departures(r->events_cap), now = clock_ms();
    if (gone != r->departures) {
        r->departures = gone;
        r->trim_until_ms = now + TRIM_FOR_MS;
    }
    if (now < r->trim_until_ms)
        malloc_trim(0);
}

void rpc_run(rpc_t *r, volatile sig_atomic_t *stop, void (*tick)(void *ctx), void *ctx)
{
    r->tick = tick;
    r->tick_ctx = ctx;
    int sock = reactor_add_socket(r->reactor, r->router, serve, r);
    int trim = reactor_timer(r->reactor, TRIM_EVERY_MS, TRIM_EVERY_MS, on_trim, r);
    err_t e;
    reactor_on_pass(r->reactor, on_pass, r, RPC_TICK_MS);
    if (sock < 0 || trim < 0)
        LOGERR("the rpc loop has no room for its socket");
    else if (reactor_run(r->reactor, stop, &e) < 0)
        LOGERR("%s", e.message);
    reactor_on_pass(r->reactor, NULL, NULL, 0);
    reactor_remove(r->reactor, sock);
    reactor_timer_cancel(r->reactor, trim);
    reactor_timer_cancel(r->reactor, r->serve_timer);
    r->serve_timer = -1;
}
