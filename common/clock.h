/* clock: the one clock of every daemon. Monotonic milliseconds for timers and
 * timeouts (never jump with the wall clock), and Unix seconds for what is
 * stored or compared with other machines (block timestamps, bans). */
#ifndef CHAIN_CLOCK_H
#define CHAIN_CLOCK_H

#include <stdint.h>

/* Milliseconds since an arbitrary point; never goes back. */
uint64_t clock_ms(void);
/* Nanoseconds on the same clock, for latencies. */
uint64_t clock_ns(void);
/* Seconds since the Unix epoch (the wall clock). */
uint64_t clock_unix(void);

#endif
