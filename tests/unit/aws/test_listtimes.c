/* Unit tests for listtimes.c: the request's validation (as the service words it), the bounds of
 * what a range lists at a moment (alignment, retention, "begun"), tokens that round-trip and
 * refuse any other request or an altered byte, the window codec, and the service's JSON answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "profgate/iso8601.h"
#include "profgate/listtimes.h"

static pg_slice sl(const char *s)
{
    return (pg_slice){s, strlen(s)};
}

static int parse(const char *group, const char *query, pg_listtimes_req *r, pg_apierr *e)
{
    return pg_listtimes_parse(sl(group), sl(query), r, e);
}

static int64_t ts(const char *s)
{
    int64_t ns;
    assert_int_equal(pg_ts_parse(s, strlen(s), &ns, NULL, 0), PG_OK);
    return ns;
}

static void test_parse(void **state)
{
    (void)state;
    pg_listtimes_req r;
    pg_apierr e;
    assert_int_equal(parse("app", "period=PT1H&startTime=2026-11-01T00%3A00%3A00Z&endTime=2026-11-02T00:00:00Z", &r, &e),
                     PG_OK);
    assert_string_equal(r.group, "app");
    assert_int_equal(r.period, PG_P1H);
    assert_int_equal(r.max_results, PG_LT_DEFAULT_RESULTS);
    assert_true(r.descending);
    assert_false(r.has_token);
    assert_int_equal(parse("app", "period=P1D&startTime=2026-11-01T00:00:00Z&endTime=2026-11-02T00:00:00Z"
                                  "&orderBy=TimestampAscending&maxResults=1000&nextToken=ab_c-9", &r, &e), PG_OK);
    assert_false(r.descending);
    assert_int_equal(r.max_results, 1000);
    assert_string_equal(r.token, "ab_c-9");
    static const struct {
        const char *q, *msg;
    } bad[] = {
        {"period=PT1H&startTime=2026-11-01T00:00:00Z", "period, startTime and endTime are required"},
        {"period=PT2H&startTime=2026-11-01T00:00:00Z&endTime=2026-11-02T00:00:00Z", "Value at 'period'"},
        {"period=PT1H&startTime=yesterday&endTime=2026-11-02T00:00:00Z", "startTime must be"},
        {"period=PT1H&startTime=2026-11-02T00:00:00Z&endTime=2026-11-02T00:00:00Z", "endTime must be after"},
        {"period=PT1H&startTime=2026-11-01T00:00:00Z&endTime=2026-11-02T00:00:00Z&maxResults=0", "between 1 and 1000"},
        {"period=PT1H&startTime=2026-11-01T00:00:00Z&endTime=2026-11-02T00:00:00Z&maxResults=1001", "between 1 and 1000"},
        {"period=PT1H&startTime=2026-11-01T00:00:00Z&endTime=2026-11-02T00:00:00Z&maxResults=5x", "between 1 and 1000"},
        {"period=PT1H&startTime=2026-11-01T00:00:00Z&endTime=2026-11-02T00:00:00Z&orderBy=up", "enum value set"},
        {"period=PT1H&startTime=2026-11-01T00:00:00Z&endTime=2026-11-02T00:00:00Z&nextToken=a%2Fb", "nextToken"},
        {"period=PT1H&startTime=2026-11-01T00:00:00Z&endTime=2026-11-02T00:00:00Z&nextToken=", "nextToken"},
        {"period=PT1H&startTime=2026-11-01T00:00:00Z&endTime=2026-11-02T00:00:00Z&nextToken="
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "nextToken"}, /* 65 chars */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse("app", bad[i].q, &r, &e), PG_EINVAL);
        assert_int_equal(e.kind, PG_AE_VALIDATION);
        if (strstr(e.message, bad[i].msg) == NULL)
            fail_msg("%s: got '%s'", bad[i].q, e.message);
    }
    assert_int_equal(parse("a%2Fb", "period=PT1H&startTime=2026-11-01T00:00:00Z&endTime=2026-11-02T00:00:00Z", &r, &e),
                     PG_EINVAL);
    assert_int_equal(e.kind, PG_AE_VALIDATION);
}

