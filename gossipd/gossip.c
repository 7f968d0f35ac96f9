#include "gossip.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "clock.h"
#include "gossip_state.h"
#include "hex.h"
#include "log.h"
#include "netgroup.h"

#define BUDGET_ROUTER 1000 /* messages read from a socket per pass */
#define BUDGET_DEALER 256

gossip_t *gossip_enter(void *arg)
{
    gossip_t *g = arg;
    g->now_ms = clock_ms();
    return g;
}

/* --- transport: what arrives on the peer sockets ------------------------------- */

/* The inbound slots are full: a peer goes for a newcomer whose first words
 * are a hello (anything else is not worth a peer), when eviction finds one. */
static bool make_room(gossip_t *g, bool hello)
{
    peer_t *victim = hello ? conn_evict_pick(g) : NULL;
    if (!victim)
        return false;
    g->conn.counts.evicted++;
    conn_close(g, victim, "evicted for a newcomer: the inbound slots are full", true);
    return true;
}

/* A new routing id's first message: the peer it starts, or NULL when it was
 * answered (a probe) or refused without a word. */
static peer_t *admit(gossip_t *g, const uint8_t *rid, size_t rid_len, int fd, const char *ip,
                     const uint8_t *data, size_t len, bool malformed)
{
    uint64_t seq = 0;
    /* what a peer we closed had queued: its connection is not ours to end
     * again (its descriptor may name another's by now) */
    if (rid_len > PEER_RID_MAX || conn_rid_closed(g, rid, rid_len))
        return NULL;
    if (fd >= 0 && !net_conn_find(g->net, fd, ip, &seq))
        return NULL; /* refused or shut down already, or ended: not heard */
    peer_t *owner = fd >= 0 ? peer_find_conn(&g->pt, fd, seq) : NULL;
    if (owner) {
        /* two routing ids on one connection: one spoke on a connection that
         * ended, its descriptor since reused, and nothing tells which (a
         * routing id is the peer's to choose). Neither keeps it. */
        conn_close(g, owner, "its connection is in doubt", false);
        net_conn_ready(g->net, fd, seq, false);
        return NULL;
    }
    if (!netgroup_local(ip) && peer_banned(&g->pt, ip, clock_unix())) {
        net_kick(g->net, fd, seq);
        return NULL;
    }
    proto_peer_msg_t m;
    bool known = !malformed && proto_decode_peer(&m, g->cfg.params->name, data, len, NULL) == 0;
    if (known && m.type == PROTO_MSG_PROBE) {
        handshake_answer_probe(g, rid, rid_len, &m);
        conn_rid_close(g, rid, rid_len); /* it hangs up; nothing more is heard from it */
        return NULL;
    }
    peer_t *p = NULL;
    if (g->pt.n_inbound < g->pt.max_inbound || make_room(g, known && m.type == PROTO_MSG_HELLO))
        p = peer_alloc(&g->pt, true, g->now_ms, HANDSHAKE_TIMEOUT_MS);
    if (!p) {
        g->conn.counts.refused++;
        net_kick(g->net, fd, seq);
        return NULL;
    }
    memcpy(p->rid, rid, rid_len);
    p->rid_len = rid_len;
    p->fd = fd;
    p->conn_seq = seq;
    snprintf(p->ip, sizeof p->ip, "%s", ip);
    char group[NETGROUP_MAX];
    if (!netgroup_local(ip)) { /* a local peer's group waits for its verified address */
        netgroup_of(ip, group);
        snprintf(p->group, sizeof p->group, "%s", group);
    }
    return p;
}

static void on_inbound(gossip_t *g, const uint8_t *rid, size_t rid_len, int fd, const char *ip,
                       const uint8_t *data, size_t len, bool malformed)
{
    peer_t *p = peer_find_rid(&g->pt, rid, rid_len);
    if (!p && !(p = admit(g, rid, rid_len, fd, ip, data, len, malformed)))
        return;
    handlers_handle(g, p, data, len, malformed);
    conn_reap(g, p);
}

void gossip_inject(gossip_t *g, const uint8_t *rid, size_t rid_len, int fd, const char *ip,
                   const uint8_t *data, size_t len)
{
    gossip_enter(g);
    on_inbound(g, rid, rid_len, fd, ip ? ip : "", data, len, false);
}

const peer_table_t *gossip_peers(const gossip_t *g) { return &g->pt; }

