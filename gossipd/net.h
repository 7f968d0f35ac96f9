/* net: the peer transport (DESIGN §1). A ROUTER bound on the listen endpoint
 * takes inbound peers (the ROUTER names each by a routing id); each outbound
 * peer gets its own DEALER. Every socket has high-water marks (NET_HWM), a
 * 2 MiB message limit (PROTO_MAX_MSG: ZeroMQ drops the connection of a peer
 * that sends more), ZeroMQ heartbeats (a dead TCP connection is noticed in
 * NET_HEARTBEAT_TIMEOUT_MS), and a socket monitor that says who connected
 * and who left. net registers every socket it opens with the daemon's
 * reactor and removes it before closing it, so a socket is polled exactly
 * while it lives; readiness reaches the caller through net_handlers_t.
 *
 * Outbound DEALERs do not reconnect by themselves: a DEALER is one
 * connection's life, so a reconnected peer always starts with a hello, and
 * the address book's backoff decides when to dial again.
 *
 * Sends never block: a full queue or a peer gone is an error the caller
 * handles (NET_FULL, NET_GONE). Not thread-safe. */
#ifndef GOSSIP_NET_H
#define GOSSIP_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "err.h"
#include "reactor.h"

#define NET_HWM 256
#define NET_HEARTBEAT_IVL_MS 2000
#define NET_HEARTBEAT_TIMEOUT_MS 6000
#define NET_ENDPOINT_MAX 300

enum { NET_OK = 0, NET_FULL = -1, NET_GONE = -2 };

typedef struct net net_t;

/* One received peer message. Close it with net_msg_close(). */
typedef struct {
    zmq_msg_t payload;
    uint8_t rid[256]; /* inbound: the sender's routing id */
    size_t rid_len;
    int fd;           /* inbound: the connection's descriptor (ZMQ_SRCFD), or -1 */
    char ip[64];      /* inbound: the sender's IP (Peer-Address; an IPv4-mapped
                         IPv6 address in its IPv4 form), or "" */
    bool malformed;   /* not one frame of payload: the caller scores it */
} net_msg_t;

/* A socket monitor's event: ZMQ_EVENT_* and its value (a descriptor for
 * ACCEPTED / CONNECTED / DISCONNECTED). */
typedef struct {
    uint16_t event;
    int32_t value;
} net_event_t;

/* What net calls when a socket is readable: messages or monitor events wait
 * (read them with net_recv_*() and net_event_*()). */
typedef struct {
    void *ctx;
    void (*inbound)(void *ctx);                 /* the ROUTER or its monitor */
    void (*outbound)(void *ctx, uint32_t slot); /* slot's DEALER or its monitor */
} net_handlers_t;

/* The reactor registrations net takes with at most n DEALERs open at once
 * (the ROUTER and its monitor, each DEALER and its monitor). */
#define NET_REACTOR_IO(n) (2 + 2 * (n))

/* Binds the ROUTER on listen_endpoint (tcp:// or ipc://) with room for
 * n_slots outbound DEALERs, registering its sockets with reactor (which must
 * outlive net, with room for NET_REACTOR_IO() of the DEALERs the caller
 * dials at most: a dial past it fails). -1 with e (ZeroMQ's reason) when the
 * bind fails. */
int net_open(net_t **n, void *zctx, reactor_t *reactor, const net_handlers_t *h,
             const char *listen_endpoint, size_t n_slots, err_t *e)
    __attribute__((warn_unused_result));
/* Closes every socket; *n becomes NULL. */
void net_close(net_t **n);

/* "HOST:PORT" -> "tcp://HOST:PORT"; a tcp:// or ipc:// endpoint is kept.
 * -1 when it is neither or does not fit cap. */
int net_endpoint(char *out, size_t cap, const char *addr);

/* Opens slot's DEALER and connects it to endpoint. -1 with e. */
int net_dial(net_t *n, uint32_t slot, const char *endpoint, err_t *e)
    __attribute__((warn_unused_result));
/* Closes slot's DEALER (unsent messages are dropped). A no-op when none. */
void net_hangup(net_t *n, uint32_t slot);

/* Sends one message to an inbound peer / on slot's DEALER. NET_OK, NET_FULL
 * (its queue is at the high-water mark: the message is dropped) or NET_GONE
 * (the peer is no longer connected). */
int net_send_in(net_t *n, const uint8_t *rid, size_t rid_len, const void *data, size_t len);
int net_send_out(net_t *n, uint32_t slot, const void *data, size_t len);

/* Reads one message from the ROUTER / slot's DEALER: 1, or 0 when none is
 * waiting. On 1 the caller closes m. */
int net_recv_in(net_t *n, net_msg_t *m);
int net_recv_out(net_t *n, uint32_t slot, net_msg_t *m);
void net_msg_close(net_msg_t *m);

/* Reads one monitor event of the ROUTER / slot's DEALER: 1 or 0. */
int net_event_in(net_t *n, net_event_t *ev);
int net_event_out(net_t *n, uint32_t slot, net_event_t *ev);

/* Whether slot has a DEALER. */
bool net_dialled(const net_t *n, uint32_t slot);

/* Ends an inbound connection. A ROUTER cannot drop one peer, so this shuts
 * down the descriptor ZeroMQ reported with that peer's latest message
 * (ZMQ_SRCFD); ZeroMQ sees the end of stream and closes the connection
 * itself. The caller passes a descriptor from a message just received or
 * from a peer it has not seen disconnect, so the number is not yet reused. */
void net_kick(int fd);

#endif
