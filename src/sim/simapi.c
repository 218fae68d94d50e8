/*
 * simapi.c: what the simulator answers to the service's operations besides GetProfile and
 * ListProfileTimes, over a world with state: the groups given with --groups (and those created
 * through the API), each with a description, policy, notification channels and tags that start
 * from the seed and the group's name and change with the writes; recommendations, findings
 * reports and frame metrics follow from the seed. Two runs (and a gateway and the simulator)
 * agree byte for byte. No I/O: "now" comes in with each call.
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
#define TAGS_MAX 16
#define PRINCIPALS_MAX 8
#define CHANNELS_MAX 2 /* the service's quota of notification channels per group */

typedef struct sgroup {
    char name[PG_GROUP_MAX + 1];
    bool deleted;
    bool lambda;            /* computePlatform AWSLambda (else Default) */
    bool enabled;           /* agentOrchestrationConfig.profilingEnabled */
    int64_t created_s, updated_s;
    size_t ntags;
    char tags[TAGS_MAX][2][129];
    size_t nprincipals;
    char principals[PRINCIPALS_MAX][256];
    unsigned revision;      /* bumped by each policy change */
    size_t nchannels;
    char channel_id[CHANNELS_MAX][40], channel_uri[CHANNELS_MAX][256];
    unsigned channel_seq;
} sgroup;

struct pg_simworld {
    bool open;   /* no --groups: any name exists (and is materialized on its first write) */
    uint64_t seed;
    int64_t data_since_s;
    char region[64];
    size_t n;
    sgroup *g;   /* NAMES_MAX of them */
};

/* One query parameter, decoded; false when absent or undecodable (the callers treat both alike). */
static bool qparam(pg_slice query, const char *name, char *out, size_t outlen)
{
    bool bad;
    return pg_query_param(query, name, out, outlen, &bad) && !bad;
}

/* A JSON string's text, "" for anything else. */
static const char *str(yajl_val v)
{
    return v != NULL && YAJL_IS_STRING(v) ? v->u.string : "";
}

static uint64_t ghash(const pg_simworld *w, const char *group, const char *what)
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

/* ---- the world */

/* A group as the seed makes it: its state before any write. */
static void derive(const pg_simworld *w, const char *name, sgroup *g)
{
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    uint64_t h = ghash(w, name, "platform");
    g->lambda = h % 3 == 0;
    g->enabled = true;
    g->created_s = w->data_since_s;
    g->updated_s = w->data_since_s + 86400;
    /* The team is the name up to its first '-'. */
    const char *dash = strchr(name, '-');
    size_t tl = dash ? (size_t)(dash - name) : strlen(name);
    g->ntags = 1;
    snprintf(g->tags[0][0], sizeof g->tags[0][0], "team");
    snprintf(g->tags[0][1], sizeof g->tags[0][1], "%.*s", (int)PG_MIN(tl, 128), name);
    g->nprincipals = 1;
    snprintf(g->principals[0], sizeof g->principals[0], "arn:aws:iam::" ACCOUNT ":role/%.200s-agent", name);
    uint64_t c = ghash(w, name, "channels");
    if (c % 2 == 0) {
        g->nchannels = 1;
        snprintf(g->channel_id[0], sizeof g->channel_id[0], "%016llx", (unsigned long long)c);
        snprintf(g->channel_uri[0], sizeof g->channel_uri[0], "arn:aws:sns:%.20s:" ACCOUNT ":%.180s-alerts", w->region,
                 name);
    }
}

static sgroup *stored(const pg_simworld *w, const char *name)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->g[i].name, name) == 0)
            return &w->g[i];
    return NULL;
}

/* The live group by that name: stored, or (open world) derived into tmp; NULL when none. */
static const sgroup *lookup(const pg_simworld *w, const char *name, sgroup *tmp)
{
    const sgroup *g = stored(w, name);
    if (g != NULL)
        return g->deleted ? NULL : g;
    if (!w->open)
        return NULL;
    derive(w, name, tmp);
    return tmp;
}

