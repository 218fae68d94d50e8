/*
 * planner.h: turns a validated GetProfile request and the current time into a plan: the
 * UTC-aligned aggregate buckets (PT5M, PT1H, P1D) that exactly tile the covered range, each
 * marked complete (immutable, cacheable until its retention ends) or live (still growing).
 * Pure: `now` is an argument, nothing is read from clocks, caches or the network. The rules are
 * CONTRACT §7.
 */
#ifndef PG_PLANNER_H
#define PG_PLANNER_H

#include "profgate/apierr.h"
#include "profgate/getprofile_req.h"
#include "profgate/period.h"


#define PG_RANGE_MAX_S (7 * 86400)

typedef struct pg_planner_cfg {
    int64_t settle_s;                        /* a bucket is complete settle_s after it ends */
    int64_t retention_s[PG_PERIOD_COUNT];    /* how long the upstream keeps each aggregate */
    bool archive;                            /* cache outlives retention: plan expired buckets too */
} pg_planner_cfg;

/** The service's facts: settle 10 minutes, retention 15 days / 60 days / 3 years. */
void pg_planner_cfg_default(pg_planner_cfg *cfg);

typedef struct pg_bucket {
    pg_period period;
    int64_t start_s; /* aligned to the period, UTC */
    bool complete;
} pg_bucket;

/* A 7-day range needs at most ~90 buckets (partial days split into hours and 5-minute buckets,
 * the live tail in 5-minute buckets); the bound leaves room and is asserted. */
#define PG_PLAN_MAX 192

typedef struct pg_plan {
    int64_t req_start_ns, req_end_ns; /* resolved request range, end clamped to now */
    int64_t start_s, end_s;           /* covered range: the union of the buckets (may be empty) */
    bool clamped;                     /* the requested end was in the future */
    bool extended;                    /* covered range is wider than the request rounded to 5 min,
                                         because finer aggregates have expired */
    bool expired_part;                /* part of the range is older than every retention */
    size_t n;
    pg_bucket b[PG_PLAN_MAX];
} pg_plan;

/**
 * Resolves the request's startTime/endTime/period into [start, end) per CONTRACT §7 and
 * checks end > start and the 7-day maximum (ValidationException otherwise). The end is not yet
 * clamped to now.
 */
int pg_range_resolve(const pg_getprofile_req *r, int64_t now_ns, int64_t *start_ns, int64_t *end_ns,
                     pg_apierr *err);

/** Builds the plan for [start_ns, end_ns) at now_ns. Never fails for a resolved range. */
void pg_plan_build(const pg_planner_cfg *cfg, int64_t start_ns, int64_t end_ns, int64_t now_ns,
                   pg_plan *out);

/** Is bucket (p, start_s) complete at now_ns? */
bool pg_bucket_complete(const pg_planner_cfg *cfg, pg_period p, int64_t start_s, int64_t now_ns);

/** Floor and ceiling division for possibly negative times. */
int64_t pg_floor_div(int64_t a, int64_t b);
int64_t pg_ceil_div(int64_t a, int64_t b);

#endif
