/*
 * value.c: the generic value tree. Members are kept in insertion order and sorted only when
 * written, so building is cheap and output is stable.
 */
#include "profgate/value.h"

#include <stdlib.h>
#include <string.h>

static void clear(pg_value *v)
{
    for (size_t i = 0; i < v->n; i++)
        clear(&v->items[i]);
    free(v->items);
    free(v->str);
    free(v->key);
    memset(v, 0, sizeof *v);
}

pg_value *pg_value_struct_new(void)
{
    pg_value *v = calloc(1, sizeof *v);
    if (v)
        v->kind = PG_V_STRUCT;
    return v;
}

void pg_value_free(pg_value *v)
{
    if (v == NULL)
        return;
    clear(v);
    free(v);
}

const pg_value *pg_value_get(const pg_value *s, const char *key, size_t key_len)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].key_len == key_len && memcmp(s->items[i].key, key, key_len) == 0)
            return &s->items[i];
    return NULL;
}

pg_value *pg_value_set(pg_value *s, const char *key, size_t key_len)
{
    PG_ASSERT(s->kind == PG_V_STRUCT);
    pg_value *m = (pg_value *)pg_value_get(s, key, key_len);
    if (m != NULL) {
        char *k = m->key;
        size_t kl = m->key_len;
        m->key = NULL;
        clear(m);
        m->key = k;
        m->key_len = kl;
        return m;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        pg_value *items = realloc(s->items, cap * sizeof *items);
        if (items == NULL)
            return NULL;
        s->items = items;
        s->cap = cap;
    }
    m = &s->items[s->n];
    memset(m, 0, sizeof *m);
    m->key = pg_strndup(key, key_len);
    if (m->key == NULL)
        return NULL;
    m->key_len = key_len;
    s->n++;
    return m;
}

int pg_value_set_str(pg_value *s, const char *key, const char *str)
{
    pg_value *m = pg_value_set(s, key, strlen(key));
    if (m == NULL || (m->str = pg_strndup(str, strlen(str))) == NULL)
        return PG_ENOMEM;
    m->kind = PG_V_STR;
    m->str_len = strlen(str);
    return PG_OK;
}

int pg_value_set_num(pg_value *s, const char *key, double num)
{
    pg_value *m = pg_value_set(s, key, strlen(key));
    if (m == NULL)
        return PG_ENOMEM;
    m->kind = PG_V_NUM;
    m->num = num;
    return PG_OK;
}

static int copy_into(pg_value *dst, const pg_value *src)
{
    dst->kind = src->kind;
    dst->b = src->b;
    dst->num = src->num;
    if (src->str && (dst->str = pg_strndup(src->str, src->str_len)) == NULL)
        return PG_ENOMEM;
    dst->str_len = src->str_len;
    if (src->n) {
        dst->items = calloc(src->n, sizeof *dst->items);
        if (dst->items == NULL)
            return PG_ENOMEM;
        dst->cap = src->n;
        for (size_t i = 0; i < src->n; i++) {
            dst->n++;
            if (src->items[i].key) {
                dst->items[i].key = pg_strndup(src->items[i].key, src->items[i].key_len);
                if (dst->items[i].key == NULL)
                    return PG_ENOMEM;
                dst->items[i].key_len = src->items[i].key_len;
            }
            if (copy_into(&dst->items[i], &src->items[i]) != PG_OK)
                return PG_ENOMEM;
        }
    }
    return PG_OK;
}

pg_value *pg_value_clone(const pg_value *v)
{
    pg_value *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (copy_into(c, v) != PG_OK) {
        pg_value_free(c);
        return NULL;
    }
    return c;
}

static int key_cmp(const void *a, const void *b)
{
    const pg_value *x = *(const pg_value *const *)a, *y = *(const pg_value *const *)b;
    int c = memcmp(x->key, y->key, PG_MIN(x->key_len, y->key_len));
    return c != 0 ? c : (x->key_len < y->key_len ? -1 : x->key_len > y->key_len);
}

int pg_value_emit(const pg_value *v, pg_emit *e)
{
    const pg_emit_ops *o = e->ops;
    switch (v->kind) {
    case PG_V_NULL: return o->null(e);
    case PG_V_BOOL: return o->boolean(e, v->b);
    case PG_V_NUM: return o->num(e, v->num);
    case PG_V_STR: return o->str(e, v->str, v->str_len);
    case PG_V_LIST: {
        int rc = o->begin_list(e);
        for (size_t i = 0; rc == PG_OK && i < v->n; i++)
            rc = pg_value_emit(&v->items[i], e);
        return rc ?: o->end_list(e);
    }
    case PG_V_STRUCT: {
        int rc = o->begin_struct(e);
        rc = rc ?: pg_value_emit_members(v, e);
        return rc ?: o->end_struct(e);
    }
    }
    PG_UNREACHABLE();
}

int pg_value_emit_members(const pg_value *s, pg_emit *e)
{
    PG_ASSERT(s->kind == PG_V_STRUCT);
    const pg_value **sorted = malloc((s->n ? s->n : 1) * sizeof *sorted);
    if (sorted == NULL)
        return PG_ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        sorted[i] = &s->items[i];
    qsort(sorted, s->n, sizeof *sorted, key_cmp);
    int rc = PG_OK;
    for (size_t i = 0; rc == PG_OK && i < s->n; i++) {
        rc = e->ops->field(e, sorted[i]->key, sorted[i]->key_len);
        rc = rc ?: pg_value_emit(sorted[i], e);
    }
    free(sorted);
    return rc;
}

bool pg_value_equal(const pg_value *a, const pg_value *b)
{
    if (a->kind != b->kind || a->n != b->n)
        return false;
    switch (a->kind) {
    case PG_V_NULL: return true;
    case PG_V_BOOL: return a->b == b->b;
    case PG_V_NUM: return a->num == b->num;
    case PG_V_STR: return a->str_len == b->str_len && memcmp(a->str, b->str, a->str_len) == 0;
    case PG_V_LIST:
        for (size_t i = 0; i < a->n; i++)
            if (!pg_value_equal(&a->items[i], &b->items[i]))
                return false;
        return true;
    case PG_V_STRUCT:
        for (size_t i = 0; i < a->n; i++) {
            const pg_value *m = pg_value_get(b, a->items[i].key, a->items[i].key_len);
            if (m == NULL || !pg_value_equal(&a->items[i], m))
                return false;
        }
        return true;
    }
    return false;
}

size_t pg_value_memory(const pg_value *v)
{
    if (v == NULL)
        return 0;
    size_t m = (v->str ? v->str_len + 1 : 0) + (v->key ? v->key_len + 1 : 0) + v->cap * sizeof(pg_value);
    for (size_t i = 0; i < v->n; i++)
        m += pg_value_memory(&v->items[i]); /* depth is bounded by PG_VALUE_DEPTH_MAX */
    return m;
}
