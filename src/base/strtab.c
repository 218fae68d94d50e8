/*
 * strtab.c: interning with pg_hash_mem and linear probing; the table doubles at 50% load.
 * String bytes live in one growing block, so ids stay valid while the table grows.
 */
#include "profgate/strtab.h"

#include <stdlib.h>
#include <string.h>

static uint32_t hash(const char *s, size_t len)
{
    return (uint32_t)pg_hash_mem(s, len);
}

void pg_strtab_init(pg_strtab *t, size_t bytes_limit, uint32_t count_limit)
{
    memset(t, 0, sizeof *t);
    t->bytes_limit = bytes_limit;
    t->count_limit = count_limit;
}

void pg_strtab_free(pg_strtab *t)
{
    free(t->bytes);
    free(t->off);
    free(t->len);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* The id of s, whose hash is h, through the index (which must exist). */
static uint32_t find_hashed(const pg_strtab *t, const char *s, size_t len, uint32_t h)
{
    uint32_t mask = t->nslots - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t v = t->slots[i];
        if (v == 0)
            return PG_STR_NONE;
        uint32_t id = v - 1;
        if (t->len[id] == len && memcmp(t->bytes + t->off[id], s, len) == 0)
            return id;
    }
}

uint32_t pg_strtab_find(const pg_strtab *t, const char *s, size_t len)
{
    if (t->nslots == 0) {
        /* No index (dropped by pg_strtab_shrink): such a table is read by id, and looked up by
         * name only now and then (a counter asked for by name). */
        for (uint32_t id = 0; id < t->n; id++)
            if (t->len[id] == len && memcmp(t->bytes + t->off[id], s, len) == 0)
                return id;
        return PG_STR_NONE;
    }
    return find_hashed(t, s, len, hash(s, len));
}

/* An index with room for want strings at 50% load, at least twice the current one. */
static bool grow_slots(pg_strtab *t, uint32_t want)
{
    /* Sized from the strings at least: the index may have been dropped (pg_strtab_shrink). */
    if (want > UINT32_MAX / 4)
        return false;
    uint32_t n = t->nslots ? t->nslots * 2 : 64;
    while (n < want * 2)
        n *= 2;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL)
        return false;
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t i = hash(t->bytes + t->off[id], t->len[id]) & (n - 1);
        while (slots[i] != 0)
            i = (i + 1) & (n - 1);
        slots[i] = id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    t->nindexed = t->n;
    return true;
}

/* Room for cap strings (the id arrays). */
static bool grow_ids(pg_strtab *t, uint32_t cap)
{
    uint32_t *off = realloc(t->off, cap * sizeof *off);
    if (off == NULL)
        return false;
    t->off = off;
    uint32_t *ln = realloc(t->len, cap * sizeof *ln);
    if (ln == NULL)
        return false;
    t->len = ln;
    t->cap = cap;
    return true;
}

/* Room for cap bytes of strings. */
static bool grow_bytes(pg_strtab *t, size_t cap)
{
    char *b = realloc(t->bytes, cap);
    if (b == NULL)
        return false;
    t->bytes = b;
    t->bytes_cap = cap;
    return true;
}

int pg_strtab_reserve(pg_strtab *t, uint32_t n, size_t bytes, uint32_t indexed)
{
    n = PG_MIN(n, t->count_limit);
    indexed = PG_MIN(indexed, n);
    bytes = PG_MIN(bytes, t->bytes_limit);
    if (n > t->cap && !grow_ids(t, n))
        return PG_ENOMEM;
    if (bytes > t->bytes_cap && !grow_bytes(t, bytes))
        return PG_ENOMEM;
    /* The index holds every string when it is rebuilt, the appended ones too. */
    if (indexed > 0 && (uint64_t)(t->nindexed + indexed) * 2 > t->nslots && !grow_slots(t, t->n + indexed))
        return PG_ENOMEM;
    return PG_OK;
}

