/*
 * main.c: profgate's entry point. It only wires: parse the command line, load the config,
 * start the server with the gateway as its handler, run the loop, shut down on a signal, and
 * check that every handle closed. No request logic lives here.
 */
#include "profgate/clock.h"
#include "profgate/config.h"
#include "profgate/creds.h"
#include "profgate/fetcher.h"
#include "profgate/upstream.h"
#include "profgate/gateway.h"
#include "profgate/http_server.h"
#include "profgate/iso8601.h"
#include "profgate/log.h"
#include "profgate/metrics.h"
#include "profgate/signals.h"
#include "profgate/redis.h"
#include "profgate/service.h"
#include "profgate/tenants.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <uv.h>

typedef struct app {
    uv_loop_t loop;
    pg_stop_signals signals;
    pg_http_server *server;
    pg_upstream *upstream;
    pg_fetcher *fetcher;
    pg_redis *redis;
    pg_gateway gw;
    pg_tenants *tenants; /* auth.mode = sigv4 */
    pg_config cfg;
    uv_signal_t hup;
    /* For reloads: the file, and the command-line overrides applied over it each time. */
    const char *config_path, *listen_arg, *upstream_arg, *level_arg;
    const char *pid_file;
    bool stopping;
} app;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: profgate [-c FILE] [--listen ADDR:PORT] [--upstream URL] [--log-level LEVEL] [--pid-file FILE]\n"
            "                [--clock ISO8601]\n"
            "       profgate -t [-c FILE]      check the configuration and exit\n"
            "       profgate --dump-config     print the fully commented default configuration\n"
            "\n"
            "A caching gateway for the Amazon CodeGuru Profiler GetProfile API.\n"
            "\n"
            "  -c, --config FILE     INI configuration file (see conf/profgate.conf)\n"
            "      --listen ADDRS    override server.listen (e.g. 127.0.0.1:8080,[::1]:8080)\n"
            "      --upstream URL    override upstream.endpoint (e.g. http://127.0.0.1:9000 for profgate-sim)\n"
            "      --log-level L     override log.level (debug, info, warn, error)\n"
            "      --pid-file FILE   write the process id to FILE once listening; removed at exit\n"
            "      --clock TS        test clock: \"now\" starts at TS and advances in real time (TS! stays at TS)\n"
            "  -t, --test-config     validate the configuration and exit\n"
            "      --dump-config     print the example configuration\n"
            "      --list-metrics    print the metrics GET /metrics exports (a Markdown table)\n"
            "  -h, --help            this help\n"
            "  -V, --version         print the version\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop gracefully (in-flight requests finish, up to server.shutdown_timeout);\n"
            "SIGHUP reloads the configuration file (see conf/profgate.conf for what applies live).\n"
            "Exit status: 0 after a graceful stop; 64 bad command line; 78 bad configuration or credentials;\n"
            "71 cannot listen; 73 cannot write the pid file; 70 internal error at exit. With $NOTIFY_SOCKET set (systemd Type=notify) it\n"
            "reports READY=1 once listening, RELOADING=1 during a reload and STOPPING=1 at shutdown.\n"
            "\n"
            "Configuration directives (section.name, default, meaning):\n");
    pg_config_write_usage(out);
}

static void on_upstream_closed(void *data)
{
    app *a = data;
    a->upstream = NULL;
    pg_fetcher_free(a->fetcher); /* every waiter was answered or left with its request */
    a->fetcher = NULL;
    pg_log(PG_LOG_INFO, "server closed; exiting");
    pg_stop_signals_close(&a->signals);
    uv_close((uv_handle_t *)&a->hup, NULL);
}

/* Redis goes before the upstream: a lookup it fails while closing turns into an upstream call,
 * which the upstream's own close then fails cleanly. */
static void on_redis_closed(void *data)
{
    app *a = data;
    a->redis = NULL;
    pg_upstream_close(a->upstream, on_upstream_closed, a);
}

/* Order matters: requests finish (or are cut at the deadline) first; then the calls nobody waits
 * for any more are cancelled and the clients' handles closed. */
static void on_server_closed(void *data)
{
    app *a = data;
    a->server = NULL;
    a->gw.server = NULL;
    if (a->redis != NULL)
        pg_redis_close(a->redis, on_redis_closed, a);
    else
        on_redis_closed(a);
}

