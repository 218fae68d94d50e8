/*
 * diff.c: two profiles compared stack by stack (see diff.h). Both sides are read as folded
 * stacks (folded.c), so a stack is the same text in the answer and in collapsed output, and paths
 * match by text whatever the two profiles' string tables are. The base's lines are indexed once
 * (path -> count); the head's are streamed, each joined with its base count and marked; the
 * base's unmarked paths follow.
 */
#include "profgate/diff.h"

#include "profgate/folded.h"
#include "profgate/iso8601.h"
#include "profgate/jsonw.h"

#include <stdlib.h>
#include <string.h>

enum { ST_HEAD, ST_HEAD_LINES, ST_BASE_ONLY, ST_TAIL, ST_DONE };

/* Folded text is made in pieces of about this size. */
#define LINES_STEP ((size_t)64 * 1024)

struct pg_dwriter {
    pg_diff_side base, head;
    char *counter;
    double base_total, head_total;
    pg_strtab paths; /* the base's paths */
    double *counts;  /* by path id */
    bool *seen;      /* also in the head */
    uint32_t next;   /* the next base path of ST_BASE_ONLY */
    pg_fwriter *fw;  /* the head's lines */
    pg_buf lines;
    int stage;
    bool first;
};

static double side_total(const pg_diff_side *s)
{
    uint32_t ids[PG_PROFILE_COUNTERS_MAX];
    double totals[PG_PROFILE_COUNTERS_MAX];
    size_t n = pg_profile_counters(s->p, ids, totals, PG_PROFILE_COUNTERS_MAX);
    for (size_t i = 0; i < n; i++)
        if (ids[i] == s->counter)
            return totals[i];
    return 0;
}

static double seconds(const pg_diff_side *s)
{
    return (double)(s->end_s - s->start_s);
}

/* Splits "path count" (no newline); false when the line has no count. */
static bool split_line(const char *s, size_t len, size_t *path_len, double *count)
{
    const char *sp = len > 0 ? memrchr(s, ' ', len) : NULL;
    if (sp == NULL)
        return false;
    *path_len = (size_t)(sp - s);
    *count = strtod(sp + 1, NULL); /* the folded writer's own number text */
    return true;
}

void pg_dwriter_free(pg_dwriter *w)
{
    if (w == NULL)
        return;
    free(w->counter);
    pg_strtab_free(&w->paths);
    free(w->counts);
    free(w->seen);
    pg_fwriter_free(w->fw);
    pg_buf_free(&w->lines);
    free(w);
}

/* Indexes every line of the base: path -> count. */
static int index_base(pg_dwriter *w)
{
    pg_fwriter *fw;
    int rc = pg_fwriter_new(w->base.p, w->base.counter, 0, &fw);
    size_t cap = 0;
    bool done = false;
    while (rc == PG_OK && !done) {
        pg_buf_reset(&w->lines);
        rc = pg_fwriter_step(fw, &w->lines, LINES_STEP, &done);
        for (char *s = w->lines.data, *end = s + w->lines.len; rc == PG_OK && s < end;) {
            char *nl = memchr(s, '\n', (size_t)(end - s));
            PG_ASSERT(nl != NULL); /* the folded writer writes whole lines */
            size_t plen;
            double v;
            if (split_line(s, (size_t)(nl - s), &plen, &v)) {
                uint32_t id = pg_strtab_intern(&w->paths, s, plen);
                if (id == PG_STR_NONE || !pg_grow((void **)&w->counts, &cap, (size_t)id + 1, sizeof *w->counts))
                    rc = PG_ENOMEM;
                else
                    w->counts[id] = v; /* a path is one line */
            }
            s = nl + 1;
        }
    }
    if (rc == PG_OK && (w->seen = calloc(w->paths.n + 1, sizeof *w->seen)) == NULL)
        rc = PG_ENOMEM;
    pg_fwriter_free(fw);
    return rc;
}

size_t pg_dwriter_memory(const pg_dwriter *w)
{
    return sizeof *w + pg_strtab_memory(&w->paths) + (size_t)(w->paths.n + 1) * (sizeof *w->counts + sizeof *w->seen) +
           w->lines.cap;
}

