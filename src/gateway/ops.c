/*
 * ops.c: the operator's routes: /healthz (liveness, with the numbers worth a glance), /readyz
 * (listening, not shutting down, upstream circuit not open; degraded without Redis) and /metrics
 * (a snapshot of the gateway's counters and every module's stats, rendered by metrics.c).
 */
#include "gw.h"
#include "profgate/ops.h"
#include "profgate/credsrc.h"
#include "profgate/iso8601.h"
#include "profgate/jsonw.h"
#include "profgate/clock.h"
#include "profgate/lru.h"
#include "profgate/metrics.h"
#include "profgate/redis.h"
#include "profgate/tenants.h"
#include "profgate/upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define METRICS_MAX ((size_t)1 << 20)
#define HEALTHZ_MAX ((size_t)8 << 10)

/* Liveness, plus what an operator needs at a glance: the upstream's circuit breaker and caches. */
void pg_ops_healthz(pg_gateway *gw, pg_http_req *req)
{
    pg_upstream_stats us = {.breaker = "closed"};
    pg_fetcher_stats fs = {0};
    if (gw->d.upstream)
        pg_upstream_get_stats(gw->d.upstream, &us);
    if (gw->d.fetcher)
        pg_fetcher_get_stats(gw->d.fetcher, &fs);
    pg_lru_stats runs;
    pg_lru_get_stats(gw->runs, &runs);
    pg_redis_stats rs = {0};
    if (gw->d.redis)
        pg_redis_get_stats(gw->d.redis, &rs);
    pg_buf b;
    pg_buf_init(&b, HEALTHZ_MAX);
    int rc = pg_buf_printf(&b,
                     "{\"status\":\"ok\",\"upstream\":{\"breaker\":\"%s\",\"rate\":%.2f,\"queued\":%zu,"
                     "\"inflight\":%zu,\"calls\":%llu,\"coalesced\":%llu},\"cache\":{\"entries\":%zu,"
                     "\"bytes\":%zu,\"hits\":%llu,\"misses\":%llu,\"evictions\":%llu},"
                     "\"redis\":{\"state\":\"%s\",\"hits\":%llu,\"misses\":%llu,\"errors\":%llu,"
                     "\"corrupt\":%llu,\"stores\":%llu,\"timeouts\":%llu},\"answerHits\":%llu,"
                     "\"mergedRuns\":{\"hits\":%llu,\"stores\":%llu,\"entries\":%zu,\"bytes\":%zu},"
                     "\"requestsInProgress\":%zu",
                     us.breaker, us.rate, us.queued, us.inflight, (unsigned long long)us.attempts,
                     (unsigned long long)fs.coalesced, fs.l1_entries, fs.l1_bytes, (unsigned long long)fs.l1_hits,
                     (unsigned long long)fs.l1_misses, (unsigned long long)fs.l1_evictions,
                     gw->d.redis == NULL ? "off" : rs.connected ? "connected" : "down",
                     (unsigned long long)fs.l2_hits, (unsigned long long)fs.l2_misses,
                     (unsigned long long)fs.l2_errors, (unsigned long long)fs.l2_corrupt,
                     (unsigned long long)fs.l2_stores, (unsigned long long)rs.timeouts,
                     (unsigned long long)gw->answer_hits, (unsigned long long)gw->run_hits,
                     (unsigned long long)gw->run_stores, runs.entries, runs.bytes, gw->active);
    pg_lru_stats layouts;
    pg_lru_get_stats(gw->layouts, &layouts);
    rc = rc ?: pg_buf_printf(&b, ",\"ionLayouts\":{\"hits\":%llu,\"stores\":%llu,\"entries\":%zu,\"bytes\":%zu}",
                             (unsigned long long)gw->layout_hits, (unsigned long long)gw->layout_stores,
                             layouts.entries, layouts.bytes);
    /* The fleet: shared (its budget and leases in Redis), local (Redis away: this member's share
     * of the budget, rate / members), or off. */
    if (gw->d.fleet == NULL) {
        rc = rc ?: pg_buf_puts(&b, ",\"fleet\":{\"state\":\"off\"}");
    } else {
        pg_fleet_stats fl;
        pg_fleet_get_stats(gw->d.fleet, &fl);
        rc = rc ?: pg_buf_printf(&b, ",\"fleet\":{\"state\":\"%s\",\"members\":%u,\"rate\":%.2f,\"member\":",
                                 pg_fleet_ready(gw->d.fleet) ? "shared" : "local", fl.members, fl.rate);
        rc = rc ?: pg_json_cstr(&b, pg_fleet_member(gw->d.fleet));
        rc = rc ?: pg_buf_printf(&b, ",\"leaseWaits\":%llu,\"leaseHits\":%llu}", (unsigned long long)fs.lease_waits,
                                 (unsigned long long)fs.lease_hits);
    }
    rc = rc ?: pg_buf_printf(&b, ",\"inflight\":{\"bytes\":%zu,\"limit\":%zu,\"waiting\":%zu,\"waits\":%llu,"
                                 "\"refused\":%llu,\"spills\":%llu,\"spilledBytes\":%zu,\"perClientRefused\":%llu}",
                             gw->inflight, gw_inflight_limit(gw), gw->wait.n, (unsigned long long)gw->admit_waits,
                             (unsigned long long)gw->admit_refused, (unsigned long long)gw->spills, gw->spilled,
                             (unsigned long long)gw->per_client_refused);
    if (gw->d.creds != NULL) {
        /* Which provider, whether they sign now, until when, and the last failure (never a secret). */
        pg_credsrc_stats cs;
        pg_credsrc_get_stats(gw->d.creds, pg_realtime_ns(), &cs);
        char exp[PG_TS_FMT_MAX] = "";
        if (cs.expires_ns != 0)
            pg_ts_format(cs.expires_ns, exp, sizeof exp);
        rc = rc ?: pg_buf_printf(&b, ",\"credentials\":{\"provider\":\"%s\",\"state\":\"%s\",\"valid\":%s,"
                                     "\"expires\":%s%s%s,\"fetches\":%llu,\"failures\":%llu,\"refreshFailures\":%llu,"
                                     "\"lastError\":",
                                 cs.provider, cs.state, cs.usable || !cs.signs ? "true" : "false", exp[0] ? "\"" : "",
                                 exp[0] ? exp : "null", exp[0] ? "\"" : "", (unsigned long long)cs.fetches,
                                 (unsigned long long)cs.failures, (unsigned long long)cs.refresh_failures);
        rc = rc ?: cs.last_error[0] ? pg_json_cstr(&b, cs.last_error) : pg_buf_puts(&b, "null");
        rc = rc ?: pg_buf_puts(&b, "}");
    }
    if (gw->d.worker > 0)
        rc = rc ?: pg_buf_printf(&b, ",\"worker\":{\"index\":%u,\"of\":%u,\"pid\":%d}", gw->d.worker,
                                 gw->d.workers, (int)getpid());
    rc = rc ?: pg_buf_puts(&b, "}\n");
    PG_ASSERT(rc == PG_OK); /* numbers, fixed words and a short member id: far below the limit */
    const pg_http_out_header hj[] = {{"Content-Type", "application/json"}};
    pg_http_respond(req, 200, hj, 1, b.data, b.len);
    pg_buf_free(&b);
}

