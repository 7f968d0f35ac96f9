#include "prom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int prom_hist_init(prom_hist_t *h, const double *bounds, size_t n)
{
    if (n == 0 || n > PROM_BUCKETS_MAX)
        return -1;
    for (size_t i = 1; i < n; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return -1;
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->n = n;
    return 0;
}

void prom_hist_observe(prom_hist_t *h, uint64_t us)
{
    size_t i = 0;
    double s = (double)us / 1e6;
    while (i < h->n && s > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void prom_buf_init(prom_buf_t *b)
{
    *b = (prom_buf_t){0};
}

void prom_buf_free(prom_buf_t *b)
{
    free(b->text);
    prom_buf_init(b);
}

static bool grow(prom_buf_t *b, size_t need)
{
    size_t cap = b->cap ? b->cap : PROM_BUF_INITIAL;
    while (cap < need && cap <= PROM_BUF_MAX / 2)
        cap *= 2;
    if (cap < need)
        return false;
    char *p = realloc(b->text, cap);
    if (!p)
        return false;
    b->text = p;
    b->cap = cap;
    return true;
}

static void append(prom_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(prom_buf_t *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->text ? b->text + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        if (!grow(b, b->len + (size_t)n + 1)) {
            b->failed = true;
            return;
        }
    }
}

/* Label values escaped per the format: \\, \" and \n. */
static void append_escaped(prom_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            append(b, "\\\\");
        else if (*s == '"')
            append(b, "\\\"");
        else if (*s == '\n')
            append(b, "\\n");
        else
            append(b, "%c", *s);
    }
}

static void append_label(prom_buf_t *b, const char *label, const char *value)
{
    append(b, "%s=\"", label);
    append_escaped(b, value);
    append(b, "\"");
}

void prom_header(prom_buf_t *b, const char *name, const char *type, const char *help)
{
    append(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_sample2(prom_buf_t *b, const char *name, const char *l1, const char *v1,
                  const char *l2, const char *v2, double v)
{
    append(b, "%s", name);
    if (l1) {
        append(b, "{");
        append_label(b, l1, v1);
        if (l2) {
            append(b, ",");
            append_label(b, l2, v2);
        }
        append(b, "}");
    }
    append(b, " %.17g\n", v);
}

void prom_sample(prom_buf_t *b, const char *name, const char *label, const char *value,
                 double v)
{
    prom_sample2(b, name, label, value, NULL, NULL, v);
}

void prom_metric(prom_buf_t *b, const char *name, const char *type, const char *help,
                 double v)
{
    prom_header(b, name, type, help);
    prom_sample(b, name, NULL, NULL, v);
}

static void bucket(prom_buf_t *b, const char *name, const char *label, const char *value,
                   const char *le, uint64_t cumulative)
{
    append(b, "%s_bucket{", name);
    if (label) {
        append_label(b, label, value);
        append(b, ",");
    }
    append(b, "le=\"%s\"} %llu\n", le, (unsigned long long)cumulative);
}

void prom_hist(prom_buf_t *b, const char *name, const char *label, const char *value,
               const prom_hist_t *h)
{
    uint64_t cumulative = 0;
    char le[32];
    for (size_t i = 0; i <= h->n; i++) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < h->n)
            snprintf(le, sizeof le, "%g", h->bounds[i]);
        bucket(b, name, label, value, i < h->n ? le : "+Inf", cumulative);
    }
    /* _count is the +Inf bucket, so the two agree even while observers race */
    char suffixed[128];
    snprintf(suffixed, sizeof suffixed, "%s_sum", name);
    prom_sample(b, suffixed, label, value,
                (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    snprintf(suffixed, sizeof suffixed, "%s_count", name);
    prom_sample(b, suffixed, label, value, (double)cumulative);
}

int prom_buf_finish(prom_buf_t *b, char **text, size_t *len, err_t *e)
{
    append(b, "%s", ""); /* an empty render still yields a string */
    if (b->failed || !b->text) {
        prom_buf_free(b);
        return err_set(e, ERR_INTERNAL, "out of memory rendering metrics");
    }
    *text = b->text;
    *len = b->len;
    prom_buf_init(b);
    return 0;
}
