/* The mempool through node.h in process: admission and every rejection code,
 * mining jobs and node_submit_work, re-admission after a reorganisation,
 * eviction by fee rate, and durability (DESIGN §4.1): every acknowledged
 * transaction in the store's mempool table, blocks moving records in their
 * own writes (crash snapshots between a reorganisation's steps), the
 * revalidation at start with its rules logged, the legacy mempool.dat, the
 * unbroadcast set, a full journal, rpc submit_tx. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "builder.h"
#include "fixture.h"
#include "chain.h"
#include "hex.h"
#include "log.h"
#include "merkle.h"
#include "node.h"
#include "proto.h"
#include "rpc.h"
#include "script.h"
#include "tx.h"
#include "views.h"

#define SUBSIDY ((amount_t)625000000)
#define COIN AMOUNT_COIN
#define BITS 0x207fffffu
#define RATE TB_NODE_FEE_RATE /* min_fee_rate of the tests' nodes */

/* --- fixture --------------------------------------------------------------- */

static const chain_params_t *P;
static char dir[256];
static node_t *N;
static hash32_t G, GTX;
static uint64_t GT;
static tb_wallet_t albert, bertrand, camille, miner, stranger;

static size_t journal_ops; /* the next open_node's journal bound (0: default) */

static void open_node_in(node_t **n, const char *datadir, size_t mempool_max_bytes)
{
    node_config_t cfg = tb_node_config(datadir, mempool_max_bytes);
    cfg.journal_max_ops = journal_ops;
    tb_node_open(n, &cfg);
}

static void open_node(size_t mempool_max_bytes) { open_node_in(&N, dir, mempool_max_bytes); }

static void setup(void)
{
    log_init("test", LOG_ERROR);
    P = params_by_name("regtest");
    cr_assert_not_null(P);
    tb_tmpdir(dir);
    open_node((size_t)1 << 20);
    tb_genesis(P, &G, &GTX);
    GT = P->genesis_timestamp;
    tb_cast(&albert, &bertrand, &camille, &miner, &stranger);
}

static void teardown(void)
{
    node_close(&N);
    journal_ops = 0;
    tb_keep_free();
    tb_rmdir(dir);
}

TestSuite(mempool, .init = setup, .fini = teardown, .timeout = 60);

/* --- transactions ---------------------------------------------------------- */

typedef tb_rtx_t rtx_t;

typedef tb_input_t in_t;
typedef tb_output_t out_t;

static rtx_t encode(const tx_t *tx)
{
    mp_buf_t b;
    mp_buf_init(&b, TX_MAX_SIZE);
    cr_assert_eq(tx_encode(tx, &b, false), 0);
    rtx_t r = {tb_keep(b.data), b.len, {{0}}};
    hash_sha256d(&r.txid, b.data, b.len);
    return r;
}

/* The same payment with fee = rate * its own size (the size does not depend
 * on the fee while the change keeps its encoded width). */
static rtx_t pay_at_rate(const hash32_t *txid, uint32_t index, amount_t in_amount,
                         const tb_wallet_t *from, const hash20_t *to, amount_t amount,
                         uint64_t rate_num, int64_t delta)
{
    rtx_t probe = tb_pay(txid, index, in_amount, from, to, amount, 5000);
    amount_t fee = (amount_t)((int64_t)(rate_num * probe.len) + delta);
    rtx_t t = tb_pay(txid, index, in_amount, from, to, amount, fee);
    cr_assert_eq(t.len, probe.len, "the size moved with the fee");
    return t;
}

static amount_t fee_of(const rtx_t *t, amount_t in_sum)
{
    tx_t tx;
    err_t e;
    cr_assert_eq(tx_decode(&tx, t->raw, t->len, &e), 0);
    amount_t out = 0;
    for (size_t i = 0; i < tx.n_outputs; i++)
        out += tx.outputs[i].amount;
    tx_free(&tx);
    return in_sum - out;
}

/* --- node helpers ------------------------------------------------------------ */

/* Whether the store's mempool table holds txid's record (with the bytes of
 * t when given) and its flags. */
static bool recorded(const hash32_t *txid, const rtx_t *t, uint8_t *flags)
{
    store_read_t *r;
    store_mempool_rec_t rec;
    err_t e;
    cr_assert_eq(store_read_begin(node_store(N), &r, &e), 0, "%s", e.message);
    int rc = store_get_mempool(r, txid, &rec, &e);
    cr_assert(rc == 0 || rc == -(int)ERR_NOT_FOUND, "%s", e.message);
    if (rc == 0 && t)
        cr_assert(rec.len == t->len && memcmp(rec.raw, t->raw, t->len) == 0,
                  "the record holds other bytes");
    if (rc == 0 && flags)
        *flags = rec.flags;
    store_read_end(&r);
    return rc == 0;
}

/* Submits with flags, waits for the ticket as a submitter does, and checks
 * the promise: settled, and on disk. */
static void submit_flagged_ok(const rtx_t *t, uint8_t flags)
{
    tb_node_submit_ok(N, t, flags);
    uint8_t got;
    cr_assert(recorded(&t->txid, t, &got), "acknowledged, yet not in the store");
    cr_assert_eq(got, flags);
}

static void submit_tx_ok(const rtx_t *t) { submit_flagged_ok(t, 0); }

/* Whether t is pending: pooled (parked false) or parked (parked true). */
static bool pending(const rtx_t *t, bool parked)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    bool is_parked;
    if (node_mempool_tx(N, &t->txid, &raw, &len, &is_parked) < 0)
        return false;
    bool same = len == t->len && memcmp(raw, t->raw, len) == 0;
    free(raw);
    cr_assert(same, "the node holds other bytes under this txid");
    return is_parked == parked;
}

static bool in_pool(const rtx_t *t) { return pending(t, false); }
static bool parked(const rtx_t *t) { return pending(t, true); }

/* What a rejection must leave alone. */
typedef struct {
    node_status_t s;
    char *pool;
} view_t;

static view_t view_now(void)
{
    view_t v;
    memset(&v, 0, sizeof v);
    node_status(N, &v.s);
    node_mempool_item_t *items = malloc(10000 * sizeof *items);
    cr_assert_not_null(items);
    json_t *j = views_mempool(items, node_mempool_list(N, items, 10000));
    free(items);
    cr_assert_not_null(j);
    v.pool = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return v;
}

static void assert_view_same(view_t *before, const char *what)
{
    view_t after = view_now();
    cr_assert_eq(after.s.height, before->s.height, "%s moved the tip", what);
    cr_assert(hash32_eq(&after.s.hash, &before->s.hash), "%s moved the tip", what);
    cr_assert_eq(after.s.mempool_count, before->s.mempool_count, "%s changed the mempool count",
                 what);
    cr_assert_eq(after.s.mempool_bytes, before->s.mempool_bytes, "%s changed the mempool bytes",
                 what);
    cr_assert_str_eq(after.pool, before->pool, "%s changed the mempool", what);
    free(after.pool);
    free(before->pool);
}

static err_t submit_raw_fail(const uint8_t *raw, size_t len, err_code_t code, const char *what)
{
    view_t before = view_now();
    hash32_t txid;
    uint64_t ticket = 7;
    err_t e = {0};
    int rc = node_submit_tx(N, raw, len, "test", 0, &txid, &ticket, &e);
    if (code != ERR_KNOWN)
        cr_assert_eq(ticket, 0, "%s: a rejection with a ticket", what);
    cr_assert_eq(rc, -(int)code, "%s: rc %d (%s: %s), expected %s", what, rc,
                 rc < 0 ? err_str(e.code) : "accepted", rc < 0 ? e.message : "", err_str(code));
    cr_assert_eq(e.code, code);
    assert_view_same(&before, what);
    return e;
}

static err_t submit_tx_fail(const rtx_t *t, err_code_t code, const char *what)
{
    return submit_raw_fail(t->raw, t->len, code, what);
}

static size_t pool_count(void)
{
    node_status_t s;
    node_status(N, &s);
    return s.mempool_count;
}

typedef tb_blk_t blk_t;

static blk_t mkblock(const hash32_t *parent, uint64_t height, uint64_t ts, const rtx_t *txs,
                     size_t n, amount_t fees, uint64_t tag)
{
    return tb_mkblock(parent, height, height, ts, BITS, &miner.pkh, SUBSIDY + fees, txs, n, tag);
}

static void submit_block_ok(const blk_t *b, chain_status_t expect)
{
    tb_node_block_ok(N, b, expect);
}

/* --- jobs ------------------------------------------------------------------------ */

typedef struct {
    uint64_t job_id, height, bits, timestamp, coinbase_value, tx_count;
    hash32_t prev;
    hash32_t branch[MERKLE_MAX_BRANCH];
    uint32_t branch_len;
} job_t;

