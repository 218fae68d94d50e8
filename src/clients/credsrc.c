/*
 * credsrc.c: fetching the credentials a plan describes, on the loop. One fetch runs the plan's
 * steps in order; each step is either immediate (static keys), one HTTP exchange (STS, the
 * container endpoint), three (IMDSv2: token, role, credentials) or a child process
 * (credential_process), each kind in its own file (creds_*.c) over the helpers here. The schedule (when to fetch, whether what is held may sign) is the pure
 * credsched; this file only does the I/O and keeps the secrets, wiping them when replaced.
 */
#include "credsrc_int.h"
#include "profgate/secretfile.h"
#include "profgate/credparse.h"
#include "profgate/clock.h"
#include "profgate/iso8601.h"
#include "profgate/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fetch_begin(pg_credsrc *s);

static int64_t now_real(void)
{
    return pg_realtime_ns();
}

/* ------------------------------------------------------------------ outcome of a fetch */

static void on_timer(uv_timer_t *t);

static void arm_timer(pg_credsrc *s)
{
    if (s->closing || s->sched.next_ns == INT64_MAX)
        return;
    int64_t wait = s->sched.next_ns - now_real();
    uint64_t ms = wait <= 0 ? 0 : (uint64_t)((wait + PG_NS_PER_MS - 1) / PG_NS_PER_MS);
    PG_CHECK_UV(uv_timer_start(&s->timer, on_timer, ms, 0));
}

void cs_failed(pg_credsrc *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->last_error, sizeof s->last_error, fmt, ap);
    va_end(ap);
    pg_creds_clear(&s->work);
    s->failures++;
    int64_t now = now_real();
    pg_credsched_failure(&s->sched, now);
    bool usable = pg_credsched_usable(&s->sched, now);
    char until[PG_TS_FMT_MAX] = "";
    if (usable && s->sched.expires_ns != 0)
        pg_ts_format(pg_credsched_usable_until(&s->sched), until, sizeof until);
    pg_log(usable ? PG_LOG_WARN : PG_LOG_ERROR, "credentials (%s): fetch failed: %s; %s%s, retrying in %lld ms",
           s->plan->provider, s->last_error, usable ? "the current ones sign until " : "no usable credentials",
           until, (long long)((s->sched.next_ns - now) / PG_NS_PER_MS));
    arm_timer(s);
}

static void fetch_done(pg_credsrc *s)
{
    pg_creds_clear(&s->cur);
    s->cur = s->work;
    pg_creds_clear(&s->work);
    bool first = !s->sched.held;
    pg_credsched_success(&s->sched, now_real(), s->cur.expires_ns);
    s->last_error[0] = '\0';
    char d[200];
    pg_creds_describe(&s->cur, d, sizeof d);
    pg_log(PG_LOG_INFO, "credentials (%s): %s %s", s->plan->provider, first ? "obtained" : "refreshed", d);
    arm_timer(s);
    if (s->watch != NULL)
        s->watch(s->watch_data);
}

void cs_step_done(pg_credsrc *s, pg_creds *got)
{
    pg_creds_clear(&s->work);
    s->work = *got;
    pg_creds_clear(got);
    s->step++;
    s->phase = 0;
    cs_run_step(s);
}

/* ------------------------------------------------------------------ HTTP exchanges */

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    pg_credsrc *s = userp;
    return pg_buf_append(&s->body, data, size * n) == PG_OK ? size * n : 0;
}

void cs_release(pg_credsrc *s)
{
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    if (s->post.data != NULL)
        memset(s->post.data, 0, s->post.len);
    pg_buf_reset(&s->post);
}

