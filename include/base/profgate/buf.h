/*
 * buf.h: a growable byte buffer that declares its limit when created. Every buffer that holds
 * outside input or output derived from it is a pg_buf, so no byte sequence can grow without a
 * bound. It knows nothing of what it holds.
 */
#ifndef PG_BUF_H
#define PG_BUF_H

#include "profgate/common.h"

#include <string.h>

typedef struct pg_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit; /* len never exceeds this */
} pg_buf;

/** Initializes an empty buffer that may grow up to limit bytes; allocates nothing yet. */
void pg_buf_init(pg_buf *b, size_t limit);
/** Frees the storage; the buffer may be reused after pg_buf_init. */
void pg_buf_free(pg_buf *b);
/** Empties the buffer, keeping its storage. */
void pg_buf_reset(pg_buf *b);
/** Makes room for n more bytes. PG_ELIMIT past the limit, PG_ENOMEM when allocation fails. */
int pg_buf_reserve(pg_buf *b, size_t n);
int pg_buf_append_slow(pg_buf *b, const void *p, size_t n);
/** Appends n bytes; inline because writers call it for every few bytes they produce. */
static inline int pg_buf_append(pg_buf *b, const void *p, size_t n)
{
    if (n <= b->cap - b->len && b->data != NULL) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return PG_OK;
    }
    return pg_buf_append_slow(b, p, n);
}
int pg_buf_puts(pg_buf *b, const char *s);
int pg_buf_printf(pg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Gives back the room past len (best effort: a failed shrink keeps the larger block), for a
 *  buffer that is kept as it is and charged at its length. */
void pg_buf_shrink(pg_buf *b);
/** Removes the first n bytes. */
void pg_buf_consume(pg_buf *b, size_t n);

#endif
