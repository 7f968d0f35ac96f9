/* The control plane (DESIGN §1; docs/PROTOCOL.md, "Control plane") against
 * the real chaind: floods of silent TCP connections under a 1 024-descriptor
 * limit, requests sent with no key, a stranger's key and a miner's key,
 * subscribers that never read, a key added while chaind runs, and clients
 * whose key is missing or refused.
 *
 * Every attack is watched the same way (watch_t): GET /status keeps
 * answering within STATUS_MS, chaind's memory stays under the attack's bound
 * and its log under LOG_BYTES, and what it shows (height, peers, hash rate,
 * the peer table) is what it was. The numbers each test measured are logged
 * (cr_log_info). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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

#include "builder.h"
#include "proto.h"
#include "rpckey.h"
#include "zmqopt.h"

#define STATUS_MS 2000        /* the slowest /status an attack may cause */
#define LOG_BYTES (64 << 10)  /* what an attack may add to chaind's log */
#define FLOOD 1100            /* silent connections, against a limit of 1 024 */
#define SUBSCRIBERS 600
#define CAP 64                /* chaind's default --max-rpc-connections, --max-subscribers */
#define OVERSHOOT 256         /* accepts before the cap acts, in RPC_FD_RESERVE */
#define SUB_MEMORY_KIB (64 << 10) /* the subscribers' bound (PROTOCOL.md) */
/* what the allocator may keep beside a bound: more under AddressSanitizer
 * (redzones, shadow, what it keeps of freed memory) */
#define SLACK_KIB (tb_asan() ? 64L << 10 : 16L << 10)

static tb_chaind_t daemon_;

