/*
 * profile.c: the profile model (its writer is pwriter.c). Children are found through one hash table keyed
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
    free(p->far_lines);
    pg_value_free(p->meta_extra);
    pg_value_free(p->top_extra);
    memset(p, 0, sizeof *p);
}

/* Puts every node but the root into slots (n of them, zeroed). */
static void fill_slots(const pg_profile *p, uint32_t *slots, uint32_t n)
{
    for (uint32_t id = 1; id < p->n; id++) {
        uint32_t i = slot_hash(p->nodes[id].parent, p->nodes[id].name) & (n - 1);
        while (slots[i] != 0)
            i = (i + 1) & (n - 1);
        slots[i] = id + 1;
    }
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
    fill_slots(p, slots, n);
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
    ok = pg_memdup((void **)&dst->far_lines, src->far_lines, (size_t)src->nfar_lines * sizeof *src->far_lines) && ok;
    dst->far_lines_cap = src->nfar_lines;
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
        free(dst->far_lines);
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
        int64_t lmin, lmax;
        if (line_of[nd->name] == 0 && pg_profile_line(p, nd, &lmin, &lmax) && lmin > 0)
            line_of[nd->name] = lmin;
    }
}

static int cmp_node_name(const void *a, const void *b, void *ctx)
{
    const pg_profile *p = ctx;
    return pg_strtab_cmp(&p->strs, p->nodes[*(const uint32_t *)a].name, p->nodes[*(const uint32_t *)b].name);
}

int pg_profile_preorder(const pg_profile *p, uint32_t *order)
{
    uint32_t *stack = malloc((size_t)p->n * sizeof *stack);
    if (stack == NULL)
        return PG_ENOMEM;
    /* A node's children are pushed, sorted, then reversed: the first by name is visited next. */
    uint32_t sp = 0, k = 0;
    stack[sp++] = PG_ROOT;
    while (sp > 0) {
        uint32_t id = stack[--sp];
        order[k++] = id;
        uint32_t from = sp;
        for (uint32_t c = p->nodes[id].first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling)
            stack[sp++] = c;
        if (sp - from < 2)
            continue;
        qsort_r(stack + from, sp - from, sizeof *stack, cmp_node_name, (void *)p);
        for (uint32_t i = from, j = sp - 1; i < j; i++, j--) {
            uint32_t t = stack[i];
            stack[i] = stack[j];
            stack[j] = t;
        }
    }
    PG_ASSERT(k == p->n); /* a tree: every node is reached from the root once */
    free(stack);
    return PG_OK;
}

/*
 * Renumbers the nodes in the order the writers visit them (depth first, children in byte order
 * of name), links each node's children in that order and puts each node's counts side by side in
 * byte order of counter name: a kept profile is written many times, and the writer then reads
 * memory front to back and sorts nothing (p->ordered). Everything is allocated before anything
 * changes, so PG_ENOMEM leaves p as it was.
 */
