/*
 * credparse.h: the answers that carry temporary credentials, parsed strictly and with bounds
 * (all are outside input; each has a fuzz target):
 *   - STS (AssumeRole, AssumeRoleWithWebIdentity): the query protocol's XML, success
 *     (<Credentials>) or <ErrorResponse>;
 *   - the container endpoint and IMDS: JSON with AccessKeyId, SecretAccessKey, Token, Expiration
 *     (IMDS adds Code, which must be "Success");
 *   - credential_process: JSON with Version 1, AccessKeyId, SecretAccessKey, optional
 *     SessionToken and Expiration (without one, the keys do not expire);
 *   - IMDS's plain-text answers (the session token, the role's name): one word.
 * Pure: text in, pg_creds out, or a reason that never quotes a secret.
 */
#ifndef PG_CREDPARSE_H
#define PG_CREDPARSE_H

#include "profgate/creds.h"

/* No answer carrying credentials is larger; a bigger one is refused unread. */
#define PG_CRED_BODY_MAX ((size_t)64 << 10)

typedef enum { PG_CRED_JSON_CONTAINER, PG_CRED_JSON_IMDS, PG_CRED_JSON_PROCESS } pg_cred_json_kind;

/**
 * An STS answer body. PG_OK with *out filled (expiry required), or PG_EINVAL with why: the
 * service's error code and message when it is an ErrorResponse, else what is wrong.
 */
int pg_cred_parse_sts(const char *body, size_t len, pg_creds *out, char *why, size_t whylen);

/** A JSON credentials document of the given kind. PG_OK or PG_EINVAL with why. */
int pg_cred_parse_json(const char *body, size_t len, pg_cred_json_kind kind, pg_creds *out, char *why, size_t whylen);

/**
 * One word of IMDS text (a session token or a role name): the body up to its first line end,
 * non-empty, shorter than cap, printable ASCII without spaces or '/' (a role name goes into a
 * URL path, a token into a header). true with out NUL-terminated, else false.
 */
bool pg_cred_parse_word(const char *body, size_t len, char *out, size_t cap);

#endif
