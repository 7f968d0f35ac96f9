/* minerd against a real chaind (regtest) on loopback ports: a found block is
 * accepted and pays the payout the subsidy plus the fees; two miners on one
 * chaind find distinct blocks from distinct extranonces; a miner survives a
 * chaind restart; it reports its hash rate and speaks sd_notify; the flags
 * and SIGTERM behave. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "hex.h"
#include "log.h"

#define SUBSIDY ((amount_t)625000000)
#define FEE ((amount_t)10000)

typedef struct {
    pid_t pid;
    char log[320];
    char key[320]; /* the miner key chaind made */
} miner_t;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Runs build/minerd/minerd with args (NULL-terminated), stderr to log. */
static pid_t spawn(const char *log, const char *const *args)
{
    char bin[512];
    const char *argv[32] = {bin};
    int argc = 1;
    tb_binary(bin, "minerd/minerd");
    for (int i = 0; args[i] && argc < 31; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    return tb_spawn(argv, log);
}

/* A miner on chaind d paying pkh; extra flags (NULL-terminated) may follow. */
static void miner_start(miner_t *m, const tb_chaind_t *d, const hash20_t *pkh, const char *name,
                        const char *const *extra)
{
    char payout[41];
    hex_encode(payout, pkh->b, 20);
    snprintf(m->log, sizeof m->log, "%s.%s.log", d->datadir, name);
    tb_rpc_key(m->key, d, "miner");
    const char *args[24] = {"--network", "regtest", "--rpc", d->rpc_endpoint, "--events",
                            d->events_endpoint, "--payout", payout, "--worker", name,
                            "--log-level", "debug", "--rpc-key", m->key};
    int n = 14;
    for (int i = 0; extra && extra[i] && n < 23; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    m->pid = spawn(m->log, args);
}

/* SIGTERM; the exit status (asserts it ends within 10 s). */
static int miner_stop(miner_t *m)
{
    int status = -1;
    kill(m->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(m->pid, &status, WNOHANG) == m->pid)
            return status;
        sleep_ms(50);
    }
    kill(m->pid, SIGKILL);
    waitpid(m->pid, &status, 0);
    cr_assert_fail("minerd did not stop within 10 s of SIGTERM (see %s)", m->log);
    return status;
}

/* The whole log, malloc'd and NUL-terminated. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    char *text = NULL;
    size_t len = 0, cap = 0, got;
    char chunk[4096];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + got + 1 > cap) {
            cap = 2 * (len + got + 1);
            text = realloc(text, cap);
            cr_assert_not_null(text);
        }
        memcpy(text + len, chunk, got);
        len += got;
    }
    fclose(f);
    if (!text)
        text = calloc(1, 1);
    text[len] = '\0';
    return text;
}

static bool log_has(const char *path, const char *needle)
{
    char *text = slurp(path);
    bool has = strstr(text, needle) != NULL;
    free(text);
    return has;
}

static json_t *get_json(const tb_chaind_t *d, const char *route)
{
    char url[256];
    tb_http_t r;
    snprintf(url, sizeof url, "%s%s", d->http_url, route);
    tb_http(&r, "GET", url, NULL, 0, NULL);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", route, r.status, r.body ? r.body : "");
    json_t *j = json_incref(r.json);
    tb_http_free(&r);
    cr_assert_not_null(j);
    return j;
}

static uint64_t height(const tb_chaind_t *d)
{
    json_t *s = get_json(d, "/status");
    uint64_t h = (uint64_t)json_integer_value(json_object_get(s, "height"));
    json_decref(s);
    return h;
}

/* Waits (at most seconds) until the chain is at least h high. */
static void wait_height(const tb_chaind_t *d, uint64_t h, int seconds, const miner_t *m)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (height(d) >= h)
            return;
        sleep_ms(100);
    }
    cr_assert_fail("height %llu not reached in %d s (at %llu; see %s)", (unsigned long long)h,
                   seconds, (unsigned long long)height(d), m->log);
}

/* albert's 40 genesis coins: 1 coin to a stranger, FEE to the miner. */
static void post_tx(const tb_chaind_t *d)
{
    const chain_params_t *p = params_by_name("regtest");
    tb_wallet_t albert, stranger;
    hash32_t genesis, gtx, txid;
    tb_demo_wallet(&albert, "albert");
    tb_wallet(&stranger, 9);
    tb_genesis(p, &genesis, &gtx);
    mp_buf_t tx;
    mp_buf_init(&tx, 1 << 20);
    tb_tx(&tx, &txid, &gtx, 0, 40 * AMOUNT_COIN, &albert, &stranger.pkh, AMOUNT_COIN, FEE);
    tb_http_t r;
    cr_assert_eq(tb_post_hex(d->http_url, "/transactions", tx.data, tx.len, &r), 200, "%s",
                 r.body ? r.body : "");
    tb_http_free(&r);
    mp_buf_free(&tx);
}

