/* Unit tests for fairq.c: weighted shares among backlogged flows, no credit banked while idle,
 * interactive before refresh before bulk within a flow, FIFO within a class, raising an item's
 * class without changing its flow's turn, removal, and each flow's share of the queue's places. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "profgate/fairq.h"

static pg_fq_item items[1000];

static pg_fq_item *serve(pg_fairq *q)
{
    pg_fq_item *it = pg_fairq_peek(q);
    if (it != NULL)
        pg_fairq_pop(q, it);
    return it;
}

static void test_weighted_shares(void **state)
{
    (void)state;
    pg_fairq q;
    pg_fairq_init(&q);
    pg_fairq_set_weight(&q, 1, 3);
    /* Flow 1 (weight 3) queues 300, flow 2 (weight 1) queues 300: of the first 100 served, 75/25. */
    for (int i = 0; i < 300; i++) {
        pg_fairq_push(&q, &items[i], 1, PG_FQ_BULK);
        pg_fairq_push(&q, &items[300 + i], 2, PG_FQ_BULK);
    }
    int served[3] = {0};
    for (int i = 0; i < 100; i++)
        served[serve(&q)->flow]++;
    assert_int_equal(served[1], 75);
    assert_int_equal(served[2], 25);
    assert_int_equal(q.n, 500);
    assert_int_equal(pg_fairq_flow_len(&q, 2), 275);
}

