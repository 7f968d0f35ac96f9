/* sse: the server-sent event streams of GET /events, free of the HTTP
 * transport. chaind's own events (node.h: block, tx) become text/event-stream
 * text for browsers:
 *
 *   event: block               event: tx
 *   data: {"hash":…,"height":N}   data: {"txid":…}
 *
 * each followed by an empty line, and a ": keep-alive" comment line every
 * keepalive interval (15 s in chaind), so that proxies and browsers keep a
 * quiet stream open. Other topics (job, peer.add) are not streamed.
 *
 * Bounds: at most max_clients streams (a join past them is ERR_UNAVAILABLE);
 * each client queues at most SSE_QUEUE_BYTES of text. A client whose queue
 * would overflow (it does not read) loses its stream: it ends, its queue is
 * freed and its slot given up at once, so what it holds never grows. A
 * browser's EventSource reconnects by itself and asks the API again for
 * what it shows.
 *
 * Reading without a thread a client: sse_read hands out what is queued; with
 * nothing queued it calls the client's suspend callback (the transport stops
 * asking), and once text or the end comes the hub calls resume (ask again).
 * Both callbacks run with the hub's lock held, so that a resume never
 * overtakes its suspend; they must not call back into the hub.
 *
 * Thread-safe: every function may be called from any thread. */
#ifndef CHAIND_SSE_H
#define CHAIND_SSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define SSE_QUEUE_BYTES ((size_t)64 << 10)
#define SSE_KEEPALIVE_MS 15000
#define SSE_DEFAULT_CLIENTS 64

typedef struct sse sse_t;
typedef struct sse_client sse_client_t;

typedef struct {
    void (*suspend)(void *ctx);
    void (*resume)(void *ctx);
    void *ctx;
} sse_io_t;

/* A hub for max_clients streams (0: SSE_DEFAULT_CLIENTS) with a keep-alive
 * every keepalive_ms (its thread). ERR_INTERNAL when memory or the thread
 * cannot be had. */
int sse_new(sse_t **h, size_t max_clients, unsigned keepalive_ms, err_t *e)
    __attribute__((warn_unused_result));
/* Ends every stream (each client reads its end, a suspended one is resumed
 * for it) and refuses new ones; stops the keep-alive thread. Call before
 * the transport stops. Safe twice. */
void sse_shutdown(sse_t *h);
/* Frees the hub, and any client still joined; *h becomes NULL. Safe on
 * NULL. */
void sse_destroy(sse_t **h);

/* An event as node.h publishes it (a node_publish_fn: ctx is the hub): body
 * the msgpack map with "seq". Queued for every client; malformed or other
 * topics are dropped. */
void sse_publish(void *hub, const char *topic, const uint8_t *body, size_t len);

/* A new stream; *c is the caller's until sse_leave. io is copied. ERR_
 * UNAVAILABLE when max_clients are joined or the hub is shut down,
 * ERR_INTERNAL when memory runs out. The stream starts with a comment, so
 * that the transport sends its headers at once. */
int sse_join(sse_t *h, const sse_io_t *io, sse_client_t **c, err_t *e)
    __attribute__((warn_unused_result));
/* Copies up to max queued bytes into buf: how many (> 0); 0 when none are
 * queued (io.suspend was called); -1 when the stream has ended (its queue
 * overflowed, or the hub shut down). */
ssize_t sse_read(sse_client_t *c, char *buf, size_t max);
/* Ends a client; *c becomes NULL. Safe on NULL. */
void sse_leave(sse_client_t **c);
/* Streams joined now. */
size_t sse_count(sse_t *h);

#endif
