/*
 * creds.h: AWS credentials for signing upstream requests, found the way the SDKs find them: the
 * environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), else the shared
 * credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE or
 * "default"). The secret is never logged: pg_creds_describe shows only where the key came from
 * and the access key's first four characters.
 */
#ifndef PG_CREDS_H
#define PG_CREDS_H

#include "profgate/common.h"

typedef struct pg_creds {
    char access_key[129];
    char secret_key[129];
    char session_token[4096];
    char source[256]; /* "environment" or "FILE [profile]" */
    bool present;
} pg_creds;

/**
 * Loads credentials from env (a getenv-like function, for tests) or the process environment when
 * env is NULL. Returns PG_OK (present or not), or PG_EINVAL with a reason when a file is
 * unreadable or a profile is incomplete.
 */
int pg_creds_load(pg_creds *c, const char *(*env)(const char *name), char *why, size_t whylen);

/** "AKID**** from environment" — safe for logs. */
void pg_creds_describe(const pg_creds *c, char *out, size_t outlen);

/** Overwrites the secrets in memory. */
void pg_creds_clear(pg_creds *c);

#endif
