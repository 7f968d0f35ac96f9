#define _XOPEN_SOURCE 700 /* nftw */
#include "builder.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "hex.h"
#include "merkle.h"
#include "rpckey.h"
#include "script.h"
#include "tx.h"

void tb_wallet(tb_wallet_t *w, uint8_t seed_byte)
{
    uint8_t seed[KEY_SEED_LEN];
    memset(seed, seed_byte, sizeof seed);
    err_t e;
    cr_assert_eq(key_from_seed(&w->key, seed, &e), 0);
    hash_hash160(&w->pkh, w->key.pubkey, KEY_PUBKEY_LEN);
}

void tb_demo_wallet(tb_wallet_t *w, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/deploy/demo-keys/%s.pem", CHAIN_SOURCE_DIR, name);
    err_t e;
    cr_assert_eq(key_load_pem(&w->key, path, &e), 0, "%s", e.message);
    hash_hash160(&w->pkh, w->key.pubkey, KEY_PUBKEY_LEN);
}

void tb_cast(tb_wallet_t *albert, tb_wallet_t *bertrand, tb_wallet_t *camille,
             tb_wallet_t *miner, tb_wallet_t *stranger)
{
    tb_demo_wallet(albert, "albert");
    tb_demo_wallet(bertrand, "bertrand");
    tb_demo_wallet(camille, "camille");
    tb_wallet(miner, 0x11);
    tb_wallet(stranger, 0x22);
}

void tb_tx_multi(mp_buf_t *out, hash32_t *txid, const tb_input_t *ins, size_t n_in,
                 const tb_output_t *outs, size_t n_out, int corrupt)
{
    tx_input_t *in = calloc(n_in, sizeof *in);
    tx_output_t *o = calloc(n_out, sizeof *o);
    uint8_t(*unlock)[SCRIPT_P2PKH_UNLOCK_LEN] = calloc(n_in, sizeof *unlock);
    uint8_t(*lock)[SCRIPT_P2PKH_LOCK_LEN] = calloc(n_out, sizeof *lock);
    cr_assert(in && o && unlock && lock);
    for (size_t i = 0; i < n_in; i++)
        in[i] = (tx_input_t){ins[i].txid, ins[i].index, unlock[i], SCRIPT_P2PKH_UNLOCK_LEN};
    for (size_t i = 0; i < n_out; i++) {
        script_p2pkh_lock(lock[i], outs[i].to);
        o[i] = (tx_output_t){outs[i].amount, lock[i], SCRIPT_P2PKH_LOCK_LEN};
    }
    tx_t tx = {.version = TX_VERSION, .n_inputs = n_in, .inputs = in, .n_outputs = n_out,
               .outputs = o};
    hash32_t sighash;
    cr_assert_eq(tx_sighash(&tx, &sighash), 0);
    for (size_t i = 0; i < n_in; i++) {
        uint8_t sig[KEY_SIG_LEN];
        err_t e;
        cr_assert_eq(key_sign(&ins[i].signer->key, sig, sighash.b, 32, &e), 0);
        if ((int)i == corrupt)
            sig[5] ^= 0x01;
        script_p2pkh_unlock(unlock[i], sig, ins[i].signer->key.pubkey);
    }
    cr_assert_eq(tx_txid(&tx, txid), 0);
    cr_assert_eq(tx_encode(&tx, out, false), 0);
    free(in);
    free(o);
    free(unlock);
    free(lock);
}

char *tb_tx_hex(const tx_t *tx, bool blank)
{
    mp_buf_t b;
    mp_buf_init(&b, (size_t)4 << 20);
    cr_assert_eq(tx_encode(tx, &b, blank), 0, "tx_encode failed");
    char *s = malloc(2 * b.len + 1);
    cr_assert_not_null(s);
    hex_encode(s, b.data, b.len);
    mp_buf_free(&b);
    return s;
}

void tb_tx(mp_buf_t *out, hash32_t *txid, const hash32_t *prev_txid, uint32_t index,
           amount_t in_amount, const tb_wallet_t *from, const hash20_t *to, amount_t amount,
           amount_t fee)
{
    cr_assert(amount + fee <= in_amount, "test tx spends more than its input");
    tb_input_t in = {*prev_txid, index, from};
    tb_output_t outs[2] = {{amount, to}, {in_amount - amount - fee, &from->pkh}};
    tb_tx_multi(out, txid, &in, 1, outs, outs[1].amount ? 2 : 1, -1);
}

