#include "merkle.h"

#include <stdlib.h>
#include <string.h>

/* WARNING (CVE-2012-2459): duplicating the last node of an odd row means that
 * the leaf lists [a, b, c] and [a, b, c, c] have the same root. An attacker can
 * take a valid block, append a copy of its last transaction(s), and obtain an
 * invalid block (a transaction spent twice) with the valid block's hash. A node
 * that marks that hash as invalid would then refuse the real block forever.
 * So a block with two equal txids is invalid by rule, and is rejected as a
 * mutation without marking its header hash bad. Detecting equal leaves is
 * enough: equal inner nodes without equal leaves need a SHA-256 collision. */

static void parent(hash32_t *out, const hash32_t *left, const hash32_t *right)
{
    uint8_t pair[64];
    memcpy(pair, left->b, 32);
    memcpy(pair + 32, right->b, 32);
    hash_sha256d(out, pair, sizeof pair);
}

static int cmp_hash(const void *a, const void *b) { return memcmp(a, b, 32); }

/* A copy of the leaves to climb in place; NULL when memory runs out. */
static hash32_t *copy_row(const hash32_t *leaves, size_t n)
{
    hash32_t *row = malloc(n * sizeof *row);
    if (row)
        memcpy(row, leaves, n * sizeof *row);
    return row;
}

/* Reduces row[0..n) to the root in row[0], a level at a time, the last node
 * of an odd level paired with itself. When branch is set it receives leaf 0's
 * sibling at each level. Returns the number of levels. */
static int climb(hash32_t *row, size_t n, hash32_t *branch)
{
    int levels = 0;
    while (n > 1) {
        if (branch)
            branch[levels] = row[1];
        levels++;
        size_t j = 0;
        for (size_t i = 0; i < n; i += 2, j++)
            parent(&row[j], &row[i], &row[i + 1 < n ? i + 1 : i]);
        n = j;
    }
    return levels;
}

int merkle_root(hash32_t *root, bool *mutated, const hash32_t *leaves, size_t n)
{
    hash32_t *row = n ? copy_row(leaves, n) : NULL;
    if (!row)
        return -1;
    if (mutated) {
        qsort(row, n, sizeof *row, cmp_hash);
        *mutated = false;
        for (size_t i = 1; i < n; i++)
            if (hash32_eq(&row[i - 1], &row[i]))
                *mutated = true;
        memcpy(row, leaves, n * sizeof *row);
    }
    climb(row, n, NULL);
    *root = row[0];
    free(row);
    return 0;
}

int merkle_branch_first(hash32_t branch[MERKLE_MAX_BRANCH], const hash32_t *leaves, size_t n)
{
    /* more than 2^32 leaves would need a longer branch than the caller's */
    hash32_t *row = n && (uint64_t)n <= (uint64_t)1 << MERKLE_MAX_BRANCH ? copy_row(leaves, n) : NULL;
    if (!row)
        return -1;
    int len = climb(row, n, branch);
    free(row);
    return len;
}

void merkle_root_from_branch(hash32_t *root, const hash32_t *leaf, const hash32_t *branch,
                             size_t branch_len)
{
    hash32_t h = *leaf;
    for (size_t i = 0; i < branch_len; i++)
        parent(&h, &h, &branch[i]);
    *root = h;
}
