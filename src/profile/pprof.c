/*
 * pprof.c: a profile as pprof's profile.proto (see pprof.h). Every step packs one Profile message
 * holding a slice of the fields with protobuf-c; their concatenation is the whole profile, since
 * protobuf appends repeated fields of concatenated messages. Stages: the header (sample types, the
 * scalars), the string table, functions and locations, then a sample per node with a count.
 */
#include "profgate/pprof.h"

#include "profile.pb-c.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ST_HEADER, ST_STRINGS, ST_FUNCTIONS, ST_SAMPLES, ST_DONE };

/* Strings past the profile's own: index 0 is "" (the format requires it), the profile's string
 * id i is index i + 1, and these follow. */
enum { EX_COUNT, EX_WALL, EX_NANOSECONDS, EX_N };
static const char *const extra[EX_N] = {"count", "wall", "nanoseconds"};

#define MAX_TYPES PG_PROFILE_COUNTERS_MAX
#define BATCH 256 /* elements per packed step */
#define STACKS_CAP (BATCH * 64) /* location ids per step (deeper stacks start the next step) */

struct pg_ppwriter {
    const pg_profile *p;
    uint32_t max_depth;
    int stage;
    uint32_t next;          /* the next string, name or node of the stage */
    uint32_t types[MAX_TYPES]; /* counter string ids, sorted by name */
    size_t ntypes;
    int64_t default_type;   /* string table index of the default counter, 0 for none */
    /* Per string id used as a frame name: its first node's file (string id) and line. */
    uint32_t *fn_file;
    int64_t *fn_line;
    bool *is_name;
    uint32_t *sub;       /* subtree walk at the depth limit */
    size_t sub_cap;
    int64_t *values;
    /* A step's buffers, allocated once: its samples' values and stacks, its strings' copies. */
    int64_t *batch_values;  /* BATCH * MAX_TYPES */
    uint64_t *batch_stacks; /* STACKS_CAP location ids */
    pg_buf batch_strs;      /* NUL-terminated copies */
};

static int64_t str_index(uint32_t id)
{
    return id == PG_STR_NONE ? 0 : (int64_t)id + 1;
}

static int64_t extra_index(const pg_ppwriter *w, int e)
{
    return (int64_t)w->p->strs.n + 1 + e;
}


/* Packs msg into out (a step); PG_ELIMIT past out's limit. */
static int pack(const Perftools__Profiles__Profile *msg, pg_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(&msg->base);
    int rc = pg_buf_reserve(out, n);
    if (rc != PG_OK)
        return rc;
    size_t packed = protobuf_c_message_pack(&msg->base, (uint8_t *)out->data + out->len);
    PG_ASSERT(packed == n);
    out->len += n;
    return PG_OK;
}

void pg_ppwriter_free(pg_ppwriter *w)
{
    if (w == NULL)
        return;
    free(w->fn_file);
    free(w->fn_line);
    free(w->is_name);
    free(w->sub);
    free(w->values);
    free(w->batch_values);
    free(w->batch_stacks);
    pg_buf_free(&w->batch_strs);
    free(w);
}

int pg_ppwriter_new(const pg_profile *p, uint32_t default_counter, uint32_t max_depth, pg_ppwriter **out)
{
    pg_ppwriter *w = calloc(1, sizeof *w);
    if (w == NULL)
        return PG_ENOMEM;
    w->p = p;
    w->max_depth = max_depth;
    size_t ns = p->strs.n ? p->strs.n : 1;
    w->fn_file = malloc(ns * sizeof *w->fn_file);
    w->fn_line = malloc(ns * sizeof *w->fn_line);
    w->is_name = calloc(ns, sizeof *w->is_name);
    w->values = calloc(MAX_TYPES, sizeof *w->values);
    w->batch_values = malloc(BATCH * MAX_TYPES * sizeof *w->batch_values);
    w->batch_stacks = malloc(STACKS_CAP * sizeof *w->batch_stacks);
    pg_buf_init(&w->batch_strs, (size_t)1 << 30);
    if (w->fn_file == NULL || w->fn_line == NULL || w->is_name == NULL || w->values == NULL ||
        w->batch_values == NULL || w->batch_stacks == NULL) {
        pg_ppwriter_free(w);
        return PG_ENOMEM;
    }
    pg_profile_frame_sources(p, w->fn_file, w->fn_line);
    for (uint32_t i = 1; i < p->n; i++)
        w->is_name[p->nodes[i].name] = true;
    /* The sample types: every counter that occurs, in byte order of name. */
    w->ntypes = pg_profile_counters_by_name(p, w->types, NULL, MAX_TYPES);
    w->default_type = default_counter != PG_STR_NONE ? str_index(default_counter) : 0;
    *out = w;
    return PG_OK;
}

