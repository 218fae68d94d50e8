/*
 * pcodec.c: the cache encoding.
 *
 *   "PGZ" version   then one zstd frame (content size and checksum on) holding:
 *   flags           which of start, end, duration, samples, cpu, weights are present
 *   strings         count, then (length, bytes) each: every name the profile interned, by id
 *   start, end      zigzag varints (when present)
 *   duration, samples, cpu   numbers (when present)
 *   weights         count, then (string id, number)
 *   meta extra, top extra    value trees (tag-encoded), each preceded by a presence byte
 *   nodes           count (root included), then per node after the root: parent, name id,
 *                   node flags, file id, line range; then per node: count of counts, (id, number)
 *
 * Numbers: integral values within 2^53 as (zigzag << 1) varints, others as 1 then 8 IEEE bytes.
 * Node ids are written in creation order, where a parent always precedes its children, so the
 * decoder can rebuild the tree with pg_profile_child in one pass.
 */
#include "profgate/pcodec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

enum { F_START = 1, F_END = 2, F_DURATION = 4, F_SAMPLES = 8, F_CPU = 16, F_WEIGHTS = 32 };
enum { N_FILE = 1, N_LINE = 2 };

/* ------------------------------------------------------------------ writing */

static int put_varint(pg_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    return pg_buf_append(b, tmp, n);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int put_num(pg_buf *b, double v)
{
    if (pg_num_is_int(v))
        return put_varint(b, zigzag((int64_t)v) << 1);
    unsigned char tmp[9] = {1};
    memcpy(tmp + 1, &v, 8);
    return pg_buf_append(b, tmp, 9);
}

static int put_bytes(pg_buf *b, const char *s, size_t len)
{
    int rc = put_varint(b, len);
    return rc ?: pg_buf_append(b, s, len);
}

static int put_value(pg_buf *b, const pg_value *v)
{
    unsigned char tag;
    switch (v->kind) {
    case PG_V_NULL: tag = 0; return pg_buf_append(b, &tag, 1);
    case PG_V_BOOL: tag = v->b ? 2 : 1; return pg_buf_append(b, &tag, 1);
    case PG_V_NUM: tag = 3; return pg_buf_append(b, &tag, 1) ?: put_num(b, v->num);
    case PG_V_STR: tag = 4; return pg_buf_append(b, &tag, 1) ?: put_bytes(b, v->str, v->str_len);
    case PG_V_LIST:
    case PG_V_STRUCT: {
        tag = v->kind == PG_V_LIST ? 5 : 6;
        int rc = pg_buf_append(b, &tag, 1);
        rc = rc ?: put_varint(b, v->n);
        for (size_t i = 0; rc == PG_OK && i < v->n; i++) {
            if (v->kind == PG_V_STRUCT)
                rc = put_bytes(b, v->items[i].key, v->items[i].key_len);
            rc = rc ?: put_value(b, &v->items[i]);
        }
        return rc;
    }
    }
    return PG_EINVAL;
}

static int put_optional_value(pg_buf *b, const pg_value *v)
{
    unsigned char present = v != NULL;
    int rc = pg_buf_append(b, &present, 1);
    return rc || !present ? rc : put_value(b, v);
}

bool pg_pcodec_ratio_ok(unsigned long long raw, size_t stored)
{
    return raw <= PG_PCODEC_RAW_FREE || raw / PG_PCODEC_MAX_RATIO < stored;
}

int pg_pcodec_encode_raw(const pg_profile *p, pg_buf *raw)
{
    unsigned char flags = (unsigned char)((p->has_start ? F_START : 0) | (p->has_end ? F_END : 0) |
                                          (p->has_duration ? F_DURATION : 0) | (p->has_samples ? F_SAMPLES : 0) |
                                          (p->has_cpu ? F_CPU : 0) | (p->has_weights ? F_WEIGHTS : 0));
    int rc = pg_buf_append(raw, &flags, 1);
    rc = rc ?: put_varint(raw, p->strs.n);
    for (uint32_t i = 0; rc == PG_OK && i < p->strs.n; i++) {
        size_t len;
        const char *s = pg_strtab_get(&p->strs, i, &len);
        rc = put_bytes(raw, s, len);
    }
    if (rc == PG_OK && p->has_start)
        rc = put_varint(raw, zigzag(p->start_ms));
    if (rc == PG_OK && p->has_end)
        rc = put_varint(raw, zigzag(p->end_ms));
    if (rc == PG_OK && p->has_duration)
        rc = put_num(raw, p->duration_ms);
    if (rc == PG_OK && p->has_samples)
        rc = put_num(raw, p->num_samples);
    if (rc == PG_OK && p->has_cpu)
        rc = put_num(raw, p->cpu_s);
    if (rc == PG_OK && p->has_weights) {
        rc = put_varint(raw, p->nweights);
        for (uint32_t i = 0; rc == PG_OK && i < p->nweights; i++) {
            rc = put_varint(raw, p->weights[i].counter);
            rc = rc ?: put_num(raw, p->weights[i].value);
        }
    }
    rc = rc ?: put_optional_value(raw, p->meta_extra);
    rc = rc ?: put_optional_value(raw, p->top_extra);
    rc = rc ?: put_varint(raw, p->n);
    for (uint32_t i = 1; rc == PG_OK && i < p->n; i++) {
        const pg_pnode *nd = &p->nodes[i];
        int64_t lmin = 0, lmax = 0;
        bool has_line = pg_profile_line(p, nd, &lmin, &lmax);
        unsigned char nf = (unsigned char)((nd->file != PG_STR_NONE ? N_FILE : 0) | (has_line ? N_LINE : 0));
        rc = put_varint(raw, nd->parent);
        rc = rc ?: put_varint(raw, nd->name);
        rc = rc ?: pg_buf_append(raw, &nf, 1);
        if (rc == PG_OK && (nf & N_FILE))
            rc = put_varint(raw, nd->file);
        if (rc == PG_OK && (nf & N_LINE)) {
            rc = put_varint(raw, zigzag(lmin));
            rc = rc ?: put_varint(raw, (uint64_t)lmax - (uint64_t)lmin);
        }
    }
    for (uint32_t i = 0; rc == PG_OK && i < p->n; i++) {
        const pg_pnode *nd = &p->nodes[i];
        rc = put_varint(raw, nd->ncounts);
        for (uint32_t k = 0; rc == PG_OK && k < nd->ncounts; k++) {
            rc = put_varint(raw, p->pool[nd->counts + k].counter);
            rc = rc ?: put_num(raw, p->pool[nd->counts + k].value);
        }
    }
    return rc;
}

int pg_pcodec_encode(const pg_profile *p, int level, pg_buf *out)
{
    pg_buf raw;
    pg_buf_init(&raw, (size_t)1 << 30);
    int rc = pg_pcodec_encode_raw(p, &raw);
    if (rc == PG_OK) {
        size_t bound = ZSTD_compressBound(raw.len);
        rc = pg_buf_reserve(out, 4 + bound);
        if (rc == PG_OK) {
            memcpy(out->data + out->len, "PGZ", 3);
            out->data[out->len + 3] = PG_PCODEC_VERSION;
            ZSTD_CCtx *cx = ZSTD_createCCtx();
            size_t n = cx ? ZSTD_CCtx_setParameter(cx, ZSTD_c_compressionLevel, level) : 0;
            if (cx && !ZSTD_isError(n))
                n = ZSTD_CCtx_setParameter(cx, ZSTD_c_checksumFlag, 1);
            if (cx && !ZSTD_isError(n))
                n = ZSTD_compress2(cx, out->data + out->len + 4, bound, raw.data, raw.len);
            if (cx == NULL || ZSTD_isError(n))
                rc = PG_EIO;
            else if (!pg_pcodec_ratio_ok(raw.len, 4 + n))
                rc = PG_ELIMIT; /* the decoder would refuse it: never store what cannot be read */
            else
                out->len += 4 + n;
            ZSTD_freeCCtx(cx);
        }
    }
    pg_buf_free(&raw);
    return rc;
}

/* ------------------------------------------------------------------ reading */

typedef struct {
    const unsigned char *p, *end;
    const char *err;
    size_t vbytes, vmax; /* memory the carried values take, and its limit */
} reader;

/* Charges n bytes of value memory before they are allocated: a value of many empty items
 * compresses to almost nothing and would expand fortyfold in memory (a value bomb). */
static bool charge(reader *r, size_t n)
{
    if (n > r->vmax - r->vbytes) {
        r->err = "carried values exceed their memory limit";
        return false;
    }
    r->vbytes += n;
    return true;
}

static bool get_varint(reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            r->err = "truncated";
            return false;
        }
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return true;
        }
    }
    r->err = "varint too long";
    return false;
}

