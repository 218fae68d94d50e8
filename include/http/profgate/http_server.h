/*
 * http_server.h: the HTTP/1.1 front end, the I/O edge that wraps libuv (llhttp parsing lives in
 * http_parse). It owns listeners and connections, enforces connection-level limits and timeouts,
 * serializes pipelined requests so responses leave in order, and hands each complete request to
 * one handler. It knows nothing of routes or of GetProfile.
 *
 * Request lifetime: the handler receives a pg_http_req and must eventually answer it exactly once
 * with pg_http_respond() (or pg_http_respond_error()), synchronously or later. If the client
 * disconnects first, the abort callback (if set) runs so the handler can cancel its work; the
 * handler must still answer (the answer is then discarded) and the request stays valid until it does.
 */
#ifndef PG_HTTP_SERVER_H
#define PG_HTTP_SERVER_H

#include "profgate/apierr.h"
#include "profgate/listen.h"
#include "profgate/http_parse.h"
#include "profgate/peers.h"

#include <uv.h>

typedef struct pg_http_server pg_http_server;
typedef struct pg_http_req pg_http_req;

typedef void (*pg_http_handler)(pg_http_req *req, void *data);
typedef void (*pg_http_abort_cb)(pg_http_req *req, void *data);
typedef void (*pg_http_closed_cb)(void *data);
typedef void (*pg_http_drain_cb)(pg_http_req *req, void *data);

/* A request's end, as the server saw it: status 0 when the answer was cut (reset) or abandoned. */
typedef struct pg_http_done_info {
    int status;
    size_t body_bytes;
    uint64_t duration_ns; /* from the complete head to the answer handed to the connection */
    bool client_gone;
} pg_http_done_info;
/* Runs once per request, synchronously inside the call that answers it (so the handler's state
 * for the request still exists); data is the handler's data. */
typedef void (*pg_http_done_cb)(pg_http_req *req, const pg_http_done_info *info, void *data);

typedef struct pg_http_server_cfg {
    pg_listen_addrs listen;
    pg_http_limits limits;
    size_t max_connections;
    size_t max_per_client;   /* connections from one client address (0: no limit) */
    uint64_t head_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t send_timeout_ms;
    bool access_log;         /* without on_done: a plain access line per request */
    pg_http_done_cb on_done; /* or NULL */
    const char *server_name; /* Server: header value */
    bool reuseport;          /* share the port with other processes (server.workers) */
} pg_http_server_cfg;

/** Default limits and timeouts, no listen address, no hooks. */
void pg_http_server_cfg_default(pg_http_server_cfg *out);

/** Applies the settings a reload may change: max_connections, timeouts, access_log. */
void pg_http_server_reconfigure(pg_http_server *s, const pg_http_server_cfg *cfg);

/** Binds every listen address and starts accepting. */
int pg_http_server_start(uv_loop_t *loop, const pg_http_server_cfg *cfg, pg_http_handler handler,
                         void *data, pg_http_server **out, char *err, size_t errlen);

/** The address listener i is bound to, as "ADDR:PORT" (shows the port chosen for port 0). */
int pg_http_server_bound(const pg_http_server *s, size_t i, char *buf, size_t buflen);
size_t pg_http_server_listener_count(const pg_http_server *s);
/** Logs "listening on ADDR:PORT" for every listener (tests read the chosen ports from it). */
void pg_http_server_log_listeners(const pg_http_server *s);

/** Open client connections. */
size_t pg_http_server_connections(const pg_http_server *s);
/** Times the heap's free pages were given back after a burst of requests (heapgive.h). */
uint64_t pg_http_server_heap_give_backs(const pg_http_server *s);

/**
 * Graceful shutdown: stops accepting, closes idle connections, lets in-flight requests finish
 * (their responses carry Connection: close) for up to timeout_ms, then closes the rest. When
 * every handle is closed the server is freed and done(data) runs.
 */
void pg_http_server_shutdown(pg_http_server *s, uint64_t timeout_ms, pg_http_closed_cb done, void *data);

/* ---- requests ---- */

typedef struct pg_http_out_header {
    const char *name;
    const char *value;
} pg_http_out_header;

