#include "gossip.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "addrbook.h"
#include "block.h"
#include "client.h"
#include "hex.h"
#include "clock.h"
#include "log.h"
#include "net.h"
#include "relay.h"
#include "sync.h"

#define HELLO_TIMEOUT_MS 10000   /* a connection must complete its hello by then */
#define PING_MS 15000
#define SILENCE_MS 60000         /* a peer silent this long (pings unanswered) is dropped */
#define DIAL_MS 250
#define TICK_MS 100
#define TIP_CHECK_MS 2000        /* get_tip: is the chain view still chaind's? */
#define PEERS_REPORT_MS 5000
#define PEERS_REPORT_SOON_MS 300 /* after a change, at most this late */
#define SAVE_MS 60000
#define STATUS_LOG_MS 5000
#define INV_FLUSH_MS 20          /* announcements are batched at most this long */
#define SERVE_PARALLEL 32        /* chaind requests in flight to answer one peer */
#define CLIENT_RESERVE 64        /* pending slots kept for our own requests */
#define SEND_DROPS_MAX 1000      /* a peer whose queue stays full this long is dropped */
#define ADDR_SAMPLE 100          /* addresses sent after a handshake */
#define ADDR_FORWARD 10          /* new addresses passed on from one addr message */
#define RPC_TIMEOUT_MS 10000
#define SUBMIT_TIMEOUT_MS 60000  /* a big block can take chaind a while */
#define BUDGET_ROUTER 1000       /* messages read from a socket per pass */
#define BUDGET_DEALER 256
#define BUDGET_RPC 4096
#define BUDGET_EVENTS 4096
#define CLOSED_RIDS 256

enum {
    REQ_TIP,
    REQ_WALK,
    REQ_HEADERS,      /* answering a peer's getheaders */
    REQ_GET_BLOCK,    /* answering a peer's getdata */
    REQ_GET_TX,
    REQ_SUBMIT_TX,
    REQ_SUBMIT_BLOCK, /* a block outside the download (a new tip) */
    REQ_SYNC_BLOCK,   /* a block of the download */
    REQ_PEERS,
};

struct gossip {
    gossip_config_t cfg;
    char peers_path[4096], bans_path[4096];
    char advertise[ADDRBOOK_ADDR_MAX + 1];
    uint8_t node_id[PEER_ID_LEN];
    void *zctx;
    net_t *net;
    client_t *client;
    peer_table_t pt;
    addrbook_t *ab;
    relay_t *relay;
    sync_t *sync;
    mp_buf_t out, req;      /* the peer message / chaind request being built */
    uint8_t *hdrbuf;        /* PROTO_MAX_HEADERS headers */
    hash32_t *hashes;       /* PROTO_MAX_INV hashes */
    bool *serving_headers;  /* [slot]: a getheaders of that peer is with chaind */
    uint64_t now_ms;
    uint64_t next_tick_ms, next_dial_ms, next_tip_ms, next_report_ms, next_save_ms,
        next_status_ms, last_flush_ms;
    bool tip_pending, report_pending, chaind_up;
    bool have_last_tip; /* chaind's tip at the check before */
    hash32_t last_tip;
    uint64_t last_tip_h;
    /* rebuilding the chain view from chaind's headers */
    bool walking;
    hash32_t walk_loc[PROTO_MAX_LOCATOR];
    uint64_t walk_h[PROTO_MAX_LOCATOR];
    size_t walk_n;
    unsigned walk_restarts;
    bool walk_was_valid; /* a rebuild of a view that followed: logged at debug level */
    long conns_in; /* inbound TCP connections open (monitor) */
    /* routing ids of inbound peers we closed: what they had queued before
     * the kick is dropped, not taken for a new peer's first words */
    hash32_t closed_rids[CLOSED_RIDS];
    size_t closed_next;
};

static const char *name_of(const peer_t *p)
{
    return p->addr[0] ? p->addr : p->ip[0] ? p->ip : "(unknown)";
}

/* --- peer lifecycle ------------------------------------------------------------ */

static void doom(peer_t *p, int how, const char *why)
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

static bool rid_closed(const gossip_t *g, const uint8_t *rid, size_t len)
{
    hash32_t key;
    rid_key(&key, rid, len);
    for (size_t i = 0; i < CLOSED_RIDS; i++)
        if (hash32_eq(&g->closed_rids[i], &key))
            return true;
    return false;
}

static void close_peer(gossip_t *g, peer_t *p, const char *why, bool kick)
{
    uint32_t slot = peer_slot(&g->pt, p);
    bool was_ready = p->state == PEER_READY;
    if (was_ready || !p->inbound)
        LOGINFO("peer %s %s: %s", name_of(p), was_ready ? "disconnected" : "not connected", why);
    if (p->inbound) {
        if (kick) {
            LOGDEBUG("closing the connection of %s (descriptor %d)", name_of(p), p->fd);
            net_kick(p->fd);
        }
        rid_key(&g->closed_rids[g->closed_next], p->rid, p->rid_len);
        g->closed_next = (g->closed_next + 1) % CLOSED_RIDS;
    } else {
        net_hangup(g->net, slot);
        if (was_ready)
            addrbook_disconnected(g->ab, p->addr, g->now_ms);
        else
            addrbook_dial_failed(g->ab, p->addr, g->now_ms);
    }
    relay_close(g->relay, slot);
    sync_peer_gone(g->sync, slot);
    g->serving_headers[slot] = false;
    if (was_ready && g->next_report_ms > g->now_ms + PEERS_REPORT_SOON_MS)
        g->next_report_ms = g->now_ms + PEERS_REPORT_SOON_MS;
    peer_free(&g->pt, p);
}

/* Closes (or bans and closes) a peer its handlers doomed. */
static void reap(gossip_t *g, peer_t *p)
{
    if (p->state == PEER_FREE || p->doom == PEER_KEEP)
        return;
    if (p->doom == PEER_BAN) {
        LOGWARN("banning peer %s for %" PRIu64 " s (score %d): %s", name_of(p),
                g->cfg.ban_seconds, p->score, p->doom_why);
        peer_ban_peer(&g->pt, p, clock_unix(), g->cfg.ban_seconds);
    }
    close_peer(g, p, p->doom_why, true);
}

static void reap_all(gossip_t *g)
{
    for (size_t i = 0; i < g->pt.cap; i++)
        reap(g, &g->pt.peers[i]);
}

static void misbehave(gossip_t *g, peer_t *p, int points, const char *why)
{
    if (points <= 0)
        return;
    peer_misbehave(p, points, g->now_ms);
    LOGINFO("peer %s misbehaved (+%d, score %d): %s", name_of(p), points, p->score, why);
    if (peer_should_ban(p))
        doom(p, PEER_BAN, why);
}

/* --- sending ------------------------------------------------------------------- */

static mp_buf_t *begin_msg(gossip_t *g, const char *type, uint32_t n_fields)
{
    mp_buf_reset(&g->out);
    proto_begin_peer(&g->out, g->cfg.params->name, type, n_fields);
    return &g->out;
}

static void send_msg(gossip_t *g, peer_t *p)
{
    if (!mp_buf_ok(&g->out) || p->state == PEER_FREE || p->doom != PEER_KEEP)
        return;
    int rc = p->inbound ? net_send_in(g->net, p->rid, p->rid_len, g->out.data, g->out.len)
                        : net_send_out(g->net, peer_slot(&g->pt, p), g->out.data, g->out.len);
    if (rc == NET_GONE) {
        doom(p, PEER_CLOSE, "the connection is gone");
    } else if (rc == NET_FULL) {
        if (++p->send_drops >= SEND_DROPS_MAX)
            doom(p, PEER_CLOSE, "it does not read what it is sent");
    } else {
        p->send_drops = 0;
    }
}

