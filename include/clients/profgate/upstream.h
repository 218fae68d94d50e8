/*
 * upstream.h: the upstream client, the I/O edge that wraps libcurl multi on the libuv loop. It
 * turns "fetch aggregate (group, period, start)" into signed GetProfile requests and protects the
 * upstream: a token bucket paces requests (its rate halves on throttling and recovers additively),
 * at most max_inflight transfers run, excess calls wait in a bounded queue, 429/5xx/connection
 * errors are retried with capped exponential backoff and full jitter within the call's deadline,
 * and a circuit breaker fails fast after sustained failure. It knows nothing of profiles beyond
 * the request it sends; coalescing is the fetcher's job.
 */
#ifndef PG_UPSTREAM_H
#define PG_UPSTREAM_H

#include "profgate/apierr.h"
#include "profgate/credsrc.h"
#include "profgate/fairq.h"
#include "profgate/histo.h"
#include "profgate/period.h"

#include <uv.h>

typedef struct pg_upstream_cfg {
    char endpoint[512]; /* scheme://host[:port], no trailing slash */
    char region[64];
    double rate, burst;         /* GetProfile's budget (the whole fleet's) */
    double op_rate, op_burst;   /* each other operation's own budget (ListProfileTimes, the reads, ...) */
    uint32_t max_inflight, queue_max, retries;
    uint64_t backoff_base_ms, backoff_cap_ms, attempt_timeout_ms, deadline_ms;
    size_t max_response;
    char ca_bundle[512];
    bool insecure;
    uint32_t breaker_failures;
    uint64_t breaker_cooldown_ms;
} pg_upstream_cfg;

typedef struct pg_up_result {
    bool ok;
    int status;          /* HTTP status, 0 when no response */
    const pg_apierr *err; /* when !ok: the error for the client */
    const char *body;    /* when ok: the (decoded) body, valid during the callback */
    size_t len;
    int attempts;
    /* When the upstream itself answered an error: its bare error type (body and len then hold
     * its error body), so an operation passed through can hand it on as it came. Else NULL. */
    const char *errtype;
    const char *aws_rid; /* the upstream's x-amzn-RequestId ("" when none) */
    const char *content_type; /* the answer's Content-Type ("" when none) */
} pg_up_result;

typedef void (*pg_up_done)(void *ctx, const pg_up_result *r);

/* Who asked: the client request that started a call (its profgate request id, and the
 * X-Amzn-Trace-Id it sent, forwarded on every attempt; empty strings when unknown), the tenant
 * whose share of the upstream it uses (its flow in the wait queue: 0 for none), and its class in
 * that flow (fairq.h): PG_FQ_INTERACTIVE for a client waiting on a small plan, PG_FQ_REFRESH for
 * a background refresh nobody waits for yet, PG_FQ_BULK for a large plan. */
typedef struct pg_up_origin {
    char rid[40];
    char trace[256];
    uint8_t flow;
    uint8_t cls;
} pg_up_origin;

typedef struct pg_upstream pg_upstream;
typedef struct pg_up_call pg_up_call;

pg_upstream *pg_upstream_new(uv_loop_t *loop, const pg_upstream_cfg *cfg, pg_credsrc *creds, char *err,
                             size_t errlen);

/**
 * Queues a GetProfile for the aggregate (p, start_s) of group. PG_OK: done() runs exactly once,
 * later, and *handle (if not NULL) names the call until then. Otherwise the call was refused at
 * once (queue full, circuit open, shutting down) and err says why; done() never runs.
 */
int pg_upstream_get_profile(pg_upstream *u, const char *group, pg_period p, int64_t start_s,
                            const pg_up_origin *origin, pg_up_done done, void *ctx, pg_up_call **handle,
                            pg_apierr *err);

/* Any operation's request: method, target (path and query, already percent-encoded), an
 * optional JSON body (copied), and a name for logs. */
