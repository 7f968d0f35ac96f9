/* rpc: chaind's ZeroMQ side (DESIGN §1, §2) — the rpc ROUTER that minerd and
 * gossipd send requests to, the events PUB, and the loop that serves them.
 *
 * One thread runs rpc_run(), a reactor (reactor.h) with the ROUTER; the
 * publisher (used by the node from any thread) serialises its
 * sends with a mutex. Requests are dispatched by type through one table
 * ({handler, read-ahead hook} a proto_req_t); every reply and event is
 * checked against its schema in debug builds (proto_assert()). Every socket
 * has a high-water mark and the ROUTER a maximum message size, so no queue
 * grows without bound. */
#ifndef CHAIND_RPC_H
#define CHAIND_RPC_H

#include <signal.h>

#include "err.h"
#include "mp.h"
#include "node.h"

typedef struct rpc rpc_t;

/* Binds both endpoints (tcp:// or ipc://) and sets itself as the node's
 * publisher. ERR_INTERNAL with ZeroMQ's reason when a bind fails. */
int rpc_open(rpc_t **r, node_t *node, const char *rpc_endpoint, const char *events_endpoint,
             err_t *e) __attribute__((warn_unused_result));
/* Serves requests and ticks the node (after each batch, and at least every
 * 100 ms) until *stop is set; tick (may be NULL) is called with it (the
 * daemon's watchdog). */
void rpc_run(rpc_t *r, volatile sig_atomic_t *stop, void (*tick)(void *ctx), void *ctx);
/* Unsets the publisher, closes the sockets and the context. */
void rpc_close(rpc_t **r);

/* Answers one request payload: writes the reply payload into reply, which is
 * emptied first (an "error" reply for anything malformed). The loop's
 * handler, public for tests. */
void rpc_handle(node_t *node, const uint8_t *request, size_t len, mp_buf_t *reply);

#endif
