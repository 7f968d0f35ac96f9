#include "conntab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A linear table: a few hundred entries scanned once an event, a cost far
 * below the accept itself. */

int conntab_init(conntab_t *t, size_t cap, size_t per_group)
{
    memset(t, 0, sizeof *t);
    t->cap = cap ? cap : 1;
    t->per_group = per_group ? per_group : 1;
    t->next_seq = 1;
    t->conns = calloc(t->cap, sizeof *t->conns);
    return t->conns ? 0 : -1;
}

void conntab_free(conntab_t *t)
{
    free(t->conns);
    memset(t, 0, sizeof *t);
}

static conntab_conn_t *find(const conntab_t *t, int fd)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->conns[i].ref.fd == fd)
            return &t->conns[i];
    return NULL;
}

static void drop(conntab_t *t, conntab_conn_t *c) { *c = t->conns[--t->n]; }

static size_t in_group(const conntab_t *t, const char *group)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++)
        k += strcmp(t->conns[i].group, group) == 0;
    return k;
}

static conntab_conn_t *oldest_waiting(const conntab_t *t)
{
    conntab_conn_t *best = NULL;
    for (size_t i = 0; i < t->n; i++)
        if (!t->conns[i].ready && (!best || t->conns[i].ref.seq < best->ref.seq))
            best = &t->conns[i];
    return best;
}

conntab_verdict_t conntab_accept(conntab_t *t, int fd, const char *ip, const char *group,
                                 uint64_t *seq, conntab_ref_t *victim)
{
    conntab_verdict_t v = CONNTAB_ADMIT;
    t->st.accepted++;
    *seq = 0;
    if (group[0] && in_group(t, group) >= t->per_group) {
        t->st.refused++;
        return CONNTAB_REFUSE;
    }
    if (t->n == t->cap) {
        conntab_conn_t *old = oldest_waiting(t);
        if (!old) {
            t->st.refused++;
            return CONNTAB_REFUSE;
        }
        *victim = old->ref;
        drop(t, old);
        t->st.evicted++;
        v = CONNTAB_EVICT;
    }
    conntab_conn_t *c = &t->conns[t->n++];
    memset(c, 0, sizeof *c);
    c->ref = (conntab_ref_t){fd, t->next_seq++};
    snprintf(c->ip, sizeof c->ip, "%s", ip);
    snprintf(c->group, sizeof c->group, "%s", group);
    *seq = c->ref.seq;
    return v;
}

bool conntab_closed(conntab_t *t, int fd, conntab_ref_t *ref)
{
    conntab_conn_t *c = find(t, fd);
    if (!c)
        return false;
    *ref = c->ref;
    drop(t, c);
    return true;
}

bool conntab_find(const conntab_t *t, int fd, const char *ip, uint64_t *seq)
{
    const conntab_conn_t *c = find(t, fd);
    if (!c || (ip && !netgroup_same_ip(c->ip, ip)))
        return false;
    *seq = c->ref.seq;
    return true;
}

bool conntab_ready(conntab_t *t, conntab_ref_t ref, bool ready)
{
    conntab_conn_t *c = find(t, ref.fd);
    if (!c || c->ref.seq != ref.seq)
        return false;
    c->ready = ready;
    return true;
}

bool conntab_remove(conntab_t *t, conntab_ref_t ref)
{
    conntab_conn_t *c = find(t, ref.fd);
    if (!c || c->ref.seq != ref.seq)
        return false;
    drop(t, c);
    return true;
}
