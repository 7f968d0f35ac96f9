/* node.h beyond the mempool's rules (test_mempool.c has those): opening
 * (and what it refuses), the events and their schema, the job tick, miners'
 * rates, the peer table, headers, block prefetch and hostile blocks,
 * settling a held answer, durability subscriptions, the phase counters, and
 * the explorer's mempool queries. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builder.h"
#include "clock.h"
#include "fixture.h"
#include "log.h"
#include "node.h"
#include "proto.h"

#define SUBSIDY ((amount_t)625000000)
#define COIN AMOUNT_COIN
#define BITS 0x207fffffu
#define JOB_INTERVAL_MS 1000 /* node.h: mempool-driven jobs at most once a second */
#define HASHRATE_TTL 120     /* node.h: a rate report counts 2 minutes */
#define MAX_WORKERS 64       /* the rates node.c remembers */

static const chain_params_t *P;
static char dir[256];
static node_t *N;
static hash32_t G, GTX;
static uint64_t GT;
static tb_wallet_t albert, bertrand, camille, miner, stranger;

static void setup(void)
{
    log_init("test", LOG_ERROR);
    P = params_by_name("regtest");
    tb_tmpdir(dir);
    node_config_t cfg = tb_node_config(dir, (size_t)1 << 20);
    tb_node_open(&N, &cfg);
    tb_genesis(P, &G, &GTX);
    GT = P->genesis_timestamp;
    tb_cast(&albert, &bertrand, &camille, &miner, &stranger);
}

static void teardown(void)
{
    node_close(&N);
    tb_keep_free();
    tb_rmdir(dir);
}

TestSuite(node, .init = setup, .fini = teardown, .timeout = 60);

static tb_blk_t mkblock(const hash32_t *parent, uint64_t height, const tb_rtx_t *txs, size_t n,
                        amount_t fees, uint64_t tag)
{
    return tb_mkblock(parent, height, height, GT + 60 * height + tag, BITS, &miner.pkh,
                      SUBSIDY + fees, txs, n, tag);
}

static node_status_t status_now(void)
{
    node_status_t s;
    node_status(N, &s);
    return s;
}

/* --- events ---------------------------------------------------------------- */

#define MAX_EVENTS 64
typedef struct {
    char topic[16];
    uint8_t body[2048];
    size_t len;
} event_t;

static event_t events[MAX_EVENTS];
static size_t n_events;

static void record(void *ctx, const char *topic, const uint8_t *body, size_t len)
{
    (void)ctx;
    cr_assert_lt(n_events, MAX_EVENTS);
    cr_assert_leq(len, sizeof events[0].body);
    event_t *ev = &events[n_events++];
    snprintf(ev->topic, sizeof ev->topic, "%s", topic);
    memcpy(ev->body, body, len);
    ev->len = len;
}

static size_t count_topic(const char *topic)
{
    size_t k = 0;
    for (size_t i = 0; i < n_events; i++)
        k += strcmp(events[i].topic, topic) == 0;
    return k;
}

/* Event i, decoded by proto's schema of its topic (so every field is there
 * and of its kind), "seq" its first key. */
static proto_event_t decoded(size_t i, const char *topic)
{
    cr_assert_lt(i, n_events, "no event %zu", i);
    event_t *ev = &events[i];
    cr_assert_str_eq(ev->topic, topic, "event %zu", i);
    proto_event_t d;
    err_t e;
    cr_assert_eq(proto_decode_event(&d, ev->topic, strlen(ev->topic), ev->body, ev->len, &e), 0,
                 "event %zu (%s) breaks its schema: %s", i, topic, e.message);
    mp_reader_t r;
    uint32_t pairs;
    const char *key;
    size_t klen;
    mp_reader_init(&r, ev->body, ev->len, false);
    cr_assert(mp_get_map(&r, &pairs) == 0 && mp_get_str(&r, &key, &klen) == 0);
    cr_assert(klen == 3 && memcmp(key, "seq", 3) == 0, "event %zu: \"seq\" is not first", i);
    return d;
}

static void assert_origin(const proto_event_t *d, const char *want)
{
    char origin[64];
    cr_assert_eq(proto_get_str(&d->body, "origin", origin, sizeof origin), 0);
    cr_assert_str_eq(origin, want);
}

