/*
 * profile_times.c: ListProfileTimes, cached (CONTRACT §9). The start times of a group's
 * aggregates are kept in fixed windows (a day of PT5M, 30 days of PT1H, 1000 days of P1D; see
 * listtimes.h): a window is looked up in the in-process cache, then Redis, then fetched from the
 * upstream (all its pages), under the same budget and queue as GetProfile; concurrent lookups of
 * one window share one fetch. A request needs the windows its range touches, filters them by the
 * rules of listtimes.c (range, retention, begun) and pages the result itself, with nextTokens
 * that only this request's next page accepts.
 *
 * A window that ends more than freshness.settle ago is complete: its list cannot grow any more,
 * and it is kept until its last aggregate leaves retention (what left retention since is
 * filtered out when answering). Other windows are live and kept for freshness.live_ttl.
 */
#include "gw.h"
#include "profgate/iso8601.h"
#include "profgate/listtimes.h"
#include "profgate/log.h"
#include "profgate/redis.h"
#include "profgate/upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LT_MAGIC 0x6c747271u /* "ltrq" */
#define LTF_MAGIC 0x6c746677u
/* A request touches at most this many windows (16 days of PT5M within 15 days' retention, or
 * archive-length ranges of P1D); a range needing more is refused rather than fetched. */
#define LT_WINDOWS_MAX 64
#define LT_BODY_MAX ((size_t)128 << 10)

/* One window's times, as the in-process cache holds them. */
typedef struct ltwin {
    int64_t expires_ns; /* monotonic */
    size_t n;
    int64_t times[];
} ltwin;

typedef struct ltreq ltreq;

/* A request waiting for a window. */
typedef struct ltwait {
    ltreq *r;
    size_t slot;
    struct ltwait *next;
} ltwait;

/* One window's lookup in flight: Redis, then the upstream's pages. */
typedef struct ltfetch {
    uint32_t magic;
    pg_gateway *gw;
    struct ltfetch *next;
    char key[PG_GROUP_MAX + 128];
    char group[PG_GROUP_MAX + 1];
    pg_period period;
    int64_t ws;       /* window start, seconds */
    bool complete;
    ltwait *waiters;
    pg_up_origin origin;
    int64_t *times;   /* PG_LT_WINDOW_MAX of them */
    size_t n;
    unsigned pages;
} ltfetch;

/* One client request. */
struct ltreq {
    uint32_t magic;
    pg_gateway *gw;
    pg_http_req *req;
    pg_listtimes_req q;
    pg_up_origin origin;
    int64_t lo, hi;  /* the starts this page may list, [lo, hi) */
    size_t nwin, pending;
    ltwin *win[LT_WINDOWS_MAX];
    bool failed;
    pg_apierr err;
};

static void win_free(void *v)
{
    free(v);
}

static void answer(ltreq *r);

/* One of the request's outstanding parts is done; the last one answers. */
static void release(ltreq *r)
{
    PG_ASSERT(r->magic == LT_MAGIC && r->pending > 0);
    if (--r->pending == 0)
        answer(r);
}

static void req_free(ltreq *r)
{
    for (size_t i = 0; i < r->nwin; i++)
        free(r->win[i]);
    r->gw->active--;
    r->magic = 0;
    free(r);
}

static ltwin *win_copy(const int64_t *times, size_t n, int64_t expires_ns)
{
    ltwin *w = malloc(sizeof *w + n * sizeof(int64_t));
    if (w == NULL)
        return NULL;
    w->expires_ns = expires_ns;
    w->n = n;
    memcpy(w->times, times, n * sizeof(int64_t));
    return w;
}

/* A window's part of the request is in (w: a copy the request owns; NULL with err: failed). */
static void deliver(ltreq *r, size_t slot, ltwin *w, const pg_apierr *err)
{
    PG_ASSERT(r->magic == LT_MAGIC && (w != NULL || err != NULL));
    if (w != NULL) {
        r->win[slot] = w;
    } else if (!r->failed) {
        r->failed = true;
        r->err = *err;
    }
    release(r);
}

