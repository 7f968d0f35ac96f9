/* client.h against a stand-in chaind (support/gossip_fixture.h: a ROUTER and
 * an XPUB on ipc:// in a temp dir), the client on its own reactor: a request
 * answered with its tag, and the replies handler called; malformed
 * endpoints and a full reactor refused; CLIENT_MAX_PENDING requests in
 * flight and no more, a cancelled or unsent ticket released; a timed-out
 * request's late reply dropped, also when its slot serves a new request;
 * garbage, multi-frame and unmatched replies skipped; events in order,
 * a gap or a seq that went back reported, malformed and foreign events
 * skipped. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "builder.h"
#include "../../gossipd/client.h" /* minerd has a client.h too: named by path */
#include "clock.h"
#include "gossip_fixture.h"
#include "proto.h"
#include "reactor.h"

typedef struct {
    char dir[256];
    void *zctx;
    reactor_t *reactor;
    tg_chaind_t chaind;
    client_t *c;
    mp_buf_t b;
    int replies, events; /* handler calls */
} fx_t;

static void on_replies(void *ctx) { ((fx_t *)ctx)->replies++; }
static void on_events(void *ctx) { ((fx_t *)ctx)->events++; }

static const char *const topics[] = {"block", "tx", NULL};

static void fx_open(fx_t *f)
{
    memset(f, 0, sizeof *f);
    tb_tmpdir(f->dir);
    f->zctx = zmq_ctx_new();
    f->reactor = reactor_new(CLIENT_REACTOR_IO, CLIENT_REACTOR_TIMERS);
    cr_assert(f->zctx && f->reactor);
    tg_chaind_open(&f->chaind, f->zctx, f->dir);
    client_handlers_t h = {f, on_replies, on_events};
    err_t e;
    cr_assert_eq(client_open(&f->c, f->zctx, f->reactor, &h, f->chaind.rpc_ep,
                             f->chaind.events_ep, topics, NULL, NULL, &e), 0, "%s", e.message);
    mp_buf_init(&f->b, PROTO_MAX_MSG);
}

static void fx_close(fx_t *f)
{
    client_close(&f->c);
    cr_assert_null(f->c);
    mp_buf_free(&f->b);
    tg_chaind_close(&f->chaind);
    reactor_destroy(&f->reactor);
    zmq_ctx_term(f->zctx);
    tb_rmdir(f->dir);
}

static void pump(void *arg)
{
    fx_t *f = arg;
    err_t e;
    cr_assert_eq(reactor_once(f->reactor, 10, &e), 0);
}

/* A get_tip sent with tag; its id at chaind in *id, chaind's routing id in rid. */
static int send_tip(fx_t *f, const client_tag_t *tag, uint64_t deadline, uint8_t rid[256],
                    size_t *rid_len, uint64_t *id)
{
    int t = client_begin(f->c, &f->b, PROTO_REQ_GET_TIP);
    cr_assert_geq(t, 0);
    cr_assert_eq(client_send(f->c, t, &f->b, tag, deadline), 0);
    static uint8_t buf[4096];
    proto_request_t req;
    cr_assert(tg_chaind_recv(&f->chaind, rid, rid_len, &req, buf, sizeof buf, NULL, NULL),
              "chaind heard no request");
    cr_assert_eq(req.type, PROTO_REQ_GET_TIP);
    *id = req.id;
    return t;
}

/* chaind's ok reply to get_tip id, of height. */
static void tip_reply(mp_buf_t *b, uint64_t id, uint64_t height)
{
    static const uint8_t zero[32];
    mp_buf_reset(b);
    proto_open_ok(b, PROTO_REQ_GET_TIP, id);
    mp_put_cstr(b, "height");
    mp_put_uint(b, height);
    mp_put_cstr(b, "hash");
    mp_put_bin(b, zero, 32);
    mp_put_cstr(b, "chainwork");
    mp_put_bin(b, zero, 32);
}

/* Pumps the reactor until a reply is read into *out: 1; 0 when none came. */
static int recv_reply(fx_t *f, client_result_t *out, long ms)
{
    uint64_t until = clock_ms() + (uint64_t)ms;
    do {
        pump(f);
        if (client_recv(f->c, out) == 1)
            return 1;
    } while (clock_ms() < until);
    return 0;
}

static uint64_t tip_height(const client_result_t *r)
{
    uint64_t h;
    cr_assert(r->reply.ok);
    cr_assert_eq(proto_get_uint(&r->reply.body, "height", &h), 0);
    return h;
}

