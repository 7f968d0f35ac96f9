/* The mempool through node.h in process: admission and every rejection code,
 * mining jobs and node_submit_work, re-admission after a reorganisation,
 * eviction by fee rate, and the saved mempool across a restart. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "builder.h"
#include "chain.h"
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
#define RATE 10 /* min_fee_rate of the tests' nodes */

/* --- fixture --------------------------------------------------------------- */

static const chain_params_t *P;
static char dir[256];
static node_t *N;
static hash32_t G, GTX;
static uint64_t GT;
static tb_wallet_t albert, bertrand, camille, miner, stranger;

static void *kept[1024];
static size_t n_kept;
static void *keep(void *p)
{
    cr_assert(n_kept < sizeof kept / sizeof kept[0]);
    return kept[n_kept++] = p;
}

static void open_node(size_t mempool_max_bytes)
{
    node_config_t cfg = {
        .params = P,
        .datadir = dir,
        .map_size = (size_t)1 << 30,
        .verify_threads = 2,
        .mempool_max_bytes = mempool_max_bytes,
        .min_fee_rate = RATE,
        .sigcache_entries = 1000,
    };
    err_t e;
    cr_assert_eq(node_open(&N, &cfg, &e), 0, "%s", e.message);
    cr_assert_not_null(N);
}

static void setup(void)
{
    log_init("test", LOG_ERROR);
    P = params_by_name("regtest");
    cr_assert_not_null(P);
    tb_tmpdir(dir);
    open_node((size_t)1 << 20);
    tb_genesis(P, &G, &GTX);
    GT = P->genesis_timestamp;
    tb_demo_wallet(&albert, "albert");
    tb_demo_wallet(&bertrand, "bertrand");
    tb_demo_wallet(&camille, "camille");
    tb_wallet(&miner, 0x11);
    tb_wallet(&stranger, 0x22);
}

static void teardown(void)
{
    node_close(&N);
    for (size_t i = 0; i < n_kept; i++)
        free(kept[i]);
    n_kept = 0;
    tb_rmdir(dir);
}

TestSuite(mempool, .init = setup, .fini = teardown, .timeout = 60);

/* --- transactions ---------------------------------------------------------- */

typedef struct {
    uint8_t *raw;
    size_t len;
    hash32_t txid;
} rtx_t;

typedef tb_input_t in_t;
typedef tb_output_t out_t;

static rtx_t encode(const tx_t *tx)
{
    mp_buf_t b;
    mp_buf_init(&b, TX_MAX_SIZE);
    cr_assert_eq(tx_encode(tx, &b, false), 0);
    rtx_t r = {keep(b.data), b.len, {{0}}};
    hash_sha256d(&r.txid, b.data, b.len);
    return r;
}

/* tb_tx_multi() with the encoding kept until the test ends. */
static rtx_t mktx(const in_t *ins, size_t n_in, const out_t *outs, size_t n_out, int corrupt)
{
    mp_buf_t b;
    mp_buf_init(&b, TX_MAX_SIZE);
    rtx_t r;
    tb_tx_multi(&b, &r.txid, ins, n_in, outs, n_out, corrupt);
    r.raw = keep(b.data);
    r.len = b.len;
    return r;
}

static rtx_t pay(const hash32_t *txid, uint32_t index, amount_t in_amount, const tb_wallet_t *from,
                 const hash20_t *to, amount_t amount, amount_t fee)
{
    in_t in = {*txid, index, from};
    out_t outs[2] = {{amount, to}, {in_amount - amount - fee, &from->pkh}};
    cr_assert(amount + fee <= in_amount);
    return mktx(&in, 1, outs, outs[1].amount ? 2 : 1, -1);
}

/* The same payment with fee = rate * its own size (the size does not depend
 * on the fee while the change keeps its encoded width). */