typedef struct readiness {
    bool ready, degraded;
    const char *breaker, *redis;
    bool listening;
} readiness;

/* Ready: listening, not shutting down, and the upstream circuit not open. Redis being down only
 * degrades: requests are still answered (from the L1 and the upstream). */
static void readiness_of(const pg_gateway *gw, readiness *r)
{
    pg_upstream_stats us = {.breaker = "closed"};
    if (gw->d.upstream)
        pg_upstream_get_stats(gw->d.upstream, &us);
    pg_redis_stats rs = {0};
    if (gw->d.redis)
        pg_redis_get_stats(gw->d.redis, &rs);
    r->breaker = us.breaker;
    r->redis = gw->d.redis == NULL ? "off" : rs.connected ? "connected" : "down";
    r->listening = gw->server != NULL && !gw->stopping;
    r->ready = r->listening && strcmp(us.breaker, "open") != 0;
    r->degraded = gw->d.redis != NULL && !rs.connected;
}

void pg_ops_readyz(pg_gateway *gw, pg_http_req *req)
{
    readiness r;
    readiness_of(gw, &r);
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"%s\",\"listening\":%s,\"config\":{\"loaded\":true,\"reloads\":%llu,"
                     "\"failedReloads\":%llu},\"upstream\":{\"breaker\":\"%s\"},\"redis\":{\"state\":\"%s\"}}\n",
                     !r.ready ? "not ready" : r.degraded ? "degraded" : "ready", r.listening ? "true" : "false",
                     (unsigned long long)gw->m.reloads[PG_MRL_OK], (unsigned long long)gw->m.reloads[PG_MRL_FAILED],
                     r.breaker, r.redis);
    PG_FMT_FITS(n, sizeof body);
    const pg_http_out_header hj[] = {{"Content-Type", "application/json"}};
    pg_http_respond(req, r.ready ? 200 : 503, hj, 1, body, (size_t)n);
}

