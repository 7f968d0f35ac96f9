#include "peer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "netgroup.h"
#include "persist.h"

#define BANS_FILE_MAX ((size_t)PEER_BAN_MAX * (PEER_BAN_KEY_MAX + 32) + 64)

int peer_table_init(peer_table_t *t, size_t max_inbound, size_t max_outbound)
{
    memset(t, 0, sizeof *t);
    t->max_inbound = max_inbound;
    t->max_outbound = max_outbound;
    t->cap = max_inbound + max_outbound;
    t->peers = calloc(t->cap ? t->cap : 1, sizeof *t->peers);
    t->bans = calloc(PEER_BAN_MAX, sizeof *t->bans);
    if (!t->peers || !t->bans) {
        peer_table_free(t);
        return -1;
    }
    return 0;
}

void peer_table_free(peer_table_t *t)
{
    free(t->peers);
    free(t->bans);
    memset(t, 0, sizeof *t);
}

peer_t *peer_alloc(peer_table_t *t, bool inbound, uint64_t now_ms, uint64_t hello_timeout_ms)
{
    if (inbound ? t->n_inbound >= t->max_inbound : t->n_outbound >= t->max_outbound)
        return NULL;
    for (size_t i = 0; i < t->cap; i++) {
        peer_t *p = &t->peers[i];
        if (p->state != PEER_FREE)
            continue;
        uint32_t gen = p->gen;
        memset(p, 0, sizeof *p);
        p->gen = gen;
        p->state = inbound ? PEER_HANDSHAKE : PEER_CONNECTING;
        p->inbound = inbound;
        p->fd = -1;
        p->tokens = PEER_FLOOD_BURST;
        p->tokens_ms = p->score_ms = p->last_recv_ms = p->connected_ms = now_ms;
        p->min_ping_ms = UINT64_MAX;
        p->deadline_ms = now_ms + hello_timeout_ms;
        if (inbound)
            t->n_inbound++;
        else
            t->n_outbound++;
        return p;
    }
    return NULL; /* unreachable while the counts are right: cap = the sum */
}

void peer_free(peer_table_t *t, peer_t *p)
{
    if (p->state == PEER_FREE)
        return;
    if (p->inbound)
        t->n_inbound--;
    else
        t->n_outbound--;
    p->state = PEER_FREE;
    p->gen++;
}

peer_ref_t peer_ref(const peer_table_t *t, const peer_t *p)
{
    return (peer_ref_t){peer_slot(t, p), p->gen};
}

peer_t *peer_get(const peer_table_t *t, peer_ref_t ref)
{
    if (ref.slot >= t->cap)
        return NULL;
    peer_t *p = &t->peers[ref.slot];
    return p->state != PEER_FREE && p->gen == ref.gen ? p : NULL;
}

peer_t *peer_find_rid(const peer_table_t *t, const uint8_t *rid, size_t len)
{
    for (size_t i = 0; i < t->cap; i++) {
        peer_t *p = &t->peers[i];
        if (p->state != PEER_FREE && p->inbound && p->rid_len == len &&
            memcmp(p->rid, rid, len) == 0)
            return p;
    }
    return NULL;
}

peer_t *peer_find_conn(const peer_table_t *t, int fd, uint64_t seq)
{
    for (size_t i = 0; i < t->cap; i++) {
        const peer_t *p = &t->peers[i];
        if (p->state != PEER_FREE && p->inbound && p->fd == fd && p->conn_seq == seq)
            return &t->peers[i];
    }
    return NULL;
}

peer_t *peer_find_id(const peer_table_t *t, const uint8_t id[PEER_ID_LEN], const peer_t *except)
{
    for (size_t i = 0; i < t->cap; i++) {
        peer_t *p = &t->peers[i];
        if (p != except && p->state == PEER_READY && memcmp(p->node_id, id, PEER_ID_LEN) == 0)
            return p;
    }
    return NULL;
}

peer_t *peer_find_origin(const peer_table_t *t, const char *origin)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->peers[i].state == PEER_READY && strcmp(t->peers[i].origin, origin) == 0)
            return &t->peers[i];
    return NULL;
}

size_t peer_count_ready(const peer_table_t *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        n += t->peers[i].state == PEER_READY;
    return n;
}

void peer_id_key(char out[20], const uint8_t id[PEER_ID_LEN])
{
    memcpy(out, "id:", 3);
    hex_encode(out + 3, id, PEER_ID_LEN);
}

void peer_set_addr(peer_t *p, const char *addr)
{
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    if (*addr && strlen(addr) + 5 <= PEER_ORIGIN_MAX) {
        snprintf(p->origin, sizeof p->origin, "peer:%s", addr);
    } else {
        char key[20];
        peer_id_key(key, p->node_id);
        snprintf(p->origin, sizeof p->origin, "peer:%s", key);
    }
}

static void decay(peer_t *p, uint64_t now_ms)
{
    if (now_ms <= p->score_ms)
        return;
    uint64_t points = (now_ms - p->score_ms) / PEER_SCORE_DECAY_MS;
    if (points == 0)
        return;
    p->score = (uint64_t)p->score > points ? p->score - (int)points : 0;
    p->score_ms += points * PEER_SCORE_DECAY_MS;
}

void peer_misbehave(peer_t *p, int points, uint64_t now_ms)
{
    decay(p, now_ms);
    if (points > 0)
        p->score = p->score > PEER_BAN_SCORE * 10 ? p->score : p->score + points;
}

bool peer_should_ban(const peer_t *p) { return p->score >= PEER_BAN_SCORE; }

