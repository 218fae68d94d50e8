/*
 * sim.c: the simulator's handlers. Order of checks per request, as the service does them:
 * signature, throttling, injected faults, validation, existence, then data. A delayed answer
 * (--latency-ms) is computed on arrival and sent from a timer, so the loop never blocks and
 * throttling is decided when the request arrives.
 */
#include "profgate/sim.h"
#include "profgate/getprofile_req.h"
#include "profgate/gzip.h"
#include "profgate/iso8601.h"
#include "profgate/jsonw.h"
#include "profgate/log.h"
#include "profgate/lru.h"
#include "profgate/planner.h"
#include "profgate/ratelimit.h"
#include "profgate/listtimes.h"
#include "profgate/router.h"
#include "profgate/sigv4.h"
#include "profgate/simapi.h"
#include "profgate/simcreds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { R_GETPROFILE, R_LISTTIMES, R_STATS, R_RESET, R_HEALTHZ };

static const pg_route routes[] = {
    {R_GETPROFILE, "GET", "/profilingGroups/{}/profile"},
    {R_LISTTIMES, "GET", "/profilingGroups/{}/profileTimes"},
    {R_STATS, "GET", "/_sim/stats"},
    {R_RESET, "POST", "/_sim/reset"},
    {R_HEALTHZ, "GET", "/healthz"},
};

#define MAX_BUCKET_KEYS 20000
#define SECONDS_KEPT 600
#define MAX_TBUCKETS 4096
#define BODY_LIMIT ((size_t)512 << 20)

typedef struct stats {
    uint64_t requests, getprofile, listtimes, other;
    uint64_t ops[PG_OP_COUNT]; /* the other operations, each */
    uint64_t by_period[PG_PERIOD_COUNT + 1]; /* last: multi-bucket or empty plans */
    uint64_t throttled, failed, hung, reset, auth_failed, invalid, not_found, ok;
    uint64_t bytes_sent;
    uint64_t traced;        /* requests that carried an X-Amzn-Trace-Id */
    char last_trace[256];   /* the last one, so tests can check what a gateway forwards */
    char last_body_type[128]; /* the Content-Type of the last request with a body (what a gateway forwarded) */
    uint64_t reached_faults; /* requests that got past auth and throttling (for --fail-after) */
    /* requests per bucket key ("group|PT1H|2026-..."), bounded */
    pg_lru *buckets;
    uint64_t bucket_keys_dropped;
    /* requests received per wall-clock second, for rate assertions */
    int64_t sec[SECONDS_KEPT];
    uint32_t sec_count[SECONDS_KEPT];
} stats;

typedef struct tb_entry {
    char key[PG_GROUP_MAX + 1];
    pg_tbucket tb;
} tb_entry;

typedef struct delayed delayed;

struct pg_sim {
    pg_sim_cfg cfg;
    const pg_clock *clock;
    uv_loop_t *loop;
    pg_simgen *gen;
    pg_planner_cfg planner;
    int64_t data_since_s;
    pg_lru *responses; /* encoded bodies of complete ranges */
    stats st;
    pg_tbucket account_tb;
    tb_entry *tbs;
    size_t ntbs;
    uint64_t rng;
    delayed *delayed_list;
    pg_simworld *world; /* the groups and their state (simapi.c) */
    pg_simcreds *creds; /* STS, container endpoint and IMDS stand-ins, and their sessions */
};

/* A response waiting for its latency to pass, or a hung request. */
struct delayed {
    uv_timer_t timer;
    pg_sim *sim;
    pg_http_req *req; /* NULL once answered */
    delayed *prev, *next;
    int status;
    bool is_error, hang;
    pg_apierr err;
    pg_http_out_header hdrs[4];
    size_t nhdrs;
    char ctype[40], cenc[16];
    pg_buf body;
};

static double rnd(pg_sim *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (double)(s->rng >> 11) * (1.0 / 9007199254740992.0);
}

static void free_count(void *v)
{
    free(v);
}

static void free_body(void *v)
{
    pg_buf *b = v;
    pg_buf_free(b);
    free(b);
}

static void stats_reset(pg_sim *s)
{
    pg_lru_free(s->st.buckets);
    memset(&s->st, 0, sizeof s->st);
    s->st.buckets = pg_lru_new((size_t)64 << 20, free_count);
    PG_ASSERT(s->st.buckets != NULL);
}

