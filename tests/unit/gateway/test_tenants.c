/* Unit tests for tenants.c: parsing and validation (all or nothing), lookups by key, group
 * globs, quotas, reload by name into stable slots, and the file-mode check. */
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

#include "profgate/tenants.h"

static const char two[] = "[a]\naccess_key = AKIAAAAAAAAAAAAAAAA1\nsecret_key = secret-of-tenant-a-0001\n"
                          "groups = shop-*, billing\nrate = 2\nweight = 3\nwrite = on\n"
                          "[b]\naccess_key = AKIABBBBBBBBBBBBBBB2\nsecret_key = secret-of-tenant-b-0002\ngroups = b?-[0-9]\n";

static void test_parse_and_lookup(void **state)
{
    (void)state;
    pg_tenants *ts = calloc(1, sizeof *ts);
    char err[256];
    assert_int_equal(pg_tenants_load_string(ts, two, "t", 0, err, sizeof err), PG_OK);
    assert_int_equal(ts->n, 2);
    pg_tenant *a = pg_tenants_by_key(ts, "AKIAAAAAAAAAAAAAAAA1", 20);
    assert_non_null(a);
    assert_string_equal(a->name, "a");
    assert_int_equal(a->weight, 3);
    assert_true(a->burst == 4); /* default: twice the rate */
    assert_null(pg_tenants_by_key(ts, "AKIAAAAAAAAAAAAAAAA", 19));
    assert_null(pg_tenants_by_key(ts, "AKIAAAAAAAAAAAAAAAA9", 20));
    assert_true(pg_tenant_may_read(a, "shop-frontend"));
    assert_true(pg_tenant_may_read(a, "billing"));
    assert_false(pg_tenant_may_read(a, "billing-2"));
    assert_false(pg_tenant_may_read(a, "shop"));
    pg_tenant *b = pg_tenants_by_key(ts, "AKIABBBBBBBBBBBBBBB2", 20);
    assert_true(pg_tenant_may_read(b, "bx-7"));
    assert_false(pg_tenant_may_read(b, "bx-x"));
    assert_int_equal(b->weight, 1);
    assert_true(a->write);
    assert_false(b->write); /* writes are granted, never assumed */
    assert_true(b->rate == 0);
    /* Quota: burst 4, then one every half second. */
    for (int i = 0; i < 4; i++)
        assert_true(pg_tenant_take(a, 0));
    assert_false(pg_tenant_take(a, 0));
    assert_true(pg_tenant_take(a, 500 * PG_NS_PER_MS));
    for (int i = 0; i < 1000; i++) /* no quota */
        assert_true(pg_tenant_take(b, 0));
    pg_tenants_clear(ts);
    free(ts);
}

static void expect_error(const char *text, const char *want)
{
    pg_tenants *ts = calloc(1, sizeof *ts);
    char err[256];
    assert_int_equal(pg_tenants_load_string(ts, two, "t", 0, err, sizeof err), PG_OK);
    pg_tenants before = *ts;
    assert_int_equal(pg_tenants_load_string(ts, text, "t", 0, err, sizeof err), PG_EINVAL);
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' does not contain '%s'", err, want);
    assert_memory_equal(ts, &before, sizeof before); /* all or nothing */
    free(ts);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("[x]\naccess_key = short\n", "t:2: [x] access_key must be 16-128 letters and digits");
    expect_error("[x]\naccess_key = AKIAXXXXXXXXXXXXXXX1\nsecret_key = tiny\n", "secret_key must be 16-128");
    expect_error("[x]\naccess_key = AKIAXXXXXXXXXXXXXXX1\nsecret_key = secret-secret-secret\ngroups = a b\n",
                 "groups must be comma-separated");
    expect_error("[x]\naccess_key = AKIAXXXXXXXXXXXXXXX1\nsecret_key = secret-secret-secret\n", "t: [x] needs access_key, secret_key and groups");
    expect_error("[x]\ncolour = blue\n", "unknown setting 'colour'");
    expect_error("[bad name]\ngroups = a\n", "tenant name [bad name]");
    expect_error("[x]\nweight = 0\n", "weight must be a whole number");
    expect_error("[x]\nwrite = yes\n", "write must be on or off");
    expect_error("[x]\nrate = -1\n", "rate must be a number");
    expect_error("[x]\naccess_key = AKIAXXXXXXXXXXXXXXX1\nsecret_key = secret-secret-secret\ngroups = a\n"
                 "[y]\naccess_key = AKIAXXXXXXXXXXXXXXX1\nsecret_key = secret-secret-secret\ngroups = b\n",
                 "[x] and [y] have the same access_key");
    /* A bad secret is never echoed back. */
    pg_tenants *ts = calloc(1, sizeof *ts);
    char err[256];
    assert_int_equal(pg_tenants_load_string(ts, "[x]\nsecret_key = hunter2 with spaces\n", "t", 0, err, sizeof err),
                     PG_EINVAL);
    assert_null(strstr(err, "hunter2"));
    free(ts);
}

