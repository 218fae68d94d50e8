/* Fuzz target: extracting the message from an upstream error body (outside input). It must read
 * only inside the body and always produce a NUL-terminated, printable, bounded string. */
#include "profgate/upstream.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[64];
    memset(out, 'X', sizeof out);
    pg_upstream_error_message((const char *)data, size, out, sizeof out);
    size_t n = strnlen(out, sizeof out);
    PG_ASSERT(n < sizeof out);
    for (size_t i = 0; i < n; i++)
        PG_ASSERT(out[i] >= 0x20 && out[i] < 0x7f);
    return 0;
}
