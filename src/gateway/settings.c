/*
 * settings.c: every translation from the configuration (pg_config, the directive table's
 * struct) to a module's own settings struct, in one place, so no module below the gateway
 * sees pg_config and a new directive is wired in one file.
 */
#include "profgate/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pg_settings_http_server(pg_http_server_cfg *out, const pg_config *cfg, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (pg_listen_parse(cfg->listen, &out->listen, err, errlen) != PG_OK)
        return PG_EINVAL;
    out->limits.max_head = (size_t)cfg->max_head_bytes;
    out->limits.max_url = (size_t)cfg->max_url_bytes;
    out->limits.max_headers = (size_t)cfg->max_headers;
    out->limits.max_body = (size_t)cfg->max_body_bytes;
    out->max_connections = (size_t)cfg->max_connections;
    out->max_per_client = (size_t)cfg->max_connections_per_client;
    out->head_timeout_ms = (uint64_t)cfg->head_timeout_ms;
    out->idle_timeout_ms = (uint64_t)cfg->idle_timeout_ms;
    out->send_timeout_ms = (uint64_t)cfg->send_timeout_ms;
    out->access_log = cfg->access_log;
    out->server_name = "profgate";
    return PG_OK;
}

/* The upstream settings, with the endpoint and region defaults resolved the way the SDKs do. */
int pg_settings_upstream(pg_upstream_cfg *u, const pg_config *c, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    const char *region = c->up_region;
    if (!region[0])
        region = getenv("AWS_REGION");
    if (region == NULL || !region[0])
        region = getenv("AWS_DEFAULT_REGION");
    if (region == NULL || !region[0])
        region = "us-east-1";
    if (strlen(region) >= sizeof u->region) {
        snprintf(err, errlen, "region '%.80s' is too long", region);
        return PG_EINVAL;
    }
    snprintf(u->region, sizeof u->region, "%s", region);
    if (c->up_endpoint[0])
        snprintf(u->endpoint, sizeof u->endpoint, "%s", c->up_endpoint);
    else
        snprintf(u->endpoint, sizeof u->endpoint, "https://codeguru-profiler.%s.amazonaws.com", u->region);
    size_t n = strlen(u->endpoint);
    while (n > 0 && u->endpoint[n - 1] == '/')
        u->endpoint[--n] = '\0';
    u->rate = (double)c->up_rate;
    u->burst = (double)c->up_burst;
    u->op_rate = (double)c->up_op_rate;
    u->op_burst = (double)c->up_op_burst;
    u->max_inflight = (uint32_t)c->up_max_inflight;
    u->queue_max = (uint32_t)c->up_queue_max;
    u->retries = (uint32_t)c->up_retries;
    u->backoff_base_ms = (uint64_t)c->up_backoff_base_ms;
    u->backoff_cap_ms = (uint64_t)c->up_backoff_cap_ms;
    u->attempt_timeout_ms = (uint64_t)c->up_attempt_timeout_ms;
    u->deadline_ms = (uint64_t)c->up_deadline_ms;
    u->max_response = (size_t)c->up_max_response;
    snprintf(u->ca_bundle, sizeof u->ca_bundle, "%s", c->up_ca_bundle);
    u->insecure = c->up_insecure;
    u->breaker_failures = (uint32_t)c->up_breaker_failures;
    u->breaker_cooldown_ms = (uint64_t)c->up_breaker_cooldown_ms;
    if (strncmp(u->endpoint, "http://", 7) != 0 && strncmp(u->endpoint, "https://", 8) != 0) {
        snprintf(err, errlen, "upstream.endpoint '%.200s' must start with http:// or https://", u->endpoint);
        return PG_EINVAL;
    }
    return PG_OK;
}

/* cache.namespace, or a stable digest of the upstream's identity (endpoint and region). */
void pg_settings_cache_namespace(const pg_config *c, const pg_upstream_cfg *u, char *out, size_t outlen)
{
    if (c->cache_namespace[0]) {
        snprintf(out, outlen, "%s", c->cache_namespace);
        return;
    }
    char id[600];
    int n = snprintf(id, sizeof id, "%s|%s", u->endpoint, u->region);
    snprintf(out, outlen, "%016llx", (unsigned long long)pg_hash64(id, (size_t)PG_MIN((size_t)n, sizeof id - 1)));
}

void pg_settings_fetcher(pg_fetcher_cfg *out, const pg_config *c, const pg_upstream_cfg *u)
{
    memset(out, 0, sizeof *out);
    out->l1_bytes = (size_t)c->cache_memory_bytes;
    out->pack_complete = c->cache_merged_bytes > 0;
    out->live_ttl_ms = (uint64_t)c->live_ttl_ms;
    out->refresh_ahead_ms = (uint64_t)c->refresh_ahead_ms;
    pg_settings_cache_namespace(c, u, out->ns, sizeof out->ns);
    out->lease_ttl_ms = (uint64_t)c->fleet_lease_ttl_ms;
    out->lease_poll_ms = (uint64_t)c->fleet_lease_poll_ms;
    out->lease_wait_ms = (uint64_t)c->up_deadline_ms;
}

void pg_settings_fleet(pg_fleet_cfg *out, const pg_config *c, const pg_upstream_cfg *u)
{
    memset(out, 0, sizeof *out);
    pg_settings_cache_namespace(c, u, out->ns, sizeof out->ns);
    out->rate = u->rate;
    out->burst = u->burst;
    out->heartbeat_ms = (uint64_t)c->fleet_heartbeat_ms;
}

void pg_settings_redis(pg_redis_cfg *out, const pg_config *c)
{
    memset(out, 0, sizeof *out);
    out->connect_timeout_ms = (uint64_t)c->redis_connect_timeout_ms;
    out->command_timeout_ms = (uint64_t)c->redis_command_timeout_ms;
    out->reconnect_min_ms = 100;
    out->reconnect_max_ms = 5000;
    int n = snprintf(out->url, sizeof out->url, "%s", c->redis_url);
    PG_FMT_FITS(n, sizeof out->url); /* both are sized by the directive table */
}

void pg_settings_planner(pg_planner_cfg *out, const pg_config *c)
{
    pg_planner_cfg_default(out);
    out->settle_s = c->settle_ms / 1000;
    out->archive = c->cache_archive;
}
