/*
 * heapgive.c: the give-back policy (pure) and the one call into the allocator.
 */
#include "profgate/heapgive.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void pg_heapgive_init(pg_heapgive *h)
{
    h->peak = 0;
    h->last_ns = INT64_MIN;
}

void pg_heapgive_rise(pg_heapgive *h, size_t live)
{
    if (live > h->peak)
        h->peak = live;
}

int64_t pg_heapgive_check(pg_heapgive *h, size_t live, int64_t now_ns)
{
    if (h->peak < PG_HEAPGIVE_MIN_PEAK || live > h->peak / 8)
        return -1;
    if (h->last_ns != INT64_MIN && now_ns - h->last_ns < PG_HEAPGIVE_INTERVAL_NS)
        return h->last_ns + PG_HEAPGIVE_INTERVAL_NS - now_ns;
    h->peak = live;
    h->last_ns = now_ns;
    return 0;
}

bool pg_heap_give_back(void)
{
#if defined(__GLIBC__)
    /* 0: keep no slack at the top; free pages inside the heap are released too (madvise). */
    return malloc_trim(0) == 1;
#else
    return false;
#endif
}
