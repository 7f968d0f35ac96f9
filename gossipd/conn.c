#include "conn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "gossip_state.h"
#include "log.h"
#include "gossip_metrics.h"

int conn_init(conn_state_t *c, size_t n_slots)
{
    mp_buf_init(&c->out, PROTO_MAX_MSG);
    c->flush_timer = -1;
    c->inv = malloc(PROTO_MAX_INV * sizeof *c->inv);
    c->cands = calloc(n_slots ? n_slots : 1, sizeof *c->cands);
    return c->inv && c->cands ? 0 : -1;
}

void conn_free(conn_state_t *c)
{
    mp_buf_free(&c->out);
    free(c->inv);
    free(c->cands);
    c->inv = NULL;
    c->cands = NULL;
}

const char *conn_name(const peer_t *p)
{
    return p->addr[0] ? p->addr : p->ip[0] ? p->ip : "(unknown)";
}

bool conn_trusted(const peer_t *p)
{
    return !p->inbound || p->claim_state == PEER_CLAIM_VERIFIED;
}

log_level_t conn_log_level(const peer_t *p) { return conn_trusted(p) ? LOG_INFO : LOG_DEBUG; }

/* --- a peer's life ------------------------------------------------------------ */

void conn_doom(peer_t *p, int how, const char *why)
{
    if (how > (int)p->doom) {
        p->doom = how;
        snprintf(p->doom_why, sizeof p->doom_why, "%s", why);
    }
}

static void rid_key(hash32_t *key, const uint8_t *rid, size_t len)
{
    hash_sha256(key->b, rid, len);
}

bool conn_rid_closed(const gossip_t *g, const uint8_t *rid, size_t len)
{
    hash32_t key;
    rid_key(&key, rid, len);
    for (size_t i = 0; i < CONN_CLOSED_RIDS; i++)
        if (hash32_eq(&g->conn.closed_rids[i], &key))
            return true;
    return false;
}

void conn_rid_close(gossip_t *g, const uint8_t *rid, size_t len)
{
    rid_key(&g->conn.closed_rids[g->conn.closed_next], rid, len);
    g->conn.closed_next = (g->conn.closed_next + 1) % CONN_CLOSED_RIDS;
}

void conn_close(gossip_t *g, peer_t *p, const char *why, bool kick)
{
    uint32_t slot = peer_slot(&g->pt, p);
    bool was_ready = p->state == PEER_READY;
    if (was_ready || !p->inbound)
        log_msg(conn_log_level(p), "peer %s %s: %s", conn_name(p),
                was_ready ? "disconnected" : "not connected", why);
    if (p->inbound) {
        if (kick) {
            LOGDEBUG("closing the connection of %s (descriptor %d)", conn_name(p), p->fd);
            net_kick(g->net, p->fd, p->conn_seq);
        }
        conn_rid_close(g, p->rid, p->rid_len);
    } else {
        net_hangup(g->net, slot);
        if (was_ready)
            addrbook_disconnected(g->ab, p->addr, g->now_ms);
        else
            addrbook_dial_failed(g->ab, p->addr, g->now_ms);
    }
    relay_close(g->relay, slot);
    sync_peer_gone(g->sync, slot);
    upstream_peer_gone(g, slot);
    if (was_ready)
        housekeeping_report_soon(g);
    peer_free(&g->pt, p);
}

void conn_reap(gossip_t *g, peer_t *p)
{
    if (p->state == PEER_FREE || p->doom == PEER_KEEP)
        return;
    if (p->doom == PEER_BAN) {
        const char *keys[2];
        size_t n = peer_ban_keys(p, keys);
        if (n)
            g->conn.counts.banned++;
        else
            g->conn.counts.dropped++;
        log_msg(conn_trusted(p) ? LOG_WARN : LOG_DEBUG,
                "banning peer %s for %" PRIu64 " s as %s%s%s (score %d): %s", conn_name(p),
                g->cfg.ban_seconds, n ? keys[0] : "nothing: a local peer is known by its "
                "verified listen address alone", n > 1 ? ", " : "", n > 1 ? keys[1] : "",
                p->score, p->doom_why);
        peer_ban_peer(&g->pt, p, clock_unix(), g->cfg.ban_seconds);
        gmetrics_ban();
    }
    conn_close(g, p, p->doom_why, true);
}