static void send_hello(gossip_t *g, peer_t *p)
{
    uint64_t height = 0;
    hash32_t tip = {{0}};
    (void)sync_view_tip(sync_view(g->sync), &height, &tip);
    mp_buf_t *b = begin_msg(g, "hello", 5);
    mp_put_cstr(b, "version");
    mp_put_uint(b, PROTO_VERSION);
    mp_put_cstr(b, "height");
    mp_put_uint(b, height);
    mp_put_cstr(b, "tip");
    mp_put_bin(b, tip.b, 32);
    mp_put_cstr(b, "listen");
    mp_put_cstr(b, g->advertise);
    mp_put_cstr(b, "node_id");
    mp_put_bin(b, g->node_id, PEER_ID_LEN);
    send_msg(g, p);
}

static void send_hashes(gossip_t *g, peer_t *p, const char *type, relay_kind_t kind,
                        const hash32_t *hashes, size_t n)
{
    if (n == 0)
        return;
    mp_buf_t *b = begin_msg(g, type, 2);
    mp_put_cstr(b, "kind");
    mp_put_cstr(b, kind == RELAY_TX ? "tx" : "block");
    mp_put_cstr(b, "hashes");
    mp_put_array(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        mp_put_bin(b, hashes[i].b, 32);
    send_msg(g, p);
}

static void send_addrs(gossip_t *g, peer_t *p, const char *const *addrs, size_t n)
{
    if (n == 0)
        return;
    mp_buf_t *b = begin_msg(g, "addr", 1);
    mp_put_cstr(b, "addrs");
    mp_put_array(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        mp_put_cstr(b, addrs[i]);
    send_msg(g, p);
}

static void flush_inv(gossip_t *g, peer_t *p, relay_kind_t kind)
{
    uint32_t slot = peer_slot(&g->pt, p);
    size_t n = relay_take_inv(g->relay, slot, kind, g->hashes);
    send_hashes(g, p, "inv", kind, g->hashes, n);
}

static void announce(gossip_t *g, peer_t *p, relay_kind_t kind, const hash32_t *h)
{
    uint32_t slot = peer_slot(&g->pt, p);
    if (relay_announce(g->relay, slot, kind, h) < 0) {
        flush_inv(g, p, kind); /* a full queue is a full inv message */
        (void)relay_announce(g->relay, slot, kind, h);
    }
}

/* Sends the queued announcements. The first after a quiet spell goes at
 * once (a new block's latency is what matters); then at most one inv a kind
 * every INV_FLUSH_MS, so a burst of transactions shares messages. */
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
        g->last_flush_ms = g->now_ms;
}

static bool inv_pending(const gossip_t *g)
{
    for (uint32_t i = 0; i < g->pt.cap; i++)
        if (relay_inv_pending(g->relay, i, RELAY_BLOCK) || relay_inv_pending(g->relay, i, RELAY_TX))
            return true;
    return false;
}

/* --- requests to chaind -------------------------------------------------------- */

static client_tag_t tag_of(gossip_t *g, int kind, const peer_t *p, const hash32_t *h)
{
    client_tag_t t = {.kind = kind};
    if (p) {
        peer_ref_t r = peer_ref(&g->pt, p);
        t.slot = r.slot;
        t.gen = r.gen;
    } else {
        t.slot = UINT32_MAX;
    }
    if (h)
        t.hash = *h;
    return t;
}

static peer_t *tag_peer(gossip_t *g, const client_tag_t *t)
{
    peer_t *p = peer_get(&g->pt, (peer_ref_t){t->slot, t->gen});
    return p && p->state == PEER_READY && p->doom == PEER_KEEP ? p : NULL;
}

/* Submits a transaction or block from p (or, for the download, the peer in
 * tag's slot). -1 when chaind's queue is full. */
static int submit(gossip_t *g, const char *type, const char *field, const uint8_t *data,
                  size_t len, const char *origin, const client_tag_t *tag)
{
    int t = client_begin(g->client, &g->req, type, 2);
    if (t < 0)
        return -1;
    mp_put_cstr(&g->req, field);
    mp_put_bin(&g->req, data, len);
    mp_put_cstr(&g->req, "origin");
    mp_put_cstr(&g->req, origin);
    return client_send(g->client, t, &g->req, tag, g->now_ms + SUBMIT_TIMEOUT_MS);
}

static void request_tip(gossip_t *g)
{
    if (g->tip_pending)
        return;
    int t = client_begin(g->client, &g->req, "get_tip", 0);
    client_tag_t tag = tag_of(g, REQ_TIP, NULL, NULL);
    if (t >= 0 && client_send(g->client, t, &g->req, &tag, g->now_ms + RPC_TIMEOUT_MS) == 0)
        g->tip_pending = true;
}

static void walk_step(gossip_t *g)
{
    g->walk_n = sync_view_locator(sync_view(g->sync), g->walk_loc, g->walk_h, PROTO_MAX_LOCATOR);
    int t = client_begin(g->client, &g->req, "get_headers", 2);
    client_tag_t tag = tag_of(g, REQ_WALK, NULL, NULL);
    if (t < 0) {
        g->walking = false;
        return;
    }
    mp_put_cstr(&g->req, "locator");
    mp_put_array(&g->req, (uint32_t)g->walk_n);
    for (size_t i = 0; i < g->walk_n; i++)
        mp_put_bin(&g->req, g->walk_loc[i].b, 32);
    mp_put_cstr(&g->req, "max");
    mp_put_uint(&g->req, PROTO_MAX_HEADERS);
    g->walking = client_send(g->client, t, &g->req, &tag, g->now_ms + RPC_TIMEOUT_MS) == 0;
}

static void start_walk(gossip_t *g)
{
    if (g->walking)
        return;
    g->walk_restarts = 0;
    g->walk_was_valid = sync_view(g->sync)->valid;
    walk_step(g);
}

static void on_walk(gossip_t *g, const client_result_t *r)
{
    g->walking = false;
    mp_reader_t rd;
    uint32_t n;
    if (r->timed_out || !r->reply.ok || proto_get_array(&r->reply.body, "headers", &rd, &n) < 0)
        return; /* the next tip check starts again */
    sync_view_t *v = sync_view(g->sync);
    uint64_t height = 0;
    bool from_scratch = g->walk_n == 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *raw;
        size_t len;
        if (mp_get_bin(&rd, &raw, &len) < 0 || len != BLOCK_HEADER_LEN)
            return;
        block_header_t h;
        hash32_t hash;
        block_header_decode(&h, raw);
        block_header_hash(&hash, &h);
        if (i == 0) {
            size_t k = 0;
            while (k < g->walk_n && !hash32_eq(&g->walk_loc[k], &h.previous_block_hash))
                k++;
            if (from_scratch) {
                height = 0;
            } else if (k < g->walk_n) {
                height = g->walk_h[k] + 1;
            } else {
                sync_view_reset(v); /* no common point: start from genesis */
                break;
            }
        } else {
            height++;
        }
        /* events move the view while the request is out: what it holds by
         * now is not a reorganisation */
        if (!from_scratch && sync_view_holds(v, height, &hash))
            continue;
        if (sync_view_push(v, height, &hash) < 0) {
            sync_view_reset(v); /* a deep reorganisation: start from genesis */
            break;
        }
    }
    if (!v->valid || n == PROTO_MAX_HEADERS) {
        if (!v->valid && ++g->walk_restarts > 3)
            return; /* chaind's chain moves under us: the next tip check tries again */
        walk_step(g);
        return;
    }
    uint64_t tip_h;
    hash32_t tip;
    if (sync_view_tip(v, &tip_h, &tip)) {
        char hex[65];
        hex_encode(hex, tip.b, 32);
        log_msg(g->walk_was_valid ? LOG_DEBUG : LOG_INFO, "chain view: height %" PRIu64
                ", tip %s", tip_h, hex);
        g->walk_was_valid = true;
    }
    request_tip(g); /* confirm nothing moved meanwhile */
}

