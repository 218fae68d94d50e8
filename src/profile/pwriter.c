/*
 * pwriter.c: the profile's writer, JSON or binary Ion, resumable so that an answer is streamed in
 * pieces while it is produced.
 */
#include "profgate/profile.h"
#include "profgate/ionw.h"
#include "profgate/jsonw.h"

#include <stdlib.h>
#include <string.h>

/*
 * The writer walks the tree depth-first with an explicit stack, so it can stop after any node and
 * resume later: the caller asks for output in steps of a few tens of kilobytes and sends each one
 * while the next is produced. Children are written in byte order of their names; the sorted
 * child lists of the open nodes live in one LIFO arena.
 */

typedef enum { S_TOP, S_TREE, S_TAIL, S_DONE } wstage;

typedef struct wframe {
    uint32_t node, depth;
    size_t kids; /* offset of the sorted children in the arena */
    uint32_t nkids, next;
} wframe;

struct pg_pwriter {
    const pg_profile *p;
    uint32_t max_depth;
    bool ion;
    wstage stage;
    pg_emit e;
    wframe *fr;
    uint32_t nfr, fr_cap;
    uint32_t *arena;
    size_t narena, arena_cap;
    pg_count *acc; /* a node's counts, sorted, or the counts folded at the depth limit */
    uint32_t nacc, acc_cap;
    bool acc_ordered; /* acc holds an ordered profile's node counts, already sorted */
    uint32_t *stack; /* fold_subtree's */
    uint32_t stack_cap;
    /* JSON: each string id as written (quoted, escaped), made the first time it is needed:
     * frame, file and counter names repeat across nodes (a counter's at every node), and escaping
     * them each time was a tenth of the writer's time. fpos[id]: its start in ftext + 1 (0: not
     * made yet), flen[id] its length. */
    uint32_t *fpos, *flen;
    pg_buf ftext;
    /* Counters' places in byte order of name (string id -> rank + 1; 0: not a counter), made
     * once: sorting each node's counts compared names, a fifth of the writer's time. */
    uint8_t *crank;
    /* Ion: the symbols and the written call tree (made by this writer, or shared with an earlier
     * writer of the same profile); ion_direct: the call tree is written in one pass (no depth
     * limit: see "Ion: the call tree in one pass") into the layout, from where the steps copy
     * it out (tsent: bytes of it copied so far); measuring: pass 1 (the head's) is running. */
    pg_ion_layout *L;
    bool ion_direct, measuring;
    size_t tsent;
    uint32_t tblock; /* the block being copied out (they go out last to first), */
    size_t tboff;    /* and how much of it went */
    size_t budget;   /* the current step's */
};

/* Part of a written Ion call tree: its bytes are data[at, cap). */
typedef struct pg_tblock {
    char *data;
    size_t at, cap;
} pg_tblock;

/* A tree block's size: a tree is written backwards into blocks of it (the first sized by a
 * guess when that is smaller), so a tree of any size has at most one block's worth of unused
 * room, at its front, and neither growing a buffer nor trimming a guess moves the whole tree
 * (trimming a 2.6 MB tree, 30,000 nodes per bucket, moved it all: a tenth of writing it). */
#define PG_TREE_BLOCK ((size_t)64 * 1024)

/*
 * An Ion layout: the symbols of one profile and its call tree as written. A kept answer is
 * written again and again unchanged, so the gateway keeps a layout by the profile's origin
 * (pg_profile.origin) and hands it to the next writer of a copy of that profile, which then
 * copies the tree (Ion at memory speed). The head (start, end, agentMetadata) is still written
 * per writer, since start and end change;
 * its names are looked up in the kept symbol table, never added to it (symbols_frozen), and a
 * profile whose head has a name the layout lacks gets a layout of its own. (A reusing writer may
 * still fill an empty slot of sym with what it looked up: the value every writer would find.)
 * Shared by reference count; single-threaded, like the process that holds it.
 */
struct pg_ion_layout {
    uint32_t refs;
    uint64_t origin;    /* the profile's (pg_profile.origin): a later writer's profile must have it */
    uint32_t n, nstrs;
    pg_strtab syms;     /* the local symbol table */
    /* Each string id's field symbol (PG_STR_NONE until first written), and the constant member
     * names' (by M_* slot): looking symbols up by name at every node was a quarter of the Ion
     * writer's time. */
    uint32_t *sym;
    uint32_t csym[4];
    /* Without a depth limit (see "Ion: the call tree in one pass"): the nodes in writing order
     * while the tree is written (NULL when the profile is ordered: its ids are), and the tree's
     * bytes in blocks, the tree's end in blocks[0] and its front in the last (none until
     * written; never changed after): tree_len bytes in blocks of tree_mem bytes in all. */
    uint32_t *iorder;
    pg_tblock *blocks;
    uint32_t nblocks, blocks_cap;
    size_t tree_len, tree_mem;
};

static void tree_free(pg_ion_layout *L)
{
    for (uint32_t i = 0; i < L->nblocks; i++)
        free(L->blocks[i].data);
    free(L->blocks);
    L->blocks = NULL;
    L->nblocks = L->blocks_cap = 0;
    L->tree_len = L->tree_mem = 0;
}

static pg_ion_layout *layout_new(const pg_profile *p)
{
    pg_ion_layout *L = calloc(1, sizeof *L);
    size_t ns = p->strs.n > 0 ? p->strs.n : 1;
    if (L == NULL || (L->sym = malloc(ns * sizeof *L->sym)) == NULL) {
        free(L);
        return NULL;
    }
    L->refs = 1;
    L->n = p->n;
    L->nstrs = p->strs.n;
    L->origin = p->origin;
    for (size_t i = 0; i < ns; i++)
        L->sym[i] = PG_STR_NONE;
    for (size_t i = 0; i < PG_ARRAY_LEN(L->csym); i++)
        L->csym[i] = PG_STR_NONE;
    pg_strtab_init(&L->syms, p->strs.bytes_limit + 4096, p->strs.count_limit + 64);
    /* The symbols are the profile's strings (those the tree uses, appended) and a few names of
     * the head (interned): room for them all at once, so that numbering never grows the table (a
     * fifth of its time at 13,000 symbols). Best effort: without the room the table grows. */
    (void)pg_strtab_reserve(&L->syms, p->strs.n + 64, p->strs.bytes_len + 1024, 64);
    return L;
}

