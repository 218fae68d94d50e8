/* Fuzz target: a passed-through list answer (from the upstream) filtered for a tenant. Nothing may
 * crash or recurse without bound; what is written is JSON again, and filtering it a second time
 * changes nothing. */
#include "profgate/groupfilter.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool starts_with_a(void *ctx, const char *group)
{
    (void)ctx;
    return group[0] == 'a';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pg_buf a, b;
    pg_buf_init(&a, 1 << 20);
    pg_buf_init(&b, 1 << 20);
    if (pg_group_filter((const char *)data, size, starts_with_a, NULL, &a) == PG_OK) {
        PG_ASSERT(pg_group_filter(a.data, a.len, starts_with_a, NULL, &b) == PG_OK);
        PG_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    }
    pg_buf_free(&a);
    pg_buf_free(&b);
    return 0;
}
