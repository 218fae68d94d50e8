/*
 * http_server.c: libuv listeners and connections. One state per connection:
 *
 *   HEAD ──request──▶ HANDLER ──respond──▶ WRITING ──written──▶ HEAD (keep-alive)
 *                                                    └─close_after─▶ LINGER ──EOF/timer──▶ closed
 *
 * A connection waits for one deadline at a time (first-request head deadline, keep-alive idle,
 * send timeout, lingering close), kept in the server's deadline lists rather than a timer of its
 * own. Bytes that arrive while a request is being handled are kept (bounded) and parsed only after
 * its response is written, which is how pipelined responses stay in order. Reads go into one
 * shared buffer, and everything a request needs (parser, request, pending bytes) is allocated when
 * its first byte arrives and freed when the connection is idle again, so an idle keep-alive
 * connection costs its struct and libuv's handle. Memory of a connection is freed only when its
 * handles are closed and no write or handler still refers to it.
 */
#include "profgate/http_server.h"
#include "profgate/buf.h"
#include "profgate/clock.h"
#include "profgate/fsm.h"
#include "profgate/heapgive.h"
#include "profgate/log.h"
#include "profgate/peers.h"
#include "profgate/slab.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <errno.h>
#include <sys/sendfile.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define LINGER_MS 2000
#define REJECTING_MAX 64
#define LISTEN_BACKLOG 1024 /* capped by net.core.somaxconn */

/* A connection's life: NEW -> HEAD (reading a request) -> HANDLER (the handler has it) -> WRITING
 * (its answer is going out) -> HEAD again (keep-alive) or LINGER (our side shut, draining what
 * the client still sends). conn_set_state checks each move. */
typedef enum { C_NEW, C_HEAD, C_HANDLER, C_WRITING, C_LINGER, C_COUNT } cstate;
static const char *const cstate_names[C_COUNT] = {"new", "head", "handler", "writing", "linger"};
typedef enum { T_NONE, T_FIRST, T_IDLE, T_HEAD, T_SEND, T_LINGER, T_COUNT } tmode;

typedef struct conn conn;

struct pg_http_req {
    conn *c;
    const pg_http_head *head; /* NULL for errors answered before a head was complete */
    char id[40];
    char upstream_id[80]; /* the upstream's request id, for an answer passed through ("" otherwise) */
    int64_t t0;
    pg_http_abort_cb on_abort;
    void *abort_data;
    bool active; /* handed out (or being answered), not yet answered */
    /* A streamed answer: its status, whether chunked framing is used, bytes queued (written to
     * libuv, not yet confirmed) and sent, and who waits for the queue to drain. */
    bool streaming, chunked;
    int status;
    size_t queued, body_bytes;
    size_t drain_low;
    pg_http_drain_cb on_drain;
    void *drain_data;
    const void *note; /* the handler's: what this request is, for its on_done hook */
};

#define CONN_MAGIC 0x636f6e6eu /* "conn" */

/* What a connection holds only while it has a request: allocated when the request's first byte
 * arrives, freed when the connection is idle again (conn_process) or gone (conn_maybe_free). */
typedef struct conn_work {
    pg_http_parser hp;
    pg_buf pending; /* received, not yet parsed */
    pg_http_req req;
    /* A body sent from a file with sendfile(2): cached answers live in memfds, so the kernel
     * hands their pages to the socket without copying them. */
    struct {
        bool active;
        int fd;
        off_t off, end;
        void (*release)(void *ctx);
        void *ctx;
    } sf;
    uv_shutdown_t shutdown_req;
} conn_work;

/* Waiting for room for a file body: libuv streams have no sendfile, so a poll handle on a dup of
 * the socket. Made the first time a socket is full; kept until the connection closes. */
typedef struct conn_poll {
    uv_poll_t poll;
    int fd;
} conn_poll;

struct conn {
    uint32_t magic;
    cstate state;
    tmode tmode;
    int open_handles;
    unsigned writes; /* uv_write requests in flight */
    bool closing;
    bool reading;
    bool close_after;
    bool counted;
    bool shutdown_active;
    uv_tcp_t tcp;
    pg_http_server *srv;
    conn *prev, *next;   /* every connection of the server */
    conn *tprev, *tnext; /* the server's list of connections waiting for a deadline of tmode */
    uint64_t deadline;   /* loop time, ms */
    conn_work *work;     /* NULL while idle */
    conn_poll *cpoll;    /* NULL until a file body found the socket full */
    pg_peer_key peer;    /* the client's address, counted in the server's peers while counted */
};

/* The connection behind a handle's or request's data pointer (checked). */
static conn *conn_of(void *data)
{
    conn *c = data;
    PG_ASSERT(c != NULL && c->magic == CONN_MAGIC);
    return c;
}

typedef struct listener {
    uv_tcp_t tcp;
    pg_http_server *srv;
} listener;

typedef struct reject {
    uv_tcp_t tcp;
    uv_write_t w;
    pg_http_server *srv;
    char response[512];
} reject;

/* What a write is: a piece of a streamed answer, the end of an answer (the connection moves on
 * when it is written), or a head whose body follows with sendfile. */
typedef enum { W_PIECE, W_LAST, W_HEAD_THEN_FILE } wkind;

typedef struct wreq {
    uv_write_t w;
    conn *c;
    size_t len;
    wkind kind;
    void (*release)(void *ctx); /* a shared body is released here once written */
    void *release_ctx;
    char data[];
} wreq;

struct pg_http_server {
    uv_loop_t *loop;
    pg_http_server_cfg cfg;
    pg_http_handler handler;
    void *hdata;
    listener ls[PG_LISTEN_MAX];
    size_t nls;
    conn *conns;
    size_t nconns;
    pg_slab conn_slab; /* the conn structs, apart from the heap that requests churn (slab.h) */
    size_t nwork;        /* connections holding a request's state (conn_work) */
    pg_heapgive give;    /* when a burst of them has receded: the heap's free pages go back */
    uint64_t give_backs; /* times it did */
    uv_timer_t give_timer; /* a give-back that was wanted too soon after the last */
    bool give_timer_init;
    size_t nrejecting;
    int open_handles; /* listeners and the server's timers */
    bool shutting_down;
    pg_peers *peers;                 /* connections per client address */
    bool shutdown_timer_init;
    uv_timer_t shutdown_timer;
    pg_http_closed_cb done;
    void *done_data;
    uint64_t rng[2];
    int64_t last_reject_log_ns;
    uint64_t rejects_since_log;
    /* Deadlines: per kind, the connections waiting for one in deadline order, and one timer for
     * the earliest of them. */
    struct {
        conn *head, *tail;
    } tl[T_COUNT];
    uv_timer_t tick;
    bool tick_init;
    uint64_t tick_due; /* loop time the tick is set for; 0 when it is not set */
    time_t date_sec;
    char date[40];
    char readbuf[READ_CHUNK];
};

