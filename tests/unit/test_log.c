/* log.h's limiter: a pure function of the key and the time it is given, so
 * these tests step the clock themselves and never sleep. */
#include <criterion/criterion.h>

#include "log.h"

static const char kind_a[] = "a", kind_b[] = "b";

Test(log, first_line_of_a_kind_passes_then_one_a_period)
{
    log_limiter_t l = {0};
    uint64_t held = 99;
    cr_assert(log_limiter_allow(&l, kind_a, 5000, &held));
    cr_assert_eq(held, 0);
    for (uint64_t t = 5001; t < 5000 + LOG_LIMIT_MS; t += 7)
        cr_assert_not(log_limiter_allow(&l, kind_a, t, &held), "a line at %llu", (unsigned long long)t);
    cr_assert(log_limiter_allow(&l, kind_a, 5000 + LOG_LIMIT_MS, &held));
    cr_assert_eq(held, (LOG_LIMIT_MS - 1 + 6) / 7, "the lines held back are counted");
    /* the count restarts with each line let through */
    cr_assert_not(log_limiter_allow(&l, kind_a, 5000 + LOG_LIMIT_MS + 1, &held));
    cr_assert(log_limiter_allow(&l, kind_a, 5000 + 3 * LOG_LIMIT_MS, &held));
    cr_assert_eq(held, 1);
}

Test(log, kinds_are_limited_apart)
{
    log_limiter_t l = {0};
    uint64_t held;
    cr_assert(log_limiter_allow(&l, kind_a, 0, &held));
    cr_assert(log_limiter_allow(&l, kind_b, 1, &held), "another kind is not held back by a");
    cr_assert_not(log_limiter_allow(&l, kind_a, 2, &held));
    cr_assert_not(log_limiter_allow(&l, kind_b, 3, &held));
}

/* A flood of one kind for a minute: a line a period, never more. */
Test(log, a_flood_costs_a_line_a_period)
{
    log_limiter_t l = {0};
    uint64_t held, lines = 0, refused = 0, reported = 0;
    for (uint64_t t = 1000; t < 61000; t++) {
        if (log_limiter_allow(&l, kind_a, t, &held)) {
            lines++;
            reported += held;
        } else {
            refused++;
        }
    }
    cr_assert_eq(lines, 60000 / LOG_LIMIT_MS);
    /* every refusal is told on the next line, but those after the last one */
    cr_assert_eq(reported, refused - (LOG_LIMIT_MS - 1));
}

/* More kinds than the table holds: each new one is let through (its first
 * line) and takes the slot quiet for longest; the table never grows. */
Test(log, more_kinds_than_slots_reuse_the_quietest)
{
    log_limiter_t l = {0};
    static char keys[LOG_LIMIT_KEYS + 8];
    uint64_t held;
    for (int i = 0; i < LOG_LIMIT_KEYS + 8; i++)
        cr_assert(log_limiter_allow(&l, &keys[i], (uint64_t)i, &held), "kind %d", i);
    /* the newest kinds are still followed */
    cr_assert_not(log_limiter_allow(&l, &keys[LOG_LIMIT_KEYS + 7], 100, &held));
    /* the oldest was pushed out: it counts as new */
    cr_assert(log_limiter_allow(&l, &keys[0], 101, &held));
    cr_assert_eq(held, 0);
}
