/* bench_validate: how fast chaind connects blocks, against the bound that
 * matters — OpenSSL's Ed25519 verification on every core, measured in the
 * same run on the same machine.
 *
 * It generates a regtest chain (a fan-out, then BLOCKS blocks of TXS one-input
 * P2PKH transactions each, every transaction spending one made in the block
 * before), then connects it twice from scratch into a new data directory
 * through chain_submit_block(), the path a block from a peer or a miner takes:
 * once a block at a time (a block posted or mined), once streamed with
 * chain_prefetch() reading CHAIN_PREFETCH_WINDOW blocks ahead (a sync, as
 * chaind's rpc loop reads the requests gossipd keeps in flight).
 *
 *   bench_validate [BLOCKS [TXS [THREADS]]]     defaults: 200 500 all CPUs */
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "hex.h"
#include "merkle.h"
#include "params.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_validate: %s\n", what);
    exit(1);
}

typedef struct {
    uint8_t *data;
    size_t len;
} blob_t;

/* A block over txs (encodings) on parent, ground to the regtest target. */
static blob_t make_block(const hash32_t *parent, uint64_t height, uint64_t time,
                         const hash20_t *payout, amount_t value, uint8_t **txs, size_t *lens,
                         size_t n, hash32_t *hash)
{
    tx_coinbase_t cb;
    uint8_t extranonce[8] = {0};
    hash32_t *leaves = malloc((n + 1) * sizeof *leaves);
    if (!leaves || tx_coinbase_build(&cb, height, extranonce, sizeof extranonce, payout, value) < 0 ||
        tx_txid(&cb.tx, &leaves[0]) < 0)
        die("building a coinbase");
    for (size_t i = 0; i < n; i++)
        hash_sha256d(&leaves[i + 1], txs[i], lens[i]);
    block_header_t h = {.version = BLOCK_VERSION, .previous_block_hash = *parent,
                        .timestamp = time, .bits = 0x207fffff};
    if (merkle_root(&h.merkle_root, NULL, leaves, n + 1) < 0)
        die("merkle");
    free(leaves);
    for (;; h.nonce++) {
        block_header_hash(hash, &h);
        if (block_hash_meets(hash, h.bits))
            break;
    }
    mp_buf_t b;
    mp_buf_init(&b, BLOCK_MAX_SIZE);
    if (block_assemble(&b, &h, &cb.tx, (const uint8_t *const *)txs, lens, n) < 0)
        die("a block over 1 MB: use fewer transactions a block");
    return (blob_t){b.data, b.len};
}

/* One signed transaction spending prev:index (value) into n_out outputs of
 * `each` for pkh. */
static uint8_t *make_tx(const key_pair_t *key, const hash20_t *pkh, const hash32_t *prev,
                        uint32_t index, size_t n_out, amount_t each, size_t *len, hash32_t *txid)
{
    uint8_t (*locks)[SCRIPT_P2PKH_LOCK_LEN] = malloc(n_out * sizeof *locks);
    uint8_t unlock[1][SCRIPT_P2PKH_UNLOCK_LEN];
    tx_output_t *outs = malloc(n_out * sizeof *outs);
    if (!outs || !locks)
        die("out of memory");
    for (size_t i = 0; i < n_out; i++) {
        script_p2pkh_lock(locks[i], &pkh[i]);
        outs[i] = (tx_output_t){each, locks[i], sizeof locks[i]};
    }
    tx_input_t in = {.prev_txid = *prev, .index = index};
    tx_t tx = {.version = TX_VERSION, .n_inputs = 1, .inputs = &in, .n_outputs = n_out,
               .outputs = outs};
    err_t e;
    mp_buf_t b;
    mp_buf_init(&b, TX_MAX_SIZE);
    if (tx_sign_p2pkh(&tx, key, unlock, &e) < 0 || tx_txid(&tx, txid) < 0 ||
        tx_encode(&tx, &b, false) < 0)
        die("signing a transaction");
    free(outs);
    free(locks);
    *len = b.len;
    return b.data;
}

/* --- the bound: OpenSSL Ed25519 verify on every core ----------------------- */

typedef struct {
    double seconds;
    uint64_t count;
} verify_arg_t;

/* As `openssl speed ed25519` measures: one key, one context initialised
 * once, EVP_DigestVerify in a loop. No wrapper of ours is in the bound. */