static void conn_close(conn *c);
static void conn_process(conn *c);
static void start_read(conn *c);
static void on_tick(uv_timer_t *t);
static void on_deadline(conn *c, tmode mode);
static void server_maybe_done(pg_http_server *s);

/* ---------------------------------------------------------------- helpers */

const char *pg_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

static uint64_t rng_next(pg_http_server *s)
{
    /* xorshift128+: request ids need uniqueness, not secrecy. */
    uint64_t x = s->rng[0], y = s->rng[1];
    s->rng[0] = y;
    x ^= x << 23;
    s->rng[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return s->rng[1] + y;
}

static void make_request_id(pg_http_server *s, char out[40])
{
    uint64_t a = rng_next(s), b = rng_next(s);
    a = (a & ~UINT64_C(0xf000)) | UINT64_C(0x4000);             /* version 4 */
    b = (b & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);       /* variant 10 */
    snprintf(out, 40, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
             (unsigned)a & 0xffff, (unsigned)(b >> 48), (unsigned long long)(b & UINT64_C(0xffffffffffff)));
}

static const char *http_date(pg_http_server *s)
{
    time_t now = time(NULL);
    if (now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof s->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_sec = now;
    }
    return s->date;
}

/* ---------------------------------------------------------------- deadlines */

/* A libuv timer per connection would cost 152 bytes each and a heap operation per re-arm (every
 * write re-arms the send deadline). Instead each kind of deadline keeps its connections in a list
 * in deadline order, and the server has one timer, for the earliest head. Connections in one list
 * got the same timeout, so a new deadline belongs at the tail: inserting walks back from there
 * only when a reconfigured timeout put later deadlines ahead of it. */

static void tl_unlink(conn *c)
{
    if (c->tmode == T_NONE)
        return;
    pg_http_server *s = c->srv;
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        s->tl[c->tmode].head = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        s->tl[c->tmode].tail = c->tprev;
    c->tprev = c->tnext = NULL;
    c->tmode = T_NONE;
}

static void tick_set(pg_http_server *s, uint64_t due)
{
    uint64_t now = uv_now(s->loop);
    PG_CHECK_UV(uv_timer_start(&s->tick, on_tick, due > now ? due - now : 0, 0));
    s->tick_due = due;
}

static void arm(conn *c, tmode mode)
{
    pg_http_server *s = c->srv;
    const pg_http_server_cfg *cfg = &s->cfg;
    uint64_t ms = 0;
    if (c->closing)
        return;
    tl_unlink(c);
    switch (mode) {
    case T_NONE: return; /* the tick may fire for nothing; it then sets itself for what is left */
    case T_FIRST:
    case T_HEAD: ms = cfg->head_timeout_ms; break;
    case T_IDLE: ms = cfg->idle_timeout_ms; break;
    case T_SEND: ms = cfg->send_timeout_ms; break;
    case T_LINGER: ms = LINGER_MS; break;
    case T_COUNT: PG_ASSERT(!"no such deadline");
    }
    /* At least 1 ms, so a connection re-armed while the tick runs is not due in the same pass. */
    c->deadline = uv_now(s->loop) + (ms > 0 ? ms : 1);
    c->tmode = mode;
    conn *after = s->tl[mode].tail;
    while (after != NULL && after->deadline > c->deadline)
        after = after->tprev;
    c->tprev = after;
    c->tnext = after ? after->tnext : s->tl[mode].head;
    if (c->tnext)
        c->tnext->tprev = c;
    else
        s->tl[mode].tail = c;
    if (after)
        after->tnext = c;
    else
        s->tl[mode].head = c;
    if (s->tick_due == 0 || c->deadline < s->tick_due)
        tick_set(s, c->deadline);
}

static void on_tick(uv_timer_t *t)
{
    pg_http_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    s->tick_due = 0;
    for (int m = T_NONE + 1; m < T_COUNT; m++) {
        conn *c;
        while ((c = s->tl[m].head) != NULL && c->deadline <= now) {
            tl_unlink(c);
            on_deadline(c, (tmode)m);
        }
    }
    uint64_t due = 0;
    for (int m = T_NONE + 1; m < T_COUNT; m++)
        if (s->tl[m].head != NULL && (due == 0 || s->tl[m].head->deadline < due))
            due = s->tl[m].head->deadline;
    if (due != 0 && (s->tick_due == 0 || due < s->tick_due))
        tick_set(s, due);
}

/* ---------------------------------------------------------------- per-request state */

/* Unparsed input a connection may hold: a request head plus what pipelining clients send ahead. */
static size_t pending_limit(const conn *c)
{
    return 2 * READ_CHUNK + c->srv->cfg.limits.max_head;
}

static void on_give_timer(uv_timer_t *t);

/* After a burst, what its requests held is free but resident: handed back when the policy says.
 * Asked at the end of every request, so the policy's clock is the loop's (a field read), the
 * clock its timer runs on too. */
static void heap_give_check(pg_http_server *s)
{
    int64_t wait = pg_heapgive_check(&s->give, s->nwork, (int64_t)uv_now(s->loop) * PG_NS_PER_MS);
    if (wait > 0 && s->give_timer_init && !uv_is_active((uv_handle_t *)&s->give_timer))
        PG_CHECK_UV(uv_timer_start(&s->give_timer, on_give_timer, (uint64_t)(wait + PG_NS_PER_MS - 1) / PG_NS_PER_MS, 0));
    if (wait != 0)
        return;
    int64_t t0 = pg_monotonic_ns();
    bool released = pg_heap_give_back();
    s->give_backs++;
    pg_log(PG_LOG_DEBUG, "a burst of requests ended: heap pages given back (%s, %.2f ms)",
           released ? "some released" : "none free", (double)(pg_monotonic_ns() - t0) / 1e6);
}

static void on_give_timer(uv_timer_t *t)
{
    heap_give_check(t->data);
}

/* The connection's request state, allocated on first use; NULL when out of memory. */
static conn_work *conn_work_get(conn *c)
{
    if (c->work != NULL)
        return c->work;
    conn_work *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    pg_http_parser_init(&w->hp, &c->srv->cfg.limits);
    pg_buf_init(&w->pending, pending_limit(c));
    w->req.c = c;
    c->work = w;
    pg_heapgive_rise(&c->srv->give, ++c->srv->nwork);
    return w;
}

static void conn_work_free(conn *c)
{
    conn_work *w = c->work;
    if (w == NULL)
        return;
    PG_ASSERT(!w->req.active && !w->sf.active && !c->shutdown_active);
    pg_http_parser_free(&w->hp);
    pg_buf_free(&w->pending);
    free(w);
    c->work = NULL;
    PG_ASSERT(c->srv->nwork > 0);
    c->srv->nwork--;
    heap_give_check(c->srv);
}

/* Bytes received and not yet parsed. */
static size_t pending_len(const conn *c)
{
    return c->work ? c->work->pending.len : 0;
}

/* Whether a request has begun arriving (its first byte is in). */
static bool in_message(const conn *c)
{
    return c->work != NULL && (c->work->hp.in_message || c->work->pending.len > 0);
}

/* ---------------------------------------------------------------- closing */

static void conn_maybe_free(conn *c)
{
    if (c->open_handles > 0 || (c->work && c->work->req.active) || c->writes > 0 || c->shutdown_active)
        return;
    pg_http_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    if (c->counted)
        pg_peers_remove(s->peers, &c->peer);
    conn_work_free(c);
    c->magic = 0;
    pg_slab_free(&s->conn_slab, c);
    server_maybe_done(s);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    conn *c = conn_of(h->data);
    c->open_handles--;
    conn_maybe_free(c);
}

static void on_poll_closed(uv_handle_t *h)
{
    conn *c = conn_of(h->data);
    close(c->cpoll->fd);
    free(c->cpoll); /* h with it */
    c->cpoll = NULL;
    c->open_handles--;
    conn_maybe_free(c);
}

static void sf_release(conn *c)
{
    if (c->work == NULL || !c->work->sf.active)
        return;
    c->work->sf.active = false;
    c->work->sf.release(c->work->sf.ctx);
}

/* Closes every handle of the connection; reset sends a TCP RST (SO_LINGER 0) instead of a FIN. */
static void close_handles(conn *c, bool reset)
{
    sf_release(c);
    tl_unlink(c);
    if (!reset || uv_tcp_close_reset(&c->tcp, on_conn_handle_closed) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    if (c->cpoll != NULL)
        uv_close((uv_handle_t *)&c->cpoll->poll, on_poll_closed);
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    /* A handler still working on this connection's request hears about it now. */
    pg_http_req *r = c->work ? &c->work->req : NULL;
    if (r != NULL && r->active && r->on_abort != NULL)
        r->on_abort(r, r->abort_data);
    close_handles(c, false);
}

/* Closes with a TCP RST instead of a FIN (SO_LINGER 0): the peer sees an error, not an end. */
static void conn_reset(conn *c)
{
    c->closing = true;
    close_handles(c, true);
}

/* ---------------------------------------------------------------- writing */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn *c = conn_of(req->data);
    c->shutdown_active = false;
    if (c->closing) {
        conn_maybe_free(c);
        return;
    }
    if (status < 0)
        conn_close(c);
    /* Otherwise keep reading and discarding until the peer closes or the linger timer fires,
     * so unread request bytes do not turn our FIN into a RST that destroys the response. */
}

static void conn_set_state(conn *c, cstate next)
{
    static const bool legal[C_COUNT][C_COUNT] = {
        [C_NEW] = {[C_HEAD] = true},
        [C_HEAD] = {[C_HANDLER] = true, [C_LINGER] = true},
        [C_HANDLER] = {[C_WRITING] = true, [C_LINGER] = true},
        [C_WRITING] = {[C_HEAD] = true, [C_LINGER] = true},
    };
    static const pg_fsm fsm = {"connection", cstate_names, C_COUNT, &legal[0][0]};
    pg_fsm_move(&fsm, c->work && c->work->req.id[0] ? c->work->req.id : NULL, c->state, next);
    c->state = next;
}

static void start_linger(conn *c)
{
    conn_set_state(c, C_LINGER);
    conn_work *w = conn_work_get(c);
    if (w == NULL) {
        conn_close(c);
        return;
    }
    pg_buf_free(&w->pending);
    w->shutdown_req.data = c;
    if (uv_shutdown(&w->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    c->shutdown_active = true;
    arm(c, T_LINGER);
    if (!c->reading) {
        /* The read callback discards everything in LINGER. */
        c->reading = true;
        start_read(c);
    }
}

/* A response has left completely: read the next request, or close. */
static void response_done(conn *c)
{
    if (c->state == C_HEAD) {
        /* An error answered mid-parse; nothing more will be read. */
        start_linger(c);
        return;
    }
    pg_http_parser_next(&c->work->hp);
    if (c->close_after) {
        start_linger(c);
        return;
    }
    conn_set_state(c, C_HEAD);
    arm(c, T_IDLE);
    conn_process(c);
}

static void sf_pump(conn *c);

/* TCP_CORK holds the head back until the file body joins it, so a small head does not leave as a
 * packet of its own (TCP_NODELAY is on). Best effort: not every socket is TCP. */
static void cork(conn *c, bool on)
{
    uv_os_fd_t fd;
    int v = on;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v);
}

static void on_writable(uv_poll_t *p, int status, int events)
{
    conn *c = p->data;
    (void)events;
    PG_CHECK_UV(uv_poll_stop(p));
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    sf_pump(c);
}

/* Sends the file body until done or the socket is full (then waits for room). */
static void sf_pump(conn *c)
{
    uv_os_fd_t sock;
    PG_ASSERT(uv_fileno((uv_handle_t *)&c->tcp, &sock) == 0);
    __typeof__(c->work->sf) *sf = &c->work->sf;
    while (sf->off < sf->end) {
        ssize_t n = sendfile(sock, sf->fd, &sf->off, (size_t)(sf->end - sf->off));
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->cpoll == NULL) {
                conn_poll *cp = malloc(sizeof *cp);
                int fd = cp ? dup(sock) : -1;
                if (fd < 0 || uv_poll_init(c->srv->loop, &cp->poll, fd) != 0) {
                    if (fd >= 0)
                        close(fd);
                    free(cp);
                    conn_close(c);
                    return;
                }
                cp->fd = fd;
                cp->poll.data = c;
                c->cpoll = cp;
                c->open_handles++;
            }
            if (uv_poll_start(&c->cpoll->poll, UV_WRITABLE, on_writable) != 0)
                conn_close(c);
            else
                arm(c, T_SEND);
            return;
        }
        pg_log(PG_LOG_DEBUG, "sendfile failed: %s", n < 0 ? strerror(errno) : "short file");
        conn_close(c);
        return;
    }
    sf_release(c);
    cork(c, false);
    response_done(c);
}

