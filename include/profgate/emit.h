/*
 * emit.h: structured-output writers behind one interface, so a producer (a profile, a stats
 * document) walks its data once and the same walk yields JSON or binary Amazon Ion. The JSON
 * writer emits compact text; the Ion writer emits a binary stream with a local symbol table
 * (Ion 1.0, reference section 8). Both write into a bounded pg_buf.
 */
#ifndef PG_EMIT_H
#define PG_EMIT_H

#include "profgate/buf.h"
#include "profgate/strtab.h"

#define PG_EMIT_DEPTH_MAX 2100

typedef struct pg_emit pg_emit;

typedef struct pg_emit_ops {
    int (*begin_struct)(pg_emit *e);
    int (*end_struct)(pg_emit *e);
    int (*begin_list)(pg_emit *e);
    int (*end_list)(pg_emit *e);
    int (*field)(pg_emit *e, const char *name, size_t len); /* inside a struct, before each value */
    int (*str)(pg_emit *e, const char *s, size_t len);
    int (*i64)(pg_emit *e, int64_t v);
    int (*num)(pg_emit *e, double v); /* integral values within 2^53 are written as integers */
    int (*boolean)(pg_emit *e, bool v);
    int (*null)(pg_emit *e);
} pg_emit_ops;

struct pg_emit {
    const pg_emit_ops *ops;
    pg_buf *out;
    int depth;
    bool after_field; /* JSON: a field name was just written */
    /* JSON: whether the container at each depth already has a member. */
    bool has_member[PG_EMIT_DEPTH_MAX];
    /* Ion: where each open container's type byte sits; the symbol table in use. */
    size_t open_at[PG_EMIT_DEPTH_MAX];
    pg_strtab *symbols;
};

/** A JSON writer into out. */
void pg_emit_json(pg_emit *e, pg_buf *out);

/**
 * Binary Ion in two passes: pass 1 collects field names (pg_emit_ion_symbols, writes nothing),
 * pass 2 writes the version marker, the local symbol table and the value (pg_emit_ion_begin).
 * The same strtab must be passed to both.
 */
void pg_emit_ion_symbols(pg_emit *e, pg_strtab *symbols);
int pg_emit_ion_begin(pg_emit *e, pg_buf *out, pg_strtab *symbols);

/** A number is written as an integer when it is integral and exactly representable. */
bool pg_num_is_int(double v);

#endif
