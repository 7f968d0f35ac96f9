#define _GNU_SOURCE /* CPU_SET, pthread_setaffinity_np */
#include "bench.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "worker.h"

#define SLICES 4            /* mining and bound alternate this often a row */
#define BULK 16384          /* bytes an OpenSSL digest call */
#define SWITCHES 50         /* job switches timed */
#define HARDEST_BITS 0x03000001u /* target 1: candidates never pass */

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

/* --- the bound: OpenSSL's SHA-256 on bulk data ---------------------------- */

typedef struct {
    pthread_t thread;
    int cpu;
    double seconds, cpu_used;
    uint64_t bytes;
    bool ok;
} bulk_t;

static void *bulk_main(void *arg)
{
    bulk_t *b = arg;
    pin(b->cpu);
    uint8_t *data = malloc(BULK), md[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *sha = EVP_sha256();
    if (!data || !ctx) {
        free(data);
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    memset(data, 0x5a, BULK);
    double w0 = wall_now(), c0 = cpu_now();
    unsigned len;
    b->ok = true;
    while (wall_now() - w0 < b->seconds) {
        b->ok &= EVP_DigestInit_ex(ctx, sha, NULL) == 1 && EVP_DigestUpdate(ctx, data, BULK) == 1 &&
                 EVP_DigestFinal_ex(ctx, md, &len) == 1;
        b->bytes += BULK;
    }
    b->cpu_used = cpu_now() - c0;
    EVP_MD_CTX_free(ctx);
    free(data);
    return NULL;
}

/* Runs the bound on n threads for seconds; adds bytes and CPU seconds. */
static int bulk_run(unsigned n, double seconds, uint64_t *bytes, double *cpu)
{
    bulk_t *b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    unsigned started = 0;
    for (; started < n; started++) {
        b[started] = (bulk_t){.cpu = worker_cpu_nth(started), .seconds = seconds};
        if (pthread_create(&b[started].thread, NULL, bulk_main, &b[started]) != 0)
            break;
    }
    int rc = started == n ? 0 : -1;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(b[i].thread, NULL);
        rc = b[i].ok ? rc : -1;
        *bytes += b[i].bytes;
        *cpu += b[i].cpu_used;
    }
    free(b);
    return rc;
}

/* --- mining ----------------------------------------------------------------- */

typedef struct {
    double wall, cpu, bound_cpu;
    uint64_t hashes, bound_bytes;
} row_t;

/* Work no thread will ever finish: the hardest target, a header per tag. */
static void fake_work(job_work_t *w, uint64_t tag)
{
    memset(w, 0, sizeof *w);
    w->bits = HARDEST_BITS;
    w->job_id = tag;
    block_header_t h = {.version = BLOCK_VERSION, .timestamp = 1700000000 + tag,
                        .bits = HARDEST_BITS};
    memset(h.previous_block_hash.b, 0x11, 32);
    memset(h.merkle_root.b, 0x22, 32);
    block_header_encode(w->header, &h);
}

static void wait_generation(worker_pool_t *pool, uint64_t gen)
{
    while (worker_pool_min_generation(pool) < gen)
        sleep_s(20e-6);
}

static void snapshot(worker_pool_t *pool, uint64_t *hashes, double *cpu)
{
    *hashes = 0;
    *cpu = 0;
    for (unsigned i = 0; i < worker_pool_threads(pool); i++) {
        *hashes += worker_pool_hashes(pool, i);
        *cpu += worker_pool_cpu_seconds(pool, i);
    }
}

static int measure(const sha256d_kernel_t *k, unsigned n, double seconds, row_t *row)
{
    worker_pool_t *pool;
    worker_config_t cfg = {n, k, true};
    err_t e;
    memset(row, 0, sizeof *row);
    if (worker_pool_new(&pool, &cfg, &e) < 0) {
        fprintf(stderr, "minerd: %s\n", e.message);
        return -1;
    }
    int rc = 0;
    for (int s = 0; s < SLICES && rc == 0; s++) {
        job_work_t work;
        uint64_t h0, h1;
        double c0, c1;
        fake_work(&work, (uint64_t)s);
        wait_generation(pool, worker_pool_set_work(pool, &work));
        snapshot(pool, &h0, &c0);
        double w0 = wall_now();
        sleep_s(seconds / SLICES);
        snapshot(pool, &h1, &c1);
        row->wall += wall_now() - w0;
        row->hashes += h1 - h0;
        row->cpu += c1 - c0;
        wait_generation(pool, worker_pool_set_work(pool, NULL));
        rc = bulk_run(n, seconds / SLICES / 2, &row->bound_bytes, &row->bound_cpu);
    }
    worker_pool_destroy(&pool);
    if (rc < 0)
        fprintf(stderr, "minerd: the OpenSSL bound could not run\n");
    return rc;
}

/* Nonces a CPU-second the bound allows: compressions (bytes / 64) over 2. */
static double bound_rate(const row_t *r)
{
    return r->bound_cpu > 0 ? (double)r->bound_bytes / 64 / 2 / r->bound_cpu : 0;
}

static double cpu_rate(const row_t *r) { return r->cpu > 0 ? (double)r->hashes / r->cpu : 0; }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int time_switches(const sha256d_kernel_t *k, unsigned n, double *median, double *max)
{
    worker_pool_t *pool;
    worker_config_t cfg = {n, k, true};
    err_t e;
    double ms[SWITCHES];
    if (worker_pool_new(&pool, &cfg, &e) < 0) {
        fprintf(stderr, "minerd: %s\n", e.message);
        return -1;
    }
    job_work_t work;
    fake_work(&work, 100);
    wait_generation(pool, worker_pool_set_work(pool, &work));
    for (int i = 0; i < SWITCHES; i++) {
        sleep_s(0.01); /* let every thread get deep into the work */
        fake_work(&work, 101 + (uint64_t)i);
        double t0 = wall_now();
        uint64_t gen = worker_pool_set_work(pool, &work), last = 0;
        wait_generation(pool, gen);
        for (unsigned t = 0; t < n; t++)
            if (worker_pool_pickup_ns(pool, t) > last)
                last = worker_pool_pickup_ns(pool, t);
        ms[i] = ((double)last / 1e9 - t0) * 1e3;
    }
    worker_pool_destroy(&pool);
    qsort(ms, SWITCHES, sizeof ms[0], cmp_double);
    *median = ms[SWITCHES / 2];
    *max = ms[SWITCHES - 1];
    return 0;
}

int bench_run(const bench_config_t *cfg, FILE *out)
{
    fprintf(out, "minerd benchmark: kernel %s (%u lanes), %u CPU(s) usable, %.1f s a row\n"
            "bound: OpenSSL SHA-256 on bulk data in slices between the mining slices, on the "
            "same threads;\n       a nonce is 2 compressions, so bound = (bytes/s / 64) / 2 "
            "nonces/s a core.\n       Rates per CPU-second of the threads (the ratio's basis) "
            "discount other\n       processes' use of the CPUs; \"CPU share\" is what the "
            "miner threads got.\n\n", cfg->kernel->name, cfg->kernel->lanes,
            worker_cpu_count(), cfg->seconds);
    fprintf(out, "threads  total MH/s  MH/s/thread  MH/s/CPU-s  bound MH/s/CPU-s  ratio  "
            "CPU share\n");
    for (unsigned n = 1; n <= cfg->threads; n++) {
        row_t r;
        if (measure(cfg->kernel, n, cfg->seconds, &r) < 0)
            return -1;
        double total = (double)r.hashes / r.wall / 1e6;
        fprintf(out, "%7u  %10.2f  %11.2f  %10.2f  %16.2f  %5.2f  %8.0f%%\n", n, total, total / n,
                cpu_rate(&r) / 1e6, bound_rate(&r) / 1e6, cpu_rate(&r) / bound_rate(&r),
                100 * r.cpu / (r.wall * n));
        fflush(out);
    }

    fprintf(out, "\nkernel   lanes  MH/s (1 thread)  MH/s/CPU-s  bound MH/s/CPU-s  ratio\n");
    size_t count;
    const sha256d_kernel_t *ks = sha256d_kernels(&count);
    for (size_t i = 0; i < count; i++) {
        row_t r;
        if (!ks[i].supported()) {
            fprintf(out, "%-7s  %5u  (not supported by this CPU)\n", ks[i].name, ks[i].lanes);
            continue;
        }
        if (measure(&ks[i], 1, cfg->seconds, &r) < 0)
            return -1;
        fprintf(out, "%-7s  %5u  %15.2f  %10.2f  %16.2f  %5.2f\n", ks[i].name, ks[i].lanes,
                (double)r.hashes / r.wall / 1e6, cpu_rate(&r) / 1e6, bound_rate(&r) / 1e6,
                cpu_rate(&r) / bound_rate(&r));
        fflush(out);
    }

    double median, max;
    if (time_switches(cfg->kernel, cfg->threads, &median, &max) < 0)
        return -1;
    fprintf(out, "\njob switch, %u thread(s), %d switches: every thread on the new work after "
            "%.2f ms (median), %.2f ms (max); goal 10 ms\n", cfg->threads, SWITCHES, median, max);
    return 0;
}
