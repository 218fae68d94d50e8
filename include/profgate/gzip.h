/*
 * gzip.h: gzip compression of a whole buffer (zlib). Streaming output arrives with the merge
 * issue (#6); the simulator compresses its (memoized) bodies whole.
 */
#ifndef PG_GZIP_H
#define PG_GZIP_H

#include "profgate/buf.h"

/** Appends the gzip encoding of in[0..len) to out. */
int pg_gzip(const void *in, size_t len, int level, pg_buf *out);

#endif
