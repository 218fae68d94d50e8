/*
 * simapi.c: what the simulator answers to the service's read operations besides GetProfile and
 * ListProfileTimes, over a fixed world: the groups given with --groups, each with a description,
 * policy, notification channels, tags, recommendations and findings reports that follow from the
 * seed and the group's name, so two runs (and a gateway and the simulator) agree byte for byte.
 * Pure: "now" comes in with the world.
 */
#include "profgate/simapi.h"
#include "profgate/getprofile_req.h"
#include "profgate/iso8601.h"
#include "profgate/jsonw.h"
#include "profgate/listtimes.h"
#include "profgate/planner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define ACCOUNT "123456789012"
#define NAMES_MAX 1000

/* One query parameter, decoded; false when absent (or undecodable, which the callers treat alike). */
static bool qparam(pg_slice query, const char *name, char *out, size_t outlen)
{
    pg_qparam qp[PG_QUERY_PARAMS_MAX];
    int n = pg_query_split(query, qp, PG_QUERY_PARAMS_MAX);
    for (int i = 0; i < n; i++) {
        size_t len;
        char buf[512];
        if (qp[i].key.len != strlen(name) || memcmp(qp[i].key.p, name, qp[i].key.len) != 0)
            continue;
        if (qp[i].val.len >= sizeof buf || pg_pct_decode(qp[i].val, buf, &len) != PG_OK || len >= outlen)
            return false;
        memcpy(out, buf, len);
        out[len] = '\0';
        return true;
    }
    return false;
}

static uint64_t ghash(const pg_simapi_world *w, const char *group, const char *what)
{
    char k[PG_GROUP_MAX + 96];
    int n = snprintf(k, sizeof k, "%llu|%s|%s", (unsigned long long)w->seed, group, what);
    return pg_hash64(k, (size_t)PG_MIN((size_t)n, sizeof k - 1));
}

static int ts_json(pg_buf *b, int64_t ns)
{
    char t[PG_TS_FMT_MAX];
    pg_ts_format(ns, t, sizeof t);
    return pg_buf_printf(b, "\"%s\"", t);
}

/* The world's groups, sorted, into names (at most NAMES_MAX); their count. */
static size_t world_groups(const pg_simapi_world *w, char names[][PG_GROUP_MAX + 1])
{
    size_t n = 0;
    for (const char *p = w->groups; p != NULL && *p && n < NAMES_MAX;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len > 0 && len <= PG_GROUP_MAX) {
            memcpy(names[n], p, len);
            names[n++][len] = '\0';
        }
        if (c == NULL)
            break;
        p = c + 1;
    }
    qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    return n;
}

static int arn(pg_buf *b, const pg_simapi_world *w, const char *group)
{
    return pg_buf_printf(b, "\"arn:aws:codeguru-profiler:%s:" ACCOUNT ":profilingGroup/%s\"", w->region, group);
}

static int tags(pg_buf *b, const char *group)
{
    /* The team is the name up to its first '-'. */
    const char *dash = strchr(group, '-');
    int rc = pg_buf_puts(b, "{\"team\":");
    rc = rc ?: pg_json_str(b, group, dash ? (size_t)(dash - group) : strlen(group));
    return rc ?: pg_buf_puts(b, "}");
}

