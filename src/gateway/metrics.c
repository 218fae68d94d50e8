/*
 * metrics.c: the metrics table and its Prometheus text rendering. A row names a metric, its type
 * and help, up to two label dimensions (each an enum's value names), and where its values sit in
 * pg_metrics_snap: a uint64_t, a double or a pg_histo, or an array of them laid out as the label
 * dimensions (row-major). Adding a metric is adding a row and a snapshot field.
 */
#include "profgate/metrics.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

pg_m_status pg_metrics_status(int st)
{
    static const int codes[PG_MS_OTHER] = {200, 400, 403, 404, 405, 408, 413, 414, 429, 431, 500, 501, 503, 504};
    for (size_t i = 0; i < PG_ARRAY_LEN(codes); i++)
        if (codes[i] == st)
            return (pg_m_status)i;
    return PG_MS_OTHER;
}

typedef struct label {
    const char *name;
    const char *const *values;
    size_t n;
} label;

#define VALUES(...) (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)
static const label L_ROUTE = {"route", VALUES("GetProfile", "healthz", "readyz", "metrics", "plan", "other",
                                              "ListProfileTimes", "api", "view", "diff", "ui")};
static const label L_STATUS = {"code", VALUES("200", "400", "403", "404", "405", "408", "413", "414", "429", "431",
                                              "500", "501", "503", "504", "other")};
static const label L_CACHE = {"cache", VALUES("hit", "partial", "miss", "none")};
static const label L_SOURCE = {"source", VALUES("l1", "redis", "upstream", "coalesced", "merged_run")};
static const label L_OUTCOME = {"outcome", VALUES("ok", "throttled", "server_error", "timeout", "connection_error",
                                                  "client_error")};
const char *const pg_metrics_cred_names[PG_MCR_COUNT] = {"environment", "web-identity", "profile", "container", "imds",
                                                         "none"};
static const label L_PROVIDER = {"provider", pg_metrics_cred_names, PG_MCR_COUNT};
static const label L_TIER = {"tier", VALUES("l1", "answers", "merged_runs", "ion_layouts")};
static const label L_RESULT = {"result", VALUES("ok", "failed")};
static const label L_BUDGET = {"result", VALUES("granted", "wait", "error")};
static const label L_LEASE = {"result", VALUES("taken", "held_elsewhere")};
static const label L_AUTH = {"reason", VALUES("missing", "unknown_key", "malformed", "bad_scope", "bad_headers",
                                              "expired", "bad_signature", "access_denied")};

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype;
typedef enum { V_U64, V_F64, V_HISTO } vkind;

typedef struct metric {
    const char *name;
    mtype type;
    vkind kind;
    size_t off, size;
    const label *l1, *l2, *l3; /* label dimensions, outermost first; NULL when fewer */
    bool sparse;               /* omit series that are zero (large label products) */
    const char *help;
} metric;

#define S(field) offsetof(pg_metrics_snap, field), sizeof(((pg_metrics_snap *)0)->field)

