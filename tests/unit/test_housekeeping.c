/* housekeeping.h: the daemon's timers, on a daemon with no chaind
 * (support/gossip_fixture.h), its state read through gossip_state.h. Start
 * naming the files in the data directory, and refused by a reactor without
 * room for its timers; a save writing known peers and bans (and a path that
 * cannot be written only logged); the tick pinging a quiet peer, dropping a
 * silent one and one whose hello is overdue; dialling up to the outbound
 * cap and never a banned address. The clock is never waited on: a peer's
 * times are moved back instead. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "builder.h"
#include "clock.h"
#include "gossip_fixture.h"
#include "gossip_state.h"

static uint8_t buf[1 << 16];

/* A gossip state holding only a reactor of `timers` timers: all that
 * housekeeping_start() touches. */
static gossip_t *bare_state(size_t timers)
{
    gossip_t *g = calloc(1, sizeof *g);
    cr_assert_not_null(g);
    g->reactor = reactor_new(1, timers);
    cr_assert_not_null(g->reactor);
    return g;
}

static void bare_free(gossip_t *g)
{
    reactor_destroy(&g->reactor);
    free(g);
}

Test(housekeeping, start_names_the_files_and_needs_room_for_its_timers)
{
    gossip_t *g = bare_state(HOUSEKEEPING_TIMERS);
    cr_assert_eq(housekeeping_start(g, "/data/dir"), 0);
    cr_assert_str_eq(g->house.peers_path, "/data/dir/peers.txt");
    cr_assert_str_eq(g->house.bans_path, "/data/dir/bans.txt");
    cr_assert_geq(g->house.dial_timer, 0);
    cr_assert_geq(g->house.report_timer, 0);
    bare_free(g);
    g = bare_state(HOUSEKEEPING_TIMERS - 1);
    cr_assert_eq(housekeeping_start(g, "/data/dir"), -1, "started without room for a timer");
    bare_free(g);
    /* a data directory longer than a path can be is cut, not overrun */
    static char long_dir[6000];
    memset(long_dir, 'd', sizeof long_dir - 1);
    g = bare_state(HOUSEKEEPING_TIMERS);
    cr_assert_eq(housekeeping_start(g, long_dir), 0);
    cr_assert_eq(strlen(g->house.peers_path), sizeof g->house.peers_path - 1);
    bare_free(g);
}

Test(housekeeping, a_save_writes_known_peers_and_bans)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    gossip_t *g = f.g;
    cr_assert_eq(addrbook_add(g->ab, "10.3.3.3:9333", ADDR_GOSSIP, clock_ms()), 1);
    peer_ban(&g->pt, "10.4.4.4", clock_unix(), 3600);
    housekeeping_save(g);
    cr_assert(tg_file_has(g->house.peers_path, "10.3.3.3:9333"), "the address was not saved");
    cr_assert(tg_file_has(g->house.bans_path, "10.4.4.4"), "the ban was not saved");
    /* a path that cannot be written: logged, nothing else */
    char saved[sizeof g->house.peers_path];
    memcpy(saved, g->house.peers_path, sizeof saved);
    snprintf(g->house.peers_path, sizeof g->house.peers_path, "%s/no/such/dir/peers.txt", f.dir);
    snprintf(g->house.bans_path, sizeof g->house.bans_path, "%s/no/such/dir/bans.txt", f.dir);
    housekeeping_save(g);
    memcpy(g->house.peers_path, saved, sizeof saved);
    snprintf(g->house.bans_path, sizeof g->house.bans_path, "%s/bans.txt", f.dir);
    tg_close(&f);
}

/* Runs the daemon until p's slot is free (5 s at most). */
static void until_gone(tg_fixture_t *f, const peer_t *p)
{
    uint64_t until = clock_ms() + 5000;
    while (p->state != PEER_FREE && clock_ms() < until)
        tg_pass(f, 10);
    cr_assert_eq(p->state, PEER_FREE, "the peer stayed");
}

