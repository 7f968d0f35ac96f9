/* miner: what minerd's tests share (test_job, test_worker, test_client,
 * test_miner_metrics) — job bodies written as chaind writes them, and worker
 * pools with work no thread will finish or work any nonce solves. Every
 * helper aborts the test (criterion assert) on failure. */
#ifndef CHAIN_TEST_MINER_H
#define CHAIN_TEST_MINER_H

#include <stdint.h>

#include "job.h"
#include "merkle.h"
#include "mp.h"
#include "worker.h"

#define TB_REGTEST_BITS 0x207fffffu /* regtest's limit: about half of all nonces meet it */
#define TB_HARDEST_BITS 0x03000001u /* target 1: no nonce will do */

/* The values tb_job_body() writes besides the shape's. */
#define TB_JOB_ID 7
#define TB_JOB_HEIGHT 5
#define TB_JOB_TIMESTAMP 1700000000u
#define TB_JOB_VALUE 625001000u
#define TB_JOB_PREV_BYTE 0xab /* every byte of previous_block_hash */

/* A job's transaction count and the merkle branch sent with it. */
typedef struct {
    uint64_t tx_count;
    hash32_t branch[MERKLE_MAX_BRANCH];
    uint32_t branch_len;
} tb_job_shape_t;

/* Three transactions besides the coinbase: a branch of two (0x01…, 0x02…). */
tb_job_shape_t tb_job_three_txs(void);

/* Appends a job body map as chaind writes it (node.c put_job_pairs): its
 * fields in chaind's order with the TB_JOB_* values and regtest's bits, but
 * without field `omit` (NULL: none), and field `swap`'s value written by
 * put (NULL: none). */
void tb_job_body(mp_buf_t *b, const tb_job_shape_t *s, const char *omit, const char *swap,
                 void (*put)(mp_buf_t *));
/* Appends tb_job_body()'s pairs alone (no map header: 8 of them), for a
 * reply or an event that puts its own fields first. */
void tb_job_pairs(mp_buf_t *b, const tb_job_shape_t *s);

/* Work for nothing real: job id, bits, a header whose merkle root is id's
 * byte. */
job_work_t tb_fake_work(uint64_t id, uint32_t bits);

/* A pool of threads on the best kernel, pinned. */
worker_pool_t *tb_pool_new(unsigned threads);
/* Waits until every thread of pool reached gen; 10 s is a liveness bound (a
 * stuck thread), far above any switch on the most loaded machine. */
void tb_pool_caught_up(worker_pool_t *pool, uint64_t gen);
/* Threads for a pool test: the usable CPUs, within 2 .. 8. */
unsigned tb_pool_test_threads(void);

uint64_t tb_now_ns(void);
void tb_sleep_ms(unsigned ms);

#endif