static void on_tip(gossip_t *g, const client_result_t *r)
{
    g->tip_pending = false;
    if (r->timed_out) {
        if (g->chaind_up)
            LOGWARN("chaind does not answer at %s", g->cfg.rpc);
        g->chaind_up = false;
        g->have_last_tip = false;
        return;
    }
    if (!g->chaind_up)
        LOGINFO("chaind answers at %s", g->cfg.rpc);
    g->chaind_up = true;
    hash32_t hash;
    uint64_t height;
    if (!r->reply.ok || proto_get_bin_exact(&r->reply.body, "hash", hash.b, 32) < 0 ||
        proto_get_uint(&r->reply.body, "height", &height) < 0)
        return;
    /* the tip of the check before has had its event by now: a view that
     * does not hold it missed something (a lost event, a restart) */
    sync_view_t *v = sync_view(g->sync);
    if (!v->valid || (g->have_last_tip && !sync_view_holds(v, g->last_tip_h, &g->last_tip)))
        start_walk(g);
    g->last_tip = hash;
    g->last_tip_h = height;
    g->have_last_tip = true;
}

static void report_peers(gossip_t *g)
{
    if (g->report_pending)
        return;
    size_t n = peer_count_ready(&g->pt);
    int t = client_begin(g->client, &g->req, "peers", 1);
    if (t < 0)
        return;
    mp_put_cstr(&g->req, "peers");
    mp_put_array(&g->req, (uint32_t)n);
    for (size_t i = 0; i < g->pt.cap; i++) {
        const peer_t *p = &g->pt.peers[i];
        if (p->state != PEER_READY)
            continue;
        char id[2 * PEER_ID_LEN + 1];
        hex_encode(id, p->node_id, PEER_ID_LEN);
        mp_put_map(&g->req, 6);
        mp_put_cstr(&g->req, "addr");
        mp_put_cstr(&g->req, name_of(p));
        mp_put_cstr(&g->req, "inbound");
        mp_put_bool(&g->req, p->inbound);
        mp_put_cstr(&g->req, "height");
        mp_put_uint(&g->req, sync_peer_get_height(g->sync, (uint32_t)i));
        mp_put_cstr(&g->req, "node_id");
        mp_put_cstr(&g->req, id);
        mp_put_cstr(&g->req, "score");
        mp_put_uint(&g->req, (uint64_t)p->score);
        mp_put_cstr(&g->req, "version");
        mp_put_uint(&g->req, p->version);
    }
    client_tag_t tag = tag_of(g, REQ_PEERS, NULL, NULL);
    g->report_pending = client_send(g->client, t, &g->req, &tag, g->now_ms + RPC_TIMEOUT_MS) == 0;
}

/* Answers queued getdata items of p, SERVE_PARALLEL at a time. */
static void serve(gossip_t *g, peer_t *p)
{
    uint32_t slot = peer_slot(&g->pt, p);
    relay_peer_t *rp = relay_peer(g->relay, slot);
    relay_item_t item;
    while (rp && rp->serving < SERVE_PARALLEL &&
           client_pending(g->client) + CLIENT_RESERVE < CLIENT_MAX_PENDING &&
           relay_serve_pop(g->relay, slot, &item)) {
        bool tx = item.kind == RELAY_TX;
        int t = client_begin(g->client, &g->req, tx ? "get_tx" : "get_block", 1);
        if (t < 0)
            break;
        mp_put_cstr(&g->req, tx ? "txid" : "hash");
        mp_put_bin(&g->req, item.hash.b, 32);
        client_tag_t tag = tag_of(g, tx ? REQ_GET_TX : REQ_GET_BLOCK, p, &item.hash);
        if (client_send(g->client, t, &g->req, &tag, g->now_ms + RPC_TIMEOUT_MS) == 0)
            rp->serving++;
    }
}

static void on_served(gossip_t *g, const client_result_t *r)
{
    peer_t *p = tag_peer(g, &r->tag);
    if (!p)
        return;
    relay_peer_t *rp = relay_peer(g->relay, peer_slot(&g->pt, p));
    if (rp && rp->serving)
        rp->serving--;
    bool tx = r->tag.kind == REQ_GET_TX;
    const uint8_t *data;
    size_t len;
    if (!r->timed_out && r->reply.ok &&
        proto_get_bin(&r->reply.body, tx ? "tx" : "block", &data, &len) == 0) {
        mp_buf_t *b = begin_msg(g, tx ? "tx" : "block", 1);
        mp_put_cstr(b, tx ? "tx" : "block");
        mp_put_bin(b, data, len);
        send_msg(g, p);
    } else {
        send_hashes(g, p, "notfound", tx ? RELAY_TX : RELAY_BLOCK, &r->tag.hash, 1);
    }
    serve(g, p);
}

static void on_headers_served(gossip_t *g, const client_result_t *r)
{
    if (r->tag.slot < g->pt.cap)
        g->serving_headers[r->tag.slot] = false;
    peer_t *p = tag_peer(g, &r->tag);
    mp_reader_t rd;
    uint32_t n;
    if (!p || r->timed_out || !r->reply.ok ||
        proto_get_array(&r->reply.body, "headers", &rd, &n) < 0 || n > PROTO_MAX_HEADERS)
        return;
    mp_buf_t *b = begin_msg(g, "headers", 1);
    mp_put_cstr(b, "headers");
    mp_put_array(b, n);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *raw;
        size_t len;
        if (mp_get_bin(&rd, &raw, &len) < 0 || len != BLOCK_HEADER_LEN)
            return;
        mp_put_bin(b, raw, len);
    }
    send_msg(g, p);
}

/* A rejection's code, as chaind gave it. */
static err_code_t reply_code(const client_result_t *r)
{
    return r->timed_out ? ERR_UNAVAILABLE : r->reply.ok ? ERR_OK : r->reply.code;
}

static void on_submitted_tx(gossip_t *g, const client_result_t *r)
{
    err_code_t code = reply_code(r);
    if (code == ERR_UNAVAILABLE)
        return;
    /* refused for good (invalid, known, spent): not fetched again; a missing
     * parent or a full mempool may change, so those may be offered again */
    if (code == ERR_OK || code == ERR_KNOWN || code == ERR_DOUBLE_SPEND || err_ban_score(code) >= PEER_BAN_SCORE)
        relay_note_seen(g->relay, &r->tag.hash);
    peer_t *p = tag_peer(g, &r->tag);
    if (p && code != ERR_OK) {
        char why[256];
        snprintf(why, sizeof why, "a transaction chaind rejects (%s: %s)", err_str(code),
                 r->reply.message);
        misbehave(g, p, err_ban_score(code), why);
    }
}

