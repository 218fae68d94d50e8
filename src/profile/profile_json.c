/*
 * profile_json.c: yajl callbacks as a small state machine. Each open JSON container pushes a
 * frame saying what it is (the document, agentMetadata, sampleWeights, a call-tree node, its
 * children or counts, a line list, or a captured/skipped value); keys and scalars are
 * interpreted by the frame on top. Numbers arrive as text and are converted with strtod on a
 * bounded copy, so integers keep their exact value up to 2^53.
 */
#include "profgate/profile_json.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

typedef enum {
    F_DOC,      /* the top-level object */
    F_META,     /* agentMetadata */
    F_WEIGHTS,  /* sampleWeights */
    F_NODE,     /* a call-tree node */
    F_CHILDREN, /* a node's children: frame name -> node */
    F_COUNTS,   /* a node's counts: counter -> number */
    F_LINE,     /* a node's line list */
    F_CAPTURE,  /* an unknown member being kept (pg_value) */
    F_SKIP      /* an unknown node member being ignored */
} ftype;

/* What the next value (after a key) is for. */
typedef enum {
    V_NONE, V_START, V_END, V_META, V_CALLGRAPH, V_WEIGHTS, V_WEIGHT, V_DURATION, V_SAMPLES, V_CPU, V_COUNTS, V_CHILDREN,
    V_FILE, V_LINE, V_CHILD, V_COUNT, V_CAPTURE, V_SKIP
} vslot;

typedef struct frame {
    ftype type;
    uint32_t node;    /* F_NODE / F_CHILDREN / F_COUNTS / F_LINE */
    pg_value *value;  /* F_CAPTURE: the container being filled */
    int nline;        /* F_LINE */
    int64_t line[2];
} frame;

#define DEPTH_MAX 1100

struct pg_pjson {
    pg_profile *p;
    yajl_handle y;
    size_t max_string;
    frame stack[DEPTH_MAX];
    int depth;
    vslot next;          /* meaning of the next value */
    char key[256];       /* the pending key (counter or weight name) */
    size_t key_len;
    uint32_t pending_child;
    pg_value *capture_slot; /* F_CAPTURE: where the next value goes */
    size_t vbytes;          /* memory the captured values take (limit: the profile's max_value_bytes) */
    bool seen_doc;
    char err[160];
};

static int fail(pg_pjson *j, const char *msg)
{
    if (j->err[0] == '\0')
        snprintf(j->err, sizeof j->err, "%s", msg);
    return 0;
}

static frame *top(pg_pjson *j)
{
    return j->depth > 0 ? &j->stack[j->depth - 1] : NULL;
}

static int push(pg_pjson *j, ftype t, uint32_t node)
{
    if (j->depth == DEPTH_MAX)
        return fail(j, "profile nests too deeply");
    frame *f = &j->stack[j->depth++];
    memset(f, 0, sizeof *f);
    f->type = t;
    f->node = node;
    return 1;
}

static bool parse_num(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    *out = strtod(buf, &end);
    /* A number too large for a double (1e999) would become infinity, which JSON cannot carry
     * back out: such a profile is malformed, not a profile with an infinite count. */
    return *end == '\0' && isfinite(*out);
}

/* A value inside a captured (unknown) member: append to the current capture container. */
/* Charges captured-value memory before it is allocated: "[[],[],[],...]" is two bytes of JSON
 * per value but forty of memory, and the upstream's body may be large. */
static bool charge(pg_pjson *j, size_t n)
{
    if (n > j->p->lim.max_value_bytes - PG_MIN(j->vbytes, j->p->lim.max_value_bytes)) {
        fail(j, "carried metadata too large for its memory limit");
        return false;
    }
    j->vbytes += n;
    return true;
}

static pg_value *capture_target(pg_pjson *j)
{
    frame *f = top(j);
    if (f->type == F_CAPTURE && f->value->kind == PG_V_LIST) {
        pg_value *l = f->value;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 4;
            if (!charge(j, (cap - l->cap) * sizeof *l->items))
                return NULL;
            pg_value *items = realloc(l->items, cap * sizeof *items);
            if (items == NULL)
                return NULL;
            l->items = items;
            l->cap = cap;
        }
        pg_value *v = &l->items[l->n++];
        memset(v, 0, sizeof *v);
        return v;
    }
    pg_value *v = j->capture_slot;
    j->capture_slot = NULL;
    return v;
}

