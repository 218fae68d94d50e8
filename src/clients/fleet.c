/*
 * fleet.c: the fleet's shared state in Redis. Everything that changes it is one Lua script, so
 * every change is atomic and timed by Redis's own clock (TIME), never by the replicas' clocks.
 *
 * Budget (one hash per operation, pg:v1:NS:fleet:budget:OP): a GCRA limiter. "tat" is the
 * theoretical arrival time of the next call in microseconds; a call may start once it is no more
 * than (burst - 1) emission intervals ahead of now, which admits a burst of `burst` calls and then
 * one every 1/rate seconds, exactly like a token bucket of that rate and size. A request books the
 * next slot and learns when it is (reservations, not "try again"): each member books one slot per
 * queued call, up to a few, so the budget goes to the fleet's calls in the order they were
 * booked, in proportion to each member's demand, not in equal shares per member. The burst used is
 * the configured one less a tenth (at least one call): calls granted 1/rate apart leave from
 * several processes and reach the upstream a few milliseconds closer together than granted, and
 * an upstream bucket with no token to spare would throttle the early one (and every 429 halves the
 * fleet's rate). A budget with no state starts full, unless the member asking has just been
 * pacing on its own (Redis was away, or lost its data): then the upstream's bucket is likely spent
 * and the budget starts empty. The rate itself is
 * shared AIMD: "dec_at" and "dec_rate" record the last decrease; the current rate is dec_rate plus
 * 5% of the maximum per second since, capped at the maximum (the same recovery as one gateway's
 * pacer, but computed from time, so it costs no extra round trip). A 429 anywhere halves it, at
 * most once a second fleet-wide, never below rate/64.
 *
 * Members (a sorted set, pg:v1:NS:fleet:members, scored by Redis time in ms): each beat adds this
 * member, drops those not seen for three beats and answers how many are left.
 */
#include "profgate/fleet.h"
#include "profgate/clock.h"
#include "profgate/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define FLEET_MAGIC 0x666c6565u /* "flee" */

/* How long an idle budget keeps its state (its last decrease, its arrival time). */
#define BUDGET_IDLE_MS "600000"
/* How far ahead a slot may be booked: beyond it, members ask again later instead of queueing
 * calls in Redis for long (a 429 then takes effect within this time). */
#define BOOKING_HORIZON_MS "5000"

/* A booking: the caller gets the next slot, and the wait until it (0: now). Beyond the horizon
 * (ARGV[5] ms ahead) it books nothing and answers how long until the horizon has room. */
static const char TAKE_SCRIPT[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local s = redis.call('HMGET', KEYS[1], 'tat', 'dec_at', 'dec_rate') "
    "local max, burst = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    "local rate = max "
    "if s[2] then rate = math.min(max, tonumber(s[3]) + max * 0.05 * (now - tonumber(s[2])) / 1000000) end "
    "local T = 1000000 / rate "
    "local tat = tonumber(s[1]) "
    "if not tat then tat = (ARGV[4] == '1') and now + (burst - 1) * T or now end "
    "tat = math.max(tat, now) "
    "local slot = math.max(now, tat - (burst - 1) * T) "
    "local horizon = tonumber(ARGV[5]) * 1000 "
    "if slot - now > horizon then "
    "  return {0, math.ceil((slot - now - horizon) / 1000), math.floor(rate * 1000)} "
    "end "
    "redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat + T)) "
    "redis.call('PEXPIRE', KEYS[1], ARGV[3]) "
    "return {1, math.ceil((slot - now) / 1000), math.floor(rate * 1000)}";

static const char DECREASE_SCRIPT[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local s = redis.call('HMGET', KEYS[1], 'dec_at', 'dec_rate') "
    "local max, min = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    "local rate = max "
    "if s[1] then "
    "  if now - tonumber(s[1]) < 1000000 then return 0 end "
    "  rate = math.min(max, tonumber(s[2]) + max * 0.05 * (now - tonumber(s[1])) / 1000000) "
    "end "
    "redis.call('HSET', KEYS[1], 'dec_at', string.format('%.0f', now), 'dec_rate', tostring(math.max(min, rate * 0.5))) "
    "redis.call('PEXPIRE', KEYS[1], ARGV[3]) "
    "return 1";

static const char BEAT_SCRIPT[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "redis.call('ZADD', KEYS[1], now, ARGV[1]) "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2])) "
    "redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2) "
    "return redis.call('ZCARD', KEYS[1])";

