/* Unit tests for diff.c: every path of either profile comes out once, with the counts the folded
 * stacks of each side give it (0 where a side lacks it) and each count divided by its side's
 * seconds; totals are the sides' totals; small steps give the same bytes; a counter that one side
 * lacks gives that side zeros. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "profgate/diff.h"
#include "profgate/folded.h"
#include "profgate/simgen.h"

static void sim_profile(int64_t start_s, int64_t end_s, pg_profile *p)
{
    pg_simgen_cfg c = {.seed = 5, .nodes = 2000, .data_since_s = 0, .cache_bytes = 64 << 20};
    pg_simgen *g = pg_simgen_new(&c);
    pg_simacc a;
    assert_int_equal(pg_simgen_acc_init(g, "f", &a), PG_OK);
    for (int64_t s = start_s; s < end_s; s += 3600)
        assert_int_equal(pg_simgen_add(g, "f", PG_P1H, s, INT64_MAX / 4, &a), PG_OK);
    pg_profile_limits l;
    pg_profile_limits_default(&l);
    assert_int_equal(pg_profile_init(p, &l), PG_OK);
    assert_int_equal(pg_simgen_profile(g, "f", &a, start_s * 1000, end_s * 1000, p), PG_OK);
    pg_simgen_acc_free(&a);
    pg_simgen_free(g);
}

static void diff(const pg_diff_side *b, const pg_diff_side *h, const char *counter, size_t budget, pg_buf *out)
{
    pg_dwriter *w;
    assert_int_equal(pg_dwriter_new(b, h, counter, &w), PG_OK);
    pg_buf_init(out, 256 << 20);
    bool done = false;
    while (!done)
        assert_int_equal(pg_dwriter_step(w, out, out->len + budget, &done), PG_OK);
    pg_dwriter_free(w);
}

static yajl_val get(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_any);
    assert_non_null(v);
    return v;
}

/* The side's folded lines as a table path -> count, and their number. */
typedef struct {
    char **path;
    double *count;
    bool *used;
    size_t n;
} lines;

static void folded(const pg_diff_side *side, lines *t)
{
    pg_fwriter *w;
    assert_int_equal(pg_fwriter_new(side->p, side->counter, 0, &w), PG_OK);
    pg_buf out;
    pg_buf_init(&out, 256 << 20);
    bool done = false;
    assert_int_equal(pg_fwriter_step(w, &out, SIZE_MAX / 2, &done), PG_OK);
    pg_fwriter_free(w);
    size_t n = 0;
    for (size_t i = 0; i < out.len; i++)
        n += out.data[i] == '\n';
    t->path = calloc(n + 1, sizeof *t->path);
    t->count = calloc(n + 1, sizeof *t->count);
    t->used = calloc(n + 1, sizeof *t->used);
    t->n = 0;
    for (char *s = out.data, *end = out.data + out.len; s < end;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *sp = memrchr(s, ' ', (size_t)(nl - s));
        t->path[t->n] = strndup(s, (size_t)(sp - s));
        t->count[t->n++] = strtod(sp + 1, NULL);
        s = nl + 1;
    }
    pg_buf_free(&out);
}

static double take(lines *t, const char *path)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->path[i], path) == 0) {
            assert_false(t->used[i]); /* every path once */
            t->used[i] = true;
            return t->count[i];
        }
    return 0;
}

static void lines_free(lines *t)
{
    for (size_t i = 0; i < t->n; i++) {
        assert_true(t->used[i]); /* every line of the side was in the answer */
        free(t->path[i]);
    }
    free(t->path);
    free(t->count);
    free(t->used);
}

static bool near(double a, double b)
{
    return fabs(a - b) <= 1e-8 * fmax(fabs(a), fabs(b));
}

/* The answer against both sides' folded stacks; returns the number of stacks. */
static size_t check(const pg_diff_side *b, const pg_diff_side *h, const char *counter)
{
    pg_buf whole, stepped;
    diff(b, h, counter, SIZE_MAX / 2, &whole);
    diff(b, h, counter, 1, &stepped);
    assert_int_equal(whole.len, stepped.len);
    assert_memory_equal(whole.data, stepped.data, whole.len);
    char *text = strndup(whole.data, whole.len);
    char err[256];
    yajl_val doc = yajl_tree_parse(text, err, sizeof err);
    free(text);
    if (doc == NULL)
        fail_msg("not JSON: %s", err);
    assert_string_equal(YAJL_GET_STRING(get(doc, "counter")), counter);
    lines lb, lh;
    folded(b, &lb);
    folded(h, &lh);
    /* What the writer reports holding covers the base's indexed paths (the memory budget's charge). */
    size_t path_bytes = 0;
    for (size_t i = 0; i < lb.n; i++)
        path_bytes += strlen(lb.path[i]);
    pg_dwriter *w;
    assert_int_equal(pg_dwriter_new(b, h, counter, &w), PG_OK);
    assert_true(pg_dwriter_memory(w) >= path_bytes);
    pg_dwriter_free(w);
    double tb = 0, th = 0;
    yajl_val stacks = get(doc, "stacks");
    for (size_t i = 0; i < stacks->u.array.len; i++) {
        yajl_val st = stacks->u.array.values[i];
        const char *path = YAJL_GET_STRING(get(st, "stack"));
        double cb = take(&lb, path), ch = take(&lh, path);
        assert_true(cb > 0 || ch > 0);
        assert_true(YAJL_GET_DOUBLE(get(st, "baseCount")) == cb);
        assert_true(YAJL_GET_DOUBLE(get(st, "headCount")) == ch);
        assert_true(near(YAJL_GET_DOUBLE(get(st, "base")), cb / (double)(b->end_s - b->start_s)));
        assert_true(near(YAJL_GET_DOUBLE(get(st, "head")), ch / (double)(h->end_s - h->start_s)));
        tb += cb;
        th += ch;
    }
    const char *bt[] = {"base", "total", NULL}, *ht[] = {"head", "total", NULL}, *bs[] = {"base", "seconds", NULL};
    assert_true(YAJL_GET_DOUBLE(yajl_tree_get(doc, bt, yajl_t_number)) == tb);
    assert_true(YAJL_GET_DOUBLE(yajl_tree_get(doc, ht, yajl_t_number)) == th);
    assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(doc, bs, yajl_t_number)), b->end_s - b->start_s);
    size_t n = stacks->u.array.len;
    lines_free(&lb);
    lines_free(&lh);
    yajl_tree_free(doc);
    pg_buf_free(&whole);
    pg_buf_free(&stepped);
    return n;
}

