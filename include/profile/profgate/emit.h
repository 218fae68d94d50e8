/*
 * emit.h: structured-output writers behind one interface, so a producer (a profile, a stats
 * document) walks its data once and the same walk yields JSON or binary Amazon Ion. The JSON
 * writer emits compact text; the Ion writer emits a binary stream with a local symbol table
 * (Ion 1.0, CONTRACT §8). Both write into a bounded pg_buf.
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
    /* Ion pass 1: where each open container starts and which length slot it fills. */
    size_t open_at[PG_EMIT_DEPTH_MAX];
    size_t open_idx[PG_EMIT_DEPTH_MAX];
    size_t pos;
    /* Ion: every container's length in opening order (pass 1 fills, pass 2 reads); symbols. */
    uint32_t *lens;
    size_t nlens, lens_cap, lens_next;
    pg_strtab *symbols;
    /* Ion pass 1 over a symbol table made earlier and shared: names are looked up, never added;
     * a name not there fails the pass (PG_ELIMIT) with symbols_missed set. */
    bool symbols_frozen, symbols_missed;
};

/** A JSON writer into out. */
void pg_emit_json(pg_emit *e, pg_buf *out);
/** JSON only: a member's name already escaped and quoted ("\"name\""), for a writer that writes
 *  the same names many times and escapes each once. */
int pg_emit_json_field_text(pg_emit *e, const char *quoted, size_t len);
/** Ion only (either pass): a field name whose symbol *sym caches across calls and both passes
 *  (PG_STR_NONE the first time), so a name written at every node is looked up once. */
int pg_emit_ion_field_cached(pg_emit *e, const char *name, size_t len, uint32_t *sym);
/** Ion only, for a writer that puts a value's bytes itself: the symbol id (local base added) of a
 *  field name, cached in *sym like pg_emit_ion_field_cached (interned in pass 1); PG_STR_NONE past
 *  the symbols' limit. */
uint32_t pg_emit_ion_symbol(pg_emit *e, const char *name, size_t len, uint32_t *sym);
/** Ion only: like pg_emit_ion_symbol, but pass 1 adds the name as a symbol of its own without
 *  looking for it among the symbols (pg_strtab_append), for names that another table already
 *  holds once each (a profile's): an Ion symbol table may list a text twice. In a frozen table
 *  only a cached symbol is found (else symbols_missed). */
uint32_t pg_emit_ion_symbol_own(pg_emit *e, const char *name, size_t len, uint32_t *sym);
/** Ion only (either pass): a field name by its symbol id (local base added; PG_STR_NONE gives
 *  PG_ELIMIT), as pg_emit_ion_symbol or pg_emit_ion_symbol_own returned it. */
int pg_emit_ion_field_sid(pg_emit *e, uint32_t sid);
/** Ion pass 1: a value of bytes the caller will write itself in pass 2 (no container of it is
 *  recorded). */
void pg_emit_ion_value_measured(pg_emit *e, size_t bytes);

/**
 * Binary Ion in two walks of the same data: pass 1 (pg_emit_ion_measure) writes nothing, collects
 * field names into symbols and records container lengths; pass 2 (pg_emit_ion_begin) writes the
 * version marker and the local symbol table, then the value as the walk goes, never moving bytes
 * already written (so they can be sent). The emitter must start zeroed (or be reused only after
 * pg_emit_free); symbols must live until pass 2 ends.
 */
void pg_emit_ion_measure(pg_emit *e, pg_strtab *symbols);
int pg_emit_ion_begin(pg_emit *e, pg_buf *out);
/** True once the value is complete (for Ion: every measured container written). */
bool pg_emit_done(const pg_emit *e);
/** Frees what the Ion passes allocated. */
void pg_emit_free(pg_emit *e);

/** JSON only: the separator a value needs here, for a writer that then appends the value's text
 *  to the output itself (the profile writer's call tree). */
int pg_emit_json_value_raw(pg_emit *e);

/** A number is written as an integer when it is integral and exactly representable. Inline:
 *  writers ask it of every count. */
static inline bool pg_num_is_int(double v)
{
    /* Within +-2^53 (NaN fails both comparisons), an integer converts to int64 and back unchanged. */
    return v >= -9007199254740992.0 && v <= 9007199254740992.0 && (double)(int64_t)v == v;
}
/** A number as JSON writes it (an integer when pg_num_is_int, else %.17g; null when not finite). */
int pg_emit_number_text(pg_buf *out, double v);
/** An integer as JSON text, without printf (writers that put many numbers: speedscope's stacks). */
int pg_emit_int_text(pg_buf *out, int64_t v);
/** The most bytes a number's text takes ("-1.2345678901234567e-308" is 24, an int64 20). */
#define PG_EMIT_NUMBER_MAX 32
/** The same texts written at o, which has PG_EMIT_NUMBER_MAX bytes of room; the end. */
char *pg_emit_i64_chars(char *o, int64_t v);
char *pg_emit_number_chars(char *o, double v);

#endif