/* Every metric profgate exports. The label dimensions match the array shapes in pg_metrics_snap. */
static const metric table[] = {
    {"profgate_requests_total", M_COUNTER, V_U64, S(g.requests), &L_ROUTE, &L_STATUS, &L_CACHE, true,
     "Requests answered, by route, HTTP status and cache result (hit: every bucket from a cache; partial: some; "
     "miss: none; none: not a GetProfile answer)."},
    {"profgate_request_duration_seconds", M_HISTOGRAM, V_HISTO, S(g.request_seconds), &L_ROUTE, NULL, NULL, true,
     "Time from a request's complete head to its answer being handed to the connection (end to end inside profgate)."},
    {"profgate_buckets_total", M_COUNTER, V_U64, S(g.buckets), &L_SOURCE, NULL, NULL, false,
     "Buckets of GetProfile plans, by where they came from: the in-process cache, Redis, an upstream call of their "
     "own, an upstream call another request had started (coalesced), or a stored merged run."},
    {"profgate_upstream_requests_total", M_COUNTER, V_U64, S(up_attempts), &L_OUTCOME, NULL, NULL, false,
     "Upstream GetProfile attempts, by outcome (a retried call counts once per attempt)."},
    {"profgate_upstream_retries_total", M_COUNTER, V_U64, S(up_retries), NULL, NULL, NULL, false,
     "Upstream attempts scheduled as retries after a throttle, a 5xx or a connection error."},
    {"profgate_upstream_refused_total", M_COUNTER, V_U64, S(up_refused), NULL, NULL, NULL, false,
     "Upstream calls refused without an attempt: queue full or circuit open."},
    {"profgate_upstream_withdrawn_total", M_COUNTER, V_U64, S(up_withdrawn), NULL, NULL, NULL, false,
     "Bucket lookups dropped before their upstream call because every request waiting for them left (a "
     "client that went away spends no budget); calls already in flight finish and are cached."},
    {"profgate_upstream_request_duration_seconds", M_HISTOGRAM, V_HISTO, S(up_seconds), NULL, NULL, NULL, false,
     "Duration of each upstream attempt, from start to its last byte or failure."},
    {"profgate_upstream_rate", M_GAUGE, V_F64, S(up_rate), NULL, NULL, NULL, false,
     "Current upstream pacing in requests per second (lowered on throttling, recovering on success)."},
    {"profgate_upstream_rate_max", M_GAUGE, V_F64, S(up_rate_max), NULL, NULL, NULL, false,
     "Configured upstream rate (upstream.rate)."},
    {"profgate_upstream_queue_depth", M_GAUGE, V_U64, S(up_queued), NULL, NULL, NULL, false,
     "Upstream calls waiting for a token or a transfer slot."},
    {"profgate_upstream_inflight", M_GAUGE, V_U64, S(up_inflight), NULL, NULL, NULL, false,
     "Upstream calls in flight or waiting to retry."},
    {"profgate_upstream_circuit_open", M_GAUGE, V_U64, S(up_breaker_open), NULL, NULL, NULL, false,
     "1 while the upstream circuit breaker is open (calls are refused at once), else 0."},
    {"profgate_upstream_circuit_half_open", M_GAUGE, V_U64, S(up_breaker_half_open), NULL, NULL, NULL, false,
     "1 while the circuit breaker is half-open (one probe call allowed), else 0."},
    {"profgate_inflight_bytes", M_GAUGE, V_U64, S(inflight_bytes), NULL, NULL, NULL, false,
     "Memory held by GetProfile answers being built and sent (merged trees, accumulators, encoded pieces, queued "
     "output, copies for the answer cache), charged against server.inflight_bytes; a request still fetching is charged at least "
     "what recent answers grew to."},
    {"profgate_inflight_limit_bytes", M_GAUGE, V_U64, S(inflight_limit), NULL, NULL, NULL, false,
     "server.inflight_bytes as it applies (resolved from the memory this process may use when 0)."},
    {"profgate_inflight_waiting", M_GAUGE, V_U64, S(inflight_waiting), NULL, NULL, NULL, false,
     "GetProfile requests waiting for room in the budget."},
    {"profgate_inflight_waits_total", M_COUNTER, V_U64, S(inflight_waits), NULL, NULL, NULL, false,
     "GetProfile requests that had to wait for room in the budget."},
    {"profgate_inflight_refused_total", M_COUNTER, V_U64, S(inflight_refused), NULL, NULL, NULL, false,
     "GetProfile requests answered 503 because no room came within server.inflight_wait."},
    {"profgate_spills_total", M_COUNTER, V_U64, S(spills), NULL, NULL, NULL, false,
     "Answers of slow readers encoded to a file (server.spill_dir) so their trees could be freed."},
    {"profgate_spilled_bytes", M_GAUGE, V_U64, S(spilled_bytes), NULL, NULL, NULL, false,
     "Bytes of spilled answers not yet sent (bounded by server.spill_bytes)."},
    {"profgate_getprofile_per_client_refused_total", M_COUNTER, V_U64, S(per_client_refused), NULL, NULL, NULL,
     false, "GetProfile requests answered 429 because their client address had server.max_getprofile_per_client "
     "in progress."},
    {"profgate_credentials_provider", M_GAUGE, V_U64, S(cred_provider), &L_PROVIDER, NULL, NULL, false,
     "1 for the provider of the AWS default chain that supplies the credentials upstream calls are signed with "
     "(none: unsigned), 0 for the others."},
    {"profgate_credentials_valid", M_GAUGE, V_U64, S(cred_valid), NULL, NULL, NULL, false,
     "1 while the credentials held may sign (fetched and not within their expiry margin); 0 means upstream calls "
     "wait for a fetch to succeed."},
    {"profgate_credentials_expiry_timestamp_seconds", M_GAUGE, V_F64, S(cred_expiry), NULL, NULL, NULL, false,
     "When the credentials held expire, in Unix seconds; 0 when none are held or they do not expire."},
    {"profgate_credentials_fetches_total", M_COUNTER, V_U64, S(cred_fetches), NULL, NULL, NULL, false,
     "Credential fetches started (the first and every refresh or retry)."},
    {"profgate_credentials_failures_total", M_COUNTER, V_U64, S(cred_failures), NULL, NULL, NULL, false,
     "Credential fetches that failed (the reason is logged and shown in /healthz)."},
    {"profgate_credentials_refresh_failures_total", M_COUNTER, V_U64, S(cred_refresh_failures), NULL, NULL, NULL,
     false, "Failed fetches while credentials were already held (a refresh that failed; they keep signing until "
     "their margin)."},
    {"profgate_cache_bytes", M_GAUGE, V_U64, S(cache_bytes), &L_TIER, NULL, NULL, false,
     "Bytes held by each in-process cache tier."},
    {"profgate_cache_capacity_bytes", M_GAUGE, V_U64, S(cache_capacity), &L_TIER, NULL, NULL, false,
     "Configured size of each in-process cache tier."},
    {"profgate_cache_entries", M_GAUGE, V_U64, S(cache_entries), &L_TIER, NULL, NULL, false,
     "Entries in each in-process cache tier."},
    {"profgate_cache_evictions_total", M_COUNTER, V_U64, S(cache_evictions), &L_TIER, NULL, NULL, false,
     "Entries evicted from each in-process cache tier to stay within its size."},
    {"profgate_cache_refreshes_total", M_COUNTER, V_U64, S(cache_refreshes), NULL, NULL, NULL, false,
     "Background refreshes of live buckets, started when a request found one in the in-process cache within "
     "freshness.refresh_ahead of going stale (each is also an upstream or Redis lookup)."},
    {"profgate_redis_enabled", M_GAUGE, V_U64, S(redis_enabled), NULL, NULL, NULL, false,
     "1 when redis.url is set."},
    {"profgate_redis_connected", M_GAUGE, V_U64, S(redis_connected), NULL, NULL, NULL, false,
     "1 while the Redis connection is up."},
    {"profgate_redis_commands_total", M_COUNTER, V_U64, S(redis_commands), NULL, NULL, NULL, false,
     "Redis commands sent."},
    {"profgate_redis_errors_total", M_COUNTER, V_U64, S(redis_errors), NULL, NULL, NULL, false,
     "Redis commands that failed with an error reply or a lost connection."},
    {"profgate_redis_timeouts_total", M_COUNTER, V_U64, S(redis_timeouts), NULL, NULL, NULL, false,
     "Redis commands that exceeded redis.command_timeout."},
    {"profgate_redis_reconnects_total", M_COUNTER, V_U64, S(redis_reconnects), NULL, NULL, NULL, false,
     "Redis reconnection attempts."},
    {"profgate_redis_command_duration_seconds", M_HISTOGRAM, V_HISTO, S(redis_seconds), NULL, NULL, NULL, false,
     "Redis command latency, from send to reply (commands that got one)."},
    {"profgate_fleet_enabled", M_GAUGE, V_U64, S(fleet_enabled), NULL, NULL, NULL, false,
     "1 when this process shares the fleet's budget and leases through Redis (redis.url, fleet.enabled)."},
    {"profgate_fleet_members", M_GAUGE, V_U64, S(fleet_members), NULL, NULL, NULL, false,
     "Replicas and workers that announced themselves within the last three heartbeats (this one included)."},
    {"profgate_fleet_rate", M_GAUGE, V_F64, S(fleet_rate), NULL, NULL, NULL, false,
     "The fleet's current upstream GetProfile rate as last read from Redis (halved on throttling, recovering)."},
    {"profgate_fleet_budget_requests_total", M_COUNTER, V_U64, S(fleet_budget), &L_BUDGET, NULL, NULL, false,
     "Requests for a call from the fleet's budget: granted, told to wait, or failed (Redis slow or away)."},
    {"profgate_fleet_rate_decreases_total", M_COUNTER, V_U64, S(fleet_decreases), NULL, NULL, NULL, false,
     "Times a 429 seen here halved the fleet's rate (at most once a second fleet-wide)."},
    {"profgate_fleet_local_calls_total", M_COUNTER, V_U64, S(fleet_local_calls), NULL, NULL, NULL, false,
     "Upstream calls paced by this member's local share (rate / fleet size) because Redis could not be reached."},
    {"profgate_fleet_leases_total", M_COUNTER, V_U64, S(fleet_leases), &L_LEASE, NULL, NULL, false,
     "Bucket leases asked for: taken (this member fetches the bucket) or held by another member."},
    {"profgate_fleet_lease_waits_total", M_COUNTER, V_U64, S(fleet_lease_waits), NULL, NULL, NULL, false,
     "Lookups that waited for another member's fetch of the same bucket."},
    {"profgate_fleet_lease_hits_total", M_COUNTER, V_U64, S(fleet_lease_hits), NULL, NULL, NULL, false,
     "Lookups that waited for another member's fetch and got its result from Redis (an upstream call saved)."},
    {"profgate_open_connections", M_GAUGE, V_U64, S(connections), NULL, NULL, NULL, false,
     "Client connections open now."},
    {"profgate_requests_in_progress", M_GAUGE, V_U64, S(in_progress), NULL, NULL, NULL, false,
     "GetProfile requests being answered now."},
    {"profgate_heap_give_backs_total", M_COUNTER, V_U64, S(heap_give_backs), NULL, NULL, NULL, false,
     "Times the heap's free pages were handed back to the kernel after a burst of at least 256 requests at once "
     "had receded (memory such a burst held stays resident otherwise)."},
    {"profgate_config_reloads_total", M_COUNTER, V_U64, S(g.reloads), &L_RESULT, NULL, NULL, false,
     "Configuration reloads (SIGHUP), by result; a failed one keeps the previous configuration."},
    {"profgate_auth_failures_total", M_COUNTER, V_U64, S(g.auth_failures), &L_AUTH, NULL, NULL, false,
     "Requests refused by authentication (auth.mode = sigv4): no signature, unknown access key, malformed "
     "Authorization, wrong credential scope, host or x-amz-date not signed, date outside auth.max_skew, wrong "
     "signature, or a group the tenant may not read."},
    {"profgate_ready", M_GAUGE, V_U64, S(ready), NULL, NULL, NULL, false,
     "1 when /readyz reports ready."},
    {"profgate_start_time_seconds", M_GAUGE, V_F64, S(start_time), NULL, NULL, NULL, false,
     "Start time of the process, seconds since the Unix epoch."},
};