static int describe(pg_buf *b, const pg_simapi_world *w, const char *group)
{
    uint64_t h = ghash(w, group, "platform");
    int64_t now_s = pg_floor_div(w->now_ns, PG_NS_PER_S);
    int rc = pg_buf_puts(b, "{\"agentOrchestrationConfig\":{\"profilingEnabled\":true},\"arn\":");
    rc = rc ?: arn(b, w, group);
    rc = rc ?: pg_buf_printf(b, ",\"computePlatform\":\"%s\",\"createdAt\":", h % 3 == 0 ? "AWSLambda" : "Default");
    rc = rc ?: ts_json(b, w->data_since_s * PG_NS_PER_S);
    rc = rc ?: pg_buf_puts(b, ",\"name\":");
    rc = rc ?: pg_json_cstr(b, group);
    rc = rc ?: pg_buf_puts(b, ",\"profilingStatus\":{\"latestAgentOrchestratedAt\":");
    rc = rc ?: ts_json(b, (now_s / 60 * 60) * PG_NS_PER_S);
    rc = rc ?: pg_buf_puts(b, ",\"latestAgentProfileReportedAt\":");
    rc = rc ?: ts_json(b, (now_s / 60 * 60) * PG_NS_PER_S);
    rc = rc ?: pg_buf_puts(b, ",\"latestAggregatedProfile\":{\"period\":\"PT5M\",\"start\":");
    rc = rc ?: ts_json(b, (now_s / 300 * 300) * PG_NS_PER_S);
    rc = rc ?: pg_buf_puts(b, "}},\"tags\":");
    rc = rc ?: tags(b, group);
    rc = rc ?: pg_buf_puts(b, ",\"updatedAt\":");
    rc = rc ?: ts_json(b, (w->data_since_s + 86400) * PG_NS_PER_S);
    return rc ?: pg_buf_puts(b, "}");
}

static int invalid(pg_apierr *err, const char *msg)
{
    pg_apierr_set(err, PG_AE_VALIDATION, "%s", msg);
    return 400;
}

/* maxResults (1..1000, default 100) and an "i<offset>" nextToken; 0 or a status with err. */
static int paging(pg_slice query, long *max, long *offset, pg_apierr *err)
{
    char v[80];
    *max = PG_LT_DEFAULT_RESULTS;
    *offset = 0;
    if (qparam(query, "maxResults", v, sizeof v)) {
        char *e;
        *max = strtol(v, &e, 10);
        if (*e || e == v || *max < 1 || *max > 1000)
            return invalid(err, "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: "
                                "Member must have value between 1 and 1000");
    }
    if (qparam(query, "nextToken", v, sizeof v)) {
        char *e;
        *offset = v[0] == 'i' ? strtol(v + 1, &e, 10) : -1;
        if (*offset < 0 || v[0] != 'i' || *e)
            return invalid(err, "The nextToken is not valid");
    }
    return 0;
}

/* startTime and endTime, both required, end after start. */
static int range(pg_slice query, int64_t *start, int64_t *end, pg_apierr *err)
{
    char s[80], e[80];
    if (!qparam(query, "startTime", s, sizeof s) || !qparam(query, "endTime", e, sizeof e))
        return invalid(err, "startTime and endTime are required");
    if (pg_ts_parse(s, strlen(s), start, NULL, 0) != PG_OK || pg_ts_parse(e, strlen(e), end, NULL, 0) != PG_OK)
        return invalid(err, "startTime and endTime must be ISO 8601 timestamps");
    if (*end <= *start)
        return invalid(err, "endTime must be after startTime");
    return 0;
}

static int list_groups(const pg_simapi_world *w, pg_slice query, pg_buf *b, pg_apierr *err)
{
    long max, off;
    int st = paging(query, &max, &off, err);
    if (st)
        return st;
    char inc[16];
    bool with = qparam(query, "includeDescription", inc, sizeof inc) && strcmp(inc, "true") == 0;
    char (*names)[PG_GROUP_MAX + 1] = malloc(NAMES_MAX * sizeof *names);
    if (names == NULL)
        return 500;
    size_t n = world_groups(w, names);
    size_t first = (size_t)PG_MIN(off, (long)n), last = PG_MIN(n, first + (size_t)max);
    int rc = pg_buf_puts(b, "{");
    if (rc == PG_OK && last < n)
        rc = pg_buf_printf(b, "\"nextToken\":\"i%zu\",", last);
    rc = rc ?: pg_buf_puts(b, "\"profilingGroupNames\":[");
    for (size_t i = first; i < last && rc == PG_OK; i++) {
        rc = i > first ? pg_buf_puts(b, ",") : PG_OK;
        rc = rc ?: pg_json_cstr(b, names[i]);
    }
    rc = rc ?: pg_buf_puts(b, "]");
    if (with) {
        rc = rc ?: pg_buf_puts(b, ",\"profilingGroups\":[");
        for (size_t i = first; i < last && rc == PG_OK; i++) {
            rc = i > first ? pg_buf_puts(b, ",") : PG_OK;
            rc = rc ?: describe(b, w, names[i]);
        }
        rc = rc ?: pg_buf_puts(b, "]");
    }
    rc = rc ?: pg_buf_puts(b, "}");
    free(names);
    return rc == PG_OK ? 200 : 500;
}

