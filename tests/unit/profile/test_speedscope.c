/* Unit tests for speedscope.c: the file parses as JSON (yajl) into one sampled profile per
 * counter; each profile's samples and weights, read back as call paths, are exactly the folded
 * stacks of that counter (folded.c, itself checked against a recursive walk), with maxDepth too;
 * small steps give the same bytes; frames carry file and line; the default counter is the one
 * opened; counts on the root get a "(root)" frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "profgate/emit.h"
#include "profgate/folded.h"
#include "profgate/simgen.h"
#include "profgate/speedscope.h"

static pg_profile_limits lim(void)
{
    pg_profile_limits l;
    pg_profile_limits_default(&l);
    return l;
}

static void sim_profile(uint32_t nodes, pg_profile *p)
{
    pg_simgen_cfg c = {.seed = 11, .nodes = nodes, .data_since_s = 0, .cache_bytes = 64 << 20};
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

static void speedscope(const pg_profile *p, uint32_t dflt, uint32_t depth, size_t budget, pg_buf *out)
{
    pg_sswriter *w;
    assert_int_equal(pg_sswriter_new(p, "g \"quoted\"", dflt, depth, &w), PG_OK);
    pg_buf_init(out, 256 << 20);
    bool done = false;
    while (!done)
        assert_int_equal(pg_sswriter_step(w, out, out->len + budget, &done), PG_OK);
    pg_sswriter_free(w);
    assert_int_equal(out->data[out->len - 1], '\n');
}

static void folded(const pg_profile *p, uint32_t counter, uint32_t depth, pg_buf *out)
{
    pg_fwriter *w;
    assert_int_equal(pg_fwriter_new(p, counter, depth, &w), PG_OK);
    pg_buf_init(out, 256 << 20);
    bool done = false;
    assert_int_equal(pg_fwriter_step(w, out, SIZE_MAX / 2, &done), PG_OK);
    assert_true(done);
    pg_fwriter_free(w);
}

static yajl_val parse(const pg_buf *b)
{
    char *text = strndup(b->data, b->len);
    char err[256];
    yajl_val v = yajl_tree_parse(text, err, sizeof err);
    free(text);
    if (v == NULL)
        fail_msg("not JSON: %s", err);
    return v;
}

static yajl_val get(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_any);
    assert_non_null(v);
    return v;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* lines (n, each allocated) sorted and joined into out; the lines and the array are freed. */
static void join_sorted(char **lines, size_t n, pg_buf *out)
{
    qsort(lines, n, sizeof *lines, cmp_str);
    pg_buf_init(out, 256 << 20);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(pg_buf_puts(out, lines[i]), PG_OK);
        free(lines[i]);
    }
    free(lines);
}

/* One profile's samples as folded lines ("a;b count\n", frames made safe as folded.c does),
 * sorted, joined. */
static void as_folded(yajl_val frames, yajl_val prof, pg_buf *out)
{
    yajl_val samples = get(prof, "samples"), weights = get(prof, "weights");
    assert_true(YAJL_IS_ARRAY(samples) && YAJL_IS_ARRAY(weights));
    size_t n = samples->u.array.len;
    assert_int_equal(n, weights->u.array.len);
    char **lines = calloc(n + 1, sizeof *lines);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        pg_buf line;
        pg_buf_init(&line, 1 << 20);
        yajl_val st = samples->u.array.values[i];
        for (size_t k = 0; k < st->u.array.len; k++) {
            long long f = YAJL_GET_INTEGER(st->u.array.values[k]);
            assert_true(f >= 0 && (size_t)f < frames->u.array.len);
            const char *name = YAJL_GET_STRING(get(frames->u.array.values[f], "name"));
            if (k > 0)
                assert_int_equal(pg_buf_puts(&line, ";"), PG_OK);
            size_t from = line.len;
            assert_int_equal(pg_buf_puts(&line, name), PG_OK);
            for (size_t j = from; j < line.len; j++)
                line.data[j] = line.data[j] == ';' ? '|' : line.data[j] == '\n' ? ' ' : line.data[j];
        }
        double w = YAJL_GET_DOUBLE(weights->u.array.values[i]);
        sum += w;
        assert_int_equal(pg_buf_puts(&line, " "), PG_OK);
        assert_int_equal(pg_emit_number_text(&line, w), PG_OK);
        assert_int_equal(pg_buf_puts(&line, "\n"), PG_OK);
        lines[i] = strndup(line.data, line.len);
        pg_buf_free(&line);
    }
    assert_true(sum == YAJL_GET_DOUBLE(get(prof, "endValue")));
    join_sorted(lines, n, out);
}

/* The folded text with its lines sorted. */
static void sorted_lines(const pg_buf *in, pg_buf *out)
{
    size_t n = 0;
    for (size_t i = 0; i < in->len; i++)
        n += in->data[i] == '\n';
    char **lines = calloc(n + 1, sizeof *lines);
    size_t m = 0;
    for (char *s = in->data, *end = in->data + in->len; s < end;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        lines[m++] = strndup(s, (size_t)(nl - s + 1));
        s = nl + 1;
    }
    join_sorted(lines, m, out);
}

