/* prom.h: the text a scraper reads. Rendering of headers and samples, the
 * cumulative buckets with _sum and _count, the bucket an observation lands in
 * (bounds are inclusive upper bounds), escaping of label values, and the
 * bounds prom_hist_init refuses. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

static const double BOUNDS[] = {0.001, 0.01, 0.1};

/* Renders with f into a string the test frees. */
static char *render(void (*f)(prom_buf_t *, void *), void *arg)
{
    prom_buf_t b;
    prom_buf_init(&b);
    f(&b, arg);
    char *text = NULL;
    size_t len = 0;
    err_t e = {0};
    cr_assert_eq(prom_buf_finish(&b, &text, &len, &e), 0);
    cr_assert_eq(strlen(text), len);
    return text;
}

static void counter(prom_buf_t *b, void *arg)
{
    (void)arg;
    prom_metric(b, "x_total", "counter", "Things seen.", 42);
}

Test(prom, counter_has_help_type_and_value)
{
    char *t = render(counter, NULL);
    cr_assert_str_eq(t, "# HELP x_total Things seen.\n# TYPE x_total counter\nx_total 42\n");
    free(t);
}

static void labelled(prom_buf_t *b, void *arg)
{
    prom_sample(b, "m_total", "type", arg, 1);
}

Test(prom, label_values_are_escaped)
{
    char *t = render(labelled, "a\"b\\c\nd");
    cr_assert_str_eq(t, "m_total{type=\"a\\\"b\\\\c\\nd\"} 1\n");
    free(t);
}

static void hist(prom_buf_t *b, void *arg)
{
    prom_hist(b, "lat_seconds", "route", "/tip", arg);
}

Test(prom, histogram_buckets_are_cumulative)
{
    prom_hist_t h;
    cr_assert_eq(prom_hist_init(&h, BOUNDS, 3), 0);
    prom_hist_observe(&h, 1000);    /* exactly 0.001: le is inclusive */
    prom_hist_observe(&h, 5000);    /* 0.005 */
    prom_hist_observe(&h, 5000);
    prom_hist_observe(&h, 2000000); /* 2 s: only +Inf */
    char *t = render(hist, &h);
    cr_assert_str_eq(t, "lat_seconds_bucket{route=\"/tip\",le=\"0.001\"} 1\n"
                        "lat_seconds_bucket{route=\"/tip\",le=\"0.01\"} 3\n"
                        "lat_seconds_bucket{route=\"/tip\",le=\"0.1\"} 3\n"
                        "lat_seconds_bucket{route=\"/tip\",le=\"+Inf\"} 4\n"
                        "lat_seconds_sum{route=\"/tip\"} 2.0110000000000001\n"
                        "lat_seconds_count{route=\"/tip\"} 4\n");
    free(t);
}

static void empty(prom_buf_t *b, void *arg)
{
    (void)b;
    (void)arg;
}

Test(prom, empty_render_is_an_empty_string)
{
    char *t = render(empty, NULL);
    cr_assert_str_eq(t, "");
    free(t);
}

static void many(prom_buf_t *b, void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        prom_metric(b, "grow_total", "counter", "Growth past the first allocation.", i);
}

Test(prom, buffer_grows_past_initial)
{
    char *t = render(many, NULL);
    cr_assert_gt(strlen(t), PROM_BUF_INITIAL);
    cr_assert_not_null(strstr(t, "grow_total 999\n"));
    free(t);
}

Test(prom, init_refuses_bad_bounds)
{
    prom_hist_t h;
    static const double down[] = {0.1, 0.01};
    cr_assert_eq(prom_hist_init(&h, BOUNDS, 0), -1);
    cr_assert_eq(prom_hist_init(&h, BOUNDS, PROM_BUCKETS_MAX + 1), -1);
    cr_assert_eq(prom_hist_init(&h, down, 2), -1);
}