/* Per-tenant metrics: one series per tenant in the tenants file, labelled tenant="NAME". */
typedef struct tmetric {
    const char *name;
    mtype type;
    vkind kind;
    size_t off;
    const char *help;
} tmetric;

#define T(field) offsetof(pg_tenant_snap, field)

static const tmetric tenant_table[] = {
    {"profgate_tenant_requests_total", M_COUNTER, V_U64, T(requests),
     "GetProfile requests answered for the tenant (any status)."},
    {"profgate_tenant_throttled_total", M_COUNTER, V_U64, T(throttled),
     "Requests refused with 429 ThrottlingException because the tenant was over its quota."},
    {"profgate_tenant_denied_total", M_COUNTER, V_U64, T(denied),
     "Requests refused with 403 AccessDeniedException for a group outside the tenant's patterns."},
    {"profgate_tenant_upstream_calls_total", M_COUNTER, V_U64, T(upstream_calls),
     "Upstream calls started for the tenant's requests (cache hits and coalesced waits cost none)."},
    {"profgate_tenant_upstream_queued", M_GAUGE, V_U64, T(queued),
     "The tenant's upstream calls waiting for their fair turn."},
    {"profgate_tenant_weight", M_GAUGE, V_F64, T(weight), "The tenant's weight in the upstream queue."},
    {"profgate_tenant_quota_rate", M_GAUGE, V_F64, T(rate), "The tenant's request quota per second (0: none)."},
};

