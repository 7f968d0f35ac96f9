/* sync.h: the chain view (its bounded locator, shallow reorganisations
 * followed, deep ones and gaps invalidating it) and the headers-first
 * download against fake peers (several peers share it, blocks go to chaind in
 * order, stalls move on, orphans restart it, invalid data scores). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "proto.h"
#include "sample.h"
#include "sync.h"

static void check_locator(const sync_view_t *v, uint64_t tip, uint8_t branch)
{
    hash32_t loc[PROTO_MAX_LOCATOR];
    uint64_t heights[PROTO_MAX_LOCATOR];
    size_t n = sync_view_locator(v, loc, heights, PROTO_MAX_LOCATOR);
    cr_assert_gt(n, 0);
    cr_assert_leq(n, PROTO_MAX_LOCATOR);
    size_t dense = tip + 1 < SYNC_DENSE ? tip + 1 : SYNC_DENSE;
    for (size_t i = 0; i < dense; i++)
        cr_assert_eq(heights[i], tip - i, "entry %zu is height %llu", i,
                     (unsigned long long)heights[i]);
    cr_assert_eq(heights[n - 1], 0, "the locator does not end at genesis");
    for (size_t i = 0; i < n; i++) {
        hash32_t want = heights[i] == 0 ? sample_hash(0, 0) : sample_hash(heights[i], branch);
        cr_assert(hash32_eq(&loc[i], &want), "entry %zu has the wrong hash", i);
        if (i > 0) {
            cr_assert_lt(heights[i], heights[i - 1], "heights do not fall");
            /* between level entries (after the first) the steps grow */
            if (i > dense + 1 && heights[i] > 0)
                cr_assert_geq(heights[i - 1] - heights[i], (heights[i - 2] - heights[i - 1]),
                              "step %zu shrank", i);
        }
    }
}

Test(sync, locator_of_a_long_chain)
{
    sync_view_t v;
    sync_view_reset(&v);
    hash32_t g = sample_hash(0, 0);
    cr_assert_eq(sync_view_push(&v, 5, &g), -1, "an invalid view took a block above genesis");
    cr_assert_eq(sync_view_push(&v, 0, &g), 0);
    check_locator(&v, 0, 1);
    for (uint64_t h = 1; h <= 10000; h++) {
        hash32_t x = sample_hash(h, 1);
        cr_assert_eq(sync_view_push(&v, h, &x), 0);
        if (h == 5 || h == 12 || h == 16 || h == 17 || h == 100 || h == 1023 || h == 4097)
            check_locator(&v, h, 1);
    }
    check_locator(&v, 10000, 1);
    hash32_t loc[PROTO_MAX_LOCATOR];
    size_t n = sync_view_locator(&v, loc, NULL, PROTO_MAX_LOCATOR);
    cr_assert_leq(n, 10 + 15 + 1, "a 10 000 block locator has %zu hashes", n);
    hash32_t recent = sample_hash(9990, 1), older = sample_hash(9000, 1);
    cr_assert(sync_view_has(&v, &recent));
    cr_assert_not(sync_view_has(&v, &older), "the view holds more than its ring");
    uint64_t th;
    hash32_t tip;
    cr_assert(sync_view_tip(&v, &th, &tip));
    cr_assert_eq(th, 10000);
    /* a late event for a block the view holds changes nothing */
    hash32_t old = sample_hash(9995, 1);
    cr_assert(sync_view_holds(&v, 9995, &old));
    cr_assert(sync_view_holds(&v, 50, &old), "below the ring counts as held");
    hash32_t other = sample_hash(9995, 2);
    cr_assert_not(sync_view_holds(&v, 9995, &other));
}

