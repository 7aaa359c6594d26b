/* log.h -- process-wide logging for the Leasehold programs.
 *
 * One line per event on stderr, either plain text
 *   2026-11-28T04:42:12.345Z INFO  worker-1 Acquired lease 3f2a... for product PROD-001
 * or JSON ({"ts":..., "level":..., "component":..., "msg":...}). Configured
 * once from main (log_init) before any thread starts; afterwards log_write is
 * thread-safe (one write(2) per line, so lines never interleave).
 * Callers must never pass secrets: the logger does not scrub.
 */
#ifndef LEASEHOLD_LOG_H
#define LEASEHOLD_LOG_H

typedef enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR } log_level;

/* `component` is copied (e.g. the worker id). `json` selects JSON lines. */
void log_init(const char *component, log_level min_level, int json);
/* Parses "debug" | "info" | "warn" | "error"; -1 when unknown. */
int log_level_parse(const char *text);

void log_write(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LVL_ERROR, __VA_ARGS__)

#endif
