/* gossip_metrics: gossipd's counters for --metrics (Prometheus text, prom.h).
 *
 * One process-wide set of C11 atomics: the reactor thread counts, the
 * metrics server's thread renders, neither waits. Message types come from
 * the protocol's own enum; a message that does not decode counts as "other",
 * so peer input never adds a label value. */
#ifndef GOSSIPD_GOSSIP_METRICS_H
#define GOSSIPD_GOSSIP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gossip.h"
#include "peer.h"


#define GMETRICS_OTHER (-1) /* the type of a message that did not decode */

/* Counts one message of type (a proto_msg_t, or GMETRICS_OTHER) of bytes
 * bytes sent to / received from p; reactor thread only. A sent inv starts p's
 * relay clock (p->inv_sent_ms) unless one runs; a getdata received stops it
 * into the relay-latency histogram. */
void gmetrics_sent(peer_t *p, int type, size_t bytes, uint64_t now_ms);
void gmetrics_received(peer_t *p, int type, size_t bytes, uint64_t now_ms);
/* Counts one banned peer. */
void gmetrics_ban(void);
/* Copies the loop's gauges (peers by direction, sync height and lag) from g;
 * called on the reactor thread, on its housekeeping tick. */
void gmetrics_tick(const gossip_t *g);
/* promhttp_render_fn: every metric (ctx unused). ERR_INTERNAL out of memory. */
int gmetrics_render(void *ctx, char **text, size_t *len, err_t *e);

#endif
