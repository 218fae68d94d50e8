/* Unit tests for planner.c: range resolution, tiling of aligned and unaligned ranges, day and
 * hour boundaries, the 15-day / 60-day / 3-year retention edges, live tails, clamping, and a
 * property test over random ranges that the plan always tiles its covered range exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "profgate/iso8601.h"
#include "profgate/planner.h"

#define MIN 60
#define HOUR 3600
#define DAY 86400
#define NS(s) ((int64_t)(s) * PG_NS_PER_S)

static int64_t T(const char *s)
{
    int64_t v;
    if (pg_ts_parse(s, strlen(s), &v, NULL, 0) != PG_OK)
        fail_msg("bad timestamp in test: %s", s);
    return v;
}

static int64_t TS(const char *s)
{
    return T(s) / PG_NS_PER_S;
}

static pg_planner_cfg cfg(void)
{
    pg_planner_cfg c;
    pg_planner_cfg_default(&c);
    return c;
}

/* Renders a plan compactly ("PT1H@10:00 ...") so failures show both sides. */
static void render(const pg_plan *p, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < p->n && o < outlen; i++) {
        char ts[PG_TS_FMT_MAX];
        pg_ts_format(NS(p->b[i].start_s), ts, sizeof ts);
        o += (size_t)snprintf(out + o, outlen - o, "%s%s@%s%s", i ? " " : "", pg_period_name(p->b[i].period), ts,
                              p->b[i].complete ? "" : "(live)");
    }
}

static void expect_plan(const pg_plan *p, const char *want)
{
    char got[8192];
    render(p, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("plan\n  got:  %s\n  want: %s", got, want);
}

static void plan(const pg_planner_cfg *c, const char *s, const char *e, const char *now, pg_plan *out)
{
    pg_plan_build(c, T(s), T(e), T(now), out);
}

static void test_resolve(void **state)
{
    (void)state;
    pg_getprofile_req r = {0};
    pg_apierr err;
    int64_t s, e, now = T("2026-11-25T12:00:00Z");
    r.has_period = true;
    r.period_ns = NS(HOUR);
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_OK);
    assert_int_equal(s, now - NS(HOUR));
    assert_int_equal(e, now);
    r.has_start = true;
    r.start_ns = T("2026-11-20T00:00:00Z");
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_OK);
    assert_int_equal(e, T("2026-11-20T01:00:00Z"));
    r.has_start = false;
    r.has_end = true;
    r.end_ns = T("2026-11-20T00:00:00Z");
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_OK);
    assert_int_equal(s, T("2026-11-19T23:00:00Z"));
    r.has_period = false;
    r.has_start = true;
    r.start_ns = T("2026-11-20T00:00:00Z");
    r.end_ns = r.start_ns;
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_EINVAL);
    assert_string_equal(err.message, "endTime must be after startTime");
    r.end_ns = r.start_ns - 1;
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_EINVAL);
    r.end_ns = r.start_ns + NS(7 * DAY);
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_OK);
    r.end_ns++;
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_EINVAL);
    assert_non_null(strstr(err.message, "must not be longer than 7 days"));
    /* A range starting at or after now has no profile yet: not found, not an empty profile. An
     * over-long one is still invalid first. */
    r.start_ns = now;
    r.end_ns = now + NS(HOUR);
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_ENOTFOUND);
    assert_int_equal(err.kind, PG_AE_NOT_FOUND);
    assert_string_equal(err.message, "No aggregated profile exists for the requested time range: it starts at "
                                     "2026-11-25T12:00:00Z, after now (2026-11-25T12:00:00Z)");
    r.end_ns = now + NS(8 * DAY);
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_EINVAL);
    r.start_ns = now - 1;
    r.end_ns = now + NS(HOUR);
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_OK); /* begun: the part up to now */
    memset(&r, 0, sizeof r);
    r.has_period = true;
    r.period_ns = NS(8 * DAY);
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_EINVAL);
    /* A span of centuries does not fit in int64 nanoseconds: still just "longer than 7 days". */
    memset(&r, 0, sizeof r);
    r.has_start = r.has_end = true;
    r.start_ns = T("1700-01-01T00:00:00Z");
    r.end_ns = T("2026-01-01T00:00:00Z");
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_EINVAL);
    assert_non_null(strstr(err.message, "must not be longer than 7 days"));
    memset(&r, 0, sizeof r);
    r.has_period = true;
    /* Overflow of start + period is a validation error, not undefined behaviour. */
    r.has_start = true;
    r.start_ns = INT64_MAX - 5;
    r.period_ns = NS(HOUR);
    assert_int_equal(pg_range_resolve(&r, now, &s, &e, &err), PG_EINVAL);
}

