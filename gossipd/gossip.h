/* gossip: the daemon. One reactor (reactor.h) with timers wires the modules:
 * the peer transport (net), chaind's sockets (client), the peer table and
 * bans (peer), known addresses (addrbook), announcements and requests
 * (relay) and the headers-first download (sync). Its own concerns live a
 * file each: a peer's life and what is sent (conn), the handshake, the
 * message handlers (handlers, one table of {handler, solicited} a type), the
 * link to chaind (upstream) and the timers (housekeeping).
 *
 * What it does, per DESIGN §2 and docs/PROTOCOL.md:
 *   - handshake: an outbound peer sends hello first, the inbound side answers
 *     with its own; a hello carrying our own node id (we dialled ourselves) or
 *     one of an already connected node is dropped (of two connections between
 *     the same nodes, both keep the one dialled by the lower node id);
 *   - discovery: --peer seeds, addr messages, chaind's peer.add events, the
 *     address book's backoff; the peer table is reported to chaind (`peers`)
 *     every HOUSEKEEPING_REPORT_MS and shortly after a change;
 *   - relay: chaind's tx and block events become inv messages to every peer
 *     that does not have them (never to the peer they came from); an inv of
 *     something unknown becomes a getdata; what arrives goes to chaind with
 *     origin "peer:<addr>";
 *   - sync: sync.h;
 *   - defence: an undecodable, oversized, wrong-network or unsolicited-flood
 *     message, or a transaction or block chaind rejects, scores against the
 *     peer (err_ban_score()); at 100 it is disconnected and banned for
 *     ban_seconds, by where it really is (peer.h): an inbound peer's claimed
 *     listen address counts only once a dial-back verified it (probe.h).
 *     Bans and known addresses are saved in the data directory every
 *     minute and on close;
 *   - inbound limits: max_inbound peers, max_per_group from one address
 *     group; when the slots are full a newcomer's hello evicts a peer
 *     (evict.h), and the connections themselves are bounded before any
 *     handshake (net.h, conntab.h).
 *
 * Every table and queue is bounded (see each module); a peer's input never
 * aborts the daemon. Single-threaded, but for net's monitor thread (net.h). */
#ifndef GOSSIP_GOSSIP_H
#define GOSSIP_GOSSIP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "params.h"
#include "peer.h"
#include "rpckey.h"

typedef struct {
    const chain_params_t *params;
    const char *datadir;   /* created when missing */
    const char *listen;    /* the ROUTER's endpoint: tcp://HOST:PORT or ipc://PATH */
    const char *advertise; /* "host:port" sent in hello and addr; NULL or "": none */
    const char *seeds;     /* "host:port,host:port"; may be NULL */
    const char *rpc, *events; /* chaind's endpoints */
    const rpckey_client_t *rpc_key; /* the CURVE key for tcp:// ones; NULL: none */
    const char *rpc_key_path;       /* where it was read, for the log */
    unsigned max_inbound, max_outbound;
    unsigned max_per_group; /* inbound peers from one address group (netgroup.h), >= 1 */
    uint64_t ban_seconds;
    uint64_t rebroadcast_ms; /* mean interval of the rebroadcast (0: GOSSIP_REBROADCAST_MS) */
} gossip_config_t;

/* The unbroadcast set is announced again every 15 s on average, each time
 * within ±25 % of it (so that nodes started together do not announce in
 * step). */
#define GOSSIP_REBROADCAST_MS 15000

typedef struct gossip gossip_t;

/* Creates the data directory, loads known peers and bans, binds the peer
 * socket and connects to chaind (which need not be up yet). -1 with e. */
int gossip_open(gossip_t **g, const gossip_config_t *cfg, err_t *e)
    __attribute__((warn_unused_result));
/* Runs the loop until *stop is set; tick (may be NULL) is called on every
 * wake-up (at least every 100 ms), for the systemd watchdog. */
void gossip_run(gossip_t *g, volatile sig_atomic_t *stop, void (*tick)(void *ctx), void *ctx);
/* For tests: one pass of the loop, waiting at most max_wait_ms. -1 when
 * polling failed. */
int gossip_once(gossip_t *g, long max_wait_ms);
/* Saves known peers and bans, closes every socket, frees everything; *g
 * becomes NULL. */
void gossip_close(gossip_t **g);

/* For tests and fuzzing: handles one message as if the ROUTER had delivered
 * it from routing id rid (a new id starts an inbound peer), with connection
 * descriptor fd (-1: none) and remote ip (may be ""). */
void gossip_inject(gossip_t *g, const uint8_t *rid, size_t rid_len, int fd, const char *ip,
                   const uint8_t *data, size_t len);
/* The peer table, read-only (tests). */
const peer_table_t *gossip_peers(const gossip_t *g);

#endif
