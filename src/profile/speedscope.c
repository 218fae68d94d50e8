/*
 * speedscope.c: a profile in speedscope's file format (see speedscope.h). Stages: the head, the
 * shared frames, then per counter a profile head, its samples, its weights and its end, then the
 * tail. Samples and weights are written in the same order (a sampled profile keeps them as parallel
 * arrays), once per counter. The tree is walked once, when the writer is made, into arrays in
 * depth-first order: each shown node's frame, depth and value per counter. Every later pass reads
 * them in sequence, so a pass is resumable at any index, a sample's path is kept as the pass goes
 * (a node's ancestors come before it), and no pass touches the tree again: walking its links and
 * count pools once per counter and per array was a cache miss per node (most of the writer's time
 * at 60,000 nodes).
 */
#include "profgate/speedscope.h"

#include "profgate/jsonw.h"

#include <stdlib.h>
#include <string.h>

enum { ST_HEAD, ST_FRAMES, ST_PROFILE, ST_SAMPLES, ST_WEIGHTS, ST_PROFILE_END, ST_TAIL, ST_DONE };

#define MAX_TYPES PG_PROFILE_COUNTERS_MAX
#define SCHEMA "https://www.speedscope.app/file-format-schema.json"

struct pg_sswriter {
    const pg_profile *p;
    char *name;
    uint32_t max_depth;
    int stage;
    uint32_t types[MAX_TYPES]; /* counter string ids, sorted by name */
    double totals[MAX_TYPES];
    size_t ntypes, type, active;
    /* Frames: the name ids in first-seen order, and each name's frame index. */
    uint32_t *frames, *frame_of;
    uint32_t *file_of; /* per name: pg_profile_frame_sources */
    int64_t *line_of;
    uint32_t nframes, root_frame; /* root_frame: "(root)" when the root has counts, else PG_STR_NONE */
    uint32_t next;                /* the next frame, or the next index of the walk */
    /* The walk: m shown nodes in depth-first order (the root first), their frames and depths, and
     * val[t * m + i], node i's value for counter t (its self count, its subtree's at the limit). */
    uint32_t m;
    uint32_t *wframe;
    uint16_t *wdepth;
    double *val;
    uint32_t *path; /* the current sample's frames, root first (indexed by depth - 1) */
    bool first;     /* no element written yet in the current array */
};

void pg_sswriter_free(pg_sswriter *w)
{
    if (w == NULL)
        return;
    free(w->name);
    free(w->frames);
    free(w->frame_of);
    free(w->file_of);
    free(w->line_of);
    free(w->wframe);
    free(w->wdepth);
    free(w->val);
    free(w->path);
    free(w);
}

static bool shown(const pg_sswriter *w, uint32_t node)
{
    return w->max_depth == 0 || w->p->nodes[node].depth <= w->max_depth;
}

/* The node after n in depth-first order among the shown ones; PG_NODE_NONE after the last. */
static uint32_t walk_next(const pg_sswriter *w, uint32_t n)
{
    const pg_pnode *nodes = w->p->nodes;
    if (nodes[n].first_child != PG_NODE_NONE && (w->max_depth == 0 || nodes[n].depth < w->max_depth))
        return nodes[n].first_child;
    while (n != PG_ROOT) {
        if (nodes[n].next_sibling != PG_NODE_NONE)
            return nodes[n].next_sibling;
        n = nodes[n].parent;
    }
    return PG_NODE_NONE;
}

