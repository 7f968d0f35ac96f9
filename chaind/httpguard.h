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
 * Cuts are logged through log_limited. */
#ifndef CHAIND_HTTPGUARD_H
#define CHAIND_HTTPGUARD_H

#include <microhttpd.h>
#include <stdint.h>

#include "err.h"

#define HTTPGUARD_HEAD_MS 10000       /* accept to the end of the headers */
#define HTTPGUARD_BODY_GRACE_MS 5000  /* a body's first seconds are not rated */
#define HTTPGUARD_BODY_MIN_RATE 4096  /* bytes a second, on average, after the grace */
#define HTTPGUARD_DRAIN_MS 5000       /* a refused body is read and dropped this long at most */
#define HTTPGUARD_SWEEP_MS 250        /* how often the sweeper looks */

typedef struct httpguard httpguard_t;

/* Starts the sweeper. ERR_INTERNAL when memory or a thread is lacking. */
int httpguard_new(httpguard_t **g, err_t *e) __attribute__((warn_unused_result));
/* Stops the sweeper and frees; call after MHD_stop_daemon (every connection
 * closed). Safe on NULL; *g becomes NULL. */
void httpguard_free(httpguard_t **g);

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