static rtx_t pay_at_rate(const hash32_t *txid, uint32_t index, amount_t in_amount,
                         const tb_wallet_t *from, const hash20_t *to, amount_t amount,
                         uint64_t rate_num, int64_t delta)
{
    rtx_t probe = pay(txid, index, in_amount, from, to, amount, 5000);
    amount_t fee = (amount_t)((int64_t)(rate_num * probe.len) + delta);
    rtx_t t = pay(txid, index, in_amount, from, to, amount, fee);
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

static void submit_tx_ok(const rtx_t *t)
{
    hash32_t txid;
    err_t e = {0};
    int rc = node_submit_tx(N, t->raw, t->len, "test", &txid, &e);
    cr_assert_eq(rc, 0, "tx rejected: %s (%s)", err_str(e.code), e.message);
    cr_assert(hash32_eq(&txid, &t->txid), "another txid");
}

static bool in_pool(const rtx_t *t)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    if (node_mempool_tx(N, &t->txid, &raw, &len) < 0)
        return false;
    bool same = len == t->len && memcmp(raw, t->raw, len) == 0;
    free(raw);
    cr_assert(same, "the mempool holds other bytes under this txid");
    return true;
}

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
    err_t e = {0};
    int rc = node_submit_tx(N, raw, len, "test", &txid, &e);
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

typedef struct {
    uint8_t *data;
    size_t len;
    hash32_t hash, cb;
} blk_t;

static blk_t mkblock(const hash32_t *parent, uint64_t height, uint64_t ts, const rtx_t *txs,
                     size_t n, amount_t fees, uint64_t tag)
{
    const uint8_t *raws[8];
    size_t lens[8];
    cr_assert(n <= 8);
    for (size_t i = 0; i < n; i++) {
        raws[i] = txs[i].raw;
        lens[i] = txs[i].len;
    }
    mp_buf_t b;
    mp_buf_init(&b, BLOCK_MAX_SIZE);
    blk_t k;
    tb_block(&b, &k.hash, &k.cb, parent, height, ts, BITS, &miner.pkh, SUBSIDY + fees, raws, lens,
             n, tag);
    k.data = keep(b.data);
    k.len = b.len;
    return k;
}

static void submit_block_ok(const blk_t *b, chain_status_t expect)
{
    chain_status_t st;
    hash32_t h;
    err_t e = {0};
    int rc = node_submit_block(N, b->data, b->len, "test", &st, &h, &e);
    cr_assert_eq(rc, 0, "block rejected: %s (%s)", err_str(e.code), e.message);
    cr_assert_eq(st, expect, "status %d, expected %d", st, expect);
    cr_assert(hash32_eq(&h, &b->hash));
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
    rtx_t zero = pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 0);
    submit_tx_fail(&zero, ERR_FEE_TOO_LOW, "no fee");
    rtx_t ok = pay_at_rate(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, RATE + 1, 0);
    submit_tx_ok(&ok);
    cr_assert_eq(pool_count(), 2);
    /* a transaction spending an output still in the mempool waits: its coin
     * is not confirmed */
    rtx_t child = pay(&t.txid, 0, COIN, &bertrand, &camille.pkh, COIN / 2, 10000);
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
    rtx_t theft = pay(&GTX, 0, 40 * COIN, &bertrand, &camille.pkh, COIN, 10000);
    submit_tx_fail(&theft, ERR_SCRIPT_FAILED, "a spend signed by another owner");
    node_status(N, &after);
    cr_assert_eq(after.sigcache_entries, before.sigcache_entries);
    cr_assert_eq(after.sigcache_misses, before.sigcache_misses,
                 "a key that does not own the coin got its signature checked");

    rtx_t t = pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    submit_tx_ok(&t);
    node_status(N, &after);
    cr_assert_eq(after.sigcache_entries, before.sigcache_entries + 1);
    cr_assert_eq(after.sigcache_misses, before.sigcache_misses + 1, "checked once, before the lock");
    cr_assert_eq(after.sigcache_hits, before.sigcache_hits + 1, "and found in the cache under it");
}

