/*
 * profile.c: the profile model and its writer. Children are found through one hash table keyed
 * by (parent, name id), so building and merging are O(1) per node; the sibling list is only
 * sorted when written. Each node's counts live in a small block of a shared pool that is
 * reallocated (block doubled at the pool's end) when a node gains a counter.
 */
#include "profgate/profile.h"

#include <stdlib.h>
#include <string.h>

void pg_profile_limits_default(pg_profile_limits *lim)
{
    lim->max_nodes = 4u << 20;
    lim->max_depth = 1024;
    lim->max_strings = 4u << 20;
    lim->max_string_bytes = (size_t)256 << 20;
    lim->max_counts = 16u << 20;
}

static uint32_t slot_hash(uint32_t parent, uint32_t name)
{
    uint64_t k = ((uint64_t)parent << 32) | name;
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    return (uint32_t)k;
}

int pg_profile_init(pg_profile *p, const pg_profile_limits *lim)
{
    memset(p, 0, sizeof *p);
    p->lim = *lim;
    pg_strtab_init(&p->strs, lim->max_string_bytes, lim->max_strings);
    p->cap = 64;
    p->nodes = malloc(p->cap * sizeof *p->nodes);
    if (p->nodes == NULL)
        return PG_ENOMEM;
    p->n = 1;
    p->nodes[0] = (pg_pnode){.name = PG_STR_NONE, .parent = PG_NODE_NONE, .first_child = PG_NODE_NONE,
                             .next_sibling = PG_NODE_NONE, .file = PG_STR_NONE};
    return PG_OK;
}

void pg_profile_free(pg_profile *p)
{
    pg_strtab_free(&p->strs);
    free(p->nodes);
    free(p->pool);
    free(p->slots);
    pg_value_free(p->meta_extra);
    pg_value_free(p->top_extra);
    memset(p, 0, sizeof *p);
}

static bool grow_slots(pg_profile *p)
{
    uint32_t n = p->nslots ? p->nslots * 2 : 256;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL)
        return false;
    for (uint32_t id = 1; id < p->n; id++) {
        uint32_t i = slot_hash(p->nodes[id].parent, p->nodes[id].name) & (n - 1);
        while (slots[i] != 0)
            i = (i + 1) & (n - 1);
        slots[i] = id + 1;
    }
    free(p->slots);
    p->slots = slots;
    p->nslots = n;
    return true;
}

size_t pg_profile_memory(const pg_profile *p)
{
    return sizeof *p + (size_t)p->cap * sizeof *p->nodes + (size_t)p->pool_cap * sizeof *p->pool +
           (size_t)p->nslots * sizeof *p->slots + p->strs.bytes_cap + (size_t)p->strs.cap * 8 +
           (size_t)p->strs.nslots * 4;
}

uint32_t pg_profile_child(pg_profile *p, uint32_t parent, const char *name, size_t len)
{
    PG_ASSERT(parent < p->n);
    if (p->nodes[parent].depth + 1u > p->lim.max_depth)
        return PG_NODE_NONE;
    uint32_t nid = pg_strtab_intern(&p->strs, name, len);
    if (nid == PG_STR_NONE)
        return PG_NODE_NONE;
    return pg_profile_child_id(p, parent, nid);
}

uint32_t pg_profile_child_id(pg_profile *p, uint32_t parent, uint32_t nid)
{
    PG_ASSERT(parent < p->n && nid < p->strs.n);
    if (p->nodes[parent].depth + 1u > p->lim.max_depth)
        return PG_NODE_NONE;
    if ((p->n + 1) * 2 > p->nslots && !grow_slots(p))
        return PG_NODE_NONE;
    uint32_t mask = p->nslots - 1;
    uint32_t i = slot_hash(parent, nid) & mask;
    for (; p->slots[i] != 0; i = (i + 1) & mask) {
        const pg_pnode *c = &p->nodes[p->slots[i] - 1];
        if (c->parent == parent && c->name == nid)
            return p->slots[i] - 1;
    }
    if (p->n >= p->lim.max_nodes)
        return PG_NODE_NONE;
    if (p->n == p->cap) {
        uint32_t cap = p->cap * 2;
        pg_pnode *nodes = realloc(p->nodes, (size_t)cap * sizeof *nodes);
        if (nodes == NULL)
            return PG_NODE_NONE;
        p->nodes = nodes;
        p->cap = cap;
    }
    uint32_t id = p->n++;
    pg_pnode *par = &p->nodes[parent];
    p->nodes[id] = (pg_pnode){.name = nid, .parent = parent, .first_child = PG_NODE_NONE,
                              .next_sibling = par->first_child, .file = PG_STR_NONE,
                              .depth = (uint16_t)(par->depth + 1)};
    par->first_child = id;
    p->slots[i] = id + 1;
    return id;
}

