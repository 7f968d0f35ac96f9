/* Test support: the independent vectors in ../shared/vectors.json.
 *
 * vectors() returns the parsed file (borrowed; loaded once per process). A
 * missing or unparsable file fails the calling test loudly: the vectors are
 * the check against an independent implementation and may never be skipped.
 * CHAIN_VECTORS overrides the path. */
#ifndef CHAIN_TEST_VECTORS_H
#define CHAIN_TEST_VECTORS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

json_t *vectors(void);
/* vectors()[section], asserted to be a non-empty array. */
json_t *vectors_section(const char *section);
/* Field `key` of object o as a string, asserted present. */
const char *vstr(const json_t *o, const char *key);
/* Decodes hex field `key` of o into a malloc'd buffer (caller frees); *len. */
uint8_t *vhex(const json_t *o, const char *key, size_t *len);
/* Decodes hex field `key` of o into exactly len bytes of out. */
void vhex_exact(const json_t *o, const char *key, uint8_t *out, size_t len);

#endif
