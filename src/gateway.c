/*
 * gateway.c: routes and per-route handling for profgate. Every error leaves through
 * pg_http_respond_error so it is always in the AWS wire format.
 *
 * GetProfile: validate, resolve, plan; answer a repeat of an all-complete plan from the answer
 * cache; fold the plan's stored merged runs; ask the fetcher for every other bucket at once (it
 * coalesces with other requests and paces the upstream), fold each bucket into its run or the
 * answer as it arrives, and when the last one is in, stream the encoding to the client. The first
 * failed bucket answers the request with its error; the other waits are left (their upstream
 * calls finish for whoever else needs them).
 */
#include "profgate/gateway.h"
#include "profgate/gzip.h"
#include "profgate/iso8601.h"
#include "profgate/merge.h"
#include "profgate/jsonw.h"
#include "profgate/log.h"
#include "profgate/lru.h"
#include "profgate/metrics.h"
#include "profgate/ops.h"
#include "profgate/router.h"
#include "profgate/sigv4.h"
#include "profgate/tenants.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

/* Route ids are the metrics' route label values. */
static const pg_route routes[] = {
    {PG_MR_GETPROFILE, "GET", "/profilingGroups/{}/profile"},
    {PG_MR_HEALTHZ, "GET", "/healthz"},
    {PG_MR_READYZ, "GET", "/readyz"},
    {PG_MR_METRICS, "GET", "/metrics"},
    {PG_MR_PLAN, "GET", "/_profgate/plan"},
};


#define PLAN_JSON_MAX (256 * 1024)

#define BODY_LIMIT ((size_t)1 << 30)

/* Streaming: the encoder makes pieces of about STREAM_CHUNK bytes, and pauses while more than
 * STREAM_HIGH bytes wait to be written, until they fall to STREAM_LOW. So a large answer holds
 * at most a few pieces beyond the merged tree, and a slow reader never makes profgate buffer
 * the whole body. An answer that fits in the first piece goes out whole, with Content-Length. */
#define STREAM_CHUNK ((size_t)64 * 1024)
#define STREAM_HIGH ((size_t)256 * 1024)
#define STREAM_LOW ((size_t)64 * 1024)

/* An encoded answer, kept for repeats of a request whose buckets are all complete: its content
 * can no longer change, so the same covered range, format, maxDepth and encoding give the same
 * bytes. The bytes live in a memfd, so repeats go out with sendfile and are never copied through
 * user space (the copy was most of the cost of a repeat); in a buffer if no memfd can be had. */
typedef struct answer {
    int fd; /* -1: in body */
    pg_buf body;
    size_t len;
} answer;

static void free_answer(void *v)
{
    answer *a = v;
    if (a->fd >= 0)
        close(a->fd);
    pg_buf_free(&a->body);
    free(a);
}