static void get_job(job_t *j)
{
    mp_buf_t b;
    mp_buf_init(&b, (size_t)1 << 20);
    mp_put_map(&b, NODE_JOB_FIELDS);
    cr_assert_eq(node_job_body(N, &b), 0);
    mp_reader_t r;
    mp_reader_init(&r, b.data, b.len, false);
    uint32_t n;
    cr_assert_eq(mp_get_map(&r, &n), 0);
    cr_assert_eq(n, 8);
    unsigned seen = 0;
    static const char *const names[8] = {"job_id", "height", "previous_block_hash", "bits",
                                         "timestamp", "coinbase_value", "merkle_branch",
                                         "tx_count"};
    uint64_t *uints[8] = {&j->job_id, &j->height, NULL, &j->bits,
                          &j->timestamp, &j->coinbase_value, NULL, &j->tx_count};
    for (uint32_t i = 0; i < n; i++) {
        const char *key;
        size_t klen;
        cr_assert_eq(mp_get_str(&r, &key, &klen), 0);
        int f = -1;
        for (int q = 0; q < 8; q++)
            if (strlen(names[q]) == klen && memcmp(names[q], key, klen) == 0)
                f = q;
        cr_assert(f >= 0, "unknown job field %.*s", (int)klen, key);
        cr_assert_not(seen & (1u << f), "job field %s twice", names[f]);
        seen |= 1u << f;
        if (uints[f]) {
            cr_assert_eq(mp_get_uint(&r, uints[f]), 0, "%s is not a uint", names[f]);
        } else if (f == 2) {
            cr_assert_eq(mp_get_bin_exact(&r, j->prev.b, 32), 0);
        } else {
            cr_assert_eq(mp_get_array(&r, &j->branch_len), 0);
            cr_assert_leq(j->branch_len, MERKLE_MAX_BRANCH);
            for (uint32_t q = 0; q < j->branch_len; q++)
                cr_assert_eq(mp_get_bin_exact(&r, j->branch[q].b, 32), 0);
        }
    }
    cr_assert_eq(seen, 0xffu);
    cr_assert_eq(mp_left(&r), 0);
    mp_buf_free(&b);
}

/* The coinbase a miner builds for a job (DESIGN §4.4), and a header with the
 * merkle root from the job's branch; grinds for a nonce that meets (or, with
 * want_valid false, misses) the target. */
static void solve(const job_t *j, const uint8_t *xn, size_t xn_len, const hash20_t *payout,
                  uint64_t ts, bool want_valid, uint64_t *nonce, hash32_t *hash,
                  hash32_t *cb_txid)
{
    uint8_t script[TX_COINBASE_SCRIPT_MAX], lock[SCRIPT_P2PKH_LOCK_LEN];
    int script_len = tx_coinbase_script(script, j->height, xn, xn_len);
    cr_assert_gt(script_len, 0);
    script_p2pkh_lock(lock, payout);
    tx_input_t in = {.index = TX_COINBASE_INDEX, .script = script, .script_len = (size_t)script_len};
    tx_output_t out = {j->coinbase_value, lock, sizeof lock};
    tx_t cb = {.version = TX_VERSION, .n_inputs = 1, .inputs = &in, .n_outputs = 1,
               .outputs = &out};
    cr_assert_eq(tx_txid(&cb, cb_txid), 0);
    block_header_t h = {.version = BLOCK_VERSION, .previous_block_hash = j->prev,
                        .timestamp = ts, .bits = (uint32_t)j->bits};
    merkle_root_from_branch(&h.merkle_root, cb_txid, j->branch, j->branch_len);
    for (h.nonce = 0;; h.nonce++) {
        block_header_hash(hash, &h);
        if (block_hash_meets(hash, h.bits) == want_valid)
            break;
    }
    *nonce = h.nonce;
}

static void h2(hash32_t *out, const hash32_t *a, const hash32_t *b)
{
    uint8_t pair[64];
    memcpy(pair, a->b, 32);
    memcpy(pair + 32, b->b, 32);
    hash_sha256d(out, pair, 64);
}

/* Mines the current job to the miner's key: returns the block hash. */
static hash32_t mine_job(const job_t *j, uint64_t tag)
{
    uint8_t xn[8];
    for (int i = 0; i < 8; i++)
        xn[i] = (uint8_t)(tag >> (8 * i));
    uint64_t nonce;
    hash32_t hash, cb, got;
    solve(j, xn, sizeof xn, &miner.pkh, j->timestamp, true, &nonce, &hash, &cb);
    err_t e = {0};
    int rc = node_submit_work(N, j->job_id, xn, sizeof xn, &miner.pkh, j->timestamp, nonce, &got,
                              &e);
    cr_assert_eq(rc, 0, "submit_work: %s (%s)", err_str(e.code), e.message);
    cr_assert(hash32_eq(&got, &hash));
    return hash;
}

/* --- tests ------------------------------------------------------------------------ */

Test(mempool, accepts_a_valid_transaction)
{
    node_status_t s;
    node_status(N, &s);
    cr_assert_eq(s.height, 0);
    cr_assert(hash32_eq(&s.hash, &G));
    cr_assert_eq(s.mempool_count, 0);
    cr_assert_eq(s.mempool_bytes, 0);

    /* exactly the minimum fee: 10 units a byte of the encoding */
    rtx_t t = pay_at_rate(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, RATE, 0);
    amount_t fee = fee_of(&t, 40 * COIN);
    cr_assert_eq(fee, RATE * t.len);
    submit_tx_ok(&t);
    node_status(N, &s);
    cr_assert_eq(s.mempool_count, 1);
    cr_assert_eq(s.mempool_bytes, t.len);
    cr_assert(in_pool(&t));
    cr_assert(node_mempool_spends(N, &GTX, 0));
    cr_assert_not(node_mempool_spends(N, &GTX, 1));
    cr_assert_not(node_mempool_spends(N, &t.txid, 0));
    node_mempool_item_t items[10];
    cr_assert_eq(node_mempool_list(N, items, 10), 1);
    cr_assert(hash32_eq(&items[0].txid, &t.txid));
    cr_assert_eq(items[0].size, t.len);
    cr_assert_eq(items[0].fee, fee);

    /* one unit less than the minimum */
    rtx_t low = pay_at_rate(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, RATE, -1);
    submit_tx_fail(&low, ERR_FEE_TOO_LOW, "fee one unit under the minimum");
    rtx_t zero = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 0);
    submit_tx_fail(&zero, ERR_FEE_TOO_LOW, "no fee");
    rtx_t ok = pay_at_rate(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, RATE + 1, 0);
    submit_tx_ok(&ok);
    cr_assert_eq(pool_count(), 2);
    /* a transaction spending an output still in the mempool waits: its coin
     * is not confirmed */
    rtx_t child = tb_pay(&t.txid, 0, COIN, &bertrand, &camille.pkh, COIN / 2, 10000);
    submit_tx_fail(&child, ERR_UNKNOWN_UTXO, "spending an unconfirmed output");
}

/* Signatures are checked before the node's lock, against the coins they
 * spend: a real spend's check lands in the cache there, and the mempool's
 * script check under the lock hits it; a valid signature by a key that does
 * not own the coin is neither checked nor cached. */
Test(mempool, signatures_checked_before_the_lock)
{
    node_status_t before, after;
    node_status(N, &before);
    rtx_t theft = tb_pay(&GTX, 0, 40 * COIN, &bertrand, &camille.pkh, COIN, 10000);
    submit_tx_fail(&theft, ERR_SCRIPT_FAILED, "a spend signed by another owner");
    node_status(N, &after);
    cr_assert_eq(after.sigcache_entries, before.sigcache_entries);
    cr_assert_eq(after.sigcache_misses, before.sigcache_misses,
                 "a key that does not own the coin got its signature checked");

    rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    submit_tx_ok(&t);
    node_status(N, &after);
    cr_assert_eq(after.sigcache_entries, before.sigcache_entries + 1);
    cr_assert_eq(after.sigcache_misses, before.sigcache_misses + 1, "checked once, before the lock");
    cr_assert_eq(after.sigcache_hits, before.sigcache_hits + 1, "and found in the cache under it");
}

