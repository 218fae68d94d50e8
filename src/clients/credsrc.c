/*
 * credsrc.c: fetching the credentials a plan describes, on the loop. One fetch runs the plan's
 * steps in order; each step is either immediate (static keys), one HTTP exchange (STS, the
 * container endpoint), three (IMDSv2: token, role, credentials) or a child process
 * (credential_process). The schedule (when to fetch, whether what is held may sign) is the pure
 * credsched; this file only does the I/O and keeps the secrets, wiping them when replaced.
 */
#include "profgate/credsrc.h"
#include "profgate/credparse.h"
#include "curl_uv.h"
#include "profgate/buf.h"
#include "profgate/clock.h"
#include "profgate/iso8601.h"
#include "profgate/log.h"
#include "profgate/sigv4.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CREDSRC_MAGIC 0x63727372u /* "crsr" */
/* STS answers within seconds; a slower one is treated as failed and retried. */
#define STS_TIMEOUT_MS 10000
/* The SDKs give credential_process a minute. */
#define PROCESS_TIMEOUT_MS 60000
/* Token files hold a JWT or an opaque token: a few kilobytes at most. */
#define TOKEN_FILE_MAX (16 << 10)
#define IMDS_TOKEN_TTL "21600"

struct pg_credsrc {
    uint32_t magic;
    uv_loop_t *loop;
    pg_cred_plan *plan;
    char ca_bundle[1024];
    pg_credsched sched;
    pg_creds cur;        /* what signs (while the schedule says it is usable) */
    pg_creds work;       /* the fetch in progress: each step's result, the next hop's signer */
    size_t step;
    int phase;           /* IMDS: 0 token, 1 role name, 2 credentials */
    char imds_token[128];
    char imds_role[128];
    pg_curl_uv *curl;    /* NULL once closed */
    CURL *easy;          /* reused for each exchange */
    bool inflight;       /* easy is in the multi handle */
    struct curl_slist *hdrs;
    pg_buf body;         /* its answer */
    pg_buf post;         /* its request body (may hold a token: wiped after) */
    long status;
    uv_timer_t timer;    /* the next fetch */
    uv_timer_t proc_timer; /* credential_process's time limit */
    uv_process_t proc;
    uv_pipe_t out;
    bool proc_running, out_open, proc_exited;
    int64_t proc_status;
    int open_handles;
    bool closing;
    void (*watch)(void *);
    void *watch_data;
    void (*closed)(void *);
    void *closed_data;
    uint64_t failures;
    char last_error[300];
};

static void run_step(pg_credsrc *s);
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

static void fetch_failed(pg_credsrc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fetch_failed(pg_credsrc *s, const char *fmt, ...)
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

static void next_step(pg_credsrc *s)
{
    s->step++;
    s->phase = 0;
    run_step(s);
}

/* ------------------------------------------------------------------ HTTP exchanges */

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    pg_credsrc *s = userp;
    return pg_buf_append(&s->body, data, size * n) == PG_OK ? size * n : 0;
}

static void release_transfer(pg_credsrc *s)
{
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    if (s->post.data != NULL)
        memset(s->post.data, 0, s->post.len);
    pg_buf_reset(&s->post);
}

static bool add_header(pg_credsrc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool add_header(pg_credsrc *s, const char *fmt, ...)
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
static bool http_start(pg_credsrc *s, const char *method, const char *url, unsigned timeout_ms, bool link_local)
{
    if (s->easy == NULL && (s->easy = curl_easy_init()) == NULL)
        return false;
    curl_easy_reset(s->easy);
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

/* Appends name=value, form-encoded (RFC 3986 unreserved characters stay; SigV4 signs the body's
 * hash, so any consistent encoding is fine). */
static int form(pg_buf *b, const char *name, const char *value)
{
    int rc = pg_buf_printf(b, "%s%s=", b->len ? "&" : "", name);
    for (const unsigned char *p = (const unsigned char *)value; rc == PG_OK && *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
            rc = pg_buf_append(b, p, 1);
        else
            rc = pg_buf_printf(b, "%%%02X", *p);
    }
    return rc;
}

/* A token file, read at each fetch (they rotate). Small and local (a projected volume), so a
 * plain read does not hold the loop up. Trailing whitespace is not part of the token. */
static bool read_token_file(pg_credsrc *s, const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fetch_failed(s, "cannot open token file %.200s: %s", path, strerror(errno));
        return false;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, out + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap - 1)
            break;
    }
    char extra;
    bool too_big = n == cap - 1 && read(fd, &extra, 1) == 1;
    close(fd);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
    if (too_big || n == 0 || memchr(out, '\0', n) != NULL || strpbrk(out, "\r\n") != NULL) {
        memset(out, 0, cap);
        fetch_failed(s, "token file %.200s is empty, larger than %zu bytes, or spans lines", path, cap - 1);
        return false;
    }
    return true;
}

