/* dec: strict unsigned decimals in text (URL paths and queries, HTTP
 * headers, "host:port"): digits only, no sign, no space, no leading "+". */
#ifndef CHAIN_DEC_H
#define CHAIN_DEC_H

#include <stddef.h>
#include <stdint.h>

/* Exactly n decimal digits (1..20) whose value fits in 64 bits into *v: 0,
 * or -1 (and *v untouched) for anything else. s need not be NUL-terminated. */
int dec_u64(const char *s, size_t n, uint64_t *v) __attribute__((warn_unused_result));

#endif
