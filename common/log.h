/* log: one line an event on stderr, with a level (ckpool's LOGERR…LOGDEBUG).
 * Lines look like `2026-11-24T11:05:29Z chaind info: message`. */
#ifndef CHAIN_LOG_H
#define CHAIN_LOG_H

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

#endif