static void sts_call(pg_credsrc *s, const pg_cred_step *st)
{
    char host[300];
    if (pg_sigv4_host(s->plan->sts_endpoint, true, host, sizeof host) != PG_OK) {
        fetch_failed(s, "STS endpoint %.200s is not a URL", s->plan->sts_endpoint);
        return;
    }
    pg_buf_reset(&s->post);
    char dur[16] = "";
    if (st->duration_s)
        snprintf(dur, sizeof dur, "%u", st->duration_s);
    int rc;
    if (st->kind == PG_CRED_WEB_IDENTITY) {
        char *tok = malloc(TOKEN_FILE_MAX + 1);
        PG_ASSERT(tok != NULL);
        if (!read_token_file(s, st->path, tok, TOKEN_FILE_MAX + 1)) {
            free(tok);
            return;
        }
        rc = form(&s->post, "Action", "AssumeRoleWithWebIdentity");
        rc = rc ?: form(&s->post, "RoleArn", st->role_arn);
        rc = rc ?: form(&s->post, "RoleSessionName", st->session_name);
        rc = rc ?: form(&s->post, "WebIdentityToken", tok);
        memset(tok, 0, TOKEN_FILE_MAX + 1);
        free(tok);
    } else {
        rc = form(&s->post, "Action", "AssumeRole");
        rc = rc ?: form(&s->post, "RoleArn", st->role_arn);
        rc = rc ?: form(&s->post, "RoleSessionName", st->session_name);
        if (st->external_id[0])
            rc = rc ?: form(&s->post, "ExternalId", st->external_id);
    }
    if (dur[0])
        rc = rc ?: form(&s->post, "DurationSeconds", dur);
    rc = rc ?: form(&s->post, "Version", "2011-06-15");
    static const char ctype[] = "application/x-www-form-urlencoded; charset=utf-8";
    char amz_date[17];
    pg_amz_date(now_real(), amz_date);
    bool ok = rc == PG_OK && add_header(s, "Content-Type: %s", ctype) && add_header(s, "Accept: text/xml");
    if (ok && st->kind == PG_CRED_ASSUME_ROLE) {
        /* Signed with the previous step's credentials: the hop's caller. */
        const pg_creds *by = &s->work;
        pg_http_header h[4] = {{"host", 4, host, strlen(host)},
                               {"content-type", 12, ctype, sizeof ctype - 1},
                               {"x-amz-date", 10, amz_date, 16}};
        size_t nh = 3;
        if (by->session_token[0])
            h[nh++] = (pg_http_header){"x-amz-security-token", 20, by->session_token, strlen(by->session_token)};
        char hash[65];
        pg_sha256_hex(s->post.data, s->post.len, hash);
        pg_sigv4_input in = {.method = "POST", .path = {"/", 1}, .query = {"", 0}, .headers = h, .nheaders = nh,
                             .payload_hash = hash, .amz_date = amz_date, .region = s->plan->sts_region,
                             .service = "sts"};
        pg_buf auth;
        pg_buf_init(&auth, 2048);
        ok = pg_sigv4_authorization(&in, by->access_key, by->secret_key, &auth) == PG_OK &&
             pg_buf_append(&auth, "", 1) == PG_OK && add_header(s, "Authorization: %s", auth.data) &&
             add_header(s, "X-Amz-Date: %s", amz_date) &&
             (!by->session_token[0] || add_header(s, "X-Amz-Security-Token: %s", by->session_token));
        pg_buf_free(&auth);
    }
    char url[600];
    snprintf(url, sizeof url, "%s/", s->plan->sts_endpoint);
    if (!ok || !http_start(s, "POST", url, STS_TIMEOUT_MS, false)) {
        release_transfer(s);
        fetch_failed(s, "could not start the STS request");
    }
}

static void container_call(pg_credsrc *s, const pg_cred_step *st)
{
    bool ok = true;
    if (st->path[0]) {
        char *tok = malloc(TOKEN_FILE_MAX + 1);
        PG_ASSERT(tok != NULL);
        if (!read_token_file(s, st->path, tok, TOKEN_FILE_MAX + 1)) {
            free(tok);
            return;
        }
        ok = add_header(s, "Authorization: %s", tok);
        memset(tok, 0, TOKEN_FILE_MAX + 1);
        free(tok);
    } else if (st->token[0]) {
        ok = add_header(s, "Authorization: %s", st->token);
    }
    if (!ok || !http_start(s, "GET", st->url, st->timeout_ms, true)) {
        release_transfer(s);
        fetch_failed(s, "could not start the container credentials request");
    }
}

