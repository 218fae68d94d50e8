/*
 * main.c: profgate's entry point. It only wires: parse the command line, load the config,
 * build the modules (settings.c translates the config for each), start the server with the
 * gateway as its handler, run the loop, shut down on a signal, and check that every handle
 * closed. No request logic lives here. Start-up failures and normal exits leave through one
 * teardown path (app_teardown), which closes whatever was opened, in order.
 */
#include "profgate/clock.h"
#include "profgate/config.h"
#include "profgate/resources.h"
#include "profgate/secretfile.h"
#include "profgate/credplan.h"
#include "profgate/credsrc.h"
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
#include "profgate/settings.h"
#include "profgate/supervisor.h"
#include "profgate/tenants.h"

#include <errno.h>
#include <getopt.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <uv.h>

typedef struct app {
    uv_loop_t loop;
    bool loop_ready, curl_ready, signals_on, hup_on, stats_on, pid_written;
    pg_stop_signals signals;
    uv_signal_t hup;
    uv_timer_t stats_timer; /* server.workers: publishes this worker's metrics to the others */
    pg_http_server *server;
    pg_upstream *upstream;
    pg_cred_plan *plan;  /* from app_configure until app_start hands it to creds */
    char redis_password[256]; /* from redis.password_file, until app_start hands it to redis */
    pg_credsrc *creds;   /* the credentials upstream calls are signed with */
    pg_fetcher *fetcher;
    bool fetcher_closing;
    pg_redis *redis;
    pg_fleet *fleet;     /* redis.url with fleet.enabled */
    pg_gateway *gw;
    pg_tenants *tenants; /* auth.mode = sigv4 */
    pg_clock clock;
    pg_config cfg;
    /* For reloads: the file, and the command-line overrides applied over it each time. */
    const char *config_path, *listen_arg, *upstream_arg, *level_arg, *clock_arg;
    const char *pid_file;
    bool test_only;
    bool stopping;
    unsigned nworkers;  /* server.workers resolved ("auto": the CPUs this process may use) */
    pg_worker_ctx wctx; /* when this process is one of several workers (wctx.index > 0) */
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

static void close_next(app *a);

static void on_server_closed(void *data)
{
    app *a = data;
    a->server = NULL;
    pg_gateway_set_server(a->gw, NULL);
    close_next(a);
}

static void on_redis_closed(void *data)
{
    app *a = data;
    a->redis = NULL;
    close_next(a);
}

static void on_fetcher_closed(void *data)
{
    close_next(data);
}

static void on_upstream_closed(void *data)
{
    app *a = data;
    a->upstream = NULL;
    close_next(a);
}

static void on_creds_closed(void *data)
{
    app *a = data;
    a->creds = NULL;
    close_next(a);
}

static void on_fleet_closed(void *data)
{
    app *a = data;
    a->fleet = NULL;
    close_next(a);
}

/* Closes the next module still open; each close's callback calls it again. Order matters:
 * requests finish (or are cut at the deadline) first; the fleet leaves (its member entry goes
 * and it lets go of Redis); Redis goes before the upstream, because a lookup it fails while
 * closing turns into an upstream call; the fetcher ends lookups waiting for another member's
 * fetch; the upstream then fails the calls nobody waits for any more; last the fetcher (every
 * waiter was answered or left with its request), the fleet (nothing calls it any more) and the
 * signal handles. The metrics publisher stops as soon as the server is closed, before any module:
 * it reads every module's figures, and one firing while the credentials or the fleet took their
 * time to close read the upstream after it was freed (seen under ASan with server.workers). */
static void close_next(app *a)
{
    if (a->server != NULL) {
        pg_http_server_shutdown(a->server, (uint64_t)a->cfg.shutdown_timeout_ms, on_server_closed, a);
        return;
    }
    if (a->stats_on) {
        uv_close((uv_handle_t *)&a->stats_timer, NULL);
        a->stats_on = false;
    }
    if (a->fleet != NULL)
        pg_fleet_leave(a->fleet);
    if (a->redis != NULL) {
        pg_redis_close(a->redis, on_redis_closed, a);
        return;
    }
    if (a->fetcher != NULL && !a->fetcher_closing) {
        a->fetcher_closing = true;
        pg_fetcher_close(a->fetcher, on_fetcher_closed, a);
        return;
    }
    if (a->upstream != NULL) {
        pg_upstream_close(a->upstream, on_upstream_closed, a);
        return;
    }
    if (a->creds != NULL) {
        pg_credsrc_close(a->creds, on_creds_closed, a); /* after the upstream: nothing signs any more */
        return;
    }
    pg_fetcher_free(a->fetcher);
    a->fetcher = NULL;
    if (a->fleet != NULL) {
        pg_fleet_close(a->fleet, on_fleet_closed, a);
        return;
    }
    if (a->signals_on)
        pg_stop_signals_close(&a->signals);
    if (a->hup_on)
        uv_close((uv_handle_t *)&a->hup, NULL);
    a->signals_on = a->hup_on = false;
    pg_log(PG_LOG_INFO, "server closed; exiting");
}

static void on_signal(void *data, int signum)
{
    app *a = data;
    if (a->stopping) {
        pg_log(PG_LOG_WARN, "second signal %d: the shutdown deadline still applies", signum);
        return;
    }
    a->stopping = true;
    pg_gateway_set_stopping(a->gw);
    pg_service_notify("STOPPING=1");
    pg_log(PG_LOG_INFO, "signal %d: graceful shutdown (up to %lld ms)", signum,
           (long long)a->cfg.shutdown_timeout_ms);
    close_next(a);
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

static void reload_failed(app *a, const char *what, const char *err)
{
    pg_gateway_count_reload(a->gw, false);
    pg_log(PG_LOG_ERROR, "reload failed, %s: %s", what, err);
    pg_service_notify("READY=1\nSTATUS=reload failed; running the previous configuration");
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
    if (load_config(a, &next, err, sizeof err) != 0 || pg_settings_http_server(&scfg, &next, err, sizeof err) != PG_OK ||
        pg_settings_upstream(&ucfg, &next, err, sizeof err) != PG_OK) {
        reload_failed(a, "the running configuration stays", err);
        return;
    }
    /* The tenants file is re-read whatever changed in the config; all or nothing, like the config. */
    if (a->tenants != NULL &&
        pg_tenants_load_file(a->tenants, a->cfg.auth_tenants_file, pg_monotonic_ns(), err, sizeof err) != PG_OK) {
        reload_failed(a, "the running configuration and tenants stay", err);
        return;
    }
    apply_weights(a);
    reload_count n = {0};
    pg_config_reload(&a->cfg, &next, on_change, &n);
    /* a->cfg now holds the running values; every module takes its part from it. */
    pg_log_set_level((int)a->cfg.log_level);
    pg_log_set_format((int)a->cfg.log_format);
    PG_ASSERT(pg_settings_http_server(&scfg, &a->cfg, err, sizeof err) == PG_OK);
    scfg.on_done = pg_gateway_done;
    pg_http_server_reconfigure(a->server, &scfg);
    PG_ASSERT(pg_settings_upstream(&ucfg, &a->cfg, err, sizeof err) == PG_OK);
    pg_upstream_reconfigure(a->upstream, &ucfg);
    pg_fetcher_cfg fcfg;
    pg_settings_fetcher(&fcfg, &a->cfg, &ucfg);
    pg_fetcher_reconfigure(a->fetcher, &fcfg);
    pg_gateway_reconfigure(a->gw);
    pg_gateway_count_reload(a->gw, true);
    pg_log(PG_LOG_INFO, "configuration reloaded from %s: %zu change(s) applied, %zu need a restart",
           a->config_path ? a->config_path : "(defaults)", n.live, n.restart);
    pg_service_notify("READY=1\nSTATUS=configuration reloaded");
}

/* server.workers as a count; more than one only with the fleet (shared budget and leases). */
static int resolve_workers(app *a)
{
    a->nworkers = a->cfg.workers == PG_WORKERS_AUTO ? PG_MIN(pg_cpus_available(), PG_WORKERS_MAX)
                                                     : (unsigned)a->cfg.workers;
    if (a->nworkers > 1 && (!a->cfg.redis_url[0] || !a->cfg.fleet_enabled)) {
        char n[48];
        snprintf(n, sizeof n, a->cfg.workers == PG_WORKERS_AUTO ? "auto (%u CPUs)" : "%u", a->nworkers);
        fprintf(stderr,
                "profgate: server.workers = %s needs redis.url with fleet.enabled = on: workers share the "
                "upstream budget and each bucket's fetch through Redis, as replicas do; without it each "
                "would spend the whole budget. Set redis.url, or server.workers = 1.\n", n);
        return EX_CONFIG;
    }
    return 0;
}

/* Wipes and frees the credentials plan (it may hold static keys). */
static void drop_plan(app *a)
{
    if (a->plan != NULL) {
        pg_cred_plan_clear(a->plan);
        free(a->plan);
        a->plan = NULL;
    }
}

/* Reads the configuration, the tenants and the credentials plan; nothing runs yet. 0 or an exit
 * status. */
static int app_configure(app *a)
{
    char err[PG_CONFIG_ERR_MAX];
    int lrc = load_config(a, &a->cfg, err, sizeof err);
    if (lrc != 0) {
        fprintf(stderr, "profgate: %s\n", err);
        return lrc;
    }
    if ((lrc = resolve_workers(a)) != 0)
        return lrc;
    char why[128];
    if (pg_clock_init_from_arg(&a->clock, a->clock_arg, why, sizeof why) != PG_OK) {
        fprintf(stderr, "profgate: --clock '%s': %s\n", a->clock_arg, why);
        return EX_USAGE;
    }
    pg_http_server_cfg scfg;
    pg_upstream_cfg ucfg;
    if (pg_settings_http_server(&scfg, &a->cfg, err, sizeof err) != PG_OK ||
        pg_settings_upstream(&ucfg, &a->cfg, err, sizeof err) != PG_OK) {
        fprintf(stderr, "profgate: %s\n", err);
        return EX_CONFIG;
    }
    if (a->cfg.auth_mode == PG_AUTH_SIGV4) {
        if (!a->cfg.auth_tenants_file[0]) {
            fprintf(stderr, "profgate: auth.mode = sigv4 needs auth.tenants_file\n");
            return EX_CONFIG;
        }
        a->tenants = pg_xcalloc(1, sizeof *a->tenants);
        if (pg_tenants_load_file(a->tenants, a->cfg.auth_tenants_file, pg_monotonic_ns(), err, sizeof err) != PG_OK) {
            fprintf(stderr, "profgate: tenants: %s\n", err);
            return EX_CONFIG;
        }
    }
    if (a->cfg.redis_password_file[0] &&
        pg_secret_file_read(a->cfg.redis_password_file, a->redis_password, sizeof a->redis_password, err,
                            sizeof err) != PG_OK) {
        fprintf(stderr, "profgate: redis.password_file: %s\n", err);
        return EX_CONFIG;
    }
    a->plan = pg_xcalloc(1, sizeof *a->plan);
    if (pg_cred_plan_resolve(a->plan, a->cfg.up_credentials, NULL, ucfg.region, pg_realtime_ns() / PG_NS_PER_S, err,
                             sizeof err) != PG_OK) {
        fprintf(stderr, "profgate: AWS credentials: %s\n", err);
        return EX_CONFIG;
    }
    return 0;
}

/* How often a worker refreshes its figures in the shared metrics region. */
#define STATS_PUBLISH_MS 1000

static void on_stats_timer(uv_timer_t *t)
{
    app *a = t->data;
    pg_gateway_publish_stats(a->gw);
}

/* Builds the modules on the loop and starts listening. 0, or an exit status (app_teardown then
 * closes whatever this opened). The credentials plan moves into the provider here. */
static int app_start(app *a)
{
    char err[PG_CONFIG_ERR_MAX];
    pg_http_server_cfg scfg;
    pg_upstream_cfg ucfg;
    PG_ASSERT(pg_settings_http_server(&scfg, &a->cfg, err, sizeof err) == PG_OK); /* checked by app_configure */
    PG_ASSERT(pg_settings_upstream(&ucfg, &a->cfg, err, sizeof err) == PG_OK);
    pg_log_set_level((int)a->cfg.log_level);
    pg_log_set_format((int)a->cfg.log_format);
    signal(SIGPIPE, SIG_IGN);
    pg_upstream_global_init();
    a->curl_ready = true;
    PG_CHECK_UV(uv_loop_init(&a->loop));
    a->loop_ready = true;
    char who[1500];
    pg_cred_plan_describe(a->plan, who, sizeof who);
    a->creds = pg_credsrc_new(&a->loop, a->plan, ucfg.ca_bundle);
    drop_plan(a);
    a->upstream = pg_upstream_new(&a->loop, &ucfg, a->creds, err, sizeof err);
    if (a->upstream == NULL) {
        pg_log(PG_LOG_ERROR, "%s", err);
        return EX_CONFIG;
    }
    pg_fetcher_cfg fcfg;
    pg_settings_fetcher(&fcfg, &a->cfg, &ucfg);
    if (a->cfg.redis_url[0]) {
        pg_redis_cfg rcfg;
        pg_settings_redis(&rcfg, &a->cfg);
        memcpy(rcfg.password, a->redis_password, sizeof rcfg.password);
        explicit_bzero(a->redis_password, sizeof a->redis_password);
        a->redis = pg_redis_new(&a->loop, &rcfg, err, sizeof err);
        explicit_bzero(rcfg.password, sizeof rcfg.password);
        if (a->redis == NULL) {
            pg_log(PG_LOG_ERROR, "%s", err);
            return EX_CONFIG;
        }
    }
    pg_log(PG_LOG_INFO, "cache: in-process %lld bytes, redis %s, namespace %s", (long long)a->cfg.cache_memory_bytes,
           a->cfg.redis_url[0] ? "on" : "off", fcfg.ns);
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    if (a->redis != NULL && a->cfg.fleet_enabled) {
        pg_fleet_cfg flcfg;
        pg_settings_fleet(&flcfg, &a->cfg, &ucfg);
        a->fleet = pg_fleet_new(&a->loop, a->redis, &flcfg);
        pg_upstream_set_fleet(a->upstream, a->fleet);
        pg_log(PG_LOG_INFO, "fleet: member %s; one budget of %.0f req/s (burst %.0f) shared through Redis",
               pg_fleet_member(a->fleet), ucfg.rate, ucfg.burst);
    }
    pg_fetch_tiers tiers;
    pg_fetch_tiers_wire(&tiers, &a->loop, a->upstream, a->redis, a->fleet);
    a->fetcher = pg_fetcher_new(&tiers, &lim, &fcfg);
    PG_ASSERT(a->fetcher != NULL);
    pg_log(PG_LOG_INFO, "upstream %s (region %s, %.0f req/s, burst %.0f)", ucfg.endpoint, ucfg.region, ucfg.rate,
           ucfg.burst);
    pg_log(PG_LOG_INFO, "credentials: %s", who);
    pg_credsrc_start(a->creds);
    a->gw = pg_gateway_new(&(pg_gateway_deps){.cfg = &a->cfg, .clock = &a->clock, .fetcher = a->fetcher,
                                              .upstream = a->upstream, .creds = a->creds, .redis = a->redis, .tenants = a->tenants,
                                              .fleet = a->fleet, .worker = a->wctx.index,
                                              .workers = a->wctx.count, .worker_stats = a->wctx.stats});
    apply_weights(a);
    if (a->tenants != NULL)
        pg_log(PG_LOG_INFO, "auth: sigv4, %zu tenant(s) from %s", a->tenants->n, a->cfg.auth_tenants_file);
    else if (a->wctx.index <= 1 && pg_listen_beyond_loopback(&scfg.listen))
        pg_log(PG_LOG_WARN, "auth.mode = off and profgate listens beyond loopback (%s): anyone who can reach it reads "
                            "every profiling group through profgate's credentials; set auth.mode = sigv4 or restrict "
                            "the network (docs/CONTRACT.md, README \"Teams\")",
               a->cfg.listen);
    scfg.on_done = pg_gateway_done;
    scfg.reuseport = a->wctx.index > 0;
    if (pg_http_server_start(&a->loop, &scfg, pg_gateway_handle, a->gw, &a->server, err, sizeof err) != PG_OK) {
        pg_log(PG_LOG_ERROR, "%s", err);
        return EX_OSERR;
    }
    pg_gateway_set_server(a->gw, a->server);
    pg_stop_signals_start(&a->signals, &a->loop, on_signal, a);
    a->signals_on = true;
    PG_CHECK_UV(uv_signal_init(&a->loop, &a->hup));
    a->hup.data = a;
    a->hup_on = true;
    PG_CHECK_UV(uv_signal_start(&a->hup, on_hup, SIGHUP));
    if (a->pid_file != NULL) {
        /* A supervisor relying on the file cannot manage us: stop cleanly. */
        if (pg_pidfile_write(a->pid_file, err, sizeof err) != PG_OK) {
            pg_log(PG_LOG_ERROR, "--pid-file: %s", err);
            return EX_CANTCREAT;
        }
        a->pid_written = true;
    }
    if (a->clock_arg != NULL) {
        char ts[PG_TS_FMT_MAX];
        pg_ts_format(pg_clock_now(&a->clock), ts, sizeof ts);
        pg_log(PG_LOG_INFO, "test clock: now is %s", ts);
    }
    if (a->wctx.index > 0) {
        if (a->wctx.stats != NULL) {
            pg_gateway_publish_stats(a->gw);
            PG_CHECK_UV(uv_timer_init(&a->loop, &a->stats_timer));
            a->stats_timer.data = a;
            a->stats_on = true;
            PG_CHECK_UV(uv_timer_start(&a->stats_timer, on_stats_timer, STATS_PUBLISH_MS, STATS_PUBLISH_MS));
        }
        /* The supervisor says "listening" and "ready" once every worker is. */
        pg_log(PG_LOG_INFO, "worker %u of %u (pid %d) serving", a->wctx.index, a->wctx.count, (int)getpid());
        char one = 'R';
        ssize_t w = write(a->wctx.ready_fd, &one, 1);
        (void)w; /* a supervisor that is gone takes this worker with it (PR_SET_PDEATHSIG) */
        close(a->wctx.ready_fd);
        return 0;
    }
    pg_http_server_log_listeners(a->server);
    pg_log(PG_LOG_INFO, "profgate %s ready", PG_VERSION);
    pg_service_notify("READY=1\nSTATUS=listening");
    return 0;
}

/* The one way out, after a normal run or a failed start: closes what is still open (in
 * close_next's order), lets the loop finish every close, frees the rest, and checks that no
 * handle was left open. Returns the exit status. */
static int app_teardown(app *a, int status)
{
    if (a->loop_ready) {
        if (!a->stopping) {
            a->stopping = true;
            if (a->gw != NULL)
                pg_gateway_set_stopping(a->gw);
            close_next(a);
        }
        uv_run(&a->loop, UV_RUN_DEFAULT);
        PG_ASSERT(a->server == NULL && a->redis == NULL && a->upstream == NULL && a->fetcher == NULL &&
                  a->fleet == NULL && a->creds == NULL);
    }
    drop_plan(a);
    explicit_bzero(a->redis_password, sizeof a->redis_password);
    if (a->pid_written)
        pg_pidfile_remove(a->pid_file);
    pg_gateway_free(a->gw); /* after the loop: no write still holds a stored answer */
    if (a->tenants != NULL) {
        pg_tenants_clear(a->tenants);
        free(a->tenants);
    }
    if (a->curl_ready)
        pg_upstream_global_cleanup();
    if (a->loop_ready) {
        int rc = uv_loop_close(&a->loop);
        if (rc != 0) {
            uv_walk(&a->loop, on_walk, NULL);
            pg_log(PG_LOG_ERROR, "event loop did not close cleanly: %s", uv_strerror(rc));
            return status != 0 ? status : EX_SOFTWARE;
        }
    }
    return status;
}

/* One of server.workers, in the process the supervisor forked: everything is read again from the
 * files (a restarted worker starts with the configuration as it is now) and the process runs
 * exactly like a single one, on the ports the supervisor holds. */
static int run_worker(const pg_worker_ctx *ctx, void *data)
{
    app *a = data;
    a->wctx = *ctx;
    a->listen_arg = ctx->listen;
    a->pid_file = NULL;
    pg_log_set_worker((int)ctx->index);
    int status = app_configure(a);
    if (status == 0)
        status = app_start(a);
    if (status == 0)
        uv_run(&a->loop, UV_RUN_DEFAULT);
    return app_teardown(a, status);
}

/* server.workers > 1: this process becomes the supervisor. It keeps nothing the workers read
 * again (tenants, credentials) and opened nothing a fork would share (no loop, no curl). */
static int supervise(app *a)
{
    pg_log_set_level((int)a->cfg.log_level);
    pg_log_set_format((int)a->cfg.log_format);
    if (a->tenants != NULL) {
        pg_tenants_clear(a->tenants);
        free(a->tenants);
        a->tenants = NULL;
    }
    pg_supervisor_cfg scfg = {.workers = a->nworkers, .stop_grace_ms = a->cfg.shutdown_timeout_ms,
                              .pid_file = a->pid_file, .stats = pg_worker_stats_new(a->nworkers)};
    if (scfg.stats == NULL)
        pg_log(PG_LOG_WARN, "no shared memory for the workers' metrics: each /metrics shows one worker");
    char err[PG_CONFIG_ERR_MAX];
    PG_ASSERT(pg_listen_parse(a->cfg.listen, &scfg.listen, err, sizeof err) == PG_OK); /* validated */
    int status = pg_supervise(&scfg, run_worker, a);
    pg_worker_stats_free(scfg.stats);
    return status;
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
    static app a; /* static: signal handles and the server point into it for the loop's lifetime */
    int ch;
    /* Secrets (AWS keys, tenants' secrets, Redis password) will sit in this process's memory: no
     * core dump may write them to disk, and no other process of the same user may read them
     * (ptrace, /proc/PID/mem). Workers inherit it. */
    if (prctl(PR_SET_DUMPABLE, 0) != 0)
        fprintf(stderr, "profgate: cannot disable core dumps: %s\n", strerror(errno));
    while ((ch = getopt_long(argc, argv, "c:thV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': a.config_path = optarg; break;
        case 'l': a.listen_arg = optarg; break;
        case 'u': a.upstream_arg = optarg; break;
        case 'p': a.pid_file = optarg; break;
        case 'L': a.level_arg = optarg; break;
        case 'k': a.clock_arg = optarg; break;
        case 't': a.test_only = true; break;
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
    int status = app_configure(&a);
    if (status == 0 && a.test_only) {
        printf("profgate: configuration %s is valid\n", a.config_path ? a.config_path : "(defaults)");
        if (a.nworkers > 1)
            printf("profgate: %u workers under a supervisor\n", a.nworkers);
        char who[1500];
        pg_cred_plan_describe(a.plan, who, sizeof who);
        printf("profgate: credentials: %s\n", who);
        return app_teardown(&a, 0);
    }
    if (status == 0 && a.nworkers > 1) {
        drop_plan(&a); /* each worker resolves its own */
        explicit_bzero(a.redis_password, sizeof a.redis_password); /* and reads its own */
        return supervise(&a);
    }
    if (status == 0)
        status = app_start(&a);
    if (status == 0)
        uv_run(&a.loop, UV_RUN_DEFAULT);
    return app_teardown(&a, status);
}