Test(client, a_request_is_answered_with_its_tag)
{
    fx_t f;
    fx_open(&f);
    client_tag_t tag = {.kind = 7, .slot = 3, .gen = 9, .aux = 42};
    memset(tag.hash.b, 0xab, 32);
    uint8_t rid[256];
    size_t rid_len;
    uint64_t id;
    send_tip(&f, &tag, clock_ms() + 60000, rid, &rid_len, &id);
    cr_assert_eq(client_pending(f.c), 1);
    tip_reply(&f.b, id, 1234);
    tg_chaind_reply(&f.chaind, rid, rid_len, &f.b);
    client_result_t r;
    cr_assert_eq(recv_reply(&f, &r, 5000), 1, "no reply read");
    cr_assert_gt(f.replies, 0, "the replies handler was not called");
    cr_assert_not(r.timed_out);
    cr_assert_eq(r.tag.kind, 7);
    cr_assert_eq(r.tag.slot, 3);
    cr_assert_eq(r.tag.gen, 9);
    cr_assert_eq(r.tag.aux, 42);
    cr_assert_arr_eq(r.tag.hash.b, tag.hash.b, 32);
    cr_assert_eq(r.reply.id, id);
    cr_assert_eq(tip_height(&r), 1234);
    cr_assert_eq(client_pending(f.c), 0);
    cr_assert_eq(client_recv(f.c, &r), 0, "one reply read twice");
    client_result_t x;
    cr_assert_eq(client_expired(f.c, UINT64_MAX, &x), 0, "an answered request expired");
    fx_close(&f);
}

/* Requests are pipelined: answered out of order, each reply finds its tag. */
Test(client, replies_out_of_order_find_their_tags)
{
    fx_t f;
    fx_open(&f);
    enum { N = 5 };
    uint8_t rid[256];
    size_t rid_len;
    uint64_t ids[N];
    for (int i = 0; i < N; i++)
        send_tip(&f, &(client_tag_t){.kind = i}, clock_ms() + 60000, rid, &rid_len, &ids[i]);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < i; k++)
            cr_assert_neq(ids[i], ids[k], "two requests in flight share an id");
    for (int i = N - 1; i >= 0; i--) {
        tip_reply(&f.b, ids[i], 100 + (uint64_t)i);
        tg_chaind_reply(&f.chaind, rid, rid_len, &f.b);
    }
    for (int n = 0; n < N; n++) {
        client_result_t r;
        cr_assert_eq(recv_reply(&f, &r, 5000), 1);
        cr_assert_eq(tip_height(&r), 100 + (uint64_t)r.tag.kind, "a reply took another's tag");
    }
    cr_assert_eq(client_pending(f.c), 0);
    fx_close(&f);
}

