/* handlers.h: what each peer message does, over a real socket (the test
 * peers of support/gossip_fixture.h): the dispatch of each message type, a
 * message before the hello scored and not handled, answers to our own
 * requests free of the flood bucket and the rest charged; and hostile
 * bodies (an unknown inventory kind, oversized or malformed fields, a
 * message of several frames) scored, never crashing the daemon. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "clock.h"
#include "gossip.h"
#include "gossip_fixture.h"
#include "peer.h"
#include "proto.h"
#include "sample.h"

Test(handlers, a_peer_shakes_hands_and_each_message_reaches_its_handler)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    void *s = tg_dial(&f);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    /* a message before the hello is scored, and not handled */
    tg_send_nonce(&f, s, PROTO_MSG_PING, 1);
    const peer_t *p = tg_shake_hands(&f, s, "10.1.1.1:9333", 0x42, &m, buf, sizeof buf);
    uint64_t version;
    cr_assert_eq(proto_get_uint(&m.body, "version", &version), 0);
    cr_assert_eq(version, PROTO_VERSION);
    cr_assert_eq(p->score, err_ban_score(ERR_BAD_REQUEST), "a ping before hello was not scored");
    /* the claimed address is not the peer's until its dial-back proves it */
    cr_assert_str_eq(p->addr, "", "an unverified claim was taken");
    cr_assert_str_eq(p->claim, "10.1.1.1:9333");
    cr_assert_eq(p->claim_state, PEER_CLAIM_WAIT);
    tg_expect(&f, s, PROTO_MSG_CHALLENGE, &m, buf, sizeof buf);
    uint8_t challenge[PEER_ID_LEN];
    cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", challenge, PEER_ID_LEN), 0);
    cr_assert_arr_eq(challenge, p->challenge, PEER_ID_LEN);
    tg_expect(&f, s, PROTO_MSG_ADDR, &m, buf, sizeof buf);
    /* a ping is answered with its nonce */
    tg_send_nonce(&f, s, PROTO_MSG_PING, 77);
    tg_expect(&f, s, PROTO_MSG_PONG, &m, buf, sizeof buf);
    uint64_t nonce;
    cr_assert_eq(proto_get_uint(&m.body, "nonce", &nonce), 0);
    cr_assert_eq(nonce, 77);
    /* an inventory of a kind that does not exist is scored on the spot */
    mp_buf_reset(&f.b);
    proto_open_peer(&f.b, "regtest", PROTO_MSG_GETDATA);
    mp_put_cstr(&f.b, "kind");
    mp_put_cstr(&f.b, "utxo");
    mp_put_cstr(&f.b, "hashes");
    mp_put_array(&f.b, 0);
    tg_send(s, &f.b);
    for (int i = 0; i < 20 && p->score < 2 * err_ban_score(ERR_BAD_REQUEST); i++)
        tg_pass(&f, 10);
    cr_assert_eq(p->score, 2 * err_ban_score(ERR_BAD_REQUEST), "an unknown kind was not scored");
    zmq_close(s);
    tg_close(&f);
}

/* Sends n pongs of a nonce, in batches the daemon's queue takes (it reads
 * them in passes between the batches). */
static void pongs(tg_fixture_t *f, void *s, int n, uint64_t nonce)
{
    mp_buf_reset(&f->b);
    proto_open_peer(&f->b, "regtest", PROTO_MSG_PONG);
    mp_put_cstr(&f->b, "nonce");
    mp_put_uint(&f->b, nonce);
    for (int sent = 0; sent < n;) {
        for (int i = 0; i < 100 && sent < n; i++, sent++)
            cr_assert_eq(zmq_send(s, f->b.data, f->b.len, 0), (int)f->b.len);
        for (int i = 0; i < 3; i++)
            tg_pass(f, 1);
    }
    for (int i = 0; i < 20; i++)
        tg_pass(f, 5);
}

Test(handlers, answers_to_our_requests_are_free_the_rest_cost_a_token)
{
    tg_fixture_t f;
    tg_open(&f, NULL);
    static uint8_t buf[1 << 16];
    proto_peer_msg_t m;
    void *s = tg_dial(&f);
    const peer_t *p = tg_shake_hands(&f, s, "10.1.1.4:9333", 0x20, &m, buf, sizeof buf);
    /* the pong to our (not yet sent) ping of nonce 0 answers us: free, however many */
    pongs(&f, s, 2 * PEER_FLOOD_BURST, p->ping_nonce);
    cr_assert_eq(p->state, PEER_READY);
    cr_assert_eq(p->score, 0, "answers to our own ping were charged");
    /* pongs to nothing we asked: the bucket runs dry and the flood ends the
     * peer (a local one whose claim is unverified: nothing to ban) */
    pongs(&f, s, 3 * PEER_FLOOD_BURST, p->ping_nonce + 1);
    cr_assert_eq(peer_count_ready(gossip_peers(f.g)), 0, "a flood of unsolicited pongs stayed");
    cr_assert_not(peer_banned(gossip_peers(f.g), "10.1.1.4:9333", (uint64_t)time(NULL)),
                  "an unverified claim was banned");
    zmq_close(s);
    tg_close(&f);
}
