/* Unit tests for pcodec.c: encode -> decode gives the same profile (compared as JSON), a default
 * simulator bucket (~3,000 nodes, ~255 KB of JSON) stays within 40 KB, and every kind of damage
 * (wrong magic or version, a flipped byte, truncation, oversize) is detected, never half-used. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "profgate/pcodec.h"
#include "profgate/profile_json.h"
#include "profgate/simgen.h"

#define HOUR_S INT64_C(1795600800)

static void sim_profile(uint32_t nodes, pg_period per, pg_profile *p)
{
    pg_simgen_cfg c = {.seed = 5, .nodes = nodes, .data_since_s = 0, .cache_bytes = 64 << 20};
    pg_simgen *g = pg_simgen_new(&c);
    pg_simacc a;
    assert_int_equal(pg_simgen_acc_init(g, "codec", &a), PG_OK);
    assert_int_equal(pg_simgen_add(g, "codec", per, HOUR_S, INT64_MAX / 4, &a), PG_OK);
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    assert_int_equal(pg_profile_init(p, &lim), PG_OK);
    assert_int_equal(pg_simgen_profile(g, "codec", &a, HOUR_S * 1000, (HOUR_S + pg_period_seconds(per)) * 1000, p),
                     PG_OK);
    pg_simgen_acc_free(&a);
    pg_simgen_free(g);
}

static void json_of(const pg_profile *p, pg_buf *b)
{
    pg_buf_init(b, 64 << 20);
    assert_int_equal(pg_profile_encode(p, false, 0, b), PG_OK);
}

static int decode(const pg_buf *enc, pg_profile *q, char *why)
{
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    assert_int_equal(pg_profile_init(q, &lim), PG_OK);
    return pg_pcodec_decode(enc->data, enc->len, 64 << 20, q, why, 160);
}

static void test_round_trip_and_size(void **state)
{
    (void)state;
    pg_profile p, q;
    sim_profile(3000, PG_P5M, &p);
    /* Extras and non-integral numbers survive too. */
    p.top_extra = pg_value_struct_new();
    assert_int_equal(pg_value_set_num(p.top_extra, "ratio", 0.125), PG_OK);
    assert_int_equal(pg_value_set_str(p.top_extra, "note", "caf\xc3\xa9"), PG_OK);
    pg_profile_add_count(&p, 1, "CPU_SECONDS", 11, 1.5);
    pg_buf enc;
    pg_buf_init(&enc, 64 << 20);
    assert_int_equal(pg_pcodec_encode(&p, 3, &enc), PG_OK);
    char why[160];
    assert_int_equal(decode(&enc, &q, why), PG_OK);
    pg_buf a, b;
    json_of(&p, &a);
    json_of(&q, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    printf("default bucket: %zu nodes, %zu bytes JSON, %zu bytes encoded\n", (size_t)p.n, a.len, enc.len);
    assert_true(a.len > 200000);
    assert_true(enc.len <= 40 * 1024);
    pg_buf_free(&a);
    pg_buf_free(&b);
    pg_buf_free(&enc);
    pg_profile_free(&p);
    pg_profile_free(&q);
}

static void test_empty_profile(void **state)
{
    (void)state;
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    pg_profile p, q;
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    pg_buf enc;
    pg_buf_init(&enc, 1 << 20);
    assert_int_equal(pg_pcodec_encode(&p, 3, &enc), PG_OK);
    char why[160];
    assert_int_equal(decode(&enc, &q, why), PG_OK);
    assert_int_equal(q.n, 1);
    assert_false(q.has_start);
    pg_buf_free(&enc);
    pg_profile_free(&p);
    pg_profile_free(&q);
}