/* The live group by that name, stored so a write can change it (open world: made on first use). */
static sgroup *for_write(pg_simworld *w, const char *name)
{
    sgroup *g = stored(w, name);
    if (g != NULL)
        return g->deleted ? NULL : g;
    if (!w->open || w->n == NAMES_MAX)
        return NULL;
    derive(w, name, &w->g[w->n]);
    return &w->g[w->n++];
}

pg_simworld *pg_simworld_new(const char *groups, uint64_t seed, int64_t data_since_s, const char *region)
{
    pg_simworld *w = calloc(1, sizeof *w);
    if (w == NULL || (w->g = calloc(NAMES_MAX, sizeof *w->g)) == NULL) {
        free(w);
        return NULL;
    }
    w->open = groups == NULL;
    w->seed = seed;
    w->data_since_s = data_since_s;
    snprintf(w->region, sizeof w->region, "%s", region ? region : "us-east-1");
    for (const char *p = groups; p != NULL && *p && w->n < NAMES_MAX;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        char name[PG_GROUP_MAX + 1];
        if (len > 0 && len <= PG_GROUP_MAX) {
            memcpy(name, p, len);
            name[len] = '\0';
            if (stored(w, name) == NULL)
                derive(w, name, &w->g[w->n++]);
        }
        if (c == NULL)
            break;
        p = c + 1;
    }
    return w;
}

void pg_simworld_free(pg_simworld *w)
{
    if (w == NULL)
        return;
    free(w->g);
    free(w);
}

bool pg_simworld_exists(const pg_simworld *w, const char *name)
{
    sgroup tmp;
    return lookup(w, name, &tmp) != NULL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The live stored groups, sorted by name, into names (at most NAMES_MAX); their count. */
static size_t world_groups(const pg_simworld *w, const sgroup **out)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++)
        if (!w->g[i].deleted)
            out[n++] = &w->g[i];
    qsort(out, n, sizeof *out, cmp_names); /* name is the struct's first member */
    return n;
}

static int arn(pg_buf *b, const pg_simworld *w, const char *group)
{
    return pg_buf_printf(b, "\"arn:aws:codeguru-profiler:%s:" ACCOUNT ":profilingGroup/%s\"", w->region, group);
}

static int tags(pg_buf *b, const sgroup *g)
{
    int rc = pg_buf_puts(b, "{");
    for (size_t i = 0; i < g->ntags && rc == PG_OK; i++) {
        rc = i ? pg_buf_puts(b, ",") : PG_OK;
        rc = rc ?: pg_json_cstr(b, g->tags[i][0]);
        rc = rc ?: pg_buf_puts(b, ":");
        rc = rc ?: pg_json_cstr(b, g->tags[i][1]);
    }
    return rc ?: pg_buf_puts(b, "}");
}

