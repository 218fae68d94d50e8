/* Unit tests for lru.c: byte budget, recency order, replacement, and that an entry evicted while
 * referenced is unlinked at once but freed only at its last release. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "profgate/lru.h"

static int freed[64];

static void on_free(void *v)
{
    freed[*(int *)v]++;
    free(v);
}

static int *val(int i)
{
    int *p = malloc(sizeof *p);
    *p = i;
    return p;
}

static void test_budget_and_recency(void **state)
{
    (void)state;
    memset(freed, 0, sizeof freed);
    /* Each entry costs 1000 + key + 96 bytes of bookkeeping: three fit in 3400. */
    pg_lru *l = pg_lru_new(3400, on_free);
    assert_int_equal(pg_lru_put(l, "a", 1, val(1), 1000), PG_OK);
    assert_int_equal(pg_lru_put(l, "b", 1, val(2), 1000), PG_OK);
    assert_int_equal(pg_lru_put(l, "c", 1, val(3), 1000), PG_OK);
    pg_lru_entry *e = pg_lru_get(l, "a", 1); /* a becomes the most recent */
    pg_lru_release(l, e);
    assert_int_equal(pg_lru_put(l, "d", 1, val(4), 1000), PG_OK); /* evicts b, the coldest */
    assert_int_equal(freed[2], 1);
    assert_null(pg_lru_get(l, "b", 1));
    pg_lru_stats st;
    pg_lru_get_stats(l, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.evictions, 1);
    assert_true(st.bytes <= 3400);
    assert_int_equal(pg_lru_put(l, "huge", 4, val(5), 5000), PG_ELIMIT);
    assert_int_equal(freed[5], 1);
    assert_int_equal(pg_lru_put(l, "a", 1, val(6), 10), PG_OK); /* replacement frees the old value */
    assert_int_equal(freed[1], 1);
    pg_lru_free(l);
    assert_int_equal(freed[3] + freed[4] + freed[6], 3);
}

static void test_eviction_under_reference(void **state)
{
    (void)state;
    memset(freed, 0, sizeof freed);
    pg_lru *l = pg_lru_new(2300, on_free);
    assert_int_equal(pg_lru_put(l, "x", 1, val(10), 1000), PG_OK);
    pg_lru_entry *held = pg_lru_get(l, "x", 1); /* a response is still using x */
    assert_int_equal(pg_lru_put(l, "y", 1, val(11), 1000), PG_OK);
    assert_int_equal(pg_lru_put(l, "z", 1, val(12), 1000), PG_OK); /* evicts x */
    assert_null(pg_lru_get(l, "x", 1));                             /* no longer findable */
    assert_int_equal(freed[10], 0);                                 /* but not freed */
    assert_int_equal(*(int *)pg_lru_value(held), 10);
    pg_lru_stats st;
    pg_lru_get_stats(l, &st);
    assert_true(st.bytes <= 2300); /* nor counted */
    pg_lru_release(l, held);
    assert_int_equal(freed[10], 1);
    pg_lru_free(l);
}

static void test_set_capacity(void **state)
{
    (void)state;
    memset(freed, 0, sizeof freed);
    pg_lru *l = pg_lru_new(3400, on_free);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(pg_lru_put(l, &"abc"[i - 1], 1, val(i), 1000), PG_OK);
    assert_int_equal(pg_lru_capacity(l), 3400);
    pg_lru_set_capacity(l, 2300); /* two fit: the coldest goes */
    assert_int_equal(freed[1], 1);
    pg_lru_stats st;
    pg_lru_get_stats(l, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.evictions, 1);
    pg_lru_set_capacity(l, 0); /* holds nothing, accepts nothing */
    pg_lru_get_stats(l, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(pg_lru_put(l, "z", 1, val(9), 10), PG_ELIMIT);
    assert_int_equal(freed[9], 1);
    pg_lru_set_capacity(l, 3400); /* and grows back */
    assert_int_equal(pg_lru_put(l, "z", 1, val(10), 1000), PG_OK);
    pg_lru_free(l);
    assert_int_equal(freed[10], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_budget_and_recency),
                                       cmocka_unit_test(test_eviction_under_reference),
                                       cmocka_unit_test(test_set_capacity)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
