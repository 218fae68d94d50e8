/*
 * fetcher.h: where a request gets a bucket's profile. First the in-process cache (L1: a
 * byte-bounded LRU of parsed buckets; complete buckets stay until evicted, live ones for
 * freshness.live_ttl, refreshed in the background when a request finds one within
 * freshness.refresh_ahead of going stale). On a miss it coalesces: any number of concurrent requests needing the same
 * bucket (group, period, start) share one upstream call and one parsed result, which then enters
 * the cache. A waiter may leave (its client disconnected) without cancelling the shared call; when
 * the last waiter leaves, the call still finishes and its result is cached.
 * Results are reference-counted parsed profiles that waiters merge and release; an evicted entry
 * is freed only when the last request using it releases it.
 */
#ifndef PG_FETCHER_H
#define PG_FETCHER_H

#include "profgate/profile.h"
#include "profgate/redis.h"
#include "profgate/upstream.h"

typedef enum { PG_SRC_UPSTREAM = 0, PG_SRC_REDIS = 1 } pg_bucket_source;

typedef struct pg_bucket_data {
    uint32_t refs;
    /* The profile: the model, or for a complete bucket the L1 keeps (packed) its Redis encoding
     * (pg_pcodec), a tenth of the model's memory. Complete buckets are folded into stored runs
     * once and then rarely read, so most of the cache can be packed; a reader decodes one with
     * pg_bucket_data_profile. Live buckets, folded on every request, stay models. */
    bool packed;
    pg_profile prof; /* unless packed */
    pg_buf enc;      /* if packed */
    size_t json_bytes;       /* size of the upstream body it came from (0 from Redis) */
    pg_bucket_source source; /* where a waiter's copy came from (L1 hits are reported as such) */
    uint64_t serial;         /* unique in the process: names this version of a live bucket */
} pg_bucket_data;

void pg_bucket_data_release(pg_bucket_data *d);
/** d's profile: its model, or (packed) decoded into scratch within lim, which the caller frees with
 *  pg_profile_free when *out is scratch. PG_ENOMEM, or PG_EINVAL / PG_ELIMIT if the encoding
 *  does not decode (it always should: profgate made it). */
int pg_bucket_data_profile(const pg_bucket_data *d, const pg_profile_limits *lim, pg_profile *scratch,
                           const pg_profile **out);
/** Bytes of memory d holds (what the L1 is charged). */
size_t pg_bucket_data_memory(const pg_bucket_data *d);

typedef struct pg_fetcher pg_fetcher;
typedef struct pg_fetch_waiter pg_fetch_waiter;

/** data is a reference the callee must release; NULL on error (err says why). */
typedef void (*pg_fetch_cb)(void *ctx, pg_bucket_data *data, const pg_apierr *err);

typedef struct pg_fetcher_cfg {
    size_t l1_bytes;       /* memory for cached buckets; 0 disables the in-process cache */
    /* Keep complete buckets packed (pg_bucket_data): only when merged runs are kept
     * (cache.merged_bytes > 0), which read a complete bucket once; without them every request
     * reads every bucket, and decoding each time would cost more than the memory saves. */
    bool pack_complete;
    uint64_t live_ttl_ms;  /* how long a live bucket is served from cache; 0: never cached */
    uint64_t refresh_ahead_ms; /* refresh a live entry hit this close to expiry (at most live_ttl/2); 0: off */
    char ns[80];           /* key namespace: the upstream's identity (see docs/CACHE.md) */
    uint64_t lease_ttl_ms; /* how long a bucket's lease holds: longer than a call (fleet.lease_ttl) */
    uint64_t lease_poll_ms; /* how often a member waiting for another's fetch looks in Redis */
    uint64_t lease_wait_ms; /* the longest a lookup waits for another member's fetch (its call's deadline) */
} pg_fetcher_cfg;

/** The cache key of a bucket: "pg:v1:NS:GROUP:PERIOD:START" (START in epoch seconds). */
int pg_cache_key(const char *ns, const char *group, pg_period p, int64_t start_s, char *out, size_t outlen);

/*
 * The fetcher's lower tiers and clock, behind function pointers (the way hiredis keeps its event
 * loops behind adapters), so that coalescing, leaving, refresh-ahead and the TTL rules are
 * unit-tested with fakes (tests/unit/test_fetcher.c). pg_fetch_tiers_wire gives the real ones.
 */
