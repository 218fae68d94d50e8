/*
 * upstream.c: signed GetProfile calls to the CodeGuru Profiler API over libcurl (driven by the
 * loop through curl_uv): pacing, the in-flight cap, the fair wait queue, retries and the
 * circuit breaker. What an attempt's outcome means is decided by the pure upstream_outcome.
 * A call moves QUEUED -> INFLIGHT -> (BACKOFF -> QUEUED)* -> done; one function (finish_attempt)
 * decides what a completed attempt means. Calls are freed only after their retry timer closed.
 */
#include "profgate/upstream.h"
#include "profgate/up_outcome.h"
#include "profgate/fleet.h"
#include "profgate/credsrc.h"
#include "curl_uv.h"
#include "profgate/buf.h"
#include "profgate/clock.h"
#include "profgate/fsm.h"
#include "profgate/iso8601.h"
#include "profgate/log.h"
#include "profgate/ratelimit.h"
#include "profgate/sigv4.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* A call's life: NEW -> QUEUED -> INFLIGHT -> (BACKOFF -> QUEUED -> INFLIGHT)* -> DONE; a queued or
 * backing-off call may also end (deadline, breaker, shutdown). call_set_state checks each move. */
typedef enum { S_NEW, S_QUEUED, S_INFLIGHT, S_BACKOFF, S_DONE, S_COUNT } cstate;
static const char *const cstate_names[S_COUNT] = {"new", "queued", "inflight", "backoff", "done"};
/* The breaker: CLOSED -> OPEN (failures) -> HALF_OPEN (cool-down over) -> CLOSED or OPEN. */
typedef enum { B_CLOSED, B_OPEN, B_HALF_OPEN, B_COUNT } bstate;
static const char *const bstate_names[B_COUNT] = {"closed", "open", "half-open"};

typedef struct pg_up_call call;
#define CALL_MAGIC 0x75706361u /* "upca" */

struct pg_up_call {
    uint32_t magic;
    pg_upstream *up;
    call *prev, *next; /* in the in-flight/backoff list */
    pg_fq_item qi;     /* in the wait queue */
    cstate state;
    char target[640];  /* path and query, as sent and signed */
    char method[8];    /* GET unless a passed-through operation says otherwise */
    unsigned op;       /* its budget (PG_UP_OP_*) */
    char req_ctype[128]; /* the body's Content-Type (JSON unless a passed-through request said) */
    char resp_ctype[128]; /* the answer's, as the upstream gave it */
    char *req_body;    /* owned; NULL without a body */
    size_t req_len;
    bool once;         /* not repeated after an attempt the service may have carried out */
    char desc[320];    /* for logs: group/period/start */
    pg_up_origin origin;
    char aws_rid[80];  /* the upstream's x-amzn-RequestId for the last attempt, for logs */
    int64_t attempt_t0;
    int64_t deadline;  /* monotonic ns */
    int attempts;
    CURL *easy;
    struct curl_slist *hdrs;
    pg_buf body;
    char errtype[96];
    long status;
    uv_timer_t timer;  /* backoff */
    bool timer_init;
    pg_up_done done;
    void *ctx;
    pg_apierr err;     /* the last attempt's error */
};

typedef struct clist {
    call *head, *tail;
    size_t n;
} clist;

#define UPSTREAM_MAGIC 0x75707374u /* "upst" */
/* Slots booked ahead in the fleet's budget: one per queued call, at most this many (as many as
 * transfers may run at once by default), so members share the budget by demand. */
#define FLEET_BOOKINGS 16
/* A booked slot not used within this long after it fell due is dropped: used later, it would
 * add to the burst the budget allows. */
#define BOOKING_GRACE_NS PG_NS_PER_S

struct pg_upstream {
    uint32_t magic;
    uv_loop_t *loop;
    pg_upstream_cfg cfg;
    pg_credsrc *creds;   /* borrowed; NULL: requests go out unsigned */
    char host[300]; /* Host header value (and signed) */
    pg_curl_uv *curl;    /* NULL once closed */
    uv_timer_t pace_timer;
    int open_handles;    /* the pace timer, call timers, and curl_uv until it has closed */
    pg_fairq queue;      /* GetProfile calls waiting for a token and a slot, fair across tenants */
    /* Every other operation: its own budget and queue (first come, first served). */
    struct {
        clist waiting;
        pg_tbucket tb;
        double max_rate;
    } ops[PG_UP_OPS];
    size_t ops_waiting;  /* calls in all of them */
    uv_timer_t ops_timer; /* the next token of an operation with calls waiting */
    clist active;        /* in flight or backing off */
    pg_tbucket tb;       /* the local pacer: the whole budget alone, this member's share of the fleet's */
    double max_rate, min_rate;
    int64_t last_decrease;
    pg_fleet *fleet;     /* the fleet's shared budget, or NULL */
    double share;        /* the fraction of the budget the local pacer holds (1 without a fleet) */
    unsigned fleet_asks; /* bookings asked for, not answered yet */
    int64_t booked[FLEET_BOOKINGS]; /* slots booked in the fleet's budget: when each may start */
    unsigned nbooked;
    int64_t fleet_retry_at; /* after a failed take: local pacing until then */
    int64_t fleet_full_until; /* the budget is booked beyond its horizon: no new booking until then */
    int64_t local_at;    /* the last call the local pacer allowed while a fleet was attached */
    bstate breaker;
    uint32_t consecutive_failures;
    int64_t breaker_until;
    char breaker_reason[200];
    bool closing;
    void (*closed)(void *);
    void *closed_data;
    uint64_t rng;
    pg_upstream_stats st;
};

static void pump(pg_upstream *u);
static void finish_attempt(call *c, CURLcode res);

#define CALL_OF(it) ((call *)((char *)(it) - offsetof(call, qi)))

/* Waits in its tenant's flow, in its class: interactive (small-plan) calls before the same
 * tenant's refreshes, and those before its bulk ones. */
static void list_push(clist *l, call *c);

static void enqueue(pg_upstream *u, call *c)
{
    if (c->op != PG_UP_OP_GETPROFILE) {
        list_push(&u->ops[c->op].waiting, c);
        u->ops_waiting++;
        return;
    }
    pg_fairq_push(&u->queue, &c->qi, c->origin.flow, c->origin.cls);
}

void pg_upstream_raise(pg_upstream *u, pg_up_call *c, unsigned cls)
{
    if (cls >= c->origin.cls)
        return;
    c->origin.cls = (uint8_t)cls;
    if (c->state == S_QUEUED && c->op == PG_UP_OP_GETPROFILE)
        pg_fairq_raise(&u->queue, &c->qi, cls);
}

/* ------------------------------------------------------------------ lists */

static void list_push(clist *l, call *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->n++;
}

