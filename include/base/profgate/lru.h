/*
 * lru.h: a byte-bounded least-recently-used map from byte-string keys to reference-counted
 * values. An entry evicted while someone still holds a reference is unlinked at once (it no
 * longer counts against the budget nor can be found) and freed when the last reference goes.
 * Single-threaded; pure (no clock, no I/O).
 */
#ifndef PG_LRU_H
#define PG_LRU_H

#include "profgate/common.h"

typedef void (*pg_lru_free_fn)(void *value);

typedef struct pg_lru_entry pg_lru_entry;
typedef struct pg_lru pg_lru;

/** A cache that keeps at most max_bytes of (value size + key + overhead). */
pg_lru *pg_lru_new(size_t max_bytes, pg_lru_free_fn free_value);
/** Frees the cache and every entry; no reference from pg_lru_get may be outstanding. */
void pg_lru_free(pg_lru *l);

/**
 * Inserts (or replaces) key -> value of the given size, evicting from the cold end to fit.
 * The cache takes ownership of value. Returns PG_ELIMIT (and frees value) when it alone is
 * larger than the budget, PG_ENOMEM on allocation failure.
 */
int pg_lru_put(pg_lru *l, const void *key, size_t klen, void *value, size_t size);

/** Looks key up, marks it recently used and returns a new reference (or NULL). */
pg_lru_entry *pg_lru_get(pg_lru *l, const void *key, size_t klen);
void *pg_lru_value(const pg_lru_entry *e);
size_t pg_lru_size(const pg_lru_entry *e);
/** Drops a reference from pg_lru_get. */
void pg_lru_release(pg_lru *l, pg_lru_entry *e);
/** The same, for callbacks that get only a void pointer (e.g. a shared response body's release). */
void pg_lru_release_entry(void *entry);

/** Removes key if present. */
void pg_lru_remove(pg_lru *l, const void *key, size_t klen);

/** Changes the size limit, evicting least recently used entries down to it (0: holds nothing). */
void pg_lru_set_capacity(pg_lru *l, size_t max_bytes);
size_t pg_lru_capacity(const pg_lru *l);

/** Calls fn for every entry, most recently used first. fn must not change the cache. */
void pg_lru_foreach(const pg_lru *l, void (*fn)(const void *key, size_t klen, void *value, void *ctx), void *ctx);

typedef struct pg_lru_stats {
    size_t bytes, entries;
    uint64_t hits, misses, evictions;
} pg_lru_stats;
void pg_lru_get_stats(const pg_lru *l, pg_lru_stats *out);

#endif
