/* gossipd's modules driven directly: scores and bans (peer), the address
 * book's persistence and backoff, the chain view's locator, the bounded
 * known sets and queues (relay), the headers-first scheduler (sync), and
 * hostile input handed to the daemon's message handler. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addrbook.h"
#include "block.h"
#include "builder.h"
#include "gossip.h"
#include "hex.h"
#include "peer.h"
#include "proto.h"
#include "relay.h"
#include "sync.h"

/* --- peer: scores, flood bucket, bans ------------------------------------------ */

static peer_table_t table(void)
{
    peer_table_t t;
    cr_assert_eq(peer_table_init(&t, 2, 1), 0);
    return t;
}

Test(peer, caps_inbound_and_outbound_separately)
{
    peer_table_t t = table();
    peer_t *a = peer_alloc(&t, true, 0, 1000), *b = peer_alloc(&t, true, 0, 1000);
    cr_assert(a && b);
    cr_assert_null(peer_alloc(&t, true, 0, 1000), "a third inbound peer passed the cap");
    peer_t *c = peer_alloc(&t, false, 0, 1000);
    cr_assert_not_null(c);
    cr_assert_null(peer_alloc(&t, false, 0, 1000));
    cr_assert_eq(a->state, PEER_HANDSHAKE);
    cr_assert_eq(c->state, PEER_CONNECTING);
    cr_assert_eq(c->deadline_ms, 1000);
    peer_ref_t ref = peer_ref(&t, a);
    cr_assert_eq(peer_get(&t, ref), a);
    peer_free(&t, a);
    cr_assert_null(peer_get(&t, ref), "a freed peer's ref still resolves");
    peer_t *d = peer_alloc(&t, true, 0, 1000);
    cr_assert_eq(d, a, "the slot is reused");
    cr_assert_null(peer_get(&t, ref), "an old ref resolves to the slot's new peer");
    peer_table_free(&t);
}

Test(peer, scores_add_up_to_a_ban_and_decay)
{
    peer_table_t t = table();
    peer_t *p = peer_alloc(&t, true, 0, 1000);
    peer_misbehave(p, err_ban_score(ERR_DOUBLE_SPEND), 0);
    cr_assert_eq(p->score, 10);
    cr_assert_not(peer_should_ban(p));
    for (int i = 0; i < 8; i++)
        peer_misbehave(p, err_ban_score(ERR_UNKNOWN_UTXO), 0);
    cr_assert_eq(p->score, 90);
    cr_assert_not(peer_should_ban(p));
    /* ten minutes later ten points have gone */
    peer_misbehave(p, 0, 10 * PEER_SCORE_DECAY_MS);
    cr_assert_eq(p->score, 80);
    peer_misbehave(p, err_ban_score(ERR_BAD_TIMESTAMP), 10 * PEER_SCORE_DECAY_MS);
    cr_assert_eq(p->score, 100);
    cr_assert(peer_should_ban(p));
    /* one invalid block is enough on its own */
    peer_t *q = peer_alloc(&t, true, 0, 1000);
    peer_misbehave(q, err_ban_score(ERR_BAD_POW), 0);
    cr_assert(peer_should_ban(q));
    peer_table_free(&t);
}

Test(peer, flood_bucket_refills_and_scores_when_empty)
{
    peer_table_t t = table();
    peer_t *p = peer_alloc(&t, true, 0, 1000);
    for (int i = 0; i < PEER_FLOOD_BURST; i++)
        cr_assert(peer_charge(p, 0, 1), "message %d of the burst refused", i);
    cr_assert_eq(p->score, 0);
    cr_assert_not(peer_charge(p, 0, 1), "the burst is past but the message passed");
    cr_assert_eq(p->score, err_ban_score(ERR_FLOOD));
    cr_assert(peer_charge(p, 0, 0), "an answer to our own request costs nothing");
    /* a second later PEER_FLOOD_RATE more pass */
    for (int i = 0; i < PEER_FLOOD_RATE; i++)
        cr_assert(peer_charge(p, 1000, 1));
    cr_assert_not(peer_charge(p, 1000, 1));
    cr_assert(peer_should_ban(p), "two floods make a ban");
    peer_table_free(&t);
}