static void test_aligned(void **state)
{
    (void)state;
    pg_planner_cfg c = cfg();
    pg_plan p;
    const char *now = "2026-11-25T12:00:00Z";
    plan(&c, "2026-11-24T10:00:00Z", "2026-11-24T11:00:00Z", now, &p);
    expect_plan(&p, "PT1H@2026-11-24T10:00:00Z");
    assert_false(p.extended || p.clamped || p.expired_part);
    plan(&c, "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z", now, &p);
    expect_plan(&p, "P1D@2026-11-20T00:00:00Z");
    plan(&c, "2026-11-24T10:05:00Z", "2026-11-24T10:10:00Z", now, &p);
    expect_plan(&p, "PT5M@2026-11-24T10:05:00Z");
    plan(&c, "2026-11-10T00:00:00Z", "2026-11-17T00:00:00Z", now, &p);
    assert_int_equal(p.n, 7);
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(p.b[i].period, PG_P1D);
}

static void test_unaligned(void **state)
{
    (void)state;
    pg_planner_cfg c = cfg();
    pg_plan p;
    plan(&c, "2026-11-24T10:03:00Z", "2026-11-24T12:07:00Z", "2026-11-25T12:00:00Z", &p);
    expect_plan(&p, "PT1H@2026-11-24T10:00:00Z PT1H@2026-11-24T11:00:00Z PT5M@2026-11-24T12:00:00Z "
                    "PT5M@2026-11-24T12:05:00Z");
    assert_int_equal(p.start_s, TS("2026-11-24T10:00:00Z"));
    assert_int_equal(p.end_s, TS("2026-11-24T12:10:00Z"));
    assert_false(p.extended); /* 5-minute rounding is not "extended" */
    plan(&c, "2026-11-24T10:50:00.5Z", "2026-11-24T11:10:00.000000001Z", "2026-11-25T12:00:00Z", &p);
    expect_plan(&p, "PT5M@2026-11-24T10:50:00Z PT5M@2026-11-24T10:55:00Z PT5M@2026-11-24T11:00:00Z "
                    "PT5M@2026-11-24T11:05:00Z PT5M@2026-11-24T11:10:00Z");
}

static void test_day_boundary(void **state)
{
    (void)state;
    pg_planner_cfg c = cfg();
    pg_plan p;
    plan(&c, "2026-11-20T23:50:00Z", "2026-11-21T00:10:00Z", "2026-11-25T12:00:00Z", &p);
    expect_plan(&p, "PT5M@2026-11-20T23:50:00Z PT5M@2026-11-20T23:55:00Z PT5M@2026-11-21T00:00:00Z "
                    "PT5M@2026-11-21T00:05:00Z");
    plan(&c, "2026-11-20T22:00:00Z", "2026-11-22T02:00:00Z", "2026-11-25T12:00:00Z", &p);
    expect_plan(&p, "PT1H@2026-11-20T22:00:00Z PT1H@2026-11-20T23:00:00Z P1D@2026-11-21T00:00:00Z "
                    "PT1H@2026-11-22T00:00:00Z PT1H@2026-11-22T01:00:00Z");
    /* Offsets are resolved to UTC before aligning: local midnight is not a day boundary. */
    plan(&c, "2026-11-21T00:00:00+01:00", "2026-11-22T00:00:00+01:00", "2026-11-25T12:00:00Z", &p);
    assert_int_equal(p.b[0].period, PG_P1H);
    assert_int_equal(p.b[0].start_s, TS("2026-11-20T23:00:00Z"));
    assert_int_equal(p.n, 24);
}

