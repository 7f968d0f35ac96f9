#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"

typedef struct {
    bool used, sent;
    uint32_t gen;
    client_tag_t tag;
    uint64_t deadline_ms;
} pending_t;

#define N_TOPICS 4 /* proto_topic_known() */

struct client {
    void *rpc, *sub;
    pending_t *pending;
    uint32_t *free_slots; /* stack of unused table slots */
    size_t n_pending;
    zmq_msg_t reply_msg, event_msg; /* keep the last reply and event alive */
    bool have_reply, have_event;
    char seen_topic[N_TOPICS][16];
    uint64_t next_seq[N_TOPICS];
    bool seq_known[N_TOPICS];
    size_t expire_at; /* where the next timeout scan resumes */
};

/* An id names the table slot (its low bits) and the slot's generation, so a
 * reply for a slot since reused is told apart. */
#define SLOT_BITS 16

static void set_common(void *s)
{
    int hwm = CLIENT_HWM, linger = 0, ivl = 1000, timeout = 5000, ttl = 5000, rmax = 2000;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &rmax, sizeof rmax);
    int64_t max = PROTO_MAX_MSG + 1024;
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
}

int client_open(client_t **out, void *zctx, const char *rpc_endpoint, const char *events_endpoint,
                const char *const *topics, err_t *e)
{
    *out = NULL;
    client_t *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, ERR_INTERNAL, "out of memory");
    zmq_msg_init(&c->reply_msg);
    zmq_msg_init(&c->event_msg);
    c->pending = calloc(CLIENT_MAX_PENDING, sizeof *c->pending);
    c->free_slots = malloc(CLIENT_MAX_PENDING * sizeof *c->free_slots);
    c->rpc = zmq_socket(zctx, ZMQ_DEALER);
    c->sub = zmq_socket(zctx, ZMQ_SUB);
    if (!c->pending || !c->free_slots || !c->rpc || !c->sub) {
        client_close(&c);
        return err_set(e, ERR_INTERNAL, "cannot create the chaind sockets");
    }
    for (uint32_t i = 0; i < CLIENT_MAX_PENDING; i++)
        c->free_slots[i] = CLIENT_MAX_PENDING - 1 - i;
    set_common(c->rpc);
    set_common(c->sub);
    int hwm = CLIENT_HWM, ehwm = CLIENT_EVENTS_HWM;
    zmq_setsockopt(c->rpc, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(c->sub, ZMQ_RCVHWM, &ehwm, sizeof ehwm);
    for (size_t i = 0; topics && topics[i]; i++)
        zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, topics[i], strlen(topics[i]));
    if (zmq_connect(c->rpc, rpc_endpoint) < 0 || zmq_connect(c->sub, events_endpoint) < 0) {
        int rc = err_set(e, ERR_INTERNAL, "cannot connect to chaind (%s, %s): %s", rpc_endpoint,
                         events_endpoint, zmq_strerror(zmq_errno()));
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

void *client_rpc_socket(client_t *c) { return c->rpc; }
void *client_events_socket(client_t *c) { return c->sub; }
size_t client_pending(const client_t *c) { return c->n_pending; }

static void release(client_t *c, uint32_t slot)
{
    pending_t *p = &c->pending[slot];
    p->used = p->sent = false;
    p->gen++;
    c->free_slots[CLIENT_MAX_PENDING - c->n_pending] = slot;
    c->n_pending--;
}

int client_begin(client_t *c, mp_buf_t *b, const char *type, uint32_t n_fields)
{
    if (c->n_pending == CLIENT_MAX_PENDING)
        return -1;
    uint32_t slot = c->free_slots[CLIENT_MAX_PENDING - c->n_pending - 1];
    c->n_pending++;
    pending_t *p = &c->pending[slot];
    p->used = true;
    p->sent = false;
    mp_buf_reset(b);
    proto_begin_request(b, type, ((uint64_t)p->gen << SLOT_BITS) | slot, n_fields);
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
            /* chaind answers in one frame: drain anything else */
            LOGDEBUG("a multi-frame reply from chaind, dropped");
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

static int topic_index(client_t *c, const char *topic)
{
    for (int i = 0; i < N_TOPICS; i++) {
        if (c->seen_topic[i][0] == '\0') {
            snprintf(c->seen_topic[i], sizeof c->seen_topic[i], "%s", topic);
            return i;
        }
        if (strcmp(c->seen_topic[i], topic) == 0)
            return i;
    }
    return -1; /* proto_decode_event() knows only N_TOPICS topics */
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
        while (zmq_msg_more(&c->event_msg)) { /* an event has two frames: drop extras */
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            int rc = zmq_msg_recv(&extra, c->sub, ZMQ_DONTWAIT);
            zmq_msg_close(&extra);
            if (rc < 0)
                break;
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
        int t = topic_index(c, ev->topic);
        if (t < 0)
            continue;
        *gap = c->seq_known[t] && ev->seq != c->next_seq[t];
        c->seq_known[t] = true;
        c->next_seq[t] = ev->seq + 1;
        return 1;
    }
}
