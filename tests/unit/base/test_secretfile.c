/* Unit tests for secretfile.c: a one-line secret is read with its line end dropped; files others
 * may read, directories, several lines, empty or oversized files are refused without quoting the
 * secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profgate/secretfile.h"

static char path[64];

static void write_file(const char *text, mode_t mode)
{
    snprintf(path, sizeof path, "/tmp/pg-secret-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_read_and_refuse(void **state)
{
    (void)state;
    char out[32], err[256];
    write_file("s3cret-pass\n", 0600);
    assert_int_equal(pg_secret_file_read(path, out, sizeof out, err, sizeof err), PG_OK);
    assert_string_equal(out, "s3cret-pass");
    assert_int_equal(chmod(path, 0640), 0); /* the group may read: a Kubernetes Secret */
    assert_int_equal(pg_secret_file_read(path, out, sizeof out, err, sizeof err), PG_OK);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(pg_secret_file_read(path, out, sizeof out, err, sizeof err), PG_EINVAL);
    assert_non_null(strstr(err, "others may read or write it (mode 644)"));
    assert_null(strstr(err, "s3cret"));
    unlink(path);
    const char *bad[] = {"two\nlines\n", "\n", "", "this secret is longer than thirty-one bytes\n"};
    for (size_t i = 0; i < 4; i++) {
        write_file(bad[i], 0600);
        assert_int_equal(pg_secret_file_read(path, out, sizeof out, err, sizeof err), PG_EINVAL);
        assert_non_null(strstr(err, "must hold one line"));
        unlink(path);
    }
    assert_int_equal(pg_secret_file_read("/tmp", out, sizeof out, err, sizeof err), PG_EINVAL);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(pg_secret_file_read("/nonexistent/pw", out, sizeof out, err, sizeof err), PG_EINVAL);
    assert_non_null(strstr(err, "cannot open"));
}

/* A first line that exactly fills the buffer, then more: refused, not cut after the first line. */
static void test_longer_file_is_never_cut(void **state)
{
    (void)state;
    char out[8], err[256];
    write_file("1234567\n", 0600); /* 7 bytes and its line end: exactly fits */
    assert_int_equal(pg_secret_file_read(path, out, sizeof out, err, sizeof err), PG_OK);
    assert_string_equal(out, "1234567");
    unlink(path);
    write_file("1234567\nsecond line\n", 0600);
    assert_int_equal(pg_secret_file_read(path, out, sizeof out, err, sizeof err), PG_EINVAL);
    assert_non_null(strstr(err, "must hold one line of at most 7 bytes"));
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0); /* wiped */
    unlink(path);
}

/* Tokens the platform mounts: others own them and may read them; the line rules still hold. */
static void test_line_file_without_owner_check(void **state)
{
    (void)state;
    char out[32], err[256];
    write_file("eyJhbGciOi.token\r\n", 0644);
    assert_int_equal(pg_line_file_read(path, out, sizeof out, err, sizeof err), PG_OK);
    assert_string_equal(out, "eyJhbGciOi.token");
    assert_int_equal(pg_secret_file_read(path, out, sizeof out, err, sizeof err), PG_EINVAL);
    unlink(path);
    write_file("a\tb\n\tc", 0644);
    assert_int_equal(pg_line_file_read(path, out, sizeof out, err, sizeof err), PG_EINVAL);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_read_and_refuse),
                                       cmocka_unit_test(test_longer_file_is_never_cut),
                                       cmocka_unit_test(test_line_file_without_owner_check)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
