/*
 * sim_main.c: profgate-sim's entry point: command line, wiring, signals. Request handling is in
 * sim.c; the front end is the same http_server module profgate uses.
 */
#include "profgate/clock.h"
#include "profgate/http_server.h"
#include "profgate/iso8601.h"
#include "profgate/log.h"
#include "profgate/signals.h"
#include "profgate/sim.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: profgate-sim [options]\n"
            "A deterministic, throttled Amazon CodeGuru Profiler stand-in (GetProfile, ListProfileTimes).\n\n"
            "  --listen ADDRS          listen addresses (default 127.0.0.1:9000; port 0 picks one)\n"
            "  --seed N                data seed (default 1)\n"
            "  --nodes N               approximate call-tree nodes per 5-minute bucket (default 3000)\n"
            "  --groups a,b,c          only these profiling groups exist (default: every group)\n"
            "  --data-since TS         no data before TS (default: 90 days before start-up)\n"
            "  --clock TS              \"now\" starts at TS and advances in real time (TS! stays at TS)\n"
            "  --rate R --burst B      token bucket: R requests/s, bursts of B (default: no throttling)\n"
            "  --rate-scope S          account (default) or group\n"
            "  --latency-ms L[:J]      added service time L ms plus up to J ms jitter\n"
            "  --fail-rate F           answer a fraction F with 500 InternalServerException\n"
            "  --hang-rate F           never answer a fraction F\n"
            "  --reset-rate F          reset the connection (TCP RST, no answer) for a fraction F\n"
            "  --gaps F                ListProfileTimes leaves out a fraction F of aggregates (agents that were\n"
            "                          down), the same ones every time for a seed and group\n"
            "  --fail-after N          after N requests, reset every connection that asks for data\n"
            "  --access-key ID --secret-key S [--region R]   require SigV4 with these credentials (or with a\n"
            "                          session the stand-ins below issued, with its token, before it expires)\n"
            "  --credentials-ttl S     lifetime of issued sessions in seconds (default 3600)\n"
            "  --cache-mb N            memory for memoized aggregates and responses, each (default 256)\n"
            "  --log-level L           debug, info, warn, error (default info)\n"
            "  --access-log            log every request (default off)\n"
            "  -h, --help | -V, --version\n\n"
            "Routes: GET /profilingGroups/{name}/profile, GET /profilingGroups/{name}/profileTimes, the other\n"
            "operations, GET /_sim/stats, POST /_sim/reset, GET /healthz. Credential stand-ins: STS at POST /\n"
            "(AssumeRoleWithWebIdentity, AssumeRole), the container endpoint at GET /_sim/creds/container, IMDSv2\n"
            "at /latest/...; POST /_sim/creds/fail?n=N fails the next N credential requests with 503.\n");
}

typedef struct app {
    uv_loop_t loop;
    pg_stop_signals signals;
    pg_http_server *server;
    pg_sim *sim;
} app;

static void on_server_closed(void *data)
{
    app *a = data;
    pg_stop_signals_close(&a->signals);
}

static void on_signal(void *data, int signum)
{
    app *a = data;
    pg_stop_signals_stop(&a->signals);
    pg_log(PG_LOG_INFO, "signal %d: shutting down", signum);
    pg_sim_close(a->sim); /* delayed and hung requests are answered (discarded) now */
    pg_http_server_shutdown(a->server, 2000, on_server_closed, a);
}

static bool parse_double(const char *s, double *out)
{
    char *e;
    *out = strtod(s, &e);
    return e != s && *e == '\0' && *out >= 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *e;
    if (*s == '-' || *s == '\0')
        return false;
    *out = strtoull(s, &e, 10);
    return *e == '\0';
}

/* The command line's settings. */
typedef struct sim_args {
    pg_sim_cfg cfg;
    const char *listen, *clock_arg;
    int64_t level;
    bool access, burst_set;
} sim_args;

enum { O_LISTEN = 256, O_SEED, O_NODES, O_GROUPS, O_SINCE, O_CLOCK, O_RATE, O_BURST, O_SCOPE, O_LAT, O_FAIL,
       O_HANG, O_AFTER, O_AK, O_SK, O_REGION, O_CACHE, O_LEVEL, O_ACCESS, O_GAPS, O_CRED_TTL, O_RESET,
       O_LAST = O_RESET };

/* Applies one option; returns what is wrong with its value, or NULL. One case per option of the
 * table in parse_args. */
