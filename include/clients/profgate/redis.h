/*
 * redis.h: the Redis client, the I/O edge that wraps hiredis (async, libuv adapter) on the loop.
 * It connects from a redis:// or unix: URL, authenticates and selects the database, reconnects
 * with backoff, and runs GET (with the key's TTL) and SET with timeouts of its own: hiredis's timeout would drop the
 * whole connection, so a slow command just answers "timeout" to its caller at the deadline and
 * its late reply is ignored. Commands issued in one loop turn share one write (pipelining), so
 * the GETs of a whole plan cost one round trip. It knows nothing about what the values mean.
 */
#ifndef PG_REDIS_H
#define PG_REDIS_H

#include "profgate/common.h"
#include "profgate/histo.h"

#include <uv.h>

typedef struct pg_redis_cfg {
    char url[512];                /* redis://[[user]:password@]host[:port][/db] or unix:/path[?db=N] */
    char password[256];           /* from redis.password_file, or "" (then the URL's, if any) */
    uint64_t connect_timeout_ms;
    uint64_t command_timeout_ms;
    uint64_t reconnect_min_ms, reconnect_max_ms;
} pg_redis_cfg;

typedef struct pg_redis pg_redis;

/** Parses the URL (PG_EINVAL with err on a bad one) and starts connecting. */
pg_redis *pg_redis_new(uv_loop_t *loop, const pg_redis_cfg *cfg, char *err, size_t errlen);

/** Connected and authenticated. */
bool pg_redis_ready(const pg_redis *r);

/**
 * status: PG_OK (found; val valid during the call), PG_ENOTFOUND (no such key), or an error.
 * ttl_ms: what was left of the key's expiry when it was read; -1: it has none.
 */
typedef void (*pg_redis_get_cb)(void *ctx, int status, const char *val, size_t len, int64_t ttl_ms);

/** GET and PTTL of one key in one atomic step (a server-side script): a reader of values that
 *  expire needs to know how long they have left. PG_OK: cb runs exactly once, later. Otherwise
 *  (not connected) nothing was sent. */
int pg_redis_get(pg_redis *r, const char *key, size_t klen, pg_redis_get_cb cb, void *ctx);

/** Best-effort SET key value [PX ttl_ms] (ttl_ms 0: no expiry). */
void pg_redis_set(pg_redis *r, const char *key, size_t klen, const void *val, size_t len, int64_t ttl_ms);

/** A script's answer: status PG_OK with its integers (an integer reply is one value, nil is
 *  none), or an error (not connected when it was due, timeout, a reply of another shape). */
#define PG_REDIS_INTS_MAX 8
typedef void (*pg_redis_ints_cb)(void *ctx, int status, const int64_t *vals, size_t n);

/**
 * EVAL of one of profgate's own scripts with its keys and arguments (strings), answering
 * integers. Atomic on the server, and so the way shared state (fleet budget, leases, members) is
 * changed. PG_OK: cb runs exactly once, later; otherwise (not connected) nothing was sent.
 */
#define PG_REDIS_SCRIPT_ARGS_MAX 8
int pg_redis_script(pg_redis *r, const char *script, const char *const *keys, size_t nkeys,
                    const char *const *args, size_t nargs, pg_redis_ints_cb cb, void *ctx);

typedef struct pg_redis_stats {
    uint64_t commands, errors, timeouts, reconnects;
    pg_histo latency; /* commands that got a reply */
    bool connected;
} pg_redis_stats;
void pg_redis_get_stats(const pg_redis *r, pg_redis_stats *out);

/** Answers pending commands with errors, closes the connection and handles; then done(data). */
void pg_redis_close(pg_redis *r, void (*done)(void *data), void *data);

/** Parses a URL into its parts (exposed for tests). */
typedef struct pg_redis_url {
    bool unix_socket;
    char host[256];
    int port;
    char path[256];
    char user[128], password[256];
    int db;
} pg_redis_url;
int pg_redis_url_parse(const char *url, pg_redis_url *out, char *err, size_t errlen);

#endif
