/*
 * log.h: leveled, line-oriented logging to stderr, as plain text or as JSON lines (log.format).
 * One call writes one whole line with a single write(2), so lines from signal-time shutdown or
 * from several processes sharing a terminal never interleave mid-line. It never logs on its own
 * initiative and never sees secrets: callers pass only what may be shown.
 */
#ifndef PG_LOG_H
#define PG_LOG_H

#include "profgate/common.h"

/* Severity levels (log.level) and line formats (log.format); config.c parses their names. */
enum { PG_LOG_DEBUG = 0, PG_LOG_INFO = 1, PG_LOG_WARN = 2, PG_LOG_ERROR = 3 };
enum { PG_LOG_PLAIN = 0, PG_LOG_JSON = 1 };

/** Parses "debug|info|warn|error" into a level. */
int pg_log_level_parse(const char *s, int64_t *out);

/** Sets the least severe level written (PG_LOG_DEBUG..PG_LOG_ERROR). */
void pg_log_set_level(int level);
bool pg_log_enabled(int level);
/** PG_LOG_PLAIN or PG_LOG_JSON. */
void pg_log_set_format(int format);
/** Tags every line with the worker number n (server.workers); 0, the default, tags nothing. */
void pg_log_set_worker(int n);

/**
 * Writes one line: plain "TIMESTAMP LEVEL message", or JSON {"time":..,"level":..,"msg":..}.
 * Lines longer than 8 KiB are cut (plain) or have their message cut (JSON).
 */
void pg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A structured field: a string (NULL: omitted), an integer, or a number. */
typedef enum { PG_LF_STR, PG_LF_INT, PG_LF_F64 } pg_log_ftype;
typedef struct pg_log_field {
    const char *key;
    pg_log_ftype type;
    const char *s;
    int64_t i;
    double f;
} pg_log_field;
#define PG_LF_S(k, v) ((pg_log_field){.key = (k), .type = PG_LF_STR, .s = (v)})
#define PG_LF_I(k, v) ((pg_log_field){.key = (k), .type = PG_LF_INT, .i = (int64_t)(v)})
#define PG_LF_F(k, v) ((pg_log_field){.key = (k), .type = PG_LF_F64, .f = (double)(v)})

/**
 * Writes msg with fields: plain "TIMESTAMP LEVEL msg key=value key=\"a value\" ...", or JSON with
 * each field as a member. String values are reduced to printable ASCII in plain lines.
 */
void pg_log_fields(int level, const char *msg, const pg_log_field *fields, size_t n);

#endif