static void on_submitted_block(gossip_t *g, const client_result_t *r)
{
    err_code_t code = reply_code(r);
    char status[16] = "";
    if (code == ERR_OK)
        (void)proto_get_str(&r->reply.body, "status", status, sizeof status);
    bool orphan = code == ERR_OK && strcmp(status, "orphan") == 0;
    peer_t *p = tag_peer(g, &r->tag);
    if (r->tag.kind == REQ_SYNC_BLOCK) {
        sync_verdict_t v = code == ERR_UNAVAILABLE ? SYNC_UNANSWERED
                           : code != ERR_OK        ? SYNC_REJECTED
                           : orphan                ? SYNC_ORPHANED
                                                   : SYNC_ACCEPTED;
        if (v == SYNC_ACCEPTED)
            relay_note_seen(g->relay, &r->tag.hash);
        sync_submitted(g->sync, &r->tag.hash, v, code, g->now_ms);
        return;
    }
    if (code == ERR_UNAVAILABLE)
        return;
    if (!orphan)
        relay_note_seen(g->relay, &r->tag.hash);
    if (!p)
        return;
    if (orphan) {
        sync_announced(g->sync, peer_slot(&g->pt, p)); /* we lack its parents */
    } else if (code != ERR_OK) {
        char why[256];
        snprintf(why, sizeof why, "a block chaind rejects (%s: %s)", err_str(code),
                 r->reply.message);
        misbehave(g, p, err_ban_score(code), why);
    }
}

static void on_reply(gossip_t *g, const client_result_t *r)
{
    switch (r->tag.kind) {
    case REQ_TIP: on_tip(g, r); break;
    case REQ_WALK: on_walk(g, r); break;
    case REQ_HEADERS: on_headers_served(g, r); break;
    case REQ_GET_BLOCK:
    case REQ_GET_TX: on_served(g, r); break;
    case REQ_SUBMIT_TX: on_submitted_tx(g, r); break;
    case REQ_SUBMIT_BLOCK:
    case REQ_SYNC_BLOCK: on_submitted_block(g, r); break;
    case REQ_PEERS: g->report_pending = false; break;
    default: break;
    }
    peer_t *p = r->tag.slot < g->pt.cap ? &g->pt.peers[r->tag.slot] : NULL;
    if (p)
        reap(g, p);
}

/* --- sync's operations ----------------------------------------------------------- */

static peer_t *ready_slot(gossip_t *g, uint32_t slot)
{
    peer_t *p = slot < g->pt.cap ? &g->pt.peers[slot] : NULL;
    return p && p->state == PEER_READY && p->doom == PEER_KEEP ? p : NULL;
}

static void op_getheaders(void *ctx, uint32_t slot, const hash32_t *locator, size_t n)
{
    gossip_t *g = ctx;
    peer_t *p = ready_slot(g, slot);
    if (!p)
        return;
    mp_buf_t *b = begin_msg(g, "getheaders", 1);
    mp_put_cstr(b, "locator");
    mp_put_array(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        mp_put_bin(b, locator[i].b, 32);
    send_msg(g, p);
}

static void op_getdata(void *ctx, uint32_t slot, const hash32_t *hashes, size_t n)
{
    gossip_t *g = ctx;
    peer_t *p = ready_slot(g, slot);
    if (p)
        send_hashes(g, p, "getdata", RELAY_BLOCK, hashes, n);
}

static int op_submit(void *ctx, uint32_t from, const hash32_t *hash, const uint8_t *block,
                     size_t len)
{
    gossip_t *g = ctx;
    peer_t *p = ready_slot(g, from);
    if (client_pending(g->client) + CLIENT_RESERVE >= CLIENT_MAX_PENDING)
        return -1;
    client_tag_t tag = tag_of(g, REQ_SYNC_BLOCK, p, hash);
    if (!p)
        tag.slot = UINT32_MAX;
    return submit(g, "submit_block", "block", block, len, p ? p->origin : "peer:gone", &tag);
}

static void op_misbehave(void *ctx, uint32_t slot, err_code_t code, const char *why)
{
    gossip_t *g = ctx;
    peer_t *p = ready_slot(g, slot);
    if (p) {
        char text[160];
        snprintf(text, sizeof text, "%s (%s)", why, err_str(code));
        misbehave(g, p, err_ban_score(code), text);
    }
}

static void op_drop(void *ctx, uint32_t slot, const char *why)
{
    gossip_t *g = ctx;
    peer_t *p = ready_slot(g, slot);
    if (p)
        doom(p, PEER_CLOSE, why);
}

/* --- peer messages ----------------------------------------------------------------- */

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
    const uint8_t *io = old->inbound ? old->node_id : g->node_id;
    const uint8_t *in = fresh->inbound ? fresh->node_id : g->node_id;
    int c = memcmp(in, io, PEER_ID_LEN);
    return c < 0;
}

static void on_hello(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
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
        doom(p, PEER_CLOSE, "an older protocol version");
        return;
    }
    if (memcmp(id, g->node_id, PEER_ID_LEN) == 0) {
        if (p->inbound) {
            /* answer, so the dialling side (this node) learns where it is;
             * then forget the connection: the dialler hangs up */
            send_hello(g, p);
            peer_free(&g->pt, p);
        } else {
            LOGINFO("%s is this node: not dialled again", p->addr);
            addrbook_mark_self(g->ab, p->addr);
            doom(p, PEER_CLOSE, "a connection to ourselves");
        }
        return;
    }
    if (p->inbound)
        dialable(p, listen, addr);
    else
        snprintf(addr, sizeof addr, "%s", p->addr);
    if (peer_banned_any(&g->pt, addr, id, p->ip, clock_unix())) {
        LOGINFO("refusing banned peer %s", addr[0] ? addr : name_of(p));
        doom(p, PEER_CLOSE, "banned");
        return;
    }
    p->have_id = true;
    memcpy(p->node_id, id, PEER_ID_LEN);
    p->version = version;
    peer_t *twin = peer_find_id(&g->pt, id, p);
    if (twin) {
        if (!keep_new(g, twin, p)) {
            if (!p->inbound)
                addrbook_note_id(g->ab, p->addr, id);
            doom(p, PEER_CLOSE, "a second connection to a connected node");
            return;
        }
        doom(twin, PEER_CLOSE, "a second connection to a connected node");
        reap(g, twin);
    }
    uint32_t slot = peer_slot(&g->pt, p);
    /* the origin names one peer: a second peer claiming a connected peer's
     * address is known by its node id instead */
    for (size_t i = 0; p->inbound && addr[0] && i < g->pt.cap; i++)
        if (&g->pt.peers[i] != p && g->pt.peers[i].state == PEER_READY &&
            strcmp(g->pt.peers[i].addr, addr) == 0)
            addr[0] = '\0';
    peer_set_addr(p, addr);
    if (relay_open(g->relay, slot) < 0) {
        doom(p, PEER_CLOSE, "out of memory");
        return;
    }
    if (p->inbound)
        send_hello(g, p);
    else
        addrbook_connected(g->ab, p->addr, id, clock_unix());
    p->state = PEER_READY;
    p->last_ping_ms = g->now_ms;
    sync_peer_ready(g->sync, slot, height);
    char idhex[2 * PEER_ID_LEN + 1];
    hex_encode(idhex, id, PEER_ID_LEN);
    LOGINFO("peer %s connected (%s, height %" PRIu64 ", node %s)", name_of(p),
            p->inbound ? "inbound" : "outbound", height, idhex);
    /* tell it whom we know; tell the others about it if it is new */
    const char *sample[ADDR_SAMPLE + 1];
    size_t n = addrbook_sample(g->ab, sample, ADDR_SAMPLE);
    if (addrbook_valid(g->advertise))
        sample[n++] = g->advertise;
    send_addrs(g, p, sample, n);
    bool fresh = p->inbound && addr[0] && addrbook_add(g->ab, addr, ADDR_GOSSIP, g->now_ms) == 1;
    if (p->inbound && addr[0])
        addrbook_note_id(g->ab, addr, id); /* connected: not dialled while it stays */
    if (fresh) {
        const char *one[1] = {addr};
        for (size_t i = 0; i < g->pt.cap; i++)
            if (&g->pt.peers[i] != p && g->pt.peers[i].state == PEER_READY)
                send_addrs(g, &g->pt.peers[i], one, 1);
    }
    if (g->next_report_ms > g->now_ms + PEERS_REPORT_SOON_MS)
        g->next_report_ms = g->now_ms + PEERS_REPORT_SOON_MS;
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
            send_addrs(g, &g->pt.peers[i], fwd, n_fresh);
}

