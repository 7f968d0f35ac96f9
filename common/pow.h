/* pow: compact targets ("bits", Bitcoin's nBits rules), block work, and the
 * retarget rule (DESIGN §3.4, §3.5). */
#ifndef CHAIN_POW_H
#define CHAIN_POW_H

#include <stdbool.h>
#include <stdint.h>

#include "params.h"
#include "u256.h"

/* The target of a compact value. *negative and *overflow (either may be NULL)
 * report the two ways a compact value is invalid; the target is then
 * meaningless. */
void pow_compact_to_target(u256_t *target, uint32_t bits, bool *negative, bool *overflow);
/* The compact form of a target (rounded down to 3 significant bytes). */
uint32_t pow_target_to_compact(const u256_t *target);
/* Work of a block with this target: 2^256 / (target + 1). */
void pow_work(u256_t *work, const u256_t *target);

/* A target as a double: 0 for bits that are not a valid compact target
 * (negative or overflowing). */
double pow_target_value(uint32_t bits);
/* The difficulty of bits: the network's easiest target over bits's, so 1.0
 * at the easiest; 0 for invalid bits (as shown by /status and /metrics). */
double pow_difficulty(const chain_params_t *params, uint32_t bits);

/* The bits a block at `height` must carry. prev_bits are its parent's bits;
 * first_time and last_time are the timestamps of blocks height-interval and
 * height-1 (only read when height is a positive multiple of the interval on a
 * retargeting network). The previous target is scaled by
 * (last_time - first_time) / ((interval - 1) * spacing), the ratio clamped to
 * [1/4, 4], never easier than the network's limit. */
uint32_t pow_next_bits(const chain_params_t *params, uint64_t height, uint32_t prev_bits,
                       uint64_t first_time, uint64_t last_time);

#endif
