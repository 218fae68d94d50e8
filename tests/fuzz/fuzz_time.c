/* Fuzz target: ISO 8601 timestamps and durations. Whatever parses must format and parse back to
 * the same instant. */
#include "profgate/iso8601.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int64_t v, back;
    char why[128], out[PG_TS_FMT_MAX];
    if (pg_ts_parse(s, size, &v, why, sizeof why) == PG_OK) {
        size_t n = pg_ts_format(v, out, sizeof out);
        PG_ASSERT(pg_ts_parse(out, n, &back, why, sizeof why) == PG_OK);
        PG_ASSERT(back == v);
    }
    if (pg_dur_parse(s, size, &v, why, sizeof why) == PG_OK)
        PG_ASSERT(v >= 0);
    return 0;
}