static void test_damage_is_detected(void **state)
{
    (void)state;
    pg_profile p, q;
    sim_profile(200, PG_P5M, &p);
    pg_buf enc;
    pg_buf_init(&enc, 64 << 20);
    assert_int_equal(pg_pcodec_encode(&p, 3, &enc), PG_OK);
    char why[160];
    pg_buf want;
    json_of(&p, &want);
    /* A flipped byte is caught (by the magic, the version, zstd or its content checksum), or it
     * was in bits that do not matter and the very same profile comes out: damage never yields a
     * different profile. */
    size_t caught = 0;
    for (size_t i = 0; i < enc.len; i++) {
        enc.data[i] ^= 0x5a;
        int rc = decode(&enc, &q, why);
        if (rc == PG_OK) {
            pg_buf got;
            json_of(&q, &got);
            if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0)
                fail_msg("a flipped byte at %zu produced a different profile", i);
            pg_buf_free(&got);
        } else {
            caught++;
        }
        pg_profile_free(&q);
        enc.data[i] ^= 0x5a;
    }
    assert_true(caught >= enc.len - 8);
    pg_buf_free(&want);
    for (size_t cut = 0; cut < enc.len; cut += 7) {
        pg_buf t = enc;
        t.len = cut;
        assert_int_not_equal(decode(&t, &q, why), PG_OK);
        pg_profile_free(&q);
    }
    enc.data[3] = 9;
    assert_int_equal(decode(&enc, &q, why), PG_EINVAL);
    assert_string_equal(why, "cache format version 9, expected 1");
    pg_profile_free(&q);
    enc.data[3] = PG_PCODEC_VERSION;
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    assert_int_equal(pg_profile_init(&q, &lim), PG_OK);
    assert_int_equal(pg_pcodec_decode(enc.data, enc.len, 100, &q, why, sizeof why), PG_ELIMIT);
    pg_profile_free(&q);
    pg_buf_free(&enc);
    pg_profile_free(&p);
}

/* A value bomb: carried metadata of 200,000 empty items compresses to almost nothing but would
 * take megabytes once built. It is refused before it is built, and the profile's memory count
 * includes what metadata it does hold. */
static void test_value_bomb_is_refused(void **state)
{
    (void)state;
    pg_profile p, q;
    sim_profile(100, PG_P5M, &p);
    pg_value_free(p.meta_extra); /* whatever the generator put there */
    p.meta_extra = NULL;
    size_t before = pg_profile_memory(&p);
    p.meta_extra = pg_value_struct_new();
    pg_value *bomb = pg_value_set(p.meta_extra, "bomb", 4);
    bomb->kind = PG_V_LIST;
    bomb->items = calloc(200000, sizeof *bomb->items);
    bomb->n = bomb->cap = 200000;
    if (pg_profile_memory(&p) < before + 200000 * sizeof(pg_value)) /* counted, not a few KB */
        fail_msg("memory %zu, before %zu", pg_profile_memory(&p), before);
    pg_buf enc;
    pg_buf_init(&enc, 64 << 20);
    assert_int_equal(pg_pcodec_encode(&p, 3, &enc), PG_OK);
    assert_true(enc.len < 8192); /* what an attacker plants: a few kilobytes */
    char why[160];
    assert_int_equal(decode(&enc, &q, why), PG_EINVAL);
    assert_non_null(strstr(why, "carried values exceed their memory limit"));
    pg_profile_free(&q);
    /* Metadata of a reasonable size still reads back. */
    pg_value_free(p.meta_extra);
    p.meta_extra = pg_value_struct_new();
    assert_int_equal(pg_value_set_str(p.meta_extra, "agentInfo", "python/1.2.3"), PG_OK);
    pg_buf_reset(&enc);
    assert_int_equal(pg_pcodec_encode(&p, 3, &enc), PG_OK);
    assert_int_equal(decode(&enc, &q, why), PG_OK);
    assert_true(pg_value_equal(p.meta_extra, q.meta_extra));
    pg_profile_free(&q);
    pg_profile_free(&p);
    pg_buf_free(&enc);
}

/* A frame that declares far more bytes than any profile expands to is refused before its buffer
 * is allocated; up to PG_PCODEC_RAW_FREE bytes any ratio passes (small values compress well). */
static void test_expansion_ratio(void **state)
{
    (void)state;
    size_t big = (size_t)8 << 20;
    unsigned char *zeros = calloc(1, big);
    assert_non_null(zeros);
    pg_buf v;
    pg_buf_init(&v, 2 * big);
    assert_int_equal(pg_buf_reserve(&v, 4 + ZSTD_compressBound(big)), PG_OK);
    memcpy(v.data, "PGZ\x01", 4);
    size_t n = ZSTD_compress(v.data + 4, ZSTD_compressBound(big), zeros, big, 3);
    assert_false(ZSTD_isError(n));
    v.len = 4 + n;
    assert_true(v.len < 4096); /* 8 MiB in a few hundred bytes */
    pg_profile q;
    char why[160];
    assert_int_equal(decode(&v, &q, why), PG_EINVAL);
    assert_non_null(strstr(why, "value bomb"));
    pg_profile_free(&q);
    assert_true(pg_pcodec_ratio_ok(PG_PCODEC_RAW_FREE, 1));
    assert_false(pg_pcodec_ratio_ok(PG_PCODEC_RAW_FREE + PG_PCODEC_MAX_RATIO, 1));
    assert_true(pg_pcodec_ratio_ok((size_t)64 << 20, ((size_t)1 << 20) + 1));
    assert_false(pg_pcodec_ratio_ok((size_t)64 << 20, (size_t)1 << 20));
    pg_buf_free(&v);
    free(zeros);
}

