/*
 * ops.h: the gateway's operational routes, answered from the gateway's state and its modules'
 * stats; none of them touches the cache or the upstream.
 */
#ifndef PG_OPS_H
#define PG_OPS_H

#include "profgate/gateway.h"

/** GET /healthz: 200 while the process runs, with breaker, pacing, cache and Redis figures. */
void pg_ops_healthz(pg_gateway *gw, pg_http_req *req);
/** GET /readyz: 200 ready or degraded (Redis down), 503 with the circuit open or when stopping. */
void pg_ops_readyz(pg_gateway *gw, pg_http_req *req);
/** GET /metrics: the Prometheus text exposition. */
void pg_ops_metrics(pg_gateway *gw, pg_http_req *req);

#endif
