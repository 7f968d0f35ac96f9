/* handshake: hello, the first words of every connection (docs/PROTOCOL.md,
 * "Peers"). The dialler sends hello first; the other side answers once it has
 * checked it. A hello carrying our own node id marks that address as
 * ourselves, never dialled again (self-dial); of two connections between the
 * same two nodes (twins), both keep the one dialled by the lower node id. A
 * completed handshake makes the peer ready and tells it, and the others,
 * whom we know. Internal to gossipd (gossip_state.h). */
#ifndef GOSSIP_HANDSHAKE_H
#define GOSSIP_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "addrbook.h"
#include "gossip.h"
#include "peer.h"
#include "proto.h"

#define HANDSHAKE_TIMEOUT_MS 10000 /* a connection must complete its hello by then */
#define HANDSHAKE_ADDR_SAMPLE 100  /* addresses sent after a handshake */

typedef struct {
    uint8_t node_id[PEER_ID_LEN];          /* drawn at start */
    char advertise[ADDRBOOK_ADDR_MAX + 1]; /* the address in our hello ("" for none) */
} handshake_state_t;

/* Draws the node id and keeps the advertised address. -1 without randomness. */
int handshake_init(handshake_state_t *h, const char *advertise)
    __attribute__((warn_unused_result));

/* Our hello to p (the view's tip as our height). */
void handshake_send_hello(gossip_t *g, peer_t *p);
/* A hello from p, not yet ready. */
void handshake_on_hello(gossip_t *g, peer_t *p, const proto_peer_msg_t *m);
/* A hello of another network still names its sender: its address and node
 * id become p's, so a ban can hold on to them (a loopback IP cannot be
 * banned). */
void handshake_name_foreign(peer_t *p, const uint8_t *data, size_t len);
/* Whether an address book entry is a node we must not dial: ourselves or a
 * node already connected. */
bool handshake_known_node(const gossip_t *g, const uint8_t node_id[PEER_ID_LEN]);

#endif
