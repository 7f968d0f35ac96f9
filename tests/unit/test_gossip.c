/* gossip.h: the daemon as a whole, with no chaind (the shared daemon and
 * test peers: support/gossip_fixture.h). Hostile input handed to its
 * message handler (bans by where a peer is, never by its claims); the
 * admission of a new connection: eviction when the inbound slots are full,
 * and a message that comes with another connection's descriptor. What one
 * module does has that module's file: the handshake and dial-back
 * (test_handshake.c), the dispatch of each message (test_handlers.c), a
 * peer's life and what is sent (test_conn.c), the link to chaind
 * (test_upstream.c), the timers (test_housekeeping.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "clock.h"
#include "gossip.h"
#include "gossip_fixture.h"
#include "peer.h"
#include "proto.h"
#include "sample.h"

Test(gossip, the_handler_survives_hostile_input_and_bans)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    gossip_t *g = f.g;
    const peer_table_t *pt = gossip_peers(g);
    uint8_t rid[5] = {0, 1, 2, 3, 4};
    /* garbage from a remote address: that address is banned */
    const uint8_t garbage[] = {0x93, 0xa7, 'r', 'e', 'g', 't', 'e', 's', 't', 0xa3, 'f', 'o', 'o'};
    gossip_inject(g, rid, sizeof rid, -1, "10.9.8.7", garbage, sizeof garbage);
    cr_assert(peer_banned(pt, "10.9.8.7", (uint64_t)time(NULL)));
    cr_assert_null(peer_find_rid(pt, rid, sizeof rid), "the peer that sent garbage stayed");
    /* a wrong network's hello: where it comes from is banned, never what it
     * claims; from loopback, nothing is (it loses its connection) */
    mp_buf_t hello;
    mp_buf_init(&hello, PROTO_MAX_MSG);
    rid[4] = 5;
    sample_hello(&hello, "demo", "10.9.8.6:9333", 9);
    gossip_inject(g, rid, sizeof rid, -1, "10.9.8.5", hello.data, hello.len);
    cr_assert_null(peer_find_rid(pt, rid, sizeof rid));
    cr_assert(peer_banned(pt, "10.9.8.5", (uint64_t)time(NULL)));
    cr_assert_not(peer_banned(pt, "10.9.8.6:9333", (uint64_t)time(NULL)), "a claim was banned");
    size_t bans = pt->n_bans;
    rid[4] = 6;
    gossip_inject(g, rid, sizeof rid, -1, "127.0.0.1", hello.data, hello.len);
    cr_assert_null(peer_find_rid(pt, rid, sizeof rid));
    cr_assert_eq(pt->n_bans, bans, "a loopback peer's claim or id was banned");
    /* messages before hello, then random bytes and mutations of a valid
     * hello: none may crash the daemon (the sanitizer build checks memory) */
    srand(7);
    sample_hello(&hello, "regtest", "127.0.0.1:2", 3);
    size_t n = hello.len;
    for (int i = 0; i < 20000; i++) {
        uint8_t msg[512];
        size_t len = n;
        memcpy(msg, hello.data, n);
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
    mp_buf_free(&hello);
    tg_close(&f);
}

/* With the 8 inbound slots full, a newcomer's hello evicts (the oldest
 * unverified here); a newcomer whose first words are anything else is
 * refused, and evicts nobody. */
Test(gossip, full_inbound_slots_evict_for_a_hello_and_refuse_anything_else)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    void *s[10];
    for (int i = 0; i < 8; i++) {
        s[i] = tg_hello_peer(&f, (uint8_t)(0x40 + i));
        tg_expect(&f, s[i], PROTO_MSG_HELLO, &m, buf, sizeof buf);
        nanosleep(&(struct timespec){0, 2000000}, NULL); /* distinct ages */
    }
    cr_assert_eq(peer_count_ready(gossip_peers(f.g)), 8);
    s[8] = tg_dial(&f);
    tg_send_nonce(&f, s[8], PROTO_MSG_PING, 1);
    for (int i = 0; i < 50; i++)
        tg_pass(&f, 5);
    cr_assert_eq(gossip_peers(f.g)->n_inbound, 8, "a ninth peer past the slots");
    cr_assert_not_null(tg_node(&f, 0x40), "a newcomer that said no hello evicted a peer");
    s[9] = tg_hello_peer(&f, 0x50);
    tg_expect(&f, s[9], PROTO_MSG_HELLO, &m, buf, sizeof buf);
    cr_assert_eq(peer_count_ready(gossip_peers(f.g)), 8);
    cr_assert_not_null(tg_node(&f, 0x50), "the newcomer was not admitted");
    cr_assert_null(tg_node(&f, 0x40), "not the oldest unverified peer evicted");
    for (int i = 1; i < 8; i++)
        cr_assert_not_null(tg_node(&f, (uint8_t)(0x40 + i)), "peer %d evicted too", i);
    for (int i = 0; i < 10; i++)
        zmq_close(s[i]);
    tg_close(&f);
}

/* What a closed peer had queued is read after its connection ended, with its
 * old descriptor, which the next connection may hold by then (as here,
 * where the leftover is handed over with b's descriptor): that must not end
 * b's connection. And a routing id never seen that comes with the
 * descriptor of a peer's connection makes that connection doubtful: neither
 * keeps it. */
Test(gossip, a_message_with_another_connections_descriptor_ends_nothing)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    void *a = tg_hello_peer(&f, 0x70);
    tg_expect(&f, a, PROTO_MSG_HELLO, &m, buf, sizeof buf);
    uint8_t rid_a[PEER_RID_MAX];
    size_t rid_a_len = tg_node(&f, 0x70)->rid_len;
    memcpy(rid_a, tg_node(&f, 0x70)->rid, rid_a_len);
    cr_assert_eq(zmq_send(a, "\x93garbage", 8, 0), 8);
    uint64_t until = clock_ms() + 5000;
    while (tg_node(&f, 0x70) && clock_ms() < until)
        tg_pass(&f, 5);
    cr_assert_null(tg_node(&f, 0x70), "garbage was kept");
    void *b = tg_hello_peer(&f, 0x71);
    tg_expect(&f, b, PROTO_MSG_HELLO, &m, buf, sizeof buf);
    int fd_b = tg_node(&f, 0x71)->fd;
    sample_hello(&f.b, "regtest", "", 0x70);
    gossip_inject(f.g, rid_a, rid_a_len, fd_b, "", f.b.data, f.b.len);
    for (int i = 0; i < 100; i++)
        tg_pass(&f, 5);
    tg_send_nonce(&f, b, PROTO_MSG_PING, 5);
    tg_expect(&f, b, PROTO_MSG_PONG, &m, buf, sizeof buf); /* b's connection lives */
    /* a routing id never seen, on b's descriptor: b is let go, unkicked */
    const uint8_t stranger[5] = {0, 9, 9, 9, 9};
    gossip_inject(f.g, stranger, sizeof stranger, fd_b, "", f.b.data, f.b.len);
    cr_assert_null(tg_node(&f, 0x71), "a doubtful connection kept its peer");
    cr_assert_null(tg_node(&f, 0x70), "a doubtful connection gave a new peer");
    zmq_close(a);
    zmq_close(b);
    tg_close(&f);
}
