/* zmqopt: how every ZeroMQ socket of the daemons is set up — its options in
 * one struct applied by one function, its socket monitor — and the one way a
 * message of unwanted frames is dropped.
 *
 * Every socket has high-water marks both ways (no queue without a bound) and
 * ZMQ_LINGER 0: a closing socket drops what it has not sent instead of
 * holding the process (a peer that reconnects asks again).
 *
 * This is where a socket's security will be set too: a time limit on the
 * ZeroMQ handshake (ZMQ_HANDSHAKE_IVL, so a connection that never completes
 * one costs nothing lasting) and the CURVE keys (ZMQ_CURVE_SERVER with our
 * secret key on chaind's rpc and events sockets, whose ZAP handler checks the
 * client keys of DESIGN §1; ZMQ_CURVE_SERVERKEY and a client key pair on
 * gossipd's and minerd's sockets) join zmqopt_t as fields, applied here
 * before the caller binds or connects. */
#ifndef CHAIN_ZMQOPT_H
#define CHAIN_ZMQOPT_H

#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "err.h"

typedef struct {
    int sndhwm, rcvhwm;       /* messages queued each way; both must be > 0 */
    int64_t max_msg;          /* ZMQ_MAXMSGSIZE: a bigger inbound message ends the
                                 connection; 0: no limit */
    int heartbeat_ivl_ms;     /* ZMTP pings (ZMQ_HEARTBEAT_IVL); 0: none */
    int heartbeat_timeout_ms; /* no traffic this long after a ping: connection dead */
    int heartbeat_ttl_ms;     /* what the other side is told to wait for our pings */
    int reconnect_ivl_ms;     /* 0: ZeroMQ's default (100 ms); -1: never reconnect */
    int reconnect_ivl_max_ms; /* the backoff's cap; 0: no backoff */
    bool ipv6;                /* dual-stack tcp:// (IPv4 peers appear as ::ffff:a.b.c.d) */
    bool router_mandatory;    /* ROUTER: a send to a peer that left fails (EHOSTUNREACH) */
    const char *const *subscribe; /* SUB: topics, NULL-terminated; NULL: none */
} zmqopt_t;

/* Sets o's options on sock, before it binds or connects. ERR_INTERNAL with
 * the option and ZeroMQ's reason when one is refused (or a high-water mark
 * is not positive). */
int zmqopt_apply(void *sock, const zmqopt_t *o, err_t *e) __attribute__((warn_unused_result));

/* Monitor events held unread at most. libzmq sends them from its io thread
 * with a blocking send: a full queue stops every socket of the context
 * until the reader catches up, so there is room for floods (~8 MB). */
#define ZMQOPT_MONITOR_HWM 65536

/* A PAIR socket of zctx that receives sock's monitor events (a mask of
 * ZMQ_EVENT_*), on an inproc endpoint of its own, with room for
 * ZMQOPT_MONITOR_HWM of them. The caller polls it and reads it with
 * zmqopt_monitor_read(). NULL with e (ZeroMQ's reason). */
void *zmqopt_monitor(void *zctx, void *sock, int events, err_t *e);
/* Reads one event without waiting: 1 with *event (ZMQ_EVENT_*) and *value
 * (a descriptor for ACCEPTED, CONNECTED, DISCONNECTED), 0 when none waits.
 * Malformed frames are skipped. */
int zmqopt_monitor_read(void *mon, uint16_t *event, int32_t *value);
/* Stops monitoring sock and closes mon; either may be NULL. */
void zmqopt_monitor_close(void *sock, void *mon);

/* Reads and drops the frames of sock's current message after last (a frame
 * just received, closed and reused here), without waiting: they arrive
 * together. */
void zmqopt_drain(void *sock, zmq_msg_t *last);

#endif
