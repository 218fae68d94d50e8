/* Unit tests for profile.c, emit.c and value.c: exact JSON for a small profile (sorted children
 * and counters, file, line, metadata), maxDepth folding that preserves totals, binary Ion bytes
 * for a tiny document, and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "profgate/merge.h"
#include "profgate/pcodec.h"
#include "profgate/profile.h"

static void build(pg_profile *p)
{
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    assert_int_equal(pg_profile_init(p, &lim), PG_OK);
    p->has_start = p->has_end = true;
    p->start_ms = 1590969600000;
    p->end_ms = 1590969900000;
    p->has_duration = p->has_samples = true;
    p->duration_ms = 300000;
    p->num_samples = 300;
    assert_int_equal(pg_profile_set_weight(p, "WALL_TIME", 9, 1.0), PG_OK);
    uint32_t run = pg_profile_child(p, PG_ROOT, "java.lang.Thread.run", 20);
    pg_profile_add_line(p, run, 748, 748);
    uint32_t w = pg_profile_child(p, run, "com.example.Worker.loop", 23);
    assert_int_equal(pg_profile_add_count(p, w, "WALL_TIME", 9, 52), PG_OK);
    assert_int_equal(pg_profile_add_count(p, w, "RUNNABLE", 8, 40), PG_OK);
    assert_int_equal(pg_profile_set_file(p, w, "Worker.java", 11), PG_OK);
    assert_int_equal(pg_profile_set_file(p, w, "Other.java", 10), PG_OK); /* first wins */
    pg_profile_add_line(p, w, 31, 31);
    pg_profile_add_line(p, w, 20, 20);
    uint32_t o = pg_profile_child(p, w, "java.lang.Object.wait", 21);
    assert_int_equal(pg_profile_add_count(p, o, "WAITING", 7, 12), PG_OK);
    assert_int_equal(pg_profile_add_count(p, o, "WALL_TIME", 9, 12), PG_OK);
    /* A sibling that sorts before "com...", and the same child found again. */
    uint32_t a = pg_profile_child(p, run, "a.First", 7);
    assert_int_equal(pg_profile_add_count(p, a, "WALL_TIME", 9, 0.5), PG_OK);
    assert_int_equal(pg_profile_child(p, run, "com.example.Worker.loop", 23), w);
}

static void expect_json(const pg_profile *p, uint32_t depth, const char *want)
{
    pg_buf b;
    pg_buf_init(&b, 1 << 20);
    assert_int_equal(pg_profile_encode(p, false, depth, &b), PG_OK);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("JSON\n  got:  %.*s\n  want: %s", (int)b.len, b.data, want);
    pg_buf_free(&b);
}

static void test_json(void **state)
{
    (void)state;
    pg_profile p;
    build(&p);
    expect_json(&p, 0,
                "{\"start\":1590969600000,\"end\":1590969900000,\"agentMetadata\":{\"sampleWeights\":{\"WALL_TIME\":1},"
                "\"durationInMs\":300000,\"numTimesSampled\":300},\"callgraph\":{\"children\":{\"java.lang.Thread.run\":"
                "{\"line\":[748],\"children\":{\"a.First\":{\"counts\":{\"WALL_TIME\":0.5}},\"com.example.Worker.loop\":"
                "{\"counts\":{\"RUNNABLE\":40,\"WALL_TIME\":52},\"file\":\"Worker.java\",\"line\":[20,31],\"children\":"
                "{\"java.lang.Object.wait\":{\"counts\":{\"WAITING\":12,\"WALL_TIME\":12}}}}}}}}}");
    /* maxDepth 2: Worker.loop (depth 2) absorbs Object.wait's counts; totals are preserved. */
    expect_json(&p, 2,
                "{\"start\":1590969600000,\"end\":1590969900000,\"agentMetadata\":{\"sampleWeights\":{\"WALL_TIME\":1},"
                "\"durationInMs\":300000,\"numTimesSampled\":300},\"callgraph\":{\"children\":{\"java.lang.Thread.run\":"
                "{\"line\":[748],\"children\":{\"a.First\":{\"counts\":{\"WALL_TIME\":0.5}},\"com.example.Worker.loop\":"
                "{\"counts\":{\"RUNNABLE\":40,\"WAITING\":12,\"WALL_TIME\":64},\"file\":\"Worker.java\",\"line\":[20,31]}}}}}}");
    /* maxDepth 1: everything folds into Thread.run. */
    expect_json(&p, 1,
                "{\"start\":1590969600000,\"end\":1590969900000,\"agentMetadata\":{\"sampleWeights\":{\"WALL_TIME\":1},"
                "\"durationInMs\":300000,\"numTimesSampled\":300},\"callgraph\":{\"children\":{\"java.lang.Thread.run\":"
                "{\"counts\":{\"RUNNABLE\":40,\"WAITING\":12,\"WALL_TIME\":64.5},\"line\":[748]}}}}");
    pg_profile_free(&p);
}

