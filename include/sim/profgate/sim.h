/*
 * sim.h: profgate-sim's request handling: a CodeGuru Profiler stand-in serving GetProfile and
 * ListProfileTimes from simgen data, with the throttling, latency, faults and SigV4 checks of
 * the real service, and counters (/_sim/stats) that tests and benchmarks assert on.
 * It composes pure cores (simgen, planner, sigv4, token bucket, encoders) and answers through
 * the HTTP server; main only wires it.
 */
#ifndef PG_SIM_H
#define PG_SIM_H

#include "profgate/clock.h"
#include "profgate/http_server.h"
#include "profgate/simgen.h"

typedef struct pg_sim_cfg {
    uint64_t seed;
    uint32_t nodes;
    int64_t data_since_ns;      /* INT64_MIN: 90 days before start-up "now" */
    const char *groups;         /* comma-separated allow list, or NULL for all */
    double rate, burst;         /* 0 rate: no throttling */
    bool rate_per_group;
    uint32_t latency_ms, jitter_ms;
    double fail_rate;           /* fraction answered 500 */
    double hang_rate;           /* fraction never answered */
    double reset_rate;          /* fraction whose connection is reset without an answer */
    double gaps;                /* fraction of aggregates ListProfileTimes leaves out (0..1) */
    int64_t fail_after;         /* after this many GetProfile requests, reset connections (-1: never) */
    const char *access_key, *secret_key, *region;
    int64_t credentials_ttl_s;  /* lifetime of the sessions its STS, container and IMDS stand-ins issue */
    size_t cache_bytes;         /* response cache and aggregate memo, each */
} pg_sim_cfg;

typedef struct pg_sim pg_sim;

pg_sim *pg_sim_new(const pg_sim_cfg *cfg, const pg_clock *clock, uv_loop_t *loop);
/** Cancels pending delayed responses (their requests are answered and discarded); frees all. */
void pg_sim_free(pg_sim *s);
/** The pg_http_handler; data is the pg_sim. */
void pg_sim_handle(pg_http_req *req, void *data);
/** Closes timers of delayed responses; call before the loop's final run. */
void pg_sim_close(pg_sim *s);

#endif
