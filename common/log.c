#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"

static const char *program_name = "chain";
static log_level_t max_level = LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *program, log_level_t level)
{
    program_name = program;
    max_level = level;
}

int log_level_parse(const char *name)
{
    for (int i = 0; i <= LOG_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

static void write_line(log_level_t level, const char *fmt, va_list ap, uint64_t held)
{
    char line[1024], stamp[32], more[48] = "";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    vsnprintf(line, sizeof line, fmt, ap);
    if (held)
        snprintf(more, sizeof more, " (%llu more held back)", (unsigned long long)held);
    /* one write per line, so lines from threads do not interleave */
    char out[1100];
    int n = snprintf(out, sizeof out, "%s %s %s: %s%s\n", stamp, program_name,
                     level_names[level], line, more);
    if (n > 0)
        fwrite(out, 1, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1, stderr);
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    if (level > max_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    write_line(level, fmt, ap, 0);
    va_end(ap);
}

bool log_limiter_allow(log_limiter_t *l, const void *key, uint64_t now_ms, uint64_t *held)
{
    log_limit_slot_t *slot = NULL, *quietest = &l->slots[0];
    for (size_t i = 0; i < LOG_LIMIT_KEYS && !slot; i++) {
        log_limit_slot_t *s = &l->slots[i];
        if (s->key == key)
            slot = s;
        else if (!s->key || (quietest->key && s->last_ms < quietest->last_ms))
            quietest = s;
    }
    if (!slot) {
        *quietest = (log_limit_slot_t){key, now_ms, 0};
        *held = 0;
        return true;
    }
    if (now_ms - slot->last_ms < LOG_LIMIT_MS) {
        slot->held++;
        return false;
    }
    *held = slot->held;
    slot->held = 0;
    slot->last_ms = now_ms;
    return true;
}

static log_limiter_t limiter;
static pthread_mutex_t limiter_lock = PTHREAD_MUTEX_INITIALIZER;

void log_limited(log_level_t level, const void *key, const char *fmt, ...)
{
    if (level > max_level)
        return;
    uint64_t held;
    pthread_mutex_lock(&limiter_lock);
    bool allowed = log_limiter_allow(&limiter, key ? key : fmt, clock_ms(), &held);
    pthread_mutex_unlock(&limiter_lock);
    if (!allowed)
        return;
    va_list ap;
    va_start(ap, fmt);
    write_line(level, fmt, ap, held);
    va_end(ap);
}
