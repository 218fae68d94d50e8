/*
 * gzip.c: gzip with deflate (windowBits 15 + 16 selects the gzip wrapper), one-shot and streamed.
 */
#include "profgate/gzip.h"

#include <stdlib.h>
#include <zlib.h>

int pg_gzip(const void *in, size_t len, int level, pg_buf *out)
{
    z_stream z = {0};
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return PG_ENOMEM;
    uLong bound = deflateBound(&z, (uLong)len);
    int rc = pg_buf_reserve(out, bound);
    if (rc != PG_OK) {
        deflateEnd(&z);
        return rc;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)bound;
    int zr = deflate(&z, Z_FINISH);
    out->len += bound - z.avail_out;
    deflateEnd(&z);
    return zr == Z_STREAM_END ? PG_OK : PG_EIO;
}

struct pg_gzip_stream {
    z_stream z;
    bool finished;
};

int pg_gzip_stream_new(int level, pg_gzip_stream **out)
{
    pg_gzip_stream *g = calloc(1, sizeof *g);
    *out = NULL;
    if (g == NULL)
        return PG_ENOMEM;
    if (deflateInit2(&g->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(g);
        return PG_ENOMEM;
    }
    *out = g;
    return PG_OK;
}

int pg_gzip_stream_write(pg_gzip_stream *g, const void *in, size_t len, bool finish, pg_buf *out)
{
    PG_ASSERT(!g->finished && len <= UINT32_MAX);
    g->z.next_in = (Bytef *)in;
    g->z.avail_in = (uInt)len;
    int flush = finish ? Z_FINISH : Z_NO_FLUSH;
    for (;;) {
        /* deflateBound covers what this input can add; the loop covers what deflate held back. */
        size_t room = deflateBound(&g->z, (uLong)g->z.avail_in) + 64;
        int rc = pg_buf_reserve(out, room);
        if (rc != PG_OK)
            return rc;
        g->z.next_out = (Bytef *)out->data + out->len;
        g->z.avail_out = (uInt)room;
        int zr = deflate(&g->z, flush);
        out->len += room - g->z.avail_out;
        if (zr == Z_STREAM_END) {
            g->finished = true;
            return PG_OK;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return PG_EIO;
        if (!finish && g->z.avail_in == 0 && g->z.avail_out > 0)
            return PG_OK;
    }
}

void pg_gzip_stream_free(pg_gzip_stream *g)
{
    if (g == NULL)
        return;
    deflateEnd(&g->z);
    free(g);
}
