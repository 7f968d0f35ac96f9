#include "sse.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hex.h"
#include "log.h"
#include "proto.h"

#define EVENT_TEXT_MAX 256 /* the longest event's text: a block's, about 130 bytes */

static const char hello[] = ": chaind events\n\n";
static const char keepalive[] = ": keep-alive\n\n";

struct sse_client {
    sse_t *hub;
    sse_io_t io;
    char *ring; /* SSE_QUEUE_BYTES of queued text from head, len of them */
    size_t head, len;
    bool waiting; /* io.suspend called, no resume since */
    bool ended;
    bool linked;  /* in the hub's list, holding a slot */
    sse_client_t *prev, *next;
};

struct sse {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the keep-alive thread's: shutdown */
    pthread_t ticker;
    bool ticking, stopping;
    unsigned keepalive_ms;
    size_t max_clients, n_clients;
    sse_client_t *clients;
};

/* --- one client's queue (the hub's lock held) ----------------------------- */

static void resume(sse_client_t *c)
{
    if (c->waiting) {
        c->waiting = false;
        c->io.resume(c->io.ctx);
    }
}

static void end_stream(sse_client_t *c)
{
    c->ended = true;
    resume(c);
}

static void unlink_client(sse_client_t *c)
{
    sse_t *h = c->hub;
    if (!c->linked)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->linked = false;
    h->n_clients--;
}

/* Queues text. A client with no room left for it loses its stream: its
 * queue and its slot go at once, though the transport may hold the
 * connection until it times out (a client that does not read cannot be sent
 * the stream's end either). */
static void push(sse_client_t *c, const char *text, size_t len)
{
    if (c->ended)
        return;
    if (len > SSE_QUEUE_BYTES - c->len) {
        LOGDEBUG("sse: a client that does not read lost its event stream");
        end_stream(c);
        unlink_client(c);
        free(c->ring);
        c->ring = NULL;
        c->len = 0;
        return;
    }
    size_t tail = (c->head + c->len) % SSE_QUEUE_BYTES, first = SSE_QUEUE_BYTES - tail;
    if (first > len)
        first = len;
    memcpy(c->ring + tail, text, first);
    memcpy(c->ring, text + first, len - first);
    c->len += len;
    resume(c);
}

static void push_all(sse_t *h, const char *text, size_t len)
{
    for (sse_client_t *c = h->clients, *next; c; c = next) {
        next = c->next; /* push may unlink c */
        push(c, text, len);
    }
}

/* --- the hub ----------------------------------------------------------------- */

/* Sends a keep-alive to every client each keepalive_ms until shutdown. */
static void *tick(void *arg)
{
    sse_t *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_sec += h->keepalive_ms / 1000;
        at.tv_nsec += (long)(h->keepalive_ms % 1000) * 1000000L;
        if (at.tv_nsec >= 1000000000L) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!h->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&h->wake, &h->lock, &at);
        if (!h->stopping)
            push_all(h, keepalive, sizeof keepalive - 1);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int sse_new(sse_t **out, size_t max_clients, unsigned keepalive_ms, err_t *e)
{
    *out = NULL;
    sse_t *h = calloc(1, sizeof *h);
    if (!h)
        return err_set(e, ERR_INTERNAL, "out of memory");
    h->max_clients = max_clients ? max_clients : SSE_DEFAULT_CLIENTS;
    h->keepalive_ms = keepalive_ms ? keepalive_ms : SSE_KEEPALIVE_MS;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&h->ticker, NULL, tick, h) != 0) {
        sse_destroy(&h);
        return err_set(e, ERR_INTERNAL, "cannot start the event streams' keep-alive thread");
    }
    h->ticking = true;
    *out = h;
    return 0;
}

void sse_shutdown(sse_t *h)
{
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    for (sse_client_t *c = h->clients; c; c = c->next)
        end_stream(c);
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    if (h->ticking)
        pthread_join(h->ticker, NULL);
    h->ticking = false;
}

