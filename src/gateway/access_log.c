/*
 * access_log.c: the end of every request, as the server reports it (its on_done hook, run while
 * the request's state still exists): the counters by route, status and cache result, the
 * latency histogram, the tenant's counters, and one access line with what the request did.
 */
#include "gp.h"
#include "profgate/iso8601.h"
#include "profgate/log.h"
#include "profgate/query.h"

#include <stdio.h>
#include <string.h>

void pg_gateway_done(pg_http_req *req, const pg_http_done_info *info, void *data)
{
    pg_gateway *gw = gw_of(data);
    const gw_note *note = pg_http_req_note(req); /* NULL: answered before routing */
    pg_m_route route = note != NULL ? note->route : PG_MR_OTHER;
    const gpreq *g = note != NULL ? note->gp : NULL;
    pg_m_cache cache = PG_MC_NONE;
    if (g != NULL && info->status == 200)
        cache = g->hits == g->plan.n ? PG_MC_HIT : g->hits > 0 ? PG_MC_PARTIAL : PG_MC_MISS;
    gw->m.requests[route][pg_metrics_status(info->status)][cache]++;
    if (g != NULL && g->tenant != NULL) {
        g->tenant->requests++;
        g->tenant->upstream_calls += g->fetched;
    }
    pg_histo_observe(&gw->m.request_seconds[route], info->duration_ns);
    /* Probes and scrapes are not worth a line each; everything else is. */
    if (!gw->d.cfg->access_log || !pg_log_enabled(PG_LOG_INFO) || route == PG_MR_HEALTHZ || route == PG_MR_READYZ ||
        route == PG_MR_METRICS)
        return;
    const pg_http_head *h = pg_http_req_head(req);
    char target[512] = "-", method[20] = "-";
    if (h != NULL) {
        pg_target_redact(h->target, h->target_len, target, sizeof target);
        pg_printable(h->method, h->method_len, method, sizeof method);
    }
    static const char *const cache_names[] = {"hit", "partial", "miss", NULL};
    char range[96] = "", group[300] = "";
    pg_log_field f[18];
    size_t n = 0;
    f[n++] = PG_LF_S("rid", pg_http_req_id(req));
    f[n++] = PG_LF_S("method", method);
    f[n++] = PG_LF_S("target", target);
    f[n++] = PG_LF_I("status", info->status);
    f[n++] = PG_LF_I("bytes", info->body_bytes);
    f[n++] = PG_LF_F("dur_ms", (double)info->duration_ns / 1e6);
    if (g != NULL) {
        if (g->r.group[0])
            pg_printable(g->r.group, strlen(g->r.group), group, sizeof group);
        if (g->plan.n > 0) {
            char a[PG_TS_FMT_MAX], b[PG_TS_FMT_MAX];
            pg_ts_format(g->plan.start_s * PG_NS_PER_S, a, sizeof a);
            pg_ts_format(g->plan.end_s * PG_NS_PER_S, b, sizeof b);
            int rn = snprintf(range, sizeof range, "%s/%s", a, b);
            PG_FMT_FITS(rn, sizeof range);
        }
        f[n++] = PG_LF_S("tenant", g->tenant ? g->tenant->name : NULL);
        f[n++] = PG_LF_S("group", group[0] ? group : NULL);
        f[n++] = PG_LF_S("range", range[0] ? range : NULL);
        f[n++] = PG_LF_I("buckets", g->plan.n);
        f[n++] = PG_LF_S("cache", cache_names[cache]);
        f[n++] = PG_LF_I("hits", g->hits);
        f[n++] = PG_LF_I("upstream_calls", g->fetched);
        f[n++] = PG_LF_I("coalesced", g->coalesced);
        f[n++] = PG_LF_S("trace_id", g->origin.trace[0] ? g->origin.trace : NULL);
    }
    f[n++] = PG_LF_S("client_gone", info->client_gone ? "1" : NULL);
    PG_ASSERT(n <= PG_ARRAY_LEN(f));
    pg_log_fields(PG_LOG_INFO, "access", f, n);
}