static void window_key(const pg_gateway *gw, const char *group, pg_period p, int64_t ws, char *out, size_t len)
{
    int n = snprintf(out, len, "pg:v1:%s:%s:%s:times:%lld", gw->ns, group, pg_period_name(p), (long long)ws);
    PG_FMT_FITS(n, len);
}

/* How long a window may be kept from now: complete ones until their last aggregate leaves
 * retention, live ones for live_ttl. */
static int64_t window_ttl_ms(const pg_gateway *gw, pg_period p, int64_t ws, bool complete, int64_t now_ns)
{
    if (!complete)
        return PG_MAX(gw->d.cfg->live_ttl_ms, 1);
    int64_t end_s = ws + pg_listtimes_window_s(p);
    int64_t left_s = end_s + gw->planner.retention_s[p] - pg_floor_div(now_ns, PG_NS_PER_S);
    return PG_MAX(left_s, 1) * 1000;
}

static void fetch_end(ltfetch *f, const pg_apierr *err)
{
    pg_gateway *gw = f->gw;
    ltfetch **pp = &gw->lt_inflight;
    while (*pp != f)
        pp = &(*pp)->next;
    *pp = f->next;
    ltwait *w = f->waiters;
    while (w != NULL) {
        ltwait *next = w->next;
        ltwin *copy = err == NULL ? win_copy(f->times, f->n, 0) : NULL;
        pg_apierr oom;
        if (err == NULL && copy == NULL)
            pg_apierr_set(&oom, PG_AE_INTERNAL, "out of memory");
        deliver(w->r, w->slot, copy, err != NULL ? err : copy == NULL ? &oom : NULL);
        free(w);
        w = next;
    }
    free(f->times);
    f->magic = 0;
    free(f);
}

/* The window's list is complete: kept in both caches, handed to every waiter. */
static void fetch_done(ltfetch *f)
{
    pg_gateway *gw = f->gw;
    int64_t now = pg_clock_now(gw->d.clock);
    int64_t ttl_ms = window_ttl_ms(gw, f->period, f->ws, f->complete, now);
    ltwin *w = win_copy(f->times, f->n, pg_monotonic_ns() + ttl_ms * PG_NS_PER_MS);
    if (w != NULL && pg_lru_put(gw->times, f->key, strlen(f->key), w, sizeof *w + w->n * sizeof(int64_t)) != PG_OK)
        free(w);
    if (gw->d.redis != NULL && pg_redis_ready(gw->d.redis)) {
        pg_buf enc;
        pg_buf_init(&enc, 4 + 2 * PG_LT_WINDOW_MAX);
        if (pg_listtimes_encode(f->period, f->ws, f->times, f->n, &enc) == PG_OK)
            pg_redis_set(gw->d.redis, f->key, strlen(f->key), enc.data, enc.len, ttl_ms);
        pg_buf_free(&enc);
    }
    fetch_end(f, NULL);
}

static void fetch_page(ltfetch *f, const char *token);

static void on_page(void *ctx, const pg_up_result *res)
{
    ltfetch *f = ctx;
    PG_ASSERT(f->magic == LTF_MAGIC);
    if (!res->ok) {
        fetch_end(f, res->err);
        return;
    }
    char token[PG_LT_TOKEN_MAX + 1];
    size_t n = f->n;
    pg_apierr err;
    if (pg_listtimes_body_parse(res->body, res->len, f->times, PG_LT_WINDOW_MAX, &n, token) != PG_OK) {
        pg_log(PG_LOG_ERROR, "upstream ListProfileTimes answer for %s is unusable", f->key);
        pg_apierr_set(&err, PG_AE_INTERNAL, "The upstream returned a ListProfileTimes answer profgate cannot use");
        fetch_end(f, &err);
        return;
    }
    /* Keep what belongs to the window, ascending and once each, whatever the upstream sent. */
    int64_t len = pg_period_seconds(f->period), we = f->ws + pg_listtimes_window_s(f->period);
    size_t k = f->n;
    for (size_t i = f->n; i < n; i++) {
        int64_t t = f->times[i];
        if (t >= f->ws && t < we && (t - f->ws) % len == 0 && (k == 0 || t > f->times[k - 1]))
            f->times[k++] = t;
    }
    f->n = k;
    if (token[0] != '\0' && ++f->pages < PG_LT_WINDOW_MAX)
        fetch_page(f, token);
    else
        fetch_done(f);
}

