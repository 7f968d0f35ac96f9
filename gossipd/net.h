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
 * Inbound connections. libzmq sends a monitor's events from its io thread
 * with a blocking send: a monitor nobody reads in time stops every socket of
 * the context (a flood of TCP connections would freeze the node). So the
 * ROUTER's monitor is read by a thread of net's own, which never does
 * anything slow, and by the loop before it reads the ROUTER (under one lock),
 * so that a connection's end is always seen before what a later connection
 * on the same descriptor says. What the monitor reports feeds a table of the
 * inbound connections (conntab.h): at most net_inbound_t.max_conns at once,
 * at most per_group from one address group; a connection over a bound is
 * shut down at once, before any handshake work. The caller hears of every
 * connection that ended (net_event_in) and marks those whose peer completed a
 * handshake (net_conn_ready).
 *
 * Outbound DEALERs do not reconnect by themselves: a DEALER is one
 * connection's life, so a reconnected peer always starts with a hello, and
 * the address book's backoff decides when to dial again.
 *
 * Sends never block: a full queue or a peer gone is an error the caller
 * handles (NET_FULL, NET_GONE). Not thread-safe: the loop's thread makes
 * every call. */
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
/* a connection that has not finished ZeroMQ's own handshake by then is closed
 * (ZMQ_HANDSHAKE_IVL; ZeroMQ's default is 30 s): the bound on what a socket
 * that connects and says nothing costs before the hello deadline applies */
#define NET_HANDSHAKE_MS 5000
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
                         IPv6 address in its IPv4 form), or "" (ipc://) */
    bool malformed;   /* not one frame of payload: the caller scores it */
} net_msg_t;

/* A socket monitor's event: ZMQ_EVENT_* and its value (a descriptor for
 * ACCEPTED / CONNECTED / DISCONNECTED); for the ROUTER, always DISCONNECTED
 * with the connection's accept order in seq. */
typedef struct {
    uint16_t event;
    int32_t value;
    uint64_t seq;
} net_event_t;

/* The bounds on inbound connections (conntab.h). */
typedef struct {
    size_t max_conns; /* open at once: peers and those not yet past their hello */
    size_t per_group; /* open at once from one address group (local ones: not here) */
} net_inbound_t;

typedef struct {
    uint64_t accepted, refused, evicted; /* since the start (conntab_stats_t) */
    size_t open;                         /* inbound connections held now */
    uint64_t ends_lost; /* ends the loop never heard of: it was too slow to read them */
} net_stats_t;

/* What net calls when a socket is readable: messages or monitor events wait
 * (read them with net_recv_*() and net_event_*()). */
typedef struct {
    void *ctx;
    void (*inbound)(void *ctx);                 /* the ROUTER or its monitor */
    void (*outbound)(void *ctx, uint32_t slot); /* slot's DEALER or its monitor */
} net_handlers_t;

/* The reactor registrations net takes with at most n DEALERs open at once
 * (the ROUTER, each DEALER and its monitor). */
#define NET_REACTOR_IO(n) (1 + 2 * (n))
#define NET_MONITOR_POLL_MS 100
#define NET_ENDS_MAX 4096      /* connection ends held for the loop */

/* Binds the ROUTER on listen_endpoint (tcp:// or ipc://) with room for
 * n_slots outbound DEALERs and the bounds of in, registering its sockets
 * with reactor (which must outlive net, with room for NET_REACTOR_IO() of
 * the DEALERs the caller dials at most: a dial past it fails), and starts
 * the monitor's thread. -1 with e (ZeroMQ's reason) when the bind fails. */
int net_open(net_t **n, void *zctx, reactor_t *reactor, const net_handlers_t *h,
             const char *listen_endpoint, size_t n_slots, const net_inbound_t *in, err_t *e)
    __attribute__((warn_unused_result));
/* Stops the monitor's thread, closes every socket; *n becomes NULL. */
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

/* Reads one monitor event of the ROUTER (the end of an inbound connection)
 * / slot's DEALER: 1 or 0. */
int net_event_in(net_t *n, net_event_t *ev);
int net_event_out(net_t *n, uint32_t slot, net_event_t *ev);

/* The accept order of the inbound connection open on fd from ip (a
 * message's descriptor and address): false when net holds no such
 * connection (it was refused or shut down, or it ended: drop what it said).
 * A message read after its connection ended carries a descriptor that may
 * name a later connection: the address tells them apart, but for local
 * peers, which share theirs. */
bool net_conn_find(net_t *n, int fd, const char *ip, uint64_t *seq);
/* Whether the peer on (fd, seq) completed a handshake: then net never evicts
 * it for a newcomer (the caller's eviction chooses among such peers). */
void net_conn_ready(net_t *n, int fd, uint64_t seq, bool ready);
void net_stats(net_t *n, net_stats_t *st);

/* Whether slot has a DEALER. */
bool net_dialled(const net_t *n, uint32_t slot);

/* Ends the inbound connection (fd, seq). A ROUTER cannot drop one peer, so
 * this shuts its descriptor down (ZMQ_SRCFD); ZeroMQ sees the end of stream
 * and closes the connection itself. Nothing when that connection is no
 * longer open, or when fd is not a connection to our listen address (a
 * number ZeroMQ closed and something else reused). */
void net_kick(net_t *n, int fd, uint64_t seq);

#endif
