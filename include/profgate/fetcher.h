/*
 * fetcher.h: where a request gets a bucket's profile. It coalesces: any number of concurrent
 * requests needing the same bucket (group, period, start) share one upstream call and one parsed
 * result. A waiter may leave (its client disconnected) without cancelling the shared call; when
 * the last waiter leaves, the call still finishes (so the cache of #5 can keep its result).
 * Results are reference-counted parsed profiles that waiters merge and release.
 */
#ifndef PG_FETCHER_H
#define PG_FETCHER_H

#include "profgate/profile.h"
#include "profgate/upstream.h"

typedef struct pg_bucket_data {
    uint32_t refs;
    pg_profile prof;
    size_t json_bytes; /* size of the upstream body it came from */
} pg_bucket_data;

void pg_bucket_data_release(pg_bucket_data *d);

typedef struct pg_fetcher pg_fetcher;
typedef struct pg_fetch_waiter pg_fetch_waiter;

/** data is a reference the callee must release; NULL on error (err says why). */
typedef void (*pg_fetch_cb)(void *ctx, pg_bucket_data *data, const pg_apierr *err);

pg_fetcher *pg_fetcher_new(pg_upstream *u, const pg_profile_limits *lim);
/** Frees the fetcher; every waiter must have been answered or have left. */
void pg_fetcher_free(pg_fetcher *f);

/**
 * Asks for bucket (p, start_s) of group. Returns a waiter whose callback runs exactly once, later,
 * unless it leaves first; *coalesced says whether it joined a call already under way. NULL with
 * err filled when the bucket cannot be asked for now (the upstream refused at once).
 */
pg_fetch_waiter *pg_fetcher_get(pg_fetcher *f, const char *group, pg_period p, int64_t start_s, pg_fetch_cb cb,
                                void *ctx, bool *coalesced, pg_apierr *err);

/** The waiter leaves: its callback will not run. */
void pg_fetcher_leave(pg_fetcher *f, pg_fetch_waiter *w);

typedef struct pg_fetcher_stats {
    uint64_t calls, coalesced, parse_errors;
    size_t inflight;
} pg_fetcher_stats;
void pg_fetcher_get_stats(const pg_fetcher *f, pg_fetcher_stats *out);

#endif
