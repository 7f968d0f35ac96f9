/* handlers: what each peer message does, dispatched by type through one
 * table of {handler, solicited} a proto_msg_t. A message costs one token of
 * the peer's flood bucket unless its type's `solicited` test finds it an
 * answer to our own request (their number is bounded by what we ask); a
 * message before the handshake is only ever a hello. The table also wires
 * the download's operations (sync_ops_t). Internal to gossipd
 * (gossip_state.h). */
#ifndef GOSSIP_HANDLERS_H
#define GOSSIP_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip.h"
#include "hash.h"
#include "peer.h"
#include "sync.h"

typedef struct {
    hash32_t *hashes; /* PROTO_MAX_INV hashes of one inv, getdata or notfound */
    uint8_t *hdrbuf;  /* PROTO_MAX_HEADERS headers of one headers message */
} handlers_state_t;

/* Allocates the scratch buffers: -1 when memory runs out. */
int handlers_init(handlers_state_t *h) __attribute__((warn_unused_result));
void handlers_free(handlers_state_t *h);

/* One message from p (malformed: it came in several frames): decoded,
 * charged, dispatched. The caller reaps p afterwards. */
void handlers_handle(gossip_t *g, peer_t *p, const uint8_t *data, size_t len, bool malformed);

/* The download's operations, on g. */
sync_ops_t handlers_sync_ops(gossip_t *g);

#endif
