/*
 * redis.c: hiredis on libuv. States: DOWN (waiting to reconnect) -> CONNECTING -> READY.
 * Each command owns a timer and is freed once both its reply callback has run (hiredis calls every
 * pending callback, with a NULL reply when the connection goes) and its timer has closed; the
 * caller's callback runs once, at the reply or at the timeout, whichever comes first.
 */
#include "profgate/redis.h"
#include "profgate/clock.h"
#include "profgate/log.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libuv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef enum { R_DOWN, R_CONNECTING, R_READY } rstate;

struct pg_redis {
    uv_loop_t *loop;
    pg_redis_cfg cfg;
    pg_redis_url url;
    redisAsyncContext *ac;
    rstate state;
    uv_timer_t timer; /* connect deadline or reconnect delay */
    uv_timer_t watch; /* the idle check (watch_connection) */
    uint64_t backoff_ms;
    unsigned silent; /* commands in a row that timed out with no reply in between */
    bool probing;    /* a PING was sent to tell a dead connection from a busy loop */
    int open; /* our two timers plus command timers */
    bool closing;
    bool close_waits; /* closing gracefully: timer is the deadline for the queued commands */
    void (*closed)(void *);
    void *closed_data;
    pg_redis_stats st;
};

#define CMD_MAGIC 0x636d6421u /* "cmd!" */

typedef struct cmd {
    uint32_t magic;
    pg_redis *r;
    uv_timer_t timer;
    pg_redis_get_cb cb;      /* a GET: value and TTL; or NULL */
    pg_redis_ints_cb ints_cb; /* a script answering integers; or NULL (both NULL: fire and forget) */
    void *ctx;
    int64_t t0;
    bool answered;
    bool replied;
    bool probe; /* the PING that decides whether a silent connection is dead */
} cmd;

static void connect_now(pg_redis *r);
static void on_watch(uv_timer_t *t);

/* How often an idle connection is checked (on_watch). */
#define WATCH_MS 1000

/* ------------------------------------------------------------------ URL */

/* The URL as messages may show it: a password between "://user:" and "@" becomes "****". */
static const char *redacted(const char *url, char *out, size_t len)
{
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strrchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon == NULL)
        snprintf(out, len, "%.100s", url);
    else
        snprintf(out, len, "%.*s****%.80s", (int)PG_MIN((size_t)(colon + 1 - url), 60), url, at);
    return out;
}

int pg_redis_url_parse(const char *url, pg_redis_url *out, char *err, size_t errlen)
{
    char shown[160];
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (strncmp(url, "unix:", 5) == 0) {
        const char *p = url + 5;
        if (strncmp(p, "//", 2) == 0)
            p += 2;
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || n >= sizeof out->path || p[0] != '/') {
            snprintf(err, errlen, "redis.url '%s': a unix socket needs an absolute path", redacted(url, shown, sizeof shown));
            return PG_EINVAL;
        }
        memcpy(out->path, p, n);
        out->unix_socket = true;
        if (q && strncmp(q, "?db=", 4) == 0)
            out->db = atoi(q + 4);
        return PG_OK;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis.url '%s' must start with redis:// or unix:", redacted(url, shown, sizeof shown));
        return PG_EINVAL;
    }
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon == NULL) {
            snprintf(err, errlen, "redis.url: credentials must be [user]:password@");
            return PG_EINVAL;
        }
        size_t ul = (size_t)(colon - p), pl = (size_t)(at - colon - 1);
        if (ul >= sizeof out->user || pl >= sizeof out->password) {
            snprintf(err, errlen, "redis.url: credentials too long");
            return PG_EINVAL;
        }
        memcpy(out->user, p, ul);
        memcpy(out->password, colon + 1, pl);
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    const char *colon = memchr(p, ':', hl);
    size_t name = colon ? (size_t)(colon - p) : hl;
    if (name == 0 || name >= sizeof out->host) {
        snprintf(err, errlen, "redis.url '%s' needs a host", redacted(url, shown, sizeof shown));
        return PG_EINVAL;
    }
    memcpy(out->host, p, name);
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != p + hl || port < 1 || port > 65535) {
            snprintf(err, errlen, "redis.url '%s': bad port", redacted(url, shown, sizeof shown));
            return PG_EINVAL;
        }
        out->port = (int)port;
    }
    if (slash && slash[1]) {
        char *e;
        long db = strtol(slash + 1, &e, 10);
        if (*e != '\0' || db < 0 || db > 1000) {
            snprintf(err, errlen, "redis.url '%s': bad database number", redacted(url, shown, sizeof shown));
            return PG_EINVAL;
        }
        out->db = (int)db;
    }
    return PG_OK;
}

