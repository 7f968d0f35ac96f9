/* housekeeping: the daemon's timers. Dialling (HOUSEKEEPING_DIAL_MS: the
 * address book's next due addresses, up to the outbound cap); the tick
 * (HOUSEKEEPING_TICK_MS: requests to chaind past their deadline, relay
 * requests and bans that expired, pings every HOUSEKEEPING_PING_MS, peers
 * silent for HOUSEKEEPING_SILENCE_MS or without a hello in time dropped);
 * chaind's tip check and the served txids it is told of (mark_broadcast,
 * each tick); the rebroadcast of chaind's unbroadcast set (about every
 * cfg.rebroadcast_ms, jittered); the peers report (every
 * HOUSEKEEPING_REPORT_MS, and at most HOUSEKEEPING_REPORT_SOON_MS after a
 * change); saving known peers and bans; the status lines (the sync, and
 * what the inbound limits turned away: counts, never a line a connection).
 * Each is a reactor timer, due at once when the daemon starts. Internal to
 * gossipd (gossip_state.h). */
#ifndef GOSSIP_HOUSEKEEPING_H
#define GOSSIP_HOUSEKEEPING_H

#include "gossip.h"

#define HOUSEKEEPING_DIAL_MS 250
#define HOUSEKEEPING_TICK_MS 100
#define HOUSEKEEPING_PING_MS 15000
#define HOUSEKEEPING_SILENCE_MS 60000 /* a peer silent this long (pings unanswered) is dropped */
#define HOUSEKEEPING_TIP_CHECK_MS 2000 /* get_tip: is the chain view still chaind's? */
#define HOUSEKEEPING_REPORT_MS 5000
#define HOUSEKEEPING_REPORT_SOON_MS 300
#define HOUSEKEEPING_SAVE_MS 60000
#define HOUSEKEEPING_STATUS_MS 5000
#define HOUSEKEEPING_TIMERS 7 /* the timers it holds */

#define HOUSEKEEPING_INBOUND_COUNTS 7

typedef struct {
    char peers_path[4096], bans_path[4096];
    int dial_timer, report_timer;
    uint64_t inbound_seen[HOUSEKEEPING_INBOUND_COUNTS]; /* the counts at the last line */
} housekeeping_state_t;

/* Names the files in datadir and starts the timers: -1 when the reactor has
 * no room for them. */
int housekeeping_start(gossip_t *g, const char *datadir) __attribute__((warn_unused_result));
/* Dial within the next pass (a peer was advertised). */
void housekeeping_dial_soon(gossip_t *g);
/* Report the peer table soon (the table changed). */
void housekeeping_report_soon(gossip_t *g);
/* Saves known peers and bans now (logged when it fails). */
void housekeeping_save(gossip_t *g);

#endif
