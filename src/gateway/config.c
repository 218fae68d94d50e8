/*
 * config.c: the configuration table and everything derived from it. Values, defaults included,
 * go through one parser per type, so a default can never be something the file could not say.
 * libinih reads the file; we stop at the first error and report its line.
 */
#include "profgate/config.h"
#include "profgate/credplan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_STRING, T_INT, T_SIZE, T_DURATION, T_BOOL, T_LOGLEVEL, T_LOGFORMAT, T_AUTHMODE, T_LISTEN, T_WORKERS, T_CREDS } ctype;

typedef struct directive {
    const char *section;
    const char *name;
    ctype type;
    size_t offset;
    size_t size; /* for strings: capacity */
    const char *def;
    int64_t min, max; /* ints: value; sizes: bytes; durations: ms */
    const char *help;
    bool live; /* a reload (SIGHUP) applies it; otherwise it takes a restart */
} directive;

#define F(field) offsetof(pg_config, field), sizeof(((pg_config *)0)->field)
#define KiB (INT64_C(1024))
#define MiB (INT64_C(1024) * 1024)
#define SEC (INT64_C(1000))
#define HOUR (3600 * SEC)

static const directive table[] = {
    {"server", "listen", T_LISTEN, F(listen), "127.0.0.1:8080", 0, 0,
     "Addresses to listen on, comma-separated: 0.0.0.0:8080, [::]:8080, 127.0.0.1:0 (port 0 picks a free port).", false},
    {"server", "workers", T_WORKERS, F(workers), "1", 1, PG_WORKERS_MAX,
     "Worker processes sharing the listening port (SO_REUSEPORT), under a supervisor that restarts a worker "
     "that dies and passes SIGHUP and SIGTERM on. auto: one per CPU this process may use (its CPU affinity and "
     "cgroup CPU limit). More than one needs redis.url with fleet.enabled = on: workers share the upstream "
     "budget and each bucket's fetch exactly like replicas do.", false},
    {"server", "hostnames", T_STRING, F(server_hostnames), "", 0, 0,
     "With auth.mode = sigv4: the host names (host[:port], comma-separated) clients reach profgate by; a request "
     "signed for another Host is refused, as AWS refuses one signed for another endpoint. Empty: any signed Host.",
     true},
    {"server", "max_connections", T_INT, F(max_connections), "16384", 1, 1000000,
     "Concurrent client connections; past it new connections get 503 and are closed.", true},
    {"server", "max_connections_per_client", T_INT, F(max_connections_per_client), "1024", 0, 1000000,
     "Concurrent connections from one client address; past it the new connection gets 503 and is closed, so one "
     "address cannot hold every connection and its buffers. Behind a proxy or load balancer that does not keep "
     "client addresses, every client is that proxy's address: raise it, or 0 for no limit.", true},
    {"server", "max_getprofile_per_client", T_INT, F(max_getprofile_per_client), "256", 0, 1000000,
     "GetProfile requests in progress from one client address; past it a new one gets 429 ThrottlingException "
     "(with Retry-After), so one address cannot hold the memory budget below. 0: no limit.", true},
    {"server", "inflight_bytes", T_SIZE, F(inflight_bytes), "0", 0, 1024 * 1024 * MiB,
     "Memory budget for GetProfile answers being built and sent (merged trees, run accumulators, encoded "
     "pieces, output queued on the connection, copies kept for the answer cache). Past it, new GetProfile requests wait up to server.inflight_wait "
     "and then get 503 with Retry-After, and answers of clients that read slowly are spilled to files "
     "(server.spill_dir). 0: a quarter of the memory this process may use (its cgroup limit, else the machine's).",
     true},
    {"server", "inflight_wait", T_DURATION, F(inflight_wait_ms), "2s", 0, 60 * SEC,
     "How long a new GetProfile waits for room in server.inflight_bytes before it gets 503.", true},
    {"server", "spill_dir", T_STRING, F(spill_dir), "", 0, 0,
     "Where answers of slow readers are spilled (unlinked files, O_TMPFILE). Empty: $TMPDIR, else /var/tmp. In a "
     "container with a read-only root, mount an emptyDir there.", false},
    {"server", "spill_bytes", T_SIZE, F(spill_bytes), "1g", 0, 1024 * 1024 * MiB,
     "Most bytes of spilled answers on disk at once; past it answers stay in memory. 0: never spill.", true},
    {"server", "max_head_bytes", T_SIZE, F(max_head_bytes), "16k", 1 * KiB, 1 * MiB,
     "Request line plus headers; larger heads get 431.", false},
    {"server", "max_url_bytes", T_SIZE, F(max_url_bytes), "8k", 256, 1 * MiB,
     "Request target length; longer targets get 414.", false},
    {"server", "max_headers", T_INT, F(max_headers), "64", 8, 1024,
     "Number of request headers; more get 431.", false},
    {"server", "max_body_bytes", T_SIZE, F(max_body_bytes), "64k", 0, 64 * MiB,
     "Request bodies are read up to this size (a passed-through operation forwards its body); larger bodies get 413.",
     false},
    {"server", "head_timeout", T_DURATION, F(head_timeout_ms), "10s", 100, 10 * 60 * SEC,
     "Deadline to receive a whole request (head and body) once its first byte arrived; then 408.", true},
    {"server", "idle_timeout", T_DURATION, F(idle_timeout_ms), "60s", 100, HOUR,
     "How long an idle keep-alive connection is kept open.", true},
    {"server", "send_timeout", T_DURATION, F(send_timeout_ms), "30s", 100, HOUR,
     "How long a response may wait for a client that does not read it.", true},
    {"server", "shutdown_timeout", T_DURATION, F(shutdown_timeout_ms), "10s", 0, 10 * 60 * SEC,
     "On SIGTERM/SIGINT, how long in-flight requests may take before connections are closed.", true},
    {"log", "level", T_LOGLEVEL, F(log_level), "info", 0, 0,
     "Least severe level logged: debug, info, warn, error.", true},
    {"log", "format", T_LOGFORMAT, F(log_format), "plain", 0, 0,
     "Log line format: plain (TIMESTAMP LEVEL message key=value ...) or json (one JSON object per line, for log "
     "shippers).", true},
    {"log", "access", T_BOOL, F(access_log), "on", 0, 0,
     "One access-log line per request (method, path, status, bytes, duration, request id).", true},
    {"freshness", "settle", T_DURATION, F(settle_ms), "10m", 0, 24 * HOUR,
     "A bucket counts as complete (immutable) this long after it ends; before that it is live.", true},
    {"freshness", "live_ttl", T_DURATION, F(live_ttl_ms), "30s", 0, HOUR,
     "How long a live (incomplete) bucket may be served from cache.", true},
    {"freshness", "refresh_ahead", T_DURATION, F(refresh_ahead_ms), "5s", 0, HOUR,
     "A request that finds a live bucket in the in-process cache with less than this left of live_ttl starts a "
     "background refresh of it, so polling dashboards keep finding it fresh instead of waiting for the upstream "
     "when it expires. Capped at half of live_ttl; 0 turns it off (live buckets are then refetched on demand).",
     true},
    {"upstream", "endpoint", T_STRING, F(up_endpoint), "", 0, 0,
     "CodeGuru Profiler endpoint, scheme://host[:port]. Empty: https://codeguru-profiler.REGION.amazonaws.com. "
     "The --upstream flag overrides it.", false},
    {"upstream", "region", T_STRING, F(up_region), "", 0, 0,
     "Region for the default endpoint and for SigV4. Empty: AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.", false},
    {"upstream", "credentials", T_CREDS, F(up_credentials), "chain", 0, 0,
     "Where the AWS credentials come from: chain (the SDKs' default chain: environment, web identity, profile, "
     "container endpoint, EC2 instance metadata; the first configured wins), one of environment, web-identity, "
     "profile, container, imds (that provider alone), or none (requests go out unsigned: for a simulator). "
     "Temporary credentials are refreshed ahead of expiry (README \"The upstream\").", false},
    {"upstream", "rate", T_INT, F(up_rate), "10", 1, 100000,
     "Most GetProfile requests per second upstream (token bucket); throttling halves the pace, which recovers gradually. With "
     "redis.url and fleet.enabled this is the whole fleet's budget, shared by every replica and worker: set the "
     "account's real limit, not a share of it.", true},
    {"upstream", "burst", T_INT, F(up_burst), "20", 1, 100000,
     "Token bucket capacity: requests allowed back to back (the fleet's, like rate).", true},
    {"upstream", "op_rate", T_INT, F(up_op_rate), "10", 1, 100000,
     "Each other operation's own budget, in requests per second upstream: AWS throttles every operation "
     "separately (ListProfileTimes, ListProfilingGroups, ...) and publishes no figures, so each has its own token "
     "bucket and queue, and never waits for GetProfile's. For the whole fleet: each member holds rate / members.",
     true},
    {"upstream", "op_burst", T_INT, F(up_op_burst), "20", 1, 100000,
     "Each other operation's token bucket capacity (the fleet's, like op_rate).", true},
    {"upstream", "max_inflight", T_INT, F(up_max_inflight), "16", 1, 1024, "Most concurrent upstream transfers.", true},
    {"upstream", "queue_max", T_INT, F(up_queue_max), "10000", 1, 1000000,
     "Most upstream calls waiting for a token or a transfer slot; past it requests get 503 at once.", true},
    {"upstream", "retries", T_INT, F(up_retries), "4", 0, 20,
     "Retries after a 429, a 5xx or a connection error (ValidationException and the like are never retried).", true},
    {"upstream", "backoff_base", T_DURATION, F(up_backoff_base_ms), "100ms", 1, 60 * SEC,
     "Retry n waits a random time up to min(backoff_cap, backoff_base * 2^(n-1)) (full jitter).", true},
    {"upstream", "backoff_cap", T_DURATION, F(up_backoff_cap_ms), "5s", 1, 10 * 60 * SEC, "Longest retry wait.", true},
    {"upstream", "attempt_timeout", T_DURATION, F(up_attempt_timeout_ms), "10s", 100, 10 * 60 * SEC,
     "Longest a single upstream attempt may take.", true},
    {"upstream", "deadline", T_DURATION, F(up_deadline_ms), "30s", 100, HOUR,
     "Longest an upstream call may take, queueing and retries included; then the client gets the last error.", true},
    {"upstream", "max_response_bytes", T_SIZE, F(up_max_response), "64m", 1 * KiB, 1024 * MiB,
     "Largest upstream response body accepted (after gzip decoding).", true},
    {"upstream", "bulk_buckets", T_INT, F(up_bulk_buckets), "12", 1, 100000,
     "A request whose plan has more buckets than this is bulk: its upstream calls wait behind the same tenant's "
     "interactive ones and background refreshes (tenants share the upstream by weight either way).", true},
    {"upstream", "ca_bundle", T_STRING, F(up_ca_bundle), "", 0, 0,
     "CA certificates file for HTTPS. Empty: the system's (OpenSSL) default.", false},
    {"upstream", "insecure", T_BOOL, F(up_insecure), "off", 0, 0,
     "Skip TLS certificate verification. For tests against a local endpoint only; never in production.", false},
    {"upstream", "breaker_failures", T_INT, F(up_breaker_failures), "10", 1, 10000,
     "Consecutive failed attempts (5xx, timeouts, connection errors) that open the circuit breaker.", true},
    {"upstream", "breaker_cooldown", T_DURATION, F(up_breaker_cooldown_ms), "10s", 100, HOUR,
     "How long an open breaker fails requests fast before letting one probe through.", true},
    {"cache", "memory_bytes", T_SIZE, F(cache_memory_bytes), "256m", 0, (int64_t)1024 * 1024 * MiB,
     "Memory for parsed buckets kept in process (LRU); 0 turns the in-process cache off.", true},
    {"cache", "response_bytes", T_SIZE, F(cache_response_bytes), "64m", 0, (int64_t)64 * 1024 * MiB,
     "Memory for encoded answers to requests whose buckets are all complete (repeats are served "
     "without merging or encoding again); 0 turns it off.", true},
    {"cache", "response_sendfile", T_BOOL, F(cache_response_sendfile), "off", 0, 0,
     "How stored answers are sent. off: kept in memory and written, so the kernel copies each "
     "into the socket once. on: kept in memfds and sent with sendfile(2), which skips that copy but "
     "pays for every page it hands over; over loopback that cost a stored answer 1.4-2.9x the "
     "server time of the copy in bench/hitpath (docs/CACHE.md). Applies to answers stored after a "
     "reload; spilled answers (server.spill_dir) are always sent from their files.", true},
    {"cache", "merged_bytes", T_SIZE, F(cache_merged_bytes), "128m", 0, (int64_t)64 * 1024 * MiB,
     "Memory for merged runs of consecutive complete buckets (e.g. the 23 whole hours of a sliding "
     "'last 24 hours', and all its complete buckets as one span), and for a run merged with the "
     "current version of a live bucket, so a request copies one profile instead of merging every "
     "bucket; 0 turns it off. A quarter of it again holds the Ion layouts of kept answers (their "
     "symbols and call trees as written, about the size of the Ion answer; docs/CACHE.md).", true},
    {"cache", "namespace", T_STRING, F(cache_namespace), "", 0, 0,
     "Cache key namespace. Empty: derived from the upstream endpoint and region, so gateways in front "
     "of the same upstream share entries and different upstreams never mix.", false},
    {"cache", "archive", T_BOOL, F(cache_archive), "off", 0, 0,
     "Keep complete buckets in Redis without expiry and keep answering ranges the upstream has already "
     "expired (from cache only).", false},
    {"redis", "url", T_STRING, F(redis_url), "", 0, 0,
     "Shared cache: redis://[[user]:password@]host[:port][/db] or unix:/path/to/socket[?db=N]. Empty: "
     "in-process cache only.", false},
    {"redis", "password_file", T_STRING, F(redis_password_file), "", 0, 0,
     "A file holding the Redis password (AUTH; the user, if any, from redis.url): one line, a regular file "
     "owned by root or profgate's user and not readable by others (a mounted Kubernetes Secret qualifies). Keeps "
     "the password out of redis.url and the config file. Read at start (and by each worker).", false},
    {"redis", "connect_timeout", T_DURATION, F(redis_connect_timeout_ms), "1s", 10, 60 * SEC,
     "How long a connection attempt may take; then profgate retries with backoff (up to 5 s apart).", false},
    {"redis", "command_timeout", T_DURATION, F(redis_command_timeout_ms), "250ms", 1, 60 * SEC,
     "How long a lookup may take before it counts as a miss (a slow Redis never slows clients more).", false},
    {"fleet", "enabled", T_BOOL, F(fleet_enabled), "on", 0, 0,
     "With redis.url: every replica and worker draws from one upstream budget in Redis, fetches each bucket once "
     "fleet-wide (leases), and announces itself (docs/FLEET.md). off: each process paces and fetches on its own.",
     false},
    {"fleet", "heartbeat", T_DURATION, F(fleet_heartbeat_ms), "1s", 100, 60 * SEC,
     "How often a member refreshes its entry in Redis; one not seen for three beats no longer counts.", false},
    {"fleet", "lease_ttl", T_DURATION, F(fleet_lease_ttl_ms), "10s", 100, 10 * 60 * SEC,
     "How long the member fetching a bucket holds its lease; if it dies mid-call another takes over after this.",
     false},
    {"fleet", "lease_poll", T_DURATION, F(fleet_lease_poll_ms), "100ms", 10, 10 * SEC,
     "How often a member waiting for another's fetch of a bucket looks for the result in Redis.", false},
    {"api", "writes", T_BOOL, F(api_writes), "off", 0, 0,
     "Pass the service's write operations through (CreateProfilingGroup, PutPermission, TagResource, ...). Off: "
     "they are refused with AccessDeniedException. With tenants, a tenant also needs write = on, and access to the "
     "group it changes. A write empties this replica's cache of passed-through reads.", true},
    {"api", "read_ttl", T_DURATION, F(api_read_ttl_ms), "5s", 0, HOUR,
     "How long the answer of a passed-through read (ListProfilingGroups, DescribeProfilingGroup, GetPolicy, ...) is "
     "reused for the same request: a dashboard wall listing groups costs one upstream call per read_ttl. 0: every "
     "read goes upstream (concurrent identical ones still share one call).", true},
    {"ui", "root", T_STRING, F(ui_root), "", 0, 0,
     "The directory of profgate's page (/ui/: flame graphs, top functions, diffs): the repository's ui/ after "
     "`npm ci` there (scripts/install-deps.sh does it), /usr/share/profgate/ui in the container image. Empty: the "
     "page is off (404). Files are served only from inside it, by name (docs/UI.md).", true},
    {"auth", "mode", T_AUTHMODE, F(auth_mode), "off", 0, 0,
     "off: anyone who reaches the port may read every group (a trusted network). sigv4: clients sign requests with "
     "SigV4 as they do for AWS, using a tenant's access key and secret from auth.tenants_file; profgate checks the "
     "signature, the tenant's groups and quota, then calls AWS with its own credentials.", false},
    {"auth", "tenants_file", T_STRING, F(auth_tenants_file), "", 0, 0,
     "The tenants file (INI, one [tenant] section each: access_key, secret_key, groups, rate, burst, weight; see "
     "conf/tenants.example.conf). Others may not access it and its group may not write it (mode 0600 or 0640). Its contents are reloaded on SIGHUP.", false},
    {"auth", "max_skew", T_DURATION, F(auth_max_skew_ms), "15m", 1 * SEC, HOUR,
     "How far a request's X-Amz-Date may be from profgate's clock; older or newer signatures are refused "
     "(as AWS does, this bounds replays).", true},
};

