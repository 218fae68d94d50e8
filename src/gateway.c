/*
 * gateway.c: routes and per-route handling for profgate. Every error leaves through
 * pg_http_respond_error so it is always in the AWS wire format.
 *
 * GetProfile stops after planning until the upstream client lands (issue #4): it validates and
 * plans exactly as it will then, and answers 501 NotImplementedException pointing at the plan
 * route, rather than pretending to return a profile.
 */
#include "profgate/gateway.h"
#include "profgate/iso8601.h"
#include "profgate/jsonw.h"
#include "profgate/log.h"
#include "profgate/router.h"

#include <stdio.h>
#include <string.h>

enum { R_GETPROFILE, R_HEALTHZ, R_PLAN };

static const pg_route routes[] = {
    {R_GETPROFILE, "GET", "/profilingGroups/{}/profile"},
    {R_HEALTHZ, "GET", "/healthz"},
    {R_PLAN, "GET", "/_profgate/plan"},
};

#define PLAN_JSON_MAX (256 * 1024)

void pg_gateway_init(pg_gateway *gw, const pg_config *cfg, const pg_clock *clock)
{
    gw->cfg = cfg;
    gw->clock = clock;
    pg_planner_cfg_default(&gw->planner);
    gw->planner.settle_s = cfg->settle_ms / 1000;
}

static int ts_field(pg_buf *b, const char *name, int64_t ns)
{
    char ts[PG_TS_FMT_MAX];
    pg_ts_format(ns, ts, sizeof ts);
    return pg_buf_printf(b, "\"%s\":\"%s\",\"%sMs\":%lld", name, ts, name,
                         (long long)pg_floor_div(ns, PG_NS_PER_MS));
}

int pg_plan_json(pg_buf *b, const pg_plan *plan, int64_t now_ns)
{
    size_t counts[PG_PERIOD_COUNT] = {0};
    size_t live = 0;
    int rc = pg_buf_puts(b, "{");
    rc = rc ?: ts_field(b, "now", now_ns);
    rc = rc ?: pg_buf_puts(b, ",\"request\":{");
    rc = rc ?: ts_field(b, "start", plan->req_start_ns);
    rc = rc ?: pg_buf_puts(b, ",");
    rc = rc ?: ts_field(b, "end", plan->req_end_ns);
    rc = rc ?: pg_buf_printf(b, ",\"clamped\":%s},\"covered\":{", plan->clamped ? "true" : "false");
    rc = rc ?: ts_field(b, "start", plan->start_s * PG_NS_PER_S);
    rc = rc ?: pg_buf_puts(b, ",");
    rc = rc ?: ts_field(b, "end", plan->end_s * PG_NS_PER_S);
    rc = rc ?: pg_buf_printf(b, "},\"extended\":%s,\"expiredPart\":%s,\"buckets\":[",
                             plan->extended ? "true" : "false", plan->expired_part ? "true" : "false");
    for (size_t i = 0; i < plan->n && rc == PG_OK; i++) {
        const pg_bucket *k = &plan->b[i];
        counts[k->period]++;
        live += !k->complete;
        rc = pg_buf_printf(b, "%s{\"period\":\"%s\",", i ? "," : "", pg_period_name(k->period));
        rc = rc ?: ts_field(b, "start", k->start_s * PG_NS_PER_S);
        rc = rc ?: pg_buf_printf(b, ",\"state\":\"%s\"}", k->complete ? "complete" : "live");
    }
    rc = rc ?: pg_buf_printf(b, "],\"counts\":{\"total\":%zu,\"PT5M\":%zu,\"PT1H\":%zu,\"P1D\":%zu,\"live\":%zu}}\n",
                             plan->n, counts[PG_P5M], counts[PG_P1H], counts[PG_P1D], live);
    return rc;
}

static void respond_json(pg_http_req *req, int status, const pg_buf *b)
{
    const pg_http_out_header h[] = {{"Content-Type", "application/json"}};
    pg_http_respond(req, status, h, 1, b->data, b->len);
}

static void handle_plan(pg_gateway *gw, pg_http_req *req, pg_slice query)
{
    pg_getprofile_req r;
    pg_apierr err;
    memset(&r, 0, sizeof r);
    int64_t now = pg_clock_now(gw->clock), s, e;
    if (pg_profile_query_parse(query, &r, &err) != PG_OK || pg_range_resolve(&r, now, &s, &e, &err) != PG_OK) {
        pg_http_respond_error(req, &err);
        return;
    }
    pg_plan plan;
    pg_plan_build(&gw->planner, s, e, now, &plan);
    pg_buf b;
    pg_buf_init(&b, PLAN_JSON_MAX);
    int rc = pg_plan_json(&b, &plan, now);
    PG_ASSERT(rc == PG_OK); /* a plan has at most PG_PLAN_MAX buckets: far below the limit */
    respond_json(req, 200, &b);
    pg_buf_free(&b);
}

static void handle_getprofile(pg_gateway *gw, pg_http_req *req, pg_slice group, pg_slice query)
{
    pg_getprofile_req r;
    pg_apierr err;
    size_t alen = 0;
    const char *accept = pg_http_req_header(req, "accept", &alen);
    int64_t now = pg_clock_now(gw->clock), s, e;
    if (pg_getprofile_parse(group, query, accept, alen, &r, &err) != PG_OK ||
        pg_range_resolve(&r, now, &s, &e, &err) != PG_OK) {
        pg_http_respond_error(req, &err);
        return;
    }
    pg_plan plan;
    pg_plan_build(&gw->planner, s, e, now, &plan);
    pg_log(PG_LOG_DEBUG, "rid=%s group=%s plan buckets=%zu", pg_http_req_id(req), r.group, plan.n);
    pg_apierr_set(&err, PG_AE_NOT_IMPLEMENTED,
                  "profgate validated and planned this request (%zu buckets) but has no upstream client yet; "
                  "GET /_profgate/plan with the same query shows the plan",
                  plan.n);
    pg_http_respond_error(req, &err);
}

void pg_gateway_handle(pg_http_req *req, void *data)
{
    pg_gateway *gw = data;
    const pg_http_head *h = pg_http_req_head(req);
    pg_slice path, query;
    pg_target_split(h->target, h->target_len, &path, &query);
    pg_route_result m;
    pg_route_match(routes, PG_ARRAY_LEN(routes), h->method, h->method_len, path, &m);
    pg_apierr err;
    char method[24], where[208];
    pg_printable(h->method, h->method_len, method, sizeof method);
    pg_printable(path.p, path.len, where, sizeof where);
    if (m.status == 404) {
        pg_apierr_set(&err, PG_AE_UNKNOWN_OPERATION, "No operation matches %s %s", method, where);
        pg_http_respond_error(req, &err);
        return;
    }
    if (m.status == 405) {
        pg_apierr_set(&err, PG_AE_METHOD_NOT_ALLOWED, "Method %s is not allowed on %s; use %s", method, where,
                      m.allow);
        const pg_http_out_header allow[] = {{"Allow", m.allow}};
        pg_http_respond_error_with(req, &err, allow, 1);
        return;
    }
    switch (m.id) {
    case R_GETPROFILE:
        handle_getprofile(gw, req, m.params[0], query);
        return;
    case R_HEALTHZ: {
        static const char ok[] = "{\"status\":\"ok\"}\n";
        const pg_http_out_header hj[] = {{"Content-Type", "application/json"}};
        pg_http_respond(req, 200, hj, 1, ok, sizeof ok - 1);
        return;
    }
    case R_PLAN:
        handle_plan(gw, req, query);
        return;
    }
    PG_UNREACHABLE();
}
