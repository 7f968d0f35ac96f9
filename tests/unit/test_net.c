/* net.h: endpoints; an inbound peer's message and the reply on its routing
 * id; an outbound DEALER that connects, sends and hears back; the reactor
 * calling back for each socket while it lives and never after a hangup; the
 * bound on the registrations net takes; the bound on inbound connections,
 * the kick of one connection and of nothing else; and a flood of
 * connections while the loop reads nothing, which must not stop ZeroMQ. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
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

static void fixture_open_with(fixture_t *f, size_t reactor_io, size_t max_conns)
{
    memset(f, 0, sizeof *f);
    tb_tmpdir(f->dir);
    snprintf(f->listen, sizeof f->listen, "ipc://%s/p2p", f->dir);
    f->zctx = zmq_ctx_new();
    f->r = reactor_new(reactor_io, 0);
    net_handlers_t h = {&f->calls, on_in, on_out};
    net_inbound_t in = {max_conns, 8};
    err_t e;
    cr_assert_eq(net_open(&f->net, f->zctx, f->r, &h, f->listen, 4, &in, &e), 0, "%s",
                 e.message);
}

static void fixture_open(fixture_t *f, size_t reactor_io) { fixture_open_with(f, reactor_io, 64); }

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

/* A ROUTER of the test's own, bound at ep (ipc://DIR/other). */
static void *other_router(fixture_t *f, char ep[300])
{
    snprintf(ep, 300, "ipc://%s/other", f->dir);
    return socket_on(f, ZMQ_ROUTER, ep, true);
}