static bool in_capture(pg_pjson *j)
{
    return j->next == V_CAPTURE || (top(j) && top(j)->type == F_CAPTURE && top(j)->value->kind == PG_V_LIST);
}

static bool in_skip(pg_pjson *j)
{
    return j->next == V_SKIP || (top(j) && top(j)->type == F_SKIP);
}

/* yajl calls this for every scalar. Its length is one case per place a scalar may stand in the
 * document (start, end, counts, file, line, metadata, kept values): a dispatch on the parser's
 * context that reads best as one switch. */
static int scalar(pg_pjson *j, pg_value_kind kind, const char *s, size_t len, bool b)
{
    if (in_skip(j)) {
        if (j->next == V_SKIP)
            j->next = V_NONE;
        return 1;
    }
    if (in_capture(j)) {
        pg_value *v = capture_target(j);
        if (v == NULL)
            return fail(j, "out of memory");
        v->kind = kind;
        v->b = b;
        if (kind == PG_V_NUM && !parse_num(s, len, &v->num))
            return fail(j, "malformed number");
        if (kind == PG_V_STR) {
            if (!charge(j, len + 1))
                return 0;
            v->str = malloc(len + 1);
            if (v->str == NULL)
                return fail(j, "out of memory");
            memcpy(v->str, s, len);
            v->str[len] = '\0';
            v->str_len = len;
        }
        if (j->next == V_CAPTURE)
            j->next = V_NONE;
        return 1;
    }
    pg_profile *p = j->p;
    vslot slot = j->next;
    j->next = V_NONE;
    double num = 0;
    if (kind == PG_V_NUM && !parse_num(s, len, &num))
        return fail(j, "malformed number");
    frame *f = top(j);
    if (f != NULL && f->type == F_LINE) {
        if (kind != PG_V_NUM || !pg_num_is_int(num))
            return fail(j, "line must hold integers");
        if (f->nline == 2)
            return fail(j, "line holds at most two numbers");
        f->line[f->nline++] = (int64_t)num;
        return 1;
    }
    switch (slot) {
    case V_START:
    case V_END:
        if (kind != PG_V_NUM || !pg_num_is_int(num))
            return fail(j, "start and end must be integer milliseconds");
        if (slot == V_START) {
            p->has_start = true;
            p->start_ms = (int64_t)num;
        } else {
            p->has_end = true;
            p->end_ms = (int64_t)num;
        }
        return 1;
    case V_DURATION:
    case V_SAMPLES:
    case V_CPU:
        if (kind != PG_V_NUM)
            return fail(j, "agentMetadata numbers must be numbers");
        if (slot == V_DURATION) {
            p->has_duration = true;
            p->duration_ms = num;
        } else if (slot == V_SAMPLES) {
            p->has_samples = true;
            p->num_samples = num;
        } else {
            p->has_cpu = true;
            p->cpu_s = num;
        }
        return 1;
    case V_WEIGHT:
        if (kind != PG_V_NUM)
            return fail(j, "sampleWeights values must be numbers");
        return pg_profile_set_weight(p, j->key, j->key_len, num) == PG_OK ? 1 : fail(j, "too many sample weights");
    case V_COUNT:
        if (kind != PG_V_NUM)
            return fail(j, "counts must be numbers");
        return pg_profile_add_count(p, f->node, j->key, j->key_len, num) == PG_OK ? 1 : fail(j, "profile too large (counts)");
    case V_FILE:
        if (kind == PG_V_NULL)
            return 1;
        if (kind != PG_V_STR)
            return fail(j, "file must be a string");
        return pg_profile_set_file(p, f->node, s, len) == PG_OK ? 1 : fail(j, "profile too large (strings)");
    case V_LINE:
        return kind == PG_V_NULL ? 1 : fail(j, "line must be a list");
    case V_COUNTS:
    case V_CHILDREN:
    case V_CALLGRAPH:
    case V_META:
    case V_WEIGHTS:
    case V_CHILD:
        return kind == PG_V_NULL ? 1 : fail(j, "expected an object");
    default:
        return fail(j, "unexpected value");
    }
}