Test(mempool, rejections_change_nothing)
{
    rtx_t base = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    submit_tx_ok(&base);

    /* malformed bytes */
    uint8_t junk[] = {0x93, 0x01, 0x91, 0x00};
    submit_raw_fail(junk, sizeof junk, ERR_BAD_ENCODING, "junk");
    submit_raw_fail(junk, 0, ERR_BAD_ENCODING, "nothing");
    rtx_t t2 = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 10000);
    uint8_t *longer = tb_keep(malloc(t2.len + 1));
    memcpy(longer, t2.raw, t2.len);
    longer[t2.len] = 0xc0;
    submit_raw_fail(longer, t2.len + 1, ERR_BAD_ENCODING, "a trailing byte");
    submit_raw_fail(t2.raw, t2.len - 1, ERR_BAD_ENCODING, "a truncated tx");

    /* signatures */
    in_t in1 = {GTX, 1, &bertrand};
    out_t o1[2] = {{COIN, &albert.pkh}, {29 * COIN - 10000, &bertrand.pkh}};
    rtx_t forged = tb_mktx(&in1, 1, o1, 2, 0);
    submit_tx_fail(&forged, ERR_SCRIPT_FAILED, "a forged signature");
    in_t theft = {GTX, 1, &camille};
    rtx_t stolen = tb_mktx(&theft, 1, o1, 2, -1);
    submit_tx_fail(&stolen, ERR_SCRIPT_FAILED, "another owner's key");

    /* coins that are not there */
    hash32_t nowhere;
    memset(nowhere.b, 0xab, 32);
    rtx_t unknown = tb_pay(&nowhere, 0, 30 * COIN, &bertrand, &albert.pkh, COIN, 10000);
    submit_tx_fail(&unknown, ERR_UNKNOWN_UTXO, "an unknown prevout");
    rtx_t beyond = tb_pay(&GTX, 4, 30 * COIN, &bertrand, &albert.pkh, COIN, 10000);
    err_t e = submit_tx_fail(&beyond, ERR_UNKNOWN_UTXO, "an index beyond the outputs");
    cr_assert(strstr(e.message, "beyond") && strstr(e.message, "4"),
              "the message does not say the index is beyond the outputs: %s", e.message);

    /* amounts */
    out_t over[2] = {{COIN, &albert.pkh}, {29 * COIN + 1, &bertrand.pkh}};
    rtx_t greedy = tb_mktx(&in1, 1, over, 2, -1);
    submit_tx_fail(&greedy, ERR_INSUFFICIENT_FUNDS, "outputs over inputs");
    out_t huge = {AMOUNT_MAX_MONEY + 1, &albert.pkh};
    rtx_t big = tb_mktx(&in1, 1, &huge, 1, -1);
    submit_tx_fail(&big, ERR_BAD_AMOUNT, "an amount over max money");
    out_t halves[2] = {{AMOUNT_MAX_MONEY / 2 + 1, &albert.pkh},
                       {AMOUNT_MAX_MONEY / 2 + 1, &albert.pkh}};
    rtx_t sum = tb_mktx(&in1, 1, halves, 2, -1);
    submit_tx_fail(&sum, ERR_BAD_AMOUNT, "outputs summing over max money");

    /* one input twice */
    in_t twice[2] = {{GTX, 2, &camille}, {GTX, 2, &camille}};
    out_t o2 = {15 * COIN, &albert.pkh};
    rtx_t dup = tb_mktx(twice, 2, &o2, 1, -1);
    submit_tx_fail(&dup, ERR_DUPLICATE_INPUT, "an input spent twice");

    /* against the mempool */
    rtx_t ds = tb_pay(&GTX, 0, 40 * COIN, &albert, &camille.pkh, 2 * COIN, 50000);
    submit_tx_fail(&ds, ERR_DOUBLE_SPEND, "a double spend of a mempool tx");
    in_t mixed[2] = {{GTX, 2, &camille}, {GTX, 0, &albert}};
    out_t o3 = {COIN, &camille.pkh};
    rtx_t ds2 = tb_mktx(mixed, 2, &o3, 1, -1);
    submit_tx_fail(&ds2, ERR_DOUBLE_SPEND, "a double spend in a second input");

    /* a coinbase */
    uint8_t script[TX_COINBASE_SCRIPT_MAX], lock[SCRIPT_P2PKH_LOCK_LEN];
    int sl = tx_coinbase_script(script, 1, (const uint8_t *)"x", 1);
    script_p2pkh_lock(lock, &albert.pkh);
    tx_input_t cin = {.index = TX_COINBASE_INDEX, .script = script, .script_len = (size_t)sl};
    tx_output_t cout = {SUBSIDY, lock, sizeof lock};
    tx_t cb = {.version = TX_VERSION, .n_inputs = 1, .inputs = &cin, .n_outputs = 1,
               .outputs = &cout};
    rtx_t coinbase = encode(&cb);
    submit_tx_fail(&coinbase, ERR_COINBASE_TX, "a coinbase");

    /* the same again */
    submit_tx_fail(&base, ERR_KNOWN, "a resubmission");

    /* after all that: the first one is still alone, and others still get in */
    cr_assert_eq(pool_count(), 1);
    cr_assert(in_pool(&base));
    submit_tx_ok(&t2);
    cr_assert_eq(pool_count(), 2);
}

Test(mempool, mining_a_job)
{
    /* two transactions of different fee rates */
    rtx_t lo = pay_at_rate(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 12, 0);
    rtx_t hi = pay_at_rate(&GTX, 1, 30 * COIN, &bertrand, &camille.pkh, COIN, 50, 0);
    amount_t f_lo = fee_of(&lo, 40 * COIN), f_hi = fee_of(&hi, 30 * COIN);
    submit_tx_ok(&lo);
    submit_tx_ok(&hi);
    cr_assert_eq(pool_count(), 2);

    job_t j;
    get_job(&j);
    cr_assert_eq(j.height, 1);
    cr_assert(hash32_eq(&j.prev, &G));
    cr_assert_eq(j.bits, BITS);
    cr_assert_gt(j.timestamp, GT);
    cr_assert_eq(j.coinbase_value, SUBSIDY + f_lo + f_hi);
    cr_assert_eq(j.tx_count, 2);
    /* leaves [coinbase, hi, lo]: the branch is hi, then H(lo ‖ lo) */
    cr_assert_eq(j.branch_len, 2);
    cr_assert(hash32_eq(&j.branch[0], &hi.txid), "the higher fee rate does not come first");
    hash32_t lolo;
    h2(&lolo, &lo.txid, &lo.txid);
    cr_assert(hash32_eq(&j.branch[1], &lolo));
    /* asking again gives the same job */
    job_t again;
    get_job(&again);
    cr_assert_eq(again.job_id, j.job_id);

    uint8_t xn[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint64_t nonce;
    hash32_t hash, cb_txid, got;
    err_t e = {0};
    /* a nonce that misses the target */
    solve(&j, xn, sizeof xn, &miner.pkh, j.timestamp, false, &nonce, &hash, &cb_txid);
    view_t before = view_now();
    cr_assert_eq(node_submit_work(N, j.job_id, xn, sizeof xn, &miner.pkh, j.timestamp, nonce,
                                  &got, &e), -(int)ERR_BAD_POW);
    cr_assert_eq(e.code, ERR_BAD_POW);
    assert_view_same(&before, "a wrong nonce");
    /* an unknown job */
    before = view_now();
    cr_assert_eq(node_submit_work(N, j.job_id + 1000, xn, sizeof xn, &miner.pkh, j.timestamp, 0,
                                  &got, &e), -(int)ERR_NOT_FOUND);
    cr_assert_eq(e.code, ERR_NOT_FOUND);
    assert_view_same(&before, "an unknown job");

    /* the right nonce */
    solve(&j, xn, sizeof xn, &miner.pkh, j.timestamp, true, &nonce, &hash, &cb_txid);
    hash32_t full_root, leaves[3] = {cb_txid, hi.txid, lo.txid};
    cr_assert_eq(merkle_root(&full_root, NULL, leaves, 3), 0);
    cr_assert_eq(node_submit_work(N, j.job_id, xn, sizeof xn, &miner.pkh, j.timestamp, nonce,
                                  &got, &e), 0, "%s (%s)", err_str(e.code), e.message);
    cr_assert(hash32_eq(&got, &hash));
    node_status_t s;
    node_status(N, &s);
    cr_assert_eq(s.height, 1);
    cr_assert(hash32_eq(&s.hash, &hash));
    cr_assert_eq(s.mempool_count, 0);
    cr_assert_eq(s.mempool_bytes, 0);
    cr_assert_not(in_pool(&lo));
    cr_assert_not(in_pool(&hi));

    /* the stored block: header as solved, coinbase paying the job's value */
    store_read_t *r;
    cr_assert_eq(store_read_begin(node_store(N), &r, &e), 0, "%s", e.message);
    block_t b;
    cr_assert_eq(store_load_block(r, &hash, &b, NULL, &e), 0, "%s", e.message);
    cr_assert_eq(b.n_txs, 3);
    cr_assert(hash32_eq(&b.header.merkle_root, &full_root));
    cr_assert_eq(b.header.nonce, nonce);
    cr_assert_eq(b.header.timestamp, j.timestamp);
    cr_assert(hash32_eq(&b.txids[0], &cb_txid));
    cr_assert(hash32_eq(&b.txids[1], &hi.txid));
    cr_assert(hash32_eq(&b.txids[2], &lo.txid));
    block_free(&b);
    store_coin_t coin;
    cr_assert_eq(store_get_coin(r, &cb_txid, 0, &coin, &e), 0, "%s", e.message);
    cr_assert_eq(coin.amount, SUBSIDY + f_lo + f_hi);
    cr_assert(coin.coinbase);
    cr_assert_eq(coin.height, 1);
    hash20_t pkh;
    cr_assert(script_p2pkh_hash(coin.script, coin.script_len, &pkh));
    cr_assert(memcmp(pkh.b, miner.pkh.b, 20) == 0);
    cr_assert_eq(store_get_coin(r, &GTX, 0, &coin, &e), -(int)ERR_NOT_FOUND);
    store_read_end(&r);

    /* the spends are on chain now: spending them again is a double spend */
    rtx_t again_lo = tb_pay(&GTX, 0, 40 * COIN, &albert, &stranger.pkh, 3 * COIN, 10000);
    e = submit_tx_fail(&again_lo, ERR_DOUBLE_SPEND, "a double spend of a mined tx");
    /* and the next job builds on the new tip with nothing but the subsidy */
    job_t next;
    get_job(&next);
    cr_assert_neq(next.job_id, j.job_id);
    cr_assert_eq(next.height, 2);
    cr_assert(hash32_eq(&next.prev, &hash));
    cr_assert_eq(next.coinbase_value, SUBSIDY);
    cr_assert_eq(next.tx_count, 0);
    cr_assert_eq(next.branch_len, 0);
    cr_assert_gt(next.timestamp, j.timestamp, "the next job is not after the median time");
    /* the old job's block again: known, nothing changes */
    before = view_now();
    cr_assert_eq(node_submit_work(N, j.job_id, xn, sizeof xn, &miner.pkh, j.timestamp, nonce,
                                  &got, &e), 0);
    assert_view_same(&before, "a block found twice");
    hash32_t h2nd = mine_job(&next, 77);
    node_status(N, &s);
    cr_assert_eq(s.height, 2);
    cr_assert(hash32_eq(&s.hash, &h2nd));
}

/* A transaction mined in a block that a heavier branch replaces comes back;
 * one that the new branch conflicts with does not, nor does one spending an
 * output that is no longer confirmed. */
Test(mempool, reorganisation_readmits)
{
    rtx_t t1 = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 4 * COIN, 20000);
    rtx_t t2 = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &camille.pkh, 3 * COIN, 20000);
    submit_tx_ok(&t1);
    submit_tx_ok(&t2);
    rtx_t x_txs[2] = {t1, t2};
    blk_t x1 = mkblock(&G, 1, GT + 60, x_txs, 2, 40000, 1);
    submit_block_ok(&x1, CHAIN_TIP);
    cr_assert_eq(pool_count(), 0);
    /* a spend of t1's confirmed output, and an unrelated one */
    rtx_t t3 = tb_pay(&t1.txid, 0, 4 * COIN, &bertrand, &stranger.pkh, COIN, 300000);
    submit_tx_ok(&t3);
    rtx_t t4 = tb_pay(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 15000);
    submit_tx_ok(&t4);
    cr_assert_eq(pool_count(), 2);

    /* a heavier branch without t1, with another spend of t2's input */
    rtx_t t2b = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, 7 * COIN, 30000);
    blk_t y1 = mkblock(&G, 1, GT + 61, &t2b, 1, 30000, 2);
    submit_block_ok(&y1, CHAIN_SIDE);
    cr_assert_eq(pool_count(), 2);
    blk_t y2 = mkblock(&y1.hash, 2, GT + 120, NULL, 0, 0, 3);
    submit_block_ok(&y2, CHAIN_TIP);

    node_status_t s;
    node_status(N, &s);
    cr_assert_eq(s.height, 2);
    cr_assert(hash32_eq(&s.hash, &y2.hash));
    cr_assert(in_pool(&t1), "t1 did not come back");
    cr_assert_not(in_pool(&t2), "t2 conflicts with the new branch");
    cr_assert_not(in_pool(&t2b), "t2b is mined");
    cr_assert(in_pool(&t4), "an unrelated tx was lost");
    cr_assert(parked(&t3), "t3, whose parent t1 is pending again, is not parked");
    cr_assert_eq(s.mempool_count, 2);
    cr_assert_eq(s.mempool_parked, 1);
    cr_assert_eq(s.mempool_bytes, t1.len + t4.len);
    cr_assert(node_mempool_spends(N, &GTX, 0));
    cr_assert_not(node_mempool_spends(N, &GTX, 1));
    cr_assert_not(node_mempool_spends(N, &t1.txid, 0));

    /* what the pool holds makes a valid block */
    job_t j;
    get_job(&j);
    cr_assert_eq(j.height, 3);
    cr_assert_eq(j.tx_count, 2);
    cr_assert_eq(j.coinbase_value, SUBSIDY + 20000 + 15000);
    hash32_t h = mine_job(&j, 9);
    node_status(N, &s);
    cr_assert_eq(s.height, 3);
    cr_assert(hash32_eq(&s.hash, &h));
    /* t1 confirmed: t3 leaves the parked set for the pool */
    cr_assert(in_pool(&t3), "t3 did not come back once its parent confirmed");
    cr_assert_eq(s.mempool_count, 1);
    cr_assert_eq(s.mempool_parked, 0);
}