/* A memfd holding a copy of data, or -1. */
static int memfd_of(const pg_buf *data)
{
    int fd = memfd_create("profgate-answer", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < data->len) {
        ssize_t n = write(fd, data->data + off, data->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    return fd;
}


static void free_run(void *v)
{
    pg_profile_free(v);
    free(v);
}

static int answer_key(const pg_getprofile_req *r, const pg_plan *plan, bool gzip, char *out, size_t outlen)
{
    return snprintf(out, outlen, "%s|%lld|%lld|%d|%d|%d", r->group, (long long)plan->start_s, (long long)plan->end_s,
                    (int)r->format, r->max_depth, gzip);
}

static bool plan_immutable(const pg_plan *plan)
{
    if (plan->n == 0)
        return false;
    for (size_t i = 0; i < plan->n; i++)
        if (!plan->b[i].complete)
            return false;
    return true;
}

void pg_gateway_init(pg_gateway *gw, const pg_config *cfg, const pg_clock *clock, pg_fetcher *fetcher,
                     pg_upstream *upstream, pg_redis *redis)
{
    memset(gw, 0, sizeof *gw);
    gw->cfg = cfg;
    gw->clock = clock;
    gw->fetcher = fetcher;
    gw->upstream = upstream;
    gw->redis = redis;
    pg_planner_cfg_default(&gw->planner);
    gw->planner.settle_s = cfg->settle_ms / 1000;
    gw->planner.archive = cfg->cache_archive;
    pg_profile_limits_default(&gw->limits);
    /* Always there, so a reload can resize them (from or to 0: holding nothing). */
    gw->answers = pg_lru_new((size_t)cfg->cache_response_bytes, free_answer);
    gw->runs = pg_lru_new((size_t)cfg->cache_merged_bytes, free_run);
    PG_ASSERT(gw->answers != NULL && gw->runs != NULL);
    gw->start_time = (double)pg_realtime_ns() / 1e9;
}

void pg_gateway_reconfigure(pg_gateway *gw)
{
    gw->planner.settle_s = gw->cfg->settle_ms / 1000;
    pg_lru_set_capacity(gw->answers, (size_t)gw->cfg->cache_response_bytes);
    pg_lru_set_capacity(gw->runs, (size_t)gw->cfg->cache_merged_bytes);
}

void pg_gateway_free(pg_gateway *gw)
{
    pg_lru_free(gw->answers);
    pg_lru_free(gw->runs);
    gw->answers = gw->runs = NULL;
}

static int ts_field(pg_buf *b, const char *name, int64_t ns)
{
    char ts[PG_TS_FMT_MAX];
    pg_ts_format(ns, ts, sizeof ts);
    return pg_buf_printf(b, "\"%s\":\"%s\",\"%sMs\":%lld", name, ts, name,
                         (long long)pg_floor_div(ns, PG_NS_PER_MS));
}

int pg_plan_json(pg_buf *b, const pg_plan *plan, int64_t now_ns)
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
    int64_t now = pg_clock_now(gw->clock), s, e;
    if (pg_profile_query_parse(query, &r, &err) != PG_OK || pg_range_resolve(&r, now, &s, &e, &err) != PG_OK) {
        pg_http_respond_error(req, &err);
        return;
    }
    pg_plan plan;
    pg_plan_build(&gw->planner, s, e, now, &plan);
    pg_buf b;
    pg_buf_init(&b, PLAN_JSON_MAX);
    int rc = pg_plan_json(&b, &plan, now);
    PG_ASSERT(rc == PG_OK); /* a plan has at most PG_PLAN_MAX buckets: far below the limit */
    respond_json(req, 200, &b);
    pg_buf_free(&b);
}

typedef struct gpreq gpreq;

/* The context of one awaited bucket: which request, which slot. */
typedef struct gpslot {
    gpreq *g;
    size_t i;
    bool coalesced; /* joined a lookup already under way */
} gpslot;

/* A run: consecutive complete buckets of one period, merged once and kept (gw->runs), so later
 * requests covering the same run fold one profile instead of each bucket. Being built: acc. */
typedef struct gprun {
    size_t first, count, pending;
    pg_profile *acc;
} gprun;

#define NO_RUN UINT8_MAX

/* One GetProfile in progress. */
struct gpreq {
    pg_gateway *gw;
    pg_http_req *req;
    pg_getprofile_req r;
    bool gzip;
    pg_plan plan;
    pg_up_origin origin; /* for the upstream calls this request starts */
    pg_tenant *tenant;   /* who signed it (auth.mode = sigv4), else NULL */
    pg_profile acc;      /* the answer, buckets folded in as they arrive */
    size_t pending;      /* buckets not yet in */
    size_t hits, fetched, coalesced;
    bool done;           /* answered (or the client left) */
    /* Output: the writer, the piece being made, gzip state, the copy kept for the answer cache. */
    pg_pwriter *writer;
    pg_buf piece, zpiece;
    pg_gzip_stream *gz;
    pg_buf keep;
    bool keeping;
    bool pumping, aborted;
    pg_fetch_waiter *waiters[PG_PLAN_MAX];
    gpslot slots[PG_PLAN_MAX];
    gprun runs[PG_PLAN_MAX / 2];
    size_t nruns;
    uint8_t run_of[PG_PLAN_MAX]; /* the run a bucket is folded into, or NO_RUN */
    bool skip[PG_PLAN_MAX];      /* covered by a stored run */
};

static void gp_free(gpreq *g)
{
    g->gw->active--;
    pg_pwriter_free(g->writer);
    pg_gzip_stream_free(g->gz);
    pg_buf_free(&g->piece);
    pg_buf_free(&g->zpiece);
    pg_buf_free(&g->keep);
    for (size_t r = 0; r < g->nruns; r++)
        if (g->runs[r].acc != NULL)
            free_run(g->runs[r].acc);
    pg_profile_free(&g->acc);
    free(g);
}

/* Leaves every bucket still awaited; their upstream calls go on for other requests. */
static void gp_leave_all(gpreq *g)
{
    for (size_t i = 0; i < g->plan.n; i++)
        if (g->waiters[i] != NULL) {
            pg_fetcher_leave(g->gw->fetcher, g->waiters[i]);
            g->waiters[i] = NULL;
            g->pending--;
        }
}

static void gp_fail(gpreq *g, const pg_apierr *err)
{
    gp_leave_all(g);
    g->done = true;
    pg_http_respond_error(g->req, err);
    if (g->pending == 0)
        gp_free(g);
}

/* profgate's response headers for a profile; the strings live in the caller's storage. */
typedef struct profile_headers {
    char buckets[128], range[96];
    pg_http_out_header h[5];
    size_t n;
} profile_headers;

static void profile_headers_make(const gpreq *g, profile_headers *ph)
{
    char s[PG_TS_FMT_MAX], e[PG_TS_FMT_MAX];
    snprintf(ph->buckets, sizeof ph->buckets, "total=%zu hit=%zu fetched=%zu coalesced=%zu", g->plan.n, g->hits,
             g->fetched, g->coalesced);
    pg_ts_format(g->plan.start_s * PG_NS_PER_S, s, sizeof s);
    pg_ts_format(g->plan.end_s * PG_NS_PER_S, e, sizeof e);
    snprintf(ph->range, sizeof ph->range, "%s/%s", s, e);
    ph->h[0] = (pg_http_out_header){"Content-Type", pg_format_content_type(g->r.format)};
    ph->h[1] = (pg_http_out_header){"X-Profgate-Cache", g->hits == g->plan.n ? "hit" : g->hits > 0 ? "partial" : "miss"};
    ph->h[2] = (pg_http_out_header){"X-Profgate-Buckets", ph->buckets};
    ph->h[3] = (pg_http_out_header){"X-Profgate-Range", ph->range};
    ph->n = 4;
    if (g->gzip)
        ph->h[ph->n++] = (pg_http_out_header){"Content-Encoding", "gzip"};
}

/* Sends a whole profile with profgate's headers; shared (release != NULL) or copied. */
static void respond_profile(gpreq *g, const pg_buf *body, void (*release)(void *), void *ctx)
{
    profile_headers ph;
    profile_headers_make(g, &ph);
    if (release != NULL)
        pg_http_respond_shared(g->req, 200, ph.h, ph.n, body->data, body->len, release, ctx);
    else
        pg_http_respond(g->req, 200, ph.h, ph.n, body->data, body->len);
}

/* A repeat of an all-complete request: the stored answer, written without a copy. */
static bool answer_from_cache(gpreq *g)
{
    if (pg_lru_capacity(g->gw->answers) == 0 || !plan_immutable(&g->plan))
        return false;
    char key[400];
    int klen = answer_key(&g->r, &g->plan, g->gzip, key, sizeof key);
    pg_lru_entry *e = pg_lru_get(g->gw->answers, key, (size_t)klen);
    if (e == NULL)
        return false;
    g->gw->answer_hits++;
    g->hits = g->plan.n;
    g->done = true;
    /* The write holds the reference and releases it when done. */
    const answer *a = pg_lru_value(e);
    if (a->fd >= 0) {
        profile_headers ph;
        profile_headers_make(g, &ph);
        pg_http_respond_fd(g->req, 200, ph.h, ph.n, a->fd, a->len, pg_lru_release_entry, e);
    } else {
        respond_profile(g, &a->body, pg_lru_release_entry, e);
    }
    return true;
}

/* Keeps an all-complete answer for repeats; the cache takes body's buffer. */
static void store_answer(gpreq *g, pg_buf *body)
{
    char key[400];
    int klen = answer_key(&g->r, &g->plan, g->gzip, key, sizeof key);
    answer *a = malloc(sizeof *a);
    if (a == NULL) {
        pg_buf_free(body);
        return;
    }
    a->len = body->len;
    a->fd = memfd_of(body);
    if (a->fd >= 0) {
        pg_buf_free(body);
        pg_buf_init(&a->body, 0);
    } else {
        a->body = *body;
        pg_buf_init(body, 0);
    }
    pg_lru_put(g->gw->answers, key, (size_t)klen, a, a->len + sizeof *a);
}

static void encode_failed(gpreq *g, int rc)
{
    pg_apierr e;
    pg_apierr_set(&e, PG_AE_INTERNAL, "profgate could not encode the profile: %s", pg_strerror(rc));
    gp_fail(g, &e);
}

/* Ends a streamed answer (ok: completely sent) and the request. */
static void stream_done(gpreq *g, bool ok)
{
    pg_http_stream_end(g->req, ok);
    if (ok && g->keeping)
        store_answer(g, &g->keep);
    gp_free(g);
}

static void gp_pump(gpreq *g);

static void on_drain(pg_http_req *req, void *data)
{
    (void)req;
    gp_pump(data);
}

/* Sends the piece made so far (through gzip when asked); false when the client is gone. */
static bool send_piece(gpreq *g, bool last)
{
    pg_buf *out = &g->piece;
    if (g->gz != NULL) {
        pg_buf_reset(&g->zpiece);
        if (pg_gzip_stream_write(g->gz, g->piece.data, g->piece.len, last, &g->zpiece) != PG_OK)
            return false;
        out = &g->zpiece;
    }
    if (g->keeping && pg_buf_append(&g->keep, out->data, out->len) != PG_OK) {
        g->keeping = false; /* larger than an answer worth keeping */
        pg_buf_free(&g->keep);
    }
    bool sent = pg_http_stream_write(g->req, out->data, out->len);
    pg_buf_reset(&g->piece);
    return sent;
}

/* Makes and sends pieces until the answer is complete or the connection's queue is full. */
static void gp_pump(gpreq *g)
{
    g->pumping = true;
    for (;;) {
        if (g->aborted) {
            stream_done(g, false);
            return;
        }
        if (pg_http_stream_queued(g->req) > STREAM_HIGH) {
            pg_http_stream_on_drain(g->req, STREAM_LOW, on_drain, g);
            g->pumping = false;
            return;
        }
        bool done;
        int rc = pg_pwriter_step(g->writer, &g->piece, STREAM_CHUNK, &done);
        if (rc != PG_OK) {
            pg_log(PG_LOG_ERROR, "rid=%s encoding failed mid-answer: %s", pg_http_req_id(g->req), pg_strerror(rc));
            stream_done(g, false);
            return;
        }
        if (!send_piece(g, done) || g->aborted) {
            stream_done(g, false);
            return;
        }
        if (done) {
            stream_done(g, true);
            return;
        }
    }
}

static void gp_finish(gpreq *g)
{
    g->done = true;
    /* The covered range is authoritative for start/end, whatever the buckets said. */
    g->acc.has_start = g->acc.has_end = true;
    g->acc.start_ms = g->plan.start_s * 1000;
    g->acc.end_ms = g->plan.end_s * 1000;
    pg_buf_init(&g->piece, BODY_LIMIT);
    pg_buf_init(&g->zpiece, BODY_LIMIT);
    int rc = pg_pwriter_new(&g->acc, g->r.format == PG_FMT_ION, (uint32_t)g->r.max_depth, &g->writer);
    bool done = false;
    rc = rc ?: pg_pwriter_step(g->writer, &g->piece, STREAM_CHUNK, &done);
    bool cacheable = pg_lru_capacity(g->gw->answers) > 0 && plan_immutable(&g->plan);
    if (rc == PG_OK && done) {
        /* Small enough to go out whole, with a Content-Length. */
        pg_buf *body = &g->piece;
        if (g->gzip) {
            rc = pg_gzip(g->piece.data, g->piece.len, 6, &g->zpiece);
            body = &g->zpiece;
        }
        if (rc != PG_OK) {
            encode_failed(g, rc);
            return;
        }
        respond_profile(g, body, NULL, NULL);
        if (cacheable)
            store_answer(g, body);
        gp_free(g);
        return;
    }
    if (rc == PG_OK && g->gzip)
        rc = pg_gzip_stream_new(6, &g->gz);
    if (rc != PG_OK) {
        encode_failed(g, rc); /* nothing sent yet: a proper error */
        return;
    }
    if (cacheable) {
        /* An answer larger than a quarter of the cache would only evict the rest. */
        pg_buf_init(&g->keep, (size_t)g->gw->cfg->cache_response_bytes / 4);
        g->keeping = true;
    }
    profile_headers ph;
    profile_headers_make(g, &ph);
    g->pumping = true; /* a failed first write aborts inside stream_begin: the pump ends it */
    pg_http_stream_begin(g->req, 200, ph.h, ph.n);
    gp_pump(g);
}

static int run_key(const gpreq *g, const gprun *run, char *out, size_t outlen)
{
    const pg_bucket *b = &g->plan.b[run->first];
    return snprintf(out, outlen, "%s|%d|%lld|%zu", g->r.group, (int)b->period, (long long)b->start_s, run->count);
}

/* Splits the plan into runs (two or more consecutive complete buckets of one period), folds the
 * ones already stored and marks their buckets as not needed; the others get an accumulator. */
static int plan_runs(gpreq *g)
{
    memset(g->run_of, NO_RUN, sizeof g->run_of);
    if (pg_lru_capacity(g->gw->runs) == 0)
        return PG_OK;
    const pg_plan *plan = &g->plan;
    for (size_t i = 0; i < plan->n;) {
        size_t j = i;
        while (j < plan->n && plan->b[j].complete && plan->b[j].period == plan->b[i].period)
            j++;
        if (j - i < 2) {
            i = j > i ? j : i + 1;
            continue;
        }
        gprun *run = &g->runs[g->nruns];
        *run = (gprun){.first = i, .count = j - i};
        char key[400];
        int klen = run_key(g, run, key, sizeof key);
        pg_lru_entry *e = pg_lru_get(g->gw->runs, key, (size_t)klen);
        if (e != NULL) {
            int rc = pg_profile_merge(&g->acc, pg_lru_value(e));
            pg_lru_release(g->gw->runs, e);
            if (rc != PG_OK)
                return rc;
            g->gw->run_hits++;
            g->gw->m.buckets[PG_MB_MERGED_RUN] += run->count;
            g->hits += run->count;
            for (size_t k = i; k < j; k++)
                g->skip[k] = true;
        } else {
            run->acc = malloc(sizeof *run->acc);
            if (run->acc == NULL || pg_profile_init(run->acc, &g->gw->limits) != PG_OK) {
                free(run->acc);
                return PG_ENOMEM;
            }
            run->pending = run->count;
            for (size_t k = i; k < j; k++)
                g->run_of[k] = (uint8_t)g->nruns;
            g->nruns++;
        }
        i = j;
    }
    return PG_OK;
}

/* Folds bucket i's profile into its run, or into the answer. A run whose last bucket is in is
 * folded into the answer and stored. */
static int fold_bucket(gpreq *g, size_t i, const pg_profile *prof)
{
    if (g->run_of[i] == NO_RUN)
        return pg_profile_merge(&g->acc, prof);
    gprun *run = &g->runs[g->run_of[i]];
    int rc = pg_profile_merge(run->acc, prof);
    if (rc != PG_OK || --run->pending > 0)
        return rc;
    rc = pg_profile_merge(&g->acc, run->acc);
    char key[400];
    int klen = run_key(g, run, key, sizeof key);
    pg_profile *done = run->acc;
    run->acc = NULL;
    g->gw->run_stores++;
    pg_lru_put(g->gw->runs, key, (size_t)klen, done, pg_profile_memory(done)); /* takes it */
    return rc;
}

static void on_bucket(void *ctx, pg_bucket_data *data, const pg_apierr *err)
{
    gpslot *slot = ctx;
    gpreq *g = slot->g;
    PG_ASSERT(!g->done && g->waiters[slot->i] != NULL);
    g->waiters[slot->i] = NULL; /* answered: the fetcher has already freed the waiter */
    g->pending--;
    if (data == NULL) {
        gp_fail(g, err);
        return;
    }
    if (data->source == PG_SRC_REDIS) {
        /* Served by the shared cache: a hit, not an upstream fetch or a coalesced one. */
        g->hits++;
        if (slot->coalesced)
            g->coalesced--;
        else
            g->fetched--;
        g->gw->m.buckets[PG_MB_REDIS]++;
    } else {
        g->gw->m.buckets[slot->coalesced ? PG_MB_COALESCED : PG_MB_UPSTREAM]++;
    }
    int rc = fold_bucket(g, slot->i, &data->prof);
    pg_bucket_data_release(data);
    if (rc != PG_OK) {
        pg_apierr e;
        pg_apierr_set(&e, PG_AE_INTERNAL, "The merged profile exceeds profgate's limits: %s", pg_strerror(rc));
        gp_fail(g, &e);
        return;
    }
    if (g->pending == 0)
        gp_finish(g);
}

static void on_client_gone(pg_http_req *req, void *data)
{
    gpreq *g = data;
    (void)req;
    if (g->writer != NULL) {
        /* Streaming: inside the pump the pump ends it; while waiting for room, end it now. */
        g->aborted = true;
        if (!g->pumping)
            stream_done(g, false);
        return;
    }
    gp_leave_all(g);
    g->done = true;
    pg_apierr e;
    pg_apierr_set(&e, PG_AE_INTERNAL, "client left");
    pg_http_respond_error(g->req, &e); /* discarded: the connection is gone */
    gp_free(g);
}

/* How long Redis may keep a fetched bucket: a complete one until its upstream retention ends (for
 * ever in archive mode), a live one for freshness.live_ttl; negative: not at all. */
static int64_t l2_ttl_ms(const pg_gateway *gw, const pg_bucket *b, int64_t now_ns)
{
    if (!b->complete)
        return gw->cfg->live_ttl_ms > 0 ? gw->cfg->live_ttl_ms : -1;
    if (gw->planner.archive)
        return 0;
    int64_t ttl = (b->start_s + gw->planner.retention_s[b->period]) * 1000 - pg_floor_div(now_ns, PG_NS_PER_MS);
    return ttl > 0 ? ttl : -1;
}

/* The request id, and the client's X-Amzn-Trace-Id when it is a plausible one (printable ASCII,
 * no spaces, short): it is forwarded upstream, so nothing else is. */
static void origin_of(const pg_http_req *req, pg_up_origin *o)
{
    snprintf(o->rid, sizeof o->rid, "%s", pg_http_req_id(req));
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

static const char *tenant_secret(void *ctx, const char *akid, size_t len)
{
    pg_tenant *t = pg_tenants_by_key(ctx, akid, len);
    return t ? t->secret : NULL;
}

/* auth.mode = sigv4: the request's signature against the tenants' keys. Answers the failure in
 * the AWS format and returns NULL, or returns the tenant. Signatures are dated by the client's
 * real clock, whatever a test clock says "now" is for the data. */
static pg_tenant *authenticate(pg_gateway *gw, pg_http_req *req)
{
    pg_sigv4_verify_cfg vc = {.service = "codeguru-profiler", .region = NULL,
                              .max_skew_ns = gw->cfg->auth_max_skew_ms * PG_NS_PER_MS, .secret_for = tenant_secret,
                              .ctx = gw->tenants};
    char why[256], akid[129];
    pg_sigv4_result r = pg_sigv4_verify(&vc, pg_http_req_head(req), pg_realtime_ns(), why, sizeof why, akid);
    if (r == PG_SIGV4_OK)
        return pg_tenants_by_key(gw->tenants, akid, strlen(akid));
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

/* Quota and group access for a signed request; answers and returns false when refused. */
static bool admit(pg_gateway *gw, gpreq *g)
{
    pg_tenant *t = g->tenant;
    pg_apierr e;
    if (!pg_tenant_take(t, pg_monotonic_ns())) {
        t->throttled++;
        pg_apierr_set(&e, PG_AE_THROTTLING, "Rate exceeded");
        pg_http_respond_error(g->req, &e);
        return false;
    }
    if (!pg_tenant_may_read(t, g->r.group)) {
        t->denied++;
        gw->m.auth_failures[PG_MA_ACCESS_DENIED]++;
        pg_apierr_set(&e, PG_AE_ACCESS_DENIED,
                      "Tenant %s (%s) is not authorized to perform: codeguru-profiler:GetProfile on resource: "
                      "profilingGroup/%s",
                      t->name, t->access_key, g->r.group);
        pg_http_respond_error(g->req, &e);
        return false;
    }
    g->origin.flow = (uint8_t)(pg_tenant_slot(gw->tenants, t) + 1);
    return true;
}

static void handle_getprofile(pg_gateway *gw, pg_http_req *req, pg_slice group, pg_slice query)
{
    gpreq *g = calloc(1, sizeof *g);
    pg_apierr err;
    if (g == NULL || pg_profile_init(&g->acc, &gw->limits) != PG_OK) {
        free(g);
        pg_apierr_set(&err, PG_AE_INTERNAL, "out of memory");
        pg_http_respond_error(req, &err);
        return;
    }
    gw->active++;
    g->gw = gw;
    g->req = req;
    pg_http_req_set_note(req, PG_MR_GETPROFILE + 1, g);
    origin_of(req, &g->origin);
    if (gw->tenants != NULL && (g->tenant = authenticate(gw, req)) == NULL) {
        gp_free(g);
        return;
    }
    size_t alen = 0;
    const char *accept = pg_http_req_header(req, "accept", &alen);
    int64_t now = pg_clock_now(gw->clock), s, e;
    if (pg_getprofile_parse(group, query, accept, alen, &g->r, &err) != PG_OK ||
        pg_range_resolve(&g->r, now, &s, &e, &err) != PG_OK) {
        pg_http_respond_error(req, &err);
        gp_free(g);
        return;
    }
    if (g->tenant != NULL && !admit(gw, g)) {
        gp_free(g);
        return;
    }
    g->gzip = pg_http_req_accepts_gzip(req);
    pg_plan_build(&gw->planner, s, e, now, &g->plan);
    g->origin.cls = g->plan.n > (size_t)gw->cfg->up_bulk_buckets ? PG_FQ_BULK : PG_FQ_INTERACTIVE;
    pg_log(PG_LOG_DEBUG, "rid=%s group=%s plan buckets=%zu", pg_http_req_id(req), g->r.group, g->plan.n);
    if (answer_from_cache(g)) {
        gp_free(g);
        return;
    }
    pg_http_req_on_abort(req, on_client_gone, g);
    int prc = plan_runs(g);
    if (prc != PG_OK) {
        pg_apierr_set(&err, PG_AE_INTERNAL, "The merged profile exceeds profgate's limits: %s", pg_strerror(prc));
        gp_fail(g, &err);
        return;
    }
    for (size_t i = 0; i < g->plan.n; i++) {
        bool coalesced = false;
        if (g->skip[i])
            continue;
        const pg_bucket *b = &g->plan.b[i];
        pg_bucket_data *hit = NULL;
        g->slots[i] = (gpslot){.g = g, .i = i, .coalesced = false};
        pg_fetch_outcome o = pg_fetcher_get(gw->fetcher, g->r.group, b->period, b->start_s, b->complete,
                                            l2_ttl_ms(gw, b, now), &g->origin, on_bucket, &g->slots[i], &hit,
                                            &g->waiters[i], &coalesced, &err);
        if (o == PG_FETCH_FAILED) {
            gp_fail(g, &err);
            return;
        }
        if (o == PG_FETCH_HIT) {
            /* Cache hits never wait behind upstream work: folded in right away. */
            g->hits++;
            gw->m.buckets[PG_MB_L1]++;
            int rc = fold_bucket(g, i, &hit->prof);
            pg_bucket_data_release(hit);
            if (rc != PG_OK) {
                pg_apierr_set(&err, PG_AE_INTERNAL, "The merged profile exceeds profgate's limits: %s", pg_strerror(rc));
                gp_fail(g, &err);
                return;
            }
            continue;
        }
        g->pending++; /* waiter callbacks never run inside pg_fetcher_get */
        g->slots[i].coalesced = coalesced;
        g->fetched += !coalesced;
        g->coalesced += coalesced;
    }
    if (g->pending == 0)
        gp_finish(g);
}

void pg_gateway_done(pg_http_req *req, const pg_http_done_info *info, void *data)
{
    pg_gateway *gw = data;
    void *note = NULL;
    int tag = pg_http_req_note(req, &note);
    pg_m_route route = tag > 0 ? (pg_m_route)(tag - 1) : PG_MR_OTHER;
    const gpreq *g = route == PG_MR_GETPROFILE ? note : NULL;
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
    if (!gw->cfg->access_log || !pg_log_enabled(PG_LOG_INFO) || route == PG_MR_HEALTHZ || route == PG_MR_READYZ ||
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
            snprintf(range, sizeof range, "%s/%s", a, b);
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

void pg_gateway_handle(pg_http_req *req, void *data)
{
    pg_gateway *gw = data;
    pg_slice query;
    pg_route_result m;
    pg_route_head(routes, PG_ARRAY_LEN(routes), pg_http_req_head(req), &m, &query);
    if (m.status != 200) {
        pg_apierr err;
        pg_route_error(&m, pg_http_req_head(req), &err);
        const pg_http_out_header allow[] = {{"Allow", m.allow}};
        pg_http_respond_error_with(req, &err, allow, m.status == 405 ? 1 : 0);
        return;
    }
    pg_http_req_set_note(req, m.id + 1, NULL);
    switch ((pg_m_route)m.id) {
    case PG_MR_GETPROFILE:
        handle_getprofile(gw, req, m.params[0], query);
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
    case PG_MR_OTHER:
    case PG_MR_COUNT:
        break;
    }
    PG_UNREACHABLE();
}