typedef struct pg_up_request {
    const char *method;
    const char *target;
    const char *desc;
    const char *body; /* or NULL */
    size_t body_len;
    bool once;        /* a write: retried only after a 429 (which the service did not carry out) */
    unsigned op;      /* its budget: PG_UP_OP_GETPROFILE, PG_UP_OP_LISTTIMES or PG_UP_OP_API + pg_op */
    const char *content_type; /* the body's (NULL: application/json); printable, at most 127 bytes */
} pg_up_request;

/* Budgets: AWS throttles each operation separately. GetProfile has upstream.rate/burst (paced
 * fairly across tenants, shared through the fleet); every other operation its own op_rate and
 * op_burst, in its own queue (each fleet member holding its share, rate / members). */
#define PG_UP_OP_GETPROFILE 0
#define PG_UP_OP_LISTTIMES 1
#define PG_UP_OP_API 2
#define PG_UP_OPS (PG_UP_OP_API + 21)

/** Queues rq under the same budget, queue and retries as GetProfile (a write, rq->once, is
 *  retried only when throttled). Contract as pg_upstream_get_profile. */
int pg_upstream_request(pg_upstream *u, const pg_up_request *rq, const pg_up_origin *origin, pg_up_done done, void *ctx,
                        pg_up_call **handle, pg_apierr *err);

/**
 * Queues a GET of target (path and query, already percent-encoded) under operation op's budget
 * (PG_UP_OP_*), with GetProfile's retries; desc names it in logs. Contract as pg_upstream_get_profile.
 */
int pg_upstream_get(pg_upstream *u, unsigned op, const char *target, const char *desc, const pg_up_origin *origin,
                    pg_up_done done, void *ctx, pg_up_call **handle, pg_apierr *err);

/** A timestamp ("2026-11-24T10:00:00Z") for a query string, ':' percent-encoded as the SDKs do. */
void pg_ts_query_encode(const char *ts, char *out, size_t outlen);

/** The call has become more urgent (a client now waits for it): it moves up to class cls in its
 *  flow if still waiting, and keeps that class for any retry. A less urgent cls changes nothing. */
void pg_upstream_raise(pg_upstream *u, pg_up_call *c, unsigned cls);
/** Withdraws a call nobody waits for any more: true when it was still queued (it is gone and its
 *  callback will not run); false when it is in flight or backing off (it ends as usual). */
bool pg_upstream_cancel(pg_upstream *u, pg_up_call *c);

/** A flow's (tenant's) weight in the wait queue (>= 1). */
/** Draws the budget from the fleet (NULL: the local pacer alone, at the whole rate). While the
 *  fleet cannot be reached, the local pacer holds this member's share, rate / fleet size. */
struct pg_fleet;
void pg_upstream_set_fleet(pg_upstream *u, struct pg_fleet *fleet);

void pg_upstream_set_weight(pg_upstream *u, unsigned flow, uint32_t weight);
/** Calls of a flow waiting in the queue. */
size_t pg_upstream_flow_queued(const pg_upstream *u, unsigned flow);

/** Reload: pacing, limits, retries, timeouts and the breaker; endpoint, region and TLS stay. */
void pg_upstream_reconfigure(pg_upstream *u, const pg_upstream_cfg *cfg);

/** Fails every pending call (their callbacks run), closes all handles, frees; then done(data). */
void pg_upstream_close(pg_upstream *u, void (*done)(void *data), void *data);

typedef struct pg_upstream_stats {
    uint64_t attempts, ok, throttled, server_errors, timeouts, conn_errors, client_errors, retries, refused;
    uint64_t fleet_local;     /* calls paced by this member's local share while the fleet was unreachable */
    pg_histo attempt_seconds;
    double rate, rate_max;
    size_t queued, inflight;
    const char *breaker; /* "closed", "open", "half-open" */
} pg_upstream_stats;

void pg_upstream_get_stats(const pg_upstream *u, pg_upstream_stats *out);

/**
 * The "message" of an upstream error body ({"message": "..."}), unescaped enough for a log line and
 * reduced to printable ASCII; empty when there is none. Reads only body[0..len).
 */
void pg_upstream_error_message(const char *body, size_t len, char *out, size_t outlen);

/** Initializes libcurl once per process (before any thread); call from main. */
void pg_upstream_global_init(void);
void pg_upstream_global_cleanup(void);

#endif