static const char *type_name(mtype t)
{
    return t == M_COUNTER ? "counter" : t == M_GAUGE ? "gauge" : "histogram";
}

/* A Prometheus float: integers without a fraction, +Inf spelled as Prometheus does. */
static int put_f64(pg_buf *out, double v)
{
    if (isinf(v))
        return pg_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 1e15)
        return pg_buf_printf(out, "%.0f", v);
    return pg_buf_printf(out, "%.15g", v);
}

/* name{[worker,]labels[,extra]} */
static int series(pg_buf *out, const metric *m, const char *suffix, const size_t *idx, const char *extra,
                  unsigned worker)
{
    const label *ls[3] = {m->l1, m->l2, m->l3};
    int rc = pg_buf_printf(out, "%s%s", m->name, suffix);
    bool any = false;
    if (worker > 0) {
        rc = rc ?: pg_buf_printf(out, "{worker=\"%u\"", worker);
        any = true;
    }
    for (size_t d = 0; d < 3 && rc == PG_OK; d++) {
        if (ls[d] == NULL)
            continue;
        rc = pg_buf_printf(out, "%s%s=\"%s\"", any ? "," : "{", ls[d]->name, ls[d]->values[idx[d]]);
        any = true;
    }
    if (rc == PG_OK && extra != NULL) {
        rc = pg_buf_printf(out, "%s%s", any ? "," : "{", extra);
        any = true;
    }
    if (rc == PG_OK && any)
        rc = pg_buf_puts(out, "}");
    return rc ?: pg_buf_puts(out, " ");
}

