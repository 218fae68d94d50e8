/*
 * gzip.c: one-shot gzip with deflate (windowBits 15 + 16 selects the gzip wrapper).
 */
#include "profgate/gzip.h"

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
