#include "conncap.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "log.h"

#define MONITOR_HWM 65536 /* events the reader's side holds (~8 MB at most) */
#define BATCH 4096        /* accepts read before the cap is enforced */
#define POLL_MS 250       /* how soon a stop is seen if MONITOR_STOPPED is lost */
#define EVENTS                                                                             \
    (ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |              \
     ZMQ_EVENT_MONITOR_STOPPED)

enum { FD_FREE, FD_LIVE, FD_KICKED };

struct conncap {
    void *pair;
    const char *name;
    unsigned cap;
    uint16_t port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock; /* st and state */
    conncap_stats_t st;
    unsigned pending; /* kicked, not yet closed by ZeroMQ */
    uint8_t state[CONNCAP_FDS];
    int recent[BATCH]; /* the batch's accepts, oldest first */
};

/* The port of sock's tcp:// endpoint (tcp://HOST:PORT, HOST maybe [v6]). */
static int endpoint_port(void *sock, uint16_t *port)
{
    char ep[256];
    size_t len = sizeof ep;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &len) < 0 || strncmp(ep, "tcp://", 6) != 0)
        return -1;
    const char *colon = strrchr(ep, ':');
    unsigned p;
    if (!colon || sscanf(colon + 1, "%u", &p) != 1 || p == 0 || p > 65535)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

/* Whether fd is still a TCP socket on our port (not a number reused since). */
static bool ours(int fd, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return false;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port) == port;
    return ss.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == port;
}

/* One event: 1 with *event and *value, 0 when none waits. */
static int read_event(conncap_t *c, uint16_t *event, int32_t *value)
{
    zmq_msg_t head;
    zmq_msg_init(&head);
    if (zmq_msg_recv(&head, c->pair, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&head);
        return 0;
    }
    *event = 0;
    *value = -1;
    /* frame 1: the event (16 bits) and its value (32 bits); frame 2: the endpoint */
    if (zmq_msg_size(&head) >= 6) {
        memcpy(event, zmq_msg_data(&head), sizeof *event);
        memcpy(value, (const uint8_t *)zmq_msg_data(&head) + 2, sizeof *value);
    }
    while (zmq_msg_more(&head)) {
        zmq_msg_close(&head);
        zmq_msg_init(&head);
        if (zmq_msg_recv(&head, c->pair, 0) < 0)
            break;
    }
    zmq_msg_close(&head);
    return 1;
}

static bool tracked(int32_t fd) { return fd >= 0 && fd < CONNCAP_FDS; }

/* Counts one event (under the lock). */
static void account(conncap_t *c, uint16_t event, int32_t fd)
{
    if (event == ZMQ_EVENT_ACCEPTED) {
        c->st.accepted++;
        if (tracked(fd) && c->state[fd] != FD_FREE) { /* its DISCONNECTED was lost */
            if (c->state[fd] == FD_LIVE)
                c->st.live--;
            else
                c->pending--;
        }
        if (tracked(fd))
            c->state[fd] = FD_LIVE;
        c->st.live++;
        if (c->st.live + c->pending > c->st.peak)
            c->st.peak = c->st.live + c->pending;
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
        c->st.disconnected++;
        if (tracked(fd) && c->state[fd] == FD_LIVE)
            c->st.live--;
        else if (tracked(fd) && c->state[fd] == FD_KICKED)
            c->pending--;
        else if (!tracked(fd) && c->st.live)
            c->st.live--;
        if (tracked(fd))
            c->state[fd] = FD_FREE;
    } else if (event != ZMQ_EVENT_MONITOR_STOPPED) {
        c->st.handshake_failed++;
    }
}

/* Shuts the newest of the batch's accepts while more than cap are live
 * (under the lock). */
static void enforce(conncap_t *c, int n)
{
    unsigned kicked = 0;
    for (int i = n; c->cap && c->st.live > c->cap && i-- > 0;) {
        int fd = c->recent[i];
        if (!tracked(fd) || c->state[fd] != FD_LIVE || !ours(fd, c->port))
            continue;
        shutdown(fd, SHUT_RDWR);
        /* its descriptor stays open until ZeroMQ closes it */
        c->state[fd] = FD_KICKED;
        c->st.live--;
        c->pending++;
        c->st.kicked++;
        kicked++;
    }
    if (kicked)
        log_limited(LOG_WARN, c, "%s: over its cap of %u connections: the %u newest shut down",
                    c->name, c->cap, kicked);
}

static void *run(void *arg)
{
    conncap_t *c = arg;
    bool stopped = false;
    while (!stopped && !atomic_load(&c->stop)) {
        zmq_pollitem_t it = {c->pair, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, POLL_MS) <= 0)
            continue;
        uint16_t event;
        int32_t value;
        int n = 0;
        pthread_mutex_lock(&c->lock);
        /* everything queued first, so that the live set is as fresh as it can be */
        while (n < BATCH && !stopped && read_event(c, &event, &value)) {
            account(c, event, value);
            if (event == ZMQ_EVENT_ACCEPTED)
                c->recent[n++] = value;
            stopped = event == ZMQ_EVENT_MONITOR_STOPPED;
        }
        enforce(c, n);
        pthread_mutex_unlock(&c->lock);
    }
    return NULL;
}

int conncap_start(conncap_t **out, void *zctx, void *sock, unsigned cap, const char *name,
                  err_t *e)
{
    *out = NULL;
    conncap_t *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, ERR_INTERNAL, "out of memory");
    c->cap = cap;
    c->name = name;
    atomic_init(&c->stop, false);
    if (endpoint_port(sock, &c->port) < 0) {
        free(c);
        return err_set(e, ERR_INTERNAL, "%s: a connection cap needs a tcp:// endpoint", name);
    }
    /* inproc names are per context, and a stopped monitor's may linger */
    static atomic_uint serial;
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://conncap-%s-%u", name, atomic_fetch_add(&serial, 1));
    int hwm = MONITOR_HWM, linger = 0;
    if (zmq_socket_monitor(sock, ep, EVENTS) < 0) {
        free(c);
        return err_set(e, ERR_INTERNAL, "%s: cannot monitor the socket: %s", name,
                       zmq_strerror(zmq_errno()));
    }
    c->pair = zmq_socket(zctx, ZMQ_PAIR);
    if (!c->pair || zmq_setsockopt(c->pair, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(c->pair, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_connect(c->pair, ep) < 0 || pthread_mutex_init(&c->lock, NULL) != 0) {
        err_set(e, ERR_INTERNAL, "%s: cannot read the socket's monitor: %s", name,
                zmq_strerror(zmq_errno()));
        zmq_socket_monitor(sock, NULL, 0);
        if (c->pair)
            zmq_close(c->pair);
        free(c);
        return -(int)ERR_INTERNAL;
    }
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        zmq_socket_monitor(sock, NULL, 0);
        zmq_close(c->pair);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return err_set(e, ERR_INTERNAL, "%s: cannot start the connection cap's thread", name);
    }
    *out = c;
    return 0;
}

void conncap_stop(conncap_t **cp, void *sock)
{
    conncap_t *c = *cp;
    if (!c)
        return;
    /* the thread keeps draining while libzmq stops the monitor (its last
     * event, MONITOR_STOPPED, ends the thread; the flag if that is lost) */
    zmq_socket_monitor(sock, NULL, 0);
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    zmq_close(c->pair);
    pthread_mutex_destroy(&c->lock);
    free(c);
    *cp = NULL;
}

void conncap_stats(conncap_t *c, conncap_stats_t *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}