bool cs_header(pg_credsrc *s, const char *fmt, ...)
{
    char line[PG_CREDS_TOKEN_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return false;
    struct curl_slist *l = curl_slist_append(s->hdrs, line);
    memset(line, 0, sizeof line);
    if (l == NULL)
        return false;
    s->hdrs = l;
    return true;
}

/* Starts one exchange; its answer arrives in on_transfer_done. link_local: IMDS and the
 * container endpoint are never reached through a proxy. */
bool cs_http(pg_credsrc *s, const char *method, const char *url, unsigned timeout_ms, bool link_local)
{
    if (s->easy == NULL && (s->easy = curl_easy_init()) == NULL)
        return false;
    curl_easy_reset(s->easy);
    if (s->body.data != NULL)
        memset(s->body.data, 0, s->body.len); /* the last answer may have held a secret */
    pg_buf_reset(&s->body);
    s->status = 0;
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (s->post.len > 0 || strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->post.data ? s->post.data : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->post.len);
    } else if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)PG_CRED_BODY_MAX);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "profgate/" PG_VERSION);
    if (link_local)
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    if (s->ca_bundle[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_bundle);
    if (pg_curl_uv_add(s->curl, e) != PG_OK)
        return false;
    s->inflight = true;
    return true;
}

static void on_transfer_done(void *data, CURL *easy, CURLcode res);
static void on_transfers_moved(void *data)
{
    (void)data;
}

/* A token file, read at each fetch (they rotate). Small and local (a projected volume), so a
 * plain read does not hold the loop up. Trailing whitespace is not part of the token. */
bool cs_token_file(pg_credsrc *s, const char *path, char *out, size_t cap)
{
    char why[400];
    if (pg_line_file_read(path, out, cap, why, sizeof why) != PG_OK) {
        cs_failed(s, "token file: %s", why);
        return false;
    }
    return true;
}

static void on_transfer_done(void *data, CURL *easy, CURLcode res)
{
    pg_credsrc *s = data;
    PG_ASSERT(s->magic == CREDSRC_MAGIC && easy == s->easy);
    s->inflight = false;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &s->status);
    cs_release(s);
    const pg_cred_step *st = &s->plan->steps[s->step];
    if (res != CURLE_OK) {
        bool sts = st->kind == PG_CRED_WEB_IDENTITY || st->kind == PG_CRED_ASSUME_ROLE;
        cs_failed(s, "%s %s: %s", sts ? "STS" : st->kind == PG_CRED_IMDS ? "instance metadata" : "container endpoint",
                  sts ? s->plan->sts_endpoint : st->url, curl_easy_strerror(res));
        return;
    }
    switch (st->kind) {
    case PG_CRED_WEB_IDENTITY:
    case PG_CRED_ASSUME_ROLE:
        cs_sts_answer(s, st);
        break;
    case PG_CRED_CONTAINER:
        cs_container_answer(s, st);
        break;
    case PG_CRED_IMDS:
        cs_imds_answer(s, st);
        break;
    case PG_CRED_STATIC:
    case PG_CRED_PROCESS:
    case PG_CRED_KIND_COUNT:
        PG_UNREACHABLE();
    }
    /* Whatever the answer held (a token, a secret) is not kept past its parse. */
    if (s->body.data != NULL && !s->inflight)
        memset(s->body.data, 0, s->body.len);
}

/* ------------------------------------------------------------------ the steps */

void cs_run_step(pg_credsrc *s)
{
    if (s->closing)
        return;
    if (s->step == s->plan->n) {
        fetch_done(s);
        return;
    }
    const pg_cred_step *st = &s->plan->steps[s->step];
    switch (st->kind) {
    case PG_CRED_STATIC: {
        pg_creds keys = st->keys;
        cs_step_done(s, &keys);
        return;
    }
    case PG_CRED_WEB_IDENTITY:
    case PG_CRED_ASSUME_ROLE:
        cs_sts_start(s, st);
        return;
    case PG_CRED_CONTAINER:
        cs_container_start(s, st);
        return;
    case PG_CRED_IMDS:
        cs_imds_start(s, st);
        return;
    case PG_CRED_PROCESS:
        cs_process_start(s, st);
        return;
    case PG_CRED_KIND_COUNT:
        break;
    }
    PG_UNREACHABLE();
}

static void on_timer(uv_timer_t *t)
{
    fetch_begin(t->data);
}

static void fetch_begin(pg_credsrc *s)
{
    PG_ASSERT(s->magic == CREDSRC_MAGIC);
    if (s->closing)
        return;
    pg_credsched_begin(&s->sched);
    s->step = 0;
    s->phase = 0;
    pg_creds_clear(&s->work);
    cs_run_step(s);
}

/* ------------------------------------------------------------------ public */