static void reap(void)
{
    if (daemon_.pid)
        tb_chaind_kill(&daemon_);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* --- what chaind shows ------------------------------------------------------ */

typedef struct {
    json_int_t height, peers, hashrate;
    size_t known; /* entries of /known_node_request */
} shown_t;

static json_int_t field(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    cr_assert(json_is_integer(v), "/status lacks %s", key);
    return json_integer_value(v);
}

static void shown(const tb_chaind_t *d, shown_t *s)
{
    char url[128];
    tb_http_t r;
    snprintf(url, sizeof url, "%s/status", d->http_url);
    tb_http(&r, "GET", url, NULL, 0, NULL);
    cr_assert_eq(r.status, 200);
    s->height = field(r.json, "height");
    s->peers = field(r.json, "peers");
    s->hashrate = field(r.json, "hashrate");
    tb_http_free(&r);
    snprintf(url, sizeof url, "%s/known_node_request", d->http_url);
    tb_http(&r, "GET", url, NULL, 0, NULL);
    cr_assert(r.status == 200 && json_is_array(r.json));
    s->known = json_array_size(r.json);
    tb_http_free(&r);
}

/* --- watching an attack ------------------------------------------------------ */

typedef struct {
    tb_chaind_t *d;
    char log[300];
    long rss0, log0, peak_rss;
    int peak_fds, probes;
    double worst_ms;
    shown_t before;
} watch_t;

static void watch_begin(watch_t *w, tb_chaind_t *d)
{
    memset(w, 0, sizeof *w);
    w->d = d;
    snprintf(w->log, sizeof w->log, "%.200s/chaind.log", d->datadir);
    w->rss0 = w->peak_rss = tb_rss_kib(d->pid);
    w->log0 = tb_file_size(w->log);
    w->peak_fds = tb_fd_count(d->pid);
    shown(d, &w->before);
}

/* One look: /status must answer, and in time. */
static void watch_probe(watch_t *w)
{
    double took;
    long status = tb_status_probe(w->d, 10000, &took);
    cr_assert_eq(status, 200, "probe %d: GET /status answered %ld after %.0f ms", w->probes,
                 status, took);
    cr_assert_lt(took, STATUS_MS, "probe %d: GET /status took %.0f ms", w->probes, took);
    w->worst_ms = took > w->worst_ms ? took : w->worst_ms;
    long rss = tb_rss_kib(w->d->pid);
    int fds = tb_fd_count(w->d->pid);
    w->peak_rss = rss > w->peak_rss ? rss : w->peak_rss;
    w->peak_fds = fds > w->peak_fds ? fds : w->peak_fds;
    w->probes++;
}

static void watch_for(watch_t *w, long ms)
{
    for (double end = now_ms() + (double)ms; now_ms() < end; sleep_ms(100))
        watch_probe(w);
}

/* The attack's verdict: memory within rss_bound_kib of the start, the log
 * within LOG_BYTES, state as it was (the hash rate as want_hashrate). */
static void watch_end(watch_t *w, const char *what, long rss_bound_kib, json_int_t want_hashrate)
{
    long grew = tb_file_size(w->log) - w->log0;
    cr_log_info("%s: %d probes, slowest /status %.1f ms; chaind's descriptors at most %d; RSS "
                "%ld KiB at start, %ld at most; log +%ld bytes", what, w->probes, w->worst_ms,
                w->peak_fds, w->rss0, w->peak_rss, grew);
    cr_assert_leq(w->peak_rss - w->rss0, rss_bound_kib, "%s: chaind grew from %ld to %ld KiB",
                  what, w->rss0, w->peak_rss);
    cr_assert_leq(grew, LOG_BYTES, "%s: chaind's log grew by %ld bytes (see %s)", what, grew,
                  w->log);
    shown_t after;
    shown(w->d, &after);
    cr_assert_eq(after.height, w->before.height, "%s: the height moved", what);
    cr_assert_eq(after.peers, w->before.peers, "%s: the peer count moved", what);
    cr_assert_eq(after.known, w->before.known, "%s: the peer table changed", what);
    cr_assert_eq(after.hashrate, want_hashrate, "%s: the hash rate is %lld", what,
                 (long long)after.hashrate);
}

/* --- requests ------------------------------------------------------------------ */

/* A request of type with what write() puts in its body (NULL: nothing). */
static void build(mp_buf_t *m, proto_req_t type, uint64_t id, void (*write)(mp_buf_t *))
{
    mp_buf_reset(m);
    proto_open_request(m, type, id);
    if (write)
        write(m);
    cr_assert(mp_buf_ok(m));
}

/* Sends m on sock; true with *rep (its body in buf) when a reply came
 * within ms. A DEALER whose handshake was refused has no pipe left to
 * queue on (libzmq gave the endpoint up): that is no reply either. */
static bool ask(void *sock, const mp_buf_t *m, int ms, proto_reply_t *rep, uint8_t *buf,
                size_t cap)
{
    int sent = zmq_send(sock, m->data, m->len, ZMQ_DONTWAIT);
    cr_assert(sent == (int)m->len || zmq_errno() == EAGAIN, "%s", zmq_strerror(zmq_errno()));
    if (sent < 0)
        return false;
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0)
        return false;
    int n = zmq_recv(sock, buf, cap, 0);
    cr_assert(n > 0 && (size_t)n <= cap);
    err_t e;
    cr_assert_eq(proto_decode_reply(rep, buf, (size_t)n, &e), 0, "%s", e.message);
    return true;
}

static void w_peers(mp_buf_t *m)
{
    mp_put_cstr(m, "peers");
    mp_put_array(m, 2);
    const char *addrs[] = {"6.6.6.6:666", "<script>"};
    for (int i = 0; i < 2; i++) {
        mp_put_map(m, 3);
        mp_put_cstr(m, "addr");
        mp_put_cstr(m, addrs[i]);
        mp_put_cstr(m, "inbound");
        mp_put_bool(m, true);
        mp_put_cstr(m, "height");
        mp_put_uint(m, 1);
    }
}

static void w_work(mp_buf_t *m)
{
    uint8_t x[12] = {0}, payout[20] = {0};
    mp_put_cstr(m, "job_id");
    mp_put_uint(m, 999);
    mp_put_cstr(m, "extranonce");
    mp_put_bin(m, x, sizeof x);
    mp_put_cstr(m, "timestamp");
    mp_put_uint(m, 1700000000);
    mp_put_cstr(m, "nonce");
    mp_put_uint(m, 1);
    mp_put_cstr(m, "payout");
    mp_put_bin(m, payout, sizeof payout);
}

