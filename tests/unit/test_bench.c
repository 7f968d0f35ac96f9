/* minerd/bench.h: `minerd --benchmark`'s tables, run briefly — a row for
 * each thread count, one for every kernel (run or said unsupported), the
 * job-switch line — and the numbers in them well-formed. What the numbers
 * are is bench's to measure, not a unit test's to bound. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "sha256d.h"

/* bench_run() of threads rows on the best kernel: its text. */
static char *run(unsigned threads)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_assert_not_null(out);
    bench_config_t cfg = {.threads = threads, .seconds = 0.02, .kernel = sha256d_best()};
    cr_assert_eq(bench_run(&cfg, out), 0);
    fclose(out);
    return text;
}

/* The line after the one starting with heading, n lines down. */
static const char *line_after(const char *text, const char *heading, int n)
{
    const char *p = strstr(text, heading);
    cr_assert_not_null(p, "no \"%s\" in:\n%s", heading, text);
    for (int i = 0; i < n; i++) {
        p = strchr(p, '\n');
        cr_assert_not_null(p, "the table under \"%s\" is short", heading);
        p++;
    }
    return p;
}

Test(bench, a_row_for_each_thread_count)
{
    const unsigned counts[] = {1, 2};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        char *text = run(counts[c]);
        char head[128];
        snprintf(head, sizeof head, "minerd benchmark: kernel %s", sha256d_best()->name);
        cr_assert_eq(strncmp(text, head, strlen(head)), 0, "%s", text);
        for (unsigned n = 1; n <= counts[c]; n++) {
            const char *row = line_after(text, "threads  total MH/s", (int)n);
            unsigned threads;
            double total, per, cpu, bound, ratio, share;
            cr_assert_eq(sscanf(row, "%u %lf %lf %lf %lf %lf %lf%%", &threads, &total, &per,
                                &cpu, &bound, &ratio, &share), 7, "row %u: %.80s", n, row);
            cr_assert_eq(threads, n);
            cr_assert_geq(total, 0, "row %u", n);
            cr_assert_gt(bound, 0, "row %u: no OpenSSL bound", n); /* OpenSSL is not instrumented */
            cr_assert_geq(ratio, 0);
        }
        const char *after = line_after(text, "threads  total MH/s", (int)counts[c] + 1);
        cr_assert_eq(*after, '\n', "more rows than threads: %.80s", after);
        char sw[96];
        snprintf(sw, sizeof sw, "job switch, %u thread(s), 50 switches: every thread on the new "
                 "work after ", counts[c]);
        cr_assert_not_null(strstr(text, sw), "%s", text);
        free(text);
    }
}

Test(bench, a_row_for_every_kernel)
{
    char *text = run(1);
    size_t n;
    const sha256d_kernel_t *ks = sha256d_kernels(&n);
    for (size_t i = 0; i < n; i++) {
        const char *row = line_after(text, "kernel   lanes", (int)i + 1);
        char name[16];
        unsigned lanes;
        cr_assert_eq(sscanf(row, "%15s %u", name, &lanes), 2, "%.80s", row);
        cr_assert_str_eq(name, ks[i].name);
        cr_assert_eq(lanes, ks[i].lanes);
        bool unsupported = strncmp(strchr(row, '(') ? strchr(row, '(') : "", "(not supported",
                                   14) == 0;
        cr_assert_eq(unsupported, !ks[i].supported(), "%s: %.80s", ks[i].name, row);
        if (!unsupported) {
            double rate;
            cr_assert_eq(sscanf(row, "%*s %*u %lf", &rate), 1);
            cr_assert_geq(rate, 0, "%s", ks[i].name);
        }
    }
    free(text);
}