pg_sim *pg_sim_new(const pg_sim_cfg *cfg, const pg_clock *clock, uv_loop_t *loop)
{
    pg_sim *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->cfg = *cfg;
    s->clock = clock;
    s->loop = loop;
    int64_t now = pg_clock_now(clock);
    int64_t since = cfg->data_since_ns == INT64_MIN ? now - INT64_C(90) * 86400 * PG_NS_PER_S : cfg->data_since_ns;
    s->data_since_s = pg_floor_div(since, PG_NS_PER_S);
    pg_simgen_cfg gc = {.seed = cfg->seed, .nodes = cfg->nodes, .data_since_s = s->data_since_s,
                        .cache_bytes = cfg->cache_bytes};
    s->gen = pg_simgen_new(&gc);
    s->responses = pg_lru_new(cfg->cache_bytes, free_body);
    s->tbs = calloc(MAX_TBUCKETS, sizeof *s->tbs);
    s->world = pg_simworld_new(cfg->groups, cfg->seed, s->data_since_s, cfg->region);
    s->creds = pg_simcreds_new(cfg->credentials_ttl_s, cfg->region, cfg->access_key, cfg->secret_key);
    if (s->gen == NULL || s->responses == NULL || s->tbs == NULL || s->world == NULL || s->creds == NULL) {
        pg_sim_free(s);
        return NULL;
    }
    pg_planner_cfg_default(&s->planner);
    s->planner.settle_s = 0; /* the service has no notion of settling; data is final once past */
    if (cfg->rate > 0)
        pg_tbucket_init(&s->account_tb, cfg->rate, cfg->burst, pg_monotonic_ns());
    s->rng = cfg->seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
    stats_reset(s);
    return s;
}

static void on_delayed_closed(uv_handle_t *h)
{
    delayed *d = h->data;
    pg_buf_free(&d->body);
    free(d);
}

static void delayed_unlink(delayed *d)
{
    pg_sim *s = d->sim;
    if (d->prev)
        d->prev->next = d->next;
    else
        s->delayed_list = d->next;
    if (d->next)
        d->next->prev = d->prev;
}

/* Sends a delayed answer (or discards it when the client left) and retires the timer. */
static void delayed_finish(delayed *d, bool send)
{
    pg_http_req *req = d->req;
    d->req = NULL;
    delayed_unlink(d);
    PG_CHECK_UV(uv_timer_stop(&d->timer));
    uv_close((uv_handle_t *)&d->timer, on_delayed_closed);
    if (req == NULL)
        return;
    if (!send || d->hang) {
        /* The client is gone or the server is stopping: the request still gets its one answer. */
        pg_apierr e;
        pg_apierr_set(&e, PG_AE_INTERNAL, "request abandoned");
        pg_http_respond_error(req, &e);
        return;
    }
    if (d->is_error)
        pg_http_respond_error(req, &d->err);
    else
        pg_http_respond(req, d->status, d->hdrs, d->nhdrs, d->body.data, d->body.len);
}

static void on_delay_timer(uv_timer_t *t)
{
    delayed_finish(t->data, true);
}

static void on_delayed_abort(pg_http_req *req, void *data)
{
    (void)req;
    delayed_finish(data, false);
}

void pg_sim_close(pg_sim *s)
{
    while (s->delayed_list)
        delayed_finish(s->delayed_list, false);
}

void pg_sim_free(pg_sim *s)
{
    if (s == NULL)
        return;
    PG_ASSERT(s->delayed_list == NULL);
    pg_simgen_free(s->gen);
    pg_lru_free(s->responses);
    pg_lru_free(s->st.buckets);
    free(s->tbs);
    pg_simworld_free(s->world);
    pg_simcreds_free(s->creds);
    free(s);
}

/* ------------------------------------------------------------------ answering */

static uint32_t latency(pg_sim *s)
{
    if (s->cfg.latency_ms == 0 && s->cfg.jitter_ms == 0)
        return 0;
    return s->cfg.latency_ms + (uint32_t)(rnd(s) * (s->cfg.jitter_ms + 1));
}

