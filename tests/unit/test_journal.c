/* journal.h in process, on a real chain's store: ops applied in order, one
 * group commit for many concurrent submitters (commits counted), the skip of
 * a put that lost to a block (confirmed or conflicted, the block committed
 * before the put was queued or after), the bounds (a full journal refuses
 * puts and flags, a delete waits), subscribers, and the drain at close.
 *
 * A test holds the committer back by holding a store write itself: the
 * committer's next write waits for it (store_write_begin serialises). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builder.h"
#include "chain.h"
#include "journal.h"
#include "log.h"

#define COIN AMOUNT_COIN
#define BITS 0x207fffffu
#define FAN 16 /* coins of block 1's fan-out, one for each submitter */

static const chain_params_t *P;
static char dir[256];
static chain_t *C;
static journal_t *J;
static hash32_t G, GTX, FAN_TXID, B1;
static tb_wallet_t albert, bertrand, stranger;

typedef struct {
    mp_buf_t raw;
    hash32_t txid;
} jtx_t;

static void *kept[256];
static size_t n_kept;

static jtx_t *newtx(void)
{
    jtx_t *t = calloc(1, sizeof *t);
    cr_assert(t && n_kept < sizeof kept / sizeof kept[0]);
    kept[n_kept++] = t;
    mp_buf_init(&t->raw, TX_MAX_SIZE);
    return t;
}

/* A payment of prev:index (worth in, albert's unless from says otherwise). */
static jtx_t *pay(const hash32_t *prev, uint32_t index, amount_t in, const tb_wallet_t *from,
                  amount_t fee)
{
    jtx_t *t = newtx();
    tb_tx(&t->raw, &t->txid, prev, index, in, from, &stranger.pkh, COIN, fee);
    return t;
}

static void submit_block(const jtx_t *const *txs, size_t n, uint64_t height, const hash32_t *parent,
                         hash32_t *hash, uint64_t tag)
{
    const uint8_t *raws[FAN];
    size_t lens[FAN];
    amount_t fees = 0;
    for (size_t i = 0; i < n; i++) {
        raws[i] = txs[i]->raw.data;
        lens[i] = txs[i]->raw.len;
        fees += 10000;
    }
    mp_buf_t b;
    mp_buf_init(&b, BLOCK_MAX_SIZE);
    tb_block(&b, hash, NULL, parent, height, P->genesis_timestamp + 60 * height, BITS,
             &albert.pkh, params_subsidy(P, height) + fees, raws, lens, n, tag);
    chain_status_t st;
    hash32_t got;
    err_t e;
    cr_assert_eq(chain_submit_block(C, b.data, b.len, (uint64_t)time(NULL), &st, &got, &e), 0,
                 "%s", e.message);
    cr_assert_eq(st, CHAIN_TIP);
    mp_buf_free(&b);
}

static void setup(void)
{
    log_init("test", LOG_ERROR);
    P = params_by_name("regtest");
    tb_tmpdir(dir);
    err_t e;
    cr_assert_eq(chain_open(&C, P, dir, (size_t)1 << 30, 1, NULL, NULL, &e), 0, "%s", e.message);
    tb_genesis(P, &G, &GTX);
    tb_demo_wallet(&albert, "albert");
    tb_demo_wallet(&bertrand, "bertrand");
    tb_wallet(&stranger, 0x22);
    /* block 1: albert's 40 coins (genesis output 0) into FAN coins of 2 */
    jtx_t *fan = newtx();
    tb_input_t in = {GTX, 0, &albert};
    tb_output_t outs[FAN];
    for (int i = 0; i < FAN; i++)
        outs[i] = (tb_output_t){2 * COIN, &albert.pkh};
    tb_tx_multi(&fan->raw, &fan->txid, &in, 1, outs, FAN, -1);
    FAN_TXID = fan->txid;
    const jtx_t *txs[1] = {fan};
    submit_block(txs, 1, 1, &G, &B1, 1);
}

static void teardown(void)
{
    journal_close(&J);
    chain_close(&C);
    for (size_t i = 0; i < n_kept; i++) {
        mp_buf_free(&((jtx_t *)kept[i])->raw);
        free(kept[i]);
    }
    n_kept = 0;
    tb_rmdir(dir);
}

