/*
 * iso8601.c: strict ISO 8601 timestamp and duration parsing. Every function reads only within
 * [s, s+len) (inputs are not NUL-terminated: they come straight from a decoded query string),
 * checks each field's range and every multiplication for overflow, and names the field that
 * was wrong, because that text ends up in the client's ValidationException message.
 */
#include "profgate/iso8601.h"

#include <stdio.h>
#include <string.h>

static int fail(char *why, size_t whylen, int rc, const char *msg)
{
    if (why != NULL && whylen > 0)
        snprintf(why, whylen, "%s", msg);
    return rc;
}

/* Reads exactly n digits at s[*i]. */
static bool digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return false;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    *out = v;
    return true;
}

static bool expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i < len && s[*i] == c) {
        (*i)++;
        return true;
    }
    return false;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Civil-date arithmetic in 400-year eras (146097 days each), so that the computation is exact
 * for every proleptic Gregorian date without tables or loops. March is treated as the first
 * month of the year so that the leap day falls at the end. */
int64_t pg_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                /* [0, 399] */
    int64_t mp = (m + 9) % 12;                                  /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;          /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;        /* [0, 146096] */
    return era * 146097 + doe - 719468;                         /* 719468: 0000-03-01 to 1970-01-01 */
}

void pg_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int pg_ts_parse(const char *s, size_t len, int64_t *out_ns, char *why, size_t whylen)
{
    size_t i = 0;
    int year, mon, day, hh, mm, ss;
    if (!digits(s, len, &i, 4, &year) || !expect(s, len, &i, '-') ||
        !digits(s, len, &i, 2, &mon) || !expect(s, len, &i, '-') ||
        !digits(s, len, &i, 2, &day))
        return fail(why, whylen, PG_EINVAL, "expected a date as YYYY-MM-DD");
    if (!(expect(s, len, &i, 'T') || expect(s, len, &i, 't')))
        return fail(why, whylen, PG_EINVAL, "expected 'T' between date and time");
    if (!digits(s, len, &i, 2, &hh) || !expect(s, len, &i, ':') ||
        !digits(s, len, &i, 2, &mm) || !expect(s, len, &i, ':') ||
        !digits(s, len, &i, 2, &ss))
        return fail(why, whylen, PG_EINVAL, "expected a time as hh:mm:ss");
    if (mon < 1 || mon > 12)
        return fail(why, whylen, PG_ERANGE, "month must be 01..12");
    if (day < 1 || (unsigned)day > days_in_month(year, (unsigned)mon))
        return fail(why, whylen, PG_ERANGE, "day is out of range for the month");
    if (hh > 23)
        return fail(why, whylen, PG_ERANGE, "hour must be 00..23");
    if (mm > 59)
        return fail(why, whylen, PG_ERANGE, "minute must be 00..59");
    if (ss > 59)
        return fail(why, whylen, PG_ERANGE, "second must be 00..59");

    int64_t frac = 0;
    if (expect(s, len, &i, '.') || expect(s, len, &i, ',')) {
        int n = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (++n > 9)
                return fail(why, whylen, PG_EINVAL, "at most 9 fraction digits are allowed");
            frac = frac * 10 + (s[i++] - '0');
        }
        if (n == 0)
            return fail(why, whylen, PG_EINVAL, "expected digits after the decimal point");
        for (; n < 9; n++)
            frac *= 10;
    }

    int64_t offset_s = 0;
    if (expect(s, len, &i, 'Z') || expect(s, len, &i, 'z')) {
        /* UTC */
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '-' ? -1 : 1;
        int oh, om = 0;
        if (!digits(s, len, &i, 2, &oh))
            return fail(why, whylen, PG_EINVAL, "expected a UTC offset as +hh:mm");
        if (i < len) {
            bool colon = expect(s, len, &i, ':');
            if (!digits(s, len, &i, 2, &om))
                return fail(why, whylen, PG_EINVAL, "expected a UTC offset as +hh:mm");
            (void)colon;
        }
        if (oh > 23 || om > 59)
            return fail(why, whylen, PG_ERANGE, "UTC offset is out of range");
        offset_s = sign * (oh * 3600 + om * 60);
    } else if (i >= len) {
        return fail(why, whylen, PG_EINVAL, "a time zone is required (Z or +hh:mm)");
    } else {
        return fail(why, whylen, PG_EINVAL, "unexpected character after the time");
    }
    if (i != len)
        return fail(why, whylen, PG_EINVAL, "unexpected trailing characters");

    int64_t days = pg_days_from_civil(year, (unsigned)mon, (unsigned)day);
    int64_t secs = days * 86400 + hh * 3600 + mm * 60 + ss - offset_s; /* |secs| < 2^39 */
    int64_t ns;
    if (__builtin_mul_overflow(secs, PG_NS_PER_S, &ns) || __builtin_add_overflow(ns, frac, &ns))
        return fail(why, whylen, PG_ERANGE, "timestamp is out of the supported range (1678..2261)");
    *out_ns = ns;
    return PG_OK;
}

