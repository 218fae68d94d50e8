/*
 * router.h: matches a method and request path against a table of routes given by the program
 * (profgate and the simulator have different tables). Paths are compared segment by segment
 * after percent-decoding, and "{}" segments capture the raw segment for the handler to decode
 * and validate. It decides 404 versus 405; it does not answer requests.
 */
#ifndef PG_ROUTER_H
#define PG_ROUTER_H

#include "profgate/apierr.h"
#include "profgate/http_parse.h"
#include "profgate/query.h"

#define PG_ROUTE_PARAMS_MAX 2

typedef struct pg_route {
    int id;
    const char *method; /* "GET" */
    const char *path;   /* "/profilingGroups/{}/profile" */
} pg_route;

typedef struct pg_route_result {
    int id;           /* the route's id, valid when status == 200 */
    int status;       /* 200 matched, 404 no such path, 405 path exists for another method */
    const char *allow; /* for 405: the method the path accepts */
    pg_slice params[PG_ROUTE_PARAMS_MAX];
    size_t nparams;
} pg_route_result;

void pg_route_match(const pg_route *table, size_t n, const char *method, size_t method_len, pg_slice path,
                    pg_route_result *out);

/** Matches a request head (its method and the path part of its target); *query gets the rest. */
void pg_route_head(const pg_route *table, size_t n, const pg_http_head *h, pg_route_result *out, pg_slice *query);

/** The API error for a miss (404 UnknownOperationException or 405 MethodNotAllowedException). */
void pg_route_error(const pg_route_result *m, const pg_http_head *h, pg_apierr *err);

#endif
