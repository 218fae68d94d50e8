/* Unit tests for credplan.c: the default chain's order (each provider wins over the ones after
 * it), profiles in both shared files with role chains, credential_source, credential_process and
 * web identity, the container endpoint's address rule, IMDS settings, a provider chosen alone, and
 * that what is incomplete is an error rather than a silent fall-through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profgate/credplan.h"

#define NVARS 32
static const char *vars[NVARS][2];

static const char *fake_env(const char *name)
{
    for (int i = 0; i < NVARS && vars[i][0]; i++)
        if (strcmp(vars[i][0], name) == 0)
            return vars[i][1];
    return NULL;
}

static void setv(const char *name, const char *value)
{
    int i = 0;
    while (i < NVARS && vars[i][0] && strcmp(vars[i][0], name) != 0)
        i++;
    assert_true(i < NVARS);
    if (value == NULL) { /* remove: move the last one here */
        int last = i;
        while (last + 1 < NVARS && vars[last + 1][0])
            last++;
        if (vars[i][0]) {
            vars[i][0] = vars[last][0];
            vars[i][1] = vars[last][1];
            vars[last][0] = vars[last][1] = NULL;
        }
        return;
    }
    vars[i][0] = name;
    vars[i][1] = value;
}

static char files[4][64];

static const char *write_file(int slot, const char *text)
{
    snprintf(files[slot], sizeof files[slot], "/tmp/pg-credplan-XXXXXX");
    int fd = mkstemp(files[slot]);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return files[slot];
}

static int setup(void **state)
{
    (void)state;
    memset(vars, 0, sizeof vars);
    setv("HOME", "/nonexistent-home");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++)
        if (files[i][0]) {
            unlink(files[i]);
            files[i][0] = '\0';
        }
    return 0;
}

static pg_cred_plan plan;
static char why[512];

static int resolve(const char *choice)
{
    why[0] = '\0';
    return pg_cred_plan_resolve(&plan, choice, fake_env, "eu-west-1", 1700000000, why, sizeof why);
}

static void test_chain_order(void **state)
{
    (void)state;
    /* Every provider configured at once: each removal hands over to the next one in order. */
    const char *creds = write_file(0, "[default]\naws_access_key_id = AKIAFILEKEY00000\naws_secret_access_key = fs\n");
    setv("AWS_SHARED_CREDENTIALS_FILE", creds);
    setv("AWS_ACCESS_KEY_ID", "AKIAENVKEY000000");
    setv("AWS_SECRET_ACCESS_KEY", "envsecret");
    setv("AWS_SESSION_TOKEN", "tok");
    setv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token");
    setv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa");
    setv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9911/creds");
    const char *order[] = {"environment", "web-identity", "profile", "container", "imds", "none"};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(resolve("chain"), PG_OK);
        assert_string_equal(plan.provider, order[i]);
        if (i == 0) {
            assert_int_equal(plan.n, 1);
            assert_int_equal(plan.steps[0].kind, PG_CRED_STATIC);
            assert_string_equal(plan.steps[0].keys.access_key, "AKIAENVKEY000000");
            assert_string_equal(plan.steps[0].keys.session_token, "tok");
            char d[1500];
            pg_cred_plan_describe(&plan, d, sizeof d);
            assert_non_null(strstr(d, "AKIA****"));
            assert_null(strstr(d, "envsecret"));
            setv("AWS_ACCESS_KEY_ID", NULL);
            setv("AWS_SECRET_ACCESS_KEY", NULL);
        } else if (i == 1) {
            assert_int_equal(plan.steps[0].kind, PG_CRED_WEB_IDENTITY);
            assert_string_equal(plan.steps[0].path, "/var/run/secrets/token");
            assert_string_equal(plan.steps[0].session_name, "profgate-1700000000");
            assert_string_equal(plan.sts_endpoint, "https://sts.eu-west-1.amazonaws.com");
            setv("AWS_WEB_IDENTITY_TOKEN_FILE", NULL);
            setv("AWS_ROLE_ARN", NULL);
        } else if (i == 2) {
            assert_string_equal(plan.steps[0].keys.access_key, "AKIAFILEKEY00000");
            setv("AWS_SHARED_CREDENTIALS_FILE", NULL);
        } else if (i == 3) {
            assert_int_equal(plan.steps[0].kind, PG_CRED_CONTAINER);
            assert_string_equal(plan.steps[0].url, "http://127.0.0.1:9911/creds");
            setv("AWS_CONTAINER_CREDENTIALS_FULL_URI", NULL);
        } else if (i == 4) {
            assert_int_equal(plan.steps[0].kind, PG_CRED_IMDS);
            assert_string_equal(plan.steps[0].url, "http://169.254.169.254");
            assert_int_equal(plan.steps[0].timeout_ms, 1000);
            setv("AWS_EC2_METADATA_DISABLED", "true");
        } else {
            assert_int_equal(plan.n, 0);
        }
    }
}

