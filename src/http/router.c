/*
 * router.c: segment-wise path matching. Literal segments are compared after percent-decoding
 * so that an encoded spelling of a literal routes the same way; captured segments stay raw
 * because their decoding rules (and errors) belong to the operation.
 */
#include "profgate/router.h"

#include <string.h>

/* Does the raw segment decode to exactly lit (of length llen)? */
static bool seg_equals(pg_slice raw, const char *lit, size_t llen)
{
    if (memchr(raw.p, '%', raw.len) == NULL)
        return raw.len == llen && memcmp(raw.p, lit, llen) == 0;
    if (raw.len > 3 * 64)
        return false;
    char buf[3 * 64];
    size_t n;
    if (pg_pct_decode(raw, buf, &n) != PG_OK)
        return false;
    return n == llen && memcmp(buf, lit, llen) == 0;
}

static bool path_matches(const char *pattern, pg_slice path, pg_route_result *out)
{
    out->nparams = 0;
    const char *pp = pattern;
    size_t i = 0;
    if (path.len == 0 || path.p[0] != '/')
        return false;
    while (*pp == '/') {
        if (i >= path.len || path.p[i] != '/')
            return false;
        pp++;
        i++;
        const char *pend = strchr(pp, '/');
        size_t plen = pend ? (size_t)(pend - pp) : strlen(pp);
        size_t j = i;
        while (j < path.len && path.p[j] != '/')
            j++;
        pg_slice seg = {path.p + i, j - i};
        if (plen == 2 && pp[0] == '{' && pp[1] == '}') {
            if (out->nparams == PG_ROUTE_PARAMS_MAX)
                return false;
            out->params[out->nparams++] = seg;
        } else if (!seg_equals(seg, pp, plen)) {
            return false;
        }
        pp += plen;
        i = j;
    }
    return *pp == '\0' && i == path.len;
}

void pg_route_match(const pg_route *table, size_t n, const char *method, size_t method_len, pg_slice path,
                    pg_route_result *out)
{
    memset(out, 0, sizeof *out);
    out->status = 404;
    out->id = -1;
    for (size_t k = 0; k < n; k++) {
        pg_route_result r;
        if (!path_matches(table[k].path, path, &r))
            continue;
        /* Methods are case-sensitive (RFC 9110, 9.1). */
        if (method_len == strlen(table[k].method) && memcmp(method, table[k].method, method_len) == 0) {
            r.id = table[k].id;
            r.status = 200;
            r.allow = NULL;
            *out = r;
            return;
        }
        out->status = 405;
        out->allow = table[k].method;
    }
}

void pg_route_head(const pg_route *table, size_t n, const pg_http_head *h, pg_route_result *out, pg_slice *query)
{
    pg_slice path;
    pg_target_split(h->target, h->target_len, &path, query);
    pg_route_match(table, n, h->method, h->method_len, path, out);
}

void pg_route_error(const pg_route_result *m, const pg_http_head *h, pg_apierr *err)
{
    PG_ASSERT(m->status == 404 || m->status == 405);
    pg_slice path, query;
    pg_target_split(h->target, h->target_len, &path, &query);
    char method[24], where[208];
    pg_printable(h->method, h->method_len, method, sizeof method);
    pg_printable(path.p, path.len, where, sizeof where);
    if (m->status == 404)
        pg_apierr_set(err, PG_AE_UNKNOWN_OPERATION, "No operation matches %s %s", method, where);
    else
        pg_apierr_set(err, PG_AE_METHOD_NOT_ALLOWED, "Method %s is not allowed on %s; use %s", method, where, m->allow);
}
