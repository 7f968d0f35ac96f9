#include "handshake.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "gossip_state.h"
#include "hex.h"
#include "log.h"
#include "netgroup.h"

int handshake_init(handshake_state_t *h, const char *advertise, uint64_t now_ms)
{
    snprintf(h->advertise, sizeof h->advertise, "%s", advertise ? advertise : "");
    probe_init(&h->probe, now_ms);
    return RAND_bytes(h->node_id, PEER_ID_LEN) == 1 ? 0 : -1;
}

bool handshake_known_node(const gossip_t *g, const uint8_t node_id[PEER_ID_LEN])
{
    return memcmp(node_id, g->hs.node_id, PEER_ID_LEN) == 0 ||
           peer_find_id(&g->pt, node_id, NULL) != NULL;
}

void handshake_send_hello(gossip_t *g, peer_t *p)
{
    uint64_t height = 0;
    hash32_t tip = {{0}};
    (void)sync_view_tip(sync_view(g->sync), &height, &tip);
    mp_buf_t *b = conn_begin(g, PROTO_MSG_HELLO);
    mp_put_cstr(b, "version");
    mp_put_uint(b, PROTO_VERSION);
    mp_put_cstr(b, "height");
    mp_put_uint(b, height);
    mp_put_cstr(b, "tip");
    mp_put_bin(b, tip.b, 32);
    mp_put_cstr(b, "listen");
    mp_put_cstr(b, g->hs.advertise);
    mp_put_cstr(b, "node_id");
    mp_put_bin(b, g->hs.node_id, PEER_ID_LEN);
    conn_send(g, p);
}

/* The listen address a peer advertised, as we can dial it: a wildcard host
 * becomes the address the connection came from. "" when there is none. */
static void dialable(const peer_t *p, const char *listen, char out[ADDRBOOK_ADDR_MAX + 1])
{
    char host[ADDRBOOK_ADDR_MAX + 1];
    unsigned port;
    out[0] = '\0';
    if (addrbook_split(listen, host, sizeof host, &port) < 0)
        return;
    if (addrbook_valid(listen)) {
        snprintf(out, ADDRBOOK_ADDR_MAX + 1, "%s", listen);
    } else if (p->ip[0]) {
        bool v6 = strchr(p->ip, ':') != NULL;
        snprintf(out, ADDRBOOK_ADDR_MAX + 1, "%s%s%s:%u", v6 ? "[" : "", p->ip, v6 ? "]" : "", port);
        if (!addrbook_valid(out))
            out[0] = '\0';
    }
}

/* Of two connections between the same two nodes, both sides keep the one
 * dialled by the lower node id (the older when one node dialled twice), so
 * they never each drop a different one. */
static bool keep_new(const gossip_t *g, const peer_t *old, const peer_t *fresh)
{
    const uint8_t *io = old->inbound ? old->node_id : g->hs.node_id;
    const uint8_t *in = fresh->inbound ? fresh->node_id : g->hs.node_id;
    int c = memcmp(in, io, PEER_ID_LEN);
    return c < 0;
}

/* A hello with our own node id: we dialled ourselves. */
static void on_self(gossip_t *g, peer_t *p)
{
    if (p->inbound) {
        /* answer, so the dialling side (this node) learns where it is;
         * then forget the connection: the dialler hangs up */
        handshake_send_hello(g, p);
        peer_free(&g->pt, p);
    } else {
        LOGINFO("%s is this node: not dialled again", p->addr);
        addrbook_mark_self(g->ab, p->addr);
        conn_doom(p, PEER_CLOSE, "a connection to ourselves");
    }
}

/* A second connection to a node: false when p is the one to drop. */
static bool settle_twins(gossip_t *g, peer_t *p, const uint8_t id[PEER_ID_LEN])
{
    peer_t *twin = peer_find_id(&g->pt, id, p);
    if (!twin)
        return true;
    if (!keep_new(g, twin, p)) {
        if (!p->inbound)
            addrbook_note_id(g->ab, p->addr, id);
        conn_doom(p, PEER_CLOSE, "a second connection to a connected node");
        return false;
    }
    conn_doom(twin, PEER_CLOSE, "a second connection to a connected node");
    conn_reap(g, twin);
    return true;
}

/* Tells a new peer whom we know. */
static void share_addresses(gossip_t *g, peer_t *p)
{
    const char *sample[HANDSHAKE_ADDR_SAMPLE + 1];
    size_t n = addrbook_sample(g->ab, sample, HANDSHAKE_ADDR_SAMPLE);
    if (addrbook_valid(g->hs.advertise))
        sample[n++] = g->hs.advertise;
    conn_send_addrs(g, p, sample, n);
}

/* An inbound peer claims to listen at claim: we challenge it, and dial it
 * back later (probe.h). */