/* A cached profile is compacted: smaller, the same output, and still a profile that can grow
 * (its dropped index is rebuilt: a known child is found again, not added twice). */
static void test_shrink(void **state)
{
    (void)state;
    pg_profile p;
    build(&p);
    /* Many nodes gaining a second counter later leave holes in the counts pool. */
    for (int i = 0; i < 300; i++) {
        char name[32];
        int n = snprintf(name, sizeof name, "f%03d", i);
        uint32_t id = pg_profile_child(&p, PG_ROOT, name, (size_t)n);
        assert_int_equal(pg_profile_add_count(&p, id, "WALL_TIME", 9, i), PG_OK);
    }
    for (uint32_t id = 1; id < p.n; id++)
        assert_int_equal(pg_profile_add_count(&p, id, "CPU", 3, 1), PG_OK);
    pg_buf before, after;
    pg_buf_init(&before, 1 << 20);
    pg_buf_init(&after, 1 << 20);
    assert_int_equal(pg_profile_encode(&p, false, 0, &before), PG_OK);
    size_t mem = pg_profile_memory(&p);
    uint32_t n = p.n;
    assert_int_equal(pg_profile_shrink(&p, false), PG_OK);
    assert_true(pg_profile_memory(&p) < mem * 3 / 4);
    assert_int_equal(p.pool_cap, p.ncounts);
    assert_int_equal(p.cap, p.n);
    assert_int_equal(pg_profile_encode(&p, false, 0, &after), PG_OK);
    assert_int_equal(after.len, before.len);
    assert_memory_equal(after.data, before.data, before.len);
    /* It is in writing order: parents first, each child list linked by name, and the counts of
     * a node by counter name; so its writers sort nothing. */
    assert_true(p.ordered);
    for (uint32_t id = 1; id < p.n; id++) {
        const pg_pnode *nd = &p.nodes[id];
        assert_true(nd->parent < id);
        if (nd->next_sibling != PG_NODE_NONE) {
            assert_true(nd->next_sibling > id);
            assert_true(pg_strtab_cmp(&p.strs, nd->name, p.nodes[nd->next_sibling].name) < 0);
        }
        for (uint32_t k = 1; k < nd->ncounts; k++)
            assert_true(pg_strtab_cmp(&p.strs, p.pool[nd->counts + k - 1].counter, p.pool[nd->counts + k].counter) < 0);
    }
    /* It grows again: known children are found, new ones added, counts added to a full block. */
    uint32_t run = pg_profile_child(&p, PG_ROOT, "java.lang.Thread.run", 20);
    assert_true(run != PG_NODE_NONE && run < n);
    assert_int_equal(pg_profile_child(&p, PG_ROOT, "f150", 4), pg_profile_child(&p, PG_ROOT, "f150", 4));
    assert_int_equal(p.n, n);
    uint32_t fresh = pg_profile_child(&p, run, "new.Frame", 9);
    assert_int_equal(fresh, n);
    assert_int_equal(pg_profile_add_count(&p, run, "RUNNABLE", 8, 7), PG_OK);
    assert_int_equal(pg_profile_add_count(&p, run, "CPU", 3, 1), PG_OK);
    assert_true(pg_profile_self_count(&p, run, pg_strtab_find(&p.strs, "CPU", 3)) == 2);
    assert_true(pg_profile_self_count(&p, run, pg_strtab_find(&p.strs, "RUNNABLE", 8)) == 7);
    assert_false(p.ordered); /* a new node and a new counter: written with sorting again */
    pg_buf_free(&before);
    pg_buf_free(&after);
    pg_profile_free(&p);
}

/* A kept profile is written from its writing order, a built one by sorting: the same bytes in JSON
 * and Ion, at every maxDepth, also once the kept one (index kept, as runs are) has grown again. */
static void build_big(pg_profile *p, double runnable);

/* a at maxDepth da and b at db encode to the same bytes. */
static void expect_same_bytes(const pg_profile *a, uint32_t da, const pg_profile *b, uint32_t db, bool ion)
{
    pg_buf x, y;
    pg_buf_init(&x, 1 << 24);
    pg_buf_init(&y, 1 << 24);
    assert_int_equal(pg_profile_encode(a, ion, da, &x), PG_OK);
    assert_int_equal(pg_profile_encode(b, ion, db, &y), PG_OK);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    pg_buf_free(&x);
    pg_buf_free(&y);
}

