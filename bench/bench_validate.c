/* bench_validate: how fast chaind connects blocks, against the bound that
 * matters — libsodium's Ed25519 verification (the consensus rule) on as many
 * threads as the pool has, over as many distinct keys as the chain has,
 * measured before and after the connects on the same machine; OpenSSL's rate
 * is measured beside it.
 *
 * It generates a regtest chain (a fan-out, then BLOCKS blocks of TXS one-input
 * P2PKH transactions each, every transaction spending one made in the block
 * before), then connects it twice from scratch into a new data directory
 * through chain_submit_block(), the path a block from a peer or a miner takes:
 * once a block at a time (a block posted or mined), once streamed with
 * chain_prefetch() reading CHAIN_PREFETCH_WINDOW blocks ahead (a sync, as
 * chaind's rpc loop reads the requests gossipd keeps in flight). Each way
 * runs twice more with the store's explorer indexes (address history,
 * spent-by) turned off, so that the table shows what writing them costs a
 * connect, measured in the same run.
 *
 * With --phases, each way runs once more (indexes on) with chain_phases()
 * on, and a table per way says where the submitting thread's time went.
 *
 *   bench_validate [--phases] [BLOCKS [TXS [THREADS]]]   defaults: 200 500 all CPUs */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "chain.h"
#include "params.h"

/* Bytes this process has had written to storage so far (Linux's
 * /proc/self/io; 0 where it cannot be read). */
static double written_bytes(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    double v = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "write_bytes:", 12) == 0)
            v = strtod(line + 12, NULL);
    if (f)
        fclose(f);
    return v;
}

/* Connects blocks[0..n) from scratch into a new data directory with a
 * signature cache of chaind's default size, as chaind does; lookahead > 0
 * prefetches that many blocks ahead of each submission, as chaind's rpc loop
 * does with the blocks a sync has queued; indexes false leaves out the
 * store's explorer indexes (store_set_indexing), and then *build (if not
 * NULL) gets the seconds a reopening takes to build them, as for a store
 * made before them. Returns the seconds the connects took; *mb the
 * megabytes they had written to storage (the commits' pages). */
static double connect_all(const chain_params_t *p, const mp_buf_t *blocks, size_t n,
                          unsigned threads, size_t lookahead, bool indexes, double *build,
                          double *mb, chain_phases_t *phases)
{
    char dir[64];
    bench_tmpdir(dir, sizeof dir, "bench-validate");
    err_t e;
    sigcache_t *cache = sigcache_new(SIGCACHE_DEFAULT_ENTRIES);
    chain_t *c;
    if (!cache || chain_open(&c, p, dir, (size_t)8 << 30, threads, cache, NULL, &e) < 0)
        bench_die("%s", cache ? e.message : "out of memory");
    store_set_indexing(chain_store(c), indexes);
    if (phases)
        chain_phases_enable(c, true);
    double t0 = bench_now(), w0 = written_bytes();
    hash32_t last;
    size_t offered = 0; /* blocks[0..offered) were read ahead */
    for (size_t i = 0; i < n; i++) {
        for (; lookahead && offered < n && offered <= i + lookahead; offered++)
            if (chain_prefetch(c, blocks[offered].data, blocks[offered].len,
                               offered ? &last : NULL, &last) < 0)
                bench_die("a generated block was not taken for prefetch");
        chain_status_t st;
        hash32_t hash;
        if (chain_submit_block(c, blocks[i].data, blocks[i].len, (uint64_t)time(NULL), &st, &hash,
                               &e) < 0 || st != CHAIN_TIP)
            bench_die("block %zu was not accepted: %s", i + 1, e.message);
    }
    double t = bench_now() - t0;
    if (phases)
        chain_phases(c, phases);
    chain_close(&c);
    *mb = (written_bytes() - w0) / 1e6;
    if (!indexes && build) {
        double t1 = bench_now();
        if (chain_open(&c, p, dir, (size_t)8 << 30, threads, cache, NULL, &e) < 0)
            bench_die("%s", e.message);
        *build = bench_now() - t1;
        chain_close(&c);
    }
    sigcache_destroy(&cache);
    bench_rmdir(dir);
    return t;
}

/* The phases of one way's connects, `seconds` of wall time, as a table:
 * each phase's total, per transaction, and share of the wall time. */
static void print_phases(const char *how, const chain_phases_t *ph, double seconds)
{
    double wall_ms = seconds * 1e3, sum_ms = 0, n = (double)(ph->txs ? ph->txs : 1);
    printf("\n%s: %" PRIu64 " blocks, %" PRIu64 " transactions, %.0f ms\n\n", how, ph->blocks,
           ph->txs, wall_ms);
    printf("| phase | total ms | µs a transaction | share of the wall time |\n"
           "| --- | --- | --- | --- |\n");
    for (int i = 0; i < CHAIN_PHASES; i++) {
        double ms = (double)ph->ns[i] / 1e6;
        sum_ms += ms;
        printf("| %s | %.1f | %.2f | %.1f %% |\n", chain_phase_name(i), ms, 1e3 * ms / n,
               100 * ms / wall_ms);
    }
    printf("| everything else (header rules, allocation, the bench's loop) | %.1f | %.2f | "
           "%.1f %% |\n", wall_ms - sum_ms, 1e3 * (wall_ms - sum_ms) / n,
           100 * (wall_ms - sum_ms) / wall_ms);
}

