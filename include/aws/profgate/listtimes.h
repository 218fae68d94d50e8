/*
 * listtimes.h: ListProfileTimes, the operation's own rules, pure (CONTRACT §9): parsing and
 * validating a request as the service does; which aggregate start times a range lists at a given
 * moment (aligned, inside the range, retained, started); the fixed windows profgate caches the
 * lists in; its tamper-evident nextToken; the compact form a window takes in Redis; and the
 * service's JSON answer read into times. The simulator and the gateway share all of it, so both
 * list by the same rules.
 */
#ifndef PG_LISTTIMES_H
#define PG_LISTTIMES_H

#include "profgate/apierr.h"
#include "profgate/getprofile_req.h"
#include "profgate/period.h"
#include "profgate/query.h"

#define PG_LT_MAX_RESULTS 1000
/* maxResults when a request leaves it out ([decision]: the service documents no default). */
#define PG_LT_DEFAULT_RESULTS 100
#define PG_LT_TOKEN_MAX 64 /* the model's PaginationToken: 1..64 chars of [\w-] */
/* A window holds at most this many aggregates (one upstream page). */
#define PG_LT_WINDOW_MAX 1000

typedef struct pg_listtimes_req {
    char group[PG_GROUP_MAX + 1];
    size_t group_len;
    pg_period period;
    int64_t start_ns, end_ns;
    int max_results; /* 1..1000; PG_LT_DEFAULT_RESULTS when absent */
    bool descending; /* orderBy: TimestampDescending (the default) */
    bool has_token;
    char token[PG_LT_TOKEN_MAX + 1];
} pg_listtimes_req;

/** Parses and validates like the service: raw_group is the still-encoded path segment. On failure
 * fills err (a ValidationException) and returns PG_EINVAL. The token is only checked for shape. */
int pg_listtimes_parse(pg_slice raw_group, pg_slice query, pg_listtimes_req *out, pg_apierr *err);

/** The start times a request may list at now: [*lo, *hi) in seconds, both aligned to the period
 * (*lo >= *hi: none). Aligned starts inside [start, end), not older than retention_s, started by
 * now. */
void pg_listtimes_bounds(const pg_listtimes_req *r, int64_t now_ns, int64_t retention_s, int64_t *lo, int64_t *hi);

/** The cache window length for a period, in seconds: 1 day of PT5M, 30 days of PT1H, 1000 days
 * of P1D (each at most PG_LT_WINDOW_MAX aggregates). Windows are aligned to multiples of it. */
int64_t pg_listtimes_window_s(pg_period p);

/* The position a page ends at, bound to the request it came from. */
/** Writes the nextToken for "the page ended at last_s" of r (key: the gateway's token key). */
void pg_listtimes_token(const pg_listtimes_req *r, int64_t last_s, const unsigned char key[32],
                        char out[PG_LT_TOKEN_MAX + 1]);
/** Reads r's nextToken back; PG_EINVAL when it was not made for this request (or altered). */
int pg_listtimes_token_check(const pg_listtimes_req *r, const unsigned char key[32], int64_t *last_s);

/** A window's start times (ascending, each start + k * period): its Redis value. */
int pg_listtimes_encode(pg_period p, int64_t window_start_s, const int64_t *times, size_t n, pg_buf *out);
/** Decodes a window's value; PG_EINVAL unless every time is aligned, ascending and inside it. */
int pg_listtimes_decode(pg_period p, int64_t window_start_s, const char *val, size_t len, int64_t *times,
                        size_t max, size_t *n);

/** Reads the service's answer {"profileTimes":[{"start":TS},...],"nextToken":T}: appends the
 * starts (seconds) to times (up to max), copies nextToken ("" when none). PG_EINVAL when malformed. */
int pg_listtimes_body_parse(const char *body, size_t len, int64_t *times, size_t max, size_t *n,
                            char token[PG_LT_TOKEN_MAX + 1]);

#endif