/* Coins of a coinbase that a reorganisation removes: a mempool spend of it goes. */
Test(mempool, reorganisation_drops_spends_of_vanished_coinbases)
{
    blk_t a1 = mkblock(&G, 1, GT + 60, NULL, 0, 0, 1);
    submit_block_ok(&a1, CHAIN_TIP);
    blk_t a2 = mkblock(&a1.hash, 2, GT + 120, NULL, 0, 0, 2);
    submit_block_ok(&a2, CHAIN_TIP);
    rtx_t spend = tb_pay(&a1.cb, 0, SUBSIDY, &miner, &albert.pkh, COIN, 10000);
    submit_tx_ok(&spend); /* mature at height 3 */
    blk_t b1 = mkblock(&G, 1, GT + 61, NULL, 0, 0, 11);
    blk_t b2 = mkblock(&b1.hash, 2, GT + 121, NULL, 0, 0, 12);
    blk_t b3 = mkblock(&b2.hash, 3, GT + 181, NULL, 0, 0, 13);
    submit_block_ok(&b1, CHAIN_SIDE);
    submit_block_ok(&b2, CHAIN_SIDE);
    submit_block_ok(&b3, CHAIN_TIP);
    cr_assert_not(in_pool(&spend), "a spend of a coin that no longer exists stayed");
    cr_assert_eq(pool_count(), 0);
    job_t j;
    get_job(&j);
    cr_assert_eq(j.tx_count, 0);
    cr_assert_eq(j.coinbase_value, SUBSIDY);
}

Test(mempool, eviction_by_fee_rate)
{
    node_close(&N);
    cr_assert_null(N);
    /* room for two payments and a half */
    rtx_t probe = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 5000);
    size_t L = probe.len, max = 2 * L + L / 2;
    open_node(max);

    rtx_t a = pay_at_rate(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10, 0);
    rtx_t b = pay_at_rate(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 30, 0);
    rtx_t c = pay_at_rate(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 20, 0);
    rtx_t d = pay_at_rate(&GTX, 3, 5 * COIN, &camille, &albert.pkh, COIN, 15, 0);
    cr_assert(a.len == L && b.len == L && c.len == L && d.len == L);
    submit_tx_ok(&a);
    submit_tx_ok(&b);
    cr_assert_eq(pool_count(), 2);
    /* c pays more than a: a goes, its record with it */
    submit_tx_ok(&c);
    cr_assert_eq(pool_count(), 2);
    cr_assert_not(in_pool(&a));
    cr_assert_not(recorded(&a.txid, NULL, NULL), "an evicted transaction kept its record");
    cr_assert(in_pool(&b));
    cr_assert(in_pool(&c));
    node_status_t s;
    node_status(N, &s);
    cr_assert_eq(s.mempool_bytes, 2 * L);
    cr_assert_not(node_mempool_spends(N, &GTX, 0));
    /* d pays less than the lowest (c): refused */
    submit_tx_fail(&d, ERR_MEMPOOL_FULL, "a lower fee rate into a full pool");
    /* the same rate as the lowest is not enough either */
    rtx_t d20 = pay_at_rate(&GTX, 3, 5 * COIN, &camille, &albert.pkh, COIN, 20, 0);
    submit_tx_fail(&d20, ERR_MEMPOOL_FULL, "an equal fee rate into a full pool");

    /* a bigger one that would need room from both c (20) and b (30) but pays
     * 25: refused, and c stays */
    in_t two[2] = {{GTX, 0, &albert}, {GTX, 3, &camille}};
    out_t o[2] = {{COIN, &stranger.pkh}, {44 * COIN - 10000, &albert.pkh}};
    rtx_t e_probe = tb_mktx(two, 2, o, 2, -1);
    cr_assert_gt(e_probe.len, max - L, "the test needs a tx that does not fit beside one other");
    amount_t in_sum = 45 * COIN;
    o[1].amount = in_sum - COIN - 25 * e_probe.len;
    rtx_t e25 = tb_mktx(two, 2, o, 2, -1);
    cr_assert_eq(e25.len, e_probe.len);
    submit_tx_fail(&e25, ERR_MEMPOOL_FULL, "a tx that would evict a higher fee rate");
    cr_assert(in_pool(&b));
    cr_assert(in_pool(&c));
    /* paying more than both: both go */
    o[1].amount = in_sum - COIN - 35 * e_probe.len;
    rtx_t e35 = tb_mktx(two, 2, o, 2, -1);
    cr_assert_eq(e35.len, e_probe.len);
    submit_tx_ok(&e35);
    cr_assert_not(in_pool(&b));
    cr_assert_not(in_pool(&c));
    cr_assert(in_pool(&e35));
    node_status(N, &s);
    cr_assert_eq(s.mempool_count, 1);
    cr_assert_eq(s.mempool_bytes, e35.len);
    /* c does not fit beside it and pays less: refused; at a higher rate than
     * e35 a payment of c's coin takes its place */
    submit_tx_fail(&c, ERR_MEMPOOL_FULL, "a lower rate that does not fit");
    rtx_t c40 = pay_at_rate(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 40, 0);
    submit_tx_ok(&c40);
    cr_assert_not(in_pool(&e35));
    cr_assert(in_pool(&c40));
    cr_assert_eq(pool_count(), 1);
}

