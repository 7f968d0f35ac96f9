#include "sync.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "log.h"
#include "proto.h"

/* --- the chain view ------------------------------------------------------- */

void sync_view_reset(sync_view_t *v) { memset(v, 0, sizeof *v); }

/* Level j holds the hash at the highest multiple of 2^j at or below the
 * anchor. As the anchor a rises one height at a time, level j changes
 * exactly when a becomes a multiple of 2^j, and then to a's own hash, which
 * the ring still holds (a = tip - SYNC_ANCHOR and the ring is deeper). */
static void set_levels(sync_view_t *v, uint64_t a, const hash32_t *hash)
{
    for (int j = 0; j < SYNC_LEVELS; j++) {
        uint64_t mask = j == 0 ? 0 : (UINT64_MAX >> (64 - j));
        if (a & mask)
            break; /* not a multiple of 2^j, so of no higher power either */
        v->level[j] = *hash;
        v->level_h[j] = a;
        v->levels_set |= (uint64_t)1 << j;
    }
}

int sync_view_push(sync_view_t *v, uint64_t height, const hash32_t *hash)
{
    if (height == 0) {
        sync_view_reset(v);
        v->valid = true;
        v->ring[0] = *hash;
        v->genesis = *hash;
        return 0;
    }
    if (!v->valid || height > v->height + 1) {
        v->valid = false;
        return -1;
    }
    if (height <= v->height) {
        /* a reorganisation: levels are untouched only when it stays above
         * every level's height (the anchor) */
        if (height + SYNC_ANCHOR <= v->height) {
            v->valid = false;
            return -1;
        }
        v->height = height - 1;
    }
    v->ring[height % SYNC_RING] = *hash;
    v->height = height;
    if (height - v->ring_low >= SYNC_RING)
        v->ring_low = height - SYNC_RING + 1;
    if (height >= SYNC_ANCHOR) {
        uint64_t a = height - SYNC_ANCHOR;
        set_levels(v, a, &v->ring[a % SYNC_RING]);
    }
    return 0;
}

bool sync_view_tip(const sync_view_t *v, uint64_t *height, hash32_t *hash)
{
    if (!v->valid)
        return false;
    *height = v->height;
    *hash = v->ring[v->height % SYNC_RING];
    return true;
}

bool sync_view_holds(const sync_view_t *v, uint64_t height, const hash32_t *hash)
{
    return v->valid && height <= v->height &&
           (height < v->ring_low || hash32_eq(&v->ring[height % SYNC_RING], hash));
}

bool sync_view_has(const sync_view_t *v, const hash32_t *h)
{
    if (!v->valid)
        return false;
    for (uint64_t x = v->ring_low; x <= v->height; x++)
        if (hash32_eq(&v->ring[x % SYNC_RING], h))
            return true;
    return false;
}

size_t sync_view_locator(const sync_view_t *v, hash32_t *out, uint64_t *heights, size_t max)
{
    assert(max >= 2);
    if (!v->valid)
        return 0;
    size_t n = 0;
    uint64_t last = v->height;
    for (uint64_t k = 0; k < SYNC_DENSE && k <= v->height && n + 1 < max; k++) {
        uint64_t x = v->height - k;
        if (x < v->ring_low)
            break;
        out[n] = v->ring[x % SYNC_RING];
        if (heights)
            heights[n] = x;
        n++;
        last = x;
    }
    /* levels by rising j have falling heights: the doubling steps */
    for (int j = 0; j < SYNC_LEVELS && n + 1 < max; j++) {
        if (!(v->levels_set >> j & 1) || v->level_h[j] >= last || v->level_h[j] == 0)
            continue;
        out[n] = v->level[j];
        if (heights)
            heights[n] = v->level_h[j];
        n++;
        last = v->level_h[j];
    }
    if (last != 0) {
        out[n] = v->genesis;
        if (heights)
            heights[n] = 0;
        n++;
    }
    return n;
}

/* --- the download ------------------------------------------------------------ */

#define NONE UINT32_MAX