static void test_live_tail(void **state)
{
    (void)state;
    pg_planner_cfg c = cfg();
    pg_plan p;
    /* now 12:07:30; settle 10 min: 11:50 is complete at 12:05, 11:55 at 12:10 (live). */
    plan(&c, "2026-11-25T11:00:00Z", "2026-11-25T12:07:30Z", "2026-11-25T12:07:30Z", &p);
    expect_plan(&p, "PT5M@2026-11-25T11:00:00Z PT5M@2026-11-25T11:05:00Z PT5M@2026-11-25T11:10:00Z "
                    "PT5M@2026-11-25T11:15:00Z PT5M@2026-11-25T11:20:00Z PT5M@2026-11-25T11:25:00Z "
                    "PT5M@2026-11-25T11:30:00Z PT5M@2026-11-25T11:35:00Z PT5M@2026-11-25T11:40:00Z "
                    "PT5M@2026-11-25T11:45:00Z PT5M@2026-11-25T11:50:00Z PT5M@2026-11-25T11:55:00Z(live) "
                    "PT5M@2026-11-25T12:00:00Z(live) PT5M@2026-11-25T12:05:00Z(live)");
    assert_int_equal(p.end_s, TS("2026-11-25T12:10:00Z"));
    /* The hour becomes one complete bucket once it has settled. */
    plan(&c, "2026-11-25T11:00:00Z", "2026-11-25T12:00:00Z", "2026-11-25T12:10:00Z", &p);
    expect_plan(&p, "PT1H@2026-11-25T11:00:00Z");
    plan(&c, "2026-11-25T11:00:00Z", "2026-11-25T12:00:00Z", "2026-11-25T12:09:59.999Z", &p);
    assert_int_equal(p.n, 12);
    assert_false(p.b[11].complete);
    assert_true(p.b[10].complete);
    /* A live day splits into complete hours, complete 5-minute buckets and a live tail; no coarse
     * bucket is ever live. */
    plan(&c, "2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z", "2026-11-25T12:34:00Z", &p);
    assert_true(p.clamped);
    for (size_t i = 0; i < p.n; i++)
        if (!p.b[i].complete)
            assert_int_equal(p.b[i].period, PG_P5M);
    assert_int_equal(p.b[0].period, PG_P1H);
    assert_int_equal(p.end_s, TS("2026-11-25T12:35:00Z"));
    assert_int_equal(p.req_end_ns, T("2026-11-25T12:34:00Z"));
}

static void test_settle_config(void **state)
{
    (void)state;
    pg_planner_cfg c = cfg();
    c.settle_s = 0;
    pg_plan p;
    plan(&c, "2026-11-25T11:00:00Z", "2026-11-25T12:00:00Z", "2026-11-25T12:00:00Z", &p);
    expect_plan(&p, "PT1H@2026-11-25T11:00:00Z");
    assert_true(pg_bucket_complete(&c, PG_P5M, TS("2026-11-25T11:55:00Z"), T("2026-11-25T12:00:00Z")));
    assert_false(pg_bucket_complete(&c, PG_P5M, TS("2026-11-25T11:55:00Z"), T("2026-11-25T12:00:00Z") - 1));
}

