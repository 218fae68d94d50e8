/*
 * emit.c: the JSON and Ion writers.
 *
 * Ion containers are length-prefixed, and a length is known only once the container's content is.
 * So Ion takes two walks over the same data: the first writes nothing, interns the field names
 * (the local symbol table) and records every container's length in opening order; the second
 * writes each container's type and length as it opens. Nothing written is ever moved or patched,
 * which is what lets the output be sent in pieces while it is produced.
 */
#include "profgate/emit.h"
#include "profgate/ionw.h"
#include "profgate/jsonw.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define DEPTH_CHECK(e)                        \
    do {                                      \
        if ((e)->depth + 1 >= PG_EMIT_DEPTH_MAX) \
            return PG_ELIMIT;                 \
    } while (0)

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

int pg_emit_json_field_text(pg_emit *e, const char *quoted, size_t len)
{
    int rc = j_sep(e);
    if (rc == PG_OK && (rc = pg_buf_reserve(e->out, len + 1)) == PG_OK) {
        char *p = e->out->data + e->out->len;
        memcpy(p, quoted, len);
        p[len] = ':';
        e->out->len += len + 1;
    }
    e->after_field = true;
    return rc;
}

int pg_emit_json_value_raw(pg_emit *e)
{
    return j_value_prefix(e);
}

static int j_str(pg_emit *e, const char *s, size_t len)
{
    int rc = j_value_prefix(e);
    return rc ? rc : pg_json_str(e->out, s, len);
}

/* Decimal digits by hand: printf's machinery dominated the time to write a profile. Written
 * forwards into space the caller reserved, so a writer can put a node's numbers without a call
 * and a capacity check for each. */
char *pg_emit_i64_chars(char *o, int64_t v)
{
    /* Two digits per division: counts are most of a profile's numbers. */
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                   "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                   "8081828384858687888990919293949596979899";
    static const uint64_t pow10[20] = {1,
                                       10,
                                       100,
                                       1000,
                                       10000,
                                       100000,
                                       1000000,
                                       10000000,
                                       100000000,
                                       1000000000,
                                       10000000000ULL,
                                       100000000000ULL,
                                       1000000000000ULL,
                                       10000000000000ULL,
                                       100000000000000ULL,
                                       1000000000000000ULL,
                                       10000000000000000ULL,
                                       100000000000000000ULL,
                                       1000000000000000000ULL,
                                       10000000000000000000ULL};
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        *o++ = '-';
    /* The digit count without a division per digit: t, from the bit length (1233/4096 is just
     * above log10(2)), is the count or one less; it is one less when m reaches 10^t (0 has 1). */
    unsigned t = (unsigned)(64 - __builtin_clzll(m | 1)) * 1233 >> 12;
    unsigned n = t + ((m | 1) >= pow10[t]);
    char *end = o + n, *p = end;
    while (m >= 100) {
        unsigned d = (unsigned)(m % 100) * 2;
        m /= 100;
        *--p = pairs[d + 1];
        *--p = pairs[d];
    }
    if (m >= 10) {
        *--p = pairs[m * 2 + 1];
        *--p = pairs[m * 2];
    } else {
        *--p = (char)('0' + m);
    }
    return end;
}

char *pg_emit_number_chars(char *o, double v)
{
    if (pg_num_is_int(v))
        return pg_emit_i64_chars(o, (int64_t)v);
    if (!isfinite(v)) {
        memcpy(o, "null", 4); /* JSON has no NaN or infinity */
        return o + 4;
    }
    int n = snprintf(o, PG_EMIT_NUMBER_MAX, "%.17g", v);
    PG_ASSERT(n > 0 && n < PG_EMIT_NUMBER_MAX);
    return o + n;
}

static int put_i64(pg_buf *b, int64_t v)
{
    int rc = pg_buf_reserve(b, PG_EMIT_NUMBER_MAX);
    if (rc == PG_OK)
        b->len = (size_t)(pg_emit_i64_chars(b->data + b->len, v) - b->data);
    return rc;
}

int pg_emit_int_text(pg_buf *out, int64_t v)
{
    return put_i64(out, v);
}

static int j_i64(pg_emit *e, int64_t v)
{
    int rc = j_value_prefix(e);
    return rc ? rc : put_i64(e->out, v);
}

int pg_emit_number_text(pg_buf *out, double v)
{
    int rc = pg_buf_reserve(out, PG_EMIT_NUMBER_MAX);
    if (rc == PG_OK)
        out->len = (size_t)(pg_emit_number_chars(out->data + out->len, v) - out->data);
    return rc;
}