/* --- durability ------------------------------------------------------------------ */

/* Writes a record straight into the store of a closed node at datadir. */
static void put_record(const char *datadir, const hash32_t *txid, const uint8_t *raw, size_t len,
                       uint8_t flags)
{
    store_t *st;
    store_write_t *w;
    err_t e;
    cr_assert_eq(store_open(&st, datadir, (size_t)1 << 30, "regtest", &e), 0, "%s", e.message);
    cr_assert_eq(store_write_begin(st, &w, &e), 0, "%s", e.message);
    store_mempool_rec_t rec = {flags, 1700000000, raw, len};
    cr_assert_eq(store_put_mempool(w, txid, &rec, &e), 0, "%s", e.message);
    cr_assert_eq(store_write_commit(&w, &e), 0, "%s", e.message);
    store_close(&st);
}

/* The node's store is consistent (store_check: no record of a confirmed
 * transaction among them) and holds n_records records. */
static void store_ok(node_t *n, uint64_t n_records)
{
    store_read_t *r;
    store_counts_t c;
    err_t e;
    cr_assert_eq(store_read_begin(node_store(n), &r, &e), 0, "%s", e.message);
    cr_assert_eq(store_check(r, &c, &e), 0, "%s", e.message);
    cr_assert_eq(c.mempool, n_records, "%llu records, expected %llu",
                 (unsigned long long)c.mempool, (unsigned long long)n_records);
    store_read_end(&r);
}

/* The log (stderr) into a file of the test's directory, from now on. */
static void log_to(char path[300])
{
    snprintf(path, 300, "%s/test.log", dir);
    cr_assert_not_null(freopen(path, "w", stderr));
    setvbuf(stderr, NULL, _IONBF, 0);
    log_init("test", LOG_INFO);
}

static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

Test(mempool, acknowledged_transactions_are_stored_and_revalidated_across_restarts)
{
    rtx_t t1 = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 2 * COIN, 10000);
    rtx_t t2 = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &camille.pkh, 3 * COIN, 10000);
    submit_tx_ok(&t1);
    submit_tx_ok(&t2);
    store_ok(N, 2);
    node_status_t s;
    node_status(N, &s);
    size_t bytes = s.mempool_bytes;
    cr_assert_geq(s.journal.commits, 1);

    char path[512];
    snprintf(path, sizeof path, "%s/mempool.dat", dir);
    node_close(&N);
    struct stat sb;
    cr_assert_neq(stat(path, &sb), 0, "a mempool.dat was written: the table is the copy");
    open_node((size_t)1 << 20);
    node_status(N, &s);
    cr_assert_eq(s.mempool_count, 2);
    cr_assert_eq(s.mempool_bytes, bytes);
    cr_assert(in_pool(&t1) && in_pool(&t2));
    cr_assert(node_mempool_spends(N, &GTX, 0), "spent_in_mempool lost across a restart");

    /* meanwhile (node down, no hooks), a block spends t1's input another way */
    node_close(&N);
    chain_t *c;
    err_t e;
    cr_assert_eq(chain_open(&c, P, dir, (size_t)1 << 30, 1, NULL, NULL, &e), 0, "%s", e.message);
    rtx_t t1b = tb_pay(&GTX, 0, 40 * COIN, &albert, &camille.pkh, 5 * COIN, 10000);
    blk_t b1 = mkblock(&G, 1, GT + 60, &t1b, 1, 10000, 1);
    chain_status_t st;
    hash32_t h;
    cr_assert_eq(chain_submit_block(c, b1.data, b1.len, (uint64_t)time(NULL), &st, &h, &e), 0,
                 "%s", e.message);
    chain_close(&c);

    char log[300];
    log_to(log);
    open_node((size_t)1 << 20);
    node_status(N, &s);
    cr_assert_eq(s.height, 1);
    cr_assert_eq(s.mempool_count, 1);
    cr_assert_not(in_pool(&t1), "a stored tx whose input was spent came back");
    cr_assert_not(recorded(&t1.txid, NULL, NULL), "its record stayed");
    cr_assert(in_pool(&t2));
    store_ok(N, 1);
    char *text = tb_read_file(log, NULL);
    char hex[65], want[128];
    hex_encode(hex, t1.txid.b, 32);
    snprintf(want, sizeof want, "stored transaction %s dropped: double_spend", hex);
    cr_assert_eq(count_of(text, want), 1, "no one line naming the rule: %s", text);
    free(text);
}

/* A transaction spending a coin that never was (the rule: unknown_utxo). */
static rtx_t phantom(uint8_t k)
{
    hash32_t nowhere = {{0xee, k}};
    return tb_pay(&nowhere, 0, COIN, &albert, &bertrand.pkh, COIN / 2, 10000);
}

Test(mempool, startup_drops_each_invalid_record_with_its_rule_then_counts)
{
    rtx_t good = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 2 * COIN, 10000);
    submit_tx_ok(&good);
    node_close(&N);
    for (uint8_t k = 0; k < 25; k++) {
        rtx_t t = phantom(k);
        put_record(dir, &t.txid, t.raw, t.len, 0);
    }
    static const char junk[] = "bytes that are no transaction";
    hash32_t junk_id, wrong = {{0x12}};
    hash_sha256d(&junk_id, junk, sizeof junk - 1);
    put_record(dir, &junk_id, (const uint8_t *)junk, sizeof junk - 1, 0);
    put_record(dir, &wrong, good.raw, good.len, 0); /* keyed by another txid */
    /* and one that does not decode: its version byte corrupted */
    static const char marker[] = "a record marker that no transaction holds, 50 bytes";
    hash32_t marker_id;
    hash_sha256d(&marker_id, marker, sizeof marker - 1);
    put_record(dir, &marker_id, (const uint8_t *)marker, sizeof marker - 1, 0);
    char data[300];
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    cr_assert_gt(tb_poke(data, (const uint8_t *)marker, sizeof marker - 1, -10, 7), 0);

    char log[300];
    log_to(log);
    open_node((size_t)1 << 20);
    cr_assert_eq(pool_count(), 1);
    cr_assert(in_pool(&good));
    store_ok(N, 1);
    char *text = tb_read_file(log, NULL);
    cr_assert_eq(count_of(text, " dropped: "), 20, "not 20 lines, one a drop: %s", text);
    cr_assert_eq(count_of(text, "more stored transaction(s) dropped"), 1, "%s", text);
    /* 28 drops: 20 lines, then the rest counted by rule */
    cr_assert(strstr(text, "8 more stored transaction(s) dropped"), "%s", text);
    cr_assert(strstr(text, "unknown_utxo"), "%s", text);
    free(text);
    /* the next start finds nothing more to drop */
    node_close(&N);
    log_to(log);
    open_node((size_t)1 << 20);
    text = tb_read_file(log, NULL);
    cr_assert_eq(count_of(text, "dropped"), 0, "%s", text);
    free(text);
    cr_assert(in_pool(&good));
}

Test(mempool, a_legacy_mempool_dat_is_imported_once)
{
    rtx_t t1 = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 2 * COIN, 10000);
    rtx_t bad = phantom(1);
    node_close(&N);
    char path[512];
    snprintf(path, sizeof path, "%s/mempool.dat", dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite("CHAINMP1", 1, 8, f);
    const rtx_t *txs[2] = {&t1, &bad};
    for (int i = 0; i < 2; i++) {
        uint8_t len[4] = {(uint8_t)txs[i]->len, (uint8_t)(txs[i]->len >> 8), 0, 0};
        fwrite(len, 1, 4, f);
        fwrite(txs[i]->raw, 1, txs[i]->len, f);
    }
    fclose(f);
    open_node((size_t)1 << 20);
    struct stat sb;
    cr_assert_neq(stat(path, &sb), 0, "the legacy file stayed");
    cr_assert(in_pool(&t1));
    cr_assert(recorded(&t1.txid, &t1, NULL), "imported but not stored");
    cr_assert_not(in_pool(&bad));
    store_ok(N, 1);
    node_close(&N);
    open_node((size_t)1 << 20);
    cr_assert(in_pool(&t1), "lost at the second start");

    /* a corrupt file: the node still opens, and the file goes */
    node_close(&N);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs("not a mempool", f);
    fclose(f);
    open_node((size_t)1 << 20);
    cr_assert_neq(stat(path, &sb), 0);
    cr_assert_eq(pool_count(), 1);
}

/* Crash snapshots: on each block event while armed, the store as a kill -9
 * would leave it then (the committer is idle: every ticket was waited for,
 * and a reorganisation queues nothing before it ends). */
static char snaps[4][256];
static int n_snaps;
static bool armed;