static void test_profiles(void **state)
{
    (void)state;
    const char *creds = write_file(0, "[default]\naws_access_key_id = AKIADEFAULTKEY00\naws_secret_access_key = d\n"
                                      "[team-a]\naws_access_key_id = AKIATEAMKEY00000\naws_secret_access_key = t\n"
                                      "aws_session_token = t2\n");
    const char *config = write_file(1, "[default]\nregion = eu-west-1\n[profile team-a]\n"
                                       "aws_access_key_id = AKIACONFIGLOSES0\n[profile other]\n"
                                       "aws_access_key_id = AKIAOTHERKEY0000\naws_secret_access_key = o\n"
                                       "[sso-session x]\naws_access_key_id = AKIANOTAPROFILE0\n");
    setv("AWS_SHARED_CREDENTIALS_FILE", creds);
    setv("AWS_CONFIG_FILE", config);
    assert_int_equal(resolve("chain"), PG_OK);
    assert_string_equal(plan.steps[0].keys.access_key, "AKIADEFAULTKEY00");
    setv("AWS_PROFILE", "team-a"); /* the credentials file wins over the config file */
    assert_int_equal(resolve("chain"), PG_OK);
    assert_string_equal(plan.steps[0].keys.access_key, "AKIATEAMKEY00000");
    assert_string_equal(plan.steps[0].keys.session_token, "t2");
    setv("AWS_PROFILE", "other");
    assert_int_equal(resolve("chain"), PG_OK);
    assert_string_equal(plan.steps[0].keys.access_key, "AKIAOTHERKEY0000");
    setv("AWS_PROFILE", "x"); /* not a profile: only "[profile x]" would be */
    assert_int_equal(resolve("chain"), PG_EINVAL);
    assert_non_null(strstr(why, "profile 'x' is in neither"));
    setv("AWS_PROFILE", NULL);
    /* A default profile with settings only: the chain goes on (to IMDS here). */
    setv("AWS_SHARED_CREDENTIALS_FILE", NULL);
    assert_int_equal(resolve("chain"), PG_OK);
    assert_string_equal(plan.provider, "imds");
    /* ... but asked for alone, the profile provider must yield credentials. */
    assert_int_equal(resolve("profile"), PG_EINVAL);
    assert_non_null(strstr(why, "has no credentials"));
}

