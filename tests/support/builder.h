/* Test support: builds valid regtest transactions and blocks, starts daemons
 * on free loopback ports, and speaks HTTP (libcurl) and ZeroMQ requests.
 * Everything aborts the test (criterion assert) on failure: a helper that
 * fails is a broken test, not a result. */
#ifndef CHAIN_TEST_BUILDER_H
#define CHAIN_TEST_BUILDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "amount.h"
#include "block.h"
#include "hash.h"
#include "key.h"
#include "mp.h"
#include "params.h"

typedef struct {
    key_pair_t key;
    hash20_t pkh;
} tb_wallet_t;

/* A wallet from a fixed seed byte (deterministic keys for tests). */
void tb_wallet(tb_wallet_t *w, uint8_t seed_byte);
/* A demo user's wallet from deploy/demo-keys/<name>.pem. */
void tb_demo_wallet(tb_wallet_t *w, const char *name);
/* The chain tests' cast: three demo users, a miner (seed 0x11) and a
 * stranger (0x22), the same keys in every file. */
void tb_cast(tb_wallet_t *albert, tb_wallet_t *bertrand, tb_wallet_t *camille,
             tb_wallet_t *miner, tb_wallet_t *stranger);

/* An input of tb_tx_multi(): the coin and the wallet that signs for it. */
typedef struct {
    hash32_t txid;
    uint32_t index;
    const tb_wallet_t *signer;
} tb_input_t;

/* An output of tb_tx_multi(): P2PKH to `to`. */
typedef struct {
    amount_t amount;
    const hash20_t *to;
} tb_output_t;

/* A P2PKH transaction, each input signed by its signer over the sighash;
 * corrupt >= 0 flips a bit of that input's signature (a forged spend).
 * Appends the encoding to out; *txid. */
void tb_tx_multi(mp_buf_t *out, hash32_t *txid, const tb_input_t *ins, size_t n_in,
                 const tb_output_t *outs, size_t n_out, int corrupt);

/* A signed P2PKH transaction spending prev_txid:index (worth in_amount, owned
 * by from) paying `amount` to `to` and the rest minus fee back to from (no
 * change output when nothing is left). Appends the encoding to out; *txid. */
void tb_tx(mp_buf_t *out, hash32_t *txid, const hash32_t *prev_txid, uint32_t index,
           amount_t in_amount, const tb_wallet_t *from, const hash20_t *to, amount_t amount,
           amount_t fee);

/* A block on parent (hash, height) with the given txs (encodings), a coinbase
 * paying coinbase_value to payout with extranonce `tag` (so sibling blocks
 * differ), timestamp and bits; the nonce is ground until the proof of work
 * holds. Appends the encoding to out; *hash, and *coinbase_txid if not NULL. */
void tb_block(mp_buf_t *out, hash32_t *hash, hash32_t *coinbase_txid, const hash32_t *parent,
              uint64_t height, uint64_t timestamp, uint32_t bits, const hash20_t *payout,
              amount_t coinbase_value, const uint8_t *const *txs, const size_t *tx_lens,
              size_t n_txs, uint64_t tag);

/* The canonical encoding of tx as lowercase hex (blank: the sighash
 * preimage), malloc'd: the caller frees. */
char *tb_tx_hex(const tx_t *tx, bool blank);

/* The regtest genesis: its hash and the txid of its allocation transaction
 * (outputs 0..3: albert 40, bertrand 30, camille 10, camille 5 coins). */
void tb_genesis(const chain_params_t *p, hash32_t *hash, hash32_t *txid);

/* The UTXO set the main chain genesis, blocks[0..n) (the encodings of
 * heights 1..n) leaves, as an outside checker recomputes it from
 * docs/PROTOCOL.md "UTXO-set digest": its coin count, total and digest. */
typedef struct {
    uint64_t count, total;
    uint8_t digest[32];
} tb_utxo_t;
void tb_utxo_replay(tb_utxo_t *out, const chain_params_t *p, const mp_buf_t *blocks, size_t n);

/* --- processes ------------------------------------------------------------ */
/* A free TCP port on 127.0.0.1 outside the kernel's ephemeral range (so no
 * outgoing connection takes it before the daemon binds it); never one of the
 * last 32 handed out. */
int tb_free_port(void);
/* A new empty directory under /tmp; the caller removes it (tb_rmdir). */
void tb_tmpdir(char out[256]);
void tb_rmdir(const char *dir);
/* Raises this process's open-file soft limit to its hard limit; fails the
 * test when that is below need (a test that opens more sockets than that). */
