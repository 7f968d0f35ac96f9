#include "upstream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "gossip_state.h"
#include "hex.h"
#include "log.h"

#define BUDGET_RPC 4096    /* replies read a pass */
#define BUDGET_EVENTS 4096 /* events read a pass */

/* What a request was for: how its reply is handled. */
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
    REQ_MEMPOOL,     /* a snapshot for one peer (the tag's) or all */
    REQ_UNBROADCAST,
    REQ_MARK,
    REQ_COUNT
};

int upstream_init(upstream_state_t *u, size_t n_slots)
{
    mp_buf_init(&u->req, PROTO_MAX_MSG);
    u->serving_headers = calloc(n_slots ? n_slots : 1, sizeof *u->serving_headers);
    u->marks = malloc(UPSTREAM_MARKS_MAX * sizeof *u->marks);
    return u->serving_headers && u->marks ? 0 : -1;
}

void upstream_free(upstream_state_t *u)
{
    mp_buf_free(&u->req);
    free(u->serving_headers);
    u->serving_headers = NULL;
    free(u->marks);
    u->marks = NULL;
}

void upstream_peer_gone(gossip_t *g, uint32_t slot) { g->up.serving_headers[slot] = false; }

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

static int send_request(gossip_t *g, int ticket, const client_tag_t *tag, uint64_t timeout_ms)
{
    return client_send(g->client, ticket, &g->up.req, tag, g->now_ms + timeout_ms);
}

/* --- requests ------------------------------------------------------------------ */

/* Submits a transaction or block; -1 when chaind's queue is full. */
static int submit(gossip_t *g, proto_req_t type, const uint8_t *data, size_t len,
                  const char *origin, const client_tag_t *tag)
{
    int t = client_begin(g->client, &g->up.req, type);
    if (t < 0)
        return -1;
    mp_put_cstr(&g->up.req, type == PROTO_REQ_SUBMIT_TX ? "tx" : "block");
    mp_put_bin(&g->up.req, data, len);
    mp_put_cstr(&g->up.req, "origin");
    mp_put_cstr(&g->up.req, origin);
    return send_request(g, t, tag, UPSTREAM_SUBMIT_TIMEOUT_MS);
}

void upstream_submit(gossip_t *g, peer_t *p, proto_req_t type, const hash32_t *h,
                     const uint8_t *data, size_t len)
{
    bool tx = type == PROTO_REQ_SUBMIT_TX;
    client_tag_t tag = tag_of(g, tx ? REQ_SUBMIT_TX : REQ_SUBMIT_BLOCK, p, h);
    if (submit(g, type, data, len, p->origin, &tag) < 0)
        LOGDEBUG("%s from %s dropped: chaind's queue is full", tx ? "transaction" : "block",
                 conn_name(p));
}

int upstream_submit_sync(gossip_t *g, uint32_t from, const hash32_t *h, const uint8_t *block,
                         size_t len)
{
    peer_t *p = conn_ready(g, from);
    if (client_pending(g->client) + UPSTREAM_CLIENT_RESERVE >= CLIENT_MAX_PENDING)
        return -1;
    client_tag_t tag = tag_of(g, REQ_SYNC_BLOCK, p, h);
    return submit(g, PROTO_REQ_SUBMIT_BLOCK, block, len, p ? p->origin : "peer:gone", &tag);
}

void upstream_request_tip(gossip_t *g)
{
    if (g->up.tip_pending)
        return;
    int t = client_begin(g->client, &g->up.req, PROTO_REQ_GET_TIP);
    client_tag_t tag = tag_of(g, REQ_TIP, NULL, NULL);
    if (t >= 0 && send_request(g, t, &tag, UPSTREAM_RPC_TIMEOUT_MS) == 0)
        g->up.tip_pending = true;
}