Test(node, events_follow_their_schema_with_a_sequence_a_topic)
{
    node_set_publisher(N, record, NULL);
    tb_rtx_t t1 = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    tb_rtx_t t2 = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 10000);
    tb_node_submit_ok(N, &t1, 0);
    tb_node_submit_ok(N, &t2, 0);
    cr_assert_eq(n_events, 2);
    hash32_t txid;
    for (size_t i = 0; i < 2; i++) {
        proto_event_t d = decoded(i, "tx");
        cr_assert_eq(proto_get_bin_exact(&d.body, "txid", txid.b, 32), 0);
        cr_assert(hash32_eq(&txid, i ? &t2.txid : &t1.txid));
        assert_origin(&d, "test");
    }
    cr_assert_eq(decoded(1, "tx").seq, decoded(0, "tx").seq + 1, "tx seqs are not consecutive");

    /* a block: its event, then a job on the new tip */
    tb_rtx_t both[2] = {t1, t2};
    tb_blk_t b1 = mkblock(&G, 1, both, 2, 20000, 1);
    n_events = 0;
    tb_node_block_ok(N, &b1, CHAIN_TIP);
    cr_assert_eq(n_events, 2, "%zu events for a block", n_events);
    proto_event_t d = decoded(0, "block");
    hash32_t h;
    uint64_t height, count;
    cr_assert_eq(proto_get_bin_exact(&d.body, "hash", h.b, 32), 0);
    cr_assert(hash32_eq(&h, &b1.hash));
    cr_assert(proto_get_uint(&d.body, "height", &height) == 0 && height == 1);
    assert_origin(&d, "test");
    d = decoded(1, "job");
    cr_assert(proto_get_uint(&d.body, "height", &height) == 0 && height == 2);
    cr_assert(proto_get_uint(&d.body, "tx_count", &count) == 0 && count == 0);

    /* a rejected block publishes nothing */
    n_events = 0;
    chain_status_t st;
    err_t e;
    cr_assert_lt(node_submit_block(N, b1.data, b1.len - 1, "test", &st, &h, &e), 0);
    cr_assert_eq(n_events, 0, "a rejection published %s", events[0].topic);

    node_advertise_peer(N, "node.example:9333");
    d = decoded(0, "peer.add");
    char host[64];
    cr_assert_eq(proto_get_str(&d.body, "hostname", host, sizeof host), 0);
    cr_assert_str_eq(host, "node.example:9333");
    uint64_t first = d.seq;
    node_advertise_peer(N, "other.example:9333");
    cr_assert_eq(decoded(1, "peer.add").seq, first + 1);

    /* without a publisher nothing is called */
    node_set_publisher(N, NULL, NULL);
    n_events = 0;
    node_advertise_peer(N, "h:1");
    cr_assert_eq(n_events, 0);
}

typedef struct {
    int blocks, txs;
    char last_topic[16];
} heard_t;

static void hear(void *ctx, const char *topic, const uint8_t *body, size_t len)
{
    (void)body, (void)len;
    heard_t *h = ctx;
    h->blocks += strcmp(topic, "block") == 0;
    h->txs += strcmp(topic, "tx") == 0;
    snprintf(h->last_topic, sizeof h->last_topic, "%s", topic);
}

Test(node, the_listener_hears_every_event_until_it_is_removed)
{
    heard_t h = {0};
    node_set_listener(N, hear, &h);
    tb_rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    tb_node_submit_ok(N, &t, 0);
    cr_assert_eq(h.txs, 1);
    cr_assert_str_eq(h.last_topic, "tx");
    node_advertise_peer(N, "h:1");
    cr_assert_str_eq(h.last_topic, "peer.add");
    node_set_listener(N, NULL, NULL);
    tb_rtx_t u = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 10000);
    tb_node_submit_ok(N, &u, 0);
    cr_assert_eq(h.txs, 1, "heard after removal");
}

/* A new tip publishes its job at once (the block's submission does); the
 * tick publishes one for a changed mempool only once JOB_INTERVAL_MS passed
 * since the last job, and nothing for an unchanged node. The tick's clock is
 * the caller's: the test brackets the node's own reading of it. */
