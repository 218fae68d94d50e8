/* Unit tests for strtab.c: dense ids, lookups without adding, the byte and count limits, growth
 * past the initial tables, room reserved ahead, independent copies, and ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "profgate/strtab.h"

static void test_equal_strings_get_one_dense_id(void **state)
{
    (void)state;
    pg_strtab t;
    pg_strtab_init(&t, 1 << 20, 1000);
    uint32_t a = pg_strtab_intern(&t, "main", 4);
    uint32_t b = pg_strtab_intern(&t, "run", 3);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_equal(pg_strtab_intern(&t, "main", 4), a);
    /* Same prefix, different length: a different string. */
    assert_int_equal(pg_strtab_intern(&t, "mai", 3), 2);
    /* Embedded NUL bytes are part of the string. */
    assert_int_equal(pg_strtab_intern(&t, "a\0b", 3), 3);
    assert_int_equal(pg_strtab_intern(&t, "a\0c", 3), 4);
    size_t len;
    const char *s = pg_strtab_get(&t, 3, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 3);
    assert_int_equal(t.n, 5);
    pg_strtab_free(&t);
}

static void test_find_does_not_add(void **state)
{
    (void)state;
    pg_strtab t;
    pg_strtab_init(&t, 1 << 20, 1000);
    assert_int_equal(pg_strtab_find(&t, "x", 1), PG_STR_NONE);
    assert_int_equal(t.n, 0);
    uint32_t x = pg_strtab_intern(&t, "x", 1);
    assert_int_equal(pg_strtab_find(&t, "x", 1), x);
    assert_int_equal(pg_strtab_find(&t, "y", 1), PG_STR_NONE);
    assert_int_equal(t.n, 1);
    pg_strtab_free(&t);
}

static void test_limits_refuse_without_losing_what_is_there(void **state)
{
    (void)state;
    pg_strtab t;
    pg_strtab_init(&t, 10, 3);
    assert_int_equal(pg_strtab_intern(&t, "abcd", 4), 0);
    assert_int_equal(pg_strtab_intern(&t, "efgh", 4), 1);
    /* 8 of 10 bytes used: a 3-byte string does not fit, a 2-byte one does. */
    assert_int_equal(pg_strtab_intern(&t, "ijk", 3), PG_STR_NONE);
    assert_int_equal(pg_strtab_intern(&t, "ij", 2), 2);
    /* The count limit: a fourth string is refused even though it is empty. */
    assert_int_equal(pg_strtab_intern(&t, "", 0), PG_STR_NONE);
    /* Strings already there are still found, and re-interning them costs nothing. */
    assert_int_equal(pg_strtab_intern(&t, "abcd", 4), 0);
    size_t len;
    assert_memory_equal(pg_strtab_get(&t, 1, &len), "efgh", 4);
    pg_strtab_free(&t);
}

static void test_many_strings_grow_the_tables(void **state)
{
    (void)state;
    pg_strtab t;
    pg_strtab_init(&t, 1 << 24, 100000);
    char name[32];
    for (uint32_t i = 0; i < 20000; i++) {
        int n = snprintf(name, sizeof name, "frame_%u", i);
        assert_int_equal(pg_strtab_intern(&t, name, (size_t)n), i);
    }
    for (uint32_t i = 0; i < 20000; i += 997) {
        int n = snprintf(name, sizeof name, "frame_%u", i);
        assert_int_equal(pg_strtab_find(&t, name, (size_t)n), i);
        size_t len;
        const char *s = pg_strtab_get(&t, i, &len);
        assert_int_equal(len, (size_t)n);
        assert_memory_equal(s, name, len);
    }
    pg_strtab_free(&t);
}