/* Every answer goes through here: immediately, after the configured latency, or never (hang). */
static void answer(pg_sim *s, pg_http_req *req, int status, const pg_apierr *err, const char *ctype, const char *cenc,
                   pg_buf *body, bool hang)
{
    uint32_t ms = hang ? 0 : latency(s);
    size_t blen = body ? body->len : 0;
    s->st.bytes_sent += blen;
    if (!hang && ms == 0) {
        if (err != NULL) {
            pg_http_respond_error(req, err);
        } else {
            pg_http_out_header h[2] = {{"Content-Type", ctype}, {"Content-Encoding", cenc}};
            pg_http_respond(req, status, h, cenc ? 2 : 1, body ? body->data : "", blen);
        }
        return;
    }
    delayed *d = calloc(1, sizeof *d);
    if (d == NULL) {
        pg_apierr e;
        pg_apierr_set(&e, PG_AE_INTERNAL, "simulator out of memory");
        pg_http_respond_error(req, &e);
        return;
    }
    d->sim = s;
    d->req = req;
    d->hang = hang;
    d->status = status;
    pg_buf_init(&d->body, BODY_LIMIT);
    if (err != NULL) {
        d->is_error = true;
        d->err = *err;
    } else {
        snprintf(d->ctype, sizeof d->ctype, "%s", ctype);
        d->hdrs[d->nhdrs++] = (pg_http_out_header){"Content-Type", d->ctype};
        if (cenc) {
            snprintf(d->cenc, sizeof d->cenc, "%s", cenc);
            d->hdrs[d->nhdrs++] = (pg_http_out_header){"Content-Encoding", d->cenc};
        }
        if (body && pg_buf_append(&d->body, body->data, body->len) != PG_OK) {
            free(d);
            pg_apierr e;
            pg_apierr_set(&e, PG_AE_INTERNAL, "simulator out of memory");
            pg_http_respond_error(req, &e);
            return;
        }
    }
    PG_CHECK_UV(uv_timer_init(s->loop, &d->timer));
    d->timer.data = d;
    d->next = s->delayed_list;
    if (s->delayed_list)
        s->delayed_list->prev = d;
    s->delayed_list = d;
    pg_http_req_on_abort(req, on_delayed_abort, d);
    if (!hang)
        PG_CHECK_UV(uv_timer_start(&d->timer, on_delay_timer, ms, 0));
}

static void answer_error(pg_sim *s, pg_http_req *req, pg_apierr_kind kind, const char *msg)
{
    pg_apierr e;
    pg_apierr_set(&e, kind, "%s", msg);
    answer(s, req, 0, &e, NULL, NULL, NULL, false);
}

/* ------------------------------------------------------------------ checks */

static bool check_auth(pg_sim *s, pg_http_req *req)
{
    if (s->cfg.access_key == NULL)
        return true;
    pg_sigv4_verify_cfg vc = {.service = "codeguru-profiler", .region = s->cfg.region,
                              .max_skew_ns = 15 * 60 * PG_NS_PER_S, .secret_for = pg_simcreds_secret,
                              .ctx = s->creds};
    char why[256], akid[129];
    /* Signatures are dated by the client's real clock, whatever --clock says the data's now is. */
    pg_sigv4_result r = pg_sigv4_verify(&vc, pg_http_req_head(req), pg_realtime_ns(), why, sizeof why, akid);
    if (r == PG_SIGV4_OK) {
        /* An issued session key also needs its token, before its expiry, as the service checks. */
        size_t tl = 0;
        const char *tok = pg_http_req_header(req, "x-amz-security-token", &tl);
        pg_sc_check c = pg_simcreds_check(s->creds, akid, tok, tl, pg_realtime_ns());
        if (c != PG_SC_EXPIRED && c != PG_SC_BAD_TOKEN)
            return true;
        s->st.auth_failed++;
        pg_log(PG_LOG_WARN, "rid=%s session key '%s': %s", pg_http_req_id(req), akid,
               c == PG_SC_EXPIRED ? "expired" : "wrong or missing token");
        answer_error(s, req, c == PG_SC_EXPIRED ? PG_AE_EXPIRED_TOKEN : PG_AE_UNRECOGNIZED_CLIENT,
                     c == PG_SC_EXPIRED ? "The security token included in the request is expired"
                                        : "The security token included in the request is invalid");
        return false;
    }
    s->st.auth_failed++;
    pg_log(PG_LOG_INFO, "rid=%s signature check failed for key '%s': %s", pg_http_req_id(req), akid, why);
    answer_error(s, req, pg_sigv4_error_kind(r), why);
    return false;
}

static pg_tbucket *bucket_for(pg_sim *s, const char *group)
{
    if (!s->cfg.rate_per_group)
        return &s->account_tb;
    for (size_t i = 0; i < s->ntbs; i++)
        if (strcmp(s->tbs[i].key, group) == 0)
            return &s->tbs[i].tb;
    if (s->ntbs == MAX_TBUCKETS)
        s->ntbs = 0; /* forget the oldest generation of groups; new ones start full */
    tb_entry *t = &s->tbs[s->ntbs++];
    snprintf(t->key, sizeof t->key, "%s", group);
    pg_tbucket_init(&t->tb, s->cfg.rate, s->cfg.burst, pg_monotonic_ns());
    return &t->tb;
}