static void on_write(uv_write_t *w, int status)
{
    wreq *wr = w->data;
    conn *c = wr->c;
    wkind kind = wr->kind;
    if (wr->release)
        wr->release(wr->release_ctx);
    if (kind == W_PIECE)
        c->work->req.queued -= wr->len;
    free(wr);
    c->writes--;
    if (c->closing) {
        conn_maybe_free(c);
        return;
    }
    if (status < 0) {
        pg_log(PG_LOG_DEBUG, "write failed: %s", uv_strerror(status));
        conn_close(c);
        return;
    }
    if (kind == W_HEAD_THEN_FILE) {
        sf_pump(c);
        return;
    }
    if (kind == W_PIECE) {
        /* A piece of a streamed answer: its producer may be waiting for room. */
        pg_http_req *r = &c->work->req;
        if (r->on_drain != NULL && r->queued <= r->drain_low) {
            pg_http_drain_cb cb = r->on_drain;
            r->on_drain = NULL;
            cb(r, r->drain_data);
        }
        return;
    }
    response_done(c);
}

/* The request is answered (status 0: reset or abandoned): the server's on_done hook, or else a
 * plain access line. */
static void request_done(conn *c, int status, size_t body_len)
{
    pg_http_req *r = &c->work->req;
    pg_http_server *s = c->srv;
    pg_http_done_info info = {.status = status, .body_bytes = body_len, .duration_ns = pg_monotonic_ns() - r->t0,
                              .client_gone = c->closing};
    if (s->cfg.on_done != NULL) {
        s->cfg.on_done(r, &info, s->hdata);
        return;
    }
    if (!pg_log_enabled(PG_LOG_INFO) || !s->cfg.access_log)
        return;
    char target[256] = "-";
    char method[20] = "-";
    if (r->head != NULL) {
        pg_printable(r->head->target, r->head->target_len, target, sizeof target);
        pg_printable(r->head->method, r->head->method_len, method, sizeof method);
    }
    pg_log_fields(PG_LOG_INFO, "access",
                  (pg_log_field[]){PG_LF_S("rid", r->id), PG_LF_S("method", method), PG_LF_S("target", target),
                                   PG_LF_I("status", status), PG_LF_I("bytes", body_len),
                                   PG_LF_F("dur_ms", (double)info.duration_ns / 1e6),
                                   PG_LF_S("client_gone", c->closing ? "1" : NULL)},
                  7);
}

