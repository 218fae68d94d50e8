/*
 * gw.h: the gateway's internals, shared only by the files in src/gateway that make up the
 * gateway (gateway.c, routes.c, getprofile.c, answers.c, runs.c, auth.c, access_log.c, ops.c).
 * Everything outside sees the opaque pg_gateway of gateway.h.
 */
#ifndef PG_GW_H
#define PG_GW_H

#include "profgate/gateway.h"
#include "profgate/lru.h"
#include "profgate/metrics.h"
#include "profgate/operations.h"
#include "profgate/peers.h"

#define GW_MAGIC 0x67617465u /* "gate" */

typedef struct gpreq gpreq;
typedef struct gpreq_list_head {
    gpreq *head, *tail;
    size_t n;
} gpreq_list_head;

struct pg_gateway {
    uint32_t magic;
    pg_gateway_deps d;
    pg_planner_cfg planner;
    pg_profile_limits limits;
    pg_lru *answers;        /* encoded answers of all-complete plans (answers.c) */
    uint64_t answer_hits;
    pg_lru *runs;           /* merged runs of complete buckets (runs.c) */
    uint64_t run_hits, run_stores;
    pg_lru *layouts;        /* Ion layouts of kept answers, by origin (layouts.c) */
    uint64_t layout_hits, layout_stores;
    size_t active;          /* GetProfile requests in progress */
    /* The memory budget for GetProfile answers in flight (admit.c). */
    size_t inflight;        /* bytes charged by the requests in progress */
    gpreq_list_head wait;   /* requests waiting for room, oldest first */
    size_t spilled;         /* bytes of spilled answers not yet sent */
    size_t typical;         /* recent answers' tree size (a moving average): what a new one reserves */
    pg_peers *gp_peers;      /* GetProfiles in progress per client address */
    uint64_t admit_waits, admit_refused, spills, per_client_refused;
    pg_metrics m;           /* the counters /metrics shows besides the modules' own stats */
    pg_http_server *server; /* set once listening; NULL before and after */
    bool stopping;          /* shutting down: /readyz says not ready */
    double start_time;      /* seconds since the epoch */
    /* ListProfileTimes (profile_times.c): windows of start times, and lookups in flight. */
    pg_lru *times;
    struct ltfetch *lt_inflight;
    char ns[80];                 /* the cache key namespace (docs/CACHE.md) */
    char region[64];             /* the upstream's region: inbound signatures must be scoped to it */
    unsigned char token_key[32]; /* its nextTokens' MAC key */
    uint64_t lt_l1_hits, lt_redis_hits, lt_upstream_calls;
    /* The other operations (passthrough.c): reusable read answers, calls in flight. */
    pg_lru *api_cache;
    struct apifetch *api_inflight;
    uint64_t api_hits, api_coalesced, api_calls;
    uint64_t api_gen; /* bumped by each write: reads started before it are not reused */
};

/** The gateway behind a callback's data pointer (checked). */
pg_gateway *gw_of(void *data);

/* The note a request carries for the on_done hook: its route and, for a GetProfile, its state. */
typedef struct gw_note {
    pg_m_route route;
    const gpreq *gp; /* NULL unless route is PG_MR_GETPROFILE and the request got that far */
} gw_note;

/** The note of a route with no per-request state. */
const gw_note *gw_route_note(pg_m_route route);

/** server.inflight_bytes as it applies now (0 in the config: a quarter of the memory this process
 *  may use, at least 64 MiB) (admit.c). */
size_t gw_inflight_limit(const pg_gateway *gw);

/** GET /profilingGroups/{group}/profile (getprofile.c). */
/* Which route a profile request came by: AWS's GetProfile, profgate's view route
 * (/_profgate/profile/{group}: format= and counter=, pg_view_parse) or its diff route
 * (/_profgate/diff/{group}: base= and head=, pg_diff_parse). */
typedef enum { GP_API, GP_VIEW, GP_DIFF } gp_kind;
/* profgate's page: a static file under ui.root for a path under /ui/ (ui.c). */
void gw_ui(pg_gateway *gw, pg_http_req *req, pg_slice path);
void gw_getprofile(pg_gateway *gw, pg_http_req *req, pg_slice group, pg_slice query, gp_kind kind);

/** The answer cache (answers.c) and the merged-run cache (runs.c), sized in bytes. */
pg_lru *gw_answers_new(size_t bytes);
pg_lru *gw_runs_new(size_t bytes);
/** The Ion layout cache, sized from cache.merged_bytes (layouts.c). */
pg_lru *gw_layouts_new(size_t merged_bytes);
/** An Ion writer (no depth limit) of p that reuses the layout kept for p's origin, and keeps the
 *  one it makes (layouts.c). */
int gw_ion_writer(pg_gateway *gw, const pg_profile *p, pg_pwriter **out);

/** The request id and the client's trace id, for the upstream calls a request starts (auth.c). */
void gw_origin_of(const pg_http_req *req, pg_up_origin *o);
/** Quota and group access of tenant t for operation op on group (NULL: it names none); answers the refusal and returns
 *  false, or sets o's flow and returns true (auth.c). */
bool gw_admit(pg_gateway *gw, pg_http_req *req, pg_tenant *t, const char *op, const char *group, pg_up_origin *o);

/** GET /profilingGroups/{group}/profileTimes (profile_times.c). */
void gw_listtimes(pg_gateway *gw, pg_http_req *req, pg_slice group, pg_slice query);
void gw_listtimes_free(pg_gateway *gw);
pg_lru *gw_times_new(size_t bytes);

/** One of the service's other operations, matched by m (passthrough.c). */
void gw_passthrough(pg_gateway *gw, pg_http_req *req, pg_op op, const pg_route_result *m);
pg_lru *gw_api_cache_new(size_t bytes);
/* Passed-through read answers live seconds (api.read_ttl); a bound for their memory. */
#define GW_API_CACHE_BYTES ((size_t)32 << 20)
void gw_api_free(pg_gateway *gw);

/** auth.mode = sigv4: checks the request's signature against the tenants' keys. Answers the
 *  failure in the AWS format and returns NULL, or returns the tenant (auth.c). */
pg_tenant *gw_authenticate(pg_gateway *gw, pg_http_req *req);

#endif
