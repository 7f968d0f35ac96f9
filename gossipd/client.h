/* client: gossipd's two sockets to chaind (DESIGN §1, §2) — a DEALER to its
 * rpc ROUTER for requests, a SUB to its events PUB.
 *
 * Requests are pipelined: each gets an id that names its slot in a table of
 * CLIENT_MAX_PENDING and a generation, so a reply is matched in O(1) and a
 * reply that comes after its request timed out is dropped. The caller tags
 * each request (what to do with the answer) and gets the tag back with the
 * reply, or with a timeout.
 *
 * Both sockets reconnect by themselves (ZeroMQ) when chaind restarts;
 * heartbeats notice a dead connection. Events carry a per-topic seq: a gap, or
 * a seq that went back (chaind restarted), is reported so the caller
 * re-syncs with a request. Both sockets are registered with the daemon's
 * reactor; readiness reaches the caller through client_handlers_t. Not
 * thread-safe.
 *
 * On a tcp:// endpoint both sockets are CURVE clients with gossipd's key
 * (DESIGN §1); a socket monitor tells a handshake chaind refused, in a
 * rate-limited log line, and the socket dials again ZMQOPT_REDIAL_MS later
 * (libzmq gives a refused endpoint up). */
#ifndef GOSSIP_CLIENT_H
#define GOSSIP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"
#include "mp.h"
#include "proto.h"
#include "reactor.h"
#include "rpckey.h"

#define CLIENT_MAX_PENDING 2048
#define CLIENT_HWM 4096         /* messages queued each way on the rpc socket */
#define CLIENT_EVENTS_HWM 100000 /* events queued (a block event is ~100 bytes) */

/* What a request was for; opaque to the client. */
typedef struct {
    int kind;
    uint32_t slot, gen; /* the peer it serves, when any */
    hash32_t hash;
    uint64_t aux;
} client_tag_t;

typedef struct {
    client_tag_t tag;
    bool timed_out;
    proto_reply_t reply; /* when !timed_out; its body borrows the client's
                            buffer until the next client_recv() */
} client_result_t;

typedef struct client client_t;

/* What the client calls when replies or events wait to be read. */
typedef struct {
    void *ctx;
    void (*replies)(void *ctx); /* read them with client_recv() */
    void (*events)(void *ctx);  /* read them with client_recv_event() */
} client_handlers_t;

/* The reactor registrations a client takes: two sockets, two monitors, and
 * a redial timer for each socket. */
#define CLIENT_REACTOR_IO 4
#define CLIENT_REACTOR_TIMERS 2

/* Connects (ZeroMQ connects lazily: chaind need not be up), subscribes to
 * the topics (NULL-terminated names) and registers both sockets with reactor
 * (which must outlive the client). key (may be NULL; read from key_path,
 * named in the log) is used on tcp:// endpoints. The endpoints and key_path
 * must outlive the client. -1 with e when an endpoint is malformed or the
 * reactor is full. */
int client_open(client_t **c, void *zctx, reactor_t *reactor, const client_handlers_t *h,
                const char *rpc_endpoint, const char *events_endpoint,
                const char *const *topics, const rpckey_client_t *key, const char *key_path,
                err_t *e) __attribute__((warn_unused_result));
void client_close(client_t **c);

/* Starts a request of type in b (reset first): its head with a fresh id and
 * its body map (proto_open_request()). Returns a ticket, or -1 when
 * CLIENT_MAX_PENDING requests are in flight (nothing written). The caller
 * then writes the type's fields and calls client_send() (or
 * client_cancel()) with the ticket. */
int client_begin(client_t *c, mp_buf_t *b, proto_req_t type);
/* Sends the request; its answer (or timeout at deadline_ms) comes back with
 * tag. -1 when it cannot be sent now (chaind's queue is full, the buffer
 * failed): the ticket is released. */
int client_send(client_t *c, int ticket, const mp_buf_t *b, const client_tag_t *tag,
                uint64_t deadline_ms);
void client_cancel(client_t *c, int ticket);
size_t client_pending(const client_t *c);

/* Reads one reply. 1: *out holds a reply to a pending request; 0: nothing
 * left to read now. Replies that match nothing (late, malformed) are logged
 * at debug level and skipped. */
int client_recv(client_t *c, client_result_t *out);
/* Takes one request past its deadline: 1 (out->timed_out set), 0 when none. */
int client_expired(client_t *c, uint64_t now_ms, client_result_t *out);

/* Reads one event. 1: *ev holds it (its body valid until the next call) and
 * *gap tells whether events of its topic were missed; 0: none left now.
 * Malformed events are skipped. */
int client_recv_event(client_t *c, proto_event_t *ev, bool *gap);

#endif