static void test_role_chains(void **state)
{
    (void)state;
    const char *config = write_file(1,
        "[profile base]\naws_access_key_id = AKIABASEKEY00000\naws_secret_access_key = b\n"
        "[profile hop1]\nrole_arn = arn:aws:iam::111111111111:role/one\nsource_profile = base\n"
        "external_id = ext-1\nduration_seconds = 1800\n"
        "[profile hop2]\nrole_arn = arn:aws:iam::222222222222:role/two\nsource_profile = hop1\n"
        "role_session_name = dash.board@team\n"
        "[profile self]\nrole_arn = arn:aws:iam::3:role/s\nsource_profile = self\n"
        "aws_access_key_id = AKIASELFKEY00000\naws_secret_access_key = s\n"
        "[profile env]\nrole_arn = arn:aws:iam::4:role/e\ncredential_source = Environment\n"
        "[profile ec2]\nrole_arn = arn:aws:iam::5:role/i\ncredential_source = Ec2InstanceMetadata\n"
        "[profile ecs]\nrole_arn = arn:aws:iam::6:role/c\ncredential_source = EcsContainer\n"
        "[profile wit]\nrole_arn = arn:aws:iam::7:role/w\nweb_identity_token_file = /t/token\n"
        "[profile proc]\ncredential_process = /usr/bin/get-creds --json\n"
        "[profile viaproc]\nrole_arn = arn:aws:iam::8:role/p\nsource_profile = proc\n"
        "[profile mfa]\nrole_arn = arn:aws:iam::9:role/m\nsource_profile = base\nmfa_serial = arn:aws:iam::9:mfa/u\n"
        "[profile loop1]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = loop2\n"
        "[profile loop2]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = loop1\n"
        "[profile sso]\nsso_session = corp\nsso_account_id = 1\n"
        "[profile both]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = base\ncredential_source = Environment\n"
        "[profile badarn]\nrole_arn = role/oops\nsource_profile = base\n");
    setv("AWS_CONFIG_FILE", config);
    setv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4566/");
    setv("AWS_PROFILE", "hop2");
    assert_int_equal(resolve("chain"), PG_OK);
    assert_int_equal(plan.n, 3);
    assert_int_equal(plan.steps[0].kind, PG_CRED_STATIC);
    assert_int_equal(plan.steps[1].kind, PG_CRED_ASSUME_ROLE);
    assert_string_equal(plan.steps[1].role_arn, "arn:aws:iam::111111111111:role/one");
    assert_string_equal(plan.steps[1].external_id, "ext-1");
    assert_int_equal(plan.steps[1].duration_s, 1800);
    assert_string_equal(plan.steps[2].role_arn, "arn:aws:iam::222222222222:role/two");
    assert_string_equal(plan.steps[2].session_name, "dash.board@team");
    assert_string_equal(plan.sts_endpoint, "http://127.0.0.1:4566"); /* the trailing slash goes */
    setv("AWS_PROFILE", "self");
    assert_int_equal(resolve("chain"), PG_OK);
    assert_int_equal(plan.n, 2);
    assert_string_equal(plan.steps[0].keys.access_key, "AKIASELFKEY00000");
    setv("AWS_PROFILE", "env");
    assert_int_equal(resolve("chain"), PG_EINVAL); /* Environment, but the variables are not there */
    assert_non_null(strstr(why, "credential_source = Environment"));
    setv("AWS_PROFILE", "ec2");
    assert_int_equal(resolve("chain"), PG_OK);
    assert_int_equal(plan.steps[0].kind, PG_CRED_IMDS);
    assert_int_equal(plan.steps[1].kind, PG_CRED_ASSUME_ROLE);
    setv("AWS_PROFILE", "ecs");
    assert_int_equal(resolve("chain"), PG_EINVAL); /* no container endpoint in the environment */
    setv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc");
    assert_int_equal(resolve("chain"), PG_OK);
    assert_string_equal(plan.steps[0].url, "http://169.254.170.2/v2/credentials/abc");
    setv("AWS_PROFILE", "wit");
    assert_int_equal(resolve("chain"), PG_OK);
    assert_int_equal(plan.n, 1);
    assert_int_equal(plan.steps[0].kind, PG_CRED_WEB_IDENTITY);
    setv("AWS_PROFILE", "viaproc");
    assert_int_equal(resolve("chain"), PG_OK);
    assert_int_equal(plan.steps[0].kind, PG_CRED_PROCESS);
    assert_string_equal(plan.steps[0].command, "/usr/bin/get-creds --json");
    const char *bad[][2] = {{"mfa", "cannot prompt"}, {"loop1", "chain longer"}, {"sso", "interactive login"},
                            {"both", "exclude each other"}, {"badarn", "not a role ARN"}};
    for (size_t i = 0; i < 5; i++) {
        setv("AWS_PROFILE", bad[i][0]);
        assert_int_equal(resolve("chain"), PG_EINVAL);
        assert_non_null(strstr(why, bad[i][1]));
        assert_int_equal(plan.n, 0);
    }
}