static void *verify_loop(void *arg)
{
    verify_arg_t *a = arg;
    uint8_t seed[32] = {7}, msg[32] = {1}, sig[64];
    size_t sig_len = sizeof sig;
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    EVP_MD_CTX *sctx = EVP_MD_CTX_new(), *vctx = EVP_MD_CTX_new();
    if (!key || !sctx || !vctx || EVP_DigestSignInit(sctx, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestSign(sctx, sig, &sig_len, msg, 32) != 1 ||
        EVP_DigestVerifyInit(vctx, NULL, NULL, NULL, key) != 1)
        die("OpenSSL Ed25519");
    double end = now_s() + a->seconds;
    uint64_t n = 0;
    while (now_s() < end)
        for (int i = 0; i < 64; i++, n++)
            if (EVP_DigestVerify(vctx, sig, sig_len, msg, 32) != 1)
                die("Ed25519 verify failed");
    a->count = n;
    EVP_MD_CTX_free(sctx);
    EVP_MD_CTX_free(vctx);
    EVP_PKEY_free(key);
    return NULL;
}

static double openssl_verify_rate(unsigned threads, double seconds)
{
    pthread_t t[256];
    verify_arg_t args[256];
    for (unsigned i = 0; i < threads; i++) {
        args[i] = (verify_arg_t){seconds, 0};
        if (pthread_create(&t[i], NULL, verify_loop, &args[i]) != 0)
            die("pthread_create");
    }
    uint64_t total = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += args[i].count;
    }
    return (double)total / seconds;
}

/* Connects blocks[0..n) from scratch into a new data directory with a
 * signature cache of chaind's default size, as chaind does; lookahead > 0
 * prefetches that many blocks ahead of each submission, as chaind's rpc loop
 * does with the blocks a sync has queued. Returns the seconds taken. */
static double connect_all(const chain_params_t *p, const blob_t *blocks, size_t n,
                          unsigned threads, size_t lookahead)
{
    char dir[] = "/tmp/bench-validate-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp");
    err_t e;
    sigcache_t *cache = sigcache_new(SIGCACHE_DEFAULT_ENTRIES);
    chain_t *c;
    if (!cache || chain_open(&c, p, dir, (size_t)8 << 30, threads, cache, &e) < 0)
        die(e.message);
    double t0 = now_s();
    hash32_t last;
    size_t offered = 0; /* blocks[0..offered) were read ahead */
    for (size_t i = 0; i < n; i++) {
        for (; lookahead && offered < n && offered <= i + lookahead; offered++)
            if (chain_prefetch(c, blocks[offered].data, blocks[offered].len,
                               offered ? &last : NULL, &last) < 0)
                die("a generated block was not taken for prefetch");
        chain_status_t st;
        hash32_t hash;
        if (chain_submit_block(c, blocks[i].data, blocks[i].len, (uint64_t)time(NULL), &st, &hash,
                               &e) < 0 || st != CHAIN_TIP) {
            fprintf(stderr, "block %zu: %s\n", i + 1, e.message);
            die("a generated block was not accepted");
        }
    }
    double t = now_s() - t0;
    chain_close(&c);
    sigcache_destroy(&cache);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_validate: could not remove %s\n", dir);
    return t;
}