/* ------------------------------------------------------------------ lifecycle */

static void maybe_closed(pg_redis *r)
{
    if (!r->closing || r->open > 0 || r->ac != NULL)
        return;
    void (*cb)(void *) = r->closed;
    void *data = r->closed_data;
    free(r);
    if (cb)
        cb(data);
}

static void on_timer_closed(uv_handle_t *h)
{
    pg_redis *r = h->data;
    r->open--;
    maybe_closed(r);
}

static void on_reconnect_timer(uv_timer_t *t)
{
    connect_now(t->data);
}

static void schedule_reconnect(pg_redis *r)
{
    r->state = R_DOWN;
    r->st.connected = false;
    if (r->closing)
        return;
    r->backoff_ms = r->backoff_ms ? PG_MIN(r->backoff_ms * 2, r->cfg.reconnect_max_ms) : r->cfg.reconnect_min_ms;
    PG_CHECK_UV(uv_timer_start(&r->timer, on_reconnect_timer, r->backoff_ms, 0));
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    pg_redis *r = ac->data;
    /* hiredis frees the context after this returns. */
    r->ac = NULL;
    if (!r->closing) {
        pg_log(PG_LOG_WARN, "redis: connection lost (%s); serving from the upstream until it is back",
               status == REDIS_OK ? "closed" : ac->errstr);
        schedule_reconnect(r);
    }
    if (r->close_waits) { /* every queued command was answered in time */
        r->close_waits = false;
        PG_CHECK_UV(uv_timer_stop(&r->timer));
        uv_close((uv_handle_t *)&r->timer, on_timer_closed);
    }
    maybe_closed(r);
}

static void on_auth_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    pg_redis *r = ac->data;
    redisReply *rep = reply;
    if (rep == NULL)
        return; /* disconnected; on_disconnect handles it */
    if (rep->type == REDIS_REPLY_ERROR) {
        pg_log(PG_LOG_ERROR, "redis: AUTH/SELECT refused: %.200s", rep->str);
        r->state = R_CONNECTING; /* not usable; the disconnect below reconnects later */
        redisAsyncDisconnect(ac);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    pg_redis *r = ac->data;
    PG_CHECK_UV(uv_timer_stop(&r->timer));
    if (status != REDIS_OK) {
        /* hiredis frees the context after this returns. */
        pg_log(PG_LOG_WARN, "redis: cannot connect: %s", ac->errstr);
        r->ac = NULL;
        schedule_reconnect(r);
        maybe_closed(r);
        return;
    }
    redisAsyncContext *c = (redisAsyncContext *)ac;
    /* AUTH and SELECT go first; commands after them run only if they succeeded. */
    if (r->url.password[0]) {
        if (r->url.user[0])
            redisAsyncCommand(c, on_auth_reply, NULL, "AUTH %s %s", r->url.user, r->url.password);
        else
            redisAsyncCommand(c, on_auth_reply, NULL, "AUTH %s", r->url.password);
    }
    if (r->url.db != 0)
        redisAsyncCommand(c, on_auth_reply, NULL, "SELECT %d", r->url.db);
    r->state = R_READY;
    r->st.connected = true;
    r->backoff_ms = 0;
    r->silent = 0;
    r->probing = false;
    pg_log(PG_LOG_INFO, "redis: connected to %s", r->url.unix_socket ? r->url.path : r->url.host);
}

static void on_connect_deadline(uv_timer_t *t)
{
    pg_redis *r = t->data;
    if (r->state != R_CONNECTING || r->ac == NULL)
        return;
    /* The libuv adapter drops poll errors, so a refused or silent connect may never complete:
     * give up on it here. */
    pg_log(PG_LOG_WARN, "redis: connect timed out after %llu ms", (unsigned long long)r->cfg.connect_timeout_ms);
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    redisAsyncFree(ac);
    schedule_reconnect(r);
}

