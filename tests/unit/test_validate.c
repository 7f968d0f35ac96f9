/* validate.h: the signature cache (its bound, its counts, only valid
 * signatures kept, shared by threads), the P2PKH signature an input
 * presents, script checks on the calling thread and in the pool (the
 * failing job named), the pool's prefetch queue and timers, and the input
 * rules against a coin view: each error code, its bounds, hostile coins. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder.h"
#include "fixture.h"
#include "hex.h"
#include "log.h"
#include "script.h"
#include "tx.h"
#include "validate.h"

#define COIN AMOUNT_COIN
#define MAX_INPUTS 16

static tb_wallet_t alice, bob;

static void setup(void)
{
    log_init("test", LOG_ERROR);
    tb_wallet(&alice, 0x31);
    tb_wallet(&bob, 0x32);
}

static void teardown(void) { tb_keep_free(); }

TestSuite(validate, .init = setup, .fini = teardown, .timeout = 60);

/* --- signatures ------------------------------------------------------------ */

/* alice's signature over the hash whose bytes are all `fill`. */
static void signed_hash(uint8_t fill, hash32_t *h, uint8_t sig[KEY_SIG_LEN])
{
    err_t e;
    memset(h->b, fill, 32);
    cr_assert_eq(key_sign(&alice.key, sig, h->b, 32, &e), 0, "%s", e.message);
}

/* What sigcache_verify must refuse, and never remember. */
typedef struct {
    const char *what;
    int pubkey; /* 0 alice's, 1 bob's, 2 all zero (no point) */
    int sig_bit; /* >= 0: flip this bit of the signature */
    uint8_t fill; /* the hash signed over is alice's; this one is checked */
    bool sig_ff;  /* a signature of all 0xff bytes */
} bad_sig_t;

static const bad_sig_t bad_sigs[] = {
    {"a flipped bit in R", 0, 3, 0xa1, false},
    {"a flipped bit in S", 0, 300, 0xa1, false},
    {"another message", 0, -1, 0xa2, false},
    {"another key", 1, -1, 0xa1, false},
    {"a key that is no point", 2, -1, 0xa1, false},
    {"a signature of 0xff bytes", 0, -1, 0xa1, true},
};

Test(validate, sigcache_keeps_only_valid_signatures_and_counts_each_lookup)
{
    sigcache_t *c = sigcache_new(10);
    cr_assert_not_null(c);
    hash32_t h;
    uint8_t sig[KEY_SIG_LEN];
    signed_hash(0xa1, &h, sig);
    uint64_t hits, misses;
    size_t entries;
    sigcache_stats(c, &hits, &misses, &entries);
    cr_assert(hits == 0 && misses == 0 && entries == 0);
    cr_assert(sigcache_verify(c, alice.key.pubkey, sig, &h));
    sigcache_stats(c, &hits, &misses, &entries);
    cr_assert(hits == 0 && misses == 1 && entries == 1, "%llu %llu %zu",
              (unsigned long long)hits, (unsigned long long)misses, entries);
    cr_assert(sigcache_verify(c, alice.key.pubkey, sig, &h));
    sigcache_stats(c, &hits, &misses, &entries);
    cr_assert(hits == 1 && misses == 1 && entries == 1, "the second lookup missed");

    for (size_t i = 0; i < sizeof bad_sigs / sizeof bad_sigs[0]; i++) {
        const bad_sig_t *b = &bad_sigs[i];
        uint8_t pub[KEY_PUBKEY_LEN], s[KEY_SIG_LEN];
        hash32_t m;
        memcpy(pub, b->pubkey == 1 ? bob.key.pubkey : alice.key.pubkey, KEY_PUBKEY_LEN);
        if (b->pubkey == 2)
            memset(pub, 0, sizeof pub);
        memcpy(s, sig, sizeof s);
        if (b->sig_bit >= 0)
            s[b->sig_bit / 8] ^= (uint8_t)(1u << (b->sig_bit % 8));
        if (b->sig_ff)
            memset(s, 0xff, sizeof s);
        memset(m.b, b->fill, 32);
        for (int twice = 0; twice < 2; twice++) /* refused again: never cached */
            cr_assert_not(sigcache_verify(c, pub, s, &m), "%s: accepted", b->what);
        uint64_t h2, m2;
        size_t n2;
        sigcache_stats(c, &h2, &m2, &n2);
        cr_assert_eq(n2, 1, "%s: cached", b->what);
        cr_assert_eq(h2, hits, "%s: a hit", b->what);
        cr_assert_eq(m2, misses + 2 * (i + 1), "%s: lookups not counted as misses", b->what);
    }
    sigcache_destroy(&c);
    cr_assert_null(c);
    sigcache_destroy(&c); /* safe once destroyed */
}