static void put_peer(gossip_t *g, const peer_t *p, uint32_t slot)
{
    mp_buf_t *b = &g->up.req;
    char id[2 * PEER_ID_LEN + 1];
    hex_encode(id, p->node_id, PEER_ID_LEN);
    mp_put_map(b, 6);
    mp_put_cstr(b, "addr");
    mp_put_cstr(b, conn_name(p));
    mp_put_cstr(b, "inbound");
    mp_put_bool(b, p->inbound);
    mp_put_cstr(b, "height");
    mp_put_uint(b, sync_peer_get_height(g->sync, slot));
    mp_put_cstr(b, "node_id");
    mp_put_cstr(b, id);
    mp_put_cstr(b, "score");
    mp_put_uint(b, (uint64_t)p->score);
    mp_put_cstr(b, "version");
    mp_put_uint(b, p->version);
}

void upstream_report_peers(gossip_t *g)
{
    if (g->up.report_pending)
        return;
    int t = client_begin(g->client, &g->up.req, PROTO_REQ_PEERS);
    if (t < 0)
        return;
    mp_put_cstr(&g->up.req, "peers");
    mp_put_array(&g->up.req, (uint32_t)peer_count_ready(&g->pt));
    for (size_t i = 0; i < g->pt.cap; i++)
        if (g->pt.peers[i].state == PEER_READY)
            put_peer(g, &g->pt.peers[i], (uint32_t)i);
    client_tag_t tag = tag_of(g, REQ_PEERS, NULL, NULL);
    g->up.report_pending = send_request(g, t, &tag, UPSTREAM_RPC_TIMEOUT_MS) == 0;
}

void upstream_announce_mempool(gossip_t *g, peer_t *p)
{
    if (!p && g->up.snapshot_pending)
        return;
    int t = client_begin(g->client, &g->up.req, PROTO_REQ_GET_MEMPOOL);
    if (t < 0)
        return;
    mp_put_cstr(&g->up.req, "max");
    mp_put_uint(&g->up.req, UPSTREAM_MEMPOOL_MAX);
    client_tag_t tag = tag_of(g, REQ_MEMPOOL, p, NULL);
    if (send_request(g, t, &tag, UPSTREAM_RPC_TIMEOUT_MS) == 0 && !p)
        g->up.snapshot_pending = true;
}

void upstream_rebroadcast(gossip_t *g)
{
    if (g->up.unbroadcast_pending)
        return;
    int t = client_begin(g->client, &g->up.req, PROTO_REQ_GET_UNBROADCAST);
    client_tag_t tag = tag_of(g, REQ_UNBROADCAST, NULL, NULL);
    if (t >= 0 && send_request(g, t, &tag, UPSTREAM_RPC_TIMEOUT_MS) == 0)
        g->up.unbroadcast_pending = true;
}

void upstream_flush_marks(gossip_t *g)
{
    upstream_state_t *u = &g->up;
    if (u->marks_pending || !u->n_marks)
        return;
    int t = client_begin(g->client, &u->req, PROTO_REQ_MARK_BROADCAST);
    if (t < 0)
        return;
    mp_put_cstr(&u->req, "txids");
    mp_put_array(&u->req, (uint32_t)u->n_marks);
    for (size_t i = 0; i < u->n_marks; i++)
        mp_put_bin(&u->req, u->marks[i].b, 32);
    client_tag_t tag = tag_of(g, REQ_MARK, NULL, NULL);
    if (send_request(g, t, &tag, UPSTREAM_RPC_TIMEOUT_MS) == 0) {
        u->marks_pending = true;
        u->n_marks = 0;
    }
}