static void test_every_stack_of_either_side(void **state)
{
    (void)state;
    pg_profile pb, ph;
    sim_profile(0, 6 * 3600, &pb);         /* six hours */
    sim_profile(86400, 86400 + 3600, &ph); /* one hour, a day later */
    uint32_t counter;
    assert_int_equal(pg_profile_pick_counter(&ph, NULL, 0, &counter), PG_OK);
    size_t len;
    const char *raw = pg_strtab_get(&ph.strs, counter, &len);
    char *name = strndup(raw, len);
    pg_diff_side b = {&pb, pg_strtab_find(&pb.strs, name, strlen(name)), 0, 6 * 3600};
    pg_diff_side h = {&ph, counter, 86400, 86400 + 3600};
    assert_int_not_equal(b.counter, PG_STR_NONE);
    assert_true(check(&b, &h, name) > 100);
    /* A counter the base lacks: its side is all zeros, the head's stacks all there. */
    b.counter = PG_STR_NONE;
    assert_true(check(&b, &h, name) > 100);
    free(name);
    pg_profile_free(&pb);
    pg_profile_free(&ph);
}

static void test_grown_shrunk_new_and_gone(void **state)
{
    (void)state;
    pg_profile_limits l;
    pg_profile_limits_default(&l);
    pg_profile pb, ph;
    assert_int_equal(pg_profile_init(&pb, &l), PG_OK);
    assert_int_equal(pg_profile_init(&ph, &l), PG_OK);
    uint32_t m = pg_profile_child(&pb, 0, "main", 4);
    assert_int_equal(pg_profile_add_count(&pb, pg_profile_child(&pb, m, "parse", 5), "CPU", 3, 100), PG_OK);
    assert_int_equal(pg_profile_add_count(&pb, pg_profile_child(&pb, m, "old;gone", 8), "CPU", 3, 40), PG_OK);
    m = pg_profile_child(&ph, 0, "main", 4);
    assert_int_equal(pg_profile_add_count(&ph, pg_profile_child(&ph, m, "parse", 5), "CPU", 3, 90), PG_OK);
    assert_int_equal(pg_profile_add_count(&ph, pg_profile_child(&ph, m, "new", 3), "CPU", 3, 10), PG_OK);
    pg_diff_side b = {&pb, pg_strtab_find(&pb.strs, "CPU", 3), 0, 100};
    pg_diff_side h = {&ph, pg_strtab_find(&ph.strs, "CPU", 3), 1000, 1010};
    assert_int_equal(check(&b, &h, "CPU"), 3);
    pg_buf out;
    diff(&b, &h, "CPU", SIZE_MAX / 2, &out);
    const char *want = "{\"counter\":\"CPU\","
                       "\"base\":{\"startTime\":\"1970-01-01T00:00:00Z\",\"endTime\":\"1970-01-01T00:01:40Z\","
                       "\"seconds\":100,\"total\":140},"
                       "\"head\":{\"startTime\":\"1970-01-01T00:16:40Z\",\"endTime\":\"1970-01-01T00:16:50Z\","
                       "\"seconds\":10,\"total\":100},"
                       "\"stacks\":[\n"
                       "{\"stack\":\"main;new\",\"base\":0,\"head\":1,\"baseCount\":0,\"headCount\":10},\n"
                       "{\"stack\":\"main;parse\",\"base\":1,\"head\":9,\"baseCount\":100,\"headCount\":90},\n"
                       "{\"stack\":\"main;old|gone\",\"base\":0.4,\"head\":0,\"baseCount\":40,\"headCount\":0}\n]}\n";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    pg_buf_free(&out);
    pg_profile_free(&pb);
    pg_profile_free(&ph);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_stack_of_either_side),
        cmocka_unit_test(test_grown_shrunk_new_and_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
