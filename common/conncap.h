/* conncap: a cap on the TCP connections of one bound ZeroMQ socket (chaind's
 * rpc ROUTER and events PUB; research report §1, §2).
 *
 * ZeroMQ accepts every connection its listener is offered and has no limit of
 * its own: 1 100 silent connections exhaust a process's descriptors. conncap
 * follows the socket's monitor (ACCEPTED, DISCONNECTED, the three
 * HANDSHAKE_FAILED, MONITOR_STOPPED) and, whenever more than cap connections
 * are live, shuts the newest ones down (shutdown(SHUT_RDWR): ZeroMQ sees EOF
 * and closes them itself). The oldest, the daemons that were there first,
 * keep theirs. A descriptor number from ACCEPTED may have been closed and
 * reused by the time it is acted on (the event is sent from ZeroMQ's io
 * thread): a socket is only shut down when getsockname() shows it bound to
 * the capped socket's port.
 *
 * Its own thread reads the monitor: libzmq 4.3 sends monitor events from its
 * io thread with a blocking send, so a monitor that is not read promptly (the
 * rpc loop busy on a big block) freezes every socket of the context, and
 * stopping the monitor from the thread that should read it deadlocks.
 *
 * The cap is soft: connections accepted before the thread acts hold
 * descriptors for that moment (a flood of 8 000 peaked at 206 for a cap of
 * 64 in the report's measurements). Descriptors above CONNCAP_FDS are counted
 * but never shut. */
#ifndef CHAIN_CONNCAP_H
#define CHAIN_CONNCAP_H

#include <stdint.h>

#include "err.h"

#define CONNCAP_FDS 65536 /* descriptor numbers followed (LimitNOFILE of the units) */

typedef struct conncap conncap_t;

typedef struct {
    uint64_t accepted, disconnected, kicked, handshake_failed;
    unsigned live; /* connections admitted and not (yet) gone */
    unsigned peak; /* most descriptors held at once, kicked ones included */
} conncap_stats_t;

/* Caps sock, bound to one tcp:// endpoint of zctx, at cap connections
 * (0: counts only); name ("rpc", "events") is for the log and must outlive
 * the cap. ERR_INTERNAL when sock has no tcp:// endpoint, or ZeroMQ or the
 * thread fails. */
int conncap_start(conncap_t **c, void *zctx, void *sock, unsigned cap, const char *name,
                  err_t *e) __attribute__((warn_unused_result));
/* Stops the monitor and the thread; *c becomes NULL. Call it from the thread
 * that owns sock, before closing sock. A no-op for NULL. */
void conncap_stop(conncap_t **c, void *sock);
/* The counts so far (thread-safe). */
void conncap_stats(conncap_t *c, conncap_stats_t *out);

#endif