/* The kind field of inv, getdata, notfound; -1 (and a score) for another. */
static int kind_of(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    char kind[8];
    if (proto_get_str(&m->body, "kind", kind, sizeof kind) == 0) {
        if (strcmp(kind, "tx") == 0)
            return RELAY_TX;
        if (strcmp(kind, "block") == 0)
            return RELAY_BLOCK;
    }
    misbehave(g, p, err_ban_score(ERR_BAD_REQUEST), "an unknown inventory kind");
    return -1;
}

/* Reads the hashes field into g->hashes; their count, or -1. */
static int read_hashes(gossip_t *g, const proto_peer_msg_t *m, const char *field)
{
    mp_reader_t r;
    uint32_t n;
    if (proto_get_array(&m->body, field, &r, &n) < 0 || n > PROTO_MAX_INV)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        if (mp_get_bin_exact(&r, g->hashes[i].b, 32) < 0)
            return -1;
    return (int)n;
}

static void on_inv(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    int kind = kind_of(g, p, m), n = kind < 0 ? -1 : read_hashes(g, m, "hashes");
    if (n < 0)
        return;
    uint32_t slot = peer_slot(&g->pt, p);
    size_t want = 0;
    bool busy = sync_busy(g->sync);
    for (int i = 0; i < n; i++) {
        const hash32_t *h = &g->hashes[i];
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
            g->hashes[want++] = *h; /* compacts in place: want <= i */
    }
    send_hashes(g, p, "getdata", (relay_kind_t)kind, g->hashes, want);
}

static void on_getdata(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    int kind = kind_of(g, p, m), n = kind < 0 ? -1 : read_hashes(g, m, "hashes");
    if (n < 0)
        return;
    uint32_t slot = peer_slot(&g->pt, p);
    size_t missing = 0;
    for (int i = 0; i < n; i++) {
        const hash32_t *h = &g->hashes[i];
        relay_learn(g->relay, slot, h);
        if (!relay_serve_push(g->relay, slot, (relay_kind_t)kind, h))
            g->hashes[missing++] = *h;
    }
    send_hashes(g, p, "notfound", (relay_kind_t)kind, g->hashes, missing);
    serve(g, p);
}

static void on_notfound(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    int kind = kind_of(g, p, m), n = kind < 0 ? -1 : read_hashes(g, m, "hashes");
    uint32_t slot = peer_slot(&g->pt, p);
    for (int i = 0; i < n; i++) {
        relay_fulfil(g->relay, slot, &g->hashes[i]);
        if (kind == RELAY_BLOCK)
            sync_on_notfound(g->sync, slot, &g->hashes[i]);
    }
}

/* The hash of a block message's block, from its header; -1 when the block
 * does not start [bin(88), …]. */
static int block_hash_of(const uint8_t *block, size_t len, hash32_t *hash)
{
    mp_reader_t r;
    uint32_t n;
    const uint8_t *header;
    size_t hlen;
    mp_reader_init(&r, block, len, false);
    if (mp_get_array(&r, &n) < 0 || n != 2 || mp_get_bin(&r, &header, &hlen) < 0 ||
        hlen != BLOCK_HEADER_LEN)
        return -1;
    hash_sha256d(hash, header, hlen);
    return 0;
}

static void on_block(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    const uint8_t *data;
    size_t len;
    hash32_t h;
    uint32_t slot = peer_slot(&g->pt, p);
    (void)proto_get_bin(&m->body, "block", &data, &len);
    if (block_hash_of(data, len, &h) < 0) {
        misbehave(g, p, err_ban_score(ERR_BAD_ENCODING), "a block that is no block");
        return;
    }
    relay_learn(g->relay, slot, &h);
    relay_fulfil(g->relay, slot, &h);
    if (sync_on_block(g->sync, slot, &h, data, len, g->now_ms) || relay_seen(g->relay, &h))
        return;
    client_tag_t tag = tag_of(g, REQ_SUBMIT_BLOCK, p, &h);
    if (submit(g, "submit_block", "block", data, len, p->origin, &tag) < 0)
        LOGDEBUG("block from %s dropped: chaind's queue is full", name_of(p));
}

static void on_tx(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    const uint8_t *data;
    size_t len;
    hash32_t h;
    uint32_t slot = peer_slot(&g->pt, p);
    (void)proto_get_bin(&m->body, "tx", &data, &len);
    hash_sha256d(&h, data, len); /* the txid, if chaind finds the encoding canonical */
    relay_learn(g->relay, slot, &h);
    relay_fulfil(g->relay, slot, &h);
    if (relay_seen(g->relay, &h))
        return;
    client_tag_t tag = tag_of(g, REQ_SUBMIT_TX, p, &h);
    if (submit(g, "submit_tx", "tx", data, len, p->origin, &tag) < 0)
        LOGDEBUG("transaction from %s dropped: chaind's queue is full", name_of(p));
}

static void on_getheaders(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    uint32_t slot = peer_slot(&g->pt, p);
    mp_reader_t r;
    uint32_t n;
    if (g->serving_headers[slot] || proto_get_array(&m->body, "locator", &r, &n) < 0)
        return; /* one at a time: a peer that asks again before the answer waits */
    int t = client_begin(g->client, &g->req, "get_headers", 2);
    if (t < 0)
        return;
    mp_put_cstr(&g->req, "locator");
    mp_put_array(&g->req, n);
    for (uint32_t i = 0; i < n; i++) {
        hash32_t h;
        if (mp_get_bin_exact(&r, h.b, 32) < 0) {
            client_cancel(g->client, t);
            return;
        }
        mp_put_bin(&g->req, h.b, 32);
    }
    mp_put_cstr(&g->req, "max");
    mp_put_uint(&g->req, PROTO_MAX_HEADERS);
    client_tag_t tag = tag_of(g, REQ_HEADERS, p, NULL);
    if (client_send(g->client, t, &g->req, &tag, g->now_ms + RPC_TIMEOUT_MS) == 0)
        g->serving_headers[slot] = true;
}

