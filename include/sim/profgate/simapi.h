/*
 * simapi.h: the simulator's answers to the service's operations besides GetProfile and
 * ListProfileTimes, over a world with state (see simapi.c): reads answer from it, writes change it.
 */
#ifndef PG_SIMAPI_H
#define PG_SIMAPI_H

#include "profgate/apierr.h"
#include "profgate/buf.h"
#include "profgate/operations.h"

typedef struct pg_simworld pg_simworld;

/** The world of groups (--groups "a,b,c"; NULL: any name exists until deleted), their state
 *  derived from seed; data_since_s is when they were created. NULL when out of memory. */
pg_simworld *pg_simworld_new(const char *groups, uint64_t seed, int64_t data_since_s, const char *region);
void pg_simworld_free(pg_simworld *w);
/** Whether group exists now (not deleted; listed, created, or any name in an open world). */
bool pg_simworld_exists(const pg_simworld *w, const char *group);

/** Answers op for group (decoded; "" when op names none; params: the path parameters, the second
 *  one for operations that have it), at now_ns: returns the HTTP status, and the JSON body (if
 *  any) in out; a status of 400 or more comes with err. ctype: the request's Content-Type. */
int pg_simapi_answer(pg_simworld *w, int64_t now_ns, pg_op op, const char *group, const pg_slice *params,
                     pg_slice query, const char *body, size_t blen, const char *ctype, pg_buf *out, pg_apierr *err);

#endif