void sse_destroy(sse_t **hp)
{
    sse_t *h = *hp;
    if (!h)
        return;
    sse_shutdown(h);
    while (h->clients) {
        sse_client_t *c = h->clients;
        sse_leave(&c);
    }
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
    *hp = NULL;
}

size_t sse_count(sse_t *h)
{
    pthread_mutex_lock(&h->lock);
    size_t n = h->n_clients;
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* The text of a block or tx event; 0 for any other topic or a body that
 * does not decode. */
static size_t event_text(char *out, size_t cap, const char *topic, const uint8_t *body,
                         size_t len)
{
    proto_event_t ev;
    uint8_t hash[32];
    char hex[65];
    uint64_t height;
    if (proto_decode_event(&ev, topic, strlen(topic), body, len, NULL) < 0)
        return 0;
    int n = 0;
    if (ev.type == PROTO_TOPIC_BLOCK && proto_get_bin_exact(&ev.body, "hash", hash, 32) == 0 &&
        proto_get_uint(&ev.body, "height", &height) == 0) {
        hex_encode(hex, hash, 32);
        n = snprintf(out, cap, "event: block\ndata: {\"hash\":\"%s\",\"height\":%" PRIu64 "}\n\n",
                     hex, height);
    } else if (ev.type == PROTO_TOPIC_TX && proto_get_bin_exact(&ev.body, "txid", hash, 32) == 0) {
        hex_encode(hex, hash, 32);
        n = snprintf(out, cap, "event: tx\ndata: {\"txid\":\"%s\"}\n\n", hex);
    }
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void sse_publish(void *hub, const char *topic, const uint8_t *body, size_t len)
{
    sse_t *h = hub;
    char text[EVENT_TEXT_MAX];
    size_t n = event_text(text, sizeof text, topic, body, len);
    if (n == 0)
        return;
    pthread_mutex_lock(&h->lock);
    push_all(h, text, n);
    pthread_mutex_unlock(&h->lock);
}

/* --- clients ------------------------------------------------------------------ */

int sse_join(sse_t *h, const sse_io_t *io, sse_client_t **out, err_t *e)
{
    *out = NULL;
    sse_client_t *c = calloc(1, sizeof *c);
    if (!c || !(c->ring = malloc(SSE_QUEUE_BYTES))) {
        free(c);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    c->hub = h;
    c->io = *io;
    pthread_mutex_lock(&h->lock);
    bool full = h->stopping || h->n_clients >= h->max_clients;
    if (!full) {
        c->next = h->clients;
        if (h->clients)
            h->clients->prev = c;
        h->clients = c;
        h->n_clients++;
        c->linked = true;
        push(c, hello, sizeof hello - 1);
    }
    pthread_mutex_unlock(&h->lock);
    if (full) {
        free(c->ring);
        free(c);
        return err_set(e, ERR_UNAVAILABLE, "all %zu event streams are taken: poll GET /status "
                       "instead, or try again later", h->max_clients);
    }
    *out = c;
    return 0;
}

ssize_t sse_read(sse_client_t *c, char *buf, size_t max)
{
    sse_t *h = c->hub;
    pthread_mutex_lock(&h->lock);
    ssize_t n = 0;
    if (c->ended) {
        n = -1;
    } else if (c->len == 0) {
        c->waiting = true;
        c->io.suspend(c->io.ctx);
    } else {
        size_t take = c->len < max ? c->len : max, first = SSE_QUEUE_BYTES - c->head;
        if (first > take)
            first = take;
        memcpy(buf, c->ring + c->head, first);
        memcpy(buf + first, c->ring, take - first);
        c->head = (c->head + take) % SSE_QUEUE_BYTES;
        c->len -= take;
        n = (ssize_t)take;
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

void sse_leave(sse_client_t **cp)
{
    sse_client_t *c = *cp;
    if (!c)
        return;
    sse_t *h = c->hub;
    pthread_mutex_lock(&h->lock);
    unlink_client(c);
    pthread_mutex_unlock(&h->lock);
    free(c->ring);
    free(c);
    *cp = NULL;
}