Test(peer, bans_cover_address_id_and_remote_ip_not_loopback)
{
    peer_table_t t = table();
    peer_t *p = peer_alloc(&t, true, 0, 1000);
    uint8_t id[PEER_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(p->node_id, id, PEER_ID_LEN);
    p->have_id = true;
    peer_set_addr(p, "10.0.0.5:9333");
    snprintf(p->ip, sizeof p->ip, "10.0.0.5");
    cr_assert_str_eq(p->origin, "peer:10.0.0.5:9333");
    peer_ban_peer(&t, p, 1000, 60);
    cr_assert(peer_banned(&t, "10.0.0.5:9333", 1000));
    cr_assert(peer_banned(&t, "id:0102030405060708", 1000));
    cr_assert(peer_banned(&t, "10.0.0.5", 1000));
    cr_assert(peer_banned_any(&t, NULL, NULL, "10.0.0.5", 1059));
    cr_assert_not(peer_banned_any(&t, NULL, NULL, "10.0.0.5", 1060), "the ban outlived --ban-seconds");
    cr_assert_not(peer_banned(&t, "10.0.0.6:9333", 1000));
    /* a loopback peer bans its own names only: the others there stay */
    peer_t *q = peer_alloc(&t, true, 0, 1000);
    peer_set_addr(q, "127.0.0.1:4000");
    snprintf(q->ip, sizeof q->ip, "127.0.0.1");
    peer_ban_peer(&t, q, 1000, 60);
    cr_assert(peer_banned(&t, "127.0.0.1:4000", 1000));
    cr_assert_not(peer_banned_any(&t, "127.0.0.1:4001", NULL, "127.0.0.1", 1000));
    peer_bans_expire(&t, 2000);
    cr_assert_eq(t.n_bans, 0);
    peer_table_free(&t);
}

Test(peer, bans_persist_and_stay_bounded)
{
    char dir[256], path[300];
    tb_tmpdir(dir);
    snprintf(path, sizeof path, "%s/bans.txt", dir);
    peer_table_t t = table();
    peer_ban(&t, "1.2.3.4:9333", 1000, 100);
    peer_ban(&t, "id:00000000000000ff", 1000, 5);
    err_t e;
    cr_assert_eq(peer_bans_save(&t, path, &e), 0, "%s", e.message);
    peer_table_free(&t);
    peer_table_t u = table();
    cr_assert_eq(peer_bans_load(&u, path, 1010, &e), 0, "%s", e.message);
    cr_assert_eq(u.n_bans, 1, "the expired ban came back");
    cr_assert(peer_banned(&u, "1.2.3.4:9333", 1050));
    /* garbage lines are skipped, not fatal */
    FILE *f = fopen(path, "a");
    fputs("no-number-here\n\x01\x02 zz\n", f);
    fclose(f);
    cr_assert_eq(peer_bans_load(&u, path, 1010, &e), 0);
    for (int i = 0; i < PEER_BAN_MAX + 50; i++) {
        char key[32];
        snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
        peer_ban(&u, key, 1000, 1000 + (uint64_t)i);
    }
    cr_assert_eq(u.n_bans, PEER_BAN_MAX, "the ban table grew past its bound");
    peer_table_free(&u);
    tb_rmdir(dir);
}

/* --- hostile messages --------------------------------------------------------- */

static size_t hello_msg(uint8_t *out, size_t cap, const char *network, const char *listen,
                        uint8_t id_byte)
{
    mp_buf_t b;
    mp_buf_init(&b, PROTO_MAX_MSG);
    proto_begin_peer(&b, network, "hello", 5);
    mp_put_cstr(&b, "version");
    mp_put_uint(&b, PROTO_VERSION);
    mp_put_cstr(&b, "height");
    mp_put_uint(&b, 0);
    mp_put_cstr(&b, "tip");
    uint8_t zero[32] = {0};
    mp_put_bin(&b, zero, 32);
    mp_put_cstr(&b, "listen");
    mp_put_cstr(&b, listen);
    mp_put_cstr(&b, "node_id");
    uint8_t id[8];
    memset(id, id_byte, sizeof id);
    mp_put_bin(&b, id, 8);
    cr_assert(b.len <= cap);
    memcpy(out, b.data, b.len);
    size_t n = b.len;
    mp_buf_free(&b);
    return n;
}

Test(defence, garbage_wrong_network_and_oversized_are_scored)
{
    peer_table_t t = table();
    proto_peer_msg_t m;
    err_t e;
    uint8_t buf[512];
    peer_t *p = peer_alloc(&t, true, 0, 1000);
    const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef, 0xc1};
    cr_assert_lt(peer_decode(p, "regtest", garbage, sizeof garbage, 0, &m, &e), 0);
    cr_assert_eq(e.code, ERR_BAD_ENCODING);
    cr_assert(peer_should_ban(p));

    peer_t *q = peer_alloc(&t, true, 0, 1000);
    size_t n = hello_msg(buf, sizeof buf, "demo", "127.0.0.1:1", 7);
    cr_assert_lt(peer_decode(q, "regtest", buf, n, 0, &m, &e), 0);
    cr_assert_eq(e.code, ERR_BAD_NETWORK);
    cr_assert(peer_should_ban(q));
    peer_free(&t, p);
    peer_free(&t, q);

    peer_t *r = peer_alloc(&t, true, 0, 1000);
    size_t big = PROTO_MAX_MSG + 1;
    uint8_t *huge = calloc(1, big);
    cr_assert_lt(peer_decode(r, "regtest", huge, big, 0, &m, &e), 0);
    cr_assert_eq(e.code, ERR_TOO_LARGE);
    cr_assert(peer_should_ban(r));
    free(huge);

    /* a well-formed hello of the right network passes and costs nothing */
    peer_t *s = peer_alloc(&t, true, 0, 1000);
    n = hello_msg(buf, sizeof buf, "regtest", "127.0.0.1:1", 7);
    cr_assert_eq(peer_decode(s, "regtest", buf, n, 0, &m, &e), 0, "%s", e.message);
    cr_assert_str_eq(m.type, "hello");
    cr_assert_eq(s->score, 0);
    peer_table_free(&t);
}

