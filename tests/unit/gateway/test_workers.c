/* Unit tests for workers.c, the supervisor's rules: start-up completes once every worker is
 * ready; a death during start-up gives up with its status; a death after it restarts after a
 * back-off that grows with quick deaths and resets after a steady run; stopping ends waiting
 * workers and collects the exit status. Time is a plain number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "profgate/workers.h"

#define S PG_NS_PER_S
#define MS PG_NS_PER_MS

static void start_all(pg_workers *ws, size_t n, int64_t now)
{
    pg_workers_init(ws, n);
    for (size_t i = 0; i < n; i++)
        pg_workers_started(ws, i, 100 + (int)i, now);
}

static void test_start_up_completes_when_every_worker_is_ready(void **state)
{
    (void)state;
    pg_workers ws;
    start_all(&ws, 3, 0);
    assert_false(pg_workers_ready(&ws, 0));
    assert_false(pg_workers_ready(&ws, 2));
    assert_true(pg_workers_ready(&ws, 1)); /* the last one */
    assert_true(ws.started);
    assert_int_equal(pg_workers_find(&ws, 102), 2);
    assert_int_equal(pg_workers_find(&ws, 999), 3);
}

static void test_a_death_during_start_up_gives_up_with_its_status(void **state)
{
    (void)state;
    pg_workers ws;
    start_all(&ws, 2, 0);
    assert_false(pg_workers_ready(&ws, 0));
    assert_int_equal(pg_workers_exited(&ws, 1, 78, 1 * MS), PG_WK_GIVE_UP);
    assert_int_equal(ws.status, 78);
    pg_workers_stop(&ws);
    assert_int_equal(ws.w[0].state, PG_WK_STOPPING);
    assert_false(pg_workers_all_exited(&ws));
    assert_int_equal(pg_workers_exited(&ws, 0, 0, 2 * MS), PG_WK_GONE);
    assert_true(pg_workers_all_exited(&ws));
    assert_int_equal(ws.status, 78); /* the failure, not the clean stop after it */
    /* A worker that exits 0 during start-up, unasked, is a failure too. */
    start_all(&ws, 1, 0);
    assert_int_equal(pg_workers_exited(&ws, 0, 0, 1), PG_WK_GIVE_UP);
    assert_int_equal(ws.status, 70);
}

static void test_a_death_after_start_up_restarts_with_growing_back_off(void **state)
{
    (void)state;
    pg_workers ws;
    start_all(&ws, 2, 0);
    pg_workers_ready(&ws, 0);
    assert_true(pg_workers_ready(&ws, 1));
    /* Killed after a minute of steady work: the shortest back-off. */
    int64_t t = 60 * S;
    assert_int_equal(pg_workers_exited(&ws, 1, 128 + 9, t), PG_WK_RESTART);
    assert_int_equal(ws.w[1].state, PG_WK_WAITING);
    assert_int_equal(pg_workers_next_restart(&ws), t + PG_WK_BACKOFF_MIN_NS);
    assert_false(pg_workers_due(&ws, 1, t + PG_WK_BACKOFF_MIN_NS - 1));
    assert_true(pg_workers_due(&ws, 1, t + PG_WK_BACKOFF_MIN_NS));
    assert_false(pg_workers_due(&ws, 0, t + S)); /* the other one is running */
    /* It keeps dying at once: 200 ms, 400 ms, ... up to the cap. */
    int64_t expect = PG_WK_BACKOFF_MIN_NS;
    for (int k = 1; k <= 10; k++) {
        t += S;
        pg_workers_started(&ws, 1, 500 + k, t);
        assert_false(pg_workers_ready(&ws, 1)); /* start-up is long done: no second "ready" */
        assert_int_equal(pg_workers_exited(&ws, 1, 1, t + MS), PG_WK_RESTART);
        expect = expect * 2 > PG_WK_BACKOFF_MAX_NS ? PG_WK_BACKOFF_MAX_NS : expect * 2;
        assert_int_equal(ws.w[1].restart_at_ns - (t + MS), expect);
    }
    assert_int_equal(ws.w[1].restarts, 10);
    /* A steady run resets it. */
    t += 20 * S;
    pg_workers_started(&ws, 1, 900, t);
    assert_int_equal(pg_workers_exited(&ws, 1, 1, t + PG_WK_STEADY_NS), PG_WK_RESTART);
    assert_int_equal(ws.w[1].restart_at_ns - (t + PG_WK_STEADY_NS), PG_WK_BACKOFF_MIN_NS);
    assert_int_equal(ws.status, 0); /* restarts do not make the supervisor fail */
}

static void test_stop_ends_waiting_workers_and_collects_status(void **state)
{
    (void)state;
    pg_workers ws;
    start_all(&ws, 3, 0);
    for (size_t i = 0; i < 3; i++)
        pg_workers_ready(&ws, i);
    assert_int_equal(pg_workers_exited(&ws, 2, 1, 20 * S), PG_WK_RESTART);
    pg_workers_stop(&ws);
    assert_int_equal(ws.w[2].state, PG_WK_EXITED);     /* no restart while stopping */
    assert_false(pg_workers_due(&ws, 2, 100 * S));
    assert_int_equal(pg_workers_next_restart(&ws), INT64_MAX);
    assert_int_equal(ws.w[0].state, PG_WK_STOPPING);
    assert_int_equal(pg_workers_exited(&ws, 0, 0, 21 * S), PG_WK_GONE);
    assert_false(pg_workers_all_exited(&ws));
    assert_int_equal(pg_workers_exited(&ws, 1, 0, 21 * S), PG_WK_GONE);
    assert_true(pg_workers_all_exited(&ws));
    assert_int_equal(ws.status, 0);
    /* One worker cut by the kill at the deadline makes the exit status say so. */
    start_all(&ws, 2, 0);
    pg_workers_ready(&ws, 0);
    pg_workers_ready(&ws, 1);
    pg_workers_stop(&ws);
    pg_workers_exited(&ws, 0, 0, S);
    pg_workers_exited(&ws, 1, 128 + 9, S);
    assert_int_equal(ws.status, 128 + 9);
}

static void test_back_off_table(void **state)
{
    (void)state;
    assert_int_equal(pg_workers_backoff_ns(0), 100 * MS);
    assert_int_equal(pg_workers_backoff_ns(1), 200 * MS);
    assert_int_equal(pg_workers_backoff_ns(6), 6400 * MS);
    assert_int_equal(pg_workers_backoff_ns(7), PG_WK_BACKOFF_MAX_NS);
    assert_int_equal(pg_workers_backoff_ns(1000), PG_WK_BACKOFF_MAX_NS);
    assert_string_equal(pg_wk_state_name(PG_WK_WAITING), "waiting");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_up_completes_when_every_worker_is_ready),
        cmocka_unit_test(test_a_death_during_start_up_gives_up_with_its_status),
        cmocka_unit_test(test_a_death_after_start_up_restarts_with_growing_back_off),
        cmocka_unit_test(test_stop_ends_waiting_workers_and_collects_status),
        cmocka_unit_test(test_back_off_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
