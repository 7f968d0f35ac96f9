/* httpguard: deadlines libmicrohttpd does not keep (issue 10 part 3).
 *
 * MHD_OPTION_CONNECTION_TIMEOUT counts idle time only, so a client sending
 * a header byte a second holds its slot forever (slowloris), and a body may
 * trickle in as slowly. The guard follows every connection from MHD's
 * connection notifications and a sweeper thread cuts, by shutdown(), the
 * ones that break a rule:
 *   - the request head (from accept, or from the end of the previous
 *     answer on a kept-alive connection, to the end of the headers) takes
 *     at most HTTPGUARD_HEAD_MS;
 *   - a body, after HTTPGUARD_BODY_GRACE_MS, arrives at no less than
 *     HTTPGUARD_BODY_MIN_RATE bytes a second on average;
 *   - a refused body being drained (httpguard_draining) ends within
 *     HTTPGUARD_DRAIN_MS.
 * Why shutdown() from another thread is sound: the sweeper touches a
 * descriptor only under the guard's lock, and MHD's CLOSED notification
 * (which takes the same lock to forget the connection) comes before MHD
 * closes the descriptor, so the number is never a reused one. shutdown()
 * leaves the descriptor open: MHD's own thread sees the end of the stream
 * at its next poll() and closes and frees the connection itself.
 * Slots are guarded too, where MHD cannot:
 *   - MHD caps connections per exact address, so an IPv6 host, which holds
 *     a whole /64, would have 2^64 addresses; the guard counts an IPv6 /64
 *     as one address (an IPv4 address as itself) and cuts a connection past
 *     max_per_group at once;
 *   - a slowloris spread over many addresses (17 of 64 connections fill the
 *     1 024 slots) would hold every slot until the head deadline cut it, and
 *     again as soon as it reconnected. Once fewer than a sixteenth of the
 *     slots are free, each new connection evicts one whose request head is
 *     unfinished (trickling, or idle on keep-alive): the oldest of the group
 *     that holds the most of them. A one-off client is never in the largest
 *     group, and a connection being served (an answer, an event stream) is
 *     never evicted.
 * Cuts are logged through log_limited. */
#ifndef CHAIND_HTTPGUARD_H
#define CHAIND_HTTPGUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

#define HTTPGUARD_HEAD_MS 10000       /* accept to the end of the headers */
#define HTTPGUARD_BODY_GRACE_MS 5000  /* a body's first seconds are not rated */
#define HTTPGUARD_BODY_MIN_RATE 4096  /* bytes a second, on average, after the grace */
#define HTTPGUARD_DRAIN_MS 5000       /* a refused body is read and dropped this long at most */
#define HTTPGUARD_SWEEP_MS 250        /* how often the sweeper looks */

#define HTTPGUARD_RESERVE_DIV 16      /* eviction keeps 1/16 of the slots free */

#define HTTPGUARD_GROUP_KEY_LEN 9 /* a family tag, then an IPv4 address or an IPv6 /64 */

typedef struct httpguard httpguard_t;

typedef struct {
    unsigned max_connections; /* MHD's connection limit (>= 1) */
    unsigned max_per_group;   /* of one IPv4 address or IPv6 /64 at once (>= 1) */
} httpguard_config_t;

/* Why the guard closed a connection (chain_http_connections_cut_total's
 * reason label: httpguard_cut_name). */
typedef enum {
    HTTPGUARD_CUT_SLOW_HEAD,  /* its head passed HTTPGUARD_HEAD_MS */
    HTTPGUARD_CUT_SLOW_BODY,  /* under HTTPGUARD_BODY_MIN_RATE */
    HTTPGUARD_CUT_LONG_DRAIN, /* a refused body past HTTPGUARD_DRAIN_MS */
    HTTPGUARD_CUT_OVER_GROUP, /* its group past max_per_group */
    HTTPGUARD_CUT_EVICTED,    /* slots were short */
    HTTPGUARD_CUTS
} httpguard_cut_t;

typedef struct {
    uint64_t cuts[HTTPGUARD_CUTS]; /* connections closed so far, by why */
} httpguard_stats_t;

/* "slow_head", "slow_body", "long_drain", "over_per_ip", "evicted". */
const char *httpguard_cut_name(httpguard_cut_t why);

/* Starts the sweeper. ERR_INTERNAL when memory or a thread is lacking. */
int httpguard_new(httpguard_t **g, const httpguard_config_t *cfg, err_t *e)
    __attribute__((warn_unused_result));
/* What the guard did so far; zeros for a NULL g. Any thread, lock-free. */
void httpguard_stats(httpguard_t *g, httpguard_stats_t *out);
/* Stops the sweeper and frees; call after MHD_stop_daemon (every connection
 * closed). Safe on NULL; *g becomes NULL. */
void httpguard_free(httpguard_t **g);

/* The group (the unit of max_per_group and of eviction) of a client's
 * address into key: an IPv4 address, an IPv4-mapped IPv6 address as that
 * IPv4 address, an IPv6 address's /64. False (key zeroed) for any other
 * family or a NULL sa. */
bool httpguard_group_key(const struct sockaddr *sa, uint8_t key[HTTPGUARD_GROUP_KEY_LEN]);

/* MHD_OPTION_NOTIFY_CONNECTION's callback, cls the guard. */
void httpguard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);

/* What the access handler tells the guard of connection c (one MHD knows
 * the guard from: a connection the guard failed to follow is ignored). */
void httpguard_head_done(struct MHD_Connection *c, int has_body); /* headers complete */
void httpguard_body(struct MHD_Connection *c, uint64_t bytes);    /* a piece of the body */
void httpguard_draining(struct MHD_Connection *c);                /* the body is refused */
void httpguard_body_done(struct MHD_Connection *c);               /* the request is whole */
void httpguard_request_done(struct MHD_Connection *c); /* answered: the next head's clock */

#endif
