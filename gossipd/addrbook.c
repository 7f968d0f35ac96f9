#include "addrbook.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist.h"

/* A linear table: ADDRBOOK_MAX entries are scanned in microseconds, and
 * lookups happen on handshakes and dial ticks, not per message. */
struct addrbook {
    addrbook_entry_t *entries;
    size_t count;
    char self[ADDRBOOK_ADDR_MAX + 1];
};

#define FILE_MAX ((size_t)ADDRBOOK_MAX * (ADDRBOOK_ADDR_MAX + 64) + 64)
#define FILE_HEADER "# gossipd known peers v1: host:port last_seen failures source\n"

addrbook_t *addrbook_new(const char *self_addr)
{
    addrbook_t *ab = calloc(1, sizeof *ab);
    if (!ab)
        return NULL;
    ab->entries = calloc(ADDRBOOK_MAX, sizeof *ab->entries);
    if (!ab->entries) {
        free(ab);
        return NULL;
    }
    if (self_addr)
        snprintf(ab->self, sizeof ab->self, "%s", self_addr);
    return ab;
}

void addrbook_destroy(addrbook_t **ab)
{
    if (!*ab)
        return;
    free((*ab)->entries);
    free(*ab);
    *ab = NULL;
}

size_t addrbook_count(const addrbook_t *ab) { return ab->count; }

int addrbook_split(const char *addr, char *host, size_t host_cap, unsigned *port)
{
    size_t len = strlen(addr);
    if (len == 0 || len > ADDRBOOK_ADDR_MAX)
        return -1;
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr)
        return -1;
    size_t host_len = (size_t)(colon - addr);
    if (addr[0] == '[') { /* [IPv6]:port */
        if (host_len < 3 || addr[host_len - 1] != ']')
            return -1;
        for (size_t i = 1; i + 1 < host_len; i++)
            if (!strchr("0123456789abcdefABCDEF:.", addr[i]))
                return -1;
    } else {
        for (size_t i = 0; i < host_len; i++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_*",
                        addr[i]))
                return -1;
    }
    const char *p = colon + 1;
    unsigned v = 0;
    if (!*p || strlen(p) > 5)
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v == 0 || v > 65535 || host_len >= host_cap)
        return -1;
    memcpy(host, addr, host_len);
    host[host_len] = '\0';
    *port = v;
    return 0;
}

bool addrbook_valid(const char *addr)
{
    char host[ADDRBOOK_ADDR_MAX + 1];
    unsigned port;
    if (addrbook_split(addr, host, sizeof host, &port) < 0)
        return false;
    /* a wildcard is where a node listens, not where one can reach it */
    return strchr(host, '*') == NULL && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "[::]") != 0 &&
           strcmp(host, "[::0]") != 0;
}

static addrbook_entry_t *find(const addrbook_t *ab, const char *addr)
{
    for (size_t i = 0; i < ab->count; i++)
        if (strcmp(ab->entries[i].addr, addr) == 0)
            return &ab->entries[i];
    return NULL;
}

const addrbook_entry_t *addrbook_find(const addrbook_t *ab, const char *addr)
{
    return find(ab, addr);
}

static uint64_t backoff_ms(uint32_t failures)
{
    if (failures == 0)
        return 0;
    uint64_t wait = ADDRBOOK_BACKOFF_BASE_MS;
    for (uint32_t i = 1; i < failures && wait < ADDRBOOK_BACKOFF_MAX_MS; i++)
        wait *= 2;
    return wait < ADDRBOOK_BACKOFF_MAX_MS ? wait : ADDRBOOK_BACKOFF_MAX_MS;
}

/* The gossiped entry least worth keeping: most failures, then least recently
 * seen. Seeds, advertised addresses and those in use stay. */
static addrbook_entry_t *victim(addrbook_t *ab)
{
    addrbook_entry_t *worst = NULL;
    for (size_t i = 0; i < ab->count; i++) {
        addrbook_entry_t *x = &ab->entries[i];
        if (x->source != ADDR_GOSSIP || x->dialling)
            continue;
        if (!worst || x->failures > worst->failures ||
            (x->failures == worst->failures && x->last_seen < worst->last_seen))
            worst = x;
    }
    return worst;
}

int addrbook_add(addrbook_t *ab, const char *addr, addr_source_t source, uint64_t now_ms)
{
    if (!addrbook_valid(addr) || strcmp(addr, ab->self) == 0)
        return -1;
    addrbook_entry_t *x = find(ab, addr);
    if (x) {
        if (x->self)
            return 0;
        if (source < x->source)
            x->source = source;
        /* an operator's word (advertisement, seed) beats the backoff */
        if (source != ADDR_GOSSIP) {
            x->failures = 0;
            x->next_try_ms = now_ms;
        }
        return 0;
    }
    if (ab->count == ADDRBOOK_MAX) {
        /* a gossiped address never pushes out one we have reason to keep */
        addrbook_entry_t *v = victim(ab);
        if (!v || (source == ADDR_GOSSIP && v->failures == 0 && v->last_seen > 0))
            return -1;
        *v = ab->entries[--ab->count];
    }
    x = &ab->entries[ab->count++];
    memset(x, 0, sizeof *x);
    snprintf(x->addr, sizeof x->addr, "%s", addr);
    x->source = source;
    x->next_try_ms = now_ms;
    return 1;
}