static int render_histo(pg_buf *out, const metric *m, const size_t *idx, const pg_histo *h, unsigned w)
{
    uint64_t cum = 0;
    int rc = PG_OK;
    for (size_t i = 0; i <= PG_HISTO_BOUNDS && rc == PG_OK; i++) {
        cum += h->counts[i];
        char le[40] = "le=\"+Inf\"";
        if (i < PG_HISTO_BOUNDS)
            snprintf(le, sizeof le, "le=\"%g\"", pg_histo_bounds[i]);
        rc = series(out, m, "_bucket", idx, le, w);
        rc = rc ?: pg_buf_printf(out, "%llu\n", (unsigned long long)cum);
    }
    rc = rc ?: series(out, m, "_sum", idx, NULL, w);
    rc = rc ?: put_f64(out, h->sum);
    rc = rc ?: pg_buf_puts(out, "\n");
    rc = rc ?: series(out, m, "_count", idx, NULL, w);
    return rc ?: pg_buf_printf(out, "%llu\n", (unsigned long long)h->n);
}

/* One snapshot's series of metric m (its HELP and TYPE are already written). */
static int render_metric(pg_buf *out, const metric *m, const pg_metrics_snap *s, unsigned w)
{
    size_t n[3] = {m->l1 ? m->l1->n : 1, m->l2 ? m->l2->n : 1, m->l3 ? m->l3->n : 1};
    size_t elem = m->kind == V_HISTO ? sizeof(pg_histo) : m->kind == V_U64 ? sizeof(uint64_t) : sizeof(double);
    PG_ASSERT(n[0] * n[1] * n[2] * elem == m->size); /* the labels describe the field's shape */
    int rc = PG_OK;
    size_t k = 0; /* flat index into the field's array */
    for (size_t a = 0; a < n[0]; a++)
        for (size_t b = 0; b < n[1]; b++)
            for (size_t c = 0; c < n[2] && rc == PG_OK; c++, k++) {
                const size_t idx[3] = {a, b, c};
                const char *base = (const char *)s + m->off;
                if (m->kind == V_HISTO) {
                    const pg_histo *h = (const pg_histo *)base + k;
                    if (!(m->sparse && h->n == 0))
                        rc = render_histo(out, m, idx, h, w);
                } else if (m->kind == V_U64) {
                    uint64_t v = ((const uint64_t *)base)[k];
                    if (!(m->sparse && v == 0)) {
                        rc = series(out, m, "", idx, NULL, w);
                        rc = rc ?: pg_buf_printf(out, "%llu\n", (unsigned long long)v);
                    }
                } else {
                    rc = series(out, m, "", idx, NULL, w);
                    rc = rc ?: put_f64(out, ((const double *)base)[k]);
                    rc = rc ?: pg_buf_puts(out, "\n");
                }
            }
    return rc;
}