static void test_reload_keeps_slots(void **state)
{
    (void)state;
    pg_tenants *ts = calloc(1, sizeof *ts);
    char err[256];
    assert_int_equal(pg_tenants_load_string(ts, two, "t", 0, err, sizeof err), PG_OK);
    pg_tenant *a = pg_tenants_by_key(ts, "AKIAAAAAAAAAAAAAAAA1", 20);
    a->requests = 42;
    /* b goes, c comes, a changes key and groups: a keeps its slot and its counters. */
    const char *next = "[c]\naccess_key = AKIACCCCCCCCCCCCCCC3\nsecret_key = secret-of-tenant-c-0003\ngroups = c\n"
                       "[a]\naccess_key = AKIAAAAAAAAAAAAAAAA9\nsecret_key = secret-of-tenant-a-0009\ngroups = x\n";
    assert_int_equal(pg_tenants_load_string(ts, next, "t", 0, err, sizeof err), PG_OK);
    assert_int_equal(ts->n, 3);
    assert_ptr_equal(pg_tenants_by_key(ts, "AKIAAAAAAAAAAAAAAAA9", 20), a);
    assert_int_equal(a->requests, 42);
    assert_int_equal(pg_tenant_slot(ts, a), 0);
    assert_null(pg_tenants_by_key(ts, "AKIAAAAAAAAAAAAAAAA1", 20)); /* old key gone */
    assert_null(pg_tenants_by_key(ts, "AKIABBBBBBBBBBBBBBB2", 20)); /* b disabled */
    assert_false(ts->t[1].active);
    assert_false(pg_tenant_may_read(&ts->t[1], "bx-1"));
    assert_string_equal(ts->t[2].name, "c");
    pg_tenants_clear(ts);
    free(ts);
}

static void test_file_mode(void **state)
{
    (void)state;
    char path[] = "/tmp/profgate-tenants-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, two, sizeof two - 1), (ssize_t)(sizeof two - 1));
    close(fd);
    pg_tenants *ts = calloc(1, sizeof *ts);
    char err[256];
    chmod(path, 0644);
    assert_int_equal(pg_tenants_load_file(ts, path, 0, err, sizeof err), PG_EINVAL);
    assert_non_null(strstr(err, "others may read or write it (mode 644); chmod 600 it"));
    assert_int_equal(ts->n, 0);
    chmod(path, 0620);
    assert_int_equal(pg_tenants_load_file(ts, path, 0, err, sizeof err), PG_EINVAL);
    chmod(path, 0604);
    assert_int_equal(pg_tenants_load_file(ts, path, 0, err, sizeof err), PG_EINVAL);
    chmod(path, 0440); /* group-readable, as Kubernetes mounts secrets for an fsGroup */
    assert_int_equal(pg_tenants_load_file(ts, path, 0, err, sizeof err), PG_OK);
    chmod(path, 0600);
    assert_int_equal(pg_tenants_load_file(ts, path, 0, err, sizeof err), PG_OK);
    assert_int_equal(ts->n, 2);
    /* Through a symlink (how Kubernetes mounts Secrets): the target is checked and read. */
    char link[64];
    snprintf(link, sizeof link, "%s.link", path);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(pg_tenants_load_file(ts, link, 0, err, sizeof err), PG_OK);
    chmod(path, 0644);
    assert_int_equal(pg_tenants_load_file(ts, link, 0, err, sizeof err), PG_EINVAL);
    chmod(path, 0600);
    unlink(link);
    /* Owned by someone else (neither root nor us): refused, whatever the mode. Only root can
     * give a file away, so this part runs only as root. */
    if (geteuid() == 0) {
        assert_int_equal(chown(path, 4242, 4242), 0);
        assert_int_equal(pg_tenants_load_file(ts, path, 0, err, sizeof err), PG_EINVAL);
        assert_non_null(strstr(err, "owned by uid 4242"));
        assert_int_equal(chown(path, 0, 0), 0);
    }
    /* A directory is not a tenants file. */
    assert_int_equal(pg_tenants_load_file(ts, "/tmp", 0, err, sizeof err), PG_EINVAL);
    unlink(path);
    assert_int_equal(pg_tenants_load_file(ts, path, 0, err, sizeof err), PG_EINVAL);
    pg_tenants_clear(ts);
    free(ts);
}

static void test_example_file_loads(void **state)
{
    (void)state;
    FILE *f = fopen(PG_SOURCE_DIR "/conf/tenants.example.conf", "r");
    assert_non_null(f);
    char *text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, f);
    fclose(f);
    assert_true(n > 0);
    pg_tenants *ts = calloc(1, sizeof *ts);
    char err[256];
    assert_int_equal(pg_tenants_load_string(ts, text, "example", 0, err, sizeof err), PG_OK);
    assert_int_equal(ts->n, 2);
    free(text);
    free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_parse_and_lookup), cmocka_unit_test(test_errors),
                                       cmocka_unit_test(test_reload_keeps_slots), cmocka_unit_test(test_file_mode),
                                       cmocka_unit_test(test_example_file_loads)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
