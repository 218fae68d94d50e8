/*
 * merge.c: folding one profile into another. Node ids grow from parent to child in every
 * profile (a child is created after its parent), so walking src in id order always finds the
 * parent already mapped into dst: one pass, no recursion.
 */
#include "profgate/merge.h"

#include <stdlib.h>
#include <string.h>

static bool is_empty(const pg_profile *p)
{
    return p->n == 1 && p->nodes[0].ncounts == 0 && !p->has_start && !p->has_end && !p->has_samples &&
           !p->has_duration && !p->has_cpu && !p->has_weights && p->meta_extra == NULL && p->top_extra == NULL;
}

static double weight_of(const pg_profile *p, const char *name, size_t len, bool *found)
{
    for (uint32_t i = 0; i < p->nweights; i++) {
        size_t l;
        const char *s = pg_strtab_get(&p->strs, p->weights[i].counter, &l);
        if (l == len && memcmp(s, name, len) == 0) {
            *found = true;
            return p->weights[i].value;
        }
    }
    *found = false;
    return 0;
}

static bool weights_agree(const pg_profile *a, const pg_profile *b)
{
    if (a->nweights != b->nweights)
        return false;
    for (uint32_t i = 0; i < a->nweights; i++) {
        size_t l;
        const char *s = pg_strtab_get(&a->strs, a->weights[i].counter, &l);
        bool found;
        double w = weight_of(b, s, l, &found);
        if (!found || w != a->weights[i].value)
            return false;
    }
    return true;
}

/* Multiplies every count of counter cid in p by f. */
static void rescale(pg_profile *p, uint32_t cid, double f)
{
    p->origin = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        pg_pnode *nd = &p->nodes[i];
        for (uint32_t k = 0; k < nd->ncounts; k++)
            if (p->pool[nd->counts + k].counter == cid)
                p->pool[nd->counts + k].value *= f;
    }
}

static int merge_extra(pg_value **dst, const pg_value *src)
{
    if (src == NULL)
        return PG_OK;
    if (*dst == NULL) {
        *dst = pg_value_clone(src);
        return *dst ? PG_OK : PG_ENOMEM;
    }
    for (size_t i = 0; i < src->n; i++) {
        const pg_value *m = &src->items[i];
        if (pg_value_get(*dst, m->key, m->key_len) != NULL)
            continue; /* first non-null wins */
        pg_value *c = pg_value_clone(m);
        pg_value *slot = c ? pg_value_set(*dst, m->key, m->key_len) : NULL;
        if (slot == NULL) {
            pg_value_free(c);
            return PG_ENOMEM;
        }
        char *key = slot->key;
        size_t klen = slot->key_len;
        *slot = *c;
        slot->key = key;
        slot->key_len = klen;
        free(c->key);
        free(c); /* its contents now belong to slot */
    }
    return PG_OK;
}

/* Sample weights: kept when they agree, else recomputed from the totals with counts rescaled
 * by new/old weight, per input (CONTRACT §6). factor[i] receives the rescale factor for src's
 * weight i (1 when unchanged). */
static int merge_weights(pg_profile *dst, const pg_profile *src, bool dst_empty, double *factor)
{
    for (uint32_t i = 0; i < PG_ARRAY_LEN(src->weights); i++)
        factor[i] = 1.0;
    if (src->has_weights && !dst_empty && dst->has_weights && !weights_agree(dst, src)) {
        double samples = (dst->has_samples ? dst->num_samples : 0) + (src->has_samples ? src->num_samples : 0);
        double secs = ((dst->has_duration ? dst->duration_ms : 0) + (src->has_duration ? src->duration_ms : 0)) / 1000.0;
        if (secs <= 0)
            return PG_OK;
        double w = samples / secs;
        for (uint32_t i = 0; i < src->nweights; i++) {
            size_t l;
            const char *name = pg_strtab_get(&src->strs, src->weights[i].counter, &l);
            if (src->weights[i].value != 0)
                factor[i] = w / src->weights[i].value;
            bool found;
            double old = weight_of(dst, name, l, &found);
            uint32_t cid = pg_strtab_find(&dst->strs, name, l);
            if (found && old != 0 && cid != PG_STR_NONE)
                rescale(dst, cid, w / old);
            int rc = pg_profile_set_weight(dst, name, l, w);
            if (rc != PG_OK)
                return rc;
        }
        for (uint32_t i = 0; i < dst->nweights; i++)
            dst->weights[i].value = w; /* counters only dst had: rescaled above when shared */
    } else if (src->has_weights && (dst_empty || !dst->has_weights)) {
        for (uint32_t i = 0; i < src->nweights; i++) {
            size_t l;
            const char *name = pg_strtab_get(&src->strs, src->weights[i].counter, &l);
            int rc = pg_profile_set_weight(dst, name, l, src->weights[i].value);
            if (rc != PG_OK)
                return rc;
        }
    }
    return PG_OK;
}

