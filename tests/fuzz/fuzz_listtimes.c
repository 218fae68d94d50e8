/* Fuzz target: the two ListProfileTimes inputs from outside, the upstream's JSON answer and a
 * window's value in Redis (anyone with access could have written it), plus a nextToken from a
 * client. Nothing may crash or write past its array; a window that decodes must re-encode to the
 * same bytes; a body's starts never exceed the room given. The first byte picks the parser. */
#include "profgate/listtimes.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    int64_t times[PG_LT_WINDOW_MAX];
    size_t n = 0;
    switch (data[0] % 3) {
    case 0: {
        char tok[PG_LT_TOKEN_MAX + 1];
        n = data[0] % 7; /* some starts already there */
        if (pg_listtimes_body_parse(in, len, times, 16, &n, tok) == PG_OK)
            PG_ASSERT(n <= 16 && strlen(tok) <= PG_LT_TOKEN_MAX);
        break;
    }
    case 1: {
        pg_period p = (pg_period)(data[0] / 3 % PG_PERIOD_COUNT);
        int64_t ws = 1795000000 / pg_listtimes_window_s(p) * pg_listtimes_window_s(p);
        if (pg_listtimes_decode(p, ws, in, len, times, PG_LT_WINDOW_MAX, &n) == PG_OK) {
            pg_buf b;
            pg_buf_init(&b, 1 << 16);
            PG_ASSERT(pg_listtimes_encode(p, ws, times, n, &b) == PG_OK);
            PG_ASSERT(b.len == len && memcmp(b.data, in, len) == 0);
            pg_buf_free(&b);
        }
        break;
    }
    default: {
        pg_listtimes_req r = {.period = PG_P5M, .start_ns = 0, .end_ns = 1, .max_results = 1};
        memcpy(r.group, "g", 2);
        size_t k = len < PG_LT_TOKEN_MAX ? len : PG_LT_TOKEN_MAX;
        memcpy(r.token, in, k);
        r.token[k] = '\0';
        unsigned char key[32] = {7};
        int64_t last;
        (void)pg_listtimes_token_check(&r, key, &last);
        break;
    }
    }
    return 0;
}
