/* Unit tests for apierr.c and jsonw.c: the wire names and statuses boto3 depends on, and
 * well-formed error bodies whatever the message holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "profgate/apierr.h"
#include "profgate/jsonw.h"

static void test_table(void **state)
{
    (void)state;
    assert_string_equal(pg_apierr_name(PG_AE_VALIDATION), "ValidationException");
    assert_int_equal(pg_apierr_status(PG_AE_VALIDATION), 400);
    assert_string_equal(pg_apierr_name(PG_AE_NOT_FOUND), "ResourceNotFoundException");
    assert_int_equal(pg_apierr_status(PG_AE_NOT_FOUND), 404);
    assert_string_equal(pg_apierr_name(PG_AE_THROTTLING), "ThrottlingException");
    assert_int_equal(pg_apierr_status(PG_AE_THROTTLING), 429);
    assert_string_equal(pg_apierr_name(PG_AE_INTERNAL), "InternalServerException");
    assert_int_equal(pg_apierr_status(PG_AE_INTERNAL), 500);
    for (int k = 0; k < PG_AE_COUNT; k++)
        assert_null(strchr(pg_apierr_name((pg_apierr_kind)k), '#')); /* never namespaced */
}

static void test_body(void **state)
{
    (void)state;
    pg_apierr e;
    pg_buf b;
    pg_buf_init(&b, 4096);
    pg_apierr_set(&e, PG_AE_VALIDATION, "bad \"value\" \\ \n\x01 \xe2\x82\xac");
    assert_int_equal(pg_apierr_body(&b, &e), PG_OK);
    const char *want = "{\"message\":\"bad \\\"value\\\" \\\\ \\n\\u0001 \xe2\x82\xac\",\"__type\":\"ValidationException\"}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    pg_buf_free(&b);
}

static void test_message_truncates(void **state)
{
    (void)state;
    pg_apierr e;
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    pg_apierr_set(&e, PG_AE_INTERNAL, "%s", big);
    assert_int_equal(strlen(e.message), PG_APIERR_MSG_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_table), cmocka_unit_test(test_body),
                                       cmocka_unit_test(test_message_truncates)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