Test(node, the_tick_publishes_jobs_when_the_mempool_changed)
{
    node_set_publisher(N, record, NULL);
    node_tick(N, clock_ms());
    cr_assert_eq(n_events, 0, "a job though nothing changed since the node opened");
    tb_blk_t b1 = mkblock(&G, 1, NULL, 0, 0, 1);
    uint64_t before = clock_ms();
    tb_node_block_ok(N, &b1, CHAIN_TIP);
    uint64_t after = clock_ms();
    cr_assert_eq(count_topic("job"), 1, "no job for the new tip");
    node_tick(N, after + 10 * JOB_INTERVAL_MS);
    cr_assert_eq(count_topic("job"), 1, "a job though nothing changed");

    /* the tip's job is at most after - before old at `after` */
    tb_rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    tb_node_submit_ok(N, &t, 0);
    n_events = 0;
    if (after - before < JOB_INTERVAL_MS) {
        node_tick(N, after);
        cr_assert_eq(count_topic("job"), 0, "a mempool job within the interval");
    }
    node_tick(N, after + JOB_INTERVAL_MS);
    cr_assert_eq(count_topic("job"), 1, "no job once the interval passed");
    uint64_t tx_count;
    proto_event_t job = decoded(0, "job");
    cr_assert(proto_get_uint(&job.body, "tx_count", &tx_count) == 0 &&
              tx_count == 1);
    node_tick(N, after + 100 * JOB_INTERVAL_MS);
    cr_assert_eq(count_topic("job"), 1, "the same mempool published twice");

    /* a reading taken before the last job was made (rpc.c reads the clock
     * before the node's lock, while another thread's block makes a job) is
     * not a second after it */
    tb_rtx_t u = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 10000);
    tb_node_submit_ok(N, &u, 0);
    n_events = 0;
    node_tick(N, before - 1);
    cr_assert_eq(count_topic("job"), 0, "a stale clock reading published a job at once");
}

/* --- miners and peers --------------------------------------------------------- */

Test(node, miners_rates_are_summed_replaced_and_forgotten)
{
    uint64_t now = clock_unix();
    cr_assert_eq(status_now().hashrate, 0);
    node_report_hashrate(N, "a", 100, now);
    node_report_hashrate(N, "b", 50, now);
    cr_assert_eq(status_now().hashrate, 150);
    node_report_hashrate(N, "a", 70, now); /* a worker's new report replaces its old one */
    cr_assert_eq(status_now().hashrate, 120);
    node_report_hashrate(N, "old", 1000, now - HASHRATE_TTL - 5);
    cr_assert_eq(status_now().hashrate, 120, "a report older than the TTL counted");
    node_report_hashrate(N, "recent", 1000, now - HASHRATE_TTL + 10);
    cr_assert_eq(status_now().hashrate, 1120, "a report within the TTL did not count");
    node_report_hashrate(N, "b", 0, now);
    cr_assert_eq(status_now().hashrate, 1070);
    /* a report a little after node_status's own reading of the clock (rpc.c
     * reads it before the lock, and so does node_status) is not 2 minutes old */
    node_report_hashrate(N, "ahead", 5, clock_unix() + 5);
    cr_assert_eq(status_now().hashrate, 1075, "a report newer than the status's clock dropped");
}

/* The table is bounded: a new worker takes the stalest slot. */
Test(node, a_full_rate_table_gives_the_stalest_slot_to_a_new_worker)
{
    uint64_t now = clock_unix();
    for (int i = 0; i < MAX_WORKERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", i);
        node_report_hashrate(N, name, 1, i == 5 ? now - 10 : now);
    }
    cr_assert_eq(status_now().hashrate, MAX_WORKERS);
    node_report_hashrate(N, "newcomer", 1000, now);
    cr_assert_eq(status_now().hashrate, MAX_WORKERS - 1 + 1000, "not the stalest one replaced");
    node_report_hashrate(N, "w5", 1, now); /* w5 is gone: it takes the stalest slot again */
    cr_assert_eq(status_now().hashrate, MAX_WORKERS - 1 + 1000);
}