static int policy(const pg_simapi_world *w, const char *group, pg_buf *b)
{
    uint64_t h = ghash(w, group, "policy");
    char doc[700];
    int n = snprintf(doc, sizeof doc,
                     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"agentPermissions-statement\",\"Effect\":"
                     "\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::" ACCOUNT ":role/%s-agent\"},\"Action\":["
                     "\"codeguru-profiler:ConfigureAgent\",\"codeguru-profiler:PostAgentProfile\"],\"Resource\":"
                     "\"arn:aws:codeguru-profiler:%s:" ACCOUNT ":profilingGroup/%s\"}]}",
                     group, w->region, group);
    int rc = pg_buf_puts(b, "{\"policy\":");
    rc = rc ?: pg_json_str(b, doc, (size_t)PG_MIN((size_t)n, sizeof doc - 1));
    rc = rc ?: pg_buf_printf(b, ",\"revisionId\":\"%08llx-%04llx-4%03llx-8%03llx-%012llx\"}",
                             (unsigned long long)(h >> 32), (unsigned long long)(h >> 16 & 0xffff),
                             (unsigned long long)(h >> 4 & 0xfff), (unsigned long long)(h & 0xfff),
                             (unsigned long long)(h * 2654435761u & 0xffffffffffffULL));
    return rc == PG_OK ? 200 : 500;
}

static int notifications(const pg_simapi_world *w, const char *group, pg_buf *b)
{
    uint64_t h = ghash(w, group, "channels");
    int rc = pg_buf_puts(b, "{\"notificationConfiguration\":{\"channels\":[");
    if (h % 2 == 0)
        rc = rc ?: pg_buf_printf(b, "{\"eventPublishers\":[\"AnomalyDetection\"],\"id\":\"%016llx\",\"uri\":"
                                    "\"arn:aws:sns:%s:" ACCOUNT ":%s-alerts\"}",
                                 (unsigned long long)h, w->region, group);
    rc = rc ?: pg_buf_puts(b, "]}}");
    return rc == PG_OK ? 200 : 500;
}

static int recommendations(const pg_simapi_world *w, const char *group, pg_slice query, pg_buf *b, pg_apierr *err)
{
    int64_t start, end;
    int st = range(query, &start, &end, err);
    if (st)
        return st;
    uint64_t h = ghash(w, group, "recommendations");
    static const char *const frames[] = {"java.util.HashMap.resize", "java.util.regex.Pattern.compile",
                                         "com.fasterxml.jackson.databind.ObjectMapper.<init>"};
    int rc = pg_buf_puts(b, "{\"anomalies\":[],\"profileEndTime\":");
    rc = rc ?: ts_json(b, end);
    rc = rc ?: pg_buf_puts(b, ",\"profileStartTime\":");
    rc = rc ?: ts_json(b, start);
    rc = rc ?: pg_buf_puts(b, ",\"profilingGroupName\":");
    rc = rc ?: pg_json_cstr(b, group);
    rc = rc ?: pg_buf_puts(b, ",\"recommendations\":[");
    for (unsigned i = 0; i < h % 3 && rc == PG_OK; i++) {
        rc = pg_buf_printf(b, "%s{\"allMatchesCount\":%llu,\"allMatchesSum\":%.1f,\"endTime\":", i ? "," : "",
                           (unsigned long long)(h >> (8 * i) & 0x3f) + 1, (double)(h >> (4 * i) & 0xff) / 10.0);
        rc = rc ?: ts_json(b, end);
        rc = rc ?: pg_buf_printf(b, ",\"pattern\":{\"countersToAggregate\":[\"WALL_TIME\"],\"description\":\"Time "
                                    "spent in %s\",\"id\":\"pattern-%u\",\"name\":\"%s\",\"resolutionSteps\":\"See "
                                    "the documentation\",\"targetFrames\":[[\"%s\"]],\"thresholdPercent\":5.0},"
                                    "\"startTime\":",
                                 frames[i], i + 1, frames[i], frames[i]);
        rc = rc ?: ts_json(b, start);
        rc = rc ?: pg_buf_printf(b, ",\"topMatches\":[{\"frameAddress\":\"%s\",\"targetFramesIndex\":0,"
                                    "\"thresholdBreachValue\":%.1f}]}",
                                 frames[i], 5.0 + (double)(h >> (6 * i) & 0x3f) / 4.0);
    }
    rc = rc ?: pg_buf_puts(b, "]}");
    return rc == PG_OK ? 200 : 500;
}