static void connect_now(pg_redis *r)
{
    if (r->closing)
        return;
    redisAsyncContext *ac = r->url.unix_socket ? redisAsyncConnectUnix(r->url.path)
                                               : redisAsyncConnect(r->url.host, r->url.port);
    if (ac == NULL || ac->err) {
        pg_log(PG_LOG_WARN, "redis: cannot connect: %s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    r->state = R_CONNECTING;
    r->st.reconnects++;
    PG_CHECK_UV(uv_timer_start(&r->timer, on_connect_deadline, r->cfg.connect_timeout_ms, 0));
}

pg_redis *pg_redis_new(uv_loop_t *loop, const pg_redis_cfg *cfg, char *err, size_t errlen)
{
    pg_redis *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->loop = loop;
    r->cfg = *cfg;
    if (pg_redis_url_parse(cfg->url, &r->url, err, errlen) != PG_OK) {
        free(r);
        return NULL;
    }
    if (cfg->password[0]) {
        if (r->url.password[0]) {
            snprintf(err, errlen, "redis.url has a password and redis.password_file gives one too: keep one");
            explicit_bzero(r, sizeof *r);
            free(r);
            return NULL;
        }
        memcpy(r->url.password, cfg->password, sizeof r->url.password);
    }
    explicit_bzero(r->cfg.password, sizeof r->cfg.password); /* kept once, in url */
    PG_CHECK_UV(uv_timer_init(loop, &r->timer));
    r->timer.data = r;
    PG_CHECK_UV(uv_timer_init(loop, &r->watch));
    r->watch.data = r;
    PG_CHECK_UV(uv_timer_start(&r->watch, on_watch, WATCH_MS, WATCH_MS));
    r->open = 2;
    r->st.reconnects = 0;
    connect_now(r);
    r->st.reconnects = 0; /* the first connection is not a reconnect */
    return r;
}

bool pg_redis_ready(const pg_redis *r)
{
    return r != NULL && r->state == R_READY && r->ac != NULL && !r->closing;
}

/* ------------------------------------------------------------------ commands */

static void on_cmd_timer_closed(uv_handle_t *h)
{
    cmd *c = h->data;
    PG_ASSERT(c->magic == CMD_MAGIC);
    pg_redis *r = c->r;
    free(c);
    r->open--;
    maybe_closed(r);
}

/* Commands in a row that may time out before the connection is suspected dead. */
#define SUSPECT_AFTER_TIMEOUTS 3

static cmd *send_cmd(pg_redis *r, int argc, const char **argv, const size_t *lens, pg_redis_get_cb cb,
                     pg_redis_ints_cb ints_cb, void *ctx);

/* Dropping a connection answers its commands (NULL replies) and reconnects. */
static void drop_connection(pg_redis *r)
{
    redisAsyncContext *ac = r->ac;
    r->silent = 0;
    redisAsyncFree(ac); /* pending commands get NULL replies; on_disconnect runs and reconnects */
    if (r->ac == ac) {  /* it did not run (the context was not marked connected) */
        r->ac = NULL;
        schedule_reconnect(r);
    }
}

/* A connection that stopped answering: hiredis's libuv adapter ignores poll errors, so a socket
 * reset by a server that went away (while commands were unread) is never read or written again,
 * and nothing else would ever notice. */
static void drop_silent_connection(pg_redis *r)
{
    pg_log(PG_LOG_WARN, "redis: no reply to %u commands in a row nor to a PING; dropping the connection", r->silent);
    drop_connection(r);
}

/* The idle check, every WATCH_MS: the same blind spot without commands. A server that went away
 * while the connection was idle can leave it reset with no command to time out, and the gateway
 * would call it connected until the next lookups failed one by one. A peek at the socket tells:
 * end of stream or an error means it is gone; nothing to read (EAGAIN) or bytes waiting, alive. */
static void on_watch(uv_timer_t *t)
{
    pg_redis *r = t->data;
    if (r->closing || r->state != R_READY || r->ac == NULL)
        return;
    char b;
    ssize_t n = recv(r->ac->c.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
        return;
    pg_log(PG_LOG_WARN, "redis: connection lost while idle (%s); serving from the upstream until it is back",
           n == 0 ? "closed" : strerror(errno));
    drop_connection(r);
}

static void on_cmd_timeout(uv_timer_t *t)
{
    cmd *c = t->data;
    PG_ASSERT(c->magic == CMD_MAGIC);
    if (c->answered)
        return;
    c->answered = true;
    pg_redis *r = c->r;
    r->st.timeouts++;
    if (c->cb)
        c->cb(c->ctx, PG_EIO, NULL, 0, -1);
    if (c->ints_cb)
        c->ints_cb(c->ctx, PG_EIO, NULL, 0);
    if (r->ac == NULL || r->closing)
        return;
    if (c->probe) {
        /* Even the PING, sent after the others timed out, got no answer: the connection is dead.
         * Last: dropping it answers the other commands and may close this one's timer. */
        r->probing = false;
        drop_silent_connection(r);
        return;
    }
    /* Several timeouts in a row may also be our own loop having been busy (replies unread in the
     * socket): a PING with a fresh deadline tells the two apart, since its reply comes after
     * every earlier one. */
    if (++r->silent >= SUSPECT_AFTER_TIMEOUTS && !r->probing) {
        const char *argv[1] = {"PING"};
        size_t lens[1] = {4};
        cmd *p = send_cmd(r, 1, argv, lens, NULL, NULL, NULL);
        if (p != NULL) {
            p->probe = true;
            r->probing = true;
        }
    }
}

/* A script's reply as integers: an integer, an array of integers (at most PG_REDIS_INTS_MAX),
 * or nil (no values). Anything else is an error: the scripts are ours, so a different shape
 * means a different server or a broken script. */
static void answer_ints(cmd *c, const redisReply *rep)
{
    int64_t v[PG_REDIS_INTS_MAX];
    size_t n = 0;
    if (rep->type == REDIS_REPLY_INTEGER) {
        v[n++] = (int64_t)rep->integer;
    } else if (rep->type == REDIS_REPLY_ARRAY && rep->elements <= PG_REDIS_INTS_MAX) {
        for (size_t i = 0; i < rep->elements; i++) {
            if (rep->element[i]->type != REDIS_REPLY_INTEGER) {
                c->r->st.errors++;
                c->ints_cb(c->ctx, PG_EINVAL, NULL, 0);
                return;
            }
            v[n++] = (int64_t)rep->element[i]->integer;
        }
    } else if (rep->type != REDIS_REPLY_NIL) {
        c->r->st.errors++;
        c->ints_cb(c->ctx, PG_EINVAL, NULL, 0);
        return;
    }
    c->ints_cb(c->ctx, PG_OK, v, n);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    cmd *c = priv;
    pg_redis *r = c->r;
    redisReply *rep = reply;
    c->replied = true;
    if (rep != NULL)
        r->silent = 0;
    if (c->probe)
        r->probing = false;
    if (!c->answered) {
        c->answered = true;
        pg_histo_observe(&r->st.latency, (uint64_t)(pg_monotonic_ns() - c->t0));
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            r->st.errors++;
            if (rep != NULL)
                pg_log(PG_LOG_WARN, "redis: command failed: %.200s", rep->str);
            if (c->cb)
                c->cb(c->ctx, PG_EIO, NULL, 0, -1);
            if (c->ints_cb)
                c->ints_cb(c->ctx, PG_EIO, NULL, 0);
        } else if (c->ints_cb) {
            answer_ints(c, rep);
        } else if (c->cb) {
            /* The GET script answers nil or {value, pttl}. */
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
                     rep->element[0]->type == REDIS_REPLY_STRING && rep->element[1]->type == REDIS_REPLY_INTEGER)
                c->cb(c->ctx, PG_OK, rep->element[0]->str, rep->element[0]->len,
                      rep->element[1]->integer >= 0 ? (int64_t)rep->element[1]->integer : -1);
            else
                c->cb(c->ctx, PG_ENOTFOUND, NULL, 0, -1);
        }
    }
    PG_CHECK_UV(uv_timer_stop(&c->timer));
    uv_close((uv_handle_t *)&c->timer, on_cmd_timer_closed);
}

static cmd *send_cmd(pg_redis *r, int argc, const char **argv, const size_t *lens, pg_redis_get_cb cb,
                     pg_redis_ints_cb ints_cb, void *ctx)
{
    if (!pg_redis_ready(r))
        return NULL;
    cmd *c = calloc(1, sizeof *c);
    if (c != NULL)
        c->magic = CMD_MAGIC;
    if (c == NULL)
        return NULL;
    c->r = r;
    c->cb = cb;
    c->ints_cb = ints_cb;
    c->ctx = ctx;
    c->t0 = pg_monotonic_ns();
    if (redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, lens) != REDIS_OK) {
        free(c);
        r->st.errors++;
        return NULL;
    }
    r->st.commands++;
    PG_CHECK_UV(uv_timer_init(r->loop, &c->timer));
    c->timer.data = c;
    r->open++;
    PG_CHECK_UV(uv_timer_start(&c->timer, on_cmd_timeout, r->cfg.command_timeout_ms, 0));
    return c;
}

