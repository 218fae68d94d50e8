/*
 * emit.c: the JSON and Ion writers.
 *
 * Ion containers are length-prefixed, and the length is known only when the container closes.
 * The writer reserves one type byte when a container opens; on close, a short container (< 14
 * bytes) gets its length in that byte, a longer one shifts its content right by the size of the
 * VarUInt length. Each byte moves at most once per enclosing large container, which keeps the
 * writer single-pass over the data.
 */
#include "profgate/emit.h"
#include "profgate/jsonw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DEPTH_CHECK(e)                        \
    do {                                      \
        if ((e)->depth + 1 >= PG_EMIT_DEPTH_MAX) \
            return PG_ELIMIT;                 \
    } while (0)

bool pg_num_is_int(double v)
{
    return isfinite(v) && v == floor(v) && fabs(v) <= 9007199254740992.0;
}

/* ------------------------------------------------------------------ JSON */

/* Writes the separator a new member of the current container needs. */
static int j_sep(pg_emit *e)
{
    if (e->depth == 0)
        return PG_OK;
    bool *has = &e->has_member[e->depth];
    if (*has)
        return pg_buf_append(e->out, ",", 1);
    *has = true;
    return PG_OK;
}

/* A value right after its field name needs no separator (the field wrote it). */
static int j_value_prefix(pg_emit *e)
{
    if (e->after_field) {
        e->after_field = false;
        return PG_OK;
    }
    return j_sep(e);
}

static int j_open(pg_emit *e, char c)
{
    DEPTH_CHECK(e);
    int rc = j_value_prefix(e);
    if (rc == PG_OK)
        rc = pg_buf_append(e->out, &c, 1);
    e->depth++;
    e->has_member[e->depth] = false;
    return rc;
}

static int j_close(pg_emit *e, char c)
{
    PG_ASSERT(e->depth > 0);
    e->depth--;
    return pg_buf_append(e->out, &c, 1);
}

static int j_begin_struct(pg_emit *e) { return j_open(e, '{'); }
static int j_end_struct(pg_emit *e) { return j_close(e, '}'); }
static int j_begin_list(pg_emit *e) { return j_open(e, '['); }
static int j_end_list(pg_emit *e) { return j_close(e, ']'); }

static int j_field(pg_emit *e, const char *name, size_t len)
{
    int rc = j_sep(e);
    if (rc == PG_OK)
        rc = pg_json_str(e->out, name, len);
    if (rc == PG_OK)
        rc = pg_buf_append(e->out, ":", 1);
    e->after_field = true;
    return rc;
}

static int j_str(pg_emit *e, const char *s, size_t len)
{
    int rc = j_value_prefix(e);
    return rc ? rc : pg_json_str(e->out, s, len);
}

static int j_i64(pg_emit *e, int64_t v)
{
    int rc = j_value_prefix(e);
    return rc ? rc : pg_buf_printf(e->out, "%lld", (long long)v);
}

static int j_num(pg_emit *e, double v)
{
    int rc = j_value_prefix(e);
    if (rc != PG_OK)
        return rc;
    if (pg_num_is_int(v))
        return pg_buf_printf(e->out, "%lld", (long long)v);
    if (!isfinite(v))
        return pg_buf_puts(e->out, "null"); /* JSON has no NaN or infinity */
    return pg_buf_printf(e->out, "%.17g", v);
}

static int j_bool(pg_emit *e, bool v)
{
    int rc = j_value_prefix(e);
    return rc ? rc : pg_buf_puts(e->out, v ? "true" : "false");
}

static int j_null(pg_emit *e)
{
    int rc = j_value_prefix(e);
    return rc ? rc : pg_buf_puts(e->out, "null");
}

static const pg_emit_ops json_ops = {j_begin_struct, j_end_struct, j_begin_list, j_end_list, j_field,
                                     j_str,          j_i64,        j_num,        j_bool,      j_null};

void pg_emit_json(pg_emit *e, pg_buf *out)
{
    e->ops = &json_ops;
    e->out = out;
    e->depth = 0;
    e->has_member[0] = false;
    e->symbols = NULL;
    e->after_field = false;
}

/* ------------------------------------------------------------------ Ion */

enum { ION_BOOL = 0x1, ION_POSINT = 0x2, ION_NEGINT = 0x3, ION_FLOAT = 0x4, ION_STRING = 0x8,
       ION_LIST = 0xB, ION_STRUCT = 0xD, ION_ANNOT = 0xE };

/* System symbols: 3 = $ion_symbol_table, 7 = symbols. Local symbols start at 10. */
#define SID_ION_SYMBOL_TABLE 3
#define SID_SYMBOLS 7
#define SID_LOCAL_BASE 10

static size_t varuint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void varuint_put(char *p, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        p[i] = (char)(v & 0x7f);
        v >>= 7;
    }
    p[n - 1] |= (char)0x80;
}

static int varuint(pg_buf *b, uint64_t v)
{
    char tmp[10];
    size_t n = varuint_len(v);
    varuint_put(tmp, v, n);
    return pg_buf_append(b, tmp, n);
}

/* A scalar with a known length: type descriptor (+ VarUInt length) then the bytes. */
static int ion_scalar(pg_buf *b, int type, const void *data, size_t len)
{
    unsigned char td = (unsigned char)(type << 4 | (len < 14 ? len : 14));
    int rc = pg_buf_append(b, &td, 1);
    if (rc == PG_OK && len >= 14)
        rc = varuint(b, len);
    if (rc == PG_OK)
        rc = pg_buf_append(b, data, len);
    return rc;
}

