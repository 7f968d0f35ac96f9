/* conn: a peer's life in the daemon once its connection exists — dooming,
 * closing and banning it, scoring what it does wrong — and everything sent
 * to peers: messages opened from their schema, hashes and addresses, and the
 * announcements (inv) batched for at most CONN_INV_FLUSH_MS.
 *
 * Handlers never free a peer: they doom it (conn_doom), and the caller of
 * the handler reaps it (conn_reap) when the handler is done, so no handler
 * frees a peer another still holds. Internal to gossipd (gossip_state.h). */
#ifndef GOSSIP_CONN_H
#define GOSSIP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evict.h"
#include "gossip.h"
#include "hash.h"
#include "log.h"
#include "mp.h"
#include "peer.h"
#include "proto.h"
#include "relay.h"

#define CONN_INV_FLUSH_MS 20     /* announcements are batched at most this long */
#define CONN_SEND_DROPS_MAX 1000 /* a peer whose queue stays full this long is dropped */
#define CONN_CLOSED_RIDS 256     /* routing ids of closed inbound peers remembered */

typedef struct {
    mp_buf_t out;          /* the peer message being built */
    proto_msg_t out_type;  /* its type */
    hash32_t *inv;         /* PROTO_MAX_INV hashes taken from relay for one inv */
    uint64_t last_flush_ms;
    int flush_timer;       /* armed while announcements wait: -1 when not */
    /* routing ids of inbound peers we closed: what they had queued before
     * the kick is dropped, not taken for a new peer's first words */
    hash32_t closed_rids[CONN_CLOSED_RIDS];
    size_t closed_next;
    evict_candidate_t *cands; /* one a peer slot: eviction's scratch */
    uint8_t evict_key[EVICT_KEY_LEN];
    struct {
        /* inbound peers evicted and newcomers refused for want of a slot;
         * misbehaving peers banned, and those with nothing to ban (dropped) */
        uint64_t evicted, refused, banned, dropped;
    } counts; /* since the start, for the status line */
} conn_state_t;

/* Allocates the state's buffers for n_slots peer slots: -1 when memory runs out. */
int conn_init(conn_state_t *c, size_t n_slots) __attribute__((warn_unused_result));
void conn_free(conn_state_t *c);

/* A peer's name for the log: its address, else its IP. */
const char *conn_name(const peer_t *p);
/* Whether we know where p is: an outbound peer, or an inbound one whose
 * listen address was verified. What the others do is logged at debug level
 * only (an attacker's connections are many), and counted. */
bool conn_trusted(const peer_t *p);
log_level_t conn_log_level(const peer_t *p);
/* Marks p to be closed (PEER_CLOSE) or banned (PEER_BAN) once its handler
 * returns; the gravest verdict and its first reason stay. */
void conn_doom(peer_t *p, int how, const char *why);
/* Closes p now: forgets it in every module, ends its connection (kick: shut
 * an inbound one down), tells the address book how an outbound one went. */
void conn_close(gossip_t *g, peer_t *p, const char *why, bool kick);
/* Closes (or bans and closes) p if a handler doomed it. */
void conn_reap(gossip_t *g, peer_t *p);
void conn_reap_all(gossip_t *g);
/* Adds points to p's score; at the ban score p is doomed to a ban. */
void conn_misbehave(gossip_t *g, peer_t *p, int points, const char *why);
/* Whether an inbound routing id is one of a peer we closed. */
bool conn_rid_closed(const gossip_t *g, const uint8_t *rid, size_t len);
/* Remembers rid as closed: what comes from it later is dropped. */
void conn_rid_close(gossip_t *g, const uint8_t *rid, size_t len);
/* The inbound peer to evict for a newcomer (evict.h), or NULL when none may go. */
peer_t *conn_evict_pick(gossip_t *g);
/* Inbound peers counted in group. */
unsigned conn_count_group(const gossip_t *g, const char *group);
/* chaind accepted a transaction or block p sent (NULL: the peer is gone). */
void conn_delivered(gossip_t *g, peer_t *p, relay_kind_t kind);
/* The ready peer of a slot that no handler doomed, or NULL. */
peer_t *conn_ready(gossip_t *g, uint32_t slot);

/* Opens a peer message of type in the shared buffer; write its fields, then
 * conn_send() it (to as many peers as need it). */
mp_buf_t *conn_begin(gossip_t *g, proto_msg_t type);
/* Sends the message built by conn_begin() to p; a gone or stuck peer is doomed. */
void conn_send(gossip_t *g, peer_t *p);
/* Sends it on a connection that is no peer: to the inbound routing id rid,
 * or (rid NULL) on net slot's DEALER. Whatever fails is dropped. */
void conn_send_raw(gossip_t *g, const uint8_t *rid, size_t rid_len, uint32_t slot);
/* inv, getdata or notfound of n hashes (nothing when n is 0). */
void conn_send_hashes(gossip_t *g, peer_t *p, proto_msg_t type, relay_kind_t kind,
                      const hash32_t *hashes, size_t n);
/* addr of n addresses (nothing when n is 0). */
void conn_send_addrs(gossip_t *g, peer_t *p, const char *const *addrs, size_t n);

/* Queues h for an inv to p (a full queue is sent at once). */
void conn_announce(gossip_t *g, peer_t *p, relay_kind_t kind, const hash32_t *h);
/* After every pass: sends the queued announcements when they are due, or
 * arms a timer for when they will be. The first after a quiet spell goes at
 * once (a new block's latency is what matters); then at most one inv a kind
 * every CONN_INV_FLUSH_MS, so a burst of transactions shares messages. */
void conn_flush_due(gossip_t *g);

#endif