Test(validate, sigcache_never_grows_past_its_bound_and_drops_the_oldest)
{
    enum { MAX = 3, SIGS = 6 };
    sigcache_t *c = sigcache_new(MAX);
    cr_assert_not_null(c);
    hash32_t h[SIGS];
    uint8_t sig[SIGS][KEY_SIG_LEN];
    uint64_t hits, misses;
    size_t entries;
    for (int i = 0; i < SIGS; i++) {
        signed_hash((uint8_t)(0x10 + i), &h[i], sig[i]);
        cr_assert(sigcache_verify(c, alice.key.pubkey, sig[i], &h[i]));
        sigcache_stats(c, &hits, &misses, &entries);
        cr_assert_eq(entries, i < MAX ? (size_t)i + 1 : MAX, "signature %d: %zu entries", i,
                     entries);
    }
    cr_assert_eq(misses, SIGS);
    /* the newest MAX answer from the cache; the oldest is checked again */
    for (int i = SIGS - MAX; i < SIGS; i++)
        cr_assert(sigcache_verify(c, alice.key.pubkey, sig[i], &h[i]));
    sigcache_stats(c, &hits, &misses, &entries);
    cr_assert_eq(hits, MAX, "the newest were not kept");
    cr_assert(sigcache_verify(c, alice.key.pubkey, sig[0], &h[0]));
    sigcache_stats(c, &hits, &misses, &entries);
    cr_assert_eq(misses, SIGS + 1, "the oldest was kept past the bound");
    cr_assert_eq(entries, MAX);
    sigcache_destroy(&c);
}

Test(validate, without_a_cache_signatures_are_checked_directly)
{
    hash32_t h;
    uint8_t sig[KEY_SIG_LEN];
    signed_hash(0x44, &h, sig);
    cr_assert(sigcache_verify(NULL, alice.key.pubkey, sig, &h));
    cr_assert_not(sigcache_verify(NULL, bob.key.pubkey, sig, &h));
    sig[0] ^= 1;
    cr_assert_not(sigcache_verify(NULL, alice.key.pubkey, sig, &h));
}

/* Threads sharing one cache: every answer right, the counts add up, and the
 * bound holds. */
enum { SHARED_SIGS = 8, SHARED_ROUNDS = 25, SHARED_THREADS = 4 };
static struct {
    sigcache_t *c;
    hash32_t h[SHARED_SIGS];
    uint8_t sig[SHARED_SIGS][KEY_SIG_LEN];
} shared;

static void *verify_all(void *arg)
{
    (void)arg;
    long wrong = 0;
    for (int r = 0; r < SHARED_ROUNDS; r++)
        for (int i = 0; i < SHARED_SIGS; i++) {
            wrong += !sigcache_verify(shared.c, alice.key.pubkey, shared.sig[i], &shared.h[i]);
            /* another hash under the same signature: always refused */
            wrong += sigcache_verify(shared.c, alice.key.pubkey, shared.sig[i],
                                     &shared.h[(i + 1) % SHARED_SIGS]);
        }
    return (void *)wrong;
}

Test(validate, sigcache_shared_by_threads)
{
    shared.c = sigcache_new(SHARED_SIGS);
    cr_assert_not_null(shared.c);
    for (int i = 0; i < SHARED_SIGS; i++)
        signed_hash((uint8_t)(0x60 + i), &shared.h[i], shared.sig[i]);
    pthread_t th[SHARED_THREADS];
    for (int t = 0; t < SHARED_THREADS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, verify_all, NULL), 0);
    for (int t = 0; t < SHARED_THREADS; t++) {
        void *wrong;
        pthread_join(th[t], &wrong);
        cr_assert_eq((long)wrong, 0, "thread %d got %ld wrong answers", t, (long)wrong);
    }
    uint64_t hits, misses;
    size_t entries;
    sigcache_stats(shared.c, &hits, &misses, &entries);
    cr_assert_eq(entries, SHARED_SIGS);
    cr_assert_eq(hits + misses, (uint64_t)SHARED_THREADS * SHARED_ROUNDS * SHARED_SIGS * 2);
    cr_assert_geq(misses, SHARED_THREADS * SHARED_ROUNDS * SHARED_SIGS, "refusals were hits");
    sigcache_destroy(&shared.c);
}

/* --- a spend to check ----------------------------------------------------------- */

/* A decoded transaction of n inputs (made-up coins, all alice's) paying
 * bob, signed (corrupt >= 0: that input's signature forged), with its
 * sighash and the lock of alice's coins. */