/* One page of the window from the upstream, ascending, as large as pages go. */
static void fetch_page(ltfetch *f, const char *token)
{
    pg_gateway *gw = f->gw;
    char ts[PG_TS_FMT_MAX], te[PG_TS_FMT_MAX], es[64], ee[64], target[640], desc[400];
    pg_ts_format(f->ws * PG_NS_PER_S, ts, sizeof ts);
    pg_ts_format((f->ws + pg_listtimes_window_s(f->period)) * PG_NS_PER_S, te, sizeof te);
    pg_ts_query_encode(ts, es, sizeof es);
    pg_ts_query_encode(te, ee, sizeof ee);
    /* Group names and tokens are [A-Za-z0-9_-]: nothing to encode. */
    int n = snprintf(target, sizeof target,
                     "/profilingGroups/%s/profileTimes?period=%s&startTime=%s&endTime=%s&orderBy=TimestampAscending"
                     "&maxResults=%d%s%s",
                     f->group, pg_period_name(f->period), es, ee, PG_LT_MAX_RESULTS, token ? "&nextToken=" : "",
                     token ? token : "");
    PG_FMT_FITS(n, sizeof target);
    n = snprintf(desc, sizeof desc, "%s/%s/times/%s", f->group, pg_period_name(f->period), ts);
    PG_FMT_FITS(n, sizeof desc);
    pg_apierr err;
    gw->lt_upstream_calls++;
    if (pg_upstream_get(gw->d.upstream, PG_UP_OP_LISTTIMES, target, desc, &f->origin, on_page, f, NULL, &err) != PG_OK)
        fetch_end(f, &err);
}

static void on_redis(void *ctx, int status, const char *val, size_t len, int64_t ttl_ms)
{
    ltfetch *f = ctx;
    PG_ASSERT(f->magic == LTF_MAGIC);
    /* A complete window must not take a value stored while it was live (short TTL): that list
     * may lack aggregates that began after it was stored. */
    int64_t live_ms = f->gw->d.cfg->live_ttl_ms;
    if (status == PG_OK && !(f->complete && ttl_ms >= 0 && ttl_ms <= live_ms)) {
        size_t n;
        if (pg_listtimes_decode(f->period, f->ws, val, len, f->times, PG_LT_WINDOW_MAX, &n) == PG_OK) {
            f->n = n;
            f->gw->lt_redis_hits++;
            ltwin *w = win_copy(f->times, n, pg_monotonic_ns() + (ttl_ms > 0 ? ttl_ms : live_ms) * PG_NS_PER_MS);
            if (w != NULL && pg_lru_put(f->gw->times, f->key, strlen(f->key), w, sizeof *w + n * sizeof(int64_t)) != PG_OK)
                free(w);
            fetch_end(f, NULL);
            return;
        }
        pg_log(PG_LOG_WARN, "redis value for %s is unusable; fetching it again", f->key);
    }
    fetch_page(f, NULL);
}

/* Window ws of the request: from the in-process cache now, else a lookup (joined if one is in
 * flight). */
