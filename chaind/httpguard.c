#include "httpguard.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

typedef enum { PHASE_HEAD, PHASE_BODY, PHASE_DRAIN, PHASE_SERVE } phase_t;

typedef struct gconn {
    struct gconn *prev, *next;
    httpguard_t *g;
    int fd;
    phase_t phase;
    uint64_t since_ms; /* when the phase began */
    uint64_t bytes;    /* of the body so far */
    bool cut;          /* shut down already */
} gconn_t;

struct httpguard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t sweeper;
    bool stop;
    gconn_t *conns;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The rule k breaks at now, or NULL. */
static const char *broken_rule(const gconn_t *k, uint64_t now)
{
    uint64_t age = now - k->since_ms;
    switch (k->phase) {
    case PHASE_HEAD:
        return age > HTTPGUARD_HEAD_MS ? "its request head took over 10 s" : NULL;
    case PHASE_BODY:
        return age > HTTPGUARD_BODY_GRACE_MS && k->bytes * 1000 < HTTPGUARD_BODY_MIN_RATE * age
                   ? "its body came slower than 4096 bytes a second"
                   : NULL;
    case PHASE_DRAIN:
        return age > HTTPGUARD_DRAIN_MS ? "its refused body ran on past 5 s" : NULL;
    default:
        return NULL;
    }
}

static void sweep(httpguard_t *g)
{
    uint64_t now = now_ms();
    for (gconn_t *k = g->conns; k; k = k->next) {
        const char *why = k->cut ? NULL : broken_rule(k, now);
        if (!why)
            continue;
        k->cut = true;
        /* SHUT_RDWR, never close(): the descriptor stays MHD's */
        shutdown(k->fd, SHUT_RDWR);
        log_limited(LOG_INFO, why, "http: a connection closed: %s", why);
    }
}

static void *sweeper(void *arg)
{
    httpguard_t *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)HTTPGUARD_SWEEP_MS * 1000000;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        if (!g->stop)
            sweep(g);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

int httpguard_new(httpguard_t **out, err_t *e)
{
    *out = NULL;
    httpguard_t *g = calloc(1, sizeof *g);
    if (!g)
        return err_set(e, ERR_INTERNAL, "out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->sweeper, NULL, sweeper, g) != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return err_set(e, ERR_INTERNAL, "cannot start the HTTP guard's thread");
    }
    *out = g;
    return 0;
}

void httpguard_free(httpguard_t **gp)
{
    httpguard_t *g = gp ? *gp : NULL;
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->sweeper, NULL);
    while (g->conns) { /* none once MHD has stopped; freed all the same */
        gconn_t *k = g->conns;
        g->conns = k->next;
        free(k);
    }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
    *gp = NULL;
}

static void follow(httpguard_t *g, struct MHD_Connection *c, void **socket_context)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    gconn_t *k = ci ? calloc(1, sizeof *k) : NULL;
    if (!k) {
        log_limited(LOG_WARN, "httpguard-oom", "http: a connection is not guarded (no memory)");
        return;
    }
    k->g = g;
    k->fd = ci->connect_fd;
    k->phase = PHASE_HEAD;
    k->since_ms = now_ms();
    pthread_mutex_lock(&g->lock);
    k->next = g->conns;
    if (g->conns)
        g->conns->prev = k;
    g->conns = k;
    pthread_mutex_unlock(&g->lock);
    *socket_context = k;
}

void httpguard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    httpguard_t *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        follow(g, c, socket_context);
        return;
    }
    gconn_t *k = *socket_context;
    if (!k)
        return;
    pthread_mutex_lock(&g->lock);
    if (k->prev)
        k->prev->next = k->next;
    else
        g->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    pthread_mutex_unlock(&g->lock);
    free(k);
    *socket_context = NULL;
}

/* Moves c's record to phase (restarting its clock when restart), adding
 * bytes to its body. */
static void update(struct MHD_Connection *c, int phase, bool restart, uint64_t bytes)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    gconn_t *k = ci ? ci->socket_context : NULL;
    if (!k)
        return;
    pthread_mutex_lock(&k->g->lock);
    if (phase >= 0 && (phase_t)phase != k->phase) {
        k->phase = (phase_t)phase;
        restart = true;
    }
    if (restart) {
        k->since_ms = now_ms();
        k->bytes = 0;
    }
    k->bytes += bytes;
    pthread_mutex_unlock(&k->g->lock);
}

void httpguard_head_done(struct MHD_Connection *c, int has_body)
{
    update(c, has_body ? PHASE_BODY : PHASE_SERVE, true, 0);
}

void httpguard_body(struct MHD_Connection *c, uint64_t bytes) { update(c, -1, false, bytes); }
void httpguard_draining(struct MHD_Connection *c) { update(c, PHASE_DRAIN, false, 0); }
void httpguard_body_done(struct MHD_Connection *c) { update(c, PHASE_SERVE, false, 0); }
void httpguard_request_done(struct MHD_Connection *c) { update(c, PHASE_HEAD, true, 0); }
