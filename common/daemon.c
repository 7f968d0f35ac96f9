#include "daemon.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "key.h"
#include "log.h"

static volatile sig_atomic_t *stop_flag, *hup_flag;

static void on_signal(int sig)
{
    (void)sig;
    *stop_flag = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    *hup_flag = 1;
}

void daemon_on_hup(volatile sig_atomic_t *flag)
{
    hup_flag = flag;
    struct sigaction sa = {.sa_handler = on_hup};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
}

void daemon_signals(volatile sig_atomic_t *stop)
{
    stop_flag = stop;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int daemon_common_flags(const char *program, const char *log_level, const char *network,
                        const chain_params_t **params)
{
    int level = log_level_parse(log_level);
    *params = params_by_name(network);
    if (level < 0 || !*params) {
        fprintf(stderr, "%s: %s\n", program,
                level < 0 ? "--log-level is error, warn, info or debug"
                          : "--network is demo or regtest");
        return -1;
    }
    log_init(program, (log_level_t)level);
    err_t e;
    if (key_init(&e) < 0) {
        fprintf(stderr, "%s: %s\n", program, e.message);
        return -1;
    }
    return 0;
}

static uint64_t monotonic_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void daemon_ready(daemon_watchdog_t *w)
{
    w->interval_usec = 0;
    w->last_ping = monotonic_usec();
    if (sd_watchdog_enabled(0, &w->interval_usec) <= 0)
        w->interval_usec = 0;
    sd_notify(0, "READY=1");
}

void daemon_watchdog_tick(void *arg)
{
    daemon_watchdog_t *w = arg;
    uint64_t now = monotonic_usec();
    if (w->interval_usec && now - w->last_ping >= w->interval_usec / 2) {
        sd_notify(0, "WATCHDOG=1");
        w->last_ping = now;
    }
}

void daemon_stopping(void) { sd_notify(0, "STOPPING=1"); }
