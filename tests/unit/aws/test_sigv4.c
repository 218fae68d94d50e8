/* Unit tests for sigv4.c: the AWS SigV4 test-suite vectors and the GetProfile example of
 * docs/CONTRACT.md §4 reproduce exactly, and verification accepts exactly what it should. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "profgate/iso8601.h"
#include "profgate/sigv4.h"

static const char *AKID = "AKIDEXAMPLE";
static const char *SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

static pg_http_header H(const char *n, const char *v)
{
    return (pg_http_header){n, strlen(n), v, strlen(v)};
}

static void sig_of(const char *target, const pg_http_header *hs, size_t n, const char *service, const char *date,
                   char out[65])
{
    pg_slice path, query;
    pg_target_split(target, strlen(target), &path, &query);
    pg_sigv4_input in = {.method = "GET", .path = path, .query = query, .headers = hs, .nheaders = n,
                         .payload_hash = PG_SHA256_HEX_EMPTY, .amz_date = date, .region = "us-east-1",
                         .service = service};
    assert_int_equal(pg_sigv4_signature(&in, SECRET, out), PG_OK);
}

static void test_vectors(void **state)
{
    (void)state;
    char sig[65];
    pg_http_header hs[] = {H("Host", "example.amazonaws.com"), H("X-Amz-Date", "20150830T123600Z")};
    sig_of("/", hs, 2, "service", "20150830T123600Z", sig);
    assert_string_equal(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    sig_of("/?Param2=value2&Param1=value1", hs, 2, "service", "20150830T123600Z", sig);
    assert_string_equal(sig, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    pg_http_header gp[] = {H("Accept", "application/json"), H("Host", "codeguru-profiler.us-east-1.amazonaws.com"),
                           H("X-Amz-Date", "20200601T143000Z")};
    sig_of("/profilingGroups/my-group/profile?startTime=2020-06-01T13%3A00%3A00Z&endTime=2020-06-01T14%3A00%3A00Z&maxDepth=100",
           gp, 3, "codeguru-profiler", "20200601T143000Z", sig);
    assert_string_equal(sig, "9b09052939b7ba3cb127a6cab359b3847774b187dec77b9824ac9afa7ab11a88");
}

static void test_canonical_request(void **state)
{
    (void)state;
    pg_http_header hs[] = {H("X-Amz-Date", "20150830T123600Z"), H("host", "  example.amazonaws.com "),
                           H("My-Header", "a   b  c"), H("my-header", "d")};
    const char *target = "/a/./b/../c//d%20e?b=2&a=1&a=0";
    pg_slice path, query;
    pg_target_split(target, strlen(target), &path, &query);
    pg_sigv4_input in = {.method = "GET", .path = path, .query = query, .headers = hs, .nheaders = 4,
                         .payload_hash = PG_SHA256_HEX_EMPTY, .amz_date = "20150830T123600Z", .region = "us-east-1",
                         .service = "service"};
    pg_buf b;
    pg_buf_init(&b, 4096);
    assert_int_equal(pg_sigv4_canonical_request(&in, &b), PG_OK);
    const char *want = "GET\n/a/c/d%2520e\na=0&a=1&b=2\nhost:example.amazonaws.com\nmy-header:a b c,d\n"
                       "x-amz-date:20150830T123600Z\n\nhost;my-header;x-amz-date\n" PG_SHA256_HEX_EMPTY;
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("canonical request\n--- got\n%.*s\n--- want\n%s", (int)b.len, b.data, want);
    pg_buf_free(&b);
}

/* The query as AWS canonicalizes it, whichever form the client sent: raw ':' (curl --aws-sigv4)
 * and its encoded form (botocore) give the same line; lowercase hex is made uppercase, '+' is a
 * literal plus, a bad escape stays visibly bad, empty pieces keep their place. */
static void test_canonical_query_forms(void **state)
{
    (void)state;
    static const struct {
        const char *target, *line;
    } cases[] = {
        {"/p?startTime=2026-11-24T09:55:00Z&format=collapsed", "format=collapsed&startTime=2026-11-24T09%3A55%3A00Z"},
        {"/p?startTime=2026-11-24T09%3A55%3A00Z&format=collapsed", "format=collapsed&startTime=2026-11-24T09%3A55%3A00Z"},
        {"/p?t=a%3ab&u=1+2&v=%7E~", "t=a%3Ab&u=1%2B2&v=~~"},
        {"/p?bad=%ZZ&x", "bad=%25ZZ&x="},
        {"/p?&&", "=&=&="},
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(cases); i++) {
        pg_slice path, query;
        pg_target_split(cases[i].target, strlen(cases[i].target), &path, &query);
        pg_sigv4_input in = {.method = "GET", .path = path, .query = query, .headers = NULL, .nheaders = 0,
                             .payload_hash = PG_SHA256_HEX_EMPTY, .amz_date = "20150830T123600Z", .region = "r",
                             .service = "s"};
        pg_buf b;
        pg_buf_init(&b, 4096);
        assert_int_equal(pg_sigv4_canonical_request(&in, &b), PG_OK);
        const char *line = memchr(b.data, '\n', b.len) + 1;
        line = memchr(line, '\n', b.len - (size_t)(line - b.data)) + 1;
        const char *end = memchr(line, '\n', b.len - (size_t)(line - b.data));
        if ((size_t)(end - line) != strlen(cases[i].line) || memcmp(line, cases[i].line, (size_t)(end - line)) != 0)
            fail_msg("%s: got '%.*s', want '%s'", cases[i].target, (int)(end - line), line, cases[i].line);
        pg_buf_free(&b);
    }
}