/* What the JSON parser keeps is what the codec reads back: metadata nested deeper than that, or
 * bigger than the value budget, is refused when the upstream's answer is parsed. */
static void test_json_metadata_bounds(void **state)
{
    (void)state;
    pg_buf j;
    pg_buf_init(&j, 1 << 22);
    char why[160];
    pg_profile p, q;
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    /* 63 nested lists under an unknown member: kept, stored and read back. */
    pg_buf_puts(&j, "{\"start\":0,\"end\":300000,\"agentMetadata\":{\"deep\":");
    for (int i = 0; i < PG_VALUE_DEPTH_MAX - 1; i++)
        pg_buf_puts(&j, "[");
    for (int i = 0; i < PG_VALUE_DEPTH_MAX - 1; i++)
        pg_buf_puts(&j, "]");
    pg_buf_puts(&j, "},\"callgraph\":{}}");
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    if (pg_profile_from_json(&p, j.data, j.len, why, sizeof why) != PG_OK)
        fail_msg("refused: %s", why);
    pg_buf enc;
    pg_buf_init(&enc, 1 << 20);
    assert_int_equal(pg_pcodec_encode(&p, 3, &enc), PG_OK);
    assert_int_equal(decode(&enc, &q, why), PG_OK);
    assert_true(pg_value_equal(p.meta_extra, q.meta_extra));
    pg_profile_free(&p);
    pg_profile_free(&q);
    /* One level deeper: refused at parse time (before, it was stored and never readable). */
    pg_buf_reset(&j);
    pg_buf_puts(&j, "{\"agentMetadata\":{\"deep\":");
    for (int i = 0; i < PG_VALUE_DEPTH_MAX + 1; i++)
        pg_buf_puts(&j, "[");
    for (int i = 0; i < PG_VALUE_DEPTH_MAX + 1; i++)
        pg_buf_puts(&j, "]");
    pg_buf_puts(&j, "}}");
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    assert_int_equal(pg_profile_from_json(&p, j.data, j.len, why, sizeof why), PG_ELIMIT);
    assert_non_null(strstr(why, "nests too deeply"));
    pg_profile_free(&p);
    /* 100,000 empty lists (200 KB of JSON, 5 MB of values): refused as it is built. */
    pg_buf_reset(&j);
    pg_buf_puts(&j, "{\"agentMetadata\":{\"bomb\":[");
    for (int i = 0; i < 100000; i++)
        pg_buf_puts(&j, i ? ",[]" : "[]");
    pg_buf_puts(&j, "]}}");
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    assert_int_equal(pg_profile_from_json(&p, j.data, j.len, why, sizeof why), PG_ELIMIT);
    assert_non_null(strstr(why, "too large for its memory limit"));
    assert_true(pg_profile_memory(&p) < 2 * lim.max_value_bytes + (64 << 20));
    pg_profile_free(&p);
    /* So are a million unknown top-level members. */
    pg_buf_reset(&j);
    pg_buf_puts(&j, "{");
    for (int i = 0; i < 50000; i++)
        pg_buf_printf(&j, "%s\"k%d\":0", i ? "," : "", i);
    pg_buf_puts(&j, "}");
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    assert_int_equal(pg_profile_from_json(&p, j.data, j.len, why, sizeof why), PG_ELIMIT);
    assert_non_null(strstr(why, "too large for its memory limit"));
    pg_profile_free(&p);
    pg_buf_free(&j);
    pg_buf_free(&enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip_and_size), cmocka_unit_test(test_empty_profile),
                                       cmocka_unit_test(test_damage_is_detected),
                                       cmocka_unit_test(test_value_bomb_is_refused),
                                       cmocka_unit_test(test_expansion_ratio),
                                       cmocka_unit_test(test_json_metadata_bounds)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
