#include "relay.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* hmap values must be non-NULL: presence is all a set needs */
static char present;

int relay_set_init(relay_set_t *s, size_t max)
{
    assert(max >= 2);
    s->max = max;
    s->old = NULL;
    s->cur = hmap_new(32);
    return s->cur ? 0 : -1;
}

void relay_set_free(relay_set_t *s)
{
    hmap_destroy(&s->cur);
    hmap_destroy(&s->old);
}

bool relay_set_has(const relay_set_t *s, const hash32_t *h)
{
    return (s->cur && hmap_get(s->cur, h->b)) || (s->old && hmap_get(s->old, h->b));
}

size_t relay_set_count(const relay_set_t *s)
{
    return (s->cur ? hmap_count(s->cur) : 0) + (s->old ? hmap_count(s->old) : 0);
}

void relay_set_del(relay_set_t *s, const hash32_t *h)
{
    if (s->cur)
        (void)hmap_del(s->cur, h->b);
    if (s->old)
        (void)hmap_del(s->old, h->b);
}

int relay_set_add(relay_set_t *s, const hash32_t *h)
{
    if (relay_set_has(s, h))
        return 0;
    if (hmap_count(s->cur) >= s->max / 2) {
        /* rotate: the older generation goes, so the set never passes max */
        hmap_t *fresh = hmap_new(32);
        if (!fresh)
            return -1;
        hmap_destroy(&s->old);
        s->old = s->cur;
        s->cur = fresh;
    }
    return hmap_put(s->cur, h->b, &present);
}

/* --- requests ---------------------------------------------------------------- */

typedef struct {
    bool used;
    uint8_t kind;
    uint32_t slot;
    hash32_t hash;
    uint64_t deadline_ms;
} request_t;

struct relay {
    relay_peer_t *peers;
    size_t n_slots;
    relay_set_t recent;
    request_t *reqs; /* pool of RELAY_REQ_MAX */
    hmap_t *by_hash; /* hash -> request_t* */
    size_t n_reqs;
    uint32_t *free_reqs; /* stack of unused pool indexes */
};

relay_t *relay_new(size_t n_slots)
{
    relay_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->n_slots = n_slots;
    r->peers = calloc(n_slots ? n_slots : 1, sizeof *r->peers);
    r->reqs = calloc(RELAY_REQ_MAX, sizeof *r->reqs);
    r->by_hash = hmap_new(32);
    r->free_reqs = malloc(RELAY_REQ_MAX * sizeof *r->free_reqs);
    if (!r->peers || !r->reqs || !r->by_hash || !r->free_reqs ||
        relay_set_init(&r->recent, RELAY_RECENT_MAX) < 0) {
        relay_destroy(&r);
        return NULL;
    }
    for (uint32_t i = 0; i < RELAY_REQ_MAX; i++)
        r->free_reqs[i] = RELAY_REQ_MAX - 1 - i;
    return r;
}

void relay_destroy(relay_t **rp)
{
    relay_t *r = *rp;
    if (!r)
        return;
    for (size_t i = 0; r->peers && i < r->n_slots; i++)
        relay_close(r, (uint32_t)i);
    free(r->peers);
    free(r->reqs);
    free(r->free_reqs);
    hmap_destroy(&r->by_hash);
    relay_set_free(&r->recent);
    free(r);
    *rp = NULL;
}

static void drop_request(relay_t *r, request_t *q)
{
    hmap_del(r->by_hash, q->hash.b);
    q->used = false;
    r->free_reqs[RELAY_REQ_MAX - r->n_reqs] = (uint32_t)(q - r->reqs);
    r->n_reqs--;
}

int relay_open(relay_t *r, uint32_t slot)
{
    assert(slot < r->n_slots);
    relay_close(r, slot);
    relay_peer_t *p = &r->peers[slot];
    memset(p, 0, sizeof *p);
    p->inv[RELAY_TX] = malloc(RELAY_INV_MAX * sizeof(hash32_t));
    p->inv[RELAY_BLOCK] = malloc(RELAY_INV_MAX * sizeof(hash32_t));
    p->serve = malloc(RELAY_SERVE_MAX * sizeof *p->serve);
    if (!p->inv[0] || !p->inv[1] || !p->serve || relay_set_init(&p->known, RELAY_KNOWN_MAX) < 0) {
        p->open = true; /* so that close frees what was made */
        relay_close(r, slot);
        return -1;
    }
    p->open = true;
    return 0;
}

void relay_close(relay_t *r, uint32_t slot)
{
    assert(slot < r->n_slots);
    relay_peer_t *p = &r->peers[slot];
    if (!p->open)
        return;
    relay_set_free(&p->known);
    free(p->inv[0]);
    free(p->inv[1]);
    free(p->serve);
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < RELAY_REQ_MAX && r->n_reqs; i++)
        if (r->reqs[i].used && r->reqs[i].slot == slot)
            drop_request(r, &r->reqs[i]);
}

