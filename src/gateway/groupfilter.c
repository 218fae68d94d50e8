/*
 * groupfilter.c: a list answer as one tenant sees it (see groupfilter.h). The upstream's JSON is
 * read with yajl's tree parser (bounded by the upstream's response limit) and written back with
 * yajl's generator, leaving out the items of the top-level lists whose group the predicate refuses.
 */
#include "profgate/groupfilter.h"
#include "profgate/jsonw.h"

#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

/* Deeper nesting than any answer of the service has: refused before yajl's tree parser (and the
 * recursion below) would follow it. */
#define DEPTH_MAX 32

typedef struct pf {
    bool (*may)(void *ctx, const char *group);
    void *ctx;
} pf;

/* The group a list item names: a string (a name), or an object's "name" or "profilingGroupName". */
static const char *item_group(yajl_val v)
{
    if (YAJL_IS_STRING(v))
        return YAJL_GET_STRING(v);
    static const char *const keys[] = {"name", "profilingGroupName"};
    for (size_t i = 0; i < 2; i++) {
        const char *path[] = {keys[i], NULL};
        yajl_val s = yajl_tree_get(v, path, yajl_t_string);
        if (s != NULL)
            return YAJL_GET_STRING(s);
    }
    return NULL;
}

static yajl_gen_status gen_value(yajl_gen g, yajl_val v, const pf *t, bool top);

/* The tenant's items of a list: those whose group it may read. */
static yajl_gen_status gen_list(yajl_gen g, yajl_val v, const pf *t)
{
    yajl_gen_status st = yajl_gen_array_open(g);
    for (size_t i = 0; st == yajl_gen_status_ok && i < YAJL_GET_ARRAY(v)->len; i++) {
        yajl_val item = YAJL_GET_ARRAY(v)->values[i];
        const char *group = item_group(item);
        if (group == NULL || !t->may(t->ctx, group)) /* an item naming no group is not shown either */
            continue;
        st = gen_value(g, item, t, false);
    }
    return st == yajl_gen_status_ok ? yajl_gen_array_close(g) : st;
}

static yajl_gen_status gen_value(yajl_gen g, yajl_val v, const pf *t, bool top)
{
    yajl_gen_status st = yajl_gen_status_ok;
    switch (v->type) {
    case yajl_t_string: return yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string));
    case yajl_t_number: return yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
    case yajl_t_true: return yajl_gen_bool(g, 1);
    case yajl_t_false: return yajl_gen_bool(g, 0);
    case yajl_t_null: return yajl_gen_null(g);
    case yajl_t_array:
        st = yajl_gen_array_open(g);
        for (size_t i = 0; st == yajl_gen_status_ok && i < v->u.array.len; i++)
            st = gen_value(g, v->u.array.values[i], t, false);
        return st == yajl_gen_status_ok ? yajl_gen_array_close(g) : st;
    case yajl_t_object:
        st = yajl_gen_map_open(g);
        for (size_t i = 0; st == yajl_gen_status_ok && i < v->u.object.len; i++) {
            const char *k = v->u.object.keys[i];
            yajl_val x = v->u.object.values[i];
            st = yajl_gen_string(g, (const unsigned char *)k, strlen(k));
            /* The top-level lists of groups and of reports are what a tenant sees filtered. */
            bool filtered = top && YAJL_IS_ARRAY(x) &&
                            (!strcmp(k, "profilingGroupNames") || !strcmp(k, "profilingGroups") ||
                             !strcmp(k, "reportSummaries"));
            if (st == yajl_gen_status_ok)
                st = filtered ? gen_list(g, x, t) : gen_value(g, x, t, false);
        }
        return st == yajl_gen_status_ok ? yajl_gen_map_close(g) : st;
    default: return yajl_gen_generation_complete;
    }
}

int pg_group_filter(const char *body, size_t len, bool (*may)(void *ctx, const char *group), void *ctx, pg_buf *out)
{
    const pf f = {may, ctx}, *t = &f;
    if (pg_json_depth(body, len) > DEPTH_MAX)
        return PG_EINVAL;
    char *text = malloc(len + 1);
    if (text == NULL)
        return PG_ENOMEM;
    memcpy(text, body, len);
    text[len] = '\0';
    yajl_val root = yajl_tree_parse(text, NULL, 0);
    free(text);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return PG_EINVAL;
    }
    yajl_gen g = yajl_gen_alloc(NULL);
    int rc = g == NULL ? PG_ENOMEM : PG_OK;
    if (rc == PG_OK && gen_value(g, root, t, true) != yajl_gen_status_ok)
        rc = PG_EINVAL;
    const unsigned char *buf;
    size_t blen;
    if (rc == PG_OK && yajl_gen_get_buf(g, &buf, &blen) == yajl_gen_status_ok)
        rc = pg_buf_append(out, buf, blen);
    if (g != NULL)
        yajl_gen_free(g);
    yajl_tree_free(root);
    return rc;
}
