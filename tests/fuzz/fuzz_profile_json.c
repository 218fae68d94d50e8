/* Fuzz target: the upstream profile parser. Whatever parses must encode to JSON that parses back
 * to the same encoding (also once compacted for a cache), merging a profile with itself must
 * succeed or hit a limit cleanly, and both Ion writers must give the same bytes. */
#include "profgate/merge.h"
#include "profgate/profile_json.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pg_profile_limits lim = {.max_nodes = 2000, .max_depth = 64, .max_strings = 4000, .max_string_bytes = 1 << 20,
                             .max_counts = 8000, .max_value_bytes = 1 << 20};
    pg_profile p, q;
    if (pg_profile_init(&p, &lim) != PG_OK)
        return 0;
    char why[160];
    if (pg_profile_from_json(&p, data, size, why, sizeof why) == PG_OK) {
        pg_buf a, b;
        pg_buf_init(&a, 64 << 20);
        pg_buf_init(&b, 64 << 20);
        PG_ASSERT(pg_profile_encode(&p, false, 0, &a) == PG_OK);
        PG_ASSERT(pg_profile_init(&q, &lim) == PG_OK);
        PG_ASSERT(pg_profile_from_json(&q, a.data, a.len, why, sizeof why) == PG_OK);
        /* Compacted as the caches keep it: the same encoding, and it can still grow (merge). */
        PG_ASSERT(pg_profile_shrink(&q, false) == PG_OK);
        PG_ASSERT(pg_profile_encode(&q, false, 0, &b) == PG_OK);
        PG_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        int rc = pg_profile_merge(&q, &p);
        PG_ASSERT(rc == PG_OK || rc == PG_ELIMIT);
        pg_buf_reset(&b);
        PG_ASSERT(pg_profile_encode(&q, true, 3, &b) == PG_OK);
        /* Ion without a depth limit (the call tree written backwards, after a merge: not in
         * writing order) is the bytes of the walk with a limit past the tree's depth. */
        pg_buf_reset(&a);
        pg_buf_reset(&b);
        PG_ASSERT(pg_profile_encode(&q, true, 0, &a) == PG_OK);
        PG_ASSERT(pg_profile_encode(&q, true, 1000, &b) == PG_OK);
        PG_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        pg_profile_free(&q);
        pg_buf_free(&a);
        pg_buf_free(&b);
    }
    pg_profile_free(&p);
    return 0;
}