static void expect_same_encodings(const pg_profile *a, const pg_profile *b)
{
    for (int ion = 0; ion < 2; ion++)
        for (uint32_t depth = 0; depth < 8; depth += 3)
            expect_same_bytes(a, depth, b, depth, ion);
}

static void grow(pg_profile *p)
{
    uint32_t a = pg_profile_child(p, PG_ROOT, "frame.0.0", 9);
    uint32_t b = pg_profile_child(p, a, "aa.new", 6);
    assert_int_equal(pg_profile_add_count(p, b, "WALL_TIME", 9, 3), PG_OK);
    assert_int_equal(pg_profile_add_count(p, a, "ALLOC", 5, 2), PG_OK); /* a counter sorting first */
}

/* Ion without a depth limit is written in one loop over the nodes; a depth limit past the tree's
 * depth takes the pg_emit walk and must give the same bytes (kept and built profiles, one with
 * files, lines, escaped names and a frame named like a member). */
static void test_ion_loop_matches_walk(void **state)
{
    (void)state;
    pg_profile ps[3];
    build_big(&ps[0], 1e15);
    build(&ps[1]);
    uint32_t odd = pg_profile_child(&ps[1], PG_ROOT, "counts", 6);
    assert_int_equal(pg_profile_add_count(&ps[1], odd, "children", 8, -3), PG_OK);
    pg_profile_add_line(&ps[1], odd, -5, 400);
    build(&ps[2]);
    assert_int_equal(pg_profile_shrink(&ps[2], false), PG_OK);
    for (int i = 0; i < 3; i++) {
        expect_same_bytes(&ps[i], 0, &ps[i], 1000, true); /* the loop, then the walk */
        pg_profile_free(&ps[i]);
    }
}

/* p written as Ion by a writer given layout L (NULL: none); whether it used L. */
static bool encode_ion_with(const pg_profile *p, pg_ion_layout *L, pg_buf *out)
{
    pg_pwriter *w;
    bool done = false;
    pg_buf_reset(out);
    assert_int_equal(pg_pwriter_new_ion(p, L, &w), PG_OK);
    bool used = pg_pwriter_layout(w) == L;
    assert_int_equal(pg_pwriter_step(w, out, SIZE_MAX, &done), PG_OK);
    assert_true(done);
    pg_pwriter_free(w);
    return used;
}

/* A kept layout is charged for its symbols and its tree, not for room reserved for every string
 * of the profile: file names are strings, not symbols, so a long one is in the layout once, in
 * the tree, and not again among the symbols. */
static void test_ion_layout_holds_its_symbols_only(void **state)
{
    (void)state;
    pg_profile p;
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    uint32_t a = pg_profile_child(&p, PG_ROOT, "a", 1);
    assert_int_equal(pg_profile_add_count(&p, a, "CPU", 3, 1), PG_OK);
    static char file[20000];
    memset(file, 'f', sizeof file);
    assert_int_equal(pg_profile_set_file(&p, a, file, sizeof file), PG_OK);
    assert_int_equal(pg_profile_shrink(&p, true), PG_OK);
    pg_pwriter *w;
    assert_int_equal(pg_pwriter_new(&p, true, 0, &w), PG_OK);
    size_t m = pg_ion_layout_memory(pg_pwriter_layout(w));
    assert_true(m > sizeof file && m < sizeof file * 3 / 2);
    pg_buf out;
    pg_buf_init(&out, 1 << 20);
    bool done = false;
    assert_int_equal(pg_pwriter_step(w, &out, SIZE_MAX, &done), PG_OK);
    assert_true(done && out.len > sizeof file); /* the file name is in the answer, as a string */
    pg_pwriter_free(w);
    pg_buf_free(&out);
    pg_profile_free(&p);
}

/* A layout kept from one Ion writer serves the next writer of the same profile and of a copy of
 * it whose start and end differ (the gateway's kept answers): the same bytes as a fresh writer.
 * A profile whose head has a name the layout lacks, or of another shape, gets its own. */
