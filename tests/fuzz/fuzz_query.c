/* Fuzz target: query-string parsing, percent-decoding, the access log's redaction of targets, GetProfile parameter validation (and the view route's format and counter, the diff
 * route's two ranges), range resolution and planning, with "now" taken from the input so retention edges get exercised;
 * and the static page's mapping of a request path to a file name (the same bytes as a path). */
#include "profgate/getprofile_req.h"
#include "profgate/planner.h"
#include "profgate/static_path.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t raw;
    memcpy(&raw, data, 8);
    /* now within 2000..2200 */
    int64_t now = INT64_C(946684800) * PG_NS_PER_S + (int64_t)(raw % (UINT64_C(200) * 365 * 86400 * 1000000000));
    data += 8;
    size -= 8;
    pg_slice q = {(const char *)data, size};
    pg_getprofile_req r;
    pg_apierr err;
    char dec[4096];
    size_t n;
    if (size <= sizeof dec)
        (void)pg_pct_decode(q, dec, &n);
    char logged[512];
    pg_target_redact((const char *)data, size, logged, sizeof logged);
    PG_ASSERT(strlen(logged) < sizeof logged);
    /* The view route's parameters: a counter it accepts is of the documented shape. */
    pg_slice group = {"g", 1};
    if (pg_view_parse(group, q, &r, &err) == PG_OK) {
        PG_ASSERT(r.format == PG_FMT_JSON || r.format == PG_FMT_ION || r.format == PG_FMT_COLLAPSED ||
                  r.format == PG_FMT_PPROF || r.format == PG_FMT_SPEEDSCOPE);
        PG_ASSERT(r.counter[0] == '\0' || pg_counter_name_ok(r.counter, strlen(r.counter)));
    }
    pg_getprofile_req head;
    if (pg_diff_parse(group, q, &r, &head, &err) == PG_OK) {
        PG_ASSERT(r.has_start && r.has_end && head.has_start && head.has_end && !r.has_period && !head.has_period);
        PG_ASSERT(strcmp(r.counter, head.counter) == 0 && strcmp(head.group, "g") == 0);
    }
    /* A file name the static page maps a path to never leaves its root nor names a hidden file. */
    char rel[PG_STATIC_PATH_MAX + 1];
    const char *ctype;
    if (pg_static_path((const char *)data, size, "/ui/", rel, &ctype) == PG_SP_FILE) {
        PG_ASSERT(strlen(rel) <= PG_STATIC_PATH_MAX && rel[0] != '/' && rel[0] != '.' && strstr(rel, "/.") == NULL &&
                  strstr(rel, "//") == NULL && ctype != NULL);
    }
    if (pg_profile_query_parse(q, &r, &err) != PG_OK)
        return 0;
    int64_t s, e;
    if (pg_range_resolve(&r, now, &s, &e, &err) != PG_OK)
        return 0;
    pg_planner_cfg cfg;
    pg_planner_cfg_default(&cfg);
    cfg.archive = raw & 1;
    static pg_plan plan;
    pg_plan_build(&cfg, s, e, now, &plan);
    for (size_t i = 1; i < plan.n; i++)
        PG_ASSERT(plan.b[i].start_s == plan.b[i - 1].start_s + pg_period_seconds(plan.b[i - 1].period));
    return 0;
}
