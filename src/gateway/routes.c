/*
 * routes.c: profgate's route table and dispatch, and the small routes that need no state of
 * their own (/_profgate/plan). Every error leaves through pg_http_respond_error, so it is always
 * in the AWS wire format; unknown paths and methods get the service's own 404 and 405.
 */
#include "gw.h"
#include "profgate/iso8601.h"
#include "profgate/ops.h"
#include "profgate/routes.h"

#include <string.h>

/* Route ids are the metrics' route label values. */
const pg_route pg_gateway_routes[] = {
    {PG_MR_GETPROFILE, "GET", "/profilingGroups/{}/profile"},
    {PG_MR_LISTTIMES, "GET", "/profilingGroups/{}/profileTimes"},
    {PG_MR_HEALTHZ, "GET", "/healthz"},
    {PG_MR_READYZ, "GET", "/readyz"},
    {PG_MR_METRICS, "GET", "/metrics"},
    {PG_MR_PLAN, "GET", "/_profgate/plan"},
    {PG_MR_VIEW, "GET", "/_profgate/profile/{}"},
    {PG_MR_DIFF, "GET", "/_profgate/diff/{}"},
};
const size_t pg_gateway_route_count = PG_ARRAY_LEN(pg_gateway_routes);

#define PLAN_JSON_MAX (256 * 1024)

const gw_note *gw_route_note(pg_m_route route)
{
    static const gw_note notes[PG_MR_COUNT] = {
        [PG_MR_GETPROFILE] = {PG_MR_GETPROFILE, NULL}, [PG_MR_HEALTHZ] = {PG_MR_HEALTHZ, NULL},
        [PG_MR_READYZ] = {PG_MR_READYZ, NULL},         [PG_MR_METRICS] = {PG_MR_METRICS, NULL},
        [PG_MR_PLAN] = {PG_MR_PLAN, NULL},             [PG_MR_OTHER] = {PG_MR_OTHER, NULL},
        [PG_MR_LISTTIMES] = {PG_MR_LISTTIMES, NULL},   [PG_MR_API] = {PG_MR_API, NULL},
        [PG_MR_VIEW] = {PG_MR_VIEW, NULL},             [PG_MR_DIFF] = {PG_MR_DIFF, NULL},
        [PG_MR_UI] = {PG_MR_UI, NULL},
    };
    PG_ASSERT(route < PG_MR_COUNT);
    return &notes[route];
}

static int ts_field(pg_buf *b, const char *name, int64_t ns)
{
    char ts[PG_TS_FMT_MAX];
    pg_ts_format(ns, ts, sizeof ts);
    return pg_buf_printf(b, "\"%s\":\"%s\",\"%sMs\":%lld", name, ts, name,
                         (long long)pg_floor_div(ns, PG_NS_PER_MS));
}

/* The plan as JSON (the /_profgate/plan body). */
static int plan_json(pg_buf *b, const pg_plan *plan, int64_t now_ns)
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
    int64_t now = pg_clock_now(gw->d.clock), s, e;
    if (pg_profile_query_parse(query, &r, &err) != PG_OK || pg_range_resolve(&r, now, &s, &e, &err) != PG_OK) {
        pg_http_respond_error(req, &err);
        return;
    }
    pg_plan plan;
    pg_plan_build(&gw->planner, s, e, now, &plan);
    pg_buf b;
    pg_buf_init(&b, PLAN_JSON_MAX);
    int rc = plan_json(&b, &plan, now);
    PG_ASSERT(rc == PG_OK); /* a plan has at most PG_PLAN_MAX buckets: far below the limit */
    respond_json(req, 200, &b);
    pg_buf_free(&b);
}

void pg_gateway_handle(pg_http_req *req, void *data)
{
    pg_gateway *gw = gw_of(data);
    pg_slice query;
    pg_route_result m;
    /* The page: a tree of static files under one prefix (the route table matches whole paths). */
    const pg_http_head *head = pg_http_req_head(req);
    pg_slice path;
    pg_target_split(head->target, head->target_len, &path, &query);
    if (path.len >= 3 && memcmp(path.p, "/ui", 3) == 0 && (path.len == 3 || path.p[3] == '/')) {
        pg_http_req_set_note(req, gw_route_note(PG_MR_UI));
        if (head->method_len == 3 && memcmp(head->method, "GET", 3) == 0) {
            gw_ui(gw, req, path);
            return;
        }
        pg_apierr err;
        pg_apierr_set(&err, PG_AE_METHOD_NOT_ALLOWED, "profgate's page is read with GET");
        const pg_http_out_header allow[] = {{"Allow", "GET"}};
        pg_http_respond_error_with(req, &err, allow, 1);
        return;
    }
    pg_route_head(pg_gateway_routes, pg_gateway_route_count, pg_http_req_head(req), &m, &query);
    if (m.status == 404) {
        /* Not profgate's own: one of the service's other operations? */
        pg_route_result om;
        pg_route_head(pg_operation_routes, PG_OP_COUNT, pg_http_req_head(req), &om, &query);
        if (om.status == 200) {
            pg_http_req_set_note(req, gw_route_note(PG_MR_API));
            gw_passthrough(gw, req, (pg_op)om.id, &om);
            return;
        }
        if (om.status == 405)
            m = om;
    }
    if (m.status != 200) {
        pg_apierr err;
        pg_route_error(&m, pg_http_req_head(req), &err);
        const pg_http_out_header allow[] = {{"Allow", m.allow}};
        pg_http_respond_error_with(req, &err, allow, m.status == 405 ? 1 : 0);
        return;
    }
    pg_http_req_set_note(req, gw_route_note((pg_m_route)m.id));
    switch ((pg_m_route)m.id) {
    case PG_MR_GETPROFILE:
        gw_getprofile(gw, req, m.params[0], query, GP_API);
        return;
    case PG_MR_VIEW:
        gw_getprofile(gw, req, m.params[0], query, GP_VIEW);
        return;
    case PG_MR_DIFF:
        gw_getprofile(gw, req, m.params[0], query, GP_DIFF);
        return;
    case PG_MR_LISTTIMES:
        gw_listtimes(gw, req, m.params[0], query);
        return;
    case PG_MR_HEALTHZ:
        pg_ops_healthz(gw, req);
        return;
    case PG_MR_READYZ:
        pg_ops_readyz(gw, req);
        return;
    case PG_MR_METRICS:
        pg_ops_metrics(gw, req);
        return;
    case PG_MR_PLAN:
        handle_plan(gw, req, query);
        return;
    case PG_MR_API:
    case PG_MR_UI:
    case PG_MR_OTHER:
    case PG_MR_COUNT:
        break;
    }
    PG_UNREACHABLE();
}
