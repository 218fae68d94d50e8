/* Unit tests for slab.c: objects are distinct, aligned, zeroed and reused; blocks are mapped as
 * objects need them and unmapped when empty, but for one kept; a count going back and forth over
 * a block's edge keeps at most that one spare block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "profgate/slab.h"

#define OBJ 368 /* a connection's size when this was written; any size would do */

/* n objects taken from s, in an array the caller frees. */
static void **take(pg_slab *s, size_t n)
{
    void **p = calloc(n, sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        p[i] = pg_slab_alloc(s);
        assert_non_null(p[i]);
    }
    return p;
}

static void test_objects_are_distinct_aligned_and_zeroed(void **state)
{
    (void)state;
    pg_slab s;
    pg_slab_init(&s, OBJ);
    size_t n = 3 * s.per_block + 7;
    void **p = take(&s, n);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *b = p[i];
        assert_int_equal((uintptr_t)b % 16, 0);
        for (size_t k = 0; k < OBJ; k++)
            assert_int_equal(b[k], 0);
        memset(p[i], (int)(i & 0xff) | 1, OBJ);
    }
    assert_int_equal(s.blocks, 4);
    assert_int_equal(s.live, n);
    /* Nothing overlapped: every object still holds its own bytes. */
    for (size_t i = 0; i < n; i++) {
        const unsigned char *b = p[i];
        for (size_t k = 0; k < OBJ; k++)
            assert_int_equal(b[k], (i & 0xff) | 1);
    }
    /* Freed and handed out again: zeroed again. */
    pg_slab_free(&s, p[5]);
    unsigned char *q = pg_slab_alloc(&s);
    assert_ptr_equal(q, p[5]);
    for (size_t k = 0; k < OBJ; k++)
        assert_int_equal(q[k], 0);
    for (size_t i = 0; i < n; i++)
        pg_slab_free(&s, p[i]);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.blocks, 1); /* one kept */
    pg_slab_destroy(&s);
    assert_int_equal(s.blocks, 0);
    free(p);
}

static void test_freed_slots_are_reused_before_new_blocks(void **state)
{
    (void)state;
    pg_slab s;
    pg_slab_init(&s, OBJ);
    size_t n = 2 * s.per_block;
    void **p = take(&s, n);
    assert_int_equal(s.blocks, 2);
    /* Every third one freed, in an order that is not the allocation's, then as many taken again. */
    for (size_t i = n; i-- > 0;)
        if (i % 3 == 0) {
            pg_slab_free(&s, p[i]);
            p[i] = NULL;
        }
    for (size_t i = 0; i < n; i++)
        if (p[i] == NULL)
            p[i] = pg_slab_alloc(&s);
    assert_int_equal(s.blocks, 2);
    assert_int_equal(s.live, n);
    for (size_t i = 0; i < n; i++)
        pg_slab_free(&s, p[i]);
    pg_slab_destroy(&s);
    free(p);
}

static void test_empty_blocks_are_unmapped_but_one(void **state)
{
    (void)state;
    pg_slab s;
    pg_slab_init(&s, OBJ);
    size_t n = 5 * s.per_block;
    void **p = take(&s, n);
    assert_int_equal(s.blocks, 5);
    /* The last four blocks emptied: three are unmapped, one kept. */
    for (size_t i = s.per_block; i < n; i++)
        pg_slab_free(&s, p[i]);
    assert_int_equal(s.blocks, 2);
    assert_int_equal(s.empty, 1);
    /* Going back and forth over the first block's edge maps nothing more. */
    for (int k = 0; k < 1000; k++) {
        void *x = pg_slab_alloc(&s);
        assert_non_null(x);
        assert_int_equal(s.blocks, 2);
        pg_slab_free(&s, x);
        assert_int_equal(s.blocks, 2);
    }
    for (size_t i = 0; i < s.per_block; i++)
        pg_slab_free(&s, p[i]);
    assert_int_equal(s.blocks, 1);
    pg_slab_destroy(&s);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objects_are_distinct_aligned_and_zeroed),
        cmocka_unit_test(test_freed_slots_are_reused_before_new_blocks),
        cmocka_unit_test(test_empty_blocks_are_unmapped_but_one),
    };
    return cmocka_run_group_tests_name("slab", tests, NULL, NULL);
}
