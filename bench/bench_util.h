/* bench_util: what the benchmarks share — the clock, dying with a message,
 * the signature-verification bounds, block and transaction builders, and
 * starting and stopping daemons on free loopback ports.
 *
 * A bench is a program, not a library: every helper that can fail prints
 * "<program>: <why>" to stderr and exits 1 (the run is void, not a result). */
#ifndef CHAIN_BENCH_UTIL_H
#define CHAIN_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "amount.h"
#include "hash.h"
#include "key.h"
#include "mp.h"
#include "params.h"

/* The name in front of every message; call first in main(). */
void bench_init(const char *program);
/* Monotonic seconds (common/clock.h). */
double bench_now(void);
void bench_sleep_ms(long ms);
void bench_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* malloc that dies instead of returning NULL; n == 0 is allowed. */
void *bench_xmalloc(size_t n);

/* --- the verification bounds --------------------------------------------- */
typedef enum { BENCH_LIBSODIUM, BENCH_OPENSSL } bench_verifier_t;

/* "libsodium" or "OpenSSL". */
const char *bench_verifier_name(bench_verifier_t v);
/* Ed25519 verifications a second, summed over `threads` threads checking for
 * `seconds`, each cycling through n_keys distinct keys (each with its own
 * signature of its own 32-byte message), as a chain with n_keys owners
 * presents them. The library is called directly, no wrapper of ours:
 * libsodium's crypto_sign_verify_detached, or OpenSSL's EVP_DigestVerify on
 * keys built before the clock starts (its best case with many keys). */
double bench_verify_rate(bench_verifier_t v, unsigned threads, size_t n_keys, double seconds);

/* A bound measured before and after a run: on a shared machine their mean
 * is what the run competed with. */
typedef struct {
    double before, after;
} bench_bound_t;

double bench_bound_mean(bench_bound_t b);

/* --- building ------------------------------------------------------------ */
/* Network p's genesis: its hash, the txid of its transaction, its timestamp
 * (each may be NULL). */
void bench_genesis(const chain_params_t *p, hash32_t *hash, hash32_t *txid, uint64_t *timestamp);
/* A block on parent at height: a coinbase paying value to payout, then the
 * n transaction encodings; timestamp and bits as given, the nonce ground
 * until the proof of work holds. Initialises *out (the caller frees it);
 * *hash, and *coinbase_txid when not NULL. */
void bench_block(mp_buf_t *out, hash32_t *hash, hash32_t *coinbase_txid, const hash32_t *parent,
                 uint64_t height, uint64_t timestamp, uint32_t bits, const hash20_t *payout,
                 amount_t value, const uint8_t *const *txs, const size_t *lens, size_t n);
/* A one-input P2PKH transaction: prev:index, signed by key, into n_out
 * outputs, output i paying `each` to to[i]. Initialises *out (the caller
 * frees it); *txid when not NULL. */
void bench_tx(mp_buf_t *out, hash32_t *txid, const key_pair_t *key, const hash32_t *prev,
              uint32_t index, const hash20_t *to, size_t n_out, amount_t each);

/* --- processes ----------------------------------------------------------- */
/* A TCP port free on 127.0.0.1 a moment ago. */
int bench_free_port(void);
/* A new directory $TMPDIR/<prefix>-XXXXXX ($TMPDIR: /tmp when unset), its
 * path in out (cap bytes). TMPDIR=/dev/shm puts a bench's stores on tmpfs,
 * where a sync costs nothing: what is left is the software's cost. */
void bench_tmpdir(char *out, size_t cap, const char *prefix);
/* rm -rf dir; a warning when that fails. */
void bench_rmdir(const char *dir);
/* Starts argv[0] (argv NULL-terminated) with stderr appended to log. */
pid_t bench_spawn(const char *const *argv, const char *log);
/* Waits (10 s at most) until 127.0.0.1:port accepts a connection; dies
 * saying `what` when it does not, or at once when pid has exited. */
void bench_wait_port(int port, pid_t pid, const char *what);
/* SIGTERM, then up to timeout seconds for the exit; SIGKILL after that.
 * The exit status, or -1 when it had to be killed or died of a signal. */
int bench_stop(pid_t pid, double timeout);

#endif
