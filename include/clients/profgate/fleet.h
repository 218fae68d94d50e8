/*
 * fleet.h: what the replicas and workers of one deployment share through Redis, so that the
 * fleet behaves like one gateway towards the upstream:
 *   - one upstream budget per operation (a GCRA limiter in a Lua script, timed by Redis's clock,
 *     not the replicas'), with additive-increase / multiplicative-decrease shared by all: a 429
 *     seen by any replica halves the fleet's rate, which then recovers for everyone;
 *   - membership: each member refreshes its entry every second, so each knows the fleet's size;
 *   - leases: the member about to fetch a bucket holds its lease, the others wait for its result
 *     (the fetcher decides what to do with them; see fetcher.h).
 * When Redis is away, take() fails at once and the caller falls back to a local budget of
 * rate / last known fleet size (pg_fleet_local_share), so the fleet still stays under the limit.
 * docs/FLEET.md describes the keys and scripts.
 */
#ifndef PG_FLEET_H
#define PG_FLEET_H

#include "profgate/redis.h"

#include <uv.h>

typedef struct pg_fleet_cfg {
    char ns[80];            /* key namespace: the upstream's identity, as the cache's */
    double rate, burst;     /* the whole fleet's budget per operation (upstream.rate, upstream.burst) */
    uint64_t heartbeat_ms;  /* how often a member refreshes its entry; 3 missed beats and it is gone */
} pg_fleet_cfg;

typedef struct pg_fleet pg_fleet;

/** A fleet over redis (not owned), with a member id unique to this process. */
pg_fleet *pg_fleet_new(uv_loop_t *loop, pg_redis *redis, const pg_fleet_cfg *cfg);

/** The answer to take: PG_OK and booked (a slot is this member's: one call may start wait_ms
 *  from now, 0: at once) or not (the budget is booked beyond its horizon: ask again in wait_ms);
 *  or an error (Redis away, timed out): the caller uses its local share instead. */
typedef void (*pg_fleet_take_cb)(void *ctx, int status, bool booked, int64_t wait_ms);

/** Asks for one call of op from the fleet's budget. drained: this member has just been pacing
 *  on its own, so a budget Redis has no state for starts empty rather than full. PG_OK: cb runs
 *  once, later; otherwise (Redis not connected) nothing was sent and the caller uses its share. */
int pg_fleet_take(pg_fleet *f, const char *op, bool drained, pg_fleet_take_cb cb, void *ctx);

/** A 429 was seen for op: the fleet's rate halves (at most once a second, fleet-wide). */
void pg_fleet_throttled(pg_fleet *f, const char *op);

/** The answer to a lease request: PG_OK and whether this member now holds it (false: another
 *  does); or an error (Redis away): the caller fetches on its own. */
typedef void (*pg_fleet_lease_cb)(void *ctx, int status, bool granted);
/** Asks for the lease of key (a bucket's cache key) for ttl_ms. PG_OK: cb runs once, later. */
int pg_fleet_lease_take(pg_fleet *f, const char *key, uint64_t ttl_ms, pg_fleet_lease_cb cb, void *ctx);
/** Gives the lease of key back, if this member still holds it (best effort: it also expires). */
void pg_fleet_lease_drop(pg_fleet *f, const char *key);
/** Extends the lease of key to ttl_ms from now, if this member still holds it (best effort). */
void pg_fleet_lease_renew(pg_fleet *f, const char *key, uint64_t ttl_ms);

/** Reload: the fleet's budget (every member should be given the same; the last to ask sets it). */
void pg_fleet_reconfigure(pg_fleet *f, double rate, double burst);

/** The fraction of the budget a member uses on its own while Redis is away: 1 / last known size. */
double pg_fleet_local_share(const pg_fleet *f);
/** Whether shared state can be used now (Redis connected). */
bool pg_fleet_ready(const pg_fleet *f);
/** This member's id ("host:pid:random"). */
const char *pg_fleet_member(const pg_fleet *f);

typedef struct pg_fleet_stats {
    unsigned members; /* seen within the last three heartbeats, this one included (1 before the first) */
    uint64_t granted, waits, errors, decreases, heartbeats; /* granted: slots booked; waits: refused, full */
    uint64_t leases_taken, leases_held_elsewhere;
    double rate; /* the fleet's current GetProfile rate, as last read from Redis (0: unknown) */
} pg_fleet_stats;
void pg_fleet_get_stats(const pg_fleet *f, pg_fleet_stats *out);

/**
 * Shutdown, in two steps. pg_fleet_leave, before Redis closes: removes this member (best effort)
 * and lets go of Redis, so every call from then on fails at once (callers use their local share).
 * pg_fleet_close, after everything that calls the fleet has closed: stops the heartbeat; done(data)
 * runs once its timer has closed (the object is freed once its last script has been answered).
 */
void pg_fleet_leave(pg_fleet *f);
void pg_fleet_close(pg_fleet *f, void (*done)(void *data), void *data);

#endif