static bool get_u32(reader *r, uint32_t *out, uint64_t limit)
{
    uint64_t v;
    if (!get_varint(r, &v))
        return false;
    if (v >= limit) {
        r->err = "index out of range";
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

static bool get_num(reader *r, double *out)
{
    if (r->p >= r->end) {
        r->err = "truncated";
        return false;
    }
    if (*r->p == 1) {
        if (r->end - r->p < 9) {
            r->err = "truncated";
            return false;
        }
        memcpy(out, r->p + 1, 8);
        r->p += 9;
        return true;
    }
    uint64_t v;
    if (!get_varint(r, &v))
        return false;
    if (v & 1) {
        r->err = "bad number tag";
        return false;
    }
    *out = (double)unzigzag(v >> 1);
    return true;
}

static bool get_bytes(reader *r, const char **s, size_t *len)
{
    uint64_t n;
    if (!get_varint(r, &n))
        return false;
    if (n > (uint64_t)(r->end - r->p)) {
        r->err = "truncated";
        return false;
    }
    *s = (const char *)r->p;
    *len = (size_t)n;
    r->p += n;
    return true;
}

static bool get_value(reader *r, pg_value *v, int depth)
{
    if (depth > PG_VALUE_DEPTH_MAX) {
        r->err = "value nests too deeply";
        return false;
    }
    if (r->p >= r->end) {
        r->err = "truncated";
        return false;
    }
    unsigned char tag = *r->p++;
    switch (tag) {
    case 0: v->kind = PG_V_NULL; return true;
    case 1:
    case 2: v->kind = PG_V_BOOL; v->b = tag == 2; return true;
    case 3: v->kind = PG_V_NUM; return get_num(r, &v->num);
    case 4: {
        const char *s;
        size_t n;
        if (!get_bytes(r, &s, &n))
            return false;
        if (!charge(r, n + 1))
            return false;
        v->kind = PG_V_STR;
        v->str = pg_strndup(s, n);
        v->str_len = n;
        return v->str != NULL || (r->err = "out of memory", false);
    }
    case 5:
    case 6: {
        uint64_t n;
        if (!get_varint(r, &n))
            return false;
        if (n > (uint64_t)(r->end - r->p)) { /* every item takes at least one byte */
            r->err = "truncated";
            return false;
        }
        if (!charge(r, (size_t)n * sizeof *v->items))
            return false;
        v->kind = tag == 5 ? PG_V_LIST : PG_V_STRUCT;
        v->items = calloc(n ? n : 1, sizeof *v->items);
        if (v->items == NULL) {
            r->err = "out of memory";
            return false;
        }
        v->cap = n;
        for (uint64_t i = 0; i < n; i++) {
            pg_value *it = &v->items[v->n++];
            if (tag == 6) {
                const char *k;
                size_t kl;
                if (!get_bytes(r, &k, &kl) || !charge(r, kl + 1))
                    return false;
                if ((it->key = pg_strndup(k, kl)) == NULL) {
                    r->err = "out of memory";
                    return false;
                }
                it->key_len = kl;
            }
            if (!get_value(r, it, depth + 1))
                return false;
        }
        return true;
    }
    default:
        r->err = "bad value tag";
        return false;
    }
}

/* An optional set of extra members (fields of an object the profile carries but does not model):
 * a structure, since the writer emits its members into that object. */
static bool get_optional_members(reader *r, pg_value **out)
{
    if (r->p >= r->end) {
        r->err = "truncated";
        return false;
    }
    if (*r->p++ == 0)
        return true;
    pg_value *v = calloc(1, sizeof *v);
    if (v == NULL) {
        r->err = "out of memory";
        return false;
    }
    *out = v; /* owned by the profile even if decoding fails below */
    if (!get_value(r, v, 0))
        return false;
    if (v->kind != PG_V_STRUCT) {
        r->err = "extra members are not a structure";
        return false;
    }
    return true;
}

/* Reads the encoding's sections in the order encode_raw wrote them (header, strings, weights,
 * metadata, nodes, counts). It is long because the format is a sequence; each read is bounded and
 * checked, and splitting it would only scatter one linear reader across functions. */
static int decode_raw(reader *r, pg_profile *p)
{
    if (r->p >= r->end)
        return r->err = "empty", PG_EINVAL;
    unsigned char flags = *r->p++;
    uint64_t nstr;
    if (!get_varint(r, &nstr))
        return PG_EINVAL;
    /* Bound the count before allocating for it: by the limit, and by the bytes left (every
     * string takes at least its one-byte length). */
    if (nstr > p->lim.max_strings || nstr > (uint64_t)(r->end - r->p)) {
        r->err = "too many strings";
        return PG_ELIMIT;
    }
    uint32_t *ids = malloc((nstr ? nstr : 1) * sizeof *ids);
    if (ids == NULL) {
        r->err = "out of memory";
        return PG_ENOMEM;
    }
    int rc = PG_OK;
    for (uint64_t i = 0; i < nstr; i++) {
        const char *s;
        size_t n;
        if (!get_bytes(r, &s, &n)) {
            rc = PG_EINVAL;
            break;
        }
        ids[i] = pg_strtab_intern(&p->strs, s, n);
        if (ids[i] == PG_STR_NONE) {
            r->err = "string limits";
            rc = PG_ELIMIT;
            break;
        }
    }
    uint64_t v;
    if (rc == PG_OK && (flags & F_START)) {
        if (get_varint(r, &v)) {
            p->has_start = true;
            p->start_ms = unzigzag(v);
        } else {
            rc = PG_EINVAL;
        }
    }
    if (rc == PG_OK && (flags & F_END)) {
        if (get_varint(r, &v)) {
            p->has_end = true;
            p->end_ms = unzigzag(v);
        } else {
            rc = PG_EINVAL;
        }
    }
    if (rc == PG_OK && (flags & F_DURATION))
        rc = (p->has_duration = get_num(r, &p->duration_ms)) ? PG_OK : PG_EINVAL;
    if (rc == PG_OK && (flags & F_SAMPLES))
        rc = (p->has_samples = get_num(r, &p->num_samples)) ? PG_OK : PG_EINVAL;
    if (rc == PG_OK && (flags & F_CPU))
        rc = (p->has_cpu = get_num(r, &p->cpu_s)) ? PG_OK : PG_EINVAL;
    if (rc == PG_OK && (flags & F_WEIGHTS)) {
        uint64_t nw;
        if (!get_varint(r, &nw) || nw > PG_ARRAY_LEN(p->weights)) {
            r->err = r->err ? r->err : "too many weights";
            rc = PG_EINVAL;
        }
        p->has_weights = true;
        for (uint64_t i = 0; rc == PG_OK && i < nw; i++) {
            uint32_t sid;
            double w;
            if (!get_u32(r, &sid, nstr) || !get_num(r, &w)) {
                rc = PG_EINVAL;
                break;
            }
            p->weights[p->nweights++] = (pg_count){ids[sid], w};
        }
    }
    if (rc == PG_OK && (!get_optional_members(r, &p->meta_extra) || !get_optional_members(r, &p->top_extra)))
        rc = PG_EINVAL;
    uint32_t nnodes = 0;
    if (rc == PG_OK && (!get_u32(r, &nnodes, (uint64_t)p->lim.max_nodes + 1) || nnodes == 0)) {
        r->err = r->err ? r->err : "no root";
        rc = PG_EINVAL;
    }
    for (uint32_t i = 1; rc == PG_OK && i < nnodes; i++) {
        uint32_t parent, name;
        if (!get_u32(r, &parent, i) || !get_u32(r, &name, nstr) || r->p >= r->end) {
            r->err = r->err ? r->err : "truncated";
            rc = PG_EINVAL;
            break;
        }
        unsigned char nf = *r->p++;
        size_t len;
        const char *s = pg_strtab_get(&p->strs, ids[name], &len);
        uint32_t id = pg_profile_child(p, parent, s, len);
        if (id != i) {
            /* A duplicate (parent, name) or a limit: either way not what was encoded. */
            r->err = id == PG_NODE_NONE ? "node limits" : "duplicate child";
            rc = id == PG_NODE_NONE ? PG_ELIMIT : PG_EINVAL;
            break;
        }
        if (nf & N_FILE) {
            uint32_t fid;
            if (!get_u32(r, &fid, nstr)) {
                rc = PG_EINVAL;
                break;
            }
            p->nodes[i].file = ids[fid];
        }
        if (nf & N_LINE) {
            uint64_t lo, span;
            if (!get_varint(r, &lo) || !get_varint(r, &span) || span > INT64_MAX / 2) {
                r->err = r->err ? r->err : "bad line";
                rc = PG_EINVAL;
                break;
            }
            int64_t min = unzigzag(lo), max;
            if (__builtin_add_overflow(min, (int64_t)span, &max)) {
                r->err = "bad line";
                rc = PG_EINVAL;
                break;
            }
            if ((rc = pg_profile_add_line(p, i, min, max)) != PG_OK) {
                r->err = "line ranges past their limit";
                break;
            }
        }
    }
    for (uint32_t i = 0; rc == PG_OK && i < nnodes; i++) {
        uint64_t nc;
        if (!get_varint(r, &nc) || nc > (uint64_t)(r->end - r->p)) {
            r->err = r->err ? r->err : "truncated";
            rc = PG_EINVAL;
            break;
        }
        for (uint64_t k = 0; rc == PG_OK && k < nc; k++) {
            uint32_t cid;
            double val;
            if (!get_u32(r, &cid, nstr) || !get_num(r, &val)) {
                rc = PG_EINVAL;
                break;
            }
            size_t len;
            const char *s = pg_strtab_get(&p->strs, ids[cid], &len);
            if (pg_profile_add_count(p, i, s, len, val) != PG_OK) {
                r->err = "count limits";
                rc = PG_ELIMIT;
            }
        }
    }
    if (rc == PG_OK && r->p != r->end) {
        r->err = "trailing bytes";
        rc = PG_EINVAL;
    }
    free(ids);
    return rc;
}

int pg_pcodec_decode(const void *data, size_t len, size_t max_raw, pg_profile *p, char *why, size_t whylen)
{
    const unsigned char *d = data;
    if (len < 4 || memcmp(d, "PGZ", 3) != 0) {
        snprintf(why, whylen, "not a profgate cache value");
        return PG_EINVAL;
    }
    if (d[3] != PG_PCODEC_VERSION) {
        snprintf(why, whylen, "cache format version %u, expected %u", d[3], PG_PCODEC_VERSION);
        return PG_EINVAL;
    }
    unsigned long long size = ZSTD_getFrameContentSize(d + 4, len - 4);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
        snprintf(why, whylen, "corrupt compressed frame");
        return PG_EINVAL;
    }
    if (size > max_raw) {
        snprintf(why, whylen, "decompressed size %llu exceeds %zu", size, max_raw);
        return PG_ELIMIT;
    }
    if (!pg_pcodec_ratio_ok(size, len)) {
        snprintf(why, whylen, "a %zu-byte value declares %llu bytes decompressed (over %dx): a value bomb", len,
                 size, PG_PCODEC_MAX_RATIO);
        return PG_EINVAL;
    }
    unsigned char *raw = malloc(size ? size : 1);
    if (raw == NULL) {
        snprintf(why, whylen, "out of memory");
        return PG_ENOMEM;
    }
    size_t n = ZSTD_decompress(raw, size, d + 4, len - 4);
    if (ZSTD_isError(n) || n != size) {
        snprintf(why, whylen, "decompression failed: %s", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short");
        free(raw);
        return PG_EINVAL;
    }
    int rc = pg_pcodec_decode_raw(raw, n, p, why, whylen);
    free(raw);
    return rc;
}

int pg_pcodec_decode_raw(const void *raw, size_t len, pg_profile *p, char *why, size_t whylen)
{
    const unsigned char *d = raw;
    reader r = {d, d + len, NULL, 0, p->lim.max_value_bytes};
    int rc = decode_raw(&r, p);
    if (rc != PG_OK)
        snprintf(why, whylen, "corrupt cache value: %s", r.err ? r.err : "invalid");
    return rc;
}
