/* addrbook.h: which addresses are dialable, the dial backoff and its reset,
 * the order of dialling (advertised and seeds first) and the skip hook, the
 * atomic persistence and a tolerant reload, and the bound on entries. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addrbook.h"
#include "builder.h"

Test(addrbook, accepts_only_dialable_addresses)
{
    static const struct {
        const char *addr;
        bool valid;
    } cases[] = {
        {"127.0.0.1:9333", true},   {"node-1.example.org:1", true}, {"[::1]:9333", true},
        {"0.0.0.0:9333", false},    {"*:9333", false},              {"host:0", false},
        {"host:65536", false},      {"host", false},                {":9333", false},
        {"ho st:9333", false},      {"tcp://host:9333", false},     {"[zz]:1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(addrbook_valid(cases[i].addr), cases[i].valid, "%s", cases[i].addr);
    char longer[400];
    memset(longer, 'a', sizeof longer);
    memcpy(longer + 390, ":9333", 6);
    cr_assert_not(addrbook_valid(longer));
}

Test(addrbook, backoff_doubles_to_its_cap_and_resets)
{
    addrbook_t *ab = addrbook_new("10.0.0.1:9333");
    cr_assert_eq(addrbook_add(ab, "10.0.0.1:9333", ADDR_GOSSIP, 0), -1, "our own address added");
    cr_assert_eq(addrbook_add(ab, "10.0.0.2:9333", ADDR_GOSSIP, 0), 1);
    cr_assert_eq(addrbook_add(ab, "10.0.0.2:9333", ADDR_GOSSIP, 0), 0);
    uint64_t now = 0, expect = ADDRBOOK_BACKOFF_BASE_MS;
    for (int i = 0; i < 20; i++) {
        const char *a = addrbook_next_dial(ab, now, NULL, NULL);
        cr_assert_not_null(a, "attempt %d: nothing due", i);
        cr_assert_null(addrbook_next_dial(ab, now, NULL, NULL), "dialled twice at once");
        addrbook_dial_failed(ab, a, now);
        const addrbook_entry_t *x = addrbook_find(ab, a);
        cr_assert_eq(x->next_try_ms - now, expect, "attempt %d waits %llu", i,
                     (unsigned long long)(x->next_try_ms - now));
        cr_assert_null(addrbook_next_dial(ab, now + expect - 1, NULL, NULL));
        now += expect;
        expect = expect * 2 > ADDRBOOK_BACKOFF_MAX_MS ? ADDRBOOK_BACKOFF_MAX_MS : expect * 2;
    }
    const char *a = addrbook_next_dial(ab, now, NULL, NULL);
    uint8_t id[ADDRBOOK_ID_LEN] = {1};
    addrbook_connected(ab, a, id, 12345);
    addrbook_disconnected(ab, a, now);
    const addrbook_entry_t *x = addrbook_find(ab, a);
    cr_assert_eq(x->failures, 0);
    cr_assert_eq(x->next_try_ms, now + ADDRBOOK_BACKOFF_BASE_MS, "a peer that left waits long");
    /* an operator's word makes it due at once */
    addrbook_dial_failed(ab, addrbook_next_dial(ab, now + 5000, NULL, NULL), now + 5000);
    cr_assert_eq(addrbook_add(ab, "10.0.0.2:9333", ADDR_ADVERT, now + 5000), 0);
    cr_assert_not_null(addrbook_next_dial(ab, now + 5000, NULL, NULL));
    addrbook_destroy(&ab);
}

static bool skip_odd(void *ctx, const addrbook_entry_t *x)
{
    (void)ctx;
    return x->addr[7] == '1';
}

Test(addrbook, dials_advertised_and_seeds_first_and_honours_skip)
{
    addrbook_t *ab = addrbook_new(NULL);
    addrbook_add(ab, "10.0.0.9:1", ADDR_GOSSIP, 0);
    addrbook_add(ab, "10.0.0.8:1", ADDR_SEED, 0);
    addrbook_add(ab, "10.0.0.7:1", ADDR_ADVERT, 0);
    addrbook_add(ab, "10.0.0.1:1", ADDR_ADVERT, 0);
    cr_assert_str_eq(addrbook_next_dial(ab, 0, skip_odd, NULL), "10.0.0.7:1");
    cr_assert_str_eq(addrbook_next_dial(ab, 0, skip_odd, NULL), "10.0.0.8:1");
    cr_assert_str_eq(addrbook_next_dial(ab, 0, skip_odd, NULL), "10.0.0.9:1");
    cr_assert_null(addrbook_next_dial(ab, 0, skip_odd, NULL));
    addrbook_mark_self(ab, "10.0.0.9:1");
    addrbook_dial_failed(ab, "10.0.0.9:1", 0);
    cr_assert_null(addrbook_next_dial(ab, 100000000, skip_odd, NULL), "dialled itself again");
    addrbook_destroy(&ab);
}

