/*
 * heapgive.h: when to hand the heap's free pages back to the kernel after a burst of requests.
 *
 * Each request in progress holds a few small allocations (a connection's request state, its input
 * buffer, the answer's head). A burst of thousands of them at once grows the heap, and when they
 * end their memory is free but stays resident: the allocator returns only the top of the heap,
 * and longer-lived allocations made during the burst (the connections themselves) sit above it.
 * Measured (bench/connections, 4,000 connections made while another process held the server's
 * core): 1,456-1,897 bytes per idle connection instead of 398, and malloc_trim brought it back to
 * 398. So after a burst has receded, the free pages are given back.
 *
 * The policy is pure: the caller reports how many requests are live when that number rises and
 * falls, with the time. A give-back is wanted when at least PG_HEAPGIVE_MIN_PEAK were live at once
 * since the last one and at most an eighth of that peak still is. The peak then starts again from
 * what is still live, so those requests' memory goes back too once they have mostly ended (if they
 * were many). One give-back (a walk of the allocator's free lists, then madvise) took 0.5-5 ms
 * after a burst of 4,000: so at most one per PG_HEAPGIVE_INTERVAL_NS. A server whose live count
 * swings past the floor on every loop turn (a thousand keep-alive clients in lockstep) then pays
 * under half a percent of a core for it; a give-back wanted sooner waits, and the caller asks
 * again when the wait is over, so the last wave of a burst is not left resident.
 */
#ifndef PG_HEAPGIVE_H
#define PG_HEAPGIVE_H

#include "profgate/common.h"

/* Below this many requests at once, what a burst leaves is not worth a walk of the free lists. */
#define PG_HEAPGIVE_MIN_PEAK 256
#define PG_HEAPGIVE_INTERVAL_NS PG_NS_PER_S

typedef struct pg_heapgive {
    size_t peak;     /* the most requests live at once since the last give-back */
    int64_t last_ns; /* when it was; INT64_MIN before the first */
} pg_heapgive;

/** Nothing seen yet. */
void pg_heapgive_init(pg_heapgive *h);
/** The number of live requests rose to live. */
void pg_heapgive_rise(pg_heapgive *h, size_t live);
/** The number fell to live, or a wait this asked for is over: 0 when the heap is to be given back
 * now (counted as done at now_ns: the peak restarts), the nanoseconds until the caller should ask
 * again when one is wanted too soon after the last, -1 when none is wanted. */
int64_t pg_heapgive_check(pg_heapgive *h, size_t live, int64_t now_ns);

/** Hands the heap's free pages back to the kernel (malloc_trim with glibc; nothing elsewhere).
 * True when the allocator released any. */
bool pg_heap_give_back(void);

#endif