static void lru_snap(const pg_lru *l, pg_metrics_snap *s, pg_m_tier t)
{
    pg_lru_stats ls;
    pg_lru_get_stats(l, &ls);
    s->cache_bytes[t] = ls.bytes;
    s->cache_entries[t] = ls.entries;
    s->cache_evictions[t] = ls.evictions;
    s->cache_capacity[t] = pg_lru_capacity(l);
}

/* Every module's stats and the gateway's counters, at one moment. */
static void metrics_snapshot(const pg_gateway *gw, pg_metrics_snap *s)
{
    memset(s, 0, sizeof *s);
    s->g = gw->m;
    if (gw->d.upstream != NULL) {
        pg_upstream_stats us;
        pg_upstream_get_stats(gw->d.upstream, &us);
        s->up_attempts[PG_MU_OK] = us.ok;
        s->up_attempts[PG_MU_THROTTLED] = us.throttled;
        s->up_attempts[PG_MU_SERVER_ERROR] = us.server_errors;
        s->up_attempts[PG_MU_TIMEOUT] = us.timeouts;
        s->up_attempts[PG_MU_CONNECTION_ERROR] = us.conn_errors;
        s->up_attempts[PG_MU_CLIENT_ERROR] = us.client_errors;
        s->up_retries = us.retries;
        s->up_refused = us.refused;
        s->up_rate = us.rate;
        s->up_rate_max = us.rate_max;
        s->up_queued = us.queued;
        s->up_inflight = us.inflight;
        s->up_breaker_open = strcmp(us.breaker, "open") == 0;
        s->up_breaker_half_open = strcmp(us.breaker, "half-open") == 0;
        s->up_seconds = us.attempt_seconds;
        s->fleet_local_calls = us.fleet_local;
    }
    s->inflight_bytes = gw->inflight;
    s->inflight_limit = gw_inflight_limit(gw);
    s->inflight_waiting = gw->wait.n;
    s->spilled_bytes = gw->spilled;
    s->inflight_waits = gw->admit_waits;
    s->inflight_refused = gw->admit_refused;
    s->spills = gw->spills;
    s->per_client_refused = gw->per_client_refused;
    if (gw->d.creds != NULL) {
        pg_credsrc_stats cs;
        pg_credsrc_get_stats(gw->d.creds, pg_realtime_ns(), &cs);
        for (unsigned i = 0; i < PG_MCR_COUNT; i++)
            s->cred_provider[i] = strcmp(cs.provider, pg_metrics_cred_names[i]) == 0;
        s->cred_valid = cs.usable;
        s->cred_expiry = (double)cs.expires_ns / 1e9;
        s->cred_fetches = cs.fetches;
        s->cred_failures = cs.failures;
        s->cred_refresh_failures = cs.refresh_failures;
    }
    if (gw->d.fetcher != NULL) {
        pg_fetcher_stats fs;
        pg_fetcher_get_stats(gw->d.fetcher, &fs);
        s->cache_bytes[PG_MT_L1] = fs.l1_bytes;
        s->cache_entries[PG_MT_L1] = fs.l1_entries;
        s->cache_evictions[PG_MT_L1] = fs.l1_evictions;
        s->cache_capacity[PG_MT_L1] = fs.l1_capacity;
        s->cache_refreshes = fs.refreshes;
        s->up_withdrawn = fs.abandoned;
        s->fleet_lease_waits = fs.lease_waits;
        s->fleet_lease_hits = fs.lease_hits;
    }
    lru_snap(gw->answers, s, PG_MT_ANSWERS);
    lru_snap(gw->runs, s, PG_MT_MERGED_RUNS);
    lru_snap(gw->layouts, s, PG_MT_ION_LAYOUTS);
    if (gw->d.redis != NULL) {
        pg_redis_stats rs;
        pg_redis_get_stats(gw->d.redis, &rs);
        s->redis_enabled = 1;
        s->redis_connected = rs.connected;
        s->redis_commands = rs.commands;
        s->redis_errors = rs.errors;
        s->redis_timeouts = rs.timeouts;
        s->redis_reconnects = rs.reconnects;
        s->redis_seconds = rs.latency;
    }
    if (gw->d.fleet != NULL) {
        pg_fleet_stats fl;
        pg_fleet_get_stats(gw->d.fleet, &fl);
        s->fleet_enabled = 1;
        s->fleet_members = fl.members;
        s->fleet_rate = fl.rate;
        s->fleet_budget[PG_MFB_GRANTED] = fl.granted;
        s->fleet_budget[PG_MFB_WAIT] = fl.waits;
        s->fleet_budget[PG_MFB_ERROR] = fl.errors;
        s->fleet_decreases = fl.decreases;
        s->fleet_leases[PG_MFL_TAKEN] = fl.leases_taken;
        s->fleet_leases[PG_MFL_HELD_ELSEWHERE] = fl.leases_held_elsewhere;
    }
    _Static_assert(PG_METRICS_TENANTS == PG_TENANTS_MAX, "one metrics slot per tenant slot");
    for (size_t i = 0; gw->d.tenants != NULL && i < gw->d.tenants->n; i++) {
        const pg_tenant *t = &gw->d.tenants->t[i];
        if (!t->active)
            continue;
        pg_tenant_snap *ts = &s->tenants[s->ntenants++];
        int n = snprintf(ts->name, sizeof ts->name, "%s", t->name);
        PG_FMT_FITS(n, sizeof ts->name); /* both sized by the tenants file's name limit */
        ts->requests = t->requests;
        ts->throttled = t->throttled;
        ts->denied = t->denied;
        ts->upstream_calls = t->upstream_calls;
        ts->queued = gw->d.upstream ? pg_upstream_flow_queued(gw->d.upstream, (unsigned)i + 1) : 0;
        ts->weight = t->weight;
        ts->rate = t->rate;
    }
    s->connections = gw->server != NULL ? pg_http_server_connections(gw->server) : 0;
    s->heap_give_backs = gw->server != NULL ? pg_http_server_heap_give_backs(gw->server) : 0;
    s->in_progress = gw->active;
    s->start_time = gw->start_time;
    readiness r;
    readiness_of(gw, &r);
    s->ready = r.ready;
}

