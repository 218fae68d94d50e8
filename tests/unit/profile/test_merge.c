/* Unit tests for profile_json.c and merge.c: JSON round trips byte for byte, twelve 5-minute
 * buckets parsed and merged equal their hour, merge order does not matter, the empty profile is
 * the identity, disagreeing sample weights are recomputed, unknown fields survive, and malformed
 * or oversized input is rejected with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "profgate/merge.h"
#include "profgate/profile_json.h"
#include "profgate/simgen.h"

#define HOUR_S INT64_C(1795600800)

static pg_profile_limits lim(void)
{
    pg_profile_limits l;
    pg_profile_limits_default(&l);
    return l;
}

/* The simulator's profile of (p, start) as JSON. */
static void sim_json(pg_simgen *g, pg_period per, int64_t start, pg_buf *out)
{
    pg_simacc a;
    assert_int_equal(pg_simgen_acc_init(g, "m", &a), PG_OK);
    assert_int_equal(pg_simgen_add(g, "m", per, start, INT64_MAX / 4, &a), PG_OK);
    pg_profile_limits l = lim();
    pg_profile p;
    assert_int_equal(pg_profile_init(&p, &l), PG_OK);
    assert_int_equal(pg_simgen_profile(g, "m", &a, start * 1000, (start + pg_period_seconds(per)) * 1000, &p), PG_OK);
    pg_buf_init(out, 64 << 20);
    assert_int_equal(pg_profile_encode(&p, false, 0, out), PG_OK);
    pg_profile_free(&p);
    pg_simgen_acc_free(&a);
}

static void parse(pg_profile *p, const pg_buf *b)
{
    pg_profile_limits l = lim();
    assert_int_equal(pg_profile_init(p, &l), PG_OK);
    char why[160];
    if (pg_profile_from_json(p, b->data, b->len, why, sizeof why) != PG_OK)
        fail_msg("parse failed: %s", why);
}

static void assert_same_json(const pg_profile *p, const pg_buf *want)
{
    pg_buf got;
    pg_buf_init(&got, 64 << 20);
    assert_int_equal(pg_profile_encode(p, false, 0, &got), PG_OK);
    if (got.len != want->len || memcmp(got.data, want->data, got.len) != 0)
        fail_msg("JSON differs (%zu vs %zu bytes): %.300s\n   vs %.300s", got.len, want->len, got.data, want->data);
    pg_buf_free(&got);
}

static pg_simgen *gen(void)
{
    pg_simgen_cfg c = {.seed = 21, .nodes = 500, .data_since_s = 0, .cache_bytes = 64 << 20};
    return pg_simgen_new(&c);
}

static void test_round_trip(void **state)
{
    (void)state;
    pg_simgen *g = gen();
    pg_buf j;
    sim_json(g, PG_P1H, HOUR_S, &j);
    pg_profile p;
    parse(&p, &j);
    assert_same_json(&p, &j);
    /* Fed one byte at a time, the streaming parser builds the same profile. */
    pg_profile q;
    pg_profile_limits l = lim();
    assert_int_equal(pg_profile_init(&q, &l), PG_OK);
    pg_pjson *s = pg_pjson_new(&q, 65536);
    for (size_t i = 0; i < j.len; i++)
        assert_int_equal(pg_pjson_feed(s, j.data + i, 1), PG_OK);
    assert_int_equal(pg_pjson_finish(s), PG_OK);
    pg_pjson_free(s);
    assert_same_json(&q, &j);
    pg_profile_free(&p);
    pg_profile_free(&q);
    pg_buf_free(&j);
    pg_simgen_free(g);
}

static void test_twelve_buckets_make_the_hour(void **state)
{
    (void)state;
    pg_simgen *g = gen();
    pg_buf hour;
    sim_json(g, PG_P1H, HOUR_S, &hour);
    pg_profile_limits l = lim();
    pg_profile fwd, rev;
    assert_int_equal(pg_profile_init(&fwd, &l), PG_OK);
    assert_int_equal(pg_profile_init(&rev, &l), PG_OK);
    pg_buf parts[12];
    for (int i = 0; i < 12; i++)
        sim_json(g, PG_P5M, HOUR_S + i * 300, &parts[i]);
    for (int i = 0; i < 12; i++) {
        pg_profile a, b;
        parse(&a, &parts[i]);
        parse(&b, &parts[11 - i]);
        assert_int_equal(pg_profile_merge(&fwd, &a), PG_OK);
        assert_int_equal(pg_profile_merge(&rev, &b), PG_OK);
        pg_profile_free(&a);
        pg_profile_free(&b);
    }
    assert_same_json(&fwd, &hour);
    assert_same_json(&rev, &hour);
    for (int i = 0; i < 12; i++)
        pg_buf_free(&parts[i]);
    pg_profile_free(&fwd);
    pg_profile_free(&rev);
    pg_buf_free(&hour);
    pg_simgen_free(g);
}

