/*
 * routes.h: profgate's route table, the one list of paths it answers. The gateway dispatches on
 * it and the HTTP fuzz target routes with it, so both always agree. Route ids are the metrics'
 * route label values (pg_m_route).
 */
#ifndef PG_ROUTES_H
#define PG_ROUTES_H

#include "profgate/metrics.h"
#include "profgate/router.h"

extern const pg_route pg_gateway_routes[];
extern const size_t pg_gateway_route_count;

#endif
