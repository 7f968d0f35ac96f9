/* merkle.h: roots against the shared vectors, the CVE-2012-2459 mutation
 * flag, and the first-leaf branch that mining jobs carry. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hex.h"
#include "merkle.h"
#include "vectors.h"

static hash32_t h32(const char *hex)
{
    hash32_t h;
    cr_assert_eq(hex_decode_exact(h.b, 32, hex), 0, "bad hash %s", hex);
    return h;
}

/* Distinct pseudo-random leaves: SHA256d of a seed and the index. */
static void make_leaves(hash32_t *leaves, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t in[16] = {0};
        uint64_t index = i;
        memcpy(in, &seed, sizeof seed);
        memcpy(in + 8, &index, sizeof index);
        hash_sha256d(&leaves[i], in, sizeof in);
    }
}

static hash32_t parent(const hash32_t *l, const hash32_t *r)
{
    uint8_t pair[64];
    memcpy(pair, l->b, 32);
    memcpy(pair + 32, r->b, 32);
    hash32_t p;
    hash_sha256d(&p, pair, sizeof pair);
    return p;
}

Test(merkle, vectors)
{
    json_t *cases = vectors_section("merkle");
    size_t i;
    json_t *v;
    json_array_foreach(cases, i, v) {
        json_t *jleaves = json_object_get(v, "leaves");
        size_t n = json_array_size(jleaves);
        cr_assert_gt(n, 0, "merkle[%zu] has no leaves", i);
        hash32_t *leaves = calloc(n, sizeof *leaves);
        cr_assert_not_null(leaves);
        for (size_t j = 0; j < n; j++) {
            const char *s = json_string_value(json_array_get(jleaves, j));
            cr_assert_not_null(s);
            leaves[j] = h32(s);
        }
        hash32_t root, want = h32(vstr(v, "root"));
        bool mutated = true;
        cr_assert_eq(merkle_root(&root, &mutated, leaves, n), 0);
        cr_assert(hash32_eq(&root, &want), "merkle[%zu] (%zu leaves): wrong root", i, n);
        cr_assert_not(mutated, "merkle[%zu]: distinct leaves flagged as mutated", i);
        /* mutated is optional */
        cr_assert_eq(merkle_root(&root, NULL, leaves, n), 0);
        cr_assert(hash32_eq(&root, &want));
        /* and the branch of leaf 0 leads to the same root */
        hash32_t branch[MERKLE_MAX_BRANCH], from_branch;
        int len = merkle_branch_first(branch, leaves, n);
        cr_assert_geq(len, 0);
        merkle_root_from_branch(&from_branch, &leaves[0], branch, (size_t)len);
        cr_assert(hash32_eq(&from_branch, &want), "merkle[%zu]: branch root", i);
        free(leaves);
    }
}

Test(merkle, small_trees_by_hand)
{
    hash32_t l[3], root;
    make_leaves(l, 3, 7);
    /* one leaf: the root is the leaf itself */
    cr_assert_eq(merkle_root(&root, NULL, l, 1), 0);
    cr_assert(hash32_eq(&root, &l[0]));
    /* two: H(a||b) */
    hash32_t ab = parent(&l[0], &l[1]);
    cr_assert_eq(merkle_root(&root, NULL, l, 2), 0);
    cr_assert(hash32_eq(&root, &ab));
    /* three: H(H(a||b) || H(c||c)), the odd last node paired with itself */
    hash32_t cc = parent(&l[2], &l[2]), want = parent(&ab, &cc);
    cr_assert_eq(merkle_root(&root, NULL, l, 3), 0);
    cr_assert(hash32_eq(&root, &want));
}

