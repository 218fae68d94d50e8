/*
 * gateway.h: profgate's request handling: the route table and, per route, the request state
 * machine (validate, plan, look up, fetch, merge, stream the encoding), and the caches that belong
 * to answers: encoded answers and merged runs of complete buckets.
 * It composes the pure cores and the I/O edges; it owns no sockets itself.
 */
#ifndef PG_GATEWAY_H
#define PG_GATEWAY_H

#include "profgate/clock.h"
#include "profgate/config.h"
#include "profgate/fetcher.h"
#include "profgate/http_server.h"
#include "profgate/metrics.h"
#include "profgate/planner.h"

typedef struct pg_gateway {
    const pg_config *cfg;
    const pg_clock *clock;
    pg_planner_cfg planner;
    pg_profile_limits limits;
    pg_fetcher *fetcher;   /* where buckets come from */
    pg_upstream *upstream; /* for health and stats */
    pg_redis *redis;       /* for health and stats; NULL when off */
    struct pg_tenants *tenants; /* auth.mode = sigv4: who may call; NULL when off */
    struct pg_lru *answers; /* encoded answers of all-complete plans, or NULL */
    uint64_t answer_hits;
    struct pg_lru *runs;    /* merged runs of complete buckets, or NULL */
    uint64_t run_hits, run_stores;
    size_t active;         /* GetProfile requests in progress */
    pg_metrics m;          /* the counters /metrics shows besides the modules' own stats */
    pg_http_server *server; /* set once listening; NULL before and after */
    bool stopping;         /* shutting down: /readyz says not ready */
    double start_time;     /* seconds since the epoch */
} pg_gateway;

void pg_gateway_init(pg_gateway *gw, const pg_config *cfg, const pg_clock *clock, pg_fetcher *fetcher,
                     pg_upstream *upstream, pg_redis *redis);

/** Applies a reloaded configuration (gw->cfg has changed in place): settle time, cache sizes. */
void pg_gateway_reconfigure(pg_gateway *gw);

/** The server's on_done hook: per-request metrics and the access log line. data is the gateway. */
void pg_gateway_done(pg_http_req *req, const pg_http_done_info *info, void *data);

/** Frees what the gateway owns (after the server closed). */
void pg_gateway_free(pg_gateway *gw);

/** The pg_http_handler for profgate; data is the pg_gateway. */
void pg_gateway_handle(pg_http_req *req, void *data);

/** Appends the plan as JSON (the /_profgate/plan body). */
int pg_plan_json(pg_buf *b, const pg_plan *plan, int64_t now_ns);

#endif