void upstream_serve(gossip_t *g, peer_t *p)
{
    uint32_t slot = peer_slot(&g->pt, p);
    relay_peer_t *rp = relay_peer(g->relay, slot);
    relay_item_t item;
    while (rp && rp->serving < UPSTREAM_SERVE_PARALLEL &&
           client_pending(g->client) + UPSTREAM_CLIENT_RESERVE < CLIENT_MAX_PENDING &&
           relay_serve_pop(g->relay, slot, &item)) {
        bool tx = item.kind == RELAY_TX;
        int t = client_begin(g->client, &g->up.req, tx ? PROTO_REQ_GET_TX : PROTO_REQ_GET_BLOCK);
        if (t < 0)
            break;
        mp_put_cstr(&g->up.req, tx ? "txid" : "hash");
        mp_put_bin(&g->up.req, item.hash.b, 32);
        client_tag_t tag = tag_of(g, tx ? REQ_GET_TX : REQ_GET_BLOCK, p, &item.hash);
        if (send_request(g, t, &tag, UPSTREAM_RPC_TIMEOUT_MS) == 0)
            rp->serving++;
    }
}

void upstream_get_headers(gossip_t *g, peer_t *p, mp_reader_t *r, uint32_t n)
{
    uint32_t slot = peer_slot(&g->pt, p);
    if (g->up.serving_headers[slot])
        return; /* one at a time: a peer that asks again before the answer waits */
    int t = client_begin(g->client, &g->up.req, PROTO_REQ_GET_HEADERS);
    if (t < 0)
        return;
    mp_put_cstr(&g->up.req, "locator");
    mp_put_array(&g->up.req, n);
    for (uint32_t i = 0; i < n; i++) {
        hash32_t h;
        if (mp_get_bin_exact(r, h.b, 32) < 0) {
            client_cancel(g->client, t);
            return;
        }
        mp_put_bin(&g->up.req, h.b, 32);
    }
    mp_put_cstr(&g->up.req, "max");
    mp_put_uint(&g->up.req, PROTO_MAX_HEADERS);
    client_tag_t tag = tag_of(g, REQ_HEADERS, p, NULL);
    if (send_request(g, t, &tag, UPSTREAM_RPC_TIMEOUT_MS) == 0)
        g->up.serving_headers[slot] = true;
}

/* --- the chain view's walk ----------------------------------------------------------- */

static void walk_step(gossip_t *g)
{
    upstream_state_t *u = &g->up;
    u->walk_n = sync_view_locator(sync_view(g->sync), u->walk_loc, u->walk_h, PROTO_MAX_LOCATOR);
    int t = client_begin(g->client, &u->req, PROTO_REQ_GET_HEADERS);
    client_tag_t tag = tag_of(g, REQ_WALK, NULL, NULL);
    if (t < 0) {
        u->walking = false;
        return;
    }
    mp_put_cstr(&u->req, "locator");
    mp_put_array(&u->req, (uint32_t)u->walk_n);
    for (size_t i = 0; i < u->walk_n; i++)
        mp_put_bin(&u->req, u->walk_loc[i].b, 32);
    mp_put_cstr(&u->req, "max");
    mp_put_uint(&u->req, PROTO_MAX_HEADERS);
    u->walking = send_request(g, t, &tag, UPSTREAM_RPC_TIMEOUT_MS) == 0;
}

static void start_walk(gossip_t *g)
{
    if (g->up.walking)
        return;
    g->up.walk_restarts = 0;
    g->up.walk_was_valid = sync_view(g->sync)->valid;
    walk_step(g);
}

/* The height of the first header of a walk's answer (prev: its parent's
 * hash); -1 when it links to nothing the locator named. */
static int64_t walk_start(const upstream_state_t *u, const hash32_t *prev)
{
    if (u->walk_n == 0)
        return 0; /* from scratch: the first header is genesis */
    for (size_t k = 0; k < u->walk_n; k++)
        if (hash32_eq(&u->walk_loc[k], prev))
            return (int64_t)u->walk_h[k] + 1;
    return -1;
}

