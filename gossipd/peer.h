/* peer: the peer table (who is connected, in which state), misbehaviour
 * scores, the per-peer flood bucket, and bans.
 *
 * The table has a fixed number of slots, max_inbound + max_outbound, made at
 * start: connections beyond the caps are refused, never queued. A slot is
 * reused after peer_free(); a peer_ref_t (slot and generation) taken before
 * then no longer resolves, so a late reply from chaind cannot reach the wrong
 * peer.
 *
 * Scores: every misbehaviour adds points (the err.h table's ban score for a
 * reject code, err_ban_score()); at PEER_BAN_SCORE the caller disconnects and
 * bans the peer. Scores decay by one point every PEER_SCORE_DECAY_MS, so an
 * honest peer that now and then relays a transaction that lost a race
 * (double_spend, unknown_utxo: 10 points) is not banned for it over a day.
 *
 * Flood bucket: each peer holds up to PEER_FLOOD_BURST tokens, refilled at
 * PEER_FLOOD_RATE a second; a message the node did not ask for costs one. A
 * message that finds the bucket empty is dropped and scores
 * PEER_FLOOD_DROP_SCORE: the drop is the protection, and the ban is for a
 * peer that keeps on past it (PEER_BAN_SCORE drops, within the score's
 * decay), not for an honest burst a few messages over (the soak banned an
 * honest peer for a day for 2 drops when each scored ERR_FLOOD's 50).
 *
 * Bans: keys with an expiry in unix seconds, at most PEER_BAN_MAX (the
 * soonest to expire is dropped for a new one), persisted as text ("key
 * until" a line). A key names where the misbehaving peer really is, never
 * what it says of itself (docs/PROTOCOL.md, "Peers"): an outbound peer's
 * dialled address; an inbound peer's remote IP (the connection's source,
 * unless local) and its listen address once a dial-back verified it. A
 * node id or an unverified listen address is a claim anyone can make, so
 * it is no key: a peer that says it is an honest node cannot get that node
 * banned. A local inbound peer (loopback, ipc://) whose listen address is
 * unverified has no key at all: it loses its connection, nothing more. */
#ifndef GOSSIP_PEER_H
#define GOSSIP_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"
#include "proto.h"

#define PEER_ID_LEN 8
#define PEER_RID_MAX 256          /* ZeroMQ routing ids are at most 255 bytes */
#define PEER_BAN_SCORE 100
#define PEER_SCORE_DECAY_MS 60000 /* one point a minute */
#define PEER_FLOOD_RATE 1000      /* tokens a second */
#define PEER_FLOOD_BURST 2000
#define PEER_FLOOD_DROP_SCORE 1   /* a message dropped on an empty bucket */
#define PEER_BAN_MAX 1024
#define PEER_BAN_KEY_MAX 255
#define PEER_ADDR_MAX 255
#define PEER_ORIGIN_MAX 128       /* chaind's limit on a submission's origin */

typedef enum {
    PEER_FREE,       /* slot unused */
    PEER_CONNECTING, /* outbound: dialled, our hello sent, waiting for theirs */
    PEER_HANDSHAKE,  /* inbound: connected, waiting for their hello */
    PEER_READY,      /* hellos exchanged */
} peer_state_t;

/* An inbound peer's claimed listen address, and its dial-back (probe.h). */
typedef enum {
    PEER_CLAIM_NONE,     /* none claimed (or an outbound peer) */
    PEER_CLAIM_WAIT,     /* claimed; its dial-back is to come */
    PEER_CLAIM_PROBING,  /* its dial-back is under way */
    PEER_CLAIM_FAILED,   /* its dial-back failed: unverified while this connection lasts */
    PEER_CLAIM_VERIFIED, /* it answered with this peer's node id and challenge */
} peer_claim_t;

typedef struct {
    uint32_t slot, gen;
} peer_ref_t;

typedef struct {
    peer_state_t state;
    uint32_t gen;        /* bumped when the slot is freed */
    bool inbound;
    /* inbound: the ROUTER's routing id, and the connection's descriptor as
     * ZeroMQ reported it (ZMQ_SRCFD), to match the monitor's disconnects */
    uint8_t rid[PEER_RID_MAX];
    size_t rid_len;
    int fd;
    uint64_t conn_seq; /* inbound: its connection's accept order (net.h) */
    /* outbound: dialled; inbound: its verified listen address ("" until then).
     * The only address of a peer that is reported, gossiped or kept. */
    char addr[PEER_ADDR_MAX + 1];
    char ip[64];                  /* the remote IP when known ("" otherwise) */
    char origin[PEER_ORIGIN_MAX + 1]; /* "peer:<addr>", the origin given to chaind */
    /* inbound: the listen address its hello claims (dialable) and how its
     * dial-back stands; the address group it counts in ("" until known:
     * a local peer's is its verified listen address) */
    char claim[PEER_ADDR_MAX + 1];
    peer_claim_t claim_state;
    uint64_t claim_due_ms;
    char group[PEER_ADDR_MAX + 1];
    /* inbound: the nonce of our challenge, which its dial-back must prove;
     * outbound: the nonce it challenged us with, for our proof */
    bool have_challenge;
    uint8_t challenge[PEER_ID_LEN];
    bool have_id;
    uint8_t node_id[PEER_ID_LEN];
    uint64_t version; /* from its hello (its height: sync.h) */
    int score;
    uint64_t score_ms;   /* last decay */
    double tokens;
    uint64_t tokens_ms;  /* last refill */
    uint64_t last_recv_ms, deadline_ms; /* deadline: hello due by then */
    uint64_t last_ping_ms, ping_nonce;
    bool ping_out;       /* a ping awaits its pong */
    /* what eviction weighs (evict.h): when the slot was taken, the best
     * ping round trip (UINT64_MAX: none yet), the last transaction and
     * block chaind accepted from it (0: never) */
    uint64_t connected_ms, min_ping_ms, last_tx_ms, last_block_ms;
    uint32_t send_drops; /* consecutive sends refused (queue full) */
    uint64_t inv_sent_ms; /* our oldest inv no getdata has answered yet (0: none; metrics.h) */
    /* set by handlers that find the peer must go; the loop closes it after
     * the message, so no handler frees a peer another still holds */
    enum { PEER_KEEP, PEER_CLOSE, PEER_BAN } doom;
    char doom_why[256];
} peer_t;