static void test_reserved_room_is_used_without_growing(void **state)
{
    (void)state;
    pg_strtab t;
    pg_strtab_init(&t, 1 << 20, 5000);
    assert_int_equal(pg_strtab_intern(&t, "kept", 4), 0);
    char name[32];
    /* Room for 3,000 strings of at most 10 bytes, besides the one there. */
    assert_int_equal(pg_strtab_reserve(&t, 3001, 4 + 3000 * 10, 3001), PG_OK);
    const char *bytes = t.bytes;
    const uint32_t *off = t.off, *slots = t.slots;
    uint32_t nslots = t.nslots;
    for (uint32_t i = 0; i < 3000; i++) {
        int n = snprintf(name, sizeof name, "f%u", i);
        assert_int_equal(pg_strtab_intern(&t, name, (size_t)n), i + 1);
    }
    /* Nothing was reallocated or rehashed, and everything is found, the string from before too. */
    assert_ptr_equal(t.bytes, bytes);
    assert_ptr_equal(t.off, off);
    assert_ptr_equal(t.slots, slots);
    assert_int_equal(t.nslots, nslots);
    assert_int_equal(pg_strtab_find(&t, "kept", 4), 0);
    for (uint32_t i = 0; i < 3000; i += 7) {
        int n = snprintf(name, sizeof name, "f%u", i);
        assert_int_equal(pg_strtab_find(&t, name, (size_t)n), i + 1);
    }
    /* One more string than reserved still goes in: the table grows as before. */
    assert_int_equal(pg_strtab_intern(&t, "one more", 8), 3001);
    assert_int_equal(pg_strtab_find(&t, "f2999", 5), 3000);
    pg_strtab_free(&t);

    /* Reservations are capped at the limits, so a large one is no way around them. */
    pg_strtab_init(&t, 100, 10);
    assert_int_equal(pg_strtab_reserve(&t, 1000000, 1 << 30, 1000000), PG_OK);
    assert_true(t.cap <= 10 && t.bytes_cap <= 100);
    for (uint32_t i = 0; i < 10; i++) {
        int n = snprintf(name, sizeof name, "s%u", i);
        assert_int_equal(pg_strtab_intern(&t, name, (size_t)n), i);
    }
    assert_int_equal(pg_strtab_intern(&t, "x", 1), PG_STR_NONE);
    pg_strtab_free(&t);
}

/* Appended strings are new ids even when the text is there (an Ion symbol table may repeat one),
 * stay out of the index, so interning among many of them rehashes nothing, and keep the limits. */
static void test_appended_strings_repeat_and_stay_out_of_the_index(void **state)
{
    (void)state;
    pg_strtab t;
    pg_strtab_init(&t, 1 << 20, 3000);
    assert_int_equal(pg_strtab_intern(&t, "a", 1), 0);
    assert_int_equal(pg_strtab_append(&t, "a", 1), 1);
    assert_int_equal(pg_strtab_append(&t, "bb", 2), 2);
    size_t len;
    assert_memory_equal(pg_strtab_get(&t, 1, &len), "a", 1);
    assert_int_equal(len, 1);
    assert_memory_equal(pg_strtab_get(&t, 2, &len), "bb", 2);
    assert_int_equal(pg_strtab_find(&t, "a", 1), 0);
    assert_int_equal(pg_strtab_find(&t, "bb", 2), PG_STR_NONE); /* not indexed */
    char name[32];
    for (uint32_t i = 0; i < 2000; i++) {
        int n = snprintf(name, sizeof name, "f%u", i);
        assert_int_equal(pg_strtab_append(&t, name, (size_t)n), i + 3);
    }
    const uint32_t *slots = t.slots;
    uint32_t nslots = t.nslots;
    assert_true(nslots < 2000); /* an index sized for what was interned */
    for (uint32_t i = 0; i < 10; i++) {
        int n = snprintf(name, sizeof name, "g%u", i);
        assert_int_equal(pg_strtab_intern(&t, name, (size_t)n), 2003 + i);
    }
    assert_ptr_equal(t.slots, slots);
    assert_int_equal(t.nslots, nslots);
    assert_int_equal(pg_strtab_find(&t, "g9", 2), 2012);
    /* Without its index the table is scanned: the first string of that text is found. */
    assert_int_equal(pg_strtab_shrink(&t, false), PG_OK);
    assert_int_equal(pg_strtab_find(&t, "bb", 2), 2);
    /* Interning rebuilds the index over every string, the appended ones too. */
    assert_int_equal(pg_strtab_intern(&t, "f1999", 5), 2002);
    assert_int_equal(pg_strtab_find(&t, "f7", 2), 10);
    pg_strtab_free(&t);

    pg_strtab_init(&t, 10, 3);
    assert_int_equal(pg_strtab_append(&t, "0123456789x", 11), PG_STR_NONE); /* the bytes' limit */
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(pg_strtab_append(&t, "ab", 2), i);
    assert_int_equal(pg_strtab_append(&t, "ab", 2), PG_STR_NONE); /* the count's */
    pg_strtab_free(&t);
}

static void test_copy_is_independent(void **state)
{
    (void)state;
    pg_strtab a, b;
    pg_strtab_init(&a, 1 << 20, 1000);
    pg_strtab_intern(&a, "one", 3);
    pg_strtab_intern(&a, "two", 3);
    assert_int_equal(pg_strtab_copy(&b, &a), PG_OK);
    assert_int_equal(pg_strtab_intern(&b, "three", 5), 2);
    assert_int_equal(pg_strtab_find(&a, "three", 5), PG_STR_NONE);
    assert_int_equal(pg_strtab_find(&b, "two", 3), 1);
    pg_strtab_free(&a);
    /* b survives a's end. */
    size_t len;
    assert_memory_equal(pg_strtab_get(&b, 0, &len), "one", 3);
    assert_int_equal(b.bytes_limit, (size_t)1 << 20);
    pg_strtab_free(&b);
}

