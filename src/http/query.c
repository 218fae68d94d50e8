/*
 * query.c: request-target splitting and percent-decoding. Reads only inside the given slices.
 */
#include "profgate/query.h"

#include <string.h>
#include <strings.h>

void pg_target_split(const char *target, size_t len, pg_slice *path, pg_slice *query)
{
    const char *hash = memchr(target, '#', len);
    if (hash != NULL)
        len = (size_t)(hash - target);
    const char *q = memchr(target, '?', len);
    path->p = target;
    path->len = q ? (size_t)(q - target) : len;
    query->p = q ? q + 1 : target + len;
    query->len = q ? len - path->len - 1 : 0;
}

int pg_query_split(pg_slice query, pg_qparam *out, size_t max)
{
    size_t n = 0, i = 0;
    while (i < query.len) {
        size_t j = i;
        while (j < query.len && query.p[j] != '&')
            j++;
        if (j > i) {
            if (n == max)
                return PG_ELIMIT;
            const char *piece = query.p + i;
            size_t plen = j - i;
            const char *eq = memchr(piece, '=', plen);
            out[n].key.p = piece;
            out[n].key.len = eq ? (size_t)(eq - piece) : plen;
            out[n].val.p = eq ? eq + 1 : piece + plen;
            out[n].val.len = eq ? plen - out[n].key.len - 1 : 0;
            out[n].has_eq = eq != NULL;
            n++;
        }
        i = j + 1;
    }
    return (int)n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pg_pct_decode(pg_slice in, char *out, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.p[i];
        if (c == '%') {
            if (in.len - i < 3)
                return PG_EINVAL;
            int hi = hexval(in.p[i + 1]), lo = hexval(in.p[i + 2]);
            if (hi < 0 || lo < 0)
                return PG_EINVAL;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0')
            return PG_EINVAL;
        out[o++] = c;
    }
    *outlen = o;
    return PG_OK;
}

void pg_target_redact(const char *target, size_t len, char *out, size_t outlen)
{
    char t[1024 + 16];
    size_t o;
    const char *end = target + PG_MIN(len, (size_t)1024);
    const char *q = memchr(target, '?', (size_t)(end - target));
    o = (size_t)((q ? q : end) - target);
    memcpy(t, target, o);
    /* Each parameter starts at its '?' or '&'; at most 1024 bytes go in, each gains at most 8. */
    for (const char *a = q; a != NULL && a < end;) {
        const char *amp = memchr(a + 1, '&', (size_t)(end - a - 1));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(a + 1, '=', (size_t)(stop - a - 1));
        bool secret = eq != NULL && (size_t)(eq - a - 1) >= 6 && strncasecmp(a + 1, "X-Amz-", 6) == 0;
        size_t take = secret ? (size_t)(eq + 1 - a) : (size_t)(stop - a);
        if (o + take + 8 > sizeof t)
            break;
        memcpy(t + o, a, take);
        o += take;
        if (secret) {
            memcpy(t + o, "REDACTED", 8);
            o += 8;
        }
        a = amp;
    }
    pg_printable(t, o, out, outlen);
}

bool pg_query_param(pg_slice query, const char *name, char *out, size_t outlen, bool *bad)
{
    pg_qparam qp[PG_QUERY_PARAMS_MAX];
    int n = pg_query_split(query, qp, PG_QUERY_PARAMS_MAX);
    *bad = false;
    for (int i = 0; i < n; i++) {
        if (qp[i].key.len != strlen(name) || memcmp(qp[i].key.p, name, qp[i].key.len) != 0)
            continue;
        size_t len;
        if (qp[i].val.len < outlen) { /* decoding only shrinks: straight into out */
            if (pg_pct_decode(qp[i].val, out, &len) != PG_OK) {
                *bad = true;
                return true;
            }
            out[len] = '\0';
            return true;
        }
        char buf[512];
        if (qp[i].val.len >= sizeof buf || pg_pct_decode(qp[i].val, buf, &len) != PG_OK || len >= outlen) {
            *bad = true;
            return true;
        }
        memcpy(out, buf, len);
        out[len] = '\0';
        return true;
    }
    return false;
}