typedef struct {
    char key[PEER_BAN_KEY_MAX + 1];
    uint64_t until; /* unix seconds */
} peer_ban_t;

typedef struct {
    peer_t *peers;
    size_t cap, max_inbound, max_outbound;
    size_t n_inbound, n_outbound;
    peer_ban_t *bans;
    size_t n_bans;
    bool bans_dirty;
} peer_table_t;

/* Slots for max_inbound + max_outbound peers (at least one in all). -1 when
 * memory runs out. */
int peer_table_init(peer_table_t *t, size_t max_inbound, size_t max_outbound)
    __attribute__((warn_unused_result));
void peer_table_free(peer_table_t *t);

/* A free slot for a new connection, state set (PEER_HANDSHAKE inbound,
 * PEER_CONNECTING outbound), deadline_ms = now_ms + hello_timeout_ms, a full
 * flood bucket. NULL when that direction is at its cap. */
peer_t *peer_alloc(peer_table_t *t, bool inbound, uint64_t now_ms, uint64_t hello_timeout_ms);
/* Frees the slot: its ref stops resolving. */
void peer_free(peer_table_t *t, peer_t *p);
peer_ref_t peer_ref(const peer_table_t *t, const peer_t *p);
/* The peer a ref names, or NULL once that peer is gone. */
peer_t *peer_get(const peer_table_t *t, peer_ref_t ref);
static inline uint32_t peer_slot(const peer_table_t *t, const peer_t *p)
{
    return (uint32_t)(p - t->peers);
}

/* Lookups over used slots. NULL when none. */
peer_t *peer_find_rid(const peer_table_t *t, const uint8_t *rid, size_t len);
/* The inbound peer on connection (fd, seq). */
peer_t *peer_find_conn(const peer_table_t *t, int fd, uint64_t seq);
/* A ready peer with this node id, other than except (may be NULL). */
peer_t *peer_find_id(const peer_table_t *t, const uint8_t id[PEER_ID_LEN], const peer_t *except);
/* The ready peer whose origin string is origin. */
peer_t *peer_find_origin(const peer_table_t *t, const char *origin);
size_t peer_count_ready(const peer_table_t *t);

/* Sets p->addr and p->origin ("peer:<addr>", or "peer:id:<node id hex>" when
 * there is no address or it would not fit chaind's origin limit; set the
 * node id first). */
void peer_set_addr(peer_t *p, const char *addr);

/* Decodes one message from p (proto_decode_peer against network). On a
 * decoding error the code's ban score is added (err_ban_score) and -1 is
 * returned with e: the caller drops the message, then bans the peer if
 * peer_should_ban(). */
int peer_decode(peer_t *p, const char *network, const uint8_t *data, size_t len, uint64_t now_ms,
                proto_peer_msg_t *msg, err_t *e) __attribute__((warn_unused_result));
/* Takes cost tokens from p's bucket. false when it is empty: the message is
 * to be dropped; PEER_FLOOD_DROP_SCORE has been added. */
bool peer_charge(peer_t *p, uint64_t now_ms, double cost);
/* Adds points to p's score (after decaying it to now_ms). */
void peer_misbehave(peer_t *p, int points, uint64_t now_ms);
bool peer_should_ban(const peer_t *p);

/* Bans key until now_unix + seconds (extends an existing ban). */
void peer_ban(peer_table_t *t, const char *key, uint64_t now_unix, uint64_t seconds);
/* Whether key is banned at now_unix. NULL or "" is never banned. */
bool peer_banned(const peer_table_t *t, const char *key, uint64_t now_unix);
/* The keys a ban of p holds (the header: where it really is), into keys
 * (borrowing p's strings); their count, 0 to 2. */
size_t peer_ban_keys(const peer_t *p, const char *keys[2]);
/* Bans p's keys; returns their count (0: a local unverified peer, which
 * nothing but its connection names). */
size_t peer_ban_peer(peer_table_t *t, const peer_t *p, uint64_t now_unix, uint64_t seconds);
/* Whether a key of p is banned. */
bool peer_banned_peer(const peer_table_t *t, const peer_t *p, uint64_t now_unix);
/* Drops expired bans. */
void peer_bans_expire(peer_table_t *t, uint64_t now_unix);
/* Node id in text, for origins and logs: "id:" and 16 hex digits (out holds
 * 20 bytes). */
void peer_id_key(char out[20], const uint8_t id[PEER_ID_LEN]);

/* A pong with nonce came: true when it answers our ping (then the round
 * trip counts towards min_ping_ms). */
bool peer_pong(peer_t *p, uint64_t nonce, uint64_t now_ms);

/* Ban persistence (persist.h). Load skips expired and malformed lines; a
 * missing file is no bans. -1 with e. */
int peer_bans_save(peer_table_t *t, const char *path, err_t *e) __attribute__((warn_unused_result));
int peer_bans_load(peer_table_t *t, const char *path, uint64_t now_unix, err_t *e)
    __attribute__((warn_unused_result));

#endif
