/*
 * simcreds.h: the simulator's stand-ins for where temporary AWS credentials come from, so the
 * gateway's credential chain is tested end to end without AWS:
 *   - STS (POST / with Action=AssumeRoleWithWebIdentity or AssumeRole, the query protocol's XML);
 *     AssumeRole must be SigV4-signed (service sts) by a key the simulator knows;
 *   - the container credentials endpoint (GET /_sim/creds/container, Authorization required);
 *   - IMDSv2 (PUT /latest/api/token, then GET /latest/meta-data/iam/security-credentials/[role]
 *     with X-aws-ec2-metadata-token; a request without a token is refused: v2 only).
 * Every issued session (key, secret, token) expires after --credentials-ttl seconds, and the
 * simulator's signature check (GetProfile and the other operations) accepts a session key only
 * with its token and before its expiry, counting expired and wrong-token calls for tests.
 * Faults: POST /_sim/creds/fail?n=N makes the next N credential requests fail with 503, and a
 * web identity or container token starting with "expired" is refused as the services would.
 */
#ifndef PG_SIMCREDS_H
#define PG_SIMCREDS_H

#include "profgate/buf.h"
#include "profgate/http_server.h"

typedef struct pg_simcreds pg_simcreds;

typedef enum {
    PG_SC_STATIC,     /* the long-lived key the simulator was started with */
    PG_SC_SESSION,    /* an issued session key with its token, not expired */
    PG_SC_EXPIRED,    /* an issued session key past its expiry */
    PG_SC_BAD_TOKEN,  /* an issued session key without its token, or with another */
} pg_sc_check;

/** ttl_s: issued sessions' lifetime; region: STS signatures' region; the static key pair may be NULL. */
pg_simcreds *pg_simcreds_new(int64_t ttl_s, const char *region, const char *access_key, const char *secret_key);
void pg_simcreds_free(pg_simcreds *sc);
/** Answers req when it is one of the stand-ins' routes; false otherwise (nothing sent). */
bool pg_simcreds_handle(pg_simcreds *sc, pg_http_req *req, int64_t now_ns);
/** The secret of a static or issued key (a pg_sigv4_secret_fn; ctx is the pg_simcreds). */
const char *pg_simcreds_secret(void *ctx, const char *akid, size_t len);
/** After a signature by akid verified on a data call: is the session still valid with this token
 * (may be NULL)? Counted in the stats' signedCalls. */
pg_sc_check pg_simcreds_check(pg_simcreds *sc, const char *akid, const char *token, size_t tlen, int64_t now_ns);
/** Appends ,"credentials":{...} for /_sim/stats. */
int pg_simcreds_stats_json(const pg_simcreds *sc, pg_buf *b);
/** Zeroes the counters (issued sessions stay valid). */
void pg_simcreds_reset_stats(pg_simcreds *sc);

#endif