void pg_gateway_publish_stats(pg_gateway *gw)
{
    if (gw->d.worker_stats == NULL)
        return;
    pg_metrics_snap *snap = malloc(sizeof *snap);
    if (snap == NULL)
        return; /* the others show the previous figures a second longer */
    metrics_snapshot(gw, snap);
    pg_worker_stats_publish(gw->d.worker_stats, gw->d.worker, snap);
    free(snap);
}

/* This process's figures, and with server.workers every other worker's from the shared region
 * (at most a second old; this worker's own are taken now and published too). */
static int render_metrics(pg_gateway *gw, pg_buf *b)
{
    size_t n = gw->d.worker_stats != NULL ? pg_worker_stats_count(gw->d.worker_stats) : 1;
    pg_metrics_snap *snaps = calloc(n, sizeof *snaps);
    pg_metrics_part *parts = calloc(n, sizeof *parts);
    if (snaps == NULL || parts == NULL) {
        free(parts);
        free(snaps);
        return PG_ENOMEM;
    }
    size_t k = 0;
    if (gw->d.worker_stats == NULL) {
        metrics_snapshot(gw, &snaps[0]);
        parts[k++] = (pg_metrics_part){&snaps[0], 0};
    }
    for (unsigned w = 1; gw->d.worker_stats != NULL && w <= n; w++) {
        if (w == gw->d.worker) {
            metrics_snapshot(gw, &snaps[k]);
            pg_worker_stats_publish(gw->d.worker_stats, w, &snaps[k]);
        } else if (!pg_worker_stats_read(gw->d.worker_stats, w, &snaps[k])) {
            continue; /* restarting, or not started yet */
        }
        parts[k] = (pg_metrics_part){&snaps[k], w};
        k++;
    }
    int rc = pg_metrics_render_parts(b, parts, k);
    free(parts);
    free(snaps);
    return rc;
}

void pg_ops_metrics(pg_gateway *gw, pg_http_req *req)
{
    pg_buf b;
    size_t n = gw->d.worker_stats != NULL ? pg_worker_stats_count(gw->d.worker_stats) : 1;
    pg_buf_init(&b, METRICS_MAX * n);
    int rc = render_metrics(gw, &b);
    if (rc != PG_OK) {
        pg_apierr e;
        pg_apierr_set(&e, PG_AE_INTERNAL, "profgate could not render its metrics: %s", pg_strerror(rc));
        pg_http_respond_error(req, &e);
    } else {
        const pg_http_out_header h[] = {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}};
        pg_http_respond(req, 200, h, 1, b.data, b.len);
    }
    pg_buf_free(&b);
}