/* A lease: the member's id under the bucket's key + ":lease", for at most ARGV[2] ms. */
static const char LEASE_TAKE_SCRIPT[] =
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end return 0";
/* Dropped only by its holder: a lease that expired and was taken by another stays theirs. */
static const char LEASE_DROP_SCRIPT[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/* Extended only by its holder, while its call is still pending (queued calls can wait long). */
static const char LEASE_RENEW_SCRIPT[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

static const char LEAVE_SCRIPT[] = "return redis.call('ZREM', KEYS[1], ARGV[1])";

struct pg_fleet {
    uint32_t magic;
    uv_loop_t *loop;
    pg_redis *redis;     /* NULL once the member has left (pg_fleet_leave) */
    pg_fleet_cfg cfg;
    char member[96];
    char members_key[160];
    uv_timer_t beat;
    unsigned size;       /* last known; 1 before the first answer */
    unsigned pending;    /* scripts sent, not yet answered (their context is this object) */
    bool closing, timer_closed;
    void (*closed)(void *);
    void *closed_data;
    pg_fleet_stats st;
};

/* A take in flight: the caller's callback, and the fleet for the stats. */
typedef struct take {
    pg_fleet *f;
    pg_fleet_take_cb cb;
    void *ctx;
} take;

static pg_fleet *fleet_of(void *p)
{
    pg_fleet *f = p;
    PG_ASSERT(f != NULL && f->magic == FLEET_MAGIC);
    return f;
}

static void maybe_free(pg_fleet *f)
{
    if (!f->closing || !f->timer_closed || f->pending > 0)
        return;
    f->magic = 0;
    free(f);
}

static void budget_key(const pg_fleet *f, const char *op, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "pg:v1:%s:fleet:budget:%s", f->cfg.ns, op);
    PG_FMT_FITS(n, outlen); /* ns < 80 and operation names are short constants */
}

/* Sends one of the scripts, on key, when Redis can be used; the fleet counts it pending until its
 * reply (whose context is the fleet or a request that points to it). PG_EIO: nothing was sent. */
static int send_script(pg_fleet *f, const char *script, const char *key, const char *const *args, size_t nargs,
                       pg_redis_ints_cb cb, void *ctx)
{
    const char *keys[] = {key};
    if (f->redis == NULL || !pg_redis_ready(f->redis) ||
        pg_redis_script(f->redis, script, keys, 1, args, nargs, cb, ctx) != PG_OK)
        return PG_EIO;
    f->pending++;
    return PG_OK;
}

static void fmt_num(char *out, size_t outlen, double v)
{
    int n = snprintf(out, outlen, "%.6f", v);
    PG_FMT_FITS(n, outlen);
}

static void on_beat_reply(void *ctx, int status, const int64_t *v, size_t n)
{
    pg_fleet *f = fleet_of(ctx);
    f->pending--;
    if (status == PG_OK && n == 1 && v[0] >= 1) {
        if ((unsigned)v[0] != f->size)
            pg_log(PG_LOG_INFO, "fleet: %lld member(s) (this one: %s)", (long long)v[0], f->member);
        f->size = (unsigned)v[0];
        f->st.heartbeats++;
    }
    maybe_free(f);
}

static void beat(pg_fleet *f)
{
    char stale[24];
    int n = snprintf(stale, sizeof stale, "%llu", (unsigned long long)(3 * f->cfg.heartbeat_ms));
    PG_FMT_FITS(n, sizeof stale);
    const char *args[] = {f->member, stale};
    send_script(f, BEAT_SCRIPT, f->members_key, args, 2, on_beat_reply, f);
}

static void on_beat_timer(uv_timer_t *t)
{
    beat(fleet_of(t->data));
}

pg_fleet *pg_fleet_new(uv_loop_t *loop, pg_redis *redis, const pg_fleet_cfg *cfg)
{
    PG_ASSERT(cfg->rate > 0 && cfg->burst >= 1 && cfg->heartbeat_ms > 0);
    pg_fleet *f = pg_xcalloc(1, sizeof *f);
    f->magic = FLEET_MAGIC;
    f->loop = loop;
    f->redis = redis;
    f->cfg = *cfg;
    f->size = 1;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (uint32_t)pg_monotonic_ns();
    int n = snprintf(f->member, sizeof f->member, "%.63s:%d:%08x", host, (int)getpid(), rnd);
    PG_FMT_FITS(n, sizeof f->member);
    n = snprintf(f->members_key, sizeof f->members_key, "pg:v1:%s:fleet:members", cfg->ns);
    PG_FMT_FITS(n, sizeof f->members_key);
    PG_CHECK_UV(uv_timer_init(loop, &f->beat));
    f->beat.data = f;
    /* The first beat as soon as Redis may be up, then one per interval. */
    PG_CHECK_UV(uv_timer_start(&f->beat, on_beat_timer, 50, cfg->heartbeat_ms));
    return f;
}

static void on_take_reply(void *ctx, int status, const int64_t *v, size_t n)
{
    take *t = ctx;
    pg_fleet *f = fleet_of(t->f);
    f->pending--;
    pg_fleet_take_cb cb = t->cb;
    void *cbctx = t->ctx;
    free(t);
    if (status != PG_OK || n != 3) {
        f->st.errors++;
        cb(cbctx, status != PG_OK ? status : PG_EINVAL, false, 0);
    } else {
        f->st.rate = (double)v[2] / 1000.0;
        if (v[0] == 1)
            f->st.granted++;
        else
            f->st.waits++;
        cb(cbctx, PG_OK, v[0] == 1, PG_MAX(v[1], 0));
    }
    maybe_free(f);
}

/* The burst the fleet's budget grants: the configured one less a tenth, at least one call less
 * (see the top of this file), and never below one. */
static double granted_burst(double burst)
{
    double keep = burst / 10 < 1 ? 1 : burst / 10;
    return burst - keep < 1 ? 1 : burst - keep;
}

int pg_fleet_take(pg_fleet *f, const char *op, bool drained, pg_fleet_take_cb cb, void *ctx)
{
    take *t = malloc(sizeof *t);
    if (t == NULL)
        return PG_ENOMEM;
    *t = (take){.f = f, .cb = cb, .ctx = ctx};
    char key[160], rate[32], burst[32];
    budget_key(f, op, key, sizeof key);
    fmt_num(rate, sizeof rate, f->cfg.rate);
    fmt_num(burst, sizeof burst, granted_burst(f->cfg.burst));
    const char *args[] = {rate, burst, BUDGET_IDLE_MS, drained ? "1" : "0", BOOKING_HORIZON_MS};
    int rc = send_script(f, TAKE_SCRIPT, key, args, 5, on_take_reply, t);
    if (rc != PG_OK)
        free(t);
    return rc;
}

static void on_decrease_reply(void *ctx, int status, const int64_t *v, size_t n)
{
    pg_fleet *f = fleet_of(ctx);
    f->pending--;
    if (status == PG_OK && n == 1 && v[0] == 1) {
        f->st.decreases++;
        pg_log(PG_LOG_WARN, "fleet: upstream throttled; the fleet's rate is halved");
    }
    maybe_free(f);
}

void pg_fleet_throttled(pg_fleet *f, const char *op)
{
    char key[160], max[32], min[32];
    budget_key(f, op, key, sizeof key);
    fmt_num(max, sizeof max, f->cfg.rate);
    fmt_num(min, sizeof min, PG_MAX(f->cfg.rate / 64, 0.05));
    const char *args[] = {max, min, BUDGET_IDLE_MS};
    send_script(f, DECREASE_SCRIPT, key, args, 3, on_decrease_reply, f);
}

void pg_fleet_reconfigure(pg_fleet *f, double rate, double burst)
{
    PG_ASSERT(rate > 0 && burst >= 1);
    f->cfg.rate = rate;
    f->cfg.burst = burst;
}

typedef struct lease_req {
    pg_fleet *f;
    pg_fleet_lease_cb cb;
    void *ctx;
} lease_req;

static void lease_key(const char *key, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s:lease", key);
    PG_FMT_FITS(n, outlen); /* cache keys are at most 400 bytes */
}

static void on_lease_reply(void *ctx, int status, const int64_t *v, size_t n)
{
    lease_req *l = ctx;
    pg_fleet *f = fleet_of(l->f);
    f->pending--;
    pg_fleet_lease_cb cb = l->cb;
    void *cbctx = l->ctx;
    free(l);
    if (status == PG_OK && n == 1) {
        f->st.leases_taken += v[0] == 1;
        f->st.leases_held_elsewhere += v[0] != 1;
        cb(cbctx, PG_OK, v[0] == 1);
    } else {
        f->st.errors++;
        cb(cbctx, status != PG_OK ? status : PG_EINVAL, false);
    }
    maybe_free(f);
}

int pg_fleet_lease_take(pg_fleet *f, const char *key, uint64_t ttl_ms, pg_fleet_lease_cb cb, void *ctx)
{
    lease_req *l = malloc(sizeof *l);
    if (l == NULL)
        return PG_ENOMEM;
    *l = (lease_req){.f = f, .cb = cb, .ctx = ctx};
    char lk[420], ttl[24];
    lease_key(key, lk, sizeof lk);
    int n = snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)ttl_ms);
    PG_FMT_FITS(n, sizeof ttl);
    const char *args[] = {f->member, ttl};
    int rc = send_script(f, LEASE_TAKE_SCRIPT, lk, args, 2, on_lease_reply, l);
    if (rc != PG_OK)
        free(l);
    return rc;
}

