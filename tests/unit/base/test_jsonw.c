/* Unit tests for jsonw.c: what is escaped and how, UTF-8 passing through, embedded NULs, and the
 * buffer's limit being respected by both the fast path and the escaping path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "profgate/jsonw.h"

static bool plain_bytewise(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\')
            return false;
    }
    return true;
}

/* The word-at-a-time check agrees with a byte-wise one: every byte value at every place of
 * strings of every length up to three words, amid plain, UTF-8 and neighbouring bytes. */
static void test_plain_check_matches_bytewise(void **state)
{
    (void)state;
    static const unsigned char fills[] = {'a', 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xc3, 0xff};
    char s[24];
    for (size_t f = 0; f < sizeof fills; f++)
        for (size_t len = 0; len <= sizeof s; len++)
            for (size_t at = 0; at < len; at++)
                for (int c = 0; c < 256; c++) {
                    memset(s, fills[f], sizeof s);
                    s[at] = (char)c;
                    assert_int_equal(pg_json_plain(s, len), plain_bytewise(s, len));
                }
    assert_true(pg_json_plain("", 0));
    assert_true(pg_json_plain("com.example.Worker.loop(Worker.java)", 36));
    assert_false(pg_json_plain("com.example.Worker.loop\"x", 25));
}

static void check(const char *in, size_t len, const char *want)
{
    pg_buf b;
    pg_buf_init(&b, 4096);
    assert_int_equal(pg_json_str(&b, in, len), PG_OK);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    pg_buf_free(&b);
}

static void test_plain_strings_are_quoted(void **state)
{
    (void)state;
    check("", 0, "\"\"");
    check("com.example.Main.run", 20, "\"com.example.Main.run\"");
}

static void test_quote_backslash_and_controls_are_escaped(void **state)
{
    (void)state;
    check("a\"b", 3, "\"a\\\"b\"");
    check("a\\b", 3, "\"a\\\\b\"");
    check("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
    check("\x01\x1f", 2, "\"\\u0001\\u001f\"");
    check("x\0y", 3, "\"x\\u0000y\"");
    /* Escapes between runs of plain bytes keep the runs in order. */
    check("ab\ncd\"ef", 8, "\"ab\\ncd\\\"ef\"");
    /* DEL and '/' need no escape. */
    check("/\x7f", 2, "\"/\x7f\"");
}

static void test_utf8_passes_through(void **state)
{
    (void)state;
    check("caf\xc3\xa9 \xe2\x82\xac", 9, "\"caf\xc3\xa9 \xe2\x82\xac\"");
}

static void test_cstr_is_the_same(void **state)
{
    (void)state;
    pg_buf b;
    pg_buf_init(&b, 64);
    assert_int_equal(pg_json_cstr(&b, "a\tb"), PG_OK);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "\"a\\tb\"", 6);
    pg_buf_free(&b);
}

static void test_the_buffer_limit_holds(void **state)
{
    (void)state;
    pg_buf b;
    /* Fast path: "abcdef" needs 8 bytes with quotes. */
    pg_buf_init(&b, 7);
    assert_int_equal(pg_json_str(&b, "abcdef", 6), PG_ELIMIT);
    assert_true(b.len <= 7);
    pg_buf_free(&b);
    pg_buf_init(&b, 8);
    assert_int_equal(pg_json_str(&b, "abcdef", 6), PG_OK);
    pg_buf_free(&b);
    /* Escaping path: "\n" x 4 needs 2 + 8 bytes. */
    pg_buf_init(&b, 9);
    assert_int_equal(pg_json_str(&b, "\n\n\n\n", 4), PG_ELIMIT);
    assert_true(b.len <= 9);
    pg_buf_free(&b);
    pg_buf_init(&b, 10);
    assert_int_equal(pg_json_str(&b, "\n\n\n\n", 4), PG_OK);
    pg_buf_free(&b);
}

/* What a client sent, echoed in an error message: UTF-8 kept whole, the rest replaced. */
static void test_utf8_echo(void **state)
{
    (void)state;
    char out[16];
    assert_string_equal(pg_utf8_echo("caf\xc3\xa9", 5, out, sizeof out), "caf\xc3\xa9");
    assert_string_equal(pg_utf8_echo("a\x01" "b\x7f'\"", 6, out, sizeof out), "a?b???");
    /* Not UTF-8: a stray continuation byte, an overlong '/', a surrogate, a truncated sequence. */
    assert_string_equal(pg_utf8_echo("\x80x\xc0\xaf", 4, out, sizeof out), "?x??");
    assert_string_equal(pg_utf8_echo("\xed\xa0\x80", 3, out, sizeof out), "???");
    assert_string_equal(pg_utf8_echo("\xe2\x82", 2, out, sizeof out), "??");
    assert_string_equal(pg_utf8_echo("\xf0\x9f\x94\xa5!", 5, out, sizeof out), "\xf0\x9f\x94\xa5!");
    /* Too long: cut on a character boundary, then "...". */
    assert_string_equal(pg_utf8_echo("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 16, out, 10),
                        "\xc3\xa9\xc3\xa9\xc3\xa9...");
    assert_string_equal(pg_utf8_echo("abcdefghijkl", 12, out, 8), "abcd...");
}

static void test_depth(void **state)
{
    (void)state;
    assert_int_equal(pg_json_depth("{}", 2), 1);
    assert_int_equal(pg_json_depth("{\"a\":[[1],{\"b\":[]}]}", 20), 4);
    assert_int_equal(pg_json_depth("\"[[[[\"", 6), 0);       /* brackets in a string do not count */
    assert_int_equal(pg_json_depth("[\"\\\"[[\"]", 8), 1);  /* nor after an escaped quote */
    assert_int_equal(pg_json_depth("]]]", 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_strings_are_quoted),
        cmocka_unit_test(test_plain_check_matches_bytewise),
        cmocka_unit_test(test_quote_backslash_and_controls_are_escaped),
        cmocka_unit_test(test_utf8_passes_through),
        cmocka_unit_test(test_cstr_is_the_same),
        cmocka_unit_test(test_the_buffer_limit_holds),
        cmocka_unit_test(test_utf8_echo),
        cmocka_unit_test(test_depth),
    };
    return cmocka_run_group_tests_name("jsonw", tests, NULL, NULL);
}