Test(housekeeping, the_tick_pings_a_quiet_peer_and_drops_a_silent_one)
{
    if (clock_ms() < HOUSEKEEPING_SILENCE_MS + 1000)
        cr_skip_test("the monotonic clock is younger than the silence bound");
    tg_fixture_t f;
    tg_open(&f, NULL);
    void *s;
    peer_t *p = tg_peer(&f, &s, 0x31);
    proto_peer_msg_t m;
    cr_assert_not(p->ping_out, "pinged before HOUSEKEEPING_PING_MS");
    p->last_ping_ms = clock_ms() - HOUSEKEEPING_PING_MS;
    tg_expect(&f, s, PROTO_MSG_PING, &m, buf, sizeof buf);
    uint64_t nonce;
    cr_assert_eq(proto_get_uint(&m.body, "nonce", &nonce), 0);
    cr_assert_eq(nonce, p->ping_nonce);
    cr_assert(p->ping_out);
    /* its pong is heard; silence then ends it */
    tg_send_nonce(&f, s, PROTO_MSG_PONG, nonce);
    uint64_t until = clock_ms() + 5000;
    while (p->ping_out && clock_ms() < until)
        tg_pass(&f, 10);
    cr_assert_not(p->ping_out, "the pong was not taken");
    cr_assert_eq(p->state, PEER_READY);
    p->last_recv_ms = clock_ms() - HOUSEKEEPING_SILENCE_MS;
    until_gone(&f, p);
    zmq_close(s);
    tg_close(&f);
}

/* A connection whose first words were no hello is a peer in its handshake
 * until its deadline, then dropped. */
Test(housekeeping, the_tick_drops_a_peer_whose_hello_is_overdue)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    void *s = tg_dial(&f);
    tg_send_nonce(&f, s, PROTO_MSG_PING, 1);
    const peer_table_t *pt = gossip_peers(f.g);
    uint64_t until = clock_ms() + 5000;
    while (pt->n_inbound == 0 && clock_ms() < until)
        tg_pass(&f, 10);
    cr_assert_eq(pt->n_inbound, 1);
    peer_t *p = NULL;
    for (size_t i = 0; i < pt->cap; i++)
        if (pt->peers[i].state == PEER_HANDSHAKE)
            p = &pt->peers[i];
    cr_assert_not_null(p);
    cr_assert_geq(p->deadline_ms, clock_ms(), "the hello's deadline has passed already");
    for (int i = 0; i < 5; i++)
        tg_pass(&f, 10);
    cr_assert_eq(p->state, PEER_HANDSHAKE, "dropped before its deadline");
    p->deadline_ms = clock_ms() - 1;
    until_gone(&f, p);
    cr_assert_eq(pt->n_inbound, 0);
    zmq_close(s);
    tg_close(&f);
}

/* Runs the daemon until one of the n listeners hears a hello: its index. */
static int hello_heard(tg_fixture_t *f, tg_listener_t *l, int n, bool *heard)
{
    uint8_t rid[256];
    size_t rid_len;
    proto_peer_msg_t m;
    uint64_t until = clock_ms() + 5000;
    while (clock_ms() < until) {
        for (int i = 0; i < n; i++)
            if (!heard[i] && tg_listener_expect(f, &l[i], PROTO_MSG_HELLO, rid, &rid_len, &m, buf,
                                                sizeof buf, 20))
                return heard[i] = true, i;
    }
    return -1;
}

/* Four seeds for two outbound slots, one of them banned: two others are
 * dialled, the banned one never, and never more than the cap. */
Test(housekeeping, dialling_fills_the_outbound_slots_and_skips_bans)
{
    enum { N = 4 };
    tg_listener_t l[N];
    int ports[N];
    char seeds[128] = "";
    for (int i = 0; i < N; i++) {
        ports[i] = tb_free_port();
        snprintf(seeds + strlen(seeds), sizeof seeds - strlen(seeds), "%s127.0.0.1:%d",
                 i ? "," : "", ports[i]);
    }
    tg_fixture_t f;
    tg_open(&f, &(tg_options_t){.seeds = seeds});
    for (int i = 0; i < N; i++)
        tg_listen_at(&f, &l[i], ports[i]);
    peer_ban(&f.g->pt, l[0].addr, clock_unix(), 3600); /* before the first dial */
    bool heard[N] = {false};
    cr_assert_geq(hello_heard(&f, l, N, heard), 1, "the banned seed was dialled");
    cr_assert_geq(hello_heard(&f, l, N, heard), 1, "the banned seed was dialled");
    const peer_table_t *pt = gossip_peers(f.g);
    cr_assert_eq(pt->n_outbound, 2);
    /* more dial rounds change nothing: the slots are full */
    uint64_t until = clock_ms() + 3 * HOUSEKEEPING_DIAL_MS;
    while (clock_ms() < until) {
        tg_pass(&f, 10);
        cr_assert_leq(pt->n_outbound, pt->max_outbound, "past the outbound cap");
    }
    uint8_t rid[256];
    size_t rid_len;
    proto_peer_msg_t m;
    cr_assert_not(tg_listener_expect(&f, &l[0], PROTO_MSG_HELLO, rid, &rid_len, &m, buf,
                                     sizeof buf, 10), "the banned seed was dialled");
    for (int i = 0; i < N; i++)
        zmq_close(l[i].sock);
    tg_close(&f);
}
