#include "net.h"

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "conntab.h"
#include "proto.h"
#include "zmqopt.h"

typedef struct dealer {
    void *sock, *mon;
    int sock_id, mon_id; /* reactor registrations */
    struct net *net;
    uint32_t slot;
} dealer_t;

/* What the ROUTER's monitor thread and the loop share, under lock. */
typedef struct {
    pthread_mutex_t lock;
    void *mon;  /* the monitor's PAIR: read by whoever holds the lock */
    conntab_t conns;
    conntab_ref_t *ends; /* ring of NET_ENDS_MAX ended connections, for the loop */
    size_t ends_head, ends_n;
    uint64_t ends_lost;
} inbound_t;

struct net {
    void *zctx;
    reactor_t *reactor;
    net_handlers_t h;
    void *router;
    int router_id;
    dealer_t *dealers;
    size_t n_slots;
    /* the listen address, to tell our connections from reused descriptors */
    int family; /* AF_INET6 (tcp, dual-stack) or AF_UNIX */
    unsigned port;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    inbound_t in;
    bool locked_init, thread_started;
    pthread_t thread;
    atomic_bool stop;
    int mon_fd; /* ZMQ_FD of the monitor's PAIR: readable when events may wait */
};

static int set_peer_options(void *s, bool router, err_t *e)
{
    zmqopt_t o = {.sndhwm = NET_HWM, .rcvhwm = NET_HWM, .max_msg = PROTO_MAX_MSG,
                  .heartbeat_ivl_ms = NET_HEARTBEAT_IVL_MS,
                  .heartbeat_timeout_ms = NET_HEARTBEAT_TIMEOUT_MS,
                  .heartbeat_ttl_ms = NET_HEARTBEAT_TIMEOUT_MS,
                  .handshake_ivl_ms = NET_HANDSHAKE_MS,
                  /* a DEALER is one connection's life (net.h): it never reconnects */
                  .reconnect_ivl_ms = router ? 0 : -1, .ipv6 = true,
                  /* a send to a peer that left fails (EHOSTUNREACH) instead of vanishing */
                  .router_mandatory = router};
    return zmqopt_apply(s, &o, e);
}

static const int monitored = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED |
                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
/* a failed handshake ends in DISCONNECTED too: the two say it all */
static const int router_monitored = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED;

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

/* --- inbound connections: the ROUTER's monitor ---------------------------------- */

/* An address as peers are named by: an IPv4-mapped IPv6 address (the socket
 * is dual-stack) in its IPv4 form. */
static void ip_text(const char *ip, char out[64])
{
    if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.'))
        ip += 7;
    snprintf(out, 64, "%s", ip);
}

/* The remote IP of a connected descriptor; "" when it has none (ipc://, gone). */
static void remote_ip(int fd, char out[64])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char text[INET6_ADDRSTRLEN] = "";
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text, sizeof text);
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text, sizeof text);
    }
    ip_text(text, out);
}

/* Whether fd is a connection to our listen address: ZeroMQ closes a
 * descriptor when its connection ends, and the number may be reused
 * (by anything) before we hear of that end. */
static bool ours(const net_t *n, int fd)
{
    struct sockaddr_storage ss, peer;
    socklen_t len = sizeof ss, plen = sizeof peer;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
        getpeername(fd, (struct sockaddr *)&peer, &plen) < 0) /* a listener has no peer */
        return false;
    if (ss.ss_family == AF_UNIX)
        return n->family == AF_UNIX &&
               strncmp(((struct sockaddr_un *)&ss)->sun_path, n->path, sizeof n->path) == 0;
    unsigned port = ss.ss_family == AF_INET    ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                    : ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                               : 0;
    return n->family != AF_UNIX && port == n->port;
}

static void shut(const net_t *n, int fd)
{
    if (ours(n, fd))
        (void)shutdown(fd, SHUT_RDWR);
}

/* The loop hears of every held connection that ended; when it lags by
 * NET_ENDS_MAX, the oldest are lost (their peers time out instead). */
static void push_end(inbound_t *in, conntab_ref_t ref)
{
    if (in->ends_n == NET_ENDS_MAX) {
        in->ends_head = (in->ends_head + 1) % NET_ENDS_MAX;
        in->ends_n--;
        in->ends_lost++;
    }
    in->ends[(in->ends_head + in->ends_n++) % NET_ENDS_MAX] = ref;
}

