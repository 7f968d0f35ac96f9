/* api: what each route of chaind's HTTP API answers (DESIGN §4.3; the
 * routes and their answers are listed in http.h), free of the transport:
 * http.c matches the route, reads and parses the body, and hands the
 * request over as an api_request_t; a handler reads the store (a snapshot
 * of its own, without the node's lock) or goes through node.h, and fills an
 * api_answer_t that http.c sends.
 *
 * Handlers are thread-safe (the HTTP server calls them from its pool of
 * threads): each returns 0 with *out filled, or a negative err code with e
 * set, answered with that code's HTTP status (common/err.h). A rejected
 * request changes nothing. */
#ifndef CHAIND_API_H
#define CHAIND_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "metrics.h"
#include "node.h"

typedef struct api api_t;

typedef struct {
    const char *arg; /* the path segment after a prefix route ("/block/<arg>"), else NULL */
    json_t *body;    /* a POST's body: a JSON object, borrowed; NULL for a GET */
    /* A query parameter: true with *value (borrowed, *len bytes; NULL for a
     * key given without "=") when present, false when absent. */
    bool (*query)(void *ctx, const char *key, const char **value, size_t *len);
    void *query_ctx;
    metrics_http_t http; /* what the server counted so far (/metrics) */
} api_request_t;

/* An answer: json (a reference the transport takes) or, when content_type is
 * set, text (malloc'd, taken too). A handler that returns 0 with json NULL
 * ran out of memory building it. A nonzero ticket holds the answer (POST
 * /transactions): the transport sends it only once node_durable() reaches
 * the ticket, and only as api_settle() leaves it. */
typedef struct {
    unsigned status;
    json_t *json;
    const char *content_type;
    char *text;
    size_t text_len;
    uint64_t ticket;
    hash32_t txid; /* of a held answer */
} api_answer_t;

typedef int (*api_handler_t)(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);

/* The routes' shared state for node (borrowed: it outlives *a); version is
 * copied. ERR_INTERNAL when memory runs out. */
int api_new(api_t **a, node_t *node, const char *version, err_t *e)
    __attribute__((warn_unused_result));
/* *a becomes NULL; safe on NULL. */
void api_destroy(api_t **a);

/* GET handlers. */
int api_get_blocks(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_block(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_tx(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_utxo(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
/* The digest of the UTXO set at the tip, computed on one snapshot (so
 * height, tip and digest agree) and cached by tip hash; one computation at
 * a time (store_utxo_stats: about 0.1 s a million coins in memory). */
int api_get_utxo_set(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_peers(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_status(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_mempool(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_metrics(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_healthz(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_readyz(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
/* A held answer, once its ticket is durable: 0 to send it as it is, or
 * (the transaction left the mempool meanwhile: node_settle_tx) an error to
 * answer instead, with out->json released. */
int api_settle(api_t *a, api_answer_t *out, err_t *e);
/* The explorer's routes (http.h lists their answers). */
int api_get_summaries(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_block_txs(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_address_txs(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_histogram(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_recent(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_get_search(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
/* POST handlers: q->body is set. */
int api_post_block(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_post_tx(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);
int api_post_advert(api_t *a, const api_request_t *q, api_answer_t *out, err_t *e);

#endif