typedef enum { E_QUEUED, E_INFLIGHT, E_HELD, E_SUBMITTED, E_DONE } entry_state_t;

typedef struct {
    hash32_t hash;
    uint64_t height;
    uint8_t state;
    uint32_t source;  /* the peer whose headers named it */
    uint32_t peer;    /* asked from (in flight) or sent by (held on) */
    uint32_t avoid;   /* a peer that stalled on it or lacked it */
    uint64_t deadline_ms;
    uint8_t *data;
    size_t len;
} entry_t;

typedef struct {
    bool ready, announced, dropping, stalled_now;
    uint64_t height;
    uint32_t inflight, stalls;
    /* headers answers still owed to sessions that ended before them: a
     * connection answers in order, so the next ones are those, not the
     * answer to a newer request */
    uint32_t stale_headers;
    uint64_t retry_ms;
    uint32_t batch_n;
} speer_t;

struct sync {
    sync_view_t view;
    const chain_params_t *params;
    sync_ops_t ops;
    speer_t *peers;
    hash32_t *batch; /* [n_slots][SYNC_PEER_INFLIGHT] getdata being built */
    size_t n_slots;
    entry_t *win; /* ring of SYNC_WINDOW */
    size_t head, count, next_submit;
    size_t inflight, submits, buffered;
    uint64_t last_progress_ms, blocks_done;
    /* the headers session */
    uint32_t hdr;
    bool hdr_pending, more;
    uint64_t hdr_deadline_ms;
    hash32_t sent[PROTO_MAX_LOCATOR];
    uint64_t sent_h[PROTO_MAX_LOCATOR];
    size_t n_sent;
    bool dirty; /* something changed: assignments may be due */
};

static entry_t *at(sync_t *s, size_t i) { return &s->win[(s->head + i) % SYNC_WINDOW]; }
static const entry_t *cat(const sync_t *s, size_t i)
{
    return &s->win[(s->head + i) % SYNC_WINDOW];
}

sync_t *sync_new(size_t n_slots, const chain_params_t *params, const sync_ops_t *ops)
{
    sync_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->params = params;
    s->ops = *ops;
    s->n_slots = n_slots;
    s->hdr = NONE;
    s->peers = calloc(n_slots ? n_slots : 1, sizeof *s->peers);
    s->batch = calloc((n_slots ? n_slots : 1) * SYNC_PEER_INFLIGHT, sizeof *s->batch);
    s->win = calloc(SYNC_WINDOW, sizeof *s->win);
    if (!s->peers || !s->batch || !s->win) {
        sync_destroy(&s);
        return NULL;
    }
    return s;
}

static void clear_window(sync_t *s)
{
    for (size_t i = 0; i < s->count; i++) {
        entry_t *e = at(s, i);
        if (e->state == E_INFLIGHT && e->peer < s->n_slots && s->peers[e->peer].inflight)
            s->peers[e->peer].inflight--;
        free(e->data);
        e->data = NULL;
    }
    s->head = s->count = s->next_submit = 0;
    s->inflight = s->submits = s->buffered = 0;
    s->dirty = true;
}

void sync_destroy(sync_t **sp)
{
    sync_t *s = *sp;
    if (!s)
        return;
    if (s->win)
        clear_window(s);
    free(s->win);
    free(s->peers);
    free(s->batch);
    free(s);
    *sp = NULL;
}

sync_view_t *sync_view(sync_t *s) { return &s->view; }

static void end_session(sync_t *s, uint64_t now_ms, bool retry_later)
{
    if (s->hdr == NONE)
        return;
    if (s->hdr_pending)
        s->peers[s->hdr].stale_headers++;
    s->peers[s->hdr].announced = false;
    if (retry_later)
        s->peers[s->hdr].retry_ms = now_ms + SYNC_RETRY_MS;
    s->hdr = NONE;
    s->hdr_pending = s->more = false;
    s->dirty = true;
}

void sync_peer_ready(sync_t *s, uint32_t slot, uint64_t height)
{
    assert(slot < s->n_slots);
    s->peers[slot] = (speer_t){.ready = true, .height = height};
    s->dirty = true;
}