int pg_profile_add_count(pg_profile *p, uint32_t node, const char *counter, size_t len, double v)
{
    uint32_t cid = pg_strtab_intern(&p->strs, counter, len);
    if (cid == PG_STR_NONE)
        return PG_ELIMIT;
    return pg_profile_add_count_id(p, node, cid, v);
}

int pg_profile_add_count_id(pg_profile *p, uint32_t node, uint32_t cid, double v)
{
    PG_ASSERT(node < p->n && cid < p->strs.n);
    pg_pnode *nd = &p->nodes[node];
    for (uint32_t k = 0; k < nd->ncounts; k++)
        if (p->pool[nd->counts + k].counter == cid) {
            p->pool[nd->counts + k].value += v;
            return PG_OK;
        }
    if (p->ncounts >= p->lim.max_counts)
        return PG_ELIMIT;
    if (nd->ncounts == nd->ccap) {
        /* Move the node's block to the end of the pool with twice the room. */
        uint32_t ccap = nd->ccap ? nd->ccap * 2u : 2u;
        if (ccap > UINT16_MAX)
            return PG_ELIMIT;
        if (p->pool_len + ccap > p->pool_cap) {
            uint32_t cap = p->pool_cap ? p->pool_cap : 256;
            while (cap < p->pool_len + ccap)
                cap *= 2;
            pg_count *pool = realloc(p->pool, (size_t)cap * sizeof *pool);
            if (pool == NULL)
                return PG_ENOMEM;
            p->pool = pool;
            p->pool_cap = cap;
        }
        memcpy(p->pool + p->pool_len, p->pool + nd->counts, nd->ncounts * sizeof *p->pool);
        nd->counts = p->pool_len;
        nd->ccap = (uint16_t)ccap;
        p->pool_len += ccap;
    }
    p->pool[nd->counts + nd->ncounts++] = (pg_count){cid, v};
    p->ncounts++;
    return PG_OK;
}

int pg_profile_set_file(pg_profile *p, uint32_t node, const char *file, size_t len)
{
    PG_ASSERT(node < p->n);
    if (p->nodes[node].file != PG_STR_NONE)
        return PG_OK;
    uint32_t id = pg_strtab_intern(&p->strs, file, len);
    if (id == PG_STR_NONE)
        return PG_ELIMIT;
    p->nodes[node].file = id;
    return PG_OK;
}

void pg_profile_add_line(pg_profile *p, uint32_t node, int64_t min, int64_t max)
{
    PG_ASSERT(node < p->n && min <= max);
    pg_pnode *nd = &p->nodes[node];
    if (!nd->has_line) {
        nd->has_line = true;
        nd->line_min = min;
        nd->line_max = max;
        return;
    }
    nd->line_min = PG_MIN(nd->line_min, min);
    nd->line_max = PG_MAX(nd->line_max, max);
}

int pg_profile_set_weight(pg_profile *p, const char *counter, size_t len, double w)
{
    uint32_t cid = pg_strtab_intern(&p->strs, counter, len);
    if (cid == PG_STR_NONE)
        return PG_ELIMIT;
    p->has_weights = true;
    for (uint32_t i = 0; i < p->nweights; i++)
        if (p->weights[i].counter == cid) {
            p->weights[i].value = w;
            return PG_OK;
        }
    if (p->nweights == PG_ARRAY_LEN(p->weights))
        return PG_ELIMIT;
    p->weights[p->nweights++] = (pg_count){cid, w};
    return PG_OK;
}

/* ------------------------------------------------------------------ writing */

typedef struct {
    const pg_profile *p;
    uint32_t max_depth;
    pg_emit *e;
    pg_count *acc; /* folded counts at the depth limit */
    uint32_t nacc, acc_cap;
    uint32_t *stack;
    uint32_t stack_cap;
} walker;

