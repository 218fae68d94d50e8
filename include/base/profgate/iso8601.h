/*
 * iso8601.h: strict parsing and formatting of ISO 8601 timestamps and durations, the two value
 * types of GetProfile's query string. Pure: no clock, no locale, no libc time functions (they
 * depend on TZ and cannot report which field was wrong).
 *
 * Instants are int64 nanoseconds since 1970-01-01T00:00:00Z, which covers 1677-09-21 to
 * 2262-04-11; anything outside is rejected as out of range rather than silently wrapped.
 */
#ifndef PG_ISO8601_H
#define PG_ISO8601_H

#include "profgate/common.h"

/** Longest formatted timestamp, with NUL: "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ". */
#define PG_TS_FMT_MAX 32

/**
 * Parses `YYYY-MM-DDThh:mm:ss[.f{1,9}](Z|±hh[:mm]|±hhmm)` (T/Z in either case) into *out_ns.
 * Returns PG_OK, or PG_EINVAL / PG_ERANGE with a human-readable reason in why (may be NULL).
 */
int pg_ts_parse(const char *s, size_t len, int64_t *out_ns, char *why, size_t whylen);

/** Formats as UTC `YYYY-MM-DDThh:mm:ss[.fff|.fffffffff]Z` (fraction only when non-zero). */
size_t pg_ts_format(int64_t ns, char *out, size_t outlen);

/**
 * Parses a duration `P[nW][nD][T[nH][nM][n[.f]S]]` into nanoseconds. Years and months are
 * rejected (they have no fixed length), as are negative, empty and overflowing durations.
 */
int pg_dur_parse(const char *s, size_t len, int64_t *out_ns, char *why, size_t whylen);

/** Days since the epoch of a proleptic Gregorian date (any int64 year that fits). */
int64_t pg_days_from_civil(int64_t y, unsigned m, unsigned d);
/** Inverse of pg_days_from_civil. */
void pg_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