Test(sync, shallow_reorg_follows_deep_reorg_and_gaps_invalidate)
{
    sync_view_t v;
    sync_view_reset(&v);
    hash32_t g = sample_hash(0, 0);
    sync_view_push(&v, 0, &g);
    for (uint64_t h = 1; h <= 500; h++) {
        hash32_t x = sample_hash(h, 1);
        sync_view_push(&v, h, &x);
    }
    /* a branch from 490 on: 491.. replace the old blocks */
    for (uint64_t h = 491; h <= 503; h++) {
        hash32_t x = sample_hash(h, 2);
        cr_assert_eq(sync_view_push(&v, h, &x), 0, "height %llu", (unsigned long long)h);
    }
    hash32_t loc[PROTO_MAX_LOCATOR];
    uint64_t heights[PROTO_MAX_LOCATOR];
    size_t n = sync_view_locator(&v, loc, heights, PROTO_MAX_LOCATOR);
    for (size_t i = 0; i < n; i++) {
        uint8_t branch = heights[i] == 0 ? 0 : heights[i] > 490 ? 2 : 1;
        hash32_t want = sample_hash(heights[i], branch);
        cr_assert(hash32_eq(&loc[i], &want), "height %llu from the wrong branch",
                  (unsigned long long)heights[i]);
    }
    hash32_t deep = sample_hash(480, 3);
    cr_assert_eq(sync_view_push(&v, 480, &deep), -1, "a deep reorganisation was followed");
    cr_assert_not(v.valid);
    cr_assert_eq(sync_view_locator(&v, loc, NULL, PROTO_MAX_LOCATOR), 0);
    sync_view_push(&v, 0, &g);
    hash32_t one = sample_hash(1, 1), three = sample_hash(3, 1);
    sync_view_push(&v, 1, &one);
    cr_assert_eq(sync_view_push(&v, 3, &three), -1, "a gap was followed");
}

typedef struct {
    uint32_t headers_to[8];
    size_t n_headers;
    hash32_t asked[8][4096];
    size_t n_asked[8];
    hash32_t submitted[8192];
    uint32_t submitted_from[8192];
    size_t n_submitted;
    int scored[8];
    bool dropped[8];
} fake_t;

static void f_getheaders(void *ctx, uint32_t slot, const hash32_t *loc, size_t n)
{
    fake_t *f = ctx;
    (void)loc, (void)n;
    f->headers_to[f->n_headers++] = slot;
}

static void f_getdata(void *ctx, uint32_t slot, const hash32_t *h, size_t n)
{
    fake_t *f = ctx;
    for (size_t i = 0; i < n; i++)
        f->asked[slot][f->n_asked[slot]++] = h[i];
}

static int f_submit(void *ctx, uint32_t from, const hash32_t *h, const uint8_t *b, size_t len)
{
    fake_t *f = ctx;
    (void)b, (void)len;
    f->submitted_from[f->n_submitted] = from;
    f->submitted[f->n_submitted++] = *h;
    return 0;
}

static void f_misbehave(void *ctx, uint32_t slot, err_code_t code, const char *why)
{
    fake_t *f = ctx;
    (void)why;
    f->scored[slot] += err_ban_score(code);
}

static void f_drop(void *ctx, uint32_t slot, const char *why)
{
    fake_t *f = ctx;
    (void)why;
    f->dropped[slot] = true;
}

/* n valid regtest headers on parent, back to back in out; hashes[i]. */
static void make_headers(const hash32_t *parent, size_t n, uint8_t *out, hash32_t *hashes)
{
    hash32_t prev = *parent;
    for (size_t i = 0; i < n; i++) {
        block_header_t h = {.version = 1, .previous_block_hash = prev, .timestamp = 1700000000 + i,
                            .bits = 0x207fffff};
        for (;; h.nonce++) {
            block_header_hash(&hashes[i], &h);
            if (block_hash_meets(&hashes[i], h.bits))
                break;
        }
        block_header_encode(out + i * BLOCK_HEADER_LEN, &h);
        prev = hashes[i];
    }
}

static sync_t *downloader(fake_t *f, hash32_t *genesis)
{
    memset(f, 0, sizeof *f);
    sync_ops_t ops = {f, f_getheaders, f_getdata, f_submit, f_misbehave, f_drop};
    sync_t *s = sync_new(4, params_by_name("regtest"), &ops);
    cr_assert_not_null(s);
    *genesis = sample_hash(0, 0);
    sync_view_push(sync_view(s), 0, genesis);
    return s;
}

