#include "probe.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

void probe_init(probe_t *pr, uint64_t now_ms)
{
    memset(pr, 0, sizeof *pr);
    pr->tokens = PROBE_BURST;
    pr->tokens_ms = now_ms;
}

int probe_claim(peer_t *p, const char *claim, uint64_t now_ms)
{
    static const uint8_t zero[PEER_ID_LEN];
    do {
        if (RAND_bytes(p->challenge, PEER_ID_LEN) != 1)
            return -1;
    } while (memcmp(p->challenge, zero, PEER_ID_LEN) == 0); /* zero: "no proof" */
    p->have_challenge = true;
    snprintf(p->claim, sizeof p->claim, "%s", claim);
    p->claim_state = PEER_CLAIM_WAIT;
    p->claim_due_ms = now_ms + PROBE_DELAY_MS;
    return 0;
}

static bool in_flight(const probe_t *pr, const char *addr)
{
    for (int s = 0; s < PROBE_MAX; s++)
        if (pr->slot[s].busy && strcmp(pr->slot[s].addr, addr) == 0)
            return true;
    return false;
}

static int free_slot(const probe_t *pr)
{
    for (int s = 0; s < PROBE_MAX; s++)
        if (!pr->slot[s].busy)
            return s;
    return -1;
}

static void refill(probe_t *pr, uint64_t now_ms)
{
    if (now_ms <= pr->tokens_ms)
        return;
    pr->tokens += (double)(now_ms - pr->tokens_ms) * PROBE_RATE / 1000.0;
    if (pr->tokens > PROBE_BURST)
        pr->tokens = PROBE_BURST;
    pr->tokens_ms = now_ms;
}

/* The youngest claim due whose address is not being probed. */
static peer_t *next_claim(const probe_t *pr, peer_table_t *t, uint64_t now_ms)
{
    peer_t *best = NULL;
    for (size_t i = 0; i < t->cap; i++) {
        peer_t *p = &t->peers[i];
        if (p->state != PEER_READY || p->claim_state != PEER_CLAIM_WAIT ||
            p->claim_due_ms > now_ms || in_flight(pr, p->claim))
            continue;
        if (!best || p->connected_ms > best->connected_ms)
            best = p;
    }
    return best;
}

int probe_next(probe_t *pr, peer_table_t *t, uint64_t now_ms)
{
    refill(pr, now_ms);
    int s = free_slot(pr);
    if (s < 0 || pr->tokens < 1)
        return -1;
    peer_t *p = next_claim(pr, t, now_ms);
    if (!p)
        return -1;
    pr->tokens -= 1;
    probe_slot_t *x = &pr->slot[s];
    x->busy = true;
    x->peer = peer_ref(t, p);
    snprintf(x->addr, sizeof x->addr, "%s", p->claim);
    x->deadline_ms = now_ms + PROBE_TIMEOUT_MS;
    p->claim_state = PEER_CLAIM_PROBING;
    return s;
}

peer_t *probe_done(probe_t *pr, peer_table_t *t, int s, const uint8_t *node_id,
                   const uint8_t *nonce)
{
    probe_slot_t *x = &pr->slot[s];
    if (!x->busy)
        return NULL;
    x->busy = false;
    peer_t *p = peer_get(t, x->peer);
    if (!p || p->claim_state != PEER_CLAIM_PROBING)
        return NULL;
    bool ok = node_id && nonce && p->have_id && memcmp(node_id, p->node_id, PEER_ID_LEN) == 0 &&
              memcmp(nonce, p->challenge, PEER_ID_LEN) == 0;
    p->claim_state = ok ? PEER_CLAIM_VERIFIED : PEER_CLAIM_FAILED;
    return ok ? p : NULL;
}

int probe_overdue(const probe_t *pr, uint64_t now_ms)
{
    for (int s = 0; s < PROBE_MAX; s++)
        if (pr->slot[s].busy && pr->slot[s].deadline_ms <= now_ms)
            return s;
    return -1;
}
