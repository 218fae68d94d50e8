/*
 * gateway.h: profgate's request handling as one opaque object: the server's handler (routes,
 * GetProfile, the operator's routes) and its on_done hook (counters, access log). main creates
 * it from the modules it wired and tells it about the server's life; nothing outside
 * src/gateway sees its fields.
 */
#ifndef PG_GATEWAY_H
#define PG_GATEWAY_H

#include "profgate/clock.h"
#include "profgate/config.h"
#include "profgate/fleet.h"
#include "profgate/fetcher.h"
#include "profgate/http_server.h"
#include "profgate/planner.h"
#include "profgate/redis.h"
#include "profgate/tenants.h"
#include "profgate/upstream.h"
#include "profgate/worker_stats.h"

typedef struct pg_gateway pg_gateway;

/* What the gateway works with; it owns none of these. cfg is read again on reconfigure. */
typedef struct pg_gateway_deps {
    const pg_config *cfg;
    const pg_clock *clock;
    pg_fetcher *fetcher;   /* where buckets come from */
    pg_upstream *upstream; /* for health and stats */
    pg_credsrc *creds;     /* for health and stats: where the credentials come from */
    pg_redis *redis;       /* for health and stats; NULL when off */
    pg_tenants *tenants;   /* auth.mode = sigv4: who may call; NULL when off */
    pg_fleet *fleet;       /* for health and stats; NULL when off */
    unsigned worker;       /* server.workers: this process is worker 1..workers; 0 when single */
    unsigned workers;
    pg_worker_stats *worker_stats; /* with workers: every worker's metrics, shared */
} pg_gateway_deps;

/** A gateway over deps (copied); aborts when out of memory at start-up. */
pg_gateway *pg_gateway_new(const pg_gateway_deps *deps);
/** Applies a reloaded configuration (deps->cfg has changed in place): settle time, cache sizes. */
void pg_gateway_reconfigure(pg_gateway *gw);
/** The server it answers for, once listening; NULL once closed (for readiness and connection counts). */
void pg_gateway_set_server(pg_gateway *gw, pg_http_server *server);
/** Shutting down: /readyz says not ready from now on. */
void pg_gateway_set_stopping(pg_gateway *gw);
/** With server.workers: publishes this worker's metrics for the others' /metrics (every second). */
void pg_gateway_publish_stats(pg_gateway *gw);
/** Counts a configuration reload, applied (ok) or refused. */
void pg_gateway_count_reload(pg_gateway *gw, bool ok);
/** Frees the gateway (after the server closed: no write still holds a stored answer). */
void pg_gateway_free(pg_gateway *gw);

/** The pg_http_handler for profgate; data is the pg_gateway. */
void pg_gateway_handle(pg_http_req *req, void *data);
/** The server's on_done hook: per-request metrics and the access log line. data is the gateway. */
void pg_gateway_done(pg_http_req *req, const pg_http_done_info *info, void *data);

#endif
