/* log.c -- process-wide line logger (see log.h).
 *
 * Configuration lives in file-scope variables set once by log_init() before
 * threads start (the one global mutable state the house rules allow for
 * logging). Each call formats the whole line into a stack buffer and hands it
 * to a single write(2) on stderr, so concurrent lines never interleave
 * without needing a lock. Over-long messages are truncated, never split.
 */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static char log_component[64] = "leasehold";
static log_level log_min_level = LOG_LVL_INFO;
static int log_json;

static const char *const log_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_init(const char *component, log_level min_level, int json) {
    snprintf(log_component, sizeof(log_component), "%s", component ? component : "leasehold");
    log_min_level = min_level;
    log_json = json;
}

int log_level_parse(const char *text) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (text == NULL)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(text, names[i]) == 0)
            return i;
    if (strcasecmp(text, "warning") == 0)
        return LOG_LVL_WARN;
    return -1;
}

/* RFC 3339 UTC with milliseconds: 2026-11-28T04:42:12.345Z */
static void log_timestamp(char *out, size_t cap) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void log_emit(const char *line, size_t len) {
    /* One write(2) per line; a short write on a pipe of this size does not
     * happen in practice, but finish it rather than drop the tail. */
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, line, len);
        if (w <= 0)
            return;
        line += w;
        len -= (size_t)w;
    }
}

void log_write(log_level level, const char *fmt, ...) {
    if (level < log_min_level || level > LOG_LVL_ERROR)
        return;
    char msg[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    char ts[40];
    log_timestamp(ts, sizeof(ts));

    char line[LOG_LINE_MAX + 256];
    int n;
    if (log_json) {
        /* jansson does the string escaping (quotes, control bytes, UTF-8). */
        json_t *obj = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", log_level_names[level],
                                "component", log_component, "msg", msg);
        char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(obj);
        if (text == NULL) /* invalid UTF-8 in msg, or OOM: fall back to plain */
            n = snprintf(line, sizeof(line), "%s %-5s %s %s\n", ts, log_level_names[level],
                         log_component, msg);
        else
            n = snprintf(line, sizeof(line), "%s\n", text);
        free(text);
    } else {
        n = snprintf(line, sizeof(line), "%s %-5s %s %s\n", ts, log_level_names[level],
                     log_component, msg);
    }
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (line[len - 1] != '\n')
        line[len - 1] = '\n';
    log_emit(line, len);
}
