/* Unit tests for cpus.c: the cgroup files' formats (v2 cpu.max, v1 CFS quota and period) and how a
 * quota caps the affinity count, rounding partial CPUs up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "profgate/resources.h"

static void test_cpu_max(void **state)
{
    (void)state;
    double c = -1;
    assert_int_equal(pg_cgroup_parse_cpu_max("max 100000\n", &c), PG_OK);
    assert_true(c == 0.0);
    assert_int_equal(pg_cgroup_parse_cpu_max("150000 100000\n", &c), PG_OK);
    assert_true(c == 1.5);
    assert_int_equal(pg_cgroup_parse_cpu_max("50000 100000", &c), PG_OK);
    assert_true(c == 0.5);
    static const char *const bad[] = {"", "max", "max ", "100000", "1 0", "-1 100000", "1.5 100000",
                                      "max 100000 7", "max\t100000", "99999999999999999999 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pg_cgroup_parse_cpu_max(bad[i], &c), PG_EINVAL);
}

static void test_cfs(void **state)
{
    (void)state;
    double c = -1;
    assert_int_equal(pg_cgroup_parse_cfs("-1\n", "100000\n", &c), PG_OK);
    assert_true(c == 0.0);
    assert_int_equal(pg_cgroup_parse_cfs("250000\n", "100000\n", &c), PG_OK);
    assert_true(c == 2.5);
    assert_int_equal(pg_cgroup_parse_cfs("x", "100000", &c), PG_EINVAL);
    assert_int_equal(pg_cgroup_parse_cfs("1000", "0", &c), PG_EINVAL);
    assert_int_equal(pg_cgroup_parse_cfs("-2", "100000", &c), PG_EINVAL);
}

static void test_quota_caps_affinity(void **state)
{
    (void)state;
    assert_int_equal(pg_cpus_from(64, 1.5), 2);  /* partial CPUs round up */
    assert_int_equal(pg_cpus_from(4, 0.0), 4);   /* no quota */
    assert_int_equal(pg_cpus_from(2, 8.0), 2);   /* a quota above the affinity does not add CPUs */
    assert_int_equal(pg_cpus_from(8, 0.25), 1);
    assert_int_equal(pg_cpus_from(0, 0.0), 1);   /* never zero */
    assert_true(pg_cpus_available() >= 1);
}

static void test_memory_limit(void **state)
{
    (void)state;
    uint64_t b = 1;
    assert_int_equal(pg_cgroup_parse_mem_max("max\n", &b), PG_OK);
    assert_true(b == 0);
    assert_int_equal(pg_cgroup_parse_mem_max("1073741824\n", &b), PG_OK);
    assert_true(b == UINT64_C(1073741824));
    assert_int_equal(pg_cgroup_parse_mem_max("9223372036854771712", &b), PG_OK); /* v1: no limit */
    assert_true(b == 0);
    assert_int_equal(pg_cgroup_parse_mem_max("1g", &b), PG_EINVAL);
    assert_int_equal(pg_cgroup_parse_mem_max("", &b), PG_EINVAL);
    assert_true(pg_memory_available() > 0); /* whatever this machine has */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_limit), cmocka_unit_test(test_cpu_max),
        cmocka_unit_test(test_cfs),
        cmocka_unit_test(test_quota_caps_affinity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