static void test_future(void **state)
{
    (void)state;
    pg_planner_cfg c = cfg();
    pg_plan p;
    plan(&c, "2026-11-26T00:00:00Z", "2026-11-26T01:00:00Z", "2026-11-25T12:00:00Z", &p);
    assert_int_equal(p.n, 0);
    assert_true(p.clamped);
    assert_int_equal(p.start_s, p.end_s);
    /* now exactly on a boundary: the bucket starting at now is not part of the range. */
    plan(&c, "2026-11-25T11:50:00Z", "2026-11-25T13:00:00Z", "2026-11-25T12:00:00Z", &p);
    expect_plan(&p, "PT5M@2026-11-25T11:50:00Z(live) PT5M@2026-11-25T11:55:00Z(live)");
}

static void test_retention_15_days(void **state)
{
    (void)state;
    pg_planner_cfg c = cfg();
    pg_plan p;
    const char *now = "2026-11-25T12:00:00Z";
    /* 5-minute buckets exist back to 2026-11-10T12:00:00Z. Starting at 11:35 the day before
     * that, the first 5-minute bucket has expired, so its containing hour is used. */
    plan(&c, "2026-11-10T11:35:00Z", "2026-11-10T12:10:00Z", now, &p);
    expect_plan(&p, "PT1H@2026-11-10T11:00:00Z PT5M@2026-11-10T12:00:00Z PT5M@2026-11-10T12:05:00Z");
    assert_true(p.extended);
    assert_int_equal(p.start_s, TS("2026-11-10T11:00:00Z"));
    /* Exactly at the edge, the 5-minute bucket is still retained. */
    plan(&c, "2026-11-10T12:00:00Z", "2026-11-10T12:05:00Z", now, &p);
    expect_plan(&p, "PT5M@2026-11-10T12:00:00Z");
    assert_false(p.extended);
    /* An expired 5-minute range shorter than an hour grows to the hour on both sides. */
    plan(&c, "2026-11-09T11:35:00Z", "2026-11-09T11:40:00Z", now, &p);
    expect_plan(&p, "PT1H@2026-11-09T11:00:00Z");
    assert_int_equal(p.end_s, TS("2026-11-09T12:00:00Z"));
    assert_true(p.extended);
}