static void list_remove(clist *l, call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    l->n--;
}

/* ------------------------------------------------------------------ helpers */

static uint64_t rnd(pg_upstream *u)
{
    u->rng ^= u->rng << 13;
    u->rng ^= u->rng >> 7;
    u->rng ^= u->rng << 17;
    return u->rng;
}

static int64_t now_ns(void)
{
    return pg_monotonic_ns();
}

static void maybe_closed(pg_upstream *u);

static void call_set_state(call *c, cstate next)
{
    static const bool legal[S_COUNT][S_COUNT] = {
        [S_NEW] = {[S_QUEUED] = true},
        [S_QUEUED] = {[S_INFLIGHT] = true, [S_DONE] = true},
        [S_INFLIGHT] = {[S_BACKOFF] = true, [S_DONE] = true},
        [S_BACKOFF] = {[S_QUEUED] = true, [S_DONE] = true},
    };
    static const pg_fsm fsm = {"upstream call", cstate_names, S_COUNT, &legal[0][0]};
    pg_fsm_move(&fsm, c->desc, c->state, next);
    c->state = next;
}

static void breaker_set_state(pg_upstream *u, bstate next)
{
    static const bool legal[B_COUNT][B_COUNT] = {
        [B_CLOSED] = {[B_OPEN] = true},
        [B_OPEN] = {[B_HALF_OPEN] = true, [B_CLOSED] = true},
        [B_HALF_OPEN] = {[B_OPEN] = true, [B_CLOSED] = true},
    };
    static const pg_fsm fsm = {"upstream breaker", bstate_names, B_COUNT, &legal[0][0]};
    if (next == u->breaker)
        return;
    pg_fsm_move(&fsm, u->host, u->breaker, next);
    u->breaker = next;
}

static void on_call_timer_closed(uv_handle_t *h)
{
    call *c = h->data;
    pg_upstream *u = c->up;
    pg_buf_free(&c->body);
    free(c->req_body);
    free(c);
    u->open_handles--;
    maybe_closed(u);
}

static void release_transfer(call *c);

/* Delivers the call's outcome and frees it (after its timer closes, if it has one). */
static void complete(call *c, bool ok)
{
    pg_upstream *u = c->up;
    call_set_state(c, S_DONE);
    /* A call that ends while queued again after an attempt (its deadline passed waiting for a
     * token, a slot or credentials, or shutdown) still holds that attempt's easy handle. */
    release_transfer(c);
    /* A failure the upstream itself answered (a 4xx, or the last 429 or 5xx) also carries its
     * error type and body, for answers passed through as they came. */
    bool answered = !ok && c->status >= 400 && c->errtype[0];
    pg_up_result r = {.ok = ok, .status = (int)c->status, .err = ok ? NULL : &c->err,
                      .body = ok || answered ? c->body.data : NULL, .len = ok || answered ? c->body.len : 0,
                      .attempts = c->attempts, .errtype = answered ? c->errtype : NULL, .aws_rid = c->aws_rid,
                      .content_type = c->resp_ctype};
    if (r.body == NULL && (ok || answered))
        r.body = "";
    c->done(c->ctx, &r);
    if (c->timer_init) {
        uv_close((uv_handle_t *)&c->timer, on_call_timer_closed);
        return;
    }
    pg_buf_free(&c->body);
    free(c->req_body);
    free(c);
    maybe_closed(u);
}

static void fail_now(call *c, pg_apierr_kind kind, const char *msg)
{
    pg_apierr_set(&c->err, kind, "%s", msg);
    complete(c, false);
}

/* ------------------------------------------------------------------ AIMD and breaker */

static void on_throttled(pg_upstream *u)
{
    int64_t now = now_ns();
    /* One decrease per second at most: a burst of 429s is one signal, not many. */
    if (now - u->last_decrease < PG_NS_PER_S)
        return;
    u->last_decrease = now;
    double r = u->tb.rate * 0.5;
    u->tb.rate = r < u->min_rate ? u->min_rate : r;
    if (u->tb.tokens > 1)
        u->tb.tokens = 1;
    pg_log(PG_LOG_WARN, "upstream throttled: pacing lowered to %.2f req/s", u->tb.rate);
}

static void on_success_rate(pg_upstream *u)
{
    if (u->tb.rate < u->max_rate) {
        double r = u->tb.rate + u->max_rate * 0.05;
        u->tb.rate = r > u->max_rate ? u->max_rate : r;
    }
}

static void breaker_success(pg_upstream *u)
{
    if (u->breaker != B_CLOSED)
        pg_log(PG_LOG_INFO, "upstream circuit closed: the upstream answers again");
    breaker_set_state(u, B_CLOSED);
    u->consecutive_failures = 0;
}

static void breaker_failure(pg_upstream *u, const char *why)
{
    u->consecutive_failures++;
    if (u->breaker == B_HALF_OPEN || (u->breaker == B_CLOSED && u->consecutive_failures >= u->cfg.breaker_failures)) {
        breaker_set_state(u, B_OPEN);
        u->breaker_until = now_ns() + (int64_t)u->cfg.breaker_cooldown_ms * PG_NS_PER_MS;
        snprintf(u->breaker_reason, sizeof u->breaker_reason, "%.190s", why);
        pg_log(PG_LOG_ERROR, "upstream circuit open for %llu ms after %u consecutive failures (last: %s)",
               (unsigned long long)u->cfg.breaker_cooldown_ms, u->consecutive_failures, why);
    }
}

/* Is the breaker letting calls through now? Moves OPEN -> HALF_OPEN when the cool-down ends. */
static bool breaker_allows(pg_upstream *u)
{
    if (u->breaker == B_OPEN && now_ns() >= u->breaker_until) {
        breaker_set_state(u, B_HALF_OPEN);
        pg_log(PG_LOG_INFO, "upstream circuit half-open: probing");
    }
    if (u->breaker == B_OPEN)
        return false;
    if (u->breaker == B_HALF_OPEN)
        return u->active.n == 0; /* one probe at a time */
    return true;
}

/* What is left of an open breaker's cool-down, in ms (at least 1). */
static int64_t breaker_left_ms(const pg_upstream *u)
{
    int64_t left = (u->breaker_until - now_ns()) / PG_NS_PER_MS;
    return left > 0 ? left : 1;
}

static void breaker_message(pg_upstream *u, char *out, size_t outlen)
{
    int64_t left = (u->breaker_until - now_ns()) / PG_NS_PER_MS;
    snprintf(out, outlen,
             "The upstream is failing (%u consecutive failures; last: %s); profgate fails fast for %lld ms "
             "more before trying again",
             u->consecutive_failures, u->breaker_reason, (long long)(left > 0 ? left : 0));
}

