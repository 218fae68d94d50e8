/* Unit tests for groupfilter.c: a tenant's view of list answers keeps only its groups' items in
 * the top-level lists (names, descriptions, report summaries), drops items that name no group,
 * leaves everything else alone, and refuses what is not a JSON object or nests too deep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "profgate/groupfilter.h"

static bool team_a(void *ctx, const char *group)
{
    (void)ctx;
    return strncmp(group, "team-a", 6) == 0;
}

static void expect(const char *in, const char *out)
{
    pg_buf b;
    pg_buf_init(&b, 1 << 16);
    assert_int_equal(pg_group_filter(in, strlen(in), team_a, NULL, &b), PG_OK);
    assert_int_equal(pg_buf_append(&b, "", 1), PG_OK);
    assert_string_equal(b.data, out);
    pg_buf_free(&b);
}

static void test_filter(void **state)
{
    (void)state;
    expect("{\"nextToken\":\"i2\",\"profilingGroupNames\":[\"team-a-web\",\"team-b-api\",\"team-a-db\"]}",
           "{\"nextToken\":\"i2\",\"profilingGroupNames\":[\"team-a-web\",\"team-a-db\"]}");
    expect("{\"profilingGroups\":[{\"name\":\"team-b\",\"tags\":{\"team\":\"b\"}},{\"name\":\"team-a\",\"n\":1.50}]}",
           "{\"profilingGroups\":[{\"name\":\"team-a\",\"n\":1.50}]}");
    expect("{\"reportSummaries\":[{\"profilingGroupName\":\"team-a-x\"},{\"id\":\"no group\"},"
           "{\"profilingGroupName\":\"other\"}]}",
           "{\"reportSummaries\":[{\"profilingGroupName\":\"team-a-x\"}]}");
    /* Lists elsewhere are not touched. */
    expect("{\"other\":[\"team-b\"],\"x\":{\"profilingGroupNames\":[\"team-b\"]}}",
           "{\"other\":[\"team-b\"],\"x\":{\"profilingGroupNames\":[\"team-b\"]}}");
    pg_buf b;
    pg_buf_init(&b, 1 << 16);
    static const char *const bad[] = {"[]", "", "{", "\"x\"", "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]"
                                                             "]]]]]]]]]]]]]]]]]]]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pg_group_filter(bad[i], strlen(bad[i]), team_a, NULL, &b), PG_EINVAL);
    pg_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_filter)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
