/* Unit tests for operations.c: the two tables agree (route id = operation), every route matches
 * its own method and path and no other operation's, and ARNs name a group or are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "profgate/operations.h"

static void test_tables_agree(void **state)
{
    (void)state;
    size_t writes = 0;
    for (size_t i = 0; i < PG_OP_COUNT; i++) {
        assert_int_equal(pg_operation_routes[i].id, (int)i);
        assert_non_null(pg_operations[i].name);
        writes += pg_operations[i].write;
        /* A concrete path for the route: "{}" becomes a group name. */
        char path[256] = "";
        const char *p = pg_operation_routes[i].path;
        for (; *p; p++) {
            if (p[0] == '{' && p[1] == '}') {
                strcat(path, "g1");
                p++;
            } else {
                strncat(path, p, 1);
            }
        }
        pg_route_result m;
        const char *method = pg_operation_routes[i].method;
        pg_route_match(pg_operation_routes, PG_OP_COUNT, method, strlen(method), (pg_slice){path, strlen(path)}, &m);
        assert_int_equal(m.status, 200);
        assert_int_equal(m.id, (int)i);
    }
    /* 21 operations, 9 of them reads (GetProfile and ListProfileTimes are profgate's own). */
    assert_int_equal(PG_OP_COUNT, 21);
    assert_int_equal(writes, 12);
    assert_string_equal(pg_operations[PG_OP_LIST_PROFILING_GROUPS].name, "ListProfilingGroups");
}

static void test_arn_group(void **state)
{
    (void)state;
    char g[256];
    const char *ok = "arn:aws:codeguru-profiler:us-east-1:123456789012:profilingGroup/team-a_web";
    assert_int_equal(pg_arn_group(ok, strlen(ok), g, sizeof g), PG_OK);
    assert_string_equal(g, "team-a_web");
    static const char *const bad[] = {
        "arn:aws:codeguru-profiler:us-east-1:123456789012:profilingGroup/",
        "arn:aws:codeguru-profiler:us-east-1:123456789012:profilingGroup/a/b",
        "arn:aws:s3:us-east-1:123456789012:profilingGroup/x",
        "arn:aws:codeguru-profiler:us-east-1:123456789012:group/x",
        "not-an-arn",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pg_arn_group(bad[i], strlen(bad[i]), g, sizeof g), PG_EINVAL);
    pg_apierr e;
    const char *enc = "arn%3Aaws%3Acodeguru-profiler%3Aus-east-1%3A123456789012%3AprofilingGroup%2Fshared";
    assert_int_equal(pg_op_group_of(PG_OP_LIST_TAGS_FOR_RESOURCE, (pg_slice){enc, strlen(enc)}, g, sizeof g, &e), PG_OK);
    assert_string_equal(g, "shared");
    assert_int_equal(pg_op_group_of(PG_OP_GET_POLICY, (pg_slice){"a%2Fb", 5}, g, sizeof g, &e), PG_EINVAL);
    assert_int_equal(e.kind, PG_AE_VALIDATION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tables_agree), cmocka_unit_test(test_arn_group)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