/* ------------------------------------------------------------------ curl on libuv */

/* A transfer ended: the call it belongs to decides what the attempt means. */
static void on_transfer_done(void *data, CURL *easy, CURLcode res)
{
    (void)data;
    call *c = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&c);
    PG_ASSERT(c != NULL && c->magic == CALL_MAGIC);
    finish_attempt(c, res);
}

/* After curl's events: ended transfers freed slots, so queued calls may start. */
static void on_transfers_moved(void *data)
{
    pump(data);
}

/* ------------------------------------------------------------------ one attempt */

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    call *c = userp;
    size_t len = size * n;
    if (pg_buf_append(&c->body, data, len) != PG_OK)
        return 0; /* over max_response: curl stops with CURLE_WRITE_ERROR */
    return len;
}

/* The value of header line data[0..len) when it is "name: value", trimmed; else false. */
static bool header_value(const char *data, size_t len, const char *name, const char **v, size_t *vl)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(data, name, nl) != 0 || data[nl] != ':')
        return false;
    *v = data + nl + 1;
    *vl = len - nl - 1;
    while (*vl > 0 && (**v == ' ' || **v == '\t'))
        (*v)++, (*vl)--;
    while (*vl > 0 && ((*v)[*vl - 1] == '\r' || (*v)[*vl - 1] == '\n' || (*v)[*vl - 1] == ' '))
        (*vl)--;
    return true;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    call *c = userp;
    size_t len = size * n;
    const char *v;
    size_t vl;
    if (header_value(data, len, "x-amzn-errortype", &v, &vl)) {
        /* "ns#Name:extra" -> "Name" */
        const char *hash = memchr(v, '#', vl);
        if (hash) {
            vl -= (size_t)(hash + 1 - v);
            v = hash + 1;
        }
        const char *colon = memchr(v, ':', vl);
        if (colon)
            vl = (size_t)(colon - v);
        /* An error type is a shape name: letters, digits, '.', '_'. Anything else is not copied, so
         * a hostile answer cannot put bytes of its choosing into the header profgate passes on. */
        size_t o = 0;
        for (size_t i = 0; i < vl && o + 1 < sizeof c->errtype; i++)
            if ((v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') ||
                v[i] == '.' || v[i] == '_')
                c->errtype[o++] = v[i];
        c->errtype[o] = '\0';
    } else if (header_value(data, len, "x-amzn-requestid", &v, &vl)) {
        pg_printable(v, vl, c->aws_rid, sizeof c->aws_rid);
    } else if (header_value(data, len, "content-type", &v, &vl)) {
        pg_header_safe(v, vl, c->resp_ctype, sizeof c->resp_ctype);
    }
    return len;
}