static void test_container_and_imds(void **state)
{
    (void)state;
    setv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds"); /* plain http off the host: refused */
    assert_int_equal(resolve("chain"), PG_EINVAL);
    assert_non_null(strstr(why, "must be https"));
    const char *ok[] = {"https://example.com/creds", "http://169.254.170.23/v1/credentials", "http://localhost:80/c",
                        "http://127.9.0.1:1/c", "http://[::1]:8080/c"};
    for (size_t i = 0; i < 5; i++) {
        setv("AWS_CONTAINER_CREDENTIALS_FULL_URI", ok[i]);
        assert_int_equal(resolve("chain"), PG_OK);
        assert_string_equal(plan.steps[0].url, ok[i]);
    }
    setv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc");
    assert_int_equal(resolve("container"), PG_OK);
    assert_string_equal(plan.steps[0].token, "Basic abc");
    setv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/secrets/pods.eks.amazonaws.com/token");
    assert_int_equal(resolve("container"), PG_OK); /* the file wins over the variable */
    assert_string_equal(plan.steps[0].path, "/var/run/secrets/pods.eks.amazonaws.com/token");
    assert_string_equal(plan.steps[0].token, "");
    setv("AWS_CONTAINER_CREDENTIALS_FULL_URI", NULL);
    setv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8111/");
    setv("AWS_METADATA_SERVICE_TIMEOUT", "2.5");
    assert_int_equal(resolve("chain"), PG_OK);
    assert_string_equal(plan.steps[0].url, "http://127.0.0.1:8111");
    assert_int_equal(plan.steps[0].timeout_ms, 2500);
    setv("AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL);
    setv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6");
    assert_int_equal(resolve("imds"), PG_OK);
    assert_string_equal(plan.steps[0].url, "http://[fd00:ec2::254]");
    setv("AWS_EC2_METADATA_DISABLED", "TRUE");
    assert_int_equal(resolve("imds"), PG_EINVAL);
    assert_int_equal(resolve("chain"), PG_OK);
    assert_string_equal(plan.provider, "none");
}

static void test_choices_and_errors(void **state)
{
    (void)state;
    assert_int_equal(resolve("sometimes"), PG_EINVAL);
    assert_non_null(strstr(why, "is not one of"));
    assert_int_equal(resolve("web-identity"), PG_EINVAL);
    assert_non_null(strstr(why, "not configured"));
    setv("AWS_ACCESS_KEY_ID", "AKIAHALFKEY00000"); /* half a pair: an error, never unsigned */
    assert_int_equal(resolve("chain"), PG_EINVAL);
    assert_non_null(strstr(why, "must be set together"));
    setv("AWS_SECRET_ACCESS_KEY", "s");
    assert_int_equal(resolve("none"), PG_OK);
    assert_int_equal(plan.n, 0);
    assert_int_equal(resolve("environment"), PG_OK);
    assert_int_equal(plan.n, 1);
    /* Chosen alone, a later provider is used even though the environment has keys. */
    setv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1");
    assert_int_equal(resolve("imds"), PG_OK);
    assert_int_equal(plan.steps[0].kind, PG_CRED_IMDS);
    setv("AWS_WEB_IDENTITY_TOKEN_FILE", "/t");
    assert_int_equal(resolve("web-identity"), PG_EINVAL); /* without AWS_ROLE_ARN */
    setv("AWS_ROLE_ARN", "arn:aws:iam::1:role/r");
    setv("AWS_ROLE_SESSION_NAME", "no spaces allowed");
    assert_int_equal(resolve("web-identity"), PG_EINVAL);
    assert_non_null(strstr(why, "role session name"));
    setv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
    assert_int_equal(resolve("profile"), PG_EINVAL);
    assert_non_null(strstr(why, "cannot read"));
    assert_int_equal(pg_cred_plan_resolve(&plan, "none", fake_env, "cn-north-1", 1, why, sizeof why), PG_OK);
    assert_string_equal(plan.sts_endpoint, "https://sts.cn-north-1.amazonaws.com.cn");
}

static void test_describe_hides_secrets(void **state)
{
    (void)state;
    pg_creds c = {.access_key = "ASIAEXAMPLEKEY00", .secret_key = "topsecret", .session_token = "tok",
                  .expires_ns = 1700000000 * INT64_C(1000000000), .present = true};
    char d[300];
    pg_creds_describe(&c, d, sizeof d);
    assert_string_equal(d, "ASIA**** with session token, expires 2023-11-14T22:13:20Z");
    c.present = false;
    pg_creds_describe(&c, d, sizeof d);
    assert_string_equal(d, "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_chains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_container_and_imds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_choices_and_errors, setup, teardown),
        cmocka_unit_test(test_describe_hides_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