static void on_signal(void *data, int signum)
{
    app *a = data;
    if (a->stopping) {
        pg_log(PG_LOG_WARN, "second signal %d: the shutdown deadline still applies", signum);
        return;
    }
    a->stopping = true;
    a->gw.stopping = true;
    pg_service_notify("STOPPING=1");
    pg_log(PG_LOG_INFO, "signal %d: graceful shutdown (up to %lld ms)", signum,
           (long long)a->cfg.shutdown_timeout_ms);
    pg_http_server_shutdown(a->server, (uint64_t)a->cfg.shutdown_timeout_ms, on_server_closed, a);
}

/* Each tenant's weight in the upstream's queue (its flow is its slot + 1). */
static void apply_weights(app *a)
{
    for (size_t i = 0; a->tenants != NULL && i < a->tenants->n; i++)
        pg_upstream_set_weight(a->upstream, (unsigned)i + 1, a->tenants->t[i].weight);
}

static void on_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    pg_log(PG_LOG_ERROR, "handle still open at exit: %s", uv_handle_type_name(uv_handle_get_type(h)));
}

/* The upstream settings, with the endpoint and region defaults resolved the way the SDKs do. */
static int upstream_cfg_from(pg_upstream_cfg *u, const pg_config *c, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    const char *region = c->up_region;
    if (!region[0])
        region = getenv("AWS_REGION");
    if (region == NULL || !region[0])
        region = getenv("AWS_DEFAULT_REGION");
    if (region == NULL || !region[0])
        region = "us-east-1";
    if (strlen(region) >= sizeof u->region) {
        snprintf(err, errlen, "region '%.80s' is too long", region);
        return PG_EINVAL;
    }
    snprintf(u->region, sizeof u->region, "%s", region);
    if (c->up_endpoint[0])
        snprintf(u->endpoint, sizeof u->endpoint, "%s", c->up_endpoint);
    else
        snprintf(u->endpoint, sizeof u->endpoint, "https://codeguru-profiler.%s.amazonaws.com", u->region);
    size_t n = strlen(u->endpoint);
    while (n > 0 && u->endpoint[n - 1] == '/')
        u->endpoint[--n] = '\0';
    u->rate = (double)c->up_rate;
    u->burst = (double)c->up_burst;
    u->max_inflight = (uint32_t)c->up_max_inflight;
    u->queue_max = (uint32_t)c->up_queue_max;
    u->retries = (uint32_t)c->up_retries;
    u->backoff_base_ms = (uint64_t)c->up_backoff_base_ms;
    u->backoff_cap_ms = (uint64_t)c->up_backoff_cap_ms;
    u->attempt_timeout_ms = (uint64_t)c->up_attempt_timeout_ms;
    u->deadline_ms = (uint64_t)c->up_deadline_ms;
    u->max_response = (size_t)c->up_max_response;
    snprintf(u->ca_bundle, sizeof u->ca_bundle, "%s", c->up_ca_bundle);
    u->insecure = c->up_insecure;
    u->breaker_failures = (uint32_t)c->up_breaker_failures;
    u->breaker_cooldown_ms = (uint64_t)c->up_breaker_cooldown_ms;
    if (strncmp(u->endpoint, "http://", 7) != 0 && strncmp(u->endpoint, "https://", 8) != 0) {
        snprintf(err, errlen, "upstream.endpoint '%.200s' must start with http:// or https://", u->endpoint);
        return PG_EINVAL;
    }
    return PG_OK;
}

/* cache.namespace, or a stable digest of the upstream's identity (endpoint and region). */
static void cache_namespace(const pg_config *c, const pg_upstream_cfg *u, char *out, size_t outlen)
{
    if (c->cache_namespace[0]) {
        snprintf(out, outlen, "%s", c->cache_namespace);
        return;
    }
    char id[600];
    int n = snprintf(id, sizeof id, "%s|%s", u->endpoint, u->region);
    snprintf(out, outlen, "%016llx", (unsigned long long)pg_hash64(id, (size_t)PG_MIN((size_t)n, sizeof id - 1)));
}

