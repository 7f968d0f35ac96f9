/* parking: acknowledged transactions that wait for a parent to confirm.
 *
 * The mempool takes spends of confirmed coins only. A reorganisation can
 * unconfirm a parent while its child, acknowledged earlier, waits or was
 * confirmed after it: the parent goes back to the pool and the child would
 * have no place. Such a child is parked here (its store record stays), and
 * offered to the pool again after each block until it is admitted or breaks
 * a rule for good (chaind/node.c decides).
 *
 * Bounds: PARKING_MAX_COUNT transactions and PARKING_MAX_BYTES of their
 * encodings; a newcomer past them pushes out the oldest (parking_add says
 * which). Not thread-safe: the node's lock serialises calls. */
#ifndef CHAIND_PARKING_H
#define CHAIND_PARKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"

#define PARKING_MAX_COUNT 1000
#define PARKING_MAX_BYTES ((size_t)4 << 20)

typedef struct {
    hash32_t txid;
    uint8_t *raw; /* owned by the set */
    size_t len;
    uint8_t flags;    /* of its store record */
    uint64_t arrival; /* unix seconds */
} parking_entry_t;

typedef struct {
    parking_entry_t *v; /* oldest first */
    size_t n, bytes;
} parking_t;

/* An empty set (no allocation until the first add). */
void parking_init(parking_t *p);
void parking_free(parking_t *p);

/* Parks a copy of raw[0..len) under txid (a no-op when parked already: 0).
 * Past the bounds the oldest entries leave first: their txids go to
 * pushed_out (room for PARKING_MAX_COUNT), *n_pushed says how many. -1 when
 * memory runs out or len alone is over PARKING_MAX_BYTES (nothing changes). */
int parking_add(parking_t *p, const hash32_t *txid, const uint8_t *raw, size_t len,
                uint8_t flags, uint64_t arrival, hash32_t *pushed_out, size_t *n_pushed)
    __attribute__((warn_unused_result));
/* The entry parked under txid, or NULL. Valid until the next change. */
const parking_entry_t *parking_get(const parking_t *p, const hash32_t *txid);
/* Unparks txid (a no-op when absent). */
void parking_remove(parking_t *p, const hash32_t *txid);
size_t parking_count(const parking_t *p);

#endif