static void snapshot_on_block(void *ctx, const char *topic, const uint8_t *body, size_t len)
{
    (void)ctx, (void)body, (void)len;
    if (!armed || strcmp(topic, "block") != 0)
        return;
    cr_assert_lt(n_snaps, 4);
    tb_tmpdir(snaps[n_snaps]);
    tb_copy_store(dir, snaps[n_snaps++]);
}

/* In a crash snapshot: each tx is confirmed or has a record, and never both
 * (store_check). */
static void confirmed_or_pending(const char *snapdir, const rtx_t *const *txs, size_t n)
{
    store_t *st;
    store_read_t *r;
    err_t e;
    cr_assert_eq(store_open(&st, snapdir, (size_t)1 << 30, "regtest", &e), 0, "%s", e.message);
    cr_assert_eq(store_read_begin(st, &r, &e), 0, "%s", e.message);
    cr_assert_eq(store_check(r, NULL, &e), 0, "%s: %s", snapdir, e.message);
    for (size_t i = 0; i < n; i++) {
        store_tx_loc_t loc;
        store_mempool_rec_t rec;
        bool confirmed = store_find_tx(r, &txs[i]->txid, &loc, NULL) == 0;
        bool pending = store_get_mempool(r, &txs[i]->txid, &rec, NULL) == 0;
        cr_assert(confirmed || pending, "%s: transaction %zu is neither confirmed nor pending",
                  snapdir, i);
    }
    store_read_end(&r);
    store_close(&st);
}

Test(mempool, blocks_move_records_in_their_own_write_through_a_reorganisation)
{
    rtx_t t1 = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 2 * COIN, 10000);
    rtx_t t2 = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &camille.pkh, 3 * COIN, 10000);
    rtx_t t4 = tb_pay(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 10000);
    submit_tx_ok(&t1);
    submit_tx_ok(&t2);
    submit_tx_ok(&t4);
    /* a1 confirms t1 and conflicts t2 (t2b spends its coin): both records
     * go in a1's own write */
    rtx_t t2b = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, 4 * COIN, 10000);
    rtx_t a1_txs[2] = {t1, t2b};
    blk_t a1 = mkblock(&G, 1, GT + 60, a1_txs, 2, 20000, 1);
    submit_block_ok(&a1, CHAIN_TIP);
    cr_assert_not(recorded(&t1.txid, NULL, NULL) || recorded(&t2.txid, NULL, NULL));
    store_ok(N, 1);

    /* a heavier branch: b1 spends t2b's coin another way (t2c), b2 confirms
     * t1 again; a1's disconnect puts t1 and t2b back, each connect takes out
     * what it confirms */
    rtx_t t2c = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &stranger.pkh, 5 * COIN, 10000);
    blk_t b1 = mkblock(&G, 1, GT + 61, &t2c, 1, 10000, 2);
    blk_t b2 = mkblock(&b1.hash, 2, GT + 120, &t1, 1, 10000, 3);
    submit_block_ok(&b1, CHAIN_SIDE);
    node_set_publisher(N, snapshot_on_block, NULL);
    armed = true;
    submit_block_ok(&b2, CHAIN_TIP);
    armed = false;
    cr_assert_eq(n_snaps, 2, "one snapshot a connect");
    /* the new chain: t1 and t2c confirmed, t4 pending, t2b dropped by readmission */
    cr_assert(in_pool(&t4) && !in_pool(&t1) && !in_pool(&t2b) && !in_pool(&t2));
    const rtx_t *acked[4] = {&t1, &t4, &t2b, &t2c};
    /* after b1 (mid-reorganisation) and after b2: nothing of t1, t4 lost */
    confirmed_or_pending(snaps[0], acked, 2);
    confirmed_or_pending(snaps[1], acked, 2);
    /* t2b: back with a1's disconnect until readmission drops it */
    confirmed_or_pending(snaps[0], acked + 2, 1);

    /* a restart from the mid-reorganisation snapshot finishes the job: the
     * same pool, the same table */
    node_close(&N);
    node_t *m;
    char log[300];
    log_to(log);
    open_node_in(&m, snaps[0], (size_t)1 << 20);
    node_status_t s;
    node_status(m, &s);
    cr_assert_eq(s.height, 2);
    cr_assert(hash32_eq(&s.hash, &b2.hash));
    cr_assert_eq(s.mempool_count, 1);
    cr_assert(node_mempool_spends(m, &GTX, 2), "t4 is not pending after the restart");
    store_ok(m, 1);
    char *text = tb_read_file(log, NULL);
    char hex[65];
    hex_encode(hex, t2b.txid.b, 32);
    cr_assert(strstr(text, hex) && strstr(text, "double_spend"), "%s", text);
    free(text);
    node_close(&m);
    for (int i = 0; i < n_snaps; i++)
        tb_rmdir(snaps[i]);
    open_node((size_t)1 << 20);
}

/* Dust is policy: a new submission with an output below TX_DUST_LIMIT is
 * refused, naming the output and the limit; a block may hold one. */
Test(mempool, dust_is_refused_by_policy_only)
{
    rtx_t dust = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, TX_DUST_LIMIT - 1, 20000);
    err_t e = submit_tx_fail(&dust, ERR_DUST, "dust");
    cr_assert(strstr(e.message, "output 0") && strstr(e.message, "1500"), "%s", e.message);
    rtx_t edge = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, TX_DUST_LIMIT, 20000);
    submit_tx_ok(&edge);
    blk_t b1 = mkblock(&G, 1, GT + 60, &dust, 1, 20000, 1);
    submit_block_ok(&b1, CHAIN_TIP);
}

/* --- parking: children of payments a reorganisation unconfirmed ---------------- */

/* x1 (t1) <- x2 (t3, a spend of t1's output): the chain a reorganisation
 * takes off, onto a heavier branch of empty blocks (or with extra, when
 * given) from genesis. The blocks go from the tip down, so t3 is offered
 * back before its parent. */
static void parent_and_child(rtx_t *t1, rtx_t *t3, const rtx_t *extra)
{
    *t1 = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 4 * COIN, 20000);
    submit_tx_ok(t1);
    blk_t x1 = mkblock(&G, 1, GT + 60, t1, 1, 20000, 1);
    submit_block_ok(&x1, CHAIN_TIP);
    *t3 = tb_pay(&t1->txid, 0, 4 * COIN, &bertrand, &stranger.pkh, COIN, 30000);
    submit_tx_ok(t3);
    blk_t x2 = mkblock(&x1.hash, 2, GT + 120, t3, 1, 30000, 2);
    submit_block_ok(&x2, CHAIN_TIP);
    blk_t y1 = mkblock(&G, 1, GT + 61, extra, extra ? 1 : 0, extra ? 20000 : 0, 3);
    submit_block_ok(&y1, CHAIN_SIDE);
    blk_t y2 = mkblock(&y1.hash, 2, GT + 121, NULL, 0, 0, 4);
    submit_block_ok(&y2, CHAIN_SIDE);
    blk_t y3 = mkblock(&y2.hash, 3, GT + 181, NULL, 0, 0, 5);
    submit_block_ok(&y3, CHAIN_TIP);
}

/* Both confirmed, both taken off by a reorganisation: the parent goes back to
 * the pool, the child is parked (not dropped), across a restart too, and
 * joins the pool once its parent is confirmed again. */
Test(mempool, a_child_unconfirmed_with_its_parent_is_parked_until_the_parent_confirms)
{
    rtx_t t1, t3;
    parent_and_child(&t1, &t3, NULL);
    cr_assert(in_pool(&t1), "the parent did not come back");
    cr_assert(parked(&t3), "the child was not parked");
    node_status_t s;
    node_status(N, &s);
    cr_assert_eq(s.mempool_count, 1);
    cr_assert_eq(s.mempool_parked, 1);

    /* kill -9 would leave the same records: a clean close is enough here */
    node_close(&N);
    open_node((size_t)1 << 20);
    store_ok(N, 2);
    cr_assert(in_pool(&t1), "the parent was lost at restart");
    cr_assert(parked(&t3), "the child was not parked again at restart");
    job_t j;
    get_job(&j);
    cr_assert_eq(j.tx_count, 1, "a parked transaction went into a job");
    mine_job(&j, 7);
    cr_assert(in_pool(&t3), "the child did not come back once its parent confirmed");
    node_status(N, &s);
    cr_assert_eq(s.mempool_parked, 0);
    get_job(&j);
    mine_job(&j, 8);
    cr_assert_not(in_pool(&t3));
    node_close(&N);
    open_node((size_t)1 << 20);
    store_ok(N, 0);
}

/* The new branch spends the parent's coin otherwise: the parent cannot come
 * back, and its parked child goes with its record. */
Test(mempool, a_parked_child_whose_parent_is_double_spent_is_dropped)
{
    rtx_t t1, t3;
    rtx_t rival = tb_pay(&GTX, 0, 40 * COIN, &albert, &camille.pkh, 9 * COIN, 20000);
    parent_and_child(&t1, &t3, &rival);
    cr_assert_not(in_pool(&t1), "the double-spent parent is pooled");
    cr_assert_not(pending(&t3, true) || pending(&t3, false), "its child is still held");
    node_close(&N);
    open_node((size_t)1 << 20);
    store_ok(N, 0);
}

