/*
 * clock.h: the wall clock the planner's "now" comes from. A test clock (--clock) starts at a
 * given instant and then advances in real time, so tests and demos can pin "now" without
 * freezing timers; a frozen test clock ("TS!") stays at its instant, for tests that compare
 * answers about live data taken at different moments. Only main and the request state machines read it; pure cores take now as
 * an argument.
 */
#ifndef PG_CLOCK_H
#define PG_CLOCK_H

#include "profgate/common.h"

typedef struct pg_clock {
    int64_t offset_ns; /* added to the real clock */
    bool frozen;       /* then offset_ns is the time itself */
} pg_clock;

/** The real clock. */
void pg_clock_init_real(pg_clock *c);
/** A clock that reads start_ns now and advances in real time. */
void pg_clock_init_at(pg_clock *c, int64_t start_ns);
int64_t pg_clock_now(const pg_clock *c);
/** The --clock flag: NULL gives the real clock, else an ISO 8601 start, frozen when followed by
 * '!'; PG_EINVAL with why. */
int pg_clock_init_from_arg(pg_clock *c, const char *arg, char *why, size_t whylen);

int64_t pg_realtime_ns(void);
int64_t pg_monotonic_ns(void);

#endif
