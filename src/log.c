/*
 * log.c: the stderr logger. The level is process-wide state, set once at start-up.
 */
#include "profgate/log.h"
#include "profgate/iso8601.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int min_level = PG_LOG_INFO;

void pg_log_set_level(int level)
{
    min_level = level;
}

bool pg_log_enabled(int level)
{
    return level >= min_level;
}

void pg_log(int level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (!pg_log_enabled(level))
        return;
    PG_ASSERT(level >= 0 && level < (int)PG_ARRAY_LEN(names));
    char line[4096];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* Millisecond timestamps: enough to order events, short enough to read. */
    int64_t ns = (int64_t)ts.tv_sec * PG_NS_PER_S + (ts.tv_nsec / PG_NS_PER_MS) * PG_NS_PER_MS;
    size_t n = pg_ts_format(ns, line, sizeof line);
    int k = snprintf(line + n, sizeof line - n, " %-5s ", names[level]);
    n += (size_t)(k > 0 ? k : 0);
    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (k < 0)
        k = 0;
    n = PG_MIN(n + (size_t)k, sizeof line - 2);
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nothing sensible to do when stderr is gone */
}