/* start is the minimum, end the maximum; samples, duration and CPU time add up; unknown
 * members are kept. */
static int merge_meta(pg_profile *dst, const pg_profile *src)
{
    if (src->has_start) {
        dst->start_ms = dst->has_start ? PG_MIN(dst->start_ms, src->start_ms) : src->start_ms;
        dst->has_start = true;
    }
    if (src->has_end) {
        dst->end_ms = dst->has_end ? PG_MAX(dst->end_ms, src->end_ms) : src->end_ms;
        dst->has_end = true;
    }
    if (src->has_samples) {
        dst->num_samples = (dst->has_samples ? dst->num_samples : 0) + src->num_samples;
        dst->has_samples = true;
    }
    if (src->has_duration) {
        dst->duration_ms = (dst->has_duration ? dst->duration_ms : 0) + src->duration_ms;
        dst->has_duration = true;
    }
    if (src->has_cpu) {
        dst->cpu_s = (dst->has_cpu ? dst->cpu_s : 0) + src->cpu_s;
        dst->has_cpu = true;
    }
    int rc = merge_extra(&dst->meta_extra, src->meta_extra);
    return rc ?: merge_extra(&dst->top_extra, src->top_extra);
}

/* The call trees: every string of src is interned into dst once, up front, so nodes and counts
 * then refer to dst's ids directly instead of hashing the same names again for every node.
 * Nodes come parents first, so each maps to its child of an already mapped parent. */
static int merge_tree(pg_profile *dst, const pg_profile *src, const double *factor)
{
    uint32_t *sid = malloc(((size_t)src->strs.n + 1) * sizeof *sid);
    uint32_t *map = malloc((size_t)src->n * sizeof *map);
    if (map == NULL || sid == NULL) {
        free(sid);
        free(map);
        return PG_ENOMEM;
    }
    int rc = PG_OK;
    for (uint32_t i = 0; rc == PG_OK && i < src->strs.n; i++) {
        size_t len;
        const char *str = pg_strtab_get(&src->strs, i, &len);
        sid[i] = pg_strtab_intern(&dst->strs, str, len);
        if (sid[i] == PG_STR_NONE)
            rc = PG_ELIMIT;
    }
    map[0] = PG_ROOT;
    for (uint32_t i = 0; rc == PG_OK && i < src->n; i++) {
        const pg_pnode *sn = &src->nodes[i];
        if (i > 0) {
            PG_ASSERT(sn->parent < i);
            map[i] = pg_profile_child_id(dst, map[sn->parent], sid[sn->name]);
            if (map[i] == PG_NODE_NONE) {
                rc = PG_ELIMIT;
                break;
            }
        }
        for (uint32_t k = 0; rc == PG_OK && k < sn->ncounts; k++) {
            const pg_count *c = &src->pool[sn->counts + k];
            double f = 1.0;
            for (uint32_t w = 0; w < src->nweights; w++)
                if (src->weights[w].counter == c->counter)
                    f = factor[w];
            rc = pg_profile_add_count_id(dst, map[i], sid[c->counter], c->value * f);
        }
        if (rc == PG_OK && sn->file != PG_STR_NONE && dst->nodes[map[i]].file == PG_STR_NONE)
            dst->nodes[map[i]].file = sid[sn->file]; /* first non-null wins */
        int64_t lmin, lmax;
        if (rc == PG_OK && pg_profile_line(src, sn, &lmin, &lmax))
            rc = pg_profile_add_line(dst, map[i], lmin, lmax);
    }
    free(sid);
    free(map);
    return rc;
}

int pg_profile_merge(pg_profile *dst, const pg_profile *src)
{
    if (is_empty(src))
        return PG_OK;
    bool dst_empty = is_empty(dst);
    if (dst_empty && dst->n == 1 && dst->strs.n == 0 && dst->nweights == 0) {
        /* Folding into nothing: a copy of src is the answer, made without a probe per node. */
        pg_profile copy;
        int rc = pg_profile_copy(&copy, src, &dst->lim);
        if (rc != PG_OK)
            return rc;
        pg_profile_free(dst);
        *dst = copy;
        return PG_OK;
    }
    /* The tree changes (merge_tree also sets files directly, past pg_profile_set_file). */
    dst->origin = 0;
    double factor[PG_ARRAY_LEN(src->weights)];
    int rc = merge_weights(dst, src, dst_empty, factor);
    rc = rc ?: merge_meta(dst, src);
    return rc ?: merge_tree(dst, src, factor);
}