/* Pushes a walk's headers onto the view; false when the reply was malformed. */
static bool walk_push(gossip_t *g, mp_reader_t *rd, uint32_t n)
{
    sync_view_t *v = sync_view(g->sync);
    bool from_scratch = g->up.walk_n == 0;
    int64_t height = 0;
    for (uint32_t i = 0; i < n; i++, height++) {
        const uint8_t *raw;
        size_t len;
        if (mp_get_bin(rd, &raw, &len) < 0 || len != BLOCK_HEADER_LEN)
            return false;
        block_header_t h;
        hash32_t hash;
        block_header_decode(&h, raw);
        block_header_hash(&hash, &h);
        if (i == 0 && (height = walk_start(&g->up, &h.previous_block_hash)) < 0) {
            sync_view_reset(v); /* no common point: start from genesis */
            return true;
        }
        /* events move the view while the request is out: what it holds by
         * now is not a reorganisation */
        if (!from_scratch && sync_view_holds(v, (uint64_t)height, &hash))
            continue;
        if (sync_view_push(v, (uint64_t)height, &hash) < 0) {
            sync_view_reset(v); /* a deep reorganisation: start from genesis */
            return true;
        }
    }
    return true;
}

static void on_walk(gossip_t *g, const client_result_t *r)
{
    g->up.walking = false;
    mp_reader_t rd;
    uint32_t n;
    if (r->timed_out || !r->reply.ok || proto_get_array(&r->reply.body, "headers", &rd, &n) < 0 ||
        !walk_push(g, &rd, n))
        return; /* the next tip check starts again */
    sync_view_t *v = sync_view(g->sync);
    if (!v->valid || n == PROTO_MAX_HEADERS) {
        if (!v->valid && ++g->up.walk_restarts > 3)
            return; /* chaind's chain moves under us: the next tip check tries again */
        walk_step(g);
        return;
    }
    uint64_t tip_h;
    hash32_t tip;
    if (sync_view_tip(v, &tip_h, &tip)) {
        char hex[65];
        hex_encode(hex, tip.b, 32);
        log_msg(g->up.walk_was_valid ? LOG_DEBUG : LOG_INFO, "chain view: height %" PRIu64
                ", tip %s", tip_h, hex);
        g->up.walk_was_valid = true;
    }
    upstream_request_tip(g); /* confirm nothing moved meanwhile */
}

/* --- replies ------------------------------------------------------------------------- */

static void on_tip(gossip_t *g, const client_result_t *r)
{
    upstream_state_t *u = &g->up;
    u->tip_pending = false;
    if (r->timed_out) {
        if (u->chaind_up)
            LOGWARN("chaind does not answer at %s", g->cfg.rpc);
        u->chaind_up = false;
        u->have_last_tip = false;
        return;
    }
    if (!u->chaind_up) {
        LOGINFO("chaind answers at %s", g->cfg.rpc);
        /* its tx events while it was away (or before we subscribed) are lost */
        upstream_announce_mempool(g, NULL);
    }
    u->chaind_up = true;
    hash32_t hash;
    uint64_t height;
    if (!r->reply.ok || proto_get_bin_exact(&r->reply.body, "hash", hash.b, 32) < 0 ||
        proto_get_uint(&r->reply.body, "height", &height) < 0)
        return;
    /* the tip of the check before has had its event by now: a view that
     * does not hold it missed something (a lost event, a restart) */
    sync_view_t *v = sync_view(g->sync);
    if (!v->valid || (u->have_last_tip && !sync_view_holds(v, u->last_tip_h, &u->last_tip)))
        start_walk(g);
    u->last_tip = hash;
    u->last_tip_h = height;
    u->have_last_tip = true;
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
        mp_buf_t *b = conn_begin(g, tx ? PROTO_MSG_TX : PROTO_MSG_BLOCK);
        mp_put_cstr(b, tx ? "tx" : "block");
        mp_put_bin(b, data, len);
        conn_send(g, p);
        /* asked for, so seen: out of the unbroadcast set (chaind ignores a
         * txid that is not in it; one past the bound is rebroadcast once more) */
        if (tx && g->up.n_marks < UPSTREAM_MARKS_MAX)
            g->up.marks[g->up.n_marks++] = r->tag.hash;
    } else {
        conn_send_hashes(g, p, PROTO_MSG_NOTFOUND, tx ? RELAY_TX : RELAY_BLOCK, &r->tag.hash, 1);
    }
    upstream_serve(g, p);
}

