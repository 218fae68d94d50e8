/* Unit tests for folded.c: every path with a count comes out once, with its count, checked against
 * a recursive walk of the same tree; written in small steps it is the same text; maxDepth folds
 * subtrees into the frame at the limit and keeps the total; names that would break the format are
 * made safe; the default counter is the one with the largest total. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profgate/folded.h"
#include "profgate/simgen.h"

static pg_profile_limits lim(void)
{
    pg_profile_limits l;
    pg_profile_limits_default(&l);
    return l;
}

static void sim_profile(uint32_t nodes, pg_profile *p)
{
    pg_simgen_cfg c = {.seed = 9, .nodes = nodes, .data_since_s = 0, .cache_bytes = 64 << 20};
    pg_simgen *g = pg_simgen_new(&c);
    pg_simacc a;
    assert_int_equal(pg_simgen_acc_init(g, "f", &a), PG_OK);
    assert_int_equal(pg_simgen_add(g, "f", PG_P1H, 3600, INT64_MAX / 4, &a), PG_OK);
    pg_profile_limits l = lim();
    assert_int_equal(pg_profile_init(p, &l), PG_OK);
    assert_int_equal(pg_simgen_profile(g, "f", &a, 3600 * 1000, 7200 * 1000, p), PG_OK);
    pg_simgen_acc_free(&a);
    pg_simgen_free(g);
}

static void folded(const pg_profile *p, uint32_t counter, uint32_t depth, size_t budget, pg_buf *out)
{
    pg_fwriter *w;
    assert_int_equal(pg_fwriter_new(p, counter, depth, &w), PG_OK);
    pg_buf_init(out, 256 << 20);
    bool done = false;
    size_t steps = 0;
    while (!done) {
        assert_int_equal(pg_fwriter_step(w, out, out->len + budget, &done), PG_OK);
        steps++;
    }
    pg_fwriter_free(w);
    assert_true(budget > out->len || steps > 1);
}

/* The expected lines, by recursion (another walk than the writer's): "path count\n" each, into
 * a list of strings; returns the number. */
static size_t expect(const pg_profile *p, uint32_t node, uint32_t counter, char *path, size_t plen, char **lines,
                     size_t n)
{
    for (uint32_t c = p->nodes[node].first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling) {
        size_t len;
        const char *name = pg_strtab_get(&p->strs, p->nodes[c].name, &len);
        size_t l2 = plen + (plen ? 1 : 0) + len;
        assert_true(l2 < 65536);
        if (plen)
            path[plen] = ';';
        memcpy(path + plen + (plen ? 1 : 0), name, len);
        path[l2] = '\0';
        double v = pg_profile_self_count(p, c, counter);
        if (v != 0) {
            char *line = malloc(l2 + 40);
            snprintf(line, l2 + 40, "%s %lld\n", path, (long long)v);
            lines[n++] = line;
        }
        n = expect(p, c, counter, path, l2, lines, n);
    }
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_every_path_once(void **state)
{
    (void)state;
    pg_profile p;
    sim_profile(3000, &p);
    uint32_t counter;
    assert_int_equal(pg_profile_pick_counter(&p, NULL, 0, &counter), PG_OK);
    pg_buf whole, stepped;
    folded(&p, counter, 0, SIZE_MAX / 2, &whole);
    folded(&p, counter, 0, 1, &stepped); /* a line per step */
    assert_int_equal(whole.len, stepped.len);
    assert_memory_equal(whole.data, stepped.data, whole.len);

    char **lines = calloc(p.n, sizeof *lines);
    static char path[65536];
    size_t n = expect(&p, 0, counter, path, 0, lines, 0);
    assert_true(n > 100);
    qsort(lines, n, sizeof *lines, cmp_str);
    /* The writer's lines, sorted the same way, are exactly these. */
    char **got = calloc(n + 1, sizeof *got);
    size_t m = 0;
    for (char *s = whole.data, *end = whole.data + whole.len; s < end;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        assert_non_null(nl);
        assert_true(m < n);
        got[m] = strndup(s, (size_t)(nl - s + 1));
        m++;
        s = nl + 1;
    }
    assert_int_equal(m, n);
    qsort(got, m, sizeof *got, cmp_str);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(got[i], lines[i]);
        free(got[i]);
        free(lines[i]);
    }
    free(got);
    free(lines);
    pg_buf_free(&whole);
    pg_buf_free(&stepped);
    pg_profile_free(&p);
}

