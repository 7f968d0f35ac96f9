#include "parking.h"

#include <stdlib.h>
#include <string.h>

/* A linear set: it holds at most a thousand entries, looked up a few times
 * a block, never on the admission path. */

void parking_init(parking_t *p) { memset(p, 0, sizeof *p); }

void parking_free(parking_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].raw);
    free(p->v);
    memset(p, 0, sizeof *p);
}

static long find(const parking_t *p, const hash32_t *txid)
{
    for (size_t i = 0; i < p->n; i++)
        if (hash32_eq(&p->v[i].txid, txid))
            return (long)i;
    return -1;
}

const parking_entry_t *parking_get(const parking_t *p, const hash32_t *txid)
{
    long i = find(p, txid);
    return i < 0 ? NULL : &p->v[i];
}

size_t parking_count(const parking_t *p) { return p->n; }

static void remove_at(parking_t *p, size_t i)
{
    p->bytes -= p->v[i].len;
    free(p->v[i].raw);
    memmove(&p->v[i], &p->v[i + 1], (p->n - i - 1) * sizeof *p->v);
    p->n--;
}

void parking_remove(parking_t *p, const hash32_t *txid)
{
    long i = find(p, txid);
    if (i >= 0)
        remove_at(p, (size_t)i);
}

int parking_add(parking_t *p, const hash32_t *txid, const uint8_t *raw, size_t len,
                uint8_t flags, uint64_t arrival, hash32_t *pushed_out, size_t *n_pushed)
{
    *n_pushed = 0;
    if (find(p, txid) >= 0)
        return 0;
    if (len > PARKING_MAX_BYTES)
        return -1;
    if (!p->v && !(p->v = malloc(PARKING_MAX_COUNT * sizeof *p->v)))
        return -1;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, raw, len);
    while (p->n && (p->n == PARKING_MAX_COUNT || p->bytes + len > PARKING_MAX_BYTES)) {
        pushed_out[(*n_pushed)++] = p->v[0].txid;
        remove_at(p, 0);
    }
    p->v[p->n++] = (parking_entry_t){*txid, copy, len, flags, arrival};
    p->bytes += len;
    return 0;
}
