/* jobs.h in process, on a real chain and mempool: a job's fields, the
 * transactions it copies and their merkle branch, the ring of the last
 * JOBS_KEPT, its msgpack pairs, and the block a solution makes of it — which
 * the chain then accepts as its tip. */
#include <criterion/criterion.h>
#include <string.h>

#include "builder.h"
#include "chain.h"
#include "jobs.h"
#include "mempool.h"
#include "merkle.h"
#include "script.h"
#include "store.h"

#define SUBSIDY ((amount_t)625000000)

static const chain_params_t *P;
static char dir[256];
static chain_t *C;
static mempool_t *M;
static sigcache_t *cache;
static jobs_t J;
static hash32_t G, GTX;
static tb_wallet_t albert, bertrand, miner;

static void setup(void)
{
    P = params_by_name("regtest");
    tb_tmpdir(dir);
    cache = sigcache_new(100);
    err_t e;
    cr_assert_eq(chain_open(&C, P, dir, (size_t)1 << 30, 1, cache, NULL, &e), 0, "%s", e.message);
    M = mempool_new(1 << 20, 10);
    cr_assert_not_null(M);
    jobs_init(&J);
    tb_genesis(P, &G, &GTX);
    tb_demo_wallet(&albert, "albert");
    tb_demo_wallet(&bertrand, "bertrand");
    tb_wallet(&miner, 0x11);
}

static void teardown(void)
{
    jobs_free(&J);
    mempool_destroy(&M);
    chain_close(&C);
    sigcache_destroy(&cache);
    tb_rmdir(dir);
}

TestSuite(jobs, .init = setup, .fini = teardown, .timeout = 60);

typedef struct {
    mp_buf_t raw;
    hash32_t txid;
} rtx_t;

/* A payment from a genesis allocation, admitted to the mempool. */
static rtx_t admit(uint32_t index, amount_t value, const tb_wallet_t *from, amount_t fee)
{
    rtx_t t;
    mp_buf_init(&t.raw, TX_MAX_SIZE);
    tb_tx(&t.raw, &t.txid, &GTX, index, value, from, &miner.pkh, AMOUNT_COIN, fee);
    store_read_t *r;
    err_t e;
    cr_assert_eq(store_read_begin(chain_store(C), &r, &e), 0, "%s", e.message);
    coin_view_t view;
    validate_store_view(&view, r);
    hash32_t txid;
    cr_assert_eq(mempool_accept(M, t.raw.data, t.raw.len, &view, 1, P->coinbase_maturity, cache,
                                NULL, &txid, &e), 0, "%s", e.message);
    store_read_end(&r);
    return t;
}

Test(jobs, none_before_the_first)
{
    cr_assert_null(jobs_current(&J));
    cr_assert_null(jobs_find(&J, 0));
}

Test(jobs, an_empty_job_on_the_tip)
{
    const chain_entry_t *tip = chain_tip(C);
    uint64_t now = tip->header.timestamp + 1000;
    cr_assert_eq(jobs_make(&J, C, M, now), 0);
    const jobs_entry_t *x = jobs_current(&J);
    cr_assert_not_null(x);
    cr_assert_eq(x, jobs_find(&J, 0));
    cr_assert(x->id == 0 && x->height == 1 && hash32_eq(&x->prev, &G));
    cr_assert_eq(x->bits, chain_next_bits(C, tip));
    cr_assert_eq(x->timestamp, now);
    cr_assert_eq(x->coinbase_value, SUBSIDY);
    cr_assert(x->n_txs == 0 && x->branch_len == 0);
    /* a clock behind the median time: just after it */
    cr_assert_eq(jobs_make(&J, C, M, 5), 0);
    cr_assert_eq(jobs_current(&J)->timestamp, chain_median_time(tip) + 1);
    cr_assert_eq(jobs_current(&J)->id, 1);
}

Test(jobs, the_mempools_best_with_their_fees_and_branch)
{
    rtx_t lo = admit(0, 40 * AMOUNT_COIN, &albert, 5000);
    rtx_t hi = admit(1, 30 * AMOUNT_COIN, &bertrand, 50000);
    cr_assert_eq(jobs_make(&J, C, M, 0), 0);
    /* the mempool may drop them now: the job holds copies */
    mempool_remove(M, &lo.txid);
    mempool_remove(M, &hi.txid);
    const jobs_entry_t *x = jobs_current(&J);
    cr_assert_eq(x->n_txs, 2);
    cr_assert(x->lens[0] == hi.raw.len && memcmp(x->raws[0], hi.raw.data, hi.raw.len) == 0,
              "the higher fee rate first");
    cr_assert(x->lens[1] == lo.raw.len && memcmp(x->raws[1], lo.raw.data, lo.raw.len) == 0);
    cr_assert_eq(x->coinbase_value, SUBSIDY + 55000);
    hash32_t leaves[3] = {{{0}}, hi.txid, lo.txid}, branch[MERKLE_MAX_BRANCH];
    int n = merkle_branch_first(branch, leaves, 3);
    cr_assert_eq(x->branch_len, n);
    cr_assert(memcmp(x->branch, branch, (size_t)n * sizeof branch[0]) == 0);
    mp_buf_free(&lo.raw);
    mp_buf_free(&hi.raw);
}

Test(jobs, the_last_eight_are_kept)
{
    for (int i = 0; i <= JOBS_KEPT; i++)
        cr_assert_eq(jobs_make(&J, C, M, 0), 0);
    cr_assert_null(jobs_find(&J, 0), "the oldest job is gone");
    for (uint64_t id = 1; id <= JOBS_KEPT; id++)
        cr_assert(jobs_find(&J, id) && jobs_find(&J, id)->id == id);
    cr_assert_null(jobs_find(&J, JOBS_KEPT + 1));
    cr_assert_eq(jobs_current(&J)->id, JOBS_KEPT);
}