static const char *apply_option(int ch, const char *arg, sim_args *a)
{
    pg_sim_cfg *cfg = &a->cfg;
    uint64_t u = 0;
    switch (ch) {
    case O_LISTEN: a->listen = arg; return NULL;
    case O_SEED: return parse_u64(arg, &cfg->seed) ? NULL : "--seed";
    case O_NODES:
        if (!parse_u64(arg, &u) || u < 10 || u > 1000000)
            return "--nodes (10..1000000)";
        cfg->nodes = (uint32_t)u;
        return NULL;
    case O_GROUPS: cfg->groups = arg; return NULL;
    case O_SINCE: return pg_ts_parse(arg, strlen(arg), &cfg->data_since_ns, NULL, 0) == PG_OK ? NULL : "--data-since";
    case O_CLOCK: a->clock_arg = arg; return NULL;
    case O_RATE: return parse_double(arg, &cfg->rate) && cfg->rate > 0 ? NULL : "--rate";
    case O_BURST:
        a->burst_set = true;
        return parse_double(arg, &cfg->burst) && cfg->burst >= 1 ? NULL : "--burst (>= 1)";
    case O_SCOPE:
        if (strcmp(arg, "group") == 0)
            cfg->rate_per_group = true;
        else if (strcmp(arg, "account") != 0)
            return "--rate-scope (account or group)";
        return NULL;
    case O_LAT: {
        char *e;
        unsigned long l = strtoul(arg, &e, 10), j = 0;
        if (*e == ':')
            j = strtoul(e + 1, &e, 10);
        cfg->latency_ms = (uint32_t)l;
        cfg->jitter_ms = (uint32_t)j;
        return *e != '\0' || l > 600000 || j > 600000 ? "--latency-ms L[:J]" : NULL;
    }
    case O_FAIL: return parse_double(arg, &cfg->fail_rate) && cfg->fail_rate <= 1 ? NULL : "--fail-rate (0..1)";
    case O_HANG: return parse_double(arg, &cfg->hang_rate) && cfg->hang_rate <= 1 ? NULL : "--hang-rate (0..1)";
    case O_RESET: return parse_double(arg, &cfg->reset_rate) && cfg->reset_rate <= 1 ? NULL : "--reset-rate (0..1)";
    case O_GAPS: return parse_double(arg, &cfg->gaps) && cfg->gaps < 1 ? NULL : "--gaps (0..1)";
    case O_AFTER:
        if (!parse_u64(arg, &u) || u > INT64_MAX)
            return "--fail-after";
        cfg->fail_after = (int64_t)u;
        return NULL;
    case O_AK: cfg->access_key = arg; return NULL;
    case O_SK: cfg->secret_key = arg; return NULL;
    case O_REGION: cfg->region = arg; return NULL;
    case O_CRED_TTL:
        if (!parse_u64(arg, &u) || u < 1 || u > 43200)
            return "--credentials-ttl (1..43200 seconds)";
        cfg->credentials_ttl_s = (int64_t)u;
        return NULL;
    case O_CACHE:
        if (!parse_u64(arg, &u) || u < 1 || u > 65536)
            return "--cache-mb (1..65536)";
        cfg->cache_bytes = (size_t)u << 20;
        return NULL;
    case O_LEVEL: return pg_log_level_parse(arg, &a->level) == PG_OK ? NULL : "--log-level";
    case O_ACCESS: a->access = true; return NULL;
    default: break;
    }
    PG_UNREACHABLE();
}