static int step_header(pg_ppwriter *w, pg_buf *out)
{
    const pg_profile *p = w->p;
    Perftools__Profiles__Profile msg = PERFTOOLS__PROFILES__PROFILE__INIT;
    Perftools__Profiles__ValueType vts[MAX_TYPES], *vtp[MAX_TYPES];
    for (size_t i = 0; i < w->ntypes; i++) {
        perftools__profiles__value_type__init(&vts[i]);
        vts[i].type = str_index(w->types[i]);
        vts[i].unit = extra_index(w, EX_COUNT);
        vtp[i] = &vts[i];
    }
    msg.n_sample_type = w->ntypes;
    msg.sample_type = vtp;
    Perftools__Profiles__ValueType period = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    if (p->has_duration && p->has_samples && p->num_samples > 0) {
        period.type = extra_index(w, EX_WALL);
        period.unit = extra_index(w, EX_NANOSECONDS);
        msg.period_type = &period;
        msg.period = llround(p->duration_ms * 1e6 / p->num_samples);
    }
    if (p->has_start)
        msg.time_nanos = p->start_ms * 1000000;
    if (p->has_duration)
        msg.duration_nanos = llround(p->duration_ms * 1e6);
    msg.default_sample_type = w->default_type;
    return pack(&msg, out);
}

static int step_strings(pg_ppwriter *w, pg_buf *out)
{
    const pg_profile *p = w->p;
    uint32_t total = p->strs.n + 1 + EX_N;
    char *strs[BATCH];
    size_t at[BATCH]; /* offsets into batch_strs (which may move while it grows), or SIZE_MAX */
    size_t n = 0;
    int rc = PG_OK;
    /* protobuf-c packs NUL-terminated strings; a profile's strings are length-delimited, so each is
     * copied with its terminator. A NUL inside a name (never in practice) ends it early. */
    pg_buf_reset(&w->batch_strs);
    while (w->next < total && n < BATCH && rc == PG_OK) {
        uint32_t i = w->next++;
        at[n] = SIZE_MAX;
        if (i == 0) {
            strs[n] = (char *)"";
        } else if (i <= p->strs.n) {
            size_t len;
            const char *s = pg_strtab_get(&p->strs, i - 1, &len);
            at[n] = w->batch_strs.len;
            rc = pg_buf_append(&w->batch_strs, s, len);
            rc = rc ?: pg_buf_append(&w->batch_strs, "", 1);
        } else {
            strs[n] = (char *)extra[i - p->strs.n - 1];
        }
        n++;
    }
    for (size_t k = 0; rc == PG_OK && k < n; k++)
        if (at[k] != SIZE_MAX)
            strs[k] = w->batch_strs.data + at[k];
    if (rc == PG_OK) {
        Perftools__Profiles__Profile msg = PERFTOOLS__PROFILES__PROFILE__INIT;
        msg.n_string_table = n;
        msg.string_table = strs;
        rc = pack(&msg, out);
    }
    if (rc == PG_OK && w->next == total) {
        w->stage = ST_FUNCTIONS;
        w->next = 0;
    }
    return rc;
}

/* A function and a location for each string used as a frame name: both with id = string id + 1. */
static int step_functions(pg_ppwriter *w, pg_buf *out)
{
    const pg_profile *p = w->p;
    Perftools__Profiles__Function fns[BATCH], *fnp[BATCH];
    Perftools__Profiles__Location locs[BATCH], *locp[BATCH];
    Perftools__Profiles__Line lines[BATCH], *linep[BATCH];
    size_t n = 0;
    while (w->next < p->strs.n && n < BATCH) {
        uint32_t id = w->next++;
        if (!w->is_name[id])
            continue;
        perftools__profiles__function__init(&fns[n]);
        fns[n].id = (uint64_t)id + 1;
        fns[n].name = fns[n].system_name = str_index(id);
        fns[n].filename = str_index(w->fn_file[id]);
        fnp[n] = &fns[n];
        perftools__profiles__line__init(&lines[n]);
        lines[n].function_id = (uint64_t)id + 1;
        lines[n].line = w->fn_line[id];
        linep[n] = &lines[n];
        perftools__profiles__location__init(&locs[n]);
        locs[n].id = (uint64_t)id + 1;
        locs[n].n_line = 1;
        locs[n].line = &linep[n];
        locp[n] = &locs[n];
        n++;
    }
    int rc = PG_OK;
    if (n > 0) {
        Perftools__Profiles__Profile msg = PERFTOOLS__PROFILES__PROFILE__INIT;
        msg.n_function = n;
        msg.function = fnp;
        msg.n_location = n;
        msg.location = locp;
        rc = pack(&msg, out);
    }
    if (rc == PG_OK && w->next == p->strs.n) {
        w->stage = ST_SAMPLES;
        w->next = 1; /* node 0 is the unnamed root: its counts have no stack to go on */
    }
    return rc;
}