void tb_raise_nofile(unsigned long need);
/* A whole file, NUL-terminated (malloc'd: the caller frees); *len (may be
 * NULL) its size. */
char *tb_read_file(const char *path, size_t *len);
/* Rewrites path with the byte at offset `at` from each copy of marker set
 * to value (corrupting a record on purpose); returns how many copies. */
int tb_poke(const char *path, const uint8_t *marker, size_t mlen, long at, uint8_t value);
/* Copies a store's data file (from_dir/data.mdb) into to_dir: what a kill
 * -9 at this moment would leave, when no write is under way. */
void tb_copy_store(const char *from_dir, const char *to_dir);
/* The path of a built binary: CHAIN_BINARY_DIR "/chaind/chaind" etc. */
void tb_binary(char out[512], const char *relative);

/* Starts argv[0] (argv NULL-terminated) with stdout and stderr appended to
 * log; returns its pid. */
pid_t tb_spawn(const char *const *argv, const char *log);

typedef struct {
    pid_t pid;
    char datadir[256];
    char keys[300]; /* its key set: <datadir>/rpc */
    int http_port, rpc_port, events_port;
    char http_url[64], rpc_endpoint[64], events_endpoint[64];
} tb_chaind_t;

/* Starts chaind (regtest unless extra args say otherwise) on free ports with
 * datadir (created if empty string: a new temporary one), stderr to
 * <datadir>/chaind.log, and waits until /healthz answers (10 s at most). */
void tb_chaind_start(tb_chaind_t *d, const char *datadir, const char *const *extra_args);
/* The same, chaind's command line after prefix (NULL-terminated; NULL:
 * none), e.g. {"/usr/bin/prlimit", "--nofile=1024", NULL}, which must exec
 * chaind in its own process. */
void tb_chaind_start_under(tb_chaind_t *d, const char *datadir, const char *const *extra_args,
                           const char *const *prefix);

/* The key file chaind made for role ("gossip", "miner", "subscriber"). */
void tb_rpc_key(char out[320], const tb_chaind_t *d, const char *role);
/* A socket of type with linger 0 and the CURVE key of the file key_file
 * (NULL: none), as gossipd's and minerd's, not connected yet. */
void *tb_zmq_socket(void *zctx, int type, const char *key_file);
/* tb_zmq_socket() connected: a ZMQ_DEALER to d's rpc endpoint, a ZMQ_SUB to
 * its events, subscribed to topic (NULL: nothing yet). */
void *tb_zmq_connect(void *zctx, int type, const tb_chaind_t *d, const char *key_file,
                     const char *topic);
/* SIGTERM and wait; returns the exit status (asserts it ends within 10 s). */
int tb_chaind_stop(tb_chaind_t *d);
/* SIGKILL and reap. */
void tb_chaind_kill(tb_chaind_t *d);
/* GET /status: the tip's height, and its hash into tip_hex (may be NULL). */
long tb_chaind_height(const tb_chaind_t *d, char tip_hex[65]);

/* What a test measures of a daemon: its resident memory (KiB, from
 * /proc/PID/status), its open descriptors, and a file's size (0 when absent). */
long tb_rss_kib(pid_t pid);
int tb_fd_count(pid_t pid);
long tb_file_size(const char *path);
/* Whether the file at path has, past offset, a line holding text. */
bool tb_log_mentions(const char *path, long offset, const char *text);
/* Under AddressSanitizer, a small quarantine for the daemons started next
 * (ASAN_OPTIONS): freed memory it holds back (256 MiB by default) reads as
 * growth. Nothing otherwise. */
void tb_asan_small_quarantine(void);
/* Whether the tests run under AddressSanitizer (its allocator keeps more). */
bool tb_asan(void);

/* --- HTTP ------------------------------------------------------------------ */
typedef struct {
    long status;
    char *body;  /* NUL-terminated, malloc'd */
    size_t len;
    json_t *json; /* parsed body or NULL */
} tb_http_t;

/* One request; body may be NULL; content_type NULL means application/json. */
void tb_http(tb_http_t *r, const char *method, const char *url, const char *body, size_t body_len,
             const char *content_type);
void tb_http_free(tb_http_t *r);
/* GET /status within timeout_ms: the HTTP status (0 when none came) and the
 * milliseconds it took. */
long tb_status_probe(const tb_chaind_t *d, long timeout_ms, double *took_ms);
/* POST /transactions {"hex": ...} or POST /block {"hex": ...}: the status. */
long tb_post_hex(const char *base_url, const char *route, const uint8_t *data, size_t len,
                 tb_http_t *out);

#endif