Test(node, the_peer_table_is_copied_in_and_out)
{
    uint8_t *raw = NULL;
    size_t len = 99;
    cr_assert_eq(node_peers_copy(N, &raw, &len), 0);
    cr_assert_not_null(raw);
    cr_assert_eq(len, 0, "a table before any report");
    free(raw);
    cr_assert_eq(status_now().peers, 0);

    mp_buf_t b;
    mp_buf_init(&b, 1024);
    mp_put_array(&b, 2);
    for (int i = 0; i < 2; i++) {
        mp_put_map(&b, 1);
        mp_put_cstr(&b, "addr");
        mp_put_cstr(&b, i ? "10.0.0.2:9333" : "10.0.0.1:9333");
    }
    node_set_peers(N, b.data, b.len, 2);
    uint8_t *sent = tb_keep(malloc(b.len));
    memcpy(sent, b.data, b.len);
    memset(b.data, 0, b.len); /* the caller's buffer is its own */
    cr_assert_eq(node_peers_copy(N, &raw, &len), 0);
    cr_assert(len == b.len && memcmp(raw, sent, len) == 0, "not the report as set");
    free(raw);
    cr_assert_eq(status_now().peers, 2);

    static const uint8_t none[1] = {0x90}; /* an empty report: an empty array */
    node_set_peers(N, none, sizeof none, 0);
    cr_assert_eq(node_peers_copy(N, &raw, &len), 0);
    cr_assert(len == 1 && raw[0] == 0x90);
    free(raw);
    cr_assert_eq(status_now().peers, 0);
    mp_buf_free(&b);
}

/* --- blocks ------------------------------------------------------------------ */

Test(node, headers_after_a_locator)
{
    tb_blk_t b[3];
    const hash32_t *parent = &G;
    for (int i = 0; i < 3; i++) {
        b[i] = mkblock(parent, (uint64_t)i + 1, NULL, 0, 0, (uint64_t)i + 1);
        tb_node_block_ok(N, &b[i], CHAIN_TIP);
        parent = &b[i].hash;
    }
    hash32_t unknown = {{0xab}}, locator[2] = {unknown, G};
    uint8_t *out;
    size_t count;
    cr_assert_eq(node_headers_after(N, locator, 2, 10, &out, &count), 0);
    cr_assert_eq(count, 3, "the first known locator hash is the genesis");
    for (size_t i = 0; i < count; i++) {
        block_header_t h;
        hash32_t hash;
        block_header_decode(&h, out + i * BLOCK_HEADER_LEN);
        block_header_hash(&hash, &h);
        cr_assert(hash32_eq(&hash, &b[i].hash), "header %zu", i);
    }
    free(out);
    cr_assert_eq(node_headers_after(N, locator, 2, 2, &out, &count), 0);
    cr_assert_eq(count, 2, "max not kept");
    free(out);
    cr_assert_eq(node_headers_after(N, &b[2].hash, 1, 10, &out, &count), 0);
    cr_assert_eq(count, 0, "headers after the tip");
    free(out);
}

Test(node, a_prefetched_block_is_taken_then_submitted)
{
    tb_rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    tb_blk_t b1 = mkblock(&G, 1, &t, 1, 10000, 1);
    tb_blk_t b2 = mkblock(&b1.hash, 2, NULL, 0, 0, 2);
    hash32_t h;
    cr_assert_eq(node_prefetch_block(N, b1.data, b1.len, NULL, &h), 0);
    cr_assert(hash32_eq(&h, &b1.hash));
    cr_assert_eq(node_prefetch_block(N, b2.data, b2.len, &b1.hash, &h), 0, "the next one");
    cr_assert_lt(node_prefetch_block(N, b2.data, b2.len, NULL, &h), 0,
                 "not on the tip and no after: not taken");
    static const uint8_t junk[] = {0x92, 0x01};
    cr_assert_lt(node_prefetch_block(N, junk, sizeof junk, NULL, &h), 0);
    cr_assert_eq(status_now().height, 0, "a prefetch changed the chain");
    tb_node_block_ok(N, &b1, CHAIN_TIP);
    tb_node_block_ok(N, &b2, CHAIN_TIP);
    cr_assert_eq(status_now().height, 2);
}