int main(int argc, char **argv)
{
    size_t n_blocks = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
    size_t per_block = argc > 2 ? strtoul(argv[2], NULL, 10) : 500;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : (unsigned)cpus;
    if (n_blocks == 0 || per_block == 0 || threads == 0 || threads > 256)
        die("usage: bench_validate [BLOCKS [TXS [THREADS]]]");
    const chain_params_t *p = params_by_name("regtest");
    /* one key a transaction slot, as many owners as transactions in a block,
     * so the verifier's key cache helps no more than on a real chain */
    err_t e;
    key_pair_t *keys = calloc(per_block, sizeof *keys), key;
    hash20_t *pkhs = calloc(per_block, sizeof *pkhs), pkh;
    if (!keys || !pkhs)
        die("out of memory");
    for (size_t i = 0; i < per_block; i++) {
        uint8_t seed[32] = {0};
        memcpy(seed, &i, sizeof i);
        seed[31] = 42;
        if (key_from_seed(&keys[i], seed, &e) < 0)
            die("key");
        hash_hash160(&pkhs[i], keys[i].pubkey, 32);
    }
    key = keys[0];
    pkh = pkhs[0];

    /* generation: blocks 1..2 pay the key; block 3 fans block 1's coinbase out
     * into per_block coins; then each block spends the previous block's coins */
    printf("generating %zu blocks x %zu transactions...\n", n_blocks, per_block);
    double t0 = now_s();
    size_t total_blocks = n_blocks + 3;
    blob_t *blocks = calloc(total_blocks, sizeof *blocks);
    hash32_t *prev_txids = calloc(per_block, sizeof *prev_txids);
    uint8_t **txs = calloc(per_block, sizeof *txs);
    size_t *lens = calloc(per_block, sizeof *lens);
    if (!blocks || !prev_txids || !txs || !lens)
        die("out of memory");
    mp_buf_t gb;
    mp_buf_init(&gb, BLOCK_MAX_SIZE);
    block_t genesis;
    if (params_genesis_encode(p, &gb) < 0 || block_decode(&genesis, gb.data, gb.len, &e) < 0)
        die("genesis");
    hash32_t tip, first_coinbase = {{0}};
    block_header_hash(&tip, &genesis.header);
    uint64_t time0 = genesis.header.timestamp;
    block_free(&genesis);
    mp_buf_free(&gb);
    amount_t subsidy = params_subsidy(p, 1), fee = 2000;
    amount_t each = (subsidy - fee) / per_block;
    for (uint64_t h = 1; h <= 2; h++) {
        blocks[h - 1] = make_block(&tip, h, time0 + h, &pkh, subsidy, NULL, NULL, 0, &tip);
        if (h == 1) {
            block_t b;
            if (block_decode(&b, blocks[0].data, blocks[0].len, &e) < 0)
                die("decode");
            first_coinbase = b.txids[0];
            block_free(&b);
        }
    }
    hash32_t fan_txid;
    txs[0] = make_tx(&key, pkhs, &first_coinbase, 0, per_block, each, &lens[0], &fan_txid);
    blocks[2] = make_block(&tip, 3, time0 + 3, &pkh, subsidy + (subsidy - each * per_block),
                           txs, lens, 1, &tip);
    free(txs[0]);
    uint32_t *indexes = calloc(per_block, sizeof *indexes);
    for (size_t i = 0; i < per_block; i++)
        prev_txids[i] = fan_txid, indexes[i] = (uint32_t)i;
    amount_t value = each;
    for (size_t k = 0; k < n_blocks; k++) {
        uint64_t h = 4 + k;
        for (size_t i = 0; i < per_block; i++) {
            txs[i] = make_tx(&keys[i], &pkhs[i], &prev_txids[i], indexes[i], 1, value - fee,
                             &lens[i], &prev_txids[i]);
            indexes[i] = 0;
        }
        value -= fee;
        blocks[h - 1] = make_block(&tip, h, time0 + h, &pkh, subsidy + fee * per_block, txs,
                                   lens, per_block, &tip);
        for (size_t i = 0; i < per_block; i++)
            free(txs[i]);
    }
    double t_gen = now_s() - t0;

    /* the bound is taken before and after the connects: on a shared machine
     * their mean is what the connects competed with */
    double bound_before = openssl_verify_rate(threads, 2.0);
    double t_single = connect_all(p, blocks, total_blocks, threads, 0);
    double t_stream = connect_all(p, blocks, total_blocks, threads, CHAIN_PREFETCH_WINDOW);
    size_t n_tx = n_blocks * per_block + 1, n_sig = n_tx, bytes = 0;
    for (size_t i = 0; i < total_blocks; i++)
        bytes += blocks[i].len;
    double bound_after = openssl_verify_rate(threads, 2.0);
    double bound = (bound_before + bound_after) / 2;
    printf("\n| what | value |\n| --- | --- |\n");
    printf("| machine | %ld CPUs online, %u verify threads |\n", cpus, threads);
    printf("| chain | %zu blocks, %zu transactions, %.1f MB |\n", total_blocks, n_tx,
           (double)bytes / 1e6);
    printf("| generation (not timed below) | %.1f s |\n", t_gen);
    printf("| bound: OpenSSL Ed25519 verify/s (as openssl speed) on %u threads | %.0f (%.0f a "
           "thread; %.0f before, %.0f after) |\n", threads, bound, bound / threads, bound_before,
           bound_after);
    const struct {
        const char *how;
        double seconds;
    } runs[] = {{"one block at a time (as POST /block)", t_single},
                {"streamed, read ahead (as a sync over rpc)", t_stream}};
    for (size_t r = 0; r < 2; r++) {
        double sig_rate = (double)n_sig / runs[r].seconds;
        printf("| %s: connect from scratch | %.2f s |\n", runs[r].how, runs[r].seconds);
        printf("| %s: transactions/s | %.0f |\n", runs[r].how, (double)n_tx / runs[r].seconds);
        printf("| %s: signature checks/s | %.0f |\n", runs[r].how, sig_rate);
        printf("| %s: ratio (checks/s ÷ bound) | %.2f |\n", runs[r].how, sig_rate / bound);
    }
    for (size_t i = 0; i < total_blocks; i++)
        free(blocks[i].data);
    free(blocks);
    free(prev_txids);
    free(txs);
    free(lens);
    free(indexes);
    free(keys);
    free(pkhs);
    return 0;
}