/* Raw group segment decoded for throttling keys and existence checks (validated later). */
static void group_of(pg_slice raw, char out[PG_GROUP_MAX + 1])
{
    char buf[3 * (PG_GROUP_MAX + 1)];
    size_t n = 0;
    if (raw.len < sizeof buf && pg_pct_decode(raw, buf, &n) == PG_OK && n <= PG_GROUP_MAX) {
        memcpy(out, buf, n);
        out[n] = '\0';
    } else {
        out[0] = '\0';
    }
}

static bool throttled(pg_sim *s, pg_http_req *req, const char *group)
{
    if (s->cfg.rate <= 0)
        return false;
    if (pg_tbucket_take(bucket_for(s, group), pg_monotonic_ns(), 1))
        return false;
    s->st.throttled++;
    answer_error(s, req, PG_AE_THROTTLING, "Rate exceeded");
    return true;
}

/* Injected faults: 500s, hangs, resets of a fraction of connections, and of every connection after
 * --fail-after requests. */
static bool faulted(pg_sim *s, pg_http_req *req)
{
    if (s->cfg.fail_after >= 0 && (int64_t)s->st.reached_faults++ >= s->cfg.fail_after) {
        s->st.reset++;
        pg_http_reset(req);
        return true;
    }
    if (s->cfg.reset_rate > 0 && rnd(s) < s->cfg.reset_rate) {
        s->st.reset++;
        pg_http_reset(req);
        return true;
    }
    if (s->cfg.hang_rate > 0 && rnd(s) < s->cfg.hang_rate) {
        s->st.hung++;
        answer(s, req, 0, NULL, NULL, NULL, NULL, true);
        return true;
    }
    if (s->cfg.fail_rate > 0 && rnd(s) < s->cfg.fail_rate) {
        s->st.failed++;
        answer_error(s, req, PG_AE_INTERNAL, "Internal failure (injected by profgate-sim --fail-rate)");
        return true;
    }
    return false;
}

/* The world decides: --groups and what the API created or deleted since (simapi.c). */
static bool group_exists(pg_sim *s, const char *group)
{
    return pg_simworld_exists(s->world, group);
}

static void count_second(pg_sim *s)
{
    int64_t sec = pg_floor_div(pg_realtime_ns(), PG_NS_PER_S);
    size_t i = (size_t)(sec % SECONDS_KEPT);
    if (s->st.sec[i] != sec) {
        s->st.sec[i] = sec;
        s->st.sec_count[i] = 0;
    }
    s->st.sec_count[i]++;
}

static void count_bucket(pg_sim *s, const char *group, const pg_plan *plan)
{
    char key[400], ts[PG_TS_FMT_MAX], te[PG_TS_FMT_MAX];
    pg_ts_format(plan->start_s * PG_NS_PER_S, ts, sizeof ts);
    int n;
    if (plan->n == 1) {
        s->st.by_period[plan->b[0].period]++;
        n = snprintf(key, sizeof key, "%s|%s|%s", group, pg_period_name(plan->b[0].period), ts);
    } else {
        s->st.by_period[PG_PERIOD_COUNT]++;
        pg_ts_format(plan->end_s * PG_NS_PER_S, te, sizeof te);
        n = snprintf(key, sizeof key, "%s|range|%s|%s", group, ts, te);
    }
    pg_lru_entry *e = pg_lru_get(s->st.buckets, key, (size_t)n);
    if (e != NULL) {
        (*(uint64_t *)pg_lru_value(e))++;
        pg_lru_release(s->st.buckets, e);
        return;
    }
    pg_lru_stats ls;
    pg_lru_get_stats(s->st.buckets, &ls);
    uint64_t *c = malloc(sizeof *c);
    if (ls.entries >= MAX_BUCKET_KEYS || c == NULL) {
        free(c);
        s->st.bucket_keys_dropped++;
        return;
    }
    *c = 1;
    pg_lru_put(s->st.buckets, key, (size_t)n, c, sizeof *c);
}

/* ------------------------------------------------------------------ GetProfile */


/* The simulator's GetProfile, in the order the service applies its checks (auth, throttling,
 * faults, validation, planning, data, encoding): kept as one sequence so the order is visible. */
