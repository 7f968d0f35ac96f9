/* daemon: what each daemon's main() does the same way — the stop signals,
 * the systemd notifications and watchdog, and the flags every daemon has. */
#ifndef CHAIN_DAEMON_H
#define CHAIN_DAEMON_H

#include <signal.h>
#include <stdint.h>

#include "params.h"

/* SIGTERM and SIGINT set *stop; SIGPIPE is ignored (a closed socket is an
 * error return, never a death). */
void daemon_signals(volatile sig_atomic_t *stop);
/* SIGHUP sets *flag (its reader clears it): a reload, not a stop. */
void daemon_on_hup(volatile sig_atomic_t *flag);

/* Parses the --log-level and --network values every daemon takes, starts
 * logging as program and initialises the signature library (key_init), so a
 * daemon that could check no signature stops at once. -1 after a message on
 * stderr (exit 2). */
int daemon_common_flags(const char *program, const char *log_level, const char *network,
                        const chain_params_t **params);

typedef struct {
    uint64_t interval_usec; /* 0: not under a systemd watchdog */
    uint64_t last_ping;
} daemon_watchdog_t;

/* Reads WATCHDOG_USEC (sd_watchdog_enabled) and sends READY=1. */
void daemon_ready(daemon_watchdog_t *w);
/* Sends WATCHDOG=1 when half the interval has passed; call it from the event
 * loop (its signature fits the loops' tick callbacks). */
void daemon_watchdog_tick(void *w);
/* Sends STOPPING=1. */
void daemon_stopping(void);

#endif