Test(merkle, mutation_flag)
{
    hash32_t l[8], root, short_root;
    make_leaves(l, 8, 1);
    bool mutated;

    /* [a, b, c, c]: same root as [a, b, c] (CVE-2012-2459), and flagged */
    hash32_t abcc[4] = {l[0], l[1], l[2], l[2]};
    cr_assert_eq(merkle_root(&short_root, &mutated, l, 3), 0);
    cr_assert_not(mutated);
    mutated = false;
    cr_assert_eq(merkle_root(&root, &mutated, abcc, 4), 0);
    cr_assert(mutated, "[a,b,c,c] not flagged");
    cr_assert(hash32_eq(&root, &short_root), "the mutation this flag guards against");

    hash32_t aa[2] = {l[0], l[0]};
    mutated = false;
    cr_assert_eq(merkle_root(&root, &mutated, aa, 2), 0);
    cr_assert(mutated, "[a,a] not flagged");

    /* equal leaves that are not neighbours, nor at the end */
    hash32_t aba[3] = {l[0], l[1], l[0]};
    mutated = false;
    cr_assert_eq(merkle_root(&root, &mutated, aba, 3), 0);
    cr_assert(mutated, "[a,b,a] not flagged");
    hash32_t spread[8] = {l[0], l[1], l[2], l[3], l[4], l[1], l[6], l[7]};
    mutated = false;
    cr_assert_eq(merkle_root(&root, &mutated, spread, 8), 0);
    cr_assert(mutated, "equal leaves 1 and 5 not flagged");

    /* distinct leaves, any count */
    for (size_t n = 1; n <= 8; n++) {
        mutated = true;
        cr_assert_eq(merkle_root(&root, &mutated, l, n), 0);
        cr_assert_not(mutated, "%zu distinct leaves flagged", n);
    }
    /* leaves that differ in one byte only are distinct */
    hash32_t near[2] = {l[0], l[0]};
    near[1].b[31] ^= 1;
    mutated = true;
    cr_assert_eq(merkle_root(&root, &mutated, near, 2), 0);
    cr_assert_not(mutated);
}

Test(merkle, flag_does_not_change_root)
{
    /* computing the flag must not reorder the leaves the root is built from */
    hash32_t l[5], with_flag, without;
    make_leaves(l, 5, 99);
    bool mutated;
    cr_assert_eq(merkle_root(&with_flag, &mutated, l, 5), 0);
    cr_assert_eq(merkle_root(&without, NULL, l, 5), 0);
    cr_assert(hash32_eq(&with_flag, &without));
    /* and the order of leaves matters */
    hash32_t swapped[5] = {l[1], l[0], l[2], l[3], l[4]};
    cr_assert_eq(merkle_root(&without, NULL, swapped, 5), 0);
    cr_assert_not(hash32_eq(&with_flag, &without));
}

Test(merkle, branch_first_leaf)
{
    hash32_t leaves[20];
    make_leaves(leaves, 20, 2024);
    for (size_t n = 1; n <= 20; n++) {
        hash32_t root, from_branch, branch[MERKLE_MAX_BRANCH];
        cr_assert_eq(merkle_root(&root, NULL, leaves, n), 0);
        int len = merkle_branch_first(branch, leaves, n);
        /* the tree's height: ceil(log2(n)) */
        int height = 0;
        while (((size_t)1 << height) < n)
            height++;
        cr_assert_eq(len, height, "n=%zu: branch of %d, want %d", n, len, height);
        merkle_root_from_branch(&from_branch, &leaves[0], branch, (size_t)len);
        cr_assert(hash32_eq(&from_branch, &root), "n=%zu: branch does not give the root", n);
        if (n >= 2)
            cr_assert(hash32_eq(&branch[0], &leaves[1]), "n=%zu: first sibling is leaf 1", n);
        /* a different coinbase gives a different root through the same branch */
        hash32_t other = leaves[0];
        other.b[0] ^= 0x80;
        merkle_root_from_branch(&from_branch, &other, branch, (size_t)len);
        cr_assert_not(hash32_eq(&from_branch, &root), "n=%zu", n);
        /* which equals the root of the tree with that coinbase */
        hash32_t changed[20];
        memcpy(changed, leaves, sizeof changed);
        changed[0] = other;
        cr_assert_eq(merkle_root(&root, NULL, changed, n), 0);
        cr_assert(hash32_eq(&from_branch, &root), "n=%zu: new coinbase's root", n);
    }
}

Test(merkle, branch_of_three_by_hand)
{
    /* [a, b, c]: branch b, H(c||c) */
    hash32_t l[3], branch[MERKLE_MAX_BRANCH];
    make_leaves(l, 3, 5);
    cr_assert_eq(merkle_branch_first(branch, l, 3), 2);
    hash32_t cc = parent(&l[2], &l[2]);
    cr_assert(hash32_eq(&branch[0], &l[1]));
    cr_assert(hash32_eq(&branch[1], &cc));
}

Test(merkle, empty)
{
    hash32_t root, branch[MERKLE_MAX_BRANCH], leaf = {{0}};
    bool mutated = false;
    cr_assert_eq(merkle_root(&root, &mutated, &leaf, 0), -1);
    cr_assert_eq(merkle_root(&root, NULL, NULL, 0), -1);
    cr_assert_eq(merkle_branch_first(branch, &leaf, 0), -1);
    cr_assert_eq(merkle_branch_first(branch, NULL, 0), -1);
    /* a zero-length branch gives the leaf back */
    leaf.b[3] = 9;
    merkle_root_from_branch(&root, &leaf, branch, 0);
    cr_assert(hash32_eq(&root, &leaf));
}
