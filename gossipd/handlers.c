#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "gossip_state.h"
#include "log.h"
#include "gossip_metrics.h"

#define ADDR_FORWARD 10 /* new addresses passed on from one addr message */

int handlers_init(handlers_state_t *h)
{
    h->hashes = malloc(PROTO_MAX_INV * sizeof *h->hashes);
    h->hdrbuf = malloc((size_t)PROTO_MAX_HEADERS * BLOCK_HEADER_LEN);
    return h->hashes && h->hdrbuf ? 0 : -1;
}

void handlers_free(handlers_state_t *h)
{
    free(h->hashes);
    free(h->hdrbuf);
    h->hashes = NULL;
    h->hdrbuf = NULL;
}

/* --- the handlers ------------------------------------------------------------- */

/* A hello after the handshake only tells the peer's height. */
static void on_hello_again(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    uint64_t height;
    if (proto_get_uint(&m->body, "height", &height) == 0)
        sync_peer_height(g->sync, peer_slot(&g->pt, p), height);
}

static void on_addr(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    mp_reader_t r;
    uint32_t n;
    if (proto_get_array(&m->body, "addrs", &r, &n) < 0)
        return;
    char fresh[ADDR_FORWARD][ADDRBOOK_ADDR_MAX + 1];
    const char *fwd[ADDR_FORWARD];
    size_t n_fresh = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        char addr[ADDRBOOK_ADDR_MAX + 1];
        if (mp_get_str(&r, &s, &len) < 0)
            return;
        if (len > ADDRBOOK_ADDR_MAX || memchr(s, '\0', len))
            continue;
        memcpy(addr, s, len);
        addr[len] = '\0';
        if (addrbook_add(g->ab, addr, ADDR_GOSSIP, g->now_ms) == 1 && n_fresh < ADDR_FORWARD) {
            memcpy(fresh[n_fresh], addr, len + 1);
            fwd[n_fresh] = fresh[n_fresh];
            n_fresh++;
        }
    }
    for (size_t i = 0; n_fresh && i < g->pt.cap; i++)
        if (&g->pt.peers[i] != p && g->pt.peers[i].state == PEER_READY)
            conn_send_addrs(g, &g->pt.peers[i], fwd, n_fresh);
}

/* The kind field of inv, getdata, notfound; -1 for another. */
static int parse_kind(const proto_peer_msg_t *m)
{
    char kind[8];
    if (proto_get_str(&m->body, "kind", kind, sizeof kind) == 0) {
        if (strcmp(kind, "tx") == 0)
            return RELAY_TX;
        if (strcmp(kind, "block") == 0)
            return RELAY_BLOCK;
    }
    return -1;
}

/* As parse_kind, scoring p for another kind. */
static int kind_of(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    int kind = parse_kind(m);
    if (kind < 0)
        conn_misbehave(g, p, err_ban_score(ERR_BAD_REQUEST), "an unknown inventory kind");
    return kind;
}

/* The kind of an inv, getdata or notfound (-1 as kind_of) and its hashes,
 * read into the scratch buffer; their count (-1 when the kind is wrong). */
static int read_hashes(gossip_t *g, peer_t *p, const proto_peer_msg_t *m, int *kind)
{
    mp_reader_t r;
    uint32_t n;
    *kind = kind_of(g, p, m);
    if (*kind < 0 || proto_get_array(&m->body, "hashes", &r, &n) < 0 || n > PROTO_MAX_INV)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        if (mp_get_bin_exact(&r, g->msgs.hashes[i].b, 32) < 0)
            return -1;
    return (int)n;
}

static void on_inv(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    int kind, n = read_hashes(g, p, m, &kind);
    if (n < 0)
        return;
    uint32_t slot = peer_slot(&g->pt, p);
    size_t want = 0;
    bool busy = sync_busy(g->sync);
    for (int i = 0; i < n; i++) {
        const hash32_t *h = &g->msgs.hashes[i];
        relay_learn(g->relay, slot, h);
        if (relay_seen(g->relay, h) || relay_requested(g->relay, h))
            continue;
        if (kind == RELAY_BLOCK && (sync_wants(g->sync, h) || busy)) {
            /* the download will get it, in order, after what it has queued */
            if (!sync_wants(g->sync, h))
                sync_announced(g->sync, slot);
            continue;
        }
        if (relay_request(g->relay, slot, (relay_kind_t)kind, h, g->now_ms))
            g->msgs.hashes[want++] = *h; /* compacts in place: want <= i */
    }
    conn_send_hashes(g, p, PROTO_MSG_GETDATA, (relay_kind_t)kind, g->msgs.hashes, want);
}

