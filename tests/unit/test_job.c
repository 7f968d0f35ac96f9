/* minerd's job.h: strict job decoding (every malformed field rejected,
 * garbage survived), and the coinbase, merkle root and header built for a job
 * against an independent construction and against chaind's own
 * node_submit_work() in process. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "builder.h"
#include "job.h"
#include "log.h"
#include "merkle.h"
#include "miner.h"
#include "node.h"
#include "proto.h"
#include "script.h"
#include "worker.h"

static const chain_params_t *regtest(void) { return params_by_name("regtest"); }

/* --- decoding ------------------------------------------------------------------ */

static int decode(job_t *job, const mp_buf_t *b, err_t *e)
{
    proto_body_t body = {b->data, b->len};
    return job_decode(job, &body, regtest(), e);
}

/* Expects the body with field `swap` written by put (or omitted) to fail,
 * naming the field. */
static void rejects(const char *omit, const char *swap, void (*put)(mp_buf_t *))
{
    tb_job_shape_t s = tb_job_three_txs();
    mp_buf_t b;
    job_t job;
    err_t e;
    mp_buf_init(&b, 1 << 20);
    tb_job_body(&b, &s, omit, swap, put);
    int rc = decode(&job, &b, &e);
    const char *field = omit ? omit : swap;
    cr_assert_lt(rc, 0, "a job with a bad \"%s\" was accepted", field);
    cr_assert_eq(e.code, ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(e.message, field), "\"%s\" not named in: %s", field, e.message);
    mp_buf_free(&b);
}

static void put_str(mp_buf_t *b) { mp_put_cstr(b, "7"); }
static void put_nil(mp_buf_t *b) { mp_put_nil(b); }
static void put_uint(mp_buf_t *b) { mp_put_uint(b, 7); }
static void put_bin8(mp_buf_t *b) { mp_put_bin(b, "\x07\0\0\0\0\0\0\0", 8); }
static void put_bin31(mp_buf_t *b) { mp_put_bin(b, (uint8_t[31]){0}, 31); }
static void put_bin33(mp_buf_t *b) { mp_put_bin(b, (uint8_t[33]){0}, 33); }
static void put_str32(mp_buf_t *b) { mp_put_str(b, "0123456789abcdef0123456789abcdef", 32); }
static void put_map(mp_buf_t *b) { mp_put_map(b, 0); }
static void put_bits_wide(mp_buf_t *b) { mp_put_uint(b, (uint64_t)1 << 32 | TB_REGTEST_BITS); }
static void put_bits_easy(mp_buf_t *b) { mp_put_uint(b, 0x2100ffffu); } /* above regtest's limit */
static void put_bits_negative(mp_buf_t *b) { mp_put_uint(b, 0x04800001u); }
static void put_bits_zero(mp_buf_t *b) { mp_put_uint(b, 0); }
static void put_too_rich(mp_buf_t *b) { mp_put_uint(b, AMOUNT_MAX_MONEY + 1); }
static void put_huge_count(mp_buf_t *b) { mp_put_uint(b, (uint64_t)1 << 40); }

static void put_branch(mp_buf_t *b, uint32_t n, size_t bad_at, void (*bad)(mp_buf_t *))
{
    mp_put_array(b, n);
    for (uint32_t i = 0; i < n; i++) {
        if (bad && i == bad_at)
            bad(b);
        else
            mp_put_bin(b, (uint8_t[32]){(uint8_t)i}, 32);
    }
}
static void put_branch_31(mp_buf_t *b) { put_branch(b, 2, 1, put_bin31); }
static void put_branch_33(mp_buf_t *b) { put_branch(b, 2, 0, put_bin33); }
static void put_branch_str(mp_buf_t *b) { put_branch(b, 2, 1, put_str32); }
static void put_branch_uint(mp_buf_t *b) { put_branch(b, 2, 0, put_uint); }
static void put_branch_long(mp_buf_t *b) { put_branch(b, 3, 0, NULL); }
static void put_branch_short(mp_buf_t *b) { put_branch(b, 1, 0, NULL); }
static void put_branch_max(mp_buf_t *b) { put_branch(b, MERKLE_MAX_BRANCH + 1, 0, NULL); }
static void put_branch_1000(mp_buf_t *b) { put_branch(b, 1000, 0, NULL); }