#define HONEST_RATE 1234
static json_int_t rate_of_write = HONEST_RATE;
static void w_hashrate(mp_buf_t *m)
{
    mp_put_cstr(m, "worker");
    mp_put_cstr(m, "rig");
    mp_put_cstr(m, "rate");
    mp_put_uint(m, (uint64_t)rate_of_write);
}

/* A key file for a key pair no clients file lists, for d's server. */
static void stranger_key(const tb_chaind_t *d, char out[320])
{
    char spec[400], other[300];
    err_t e;
    snprintf(other, sizeof other, "%.200s/other", d->datadir);
    snprintf(out, 320, "%.200s/stranger.key", d->datadir);
    snprintf(spec, sizeof spec, "miner:stranger:%s", out);
    /* a key minted for another set's clients file, then aimed at d's server */
    cr_assert_eq(rpckey_new_client(other, spec, &e), 0, "%s", e.message);
    rpckey_client_t k, real;
    char miner[320];
    tb_rpc_key(miner, d, "miner");
    cr_assert_eq(rpckey_load_client(out, &k, &e), 0, "%s", e.message);
    cr_assert_eq(rpckey_load_client(miner, &real, &e), 0, "%s", e.message);
    FILE *f = fopen(out, "w");
    cr_assert_not_null(f);
    fprintf(f, "role = miner\npublic = %s\nsecret = %s\nserver = %s\n", k.pair.public_key,
            k.pair.secret_key, real.server_key);
    fclose(f);
}

/* --- silent connections --------------------------------------------------------- */

/* n connections to 127.0.0.1:port that never send a byte. */
static int *flood(int port, int n)
{
    int *fds = malloc((size_t)n * sizeof *fds);
    cr_assert_not_null(fds);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        cr_assert_geq(fds[i], 0, "socket %d: %s", i, strerror(errno));
        int rc = connect(fds[i], (struct sockaddr *)&a, sizeof a);
        cr_assert(rc == 0 || errno == EINPROGRESS, "connect %d: %s", i, strerror(errno));
    }
    return fds;
}

/* 1 100 silent connections to one of chaind's ZeroMQ ports while chaind
 * may hold 1 024 descriptors: HTTP keeps answering, a keyed client is still
 * served, nothing changes. */
static void silent_flood(bool events)
{
    tb_raise_nofile(FLOOD + 256);
    const char *const prlimit[] = {"/usr/bin/prlimit", "--nofile=1024", NULL};
    tb_chaind_start_under(&daemon_, NULL, NULL, prlimit);
    tb_chaind_t *d = &daemon_;
    watch_t w;
    watch_begin(&w, d);
    int fds0 = w.peak_fds;
    int *fds = flood(events ? d->events_port : d->rpc_port, FLOOD);
    watch_for(&w, 5000);
    /* a daemon with its key gets in once the silent ones are gone (kicked
     * at once, or at the end of their 2 s handshake time) */
    void *zctx = zmq_ctx_new();
    char key[320];
    tb_rpc_key(key, d, "gossip");
    void *dealer = tb_zmq_connect(zctx, ZMQ_DEALER, d, key, NULL);
    mp_buf_t m;
    mp_buf_init(&m, 4096);
    build(&m, PROTO_REQ_GET_TIP, 5, NULL);
    proto_reply_t rep;
    uint8_t buf[4096];
    cr_assert(ask(dealer, &m, 15000, &rep, buf, sizeof buf), "a keyed get_tip got no answer");
    cr_assert(rep.ok && rep.id == 5);
    watch_probe(&w);
    cr_assert_leq(w.peak_fds, fds0 + CAP + OVERSHOOT, "chaind held %d descriptors (%d at rest)",
                  w.peak_fds, fds0);
    watch_end(&w, events ? "1 100 silent events connections" : "1 100 silent rpc connections",
              32 << 10, 0);
    for (int i = 0; i < FLOOD; i++)
        close(fds[i]);
    free(fds);
    mp_buf_free(&m);
    zmq_close(dealer);
    zmq_ctx_term(zctx);
    cr_assert_eq(tb_chaind_stop(d), 0);
    tb_rmdir(d->datadir);
}