static void imds_call(pg_credsrc *s, const pg_cred_step *st)
{
    char url[1300];
    bool ok;
    if (s->phase == 0) {
        snprintf(url, sizeof url, "%s/latest/api/token", st->url);
        ok = add_header(s, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL) &&
             http_start(s, "PUT", url, st->timeout_ms, true);
    } else {
        snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", st->url,
                 s->phase == 2 ? s->imds_role : "");
        ok = add_header(s, "X-aws-ec2-metadata-token: %s", s->imds_token) &&
             http_start(s, "GET", url, st->timeout_ms, true);
    }
    if (!ok) {
        release_transfer(s);
        fetch_failed(s, "could not start the instance metadata request");
    }
}

/* A line of IMDS text (token or role name): printable, no spaces, bounded. */
static bool imds_word(const pg_buf *b, char *out, size_t cap)
{
    if (b->data == NULL)
        return false;
    size_t n = 0; /* the body is not NUL-terminated: up to its first line end, within its length */
    while (n < b->len && b->data[n] != '\r' && b->data[n] != '\n')
        n++;
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)b->data[i] <= 0x20 || (unsigned char)b->data[i] >= 0x7f || b->data[i] == '/')
            return false;
    memcpy(out, b->data, n);
    out[n] = '\0';
    return true;
}

static void on_transfer_done(void *data, CURL *easy, CURLcode res)
{
    pg_credsrc *s = data;
    PG_ASSERT(s->magic == CREDSRC_MAGIC && easy == s->easy);
    s->inflight = false;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &s->status);
    release_transfer(s);
    const pg_cred_step *st = &s->plan->steps[s->step];
    const char *what = st->kind == PG_CRED_CONTAINER ? "container endpoint"
                       : st->kind == PG_CRED_IMDS    ? "instance metadata"
                                                     : "STS";
    if (res != CURLE_OK) {
        fetch_failed(s, "%s %s: %s", what, st->kind == PG_CRED_IMDS || st->kind == PG_CRED_CONTAINER ? st->url
                                                                                              : s->plan->sts_endpoint,
                     curl_easy_strerror(res));
        return;
    }
    char why[300];
    pg_creds got;
    const char *b = s->body.data ? s->body.data : "";
    if (st->kind == PG_CRED_WEB_IDENTITY || st->kind == PG_CRED_ASSUME_ROLE) {
        if (pg_cred_parse_sts(b, s->body.len, &got, why, sizeof why) != PG_OK) {
            /* STS's own error says most; without one, the status does. */
            if (s->status != 200 && strncmp(why, "STS ", 4) != 0)
                fetch_failed(s, "STS answered HTTP %ld for %.200s", s->status, st->role_arn);
            else
                fetch_failed(s, "%s (HTTP %ld) for %.200s", why, s->status, st->role_arn);
            return;
        }
    } else if (s->status != 200) {
        fetch_failed(s, "%s answered HTTP %ld", what, s->status);
        return;
    } else if (st->kind == PG_CRED_IMDS && s->phase < 2) {
        if (!imds_word(&s->body, s->phase == 0 ? s->imds_token : s->imds_role,
                       s->phase == 0 ? sizeof s->imds_token : sizeof s->imds_role)) {
            fetch_failed(s, "instance metadata answered no usable %s", s->phase == 0 ? "token" : "role name");
            return;
        }
        s->phase++;
        run_step(s);
        return;
    } else if (pg_cred_parse_json(b, s->body.len, st->kind == PG_CRED_IMDS ? PG_CRED_JSON_IMDS : PG_CRED_JSON_CONTAINER,
                                  &got, why, sizeof why) != PG_OK) {
        fetch_failed(s, "%s: %s", what, why);
        return;
    }
    if (s->body.data != NULL)
        memset(s->body.data, 0, s->body.len);
    pg_buf_reset(&s->body);
    pg_creds_clear(&s->work);
    s->work = got;
    pg_creds_clear(&got);
    memset(s->imds_token, 0, sizeof s->imds_token);
    next_step(s);
}

/* ------------------------------------------------------------------ credential_process */

static void on_handle_closed(uv_handle_t *h);