static bool add_header(call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool add_header(call *c, const char *fmt, ...)
{
    char line[4352];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct curl_slist *l = curl_slist_append(c->hdrs, line);
    if (l == NULL)
        return false;
    c->hdrs = l;
    return true;
}

/* The attempt's request headers, signed with SigV4 when there are credentials. Signed at each
 * attempt: the date is part of the signature. */
static bool sign_headers(call *c, const pg_creds *cr)
{
    pg_upstream *u = c->up;
    curl_slist_free_all(c->hdrs);
    c->hdrs = NULL;
    char amz_date[17];
    pg_amz_date(pg_realtime_ns(), amz_date);
    bool ok = add_header(c, "Host: %s", u->host) && add_header(c, "Accept: application/json") &&
              add_header(c, "X-Amz-Date: %s", amz_date) && add_header(c, "User-Agent: profgate/%s", PG_VERSION);
    /* A body's type: the client's (PostAgentProfile sends Ion or JSON), else JSON. */
    if (ok && c->req_body != NULL)
        ok = add_header(c, "Content-Type: %s", c->req_ctype);
    /* Not signed: tracing headers are not part of the request's meaning (the SDKs do the same). */
    if (ok && c->origin.trace[0])
        ok = add_header(c, "X-Amzn-Trace-Id: %s", c->origin.trace);
    if (ok && cr != NULL) {
        pg_http_header signed_hdrs[5] = {
            {"host", 4, u->host, strlen(u->host)},
            {"accept", 6, "application/json", 16},
            {"x-amz-date", 10, amz_date, 16},
        };
        size_t ns = 3;
        if (c->req_body != NULL)
            signed_hdrs[ns++] = (pg_http_header){"content-type", 12, c->req_ctype, strlen(c->req_ctype)};
        if (cr->session_token[0]) {
            signed_hdrs[ns++] = (pg_http_header){"x-amz-security-token", 20, cr->session_token,
                                                 strlen(cr->session_token)};
            ok = add_header(c, "X-Amz-Security-Token: %s", cr->session_token);
        }
        pg_slice path, query;
        pg_target_split(c->target, strlen(c->target), &path, &query);
        char body_hash[65] = PG_SHA256_HEX_EMPTY;
        if (c->req_body != NULL)
            pg_sha256_hex(c->req_body, c->req_len, body_hash);
        pg_sigv4_input in = {.method = c->method, .path = path, .query = query, .headers = signed_hdrs, .nheaders = ns,
                             .payload_hash = body_hash, .amz_date = amz_date, .region = u->cfg.region,
                             .service = "codeguru-profiler"};
        pg_buf auth;
        pg_buf_init(&auth, 2048);
        ok = ok && pg_sigv4_authorization(&in, cr->access_key, cr->secret_key, &auth) == PG_OK &&
             pg_buf_append(&auth, "", 1) == PG_OK && add_header(c, "Authorization: %s", auth.data);
        pg_buf_free(&auth);
    }
    return ok;
}

static bool start_attempt(call *c, const pg_creds *cr)
{
    pg_upstream *u = c->up;
    c->attempts++;
    u->st.attempts++;
    c->status = 0;
    c->errtype[0] = '\0';
    pg_buf_reset(&c->body);
    if (!sign_headers(c, cr))
        return false;
    if (c->easy == NULL) {
        c->easy = curl_easy_init();
        if (c->easy == NULL)
            return false;
    } else {
        curl_easy_reset(c->easy);
    }
    char url[1200];
    int n = snprintf(url, sizeof url, "%s%s", u->cfg.endpoint, c->target);
    PG_FMT_FITS(n, sizeof url); /* the endpoint and the target are both bounded, together below this */
    int64_t left_ms = (c->deadline - now_ns()) / PG_NS_PER_MS;
    long timeout = (long)PG_MIN((int64_t)u->cfg.attempt_timeout_ms, PG_MAX(left_ms, 1));
    CURL *e = c->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (strcmp(c->method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
    if (c->req_body != NULL) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->req_body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->req_len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, PG_MIN(timeout, 5000L));
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)u->cfg.max_response);
    if (u->cfg.ca_bundle[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, u->cfg.ca_bundle);
    if (u->cfg.insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (pg_curl_uv_add(u->curl, e) != PG_OK)
        return false;
    call_set_state(c, S_INFLIGHT);
    list_push(&u->active, c);
    c->errtype[0] = c->aws_rid[0] = c->resp_ctype[0] = '\0';
    c->attempt_t0 = now_ns();
    pg_log(PG_LOG_DEBUG, "upstream %s attempt %d rid=%s", c->desc, c->attempts, c->origin.rid[0] ? c->origin.rid : "-");
    return true;
}

void pg_upstream_error_message(const char *body, size_t len, char *out, size_t outlen)
{
    PG_ASSERT(outlen > 0);
    out[0] = '\0';
    const char *p = len ? memmem(body, len, "\"message\"", 9) : NULL;
    if (p == NULL)
        return;
    const char *end = body + len;
    p += 9;
    while (p < end && (*p == ' ' || *p == ':'))
        p++;
    if (p >= end || *p != '"')
        return;
    p++;
    size_t o = 0;
    while (p < end && *p != '"' && o + 1 < outlen) {
        if (*p == '\\' && p + 1 < end)
            p++;
        out[o++] = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f ? *p : '?';
        p++;
    }
    out[o] = '\0';
}

static void on_backoff_done(uv_timer_t *t)
{
    call *c = t->data;
    pg_upstream *u = c->up;
    list_remove(&u->active, c);
    call_set_state(c, S_QUEUED);
    enqueue(u, c);
    pump(u);
}

static void schedule_retry(call *c)
{
    pg_upstream *u = c->up;
    /* Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]. */
    uint64_t ceiling = u->cfg.backoff_base_ms << PG_MIN(c->attempts - 1, 20);
    if (ceiling > u->cfg.backoff_cap_ms)
        ceiling = u->cfg.backoff_cap_ms;
    uint64_t delay = ceiling ? rnd(u) % (ceiling + 1) : 0;
    if (!c->timer_init) {
        PG_CHECK_UV(uv_timer_init(u->loop, &c->timer));
        c->timer.data = c;
        c->timer_init = true;
        u->open_handles++;
    }
    call_set_state(c, S_BACKOFF);
    list_push(&u->active, c);
    u->st.retries++;
    PG_CHECK_UV(uv_timer_start(&c->timer, on_backoff_done, delay, 0));
}

static pg_up_transport transport_of(CURLcode res)
{
    if (res == CURLE_OK)
        return PG_UPT_DONE;
    if (res == CURLE_WRITE_ERROR || res == CURLE_FILESIZE_EXCEEDED)
        return PG_UPT_TOO_LARGE; /* on_body refused more than max_response */
    return res == CURLE_OPERATION_TIMEDOUT ? PG_UPT_TIMEOUT : PG_UPT_CONNECT;
}

/* The client's error for a failed attempt (kept in case it was the last), and a short reason for
 * the log line. msg is the upstream's own message, possibly empty. */
static void attempt_error(call *c, const pg_up_outcome *o, CURLcode res, const char *msg, char *why, size_t whylen)
{
    pg_upstream *u = c->up;
    const char *sep = msg[0] ? ": " : "";
    if (res != CURLE_OK) {
        if (o->retry)
            pg_apierr_set(&c->err, o->kind, "The upstream could not be reached: %s", curl_easy_strerror(res));
        else
            pg_apierr_set(&c->err, o->kind, "The upstream's response exceeded %zu bytes", u->cfg.max_response);
        snprintf(why, whylen, "%s", curl_easy_strerror(res));
        return;
    }
    snprintf(why, whylen, "%ld %s", c->status, c->errtype);
    switch (o->kind) {
    case PG_AE_THROTTLING:
        pg_apierr_set(&c->err, o->kind, "Rate exceeded: the upstream kept throttling profgate's request%s%s", sep, msg);
        snprintf(why, whylen, "429 ThrottlingException");
        return;
    case PG_AE_VALIDATION:
        pg_apierr_set(&c->err, o->kind, "%s", msg[0] ? msg : "The upstream rejected the request");
        return;
    case PG_AE_NOT_FOUND:
        pg_apierr_set(&c->err, o->kind, "%s", msg[0] ? msg : "The profiling group does not exist");
        return;
    case PG_AE_ACCESS_DENIED:
        pg_apierr_set(&c->err, o->kind,
                      "The upstream rejected profgate's credentials (%s%s%s); check the gateway's AWS credentials",
                      c->errtype[0] ? c->errtype : "403", sep, msg);
        return;
    default:
        break;
    }
    if (o->cls == PG_UPC_SERVER_ERROR)
        pg_apierr_set(&c->err, o->kind, "The upstream failed: %ld %s%s%s", c->status, c->errtype, sep, msg);
    else
        pg_apierr_set(&c->err, o->kind, "The upstream answered %ld %s%s%s", c->status, c->errtype, sep, msg);
}

static void count_attempt(pg_upstream_stats *st, pg_up_class cls)
{
    switch (cls) {
    case PG_UPC_OK: st->ok++; return;
    case PG_UPC_THROTTLED: st->throttled++; return;
    case PG_UPC_SERVER_ERROR: st->server_errors++; return;
    case PG_UPC_TIMEOUT: st->timeouts++; return;
    case PG_UPC_CONNECTION_ERROR: st->conn_errors++; return;
    case PG_UPC_CLIENT_ERROR: st->client_errors++; return;
    }
    PG_UNREACHABLE();
}

static void release_transfer(call *c)
{
    curl_easy_cleanup(c->easy);
    c->easy = NULL;
    curl_slist_free_all(c->hdrs);
    c->hdrs = NULL;
}

/* One attempt ended: pg_up_classify says what it means; this carries it out. */
static void finish_attempt(call *c, CURLcode res)
{
    pg_upstream *u = c->up;
    list_remove(&u->active, c);
    pg_histo_observe(&u->st.attempt_seconds, (uint64_t)(now_ns() - c->attempt_t0));
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);
    pg_up_outcome o = pg_up_classify(transport_of(res), c->status, c->errtype);
    count_attempt(&u->st, o.cls);
    if (o.cls == PG_UPC_OK) {
        breaker_success(u);
        on_success_rate(u);
        release_transfer(c);
        complete(c, true);
        return;
    }
    char msg[256], why[300];
    pg_upstream_error_message(c->body.data, c->body.len, msg, sizeof msg);
    attempt_error(c, &o, res, msg, why, sizeof why);
    if (o.throttled && c->op != PG_UP_OP_GETPROFILE) {
        /* That operation's own limit: only its pace halves. */
        pg_tbucket *tb = &u->ops[c->op].tb;
        tb->rate = PG_MAX(tb->rate * 0.5, 0.05);
        tb->tokens = PG_MIN(tb->tokens, 1.0);
    } else if (o.throttled) {
        on_throttled(u);
        if (u->fleet != NULL) {
            /* Slots booked at the old rate are given up: the fleet's budget keeps them taken, so
             * the whole fleet pauses for them, then books again at the lowered rate. */
            u->nbooked = 0;
            pg_fleet_throttled(u->fleet, "GetProfile");
        }
    }
    if (o.breaker_failure)
        breaker_failure(u, why);
    bool time_left = now_ns() + (int64_t)u->cfg.backoff_base_ms * PG_NS_PER_MS < c->deadline;
    bool repeatable = !c->once || o.throttled; /* a throttled write was not carried out */
    if (o.retry && repeatable && !u->closing && (uint32_t)c->attempts <= u->cfg.retries && time_left &&
        u->breaker != B_OPEN) {
        pg_log(PG_LOG_INFO, "upstream %s attempt %d failed (%s); retrying rid=%s aws_rid=%s", c->desc, c->attempts, why,
               c->origin.rid[0] ? c->origin.rid : "-", c->aws_rid[0] ? c->aws_rid : "-");
        schedule_retry(c);
        return;
    }
    pg_log(PG_LOG_WARN, "upstream %s failed after %d attempt(s): %s rid=%s aws_rid=%s", c->desc, c->attempts, why,
           c->origin.rid[0] ? c->origin.rid : "-", c->aws_rid[0] ? c->aws_rid : "-");
    release_transfer(c);
    complete(c, false);
}

/* ------------------------------------------------------------------ pacing */

static void on_pace_timer(uv_timer_t *t)
{
    pump(t->data);
}

/* The local pacer's limits for the share of the budget it holds: all of it alone, 1 / fleet size
 * while the fleet's budget cannot be reached. A change starts the local AIMD afresh. */
static void set_share(pg_upstream *u, double share)
{
    if (share == u->share)
        return;
    /* Falling back from the fleet's budget: the upstream's bucket is likely spent by the fleet, so
     * this member's share starts empty rather than adding a burst of its own. */
    bool falling_back = share < u->share && u->fleet != NULL;
    u->share = share;
    u->max_rate = u->cfg.rate * share;
    u->min_rate = PG_MAX(u->max_rate / 64, 0.05);
    u->tb.rate = u->max_rate;
    u->tb.burst = PG_MAX(u->cfg.burst * share, 1.0);
    if (u->tb.tokens > u->tb.burst)
        u->tb.tokens = u->tb.burst;
    if (falling_back) {
        u->tb.tokens = 0;
        u->tb.last_ns = now_ns();
    }
}

static void wait_then_pump(pg_upstream *u, int64_t wait_ns)
{
    PG_CHECK_UV(uv_timer_start(&u->pace_timer, on_pace_timer, (uint64_t)(wait_ns + PG_NS_PER_MS - 1) / PG_NS_PER_MS, 0));
}

static void on_fleet_take(void *ctx, int status, bool booked, int64_t wait_ms)
{
    pg_upstream *u = ctx;
    PG_ASSERT(u->magic == UPSTREAM_MAGIC);
    PG_ASSERT(u->fleet_asks > 0);
    u->fleet_asks--;
    int64_t now = now_ns();
    if (status != PG_OK) {
        /* Redis is slow or away: this member's share, locally, for a second before asking again. */
        u->fleet_retry_at = now + PG_NS_PER_S;
    } else if (!booked) {
        u->fleet_full_until = now + PG_MIN(wait_ms, 1000) * PG_NS_PER_MS;
        wait_then_pump(u, PG_MIN(wait_ms, 1000) * PG_NS_PER_MS);
        return;
    } else {
        PG_ASSERT(u->nbooked < FLEET_BOOKINGS);
        u->booked[u->nbooked++] = now + wait_ms * PG_NS_PER_MS;
    }
    pump(u);
}

/* The earliest booked slot still worth using (stale ones are dropped), or -1. */
static int next_booking(pg_upstream *u, int64_t now)
{
    int best = -1;
    for (unsigned i = 0; i < u->nbooked;) {
        if (u->booked[i] + BOOKING_GRACE_NS < now) {
            u->booked[i] = u->booked[--u->nbooked];
            continue;
        }
        if (best < 0 || u->booked[i] < u->booked[best])
            best = (int)i;
        i++;
    }
    return best;
}

/* From the fleet's budget: a booked slot that is due, or more bookings asked for (one per queued
 * call) and a wake-up at the earliest. -1: the fleet cannot be asked (use the local pacer). */
static int pace_fleet(pg_upstream *u, int64_t now)
{
    int b = next_booking(u, now);
    if (b >= 0 && u->booked[b] <= now) {
        u->booked[b] = u->booked[--u->nbooked];
        return 1;
    }
    size_t want = PG_MIN(u->queue.n, (size_t)FLEET_BOOKINGS);
    while (now >= u->fleet_full_until && u->fleet_asks + u->nbooked < want) {
        bool drained = u->local_at != 0 && now - u->local_at < 10 * PG_NS_PER_S;
        if (pg_fleet_take(u->fleet, "GetProfile", drained, on_fleet_take, u) != PG_OK)
            break;
        u->fleet_asks++;
    }
    if (b >= 0)
        wait_then_pump(u, u->booked[b] - now);
    return b >= 0 || u->fleet_asks > 0 || now < u->fleet_full_until ? 0 : -1;
}

/* One call's worth of budget, now? From the fleet while it can be reached (bookings come back
 * through on_fleet_take, which pumps again), else from the local pacer. */
static bool pace(pg_upstream *u, int64_t now)
{
    if (u->fleet != NULL && pg_fleet_ready(u->fleet) && now >= u->fleet_retry_at) {
        set_share(u, 1.0);
        int r = pace_fleet(u, now);
        if (r >= 0)
            return r == 1;
    }
    if (u->fleet != NULL)
        set_share(u, pg_fleet_local_share(u->fleet));
    int64_t wait = pg_tbucket_wait_ns(&u->tb, now, 1);
    if (wait > 0) {
        wait_then_pump(u, wait);
        return false;
    }
    PG_ASSERT(pg_tbucket_take(&u->tb, now, 1));
    if (u->fleet != NULL) {
        u->st.fleet_local++;
        u->local_at = now;
    }
    return true;
}

/* Starts as many queued calls as the pacer, the in-flight cap and the breaker allow. */
/* The credentials the next attempt is signed with. *cr is NULL for unsigned requests; false when
 * the credentials are not usable now (not fetched yet, or expired while a refresh keeps
 * failing): calls then wait in their queues, bounded by their deadlines, and the provider's
 * watcher pumps again when new ones arrive. */
static bool creds_now(pg_upstream *u, const pg_creds **cr)
{
    *cr = NULL;
    if (u->creds == NULL || !pg_credsrc_signs(u->creds))
        return true;
    *cr = pg_credsrc_get(u->creds, pg_realtime_ns());
    return *cr != NULL;
}

/* What a call that waited for credentials until its deadline is told. */
static void creds_deadline_message(pg_upstream *u, pg_apierr *err)
{
    pg_credsrc_stats cs;
    pg_credsrc_get_stats(u->creds, pg_realtime_ns(), &cs);
    pg_apierr_set(err, PG_AE_UNAVAILABLE, "profgate has no valid AWS credentials (provider %s%s%s); the call waited %llu ms",
                  cs.provider, cs.last_error[0] ? ": " : "", cs.last_error, (unsigned long long)u->cfg.deadline_ms);
}

static void pump_ops(pg_upstream *u);

static void on_ops_timer(uv_timer_t *t)
{
    pump(t->data);
}

/* The other operations: each takes from its own budget (its share while in a fleet), so one
 * operation's calls never wait for another's tokens. Calls past their deadline end here. */
static void pump_ops(pg_upstream *u)
{
    if (u->ops_waiting == 0)
        return;
    int64_t now = now_ns(), next = INT64_MAX;
    double share = u->fleet != NULL ? pg_fleet_local_share(u->fleet) : 1.0;
    for (unsigned op = PG_UP_OP_LISTTIMES; op < PG_UP_OPS; op++) {
        clist *q = &u->ops[op].waiting;
        pg_tbucket *tb = &u->ops[op].tb;
        /* Recovery after a 429: a tenth of the budget back per call let through. */
        double max = u->ops[op].max_rate * share;
        if (tb->rate > max)
            tb->rate = max;
        while (q->head != NULL) {
            call *c = q->head;
            const pg_creds *cr;
            bool signable = creds_now(u, &cr);
            if (now >= c->deadline) {
                list_remove(q, c);
                u->ops_waiting--;
                if (!signable)
                    creds_deadline_message(u, &c->err);
                else
                    pg_apierr_set(&c->err, PG_AE_UNAVAILABLE,
                                  "The upstream did not answer within profgate's deadline (%llu ms)",
                                  (unsigned long long)u->cfg.deadline_ms);
                complete(c, false);
                continue;
            }
            if (!breaker_allows(u) && u->breaker == B_OPEN) {
                /* As for GetProfile: an open circuit answers at once, with when to come back. */
                char m[PG_APIERR_MSG_MAX];
                breaker_message(u, m, sizeof m);
                list_remove(q, c);
                u->ops_waiting--;
                u->st.refused++;
                pg_apierr_set(&c->err, PG_AE_UNAVAILABLE, "%s", m);
                c->err.retry_after_ms = breaker_left_ms(u);
                complete(c, false);
                continue;
            }
            if (!breaker_allows(u) || u->active.n >= u->cfg.max_inflight)
                return; /* a probe or a slot ends: pump runs again */
            if (!signable) {
                next = PG_MIN(next, PG_MIN(c->deadline, now + PG_NS_PER_S));
                break;
            }
            if (!pg_tbucket_take(tb, now, 1)) {
                next = PG_MIN(next, now + pg_tbucket_wait_ns(tb, now, 1));
                break;
            }
            tb->rate = PG_MIN(max, tb->rate + max / 10);
            list_remove(q, c);
            u->ops_waiting--;
            if (!start_attempt(c, cr))
                fail_now(c, PG_AE_INTERNAL, "profgate could not start an upstream request");
        }
    }
    if (next != INT64_MAX)
        PG_CHECK_UV(uv_timer_start(&u->ops_timer, on_ops_timer, (uint64_t)(next - now + PG_NS_PER_MS - 1) / PG_NS_PER_MS, 0));
}

static void pump(pg_upstream *u)
{
    if (u->closing)
        return;
    pump_ops(u);
    for (pg_fq_item *it; (it = pg_fairq_peek(&u->queue)) != NULL;) {
        call *c = CALL_OF(it);
        int64_t now = now_ns();
        const pg_creds *cr;
        bool signable = creds_now(u, &cr);
        if (now >= c->deadline) {
            pg_fairq_remove(&u->queue, &c->qi);
            if (!signable && c->err.message[0] == '\0')
                creds_deadline_message(u, &c->err);
            else if (c->err.message[0] == '\0')
                pg_apierr_set(&c->err, PG_AE_UNAVAILABLE,
                              "The upstream did not answer within profgate's deadline (%llu ms)",
                              (unsigned long long)u->cfg.deadline_ms);
            complete(c, false);
            continue;
        }
        if (!breaker_allows(u)) {
            if (u->breaker == B_OPEN) {
                char m[PG_APIERR_MSG_MAX];
                breaker_message(u, m, sizeof m);
                pg_fairq_remove(&u->queue, &c->qi);
                u->st.refused++;
                pg_apierr_set(&c->err, PG_AE_UNAVAILABLE, "%s", m);
                c->err.retry_after_ms = breaker_left_ms(u);
                complete(c, false);
                continue;
            }
            return; /* half-open with a probe in flight */
        }
        if (!signable) {
            wait_then_pump(u, PG_MIN(c->deadline - now, PG_NS_PER_S));
            return;
        }
        if (u->active.n >= u->cfg.max_inflight || !pace(u, now))
            return;
        pg_fairq_pop(&u->queue, &c->qi);
        if (!start_attempt(c, cr)) {
            fail_now(c, PG_AE_INTERNAL, "profgate could not start an upstream request");
            continue;
        }
    }
}

void pg_upstream_set_fleet(pg_upstream *u, pg_fleet *fleet)
{
    u->fleet = fleet;
    u->nbooked = 0;
    if (fleet == NULL)
        set_share(u, 1.0);
}

/* ------------------------------------------------------------------ public */

void pg_upstream_global_init(void)
{
    PG_ASSERT(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
}

void pg_upstream_global_cleanup(void)
{
    curl_global_cleanup();
}

static void on_new_creds(void *data)
{
    pump(data);
}

pg_upstream *pg_upstream_new(uv_loop_t *loop, const pg_upstream_cfg *cfg, pg_credsrc *creds, char *err,
                             size_t errlen)
{
    pg_upstream *u = calloc(1, sizeof *u);
    if (u == NULL)
        return NULL;
    u->magic = UPSTREAM_MAGIC;
    u->loop = loop;
    u->cfg = *cfg;
    u->creds = creds;
    /* Host header: the endpoint's authority (with a non-default port, as SigV4 signs it). */
    if (pg_sigv4_host(cfg->endpoint, false, u->host, sizeof u->host) != PG_OK) {
        snprintf(err, errlen, "upstream.endpoint '%.200s' must be http://HOST[:PORT] or https://HOST[:PORT], no path",
                 cfg->endpoint);
        free(u);
        return NULL;
    }
    u->curl = pg_curl_uv_new(loop, on_transfer_done, on_transfers_moved, u);
    if (u->curl == NULL) {
        snprintf(err, errlen, "curl_multi_init failed");
        free(u);
        return NULL;
    }
    CURLM *multi = pg_curl_uv_multi(u->curl);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->max_inflight);
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    PG_CHECK_UV(uv_timer_init(loop, &u->pace_timer));
    u->pace_timer.data = u;
    PG_CHECK_UV(uv_timer_init(loop, &u->ops_timer));
    u->ops_timer.data = u;
    for (unsigned op = 0; op < PG_UP_OPS; op++) {
        u->ops[op].max_rate = cfg->op_rate;
        pg_tbucket_init(&u->ops[op].tb, cfg->op_rate, cfg->op_burst, pg_monotonic_ns());
    }
    u->open_handles = 3; /* the pace and operations timers, and curl_uv */
    u->max_rate = cfg->rate;
    u->min_rate = cfg->rate / 64 < 0.05 ? 0.05 : cfg->rate / 64;
    u->share = 1.0;
    pg_tbucket_init(&u->tb, cfg->rate, cfg->burst, now_ns());
    pg_fairq_init(&u->queue);
    if (getrandom(&u->rng, sizeof u->rng, 0) != sizeof u->rng || u->rng == 0)
        u->rng = (uint64_t)now_ns() | 1;
    if (creds != NULL)
        pg_credsrc_watch(creds, on_new_creds, u);
    return u;
}

void pg_ts_query_encode(const char *ts, char *out, size_t outlen)
{
    /* "2026-11-24T10:00:00Z" with ':' percent-encoded, as the SDKs send it. */
    size_t o = 0;
    for (const char *q = ts; *q && o + 4 < outlen; q++) {
        if (*q == ':') {
            memcpy(out + o, "%3A", 3);
            o += 3;
        } else {
            out[o++] = *q;
        }
    }
    out[o] = '\0';
}

int pg_upstream_get(pg_upstream *u, unsigned op, const char *target, const char *desc, const pg_up_origin *origin,
                    pg_up_done done, void *ctx, pg_up_call **handle, pg_apierr *err)
{
    const pg_up_request rq = {.method = "GET", .target = target, .desc = desc, .op = op};
    return pg_upstream_request(u, &rq, origin, done, ctx, handle, err);
}

/* Roughly when n waiting calls have drained at rate (at most a minute): a refusal's Retry-After. */
static int64_t drain_ms(size_t n, double rate)
{
    return (int64_t)PG_MIN((double)n / PG_MAX(rate, 0.05) * 1000, 60000.0);
}

int pg_upstream_request(pg_upstream *u, const pg_up_request *rq, const pg_up_origin *origin, pg_up_done done, void *ctx,
                        pg_up_call **handle, pg_apierr *err)
{
    const char *target = rq->target, *desc = rq->desc;
    PG_ASSERT(strlen(target) < sizeof(((call *)0)->target) && target[0] == '/' && strlen(rq->method) < 8);
    if (u->closing) {
        pg_apierr_set(err, PG_AE_UNAVAILABLE, "profgate is shutting down");
        return PG_EIO;
    }
    if (u->breaker == B_OPEN && now_ns() < u->breaker_until) {
        char m[PG_APIERR_MSG_MAX];
        breaker_message(u, m, sizeof m);
        pg_apierr_set(err, PG_AE_UNAVAILABLE, "%s", m);
        err->retry_after_ms = breaker_left_ms(u);
        u->st.refused++;
        return PG_EIO;
    }
    PG_ASSERT(rq->op < PG_UP_OPS);
    if (rq->op != PG_UP_OP_GETPROFILE && u->ops[rq->op].waiting.n >= u->cfg.queue_max) {
        pg_tbucket *tb = &u->ops[rq->op].tb;
        pg_apierr_set(err, PG_AE_UNAVAILABLE, "profgate's upstream queue for this operation is full (%u calls waiting)",
                      u->cfg.queue_max);
        err->retry_after_ms = drain_ms(u->ops[rq->op].waiting.n, tb->rate);
        u->st.refused++;
        return PG_ELIMIT;
    }
    unsigned flow = origin != NULL ? origin->flow : 0;
    size_t held = pg_fairq_flow_len(&u->queue, flow), share = pg_fairq_share(&u->queue, flow, u->cfg.queue_max);
    if (rq->op == PG_UP_OP_GETPROFILE && held >= share) {
        /* Admission is per tenant, not only its order: one tenant's flood of cold ranges would
         * otherwise take every place and the others' misses would be refused. It is this
         * tenant's own rate that is exceeded, so it gets what a throttled client retries. */
        pg_apierr_set(err, PG_AE_THROTTLING,
                      "Rate exceeded: this tenant's share of profgate's upstream queue is full (%zu calls waiting)", held);
        err->retry_after_ms = drain_ms(held, u->tb.rate);
        u->st.refused++;
        return PG_ELIMIT;
    }
    if (rq->op == PG_UP_OP_GETPROFILE && u->queue.n >= u->cfg.queue_max) {
        pg_apierr_set(err, PG_AE_UNAVAILABLE, "profgate's upstream queue is full (%u calls waiting)", u->cfg.queue_max);
        /* Roughly when the queue has drained enough at the current pace (at most a minute). */
        err->retry_after_ms = drain_ms(u->queue.n, u->tb.rate);
        u->st.refused++;
        return PG_ELIMIT;
    }
    call *c = calloc(1, sizeof *c);
    if (c == NULL) {
        pg_apierr_set(err, PG_AE_INTERNAL, "out of memory");
        return PG_ENOMEM;
    }
    c->magic = CALL_MAGIC;
    c->up = u;
    c->done = done;
    c->ctx = ctx;
    if (origin != NULL)
        c->origin = *origin;
    c->deadline = now_ns() + (int64_t)u->cfg.deadline_ms * PG_NS_PER_MS;
    pg_buf_init(&c->body, u->cfg.max_response);
    snprintf(c->target, sizeof c->target, "%s", target);
    snprintf(c->desc, sizeof c->desc, "%s", desc);
    snprintf(c->method, sizeof c->method, "%s", rq->method);
    c->once = rq->once;
    c->op = rq->op;
    snprintf(c->req_ctype, sizeof c->req_ctype, "%s",
             rq->content_type != NULL && rq->content_type[0] ? rq->content_type : "application/json");
    if (rq->body != NULL) {
        if ((c->req_body = malloc(rq->body_len ? rq->body_len : 1)) == NULL) {
            pg_buf_free(&c->body);
            free(c);
            pg_apierr_set(err, PG_AE_INTERNAL, "out of memory");
            return PG_ENOMEM;
        }
        memcpy(c->req_body, rq->body, rq->body_len);
        c->req_len = rq->body_len;
    }
    call_set_state(c, S_QUEUED);
    enqueue(u, c);
    if (handle != NULL)
        *handle = c;
    pump(u);
    return PG_OK;
}

int pg_upstream_get_profile(pg_upstream *u, const char *group, pg_period per, int64_t start_s,
                            const pg_up_origin *origin, pg_up_done done, void *ctx, pg_up_call **handle,
                            pg_apierr *err)
{
    char ts[PG_TS_FMT_MAX], enc[64], target[640], desc[320];
    pg_ts_format(start_s * PG_NS_PER_S, ts, sizeof ts);
    pg_ts_query_encode(ts, enc, sizeof enc);
    /* Group names are [A-Za-z0-9_-]: nothing to encode in the path. */
    snprintf(target, sizeof target, "/profilingGroups/%s/profile?startTime=%s&period=%s", group, enc,
             pg_period_name(per));
    snprintf(desc, sizeof desc, "%s/%s/%s", group, pg_period_name(per), ts);
    return pg_upstream_get(u, PG_UP_OP_GETPROFILE, target, desc, origin, done, ctx, handle, err);
}

static void on_upstream_timer_closed(uv_handle_t *h)
{
    pg_upstream *u = h->data;
    u->open_handles--;
    maybe_closed(u);
}

static void on_curl_closed(void *data)
{
    pg_upstream *u = data;
    u->open_handles--;
    maybe_closed(u);
}

static void maybe_closed(pg_upstream *u)
{
    if (!u->closing || u->open_handles > 0 || u->queue.n > 0 || u->ops_waiting > 0 || u->active.n > 0)
        return;
    void (*cb)(void *) = u->closed;
    void *data = u->closed_data;
    free(u);
    if (cb)
        cb(data);
}

void pg_upstream_close(pg_upstream *u, void (*done)(void *data), void *data)
{
    u->closing = true;
    if (u->creds != NULL)
        pg_credsrc_watch(u->creds, NULL, NULL);
    u->closed = done;
    u->closed_data = data;
    u->open_handles++; /* held until the end of this function */
    for (pg_fq_item *it; (it = pg_fairq_peek(&u->queue)) != NULL;) {
        call *c = CALL_OF(it);
        pg_fairq_remove(&u->queue, it);
        fail_now(c, PG_AE_UNAVAILABLE, "profgate is shutting down");
    }
    for (unsigned op = 0; op < PG_UP_OPS; op++) {
        while (u->ops[op].waiting.head != NULL) {
            call *c = u->ops[op].waiting.head;
            list_remove(&u->ops[op].waiting, c);
            u->ops_waiting--;
            fail_now(c, PG_AE_UNAVAILABLE, "profgate is shutting down");
        }
    }
    while (u->active.head) {
        call *c = u->active.head;
        list_remove(&u->active, c);
        if (c->state == S_INFLIGHT) {
            pg_curl_uv_remove(u->curl, c->easy);
        } else {
            PG_CHECK_UV(uv_timer_stop(&c->timer));
        }
        release_transfer(c);
        fail_now(c, PG_AE_UNAVAILABLE, "profgate is shutting down");
    }
    pg_curl_uv_close(u->curl, on_curl_closed, u);
    u->curl = NULL;
    uv_close((uv_handle_t *)&u->pace_timer, on_upstream_timer_closed);
    uv_close((uv_handle_t *)&u->ops_timer, on_upstream_timer_closed);
    u->open_handles--;
    maybe_closed(u);
}

void pg_upstream_get_stats(const pg_upstream *u, pg_upstream_stats *out)
{
    *out = u->st;
    out->rate = u->tb.rate;
    out->rate_max = u->max_rate;
    out->queued = u->queue.n + u->ops_waiting;
    out->inflight = u->active.n;
    out->breaker = bstate_names[u->breaker];
}

void pg_upstream_reconfigure(pg_upstream *u, const pg_upstream_cfg *cfg)
{
    pg_upstream_cfg next = *cfg;
    /* Where it sends, and how it trusts TLS, are fixed for the process (they need a restart). */
    memcpy(next.endpoint, u->cfg.endpoint, sizeof next.endpoint);
    memcpy(next.region, u->cfg.region, sizeof next.region);
    memcpy(next.ca_bundle, u->cfg.ca_bundle, sizeof next.ca_bundle);
    next.insecure = u->cfg.insecure;
    u->cfg = next;
    /* A new rate starts fresh (any throttling decrease is forgotten); the tokens held carry over,
     * up to the new burst of the share this member holds. */
    double share = u->share;
    u->share = 0;
    set_share(u, share);
    if (u->fleet != NULL)
        pg_fleet_reconfigure(u->fleet, cfg->rate, cfg->burst);
    for (unsigned op = 0; op < PG_UP_OPS; op++) {
        u->ops[op].max_rate = cfg->op_rate;
        u->ops[op].tb.rate = cfg->op_rate;
        u->ops[op].tb.burst = cfg->op_burst;
        u->ops[op].tb.tokens = PG_MIN(u->ops[op].tb.tokens, cfg->op_burst);
    }
    pump(u); /* more room may let queued calls start now */
}

bool pg_upstream_cancel(pg_upstream *u, pg_up_call *c)
{
    PG_ASSERT(c->magic == CALL_MAGIC && c->up == u);
    if (c->state != S_QUEUED)
        return false; /* in flight or backing off: it ends as usual, its result is kept */
    if (c->op != PG_UP_OP_GETPROFILE) {
        list_remove(&u->ops[c->op].waiting, c);
        u->ops_waiting--;
    } else {
        pg_fairq_remove(&u->queue, &c->qi);
    }
    call_set_state(c, S_DONE);
    release_transfer(c); /* a call queued again after a failed attempt keeps its handle */
    if (c->timer_init) {
        uv_close((uv_handle_t *)&c->timer, on_call_timer_closed); /* frees it */
        return true;
    }
    pg_buf_free(&c->body);
    c->magic = 0;
    free(c);
    maybe_closed(u);
    return true;
}

void pg_upstream_set_weight(pg_upstream *u, unsigned flow, uint32_t weight)
{
    pg_fairq_set_weight(&u->queue, flow, weight);
}

size_t pg_upstream_flow_queued(const pg_upstream *u, unsigned flow)
{
    return pg_fairq_flow_len(&u->queue, flow);
}
