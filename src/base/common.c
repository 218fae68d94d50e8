/*
 * common.c: error names, the assert failure path and the aborting allocator. Nothing here may
 * depend on another profgate module.
 */
#include "profgate/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *pg_strerror(int err)
{
    switch (err) {
    case PG_OK: return "ok";
    case PG_ENOMEM: return "out of memory";
    case PG_ELIMIT: return "limit exceeded";
    case PG_EINVAL: return "invalid input";
    case PG_ERANGE: return "value out of range";
    case PG_EIO: return "I/O error";
    case PG_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}

void pg_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "profgate: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    fflush(stderr);
    abort();
}

void pg_check_fail(const char *expr, int rc, const char *file, int line, const char *func)
{
    fprintf(stderr, "profgate: call failed: %s returned %d (%s:%d, %s)\n", expr, rc, file, line, func);
    fflush(stderr);
    abort();
}

void *pg_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) {
        fprintf(stderr, "profgate: out of memory allocating %zu x %zu bytes\n", n, size);
        abort();
    }
    return p;
}

uint64_t pg_hash64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = UINT64_C(1469598103934665603);
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* The high and low halves of a 64x64-bit product folded together: every input bit reaches many
 * output bits in one multiply (the mixing step of the "mum" family of hashes). */
static uint64_t mum(uint64_t a, uint64_t b)
{
    __extension__ typedef unsigned __int128 u128;
    u128 r = (u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t pg_hash_mem(const void *p, size_t n)
{
    const unsigned char *b = p;
    const uint64_t k1 = UINT64_C(0xa0761d6478bd642f), k2 = UINT64_C(0xe7037ed1a0b428db);
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = mum(h ^ w ^ k1, k2);
    }
    uint64_t t = 0; /* the last 0-7 bytes, little end first */
    for (size_t k = 0; i + k < n; k++)
        t |= (uint64_t)b[i + k] << (8 * k);
    return mum(h ^ t ^ k2, k1 ^ (uint64_t)n);
}

bool pg_memdup(void **out, const void *p, size_t n)
{
    *out = NULL;
    if (p == NULL || n == 0)
        return true;
    *out = malloc(n);
    if (*out != NULL)
        memcpy(*out, p, n);
    return *out != NULL;
}

bool pg_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *a = realloc(*arr, n * elem);
    if (a == NULL)
        return false;
    *arr = a;
    *cap = n;
    return true;
}

char *pg_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

bool pg_strieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0 (overlong forms, surrogates
 * and code points past U+10FFFF are not valid). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    unsigned min, cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        k = 2, min = 0x80, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 3, min = 0x800, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : k;
}

char *pg_utf8_echo(const char *in, size_t len, char *out, size_t outlen)
{
    PG_ASSERT(outlen >= 4);
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0, i = 0;
    while (i < len) {
        size_t k = utf8_len(s + i, len - i);
        /* Quotes too: the message quotes the value itself. */
        bool control = k == 1 && (s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' || s[i] == '\'');
        size_t w = k == 0 || control ? 1 : k;
        if (o + w + 1 > outlen)
            break;
        if (k == 0 || control)
            out[o] = '?';
        else
            memcpy(out + o, in + i, k);
        o += w;
        i += k == 0 ? 1 : k;
    }
    if (i < len) {
        /* Back off to a character boundary that leaves room for "...". */
        while (o > 0 && o + 4 > outlen)
            o--;
        while (o > 0 && ((unsigned char)out[o] & 0xc0) == 0x80)
            o--;
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

char *pg_header_safe(const char *in, size_t len, char *out, size_t outlen)
{
    PG_ASSERT(outlen >= 1);
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < outlen; i++) {
        unsigned char ch = (unsigned char)in[i];
        out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[o] = '\0';
    return out;
}

char *pg_printable(const char *in, size_t len, char *out, size_t outlen)
{
    PG_ASSERT(outlen >= 4);
    size_t o = 0, i = 0;
    for (; i < len && o + 1 < outlen; i++) {
        unsigned char ch = (unsigned char)in[i];
        out[o++] = (ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\'') ? (char)ch : '?';
    }
    if (i < len) {
        o = PG_MIN(o, outlen - 4);
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}