static void test_retention_60_days_and_3_years(void **state)
{
    (void)state;
    pg_planner_cfg c = cfg();
    pg_plan p;
    const char *now = "2026-11-25T12:00:00Z";
    /* Hours exist back to 2026-09-26T12:00:00Z; before, only days. */
    plan(&c, "2026-09-26T10:20:00Z", "2026-09-26T13:00:00Z", now, &p);
    expect_plan(&p, "P1D@2026-09-26T00:00:00Z");
    assert_true(p.extended);
    plan(&c, "2026-09-25T22:00:00Z", "2026-09-27T00:00:00Z", now, &p);
    expect_plan(&p, "P1D@2026-09-25T00:00:00Z P1D@2026-09-26T00:00:00Z");
    /* Days are kept 3 years (1095 days): anything starting before 2023-11-26T12:00:00Z is gone,
     * so the day starting at 2023-11-26T00:00:00Z is gone too and 2023-11-27 is the first. */
    plan(&c, "2023-11-25T00:00:00Z", "2023-11-28T00:00:00Z", now, &p);
    expect_plan(&p, "P1D@2023-11-27T00:00:00Z");
    assert_true(p.expired_part);
    plan(&c, "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z", now, &p);
    assert_int_equal(p.n, 0);
    assert_true(p.expired_part);
    /* Archive mode plans finest buckets for any age. */
    c.archive = true;
    plan(&c, "2020-01-01T10:05:00Z", "2020-01-01T10:10:00Z", now, &p);
    expect_plan(&p, "PT5M@2020-01-01T10:05:00Z");
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_property_tiling(void **state)
{
    (void)state;
    int64_t base_now = T("2026-11-25T12:34:56.789Z");
    for (int iter = 0; iter < 200000; iter++) {
        pg_planner_cfg c = cfg();
        c.settle_s = (int64_t)(next() % 3) * 300;
        c.archive = next() % 10 == 0;
        int64_t now = base_now + (int64_t)(next() % (86400ULL * 1000)) * PG_NS_PER_MS;
        /* Starts from 4 years ago to 1 day in the future, lengths up to 7 days, at any ns. */
        int64_t start = now - (int64_t)(next() % (1500ULL * 86400 * PG_NS_PER_S)) + NS(DAY);
        int64_t len = 1 + (int64_t)(next() % (uint64_t)NS(7 * DAY));
        if (next() % 4 == 0) { /* also exercise aligned ranges often */
            int64_t g = (int64_t[]){300, 3600, 86400}[next() % 3];
            start = pg_floor_div(start, NS(g)) * NS(g);
            len = pg_ceil_div(len, NS(g)) * NS(g);
            if (len > NS(7 * DAY))
                len = NS(7 * DAY);
        }
        pg_plan p;
        pg_plan_build(&c, start, start + len, now, &p);
        int64_t end = start + len < now ? start + len : now;
        int64_t s5 = pg_floor_div(pg_floor_div(start, PG_NS_PER_S), 300) * 300;
        int64_t e5 = pg_ceil_div(end, NS(300)) * 300;
        int64_t now_s = pg_floor_div(now, PG_NS_PER_S);
        if (end <= start) {
            assert_int_equal(p.n, 0);
            continue;
        }
        int64_t t = p.n ? p.b[0].start_s : p.start_s;
        for (size_t i = 0; i < p.n; i++) {
            const pg_bucket *b = &p.b[i];
            int64_t plen = pg_period_seconds(b->period);
            if (b->start_s % plen != 0)
                fail_msg("iter %d: bucket %zu not aligned", iter, i);
            if (b->start_s != t)
                fail_msg("iter %d: bucket %zu starts at %lld, expected %lld (gap or overlap)", iter, i,
                         (long long)b->start_s, (long long)t);
            t += plen;
            assert_int_equal(b->complete, pg_bucket_complete(&c, b->period, b->start_s, now));
            if (!b->complete)
                assert_int_equal(b->period, PG_P5M);
            if (!c.archive)
                assert_true(now_s - b->start_s <= c.retention_s[b->period]);
            if (NS(b->start_s) >= now)
                fail_msg("iter %d: bucket starts in the future", iter);
        }
        assert_int_equal(t, p.end_s);
        if (p.n > 0 && !p.expired_part) {
            /* The covered range includes the request rounded outward. */
            assert_true(p.start_s <= s5);
            assert_true(p.end_s >= e5);
            assert_int_equal(p.extended, p.start_s < s5 || p.end_s > e5);
        }
        if (p.n > 0 && p.expired_part)
            assert_true(p.end_s >= e5);
        if (c.archive)
            assert_true(p.start_s == s5 && p.end_s == e5);
        assert_true(p.n <= PG_PLAN_MAX);
    }
}

static void test_period_table(void **state)
{
    (void)state;
    assert_string_equal(pg_period_name(PG_P5M), "PT5M");
    assert_string_equal(pg_period_name(PG_P1H), "PT1H");
    assert_string_equal(pg_period_name(PG_P1D), "P1D");
    assert_int_equal(pg_floor_div(-1, 300), -1);
    assert_int_equal(pg_ceil_div(1, 300), 1);
    assert_int_equal(pg_ceil_div(-1, 300), 0);
    assert_int_equal(pg_floor_div(600, 300), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),          cmocka_unit_test(test_aligned),
        cmocka_unit_test(test_unaligned),        cmocka_unit_test(test_day_boundary),
        cmocka_unit_test(test_live_tail),        cmocka_unit_test(test_settle_config),
        cmocka_unit_test(test_future),           cmocka_unit_test(test_retention_15_days),
        cmocka_unit_test(test_retention_60_days_and_3_years), cmocka_unit_test(test_property_tiling),
        cmocka_unit_test(test_period_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
