#include "handshake.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "gossip_state.h"
#include "hex.h"
#include "log.h"

int handshake_init(handshake_state_t *h, const char *advertise)
{
    snprintf(h->advertise, sizeof h->advertise, "%s", advertise ? advertise : "");
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

/* Tells the new peer whom we know, and the others about it if it is new. */
static void share_addresses(gossip_t *g, peer_t *p, const char *addr, const uint8_t *id)
{
    const char *sample[HANDSHAKE_ADDR_SAMPLE + 1];
    size_t n = addrbook_sample(g->ab, sample, HANDSHAKE_ADDR_SAMPLE);
    if (addrbook_valid(g->hs.advertise))
        sample[n++] = g->hs.advertise;
    conn_send_addrs(g, p, sample, n);
    bool fresh = p->inbound && addr[0] && addrbook_add(g->ab, addr, ADDR_GOSSIP, g->now_ms) == 1;
    if (p->inbound && addr[0])
        addrbook_note_id(g->ab, addr, id); /* connected: not dialled while it stays */
    if (!fresh)
        return;
    const char *one[1] = {addr};
    for (size_t i = 0; i < g->pt.cap; i++)
        if (&g->pt.peers[i] != p && g->pt.peers[i].state == PEER_READY)
            conn_send_addrs(g, &g->pt.peers[i], one, 1);
}

/* The handshake is complete: p joins every module as a ready peer. */
static void make_ready(gossip_t *g, peer_t *p, char *addr, const uint8_t *id, uint64_t height)
{
    uint32_t slot = peer_slot(&g->pt, p);
    /* the origin names one peer: a second peer claiming a connected peer's
     * address is known by its node id instead */
    for (size_t i = 0; p->inbound && addr[0] && i < g->pt.cap; i++)
        if (&g->pt.peers[i] != p && g->pt.peers[i].state == PEER_READY &&
            strcmp(g->pt.peers[i].addr, addr) == 0)
            addr[0] = '\0';
    peer_set_addr(p, addr);
    if (relay_open(g->relay, slot) < 0) {
        conn_doom(p, PEER_CLOSE, "out of memory");
        return;
    }
    if (p->inbound)
        handshake_send_hello(g, p);
    else
        addrbook_connected(g->ab, p->addr, id, clock_unix());
    p->state = PEER_READY;
    p->last_ping_ms = g->now_ms;
    sync_peer_ready(g->sync, slot, height);
    char idhex[2 * PEER_ID_LEN + 1];
    hex_encode(idhex, id, PEER_ID_LEN);
    LOGINFO("peer %s connected (%s, height %" PRIu64 ", node %s)", conn_name(p),
            p->inbound ? "inbound" : "outbound", height, idhex);
    share_addresses(g, p, addr, id);
    housekeeping_report_soon(g);
}

void handshake_on_hello(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    uint64_t version, height;
    char listen[256], addr[ADDRBOOK_ADDR_MAX + 1];
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
        dialable(p, listen, addr);
    else
        snprintf(addr, sizeof addr, "%s", p->addr);
    if (peer_banned_any(&g->pt, addr, id, p->ip, clock_unix())) {
        LOGINFO("refusing banned peer %s", addr[0] ? addr : conn_name(p));
        conn_doom(p, PEER_CLOSE, "banned");
        return;
    }
    p->have_id = true;
    memcpy(p->node_id, id, PEER_ID_LEN);
    p->version = version;
    if (settle_twins(g, p, id))
        make_ready(g, p, addr, id, height);
}

void handshake_name_foreign(peer_t *p, const uint8_t *data, size_t len)
{
    mp_reader_t r;
    uint32_t n;
    const char *net;
    size_t net_len;
    char network[32], listen[256], addr[ADDRBOOK_ADDR_MAX + 1];
    proto_peer_msg_t m;
    mp_reader_init(&r, data, len, false);
    if (mp_get_array(&r, &n) < 0 || mp_get_str(&r, &net, &net_len) < 0 ||
        net_len >= sizeof network || memchr(net, '\0', net_len))
        return;
    memcpy(network, net, net_len);
    network[net_len] = '\0';
    if (proto_decode_peer(&m, network, data, len, NULL) < 0 || m.type != PROTO_MSG_HELLO ||
        proto_get_bin_exact(&m.body, "node_id", p->node_id, PEER_ID_LEN) < 0)
        return;
    p->have_id = true;
    if (proto_get_str(&m.body, "listen", listen, sizeof listen) == 0) {
        dialable(p, listen, addr);
        peer_set_addr(p, addr);
    }
}