/* A child of parent's output 0 (worth amount, owner's) whose txid sorts
 * before the parent's, or after it. */
static rtx_t child_sorting(const rtx_t *parent, amount_t amount, const tb_wallet_t *owner,
                           bool before)
{
    for (amount_t fee = 20000;; fee++) {
        rtx_t c = tb_pay(&parent->txid, 0, amount, owner, &stranger.pkh, amount / 2, fee);
        if ((memcmp(c.txid.b, parent->txid.b, 32) < 0) == before)
            return c;
    }
}

/* Stored records are read back in key order: a child whose key sorts before
 * its parent's parks as well as one after it, and keeps its record. */
Test(mempool, startup_parks_stored_children_whatever_their_key_order)
{
    node_close(&N);
    rtx_t parents[2] = {tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 4 * COIN, 20000),
                        tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 20000)};
    rtx_t children[2] = {child_sorting(&parents[0], 4 * COIN, &bertrand, true),
                         child_sorting(&parents[1], COIN, &albert, false)};
    for (int i = 0; i < 2; i++) {
        put_record(dir, &parents[i].txid, parents[i].raw, parents[i].len, 0);
        put_record(dir, &children[i].txid, children[i].raw, children[i].len, 0);
    }
    open_node((size_t)1 << 20);
    for (int i = 0; i < 2; i++) {
        cr_assert(in_pool(&parents[i]));
        cr_assert(parked(&children[i]), "stored child %d was not parked", i);
        cr_assert(recorded(&children[i].txid, &children[i], NULL), "child %d dropped", i);
    }
    node_status_t s;
    node_status(N, &s);
    cr_assert_eq(s.mempool_parked, 2);
}

Test(mempool, the_unbroadcast_set_persists_and_leaves_with_its_record)
{
    rtx_t t1 = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 2 * COIN, 10000);
    rtx_t t2 = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &camille.pkh, 3 * COIN, 10000);
    rtx_t t3 = tb_pay(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 10000);
    submit_flagged_ok(&t1, STORE_MEMPOOL_UNBROADCAST);
    submit_tx_ok(&t2);
    submit_flagged_ok(&t3, STORE_MEMPOOL_UNBROADCAST);
    hash32_t got[NODE_UNBROADCAST_MAX];
    cr_assert_eq(node_unbroadcast(N, got, NODE_UNBROADCAST_MAX), 2);
    cr_assert(hash32_eq(&got[0], &t1.txid) && hash32_eq(&got[1], &t3.txid), "not oldest first");
    cr_assert_eq(node_unbroadcast(N, got, 1), 1);
    node_status_t s;
    node_status(N, &s);
    cr_assert_eq(s.mempool_unbroadcast, 2);
    node_mempool_item_t items[8];
    size_t n = node_mempool_list(N, items, 8);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(items[i].unbroadcast, !hash32_eq(&items[i].txid, &t2.txid));

    /* announced: out of the set, in memory and in the record */
    hash32_t mark[2] = {t1.txid, {{0x5a}}};
    uint64_t ticket;
    err_t e;
    cr_assert_eq(node_mark_broadcast(N, mark, 2, &ticket, &e), 0, "%s", e.message);
    cr_assert_gt(ticket, 0);
    node_wait_durable(N, ticket);
    uint8_t flags = 0xff;
    cr_assert(recorded(&t1.txid, &t1, &flags) && flags == 0, "the record kept the flag");
    cr_assert_eq(node_unbroadcast(N, got, NODE_UNBROADCAST_MAX), 1);
    cr_assert(hash32_eq(&got[0], &t3.txid));
    cr_assert_eq(node_mark_broadcast(N, mark, 2, &ticket, &e), 0);
    cr_assert_eq(ticket, 0, "nothing to change, yet a change");
    cr_assert_eq(node_mark_broadcast(N, mark, NODE_UNBROADCAST_MAX + 1, &ticket, &e),
                 -(int)ERR_TOO_LARGE);

    /* kept across a restart */
    node_close(&N);
    open_node((size_t)1 << 20);
    cr_assert_eq(node_unbroadcast(N, got, NODE_UNBROADCAST_MAX), 1);
    cr_assert(hash32_eq(&got[0], &t3.txid));
    /* confirmed: gone with its record */
    blk_t b1 = mkblock(&G, 1, GT + 60, &t3, 1, 10000, 1);
    submit_block_ok(&b1, CHAIN_TIP);
    cr_assert_eq(node_unbroadcast(N, got, NODE_UNBROADCAST_MAX), 0);
    node_status(N, &s);
    cr_assert_eq(s.mempool_unbroadcast, 0);
    store_ok(N, 2);
}

/* Holds a store write for 200 ms (a write stays on the thread that began
 * it), so that the journal's committer waits behind it. */
static _Atomic int holding;

static void *hold_a_write(void *arg)
{
    (void)arg;
    store_write_t *w;
    err_t e;
    cr_assert_eq(store_write_begin(node_store(N), &w, &e), 0, "%s", e.message);
    atomic_store(&holding, 1);
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    store_write_abort(&w);
    return NULL;
}

Test(mempool, a_full_journal_answers_busy_and_changes_nothing)
{
    node_close(&N);
    journal_ops = 2;
    /* a pool with room for two payments and a half, so that c would evict a */
    rtx_t a = pay_at_rate(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10, 0);
    rtx_t b = pay_at_rate(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 30, 0);
    rtx_t c = pay_at_rate(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 20, 0);
    open_node(2 * a.len + a.len / 2);
    /* the committer held back behind a write of ours */
    store_write_t *w;
    err_t e;
    cr_assert_eq(store_write_begin(node_store(N), &w, &e), 0, "%s", e.message);
    hash32_t txid;
    uint64_t ka, kb;
    cr_assert_eq(node_submit_tx(N, a.raw, a.len, "test", 0, &txid, &ka, &e), 0, "%s", e.message);
    cr_assert_eq(node_submit_tx(N, b.raw, b.len, "test", 0, &txid, &kb, &e), 0, "%s", e.message);
    err_t busy = submit_tx_fail(&c, ERR_MEMPOOL_FULL, "a full journal");
    cr_assert(strstr(busy.message, "busy"), "%s", busy.message);
    cr_assert(in_pool(&a), "a refusal evicted");
    cr_assert_lt(node_durable(N), ka, "durable behind a held write");
    store_write_abort(&w);
    node_wait_durable(N, kb);
    cr_assert(recorded(&a.txid, &a, NULL) && recorded(&b.txid, &b, NULL));
    submit_tx_ok(&c); /* room again: now it evicts a, record and all */
    cr_assert_not(in_pool(&a));
    cr_assert_not(recorded(&a.txid, NULL, NULL));
}

/* rpc submit_tx answers ok only once the record is on disk: the committer
 * is held back for 200 ms, and the ok must not come before. */
Test(mempool, rpc_submit_tx_answers_ok_only_once_durable)
{
    rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 3 * COIN, 10000);
    err_t e;
    pthread_t th;
    atomic_store(&holding, 0);
    cr_assert_eq(pthread_create(&th, NULL, hold_a_write, NULL), 0);
    while (!atomic_load(&holding))
        sched_yield();
    mp_buf_t req, rep;
    mp_buf_init(&req, TX_MAX_SIZE);
    mp_buf_init(&rep, PROTO_MAX_MSG);
    proto_begin_request(&req, "submit_tx", 9, 2);
    mp_put_cstr(&req, "tx");
    mp_put_bin(&req, t.raw, t.len);
    mp_put_cstr(&req, "origin");
    mp_put_cstr(&req, "peer:test");
    rpc_handle(N, RPC_LOCAL, req.data, req.len, &rep);
    cr_assert(recorded(&t.txid, &t, NULL), "ok before the record was durable");
    pthread_join(th, NULL);
    proto_reply_t r;
    cr_assert_eq(proto_decode_reply(&r, rep.data, rep.len, &e), 0, "%s", e.message);
    cr_assert(r.ok, "%s", r.message);
    mp_buf_free(&req);
    mp_buf_free(&rep);
}

/* --- rpc reads of the store ------------------------------------------------------ */

/* rpc_handle(type {key: bin32}) answers ok with the bytes want under field,
 * or (want NULL) an error of code. */
static void rpc_bytes(const char *type, const char *key, const hash32_t *h, const char *field,
                      const uint8_t *want, size_t want_len, err_code_t code)
{
    mp_buf_t req, rep;
    mp_buf_init(&req, 1024);
    mp_buf_init(&rep, PROTO_MAX_MSG);
    proto_begin_request(&req, type, 7, 1);
    mp_put_cstr(&req, key);
    mp_put_bin(&req, h->b, 32);
    rpc_handle(N, RPC_LOCAL, req.data, req.len, &rep);
    proto_reply_t r;
    err_t e;
    cr_assert_eq(proto_decode_reply(&r, rep.data, rep.len, &e), 0, "%s", e.message);
    cr_assert_eq(r.id, 7);
    if (want) {
        const uint8_t *got;
        size_t len;
        cr_assert(r.ok, "%s: %s", type, r.message);
        cr_assert_eq(proto_get_bin(&r.body, field, &got, &len), 0, "%s: no bin \"%s\"", type,
                     field);
        cr_assert(len == want_len && memcmp(got, want, len) == 0, "%s: other bytes", type);
    } else {
        cr_assert_not(r.ok);
        cr_assert_eq(r.code, code, "%s: %s", type, err_str(r.code));
    }
    mp_buf_free(&req);
    mp_buf_free(&rep);
}