static void test_ion_layout_reuse(void **state)
{
    (void)state;
    pg_profile p, c;
    build_big(&p, 1e15);
    assert_int_equal(pg_profile_shrink(&p, true), PG_OK);
    p.has_start = p.has_end = true; /* as every answer has */
    p.start_ms = 1000;
    p.end_ms = 2000;
    pg_buf fresh, reused;
    pg_buf_init(&fresh, 1 << 24);
    pg_buf_init(&reused, 1 << 24);
    pg_pwriter *w;
    assert_int_equal(pg_pwriter_new(&p, true, 0, &w), PG_OK);
    /* A writer is charged for a layout only it holds: the call tree it wrote is in it. */
    size_t own = pg_pwriter_memory(w), lm = pg_ion_layout_memory(pg_pwriter_layout(w));
    assert_true(own > lm && lm > (size_t)p.n * 16);
    pg_ion_layout *L = pg_ion_layout_ref(pg_pwriter_layout(w));
    assert_int_equal(pg_pwriter_memory(w), own - lm);
    pg_pwriter_free(w); /* the layout outlives its writer */
    pg_buf_reset(&fresh); /* encode appends */
    assert_int_equal(pg_profile_encode(&p, true, 0, &fresh), PG_OK);
    assert_true(encode_ion_with(&p, L, &reused));
    assert_int_equal(reused.len, fresh.len);
    assert_memory_equal(reused.data, fresh.data, fresh.len);
    /* A copy answering another window: start and end change the head's lengths, not the tree. */
    assert_int_equal(pg_profile_copy(&c, &p, &p.lim), PG_OK);
    c.has_start = c.has_end = true;
    c.start_ms = 1;
    c.end_ms = INT64_C(1) << 50;
    pg_buf_reset(&fresh);
    assert_int_equal(pg_profile_encode(&c, true, 0, &fresh), PG_OK);
    assert_true(encode_ion_with(&c, L, &reused));
    assert_int_equal(reused.len, fresh.len);
    assert_memory_equal(reused.data, fresh.data, fresh.len);
    /* A member after the call tree that the layout's symbols lack: missed only once the tree is
     * written (with the kept symbols); its own layout, still the right bytes. */
    c.top_extra = pg_value_struct_new();
    assert_non_null(c.top_extra);
    assert_int_equal(pg_value_set_num(c.top_extra, "ratio", 0.125), PG_OK);
    pg_buf_reset(&fresh);
    assert_int_equal(pg_profile_encode(&c, true, 0, &fresh), PG_OK);
    assert_false(encode_ion_with(&c, L, &reused));
    assert_int_equal(reused.len, fresh.len);
    assert_memory_equal(reused.data, fresh.data, fresh.len);
    /* A head member the layout's symbols lack: its own layout, still the right bytes. */
    c.has_cpu = true;
    c.cpu_s = 2.5;
    pg_buf_reset(&fresh);
    assert_int_equal(pg_profile_encode(&c, true, 0, &fresh), PG_OK);
    assert_false(encode_ion_with(&c, L, &reused));
    assert_int_equal(reused.len, fresh.len);
    assert_memory_equal(reused.data, fresh.data, fresh.len);
    /* Another profile of the same shape (same node and string counts), kept on its own: another
     * origin, so not used (its ids could differ). */
    pg_profile twin;
    build_big(&twin, 1e15);
    assert_int_equal(pg_profile_shrink(&twin, true), PG_OK);
    assert_true(twin.n == p.n && twin.strs.n == p.strs.n && twin.origin != 0 && twin.origin != p.origin);
    twin.has_start = twin.has_end = true;
    assert_false(encode_ion_with(&twin, L, &reused));
    pg_profile_free(&twin);
    /* Any change to the tree clears the origin: a count added, a file, a line, a node. */
    uint64_t origin = c.origin;
    assert_true(origin == p.origin);
    assert_int_equal(pg_profile_add_count_id(&c, 1, c.pool[c.nodes[1].counts].counter, 1), PG_OK);
    assert_true(c.origin == 0);
    assert_false(encode_ion_with(&c, L, &reused));
    c.origin = origin;
    assert_int_equal(pg_profile_set_file(&c, 2, "F.java", 6), PG_OK);
    assert_true(c.origin == 0);
    c.origin = origin;
    assert_int_equal(pg_profile_add_line(&c, 2, 1, 1 << 20), PG_OK);
    assert_true(c.origin == 0);
    c.origin = origin;
    grow(&c); /* and another shape */
    pg_buf_reset(&fresh);
    assert_int_equal(pg_profile_encode(&c, true, 0, &fresh), PG_OK);
    assert_false(encode_ion_with(&c, L, &reused));
    assert_memory_equal(reused.data, fresh.data, fresh.len);
    /* JSON and depth-limited writers have none. */
    assert_int_equal(pg_pwriter_new(&p, false, 0, &w), PG_OK);
    assert_null(pg_pwriter_layout(w));
    pg_pwriter_free(w);
    assert_int_equal(pg_pwriter_new(&p, true, 3, &w), PG_OK);
    assert_null(pg_pwriter_layout(w));
    pg_pwriter_free(w);
    pg_ion_layout_unref(L);
    pg_buf_free(&fresh);
    pg_buf_free(&reused);
    pg_profile_free(&c);
    pg_profile_free(&p);
}

