/*
 * simapi.h: the simulator's answers to the service's read operations besides GetProfile and
 * ListProfileTimes (see simapi.c). Writes are not simulated.
 */
#ifndef PG_SIMAPI_H
#define PG_SIMAPI_H

#include "profgate/apierr.h"
#include "profgate/buf.h"
#include "profgate/operations.h"

typedef struct pg_simapi_world {
    const char *groups; /* --groups: "a,b,c" (NULL: none are listed, any name exists) */
    uint64_t seed;
    int64_t data_since_s; /* the groups' creation time */
    int64_t now_ns;
    const char *region;
} pg_simapi_world;

/** Answers read operation op for group (decoded; "" when op names none): returns the HTTP status
 *  and, with 200, the JSON body in out; with 400, err says why (ValidationException). */
int pg_simapi_answer(const pg_simapi_world *w, pg_op op, const char *group, pg_slice query, const char *body,
                     size_t blen, pg_buf *out, pg_apierr *err);

#endif