void tb_block(mp_buf_t *out, hash32_t *hash, hash32_t *coinbase_txid, const hash32_t *parent,
              uint64_t height, uint64_t timestamp, uint32_t bits, const hash20_t *payout,
              amount_t coinbase_value, const uint8_t *const *txs, const size_t *tx_lens,
              size_t n_txs, uint64_t tag)
{
    uint8_t extranonce[8];
    for (int i = 0; i < 8; i++)
        extranonce[i] = (uint8_t)(tag >> (8 * i));
    tx_coinbase_t cb;
    cr_assert_eq(tx_coinbase_build(&cb, height, extranonce, sizeof extranonce, payout,
                                   coinbase_value), 0);
    hash32_t *leaves = malloc((n_txs + 1) * sizeof *leaves);
    cr_assert_not_null(leaves);
    cr_assert_eq(tx_txid(&cb.tx, &leaves[0]), 0);
    if (coinbase_txid)
        *coinbase_txid = leaves[0];
    for (size_t i = 0; i < n_txs; i++)
        hash_sha256d(&leaves[i + 1], txs[i], tx_lens[i]);
    block_header_t h = {.version = BLOCK_VERSION, .previous_block_hash = *parent,
                        .timestamp = timestamp, .bits = bits};
    cr_assert_eq(merkle_root(&h.merkle_root, NULL, leaves, n_txs + 1), 0);
    free(leaves);
    for (;; h.nonce++) {
        block_header_hash(hash, &h);
        if (block_hash_meets(hash, bits))
            break;
    }
    cr_assert_eq(block_assemble(out, &h, &cb.tx, txs, tx_lens, n_txs), 0);
}

void tb_genesis(const chain_params_t *p, hash32_t *hash, hash32_t *txid)
{
    mp_buf_t b;
    mp_buf_init(&b, BLOCK_MAX_SIZE);
    cr_assert_eq(params_genesis_encode(p, &b), 0);
    block_t blk;
    err_t e;
    cr_assert_eq(block_decode(&blk, b.data, b.len, &e), 0);
    block_header_hash(hash, &blk.header);
    *txid = blk.txids[0];
    block_free(&blk);
    mp_buf_free(&b);
}

/* A coin's record in the digest: txid ‖ index (4, BE) ‖ height (8, LE) ‖
 * coinbase (1) ‖ amount (8, LE) ‖ script length (4, LE) ‖ script; its
 * first 36 bytes sort as the store's keys do. */
typedef struct {
    uint8_t *rec;
    size_t len;
    amount_t amount;
} replay_coin_t;

