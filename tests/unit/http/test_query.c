/* Unit tests for query.c: target splitting, parameter splitting and percent-decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "profgate/query.h"

static pg_slice sl(const char *s)
{
    return (pg_slice){s, strlen(s)};
}

static void assert_slice(pg_slice s, const char *want)
{
    if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
        fail_msg("got '%.*s', want '%s'", (int)s.len, s.p, want);
}

static void test_target_split(void **state)
{
    (void)state;
    pg_slice path, q;
    const char *t = "/a/b?x=1&y=2#frag";
    pg_target_split(t, strlen(t), &path, &q);
    assert_slice(path, "/a/b");
    assert_slice(q, "x=1&y=2");
    t = "/only";
    pg_target_split(t, strlen(t), &path, &q);
    assert_slice(path, "/only");
    assert_int_equal(q.len, 0);
    t = "/p?";
    pg_target_split(t, strlen(t), &path, &q);
    assert_slice(path, "/p");
    assert_int_equal(q.len, 0);
    t = "/p#x?y";
    pg_target_split(t, strlen(t), &path, &q);
    assert_slice(path, "/p");
    assert_int_equal(q.len, 0);
}

static void test_query_split(void **state)
{
    (void)state;
    pg_qparam p[4];
    assert_int_equal(pg_query_split(sl("a=1&&b=&c&=d"), p, 4), 4);
    assert_slice(p[0].key, "a");
    assert_slice(p[0].val, "1");
    assert_slice(p[1].key, "b");
    assert_slice(p[1].val, "");
    assert_true(p[1].has_eq);
    assert_slice(p[2].key, "c");
    assert_false(p[2].has_eq);
    assert_slice(p[3].key, "");
    assert_slice(p[3].val, "d");
    assert_int_equal(pg_query_split(sl("a=1&b=2&c=3&d=4&e=5"), p, 4), PG_ELIMIT);
    assert_int_equal(pg_query_split(sl(""), p, 4), 0);
    assert_int_equal(pg_query_split(sl("&&&"), p, 4), 0);
    assert_int_equal(pg_query_split(sl("a=b=c"), p, 4), 1);
    assert_slice(p[0].val, "b=c");
}

static void test_pct_decode(void **state)
{
    (void)state;
    char out[64];
    size_t n;
    assert_int_equal(pg_pct_decode(sl("2020-06-01T13%3A00%3a00Z"), out, &n), PG_OK);
    assert_int_equal(n, 20);
    assert_memory_equal(out, "2020-06-01T13:00:00Z", 20);
    assert_int_equal(pg_pct_decode(sl("a+b%2Bc%20d"), out, &n), PG_OK);
    assert_memory_equal(out, "a+b+c d", n);
    assert_int_equal(pg_pct_decode(sl("%E2%82%AC"), out, &n), PG_OK);
    assert_int_equal(n, 3);
    assert_int_equal(pg_pct_decode(sl("%"), out, &n), PG_EINVAL);
    assert_int_equal(pg_pct_decode(sl("ab%2"), out, &n), PG_EINVAL);
    assert_int_equal(pg_pct_decode(sl("%zz"), out, &n), PG_EINVAL);
    assert_int_equal(pg_pct_decode(sl("a%00b"), out, &n), PG_EINVAL);
}

static void test_target_redact(void **state)
{
    (void)state;
    char out[512];
    const char *t = "/profilingGroups/g/profile?period=PT1H&X-Amz-Signature=abc123&x-amz-credential=AKID%2Fx&"
                    "X-Amz-Date=20261125T000000Z&maxDepth=3&X-Amz-";
    pg_target_redact(t, strlen(t), out, sizeof out);
    assert_string_equal(out, "/profilingGroups/g/profile?period=PT1H&X-Amz-Signature=REDACTED&"
                             "x-amz-credential=REDACTED&X-Amz-Date=REDACTED&maxDepth=3&X-Amz-");
    /* No query, and a name that only looks similar. */
    pg_target_redact("/healthz", 8, out, sizeof out);
    assert_string_equal(out, "/healthz");
    pg_target_redact("/p?X-Amzn-Trace=1&a=b", 21, out, sizeof out);
    assert_string_equal(out, "/p?X-Amzn-Trace=1&a=b");
    /* Long and hostile input stays bounded and printable. */
    char big[3000];
    memset(big, 'a', sizeof big);
    memcpy(big, "/?", 2);
    for (size_t i = 2; i + 10 < sizeof big; i += 10)
        memcpy(big + i, "&X-Amz-a=\n", 10);
    pg_target_redact(big, sizeof big, out, sizeof out);
    assert_true(strlen(out) < sizeof out);
    assert_null(strchr(out, '\n'));
}

static void test_query_param(void **state)
{
    (void)state;
    char out[2048], q[3000];
    bool bad;
    pg_slice s = {"a=1&b=x%2By&b=2", 15};
    assert_true(pg_query_param(s, "b", out, sizeof out, &bad));
    assert_false(bad);
    assert_string_equal(out, "x+y"); /* the first one, decoded */
    assert_false(pg_query_param(s, "c", out, sizeof out, &bad));
    s = (pg_slice){"a=%ZZ", 5};
    assert_true(pg_query_param(s, "a", out, sizeof out, &bad));
    assert_true(bad);
    /* Long values (a web identity token in an STS form body) decode when out holds them. */
    int n = snprintf(q, sizeof q, "Action=X&WebIdentityToken=");
    memset(q + n, 'j', 1500);
    q[n + 1500] = '\0';
    s = (pg_slice){q, strlen(q)};
    assert_true(pg_query_param(s, "WebIdentityToken", out, sizeof out, &bad));
    assert_false(bad);
    assert_int_equal(strlen(out), 1500);
    char small[100];
    assert_true(pg_query_param(s, "WebIdentityToken", small, sizeof small, &bad));
    assert_true(bad); /* does not fit: refused, never cut */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_split),
        cmocka_unit_test(test_query_split),
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_target_redact),
        cmocka_unit_test(test_query_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