/* Returns false (a nil reply) for a missing key, so a miss looks the same as GET's. Redis caches
 * the compiled script by its digest; the text costs about a hundred bytes per call. */
static const char GET_TTL_SCRIPT[] =
    "local v = redis.call('GET', KEYS[1]) if not v then return false end return {v, redis.call('PTTL', KEYS[1])}";

int pg_redis_get(pg_redis *r, const char *key, size_t klen, pg_redis_get_cb cb, void *ctx)
{
    const char *argv[4] = {"EVAL", GET_TTL_SCRIPT, "1", key};
    size_t lens[4] = {4, sizeof GET_TTL_SCRIPT - 1, 1, klen};
    return send_cmd(r, 4, argv, lens, cb, NULL, ctx) ? PG_OK : PG_EIO;
}

void pg_redis_set(pg_redis *r, const char *key, size_t klen, const void *val, size_t len, int64_t ttl_ms)
{
    char ttl[24];
    int tl = snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *argv[5] = {"SET", key, val, "PX", ttl};
    size_t lens[5] = {3, klen, len, 2, (size_t)tl};
    send_cmd(r, ttl_ms > 0 ? 5 : 3, argv, lens, NULL, NULL, NULL);
}

int pg_redis_script(pg_redis *r, const char *script, const char *const *keys, size_t nkeys,
                    const char *const *args, size_t nargs, pg_redis_ints_cb cb, void *ctx)
{
    enum { MAXARGV = 3 + PG_REDIS_SCRIPT_ARGS_MAX };
    PG_ASSERT(nkeys + nargs <= PG_REDIS_SCRIPT_ARGS_MAX && nkeys < 10);
    const char *argv[MAXARGV];
    size_t lens[MAXARGV];
    char nk[4] = {(char)('0' + nkeys), 0};
    size_t argc = 0;
    argv[argc] = "EVAL", lens[argc++] = 4;
    argv[argc] = script, lens[argc++] = strlen(script);
    argv[argc] = nk, lens[argc++] = 1;
    for (size_t i = 0; i < nkeys; i++)
        argv[argc] = keys[i], lens[argc++] = strlen(keys[i]);
    for (size_t i = 0; i < nargs; i++)
        argv[argc] = args[i], lens[argc++] = strlen(args[i]);
    return send_cmd(r, (int)argc, argv, lens, NULL, cb, ctx) ? PG_OK : PG_EIO;
}