static void put_le(uint8_t *p, uint64_t v, int width)
{
    for (int i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void replay_key(uint8_t key[36], const hash32_t *txid, uint32_t index)
{
    memcpy(key, txid->b, 32);
    for (int i = 0; i < 4; i++)
        key[32 + i] = (uint8_t)(index >> (24 - 8 * i));
}

static replay_coin_t replay_record(const hash32_t *txid, uint32_t index, uint64_t height,
                                   bool coinbase, const tx_output_t *out)
{
    replay_coin_t c = {malloc(57 + out->script_len), 57 + out->script_len, out->amount};
    cr_assert_not_null(c.rec);
    replay_key(c.rec, txid, index);
    put_le(c.rec + 36, height, 8);
    c.rec[44] = coinbase;
    put_le(c.rec + 45, out->amount, 8);
    put_le(c.rec + 53, out->script_len, 4);
    memcpy(c.rec + 57, out->script, out->script_len);
    return c;
}

static int cmp_replay(const void *a, const void *b)
{
    return memcmp(((const replay_coin_t *)a)->rec, ((const replay_coin_t *)b)->rec, 36);
}

/* Applies block b at height to the set (spends, then its outputs). */
static void replay_block(replay_coin_t **set, size_t *len, size_t *cap, const block_t *b,
                         uint64_t height)
{
    for (size_t t = 0; t < b->n_txs; t++) {
        for (size_t i = 0; t > 0 && i < b->txs[t].n_inputs; i++) {
            uint8_t key[36];
            replay_key(key, &b->txs[t].inputs[i].prev_txid, b->txs[t].inputs[i].index);
            size_t j = 0;
            while (j < *len && memcmp((*set)[j].rec, key, 36) != 0)
                j++;
            cr_assert_lt(j, *len, "the chain spends a coin that does not exist");
            free((*set)[j].rec);
            (*set)[j] = (*set)[--*len];
        }
        for (size_t o = 0; o < b->txs[t].n_outputs; o++) {
            if (*len == *cap) {
                *set = realloc(*set, (*cap = *cap ? 2 * *cap : 64) * sizeof **set);
                cr_assert_not_null(*set);
            }
            /* the genesis allocations spend at once: not coinbase coins */
            (*set)[(*len)++] = replay_record(&b->txids[t], (uint32_t)o, height,
                                             height > 0 && t == 0, &b->txs[t].outputs[o]);
        }
    }
}

void tb_utxo_replay(tb_utxo_t *out, const chain_params_t *p, const mp_buf_t *blocks, size_t n)
{
    replay_coin_t *set = NULL;
    size_t len = 0, cap = 0;
    mp_buf_t g;
    mp_buf_init(&g, BLOCK_MAX_SIZE);
    cr_assert_eq(params_genesis_encode(p, &g), 0);
    for (size_t k = 0; k <= n; k++) {
        const mp_buf_t *src = k == 0 ? &g : &blocks[k - 1];
        block_t b;
        err_t e;
        cr_assert_eq(block_decode(&b, src->data, src->len, &e), 0, "block %zu: %s", k, e.message);
        replay_block(&set, &len, &cap, &b, k);
        block_free(&b);
    }
    mp_buf_free(&g);
    qsort(set, len, sizeof *set, cmp_replay);
    mp_buf_t all;
    mp_buf_init(&all, (size_t)1 << 30);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < len; i++) {
        mp_put_raw(&all, set[i].rec, set[i].len);
        out->total += set[i].amount;
        free(set[i].rec);
    }
    cr_assert(mp_buf_ok(&all));
    out->count = len;
    hash_sha256(out->digest, all.data ? all.data : (uint8_t *)"", all.len);
    mp_buf_free(&all);
    free(set);
}

/* Whether a listener could bind 127.0.0.1:port now. */
static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Ports are drawn at random below the kernel's ephemeral range: a port from
 * that range (what bind() to port 0 gives) may be taken as the source port of
 * an outgoing connection, of which the tests make thousands, between the
 * probe and the daemon's own bind. The last ports handed out are not handed
 * out again. */
int tb_free_port(void)
{
    static int recent[32];
    static unsigned n_recent;
    static uint64_t state;
    unsigned lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%u %u", &lo, &hi) != 2)
            lo = 32768;
        fclose(f);
    }
    int first = 10000, last = lo > 20000 ? (int)lo - 1 : 0;
    if (last == 0) { /* an unusual range: above it instead */
        first = hi < 55000 ? (int)hi + 1 : 0;
        last = 65535;
    }
    cr_assert(first > 0, "no room for test ports outside the ephemeral range %u-%u", lo, hi);
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15u;
    }
    for (int tries = 0; tries < 1000; tries++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17; /* xorshift64 */
        int port = first + (int)(state % (uint64_t)(last - first + 1));
        bool handed = false;
        for (unsigned i = 0; i < n_recent && i < 32; i++)
            handed |= recent[i] == port;
        if (!handed && port_free(port)) {
            recent[n_recent++ % 32] = port;
            return port;
        }
    }
    cr_assert_fail("no free port found in %d-%d", first, last);
    return -1;
}

