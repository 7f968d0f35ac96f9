/* gossip_state: the daemon's state, private to gossipd's own files. The
 * modules it wires (net, client, peer, addrbook, relay, sync) keep their
 * state behind their own types; each concern of the daemon owns one part:
 * conn (peer lives and what is sent), handshake, handlers (peer messages),
 * upstream (chaind), housekeeping (timers). gossip.c assembles them and runs
 * the reactor. */
#ifndef GOSSIP_STATE_H
#define GOSSIP_STATE_H

#include <stdint.h>

#include "addrbook.h"
#include "client.h"
#include "conn.h"
#include "gossip.h"
#include "handlers.h"
#include "handshake.h"
#include "housekeeping.h"
#include "net.h"
#include "peer.h"
#include "reactor.h"
#include "relay.h"
#include "sync.h"
#include "upstream.h"

struct gossip {
    gossip_config_t cfg;
    uint64_t now_ms; /* clock_ms() when the current callback began */
    void *zctx;
    reactor_t *reactor;
    net_t *net;
    client_t *client;
    peer_table_t pt;
    addrbook_t *ab;
    relay_t *relay;
    sync_t *sync;
    void (*tick)(void *ctx); /* the caller's, after every pass (may be NULL) */
    void *tick_ctx;
    conn_state_t conn;
    handshake_state_t hs;
    handlers_state_t msgs;
    upstream_state_t up;
    housekeeping_state_t house;
};

/* Every reactor callback starts here: g's clock moves to now. */
gossip_t *gossip_enter(void *g);

#endif
