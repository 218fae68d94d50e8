/*
 * main.c: profgate's entry point. It only wires: parse the command line, load the config,
 * start the server with the gateway as its handler, run the loop, shut down on a signal, and
 * check that every handle closed. No request logic lives here.
 */
#include "profgate/clock.h"
#include "profgate/config.h"
#include "profgate/gateway.h"
#include "profgate/http_server.h"
#include "profgate/iso8601.h"
#include "profgate/log.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <uv.h>

typedef struct app {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    pg_http_server *server;
    pg_config cfg;
    bool stopping;
} app;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: profgate [-c FILE] [--listen ADDR:PORT] [--log-level LEVEL] [--clock ISO8601]\n"
            "       profgate -t [-c FILE]      check the configuration and exit\n"
            "       profgate --dump-config     print the fully commented default configuration\n"
            "\n"
            "A caching gateway for the Amazon CodeGuru Profiler GetProfile API.\n"
            "\n"
            "  -c, --config FILE     INI configuration file (see conf/profgate.conf)\n"
            "      --listen ADDRS    override server.listen (e.g. 127.0.0.1:8080,[::1]:8080)\n"
            "      --log-level L     override log.level (debug, info, warn, error)\n"
            "      --clock TS        test clock: \"now\" starts at TS and advances in real time\n"
            "  -t, --test-config     validate the configuration and exit\n"
            "      --dump-config     print the example configuration\n"
            "  -h, --help            this help\n"
            "  -V, --version         print the version\n"
            "\n"
            "Configuration directives (section.name, default, meaning):\n");
    pg_config_write_usage(out);
}

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_server_closed(void *data)
{
    app *a = data;
    a->server = NULL;
    pg_log(PG_LOG_INFO, "server closed; exiting");
    uv_close((uv_handle_t *)&a->sigterm, on_signal_closed);
    uv_close((uv_handle_t *)&a->sigint, on_signal_closed);
}

static void on_signal(uv_signal_t *h, int signum)
{
    app *a = h->data;
    if (a->stopping) {
        pg_log(PG_LOG_WARN, "second signal %d: the shutdown deadline still applies", signum);
        return;
    }
    a->stopping = true;
    pg_log(PG_LOG_INFO, "signal %d: graceful shutdown (up to %lld ms)", signum,
           (long long)a->cfg.shutdown_timeout_ms);
    pg_http_server_shutdown(a->server, (uint64_t)a->cfg.shutdown_timeout_ms, on_server_closed, a);
}

static void on_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    pg_log(PG_LOG_ERROR, "handle still open at exit: %s", uv_handle_type_name(uv_handle_get_type(h)));
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
        {"log-level", required_argument, NULL, 'L'}, {"clock", required_argument, NULL, 'k'},
        {"test-config", no_argument, NULL, 't'}, {"dump-config", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *listen = NULL, *level = NULL, *clock_arg = NULL;
    bool test_only = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:thV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config_path = optarg; break;
        case 'l': listen = optarg; break;
        case 'L': level = optarg; break;
        case 'k': clock_arg = optarg; break;
        case 't': test_only = true; break;
        case 'D': pg_config_write_example(stdout); return 0;
        case 'h': usage(stdout); return 0;
        case 'V': printf("profgate %s\n", PG_VERSION); return 0;
        default: usage(stderr); return EX_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "profgate: unexpected argument '%s'\n", argv[optind]);
        return EX_USAGE;
    }

    static app a; /* static: signal handles and the server point into it for the loop's lifetime */
    char err[PG_CONFIG_ERR_MAX];
    pg_config_defaults(&a.cfg);
    if (config_path != NULL && pg_config_load_file(&a.cfg, config_path, err, sizeof err) != PG_OK) {
        fprintf(stderr, "profgate: %s\n", err);
        return EX_CONFIG;
    }
    if ((listen != NULL && pg_config_set(&a.cfg, "server.listen", listen, err, sizeof err) != PG_OK) ||
        (level != NULL && pg_config_set(&a.cfg, "log.level", level, err, sizeof err) != PG_OK)) {
        fprintf(stderr, "profgate: command line: %s\n", err);
        return EX_USAGE;
    }
    pg_clock clock;
    pg_clock_init_real(&clock);
    if (clock_arg != NULL) {
        int64_t start;
        char why[128];
        if (pg_ts_parse(clock_arg, strlen(clock_arg), &start, why, sizeof why) != PG_OK) {
            fprintf(stderr, "profgate: --clock '%s': %s\n", clock_arg, why);
            return EX_USAGE;
        }
        pg_clock_init_at(&clock, start);
    }
    pg_http_server_cfg scfg;
    if (pg_http_server_cfg_from(&scfg, &a.cfg, err, sizeof err) != PG_OK) {
        fprintf(stderr, "profgate: %s\n", err);
        return EX_CONFIG;
    }
    if (test_only) {
        printf("profgate: configuration %s is valid\n", config_path ? config_path : "(defaults)");
        return 0;
    }
    pg_log_set_level((int)a.cfg.log_level);
    signal(SIGPIPE, SIG_IGN);

    PG_ASSERT(uv_loop_init(&a.loop) == 0);
    pg_gateway gw;
    pg_gateway_init(&gw, &a.cfg, &clock);
    if (pg_http_server_start(&a.loop, &scfg, pg_gateway_handle, &gw, &a.server, err, sizeof err) != PG_OK) {
        pg_log(PG_LOG_ERROR, "%s", err);
        uv_run(&a.loop, UV_RUN_DEFAULT); /* let the listeners that did open close */
        uv_loop_close(&a.loop);
        return EX_OSERR;
    }
    uv_signal_init(&a.loop, &a.sigterm);
    uv_signal_init(&a.loop, &a.sigint);
    a.sigterm.data = a.sigint.data = &a;
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_signal_start(&a.sigint, on_signal, SIGINT);

    for (size_t i = 0; i < pg_http_server_listener_count(a.server); i++) {
        char addr[80];
        if (pg_http_server_bound(a.server, i, addr, sizeof addr) == PG_OK)
            pg_log(PG_LOG_INFO, "listening on %s", addr);
    }
    if (clock_arg != NULL) {
        char ts[PG_TS_FMT_MAX];
        pg_ts_format(pg_clock_now(&clock), ts, sizeof ts);
        pg_log(PG_LOG_INFO, "test clock: now is %s", ts);
    }
    pg_log(PG_LOG_INFO, "profgate %s ready", PG_VERSION);

    uv_run(&a.loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&a.loop);
    if (rc != 0) {
        uv_walk(&a.loop, on_walk, NULL);
        pg_log(PG_LOG_ERROR, "event loop did not close cleanly: %s", uv_strerror(rc));
        return EX_SOFTWARE;
    }
    return 0;
}