void conn_reap_all(gossip_t *g)
{
    for (size_t i = 0; i < g->pt.cap; i++)
        conn_reap(g, &g->pt.peers[i]);
}

void conn_misbehave(gossip_t *g, peer_t *p, int points, const char *why)
{
    if (points <= 0)
        return;
    peer_misbehave(p, points, g->now_ms);
    log_msg(conn_log_level(p), "peer %s misbehaved (+%d, score %d): %s", conn_name(p), points,
            p->score, why);
    if (peer_should_ban(p))
        conn_doom(p, PEER_BAN, why);
}

peer_t *conn_ready(gossip_t *g, uint32_t slot)
{
    peer_t *p = slot < g->pt.cap ? &g->pt.peers[slot] : NULL;
    return p && p->state == PEER_READY && p->doom == PEER_KEEP ? p : NULL;
}

static evict_rank_t rank_of(const peer_t *p)
{
    if (p->state != PEER_READY)
        return EVICT_HANDSHAKE;
    switch (p->claim_state) {
    case PEER_CLAIM_VERIFIED: return EVICT_VERIFIED;
    case PEER_CLAIM_WAIT:
    case PEER_CLAIM_PROBING: return EVICT_CHECKING;
    default: return EVICT_UNVERIFIED;
    }
}

peer_t *conn_evict_pick(gossip_t *g)
{
    evict_candidate_t *c = g->conn.cands;
    size_t n = 0;
    for (size_t i = 0; i < g->pt.cap; i++) {
        const peer_t *p = &g->pt.peers[i];
        if (p->state == PEER_FREE || !p->inbound || p->doom != PEER_KEEP)
            continue;
        c[n++] = (evict_candidate_t){.id = (uint32_t)i, .rank = rank_of(p), .group = p->group,
                                     .connected_ms = p->connected_ms,
                                     .min_ping_ms = p->min_ping_ms, .last_tx_ms = p->last_tx_ms,
                                     .last_block_ms = p->last_block_ms};
    }
    long k = evict_choose(c, n, g->conn.evict_key);
    return k < 0 ? NULL : &g->pt.peers[c[k].id];
}

unsigned conn_count_group(const gossip_t *g, const char *group)
{
    unsigned n = 0;
    for (size_t i = 0; i < g->pt.cap; i++)
        n += g->pt.peers[i].state != PEER_FREE && g->pt.peers[i].inbound &&
             strcmp(g->pt.peers[i].group, group) == 0;
    return n;
}

void conn_delivered(gossip_t *g, peer_t *p, relay_kind_t kind)
{
    if (!p)
        return;
    /* 0 means "never": a delivery in the clock's first millisecond still counts */
    uint64_t now = g->now_ms ? g->now_ms : 1;
    if (kind == RELAY_TX)
        p->last_tx_ms = now;
    else
        p->last_block_ms = now;
}

/* --- sending ------------------------------------------------------------------- */

mp_buf_t *conn_begin(gossip_t *g, proto_msg_t type)
{
    mp_buf_reset(&g->conn.out);
    g->conn.out_type = type;
    proto_open_peer(&g->conn.out, g->cfg.params->name, type);
    return &g->conn.out;
}

void conn_send(gossip_t *g, peer_t *p)
{
    mp_buf_t *out = &g->conn.out;
    if (!mp_buf_ok(out) || p->state == PEER_FREE || p->doom != PEER_KEEP)
        return;
    proto_assert(PROTO_PEER, (int)g->conn.out_type, out->data, out->len);
    int rc = p->inbound ? net_send_in(g->net, p->rid, p->rid_len, out->data, out->len)
                        : net_send_out(g->net, peer_slot(&g->pt, p), out->data, out->len);
    if (rc == NET_GONE) {
        conn_doom(p, PEER_CLOSE, "the connection is gone");
    } else if (rc == NET_FULL) {
        if (++p->send_drops >= CONN_SEND_DROPS_MAX)
            conn_doom(p, PEER_CLOSE, "it does not read what it is sent");
    } else {
        p->send_drops = 0;
        gmetrics_sent(p, (int)g->conn.out_type, out->len, g->now_ms);
    }
}

