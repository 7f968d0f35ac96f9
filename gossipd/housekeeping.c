#include "housekeeping.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "gossip_state.h"
#include "log.h"
#include "gossip_metrics.h"

/* --- dialling ------------------------------------------------------------------ */

static bool skip_dial(void *ctx, const addrbook_entry_t *x)
{
    gossip_t *g = ctx;
    return peer_banned(&g->pt, x->addr, clock_unix()) ||
           (x->have_id && handshake_known_node(g, x->node_id));
}

static void on_dial(void *arg)
{
    gossip_t *g = gossip_enter(arg);
    handshake_probe_due(g);
    while (g->pt.n_outbound < g->pt.max_outbound) {
        const char *addr = addrbook_next_dial(g->ab, g->now_ms, skip_dial, g);
        if (!addr)
            return;
        char ep[NET_ENDPOINT_MAX];
        err_t e;
        peer_t *p = peer_alloc(&g->pt, false, g->now_ms, HANDSHAKE_TIMEOUT_MS);
        if (!p)
            return;
        peer_set_addr(p, addr);
        if (net_endpoint(ep, sizeof ep, addr) < 0 ||
            net_dial(g->net, peer_slot(&g->pt, p), ep, &e) < 0) {
            conn_close(g, p, "cannot dial", false);
            continue;
        }
        LOGDEBUG("dialling %s", addr);
        handshake_send_hello(g, p); /* queued until the connection is up */
    }
}

void housekeeping_dial_soon(gossip_t *g) { reactor_timer_sooner(g->reactor, g->house.dial_timer, 0); }

/* --- the tick ------------------------------------------------------------------- */

static void ping(gossip_t *g, peer_t *p)
{
    p->last_ping_ms = g->now_ms;
    p->ping_out = true;
    if (RAND_bytes((unsigned char *)&p->ping_nonce, sizeof p->ping_nonce) != 1)
        p->ping_nonce = g->now_ms;
    mp_buf_t *b = conn_begin(g, PROTO_MSG_PING);
    mp_put_cstr(b, "nonce");
    mp_put_uint(b, p->ping_nonce);
    conn_send(g, p);
}

static void ping_and_expire(gossip_t *g)
{
    for (size_t i = 0; i < g->pt.cap; i++) {
        peer_t *p = &g->pt.peers[i];
        if (p->state == PEER_FREE)
            continue;
        if (p->state != PEER_READY && g->now_ms >= p->deadline_ms)
            conn_doom(p, PEER_CLOSE, "no hello in time");
        else if (p->state == PEER_READY && g->now_ms - p->last_recv_ms >= HOUSEKEEPING_SILENCE_MS)
            conn_doom(p, PEER_CLOSE, "silent too long");
        else if (p->state == PEER_READY && g->now_ms - p->last_ping_ms >= HOUSEKEEPING_PING_MS)
            ping(g, p);
        conn_reap(g, p);
    }
}

static void on_tick(void *arg)
{
    gossip_t *g = gossip_enter(arg);
    client_result_t r;
    while (client_expired(g->client, g->now_ms, &r))
        upstream_on_result(g, &r);
    relay_expire(g->relay, g->now_ms);
    peer_bans_expire(&g->pt, clock_unix());
    handshake_probe_expire(g);
    ping_and_expire(g);
    upstream_flush_marks(g);
    gmetrics_tick(g);
}

/* --- chaind, files, the log ------------------------------------------------------ */

static void on_tip_check(void *arg) { upstream_request_tip(gossip_enter(arg)); }

static void on_report(void *arg) { upstream_report_peers(gossip_enter(arg)); }

/* A one-shot timer re-armed each time at a random point of [¾, 1¼] of the
 * interval. */
static int arm_rebroadcast(gossip_t *g);

static void on_rebroadcast(void *arg)
{
    gossip_t *g = gossip_enter(arg);
    upstream_rebroadcast(g);
    if (arm_rebroadcast(g) < 0)
        LOGERR("the rebroadcast timer could not be set again: no rebroadcast from now on");
}

static int arm_rebroadcast(gossip_t *g)
{
    uint64_t mean = g->cfg.rebroadcast_ms ? g->cfg.rebroadcast_ms : GOSSIP_REBROADCAST_MS;
    uint32_t r = 0;
    (void)RAND_bytes((unsigned char *)&r, sizeof r); /* jitter only: 0 on failure is fine */
    uint64_t delay = mean - mean / 4 + r % (mean / 2 + 1);
    return reactor_timer(g->reactor, delay, 0, on_rebroadcast, g) < 0 ? -1 : 0;
}

