/* Unit tests for credparse.c: STS success and error answers, the JSON documents of the container
 * endpoint, IMDS and credential_process, and the refusals that keep a malformed value out of a
 * request header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "profgate/credparse.h"

static const char sts_ok[] =
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleWithWebIdentityResult>\n"
    "    <SubjectFromWebIdentityToken>system:serviceaccount:obs:profgate</SubjectFromWebIdentityToken>\n"
    "    <Credentials>\n"
    "      <SessionToken>FwoGZXIvYXdzE&amp;+/=token</SessionToken>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
    "      <Expiration>2026-12-01T21:00:00Z</Expiration>\n"
    "      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
    "    </Credentials>\n"
    "  </AssumeRoleWithWebIdentityResult>\n"
    "</AssumeRoleWithWebIdentityResponse>\n";

static void test_sts(void **state)
{
    (void)state;
    pg_creds c;
    char why[300];
    assert_int_equal(pg_cred_parse_sts(sts_ok, strlen(sts_ok), &c, why, sizeof why), PG_OK);
    assert_string_equal(c.access_key, "ASIAIOSFODNN7EXAMPLE");
    assert_string_equal(c.secret_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    assert_string_equal(c.session_token, "FwoGZXIvYXdzE&+/=token"); /* entities decoded */
    assert_true(c.expires_ns == INT64_C(1796158800) * 1000000000);
    assert_true(c.present);
    static const char err[] = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
                              "<Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                              "<Message>Token &quot;expired&quot; &#x41;</Message></Error>"
                              "<RequestId>1</RequestId></ErrorResponse>";
    assert_int_equal(pg_cred_parse_sts(err, strlen(err), &c, why, sizeof why), PG_EINVAL);
    assert_string_equal(why, "STS InvalidIdentityToken: Token \"expired\" A");
    assert_false(c.present);
}

static void test_sts_refusals(void **state)
{
    (void)state;
    pg_creds c;
    char why[300], body[2048];
    /* Each damages one thing of the good answer. */
    const char *damage[][2] = {
        {"ASIAIOSFODNN7EXAMPLE", "ASIA IOSFODNN7EXAMPLE"},      /* a space in the key */
        {"2026-12-01T21:00:00Z", "tomorrow"},                   /* expiry not a timestamp */
        {"<SessionToken>", "<SessionTokn>"},                    /* a missing element */
        {"FwoGZXIvYXdzE&amp;", "FwoGZXIvYXdzE&bogus;"},         /* unknown entity */
        {"FwoGZXIvYXdzE", "Fwo&#10;injected"},                  /* a newline would split a header */
        {"FwoGZXIvYXdzE", "Fwo<b>x</b>"},                       /* markup inside a leaf */
        {"AssumeRoleWithWebIdentityResponse", "SomethingElse"}, /* not an AssumeRole answer */
    };
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        const char *at = strstr(sts_ok, damage[i][0]);
        assert_non_null(at);
        snprintf(body, sizeof body, "%.*s%s%s", (int)(at - sts_ok), sts_ok, damage[i][1], at + strlen(damage[i][0]));
        assert_int_equal(pg_cred_parse_sts(body, strlen(body), &c, why, sizeof why), PG_EINVAL);
        assert_false(c.present);
        assert_null(strstr(why, "wJalr")); /* a reason never quotes the secret */
    }
    assert_int_equal(pg_cred_parse_sts(sts_ok, PG_CRED_BODY_MAX + 1, &c, why, sizeof why), PG_EINVAL);
}