static void handle_getprofile(pg_sim *s, pg_http_req *req, pg_slice raw_group, pg_slice query)
{
    pg_getprofile_req r;
    pg_apierr err;
    size_t alen = 0;
    char abuf[1024]; /* every Accept field, as one list */
    const char *accept = pg_http_req_header_list(req, "accept", abuf, sizeof abuf, &alen);
    int64_t now = pg_clock_now(s->clock), start, end;
    if (pg_getprofile_parse(raw_group, query, accept, alen, &r, &err) != PG_OK ||
        pg_range_resolve(&r, now, &start, &end, &err) != PG_OK) {
        s->st.invalid++;
        answer(s, req, 0, &err, NULL, NULL, NULL, false);
        return;
    }
    if (!group_exists(s, r.group)) {
        s->st.not_found++;
        char msg[320];
        snprintf(msg, sizeof msg, "Profiling group: %s does not exist", r.group);
        answer_error(s, req, PG_AE_NOT_FOUND, msg);
        return;
    }
    pg_plan plan;
    pg_plan_build(&s->planner, start, end, now, &plan);
    count_bucket(s, r.group, &plan);
    int64_t now_ms = pg_floor_div(now, PG_NS_PER_MS);
    bool gz = pg_http_req_accepts_gzip(req);
    bool complete = plan.end_s * 1000 <= now_ms;
    char key[400];
    int klen = snprintf(key, sizeof key, "%s|%lld|%lld|%d|%d|%d", r.group, (long long)plan.start_s,
                        (long long)plan.end_s, (int)r.format, r.max_depth, gz);
    const char *ctype = pg_format_content_type(r.format);
    if (complete) {
        pg_lru_entry *e = pg_lru_get(s->responses, key, (size_t)klen);
        if (e != NULL) {
            s->st.ok++;
            if (latency(s) == 0 && s->cfg.jitter_ms == 0) {
                /* The hot path: the cached body goes out without a copy, referenced until written. */
                pg_buf *b = pg_lru_value(e);
                s->st.bytes_sent += b->len;
                pg_http_out_header h[2] = {{"Content-Type", ctype}, {"Content-Encoding", "gzip"}};
                pg_http_respond_shared(req, 200, h, gz ? 2 : 1, b->data, b->len, pg_lru_release_entry, e);
                return;
            }
            answer(s, req, 200, NULL, ctype, gz ? "gzip" : NULL, pg_lru_value(e), false);
            pg_lru_release(s->responses, e);
            return;
        }
    }
    pg_simacc acc;
    pg_profile prof;
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    int rc = pg_simgen_acc_init(s->gen, r.group, &acc);
    for (size_t i = 0; rc == PG_OK && i < plan.n; i++)
        rc = pg_simgen_add(s->gen, r.group, plan.b[i].period, plan.b[i].start_s, now_ms, &acc);
    rc = rc ?: pg_profile_init(&prof, &lim);
    rc = rc ?: pg_simgen_profile(s->gen, r.group, &acc, plan.start_s * 1000, plan.end_s * 1000, &prof);
    pg_buf *body = malloc(sizeof *body);
    if (body)
        pg_buf_init(body, BODY_LIMIT);
    if (body == NULL)
        rc = PG_ENOMEM;
    pg_buf plain;
    pg_buf_init(&plain, BODY_LIMIT);
    rc = rc ?: pg_profile_encode(&prof, r.format == PG_FMT_ION, (uint32_t)r.max_depth, gz ? &plain : body);
    if (rc == PG_OK && gz)
        rc = pg_gzip(plain.data, plain.len, 6, body);
    pg_buf_free(&plain);
    pg_profile_free(&prof);
    pg_simgen_acc_free(&acc);
    if (rc != PG_OK) {
        if (body) {
            pg_buf_free(body);
            free(body);
        }
        pg_log(PG_LOG_ERROR, "rid=%s cannot build the profile: %s", pg_http_req_id(req), pg_strerror(rc));
        answer_error(s, req, PG_AE_INTERNAL, "The simulator could not build this profile");
        return;
    }
    s->st.ok++;
    answer(s, req, 200, NULL, ctype, gz ? "gzip" : NULL, body, false);
    if (complete)
        pg_lru_put(s->responses, key, (size_t)klen, body, body->len + sizeof *body);
    else
        free_body(body);
}

/* ------------------------------------------------------------------ ListProfileTimes */

/* The simulator's ListProfileTimes: the same checks as GetProfile (the request's rules are
 * listtimes.c's, shared with the gateway), then the paged list. Its nextToken is "n" and the
 * offset of the next item: simple, and not what profgate makes (a client cannot mix them). */