/* The status line and headers; framing is the Content-Length or Transfer-Encoding line. */
static size_t head_size(const pg_http_out_header *hdrs, size_t nhdrs)
{
    size_t cap = 512;
    for (size_t i = 0; i < nhdrs; i++)
        cap += strlen(hdrs[i].name) + strlen(hdrs[i].value) + 4;
    return cap;
}

static size_t format_head(conn *c, int status, const pg_http_out_header *hdrs, size_t nhdrs, const char *framing,
                          char *out, size_t cap)
{
    pg_http_server *s = c->srv;
    int n;
    const pg_http_req *r = &c->work->req;
    if (r->upstream_id[0])
        /* An answer passed through from the upstream keeps its request id; ours goes alongside. */
        n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: %s\r\nx-amzn-RequestId: %s\r\nX-Profgate-Request-Id: "
                     "%s\r\n%sConnection: %s\r\n",
                     status, pg_http_reason(status), http_date(s), s->cfg.server_name, r->upstream_id, r->id,
                     framing, c->close_after ? "close" : "keep-alive");
    else
        n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: %s\r\nx-amzn-RequestId: %s\r\n%sConnection: %s\r\n",
                     status, pg_http_reason(status), http_date(s), s->cfg.server_name, r->id, framing,
                     c->close_after ? "close" : "keep-alive");
    size_t off = (size_t)n;
    for (size_t i = 0; i < nhdrs; i++) {
        n = snprintf(out + off, cap - off, "%s: %s\r\n", hdrs[i].name, hdrs[i].value);
        off += (size_t)n;
    }
    PG_ASSERT(off + 2 <= cap);
    memcpy(out + off, "\r\n", 2);
    return off + 2;
}

/* Queues wr (its data[0..len), plus an optional shared body) on the connection. False when the
 * write could not start: the connection is then closing and wr (and the body) released. */
static bool queue_write(conn *c, wreq *wr, size_t len, const void *body, size_t body_len, wkind kind,
                        void (*release)(void *ctx), void *ctx)
{
    uv_buf_t bufs[2] = {uv_buf_init(wr->data, (unsigned)len), uv_buf_init((char *)body, (unsigned)body_len)};
    wr->len = len + body_len;
    wr->c = c;
    wr->w.data = wr;
    wr->kind = kind;
    wr->release = release;
    wr->release_ctx = ctx;
    int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, bufs, body_len > 0 ? 2 : 1, on_write);
    if (rc != 0) {
        if (release)
            release(ctx);
        free(wr);
        pg_log(PG_LOG_DEBUG, "write failed: %s", uv_strerror(rc));
        conn_close(c);
        return false;
    }
    c->writes++;
    arm(c, T_SEND);
    return true;
}

/* A whole answer: the body copied (release NULL), shared (release frees it once written), or in a
 * file (fd >= 0, sent with sendfile; release closes over it). */
static void respond(pg_http_req *r, int status, const pg_http_out_header *hdrs, size_t nhdrs, const void *body,
                    int fd, size_t len, void (*release)(void *ctx), void *ctx)
{
    PG_ASSERT(r->active && !r->streaming);
    conn *c = r->c;
    request_done(c, status, len);
    r->active = false;
    if (c->closing) {
        if (release)
            release(ctx);
        conn_maybe_free(c); /* the client left; the answer goes nowhere */
        return;
    }
    if (c->srv->shutting_down)
        c->close_after = true;

    /* The head, plus the body when it is copied, go into one allocation. */
    bool copied = release == NULL;
    size_t cap = head_size(hdrs, nhdrs) + (copied ? len : 0);
    wreq *wr = malloc(sizeof *wr + cap);
    if (wr == NULL) {
        if (release)
            release(ctx);
        pg_log(PG_LOG_ERROR, "out of memory writing a %zu-byte response", len);
        conn_close(c);
        return;
    }
    char framing[48];
    snprintf(framing, sizeof framing, "Content-Length: %zu\r\n", len);
    size_t off = format_head(c, status, hdrs, nhdrs, framing, wr->data, cap);
    if (copied && len > 0) {
        PG_ASSERT(off + len <= cap);
        memcpy(wr->data + off, body, len);
        off += len;
    }
    if (c->state == C_HANDLER)
        conn_set_state(c, C_WRITING);
    if (fd >= 0) {
        __typeof__(c->work->sf) *sf = &c->work->sf;
        sf->active = true;
        sf->fd = fd;
        sf->off = 0;
        sf->end = (off_t)len;
        sf->release = release;
        sf->ctx = ctx;
        cork(c, true);
        queue_write(c, wr, off, NULL, 0, W_HEAD_THEN_FILE, NULL, NULL);
    } else if (copied) {
        queue_write(c, wr, off, NULL, 0, W_LAST, NULL, NULL);
    } else {
        queue_write(c, wr, off, body, len, W_LAST, release, ctx);
    }
}