typedef struct {
    tx_t tx;
    hash32_t sighash;
    uint8_t lock[SCRIPT_P2PKH_LOCK_LEN];
} spend_t;

static void spend(spend_t *s, size_t n, int corrupt)
{
    tb_input_t ins[MAX_INPUTS];
    cr_assert_leq(n, MAX_INPUTS);
    for (size_t i = 0; i < n; i++)
        ins[i] = (tb_input_t){{{0xc0, (uint8_t)i}}, (uint32_t)i, &alice};
    tb_output_t out = {COIN, &bob.pkh};
    tb_rtx_t r = tb_mktx(ins, n, &out, 1, corrupt);
    err_t e;
    cr_assert_eq(tx_decode(&s->tx, r.raw, r.len, &e), 0, "%s", e.message);
    cr_assert_eq(tx_sighash(&s->tx, &s->sighash), 0);
    script_p2pkh_lock(s->lock, &alice.pkh);
}

static script_job_t job_of(const spend_t *s, size_t i, uint32_t tx_index)
{
    return (script_job_t){s->tx.inputs[i].script, s->tx.inputs[i].script_len, s->lock,
                          sizeof s->lock, s->sighash, tx_index, (uint32_t)i};
}

static void jobs_of(script_job_t *jobs, const spend_t *s, uint32_t tx_index)
{
    for (size_t i = 0; i < s->tx.n_inputs; i++)
        jobs[i] = job_of(s, i, tx_index);
}

/* An error of code whose message names "transaction T input I". */
static void assert_names(const err_t *e, err_code_t code, uint32_t tx, uint32_t input,
                         const char *what)
{
    char want[64];
    snprintf(want, sizeof want, "transaction %u input %u", tx, input);
    cr_assert_eq(e->code, code, "%s: %s", what, err_str(e->code));
    cr_assert(strstr(e->message, want), "%s: the message does not name %s: %s", what, want,
              e->message);
}

/* --- the signature an input presents -------------------------------------------- */

/* A mutation of a valid P2PKH unlocking script, and whether it still parses. */
typedef struct {
    const char *what;
    void (*mutate)(uint8_t *s, size_t *len);
    bool parses;
} unlock_case_t;

static void m_none(uint8_t *s, size_t *len) { (void)s, (void)len; }
static void m_empty(uint8_t *s, size_t *len) { (void)s, *len = 0; }
static void m_truncated(uint8_t *s, size_t *len) { (void)s, (*len)--; }
static void m_trailing(uint8_t *s, size_t *len) { s[(*len)++] = 0x00; }
static void m_sig_push(uint8_t *s, size_t *len) { (void)len, s[0] = KEY_SIG_LEN - 1; }
static void m_key_push(uint8_t *s, size_t *len) { (void)len, s[1 + KEY_SIG_LEN] = 0x21; }
static void m_sig_only(uint8_t *s, size_t *len) { (void)s, *len = 1 + KEY_SIG_LEN; }
static void m_zeros(uint8_t *s, size_t *len) { memset(s, 0, *len); }
static void m_swapped(uint8_t *s, size_t *len)
{
    uint8_t t[SCRIPT_P2PKH_UNLOCK_LEN];
    memcpy(t, s + 1 + KEY_SIG_LEN, 1 + KEY_PUBKEY_LEN); /* 20 <pubkey> first */
    memcpy(t + 1 + KEY_PUBKEY_LEN, s, 1 + KEY_SIG_LEN);
    memcpy(s, t, *len);
}
/* framing is all it checks: garbage bytes in the right pushes still parse */
static void m_garbage(uint8_t *s, size_t *len)
{
    (void)len;
    memset(s + 1, 0x5a, KEY_SIG_LEN);
    memset(s + 2 + KEY_SIG_LEN, 0xa5, KEY_PUBKEY_LEN);
}

static const unlock_case_t unlock_cases[] = {
    {"as signed", m_none, true},
    {"framed garbage", m_garbage, true},
    {"empty", m_empty, false},
    {"one byte short", m_truncated, false},
    {"a trailing byte", m_trailing, false},
    {"a 63-byte signature push", m_sig_push, false},
    {"a 33-byte key push", m_key_push, false},
    {"the signature alone", m_sig_only, false},
    {"the key before the signature", m_swapped, false},
    {"all zero", m_zeros, false},
};

