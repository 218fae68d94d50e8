/*
 * getprofile_req.h: the GetProfile request model. Parses and validates the path parameter,
 * query string and Accept header exactly as the service does (CONTRACT §1 and §3), and
 * produces either a typed request or a ValidationException whose message says what was wrong.
 * Pure: it knows nothing of time "now" (range resolution is the planner's) or of sockets.
 */
#ifndef PG_GETPROFILE_REQ_H
#define PG_GETPROFILE_REQ_H

#include "profgate/apierr.h"
#include "profgate/query.h"

#define PG_GROUP_MAX 255
#define PG_MAX_DEPTH_MAX 10000
#define PG_PERIOD_TEXT_MAX 64

/* Ion and JSON are AWS's; the others only profgate's own route answers (pg_view_parse). */
typedef enum { PG_FMT_ION = 0, PG_FMT_JSON = 1, PG_FMT_COLLAPSED = 2, PG_FMT_PPROF = 3, PG_FMT_SPEEDSCOPE = 4 } pg_format;

/* A counter name (RUNNABLE, WALL_TIME, ...) as the view route takes it. */
#define PG_COUNTER_MAX 64

typedef struct pg_getprofile_req {
    char group[PG_GROUP_MAX + 1]; /* decoded, NUL-terminated, matches ^[\w-]+$ */
    size_t group_len;
    bool has_start, has_end, has_period;
    int64_t start_ns, end_ns, period_ns;
    int max_depth; /* 0 when absent */
    pg_format format;
    char counter[PG_COUNTER_MAX + 1]; /* the view route's counter=, "" when absent */
} pg_getprofile_req;

/** Content type string of a response format. */
const char *pg_format_content_type(pg_format f);

/**
 * Chooses the response format from an Accept header (accept == NULL when absent: Ion).
 * Media ranges are tried in order, parameters ignored; application/json gives JSON,
 * application/x-amzn-ion, application/ *, and * / * give Ion. Anything else: ValidationException.
 */
int pg_accept_parse(const char *accept, size_t len, pg_format *out, pg_apierr *err);

/** Validates a decoded profiling group name (1..255 chars of [A-Za-z0-9_-]). */
int pg_group_validate(const char *name, size_t len, pg_apierr *err);

/**
 * Parses a GetProfile request: raw_group is the still-encoded path segment, query the raw query
 * string, accept the Accept header value or NULL. On failure fills err (always a ValidationException)
 * and returns PG_EINVAL.
 */
int pg_getprofile_parse(pg_slice raw_group, pg_slice query, const char *accept, size_t accept_len,
                        pg_getprofile_req *out, pg_apierr *err);

/** Whether len bytes at s are a counter name as the view route takes it: letters, digits and
 *  '_', 1 to PG_COUNTER_MAX (also what may go into X-Profgate-Counter). */
bool pg_counter_name_ok(const char *s, size_t len);

/**
 * Parses a request of profgate's own route for the same profile in other formats,
 * GET /_profgate/profile/{group}: GetProfile's parameters, validated as AWS does, plus
 * format (json, the default, ion, collapsed, pprof or speedscope) and counter (letters, digits and '_', at
 * most PG_COUNTER_MAX: which counter a one-value-per-sample format shows, and pprof's default
 * sample type). ValidationException else.
 */
int pg_view_parse(pg_slice raw_group, pg_slice query, pg_getprofile_req *out, pg_apierr *err);

/**
 * Parses a request of profgate's diff route, GET /_profgate/diff/{group}: base=START/END and
 * head=START/END, each two ISO 8601 timestamps as startTime and endTime take them (AWS's
 * interval notation), and counter as the view route takes it. base and head get the group, their
 * range, the counter and format JSON. startTime, endTime and period belong to the other routes
 * and are refused here, as is a missing or malformed range: ValidationException.
 */
int pg_diff_parse(pg_slice raw_group, pg_slice query, pg_getprofile_req *base, pg_getprofile_req *head,
                  pg_apierr *err);

/**
 * Parses the query parameters (startTime, endTime, period, maxDepth) without the
 * path and Accept parts; the debug plan route and the simulator share it.
 */
int pg_profile_query_parse(pg_slice query, pg_getprofile_req *out, pg_apierr *err);

#endif
