#include "httpguard.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "hmap.h"
#include "log.h"

#define GROUP_KEY_LEN HTTPGUARD_GROUP_KEY_LEN

typedef enum { PHASE_HEAD, PHASE_BODY, PHASE_DRAIN, PHASE_SERVE } phase_t;

typedef struct {
    unsigned conns; /* live connections */
    unsigned heads; /* of them, in PHASE_HEAD and not cut: eviction's candidates */
} group_t;

typedef struct gconn {
    struct gconn *prev, *next;
    httpguard_t *g;
    group_t *group; /* NULL: its address was not known, or memory ran out */
    uint8_t key[GROUP_KEY_LEN];
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
    unsigned live;     /* connections followed */
    unsigned evict_at; /* live count from which a new connection evicts one */
    unsigned max_per_group;
    hmap_t *groups; /* group key -> group_t */
    _Atomic uint64_t cuts[HTTPGUARD_CUTS]; /* read without the lock (every request's) */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const struct {
    const char *name, *why; /* the metric's label, the log line's reason */
} cuts[HTTPGUARD_CUTS] = {
    [HTTPGUARD_CUT_SLOW_HEAD] = {"slow_head", "its request head took over 10 s"},
    [HTTPGUARD_CUT_SLOW_BODY] = {"slow_body", "its body came slower than 4096 bytes a second"},
    [HTTPGUARD_CUT_LONG_DRAIN] = {"long_drain", "its refused body ran on past 5 s"},
    [HTTPGUARD_CUT_OVER_GROUP] = {"over_per_ip", "its address (an IPv6 /64 counts as one) held "
                                                 "too many connections"},
    [HTTPGUARD_CUT_EVICTED] = {"evicted", "slots are short, and its address held the most "
                                          "unfinished request heads"},
};

const char *httpguard_cut_name(httpguard_cut_t why)
{
    return why < HTTPGUARD_CUTS ? cuts[why].name : "?";
}

/* The rule k breaks at now, or HTTPGUARD_CUTS for none. */
static httpguard_cut_t broken_rule(const gconn_t *k, uint64_t now)
{
    uint64_t age = now - k->since_ms;
    switch (k->phase) {
    case PHASE_HEAD:
        return age > HTTPGUARD_HEAD_MS ? HTTPGUARD_CUT_SLOW_HEAD : HTTPGUARD_CUTS;
    case PHASE_BODY:
        return age > HTTPGUARD_BODY_GRACE_MS && k->bytes * 1000 < HTTPGUARD_BODY_MIN_RATE * age
                   ? HTTPGUARD_CUT_SLOW_BODY
                   : HTTPGUARD_CUTS;
    case PHASE_DRAIN:
        return age > HTTPGUARD_DRAIN_MS ? HTTPGUARD_CUT_LONG_DRAIN : HTTPGUARD_CUTS;
    default:
        return HTTPGUARD_CUTS;
    }
}

/* Whether k counts among its group's eviction candidates. */
static bool is_head(const gconn_t *k) { return k->phase == PHASE_HEAD && !k->cut; }

/* Moves k's phase and cut state, keeping its group's head count. */
static void set_state(gconn_t *k, phase_t phase, bool is_cut)
{
    bool was = is_head(k);
    k->phase = phase;
    k->cut = is_cut;
    if (k->group && was && !is_head(k))
        k->group->heads--;
    else if (k->group && !was && is_head(k))
        k->group->heads++;
}

/* Under the lock. */
static void cut(gconn_t *k, httpguard_cut_t why)
{
    set_state(k, k->phase, true);
    atomic_fetch_add_explicit(&k->g->cuts[why], 1, memory_order_relaxed);
    /* SHUT_RDWR, never close(): the descriptor stays MHD's */
    shutdown(k->fd, SHUT_RDWR);
    log_limited(LOG_INFO, cuts[why].name, "http: a connection closed: %s", cuts[why].why);
}

static void sweep(httpguard_t *g)
{
    uint64_t now = now_ms();
    for (gconn_t *k = g->conns; k; k = k->next) {
        httpguard_cut_t why = k->cut ? HTTPGUARD_CUTS : broken_rule(k, now);
        if (why != HTTPGUARD_CUTS)
            cut(k, why);
    }
}

/* Slots are short: evicts the oldest unfinished head of the group holding
 * the most, other than fresh (the connection that just came). Under the
 * lock; at most max_connections records to look through. */
static void evict_one(httpguard_t *g, const gconn_t *fresh)
{
    gconn_t *victim = NULL;
    for (gconn_t *k = g->conns; k; k = k->next) {
        if (k == fresh || !is_head(k) || !k->group)
            continue;
        if (!victim || k->group->heads > victim->group->heads ||
            (k->group->heads == victim->group->heads && k->since_ms < victim->since_ms))
            victim = k;
    }
    if (victim)
        cut(victim, HTTPGUARD_CUT_EVICTED);
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

int httpguard_new(httpguard_t **out, const httpguard_config_t *cfg, err_t *e)
{
    *out = NULL;
    httpguard_t *g = calloc(1, sizeof *g);
    if (g && !(g->groups = hmap_new(GROUP_KEY_LEN))) {
        free(g);
        g = NULL;
    }
    if (!g)
        return err_set(e, ERR_INTERNAL, "out of memory");
    unsigned reserve = cfg->max_connections / HTTPGUARD_RESERVE_DIV;
    g->evict_at = cfg->max_connections - (reserve ? reserve : 1);
    g->max_per_group = cfg->max_per_group;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->sweeper, NULL, sweeper, g) != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        hmap_destroy(&g->groups);
        free(g);
        return err_set(e, ERR_INTERNAL, "cannot start the HTTP guard's thread");
    }
    *out = g;
    return 0;
}