int pg_dwriter_new(const pg_diff_side *base, const pg_diff_side *head, const char *counter, pg_dwriter **out)
{
    pg_dwriter *w = calloc(1, sizeof *w);
    if (w == NULL)
        return PG_ENOMEM;
    w->base = *base;
    w->head = *head;
    PG_ASSERT(base->end_s > base->start_s && head->end_s > head->start_s);
    pg_strtab_init(&w->paths, (size_t)1 << 31, base->p->n + 1);
    pg_buf_init(&w->lines, (size_t)1 << 30);
    w->counter = strdup(counter);
    int rc = w->counter == NULL ? PG_ENOMEM : index_base(w);
    rc = rc ?: pg_fwriter_new(head->p, head->counter, 0, &w->fw);
    if (rc != PG_OK) {
        pg_dwriter_free(w);
        return rc;
    }
    w->base_total = side_total(base);
    w->head_total = side_total(head);
    *out = w;
    return PG_OK;
}

static int put_side(pg_buf *out, const char *name, const pg_diff_side *s, double total)
{
    char a[PG_TS_FMT_MAX], b[PG_TS_FMT_MAX];
    pg_ts_format(s->start_s * PG_NS_PER_S, a, sizeof a);
    pg_ts_format(s->end_s * PG_NS_PER_S, b, sizeof b);
    int rc = pg_buf_printf(out, "\"%s\":{\"startTime\":\"%s\",\"endTime\":\"%s\",\"seconds\":%lld,\"total\":", name, a,
                           b, (long long)(s->end_s - s->start_s));
    rc = rc ?: pg_emit_number_text(out, total);
    return rc ?: pg_buf_puts(out, "}");
}

/* One stack: its path (folded text, already safe), both rates and both counts. */
static int put_stack(pg_dwriter *w, const char *path, size_t len, double base, double head, pg_buf *out)
{
    int rc = pg_buf_puts(out, w->first ? "\n{\"stack\":" : ",\n{\"stack\":");
    w->first = false;
    rc = rc ?: pg_json_str(out, path, len);
    rc = rc
             ?: pg_buf_printf(out, ",\"base\":%.9g,\"head\":%.9g,\"baseCount\":", base / seconds(&w->base),
                              head / seconds(&w->head));
    rc = rc ?: pg_emit_number_text(out, base);
    rc = rc ?: pg_buf_puts(out, ",\"headCount\":");
    rc = rc ?: pg_emit_number_text(out, head);
    return rc ?: pg_buf_puts(out, "}");
}

/* The next piece of the head's lines, each joined with its base count. */
static int head_lines(pg_dwriter *w, pg_buf *out, bool *head_done)
{
    pg_buf_reset(&w->lines);
    int rc = pg_fwriter_step(w->fw, &w->lines, LINES_STEP, head_done);
    for (char *s = w->lines.data, *end = s + w->lines.len; rc == PG_OK && s < end;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        PG_ASSERT(nl != NULL);
        size_t plen;
        double v;
        if (split_line(s, (size_t)(nl - s), &plen, &v)) {
            uint32_t id = pg_strtab_find(&w->paths, s, plen);
            double b = 0;
            if (id != PG_STR_NONE) {
                b = w->counts[id];
                w->seen[id] = true;
            }
            rc = put_stack(w, s, plen, b, v, out);
        }
        s = nl + 1;
    }
    return rc;
}

int pg_dwriter_step(pg_dwriter *w, pg_buf *out, size_t budget, bool *done)
{
    int rc = PG_OK;
    while (rc == PG_OK && w->stage != ST_DONE && out->len < budget) {
        switch (w->stage) {
        case ST_HEAD:
            rc = pg_buf_puts(out, "{\"counter\":");
            rc = rc ?: pg_json_cstr(out, w->counter);
            rc = rc ?: pg_buf_puts(out, ",");
            rc = rc ?: put_side(out, "base", &w->base, w->base_total);
            rc = rc ?: pg_buf_puts(out, ",");
            rc = rc ?: put_side(out, "head", &w->head, w->head_total);
            rc = rc ?: pg_buf_puts(out, ",\"stacks\":[");
            w->first = true;
            w->stage = ST_HEAD_LINES;
            break;
        case ST_HEAD_LINES: {
            bool head_done = false;
            rc = head_lines(w, out, &head_done);
            if (head_done)
                w->stage = ST_BASE_ONLY;
            break;
        }
        case ST_BASE_ONLY:
            if (w->next < w->paths.n) {
                uint32_t id = w->next++;
                if (!w->seen[id]) {
                    size_t len;
                    const char *path = pg_strtab_get(&w->paths, id, &len);
                    rc = put_stack(w, path, len, w->counts[id], 0, out);
                }
                break;
            }
            w->stage = ST_TAIL;
            break;
        case ST_TAIL:
            rc = pg_buf_puts(out, "\n]}\n");
            w->stage = ST_DONE;
            break;
        default: PG_UNREACHABLE();
        }
    }
    *done = rc == PG_OK && w->stage == ST_DONE;
    return rc;
}