static void on_headers_served(gossip_t *g, const client_result_t *r)
{
    if (r->tag.slot < g->pt.cap)
        g->up.serving_headers[r->tag.slot] = false;
    peer_t *p = tag_peer(g, &r->tag);
    mp_reader_t rd;
    uint32_t n;
    if (!p || r->timed_out || !r->reply.ok ||
        proto_get_array(&r->reply.body, "headers", &rd, &n) < 0 || n > PROTO_MAX_HEADERS)
        return;
    mp_buf_t *b = conn_begin(g, PROTO_MSG_HEADERS);
    mp_put_cstr(b, "headers");
    mp_put_array(b, n);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *raw;
        size_t len;
        if (mp_get_bin(&rd, &raw, &len) < 0 || len != BLOCK_HEADER_LEN)
            return;
        mp_put_bin(b, raw, len);
    }
    conn_send(g, p);
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
    if (code == ERR_OK || code == ERR_KNOWN || code == ERR_DOUBLE_SPEND ||
        err_tx_ban_score(code) >= PEER_BAN_SCORE)
        relay_note_seen(g->relay, &r->tag.hash);
    peer_t *p = tag_peer(g, &r->tag);
    if (p && code == ERR_OK)
        conn_delivered(g, p, RELAY_TX);
    if (p && code != ERR_OK) {
        char why[256];
        snprintf(why, sizeof why, "a transaction chaind rejects (%s: %s)", err_str(code),
                 r->reply.message);
        conn_misbehave(g, p, err_tx_ban_score(code), why);
    }
}

static void on_synced_block(gossip_t *g, const client_result_t *r, err_code_t code, bool orphan)
{
    sync_verdict_t v = code == ERR_UNAVAILABLE ? SYNC_UNANSWERED
                       : code != ERR_OK        ? SYNC_REJECTED
                       : orphan                ? SYNC_ORPHANED
                                               : SYNC_ACCEPTED;
    if (v == SYNC_ACCEPTED) {
        relay_note_seen(g->relay, &r->tag.hash);
        conn_delivered(g, tag_peer(g, &r->tag), RELAY_BLOCK);
    }
    sync_submitted(g->sync, &r->tag.hash, v, code, g->now_ms);
}

static void on_submitted_block(gossip_t *g, const client_result_t *r)
{
    err_code_t code = reply_code(r);
    char status[16] = "";
    if (code == ERR_OK)
        (void)proto_get_str(&r->reply.body, "status", status, sizeof status);
    bool orphan = code == ERR_OK && strcmp(status, "orphan") == 0;
    if (r->tag.kind == REQ_SYNC_BLOCK) {
        on_synced_block(g, r, code, orphan);
        return;
    }
    if (code == ERR_UNAVAILABLE)
        return;
    if (!orphan)
        relay_note_seen(g->relay, &r->tag.hash);
    peer_t *p = tag_peer(g, &r->tag);
    if (!p)
        return;
    if (orphan) {
        sync_announced(g->sync, peer_slot(&g->pt, p)); /* we lack its parents */
    } else if (code == ERR_OK && strcmp(status, "known") != 0) {
        conn_delivered(g, p, RELAY_BLOCK);
    } else if (code != ERR_OK) {
        char why[256];
        snprintf(why, sizeof why, "a block chaind rejects (%s: %s)", err_str(code),
                 r->reply.message);
        conn_misbehave(g, p, err_ban_score(code), why);
    }
}

static void on_peers_reported(gossip_t *g, const client_result_t *r)
{
    (void)r;
    g->up.report_pending = false;
}