static void test_cmp_is_bytewise_with_shorter_prefix_first(void **state)
{
    (void)state;
    pg_strtab t;
    pg_strtab_init(&t, 1 << 20, 1000);
    uint32_t ab = pg_strtab_intern(&t, "ab", 2), abc = pg_strtab_intern(&t, "abc", 3);
    uint32_t b = pg_strtab_intern(&t, "b", 1), hi = pg_strtab_intern(&t, "\xc3\xa9", 2);
    assert_true(pg_strtab_cmp(&t, ab, abc) < 0);
    assert_true(pg_strtab_cmp(&t, abc, ab) > 0);
    assert_true(pg_strtab_cmp(&t, abc, b) < 0);
    assert_true(pg_strtab_cmp(&t, b, hi) < 0); /* unsigned bytes: 0xc3 sorts after 'b' */
    assert_int_equal(pg_strtab_cmp(&t, b, b), 0);
    pg_strtab_free(&t);
}

/* A table shrunk without its index still finds every string (by a scan), interns a known string
 * to its id rather than adding it twice, and gets its index back when interned into again. */
static void test_shrunk_without_index(void **state)
{
    (void)state;
    pg_strtab t;
    pg_strtab_init(&t, 1 << 20, 10000);
    char name[32];
    for (int i = 0; i < 500; i++) {
        int n = snprintf(name, sizeof name, "frame%d", i);
        assert_int_equal(pg_strtab_intern(&t, name, (size_t)n), (uint32_t)i);
    }
    assert_int_equal(pg_strtab_shrink(&t, false), PG_OK);
    assert_int_equal(t.nslots, 0);
    assert_int_equal(pg_strtab_find(&t, "frame321", 8), 321);
    assert_int_equal(pg_strtab_find(&t, "frame5000", 9), PG_STR_NONE);
    assert_int_equal(t.nslots, 0); /* finding does not rebuild it */
    /* Interning does, even a known string: a merge interns every name of its source into a copy
     * of a cached bucket, and must not scan for each one. */
    assert_int_equal(pg_strtab_intern(&t, "frame7", 6), 7);
    assert_int_equal(t.n, 500);
    assert_true(t.nslots >= 2 * t.n);
    assert_int_equal(pg_strtab_intern(&t, "new", 3), 500);
    for (int i = 0; i < 500; i++) {
        int n = snprintf(name, sizeof name, "frame%d", i);
        assert_int_equal(pg_strtab_find(&t, name, (size_t)n), (uint32_t)i);
    }
    pg_strtab_free(&t);
}

/* The tables' hash spreads names that differ only in a digit or in their last bytes over the low
 * bits the tables use: 20,000 names into 65,536 slots fill as random keys would (about 17,400
 * distinct slots expected; a hash that ignored the tail or mixed weakly would fill far fewer),
 * and every length from 0 to 40 of the same bytes hashes differently. */
static void test_hash_spreads_similar_names(void **state)
{
    (void)state;
    static uint8_t seen[65536];
    memset(seen, 0, sizeof seen);
    unsigned distinct = 0;
    char name[64];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(name, sizeof name, "com.example.service.Handler.method%d", i);
        uint32_t slot = (uint32_t)pg_hash_mem(name, (size_t)n) & 0xffff;
        distinct += seen[slot] == 0;
        seen[slot] = 1;
    }
    assert_true(distinct > 16800);
    memset(name, 'a', sizeof name);
    uint64_t h[41];
    for (size_t len = 0; len <= 40; len++) {
        h[len] = pg_hash_mem(name, len);
        for (size_t k = 0; k < len; k++)
            assert_true(h[k] != h[len]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_strings_get_one_dense_id),
        cmocka_unit_test(test_find_does_not_add),
        cmocka_unit_test(test_limits_refuse_without_losing_what_is_there),
        cmocka_unit_test(test_many_strings_grow_the_tables),
        cmocka_unit_test(test_reserved_room_is_used_without_growing),
        cmocka_unit_test(test_appended_strings_repeat_and_stay_out_of_the_index),
        cmocka_unit_test(test_copy_is_independent),
        cmocka_unit_test(test_cmp_is_bytewise_with_shorter_prefix_first),
        cmocka_unit_test(test_hash_spreads_similar_names),
        cmocka_unit_test(test_shrunk_without_index),
    };
    return cmocka_run_group_tests_name("strtab", tests, NULL, NULL);
}
