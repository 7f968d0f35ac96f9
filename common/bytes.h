/* bytes: little-endian integers in byte buffers (header fields, store
 * records, length prefixes), one definition for every module. */
#ifndef CHAIN_BYTES_H
#define CHAIN_BYTES_H

#include <stdint.h>

/* Writes the low `width` bytes of v at p, least significant first. */
static inline void bytes_put_le(uint8_t *p, uint64_t v, int width)
{
    for (int i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Reads `width` bytes at p, least significant first. */
static inline uint64_t bytes_get_le(const uint8_t *p, int width)
{
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#endif