void tb_tmpdir(char out[256])
{
    snprintf(out, 256, "/tmp/chain-test-XXXXXX");
    cr_assert_not_null(mkdtemp(out), "mkdtemp: %s", strerror(errno));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

void tb_rmdir(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

void tb_raise_nofile(unsigned long need)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    cr_assert_geq(rl.rlim_cur, need, "the open-file limit (%lu) is below the %lu the test needs",
                  (unsigned long)rl.rlim_cur, need);
}

char *tb_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s: %s", path, strerror(errno));
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    cr_assert_geq(size, 0);
    rewind(f);
    char *data = malloc((size_t)size + 1);
    cr_assert_not_null(data);
    cr_assert_eq(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    data[size] = '\0';
    if (len)
        *len = (size_t)size;
    return data;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

int tb_poke(const char *path, const uint8_t *marker, size_t mlen, long at, uint8_t value)
{
    size_t size;
    uint8_t *data = (uint8_t *)tb_read_file(path, &size);
    int found = 0;
    for (size_t i = 0; i + mlen <= size; i++)
        if (memcmp(data + i, marker, mlen) == 0) {
            cr_assert((long)i + at >= 0 && (size_t)((long)i + at) < size);
            data[(long)i + at] = value;
            found++;
        }
    write_file(path, data, size);
    free(data);
    return found;
}

void tb_copy_store(const char *from_dir, const char *to_dir)
{
    char from[300], to[300];
    size_t len;
    snprintf(from, sizeof from, "%s/data.mdb", from_dir);
    snprintf(to, sizeof to, "%s/data.mdb", to_dir);
    char *data = tb_read_file(from, &len);
    write_file(to, data, len);
    free(data);
}

void tb_binary(char out[512], const char *relative)
{
    snprintf(out, 512, "%s/%s", CHAIN_BINARY_DIR, relative);
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    tb_http_t *r = arg;
    size_t add = size * n;
    char *grown = realloc(r->body, r->len + add + 1);
    if (!grown)
        return 0;
    r->body = grown;
    memcpy(r->body + r->len, data, add);
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

void tb_http(tb_http_t *r, const char *method, const char *url, const char *body, size_t body_len,
             const char *content_type)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    struct curl_slist *headers = NULL;
    char ct[256];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/json");
    headers = curl_slist_append(headers, ct);
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    if (r->body)
        r->json = json_loads(r->body, 0, NULL);
}

void tb_http_free(tb_http_t *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

long tb_chaind_height(const tb_chaind_t *d, char tip_hex[65])
{
    char url[128];
    tb_http_t r;
    snprintf(url, sizeof url, "%s/status", d->http_url);
    tb_http(&r, "GET", url, NULL, 0, NULL);
    cr_assert_eq(r.status, 200, "GET /status: %ld", r.status);
    long h = (long)json_integer_value(json_object_get(r.json, "height"));
    if (tip_hex)
        snprintf(tip_hex, 65, "%s", json_string_value(json_object_get(r.json, "tip")));
    tb_http_free(&r);
    return h;
}

long tb_post_hex(const char *base_url, const char *route, const uint8_t *data, size_t len,
                 tb_http_t *out)
{
    char *hex = malloc(2 * len + 1), url[256];
    cr_assert_not_null(hex);
    hex_encode(hex, data, len);
    json_t *j = json_pack("{s:s}", "hex", hex);
    char *body = json_dumps(j, JSON_COMPACT);
    snprintf(url, sizeof url, "%s%s", base_url, route);
    tb_http(out, "POST", url, body, strlen(body), NULL);
    free(body);
    json_decref(j);
    free(hex);
    return out->status;
}

static bool healthy(const char *base_url)
{
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", base_url);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 500L);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    bool ok = curl_easy_perform(c) == CURLE_OK &&
              curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200;
    curl_easy_cleanup(c);
    return ok;
}

pid_t tb_spawn(const char *const *argv, const char *log)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

long tb_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

#if defined(__SANITIZE_ADDRESS__)
#define TB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TB_ASAN 1
#endif
#endif

bool tb_asan(void)
{
#ifdef TB_ASAN
    return true;
#else
    return false;
#endif
}

void tb_asan_small_quarantine(void)
{
#ifdef TB_ASAN
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=4:thread_local_quarantine_size_kb=64",
             asan ? asan : "", asan && *asan ? ":" : "");
    cr_assert_eq(setenv("ASAN_OPTIONS", opts, 1), 0);
#endif
}

long tb_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    cr_assert_gt(kib, 0);
    return kib;
}

int tb_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s: %s", path, strerror(errno));
    int n = 0;
    for (struct dirent *x; (x = readdir(d)) != NULL;)
        n += x->d_name[0] != '.';
    closedir(d);
    return n;
}

static size_t sink(char *data, size_t size, size_t n, void *arg)
{
    (void)data, (void)arg;
    return size * n;
}

long tb_status_probe(const tb_chaind_t *d, long timeout_ms, double *took_ms)
{
    char url[128];
    snprintf(url, sizeof url, "%s/status", d->http_url);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *took_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    curl_easy_cleanup(c);
    return status;
}

bool tb_log_mentions(const char *path, long offset, const char *text)
{
    FILE *f = fopen(path, "r");
    char line[512];
    bool found = false;
    if (f && fseek(f, offset, SEEK_SET) == 0)
        while (!found && fgets(line, sizeof line, f))
            found = strstr(line, text) != NULL;
    if (f)
        fclose(f);
    return found;
}

void tb_chaind_start(tb_chaind_t *d, const char *datadir, const char *const *extra_args)
{
    tb_chaind_start_under(d, datadir, extra_args, NULL);
}

void tb_rpc_key(char out[320], const tb_chaind_t *d, const char *role)
{
    snprintf(out, 320, "%s/%s.key", d->keys, role);
}

void *tb_zmq_socket(void *zctx, int type, const char *key_file)
{
    void *s = zmq_socket(zctx, type);
    cr_assert_not_null(s);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    rpckey_client_t key;
    err_t e;
    if (key_file) {
        cr_assert_eq(rpckey_load_client(key_file, &key, &e), 0, "%s", e.message);
        cr_assert_eq(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, key.server_key, RPCKEY_Z85_LEN), 0);
        cr_assert_eq(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, key.pair.public_key,
                                    RPCKEY_Z85_LEN), 0);
        cr_assert_eq(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, key.pair.secret_key,
                                    RPCKEY_Z85_LEN), 0);
    }
    return s;
}