typedef struct pg_fetch_tiers {
    void *l2; /* the shared cache, or NULL */
    bool (*l2_ready)(void *l2);
    int (*l2_get)(void *l2, const char *key, size_t klen, pg_redis_get_cb cb, void *ctx);
    void (*l2_set)(void *l2, const char *key, size_t klen, const void *val, size_t len, int64_t ttl_ms);
    void *up;
    int (*up_get)(void *up, const char *group, pg_period p, int64_t start_s, const pg_up_origin *origin,
                  pg_up_done done, void *ctx, pg_up_call **handle, pg_apierr *err);
    void (*up_raise)(void *up, pg_up_call *c, unsigned cls);
    bool (*up_cancel)(void *up, pg_up_call *c); /* true: it was queued and is gone, no callback */
    void *clock;
    int64_t (*now_ns)(void *clock); /* monotonic: when live entries expire */
    /* A one-shot timer: cb(ctx) runs exactly once, ms from now, or at once when cancelled. */
    void *(*after)(void *clock, uint64_t ms, void (*cb)(void *ctx), void *ctx);
    void (*cancel)(void *clock, void *timer);
    /* Leases (lease NULL: none, each member fetches on its own): one fetch per bucket fleet-wide. */
    void *lease;
    int (*lease_take)(void *lease, const char *key, uint64_t ttl_ms, void (*cb)(void *ctx, int status, bool granted),
                      void *ctx);
    void (*lease_drop)(void *lease, const char *key);
    void (*lease_renew)(void *lease, const char *key, uint64_t ttl_ms);
} pg_fetch_tiers;

/** The real tiers: the upstream client, Redis and the fleet's leases (NULL: none), and timers
 *  and the monotonic clock on loop. */
struct pg_fleet;
void pg_fetch_tiers_wire(pg_fetch_tiers *t, uv_loop_t *loop, pg_upstream *u, pg_redis *redis, struct pg_fleet *fleet);

pg_fetcher *pg_fetcher_new(const pg_fetch_tiers *tiers, const pg_profile_limits *lim, const pg_fetcher_cfg *cfg);
/**
 * Shutdown, before the upstream closes: lookups waiting for another member's fetch end now (with
 * an error; their requests are gone by then) and no new lease is asked for. done(data) runs once no
 * timer of the fetcher's is pending (at once when none is).
 */
void pg_fetcher_close(pg_fetcher *f, void (*done)(void *data), void *data);
/** Frees the fetcher; every waiter must have been answered or have left, and every call ended. */
void pg_fetcher_free(pg_fetcher *f);

typedef enum { PG_FETCH_HIT, PG_FETCH_WAIT, PG_FETCH_FAILED } pg_fetch_outcome;

/* One bucket asked for by one request. */
typedef struct pg_fetch_req {
    const char *group;
    pg_period period;
    int64_t start_s;
    bool complete;               /* the bucket is immutable */
    int64_t l2_ttl_ms;           /* how long Redis may keep what is fetched (0: forever, negative: not at all) */
    const pg_up_origin *origin;  /* the request, for upstream logs, tracing and its queue flow and class */
    pg_fetch_cb cb;              /* the waiter's callback ... */
    void *ctx;                   /* ... and its context */
} pg_fetch_req;

typedef struct pg_fetch_result {
    pg_bucket_data *hit;     /* PG_FETCH_HIT: a reference to the cached bucket (release it) */
    pg_fetch_waiter *waiter; /* PG_FETCH_WAIT: the waiter, until its callback runs or it leaves */
    bool coalesced;          /* PG_FETCH_WAIT: it joined a lookup already under way */
} pg_fetch_result;

/**
 * Asks for a bucket:
 *   PG_FETCH_HIT: out->hit holds a reference to the cached bucket (release it); no callback.
 *   PG_FETCH_WAIT: the waiter's callback runs exactly once, later (never inside this call),
 *                  unless it leaves first.
 *   PG_FETCH_FAILED: the upstream refused at once; err says why.
 */
pg_fetch_outcome pg_fetcher_get(pg_fetcher *f, const pg_fetch_req *rq, pg_fetch_result *out, pg_apierr *err);

/** The waiter leaves: its callback will not run. When it was the last, a lookup started for
 *  requests (not a background refresh) is dropped if its upstream call has not started yet. */
void pg_fetcher_leave(pg_fetcher *f, pg_fetch_waiter *w);

typedef struct pg_fetcher_stats {
    uint64_t calls, coalesced, parse_errors;
    uint64_t refreshes; /* background refreshes of live entries started (also counted in calls) */
    uint64_t l1_hits, l1_misses, l1_expired, l1_evictions;
    uint64_t l2_hits, l2_misses, l2_errors, l2_corrupt, l2_stores;
    uint64_t lease_waits;   /* lookups that waited for another member's fetch of the same bucket */
    uint64_t lease_hits;    /* lookups that got another member's result from Redis instead of calling (after
                             * waiting for its lease, or on the look right after taking the lease) */
    uint64_t lease_errors;  /* lease requests that failed (Redis away): fetched on their own */
    uint64_t abandoned;     /* lookups dropped before their upstream call because every waiter left */
    size_t inflight, l1_entries, l1_bytes, l1_capacity;
} pg_fetcher_stats;
void pg_fetcher_get_stats(const pg_fetcher *f, pg_fetcher_stats *out);

/** Reload: the L1's size (evicting down to it), how long live buckets stay fresh, and how early
 *  they are refreshed, from cfg (its key namespace is fixed for the process and ignored here). */
void pg_fetcher_reconfigure(pg_fetcher *f, const pg_fetcher_cfg *cfg);

#endif
