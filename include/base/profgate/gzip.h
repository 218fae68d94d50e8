/*
 * gzip.h: gzip compression (zlib), whole buffers and streams. The stream form lets a response be
 * compressed piece by piece as it is produced, so no uncompressed copy of the whole body is held.
 */
#ifndef PG_GZIP_H
#define PG_GZIP_H

#include "profgate/buf.h"

/** Appends the gzip encoding of in[0..len) to out. */
int pg_gzip(const void *in, size_t len, int level, pg_buf *out);

typedef struct pg_gzip_stream pg_gzip_stream;

/** A gzip stream at the given level (1-9). */
int pg_gzip_stream_new(int level, pg_gzip_stream **out);
/**
 * Compresses in[0..len) and appends whatever output is ready to out (possibly nothing); with
 * finish, flushes everything and writes the gzip trailer (no more writes after that).
 */
int pg_gzip_stream_write(pg_gzip_stream *g, const void *in, size_t len, bool finish, pg_buf *out);
void pg_gzip_stream_free(pg_gzip_stream *g);

#endif
