/* sha256d.h: every kernel against OpenSSL's SHA256(SHA256(header)) on random
 * headers and at the edge nonces, the early-exit scan against a brute-force
 * list of candidates (across the 32-bit carry and up to 2^64-1), and
 * worker_search(), the miners' "first valid nonce", against a brute-force
 * OpenSSL scan. Kernels the CPU cannot run are skipped, with a note. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <openssl/sha.h>
#include <string.h>

#include "block.h"
#include "sha256d.h"
#include "worker.h"

/* Deterministic (so a failure replays): xorshift64*. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static void random_header(uint8_t h[BLOCK_HEADER_LEN])
{
    for (int i = 0; i < BLOCK_HEADER_LEN; i++)
        h[i] = (uint8_t)rng();
}

/* The reference: OpenSSL on the 88 bytes with the nonce written in. */
static void reference(uint8_t out[32], const uint8_t header[BLOCK_HEADER_LEN], uint64_t nonce)
{
    uint8_t h[BLOCK_HEADER_LEN], first[32];
    memcpy(h, header, sizeof h);
    for (int i = 0; i < 8; i++)
        h[80 + i] = (uint8_t)(nonce >> (8 * i));
    SHA256(h, sizeof h, first);
    SHA256(first, sizeof first, out);
}

static uint32_t top_word(const uint8_t d[32])
{
    return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
}

/* Checks kernel k's full digests of the batch at (hi, lo) against OpenSSL. */
static void check_batch(const sha256d_kernel_t *k, sha256d_work_t *w,
                        const uint8_t header[BLOCK_HEADER_LEN], uint32_t hi, uint32_t lo)
{
    uint8_t out[SHA256D_MAX_LANES][32], want[32];
    sha256d_work_set_hi(w, hi);
    k->hash(w, lo, out);
    for (unsigned i = 0; i < k->lanes; i++) {
        uint64_t nonce = (uint64_t)hi << 32 | (uint32_t)(lo + i);
        reference(want, header, nonce);
        cr_assert_arr_eq(out[i], want, 32, "kernel %s: nonce %016llx (lane %u) differs from "
                         "OpenSSL", k->name, (unsigned long long)nonce, i);
    }
}

/* Every candidate in [start, start+count) by the scan, in order, against
 * the brute-force list of nonces whose hash's top word is <= target0. */
static void check_scan(const sha256d_kernel_t *k, const uint8_t header[BLOCK_HEADER_LEN],
                       uint32_t target0, uint64_t start, uint64_t count)
{
    sha256d_work_t w;
    sha256d_work_init(&w, header, target0);
    uint64_t pos = start, end = start + (count - 1), found;
    size_t seen = 0;
    bool rest = true; /* nonces pos..end are left to scan */
    for (uint64_t n = start;; n++) {
        uint8_t d[32];
        reference(d, header, n);
        if (top_word(d) <= target0) {
            cr_assert(sha256d_scan(k, &w, pos, end - pos + 1, &found),
                      "kernel %s: missed candidate %016llx", k->name, (unsigned long long)n);
            cr_assert_eq(found, n, "kernel %s: candidate %016llx, expected %016llx", k->name,
                         (unsigned long long)found, (unsigned long long)n);
            seen++;
            rest = n != end;
            pos = n + 1;
        }
        if (n == end)
            break;
    }
    if (rest)
        cr_assert_not(sha256d_scan(k, &w, pos, end - pos + 1, &found),
                      "kernel %s: false candidate %016llx", k->name, (unsigned long long)found);
    cr_assert_gt(seen, 0, "a test range without candidates proves little");
}

#define FOR_EACH_KERNEL(k)                                                   \
    size_t n_kernels_;                                                       \
    const sha256d_kernel_t *all_ = sha256d_kernels(&n_kernels_);             \
    for (const sha256d_kernel_t *k = all_; k < all_ + n_kernels_; k++)       \
        if (!k->supported())                                                 \
            cr_log_warn("kernel %s: not supported by this CPU, skipped", k->name); \
        else

Test(sha256d, kernels_match_openssl_on_random_headers)
{
    FOR_EACH_KERNEL(k)
    {
        for (int t = 0; t < 1000; t++) {
            uint8_t header[BLOCK_HEADER_LEN];
            sha256d_work_t w;
            random_header(header);
            sha256d_work_init(&w, header, 0);
            uint64_t nonce = rng();
            check_batch(k, &w, header, (uint32_t)(nonce >> 32), (uint32_t)nonce);
        }
    }
}

Test(sha256d, kernels_at_edge_nonces)
{
    FOR_EACH_KERNEL(k)
    {
        uint8_t header[BLOCK_HEADER_LEN];
        sha256d_work_t w;
        random_header(header);
        sha256d_work_init(&w, header, 0);
        check_batch(k, &w, header, 0, 0);                        /* nonce 0 */
        check_batch(k, &w, header, 0, 0xffffffffu);              /* lanes wrap in one half */
        check_batch(k, &w, header, 1, 0);                        /* 2^32 */
        check_batch(k, &w, header, 0xffffffffu, 0xffffffffu - (k->lanes - 1)); /* to 2^64-1 */
        check_batch(k, &w, header, 0xffffffffu, 0xffffffffu);    /* 2^64-1 first */
        check_batch(k, &w, header, 0x80000000u, 0x7fffffffu);    /* sign bits flip */
    }
}

