/*
 * profile.h: the in-memory profile model (CONTRACT §5): a call tree whose nodes carry
 * interned frame names, self counts per counter name (an open set), an optional file and line
 * range; plus the profile's start/end and agentMetadata. It is built by the simulator's
 * generator (and by the JSON parser and merge of later issues) and written as JSON or Ion through
 * one walker, which applies maxDepth (section 6) at output time.
 * Pure and bounded: every limit is given at creation.
 */
#ifndef PG_PROFILE_H
#define PG_PROFILE_H

#include "profgate/emit.h"
#include "profgate/strtab.h"
#include "profgate/value.h"

#define PG_NODE_NONE UINT32_MAX
#define PG_ROOT 0

typedef struct pg_profile_limits {
    uint32_t max_nodes;
    uint32_t max_depth;        /* the root is depth 0 */
    uint32_t max_strings;
    size_t max_string_bytes;
    uint32_t max_counts;       /* (node, counter) pairs */
    size_t max_value_bytes;    /* memory of the carried metadata values (pg_value_memory) */
} pg_profile_limits;

/** Generous limits for profiles of a few million nodes. */
void pg_profile_limits_default(pg_profile_limits *lim);

/* Packed: 12 bytes instead of 16 (a cached bucket holds one or more per node; x86 and arm64 read
 * the unaligned double at full speed, and the compiler knows it is unaligned). */
typedef struct __attribute__((packed)) pg_count {
    uint32_t counter; /* string id */
    double value;
} pg_count;

/* Where a node's line range is (pg_profile_line reads it). Real line numbers fit 32 bits, and
 * keeping them in the node instead of two int64s made nodes 40 bytes instead of 48 (cached
 * buckets are mostly nodes); a range that does not fit lives in the profile's far_lines. */
enum { PG_LINE_NONE, PG_LINE_NEAR, PG_LINE_FAR };

typedef struct pg_pnode {
    uint32_t name;        /* string id; PG_STR_NONE for the root */
    uint32_t parent;
    uint32_t first_child;
    uint32_t next_sibling;
    uint32_t file;        /* string id or PG_STR_NONE */
    uint32_t counts;      /* first entry in the counts pool */
    int32_t line_lo, line_hi; /* NEAR: the range; FAR: line_lo is its index in far_lines */
    uint16_t ncounts, ccap;
    uint16_t depth;
    uint8_t line_kind;    /* PG_LINE_* */
} pg_pnode;

typedef struct pg_line_range {
    int64_t min, max;
} pg_line_range;

/* The most counters a profile's listing holds; profiles have a handful (RUNNABLE, WALL_TIME, ...). */
#define PG_PROFILE_COUNTERS_MAX 64

typedef struct pg_profile {
    pg_profile_limits lim;
    pg_strtab strs;
    pg_pnode *nodes;
    uint32_t n, cap;
    pg_count *pool;
    uint32_t pool_len, pool_cap, ncounts;
    pg_line_range *far_lines; /* line ranges past 32 bits (PG_LINE_FAR) */
    uint32_t nfar_lines, far_lines_cap;
    uint32_t *slots; /* (parent, name) -> node id + 1 */
    uint32_t nslots;
    /* Nodes numbered in the order writers visit them, each node's children linked in byte order
     * of name and its counts in byte order of counter (set by pg_profile_shrink; adding a node or
     * a counter to a node clears it): writers then sort nothing. */
    bool ordered;
    /* Names the profile's exact content (its node and string ids, counts, files and lines) while
     * none of it changes: pg_profile_shrink sets a number no other profile of this process had,
     * pg_profile_copy copies it, and any change to nodes, counts, files or lines zeroes it (0:
     * none). What a writer learnt of a profile serves every profile of the same origin
     * (pg_ion_layout); the head (start, end, agentMetadata) is not covered. */
    uint64_t origin;
    /* The distinct counters the counts use, kept as counts are added, so that writers can list
     * them without walking the tree (cseen_over: more than fit, list them by walking). */
    uint32_t cseen[PG_PROFILE_COUNTERS_MAX];
    uint32_t ncseen;
    bool cseen_over;
    /* Top level and agentMetadata. */
    bool has_start, has_end;
    int64_t start_ms, end_ms;
    bool has_duration, has_samples, has_cpu, has_weights;
    double duration_ms, num_samples, cpu_s;
    pg_count weights[64];
    uint32_t nweights;
    pg_value *meta_extra; /* other agentMetadata members, or NULL */
    pg_value *top_extra;  /* other top-level members, or NULL */
} pg_profile;