/* Line ranges are kept in 32 bits in the node; one past that moves to the profile's far lines,
 * widening keeps it there, and a copy, a merge, the Redis encoding and both writers carry it. */
static void test_lines_past_32_bits(void **state)
{
    (void)state;
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    pg_profile p, c, m, d;
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    uint32_t a = pg_profile_child(&p, PG_ROOT, "a", 1), b = pg_profile_child(&p, PG_ROOT, "b", 1);
    assert_int_equal(pg_profile_add_line(&p, a, 7, 9), PG_OK);
    assert_int_equal(p.nodes[a].line_kind, PG_LINE_NEAR);
    assert_int_equal(pg_profile_add_line(&p, a, 3, 3000000000), PG_OK); /* widened past 2^31 */
    assert_int_equal(p.nodes[a].line_kind, PG_LINE_FAR);
    assert_int_equal(pg_profile_add_line(&p, a, 1, 2), PG_OK); /* stays far, widened */
    assert_int_equal(pg_profile_add_line(&p, b, INT64_MIN, INT64_MIN), PG_OK);
    int64_t lo = 0, hi = 0;
    assert_true(pg_profile_line(&p, &p.nodes[a], &lo, &hi));
    assert_true(lo == 1 && hi == 3000000000);
    assert_false(pg_profile_line(&p, &p.nodes[PG_ROOT], &lo, &hi));
    const char *want = "{\"agentMetadata\":{},\"callgraph\":{\"children\":{\"a\":{\"line\":[1,3000000000]},"
                       "\"b\":{\"line\":[-9223372036854775808]}}}}";
    expect_json(&p, 0, want);
    assert_int_equal(pg_profile_copy(&c, &p, &lim), PG_OK);
    expect_json(&c, 0, want);
    assert_int_equal(pg_profile_init(&m, &lim), PG_OK);
    assert_int_equal(pg_profile_merge(&m, &p), PG_OK);
    expect_json(&m, 0, want);
    pg_buf z;
    pg_buf_init(&z, 1 << 20);
    char why[128];
    assert_int_equal(pg_pcodec_encode(&p, 1, &z), PG_OK);
    assert_int_equal(pg_profile_init(&d, &lim), PG_OK);
    assert_int_equal(pg_pcodec_decode(z.data, z.len, 1 << 20, &d, why, sizeof why), PG_OK);
    expect_json(&d, 0, want);
    assert_int_equal(pg_profile_shrink(&d, false), PG_OK);
    expect_json(&d, 0, want);
    pg_buf_free(&z);
    pg_profile_free(&p);
    pg_profile_free(&c);
    pg_profile_free(&m);
    pg_profile_free(&d);
}

static void test_ordered_writes_the_same(void **state)
{
    (void)state;
    pg_profile kept, built;
    /* Counts whose sums are exact: a fold at the depth limit adds in tree order, which the
     * renumbering changes, and sums past 2^53 round differently in another order. */
    build_big(&kept, 1000);
    build_big(&built, 1000);
    assert_int_equal(pg_profile_shrink(&kept, true), PG_OK);
    assert_true(kept.ordered && !built.ordered);
    expect_same_encodings(&kept, &built);
    grow(&kept);
    grow(&built);
    assert_false(kept.ordered);
    expect_same_encodings(&kept, &built);
    pg_profile_free(&kept);
    pg_profile_free(&built);
}

/* The counters a writer lists come from a list kept as counts are added; it must name the same
 * counters, in the same order, as a walk over every node (the listing with totals), also after
 * a copy, and past the list's capacity. */
static void expect_same_listing(const pg_profile *p)
{
    uint32_t kept[PG_PROFILE_COUNTERS_MAX], walked[PG_PROFILE_COUNTERS_MAX];
    double totals[PG_PROFILE_COUNTERS_MAX];
    size_t n = pg_profile_counters_by_name(p, kept, NULL, PG_PROFILE_COUNTERS_MAX);
    size_t m = pg_profile_counters_by_name(p, walked, totals, PG_PROFILE_COUNTERS_MAX);
    assert_int_equal(n, m);
    assert_memory_equal(kept, walked, n * sizeof *kept);
}