static void challenge(gossip_t *g, peer_t *p, const char *claim)
{
    if (probe_claim(p, claim, g->now_ms) < 0)
        return;
    mp_buf_t *b = conn_begin(g, PROTO_MSG_CHALLENGE);
    mp_put_cstr(b, "nonce");
    mp_put_bin(b, p->challenge, PEER_ID_LEN);
    conn_send(g, p);
}

/* The handshake is complete: p joins every module as a ready peer. */
static void make_ready(gossip_t *g, peer_t *p, const char *claim, const uint8_t *id,
                       uint64_t height)
{
    uint32_t slot = peer_slot(&g->pt, p);
    char addr[PEER_ADDR_MAX + 1];
    /* an inbound peer's address is its own once verified, not before */
    snprintf(addr, sizeof addr, "%s", p->inbound ? "" : p->addr);
    peer_set_addr(p, addr);
    if (relay_open(g->relay, slot) < 0) {
        conn_doom(p, PEER_CLOSE, "out of memory");
        return;
    }
    if (p->inbound) {
        handshake_send_hello(g, p);
        if (claim[0])
            challenge(g, p, claim);
        net_conn_ready(g->net, p->fd, p->conn_seq, true);
    } else {
        addrbook_connected(g->ab, p->addr, id, clock_unix());
    }
    p->state = PEER_READY;
    p->last_ping_ms = g->now_ms;
    sync_peer_ready(g->sync, slot, height);
    char idhex[2 * PEER_ID_LEN + 1];
    hex_encode(idhex, id, PEER_ID_LEN);
    log_msg(conn_log_level(p), "peer %s connected (%s, height %" PRIu64 ", node %s%s%s)",
            conn_name(p), p->inbound ? "inbound" : "outbound", height, idhex,
            claim[0] ? ", claims " : "", claim);
    share_addresses(g, p);
    upstream_announce_mempool(g, p); /* what it missed while away */
    housekeeping_report_soon(g);
}

void handshake_on_hello(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    uint64_t version, height;
    char listen[256], claim[ADDRBOOK_ADDR_MAX + 1] = "";
    uint8_t id[PEER_ID_LEN];
    (void)proto_get_uint(&m->body, "version", &version); /* the schema: all present */
    (void)proto_get_uint(&m->body, "height", &height);
    (void)proto_get_bin_exact(&m->body, "node_id", id, PEER_ID_LEN);
    if (proto_get_str(&m->body, "listen", listen, sizeof listen) < 0)
        listen[0] = '\0';
    if (version < PROTO_VERSION) {
        conn_doom(p, PEER_CLOSE, "an older protocol version");
        return;
    }
    if (memcmp(id, g->hs.node_id, PEER_ID_LEN) == 0) {
        on_self(g, p);
        return;
    }
    if (p->inbound)
        dialable(p, listen, claim);
    /* a claim of a banned address ends this connection, and bans nothing */
    if (peer_banned_peer(&g->pt, p, clock_unix()) || peer_banned(&g->pt, claim, clock_unix())) {
        LOGDEBUG("refusing banned peer %s", claim[0] ? claim : conn_name(p));
        conn_doom(p, PEER_CLOSE, "banned");
        return;
    }
    p->have_id = true;
    memcpy(p->node_id, id, PEER_ID_LEN);
    p->version = version;
    if (settle_twins(g, p, id))
        make_ready(g, p, claim, id, height);
}

/* --- the dial-back ------------------------------------------------------------ */

void handshake_answer_probe(gossip_t *g, const uint8_t *rid, size_t rid_len,
                            const proto_peer_msg_t *m)
{
    uint8_t who[PEER_ID_LEN], nonce[PEER_ID_LEN] = {0}; /* zero: no connection to it */
    (void)proto_get_bin_exact(&m->body, "node_id", who, PEER_ID_LEN);
    for (size_t i = 0; i < g->pt.cap; i++) {
        const peer_t *p = &g->pt.peers[i];
        if (p->state == PEER_READY && !p->inbound && p->have_challenge &&
            memcmp(p->node_id, who, PEER_ID_LEN) == 0)
            memcpy(nonce, p->challenge, PEER_ID_LEN);
    }
    mp_buf_t *b = conn_begin(g, PROTO_MSG_PROOF);
    mp_put_cstr(b, "node_id");
    mp_put_bin(b, g->hs.node_id, PEER_ID_LEN);
    mp_put_cstr(b, "nonce");
    mp_put_bin(b, nonce, PEER_ID_LEN);
    conn_send_raw(g, rid, rid_len, 0);
}