const char *addrbook_next_dial(addrbook_t *ab, uint64_t now_ms, addrbook_skip_fn skip, void *ctx)
{
    addrbook_entry_t *best = NULL;
    for (size_t i = 0; i < ab->count; i++) {
        addrbook_entry_t *x = &ab->entries[i];
        if (x->self || x->dialling || x->next_try_ms > now_ms || (skip && skip(ctx, x)))
            continue;
        if (!best || x->source < best->source ||
            (x->source == best->source && x->failures < best->failures) ||
            (x->source == best->source && x->failures == best->failures &&
             x->last_seen > best->last_seen))
            best = x;
    }
    if (!best)
        return NULL;
    best->dialling = true;
    return best->addr;
}

void addrbook_dial_failed(addrbook_t *ab, const char *addr, uint64_t now_ms)
{
    addrbook_entry_t *x = find(ab, addr);
    if (!x)
        return;
    x->dialling = false;
    if (x->failures < UINT32_MAX)
        x->failures++;
    x->next_try_ms = now_ms + backoff_ms(x->failures);
}

void addrbook_connected(addrbook_t *ab, const char *addr, const uint8_t node_id[ADDRBOOK_ID_LEN],
                        uint64_t now_unix)
{
    addrbook_entry_t *x = find(ab, addr);
    if (!x)
        return;
    x->failures = 0;
    x->last_seen = now_unix;
    x->have_id = true;
    memcpy(x->node_id, node_id, ADDRBOOK_ID_LEN);
}

void addrbook_disconnected(addrbook_t *ab, const char *addr, uint64_t now_ms)
{
    addrbook_entry_t *x = find(ab, addr);
    if (!x)
        return;
    x->dialling = false;
    x->next_try_ms = now_ms + ADDRBOOK_BACKOFF_BASE_MS;
}

void addrbook_mark_self(addrbook_t *ab, const char *addr)
{
    addrbook_entry_t *x = find(ab, addr);
    if (x) {
        x->self = true;
        x->dialling = false;
    }
}

void addrbook_note_id(addrbook_t *ab, const char *addr, const uint8_t node_id[ADDRBOOK_ID_LEN])
{
    addrbook_entry_t *x = find(ab, addr);
    if (!x)
        return;
    x->have_id = true;
    memcpy(x->node_id, node_id, ADDRBOOK_ID_LEN);
}

static int newest_first(const void *a, const void *b)
{
    const addrbook_entry_t *x = *(const addrbook_entry_t *const *)a;
    const addrbook_entry_t *y = *(const addrbook_entry_t *const *)b;
    return x->last_seen < y->last_seen ? 1 : x->last_seen > y->last_seen ? -1 : 0;
}

size_t addrbook_sample(const addrbook_t *ab, const char **out, size_t max)
{
    const addrbook_entry_t *pick[ADDRBOOK_MAX];
    size_t n = 0;
    for (size_t i = 0; i < ab->count; i++)
        if (!ab->entries[i].self && ab->entries[i].failures == 0)
            pick[n++] = &ab->entries[i];
    qsort(pick, n, sizeof pick[0], newest_first);
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        out[i] = pick[i]->addr;
    return n;
}

int addrbook_save(const addrbook_t *ab, const char *path, err_t *e)
{
    char *buf = malloc(FILE_MAX);
    if (!buf)
        return err_set(e, ERR_INTERNAL, "out of memory saving %s", path);
    size_t len = (size_t)snprintf(buf, FILE_MAX, FILE_HEADER);
    for (size_t i = 0; i < ab->count; i++) {
        const addrbook_entry_t *x = &ab->entries[i];
        if (x->self)
            continue;
        len += (size_t)snprintf(buf + len, FILE_MAX - len, "%s %" PRIu64 " %" PRIu32 " %d\n",
                                x->addr, x->last_seen, x->failures, (int)x->source);
    }
    int rc = persist_write(path, buf, len, e);
    free(buf);
    return rc;
}

typedef struct {
    addrbook_t *ab;
    uint64_t now_ms;
} load_t;

/* One saved entry: "addr last_seen failures source"; a bad line is skipped. */
static void load_line(void *ctx, char *line)
{
    load_t *l = ctx;
    char addr[ADDRBOOK_ADDR_MAX + 1];
    uint64_t last_seen;
    uint32_t failures;
    int source;
    if (sscanf(line, "%255s %" SCNu64 " %" SCNu32 " %d", addr, &last_seen, &failures,
               &source) != 4 ||
        source < ADDR_ADVERT || source > ADDR_GOSSIP ||
        addrbook_add(l->ab, addr, (addr_source_t)source, l->now_ms) != 1)
        return;
    addrbook_entry_t *x = find(l->ab, addr);
    x->last_seen = last_seen;
    x->failures = failures;
    x->next_try_ms = l->now_ms + backoff_ms(failures);
}

int addrbook_load(addrbook_t *ab, const char *path, uint64_t now_ms, err_t *e)
{
    load_t l = {ab, now_ms};
    return persist_read_lines(path, FILE_MAX, load_line, &l, e);
}