/* The walk's arrays (see the top of the file). */
static int build_walk(pg_sswriter *w)
{
    const pg_profile *p = w->p;
    uint32_t m = 0, max = 0;
    for (uint32_t n = PG_ROOT; n != PG_NODE_NONE; n = walk_next(w, n)) {
        m++;
        max = PG_MAX(max, (uint32_t)p->nodes[n].depth);
    }
    size_t nt = PG_MAX(w->ntypes, (size_t)1);
    w->m = m;
    w->wframe = malloc(m * sizeof *w->wframe);
    w->wdepth = malloc(m * sizeof *w->wdepth);
    w->val = malloc(nt * m * sizeof *w->val);
    w->path = malloc((max + 1) * sizeof *w->path);
    uint32_t *sub = NULL;
    size_t sub_cap = 0;
    if (w->wframe == NULL || w->wdepth == NULL || w->val == NULL || w->path == NULL)
        return PG_ENOMEM;
    uint32_t i = 0;
    int rc = PG_OK;
    for (uint32_t n = PG_ROOT; rc == PG_OK && n != PG_NODE_NONE; n = walk_next(w, n), i++) {
        const pg_pnode *nd = &p->nodes[n];
        w->wframe[i] = n == PG_ROOT ? w->root_frame : w->frame_of[nd->name];
        w->wdepth[i] = nd->depth;
        for (size_t t = 0; t < w->ntypes; t++)
            w->val[t * m + i] = 0;
        if (n != PG_ROOT && w->max_depth != 0 && nd->depth == w->max_depth) {
            double sums[MAX_TYPES];
            rc = pg_profile_subtree_counts(p, n, w->types, w->ntypes, sums, &sub, &sub_cap);
            for (size_t t = 0; rc == PG_OK && t < w->ntypes; t++)
                w->val[t * m + i] = sums[t];
            continue;
        }
        for (uint32_t k = 0; k < nd->ncounts; k++) { /* a handful of counts, a handful of types */
            const pg_count *c = &p->pool[nd->counts + k];
            for (size_t t = 0; t < w->ntypes; t++)
                if (w->types[t] == c->counter)
                    w->val[t * m + i] = c->value;
        }
    }
    free(sub);
    return rc;
}

size_t pg_sswriter_memory(const pg_sswriter *w)
{
    size_t ns = w->p->strs.n > 0 ? w->p->strs.n : 1, nt = PG_MAX(w->ntypes, (size_t)1);
    return sizeof *w + ns * (2 * sizeof(uint32_t) + sizeof(uint32_t) + sizeof(int64_t)) +
           (size_t)w->m * (sizeof *w->wframe + sizeof *w->wdepth + nt * sizeof *w->val);
}

int pg_sswriter_new(const pg_profile *p, const char *name, uint32_t default_counter, uint32_t max_depth,
                    pg_sswriter **out)
{
    pg_sswriter *w = calloc(1, sizeof *w);
    if (w == NULL)
        return PG_ENOMEM;
    w->p = p;
    w->max_depth = max_depth;
    w->name = strdup(name);
    size_t ns = p->strs.n > 0 ? p->strs.n : 1;
    w->frames = malloc((ns + 1) * sizeof *w->frames);
    w->frame_of = malloc(ns * sizeof *w->frame_of);
    w->file_of = malloc(ns * sizeof *w->file_of);
    w->line_of = malloc(ns * sizeof *w->line_of);
    if (w->name == NULL || w->frames == NULL || w->frame_of == NULL || w->file_of == NULL || w->line_of == NULL) {
        pg_sswriter_free(w);
        return PG_ENOMEM;
    }
    pg_profile_frame_sources(p, w->file_of, w->line_of);
    for (size_t i = 0; i < ns; i++)
        w->frame_of[i] = PG_STR_NONE;
    for (uint32_t n = 1; n < p->n; n++) {
        uint32_t id = p->nodes[n].name;
        if (shown(w, n) && w->frame_of[id] == PG_STR_NONE) {
            w->frame_of[id] = w->nframes;
            w->frames[w->nframes++] = id;
        }
    }
    w->root_frame = PG_STR_NONE;
    if (p->nodes[PG_ROOT].ncounts > 0)
        w->root_frame = w->nframes++; /* frames[] holds a name id only below it */
    w->ntypes = pg_profile_counters_by_name(p, w->types, w->totals, MAX_TYPES);
    for (size_t i = 0; i < w->ntypes; i++)
        if (w->types[i] == default_counter)
            w->active = i;
    int rc = build_walk(w);
    if (rc != PG_OK) {
        pg_sswriter_free(w);
        return rc;
    }
    *out = w;
    return PG_OK;
}

static int put_frame(pg_sswriter *w, uint32_t i, pg_buf *out)
{
    const pg_profile *p = w->p;
    int rc = pg_buf_puts(out, i > 0 ? ",{\"name\":" : "{\"name\":");
    if (i == w->root_frame)
        return rc ?: pg_buf_puts(out, "\"(root)\"}");
    uint32_t id = w->frames[i];
    size_t len;
    const char *name = pg_strtab_get(&p->strs, id, &len);
    rc = rc ?: pg_json_str(out, name, len);
    uint32_t file = w->file_of[id];
    int64_t line = w->line_of[id];
    if (file != PG_STR_NONE) {
        const char *f = pg_strtab_get(&p->strs, file, &len);
        rc = rc ?: pg_buf_puts(out, ",\"file\":");
        rc = rc ?: pg_json_str(out, f, len);
    }
    if (line > 0)
        rc = rc ?: pg_buf_printf(out, ",\"line\":%lld", (long long)line);
    return rc ?: pg_buf_puts(out, "}");
}