static int on_null(void *ctx) { return scalar(ctx, PG_V_NULL, NULL, 0, false); }
static int on_bool(void *ctx, int b) { return scalar(ctx, PG_V_BOOL, NULL, 0, b != 0); }
static int on_number(void *ctx, const char *s, size_t len) { return scalar(ctx, PG_V_NUM, s, len, false); }

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    pg_pjson *j = ctx;
    if (len > j->max_string)
        return fail(j, "string too long");
    return scalar(j, PG_V_STR, (const char *)s, len, false);
}

static int open_capture(pg_pjson *j, pg_value_kind kind)
{
    /* Captures are the frames on top of the stack: no deeper than the cache codec reads back. */
    int depth = 0;
    for (int i = j->depth - 1; i >= 0 && j->stack[i].type == F_CAPTURE; i--)
        depth++;
    if (depth >= PG_VALUE_DEPTH_MAX)
        return fail(j, "carried metadata nests too deeply");
    pg_value *v = capture_target(j);
    if (v == NULL)
        return fail(j, "out of memory");
    v->kind = kind;
    j->next = V_NONE;
    if (!push(j, F_CAPTURE, 0))
        return 0;
    top(j)->value = v;
    return 1;
}

static int on_start_map(void *ctx)
{
    pg_pjson *j = ctx;
    if (in_skip(j)) {
        j->next = V_NONE;
        return push(j, F_SKIP, 0);
    }
    if (in_capture(j))
        return open_capture(j, PG_V_STRUCT);
    vslot slot = j->next;
    j->next = V_NONE;
    frame *f = top(j);
    if (f == NULL) {
        if (j->seen_doc)
            return fail(j, "more than one document");
        j->seen_doc = true;
        return push(j, F_DOC, 0);
    }
    switch (slot) {
    case V_META: return push(j, F_META, 0);
    case V_WEIGHTS: return push(j, F_WEIGHTS, 0);
    case V_CALLGRAPH: return push(j, F_NODE, PG_ROOT);
    case V_WEIGHT: return fail(j, "sampleWeights values must be numbers");
    case V_CHILD: return push(j, F_NODE, j->pending_child);
    case V_COUNTS: return push(j, F_COUNTS, f->node);
    case V_CHILDREN: return push(j, F_CHILDREN, f->node);
    default:
        return fail(j, "unexpected object");
    }
}

static int on_key(void *ctx, const unsigned char *k, size_t len)
{
    pg_pjson *j = ctx;
    frame *f = top(j);
    const char *key = (const char *)k;
    if (len > j->max_string)
        return fail(j, "key too long");
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(key, lit, len) == 0)
    switch (f->type) {
    case F_SKIP:
        return 1;
    case F_CAPTURE: {
        if (!charge(j, len + 1 + 2 * sizeof(pg_value))) /* the key, and the member's room (grown doubling) */
            return 0;
        pg_value *m = pg_value_set(f->value, key, len);
        if (m == NULL)
            return fail(j, "out of memory");
        j->capture_slot = m;
        j->next = V_CAPTURE;
        return 1;
    }
    case F_DOC:
        if (IS("start")) j->next = V_START;
        else if (IS("end")) j->next = V_END;
        else if (IS("agentMetadata")) j->next = V_META;
        else if (IS("callgraph")) j->next = V_CALLGRAPH;
        else {
            if (!charge(j, len + 1 + 2 * sizeof(pg_value)))
                return 0;
            if (j->p->top_extra == NULL && (j->p->top_extra = pg_value_struct_new()) == NULL)
                return fail(j, "out of memory");
            if ((j->capture_slot = pg_value_set(j->p->top_extra, key, len)) == NULL)
                return fail(j, "out of memory");
            j->next = V_CAPTURE;
        }
        return 1;
    case F_META:
        if (IS("sampleWeights")) j->next = V_WEIGHTS;
        else if (IS("durationInMs")) j->next = V_DURATION;
        else if (IS("numTimesSampled")) j->next = V_SAMPLES;
        else if (IS("cpuTimeInSeconds")) j->next = V_CPU;
        else {
            if (!charge(j, len + 1 + 2 * sizeof(pg_value)))
                return 0;
            if (j->p->meta_extra == NULL && (j->p->meta_extra = pg_value_struct_new()) == NULL)
                return fail(j, "out of memory");
            if ((j->capture_slot = pg_value_set(j->p->meta_extra, key, len)) == NULL)
                return fail(j, "out of memory");
            j->next = V_CAPTURE;
        }
        return 1;
    case F_WEIGHTS:
    case F_COUNTS:
        if (len >= sizeof j->key)
            return fail(j, "counter name too long");
        memcpy(j->key, key, len);
        j->key_len = len;
        j->next = f->type == F_WEIGHTS ? V_WEIGHT : V_COUNT;
        return 1;
    case F_NODE:
        if (IS("counts")) j->next = V_COUNTS;
        else if (IS("children")) j->next = V_CHILDREN;
        else if (IS("file")) j->next = V_FILE;
        else if (IS("line")) j->next = V_LINE;
        else j->next = V_SKIP;
        return 1;
    case F_CHILDREN: {
        uint32_t c = pg_profile_child(j->p, f->node, key, len);
        if (c == PG_NODE_NONE)
            return fail(j, "profile too large (nodes, depth or strings)");
        j->pending_child = c;
        j->next = V_CHILD;
        return 1;
    }
    case F_LINE:
        return fail(j, "unexpected key");
    }