Test(net, an_outbound_dealer_lives_until_its_hangup)
{
    fixture_t f;
    fixture_open(&f, NET_REACTOR_IO(4));
    char ep[300];
    void *other = other_router(&f, ep);
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

/* The descriptor and accept order of the inbound connection whose message
 * arrives next. */
static void next_conn(fixture_t *f, int *fd, uint64_t *seq)
{
    net_msg_t m;
    uint64_t until = clock_ms() + 5000;
    int got = 0;
    while (!got && clock_ms() < until) {
        err_t e;
        cr_assert_eq(reactor_once(f->r, 10, &e), 0, "%s", e.message);
        got = net_recv_in(f->net, &m);
    }
    cr_assert(got, "no message within 5 s");
    *fd = m.fd;
    net_msg_close(&m);
    cr_assert(net_conn_find(f->net, *fd, "", seq), "the connection of a message is not held");
}

/* Waits for the end of (fd, seq) to be reported. */
static void expect_end(fixture_t *f, int fd, uint64_t seq)
{
    net_event_t ev;
    uint64_t until = clock_ms() + 5000;
    while (clock_ms() < until) {
        while (net_event_in(f->net, &ev))
            if (ev.value == fd && ev.seq == seq)
                return;
        err_t e;
        cr_assert_eq(reactor_once(f->r, 10, &e), 0, "%s", e.message);
    }
    cr_assert_fail("the end of connection %llu was not reported", (unsigned long long)seq);
}

Test(net, connections_past_the_bound_evict_the_oldest_not_ready)
{
    fixture_t f;
    fixture_open_with(&f, NET_REACTOR_IO(4), 2);
    void *a = socket_on(&f, ZMQ_DEALER, f.listen, false);
    cr_assert_eq(zmq_send(a, "a", 1, 0), 1);
    int fa, fb;
    uint64_t sa, sb;
    next_conn(&f, &fa, &sa);
    net_conn_ready(f.net, fa, sa, true); /* a completed its handshake: kept */
    void *b = socket_on(&f, ZMQ_DEALER, f.listen, false);
    cr_assert_eq(zmq_send(b, "b", 1, 0), 1);
    next_conn(&f, &fb, &sb);
    cr_assert_gt(sb, sa);
    /* a third: the table holds two, so b (not ready) makes room */
    void *c = socket_on(&f, ZMQ_DEALER, f.listen, false);
    cr_assert_eq(zmq_send(c, "c", 1, 0), 1);
    expect_end(&f, fb, sb);
    uint64_t seq;
    cr_assert(net_conn_find(f.net, fa, "", &seq) && seq == sa, "a ready connection was evicted");
    net_stats_t st;
    net_stats(f.net, &st);
    cr_assert_eq(st.evicted, 1);
    cr_assert_eq(st.open, 2);
    /* a kick of a connection no longer held does nothing; of a held one, ends it */
    net_kick(f.net, fb, sb);
    net_kick(f.net, fa, sa + 1000);
    cr_assert(net_conn_find(f.net, fa, "", &seq), "a kick of another seq ended a connection");
    net_kick(f.net, fa, sa);
    cr_assert_not(net_conn_find(f.net, fa, "", &seq));
    zmq_close(a);
    zmq_close(b);
    zmq_close(c);
    fixture_close(&f);
}

Test(net, a_kick_spares_a_descriptor_that_is_not_our_connection)
{
    fixture_t f;
    fixture_open(&f, NET_REACTOR_IO(4));
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    void *a = socket_on(&f, ZMQ_DEALER, f.listen, false);
    cr_assert_eq(zmq_send(a, "a", 1, 0), 1);
    int fd;
    uint64_t seq;
    next_conn(&f, &fd, &seq);
    /* as if ZeroMQ had closed the connection and the number now named a
     * socket of another's: the kick must leave it open (the swap lasts
     * microseconds, and the connection is quiet meanwhile) */
    int saved = dup(fd);
    cr_assert_geq(saved, 0);
    cr_assert_eq(dup2(sv[0], fd), fd);
    net_kick(f.net, fd, seq);
    ssize_t sent = send(sv[1], "x", 1, MSG_NOSIGNAL), got = recv(fd, &(char){0}, 1, MSG_DONTWAIT);
    cr_assert_eq(dup2(saved, fd), fd);
    cr_assert(sent == 1 && got == 1, "the kick shut a socket that was not ours");
    close(saved);
    close(sv[0]);
    close(sv[1]);
    zmq_close(a);
    fixture_close(&f);
}

/* Connects to the ipc listen path and hangs up at once, n times (waiting
 * while the listen queue is full, 15 s at most); how many it made. */
static int connect_and_drop(const fixture_t *f, int n)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->listen + 6);
    int made = 0;
    uint64_t until = clock_ms() + 15000;
    while (made < n && clock_ms() < until) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        cr_assert_geq(s, 0);
        if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0)
            made++;
        else
            nanosleep(&(struct timespec){0, 1000000}, NULL); /* the queue is full */
        close(s);
    }
    return made;
}

/* libzmq blocks its io thread on a full monitor queue: if only the loop
 * read the monitor, a flood of connections while the loop is busy would
 * stop every socket of the context. */
Test(net, a_flood_of_connections_while_the_loop_is_busy_stops_nothing)
{
    fixture_t f;
    fixture_open(&f, NET_REACTOR_IO(4));
    char ep[300];
    void *router = other_router(&f, ep);
    void *dealer = socket_on(&f, ZMQ_DEALER, ep, false);
    /* the loop makes no pass from here on: past ~2 000 unread events a
     * monitor read by the loop alone would stop libzmq's io thread */
    int made = connect_and_drop(&f, 3000);
    cr_assert_eq(made, 3000, "only %d connections made in 15 s: the io thread stopped", made);
    cr_assert_eq(zmq_send(dealer, "still", 5, 0), 5);
    zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&it, 1, 3000), 1, "ZeroMQ stopped while the loop was busy");
    net_stats_t st;
    net_stats(f.net, &st);
    cr_assert_geq(st.accepted, 2000, "the monitor was not read (%llu accepted)",
                  (unsigned long long)st.accepted);
    zmq_close(dealer);
    zmq_close(router);
    fixture_close(&f);
}