static void on_headers(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    mp_reader_t r;
    uint32_t n;
    if (proto_get_array(&m->body, "headers", &r, &n) < 0 || n > PROTO_MAX_HEADERS)
        return;
    for (uint32_t i = 0; i < n; i++)
        if (mp_get_bin_exact(&r, g->hdrbuf + (size_t)i * BLOCK_HEADER_LEN, BLOCK_HEADER_LEN) < 0)
            return;
    (void)sync_on_headers(g->sync, peer_slot(&g->pt, p), g->hdrbuf, n, g->now_ms);
}

static void on_ping(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    uint64_t nonce;
    (void)proto_get_uint(&m->body, "nonce", &nonce);
    mp_buf_t *b = begin_msg(g, "pong", 1);
    mp_put_cstr(b, "nonce");
    mp_put_uint(b, nonce);
    send_msg(g, p);
}

/* What a message costs from the flood bucket: answers to our own requests
 * are free (their number is bounded by what we ask), the rest cost one. */
static double cost_of(gossip_t *g, peer_t *p, const proto_peer_msg_t *m)
{
    uint32_t slot = peer_slot(&g->pt, p);
    const uint8_t *data;
    size_t len;
    hash32_t h;
    uint64_t nonce;
    if (strcmp(m->type, "block") == 0) {
        (void)proto_get_bin(&m->body, "block", &data, &len);
        if (block_hash_of(data, len, &h) == 0 &&
            (sync_expects(g->sync, slot, &h) || relay_asked(g->relay, slot, &h)))
            return 0;
    } else if (strcmp(m->type, "tx") == 0) {
        (void)proto_get_bin(&m->body, "tx", &data, &len);
        hash_sha256d(&h, data, len);
        if (relay_asked(g->relay, slot, &h))
            return 0;
    } else if (strcmp(m->type, "headers") == 0) {
        if (sync_expects_headers(g->sync, slot))
            return 0;
    } else if (strcmp(m->type, "pong") == 0) {
        if (proto_get_uint(&m->body, "nonce", &nonce) == 0 && nonce == p->ping_nonce)
            return 0;
    }
    return 1;
}

/* A hello of another network still names its sender: its address and node
 * id are what a ban can hold on to (a loopback IP cannot be banned). */
static void name_foreign(peer_t *p, const uint8_t *data, size_t len)
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
    if (proto_decode_peer(&m, network, data, len, NULL) < 0 || strcmp(m.type, "hello") != 0 ||
        proto_get_bin_exact(&m.body, "node_id", p->node_id, PEER_ID_LEN) < 0)
        return;
    p->have_id = true;
    if (proto_get_str(&m.body, "listen", listen, sizeof listen) == 0) {
        dialable(p, listen, addr);
        peer_set_addr(p, addr);
    }
}

static void handle(gossip_t *g, peer_t *p, const uint8_t *data, size_t len, bool malformed)
{
    p->last_recv_ms = g->now_ms;
    if (malformed) {
        misbehave(g, p, err_ban_score(ERR_BAD_ENCODING), "a message of several frames");
        return;
    }
    proto_peer_msg_t m;
    err_t e;
    if (peer_decode(p, g->cfg.params->name, data, len, g->now_ms, &m, &e) < 0) {
        if (e.code == ERR_BAD_NETWORK && p->state != PEER_READY)
            name_foreign(p, data, len);
        LOGINFO("peer %s sent a bad message (%s, score %d): %s", name_of(p), err_str(e.code),
                p->score, e.message);
        if (peer_should_ban(p))
            doom(p, PEER_BAN, e.message);
        return;
    }
    double cost = p->state == PEER_READY ? cost_of(g, p, &m) : 1;
    if (!peer_charge(p, g->now_ms, cost)) {
        if (peer_should_ban(p))
            doom(p, PEER_BAN, "a flood of messages");
        return;
    }
    LOGDEBUG("peer %s: %s", name_of(p), m.type);
    if (p->state != PEER_READY) {
        if (strcmp(m.type, "hello") == 0)
            on_hello(g, p, &m);
        else
            misbehave(g, p, err_ban_score(ERR_BAD_REQUEST), "a message before its hello");
        return;
    }
    const char *t = m.type;
    if (strcmp(t, "hello") == 0) {
        uint64_t height;
        if (proto_get_uint(&m.body, "height", &height) == 0)
            sync_peer_height(g->sync, peer_slot(&g->pt, p), height);
    } else if (strcmp(t, "addr") == 0) {
        on_addr(g, p, &m);
    } else if (strcmp(t, "inv") == 0) {
        on_inv(g, p, &m);
    } else if (strcmp(t, "getdata") == 0) {
        on_getdata(g, p, &m);
    } else if (strcmp(t, "notfound") == 0) {
        on_notfound(g, p, &m);
    } else if (strcmp(t, "tx") == 0) {
        on_tx(g, p, &m);
    } else if (strcmp(t, "block") == 0) {
        on_block(g, p, &m);
    } else if (strcmp(t, "getheaders") == 0) {
        on_getheaders(g, p, &m);
    } else if (strcmp(t, "headers") == 0) {
        on_headers(g, p, &m);
    } else if (strcmp(t, "ping") == 0) {
        on_ping(g, p, &m);
    }
    /* pong: last_recv_ms is all it is for */
}

static void on_inbound(gossip_t *g, const uint8_t *rid, size_t rid_len, int fd, const char *ip,
                       const uint8_t *data, size_t len, bool malformed)
{
    peer_t *p = peer_find_rid(&g->pt, rid, rid_len);
    if (!p) {
        if (rid_len > PEER_RID_MAX || rid_closed(g, rid, rid_len) ||
            peer_banned_any(&g->pt, NULL, NULL, ip, clock_unix())) {
            net_kick(fd);
            return;
        }
        p = peer_alloc(&g->pt, true, g->now_ms, HELLO_TIMEOUT_MS);
        if (!p) {
            LOGDEBUG("inbound connection from %s refused: %zu inbound peers", ip,
                     g->pt.max_inbound);
            net_kick(fd);
            return;
        }
        memcpy(p->rid, rid, rid_len);
        p->rid_len = rid_len;
        snprintf(p->ip, sizeof p->ip, "%s", ip);
    }
    if (fd >= 0)
        p->fd = fd;
    handle(g, p, data, len, malformed);
    reap(g, p);
}

void gossip_inject(gossip_t *g, const uint8_t *rid, size_t rid_len, int fd, const char *ip,
                   const uint8_t *data, size_t len)
{
    g->now_ms = clock_ms();
    on_inbound(g, rid, rid_len, fd, ip ? ip : "", data, len, false);
}

const peer_table_t *gossip_peers(const gossip_t *g) { return &g->pt; }

/* --- chaind's events ------------------------------------------------------------- */