Test(minerd, found_block_pays_subsidy_and_fees, .timeout = 120)
{
    tb_chaind_t d;
    tb_chaind_start(&d, "", NULL);
    tb_wallet_t payee;
    tb_wallet(&payee, 77);
    char hex[41], route[64];
    hex_encode(hex, payee.pkh.b, 20);
    snprintf(route, sizeof route, "/utxo/%s", hex);

    miner_t m;
    const char *const extra[] = {"--threads", "2", NULL};
    miner_start(&m, &d, &payee.pkh, "miner", extra);
    sleep_ms(500);
    cr_assert_eq(height(&d), 0, "an empty block was mined without --empty-blocks");
    post_tx(&d);

    json_t *u = NULL;
    for (int i = 0; i < 300; i++) {
        json_decref(u);
        u = get_json(&d, route);
        if (json_integer_value(json_object_get(u, "total")) > 0)
            break;
        sleep_ms(100);
    }
    cr_assert_eq((amount_t)json_integer_value(json_object_get(u, "total")), SUBSIDY + FEE,
                 "the payout got %lld (see %s)",
                 (long long)json_integer_value(json_object_get(u, "total")), m.log);
    json_t *utxos = json_object_get(u, "utxos");
    cr_assert_eq(json_array_size(utxos), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(utxos, 0), "height")), 1);
    json_decref(u);

    /* the mempool is empty again: the miner waits instead of mining empty blocks */
    sleep_ms(1000);
    cr_assert_eq(height(&d), 1);
    int status = miner_stop(&m);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "minerd exit status %d", status);
    cr_assert(log_has(m.log, "accepted"), "no accepted block in %s", m.log);
    cr_assert(log_has(m.log, "has no transactions"), "the idle policy was not logged");
    cr_assert_eq(tb_chaind_stop(&d), 0);
    tb_rmdir(d.datadir);
}

/* The 8 random extranonce bytes a miner logs at start, as hex. */
static void prefix_of(const char *log, char out[17])
{
    char *text = slurp(log), *at = strstr(text, "extranonce prefix ");
    cr_assert_not_null(at, "no extranonce prefix in %s", log);
    memcpy(out, at + strlen("extranonce prefix "), 16);
    out[16] = '\0';
    free(text);
}

Test(minerd, two_miners_find_distinct_blocks, .timeout = 180)
{
    tb_chaind_t d;
    tb_chaind_start(&d, "", NULL);
    tb_wallet_t a, b;
    tb_wallet(&a, 81);
    tb_wallet(&b, 82);
    miner_t ma, mb;
    const char *const extra[] = {"--threads", "1", "--empty-blocks", NULL};
    miner_start(&ma, &d, &a.pkh, "miner-a", extra);
    miner_start(&mb, &d, &b.pkh, "miner-b", extra);
    wait_height(&d, 30, 60, &ma);
    int sa = miner_stop(&ma), sb = miner_stop(&mb);
    cr_assert(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
    cr_assert(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);

    char pa[17], pb[17];
    prefix_of(ma.log, pa);
    prefix_of(mb.log, pb);
    cr_assert_str_neq(pa, pb, "two miners drew the same extranonce prefix");

    /* every main-chain coinbase: distinct txids, extranonces from one of the
     * two miners, and no extranonce twice */
    json_t *blocks = get_json(&d, "/block?limit=1000");
    size_t n = json_array_size(blocks), from_a = 0, from_b = 0;
    cr_assert_geq(n, 31);
    char (*txids)[65] = calloc(n, sizeof *txids), (*nonces)[25] = calloc(n, sizeof *nonces);
    cr_assert(txids && nonces);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *blk = json_array_get(blocks, i);
        if (json_integer_value(json_object_get(json_object_get(blk, "header"), "height")) == 0)
            continue; /* genesis */
        json_t *cb = json_array_get(json_object_get(blk, "transactions"), 0);
        const char *txid = json_string_value(json_object_get(cb, "transaction_hash"));
        const char *script = json_string_value(json_object_get(
            json_array_get(json_object_get(cb, "inputs"), 0), "unlocking_script"));
        cr_assert(txid && script);
        /* "<height, 16 hex> <extranonce, 24 hex>" */
        const char *space = strchr(script, ' ');
        cr_assert(space && strlen(space + 1) == 24, "coinbase script %s", script);
        for (size_t j = 0; j < k; j++) {
            cr_assert_str_neq(txids[j], txid, "two blocks share the coinbase %s", txid);
            cr_assert_str_neq(nonces[j], space + 1, "an extranonce used twice: %s", space + 1);
        }
        snprintf(txids[k], 65, "%s", txid);
        snprintf(nonces[k], 25, "%s", space + 1);
        k++;
        from_a += strncmp(space + 1, pa, 16) == 0;
        from_b += strncmp(space + 1, pb, 16) == 0;
    }
    cr_log_info("main chain: %zu blocks by miner a, %zu by miner b", from_a, from_b);
    cr_assert_eq(from_a + from_b, k, "a coinbase from neither miner");
    cr_assert_gt(from_a, 0, "miner a never got a block in (see %s)", ma.log);
    cr_assert_gt(from_b, 0, "miner b never got a block in (see %s)", mb.log);
    free(txids);
    free(nonces);
    json_decref(blocks);
    cr_assert_eq(tb_chaind_stop(&d), 0);
    tb_rmdir(d.datadir);
}

