/* Unit tests for config.c: defaults, file parsing with line-numbered errors, bounds, units,
 * listen lists, command-line overrides, and that conf/profgate.conf is exactly what the table
 * generates (so the documented example can never drift from the parser). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profgate/config.h"
#include "profgate/settings.h"

static void test_defaults(void **state)
{
    (void)state;
    pg_config c;
    pg_config_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_int_equal(c.max_head_bytes, 16384);
    assert_int_equal(c.max_url_bytes, 8192);
    assert_int_equal(c.head_timeout_ms, 10000);
    assert_int_equal(c.idle_timeout_ms, 60000);
    assert_int_equal(c.settle_ms, 600000);
    assert_int_equal(c.live_ttl_ms, 30000);
    assert_int_equal(c.log_level, PG_LOG_INFO);
    assert_true(c.access_log);
}

static void test_load_string(void **state)
{
    (void)state;
    pg_config c;
    char err[PG_CONFIG_ERR_MAX];
    pg_config_defaults(&c);
    const char *text = "; comment\n[server]\nlisten = 0.0.0.0:9000, [::1]:9001\nmax_head_bytes = 32k\n"
                       "idle_timeout = 1500ms\n[log]\nlevel = debug\naccess = off\n[freshness]\nsettle = 5m\n";
    assert_int_equal(pg_config_load_string(&c, text, "t.conf", err, sizeof err), PG_OK);
    assert_string_equal(c.listen, "0.0.0.0:9000, [::1]:9001");
    assert_int_equal(c.max_head_bytes, 32768);
    assert_int_equal(c.idle_timeout_ms, 1500);
    assert_int_equal(c.log_level, PG_LOG_DEBUG);
    assert_false(c.access_log);
    assert_int_equal(c.settle_ms, 300000);
}

static void expect_error(const char *text, const char *want)
{
    pg_config c, before;
    char err[PG_CONFIG_ERR_MAX] = "";
    pg_config_defaults(&c);
    before = c;
    assert_int_equal(pg_config_load_string(&c, text, "t.conf", err, sizeof err), PG_EINVAL);
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' lacks '%s'", err, want);
    /* A failed load changes nothing. */
    assert_memory_equal(&c, &before, sizeof c);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("[server]\nmax_head_bytes = 32k\nbogus = 1\n", "t.conf:3: unknown directive 'bogus' in section [server]");
    expect_error("[nosuch]\nlisten = 1\n", "t.conf:2: unknown directive 'listen' in section [nosuch]");
    expect_error("listen = 127.0.0.1:1\n", "t.conf:1: unknown directive");
    expect_error("[server]\nmax_head_bytes = 10\n", "t.conf:2: server.max_head_bytes: 10 is out of range [1024, 1048576] bytes");
    expect_error("[server]\nmax_connections = many\n", "not a whole number");
    expect_error("[server]\nmax_connections = 12abc\n", "not a whole number");
    expect_error("[server]\nmax_connections = -1\n", "not a whole number");
    expect_error("[server]\nidle_timeout = 10\n", "is not a duration");
    expect_error("[server]\nidle_timeout = 10y\n", "is not a duration");
    expect_error("[server]\nidle_timeout = 99999999999999999999s\n", "is not a duration");
    expect_error("[server]\nidle_timeout = 9000000000000000h\n", "is not a duration");
    expect_error("[server]\nlisten = localhost:80\n", "is not an address like");
    expect_error("[server]\nlisten = 127.0.0.1:65536\n", "is not an address like");
    expect_error("[server]\nlisten = [::1:80\n", "is not an address like");
    expect_error("[log]\nlevel = loud\n", "is not one of debug, info, warn, error");
    expect_error("[log]\naccess = maybe\n", "is not on or off");
    expect_error("[server]\nthis line has no equals\n", "t.conf:2: syntax error");
}

