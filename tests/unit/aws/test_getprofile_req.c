/* Unit tests for getprofile_req.c: every allowed and rejected parameter combination, value
 * constraints with the exact messages, Accept negotiation and the group name pattern. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "profgate/getprofile_req.h"

static int parse(const char *group, const char *query, const char *accept, pg_getprofile_req *r, pg_apierr *e)
{
    pg_slice g = {group, strlen(group)}, q = {query, strlen(query)};
    return pg_getprofile_parse(g, q, accept, accept ? strlen(accept) : 0, r, e);
}

static void ok(const char *group, const char *query, const char *accept, pg_getprofile_req *r)
{
    pg_apierr e;
    if (parse(group, query, accept, r, &e) != PG_OK)
        fail_msg("rejected '%s' '%s': %s", group, query, e.message);
}

static void bad(const char *group, const char *query, const char *accept, const char *msg_part)
{
    pg_getprofile_req r;
    pg_apierr e;
    if (parse(group, query, accept, &r, &e) == PG_OK)
        fail_msg("accepted '%s' '%s'", group, query);
    assert_int_equal(e.kind, PG_AE_VALIDATION);
    if (strstr(e.message, msg_part) == NULL)
        fail_msg("message '%s' lacks '%s'", e.message, msg_part);
}

static void test_combinations(void **state)
{
    (void)state;
    pg_getprofile_req r;
    ok("g", "period=PT1H", NULL, &r);
    assert_true(r.has_period && !r.has_start && !r.has_end);
    assert_int_equal(r.period_ns, INT64_C(3600000000000));
    ok("g", "startTime=2020-06-01T13%3A00%3A00Z&period=PT1H", NULL, &r);
    assert_true(r.has_start && r.has_period && !r.has_end);
    ok("g", "endTime=2020-06-01T13:00:00Z&period=P1D", NULL, &r);
    assert_true(r.has_end && r.has_period && !r.has_start);
    ok("g", "startTime=2020-06-01T13:00:00Z&endTime=2020-06-01T14:15:02.001000Z&maxDepth=100", NULL, &r);
    assert_true(r.has_start && r.has_end && !r.has_period);
    assert_int_equal(r.max_depth, 100);
    assert_int_equal(r.end_ns - r.start_ns, INT64_C(4502001000000));

    bad("g", "", NULL, "none of startTime, endTime and period was given");
    bad("g", "maxDepth=3", NULL, "none of startTime, endTime and period was given");
    bad("g", "startTime=2020-06-01T13:00:00Z", NULL, "startTime was given without endTime or period");
    bad("g", "endTime=2020-06-01T13:00:00Z", NULL, "endTime was given without startTime or period");
    bad("g", "startTime=2020-06-01T13:00:00Z&endTime=2020-06-01T14:00:00Z&period=PT1H", NULL,
        "startTime, endTime and period were all given");
}

static void test_values(void **state)
{
    (void)state;
    pg_getprofile_req r;
    bad("g", "period=P1Y", NULL, "Value 'P1Y' at 'period' failed to satisfy constraint");
    bad("g", "period=P1Y", NULL, "years are not supported");
    bad("g", "period=PT0S", NULL, "Member must be a positive duration");
    bad("g", "period=", NULL, "Member must have length greater than or equal to 1");
    char longp[100] = "PT";
    memset(longp + 2, '1', 70);
    strcat(longp, "S");
    char q[160];
    snprintf(q, sizeof q, "period=%s", longp);
    bad("g", q, NULL, "Member must have length less than or equal to 64");
    bad("g", "startTime=yesterday&period=PT1H", NULL, "Value 'yesterday' at 'startTime' failed to satisfy constraint: Member must be an ISO 8601 timestamp");
    bad("g", "startTime=2020-06-01T13:00:00&period=PT1H", NULL, "a time zone is required");
    bad("g", "endTime=2020-02-30T13:00:00Z&period=PT1H", NULL, "Value '2020-02-30T13:00:00Z' at 'endTime'");
    bad("g", "period=PT1H&maxDepth=0", NULL, "Value '0' at 'maxDepth' failed to satisfy constraint: Member must have value greater than or equal to 1");
    bad("g", "period=PT1H&maxDepth=10001", NULL, "Member must have value less than or equal to 10000");
    bad("g", "period=PT1H&maxDepth=-5", NULL, "greater than or equal to 1");
    bad("g", "period=PT1H&maxDepth=99999999999999999999999", NULL, "less than or equal to 10000");
    bad("g", "period=PT1H&maxDepth=1.5", NULL, "Member must be an integer");
    bad("g", "period=PT1H&maxDepth=", NULL, "Member must be an integer");
    bad("g", "period=PT1H&maxDepth=abc", NULL, "Member must be an integer");
    bad("g", "period=PT1H&period=PT2H", NULL, "Query parameter 'period' is given more than once");
    bad("g", "period=PT1H&startTime=%ZZ", NULL, "Malformed percent-encoding in query parameter 'startTime'");
    ok("g", "period=PT1H&maxDepth=10000", NULL, &r);
    assert_int_equal(r.max_depth, 10000);
    ok("g", "period=PT1H&maxDepth=1", NULL, &r);
    assert_int_equal(r.max_depth, 1);
    ok("g", "period=PT1H&unknown=1&x", NULL, &r);
    ok("g", "%70eriod=PT1H", NULL, &r); /* an encoded parameter name is still the parameter */
    assert_true(r.has_period);
}

