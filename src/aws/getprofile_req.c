/*
 * getprofile_req.c: GetProfile request validation. Messages follow the service's
 * "1 validation error detected: Value '...' at '...' failed to satisfy constraint: ..." form so
 * that clients see the same text whether they talk to AWS or to profgate. Values echoed back are
 * shortened and reduced to printable ASCII so an error body can never carry invalid UTF-8.
 */
#include "profgate/getprofile_req.h"
#include "profgate/http_parse.h"
#include "profgate/iso8601.h"

#include <stdio.h>
#include <string.h>

const char *pg_format_content_type(pg_format f)
{
    switch (f) {
    case PG_FMT_JSON: return "application/json";
    case PG_FMT_COLLAPSED: return "text/plain; charset=utf-8";
    case PG_FMT_PPROF: return "application/octet-stream"; /* gzip-compressed profile.proto, as pprof serves it */
    case PG_FMT_SPEEDSCOPE: return "application/json";
    case PG_FMT_ION: break;
    }
    return "application/x-amzn-ion";
}

/* Values echoed into messages are shortened and made printable, so an error body never carries
 * invalid UTF-8 or a client's megabyte back to it. */
/* A client's value in a message: as sent (UTF-8 kept, escaped when the JSON is written). */
static const char *echo(const char *s, size_t len, char out[80])
{
    return pg_utf8_echo(s, len, out, 72);
}

static int invalid(pg_apierr *err, const char *field, const char *val, size_t vlen, const char *constraint)
{
    char e[80];
    pg_apierr_set(err, PG_AE_VALIDATION,
                  "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s",
                  echo(val, vlen, e), field, constraint);
    return PG_EINVAL;
}

int pg_accept_parse(const char *accept, size_t len, pg_format *out, pg_apierr *err)
{
    if (accept == NULL) {
        *out = PG_FMT_ION;
        return PG_OK;
    }
    size_t pos = 0;
    pg_slice it;
    double q;
    /* Media ranges in order; one weighted 0 is "not this one". */
    while (pg_http_list_next(accept, len, &pos, &it, &q)) {
        if (q <= 0)
            continue;
        const char *m = it.p;
        size_t mlen = it.len;
        if (pg_strieq(m, mlen, "application/json")) {
            *out = PG_FMT_JSON;
            return PG_OK;
        }
        if (pg_strieq(m, mlen, "application/x-amzn-ion") || pg_strieq(m, mlen, "*/*") ||
            pg_strieq(m, mlen, "application/*")) {
            *out = PG_FMT_ION;
            return PG_OK;
        }
    }
    if (len == 0) {
        /* An empty Accept header accepts nothing in particular: the default format. */
        *out = PG_FMT_ION;
        return PG_OK;
    }
    char e[80];
    pg_apierr_set(err, PG_AE_VALIDATION,
                  "Accept header '%s' is not supported; accepted values are application/json and "
                  "application/x-amzn-ion (the default)",
                  echo(accept, len, e));
    return PG_EINVAL;
}

int pg_group_validate(const char *name, size_t len, pg_apierr *err)
{
    if (len < 1)
        return invalid(err, "profilingGroupName", name, len, "Member must have length greater than or equal to 1");
    if (len > PG_GROUP_MAX)
        return invalid(err, "profilingGroupName", name, len, "Member must have length less than or equal to 255");
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok)
            return invalid(err, "profilingGroupName", name, len,
                           "Member must satisfy regular expression pattern: ^[\\w-]+$");
    }
    return PG_OK;
}

/* The parameters we know, in the order they are reported. */
enum { P_START, P_END, P_PERIOD, P_MAXDEPTH, P_COUNT };
static const char *const param_names[P_COUNT] = {"startTime", "endTime", "period", "maxDepth"};

/* Decoded values are short by contract; anything longer than this fails its length check. */
#define VALUE_MAX 128

typedef struct {
    bool seen[P_COUNT];
    char val[P_COUNT][VALUE_MAX];
    size_t len[P_COUNT];
    bool too_long[P_COUNT];
} params;