static void test_identity(void **state)
{
    (void)state;
    pg_simgen *g = gen();
    pg_buf j;
    sim_json(g, PG_P5M, HOUR_S, &j);
    pg_profile p, empty;
    parse(&p, &j);
    pg_profile_limits l = lim();
    assert_int_equal(pg_profile_init(&empty, &l), PG_OK);
    assert_int_equal(pg_profile_merge(&p, &empty), PG_OK);
    assert_same_json(&p, &j);
    assert_int_equal(pg_profile_merge(&empty, &p), PG_OK);
    assert_same_json(&empty, &j);
    pg_profile_free(&p);
    pg_profile_free(&empty);
    pg_buf_free(&j);
    pg_simgen_free(g);
}

static void merged_json(const char *a, const char *b, pg_buf *out)
{
    pg_profile_limits l = lim();
    pg_profile pa, pb;
    assert_int_equal(pg_profile_init(&pa, &l), PG_OK);
    assert_int_equal(pg_profile_init(&pb, &l), PG_OK);
    char why[160];
    if (pg_profile_from_json(&pa, a, strlen(a), why, sizeof why) != PG_OK ||
        pg_profile_from_json(&pb, b, strlen(b), why, sizeof why) != PG_OK)
        fail_msg("parse: %s", why);
    assert_int_equal(pg_profile_merge(&pa, &pb), PG_OK);
    pg_buf_init(out, 1 << 20);
    assert_int_equal(pg_profile_encode(&pa, false, 0, out), PG_OK);
    assert_int_equal(pg_buf_reserve(out, 1), PG_OK);
    out->data[out->len] = '\0';
    pg_profile_free(&pa);
    pg_profile_free(&pb);
}

static void test_rules(void **state)
{
    (void)state;
    pg_buf o;
    /* Counts add, files keep the first, lines widen, start/end span, unknown fields survive. */
    merged_json("{\"start\":10,\"end\":20,\"extra\":[1,{\"k\":true}],\"agentMetadata\":{\"numTimesSampled\":2,"
                "\"durationInMs\":1000,\"fleetInfo\":{\"id\":\"a\"}},\"callgraph\":{\"children\":{\"f\":{\"counts\":"
                "{\"W\":1},\"file\":\"F.java\",\"line\":[5],\"unknownNodeField\":{\"x\":[1,2]}}}}}",
                "{\"start\":5,\"end\":15,\"agentMetadata\":{\"numTimesSampled\":3,\"durationInMs\":500,\"fleetInfo\":"
                "{\"id\":\"b\"},\"cpuTimeInSeconds\":1.5},\"callgraph\":{\"children\":{\"f\":{\"counts\":{\"W\":2,"
                "\"R\":7},\"file\":\"G.java\",\"line\":[9,3]},\"g\":{}}}}",
                &o);
    assert_string_equal(o.data, "{\"start\":5,\"end\":20,\"agentMetadata\":{\"durationInMs\":1500,\"numTimesSampled\":5,"
                                "\"cpuTimeInSeconds\":1.5,\"fleetInfo\":{\"id\":\"a\"}},\"callgraph\":{\"children\":{\"f\":"
                                "{\"counts\":{\"R\":7,\"W\":3},\"file\":\"F.java\",\"line\":[3,9]},\"g\":{}}},\"extra\":[1,"
                                "{\"k\":true}]}");
    pg_buf_free(&o);
    /* Disagreeing weights: w = 4 samples / 2 s = 2; counts rescaled by 2/1 and 2/4. */
    merged_json("{\"agentMetadata\":{\"sampleWeights\":{\"W\":1},\"numTimesSampled\":1,\"durationInMs\":1000},"
                "\"callgraph\":{\"children\":{\"f\":{\"counts\":{\"W\":10}}}}}",
                "{\"agentMetadata\":{\"sampleWeights\":{\"W\":4},\"numTimesSampled\":3,\"durationInMs\":1000},"
                "\"callgraph\":{\"children\":{\"f\":{\"counts\":{\"W\":8}}}}}",
                &o);
    assert_string_equal(o.data, "{\"agentMetadata\":{\"sampleWeights\":{\"W\":2},\"durationInMs\":2000,"
                                "\"numTimesSampled\":4},\"callgraph\":{\"children\":{\"f\":{\"counts\":{\"W\":24}}}}}");
    pg_buf_free(&o);
}