static int j_num(pg_emit *e, double v)
{
    int rc = j_value_prefix(e);
    return rc ? rc : pg_emit_number_text(e->out, v);
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

static int varuint(pg_buf *b, uint64_t v)
{
    char tmp[10];
    return pg_buf_append(b, tmp, (size_t)(pg_ion_varuint_put(tmp, v) - tmp));
}

static int ion_td(pg_buf *b, int type, size_t len)
{
    char tmp[PG_ION_TD_MAX];
    return pg_buf_append(b, tmp, (size_t)(pg_ion_td_put(tmp, type, len) - tmp));
}

static int ion_scalar(pg_buf *b, int type, const void *data, size_t len)
{
    int rc = ion_td(b, type, len);
    return rc ? rc : pg_buf_append(b, data, len);
}

/* ---- pass 1: symbols and container lengths, nothing written */

static int m_open(pg_emit *e)
{
    DEPTH_CHECK(e);
    if (e->nlens == e->lens_cap) {
        size_t cap = e->lens_cap ? e->lens_cap * 2 : 256;
        uint32_t *l = realloc(e->lens, cap * sizeof *l);
        if (l == NULL)
            return PG_ENOMEM;
        e->lens = l;
        e->lens_cap = cap;
    }
    e->depth++;
    e->open_idx[e->depth] = e->nlens;
    e->lens[e->nlens++] = 0;
    e->open_at[e->depth] = e->pos;
    e->pos += 1;
    return PG_OK;
}

static int m_close(pg_emit *e)
{
    PG_ASSERT(e->depth > 0);
    size_t len = e->pos - e->open_at[e->depth] - 1;
    if (len > UINT32_MAX)
        return PG_ELIMIT;
    e->lens[e->open_idx[e->depth--]] = (uint32_t)len;
    e->pos += len < 14 ? 0 : pg_ion_varuint_len(len);
    return PG_OK;
}

/* Pass 1: the symbol of a field name, interned (or only found, in a frozen table). */
static uint32_t m_symbol(pg_emit *e, const char *name, size_t len)
{
    if (!e->symbols_frozen)
        return pg_strtab_intern(e->symbols, name, len);
    uint32_t id = pg_strtab_find(e->symbols, name, len);
    e->symbols_missed |= id == PG_STR_NONE;
    return id;
}

static int m_field(pg_emit *e, const char *name, size_t len)
{
    uint32_t id = m_symbol(e, name, len);
    if (id == PG_STR_NONE)
        return PG_ELIMIT;
    e->pos += pg_ion_varuint_len((uint64_t)id + PG_ION_SID_LOCAL_BASE);
    return PG_OK;
}

static int m_str(pg_emit *e, const char *s, size_t len)
{
    (void)s;
    e->pos += pg_ion_size(len);
    return PG_OK;
}

static int m_i64(pg_emit *e, int64_t v)
{
    unsigned char be[8];
    int type;
    e->pos += pg_ion_size(pg_ion_int_mag(v, &type, be));
    return PG_OK;
}

static int m_num(pg_emit *e, double v)
{
    if (pg_num_is_int(v))
        return m_i64(e, (int64_t)v);
    e->pos += pg_ion_size(8);
    return PG_OK;
}

static int m_bool(pg_emit *e, bool v)
{
    (void)v;
    e->pos += 1;
    return PG_OK;
}

static int m_null(pg_emit *e)
{
    e->pos += 1;
    return PG_OK;
}

static const pg_emit_ops measure_ops = {m_open, m_close, m_open, m_close, m_field,
                                        m_str,  m_i64,   m_num,  m_bool,  m_null};

/* ---- pass 2: the bytes, each container's length known as it opens */

static int w_open(pg_emit *e, int type)
{
    DEPTH_CHECK(e);
    PG_ASSERT(e->lens_next < e->nlens); /* pass 2 must open what pass 1 opened */
    e->depth++;
    return ion_td(e->out, type, e->lens[e->lens_next++]);
}

static int w_begin_struct(pg_emit *e) { return w_open(e, PG_ION_STRUCT); }
static int w_begin_list(pg_emit *e) { return w_open(e, PG_ION_LIST); }

static int w_end(pg_emit *e)
{
    PG_ASSERT(e->depth > 0);
    e->depth--;
    return PG_OK;
}

static int w_field(pg_emit *e, const char *name, size_t len)
{
    uint32_t id = pg_strtab_find(e->symbols, name, len);
    PG_ASSERT(id != PG_STR_NONE); /* every name was collected in pass 1 */
    return varuint(e->out, (uint64_t)id + PG_ION_SID_LOCAL_BASE);
}

static int w_str(pg_emit *e, const char *s, size_t len)
{
    return ion_scalar(e->out, PG_ION_STRING, s, len);
}

static int w_i64(pg_emit *e, int64_t v)
{
    unsigned char be[8];
    int type;
    size_t n = pg_ion_int_mag(v, &type, be);
    return ion_scalar(e->out, type, be, n);
}

static int w_num(pg_emit *e, double v)
{
    if (pg_num_is_int(v))
        return w_i64(e, (int64_t)v);
    unsigned char be[8];
    pg_ion_float_be(v, be);
    return ion_scalar(e->out, PG_ION_FLOAT, be, 8);
}

static int w_bool(pg_emit *e, bool v)
{
    unsigned char td = (unsigned char)(PG_ION_BOOL << 4 | (v ? 1 : 0));
    return pg_buf_append(e->out, &td, 1);
}

static int w_null(pg_emit *e)
{
    unsigned char td = 0x0F;
    return pg_buf_append(e->out, &td, 1);
}

static const pg_emit_ops ion_ops = {w_begin_struct, w_end, w_begin_list, w_end, w_field,
                                    w_str,          w_i64, w_num,        w_bool, w_null};



void pg_emit_ion_value_measured(pg_emit *e, size_t bytes)
{
    PG_ASSERT(e->ops == &measure_ops);
    e->pos += bytes;
}

uint32_t pg_emit_ion_symbol(pg_emit *e, const char *name, size_t len, uint32_t *sym)
{
    PG_ASSERT(e->ops == &measure_ops || e->ops == &ion_ops);
    if (*sym == PG_STR_NONE)
        *sym = e->ops == &measure_ops ? m_symbol(e, name, len) : pg_strtab_find(e->symbols, name, len);
    return *sym == PG_STR_NONE ? PG_STR_NONE : *sym + PG_ION_SID_LOCAL_BASE;
}

uint32_t pg_emit_ion_symbol_own(pg_emit *e, const char *name, size_t len, uint32_t *sym)
{
    /* Made in pass 1 only: a frozen table (a kept layout's) has every such symbol cached. */
    if (*sym == PG_STR_NONE && e->ops == &measure_ops && !e->symbols_frozen)
        *sym = pg_strtab_append(e->symbols, name, len);
    e->symbols_missed |= *sym == PG_STR_NONE && e->symbols_frozen;
    return *sym == PG_STR_NONE ? PG_STR_NONE : *sym + PG_ION_SID_LOCAL_BASE;
}

int pg_emit_ion_field_cached(pg_emit *e, const char *name, size_t len, uint32_t *sym)
{
    /* The first time is in pass 1, which interns (pass 2 only finds what pass 1 put). */
    return pg_emit_ion_field_sid(e, pg_emit_ion_symbol(e, name, len, sym));
}

int pg_emit_ion_field_sid(pg_emit *e, uint32_t sid)
{
    PG_ASSERT(e->ops == &measure_ops || e->ops == &ion_ops);
    if (sid == PG_STR_NONE)
        return PG_ELIMIT;
    if (e->ops == &measure_ops) {
        e->pos += pg_ion_varuint_len(sid);
        return PG_OK;
    }
    return varuint(e->out, sid);
}

void pg_emit_ion_measure(pg_emit *e, pg_strtab *symbols)
{
    e->ops = &measure_ops;
    e->out = NULL;
    e->depth = 0;
    e->symbols = symbols;
    e->nlens = e->lens_next = 0;
    e->pos = 0;
}

int pg_emit_ion_begin(pg_emit *e, pg_buf *out)
{
    static const unsigned char bvm[4] = {0xE0, 0x01, 0x00, 0xEA};
    PG_ASSERT(e->ops == &measure_ops && e->depth == 0);
    e->ops = &ion_ops;
    e->out = out;
    e->lens_next = 0;
    const pg_strtab *symbols = e->symbols;
    int rc = pg_buf_append(out, bvm, 4);
    if (rc != PG_OK || symbols->n == 0)
        return rc;
    /* $ion_symbol_table::{ symbols: [ "name", ... ] }, its lengths computed from the strings. */
    size_t list = 0;
    for (uint32_t id = 0; id < symbols->n; id++) {
        size_t len;
        pg_strtab_get(symbols, id, &len);
        list += pg_ion_size(len);
    }
    size_t strct = pg_ion_varuint_len(PG_ION_SID_SYMBOLS) + pg_ion_size(list);
    size_t annot = 1 + pg_ion_varuint_len(PG_ION_SID_SYMBOL_TABLE) + pg_ion_size(strct);
    rc = ion_td(out, PG_ION_ANNOT, annot);
    rc = rc ?: varuint(out, 1);                    /* annotation list length in bytes */
    rc = rc ?: varuint(out, PG_ION_SID_SYMBOL_TABLE); /* the annotation */
    rc = rc ?: ion_td(out, PG_ION_STRUCT, strct);
    rc = rc ?: varuint(out, PG_ION_SID_SYMBOLS);
    rc = rc ?: ion_td(out, PG_ION_LIST, list);
    /* The strings go straight into room reserved once: a profile's table holds thousands, and an
     * append with its own checks for each head and each string was a tenth of writing a kept answer. */
    rc = rc ?: pg_buf_reserve(out, list);
    if (rc != PG_OK)
        return rc;
    char *o = out->data + out->len;
    for (uint32_t id = 0; id < symbols->n; id++) {
        size_t len;
        const char *s = pg_strtab_get(symbols, id, &len);
        o = pg_ion_td_put(o, PG_ION_STRING, len);
        memcpy(o, s, len);
        o += len;
    }
    PG_ASSERT((size_t)(o - (out->data + out->len)) == list);
    out->len += list;
    return PG_OK;
}

bool pg_emit_done(const pg_emit *e)
{
    return e->depth == 0 && (e->ops != &ion_ops || e->lens_next == e->nlens);
}

void pg_emit_free(pg_emit *e)
{
    free(e->lens);
    e->lens = NULL;
    e->nlens = e->lens_cap = e->lens_next = 0;
}