void sync_peer_height(sync_t *s, uint32_t slot, uint64_t height)
{
    if (slot < s->n_slots && s->peers[slot].ready && height > s->peers[slot].height) {
        s->peers[slot].height = height;
        s->dirty = true;
    }
}

uint64_t sync_peer_get_height(const sync_t *s, uint32_t slot)
{
    return slot < s->n_slots ? s->peers[slot].height : 0;
}

void sync_peer_gone(sync_t *s, uint32_t slot)
{
    assert(slot < s->n_slots);
    for (size_t i = 0; i < s->count && i < SYNC_AHEAD; i++) {
        entry_t *e = at(s, i);
        if (e->state == E_INFLIGHT && e->peer == slot) {
            e->state = E_QUEUED;
            s->inflight--;
        }
        if (e->avoid == slot)
            e->avoid = NONE;
    }
    if (s->hdr == slot) {
        s->hdr = NONE;
        s->hdr_pending = s->more = false;
    }
    s->peers[slot] = (speer_t){0};
    s->dirty = true;
}

void sync_announced(sync_t *s, uint32_t slot)
{
    if (slot < s->n_slots && s->peers[slot].ready) {
        s->peers[slot].announced = true;
        s->peers[slot].retry_ms = 0;
        s->dirty = true;
    }
}

bool sync_busy(const sync_t *s) { return s->count > 0 || s->hdr != NONE; }

static void request_headers(sync_t *s, uint64_t now_ms)
{
    size_t n = 0;
    if (s->count) {
        const entry_t *last = cat(s, s->count - 1);
        s->sent[0] = last->hash;
        s->sent_h[0] = last->height;
        n = 1;
    }
    n += sync_view_locator(&s->view, s->sent + n, s->sent_h + n, PROTO_MAX_LOCATOR - n);
    s->n_sent = n;
    s->hdr_pending = true;
    s->hdr_deadline_ms = now_ms + SYNC_HEADERS_TIMEOUT_MS;
    s->ops.getheaders(s->ops.ctx, s->hdr, s->sent, n);
}

static void hex_of(char out[65], const hash32_t *h) { hex_encode(out, h->b, 32); }

bool sync_on_headers(sync_t *s, uint32_t slot, const uint8_t *headers, size_t n, uint64_t now_ms)
{
    bool pending_here = slot == s->hdr && s->hdr_pending;
    block_header_t h;
    size_t match = s->n_sent;
    if (n > 0) {
        block_header_decode(&h, headers);
        match = 0;
        while (match < s->n_sent && !hash32_eq(&s->sent[match], &h.previous_block_hash))
            match++;
    }
    if (slot < s->n_slots && s->peers[slot].stale_headers) {
        /* an old answer, unless it answers the request now out (then the
         * old ones are never coming) */
        if (!pending_here || match == s->n_sent) {
            s->peers[slot].stale_headers--;
            return true;
        }
        s->peers[slot].stale_headers = 0;
    }
    if (!pending_here)
        return false;
    s->hdr_pending = false;
    if (n == 0) {
        end_session(s, now_ms, true);
        return true;
    }
    if (match == s->n_sent) {
        end_session(s, now_ms, true);
        s->ops.misbehave(s->ops.ctx, slot, ERR_BAD_REQUEST, "headers that follow no locator hash");
        return true;
    }
    /* the peer's chain leaves ours before the window's tail: the window is
     * on a branch this peer does not have, so follow the peer from there */
    if (s->count && match != 0)
        clear_window(s);
    hash32_t prev = s->sent[match];
    uint64_t height = s->sent_h[match];
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            block_header_decode(&h, headers + i * BLOCK_HEADER_LEN);
        hash32_t hash;
        block_header_hash(&hash, &h);
        err_code_t bad = !hash32_eq(&h.previous_block_hash, &prev) ? ERR_BAD_PREVIOUS
                         : !block_bits_valid(h.bits, s->params) ? ERR_BAD_BITS
                         : !block_hash_meets(&hash, h.bits)     ? ERR_BAD_POW
                                                                : ERR_OK;
        if (bad != ERR_OK) {
            end_session(s, now_ms, true);
            s->ops.misbehave(s->ops.ctx, slot, bad, "an invalid header");
            return true;
        }
        prev = hash;
        height++;
        if (s->count == SYNC_WINDOW)
            break; /* asked for only when there is room: a peer sent extra */
        if (sync_view_has(&s->view, &hash))
            continue;
        entry_t *e = at(s, s->count++);
        *e = (entry_t){.hash = hash, .height = height, .state = E_QUEUED, .source = slot,
                       .peer = NONE, .avoid = NONE};
        added++;
    }
    s->more = n == PROTO_MAX_HEADERS;
    /* a short answer ends the peer's chain: that is its height, whatever its
     * hello claimed (a claim it cannot back would start session after session) */
    if (!s->more || height > s->peers[slot].height)
        s->peers[slot].height = height;
    if (!s->more)
        end_session(s, now_ms, added == 0);
    s->last_progress_ms = now_ms;
    s->dirty = true;
    return true;
}