/* A sample: the frames of walk index i's path, root first (the pass keeps w->path). */
static int put_sample(pg_sswriter *w, uint32_t i, pg_buf *out)
{
    int rc = pg_buf_puts(out, w->first ? "[" : ",[");
    uint32_t depth = w->wdepth[i];
    if (depth == 0) /* the root's own counts */
        return rc ?: pg_emit_int_text(out, w->root_frame) ?: pg_buf_puts(out, "]");
    for (uint32_t k = 0; rc == PG_OK && k < depth; k++) {
        if (k > 0)
            rc = pg_buf_append(out, ",", 1);
        rc = rc ?: pg_emit_int_text(out, w->path[k]);
    }
    return rc ?: pg_buf_puts(out, "]");
}

static int put_head(pg_sswriter *w, pg_buf *out)
{
    int rc = pg_buf_puts(out, "{\"$schema\":\"" SCHEMA "\",\"exporter\":\"profgate\",\"name\":");
    rc = rc ?: pg_json_cstr(out, w->name);
    rc = rc ?: pg_buf_printf(out, ",\"activeProfileIndex\":%zu,\"shared\":{\"frames\":[", w->active);
    return rc;
}

static int put_profile_head(pg_sswriter *w, pg_buf *out)
{
    size_t len;
    const char *name = pg_strtab_get(&w->p->strs, w->types[w->type], &len);
    int rc = pg_buf_puts(out, w->type > 0 ? ",{\"type\":\"sampled\",\"name\":" : "{\"type\":\"sampled\",\"name\":");
    rc = rc ?: pg_json_str(out, name, len);
    rc = rc ?: pg_buf_puts(out, ",\"unit\":\"none\",\"startValue\":0,\"endValue\":");
    rc = rc ?: pg_emit_number_text(out, w->totals[w->type]);
    return rc ?: pg_buf_puts(out, ",\"samples\":[");
}

int pg_sswriter_step(pg_sswriter *w, pg_buf *out, size_t budget, bool *done)
{
    int rc = PG_OK;
    while (rc == PG_OK && w->stage != ST_DONE && out->len < budget) {
        switch (w->stage) {
        case ST_HEAD:
            rc = put_head(w, out);
            w->next = 0;
            w->stage = ST_FRAMES;
            break;
        case ST_FRAMES:
            if (w->next < w->nframes) {
                rc = put_frame(w, w->next++, out);
                break;
            }
            rc = pg_buf_puts(out, "]},\"profiles\":[");
            w->type = 0;
            w->stage = w->ntypes > 0 ? ST_PROFILE : ST_TAIL;
            break;
        case ST_PROFILE:
            rc = put_profile_head(w, out);
            w->next = 0;
            w->first = true;
            w->stage = ST_SAMPLES;
            break;
        case ST_SAMPLES:
        case ST_WEIGHTS: {
            if (w->next == w->m) {
                if (w->stage == ST_SAMPLES) {
                    rc = pg_buf_puts(out, "],\"weights\":[");
                    w->next = 0;
                    w->first = true;
                    w->stage = ST_WEIGHTS;
                } else {
                    w->stage = ST_PROFILE_END;
                }
                break;
            }
            uint32_t i = w->next++;
            double v = w->val[w->type * w->m + i];
            if (w->stage == ST_SAMPLES && w->wdepth[i] > 0)
                w->path[w->wdepth[i] - 1] = w->wframe[i]; /* its ancestors came before it */
            if (v == 0)
                break;
            if (w->stage == ST_SAMPLES) {
                rc = put_sample(w, i, out);
            } else {
                rc = w->first ? PG_OK : pg_buf_append(out, ",", 1);
                rc = rc ?: pg_emit_number_text(out, v);
            }
            w->first = false;
            break;
        }
        case ST_PROFILE_END:
            rc = pg_buf_puts(out, "]}");
            w->stage = ++w->type < w->ntypes ? ST_PROFILE : ST_TAIL;
            break;
        case ST_TAIL:
            rc = pg_buf_puts(out, "]}\n");
            w->stage = ST_DONE;
            break;
        default: PG_UNREACHABLE();
        }
    }
    *done = rc == PG_OK && w->stage == ST_DONE;
    return rc;
}