static double total(const pg_buf *b)
{
    double t = 0;
    for (char *s = b->data, *end = b->data + b->len; s < end;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *sp = nl;
        while (sp > s && sp[-1] != ' ')
            sp--;
        t += strtod(sp, NULL);
        s = nl + 1;
    }
    return t;
}

static size_t max_frames(const pg_buf *b)
{
    size_t best = 0, cur = 1;
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] == ';')
            cur++;
        if (b->data[i] == '\n') {
            best = cur > best ? cur : best;
            cur = 1;
        }
    }
    return best;
}

static void test_max_depth_keeps_the_total(void **state)
{
    (void)state;
    pg_profile p;
    sim_profile(3000, &p);
    uint32_t counter;
    assert_int_equal(pg_profile_pick_counter(&p, NULL, 0, &counter), PG_OK);
    pg_buf all, two;
    folded(&p, counter, 0, SIZE_MAX / 2, &all);
    folded(&p, counter, 2, 4096, &two);
    assert_true(max_frames(&all) > 2);
    assert_int_equal(max_frames(&two), 2);
    assert_true(total(&two) == total(&all));
    pg_buf_free(&all);
    pg_buf_free(&two);
    pg_profile_free(&p);
}

static void test_names_counters_and_root(void **state)
{
    (void)state;
    pg_profile_limits l = lim();
    pg_profile p;
    assert_int_equal(pg_profile_init(&p, &l), PG_OK);
    uint32_t a = pg_profile_child(&p, 0, "a;b", 3);
    uint32_t b = pg_profile_child(&p, a, "line\nbreak", 10);
    uint32_t c = pg_profile_child(&p, 0, "plain frame", 11);
    assert_int_equal(pg_profile_add_count(&p, b, "RUNNABLE", 8, 3), PG_OK);
    assert_int_equal(pg_profile_add_count(&p, c, "RUNNABLE", 8, 1.5), PG_OK);
    assert_int_equal(pg_profile_add_count(&p, c, "WAITING", 7, 10), PG_OK);
    assert_int_equal(pg_profile_add_count(&p, 0, "WAITING", 7, 2), PG_OK);
    uint32_t id;
    assert_int_equal(pg_profile_pick_counter(&p, NULL, 0, &id), PG_OK); /* WAITING: 12 > 4.5 */
    assert_int_equal(id, pg_strtab_find(&p.strs, "WAITING", 7));
    assert_int_equal(pg_profile_pick_counter(&p, "NATIVE", 6, &id), PG_ENOTFOUND);
    assert_int_equal(pg_profile_pick_counter(&p, "RUNNABLE", 8, &id), PG_OK);
    pg_buf out;
    folded(&p, id, 0, SIZE_MAX / 2, &out);
    assert_int_equal(out.len, strlen("a|b;line break 3\nplain frame 1.5\n"));
    assert_memory_equal(out.data, "a|b;line break 3\nplain frame 1.5\n", out.len);
    pg_buf_free(&out);
    assert_int_equal(pg_profile_pick_counter(&p, "WAITING", 7, &id), PG_OK);
    folded(&p, id, 0, SIZE_MAX / 2, &out);
    assert_int_equal(out.len, strlen("(root) 2\nplain frame 10\n"));
    assert_memory_equal(out.data, "(root) 2\nplain frame 10\n", out.len);
    pg_buf_free(&out);
    pg_profile_free(&p);
    /* A profile without counts has no counter to pick. */
    assert_int_equal(pg_profile_init(&p, &l), PG_OK);
    assert_int_equal(pg_profile_pick_counter(&p, NULL, 0, &id), PG_ENOTFOUND);
    pg_profile_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_path_once), cmocka_unit_test(test_max_depth_keeps_the_total),
                                       cmocka_unit_test(test_names_counters_and_root)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