static void test_echo_is_safe(void **state)
{
    (void)state;
    pg_getprofile_req r;
    pg_apierr e;
    /* Quotes and control bytes never reach the message verbatim; UTF-8 is echoed as sent (the
     * JSON writer escapes what it must), and bytes that are not UTF-8 are not. */
    assert_int_equal(parse("g", "period=%E2%82%AC%27%22%0A%FF", NULL, &r, &e), PG_EINVAL);
    if (strstr(e.message, "Value '\xe2\x82\xac?" "?" "?" "?'") == NULL) /* split: "??'" is a trigraph */
        fail_msg("echo: %s", e.message);
    for (const char *p = e.message; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"' || (unsigned char)*p == 0xff)
            fail_msg("unsafe byte in message: %s", e.message);
    /* A group name outside the pattern is refused, and named as sent. */
    bad("caf%C3%A9", "period=PT1H", NULL, "Value 'caf\xc3\xa9' at 'profilingGroupName'");
}

static void test_group(void **state)
{
    (void)state;
    pg_getprofile_req r;
    ok("my-group_01", "period=PT1H", NULL, &r);
    assert_string_equal(r.group, "my-group_01");
    ok("my%2Dgroup", "period=PT1H", NULL, &r);
    assert_string_equal(r.group, "my-group");
    bad("", "period=PT1H", NULL, "Member must have length greater than or equal to 1");
    bad("a.b", "period=PT1H", NULL, "Member must satisfy regular expression pattern: ^[\\w-]+$");
    bad("a%2Fb", "period=PT1H", NULL, "regular expression pattern");
    bad("caf%C3%A9", "period=PT1H", NULL, "regular expression pattern");
    bad("a%zz", "period=PT1H", NULL, "Malformed percent-encoding in the profiling group name");
    char g[300];
    memset(g, 'a', 255);
    g[255] = '\0';
    ok(g, "period=PT1H", NULL, &r);
    assert_int_equal(r.group_len, 255);
    g[255] = 'a';
    g[256] = '\0';
    bad(g, "period=PT1H", NULL, "Member must have length less than or equal to 255");
    /* The group is validated before the query, as the service does. */
    bad("a.b", "", NULL, "profilingGroupName");
}

static void test_accept(void **state)
{
    (void)state;
    pg_getprofile_req r;
    ok("g", "period=PT1H", NULL, &r);
    assert_int_equal(r.format, PG_FMT_ION);
    ok("g", "period=PT1H", "application/json", &r);
    assert_int_equal(r.format, PG_FMT_JSON);
    ok("g", "period=PT1H", "Application/JSON; charset=utf-8", &r);
    assert_int_equal(r.format, PG_FMT_JSON);
    ok("g", "period=PT1H", "application/x-amzn-ion", &r);
    assert_int_equal(r.format, PG_FMT_ION);
    ok("g", "period=PT1H", "*/*", &r);
    assert_int_equal(r.format, PG_FMT_ION);
    ok("g", "period=PT1H", "text/html, application/json;q=0.9", &r);
    assert_int_equal(r.format, PG_FMT_JSON);
    ok("g", "period=PT1H", "", &r);
    assert_int_equal(r.format, PG_FMT_ION);
    /* A range weighted 0 is refused, not taken: the next acceptable one is. */
    ok("g", "period=PT1H", "application/x-amzn-ion;q=0, application/json", &r);
    assert_int_equal(r.format, PG_FMT_JSON);
    ok("g", "period=PT1H", "*/*;q=0,application/json;q=0.5", &r);
    assert_int_equal(r.format, PG_FMT_JSON);
    bad("g", "period=PT1H", "application/json;q=0", "is not supported");
    bad("g", "period=PT1H", "text/html", "Accept header 'text/html' is not supported; accepted values are application/json and application/x-amzn-ion");
    bad("g", "period=PT1H", "application/xml", "application/json");
    assert_string_equal(pg_format_content_type(PG_FMT_JSON), "application/json");
    assert_string_equal(pg_format_content_type(PG_FMT_ION), "application/x-amzn-ion");
}

/* profgate's own route: GetProfile's validation, then format and counter. */
static void test_view(void **state)
{
    (void)state;
    pg_getprofile_req r;
    pg_apierr e;
    pg_slice g = {"g", 1};
    static const struct {
        const char *query;
        pg_format format;
        const char *counter;
    } good[] = {
        {"period=PT1H", PG_FMT_JSON, ""},
        {"period=PT1H&format=collapsed", PG_FMT_COLLAPSED, ""},
        {"format=ion&period=PT1H&counter=WALL_TIME", PG_FMT_ION, "WALL_TIME"},
        {"period=PT1H&format=json&counter=cpu_2", PG_FMT_JSON, "cpu_2"},
        {"period=PT1H&format=pprof", PG_FMT_PPROF, ""},
        {"period=PT1H&format=speedscope&counter=RUNNABLE", PG_FMT_SPEEDSCOPE, "RUNNABLE"},
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(good); i++) {
        pg_slice q = {good[i].query, strlen(good[i].query)};
        if (pg_view_parse(g, q, &r, &e) != PG_OK)
            fail_msg("rejected '%s': %s", good[i].query, e.message);
        assert_int_equal(r.format, good[i].format);
        assert_string_equal(r.counter, good[i].counter);
        assert_true(r.has_period);
    }
    static const struct {
        const char *query, *msg;
    } refused[] = {
        {"period=banana&format=collapsed", "period"}, /* GetProfile's own checks come first */
        {"period=PT1H&format=pprof2", "format must be one of json, ion, collapsed, pprof, speedscope"},
        {"period=PT1H&format=", "format must be one of"},
        {"period=PT1H&format=%ZZ", "format must be one of"},
        {"period=PT1H&counter=", "counter must be"},
        {"period=PT1H&counter=WALL%20TIME", "counter must be"},
        {"period=PT1H&counter=a;b", "counter must be"},
        {"period=PT1H&counter=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "counter must be"},
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(refused); i++) {
        pg_slice q = {refused[i].query, strlen(refused[i].query)};
        if (pg_view_parse(g, q, &r, &e) == PG_OK)
            fail_msg("accepted '%s'", refused[i].query);
        assert_int_equal(e.kind, PG_AE_VALIDATION);
        if (strstr(e.message, refused[i].msg) == NULL)
            fail_msg("'%s': message '%s' lacks '%s'", refused[i].query, e.message, refused[i].msg);
    }
    assert_string_equal(pg_format_content_type(PG_FMT_COLLAPSED), "text/plain; charset=utf-8");
    assert_string_equal(pg_format_content_type(PG_FMT_PPROF), "application/octet-stream");
    assert_string_equal(pg_format_content_type(PG_FMT_SPEEDSCOPE), "application/json");
}

/* The diff route: two ranges in interval notation, a counter; the other routes' range parameters
 * and any malformed range are refused with a message that says which. */
static void test_diff(void **state)
{
    (void)state;
    pg_getprofile_req b, h;
    pg_apierr e;
    pg_slice g = {"checkout-1", 10};
    const char *q = "base=2026-11-30T00:00:00Z/2026-11-30T06:00:00Z&head=2026-12-01T00%3A00%3A00Z%2F2026-12-01T01:00:00Z"
                    "&counter=WALL_TIME";
    assert_int_equal(pg_diff_parse(g, (pg_slice){q, strlen(q)}, &b, &h, &e), PG_OK);
    assert_string_equal(b.group, "checkout-1");
    assert_string_equal(h.group, "checkout-1");
    assert_true(b.has_start && b.has_end && !b.has_period && h.has_start && h.has_end);
    int64_t day = INT64_C(86400) * PG_NS_PER_S;
    assert_true(h.start_ns - b.start_ns == day);
    assert_true(b.end_ns - b.start_ns == 6 * INT64_C(3600) * PG_NS_PER_S);
    assert_true(h.end_ns - h.start_ns == INT64_C(3600) * PG_NS_PER_S);
    assert_string_equal(b.counter, "WALL_TIME");
    assert_string_equal(h.counter, "WALL_TIME");
    assert_int_equal(b.format, PG_FMT_JSON);
    static const struct {
        const char *group, *query, *msg;
    } refused[] = {
        {"g", "head=2026-12-01T00:00:00Z/2026-12-01T01:00:00Z", "base is required"},
        {"g", "base=2026-12-01T00:00:00Z/2026-12-01T01:00:00Z", "head is required"},
        {"g", "base=2026-12-01T00:00:00Z&head=2026-12-01T00:00:00Z/2026-12-01T01:00:00Z", "base must be START/END"},
        {"g", "base=2026-12-01T00:00:00Z/yesterday&head=2026-12-01T00:00:00Z/2026-12-01T01:00:00Z", "base must be"},
        {"g", "base=/&head=2026-12-01T00:00:00Z/2026-12-01T01:00:00Z", "base must be"},
        {"g", "base=2026-12-01T00:00:00Z/2026-12-01T01:00:00Z&head=2026-12-01T00:00:00Z/2026-12-01T01:00:00Z&period=PT1H",
         "not period"},
        {"g", "startTime=2026-12-01T00:00:00Z&endTime=2026-12-01T01:00:00Z", "not startTime"},
        {"g", "base=2026-12-01T00:00:00Z/2026-12-01T01:00:00Z&head=2026-12-01T00:00:00Z/2026-12-01T01:00:00Z&counter=a;b",
         "counter must be"},
        {"bad%20group", "base=2026-12-01T00:00:00Z/2026-12-01T01:00:00Z&head=2026-12-01T00:00:00Z/2026-12-01T01:00:00Z",
         "profilingGroupName"},
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(refused); i++) {
        pg_slice rg = {refused[i].group, strlen(refused[i].group)};
        pg_slice rq = {refused[i].query, strlen(refused[i].query)};
        if (pg_diff_parse(rg, rq, &b, &h, &e) == PG_OK)
            fail_msg("accepted '%s'", refused[i].query);
        assert_int_equal(e.kind, PG_AE_VALIDATION);
        if (strstr(e.message, refused[i].msg) == NULL)
            fail_msg("'%s': message '%s' lacks '%s'", refused[i].query, e.message, refused[i].msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combinations), cmocka_unit_test(test_values), cmocka_unit_test(test_echo_is_safe),
        cmocka_unit_test(test_group),        cmocka_unit_test(test_accept),     cmocka_unit_test(test_view), cmocka_unit_test(test_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