#undef IS
    return fail(j, "unexpected key");
}

static int on_end_map(void *ctx)
{
    pg_pjson *j = ctx;
    j->depth--;
    return 1;
}

static int on_start_array(void *ctx)
{
    pg_pjson *j = ctx;
    if (in_skip(j)) {
        j->next = V_NONE;
        return push(j, F_SKIP, 0);
    }
    if (in_capture(j))
        return open_capture(j, PG_V_LIST);
    if (j->next == V_LINE) {
        j->next = V_NONE;
        return push(j, F_LINE, top(j)->node);
    }
    return fail(j, "unexpected list");
}

static int on_end_array(void *ctx)
{
    pg_pjson *j = ctx;
    frame *f = top(j);
    if (f->type == F_LINE && f->nline > 0) {
        int64_t lo = f->line[0], hi = f->nline == 2 ? f->line[1] : f->line[0];
        if (lo > hi) {
            int64_t t = lo;
            lo = hi;
            hi = t;
        }
        int rc = pg_profile_add_line(j->p, f->node, lo, hi);
        if (rc != PG_OK)
            return fail(j, rc == PG_ENOMEM ? "out of memory" : "profile exceeds its line ranges' limit");
    }
    j->depth--;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

pg_pjson *pg_pjson_new(pg_profile *p, size_t max_string)
{
    pg_pjson *j = calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    j->p = p;
    j->max_string = max_string;
    j->y = yajl_alloc(&callbacks, NULL, j);
    if (j->y == NULL) {
        free(j);
        return NULL;
    }
    return j;
}

void pg_pjson_free(pg_pjson *j)
{
    if (j == NULL)
        return;
    yajl_free(j->y);
    free(j);
}

static int status(pg_pjson *j, yajl_status st, const unsigned char *data, size_t len)
{
    if (st == yajl_status_ok)
        return PG_OK;
    if (j->err[0] == '\0') {
        unsigned char *msg = yajl_get_error(j->y, 0, data, len);
        snprintf(j->err, sizeof j->err, "malformed JSON: %s", msg ? (const char *)msg : "?");
        char *nl = strchr(j->err, '\n');
        if (nl)
            *nl = '\0';
        if (msg)
            yajl_free_error(j->y, msg);
        return PG_EINVAL;
    }
    return strstr(j->err, "too") ? PG_ELIMIT : PG_EINVAL;
}

int pg_pjson_feed(pg_pjson *j, const void *data, size_t len)
{
    return status(j, yajl_parse(j->y, data, len), data, len);
}

int pg_pjson_finish(pg_pjson *j)
{
    int rc = status(j, yajl_complete_parse(j->y), NULL, 0);
    if (rc == PG_OK && !j->seen_doc) {
        snprintf(j->err, sizeof j->err, "empty document");
        return PG_EINVAL;
    }
    return rc;
}

const char *pg_pjson_error(const pg_pjson *j)
{
    return j->err[0] ? j->err : "no error";
}

int pg_profile_from_json(pg_profile *p, const void *data, size_t len, char *why, size_t whylen)
{
    pg_pjson *j = pg_pjson_new(p, 64 * 1024);
    if (j == NULL)
        return PG_ENOMEM;
    int rc = pg_pjson_feed(j, data, len);
    if (rc == PG_OK)
        rc = pg_pjson_finish(j);
    if (rc != PG_OK && why)
        snprintf(why, whylen, "%s", pg_pjson_error(j));
    pg_pjson_free(j);
    return rc;
}