static void handle_listtimes(pg_sim *s, pg_http_req *req, pg_slice raw_group, pg_slice query)
{
    pg_apierr err;
    pg_listtimes_req r;
    long offset = 0;
    int rc = pg_listtimes_parse(raw_group, query, &r, &err);
    if (rc == PG_OK && r.has_token) {
        char *e;
        offset = r.token[0] != 'n' ? -1 : strtol(r.token + 1, &e, 10);
        if (offset < 0 || *e != '\0') {
            pg_apierr_set(&err, PG_AE_VALIDATION, "The nextToken is not valid");
            rc = PG_EINVAL;
        }
    }
    if (rc != PG_OK) {
        s->st.invalid++;
        answer(s, req, 0, &err, NULL, NULL, NULL, false);
        return;
    }
    if (!group_exists(s, r.group)) {
        s->st.not_found++;
        char msg[PG_GROUP_MAX + 64];
        snprintf(msg, sizeof msg, "Profiling group: %.255s does not exist", r.group);
        answer_error(s, req, PG_AE_NOT_FOUND, msg);
        return;
    }
    /* Aggregates that exist: aligned, inside the range, retained, begun, and since the group's data. */
    int64_t len = pg_period_seconds(r.period), lo, hi;
    pg_listtimes_bounds(&r, pg_clock_now(s->clock), s->planner.retention_s[r.period], &lo, &hi);
    lo = PG_MAX(lo, pg_ceil_div(s->data_since_s - len + 1, len) * len);
    /* The aggregates that exist, ascending; --gaps leaves some out, by a hash of what they are. */
    size_t cap = hi > lo ? (size_t)((hi - lo) / len) : 0, count = 0;
    int64_t *times = malloc((cap ? cap : 1) * sizeof *times);
    if (times == NULL) {
        answer_error(s, req, PG_AE_INTERNAL, "out of memory");
        return;
    }
    for (int64_t t = lo; t < hi; t += len) {
        char k[PG_GROUP_MAX + 64];
        int kl = snprintf(k, sizeof k, "%llu|%s|%d|%lld", (unsigned long long)s->cfg.seed, r.group, (int)r.period,
                          (long long)t);
        if (s->cfg.gaps <= 0 || (double)(pg_hash64(k, (size_t)kl) % 1000000) / 1e6 >= s->cfg.gaps)
            times[count++] = t;
    }
    pg_buf b;
    pg_buf_init(&b, 1 << 20);
    rc = pg_buf_puts(&b, "{\"profileTimes\":[");
    long emitted = 0;
    for (int64_t i = offset; rc == PG_OK && i < (int64_t)count && emitted < r.max_results; i++, emitted++) {
        int64_t t = r.descending ? times[count - 1 - (size_t)i] : times[i];
        char ts[PG_TS_FMT_MAX];
        pg_ts_format(t * PG_NS_PER_S, ts, sizeof ts);
        rc = pg_buf_printf(&b, "%s{\"start\":\"%s\"}", emitted ? "," : "", ts);
    }
    free(times);
    rc = rc ?: pg_buf_puts(&b, "]");
    if (rc == PG_OK && offset + emitted < (int64_t)count)
        rc = pg_buf_printf(&b, ",\"nextToken\":\"n%lld\"", (long long)(offset + emitted));
    rc = rc ?: pg_buf_puts(&b, "}");
    PG_ASSERT(rc == PG_OK);
    s->st.ok++;
    answer(s, req, 200, NULL, "application/json", NULL, &b, false);
    pg_buf_free(&b);
}

/* ------------------------------------------------------------------ the other operations */

/* One of the other operations, over the simulator's world (simapi.c). The same checks as the
 * data operations ran before this (auth, throttling, faults). */
static void handle_api(pg_sim *s, pg_http_req *req, pg_op op, const pg_route_result *m, pg_slice query)
{
    pg_apierr err;
    char group[PG_GROUP_MAX + 1] = "";
    if (pg_operations[op].group != PG_OPG_NONE && pg_op_group_of(op, m->params[0], group, sizeof group, &err) != PG_OK) {
        s->st.invalid++;
        answer(s, req, 0, &err, NULL, NULL, NULL, false);
        return;
    }
    const pg_http_head *h = pg_http_req_head(req);
    size_t clen = 0;
    const char *ct = pg_http_req_header(req, "content-type", &clen);
    char ctype[128] = "";
    if (ct != NULL)
        pg_header_safe(ct, clen, ctype, sizeof ctype);
    if (h->body_bytes > 0)
        memcpy(s->st.last_body_type, ctype, sizeof ctype);
    pg_buf b;
    pg_buf_init(&b, (size_t)4 << 20);
    memset(&err, 0, sizeof err);
    int st = pg_simapi_answer(s->world, pg_clock_now(s->clock), op, group, m->params, query, h->body,
                              (size_t)h->body_bytes, ctype, &b, &err);
    if (st < 300) {
        s->st.ok++;
        answer(s, req, st, NULL, "application/json", NULL, &b, false);
    } else if (st < 500) {
        s->st.invalid += st == 400;
        s->st.not_found += st == 404;
        answer(s, req, 0, &err, NULL, NULL, NULL, false);
    } else {
        answer_error(s, req, PG_AE_INTERNAL, "The simulator could not build this answer");
    }
    pg_buf_free(&b);
}