static void expect_reject(const char *json, const char *why_part, pg_profile_limits l)
{
    pg_profile p;
    assert_int_equal(pg_profile_init(&p, &l), PG_OK);
    char why[160] = "";
    if (pg_profile_from_json(&p, json, strlen(json), why, sizeof why) == PG_OK)
        fail_msg("accepted: %s", json);
    if (strstr(why, why_part) == NULL)
        fail_msg("reason '%s' lacks '%s' for %s", why, why_part, json);
    pg_profile_free(&p);
}

static void test_rejects(void **state)
{
    (void)state;
    pg_profile_limits l = lim();
    expect_reject("", "malformed JSON", l);
    expect_reject("{", "malformed JSON", l);
    expect_reject("{\"start\":1}x", "malformed JSON", l);
    expect_reject("{\"start\":1} {\"start\":2}", "malformed JSON", l);
    expect_reject("[1,2]", "unexpected list", l);
    expect_reject("{\"start\":\"yesterday\"}", "start and end must be integer", l);
    expect_reject("{\"start\":1.5}", "start and end must be integer", l);
    expect_reject("{\"callgraph\":{\"children\":{\"f\":{\"counts\":{\"W\":\"x\"}}}}}", "counts must be numbers", l);
    expect_reject("{\"callgraph\":{\"children\":{\"f\":{\"line\":[1,2,3]}}}}", "at most two", l);
    expect_reject("{\"callgraph\":{\"children\":{\"f\":{\"line\":[1.5]}}}}", "integers", l);
    expect_reject("{\"callgraph\":{\"children\":{\"f\":{\"file\":7}}}}", "file must be a string", l);
    expect_reject("{\"callgraph\":[]}", "unexpected list", l);
    expect_reject("{\"agentMetadata\":{\"sampleWeights\":{\"W\":{}}}}", "sampleWeights values must be numbers", l);
    expect_reject("{\"callgraph\":{\"children\":{\"\xff\":{}}}}", "malformed JSON", l); /* invalid UTF-8 */
    pg_profile_limits small = l;
    small.max_nodes = 3;
    expect_reject("{\"callgraph\":{\"children\":{\"a\":{},\"b\":{},\"c\":{}}}}", "too large", small);
    small = l;
    small.max_depth = 2;
    expect_reject("{\"callgraph\":{\"children\":{\"a\":{\"children\":{\"b\":{\"children\":{\"c\":{}}}}}}}}", "too large", small);
    /* Deep nesting in an unknown member is bounded too. */
    char deep[5000];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "{\"x\":");
    for (int i = 0; i < 1200; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    expect_reject(deep, "nests too deeply", l);
}

/* A kept profile's origin (what its Ion layout is matched by) survives a merge into nothing (the
 * answer is a copy) and is cleared by any merge that changes it, even one that only adds a file. */
static void test_origin(void **state)
{
    (void)state;
    pg_profile_limits l = lim();
    pg_profile kept, empty, files, copy;
    assert_int_equal(pg_profile_init(&kept, &l), PG_OK);
    uint32_t a = pg_profile_child(&kept, PG_ROOT, "a", 1);
    uint32_t b = pg_profile_child(&kept, a, "b", 1);
    assert_int_equal(pg_profile_add_count(&kept, b, "RUNNABLE", 8, 5), PG_OK);
    assert_int_equal(pg_profile_shrink(&kept, true), PG_OK);
    assert_true(kept.origin != 0);
    assert_int_equal(pg_profile_init(&empty, &l), PG_OK);
    assert_int_equal(pg_profile_merge(&empty, &kept), PG_OK);
    assert_true(empty.origin == kept.origin);
    assert_int_equal(pg_profile_copy(&copy, &kept, &l), PG_OK);
    assert_int_equal(pg_profile_init(&files, &l), PG_OK);
    uint32_t fa = pg_profile_child(&files, PG_ROOT, "a", 1);
    assert_int_equal(pg_profile_set_file(&files, fa, "A.java", 6), PG_OK); /* no counts at all */
    assert_int_equal(pg_profile_merge(&copy, &files), PG_OK);
    assert_true(copy.origin == 0);
    pg_profile_free(&kept);
    pg_profile_free(&empty);
    pg_profile_free(&files);
    pg_profile_free(&copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_twelve_buckets_make_the_hour),
        cmocka_unit_test(test_identity),   cmocka_unit_test(test_rules),
        cmocka_unit_test(test_rejects),    cmocka_unit_test(test_origin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
