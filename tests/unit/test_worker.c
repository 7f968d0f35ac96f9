/* minerd's worker.h: the search of a nonce range, the CPU helpers and the
 * pool — job switches, found blocks, idling, the wake-up descriptor. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "miner.h"
#include "worker.h"

/* --- the worker pool ------------------------------------------------------------- */

Test(worker, threads_switch_jobs_fast)
{
    unsigned n = tb_pool_test_threads();
    worker_pool_t *pool = tb_pool_new(n);
    job_work_t w = tb_fake_work(1, TB_HARDEST_BITS);
    tb_pool_caught_up(pool, worker_pool_set_work(pool, &w));
    double worst = 0;
    for (uint64_t i = 2; i < 22; i++) {
        tb_sleep_ms(10); /* deep into the old work */
        w = tb_fake_work(i, TB_HARDEST_BITS);
        uint64_t t0 = tb_now_ns(), gen = worker_pool_set_work(pool, &w), last = 0;
        tb_pool_caught_up(pool, gen);
        for (unsigned t = 0; t < n; t++)
            if (worker_pool_pickup_ns(pool, t) > last)
                last = worker_pool_pickup_ns(pool, t);
        double ms = (double)(last - t0) / 1e6;
        worst = ms > worst ? ms : worst;
        /* how fast is measured by `minerd --benchmark`, not here: a unit test
         * on a loaded machine can only check that every thread switched */
    }
    cr_log_info("%u threads: slowest job switch %.2f ms", n, worst);
    /* every thread hashed */
    for (unsigned t = 0; t < n; t++)
        cr_assert_gt(worker_pool_hashes(pool, t), 0, "thread %u never hashed", t);
    worker_pool_destroy(&pool);
    cr_assert_null(pool);
}

Test(worker, idle_pool_stops_hashing)
{
    worker_pool_t *pool = tb_pool_new(2);
    job_work_t w = tb_fake_work(1, TB_HARDEST_BITS);
    tb_pool_caught_up(pool, worker_pool_set_work(pool, &w));
    cr_assert(worker_pool_busy(pool));
    tb_pool_caught_up(pool, worker_pool_set_work(pool, NULL));
    cr_assert_not(worker_pool_busy(pool));
    uint64_t before = worker_pool_hashes(pool, 0) + worker_pool_hashes(pool, 1);
    tb_sleep_ms(50);
    cr_assert_eq(worker_pool_hashes(pool, 0) + worker_pool_hashes(pool, 1), before,
                 "an idle pool hashed");
    worker_pool_destroy(&pool);
}

Test(worker, found_block_ends_the_work)
{
    unsigned n = tb_pool_test_threads();
    worker_pool_t *pool = tb_pool_new(n);
    job_work_t stale = tb_fake_work(1, TB_HARDEST_BITS);
    tb_pool_caught_up(pool, worker_pool_set_work(pool, &stale));
    job_work_t easy = tb_fake_work(2, TB_REGTEST_BITS);
    uint64_t gen = worker_pool_set_work(pool, &easy);
    struct pollfd pfd = {worker_pool_fd(pool), POLLIN, 0};
    cr_assert_eq(poll(&pfd, 1, 2000), 1, "no block found with the easiest target");
    worker_solution_t s;
    unsigned taken = 0;
    while (worker_pool_take(pool, &s)) {
        taken++;
        cr_assert_eq(s.generation, gen, "a block from stale work");
        cr_assert_eq(s.work.job_id, 2);
        cr_assert(block_hash_meets(&s.hash, TB_REGTEST_BITS));
        block_header_t h;
        hash32_t want;
        block_header_decode(&h, easy.header);
        h.nonce = s.nonce;
        block_header_hash(&want, &h);
        cr_assert(hash32_eq(&want, &s.hash));
        /* thread i starts at nonce i << 32: the ranges are disjoint */
        cr_assert_lt(s.nonce >> 32, n);
        cr_assert_lt((uint32_t)s.nonce, 1000, "half of all nonces meet this target");
    }
    cr_assert_geq(taken, 1);
    cr_assert_not(worker_pool_busy(pool), "the pool grinds on after its block");
    cr_assert_eq(poll(&pfd, 1, 0), 0, "the wake-up stays readable with an empty queue");
    tb_pool_caught_up(pool, gen + 1);
    /* new work starts it again */
    job_work_t next = tb_fake_work(3, TB_HARDEST_BITS);
    tb_pool_caught_up(pool, worker_pool_set_work(pool, &next));
    cr_assert(worker_pool_busy(pool));
    worker_pool_destroy(&pool);
}

/* --- the search and the CPU helpers ---------------------------------------------- */

/* The first nonce of start .. start+count-1 meeting work's bits, by hashing
 * each header in full: the independent answer worker_search() must give. */
static bool brute_first(const job_work_t *work, uint64_t start, uint64_t count, uint64_t *nonce)
{
    block_header_t h;
    block_header_decode(&h, work->header);
    for (uint64_t i = 0; i < count; i++) {
        hash32_t hash;
        h.nonce = start + i;
        block_header_hash(&hash, &h);
        if (block_hash_meets(&hash, work->bits)) {
            *nonce = start + i;
            return true;
        }
    }
    return false;
}