/* Parses the command line into a; returns -1 to go on, or the exit status (help, version, errors). */
static int parse_args(int argc, char **argv, sim_args *a)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN}, {"seed", required_argument, NULL, O_SEED},
        {"nodes", required_argument, NULL, O_NODES}, {"groups", required_argument, NULL, O_GROUPS},
        {"data-since", required_argument, NULL, O_SINCE}, {"clock", required_argument, NULL, O_CLOCK},
        {"rate", required_argument, NULL, O_RATE}, {"burst", required_argument, NULL, O_BURST},
        {"rate-scope", required_argument, NULL, O_SCOPE}, {"latency-ms", required_argument, NULL, O_LAT},
        {"fail-rate", required_argument, NULL, O_FAIL}, {"hang-rate", required_argument, NULL, O_HANG},
        {"fail-after", required_argument, NULL, O_AFTER}, {"access-key", required_argument, NULL, O_AK},
        {"secret-key", required_argument, NULL, O_SK}, {"region", required_argument, NULL, O_REGION},
        {"cache-mb", required_argument, NULL, O_CACHE}, {"log-level", required_argument, NULL, O_LEVEL},
        {"access-log", no_argument, NULL, O_ACCESS}, {"gaps", required_argument, NULL, O_GAPS},
        {"credentials-ttl", required_argument, NULL, O_CRED_TTL}, {"reset-rate", required_argument, NULL, O_RESET},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
    };
    *a = (sim_args){.cfg = {.seed = 1, .nodes = 3000, .data_since_ns = INT64_MIN, .fail_after = -1,
                            .credentials_ttl_s = 3600, .cache_bytes = (size_t)256 << 20},
                    .listen = "127.0.0.1:9000", .level = PG_LOG_INFO};
    int ch;
    while ((ch = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return 0;
        }
        if (ch == 'V') {
            printf("profgate-sim %s\n", PG_VERSION);
            return 0;
        }
        if (ch < O_LISTEN || ch > O_LAST) {
            usage(stderr);
            return EX_USAGE;
        }
        const char *bad = apply_option(ch, optarg, a);
        if (bad) {
            fprintf(stderr, "profgate-sim: invalid %s value '%s'\n", bad, optarg);
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "profgate-sim: unexpected argument '%s'\n", argv[optind]);
        return EX_USAGE;
    }
    if ((a->cfg.access_key == NULL) != (a->cfg.secret_key == NULL)) {
        fprintf(stderr, "profgate-sim: --access-key and --secret-key go together\n");
        return EX_USAGE;
    }
    if (a->cfg.rate > 0 && !a->burst_set)
        a->cfg.burst = a->cfg.rate < 1 ? 1 : a->cfg.rate;
    return -1;
}

int main(int argc, char **argv)
{
    sim_args args;
    int st = parse_args(argc, argv, &args);
    if (st >= 0)
        return st;
    pg_sim_cfg cfg = args.cfg;
    const char *listen = args.listen, *clock_arg = args.clock_arg;
    int64_t level = args.level;
    bool access = args.access;
    pg_log_set_level((int)level);
    signal(SIGPIPE, SIG_IGN);

    pg_clock clock;
    char why[128];
    if (pg_clock_init_from_arg(&clock, clock_arg, why, sizeof why) != PG_OK) {
        fprintf(stderr, "profgate-sim: --clock '%s': %s\n", clock_arg, why);
        return EX_USAGE;
    }
    char err[256];
    pg_http_server_cfg scfg;
    pg_http_server_cfg_default(&scfg);
    if (pg_listen_parse(listen, &scfg.listen, err, sizeof err) != PG_OK) {
        fprintf(stderr, "profgate-sim: --listen: %s\n", err);
        return EX_USAGE;
    }
    scfg.access_log = access;
    scfg.server_name = "profgate-sim";
    scfg.max_connections = 65536;

    static app a;
    PG_CHECK_UV(uv_loop_init(&a.loop));
    a.sim = pg_sim_new(&cfg, &clock, &a.loop);
    if (a.sim == NULL) {
        fprintf(stderr, "profgate-sim: out of memory\n");
        return EX_OSERR;
    }
    if (pg_http_server_start(&a.loop, &scfg, pg_sim_handle, a.sim, &a.server, err, sizeof err) != PG_OK) {
        pg_log(PG_LOG_ERROR, "%s", err);
        uv_run(&a.loop, UV_RUN_DEFAULT);
        uv_loop_close(&a.loop);
        pg_sim_free(a.sim);
        return EX_OSERR;
    }
    pg_stop_signals_start(&a.signals, &a.loop, on_signal, &a);
    pg_http_server_log_listeners(a.server);
    pg_log(PG_LOG_INFO, "profgate-sim %s ready (nodes=%u seed=%llu rate=%g burst=%g auth=%s)", PG_VERSION, cfg.nodes,
           (unsigned long long)cfg.seed, cfg.rate, cfg.burst, cfg.access_key ? "sigv4" : "off");
    uv_run(&a.loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&a.loop);
    pg_sim_free(a.sim);
    if (rc != 0) {
        pg_log(PG_LOG_ERROR, "event loop did not close cleanly: %s", uv_strerror(rc));
        return EX_SOFTWARE;
    }
    return 0;
}
