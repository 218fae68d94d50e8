/* Unit tests for pprof.c: the steps' concatenation is one valid Profile message (protobuf-c reads
 * it back); one sample type per counter with the profile's totals; every sample's stack names the
 * node's path; written in small steps it is the same bytes; maxDepth keeps totals and bounds
 * stacks; the period and duration come from the metadata. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profgate/folded.h"
#include "profgate/pprof.h"
#include "profgate/simgen.h"
#include "profile.pb-c.h"

static void sim_profile(uint32_t nodes, pg_profile *p)
{
    pg_simgen_cfg c = {.seed = 4, .nodes = nodes, .data_since_s = 0, .cache_bytes = 64 << 20};
    pg_simgen *g = pg_simgen_new(&c);
    pg_simacc a;
    assert_int_equal(pg_simgen_acc_init(g, "pp", &a), PG_OK);
    assert_int_equal(pg_simgen_add(g, "pp", PG_P1H, 3600, INT64_MAX / 4, &a), PG_OK);
    pg_profile_limits l;
    pg_profile_limits_default(&l);
    assert_int_equal(pg_profile_init(p, &l), PG_OK);
    assert_int_equal(pg_simgen_profile(g, "pp", &a, 3600 * 1000, 7200 * 1000, p), PG_OK);
    pg_simgen_acc_free(&a);
    pg_simgen_free(g);
}

static void encode(const pg_profile *p, uint32_t depth, size_t budget, pg_buf *out)
{
    uint32_t def;
    assert_int_equal(pg_profile_pick_counter(p, NULL, 0, &def), PG_OK);
    pg_ppwriter *w;
    assert_int_equal(pg_ppwriter_new(p, def, depth, &w), PG_OK);
    pg_buf_init(out, 256 << 20);
    bool done = false;
    while (!done)
        assert_int_equal(pg_ppwriter_step(w, out, out->len + budget, &done), PG_OK);
    pg_ppwriter_free(w);
}

static const char *str(const Perftools__Profiles__Profile *m, int64_t i)
{
    assert_true(i >= 0 && (size_t)i < m->n_string_table);
    return m->string_table[i];
}

static const Perftools__Profiles__Function *fn(const Perftools__Profiles__Profile *m, uint64_t loc_id)
{
    for (size_t i = 0; i < m->n_location; i++)
        if (m->location[i]->id == loc_id) {
            assert_int_equal(m->location[i]->n_line, 1);
            uint64_t f = m->location[i]->line[0]->function_id;
            for (size_t k = 0; k < m->n_function; k++)
                if (m->function[k]->id == f)
                    return m->function[k];
        }
    fail_msg("location %llu has no function", (unsigned long long)loc_id);
    return NULL;
}

static double total_of(const pg_profile *p, const char *counter)
{
    double t = 0;
    for (uint32_t i = 0; i < p->n; i++)
        for (uint32_t k = 0; k < p->nodes[i].ncounts; k++) {
            size_t len;
            const char *s = pg_strtab_get(&p->strs, p->pool[p->nodes[i].counts + k].counter, &len);
            if (len == strlen(counter) && memcmp(s, counter, len) == 0)
                t += p->pool[p->nodes[i].counts + k].value;
        }
    return t;
}

static void test_reads_back_with_totals_and_paths(void **state)
{
    (void)state;
    pg_profile p;
    sim_profile(3000, &p);
    pg_buf whole, stepped;
    encode(&p, 0, SIZE_MAX / 2, &whole);
    encode(&p, 0, 1, &stepped);
    assert_int_equal(whole.len, stepped.len);
    assert_memory_equal(whole.data, stepped.data, whole.len);
    Perftools__Profiles__Profile *m = perftools__profiles__profile__unpack(NULL, whole.len, (uint8_t *)whole.data);
    assert_non_null(m);
    assert_string_equal(m->string_table[0], "");
    assert_true(m->n_sample_type >= 2);
    for (size_t t = 0; t < m->n_sample_type; t++) {
        assert_string_equal(str(m, m->sample_type[t]->unit), "count");
        double sum = 0;
        for (size_t s = 0; s < m->n_sample; s++)
            sum += (double)m->sample[s]->value[t];
        assert_true(sum == total_of(&p, str(m, m->sample_type[t]->type)));
        if (t > 0) /* sorted by name */
            assert_true(strcmp(str(m, m->sample_type[t - 1]->type), str(m, m->sample_type[t]->type)) < 0);
    }
    uint32_t def;
    assert_int_equal(pg_profile_pick_counter(&p, NULL, 0, &def), PG_OK);
    size_t dlen;
    const char *dname = pg_strtab_get(&p.strs, def, &dlen); /* not NUL-terminated */
    assert_int_equal(strlen(str(m, m->default_sample_type)), dlen);
    assert_memory_equal(str(m, m->default_sample_type), dname, dlen);
    /* Each sample's stack, read from the top, is a path of the tree ending at a node with counts. */
    for (size_t s = 0; s < m->n_sample; s++) {
        const Perftools__Profiles__Sample *smp = m->sample[s];
        assert_true(smp->n_location_id > 0);
        uint32_t node = 0;
        for (size_t k = smp->n_location_id; k-- > 0;) {
            const char *name = str(m, fn(m, smp->location_id[k])->name);
            uint32_t c = p.nodes[node].first_child;
            while (c != PG_NODE_NONE) {
                size_t len;
                const char *cn = pg_strtab_get(&p.strs, p.nodes[c].name, &len);
                if (len == strlen(name) && memcmp(cn, name, len) == 0)
                    break;
                c = p.nodes[c].next_sibling;
            }
            assert_int_not_equal(c, PG_NODE_NONE);
            node = c;
        }
        assert_true(p.nodes[node].ncounts > 0);
    }
    assert_true(p.has_duration);
    assert_int_equal(m->duration_nanos, llround(p.duration_ms * 1e6));
    assert_int_equal(m->time_nanos, p.start_ms * 1000000);
    if (p.has_samples && p.num_samples > 0) {
        assert_non_null(m->period_type);
        assert_string_equal(str(m, m->period_type->unit), "nanoseconds");
        assert_int_equal(m->period, llround(p.duration_ms * 1e6 / p.num_samples));
    }
    perftools__profiles__profile__free_unpacked(m, NULL);
    pg_buf_free(&whole);
    pg_buf_free(&stepped);
    pg_profile_free(&p);
}

