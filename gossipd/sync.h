/* sync: headers-first download of the blocks a node lacks.
 *
 * The chain view. gossipd holds no chain, but needs a locator of chaind's main
 * chain (the hashes at tip, tip-1, …, tip-9, then at steps that double, then
 * genesis) to ask peers where their chain leaves ours. The view keeps what a
 * locator needs and no more (bounded, O(log height)): a ring of the last
 * SYNC_RING main-chain hashes, and for each level j the hash at the highest
 * multiple of 2^j at or below the anchor (tip - SYNC_ANCHOR). It follows
 * chaind's block events one height at a time; a gap, a reorganisation deeper
 * than SYNC_ANCHOR, or a new genesis invalidate it, and the caller rebuilds it
 * from genesis with chaind's get_headers (a few requests of 2 000 headers).
 *
 * The download. A session asks one peer for headers (getheaders with the
 * locator), checks each (links to the one before, valid bits, proof of work)
 * and queues its hash (at most SYNC_WINDOW queued). Blocks within SYNC_AHEAD
 * of the next one chaind needs are asked from every ready peer that has them
 * (SYNC_PEER_INFLIGHT a peer, SYNC_MAX_INFLIGHT in all, SYNC_BUFFER_MAX bytes
 * held), and handed to chaind strictly in order (SYNC_MAX_SUBMITS in flight).
 * An "orphan" answer means the order went wrong: the window is dropped and the
 * session starts again. A block unanswered for SYNC_STALL_MS goes to another
 * peer; a peer that stalls SYNC_STALLS_MAX times in a row is dropped. An
 * invalid block scores against the peer that sent it.
 *
 * The module sends nothing itself: it calls the caller's sync_ops_t. Peers are
 * named by peer-table slot; the caller reports each peer's arrival and
 * departure. Times are monotonic milliseconds. Not thread-safe; the ops may
 * not call back into the module. */
#ifndef GOSSIP_SYNC_H
#define GOSSIP_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "err.h"
#include "hash.h"
#include "params.h"

#define SYNC_RING 32
#define SYNC_DENSE 10  /* locator hashes one block apart */
#define SYNC_ANCHOR 16 /* levels cover heights at or below tip - SYNC_ANCHOR */
#define SYNC_LEVELS 64

#define SYNC_WINDOW 4096
#define SYNC_AHEAD 512
#define SYNC_PEER_INFLIGHT 32
#define SYNC_MIN_BATCH 16       /* blocks a getdata asks for while the download is busy */
#define SYNC_MAX_INFLIGHT 256
#define SYNC_MAX_SUBMITS 32
#define SYNC_BUFFER_MAX (64u << 20)
#define SYNC_STALL_MS 10000
#define SYNC_STALLS_MAX 3
#define SYNC_HEADERS_TIMEOUT_MS 20000
#define SYNC_RETRY_MS 30000     /* before asking a peer that had nothing again */
#define SYNC_PROGRESS_MS 60000  /* a window that moves no block in this long is dropped */

/* --- the chain view ------------------------------------------------------- */

typedef struct {
    bool valid;
    uint64_t height;   /* the tip's height */
    uint64_t ring_low; /* the ring holds heights ring_low … height */
    hash32_t ring[SYNC_RING];
    hash32_t genesis;
    hash32_t level[SYNC_LEVELS];
    uint64_t level_h[SYNC_LEVELS];
    uint64_t levels_set; /* bit j: level j holds a hash */
} sync_view_t;

/* An invalid (empty) view. */
void sync_view_reset(sync_view_t *v);
/* The main chain's block at height is hash (chaind connected it). 0 when the
 * view follows; -1 when the view is now invalid (a gap, a reorganisation
 * deeper than SYNC_ANCHOR, or, while invalid, anything but height 0). Height 0
 * always restarts the view from that genesis. */
int sync_view_push(sync_view_t *v, uint64_t height, const hash32_t *hash);
/* The tip; false when the view is invalid. */
bool sync_view_tip(const sync_view_t *v, uint64_t *height, hash32_t *hash);
/* Whether an event for (height, hash) brings nothing new: the view holds that
 * hash at that height, or the height is below the ring (an event that comes
 * after a rebuild already went past it). */