static void test_authorization_header(void **state)
{
    (void)state;
    pg_http_header hs[] = {H("Host", "example.amazonaws.com"), H("X-Amz-Date", "20150830T123600Z")};
    pg_sigv4_input in = {.method = "GET", .path = {"/", 1}, .query = {"", 0}, .headers = hs, .nheaders = 2,
                         .payload_hash = PG_SHA256_HEX_EMPTY, .amz_date = "20150830T123600Z", .region = "us-east-1",
                         .service = "service"};
    pg_buf b;
    pg_buf_init(&b, 1024);
    assert_int_equal(pg_sigv4_authorization(&in, AKID, SECRET, &b), PG_OK);
    assert_int_equal(b.len, strlen("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                                   "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
    assert_memory_equal(b.data, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                                "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
                        b.len);
    char d[17];
    pg_amz_date(INT64_C(1440938160) * PG_NS_PER_S + 999, d);
    assert_string_equal(d, "20150830T123600Z");
    pg_buf_free(&b);
}

static const char *lookup(void *ctx, const char *akid, size_t len)
{
    (void)ctx;
    return len == strlen(AKID) && memcmp(akid, AKID, len) == 0 ? SECRET : NULL;
}

/* A GetProfile head as boto3 sends it, signed with the given secret and date. */
static pg_sigv4_result verify(const char *secret, const char *akid, const char *service, const char *date,
                              int64_t now_ns, const char *signed_headers, char *why)
{
    static char auth[512];
    const char *target = "/profilingGroups/my-group/profile?startTime=2020-06-01T13%3A00%3A00Z&maxDepth=100&period=PT1H";
    pg_http_header hs[] = {H("Host", "127.0.0.1:44881"), H("Accept", "application/json"), H("X-Amz-Date", date)};
    pg_slice path, query;
    pg_target_split(target, strlen(target), &path, &query);
    pg_sigv4_input in = {.method = "GET", .path = path, .query = query, .headers = hs, .nheaders = 3,
                         .payload_hash = PG_SHA256_HEX_EMPTY, .amz_date = date, .region = "us-east-1", .service = service};
    char sig[65];
    assert_int_equal(pg_sigv4_signature(&in, secret, sig), PG_OK);
    snprintf(auth, sizeof auth, "AWS4-HMAC-SHA256 Credential=%s/%.8s/us-east-1/%s/aws4_request, SignedHeaders=%s, Signature=%s",
             akid, date, service, signed_headers, sig);
    pg_http_header req[] = {hs[0], hs[1], hs[2], H("Authorization", auth), H("User-Agent", "Boto3/1.26")};
    pg_http_head h = {.method = "GET", .method_len = 3, .target = target, .target_len = strlen(target),
                      .headers = req, .nheaders = 5};
    pg_sigv4_verify_cfg cfg = {.service = "codeguru-profiler", .region = NULL, .max_skew_ns = 15 * 60 * PG_NS_PER_S,
                               .secret_for = lookup};
    char id[129];
    return pg_sigv4_verify(&cfg, &h, now_ns, why, 256, id);
}

static void test_verify(void **state)
{
    (void)state;
    char why[256];
    int64_t now;
    assert_int_equal(pg_ts_parse("2020-06-01T14:30:00Z", 20, &now, NULL, 0), PG_OK);
    const char *sh = "accept;host;x-amz-date";
    assert_int_equal(verify(SECRET, AKID, "codeguru-profiler", "20200601T143000Z", now, sh, why), PG_SIGV4_OK);
    assert_int_equal(verify(SECRET, AKID, "codeguru-profiler", "20200601T143000Z", now + 14 * 60 * PG_NS_PER_S, sh, why),
                     PG_SIGV4_OK);
    assert_int_equal(verify("wrong", AKID, "codeguru-profiler", "20200601T143000Z", now, sh, why), PG_SIGV4_MISMATCH);
    assert_non_null(strstr(why, "does not match"));
    assert_int_equal(verify(SECRET, "AKIDOTHER", "codeguru-profiler", "20200601T143000Z", now, sh, why),
                     PG_SIGV4_UNKNOWN_KEY);
    assert_int_equal(verify(SECRET, AKID, "s3", "20200601T143000Z", now, sh, why), PG_SIGV4_BAD_SCOPE);
    assert_string_equal(why, "Credential should be scoped to correct service: 'codeguru-profiler'.");
    assert_int_equal(verify(SECRET, AKID, "codeguru-profiler", "20200601T143000Z", now + 16 * 60 * PG_NS_PER_S, sh, why),
                     PG_SIGV4_EXPIRED);
    assert_non_null(strstr(why, "Signature expired"));
    assert_int_equal(verify(SECRET, AKID, "codeguru-profiler", "20200601T143000Z", now, "accept;x-amz-date", why),
                     PG_SIGV4_BAD_HEADERS);
    assert_int_equal(verify(SECRET, AKID, "codeguru-profiler", "20200601T143000Z", now, "accept;host;x-amz-date;x-missing", why),
                     PG_SIGV4_BAD_HEADERS);
    assert_int_equal(verify(SECRET, AKID, "codeguru-profiler", "2020060T143000Z", now, sh, why), PG_SIGV4_MALFORMED);
    /* A name the client made up reaches logs and the error body printable, whatever its bytes. */
    assert_int_equal(verify(SECRET, AKID, "codeguru-profiler", "20200601T143000Z", now,
                            "accept;host;x-amz-date;x\x1b[31m\"red\xc3", why),
                     PG_SIGV4_BAD_HEADERS);
    assert_string_equal(why, "The request signature covers header 'x?[31m?red?', which the request does not carry.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_vectors), cmocka_unit_test(test_canonical_request),
                                       cmocka_unit_test(test_canonical_query_forms),
                                       cmocka_unit_test(test_authorization_header), cmocka_unit_test(test_verify)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
