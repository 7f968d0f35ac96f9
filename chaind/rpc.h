/* rpc: chaind's ZeroMQ side (DESIGN §1, §2) — the rpc ROUTER that minerd and
 * gossipd send requests to, the events PUB, and the loop that serves them.
 *
 * One thread runs rpc_run(), a reactor (reactor.h) with the ROUTER; the
 * publisher (used by the node from any thread) serialises its
 * sends with a mutex. Requests are dispatched by type through one table
 * ({handler, read-ahead hook} a proto_req_t); every reply and event is
 * checked against its schema in debug builds (proto_assert()).
 *
 * The control plane (docs/PROTOCOL.md, "Control plane"): a tcp:// endpoint
 * is a CURVE server whose ZAP handler (zap.h) admits the keys of the clients
 * file; each request carries its connection's role, and the role table beside
 * the dispatch table says which requests a role may make (others are
 * answered `forbidden`). An ipc:// endpoint is guarded by its socket file
 * (mode 0660, the group's) and allows every request. Any other transport is
 * refused.
 *
 * Bounds: every socket has high-water marks both ways and the ROUTER a
 * maximum message size; tcp:// connections are capped (conncap.h) and must
 * finish their handshake within 2 s; ZMTP heartbeats drop a peer silent for
 * 6 s (a subscriber that stops reading); the heap is trimmed while
 * connections leave. The numbers are in docs/PROTOCOL.md. */
#ifndef CHAIND_RPC_H
#define CHAIND_RPC_H

#include <signal.h>
#include <stdbool.h>

#include "err.h"
#include "mp.h"
#include "node.h"
#include "proto.h"
#include "rpckey.h"

/* Descriptors kept aside for everything but the capped connections (the
 * research report's budget): ~16 at rest (stdio, LMDB, ZeroMQ's context,
 * io thread and sockets, the listeners), 2 a monitor, the ZAP socket, 16
 * transient (files, the mempool's save), 32 for connections closing, and
 * 256 for accepts that overshoot a cap before its thread acts. */
#define RPC_FD_RESERVE 325

typedef struct {
    const char *rpc_endpoint, *events_endpoint; /* tcp:// or ipc:// (a path) */
    const char *keys_dir;         /* the key set (rpckey.h), made at first start */
    unsigned max_rpc_connections; /* tcp:// rpc connections at once; 0: no cap */
    unsigned max_subscribers;     /* tcp:// events connections at once; 0: no cap */
    volatile sig_atomic_t *reload; /* set (SIGHUP): the clients file is read again; may be NULL */
} rpc_config_t;

/* Who a request comes from: a role of rpckey.h (the key its connection was
 * admitted with), or RPC_LOCAL over ipc://, where every request is allowed;
 * -1 for a connection without a role, which may ask nothing. */
#define RPC_LOCAL ((int)RPCKEY_ROLE_COUNT_)

typedef struct rpc rpc_t;

/* Makes the key set in cfg->keys_dir when there is none; for tcp://
 * endpoints loads its server key and starts the ZAP handler; binds both
 * endpoints and sets itself as the node's publisher. ERR_BAD_KEY for a key
 * file that cannot be used, ERR_INTERNAL with ZeroMQ's reason when a bind
 * fails or an endpoint is of another transport. */
int rpc_open(rpc_t **r, node_t *node, const rpc_config_t *cfg, err_t *e)
    __attribute__((warn_unused_result));
/* Serves requests and ticks the node (after each batch, and at least every
 * 100 ms) until *stop is set; tick (may be NULL) is called with it (the
 * daemon's watchdog). */
void rpc_run(rpc_t *r, volatile sig_atomic_t *stop, void (*tick)(void *ctx), void *ctx);
/* Unsets the publisher, closes the sockets, the ZAP handler and the context. */
void rpc_close(rpc_t **r);

/* The descriptors cfg's caps and RPC_FD_RESERVE take: what the HTTP server
 * must leave of the process's limit. */
unsigned rpc_fds(const rpc_config_t *cfg);

/* Whether caller may make requests of type (the role table). */
bool rpc_allowed(int caller, proto_req_t type);

/* Answers one request payload from caller: writes the reply payload into
 * reply, which is emptied first (an "error" reply for anything malformed,
 * `forbidden` for a request the caller's role may not make). The loop's
 * handler, public for tests. */
void rpc_handle(node_t *node, int caller, const uint8_t *request, size_t len, mp_buf_t *reply);

#endif