const pg_http_head *pg_http_req_head(const pg_http_req *r);
/** The request id sent back as x-amzn-RequestId (a UUID). */
const char *pg_http_req_id(const pg_http_req *r);
/** The client's address as a key (its IP); false when unknown. */
bool pg_http_req_peer(const pg_http_req *r, pg_peer_key *out);
/** A header's value (trimmed) or NULL; *len receives its length. */
const char *pg_http_req_header(const pg_http_req *r, const char *name, size_t *len);
/** Every field named name as one list ("a, b"), in buf; NULL when the request has none. */
const char *pg_http_req_header_list(const pg_http_req *r, const char *name, char *buf, size_t buflen, size_t *len);
/** Does the request's Accept-Encoding allow gzip? */
bool pg_http_req_accepts_gzip(const pg_http_req *r);
/** Registers the callback run if the client goes away before the answer. */
void pg_http_req_on_abort(pg_http_req *r, pg_http_abort_cb cb, void *data);
/** The loop the server runs on, for handlers that start asynchronous work. */
uv_loop_t *pg_http_req_loop(const pg_http_req *r);
/** The handler's note on a request (NULL until set): what the request is, for its on_done hook.
 *  The server never looks inside; the handler keeps it valid until the request is answered. */
void pg_http_req_set_note(pg_http_req *r, const void *note);
const void *pg_http_req_note(const pg_http_req *r);

/**
 * Answers the request: status, extra headers, body. The server adds Date, Server,
 * Content-Length, Connection and x-amzn-RequestId.
 */
void pg_http_respond(pg_http_req *r, int status, const pg_http_out_header *hdrs, size_t nhdrs,
                     const void *body, size_t len);
/**
 * Like pg_http_respond, but the body is not copied: it must stay valid until release(ctx) runs,
 * which happens once the response is written (or dropped). For large cached bodies.
 */
void pg_http_respond_shared(pg_http_req *r, int status, const pg_http_out_header *hdrs, size_t nhdrs,
                            const void *body, size_t len, void (*release)(void *ctx), void *ctx);

/**
 * Like pg_http_respond_shared, with the body in a file (fd, bytes [0, len)) sent by sendfile(2):
 * no copy through user space. fd must stay open until release(ctx) runs.
 */
void pg_http_respond_fd(pg_http_req *r, int status, const pg_http_out_header *hdrs, size_t nhdrs, int fd,
                        size_t len, void (*release)(void *ctx), void *ctx);

/*
 * A streamed answer, for bodies produced piece by piece: pg_http_stream_begin sends the head
 * (Transfer-Encoding: chunked; an HTTP/1.0 client gets a body that ends with the connection),
 * pg_http_stream_write sends one piece (copied), pg_http_stream_end finishes. The producer keeps
 * memory bounded by pausing while pg_http_stream_queued is above its high-water mark and resuming
 * from the drain callback. If the client leaves, the abort callback runs, writes return false,
 * and the handler must still call pg_http_stream_end. end with ok = false cuts the answer short
 * with a reset, so a truncated body is never taken for a whole one.
 */
void pg_http_stream_begin(pg_http_req *r, int status, const pg_http_out_header *hdrs, size_t nhdrs);
bool pg_http_stream_write(pg_http_req *r, const void *data, size_t len);
size_t pg_http_stream_queued(const pg_http_req *r);
/** Runs cb once the queued bytes fall to low or below (once; register again to wait again). */
void pg_http_stream_on_drain(pg_http_req *r, size_t low, pg_http_drain_cb cb, void *data);
void pg_http_stream_end(pg_http_req *r, bool ok);

/** The answer is the upstream's: its request id becomes x-amzn-RequestId, and profgate's own
 *  goes in X-Profgate-Request-Id. Call before answering. */
void pg_http_req_set_upstream_id(pg_http_req *r, const char *id);

/** Answers with an AWS rest-json error (status, x-amzn-ErrorType, JSON body). */
void pg_http_respond_error(pg_http_req *r, const pg_apierr *e);
/** The same with extra headers (e.g. Allow on a 405). At most 4. */
void pg_http_respond_error_with(pg_http_req *r, const pg_apierr *e, const pg_http_out_header *hdrs, size_t nhdrs);

/** Answers by resetting the connection (TCP RST, no response): fault injection in the simulator. */
void pg_http_reset(pg_http_req *r);

/** Reason phrase of a status code. */
const char *pg_http_reason(int status);

#endif