TestSuite(journal, .init = setup, .fini = teardown, .timeout = 60);

static void open_journal(size_t max_ops, size_t max_bytes)
{
    err_t e;
    cr_assert_eq(journal_open(&J, chain_store(C), max_ops, max_bytes, &e), 0, "%s", e.message);
}

static uint64_t put(const jtx_t *t, uint8_t flags)
{
    store_mempool_rec_t rec = {flags, 1700000000, t->raw.data, t->raw.len};
    uint64_t seq = 0;
    err_t e;
    cr_assert_eq(journal_put(J, &t->txid, &rec, &seq, &e), 0, "%s", e.message);
    return seq;
}

/* -1: no record; else its flags. */
static int record_flags(const jtx_t *t)
{
    store_read_t *r;
    store_mempool_rec_t rec;
    err_t e;
    cr_assert_eq(store_read_begin(chain_store(C), &r, &e), 0, "%s", e.message);
    int rc = store_get_mempool(r, &t->txid, &rec, &e);
    cr_assert(rc == 0 || rc == -(int)ERR_NOT_FOUND, "%s", e.message);
    if (rc == 0)
        cr_assert(rec.len == t->raw.len && memcmp(rec.raw, t->raw.data, rec.len) == 0);
    int flags = rc == 0 ? rec.flags : -1;
    store_read_end(&r);
    return flags;
}

static journal_stats_t stats(void)
{
    journal_stats_t st;
    journal_stats(J, &st);
    return st;
}