/** An empty profile (just the root). PG_ENOMEM on allocation failure. */
int pg_profile_init(pg_profile *p, const pg_profile_limits *lim);
void pg_profile_free(pg_profile *p);

/** Makes dst (uninitialized) an independent copy of src with limits lim; PG_ELIMIT if src exceeds them. */
int pg_profile_copy(pg_profile *dst, const pg_profile *src, const pg_profile_limits *lim);
/** The child of parent named name, created if absent; PG_NODE_NONE past a limit. */
uint32_t pg_profile_child(pg_profile *p, uint32_t parent, const char *name, size_t len);
/** The same with an already interned name (an id of p->strs). */
uint32_t pg_profile_child_id(pg_profile *p, uint32_t parent, uint32_t name_id);
/** Adds v to node's self count for counter. */
int pg_profile_add_count(pg_profile *p, uint32_t node, const char *counter, size_t len, double v);
/** The same with an already interned counter name (an id of p->strs). */
int pg_profile_add_count_id(pg_profile *p, uint32_t node, uint32_t counter_id, double v);
/** The node's self count for counter (a string id), 0 when it has none. */
double pg_profile_self_count(const pg_profile *p, uint32_t node, uint32_t counter);
/** The distinct counters the nodes' counts use (at most max, first seen first), with each one's
 *  total over the profile when totals is not NULL; their number. */
size_t pg_profile_counters(const pg_profile *p, uint32_t *ids, double *totals, size_t max);
/** The same, in byte order of name (totals kept with their counters): the order in which every
 *  writer lists counters. */
size_t pg_profile_counters_by_name(const pg_profile *p, uint32_t *ids, double *totals, size_t max);

/** The counter named name (len bytes), or with name NULL the counter with the largest total
 *  (ties: the first in byte order). PG_OK with *id, PG_ENOTFOUND when the profile has none. */
int pg_profile_pick_counter(const pg_profile *p, const char *name, size_t len, uint32_t *id);

/**
 * The counts of node's whole subtree (itself included) for n counters: sums[i] for counters[i].
 * What a writer shows for a frame at its maxDepth limit. *stack (capacity *cap) is the caller's
 * scratch space for the walk, grown as needed and kept for the next call. PG_ENOMEM.
 */
int pg_profile_subtree_counts(const pg_profile *p, uint32_t node, const uint32_t *counters, size_t n, double *sums,
                              uint32_t **stack, size_t *cap);
/** For every name (string id) a frame has: the file (string id, else PG_STR_NONE) and the first line
 *  (else 0) of the first node so named that has them, which is what the pprof and speedscope
 *  writers show for the frame. file_of and line_of hold p->strs.n entries each. */
void pg_profile_frame_sources(const pg_profile *p, uint32_t *file_of, int64_t *line_of);
/** Sets the node's file unless it already has one (first non-null wins). */
int pg_profile_set_file(pg_profile *p, uint32_t node, const char *file, size_t len);
/** Widens the node's line range to include [min, max]. PG_ENOMEM or PG_ELIMIT (a range past 32
 *  bits needs room in far_lines, at most one per node). */
