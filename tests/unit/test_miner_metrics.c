/* minerd/miner_metrics.h: the counters, the per-thread series of a real
 * pool and the job-switch histogram, read back from the rendered text
 * (criterion runs each test in a process of its own, so each starts from
 * zero). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miner.h"
#include "miner_metrics.h"

/* The value of the sample whose name and labels are exactly series; -1
 * when there is no such line. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        const char *end = strchr(line, '\n');
        if (!end)
            break;
        line = end + 1;
    }
    return -1;
}

static char *render(worker_pool_t *pool)
{
    char *text;
    size_t len;
    err_t e;
    cr_assert_eq(mmetrics_render(pool, &text, &len, &e), 0, "%s", e.message);
    cr_assert_eq(strlen(text), len);
    return text;
}

Test(miner_metrics, counts_each_event)
{
    static const struct {
        mmetrics_event_t ev;
        const char *name;
        int times;
    } cases[] = {
        {MMETRICS_JOB, "miner_jobs_received_total", 3},
        {MMETRICS_FOUND, "miner_blocks_found_total", 1},
        {MMETRICS_ACCEPTED, "miner_blocks_accepted_total", 2},
        {MMETRICS_REJECTED, "miner_blocks_rejected_total", 0},
    };
    worker_pool_t *pool = tb_pool_new(1);
    char *text = render(pool);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(sample(text, cases[i].name), 0, "%s before any event", cases[i].name);
        char type[128];
        snprintf(type, sizeof type, "# TYPE %s counter\n", cases[i].name);
        cr_assert_not_null(strstr(text, type), "%s", type);
    }
    free(text);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int t = 0; t < cases[i].times; t++)
            mmetrics_count(cases[i].ev);
    text = render(pool);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(sample(text, cases[i].name), cases[i].times, "%s", cases[i].name);
    free(text);
    worker_pool_destroy(&pool);
}

Test(miner_metrics, a_series_per_thread)
{
    worker_pool_t *pool = tb_pool_new(3);
    job_work_t w = tb_fake_work(1, TB_HARDEST_BITS);
    tb_pool_caught_up(pool, worker_pool_set_work(pool, &w));
    uint64_t t0 = tb_now_ns();
    for (unsigned i = 0; i < 3; i++)
        while (worker_pool_hashes(pool, i) == 0) { /* a liveness bound, not a rate */
            cr_assert_lt(tb_now_ns() - t0, 10000000000ull, "thread %u never hashed", i);
            tb_sleep_ms(1);
        }
    tb_pool_caught_up(pool, worker_pool_set_work(pool, NULL));
    char *text = render(pool);
    for (unsigned i = 0; i < 3; i++) {
        char series[64];
        snprintf(series, sizeof series, "miner_hashes_total{thread=\"%u\"}", i);
        cr_assert_eq(sample(text, series), (double)worker_pool_hashes(pool, i), "%s", series);
        snprintf(series, sizeof series, "miner_thread_hashrate{thread=\"%u\"}", i);
        cr_assert_gt(sample(text, series), 0, "%s", series);
    }
    cr_assert_eq(sample(text, "miner_hashes_total{thread=\"3\"}"), -1, "a fourth thread");
    free(text);
    worker_pool_destroy(&pool);
}

/* A switch is observed once, when every thread took the new work up (here
 * settled by the scrape), never again. */
Test(miner_metrics, a_switch_is_observed_once)
{
    worker_pool_t *pool = tb_pool_new(2);
    char *text = render(pool);
    cr_assert_eq(sample(text, "miner_job_switch_seconds_count"), 0);
    free(text);
    for (uint64_t job = 1; job <= 3; job++) {
        job_work_t w = tb_fake_work(job, TB_HARDEST_BITS);
        uint64_t received = tb_now_ns(), gen = worker_pool_set_work(pool, &w);
        mmetrics_switch(pool, gen, received); /* settles the one before */
        tb_pool_caught_up(pool, gen);
        for (int scrape = 0; scrape < 2; scrape++) {
            text = render(pool);
            cr_assert_eq(sample(text, "miner_job_switch_seconds_count"), (double)job,
                         "job %llu, scrape %d", (unsigned long long)job, scrape);
            cr_assert_eq(sample(text, "miner_job_switch_seconds_bucket{le=\"+Inf\"}"),
                         (double)job);
            free(text);
        }
    }
    worker_pool_destroy(&pool);
}

/* A job whose arrival is stamped after the threads took it up (a clock
 * read late) counts as an instant switch, not a wrapped-around one. */
Test(miner_metrics, a_switch_before_its_arrival_is_instant)
{
    worker_pool_t *pool = tb_pool_new(2);
    job_work_t w = tb_fake_work(1, TB_HARDEST_BITS);
    uint64_t gen = worker_pool_set_work(pool, &w);
    tb_pool_caught_up(pool, gen);
    mmetrics_switch(pool, gen, tb_now_ns() + 1000000000ull);
    char *text = render(pool);
    cr_assert_eq(sample(text, "miner_job_switch_seconds_count"), 1);
    cr_assert_eq(sample(text, "miner_job_switch_seconds_bucket{le=\"0.0001\"}"), 1, "%s", text);
    cr_assert_eq(sample(text, "miner_job_switch_seconds_sum"), 0);
    free(text);
    worker_pool_destroy(&pool);
}
