/*
 * ratelimit.c: the token bucket. Refill is computed lazily from elapsed time; a clock that goes
 * backwards refills nothing.
 */
#include "profgate/ratelimit.h"

static void refill(pg_tbucket *tb, int64_t now_ns)
{
    if (now_ns > tb->last_ns) {
        tb->tokens += (double)(now_ns - tb->last_ns) * 1e-9 * tb->rate;
        if (tb->tokens > tb->burst)
            tb->tokens = tb->burst;
        tb->last_ns = now_ns;
    }
}

void pg_tbucket_init(pg_tbucket *tb, double rate, double burst, int64_t now_ns)
{
    PG_ASSERT(rate > 0 && burst >= 1);
    tb->rate = rate;
    tb->burst = burst;
    tb->tokens = burst;
    tb->last_ns = now_ns;
}

bool pg_tbucket_take(pg_tbucket *tb, int64_t now_ns, double n)
{
    refill(tb, now_ns);
    if (tb->tokens + 1e-9 < n)
        return false;
    tb->tokens -= n;
    return true;
}

int64_t pg_tbucket_wait_ns(pg_tbucket *tb, int64_t now_ns, double n)
{
    refill(tb, now_ns);
    if (tb->tokens >= n)
        return 0;
    return (int64_t)((n - tb->tokens) / tb->rate * 1e9) + 1;
}