/* Stores s as string n (room and limits checked); its id, or PG_STR_NONE. */
static uint32_t store(pg_strtab *t, const char *s, size_t len)
{
    if (t->n >= t->count_limit || len > t->bytes_limit - t->bytes_len || len > UINT32_MAX)
        return PG_STR_NONE;
    if (t->n == t->cap && !grow_ids(t, t->cap ? t->cap * 2 : 64))
        return PG_STR_NONE;
    if (t->bytes == NULL || t->bytes_len + len > t->bytes_cap) {
        size_t cap = t->bytes_cap ? t->bytes_cap * 2 : 1024;
        while (cap < t->bytes_len + len)
            cap *= 2;
        if (!grow_bytes(t, cap))
            return PG_STR_NONE;
    }
    memcpy(t->bytes + t->bytes_len, s, len);
    uint32_t id = t->n++;
    t->off[id] = (uint32_t)t->bytes_len;
    t->len[id] = (uint32_t)len;
    t->bytes_len += len;
    return id;
}

uint32_t pg_strtab_append(pg_strtab *t, const char *s, size_t len)
{
    return store(t, s, len);
}

uint32_t pg_strtab_intern(pg_strtab *t, const char *s, size_t len)
{
    /* A table that is interned into again (a copy of a cached bucket that a merge builds on)
     * gets its index back first: a scan per name would make that merge quadratic. */
    if (t->nslots == 0 && t->n > 0 && !grow_slots(t, t->n + 1))
        return PG_STR_NONE;
    /* Hashed once, for the lookup and the insertion (half of interning's time was hashing). */
    uint32_t h = hash(s, len);
    uint32_t id = t->nslots > 0 ? find_hashed(t, s, len, h) : PG_STR_NONE;
    if (id != PG_STR_NONE)
        return id;
    if (t->n >= t->count_limit || len > t->bytes_limit - t->bytes_len || len > UINT32_MAX)
        return PG_STR_NONE;
    /* The load counts indexed strings: a table mostly appended to (an Ion writer's symbols) is
     * not rehashed for the few names interned among them. A rebuilt index holds them all. */
    if ((t->nindexed + 1) * 2 > t->nslots && !grow_slots(t, t->n + 1))
        return PG_STR_NONE;
    if ((id = store(t, s, len)) == PG_STR_NONE)
        return PG_STR_NONE;
    uint32_t mask = t->nslots - 1;
    uint32_t i = h & mask;
    while (t->slots[i] != 0)
        i = (i + 1) & mask;
    t->slots[i] = id + 1;
    t->nindexed++;
    return id;
}

int pg_strtab_shrink(pg_strtab *t, bool keep_index)
{
    if (!keep_index) {
        free(t->slots);
        t->slots = NULL;
        t->nslots = t->nindexed = 0;
    }
    if (t->n == 0)
        return PG_OK;
    /* Shrinking reallocs cannot fail in practice; if one does, the table keeps its larger
     * block, which is still consistent. */
    char *b = realloc(t->bytes, t->bytes_len ? t->bytes_len : 1);
    uint32_t *off = b ? realloc(t->off, t->n * sizeof *off) : NULL;
    if (b != NULL)
        t->bytes = b, t->bytes_cap = t->bytes_len ? t->bytes_len : 1;
    if (off == NULL)
        return PG_ENOMEM;
    t->off = off;
    uint32_t *ln = realloc(t->len, t->n * sizeof *ln);
    if (ln == NULL)
        return PG_ENOMEM;
    t->len = ln;
    t->cap = t->n;
    return PG_OK;
}

int pg_strtab_cmp(const pg_strtab *t, uint32_t a, uint32_t b)
{
    size_t la, lb;
    const char *sa = pg_strtab_get(t, a, &la), *sb = pg_strtab_get(t, b, &lb);
    int c = memcmp(sa, sb, PG_MIN(la, lb));
    return c != 0 ? c : (la < lb ? -1 : la > lb);
}

int pg_strtab_copy(pg_strtab *dst, const pg_strtab *src)
{
    *dst = *src;
    bool ok = pg_memdup((void **)&dst->bytes, src->bytes, src->bytes_cap);
    ok = pg_memdup((void **)&dst->off, src->off, (size_t)src->cap * sizeof *src->off) && ok;
    ok = pg_memdup((void **)&dst->len, src->len, (size_t)src->cap * sizeof *src->len) && ok;
    ok = pg_memdup((void **)&dst->slots, src->slots, (size_t)src->nslots * sizeof *src->slots) && ok;
    if (!ok) {
        pg_strtab_free(dst);
        return PG_ENOMEM;
    }
    return PG_OK;
}
