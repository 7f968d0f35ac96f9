/* relay: what each peer is known to have, what to announce to it, which
 * transactions and blocks are asked for, and the queue of a peer's getdata.
 *
 * Announcing (inv) happens only for what chaind accepted (its tx and block
 * events), never twice to one peer: each peer has a bounded "known" set of
 * the hashes it announced, sent, or was sent. A hash in it is not announced
 * to that peer again.
 *
 * Bounds: known sets RELAY_KNOWN_MAX hashes a peer (two generations: when the
 * newer is half full the older is dropped, so the set forgets its oldest half
 * at once and never exceeds the bound); the "recent" set of hashes chaind has
 * already judged RELAY_RECENT_MAX; announcements queued RELAY_INV_MAX a peer
 * and kind (the caller flushes them in inv messages); getdata items queued
 * RELAY_SERVE_MAX a peer; requests in flight RELAY_REQ_MAX over all peers.
 *
 * Peers are named by their peer-table slot: the caller opens a slot's state
 * when a peer is ready and closes it when the peer goes. Not thread-safe. */
#ifndef GOSSIP_RELAY_H
#define GOSSIP_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "hmap.h"
#include "proto.h"

#define RELAY_KNOWN_MAX 4096
#define RELAY_RECENT_MAX 65536
#define RELAY_INV_MAX PROTO_MAX_INV
#define RELAY_SERVE_MAX 2048
#define RELAY_REQ_MAX 4096
#define RELAY_REQ_TIMEOUT_MS 10000

typedef enum { RELAY_TX = 0, RELAY_BLOCK = 1 } relay_kind_t;

/* A bounded set of hashes that forgets its oldest half when full. */
typedef struct {
    hmap_t *cur, *old;
    size_t max;
} relay_set_t;

/* An empty set of at most max (>= 2) hashes. -1 when memory runs out. */
int relay_set_init(relay_set_t *s, size_t max) __attribute__((warn_unused_result));
void relay_set_free(relay_set_t *s);
bool relay_set_has(const relay_set_t *s, const hash32_t *h);
/* Adds h (a no-op when present). -1 when memory runs out (h not added). */
int relay_set_add(relay_set_t *s, const hash32_t *h);
size_t relay_set_count(const relay_set_t *s);
/* Removes h (a no-op when absent). */
void relay_set_del(relay_set_t *s, const hash32_t *h);

typedef struct {
    uint8_t kind; /* relay_kind_t */
    hash32_t hash;
} relay_item_t;

typedef struct {
    bool open;
    relay_set_t known;
    hash32_t *inv[2]; /* [kind][RELAY_INV_MAX] announcements to send */
    size_t n_inv[2];
    relay_item_t *serve; /* ring of RELAY_SERVE_MAX getdata items to answer */
    size_t serve_head, serve_count;
    uint32_t serving;    /* chaind requests in flight to answer this peer */
} relay_peer_t;

typedef struct relay relay_t;

/* State for n_slots peer slots. NULL when memory runs out. */
relay_t *relay_new(size_t n_slots);
void relay_destroy(relay_t **r);

/* A peer became ready in slot: empty known set and queues. -1 when memory
 * runs out (the caller drops the peer). */
int relay_open(relay_t *r, uint32_t slot) __attribute__((warn_unused_result));
/* The peer in slot is gone: its state is freed, its requests forgotten (so
 * another peer's announcement can be followed). */
void relay_close(relay_t *r, uint32_t slot);
/* The slot's state (for its serving counter); NULL when it is not open. */
relay_peer_t *relay_peer(relay_t *r, uint32_t slot);

/* The peer has h (it announced, sent or was sent it). */
void relay_learn(relay_t *r, uint32_t slot, const hash32_t *h);
bool relay_knows(const relay_t *r, uint32_t slot, const hash32_t *h);
/* Forgets that the peer has h, so that h can be announced to it again (a
 * rebroadcast: an announcement it may have failed to follow). */
void relay_forget(relay_t *r, uint32_t slot, const hash32_t *h);
/* Queues an inv of h for the peer unless it knows h (then 0). 1 queued;
 * -1 when the queue is full: flush with relay_take_inv() and call again. */
int relay_announce(relay_t *r, uint32_t slot, relay_kind_t kind, const hash32_t *h);
/* Moves up to RELAY_INV_MAX queued announcements of kind into out. */
size_t relay_take_inv(relay_t *r, uint32_t slot, relay_kind_t kind, hash32_t *out);
size_t relay_inv_pending(const relay_t *r, uint32_t slot, relay_kind_t kind);

/* chaind has judged h (accepted or refused): not worth downloading again. */
void relay_note_seen(relay_t *r, const hash32_t *h);
bool relay_seen(const relay_t *r, const hash32_t *h);

/* Asks for h from the peer in slot: false when h is already asked for (from
 * any peer) or the table is full; true once registered, due by
 * now_ms + RELAY_REQ_TIMEOUT_MS. */
bool relay_request(relay_t *r, uint32_t slot, relay_kind_t kind, const hash32_t *h,
                   uint64_t now_ms);
/* Whether h is asked for (from any peer) / from the peer in slot. */
bool relay_requested(const relay_t *r, const hash32_t *h);
bool relay_asked(const relay_t *r, uint32_t slot, const hash32_t *h);
/* h arrived from slot (or a notfound named it): the request ends. true when
 * it had been asked from that slot (the message was solicited). */
bool relay_fulfil(relay_t *r, uint32_t slot, const hash32_t *h);
/* Forgets requests past their deadline; another announcement can then be
 * followed. Returns how many expired. */
size_t relay_expire(relay_t *r, uint64_t now_ms);

/* Queues a getdata item of the peer. false when its queue is full (answer
 * it with notfound). */
bool relay_serve_push(relay_t *r, uint32_t slot, relay_kind_t kind, const hash32_t *h);
/* Takes the oldest queued item; false when none. */
bool relay_serve_pop(relay_t *r, uint32_t slot, relay_item_t *item);

#endif