/* The inbound connections that ended: their peers go. */
static void read_ends(gossip_t *g)
{
    net_event_t ev;
    for (int i = 0; i < NET_ENDS_MAX && net_event_in(g->net, &ev); i++) {
        peer_t *p = peer_find_conn(&g->pt, ev.value, ev.seq);
        if (p)
            conn_close(g, p, "the connection closed", false);
    }
}

static void read_router(void *arg)
{
    gossip_t *g = gossip_enter(arg);
    read_ends(g); /* first: an end is seen before what a later connection says */
    net_msg_t m;
    for (int i = 0; i < BUDGET_ROUTER && net_recv_in(g->net, &m); i++) {
        on_inbound(g, m.rid, m.rid_len, m.fd, m.ip, zmq_msg_data(&m.payload),
                   zmq_msg_size(&m.payload), m.malformed);
        net_msg_close(&m);
    }
}

static void read_dealer(void *arg, uint32_t slot)
{
    gossip_t *g = gossip_enter(arg);
    if (slot >= g->pt.cap) {
        handshake_probe_read(g, (int)(slot - g->pt.cap));
        return;
    }
    peer_t *p = &g->pt.peers[slot];
    net_event_t ev;
    while (p->state != PEER_FREE && net_event_out(g->net, slot, &ev)) {
        if (ev.event == ZMQ_EVENT_DISCONNECTED || ev.event == ZMQ_EVENT_CLOSED ||
            ev.event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
            ev.event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
            conn_close(g, p, ev.event == ZMQ_EVENT_CLOSED ? "connection refused"
                                                          : "the connection closed", false);
            return;
        }
    }
    net_msg_t m;
    for (int i = 0; i < BUDGET_DEALER && p->state != PEER_FREE && net_recv_out(g->net, slot, &m);
         i++) {
        handlers_handle(g, p, zmq_msg_data(&m.payload), zmq_msg_size(&m.payload), m.malformed);
        net_msg_close(&m);
        conn_reap(g, p);
    }
}

/* --- the loop ------------------------------------------------------------------- */

/* Work that follows any batch of input, and runs at least every
 * HOUSEKEEPING_TICK_MS: the download's next steps, the peers handlers
 * doomed, the announcements due, the caller's tick. */
static void after_pass(void *arg)
{
    gossip_t *g = gossip_enter(arg);
    read_ends(g);
    sync_pump(g->sync, g->now_ms);
    conn_reap_all(g);
    conn_flush_due(g);
    conn_reap_all(g);
    if (g->tick)
        g->tick(g->tick_ctx);
}

void gossip_run(gossip_t *g, volatile sig_atomic_t *stop, void (*tick)(void *ctx), void *ctx)
{
    err_t e;
    g->tick = tick;
    g->tick_ctx = ctx;
    upstream_request_tip(gossip_enter(g));
    if (reactor_run(g->reactor, stop, &e) < 0)
        LOGERR("%s", e.message);
}

int gossip_once(gossip_t *g, long max_wait_ms)
{
    err_t e;
    return reactor_once(g->reactor, max_wait_ms, &e) < 0 ? -1 : 0;
}

/* --- open and close ---------------------------------------------------------------- */

static int make_dirs(const char *path, err_t *e)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return err_set(e, ERR_INTERNAL, "data directory path too long");
    for (char *s = buf + 1;; s++) {
        char c = *s;
        if (c == '/' || c == '\0') {
            *s = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return err_set(e, ERR_INTERNAL, "cannot create %s: %s", buf, strerror(errno));
            *s = c;
        }
        if (c == '\0')
            return 0;
    }
}

static void add_seeds(gossip_t *g, const char *seeds)
{
    const char *s = seeds ? seeds : "";
    while (*s) {
        size_t len = strcspn(s, ",");
        char seed[ADDRBOOK_ADDR_MAX + 2];
        if (len > 0 && len <= ADDRBOOK_ADDR_MAX) {
            memcpy(seed, s, len);
            seed[len] = '\0';
            if (addrbook_add(g->ab, seed, ADDR_SEED, g->now_ms) < 0)
                LOGWARN("--peer %s is not a dialable host:port: ignored", seed);
        }
        s += len + (s[len] == ',');
    }
}

