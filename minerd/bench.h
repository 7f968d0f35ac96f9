/* bench: `minerd --benchmark`. Hash rates of the real worker pool for 1..N
 * threads and of every kernel on one thread, each set against a bound
 * measured in the same run: OpenSSL's SHA-256 over bulk data gives
 * compressions a second (bytes/s ÷ 64), a nonce costs two compressions, so a
 * core's bound is that ÷ 2 nonces a second. The bound runs on the same
 * threads and CPUs, in slices between the mining slices, and both sides count
 * per CPU-second of their threads, so other processes on the machine skew the
 * ratio little. Also the job switch: how long until every thread is on new
 * work. Prints tables on out; 0, or -1 when threads cannot be started. */
#ifndef MINERD_BENCH_H
#define MINERD_BENCH_H

#include <stdbool.h>
#include <stdio.h>

#include "sha256d.h"

typedef struct {
    unsigned threads;               /* rows 1 .. threads */
    double seconds;                 /* each row's mining time */
    const sha256d_kernel_t *kernel; /* of the thread rows */
} bench_config_t;

int bench_run(const bench_config_t *cfg, FILE *out) __attribute__((warn_unused_result));

#endif