static store_write_t *hold_committer(void)
{
    store_write_t *w;
    err_t e;
    cr_assert_eq(store_write_begin(chain_store(C), &w, &e), 0, "%s", e.message);
    return w;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls until cond holds (10 s at most: then the test fails). */
#define EVENTUALLY(cond, what)                                                                \
    do {                                                                                      \
        int tries_ = 0;                                                                       \
        while (!(cond) && tries_++ < 10000)                                                   \
            sleep_ms(1);                                                                      \
        cr_assert(cond, "%s", what);                                                          \
    } while (0)

Test(journal, ops_apply_in_order_and_durable_follows_them)
{
    open_journal(0, 0);
    jtx_t *a = pay(&FAN_TXID, 0, 2 * COIN, &albert, 10000);
    jtx_t *b = pay(&FAN_TXID, 1, 2 * COIN, &albert, 10000);
    jtx_t *c = pay(&FAN_TXID, 2, 2 * COIN, &albert, 10000);
    cr_assert_eq(journal_last(J), 0);
    uint64_t s1 = put(a, STORE_MEMPOOL_UNBROADCAST), s2, s4;
    err_t e;
    cr_assert_eq(journal_set_flags(J, &a->txid, 0, &s2, &e), 0);
    uint64_t s3 = put(b, 0);
    s4 = journal_delete(J, &b->txid);
    uint64_t s5 = put(c, STORE_MEMPOOL_UNBROADCAST);
    uint64_t s6 = journal_delete(J, &G); /* no record: nothing */
    uint64_t s7;
    cr_assert_eq(journal_set_flags(J, &b->txid, 1, &s7, &e), 0); /* gone by then: nothing */
    cr_assert(s1 == 1 && s2 == 2 && s3 == 3 && s4 == 4 && s5 == 5 && s6 == 6 && s7 == 7,
              "sequence numbers out of order");
    cr_assert_eq(journal_last(J), 7);
    journal_wait(J, s7);
    cr_assert_geq(journal_durable(J), 7);
    cr_assert_eq(record_flags(a), 0, "the flags change after the put was lost");
    cr_assert_eq(record_flags(b), -1, "the delete after the put was lost");
    cr_assert_eq(record_flags(c), STORE_MEMPOOL_UNBROADCAST);
    journal_stats_t st = stats();
    cr_assert_eq(st.ops, 7);
    cr_assert_eq(st.skipped, 0);
    cr_assert_eq(st.waiting, 0);
    cr_assert_geq(st.commits, 1);
    store_read_t *r;
    cr_assert_eq(store_read_begin(chain_store(C), &r, &e), 0);
    cr_assert_eq(store_check(r, NULL, &e), 0, "%s", e.message);
    store_read_end(&r);
}

typedef struct {
    const jtx_t *t;
    uint64_t seq;
} submitter_t;

static void *submitter(void *arg)
{
    submitter_t *s = arg;
    s->seq = put(s->t, 0);
    journal_wait(J, s->seq);
    return NULL;
}

Test(journal, one_commit_for_many_concurrent_submitters)
{
    open_journal(0, 0);
    submitter_t subs[FAN];
    pthread_t threads[FAN];
    uint64_t commits = stats().commits;
    store_write_t *w = hold_committer();
    for (int i = 0; i < FAN; i++) {
        subs[i] = (submitter_t){pay(&FAN_TXID, (uint32_t)i, 2 * COIN, &albert, 10000), 0};
        cr_assert_eq(pthread_create(&threads[i], NULL, submitter, &subs[i]), 0);
    }
    EVENTUALLY(stats().waiting == FAN, "the submitters did not all queue");
    cr_assert_eq(journal_durable(J), 0, "a commit went by a held write");
    store_write_abort(&w);
    for (int i = 0; i < FAN; i++)
        pthread_join(threads[i], NULL);
    journal_stats_t st = stats();
    /* the committer may have taken the first put before it met the held
     * write; everything queued behind it goes in one commit */
    cr_assert_leq(st.commits - commits, 2, "%llu commits for %d submitters",
                  (unsigned long long)(st.commits - commits), FAN);
    cr_assert_eq(st.ops, FAN);
    for (int i = 0; i < FAN; i++) {
        cr_assert_geq(journal_durable(J), subs[i].seq);
        cr_assert_eq(record_flags(subs[i].t), 0, "submitter %d's record is missing", i);
    }
}

Test(journal, a_put_that_lost_to_a_block_is_skipped_in_either_order)
{
    open_journal(0, 0);
    /* the block first: it confirms x and spends y's coin another way */
    jtx_t *x = pay(&FAN_TXID, 0, 2 * COIN, &albert, 10000);
    jtx_t *y = pay(&FAN_TXID, 1, 2 * COIN, &albert, 10000);
    jtx_t *y2 = pay(&FAN_TXID, 1, 2 * COIN, &albert, 20000);
    const jtx_t *txs[2] = {x, y2};
    hash32_t b2;
    submit_block(txs, 2, 2, &B1, &b2, 2);
    journal_wait(J, put(x, 0));
    journal_wait(J, put(y, 0));
    cr_assert_eq(record_flags(x), -1, "a put of a confirmed transaction was applied");
    cr_assert_eq(record_flags(y), -1, "a put of a conflicted transaction was applied");
    cr_assert_eq(stats().skipped, 2);

    /* the put queued first, the block's write committing before it applies */
    jtx_t *z = pay(&FAN_TXID, 2, 2 * COIN, &albert, 10000);
    jtx_t *ok = pay(&FAN_TXID, 3, 2 * COIN, &albert, 10000);
    store_write_t *w = hold_committer();
    uint64_t sz = put(z, 0), sok = put(ok, 0);
    err_t e;
    cr_assert_eq(store_spend_coin(w, &FAN_TXID, 2, &e), 0, "%s", e.message);
    cr_assert_eq(store_write_commit(&w, &e), 0, "%s", e.message);
    journal_wait(J, sok);
    cr_assert_geq(journal_durable(J), sz);
    cr_assert_eq(record_flags(z), -1, "a put applied after a write spent its coin");
    cr_assert_eq(record_flags(ok), 0, "an unrelated put was skipped");
    cr_assert_eq(stats().skipped, 3);
}

static atomic_bool deleted;

static void *deleter(void *arg)
{
    journal_delete(J, arg);
    atomic_store(&deleted, true);
    return NULL;
}

Test(journal, a_full_journal_refuses_puts_and_flags_and_a_delete_waits)
{
    open_journal(4, 0);
    jtx_t *t[6];
    for (int i = 0; i < 6; i++)
        t[i] = pay(&FAN_TXID, (uint32_t)i, 2 * COIN, &albert, 10000);
    store_write_t *w = hold_committer();
    uint64_t last = 0;
    for (int i = 0; i < 4; i++)
        last = put(t[i], 0);
    store_mempool_rec_t rec = {0, 1, t[4]->raw.data, t[4]->raw.len};
    uint64_t seq;
    err_t e;
    cr_assert_eq(journal_put(J, &t[4]->txid, &rec, &seq, &e), -(int)ERR_MEMPOOL_FULL);
    cr_assert(strstr(e.message, "busy"), "%s", e.message);
    cr_assert_eq(journal_room(J, 10, &e), -(int)ERR_MEMPOOL_FULL);
    cr_assert_eq(journal_set_flags(J, &t[0]->txid, 1, &seq, &e), -(int)ERR_MEMPOOL_FULL);
    cr_assert_eq(stats().waiting, 4, "the queue went past its bound");
    atomic_store(&deleted, false);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, deleter, &t[0]->txid), 0);
    sleep_ms(50);
    cr_assert_not(atomic_load(&deleted), "a delete went past the bound");
    store_write_abort(&w);
    pthread_join(th, NULL);
    journal_wait(J, journal_last(J));
    cr_assert_gt(journal_last(J), last);
    cr_assert_eq(record_flags(t[0]), -1);
    cr_assert_eq(record_flags(t[3]), 0);
    cr_assert_eq(journal_room(J, 10, &e), 0);

    /* bytes: a second transaction-sized put does not fit beside a first */
    journal_close(&J);
    open_journal(100, TX_MAX_SIZE);
    static uint8_t big[TX_MAX_SIZE];
    hash32_t h1 = {{1}}, h2 = {{2}};
    store_mempool_rec_t huge = {0, 1, big, sizeof big}, small = {0, 1, big, 10};
    w = hold_committer();
    cr_assert_eq(journal_put(J, &h1, &huge, &seq, &e), 0, "one transaction always fits");
    cr_assert_eq(journal_put(J, &h2, &small, &seq, &e), -(int)ERR_MEMPOOL_FULL);
    store_write_abort(&w);
    journal_wait(J, journal_last(J));
    cr_assert_eq(stats().skipped, 1, "bytes that are no transaction are no pending one");
}

