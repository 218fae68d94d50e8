/* Fuzz target: the HTTP request path. Bytes are fed to the parser in chunks whose sizes come from
 * the input itself, and every complete request goes through routing (the gateway's own route
 * table), GetProfile validation, range resolution and planning, exactly as the gateway would
 * run them. */
#include "profgate/getprofile_req.h"
#include "profgate/http_parse.h"
#include "profgate/planner.h"
#include "profgate/routes.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void handle(const pg_http_head *h)
{
    pg_slice path, query;
    pg_target_split(h->target, h->target_len, &path, &query);
    pg_route_result m;
    pg_route_match(pg_gateway_routes, pg_gateway_route_count, h->method, h->method_len, path, &m);
    if (m.status != 200 || (m.id != PG_MR_GETPROFILE && m.id != PG_MR_PLAN))
        return; /* the other routes take no input */
    pg_getprofile_req r;
    pg_apierr err;
    const pg_http_header *acc = pg_http_head_find(h, "accept");
    int rc = m.id == PG_MR_GETPROFILE ? pg_getprofile_parse(m.params[0], query, acc ? acc->value : NULL, acc ? acc->value_len : 0, &r, &err)
                       : pg_profile_query_parse(query, &r, &err);
    if (rc != PG_OK) {
        PG_ASSERT(err.kind == PG_AE_VALIDATION && err.message[0] != '\0');
        return;
    }
    int64_t now = INT64_C(1795635108) * PG_NS_PER_S, s, e;
    if (pg_range_resolve(&r, now, &s, &e, &err) != PG_OK)
        return;
    pg_planner_cfg cfg;
    pg_planner_cfg_default(&cfg);
    static pg_plan plan;
    pg_plan_build(&cfg, s, e, now, &plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const pg_http_limits lim = {.max_head = 4096, .max_url = 1024, .max_headers = 16, .max_body = 256};
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    pg_http_parser p;
    pg_http_parser_init(&p, &lim);
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        pg_hp_event ev;
        size_t used = pg_http_parser_feed(&p, (const char *)data + off, n, &ev);
        PG_ASSERT(used <= n);
        if (ev == PG_HP_ERROR) {
            PG_ASSERT(p.error_status >= 400 && p.error_status < 600);
            break;
        }
        if (ev == PG_HP_REQUEST) {
            handle(pg_http_parser_head(&p));
            pg_http_parser_next(&p);
        }
        off += used;
    }
    pg_http_parser_free(&p);
    return 0;
}
