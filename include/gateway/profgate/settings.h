/*
 * settings.h: the configuration as each module's settings. The only place that reads pg_config
 * on behalf of a module; modules below the gateway take their own small settings struct.
 */
#ifndef PG_SETTINGS_H
#define PG_SETTINGS_H

#include "profgate/config.h"
#include "profgate/fetcher.h"
#include "profgate/fleet.h"
#include "profgate/http_server.h"
#include "profgate/planner.h"
#include "profgate/redis.h"
#include "profgate/upstream.h"

/** The HTTP server's settings (listen addresses, limits, timeouts, access log). */
int pg_settings_http_server(pg_http_server_cfg *out, const pg_config *cfg, char *err, size_t errlen);
/** The upstream client's, with the endpoint and region defaults resolved the way the SDKs do. */
int pg_settings_upstream(pg_upstream_cfg *u, const pg_config *c, char *err, size_t errlen);
/** cache.namespace, or a stable digest of the upstream's identity (endpoint and region). */
void pg_settings_cache_namespace(const pg_config *c, const pg_upstream_cfg *u, char *out, size_t outlen);
/** The fetcher's (L1 size, freshness, key namespace); l2 is left NULL for the caller to wire. */
void pg_settings_fetcher(pg_fetcher_cfg *out, const pg_config *c, const pg_upstream_cfg *u);
/** The fleet's (the same key namespace as the cache; the budget is upstream.rate and burst). */
void pg_settings_fleet(pg_fleet_cfg *out, const pg_config *c, const pg_upstream_cfg *u);
/** The Redis client's. */
void pg_settings_redis(pg_redis_cfg *out, const pg_config *c);
/** The planner's (settle time, archive mode). */
void pg_settings_planner(pg_planner_cfg *out, const pg_config *c);

#endif