static void need_window(ltreq *r, size_t slot, int64_t ws)
{
    pg_gateway *gw = r->gw;
    char key[PG_GROUP_MAX + 128];
    window_key(gw, r->q.group, r->q.period, ws, key, sizeof key);
    pg_lru_entry *e = pg_lru_get(gw->times, key, strlen(key));
    if (e != NULL) {
        const ltwin *w = pg_lru_value(e);
        bool fresh = w->expires_ns > pg_monotonic_ns();
        ltwin *copy = fresh ? win_copy(w->times, w->n, 0) : NULL;
        pg_lru_release(gw->times, e);
        if (fresh) {
            gw->lt_l1_hits++;
            pg_apierr oom;
            pg_apierr_set(&oom, PG_AE_INTERNAL, "out of memory");
            deliver(r, slot, copy, copy == NULL ? &oom : NULL);
            return;
        }
        pg_lru_remove(gw->times, key, strlen(key));
    }
    ltwait *wt = calloc(1, sizeof *wt);
    ltfetch *f = gw->lt_inflight;
    while (f != NULL && strcmp(f->key, key) != 0)
        f = f->next;
    bool start = f == NULL;
    if (start && wt != NULL) {
        f = calloc(1, sizeof *f);
        int64_t *times = malloc(PG_LT_WINDOW_MAX * sizeof *times);
        if (f == NULL || times == NULL) {
            free(f);
            free(times);
            f = NULL;
        } else {
            *f = (ltfetch){.magic = LTF_MAGIC, .gw = gw, .next = gw->lt_inflight, .period = r->q.period, .ws = ws,
                           .origin = r->origin, .times = times};
            memcpy(f->key, key, strlen(key) + 1);
            memcpy(f->group, r->q.group, r->q.group_len + 1);
            int64_t we = ws + pg_listtimes_window_s(r->q.period);
            f->complete = (we + gw->planner.settle_s) * PG_NS_PER_S <= pg_clock_now(gw->d.clock);
            gw->lt_inflight = f;
        }
    }
    if (wt == NULL || f == NULL) {
        free(wt);
        pg_apierr oom;
        pg_apierr_set(&oom, PG_AE_INTERNAL, "out of memory");
        deliver(r, slot, NULL, &oom);
        return;
    }
    *wt = (ltwait){.r = r, .slot = slot, .next = f->waiters};
    f->waiters = wt;
    if (!start)
        return;
    if (gw->d.redis == NULL || !pg_redis_ready(gw->d.redis) ||
        pg_redis_get(gw->d.redis, key, strlen(key), on_redis, f) != PG_OK)
        fetch_page(f, NULL);
}

/* Every window is in: the page, in order, from the token's position. */
static void answer(ltreq *r)
{
    if (r->failed) {
        pg_http_respond_error(r->req, &r->err);
        req_free(r);
        return;
    }
    /* The windows are in ascending order, and so is each window's list. */
    int64_t *all = malloc((size_t)r->nwin * PG_LT_WINDOW_MAX * sizeof *all);
    pg_buf b;
    pg_buf_init(&b, LT_BODY_MAX);
    size_t n = 0;
    for (size_t i = 0; all != NULL && i < r->nwin; i++)
        for (size_t k = 0; k < r->win[i]->n; k++)
            if (r->win[i]->times[k] >= r->lo && r->win[i]->times[k] < r->hi)
                all[n++] = r->win[i]->times[k];
    int rc = all == NULL ? PG_ENOMEM : pg_buf_puts(&b, "{\"profileTimes\":[");
    size_t take = PG_MIN(n, (size_t)r->q.max_results);
    for (size_t i = 0; i < take && rc == PG_OK; i++) {
        char ts[PG_TS_FMT_MAX];
        pg_ts_format((r->q.descending ? all[n - 1 - i] : all[i]) * PG_NS_PER_S, ts, sizeof ts);
        rc = pg_buf_printf(&b, "%s{\"start\":\"%s\"}", i ? "," : "", ts);
    }
    rc = rc ?: pg_buf_puts(&b, "]");
    if (rc == PG_OK && take < n) {
        char tok[PG_LT_TOKEN_MAX + 1];
        pg_listtimes_token(&r->q, r->q.descending ? all[n - take] : all[take - 1], r->gw->token_key, tok);
        rc = pg_buf_printf(&b, ",\"nextToken\":\"%s\"", tok);
    }
    rc = rc ?: pg_buf_puts(&b, "}");
    free(all);
    if (rc != PG_OK) {
        pg_apierr e;
        pg_apierr_set(&e, PG_AE_INTERNAL, "profgate could not write the list: %s", pg_strerror(rc));
        pg_http_respond_error(r->req, &e);
    } else {
        const pg_http_out_header h[] = {{"Content-Type", "application/json"}};
        pg_http_respond(r->req, 200, h, 1, b.data, b.len);
    }
    pg_buf_free(&b);
    req_free(r);
}