static void on_block_event(gossip_t *g, const proto_event_t *ev, bool gap)
{
    hash32_t hash;
    uint64_t height;
    char origin[PEER_ORIGIN_MAX + 1] = "";
    if (proto_get_bin_exact(&ev->body, "hash", hash.b, 32) < 0 ||
        proto_get_uint(&ev->body, "height", &height) < 0)
        return;
    (void)proto_get_str(&ev->body, "origin", origin, sizeof origin);
    if (gap)
        LOGINFO("missed block events from chaind: rebuilding the chain view");
    /* events queue behind a rebuild of the view: one it already holds is
     * late, not a reorganisation (a real one the next tip check finds) */
    sync_view_t *v = sync_view(g->sync);
    if (g->walking) {
        /* the rebuild covers what it has not reached; only the next block
         * after it is taken, so an event ahead of it does not undo it */
        if (v->valid && height == v->height + 1)
            (void)sync_view_push(v, height, &hash);
    } else if (!sync_view_holds(v, height, &hash) &&
               (sync_view_push(v, height, &hash) < 0 || gap)) {
        start_walk(g);
    }
    relay_note_seen(g->relay, &hash);
    peer_t *from = peer_find_origin(&g->pt, origin);
    if (from) {
        sync_peer_height(g->sync, peer_slot(&g->pt, from), height);
        relay_learn(g->relay, peer_slot(&g->pt, from), &hash);
    }
    /* a peer at or above this height has it or a rival: an inv would only
     * make it fetch a block it has (a rival chain is found by its orphans) */
    for (size_t i = 0; i < g->pt.cap; i++) {
        peer_t *p = &g->pt.peers[i];
        if (p != from && p->state == PEER_READY &&
            sync_peer_get_height(g->sync, (uint32_t)i) < height)
            announce(g, p, RELAY_BLOCK, &hash);
    }
}

static void on_tx_event(gossip_t *g, const proto_event_t *ev)
{
    hash32_t txid;
    char origin[PEER_ORIGIN_MAX + 1] = "";
    if (proto_get_bin_exact(&ev->body, "txid", txid.b, 32) < 0)
        return;
    (void)proto_get_str(&ev->body, "origin", origin, sizeof origin);
    relay_note_seen(g->relay, &txid);
    peer_t *from = peer_find_origin(&g->pt, origin);
    for (size_t i = 0; i < g->pt.cap; i++) {
        peer_t *p = &g->pt.peers[i];
        if (p != from && p->state == PEER_READY)
            announce(g, p, RELAY_TX, &txid);
    }
}

static void on_event(gossip_t *g, const proto_event_t *ev, bool gap)
{
    if (strcmp(ev->topic, "block") == 0) {
        on_block_event(g, ev, gap);
    } else if (strcmp(ev->topic, "tx") == 0) {
        on_tx_event(g, ev);
    } else if (strcmp(ev->topic, "peer.add") == 0) {
        char host[ADDRBOOK_ADDR_MAX + 1];
        if (proto_get_str(&ev->body, "hostname", host, sizeof host) < 0)
            return;
        if (addrbook_add(g->ab, host, ADDR_ADVERT, g->now_ms) < 0) {
            LOGWARN("advertised peer \"%s\" is not a dialable host:port", host);
            return;
        }
        LOGINFO("advertised peer %s: dialling", host);
        g->next_dial_ms = g->now_ms;
    }
}

/* --- timers ------------------------------------------------------------------------- */

static bool skip_dial(void *ctx, const addrbook_entry_t *x)
{
    gossip_t *g = ctx;
    return peer_banned(&g->pt, x->addr, clock_unix()) ||
           (x->have_id && (memcmp(x->node_id, g->node_id, PEER_ID_LEN) == 0 ||
                           peer_find_id(&g->pt, x->node_id, NULL)));
}

static void dial(gossip_t *g)
{
    while (g->pt.n_outbound < g->pt.max_outbound) {
        const char *addr = addrbook_next_dial(g->ab, g->now_ms, skip_dial, g);
        if (!addr)
            return;
        char ep[NET_ENDPOINT_MAX];
        err_t e;
        peer_t *p = peer_alloc(&g->pt, false, g->now_ms, HELLO_TIMEOUT_MS);
        if (!p)
            return;
        peer_set_addr(p, addr);
        if (net_endpoint(ep, sizeof ep, addr) < 0 ||
            net_dial(g->net, peer_slot(&g->pt, p), ep, &e) < 0) {
            close_peer(g, p, "cannot dial", false);
            continue;
        }
        LOGDEBUG("dialling %s", addr);
        send_hello(g, p); /* queued until the connection is up */
    }
}

static void ping_and_expire(gossip_t *g)
{
    for (size_t i = 0; i < g->pt.cap; i++) {
        peer_t *p = &g->pt.peers[i];
        if (p->state == PEER_FREE)
            continue;
        if (p->state != PEER_READY && g->now_ms >= p->deadline_ms) {
            doom(p, PEER_CLOSE, "no hello in time");
        } else if (p->state == PEER_READY && g->now_ms - p->last_recv_ms >= SILENCE_MS) {
            doom(p, PEER_CLOSE, "silent too long");
        } else if (p->state == PEER_READY && g->now_ms - p->last_ping_ms >= PING_MS) {
            p->last_ping_ms = g->now_ms;
            if (RAND_bytes((unsigned char *)&p->ping_nonce, sizeof p->ping_nonce) != 1)
                p->ping_nonce = g->now_ms;
            mp_buf_t *b = begin_msg(g, "ping", 1);
            mp_put_cstr(b, "nonce");
            mp_put_uint(b, p->ping_nonce);
            send_msg(g, p);
        }
        reap(g, p);
    }
}

static void save(gossip_t *g)
{
    err_t e;
    if (addrbook_save(g->ab, g->peers_path, &e) < 0)
        LOGWARN("%s", e.message);
    if (peer_bans_save(&g->pt, g->bans_path, &e) < 0)
        LOGWARN("%s", e.message);
}