void conn_send_raw(gossip_t *g, const uint8_t *rid, size_t rid_len, uint32_t slot)
{
    mp_buf_t *out = &g->conn.out;
    if (!mp_buf_ok(out))
        return;
    proto_assert(PROTO_PEER, (int)g->conn.out_type, out->data, out->len);
    (void)(rid ? net_send_in(g->net, rid, rid_len, out->data, out->len)
               : net_send_out(g->net, slot, out->data, out->len));
}

void conn_send_hashes(gossip_t *g, peer_t *p, proto_msg_t type, relay_kind_t kind,
                      const hash32_t *hashes, size_t n)
{
    if (n == 0)
        return;
    mp_buf_t *b = conn_begin(g, type);
    mp_put_cstr(b, "kind");
    mp_put_cstr(b, kind == RELAY_TX ? "tx" : "block");
    mp_put_cstr(b, "hashes");
    mp_put_array(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        mp_put_bin(b, hashes[i].b, 32);
    conn_send(g, p);
}

void conn_send_addrs(gossip_t *g, peer_t *p, const char *const *addrs, size_t n)
{
    if (n == 0)
        return;
    mp_buf_t *b = conn_begin(g, PROTO_MSG_ADDR);
    mp_put_cstr(b, "addrs");
    mp_put_array(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        mp_put_cstr(b, addrs[i]);
    conn_send(g, p);
}

/* --- announcements ------------------------------------------------------------- */

static void flush_inv(gossip_t *g, peer_t *p, relay_kind_t kind)
{
    uint32_t slot = peer_slot(&g->pt, p);
    size_t n = relay_take_inv(g->relay, slot, kind, g->conn.inv);
    conn_send_hashes(g, p, PROTO_MSG_INV, kind, g->conn.inv, n);
}

void conn_announce(gossip_t *g, peer_t *p, relay_kind_t kind, const hash32_t *h)
{
    uint32_t slot = peer_slot(&g->pt, p);
    if (relay_announce(g->relay, slot, kind, h) < 0) {
        flush_inv(g, p, kind); /* a full queue is a full inv message */
        (void)relay_announce(g->relay, slot, kind, h);
    }
}

static void flush_all(gossip_t *g)
{
    bool sent = false;
    for (size_t i = 0; i < g->pt.cap; i++) {
        peer_t *p = &g->pt.peers[i];
        if (p->state != PEER_READY)
            continue;
        sent |= relay_inv_pending(g->relay, (uint32_t)i, RELAY_BLOCK) ||
                relay_inv_pending(g->relay, (uint32_t)i, RELAY_TX);
        flush_inv(g, p, RELAY_BLOCK);
        flush_inv(g, p, RELAY_TX);
    }
    if (sent)
        g->conn.last_flush_ms = g->now_ms;
}

static bool inv_pending(const gossip_t *g)
{
    for (uint32_t i = 0; i < g->pt.cap; i++)
        if (relay_inv_pending(g->relay, i, RELAY_BLOCK) || relay_inv_pending(g->relay, i, RELAY_TX))
            return true;
    return false;
}

/* The batch is due: the pass this wakes runs conn_flush_due(). */
static void on_flush_timer(void *arg)
{
    gossip_t *g = arg;
    g->conn.flush_timer = -1;
}

void conn_flush_due(gossip_t *g)
{
    if (g->now_ms - g->conn.last_flush_ms >= CONN_INV_FLUSH_MS) {
        flush_all(g);
    } else if (g->conn.flush_timer < 0 && inv_pending(g)) {
        uint64_t due = g->conn.last_flush_ms + CONN_INV_FLUSH_MS - g->now_ms;
        g->conn.flush_timer = reactor_timer(g->reactor, due, 0, on_flush_timer, g);
    }
}