void *tb_zmq_connect(void *zctx, int type, const tb_chaind_t *d, const char *key_file,
                     const char *topic)
{
    void *s = tb_zmq_socket(zctx, type, key_file);
    if (type == ZMQ_SUB && topic)
        cr_assert_eq(zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic)), 0);
    cr_assert_eq(zmq_connect(s, type == ZMQ_SUB ? d->events_endpoint : d->rpc_endpoint), 0);
    return s;
}

void tb_chaind_start_under(tb_chaind_t *d, const char *datadir, const char *const *extra_args,
                           const char *const *prefix)
{
    memset(d, 0, sizeof *d);
    if (datadir && *datadir)
        snprintf(d->datadir, sizeof d->datadir, "%s", datadir);
    else
        tb_tmpdir(d->datadir);
    snprintf(d->keys, sizeof d->keys, "%s/rpc", d->datadir);
    cr_assert(mkdir(d->datadir, 0700) == 0 || errno == EEXIST, "cannot create %s", d->datadir);
    char log[300];
    snprintf(log, sizeof log, "%s/chaind.log", d->datadir);
    /* a port free when drawn may be bound by another test's daemon before
     * ours binds it: draw again when that is why chaind stopped */
    for (int attempt = 0; attempt < 3; attempt++) {
        d->http_port = tb_free_port();
        d->rpc_port = tb_free_port();
        d->events_port = tb_free_port();
        snprintf(d->http_url, sizeof d->http_url, "http://127.0.0.1:%d", d->http_port);
        snprintf(d->rpc_endpoint, sizeof d->rpc_endpoint, "tcp://127.0.0.1:%d", d->rpc_port);
        snprintf(d->events_endpoint, sizeof d->events_endpoint, "tcp://127.0.0.1:%d",
                 d->events_port);
        char bin[512], http[64];
        tb_binary(bin, "chaind/chaind");
        snprintf(http, sizeof http, "127.0.0.1:%d", d->http_port);
        const char *argv[80];
        int argc = 0;
        for (int i = 0; prefix && prefix[i] && argc < 8; i++)
            argv[argc++] = prefix[i];
        const char *own[] = {bin, "--network", "regtest", "--datadir", d->datadir, "--http",
                             http, "--rpc", d->rpc_endpoint, "--events", d->events_endpoint,
                             "--verify-threads", "2"};
        for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
            argv[argc++] = own[i];
        for (int i = 0; extra_args && extra_args[i] && argc < 78; i++)
            argv[argc++] = extra_args[i];
        argv[argc] = NULL;
        long log_start = tb_file_size(log); /* a restart appends to the same log */
        pid_t pid = tb_spawn(argv, log);
        d->pid = pid;
        bool exited = false;
        for (int i = 0; i < 200 && !exited; i++) {
            if (healthy(d->http_url))
                return;
            int status;
            pid_t w = waitpid(pid, &status, WNOHANG);
            cr_assert_geq(w, 0);
            exited = w == pid;
            struct timespec ts = {0, 50 * 1000000};
            nanosleep(&ts, NULL);
        }
        cr_assert(exited, "chaind did not answer /healthz within 10 s (see %s)", log);
        d->pid = 0;
        cr_assert(tb_log_mentions(log, log_start, "Address already in use"),
                  "chaind exited at start (see %s)", log);
    }
    cr_assert_fail("chaind found its ports taken three times (see %s)", log);
}

/* A sanitizer build of chaind writes its reports to its log: fail on any. */
static void check_log(const char *datadir)
{
    char path[300], line[512];
    snprintf(path, sizeof path, "%s/chaind.log", datadir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        cr_assert(!strstr(line, "ERROR: LeakSanitizer") && !strstr(line, "ERROR: AddressSanitizer") &&
                      !strstr(line, "runtime error:"),
                  "chaind's log %s has a sanitizer report: %s", path, line);
    fclose(f);
}

int tb_chaind_stop(tb_chaind_t *d)
{
    int status = -1;
    kill(d->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = 0;
            check_log(d->datadir);
            return status;
        }
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
    d->pid = 0;
    cr_assert_fail("chaind did not stop within 10 s of SIGTERM");
    return status;
}

void tb_chaind_kill(tb_chaind_t *d)
{
    kill(d->pid, SIGKILL);
    int status;
    waitpid(d->pid, &status, 0);
    d->pid = 0;
}
