/*
 * diff.h: two profiles of one group compared stack by stack, the answer to "what got slower after
 * the deploy?". For one counter, every call path with a count in either profile comes out once,
 * with both counts and both rates (count per second of its profile's range, so ranges of different
 * lengths compare):
 *
 *     {"counter": "RUNNABLE",
 *      "base": {"startTime": ..., "endTime": ..., "seconds": 21600, "total": 5400},
 *      "head": {"startTime": ..., "endTime": ..., "seconds": 3600, "total": 1260},
 *      "stacks": [{"stack": "main;loop;parse", "base": 0.0125, "head": 0.05,
 *                  "baseCount": 270, "headCount": 180}, ...]}
 *
 * A stack is a path in folded-stack notation (folded.h: frames root first, joined by ';', with
 * ';' inside a name made '|'), so the same text tools read it. The head's paths come first in
 * the folded writer's order, then the paths only the base has. Pure and resumable: creating the
 * writer indexes the base's paths (memory: about the base's folded text); the head is streamed.
 */
#ifndef PG_DIFF_H
#define PG_DIFF_H

#include "profgate/profile.h"

/* One side of the comparison: the merged profile, its counter (a string id of p->strs, or
 * PG_STR_NONE when p has no such counter) and the range it covers. */
typedef struct pg_diff_side {
    const pg_profile *p;
    uint32_t counter;
    int64_t start_s, end_s;
} pg_diff_side;

typedef struct pg_dwriter pg_dwriter;
/** A writer comparing base and head for the counter named counter (NUL-terminated). */
int pg_dwriter_new(const pg_diff_side *base, const pg_diff_side *head, const char *counter, pg_dwriter **out);
/** Appends to out until out->len reaches budget or the answer is complete (*done). */
int pg_dwriter_step(pg_dwriter *w, pg_buf *out, size_t budget, bool *done);
void pg_dwriter_free(pg_dwriter *w);
/** Bytes the writer holds (the base's indexed paths, mostly), for the memory budget. */
size_t pg_dwriter_memory(const pg_dwriter *w);

#endif
