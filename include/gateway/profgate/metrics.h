/*
 * metrics.h: profgate's metrics, described by one table (name, type, help, labels, where the value
 * lives) that drives the Prometheus text rendering of GET /metrics, the docs and the tests. Pure:
 * the gateway fills a snapshot (pg_metrics_snap) from its own counters and every module's stats,
 * and this module only turns numbers into text. Nothing here allocates except into the output.
 */
#ifndef PG_METRICS_H
#define PG_METRICS_H

#include "profgate/buf.h"
#include "profgate/common.h"
#include "profgate/histo.h"
#include "profgate/tenants.h"

#include <stdio.h>

/* Label values. Each enum below is one label's value set; its names are in metrics.c. */
typedef enum {
    PG_MR_GETPROFILE, PG_MR_HEALTHZ, PG_MR_READYZ, PG_MR_METRICS, PG_MR_PLAN, PG_MR_OTHER, PG_MR_LISTTIMES, PG_MR_API,
    PG_MR_VIEW, PG_MR_DIFF, PG_MR_UI, PG_MR_COUNT
} pg_m_route;
typedef enum { PG_MC_HIT, PG_MC_PARTIAL, PG_MC_MISS, PG_MC_NONE, PG_MC_COUNT } pg_m_cache;
/* HTTP statuses profgate sends, and "other". */
typedef enum {
    PG_MS_200, PG_MS_400, PG_MS_403, PG_MS_404, PG_MS_405, PG_MS_408, PG_MS_413, PG_MS_414, PG_MS_429,
    PG_MS_431, PG_MS_500, PG_MS_501, PG_MS_503, PG_MS_504, PG_MS_OTHER, PG_MS_COUNT
} pg_m_status;
/* Where a bucket of a GetProfile plan came from. */
typedef enum { PG_MB_L1, PG_MB_REDIS, PG_MB_UPSTREAM, PG_MB_COALESCED, PG_MB_MERGED_RUN, PG_MB_COUNT } pg_m_source;
/* How one upstream attempt ended. */
typedef enum {
    PG_MU_OK, PG_MU_THROTTLED, PG_MU_SERVER_ERROR, PG_MU_TIMEOUT, PG_MU_CONNECTION_ERROR, PG_MU_CLIENT_ERROR,
    PG_MU_COUNT
} pg_m_outcome;
/* The gateway's caches. */
typedef enum { PG_MT_L1, PG_MT_ANSWERS, PG_MT_MERGED_RUNS, PG_MT_ION_LAYOUTS, PG_MT_COUNT } pg_m_tier;
typedef enum { PG_MRL_OK, PG_MRL_FAILED, PG_MRL_COUNT } pg_m_reload;
typedef enum { PG_MFB_GRANTED, PG_MFB_WAIT, PG_MFB_ERROR, PG_MFB_COUNT } pg_m_fleet_budget;
typedef enum { PG_MFL_TAKEN, PG_MFL_HELD_ELSEWHERE, PG_MFL_COUNT } pg_m_fleet_lease;
/* Why a request was refused before it was served (auth.mode = sigv4). */
typedef enum {
    PG_MA_MISSING, PG_MA_UNKNOWN_KEY, PG_MA_MALFORMED, PG_MA_BAD_SCOPE, PG_MA_BAD_HEADERS, PG_MA_EXPIRED,
    PG_MA_BAD_SIGNATURE, PG_MA_ACCESS_DENIED, PG_MA_COUNT
} pg_m_auth;

#define PG_METRICS_TENANTS 64
/* One tenant's figures; the label is its name from the tenants file. */
typedef struct pg_tenant_snap {
    char name[PG_TENANT_NAME_MAX + 1];
    uint64_t requests, throttled, denied, upstream_calls, queued;
    double weight, rate;
} pg_tenant_snap;

pg_m_status pg_metrics_status(int http_status);

/* Counters the gateway keeps itself (the other modules keep their own stats). */
typedef struct pg_metrics {
    uint64_t requests[PG_MR_COUNT][PG_MS_COUNT][PG_MC_COUNT];
    pg_histo request_seconds[PG_MR_COUNT];
    uint64_t buckets[PG_MB_COUNT];
    uint64_t reloads[PG_MRL_COUNT];
    uint64_t auth_failures[PG_MA_COUNT];
} pg_metrics;

/* Where the credentials come from (credplan.h's provider names, in its order). */
typedef enum { PG_MCR_ENVIRONMENT, PG_MCR_WEB_IDENTITY, PG_MCR_PROFILE, PG_MCR_CONTAINER, PG_MCR_IMDS, PG_MCR_NONE,
               PG_MCR_COUNT } pg_m_cred;
extern const char *const pg_metrics_cred_names[PG_MCR_COUNT];

/* One scrape: every value /metrics shows, taken at one moment. */
typedef struct pg_metrics_snap {
    pg_metrics g;
    /* upstream */
    uint64_t up_attempts[PG_MU_COUNT];
    uint64_t up_retries, up_refused, up_withdrawn;
    double up_rate, up_rate_max;
    uint64_t up_queued, up_inflight;
    uint64_t up_breaker_open, up_breaker_half_open; /* 0/1 each; both 0: closed */
    pg_histo up_seconds;
    /* the memory budget for answers in flight */
    uint64_t inflight_bytes, inflight_limit, inflight_waiting, spilled_bytes;
    uint64_t inflight_waits, inflight_refused, spills, per_client_refused;
    /* credentials */
    uint64_t cred_provider[PG_MCR_COUNT]; /* 1 for the provider in use */
    uint64_t cred_valid;
    double cred_expiry;                  /* unix seconds; 0: none held, or they never expire */
    uint64_t cred_fetches, cred_failures, cred_refresh_failures;
    /* caches */
    uint64_t cache_bytes[PG_MT_COUNT], cache_entries[PG_MT_COUNT], cache_evictions[PG_MT_COUNT];
    uint64_t cache_capacity[PG_MT_COUNT];
    uint64_t cache_refreshes;
    /* redis */
    uint64_t redis_enabled, redis_connected;
    uint64_t redis_commands, redis_errors, redis_timeouts, redis_reconnects;
    pg_histo redis_seconds;
    /* fleet */
    uint64_t fleet_enabled, fleet_members;
    double fleet_rate;
    uint64_t fleet_budget[PG_MFB_COUNT], fleet_leases[PG_MFL_COUNT];
    uint64_t fleet_decreases, fleet_local_calls, fleet_lease_waits, fleet_lease_hits;
    /* server and process */
    uint64_t connections, in_progress;
    uint64_t heap_give_backs;
    double start_time;
    uint64_t ready;
    /* tenants (auth.mode = sigv4) */
    pg_tenant_snap tenants[PG_METRICS_TENANTS];
    size_t ntenants;
} pg_metrics_snap;

/** Appends the Prometheus text exposition (format 0.0.4) of s to out. */
int pg_metrics_render(pg_buf *out, const pg_metrics_snap *s);

/* One worker's snapshot (server.workers); worker 0 means a single process: no worker label. */
typedef struct pg_metrics_part {
    const pg_metrics_snap *snap;
    unsigned worker;
} pg_metrics_part;

/** The same for several workers' snapshots at once: every series labelled worker="N". */
int pg_metrics_render_parts(pg_buf *out, const pg_metrics_part *parts, size_t nparts);

/** Writes the metrics reference (name, type, labels, help) as a Markdown table (docs/METRICS.md). */
void pg_metrics_write_doc(FILE *out);

#endif
