/* Unit tests for router.c: literal and captured segments, encoded literals, 404 versus 405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "profgate/router.h"

static const pg_route table[] = {
    {1, "GET", "/profilingGroups/{}/profile"},
    {2, "GET", "/healthz"},
    {3, "POST", "/_sim/reset"},
};

static pg_route_result match(const char *method, const char *path)
{
    pg_route_result r;
    pg_route_match(table, 3, method, strlen(method), (pg_slice){path, strlen(path)}, &r);
    return r;
}

static void test_match(void **state)
{
    (void)state;
    pg_route_result r = match("GET", "/profilingGroups/my-group/profile");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.id, 1);
    assert_int_equal(r.nparams, 1);
    assert_int_equal(r.params[0].len, 8);
    assert_memory_equal(r.params[0].p, "my-group", 8);
    r = match("GET", "/profilingGroups/a%2Fb/profile");
    assert_int_equal(r.status, 200);
    assert_memory_equal(r.params[0].p, "a%2Fb", 5);
    r = match("GET", "/profilingGroups//profile");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.params[0].len, 0);
    assert_int_equal(match("GET", "/%68ealthz").id, 2);
    assert_int_equal(match("GET", "/healthz").id, 2);
}

static void test_miss(void **state)
{
    (void)state;
    assert_int_equal(match("GET", "/healthz/").status, 404);
    assert_int_equal(match("GET", "/profilingGroups/g/profile/x").status, 404);
    assert_int_equal(match("GET", "/profilingGroups/g").status, 404);
    assert_int_equal(match("GET", "").status, 404);
    assert_int_equal(match("GET", "healthz").status, 404);
    assert_int_equal(match("GET", "/HEALTHZ").status, 404);
    pg_route_result r = match("POST", "/healthz");
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET");
    r = match("GET", "/_sim/reset");
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST");
    assert_int_equal(match("get", "/healthz").status, 405);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_match), cmocka_unit_test(test_miss)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
