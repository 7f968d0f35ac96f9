/* Test support: the independent vectors in ../shared/vectors.json and
 * ../shared/vectors-ed25519.json (the signature rule's edge cases).
 *
 * vectors() and vectors_ed25519() return the parsed file (borrowed; loaded
 * once per process). A missing or unparsable file fails the calling test
 * loudly, naming the path: the vectors are the check against an independent
 * implementation and are never skipped. CHAIN_VECTORS and
 * CHAIN_VECTORS_ED25519 override the paths. */
#ifndef CHAIN_TEST_VECTORS_H
#define CHAIN_TEST_VECTORS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

json_t *vectors(void);
json_t *vectors_ed25519(void);
/* vectors()[section], asserted to be a non-empty array. */
json_t *vectors_section(const char *section);
/* vectors_ed25519()[section], asserted to be a non-empty array. */
json_t *vectors_ed25519_section(const char *section);
/* Field `key` of object o as a string, asserted present. */
const char *vstr(const json_t *o, const char *key);
/* Field `key` of object o as a boolean, asserted present. */
bool vbool(const json_t *o, const char *key);
/* Decodes hex field `key` of o into a malloc'd buffer (caller frees); *len. */
uint8_t *vhex(const json_t *o, const char *key, size_t *len);
/* Decodes hex field `key` of o into exactly len bytes of out. */
void vhex_exact(const json_t *o, const char *key, uint8_t *out, size_t len);
/* headers[header_index] (whose merkle root is coinbase[0]'s txid) with
 * coinbase[0]: the block encoding written out by hand from DESIGN §3.4
 * (malloc'd: the caller frees); *len. */
uint8_t *vectors_block(size_t header_index, size_t *len);

#endif