static void test_set_and_listen(void **state)
{
    (void)state;
    pg_config c;
    char err[PG_CONFIG_ERR_MAX];
    pg_config_defaults(&c);
    assert_int_equal(pg_config_set(&c, "server.listen", "[::1]:0", err, sizeof err), PG_OK);
    assert_int_equal(pg_config_set(&c, "log.level", "warn", err, sizeof err), PG_OK);
    assert_int_equal(c.log_level, PG_LOG_WARN);
    assert_int_equal(pg_config_set(&c, "nosuch", "1", err, sizeof err), PG_EINVAL);
    assert_int_equal(pg_config_set(&c, "server.nosuch", "1", err, sizeof err), PG_EINVAL);
    assert_string_equal(err, "unknown directive 'server.nosuch'");
    /* upstream.credentials is one of the chain's choices, checked when read (a reload with a bad
     * one is refused like any bad value). */
    assert_string_equal(c.up_credentials, "chain");
    assert_int_equal(pg_config_set(&c, "upstream.credentials", "web-identity", err, sizeof err), PG_OK);
    assert_string_equal(c.up_credentials, "web-identity");
    assert_int_equal(pg_config_set(&c, "upstream.credentials", "sso", err, sizeof err), PG_EINVAL);
    assert_non_null(strstr(err, "'sso' is not one of: chain,"));
    assert_string_equal(c.up_credentials, "web-identity");
    pg_listen_addrs a;
    assert_int_equal(pg_listen_parse("127.0.0.1:80,[::]:81", &a, err, sizeof err), PG_OK);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.addr[0].ss_family, AF_INET);
    assert_int_equal(a.addr[1].ss_family, AF_INET6);
    assert_int_equal(pg_listen_parse("1.1.1.1:1,1.1.1.1:2,1.1.1.1:3,1.1.1.1:4,1.1.1.1:5,1.1.1.1:6,1.1.1.1:7,"
                                     "1.1.1.1:8,1.1.1.1:9", &a, err, sizeof err), PG_EINVAL);
    assert_int_equal(pg_listen_parse("", &a, err, sizeof err), PG_EINVAL);
    /* Formatting gives back what parsing reads. */
    char spec[128];
    assert_int_equal(pg_listen_parse("127.0.0.1:80, [::1]:0", &a, err, sizeof err), PG_OK);
    assert_int_equal(pg_listen_format(&a, spec, sizeof spec), PG_OK);
    assert_string_equal(spec, "127.0.0.1:80,[::1]:0");
    assert_int_equal(pg_listen_format(&a, spec, 10), PG_ERANGE);
    /* Loopback only, or reachable from elsewhere (the auth.mode = off warning). */
    assert_false(pg_listen_beyond_loopback(&a));
    assert_int_equal(pg_listen_parse("127.9.9.9:80,[::1]:81", &a, err, sizeof err), PG_OK);
    assert_false(pg_listen_beyond_loopback(&a));
    static const char *const open_specs[] = {"0.0.0.0:80", "127.0.0.1:80,10.0.0.1:81", "[::]:80", "[::ffff:127.0.0.1]:80"};
    for (size_t i = 0; i < sizeof open_specs / sizeof open_specs[0]; i++) {
        assert_int_equal(pg_listen_parse(open_specs[i], &a, err, sizeof err), PG_OK);
        assert_true(pg_listen_beyond_loopback(&a));
    }
}

static void test_workers(void **state)
{
    (void)state;
    pg_config c;
    char err[PG_CONFIG_ERR_MAX];
    pg_config_defaults(&c);
    assert_int_equal(c.workers, 1);
    assert_int_equal(pg_config_set(&c, "server.workers", "auto", err, sizeof err), PG_OK);
    assert_int_equal(c.workers, PG_WORKERS_AUTO);
    assert_int_equal(pg_config_set(&c, "server.workers", "3", err, sizeof err), PG_OK);
    assert_int_equal(c.workers, 3);
    assert_int_equal(pg_config_set(&c, "server.workers", "0", err, sizeof err), PG_EINVAL);
    assert_string_equal(err, "server.workers: 0 is out of range [1, 64]");
    assert_int_equal(pg_config_set(&c, "server.workers", "65", err, sizeof err), PG_EINVAL);
    assert_int_equal(pg_config_set(&c, "server.workers", "many", err, sizeof err), PG_EINVAL);
    assert_string_equal(err, "server.workers: 'many' is not a number or auto");
    assert_int_equal(c.workers, 3); /* a refused value changes nothing */
}

static void test_example_file_matches_table(void **state)
{
    (void)state;
    char *gen = NULL;
    size_t genlen = 0;
    FILE *m = open_memstream(&gen, &genlen);
    pg_config_write_example(m);
    fclose(m);
    FILE *f = fopen(PG_SOURCE_DIR "/conf/profgate.conf", "rb");
    assert_non_null(f);
    char *file = calloc(1, genlen + 2);
    size_t n = fread(file, 1, genlen + 1, f);
    fclose(f);
    if (n != genlen || memcmp(file, gen, genlen) != 0)
        fail_msg("conf/profgate.conf differs from `profgate --dump-config`; regenerate it");
    /* And the example itself loads, giving the defaults. */
    pg_config c, d;
    char err[PG_CONFIG_ERR_MAX];
    pg_config_defaults(&c);
    pg_config_defaults(&d);
    assert_int_equal(pg_config_load_file(&c, PG_SOURCE_DIR "/conf/profgate.conf", err, sizeof err), PG_OK);
    assert_memory_equal(&c, &d, sizeof c);
    free(file);
    free(gen);
}