static void process_finished(pg_credsrc *s)
{
    if (s->proc_running || s->out_open)
        return; /* both the exit and the end of its output */
    uv_timer_stop(&s->proc_timer);
    if (s->closing)
        return;
    pg_creds got;
    char why[300];
    const pg_cred_step *st = &s->plan->steps[s->step];
    if (s->proc_status != 0) {
        fetch_failed(s, "credential_process (%s) exited with status %lld", st->origin, (long long)s->proc_status);
    } else if (pg_cred_parse_json(s->body.data ? s->body.data : "", s->body.len, PG_CRED_JSON_PROCESS, &got, why,
                                  sizeof why) != PG_OK) {
        fetch_failed(s, "credential_process (%s): %s", st->origin, why);
    } else {
        pg_creds_clear(&s->work);
        s->work = got;
        pg_creds_clear(&got);
        next_step(s);
    }
    if (s->body.data != NULL)
        memset(s->body.data, 0, s->body.len);
    pg_buf_reset(&s->body);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int term_signal)
{
    pg_credsrc *s = p->data;
    s->proc_status = term_signal ? 128 + term_signal : status;
    s->proc_running = false;
    uv_close((uv_handle_t *)p, on_handle_closed);
    process_finished(s);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    static char scratch[16384];
    (void)suggested;
    *buf = uv_buf_init(scratch, sizeof scratch);
}

static void on_out_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    pg_credsrc *s = st->data;
    if (n > 0 && pg_buf_append(&s->body, buf->base, (size_t)n) != PG_OK) {
        /* more output than any credentials document: stop reading, the exit reports it */
        pg_buf_reset(&s->body);
        uv_process_kill(&s->proc, SIGKILL);
        n = UV_EOF;
    }
    if (n > 0)
        memset(buf->base, 0, (size_t)n);
    if (n < 0) {
        s->out_open = false;
        uv_close((uv_handle_t *)&s->out, on_handle_closed);
        process_finished(s);
    }
}

static void on_proc_timeout(uv_timer_t *t)
{
    pg_credsrc *s = t->data;
    if (s->proc_running) {
        pg_log(PG_LOG_WARN, "credentials: credential_process ran longer than %d s; killing it", PROCESS_TIMEOUT_MS / 1000);
        uv_process_kill(&s->proc, SIGKILL);
    }
}

static void process_call(pg_credsrc *s, const pg_cred_step *st)
{
    PG_CHECK_UV(uv_pipe_init(s->loop, &s->out, 0));
    s->out.data = s;
    char *argv[] = {"/bin/sh", "-c", (char *)st->command, NULL};
    uv_stdio_container_t io[3] = {{.flags = UV_IGNORE},
                                  {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&s->out},
                                  {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t o = {.exit_cb = on_proc_exit, .file = argv[0], .args = argv, .stdio = io, .stdio_count = 3};
    pg_buf_reset(&s->body);
    s->proc.data = s;
    int rc = uv_spawn(s->loop, &s->proc, &o);
    s->open_handles += 2; /* the process and the pipe: closed, and counted down, separately */
    s->out_open = true;
    if (rc != 0) {
        /* libuv initialized the handle: it must be closed all the same */
        uv_close((uv_handle_t *)&s->proc, on_handle_closed);
        s->out_open = false;
        uv_close((uv_handle_t *)&s->out, on_handle_closed);
        fetch_failed(s, "cannot run credential_process: %s", uv_strerror(rc));
        return;
    }
    s->proc_running = true;
    PG_CHECK_UV(uv_read_start((uv_stream_t *)&s->out, on_alloc, on_out_read));
    PG_CHECK_UV(uv_timer_start(&s->proc_timer, on_proc_timeout, PROCESS_TIMEOUT_MS, 0));
}

/* ------------------------------------------------------------------ the steps */

static void run_step(pg_credsrc *s)
{
    if (s->closing)
        return;
    if (s->step == s->plan->n) {
        fetch_done(s);
        return;
    }
    const pg_cred_step *st = &s->plan->steps[s->step];
    switch (st->kind) {
    case PG_CRED_STATIC:
        pg_creds_clear(&s->work);
        s->work = st->keys;
        next_step(s);
        return;
    case PG_CRED_WEB_IDENTITY:
    case PG_CRED_ASSUME_ROLE:
        sts_call(s, st);
        return;
    case PG_CRED_CONTAINER:
        container_call(s, st);
        return;
    case PG_CRED_IMDS:
        imds_call(s, st);
        return;
    case PG_CRED_PROCESS:
        process_call(s, st);
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
    run_step(s);
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

static void on_handle_closed(uv_handle_t *h)
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
    release_transfer(s);
    if (s->proc_running)
        uv_process_kill(&s->proc, SIGKILL); /* its exit closes the handle */
    if (s->out_open) {
        uv_read_stop((uv_stream_t *)&s->out);
        s->out_open = false;
        uv_close((uv_handle_t *)&s->out, on_handle_closed);
    }
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->proc_timer, on_handle_closed);
    pg_curl_uv_close(s->curl, on_curl_closed, s);
    s->curl = NULL;
}