Test(sha256d, scan_finds_every_candidate_in_order)
{
    FOR_EACH_KERNEL(k)
    {
        uint8_t header[BLOCK_HEADER_LEN];
        random_header(header);
        /* about one nonce in 8, ranges not multiples of the lanes */
        check_scan(k, header, 0x1fffffffu, 1000, 301);
        check_scan(k, header, 0x1fffffffu, 0, 77);
        /* across the 32-bit carry: the scan moves to the next high half */
        check_scan(k, header, 0x1fffffffu, ((uint64_t)1 << 32) - 37, 75);
        check_scan(k, header, 0x1fffffffu, ((uint64_t)7 << 32) - 3, 5 + 64);
        /* up to the last nonce */
        check_scan(k, header, 0x3fffffffu, UINT64_MAX - 60, 61);
        /* every nonce a candidate: the scan returns each in turn */
        check_scan(k, header, 0xffffffffu, ((uint64_t)1 << 32) - 20, 40);
    }
}

Test(sha256d, single_nonce_ranges)
{
    FOR_EACH_KERNEL(k)
    {
        uint8_t header[BLOCK_HEADER_LEN], d[32];
        random_header(header);
        sha256d_work_t w;
        const uint64_t nonces[] = {0, 0xffffffffu, (uint64_t)1 << 32, UINT64_MAX};
        for (size_t i = 0; i < sizeof nonces / sizeof nonces[0]; i++) {
            uint64_t found;
            reference(d, header, nonces[i]);
            /* a bound just at and just below its top word */
            sha256d_work_init(&w, header, top_word(d));
            cr_assert(sha256d_scan(k, &w, nonces[i], 1, &found) && found == nonces[i],
                      "kernel %s: nonce %016llx at its own top word", k->name,
                      (unsigned long long)nonces[i]);
            if (top_word(d) > 0) {
                sha256d_work_init(&w, header, top_word(d) - 1);
                cr_assert_not(sha256d_scan(k, &w, nonces[i], 1, &found),
                              "kernel %s: nonce %016llx below its top word", k->name,
                              (unsigned long long)nonces[i]);
            }
        }
    }
}

/* worker_search against a brute-force OpenSSL scan with block_hash_meets. */
Test(sha256d, search_finds_the_first_valid_nonce)
{
    const uint32_t bits = 0x1f00ffffu; /* demo: top word 0x0000ffff, a nonce in 65536 */
    FOR_EACH_KERNEL(k)
    {
        for (int t = 0; t < 3; t++) {
            job_work_t work;
            memset(&work, 0, sizeof work);
            block_header_t h = {.version = 1, .timestamp = rng(), .bits = bits};
            for (int i = 0; i < 32; i++) {
                h.previous_block_hash.b[i] = (uint8_t)rng();
                h.merkle_root.b[i] = (uint8_t)rng();
            }
            block_header_encode(work.header, &h);
            work.bits = bits;
            uint64_t start = t == 2 ? ((uint64_t)3 << 32) - 20000 : rng() >> 1, want = start;
            hash32_t want_hash, got_hash;
            for (;; want++) {
                reference(want_hash.b, work.header, want);
                if (block_hash_meets(&want_hash, bits))
                    break;
            }
            sha256d_work_t w;
            uint64_t got;
            sha256d_work_init(&w, work.header, sha256d_target_word(bits));
            cr_assert(worker_search(k, &w, &work, start, want - start + 1000, &got, &got_hash),
                      "kernel %s: no valid nonce found", k->name);
            cr_assert_eq(got, want, "kernel %s: found %016llx, the first valid is %016llx",
                         k->name, (unsigned long long)got, (unsigned long long)want);
            cr_assert(hash32_eq(&got_hash, &want_hash));
            /* and nothing before it */
            if (want > start)
                cr_assert_not(worker_search(k, &w, &work, start, want - start, &got, &got_hash));
        }
    }
}

Test(sha256d, target_word)
{
    cr_assert_eq(sha256d_target_word(0x207fffffu), 0x7fffff00u);
    cr_assert_eq(sha256d_target_word(0x1f00ffffu), 0x0000ffffu);
    cr_assert_eq(sha256d_target_word(0x2000ffffu), 0x00ffff00u);
    cr_assert_eq(sha256d_target_word(0x1d00ffffu), 0);
    cr_assert_eq(sha256d_target_word(0x03000001u), 0);
    cr_assert_eq(sha256d_target_word(0x04800001u), 0, "negative: no target");
    cr_assert_eq(sha256d_target_word(0x23000001u), 0, "overflow: no target");
}

Test(sha256d, dispatch)
{
    size_t n;
    const sha256d_kernel_t *all = sha256d_kernels(&n);
    cr_assert_geq(n, 1);
    cr_assert_str_eq(all[n - 1].name, "generic", "the portable kernel closes the list");
    const sha256d_kernel_t *best = sha256d_best();
    cr_assert(best->supported());
    for (const sha256d_kernel_t *k = all; k < best; k++)
        cr_assert_not(k->supported(), "%s is faster than %s and supported", k->name, best->name);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(sha256d_by_name(all[i].name), &all[i]);
        cr_assert_leq(all[i].lanes, SHA256D_MAX_LANES);
    }
    cr_assert_null(sha256d_by_name("sse2"));
    cr_assert(sha256d_by_name("generic")->supported());
}