Test(jobs, pairs_carry_every_field)
{
    rtx_t t = admit(0, 40 * AMOUNT_COIN, &albert, 5000);
    cr_assert_eq(jobs_make(&J, C, M, 0), 0);
    const jobs_entry_t *x = jobs_current(&J);
    mp_buf_t b;
    mp_buf_init(&b, 4096);
    mp_put_map(&b, JOBS_FIELDS);
    jobs_put_pairs(x, &b);
    cr_assert(mp_buf_ok(&b));
    mp_reader_t r;
    mp_reader_init(&r, b.data, b.len, true);
    uint32_t n;
    cr_assert_eq(mp_get_map(&r, &n), 0);
    const char *keys[] = {"job_id", "height", "previous_block_hash", "bits", "timestamp",
                          "coinbase_value", "merkle_branch", "tx_count"};
    uint64_t want[] = {x->id, x->height, 0, x->bits, x->timestamp, x->coinbase_value, 0, 1};
    for (int i = 0; i < JOBS_FIELDS; i++) {
        const char *k;
        size_t klen;
        uint64_t v;
        uint32_t len;
        hash32_t h;
        cr_assert_eq(mp_get_str(&r, &k, &klen), 0);
        cr_assert(klen == strlen(keys[i]) && memcmp(k, keys[i], klen) == 0, "field %d", i);
        if (i == 2) {
            cr_assert_eq(mp_get_bin_exact(&r, h.b, 32), 0);
            cr_assert(hash32_eq(&h, &G));
        } else if (i == 6) {
            cr_assert_eq(mp_get_array(&r, &len), 0);
            cr_assert_eq(len, (uint32_t)x->branch_len);
            for (uint32_t q = 0; q < len; q++) {
                cr_assert_eq(mp_get_bin_exact(&r, h.b, 32), 0);
                cr_assert(hash32_eq(&h, &x->branch[q]));
            }
        } else {
            cr_assert_eq(mp_get_uint(&r, &v), 0);
            cr_assert_eq(v, want[i], "%s", keys[i]);
        }
    }
    cr_assert_eq(mp_left(&r), 0);
    mp_buf_free(&b);
    mp_buf_free(&t.raw);
}

Test(jobs, a_solution_makes_the_block_the_chain_takes)
{
    rtx_t t = admit(0, 40 * AMOUNT_COIN, &albert, 5000);
    cr_assert_eq(jobs_make(&J, C, M, chain_tip(C)->header.timestamp + 60), 0);
    const jobs_entry_t *x = jobs_current(&J);
    const uint8_t xn[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    uint8_t long_xn[TX_EXTRANONCE_MAX + 1] = {0};
    mp_buf_t out;
    hash32_t hash, bh_scratch;
    err_t e;
    mp_buf_init(&out, BLOCK_MAX_SIZE);
    cr_assert_eq(jobs_assemble(x, long_xn, sizeof long_xn, &miner.pkh, x->timestamp, 0, &out,
                               &hash, &e), -(int)ERR_BAD_REQUEST);
    /* nonces that miss the target (about half at regtest's) append nothing */
    uint64_t win = 0, miss = 0;
    int rc;
    while ((rc = jobs_assemble(x, xn, sizeof xn, &miner.pkh, x->timestamp, win, &out, &hash,
                               &e)) == -(int)ERR_BAD_POW) {
        cr_assert_eq(out.len, 0, "a miss appended bytes");
        win++;
    }
    cr_assert_eq(rc, 0, "%s", e.message);
    mp_buf_t scratch;
    mp_buf_init(&scratch, BLOCK_MAX_SIZE);
    for (miss = win + 1; jobs_assemble(x, xn, sizeof xn, &miner.pkh, x->timestamp, miss,
                                       &scratch, &bh_scratch, &e) == 0; miss++)
        mp_buf_reset(&scratch);
    cr_assert_eq(e.code, ERR_BAD_POW);
    cr_assert_eq(scratch.len, 0, "a miss appended bytes");
    mp_buf_free(&scratch);
    block_t b;
    cr_assert_eq(block_decode(&b, out.data, out.len, &e), 0, "%s", e.message);
    hash32_t bh;
    block_header_hash(&bh, &b.header);
    cr_assert(hash32_eq(&bh, &hash));
    cr_assert(b.n_txs == 2 && hash32_eq(&b.txids[1], &t.txid));
    tx_coinbase_t cb;
    hash32_t cb_txid;
    cr_assert_eq(tx_coinbase_build(&cb, x->height, xn, sizeof xn, &miner.pkh,
                                   x->coinbase_value), 0);
    cr_assert_eq(tx_txid(&cb.tx, &cb_txid), 0);
    cr_assert(hash32_eq(&b.txids[0], &cb_txid), "not the miner's coinbase");
    block_free(&b);
    chain_status_t st;
    cr_assert_eq(chain_submit_block(C, out.data, out.len, x->timestamp, &st, &bh, &e), 0, "%s",
                 e.message);
    cr_assert_eq(st, CHAIN_TIP);
    /* a buffer too small for the block */
    mp_buf_t tiny;
    mp_buf_init(&tiny, 100);
    cr_assert_eq(jobs_assemble(x, xn, sizeof xn, &miner.pkh, x->timestamp, win, &tiny, &hash, &e),
                 -(int)ERR_TOO_LARGE);
    mp_buf_free(&tiny);
    mp_buf_free(&out);
    mp_buf_free(&t.raw);
}