pg_ion_layout *pg_ion_layout_ref(pg_ion_layout *L)
{
    PG_ASSERT(L->refs > 0 && L->refs < UINT32_MAX);
    L->refs++;
    return L;
}

void pg_ion_layout_unref(pg_ion_layout *L)
{
    if (L == NULL)
        return;
    PG_ASSERT(L->refs > 0);
    if (--L->refs > 0)
        return;
    pg_strtab_free(&L->syms);
    free(L->sym);
    free(L->iorder);
    tree_free(L);
    free(L);
}

size_t pg_ion_layout_memory(const pg_ion_layout *L)
{
    size_t m = sizeof *L + pg_strtab_memory(&L->syms) + (size_t)(L->nstrs > 0 ? L->nstrs : 1) * sizeof *L->sym;
    if (L->iorder != NULL)
        m += (size_t)L->n * sizeof *L->iorder;
    return m + L->tree_mem + (size_t)L->blocks_cap * sizeof *L->blocks;
}

/* Whether L was made for p's content: p has the origin L was made for (nothing in it changed
 * since, and its ids are the same). The counts are checked as well, since a wrong layout would
 * write wrong bytes. */
static bool layout_fits(const pg_ion_layout *L, const pg_profile *p)
{
    return L->nblocks > 0 && L->origin != 0 && L->origin == p->origin && L->n == p->n && L->nstrs == p->strs.n;
}

/* Insertion sort: kid lists and count lists are short (qsort's call per comparison was a
 * sixth of the writer's time); long lists still go to qsort_r. */
#define SHORT_SORT 16

static int cmp_name(const void *a, const void *b, void *ctx)
{
    const pg_profile *p = ctx;
    return pg_strtab_cmp(&p->strs, p->nodes[*(const uint32_t *)a].name, p->nodes[*(const uint32_t *)b].name);
}

static int cmp_counter(const void *a, const void *b, void *ctx)
{
    const pg_profile *p = ctx;
    return pg_strtab_cmp(&p->strs, ((const pg_count *)a)->counter, ((const pg_count *)b)->counter);
}

static int field(pg_pwriter *w, const char *name)
{
    return w->e.ops->field(&w->e, name, strlen(name));
}

/* The member names of every node, by their slot in csym (JSON writes them as literals in
 * j_open_node; Ion as symbols, kept per slot). */
enum { M_COUNTS, M_FILE, M_LINE, M_CHILDREN };
static const char *const member_names[4] = {"counts", "file", "line", "children"};

/* Ion (the pg_emit walk): member k's name as a field. */
static int member(pg_pwriter *w, int k)
{
    return pg_emit_ion_field_cached(&w->e, member_names[k], strlen(member_names[k]), &w->L->csym[k]);
}

/* fpos[id] of a string that needs no escaping: written from the profile's string table between
 * quotes, never copied into ftext (most names; ftext's offsets stay below it). */
#define J_PLAIN UINT32_MAX

/* JSON: string id's text, quoted and escaped, made the first time it is needed. */
static int quoted(pg_pwriter *w, uint32_t id, const char **text, size_t *len)
{
    if (w->fpos[id] == 0 || w->fpos[id] == J_PLAIN) {
        size_t n, from = w->ftext.len;
        const char *s = pg_strtab_get(&w->p->strs, id, &n);
        int rc = pg_json_str(&w->ftext, s, n);
        if (rc != PG_OK)
            return rc;
        w->fpos[id] = (uint32_t)from + 1;
        w->flen[id] = (uint32_t)(w->ftext.len - from);
    }
    *text = w->ftext.data + w->fpos[id] - 1;
    *len = w->flen[id];
    return PG_OK;
}

static int field_id(pg_pwriter *w, uint32_t id)
{
    const char *s;
    size_t len;
    if (w->fpos == NULL) { /* Ion: its fields are symbols, each id its own (see i_write_tree) */
        s = pg_strtab_get(&w->p->strs, id, &len);
        return pg_emit_ion_field_sid(&w->e, pg_emit_ion_symbol_own(&w->e, s, len, &w->L->sym[id]));
    }
    return quoted(w, id, &s, &len) ?: pg_emit_json_field_text(&w->e, s, len);
}

/* Ion (the pg_emit walk): a string value by id (a frame's file). */
static int str_id(pg_pwriter *w, uint32_t id)
{
    size_t len;
    const char *s = pg_strtab_get(&w->p->strs, id, &len);
    return w->e.ops->str(&w->e, s, len);
}

/* Whether counter a comes before b in byte order of name: by their ranks when both have one. */
static bool counter_before(const pg_pwriter *w, const pg_strtab *t, uint32_t a, uint32_t b)
{
    if (w->crank != NULL && w->crank[a] != 0 && w->crank[b] != 0)
        return w->crank[a] < w->crank[b];
    return pg_strtab_cmp(t, a, b) < 0;
}

/* The counters' ranks (see crank); none when the profile has more than fit a byte. */
static int rank_counters(pg_pwriter *w)
{
    const pg_profile *p = w->p;
    uint32_t ids[PG_PROFILE_COUNTERS_MAX];
    size_t n = pg_profile_counters_by_name(p, ids, NULL, PG_PROFILE_COUNTERS_MAX);
    if (n == 0)
        return PG_OK;
    w->crank = calloc(p->strs.n, sizeof *w->crank);
    if (w->crank == NULL)
        return PG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        w->crank[ids[i]] = (uint8_t)(i + 1);
    return PG_OK;
}

/* Sorts w->acc[0..nacc) by counter name. */
static void sort_acc(pg_pwriter *w)
{
    const pg_strtab *t = &w->p->strs;
    if (w->acc_ordered)
        return;
    if (w->nacc > SHORT_SORT) {
        qsort_r(w->acc, w->nacc, sizeof *w->acc, cmp_counter, (void *)w->p);
    } else {
        for (uint32_t i = 1; i < w->nacc; i++) {
            pg_count c = w->acc[i];
            uint32_t j = i;
            for (; j > 0 && counter_before(w, t, c.counter, w->acc[j - 1].counter); j--)
                w->acc[j] = w->acc[j - 1];
            w->acc[j] = c;
        }
    }
}