bool sync_view_holds(const sync_view_t *v, uint64_t height, const hash32_t *hash);
/* Whether h is one of the last SYNC_RING main-chain hashes. */
bool sync_view_has(const sync_view_t *v, const hash32_t *h);
/* Writes the locator, tip first, genesis last, at most max (>= 2) hashes,
 * with each one's height in heights (may be NULL). Returns the count (0 for
 * an invalid view). */
size_t sync_view_locator(const sync_view_t *v, hash32_t *out, uint64_t *heights, size_t max);

/* --- the download ------------------------------------------------------------ */

typedef enum {
    SYNC_ACCEPTED,   /* tip, side or known */
    SYNC_ORPHANED,   /* chaind lacks its parent: the order went wrong */
    SYNC_REJECTED,   /* invalid: code says why */
    SYNC_UNANSWERED, /* chaind did not answer (restarting?) */
} sync_verdict_t;

typedef struct {
    void *ctx;
    void (*getheaders)(void *ctx, uint32_t slot, const hash32_t *locator, size_t n);
    void (*getdata)(void *ctx, uint32_t slot, const hash32_t *hashes, size_t n);
    /* Hands a block (sent by from_slot) to chaind; the verdict comes back
     * through sync_submitted(). -1 when it cannot be sent now (tried again). */
    int (*submit)(void *ctx, uint32_t from_slot, const hash32_t *hash, const uint8_t *block,
                  size_t len);
    /* A peer misbehaved: code's ban score applies. */
    void (*misbehave)(void *ctx, uint32_t slot, err_code_t code, const char *why);
    /* A peer is to be disconnected (it stalls); the caller then calls
     * sync_peer_gone(). */
    void (*drop)(void *ctx, uint32_t slot, const char *why);
} sync_ops_t;

typedef struct sync sync_t;

/* A downloader for n_slots peer slots. NULL when memory runs out. */
sync_t *sync_new(size_t n_slots, const chain_params_t *params, const sync_ops_t *ops);
void sync_destroy(sync_t **s);
/* The chain view the caller keeps up to date (events, rebuilds). */
sync_view_t *sync_view(sync_t *s);

/* A peer is ready, claiming height. */
void sync_peer_ready(sync_t *s, uint32_t slot, uint64_t height);
/* A peer is known to have a block at height (raises its height only). */
void sync_peer_height(sync_t *s, uint32_t slot, uint64_t height);
uint64_t sync_peer_get_height(const sync_t *s, uint32_t slot);
/* A peer left: its requests go to others; a session with it ends. */
void sync_peer_gone(sync_t *s, uint32_t slot);
/* A peer has blocks the node lacks (it announced an unknown block, or sent
 * one whose parent chaind lacks): a session with it follows. */
void sync_announced(sync_t *s, uint32_t slot);

/* A headers message: n headers of BLOCK_HEADER_LEN bytes, back to back.
 * false when not asked for from this peer (the caller charges it). */
bool sync_on_headers(sync_t *s, uint32_t slot, const uint8_t *headers, size_t n, uint64_t now_ms);
/* Whether headers were asked from this slot and are awaited. */
bool sync_expects_headers(const sync_t *s, uint32_t slot);
/* Whether a block with this hash was asked from this slot. */
bool sync_expects(const sync_t *s, uint32_t slot, const hash32_t *hash);
/* Whether the block is in the download window (queued, asked for, held). */
bool sync_wants(const sync_t *s, const hash32_t *hash);
/* A block arrived. true when the downloader took it (it copies the bytes);
 * false when it is not one of its blocks (the caller handles it). */
bool sync_on_block(sync_t *s, uint32_t slot, const hash32_t *hash, const uint8_t *data,
                   size_t len, uint64_t now_ms);
/* The peer does not have the block: another peer is asked. */
void sync_on_notfound(sync_t *s, uint32_t slot, const hash32_t *hash);
/* chaind's verdict on a block handed over by ops.submit. */
void sync_submitted(sync_t *s, const hash32_t *hash, sync_verdict_t verdict, err_code_t code,
                    uint64_t now_ms);
/* Whether a session or a download is under way. */
bool sync_busy(const sync_t *s);

/* Timeouts, a new session when a peer is ahead, requests, hand-overs. Call
 * after every batch of messages and on a timer. */
void sync_pump(sync_t *s, uint64_t now_ms);

/* Counters for logs and tests. */
typedef struct {
    size_t queued, inflight, held, submitting, buffered_bytes;
    bool session;
    uint64_t blocks_done;
} sync_stats_t;
void sync_stats(const sync_t *s, sync_stats_t *out);

#endif