static int report(pg_buf *b, const pg_simapi_world *w, const char *group, int64_t day_s)
{
    char d[PG_TS_FMT_MAX];
    pg_ts_format(day_s * PG_NS_PER_S, d, sizeof d);
    int rc = pg_buf_printf(b, "{\"id\":\"%016llx\",\"profileEndTime\":",
                           (unsigned long long)ghash(w, group, d));
    rc = rc ?: ts_json(b, (day_s + 86400) * PG_NS_PER_S);
    rc = rc ?: pg_buf_puts(b, ",\"profileStartTime\":");
    rc = rc ?: ts_json(b, day_s * PG_NS_PER_S);
    rc = rc ?: pg_buf_puts(b, ",\"profilingGroupName\":");
    rc = rc ?: pg_json_cstr(b, group);
    return rc ?: pg_buf_printf(b, ",\"totalNumberOfFindings\":%llu}", (unsigned long long)(ghash(w, group, d) % 7));
}

static int findings(const pg_simapi_world *w, const char *group, pg_slice query, pg_buf *b, pg_apierr *err)
{
    int64_t start, end;
    long max, off;
    int st = range(query, &start, &end, err);
    st = st ?: paging(query, &max, &off, err);
    if (st)
        return st;
    /* One daily report per whole day in the range, newest first. */
    int64_t first = pg_ceil_div(pg_ceil_div(start, PG_NS_PER_S), 86400) * 86400;
    int64_t last = pg_floor_div(pg_floor_div(end, PG_NS_PER_S), 86400) * 86400 - 86400;
    int64_t n = last >= first ? PG_MIN((last - first) / 86400 + 1, 1000) : 0;
    int rc = pg_buf_puts(b, "{\"findingsReportSummaries\":[");
    int64_t stop = PG_MIN(n, off + max);
    for (int64_t i = off; i < stop && rc == PG_OK; i++) {
        rc = i > off ? pg_buf_puts(b, ",") : PG_OK;
        rc = rc ?: report(b, w, group, last - i * 86400);
    }
    rc = rc ?: pg_buf_puts(b, "]");
    if (rc == PG_OK && stop < n)
        rc = pg_buf_printf(b, ",\"nextToken\":\"i%lld\"", (long long)stop);
    rc = rc ?: pg_buf_puts(b, "}");
    return rc == PG_OK ? 200 : 500;
}

