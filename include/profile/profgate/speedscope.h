/*
 * speedscope.h: a profile in speedscope's file format (https://www.speedscope.app/file-format-schema.json),
 * the JSON speedscope opens directly:
 *
 *     {"$schema": "...", "shared": {"frames": [{"name", "file", "line"}...]},
 *      "profiles": [{"type": "sampled", "name": counter, "unit": "none", "startValue": 0,
 *                    "endValue": total, "samples": [[frame indexes, root first]...],
 *                    "weights": [...]}...],
 *      "activeProfileIndex": i, "name": ..., "exporter": "profgate"}
 *
 * One sampled profile per counter (in byte order of name), opened on the default counter. A
 * sample is a call path with a count for that counter (a node's self count), its weight the count;
 * frames are shared by name, with the file and first line of the first node that has them. maxDepth
 * folds as the other writers do: a frame at the limit carries its whole subtree. Counts on the
 * unnamed root become a "(root)" frame. Samples come depth first in the tree's own order (speedscope
 * does not mind the order). Pure and resumable, like pg_pwriter; the writer holds the frame table
 * and the current path.
 */
#ifndef PG_SPEEDSCOPE_H
#define PG_SPEEDSCOPE_H

#include "profgate/profile.h"

typedef struct pg_sswriter pg_sswriter;
/** A writer of p for speedscope, named name (NUL-terminated), opened on counter default_counter (a
 *  string id of p->strs, or PG_STR_NONE: the first); max_depth 0: unlimited. */
int pg_sswriter_new(const pg_profile *p, const char *name, uint32_t default_counter, uint32_t max_depth,
                    pg_sswriter **out);
/** Appends to out until out->len reaches budget or the file is complete (*done). */
int pg_sswriter_step(pg_sswriter *w, pg_buf *out, size_t budget, bool *done);
void pg_sswriter_free(pg_sswriter *w);
/** Bytes the writer holds (its frame table and walk), for the memory budget. */
size_t pg_sswriter_memory(const pg_sswriter *w);

#endif
