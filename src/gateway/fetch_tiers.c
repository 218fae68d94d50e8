/*
 * fetch_tiers.c: the fetcher's real tiers: adapters from the pg_fetch_tiers function pointers
 * to the upstream client, the Redis client and the monotonic clock. Nothing but forwarding.
 */
#include "profgate/clock.h"
#include "profgate/fetcher.h"

static bool l2_ready(void *l2)
{
    return pg_redis_ready(l2);
}

static int l2_get(void *l2, const char *key, size_t klen, pg_redis_get_cb cb, void *ctx)
{
    return pg_redis_get(l2, key, klen, cb, ctx);
}

static void l2_set(void *l2, const char *key, size_t klen, const void *val, size_t len, int64_t ttl_ms)
{
    pg_redis_set(l2, key, klen, val, len, ttl_ms);
}

static int up_get(void *up, const char *group, pg_period p, int64_t start_s, const pg_up_origin *origin,
                  pg_up_done done, void *ctx, pg_up_call **handle, pg_apierr *err)
{
    return pg_upstream_get_profile(up, group, p, start_s, origin, done, ctx, handle, err);
}

static void up_raise(void *up, pg_up_call *c, unsigned cls)
{
    pg_upstream_raise(up, c, cls);
}

static int64_t monotonic(void *clock)
{
    (void)clock;
    return pg_monotonic_ns();
}

void pg_fetch_tiers_wire(pg_fetch_tiers *t, pg_upstream *u, pg_redis *redis)
{
    *t = (pg_fetch_tiers){.up = u, .up_get = up_get, .up_raise = up_raise, .now_ns = monotonic};
    if (redis != NULL) {
        t->l2 = redis;
        t->l2_ready = l2_ready;
        t->l2_get = l2_get;
        t->l2_set = l2_set;
    }
}