static void on_accepted(net_t *n, int fd)
{
    inbound_t *in = &n->in;
    conntab_ref_t ref;
    char ip[64], group[NETGROUP_MAX] = "";
    uint64_t seq;
    if (conntab_closed(&in->conns, fd, &ref)) /* its end was never reported */
        push_end(in, ref);
    remote_ip(fd, ip);
    if (!netgroup_local(ip))
        netgroup_of(ip, group);
    switch (conntab_accept(&in->conns, fd, ip, group, &seq, &ref)) {
    case CONNTAB_REFUSE:
        shut(n, fd);
        break;
    case CONNTAB_EVICT:
        shut(n, ref.fd);
        push_end(in, ref);
        break;
    case CONNTAB_ADMIT:
        break;
    }
}

/* Everything the monitor holds, acted on. The caller holds the lock. The
 * queue holds ZMQOPT_MONITOR_HWM at most, and nothing fills it as fast as
 * this empties it: the bound is never met. */
static void drain(net_t *n)
{
    uint16_t event;
    int32_t fd;
    conntab_ref_t ref;
    for (int i = 0; i < 2 * ZMQOPT_MONITOR_HWM && zmqopt_monitor_read(n->in.mon, &event, &fd);
         i++) {
        if (event == ZMQ_EVENT_ACCEPTED)
            on_accepted(n, fd);
        else if (event == ZMQ_EVENT_DISCONNECTED && conntab_closed(&n->in.conns, fd, &ref))
            push_end(&n->in, ref);
    }
}

static void *monitor_thread(void *arg)
{
    net_t *n = arg;
    struct pollfd pfd = {n->mon_fd, POLLIN, 0};
    while (!atomic_load(&n->stop)) {
        int events = 0;
        size_t len = sizeof events;
        pthread_mutex_lock(&n->in.lock);
        drain(n);
        /* ZMQ_FD is edge-triggered: ZMQ_EVENTS re-arms it, and says whether
         * an event came meanwhile */
        (void)zmq_getsockopt(n->in.mon, ZMQ_EVENTS, &events, &len);
        pthread_mutex_unlock(&n->in.lock);
        /* the loop may take what woke us: the wait is bounded too */
        if (!(events & ZMQ_POLLIN))
            (void)poll(&pfd, 1, NET_MONITOR_POLL_MS);
    }
    return NULL;
}

/* Where the ROUTER listens, once bound: the kick checks descriptors against it. */
static int note_listen(net_t *n, err_t *e)
{
    char ep[NET_ENDPOINT_MAX + 16];
    size_t len = sizeof ep;
    if (zmq_getsockopt(n->router, ZMQ_LAST_ENDPOINT, ep, &len) < 0)
        return err_set(e, ERR_INTERNAL, "cannot read the listen endpoint: %s",
                       zmq_strerror(zmq_errno()));
    if (strncmp(ep, "ipc://", 6) == 0) {
        size_t plen = strlen(ep + 6);
        if (plen >= sizeof n->path) /* the bind would have failed */
            return err_set(e, ERR_INTERNAL, "the listen path is too long: %s", ep);
        n->family = AF_UNIX;
        memcpy(n->path, ep + 6, plen + 1);
    } else {
        const char *colon = strrchr(ep, ':');
        n->family = AF_INET6;
        n->port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
    }
    return 0;
}