static void test_bounds(void **state)
{
    (void)state;
    pg_listtimes_req r;
    pg_apierr e;
    int64_t lo, hi, now = ts("2026-11-20T10:07:30Z");
    /* Unaligned start rounds up; the end is exclusive; a period begun before now is listed. */
    assert_int_equal(parse("g", "period=PT5M&startTime=2026-11-20T09:01:00Z&endTime=2026-11-20T12:00:00Z", &r, &e), PG_OK);
    pg_listtimes_bounds(&r, now, 15 * 86400, &lo, &hi);
    assert_int_equal(lo * PG_NS_PER_S, ts("2026-11-20T09:05:00Z"));
    assert_int_equal(hi * PG_NS_PER_S, ts("2026-11-20T10:10:00Z")); /* 10:05 has begun, 10:10 has not */
    /* Retention: PT5M older than 15 days is gone. */
    assert_int_equal(parse("g", "period=PT5M&startTime=2026-10-01T00:00:00Z&endTime=2026-11-06T00:00:00Z", &r, &e), PG_OK);
    pg_listtimes_bounds(&r, now, 15 * 86400, &lo, &hi);
    assert_int_equal(lo * PG_NS_PER_S, ts("2026-11-05T10:10:00Z"));
    assert_int_equal(hi * PG_NS_PER_S, ts("2026-11-06T00:00:00Z"));
    /* Entirely in the future, or entirely expired: nothing. */
    assert_int_equal(parse("g", "period=PT1H&startTime=2026-12-01T00:00:00Z&endTime=2026-12-02T00:00:00Z", &r, &e), PG_OK);
    pg_listtimes_bounds(&r, now, 60 * 86400, &lo, &hi);
    assert_true(lo >= hi);
    assert_int_equal(parse("g", "period=PT5M&startTime=2026-01-01T00:00:00Z&endTime=2026-01-02T00:00:00Z", &r, &e), PG_OK);
    pg_listtimes_bounds(&r, now, 15 * 86400, &lo, &hi);
    assert_true(lo >= hi);
    assert_int_equal(pg_listtimes_window_s(PG_P5M) / 300, 288);
    assert_true(pg_listtimes_window_s(PG_P1H) / 3600 <= PG_LT_WINDOW_MAX);
    assert_true(pg_listtimes_window_s(PG_P1D) / 86400 <= PG_LT_WINDOW_MAX);
}

static void test_tokens(void **state)
{
    (void)state;
    unsigned char key[32] = {1, 2, 3};
    pg_listtimes_req r, other;
    pg_apierr e;
    assert_int_equal(parse("g", "period=PT5M&startTime=2026-11-20T09:00:00Z&endTime=2026-11-20T12:00:00Z", &r, &e), PG_OK);
    char tok[PG_LT_TOKEN_MAX + 1];
    int64_t t = ts("2026-11-20T10:05:00Z") / PG_NS_PER_S, got = 0;
    pg_listtimes_token(&r, t, key, tok);
    assert_true(strlen(tok) >= 1 && strlen(tok) <= PG_LT_TOKEN_MAX);
    assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), strlen(tok));
    strcpy(r.token, tok);
    assert_int_equal(pg_listtimes_token_check(&r, key, &got), PG_OK);
    assert_int_equal(got, t);
    /* maxResults may change between pages. */
    r.max_results = 7;
    assert_int_equal(pg_listtimes_token_check(&r, key, &got), PG_OK);
    /* Another request, another key, or one character changed: refused. */
    other = r;
    other.descending = false;
    assert_int_equal(pg_listtimes_token_check(&other, key, &got), PG_EINVAL);
    other = r;
    strcpy(other.group, "h");
    assert_int_equal(pg_listtimes_token_check(&other, key, &got), PG_EINVAL);
    unsigned char key2[32] = {9};
    assert_int_equal(pg_listtimes_token_check(&r, key2, &got), PG_EINVAL);
    for (size_t i = 0; i < strlen(tok); i++) {
        other = r;
        other.token[i] = other.token[i] == 'A' ? 'B' : 'A';
        assert_int_equal(pg_listtimes_token_check(&other, key, &got), PG_EINVAL);
    }
    other = r;
    strcpy(other.token, "n12");
    assert_int_equal(pg_listtimes_token_check(&other, key, &got), PG_EINVAL);
}