/* Blocks that are no blocks: each refused with its code, nothing changed. */
Test(node, hostile_blocks_are_refused_and_change_nothing)
{
    tb_blk_t b1 = mkblock(&G, 1, NULL, 0, 0, 1);
    uint8_t *longer = tb_keep(malloc(b1.len + 1));
    memcpy(longer, b1.data, b1.len);
    longer[b1.len] = 0xc0;
    uint8_t *huge = tb_keep(calloc(1, BLOCK_MAX_SIZE + 1));
    static const uint8_t junk[] = {0x93, 0x01, 0x91, 0x00};
    const struct {
        const char *what;
        const uint8_t *raw;
        size_t len;
        err_code_t code;
    } cases[] = {
        {"nothing", junk, 0, ERR_BAD_ENCODING},
        {"junk", junk, sizeof junk, ERR_BAD_ENCODING},
        {"a truncated block", b1.data, b1.len - 1, ERR_BAD_ENCODING},
        {"a trailing byte", longer, b1.len + 1, ERR_BAD_ENCODING},
        {"over the block size bound", huge, BLOCK_MAX_SIZE + 1, ERR_TOO_LARGE},
    };
    node_status_t before = status_now();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        chain_status_t st;
        hash32_t h;
        err_t e = {0};
        int rc = node_submit_block(N, cases[i].raw, cases[i].len, "test", &st, &h, &e);
        cr_assert_eq(rc, -(int)cases[i].code, "%s: rc %d (%s: %s)", cases[i].what, rc,
                     err_str(e.code), e.message);
        node_status_t s = status_now();
        cr_assert(s.height == before.height && hash32_eq(&s.hash, &before.hash) &&
                  s.orphans == before.orphans, "%s changed the chain", cases[i].what);
    }
    tb_node_block_ok(N, &b1, CHAIN_TIP);
}

/* --- settling a held answer, and durability -------------------------------------- */

Test(node, settle_says_whether_an_admitted_transaction_is_still_pending_or_confirmed)
{
    tb_rtx_t kept = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    tb_rtx_t mined = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 10000);
    tb_rtx_t lost = tb_pay(&GTX, 2, 10 * COIN, &camille, &albert.pkh, COIN, 10000);
    tb_node_submit_ok(N, &kept, 0);
    tb_node_submit_ok(N, &mined, 0);
    tb_node_submit_ok(N, &lost, 0);
    /* a block confirms one and spends another's coin otherwise */
    tb_rtx_t rival = tb_pay(&GTX, 2, 10 * COIN, &camille, &stranger.pkh, 2 * COIN, 10000);
    tb_rtx_t txs[2] = {mined, rival};
    tb_blk_t b1 = mkblock(&G, 1, txs, 2, 20000, 1);
    tb_node_block_ok(N, &b1, CHAIN_TIP);
    err_t e = {0};
    cr_assert_eq(node_settle_tx(N, &kept.txid, &e), 0, "pending: %s", e.message);
    cr_assert_eq(node_settle_tx(N, &mined.txid, &e), 0, "confirmed: %s", e.message);
    cr_assert_eq(node_settle_tx(N, &lost.txid, &e), -(int)ERR_DOUBLE_SPEND);
    cr_assert_eq(e.code, ERR_DOUBLE_SPEND);
    hash32_t never = {{0x42}};
    cr_assert_eq(node_settle_tx(N, &never, &e), -(int)ERR_DOUBLE_SPEND, "an unknown txid");
}

typedef struct {
    _Atomic uint64_t seen;
    _Atomic int calls;
} durable_seen_t;

static void on_durable(void *ctx, uint64_t durable)
{
    durable_seen_t *d = ctx;
    if (durable > d->seen)
        d->seen = durable;
    d->calls++;
}

/* Waits (10 s at most: a bound on liveness, not a timing) until d heard
 * ticket: the callback runs on the journal's thread, after the waiters wake. */
static void wait_heard(durable_seen_t *d, uint64_t ticket, const char *who)
{
    for (int ms = 0; d->seen < ticket && ms < 10000; ms++)
        nanosleep(&(struct timespec){0, 1000000L}, NULL);
    cr_assert_geq(d->seen, ticket, "%s did not hear its ticket", who);
}

/* Subscribers hear durable move; the slots are bounded (JOURNAL_MAX_SUBSCRIBERS)
 * and a freed one can be taken again; a removed one hears no more. */
