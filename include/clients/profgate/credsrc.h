/*
 * credsrc.h: the credentials upstream calls are signed with, fetched and kept fresh on the event
 * loop (libcurl multi through curl_uv, uv_spawn for credential_process), never blocking it. It
 * runs a credplan.h plan: the base step, then each AssumeRole hop signed with the step before.
 *
 *   - Temporary credentials are refreshed ahead of expiry (credsched.h). A refresh that fails
 *     leaves the current credentials in use until their margin and is retried with back-off.
 *   - pg_credsrc_get answers the credentials usable now, or NULL: the caller waits (its
 *     deadline bounds it) and is told through the watcher when new ones arrive. Expired
 *     credentials never sign.
 *   - Token files (web identity, container authorization) are read again at every fetch: the
 *     kubelet and EKS Pod Identity rotate them.
 */
#ifndef PG_CREDSRC_H
#define PG_CREDSRC_H

#include "profgate/credplan.h"
#include "profgate/credsched.h"

#include <uv.h>

typedef struct pg_credsrc pg_credsrc;

typedef struct pg_credsrc_stats {
    char provider[16];     /* credplan's name: environment, web-identity, ..., none */
    const char *state;     /* the fetch state: idle, fetching, waiting, closed */
    bool signs;            /* the plan yields credentials (false: unsigned) */
    bool usable;           /* credentials usable now */
    int64_t expires_ns;    /* of those held; 0: none held or they never expire */
    uint64_t fetches, failures, refresh_failures;
    char last_error[300];  /* the last failure's reason, never a secret; "" after a success */
} pg_credsrc_stats;

/** Takes a copy of plan (the caller clears its own). ca_bundle may be "" (the system's). */
pg_credsrc *pg_credsrc_new(uv_loop_t *loop, const pg_cred_plan *plan, const char *ca_bundle);
/** Starts the first fetch (static keys are usable at once, with no I/O). */
void pg_credsrc_start(pg_credsrc *s);
/** The credentials to sign with at now (wall clock), or NULL when none is usable. */
const pg_creds *pg_credsrc_get(pg_credsrc *s, int64_t now);
/** False when the plan is "none": requests go out unsigned and never wait. */
bool pg_credsrc_signs(const pg_credsrc *s);
/** One watcher, told whenever new credentials arrive (NULL cb: none). */
void pg_credsrc_watch(pg_credsrc *s, void (*cb)(void *data), void *data);
void pg_credsrc_get_stats(const pg_credsrc *s, int64_t now, pg_credsrc_stats *out);
/** Stops fetching, wipes the secrets; done(data) runs once every handle has closed. */
void pg_credsrc_close(pg_credsrc *s, void (*done)(void *data), void *data);

#endif
