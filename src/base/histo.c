/*
 * histo.c: latency histogram observation.
 */
#include "profgate/histo.h"

const double pg_histo_bounds[PG_HISTO_BOUNDS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};

void pg_histo_observe(pg_histo *h, uint64_t ns)
{
    double s = (double)ns / 1e9;
    size_t i = 0;
    while (i < PG_HISTO_BOUNDS && s > pg_histo_bounds[i])
        i++;
    h->counts[i]++;
    h->n++;
    h->sum += s;
}