static _Atomic uint64_t told;

static void on_durable(void *ctx, uint64_t durable)
{
    (void)ctx;
    atomic_store(&told, durable);
}

Test(journal, subscribers_hear_of_durability_until_they_leave)
{
    open_journal(0, 0);
    atomic_store(&told, 0);
    int slot = journal_subscribe(J, on_durable, NULL);
    cr_assert_geq(slot, 0);
    for (int i = 1; i < JOURNAL_MAX_SUBSCRIBERS; i++)
        cr_assert_geq(journal_subscribe(J, on_durable, NULL), 0);
    cr_assert_eq(journal_subscribe(J, on_durable, NULL), -1, "a subscriber past the bound");
    for (int i = 0; i < JOURNAL_MAX_SUBSCRIBERS; i++)
        journal_unsubscribe(J, i);
    slot = journal_subscribe(J, on_durable, NULL);
    uint64_t seq = put(pay(&FAN_TXID, 0, 2 * COIN, &albert, 10000), 0);
    EVENTUALLY(atomic_load(&told) >= seq, "the subscriber was not told");
    journal_unsubscribe(J, slot);
    uint64_t later = put(pay(&FAN_TXID, 1, 2 * COIN, &albert, 10000), 0);
    journal_wait(J, later);
    sleep_ms(20);
    cr_assert_lt(atomic_load(&told), later, "a subscriber that left was told");
}

Test(journal, close_commits_what_is_queued)
{
    open_journal(0, 0);
    jtx_t *a = pay(&FAN_TXID, 0, 2 * COIN, &albert, 10000);
    jtx_t *b = pay(&GTX, 1, 30 * COIN, &bertrand, 10000);
    store_write_t *w = hold_committer();
    put(a, 0);
    put(b, STORE_MEMPOOL_UNBROADCAST);
    store_write_abort(&w);
    journal_close(&J);
    cr_assert_eq(record_flags(a), 0);
    cr_assert_eq(record_flags(b), STORE_MEMPOOL_UNBROADCAST);
}