int pg_profile_add_line(pg_profile *p, uint32_t node, int64_t min, int64_t max);
/** The node's line range, if it has one. */
static inline bool pg_profile_line(const pg_profile *p, const pg_pnode *nd, int64_t *min, int64_t *max)
{
    if (nd->line_kind == PG_LINE_NEAR) {
        *min = nd->line_lo;
        *max = nd->line_hi;
        return true;
    }
    if (nd->line_kind == PG_LINE_FAR) {
        *min = p->far_lines[nd->line_lo].min;
        *max = p->far_lines[nd->line_lo].max;
        return true;
    }
    return false;
}
/** Sets sampleWeights[counter]. */
int pg_profile_set_weight(pg_profile *p, const char *counter, size_t len, double w);


/**
 * Makes p compact for keeping (a cached bucket or run): arrays at their exact size, nodes
 * renumbered in writing order with their counts side by side (p->ordered), and unless keep_index
 * the (parent, name) index and the string table's index dropped, since a cached bucket is only
 * read (they are rebuilt if the profile grows again). Node ids change. PG_ENOMEM leaves p usable.
 */
int pg_profile_shrink(pg_profile *p, bool keep_index);

/** The nodes in the order writers visit them (depth first from the root, children in byte order
 *  of name) into order (p->n entries). PG_ENOMEM. */
int pg_profile_preorder(const pg_profile *p, uint32_t *order);

/** Approximate bytes of memory the profile holds (for byte-bounded caches). */
size_t pg_profile_memory(const pg_profile *p);

/**
 * A resumable writer of p as JSON or binary Ion; max_depth 0 means unlimited. Children and
 * counters come in byte order of name. p must not change while the writer lives. For Ion, creating
 * the writer numbers the symbols and, without a depth limit, writes the whole call tree into a
 * buffer of its own (Ion puts lengths first: it is written backwards), which the steps copy out;
 * with a depth limit it walks the profile once to measure without output.
 */
typedef struct pg_pwriter pg_pwriter;
int pg_pwriter_new(const pg_profile *p, bool ion, uint32_t max_depth, pg_pwriter **out);
/** Appends to out until out->len reaches budget or the profile is complete (*done). */
int pg_pwriter_step(pg_pwriter *w, pg_buf *out, size_t budget, bool *done);
void pg_pwriter_free(pg_pwriter *w);
/** Bytes of memory the writer holds (an Ion call tree not yet copied out included): for the
 *  gateway's budget of answers in flight. */
size_t pg_pwriter_memory(const pg_pwriter *w);
/** The largest Ion call tree a writer buffers (Ion's lengths are 32-bit here; past it PG_ELIMIT). */
#define PG_PWRITER_TREE_MAX ((size_t)UINT32_MAX + 16)

/**
 * An Ion layout: what an Ion writer numbered (the symbol table) and the writing order, so that
 * the next writer of the same profile, or of an unchanged copy of it, skips that work.
 * Reference counted, not thread-safe (a worker process's caches hold them).
 */
typedef struct pg_ion_layout pg_ion_layout;
#define PG_HAVE_ION_LAYOUT 1 /* for benchmarks built against older trees too (bench/views) */
/** An Ion writer without a depth limit that reuses layout when it was made for a profile of p's
 *  origin (p.origin: the same content; a profile without one never matches) and otherwise makes
 *  its own, as pg_pwriter_new does. reuse may be NULL. */
int pg_pwriter_new_ion(const pg_profile *p, pg_ion_layout *reuse, pg_pwriter **out);
/** The layout an Ion writer without a depth limit uses (borrowed: pg_ion_layout_ref to keep it
 *  past the writer), or NULL (JSON, or a depth limit). */
pg_ion_layout *pg_pwriter_layout(const pg_pwriter *w);
pg_ion_layout *pg_ion_layout_ref(pg_ion_layout *l);
void pg_ion_layout_unref(pg_ion_layout *l);
/** Bytes of memory the layout holds (for byte-bounded caches). */
size_t pg_ion_layout_memory(const pg_ion_layout *l);

/** Encodes the whole profile into out in one go. */
int pg_profile_encode(const pg_profile *p, bool ion, uint32_t max_depth, pg_buf *out);

#endif
