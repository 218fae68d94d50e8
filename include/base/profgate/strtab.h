/*
 * strtab.h: string interning. Each distinct byte string gets a small dense id, so profile nodes
 * hold 4-byte ids instead of names and equal names compare as equal ids. Bounded: the total
 * bytes and the number of strings are limits given at creation.
 */
#ifndef PG_STRTAB_H
#define PG_STRTAB_H

#include "profgate/common.h"

#define PG_STR_NONE UINT32_MAX

typedef struct pg_strtab {
    char *bytes;
    size_t bytes_len, bytes_cap, bytes_limit;
    uint32_t *off;   /* start of string i in bytes */
    uint32_t *len;   /* length of string i */
    uint32_t n, cap, count_limit;
    uint32_t *slots; /* open addressing: id + 1, 0 = empty */
    uint32_t nslots;
    uint32_t nindexed; /* strings in the index (appended ones are not, until it is rebuilt) */
} pg_strtab;

void pg_strtab_init(pg_strtab *t, size_t bytes_limit, uint32_t count_limit);
void pg_strtab_free(pg_strtab *t);
/** Returns the id of s (adding it when new), or PG_STR_NONE past a limit or out of memory. */
uint32_t pg_strtab_intern(pg_strtab *t, const char *s, size_t len);
/** Adds s as a string of its own, even if the table has it already, and without indexing it:
 *  for a list that may repeat a string, such as an Ion symbol table made from names another
 *  table already holds once each (hashing them again was a quarter of the Ion writer's pass 1).
 *  pg_strtab_find and pg_strtab_intern see it only once the index is rebuilt (as it grows).
 *  Returns its id, or PG_STR_NONE past a limit or out of memory. */
uint32_t pg_strtab_append(pg_strtab *t, const char *s, size_t len);
/** Makes room for n strings of bytes bytes in all (each capped at the table's limits), indexed
 *  may of them interned and the rest appended, so that adding up to that many grows nothing: for
 *  a table whose size is known ahead, such as an Ion writer's symbols. On PG_ENOMEM the table is
 *  usable as it is (with part of the room, or none). */
int pg_strtab_reserve(pg_strtab *t, uint32_t n, size_t bytes, uint32_t indexed);
/** Looks s up without adding; PG_STR_NONE when absent. */
uint32_t pg_strtab_find(const pg_strtab *t, const char *s, size_t len);
/** String id's bytes and length. Inline: writers ask it for every name they put. */
static inline const char *pg_strtab_get(const pg_strtab *t, uint32_t id, size_t *len)
{
    PG_ASSERT(id < t->n);
    *len = t->len[id];
    return t->bytes + t->off[id];
}
/** Makes dst (uninitialized) an independent copy of src, limits included. PG_ENOMEM on failure. */
int pg_strtab_copy(pg_strtab *dst, const pg_strtab *src);
/** Gives back the room kept for growth (the table stays usable): for tables that no longer
 *  grow, such as a cached profile's. Unless keep_index, the hash index goes too: lookups by name
 *  then scan (pg_strtab_find), and the index is rebuilt when the table is interned into again. PG_ENOMEM
 *  leaves the table usable. */
int pg_strtab_shrink(pg_strtab *t, bool keep_index);
/** Bytes of memory the table holds (its room for growth and its index included). */
static inline size_t pg_strtab_memory(const pg_strtab *t)
{
    return t->bytes_cap + (size_t)t->cap * (sizeof *t->off + sizeof *t->len) + (size_t)t->nslots * sizeof *t->slots;
}
/** Byte-wise comparison of two interned strings (shorter prefix first). */
int pg_strtab_cmp(const pg_strtab *t, uint32_t a, uint32_t b);

#endif
