/* net.h: endpoints; an inbound peer's message and the reply on its routing
 * id; an outbound DEALER that connects, sends and hears back; the reactor
 * calling back for each socket while it lives and never after a hangup; and
 * the bound on the registrations net takes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "builder.h"
#include "clock.h"
#include "net.h"

Test(net, endpoints)
{
    static const struct {
        const char *in, *out; /* out NULL: refused */
    } cases[] = {
        {"10.0.0.1:9333", "tcp://10.0.0.1:9333"},
        {"[::1]:9333", "tcp://[::1]:9333"},
        {"tcp://h:1", "tcp://h:1"},
        {"ipc:///run/chain/p2p", "ipc:///run/chain/p2p"},
        {"udp://h:1", NULL},
        {"inproc://x", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ep[NET_ENDPOINT_MAX];
        int rc = net_endpoint(ep, sizeof ep, cases[i].in);
        cr_assert_eq(rc, cases[i].out ? 0 : -1, "%s", cases[i].in);
        if (cases[i].out)
            cr_assert_str_eq(ep, cases[i].out);
    }
    char small[8];
    cr_assert_eq(net_endpoint(small, sizeof small, "host:9333"), -1, "an endpoint overflowed");
}

typedef struct {
    int inbound, outbound;
    uint32_t last_slot;
} calls_t;

static void on_in(void *ctx) { ((calls_t *)ctx)->inbound++; }

static void on_out(void *ctx, uint32_t slot)
{
    calls_t *c = ctx;
    c->outbound++;
    c->last_slot = slot;
}

typedef struct {
    char dir[256], listen[300];
    void *zctx;
    reactor_t *r;
    net_t *net;
    calls_t calls;
} fixture_t;

static void fixture_open(fixture_t *f, size_t reactor_io)
{
    memset(f, 0, sizeof *f);
    tb_tmpdir(f->dir);
    snprintf(f->listen, sizeof f->listen, "ipc://%s/p2p", f->dir);
    f->zctx = zmq_ctx_new();
    f->r = reactor_new(reactor_io, 0);
    net_handlers_t h = {&f->calls, on_in, on_out};
    err_t e;
    cr_assert_eq(net_open(&f->net, f->zctx, f->r, &h, f->listen, 4, &e), 0, "%s", e.message);
}

static void fixture_close(fixture_t *f)
{
    net_close(&f->net);
    cr_assert_null(f->net);
    reactor_destroy(&f->r);
    zmq_ctx_term(f->zctx);
    tb_rmdir(f->dir);
}

/* Passes of the loop until *count moves (5 s at most). */
static void pass_until(fixture_t *f, const int *count, int from)
{
    err_t e;
    uint64_t until = clock_ms() + 5000;
    while (*count == from && clock_ms() < until)
        cr_assert_eq(reactor_once(f->r, 10, &e), 0, "%s", e.message);
    cr_assert_neq(*count, from, "no callback within 5 s");
}

static void *socket_on(fixture_t *f, int type, const char *endpoint, bool bind)
{
    void *s = zmq_socket(f->zctx, type);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint), 0);
    return s;
}

