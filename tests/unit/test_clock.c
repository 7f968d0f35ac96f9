/* clock.h: the one clock of the daemons. The monotonic readings never go
 * back and agree with each other; the wall clock is the system's. */
#include <criterion/criterion.h>
#include <time.h>

#include "clock.h"

Test(clock, monotonic_readings_agree_and_never_go_back)
{
    uint64_t ms0 = clock_ms(), ns0 = clock_ns();
    uint64_t last = ns0;
    for (int i = 0; i < 100000; i++) {
        uint64_t now = clock_ns();
        cr_assert_geq(now, last, "clock_ns went back");
        last = now;
    }
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    uint64_t ms1 = clock_ms(), ns1 = clock_ns();
    cr_assert_geq(ms1 - ms0, 20, "a 20 ms sleep took %llu ms", (unsigned long long)(ms1 - ms0));
    cr_assert_geq(ns1 - ns0, 20000000ull);
    /* the same clock in two units: the ms reading is the ns one, divided */
    uint64_t ns = clock_ns(), ms = clock_ms();
    cr_assert_leq(ns / 1000000, ms);
}

Test(clock, unix_time_is_the_systems)
{
    uint64_t t0 = (uint64_t)time(NULL), u = clock_unix(), t1 = (uint64_t)time(NULL);
    cr_assert(u >= t0 && u <= t1, "clock_unix %llu outside [%llu, %llu]", (unsigned long long)u,
              (unsigned long long)t0, (unsigned long long)t1);
}