void gw_listtimes(pg_gateway *gw, pg_http_req *req, pg_slice group, pg_slice query)
{
    pg_apierr err;
    pg_tenant *tenant = NULL;
    if (gw->d.tenants != NULL && (tenant = gw_authenticate(gw, req)) == NULL)
        return; /* answered */
    ltreq *r = calloc(1, sizeof *r);
    if (r == NULL) {
        pg_apierr_set(&err, PG_AE_INTERNAL, "out of memory");
        pg_http_respond_error(req, &err);
        return;
    }
    *r = (ltreq){.magic = LT_MAGIC, .gw = gw, .req = req};
    gw->active++;
    gw_origin_of(req, &r->origin);
    r->origin.cls = PG_FQ_INTERACTIVE;
    if (pg_listtimes_parse(group, query, &r->q, &err) != PG_OK) {
        pg_http_respond_error(req, &err);
        req_free(r);
        return;
    }
    if (tenant != NULL && !gw_admit(gw, req, tenant, "ListProfileTimes", r->q.group, &r->origin)) {
        req_free(r); /* answered */
        return;
    }
    int64_t len = pg_period_seconds(r->q.period);
    pg_listtimes_bounds(&r->q, pg_clock_now(gw->d.clock), gw->planner.retention_s[r->q.period], &r->lo, &r->hi);
    if (r->q.has_token) {
        int64_t last;
        if (pg_listtimes_token_check(&r->q, gw->token_key, &last) != PG_OK) {
            pg_apierr_set(&err, PG_AE_VALIDATION, "The nextToken is not valid");
            pg_http_respond_error(req, &err);
            req_free(r);
            return;
        }
        /* The next page starts after the last start listed. */
        if (r->q.descending)
            r->hi = PG_MIN(r->hi, last);
        else
            r->lo = PG_MAX(r->lo, last + len);
    }
    int64_t wlen = pg_listtimes_window_s(r->q.period);
    int64_t first = r->lo < r->hi ? pg_floor_div(r->lo, wlen) * wlen : r->hi;
    size_t nwin = r->lo < r->hi ? (size_t)((r->hi - first + wlen - 1) / wlen) : 0;
    if (nwin > LT_WINDOWS_MAX) {
        pg_apierr_set(&err, PG_AE_VALIDATION, "The range spans too many aggregates; ask for a shorter range");
        pg_http_respond_error(req, &err);
        req_free(r);
        return;
    }
    /* Nothing to look up (a range in the future, or past retention): an empty page at once. */
    r->nwin = r->pending = nwin;
    if (nwin == 0) {
        answer(r);
        return;
    }
    /* One extra count while the lookups start, so a window found at once cannot answer (and
     * free) the request before the loop is done. */
    r->pending++;
    for (size_t i = 0; i < nwin; i++)
        need_window(r, i, first + (int64_t)i * wlen);
    release(r);
}

void gw_listtimes_free(pg_gateway *gw)
{
    PG_ASSERT(gw->lt_inflight == NULL);
    pg_lru_free(gw->times);
}

pg_lru *gw_times_new(size_t bytes)
{
    return pg_lru_new(bytes, win_free);
}