Test(net, an_inbound_peer_is_heard_and_answered_on_its_routing_id)
{
    fixture_t f;
    fixture_open(&f, NET_REACTOR_IO(4));
    void *peer = socket_on(&f, ZMQ_DEALER, f.listen, false);
    cr_assert_eq(zmq_send(peer, "hello", 5, 0), 5);
    net_msg_t m;
    uint64_t until = clock_ms() + 5000;
    int got = 0;
    while (!got && clock_ms() < until) {
        pass_until(&f, &f.calls.inbound, f.calls.inbound);
        got = net_recv_in(f.net, &m);
    }
    cr_assert(got, "the ROUTER never delivered");
    cr_assert_eq(zmq_msg_size(&m.payload), 5);
    cr_assert_not(m.malformed);
    cr_assert_gt(m.rid_len, 0);
    cr_assert_eq(net_send_in(f.net, m.rid, m.rid_len, "back", 4), NET_OK);
    char buf[8];
    cr_assert_eq(zmq_recv(peer, buf, sizeof buf, 0), 4);
    /* a message of two frames is marked for the caller to score */
    cr_assert_eq(zmq_send(peer, "a", 1, ZMQ_SNDMORE), 1);
    cr_assert_eq(zmq_send(peer, "b", 1, 0), 1);
    net_msg_close(&m);
    got = 0;
    while (!got && clock_ms() < until) {
        pass_until(&f, &f.calls.inbound, f.calls.inbound);
        got = net_recv_in(f.net, &m);
    }
    cr_assert(got && m.malformed, "two frames passed as one message");
    net_msg_close(&m);
    /* an unknown routing id is gone, not an error */
    cr_assert_eq(net_send_in(f.net, (const uint8_t *)"nobody", 6, "x", 1), NET_GONE);
    zmq_close(peer);
    fixture_close(&f);
}

Test(net, an_outbound_dealer_lives_until_its_hangup)
{
    fixture_t f;
    fixture_open(&f, NET_REACTOR_IO(4));
    char ep[300];
    snprintf(ep, sizeof ep, "ipc://%s/other", f.dir);
    void *other = socket_on(&f, ZMQ_ROUTER, ep, true);
    err_t e;
    cr_assert_eq(net_dial(f.net, 2, ep, &e), 0, "%s", e.message);
    cr_assert(net_dialled(f.net, 2));
    cr_assert_not(net_dialled(f.net, 1));
    /* the monitor reports the connection, on slot 2 */
    pass_until(&f, &f.calls.outbound, 0);
    cr_assert_eq(f.calls.last_slot, 2);
    net_event_t ev;
    bool connected = false;
    while (net_event_out(f.net, 2, &ev))
        connected |= ev.event == ZMQ_EVENT_CONNECTED;
    cr_assert(connected, "no CONNECTED event");
    cr_assert_eq(net_send_out(f.net, 2, "ping", 4), NET_OK);
    uint8_t rid[256], buf[8];
    int rid_len = zmq_recv(other, rid, sizeof rid, 0);
    cr_assert_gt(rid_len, 0);
    cr_assert_eq(zmq_recv(other, buf, sizeof buf, 0), 4);
    cr_assert_eq(zmq_send(other, rid, (size_t)rid_len, ZMQ_SNDMORE), rid_len);
    cr_assert_eq(zmq_send(other, "pong", 4, 0), 4);
    net_msg_t m;
    int got = 0;
    uint64_t until = clock_ms() + 5000;
    while (!got && clock_ms() < until) {
        pass_until(&f, &f.calls.outbound, f.calls.outbound);
        got = net_recv_out(f.net, 2, &m);
    }
    cr_assert(got, "the DEALER never delivered");
    net_msg_close(&m);
    /* after the hangup nothing of slot 2 is polled (a closed socket in the
     * poll set would fail the pass) nor sent */
    net_hangup(f.net, 2);
    cr_assert_not(net_dialled(f.net, 2));
    cr_assert_eq(net_send_out(f.net, 2, "x", 1), NET_GONE);
    int before = f.calls.outbound;
    for (int i = 0; i < 5; i++)
        cr_assert_eq(reactor_once(f.r, 5, &e), 0, "%s", e.message);
    cr_assert_eq(f.calls.outbound, before, "a hung-up slot called back");
    zmq_close(other);
    fixture_close(&f);
}

Test(net, a_full_reactor_refuses_a_dial)
{
    fixture_t f;
    fixture_open(&f, NET_REACTOR_IO(0)); /* room for the ROUTER alone */
    err_t e;
    cr_assert_lt(net_dial(f.net, 0, "ipc:///nonexistent/x", &e), 0);
    cr_assert_not_null(strstr(e.message, "no room"), "%s", e.message);
    cr_assert_not(net_dialled(f.net, 0), "a refused dial left its socket");
    fixture_close(&f);
}