static void test_missing_file(void **state)
{
    (void)state;
    pg_config c;
    char err[PG_CONFIG_ERR_MAX];
    pg_config_defaults(&c);
    assert_int_equal(pg_config_load_file(&c, "/nonexistent/profgate.conf", err, sizeof err), PG_EINVAL);
    assert_string_equal(err, "/nonexistent/profgate.conf: cannot read the file");
}

typedef struct changes {
    char keys[8][64];
    bool live[8];
    size_t n;
} changes;

static void record(const char *key, bool live, void *data)
{
    changes *c = data;
    assert_true(c->n < 8);
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s", key);
    c->live[c->n++] = live;
}

static void test_reload(void **state)
{
    (void)state;
    pg_config cur, next;
    char err[PG_CONFIG_ERR_MAX];
    pg_config_defaults(&cur);
    pg_config_defaults(&next);
    assert_int_equal(pg_config_load_string(&next,
                                           "[upstream]\nrate = 3\nendpoint = http://elsewhere\n"
                                           "[server]\nlisten = 127.0.0.1:9999\nidle_timeout = 5s\n"
                                           "[log]\nformat = json\n",
                                           "t", err, sizeof err),
                     PG_OK);
    changes c = {0};
    assert_int_equal(pg_config_reload(&cur, &next, record, &c), 3);
    /* In table order, each reported once, with whether it applied. */
    assert_int_equal(c.n, 5);
    assert_string_equal(c.keys[0], "server.listen");
    assert_false(c.live[0]);
    assert_string_equal(c.keys[1], "server.idle_timeout");
    assert_true(c.live[1]);
    assert_string_equal(c.keys[2], "log.format");
    assert_true(c.live[2]);
    assert_string_equal(c.keys[3], "upstream.endpoint");
    assert_false(c.live[3]);
    assert_string_equal(c.keys[4], "upstream.rate");
    assert_true(c.live[4]);
    assert_int_equal(cur.up_rate, 3);
    assert_int_equal(cur.idle_timeout_ms, 5000);
    assert_int_equal(cur.log_format, PG_LOG_JSON);
    assert_string_equal(cur.listen, "127.0.0.1:8080"); /* needs a restart: unchanged */
    assert_string_equal(cur.up_endpoint, "");
    /* Reloading the same again: the restart-only differences are reported again, nothing applies. */
    c.n = 0;
    assert_int_equal(pg_config_reload(&cur, &next, record, &c), 0);
    assert_int_equal(c.n, 2);
    /* A string that only got shorter is a change too. */
    pg_config a, b;
    pg_config_defaults(&a);
    pg_config_defaults(&b);
    assert_int_equal(pg_config_set(&a, "cache.namespace", "abcdef", err, sizeof err), PG_OK);
    assert_int_equal(pg_config_set(&b, "cache.namespace", "abc", err, sizeof err), PG_OK);
    c.n = 0;
    pg_config_reload(&a, &b, record, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.keys[0], "cache.namespace");
    assert_int_equal(pg_config_set(&a, "log.format", "xml", err, sizeof err), PG_EINVAL);
    assert_string_equal(err, "log.format: 'xml' is not plain or json");
}

/* The server's own defaults (what profgate-sim runs with) are the directive table's defaults. */
static void test_http_server_defaults_match_the_table(void **state)
{
    (void)state;
    pg_config c;
    pg_config_defaults(&c);
    pg_http_server_cfg from_table, own;
    char err[256];
    assert_int_equal(pg_settings_http_server(&from_table, &c, err, sizeof err), PG_OK);
    pg_http_server_cfg_default(&own);
    assert_int_equal(own.limits.max_head, from_table.limits.max_head);
    assert_int_equal(own.limits.max_url, from_table.limits.max_url);
    assert_int_equal(own.limits.max_headers, from_table.limits.max_headers);
    assert_int_equal(own.limits.max_body, from_table.limits.max_body);
    assert_int_equal(own.max_connections, from_table.max_connections);
    assert_int_equal(own.head_timeout_ms, from_table.head_timeout_ms);
    assert_int_equal(own.idle_timeout_ms, from_table.idle_timeout_ms);
    assert_int_equal(own.send_timeout_ms, from_table.send_timeout_ms);
    assert_string_equal(own.server_name, from_table.server_name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_load_string),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_set_and_listen),
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_example_file_matches_table), cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_reload), cmocka_unit_test(test_http_server_defaults_match_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
