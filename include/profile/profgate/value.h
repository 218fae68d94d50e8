/*
 * value.h: a small generic value tree (null, bool, number, string, list, struct) for the parts of
 * a profile profgate carries without interpreting: unknown top-level fields and descriptive
 * agentMetadata objects (fleetInfo, agentInfo, ...). It can be written through any pg_emit.
 */
#ifndef PG_VALUE_H
#define PG_VALUE_H

#include "profgate/emit.h"

typedef enum { PG_V_NULL, PG_V_BOOL, PG_V_NUM, PG_V_STR, PG_V_LIST, PG_V_STRUCT } pg_value_kind;

/* How deep a value may nest: what the JSON parser keeps, the cache codec reads back. */
#define PG_VALUE_DEPTH_MAX 64

typedef struct pg_value pg_value;
struct pg_value {
    pg_value_kind kind;
    bool b;
    double num;
    char *str; /* PG_V_STR: the string; in a struct member: also the key */
    size_t str_len;
    char *key; /* the member name when inside a struct */
    size_t key_len;
    pg_value *items; /* PG_V_LIST / PG_V_STRUCT */
    size_t n, cap;
};

/** A new empty struct; NULL when out of memory. */
pg_value *pg_value_struct_new(void);
void pg_value_free(pg_value *v);
/** Adds (or replaces) a member; returns the member to fill, or NULL when out of memory. */
pg_value *pg_value_set(pg_value *s, const char *key, size_t key_len);
int pg_value_set_str(pg_value *s, const char *key, const char *str);
int pg_value_set_num(pg_value *s, const char *key, double num);
/** Finds a member; NULL when absent. */
const pg_value *pg_value_get(const pg_value *s, const char *key, size_t key_len);
/** Deep copy; NULL when out of memory. */
pg_value *pg_value_clone(const pg_value *v);
/** Writes the value; struct members in key order, so output is deterministic. */
int pg_value_emit(const pg_value *v, pg_emit *e);
/** Writes a struct's members (field, value) in key order without the enclosing braces, for
 * callers that add members of their own to the same struct. */
int pg_value_emit_members(const pg_value *s, pg_emit *e);
/** Bytes of memory the value holds (itself not included: its items, keys and strings). */
size_t pg_value_memory(const pg_value *v);
/** Structural equality. */
bool pg_value_equal(const pg_value *a, const pg_value *b);

#endif