void pg_http_respond(pg_http_req *r, int status, const pg_http_out_header *hdrs, size_t nhdrs,
                     const void *body, size_t len)
{
    respond(r, status, hdrs, nhdrs, body, -1, len, NULL, NULL);
}

void pg_http_respond_shared(pg_http_req *r, int status, const pg_http_out_header *hdrs, size_t nhdrs,
                            const void *body, size_t len, void (*release)(void *ctx), void *ctx)
{
    PG_ASSERT(release != NULL);
    respond(r, status, hdrs, nhdrs, body, -1, len, release, ctx);
}

void pg_http_respond_fd(pg_http_req *r, int status, const pg_http_out_header *hdrs, size_t nhdrs, int fd,
                        size_t len, void (*release)(void *ctx), void *ctx)
{
    PG_ASSERT(release != NULL && fd >= 0);
    respond(r, status, hdrs, nhdrs, NULL, fd, len, release, ctx);
}

void pg_http_stream_begin(pg_http_req *r, int status, const pg_http_out_header *hdrs, size_t nhdrs)
{
    PG_ASSERT(r->active && !r->streaming);
    conn *c = r->c;
    r->streaming = true;
    r->status = status;
    if (c->closing)
        return;
    if (c->srv->shutting_down)
        c->close_after = true;
    /* HTTP/1.0 has no chunked encoding: the body ends where the connection does. */
    r->chunked = r->head->http_major > 1 || r->head->http_minor >= 1;
    if (!r->chunked)
        c->close_after = true;
    size_t cap = head_size(hdrs, nhdrs);
    wreq *wr = malloc(sizeof *wr + cap);
    if (wr == NULL) {
        pg_log(PG_LOG_ERROR, "out of memory starting a streamed response");
        conn_close(c);
        return;
    }
    size_t off = format_head(c, status, hdrs, nhdrs, r->chunked ? "Transfer-Encoding: chunked\r\n" : "", wr->data, cap);
    conn_set_state(c, C_WRITING);
    if (queue_write(c, wr, off, NULL, 0, W_PIECE, NULL, NULL))
        r->queued += off;
}

bool pg_http_stream_write(pg_http_req *r, const void *data, size_t len)
{
    PG_ASSERT(r->active && r->streaming);
    conn *c = r->c;
    if (c->closing)
        return false;
    if (len == 0)
        return true; /* a zero-length chunk would end the body */
    wreq *wr = malloc(sizeof *wr + len + 32);
    if (wr == NULL) {
        pg_log(PG_LOG_ERROR, "out of memory writing a %zu-byte chunk", len);
        conn_close(c);
        return false;
    }
    size_t off = 0;
    if (r->chunked)
        off = (size_t)snprintf(wr->data, 32, "%zx\r\n", len);
    memcpy(wr->data + off, data, len);
    off += len;
    if (r->chunked) {
        memcpy(wr->data + off, "\r\n", 2);
        off += 2;
    }
    if (!queue_write(c, wr, off, NULL, 0, W_PIECE, NULL, NULL))
        return false;
    r->queued += off;
    r->body_bytes += len;
    return true;
}

size_t pg_http_stream_queued(const pg_http_req *r)
{
    return r->queued;
}

void pg_http_stream_on_drain(pg_http_req *r, size_t low, pg_http_drain_cb cb, void *data)
{
    PG_ASSERT(r->active && r->streaming && r->queued > low && !r->c->closing);
    r->drain_low = low;
    r->on_drain = cb;
    r->drain_data = data;
}

void pg_http_stream_end(pg_http_req *r, bool ok)
{
    PG_ASSERT(r->active && r->streaming);
    conn *c = r->c;
    request_done(c, ok ? r->status : 0, r->body_bytes);
    r->active = false;
    r->on_drain = NULL;
    if (c->closing) {
        conn_maybe_free(c);
        return;
    }
    if (!ok) {
        /* The body is already partly sent: only a reset tells the client it is incomplete. */
        pg_log(PG_LOG_WARN, "rid=%s response cut short after %zu bytes", r->id, r->body_bytes);
        conn_reset(c);
        return;
    }
    wreq *wr = malloc(sizeof *wr + 8);
    if (wr == NULL) {
        conn_close(c);
        return;
    }
    size_t n = 0;
    if (r->chunked) {
        memcpy(wr->data, "0\r\n\r\n", 5);
        n = 5;
    }
    queue_write(c, wr, n, NULL, 0, W_LAST, NULL, NULL);
}

void pg_http_reset(pg_http_req *r)
{
    PG_ASSERT(r->active);
    conn *c = r->c;
    request_done(c, 0, 0);
    r->active = false;
    if (c->closing) {
        conn_maybe_free(c);
        return;
    }
    conn_reset(c);
}

void pg_http_respond_error_with(pg_http_req *r, const pg_apierr *e, const pg_http_out_header *hdrs, size_t nhdrs)
{
    pg_buf body;
    pg_buf_init(&body, 2048);
    int rc = pg_apierr_body(&body, e);
    PG_ASSERT(rc == PG_OK); /* messages are bounded well below the limit */
    pg_http_out_header h[8] = {
        {"Content-Type", "application/json"},
        {"x-amzn-ErrorType", pg_apierr_name(e->kind)},
    };
    size_t n = 2;
    /* Throttled or unavailable: when to come back, in both spellings clients read (HTTP's
     * Retry-After in seconds; the AWS SDKs' x-amz-retry-after in milliseconds). */
    char secs[24], ms[24];
    int64_t after = pg_apierr_retry_after(e);
    if (after > 0) {
        int k = snprintf(secs, sizeof secs, "%lld", (long long)((after + 999) / 1000));
        PG_FMT_FITS(k, sizeof secs);
        k = snprintf(ms, sizeof ms, "%lld", (long long)after);
        PG_FMT_FITS(k, sizeof ms);
        h[n++] = (pg_http_out_header){"Retry-After", secs};
        h[n++] = (pg_http_out_header){"x-amz-retry-after", ms};
    }
    PG_ASSERT(nhdrs <= PG_ARRAY_LEN(h) - n);
    for (size_t i = 0; i < nhdrs; i++)
        h[n++] = hdrs[i];
    int status = pg_apierr_status(e->kind);
    if (status >= 500 || status == 429)
        pg_log(PG_LOG_WARN, "rid=%s %s: %s", r->id, pg_apierr_name(e->kind), e->message);
    pg_http_respond(r, status, h, n, body.data, body.len);
    pg_buf_free(&body);
}