Test(control, silent_rpc_connections_under_a_descriptor_limit, .fini = reap, .timeout = 120)
{
    silent_flood(false);
}

Test(control, silent_events_connections_under_a_descriptor_limit, .fini = reap, .timeout = 120)
{
    silent_flood(true);
}

/* --- keys ------------------------------------------------------------------------ */

/* peers, submit_work and hashrate with no key and with a stranger's key: no
 * reply at all, nothing changes; with a miner key: peers forbidden, the
 * other two answered. */
Test(control, requests_are_answered_by_key_and_role, .fini = reap, .timeout = 120)
{
    tb_chaind_start(&daemon_, NULL, NULL);
    tb_chaind_t *d = &daemon_;
    watch_t w;
    watch_begin(&w, d);
    void *zctx = zmq_ctx_new();
    char stranger[320], miner[320];
    stranger_key(d, stranger);
    tb_rpc_key(miner, d, "miner");
    mp_buf_t m;
    mp_buf_init(&m, 4096);
    uint8_t buf[4096];
    proto_reply_t rep;
    const struct {
        proto_req_t type;
        void (*write)(mp_buf_t *);
    } reqs[] = {{PROTO_REQ_PEERS, w_peers},
                {PROTO_REQ_SUBMIT_WORK, w_work},
                {PROTO_REQ_HASHRATE, w_hashrate}};
    /* the unkeyed and the stranger claim an absurd rate: it must not show */
    rate_of_write = (json_int_t)1 << 62;
    const char *const keyless[] = {NULL, stranger};
    for (int k = 0; k < 2; k++) {
        void *dealer = tb_zmq_connect(zctx, ZMQ_DEALER, d, keyless[k], NULL);
        for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
            build(&m, reqs[i].type, 10 + i, reqs[i].write);
            cr_assert_not(ask(dealer, &m, 1500, &rep, buf, sizeof buf),
                          "%s got a reply to %s", k ? "a stranger's key" : "no key",
                          proto_req_name(reqs[i].type));
        }
        zmq_close(dealer);
        watch_probe(&w);
    }
    rate_of_write = HONEST_RATE;
    void *dealer = tb_zmq_connect(zctx, ZMQ_DEALER, d, miner, NULL);
    const err_code_t want[] = {ERR_FORBIDDEN, ERR_NOT_FOUND, ERR_OK};
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        build(&m, reqs[i].type, 20 + i, reqs[i].write);
        cr_assert(ask(dealer, &m, 10000, &rep, buf, sizeof buf), "the miner key got no reply "
                  "to %s", proto_req_name(reqs[i].type));
        cr_assert_eq(rep.id, 20 + i);
        cr_assert_eq(rep.ok ? ERR_OK : rep.code, want[i], "%s answered %s",
                     proto_req_name(reqs[i].type), rep.ok ? "ok" : err_str(rep.code));
    }
    zmq_close(dealer);
    watch_end(&w, "requests by key", 16 << 10, HONEST_RATE);
    mp_buf_free(&m);
    zmq_ctx_term(zctx);
    cr_assert_eq(tb_chaind_stop(d), 0);
    tb_rmdir(d->datadir);
}

/* Whether the file at path has, past offset, a line holding text; waits up
 * to ms for one. */
static bool log_says(const char *path, long offset, const char *text, long ms)
{
    for (double end = now_ms() + (double)ms;; sleep_ms(50)) {
        bool found = tb_log_mentions(path, offset, text);
        if (found || now_ms() >= end)
            return found;
    }
}

/* The exit status of pid, which must end within ms (else it is killed and
 * the test fails). */