/* A daemon with no chaind and no peers: only its message handler runs. */
static gossip_t *lone_daemon(char dir[256])
{
    char listen[300], rpc[300], events[300];
    tb_tmpdir(dir);
    snprintf(listen, sizeof listen, "ipc://%s/p2p", dir);
    snprintf(rpc, sizeof rpc, "ipc://%s/rpc", dir);
    snprintf(events, sizeof events, "ipc://%s/events", dir);
    gossip_config_t cfg = {.params = params_by_name("regtest"), .datadir = dir, .listen = listen,
                           .advertise = "127.0.0.1:1", .rpc = rpc, .events = events,
                           .max_inbound = 8, .max_outbound = 2, .ban_seconds = 3600};
    gossip_t *g;
    err_t e;
    cr_assert_eq(gossip_open(&g, &cfg, &e), 0, "%s", e.message);
    return g;
}

Test(defence, the_handler_survives_hostile_input_and_bans)
{
    char dir[256];
    gossip_t *g = lone_daemon(dir);
    const peer_table_t *pt = gossip_peers(g);
    uint8_t rid[5] = {0, 1, 2, 3, 4};
    /* garbage from a remote address: that address is banned */
    const uint8_t garbage[] = {0x93, 0xa7, 'r', 'e', 'g', 't', 'e', 's', 't', 0xa3, 'f', 'o', 'o'};
    gossip_inject(g, rid, sizeof rid, -1, "10.9.8.7", garbage, sizeof garbage);
    cr_assert(peer_banned(pt, "10.9.8.7", (uint64_t)time(NULL)));
    cr_assert_null(peer_find_rid(pt, rid, sizeof rid), "the peer that sent garbage stayed");
    /* a wrong network's hello: its address and id are banned */
    uint8_t buf[512];
    rid[4] = 5;
    size_t n = hello_msg(buf, sizeof buf, "demo", "10.9.8.6:9333", 9);
    gossip_inject(g, rid, sizeof rid, -1, "127.0.0.1", buf, n);
    cr_assert_null(peer_find_rid(pt, rid, sizeof rid));
    /* messages before hello, then random bytes and mutations of a valid
     * hello: none may crash the daemon (the sanitizer build checks memory) */
    srand(7);
    n = hello_msg(buf, sizeof buf, "regtest", "127.0.0.1:2", 3);
    for (int i = 0; i < 20000; i++) {
        uint8_t msg[512];
        size_t len = n;
        memcpy(msg, buf, n);
        if (i % 2) {
            len = (size_t)rand() % sizeof msg;
            for (size_t k = 0; k < len; k++)
                msg[k] = (uint8_t)rand();
        } else {
            for (int k = 0; k < 1 + rand() % 4; k++)
                msg[(size_t)rand() % n] = (uint8_t)rand();
            len = (size_t)rand() % (n + 1);
        }
        rid[0] = (uint8_t)i;
        rid[1] = (uint8_t)(i >> 8);
        gossip_inject(g, rid, sizeof rid, -1, "127.0.0.1", msg, len);
    }
    cr_assert_leq(pt->n_inbound, pt->max_inbound);
    gossip_close(&g);
    tb_rmdir(dir);
}