static void on_drop_reply(void *ctx, int status, const int64_t *v, size_t n)
{
    (void)status, (void)v, (void)n;
    pg_fleet *f = fleet_of(ctx);
    f->pending--;
    maybe_free(f);
}

void pg_fleet_lease_drop(pg_fleet *f, const char *key)
{
    char lk[420];
    lease_key(key, lk, sizeof lk);
    const char *args[] = {f->member};
    send_script(f, LEASE_DROP_SCRIPT, lk, args, 1, on_drop_reply, f); /* else it expires by itself */
}

void pg_fleet_lease_renew(pg_fleet *f, const char *key, uint64_t ttl_ms)
{
    char lk[420], ttl[24];
    lease_key(key, lk, sizeof lk);
    int n = snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)ttl_ms);
    PG_FMT_FITS(n, sizeof ttl);
    const char *args[] = {f->member, ttl};
    send_script(f, LEASE_RENEW_SCRIPT, lk, args, 2, on_drop_reply, f);
}

double pg_fleet_local_share(const pg_fleet *f)
{
    return 1.0 / (double)PG_MAX(f->size, 1u);
}

bool pg_fleet_ready(const pg_fleet *f)
{
    return f->redis != NULL && pg_redis_ready(f->redis);
}

const char *pg_fleet_member(const pg_fleet *f)
{
    return f->member;
}