Test(addrbook, persists_atomically_and_reloads)
{
    char dir[256], path[300];
    tb_tmpdir(dir);
    snprintf(path, sizeof path, "%s/peers.txt", dir);
    addrbook_t *ab = addrbook_new(NULL);
    uint8_t id[ADDRBOOK_ID_LEN] = {0};
    addrbook_add(ab, "10.0.0.1:9333", ADDR_SEED, 0);
    addrbook_add(ab, "[::1]:9444", ADDR_GOSSIP, 0);
    addrbook_add(ab, "node.example:7", ADDR_GOSSIP, 0);
    addrbook_connected(ab, "10.0.0.1:9333", id, 1700000000);
    for (int i = 0; i < 3; i++) {
        const char *a = addrbook_next_dial(ab, 0, NULL, NULL);
        while (a && strcmp(a, "node.example:7") != 0) {
            addrbook_disconnected(ab, a, 0);
            a = NULL;
        }
    }
    addrbook_dial_failed(ab, "node.example:7", 0);
    addrbook_dial_failed(ab, "node.example:7", 0);
    err_t e;
    cr_assert_eq(addrbook_save(ab, path, &e), 0, "%s", e.message);
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "the temporary file was left behind");
    addrbook_destroy(&ab);

    addrbook_t *back = addrbook_new(NULL);
    cr_assert_eq(addrbook_load(back, path, 50000, &e), 0, "%s", e.message);
    cr_assert_eq(addrbook_count(back), 3);
    const addrbook_entry_t *x = addrbook_find(back, "10.0.0.1:9333");
    cr_assert_not_null(x);
    cr_assert_eq(x->last_seen, 1700000000);
    cr_assert_eq(x->source, ADDR_SEED);
    x = addrbook_find(back, "node.example:7");
    cr_assert_eq(x->failures, 2);
    cr_assert_eq(x->next_try_ms, 50000 + 2 * ADDRBOOK_BACKOFF_BASE_MS, "the backoff was lost");
    cr_assert_not_null(addrbook_find(back, "[::1]:9444"));
    const char *sample[10];
    size_t n = addrbook_sample(back, sample, 10);
    cr_assert_eq(n, 2, "a failing address was passed on");
    cr_assert_str_eq(sample[0], "10.0.0.1:9333", "the most recently seen comes first");
    addrbook_destroy(&back);

    /* a missing file is an empty book; a damaged one loses only its bad lines */
    addrbook_t *empty = addrbook_new(NULL);
    char missing[320];
    snprintf(missing, sizeof missing, "%s/none.txt", dir);
    cr_assert_eq(addrbook_load(empty, missing, 0, &e), 0);
    cr_assert_eq(addrbook_count(empty), 0);
    FILE *f = fopen(path, "w");
    fputs("0.0.0.0:1 0 0 2\nnot a line\n10.1.1.1:5 0 0 9\n10.1.1.2:5 12 1 2\n", f);
    fclose(f);
    cr_assert_eq(addrbook_load(empty, path, 0, &e), 0);
    cr_assert_eq(addrbook_count(empty), 1);
    addrbook_destroy(&empty);
    tb_rmdir(dir);
}

Test(addrbook, stays_bounded_keeping_seeds)
{
    addrbook_t *ab = addrbook_new(NULL);
    addrbook_add(ab, "seed.example:1", ADDR_SEED, 0);
    for (int i = 0; i < 3 * ADDRBOOK_MAX; i++) {
        char a[32];
        snprintf(a, sizeof a, "10.%d.%d.%d:9333", i >> 16, (i >> 8) & 255, i & 255);
        addrbook_add(ab, a, ADDR_GOSSIP, 0);
        if (i % 3 == 0) {
            addrbook_dial_failed(ab, a, 0);
        }
    }
    cr_assert_leq(addrbook_count(ab), ADDRBOOK_MAX);
    cr_assert_not_null(addrbook_find(ab, "seed.example:1"), "the seed was evicted");
    addrbook_destroy(&ab);
}
