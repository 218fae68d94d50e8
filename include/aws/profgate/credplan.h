/*
 * credplan.h: which provider of the AWS SDKs' default credential chain supplies profgate's
 * credentials, decided once at start from the environment and the shared config files, before
 * anything is fetched. The chain, in order (the first that is configured wins):
 *
 *   environment   AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN]
 *   web-identity  AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN [+ AWS_ROLE_SESSION_NAME] (IRSA)
 *   profile       AWS_PROFILE (else "default") in AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE
 *                 (~/.aws/credentials, ~/.aws/config): static keys, role_arn with source_profile
 *                 or credential_source, web_identity_token_file, credential_process
 *   container     AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI, with
 *                 AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN (ECS, EKS Pod Identity)
 *   imds          EC2 instance metadata, IMDSv2 only, unless AWS_EC2_METADATA_DISABLED=true
 *
 * The result is a plan: a base step that yields credentials (static keys, a web identity
 * exchange, a process, the container endpoint, IMDS) and up to PG_CRED_HOPS AssumeRole hops,
 * each signed with the credentials of the step before. Pure apart from reading the two config
 * files; the getenv-like function makes it testable.
 */
#ifndef PG_CREDPLAN_H
#define PG_CREDPLAN_H

#include "profgate/creds.h"

typedef enum {
    PG_CRED_STATIC,       /* keys known now */
    PG_CRED_WEB_IDENTITY, /* STS AssumeRoleWithWebIdentity with a token read from a file */
    PG_CRED_PROCESS,      /* credential_process: a command printing JSON */
    PG_CRED_CONTAINER,    /* GET the container credentials endpoint */
    PG_CRED_IMDS,         /* PUT a session token, GET the role, GET its credentials */
    PG_CRED_ASSUME_ROLE,  /* STS AssumeRole, signed with the previous step's credentials */
    PG_CRED_KIND_COUNT
} pg_cred_kind;

extern const char *const pg_cred_kind_names[PG_CRED_KIND_COUNT];

#define PG_CRED_HOPS 4

typedef struct pg_cred_step {
    pg_cred_kind kind;
    char origin[300];        /* where it was configured, for logs: "environment", "FILE [profile p]" */
    pg_creds keys;           /* STATIC */
    char role_arn[2049];     /* WEB_IDENTITY, ASSUME_ROLE */
    char session_name[65];   /* WEB_IDENTITY, ASSUME_ROLE */
    char external_id[1225];  /* ASSUME_ROLE (optional) */
    unsigned duration_s;     /* ASSUME_ROLE, WEB_IDENTITY: 0 = the role's default */
    char path[1024];         /* WEB_IDENTITY token file; CONTAINER authorization token file */
    char token[2048];        /* CONTAINER authorization token when there is no file */
    char command[2048];      /* PROCESS, run with /bin/sh -c */
    char url[1024];          /* CONTAINER: the full URL; IMDS: the endpoint */
    unsigned timeout_ms;     /* CONTAINER, IMDS: per request */
} pg_cred_step;

typedef struct pg_cred_plan {
    char provider[16];       /* environment, web-identity, profile, container, imds or none */
    size_t n;                /* steps; 0 = no credentials (requests go out unsigned) */
    pg_cred_step steps[1 + PG_CRED_HOPS];
    char sts_endpoint[512];  /* AWS_ENDPOINT_URL_STS, else https://sts.REGION.amazonaws.com */
    char sts_region[64];     /* STS calls are signed for this region */
} pg_cred_plan;

/* upstream.credentials: the whole chain, one provider alone, or none. */
#define PG_CRED_CHOICES "chain, environment, web-identity, profile, container, imds, none"

/**
 * Resolves the chain (choice "chain") or one provider alone into *p (heap-sized: allocate it).
 * env is getenv-like (NULL: the process environment); region is upstream.region; now_s names
 * default role sessions. PG_OK, or PG_EINVAL with why: a provider that is configured but
 * incomplete or wrong stops the start rather than silently falling through to the next, and a
 * chosen provider that is not configured is an error too.
 */
int pg_cred_plan_resolve(pg_cred_plan *p, const char *choice, const char *(*env)(const char *name),
                         const char *region, int64_t now_s, char *why, size_t whylen);

/** One line for logs and -t: "web-identity: role arn:... via token file /var/run/...". */
void pg_cred_plan_describe(const pg_cred_plan *p, char *out, size_t outlen);

/** Whether a choice is one of PG_CRED_CHOICES. */
bool pg_cred_choice_valid(const char *choice);

/** Wipes the secrets a plan holds (static keys). */
void pg_cred_plan_clear(pg_cred_plan *p);

#endif