Test(node, durable_subscriptions)
{
    durable_seen_t d[JOURNAL_MAX_SUBSCRIBERS] = {0};
    int handle[JOURNAL_MAX_SUBSCRIBERS];
    for (int i = 0; i < JOURNAL_MAX_SUBSCRIBERS; i++) {
        handle[i] = node_subscribe_durable(N, on_durable, &d[i]);
        cr_assert_geq(handle[i], 0, "slot %d", i);
    }
    durable_seen_t extra = {0};
    cr_assert_eq(node_subscribe_durable(N, on_durable, &extra), -1, "more slots than the bound");
    node_unsubscribe_durable(N, handle[0]);
    int again = node_subscribe_durable(N, on_durable, &extra);
    cr_assert_geq(again, 0, "a freed slot was not given again");

    tb_rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    hash32_t txid;
    uint64_t ticket;
    err_t e;
    cr_assert_eq(node_submit_tx(N, t.raw, t.len, "test", 0, &txid, &ticket, &e), 0, "%s",
                 e.message);
    node_wait_durable(N, ticket);
    wait_heard(&extra, ticket, "the subscriber in a freed slot");
    for (int i = 1; i < JOURNAL_MAX_SUBSCRIBERS; i++)
        wait_heard(&d[i], ticket, "a subscriber");
    cr_assert_eq(d[0].calls, 0, "a removed subscriber was called");
    node_unsubscribe_durable(N, again);
    for (int i = 1; i < JOURNAL_MAX_SUBSCRIBERS; i++)
        node_unsubscribe_durable(N, handle[i]);
}

/* --- opening ----------------------------------------------------------------------- */