/* ------------------------------------------------------------------ stats */

typedef struct {
    pg_buf *b;
    bool first;
    int rc;
} bucket_dump;

static void dump_bucket(const void *key, size_t klen, void *value, void *ctx)
{
    bucket_dump *d = ctx;
    if (d->rc != PG_OK)
        return;
    if (!d->first)
        d->rc = pg_buf_append(d->b, ",", 1);
    d->first = false;
    d->rc = d->rc ?: pg_json_str(d->b, key, klen);
    d->rc = d->rc ?: pg_buf_printf(d->b, ":%llu", (unsigned long long)*(uint64_t *)value);
}

static void handle_stats(pg_sim *s, pg_http_req *req)
{
    pg_buf b;
    pg_buf_init(&b, (size_t)16 << 20);
    stats *st = &s->st;
    int rc = pg_buf_printf(&b,
                           "{\"requests\":%llu,\"operations\":{\"GetProfile\":%llu,\"ListProfileTimes\":%llu,"
                           "\"other\":%llu},\"getProfileByPeriod\":{\"PT5M\":%llu,\"PT1H\":%llu,\"P1D\":%llu,"
                           "\"multi\":%llu},\"ok\":%llu,\"throttled\":%llu,\"failed\":%llu,\"hung\":%llu,"
                           "\"reset\":%llu,\"authFailed\":%llu,\"invalid\":%llu,\"notFound\":%llu,\"bytesSent\":%llu",
                           (unsigned long long)st->requests, (unsigned long long)st->getprofile,
                           (unsigned long long)st->listtimes, (unsigned long long)st->other,
                           (unsigned long long)st->by_period[PG_P5M], (unsigned long long)st->by_period[PG_P1H],
                           (unsigned long long)st->by_period[PG_P1D],
                           (unsigned long long)st->by_period[PG_PERIOD_COUNT], (unsigned long long)st->ok,
                           (unsigned long long)st->throttled, (unsigned long long)st->failed,
                           (unsigned long long)st->hung, (unsigned long long)st->reset,
                           (unsigned long long)st->auth_failed, (unsigned long long)st->invalid,
                           (unsigned long long)st->not_found, (unsigned long long)st->bytes_sent);
    /* Each other operation's count, by name. */
    rc = rc ?: pg_buf_puts(&b, ",\"apiOperations\":{");
    for (size_t i = 0; i < PG_OP_COUNT && rc == PG_OK; i++)
        rc = pg_buf_printf(&b, "%s\"%s\":%llu", i ? "," : "", pg_operations[i].name, (unsigned long long)st->ops[i]);
    rc = rc ?: pg_buf_puts(&b, "}");
    /* Requests per bucket: walk the LRU's keys through a fresh lookup-free dump. */
    pg_lru_stats ls;
    pg_lru_get_stats(st->buckets, &ls);
    rc = rc ?: pg_buf_printf(&b, ",\"traced\":%llu,\"lastTraceId\":", (unsigned long long)st->traced);
    rc = rc ?: pg_json_cstr(&b, st->last_trace);
    rc = rc ?: pg_buf_puts(&b, ",\"lastBodyType\":");
    rc = rc ?: pg_json_cstr(&b, st->last_body_type);
    rc = rc ?: pg_buf_printf(&b, ",\"distinctBuckets\":%zu,\"bucketKeysDropped\":%llu,\"requestsPerBucket\":{",
                             ls.entries, (unsigned long long)st->bucket_keys_dropped);
    bucket_dump bd = {&b, true, PG_OK};
    if (rc == PG_OK)
        pg_lru_foreach(st->buckets, dump_bucket, &bd);
    rc = rc ?: bd.rc;
    uint32_t maxsec = 0;
    rc = rc ?: pg_buf_puts(&b, "},\"requestsPerSecond\":{");
    bool first = true;
    int64_t now_sec = pg_floor_div(pg_realtime_ns(), PG_NS_PER_S);
    for (int64_t sec = now_sec - SECONDS_KEPT + 1; rc == PG_OK && sec <= now_sec; sec++) {
        size_t i = (size_t)(sec % SECONDS_KEPT);
        if (st->sec[i] != sec || st->sec_count[i] == 0)
            continue;
        maxsec = PG_MAX(maxsec, st->sec_count[i]);
        rc = pg_buf_printf(&b, "%s\"%lld\":%u", first ? "" : ",", (long long)sec, st->sec_count[i]);
        first = false;
    }
    rc = rc ?: pg_buf_printf(&b, "},\"maxRequestsInASecond\":%u", maxsec);
    rc = rc ?: pg_simcreds_stats_json(s->creds, &b);
    rc = rc ?: pg_buf_puts(&b, "}\n");
    if (rc != PG_OK) {
        pg_buf_free(&b);
        answer_error(s, req, PG_AE_INTERNAL, "stats too large");
        return;
    }
    const pg_http_out_header h[] = {{"Content-Type", "application/json"}};
    pg_http_respond(req, 200, h, 1, b.data, b.len);
    pg_buf_free(&b);
}

