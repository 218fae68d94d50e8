/* Fuzz target: decoding cache values (they come back from Redis, which anyone with access could
 * have written). Decoding must never crash or exceed limits; what decodes must re-encode and
 * decode to the same profile. */
#include "profgate/pcodec.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pg_profile_limits lim = {.max_nodes = 4000, .max_depth = 64, .max_strings = 4000, .max_string_bytes = 1 << 20,
                             .max_counts = 8000, .max_value_bytes = 1 << 20};
    pg_profile p;
    if (pg_profile_init(&p, &lim) != PG_OK)
        return 0;
    char why[160];
#ifdef PG_FUZZ_RAW
    int rc = pg_pcodec_decode_raw(data, size, &p, why, sizeof why);
#else
    int rc = pg_pcodec_decode(data, size, 4 << 20, &p, why, sizeof why);
#endif
    if (rc == PG_OK) {
        pg_buf a, b, enc;
        pg_buf_init(&a, 64 << 20);
        pg_buf_init(&b, 64 << 20);
        pg_buf_init(&enc, 64 << 20);
        PG_ASSERT(pg_profile_encode(&p, false, 0, &a) == PG_OK);
        PG_ASSERT(pg_pcodec_encode(&p, 1, &enc) == PG_OK);
        pg_profile q;
        PG_ASSERT(pg_profile_init(&q, &lim) == PG_OK);
        PG_ASSERT(pg_pcodec_decode(enc.data, enc.len, 64 << 20, &q, why, sizeof why) == PG_OK);
        PG_ASSERT(pg_profile_encode(&q, false, 0, &b) == PG_OK);
        PG_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        pg_profile_free(&q);
        pg_buf_free(&a);
        pg_buf_free(&b);
        pg_buf_free(&enc);
    }
    pg_profile_free(&p);
    return 0;
}