/* p proved its claim: the address is its own now. */
static void on_verified(gossip_t *g, peer_t *p)
{
    if (peer_banned(&g->pt, p->claim, clock_unix())) {
        conn_doom(p, PEER_CLOSE, "banned");
        return;
    }
    if (netgroup_local(p->ip)) { /* local peers' group: their listen address */
        if (conn_count_group(g, p->claim) >= g->cfg.max_per_group) {
            conn_doom(p, PEER_CLOSE, "as many peers at that listen address as allowed");
            return;
        }
        snprintf(p->group, sizeof p->group, "%s", p->claim);
    }
    /* the origin names one peer: a second peer at a connected peer's
     * address (a twin on its way out) is known by its node id instead */
    bool taken = false;
    for (size_t i = 0; i < g->pt.cap; i++)
        taken |= &g->pt.peers[i] != p && g->pt.peers[i].state == PEER_READY &&
                 strcmp(g->pt.peers[i].addr, p->claim) == 0;
    if (!taken)
        peer_set_addr(p, p->claim);
    char idhex[2 * PEER_ID_LEN + 1];
    hex_encode(idhex, p->node_id, PEER_ID_LEN);
    LOGINFO("peer %s connected (inbound from %s, node %s, listen address verified)", p->claim,
            p->ip[0] ? p->ip : "ipc", idhex);
    bool fresh = addrbook_add(g->ab, p->claim, ADDR_GOSSIP, g->now_ms) == 1;
    addrbook_note_id(g->ab, p->claim, p->node_id); /* connected: not dialled while it stays */
    const char *one[1] = {p->claim};
    for (size_t i = 0; fresh && i < g->pt.cap; i++)
        if (&g->pt.peers[i] != p && g->pt.peers[i].state == PEER_READY)
            conn_send_addrs(g, &g->pt.peers[i], one, 1);
    housekeeping_report_soon(g);
}

/* Dial-back s ended, with a proof (id and nonce) or without (NULL). */
static void probe_end(gossip_t *g, int s, const uint8_t *id, const uint8_t *nonce, const char *why)
{
    net_hangup(g->net, (uint32_t)(g->pt.cap + (size_t)s));
    peer_t *claimant = peer_get(&g->pt, g->hs.probe.slot[s].peer);
    peer_t *p = probe_done(&g->hs.probe, &g->pt, s, id, nonce);
    if (p) {
        on_verified(g, p);
        conn_reap(g, p);
    } else if (claimant) {
        LOGDEBUG("peer %s: its claim to listen at %s is unverified: %s", conn_name(claimant),
                 claimant->claim, why);
    }
}

void handshake_probe_due(gossip_t *g)
{
    int s;
    while ((s = probe_next(&g->hs.probe, &g->pt, g->now_ms)) >= 0) {
        uint32_t slot = (uint32_t)(g->pt.cap + (size_t)s);
        const char *addr = g->hs.probe.slot[s].addr;
        char ep[NET_ENDPOINT_MAX];
        err_t e;
        if (net_endpoint(ep, sizeof ep, addr) < 0 || net_dial(g->net, slot, ep, &e) < 0) {
            probe_end(g, s, NULL, NULL, "it cannot be dialled");
            continue;
        }
        LOGDEBUG("dialling %s back", addr);
        mp_buf_t *b = conn_begin(g, PROTO_MSG_PROBE);
        mp_put_cstr(b, "node_id");
        mp_put_bin(b, g->hs.node_id, PEER_ID_LEN);
        conn_send_raw(g, NULL, 0, slot); /* queued until the connection is up */
    }
}

void handshake_probe_read(gossip_t *g, int s)
{
    uint32_t slot = (uint32_t)(g->pt.cap + (size_t)s);
    net_event_t ev;
    while (net_event_out(g->net, slot, &ev)) {
        if (ev.event != ZMQ_EVENT_CONNECTED) {
            probe_end(g, s, NULL, NULL, "the connection failed");
            return;
        }
    }
    net_msg_t m;
    if (!net_recv_out(g->net, slot, &m))
        return;
    proto_peer_msg_t msg;
    uint8_t id[PEER_ID_LEN], nonce[PEER_ID_LEN];
    bool proof = !m.malformed &&
                 proto_decode_peer(&msg, g->cfg.params->name, zmq_msg_data(&m.payload),
                                   zmq_msg_size(&m.payload), NULL) == 0 &&
                 msg.type == PROTO_MSG_PROOF &&
                 proto_get_bin_exact(&msg.body, "node_id", id, PEER_ID_LEN) == 0 &&
                 proto_get_bin_exact(&msg.body, "nonce", nonce, PEER_ID_LEN) == 0;
    net_msg_close(&m);
    probe_end(g, s, proof ? id : NULL, proof ? nonce : NULL,
              proof ? "another node id or nonce answered" : "the answer was no proof");
}

void handshake_probe_expire(gossip_t *g)
{
    int s;
    while ((s = probe_overdue(&g->hs.probe, g->now_ms)) >= 0)
        probe_end(g, s, NULL, NULL, "no answer in time");
}