static int collect(pg_slice query, params *ps, pg_apierr *err)
{
    pg_qparam qp[PG_QUERY_PARAMS_MAX];
    int n = pg_query_split(query, qp, PG_QUERY_PARAMS_MAX);
    if (n < 0) {
        pg_apierr_set(err, PG_AE_VALIDATION, "Too many query parameters (at most %d)", PG_QUERY_PARAMS_MAX);
        return PG_EINVAL;
    }
    memset(ps, 0, sizeof *ps);
    for (int i = 0; i < n; i++) {
        char key[32];
        size_t klen;
        if (qp[i].key.len >= 3 * sizeof key)
            continue; /* longer than any parameter we know, even fully encoded */
        char kbuf[3 * sizeof key];
        if (pg_pct_decode(qp[i].key, kbuf, &klen) != PG_OK) {
            pg_apierr_set(err, PG_AE_VALIDATION, "Malformed percent-encoding in a query parameter name");
            return PG_EINVAL;
        }
        if (klen >= sizeof key)
            continue;
        memcpy(key, kbuf, klen);
        int p = -1;
        for (int k = 0; k < P_COUNT; k++)
            if (klen == strlen(param_names[k]) && memcmp(key, param_names[k], klen) == 0)
                p = k;
        if (p < 0)
            continue; /* the service ignores parameters it does not model */
        if (ps->seen[p]) {
            pg_apierr_set(err, PG_AE_VALIDATION, "Query parameter '%s' is given more than once", param_names[p]);
            return PG_EINVAL;
        }
        ps->seen[p] = true;
        if (qp[i].val.len > 3 * (VALUE_MAX - 1)) {
            ps->too_long[p] = true;
            continue;
        }
        char vbuf[3 * VALUE_MAX];
        size_t vlen;
        if (pg_pct_decode(qp[i].val, vbuf, &vlen) != PG_OK) {
            pg_apierr_set(err, PG_AE_VALIDATION, "Malformed percent-encoding in query parameter '%s'", param_names[p]);
            return PG_EINVAL;
        }
        if (vlen >= VALUE_MAX) {
            ps->too_long[p] = true;
            continue;
        }
        memcpy(ps->val[p], vbuf, vlen);
        ps->len[p] = vlen;
    }
    return PG_OK;
}

static int parse_ts(const params *ps, int p, int64_t *out, pg_apierr *err)
{
    char why[96], constraint[200];
    if (ps->too_long[p])
        return invalid(err, param_names[p], "", 0, "Member must be an ISO 8601 timestamp (value too long)");
    if (pg_ts_parse(ps->val[p], ps->len[p], out, why, sizeof why) != PG_OK) {
        snprintf(constraint, sizeof constraint, "Member must be an ISO 8601 timestamp such as 2020-06-01T13:00:00Z (%s)", why);
        return invalid(err, param_names[p], ps->val[p], ps->len[p], constraint);
    }
    return PG_OK;
}

static int parse_period(const params *ps, int64_t *out, pg_apierr *err)
{
    char why[128], constraint[240];
    if (ps->too_long[P_PERIOD] || ps->len[P_PERIOD] > PG_PERIOD_TEXT_MAX)
        return invalid(err, "period", ps->val[P_PERIOD], ps->len[P_PERIOD], "Member must have length less than or equal to 64");
    if (ps->len[P_PERIOD] < 1)
        return invalid(err, "period", "", 0, "Member must have length greater than or equal to 1");
    if (pg_dur_parse(ps->val[P_PERIOD], ps->len[P_PERIOD], out, why, sizeof why) != PG_OK) {
        snprintf(constraint, sizeof constraint, "Member must be an ISO 8601 duration such as PT1H or P1D (%s)", why);
        return invalid(err, "period", ps->val[P_PERIOD], ps->len[P_PERIOD], constraint);
    }
    if (*out <= 0)
        return invalid(err, "period", ps->val[P_PERIOD], ps->len[P_PERIOD], "Member must be a positive duration");
    return PG_OK;
}