/* The configuration as the process would start with it now: defaults, the file, the flags. */
static int load_config(const app *a, pg_config *out, char *err, size_t errlen)
{
    pg_config_defaults(out);
    if (a->config_path != NULL && pg_config_load_file(out, a->config_path, err, errlen) != PG_OK)
        return EX_CONFIG;
    char why[PG_CONFIG_ERR_MAX - 32];
    if ((a->listen_arg != NULL && pg_config_set(out, "server.listen", a->listen_arg, why, sizeof why) != PG_OK) ||
        (a->upstream_arg != NULL && pg_config_set(out, "upstream.endpoint", a->upstream_arg, why, sizeof why) != PG_OK) ||
        (a->level_arg != NULL && pg_config_set(out, "log.level", a->level_arg, why, sizeof why) != PG_OK)) {
        snprintf(err, errlen, "command line: %.*s", (int)PG_MIN(strlen(why), errlen > 16 ? errlen - 16 : 0), why);
        return EX_USAGE;
    }
    return 0;
}

typedef struct reload_count {
    size_t live, restart;
} reload_count;

static void on_change(const char *key, bool live, void *data)
{
    reload_count *n = data;
    if (live) {
        n->live++;
        pg_log(PG_LOG_INFO, "reload: %s changed", key);
    } else {
        n->restart++;
        pg_log(PG_LOG_WARN, "reload: %s changed but needs a restart; the running value stays", key);
    }
}

/* SIGHUP: read the file again; apply what can change live, report the rest; a file that does not
 * load or validate changes nothing. Runs on the loop between events, so no request is cut. */
