/* Unit tests for emit.c on its own (test_profile covers it through whole profiles): JSON
 * separators in nested containers, number formatting at the integer boundary and for values JSON
 * cannot hold, the two Ion passes producing the hand-computed bytes of every scalar type, and the
 * output limit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "profgate/emit.h"
#include "profgate/ionw.h"

/* One walk over a fixed document, as a producer would make it. */
static int walk(pg_emit *e)
{
    const pg_emit_ops *o = e->ops;
    int rc = o->begin_struct(e);
    rc = rc ?: o->field(e, "a", 1);
    rc = rc ?: o->begin_list(e);
    rc = rc ?: o->boolean(e, true);
    rc = rc ?: o->boolean(e, false);
    rc = rc ?: o->null(e);
    rc = rc ?: o->i64(e, 0);
    rc = rc ?: o->i64(e, -1);
    rc = rc ?: o->num(e, 300.0);
    rc = rc ?: o->num(e, 1.5);
    rc = rc ?: o->str(e, "hi", 2);
    rc = rc ?: o->end_list(e);
    rc = rc ?: o->field(e, "b", 1);
    rc = rc ?: o->begin_struct(e);
    rc = rc ?: o->end_struct(e);
    rc = rc ?: o->end_struct(e);
    return rc;
}

static void test_json_document(void **state)
{
    (void)state;
    static pg_emit e;
    memset(&e, 0, sizeof e);
    pg_buf b;
    pg_buf_init(&b, 4096);
    pg_emit_json(&e, &b);
    assert_int_equal(walk(&e), PG_OK);
    assert_true(pg_emit_done(&e));
    const char *want = "{\"a\":[true,false,null,0,-1,300,1.5,\"hi\"],\"b\":{}}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    pg_buf_free(&b);
}

static void json_num(double v, const char *want)
{
    static pg_emit e;
    memset(&e, 0, sizeof e);
    pg_buf b;
    pg_buf_init(&b, 64);
    pg_emit_json(&e, &b);
    assert_int_equal(e.ops->num(&e, v), PG_OK);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("%.17g written as '%.*s', want '%s'", v, (int)b.len, b.data, want);
    pg_buf_free(&b);
}

static void test_json_numbers(void **state)
{
    (void)state;
    json_num(9007199254740992.0, "9007199254740992"); /* 2^53: still an integer */
    json_num(-9007199254740992.0, "-9007199254740992");
    json_num(9007199254740994.0, "9007199254740994"); /* past 2^53: written as a double */
    json_num(0.1, "0.10000000000000001");
    json_num(-0.0, "0");
    json_num(NAN, "null"); /* JSON has no NaN or infinity */
    json_num(INFINITY, "null");
    assert_true(pg_num_is_int(9007199254740992.0));
    assert_false(pg_num_is_int(9007199254740994.0));
    assert_false(pg_num_is_int(0.5));
    assert_false(pg_num_is_int(NAN));
}

/* Integers at every digit count's edges, and the extremes, as printf writes them. */
static void test_integer_digits(void **state)
{
    (void)state;
    for (int d = 0; d <= 19; d++) {
        uint64_t p = 1;
        for (int k = 0; k < d; k++)
            p *= 10;
        const int64_t around[] = {(int64_t)p - 1, (int64_t)p, (int64_t)p + 1};
        for (size_t i = 0; i < 3; i++)
            for (int neg = 0; neg < 2; neg++) {
                if (d == 19 && i > 0)
                    continue; /* 10^19 is past int64 */
                int64_t v = neg ? -around[i] : around[i];
                char want[32], got[PG_EMIT_NUMBER_MAX + 1];
                int n = snprintf(want, sizeof want, "%lld", (long long)v);
                char *end = pg_emit_i64_chars(got, v);
                assert_int_equal(end - got, n);
                assert_memory_equal(got, want, (size_t)n);
            }
    }
    char got[PG_EMIT_NUMBER_MAX];
    assert_memory_equal(got, "-9223372036854775808", (size_t)(pg_emit_i64_chars(got, INT64_MIN) - got));
    assert_int_equal(pg_emit_i64_chars(got, INT64_MIN) - got, 20);
    assert_int_equal(pg_emit_i64_chars(got, INT64_MAX) - got, 19);
    assert_int_equal(pg_emit_i64_chars(got, 0) - got, 1);
    assert_int_equal(got[0], '0');
}

