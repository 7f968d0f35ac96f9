#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "block.h"
#include "clock.h"
#include "merkle.h"
#include "script.h"
#include "tx.h"

static const char *program = "bench";

void bench_init(const char *name) { program = name; }

double bench_now(void) { return (double)clock_ns() / 1e9; }

void bench_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void *bench_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        bench_die("out of memory");
    return p;
}

/* --- the verification bounds --------------------------------------------- */

/* The keys, signatures and messages every thread checks (read only). */
typedef struct {
    size_t n;
    uint8_t (*pubkey)[KEY_PUBKEY_LEN];
    uint8_t (*sig)[KEY_SIG_LEN];
    uint8_t (*msg)[32];
} sig_set_t;

typedef struct {
    bench_verifier_t verifier;
    const sig_set_t *set;
    size_t first; /* where in the set this thread starts */
    double seconds;
    double rate; /* out */
} rate_arg_t;

const char *bench_verifier_name(bench_verifier_t v)
{
    return v == BENCH_LIBSODIUM ? "libsodium" : "OpenSSL";
}

/* Each thread builds its own OpenSSL keys, so no object is shared. */
static EVP_PKEY **openssl_keys(const sig_set_t *set)
{
    EVP_PKEY **keys = bench_xmalloc(set->n * sizeof *keys);
    for (size_t i = 0; i < set->n; i++)
        if (!(keys[i] = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, set->pubkey[i],
                                                    KEY_PUBKEY_LEN)))
            bench_die("OpenSSL rejected a public key");
    return keys;
}

static bool verify_one(const rate_arg_t *a, EVP_MD_CTX *ctx, EVP_PKEY **keys, size_t i)
{
    const sig_set_t *s = a->set;
    if (a->verifier == BENCH_LIBSODIUM)
        return crypto_sign_verify_detached(s->sig[i], s->msg[i], 32, s->pubkey[i]) == 0;
    /* OpenSSL 3.0 refuses a second init of a context after a one-shot
     * verify; the reset is what the node's OpenSSL verifier paid too */
    bool ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, keys[i]) == 1 &&
              EVP_DigestVerify(ctx, s->sig[i], KEY_SIG_LEN, s->msg[i], 32) == 1;
    EVP_MD_CTX_reset(ctx);
    return ok;
}

static void *rate_loop(void *arg)
{
    rate_arg_t *a = arg;
    const sig_set_t *s = a->set;
    EVP_PKEY **keys = a->verifier == BENCH_OPENSSL ? openssl_keys(s) : NULL;
    EVP_MD_CTX *ctx = a->verifier == BENCH_OPENSSL ? EVP_MD_CTX_new() : NULL;
    if (a->verifier == BENCH_OPENSSL && !ctx)
        bench_die("EVP_MD_CTX_new");
    uint64_t n = 0;
    size_t i = a->first;
    double t0 = bench_now(), end = t0 + a->seconds, t = t0;
    while (t < end) {
        for (int k = 0; k < 64; k++, n++, i = (i + 1) % s->n)
            if (!verify_one(a, ctx, keys, i))
                bench_die("%s rejected a valid signature", bench_verifier_name(a->verifier));
        t = bench_now();
    }
    a->rate = (double)n / (t - t0);
    for (size_t k = 0; keys && k < s->n; k++)
        EVP_PKEY_free(keys[k]);
    free(keys);
    EVP_MD_CTX_free(ctx);
    return NULL;
}

double bench_verify_rate(bench_verifier_t v, unsigned threads, size_t n_keys, double seconds)
{
    if (threads == 0 || n_keys == 0)
        bench_die("bench_verify_rate needs threads and keys");
    err_t e;
    if (key_init(&e) < 0)
        bench_die("%s", e.message);
    sig_set_t set = {n_keys, bench_xmalloc(n_keys * KEY_PUBKEY_LEN),
                     bench_xmalloc(n_keys * KEY_SIG_LEN), bench_xmalloc(n_keys * 32)};
    for (size_t i = 0; i < n_keys; i++) {
        uint8_t seed[KEY_SEED_LEN] = {0xbe, 0x4c};
        memcpy(seed + 2, &i, sizeof i);
        key_pair_t k;
        memset(set.msg[i], 0, 32);
        memcpy(set.msg[i], &i, sizeof i);
        if (key_from_seed(&k, seed, &e) < 0 || key_sign(&k, set.sig[i], set.msg[i], 32, &e) < 0)
            bench_die("%s", e.message);
        memcpy(set.pubkey[i], k.pubkey, KEY_PUBKEY_LEN);
    }
    pthread_t *t = bench_xmalloc(threads * sizeof *t);
    rate_arg_t *args = bench_xmalloc(threads * sizeof *args);
    for (unsigned i = 0; i < threads; i++) {
        args[i] = (rate_arg_t){v, &set, (size_t)i * n_keys / threads, seconds, 0};
        if (pthread_create(&t[i], NULL, rate_loop, &args[i]) != 0)
            bench_die("pthread_create");
    }
    double total = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += args[i].rate;
    }
    free(t);
    free(args);
    free(set.pubkey);
    free(set.sig);
    free(set.msg);
    return total;
}

