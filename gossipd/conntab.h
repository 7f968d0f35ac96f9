/* conntab: the inbound TCP connections of the peer socket, as its monitor
 * reports them (net.h), and who may keep one. Bounded: at most cap
 * connections are held, whatever arrives.
 *
 * A new connection is refused when its address group already holds
 * per_group connections (a local one has no group here: loopback peers are
 * told apart by their verified listen address, which only the peer table
 * knows). When the table is full, the oldest connection whose peer has not
 * completed a handshake makes room for it: an honest peer says hello at
 * once, so one still silent is the first to go, and a flood of connections
 * that never speak cannot keep a newcomer out. A connection marked ready
 * (its peer completed a handshake) is never evicted here: the peer table
 * chooses among those (evict.h). With cap above the peer table's inbound
 * slots, a newcomer always finds a connection that is not ready, so it is
 * refused only when its group is full.
 *
 * Connections are named by descriptor and accept order (seq, from 1): a
 * descriptor is reused once its connection closed, a seq never is. Not
 * thread-safe (net holds a lock around it). */
#ifndef GOSSIP_CONNTAB_H
#define GOSSIP_CONNTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netgroup.h"

typedef struct {
    int fd;
    uint64_t seq;
} conntab_ref_t;

typedef struct {
    conntab_ref_t ref;
    bool ready;               /* its peer completed a handshake */
    char ip[64];              /* its remote IP ("" when unknown: ipc://) */
    char group[NETGROUP_MAX]; /* "" for a local connection */
} conntab_conn_t;

typedef struct {
    uint64_t accepted, refused, evicted;
} conntab_stats_t;

typedef struct {
    conntab_conn_t *conns;
    size_t n, cap, per_group;
    uint64_t next_seq;
    conntab_stats_t st;
} conntab_t;

typedef enum {
    CONNTAB_ADMIT,  /* held */
    CONNTAB_REFUSE, /* its group is full, or every connection held is ready: not held */
    CONNTAB_EVICT,  /* held; *victim, the oldest not ready, is no longer */
} conntab_verdict_t;

/* An empty table of cap (>= 1) connections, per_group (>= 1) a group. -1
 * when memory runs out. */
int conntab_init(conntab_t *t, size_t cap, size_t per_group) __attribute__((warn_unused_result));
void conntab_free(conntab_t *t);

/* A connection accepted on fd from ip, of group ("" when local or unknown).
 * The caller shuts down what the verdict names. *seq is the new
 * connection's (0 when refused). */
conntab_verdict_t conntab_accept(conntab_t *t, int fd, const char *ip, const char *group,
                                 uint64_t *seq, conntab_ref_t *victim);
/* fd's connection closed: true, with its ref, when it was held (it no
 * longer is). */
bool conntab_closed(conntab_t *t, int fd, conntab_ref_t *ref);
/* The seq of the connection held on fd, from ip when ip is not NULL; false
 * when none is. */
bool conntab_find(const conntab_t *t, int fd, const char *ip, uint64_t *seq);
/* Whether the connection's peer completed a handshake (then it is never
 * evicted). false when (fd, seq) is not held. */
bool conntab_ready(conntab_t *t, conntab_ref_t ref, bool ready);
/* The caller ends the connection itself: no longer held. false when it was not. */
bool conntab_remove(conntab_t *t, conntab_ref_t ref);

#endif