static int exit_status(pid_t pid, long ms)
{
    int status;
    for (double end = now_ms() + (double)ms; now_ms() < end; sleep_ms(20))
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    cr_assert_fail("process %d did not exit within %ld ms", (int)pid, ms);
    return -1;
}

static pid_t start_minerd(const tb_chaind_t *d, const char *key, const char *log)
{
    char bin[512];
    tb_binary(bin, "minerd/minerd");
    const char *const argv[] = {bin, "--network", "regtest", "--rpc", d->rpc_endpoint,
                                "--events", d->events_endpoint, "--payout",
                                "5a6d709e0a0296084f37198a5464fbfafbb5d89b", "--threads", "1",
                                "--rpc-key", key, NULL};
    return tb_spawn(argv, log);
}

/* A key made with --new-rpc-key counts once chaind has had SIGHUP, for a
 * minerd that was refused with it before (it dials again); a clients file
 * broken afterwards keeps the keys in force, and chaind says why. */
Test(control, a_new_key_counts_after_sighup, .fini = reap, .timeout = 120)
{
    tb_chaind_start(&daemon_, NULL, NULL);
    tb_chaind_t *d = &daemon_;
    char bin[512], spec[400], rig[320], log[320], out[320], mlog[320];
    tb_binary(bin, "chaind/chaind");
    snprintf(rig, sizeof rig, "%.200s/rig7.key", d->datadir);
    snprintf(spec, sizeof spec, "miner:rig7:%s", rig);
    snprintf(out, sizeof out, "%.200s/tool.log", d->datadir);
    snprintf(mlog, sizeof mlog, "%.200s/minerd.log", d->datadir);
    snprintf(log, sizeof log, "%.200s/chaind.log", d->datadir);
    const char *const argv[] = {bin, "--rpc-keys", d->keys, "--new-rpc-key", spec, NULL};
    int status = exit_status(tb_spawn(argv, out), 10000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "chaind --new-rpc-key failed (%s)",
              out);
    void *zctx = zmq_ctx_new();
    void *dealer = tb_zmq_connect(zctx, ZMQ_DEALER, d, rig, NULL);
    mp_buf_t m;
    mp_buf_init(&m, 4096);
    uint8_t buf[4096];
    proto_reply_t rep;
    build(&m, PROTO_REQ_GET_TIP, 1, NULL);
    cr_assert_not(ask(dealer, &m, 1500, &rep, buf, sizeof buf), "the key worked before SIGHUP");
    zmq_close(dealer);
    pid_t miner = start_minerd(d, rig, mlog);
    cr_assert(log_says(mlog, 0, "refused our key", 10000), "minerd was not refused (see %s)",
              mlog);
    cr_assert_eq(kill(d->pid, SIGHUP), 0);
    cr_assert(log_says(log, 0, "read again", 5000), "chaind did not reload (see %s)", log);
    cr_assert(log_says(mlog, 0, "connected to chaind's rpc socket", 3 * ZMQOPT_REDIAL_MS),
              "minerd did not get in after SIGHUP (see %s)", mlog);
    dealer = tb_zmq_connect(zctx, ZMQ_DEALER, d, rig, NULL);
    build(&m, PROTO_REQ_GET_TIP, 2, NULL);
    cr_assert(ask(dealer, &m, 10000, &rep, buf, sizeof buf), "the new key got no answer");
    cr_assert(rep.ok && rep.id == 2);
    zmq_close(dealer);

    char clients[320];
    snprintf(clients, sizeof clients, "%.200s/clients", d->keys);
    FILE *f = fopen(clients, "a");
    cr_assert_not_null(f);
    fputs("miner this-is-no-key\n", f);
    fclose(f);
    long at = tb_file_size(log);
    cr_assert_eq(kill(d->pid, SIGHUP), 0);
    cr_assert(log_says(log, at, "stay in force", 5000),
              "a broken clients file was taken without a word (see %s)", log);
    dealer = tb_zmq_connect(zctx, ZMQ_DEALER, d, rig, NULL);
    build(&m, PROTO_REQ_GET_TIP, 3, NULL);
    cr_assert(ask(dealer, &m, 10000, &rep, buf, sizeof buf), "the keys in force were dropped");
    cr_assert(rep.ok && rep.id == 3);
    zmq_close(dealer);
    kill(miner, SIGTERM);
    status = exit_status(miner, 10000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    mp_buf_free(&m);
    zmq_ctx_term(zctx);
    cr_assert_eq(tb_chaind_stop(d), 0);
    tb_rmdir(d->datadir);
}

/* --- subscribers that never read -------------------------------------------------- */

/* Events for the subscribers: peer.add, one an HTTP POST, as fast as a
 * kept-alive connection goes. */
typedef struct {
    const tb_chaind_t *d;
    atomic_bool stop;
    atomic_long sent;
} pump_t;

static size_t drop_body(char *data, size_t size, size_t n, void *arg)
{
    (void)data, (void)arg;
    return size * n;
}

static void *pump(void *arg)
{
    pump_t *p = arg;
    char url[128];
    snprintf(url, sizeof url, "%s/new_node_advertisement", p->d->http_url);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"hostname\": \"pump.example:9333\"}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, drop_body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    while (!atomic_load(&p->stop))
        if (curl_easy_perform(c) == CURLE_OK)
            atomic_fetch_add(&p->sent, 1);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

/* Server-side connections on 127.0.0.1:port that are established now. */
static int established(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    cr_assert_not_null(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned lport, st;
        if (sscanf(line, " %*u: %*8X:%4X %*8X:%*4X %2X", &lport, &st) == 2 && st == 0x01 &&
            lport == (unsigned)port)
            n++;
    }
    fclose(f);
    return n;
}

/* SUBSCRIBERS subscribers of d's events (with the subscriber key, or
 * none) built to hold chaind's queues: each keeps almost nothing on its side,
 * never reads, and redials twice a second when dropped. */
static void **open_subscribers(void *zctx, const tb_chaind_t *d, bool keyed)
{
    char key[320];
    tb_rpc_key(key, d, "subscriber");
    void **subs = calloc(SUBSCRIBERS, sizeof *subs);
    cr_assert_not_null(subs);
    for (int i = 0; i < SUBSCRIBERS; i++) {
        int one = 1, small = 4096, redial = 500;
        void *s = subs[i] = tb_zmq_socket(zctx, ZMQ_SUB, keyed ? key : NULL);
        zmq_setsockopt(s, ZMQ_RCVHWM, &one, sizeof one);
        zmq_setsockopt(s, ZMQ_RCVBUF, &small, sizeof small);
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &redial, sizeof redial);
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
        cr_assert_eq(zmq_connect(s, d->events_endpoint), 0);
    }
    return subs;
}

/* SUBSCRIBERS subscribers (keyed or not) that never read, while events
 * flow: at most CAP are served (keyed) or none (not), chaind stays within
 * the documented bound and gives the memory back once they leave. */
static void silent_subscribers(bool keyed)
{
    tb_raise_nofile(3 * SUBSCRIBERS + 256);
    tb_asan_small_quarantine();
    tb_chaind_start(&daemon_, NULL, NULL);
    tb_chaind_t *d = &daemon_;
    watch_t w;
    watch_begin(&w, d);
    int fds0 = w.peak_fds;
    void *zctx = zmq_ctx_new();
    zmq_ctx_set(zctx, ZMQ_MAX_SOCKETS, SUBSCRIBERS + 16);
    void **subs = open_subscribers(zctx, d, keyed);
    pump_t p = {.d = d};
    atomic_init(&p.stop, false);
    atomic_init(&p.sent, 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, pump, &p), 0);
    int most = 0;
    for (double end = now_ms() + 10000; now_ms() < end; sleep_ms(100)) {
        watch_probe(&w);
        int n = established(d->events_port);
        most = n > most ? n : most;
    }
    atomic_store(&p.stop, true);
    pthread_join(t, NULL);
    int fed = 0;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        zmq_pollitem_t it = {subs[i], 0, ZMQ_POLLIN, 0};
        fed += zmq_poll(&it, 1, 0) == 1;
    }
    cr_log_info("%s subscribers: %ld events sent, %d subscribers got some, at most %d "
                "connections established (the listener's queue counted), %d descriptors, RSS "
                "%ld KiB at most (%ld at start)", keyed ? "keyed" : "unkeyed",
                atomic_load(&p.sent), fed, most, w.peak_fds, w.peak_rss, w.rss0);
    cr_assert_gt(atomic_load(&p.sent), 1000, "too few events to load the subscribers");
    if (keyed)
        cr_assert_gt(fed, 0, "no subscriber got an event: the test proves nothing");
    else
        cr_assert_eq(fed, 0, "%d subscribers without a key got events", fed);
    cr_assert_leq(w.peak_fds, fds0 + CAP + OVERSHOOT, "chaind held %d descriptors (%d at rest)",
                  w.peak_fds, fds0);
    cr_assert_leq(w.peak_rss - w.rss0, SUB_MEMORY_KIB + SLACK_KIB,
                  "%d subscribers grew chaind from %ld to %ld KiB", SUBSCRIBERS, w.rss0,
                  w.peak_rss);
    for (int i = 0; i < SUBSCRIBERS; i++)
        zmq_close(subs[i]);
    free(subs);
    zmq_ctx_term(zctx);
    /* gone: the memory comes back within the trim window */
    long back = 0;
    for (int i = 0; i < 80; i++, sleep_ms(100)) {
        watch_probe(&w);
        back = tb_rss_kib(d->pid);
        if (back <= w.rss0 + SLACK_KIB)
            break;
    }
    cr_log_info("%s subscribers gone: RSS %ld KiB (%ld at start)", keyed ? "keyed" : "unkeyed",
                back, w.rss0);
    if (!tb_asan()) /* AddressSanitizer's allocator keeps what it freed */
        cr_assert_leq(back, w.rss0 + SLACK_KIB, "chaind kept %ld KiB after the subscribers left",
                      back - w.rss0);
    /* what the pump advertised is an event, not a peer of the table */
    watch_end(&w, keyed ? "600 keyed subscribers" : "600 unkeyed subscribers",
              SUB_MEMORY_KIB + SLACK_KIB, 0);
    cr_assert_eq(tb_chaind_stop(d), 0);
    tb_rmdir(d->datadir);
}

