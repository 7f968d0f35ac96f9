#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proto.h"

typedef struct {
    void *sock, *mon;
} dealer_t;

struct net {
    void *zctx;
    void *router, *router_mon;
    dealer_t *dealers;
    size_t n_slots;
    unsigned monitors; /* makes each monitor's inproc name unique */
};

static void set_peer_options(void *s)
{
    int hwm = NET_HWM, linger = 0, one = 1;
    int ivl = NET_HEARTBEAT_IVL_MS, timeout = NET_HEARTBEAT_TIMEOUT_MS;
    int64_t max = PROTO_MAX_MSG;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_IPV6, &one, sizeof one);
}

/* A PAIR reading sock's monitor events on a fresh inproc endpoint. */
static void *monitor(net_t *n, void *sock)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://gossipd-monitor-%u", n->monitors++);
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                 ZMQ_EVENT_CLOSED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
    if (zmq_socket_monitor(sock, ep, events) < 0)
        return NULL;
    void *pair = zmq_socket(n->zctx, ZMQ_PAIR);
    if (pair && zmq_connect(pair, ep) < 0) {
        zmq_close(pair);
        pair = NULL;
    }
    if (!pair)
        zmq_socket_monitor(sock, NULL, 0);
    return pair;
}

int net_open(net_t **out, void *zctx, const char *listen_endpoint, size_t n_slots, err_t *e)
{
    *out = NULL;
    net_t *n = calloc(1, sizeof *n);
    if (!n)
        return err_set(e, ERR_INTERNAL, "out of memory");
    n->zctx = zctx;
    n->n_slots = n_slots;
    n->dealers = calloc(n_slots ? n_slots : 1, sizeof *n->dealers);
    n->router = zmq_socket(zctx, ZMQ_ROUTER);
    if (!n->dealers || !n->router) {
        net_close(&n);
        return err_set(e, ERR_INTERNAL, "cannot create the peer socket");
    }
    set_peer_options(n->router);
    /* a send to a peer that left fails (EHOSTUNREACH) instead of vanishing */
    int one = 1;
    zmq_setsockopt(n->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    n->router_mon = monitor(n, n->router);
    if (!n->router_mon) {
        net_close(&n);
        return err_set(e, ERR_INTERNAL, "cannot monitor the peer socket");
    }
    if (zmq_bind(n->router, listen_endpoint) < 0) {
        int rc = err_set(e, ERR_INTERNAL, "cannot listen on %s: %s", listen_endpoint,
                         zmq_strerror(zmq_errno()));
        net_close(&n);
        return rc;
    }
    *out = n;
    return 0;
}

static void close_monitored(void *sock, void *mon)
{
    if (sock) {
        if (mon)
            zmq_socket_monitor(sock, NULL, 0);
        zmq_close(sock);
    }
    if (mon)
        zmq_close(mon);
}

void net_close(net_t **np)
{
    net_t *n = *np;
    if (!n)
        return;
    for (size_t i = 0; n->dealers && i < n->n_slots; i++)
        net_hangup(n, (uint32_t)i);
    close_monitored(n->router, n->router_mon);
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
    set_peer_options(d->sock);
    int never = -1; /* one DEALER, one connection: see net.h */
    zmq_setsockopt(d->sock, ZMQ_RECONNECT_IVL, &never, sizeof never);
    d->mon = monitor(n, d->sock);
    if (!d->mon || zmq_connect(d->sock, endpoint) < 0) {
        int rc = err_set(e, ERR_INTERNAL, "cannot connect to %s: %s", endpoint,
                         zmq_strerror(zmq_errno()));
        net_hangup(n, slot);
        return rc;
    }
    return 0;
}

void net_hangup(net_t *n, uint32_t slot)
{
    dealer_t *d = &n->dealers[slot];
    close_monitored(d->sock, d->mon);
    d->sock = d->mon = NULL;
}

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

/* Reads the rest of a message whose frames do not fit the protocol. */
static void drain(void *sock, zmq_msg_t *last)
{
    while (zmq_msg_more(last)) {
        zmq_msg_close(last);
        zmq_msg_init(last);
        if (zmq_msg_recv(last, sock, ZMQ_DONTWAIT) < 0)
            break;
    }
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
        drain(n->router, &m->payload);
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
        drain(s, &m->payload);
    }
    return 1;
}

void net_msg_close(net_msg_t *m) { zmq_msg_close(&m->payload); }

static int read_event(void *mon, net_event_t *ev)
{
    if (!mon)
        return 0;
    zmq_msg_t head, addr;
    zmq_msg_init(&head);
    if (zmq_msg_recv(&head, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&head);
        return 0;
    }
    /* frame 1: event (16 bits) and value (32 bits); frame 2: the endpoint */
    int ok = zmq_msg_size(&head) >= 6;
    if (ok) {
        const uint8_t *d = zmq_msg_data(&head);
        memcpy(&ev->event, d, 2);
        memcpy(&ev->value, d + 2, 4);
    }
    if (zmq_msg_more(&head)) {
        zmq_msg_init(&addr);
        if (zmq_msg_recv(&addr, mon, 0) >= 0)
            drain(mon, &addr);
        zmq_msg_close(&addr);
    }
    zmq_msg_close(&head);
    return ok ? 1 : read_event(mon, ev);
}

int net_event_in(net_t *n, net_event_t *ev) { return read_event(n->router_mon, ev); }

int net_event_out(net_t *n, uint32_t slot, net_event_t *ev)
{
    return read_event(n->dealers[slot].mon, ev);
}

void *net_router(net_t *n) { return n->router; }
void *net_router_monitor(net_t *n) { return n->router_mon; }
void *net_dealer(net_t *n, uint32_t slot) { return n->dealers[slot].sock; }
void *net_dealer_monitor(net_t *n, uint32_t slot) { return n->dealers[slot].mon; }

void net_kick(int fd)
{
    if (fd >= 0)
        (void)shutdown(fd, SHUT_RDWR);
}
