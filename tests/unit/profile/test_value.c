/* Unit tests for value.c: members set, replaced and found; deep copies that share nothing;
 * structural equality; and deterministic output (members in key order, whatever the order they
 * were set in). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "profgate/value.h"

static pg_value *sample(bool reversed)
{
    pg_value *s = pg_value_struct_new();
    assert_non_null(s);
    if (reversed) {
        assert_int_equal(pg_value_set_str(s, "zone", "eu-west-1a"), PG_OK);
        assert_int_equal(pg_value_set_num(s, "cpus", 4), PG_OK);
    } else {
        assert_int_equal(pg_value_set_num(s, "cpus", 4), PG_OK);
        assert_int_equal(pg_value_set_str(s, "zone", "eu-west-1a"), PG_OK);
    }
    pg_value *tags = pg_value_set(s, "tags", 4);
    assert_non_null(tags);
    tags->kind = PG_V_LIST;
    return s;
}

static void json_of(const pg_value *v, char *out, size_t outlen)
{
    static pg_emit e;
    memset(&e, 0, sizeof e);
    pg_buf b;
    pg_buf_init(&b, outlen - 1);
    pg_emit_json(&e, &b);
    assert_int_equal(pg_value_emit(v, &e), PG_OK);
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    pg_buf_free(&b);
}

static void test_set_get_and_replace(void **state)
{
    (void)state;
    pg_value *s = sample(false);
    const pg_value *z = pg_value_get(s, "zone", 4);
    assert_non_null(z);
    assert_int_equal(z->kind, PG_V_STR);
    assert_int_equal(z->str_len, 10);
    assert_memory_equal(z->str, "eu-west-1a", 10);
    assert_null(pg_value_get(s, "zon", 3));
    assert_int_equal(pg_value_set_num(s, "zone", 7), PG_OK); /* replaces, kind and all */
    z = pg_value_get(s, "zone", 4);
    assert_int_equal(z->kind, PG_V_NUM);
    assert_true(z->num == 7);
    assert_int_equal(s->n, 3);
    pg_value_free(s);
}

static void test_output_is_in_key_order(void **state)
{
    (void)state;
    pg_value *a = sample(false), *b = sample(true);
    char ja[256], jb[256];
    json_of(a, ja, sizeof ja);
    json_of(b, jb, sizeof jb);
    assert_string_equal(ja, "{\"cpus\":4,\"tags\":[],\"zone\":\"eu-west-1a\"}");
    assert_string_equal(ja, jb);
    pg_value_free(a);
    pg_value_free(b);
}

static void test_clone_is_deep_and_equal(void **state)
{
    (void)state;
    pg_value *a = sample(false);
    pg_value *c = pg_value_clone(a);
    assert_non_null(c);
    assert_true(pg_value_equal(a, c));
    assert_ptr_not_equal(pg_value_get(a, "zone", 4)->str, pg_value_get(c, "zone", 4)->str);
    assert_int_equal(pg_value_set_str(c, "zone", "us-east-1a"), PG_OK);
    assert_false(pg_value_equal(a, c));
    assert_memory_equal(pg_value_get(a, "zone", 4)->str, "eu-west-1a", 10);
    pg_value_free(a);
    /* The clone outlives its source. */
    assert_memory_equal(pg_value_get(c, "zone", 4)->str, "us-east-1a", 10);
    pg_value_free(c);
}

static void test_equality_ignores_member_order_only(void **state)
{
    (void)state;
    pg_value *a = sample(false), *b = sample(true);
    assert_true(pg_value_equal(a, b));
    assert_int_equal(pg_value_set_num(b, "cpus", 8), PG_OK);
    assert_false(pg_value_equal(a, b));
    assert_int_equal(pg_value_set_num(b, "cpus", 4), PG_OK);
    assert_true(pg_value_equal(a, b));
    assert_int_equal(pg_value_set_num(b, "extra", 1), PG_OK);
    assert_false(pg_value_equal(a, b));
    pg_value_free(a);
    pg_value_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_and_replace),
        cmocka_unit_test(test_output_is_in_key_order),
        cmocka_unit_test(test_clone_is_deep_and_equal),
        cmocka_unit_test(test_equality_ignores_member_order_only),
    };
    return cmocka_run_group_tests_name("value", tests, NULL, NULL);
}
