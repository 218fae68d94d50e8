/*
 * query.h: splitting a request target into path and query, splitting a query string into
 * parameters, and percent-decoding (RFC 3986). Pure and bounded: it never allocates; callers
 * supply the output space. It knows nothing about which parameters exist.
 */
#ifndef PG_QUERY_H
#define PG_QUERY_H

#include "profgate/common.h"

/** A raw (still percent-encoded) slice of the request target. */
typedef struct pg_slice {
    const char *p;
    size_t len;
} pg_slice;

typedef struct pg_qparam {
    pg_slice key; /* raw */
    pg_slice val; /* raw; empty when the parameter had no '=' */
    bool has_eq;
} pg_qparam;

/* Parameters a query may carry before it is refused (more is not a request any client sends). */
#define PG_QUERY_PARAMS_MAX 32

/** Splits "path?query#frag" into path and query (the fragment, never sent by clients, is dropped). */
void pg_target_split(const char *target, size_t len, pg_slice *path, pg_slice *query);

/**
 * Splits a raw query string on '&' into at most max parameters (empty pieces are skipped).
 * Returns the count, or PG_ELIMIT when there are more than max.
 */
int pg_query_split(pg_slice query, pg_qparam *out, size_t max);

/**
 * Percent-decodes in into out (which must have room for in.len bytes). '+' is kept as '+':
 * clients encode a literal space as %20 and a '+' in a UTC offset must survive.
 * PG_EINVAL on a malformed escape or a decoded NUL byte.
 */
int pg_pct_decode(pg_slice in, char *out, size_t *outlen);

/**
 * The first parameter named name (its raw name, compared exactly), percent-decoded into out
 * (NUL-terminated). False when absent. True with *bad set when present but badly encoded or
 * its decoded value longer than outlen - 1 bytes (a raw value of 512 bytes or more must fit out
 * undecoded); out is then unspecified.
 */
bool pg_query_param(pg_slice query, const char *name, char *out, size_t outlen, bool *bad);

/**
 * The target as it may be logged: the value of every query parameter whose name starts with
 * "X-Amz-" (case-insensitively; pre-signed URL credentials and signatures) replaced by REDACTED,
 * then reduced to printable ASCII (pg_printable) in out. Targets longer than 1 KiB are cut first.
 */
void pg_target_redact(const char *target, size_t len, char *out, size_t outlen);

#endif
