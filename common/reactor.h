/* reactor: the one event loop of every daemon (as Redis's ae or CZMQ's
 * zloop). ZeroMQ sockets and plain descriptors are registered with a
 * callback that runs when they are readable; timers, one-shot or repeating,
 * with a callback that runs when they are due.
 *
 * A pass: wait (zmq_poll) until a registration is readable or the next timer
 * is due; call the callback of every readable registration; fire the timers
 * that are due, earliest deadline first (equal deadlines in the order the
 * timers were added), each at most once a pass; then the pass hook
 * (reactor_on_pass). A timer added during a pass fires in a later one, so a
 * pass always ends.
 *
 * Bounds: at most max_io registrations and max_timers timers, fixed by
 * reactor_new(); an add past them fails (-1) and nothing grows. Timers live
 * in that fixed table, so there is no timer list to grow either.
 *
 * Ids: an add returns an id (>= 0) that names the registration until it is
 * removed (a one-shot timer: until it fired). Ids carry a generation, so a
 * stale id is recognised and removing it is a no-op. Any callback may remove
 * any registration, itself included; a removed one is never called again,
 * not even later in the same pass. Remove a socket before closing it.
 *
 * Times are clock_ms() (monotonic). Not thread-safe: the thread that runs
 * the loop makes every call.
 *
 * Why not CZMQ's zloop (Debian's libczmq-dev): it would be a second
 * dependency and a second socket abstraction (zsock_t) beside the raw libzmq
 * sockets every module uses; its readers and timers live in lists that grow
 * by one allocation a registration, with no cap; its timers are scanned as a
 * list every pass either way; and zsys, which it starts, installs its own
 * SIGINT/SIGTERM handlers unless told not to, against common/daemon.c's. What
 * the daemons need is this file: a few hundred lines, bounded tables, and the
 * removal-safety the peer table needs (a callback closes another peer). */
#ifndef CHAIN_REACTOR_H
#define CHAIN_REACTOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define REACTOR_MAX 0xffff /* registrations (and timers) a reactor can hold at most */

typedef struct reactor reactor_t;
typedef void (*reactor_fn)(void *arg);

/* A reactor with room for max_io sockets and descriptors and max_timers
 * timers (each at most REACTOR_MAX). NULL when memory runs out or a bound is
 * out of range. */
reactor_t *reactor_new(size_t max_io, size_t max_timers);
/* Frees the reactor (the sockets stay the caller's); *r becomes NULL. */
void reactor_destroy(reactor_t **r);

/* Calls fn(arg) in every pass in which sock (a ZeroMQ socket) / fd (a plain
 * descriptor) is readable. An id, or -1 when max_io registrations are held. */
int reactor_add_socket(reactor_t *r, void *sock, reactor_fn fn, void *arg);
int reactor_add_fd(reactor_t *r, int fd, reactor_fn fn, void *arg);
/* Ends a socket or descriptor registration. A no-op for -1 or a stale id. */
void reactor_remove(reactor_t *r, int id);

/* A timer: fn(arg) first delay_ms from now, then every interval_ms (counted
 * from the pass it fired in); interval_ms 0 makes a one-shot timer, gone
 * once it fired. An id, or -1 when max_timers timers are held. */
int reactor_timer(reactor_t *r, uint64_t delay_ms, uint64_t interval_ms, reactor_fn fn,
                  void *arg);
/* Ends a timer. A no-op for -1 or a stale id. */
void reactor_timer_cancel(reactor_t *r, int id);
/* Makes a timer due within delay_ms (a timer due sooner keeps its time). */
void reactor_timer_sooner(reactor_t *r, int id, uint64_t delay_ms);

/* fn(arg) runs at the end of every pass (NULL: none), after the callbacks
 * and timers of the pass: work that follows any batch of input. every_ms > 0
 * bounds every wait by it, so the hook also runs at least that often when
 * nothing happens (as Redis's beforeSleep with a cron). */
void reactor_on_pass(reactor_t *r, reactor_fn fn, void *arg, uint64_t every_ms);

/* One pass, waiting at most max_wait_ms (-1: until something is readable or
 * a timer is due). 0, or -1 with e when polling fails (ZeroMQ's reason; an
 * interrupting signal is no failure: the pass then only fires timers). */
int reactor_once(reactor_t *r, long max_wait_ms, err_t *e) __attribute__((warn_unused_result));
/* Passes until *stop (may be NULL) is set, reactor_stop() is called, or
 * nothing could wake the loop any more (no registration, no timer, no pass
 * hook with every_ms): 0; or -1 with e as reactor_once(). */
int reactor_run(reactor_t *r, volatile sig_atomic_t *stop, err_t *e)
    __attribute__((warn_unused_result));
/* Ends reactor_run() after the current pass (callable from callbacks). */
void reactor_stop(reactor_t *r);

#endif