void pg_fleet_get_stats(const pg_fleet *f, pg_fleet_stats *out)
{
    *out = f->st;
    out->members = f->size;
}

static void on_leave_reply(void *ctx, int status, const int64_t *v, size_t n)
{
    (void)status, (void)v, (void)n;
    pg_fleet *f = fleet_of(ctx);
    f->pending--;
    maybe_free(f);
}

static void on_beat_closed(uv_handle_t *h)
{
    pg_fleet *f = fleet_of(h->data);
    f->timer_closed = true;
    void (*cb)(void *) = f->closed;
    void *data = f->closed_data;
    maybe_free(f);
    if (cb != NULL)
        cb(data);
}

void pg_fleet_leave(pg_fleet *f)
{
    if (f->redis == NULL)
        return;
    /* Leaving now lets the others count one member less at once, instead of after three beats. */
    const char *args[] = {f->member};
    send_script(f, LEAVE_SCRIPT, f->members_key, args, 1, on_leave_reply, f);
    f->redis = NULL; /* from now on every call fails at once and callers use their local share */
}

void pg_fleet_close(pg_fleet *f, void (*done)(void *data), void *data)
{
    PG_ASSERT(!f->closing && f->redis == NULL); /* left first, while Redis was still there */
    f->closing = true;
    f->closed = done;
    f->closed_data = data;
    PG_CHECK_UV(uv_timer_stop(&f->beat));
    uv_close((uv_handle_t *)&f->beat, on_beat_closed);
}
