/* u256: unsigned 256-bit integers for targets and chain work.
 * A plain value; limbs little-endian (w[0] least significant). */
#ifndef CHAIN_U256_H
#define CHAIN_U256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t w[4]; } u256_t;

/* Big-endian 32 bytes <-> u256 (a hash "read as a big-endian number"). */
void u256_from_be(u256_t *x, const uint8_t be[32]);
void u256_to_be(uint8_t be[32], const u256_t *x);
int u256_cmp(const u256_t *a, const u256_t *b);
bool u256_is_zero(const u256_t *a);
/* *a += *b; returns true on overflow past 2^256 (the result wraps). */
bool u256_add(u256_t *a, const u256_t *b);
/* *q = *n / *d (d non-zero; programmer error otherwise). */
void u256_div(u256_t *q, const u256_t *n, const u256_t *d);
/* *x = *x * mul / div, exact in 320 bits; false (x unchanged) when the result
 * does not fit in 256 bits or div is 0. */
bool u256_mul_div(u256_t *x, uint64_t mul, uint64_t div);
/* Index of the highest set bit plus one (0 for zero). */
unsigned u256_bits(const u256_t *x);
/* Decimal digits with a NUL; out has at least 79 bytes. */
void u256_to_dec(char out[79], const u256_t *x);
/* 64 lowercase hex digits, big-endian, with a NUL. */
void u256_to_hex(char out[65], const u256_t *x);

#endif