static void test_no_credit_while_idle(void **state)
{
    (void)state;
    pg_fairq q;
    pg_fairq_init(&q);
    /* Flow 1 alone for a while, then flow 2 arrives with a long queue: they alternate from then on,
     * flow 2 gets no catch-up burst for the time it was idle. */
    for (int i = 0; i < 200; i++)
        pg_fairq_push(&q, &items[i], 1, PG_FQ_BULK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(serve(&q)->flow, 1);
    for (int i = 0; i < 50; i++)
        pg_fairq_push(&q, &items[200 + i], 2, PG_FQ_BULK);
    int served[3] = {0};
    for (int i = 0; i < 20; i++)
        served[serve(&q)->flow]++;
    assert_int_equal(served[1], 10);
    assert_int_equal(served[2], 10);
}

static void test_interactive_first_and_fifo(void **state)
{
    (void)state;
    pg_fairq q;
    pg_fairq_init(&q);
    for (int i = 0; i < 5; i++)
        pg_fairq_push(&q, &items[i], 0, PG_FQ_BULK);
    pg_fairq_push(&q, &items[10], 0, PG_FQ_INTERACTIVE);
    pg_fairq_push(&q, &items[11], 0, PG_FQ_INTERACTIVE);
    assert_ptr_equal(serve(&q), &items[10]);
    assert_ptr_equal(serve(&q), &items[11]);
    for (int i = 0; i < 5; i++)
        assert_ptr_equal(serve(&q), &items[i]);
    assert_null(serve(&q));
}

static void test_three_classes_in_order(void **state)
{
    (void)state;
    pg_fairq q;
    pg_fairq_init(&q);
    pg_fairq_push(&q, &items[0], 3, PG_FQ_BULK);
    pg_fairq_push(&q, &items[1], 3, PG_FQ_REFRESH);
    pg_fairq_push(&q, &items[2], 3, PG_FQ_BULK);
    pg_fairq_push(&q, &items[3], 3, PG_FQ_REFRESH);
    pg_fairq_push(&q, &items[4], 3, PG_FQ_INTERACTIVE);
    pg_fq_item *want[] = {&items[4], &items[1], &items[3], &items[0], &items[2]};
    for (size_t i = 0; i < 5; i++)
        assert_ptr_equal(serve(&q), want[i]);
    assert_null(serve(&q));
}

static void test_raise(void **state)
{
    (void)state;
    pg_fairq q;
    pg_fairq_init(&q);
    pg_fairq_push(&q, &items[0], 1, PG_FQ_REFRESH);
    pg_fairq_push(&q, &items[1], 1, PG_FQ_REFRESH);
    pg_fairq_push(&q, &items[2], 1, PG_FQ_BULK);
    pg_fairq_push(&q, &items[3], 1, PG_FQ_INTERACTIVE);
    pg_fairq_raise(&q, &items[1], PG_FQ_INTERACTIVE); /* joins the interactive tail */
    pg_fairq_raise(&q, &items[3], PG_FQ_BULK);        /* never lowered */
    pg_fairq_raise(&q, &items[2], PG_FQ_REFRESH);
    assert_int_equal(q.n, 4);
    pg_fq_item *want[] = {&items[3], &items[1], &items[0], &items[2]};
    for (size_t i = 0; i < 4; i++)
        assert_ptr_equal(serve(&q), want[i]);
    assert_null(serve(&q));
    /* Raising reorders within a flow only: the flows still take turns. */
    pg_fairq_init(&q);
    for (int i = 0; i < 4; i++) {
        pg_fairq_push(&q, &items[10 + i], 1, PG_FQ_BULK);
        pg_fairq_push(&q, &items[20 + i], 2, PG_FQ_REFRESH);
    }
    assert_int_equal(serve(&q)->flow, 1);
    pg_fairq_raise(&q, &items[23], PG_FQ_INTERACTIVE);
    assert_ptr_equal(serve(&q), &items[23]);
    assert_int_equal(serve(&q)->flow, 1);
    assert_ptr_equal(serve(&q), &items[20]);
    assert_int_equal(pg_fairq_flow_len(&q, 1), 2);
    assert_int_equal(pg_fairq_flow_len(&q, 2), 2);
}

static void test_remove(void **state)
{
    (void)state;
    pg_fairq q;
    pg_fairq_init(&q);
    for (int i = 0; i < 3; i++)
        pg_fairq_push(&q, &items[i], 4, PG_FQ_INTERACTIVE);
    pg_fairq_remove(&q, &items[1]);
    pg_fairq_remove(&q, &items[2]);
    assert_int_equal(q.n, 1);
    assert_ptr_equal(serve(&q), &items[0]);
    assert_null(pg_fairq_peek(&q));
    assert_int_equal(q.n, 0);
}

static void test_shares_of_the_queue(void **state)
{
    (void)state;
    pg_fairq q;
    pg_fairq_init(&q);
    /* No tenants: the one flow may hold the whole queue. */
    assert_int_equal(pg_fairq_share(&q, 0, 10000), 10000);
    /* Tenants of weight 1, 1 and 2: a quarter, a quarter and half. */
    pg_fairq_set_weight(&q, 1, 1);
    pg_fairq_set_weight(&q, 2, 1);
    pg_fairq_set_weight(&q, 3, 2);
    assert_int_equal(pg_fairq_share(&q, 1, 10000), 2500);
    assert_int_equal(pg_fairq_share(&q, 2, 10000), 2500);
    assert_int_equal(pg_fairq_share(&q, 3, 10000), 5000);
    /* A flow that is no tenant's counts as weight 1 of the tenants' sum; never less than one place. */
    assert_int_equal(pg_fairq_share(&q, 0, 10000), 2500);
    assert_int_equal(pg_fairq_share(&q, 1, 3), 1);
    /* The shares never add up to more than the queue. */
    size_t sum = 0;
    for (unsigned f = 1; f <= 3; f++)
        sum += pg_fairq_share(&q, f, 999);
    assert_true(sum <= 999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_weighted_shares), cmocka_unit_test(test_no_credit_while_idle),
                                       cmocka_unit_test(test_interactive_first_and_fifo),
                                       cmocka_unit_test(test_three_classes_in_order), cmocka_unit_test(test_raise),
                                       cmocka_unit_test(test_remove), cmocka_unit_test(test_shares_of_the_queue)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
