#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proto.h"
#include "zmqopt.h"

typedef struct dealer {
    void *sock, *mon;
    int sock_id, mon_id; /* reactor registrations */
    struct net *net;
    uint32_t slot;
} dealer_t;

struct net {
    void *zctx;
    reactor_t *reactor;
    net_handlers_t h;
    void *router, *router_mon;
    int router_id, router_mon_id;
    dealer_t *dealers;
    size_t n_slots;
};

static int set_peer_options(void *s, bool router, err_t *e)
{
    zmqopt_t o = {.sndhwm = NET_HWM, .rcvhwm = NET_HWM, .max_msg = PROTO_MAX_MSG,
                  .heartbeat_ivl_ms = NET_HEARTBEAT_IVL_MS,
                  .heartbeat_timeout_ms = NET_HEARTBEAT_TIMEOUT_MS,
                  .heartbeat_ttl_ms = NET_HEARTBEAT_TIMEOUT_MS,
                  /* a DEALER is one connection's life (net.h): it never reconnects */
                  .reconnect_ivl_ms = router ? 0 : -1, .ipv6 = true,
                  /* a send to a peer that left fails (EHOSTUNREACH) instead of vanishing */
                  .router_mandatory = router};
    return zmqopt_apply(s, &o, e);
}

static const int monitored = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                             ZMQ_EVENT_CLOSED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;

static void on_router(void *arg)
{
    net_t *n = arg;
    n->h.inbound(n->h.ctx);
}

static void on_dealer(void *arg)
{
    dealer_t *d = arg;
    d->net->h.outbound(d->net->h.ctx, d->slot);
}

/* Registers a socket; -1 with e when the reactor is full (a bound of the caller's). */
static int watch(net_t *n, void *sock, reactor_fn fn, void *arg, int *id, err_t *e)
{
    *id = reactor_add_socket(n->reactor, sock, fn, arg);
    return *id < 0 ? err_set(e, ERR_INTERNAL, "the event loop has no room for a peer socket") : 0;
}

int net_open(net_t **out, void *zctx, reactor_t *reactor, const net_handlers_t *h,
             const char *listen_endpoint, size_t n_slots, err_t *e)
{
    *out = NULL;
    net_t *n = calloc(1, sizeof *n);
    if (!n)
        return err_set(e, ERR_INTERNAL, "out of memory");
    n->zctx = zctx;
    n->reactor = reactor;
    n->h = *h;
    n->n_slots = n_slots;
    n->router_id = n->router_mon_id = -1;
    n->dealers = calloc(n_slots ? n_slots : 1, sizeof *n->dealers);
    n->router = zmq_socket(zctx, ZMQ_ROUTER);
    int rc = !n->dealers || !n->router ? err_set(e, ERR_INTERNAL, "cannot create the peer socket")
                                       : 0;
    for (size_t i = 0; rc == 0 && i < n_slots; i++)
        n->dealers[i] = (dealer_t){.sock_id = -1, .mon_id = -1, .net = n, .slot = (uint32_t)i};
    if (rc == 0)
        rc = set_peer_options(n->router, true, e);
    if (rc == 0 && !(n->router_mon = zmqopt_monitor(zctx, n->router, monitored, e)))
        rc = -(int)e->code;
    /* the monitor first: a disconnect is seen before what follows it */
    if (rc == 0)
        rc = watch(n, n->router_mon, on_router, n, &n->router_mon_id, e);
    if (rc == 0)
        rc = watch(n, n->router, on_router, n, &n->router_id, e);
    if (rc == 0 && zmq_bind(n->router, listen_endpoint) < 0)
        rc = err_set(e, ERR_INTERNAL, "cannot listen on %s: %s", listen_endpoint,
                     zmq_strerror(zmq_errno()));
    if (rc < 0) {
        net_close(&n);
        return rc;
    }
    *out = n;
    return 0;
}

static void close_monitored(net_t *n, void *sock, int *sock_id, void *mon, int *mon_id)
{
    reactor_remove(n->reactor, *sock_id);
    reactor_remove(n->reactor, *mon_id);
    *sock_id = *mon_id = -1;
    zmqopt_monitor_close(sock, mon);
    if (sock)
        zmq_close(sock);
}

void net_close(net_t **np)
{
    net_t *n = *np;
    if (!n)
        return;
    for (size_t i = 0; n->dealers && i < n->n_slots; i++)
        net_hangup(n, (uint32_t)i);
    close_monitored(n, n->router, &n->router_id, n->router_mon, &n->router_mon_id);
    free(n->dealers);
    free(n);
    *np = NULL;
}

int net_endpoint(char *out, size_t cap, const char *addr)
{
    int len;
    if (strncmp(addr, "tcp://", 6) == 0 || strncmp(addr, "ipc://", 6) == 0)
        len = snprintf(out, cap, "%s", addr);
    else if (strstr(addr, "://"))
        return -1;
    else
        len = snprintf(out, cap, "tcp://%s", addr);
    return len < 0 || (size_t)len >= cap ? -1 : 0;
}