static void log_status(gossip_t *g)
{
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

static void timers(gossip_t *g)
{
    uint64_t now = g->now_ms;
    if (now >= g->next_dial_ms) {
        g->next_dial_ms = now + DIAL_MS;
        dial(g);
    }
    if (now >= g->next_tick_ms) {
        g->next_tick_ms = now + TICK_MS;
        client_result_t r;
        while (client_expired(g->client, now, &r))
            on_reply(g, &r);
        relay_expire(g->relay, now);
        peer_bans_expire(&g->pt, clock_unix());
        ping_and_expire(g);
    }
    if (now >= g->next_tip_ms) {
        g->next_tip_ms = now + TIP_CHECK_MS;
        request_tip(g);
    }
    if (now >= g->next_report_ms) {
        g->next_report_ms = now + PEERS_REPORT_MS;
        report_peers(g);
    }
    if (now >= g->next_save_ms) {
        g->next_save_ms = now + SAVE_MS;
        save(g);
    }
    if (now >= g->next_status_ms) {
        g->next_status_ms = now + STATUS_LOG_MS;
        log_status(g);
    }
}

/* --- the loop -------------------------------------------------------------------- */

static void read_router(gossip_t *g)
{
    net_event_t ev;
    while (net_event_in(g->net, &ev)) {
        if (ev.event == ZMQ_EVENT_ACCEPTED) {
            /* ZeroMQ accepts whatever comes: the cap on connections (not only
             * on handshaken peers) is kept here, with room for handshakes */
            if (++g->conns_in > (long)g->pt.max_inbound + 8) {
                LOGINFO("too many inbound connections: closing a new one");
                net_kick(ev.value);
            }
        } else if (ev.event == ZMQ_EVENT_DISCONNECTED) {
            g->conns_in--;
            peer_t *p = peer_find_fd(&g->pt, ev.value);
            if (p)
                close_peer(g, p, "the connection closed", false);
        }
    }
    net_msg_t m;
    for (int i = 0; i < BUDGET_ROUTER && net_recv_in(g->net, &m); i++) {
        on_inbound(g, m.rid, m.rid_len, m.fd, m.ip, zmq_msg_data(&m.payload),
                   zmq_msg_size(&m.payload), m.malformed);
        net_msg_close(&m);
    }
}

static void read_dealer(gossip_t *g, uint32_t slot)
{
    peer_t *p = &g->pt.peers[slot];
    net_event_t ev;
    while (p->state != PEER_FREE && net_event_out(g->net, slot, &ev)) {
        if (ev.event == ZMQ_EVENT_DISCONNECTED || ev.event == ZMQ_EVENT_CLOSED ||
            ev.event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
            ev.event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
            close_peer(g, p, ev.event == ZMQ_EVENT_CLOSED ? "connection refused"
                                                          : "the connection closed", false);
            return;
        }
    }
    net_msg_t m;
    for (int i = 0; i < BUDGET_DEALER && p->state != PEER_FREE && net_recv_out(g->net, slot, &m);
         i++) {
        handle(g, p, zmq_msg_data(&m.payload), zmq_msg_size(&m.payload), m.malformed);
        net_msg_close(&m);
        reap(g, p);
    }
}

static void read_chaind(gossip_t *g)
{
    client_result_t r;
    for (int i = 0; i < BUDGET_RPC && client_recv(g->client, &r); i++)
        on_reply(g, &r);
    proto_event_t ev;
    bool gap;
    for (int i = 0; i < BUDGET_EVENTS && client_recv_event(g->client, &ev, &gap); i++)
        on_event(g, &ev, gap);
}

void gossip_run(gossip_t *g, volatile sig_atomic_t *stop, void (*tick)(void *ctx), void *ctx)
{
    size_t max_items = 4 + 2 * g->pt.cap;
    zmq_pollitem_t *items = calloc(max_items, sizeof *items);
    uint32_t *slots = calloc(max_items, sizeof *slots);
    if (!items || !slots) {
        LOGERR("out of memory");
        free(items);
        free(slots);
        return;
    }
    g->now_ms = clock_ms();
    request_tip(g);
    while (!*stop) {
        size_t n = 0;
        items[n++] = (zmq_pollitem_t){net_router(g->net), 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){net_router_monitor(g->net), 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){client_rpc_socket(g->client), 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){client_events_socket(g->client), 0, ZMQ_POLLIN, 0};
        for (uint32_t s = 0; s < g->pt.cap; s++) {
            if (!net_dealer(g->net, s))
                continue;
            slots[n] = s;
            items[n++] = (zmq_pollitem_t){net_dealer(g->net, s), 0, ZMQ_POLLIN, 0};
            slots[n] = s;
            items[n++] = (zmq_pollitem_t){net_dealer_monitor(g->net, s), 0, ZMQ_POLLIN, 0};
        }
        long timeout = inv_pending(g) ? INV_FLUSH_MS : TICK_MS;
        int rc = zmq_poll(items, (int)n, timeout);
        if (rc < 0 && zmq_errno() != EINTR) {
            LOGERR("zmq_poll: %s", zmq_strerror(zmq_errno()));
            break;
        }
        g->now_ms = clock_ms();
        if (rc > 0) {
            read_chaind(g);
            read_router(g);
            for (size_t i = 4; i < n; i += 2)
                if ((items[i].revents | items[i + 1].revents) & ZMQ_POLLIN)
                    read_dealer(g, slots[i]);
        }
        timers(g);
        sync_pump(g->sync, g->now_ms);
        reap_all(g);
        if (g->now_ms - g->last_flush_ms >= INV_FLUSH_MS)
            flush_all(g);
        reap_all(g);
        if (tick)
            tick(ctx);
    }
    free(items);
    free(slots);
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

int gossip_open(gossip_t **out, const gossip_config_t *cfg, err_t *e)
{
    *out = NULL;
    gossip_t *g = calloc(1, sizeof *g);
    if (!g)
        return err_set(e, ERR_INTERNAL, "out of memory");
    g->cfg = *cfg;
    g->now_ms = clock_ms();
    snprintf(g->advertise, sizeof g->advertise, "%s", cfg->advertise ? cfg->advertise : "");
    snprintf(g->peers_path, sizeof g->peers_path, "%s/peers.txt", cfg->datadir);
    snprintf(g->bans_path, sizeof g->bans_path, "%s/bans.txt", cfg->datadir);
    mp_buf_init(&g->out, PROTO_MAX_MSG);
    mp_buf_init(&g->req, PROTO_MAX_MSG);
    if (RAND_bytes(g->node_id, PEER_ID_LEN) != 1) {
        free(g);
        return err_set(e, ERR_INTERNAL, "no randomness for the node id");
    }
    int rc = make_dirs(cfg->datadir, e);
    if (rc == 0 && peer_table_init(&g->pt, cfg->max_inbound, cfg->max_outbound) < 0)
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    if (rc < 0) {
        mp_buf_free(&g->out);
        mp_buf_free(&g->req);
        free(g);
        return rc;
    }
    sync_ops_t ops = {g, op_getheaders, op_getdata, op_submit, op_misbehave, op_drop};
    g->ab = addrbook_new(g->advertise);
    g->relay = relay_new(g->pt.cap);
    g->sync = sync_new(g->pt.cap, cfg->params, &ops);
    g->hdrbuf = malloc((size_t)PROTO_MAX_HEADERS * BLOCK_HEADER_LEN);
    g->hashes = malloc(PROTO_MAX_INV * sizeof *g->hashes);
    g->serving_headers = calloc(g->pt.cap ? g->pt.cap : 1, sizeof *g->serving_headers);
    g->zctx = zmq_ctx_new();
    if (!g->ab || !g->relay || !g->sync || !g->hdrbuf || !g->hashes || !g->serving_headers ||
        !g->zctx)
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    static const char *const topics[] = {"block", "tx", "peer.add", NULL};
    if (rc == 0)
        rc = net_open(&g->net, g->zctx, cfg->listen, g->pt.cap, e);
    if (rc == 0)
        rc = client_open(&g->client, g->zctx, cfg->rpc, cfg->events, topics, e);
    if (rc == 0 && (rc = addrbook_load(g->ab, g->peers_path, g->now_ms, e)) == 0)
        rc = peer_bans_load(&g->pt, g->bans_path, clock_unix(), e);
    if (rc < 0) {
        gossip_close(&g);
        return rc;
    }
    size_t known = addrbook_count(g->ab);
    const char *s = cfg->seeds ? cfg->seeds : "";
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
    char idhex[2 * PEER_ID_LEN + 1];
    hex_encode(idhex, g->node_id, PEER_ID_LEN);
    LOGINFO("node %s listening on %s (advertised as \"%s\"), %zu known peer address(es), "
            "%zu ban(s)", idhex, cfg->listen, g->advertise, known, g->pt.n_bans);
    *out = g;
    return 0;
}

void gossip_close(gossip_t **gp)
{
    gossip_t *g = *gp;
    if (!g)
        return;
    if (g->ab && g->pt.peers)
        save(g);
    net_close(&g->net);
    client_close(&g->client);
    if (g->zctx)
        zmq_ctx_term(g->zctx);
    sync_destroy(&g->sync);
    relay_destroy(&g->relay);
    addrbook_destroy(&g->ab);
    peer_table_free(&g->pt);
    mp_buf_free(&g->out);
    mp_buf_free(&g->req);
    free(g->hdrbuf);
    free(g->hashes);
    free(g->serving_headers);
    free(g);
    *gp = NULL;
}