static void on_hup(uv_signal_t *h, int signum)
{
    (void)signum;
    app *a = h->data;
    if (a->stopping)
        return;
    pg_service_notify("RELOADING=1");
    pg_config next;
    char err[PG_CONFIG_ERR_MAX];
    pg_http_server_cfg scfg;
    pg_upstream_cfg ucfg;
    if (load_config(a, &next, err, sizeof err) != 0 || pg_http_server_cfg_from(&scfg, &next, err, sizeof err) != PG_OK ||
        upstream_cfg_from(&ucfg, &next, err, sizeof err) != PG_OK) {
        a->gw.m.reloads[PG_MRL_FAILED]++;
        pg_log(PG_LOG_ERROR, "reload failed, the running configuration stays: %s", err);
        pg_service_notify("READY=1\nSTATUS=reload failed; running the previous configuration");
        return;
    }
    /* The tenants file is re-read whatever changed in the config; all or nothing, like the config. */
    if (a->tenants != NULL &&
        pg_tenants_load_file(a->tenants, a->cfg.auth_tenants_file, pg_monotonic_ns(), err, sizeof err) != PG_OK) {
        a->gw.m.reloads[PG_MRL_FAILED]++;
        pg_log(PG_LOG_ERROR, "reload failed, the running configuration and tenants stay: %s", err);
        pg_service_notify("READY=1\nSTATUS=reload failed; running the previous configuration");
        return;
    }
    apply_weights(a);
    reload_count n = {0};
    pg_config_reload(&a->cfg, &next, on_change, &n);
    /* a->cfg now holds the running values; every module takes its part from it. */
    pg_log_set_level((int)a->cfg.log_level);
    pg_log_set_format((int)a->cfg.log_format);
    PG_ASSERT(pg_http_server_cfg_from(&scfg, &a->cfg, err, sizeof err) == PG_OK);
    scfg.on_done = pg_gateway_done;
    pg_http_server_reconfigure(a->server, &scfg);
    PG_ASSERT(upstream_cfg_from(&ucfg, &a->cfg, err, sizeof err) == PG_OK);
    pg_upstream_reconfigure(a->upstream, &ucfg);
    pg_fetcher_reconfigure(a->fetcher, (size_t)a->cfg.cache_memory_bytes, (uint64_t)a->cfg.live_ttl_ms,
                           (uint64_t)a->cfg.refresh_ahead_ms);
    pg_gateway_reconfigure(&a->gw);
    a->gw.m.reloads[PG_MRL_OK]++;
    pg_log(PG_LOG_INFO, "configuration reloaded from %s: %zu change(s) applied, %zu need a restart",
           a->config_path ? a->config_path : "(defaults)", n.live, n.restart);
    pg_service_notify("READY=1\nSTATUS=configuration reloaded");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
        {"upstream", required_argument, NULL, 'u'}, {"pid-file", required_argument, NULL, 'p'},
        {"log-level", required_argument, NULL, 'L'}, {"clock", required_argument, NULL, 'k'},
        {"test-config", no_argument, NULL, 't'}, {"dump-config", no_argument, NULL, 'D'},
        {"list-metrics", no_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *listen = NULL, *level = NULL, *clock_arg = NULL, *upstream = NULL;
    const char *pid_file = NULL;
    bool test_only = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:thV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config_path = optarg; break;
        case 'l': listen = optarg; break;
        case 'u': upstream = optarg; break;
        case 'p': pid_file = optarg; break;
        case 'L': level = optarg; break;
        case 'k': clock_arg = optarg; break;
        case 't': test_only = true; break;
        case 'D': pg_config_write_example(stdout); return 0;
        case 'M': pg_metrics_write_doc(stdout); return 0;
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
    a.config_path = config_path;
    a.listen_arg = listen;
    a.upstream_arg = upstream;
    a.level_arg = level;
    a.pid_file = pid_file;
    int lrc = load_config(&a, &a.cfg, err, sizeof err);
    if (lrc != 0) {
        fprintf(stderr, "profgate: %s\n", err);
        return lrc;
    }
    pg_clock clock;
    char why[128];
    if (pg_clock_init_from_arg(&clock, clock_arg, why, sizeof why) != PG_OK) {
        fprintf(stderr, "profgate: --clock '%s': %s\n", clock_arg, why);
        return EX_USAGE;
    }
    pg_http_server_cfg scfg;
    if (pg_http_server_cfg_from(&scfg, &a.cfg, err, sizeof err) != PG_OK) {
        fprintf(stderr, "profgate: %s\n", err);
        return EX_CONFIG;
    }
    pg_upstream_cfg ucfg;
    if (upstream_cfg_from(&ucfg, &a.cfg, err, sizeof err) != PG_OK) {
        fprintf(stderr, "profgate: %s\n", err);
        return EX_CONFIG;
    }
    if (a.cfg.auth_mode == PG_AUTH_SIGV4) {
        if (!a.cfg.auth_tenants_file[0]) {
            fprintf(stderr, "profgate: auth.mode = sigv4 needs auth.tenants_file\n");
            return EX_CONFIG;
        }
        a.tenants = calloc(1, sizeof *a.tenants);
        PG_ASSERT(a.tenants != NULL);
        if (pg_tenants_load_file(a.tenants, a.cfg.auth_tenants_file, pg_monotonic_ns(), err, sizeof err) != PG_OK) {
            fprintf(stderr, "profgate: tenants: %s\n", err);
            return EX_CONFIG;
        }
    }
    pg_creds creds;
    if (pg_creds_load(&creds, NULL, err, sizeof err) != PG_OK) {
        fprintf(stderr, "profgate: AWS credentials: %s\n", err);
        return EX_CONFIG;
    }
    if (test_only) {
        pg_creds_clear(&creds);
        printf("profgate: configuration %s is valid\n", config_path ? config_path : "(defaults)");
        return 0;
    }
    pg_log_set_level((int)a.cfg.log_level);
    pg_log_set_format((int)a.cfg.log_format);
    signal(SIGPIPE, SIG_IGN);
    pg_upstream_global_init();

    PG_ASSERT(uv_loop_init(&a.loop) == 0);
    a.upstream = pg_upstream_new(&a.loop, &ucfg, &creds, err, sizeof err);
    char who[300];
    pg_creds_describe(&creds, who, sizeof who);
    pg_creds_clear(&creds);
    if (a.upstream == NULL) {
        fprintf(stderr, "profgate: %s\n", err);
        return EX_CONFIG;
    }
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    pg_fetcher_cfg fcfg = {.l1_bytes = (size_t)a.cfg.cache_memory_bytes,
                           .live_ttl_ms = (uint64_t)a.cfg.live_ttl_ms,
                           .refresh_ahead_ms = (uint64_t)a.cfg.refresh_ahead_ms};
    cache_namespace(&a.cfg, &ucfg, fcfg.ns, sizeof fcfg.ns);
    if (a.cfg.redis_url[0]) {
        pg_redis_cfg rcfg = {.connect_timeout_ms = (uint64_t)a.cfg.redis_connect_timeout_ms,
                             .command_timeout_ms = (uint64_t)a.cfg.redis_command_timeout_ms,
                             .reconnect_min_ms = 100, .reconnect_max_ms = 5000};
        snprintf(rcfg.url, sizeof rcfg.url, "%s", a.cfg.redis_url);
        a.redis = pg_redis_new(&a.loop, &rcfg, err, sizeof err);
        if (a.redis == NULL) {
            fprintf(stderr, "profgate: %s\n", err);
            return EX_CONFIG;
        }
        fcfg.l2 = a.redis;
    }
    pg_log(PG_LOG_INFO, "cache: in-process %lld bytes, redis %s, namespace %s", (long long)a.cfg.cache_memory_bytes,
           a.cfg.redis_url[0] ? "on" : "off", fcfg.ns);
    a.fetcher = pg_fetcher_new(a.upstream, &lim, &fcfg);
    PG_ASSERT(a.fetcher != NULL);
    pg_log(PG_LOG_INFO, "upstream %s (region %s, %.0f req/s, burst %.0f, credentials: %s)", ucfg.endpoint, ucfg.region,
           ucfg.rate, ucfg.burst, who);
    pg_gateway *gw = &a.gw;
    pg_gateway_init(gw, &a.cfg, &clock, a.fetcher, a.upstream, a.redis);
    gw->tenants = a.tenants;
    apply_weights(&a);
    if (a.tenants != NULL)
        pg_log(PG_LOG_INFO, "auth: sigv4, %zu tenant(s) from %s", a.tenants->n, a.cfg.auth_tenants_file);
    scfg.on_done = pg_gateway_done;
    if (pg_http_server_start(&a.loop, &scfg, pg_gateway_handle, gw, &a.server, err, sizeof err) != PG_OK) {
        pg_log(PG_LOG_ERROR, "%s", err);
        pg_upstream_close(a.upstream, NULL, NULL);
        if (a.redis)
            pg_redis_close(a.redis, NULL, NULL);
        pg_fetcher_free(a.fetcher);
        pg_gateway_free(gw);
        uv_run(&a.loop, UV_RUN_DEFAULT); /* let the handles that did open close */
        uv_loop_close(&a.loop);
        pg_upstream_global_cleanup();
        return EX_OSERR;
    }
    gw->server = a.server;
    pg_stop_signals_start(&a.signals, &a.loop, on_signal, &a);
    uv_signal_init(&a.loop, &a.hup);
    a.hup.data = &a;
    uv_signal_start(&a.hup, on_hup, SIGHUP);
    if (pid_file != NULL && pg_pidfile_write(pid_file, err, sizeof err) != PG_OK) {
        pg_log(PG_LOG_ERROR, "--pid-file: %s", err);
        on_signal(&a, SIGTERM); /* a supervisor relying on the file cannot manage us: stop cleanly */
        uv_run(&a.loop, UV_RUN_DEFAULT);
        pg_gateway_free(gw);
        pg_upstream_global_cleanup();
        uv_loop_close(&a.loop);
        return EX_CANTCREAT;
    }
    pg_http_server_log_listeners(a.server);
    if (clock_arg != NULL) {
        char ts[PG_TS_FMT_MAX];
        pg_ts_format(pg_clock_now(&clock), ts, sizeof ts);
        pg_log(PG_LOG_INFO, "test clock: now is %s", ts);
    }
    pg_log(PG_LOG_INFO, "profgate %s ready", PG_VERSION);
    pg_service_notify("READY=1\nSTATUS=listening");

    uv_run(&a.loop, UV_RUN_DEFAULT);
    if (pid_file != NULL)
        pg_pidfile_remove(pid_file);
    pg_gateway_free(gw); /* after the loop: no write still holds a stored answer */
    if (a.tenants != NULL) {
        pg_tenants_clear(a.tenants);
        free(a.tenants);
    }
    pg_upstream_global_cleanup();
    int rc = uv_loop_close(&a.loop);
    if (rc != 0) {
        uv_walk(&a.loop, on_walk, NULL);
        pg_log(PG_LOG_ERROR, "event loop did not close cleanly: %s", uv_strerror(rc));
        return EX_SOFTWARE;
    }
    return 0;
}
