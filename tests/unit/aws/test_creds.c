/* Unit tests for creds.c: the environment first, then the shared credentials file and profile,
 * the errors for unreadable files and incomplete profiles, and that descriptions hide secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profgate/creds.h"

static const char *vars[16][2];

static const char *fake_env(const char *name)
{
    for (int i = 0; i < 16 && vars[i][0]; i++)
        if (strcmp(vars[i][0], name) == 0)
            return vars[i][1];
    return NULL;
}

static void set_env(int n, ...)
{
    memset(vars, 0, sizeof vars);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        vars[i][0] = va_arg(ap, const char *);
        vars[i][1] = va_arg(ap, const char *);
    }
    va_end(ap);
}

static char path[64];

static void write_file(const char *text)
{
    snprintf(path, sizeof path, "/tmp/pg-creds-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_environment_first(void **state)
{
    (void)state;
    pg_creds c;
    char why[256];
    write_file("[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n");
    set_env(4, "AWS_ACCESS_KEY_ID", "AKIAENVKEY", "AWS_SECRET_ACCESS_KEY", "envsecret", "AWS_SESSION_TOKEN", "tok",
            "AWS_SHARED_CREDENTIALS_FILE", path);
    assert_int_equal(pg_creds_load(&c, fake_env, why, sizeof why), PG_OK);
    assert_true(c.present);
    assert_string_equal(c.access_key, "AKIAENVKEY");
    assert_string_equal(c.secret_key, "envsecret");
    assert_string_equal(c.session_token, "tok");
    char d[300];
    pg_creds_describe(&c, d, sizeof d);
    assert_string_equal(d, "AKIA**** from environment with session token");
    assert_null(strstr(d, "envsecret"));
    unlink(path);
}

static void test_shared_file_and_profile(void **state)
{
    (void)state;
    pg_creds c;
    char why[256];
    write_file("[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = defsecret\n\n"
               "[team-a]\naws_access_key_id = TEAMKEY\naws_secret_access_key = teamsecret\naws_session_token = t2\n"
               "[profile other]\naws_access_key_id = OTHERKEY\naws_secret_access_key = othersecret\n");
    set_env(1, "AWS_SHARED_CREDENTIALS_FILE", path);
    assert_int_equal(pg_creds_load(&c, fake_env, why, sizeof why), PG_OK);
    assert_string_equal(c.access_key, "DEFKEY");
    set_env(2, "AWS_SHARED_CREDENTIALS_FILE", path, "AWS_PROFILE", "team-a");
    assert_int_equal(pg_creds_load(&c, fake_env, why, sizeof why), PG_OK);
    assert_string_equal(c.access_key, "TEAMKEY");
    assert_string_equal(c.session_token, "t2");
    set_env(2, "AWS_SHARED_CREDENTIALS_FILE", path, "AWS_PROFILE", "other");
    assert_int_equal(pg_creds_load(&c, fake_env, why, sizeof why), PG_OK);
    assert_string_equal(c.secret_key, "othersecret");
    set_env(2, "AWS_SHARED_CREDENTIALS_FILE", path, "AWS_PROFILE", "missing");
    assert_int_equal(pg_creds_load(&c, fake_env, why, sizeof why), PG_EINVAL);
    assert_non_null(strstr(why, "profile 'missing' not found"));
    /* Only the key id is half-complete: an error, not a silent unsigned mode. */
    unlink(path);
    write_file("[default]\naws_access_key_id = ONLYKEY\n");
    set_env(1, "AWS_SHARED_CREDENTIALS_FILE", path);
    assert_int_equal(pg_creds_load(&c, fake_env, why, sizeof why), PG_EINVAL);
    assert_non_null(strstr(why, "lacks aws_access_key_id or aws_secret_access_key"));
    unlink(path);
}

static void test_absent_and_unreadable(void **state)
{
    (void)state;
    pg_creds c;
    char why[256];
    set_env(1, "HOME", "/nonexistent-home");
    assert_int_equal(pg_creds_load(&c, fake_env, why, sizeof why), PG_OK);
    assert_false(c.present);
    char d[300];
    pg_creds_describe(&c, d, sizeof d);
    assert_string_equal(d, "none (upstream requests are sent unsigned)");
    set_env(1, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
    assert_int_equal(pg_creds_load(&c, fake_env, why, sizeof why), PG_EINVAL);
    assert_non_null(strstr(why, "cannot read"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_environment_first),
                                       cmocka_unit_test(test_shared_file_and_profile),
                                       cmocka_unit_test(test_absent_and_unreadable)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