/* The node's values, one per sample type: its self counts, or its subtree's at the depth limit. */
static int node_values(pg_ppwriter *w, uint32_t node, bool at_limit, bool *any)
{
    const pg_profile *p = w->p;
    double sums[MAX_TYPES] = {0};
    if (at_limit) {
        int rc = pg_profile_subtree_counts(p, node, w->types, w->ntypes, sums, &w->sub, &w->sub_cap);
        if (rc != PG_OK)
            return rc;
    } else {
        for (size_t t = 0; t < w->ntypes; t++)
            sums[t] = pg_profile_self_count(p, node, w->types[t]);
    }
    *any = false;
    for (size_t t = 0; t < w->ntypes; t++) {
        w->values[t] = llround(sums[t]);
        *any |= w->values[t] != 0;
    }
    return PG_OK;
}

static int step_samples(pg_ppwriter *w, pg_buf *out)
{
    const pg_profile *p = w->p;
    Perftools__Profiles__Sample ss[BATCH], *ssp[BATCH];
    int64_t *vals = w->batch_values;
    /* Each sample's stack: leaf first, up to the top frame; all of a batch in one array. */
    uint64_t *stacks = w->batch_stacks;
    size_t used = 0, n = 0;
    int rc = PG_OK;
    while (rc == PG_OK && w->next < p->n && n < BATCH) {
        uint32_t node = w->next;
        const pg_pnode *nd = &p->nodes[node];
        bool at_limit = w->max_depth != 0 && nd->depth >= w->max_depth;
        if (w->max_depth != 0 && nd->depth > w->max_depth) {
            w->next++;
            continue; /* folded into its ancestor at the limit */
        }
        if (used + nd->depth > STACKS_CAP)
            break; /* this batch's stacks are full: the node starts the next step */
        w->next++;
        bool any;
        rc = node_values(w, node, at_limit, &any);
        if (rc != PG_OK || !any)
            continue;
        perftools__profiles__sample__init(&ss[n]);
        ss[n].location_id = stacks + used;
        for (uint32_t x = node; x != 0; x = p->nodes[x].parent)
            stacks[used++] = (uint64_t)p->nodes[x].name + 1;
        ss[n].n_location_id = (size_t)(stacks + used - ss[n].location_id);
        memcpy(vals + n * w->ntypes, w->values, w->ntypes * sizeof *vals);
        ss[n].value = vals + n * w->ntypes;
        ss[n].n_value = w->ntypes;
        ssp[n] = &ss[n];
        n++;
    }
    if (rc == PG_OK && n == 0 && w->next < p->n && used == 0) {
        /* One stack deeper than a batch's room (over BATCH * 64 frames): never in practice, as
         * profiles are limited far below; refuse rather than loop. */
        rc = PG_ELIMIT;
    }
    if (rc == PG_OK && n > 0) {
        Perftools__Profiles__Profile msg = PERFTOOLS__PROFILES__PROFILE__INIT;
        msg.n_sample = n;
        msg.sample = ssp;
        rc = pack(&msg, out);
    }
    if (rc == PG_OK && w->next >= p->n)
        w->stage = ST_DONE;
    return rc;
}

int pg_ppwriter_step(pg_ppwriter *w, pg_buf *out, size_t budget, bool *done)
{
    int rc = PG_OK;
    while (rc == PG_OK && w->stage != ST_DONE && out->len < budget) {
        switch (w->stage) {
        case ST_HEADER:
            rc = step_header(w, out);
            w->stage = ST_STRINGS;
            break;
        case ST_STRINGS: rc = step_strings(w, out); break;
        case ST_FUNCTIONS: rc = step_functions(w, out); break;
        case ST_SAMPLES: rc = step_samples(w, out); break;
        default: PG_UNREACHABLE();
        }
    }
    *done = rc == PG_OK && w->stage == ST_DONE;
    return rc;
}
