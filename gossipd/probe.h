/* probe: the dial-back that verifies an inbound peer's claimed listen
 * address before anything trusts it (docs/PROTOCOL.md, "Peers").
 *
 * The inbound side answers a hello that claims an address with a challenge
 * (a random nonce) on that connection. Some time later (PROBE_DELAY_MS: the
 * challenge reaches the peer first) it dials the claimed address on a
 * short-lived connection of its own and sends a probe naming its node id;
 * the node there answers with a proof: its own node id, and the nonce it was
 * challenged with on its connection to us. The claim is verified when the
 * proof's node id is the one the peer's hello gave and its nonce is that
 * peer's challenge; then, and only then, the address is the peer's: it is
 * reported, gossiped, kept in the address book and a ban key. A node id
 * alone would prove nothing (anyone connected to a node learns its id); the
 * nonce went only down the claimant's own connection, so only a node that
 * holds that connection can give it back. Anything else (a refusal, no
 * answer in PROBE_TIMEOUT_MS, another id or nonce) leaves the claim
 * unverified for the life of the connection: never banned for it.
 *
 * Bounds, since a claim makes us dial an address someone else chose: at
 * most PROBE_MAX probes at once, PROBE_RATE a second (bursts of
 * PROBE_BURST), one at a time to an address, one per claim. The youngest
 * claim due goes first: under a flood of claims the newest peer, the one
 * eviction keeps longest, is checked soonest.
 *
 * This module keeps the probes and moves the claims of the peer table
 * through their states (peer.h); the caller dials, sends and reads. Times
 * are monotonic milliseconds. Not thread-safe. */
#ifndef GOSSIP_PROBE_H
#define GOSSIP_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "peer.h"

#define PROBE_MAX 8
#define PROBE_RATE 4     /* probes a second */
#define PROBE_BURST 16
#define PROBE_DELAY_MS 500
#define PROBE_TIMEOUT_MS 5000

typedef struct {
    bool busy;
    peer_ref_t peer; /* the claimant */
    char addr[PEER_ADDR_MAX + 1];
    uint64_t deadline_ms;
} probe_slot_t;

typedef struct {
    probe_slot_t slot[PROBE_MAX];
    double tokens;
    uint64_t tokens_ms;
} probe_t;

void probe_init(probe_t *pr, uint64_t now_ms);
/* p's hello claims the dialable address claim: p draws its challenge
 * (nonce, never all zero) and its dial-back is due PROBE_DELAY_MS from now.
 * -1 without randomness (the claim is then not checked). */
int probe_claim(peer_t *p, const char *claim, uint64_t now_ms) __attribute__((warn_unused_result));
/* Starts the next dial-back that is due and allowed: the slot to dial (its
 * address and claimant in pr->slot[s]; the claim is PEER_CLAIM_PROBING),
 * or -1 when none is now. */
int probe_next(probe_t *pr, peer_table_t *t, uint64_t now_ms);
/* Slot s ended: a proof (node_id and nonce), or none (both NULL: refused,
 * closed, malformed, timed out). The claimant, if it is still there, is
 * verified or failed. The slot is free again. Returns the claimant when
 * it was verified, else NULL. */
peer_t *probe_done(probe_t *pr, peer_table_t *t, int s, const uint8_t *node_id,
                   const uint8_t *nonce);
/* A busy slot past its deadline, or -1. */
int probe_overdue(const probe_t *pr, uint64_t now_ms);

#endif