void pg_http_respond_error(pg_http_req *r, const pg_apierr *e)
{
    pg_http_respond_error_with(r, e, NULL, 0);
}

/* An error found while reading a request (before or instead of a handler): answer, then close. */
static void respond_early(conn *c, int status, const char *reason)
{
    static const struct {
        int status;
        pg_apierr_kind kind;
    } map[] = {
        {400, PG_AE_BAD_REQUEST},        {408, PG_AE_REQUEST_TIMEOUT},     {413, PG_AE_PAYLOAD_TOO_LARGE},
        {414, PG_AE_URI_TOO_LONG},       {431, PG_AE_HEADERS_TOO_LARGE},   {501, PG_AE_NOT_IMPLEMENTED},
        {503, PG_AE_UNAVAILABLE},
    };
    pg_apierr_kind kind = PG_AE_BAD_REQUEST;
    for (size_t i = 0; i < PG_ARRAY_LEN(map); i++)
        if (map[i].status == status)
            kind = map[i].kind;
    conn_work *w = conn_work_get(c);
    if (w == NULL) {
        conn_close(c);
        return;
    }
    pg_http_req *r = &w->req;
    memset(r, 0, sizeof *r);
    r->c = c;
    r->t0 = pg_monotonic_ns();
    r->active = true;
    make_request_id(c->srv, r->id);
    c->close_after = true;
    pg_apierr e;
    pg_apierr_set(&e, kind, "%s", reason);
    pg_log(PG_LOG_INFO, "rid=%s rejecting request: %d %s", r->id, status, reason);
    pg_http_respond_error(r, &e);
}

/* ---------------------------------------------------------------- reading */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = conn_of(h->data);
    /* One buffer for all connections: read_cb consumes or copies it before the next read. */
    *buf = uv_buf_init(c->srv->readbuf, READ_CHUNK);
}

static void update_reading(conn *c)
{
    if (c->closing)
        return;
    bool want = c->state == C_LINGER || pending_len(c) + READ_CHUNK <= pending_limit(c);
    if (want && !c->reading) {
        c->reading = true;
        start_read(c);
    } else if (!want && c->reading) {
        PG_CHECK_UV(uv_read_stop((uv_stream_t *)&c->tcp));
        c->reading = false;
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = conn_of(stream->data);
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        if (nread != UV_EOF)
            pg_log(PG_LOG_DEBUG, "read error: %s", uv_strerror((int)nread));
        if (c->state == C_WRITING && nread == UV_EOF) {
            /* Half-closed client: deliver the response, then close. */
            c->close_after = true;
            PG_CHECK_UV(uv_read_stop(stream));
            c->reading = false;
            return;
        }
        if (c->state == C_HEAD && in_message(c))
            pg_log(PG_LOG_DEBUG, "client closed mid-request");
        conn_close(c);
        return;
    }
    if (c->state == C_LINGER)
        return; /* discarded */
    conn_work *w = conn_work_get(c);
    if (w == NULL) {
        pg_log(PG_LOG_ERROR, "out of memory reading a request");
        conn_close(c);
        return;
    }
    if (pg_buf_append(&w->pending, buf->base, (size_t)nread) != PG_OK) {
        pg_log(PG_LOG_WARN, "closing a connection whose unread input exceeds %zu bytes", pending_limit(c));
        conn_close(c);
        return;
    }
    if (c->state == C_HEAD)
        conn_process(c);
    update_reading(c);
}