static void test_ion_document(void **state)
{
    (void)state;
    static pg_emit e;
    memset(&e, 0, sizeof e);
    pg_strtab syms;
    pg_strtab_init(&syms, 1 << 16, 1000);
    pg_emit_ion_measure(&e, &syms);
    assert_int_equal(walk(&e), PG_OK);
    pg_buf b;
    pg_buf_init(&b, 4096);
    assert_int_equal(pg_emit_ion_begin(&e, &b), PG_OK);
    assert_int_equal(walk(&e), PG_OK);
    assert_true(pg_emit_done(&e));
    /* Symbols "a" and "b" are $10 and $11. The list: true 11, false 10, null 0F, 0 20, -1 31 01,
     * 300 22 01 2C, 1.5 48 3FF8000000000000, "hi" 82 68 69: 21 bytes, so BE 95. The struct:
     * 8A + list (2 + 21) + 8B + D0 = 26 bytes: DE 9A. */
    static const unsigned char want[] = {
        0xE0, 0x01, 0x00, 0xEA,                         /* version marker */
        0xE9, 0x81, 0x83,                               /* $ion_symbol_table:: annotation, len 9 */
        0xD6, 0x87, 0xB4, 0x81, 'a', 0x81, 'b',         /* {symbols:["a","b"]}: 6 bytes */
        0xDE, 0x9A,                                     /* the struct, 26 bytes */
        0x8A, 0xBE, 0x95,                               /* a: a list of 21 bytes */
        0x11, 0x10, 0x0F, 0x20, 0x31, 0x01, 0x22, 0x01, 0x2C,
        0x48, 0x3F, 0xF8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x82, 'h', 'i',
        0x8B, 0xD0,                                     /* b: {} */
    };
    if (b.len != sizeof want || memcmp(b.data, want, b.len) != 0) {
        char hex[400] = "";
        for (size_t i = 0; i < b.len && i < 120; i++)
            snprintf(hex + strlen(hex), sizeof hex - strlen(hex), "%02X ", (unsigned char)b.data[i]);
        fail_msg("Ion bytes differ (%zu vs %zu): %s", b.len, sizeof want, hex);
    }
    pg_emit_free(&e);
    pg_strtab_free(&syms);
    pg_buf_free(&b);
}

static void test_output_limit_is_an_error_not_a_cut(void **state)
{
    (void)state;
    static pg_emit e;
    memset(&e, 0, sizeof e);
    pg_buf b;
    pg_buf_init(&b, 10);
    pg_emit_json(&e, &b);
    assert_int_equal(walk(&e), PG_ELIMIT);
    assert_true(b.len <= 10);
    pg_buf_free(&b);
}

/* pg_ion_int_put (one byte swap, an 8-byte store) writes what the byte-wise pg_ion_int_mag
 * gives, of pg_ion_int_size bytes, at every magnitude length and sign, and nothing past its
 * PG_ION_NUM_MAX bytes of room. */
static void test_ion_int_put(void **state)
{
    (void)state;
    int64_t vals[80];
    size_t nv = 0;
    vals[nv++] = 0;
    vals[nv++] = INT64_MAX;
    vals[nv++] = INT64_MIN;
    for (int b = 0; b < 63; b += 4) {
        vals[nv++] = (INT64_C(1) << b);
        vals[nv++] = -(INT64_C(1) << b);
        vals[nv++] = (INT64_C(1) << (b + 1)) - 1;
        vals[nv++] = -(INT64_C(1) << (b + 1)) + 1;
    }
    for (size_t i = 0; i < nv; i++) {
        char room[PG_ION_NUM_MAX + 4];
        memset(room, 0x5a, sizeof room);
        char *end = pg_ion_int_put(room, vals[i]);
        unsigned char be[8];
        int type;
        size_t n = pg_ion_int_mag(vals[i], &type, be);
        assert_int_equal((size_t)(end - room), 1 + n);
        assert_int_equal((size_t)(end - room), pg_ion_int_size(vals[i]));
        assert_int_equal((unsigned char)room[0], (unsigned)(type << 4 | (int)n));
        assert_memory_equal(room + 1, be, n);
        for (size_t k = PG_ION_NUM_MAX; k < sizeof room; k++)
            assert_int_equal(room[k], 0x5a);
    }
}

/* pg_ion_count_mag takes exactly the doubles that are integers (pg_num_is_int) and not negative
 * (-0 is zero), with their value; everything else goes to the general path. */