void pg_redis_get_stats(const pg_redis *r, pg_redis_stats *out)
{
    *out = r->st;
    out->connected = pg_redis_ready(r);
}

/* A graceful close's deadline: what Redis did not answer in time is dropped. */
static void on_close_deadline(uv_timer_t *t)
{
    pg_redis *r = t->data;
    PG_ASSERT(r->closing && r->close_waits);
    r->close_waits = false;
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
    pg_log(PG_LOG_WARN, "redis: commands still unanswered at shutdown after %llu ms; dropped",
           (unsigned long long)r->cfg.command_timeout_ms);
    redisAsyncContext *ac = r->ac;
    redisAsyncFree(ac); /* pending commands get NULL replies; on_disconnect runs if it was connected */
    if (r->ac == ac)
        r->ac = NULL;
    maybe_closed(r);
}

void pg_redis_close(pg_redis *r, void (*done)(void *data), void *data)
{
    r->closing = true;
    r->closed = done;
    r->closed_data = data;
    PG_CHECK_UV(uv_timer_stop(&r->watch));
    uv_close((uv_handle_t *)&r->watch, on_timer_closed);
    PG_CHECK_UV(uv_timer_stop(&r->timer));
    if (r->ac != NULL && r->state == R_READY) {
        /* Gracefully: the commands already queued (the fleet's leave, the SETs of buckets just
         * fetched) are written and answered before the connection closes, for at most
         * command_timeout. Freeing the context at once dropped them: a stopped replica's fleet
         * entry stayed until it expired, and a bucket fetched last could be fetched again. */
        r->close_waits = true;
        PG_CHECK_UV(uv_timer_start(&r->timer, on_close_deadline, r->cfg.command_timeout_ms, 0));
        redisAsyncDisconnect(r->ac); /* on_disconnect may run inside, when nothing is pending */
        return;
    }
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
    if (r->ac != NULL) {
        redisAsyncContext *ac = r->ac;
        /* Pending commands get their callbacks with NULL replies; on_disconnect runs if connected. */
        redisAsyncFree(ac);
        r->ac = NULL;
    }
    maybe_closed(r);
}