static void on_getdata(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    int kind, n = read_hashes(g, p, m, &kind);
    if (n < 0)
        return;
    uint32_t slot = peer_slot(&g->pt, p);
    size_t missing = 0;
    for (int i = 0; i < n; i++) {
        const hash32_t *h = &g->msgs.hashes[i];
        relay_learn(g->relay, slot, h);
        if (!relay_serve_push(g->relay, slot, (relay_kind_t)kind, h))
            g->msgs.hashes[missing++] = *h;
    }
    conn_send_hashes(g, p, PROTO_MSG_NOTFOUND, (relay_kind_t)kind, g->msgs.hashes, missing);
    upstream_serve(g, p);
}

static void on_notfound(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    int kind, n = read_hashes(g, p, m, &kind);
    uint32_t slot = peer_slot(&g->pt, p);
    for (int i = 0; i < n; i++) {
        relay_fulfil(g->relay, slot, &g->msgs.hashes[i]);
        if (kind == RELAY_BLOCK)
            sync_on_notfound(g->sync, slot, &g->msgs.hashes[i]);
    }
}

/* The hash of a block message's block, from its header; -1 when the block
 * does not start [bin(88), …]. */
static int block_hash_of(const proto_peer_msg_t *m, const uint8_t **data, size_t *len,
                         hash32_t *hash)
{
    mp_reader_t r;
    uint32_t n;
    const uint8_t *header;
    size_t hlen;
    (void)proto_get_bin(&m->body, "block", data, len); /* the schema: present */
    mp_reader_init(&r, *data, *len, false);
    if (mp_get_array(&r, &n) < 0 || n != 2 || mp_get_bin(&r, &header, &hlen) < 0 ||
        hlen != BLOCK_HEADER_LEN)
        return -1;
    hash_sha256d(hash, header, hlen);
    return 0;
}

/* The txid of a tx message's transaction, if chaind finds the encoding canonical. */
static void txid_of(const proto_peer_msg_t *m, const uint8_t **data, size_t *len, hash32_t *h)
{
    (void)proto_get_bin(&m->body, "tx", data, len);
    hash_sha256d(h, *data, *len);
}

static void on_block(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    const uint8_t *data;
    size_t len;
    hash32_t h;
    uint32_t slot = peer_slot(&g->pt, p);
    if (block_hash_of(m, &data, &len, &h) < 0) {
        conn_misbehave(g, p, err_ban_score(ERR_BAD_ENCODING), "a block that is no block");
        return;
    }
    relay_learn(g->relay, slot, &h);
    relay_fulfil(g->relay, slot, &h);
    if (sync_on_block(g->sync, slot, &h, data, len, g->now_ms) || relay_seen(g->relay, &h))
        return;
    upstream_submit(g, p, PROTO_REQ_SUBMIT_BLOCK, &h, data, len);
}

static void on_tx(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    const uint8_t *data;
    size_t len;
    hash32_t h;
    uint32_t slot = peer_slot(&g->pt, p);
    txid_of(m, &data, &len, &h);
    relay_learn(g->relay, slot, &h);
    relay_fulfil(g->relay, slot, &h);
    if (relay_seen(g->relay, &h))
        return;
    upstream_submit(g, p, PROTO_REQ_SUBMIT_TX, &h, data, len);
}

static void on_getheaders(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    mp_reader_t r;
    uint32_t n;
    if (proto_get_array(&m->body, "locator", &r, &n) == 0)
        upstream_get_headers(g, p, &r, n);
}