size_t pg_ts_format(int64_t ns, char *out, size_t outlen)
{
    int64_t secs = ns / PG_NS_PER_S, frac = ns % PG_NS_PER_S;
    if (frac < 0) {
        frac += PG_NS_PER_S;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    pg_civil_from_days(days, &y, &m, &d);
    int n;
    if (frac == 0)
        n = snprintf(out, outlen, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
                     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    else if (frac % PG_NS_PER_MS == 0)
        n = snprintf(out, outlen, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
                     (int)(frac / PG_NS_PER_MS));
    else
        n = snprintf(out, outlen, "%04lld-%02u-%02uT%02d:%02d:%02d.%09dZ", (long long)y, m, d,
                     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)frac);
    return n < 0 ? 0 : (size_t)n;
}

/* Reads a run of digits as an integer; false on none or on more than 18 (cannot overflow). */
static bool number(const char *s, size_t len, size_t *i, int64_t *out)
{
    int64_t v = 0;
    int n = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (++n > 18)
            return false;
        v = v * 10 + (s[(*i)++] - '0');
    }
    *out = v;
    return n > 0;
}

/* One left-to-right pass over the grammar (P, weeks and days, T, hours, minutes, seconds with a
 * fraction); it stays one function because every part checks the order and overflow of the ones
 * before it, and splitting it would pass that state around for no gain in clarity. */
int pg_dur_parse(const char *s, size_t len, int64_t *out_ns, char *why, size_t whylen)
{
    size_t i = 0;
    if (len > 0 && (s[0] == '-' || s[0] == '+'))
        return fail(why, whylen, PG_EINVAL, "a signed duration is not allowed");
    if (!expect(s, len, &i, 'P'))
        return fail(why, whylen, PG_EINVAL, "a duration starts with 'P' (e.g. PT1H, P1D)");

    /* Designators in the order they must appear; each at most once. */
    static const struct {
        char unit;
        bool time_part;
        int64_t ns;
    } units[] = {
        {'W', false, 7 * 86400 * PG_NS_PER_S}, {'D', false, 86400 * PG_NS_PER_S},
        {'H', true, 3600 * PG_NS_PER_S},       {'M', true, 60 * PG_NS_PER_S},
        {'S', true, PG_NS_PER_S},
    };
    size_t next_unit = 0;
    bool in_time = false, any = false, any_time = false;
    int64_t total = 0;

    while (i < len) {
        if (s[i] == 'T') {
            if (in_time)
                return fail(why, whylen, PG_EINVAL, "'T' may appear only once in a duration");
            in_time = true;
            i++;
            if (next_unit < 2)
                next_unit = 2;
            continue;
        }
        int64_t v;
        if (!number(s, len, &i, &v))
            return fail(why, whylen, PG_EINVAL, "expected a number in the duration (at most 18 digits)");
        int64_t frac_ns = 0;
        bool has_frac = false;
        if (expect(s, len, &i, '.') || expect(s, len, &i, ',')) {
            int n = 0;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (++n > 9)
                    return fail(why, whylen, PG_EINVAL, "at most 9 fraction digits are allowed");
                frac_ns = frac_ns * 10 + (s[i++] - '0');
            }
            if (n == 0)
                return fail(why, whylen, PG_EINVAL, "expected digits after the decimal point");
            for (; n < 9; n++)
                frac_ns *= 10;
            has_frac = true;
        }
        if (i >= len)
            return fail(why, whylen, PG_EINVAL, "a number in the duration lacks its unit designator");
        char u = s[i++];
        if (u == 'Y')
            return fail(why, whylen, PG_EINVAL, "years are not supported in a duration (no fixed length)");
        if (u == 'M' && !in_time)
            return fail(why, whylen, PG_EINVAL, "months are not supported in a duration (no fixed length); use 'T' for minutes");
        size_t k = 0;
        while (k < PG_ARRAY_LEN(units) && units[k].unit != u)
            k++;
        if (k == PG_ARRAY_LEN(units))
            return fail(why, whylen, PG_EINVAL, "unknown designator in the duration (allowed: W, D, H, M, S)");
        if (units[k].time_part != in_time)
            return fail(why, whylen, PG_EINVAL, in_time ? "W and D must come before 'T'" : "H, M and S must follow 'T'");
        if (k < next_unit)
            return fail(why, whylen, PG_EINVAL, "duration designators are out of order or repeated");
        if (has_frac && u != 'S')
            return fail(why, whylen, PG_EINVAL, "only seconds may have a fraction");
        next_unit = k + 1;
        int64_t part;
        if (__builtin_mul_overflow(v, units[k].ns, &part) || __builtin_add_overflow(total, part, &total) ||
            __builtin_add_overflow(total, frac_ns, &total))
            return fail(why, whylen, PG_ERANGE, "duration is too long");
        any = true;
        if (in_time)
            any_time = true;
    }
    if (!any)
        return fail(why, whylen, PG_EINVAL, "a duration needs at least one component (e.g. PT5M)");
    if (in_time && !any_time)
        return fail(why, whylen, PG_EINVAL, "'T' must be followed by hours, minutes or seconds");
    *out_ns = total;
    return PG_OK;
}