static bool find_entry(const sync_t *s, const hash32_t *hash, size_t limit, size_t *index)
{
    for (size_t i = 0; i < s->count && i < limit; i++)
        if (hash32_eq(&cat(s, i)->hash, hash)) {
            *index = i;
            return true;
        }
    return false;
}

bool sync_expects_headers(const sync_t *s, uint32_t slot)
{
    return (s->hdr == slot && s->hdr_pending) ||
           (slot < s->n_slots && s->peers[slot].stale_headers);
}

bool sync_expects(const sync_t *s, uint32_t slot, const hash32_t *hash)
{
    size_t i;
    return find_entry(s, hash, SYNC_AHEAD, &i) && cat(s, i)->state == E_INFLIGHT &&
           cat(s, i)->peer == slot;
}

bool sync_wants(const sync_t *s, const hash32_t *hash)
{
    size_t i;
    return find_entry(s, hash, SYNC_WINDOW, &i);
}

static void submit_ready(sync_t *s)
{
    while (s->next_submit < s->count && s->submits < SYNC_MAX_SUBMITS) {
        entry_t *e = at(s, s->next_submit);
        if (e->state != E_HELD)
            break;
        if (s->ops.submit(s->ops.ctx, e->peer, &e->hash, e->data, e->len) < 0)
            break; /* chaind's queue is full: the next pump tries again */
        free(e->data);
        e->data = NULL;
        s->buffered -= e->len;
        e->state = E_SUBMITTED;
        s->submits++;
        s->next_submit++;
    }
}

bool sync_on_block(sync_t *s, uint32_t slot, const hash32_t *hash, const uint8_t *data,
                   size_t len, uint64_t now_ms)
{
    size_t i;
    if (!find_entry(s, hash, SYNC_AHEAD, &i))
        return false;
    entry_t *e = at(s, i);
    if (e->state != E_QUEUED && e->state != E_INFLIGHT)
        return true; /* a second copy: the first is in hand */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return true; /* stays asked for; its deadline re-queues it */
    memcpy(copy, data, len);
    if (e->state == E_INFLIGHT) {
        s->peers[e->peer].inflight--;
        s->inflight--;
    }
    e->data = copy;
    e->len = len;
    e->state = E_HELD;
    e->peer = slot;
    s->buffered += len;
    s->peers[slot].stalls = 0;
    s->last_progress_ms = now_ms;
    s->dirty = true;
    submit_ready(s);
    return true;
}

void sync_on_notfound(sync_t *s, uint32_t slot, const hash32_t *hash)
{
    size_t i;
    if (!find_entry(s, hash, SYNC_AHEAD, &i))
        return;
    entry_t *e = at(s, i);
    if (e->state != E_INFLIGHT || e->peer != slot)
        return;
    s->peers[slot].inflight--;
    s->inflight--;
    e->state = E_QUEUED;
    e->avoid = slot;
    s->dirty = true;
}