static int account_summary(const pg_simapi_world *w, pg_slice query, pg_buf *b, pg_apierr *err)
{
    long max, off;
    int st = paging(query, &max, &off, err);
    if (st)
        return st;
    char (*names)[PG_GROUP_MAX + 1] = malloc(NAMES_MAX * sizeof *names);
    if (names == NULL)
        return 500;
    size_t n = world_groups(w, names);
    /* Each group's report of the last whole day. */
    int64_t day = pg_floor_div(pg_floor_div(w->now_ns, PG_NS_PER_S), 86400) * 86400 - 86400;
    size_t first = (size_t)PG_MIN(off, (long)n), last = PG_MIN(n, first + (size_t)max);
    int rc = pg_buf_puts(b, "{\"reportSummaries\":[");
    for (size_t i = first; i < last && rc == PG_OK; i++) {
        rc = i > first ? pg_buf_puts(b, ",") : PG_OK;
        rc = rc ?: report(b, w, names[i], day);
    }
    rc = rc ?: pg_buf_puts(b, "]");
    if (rc == PG_OK && last < n)
        rc = pg_buf_printf(b, ",\"nextToken\":\"i%zu\"", last);
    rc = rc ?: pg_buf_puts(b, "}");
    free(names);
    return rc == PG_OK ? 200 : 500;
}

/* BatchGetFrameMetricData: the requested frame metrics (echoed), one value per resolution step. */
static int frame_metrics(const pg_simapi_world *w, const char *group, pg_slice query, const char *body, size_t blen,
                         pg_buf *b, pg_apierr *err)
{
    char s[80], e[80], res[16] = "PT5M";
    int64_t end = w->now_ns, start = end - 3600 * PG_NS_PER_S;
    if ((qparam(query, "startTime", s, sizeof s) && pg_ts_parse(s, strlen(s), &start, NULL, 0) != PG_OK) ||
        (qparam(query, "endTime", e, sizeof e) && pg_ts_parse(e, strlen(e), &end, NULL, 0) != PG_OK))
        return invalid(err, "startTime and endTime must be ISO 8601 timestamps");
    if (qparam(query, "targetResolution", res, sizeof res) && strcmp(res, "PT5M") != 0 && strcmp(res, "PT1H") != 0 &&
        strcmp(res, "P1D") != 0)
        return invalid(err, "1 validation error detected: Value at 'targetResolution' failed to satisfy constraint: "
                            "Member must satisfy enum value set: [PT5M, PT1H, P1D]");
    if (end <= start)
        return invalid(err, "endTime must be after startTime");
    int64_t step = strcmp(res, "PT5M") == 0 ? 300 : strcmp(res, "PT1H") == 0 ? 3600 : 86400;
    char *text = malloc(blen + 1);
    if (text == NULL)
        return 500;
    memcpy(text, body ? body : "", blen);
    text[blen] = '\0';
    char why[128];
    yajl_val root = yajl_tree_parse(blen ? text : "{}", why, sizeof why);
    free(text);
    const char *path[] = {"frameMetrics", NULL};
    yajl_val fms = root ? yajl_tree_get(root, path, yajl_t_array) : NULL;
    if (root == NULL || (blen && !YAJL_IS_OBJECT(root))) {
        yajl_tree_free(root);
        return invalid(err, "The request body is not valid JSON");
    }
    int64_t first = pg_ceil_div(pg_ceil_div(start, PG_NS_PER_S), step) * step;
    int64_t last = pg_floor_div(end, PG_NS_PER_S);
    int64_t n = last > first ? PG_MIN((last - first + step - 1) / step, 288) : 0;
    int rc = pg_buf_puts(b, "{\"endTime\":");
    rc = rc ?: ts_json(b, end);
    rc = rc ?: pg_buf_puts(b, ",\"endTimes\":[");
    for (int64_t i = 0; i < n && rc == PG_OK; i++) {
        rc = pg_buf_printf(b, "%s{\"value\":", i ? "," : "");
        rc = rc ?: ts_json(b, (first + (i + 1) * step) * PG_NS_PER_S);
        rc = rc ?: pg_buf_puts(b, "}");
    }
    rc = rc ?: pg_buf_puts(b, "],\"frameMetricData\":[");
    size_t nf = fms ? YAJL_GET_ARRAY(fms)->len : 0;
    for (size_t f = 0; f < nf && f < 100 && rc == PG_OK; f++) {
        yajl_val fm = YAJL_GET_ARRAY(fms)->values[f];
        const char *pn[] = {"frameName", NULL}, *pt[] = {"type", NULL}, *ps[] = {"threadStates", NULL};
        yajl_val name = yajl_tree_get(fm, pn, yajl_t_string), type = yajl_tree_get(fm, pt, yajl_t_string);
        yajl_val states = yajl_tree_get(fm, ps, yajl_t_array);
        const char *fname = name ? YAJL_GET_STRING(name) : "";
        rc = pg_buf_printf(b, "%s{\"frameMetric\":{\"frameName\":", f ? "," : "");
        rc = rc ?: pg_json_cstr(b, fname);
        rc = rc ?: pg_buf_puts(b, ",\"threadStates\":[");
        for (size_t k = 0; states && k < YAJL_GET_ARRAY(states)->len && rc == PG_OK; k++) {
            yajl_val sv = YAJL_GET_ARRAY(states)->values[k];
            rc = k ? pg_buf_puts(b, ",") : PG_OK;
            rc = rc ?: pg_json_cstr(b, YAJL_IS_STRING(sv) ? YAJL_GET_STRING(sv) : "");
        }
        rc = rc ?: pg_buf_puts(b, "],\"type\":");
        rc = rc ?: pg_json_cstr(b, type ? YAJL_GET_STRING(type) : "AggregatedRelativeTotalTime");
        rc = rc ?: pg_buf_puts(b, "},\"values\":[");
        for (int64_t i = 0; i < n && rc == PG_OK; i++) {
            char k[PG_GROUP_MAX + 600];
            int kl = snprintf(k, sizeof k, "%s|%s|%lld", group, fname, (long long)(first + i * step));
            uint64_t h = pg_hash64(k, (size_t)PG_MIN((size_t)kl, sizeof k - 1));
            rc = pg_buf_printf(b, "%s%.4f", i ? "," : "", (double)(h % 10000) / 10000.0);
        }
        rc = rc ?: pg_buf_puts(b, "]}");
    }
    yajl_tree_free(root);
    rc = rc ?: pg_buf_printf(b, "],\"resolution\":\"%s\",\"startTime\":", res);
    rc = rc ?: ts_json(b, start);
    rc = rc ?: pg_buf_puts(b, ",\"unprocessedEndTimes\":{}}");
    return rc == PG_OK ? 200 : 500;
}

