/*
 * folded.h: a profile as folded (collapsed) stacks, the text flamegraph.pl, speedscope, Grafana
 * and most flame-graph tools read: one line per call path with a self count, frames from the
 * root down separated by ';', then a space and the count:
 *
 *     com.example.Main.main;com.example.Worker.loop 40
 *
 * One counter per output (folded stacks have one value per line; pg_profile_pick_counter chooses
 * it). Paths come in depth-first order, children in byte order of name (as
 * the JSON writer's). A ';' inside a frame name becomes '|', a line break a space, so that every
 * line parses back. maxDepth folds as the JSON answer does: a frame at the limit carries its whole
 * subtree's count. Pure and resumable, like pg_pwriter.
 */
#ifndef PG_FOLDED_H
#define PG_FOLDED_H

#include "profgate/profile.h"

typedef struct pg_fwriter pg_fwriter;
/** A writer of p's folded stacks for counter (a string id of p->strs); max_depth 0: unlimited. */
int pg_fwriter_new(const pg_profile *p, uint32_t counter, uint32_t max_depth, pg_fwriter **out);
/** Appends whole lines to out until out->len reaches budget or every path is written (*done). */
int pg_fwriter_step(pg_fwriter *w, pg_buf *out, size_t budget, bool *done);
void pg_fwriter_free(pg_fwriter *w);

#endif
