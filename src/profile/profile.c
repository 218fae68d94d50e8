/*
 * profile.c: the profile model and its writer. Children are found through one hash table keyed
 * by (parent, name id), so building and merging are O(1) per node; the sibling list is only
 * sorted when written. Each node's counts live in a small block of a shared pool that is
 * reallocated (block doubled at the pool's end) when a node gains a counter.
 */
#include "profgate/profile.h"
#include "profgate/jsonw.h"

#include <stdlib.h>
#include <string.h>

void pg_profile_limits_default(pg_profile_limits *lim)
{
    lim->max_nodes = 4u << 20;
    lim->max_depth = 1024;
    lim->max_strings = 4u << 20;
    lim->max_string_bytes = (size_t)256 << 20;
    lim->max_counts = 16u << 20;
    /* Carried metadata (agentInfo, fleetInfo, unknown members) is a few hundred bytes in real
     * profiles: a megabyte is room enough, and bounds what a hostile value can make us build. */
    lim->max_value_bytes = (size_t)1 << 20;
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
    /* Twice the nodes at least: the index may have been dropped (pg_profile_shrink). */
    uint32_t n = p->nslots ? p->nslots * 2 : 256;
    while (n < (p->n + 1) * 2)
        n *= 2;
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

int pg_profile_copy(pg_profile *dst, const pg_profile *src, const pg_profile_limits *lim)
{
    memset(dst, 0, sizeof *dst);
    if (src->n > lim->max_nodes || src->strs.n > lim->max_strings || src->strs.bytes_len > lim->max_string_bytes ||
        src->ncounts > lim->max_counts)
        return PG_ELIMIT;
    *dst = *src;
    dst->lim = *lim;
    bool ok = pg_memdup((void **)&dst->nodes, src->nodes, (size_t)src->cap * sizeof *src->nodes);
    ok = pg_memdup((void **)&dst->pool, src->pool, (size_t)src->pool_cap * sizeof *src->pool) && ok;
    ok = pg_memdup((void **)&dst->slots, src->slots, (size_t)src->nslots * sizeof *src->slots) && ok;
    dst->meta_extra = src->meta_extra ? pg_value_clone(src->meta_extra) : NULL;
    dst->top_extra = src->top_extra ? pg_value_clone(src->top_extra) : NULL;
    ok = ok && (src->meta_extra == NULL || dst->meta_extra != NULL) && (src->top_extra == NULL || dst->top_extra != NULL);
    int rc = pg_strtab_copy(&dst->strs, &src->strs);
    if (!ok || rc != PG_OK) {
        if (rc == PG_OK)
            pg_strtab_free(&dst->strs);
        else
            memset(&dst->strs, 0, sizeof dst->strs);
        free(dst->nodes);
        free(dst->pool);
        free(dst->slots);
        pg_value_free(dst->meta_extra);
        pg_value_free(dst->top_extra);
        memset(dst, 0, sizeof *dst);
        return PG_ENOMEM;
    }
    dst->strs.bytes_limit = lim->max_string_bytes;
    dst->strs.count_limit = lim->max_strings;
    return PG_OK;
}

double pg_profile_self_count(const pg_profile *p, uint32_t node, uint32_t counter)
{
    const pg_pnode *nd = &p->nodes[node];
    for (uint32_t k = 0; k < nd->ncounts; k++)
        if (p->pool[nd->counts + k].counter == counter)
            return p->pool[nd->counts + k].value;
    return 0;
}

size_t pg_profile_counters(const pg_profile *p, uint32_t *ids, double *totals, size_t max)
{
    size_t n = 0;
    for (uint32_t i = 0; i < p->n; i++) { /* a node's counts are its first ncounts pool slots */
        const pg_pnode *nd = &p->nodes[i];
        for (uint32_t k = 0; k < nd->ncounts; k++) {
            const pg_count *c = &p->pool[nd->counts + k];
            size_t j = 0;
            while (j < n && ids[j] != c->counter)
                j++;
            if (j == n) {
                if (n == max)
                    continue; /* past max counters the rest are left out */
                ids[n] = c->counter;
                if (totals)
                    totals[n] = 0;
                n++;
            }
            if (totals)
                totals[j] += c->value;
        }
    }
    return n;
}

size_t pg_profile_counters_by_name(const pg_profile *p, uint32_t *ids, double *totals, size_t max)
{
    size_t n;
    if (totals == NULL && !p->cseen_over && p->ncseen <= max) {
        /* The same set, without a walk over every node (the writers list counters this way). */
        n = p->ncseen;
        memcpy(ids, p->cseen, n * sizeof *ids);
    } else {
        n = pg_profile_counters(p, ids, totals, max);
    }
    for (size_t i = 1; i < n; i++) { /* a handful: insertion sort */
        uint32_t id = ids[i];
        double t = totals ? totals[i] : 0;
        size_t j = i;
        for (; j > 0 && pg_strtab_cmp(&p->strs, ids[j - 1], id) > 0; j--) {
            ids[j] = ids[j - 1];
            if (totals)
                totals[j] = totals[j - 1];
        }
        ids[j] = id;
        if (totals)
            totals[j] = t;
    }
    return n;
}

int pg_profile_pick_counter(const pg_profile *p, const char *name, size_t len, uint32_t *id)
{
    if (name != NULL) { /* any node's own counts holding it, however many counters there are */
        uint32_t c = pg_strtab_find(&p->strs, name, len);
        for (uint32_t i = 0; c != PG_STR_NONE && i < p->n; i++)
            for (uint32_t k = 0; k < p->nodes[i].ncounts; k++)
                if (p->pool[p->nodes[i].counts + k].counter == c) {
                    *id = c;
                    return PG_OK;
                }
        return PG_ENOTFOUND;
    }
    uint32_t ids[PG_PROFILE_COUNTERS_MAX];
    double sums[PG_PROFILE_COUNTERS_MAX];
    size_t n = pg_profile_counters(p, ids, sums, PG_PROFILE_COUNTERS_MAX);
    if (n == 0)
        return PG_ENOTFOUND;
    size_t best = 0;
    for (size_t j = 1; j < n; j++)
        if (sums[j] > sums[best] || (sums[j] == sums[best] && pg_strtab_cmp(&p->strs, ids[j], ids[best]) < 0))
            best = j;
    *id = ids[best];
    return PG_OK;
}

int pg_profile_subtree_counts(const pg_profile *p, uint32_t node, const uint32_t *counters, size_t n, double *sums,
                              uint32_t **stack, size_t *cap)
{
    for (size_t i = 0; i < n; i++)
        sums[i] = 0;
    if (!pg_grow((void **)stack, cap, 1, sizeof **stack))
        return PG_ENOMEM;
    size_t sp = 0;
    (*stack)[sp++] = node;
    while (sp > 0) {
        uint32_t x = (*stack)[--sp];
        for (size_t i = 0; i < n; i++)
            sums[i] += pg_profile_self_count(p, x, counters[i]);
        for (uint32_t c = p->nodes[x].first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling) {
            if (!pg_grow((void **)stack, cap, sp + 1, sizeof **stack))
                return PG_ENOMEM;
            (*stack)[sp++] = c;
        }
    }
    return PG_OK;
}

void pg_profile_frame_sources(const pg_profile *p, uint32_t *file_of, int64_t *line_of)
{
    for (uint32_t i = 0; i < p->strs.n; i++) {
        file_of[i] = PG_STR_NONE;
        line_of[i] = 0;
    }
    for (uint32_t i = 1; i < p->n; i++) {
        const pg_pnode *nd = &p->nodes[i];
        if (file_of[nd->name] == PG_STR_NONE && nd->file != PG_STR_NONE)
            file_of[nd->name] = nd->file;
        if (line_of[nd->name] == 0 && nd->has_line && nd->line_min > 0)
            line_of[nd->name] = nd->line_min;
    }
}

int pg_profile_shrink(pg_profile *p, bool keep_index)
{
    /* Counts: one block per node, exactly its counts, in node order (blocks moved to the end as
     * nodes gained counters leave holes and spare room behind). */
    if (p->pool_len > p->ncounts || p->pool_cap > p->ncounts) {
        pg_count *pool = malloc((p->ncounts ? p->ncounts : 1) * sizeof *pool);
        if (pool == NULL)
            return PG_ENOMEM;
        uint32_t at = 0;
        for (uint32_t i = 0; i < p->n; i++) {
            pg_pnode *nd = &p->nodes[i];
            if (nd->ncounts > 0)
                memcpy(pool + at, p->pool + nd->counts, nd->ncounts * sizeof *pool);
            nd->counts = at;
            nd->ccap = nd->ncounts;
            at += nd->ncounts;
        }
        PG_ASSERT(at == p->ncounts);
        free(p->pool);
        p->pool = pool;
        p->pool_len = p->pool_cap = p->ncounts;
    }
    pg_pnode *nodes = realloc(p->nodes, (size_t)p->n * sizeof *nodes);
    if (nodes == NULL)
        return PG_ENOMEM;
    p->nodes = nodes;
    p->cap = p->n;
    if (!keep_index) {
        free(p->slots);
        p->slots = NULL;
        p->nslots = 0;
    }
    return pg_strtab_shrink(&p->strs);
}

size_t pg_profile_memory(const pg_profile *p)
{
    /* Everything it holds, the carried metadata included (a cache must not count a value bomb
     * at a few kilobytes). */
    return sizeof *p + (size_t)p->cap * sizeof *p->nodes + (size_t)p->pool_cap * sizeof *p->pool +
           (size_t)p->nslots * sizeof *p->slots + p->strs.bytes_cap + (size_t)p->strs.cap * 8 +
           (size_t)p->strs.nslots * 4 + (p->meta_extra ? sizeof(pg_value) + pg_value_memory(p->meta_extra) : 0) +
           (p->top_extra ? sizeof(pg_value) + pg_value_memory(p->top_extra) : 0);
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
    if (!p->cseen_over) {
        uint32_t k = 0;
        while (k < p->ncseen && p->cseen[k] != cid)
            k++;
        if (k == p->ncseen) {
            if (k < PG_ARRAY_LEN(p->cseen))
                p->cseen[p->ncseen++] = cid;
            else
                p->cseen_over = true;
        }
    }
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

/*
 * The writer walks the tree depth-first with an explicit stack, so it can stop after any node and
 * resume later: the caller asks for output in steps of a few tens of kilobytes and sends each one
 * while the next is produced. Children are written in byte order of their names; the sorted
 * child lists of the open nodes live in one LIFO arena.
 */

typedef enum { S_TOP, S_TREE, S_TAIL, S_DONE } wstage;

typedef struct wframe {
    uint32_t node, depth;
    size_t kids; /* offset of the sorted children in the arena */
    uint32_t nkids, next;
} wframe;

struct pg_pwriter {
    const pg_profile *p;
    uint32_t max_depth;
    bool ion;
    wstage stage;
    pg_emit e;
    pg_strtab syms; /* Ion: field names */
    wframe *fr;
    uint32_t nfr, fr_cap;
    uint32_t *arena;
    size_t narena, arena_cap;
    pg_count *acc; /* a node's counts, sorted, or the counts folded at the depth limit */
    uint32_t nacc, acc_cap;
    uint32_t *stack; /* fold_subtree's */
    uint32_t stack_cap;
    /* JSON: each string id as written (quoted, escaped), made the first time it is needed:
     * frame, file and counter names repeat across nodes (a counter's at every node), and escaping
     * them each time was a tenth of the writer's time. fpos[id]: its start in ftext + 1 (0: not
     * made yet), flen[id] its length. */
    uint32_t *fpos, *flen;
    pg_buf ftext;
    /* Counters' places in byte order of name (string id -> rank + 1; 0: not a counter), made
     * once: sorting each node's counts compared names, a fifth of the writer's time. */
    uint8_t *crank;
    /* Ion: each string id's field symbol (PG_STR_NONE until first written), and the constant
     * member names' (FIELD's slot): looking symbols up by name at every node was a quarter of
     * the Ion writer's time. */
    uint32_t *sym;
    uint32_t csym[4];
};

/* Insertion sort: kid lists and count lists are short (qsort's call per comparison was a
 * sixth of the writer's time); long lists still go to qsort_r. */
#define SHORT_SORT 16

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

static int field(pg_pwriter *w, const char *name)
{
    return w->e.ops->field(&w->e, name, strlen(name));
}

/* A member name of every node ("counts", "children", ...): in JSON its text is a constant, in
 * Ion its symbol is kept in slot k. */
#define FIELD(w, name, k)                                                                  \
    ((w)->fpos != NULL ? pg_emit_json_field_text(&(w)->e, "\"" name "\"", sizeof(name) + 1) \
                       : pg_emit_ion_field_cached(&(w)->e, name, sizeof(name) - 1, &(w)->csym[k]))

/* JSON: string id's text, quoted and escaped, made the first time it is needed. */
static int quoted(pg_pwriter *w, uint32_t id, const char **text, size_t *len)
{
    if (w->fpos[id] == 0) {
        size_t n, from = w->ftext.len;
        const char *s = pg_strtab_get(&w->p->strs, id, &n);
        int rc = pg_json_str(&w->ftext, s, n);
        if (rc != PG_OK)
            return rc;
        w->fpos[id] = (uint32_t)from + 1;
        w->flen[id] = (uint32_t)(w->ftext.len - from);
    }
    *text = w->ftext.data + w->fpos[id] - 1;
    *len = w->flen[id];
    return PG_OK;
}

static int field_id(pg_pwriter *w, uint32_t id)
{
    const char *s;
    size_t len;
    if (w->fpos == NULL) { /* Ion: its fields are symbols */
        s = pg_strtab_get(&w->p->strs, id, &len);
        return pg_emit_ion_field_cached(&w->e, s, len, &w->sym[id]);
    }
    return quoted(w, id, &s, &len) ?: pg_emit_json_field_text(&w->e, s, len);
}

/* A string value by id (a frame's file). */
static int str_id(pg_pwriter *w, uint32_t id)
{
    const char *s;
    size_t len;
    if (w->fpos == NULL) {
        s = pg_strtab_get(&w->p->strs, id, &len);
        return w->e.ops->str(&w->e, s, len);
    }
    return quoted(w, id, &s, &len) ?: pg_emit_json_str_text(&w->e, s, len);
}

/* Whether counter a comes before b in byte order of name: by their ranks when both have one. */
static bool counter_before(const pg_pwriter *w, const pg_strtab *t, uint32_t a, uint32_t b)
{
    if (w->crank != NULL && w->crank[a] != 0 && w->crank[b] != 0)
        return w->crank[a] < w->crank[b];
    return pg_strtab_cmp(t, a, b) < 0;
}

/* The counters' ranks (see crank); none when the profile has more than fit a byte. */
static int rank_counters(pg_pwriter *w)
{
    const pg_profile *p = w->p;
    uint32_t ids[PG_PROFILE_COUNTERS_MAX];
    size_t n = pg_profile_counters_by_name(p, ids, NULL, PG_PROFILE_COUNTERS_MAX);
    if (n == 0)
        return PG_OK;
    w->crank = calloc(p->strs.n, sizeof *w->crank);
    if (w->crank == NULL)
        return PG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        w->crank[ids[i]] = (uint8_t)(i + 1);
    return PG_OK;
}

/* Writes {counter: value, ...} from w->acc[0..nacc), sorted by counter name. */
static int emit_counts(pg_pwriter *w)
{
    const pg_strtab *t = &w->p->strs;
    if (w->nacc > SHORT_SORT) {
        qsort_r(w->acc, w->nacc, sizeof *w->acc, cmp_counter, (void *)w->p);
    } else {
        for (uint32_t i = 1; i < w->nacc; i++) {
            pg_count c = w->acc[i];
            uint32_t j = i;
            for (; j > 0 && counter_before(w, t, c.counter, w->acc[j - 1].counter); j--)
                w->acc[j] = w->acc[j - 1];
            w->acc[j] = c;
        }
    }
    int rc = w->e.ops->begin_struct(&w->e);
    for (uint32_t i = 0; rc == PG_OK && i < w->nacc; i++) {
        rc = field_id(w, w->acc[i].counter);
        rc = rc ?: w->e.ops->num(&w->e, w->acc[i].value);
    }
    return rc ?: w->e.ops->end_struct(&w->e);
}

static int acc_add(pg_pwriter *w, const pg_count *c)
{
    for (uint32_t i = 0; i < w->nacc; i++)
        if (w->acc[i].counter == c->counter) {
            w->acc[i].value += c->value;
            return PG_OK;
        }
    size_t cap = w->acc_cap;
    if (!pg_grow((void **)&w->acc, &cap, (size_t)w->nacc + 1, sizeof *w->acc))
        return PG_ENOMEM;
    w->acc_cap = (uint32_t)cap;
    w->acc[w->nacc++] = *c;
    return PG_OK;
}

/* Sums the self counts of node and every descendant into w->acc (maxDepth folding). */
static int fold_subtree(pg_pwriter *w, uint32_t node)
{
    const pg_profile *p = w->p;
    size_t sp = 0, cap = w->stack_cap;
    w->nacc = 0;
    if (!pg_grow((void **)&w->stack, &cap, 1, sizeof *w->stack))
        return PG_ENOMEM;
    w->stack_cap = (uint32_t)cap;
    w->stack[sp++] = node;
    while (sp > 0) {
        const pg_pnode *nd = &p->nodes[w->stack[--sp]];
        for (uint32_t k = 0; k < nd->ncounts; k++)
            if (acc_add(w, &p->pool[nd->counts + k]) != PG_OK)
                return PG_ENOMEM;
        for (uint32_t c = nd->first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling) {
            if (!pg_grow((void **)&w->stack, &cap, sp + 1, sizeof *w->stack))
                return PG_ENOMEM;
            w->stack_cap = (uint32_t)cap;
            w->stack[sp++] = c;
        }
    }
    return PG_OK;
}

/* Writes a node up to its children; a node with children to write gets a frame, one without is
 * closed here. */
static int open_node(pg_pwriter *w, uint32_t node, uint32_t depth)
{
    const pg_profile *p = w->p;
    const pg_pnode *nd = &p->nodes[node];
    const pg_emit_ops *o = w->e.ops;
    pg_emit *e = &w->e;
    bool at_limit = w->max_depth != 0 && depth >= w->max_depth;
    int rc = o->begin_struct(e);
    if (rc != PG_OK)
        return rc;
    if (at_limit && nd->first_child != PG_NODE_NONE) {
        rc = fold_subtree(w, node);
        if (rc == PG_OK && w->nacc > 0)
            rc = FIELD(w, "counts", 0) ?: emit_counts(w);
    } else if (nd->ncounts > 0) {
        size_t cap = w->acc_cap;
        if (!pg_grow((void **)&w->acc, &cap, nd->ncounts, sizeof *w->acc))
            return PG_ENOMEM;
        w->acc_cap = (uint32_t)cap;
        memcpy(w->acc, p->pool + nd->counts, nd->ncounts * sizeof *w->acc);
        w->nacc = nd->ncounts;
        rc = FIELD(w, "counts", 0) ?: emit_counts(w);
    }
    if (rc == PG_OK && nd->file != PG_STR_NONE)
        rc = FIELD(w, "file", 1) ?: str_id(w, nd->file);
    if (rc == PG_OK && nd->has_line) {
        rc = FIELD(w, "line", 2) ?: o->begin_list(e);
        rc = rc ?: o->i64(e, nd->line_min);
        if (rc == PG_OK && nd->line_max != nd->line_min)
            rc = o->i64(e, nd->line_max);
        rc = rc ?: o->end_list(e);
    }
    if (rc != PG_OK)
        return rc;
    if (at_limit || nd->first_child == PG_NODE_NONE)
        return o->end_struct(e);
    uint32_t n = 0;
    for (uint32_t c = nd->first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling)
        n++;
    size_t fcap = w->fr_cap;
    if (!pg_grow((void **)&w->arena, &w->arena_cap, w->narena + n, sizeof *w->arena) ||
        !pg_grow((void **)&w->fr, &fcap, (size_t)w->nfr + 1, sizeof *w->fr))
        return PG_ENOMEM;
    w->fr_cap = (uint32_t)fcap;
    uint32_t *kids = w->arena + w->narena;
    n = 0;
    for (uint32_t c = nd->first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling)
        kids[n++] = c;
    if (n > SHORT_SORT) {
        qsort_r(kids, n, sizeof *kids, cmp_name, (void *)p);
    } else {
        for (uint32_t i = 1; i < n; i++) {
            uint32_t k = kids[i], j = i;
            for (; j > 0 && pg_strtab_cmp(&p->strs, p->nodes[kids[j - 1]].name, p->nodes[k].name) > 0; j--)
                kids[j] = kids[j - 1];
            kids[j] = k;
        }
    }
    w->fr[w->nfr++] = (wframe){.node = node, .depth = depth, .kids = w->narena, .nkids = n};
    w->narena += n;
    return FIELD(w, "children", 3) ?: o->begin_struct(e);
}

/* One step of the tree: the next child of the innermost open node, or that node's end. */
static int tree_step(pg_pwriter *w)
{
    wframe *f = &w->fr[w->nfr - 1];
    if (f->next < f->nkids) {
        uint32_t kid = w->arena[f->kids + f->next++];
        uint32_t depth = f->depth + 1; /* f may move when open_node pushes */
        return field_id(w, w->p->nodes[kid].name) ?: open_node(w, kid, depth);
    }
    w->narena = f->kids;
    w->nfr--;
    return w->e.ops->end_struct(&w->e) ?: w->e.ops->end_struct(&w->e); /* children, then the node */
}

static int emit_meta(pg_pwriter *w)
{
    const pg_profile *p = w->p;
    const pg_emit_ops *o = w->e.ops;
    pg_emit *e = &w->e;
    int rc = o->begin_struct(e);
    if (rc == PG_OK && p->has_weights) {
        w->nacc = 0;
        for (uint32_t i = 0; rc == PG_OK && i < p->nweights; i++)
            rc = acc_add(w, &p->weights[i]);
        rc = rc ?: field(w, "sampleWeights");
        rc = rc ?: emit_counts(w);
    }
    if (rc == PG_OK && p->has_duration)
        rc = field(w, "durationInMs") ?: o->num(e, p->duration_ms);
    if (rc == PG_OK && p->has_samples)
        rc = field(w, "numTimesSampled") ?: o->num(e, p->num_samples);
    if (rc == PG_OK && p->has_cpu)
        rc = field(w, "cpuTimeInSeconds") ?: o->num(e, p->cpu_s);
    /* Descriptive members (fleetInfo, agentInfo, ...) follow the ones we interpret. */
    if (rc == PG_OK && p->meta_extra != NULL)
        rc = pg_value_emit_members(p->meta_extra, e);
    return rc ?: o->end_struct(e);
}

/* One unit of output: the profile's head, one tree step, or its tail. */
static int walk_step(pg_pwriter *w)
{
    const pg_profile *p = w->p;
    const pg_emit_ops *o = w->e.ops;
    pg_emit *e = &w->e;
    int rc = PG_OK;
    switch (w->stage) {
    case S_TOP:
        rc = o->begin_struct(e);
        if (rc == PG_OK && p->has_start)
            rc = field(w, "start") ?: o->i64(e, p->start_ms);
        if (rc == PG_OK && p->has_end)
            rc = field(w, "end") ?: o->i64(e, p->end_ms);
        rc = rc ?: field(w, "agentMetadata");
        rc = rc ?: emit_meta(w);
        rc = rc ?: field(w, "callgraph");
        rc = rc ?: open_node(w, PG_ROOT, 0);
        w->stage = S_TREE;
        return rc;
    case S_TREE:
        if (w->nfr > 0)
            return tree_step(w);
        w->stage = S_TAIL;
        return PG_OK;
    case S_TAIL:
        if (p->top_extra != NULL)
            rc = pg_value_emit_members(p->top_extra, e);
        rc = rc ?: o->end_struct(e);
        w->stage = S_DONE;
        return rc;
    case S_DONE:
        return PG_OK;
    }
    PG_UNREACHABLE();
}

int pg_pwriter_new(const pg_profile *p, bool ion, uint32_t max_depth, pg_pwriter **out)
{
    pg_pwriter *w = calloc(1, sizeof *w);
    *out = NULL;
    if (w == NULL)
        return PG_ENOMEM;
    w->p = p;
    w->ion = ion;
    w->max_depth = max_depth;
    if (rank_counters(w) != PG_OK) {
        pg_pwriter_free(w);
        return PG_ENOMEM;
    }
    if (!ion) {
        pg_emit_json(&w->e, NULL);
        size_t ns = p->strs.n > 0 ? p->strs.n : 1;
        w->fpos = calloc(ns, sizeof *w->fpos);
        w->flen = malloc(ns * sizeof *w->flen);
        pg_buf_init(&w->ftext, UINT32_MAX - 1); /* offsets are 32-bit */
        if (w->fpos == NULL || w->flen == NULL) {
            pg_pwriter_free(w);
            return PG_ENOMEM;
        }
        *out = w;
        return PG_OK;
    }
    size_t ns = p->strs.n > 0 ? p->strs.n : 1;
    w->sym = malloc(ns * sizeof *w->sym);
    if (w->sym == NULL) {
        pg_pwriter_free(w);
        return PG_ENOMEM;
    }
    for (size_t i = 0; i < ns; i++)
        w->sym[i] = PG_STR_NONE;
    for (size_t i = 0; i < PG_ARRAY_LEN(w->csym); i++)
        w->csym[i] = PG_STR_NONE;
    /* Ion's first walk: symbols and container lengths, nothing written. */
    pg_strtab_init(&w->syms, p->strs.bytes_limit + 4096, p->strs.count_limit + 64);
    pg_emit_ion_measure(&w->e, &w->syms);
    int rc = PG_OK;
    while (rc == PG_OK && w->stage != S_DONE)
        rc = walk_step(w);
    if (rc != PG_OK) {
        pg_pwriter_free(w);
        return rc;
    }
    PG_ASSERT(w->nfr == 0 && w->narena == 0);
    w->stage = S_TOP;
    w->e.out = NULL; /* set by the first step, which writes the symbol table */
    *out = w;
    return PG_OK;
}

int pg_pwriter_step(pg_pwriter *w, pg_buf *out, size_t budget, bool *done)
{
    int rc = PG_OK;
    if (w->ion && w->e.out == NULL)
        rc = pg_emit_ion_begin(&w->e, out);
    w->e.out = out;
    while (rc == PG_OK && w->stage != S_DONE && out->len < budget)
        rc = walk_step(w);
    *done = rc == PG_OK && w->stage == S_DONE;
    if (*done)
        PG_ASSERT(pg_emit_done(&w->e));
    return rc;
}

void pg_pwriter_free(pg_pwriter *w)
{
    if (w == NULL)
        return;
    pg_emit_free(&w->e);
    pg_strtab_free(&w->syms);
    free(w->fr);
    free(w->arena);
    free(w->acc);
    free(w->stack);
    free(w->fpos);
    free(w->flen);
    free(w->crank);
    free(w->sym);
    pg_buf_free(&w->ftext);
    free(w);
}

int pg_profile_encode(const pg_profile *p, bool ion, uint32_t max_depth, pg_buf *out)
{
    pg_pwriter *w;
    int rc = pg_pwriter_new(p, ion, max_depth, &w);
    if (rc != PG_OK)
        return rc;
    bool done;
    rc = pg_pwriter_step(w, out, SIZE_MAX, &done);
    PG_ASSERT(rc != PG_OK || done);
    pg_pwriter_free(w);
    return rc;
}
