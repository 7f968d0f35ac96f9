/* handshake: hello, the first words of every connection, and the dial-back
 * that verifies what an inbound peer's hello claims (docs/PROTOCOL.md,
 * "Peers"; probe.h). The dialler sends hello first; the other side answers
 * once it has checked it, and challenges a claimed listen address. A hello
 * carrying our own node id marks that address as ourselves, never dialled
 * again (self-dial); of two connections between the same two nodes (twins),
 * both keep the one dialled by the lower node id. A completed handshake
 * makes the peer ready and tells it whom we know; an inbound peer's address
 * is its own (reported, gossiped, kept, a ban key) once its dial-back proved
 * it. The other side of the dial-back lives here too: a probe is answered
 * with a proof, on a connection that never becomes a peer. Internal to
 * gossipd (gossip_state.h). */
#ifndef GOSSIP_HANDSHAKE_H
#define GOSSIP_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "addrbook.h"
#include "gossip.h"
#include "peer.h"
#include "probe.h"
#include "proto.h"

#define HANDSHAKE_TIMEOUT_MS 10000 /* a connection must complete its hello by then */
#define HANDSHAKE_ADDR_SAMPLE 100  /* addresses sent after a handshake */
/* inbound connections held beyond the inbound peer slots: room for
 * newcomers before their hello (conntab.h) */
#define HANDSHAKE_SPARE_CONNS 16

typedef struct {
    uint8_t node_id[PEER_ID_LEN];          /* drawn at start */
    char advertise[ADDRBOOK_ADDR_MAX + 1]; /* the address in our hello ("" for none) */
    probe_t probe;                         /* our dial-backs */
} handshake_state_t;

/* Draws the node id and keeps the advertised address. -1 without randomness. */
int handshake_init(handshake_state_t *h, const char *advertise, uint64_t now_ms)
    __attribute__((warn_unused_result));

/* Our hello to p (the view's tip as our height). */
void handshake_send_hello(gossip_t *g, peer_t *p);
/* A hello from p, not yet ready. */
void handshake_on_hello(gossip_t *g, peer_t *p, const proto_peer_msg_t *m);
/* Whether an address book entry is a node we must not dial: ourselves or a
 * node already connected. */
bool handshake_known_node(const gossip_t *g, const uint8_t node_id[PEER_ID_LEN]);

/* A probe, the first message of a connection (routing id rid): answered
 * with our proof for the node it names. The connection never becomes a
 * peer. */
void handshake_answer_probe(gossip_t *g, const uint8_t *rid, size_t rid_len,
                            const proto_peer_msg_t *m);
/* Dials the dial-backs that are due (from the dial timer). */
void handshake_probe_due(gossip_t *g);
/* What dial-back s's connection (its net slot: the peer table's cap + s)
 * has to say: its end, or its answer. */
void handshake_probe_read(gossip_t *g, int s);
/* Ends the dial-backs past their time (from the tick). */
void handshake_probe_expire(gossip_t *g);

#endif