pg_credsrc *pg_credsrc_new(uv_loop_t *loop, const pg_cred_plan *plan, const char *ca_bundle)
{
    pg_credsrc *s = pg_xcalloc(1, sizeof *s);
    s->magic = CREDSRC_MAGIC;
    s->loop = loop;
    s->plan = pg_xcalloc(1, sizeof *s->plan);
    *s->plan = *plan;
    snprintf(s->ca_bundle, sizeof s->ca_bundle, "%s", ca_bundle ? ca_bundle : "");
    pg_credsched_init(&s->sched);
    pg_buf_init(&s->body, PG_CRED_BODY_MAX);
    pg_buf_init(&s->post, 3 * (TOKEN_FILE_MAX + 4096));
    PG_CHECK_UV(uv_timer_init(loop, &s->timer));
    s->timer.data = s;
    PG_CHECK_UV(uv_timer_init(loop, &s->proc_timer));
    s->proc_timer.data = s;
    s->open_handles = 2;
    s->curl = pg_curl_uv_new(loop, on_transfer_done, on_transfers_moved, s);
    PG_ASSERT(s->curl != NULL);
    s->open_handles++;
    return s;
}

void pg_credsrc_start(pg_credsrc *s)
{
    if (s->plan->n > 0)
        fetch_begin(s);
}

const pg_creds *pg_credsrc_get(pg_credsrc *s, int64_t now)
{
    return pg_credsched_usable(&s->sched, now) ? &s->cur : NULL;
}

bool pg_credsrc_signs(const pg_credsrc *s)
{
    return s->plan->n > 0;
}

void pg_credsrc_watch(pg_credsrc *s, void (*cb)(void *data), void *data)
{
    s->watch = cb;
    s->watch_data = data;
}

void pg_credsrc_get_stats(const pg_credsrc *s, int64_t now, pg_credsrc_stats *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->provider, sizeof out->provider, "%s", s->plan->provider);
    out->state = pg_cs_state_names[s->sched.state];
    out->signs = s->plan->n > 0;
    out->usable = pg_credsched_usable(&s->sched, now);
    out->expires_ns = s->sched.held ? s->sched.expires_ns : 0;
    out->fetches = s->sched.fetches;
    out->failures = s->failures;
    out->refresh_failures = s->sched.refresh_failures;
    snprintf(out->last_error, sizeof out->last_error, "%s", s->last_error);
}

static void maybe_closed(pg_credsrc *s)
{
    if (!s->closing || s->open_handles > 0)
        return;
    void (*cb)(void *) = s->closed;
    void *data = s->closed_data;
    pg_buf_free(&s->body);
    pg_buf_free(&s->post);
    pg_cred_plan_clear(s->plan);
    free(s->plan);
    pg_creds_clear(&s->cur);
    pg_creds_clear(&s->work);
    s->magic = 0;
    free(s);
    if (cb != NULL)
        cb(data);
}

void cs_handle_closed(uv_handle_t *h)
{
    pg_credsrc *s = h->data;
    s->open_handles--;
    maybe_closed(s);
}

static void on_curl_closed(void *data)
{
    pg_credsrc *s = data;
    s->open_handles--;
    maybe_closed(s);
}

void pg_credsrc_close(pg_credsrc *s, void (*done)(void *data), void *data)
{
    PG_ASSERT(!s->closing);
    s->closing = true;
    s->closed = done;
    s->closed_data = data;
    if (s->sched.state != PG_CS_CLOSED)
        pg_credsched_set_state(&s->sched, PG_CS_CLOSED);
    if (s->easy != NULL) {
        if (s->inflight)
            pg_curl_uv_remove(s->curl, s->easy);
        curl_easy_cleanup(s->easy);
        s->easy = NULL;
    }
    cs_release(s);
    if (s->proc_running)
        uv_process_kill(&s->proc, SIGKILL); /* its exit closes the handle */
    if (s->out_open) {
        uv_read_stop((uv_stream_t *)&s->out);
        s->out_open = false;
        uv_close((uv_handle_t *)&s->out, cs_handle_closed);
    }
    uv_close((uv_handle_t *)&s->timer, cs_handle_closed);
    uv_close((uv_handle_t *)&s->proc_timer, cs_handle_closed);
    pg_curl_uv_close(s->curl, on_curl_closed, s);
    s->curl = NULL;
}