static int cmp_name(const void *a, const void *b, void *ctx)
{
    const pg_profile *p = ctx;
    return pg_strtab_cmp(&p->strs, p->nodes[*(const uint32_t *)a].name, p->nodes[*(const uint32_t *)b].name);
}

static int cmp_counter(const void *a, const void *b, void *ctx)
{
    const pg_profile *p = ctx;
    return pg_strtab_cmp(&p->strs, ((const pg_count *)a)->counter, ((const pg_count *)b)->counter);
}

static int field(walker *w, const char *name)
{
    return w->e->ops->field(w->e, name, strlen(name));
}

static int field_id(walker *w, uint32_t id)
{
    size_t len;
    const char *s = pg_strtab_get(&w->p->strs, id, &len);
    return w->e->ops->field(w->e, s, len);
}

/* Writes {counter: value, ...} sorted by counter name; counts is scratch the caller owns. */
static int emit_counts(walker *w, pg_count *counts, uint32_t n)
{
    qsort_r(counts, n, sizeof *counts, cmp_counter, (void *)w->p);
    int rc = w->e->ops->begin_struct(w->e);
    for (uint32_t i = 0; rc == PG_OK && i < n; i++) {
        rc = field_id(w, counts[i].counter);
        rc = rc ?: w->e->ops->num(w->e, counts[i].value);
    }
    return rc ?: w->e->ops->end_struct(w->e);
}

static int acc_add(walker *w, const pg_count *c)
{
    for (uint32_t i = 0; i < w->nacc; i++)
        if (w->acc[i].counter == c->counter) {
            w->acc[i].value += c->value;
            return PG_OK;
        }
    if (w->nacc == w->acc_cap) {
        uint32_t cap = w->acc_cap ? w->acc_cap * 2 : 16;
        pg_count *a = realloc(w->acc, cap * sizeof *a);
        if (a == NULL)
            return PG_ENOMEM;
        w->acc = a;
        w->acc_cap = cap;
    }
    w->acc[w->nacc++] = *c;
    return PG_OK;
}

/* Sums the self counts of node and every descendant into w->acc (maxDepth folding). */
static int fold_subtree(walker *w, uint32_t node)
{
    const pg_profile *p = w->p;
    uint32_t sp = 0;
    w->nacc = 0;
    if (w->stack_cap == 0) {
        w->stack_cap = 256;
        w->stack = malloc(w->stack_cap * sizeof *w->stack);
        if (w->stack == NULL)
            return PG_ENOMEM;
    }
    w->stack[sp++] = node;
    while (sp > 0) {
        const pg_pnode *nd = &p->nodes[w->stack[--sp]];
        for (uint32_t k = 0; k < nd->ncounts; k++)
            if (acc_add(w, &p->pool[nd->counts + k]) != PG_OK)
                return PG_ENOMEM;
        for (uint32_t c = nd->first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling) {
            if (sp == w->stack_cap) {
                uint32_t *s = realloc(w->stack, 2 * w->stack_cap * sizeof *s);
                if (s == NULL)
                    return PG_ENOMEM;
                w->stack = s;
                w->stack_cap *= 2;
            }
            w->stack[sp++] = c;
        }
    }
    return PG_OK;
}