/* Blocks 1..2 pay keys[0]; block 3 fans block 1's coinbase out into one coin
 * for each of the n_keys keys; then each of n_blocks blocks spends every
 * coin of the block before, coin i by keys[i] back to itself. */
static mp_buf_t *make_chain(const chain_params_t *p, const key_pair_t *keys,
                            const hash20_t *pkhs, size_t n_keys, size_t n_blocks)
{
    mp_buf_t *blocks = bench_xmalloc((n_blocks + 3) * sizeof *blocks);
    hash32_t *prev_txids = bench_xmalloc(n_keys * sizeof *prev_txids);
    uint32_t *indexes = bench_xmalloc(n_keys * sizeof *indexes);
    mp_buf_t *txs = bench_xmalloc(n_keys * sizeof *txs);
    const uint8_t **raws = bench_xmalloc(n_keys * sizeof *raws);
    size_t *lens = bench_xmalloc(n_keys * sizeof *lens);
    hash32_t tip, first_coinbase;
    uint64_t time0;
    bench_genesis(p, &tip, NULL, &time0);
    amount_t subsidy = params_subsidy(p, 1), fee = 2000;
    amount_t each = (subsidy - fee) / n_keys;
    for (uint64_t h = 1; h <= 2; h++)
        bench_block(&blocks[h - 1], &tip, h == 1 ? &first_coinbase : NULL, &tip, h, time0 + h,
                    p->pow_limit_bits, &pkhs[0], subsidy, NULL, NULL, 0);
    hash32_t fan_txid;
    bench_tx(&txs[0], &fan_txid, &keys[0], &first_coinbase, 0, pkhs, n_keys, each);
    raws[0] = txs[0].data;
    lens[0] = txs[0].len;
    bench_block(&blocks[2], &tip, NULL, &tip, 3, time0 + 3, p->pow_limit_bits, &pkhs[0],
                subsidy + (subsidy - each * n_keys), raws, lens, 1);
    mp_buf_free(&txs[0]);
    for (size_t i = 0; i < n_keys; i++)
        prev_txids[i] = fan_txid, indexes[i] = (uint32_t)i;
    amount_t value = each;
    for (size_t k = 0; k < n_blocks; k++) {
        uint64_t h = 4 + k;
        for (size_t i = 0; i < n_keys; i++) {
            bench_tx(&txs[i], &prev_txids[i], &keys[i], &prev_txids[i], indexes[i], &pkhs[i], 1,
                     value - fee);
            raws[i] = txs[i].data;
            lens[i] = txs[i].len;
            indexes[i] = 0;
        }
        value -= fee;
        bench_block(&blocks[h - 1], &tip, NULL, &tip, h, time0 + h, p->pow_limit_bits, &pkhs[0],
                    subsidy + fee * n_keys, raws, lens, n_keys);
        for (size_t i = 0; i < n_keys; i++)
            mp_buf_free(&txs[i]);
    }
    free(prev_txids);
    free(indexes);
    free(txs);
    free(raws);
    free(lens);
    return blocks;
}