static int describe(pg_buf *b, const pg_simworld *w, const sgroup *g, int64_t now_ns)
{
    int64_t now_s = pg_floor_div(now_ns, PG_NS_PER_S);
    int rc = pg_buf_printf(b, "{\"agentOrchestrationConfig\":{\"profilingEnabled\":%s},\"arn\":",
                           g->enabled ? "true" : "false");
    rc = rc ?: arn(b, w, g->name);
    rc = rc ?: pg_buf_printf(b, ",\"computePlatform\":\"%s\",\"createdAt\":", g->lambda ? "AWSLambda" : "Default");
    rc = rc ?: ts_json(b, g->created_s * PG_NS_PER_S);
    rc = rc ?: pg_buf_puts(b, ",\"name\":");
    rc = rc ?: pg_json_cstr(b, g->name);
    rc = rc ?: pg_buf_puts(b, ",\"profilingStatus\":{\"latestAgentOrchestratedAt\":");
    rc = rc ?: ts_json(b, (now_s / 60 * 60) * PG_NS_PER_S);
    rc = rc ?: pg_buf_puts(b, ",\"latestAgentProfileReportedAt\":");
    rc = rc ?: ts_json(b, (now_s / 60 * 60) * PG_NS_PER_S);
    rc = rc ?: pg_buf_puts(b, ",\"latestAggregatedProfile\":{\"period\":\"PT5M\",\"start\":");
    rc = rc ?: ts_json(b, (now_s / 300 * 300) * PG_NS_PER_S);
    rc = rc ?: pg_buf_puts(b, "}},\"tags\":");
    rc = rc ?: tags(b, g);
    rc = rc ?: pg_buf_puts(b, ",\"updatedAt\":");
    rc = rc ?: ts_json(b, g->updated_s * PG_NS_PER_S);
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

static int list_groups(const pg_simworld *w, int64_t now_ns, pg_slice query, pg_buf *b, pg_apierr *err)
{
    long max, off;
    int st = paging(query, &max, &off, err);
    if (st)
        return st;
    char inc[16];
    bool with = qparam(query, "includeDescription", inc, sizeof inc) && strcmp(inc, "true") == 0;
    const sgroup **gs = malloc(NAMES_MAX * sizeof *gs);
    if (gs == NULL)
        return 500;
    size_t n = world_groups(w, gs);
    size_t first = (size_t)PG_MIN(off, (long)n), last = PG_MIN(n, first + (size_t)max);
    int rc = pg_buf_puts(b, "{");
    if (rc == PG_OK && last < n)
        rc = pg_buf_printf(b, "\"nextToken\":\"i%zu\",", last);
    rc = rc ?: pg_buf_puts(b, "\"profilingGroupNames\":[");
    for (size_t i = first; i < last && rc == PG_OK; i++) {
        rc = i > first ? pg_buf_puts(b, ",") : PG_OK;
        rc = rc ?: pg_json_cstr(b, gs[i]->name);
    }
    rc = rc ?: pg_buf_puts(b, "]");
    if (with) {
        rc = rc ?: pg_buf_puts(b, ",\"profilingGroups\":[");
        for (size_t i = first; i < last && rc == PG_OK; i++) {
            rc = i > first ? pg_buf_puts(b, ",") : PG_OK;
            rc = rc ?: describe(b, w, gs[i], now_ns);
        }
        rc = rc ?: pg_buf_puts(b, "]");
    }
    rc = rc ?: pg_buf_puts(b, "}");
    free(gs);
    return rc == PG_OK ? 200 : 500;
}

/* {"policy": "<the resource policy document>", "revisionId": ...}; 404 without one. */
static int policy(const pg_simworld *w, const sgroup *g, pg_buf *b, pg_apierr *err)
{
    if (g->nprincipals == 0) {
        pg_apierr_set(err, PG_AE_NOT_FOUND, "The profiling group %s has no resource policy", g->name);
        return 404;
    }
    pg_buf doc;
    pg_buf_init(&doc, 8192);
    int rc = pg_buf_puts(&doc, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"agentPermissions-statement\","
                               "\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[");
    for (size_t i = 0; i < g->nprincipals && rc == PG_OK; i++) {
        rc = i ? pg_buf_puts(&doc, ",") : PG_OK;
        rc = rc ?: pg_json_cstr(&doc, g->principals[i]);
    }
    rc = rc ?: pg_buf_printf(&doc, "]},\"Action\":[\"codeguru-profiler:ConfigureAgent\","
                                   "\"codeguru-profiler:PostAgentProfile\"],\"Resource\":\"arn:aws:codeguru-profiler:%s:"
                                   ACCOUNT ":profilingGroup/%s\"}]}",
                             w->region, g->name);
    rc = rc ?: pg_buf_puts(b, "{\"policy\":");
    rc = rc ?: pg_json_str(b, doc.data, doc.len);
    uint64_t h = ghash(w, g->name, "policy");
    rc = rc ?: pg_buf_printf(b, ",\"revisionId\":\"%08llx-%04x-4000-8000-%012llx\"}", (unsigned long long)(h >> 32),
                             g->revision & 0xffff, (unsigned long long)(h & 0xffffffffffffULL));
    pg_buf_free(&doc);
    return rc == PG_OK ? 200 : 500;
}

static int notifications(const sgroup *g, pg_buf *b)
{
    int rc = pg_buf_puts(b, "{\"notificationConfiguration\":{\"channels\":[");
    for (size_t i = 0; i < g->nchannels && rc == PG_OK; i++) {
        rc = pg_buf_printf(b, "%s{\"eventPublishers\":[\"AnomalyDetection\"],\"id\":", i ? "," : "");
        rc = rc ?: pg_json_cstr(b, g->channel_id[i]);
        rc = rc ?: pg_buf_puts(b, ",\"uri\":");
        rc = rc ?: pg_json_cstr(b, g->channel_uri[i]);
        rc = rc ?: pg_buf_puts(b, "}");
    }
    rc = rc ?: pg_buf_puts(b, "]}}");
    return rc == PG_OK ? 200 : 500;
}

static int recommendations(const pg_simworld *w, const char *group, pg_slice query, pg_buf *b, pg_apierr *err)
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

static int report(pg_buf *b, const pg_simworld *w, const char *group, int64_t day_s)
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

static int findings(const pg_simworld *w, const char *group, pg_slice query, pg_buf *b, pg_apierr *err)
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

static int account_summary(const pg_simworld *w, int64_t now_ns, pg_slice query, pg_buf *b, pg_apierr *err)
{
    long max, off;
    int st = paging(query, &max, &off, err);
    if (st)
        return st;
    const sgroup **gs = malloc(NAMES_MAX * sizeof *gs);
    if (gs == NULL)
        return 500;
    size_t n = world_groups(w, gs);
    /* Each group's report of the last whole day. */
    int64_t day = pg_floor_div(pg_floor_div(now_ns, PG_NS_PER_S), 86400) * 86400 - 86400;
    size_t first = (size_t)PG_MIN(off, (long)n), last = PG_MIN(n, first + (size_t)max);
    int rc = pg_buf_puts(b, "{\"reportSummaries\":[");
    for (size_t i = first; i < last && rc == PG_OK; i++) {
        rc = i > first ? pg_buf_puts(b, ",") : PG_OK;
        rc = rc ?: report(b, w, gs[i]->name, day);
    }
    rc = rc ?: pg_buf_puts(b, "]");
    if (rc == PG_OK && last < n)
        rc = pg_buf_printf(b, ",\"nextToken\":\"i%zu\"", last);
    rc = rc ?: pg_buf_puts(b, "}");
    free(gs);
    return rc == PG_OK ? 200 : 500;
}

/* BatchGetFrameMetricData: the requested frame metrics (echoed), one value per resolution step. */
static int frame_metrics(const pg_simworld *w, int64_t now_ns, const char *group, pg_slice query, const char *body, size_t blen,
                         pg_buf *b, pg_apierr *err)
{
    char s[80], e[80], res[16] = "PT5M";
    (void)w;
    int64_t end = now_ns, start = end - 3600 * PG_NS_PER_S;
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
        const char *fname = name ? str(name) : "";
        rc = pg_buf_printf(b, "%s{\"frameMetric\":{\"frameName\":", f ? "," : "");
        rc = rc ?: pg_json_cstr(b, fname);
        rc = rc ?: pg_buf_puts(b, ",\"threadStates\":[");
        for (size_t k = 0; states && k < YAJL_GET_ARRAY(states)->len && rc == PG_OK; k++) {
            yajl_val sv = YAJL_GET_ARRAY(states)->values[k];
            rc = k ? pg_buf_puts(b, ",") : PG_OK;
            rc = rc ?: pg_json_cstr(b, YAJL_IS_STRING(sv) ? str(sv) : "");
        }
        rc = rc ?: pg_buf_puts(b, "],\"type\":");
        rc = rc ?: pg_json_cstr(b, type ? str(type) : "AggregatedRelativeTotalTime");
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

/* ---- writes */

/* The request body as a JSON object (an empty body is {}); NULL with err when it is not one. */
static yajl_val body_json(const char *body, size_t blen, pg_apierr *err)
{
    char *text = malloc(blen + 1);
    if (text == NULL)
        return NULL;
    memcpy(text, body ? body : "", blen);
    text[blen] = '\0';
    yajl_val root = yajl_tree_parse(blen ? text : "{}", NULL, 0);
    free(text);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        pg_apierr_set(err, PG_AE_VALIDATION, "The request body is not a JSON object");
        return NULL;
    }
    return root;
}

static yajl_val member(yajl_val o, const char *a, const char *b, yajl_type t)
{
    const char *path[] = {a, b, NULL};
    return yajl_tree_get(o, path, t);
}

static int not_found(const char *group, pg_apierr *err)
{
    pg_apierr_set(err, PG_AE_NOT_FOUND, "Profiling group: %s does not exist", group);
    return 404;
}

/* Sets g's tags from a JSON object of strings (merged into what is there). */
static int set_tags(sgroup *g, yajl_val obj, pg_apierr *err)
{
    for (size_t i = 0; obj && i < YAJL_GET_OBJECT(obj)->len; i++) {
        const char *k = YAJL_GET_OBJECT(obj)->keys[i];
        yajl_val v = YAJL_GET_OBJECT(obj)->values[i];
        if (!YAJL_IS_STRING(v) || strlen(k) == 0 || strlen(k) > 128 || strlen(str(v)) > 128)
            return invalid(err, "Tags are keys of 1 to 128 characters with values of at most 128");
        size_t t = 0;
        while (t < g->ntags && strcmp(g->tags[t][0], k) != 0)
            t++;
        if (t == g->ntags) {
            if (g->ntags == TAGS_MAX)
                return invalid(err, "A profiling group has at most 16 tags here");
            g->ntags++;
        }
        snprintf(g->tags[t][0], sizeof g->tags[t][0], "%s", k);
        snprintf(g->tags[t][1], sizeof g->tags[t][1], "%s", str(v));
    }
    return 0;
}

static int create_group(pg_simworld *w, int64_t now_ns, pg_slice query, yajl_val body, pg_buf *out, pg_apierr *err)
{
    char token[80];
    if (!qparam(query, "clientToken", token, sizeof token))
        return invalid(err, "clientToken is required");
    yajl_val name = member(body, "profilingGroupName", NULL, yajl_t_string);
    yajl_val platform = member(body, "computePlatform", NULL, yajl_t_string);
    yajl_val enabled = member(body, "agentOrchestrationConfig", "profilingEnabled", yajl_t_any);
    const char *n = name ? str(name) : NULL;
    if (n == NULL)
        return invalid(err, "profilingGroupName is required");
    if (pg_group_validate(n, strlen(n), err) != PG_OK)
        return 400;
    if (platform && strcmp(str(platform), "Default") != 0 &&
        strcmp(str(platform), "AWSLambda") != 0)
        return invalid(err, "1 validation error detected: Value at 'computePlatform' failed to satisfy constraint: "
                            "Member must satisfy enum value set: [Default, AWSLambda]");
    sgroup *g = stored(w, n);
    if (g != NULL && !g->deleted) {
        pg_apierr_set(err, PG_AE_CONFLICT, "Profiling group with name %s already exists", n);
        return 409;
    }
    if (g == NULL) {
        if (w->n == NAMES_MAX) {
            pg_apierr_set(err, PG_AE_QUOTA_EXCEEDED, "You have reached the maximum number of profiling groups");
            return 402;
        }
        g = &w->g[w->n++];
    }
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", n);
    g->lambda = platform && strcmp(str(platform), "AWSLambda") == 0;
    g->enabled = enabled == NULL || YAJL_IS_TRUE(enabled);
    g->created_s = g->updated_s = pg_floor_div(now_ns, PG_NS_PER_S);
    int st = set_tags(g, member(body, "tags", NULL, yajl_t_object), err);
    if (st) {
        g->deleted = true;
        return st;
    }
    return describe(out, w, g, now_ns) == PG_OK ? 201 : 500;
}

static int put_permission(pg_simworld *w, sgroup *g, pg_slice action, yajl_val body, pg_buf *out, pg_apierr *err)
{
    if (!(action.len == 16 && memcmp(action.p, "agentPermissions", 16) == 0))
        return invalid(err, "1 validation error detected: Value at 'actionGroup' failed to satisfy constraint: Member "
                            "must satisfy enum value set: [agentPermissions]");
    yajl_val ps = member(body, "principals", NULL, yajl_t_array);
    if (ps == NULL || YAJL_GET_ARRAY(ps)->len == 0 || YAJL_GET_ARRAY(ps)->len > PRINCIPALS_MAX)
        return invalid(err, "principals must list 1 to 8 principals here");
    yajl_val rev = member(body, "revisionId", NULL, yajl_t_string);
    pg_buf cur;
    pg_buf_init(&cur, 1 << 16);
    if (rev != NULL && (g->nprincipals == 0 || policy(w, g, &cur, err) != 200 ||
                        strstr(cur.data, str(rev)) == NULL)) {
        pg_buf_free(&cur);
        pg_apierr_set(err, PG_AE_CONFLICT, "The revision ID does not match the policy's current revision");
        return 409;
    }
    pg_buf_free(&cur);
    for (size_t i = 0; i < YAJL_GET_ARRAY(ps)->len; i++) {
        yajl_val p = YAJL_GET_ARRAY(ps)->values[i];
        if (!YAJL_IS_STRING(p))
            return invalid(err, "principals are strings");
        snprintf(g->principals[i], sizeof g->principals[i], "%s", str(p));
    }
    g->nprincipals = YAJL_GET_ARRAY(ps)->len;
    g->revision++;
    return policy(w, g, out, err);
}

static int remove_permission(pg_simworld *w, sgroup *g, pg_slice action, pg_slice query, pg_buf *out, pg_apierr *err)
{
    char rev[80];
    if (!(action.len == 16 && memcmp(action.p, "agentPermissions", 16) == 0))
        return invalid(err, "actionGroup must be agentPermissions");
    if (!qparam(query, "revisionId", rev, sizeof rev))
        return invalid(err, "revisionId is required");
    pg_buf cur;
    pg_buf_init(&cur, 1 << 16);
    bool match = g->nprincipals > 0 && policy(w, g, &cur, err) == 200 && strstr(cur.data, rev) != NULL;
    pg_buf_free(&cur);
    if (!match) {
        pg_apierr_set(err, PG_AE_CONFLICT, "The revision ID does not match the policy's current revision");
        return 409;
    }
    g->nprincipals = 0;
    g->revision++;
    uint64_t h = ghash(w, g->name, "policy");
    int rc = pg_buf_printf(out, "{\"policy\":\"\",\"revisionId\":\"%08llx-%04x-4000-8000-%012llx\"}",
                           (unsigned long long)(h >> 32), g->revision & 0xffff,
                           (unsigned long long)(h & 0xffffffffffffULL));
    return rc == PG_OK ? 200 : 500;
}

static int add_channels(sgroup *g, yajl_val body, pg_buf *out, pg_apierr *err)
{
    yajl_val cs = member(body, "channels", NULL, yajl_t_array);
    if (cs == NULL || YAJL_GET_ARRAY(cs)->len == 0)
        return invalid(err, "channels is required");
    if (g->nchannels + YAJL_GET_ARRAY(cs)->len > CHANNELS_MAX) {
        pg_apierr_set(err, PG_AE_QUOTA_EXCEEDED, "A profiling group has at most %d notification channels",
                      CHANNELS_MAX);
        return 402;
    }
    for (size_t i = 0; i < YAJL_GET_ARRAY(cs)->len; i++) {
        yajl_val uri = member(YAJL_GET_ARRAY(cs)->values[i], "uri", NULL, yajl_t_string);
        if (uri == NULL)
            return invalid(err, "A channel needs a uri");
        size_t k = g->nchannels++;
        snprintf(g->channel_id[k], sizeof g->channel_id[k], "channel-%u", ++g->channel_seq);
        snprintf(g->channel_uri[k], sizeof g->channel_uri[k], "%s", str(uri));
    }
    return notifications(g, out);
}

static int remove_channel(sgroup *g, pg_slice id, pg_buf *out, pg_apierr *err)
{
    for (size_t i = 0; i < g->nchannels; i++) {
        if (strlen(g->channel_id[i]) != id.len || memcmp(g->channel_id[i], id.p, id.len) != 0)
            continue;
        for (size_t k = i + 1; k < g->nchannels; k++) {
            memcpy(g->channel_id[k - 1], g->channel_id[k], sizeof g->channel_id[k]);
            memcpy(g->channel_uri[k - 1], g->channel_uri[k], sizeof g->channel_uri[k]);
        }
        g->nchannels--;
        return notifications(g, out);
    }
    pg_apierr_set(err, PG_AE_NOT_FOUND, "Notification channel %.*s does not exist", (int)PG_MIN(id.len, 64), id.p);
    return 404;
}

static int untag(sgroup *g, pg_slice query)
{
    pg_qparam qp[PG_QUERY_PARAMS_MAX];
    int n = pg_query_split(query, qp, PG_QUERY_PARAMS_MAX);
    for (int i = 0; i < n; i++) {
        char k[200];
        size_t len;
        if (qp[i].key.len != 7 || memcmp(qp[i].key.p, "tagKeys", 7) != 0 || qp[i].val.len >= sizeof k ||
            pg_pct_decode(qp[i].val, k, &len) != PG_OK)
            continue;
        k[len] = '\0';
        for (size_t t = 0; t < g->ntags; t++) {
            if (strcmp(g->tags[t][0], k) != 0)
                continue;
            memmove(g->tags[t], g->tags[t + 1], (g->ntags - t - 1) * sizeof g->tags[0]);
            g->ntags--;
            break;
        }
    }
    return 204;
}

static int write_op(pg_simworld *w, int64_t now_ns, pg_op op, const char *group, const pg_slice *params,
                    pg_slice query, const char *body, size_t blen, const char *ctype, pg_buf *out, pg_apierr *err)
{
    if (op == PG_OP_POST_AGENT_PROFILE) {
        /* The agent's profile is taken and dropped: the simulator's data come from its seed. */
        if (ctype == NULL || !ctype[0])
            return invalid(err, "Content-Type is required");
        return pg_simworld_exists(w, group) ? 204 : not_found(group, err);
    }
    yajl_val root = body_json(body, blen, err);
    if (root == NULL)
        return err->message[0] ? 400 : 500;
    int st;
    if (op == PG_OP_CREATE_PROFILING_GROUP) {
        st = create_group(w, now_ns, query, root, out, err);
        yajl_tree_free(root);
        return st;
    }
    sgroup *g = for_write(w, group);
    if (g == NULL) {
        yajl_tree_free(root);
        return not_found(group, err);
    }
    switch (op) {
    case PG_OP_DELETE_PROFILING_GROUP:
        g->deleted = true;
        st = 204;
        break;
    case PG_OP_UPDATE_PROFILING_GROUP: {
        yajl_val enabled = member(root, "agentOrchestrationConfig", "profilingEnabled", yajl_t_any);
        if (enabled == NULL || !(YAJL_IS_TRUE(enabled) || YAJL_IS_FALSE(enabled))) {
            st = invalid(err, "agentOrchestrationConfig.profilingEnabled is required");
            break;
        }
        g->enabled = YAJL_IS_TRUE(enabled);
        g->updated_s = pg_floor_div(now_ns, PG_NS_PER_S);
        st = describe(out, w, g, now_ns) == PG_OK ? 200 : 500;
        break;
    }
    case PG_OP_PUT_PERMISSION: st = put_permission(w, g, params[1], root, out, err); break;
    case PG_OP_REMOVE_PERMISSION: st = remove_permission(w, g, params[1], query, out, err); break;
    case PG_OP_ADD_NOTIFICATION_CHANNELS: st = add_channels(g, root, out, err); break;
    case PG_OP_REMOVE_NOTIFICATION_CHANNEL: st = remove_channel(g, params[1], out, err); break;
    case PG_OP_TAG_RESOURCE: {
        yajl_val t = member(root, "tags", NULL, yajl_t_object);
        st = t == NULL ? invalid(err, "tags is required") : set_tags(g, t, err);
        st = st ? st : 204;
        break;
    }
    case PG_OP_UNTAG_RESOURCE: st = untag(g, query); break;
    case PG_OP_CONFIGURE_AGENT:
        st = pg_buf_printf(out, "{\"agentParameters\":{\"MaxStackDepth\":\"1000\",\"MemoryUsageLimitPercent\":\"10\","
                                "\"MinimumTimeForReportingInMilliseconds\":\"60000\",\"ReportingIntervalInMilliseconds\":"
                                "\"300000\",\"SamplingIntervalInMilliseconds\":\"1000\"},\"periodInSeconds\":300,"
                                "\"shouldProfile\":%s}",
                           g->enabled ? "true" : "false") == PG_OK ? 200 : 500;
        break;
    case PG_OP_SUBMIT_FEEDBACK: {
        yajl_val t = member(root, "type", NULL, yajl_t_string);
        bool ok = t && (!strcmp(str(t), "Positive") || !strcmp(str(t), "Negative"));
        st = ok ? 204 : invalid(err, "type must be Positive or Negative");
        break;
    }
    default: PG_UNREACHABLE();
    }
    yajl_tree_free(root);
    return st;
}

int pg_simapi_answer(pg_simworld *w, int64_t now_ns, pg_op op, const char *group, const pg_slice *params,
                     pg_slice query, const char *body, size_t blen, const char *ctype, pg_buf *out, pg_apierr *err)
{
    PG_ASSERT(op < PG_OP_COUNT);
    if (pg_operations[op].write)
        return write_op(w, now_ns, op, group, params, query, body, blen, ctype, out, err);
    sgroup tmp;
    const sgroup *g = group[0] ? lookup(w, group, &tmp) : NULL;
    if (group[0] && g == NULL)
        return not_found(group, err);
    switch (op) {
    case PG_OP_LIST_PROFILING_GROUPS: return list_groups(w, now_ns, query, out, err);
    case PG_OP_GET_FINDINGS_REPORT_ACCOUNT_SUMMARY: return account_summary(w, now_ns, query, out, err);
    case PG_OP_DESCRIBE_PROFILING_GROUP: return describe(out, w, g, now_ns) == PG_OK ? 200 : 500;
    case PG_OP_GET_POLICY: return policy(w, g, out, err);
    case PG_OP_GET_NOTIFICATION_CONFIGURATION: return notifications(g, out);
    case PG_OP_GET_RECOMMENDATIONS: return recommendations(w, group, query, out, err);
    case PG_OP_LIST_FINDINGS_REPORTS: return findings(w, group, query, out, err);
    case PG_OP_BATCH_GET_FRAME_METRIC_DATA: return frame_metrics(w, now_ns, group, query, body, blen, out, err);
    case PG_OP_LIST_TAGS_FOR_RESOURCE: {
        int rc = pg_buf_puts(out, "{\"tags\":");
        rc = rc ?: tags(out, g);
        rc = rc ?: pg_buf_puts(out, "}");
        return rc == PG_OK ? 200 : 500;
    }
    default: break;
    }
    PG_UNREACHABLE();
}