Test(mempool, rejections_change_nothing)
{
    rtx_t base = pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    submit_tx_ok(&base);

    /* malformed bytes */
    uint8_t junk[] = {0x93, 0x01, 0x91, 0x00};
    submit_raw_fail(junk, sizeof junk, ERR_BAD_ENCODING, "junk");
    submit_raw_fail(junk, 0, ERR_BAD_ENCODING, "nothing");
    rtx_t t2 = pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 10000);
    uint8_t *longer = keep(malloc(t2.len + 1));
    memcpy(longer, t2.raw, t2.len);
    longer[t2.len] = 0xc0;
    submit_raw_fail(longer, t2.len + 1, ERR_BAD_ENCODING, "a trailing byte");
    submit_raw_fail(t2.raw, t2.len - 1, ERR_BAD_ENCODING, "a truncated tx");

    /* signatures */
    in_t in1 = {GTX, 1, &bertrand};
    out_t o1[2] = {{COIN, &albert.pkh}, {29 * COIN - 10000, &bertrand.pkh}};
    rtx_t forged = mktx(&in1, 1, o1, 2, 0);
    submit_tx_fail(&forged, ERR_SCRIPT_FAILED, "a forged signature");
    in_t theft = {GTX, 1, &camille};
    rtx_t stolen = mktx(&theft, 1, o1, 2, -1);
    submit_tx_fail(&stolen, ERR_SCRIPT_FAILED, "another owner's key");

    /* coins that are not there */
    hash32_t nowhere;
    memset(nowhere.b, 0xab, 32);
    rtx_t unknown = pay(&nowhere, 0, 30 * COIN, &bertrand, &albert.pkh, COIN, 10000);
    submit_tx_fail(&unknown, ERR_UNKNOWN_UTXO, "an unknown prevout");
    rtx_t beyond = pay(&GTX, 4, 30 * COIN, &bertrand, &albert.pkh, COIN, 10000);
    err_t e = submit_tx_fail(&beyond, ERR_UNKNOWN_UTXO, "an index beyond the outputs");
    cr_assert(strstr(e.message, "beyond") && strstr(e.message, "4"),
              "the message does not say the index is beyond the outputs: %s", e.message);

    /* amounts */
    out_t over[2] = {{COIN, &albert.pkh}, {29 * COIN + 1, &bertrand.pkh}};
    rtx_t greedy = mktx(&in1, 1, over, 2, -1);
    submit_tx_fail(&greedy, ERR_INSUFFICIENT_FUNDS, "outputs over inputs");
    out_t huge = {AMOUNT_MAX_MONEY + 1, &albert.pkh};
    rtx_t big = mktx(&in1, 1, &huge, 1, -1);
    submit_tx_fail(&big, ERR_BAD_AMOUNT, "an amount over max money");
    out_t halves[2] = {{AMOUNT_MAX_MONEY / 2 + 1, &albert.pkh},
                       {AMOUNT_MAX_MONEY / 2 + 1, &albert.pkh}};
    rtx_t sum = mktx(&in1, 1, halves, 2, -1);
    submit_tx_fail(&sum, ERR_BAD_AMOUNT, "outputs summing over max money");

    /* one input twice */
    in_t twice[2] = {{GTX, 2, &camille}, {GTX, 2, &camille}};
    out_t o2 = {15 * COIN, &albert.pkh};
    rtx_t dup = mktx(twice, 2, &o2, 1, -1);
    submit_tx_fail(&dup, ERR_DUPLICATE_INPUT, "an input spent twice");

    /* against the mempool */
    rtx_t ds = pay(&GTX, 0, 40 * COIN, &albert, &camille.pkh, 2 * COIN, 50000);
    submit_tx_fail(&ds, ERR_DOUBLE_SPEND, "a double spend of a mempool tx");
    in_t mixed[2] = {{GTX, 2, &camille}, {GTX, 0, &albert}};
    out_t o3 = {COIN, &camille.pkh};
    rtx_t ds2 = mktx(mixed, 2, &o3, 1, -1);
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
    rtx_t again_lo = pay(&GTX, 0, 40 * COIN, &albert, &stranger.pkh, 3 * COIN, 10000);
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
    rtx_t t1 = pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 4 * COIN, 20000);
    rtx_t t2 = pay(&GTX, 1, 30 * COIN, &bertrand, &camille.pkh, 3 * COIN, 20000);
    submit_tx_ok(&t1);
    submit_tx_ok(&t2);
    rtx_t x_txs[2] = {t1, t2};
    blk_t x1 = mkblock(&G, 1, GT + 60, x_txs, 2, 40000, 1);
    submit_block_ok(&x1, CHAIN_TIP);
    cr_assert_eq(pool_count(), 0);
    /* a spend of t1's confirmed output, and an unrelated one */
    rtx_t t3 = pay(&t1.txid, 0, 4 * COIN, &bertrand, &stranger.pkh, COIN, 300000);
    submit_tx_ok(&t3);
    rtx_t t4 = pay(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 15000);
    submit_tx_ok(&t4);
    cr_assert_eq(pool_count(), 2);

    /* a heavier branch without t1, with another spend of t2's input */
    rtx_t t2b = pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, 7 * COIN, 30000);
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
    cr_assert_not(in_pool(&t3), "t3 spends an output that is no longer confirmed");
    cr_assert_eq(s.mempool_count, 2);
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
    cr_assert_eq(s.mempool_count, 0);
}

