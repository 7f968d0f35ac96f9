/* promhttp: the small /metrics server gossipd and minerd run on --metrics.
 *
 * libmicrohttpd in its own polling thread, so a scrape never runs on the
 * daemon's reactor: the render callback runs on that thread and must only
 * read atomics (prom.h) or take a snapshot under the daemon's own mutex.
 * GET /metrics answers the render; anything else is a 404 (or 405) JSON error. */
#ifndef CHAIN_PROMHTTP_H
#define CHAIN_PROMHTTP_H

#include <stddef.h>

#include "err.h"

#define PROMHTTP_CONNECTIONS_MAX 8  /* scrapers at once; more wait in the backlog */
#define PROMHTTP_TIMEOUT_S 5        /* an idle or slow connection is closed after this */
#define PROMHTTP_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Renders the whole text into *text (malloc'd; the server frees it). */
typedef int (*promhttp_render_fn)(void *ctx, char **text, size_t *len, err_t *e);

typedef struct promhttp promhttp_t;

/* Listens on hostport (HOST:PORT, numeric host or a name that resolves) and
 * serves render(ctx). ERR_BAD_REQUEST for a malformed address, ERR_INTERNAL
 * when the port cannot be bound (the message names it). */
int promhttp_start(promhttp_t **out, const char *hostport, promhttp_render_fn render, void *ctx,
                   err_t *e) __attribute__((warn_unused_result));
/* Stops the thread and frees the server; *s becomes NULL (NULL is a no-op). */
void promhttp_stop(promhttp_t **s);

#endif