Test(validate, an_input_presents_its_signature_only_in_the_p2pkh_form)
{
    spend_t s;
    spend(&s, 1, -1);
    cr_assert_eq(s.tx.inputs[0].script_len, SCRIPT_P2PKH_UNLOCK_LEN);
    for (size_t i = 0; i < sizeof unlock_cases / sizeof unlock_cases[0]; i++) {
        const unlock_case_t *c = &unlock_cases[i];
        uint8_t script[SCRIPT_P2PKH_UNLOCK_LEN + 1];
        size_t len = SCRIPT_P2PKH_UNLOCK_LEN;
        memcpy(script, s.tx.inputs[0].script, len);
        c->mutate(script, &len);
        tx_input_t in = {.script = script, .script_len = len};
        vpool_sig_t out;
        memset(&out, 0xee, sizeof out);
        cr_assert_eq(validate_input_sig(&in, &s.sighash, &out), c->parses, "%s", c->what);
        if (!c->parses)
            continue;
        cr_assert(memcmp(out.sig, script + 1, KEY_SIG_LEN) == 0, "%s: another signature",
                  c->what);
        cr_assert(memcmp(out.pubkey, script + 2 + KEY_SIG_LEN, KEY_PUBKEY_LEN) == 0,
                  "%s: another key", c->what);
        cr_assert(hash32_eq(&out.sighash, &s.sighash), "%s: another sighash", c->what);
    }
    tx_free(&s.tx);
}

/* --- script checks --------------------------------------------------------------- */

/* Jobs that must fail, each naming its transaction and input. */
typedef struct {
    const char *what;
    void (*mutate)(script_job_t *j, uint8_t *buf);
} job_case_t;

static uint8_t big[SCRIPT_MAX_SIZE + 1];
static void j_other_owner(script_job_t *j, uint8_t *buf)
{
    script_p2pkh_lock(buf, &bob.pkh);
    j->locking = buf;
}
static void j_no_unlocking(script_job_t *j, uint8_t *buf) { (void)buf, j->unlocking_len = 0; }
/* (an empty locking script is no case: the unlocking pushes leave a true
 * top, valid by DESIGN §3.3) */
static void j_cut_lock(script_job_t *j, uint8_t *buf) { (void)buf, j->locking_len = 10; }
static void j_other_sighash(script_job_t *j, uint8_t *buf) { (void)buf, j->sighash.b[5] ^= 1; }
static void j_junk_lock(script_job_t *j, uint8_t *buf)
{
    memset(buf, 0xff, SCRIPT_P2PKH_LOCK_LEN); /* opcodes that are none */
    j->locking = buf;
}
static void j_oversized(script_job_t *j, uint8_t *buf)
{
    (void)buf;
    memset(big, 0x00, sizeof big);
    j->unlocking = big;
    j->unlocking_len = sizeof big;
}

static const job_case_t job_cases[] = {
    {"a coin of another owner", j_other_owner},
    {"no unlocking script", j_no_unlocking},
    {"a locking script cut inside its push", j_cut_lock},
    {"another sighash", j_other_sighash},
    {"a locking script of junk opcodes", j_junk_lock},
    {"an unlocking script over SCRIPT_MAX_SIZE", j_oversized},
};

Test(validate, scripts_on_the_calling_thread)
{
    spend_t s;
    spend(&s, 3, -1);
    script_job_t jobs[3];
    jobs_of(jobs, &s, 7);
    err_t e = {0};
    cr_assert_eq(validate_scripts(NULL, jobs, 3, &e), 0, "%s", e.message);
    cr_assert_eq(validate_scripts(NULL, jobs, 0, &e), 0, "no jobs, no error");
    for (size_t i = 0; i < sizeof job_cases / sizeof job_cases[0]; i++) {
        script_job_t bad[3];
        uint8_t buf[SCRIPT_P2PKH_LOCK_LEN];
        memcpy(bad, jobs, sizeof bad);
        job_cases[i].mutate(&bad[2], buf);
        e = (err_t){0};
        cr_assert_eq(validate_scripts(NULL, bad, 3, &e), -(int)ERR_SCRIPT_FAILED, "%s",
                     job_cases[i].what);
        assert_names(&e, ERR_SCRIPT_FAILED, 7, 2, job_cases[i].what);
    }
    tx_free(&s.tx);

    spend(&s, 3, 1); /* input 1's signature forged */
    jobs_of(jobs, &s, 9);
    sigcache_t *c = sigcache_new(100);
    cr_assert_eq(validate_scripts(c, jobs, 3, &e), -(int)ERR_SCRIPT_FAILED);
    assert_names(&e, ERR_SCRIPT_FAILED, 9, 1, "a forged signature");
    uint64_t hits, misses;
    size_t entries;
    sigcache_stats(c, &hits, &misses, &entries);
    cr_assert_eq(entries, 1, "input 0 checked into the cache, input 1 refused, 2 not reached");
    sigcache_destroy(&c);
    tx_free(&s.tx);
}