Test(minerd, survives_a_chaind_restart, .timeout = 180)
{
    tb_chaind_t d;
    tb_chaind_start(&d, "", NULL);
    tb_wallet_t payee;
    tb_wallet(&payee, 83);
    miner_t m;
    const char *const extra[] = {"--threads", "1", "--empty-blocks", NULL};
    miner_start(&m, &d, &payee.pkh, "miner", extra);
    wait_height(&d, 3, 60, &m);
    cr_assert_eq(tb_chaind_stop(&d), 0);
    sleep_ms(1500);
    cr_assert(log_has(m.log, "no job"), "chaind's loss was not logged (see %s)", m.log);

    /* the same data and sockets, a new process: job ids start over */
    char dir[256], rpc[64], events[64];
    snprintf(dir, sizeof dir, "%s", d.datadir);
    snprintf(rpc, sizeof rpc, "%s", d.rpc_endpoint);
    snprintf(events, sizeof events, "%s", d.events_endpoint);
    const char *const again[] = {"--rpc", rpc, "--events", events, NULL};
    tb_chaind_start(&d, dir, again);
    uint64_t h = height(&d);
    wait_height(&d, h + 3, 60, &m);
    int status = miner_stop(&m);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(tb_chaind_stop(&d), 0);
    tb_rmdir(d.datadir);
}

/* A notify socket as systemd's: minerd reads NOTIFY_SOCKET and WATCHDOG_USEC
 * from its environment. Collects what arrives within ms into text. */
static void drain_notify(int fd, char *text, size_t cap, unsigned ms)
{
    struct timeval tv = {0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t len = strlen(text);
    for (unsigned waited = 0; waited < ms; waited += 100) {
        char msg[256];
        ssize_t n = recv(fd, msg, sizeof msg - 1, 0);
        if (n > 0 && len + (size_t)n + 2 < cap) {
            memcpy(text + len, msg, (size_t)n);
            len += (size_t)n;
            text[len++] = '\n';
            text[len] = '\0';
        }
    }
}

Test(minerd, reports_hashrate_and_notifies_systemd, .timeout = 120)
{
    tb_chaind_t d;
    tb_chaind_start(&d, "", NULL);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "/tmp/minerd-notify-%d", (int)getpid());
    remove(addr.sun_path);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    setenv("NOTIFY_SOCKET", addr.sun_path, 1);
    setenv("WATCHDOG_USEC", "1000000", 1);

    tb_wallet_t payee;
    tb_wallet(&payee, 84);
    miner_t m;
    const char *const extra[] = {"--threads", "1", "--empty-blocks", NULL};
    miner_start(&m, &d, &payee.pkh, "miner", extra);
    char notes[8192] = "";
    drain_notify(fd, notes, sizeof notes, 11500); /* past the first 10 s report */
    json_t *st = get_json(&d, "/status");
    json_int_t rate = json_integer_value(json_object_get(st, "hashrate"));
    json_decref(st);
    cr_log_info("chaind reports %lld hashes/s", (long long)rate);
    cr_assert_gt(rate, 0, "no hash rate reached chaind (see %s)", m.log);
    int status = miner_stop(&m);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    drain_notify(fd, notes, sizeof notes, 300);
    cr_assert_not_null(strstr(notes, "READY=1"), "notes: %s", notes);
    cr_assert_not_null(strstr(notes, "WATCHDOG=1"), "notes: %s", notes);
    cr_assert_not_null(strstr(notes, "STOPPING=1"), "notes: %s", notes);
    close(fd);
    remove(addr.sun_path);
    cr_assert_eq(tb_chaind_stop(&d), 0);
    tb_rmdir(d.datadir);
}

Test(minerd, flags)
{
    char log[300];
    snprintf(log, sizeof log, "/tmp/minerd-flags-%d.log", (int)getpid());
    const struct {
        const char *args[6];
        int exit;
    } cases[] = {
        {{"--help", NULL}, 0},
        {{"--version", NULL}, 0},
        {{"--network", "regtest", NULL}, 2},             /* regtest needs --payout */
        {{"--network", "mainnet", NULL}, 2},
        {{"--kernel", "sse2", NULL}, 2},
        {{"--threads", "0", NULL}, 2},
        {{"--payout", "not-an-address", NULL}, 2},
        {{"--bogus", NULL}, 2},
        {{"--benchmark", "--seconds", "1", "--threads", "1", NULL}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int status;
        pid_t pid = spawn(log, cases[i].args);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == cases[i].exit,
                  "minerd %s %s: status %d, expected exit %d (see %s)", cases[i].args[0],
                  cases[i].args[1] ? cases[i].args[1] : "", status, cases[i].exit, log);
    }
    cr_assert(log_has(log, "ratio"), "the benchmark printed no table");
    cr_assert(log_has(log, "job switch"));
    remove(log);
}