static void start_read(conn *c)
{
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

static void dispatch(conn *c)
{
    pg_http_server *s = c->srv;
    arm(c, T_NONE);
    conn_set_state(c, C_HANDLER);
    pg_http_req *r = &c->work->req;
    memset(r, 0, sizeof *r);
    r->c = c;
    r->head = pg_http_parser_head(&c->work->hp);
    r->t0 = pg_monotonic_ns();
    r->active = true;
    make_request_id(s, r->id);
    if (!r->head->keep_alive || s->shutting_down)
        c->close_after = true;
    s->handler(r, s->hdata);
}

static void conn_process(conn *c)
{
    conn_work *w = c->work;
    while (!c->closing && c->state == C_HEAD && c->writes == 0 && w != NULL && w->pending.len > 0) {
        pg_hp_event ev;
        size_t used = pg_http_parser_feed(&w->hp, w->pending.data, w->pending.len, &ev);
        pg_buf_consume(&w->pending, used);
        if (ev == PG_HP_MORE) {
            if (w->hp.in_message && c->tmode == T_IDLE)
                arm(c, T_HEAD); /* the deadline runs from the first byte of a request */
            break;
        }
        if (ev == PG_HP_ERROR) {
            respond_early(c, w->hp.error_status, w->hp.error_reason);
            break;
        }
        dispatch(c);
    }
    if (w != NULL && w->pending.len == 0) {
        pg_buf_free(&w->pending);
        /* Idle between requests: the connection gives back everything but its struct. */
        if (!c->closing && c->state == C_HEAD && c->writes == 0 && !w->hp.in_message && !w->req.active &&
            !w->sf.active && !c->shutdown_active)
            conn_work_free(c);
    }
    update_reading(c);
}

static void on_deadline(conn *c, tmode mode)
{
    if (c->closing)
        return;
    switch (mode) {
    case T_IDLE:
        pg_log(PG_LOG_DEBUG, "closing idle keep-alive connection");
        conn_close(c);
        break;
    case T_FIRST:
    case T_HEAD:
        /* A request that started but did not finish in time is told so; a connection that never
         * sent a byte is just closed. */
        if (c->state == C_HEAD && c->work != NULL && c->work->hp.in_message && c->writes == 0)
            respond_early(c, 408, "the request was not received in time");
        else
            conn_close(c);
        break;
    case T_SEND:
        pg_log(PG_LOG_INFO, "closing a connection whose client does not read its response");
        conn_close(c);
        break;
    case T_LINGER:
        conn_close(c);
        break;
    case T_NONE:
    case T_COUNT:
        PG_ASSERT(!"no such deadline");
    }
}

/* ---------------------------------------------------------------- accepting */

/* The answer to a connection over max_connections, written without a connection object. */
static size_t build_overload_response(pg_http_server *s, char *out, size_t outlen)
{
    static const char body[] =
        "{\"message\":\"profgate has too many open connections\",\"__type\":\"ServiceUnavailableException\"}";
    char id[40];
    make_request_id(s, id);
    int n = snprintf(out, outlen,
                     "HTTP/1.1 503 Service Unavailable\r\nDate: %s\r\nServer: %s\r\nx-amzn-RequestId: %s\r\n"
                     "Content-Type: application/json\r\nx-amzn-ErrorType: ServiceUnavailableException\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     http_date(s), s->cfg.server_name, id, sizeof body - 1, body);
    PG_ASSERT(n > 0 && (size_t)n < outlen);
    return (size_t)n;
}

static void on_reject_closed(uv_handle_t *h)
{
    reject *rj = h->data;
    pg_http_server *s = rj->srv;
    free(rj);
    s->nrejecting--;
    server_maybe_done(s);
}

static void on_reject_written(uv_write_t *w, int status)
{
    (void)status;
    reject *rj = w->data;
    uv_close((uv_handle_t *)&rj->tcp, on_reject_closed);
}

static void reject_connection(pg_http_server *s, uv_stream_t *server)
{
    reject *rj = malloc(sizeof *rj);
    if (rj == NULL)
        return;
    rj->srv = s;
    PG_CHECK_UV(uv_tcp_init(s->loop, &rj->tcp));
    rj->tcp.data = rj;
    rj->w.data = rj;
    s->nrejecting++;
    s->rejects_since_log++;
    int64_t now = pg_monotonic_ns();
    if (now - s->last_reject_log_ns > PG_NS_PER_S) {
        pg_log(PG_LOG_WARN, "max_connections (%zu) reached: refused %llu connection(s) with 503", s->cfg.max_connections,
               (unsigned long long)s->rejects_since_log);
        s->last_reject_log_ns = now;
        s->rejects_since_log = 0;
    }
    if (uv_accept(server, (uv_stream_t *)&rj->tcp) != 0 || s->nrejecting > REJECTING_MAX) {
        uv_close((uv_handle_t *)&rj->tcp, on_reject_closed);
        return;
    }
    size_t n = build_overload_response(s, rj->response, sizeof rj->response);
    uv_buf_t buf = uv_buf_init(rj->response, (unsigned)n);
    if (uv_write(&rj->w, (uv_stream_t *)&rj->tcp, &buf, 1, on_reject_written) != 0)
        uv_close((uv_handle_t *)&rj->tcp, on_reject_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    listener *l = server->data;
    pg_http_server *s = l->srv;
    if (status < 0) {
        pg_log(PG_LOG_WARN, "accept failed: %s", uv_strerror(status));
        return;
    }
    if (s->shutting_down)
        return;
    if (s->nconns >= s->cfg.max_connections) {
        reject_connection(s, server);
        return;
    }
    conn *c = pg_slab_alloc(&s->conn_slab);
    if (c != NULL)
        c->magic = CONN_MAGIC;
    if (c == NULL) {
        reject_connection(s, server);
        return;
    }
    c->srv = s;
    PG_CHECK_UV(uv_tcp_init(s->loop, &c->tcp));
    c->tcp.data = c;
    c->open_handles = 1;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    conn_set_state(c, C_HEAD);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    (void)uv_tcp_nodelay(&c->tcp, 1); /* best effort: a peer already gone fails its first write instead */
    arm(c, T_FIRST);
    c->reading = true;
    start_read(c);
    /* One client address may hold at most max_connections_per_client: past it, a 503 on this
     * connection and it closes (one address cannot take every connection, and their buffers). */
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0 && pg_peer_key_of(&ss, &c->peer)) {
        c->counted = pg_peers_add(s->peers, &c->peer, s->cfg.max_per_client);
        if (!c->counted) {
            respond_early(c, 503, "too many connections from this client address (server.max_connections_per_client)");
        }
    }
}

/* ---------------------------------------------------------------- server */

void pg_http_server_cfg_default(pg_http_server_cfg *out)
{
    /* The same values as the server.* defaults of profgate's directive table (test_config checks). */
    *out = (pg_http_server_cfg){
        .limits = {.max_head = 16 * 1024, .max_url = 8 * 1024, .max_headers = 64, .max_body = 64 * 1024},
        .max_connections = 16384,
        .head_timeout_ms = 10000,
        .idle_timeout_ms = 60000,
        .send_timeout_ms = 30000,
        .server_name = "profgate",
    };
}

static void on_listener_closed(uv_handle_t *h)
{
    listener *l = h->data;
    l->srv->open_handles--;
    server_maybe_done(l->srv);
}

static void on_server_timer_closed(uv_handle_t *h)
{
    pg_http_server *s = h->data;
    s->open_handles--;
    server_maybe_done(s);
}

static void server_maybe_done(pg_http_server *s)
{
    if (!s->shutting_down || s->nconns > 0 || s->nrejecting > 0)
        return;
    if (s->shutdown_timer_init) {
        s->shutdown_timer_init = false;
        uv_close((uv_handle_t *)&s->shutdown_timer, on_server_timer_closed);
    }
    if (s->tick_init) {
        s->tick_init = false;
        uv_close((uv_handle_t *)&s->tick, on_server_timer_closed);
    }
    if (s->give_timer_init) {
        s->give_timer_init = false;
        uv_close((uv_handle_t *)&s->give_timer, on_server_timer_closed);
    }
    if (s->open_handles > 0)
        return;
    pg_http_closed_cb done = s->done;
    void *data = s->done_data;
    pg_peers_free(s->peers);
    pg_slab_destroy(&s->conn_slab);
    free(s);
    if (done)
        done(data);
}

int pg_http_server_start(uv_loop_t *loop, const pg_http_server_cfg *cfg, pg_http_handler handler,
                         void *data, pg_http_server **out, char *err, size_t errlen)
{
    pg_http_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return PG_ENOMEM;
    s->loop = loop;
    s->cfg = *cfg;
    s->handler = handler;
    pg_heapgive_init(&s->give);
    pg_slab_init(&s->conn_slab, sizeof(conn));
    if ((s->peers = pg_peers_new()) == NULL) {
        free(s);
        return PG_ENOMEM;
    }
    s->hdata = data;
    PG_CHECK_UV(uv_timer_init(loop, &s->tick));
    s->tick.data = s;
    s->tick_init = true;
    s->open_handles++;
    PG_CHECK_UV(uv_timer_init(loop, &s->give_timer));
    s->give_timer.data = s;
    s->give_timer_init = true;
    s->open_handles++;
    if (getrandom(s->rng, sizeof s->rng, 0) != (ssize_t)sizeof s->rng) {
        s->rng[0] = (uint64_t)pg_realtime_ns();
        s->rng[1] = (uint64_t)pg_monotonic_ns() | 1;
    }
    for (size_t i = 0; i < cfg->listen.n; i++) {
        listener *l = &s->ls[i];
        l->srv = s;
        PG_CHECK_UV(uv_tcp_init(loop, &l->tcp));
        l->tcp.data = l;
        s->nls++;
        s->open_handles++;
        const struct sockaddr *sa = (const struct sockaddr *)&cfg->listen.addr[i];
        int rc;
        if (cfg->reuseport) {
            /* libuv 1.44 has no UV_TCP_REUSEPORT: the socket is made by hand and handed over. */
            int fd = -1;
            rc = pg_listen_socket(&cfg->listen.addr[i], true, false, 0, &fd);
            if (rc == 0 && (rc = uv_tcp_open(&l->tcp, fd)) != 0)
                close(fd);
        } else {
            rc = uv_tcp_bind(&l->tcp, sa, sa->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
        }
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, on_connection);
        if (rc != 0) {
            char addr[80] = "?";
            if (sa->sa_family == AF_INET6)
                uv_ip6_name((const struct sockaddr_in6 *)sa, addr, sizeof addr);
            else
                uv_ip4_name((const struct sockaddr_in *)sa, addr, sizeof addr);
            snprintf(err, errlen, "cannot listen on %s port %d: %s", addr,
                     ntohs(((const struct sockaddr_in *)sa)->sin_port), uv_strerror(rc));
            /* Tear down what was opened; the caller runs the loop to let the closes finish. */
            s->shutting_down = true;
            for (size_t k = 0; k < s->nls; k++)
                uv_close((uv_handle_t *)&s->ls[k].tcp, on_listener_closed);
            return PG_EIO;
        }
    }
    *out = s;
    return PG_OK;
}

size_t pg_http_server_listener_count(const pg_http_server *s)
{
    return s->nls;
}

int pg_http_server_bound(const pg_http_server *s, size_t i, char *buf, size_t buflen)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (i >= s->nls || uv_tcp_getsockname(&s->ls[i].tcp, (struct sockaddr *)&ss, &len) != 0)
        return PG_EINVAL;
    char host[64];
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
        snprintf(buf, buflen, "[%s]:%d", host, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
        snprintf(buf, buflen, "%s:%d", host, ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
    return PG_OK;
}

void pg_http_server_log_listeners(const pg_http_server *s)
{
    for (size_t i = 0; i < s->nls; i++) {
        char addr[80];
        if (pg_http_server_bound(s, i, addr, sizeof addr) == PG_OK)
            pg_log(PG_LOG_INFO, "listening on %s", addr);
    }
}

size_t pg_http_server_connections(const pg_http_server *s)
{
    return s->nconns;
}

uint64_t pg_http_server_heap_give_backs(const pg_http_server *s)
{
    return s->give_backs;
}

static void on_shutdown_deadline(uv_timer_t *t)
{
    pg_http_server *s = t->data;
    if (s->nconns > 0)
        pg_log(PG_LOG_WARN, "shutdown deadline reached: closing %zu connection(s)", s->nconns);
    for (conn *c = s->conns; c != NULL; c = c->next)
        conn_close(c);
}

void pg_http_server_shutdown(pg_http_server *s, uint64_t timeout_ms, pg_http_closed_cb done, void *data)
{
    PG_ASSERT(!s->shutting_down);
    s->shutting_down = true;
    s->done = done;
    s->done_data = data;
    for (size_t i = 0; i < s->nls; i++)
        uv_close((uv_handle_t *)&s->ls[i].tcp, on_listener_closed);
    for (conn *c = s->conns; c != NULL; c = c->next) {
        if (c->closing)
            continue;
        if (c->state == C_HEAD && !in_message(c))
            conn_close(c); /* idle: nothing to finish */
        else
            c->close_after = true;
    }
    PG_CHECK_UV(uv_timer_init(s->loop, &s->shutdown_timer));
    s->shutdown_timer.data = s;
    s->shutdown_timer_init = true;
    s->open_handles++;
    PG_CHECK_UV(uv_timer_start(&s->shutdown_timer, on_shutdown_deadline, timeout_ms, 0));
    server_maybe_done(s);
}

/* ---------------------------------------------------------------- request accessors */

const pg_http_head *pg_http_req_head(const pg_http_req *r)
{
    return r->head;
}

const char *pg_http_req_id(const pg_http_req *r)
{
    return r->id;
}

bool pg_http_req_peer(const pg_http_req *r, pg_peer_key *out)
{
    if (r->c == NULL || r->c->peer.family == 0)
        return false;
    *out = r->c->peer;
    return true;
}

void pg_http_req_set_upstream_id(pg_http_req *r, const char *id)
{
    pg_printable(id, strlen(id), r->upstream_id, sizeof r->upstream_id);
}

const char *pg_http_req_header(const pg_http_req *r, const char *name, size_t *len)
{
    if (r->head == NULL)
        return NULL;
    const pg_http_header *h = pg_http_head_find(r->head, name);
    if (h == NULL)
        return NULL;
    *len = h->value_len;
    return h->value;
}

const char *pg_http_req_header_list(const pg_http_req *r, const char *name, char *buf, size_t buflen, size_t *len)
{
    return r->head != NULL && pg_http_head_join(r->head, name, buf, buflen, len) ? buf : NULL;
}

bool pg_http_req_accepts_gzip(const pg_http_req *r)
{
    char v[1024];
    size_t len;
    return pg_http_req_header_list(r, "accept-encoding", v, sizeof v, &len) != NULL &&
           pg_http_accepts_coding(v, len, "gzip");
}

void pg_http_req_on_abort(pg_http_req *r, pg_http_abort_cb cb, void *data)
{
    r->on_abort = cb;
    r->abort_data = data;
}

void pg_http_req_set_note(pg_http_req *r, const void *note)
{
    r->note = note;
}

const void *pg_http_req_note(const pg_http_req *r)
{
    return r->note;
}

void pg_http_server_reconfigure(pg_http_server *s, const pg_http_server_cfg *cfg)
{
    /* Read where they are used, so they apply from the next timer armed or connection accepted;
     * listen addresses and parser limits stay (the table marks them as needing a restart). */
    s->cfg.max_connections = cfg->max_connections;
    s->cfg.max_per_client = cfg->max_per_client;
    s->cfg.head_timeout_ms = cfg->head_timeout_ms;
    s->cfg.idle_timeout_ms = cfg->idle_timeout_ms;
    s->cfg.send_timeout_ms = cfg->send_timeout_ms;
    s->cfg.access_log = cfg->access_log;
}

uv_loop_t *pg_http_req_loop(const pg_http_req *r)
{
    return r->c->srv->loop;
}
