#include "gossip_metrics.h"

#include <stdatomic.h>

#include "gossip_state.h"
#include "prom.h"
#include "proto.h"

#define N_TYPES (PROTO_MSG_COUNT + 1) /* the last is "other" */

/* Relay latency: an inv out to its getdata back, over loopback or a WAN. */
static const double RELAY_BOUNDS[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
#define N_RELAY_BOUNDS (sizeof RELAY_BOUNDS / sizeof RELAY_BOUNDS[0])

static struct {
    _Atomic uint64_t msgs[2][N_TYPES], bytes[2][N_TYPES]; /* [0] in, [1] out */
    _Atomic uint64_t bans, peers_in, peers_out, sync_height, sync_lag;
    prom_hist_t relay;
} m = {.relay = {.bounds = RELAY_BOUNDS, .n = N_RELAY_BOUNDS}};

static const char *DIRS[2] = {"in", "out"};

static size_t type_index(int type)
{
    return type >= 0 && type < PROTO_MSG_COUNT ? (size_t)type : PROTO_MSG_COUNT;
}

static void count(size_t d, int type, size_t bytes)
{
    size_t t = type_index(type);
    atomic_fetch_add_explicit(&m.msgs[d][t], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.bytes[d][t], bytes, memory_order_relaxed);
}

void gmetrics_sent(peer_t *p, int type, size_t bytes, uint64_t now_ms)
{
    count(1, type, bytes);
    if (type == PROTO_MSG_INV && p->inv_sent_ms == 0)
        p->inv_sent_ms = now_ms ? now_ms : 1;
}

void gmetrics_received(peer_t *p, int type, size_t bytes, uint64_t now_ms)
{
    count(0, type, bytes);
    if (type != PROTO_MSG_GETDATA || p->inv_sent_ms == 0)
        return;
    uint64_t waited = now_ms > p->inv_sent_ms ? now_ms - p->inv_sent_ms : 0;
    prom_hist_observe(&m.relay, waited * 1000);
    p->inv_sent_ms = 0;
}

void gmetrics_ban(void) { atomic_fetch_add_explicit(&m.bans, 1, memory_order_relaxed); }

void gmetrics_tick(const gossip_t *g)
{
    uint64_t in = 0, out = 0, best = 0, height = 0;
    hash32_t tip;
    for (size_t i = 0; i < g->pt.cap; i++) {
        const peer_t *p = &g->pt.peers[i];
        if (p->state != PEER_READY)
            continue;
        *(p->inbound ? &in : &out) += 1;
        uint64_t h = sync_peer_get_height(g->sync, (uint32_t)i);
        best = h > best ? h : best;
    }
    (void)sync_view_tip(sync_view(g->sync), &height, &tip);
    atomic_store(&m.peers_in, in);
    atomic_store(&m.peers_out, out);
    atomic_store(&m.sync_height, height);
    atomic_store(&m.sync_lag, best > height ? best - height : 0);
}

static const char *type_name(size_t t)
{
    return t < PROTO_MSG_COUNT ? proto_msg_name((proto_msg_t)t) : "other";
}

/* One family labelled by type and direction. */
static void by_type(prom_buf_t *b, const char *name, const char *help,
                    _Atomic uint64_t (*v)[N_TYPES])
{
    prom_header(b, name, "counter", help);
    for (size_t d = 0; d < 2; d++)
        for (size_t t = 0; t < N_TYPES; t++)
            prom_sample2(b, name, "type", type_name(t), "direction", DIRS[d],
                         (double)atomic_load_explicit(&v[d][t], memory_order_relaxed));
}

int gmetrics_render(void *ctx, char **text, size_t *len, err_t *e)
{
    (void)ctx;
    prom_buf_t b;
    prom_buf_init(&b);
    prom_header(&b, "gossip_peers", "gauge", "Peers past their handshake, by direction.");
    prom_sample(&b, "gossip_peers", "direction", "in", (double)atomic_load(&m.peers_in));
    prom_sample(&b, "gossip_peers", "direction", "out", (double)atomic_load(&m.peers_out));
    prom_metric(&b, "gossip_bans_total", "counter", "Peers banned for misbehaviour.",
                (double)atomic_load(&m.bans));
    by_type(&b, "gossip_messages_total", "Peer messages by type and direction.", m.msgs);
    by_type(&b, "gossip_message_bytes_total", "Peer message bytes by type and direction.",
            m.bytes);
    prom_metric(&b, "gossip_sync_height", "gauge", "Height of the tip chaind reported.",
                (double)atomic_load(&m.sync_height));
    prom_metric(&b, "gossip_sync_lag_blocks", "gauge",
                "Best height a ready peer claims, less our tip (0 when none is ahead).",
                (double)atomic_load(&m.sync_lag));
    prom_header(&b, "gossip_relay_latency_seconds", "histogram",
                "Time from an inv we send a peer to the getdata it answers with.");
    prom_hist(&b, "gossip_relay_latency_seconds", NULL, NULL, &m.relay);
    return prom_buf_finish(&b, text, len, e);
}
