/* Unit tests for heapgive.c: a give-back is wanted only after a burst of at least
 * PG_HEAPGIVE_MIN_PEAK live requests has fallen to an eighth of its peak, and again for what was
 * still live then once that falls likewise; steady traffic below the floor never wants one; two
 * are at least PG_HEAPGIVE_INTERVAL_NS apart, and one wanted sooner says how long to wait. Time is
 * an argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "profgate/heapgive.h"

#define S PG_NS_PER_S
#define MS PG_NS_PER_MS

/* Drives live from one count to another a request at a time, at now; how many give-backs were
 * due (the caller gives back each one at once). */
static int walk(pg_heapgive *h, size_t *live, size_t to, int64_t now)
{
    int due = 0;
    while (*live < to)
        pg_heapgive_rise(h, ++*live);
    while (*live > to)
        due += pg_heapgive_check(h, --*live, now) == 0;
    return due;
}

/* Bursts up to peak and back to nothing, one every step from t0 until t1: the give-backs due. */
static int bursts(pg_heapgive *h, size_t *live, size_t peak, int64_t t0, int64_t step, int64_t t1)
{
    int due = 0;
    for (int64_t t = t0; t < t1; t += step)
        due += walk(h, live, peak, t) + walk(h, live, 0, t);
    return due;
}

static void test_steady_traffic_never_gives_back(void **state)
{
    (void)state;
    pg_heapgive h;
    pg_heapgive_init(&h);
    size_t live = 0;
    /* Requests come and go, never PG_HEAPGIVE_MIN_PEAK at once. */
    assert_int_equal(bursts(&h, &live, PG_HEAPGIVE_MIN_PEAK - 1, 0, S, 10000 * S), 0);
    assert_int_equal(pg_heapgive_check(&h, 0, 10000 * S), -1);
}

static void test_a_receding_burst_gives_back(void **state)
{
    (void)state;
    pg_heapgive h;
    pg_heapgive_init(&h);
    size_t live = 0;
    assert_int_equal(walk(&h, &live, 4000, 0), 0);
    /* Due at the first fall to an eighth of the peak, not before. */
    assert_int_equal(walk(&h, &live, 501, 0), 0);
    assert_int_equal(pg_heapgive_check(&h, --live, 0), 0);
    assert_int_equal(live, 500);
    /* The 500 still live then held memory too: when an eighth of them is left, once more (a
     * second later: the interval). */
    assert_int_equal(walk(&h, &live, 63, 1 * S), 0);
    assert_int_equal(pg_heapgive_check(&h, --live, 1 * S), 0);
    assert_int_equal(walk(&h, &live, 0, 2 * S), 0);
    /* Small traffic afterwards is not a burst. */
    assert_int_equal(walk(&h, &live, 100, 3 * S), 0);
    assert_int_equal(walk(&h, &live, 0, 3 * S), 0);
}

static void test_each_new_burst_gives_back_again(void **state)
{
    (void)state;
    pg_heapgive h;
    pg_heapgive_init(&h);
    size_t live = 0;
    assert_int_equal(bursts(&h, &live, PG_HEAPGIVE_MIN_PEAK, 0, S, 5 * S), 5);
}

static void test_peak_restarts_from_what_is_still_live(void **state)
{
    (void)state;
    pg_heapgive h;
    pg_heapgive_init(&h);
    size_t live = 0;
    walk(&h, &live, 2048, 0);
    assert_int_equal(walk(&h, &live, 200, 0), 1); /* due at 256 = 2048 / 8 */
    /* The peak is now what was live then (256), so rising back to it and falling gives back once
     * more: those requests held memory too. */
    assert_int_equal(walk(&h, &live, 256, 5 * S), 0);
    assert_int_equal(walk(&h, &live, 0, 5 * S), 1);
}

static void test_a_give_back_wanted_too_soon_waits_for_the_interval(void **state)
{
    (void)state;
    pg_heapgive h;
    pg_heapgive_init(&h);
    size_t live = 0;
    /* Bursts every 100 ms, as a thousand clients in lockstep would make: one give-back a second. */
    assert_int_equal(bursts(&h, &live, 1000, 0, 100 * MS, 10 * S), 10);
    /* One wanted 300 ms after the last says to ask again in 700 ms; then it is due, with the same
     * live count, and only once. */
    pg_heapgive_init(&h);
    walk(&h, &live, 1000, 0);
    assert_int_equal(walk(&h, &live, 0, 0), 1);
    walk(&h, &live, 1000, 300 * MS);
    walk(&h, &live, 10, 300 * MS);
    assert_int_equal(pg_heapgive_check(&h, 10, 300 * MS), 700 * MS);
    assert_int_equal(pg_heapgive_check(&h, 10, 999 * MS), 1 * MS);
    assert_int_equal(pg_heapgive_check(&h, 10, 1000 * MS), 0);
    assert_int_equal(pg_heapgive_check(&h, 10, 1000 * MS), -1);
    /* If the burst came back meanwhile, the wait ends with nothing wanted. */
    walk(&h, &live, 1000, 1100 * MS);
    walk(&h, &live, 10, 1100 * MS);
    assert_true(pg_heapgive_check(&h, 10, 1100 * MS) > 0);
    walk(&h, &live, 900, 1500 * MS);
    assert_int_equal(pg_heapgive_check(&h, 900, 2000 * MS), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_traffic_never_gives_back),
        cmocka_unit_test(test_a_receding_burst_gives_back),
        cmocka_unit_test(test_each_new_burst_gives_back_again),
        cmocka_unit_test(test_peak_restarts_from_what_is_still_live),
        cmocka_unit_test(test_a_give_back_wanted_too_soon_waits_for_the_interval),
    };
    return cmocka_run_group_tests_name("heapgive", tests, NULL, NULL);
}
