/* What a tcp:// rpc link shows on the wire (DESIGN §1: authenticated and
 * encrypted with CURVE). tshark captures chaind's rpc and events ports on the
 * loopback while a gossip key submits a signed transaction and reads it back,
 * and a subscriber key follows the events; the capture must hold those
 * links (their ZMTP greetings, which name the CURVE mechanism in clear) and
 * not one copy of the transaction's bytes.
 *
 * Capturing needs root or cap_net_raw, so ctest does not run this; test.sh
 * does, as it runs the pod test (through sudo when it is not root):
 * BUILD_DIR/tests/test_capture. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "builder.h"
#include "proto.h"

static tb_chaind_t daemon_;
static pid_t tshark;

static void reap(void)
{
    if (tshark > 0) {
        kill(tshark, SIGKILL);
        waitpid(tshark, NULL, 0);
    }
    if (daemon_.pid)
        tb_chaind_kill(&daemon_);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* A file's whole text, malloc'd; *len its size. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

static bool holds(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

/* Sends m and waits for its reply (10 s at most). */
static void ask(void *dealer, const mp_buf_t *m, proto_reply_t *rep, uint8_t *buf, size_t cap)
{
    cr_assert_eq(zmq_send(dealer, m->data, m->len, 0), (int)m->len);
    zmq_pollitem_t it = {dealer, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&it, 1, 10000), 1, "chaind did not answer over CURVE");
    int n = zmq_recv(dealer, buf, cap, 0);
    cr_assert(n > 0 && (size_t)n <= cap);
    err_t e;
    cr_assert_eq(proto_decode_reply(rep, buf, (size_t)n, &e), 0, "%s", e.message);
}

/* tshark on the loopback, writing what crosses d's rpc and events ports
 * to pcap; returns once it captures. */
static void start_capture(const tb_chaind_t *d, const char *pcap)
{
    char log[320], filter[128];
    snprintf(log, sizeof log, "%.200s/tshark.log", d->datadir);
    snprintf(filter, sizeof filter, "tcp port %d or tcp port %d", d->rpc_port, d->events_port);
    const char *const argv[] = {"/usr/bin/tshark", "-i", "lo", "-f", filter, "-w", pcap, "-q",
                                NULL};
    tshark = tb_spawn(argv, log);
    bool ready = false;
    for (int i = 0; i < 200 && !ready; i++, sleep_ms(50)) {
        size_t n;
        uint8_t *text = tb_file_size(log) ? slurp(log, &n) : NULL;
        ready = text && strstr((char *)text, "Capturing on");
        free(text);
        cr_assert_eq(waitpid(tshark, NULL, WNOHANG), 0, "tshark exited (see %s)", log);
    }
    cr_assert(ready, "tshark did not start capturing (see %s)", log);
}

/* A subscriber of d's events (the subscriber key), once an event came
 * through: a SUB joins asynchronously, so peers are advertised until one
 * does. */
static void *subscribed(void *zctx, const tb_chaind_t *d)
{
    char key[320], url[128];
    tb_rpc_key(key, d, "subscriber");
    void *sub = tb_zmq_connect(zctx, ZMQ_SUB, d, key, "");
    snprintf(url, sizeof url, "%.60s/new_node_advertisement", d->http_url);
    zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
    bool joined = false;
    for (int i = 0; i < 100 && !joined; i++) {
        tb_http_t r;
        tb_http(&r, "POST", url, "{\"hostname\": \"seen.example:9333\"}", 33, NULL);
        cr_assert_eq(r.status, 200);
        tb_http_free(&r);
        joined = zmq_poll(&it, 1, 100) == 1;
    }
    cr_assert(joined, "the subscriber got no event");
    return sub;
}

Test(capture, no_transaction_bytes_in_clear_on_tcp, .fini = reap, .timeout = 120)
{
    const chain_params_t *p = params_by_name("regtest");
    tb_wallet_t camille, albert;
    tb_demo_wallet(&camille, "camille");
    tb_demo_wallet(&albert, "albert");
    hash32_t genesis, gtx, txid;
    tb_genesis(p, &genesis, &gtx);
    mp_buf_t tx;
    mp_buf_init(&tx, 4096);
    /* camille's 10 coins (output 2 of the allocation), 3 to albert */
    tb_tx(&tx, &txid, &gtx, 2, 10 * AMOUNT_COIN, &camille, &albert.pkh, 3 * AMOUNT_COIN, 10000);

    tb_chaind_start(&daemon_, NULL, NULL);
    tb_chaind_t *d = &daemon_;
    char pcap[320];
    snprintf(pcap, sizeof pcap, "%.200s/rpc.pcapng", d->datadir);
    start_capture(d, pcap);
    void *zctx = zmq_ctx_new();
    char gossip[320];
    tb_rpc_key(gossip, d, "gossip");
    void *sub = subscribed(zctx, d);
    void *dealer = tb_zmq_connect(zctx, ZMQ_DEALER, d, gossip, NULL);
    mp_buf_t m;
    mp_buf_init(&m, 8192);
    uint8_t buf[8192];
    proto_reply_t rep;
    proto_open_request(&m, PROTO_REQ_SUBMIT_TX, 1);
    mp_put_cstr(&m, "tx");
    mp_put_bin(&m, tx.data, tx.len);
    mp_put_cstr(&m, "origin");
    mp_put_cstr(&m, "capture");
    ask(dealer, &m, &rep, buf, sizeof buf);
    cr_assert(rep.ok, "submit_tx: %s", rep.message);
    mp_buf_reset(&m);
    proto_open_request(&m, PROTO_REQ_GET_TX, 2);
    mp_put_cstr(&m, "txid");
    mp_put_bin(&m, txid.b, 32);
    ask(dealer, &m, &rep, buf, sizeof buf);
    cr_assert(rep.ok, "get_tx: %s", rep.message);
    const uint8_t *back;
    size_t back_len;
    cr_assert_eq(proto_get_bin(&rep.body, "tx", &back, &back_len), 0);
    cr_assert(back_len == tx.len && memcmp(back, tx.data, tx.len) == 0, "get_tx gave other bytes");
    sleep_ms(500); /* the last packets reach the capture */
    zmq_close(dealer);
    zmq_close(sub);
    zmq_ctx_term(zctx);
    kill(tshark, SIGTERM);
    int status;
    cr_assert_eq(waitpid(tshark, &status, 0), tshark);
    tshark = 0;

    size_t n;
    uint8_t *cap = slurp(pcap, &n);
    /* the links were captured: a ZMTP greeting's signature (libzmq sends
     * the rest of the greeting, the mechanism, in a segment of its own) */
    static const uint8_t signature[] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f};
    cr_assert(holds(cap, n, signature, sizeof signature), "the capture holds no ZMTP greeting");
    /* no 16-byte window of the transaction, its signatures above all */
    size_t found = 0;
    for (size_t at = 0; at + 16 <= tx.len; at += 8)
        found += holds(cap, n, tx.data + at, 16);
    cr_log_info("capture: %zu bytes; %zu of %zu windows of the %zu-byte transaction in clear", n,
                found, (tx.len - 16) / 8 + 1, tx.len);
    cr_assert_eq(found, 0, "the transaction crossed the rpc link in clear (%s)", pcap);
    cr_assert(holds(cap, n, "CURVE", 5), "the links do not name CURVE");
    free(cap);
    mp_buf_free(&m);
    mp_buf_free(&tx);
    cr_assert_eq(tb_chaind_stop(d), 0);
    tb_rmdir(d->datadir);
}
