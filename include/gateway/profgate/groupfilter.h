/*
 * groupfilter.h: the lists of a passed-through answer (ListProfilingGroups' profilingGroupNames
 * and profilingGroups, GetFindingsReportAccountSummary's reportSummaries) reduced to the groups a
 * tenant may read. Pure.
 */
#ifndef PG_GROUPFILTER_H
#define PG_GROUPFILTER_H

#include "profgate/buf.h"

/** Writes body (a JSON object) to out without the top-level list items naming a group that
 *  may(ctx, group) refuses; everything else is kept. PG_EINVAL when body is not a JSON object. */
int pg_group_filter(const char *body, size_t len, bool (*may)(void *ctx, const char *group), void *ctx, pg_buf *out);

#endif
