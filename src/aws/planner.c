/*
 * planner.c: bucket planning (CONTRACT §7). Greedy, earliest first: at each position
 * take the largest aligned aggregate that fits, is retained upstream and is complete; a position
 * that no complete aggregate covers is a live 5-minute bucket. Where 5-minute data has expired,
 * the containing hour (then day) is used instead. Because retention depends only on a bucket's
 * age, expired positions can only lead the range, so fallbacks never overlap earlier buckets
 * (asserted below).
 */
#include "profgate/planner.h"
#include "profgate/iso8601.h"

#include <string.h>

void pg_planner_cfg_default(pg_planner_cfg *cfg)
{
    cfg->settle_s = 600;
    cfg->retention_s[PG_P5M] = 15 * 86400;
    cfg->retention_s[PG_P1H] = 60 * 86400;
    cfg->retention_s[PG_P1D] = 3 * 365 * 86400;
    cfg->archive = false;
}

int64_t pg_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t pg_ceil_div(int64_t a, int64_t b)
{
    return -pg_floor_div(-a, b);
}

int pg_range_resolve(const pg_getprofile_req *r, int64_t now_ns, int64_t *start_ns, int64_t *end_ns,
                     pg_apierr *err)
{
    int64_t s, e;
    bool ovf = false;
    if (r->has_start && r->has_end) {
        s = r->start_ns;
        e = r->end_ns;
    } else if (r->has_start && r->has_period) {
        s = r->start_ns;
        ovf = __builtin_add_overflow(s, r->period_ns, &e);
    } else if (r->has_end && r->has_period) {
        e = r->end_ns;
        ovf = __builtin_sub_overflow(e, r->period_ns, &s);
    } else {
        PG_ASSERT(r->has_period && !r->has_start && !r->has_end);
        e = now_ns;
        ovf = __builtin_sub_overflow(e, r->period_ns, &s);
    }
    if (ovf) {
        pg_apierr_set(err, PG_AE_VALIDATION, "The time range is out of the supported range");
        return PG_EINVAL;
    }
    if (e <= s) {
        pg_apierr_set(err, PG_AE_VALIDATION, "endTime must be after startTime");
        return PG_EINVAL;
    }
    int64_t span;
    /* A span that does not even fit in int64 (centuries) is certainly longer than 7 days. */
    if (__builtin_sub_overflow(e, s, &span) || span > (int64_t)PG_RANGE_MAX_S * PG_NS_PER_S) {
        pg_apierr_set(err, PG_AE_VALIDATION,
                      "The time range must not be longer than 7 days (requested %.3f days)",
                      ((double)e - (double)s) / (86400.0 * PG_NS_PER_S));
        return PG_EINVAL;
    }
    /* No aggregate has begun in a range that starts at or after now: there is no profile to
     * return "from the earliest available" (CONTRACT §7), not an empty one dated in the future. */
    if (s >= now_ns) {
        char ts[PG_TS_FMT_MAX], tn[PG_TS_FMT_MAX];
        pg_ts_format(s, ts, sizeof ts);
        pg_ts_format(pg_floor_div(now_ns, PG_NS_PER_S) * PG_NS_PER_S, tn, sizeof tn); /* to the second */
        pg_apierr_set(err, PG_AE_NOT_FOUND,
                      "No aggregated profile exists for the requested time range: it starts at %s, after now (%s)",
                      ts, tn);
        return PG_ENOTFOUND;
    }
    *start_ns = s;
    *end_ns = e;
    return PG_OK;
}

static bool retained(const pg_planner_cfg *cfg, pg_period p, int64_t start_s, int64_t now_ns)
{
    if (cfg->archive)
        return true;
    /* The bucket's start is no older than the period's retention. */
    return pg_floor_div(now_ns, PG_NS_PER_S) - start_s <= cfg->retention_s[p];
}

bool pg_bucket_complete(const pg_planner_cfg *cfg, pg_period p, int64_t start_s, int64_t now_ns)
{
    int64_t ready_s = start_s + pg_period_seconds(p) + cfg->settle_s;
    return now_ns >= ready_s * PG_NS_PER_S;
}

static void push(pg_plan *pl, pg_period p, int64_t start_s, bool complete)
{
    PG_ASSERT(pl->n < PG_PLAN_MAX);
    PG_ASSERT(start_s % pg_period_seconds(p) == 0);
    if (pl->n > 0) {
        const pg_bucket *prev = &pl->b[pl->n - 1];
        PG_ASSERT(prev->start_s + pg_period_seconds(prev->period) <= start_s);
    }
    pl->b[pl->n++] = (pg_bucket){.period = p, .start_s = start_s, .complete = complete};
}

void pg_plan_build(const pg_planner_cfg *cfg, int64_t start_ns, int64_t end_ns, int64_t now_ns,
                   pg_plan *out)
{
    PG_ASSERT(end_ns > start_ns);
    memset(out, 0, sizeof *out);
    if (end_ns > now_ns) {
        end_ns = now_ns;
        out->clamped = true;
    }
    out->req_start_ns = start_ns;
    out->req_end_ns = end_ns;

    const int64_t g = pg_period_seconds(PG_P5M);
    int64_t s5 = pg_floor_div(pg_floor_div(start_ns, PG_NS_PER_S), g) * g;
    if (end_ns <= start_ns) {
        /* Entirely in the future: nothing to cover yet. */
        out->req_end_ns = start_ns;
        out->start_s = out->end_s = s5;
        return;
    }
    int64_t e5 = pg_ceil_div(end_ns, g * PG_NS_PER_S) * g;

    int64_t t = s5;
    while (t < e5) {
        bool taken = false;
        for (int p = PG_P1D; p >= PG_P5M && !taken; p--) {
            int64_t len = pg_period_seconds((pg_period)p);
            if (pg_floor_div(t, len) * len != t)
                continue;
            if (t + len > e5 || !retained(cfg, (pg_period)p, t, now_ns) ||
                !pg_bucket_complete(cfg, (pg_period)p, t, now_ns))
                continue;
            push(out, (pg_period)p, t, true);
            t += len;
            taken = true;
        }
        if (taken)
            continue;
        if (retained(cfg, PG_P5M, t, now_ns)) {
            /* Retained but not complete: the live edge. */
            push(out, PG_P5M, t, false);
            t += g;
            continue;
        }
        /* 5-minute data expired here: the containing hour, else the containing day. */
        int64_t h = pg_floor_div(t, 3600) * 3600;
        if (retained(cfg, PG_P1H, h, now_ns)) {
            push(out, PG_P1H, h, pg_bucket_complete(cfg, PG_P1H, h, now_ns));
            t = h + 3600;
            continue;
        }
        int64_t d = pg_floor_div(t, 86400) * 86400;
        if (retained(cfg, PG_P1D, d, now_ns)) {
            push(out, PG_P1D, d, pg_bucket_complete(cfg, PG_P1D, d, now_ns));
        } else {
            out->expired_part = true; /* nothing upstream holds this day any more */
        }
        t = d + 86400;
    }

    if (out->n == 0) {
        out->start_s = out->end_s = e5;
        return;
    }
    const pg_bucket *last = &out->b[out->n - 1];
    out->start_s = out->b[0].start_s;
    out->end_s = last->start_s + pg_period_seconds(last->period);
    out->extended = out->start_s < s5 || out->end_s > e5;
}