Test(job, decodes_a_job)
{
    tb_job_shape_t s = tb_job_three_txs();
    mp_buf_t b;
    job_t job;
    err_t e;
    mp_buf_init(&b, 1 << 20);
    tb_job_body(&b, &s, NULL, NULL, NULL);
    cr_assert_eq(decode(&job, &b, &e), 0, "%s", e.message);
    cr_assert_eq(job.job_id, TB_JOB_ID);
    cr_assert_eq(job.height, TB_JOB_HEIGHT);
    cr_assert_eq(job.bits, TB_REGTEST_BITS);
    cr_assert_eq(job.timestamp, TB_JOB_TIMESTAMP);
    cr_assert_eq(job.coinbase_value, TB_JOB_VALUE);
    cr_assert_eq(job.tx_count, 3);
    cr_assert_eq(job.branch_len, 2);
    cr_assert(hash32_eq(&job.merkle_branch[1], &s.branch[1]));
    for (int i = 0; i < 32; i++)
        cr_assert_eq(job.previous_block_hash.b[i], TB_JOB_PREV_BYTE);
    mp_buf_free(&b);
}

Test(job, branch_length_follows_tx_count)
{
    /* as chaind computes branches: merkle_branch_first over n + 1 leaves */
    for (uint64_t n = 0; n <= 70; n++) {
        hash32_t leaves[71];
        memset(leaves, 0, sizeof leaves);
        for (uint64_t i = 0; i <= n; i++)
            leaves[i].b[0] = (uint8_t)i, leaves[i].b[1] = 1;
        tb_job_shape_t s = {.tx_count = n};
        int len = merkle_branch_first(s.branch, leaves, n + 1);
        cr_assert_geq(len, 0);
        s.branch_len = (uint32_t)len;
        mp_buf_t b;
        job_t job;
        err_t e;
        mp_buf_init(&b, 1 << 20);
        tb_job_body(&b, &s, NULL, NULL, NULL);
        cr_assert_eq(decode(&job, &b, &e), 0, "%llu transactions: %s", (unsigned long long)n,
                     e.message);
        mp_buf_free(&b);
    }
}

Test(job, rejects_missing_fields)
{
    const char *keys[] = {"job_id", "height", "previous_block_hash", "bits", "timestamp",
                          "coinbase_value", "merkle_branch", "tx_count"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        rejects(keys[i], NULL, NULL);
}

Test(job, rejects_wrong_types)
{
    const char *uints[] = {"job_id", "height", "bits", "timestamp", "coinbase_value", "tx_count"};
    for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++) {
        rejects(NULL, uints[i], put_str);
        rejects(NULL, uints[i], put_nil);
        rejects(NULL, uints[i], put_bin8);
        rejects(NULL, uints[i], put_map);
    }
    rejects(NULL, "previous_block_hash", put_uint);
    rejects(NULL, "previous_block_hash", put_str32);
    rejects(NULL, "previous_block_hash", put_bin31);
    rejects(NULL, "previous_block_hash", put_bin33);
    rejects(NULL, "merkle_branch", put_uint);
    rejects(NULL, "merkle_branch", put_map);
    rejects(NULL, "merkle_branch", put_bin31);
}

Test(job, rejects_bad_values)
{
    rejects(NULL, "bits", put_bits_wide);
    rejects(NULL, "bits", put_bits_easy);
    rejects(NULL, "bits", put_bits_negative);
    rejects(NULL, "bits", put_bits_zero);
    rejects(NULL, "coinbase_value", put_too_rich);
    rejects(NULL, "tx_count", put_huge_count);
}

/* The bounds themselves: max money and the most transactions a block can
 * hold are taken, one more is not. */