static int render_tenant_metric(pg_buf *out, const tmetric *m, const pg_metrics_snap *s, unsigned w)
{
    PG_ASSERT(s->ntenants <= PG_METRICS_TENANTS);
    int rc = PG_OK;
    char wl[32] = "";
    if (w > 0)
        snprintf(wl, sizeof wl, ",worker=\"%u\"", w);
    for (size_t k = 0; k < s->ntenants && rc == PG_OK; k++) {
        const char *base = (const char *)&s->tenants[k] + m->off;
        rc = pg_buf_printf(out, "%s{tenant=\"%s\"%s} ", m->name, s->tenants[k].name, wl);
        if (m->kind == V_U64)
            rc = rc ?: pg_buf_printf(out, "%llu\n", (unsigned long long)*(const uint64_t *)base);
        else
            rc = rc ?: put_f64(out, *(const double *)base);
        if (m->kind != V_U64)
            rc = rc ?: pg_buf_puts(out, "\n");
    }
    return rc;
}

int pg_metrics_render_parts(pg_buf *out, const pg_metrics_part *parts, size_t nparts)
{
    int rc = pg_buf_printf(out, "# HELP profgate_build_info profgate's version.\n# TYPE profgate_build_info gauge\n"
                                "profgate_build_info{version=\"%s\"} 1\n",
                           PG_VERSION);
    /* A family's series stay together (the text format requires it): metric by metric, and
     * within each, worker by worker. */
    for (size_t i = 0; i < PG_ARRAY_LEN(table) && rc == PG_OK; i++) {
        const metric *m = &table[i];
        rc = pg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, type_name(m->type));
        for (size_t p = 0; p < nparts && rc == PG_OK; p++)
            rc = render_metric(out, m, parts[p].snap, parts[p].worker);
    }
    for (size_t i = 0; i < PG_ARRAY_LEN(tenant_table) && rc == PG_OK; i++) {
        const tmetric *m = &tenant_table[i];
        rc = pg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, type_name(m->type));
        for (size_t p = 0; p < nparts && rc == PG_OK; p++)
            rc = render_tenant_metric(out, m, parts[p].snap, parts[p].worker);
    }
    return rc;
}

int pg_metrics_render(pg_buf *out, const pg_metrics_snap *s)
{
    const pg_metrics_part one = {s, 0};
    return pg_metrics_render_parts(out, &one, 1);
}

void pg_metrics_write_doc(FILE *out)
{
    fprintf(out, "| metric | type | labels | meaning |\n|---|---|---|---|\n");
    fprintf(out, "| `profgate_build_info` | gauge | version | Always 1; the version is the label. |\n");
    for (size_t i = 0; i < PG_ARRAY_LEN(table); i++) {
        const metric *m = &table[i];
        char labels[512] = "";
        const label *ls[3] = {m->l1, m->l2, m->l3};
        size_t o = 0;
        for (size_t d = 0; d < 3; d++) {
            if (ls[d] == NULL)
                continue;
            o += (size_t)snprintf(labels + o, sizeof labels - o, "%s%s (", o ? "; " : "", ls[d]->name);
            for (size_t v = 0; v < ls[d]->n && o < sizeof labels; v++)
                o += (size_t)snprintf(labels + o, sizeof labels - o, "%s%s", v ? ", " : "", ls[d]->values[v]);
            o += (size_t)snprintf(labels + o, sizeof labels - o, ")");
            if (o >= sizeof labels)
                o = sizeof labels - 1;
        }
        fprintf(out, "| `%s` | %s | %s | %s |\n", m->name, type_name(m->type), o ? labels : "-", m->help);
    }
    for (size_t i = 0; i < PG_ARRAY_LEN(tenant_table); i++)
        fprintf(out, "| `%s` | %s | tenant (names from the tenants file) | %s |\n", tenant_table[i].name,
                type_name(tenant_table[i].type), tenant_table[i].help);
}