/* ------------------------------------------------------------------ dispatch */

void pg_sim_handle(pg_http_req *req, void *data)
{
    pg_sim *s = data;
    pg_slice query;
    pg_route_result m;
    /* Where credentials come from (STS, the container endpoint, IMDS): answered on their own. */
    if (pg_simcreds_handle(s->creds, req, pg_realtime_ns()))
        return;
    pg_route_head(routes, PG_ARRAY_LEN(routes), pg_http_req_head(req), &m, &query);
    if (m.status == 404) {
        /* Not one of the data operations: one of the service's others? */
        pg_route_result om;
        pg_route_head(pg_operation_routes, PG_OP_COUNT, pg_http_req_head(req), &om, &query);
        if (om.status == 200) {
            s->st.requests++;
            s->st.ops[om.id]++;
            count_second(s);
            if (!check_auth(s, req))
                return;
            char group[PG_GROUP_MAX + 1] = "";
            if (pg_operations[om.id].group == PG_OPG_PATH)
                group_of(om.params[0], group);
            if (throttled(s, req, group) || faulted(s, req))
                return;
            handle_api(s, req, (pg_op)om.id, &om, query);
            return;
        }
        if (om.status == 405)
            m = om;
    }
    if (m.status != 200 || (m.id != R_GETPROFILE && m.id != R_LISTTIMES)) {
        if (m.status == 200 && m.id == R_STATS) {
            handle_stats(s, req);
            return;
        }
        if (m.status == 200 && m.id == R_RESET) {
            stats_reset(s);
            pg_simcreds_reset_stats(s->creds);
            if (s->cfg.rate > 0)
                pg_tbucket_init(&s->account_tb, s->cfg.rate, s->cfg.burst, pg_monotonic_ns());
            s->ntbs = 0;
            static const char ok[] = "{\"reset\":true}\n";
            const pg_http_out_header hj[] = {{"Content-Type", "application/json"}};
            pg_http_respond(req, 200, hj, 1, ok, sizeof ok - 1);
            return;
        }
        if (m.status == 200 && m.id == R_HEALTHZ) {
            static const char ok[] = "{\"status\":\"ok\"}\n";
            const pg_http_out_header hj[] = {{"Content-Type", "application/json"}};
            pg_http_respond(req, 200, hj, 1, ok, sizeof ok - 1);
            return;
        }
        s->st.requests++;
        s->st.other++;
        pg_apierr e;
        pg_route_error(&m, pg_http_req_head(req), &e);
        const pg_http_out_header allow[] = {{"Allow", m.allow}};
        pg_http_respond_error_with(req, &e, allow, m.status == 405 ? 1 : 0);
        return;
    }
    s->st.requests++;
    size_t tlen = 0;
    const char *trace = pg_http_req_header(req, "x-amzn-trace-id", &tlen);
    if (trace != NULL) {
        s->st.traced++;
        pg_printable(trace, tlen, s->st.last_trace, sizeof s->st.last_trace);
    }
    if (m.id == R_GETPROFILE)
        s->st.getprofile++;
    else
        s->st.listtimes++;
    count_second(s);
    if (!check_auth(s, req))
        return;
    char group[PG_GROUP_MAX + 1];
    group_of(m.params[0], group);
    if (throttled(s, req, group) || faulted(s, req))
        return;
    if (m.id == R_GETPROFILE)
        handle_getprofile(s, req, m.params[0], query);
    else
        handle_listtimes(s, req, m.params[0], query);
}