Test(sync, fetches_from_several_peers_and_hands_over_in_order)
{
    fake_t *f = calloc(1, sizeof *f);
    hash32_t genesis;
    sync_t *s = downloader(f, &genesis);
    sync_peer_ready(s, 0, 300);
    sync_peer_ready(s, 1, 300);
    sync_pump(s, 0);
    cr_assert_eq(f->n_headers, 1, "no getheaders to the peer that is ahead");
    uint32_t hp = f->headers_to[0];
    cr_assert_not(sync_on_headers(s, hp ^ 1, NULL, 0, 0), "headers from the wrong peer taken");
    static uint8_t raw[300 * BLOCK_HEADER_LEN];
    static hash32_t hashes[300];
    make_headers(&genesis, 300, raw, hashes);
    cr_assert(sync_on_headers(s, hp, raw, 300, 0));
    sync_pump(s, 0);
    cr_assert_gt(f->n_asked[0], 0, "peer 0 got no share of the download");
    cr_assert_gt(f->n_asked[1], 0, "peer 1 got no share of the download");
    cr_assert_leq(f->n_asked[0], SYNC_PEER_INFLIGHT);
    /* deliver everything asked, newest first: nothing goes to chaind out of order */
    uint8_t body[4] = {1, 2, 3, 4};
    size_t judged = 0;
    for (int round = 0; round < 100 && f->n_submitted < 300; round++) {
        for (uint32_t p = 0; p < 2; p++) {
            while (f->n_asked[p]) {
                hash32_t h = f->asked[p][--f->n_asked[p]];
                cr_assert(sync_expects(s, p, &h));
                cr_assert(sync_on_block(s, p, &h, body, sizeof body, 0));
            }
        }
        /* chaind accepts each, and its block events move the view */
        for (; judged < f->n_submitted; judged++) {
            sync_submitted(s, &f->submitted[judged], SYNC_ACCEPTED, ERR_OK, 0);
            cr_assert_eq(sync_view_push(sync_view(s), judged + 1, &f->submitted[judged]), 0);
        }
        sync_pump(s, 0);
        for (size_t i = 0; i < f->n_submitted; i++)
            cr_assert(hash32_eq(&f->submitted[i], &hashes[i]), "block %zu handed over out of order",
                      i);
        if (f->n_submitted == 300)
            break;
    }
    cr_assert_eq(f->n_submitted, 300);
    for (; judged < f->n_submitted; judged++) {
        sync_submitted(s, &f->submitted[judged], SYNC_ACCEPTED, ERR_OK, 0);
        cr_assert_eq(sync_view_push(sync_view(s), judged + 1, &f->submitted[judged]), 0);
    }
    sync_pump(s, 0);
    cr_assert_not(sync_busy(s), "a session with a peer no longer ahead");
    sync_destroy(&s);
    free(f);
}

Test(sync, stalls_move_to_another_peer_orphans_restart_invalid_scores)
{
    fake_t *f = calloc(1, sizeof *f);
    hash32_t genesis;
    sync_t *s = downloader(f, &genesis);
    sync_peer_ready(s, 0, 50);
    sync_pump(s, 0);
    static uint8_t raw[50 * BLOCK_HEADER_LEN];
    static hash32_t hashes[50];
    make_headers(&genesis, 50, raw, hashes);
    cr_assert(sync_on_headers(s, 0, raw, 50, 0));
    sync_pump(s, 0);
    cr_assert_eq(f->n_asked[0], SYNC_PEER_INFLIGHT, "more asked of one peer than its bound");
    /* peer 1 arrives; peer 0 never answers: its blocks go to peer 1 */
    sync_peer_ready(s, 1, 50);
    sync_pump(s, SYNC_STALL_MS);
    cr_assert_eq(f->n_asked[1], SYNC_PEER_INFLIGHT, "the stalled blocks were not re-asked");
    sync_pump(s, 2 * SYNC_STALL_MS);
    sync_pump(s, 3 * SYNC_STALL_MS);
    sync_pump(s, 4 * SYNC_STALL_MS);
    cr_assert(f->dropped[1] || f->dropped[0], "a peer that keeps stalling stays");
    /* peer 1 answers the first block: handed over; chaind calls it an orphan */
    sync_peer_gone(s, 0);
    uint8_t body[1] = {0};
    cr_assert(sync_on_block(s, 1, &hashes[0], body, 1, 4 * SYNC_STALL_MS));
    cr_assert_eq(f->n_submitted, 1);
    sync_submitted(s, &hashes[0], SYNC_ORPHANED, ERR_OK, 4 * SYNC_STALL_MS);
    cr_assert_not(sync_busy(s), "an orphan did not drop the window");
    cr_assert_not(sync_on_block(s, 1, &hashes[1], body, 1, 0), "a dropped window took a block");
    /* again, and this time the block is invalid: its sender scores */
    sync_peer_ready(s, 2, 50);
    sync_pump(s, 5 * SYNC_STALL_MS);
    uint32_t hp = f->headers_to[f->n_headers - 1];
    cr_assert(sync_on_headers(s, hp, raw, 50, 5 * SYNC_STALL_MS));
    sync_pump(s, 5 * SYNC_STALL_MS);
    cr_assert(sync_on_block(s, 2, &hashes[0], body, 1, 5 * SYNC_STALL_MS));
    size_t last = f->n_submitted - 1;
    cr_assert(hash32_eq(&f->submitted[last], &hashes[0]));
    sync_submitted(s, &hashes[0], SYNC_REJECTED, ERR_BAD_MERKLE, 5 * SYNC_STALL_MS);
    cr_assert_eq(f->scored[2], 100, "the sender of an invalid block was not scored");
    cr_assert_not(sync_busy(s));
    sync_destroy(&s);
    free(f);
}

