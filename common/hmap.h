/* hmap: an open-addressing hash map from fixed-size byte keys (a txid, an
 * outpoint) to pointers. Keys are copied in; values are the caller's.
 * Not thread-safe: callers lock. Every byte of a key is hashed (SipHash-2-4
 * under a random key per map), so keys may share prefixes (the outpoints of
 * one transaction) and peers cannot choose keys that collide; iteration order
 * differs from run to run. */
#ifndef CHAIN_HMAP_H
#define CHAIN_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hmap hmap_t;

/* A map for keys of key_len bytes (at most 64). NULL when memory runs out. */
hmap_t *hmap_new(size_t key_len);
/* Frees the map (not the values) and sets *m to NULL. */
void hmap_destroy(hmap_t **m);
size_t hmap_count(const hmap_t *m);
/* The value of key, or NULL. */
void *hmap_get(const hmap_t *m, const void *key);
/* Sets key to value (non-NULL), replacing any old value. -1 when memory runs out. */
int hmap_put(hmap_t *m, const void *key, void *value) __attribute__((warn_unused_result));
/* Removes key; returns its value, or NULL when absent. */
void *hmap_del(hmap_t *m, const void *key);
/* Iteration: *pos starts at 0; each call yields one entry, false at the end.
 * The map must not change during an iteration (deleting moves entries):
 * collect what to delete, or restart from 0 after each deletion. */
bool hmap_next(const hmap_t *m, size_t *pos, const void **key, void **value);

#endif
