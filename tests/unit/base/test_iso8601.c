/* Unit tests for iso8601.c: timestamps and durations, valid forms, every rejection path,
 * overflow, and a round trip of the civil-date arithmetic over a wide span. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "profgate/iso8601.h"

static int64_t ts(const char *s)
{
    int64_t v = 0;
    char why[128] = "";
    int rc = pg_ts_parse(s, strlen(s), &v, why, sizeof why);
    if (rc != PG_OK)
        fail_msg("'%s' rejected: %s", s, why);
    return v;
}

static int ts_rc(const char *s)
{
    int64_t v;
    return pg_ts_parse(s, strlen(s), &v, NULL, 0);
}

static int64_t dur(const char *s)
{
    int64_t v = 0;
    char why[128] = "";
    if (pg_dur_parse(s, strlen(s), &v, why, sizeof why) != PG_OK)
        fail_msg("'%s' rejected: %s", s, why);
    return v;
}

static int dur_rc(const char *s, char *why)
{
    int64_t v;
    return pg_dur_parse(s, strlen(s), &v, why, why ? 128 : 0);
}

#define S(x) ((int64_t)(x) * PG_NS_PER_S)

static void test_timestamps_valid(void **state)
{
    (void)state;
    assert_int_equal(ts("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(ts("2020-06-01T13:00:00Z"), S(1591016400));
    assert_int_equal(ts("2020-06-01t13:00:00z"), S(1591016400));
    assert_int_equal(ts("2020-06-01T15:00:00+02:00"), S(1591016400));
    assert_int_equal(ts("2020-06-01T15:00:00+0200"), S(1591016400));
    assert_int_equal(ts("2020-06-01T15:00:00+02"), S(1591016400));
    assert_int_equal(ts("2020-06-01T08:30:00-04:30"), S(1591016400));
    assert_int_equal(ts("2020-06-01T14:15:02.001000Z"), S(1591020902) + 1000000);
    assert_int_equal(ts("2020-06-01T14:15:02.5Z"), S(1591020902) + 500000000);
    assert_int_equal(ts("2020-06-01T14:15:02.123456789Z"), S(1591020902) + 123456789);
    assert_int_equal(ts("2020-06-01T14:15:02,5Z"), S(1591020902) + 500000000);
    assert_int_equal(ts("2024-02-29T00:00:00Z"), S(1709164800));
    assert_int_equal(ts("2000-02-29T00:00:00Z"), S(951782400));
    assert_int_equal(ts("1969-12-31T23:59:59Z"), S(-1));
    assert_int_equal(ts("2262-04-11T23:47:16Z"), S(9223372036LL));
}

static void test_timestamps_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "2020", "2020-06-01", "2020-06-01T13:00Z", "2020-06-01T13:00:00", "2020-06-01 13:00:00Z",
        "2020-6-01T13:00:00Z", "20200601T130000Z", "2020-06-01T13:00:00ZZ", "2020-06-01T13:00:00Z ",
        " 2020-06-01T13:00:00Z", "2020-06-01T13:00:00.Z", "2020-06-01T13:00:00.1234567890Z",
        "2020-06-01T13:00:00+2", "2020-06-01T13:00:00+02:0", "2020-06-01T13:00:00+02:00x",
        "2020-06-01T13:00:00UTC", "2020-06-01T13:00:00-", "abcd-ef-ghTij:kl:mnZ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ts_rc(bad[i]) != PG_EINVAL)
            fail_msg("'%s' should be malformed", bad[i]);
    const char *range[] = {
        "2020-13-01T00:00:00Z", "2020-00-01T00:00:00Z", "2021-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
        "2020-04-31T00:00:00Z", "2020-06-00T00:00:00Z", "2020-06-01T24:00:00Z", "2020-06-01T23:60:00Z",
        "2020-06-01T23:59:60Z", "2020-06-01T00:00:00+24:00", "2020-06-01T00:00:00+01:60",
        "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2262-04-11T23:47:17Z",
    };
    for (size_t i = 0; i < sizeof range / sizeof range[0]; i++)
        if (ts_rc(range[i]) != PG_ERANGE)
            fail_msg("'%s' should be out of range", range[i]);
}

static void test_timestamp_reason(void **state)
{
    (void)state;
    int64_t v;
    char why[128];
    assert_int_equal(pg_ts_parse("2020-06-01T13:00:00", 19, &v, why, sizeof why), PG_EINVAL);
    assert_string_equal(why, "a time zone is required (Z or +hh:mm)");
    assert_int_equal(pg_ts_parse("2020-02-30T13:00:00Z", 20, &v, why, sizeof why), PG_ERANGE);
    assert_string_equal(why, "day is out of range for the month");
}

static void test_timestamp_not_nul_terminated(void **state)
{
    (void)state;
    /* The parser must stop at len even when more digits follow in memory. */
    const char buf[] = "2020-06-01T13:00:00Z0000";
    int64_t v;
    assert_int_equal(pg_ts_parse(buf, 20, &v, NULL, 0), PG_OK);
    assert_int_equal(pg_ts_parse(buf, 19, &v, NULL, 0), PG_EINVAL);
}