/* --- addrbook -------------------------------------------------------------------- */

Test(addrbook, accepts_only_dialable_addresses)
{
    cr_assert(addrbook_valid("127.0.0.1:9333"));
    cr_assert(addrbook_valid("node-1.example.org:1"));
    cr_assert(addrbook_valid("[::1]:9333"));
    cr_assert_not(addrbook_valid("0.0.0.0:9333"));
    cr_assert_not(addrbook_valid("*:9333"));
    cr_assert_not(addrbook_valid("host:0"));
    cr_assert_not(addrbook_valid("host:65536"));
    cr_assert_not(addrbook_valid("host"));
    cr_assert_not(addrbook_valid(":9333"));
    cr_assert_not(addrbook_valid("ho st:9333"));
    cr_assert_not(addrbook_valid("tcp://host:9333"));
    cr_assert_not(addrbook_valid("[zz]:1"));
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

/* --- sync: the chain view and its locator ------------------------------------------ */

static hash32_t fake_hash(uint64_t height, uint8_t branch)
{
    hash32_t h;
    memset(h.b, branch, sizeof h.b);
    memcpy(h.b, &height, sizeof height);
    return h;
}

static void check_locator(const sync_view_t *v, uint64_t tip, uint8_t branch)
{
    hash32_t loc[PROTO_MAX_LOCATOR];
    uint64_t heights[PROTO_MAX_LOCATOR];
    size_t n = sync_view_locator(v, loc, heights, PROTO_MAX_LOCATOR);
    cr_assert_gt(n, 0);
    cr_assert_leq(n, PROTO_MAX_LOCATOR);
    size_t dense = tip + 1 < SYNC_DENSE ? tip + 1 : SYNC_DENSE;
    for (size_t i = 0; i < dense; i++)
        cr_assert_eq(heights[i], tip - i, "entry %zu is height %llu", i,
                     (unsigned long long)heights[i]);
    cr_assert_eq(heights[n - 1], 0, "the locator does not end at genesis");
    for (size_t i = 0; i < n; i++) {
        hash32_t want = heights[i] == 0 ? fake_hash(0, 0) : fake_hash(heights[i], branch);
        cr_assert(hash32_eq(&loc[i], &want), "entry %zu has the wrong hash", i);
        if (i > 0) {
            cr_assert_lt(heights[i], heights[i - 1], "heights do not fall");
            /* between level entries (after the first) the steps grow */
            if (i > dense + 1 && heights[i] > 0)
                cr_assert_geq(heights[i - 1] - heights[i], (heights[i - 2] - heights[i - 1]),
                              "step %zu shrank", i);
        }
    }
}

Test(sync, locator_of_a_long_chain)
{
    sync_view_t v;
    sync_view_reset(&v);
    hash32_t g = fake_hash(0, 0);
    cr_assert_eq(sync_view_push(&v, 5, &g), -1, "an invalid view took a block above genesis");
    cr_assert_eq(sync_view_push(&v, 0, &g), 0);
    check_locator(&v, 0, 1);
    for (uint64_t h = 1; h <= 10000; h++) {
        hash32_t x = fake_hash(h, 1);
        cr_assert_eq(sync_view_push(&v, h, &x), 0);
        if (h == 5 || h == 12 || h == 16 || h == 17 || h == 100 || h == 1023 || h == 4097)
            check_locator(&v, h, 1);
    }
    check_locator(&v, 10000, 1);
    hash32_t loc[PROTO_MAX_LOCATOR];
    size_t n = sync_view_locator(&v, loc, NULL, PROTO_MAX_LOCATOR);
    cr_assert_leq(n, 10 + 15 + 1, "a 10 000 block locator has %zu hashes", n);
    hash32_t recent = fake_hash(9990, 1), older = fake_hash(9000, 1);
    cr_assert(sync_view_has(&v, &recent));
    cr_assert_not(sync_view_has(&v, &older), "the view holds more than its ring");
    uint64_t th;
    hash32_t tip;
    cr_assert(sync_view_tip(&v, &th, &tip));
    cr_assert_eq(th, 10000);
    /* a late event for a block the view holds changes nothing */
    hash32_t old = fake_hash(9995, 1);
    cr_assert(sync_view_holds(&v, 9995, &old));
    cr_assert(sync_view_holds(&v, 50, &old), "below the ring counts as held");
    hash32_t other = fake_hash(9995, 2);
    cr_assert_not(sync_view_holds(&v, 9995, &other));
}

Test(sync, shallow_reorg_follows_deep_reorg_and_gaps_invalidate)
{
    sync_view_t v;
    sync_view_reset(&v);
    hash32_t g = fake_hash(0, 0);
    sync_view_push(&v, 0, &g);
    for (uint64_t h = 1; h <= 500; h++) {
        hash32_t x = fake_hash(h, 1);
        sync_view_push(&v, h, &x);
    }
    /* a branch from 490 on: 491.. replace the old blocks */
    for (uint64_t h = 491; h <= 503; h++) {
        hash32_t x = fake_hash(h, 2);
        cr_assert_eq(sync_view_push(&v, h, &x), 0, "height %llu", (unsigned long long)h);
    }
    hash32_t loc[PROTO_MAX_LOCATOR];
    uint64_t heights[PROTO_MAX_LOCATOR];
    size_t n = sync_view_locator(&v, loc, heights, PROTO_MAX_LOCATOR);
    for (size_t i = 0; i < n; i++) {
        uint8_t branch = heights[i] == 0 ? 0 : heights[i] > 490 ? 2 : 1;
        hash32_t want = fake_hash(heights[i], branch);
        cr_assert(hash32_eq(&loc[i], &want), "height %llu from the wrong branch",
                  (unsigned long long)heights[i]);
    }
    hash32_t deep = fake_hash(480, 3);
    cr_assert_eq(sync_view_push(&v, 480, &deep), -1, "a deep reorganisation was followed");
    cr_assert_not(v.valid);
    cr_assert_eq(sync_view_locator(&v, loc, NULL, PROTO_MAX_LOCATOR), 0);
    sync_view_push(&v, 0, &g);
    hash32_t one = fake_hash(1, 1), three = fake_hash(3, 1);
    sync_view_push(&v, 1, &one);
    cr_assert_eq(sync_view_push(&v, 3, &three), -1, "a gap was followed");
}

/* --- relay: known sets and queues ------------------------------------------------------ */

Test(relay, known_set_is_bounded_and_keeps_the_newest)
{
    relay_set_t s;
    cr_assert_eq(relay_set_init(&s, 100), 0);
    for (uint64_t i = 0; i < 10000; i++) {
        hash32_t h = fake_hash(i, 9);
        cr_assert_geq(relay_set_add(&s, &h), 0);
        cr_assert_leq(relay_set_count(&s), 100, "the set passed its bound");
    }
    for (uint64_t i = 10000 - 50; i < 10000; i++) {
        hash32_t h = fake_hash(i, 9);
        cr_assert(relay_set_has(&s, &h), "a recent hash was forgotten");
    }
    hash32_t first = fake_hash(0, 9);
    cr_assert_not(relay_set_has(&s, &first));
    relay_set_free(&s);
}

Test(relay, announces_once_and_never_back)
{
    relay_t *r = relay_new(4);
    cr_assert_eq(relay_open(r, 1), 0);
    cr_assert_eq(relay_open(r, 2), 0);
    hash32_t h = fake_hash(1, 1), out[RELAY_INV_MAX];
    relay_learn(r, 2, &h); /* peer 2 sent it */
    cr_assert_eq(relay_announce(r, 1, RELAY_TX, &h), 1);
    cr_assert_eq(relay_announce(r, 1, RELAY_TX, &h), 0, "announced twice");
    cr_assert_eq(relay_announce(r, 2, RELAY_TX, &h), 0, "announced to the peer it came from");
    cr_assert_eq(relay_take_inv(r, 1, RELAY_TX, out), 1);
    cr_assert_eq(relay_announce(r, 1, RELAY_TX, &h), 0, "announced again after the flush");
    for (uint64_t i = 0; i < RELAY_INV_MAX; i++) {
        hash32_t x = fake_hash(i + 100, 1);
        cr_assert_eq(relay_announce(r, 1, RELAY_BLOCK, &x), 1);
    }
    hash32_t extra = fake_hash(99999, 1);
    cr_assert_eq(relay_announce(r, 1, RELAY_BLOCK, &extra), -1, "the queue passed its bound");
    cr_assert_eq(relay_take_inv(r, 1, RELAY_BLOCK, out), RELAY_INV_MAX);
    cr_assert_eq(relay_announce(r, 1, RELAY_BLOCK, &extra), 1);
    relay_destroy(&r);
}

Test(relay, requests_are_unique_expire_and_end_with_the_peer)
{
    relay_t *r = relay_new(4);
    cr_assert_eq(relay_open(r, 0), 0);
    cr_assert_eq(relay_open(r, 1), 0);
    hash32_t h = fake_hash(5, 5);
    cr_assert(relay_request(r, 0, RELAY_TX, &h, 0));
    cr_assert_not(relay_request(r, 1, RELAY_TX, &h, 0), "asked twice");
    cr_assert(relay_asked(r, 0, &h));
    cr_assert_not(relay_asked(r, 1, &h));
    cr_assert_not(relay_fulfil(r, 1, &h), "an answer from another peer counted as solicited");
    cr_assert(relay_fulfil(r, 0, &h));
    cr_assert(relay_request(r, 1, RELAY_TX, &h, 0));
    cr_assert_eq(relay_expire(r, RELAY_REQ_TIMEOUT_MS - 1), 0);
    cr_assert_eq(relay_expire(r, RELAY_REQ_TIMEOUT_MS), 1);
    cr_assert(relay_request(r, 1, RELAY_TX, &h, 0));
    relay_close(r, 1);
    cr_assert_not(relay_requested(r, &h), "a departed peer's request lingers");
    for (uint64_t i = 0; i < RELAY_REQ_MAX; i++) {
        hash32_t x = fake_hash(i, 6);
        cr_assert(relay_request(r, 0, RELAY_TX, &x, 0));
    }
    hash32_t more = fake_hash(0, 7);
    cr_assert_not(relay_request(r, 0, RELAY_TX, &more, 0), "the request table passed its bound");
    for (uint32_t i = 0; i < RELAY_SERVE_MAX; i++)
        cr_assert(relay_serve_push(r, 0, RELAY_BLOCK, &more));
    cr_assert_not(relay_serve_push(r, 0, RELAY_BLOCK, &more));
    relay_item_t item;
    cr_assert(relay_serve_pop(r, 0, &item));
    cr_assert_eq(item.kind, RELAY_BLOCK);
    relay_destroy(&r);
}

/* --- sync: the downloader against fake peers --------------------------------------------- */

typedef struct {
    uint32_t headers_to[8];
    size_t n_headers;
    hash32_t asked[8][4096];
    size_t n_asked[8];
    hash32_t submitted[8192];
    uint32_t submitted_from[8192];
    size_t n_submitted;
    int scored[8];
    bool dropped[8];
} fake_t;

static void f_getheaders(void *ctx, uint32_t slot, const hash32_t *loc, size_t n)
{
    fake_t *f = ctx;
    (void)loc, (void)n;
    f->headers_to[f->n_headers++] = slot;
}

static void f_getdata(void *ctx, uint32_t slot, const hash32_t *h, size_t n)
{
    fake_t *f = ctx;
    for (size_t i = 0; i < n; i++)
        f->asked[slot][f->n_asked[slot]++] = h[i];
}

static int f_submit(void *ctx, uint32_t from, const hash32_t *h, const uint8_t *b, size_t len)
{
    fake_t *f = ctx;
    (void)b, (void)len;
    f->submitted_from[f->n_submitted] = from;
    f->submitted[f->n_submitted++] = *h;
    return 0;
}

static void f_misbehave(void *ctx, uint32_t slot, err_code_t code, const char *why)
{
    fake_t *f = ctx;
    (void)why;
    f->scored[slot] += err_ban_score(code);
}

static void f_drop(void *ctx, uint32_t slot, const char *why)
{
    fake_t *f = ctx;
    (void)why;
    f->dropped[slot] = true;
}

/* n valid regtest headers on parent, back to back in out; hashes[i]. */
static void make_headers(const hash32_t *parent, size_t n, uint8_t *out, hash32_t *hashes)
{
    hash32_t prev = *parent;
    for (size_t i = 0; i < n; i++) {
        block_header_t h = {.version = 1, .previous_block_hash = prev, .timestamp = 1700000000 + i,
                            .bits = 0x207fffff};
        for (;; h.nonce++) {
            block_header_hash(&hashes[i], &h);
            if (block_hash_meets(&hashes[i], h.bits))
                break;
        }
        block_header_encode(out + i * BLOCK_HEADER_LEN, &h);
        prev = hashes[i];
    }
}

static sync_t *downloader(fake_t *f, hash32_t *genesis)
{
    memset(f, 0, sizeof *f);
    sync_ops_t ops = {f, f_getheaders, f_getdata, f_submit, f_misbehave, f_drop};
    sync_t *s = sync_new(4, params_by_name("regtest"), &ops);
    cr_assert_not_null(s);
    *genesis = fake_hash(0, 0);
    sync_view_push(sync_view(s), 0, genesis);
    return s;
}

Test(sync, fetches_from_several_peers_and_hands_over_in_order)
{
    fake_t *f = calloc(1, sizeof *f);
    hash32_t genesis;
    sync_t *s = downloader(f, &genesis);
    sync_peer_ready(s, 0, 300);
    sync_peer_ready(s, 1, 300);
    sync_pump(s, 0);
    cr_assert_eq(f->n_headers, 1, "no getheaders to the peer that is ahead");
    uint32_t hp = f->headers_to[0];
    cr_assert_not(sync_on_headers(s, hp ^ 1, NULL, 0, 0), "headers from the wrong peer taken");
    static uint8_t raw[300 * BLOCK_HEADER_LEN];
    static hash32_t hashes[300];
    make_headers(&genesis, 300, raw, hashes);
    cr_assert(sync_on_headers(s, hp, raw, 300, 0));
    sync_pump(s, 0);
    cr_assert_gt(f->n_asked[0], 0, "peer 0 got no share of the download");
    cr_assert_gt(f->n_asked[1], 0, "peer 1 got no share of the download");
    cr_assert_leq(f->n_asked[0], SYNC_PEER_INFLIGHT);
    /* deliver everything asked, newest first: nothing goes to chaind out of order */
    uint8_t body[4] = {1, 2, 3, 4};
    size_t judged = 0;
    for (int round = 0; round < 100 && f->n_submitted < 300; round++) {
        for (uint32_t p = 0; p < 2; p++) {
            while (f->n_asked[p]) {
                hash32_t h = f->asked[p][--f->n_asked[p]];
                cr_assert(sync_expects(s, p, &h));
                cr_assert(sync_on_block(s, p, &h, body, sizeof body, 0));
            }
        }
        /* chaind accepts each, and its block events move the view */
        for (; judged < f->n_submitted; judged++) {
            sync_submitted(s, &f->submitted[judged], SYNC_ACCEPTED, ERR_OK, 0);
            cr_assert_eq(sync_view_push(sync_view(s), judged + 1, &f->submitted[judged]), 0);
        }
        sync_pump(s, 0);
        for (size_t i = 0; i < f->n_submitted; i++)
            cr_assert(hash32_eq(&f->submitted[i], &hashes[i]), "block %zu handed over out of order",
                      i);
        if (f->n_submitted == 300)
            break;
    }
    cr_assert_eq(f->n_submitted, 300);
    for (; judged < f->n_submitted; judged++) {
        sync_submitted(s, &f->submitted[judged], SYNC_ACCEPTED, ERR_OK, 0);
        cr_assert_eq(sync_view_push(sync_view(s), judged + 1, &f->submitted[judged]), 0);
    }
    sync_pump(s, 0);
    cr_assert_not(sync_busy(s), "a session with a peer no longer ahead");
    sync_destroy(&s);
    free(f);
}

Test(sync, stalls_move_to_another_peer_orphans_restart_invalid_scores)
{
    fake_t *f = calloc(1, sizeof *f);
    hash32_t genesis;
    sync_t *s = downloader(f, &genesis);
    sync_peer_ready(s, 0, 50);
    sync_pump(s, 0);
    static uint8_t raw[50 * BLOCK_HEADER_LEN];
    static hash32_t hashes[50];
    make_headers(&genesis, 50, raw, hashes);
    cr_assert(sync_on_headers(s, 0, raw, 50, 0));
    sync_pump(s, 0);
    cr_assert_eq(f->n_asked[0], SYNC_PEER_INFLIGHT, "more asked of one peer than its bound");
    /* peer 1 arrives; peer 0 never answers: its blocks go to peer 1 */
    sync_peer_ready(s, 1, 50);
    sync_pump(s, SYNC_STALL_MS);
    cr_assert_eq(f->n_asked[1], SYNC_PEER_INFLIGHT, "the stalled blocks were not re-asked");
    sync_pump(s, 2 * SYNC_STALL_MS);
    sync_pump(s, 3 * SYNC_STALL_MS);
    sync_pump(s, 4 * SYNC_STALL_MS);
    cr_assert(f->dropped[1] || f->dropped[0], "a peer that keeps stalling stays");
    /* peer 1 answers the first block: handed over; chaind calls it an orphan */
    sync_peer_gone(s, 0);
    uint8_t body[1] = {0};
    cr_assert(sync_on_block(s, 1, &hashes[0], body, 1, 4 * SYNC_STALL_MS));
    cr_assert_eq(f->n_submitted, 1);
    sync_submitted(s, &hashes[0], SYNC_ORPHANED, ERR_OK, 4 * SYNC_STALL_MS);
    cr_assert_not(sync_busy(s), "an orphan did not drop the window");
    cr_assert_not(sync_on_block(s, 1, &hashes[1], body, 1, 0), "a dropped window took a block");
    /* again, and this time the block is invalid: its sender scores */
    sync_peer_ready(s, 2, 50);
    sync_pump(s, 5 * SYNC_STALL_MS);
    uint32_t hp = f->headers_to[f->n_headers - 1];
    cr_assert(sync_on_headers(s, hp, raw, 50, 5 * SYNC_STALL_MS));
    sync_pump(s, 5 * SYNC_STALL_MS);
    cr_assert(sync_on_block(s, 2, &hashes[0], body, 1, 5 * SYNC_STALL_MS));
    size_t last = f->n_submitted - 1;
    cr_assert(hash32_eq(&f->submitted[last], &hashes[0]));
    sync_submitted(s, &hashes[0], SYNC_REJECTED, ERR_BAD_MERKLE, 5 * SYNC_STALL_MS);
    cr_assert_eq(f->scored[2], 100, "the sender of an invalid block was not scored");
    cr_assert_not(sync_busy(s));
    sync_destroy(&s);
    free(f);
}

Test(sync, bad_headers_score_and_end_the_session)
{
    fake_t *f = calloc(1, sizeof *f);
    hash32_t genesis;
    sync_t *s = downloader(f, &genesis);
    sync_peer_ready(s, 0, 10);
    sync_pump(s, 0);
    static uint8_t raw[10 * BLOCK_HEADER_LEN];
    hash32_t hashes[10], elsewhere = fake_hash(77, 7);
    make_headers(&elsewhere, 10, raw, hashes);
    cr_assert(sync_on_headers(s, 0, raw, 10, 0));
    cr_assert_eq(f->scored[0], err_ban_score(ERR_BAD_REQUEST), "unconnected headers were taken");
    cr_assert_not(sync_busy(s));
    /* a header whose proof of work fails */
    sync_pump(s, SYNC_RETRY_MS);
    make_headers(&genesis, 10, raw, hashes);
    block_header_t h;
    block_header_decode(&h, raw + 3 * BLOCK_HEADER_LEN);
    h.bits = 0x1d00ffff; /* a target this header cannot meet */
    block_header_encode(raw + 3 * BLOCK_HEADER_LEN, &h);
    cr_assert_eq(f->n_headers, 2);
    cr_assert(sync_on_headers(s, 0, raw, 10, SYNC_RETRY_MS));
    cr_assert_geq(f->scored[0], 20 + 100);
    sync_destroy(&s);
    free(f);
}

Test(sync, a_late_answer_to_an_ended_session_is_not_held_against_the_peer)
{
    fake_t *f = calloc(1, sizeof *f);
    hash32_t genesis;
    sync_t *s = downloader(f, &genesis);
    sync_peer_ready(s, 0, 20);
    sync_pump(s, 0);
    cr_assert_eq(f->n_headers, 1);
    /* no answer in time: the session ends; later another starts */
    sync_pump(s, SYNC_HEADERS_TIMEOUT_MS);
    cr_assert_not(sync_busy(s));
    uint64_t later = SYNC_HEADERS_TIMEOUT_MS + SYNC_RETRY_MS;
    sync_pump(s, later);
    cr_assert_eq(f->n_headers, 2);
    /* the first answer comes now, for a request that is no longer out: it is
     * the old one (a connection answers in order), not a bad answer */
    static uint8_t raw[20 * BLOCK_HEADER_LEN];
    hash32_t hashes[20], elsewhere = fake_hash(99, 9);
    make_headers(&elsewhere, 20, raw, hashes);
    cr_assert(sync_expects_headers(s, 0));
    cr_assert(sync_on_headers(s, 0, raw, 20, later));
    cr_assert_eq(f->scored[0], 0, "a late answer scored");
    cr_assert(sync_expects_headers(s, 0), "the current request was forgotten");
    make_headers(&genesis, 20, raw, hashes);
    cr_assert(sync_on_headers(s, 0, raw, 20, later));
    sync_pump(s, later);
    cr_assert_eq(f->n_asked[0], 20, "the current answer was not taken");
    sync_destroy(&s);
    free(f);
}
