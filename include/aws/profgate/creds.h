/*
 * creds.h: one set of AWS credentials for signing upstream requests, with its expiry. Where they
 * come from is credplan.h (which provider of the SDKs' default chain) and, for temporary ones,
 * clients/credsrc.h (fetching and refreshing them). The secret is never logged:
 * pg_creds_describe shows only the access key's first four characters.
 */
#ifndef PG_CREDS_H
#define PG_CREDS_H

#include "profgate/common.h"

/* The longest values the SDKs and STS produce fit: access keys are at most 128 characters,
 * session tokens a few kilobytes. */
#define PG_CREDS_TOKEN_MAX 4096

typedef struct pg_creds {
    char access_key[129];
    char secret_key[129];
    char session_token[PG_CREDS_TOKEN_MAX];
    int64_t expires_ns; /* wall clock; 0: they do not expire (long-lived keys) */
    bool present;
} pg_creds;

/** "AKID**** with session token, expires 2026-12-01T20:00:00Z": safe for logs. */
void pg_creds_describe(const pg_creds *c, char *out, size_t outlen);

/** Copies src into dst (a NUL-terminated string of capacity cap); false when it does not fit. */
bool pg_creds_copy(char *dst, size_t cap, const char *src, size_t len);

/** Overwrites the secrets in memory. */
void pg_creds_clear(pg_creds *c);

#endif
