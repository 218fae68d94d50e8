/* Unit tests for buf.c: growth, the declared limit, consume, printf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "profgate/buf.h"

static void test_limit(void **state)
{
    (void)state;
    pg_buf b;
    pg_buf_init(&b, 10);
    assert_int_equal(pg_buf_append(&b, "12345", 5), PG_OK);
    assert_int_equal(pg_buf_append(&b, "12345", 5), PG_OK);
    assert_int_equal(pg_buf_append(&b, "1", 1), PG_ELIMIT);
    assert_int_equal(b.len, 10);
    assert_true(b.cap <= 10);
    pg_buf_consume(&b, 4);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "512345", 6);
    assert_int_equal(pg_buf_printf(&b, "%s", "abcdef"), PG_ELIMIT);
    assert_int_equal(pg_buf_printf(&b, "%d", 42), PG_OK);
    assert_memory_equal(b.data, "51234542", 8);
    pg_buf_free(&b);
}

static void test_long_printf(void **state)
{
    (void)state;
    pg_buf b;
    pg_buf_init(&b, 100000);
    char s[1000];
    memset(s, 'a', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    assert_int_equal(pg_buf_printf(&b, "<%s>", s), PG_OK);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[1000], '>');
    pg_buf_free(&b);
}

static void test_shrink_keeps_the_bytes(void **state)
{
    (void)state;
    pg_buf b;
    pg_buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(pg_buf_append(&b, "0123456789", 10), PG_OK);
    pg_buf_shrink(&b);
    assert_int_equal(b.len, 10000);
    assert_int_equal(b.cap, 10000);
    for (int i = 0; i < 1000; i++)
        assert_memory_equal(b.data + 10 * i, "0123456789", 10);
    /* Still a buffer: it grows again, within its limit. */
    assert_int_equal(pg_buf_append(&b, "x", 1), PG_OK);
    assert_int_equal(b.len, 10001);
    pg_buf_reset(&b);
    pg_buf_shrink(&b); /* empty: nothing kept */
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    pg_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_limit), cmocka_unit_test(test_long_printf),
                                       cmocka_unit_test(test_shrink_keeps_the_bytes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