/* How each request's reply is handled, by what the request was for. */
/* The txids of a get_mempool or get_unbroadcast reply: *n of them at *rd. */
static bool reply_txids(const client_result_t *r, mp_reader_t *rd, uint32_t *n)
{
    return !r->timed_out && r->reply.ok && proto_get_array(&r->reply.body, "txids", rd, n) == 0;
}

static void on_mempool(gossip_t *g, const client_result_t *r)
{
    bool to_all = r->tag.slot == UINT32_MAX;
    if (to_all)
        g->up.snapshot_pending = false;
    peer_t *p = to_all ? NULL : tag_peer(g, &r->tag);
    mp_reader_t rd;
    uint32_t n;
    if ((!to_all && !p) || !reply_txids(r, &rd, &n))
        return;
    for (uint32_t i = 0; i < n; i++) {
        hash32_t txid;
        (void)mp_get_bin_exact(&rd, txid.b, 32); /* schema: bin32 each */
        if (p)
            conn_announce(g, p, RELAY_TX, &txid);
        for (size_t k = 0; to_all && k < g->pt.cap; k++)
            if (g->pt.peers[k].state == PEER_READY)
                conn_announce(g, &g->pt.peers[k], RELAY_TX, &txid);
    }
}

static void on_unbroadcast(gossip_t *g, const client_result_t *r)
{
    g->up.unbroadcast_pending = false;
    mp_reader_t rd;
    uint32_t n;
    if (!reply_txids(r, &rd, &n) || !n)
        return;
    for (uint32_t i = 0; i < n; i++) {
        hash32_t txid;
        (void)mp_get_bin_exact(&rd, txid.b, 32);
        for (size_t k = 0; k < g->pt.cap; k++) {
            peer_t *q = &g->pt.peers[k];
            if (q->state != PEER_READY)
                continue;
            relay_forget(g->relay, (uint32_t)k, &txid);
            conn_announce(g, q, RELAY_TX, &txid);
        }
    }
    LOGDEBUG("rebroadcast: %" PRIu32 " transaction(s) no peer has asked for yet", n);
}

static void on_marked(gossip_t *g, const client_result_t *r)
{
    (void)r; /* a mark lost (timeout, busy journal) costs one more announcement */
    g->up.marks_pending = false;
}

static void (*const on_reply[REQ_COUNT])(gossip_t *g, const client_result_t *r) = {
    [REQ_TIP] = on_tip,
    [REQ_WALK] = on_walk,
    [REQ_HEADERS] = on_headers_served,
    [REQ_GET_BLOCK] = on_served,
    [REQ_GET_TX] = on_served,
    [REQ_SUBMIT_TX] = on_submitted_tx,
    [REQ_SUBMIT_BLOCK] = on_submitted_block,
    [REQ_SYNC_BLOCK] = on_submitted_block,
    [REQ_PEERS] = on_peers_reported,
    [REQ_MEMPOOL] = on_mempool,
    [REQ_UNBROADCAST] = on_unbroadcast,
    [REQ_MARK] = on_marked,
};

void upstream_on_result(gossip_t *g, const client_result_t *r)
{
    if (r->tag.kind >= 0 && r->tag.kind < REQ_COUNT)
        on_reply[r->tag.kind](g, r);
    peer_t *p = r->tag.slot < g->pt.cap ? &g->pt.peers[r->tag.slot] : NULL;
    if (p)
        conn_reap(g, p);
}

/* --- events -------------------------------------------------------------------------- */

/* A block joined chaind's main chain: the view follows it, and the peers that
 * may lack it hear of it. */
static void follow_block(gossip_t *g, const hash32_t *hash, uint64_t height, bool gap)
{
    /* events queue behind a rebuild of the view: one it already holds is
     * late, not a reorganisation (a real one the next tip check finds) */
    sync_view_t *v = sync_view(g->sync);
    if (g->up.walking) {
        /* the rebuild covers what it has not reached; only the next block
         * after it is taken, so an event ahead of it does not undo it */
        if (v->valid && height == v->height + 1)
            (void)sync_view_push(v, height, hash);
    } else if (!sync_view_holds(v, height, hash) &&
               (sync_view_push(v, height, hash) < 0 || gap)) {
        start_walk(g);
    }
}

