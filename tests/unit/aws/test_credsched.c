/* Unit tests for credsched.c with a fake clock: refresh ahead of expiry (five minutes, or half a
 * short lifetime), the margin after which credentials no longer sign, the failure back-off, that
 * a failed refresh keeps the held credentials, and long-lived keys that never refresh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "profgate/credsched.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1800000000) * S)

static void test_hour_long_credentials(void **state)
{
    (void)state;
    pg_credsched s;
    pg_credsched_init(&s);
    assert_false(pg_credsched_usable(&s, T0));
    pg_credsched_begin(&s);
    pg_credsched_success(&s, T0, T0 + 3600 * S);
    assert_int_equal(s.state, PG_CS_WAITING);
    assert_true(s.next_ns == T0 + 3300 * S);               /* five minutes ahead */
    assert_true(pg_credsched_usable(&s, T0 + 3539 * S));   /* a minute's margin */
    assert_false(pg_credsched_usable(&s, T0 + 3540 * S));
    /* The refresh fails: back-off 1, 2, 4 s ... capped at 60; the old ones keep signing. */
    pg_credsched_begin(&s);
    pg_credsched_failure(&s, T0 + 3300 * S);
    assert_true(s.next_ns == T0 + 3301 * S);
    assert_true(pg_credsched_usable(&s, T0 + 3301 * S));
    int64_t now = T0 + 3301 * S, expect[] = {2, 4, 8, 16, 32, 60, 60};
    for (int i = 0; i < 7; i++) {
        pg_credsched_begin(&s);
        pg_credsched_failure(&s, now);
        assert_true(s.next_ns - now == expect[i] * S);
        now = s.next_ns;
    }
    assert_int_equal(s.refresh_failures, 8);
    pg_credsched_begin(&s);
    pg_credsched_success(&s, now, now + 3600 * S);
    assert_int_equal(s.failures, 0);
    assert_true(pg_credsched_usable(&s, now));
}

static void test_short_lifetimes_scale(void **state)
{
    (void)state;
    pg_credsched s;
    pg_credsched_init(&s);
    pg_credsched_begin(&s);
    pg_credsched_success(&s, T0, T0 + 8 * S); /* eight seconds (the simulator's test setting) */
    assert_true(s.next_ns == T0 + 4 * S);     /* half the lifetime ahead */
    assert_true(pg_credsched_usable_until(&s) == T0 + 6 * S); /* a quarter's margin */
    pg_credsched_begin(&s);
    pg_credsched_failure(&s, T0 + 4 * S);
    assert_true(s.next_ns == T0 + 5 * S); /* an eighth of the lifetime */
    /* Credentials that arrive already almost expired are not fetched again in a tight loop. */
    pg_credsched_begin(&s);
    pg_credsched_success(&s, T0, T0 + 1);
    assert_true(s.next_ns >= T0 + S / 10);
}

static void test_first_fetch_fails_and_static_keys(void **state)
{
    (void)state;
    pg_credsched s;
    pg_credsched_init(&s);
    pg_credsched_begin(&s);
    pg_credsched_failure(&s, T0);
    assert_false(pg_credsched_usable(&s, T0));
    assert_int_equal(s.refresh_failures, 0); /* nothing was held: not a refresh */
    assert_true(s.next_ns == T0 + S);
    int64_t now = s.next_ns, expect[] = {2, 4, 5, 5}; /* calls are waiting: at most 5 s apart */
    for (int i = 0; i < 4; i++) {
        pg_credsched_begin(&s);
        pg_credsched_failure(&s, now);
        assert_true(s.next_ns - now == expect[i] * S);
        now = s.next_ns;
    }
    pg_credsched_begin(&s);
    pg_credsched_success(&s, T0 + S, 0); /* keys that never expire */
    assert_true(s.next_ns == INT64_MAX);
    assert_true(pg_credsched_usable(&s, INT64_MAX - 1));
    pg_credsched_set_state(&s, PG_CS_CLOSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_hour_long_credentials),
                                       cmocka_unit_test(test_short_lifetimes_scale),
                                       cmocka_unit_test(test_first_fetch_fails_and_static_keys)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
