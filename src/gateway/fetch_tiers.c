/*
 * fetch_tiers.c: the fetcher's real tiers: adapters from the pg_fetch_tiers function pointers
 * to the upstream client, the Redis client and the monotonic clock. Nothing but forwarding.
 */
#include "profgate/clock.h"
#include "profgate/fetcher.h"
#include "profgate/fleet.h"

#include <stdlib.h>

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

static bool up_cancel(void *up, pg_up_call *c)
{
    return pg_upstream_cancel(up, c);
}

static int64_t monotonic(void *clock)
{
    (void)clock;
    return pg_monotonic_ns();
}

#define ONESHOT_MAGIC 0x6f6e6573u /* "ones" */

/* A one-shot timer: its own handle, freed in its close callback after it fired. */
typedef struct oneshot {
    uint32_t magic;
    uv_timer_t timer;
    void (*cb)(void *ctx);
    void *ctx;
} oneshot;

static void on_oneshot_closed(uv_handle_t *h)
{
    oneshot *o = h->data;
    PG_ASSERT(o->magic == ONESHOT_MAGIC);
    o->magic = 0;
    free(o);
}

static void on_oneshot(uv_timer_t *t)
{
    oneshot *o = t->data;
    PG_ASSERT(o->magic == ONESHOT_MAGIC);
    uv_close((uv_handle_t *)&o->timer, on_oneshot_closed);
    o->cb(o->ctx);
}

static void *after(void *loop, uint64_t ms, void (*cb)(void *ctx), void *ctx)
{
    /* Small and fixed: losing one would strand a lookup, so allocation failure aborts. */
    oneshot *o = pg_xcalloc(1, sizeof *o);
    *o = (oneshot){.magic = ONESHOT_MAGIC, .cb = cb, .ctx = ctx};
    PG_CHECK_UV(uv_timer_init(loop, &o->timer));
    o->timer.data = o;
    PG_CHECK_UV(uv_timer_start(&o->timer, on_oneshot, ms, 0));
    return o;
}

/* Fires a pending one-shot now (its callback still runs exactly once). */
static void cancel(void *loop, void *timer)
{
    (void)loop;
    oneshot *o = timer;
    PG_ASSERT(o->magic == ONESHOT_MAGIC);
    PG_CHECK_UV(uv_timer_stop(&o->timer));
    on_oneshot(&o->timer);
}

static int lease_take(void *lease, const char *key, uint64_t ttl_ms, void (*cb)(void *ctx, int status, bool granted),
                      void *ctx)
{
    return pg_fleet_lease_take(lease, key, ttl_ms, cb, ctx);
}

static void lease_drop(void *lease, const char *key)
{
    pg_fleet_lease_drop(lease, key);
}

static void lease_renew(void *lease, const char *key, uint64_t ttl_ms)
{
    pg_fleet_lease_renew(lease, key, ttl_ms);
}

void pg_fetch_tiers_wire(pg_fetch_tiers *t, uv_loop_t *loop, pg_upstream *u, pg_redis *redis, struct pg_fleet *fleet)
{
    *t = (pg_fetch_tiers){.up = u, .up_get = up_get, .up_raise = up_raise, .up_cancel = up_cancel, .clock = loop, .now_ns = monotonic,
                          .after = after, .cancel = cancel};
    if (redis != NULL) {
        t->l2 = redis;
        t->l2_ready = l2_ready;
        t->l2_get = l2_get;
        t->l2_set = l2_set;
    }
    if (redis != NULL && fleet != NULL) {
        t->lease = fleet;
        t->lease_take = lease_take;
        t->lease_drop = lease_drop;
        t->lease_renew = lease_renew;
    }
}