static void test_counter_listing(void **state)
{
    (void)state;
    pg_profile p, q;
    build(&p); /* WALL_TIME, RUNNABLE, WAITING: added out of byte order */
    expect_same_listing(&p);
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    assert_int_equal(pg_profile_copy(&q, &p, &lim), PG_OK);
    expect_same_listing(&q);
    pg_profile_free(&q);
    /* 70 counters: more than the kept list holds, so the listing walks the nodes. */
    for (int i = 0; i < 70; i++) {
        char name[16];
        int n = snprintf(name, sizeof name, "C%02d", 69 - i);
        assert_int_equal(pg_profile_add_count(&p, PG_ROOT, name, (size_t)n, 1), PG_OK);
    }
    assert_true(p.cseen_over);
    expect_same_listing(&p);
    pg_profile_free(&p);
}

static void test_json_escaping_and_extras(void **state)
{
    (void)state;
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    pg_profile p;
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    uint32_t n = pg_profile_child(&p, PG_ROOT, "caf\xc3\xa9\"\\\n", 8);
    assert_int_equal(pg_profile_add_count(&p, n, "WALL_TIME", 9, 1e20), PG_OK);
    p.meta_extra = pg_value_struct_new();
    assert_int_equal(pg_value_set_str(p.meta_extra, "z", "last"), PG_OK);
    assert_int_equal(pg_value_set_num(p.meta_extra, "a", -1.25), PG_OK);
    expect_json(&p, 0,
                "{\"agentMetadata\":{\"a\":-1.25,\"z\":\"last\"},\"callgraph\":{\"children\":{\"caf\xc3\xa9\\\"\\\\\\n\":"
                "{\"counts\":{\"WALL_TIME\":1e+20}}}}}");
    pg_profile_free(&p);
}

static void test_ion_bytes(void **state)
{
    (void)state;
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    pg_profile p;
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    p.has_start = true;
    p.start_ms = 1;
    pg_buf b;
    pg_buf_init(&b, 4096);
    assert_int_equal(pg_profile_encode(&p, true, 0, &b), PG_OK);
    /* BVM; $ion_symbol_table::{symbols:["start","agentMetadata","callgraph"]}; {10:1, 11:{}, 12:{}}
     * The list holds 6 + 14 + 10 = 30 bytes, the struct 1 + 2 + 30 = 33, the annotation 2 + 2 + 33 = 37. */
    static const unsigned char want[] = {
        0xE0, 0x01, 0x00, 0xEA,                                     /* version marker */
        0xEE, 0xA5, 0x81, 0x83,                                     /* annotation $ion_symbol_table, len 37 */
        0xDE, 0xA1, 0x87, 0xBE, 0x9E,                               /* struct len 33 { symbols: list len 30 [ */
        0x85, 's', 't', 'a', 'r', 't',                              /* "start" */
        0x8D, 'a', 'g', 'e', 'n', 't', 'M', 'e', 't', 'a', 'd', 'a', 't', 'a', /* "agentMetadata" */
        0x89, 'c', 'a', 'l', 'l', 'g', 'r', 'a', 'p', 'h',          /* "callgraph" ] } */
        0xD7, 0x8A, 0x21, 0x01, 0x8B, 0xD0, 0x8C, 0xD0,             /* {start:1, agentMetadata:{}, callgraph:{}} */
    };
    if (b.len != sizeof want || memcmp(b.data, want, sizeof want) != 0) {
        char hex[512] = "";
        for (size_t i = 0; i < b.len && i < 120; i++)
            snprintf(hex + strlen(hex), sizeof hex - strlen(hex), "%02X ", (unsigned char)b.data[i]);
        fail_msg("Ion bytes differ (%zu vs %zu): %s", b.len, sizeof want, hex);
    }
    pg_buf_free(&b);
    pg_profile_free(&p);
}

static void test_ion_long_container_and_negative(void **state)
{
    (void)state;
    pg_strtab syms;
    pg_strtab_init(&syms, 1 << 20, 1000);
    static pg_emit e; /* large; the Ion passes need it zeroed */
    pg_buf b;
    pg_buf_init(&b, 1 << 20);
    char big[300];
    memset(big, 'x', sizeof big);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            pg_emit_ion_measure(&e, &syms);
        else
            assert_int_equal(pg_emit_ion_begin(&e, &b), PG_OK);
        e.ops->begin_list(&e);
        e.ops->str(&e, big, sizeof big);
        e.ops->i64(&e, -256);
        e.ops->num(&e, 0.5);
        e.ops->end_list(&e);
    }
    /* No symbols: just the BVM, then a list of 303 (string) + 3 (-256) + 9 (float) = 315 bytes. */
    const unsigned char *d = (const unsigned char *)b.data;
    assert_int_equal(d[4], 0xBE);
    assert_int_equal(d[5], 0x02); /* VarUInt 315 = 0x02 0xBB */
    assert_int_equal(d[6], 0xBB);
    assert_int_equal(d[7], 0x8E); /* string, length follows */
    assert_int_equal(d[8], 0x02);
    assert_int_equal(d[9], 0xAC); /* 300 */
    const unsigned char *rest = d + 10 + 300;
    static const unsigned char tail[] = {0x32, 0x01, 0x00, 0x48, 0x3F, 0xE0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(rest, tail, sizeof tail);
    assert_int_equal(b.len, 4 + 3 + 315);
    assert_true(pg_emit_done(&e));
    pg_emit_free(&e);
    pg_buf_free(&b);
    pg_strtab_free(&syms);
}