Test(sync, bad_headers_score_and_end_the_session)
{
    fake_t *f = calloc(1, sizeof *f);
    hash32_t genesis;
    sync_t *s = downloader(f, &genesis);
    sync_peer_ready(s, 0, 10);
    sync_pump(s, 0);
    static uint8_t raw[10 * BLOCK_HEADER_LEN];
    hash32_t hashes[10], elsewhere = sample_hash(77, 7);
    make_headers(&elsewhere, 10, raw, hashes);
    cr_assert(sync_on_headers(s, 0, raw, 10, 0));
    cr_assert_eq(f->scored[0], err_ban_score(ERR_BAD_REQUEST), "unconnected headers were taken");
    cr_assert_not(sync_busy(s));
    /* a header whose proof of work fails */
    sync_pump(s, SYNC_RETRY_MS);
    make_headers(&genesis, 10, raw, hashes);
    block_header_t h;
    block_header_decode(&h, raw + 3 * BLOCK_HEADER_LEN);
    h.bits = 0x1d00ffff; /* a target this header cannot meet */
    block_header_encode(raw + 3 * BLOCK_HEADER_LEN, &h);
    cr_assert_eq(f->n_headers, 2);
    cr_assert(sync_on_headers(s, 0, raw, 10, SYNC_RETRY_MS));
    cr_assert_geq(f->scored[0], 20 + 100);
    sync_destroy(&s);
    free(f);
}

Test(sync, a_late_answer_to_an_ended_session_is_not_held_against_the_peer)
{
    fake_t *f = calloc(1, sizeof *f);
    hash32_t genesis;
    sync_t *s = downloader(f, &genesis);
    sync_peer_ready(s, 0, 20);
    sync_pump(s, 0);
    cr_assert_eq(f->n_headers, 1);
    /* no answer in time: the session ends; later another starts */
    sync_pump(s, SYNC_HEADERS_TIMEOUT_MS);
    cr_assert_not(sync_busy(s));
    uint64_t later = SYNC_HEADERS_TIMEOUT_MS + SYNC_RETRY_MS;
    sync_pump(s, later);
    cr_assert_eq(f->n_headers, 2);
    /* the first answer comes now, for a request that is no longer out: it is
     * the old one (a connection answers in order), not a bad answer */
    static uint8_t raw[20 * BLOCK_HEADER_LEN];
    hash32_t hashes[20], elsewhere = sample_hash(99, 9);
    make_headers(&elsewhere, 20, raw, hashes);
    cr_assert(sync_expects_headers(s, 0));
    cr_assert(sync_on_headers(s, 0, raw, 20, later));
    cr_assert_eq(f->scored[0], 0, "a late answer scored");
    cr_assert(sync_expects_headers(s, 0), "the current request was forgotten");
    make_headers(&genesis, 20, raw, hashes);
    cr_assert(sync_on_headers(s, 0, raw, 20, later));
    sync_pump(s, later);
    cr_assert_eq(f->n_asked[0], 20, "the current answer was not taken");
    sync_destroy(&s);
    free(f);
}