Test(mempool, rpc_get_tx_and_get_block_answer_their_bytes)
{
    rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 3 * COIN, 10000);
    submit_tx_ok(&t);
    rpc_bytes("get_tx", "txid", &t.txid, "tx", t.raw, t.len, ERR_OK); /* from the mempool */
    blk_t b = mkblock(&G, 1, GT + 60, &t, 1, 10000, 1);
    submit_block_ok(&b, CHAIN_TIP);
    cr_assert_not(in_pool(&t));
    rpc_bytes("get_tx", "txid", &t.txid, "tx", t.raw, t.len, ERR_OK); /* from its block */
    rpc_bytes("get_block", "hash", &b.hash, "block", b.data, b.len, ERR_OK);
    hash32_t none = {{0xab}};
    rpc_bytes("get_tx", "txid", &none, "tx", NULL, 0, ERR_NOT_FOUND);
    rpc_bytes("get_block", "hash", &none, "block", NULL, 0, ERR_NOT_FOUND);
}

/* rpc_handle(type) with txids[0..n) under "txids" when txids is not NULL,
 * or {max} when max is not 0; the ok reply's txids into got: how many. */
static size_t rpc_txids(const char *type, uint64_t max, const hash32_t *txids, size_t n,
                        hash32_t *got, size_t cap)
{
    mp_buf_t req, rep;
    mp_buf_init(&req, PROTO_MAX_MSG);
    mp_buf_init(&rep, PROTO_MAX_MSG);
    proto_begin_request(&req, type, 5, max || txids ? 1 : 0);
    if (max) {
        mp_put_cstr(&req, "max");
        mp_put_uint(&req, max);
    } else if (txids) {
        mp_put_cstr(&req, "txids");
        mp_put_array(&req, (uint32_t)n);
        for (size_t i = 0; i < n; i++)
            mp_put_bin(&req, txids[i].b, 32);
    }
    rpc_handle(N, RPC_LOCAL, req.data, req.len, &rep);
    proto_reply_t r;
    err_t e;
    cr_assert_eq(proto_decode_reply(&r, rep.data, rep.len, &e), 0, "%s", e.message);
    cr_assert(r.ok, "%s: %s", type, r.message);
    mp_reader_t rd;
    uint32_t k = 0;
    if (got && proto_get_array(&r.body, "txids", &rd, &k) == 0)
        for (uint32_t i = 0; i < k && i < cap; i++)
            cr_assert_eq(mp_get_bin_exact(&rd, got[i].b, 32), 0);
    mp_buf_free(&req);
    mp_buf_free(&rep);
    return k;
}

/* The best max by fee rate (mempool_best's heap) against a full sort done
 * here, for every max from none to more than the pool holds. */
Test(mempool, the_best_by_fee_rate_for_any_max)
{
    enum { K = 12 };
    tb_input_t in = {GTX, 0, &albert};
    tb_output_t outs[K];
    for (int i = 0; i < K; i++)
        outs[i] = (tb_output_t){3 * COIN, &albert.pkh};
    rtx_t fan = tb_mktx(&in, 1, outs, K, -1);
    blk_t b1 = mkblock(&G, 1, GT + 60, &fan, 1, 4 * COIN, 1);
    submit_block_ok(&b1, CHAIN_TIP);
    rtx_t t[K];
    for (int i = 0; i < K; i++) { /* distinct fees in a shuffled order */
        t[i] = tb_pay(&fan.txid, (uint32_t)i, 3 * COIN, &albert, &bertrand.pkh, COIN,
                      20000 + 1000 * ((i * 7) % K));
        submit_tx_ok(&t[i]);
    }
    /* the expected order: by fee a byte, highest first */
    int order[K];
    for (int i = 0; i < K; i++)
        order[i] = i;
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++) {
            double ri = (double)fee_of(&t[order[i]], 3 * COIN) / (double)t[order[i]].len;
            double rj = (double)fee_of(&t[order[j]], 3 * COIN) / (double)t[order[j]].len;
            if (rj > ri) {
                int x = order[i];
                order[i] = order[j];
                order[j] = x;
            }
        }
    for (size_t max = 0; max <= K + 3; max++) {
        hash32_t got[K + 3];
        size_t n = node_mempool_txids(N, got, max);
        cr_assert_eq(n, max < K ? max : K, "max %zu", max);
        for (size_t i = 0; i < n; i++)
            cr_assert(hash32_eq(&got[i], &t[order[i]].txid), "max %zu: place %zu", max, i);
    }
}

/* What gossipd asks to catch a peer up and to rebroadcast: the best of the
 * mempool by fee rate, and the unbroadcast set until a peer asked for it. */
Test(mempool, rpc_mempool_snapshot_and_the_unbroadcast_set)
{
    rtx_t lo = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 2 * COIN, 5000);
    rtx_t hi = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &camille.pkh, 3 * COIN, 90000);
    rtx_t mid = tb_pay(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 20000);
    submit_flagged_ok(&lo, STORE_MEMPOOL_UNBROADCAST);
    submit_tx_ok(&hi);
    submit_flagged_ok(&mid, STORE_MEMPOOL_UNBROADCAST);
    hash32_t got[8];
    cr_assert_eq(rpc_txids("get_mempool", 8, NULL, 0, got, 8), 3);
    cr_assert(hash32_eq(&got[0], &hi.txid) && hash32_eq(&got[1], &mid.txid) &&
              hash32_eq(&got[2], &lo.txid), "not by fee rate, highest first");
    cr_assert_eq(rpc_txids("get_mempool", 2, NULL, 0, got, 8), 2, "max not kept");
    cr_assert(hash32_eq(&got[0], &hi.txid) && hash32_eq(&got[1], &mid.txid), "not the best two");
    cr_assert_eq(rpc_txids("get_mempool", 100000, NULL, 0, got, 8), 3);
    cr_assert_eq(rpc_txids("get_unbroadcast", 0, NULL, 0, got, 8), 2);
    cr_assert(hash32_eq(&got[0], &lo.txid) && hash32_eq(&got[1], &mid.txid));
    hash32_t asked[2] = {lo.txid, {{0x77}}}; /* one unknown: no error */
    cr_assert_eq(rpc_txids("mark_broadcast", 0, asked, 2, NULL, 0), 0);
    cr_assert_eq(rpc_txids("get_unbroadcast", 0, NULL, 0, got, 8), 1);
    cr_assert(hash32_eq(&got[0], &mid.txid));
}

/* --- the explorer's queries ------------------------------------------------ */

Test(mempool, recent_histogram_and_spenders)
{
    /* fee rates 12, 60 and 1500 units a byte: three buckets */
    rtx_t a = pay_at_rate(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 12, 0);
    rtx_t b = pay_at_rate(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 60, 0);
    rtx_t c = pay_at_rate(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 1500, 0);
    submit_tx_ok(&a);
    submit_tx_ok(&b);
    submit_tx_ok(&c);
    node_mempool_item_t items[4];
    uint64_t before = (uint64_t)time(NULL);
    cr_assert_eq(node_mempool_recent(N, items, 4), 3);
    cr_assert(hash32_eq(&items[0].txid, &c.txid) && hash32_eq(&items[1].txid, &b.txid) &&
              hash32_eq(&items[2].txid, &a.txid), "not newest first");
    cr_assert(items[0].size == c.len && items[0].fee == fee_of(&c, 10 * COIN));
    cr_assert(items[0].time <= before && items[0].time + 60 >= before);
    cr_assert_eq(node_mempool_recent(N, items, 2), 2);
    cr_assert(hash32_eq(&items[0].txid, &c.txid) && hash32_eq(&items[1].txid, &b.txid));
    cr_assert_eq(node_mempool_recent(N, items, 0), 0);
    const uint64_t edges[4] = {0, 10, 50, 1000};
    uint64_t count[4], bytes[4];
    node_mempool_histogram(N, edges, 4, count, bytes);
    cr_assert(count[0] == 0 && count[1] == 1 && count[2] == 1 && count[3] == 1);
    cr_assert(bytes[1] == a.len && bytes[2] == b.len && bytes[3] == c.len);
    /* an exact edge belongs to the bucket above it */
    const uint64_t at[2] = {0, 12};
    node_mempool_histogram(N, at, 2, count, bytes);
    cr_assert(count[0] == 0 && count[1] == 3);
    hash32_t by;
    uint32_t input = 9;
    cr_assert_eq(node_mempool_spender(N, &GTX, 1, &by, &input), 0);
    cr_assert(hash32_eq(&by, &b.txid) && input == 0);
    cr_assert_eq(node_mempool_spender(N, &GTX, 3, &by, &input), -1);
}
