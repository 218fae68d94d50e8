/* Unit tests for gzip.c: a stream fed in uneven pieces inflates to exactly its input, and to the
 * same bytes the one-shot form gives. Decoding uses zlib's inflate, independent of our writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "profgate/gzip.h"

static void gunzip(const pg_buf *in, pg_buf *out)
{
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    int zr;
    do {
        assert_int_equal(pg_buf_reserve(out, 65536), PG_OK);
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = 65536;
        zr = inflate(&z, Z_NO_FLUSH);
        out->len += 65536 - z.avail_out;
        assert_true(zr == Z_OK || zr == Z_STREAM_END);
    } while (zr != Z_STREAM_END);
    assert_int_equal(z.avail_in, 0); /* nothing after the trailer */
    inflateEnd(&z);
}

static void test_stream_round_trip(void **state)
{
    (void)state;
    pg_buf plain, packed, back, whole, back2;
    pg_buf_init(&plain, 1 << 24);
    pg_buf_init(&packed, 1 << 24);
    pg_buf_init(&back, 1 << 24);
    pg_buf_init(&whole, 1 << 24);
    pg_buf_init(&back2, 1 << 24);
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 300000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char c = (char)(i % 97 < 60 ? 'a' + (char)(i % 7) : (char)x); /* some text, some noise */
        assert_int_equal(pg_buf_append(&plain, &c, 1), PG_OK);
    }
    pg_gzip_stream *g;
    assert_int_equal(pg_gzip_stream_new(6, &g), PG_OK);
    size_t off = 0, step = 1;
    while (off < plain.len) {
        size_t n = plain.len - off < step ? plain.len - off : step;
        assert_int_equal(pg_gzip_stream_write(g, plain.data + off, n, false, &packed), PG_OK);
        off += n;
        step = step * 3 + 1;
    }
    assert_int_equal(pg_gzip_stream_write(g, NULL, 0, true, &packed), PG_OK);
    pg_gzip_stream_free(g);
    gunzip(&packed, &back);
    assert_int_equal(back.len, plain.len);
    assert_memory_equal(back.data, plain.data, plain.len);
    assert_int_equal(pg_gzip(plain.data, plain.len, 6, &whole), PG_OK);
    gunzip(&whole, &back2);
    assert_memory_equal(back2.data, plain.data, plain.len);
    pg_buf_free(&plain);
    pg_buf_free(&packed);
    pg_buf_free(&back);
    pg_buf_free(&whole);
    pg_buf_free(&back2);
}

static void test_empty_stream(void **state)
{
    (void)state;
    pg_buf packed, back;
    pg_buf_init(&packed, 1 << 20);
    pg_buf_init(&back, 1 << 20);
    pg_gzip_stream *g;
    assert_int_equal(pg_gzip_stream_new(1, &g), PG_OK);
    assert_int_equal(pg_gzip_stream_write(g, "", 0, true, &packed), PG_OK);
    pg_gzip_stream_free(g);
    gunzip(&packed, &back);
    assert_int_equal(back.len, 0);
    pg_buf_free(&packed);
    pg_buf_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_round_trip),
        cmocka_unit_test(test_empty_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