/* The pool runs every job of a batch (with 1 and 3 threads, big and small
 * batches) and names the one that fails, wherever it is; a failed batch
 * leaves the pool ready for the next. */
Test(validate, the_pool_runs_every_job_and_names_the_failing_one)
{
    static const unsigned threads[] = {1, 3};
    static const int bad_at[] = {-1, 0, 7, MAX_INPUTS - 1};
    static const size_t sizes[] = {1, 2, MAX_INPUTS};
    for (size_t t = 0; t < 2; t++) {
        vpool_t *p = vpool_new(threads[t], NULL);
        cr_assert_not_null(p);
        cr_assert_eq(vpool_threads(p), threads[t]);
        err_t e = {0};
        cr_assert_eq(vpool_run(p, NULL, NULL, 0, &e), 0, "an empty batch");
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
            for (size_t b = 0; b < sizeof bad_at / sizeof bad_at[0]; b++) {
                size_t n = sizes[z];
                int bad = bad_at[b];
                if (bad >= (int)n)
                    continue;
                spend_t s;
                spend(&s, n, bad);
                script_job_t jobs[MAX_INPUTS];
                jobs_of(jobs, &s, 4);
                e = (err_t){0};
                int rc = vpool_run(p, NULL, jobs, n, &e);
                if (bad < 0) {
                    cr_assert_eq(rc, 0, "%u threads, %zu jobs: %s", threads[t], n, e.message);
                } else {
                    cr_assert_eq(rc, -(int)ERR_SCRIPT_FAILED, "%u threads, %zu jobs, bad %d",
                                 threads[t], n, bad);
                    assert_names(&e, ERR_SCRIPT_FAILED, 4, (uint32_t)bad, "the pool");
                }
                tx_free(&s.tx);
            }
        vpool_destroy(&p);
        cr_assert_null(p);
    }
    vpool_t *p = vpool_new(0, NULL);
    cr_assert_not_null(p);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert_eq(vpool_threads(p), cpus > 0 ? (unsigned)cpus : 1u, "0 is one a CPU");
    vpool_destroy(&p);
    vpool_destroy(&p); /* safe on NULL */
}

/* Timers count the caller's time only while set. */
Test(validate, the_pool_times_its_caller_only_when_asked)
{
    vpool_t *p = vpool_new(2, NULL);
    cr_assert_not_null(p);
    spend_t s;
    spend(&s, MAX_INPUTS, -1);
    script_job_t jobs[MAX_INPUTS];
    jobs_of(jobs, &s, 0);
    uint64_t ns[VPOOL_PHASES] = {0};
    err_t e;
    vpool_set_timers(p, ns);
    cr_assert_eq(vpool_run(p, NULL, jobs, MAX_INPUTS, &e), 0, "%s", e.message);
    cr_assert_gt(ns[VPOOL_SCRIPTS], 0, "the caller's script checks were not timed");
    vpool_set_timers(p, NULL);
    uint64_t before[VPOOL_PHASES];
    memcpy(before, ns, sizeof ns);
    cr_assert_eq(vpool_run(p, NULL, jobs, MAX_INPUTS, &e), 0, "%s", e.message);
    cr_assert(memcmp(before, ns, sizeof ns) == 0, "timed after the timers were taken away");
    vpool_destroy(&p);
    tx_free(&s.tx);
}

/* The pool's queue of prefetched blocks is bounded, owns what it is given,
 * caches only signatures that verify, and drops what is left when stopped. */