Test(job, bounds_are_inclusive)
{
    static const struct {
        uint64_t tx_count, value;
        bool ok;
    } cases[] = {
        {BLOCK_MAX_SIZE - 1, TB_JOB_VALUE, true},
        {BLOCK_MAX_SIZE, TB_JOB_VALUE, false},
        {3, AMOUNT_MAX_MONEY, true},
        {3, AMOUNT_MAX_MONEY + 1, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_job_shape_t s = {.tx_count = cases[i].tx_count};
        s.branch_len = 0; /* the tree of tx_count + 1 leaves is this high */
        while (((uint64_t)1 << s.branch_len) < cases[i].tx_count + 1)
            s.branch_len++;
        mp_buf_t b;
        job_t job;
        err_t e;
        mp_buf_init(&b, 1 << 20);
        mp_put_map(&b, 8);
        /* tb_job_pairs() with coinbase_value rewritten: the pairs after it */
        mp_buf_t pairs;
        mp_buf_init(&pairs, 1 << 20);
        tb_job_body(&pairs, &s, "coinbase_value", NULL, NULL);
        mp_put_raw(&b, pairs.data + 1, pairs.len - 1);
        mp_put_cstr(&b, "coinbase_value");
        mp_put_uint(&b, cases[i].value);
        int rc = decode(&job, &b, &e);
        if (cases[i].ok) {
            cr_assert_eq(rc, 0, "case %zu: %s", i, e.message);
            cr_assert_eq(job.tx_count, cases[i].tx_count);
            cr_assert_eq(job.coinbase_value, cases[i].value);
        } else {
            cr_assert_eq(rc, -(int)ERR_BAD_REQUEST, "case %zu accepted", i);
        }
        mp_buf_free(&b);
        mp_buf_free(&pairs);
    }
}

Test(job, rejects_bad_branches)
{
    rejects(NULL, "merkle_branch", put_branch_31);  /* an entry of 31 bytes */
    rejects(NULL, "merkle_branch", put_branch_33);
    rejects(NULL, "merkle_branch", put_branch_str);
    rejects(NULL, "merkle_branch", put_branch_uint);
    rejects(NULL, "merkle_branch", put_branch_long); /* more entries than the tree is high */
    rejects(NULL, "merkle_branch", put_branch_short);
    rejects(NULL, "merkle_branch", put_branch_max);
    rejects(NULL, "merkle_branch", put_branch_1000);
}

/* Random damage to a valid job event: whatever survives the envelope checks
 * goes to job_decode, which must answer, not crash (ASan in the sanitizer
 * build). */
Test(job, survives_garbage)
{
    tb_job_shape_t s = tb_job_three_txs();
    mp_buf_t good;
    mp_buf_init(&good, 1 << 20);
    mp_put_map(&good, 9);
    mp_put_cstr(&good, "seq");
    mp_put_uint(&good, 3);
    mp_buf_t body;
    mp_buf_init(&body, 1 << 20);
    tb_job_body(&body, &s, NULL, NULL, NULL);
    mp_put_raw(&good, body.data + 1, body.len - 1); /* the pairs, under a 9-pair map */
    uint64_t x = 88172645463325252u;
    unsigned decoded = 0, accepted = 0;
    for (int t = 0; t < 20000; t++) {
        uint8_t copy[1024];
        size_t len = good.len;
        cr_assert_leq(len, sizeof copy);
        memcpy(copy, good.data, len);
        for (int f = 0; f < 1 + t % 4; f++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            copy[(x >> 8) % len] = (uint8_t)x;
        }
        if (t % 5 == 0)
            len = (x >> 20) % len; /* truncated */
        proto_event_t ev;
        job_t job;
        err_t e;
        if (proto_decode_event(&ev, "job", 3, copy, len, &e) < 0)
            continue;
        decoded++;
        if (job_decode(&job, &ev.body, regtest(), &e) == 0)
            accepted++;
    }
    cr_log_info("garbage: %u envelopes decoded, %u jobs accepted", decoded, accepted);
    cr_assert_gt(decoded, 0);
    mp_buf_free(&good);
    mp_buf_free(&body);
}

/* --- coinbase, merkle root and header ------------------------------------------ */

Test(job, work_equals_an_independent_construction)
{
    for (uint64_t n_txs = 0; n_txs < 9; n_txs++) {
        hash32_t leaves[10];
        memset(leaves, 0, sizeof leaves);
        for (uint64_t i = 1; i <= n_txs; i++)
            hash_sha256d(&leaves[i], &i, sizeof i);
        tb_job_shape_t s = {.tx_count = n_txs};
        s.branch_len = (uint32_t)merkle_branch_first(s.branch, leaves, n_txs + 1);
        mp_buf_t b;
        job_t job;
        err_t e;
        mp_buf_init(&b, 1 << 20);
        tb_job_body(&b, &s, NULL, NULL, NULL);
        cr_assert_eq(decode(&job, &b, &e), 0, "%s", e.message);
        mp_buf_free(&b);

        tb_wallet_t payee;
        tb_wallet(&payee, (uint8_t)(40 + n_txs));
        uint8_t random[JOB_EXTRANONCE_RANDOM] = {9, 8, 7, 6, 5, 4, 3, 2};
        uint8_t extranonce[JOB_EXTRANONCE_LEN];
        job_extranonce(extranonce, random, (uint32_t)(1000 + n_txs));
        job_work_t work;
        cr_assert_eq(job_make_work(&work, &job, &payee.pkh, extranonce), 0);

        /* independently, as node_submit_work() assembles it */
        uint8_t script[TX_COINBASE_SCRIPT_MAX], lock[SCRIPT_P2PKH_LOCK_LEN];
        int script_len = tx_coinbase_script(script, TB_JOB_HEIGHT, extranonce, sizeof extranonce);
        cr_assert_gt(script_len, 0);
        script_p2pkh_lock(lock, &payee.pkh);
        tx_input_t in = {.index = TX_COINBASE_INDEX, .script = script,
                         .script_len = (size_t)script_len};
        tx_output_t out = {TB_JOB_VALUE, lock, sizeof lock};
        tx_t coinbase = {.version = TX_VERSION, .n_inputs = 1, .inputs = &in, .n_outputs = 1,
                         .outputs = &out};
        cr_assert_eq(tx_txid(&coinbase, &leaves[0]), 0);
        cr_assert(hash32_eq(&work.coinbase_txid, &leaves[0]), "%llu txs: coinbase txid",
                  (unsigned long long)n_txs);
        block_header_t h = {.version = BLOCK_VERSION, .bits = TB_REGTEST_BITS,
                            .timestamp = TB_JOB_TIMESTAMP};
        memset(h.previous_block_hash.b, TB_JOB_PREV_BYTE, 32);
        cr_assert_eq(merkle_root(&h.merkle_root, NULL, leaves, n_txs + 1), 0);
        uint8_t want[BLOCK_HEADER_LEN];
        block_header_encode(want, &h);
        cr_assert_arr_eq(work.header, want, BLOCK_HEADER_LEN, "%llu txs: header",
                         (unsigned long long)n_txs);
        cr_assert_arr_eq(work.extranonce, extranonce, JOB_EXTRANONCE_LEN);
        cr_assert_eq(work.job_id, TB_JOB_ID);
        cr_assert_eq(work.height, TB_JOB_HEIGHT);

        /* and job_coinbase() encodes to the same bytes */
        uint8_t script2[TX_COINBASE_SCRIPT_MAX], lock2[SCRIPT_P2PKH_LOCK_LEN];
        tx_input_t in2;
        tx_output_t out2;
        tx_t coinbase2;
        job_coinbase(&coinbase2, &in2, &out2, script2, lock2, &job, &payee.pkh, extranonce,
                     sizeof extranonce);
        mp_buf_t e1, e2;
        mp_buf_init(&e1, 4096);
        mp_buf_init(&e2, 4096);
        cr_assert_eq(tx_encode(&coinbase, &e1, false), 0);
        cr_assert_eq(tx_encode(&coinbase2, &e2, false), 0);
        cr_assert_eq(e1.len, e2.len);
        cr_assert_arr_eq(e1.data, e2.data, e1.len);
        mp_buf_free(&e1);
        mp_buf_free(&e2);
    }
}

Test(job, extranonces_keep_miners_apart)
{
    uint8_t a[JOB_EXTRANONCE_RANDOM] = {1, 2, 3, 4, 5, 6, 7, 8}, b[JOB_EXTRANONCE_RANDOM];
    memcpy(b, a, sizeof b);
    b[7] ^= 1;
    uint8_t x[JOB_EXTRANONCE_LEN], y[JOB_EXTRANONCE_LEN];
    job_extranonce(x, a, 0x01020304);
    cr_assert_arr_eq(x, a, JOB_EXTRANONCE_RANDOM, "the random bytes come first");
    cr_assert_eq(x[8], 0x04);
    cr_assert_eq(x[11], 0x01, "then the counter, little-endian");
    job_extranonce(y, a, 0x01020305);
    cr_assert(memcmp(x, y, sizeof x) != 0, "the counter moves the extranonce");
    job_extranonce(y, b, 0x01020304);
    cr_assert(memcmp(x, y, sizeof x) != 0, "another process, another extranonce");
    cr_assert_leq(JOB_EXTRANONCE_LEN, TX_EXTRANONCE_MAX);
    cr_assert_leq(JOB_EXTRANONCE_LEN, 64, "submit_work's schema bound");
}

Test(job, demo_payout_is_the_miner_key)
{
    tb_wallet_t miner;
    hash20_t pkh;
    err_t e;
    tb_demo_wallet(&miner, "miner");
    cr_assert_eq(address_decode(&pkh, params_by_name("demo")->address_version,
                                JOB_DEMO_PAYOUT, &e), 0, "%s", e.message);
    cr_assert_arr_eq(pkh.b, miner.pkh.b, 20);
}

/* The whole path against chaind's node in process: a job from node_job_body,
 * our work, a nonce from worker_search, accepted by node_submit_work with the
 * very hash we computed. */
Test(job, chaind_accepts_the_block_of_our_work)
{
    char dir[256];
    node_t *node;
    err_t e;
    log_init("test", LOG_ERROR);
    tb_tmpdir(dir);
    node_config_t cfg = {.params = regtest(), .datadir = dir, .map_size = (size_t)1 << 30,
                         .verify_threads = 2, .mempool_max_bytes = 1 << 24,
                         .min_fee_rate = 10, .sigcache_entries = 1000};
    cr_assert_eq(node_open(&node, &cfg, &e), 0, "%s", e.message);

    /* a transaction for the block: albert's genesis coins to a stranger */
    tb_wallet_t albert, stranger, payee;
    tb_demo_wallet(&albert, "albert");
    tb_wallet(&stranger, 3);
    tb_wallet(&payee, 4);
    hash32_t genesis, gtx, txid, got;
    tb_genesis(regtest(), &genesis, &gtx);
    mp_buf_t tx;
    mp_buf_init(&tx, 1 << 20);
    tb_tx(&tx, &txid, &gtx, 0, 40 * AMOUNT_COIN, &albert, &stranger.pkh, AMOUNT_COIN, 5000);
    uint64_t ticket;
    cr_assert_eq(node_submit_tx(node, tx.data, tx.len, "test", 0, &got, &ticket, &e), 0, "%s",
                 e.message);

    mp_buf_t body;
    mp_buf_init(&body, 1 << 20);
    mp_put_map(&body, NODE_JOB_FIELDS);
    cr_assert_eq(node_job_body(node, &body), 0);
    proto_body_t pb = {body.data, body.len};
    job_t job;
    cr_assert_eq(job_decode(&job, &pb, regtest(), &e), 0, "%s", e.message);
    cr_assert_eq(job.tx_count, 1);
    cr_assert_eq(job.height, 1);
    cr_assert_eq(job.coinbase_value, params_subsidy(regtest(), 1) + 5000);

    uint8_t random[JOB_EXTRANONCE_RANDOM] = {0}, extranonce[JOB_EXTRANONCE_LEN];
    job_extranonce(extranonce, random, 1);
    job_work_t work;
    cr_assert_eq(job_make_work(&work, &job, &payee.pkh, extranonce), 0);
    sha256d_work_t sw;
    sha256d_work_init(&sw, work.header, sha256d_target_word(work.bits));
    uint64_t nonce;
    hash32_t hash;
    cr_assert(worker_search(sha256d_best(), &sw, &work, 0, 1 << 20, &nonce, &hash));
    cr_assert_eq(node_submit_work(node, job.job_id, extranonce, sizeof extranonce, &payee.pkh,
                                  work.timestamp, nonce, &got, &e), 0, "%s", e.message);
    cr_assert(hash32_eq(&got, &hash), "chaind hashed another header than the miner");
    node_status_t st;
    node_status(node, &st);
    cr_assert_eq(st.height, 1);
    cr_assert(hash32_eq(&st.hash, &hash));
    cr_assert_eq(st.mempool_count, 0, "the transaction went into the block");

    node_close(&node);
    mp_buf_free(&tx);
    mp_buf_free(&body);
    tb_rmdir(dir);
}
