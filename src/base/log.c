/*
 * log.c: the stderr logger. Level and format are process-wide state, set at start-up and on
 * reload (both from the loop thread).
 */
#include "profgate/log.h"
#include "profgate/buf.h"
#include "profgate/iso8601.h"
#include "profgate/jsonw.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 8192

static int min_level = PG_LOG_INFO;
static int format = PG_LOG_PLAIN;
static int worker; /* 0: not one of several workers */
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void pg_log_set_level(int level)
{
    min_level = level;
}

void pg_log_set_format(int f)
{
    format = f;
}

void pg_log_set_worker(int n)
{
    worker = n;
}

bool pg_log_enabled(int level)
{
    return level >= min_level;
}

/* Writes the line; when it outgrew its limit, what fitted plus a newline. */
static void emit(pg_buf *b)
{
    if (b->len > 0 && b->data[b->len - 1] != '\n') {
        if (pg_buf_puts(b, "\n") != PG_OK && b->len > 0)
            b->data[b->len - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, b->data, b->len);
    (void)w; /* nothing sensible to do when stderr is gone */
}

/* "TIMESTAMP LEVEL " or {"time":"..","level":"..", */
static void start_line(pg_buf *b, int level)
{
    PG_ASSERT(level >= 0 && level < (int)PG_ARRAY_LEN(level_names));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* Millisecond timestamps: enough to order events, short enough to read. */
    int64_t ns = (int64_t)ts.tv_sec * PG_NS_PER_S + (ts.tv_nsec / PG_NS_PER_MS) * PG_NS_PER_MS;
    char t[PG_TS_FMT_MAX];
    pg_ts_format(ns, t, sizeof t);
    if (format == PG_LOG_JSON)
        pg_buf_printf(b, "{\"time\":\"%s\",\"level\":\"%s\",", t, level_names[level]);
    else
        pg_buf_printf(b, "%s %-5s ", t, level_names[level]);
    /* Workers share stderr: each line says whose it is. */
    if (worker > 0)
        pg_buf_printf(b, format == PG_LOG_JSON ? "\"worker\":%d," : "[worker %d] ", worker);
}

void pg_log(int level, const char *fmt, ...)
{
    if (!pg_log_enabled(level))
        return;
    char msg[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t mlen = k < 0 ? 0 : PG_MIN((size_t)k, sizeof msg - 1);
    pg_buf b;
    pg_buf_init(&b, LINE_MAX_BYTES + 512);
    start_line(&b, level);
    if (format == PG_LOG_JSON) {
        pg_buf_puts(&b, "\"msg\":");
        pg_json_str(&b, msg, mlen);
        pg_buf_puts(&b, "}");
    } else {
        pg_buf_append(&b, msg, mlen);
    }
    emit(&b);
    pg_buf_free(&b);
}

void pg_log_fields(int level, const char *msg, const pg_log_field *f, size_t n)
{
    if (!pg_log_enabled(level))
        return;
    pg_buf b;
    pg_buf_init(&b, LINE_MAX_BYTES + 512);
    start_line(&b, level);
    bool json = format == PG_LOG_JSON;
    if (json) {
        pg_buf_puts(&b, "\"msg\":");
        pg_json_cstr(&b, msg);
    } else {
        pg_buf_puts(&b, msg);
    }
    for (size_t i = 0; i < n; i++) {
        if (f[i].type == PG_LF_STR && f[i].s == NULL)
            continue;
        pg_buf_printf(&b, json ? ",\"%s\":" : " %s=", f[i].key);
        switch (f[i].type) {
        case PG_LF_STR:
            if (json) {
                pg_json_cstr(&b, f[i].s);
            } else {
                char v[1024];
                pg_printable(f[i].s, strlen(f[i].s), v, sizeof v);
                bool quote = v[0] == '\0' || strpbrk(v, " \"=") != NULL;
                pg_buf_printf(&b, quote ? "\"%s\"" : "%s", v);
            }
            break;
        case PG_LF_INT: pg_buf_printf(&b, "%lld", (long long)f[i].i); break;
        case PG_LF_F64: pg_buf_printf(&b, "%.3f", f[i].f); break;
        }
    }
    if (json)
        pg_buf_puts(&b, "}");
    emit(&b);
    pg_buf_free(&b);
}

int pg_log_level_parse(const char *s, int64_t *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < PG_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (int64_t)i;
            return PG_OK;
        }
    return PG_EINVAL;
}
