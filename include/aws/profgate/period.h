/*
 * period.h: the aggregation periods of the CodeGuru Profiler API (PT5M, PT1H, P1D). Kept apart
 * from the planner so that modules which only name a bucket (the upstream client, cache keys)
 * do not see how plans are made.
 */
#ifndef PG_PERIOD_H
#define PG_PERIOD_H

#include "profgate/common.h"

typedef enum { PG_P5M = 0, PG_P1H = 1, PG_P1D = 2, PG_PERIOD_COUNT = 3 } pg_period;

/** "PT5M", "PT1H", "P1D". */
const char *pg_period_name(pg_period p);
/** Length of a period in seconds. */
int64_t pg_period_seconds(pg_period p);

#endif