static void on_block_event(gossip_t *g, const proto_event_t *ev, bool gap)
{
    hash32_t hash;
    uint64_t height;
    char origin[PEER_ORIGIN_MAX + 1] = "";
    (void)proto_get_bin_exact(&ev->body, "hash", hash.b, 32); /* the schema: present */
    (void)proto_get_uint(&ev->body, "height", &height);
    (void)proto_get_str(&ev->body, "origin", origin, sizeof origin);
    if (gap)
        LOGINFO("missed block events from chaind: rebuilding the chain view");
    follow_block(g, &hash, height, gap);
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
            conn_announce(g, p, RELAY_BLOCK, &hash);
    }
}

static void on_tx_event(gossip_t *g, const proto_event_t *ev, bool gap)
{
    hash32_t txid;
    char origin[PEER_ORIGIN_MAX + 1] = "";
    if (gap) /* the missed ones are in chaind's mempool, if anywhere */
        upstream_announce_mempool(g, NULL);
    (void)proto_get_bin_exact(&ev->body, "txid", txid.b, 32);
    (void)proto_get_str(&ev->body, "origin", origin, sizeof origin);
    relay_note_seen(g->relay, &txid);
    peer_t *from = peer_find_origin(&g->pt, origin);
    for (size_t i = 0; i < g->pt.cap; i++) {
        peer_t *p = &g->pt.peers[i];
        if (p != from && p->state == PEER_READY)
            conn_announce(g, p, RELAY_TX, &txid);
    }
}

static void on_peer_add(gossip_t *g, const proto_event_t *ev, bool gap)
{
    char host[ADDRBOOK_ADDR_MAX + 1];
    (void)gap;
    if (proto_get_str(&ev->body, "hostname", host, sizeof host) < 0)
        return;
    if (addrbook_add(g->ab, host, ADDR_ADVERT, g->now_ms) < 0) {
        LOGWARN("advertised peer \"%s\" is not a dialable host:port", host);
        return;
    }
    LOGINFO("advertised peer %s: dialling", host);
    housekeeping_dial_soon(g);
}

/* The topics gossipd follows, and what each event does. */
static void (*const on_event[PROTO_TOPIC_COUNT])(gossip_t *g, const proto_event_t *ev,
                                                 bool gap) = {
    [PROTO_TOPIC_BLOCK] = on_block_event,
    [PROTO_TOPIC_TX] = on_tx_event,
    [PROTO_TOPIC_PEER_ADD] = on_peer_add,
};

void upstream_topics(const char *names[PROTO_TOPIC_COUNT + 1])
{
    size_t n = 0;
    for (int t = 0; t < PROTO_TOPIC_COUNT; t++)
        if (on_event[t])
            names[n++] = proto_topic_name((proto_topic_t)t);
    names[n] = NULL;
}

/* --- reading ------------------------------------------------------------------------ */

static void read_replies(void *arg)
{
    gossip_t *g = gossip_enter(arg);
    client_result_t r;
    for (int i = 0; i < BUDGET_RPC && client_recv(g->client, &r); i++)
        upstream_on_result(g, &r);
}

static void read_events(void *arg)
{
    gossip_t *g = gossip_enter(arg);
    proto_event_t ev;
    bool gap;
    for (int i = 0; i < BUDGET_EVENTS && client_recv_event(g->client, &ev, &gap); i++)
        if (on_event[ev.type])
            on_event[ev.type](g, &ev, gap);
}

client_handlers_t upstream_handlers(gossip_t *g)
{
    return (client_handlers_t){g, read_replies, read_events};
}