/* Every module and concern, the sockets registered; -1 with e. */
static int open_parts(gossip_t *g, err_t *e)
{
    const gossip_config_t *cfg = &g->cfg;
    size_t cap = g->pt.cap;
    sync_ops_t ops = handlers_sync_ops(g);
    g->reactor = reactor_new(NET_REACTOR_IO(cfg->max_outbound + PROBE_MAX) + CLIENT_REACTOR_IO,
                             HOUSEKEEPING_TIMERS + 1 /* conn's flush */ +
                                 CLIENT_REACTOR_TIMERS);
    g->ab = addrbook_new(g->hs.advertise);
    g->relay = relay_new(cap);
    g->sync = sync_new(cap, cfg->params, &ops);
    g->zctx = zmq_ctx_new();
    if (!g->reactor || !g->ab || !g->relay || !g->sync || !g->zctx ||
        conn_init(&g->conn, cap) < 0 || handlers_init(&g->msgs) < 0 || upstream_init(&g->up, cap) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory");
    net_handlers_t nh = {g, read_router, read_dealer};
    client_handlers_t ch = upstream_handlers(g);
    const char *topics[PROTO_TOPIC_COUNT + 1];
    upstream_topics(topics);
    net_inbound_t in = {cfg->max_inbound + HANDSHAKE_SPARE_CONNS, cfg->max_per_group};
    /* a slot a peer, then one a dial-back (the peer table's cap + probe_t's slot) */
    int rc = net_open(&g->net, g->zctx, g->reactor, &nh, cfg->listen, cap + PROBE_MAX, &in, e);
    if (rc == 0)
        rc = client_open(&g->client, g->zctx, g->reactor, &ch, cfg->rpc, cfg->events, topics,
                         cfg->rpc_key, cfg->rpc_key_path, e);
    if (rc == 0 && housekeeping_start(g, cfg->datadir) < 0)
        rc = err_set(e, ERR_INTERNAL, "the event loop has no room for the timers");
    if (rc == 0 && (rc = addrbook_load(g->ab, g->house.peers_path, g->now_ms, e)) == 0)
        rc = peer_bans_load(&g->pt, g->house.bans_path, clock_unix(), e);
    reactor_on_pass(g->reactor, after_pass, g, HOUSEKEEPING_TICK_MS);
    return rc;
}

int gossip_open(gossip_t **out, const gossip_config_t *cfg, err_t *e)
{
    *out = NULL;
    if (cfg->max_per_group == 0)
        return err_set(e, ERR_INTERNAL, "max_per_group must be at least 1");
    gossip_t *g = calloc(1, sizeof *g);
    if (!g)
        return err_set(e, ERR_INTERNAL, "out of memory");
    g->cfg = *cfg;
    g->now_ms = clock_ms();
    if (handshake_init(&g->hs, cfg->advertise, g->now_ms) < 0 ||
        RAND_bytes(g->conn.evict_key, EVICT_KEY_LEN) != 1) {
        free(g);
        return err_set(e, ERR_INTERNAL, "no randomness for the node id");
    }
    int rc = make_dirs(cfg->datadir, e);
    if (rc == 0 && peer_table_init(&g->pt, cfg->max_inbound, cfg->max_outbound) < 0)
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    if (rc < 0) {
        free(g);
        return rc;
    }
    if ((rc = open_parts(g, e)) < 0) {
        gossip_close(&g);
        return rc;
    }
    size_t known = addrbook_count(g->ab);
    add_seeds(g, cfg->seeds);
    char idhex[2 * PEER_ID_LEN + 1];
    hex_encode(idhex, g->hs.node_id, PEER_ID_LEN);
    LOGINFO("node %s listening on %s (advertised as \"%s\"), %zu known peer address(es), "
            "%zu ban(s)", idhex, cfg->listen, g->hs.advertise, known, g->pt.n_bans);
    *out = g;
    return 0;
}

void gossip_close(gossip_t **gp)
{
    gossip_t *g = *gp;
    if (!g)
        return;
    if (g->ab && g->pt.peers && g->house.peers_path[0])
        housekeeping_save(g);
    net_close(&g->net);
    client_close(&g->client);
    if (g->zctx)
        zmq_ctx_term(g->zctx);
    sync_destroy(&g->sync);
    relay_destroy(&g->relay);
    addrbook_destroy(&g->ab);
    peer_table_free(&g->pt);
    conn_free(&g->conn);
    handlers_free(&g->msgs);
    upstream_free(&g->up);
    reactor_destroy(&g->reactor);
    free(g);
    *gp = NULL;
}