static void test_ion_count_mag(void **state)
{
    (void)state;
    const double two53 = 9007199254740992.0;
    const double vals[] = {0.0, -0.0, 1.0, 2.0, 255.0, 256.0, 65535.0, 1e15, two53 - 1, two53, two53 + 2, 1e300,
                           18446744073709551616.0, 9223372036854775808.0, -9223372036854775808.0, -1.0, -two53,
                           0.5, 1.5, two53 - 0.5, 4.9e-324, -4.9e-324, NAN, -NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        double v = vals[i];
        uint64_t mag = 12345;
        bool want = pg_num_is_int(v) && v >= 0;
        assert_int_equal(pg_ion_count_mag(v, &mag), want);
        if (want)
            assert_true(mag == (uint64_t)(int64_t)v);
    }
    /* Around every power of two up to 2^53, and its halves. */
    for (int b = 0; b <= 53; b++) {
        double p = ldexp(1.0, b);
        const double near[] = {p - 1, p, p + 1, p - 0.5, p + 0.5};
        for (size_t i = 0; i < sizeof near / sizeof *near; i++) {
            uint64_t mag;
            bool want = pg_num_is_int(near[i]) && near[i] >= 0;
            assert_int_equal(pg_ion_count_mag(near[i], &mag), want);
            if (want)
                assert_true(mag == (uint64_t)near[i]);
        }
    }
}

/* The VarUInt length from the bit length, against the loop it replaced, at every bit length. */
static void test_ion_varuint_len(void **state)
{
    (void)state;
    for (int b = 0; b < 64; b++) {
        uint64_t vs[3] = {UINT64_C(1) << b, (UINT64_C(1) << b) - 1, (UINT64_C(1) << b) | 1};
        for (size_t i = 0; i < 3; i++) {
            uint64_t v = vs[i];
            size_t want = 1;
            for (uint64_t x = v; x >= 0x80; x >>= 7)
                want++;
            assert_int_equal(pg_ion_varuint_len(v), want);
            char room[16];
            assert_int_equal((size_t)(pg_ion_varuint_put(room, v) - room), want);
        }
    }
    assert_int_equal(pg_ion_varuint_len(UINT64_MAX), 10);
}

/* The backward writers put the forward ones' bytes, ending where they are told, and write
 * nothing at or past that end nor further back than their room (PG_ION_NUM_MAX for a number,
 * PG_ION_TD_MAX for a head). */
static void test_ion_backward_matches_forward(void **state)
{
    (void)state;
    enum { END = 24 };
    for (int b = 0; b < 64; b++) {
        uint64_t us[3] = {UINT64_C(1) << b, (UINT64_C(1) << b) - 1, (UINT64_C(1) << b) | 1};
        for (size_t i = 0; i < 3; i++) {
            for (int kind = 0; kind < 3; kind++) {
                char fwd[32], bwd[END + 8];
                memset(bwd, 0x5a, sizeof bwd);
                char *fe, *start;
                size_t room;
                if (kind == 0) { /* a VarUInt */
                    fe = pg_ion_varuint_put(fwd, us[i]);
                    start = pg_ion_varuint_back(bwd + END, us[i]);
                    room = 10;
                } else if (kind == 1) { /* a head: a struct of that length */
                    fe = pg_ion_td_put(fwd, PG_ION_STRUCT, us[i]);
                    start = pg_ion_td_back(bwd + END, PG_ION_STRUCT, us[i]);
                    room = PG_ION_TD_MAX;
                } else { /* an int of either sign */
                    int64_t v = (int64_t)(us[i] >> 1) * (i == 1 ? -1 : 1);
                    fe = pg_ion_int_put(fwd, v);
                    start = pg_ion_int_back(bwd + END, v);
                    room = PG_ION_NUM_MAX;
                }
                size_t n = (size_t)(fe - fwd);
                assert_int_equal((size_t)(bwd + END - start), n);
                assert_memory_equal(start, fwd, n);
                for (size_t k = END; k < sizeof bwd; k++)
                    assert_int_equal(bwd[k], 0x5a);
                for (size_t k = 0; k < END - room; k++)
                    assert_int_equal(bwd[k], 0x5a);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_document),
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_integer_digits),
        cmocka_unit_test(test_ion_document), cmocka_unit_test(test_ion_int_put), cmocka_unit_test(test_ion_varuint_len), cmocka_unit_test(test_ion_count_mag),
        cmocka_unit_test(test_ion_backward_matches_forward),
        cmocka_unit_test(test_output_limit_is_an_error_not_a_cut),
    };
    return cmocka_run_group_tests_name("emit", tests, NULL, NULL);
}
