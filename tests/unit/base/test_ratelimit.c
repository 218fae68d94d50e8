/* Unit tests for ratelimit.c: the token bucket's burst, refill at its rate, the cap at burst, the
 * wait it predicts, fractional takes, and a clock that goes backwards. Time is an argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "profgate/ratelimit.h"

#define S PG_NS_PER_S
#define MS PG_NS_PER_MS

static void test_burst_then_rate(void **state)
{
    (void)state;
    pg_tbucket tb;
    pg_tbucket_init(&tb, 10, 20, 0);
    for (int i = 0; i < 20; i++)
        assert_true(pg_tbucket_take(&tb, 0, 1));
    assert_false(pg_tbucket_take(&tb, 0, 1));
    /* 10 per second: one token every 100 ms. */
    assert_false(pg_tbucket_take(&tb, 99 * MS, 1));
    assert_true(pg_tbucket_take(&tb, 100 * MS, 1));
    assert_false(pg_tbucket_take(&tb, 100 * MS, 1));
    /* One second later: exactly ten more. */
    int taken = 0;
    while (pg_tbucket_take(&tb, 1100 * MS, 1))
        taken++;
    assert_int_equal(taken, 10);
}

static void test_refill_is_capped_at_burst(void **state)
{
    (void)state;
    pg_tbucket tb;
    pg_tbucket_init(&tb, 10, 5, 0);
    assert_true(pg_tbucket_take(&tb, 0, 5));
    int taken = 0;
    while (pg_tbucket_take(&tb, 3600 * S, 1))
        taken++;
    assert_int_equal(taken, 5);
}

static void test_wait_predicts_the_next_token(void **state)
{
    (void)state;
    pg_tbucket tb;
    pg_tbucket_init(&tb, 4, 1, 0);
    assert_int_equal(pg_tbucket_wait_ns(&tb, 0, 1), 0);
    assert_true(pg_tbucket_take(&tb, 0, 1));
    int64_t w = pg_tbucket_wait_ns(&tb, 0, 1);
    assert_in_range(w, 250 * MS, 250 * MS + 1);
    /* Waiting that long is enough; a nanosecond less is not. */
    assert_false(pg_tbucket_take(&tb, w - 2, 1));
    assert_true(pg_tbucket_take(&tb, w, 1));
    /* Asking does not spend. */
    pg_tbucket_init(&tb, 4, 1, 0);
    assert_int_equal(pg_tbucket_wait_ns(&tb, 0, 1), 0);
    assert_true(pg_tbucket_take(&tb, 0, 1));
}

static void test_fractional_takes(void **state)
{
    (void)state;
    pg_tbucket tb;
    pg_tbucket_init(&tb, 1, 1, 0);
    assert_true(pg_tbucket_take(&tb, 0, 0.5));
    assert_true(pg_tbucket_take(&tb, 0, 0.5));
    assert_false(pg_tbucket_take(&tb, 0, 0.5));
    assert_true(pg_tbucket_take(&tb, 500 * MS, 0.5));
}

static void test_clock_going_backwards_refills_nothing(void **state)
{
    (void)state;
    pg_tbucket tb;
    pg_tbucket_init(&tb, 10, 1, 10 * S);
    assert_true(pg_tbucket_take(&tb, 10 * S, 1));
    assert_false(pg_tbucket_take(&tb, 5 * S, 1));
    assert_false(pg_tbucket_take(&tb, 10 * S, 1));
    assert_true(pg_tbucket_take(&tb, 10 * S + 100 * MS, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_rate),
        cmocka_unit_test(test_refill_is_capped_at_burst),
        cmocka_unit_test(test_wait_predicts_the_next_token),
        cmocka_unit_test(test_fractional_takes),
        cmocka_unit_test(test_clock_going_backwards_refills_nothing),
    };
    return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
