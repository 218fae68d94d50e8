/* Unit tests for fsm.c: legal moves pass, and an illegal move aborts the process (checked in a
 * forked child, since aborting is the point). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profgate/fsm.h"
#include "profgate/log.h"

enum { A, B, C, N };
static const char *const names[N] = {"a", "b", "c"};
static const bool legal[N][N] = {[A] = {[B] = true}, [B] = {[C] = true, [A] = true}};
static const pg_fsm fsm = {"test machine", names, N, &legal[0][0]};

static void test_legal_moves_pass(void **state)
{
    (void)state;
    pg_log_set_level(PG_LOG_DEBUG); /* the debug line is written too */
    pg_fsm_move(&fsm, "x", A, B);
    pg_fsm_move(&fsm, NULL, B, A);
    pg_fsm_move(&fsm, "x", B, C);
    pg_log_set_level(PG_LOG_INFO);
}

/* Runs from -> to in a child; returns the signal that ended it (0: it exited). */
static int move_in_child(unsigned from, unsigned to)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pg_fsm_move(&fsm, "child", from, to);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void test_illegal_moves_abort(void **state)
{
    (void)state;
    assert_int_equal(move_in_child(A, B), 0);
    assert_int_equal(move_in_child(A, C), SIGABRT); /* not in the table */
    assert_int_equal(move_in_child(C, A), SIGABRT); /* a final state has no moves */
    assert_int_equal(move_in_child(A, A), SIGABRT); /* staying is a move too, unless listed */
    assert_int_equal(move_in_child(A, N), SIGABRT); /* not a state at all */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legal_moves_pass),
        cmocka_unit_test(test_illegal_moves_abort),
    };
    return cmocka_run_group_tests_name("fsm", tests, NULL, NULL);
}
