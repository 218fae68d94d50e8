/*
 * lru.c: hash table (separate chaining) plus an intrusive doubly linked recency list. Entry
 * memory is freed only when it is both out of the table and unreferenced.
 */
#include "profgate/lru.h"

#include <stdlib.h>
#include <string.h>

#define OVERHEAD 96 /* bookkeeping charged per entry */

struct pg_lru_entry {
    pg_lru *lru;               /* the cache it belongs to (references never outlive it) */
    pg_lru_entry *prev, *next; /* recency list, most recent at head */
    pg_lru_entry *chain;       /* hash chain */
    uint64_t hash;
    void *value;
    size_t size;
    uint32_t refs;             /* the table's own reference counts as one while linked */
    bool linked;
    size_t klen;
    char key[];
};

struct pg_lru {
    pg_lru_entry **buckets;
    size_t nbuckets;
    pg_lru_entry *head, *tail;
    size_t bytes, max_bytes, entries;
    uint64_t hits, misses, evictions;
    pg_lru_free_fn free_value;
};

static uint64_t hash_key(const void *key, size_t len)
{
    return pg_hash_mem(key, len);
}

pg_lru *pg_lru_new(size_t max_bytes, pg_lru_free_fn free_value)
{
    pg_lru *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->nbuckets = 1024;
    l->buckets = calloc(l->nbuckets, sizeof *l->buckets);
    if (l->buckets == NULL) {
        free(l);
        return NULL;
    }
    l->max_bytes = max_bytes;
    l->free_value = free_value;
    return l;
}

static size_t cost(const pg_lru_entry *e)
{
    return e->size + e->klen + OVERHEAD;
}

static void unref(pg_lru *l, pg_lru_entry *e)
{
    PG_ASSERT(e->refs > 0);
    if (--e->refs == 0) {
        if (l->free_value)
            l->free_value(e->value);
        free(e);
    }
}

static void unlink_entry(pg_lru *l, pg_lru_entry *e)
{
    PG_ASSERT(e->linked);
    pg_lru_entry **pp = &l->buckets[e->hash & (l->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->linked = false;
    l->bytes -= cost(e);
    l->entries--;
    unref(l, e);
}

void pg_lru_free(pg_lru *l)
{
    if (l == NULL)
        return;
    /* A reference outliving the cache would release into freed memory. */
    for (const pg_lru_entry *e = l->head; e; e = e->next)
        PG_ASSERT(e->refs == 1);
    while (l->head)
        unlink_entry(l, l->head);
    free(l->buckets);
    free(l);
}

static pg_lru_entry *find(pg_lru *l, const void *key, size_t klen, uint64_t h)
{
    for (pg_lru_entry *e = l->buckets[h & (l->nbuckets - 1)]; e; e = e->chain)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    return NULL;
}

static void to_front(pg_lru *l, pg_lru_entry *e)
{
    if (l->head == e)
        return;
    e->prev->next = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = NULL;
    e->next = l->head;
    l->head->prev = e;
    l->head = e;
}

static void grow(pg_lru *l)
{
    size_t n = l->nbuckets * 2;
    pg_lru_entry **b = calloc(n, sizeof *b);
    if (b == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < l->nbuckets; i++)
        for (pg_lru_entry *e = l->buckets[i], *next; e; e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(l->buckets);
    l->buckets = b;
    l->nbuckets = n;
}

int pg_lru_put(pg_lru *l, const void *key, size_t klen, void *value, size_t size)
{
    uint64_t h = hash_key(key, klen);
    pg_lru_entry *old = find(l, key, klen, h);
    if (old)
        unlink_entry(l, old);
    if (size + klen + OVERHEAD > l->max_bytes) {
        if (l->free_value)
            l->free_value(value);
        return PG_ELIMIT;
    }
    pg_lru_entry *e = malloc(sizeof *e + klen);
    if (e == NULL) {
        if (l->free_value)
            l->free_value(value);
        return PG_ENOMEM;
    }
    memcpy(e->key, key, klen);
    e->lru = l;
    e->klen = klen;
    e->hash = h;
    e->value = value;
    e->size = size;
    e->refs = 1;
    e->linked = true;
    while (l->tail && l->bytes + cost(e) > l->max_bytes) {
        l->evictions++;
        unlink_entry(l, l->tail);
    }
    if (l->entries + 1 > l->nbuckets)
        grow(l);
    pg_lru_entry **b = &l->buckets[h & (l->nbuckets - 1)];
    e->chain = *b;
    *b = e;
    e->prev = NULL;
    e->next = l->head;
    if (l->head)
        l->head->prev = e;
    l->head = e;
    if (l->tail == NULL)
        l->tail = e;
    l->bytes += cost(e);
    l->entries++;
    return PG_OK;
}

void pg_lru_set_capacity(pg_lru *l, size_t max_bytes)
{
    l->max_bytes = max_bytes;
    while (l->tail && l->bytes > l->max_bytes) {
        l->evictions++;
        unlink_entry(l, l->tail);
    }
}

size_t pg_lru_capacity(const pg_lru *l)
{
    return l->max_bytes;
}

pg_lru_entry *pg_lru_get(pg_lru *l, const void *key, size_t klen)
{
    pg_lru_entry *e = find(l, key, klen, hash_key(key, klen));
    if (e == NULL) {
        l->misses++;
        return NULL;
    }
    l->hits++;
    to_front(l, e);
    e->refs++;
    return e;
}

void *pg_lru_value(const pg_lru_entry *e)
{
    return e->value;
}

size_t pg_lru_size(const pg_lru_entry *e)
{
    return e->size;
}

void pg_lru_release(pg_lru *l, pg_lru_entry *e)
{
    unref(l, e);
}

void pg_lru_release_entry(void *entry)
{
    pg_lru_entry *e = entry;
    unref(e->lru, e);
}

void pg_lru_remove(pg_lru *l, const void *key, size_t klen)
{
    pg_lru_entry *e = find(l, key, klen, hash_key(key, klen));
    if (e)
        unlink_entry(l, e);
}

void pg_lru_get_stats(const pg_lru *l, pg_lru_stats *out)
{
    out->bytes = l->bytes;
    out->entries = l->entries;
    out->hits = l->hits;
    out->misses = l->misses;
    out->evictions = l->evictions;
}

void pg_lru_foreach(const pg_lru *l, void (*fn)(const void *key, size_t klen, void *value, void *ctx), void *ctx)
{
    for (const pg_lru_entry *e = l->head; e; e = e->next)
        fn(e->key, e->klen, e->value, ctx);
}