bool peer_pong(peer_t *p, uint64_t nonce, uint64_t now_ms)
{
    if (nonce != p->ping_nonce)
        return false;
    if (p->ping_out && now_ms >= p->last_ping_ms && now_ms - p->last_ping_ms < p->min_ping_ms)
        p->min_ping_ms = now_ms - p->last_ping_ms;
    p->ping_out = false;
    return true;
}

int peer_decode(peer_t *p, const char *network, const uint8_t *data, size_t len, uint64_t now_ms,
                proto_peer_msg_t *msg, err_t *e)
{
    int rc = proto_decode_peer(msg, network, data, len, e);
    if (rc < 0)
        peer_misbehave(p, err_ban_score((err_code_t)-rc), now_ms);
    return rc < 0 ? -1 : 0;
}

bool peer_charge(peer_t *p, uint64_t now_ms, double cost)
{
    if (now_ms > p->tokens_ms) {
        p->tokens += (double)(now_ms - p->tokens_ms) * PEER_FLOOD_RATE / 1000.0;
        if (p->tokens > PEER_FLOOD_BURST)
            p->tokens = PEER_FLOOD_BURST;
        p->tokens_ms = now_ms;
    }
    if (p->tokens >= cost) {
        p->tokens -= cost;
        return true;
    }
    peer_misbehave(p, PEER_FLOOD_DROP_SCORE, now_ms);
    return false;
}

/* --- bans ------------------------------------------------------------------ */

static peer_ban_t *find_ban(const peer_table_t *t, const char *key)
{
    for (size_t i = 0; i < t->n_bans; i++)
        if (strcmp(t->bans[i].key, key) == 0)
            return &t->bans[i];
    return NULL;
}

void peer_ban(peer_table_t *t, const char *key, uint64_t now_unix, uint64_t seconds)
{
    if (!key || !*key || strlen(key) > PEER_BAN_KEY_MAX)
        return;
    uint64_t until = now_unix + seconds;
    peer_ban_t *b = find_ban(t, key);
    if (!b) {
        if (t->n_bans == PEER_BAN_MAX) {
            /* full: the ban nearest its end makes room */
            b = &t->bans[0];
            for (size_t i = 1; i < t->n_bans; i++)
                if (t->bans[i].until < b->until)
                    b = &t->bans[i];
        } else {
            b = &t->bans[t->n_bans++];
        }
        snprintf(b->key, sizeof b->key, "%s", key);
        b->until = 0;
    }
    if (until > b->until)
        b->until = until;
    t->bans_dirty = true;
}

bool peer_banned(const peer_table_t *t, const char *key, uint64_t now_unix)
{
    if (!key || !*key)
        return false;
    const peer_ban_t *b = find_ban(t, key);
    return b && b->until > now_unix;
}

size_t peer_ban_keys(const peer_t *p, const char *keys[2])
{
    size_t n = 0;
    if (!p->inbound) {
        if (p->addr[0])
            keys[n++] = p->addr;
        return n;
    }
    /* loopback carries every local peer (and every node of a test): its
     * address would name the innocent too */
    if (!netgroup_local(p->ip))
        keys[n++] = p->ip;
    if (p->claim_state == PEER_CLAIM_VERIFIED)
        keys[n++] = p->claim;
    return n;
}

size_t peer_ban_peer(peer_table_t *t, const peer_t *p, uint64_t now_unix, uint64_t seconds)
{
    const char *keys[2];
    size_t n = peer_ban_keys(p, keys);
    for (size_t i = 0; i < n; i++)
        peer_ban(t, keys[i], now_unix, seconds);
    return n;
}

bool peer_banned_peer(const peer_table_t *t, const peer_t *p, uint64_t now_unix)
{
    const char *keys[2];
    size_t n = peer_ban_keys(p, keys);
    for (size_t i = 0; i < n; i++)
        if (peer_banned(t, keys[i], now_unix))
            return true;
    return false;
}

void peer_bans_expire(peer_table_t *t, uint64_t now_unix)
{
    for (size_t i = 0; i < t->n_bans;) {
        if (t->bans[i].until <= now_unix) {
            t->bans[i] = t->bans[--t->n_bans];
            t->bans_dirty = true;
        } else {
            i++;
        }
    }
}

int peer_bans_save(peer_table_t *t, const char *path, err_t *e)
{
    char *buf = malloc(BANS_FILE_MAX);
    if (!buf)
        return err_set(e, ERR_INTERNAL, "out of memory saving %s", path);
    size_t len = (size_t)snprintf(buf, BANS_FILE_MAX, "# gossipd bans v1: key until_unix\n");
    for (size_t i = 0; i < t->n_bans; i++)
        len += (size_t)snprintf(buf + len, BANS_FILE_MAX - len, "%s %" PRIu64 "\n",
                                t->bans[i].key, t->bans[i].until);
    int rc = persist_write(path, buf, len, e);
    free(buf);
    if (rc == 0)
        t->bans_dirty = false;
    return rc;
}

typedef struct {
    peer_table_t *t;
    uint64_t now_unix;
} bans_load_t;

/* One saved ban: "key until"; a bad or expired one is skipped. */
static void ban_line(void *ctx, char *line)
{
    bans_load_t *l = ctx;
    char key[PEER_BAN_KEY_MAX + 1];
    uint64_t until;
    if (sscanf(line, "%255s %" SCNu64, key, &until) == 2 && until > l->now_unix)
        peer_ban(l->t, key, 0, until);
}

int peer_bans_load(peer_table_t *t, const char *path, uint64_t now_unix, err_t *e)
{
    bans_load_t l = {t, now_unix};
    int rc = persist_read_lines(path, BANS_FILE_MAX, ban_line, &l, e);
    if (rc == 0)
        t->bans_dirty = false;
    return rc;
}
