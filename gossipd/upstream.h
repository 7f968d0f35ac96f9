/* upstream: gossipd's link to chaind — the requests it sends (submissions of
 * what peers relay, lookups to answer peers, the tip check, the peers
 * report), what it does with each reply (dispatched by what the request was
 * for), chaind's events (dispatched by topic), and the walk that rebuilds
 * the chain view from chaind's headers when the view missed something.
 * Internal to gossipd (gossip_state.h). */
#ifndef GOSSIP_UPSTREAM_H
#define GOSSIP_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "gossip.h"
#include "hash.h"
#include "mp.h"
#include "peer.h"
#include "proto.h"

#define UPSTREAM_RPC_TIMEOUT_MS 10000
#define UPSTREAM_SUBMIT_TIMEOUT_MS 60000 /* a big block can take chaind a while */
#define UPSTREAM_SERVE_PARALLEL 32       /* requests in flight to answer one peer */
#define UPSTREAM_CLIENT_RESERVE 64       /* pending slots kept for our own requests */
#define UPSTREAM_MEMPOOL_MAX PROTO_MAX_INV /* txids announced to a peer from a snapshot */
#define UPSTREAM_MARKS_MAX PROTO_MAX_INV   /* served txids waiting for a mark_broadcast */

typedef struct {
    mp_buf_t req;          /* the request being built */
    bool *serving_headers; /* [slot]: a getheaders of that peer is with chaind */
    bool tip_pending, report_pending, chaind_up;
    bool snapshot_pending, unbroadcast_pending, marks_pending;
    hash32_t *marks; /* [UPSTREAM_MARKS_MAX] txids served to peers, to tell chaind */
    size_t n_marks;
    bool have_last_tip;    /* chaind's tip at the check before */
    hash32_t last_tip;
    uint64_t last_tip_h;
    /* rebuilding the chain view from chaind's headers */
    bool walking;
    hash32_t walk_loc[PROTO_MAX_LOCATOR];
    uint64_t walk_h[PROTO_MAX_LOCATOR];
    size_t walk_n;
    unsigned walk_restarts;
    bool walk_was_valid; /* a rebuild of a view that followed: logged at debug level */
} upstream_state_t;

/* State for n_slots peer slots: -1 when memory runs out. */
int upstream_init(upstream_state_t *u, size_t n_slots) __attribute__((warn_unused_result));
void upstream_free(upstream_state_t *u);
/* The topics gossipd follows, into names (NULL-terminated). */
void upstream_topics(const char *names[PROTO_TOPIC_COUNT + 1]);
/* The client's handlers: replies and events, read in budgets a pass. */
client_handlers_t upstream_handlers(gossip_t *g);

/* A request past its deadline (client_expired()): handled as its reply. */
void upstream_on_result(gossip_t *g, const client_result_t *r);
/* get_tip, unless one is out: chaind's liveness and the view's check. */
void upstream_request_tip(gossip_t *g);
/* The peer table to chaind (`peers`), unless a report is out. */
void upstream_report_peers(gossip_t *g);

/* Mempool catch-up ("subscribe, then snapshot"): asks chaind for its
 * mempool's best UPSTREAM_MEMPOOL_MAX txids and announces them to p, a peer
 * just connected, or with p NULL to every peer (chaind came back, or tx
 * events were missed; one such request at a time). */
void upstream_announce_mempool(gossip_t *g, peer_t *p);
/* The rebroadcast: asks chaind for its unbroadcast set (unless a request is
 * out) and announces each txid to every peer again, whatever they were
 * told before. */
void upstream_rebroadcast(gossip_t *g);
/* Tells chaind which transactions peers asked for (mark_broadcast), so they
 * leave its unbroadcast set; one request at a time. */
void upstream_flush_marks(gossip_t *g);

/* A transaction (PROTO_REQ_SUBMIT_TX) or block (PROTO_REQ_SUBMIT_BLOCK) that p
 * relayed, hash h, to chaind; its verdict scores p. Dropped (logged) when
 * chaind's queue is full. */
void upstream_submit(gossip_t *g, peer_t *p, proto_req_t type, const hash32_t *h,
                     const uint8_t *data, size_t len);
/* A block of the download from the peer in slot from: -1 when chaind's
 * queue is full (the download tries again). */
int upstream_submit_sync(gossip_t *g, uint32_t from, const hash32_t *h, const uint8_t *block,
                         size_t len);
/* Asks chaind for what p's queued getdata items name, a bounded number at a
 * time; the answers go to p. */
void upstream_serve(gossip_t *g, peer_t *p);
/* Asks chaind for the headers after p's locator (n hashes at r), one
 * request a peer at a time; the answer goes to p. */
void upstream_get_headers(gossip_t *g, peer_t *p, mp_reader_t *r, uint32_t n);
/* The peer in slot is gone: nothing is being served to it any more. */
void upstream_peer_gone(gossip_t *g, uint32_t slot);

#endif
