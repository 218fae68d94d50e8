/*
 * clock.c: real and offset wall clocks, and the monotonic clock for durations.
 */
#include "profgate/clock.h"
#include "profgate/iso8601.h"

#include <string.h>
#include <time.h>

int64_t pg_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * PG_NS_PER_S + ts.tv_nsec;
}

int64_t pg_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * PG_NS_PER_S + ts.tv_nsec;
}

void pg_clock_init_real(pg_clock *c)
{
    c->offset_ns = 0;
    c->frozen = false;
}

void pg_clock_init_at(pg_clock *c, int64_t start_ns)
{
    c->offset_ns = start_ns - pg_realtime_ns();
    c->frozen = false;
}

int64_t pg_clock_now(const pg_clock *c)
{
    return c->frozen ? c->offset_ns : pg_realtime_ns() + c->offset_ns;
}

int pg_clock_init_from_arg(pg_clock *c, const char *arg, char *why, size_t whylen)
{
    pg_clock_init_real(c);
    if (arg == NULL)
        return PG_OK;
    int64_t start;
    size_t len = strlen(arg);
    bool frozen = len > 0 && arg[len - 1] == '!';
    int rc = pg_ts_parse(arg, len - frozen, &start, why, whylen);
    if (rc != PG_OK)
        return rc;
    pg_clock_init_at(c, start);
    if (frozen) {
        c->frozen = true;
        c->offset_ns = start;
    }
    return PG_OK;
}
