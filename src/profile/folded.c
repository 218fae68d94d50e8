/*
 * folded.c: a profile as folded stacks (see folded.h). A depth-first walk with an explicit stack
 * of levels: each level holds the sorted children of one node on the current path, in one shared
 * arena (a path's levels are contiguous in it), so the walk stops at any line and resumes there.
 * The current path's text is kept as it is built (each frame made safe once, when the walk enters
 * it), so a line is a copy of that prefix and one name.
 */
#include "profgate/folded.h"
#include "profgate/emit.h"

#include <stdlib.h>
#include <string.h>

typedef struct level {
    uint32_t node;     /* whose children this level lists */
    size_t start, len; /* in the kids arena */
    size_t pos;        /* the next child to visit */
    size_t path_len;   /* the path's text up to and including node */
} level;

struct pg_fwriter {
    const pg_profile *p;
    uint32_t counter, max_depth;
    uint32_t *kids;
    size_t nkids, kids_cap;
    level *lv;
    size_t nlv, lv_cap;
    uint32_t *stack; /* pg_profile_subtree_counts's scratch (frames at the depth limit) */
    size_t stack_cap;
    pg_buf path;     /* "a;b;c": the frames of the current path, made safe */
    bool root_done;
};

static int cmp_name(const void *a, const void *b, void *ctx)
{
    const pg_profile *p = ctx;
    return pg_strtab_cmp(&p->strs, p->nodes[*(const uint32_t *)a].name, p->nodes[*(const uint32_t *)b].name);
}

/* A frame name with ';' made '|' and line breaks made spaces, so that the line parses back. */
static int put_frame(pg_buf *out, const char *s, size_t len)
{
    size_t from = out->len;
    int rc = pg_buf_append(out, s, len);
    if (len == 0 || (memchr(s, ';', len) == NULL && memchr(s, '\n', len) == NULL && memchr(s, '\r', len) == NULL))
        return rc; /* the usual frame: nothing to change */
    for (size_t i = from; rc == PG_OK && i < out->len; i++) {
        char ch = out->data[i];
        if (ch == ';')
            out->data[i] = '|';
        else if (ch == '\n' || ch == '\r')
            out->data[i] = ' ';
    }
    return rc;
}

/* Pushes a level with node's children, sorted. */
static int push_level(pg_fwriter *w, uint32_t node)
{
    const pg_profile *p = w->p;
    size_t start = w->nkids;
    for (uint32_t c = p->nodes[node].first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling) {
        if (!pg_grow((void **)&w->kids, &w->kids_cap, w->nkids + 1, sizeof *w->kids))
            return PG_ENOMEM;
        w->kids[w->nkids++] = c;
    }
    if (!pg_grow((void **)&w->lv, &w->lv_cap, w->nlv + 1, sizeof *w->lv))
        return PG_ENOMEM;
    qsort_r(w->kids + start, w->nkids - start, sizeof *w->kids, cmp_name, (void *)p);
    int rc = PG_OK;
    if (node != 0) { /* the unnamed root has no frame */
        size_t len;
        const char *name = pg_strtab_get(&p->strs, p->nodes[node].name, &len);
        if (w->path.len > 0)
            rc = pg_buf_append(&w->path, ";", 1);
        rc = rc ?: put_frame(&w->path, name, len);
    }
    w->lv[w->nlv++] = (level){.node = node, .start = start, .len = w->nkids - start, .pos = 0, .path_len = w->path.len};
    return rc;
}

static int put_line(pg_fwriter *w, uint32_t node, double value, pg_buf *out)
{
    const pg_profile *p = w->p;
    /* The path so far (the nodes whose children levels 1.. list), then node itself. */
    size_t len;
    const char *name = pg_strtab_get(&p->strs, p->nodes[node].name, &len);
    int rc = PG_OK;
    if (w->path.len > 0) { /* (an empty path has no buffer yet) */
        rc = pg_buf_append(out, w->path.data, w->path.len);
        rc = rc ?: pg_buf_append(out, ";", 1);
    }
    rc = rc ?: put_frame(out, name, len);
    rc = rc ?: pg_buf_append(out, " ", 1);
    rc = rc ?: pg_emit_number_text(out, value);
    return rc ?: pg_buf_append(out, "\n", 1);
}

int pg_fwriter_new(const pg_profile *p, uint32_t counter, uint32_t max_depth, pg_fwriter **out)
{
    pg_fwriter *w = calloc(1, sizeof *w);
    if (w == NULL)
        return PG_ENOMEM;
    w->p = p;
    w->counter = counter;
    w->max_depth = max_depth;
    pg_buf_init(&w->path, (size_t)1 << 30);
    int rc = push_level(w, 0);
    if (rc != PG_OK) {
        pg_fwriter_free(w);
        return rc;
    }
    *out = w;
    return PG_OK;
}

int pg_fwriter_step(pg_fwriter *w, pg_buf *out, size_t budget, bool *done)
{
    const pg_profile *p = w->p;
    int rc = PG_OK;
    if (!w->root_done) {
        /* Counts on the unnamed root (rare) still count: a line of their own. */
        w->root_done = true;
        double v = pg_profile_self_count(p, 0, w->counter);
        if (v != 0) {
            rc = pg_buf_puts(out, "(root) ");
            rc = rc ?: pg_emit_number_text(out, v);
            rc = rc ?: pg_buf_append(out, "\n", 1);
        }
    }
    while (rc == PG_OK && w->nlv > 0 && out->len < budget) {
        level *l = &w->lv[w->nlv - 1];
        if (l->pos == l->len) {
            w->nkids = l->start;
            w->nlv--;
            w->path.len = w->nlv > 0 ? w->lv[w->nlv - 1].path_len : 0;
            continue;
        }
        uint32_t node = w->kids[l->start + l->pos++];
        bool at_limit = w->max_depth != 0 && w->nlv >= w->max_depth; /* node's depth is nlv */
        double v;
        if (at_limit)
            rc = pg_profile_subtree_counts(p, node, &w->counter, 1, &v, &w->stack, &w->stack_cap);
        else
            v = pg_profile_self_count(p, node, w->counter);
        if (rc == PG_OK && v != 0)
            rc = put_line(w, node, v, out);
        if (rc == PG_OK && !at_limit && p->nodes[node].first_child != PG_NODE_NONE)
            rc = push_level(w, node);
    }
    *done = rc == PG_OK && w->nlv == 0;
    return rc;
}

void pg_fwriter_free(pg_fwriter *w)
{
    if (w == NULL)
        return;
    free(w->kids);
    free(w->lv);
    free(w->stack);
    pg_buf_free(&w->path);
    free(w);
}