/* Every profile of the file equals the folded stacks of its counter. */
static void check_against_folded(const pg_profile *p, uint32_t depth)
{
    uint32_t dflt;
    assert_int_equal(pg_profile_pick_counter(p, NULL, 0, &dflt), PG_OK);
    pg_buf whole, stepped;
    /* What the writer reports holding covers its walk: a value per node and counter at least. */
    pg_sswriter *w;
    assert_int_equal(pg_sswriter_new(p, "m", dflt, depth, &w), PG_OK);
    assert_true(pg_sswriter_memory(w) >= (size_t)p->n * sizeof(double) * (depth == 0 ? 2 : 1));
    pg_sswriter_free(w);
    speedscope(p, dflt, depth, SIZE_MAX / 2, &whole);
    speedscope(p, dflt, depth, 1, &stepped);
    assert_int_equal(whole.len, stepped.len);
    assert_memory_equal(whole.data, stepped.data, whole.len);
    yajl_val doc = parse(&whole);
    assert_string_equal(YAJL_GET_STRING(get(doc, "name")), "g \"quoted\"");
    assert_string_equal(YAJL_GET_STRING(get(doc, "$schema")), "https://www.speedscope.app/file-format-schema.json");
    const char *fpath[] = {"shared", "frames", NULL};
    yajl_val frames = yajl_tree_get(doc, fpath, yajl_t_array);
    assert_non_null(frames);
    yajl_val profs = get(doc, "profiles");
    uint32_t ids[PG_PROFILE_COUNTERS_MAX];
    size_t nc = pg_profile_counters(p, ids, NULL, PG_PROFILE_COUNTERS_MAX);
    assert_true(nc >= 2);
    assert_int_equal(profs->u.array.len, nc);
    const char *prev = "";
    for (size_t i = 0; i < nc; i++) {
        yajl_val prof = profs->u.array.values[i];
        const char *name = YAJL_GET_STRING(get(prof, "name"));
        assert_true(strcmp(prev, name) < 0); /* byte order of name */
        prev = name;
        assert_string_equal(YAJL_GET_STRING(get(prof, "type")), "sampled");
        uint32_t id = pg_strtab_find(&p->strs, name, strlen(name));
        assert_int_not_equal(id, PG_STR_NONE);
        if (id == dflt)
            assert_int_equal(YAJL_GET_INTEGER(get(doc, "activeProfileIndex")), (long long)i);
        pg_buf want, want_sorted, got;
        folded(p, id, depth, &want);
        sorted_lines(&want, &want_sorted);
        as_folded(frames, prof, &got);
        assert_true(got.len > 0);
        assert_int_equal(got.len, want_sorted.len);
        assert_memory_equal(got.data, want_sorted.data, got.len);
        pg_buf_free(&want);
        pg_buf_free(&want_sorted);
        pg_buf_free(&got);
    }
    yajl_tree_free(doc);
    pg_buf_free(&whole);
    pg_buf_free(&stepped);
}

static void test_profiles_equal_the_folded_stacks(void **state)
{
    (void)state;
    pg_profile p;
    sim_profile(3000, &p);
    check_against_folded(&p, 0);
    check_against_folded(&p, 2);
    pg_profile_free(&p);
}

static void test_frames_files_lines_and_root(void **state)
{
    (void)state;
    pg_profile_limits l = lim();
    pg_profile p;
    assert_int_equal(pg_profile_init(&p, &l), PG_OK);
    uint32_t a = pg_profile_child(&p, 0, "a;b", 3);
    uint32_t b = pg_profile_child(&p, a, "Main.run", 8);
    uint32_t c = pg_profile_child(&p, 0, "Main.run", 8); /* the same frame on another path */
    assert_int_equal(pg_profile_set_file(&p, b, "Main.java", 9), PG_OK);
    pg_profile_add_line(&p, b, 42, 50);
    assert_int_equal(pg_profile_add_count(&p, b, "RUNNABLE", 8, 3), PG_OK);
    assert_int_equal(pg_profile_add_count(&p, c, "RUNNABLE", 8, 1.5), PG_OK);
    assert_int_equal(pg_profile_add_count(&p, 0, "WAITING", 7, 2), PG_OK);
    uint32_t runnable = pg_strtab_find(&p.strs, "RUNNABLE", 8);
    pg_buf out;
    speedscope(&p, runnable, 0, SIZE_MAX / 2, &out);
    /* Samples depth first in the tree's own order (a node's newest child first). */
    const char *want =
        "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"exporter\":\"profgate\","
        "\"name\":\"g \\\"quoted\\\"\",\"activeProfileIndex\":0,\"shared\":{\"frames\":["
        "{\"name\":\"a;b\"},{\"name\":\"Main.run\",\"file\":\"Main.java\",\"line\":42},"
        "{\"name\":\"(root)\"}]},\"profiles\":["
        "{\"type\":\"sampled\",\"name\":\"RUNNABLE\",\"unit\":\"none\",\"startValue\":0,\"endValue\":4.5,"
        "\"samples\":[[1],[0,1]],\"weights\":[1.5,3]},"
        "{\"type\":\"sampled\",\"name\":\"WAITING\",\"unit\":\"none\",\"startValue\":0,\"endValue\":2,"
        "\"samples\":[[2]],\"weights\":[2]}]}\n";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    pg_buf_free(&out);
    pg_profile_free(&p);
    /* No counts: a file with no profile is still well-formed. */
    assert_int_equal(pg_profile_init(&p, &l), PG_OK);
    speedscope(&p, PG_STR_NONE, 0, SIZE_MAX / 2, &out);
    yajl_val doc = parse(&out);
    assert_int_equal(get(doc, "profiles")->u.array.len, 0);
    yajl_tree_free(doc);
    pg_buf_free(&out);
    pg_profile_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles_equal_the_folded_stacks),
        cmocka_unit_test(test_frames_files_lines_and_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