static void on_headers(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    mp_reader_t r;
    uint32_t n;
    uint8_t *buf = g->msgs.hdrbuf;
    if (proto_get_array(&m->body, "headers", &r, &n) < 0 || n > PROTO_MAX_HEADERS)
        return;
    for (uint32_t i = 0; i < n; i++)
        if (mp_get_bin_exact(&r, buf + (size_t)i * BLOCK_HEADER_LEN, BLOCK_HEADER_LEN) < 0)
            return;
    (void)sync_on_headers(g->sync, peer_slot(&g->pt, p), buf, n, g->now_ms);
}

static void on_pong(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    uint64_t nonce;
    (void)proto_get_uint(&m->body, "nonce", &nonce);
    (void)peer_pong(p, nonce, g->now_ms); /* the round trip, for eviction */
}

/* An outbound peer's challenge: what our proof gives back when it dials us
 * back (probe.h). */
static void on_challenge(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    (void)g;
    if (!p->inbound && proto_get_bin_exact(&m->body, "nonce", p->challenge, PEER_ID_LEN) == 0)
        p->have_challenge = true;
}

static void on_ping(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    uint64_t nonce;
    (void)proto_get_uint(&m->body, "nonce", &nonce);
    mp_buf_t *b = conn_begin(g, PROTO_MSG_PONG);
    mp_put_cstr(b, "nonce");
    mp_put_uint(b, nonce);
    conn_send(g, p);
}

/* --- answers to our own requests (free from the flood bucket) ------------------- */

static bool block_solicited(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    const uint8_t *data;
    size_t len;
    hash32_t h;
    uint32_t slot = peer_slot(&g->pt, p);
    return block_hash_of(m, &data, &len, &h) == 0 &&
           (sync_expects(g->sync, slot, &h) || relay_asked(g->relay, slot, &h));
}

static bool tx_solicited(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    const uint8_t *data;
    size_t len;
    hash32_t h;
    txid_of(m, &data, &len, &h);
    return relay_asked(g->relay, peer_slot(&g->pt, p), &h);
}

/* A notfound answers us when we asked this peer for every hash in it: a
 * peer serving a getdata from its chaind says notfound an item at a time,
 * so a big getdata of things gone meanwhile (confirmed, or off the tip)
 * comes back as that many messages. Scores nothing: on_notfound does. */
static bool notfound_solicited(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    int kind = parse_kind(m);
    mp_reader_t r;
    uint32_t n;
    if (kind < 0 || proto_get_array(&m->body, "hashes", &r, &n) < 0 || n == 0 ||
        n > PROTO_MAX_INV)
        return false;
    uint32_t slot = peer_slot(&g->pt, p);
    for (uint32_t i = 0; i < n; i++) {
        hash32_t h;
        if (mp_get_bin_exact(&r, h.b, 32) < 0)
            return false;
        if (!relay_asked(g->relay, slot, &h) &&
            !(kind == RELAY_BLOCK && sync_expects(g->sync, slot, &h)))
            return false;
    }
    return true;
}

static bool headers_solicited(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    (void)m;
    return sync_expects_headers(g->sync, peer_slot(&g->pt, p));
}

static bool pong_solicited(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    uint64_t nonce;
    (void)g;
    return proto_get_uint(&m->body, "nonce", &nonce) == 0 && nonce == p->ping_nonce;
}

/* --- dispatch -------------------------------------------------------------------- */

typedef struct {
    /* what a ready peer's message does (NULL: nothing beyond being heard) */
    void (*handle)(gossip_t *g, peer_t *p, const proto_peer_msg_t *m);
    /* whether it answers our own request, so costs nothing (NULL: never) */
    bool (*solicited)(gossip_t *g, peer_t *p, const proto_peer_msg_t *m);
} route_t;

static const route_t routes[PROTO_MSG_COUNT] = {
    [PROTO_MSG_HELLO] = {on_hello_again, NULL},
    [PROTO_MSG_ADDR] = {on_addr, NULL},
    [PROTO_MSG_INV] = {on_inv, NULL},
    [PROTO_MSG_GETDATA] = {on_getdata, NULL},
    [PROTO_MSG_NOTFOUND] = {on_notfound, notfound_solicited},
    [PROTO_MSG_TX] = {on_tx, tx_solicited},
    [PROTO_MSG_BLOCK] = {on_block, block_solicited},
    [PROTO_MSG_GETHEADERS] = {on_getheaders, NULL},
    [PROTO_MSG_HEADERS] = {on_headers, headers_solicited},
    [PROTO_MSG_PING] = {on_ping, NULL},
    [PROTO_MSG_PONG] = {on_pong, pong_solicited},
    [PROTO_MSG_CHALLENGE] = {on_challenge, NULL},
};