static int emit_node(walker *w, uint32_t node, uint32_t depth)
{
    const pg_profile *p = w->p;
    const pg_pnode *nd = &p->nodes[node];
    const pg_emit_ops *o = w->e->ops;
    bool at_limit = w->max_depth != 0 && depth >= w->max_depth;
    int rc = o->begin_struct(w->e);
    if (rc != PG_OK)
        return rc;
    if (at_limit && nd->first_child != PG_NODE_NONE) {
        rc = fold_subtree(w, node);
        if (rc == PG_OK && w->nacc > 0) {
            rc = field(w, "counts");
            rc = rc ?: emit_counts(w, w->acc, w->nacc);
        }
    } else if (nd->ncounts > 0) {
        pg_count *tmp = malloc(nd->ncounts * sizeof *tmp);
        if (tmp == NULL)
            return PG_ENOMEM;
        memcpy(tmp, p->pool + nd->counts, nd->ncounts * sizeof *tmp);
        rc = field(w, "counts");
        rc = rc ?: emit_counts(w, tmp, nd->ncounts);
        free(tmp);
    }
    if (rc == PG_OK && nd->file != PG_STR_NONE) {
        size_t len;
        const char *s = pg_strtab_get(&p->strs, nd->file, &len);
        rc = field(w, "file");
        rc = rc ?: o->str(w->e, s, len);
    }
    if (rc == PG_OK && nd->has_line) {
        rc = field(w, "line");
        rc = rc ?: o->begin_list(w->e);
        rc = rc ?: o->i64(w->e, nd->line_min);
        if (rc == PG_OK && nd->line_max != nd->line_min)
            rc = o->i64(w->e, nd->line_max);
        rc = rc ?: o->end_list(w->e);
    }
    if (rc == PG_OK && !at_limit && nd->first_child != PG_NODE_NONE) {
        uint32_t n = 0;
        for (uint32_t c = nd->first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling)
            n++;
        uint32_t *kids = malloc(n * sizeof *kids);
        if (kids == NULL)
            return PG_ENOMEM;
        n = 0;
        for (uint32_t c = nd->first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling)
            kids[n++] = c;
        qsort_r(kids, n, sizeof *kids, cmp_name, (void *)p);
        rc = field(w, "children");
        rc = rc ?: o->begin_struct(w->e);
        for (uint32_t i = 0; rc == PG_OK && i < n; i++) {
            rc = field_id(w, p->nodes[kids[i]].name);
            rc = rc ?: emit_node(w, kids[i], depth + 1);
        }
        rc = rc ?: o->end_struct(w->e);
        free(kids);
    }
    return rc ?: o->end_struct(w->e);
}

static int emit_meta(walker *w)
{
    const pg_profile *p = w->p;
    const pg_emit_ops *o = w->e->ops;
    int rc = o->begin_struct(w->e);
    if (rc == PG_OK && p->has_weights) {
        pg_count tmp[PG_ARRAY_LEN(p->weights)];
        memcpy(tmp, p->weights, p->nweights * sizeof *tmp);
        rc = field(w, "sampleWeights");
        rc = rc ?: emit_counts(w, tmp, p->nweights);
    }
    if (rc == PG_OK && p->has_duration)
        rc = field(w, "durationInMs") ?: o->num(w->e, p->duration_ms);
    if (rc == PG_OK && p->has_samples)
        rc = field(w, "numTimesSampled") ?: o->num(w->e, p->num_samples);
    if (rc == PG_OK && p->has_cpu)
        rc = field(w, "cpuTimeInSeconds") ?: o->num(w->e, p->cpu_s);
    /* Descriptive members (fleetInfo, agentInfo, ...) follow the ones we interpret. */
    if (rc == PG_OK && p->meta_extra != NULL)
        rc = pg_value_emit_members(p->meta_extra, w->e);
    return rc ?: o->end_struct(w->e);
}

int pg_profile_emit(const pg_profile *p, uint32_t max_depth, pg_emit *e)
{
    walker w = {.p = p, .max_depth = max_depth, .e = e};
    const pg_emit_ops *o = e->ops;
    int rc = o->begin_struct(e);
    if (rc == PG_OK && p->has_start)
        rc = field(&w, "start") ?: o->i64(e, p->start_ms);
    if (rc == PG_OK && p->has_end)
        rc = field(&w, "end") ?: o->i64(e, p->end_ms);
    rc = rc ?: field(&w, "agentMetadata");
    rc = rc ?: emit_meta(&w);
    rc = rc ?: field(&w, "callgraph");
    rc = rc ?: emit_node(&w, PG_ROOT, 0);
    if (rc == PG_OK && p->top_extra != NULL)
        rc = pg_value_emit_members(p->top_extra, e);
    rc = rc ?: o->end_struct(e);
    free(w.acc);
    free(w.stack);
    return rc;
}

int pg_profile_encode(const pg_profile *p, bool ion, uint32_t max_depth, pg_buf *out)
{
    static __thread pg_emit e; /* large (per-depth state): not on the stack */
    if (!ion) {
        pg_emit_json(&e, out);
        return pg_profile_emit(p, max_depth, &e);
    }
    pg_strtab syms;
    pg_strtab_init(&syms, p->strs.bytes_limit + 4096, p->strs.count_limit + 64);
    pg_emit_ion_symbols(&e, &syms);
    int rc = pg_profile_emit(p, max_depth, &e);
    rc = rc ?: pg_emit_ion_begin(&e, out, &syms);
    rc = rc ?: pg_profile_emit(p, max_depth, &e);
    pg_strtab_free(&syms);
    return rc;
}
