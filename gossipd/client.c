#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "zmqopt.h"

typedef struct {
    bool used, sent;
    uint32_t gen;
    proto_req_t type;
    client_tag_t tag;
    uint64_t deadline_ms;
} pending_t;

/* A socket's monitor, read for failed handshakes only (a refused key). */
typedef struct {
    void *sock, *mon;
    const char *endpoint;
    int id;    /* its reactor registration */
    int timer; /* a redial due: -1 when none */
} watch_t;

struct client {
    void *rpc, *sub;
    reactor_t *reactor;
    client_handlers_t h;
    int rpc_id, sub_id; /* reactor registrations */
    watch_t watch[2];   /* rpc, sub */
    const char *key_path;
    pending_t *pending;
    uint32_t *free_slots; /* stack of unused table slots */
    size_t n_pending;
    zmq_msg_t reply_msg, event_msg; /* keep the last reply and event alive */
    uint64_t next_seq[PROTO_TOPIC_COUNT];
    bool seq_known[PROTO_TOPIC_COUNT];
    size_t expire_at; /* where the next timeout scan resumes */
};

/* An id names the table slot (its low bits) and the slot's generation, so a
 * reply for a slot since reused is told apart. */
#define SLOT_BITS 16

/* The options of a socket to endpoint; the CURVE key (may be NULL) is
 * used on a tcp:// endpoint. */
static int set_options(void *s, int rcvhwm, const char *const *topics, const char *endpoint,
                       const rpckey_client_t *key, err_t *e)
{
    zmqopt_t o = {.sndhwm = CLIENT_HWM, .rcvhwm = rcvhwm, .max_msg = PROTO_MAX_MSG + 1024,
                  .heartbeat_ivl_ms = 1000, .heartbeat_timeout_ms = 5000,
                  .heartbeat_ttl_ms = 5000, .reconnect_ivl_max_ms = 2000, .subscribe = topics,
                  .curve_client = rpckey_endpoint_curve(endpoint) ? key : NULL};
    return zmqopt_apply(s, &o, e);
}

static void on_redial_rpc(void *arg)
{
    client_t *c = arg;
    c->watch[0].timer = -1;
    zmqopt_redial(c->watch[0].sock, c->watch[0].endpoint);
}

static void on_redial_sub(void *arg)
{
    client_t *c = arg;
    c->watch[1].timer = -1;
    zmqopt_redial(c->watch[1].sock, c->watch[1].endpoint);
}

/* A failed handshake is logged; one libzmq gives up on is dialled again
 * later (a key chaind lists after a SIGHUP then gets in). */
static void on_watch(client_t *c, watch_t *w, reactor_fn redial_fn)
{
    uint16_t event;
    int32_t value;
    while (zmqopt_monitor_read(w->mon, &event, &value)) {
        zmqopt_log_handshake(w->endpoint, c->key_path, event, value);
        if ((event & ZMQOPT_GIVEN_UP) && w->timer < 0)
            w->timer = reactor_timer(c->reactor, ZMQOPT_REDIAL_MS, 0, redial_fn, c);
    }
}

static void on_watch_rpc(void *arg)
{
    client_t *c = arg;
    on_watch(c, &c->watch[0], on_redial_rpc);
}

static void on_watch_sub(void *arg)
{
    client_t *c = arg;
    on_watch(c, &c->watch[1], on_redial_sub);
}

/* A monitor of sock (to endpoint) for failed handshakes, read by the loop:
 * a few events a reconnection at most, so the loop keeps up. */
static int watch(client_t *c, watch_t *w, void *zctx, void *sock, const char *endpoint,
                 reactor_fn fn, err_t *e)
{
    w->sock = sock;
    w->endpoint = endpoint;
    w->mon = zmqopt_monitor(zctx, sock, ZMQOPT_HANDSHAKE_FAILED, e);
    if (!w->mon)
        return -(int)e->code;
    if ((w->id = reactor_add_socket(c->reactor, w->mon, fn, c)) < 0)
        return err_set(e, ERR_INTERNAL, "the event loop has no room for chaind's monitors");
    return 0;
}

static void on_rpc(void *arg)
{
    client_t *c = arg;
    c->h.replies(c->h.ctx);
}

static void on_sub(void *arg)
{
    client_t *c = arg;
    c->h.events(c->h.ctx);
}

