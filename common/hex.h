/* hex: lowercase hex encoding and strict decoding. */
#ifndef CHAIN_HEX_H
#define CHAIN_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*len lowercase hex digits and a NUL into out (capacity 2*len+1). */
void hex_encode(char *out, const uint8_t *data, size_t len);

/* Decodes exactly hexlen digits (upper or lower case) into out (capacity cap).
 * Returns the number of bytes written, or -1 when hexlen is odd, a character is
 * not a hex digit, or the result would not fit in cap. */
long hex_decode(uint8_t *out, size_t cap, const char *hex, size_t hexlen);

/* Decodes a NUL-terminated string that must hold exactly len bytes. 0 or -1. */
int hex_decode_exact(uint8_t *out, size_t len, const char *hex);

#endif