static int parse_max_depth(const params *ps, int *out, pg_apierr *err)
{
    const char *v = ps->val[P_MAXDEPTH];
    size_t len = ps->len[P_MAXDEPTH];
    if (ps->too_long[P_MAXDEPTH])
        return invalid(err, "maxDepth", "", 0, "Member must be an integer");
    if (len == 0)
        return invalid(err, "maxDepth", v, len, "Member must be an integer");
    size_t i = 0;
    bool neg = false;
    if (v[0] == '-' || v[0] == '+') {
        neg = v[0] == '-';
        i = 1;
    }
    if (i == len)
        return invalid(err, "maxDepth", v, len, "Member must be an integer");
    int64_t n = 0;
    for (; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return invalid(err, "maxDepth", v, len, "Member must be an integer");
        if (n < INT64_C(1000000000000))
            n = n * 10 + (v[i] - '0'); /* saturates well above the bound, never overflows */
    }
    if (neg && n > 0)
        n = -n;
    if (n < 1)
        return invalid(err, "maxDepth", v, len, "Member must have value greater than or equal to 1");
    if (n > PG_MAX_DEPTH_MAX)
        return invalid(err, "maxDepth", v, len, "Member must have value less than or equal to 10000");
    *out = (int)n;
    return PG_OK;
}

static int check_combination(const params *ps, pg_apierr *err)
{
    bool s = ps->seen[P_START], e = ps->seen[P_END], p = ps->seen[P_PERIOD];
    int given = s + e + p;
    if (given == 1 && p)
        return PG_OK;
    if (given == 2)
        return PG_OK;
    const char *what = given == 3 ? "startTime, endTime and period were all given"
                       : given == 0 ? "none of startTime, endTime and period was given"
                       : s ? "startTime was given without endTime or period"
                           : "endTime was given without startTime or period";
    pg_apierr_set(err, PG_AE_VALIDATION,
                  "Invalid time range: %s. Specify period alone, startTime with period, endTime "
                  "with period, or startTime with endTime",
                  what);
    return PG_EINVAL;
}

int pg_profile_query_parse(pg_slice query, pg_getprofile_req *out, pg_apierr *err)
{
    params ps;
    if (collect(query, &ps, err) != PG_OK || check_combination(&ps, err) != PG_OK)
        return PG_EINVAL;
    out->has_start = ps.seen[P_START];
    out->has_end = ps.seen[P_END];
    out->has_period = ps.seen[P_PERIOD];
    out->start_ns = out->end_ns = out->period_ns = 0;
    out->max_depth = 0;
    if (out->has_start && parse_ts(&ps, P_START, &out->start_ns, err) != PG_OK)
        return PG_EINVAL;
    if (out->has_end && parse_ts(&ps, P_END, &out->end_ns, err) != PG_OK)
        return PG_EINVAL;
    if (out->has_period && parse_period(&ps, &out->period_ns, err) != PG_OK)
        return PG_EINVAL;
    if (ps.seen[P_MAXDEPTH] && parse_max_depth(&ps, &out->max_depth, err) != PG_OK)
        return PG_EINVAL;
    return PG_OK;
}

/* The path's group, decoded and validated; the service checks it before the query. */
static int parse_group(pg_slice raw_group, pg_getprofile_req *out, pg_apierr *err)
{
    char gbuf[3 * (PG_GROUP_MAX + 1)];
    size_t glen;
    if (raw_group.len >= sizeof gbuf)
        return invalid(err, "profilingGroupName", raw_group.p, raw_group.len,
                       "Member must have length less than or equal to 255");
    if (pg_pct_decode(raw_group, gbuf, &glen) != PG_OK) {
        pg_apierr_set(err, PG_AE_VALIDATION, "Malformed percent-encoding in the profiling group name");
        return PG_EINVAL;
    }
    if (pg_group_validate(gbuf, glen, err) != PG_OK)
        return PG_EINVAL;
    memcpy(out->group, gbuf, glen);
    out->group[glen] = '\0';
    out->group_len = glen;
    return PG_OK;
}

int pg_getprofile_parse(pg_slice raw_group, pg_slice query, const char *accept, size_t accept_len,
                        pg_getprofile_req *out, pg_apierr *err)
{
    memset(out, 0, sizeof *out);
    if (parse_group(raw_group, out, err) != PG_OK)
        return PG_EINVAL;
    if (pg_profile_query_parse(query, out, err) != PG_OK)
        return PG_EINVAL;
    return pg_accept_parse(accept, accept_len, &out->format, err);
}

bool pg_counter_name_ok(const char *s, size_t len)
{
    bool ok = len > 0 && len <= PG_COUNTER_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
             s[i] == '_';
    return ok;
}