static double cost_of(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    const route_t *r = &routes[m->type];
    return p->state == PEER_READY && r->solicited && r->solicited(g, p, m) ? 0 : 1;
}

void handlers_handle(gossip_t *g, peer_t *p, const uint8_t *data, size_t len, bool malformed)
{
    p->last_recv_ms = g->now_ms;
    if (malformed) {
        conn_misbehave(g, p, err_ban_score(ERR_BAD_ENCODING), "a message of several frames");
        return;
    }
    proto_peer_msg_t m;
    err_t e;
    int decoded = peer_decode(p, g->cfg.params->name, data, len, g->now_ms, &m, &e);
    gmetrics_received(p, decoded < 0 ? GMETRICS_OTHER : (int)m.type, len, g->now_ms);
    if (decoded < 0) {
        log_msg(conn_log_level(p), "peer %s sent a bad message (%s, score %d): %s",
                conn_name(p), err_str(e.code), p->score, e.message);
        if (peer_should_ban(p))
            conn_doom(p, PEER_BAN, e.message);
        return;
    }
    if (!peer_charge(p, g->now_ms, cost_of(g, p, &m))) {
        /* which message found the bucket empty, and in which state: what an
         * operator needs to tell a flood from an honest burst */
        char why[96];
        snprintf(why, sizeof why, "a flood of messages (the last a %s, %s)",
                 proto_msg_name(m.type), p->state == PEER_READY ? "after the hello" : "before");
        if (peer_should_ban(p))
            conn_doom(p, PEER_BAN, why);
        return;
    }
    LOGDEBUG("peer %s: %s", conn_name(p), proto_msg_name(m.type));
    if (p->state != PEER_READY) {
        if (m.type == PROTO_MSG_HELLO)
            handshake_on_hello(g, p, &m);
        else
            conn_misbehave(g, p, err_ban_score(ERR_BAD_REQUEST), "a message before its hello");
        return;
    }
    if (routes[m.type].handle)
        routes[m.type].handle(g, p, &m);
}

/* --- the download's operations ---------------------------------------------------- */

static void op_getheaders(void *ctx, uint32_t slot, const hash32_t *locator, size_t n)
{
    gossip_t *g = ctx;
    peer_t *p = conn_ready(g, slot);
    if (!p)
        return;
    mp_buf_t *b = conn_begin(g, PROTO_MSG_GETHEADERS);
    mp_put_cstr(b, "locator");
    mp_put_array(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        mp_put_bin(b, locator[i].b, 32);
    conn_send(g, p);
}

static void op_getdata(void *ctx, uint32_t slot, const hash32_t *hashes, size_t n)
{
    gossip_t *g = ctx;
    peer_t *p = conn_ready(g, slot);
    if (p)
        conn_send_hashes(g, p, PROTO_MSG_GETDATA, RELAY_BLOCK, hashes, n);
}

static int op_submit(void *ctx, uint32_t from, const hash32_t *hash, const uint8_t *block,
                     size_t len)
{
    return upstream_submit_sync(ctx, from, hash, block, len);
}

static void op_misbehave(void *ctx, uint32_t slot, err_code_t code, const char *why)
{
    gossip_t *g = ctx;
    peer_t *p = conn_ready(g, slot);
    if (p) {
        char text[160];
        snprintf(text, sizeof text, "%s (%s)", why, err_str(code));
        conn_misbehave(g, p, err_ban_score(code), text);
    }
}

static void op_drop(void *ctx, uint32_t slot, const char *why)
{
    gossip_t *g = ctx;
    peer_t *p = conn_ready(g, slot);
    if (p)
        conn_doom(p, PEER_CLOSE, why);
}

sync_ops_t handlers_sync_ops(gossip_t *g)
{
    return (sync_ops_t){g, op_getheaders, op_getdata, op_submit, op_misbehave, op_drop};
}