int pg_simapi_answer(const pg_simapi_world *w, pg_op op, const char *group, pg_slice query, const char *body,
                     size_t blen, pg_buf *out, pg_apierr *err)
{
    PG_ASSERT(op < PG_OP_COUNT && !pg_operations[op].write);
    switch (op) {
    case PG_OP_LIST_PROFILING_GROUPS: return list_groups(w, query, out, err);
    case PG_OP_GET_FINDINGS_REPORT_ACCOUNT_SUMMARY: return account_summary(w, query, out, err);
    case PG_OP_DESCRIBE_PROFILING_GROUP: return describe(out, w, group) == PG_OK ? 200 : 500;
    case PG_OP_GET_POLICY: return policy(w, group, out);
    case PG_OP_GET_NOTIFICATION_CONFIGURATION: return notifications(w, group, out);
    case PG_OP_GET_RECOMMENDATIONS: return recommendations(w, group, query, out, err);
    case PG_OP_LIST_FINDINGS_REPORTS: return findings(w, group, query, out, err);
    case PG_OP_BATCH_GET_FRAME_METRIC_DATA: return frame_metrics(w, group, query, body, blen, out, err);
    case PG_OP_LIST_TAGS_FOR_RESOURCE: {
        int rc = pg_buf_puts(out, "{\"tags\":");
        rc = rc ?: tags(out, group);
        rc = rc ?: pg_buf_puts(out, "}");
        return rc == PG_OK ? 200 : 500;
    }
    default: break;
    }
    PG_UNREACHABLE();
}
