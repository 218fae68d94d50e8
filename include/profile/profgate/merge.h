/*
 * merge.h: merging profiles (CONTRACT §6): the union of children, counts added per
 * counter, first non-null file, line range widened, start = min, end = max, samples, duration and
 * CPU time summed, sampleWeights kept when they agree and otherwise recomputed with counts
 * rescaled. Commutative and associative with the empty profile as identity, so buckets can be
 * folded in as they arrive. Pure.
 */
#ifndef PG_MERGE_H
#define PG_MERGE_H

#include "profgate/profile.h"

/** Folds src into dst. PG_ELIMIT when dst would exceed its limits (dst is then incomplete). */
int pg_profile_merge(pg_profile *dst, const pg_profile *src);

#endif