static int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return PG_EINVAL;
}

/* Parses an integer with an optional suffix from units[]; rejects everything else. */
typedef struct {
    const char *suffix;
    int64_t mul;
} unit;

static int parse_scaled(const char *s, const unit *units, size_t nunits, bool unit_required, int64_t *out)
{
    errno = 0;
    char *end;
    if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return PG_EINVAL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s)
        return PG_EINVAL;
    int64_t mul = 1;
    if (*end == '\0') {
        if (unit_required)
            return PG_EINVAL;
    } else {
        size_t k = 0;
        while (k < nunits && strcmp(end, units[k].suffix) != 0)
            k++;
        if (k == nunits)
            return PG_EINVAL;
        mul = units[k].mul;
    }
    int64_t r;
    if (__builtin_mul_overflow((int64_t)v, mul, &r))
        return PG_ERANGE;
    *out = r;
    return PG_OK;
}

/* Two-word types: the value is the word's index, so the lists follow the enums in config.h. */
_Static_assert(PG_LOG_PLAIN == 0 && PG_LOG_JSON == 1 && PG_AUTH_OFF == 0 && PG_AUTH_SIGV4 == 1, "word order");
static const char *const *keywords(ctype t)
{
    static const char *const log_format[] = {"plain", "json"}, *const auth_mode[] = {"off", "sigv4"};
    return t == T_LOGFORMAT ? log_format : auth_mode;
}