static int put_in_order(pg_profile *p)
{
    uint32_t n = p->n;
    uint32_t *order = malloc((size_t)n * sizeof *order), *newid = malloc((size_t)n * sizeof *newid);
    pg_pnode *nodes = malloc((size_t)n * sizeof *nodes);
    pg_count *pool = malloc((p->ncounts ? p->ncounts : 1) * sizeof *pool);
    if (order == NULL || newid == NULL || nodes == NULL || pool == NULL || pg_profile_preorder(p, order) != PG_OK) {
        free(order);
        free(newid);
        free(nodes);
        free(pool);
        return PG_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        newid[order[i]] = i;
    /* In preorder a node's first child follows it; its next sibling follows its subtree. Both are
     * set from the children's new ids: a parent's children, in name order, get ascending ids. */
    uint32_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        pg_pnode nd = p->nodes[order[i]];
        nd.parent = nd.parent == PG_NODE_NONE ? PG_NODE_NONE : newid[nd.parent];
        nd.first_child = nd.next_sibling = PG_NODE_NONE;
        /* Counts in byte order of counter name (a handful per node: insertion). */
        pg_count *c = pool + at;
        if (nd.ncounts > 0)
            memcpy(c, p->pool + nd.counts, nd.ncounts * sizeof *c);
        for (uint32_t a = 1; a < nd.ncounts; a++) {
            pg_count v = c[a];
            uint32_t b = a;
            for (; b > 0 && pg_strtab_cmp(&p->strs, c[b - 1].counter, v.counter) > 0; b--)
                c[b] = c[b - 1];
            c[b] = v;
        }
        nd.counts = at;
        nd.ccap = nd.ncounts;
        at += nd.ncounts;
        nodes[i] = nd;
    }
    PG_ASSERT(at == p->ncounts);
    /* Children link up walking backwards: each one becomes its parent's first, ahead of the ones
     * after it by name. */
    for (uint32_t i = n; i-- > 1;) {
        pg_pnode *par = &nodes[nodes[i].parent];
        nodes[i].next_sibling = par->first_child;
        par->first_child = i;
    }
    free(p->nodes);
    free(p->pool);
    p->nodes = nodes;
    p->cap = n;
    p->pool = pool;
    p->pool_len = p->pool_cap = p->ncounts;
    if (p->slots != NULL) {
        memset(p->slots, 0, (size_t)p->nslots * sizeof *p->slots);
        fill_slots(p, p->slots, p->nslots);
    }
    p->ordered = true;
    free(order);
    free(newid);
    return PG_OK;
}

int pg_profile_shrink(pg_profile *p, bool keep_index)
{
    if (!p->ordered) {
        int rc = put_in_order(p); /* also cuts nodes and counts to their size */
        if (rc != PG_OK)
            return rc;
    }
    if (!keep_index) {
        free(p->slots);
        p->slots = NULL;
        p->nslots = 0;
    }
    if (p->origin == 0) {
        /* Atomic only so that a threaded test harness cannot hand out one number twice. */
        static uint64_t origins;
        p->origin = __atomic_add_fetch(&origins, 1, __ATOMIC_RELAXED);
    }
    return pg_strtab_shrink(&p->strs, keep_index);
}

size_t pg_profile_memory(const pg_profile *p)
{
    /* Everything it holds, the carried metadata included (a cache must not count a value bomb
     * at a few kilobytes). */
    return sizeof *p + (size_t)p->cap * sizeof *p->nodes + (size_t)p->pool_cap * sizeof *p->pool +
           (size_t)p->far_lines_cap * sizeof *p->far_lines +
           (size_t)p->nslots * sizeof *p->slots + pg_strtab_memory(&p->strs) +
           (p->meta_extra ? sizeof(pg_value) + pg_value_memory(p->meta_extra) : 0) +
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
    p->ordered = false;
    p->origin = 0;
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
    p->origin = 0;
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
    p->ordered = false;
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
    p->origin = 0;
    return PG_OK;
}

int pg_profile_add_line(pg_profile *p, uint32_t node, int64_t min, int64_t max)
{
    PG_ASSERT(node < p->n && min <= max);
    pg_pnode *nd = &p->nodes[node];
    p->origin = 0;
    int64_t lo, hi;
    if (pg_profile_line(p, nd, &lo, &hi)) {
        min = PG_MIN(lo, min);
        max = PG_MAX(hi, max);
    }
    if (nd->line_kind != PG_LINE_FAR && min >= INT32_MIN && max <= INT32_MAX) {
        nd->line_kind = PG_LINE_NEAR;
        nd->line_lo = (int32_t)min;
        nd->line_hi = (int32_t)max;
        return PG_OK;
    }
    if (nd->line_kind != PG_LINE_FAR) {
        if (p->nfar_lines >= p->lim.max_nodes)
            return PG_ELIMIT;
        size_t cap = p->far_lines_cap;
        if (!pg_grow((void **)&p->far_lines, &cap, (size_t)p->nfar_lines + 1, sizeof *p->far_lines))
            return PG_ENOMEM;
        p->far_lines_cap = (uint32_t)cap;
        nd->line_kind = PG_LINE_FAR;
        nd->line_lo = (int32_t)p->nfar_lines++;
    }
    p->far_lines[nd->line_lo] = (pg_line_range){min, max};
    return PG_OK;
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