/* A deeper, wider tree than build(): every step size must give the bytes of one whole encode. */
static void build_big(pg_profile *p, double runnable)
{
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    assert_int_equal(pg_profile_init(p, &lim), PG_OK);
    char name[32];
    uint32_t parent = PG_ROOT;
    for (int d = 0; d < 40; d++) {
        for (int k = 0; k < 30; k++) {
            int n = snprintf(name, sizeof name, "frame.%d.%d\xc3\xa9", d, 29 - k);
            uint32_t c = pg_profile_child(p, parent, name, (size_t)n);
            assert_int_equal(pg_profile_add_count(p, c, "WALL_TIME", 9, d * 100 + k + 1), PG_OK);
            if (k % 3 == 0)
                assert_int_equal(pg_profile_add_count(p, c, "RUNNABLE", 8, runnable + k), PG_OK);
        }
        parent = pg_profile_child(p, parent, "frame.0.0", 9);
    }
}

/* p written by one writer in steps of at most step bytes, the pieces joined (reset first); how
 * many pieces there were. */
static size_t encode_in_steps(const pg_profile *p, bool ion, uint32_t depth, size_t step, pg_buf *joined)
{
    pg_pwriter *w;
    pg_buf part;
    pg_buf_init(&part, 1 << 24);
    pg_buf_reset(joined);
    assert_int_equal(pg_pwriter_new(p, ion, depth, &w), PG_OK);
    bool done = false;
    size_t pieces = 0;
    while (!done) {
        pg_buf_reset(&part);
        assert_int_equal(pg_pwriter_step(w, &part, step, &done), PG_OK);
        assert_int_equal(pg_buf_append(joined, part.data, part.len), PG_OK);
        pieces++;
    }
    pg_pwriter_free(w);
    pg_buf_free(&part);
    return pieces;
}

/* An Ion call tree larger than a block is written backwards into several blocks (one node, with
 * a file name longer than a block, in a block of its own): the walk's bytes, the same bytes in
 * any steps, and a layout that holds about the tree's bytes (at most a block unused). */
static void test_ion_tree_in_blocks(void **state)
{
    (void)state;
    pg_profile p;
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    static char big[150000];
    memset(big, 'b', sizeof big);
    char name[64];
    for (int i = 0; i < 8000; i++) {
        uint32_t parent = PG_ROOT;
        for (int d = 0; d < 3; d++) {
            int n = snprintf(name, sizeof name, "pkg.Class%d.method%d", d == 0 ? i / 10 : d == 1 ? i / 2 : i, d);
            parent = pg_profile_child(&p, parent, name, (size_t)n);
            assert_true(parent != PG_NODE_NONE);
            n = snprintf(name, sizeof name, "pkg/Class%d.java", i % 300);
            assert_int_equal(pg_profile_set_file(&p, parent, i == 2000 && d == 2 ? big : name, i == 2000 && d == 2 ? sizeof big : (size_t)n), PG_OK);
            pg_profile_add_line(&p, parent, i, i + d);
        }
        assert_int_equal(pg_profile_add_count(&p, parent, "RUNNABLE", 8, i + 0.5), PG_OK);
        assert_int_equal(pg_profile_add_count(&p, parent, "WALL_TIME", 9, i * 3), PG_OK);
    }
    expect_same_bytes(&p, 0, &p, 1000, true); /* the blocks, then the walk */
    pg_buf whole, joined;
    pg_buf_init(&whole, 1 << 24);
    pg_buf_init(&joined, 1 << 24);
    pg_pwriter *w;
    assert_int_equal(pg_pwriter_new(&p, true, 0, &w), PG_OK);
    bool done = false;
    assert_int_equal(pg_pwriter_step(w, &whole, SIZE_MAX, &done), PG_OK);
    assert_true(done && whole.len > 8 * 64 * 1024); /* several blocks */
    size_t lm = pg_ion_layout_memory(pg_pwriter_layout(w));
    assert_true(lm > whole.len - 4096 && lm < whole.len + whole.len / 8 + 64 * 1024 + (size_t)p.strs.n * 16);
    pg_pwriter_free(w);
    static const size_t steps[] = {7, 5000, 70000};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        encode_in_steps(&p, true, 0, steps[i], &joined);
        assert_int_equal(joined.len, whole.len);
        assert_memory_equal(joined.data, whole.data, whole.len);
    }
    pg_buf_free(&whole);
    pg_buf_free(&joined);
    pg_profile_free(&p);
}