/* Coins of a coinbase that a reorganisation removes: a mempool spend of it goes. */
Test(mempool, reorganisation_drops_spends_of_vanished_coinbases)
{
    blk_t a1 = mkblock(&G, 1, GT + 60, NULL, 0, 0, 1);
    submit_block_ok(&a1, CHAIN_TIP);
    blk_t a2 = mkblock(&a1.hash, 2, GT + 120, NULL, 0, 0, 2);
    submit_block_ok(&a2, CHAIN_TIP);
    rtx_t spend = pay(&a1.cb, 0, SUBSIDY, &miner, &albert.pkh, COIN, 10000);
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
    rtx_t probe = pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 5000);
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
    /* c pays more than a: a goes */
    submit_tx_ok(&c);
    cr_assert_eq(pool_count(), 2);
    cr_assert_not(in_pool(&a));
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
    rtx_t e_probe = mktx(two, 2, o, 2, -1);
    cr_assert_gt(e_probe.len, max - L, "the test needs a tx that does not fit beside one other");
    amount_t in_sum = 45 * COIN;
    o[1].amount = in_sum - COIN - 25 * e_probe.len;
    rtx_t e25 = mktx(two, 2, o, 2, -1);
    cr_assert_eq(e25.len, e_probe.len);
    submit_tx_fail(&e25, ERR_MEMPOOL_FULL, "a tx that would evict a higher fee rate");
    cr_assert(in_pool(&b));
    cr_assert(in_pool(&c));
    /* paying more than both: both go */
    o[1].amount = in_sum - COIN - 35 * e_probe.len;
    rtx_t e35 = mktx(two, 2, o, 2, -1);
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

Test(mempool, saved_and_revalidated_across_restarts)
{
    rtx_t t1 = pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 2 * COIN, 10000);
    rtx_t t2 = pay(&GTX, 1, 30 * COIN, &bertrand, &camille.pkh, 3 * COIN, 10000);
    submit_tx_ok(&t1);
    submit_tx_ok(&t2);
    node_status_t s;
    node_status(N, &s);
    size_t bytes = s.mempool_bytes;

    char path[512];
    snprintf(path, sizeof path, "%s/mempool.dat", dir);
    node_close(&N);
    cr_assert_null(N);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0, "no mempool.dat after a clean close");
    cr_assert_geq((size_t)sb.st_size, t1.len + t2.len);
    open_node((size_t)1 << 20);
    node_status(N, &s);
    cr_assert_eq(s.mempool_count, 2);
    cr_assert_eq(s.mempool_bytes, bytes);
    cr_assert(in_pool(&t1));
    cr_assert(in_pool(&t2));

    /* meanwhile (node down), a block spends t1's input another way */
    node_close(&N);
    chain_t *c;
    err_t e;
    cr_assert_eq(chain_open(&c, P, dir, (size_t)1 << 30, 1, NULL, &e), 0, "%s", e.message);
    rtx_t t1b = pay(&GTX, 0, 40 * COIN, &albert, &camille.pkh, 5 * COIN, 10000);
    blk_t b1 = mkblock(&G, 1, GT + 60, &t1b, 1, 10000, 1);
    chain_status_t st;
    hash32_t h;
    cr_assert_eq(chain_submit_block(c, b1.data, b1.len, (uint64_t)time(NULL), &st, &h, &e), 0,
                 "%s", e.message);
    cr_assert_eq(st, CHAIN_TIP);
    chain_close(&c);

    open_node((size_t)1 << 20);
    node_status(N, &s);
    cr_assert_eq(s.height, 1);
    cr_assert_eq(s.mempool_count, 1);
    cr_assert_eq(s.mempool_bytes, t2.len);
    cr_assert_not(in_pool(&t1), "a saved tx whose input was spent came back");
    cr_assert(in_pool(&t2));

    /* a corrupt file: the node still opens */
    node_close(&N);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs("not a mempool", f);
    fclose(f);
    open_node((size_t)1 << 20);
    cr_assert_eq(pool_count(), 0);
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
    rtx_t t = pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, 3 * COIN, 10000);
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