/* Writes {counter: value, ...} from w->acc[0..nacc), sorted by counter name. */
static int emit_counts(pg_pwriter *w)
{
    sort_acc(w);
    int rc = w->e.ops->begin_struct(&w->e);
    for (uint32_t i = 0; rc == PG_OK && i < w->nacc; i++) {
        rc = field_id(w, w->acc[i].counter);
        rc = rc ?: w->e.ops->num(&w->e, w->acc[i].value);
    }
    return rc ?: w->e.ops->end_struct(&w->e);
}

static int acc_add(pg_pwriter *w, const pg_count *c)
{
    for (uint32_t i = 0; i < w->nacc; i++)
        if (w->acc[i].counter == c->counter) {
            w->acc[i].value += c->value;
            return PG_OK;
        }
    size_t cap = w->acc_cap;
    if (!pg_grow((void **)&w->acc, &cap, (size_t)w->nacc + 1, sizeof *w->acc))
        return PG_ENOMEM;
    w->acc_cap = (uint32_t)cap;
    w->acc[w->nacc++] = *c;
    return PG_OK;
}

/* Sums the self counts of node and every descendant into w->acc (maxDepth folding). */
static int fold_subtree(pg_pwriter *w, uint32_t node)
{
    const pg_profile *p = w->p;
    size_t sp = 0, cap = w->stack_cap;
    w->nacc = 0;
    if (!pg_grow((void **)&w->stack, &cap, 1, sizeof *w->stack))
        return PG_ENOMEM;
    w->stack_cap = (uint32_t)cap;
    w->stack[sp++] = node;
    while (sp > 0) {
        const pg_pnode *nd = &p->nodes[w->stack[--sp]];
        for (uint32_t k = 0; k < nd->ncounts; k++)
            if (acc_add(w, &p->pool[nd->counts + k]) != PG_OK)
                return PG_ENOMEM;
        for (uint32_t c = nd->first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling) {
            if (!pg_grow((void **)&w->stack, &cap, sp + 1, sizeof *w->stack))
                return PG_ENOMEM;
            w->stack_cap = (uint32_t)cap;
            w->stack[sp++] = c;
        }
    }
    return PG_OK;
}

/* The counts a node shows into w->acc (unsorted): its own, or at the depth limit its subtree's. */
static int node_counts(pg_pwriter *w, const pg_pnode *nd, uint32_t node, bool at_limit)
{
    w->acc_ordered = false;
    if (at_limit && nd->first_child != PG_NODE_NONE)
        return fold_subtree(w, node);
    w->acc_ordered = w->p->ordered; /* a node's own counts are in order in an ordered profile */
    w->nacc = 0;
    if (nd->ncounts == 0)
        return PG_OK;
    size_t cap = w->acc_cap;
    if (!pg_grow((void **)&w->acc, &cap, nd->ncounts, sizeof *w->acc))
        return PG_ENOMEM;
    w->acc_cap = (uint32_t)cap;
    memcpy(w->acc, w->p->pool + nd->counts, nd->ncounts * sizeof *w->acc);
    w->nacc = nd->ncounts;
    return PG_OK;
}

/* Pushes a frame for node's children, sorted by name, to be written one per tree step. */
static int push_kids(pg_pwriter *w, const pg_pnode *nd, uint32_t node, uint32_t depth)
{
    const pg_profile *p = w->p;
    uint32_t n = 0;
    for (uint32_t c = nd->first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling)
        n++;
    size_t fcap = w->fr_cap;
    if (!pg_grow((void **)&w->arena, &w->arena_cap, w->narena + n, sizeof *w->arena) ||
        !pg_grow((void **)&w->fr, &fcap, (size_t)w->nfr + 1, sizeof *w->fr))
        return PG_ENOMEM;
    w->fr_cap = (uint32_t)fcap;
    uint32_t *kids = w->arena + w->narena;
    n = 0;
    for (uint32_t c = nd->first_child; c != PG_NODE_NONE; c = p->nodes[c].next_sibling)
        kids[n++] = c;
    if (p->ordered) {
        /* already linked in name order */
    } else if (n > SHORT_SORT) {
        qsort_r(kids, n, sizeof *kids, cmp_name, (void *)p);
    } else {
        for (uint32_t i = 1; i < n; i++) {
            uint32_t k = kids[i], j = i;
            for (; j > 0 && pg_strtab_cmp(&p->strs, p->nodes[kids[j - 1]].name, p->nodes[k].name) > 0; j--)
                kids[j] = kids[j - 1];
            kids[j] = k;
        }
    }
    w->fr[w->nfr++] = (wframe){.node = node, .depth = depth, .kids = w->narena, .nkids = n};
    w->narena += n;
    return PG_OK;
}

/*
 * JSON's call tree is most of an answer. Through pg_emit, every brace, name and number was a call
 * and a capacity check, and that was half the writer's time; so a node is written here straight
 * into the output: its texts are made (quoted) first, which gives a bound on its bytes, then room
 * for the bound is reserved once and the bytes are put. The bytes are those pg_emit's JSON writer
 * would produce (tests/unit/profile/test_profile.c holds the exact texts).
 */

/* Room for a node's punctuation and member names ("counts", "file", "line", "children"). */
#define J_NODE_FIXED 64

