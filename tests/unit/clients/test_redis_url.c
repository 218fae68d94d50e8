/* Unit tests for redis.url parsing: the forms accepted, and that no error message ever shows the
 * password (it is redacted as "****"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "profgate/redis.h"

static void test_forms(void **state)
{
    (void)state;
    pg_redis_url u;
    char err[256];
    assert_int_equal(pg_redis_url_parse("redis://app:s3cret@cache.internal:6380/2", &u, err, sizeof err), PG_OK);
    assert_string_equal(u.host, "cache.internal");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "s3cret");
    assert_int_equal(pg_redis_url_parse("unix:/run/redis.sock?db=3", &u, err, sizeof err), PG_OK);
    assert_true(u.unix_socket);
    assert_int_equal(u.db, 3);
}

static void test_password_never_echoed(void **state)
{
    (void)state;
    pg_redis_url u;
    char err[256];
    static const char *const bad[] = {"redis://app:hunter2-secret@cache:99999", "redis://:hunter2-secret@cache/x",
                                      "redis://:hunter2-secret@:6379"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pg_redis_url_parse(bad[i], &u, err, sizeof err), PG_EINVAL);
        if (strstr(err, "hunter2") != NULL)
            fail_msg("the password is in the message: %s", err);
        assert_non_null(strstr(err, "****"));
    }
    assert_int_equal(pg_redis_url_parse("redis://app:hunter2-secret@cache:99999", &u, err, sizeof err), PG_EINVAL);
    assert_string_equal(err, "redis.url 'redis://app:****@cache:99999': bad port");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_forms), cmocka_unit_test(test_password_never_echoed)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