void housekeeping_report_soon(gossip_t *g)
{
    reactor_timer_sooner(g->reactor, g->house.report_timer, HOUSEKEEPING_REPORT_SOON_MS);
}

void housekeeping_save(gossip_t *g)
{
    err_t e;
    if (addrbook_save(g->ab, g->house.peers_path, &e) < 0)
        LOGWARN("%s", e.message);
    if (peer_bans_save(&g->pt, g->house.bans_path, &e) < 0)
        LOGWARN("%s", e.message);
}

static void on_save(void *arg) { housekeeping_save(gossip_enter(arg)); }

/* What the inbound limits did since the last line; nothing when nothing. */
static void inbound_status(gossip_t *g)
{
    net_stats_t st;
    net_stats(g->net, &st);
    const conn_state_t *c = &g->conn;
    uint64_t now[HOUSEKEEPING_INBOUND_COUNTS] = {st.refused,         st.evicted,
                                                 c->counts.evicted,  c->counts.refused,
                                                 c->counts.banned,   c->counts.dropped,
                                                 st.ends_lost};
    uint64_t *seen = g->house.inbound_seen, d[HOUSEKEEPING_INBOUND_COUNTS];
    if (memcmp(now, seen, sizeof now) == 0)
        return;
    for (int i = 0; i < HOUSEKEEPING_INBOUND_COUNTS; i++)
        d[i] = now[i] - seen[i];
    LOGINFO("inbound: %zu connections, %zu peers; lately %" PRIu64 " connections refused and %"
            PRIu64 " evicted before a hello, %" PRIu64 " peers evicted, %" PRIu64
            " newcomers refused, %" PRIu64 " peers banned, %" PRIu64 " dropped unbannable, %"
            PRIu64 " ends unheard", st.open, g->pt.n_inbound, d[0], d[1], d[2], d[3], d[4], d[5],
            d[6]);
    memcpy(seen, now, sizeof now);
}

static void on_status(void *arg)
{
    gossip_t *g = gossip_enter(arg);
    inbound_status(g);
    sync_stats_t st;
    sync_stats(g->sync, &st);
    if (!st.session && st.queued + st.inflight + st.held + st.submitting == 0)
        return;
    uint64_t h = 0;
    hash32_t tip;
    char height[32] = "unknown (rebuilding)";
    if (sync_view_tip(sync_view(g->sync), &h, &tip))
        snprintf(height, sizeof height, "%" PRIu64, h);
    LOGINFO("sync: height %s, %zu queued, %zu asked for, %zu held (%zu kB), "
            "%zu with chaind, %" PRIu64 " done", height, st.queued, st.inflight, st.held,
            st.buffered_bytes / 1024, st.submitting, st.blocks_done);
}

int housekeeping_start(gossip_t *g, const char *datadir)
{
    housekeeping_state_t *h = &g->house;
    snprintf(h->peers_path, sizeof h->peers_path, "%s/peers.txt", datadir);
    snprintf(h->bans_path, sizeof h->bans_path, "%s/bans.txt", datadir);
    /* in the order the loop ran them before each was a timer: all due at once */
    h->dial_timer = reactor_timer(g->reactor, 0, HOUSEKEEPING_DIAL_MS, on_dial, g);
    int tick = reactor_timer(g->reactor, 0, HOUSEKEEPING_TICK_MS, on_tick, g);
    int tip = reactor_timer(g->reactor, 0, HOUSEKEEPING_TIP_CHECK_MS, on_tip_check, g);
    h->report_timer = reactor_timer(g->reactor, 0, HOUSEKEEPING_REPORT_MS, on_report, g);
    int save = reactor_timer(g->reactor, 0, HOUSEKEEPING_SAVE_MS, on_save, g);
    int status = reactor_timer(g->reactor, 0, HOUSEKEEPING_STATUS_MS, on_status, g);
    int rebroadcast = arm_rebroadcast(g);
    return h->dial_timer < 0 || tick < 0 || tip < 0 || h->report_timer < 0 || save < 0 ||
                   status < 0 || rebroadcast < 0
               ? -1
               : 0;
}