Test(validate, pool_prefetch_queue)
{
    sigcache_t *sc = sigcache_new(10000);
    cr_assert_not_null(sc);
    vpool_t *p = vpool_new(2, sc);
    cr_assert_not_null(p);
    uint8_t msg[32] = {1}, sig[KEY_SIG_LEN];
    err_t e;
    cr_assert_eq(key_sign(&alice.key, sig, msg, sizeof msg, &e), 0);
    /* blocks of 2000 signatures over other messages: each fails after a full
     * check, so the first block keeps the pool busy while the rest queue */
    enum { PER_BLOCK = 2000, BLOCKS = VPOOL_MAX_PREFETCH + 4 };
    for (int k = 0; k < BLOCKS; k++) {
        vpool_sig_t *sigs = malloc(PER_BLOCK * sizeof *sigs);
        cr_assert_not_null(sigs);
        for (int i = 0; i < PER_BLOCK; i++) {
            memcpy(sigs[i].pubkey, alice.key.pubkey, KEY_PUBKEY_LEN);
            memcpy(sigs[i].sig, sig, KEY_SIG_LEN);
            memset(sigs[i].sighash.b, 0, 32);
            memcpy(sigs[i].sighash.b, &i, sizeof i);
            sigs[i].sighash.b[31] = (uint8_t)(k + 1);
        }
        hash32_t id = {{(uint8_t)k}};
        int rc = vpool_prefetch(p, &id, sigs, PER_BLOCK);
        cr_assert_eq(rc, k < VPOOL_MAX_PREFETCH ? 0 : -1, "block %d: %d", k, rc);
    }
    hash32_t first = {{0}}, never = {{0xfe}};
    cr_assert(vpool_prefetched(p, &first));
    cr_assert_not(vpool_prefetched(p, &never));
    vpool_sig_t *again = malloc(sizeof *again);
    cr_assert_not_null(again);
    cr_assert_eq(vpool_prefetch(p, &first, again, 1), 0, "a block queued already: taken, freed");
    cr_assert_eq(vpool_prefetch(p, &never, malloc(sizeof(vpool_sig_t)), 0), -1,
                 "no signatures: nothing to gain (and freed)");
    vpool_destroy(&p); /* joins the threads; the queued blocks are freed */
    uint64_t hits, misses;
    size_t entries;
    sigcache_stats(sc, &hits, &misses, &entries);
    cr_assert_eq(entries, 0, "%zu failed signatures were cached", entries);

    /* valid signatures land in the cache */
    p = vpool_new(2, sc);
    cr_assert_not_null(p);
    vpool_sig_t *good = malloc(sizeof *good);
    cr_assert_not_null(good);
    memcpy(good->pubkey, alice.key.pubkey, KEY_PUBKEY_LEN);
    memcpy(good->sig, sig, KEY_SIG_LEN);
    memcpy(good->sighash.b, msg, 32);
    hash32_t id = {{0xAA}};
    cr_assert_eq(vpool_prefetch(p, &id, good, 1), 0);
    cr_assert_eq(vpool_run(p, &id, NULL, 0, &e), 0); /* takes what is left of block id */
    vpool_destroy(&p);
    sigcache_stats(sc, &hits, &misses, &entries);
    cr_assert_eq(entries, 1);
    hash32_t signed_msg;
    memcpy(signed_msg.b, msg, 32);
    cr_assert(sigcache_verify(sc, alice.key.pubkey, sig, &signed_msg));
    sigcache_stats(sc, &hits, &misses, &entries);
    cr_assert_eq(hits, 1);

    /* no cache: nothing to gain, and the signatures are freed */
    p = vpool_new(1, NULL);
    cr_assert_not_null(p);
    cr_assert_eq(vpool_prefetch(p, &id, malloc(sizeof(vpool_sig_t)), 1), -1);
    vpool_destroy(&p);
    sigcache_destroy(&sc);
}

/* --- inputs ------------------------------------------------------------------------ */

/* A coin view of up to MAX_INPUTS coins, found by prev txid's second byte
 * (spend()'s made-up coins: txid {0xc0, i}), or failing every lookup. */
typedef struct {
    store_coin_t coins[MAX_INPUTS];
    bool present[MAX_INPUTS];
    bool broken;
    uint8_t scripts[MAX_INPUTS][SCRIPT_P2PKH_LOCK_LEN]; /* the coins' scripts: borrowed */
} fake_view_t;

static int fake_get(void *ctx, const hash32_t *txid, uint32_t index, store_coin_t *coin,
                    err_t *e)
{
    fake_view_t *v = ctx;
    if (v->broken)
        return err_set(e, ERR_INTERNAL, "store: the disk is on fire");
    size_t i = txid->b[1];
    if (txid->b[0] != 0xc0 || i >= MAX_INPUTS || index != i || !v->present[i])
        return -(int)ERR_NOT_FOUND;
    *coin = v->coins[i];
    return 0;
}

/* The view of n coins of alice's: amounts[i] at heights[i], coinbase when
 * cb[i]. */
static void fake_view(fake_view_t *v, size_t n, const amount_t *amounts,
                      const uint64_t *heights, const bool *cb)
{
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        script_p2pkh_lock(v->scripts[i], &alice.pkh);
        v->coins[i] = (store_coin_t){amounts[i], heights[i], cb[i], v->scripts[i],
                                     SCRIPT_P2PKH_LOCK_LEN};
        v->present[i] = true;
    }
}

#define HEIGHT 200   /* the block the spend goes into */
#define MATURITY 100

typedef struct {
    const char *what;
    size_t n; /* inputs */
    amount_t amounts[2];
    uint64_t heights[2];
    bool coinbase[2];
    bool missing1, broken; /* coin 1 absent; every lookup fails */
    amount_t outs[2];      /* 0: no second output */
    err_code_t code;
    amount_t fee;
    const char *says; /* in the message */
} input_case_t;