int net_dial(net_t *n, uint32_t slot, const char *endpoint, err_t *e)
{
    net_hangup(n, slot);
    dealer_t *d = &n->dealers[slot];
    d->sock = zmq_socket(n->zctx, ZMQ_DEALER);
    if (!d->sock)
        return err_set(e, ERR_INTERNAL, "cannot create a socket: %s", zmq_strerror(zmq_errno()));
    int rc = set_peer_options(d->sock, false, e);
    if (rc == 0 && !(d->mon = zmqopt_monitor(n->zctx, d->sock, monitored, e)))
        rc = -(int)e->code;
    if (rc == 0)
        rc = watch(n, d->mon, on_dealer, d, &d->mon_id, e);
    if (rc == 0)
        rc = watch(n, d->sock, on_dealer, d, &d->sock_id, e);
    if (rc == 0 && zmq_connect(d->sock, endpoint) < 0)
        rc = err_set(e, ERR_INTERNAL, "cannot connect to %s: %s", endpoint,
                     zmq_strerror(zmq_errno()));
    if (rc < 0)
        net_hangup(n, slot);
    return rc;
}

void net_hangup(net_t *n, uint32_t slot)
{
    dealer_t *d = &n->dealers[slot];
    close_monitored(n, d->sock, &d->sock_id, d->mon, &d->mon_id);
    d->sock = d->mon = NULL;
}

bool net_dialled(const net_t *n, uint32_t slot) { return n->dealers[slot].sock != NULL; }

static int send_result(void)
{
    return zmq_errno() == EAGAIN ? NET_FULL : NET_GONE;
}

int net_send_in(net_t *n, const uint8_t *rid, size_t rid_len, const void *data, size_t len)
{
    if (zmq_send(n->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return send_result();
    /* the routing frame went: the payload follows into the same pipe */
    if (zmq_send(n->router, data, len, ZMQ_DONTWAIT) < 0)
        return send_result();
    return NET_OK;
}

int net_send_out(net_t *n, uint32_t slot, const void *data, size_t len)
{
    void *s = n->dealers[slot].sock;
    if (!s)
        return NET_GONE;
    return zmq_send(s, data, len, ZMQ_DONTWAIT) < 0 ? send_result() : NET_OK;
}

int net_recv_in(net_t *n, net_msg_t *m)
{
    zmq_msg_t rid;
    zmq_msg_init(&rid);
    if (zmq_msg_recv(&rid, n->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rid);
        return 0;
    }
    memset(m, 0, sizeof *m);
    m->fd = -1;
    m->rid_len = zmq_msg_size(&rid) < sizeof m->rid ? zmq_msg_size(&rid) : sizeof m->rid;
    memcpy(m->rid, zmq_msg_data(&rid), m->rid_len);
    bool more = zmq_msg_more(&rid);
    zmq_msg_close(&rid);
    zmq_msg_init(&m->payload);
    if (!more || zmq_msg_recv(&m->payload, n->router, ZMQ_DONTWAIT) < 0) {
        m->malformed = true;
        return 1;
    }
    m->fd = zmq_msg_get(&m->payload, ZMQ_SRCFD);
    const char *ip = zmq_msg_gets(&m->payload, "Peer-Address");
    /* the socket is dual-stack (ZMQ_IPV6): an IPv4 peer shows as ::ffff:a.b.c.d */
    if (ip && strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.'))
        ip += 7;
    if (ip)
        snprintf(m->ip, sizeof m->ip, "%s", ip);
    if (zmq_msg_more(&m->payload)) {
        m->malformed = true;
        zmqopt_drain(n->router, &m->payload);
    }
    return 1;
}

int net_recv_out(net_t *n, uint32_t slot, net_msg_t *m)
{
    void *s = n->dealers[slot].sock;
    if (!s)
        return 0;
    memset(m, 0, sizeof *m);
    m->fd = -1;
    zmq_msg_init(&m->payload);
    if (zmq_msg_recv(&m->payload, s, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m->payload);
        return 0;
    }
    if (zmq_msg_more(&m->payload)) {
        m->malformed = true;
        zmqopt_drain(s, &m->payload);
    }
    return 1;
}

void net_msg_close(net_msg_t *m) { zmq_msg_close(&m->payload); }

static int read_event(void *mon, net_event_t *ev)
{
    return zmqopt_monitor_read(mon, &ev->event, &ev->value);
}

int net_event_in(net_t *n, net_event_t *ev) { return read_event(n->router_mon, ev); }

int net_event_out(net_t *n, uint32_t slot, net_event_t *ev)
{
    return read_event(n->dealers[slot].mon, ev);
}

void net_kick(int fd)
{
    if (fd >= 0)
        (void)shutdown(fd, SHUT_RDWR);
}