static char *put_text(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

#define PUT_LIT(o, lit) put_text((o), (lit), sizeof(lit) - 1)

/* Makes string id's JSON text known (plain, or escaped into ftext); its length with the quotes. */
static int j_text(pg_pwriter *w, uint32_t id, size_t *qlen)
{
    if (w->fpos[id] == 0) {
        size_t n;
        const char *s = pg_strtab_get(&w->p->strs, id, &n);
        if (pg_json_plain(s, n)) {
            w->fpos[id] = J_PLAIN;
            w->flen[id] = (uint32_t)n + 2;
        } else {
            const char *text;
            size_t len;
            int rc = quoted(w, id, &text, &len);
            if (rc != PG_OK)
                return rc;
        }
    }
    *qlen = w->flen[id];
    return PG_OK;
}

/* Puts string id's text (made by j_text) at o. */
static char *j_put(const pg_pwriter *w, char *o, uint32_t id)
{
    if (w->fpos[id] != J_PLAIN)
        return put_text(o, w->ftext.data + w->fpos[id] - 1, w->flen[id]);
    size_t n = w->flen[id] - 2;
    *o++ = '"';
    o = put_text(o, w->p->strs.bytes + w->p->strs.off[id], n);
    *o++ = '"';
    return o;
}

/* Writes a node, preceded by its name as a member of its parent's children (named: every node
 * but the root, with a comma before all but the first child). */
static int j_open_node(pg_pwriter *w, uint32_t node, uint32_t depth, bool named, bool comma)
{
    const pg_profile *p = w->p;
    const pg_pnode *nd = &p->nodes[node];
    bool at_limit = w->max_depth != 0 && depth >= w->max_depth;
    bool leaf = at_limit || nd->first_child == PG_NODE_NONE;
    size_t len, bound = J_NODE_FIXED;
    int rc = node_counts(w, nd, node, at_limit);
    if (rc != PG_OK)
        return rc;
    sort_acc(w);
    /* Every text first: making one may move the texts' buffer. */
    if (named) {
        rc = j_text(w, nd->name, &len);
        bound += len;
    }
    for (uint32_t i = 0; rc == PG_OK && i < w->nacc; i++) {
        rc = j_text(w, w->acc[i].counter, &len);
        bound += len + 2 + PG_EMIT_NUMBER_MAX;
    }
    if (rc == PG_OK && nd->file != PG_STR_NONE) {
        rc = j_text(w, nd->file, &len);
        bound += len;
    }
    int64_t lmin, lmax;
    bool has_line = pg_profile_line(p, nd, &lmin, &lmax);
    if (has_line)
        bound += 2 * PG_EMIT_NUMBER_MAX;
    if (rc == PG_OK && !leaf)
        rc = push_kids(w, nd, node, depth);
    if (rc == PG_OK && !named)
        rc = pg_emit_json_value_raw(&w->e);
    rc = rc ?: pg_buf_reserve(w->e.out, bound);
    if (rc != PG_OK)
        return rc;
    char *const start = w->e.out->data + w->e.out->len, *o = start;
    if (comma)
        *o++ = ',';
    if (named) {
        o = j_put(w, o, nd->name);
        *o++ = ':';
    }
    *o++ = '{';
    bool first = true;
    if (w->nacc > 0) {
        o = PUT_LIT(o, "\"counts\":{");
        for (uint32_t i = 0; i < w->nacc; i++) {
            uint32_t c = w->acc[i].counter;
            if (i > 0)
                *o++ = ',';
            o = j_put(w, o, c);
            *o++ = ':';
            o = pg_emit_number_chars(o, w->acc[i].value);
        }
        *o++ = '}';
        first = false;
    }
    if (nd->file != PG_STR_NONE) {
        o = first ? PUT_LIT(o, "\"file\":") : PUT_LIT(o, ",\"file\":");
        o = j_put(w, o, nd->file);
        first = false;
    }
    if (has_line) {
        o = first ? PUT_LIT(o, "\"line\":[") : PUT_LIT(o, ",\"line\":[");
        o = pg_emit_i64_chars(o, lmin);
        if (lmax != lmin) {
            *o++ = ',';
            o = pg_emit_i64_chars(o, lmax);
        }
        *o++ = ']';
        first = false;
    }
    if (leaf)
        *o++ = '}';
    else
        o = first ? PUT_LIT(o, "\"children\":{") : PUT_LIT(o, ",\"children\":{");
    PG_ASSERT((size_t)(o - start) <= bound);
    w->e.out->len += (size_t)(o - start);
    return PG_OK;
}

/* Writes a node up to its children; a node with children to write gets a frame, one without is
 * closed here. JSON nodes are j_open_node's; what follows is the pg_emit walk, which writes Ion
 * with a depth limit. */
static int open_node(pg_pwriter *w, uint32_t node, uint32_t depth)
{
    if (w->fpos != NULL)
        return j_open_node(w, node, depth, false, false);
    const pg_profile *p = w->p;
    const pg_pnode *nd = &p->nodes[node];
    const pg_emit_ops *o = w->e.ops;
    pg_emit *e = &w->e;
    bool at_limit = w->max_depth != 0 && depth >= w->max_depth;
    int rc = o->begin_struct(e);
    if (rc != PG_OK)
        return rc;
    rc = node_counts(w, nd, node, at_limit);
    if (rc == PG_OK && w->nacc > 0)
        rc = member(w, M_COUNTS) ?: emit_counts(w);
    if (rc == PG_OK && nd->file != PG_STR_NONE)
        rc = member(w, M_FILE) ?: str_id(w, nd->file);
    int64_t lmin, lmax;
    if (rc == PG_OK && pg_profile_line(p, nd, &lmin, &lmax)) {
        rc = member(w, M_LINE) ?: o->begin_list(e);
        rc = rc ?: o->i64(e, lmin);
        if (rc == PG_OK && lmax != lmin)
            rc = o->i64(e, lmax);
        rc = rc ?: o->end_list(e);
    }
    if (rc != PG_OK)
        return rc;
    if (at_limit || nd->first_child == PG_NODE_NONE)
        return o->end_struct(e);
    return push_kids(w, nd, node, depth) ?: member(w, M_CHILDREN) ?: o->begin_struct(e);
}

/* One step of the tree: the next child of the innermost open node, or that node's end. */
static int tree_step(pg_pwriter *w)
{
    wframe *f = &w->fr[w->nfr - 1];
    if (f->next < f->nkids) {
        uint32_t kid = w->arena[f->kids + f->next++];
        uint32_t depth = f->depth + 1; /* f may move when open_node pushes */
        if (w->fpos != NULL)
            return j_open_node(w, kid, depth, true, f->next > 1);
        return field_id(w, w->p->nodes[kid].name) ?: open_node(w, kid, depth);
    }
    w->narena = f->kids;
    w->nfr--;
    if (w->fpos != NULL)
        return pg_buf_append(w->e.out, "}}", 2); /* children, then the node */
    return w->e.ops->end_struct(&w->e) ?: w->e.ops->end_struct(&w->e);
}

/*
 * Ion: the call tree in one pass, written backwards. Ion's containers carry their lengths before
 * their contents and have no closing bytes. Writing forwards needs every node's length first (a
 * pass over the tree that measured, then one that wrote: the first write of an answer cost 2.5
 * times the second). Written backwards from the end of a buffer, last node first, a node comes
 * after all of its children are written, so its length is known when its head is put: one pass.
 * A symbol's number is needed when its VarUInt is put (its length depends on it), so symbols
 * are numbered in the order this pass meets them, backwards: each string id used as a name or a
 * counter gets a symbol of its own the first time (the profile's string table already holds each
 * text once, so nothing is hashed; pg_emit_ion_symbol_own). A loop that numbered them in writing
 * order before this pass read every node twice and was a quarter of a first write. The pg_emit
 * walk, which still writes profiles with a depth limit, numbers its tree's symbols in the same
 * order before it starts (w_number), so both give the same bytes
 * (tests/unit/profile/test_profile.c and fuzz_profile_json compare them). For an ordered profile
 * the writing order is its ids; otherwise it is made once (pg_profile_preorder). The tree is
 * then copied out in steps.
 */

/* The k-th node in writing order: iorder (the layout's, NULL for an ordered profile) or k itself. */
static inline uint32_t i_node_at(const uint32_t *iorder, uint32_t k)
{
    return iorder != NULL ? iorder[k] : k;
}

/* Member k's symbol, made the first time (interned: a member's name may be a head's too). */
static inline bool i_member(pg_pwriter *w, int k)
{
    return w->L->csym[k] != PG_STR_NONE ||
           pg_emit_ion_symbol(&w->e, member_names[k], strlen(member_names[k]), &w->L->csym[k]) != PG_STR_NONE;
}

/* i_member for the tree pass, which keeps the member symbols in msym (locals): its stores go
 * through char pointers, which may alias the layout, so reading them from it reloaded them at
 * every node. */
static inline bool i_member_kept(pg_pwriter *w, uint32_t *msym, int k)
{
    if (msym[k] != PG_STR_NONE)
        return true;
    if (!i_member(w, k))
        return false;
    msym[k] = w->L->csym[k];
    return true;
}

/* A node's counts in byte order of counter: in an ordered profile where they lie (pool, its
 * counts; the tree pass holds it in a local), else (pool NULL) sorted into w->acc. */
static inline int i_counts(pg_pwriter *w, const pg_count *pool, const pg_pnode *nd, uint32_t id, const pg_count **cs,
                           uint32_t *n)
{
    if (pool != NULL) {
        *cs = pool + nd->counts;
        *n = nd->ncounts;
        return PG_OK;
    }
    int rc = node_counts(w, nd, id, false);
    if (rc != PG_OK)
        return rc;
    sort_acc(w);
    *cs = w->acc;
    *n = w->nacc;
    return PG_OK;
}

/* String id's symbol, made by appending (see above) the first time it is met. */
static inline bool i_number_id(pg_pwriter *w, uint32_t *sym, uint32_t id)
{
    if (sym[id] != PG_STR_NONE)
        return true;
    size_t len;
    const char *s = pg_strtab_get(&w->p->strs, id, &len);
    return (sym[id] = pg_strtab_append(&w->L->syms, s, len)) != PG_STR_NONE;
}

/* The writing order (L->iorder) of a profile that is not in it. */
static int i_order(pg_pwriter *w)
{
    const pg_profile *p = w->p;
    pg_ion_layout *L = w->L;
    if (p->ordered)
        return PG_OK;
    L->iorder = malloc((size_t)p->n * sizeof *L->iorder);
    return L->iorder != NULL && pg_profile_preorder(p, L->iorder) == PG_OK ? PG_OK : PG_ENOMEM;
}

/* The walk's tree symbols (it has a depth limit), numbered before pass 1 writes the tree in the
 * order i_write_tree meets them: nodes last to first, and within a node its children's member,
 * line, file, counters last to first, counts, then its name. Nodes past the limit are not
 * written; a node at it has no children and its subtree's counts (node_counts). */
static int w_number(pg_pwriter *w)
{
    const pg_profile *p = w->p;
    pg_ion_layout *L = w->L;
    PG_ASSERT(w->max_depth > 0);
    int rc = i_order(w);
    for (uint32_t k = p->n; rc == PG_OK && k-- > 0;) {
        uint32_t id = i_node_at(L->iorder, k);
        const pg_pnode *nd = &p->nodes[id];
        if (nd->depth > w->max_depth)
            continue;
        bool at_limit = nd->depth >= w->max_depth;
        int64_t lmin, lmax;
        if ((!at_limit && nd->first_child != PG_NODE_NONE && !i_member(w, M_CHILDREN)) ||
            (pg_profile_line(p, nd, &lmin, &lmax) && !i_member(w, M_LINE)) ||
            (nd->file != PG_STR_NONE && !i_member(w, M_FILE)))
            return PG_ELIMIT;
        if ((rc = node_counts(w, nd, id, at_limit)) != PG_OK)
            break;
        sort_acc(w);
        for (uint32_t i = w->nacc; i-- > 0;)
            if (!i_number_id(w, L->sym, w->acc[i].counter))
                return PG_ELIMIT;
        if ((w->nacc > 0 && !i_member(w, M_COUNTS)) || (id != PG_ROOT && !i_number_id(w, L->sym, nd->name)))
            return PG_ELIMIT;
    }
    free(L->iorder); /* the walk visits the tree itself */
    L->iorder = NULL;
    return rc;
}

static size_t i_line_len(int64_t lmin, int64_t lmax)
{
    return pg_ion_int_size(lmin) + (lmax != lmin ? pg_ion_int_size(lmax) : 0);
}

/* A new block of at least cap bytes in front of the tree, *o at its end; the block *o was in
 * is finished there (or given back when nothing was written in it). */
static int i_tree_block(pg_ion_layout *L, char **o, size_t cap)
{
    if (L->nblocks > 0) {
        pg_tblock *b = &L->blocks[L->nblocks - 1];
        size_t used = b->cap - (size_t)(*o - b->data);
        if (cap > PG_PWRITER_TREE_MAX - L->tree_len - used)
            return PG_ELIMIT;
        if (used == 0) {
            free(b->data);
            L->tree_mem -= b->cap;
            L->nblocks--;
        } else {
            b->at = b->cap - used;
            L->tree_len += used;
        }
    }
    size_t bcap = L->blocks_cap;
    char *d = NULL;
    if (!pg_grow((void **)&L->blocks, &bcap, (size_t)L->nblocks + 1, sizeof *L->blocks) || (d = malloc(cap)) == NULL)
        return PG_ENOMEM;
    L->blocks_cap = (uint32_t)bcap;
    L->blocks[L->nblocks++] = (pg_tblock){.data = d, .at = cap, .cap = cap};
    L->tree_mem += cap;
    *o = d + cap;
    return PG_OK;
}

/* The whole call tree into the layout, last node first (see above). kids[id]: the bytes of
 * node id's children written so far (each child's field name and struct); complete when id is
 * met, since a node's descendants follow it in writing order. */
static int i_write_tree(pg_pwriter *w)
{
    const pg_profile *p = w->p;
    pg_ion_layout *L = w->L;
    PG_ASSERT(L->nblocks == 0 && !w->e.symbols_frozen);
    if (i_order(w) != PG_OK)
        return PG_ENOMEM;
    uint32_t *kids = calloc(p->n, sizeof *kids);
    /* o, the output, is passed to i_tree_block by a copy (at) so that its address never
     * escapes: otherwise the compiler keeps it in memory and stores it at every field. */
    char *o = NULL, *at = NULL;
    /* The first block: a guess from the simulator's profiles (about 50 bytes per node) when
     * that is less than a block. */
    int rc = kids != NULL ? i_tree_block(L, &at, PG_MIN((size_t)p->n * 56 + 64, PG_TREE_BLOCK)) : PG_ENOMEM;
    o = at;
    /* What the loop reads of the profile and the layout, in locals (see i_member_kept): the
     * writing order, the counts of an ordered profile, the current block's start, the member
     * symbols. */
    uint32_t *const sym = L->sym;
    const uint32_t *const iorder = L->iorder;
    const pg_count *const pool = p->ordered ? p->pool : NULL;
    char *bstart = rc == PG_OK ? L->blocks[L->nblocks - 1].data : NULL;
    uint32_t msym[PG_ARRAY_LEN(L->csym)];
    memcpy(msym, L->csym, sizeof msym);
    const pg_pnode *const nodes = p->nodes;
    const pg_strtab strs = p->strs; /* file names; the profile does not change meanwhile */
    for (uint32_t k = p->n; rc == PG_OK && k-- > 0;) {
        uint32_t id = i_node_at(iorder, k);
        const pg_pnode *nd = &nodes[id];
        const pg_count *cs;
        uint32_t nc;
        if ((rc = i_counts(w, pool, nd, id, &cs, &nc)) != PG_OK)
            break;
        size_t flen = 0;
        const char *file = nd->file != PG_STR_NONE ? pg_strtab_get(&strs, nd->file, &flen) : NULL;
        /* Symbols are at most 5 bytes; heads PG_ION_TD_MAX; numbers PG_ION_NUM_MAX. */
        size_t bound = 5 * 5 + 5 * PG_ION_TD_MAX + 2 * PG_ION_NUM_MAX + (size_t)nc * (5 + PG_ION_NUM_MAX) + flen;
        if ((size_t)(o - bstart) < bound) {
            at = o;
            if ((rc = i_tree_block(L, &at, PG_MAX(PG_TREE_BLOCK, bound))) != PG_OK)
                break;
            o = at;
            bstart = L->blocks[L->nblocks - 1].data;
        }
        char *const end = o;
        if (nd->first_child != PG_NODE_NONE) {
            if (!i_member_kept(w, msym, M_CHILDREN)) {
                rc = PG_ELIMIT;
                break;
            }
            o = pg_ion_td_back(o, PG_ION_STRUCT, kids[id]);
            o = pg_ion_varuint_back(o, (uint64_t)msym[M_CHILDREN] + PG_ION_SID_LOCAL_BASE);
        }
        int64_t lmin, lmax;
        if (pg_profile_line(p, nd, &lmin, &lmax)) {
            if (!i_member_kept(w, msym, M_LINE)) {
                rc = PG_ELIMIT;
                break;
            }
            if (lmax != lmin)
                o = pg_ion_int_back(o, lmax);
            o = pg_ion_int_back(o, lmin);
            o = pg_ion_td_back(o, PG_ION_LIST, i_line_len(lmin, lmax));
            o = pg_ion_varuint_back(o, (uint64_t)msym[M_LINE] + PG_ION_SID_LOCAL_BASE);
        }
        if (file != NULL) {
            if (!i_member_kept(w, msym, M_FILE)) {
                rc = PG_ELIMIT;
                break;
            }
            o -= flen;
            if (flen >= 16 && flen <= 32) {
                /* The usual file name: two overlapping 16-byte copies instead of a call. */
                memcpy(o, file, 16);
                memcpy(o + flen - 16, file + flen - 16, 16);
            } else {
                memcpy(o, file, flen);
            }
            o = pg_ion_td_back(o, PG_ION_STRING, flen);
            o = pg_ion_varuint_back(o, (uint64_t)msym[M_FILE] + PG_ION_SID_LOCAL_BASE);
        }
        if (nc > 0) {
            char *const cend = o;
            for (uint32_t i = nc; i-- > 0;) {
                double v = cs[i].value;
                uint64_t mag;
                if (pg_ion_count_mag(v, &mag)) { /* the usual count: no sign, fewest checks */
                    o = pg_ion_mag_back(o, mag, PG_ION_POSINT);
                } else if (pg_num_is_int(v)) {
                    o = pg_ion_int_back(o, (int64_t)v);
                } else {
                    o -= 8;
                    pg_ion_float_be(v, (unsigned char *)o);
                    *--o = (char)(PG_ION_FLOAT << 4 | 8);
                }
                if (!i_number_id(w, sym, cs[i].counter)) {
                    rc = PG_ELIMIT;
                    break;
                }
                o = pg_ion_varuint_back(o, (uint64_t)sym[cs[i].counter] + PG_ION_SID_LOCAL_BASE);
            }
            if (rc != PG_OK || !i_member_kept(w, msym, M_COUNTS)) {
                rc = PG_ELIMIT;
                break;
            }
            o = pg_ion_td_back(o, PG_ION_STRUCT, (size_t)(cend - o));
            o = pg_ion_varuint_back(o, (uint64_t)msym[M_COUNTS] + PG_ION_SID_LOCAL_BASE);
        }
        uint64_t len = (uint64_t)(end - o) + kids[id];
        if (len > UINT32_MAX) {
            rc = PG_ELIMIT;
            break;
        }
        o = pg_ion_td_back(o, PG_ION_STRUCT, len);
        PG_ASSERT((size_t)(end - o) <= bound);
        if (id == PG_ROOT)
            continue;
        if (!i_number_id(w, sym, nd->name)) {
            rc = PG_ELIMIT;
            break;
        }
        o = pg_ion_varuint_back(o, (uint64_t)sym[nd->name] + PG_ION_SID_LOCAL_BASE);
        uint64_t sum = (uint64_t)kids[nd->parent] + (uint64_t)(end - o) + kids[id];
        if (sum > UINT32_MAX) {
            rc = PG_ELIMIT;
            break;
        }
        kids[nd->parent] = (uint32_t)sum;
    }
    free(kids);
    free(L->iorder); /* the tree is written: the order is not needed again */
    L->iorder = NULL;
    if (rc != PG_OK) {
        tree_free(L);
        return rc;
    }
    /* The front block holds the root, written last. A kept layout is charged for its blocks:
     * when that block's unused room is more than an eighth of them (a small tree's guess far
     * off), what it holds is moved to its start and the block trimmed (at most a block moved). */
    pg_tblock *b = &L->blocks[L->nblocks - 1];
    b->at = (size_t)(o - b->data);
    L->tree_len += b->cap - b->at;
    if (b->at > L->tree_mem / 8) {
        size_t used = b->cap - b->at;
        memmove(b->data, b->data + b->at, used);
        char *t = realloc(b->data, used); /* shrinking: when it fails, the block stays larger */
        b->data = t != NULL ? t : b->data;
        L->tree_mem -= b->at;
        b->at = 0;
        b->cap = used;
    }
    return PG_OK;
}

static int emit_meta(pg_pwriter *w)
{
    const pg_profile *p = w->p;
    const pg_emit_ops *o = w->e.ops;
    pg_emit *e = &w->e;
    int rc = o->begin_struct(e);
    if (rc == PG_OK && p->has_weights) {
        w->nacc = 0;
        w->acc_ordered = false;
        for (uint32_t i = 0; rc == PG_OK && i < p->nweights; i++)
            rc = acc_add(w, &p->weights[i]);
        rc = rc ?: field(w, "sampleWeights");
        rc = rc ?: emit_counts(w);
    }
    if (rc == PG_OK && p->has_duration)
        rc = field(w, "durationInMs") ?: o->num(e, p->duration_ms);
    if (rc == PG_OK && p->has_samples)
        rc = field(w, "numTimesSampled") ?: o->num(e, p->num_samples);
    if (rc == PG_OK && p->has_cpu)
        rc = field(w, "cpuTimeInSeconds") ?: o->num(e, p->cpu_s);
    /* Descriptive members (fleetInfo, agentInfo, ...) follow the ones we interpret. */
    if (rc == PG_OK && p->meta_extra != NULL)
        rc = pg_value_emit_members(p->meta_extra, e);
    return rc ?: o->end_struct(e);
}

/* One unit of output: the profile's head, one tree step, or its tail. */
static int walk_step(pg_pwriter *w)
{
    const pg_profile *p = w->p;
    const pg_emit_ops *o = w->e.ops;
    pg_emit *e = &w->e;
    int rc = PG_OK;
    switch (w->stage) {
    case S_TOP:
        rc = o->begin_struct(e);
        if (rc == PG_OK && p->has_start)
            rc = field(w, "start") ?: o->i64(e, p->start_ms);
        if (rc == PG_OK && p->has_end)
            rc = field(w, "end") ?: o->i64(e, p->end_ms);
        rc = rc ?: field(w, "agentMetadata");
        rc = rc ?: emit_meta(w);
        rc = rc ?: field(w, "callgraph");
        if (w->ion_direct) {
            /* The whole tree is written here, in pass 1, once the head's symbols are made,
             * unless the layout came from an earlier writer. */
            pg_ion_layout *L = w->L;
            if (rc == PG_OK && w->measuring && L->nblocks == 0)
                rc = i_write_tree(w);
            if (rc == PG_OK && w->measuring)
                pg_emit_ion_value_measured(e, L->tree_len);
            w->tsent = 0;
            w->tblock = L->nblocks - 1; /* the front */
            w->tboff = 0;
        } else {
            if (rc == PG_OK && w->measuring)
                rc = w_number(w);
            rc = rc ?: open_node(w, PG_ROOT, 0);
        }
        w->stage = S_TREE;
        return rc;
    case S_TREE:
        if (w->ion_direct && !w->measuring && w->tsent < w->L->tree_len) {
            /* The tree's bytes up to the step's budget, from the front block on. */
            const pg_tblock *b = &w->L->blocks[w->tblock];
            size_t left = b->cap - b->at - w->tboff;
            PG_ASSERT(left > 0); /* blocks hold tree_len bytes in all, none of them empty */
            size_t n = PG_MIN(left, PG_MAX(w->budget - w->e.out->len, (size_t)4096));
            rc = pg_buf_append(w->e.out, b->data + b->at + w->tboff, n);
            if (rc != PG_OK)
                return rc;
            w->tsent += n;
            w->tboff += n;
            if (w->tboff == b->cap - b->at && w->tblock > 0) {
                w->tblock--;
                w->tboff = 0;
            }
            return PG_OK;
        }
        if (!w->ion_direct && w->nfr > 0)
            return tree_step(w);
        w->stage = S_TAIL;
        return PG_OK;
    case S_TAIL:
        if (p->top_extra != NULL)
            rc = pg_value_emit_members(p->top_extra, e);
        rc = rc ?: o->end_struct(e);
        w->stage = S_DONE;
        return rc;
    case S_DONE:
        return PG_OK;
    }
    PG_UNREACHABLE();
}

/* Ion's pass 1 with layout L (w takes the reference): the head's symbols and container lengths,
 * nothing written to the output; the call tree numbered and written into L when L does not hold
 * it yet. */
static int ion_measure(pg_pwriter *w, pg_ion_layout *L, bool reused)
{
    w->L = L;
    pg_emit_free(&w->e);
    memset(&w->e, 0, sizeof w->e);
    pg_emit_ion_measure(&w->e, &L->syms);
    w->e.symbols_frozen = reused;
    w->stage = S_TOP;
    w->measuring = true;
    int rc = PG_OK;
    while (rc == PG_OK && w->stage != S_DONE)
        rc = walk_step(w);
    w->measuring = false;
    PG_ASSERT(rc != PG_OK || (w->nfr == 0 && w->narena == 0));
    w->stage = S_TOP;
    w->e.out = NULL; /* set by the first step, which writes the symbol table */
    return rc;
}

static int writer_new(const pg_profile *p, bool ion, uint32_t max_depth, pg_ion_layout *reuse, pg_pwriter **out)
{
    pg_pwriter *w = calloc(1, sizeof *w);
    *out = NULL;
    if (w == NULL)
        return PG_ENOMEM;
    w->p = p;
    w->ion = ion;
    w->max_depth = max_depth;
    if (rank_counters(w) != PG_OK) {
        pg_pwriter_free(w);
        return PG_ENOMEM;
    }
    if (!ion) {
        pg_emit_json(&w->e, NULL);
        size_t ns = p->strs.n > 0 ? p->strs.n : 1;
        w->fpos = calloc(ns, sizeof *w->fpos);
        w->flen = malloc(ns * sizeof *w->flen);
        pg_buf_init(&w->ftext, UINT32_MAX - 1); /* offsets are 32-bit */
        if (w->fpos == NULL || w->flen == NULL) {
            pg_pwriter_free(w);
            return PG_ENOMEM;
        }
        *out = w;
        return PG_OK;
    }
    w->ion_direct = max_depth == 0;
    int rc = PG_ENOTFOUND;
    if (reuse != NULL && w->ion_direct && layout_fits(reuse, p)) {
        rc = ion_measure(w, pg_ion_layout_ref(reuse), true);
        if (rc != PG_OK && w->e.symbols_missed) { /* the head has a name the layout lacks */
            pg_ion_layout_unref(w->L);
            w->L = NULL;
            rc = PG_ENOTFOUND;
        }
    }
    if (rc == PG_ENOTFOUND) {
        pg_ion_layout *L = layout_new(p);
        rc = L != NULL ? ion_measure(w, L, false) : PG_ENOMEM;
        /* The room reserved for the profile's strings (file names too, which are not symbols) is
         * given back: the gateway keeps layouts, charged at their memory. The index stays, for
         * the heads of later writers. */
        if (rc == PG_OK)
            (void)pg_strtab_shrink(&w->L->syms, true);
    }
    if (rc != PG_OK) {
        pg_pwriter_free(w);
        return rc;
    }
    *out = w;
    return PG_OK;
}

int pg_pwriter_new(const pg_profile *p, bool ion, uint32_t max_depth, pg_pwriter **out)
{
    return writer_new(p, ion, max_depth, NULL, out);
}

int pg_pwriter_new_ion(const pg_profile *p, pg_ion_layout *reuse, pg_pwriter **out)
{
    return writer_new(p, true, 0, reuse, out);
}

pg_ion_layout *pg_pwriter_layout(const pg_pwriter *w)
{
    return w->ion_direct ? w->L : NULL;
}

int pg_pwriter_step(pg_pwriter *w, pg_buf *out, size_t budget, bool *done)
{
    int rc = PG_OK;
    if (w->ion && w->e.out == NULL)
        rc = pg_emit_ion_begin(&w->e, out);
    w->e.out = out;
    w->budget = budget;
    while (rc == PG_OK && w->stage != S_DONE && out->len < budget)
        rc = walk_step(w);
    *done = rc == PG_OK && w->stage == S_DONE;
    if (*done)
        PG_ASSERT(pg_emit_done(&w->e));
    return rc;
}

void pg_pwriter_free(pg_pwriter *w)
{
    if (w == NULL)
        return;
    pg_emit_free(&w->e);
    pg_ion_layout_unref(w->L); /* after the emitter, which points at its symbols */
    free(w->fr);
    free(w->arena);
    free(w->acc);
    free(w->stack);
    free(w->fpos);
    free(w->flen);
    free(w->crank);
    pg_buf_free(&w->ftext);
    free(w);
}

size_t pg_pwriter_memory(const pg_pwriter *w)
{
    size_t ns = w->p->strs.n;
    size_t m = sizeof *w + w->ftext.cap + (size_t)w->fr_cap * sizeof *w->fr +
               w->arena_cap * sizeof *w->arena + (size_t)w->acc_cap * sizeof *w->acc + (size_t)w->stack_cap * sizeof *w->stack;
    if (w->fpos != NULL)
        m += ns * (sizeof *w->fpos + sizeof *w->flen);
    if (w->crank != NULL)
        m += ns;
    /* A layout only this writer holds (another holder, the gateway's cache, is charged for it). */
    if (w->L != NULL && w->L->refs == 1)
        m += pg_ion_layout_memory(w->L);
    return m;
}

int pg_profile_encode(const pg_profile *p, bool ion, uint32_t max_depth, pg_buf *out)
{
    pg_pwriter *w;
    int rc = pg_pwriter_new(p, ion, max_depth, &w);
    if (rc != PG_OK)
        return rc;
    bool done;
    rc = pg_pwriter_step(w, out, SIZE_MAX, &done);
    PG_ASSERT(rc != PG_OK || done);
    pg_pwriter_free(w);
    return rc;
}