#define MAX AMOUNT_MAX_MONEY
static const input_case_t input_cases[] = {
    {"two coins", 2, {5 * COIN, 3 * COIN}, {10, 20}, {0}, 0, 0, {7 * COIN, 0}, ERR_OK, COIN, ""},
    {"outputs spending all", 2, {5 * COIN, 3 * COIN}, {10, 20}, {0}, 0, 0, {4 * COIN, 4 * COIN},
     ERR_OK, 0, ""},
    {"an unknown coin", 2, {5 * COIN, 3 * COIN}, {10, 20}, {0}, 1, 0, {COIN, 0}, ERR_UNKNOWN_UTXO,
     0, "input 1 spends c001"},
    {"a view that fails", 1, {5 * COIN}, {10}, {0}, 0, 1, {COIN, 0}, ERR_INTERNAL, 0,
     "on fire"},
    {"a coinbase one block early", 1, {5 * COIN}, {HEIGHT - MATURITY + 1}, {1}, 0, 0, {COIN, 0},
     ERR_IMMATURE_COINBASE, 0, "input 0"},
    {"a coinbase just mature", 1, {5 * COIN}, {HEIGHT - MATURITY}, {1}, 0, 0, {COIN, 0}, ERR_OK,
     4 * COIN, ""},
    {"a fresh coin that is no coinbase", 1, {5 * COIN}, {HEIGHT - 1}, {0}, 0, 0, {COIN, 0},
     ERR_OK, 4 * COIN, ""},
    {"inputs summing over max money", 2, {MAX / 2 + 1, MAX / 2 + 1}, {1, 2}, {0}, 0, 0,
     {COIN, 0}, ERR_BAD_AMOUNT, 0, "inputs"},
    {"a stored coin over max money", 1, {MAX + 1}, {1}, {0}, 0, 0, {COIN, 0}, ERR_BAD_AMOUNT, 0,
     "inputs"},
    {"inputs of max money exactly", 2, {MAX / 2, MAX - MAX / 2}, {1, 2}, {0}, 0, 0, {MAX, 0},
     ERR_OK, 0, ""},
    {"outputs one unit over inputs", 2, {5 * COIN, 3 * COIN}, {10, 20}, {0}, 0, 0,
     {8 * COIN + 1, 0}, ERR_INSUFFICIENT_FUNDS, 0, "exceed"},
    {"outputs summing over max money", 2, {MAX / 2, MAX / 2}, {1, 2}, {0}, 0, 0,
     {MAX / 2 + 1, MAX / 2 + 1}, ERR_BAD_AMOUNT, 0, "outputs"},
};

Test(validate, inputs_against_a_coin_view)
{
    for (size_t k = 0; k < sizeof input_cases / sizeof input_cases[0]; k++) {
        const input_case_t *c = &input_cases[k];
        spend_t s;
        spend(&s, c->n, -1);
        fake_view_t fv;
        fake_view(&fv, c->n, c->amounts, c->heights, c->coinbase);
        fv.present[1] = fv.present[1] && !c->missing1;
        fv.broken = c->broken;
        coin_view_t view = {fake_get, &fv};
        /* the case's outputs in place of the spend's */
        tx_output_t outs[2] = {{c->outs[0], s.lock, sizeof s.lock},
                               {c->outs[1], s.lock, sizeof s.lock}};
        tx_t tx = s.tx;
        tx.outputs = outs;
        tx.n_outputs = c->outs[1] ? 2 : 1;
        amount_t fee = 12345;
        err_t e = {0};
        int rc = validate_tx_inputs(&tx, &view, HEIGHT, MATURITY, &fee, &s.sighash, 0, NULL, NULL,
                                    NULL, &e);
        cr_assert_eq(rc, -(int)c->code, "%s: rc %d (%s)", c->what, rc, e.message);
        if (c->code == ERR_OK) {
            cr_assert_eq(fee, c->fee, "%s: fee %llu", c->what, (unsigned long long)fee);
        } else {
            cr_assert_eq(e.code, c->code, "%s", c->what);
            cr_assert(strstr(e.message, c->says), "%s: \"%s\" not in: %s", c->what, c->says,
                      e.message);
            cr_assert_eq(fee, 12345, "%s: a fee set on an error", c->what);
        }
        tx_free(&s.tx);
    }
}

/* Each input gets a job appended after those already there, its locking
 * script copied into the arena (the view's bytes may change after), fixed
 * up by validate_fix_jobs; the jobs then pass the script checks. */
