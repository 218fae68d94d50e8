/*
 * config.h: profgate's configuration, described by one table (section, name, type, default,
 * bounds, help). The same table drives the INI parser, validation, `--help`, `--dump-config`
 * (which generates conf/profgate.conf) and command-line overrides, so a directive can never be
 * documented one way and parsed another. Pure apart from reading the file it is given.
 */
#ifndef PG_CONFIG_H
#define PG_CONFIG_H

#include "profgate/common.h"
#include "profgate/listen.h"
#include "profgate/log.h"

#include <stdio.h>
#include <sys/socket.h>

#define PG_CONFIG_ERR_MAX 512

enum { PG_AUTH_OFF = 0, PG_AUTH_SIGV4 = 1 };
/* server.workers: at most this many; "auto" is stored as PG_WORKERS_AUTO. */
#define PG_WORKERS_MAX 64
#define PG_WORKERS_AUTO 0

typedef struct pg_config {
    /* [server] */
    char listen[512];
    int64_t workers; /* PG_WORKERS_AUTO or 1..PG_WORKERS_MAX */
    char server_hostnames[512];
    int64_t max_connections;
    int64_t max_connections_per_client;
    int64_t max_getprofile_per_client;
    int64_t inflight_bytes, inflight_wait_ms, spill_bytes;
    char spill_dir[512];
    int64_t max_head_bytes;
    int64_t max_url_bytes;
    int64_t max_headers;
    int64_t max_body_bytes;
    int64_t head_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t send_timeout_ms;
    int64_t shutdown_timeout_ms;
    /* [log] */
    int64_t log_level;
    int64_t log_format;
    bool access_log;
    /* [freshness] */
    int64_t settle_ms;
    int64_t live_ttl_ms;
    int64_t refresh_ahead_ms;
    /* [upstream] */
    char up_endpoint[512];
    char up_region[64];
    int64_t up_rate;
    int64_t up_burst;
    int64_t up_op_rate, up_op_burst;
    int64_t up_max_inflight;
    int64_t up_queue_max;
    int64_t up_retries;
    int64_t up_backoff_base_ms;
    int64_t up_backoff_cap_ms;
    int64_t up_attempt_timeout_ms;
    int64_t up_deadline_ms;
    int64_t up_max_response;
    int64_t up_bulk_buckets;
    char up_ca_bundle[512];
    char up_credentials[16];
    bool up_insecure;
    int64_t up_breaker_failures;
    int64_t up_breaker_cooldown_ms;
    /* [cache] */
    int64_t cache_memory_bytes;
    int64_t cache_response_bytes;
    bool cache_response_sendfile;
    int64_t cache_merged_bytes;
    char cache_namespace[64];
    bool cache_archive;
    /* [redis] */
    char redis_url[512];
    char redis_password_file[512];
    int64_t redis_connect_timeout_ms;
    int64_t redis_command_timeout_ms;
    /* [fleet] */
    bool fleet_enabled;
    int64_t fleet_heartbeat_ms;
    int64_t fleet_lease_ttl_ms;
    int64_t fleet_lease_poll_ms;
    /* [api] */
    int64_t api_read_ttl_ms;
    /* [ui] */
    char ui_root[512];
    bool api_writes;
    /* [auth] */
    int64_t auth_mode;
    char auth_tenants_file[512];
    int64_t auth_max_skew_ms;
} pg_config;

/** Fills every field with its documented default. */
void pg_config_defaults(pg_config *cfg);

/** Loads an INI file over the current values. On error: "FILE:LINE: message" in err. */
int pg_config_load_file(pg_config *cfg, const char *path, char *err, size_t errlen);

/** Loads INI text (tests, fuzzing); name is used in error messages. */
int pg_config_load_string(pg_config *cfg, const char *text, const char *name, char *err, size_t errlen);

/** Sets one directive by its "section.name" key (command-line overrides). */
int pg_config_set(pg_config *cfg, const char *key, const char *value, char *err, size_t errlen);

/** Writes the fully commented example configuration (every directive, its default, its help). */
void pg_config_write_example(FILE *out);

/** Writes a one-line-per-directive summary for --help. */
void pg_config_write_usage(FILE *out);

/**
 * Reload: for every directive whose value differs between cur and next, calls cb(key, live, data);
 * a live one (see the table) takes next's value in cur, any other keeps cur's (it needs a restart).
 * Returns how many were applied.
 */
typedef void (*pg_config_change_cb)(const char *key, bool live, void *data);
size_t pg_config_reload(pg_config *cur, const pg_config *next, pg_config_change_cb cb, void *data);

#endif
