/*
 * histo.h: latency histograms with fixed bounds, filled by every module that times something
 * (requests, upstream calls, Redis commands) and rendered by metrics. Pure and allocation-free.
 */
#ifndef PG_HISTO_H
#define PG_HISTO_H

#include "profgate/common.h"

/* A latency histogram with fixed bounds in seconds (the Prometheus defaults, extended down to
 * 0.5 ms since cache hits are that fast). counts[i] counts observations <= bound i that are above
 * bound i-1; counts[PG_HISTO_BOUNDS] counts those above the last bound. */
#define PG_HISTO_BOUNDS 14
extern const double pg_histo_bounds[PG_HISTO_BOUNDS];
typedef struct pg_histo {
    uint64_t counts[PG_HISTO_BOUNDS + 1];
    uint64_t n;
    double sum; /* seconds */
} pg_histo;
/** Counts one observation of ns nanoseconds. */
void pg_histo_observe(pg_histo *h, uint64_t ns);

#endif
