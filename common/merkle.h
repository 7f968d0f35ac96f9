/* merkle: Bitcoin-style merkle roots over txids (DESIGN §3.4), and the branch
 * of the first leaf that mining jobs carry (§4.4). */
#ifndef CHAIN_MERKLE_H
#define CHAIN_MERKLE_H

#include <stdbool.h>
#include <stddef.h>

#include "hash.h"

/* Largest tree height: 2^32 leaves are far more than a block can hold. */
#define MERKLE_MAX_BRANCH 32

/* *root = the merkle root of n >= 1 leaves. *mutated (may be NULL) is set when
 * two leaves are equal: such a list has the same root as a shorter one, so a
 * block carrying it must be rejected (see merkle.c). -1 when n is 0 or memory
 * runs out; 0 otherwise. */
int merkle_root(hash32_t *root, bool *mutated, const hash32_t *leaves, size_t n)
    __attribute__((warn_unused_result));

/* The branch that proves leaf 0 (the coinbase): the sibling at each level, at
 * most MERKLE_MAX_BRANCH. Returns the branch length, or -1 when n is 0 or
 * memory runs out. */
int merkle_branch_first(hash32_t branch[MERKLE_MAX_BRANCH], const hash32_t *leaves, size_t n)
    __attribute__((warn_unused_result));

/* The root from leaf 0 and its branch. */
void merkle_root_from_branch(hash32_t *root, const hash32_t *leaf, const hash32_t *branch,
                             size_t branch_len);

#endif