int main(int argc, char **argv)
{
    bench_init("bench_validate");
    bool phases = argc > 1 && strcmp(argv[1], "--phases") == 0;
    if (phases) {
        argc--;
        argv++;
    }
    size_t n_blocks = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
    size_t per_block = argc > 2 ? strtoul(argv[2], NULL, 10) : 500;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : (unsigned)cpus;
    if (n_blocks == 0 || per_block == 0 || threads == 0 || threads > 256)
        bench_die("usage: bench_validate [--phases] [BLOCKS [TXS [THREADS]]]");
    const chain_params_t *p = params_by_name("regtest");
    /* one key a transaction slot: as many owners as transactions in a block,
     * and the bounds below cycle through as many keys */
    err_t e;
    key_pair_t *keys = bench_xmalloc(per_block * sizeof *keys);
    hash20_t *pkhs = bench_xmalloc(per_block * sizeof *pkhs);
    for (size_t i = 0; i < per_block; i++) {
        uint8_t seed[32] = {0};
        memcpy(seed, &i, sizeof i);
        seed[31] = 42;
        if (key_from_seed(&keys[i], seed, &e) < 0)
            bench_die("%s", e.message);
        hash_hash160(&pkhs[i], keys[i].pubkey, 32);
    }

    printf("generating %zu blocks x %zu transactions...\n", n_blocks, per_block);
    fflush(stdout);
    double t0 = bench_now();
    size_t total_blocks = n_blocks + 3;
    mp_buf_t *blocks = make_chain(p, keys, pkhs, per_block, n_blocks);
    double t_gen = bench_now() - t0;

    /* the bounds are taken before and after the connects: on a shared
     * machine their mean is what the connects competed with */
    bench_bound_t sodium, openssl;
    sodium.before = bench_verify_rate(BENCH_LIBSODIUM, threads, per_block, 2.0);
    openssl.before = bench_verify_rate(BENCH_OPENSSL, threads, per_block, 2.0);
    /* each with and without the indexes side by side, so that a neighbour
     * moves both */
    double t_build, mb[4];
    double t_single =
        connect_all(p, blocks, total_blocks, threads, 0, true, NULL, &mb[0], NULL);
    double t_single_bare =
        connect_all(p, blocks, total_blocks, threads, 0, false, &t_build, &mb[1], NULL);
    double t_stream = connect_all(p, blocks, total_blocks, threads, CHAIN_PREFETCH_WINDOW, true,
                                  NULL, &mb[2], NULL);
    double t_stream_bare = connect_all(p, blocks, total_blocks, threads, CHAIN_PREFETCH_WINDOW,
                                       false, NULL, &mb[3], NULL);
    /* timed apart, so that the clock reads cost the figures above nothing */
    chain_phases_t ph[2];
    double t_ph[2], mb_ph;
    for (size_t r = 0; phases && r < 2; r++)
        t_ph[r] = connect_all(p, blocks, total_blocks, threads, r ? CHAIN_PREFETCH_WINDOW : 0,
                              true, NULL, &mb_ph, &ph[r]);
    sodium.after = bench_verify_rate(BENCH_LIBSODIUM, threads, per_block, 2.0);
    openssl.after = bench_verify_rate(BENCH_OPENSSL, threads, per_block, 2.0);
    size_t n_tx = n_blocks * per_block + 1, n_sig = n_tx, bytes = 0;
    for (size_t i = 0; i < total_blocks; i++)
        bytes += blocks[i].len;
    double bound = bench_bound_mean(sodium), beside = bench_bound_mean(openssl);
    printf("\n| what | value |\n| --- | --- |\n");
    printf("| machine | %ld CPUs online, %u verify threads |\n", cpus, threads);
    printf("| chain | %zu blocks, %zu transactions, %zu keys, %.1f MB |\n", total_blocks, n_tx,
           per_block, (double)bytes / 1e6);
    printf("| generation (not timed below) | %.1f s |\n", t_gen);
    printf("| bound: libsodium Ed25519 verify/s, %u threads, %zu keys | %.0f (%.0f a thread; "
           "%.0f before, %.0f after) |\n", threads, per_block, bound, bound / threads,
           sodium.before, sodium.after);
    printf("| beside it: OpenSSL Ed25519 verify/s, %u threads, %zu keys | %.0f (%.0f before, "
           "%.0f after; libsodium %.2fx) |\n", threads, per_block, beside, openssl.before,
           openssl.after, bound / beside);
    const struct {
        const char *how;
        double seconds, bare, mb, mb_bare;
    } runs[] = {{"one block at a time (as POST /block)", t_single, t_single_bare, mb[0], mb[1]},
                {"streamed, read ahead (as a sync over rpc)", t_stream, t_stream_bare, mb[2],
                 mb[3]}};
    for (size_t r = 0; r < 2; r++) {
        double sig_rate = (double)n_sig / runs[r].seconds;
        printf("| %s: connect from scratch | %.2f s |\n", runs[r].how, runs[r].seconds);
        printf("| %s: transactions/s | %.0f |\n", runs[r].how, (double)n_tx / runs[r].seconds);
        printf("| %s: signature checks/s | %.0f |\n", runs[r].how, sig_rate);
        printf("| %s: ratio (checks/s ÷ libsodium bound) | %.2f |\n", runs[r].how,
               sig_rate / bound);
        printf("| %s: without the explorer indexes | %.2f s (they cost %.1f %%, %.2f µs a "
               "transaction) |\n", runs[r].how, runs[r].bare,
               100 * (runs[r].seconds - runs[r].bare) / runs[r].seconds,
               1e6 * (runs[r].seconds - runs[r].bare) / (double)n_tx);
        printf("| %s: written to storage, with and without the indexes | %.0f MB, %.0f MB |\n",
               runs[r].how, runs[r].mb, runs[r].mb_bare);
    }
    printf("| the explorer indexes built at open (a store made before them) | %.2f s |\n",
           t_build);
    for (size_t r = 0; phases && r < 2; r++)
        print_phases(runs[r].how, &ph[r], t_ph[r]);
    for (size_t i = 0; i < total_blocks; i++)
        mp_buf_free(&blocks[i]);
    free(blocks);
    free(keys);
    free(pkhs);
    return 0;
}