/* The monitor, its table and its thread, once the ROUTER is bound. */
static int open_inbound(net_t *n, const net_inbound_t *lim, err_t *e)
{
    inbound_t *in = &n->in;
    size_t fd_len = sizeof n->mon_fd;
    if (pthread_mutex_init(&in->lock, NULL) != 0)
        return err_set(e, ERR_INTERNAL, "cannot create a lock");
    n->locked_init = true;
    in->ends = calloc(NET_ENDS_MAX, sizeof *in->ends);
    if (!in->ends || conntab_init(&in->conns, lim->max_conns, lim->per_group) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory");
    if (!(in->mon = zmqopt_monitor(n->zctx, n->router, router_monitored, e)))
        return -(int)e->code;
    if (zmq_getsockopt(in->mon, ZMQ_FD, &n->mon_fd, &fd_len) < 0)
        return err_set(e, ERR_INTERNAL, "cannot poll the peer socket's monitor: %s",
                       zmq_strerror(zmq_errno()));
    if (pthread_create(&n->thread, NULL, monitor_thread, n) != 0)
        return err_set(e, ERR_INTERNAL, "cannot start the peer socket's monitor thread");
    n->thread_started = true;
    return 0;
}

static void close_inbound(net_t *n)
{
    inbound_t *in = &n->in;
    /* stopping the monitor waits for libzmq's io thread, which may wait for
     * the reader: the thread reads on until it is stopped */
    if (in->mon)
        zmq_socket_monitor(n->router, NULL, 0);
    if (n->thread_started) {
        atomic_store(&n->stop, true);
        pthread_join(n->thread, NULL);
    }
    zmqopt_monitor_close(NULL, in->mon);
    in->mon = NULL;
    conntab_free(&in->conns);
    free(in->ends);
    in->ends = NULL;
    if (n->locked_init)
        pthread_mutex_destroy(&in->lock);
}

int net_open(net_t **out, void *zctx, reactor_t *reactor, const net_handlers_t *h,
             const char *listen_endpoint, size_t n_slots, const net_inbound_t *in, err_t *e)
{
    *out = NULL;
    net_t *n = calloc(1, sizeof *n);
    if (!n)
        return err_set(e, ERR_INTERNAL, "out of memory");
    n->zctx = zctx;
    n->reactor = reactor;
    n->h = *h;
    n->n_slots = n_slots;
    n->router_id = -1;
    n->dealers = calloc(n_slots ? n_slots : 1, sizeof *n->dealers);
    n->router = zmq_socket(zctx, ZMQ_ROUTER);
    int rc = !n->dealers || !n->router ? err_set(e, ERR_INTERNAL, "cannot create the peer socket")
                                       : 0;
    for (size_t i = 0; rc == 0 && i < n_slots; i++)
        n->dealers[i] = (dealer_t){.sock_id = -1, .mon_id = -1, .net = n, .slot = (uint32_t)i};
    if (rc == 0)
        rc = set_peer_options(n->router, true, e);
    if (rc == 0)
        rc = watch(n, n->router, on_router, n, &n->router_id, e);
    /* monitored before it binds: no connection goes unseen */
    if (rc == 0)
        rc = open_inbound(n, in, e);
    if (rc == 0 && zmq_bind(n->router, listen_endpoint) < 0)
        rc = err_set(e, ERR_INTERNAL, "cannot listen on %s: %s", listen_endpoint,
                     zmq_strerror(zmq_errno()));
    if (rc == 0)
        rc = note_listen(n, e);
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
    reactor_remove(n->reactor, n->router_id);
    close_inbound(n);
    if (n->router)
        zmq_close(n->router);
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
    /* an ipc:// peer's Peer-Address names its process, not a host: local */
    const char *ip = n->family == AF_UNIX ? NULL : zmq_msg_gets(&m->payload, "Peer-Address");
    if (ip)
        ip_text(ip, m->ip);
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

int net_event_in(net_t *n, net_event_t *ev)
{
    inbound_t *in = &n->in;
    pthread_mutex_lock(&in->lock);
    drain(n);
    int got = in->ends_n > 0;
    if (got) {
        conntab_ref_t ref = in->ends[in->ends_head];
        in->ends_head = (in->ends_head + 1) % NET_ENDS_MAX;
        in->ends_n--;
        *ev = (net_event_t){ZMQ_EVENT_DISCONNECTED, ref.fd, ref.seq};
    }
    pthread_mutex_unlock(&in->lock);
    return got;
}

int net_event_out(net_t *n, uint32_t slot, net_event_t *ev)
{
    return read_event(n->dealers[slot].mon, ev);
}

bool net_conn_find(net_t *n, int fd, const char *ip, uint64_t *seq)
{
    pthread_mutex_lock(&n->in.lock);
    drain(n); /* what the monitor said before this message came */
    bool found = conntab_find(&n->in.conns, fd, ip, seq);
    pthread_mutex_unlock(&n->in.lock);
    return found;
}

void net_conn_ready(net_t *n, int fd, uint64_t seq, bool ready)
{
    pthread_mutex_lock(&n->in.lock);
    (void)conntab_ready(&n->in.conns, (conntab_ref_t){fd, seq}, ready);
    pthread_mutex_unlock(&n->in.lock);
}

void net_stats(net_t *n, net_stats_t *st)
{
    pthread_mutex_lock(&n->in.lock);
    const conntab_t *t = &n->in.conns;
    *st = (net_stats_t){t->st.accepted, t->st.refused, t->st.evicted, t->n, n->in.ends_lost};
    pthread_mutex_unlock(&n->in.lock);
}

void net_kick(net_t *n, int fd, uint64_t seq)
{
    pthread_mutex_lock(&n->in.lock);
    if (conntab_remove(&n->in.conns, (conntab_ref_t){fd, seq}))
        shut(n, fd);
    pthread_mutex_unlock(&n->in.lock);
}