int client_open(client_t **out, void *zctx, reactor_t *reactor, const client_handlers_t *h,
                const char *rpc_endpoint, const char *events_endpoint,
                const char *const *topics, const rpckey_client_t *key, const char *key_path,
                err_t *e)
{
    *out = NULL;
    client_t *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, ERR_INTERNAL, "out of memory");
    zmq_msg_init(&c->reply_msg);
    zmq_msg_init(&c->event_msg);
    c->reactor = reactor;
    c->h = *h;
    c->rpc_id = c->sub_id = c->watch[0].id = c->watch[1].id = -1;
    c->watch[0].timer = c->watch[1].timer = -1;
    c->key_path = key_path;
    c->pending = calloc(CLIENT_MAX_PENDING, sizeof *c->pending);
    c->free_slots = malloc(CLIENT_MAX_PENDING * sizeof *c->free_slots);
    c->rpc = zmq_socket(zctx, ZMQ_DEALER);
    c->sub = zmq_socket(zctx, ZMQ_SUB);
    int rc = !c->pending || !c->free_slots || !c->rpc || !c->sub
                 ? err_set(e, ERR_INTERNAL, "cannot create the chaind sockets")
                 : 0;
    for (uint32_t i = 0; rc == 0 && i < CLIENT_MAX_PENDING; i++)
        c->free_slots[i] = CLIENT_MAX_PENDING - 1 - i;
    if (rc == 0 && (rc = set_options(c->rpc, CLIENT_HWM, NULL, rpc_endpoint, key, e)) == 0)
        rc = set_options(c->sub, CLIENT_EVENTS_HWM, topics, events_endpoint, key, e);
    if (rc == 0 && (rc = watch(c, &c->watch[0], zctx, c->rpc, rpc_endpoint, on_watch_rpc, e)) == 0)
        rc = watch(c, &c->watch[1], zctx, c->sub, events_endpoint, on_watch_sub, e);
    if (rc == 0 && (zmq_connect(c->rpc, rpc_endpoint) < 0 ||
                    zmq_connect(c->sub, events_endpoint) < 0))
        rc = err_set(e, ERR_INTERNAL, "cannot connect to chaind (%s, %s): %s", rpc_endpoint,
                     events_endpoint, zmq_strerror(zmq_errno()));
    if (rc == 0 && ((c->rpc_id = reactor_add_socket(reactor, c->rpc, on_rpc, c)) < 0 ||
                    (c->sub_id = reactor_add_socket(reactor, c->sub, on_sub, c)) < 0))
        rc = err_set(e, ERR_INTERNAL, "the event loop has no room for chaind's sockets");
    if (rc < 0) {
        client_close(&c);
        return rc;
    }
    *out = c;
    return 0;
}

void client_close(client_t **cp)
{
    client_t *c = *cp;
    if (!c)
        return;
    reactor_remove(c->reactor, c->rpc_id);
    reactor_remove(c->reactor, c->sub_id);
    for (int i = 0; i < 2; i++) {
        reactor_remove(c->reactor, c->watch[i].id);
        reactor_timer_cancel(c->reactor, c->watch[i].timer);
    }
    zmqopt_monitor_close(c->rpc, c->watch[0].mon);
    zmqopt_monitor_close(c->sub, c->watch[1].mon);
    if (c->rpc)
        zmq_close(c->rpc);
    if (c->sub)
        zmq_close(c->sub);
    zmq_msg_close(&c->reply_msg);
    zmq_msg_close(&c->event_msg);
    free(c->pending);
    free(c->free_slots);
    free(c);
    *cp = NULL;
}

size_t client_pending(const client_t *c) { return c->n_pending; }

static void release(client_t *c, uint32_t slot)
{
    pending_t *p = &c->pending[slot];
    p->used = p->sent = false;
    p->gen++;
    c->free_slots[CLIENT_MAX_PENDING - c->n_pending] = slot;
    c->n_pending--;
}

int client_begin(client_t *c, mp_buf_t *b, proto_req_t type)
{
    if (c->n_pending == CLIENT_MAX_PENDING)
        return -1;
    uint32_t slot = c->free_slots[CLIENT_MAX_PENDING - c->n_pending - 1];
    c->n_pending++;
    pending_t *p = &c->pending[slot];
    p->used = true;
    p->sent = false;
    p->type = type;
    mp_buf_reset(b);
    proto_open_request(b, type, ((uint64_t)p->gen << SLOT_BITS) | slot);
    return (int)slot;
}