/* Ranges at the bottom, in the middle (across a 2^32 boundary) and at the
 * very top of the nonce space (no wrap past 2^64 - 1), of one nonce and of
 * many, for every kernel this CPU runs. */
Test(worker, search_finds_the_first_nonce_of_its_range)
{
    static const struct {
        uint64_t start, count;
    } ranges[] = {
        {0, 1}, {0, 64}, {5, 3}, {((uint64_t)1 << 32) - 10, 20}, {(uint64_t)7 << 40, 200},
        {UINT64_MAX, 1}, {UINT64_MAX - 63, 64}, {UINT64_MAX - 4095, 4096},
    };
    size_t n_kernels;
    const sha256d_kernel_t *ks = sha256d_kernels(&n_kernels);
    unsigned runs = 0;
    for (size_t k = 0; k < n_kernels; k++) {
        if (!ks[k].supported())
            continue;
        for (uint64_t job = 1; job <= 4; job++) {
            job_work_t work = tb_fake_work(job, TB_REGTEST_BITS);
            for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
                sha256d_work_t sw;
                sha256d_work_init(&sw, work.header, sha256d_target_word(work.bits));
                uint64_t got = 0, want = 0;
                hash32_t hash;
                bool found = worker_search(&ks[k], &sw, &work, ranges[r].start, ranges[r].count,
                                           &got, &hash);
                bool exists = brute_first(&work, ranges[r].start, ranges[r].count, &want);
                cr_assert_eq(found, exists, "%s, job %llu, range %zu: found %d", ks[k].name,
                             (unsigned long long)job, r, found);
                if (found) {
                    cr_assert_eq(got, want, "%s, job %llu, range %zu: not the first nonce",
                                 ks[k].name, (unsigned long long)job, r);
                    block_header_t h;
                    hash32_t check;
                    block_header_decode(&h, work.header);
                    h.nonce = got;
                    block_header_hash(&check, &h);
                    cr_assert(hash32_eq(&check, &hash), "the hash is not the block's");
                }
                runs++;
            }
        }
    }
    cr_assert_gt(runs, 0, "no kernel runs on this CPU");
}

Test(worker, search_of_an_impossible_target_finds_nothing)
{
    job_work_t work = tb_fake_work(1, TB_HARDEST_BITS);
    sha256d_work_t sw;
    sha256d_work_init(&sw, work.header, sha256d_target_word(work.bits));
    uint64_t nonce;
    hash32_t hash;
    cr_assert_not(worker_search(sha256d_best(), &sw, &work, 0, 1 << 16, &nonce, &hash));
    cr_assert_not(worker_search(sha256d_best(), &sw, &work, UINT64_MAX - 999, 1000, &nonce,
                                &hash));
}

Test(worker, cpus_are_counted_and_taken_in_turn)
{
    unsigned n = worker_cpu_count();
    cr_assert_geq(n, 1);
    int first = worker_cpu_nth(0);
    cr_assert_geq(first, 0, "the affinity mask could not be read");
    for (unsigned i = 0; i < 2 * n + 1; i++) {
        cr_assert_geq(worker_cpu_nth(i), 0);
        cr_assert_eq(worker_cpu_nth(i), worker_cpu_nth(i % n), "cpu %u is not modulo %u", i, n);
    }
    for (unsigned i = 1; i < n; i++)
        cr_assert_gt(worker_cpu_nth(i), worker_cpu_nth(i - 1), "the CPUs in mask order");
}

Test(worker, a_new_pool_is_idle_with_nothing_found)
{
    worker_pool_t *pool = tb_pool_new(3);
    cr_assert_eq(worker_pool_threads(pool), 3);
    cr_assert_not(worker_pool_busy(pool));
    worker_solution_t s;
    cr_assert_not(worker_pool_take(pool, &s));
    struct pollfd pfd = {worker_pool_fd(pool), POLLIN, 0};
    cr_assert_eq(poll(&pfd, 1, 0), 0, "the wake-up is readable with nothing found");
    for (unsigned i = 0; i < 3; i++)
        cr_assert_eq(worker_pool_hashes(pool, i), 0);
    worker_pool_destroy(&pool);
    cr_assert_null(pool);
    worker_pool_destroy(&pool); /* NULL: nothing to do */
}

Test(worker, hashing_threads_use_cpu_time)
{
    worker_pool_t *pool = tb_pool_new(2);
    job_work_t w = tb_fake_work(1, TB_HARDEST_BITS);
    tb_pool_caught_up(pool, worker_pool_set_work(pool, &w));
    /* until each thread has hashed a few chunks: a liveness bound, not a rate */
    uint64_t t0 = tb_now_ns();
    while (worker_pool_hashes(pool, 0) < 4 * WORKER_CHUNK ||
           worker_pool_hashes(pool, 1) < 4 * WORKER_CHUNK) {
        cr_assert_lt(tb_now_ns() - t0, 10000000000ull, "the threads do not hash");
        tb_sleep_ms(1);
    }
    for (unsigned i = 0; i < 2; i++)
        cr_assert_gt(worker_pool_cpu_seconds(pool, i), 0, "thread %u used no CPU time", i);
    worker_pool_destroy(&pool);
}
