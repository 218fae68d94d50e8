/*
 * log.h: leveled, line-oriented logging to stderr. One call writes one whole line with a single
 * write(2), so lines from signal-time shutdown or from several processes sharing a terminal never
 * interleave mid-line. It never logs on its own initiative and never sees secrets: callers pass
 * only what may be shown.
 */
#ifndef PG_LOG_H
#define PG_LOG_H

#include "profgate/config.h"

/** Sets the least severe level written (PG_LOG_DEBUG..PG_LOG_ERROR). */
void pg_log_set_level(int level);
bool pg_log_enabled(int level);
/** Writes "TIMESTAMP LEVEL message\n"; lines longer than 4 KiB are cut. */
void pg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