void sync_submitted(sync_t *s, const hash32_t *hash, sync_verdict_t verdict, err_code_t code,
                    uint64_t now_ms)
{
    size_t i;
    if (!find_entry(s, hash, s->next_submit, &i) || at(s, i)->state != E_SUBMITTED)
        return; /* from a window since dropped */
    entry_t *e = at(s, i);
    s->submits--;
    char hex[65];
    if (verdict == SYNC_ACCEPTED) {
        e->state = E_DONE;
        while (s->count && at(s, 0)->state == E_DONE) {
            s->head = (s->head + 1) % SYNC_WINDOW;
            s->count--;
            s->next_submit--;
            s->blocks_done++;
        }
        s->last_progress_ms = now_ms;
        s->dirty = true;
        submit_ready(s);
        return;
    }
    uint32_t sender = e->peer;
    uint64_t height = e->height;
    hex_of(hex, hash);
    clear_window(s);
    end_session(s, now_ms, verdict == SYNC_REJECTED);
    switch (verdict) {
    case SYNC_ORPHANED:
        LOGWARN("sync: block %s (height %" PRIu64 ") came back orphan: the order went wrong, "
                "starting again", hex, height);
        break;
    case SYNC_REJECTED:
        LOGWARN("sync: block %s (height %" PRIu64 ") is invalid (%s)", hex, height,
                err_str(code));
        if (sender < s->n_slots && s->peers[sender].ready)
            s->ops.misbehave(s->ops.ctx, sender, code, "an invalid block");
        break;
    default:
        LOGWARN("sync: chaind did not answer for block %s: starting again", hex);
        break;
    }
}

/* An asked-for block is late: someone else is asked, and a peer that keeps
 * stalling goes. A peer's late blocks of one pump are one stall. */
static void stall(sync_t *s, entry_t *e)
{
    speer_t *p = &s->peers[e->peer];
    p->inflight--;
    s->inflight--;
    if (!p->stalled_now && ++p->stalls >= SYNC_STALLS_MAX)
        p->dropping = true;
    p->stalled_now = true;
    e->avoid = e->peer;
    e->peer = NONE;
    e->state = E_QUEUED;
    s->dirty = true;
}

/* Whether slot may be asked for e now. A peer already busy is asked again
 * only once a quarter of its slots are free: getdata messages then carry
 * several blocks each, and a fast download does not look like a flood to
 * the peer's bucket. */
static bool can_serve(const sync_t *s, uint32_t slot, const entry_t *e)
{
    const speer_t *p = &s->peers[slot];
    uint32_t free = SYNC_PEER_INFLIGHT - p->inflight;
    bool batch_open = p->batch_n > 0 || p->inflight == 0 || free >= SYNC_PEER_INFLIGHT / 4;
    return p->ready && !p->dropping && p->inflight < SYNC_PEER_INFLIGHT && batch_open &&
           (p->height >= e->height || slot == e->source);
}

/* Spreads queued blocks over the peers that have them, least loaded first,
 * so a window is fetched from several peers at once. While blocks are in
 * flight or with chaind and more wait behind the download window, it waits
 * for SYNC_MIN_BATCH to be due: the window slides one block per block handed
 * over, and a getdata per block would cost the peer's flood bucket a token
 * a block. */