static void test_json(void **state)
{
    (void)state;
    pg_creds c;
    char why[300];
    static const char ecs[] = "{\"RoleArn\":\"arn:aws:iam::1:role/task\",\"AccessKeyId\":\"ASIACONTAINERKEY0\","
                              "\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"tok==\",\"Expiration\":\"2026-12-01T21:00:00Z\"}";
    assert_int_equal(pg_cred_parse_json(ecs, strlen(ecs), PG_CRED_JSON_CONTAINER, &c, why, sizeof why), PG_OK);
    assert_string_equal(c.session_token, "tok==");
    /* IMDS adds Code, which must be Success. */
    assert_int_equal(pg_cred_parse_json(ecs, strlen(ecs), PG_CRED_JSON_IMDS, &c, why, sizeof why), PG_EINVAL);
    static const char imds[] = "{\"Code\":\"Success\",\"LastUpdated\":\"2026-12-01T20:00:00Z\",\"Type\":\"AWS-HMAC\","
                               "\"AccessKeyId\":\"ASIAINSTANCEKEY00\",\"SecretAccessKey\":\"s\",\"Token\":\"t\","
                               "\"Expiration\":\"2026-12-01T21:00:00.000+00:00\"}";
    assert_int_equal(pg_cred_parse_json(imds, strlen(imds), PG_CRED_JSON_IMDS, &c, why, sizeof why), PG_OK);
    assert_true(c.expires_ns == INT64_C(1796158800) * 1000000000);
    /* credential_process: Version 1; no Expiration means long-lived keys. */
    static const char proc[] = "{\"Version\":1,\"AccessKeyId\":\"AKIAPROCESSKEY000\",\"SecretAccessKey\":\"s\"}";
    assert_int_equal(pg_cred_parse_json(proc, strlen(proc), PG_CRED_JSON_PROCESS, &c, why, sizeof why), PG_OK);
    assert_int_equal(c.expires_ns, 0);
    assert_string_equal(c.session_token, "");
    const char *bad[] = {
        "{\"Version\":2,\"AccessKeyId\":\"AKIAPROCESSKEY000\",\"SecretAccessKey\":\"s\"}",
        "{\"Version\":1,\"AccessKeyId\":\"AKIAPROCESSKEY000\"}",
        "{\"Version\":1,\"AccessKeyId\":\"short\",\"SecretAccessKey\":\"s\"}",
        "{\"Version\":1,\"AccessKeyId\":\"AKIAPROCESSKEY000\",\"SecretAccessKey\":\"s\",\"Expiration\":\"soon\"}",
        "{\"Version\":1,\"AccessKeyId\":\"AKIAPROCESSKEY000\",\"SecretAccessKey\":\"s\",\"SessionToken\":\"a\\r\\nb\"}",
        "[1,2,3]",
        "{\"Version\":1,",
        "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pg_cred_parse_json(bad[i], strlen(bad[i]), PG_CRED_JSON_PROCESS, &c, why, sizeof why),
                         PG_EINVAL);
        assert_false(c.present);
    }
    /* The endpoints must say when their temporary credentials expire. */
    static const char noexp[] = "{\"AccessKeyId\":\"ASIACONTAINERKEY0\",\"SecretAccessKey\":\"s\",\"Token\":\"t\"}";
    assert_int_equal(pg_cred_parse_json(noexp, strlen(noexp), PG_CRED_JSON_CONTAINER, &c, why, sizeof why), PG_EINVAL);
}

static void test_word(void **state)
{
    (void)state;
    char w[16];
    assert_true(pg_cred_parse_word("AQAEA-tok==\r\n", 13, w, sizeof w));
    assert_string_equal(w, "AQAEA-tok==");
    assert_true(pg_cred_parse_word("my-role", 7, w, sizeof w)); /* no line end: the whole body */
    assert_string_equal(w, "my-role");
    assert_true(pg_cred_parse_word("role\nsecond-role\n", 17, w, sizeof w)); /* the first line */
    assert_string_equal(w, "role");
    assert_true(pg_cred_parse_word("abcXYZ", 3, w, sizeof w)); /* never past the length */
    assert_string_equal(w, "abc");
    static const char *bad[] = {"", "\n", "has space", "a/b", "tab\there", "caf\xc3\xa9",
                                "0123456789abcdef" /* 16 bytes: no room for the NUL */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(pg_cred_parse_word(bad[i], strlen(bad[i]), w, sizeof w));
    assert_false(pg_cred_parse_word(NULL, 0, w, sizeof w));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sts), cmocka_unit_test(test_sts_refusals),
                                       cmocka_unit_test(test_json), cmocka_unit_test(test_word)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