Test(client, malformed_endpoints_and_a_full_reactor_are_refused)
{
    char dir[256], ok_ep[300];
    tb_tmpdir(dir);
    snprintf(ok_ep, sizeof ok_ep, "ipc://%s/x", dir);
    void *zctx = zmq_ctx_new();
    reactor_t *r = reactor_new(CLIENT_REACTOR_IO, CLIENT_REACTOR_TIMERS);
    client_handlers_t h = {NULL, NULL, NULL};
    static const struct {
        const char *rpc, *events;
    } bad[] = {
        {"nonsense", NULL}, {NULL, "nonsense"}, {"tcp://", NULL}, {"tcp://127.0.0.1:notaport", NULL},
        {"udp://127.0.0.1:1", NULL}, {"", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        client_t *c = (client_t *)1;
        err_t e = {0};
        const char *rpc = bad[i].rpc ? bad[i].rpc : ok_ep;
        const char *events = bad[i].events ? bad[i].events : ok_ep;
        cr_assert_lt(client_open(&c, zctx, r, &h, rpc, events, topics, NULL, NULL, &e), 0,
                     "\"%s\" \"%s\" accepted", rpc, events);
        cr_assert_null(c);
        cr_assert_neq(e.message[0], '\0', "no message for \"%s\" \"%s\"", rpc, events);
    }
    /* a reactor with no room for the four registrations */
    reactor_t *small = reactor_new(CLIENT_REACTOR_IO - 1, CLIENT_REACTOR_TIMERS);
    client_t *c;
    err_t e = {0};
    cr_assert_lt(client_open(&c, zctx, small, &h, ok_ep, ok_ep, topics, NULL, NULL, &e), 0);
    cr_assert_null(c);
    cr_assert(strstr(e.message, "event loop"), "%s", e.message);
    reactor_destroy(&small);
    reactor_destroy(&r);
    zmq_ctx_term(zctx);
    tb_rmdir(dir);
}

Test(client, at_most_client_max_pending_in_flight)
{
    fx_t f;
    fx_open(&f);
    static int tickets[CLIENT_MAX_PENDING];
    for (int i = 0; i < CLIENT_MAX_PENDING; i++) {
        tickets[i] = client_begin(f.c, &f.b, PROTO_REQ_GET_TIP);
        cr_assert_geq(tickets[i], 0, "ticket %d refused", i);
        cr_assert_lt(tickets[i], CLIENT_MAX_PENDING);
    }
    cr_assert_eq(client_pending(f.c), CLIENT_MAX_PENDING);
    mp_buf_reset(&f.b);
    mp_put_uint(&f.b, 99);
    size_t len = f.b.len;
    cr_assert_eq(client_begin(f.c, &f.b, PROTO_REQ_GET_TIP), -1, "past CLIENT_MAX_PENDING");
    cr_assert_eq(f.b.len, len, "a refused begin wrote into the buffer");
    /* a bad ticket, or one cancelled twice, releases nothing */
    client_cancel(f.c, -1);
    client_cancel(f.c, CLIENT_MAX_PENDING);
    cr_assert_eq(client_pending(f.c), CLIENT_MAX_PENDING);
    client_cancel(f.c, tickets[10]);
    client_cancel(f.c, tickets[10]);
    cr_assert_eq(client_pending(f.c), CLIENT_MAX_PENDING - 1);
    int t = client_begin(f.c, &f.b, PROTO_REQ_GET_TIP);
    cr_assert_eq(t, tickets[10], "a cancelled ticket's slot was not reused");
    for (int i = 0; i < CLIENT_MAX_PENDING; i++)
        client_cancel(f.c, tickets[i]);
    cr_assert_eq(client_pending(f.c), 0);
    fx_close(&f);
}

/* A request whose buffer failed is not sent, and its ticket is released. */
Test(client, a_failed_buffer_is_not_sent)
{
    fx_t f;
    fx_open(&f);
    mp_buf_t tiny;
    mp_buf_init(&tiny, 4);
    int t = client_begin(f.c, &tiny, PROTO_REQ_GET_TIP);
    cr_assert_geq(t, 0);
    cr_assert_not(mp_buf_ok(&tiny));
    cr_assert_eq(client_send(f.c, t, &tiny, &(client_tag_t){0}, UINT64_MAX), -1);
    cr_assert_eq(client_pending(f.c), 0, "the ticket stayed");
    /* what chaind hears first is the next request, not the failed one */
    t = client_begin(f.c, &f.b, PROTO_REQ_GET_MEMPOOL);
    mp_put_cstr(&f.b, "max");
    mp_put_uint(&f.b, 3);
    cr_assert_eq(client_send(f.c, t, &f.b, &(client_tag_t){0}, UINT64_MAX), 0);
    uint8_t rid[256], buf[256];
    size_t rid_len;
    proto_request_t req;
    cr_assert(tg_chaind_recv(&f.chaind, rid, &rid_len, &req, buf, sizeof buf, NULL, NULL));
    cr_assert_eq(req.type, PROTO_REQ_GET_MEMPOOL, "the failed request reached chaind");
    mp_buf_free(&tiny);
    fx_close(&f);
}

/* A request past its deadline comes back timed out, once; its reply, when it
 * comes, is dropped, even after its slot went to a new request. */
Test(client, a_reply_after_the_timeout_is_dropped)
{
    fx_t f;
    fx_open(&f);
    uint8_t rid[256];
    size_t rid_len;
    uint64_t old_id, new_id;
    uint64_t now = clock_ms();
    int t = send_tip(&f, &(client_tag_t){.kind = 1}, now + 1000, rid, &rid_len, &old_id);
    client_result_t r;
    cr_assert_eq(client_expired(f.c, now + 999, &r), 0, "expired before its deadline");
    cr_assert_eq(client_expired(f.c, now + 1000, &r), 1);
    cr_assert(r.timed_out);
    cr_assert_eq(r.tag.kind, 1);
    cr_assert_eq(client_expired(f.c, UINT64_MAX, &r), 0, "expired twice");
    cr_assert_eq(client_pending(f.c), 0);
    /* the slot serves a new request (the free slots are a stack) */
    int t2 = send_tip(&f, &(client_tag_t){.kind = 2}, now + 60000, rid, &rid_len, &new_id);
    cr_assert_eq(t2, t);
    cr_assert_neq(new_id, old_id, "a reused slot kept its id");
    tip_reply(&f.b, old_id, 1);
    tg_chaind_reply(&f.chaind, rid, rid_len, &f.b);
    tip_reply(&f.b, new_id, 2);
    tg_chaind_reply(&f.chaind, rid, rid_len, &f.b);
    cr_assert_eq(recv_reply(&f, &r, 5000), 1);
    cr_assert_eq(r.tag.kind, 2);
    cr_assert_eq(tip_height(&r), 2, "the late reply was taken for the new request's");
    cr_assert_eq(recv_reply(&f, &r, 200), 0);
    fx_close(&f);
}

/* Garbage, a reply of two frames and replies to nothing are skipped; the
 * good reply behind them is read. */
Test(client, malformed_and_unmatched_replies_are_skipped)
{
    fx_t f;
    fx_open(&f);
    uint8_t rid[256];
    size_t rid_len;
    uint64_t id;
    send_tip(&f, &(client_tag_t){.kind = 5}, clock_ms() + 60000, rid, &rid_len, &id);
    mp_buf_t junk;
    mp_buf_init(&junk, 64);
    mp_put_raw(&junk, "\x93\xc1garbage", 9);
    tg_chaind_reply(&f.chaind, rid, rid_len, &junk);
    /* two frames, each a well-formed reply */
    tip_reply(&f.b, id, 7);
    cr_assert_eq(zmq_send(f.chaind.rpc, rid, rid_len, ZMQ_SNDMORE), (int)rid_len);
    cr_assert_eq(zmq_send(f.chaind.rpc, f.b.data, f.b.len, ZMQ_SNDMORE), (int)f.b.len);
    cr_assert_eq(zmq_send(f.chaind.rpc, f.b.data, f.b.len, 0), (int)f.b.len);
    /* ids of no request: a slot out of range, a slot never used, a wrong generation */
    uint64_t strays[] = {0xffff, id ^ 1, id + (1u << 16), UINT64_MAX};
    for (size_t i = 0; i < sizeof strays / sizeof strays[0]; i++) {
        tip_reply(&f.b, strays[i], 9);
        tg_chaind_reply(&f.chaind, rid, rid_len, &f.b);
    }
    mp_buf_reset(&f.b);
    proto_error(&f.b, id, ERR_NOT_FOUND, "no such thing");
    tg_chaind_reply(&f.chaind, rid, rid_len, &f.b);
    client_result_t r;
    cr_assert_eq(recv_reply(&f, &r, 5000), 1);
    cr_assert_eq(r.tag.kind, 5);
    cr_assert_not(r.reply.ok, "a skipped reply was taken");
    cr_assert_eq(r.reply.code, ERR_NOT_FOUND);
    cr_assert_str_eq(r.reply.message, "no such thing");
    cr_assert_eq(recv_reply(&f, &r, 200), 0);
    mp_buf_free(&junk);
    fx_close(&f);
}

/* --- events ------------------------------------------------------------------------ */

static void publish_tx(fx_t *f, uint64_t seq, uint8_t fill)
{
    uint8_t txid[32];
    memset(txid, fill, sizeof txid);
    mp_buf_reset(&f->b);
    proto_open_event(&f->b, PROTO_TOPIC_TX, seq);
    mp_put_cstr(&f->b, "txid");
    mp_put_bin(&f->b, txid, 32);
    mp_put_cstr(&f->b, "origin");
    mp_put_cstr(&f->b, "rpc");
    tg_chaind_publish(&f->chaind, PROTO_TOPIC_TX, &f->b);
}

static void publish_block(fx_t *f, uint64_t seq, uint64_t height)
{
    uint8_t hash[32] = {0};
    mp_buf_reset(&f->b);
    proto_open_event(&f->b, PROTO_TOPIC_BLOCK, seq);
    mp_put_cstr(&f->b, "hash");
    mp_put_bin(&f->b, hash, 32);
    mp_put_cstr(&f->b, "height");
    mp_put_uint(&f->b, height);
    mp_put_cstr(&f->b, "origin");
    mp_put_cstr(&f->b, "");
    tg_chaind_publish(&f->chaind, PROTO_TOPIC_BLOCK, &f->b);
}

/* Pumps until an event is read: 1; 0 when none came within ms. */
static int recv_event(fx_t *f, proto_event_t *ev, bool *gap, long ms)
{
    uint64_t until = clock_ms() + (uint64_t)ms;
    do {
        pump(f);
        if (client_recv_event(f->c, ev, gap) == 1)
            return 1;
    } while (clock_ms() < until);
    return 0;
}

Test(client, events_report_gaps_and_seqs_that_went_back)
{
    fx_t f;
    fx_open(&f);
    tg_chaind_subscribed(&f.chaind, 2, pump, &f);
    static const struct {
        bool block;
        uint64_t seq;
        bool gap;
    } seqs[] = {
        {true, 5, false},  /* the first of a topic: nothing to miss */
        {true, 6, false},
        {false, 0, false}, /* another topic counts apart */
        {true, 8, true},   /* 7 was missed */
        {false, 1, false},
        {true, 3, true},   /* went back: chaind restarted */
        {true, 4, false},
        {false, 1, true},  /* the same seq again */
    };
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        if (seqs[i].block)
            publish_block(&f, seqs[i].seq, 10 + i);
        else
            publish_tx(&f, seqs[i].seq, (uint8_t)i);
        proto_event_t ev;
        bool gap;
        cr_assert_eq(recv_event(&f, &ev, &gap, 5000), 1, "event %zu not read", i);
        cr_assert_eq(ev.type, seqs[i].block ? PROTO_TOPIC_BLOCK : PROTO_TOPIC_TX);
        cr_assert_eq(ev.seq, seqs[i].seq);
        cr_assert_eq(gap, seqs[i].gap, "event %zu (seq %llu)", i,
                     (unsigned long long)seqs[i].seq);
    }
    cr_assert_gt(f.events, 0, "the events handler was not called");
    fx_close(&f);
}