static void test_format(void **state)
{
    (void)state;
    char out[PG_TS_FMT_MAX];
    pg_ts_format(S(1591016400), out, sizeof out);
    assert_string_equal(out, "2020-06-01T13:00:00Z");
    pg_ts_format(S(1591016400) + 1000000, out, sizeof out);
    assert_string_equal(out, "2020-06-01T13:00:00.001Z");
    pg_ts_format(S(1591016400) + 1, out, sizeof out);
    assert_string_equal(out, "2020-06-01T13:00:00.000000001Z");
    pg_ts_format(S(-1) - 500000000, out, sizeof out);
    assert_string_equal(out, "1969-12-31T23:59:58.500Z");
    pg_ts_format(INT64_MIN, out, sizeof out);
    assert_string_equal(out, "1677-09-21T00:12:43.145224192Z");
}

static void test_civil_roundtrip(void **state)
{
    (void)state;
    /* Every day across 1600..2400 maps to consecutive day numbers and back. */
    int64_t expect = pg_days_from_civil(1600, 1, 1);
    for (int64_t y = 1600; y < 2400; y++)
        for (unsigned m = 1; m <= 12; m++) {
            static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
            unsigned days = dim[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
            for (unsigned d = 1; d <= days; d++) {
                int64_t n = pg_days_from_civil(y, m, d);
                assert_int_equal(n, expect);
                int64_t y2;
                unsigned m2, d2;
                pg_civil_from_days(n, &y2, &m2, &d2);
                assert_int_equal(y2, y);
                assert_int_equal(m2, m);
                assert_int_equal(d2, d);
                expect++;
            }
        }
}

static void test_format_parse_roundtrip(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Uniform over about ±164 years; computed unsigned so the shift to signed cannot overflow. */
        int64_t ns = (int64_t)(x % (UINT64_C(9) << 60) - (UINT64_C(9) << 59));
        char out[PG_TS_FMT_MAX];
        size_t n = pg_ts_format(ns, out, sizeof out);
        int64_t back;
        assert_int_equal(pg_ts_parse(out, n, &back, NULL, 0), PG_OK);
        assert_int_equal(back, ns);
    }
}

static void test_durations_valid(void **state)
{
    (void)state;
    assert_int_equal(dur("PT5M"), S(300));
    assert_int_equal(dur("PT1H"), S(3600));
    assert_int_equal(dur("P1D"), S(86400));
    assert_int_equal(dur("P1W"), S(7 * 86400));
    assert_int_equal(dur("P1DT1H1M1S"), S(86400 + 3600 + 61));
    assert_int_equal(dur("PT90M"), S(5400));
    assert_int_equal(dur("PT0.5S"), 500000000);
    assert_int_equal(dur("PT1.000000001S"), S(1) + 1);
    assert_int_equal(dur("P1W2D"), S(9 * 86400));
    assert_int_equal(dur("PT0S"), 0);
    assert_int_equal(dur("P0D"), 0);
}

static void test_durations_invalid(void **state)
{
    (void)state;
    char why[128];
    assert_int_equal(dur_rc("P1Y", why), PG_EINVAL);
    assert_string_equal(why, "years are not supported in a duration (no fixed length)");
    assert_int_equal(dur_rc("P1M", why), PG_EINVAL);
    assert_non_null(strstr(why, "months are not supported"));
    assert_int_equal(dur_rc("P1Y2M", why), PG_EINVAL);
    const char *bad[] = {
        "", "P", "PT", "T1H", "1H", "PT1", "P1H", "PT1D", "PT1H1H", "PT1M1H", "P1D1W", "P1DT", "-PT1H",
        "+PT1H", "PT1.5H", "PT1.S", "PT.5S", "PT1.1234567890S", "pt1h", "PT1h", "PT1HX", "P1DTT1H",
        "PT1H ", " PT1H", "PT-1H", "P1X", "PT1234567890123456789S",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (dur_rc(bad[i], NULL) != PG_EINVAL)
            fail_msg("'%s' should be rejected", bad[i]);
    assert_int_equal(dur_rc("P999999999999999999W", why), PG_ERANGE);
    assert_string_equal(why, "duration is too long");
    assert_int_equal(dur_rc("PT9223372036S", NULL), PG_OK);
    assert_int_equal(dur_rc("PT9223372037S", NULL), PG_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamps_valid),     cmocka_unit_test(test_timestamps_invalid),
        cmocka_unit_test(test_timestamp_reason),     cmocka_unit_test(test_timestamp_not_nul_terminated),
        cmocka_unit_test(test_format),               cmocka_unit_test(test_civil_roundtrip),
        cmocka_unit_test(test_format_parse_roundtrip), cmocka_unit_test(test_durations_valid),
        cmocka_unit_test(test_durations_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