Test(node, open_refuses_what_it_cannot_open)
{
    char *longdir = tb_keep(malloc(4200));
    memset(longdir, 'd', 4199);
    longdir[0] = '/';
    longdir[4199] = '\0';
    char file[300];
    snprintf(file, sizeof file, "%s/a-file", dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    char other[300];
    snprintf(other, sizeof other, "%s/demo", dir);
    node_t *n;
    node_config_t cfg = tb_node_config(other, 1 << 20);
    cfg.params = params_by_name("demo");
    cr_assert_not_null(cfg.params);
    tb_node_open(&n, &cfg); /* a demo chain there */
    node_close(&n);

    const struct {
        const char *what, *datadir, *network;
        err_code_t code;
    } cases[] = {
        {"a path too long", longdir, "regtest", ERR_INTERNAL},
        {"a file in the directory's place", file, "regtest", ERR_INTERNAL},
        {"another network's chain", other, "regtest", ERR_BAD_NETWORK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfg = tb_node_config(cases[i].datadir, 1 << 20);
        cfg.params = params_by_name(cases[i].network);
        n = (node_t *)&cfg; /* any pointer: a failed open must leave NULL */
        err_t e = {0};
        int rc = node_open(&n, &cfg, &e);
        cr_assert_eq(rc, -(int)cases[i].code, "%s: rc %d (%s)", cases[i].what, rc, e.message);
        cr_assert_eq(e.code, cases[i].code, "%s", cases[i].what);
        cr_assert_null(n, "%s: a node though it failed", cases[i].what);
        cr_assert_gt(strlen(e.message), 0, "%s: no message", cases[i].what);
    }
    node_close(&n); /* safe on NULL */
}

/* --- phases ------------------------------------------------------------------------ */

Test(node, phases_are_zero_when_off_and_counted_when_on)
{
    static const char *const names[NODE_PHASES] = {"decode", "signatures", "lock_wait",
                                                   "accept", "durable"};
    for (int p = 0; p < NODE_PHASES; p++)
        cr_assert_str_eq(node_phase_name((node_phase_t)p), names[p]);
    cr_assert_str_eq(node_phase_name(NODE_PHASES), "?");

    tb_rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    tb_node_submit_ok(N, &t, 0);
    node_phases_t ph;
    memset(&ph, 0xff, sizeof ph);
    node_phases(N, &ph);
    cr_assert_not(ph.on);
    cr_assert(ph.txs == 0 && ph.ns[NODE_PHASE_ACCEPT] == 0, "counted while off");

    node_close(&N);
    node_config_t cfg = tb_node_config(dir, (size_t)1 << 20);
    cfg.phases = true;
    tb_node_open(&N, &cfg);
    tb_rtx_t u = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, COIN, 10000);
    tb_node_submit_ok(N, &u, 0);
    node_phases(N, &ph);
    cr_assert(ph.on);
    cr_assert_eq(ph.txs, 1);
    cr_assert_gt(ph.ns[NODE_PHASE_ACCEPT], 0, "the admission was not timed");
    cr_assert_gt(ph.ns[NODE_PHASE_DECODE], 0, "the decoding was not timed");
    node_status_t s = status_now();
    cr_assert(s.phases.on && s.phases.txs == 1, "node_status does not carry the phases");
}

/* --- the explorer's queries ---------------------------------------------------------- */

Test(node, what_mempool_transactions_did_to_an_address)
{
    /* albert: a pays bertrand from albert's 40 (sent), b and c pay albert */
    tb_rtx_t a = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    tb_rtx_t b = tb_pay(&GTX, 1, 30 * COIN, &bertrand, &albert.pkh, 2 * COIN, 10000);
    tb_rtx_t c = tb_pay(&GTX, 2, 10 * COIN, &camille, &albert.pkh, 3 * COIN, 10000);
    tb_node_submit_ok(N, &a, 0);
    tb_node_submit_ok(N, &b, 0);
    tb_node_submit_ok(N, &c, 0);
    store_outpoint_t coins[1] = {{GTX, 0}};
    amount_t amounts[1] = {40 * COIN};
    node_address_tx_t out[4];
    bool more = true;
    cr_assert_eq(node_mempool_address(N, &albert.pkh, coins, amounts, 1, UINT64_MAX, out, 4,
                                      &more), 3);
    cr_assert_not(more);
    cr_assert(hash32_eq(&out[0].txid, &c.txid) && out[0].received == 3 * COIN &&
              out[0].sent == 0);
    cr_assert(hash32_eq(&out[1].txid, &b.txid) && out[1].received == 2 * COIN);
    /* a spent albert's 40 and paid him the change: one record, both amounts */
    cr_assert(hash32_eq(&out[2].txid, &a.txid) && out[2].sent == 40 * COIN &&
              out[2].received == 39 * COIN - 10000);
    /* a page of one, then the next from its seq */
    cr_assert_eq(node_mempool_address(N, &albert.pkh, coins, amounts, 1, UINT64_MAX, out, 1,
                                      &more), 1);
    cr_assert(more && hash32_eq(&out[0].txid, &c.txid));
    cr_assert_eq(node_mempool_address(N, &albert.pkh, coins, amounts, 1, out[0].seq, out, 4,
                                      &more), 2);
    cr_assert(!more && hash32_eq(&out[0].txid, &b.txid) && hash32_eq(&out[1].txid, &a.txid));
    cr_assert_eq(node_mempool_address(N, &stranger.pkh, NULL, NULL, 0, UINT64_MAX, out, 4,
                                      &more), 0);
    cr_assert_not(more);
}

Test(node, mempool_lookups_of_what_is_not_there)
{
    hash32_t none = {{0x99}}, spender;
    uint8_t *raw = NULL;
    size_t len = 0;
    bool parked = true;
    cr_assert_eq(node_mempool_tx(N, &none, &raw, &len, &parked), -1);
    cr_assert_null(raw, "an absent transaction was copied");
    uint32_t input = 7;
    cr_assert_eq(node_mempool_spender(N, &GTX, 0, &spender, &input), -1);
    cr_assert_eq(input, 7);
    node_mempool_item_t items[2];
    cr_assert_eq(node_mempool_list(N, items, 2), 0);
    cr_assert_eq(node_mempool_recent(N, items, 2), 0);
    hash32_t txids[2];
    cr_assert_eq(node_mempool_txids(N, txids, 2), 0);
    cr_assert_eq(node_unbroadcast(N, txids, 2), 0);
    /* a pending one, asked for with max beyond NODE_RECENT_MAX */
    tb_rtx_t t = tb_pay(&GTX, 0, 40 * COIN, &albert, &bertrand.pkh, COIN, 10000);
    tb_node_submit_ok(N, &t, STORE_MEMPOOL_UNBROADCAST);
    node_mempool_item_t *many = tb_keep(malloc((NODE_RECENT_MAX + 5) * sizeof *many));
    cr_assert_eq(node_mempool_recent(N, many, NODE_RECENT_MAX + 5), 1);
    cr_assert(hash32_eq(&many[0].txid, &t.txid) && many[0].unbroadcast);
    cr_assert_eq(node_mempool_tx(N, &t.txid, &raw, &len, NULL), 0, "parked may be NULL");
    cr_assert(len == t.len && memcmp(raw, t.raw, len) == 0);
    free(raw);
}