static void test_stepped_writer_matches_whole(void **state)
{
    (void)state;
    pg_profile p;
    build_big(&p, 1e15);
    for (int ion = 0; ion < 2; ion++)
        for (uint32_t depth = 0; depth < 6; depth += 5) {
            pg_buf whole, joined;
            pg_buf_init(&whole, 1 << 24);
            pg_buf_init(&joined, 1 << 24);
            assert_int_equal(pg_profile_encode(&p, ion, depth, &whole), PG_OK);
            static const size_t steps[] = {1, 7, 100, 4096};
            for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
                size_t pieces = encode_in_steps(&p, ion, depth, steps[i], &joined);
                if (whole.len > 2 * steps[i] + 4096)
                    assert_true(pieces > 1);
                assert_int_equal(joined.len, whole.len);
                assert_memory_equal(joined.data, whole.data, whole.len);
            }
            pg_buf_free(&whole);
            pg_buf_free(&joined);
        }
    pg_profile_free(&p);
}

static void test_copy(void **state)
{
    (void)state;
    pg_profile p, q;
    build_big(&p, 1e15);
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    assert_int_equal(pg_profile_copy(&q, &p, &lim), PG_OK);
    pg_buf a, b;
    pg_buf_init(&a, 1 << 24);
    pg_buf_init(&b, 1 << 24);
    assert_int_equal(pg_profile_encode(&p, false, 0, &a), PG_OK);
    pg_profile_free(&p); /* the copy owns nothing of the original */
    assert_int_equal(pg_profile_encode(&q, false, 0, &b), PG_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* Still a working profile: new nodes and names go in. */
    uint32_t c = pg_profile_child(&q, PG_ROOT, "new", 3);
    assert_int_not_equal(c, PG_NODE_NONE);
    assert_int_equal(pg_profile_child(&q, PG_ROOT, "new", 3), c);
    lim.max_nodes = 10;
    assert_int_equal(pg_profile_copy(&p, &q, &lim), PG_ELIMIT);
    pg_profile_free(&q);
    pg_buf_free(&a);
    pg_buf_free(&b);
}

static void test_limits(void **state)
{
    (void)state;
    pg_profile_limits lim = {.max_nodes = 3, .max_depth = 2, .max_strings = 100, .max_string_bytes = 1000,
                             .max_counts = 1};
    pg_profile p;
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    uint32_t a = pg_profile_child(&p, PG_ROOT, "a", 1);
    uint32_t b = pg_profile_child(&p, a, "b", 1);
    assert_int_not_equal(b, PG_NODE_NONE);
    assert_int_equal(pg_profile_child(&p, b, "c", 1), PG_NODE_NONE);       /* too deep */
    assert_int_equal(pg_profile_child(&p, PG_ROOT, "d", 1), PG_NODE_NONE); /* too many nodes */
    assert_int_equal(pg_profile_add_count(&p, a, "W", 1, 1), PG_OK);
    assert_int_equal(pg_profile_add_count(&p, a, "W", 1, 1), PG_OK);       /* same pair: no new entry */
    assert_int_equal(pg_profile_add_count(&p, b, "W", 1, 1), PG_ELIMIT);
    pg_profile_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json), cmocka_unit_test(test_json_escaping_and_extras),
        cmocka_unit_test(test_ion_bytes), cmocka_unit_test(test_ion_long_container_and_negative),
        cmocka_unit_test(test_limits), cmocka_unit_test(test_stepped_writer_matches_whole),
        cmocka_unit_test(test_copy), cmocka_unit_test(test_shrink), cmocka_unit_test(test_ordered_writes_the_same),
        cmocka_unit_test(test_ion_loop_matches_walk), cmocka_unit_test(test_ion_layout_reuse),
        cmocka_unit_test(test_ion_layout_holds_its_symbols_only),
        cmocka_unit_test(test_ion_tree_in_blocks),
        cmocka_unit_test(test_lines_past_32_bits),
        cmocka_unit_test(test_counter_listing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
