/* log: one line an event on stderr, with a level (ckpool's LOGERR…LOGDEBUG).
 * Lines look like `2026-11-24T11:05:29Z chaind info: message`.
 *
 * A line that input can make repeat (a refused handshake, a failed send, a
 * library's complaint about a broken client) goes through the limiter:
 * at most one line a LOG_LIMIT_MS per kind (its key, by default the format
 * string's address), the ones held back counted and reported on the next
 * line of that kind, "(N more held back)". So a flood costs a line a second,
 * not a disk. */
#ifndef CHAIN_LOG_H
#define CHAIN_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level_t;

/* Sets the program name shown on each line and the most verbose level shown. */
void log_init(const char *program, log_level_t level);
/* Parses "error", "warn", "info", "debug"; -1 for anything else. */
int log_level_parse(const char *name);
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOGERR(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define LOGWARN(...) log_msg(LOG_WARN, __VA_ARGS__)
#define LOGINFO(...) log_msg(LOG_INFO, __VA_ARGS__)
#define LOGDEBUG(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* --- the limiter --------------------------------------------------------- */

#define LOG_LIMIT_MS 1000 /* one line a kind this often at most */
#define LOG_LIMIT_KEYS 64 /* kinds followed at once */

typedef struct {
    const void *key; /* NULL: a free slot */
    uint64_t last_ms;  /* when its last line was allowed */
    uint64_t held;     /* lines refused since */
} log_limit_slot_t;

/* A table of kinds; zero-initialised it is empty. Not thread-safe (the log's
 * own limiter, behind log_limited(), takes a lock). */
typedef struct {
    log_limit_slot_t slots[LOG_LIMIT_KEYS];
} log_limiter_t;

/* Whether a line of kind key (not NULL) may be written at now_ms (a
 * monotonic clock): true for the first line of a kind and then once
 * LOG_LIMIT_MS has passed since the last one allowed, with *held the lines
 * refused in between (reset). A kind past the table's room takes the slot
 * of the kind quiet for longest, whose count is lost: the bound holds for
 * up to LOG_LIMIT_KEYS kinds at once. */
bool log_limiter_allow(log_limiter_t *l, const void *key, uint64_t now_ms, uint64_t *held);

/* log_msg() through the log's limiter (kind key; NULL: the format string),
 * "(N more held back)" appended when lines were refused. Thread-safe. */
void log_limited(log_level_t level, const void *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
