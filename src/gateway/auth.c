/*
 * auth.c: authentication and admission of tenants (auth.mode = sigv4): the request's SigV4
 * signature against the tenants' keys, then the tenant's quota and group patterns. The tenant's
 * slot becomes the request's flow in the upstream's fair queue.
 */
#include "gp.h"
#include "profgate/log.h"
#include "profgate/sigv4.h"

#include <stdio.h>
#include <string.h>

static const char *tenant_secret(void *ctx, const char *akid, size_t len)
{
    pg_tenant *t = pg_tenants_by_key(ctx, akid, len);
    return t ? t->secret : NULL;
}

/* auth.mode = sigv4: the request's signature against the tenants' keys. Answers the failure in
 * the AWS format and returns NULL, or returns the tenant. Signatures are dated by the client's
 * real clock, whatever a test clock says "now" is for the data. */
pg_tenant *gw_authenticate(pg_gateway *gw, pg_http_req *req)
{
    /* Signed for this gateway: its region (the upstream's, as clients configure it for AWS) and,
     * when server.hostnames lists them, one of its names. */
    pg_sigv4_verify_cfg vc = {.service = "codeguru-profiler", .region = gw->region,
                              .hosts = gw->d.cfg->server_hostnames[0] ? gw->d.cfg->server_hostnames : NULL,
                              .max_skew_ns = gw->d.cfg->auth_max_skew_ms * PG_NS_PER_MS, .secret_for = tenant_secret,
                              .ctx = gw->d.tenants};
    char why[256], akid[129];
    pg_sigv4_result r = pg_sigv4_verify(&vc, pg_http_req_head(req), pg_realtime_ns(), why, sizeof why, akid);
    if (r == PG_SIGV4_OK)
        return pg_tenants_by_key(gw->d.tenants, akid, strlen(akid));
    static const pg_m_auth reason[] = {
        [PG_SIGV4_MISSING] = PG_MA_MISSING,         [PG_SIGV4_MALFORMED] = PG_MA_MALFORMED,
        [PG_SIGV4_UNKNOWN_KEY] = PG_MA_UNKNOWN_KEY, [PG_SIGV4_BAD_SCOPE] = PG_MA_BAD_SCOPE,
        [PG_SIGV4_BAD_HEADERS] = PG_MA_BAD_HEADERS, [PG_SIGV4_EXPIRED] = PG_MA_EXPIRED,
        [PG_SIGV4_MISMATCH] = PG_MA_BAD_SIGNATURE,
    };
    gw->m.auth_failures[reason[r]]++;
    char shown[64];
    pg_log(PG_LOG_INFO, "rid=%s signature check failed for key '%s': %s", pg_http_req_id(req),
           pg_printable(akid, strlen(akid), shown, sizeof shown), why);
    pg_apierr e;
    pg_apierr_set(&e, pg_sigv4_error_kind(r), "%s", why);
    pg_http_respond_error(req, &e);
    return NULL;
}

/* The request id, and the client's X-Amzn-Trace-Id when it is a plausible one (printable ASCII,
 * no spaces, short): it is forwarded upstream, so nothing else is. */
void gw_origin_of(const pg_http_req *req, pg_up_origin *o)
{
    int n = snprintf(o->rid, sizeof o->rid, "%s", pg_http_req_id(req));
    PG_FMT_FITS(n, sizeof o->rid);
    o->trace[0] = '\0';
    size_t len = 0;
    const char *v = pg_http_req_header(req, "x-amzn-trace-id", &len);
    if (v == NULL || len == 0 || len >= sizeof o->trace)
        return;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
            return;
    memcpy(o->trace, v, len);
    o->trace[len] = '\0';
}

/* Quota and group access of a signed request for operation op on group (NULL: an operation that
 * names none); answers and returns false when refused; on success sets the origin's flow (the
 * tenant's share of the upstream queue). */
bool gw_admit(pg_gateway *gw, pg_http_req *req, pg_tenant *t, const char *op, const char *group, pg_up_origin *o)
{
    pg_apierr e;
    int64_t now = pg_monotonic_ns();
    if (!pg_tenant_take(t, now)) {
        t->throttled++;
        pg_apierr_set(&e, PG_AE_THROTTLING, "Rate exceeded");
        /* The tenant's next token: exactly when a retry will pass its quota. */
        e.retry_after_ms = (pg_tbucket_wait_ns(&t->quota, now, 1) + PG_NS_PER_MS - 1) / PG_NS_PER_MS;
        pg_http_respond_error(req, &e);
        return false;
    }
    if (group != NULL && !pg_tenant_may_read(t, group)) {
        t->denied++;
        gw->m.auth_failures[PG_MA_ACCESS_DENIED]++;
        pg_apierr_set(&e, PG_AE_ACCESS_DENIED,
                      "Tenant %s (%s) is not authorized to perform: codeguru-profiler:%s on resource: "
                      "profilingGroup/%s",
                      t->name, t->access_key, op, group);
        pg_http_respond_error(req, &e);
        return false;
    }
    o->flow = (uint8_t)(pg_tenant_slot(gw->d.tenants, t) + 1);
    return true;
}

bool gp_admit(gpreq *g)
{
    return gw_admit(g->gw, g->req, g->tenant, "GetProfile", g->r.group, &g->origin);
}