Test(validate, inputs_append_script_jobs_with_their_scripts_copied)
{
    spend_t s;
    spend(&s, 2, -1);
    const amount_t amounts[2] = {5 * COIN, 3 * COIN};
    const uint64_t heights[2] = {1, 2};
    const bool cb[2] = {false, true};
    fake_view_t fv;
    fake_view(&fv, 2, amounts, heights, cb);
    coin_view_t view = {fake_get, &fv};
    script_job_t jobs[3] = {{.tx_index = 99}};
    size_t n_jobs = 1;
    mp_buf_t arena;
    mp_buf_init(&arena, 1 << 16);
    mp_put_raw(&arena, "before", 6); /* the arena may hold others' scripts */
    amount_t fee;
    err_t e;
    cr_assert_eq(validate_tx_inputs(&s.tx, &view, HEIGHT, MATURITY, &fee, &s.sighash, 5, jobs,
                                    &n_jobs, &arena, &e), 0, "%s", e.message);
    cr_assert_eq(fee, 7 * COIN);
    cr_assert_eq(n_jobs, 3);
    cr_assert_eq(jobs[0].tx_index, 99, "the job already there was touched");
    memset(fv.scripts, 0, sizeof fv.scripts); /* the view's borrowed bytes go */
    validate_fix_jobs(jobs + 1, 2, &arena);
    for (uint32_t i = 0; i < 2; i++) {
        const script_job_t *j = &jobs[1 + i];
        cr_assert_eq(j->tx_index, 5);
        cr_assert_eq(j->input_index, i);
        cr_assert(hash32_eq(&j->sighash, &s.sighash));
        cr_assert_eq(j->unlocking, s.tx.inputs[i].script, "the unlocking script is not borrowed");
        cr_assert_eq(j->unlocking_len, s.tx.inputs[i].script_len);
        cr_assert_eq(j->locking_len, SCRIPT_P2PKH_LOCK_LEN);
        cr_assert(j->locking >= arena.data && j->locking + j->locking_len <= arena.data + arena.len,
                  "job %u's locking script is not in the arena", i);
        cr_assert(memcmp(j->locking, s.lock, sizeof s.lock) == 0, "job %u: another script", i);
    }
    cr_assert_eq(validate_scripts(NULL, jobs + 1, 2, &e), 0, "%s", e.message);
    mp_buf_free(&arena);
    tx_free(&s.tx);

    /* zero-length scripts in an arena that never grew still point somewhere */
    mp_buf_t empty;
    mp_buf_init(&empty, 16);
    script_job_t z[2] = {{.locking = 0, .locking_len = 0}, {.locking = 0, .locking_len = 0}};
    validate_fix_jobs(z, 2, &empty);
    cr_assert(z[0].locking && z[1].locking);
    mp_buf_free(&empty);
}

/* validate_store_view reads a real store: the regtest genesis allocation. */
Test(validate, the_store_view_reads_a_snapshot)
{
    char dir[256];
    tb_tmpdir(dir);
    node_t *n;
    node_config_t cfg = tb_node_config(dir, 1 << 20);
    tb_node_open(&n, &cfg);
    hash32_t g, gtx;
    tb_genesis(cfg.params, &g, &gtx);
    store_read_t *r;
    err_t e;
    cr_assert_eq(store_read_begin(node_store(n), &r, &e), 0, "%s", e.message);
    coin_view_t view;
    validate_store_view(&view, r);
    store_coin_t coin;
    cr_assert_eq(view.get(view.ctx, &gtx, 0, &coin, &e), 0, "%s", e.message);
    cr_assert_eq(coin.amount, 40 * COIN);
    cr_assert_eq(view.get(view.ctx, &gtx, 4, &coin, &e), -(int)ERR_NOT_FOUND);
    tb_wallet_t albert;
    tb_demo_wallet(&albert, "albert");
    tb_rtx_t t = tb_pay(&gtx, 0, 40 * COIN, &albert, &bob.pkh, COIN, 5000);
    tx_t tx;
    hash32_t sighash;
    cr_assert_eq(tx_decode(&tx, t.raw, t.len, &e), 0, "%s", e.message);
    cr_assert_eq(tx_sighash(&tx, &sighash), 0);
    amount_t fee;
    cr_assert_eq(validate_tx_inputs(&tx, &view, 1, cfg.params->coinbase_maturity, &fee, &sighash,
                                    1, NULL, NULL, NULL, &e), 0, "%s", e.message);
    cr_assert_eq(fee, 5000);
    tx_free(&tx);
    store_read_end(&r);
    node_close(&n);
    tb_rmdir(dir);
}
