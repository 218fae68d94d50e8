/*
 * ratelimit.h: a token bucket (rate tokens per second, up to burst). Pure: time is passed in.
 * The simulator throttles with it; the upstream pacer builds on it.
 */
#ifndef PG_RATELIMIT_H
#define PG_RATELIMIT_H

#include "profgate/common.h"

typedef struct pg_tbucket {
    double rate;   /* tokens per second */
    double burst;  /* capacity */
    double tokens;
    int64_t last_ns;
} pg_tbucket;

/** A full bucket at now_ns. */
void pg_tbucket_init(pg_tbucket *tb, double rate, double burst, int64_t now_ns);
/** Takes n tokens if available; false (and nothing taken) otherwise. */
bool pg_tbucket_take(pg_tbucket *tb, int64_t now_ns, double n);
/** Nanoseconds until n tokens will be available (0 when they are now). */
int64_t pg_tbucket_wait_ns(pg_tbucket *tb, int64_t now_ns, double n);

#endif