static void test_max_depth(void **state)
{
    (void)state;
    pg_profile p;
    sim_profile(3000, &p);
    pg_buf b;
    encode(&p, 2, 1 << 16, &b);
    Perftools__Profiles__Profile *m = perftools__profiles__profile__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_non_null(m);
    for (size_t t = 0; t < m->n_sample_type; t++) {
        double sum = 0;
        for (size_t s = 0; s < m->n_sample; s++) {
            assert_true(m->sample[s]->n_location_id <= 2);
            sum += (double)m->sample[s]->value[t];
        }
        assert_true(sum == total_of(&p, str(m, m->sample_type[t]->type)));
    }
    perftools__profiles__profile__free_unpacked(m, NULL);
    pg_buf_free(&b);
    pg_profile_free(&p);
}

static void test_empty_profile(void **state)
{
    (void)state;
    pg_profile_limits l;
    pg_profile_limits_default(&l);
    pg_profile p;
    assert_int_equal(pg_profile_init(&p, &l), PG_OK);
    pg_ppwriter *w;
    assert_int_equal(pg_ppwriter_new(&p, PG_STR_NONE, 0, &w), PG_OK);
    pg_buf b;
    pg_buf_init(&b, 1 << 20);
    bool done = false;
    while (!done)
        assert_int_equal(pg_ppwriter_step(w, &b, SIZE_MAX / 2, &done), PG_OK);
    pg_ppwriter_free(w);
    Perftools__Profiles__Profile *m = perftools__profiles__profile__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_non_null(m);
    assert_int_equal(m->n_sample, 0);
    assert_int_equal(m->n_sample_type, 0);
    assert_string_equal(m->string_table[0], "");
    perftools__profiles__profile__free_unpacked(m, NULL);
    pg_buf_free(&b);
    pg_profile_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reads_back_with_totals_and_paths),
                                       cmocka_unit_test(test_max_depth), cmocka_unit_test(test_empty_profile)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
