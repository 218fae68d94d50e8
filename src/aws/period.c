/*
 * period.c: names and lengths of the aggregation periods.
 */
#include "profgate/period.h"

static const struct {
    const char *name;
    int64_t seconds;
} periods[PG_PERIOD_COUNT] = {
    [PG_P5M] = {"PT5M", 300},
    [PG_P1H] = {"PT1H", 3600},
    [PG_P1D] = {"P1D", 86400},
};

const char *pg_period_name(pg_period p)
{
    PG_ASSERT(p < PG_PERIOD_COUNT);
    return periods[p].name;
}

int64_t pg_period_seconds(pg_period p)
{
    PG_ASSERT(p < PG_PERIOD_COUNT);
    return periods[p].seconds;
}