static void assign(sync_t *s, uint64_t now_ms)
{
    size_t due = 0;
    for (size_t i = 0; i < s->count && i < SYNC_AHEAD && due < SYNC_MIN_BATCH; i++)
        due += at(s, i)->state == E_QUEUED;
    if (due < SYNC_MIN_BATCH && s->inflight + s->submits > 0 && s->count > SYNC_AHEAD)
        return;
    for (size_t i = 0; i < s->count && i < SYNC_AHEAD; i++) {
        if (s->inflight >= SYNC_MAX_INFLIGHT || s->buffered >= SYNC_BUFFER_MAX)
            break;
        entry_t *e = at(s, i);
        if (e->state != E_QUEUED)
            continue;
        uint32_t best = NONE;
        for (uint32_t k = 0; k < s->n_slots; k++) {
            if (k == e->avoid || !can_serve(s, k, e))
                continue;
            if (best == NONE || s->peers[k].inflight < s->peers[best].inflight)
                best = k;
        }
        if (best == NONE && e->avoid != NONE && can_serve(s, e->avoid, e))
            best = e->avoid; /* the only one: it may have recovered */
        if (best == NONE)
            continue;
        speer_t *p = &s->peers[best];
        e->state = E_INFLIGHT;
        e->peer = best;
        e->deadline_ms = now_ms + SYNC_STALL_MS;
        p->inflight++;
        s->inflight++;
        s->batch[(size_t)best * SYNC_PEER_INFLIGHT + p->batch_n++] = e->hash;
    }
    for (uint32_t k = 0; k < s->n_slots; k++) {
        if (!s->peers[k].batch_n)
            continue;
        s->ops.getdata(s->ops.ctx, k, &s->batch[(size_t)k * SYNC_PEER_INFLIGHT],
                       s->peers[k].batch_n);
        s->peers[k].batch_n = 0;
    }
}

static uint32_t pick_headers_peer(const sync_t *s, uint64_t now_ms)
{
    uint64_t known = s->count ? cat(s, s->count - 1)->height : s->view.height;
    uint32_t best = NONE;
    uint64_t best_h = 0;
    for (uint32_t k = 0; k < s->n_slots; k++) {
        const speer_t *p = &s->peers[k];
        if (!p->ready || p->dropping || p->retry_ms > now_ms)
            continue;
        uint64_t h = p->height > known ? p->height : p->announced ? known + 1 : 0;
        if (h > best_h) {
            best = k;
            best_h = h;
        }
    }
    return best;
}

void sync_pump(sync_t *s, uint64_t now_ms)
{
    if (s->hdr != NONE && s->hdr_pending && now_ms >= s->hdr_deadline_ms) {
        LOGINFO("sync: no headers within %d s: asking another peer", SYNC_HEADERS_TIMEOUT_MS / 1000);
        s->peers[s->hdr].stalls++;
        end_session(s, now_ms, true);
    }
    for (size_t i = 0; i < s->count && i < SYNC_AHEAD; i++) {
        entry_t *e = at(s, i);
        if (e->state == E_INFLIGHT && now_ms >= e->deadline_ms)
            stall(s, e);
    }
    for (uint32_t k = 0; k < s->n_slots; k++)
        s->peers[k].stalled_now = false;
    if (s->count && now_ms - s->last_progress_ms >= SYNC_PROGRESS_MS) {
        LOGWARN("sync: no block moved in %d s: dropping %zu queued", SYNC_PROGRESS_MS / 1000,
                s->count);
        clear_window(s);
        end_session(s, now_ms, true);
    }
    if (s->view.valid) {
        if (s->hdr == NONE) {
            uint32_t k = pick_headers_peer(s, now_ms);
            if (k != NONE) {
                s->hdr = k;
                s->last_progress_ms = now_ms;
                request_headers(s, now_ms);
            }
        } else if (!s->hdr_pending && s->more && SYNC_WINDOW - s->count >= PROTO_MAX_HEADERS) {
            request_headers(s, now_ms);
        }
    }
    if (s->dirty) {
        s->dirty = false;
        assign(s, now_ms);
        submit_ready(s);
    }
    for (uint32_t k = 0; k < s->n_slots; k++)
        if (s->peers[k].dropping && s->peers[k].ready) {
            s->peers[k].dropping = false;
            s->ops.drop(s->ops.ctx, k, "it stalls the download");
        }
}

void sync_stats(const sync_t *s, sync_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < s->count; i++) {
        switch (cat(s, i)->state) {
        case E_QUEUED: out->queued++; break;
        case E_INFLIGHT: out->inflight++; break;
        case E_HELD: out->held++; break;
        case E_SUBMITTED: out->submitting++; break;
        default: break;
        }
    }
    out->buffered_bytes = s->buffered;
    out->session = s->hdr != NONE;
    out->blocks_done = s->blocks_done;
}