/* A topic frame alone, an unknown topic, a body that breaks its schema and
 * a topic not subscribed to are skipped; an event of three frames is read
 * with its extra frame dropped. */
Test(client, malformed_and_foreign_events_are_skipped)
{
    fx_t f;
    fx_open(&f);
    tg_chaind_subscribed(&f.chaind, 2, pump, &f);
    void *pub = f.chaind.pub;
    cr_assert_eq(zmq_send(pub, "tx", 2, 0), 2);
    cr_assert_eq(zmq_send(pub, "txx", 3, ZMQ_SNDMORE), 3);
    cr_assert_eq(zmq_send(pub, "\x81\xa3seq\x00", 6, 0), 6);
    cr_assert_eq(zmq_send(pub, "block", 5, ZMQ_SNDMORE), 5);
    cr_assert_eq(zmq_send(pub, "\x81\xa3seq\x01", 6, 0), 6); /* no hash, no height */
    cr_assert_eq(zmq_send(pub, "job", 3, ZMQ_SNDMORE), 3);
    cr_assert_eq(zmq_send(pub, "\x81\xa3seq\x02", 6, 0), 6);
    publish_tx(&f, 40, 1);
    /* three frames: topic, body, an extra */
    publish_tx(&f, 41, 2);
    mp_buf_reset(&f.b);
    proto_open_event(&f.b, PROTO_TOPIC_TX, 42);
    mp_put_cstr(&f.b, "txid");
    mp_put_bin(&f.b, (uint8_t[32]){3}, 32);
    mp_put_cstr(&f.b, "origin");
    mp_put_cstr(&f.b, "rpc");
    cr_assert_eq(zmq_send(pub, "tx", 2, ZMQ_SNDMORE), 2);
    cr_assert_eq(zmq_send(pub, f.b.data, f.b.len, ZMQ_SNDMORE), (int)f.b.len);
    cr_assert_eq(zmq_send(pub, "extra", 5, 0), 5);
    publish_tx(&f, 43, 4);
    uint64_t want[] = {40, 41, 42, 43};
    for (size_t i = 0; i < 4; i++) {
        proto_event_t ev;
        bool gap;
        cr_assert_eq(recv_event(&f, &ev, &gap, 5000), 1, "event %llu not read",
                     (unsigned long long)want[i]);
        cr_assert_eq(ev.type, PROTO_TOPIC_TX);
        cr_assert_eq(ev.seq, want[i], "a malformed or foreign event was read");
        cr_assert_not(gap);
    }
    proto_event_t ev;
    bool gap;
    cr_assert_eq(recv_event(&f, &ev, &gap, 200), 0);
    fx_close(&f);
}