double bench_bound_mean(bench_bound_t b) { return (b.before + b.after) / 2; }

/* --- building ------------------------------------------------------------ */

void bench_genesis(const chain_params_t *p, hash32_t *hash, hash32_t *txid, uint64_t *timestamp)
{
    mp_buf_t b;
    block_t g;
    err_t e;
    mp_buf_init(&b, BLOCK_MAX_SIZE);
    if (params_genesis_encode(p, &b) < 0 || block_decode(&g, b.data, b.len, &e) < 0)
        bench_die("the genesis block does not encode and decode");
    if (hash)
        block_header_hash(hash, &g.header);
    if (txid)
        *txid = g.txids[0];
    if (timestamp)
        *timestamp = g.header.timestamp;
    block_free(&g);
    mp_buf_free(&b);
}

void bench_block(mp_buf_t *out, hash32_t *hash, hash32_t *coinbase_txid, const hash32_t *parent,
                 uint64_t height, uint64_t timestamp, uint32_t bits, const hash20_t *payout,
                 amount_t value, const uint8_t *const *txs, const size_t *lens, size_t n)
{
    tx_coinbase_t cb;
    uint8_t extranonce[8] = {0};
    hash32_t *leaves = bench_xmalloc((n + 1) * sizeof *leaves);
    if (tx_coinbase_build(&cb, height, extranonce, sizeof extranonce, payout, value) < 0 ||
        tx_txid(&cb.tx, &leaves[0]) < 0)
        bench_die("building a coinbase");
    if (coinbase_txid)
        *coinbase_txid = leaves[0];
    for (size_t i = 0; i < n; i++)
        hash_sha256d(&leaves[i + 1], txs[i], lens[i]);
    block_header_t h = {.version = BLOCK_VERSION, .previous_block_hash = *parent,
                        .timestamp = timestamp, .bits = bits};
    if (merkle_root(&h.merkle_root, NULL, leaves, n + 1) < 0)
        bench_die("merkle root");
    free(leaves);
    for (;; h.nonce++) {
        block_header_hash(hash, &h);
        if (block_hash_meets(hash, bits))
            break;
    }
    mp_buf_init(out, BLOCK_MAX_SIZE);
    if (block_assemble(out, &h, &cb.tx, txs, lens, n) < 0)
        bench_die("a block over 1 MB: use fewer transactions a block");
}

void bench_tx(mp_buf_t *out, hash32_t *txid, const key_pair_t *key, const hash32_t *prev,
              uint32_t index, const hash20_t *to, size_t n_out, amount_t each)
{
    uint8_t(*locks)[SCRIPT_P2PKH_LOCK_LEN] = bench_xmalloc(n_out * sizeof *locks);
    tx_output_t *outs = bench_xmalloc(n_out * sizeof *outs);
    for (size_t i = 0; i < n_out; i++) {
        script_p2pkh_lock(locks[i], &to[i]);
        outs[i] = (tx_output_t){each, locks[i], SCRIPT_P2PKH_LOCK_LEN};
    }
    tx_input_t in = {.prev_txid = *prev, .index = index};
    tx_t tx = {.version = TX_VERSION, .n_inputs = 1, .inputs = &in, .n_outputs = n_out,
               .outputs = outs};
    uint8_t unlock[1][SCRIPT_P2PKH_UNLOCK_LEN];
    hash32_t id;
    err_t e;
    mp_buf_init(out, TX_MAX_SIZE);
    if (tx_sign_p2pkh(&tx, key, unlock, &e) < 0 || tx_txid(&tx, &id) < 0 ||
        tx_encode(&tx, out, false) < 0)
        bench_die("building a transaction");
    if (txid)
        *txid = id;
    free(outs);
    free(locks);
}

/* --- processes ----------------------------------------------------------- */

int bench_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        bench_die("cannot find a free port");
    close(fd);
    return ntohs(a.sin_port);
}

void bench_tmpdir(char *out, size_t cap, const char *prefix)
{
    const char *base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if ((size_t)snprintf(out, cap, "%s/%s-XXXXXX", base, prefix) >= cap || !mkdtemp(out))
        bench_die("cannot create a directory %s/%s-*: %s", base, prefix, strerror(errno));
}

void bench_rmdir(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "%s: could not remove %s\n", program, dir);
}

pid_t bench_spawn(const char *const *argv, const char *log)
{
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0)
            dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

void bench_wait_port(int port, pid_t pid, const char *what)
{
    for (double end = bench_now() + 10; bench_now() < end; bench_sleep_ms(50)) {
        if (port_open(port))
            return;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            bench_die("%s: it exited", what);
    }
    bench_die("%s within 10 s", what);
}

int bench_stop(pid_t pid, double timeout)
{
    kill(pid, SIGTERM);
    int st = 0;
    for (double end = bench_now() + timeout; bench_now() < end; bench_sleep_ms(50))
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}
