/* phase: the timers behind chain_phases() and node_phases() — where the time
 * of connecting a block or admitting a transaction goes.
 *
 * A phase's counter sums nanoseconds of CLOCK_MONOTONIC (clock_ns()) spent
 * in it. Every call takes `on`, the owner's switch: off, nothing is read or
 * written (no clock call), so a daemon that does not ask for phases pays a
 * branch a phase. Counters may be added to from several threads at once
 * (relaxed atomic adds) and read while they grow (phase_read()). */
#ifndef CHAIND_PHASE_H
#define CHAIND_PHASE_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

/* The start of a phase (0 when off). */
static inline uint64_t phase_start(bool on) { return on ? clock_ns() : 0; }

/* Adds the time since start to *ns; returns now, the start of the phase that
 * follows (0 when off). */
static inline uint64_t phase_stop(bool on, uint64_t *ns, uint64_t start)
{
    if (!on)
        return 0;
    uint64_t now = clock_ns();
    __atomic_fetch_add(ns, now - start, __ATOMIC_RELAXED);
    return now;
}

/* Adds n to a counter of events (when on). */
static inline void phase_count(bool on, uint64_t *count, uint64_t n)
{
    if (on)
        __atomic_fetch_add(count, n, __ATOMIC_RELAXED);
}

static inline uint64_t phase_read(const uint64_t *ns)
{
    return __atomic_load_n(ns, __ATOMIC_RELAXED);
}

#endif