void client_cancel(client_t *c, int ticket)
{
    if (ticket >= 0 && ticket < CLIENT_MAX_PENDING && c->pending[ticket].used)
        release(c, (uint32_t)ticket);
}

int client_send(client_t *c, int ticket, const mp_buf_t *b, const client_tag_t *tag,
                uint64_t deadline_ms)
{
    pending_t *p = &c->pending[ticket];
    if (mp_buf_ok(b))
        proto_assert(PROTO_REQUEST, (int)p->type, b->data, b->len);
    if (!mp_buf_ok(b) || zmq_send(c->rpc, b->data, b->len, ZMQ_DONTWAIT) < 0) {
        if (mp_buf_ok(b))
            LOGDEBUG("request to chaind not sent: %s", zmq_strerror(zmq_errno()));
        release(c, (uint32_t)ticket);
        return -1;
    }
    p->sent = true;
    p->tag = *tag;
    p->deadline_ms = deadline_ms;
    return 0;
}

int client_recv(client_t *c, client_result_t *out)
{
    for (;;) {
        zmq_msg_close(&c->reply_msg);
        zmq_msg_init(&c->reply_msg);
        if (zmq_msg_recv(&c->reply_msg, c->rpc, ZMQ_DONTWAIT) < 0)
            return 0;
        err_t e;
        memset(out, 0, sizeof *out);
        if (zmq_msg_more(&c->reply_msg)) {
            /* chaind answers in one frame: drain the rest of this message,
             * whose last frame is no reply of its own */
            LOGDEBUG("a multi-frame reply from chaind, dropped");
            while (zmq_msg_more(&c->reply_msg) &&
                   zmq_msg_recv(&c->reply_msg, c->rpc, ZMQ_DONTWAIT) >= 0)
                ;
            continue;
        }
        if (proto_decode_reply(&out->reply, zmq_msg_data(&c->reply_msg),
                               zmq_msg_size(&c->reply_msg), &e) < 0) {
            LOGWARN("a malformed reply from chaind: %s", e.message);
            continue;
        }
        uint64_t id = out->reply.id;
        uint32_t slot = (uint32_t)(id & ((1u << SLOT_BITS) - 1));
        if (slot >= CLIENT_MAX_PENDING || !c->pending[slot].sent ||
            c->pending[slot].gen != (uint32_t)(id >> SLOT_BITS)) {
            LOGDEBUG("a late reply from chaind (id %llu), dropped", (unsigned long long)id);
            continue;
        }
        out->tag = c->pending[slot].tag;
        release(c, slot);
        return 1;
    }
}

int client_expired(client_t *c, uint64_t now_ms, client_result_t *out)
{
    if (c->n_pending == 0)
        return 0;
    for (size_t k = 0; k < CLIENT_MAX_PENDING; k++) {
        uint32_t slot = (uint32_t)((c->expire_at + k) % CLIENT_MAX_PENDING);
        pending_t *p = &c->pending[slot];
        if (p->sent && p->deadline_ms <= now_ms) {
            memset(out, 0, sizeof *out);
            out->tag = p->tag;
            out->timed_out = true;
            release(c, slot);
            c->expire_at = slot;
            return 1;
        }
    }
    return 0;
}

int client_recv_event(client_t *c, proto_event_t *ev, bool *gap)
{
    for (;;) {
        zmq_msg_t topic;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, c->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            return 0;
        }
        bool two = zmq_msg_more(&topic);
        zmq_msg_close(&c->event_msg);
        zmq_msg_init(&c->event_msg);
        if (two && zmq_msg_recv(&c->event_msg, c->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            continue;
        }
        /* an event has two frames: drop extras, up to this message's last
         * (the next event's frames are not extras) */
        for (bool more = zmq_msg_more(&c->event_msg); more;) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            more = zmq_msg_recv(&extra, c->sub, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&extra);
            zmq_msg_close(&extra);
        }
        err_t e;
        int rc = two ? proto_decode_event(ev, zmq_msg_data(&topic), zmq_msg_size(&topic),
                                          zmq_msg_data(&c->event_msg),
                                          zmq_msg_size(&c->event_msg), &e)
                     : -1;
        zmq_msg_close(&topic);
        if (rc < 0) {
            LOGDEBUG("a malformed event from chaind, dropped");
            continue;
        }
        proto_topic_t t = ev->type;
        *gap = c->seq_known[t] && ev->seq != c->next_seq[t];
        c->seq_known[t] = true;
        c->next_seq[t] = ev->seq + 1;
        return 1;
    }
}
