/* zmqopt: how every ZeroMQ socket of the daemons is set up — its options in
 * one struct applied by one function, its socket monitor — and the one way a
 * message of unwanted frames is dropped.
 *
 * Every socket has high-water marks both ways (no queue without a bound) and
 * ZMQ_LINGER 0: a closing socket drops what it has not sent instead of
 * holding the process (a peer that reconnects asks again).
 *
 * A socket's security is set here too: a time limit on the ZeroMQ
 * handshake (ZMQ_HANDSHAKE_IVL, so a connection that never completes one
 * costs nothing lasting) and the CURVE keys of DESIGN §1 (ZMQ_CURVE_SERVER
 * with chaind's secret key and the ZAP domain its handler checks, on its rpc
 * and events sockets; the server's public key and a client pair on
 * gossipd's and minerd's), all applied before the caller binds or connects:
 * a listener takes its options when it is made. */
#ifndef CHAIN_ZMQOPT_H
#define CHAIN_ZMQOPT_H

#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "err.h"
#include "rpckey.h"

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
    int handshake_ivl_ms;     /* ZMQ_HANDSHAKE_IVL; 0: ZeroMQ's default (30 s) */
    int sndbuf;               /* ZMQ_SNDBUF bytes (the kernel's send buffer); 0: the kernel's */
    /* CURVE server: its key pair and the ZAP domain its handler is asked
     * with; NULL: none */
    const rpckey_pair_t *curve_server;
    const char *zap_domain;
    const rpckey_client_t *curve_client; /* CURVE client: its keys; NULL: none */
} zmqopt_t;

/* Sets o's options on sock, before it binds or connects. ERR_INTERNAL with
 * the option and ZeroMQ's reason when one is refused (or a high-water mark
 * is not positive, or a CURVE server lacks its ZAP domain). */
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
/* The monitor events that tell a client its handshake failed (a key chaind
 * refused, a key for another server, CURVE against plain). */
#define ZMQOPT_HANDSHAKE_FAILED                                                       \
    (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | \
     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
/* Logs, rate-limited (one line a second an endpoint), why the handshake
 * with endpoint failed: event (one of ZMQOPT_HANDSHAKE_FAILED) and value as
 * the monitor gave them; key_path names the client's key file (may be NULL).
 * endpoint must outlive the process's logging (it keys the limiter). */
void zmqopt_log_handshake(const char *endpoint, const char *key_path, uint16_t event,
                          int32_t value);

/* libzmq retries a connection that failed, but gives an endpoint up for
 * good after a protocol error: a key the server refused (ZAP's 400) or a
 * broken handshake. A client that must get in once chaind lists its key
 * (SIGHUP) dials again, ZMQOPT_REDIAL_MS after such an event. */
#define ZMQOPT_REDIAL_MS 5000
#define ZMQOPT_GIVEN_UP (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
/* Connects sock to endpoint again (what is left of the old connection
 * dropped first); a failure is logged. */
void zmqopt_redial(void *sock, const char *endpoint);

/* Stops monitoring sock and closes mon; either may be NULL. */
void zmqopt_monitor_close(void *sock, void *mon);

/* Reads and drops the frames of sock's current message after last (a frame
 * just received, closed and reused here), without waiting: they arrive
 * together. */
void zmqopt_drain(void *sock, zmq_msg_t *last);

#endif