relay_peer_t *relay_peer(relay_t *r, uint32_t slot)
{
    return slot < r->n_slots && r->peers[slot].open ? &r->peers[slot] : NULL;
}

void relay_learn(relay_t *r, uint32_t slot, const hash32_t *h)
{
    relay_peer_t *p = relay_peer(r, slot);
    if (p)
        (void)relay_set_add(&p->known, h); /* out of memory: at worst announced twice */
}

bool relay_knows(const relay_t *r, uint32_t slot, const hash32_t *h)
{
    return slot < r->n_slots && r->peers[slot].open && relay_set_has(&r->peers[slot].known, h);
}

void relay_forget(relay_t *r, uint32_t slot, const hash32_t *h)
{
    relay_peer_t *p = relay_peer(r, slot);
    if (p)
        relay_set_del(&p->known, h);
}

int relay_announce(relay_t *r, uint32_t slot, relay_kind_t kind, const hash32_t *h)
{
    relay_peer_t *p = relay_peer(r, slot);
    if (!p || relay_set_has(&p->known, h))
        return 0;
    if (p->n_inv[kind] == RELAY_INV_MAX)
        return -1;
    (void)relay_set_add(&p->known, h);
    p->inv[kind][p->n_inv[kind]++] = *h;
    return 1;
}

size_t relay_take_inv(relay_t *r, uint32_t slot, relay_kind_t kind, hash32_t *out)
{
    relay_peer_t *p = relay_peer(r, slot);
    if (!p)
        return 0;
    size_t n = p->n_inv[kind];
    memcpy(out, p->inv[kind], n * sizeof *out);
    p->n_inv[kind] = 0;
    return n;
}

size_t relay_inv_pending(const relay_t *r, uint32_t slot, relay_kind_t kind)
{
    return slot < r->n_slots && r->peers[slot].open ? r->peers[slot].n_inv[kind] : 0;
}

void relay_note_seen(relay_t *r, const hash32_t *h) { (void)relay_set_add(&r->recent, h); }

bool relay_seen(const relay_t *r, const hash32_t *h) { return relay_set_has(&r->recent, h); }

bool relay_request(relay_t *r, uint32_t slot, relay_kind_t kind, const hash32_t *h,
                   uint64_t now_ms)
{
    if (r->n_reqs == RELAY_REQ_MAX || hmap_get(r->by_hash, h->b))
        return false;
    /* the free stack holds RELAY_REQ_MAX - n_reqs indexes, the top last */
    request_t *q = &r->reqs[r->free_reqs[RELAY_REQ_MAX - r->n_reqs - 1]];
    if (hmap_put(r->by_hash, h->b, q) < 0)
        return false;
    *q = (request_t){true, (uint8_t)kind, slot, *h, now_ms + RELAY_REQ_TIMEOUT_MS};
    r->n_reqs++;
    return true;
}

bool relay_requested(const relay_t *r, const hash32_t *h) { return hmap_get(r->by_hash, h->b); }

bool relay_asked(const relay_t *r, uint32_t slot, const hash32_t *h)
{
    const request_t *q = hmap_get(r->by_hash, h->b);
    return q && q->slot == slot;
}

bool relay_fulfil(relay_t *r, uint32_t slot, const hash32_t *h)
{
    request_t *q = hmap_get(r->by_hash, h->b);
    if (!q || q->slot != slot)
        return false;
    drop_request(r, q);
    return true;
}

size_t relay_expire(relay_t *r, uint64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < RELAY_REQ_MAX && r->n_reqs; i++)
        if (r->reqs[i].used && r->reqs[i].deadline_ms <= now_ms) {
            drop_request(r, &r->reqs[i]);
            n++;
        }
    return n;
}

bool relay_serve_push(relay_t *r, uint32_t slot, relay_kind_t kind, const hash32_t *h)
{
    relay_peer_t *p = relay_peer(r, slot);
    if (!p || p->serve_count == RELAY_SERVE_MAX)
        return false;
    p->serve[(p->serve_head + p->serve_count++) % RELAY_SERVE_MAX] = (relay_item_t){(uint8_t)kind, *h};
    return true;
}

bool relay_serve_pop(relay_t *r, uint32_t slot, relay_item_t *item)
{
    relay_peer_t *p = relay_peer(r, slot);
    if (!p || p->serve_count == 0)
        return false;
    *item = p->serve[p->serve_head];
    p->serve_head = (p->serve_head + 1) % RELAY_SERVE_MAX;
    p->serve_count--;
    return true;
}