Test(control, keyed_subscribers_that_never_read_are_capped, .fini = reap, .timeout = 180)
{
    silent_subscribers(true);
}

Test(control, subscribers_without_a_key_get_nothing, .fini = reap, .timeout = 180)
{
    silent_subscribers(false);
}

/* --- the clients' side ------------------------------------------------------------- */

/* A tcp:// endpoint without --rpc-key stops minerd and gossipd at start,
 * naming the file chaind writes; a key chaind refuses shows in their log,
 * a line a second at most. */
Test(control, clients_without_a_usable_key_say_so, .fini = reap, .timeout = 120)
{
    tb_chaind_start(&daemon_, NULL, NULL);
    tb_chaind_t *d = &daemon_;
    char bin[512], log[320], dir[300], stranger[320];
    snprintf(log, sizeof log, "%.200s/client.log", d->datadir);
    tb_binary(bin, "minerd/minerd");
    const char *const miner[] = {bin, "--network", "regtest", "--rpc", d->rpc_endpoint,
                                 "--events", d->events_endpoint, "--payout",
                                 "5a6d709e0a0296084f37198a5464fbfafbb5d89b", NULL};
    int status = exit_status(tb_spawn(miner, log), 10000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    char gbin[512];
    tb_binary(gbin, "gossipd/gossipd");
    snprintf(dir, sizeof dir, "%.200s/gossipd", d->datadir);
    const char *const gossip[] = {gbin, "--network", "regtest", "--datadir", dir, "--listen",
                                  "127.0.0.1:0", "--rpc", d->rpc_endpoint, "--events",
                                  d->events_endpoint, NULL};
    status = exit_status(tb_spawn(gossip, log), 10000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    cr_assert_geq(getdelim(&text, &len, '\0', f), 0);
    fclose(f);
    cr_assert(strstr(text, "rpc/miner.key") && strstr(text, "rpc/gossip.key"),
              "the start-up errors do not name chaind's key files: %s", text);
    free(text);

    /* a key chaind does not list: refused, and said so (rate-limited) */
    stranger_key(d, stranger);
    snprintf(log, sizeof log, "%.200s/refused.log", d->datadir);
    pid_t pid = start_minerd(d, stranger, log);
    sleep_ms(12000);
    kill(pid, SIGTERM);
    (void)exit_status(pid, 10000);
    f = fopen(log, "r");
    cr_assert_not_null(f);
    char line[1024];
    int said = 0;
    while (fgets(line, sizeof line, f))
        said += strstr(line, "refused our key") != NULL;
    fclose(f);
    /* each socket is refused, dials again 5 s later, and is refused again:
     * a line a socket a redial */
    cr_log_info("a refused minerd logged the refusal %d times in 12 s", said);
    cr_assert_geq(said, 4, "a refused key went unsaid, or was not tried again (see %s)", log);
    cr_assert_leq(said, 2 * 12, "the refusal was logged %d times in 12 s (see %s)", said, log);
    cr_assert_eq(tb_chaind_stop(d), 0);
    tb_rmdir(d->datadir);
}

/* --- ipc:// ---------------------------------------------------------------------- */

/* An ipc:// endpoint is its socket file's group's (mode 0660) and takes
 * every request without a key; an abstract one, which no permission
 * guards, stops chaind at start. */
Test(control, ipc_endpoints_rely_on_file_permissions, .fini = reap, .timeout = 60)
{
    char dir[256], rpc[300], log[320];
    tb_tmpdir(dir);
    snprintf(rpc, sizeof rpc, "ipc://%.200s/rpc.sock", dir);
    const char *const extra[] = {"--rpc", rpc, NULL};
    tb_chaind_start(&daemon_, dir, extra);
    tb_chaind_t *d = &daemon_;
    struct stat st;
    cr_assert_eq(stat(rpc + 6, &st), 0, "%s: %s", rpc + 6, strerror(errno));
    cr_assert_eq(st.st_mode & 0777, 0660, "the socket file is mode %o", st.st_mode & 0777);
    void *zctx = zmq_ctx_new();
    void *dealer = tb_zmq_socket(zctx, ZMQ_DEALER, NULL);
    cr_assert_eq(zmq_connect(dealer, rpc), 0);
    mp_buf_t m;
    mp_buf_init(&m, 4096);
    uint8_t buf[4096];
    proto_reply_t rep;
    build(&m, PROTO_REQ_PEERS, 1, w_peers);
    cr_assert(ask(dealer, &m, 10000, &rep, buf, sizeof buf), "no answer over ipc");
    cr_assert(rep.ok, "peers over ipc: %s", rep.message);
    build(&m, PROTO_REQ_HASHRATE, 2, w_hashrate);
    cr_assert(ask(dealer, &m, 10000, &rep, buf, sizeof buf), "no answer over ipc");
    cr_assert(rep.ok, "hashrate over ipc: %s", rep.message);
    shown_t now;
    shown(d, &now);
    cr_assert_eq(now.known, 2);
    zmq_close(dealer);
    mp_buf_free(&m);
    zmq_ctx_term(zctx);
    cr_assert_eq(tb_chaind_stop(d), 0);

    char bin[512], http[32];
    tb_binary(bin, "chaind/chaind");
    snprintf(log, sizeof log, "%.200s/abstract.log", dir);
    snprintf(http, sizeof http, "127.0.0.1:%d", tb_free_port());
    const char *const abstract[] = {bin, "--network", "regtest", "--datadir", dir, "--http", http,
                                    "--rpc", "ipc://@chain-test", NULL};
    int status = exit_status(tb_spawn(abstract, log), 10000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    cr_assert(tb_log_mentions(log, 0, "ipc:// on a path"), "no reason given (see %s)", log);
    tb_rmdir(dir);
}
