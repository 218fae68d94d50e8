/* Fuzz target: SigV4 verification of a received request. The input is split on newlines into
 * the request target and header lines ("Name: value"); verification must answer, never crash, and
 * accept nothing unless the signature truly matches (with a secret the fuzzer cannot see). */
#include "profgate/sigv4.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *secret_for(void *ctx, const char *akid, size_t len)
{
    (void)ctx;
    return len == 11 && memcmp(akid, "AKIDEXAMPLE", 11) == 0 ? "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pg_http_header hs[16];
    size_t nh = 0;
    const char *p = (const char *)data, *end = p + size;
    const char *nl = memchr(p, '\n', size);
    const char *target = p;
    size_t tlen = nl ? (size_t)(nl - p) : size;
    p = nl ? nl + 1 : end;
    while (p < end && nh < 16) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        size_t len = e ? (size_t)(e - p) : (size_t)(end - p);
        const char *colon = memchr(p, ':', len);
        if (colon != NULL) {
            size_t vo = (size_t)(colon - p) + 1;
            while (vo < len && p[vo] == ' ')
                vo++;
            hs[nh++] = (pg_http_header){p, (size_t)(colon - p), p + vo, len - vo};
        }
        p = e ? e + 1 : end;
    }
    pg_http_head h = {.method = "GET", .method_len = 3, .target = target, .target_len = tlen, .headers = hs,
                      .nheaders = nh};
    pg_sigv4_verify_cfg cfg = {.service = "codeguru-profiler", .region = NULL, .max_skew_ns = 900 * PG_NS_PER_S,
                               .secret_for = secret_for};
    char why[256], akid[129];
    pg_sigv4_result r = pg_sigv4_verify(&cfg, &h, INT64_C(1591021800) * PG_NS_PER_S /* the seed's X-Amz-Date */, why, sizeof why, akid);
    PG_ASSERT(r != PG_SIGV4_OK || strcmp(akid, "AKIDEXAMPLE") == 0);
    return 0;
}