/* counter=, when given: a counter's name. */
static int parse_counter(pg_slice query, pg_getprofile_req *out, pg_apierr *err)
{
    char v[PG_COUNTER_MAX + 1];
    bool bad = false;
    if (pg_query_param(query, "counter", v, sizeof v, &bad)) {
        size_t n = bad ? 0 : strlen(v);
        if (!pg_counter_name_ok(v, n)) {
            pg_apierr_set(err, PG_AE_VALIDATION,
                          "counter must be a counter's name (letters, digits and '_', at most %d), such as WALL_TIME",
                          PG_COUNTER_MAX);
            return PG_EINVAL;
        }
        memcpy(out->counter, v, n + 1);
    }
    return PG_OK;
}

int pg_view_parse(pg_slice raw_group, pg_slice query, pg_getprofile_req *out, pg_apierr *err)
{
    if (pg_getprofile_parse(raw_group, query, NULL, 0, out, err) != PG_OK)
        return PG_EINVAL;
    static const struct {
        const char *name;
        pg_format f;
    } formats[] = {{"json", PG_FMT_JSON},
                   {"ion", PG_FMT_ION},
                   {"collapsed", PG_FMT_COLLAPSED},
                   {"pprof", PG_FMT_PPROF},
                   {"speedscope", PG_FMT_SPEEDSCOPE}};
    char v[PG_COUNTER_MAX + 1];
    bool bad = false;
    out->format = PG_FMT_JSON;
    if (pg_query_param(query, "format", v, sizeof v, &bad)) {
        size_t i = 0;
        while (!bad && i < PG_ARRAY_LEN(formats) && strcmp(v, formats[i].name) != 0)
            i++;
        if (bad || i == PG_ARRAY_LEN(formats)) {
            pg_apierr_set(err, PG_AE_VALIDATION, "format must be one of json, ion, collapsed, pprof, speedscope");
            return PG_EINVAL;
        }
        out->format = formats[i].f;
    }
    return parse_counter(query, out, err);
}

/* One range of the diff route: "START/END", two timestamps. */
static int parse_interval(pg_slice query, const char *name, pg_getprofile_req *out, pg_apierr *err)
{
    char v[2 * VALUE_MAX], why[96];
    bool bad = false;
    if (!pg_query_param(query, name, v, sizeof v, &bad)) {
        pg_apierr_set(err, PG_AE_VALIDATION,
                      "%s is required: START/END, two ISO 8601 timestamps such as "
                      "2026-11-30T00:00:00Z/2026-12-01T00:00:00Z",
                      name);
        return PG_EINVAL;
    }
    const char *slash = bad ? NULL : strchr(v, '/');
    if (slash == NULL) {
        pg_apierr_set(err, PG_AE_VALIDATION, "%s must be START/END, two ISO 8601 timestamps such as "
                      "2026-11-30T00:00:00Z/2026-12-01T00:00:00Z", name);
        return PG_EINVAL;
    }
    size_t slen = (size_t)(slash - v), elen = strlen(slash + 1);
    if (pg_ts_parse(v, slen, &out->start_ns, why, sizeof why) != PG_OK ||
        pg_ts_parse(slash + 1, elen, &out->end_ns, why, sizeof why) != PG_OK) {
        pg_apierr_set(err, PG_AE_VALIDATION, "%s must be START/END, two ISO 8601 timestamps (%s)", name, why);
        return PG_EINVAL;
    }
    out->has_start = out->has_end = true;
    return PG_OK;
}

int pg_diff_parse(pg_slice raw_group, pg_slice query, pg_getprofile_req *base, pg_getprofile_req *head,
                  pg_apierr *err)
{
    memset(base, 0, sizeof *base);
    if (parse_group(raw_group, base, err) != PG_OK)
        return PG_EINVAL;
    static const char *const other[] = {"startTime", "endTime", "period"};
    char v[8];
    bool bad;
    for (size_t i = 0; i < PG_ARRAY_LEN(other); i++)
        if (pg_query_param(query, other[i], v, sizeof v, &bad)) {
            pg_apierr_set(err, PG_AE_VALIDATION, "The diff route takes base and head ranges, not %s", other[i]);
            return PG_EINVAL;
        }
    base->format = PG_FMT_JSON;
    if (parse_counter(query, base, err) != PG_OK)
        return PG_EINVAL;
    *head = *base;
    if (parse_interval(query, "base", base, err) != PG_OK || parse_interval(query, "head", head, err) != PG_OK)
        return PG_EINVAL;
    return PG_OK;
}
