#include "miner.h"

#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

tb_job_shape_t tb_job_three_txs(void)
{
    tb_job_shape_t s = {.tx_count = 3, .branch_len = 2};
    memset(s.branch[0].b, 0x01, 32);
    memset(s.branch[1].b, 0x02, 32);
    return s;
}

static const char *const JOB_KEYS[] = {"job_id", "height", "previous_block_hash", "bits",
                                       "timestamp", "coinbase_value", "merkle_branch",
                                       "tx_count"};
#define N_JOB_KEYS (sizeof JOB_KEYS / sizeof JOB_KEYS[0])

static void put_value(mp_buf_t *b, const tb_job_shape_t *s, const char *k)
{
    uint8_t prev[32];
    memset(prev, TB_JOB_PREV_BYTE, sizeof prev);
    if (strcmp(k, "job_id") == 0) {
        mp_put_uint(b, TB_JOB_ID);
    } else if (strcmp(k, "height") == 0) {
        mp_put_uint(b, TB_JOB_HEIGHT);
    } else if (strcmp(k, "previous_block_hash") == 0) {
        mp_put_bin(b, prev, 32);
    } else if (strcmp(k, "bits") == 0) {
        mp_put_uint(b, TB_REGTEST_BITS);
    } else if (strcmp(k, "timestamp") == 0) {
        mp_put_uint(b, TB_JOB_TIMESTAMP);
    } else if (strcmp(k, "coinbase_value") == 0) {
        mp_put_uint(b, TB_JOB_VALUE);
    } else if (strcmp(k, "merkle_branch") == 0) {
        mp_put_array(b, s->branch_len);
        for (uint32_t j = 0; j < s->branch_len; j++)
            mp_put_bin(b, s->branch[j].b, 32);
    } else {
        mp_put_uint(b, s->tx_count);
    }
}

static void put_pairs(mp_buf_t *b, const tb_job_shape_t *s, const char *omit, const char *swap,
                      void (*put)(mp_buf_t *))
{
    for (size_t i = 0; i < N_JOB_KEYS; i++) {
        const char *k = JOB_KEYS[i];
        if (omit && strcmp(k, omit) == 0)
            continue;
        mp_put_cstr(b, k);
        if (swap && strcmp(k, swap) == 0)
            put(b);
        else
            put_value(b, s, k);
    }
    cr_assert(mp_buf_ok(b));
}

void tb_job_body(mp_buf_t *b, const tb_job_shape_t *s, const char *omit, const char *swap,
                 void (*put)(mp_buf_t *))
{
    mp_put_map(b, omit ? N_JOB_KEYS - 1 : N_JOB_KEYS);
    put_pairs(b, s, omit, swap, put);
}

void tb_job_pairs(mp_buf_t *b, const tb_job_shape_t *s) { put_pairs(b, s, NULL, NULL, NULL); }

job_work_t tb_fake_work(uint64_t id, uint32_t bits)
{
    job_work_t w;
    memset(&w, 0, sizeof w);
    w.job_id = id;
    w.bits = bits;
    w.timestamp = TB_JOB_TIMESTAMP + id;
    block_header_t h = {.version = 1, .timestamp = w.timestamp, .bits = bits};
    memset(h.merkle_root.b, (int)id, 32);
    block_header_encode(w.header, &h);
    return w;
}

uint64_t tb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

void tb_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

void tb_pool_caught_up(worker_pool_t *pool, uint64_t gen)
{
    uint64_t t0 = tb_now_ns();
    while (worker_pool_min_generation(pool) < gen) {
        cr_assert_lt(tb_now_ns() - t0, 10000000000ull, "threads stuck below generation %llu",
                     (unsigned long long)gen);
        tb_sleep_ms(1);
    }
}

worker_pool_t *tb_pool_new(unsigned threads)
{
    worker_pool_t *pool;
    worker_config_t cfg = {threads, sha256d_best(), true};
    err_t e;
    cr_assert_eq(worker_pool_new(&pool, &cfg, &e), 0, "%s", e.message);
    return pool;
}

unsigned tb_pool_test_threads(void)
{
    unsigned n = worker_cpu_count();
    return n < 2 ? 2 : n > 8 ? 8 : n;
}
