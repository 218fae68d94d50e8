/*
 * buf.c: bounded growable buffer. Growth doubles to amortize appends but never past the limit
 * declared at init, so a peer cannot make us allocate more than the limit.
 */
#include "profgate/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pg_buf_init(pg_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void pg_buf_free(pg_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void pg_buf_shrink(pg_buf *b)
{
    if (b->data == NULL || b->cap == b->len)
        return;
    if (b->len == 0) {
        pg_buf_free(b);
        return;
    }
    char *d = realloc(b->data, b->len);
    if (d != NULL) {
        b->data = d;
        b->cap = b->len;
    }
}

void pg_buf_reset(pg_buf *b)
{
    b->len = 0;
}

int pg_buf_reserve(pg_buf *b, size_t n)
{
    if (n > b->limit - b->len)
        return PG_ELIMIT;
    size_t need = b->len + n;
    if (need <= b->cap)
        return PG_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->limit)
        cap = b->limit;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return PG_ENOMEM;
    b->data = p;
    b->cap = cap;
    return PG_OK;
}

int pg_buf_append_slow(pg_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return PG_OK;
    int rc = pg_buf_reserve(b, n);
    if (rc != PG_OK)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return PG_OK;
}

int pg_buf_puts(pg_buf *b, const char *s)
{
    return pg_buf_append(b, s, strlen(s));
}

int pg_buf_printf(pg_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PG_EINVAL;
    if ((size_t)n < sizeof small)
        return pg_buf_append(b, small, (size_t)n);
    /* Long output: format straight into reserved space (+1 for vsnprintf's NUL). */
    int rc = pg_buf_reserve(b, (size_t)n + 1);
    if (rc != PG_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return PG_OK;
}

void pg_buf_consume(pg_buf *b, size_t n)
{
    PG_ASSERT(n <= b->len);
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
