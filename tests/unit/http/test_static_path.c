/* Unit tests for static_path.c: the page's names map to files with their content types; the
 * prefix is index.html and the prefix without its slash a redirect; anything that could leave the
 * root, name a hidden file or a directory, or has an extension the site does not serve, is not found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "profgate/static_path.h"

static pg_static_kind map(const char *path, char *rel, const char **ctype)
{
    return pg_static_path(path, strlen(path), "/ui/", rel, ctype);
}

static void test_files_and_types(void **state)
{
    (void)state;
    static const struct {
        const char *path, *rel, *ctype;
    } ok[] = {
        {"/ui/", "index.html", "text/html; charset=utf-8"},
        {"/ui/app.js", "app.js", "text/javascript; charset=utf-8"},
        {"/ui/app.css", "app.css", "text/css; charset=utf-8"},
        {"/ui/node_modules/d3/dist/d3.min.js", "node_modules/d3/dist/d3.min.js", "text/javascript; charset=utf-8"},
        {"/ui/node_modules/speedscope/dist/release/jfrview_bg-BLJXNNQB.wasm",
         "node_modules/speedscope/dist/release/jfrview_bg-BLJXNNQB.wasm", "application/wasm"},
        {"/ui/shot.png", "shot.png", "image/png"},
        {"/ui/a.b.json", "a.b.json", "application/json"},
    };
    char rel[PG_STATIC_PATH_MAX + 1];
    const char *ctype;
    for (size_t i = 0; i < PG_ARRAY_LEN(ok); i++) {
        if (map(ok[i].path, rel, &ctype) != PG_SP_FILE)
            fail_msg("refused %s", ok[i].path);
        assert_string_equal(rel, ok[i].rel);
        assert_string_equal(ctype, ok[i].ctype);
    }
    assert_int_equal(map("/ui", rel, &ctype), PG_SP_REDIRECT);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "/u",
        "/uix/app.js",
        "/ui/../etc/passwd",
        "/ui/a/../../x.js",
        "/ui/%2e%2e/x.js",
        "/ui//app.js",
        "/ui/.env.json",
        "/ui/node_modules/.bin/x.js",
        "/ui/dir/",
        "/ui/app",
        "/ui/app.sh",
        "/ui/a b.js",
        "/ui/a\\b.js",
        "/ui/a\0b.js",
        "/ui/.",
        "/ui/x.js?",
        "/UI/app.js",
        "/ui/app.js.",
    };
    char rel[PG_STATIC_PATH_MAX + 1];
    const char *ctype;
    for (size_t i = 0; i < PG_ARRAY_LEN(bad); i++)
        if (map(bad[i], rel, &ctype) != PG_SP_NOT_FOUND)
            fail_msg("accepted %s", bad[i]);
    /* Embedded NUL: the length counts, not the C string. */
    assert_int_equal(pg_static_path("/ui/a\0b.js", 11, "/ui/", rel, &ctype), PG_SP_NOT_FOUND);
    /* The longest name fits; one more byte does not. */
    char path[4 + PG_STATIC_PATH_MAX + 2];
    memcpy(path, "/ui/", 4);
    memset(path + 4, 'a', PG_STATIC_PATH_MAX - 3);
    memcpy(path + 4 + PG_STATIC_PATH_MAX - 3, ".js", 3);
    assert_int_equal(pg_static_path(path, 4 + PG_STATIC_PATH_MAX, "/ui/", rel, &ctype), PG_SP_FILE);
    assert_int_equal(strlen(rel), PG_STATIC_PATH_MAX);
    memmove(path + 5, path + 4, PG_STATIC_PATH_MAX);
    assert_int_equal(pg_static_path(path, 4 + PG_STATIC_PATH_MAX + 1, "/ui/", rel, &ctype), PG_SP_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_and_types),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