void httpguard_stats(httpguard_t *g, httpguard_stats_t *out)
{
    for (int i = 0; i < HTTPGUARD_CUTS; i++)
        out->cuts[i] = g ? atomic_load_explicit(&g->cuts[i], memory_order_relaxed) : 0;
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
    size_t pos = 0;
    const void *key;
    void *group;
    while (hmap_next(g->groups, &pos, &key, &group))
        free(group);
    hmap_destroy(&g->groups);
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
    *gp = NULL;
}

bool httpguard_group_key(const struct sockaddr *sa, uint8_t key[HTTPGUARD_GROUP_KEY_LEN])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(key, 0, HTTPGUARD_GROUP_KEY_LEN);
    const uint8_t *v4 = NULL;
    if (sa && sa->sa_family == AF_INET) {
        v4 = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa && sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (memcmp(a, mapped, sizeof mapped) != 0) {
            key[0] = 6;
            memcpy(key + 1, a, 8);
            return true;
        }
        v4 = a + 12;
    } else {
        return false;
    }
    key[0] = 4;
    memcpy(key + 1, v4, 4);
    return true;
}

/* The group of key, created when new; NULL when memory runs out. Under the lock. */
static group_t *group_get(httpguard_t *g, const uint8_t key[GROUP_KEY_LEN])
{
    group_t *grp = hmap_get(g->groups, key);
    if (grp)
        return grp;
    if (!(grp = calloc(1, sizeof *grp)))
        return NULL;
    if (hmap_put(g->groups, key, grp) < 0) {
        free(grp);
        return NULL;
    }
    return grp;
}

static void follow(httpguard_t *g, struct MHD_Connection *c, void **socket_context)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    gconn_t *k = ci ? calloc(1, sizeof *k) : NULL;
    if (!k) {
        log_limited(LOG_WARN, "httpguard-oom", "http: a connection is not guarded (no memory)");
        return;
    }
    uint8_t key[GROUP_KEY_LEN];
    k->g = g;
    k->fd = ci->connect_fd;
    k->phase = PHASE_HEAD;
    k->since_ms = now_ms();
    pthread_mutex_lock(&g->lock);
    if (ai && httpguard_group_key(ai->client_addr, key)) {
        memcpy(k->key, key, sizeof key);
        k->group = group_get(g, key);
    }
    k->next = g->conns;
    if (g->conns)
        g->conns->prev = k;
    g->conns = k;
    g->live++;
    if (k->group) {
        k->group->conns++;
        k->group->heads++;
    }
    if (k->group && k->group->conns > g->max_per_group)
        cut(k, HTTPGUARD_CUT_OVER_GROUP);
    else if (g->live > g->evict_at)
        evict_one(g, k);
    pthread_mutex_unlock(&g->lock);
    *socket_context = k;
}

/* Forgets k (MHD closes it). Under the lock. */
static void forget(httpguard_t *g, gconn_t *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        g->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    g->live--;
    set_state(k, k->phase, true); /* out of its group's heads */
    if (k->group) {
        if (--k->group->conns == 0)
            free(hmap_del(g->groups, k->key));
    }
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
    forget(g, k);
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
        set_state(k, (phase_t)phase, k->cut);
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
