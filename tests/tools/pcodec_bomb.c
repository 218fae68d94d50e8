/* Test helper: turns a cache value (a Redis value of a bucket, on stdin) into a value bomb that
 * carries the same profile plus metadata of ITEMS empty lists, and writes it to stdout. The frame
 * is compressed here (zstd at level 19, with its checksum) rather than by pg_pcodec_encode, which
 * refuses to write what the decoder refuses to read. test_hostile.py plants it in Redis.
 * Usage: pcodec_bomb ITEMS < value > bomb */
#include "profgate/pcodec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

int main(int argc, char **argv)
{
    unsigned long items = argc == 2 ? strtoul(argv[1], NULL, 10) : 0;
    if (items == 0) {
        fprintf(stderr, "usage: pcodec_bomb ITEMS < value > bomb\n");
        return 64;
    }
    pg_buf in;
    pg_buf_init(&in, (size_t)256 << 20);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (pg_buf_append(&in, chunk, n) != PG_OK)
            return 1;
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    pg_profile p;
    char why[200];
    if (pg_profile_init(&p, &lim) != PG_OK || pg_pcodec_decode(in.data, in.len, (size_t)256 << 20, &p, why, sizeof why)) {
        fprintf(stderr, "pcodec_bomb: not a cache value: %s\n", why);
        return 1;
    }
    pg_value_free(p.meta_extra);
    p.meta_extra = pg_value_struct_new();
    pg_value *bomb = pg_value_set(p.meta_extra, "bomb", 4);
    if (bomb == NULL)
        return 1;
    bomb->kind = PG_V_LIST;
    bomb->items = calloc(items, sizeof *bomb->items); /* each item: an empty list */
    if (bomb->items == NULL)
        return 1;
    for (unsigned long i = 0; i < items; i++)
        bomb->items[i].kind = PG_V_LIST;
    bomb->n = bomb->cap = items;
    pg_buf raw, out;
    pg_buf_init(&raw, (size_t)1 << 30);
    pg_buf_init(&out, (size_t)1 << 30);
    if (pg_pcodec_encode_raw(&p, &raw) != PG_OK || pg_buf_reserve(&out, 4 + ZSTD_compressBound(raw.len)) != PG_OK)
        return 1;
    memcpy(out.data, "PGZ", 3);
    out.data[3] = PG_PCODEC_VERSION;
    ZSTD_CCtx *cx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cx, ZSTD_c_compressionLevel, 19);
    ZSTD_CCtx_setParameter(cx, ZSTD_c_checksumFlag, 1);
    size_t z = ZSTD_compress2(cx, out.data + 4, ZSTD_compressBound(raw.len), raw.data, raw.len);
    ZSTD_freeCCtx(cx);
    if (ZSTD_isError(z))
        return 1;
    fwrite(out.data, 1, 4 + z, stdout);
    fprintf(stderr, "pcodec_bomb: %zu bytes decompress to %zu\n", 4 + z, raw.len);
    pg_buf_free(&raw);
    pg_buf_free(&out);
    pg_buf_free(&in);
    pg_profile_free(&p);
    return 0;
}