static int i_open(pg_emit *e, int type)
{
    DEPTH_CHECK(e);
    e->depth++;
    e->open_at[e->depth] = e->out->len;
    unsigned char td = (unsigned char)(type << 4);
    return pg_buf_append(e->out, &td, 1);
}

static int i_close(pg_emit *e)
{
    PG_ASSERT(e->depth > 0);
    size_t at = e->open_at[e->depth--];
    pg_buf *b = e->out;
    size_t len = b->len - at - 1;
    if (len < 14) {
        b->data[at] = (char)(b->data[at] | (char)len);
        return PG_OK;
    }
    size_t k = varuint_len(len);
    int rc = pg_buf_reserve(b, k);
    if (rc != PG_OK)
        return rc;
    memmove(b->data + at + 1 + k, b->data + at + 1, len);
    b->data[at] = (char)(b->data[at] | 14);
    varuint_put(b->data + at + 1, len, k);
    b->len += k;
    return PG_OK;
}

static int i_begin_struct(pg_emit *e) { return i_open(e, ION_STRUCT); }
static int i_begin_list(pg_emit *e) { return i_open(e, ION_LIST); }
static int i_end(pg_emit *e) { return i_close(e); }

static int i_field(pg_emit *e, const char *name, size_t len)
{
    uint32_t id = pg_strtab_find(e->symbols, name, len);
    PG_ASSERT(id != PG_STR_NONE); /* every name was collected in pass 1 */
    return varuint(e->out, (uint64_t)id + SID_LOCAL_BASE);
}

static int i_str(pg_emit *e, const char *s, size_t len)
{
    return ion_scalar(e->out, ION_STRING, s, len);
}

static int i_u64(pg_emit *e, int type, uint64_t mag)
{
    unsigned char be[8];
    size_t n = 0;
    for (uint64_t m = mag; m != 0; m >>= 8)
        n++;
    for (size_t i = 0; i < n; i++)
        be[n - 1 - i] = (unsigned char)(mag >> (8 * i));
    return ion_scalar(e->out, type, be, n);
}

static int i_i64(pg_emit *e, int64_t v)
{
    if (v >= 0)
        return i_u64(e, ION_POSINT, (uint64_t)v);
    return i_u64(e, ION_NEGINT, (uint64_t)(-(v + 1)) + 1);
}

static int i_num(pg_emit *e, double v)
{
    if (pg_num_is_int(v))
        return i_i64(e, (int64_t)v);
    uint64_t bits;
    memcpy(&bits, &v, 8);
    unsigned char be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)(bits >> (56 - 8 * i));
    return ion_scalar(e->out, ION_FLOAT, be, 8);
}

static int i_bool(pg_emit *e, bool v)
{
    unsigned char td = (unsigned char)(ION_BOOL << 4 | (v ? 1 : 0));
    return pg_buf_append(e->out, &td, 1);
}

static int i_null(pg_emit *e)
{
    unsigned char td = 0x0F;
    return pg_buf_append(e->out, &td, 1);
}

static const pg_emit_ops ion_ops = {i_begin_struct, i_end, i_begin_list, i_end, i_field,
                                    i_str,          i_i64, i_num,        i_bool, i_null};

/* Pass 1: only field names matter. */
static int s_nop(pg_emit *e) { (void)e; return PG_OK; }
static int s_open(pg_emit *e) { DEPTH_CHECK(e); e->depth++; return PG_OK; }
static int s_close(pg_emit *e) { e->depth--; return PG_OK; }
static int s_field(pg_emit *e, const char *name, size_t len)
{
    return pg_strtab_intern(e->symbols, name, len) == PG_STR_NONE ? PG_ELIMIT : PG_OK;
}
static int s_str(pg_emit *e, const char *s, size_t len) { (void)e; (void)s; (void)len; return PG_OK; }
static int s_i64(pg_emit *e, int64_t v) { (void)e; (void)v; return PG_OK; }
static int s_num(pg_emit *e, double v) { (void)e; (void)v; return PG_OK; }
static int s_bool(pg_emit *e, bool v) { (void)e; (void)v; return PG_OK; }

static const pg_emit_ops sym_ops = {s_open, s_close, s_open, s_close, s_field, s_str, s_i64, s_num, s_bool, s_nop};

void pg_emit_ion_symbols(pg_emit *e, pg_strtab *symbols)
{
    e->ops = &sym_ops;
    e->out = NULL;
    e->depth = 0;
    e->symbols = symbols;
}

int pg_emit_ion_begin(pg_emit *e, pg_buf *out, pg_strtab *symbols)
{
    static const unsigned char bvm[4] = {0xE0, 0x01, 0x00, 0xEA};
    e->ops = &ion_ops;
    e->out = out;
    e->depth = 0;
    e->symbols = symbols;
    int rc = pg_buf_append(out, bvm, 4);
    if (rc != PG_OK || symbols->n == 0)
        return rc;
    /* $ion_symbol_table::{ symbols: [ "name", ... ] } */
    rc = i_open(e, ION_ANNOT);
    rc = rc ?: varuint(out, 1);                    /* annotation list length in bytes */
    rc = rc ?: varuint(out, SID_ION_SYMBOL_TABLE); /* the annotation */
    rc = rc ?: i_open(e, ION_STRUCT);
    rc = rc ?: varuint(out, SID_SYMBOLS);
    rc = rc ?: i_open(e, ION_LIST);
    for (uint32_t id = 0; rc == PG_OK && id < symbols->n; id++) {
        size_t len;
        const char *s = pg_strtab_get(symbols, id, &len);
        rc = i_str(e, s, len);
    }
    rc = rc ?: i_close(e);
    rc = rc ?: i_close(e);
    rc = rc ?: i_close(e);
    return rc;
}