static void test_codec(void **state)
{
    (void)state;
    int64_t ws = ts("2026-11-20T00:00:00Z") / PG_NS_PER_S;
    int64_t in[3] = {ws, ws + 300 * 7, ws + 300 * 287}, out[300];
    pg_buf b;
    pg_buf_init(&b, 4096);
    assert_int_equal(pg_listtimes_encode(PG_P5M, ws, in, 3, &b), PG_OK);
    assert_int_equal(b.len, 4 + 6);
    size_t n = 0;
    assert_int_equal(pg_listtimes_decode(PG_P5M, ws, b.data, b.len, out, 300, &n), PG_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(in, out, sizeof in);
    /* An empty window is a value too ("no profiles here"). */
    pg_buf_reset(&b);
    assert_int_equal(pg_listtimes_encode(PG_P5M, ws, in, 0, &b), PG_OK);
    assert_int_equal(pg_listtimes_decode(PG_P5M, ws, b.data, b.len, out, 300, &n), PG_OK);
    assert_int_equal(n, 0);
    static const char *const bad[] = {"", "T", "X1\x00\x00", "T1\x00\x01", "T1\x00\x02\x00\x05\x00\x05",
                                      "T1\x00\x01\x01\x20" /* slot 288: past the window */};
    static const size_t badlen[] = {0, 1, 4, 4, 8, 6};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pg_listtimes_decode(PG_P5M, ws, bad[i], badlen[i], out, 300, &n), PG_EINVAL);
    pg_buf_free(&b);
}

static void test_body(void **state)
{
    (void)state;
    int64_t t[8];
    size_t n = 0;
    char tok[PG_LT_TOKEN_MAX + 1];
    const char *ok = "{\"profileTimes\":[{\"start\":\"2026-11-20T10:00:00Z\"},{\"start\":\"2026-11-20T10:05:00.000Z\","
                     "\"x\":{\"y\":[1,2]}}],\"nextToken\":\"n2\",\"other\":null}";
    assert_int_equal(pg_listtimes_body_parse(ok, strlen(ok), t, 8, &n, tok), PG_OK);
    assert_int_equal(n, 2);
    assert_int_equal(t[1] * PG_NS_PER_S, ts("2026-11-20T10:05:00Z"));
    assert_string_equal(tok, "n2");
    n = 0;
    const char *empty = "{\"profileTimes\":[]}";
    assert_int_equal(pg_listtimes_body_parse(empty, strlen(empty), t, 8, &n, tok), PG_OK);
    assert_int_equal(n, 0);
    assert_string_equal(tok, "");
    static const char *const bad[] = {"", "[]", "{}", "{\"profileTimes\":[{\"start\":\"soon\"}]}",
                                      "{\"profileTimes\":[", "{\"profileTimes\":[{\"start\":\"2026-11-20T10:00:00Z\"}]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 0;
        assert_int_equal(pg_listtimes_body_parse(bad[i], strlen(bad[i]), t, 8, &n, tok), PG_EINVAL);
    }
    /* More starts than room: refused, never written past the array. */
    n = 7;
    assert_int_equal(pg_listtimes_body_parse(ok, strlen(ok), t, 8, &n, tok), PG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse), cmocka_unit_test(test_bounds), cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_codec), cmocka_unit_test(test_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
