/* evict: which inbound peer makes room when the inbound slots are full, as
 * Bitcoin Core's AttemptToEvictConnection. An attacker that fills the slots
 * must not push out the peers that matter, and cannot foretell which those
 * are.
 *
 * First to go are peers that have not earned a place: one still in its
 * handshake, then one whose listen address is unverified (none claimed, or
 * its dial-back failed), then one whose dial-back is still to come; the
 * oldest of the first such kind. An honest peer passes through these states
 * in a second; one that lingers there is the likelier attacker, and the
 * newest (a peer that just said hello) keeps its chance to be verified.
 *
 * Among verified peers, protected are: EVICT_PROTECT_GROUPS peers of
 * distinct address groups (the groups chosen by a keyed hash, so an attacker
 * cannot know which), the EVICT_PROTECT_PING with the fastest ping round
 * trip, the EVICT_PROTECT_TX and EVICT_PROTECT_BLOCK that most recently
 * delivered a transaction or block chaind accepted, and then the older half
 * of those left. Of the rest, the youngest peer of the group with the most
 * peers goes (ties: the group whose youngest is youngest): an attacker's
 * many connections from one group evict each other, not the others. When
 * every verified peer is protected there is no eviction, and the newcomer is
 * refused instead. */
#ifndef GOSSIP_EVICT_H
#define GOSSIP_EVICT_H

#include <stddef.h>
#include <stdint.h>

#define EVICT_PROTECT_GROUPS 4
#define EVICT_PROTECT_PING 8
#define EVICT_PROTECT_TX 4
#define EVICT_PROTECT_BLOCK 4
#define EVICT_KEY_LEN 16

/* How far a peer is on its way to a protected place: lower goes first. */
typedef enum {
    EVICT_HANDSHAKE,  /* no hello yet */
    EVICT_UNVERIFIED, /* no listen address, or its dial-back failed */
    EVICT_CHECKING,   /* its dial-back is to come or under way */
    EVICT_VERIFIED,
} evict_rank_t;

typedef struct {
    uint32_t id; /* the caller's name for it */
    evict_rank_t rank;
    const char *group; /* its address group (verified peers) */
    uint64_t connected_ms;
    uint64_t min_ping_ms;                /* UINT64_MAX: not measured */
    uint64_t last_tx_ms, last_block_ms;  /* 0: none */
    uint64_t group_key; /* filled by evict_choose: the keyed hash of group */
} evict_candidate_t;

/* The index in c of the peer to evict, or -1 when all n are protected (or n
 * is 0). Reorders c. key: a secret drawn at start. */
long evict_choose(evict_candidate_t *c, size_t n, const uint8_t key[EVICT_KEY_LEN]);

#endif