static int set_value(pg_config *cfg, const directive *d, const char *value, char *err, size_t errlen)
{
    static const unit size_units[] = {{"k", KiB}, {"m", MiB}, {"g", 1024 * MiB}};
    static const unit dur_units[] = {{"ms", 1}, {"s", SEC}, {"m", 60 * SEC}, {"h", HOUR}, {"d", 24 * HOUR}};
    char *field = (char *)cfg + d->offset;
    int64_t v = 0;
    switch (d->type) {
    case T_STRING:
        if (strlen(value) >= d->size)
            return errf(err, errlen, "%s.%s: value is longer than %zu characters", d->section, d->name, d->size - 1);
        memcpy(field, value, strlen(value) + 1);
        return PG_OK;
    case T_CREDS:
        if (!pg_cred_choice_valid(value))
            return errf(err, errlen, "%s.%s: '%.40s' is not one of: %s", d->section, d->name, value, PG_CRED_CHOICES);
        snprintf(field, d->size, "%s", value); /* the longest choice fits */
        return PG_OK;
    case T_LISTEN: {
        pg_listen_addrs addrs;
        char why[160];
        if (strlen(value) >= d->size)
            return errf(err, errlen, "%s.%s: value is too long", d->section, d->name);
        if (pg_listen_parse(value, &addrs, why, sizeof why) != PG_OK)
            return errf(err, errlen, "%s.%s: %s", d->section, d->name, why);
        memcpy(field, value, strlen(value) + 1);
        return PG_OK;
    }
    case T_BOOL: {
        bool b;
        if (!strcmp(value, "on") || !strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
            b = true;
        else if (!strcmp(value, "off") || !strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
            b = false;
        else
            return errf(err, errlen, "%s.%s: '%.64s' is not on or off", d->section, d->name, value);
        memcpy(field, &b, sizeof b);
        return PG_OK;
    }
    case T_LOGLEVEL:
        if (pg_log_level_parse(value, &v) != PG_OK)
            return errf(err, errlen, "%s.%s: '%.64s' is not one of debug, info, warn, error", d->section, d->name, value);
        memcpy(field, &v, sizeof v);
        return PG_OK;
    case T_LOGFORMAT:
    case T_AUTHMODE: {
        const char *const *w = keywords(d->type);
        for (v = 0; v < 2 && strcmp(value, w[v]) != 0; v++)
            ;
        if (v == 2)
            return errf(err, errlen, "%s.%s: '%.64s' is not %s or %s", d->section, d->name, value, w[0], w[1]);
        memcpy(field, &v, sizeof v);
        return PG_OK;
    }
    case T_WORKERS:
        if (strcmp(value, "auto") == 0) {
            v = PG_WORKERS_AUTO;
            memcpy(field, &v, sizeof v);
            return PG_OK;
        }
        if (parse_scaled(value, NULL, 0, false, &v) != PG_OK)
            return errf(err, errlen, "%s.%s: '%.64s' is not a number or auto", d->section, d->name, value);
        break;
    case T_INT:
        if (parse_scaled(value, NULL, 0, false, &v) != PG_OK)
            return errf(err, errlen, "%s.%s: '%.64s' is not a whole number", d->section, d->name, value);
        break;
    case T_SIZE:
        if (parse_scaled(value, size_units, PG_ARRAY_LEN(size_units), false, &v) != PG_OK)
            return errf(err, errlen, "%s.%s: '%.64s' is not a size (bytes, or with k, m, g)", d->section, d->name, value);
        break;
    case T_DURATION:
        if (parse_scaled(value, dur_units, PG_ARRAY_LEN(dur_units), true, &v) != PG_OK)
            return errf(err, errlen, "%s.%s: '%.64s' is not a duration (a number with ms, s, m, h or d)",
                        d->section, d->name, value);
        break;
    }
    if (v < d->min || v > d->max)
        return errf(err, errlen, "%s.%s: %.64s is out of range [%lld, %lld]%s", d->section, d->name, value,
                    (long long)d->min, (long long)d->max,
                    d->type == T_DURATION ? " ms" : d->type == T_SIZE ? " bytes" : "");
    memcpy(field, &v, sizeof v);
    return PG_OK;
}

static const directive *find(const char *section, const char *name)
{
    for (size_t i = 0; i < PG_ARRAY_LEN(table); i++)
        if (strcmp(table[i].section, section) == 0 && strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

void pg_config_defaults(pg_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < PG_ARRAY_LEN(table); i++) {
        char err[PG_CONFIG_ERR_MAX];
        int rc = set_value(cfg, &table[i], table[i].def, err, sizeof err);
        if (rc != PG_OK) {
            fprintf(stderr, "profgate: bad built-in default: %s\n", err);
            PG_ASSERT(rc == PG_OK);
        }
    }
}

int pg_config_set(pg_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    const char *dot = strchr(key, '.');
    char section[32];
    if (dot == NULL || (size_t)(dot - key) >= sizeof section)
        return errf(err, errlen, "unknown directive '%.64s'", key);
    memcpy(section, key, (size_t)(dot - key));
    section[dot - key] = '\0';
    const directive *d = find(section, dot + 1);
    if (d == NULL)
        return errf(err, errlen, "unknown directive '%.64s'", key);
    return set_value(cfg, d, value, err, errlen);
}

typedef struct {
    pg_config *cfg;
    char err[PG_CONFIG_ERR_MAX];
} load_ctx;

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *lc = user;
    if (lc->err[0] != '\0')
        return 0;
    const directive *d = find(section, name);
    if (d == NULL) {
        errf(lc->err, sizeof lc->err, "unknown directive '%.32s' in section [%.32s]", name, section);
        return 0;
    }
    return set_value(lc->cfg, d, value, lc->err, sizeof lc->err) == PG_OK;
}

/* inih reports a line number but not why; we keep the reason from our handler. */
static int finish_load(pg_config *cfg, const load_ctx *lc, int line, const char *name, char *err, size_t errlen)
{
    if (line == 0) {
        *cfg = *lc->cfg;
        return PG_OK;
    }
    if (line < 0)
        return errf(err, errlen, "%s: cannot read the file", name);
    return errf(err, errlen, "%s:%d: %s", name, line, lc->err[0] ? lc->err : "syntax error (expected [section] or name = value)");
}

static void configure_inih(void)
{
    /* Debian's libinih exposes its compile-time knobs as variables. Stop at the first error so
     * the reported line is the one that is wrong; allow long lines (listen lists). */
    ini_stop_on_first_error = true;
    ini_use_stack = false;
    ini_max_line = 4096;
    ini_allow_realloc = false;
}

int pg_config_load_file(pg_config *cfg, const char *path, char *err, size_t errlen)
{
    pg_config tmp = *cfg; /* a failed load leaves cfg untouched */
    load_ctx lc = {.cfg = &tmp, .err = ""};
    configure_inih();
    int line = ini_parse(path, on_entry, &lc);
    return finish_load(cfg, &lc, line, path, err, errlen);
}

int pg_config_load_string(pg_config *cfg, const char *text, const char *name, char *err, size_t errlen)
{
    pg_config tmp = *cfg;
    load_ctx lc = {.cfg = &tmp, .err = ""};
    configure_inih();
    int line = ini_parse_string(text, on_entry, &lc);
    return finish_load(cfg, &lc, line, name, err, errlen);
}

static void wrap_comment(FILE *out, const char *text)
{
    /* Wrap help text at ~96 columns, each line a comment. */
    const char *p = text;
    while (*p) {
        size_t take = strlen(p);
        if (take > 94) {
            take = 94;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0)
                take = 94;
        }
        fprintf(out, "# %.*s\n", (int)take, p);
        p += take;
        while (*p == ' ')
            p++;
    }
}

static const char *type_hint(ctype t)
{
    switch (t) {
    case T_STRING: return "string";
    case T_INT: return "integer";
    case T_SIZE: return "size: bytes, or with k, m, g";
    case T_DURATION: return "duration: number with ms, s, m, h or d";
    case T_BOOL: return "on | off";
    case T_LOGLEVEL: return "debug | info | warn | error";
    case T_LOGFORMAT: return "plain | json";
    case T_AUTHMODE: return "off | sigv4";
    case T_LISTEN: return "ADDR:PORT[,ADDR:PORT...]";
    case T_WORKERS: return "number or auto";
    case T_CREDS: return "chain | environment | web-identity | profile | container | imds | none";
    }
    return "";
}

void pg_config_write_example(FILE *out)
{
    fprintf(out, "# profgate configuration (INI). Generated by `profgate --dump-config`; every directive\n"
                 "# is listed with its default, commented out. Uncomment and change what you need.\n"
                 "# Command-line flags (--listen, --upstream, --log-level) override this file.\n"
                 "# SIGHUP reloads the file: directives marked \"applied\" change at once, the others are\n"
                 "# reported in the log as needing a restart and keep their running values.\n");
    const char *section = "";
    for (size_t i = 0; i < PG_ARRAY_LEN(table); i++) {
        const directive *d = &table[i];
        if (strcmp(section, d->section) != 0) {
            section = d->section;
            fprintf(out, "\n[%s]\n", section);
        }
        fprintf(out, "\n");
        wrap_comment(out, d->help);
        if (d->type == T_INT || d->type == T_SIZE || d->type == T_DURATION || d->type == T_WORKERS)
            fprintf(out, "# (%s; %lld..%lld%s)\n", type_hint(d->type), (long long)d->min, (long long)d->max,
                    d->type == T_DURATION ? " ms" : d->type == T_SIZE ? " bytes" : "");
        else
            fprintf(out, "# (%s)\n", type_hint(d->type));
        fprintf(out, "# On reload (SIGHUP): %s\n", d->live ? "applied" : "needs a restart");
        fprintf(out, ";%s = %s\n", d->name, d->def);
    }
}

void pg_config_write_usage(FILE *out)
{
    for (size_t i = 0; i < PG_ARRAY_LEN(table); i++) {
        char key[64];
        snprintf(key, sizeof key, "%s.%s", table[i].section, table[i].name);
        fprintf(out, "  %-26s %-16s %s\n", key, table[i].def, table[i].help);
    }
}

size_t pg_config_reload(pg_config *cur, const pg_config *next, pg_config_change_cb cb, void *data)
{
    size_t applied = 0;
    for (size_t i = 0; i < PG_ARRAY_LEN(table); i++) {
        const directive *d = &table[i];
        char *dst = (char *)cur + d->offset;
        const char *src = (const char *)next + d->offset;
        size_t n = d->size;
        if (d->type == T_STRING || d->type == T_LISTEN || d->type == T_CREDS)
            n = strlen(src) + 1; /* bytes past the terminator are not part of the value */
        if (memcmp(dst, src, n) == 0)
            continue;
        char key[64];
        snprintf(key, sizeof key, "%s.%s", d->section, d->name);
        if (d->live) {
            memcpy(dst, src, n);
            applied++;
        }
        if (cb != NULL)
            cb(key, d->live, data);
    }
    return applied;
}
