/* sample: a message of any type written from proto's schema, its values
 * drawn from a seed, for tests, fuzz seeds and fuzz targets. The values span
 * the msgpack forms within the schema's bounds: integers from fixint to
 * uint64, strings and binaries across the 8/16/32-bit length forms (a bin of
 * more than 65535 bytes now and then), arrays from empty to their maximum.
 * Needs only chainproto, so the fuzz targets can link it. */
#ifndef CHAIN_TEST_SAMPLE_H
#define CHAIN_TEST_SAMPLE_H

#include <stdint.h>

#include "hash.h"
#include "mp.h"
#include "proto.h"

/* Writes a whole message of family and type into b (reset first): a
 * request, an ok reply, a peer message of network "regtest", or an event
 * body ("seq" first). Every field of the schema, none other. */
void sample_message(mp_buf_t *b, proto_family_t family, int type, uint64_t seed);

/* The number of types of a family. */
int sample_types(proto_family_t family);

/* A hello of network from node id, advertising listen, at height 0: into b
 * (reset first). sample_hello(): the node whose 8 id bytes are all id_byte. */
void sample_hello_of(mp_buf_t *b, const char *network, const char *listen, const uint8_t id[8]);
void sample_hello(mp_buf_t *b, const char *network, const char *listen, uint8_t id_byte);

/* A hash that names n on a branch: every byte fill, then n's bytes first. */
hash32_t sample_hash(uint64_t n, uint8_t fill);

#endif
