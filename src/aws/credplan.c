/*
 * credplan.c: the default credential chain's decision (see credplan.h). The shared files are
 * read whole with libinih into a small table of (profile, key, value), so profiles can refer to
 * each other (source_profile) without re-reading; the credentials file's values win over the
 * config file's for the same profile, as in the SDKs.
 */
#include "profgate/credplan.h"

#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const pg_cred_kind_names[PG_CRED_KIND_COUNT] = {"static keys", "web identity", "credential_process",
                                                            "container endpoint", "instance metadata (IMDSv2)",
                                                            "assume role"};

static const char *const choices[] = {"chain", "environment", "web-identity", "profile", "container", "imds", "none"};

/* Both files together hold at most this many entries: a config file with more is not one. */
#define MAX_ENTRIES 4096

typedef struct entry {
    char *profile, *key, *value;
    bool from_credentials; /* the credentials file (wins over the config file) */
} entry;

typedef struct ctx {
    const char *(*env)(const char *);
    const char *region;
    int64_t now_s;
    entry *e;
    size_t n;
    bool overflow;
    bool reading_credentials;
    char files[2][1024]; /* credentials, config: for messages */
    char *why;
    size_t whylen;
} ctx;

static const char *real_env(const char *name)
{
    return getenv(name);
}

static const char *envv(ctx *x, const char *name)
{
    const char *v = x->env(name);
    return v != NULL && *v ? v : NULL;
}

static int fail(ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why, x->whylen, fmt, ap);
    va_end(ap);
    return PG_EINVAL;
}

static bool set(char *dst, size_t cap, const char *src)
{
    return pg_creds_copy(dst, cap, src, strlen(src));
}

/* ------------------------------------------------------------------ the shared files */

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    ctx *x = user;
    const char *profile = section;
    if (!x->reading_credentials) {
        /* The config file names profiles "[profile p]" and the default "[default]"; its other
         * sections (sso-session, services) hold no credentials. */
        if (strncmp(section, "profile ", 8) == 0)
            profile = section + 8 + strspn(section + 8, " ");
        else if (strcmp(section, "default") != 0)
            return 1;
    }
    if (x->n == MAX_ENTRIES) {
        x->overflow = true;
        return 0;
    }
    entry *e = &x->e[x->n];
    e->profile = strdup(profile);
    e->key = strdup(name);
    e->value = strdup(value);
    PG_ASSERT(e->profile != NULL && e->key != NULL && e->value != NULL);
    e->from_credentials = x->reading_credentials;
    x->n++;
    return 1;
}

/* Reads one file; a file that is absent is no error unless it was named explicitly. */
static int read_file(ctx *x, const char *var, const char *dflt, bool credentials, int slot)
{
    const char *file = envv(x, var);
    bool explicit_file = file != NULL;
    if (!explicit_file) {
        const char *home = envv(x, "HOME");
        if (home == NULL)
            return PG_OK;
        int n = snprintf(x->files[slot], sizeof x->files[slot], "%s/%s", home, dflt);
        if (n < 0 || (size_t)n >= sizeof x->files[slot])
            return PG_OK;
    } else if (!set(x->files[slot], sizeof x->files[slot], file)) {
        return fail(x, "%s is too long", var);
    }
    FILE *fp = fopen(x->files[slot], "r");
    if (fp == NULL) {
        if (explicit_file)
            return fail(x, "cannot read %s %.900s", var, x->files[slot]);
        x->files[slot][0] = '\0';
        return PG_OK;
    }
    x->reading_credentials = credentials;
    int line = ini_parse_file(fp, on_entry, x);
    fclose(fp);
    if (x->overflow)
        return fail(x, "%.900s: more than %d settings; not a credentials or config file", x->files[slot], MAX_ENTRIES);
    if (line != 0)
        return fail(x, "%.900s:%d: not a valid INI file", x->files[slot], line);
    return PG_OK;
}

/* A profile's value for key: the credentials file's first, then the config file's. */
static const char *get(ctx *x, const char *profile, const char *key)
{
    const char *from_config = NULL;
    for (size_t i = 0; i < x->n; i++) {
        if (strcmp(x->e[i].profile, profile) != 0 || strcmp(x->e[i].key, key) != 0 || !x->e[i].value[0])
            continue;
        if (x->e[i].from_credentials)
            return x->e[i].value;
        from_config = from_config ? from_config : x->e[i].value;
    }
    return from_config;
}

static bool profile_exists(ctx *x, const char *profile)
{
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->e[i].profile, profile) == 0)
            return true;
    /* libinih reports keys, not headers: an empty section counts as absent (it holds no
     * credentials either way). */
    return false;
}

static void origin_of(ctx *x, const char *profile, char *out, size_t outlen)
{
    const char *f = x->files[0][0] && get(x, profile, "aws_access_key_id") ? x->files[0] : x->files[1];
    snprintf(out, outlen, "%.250s [%.40s]", f[0] ? f : "shared config", profile);
}

/* ------------------------------------------------------------------ steps */

static pg_cred_step *add_step(pg_cred_plan *p, pg_cred_kind kind, const char *origin)
{
    PG_ASSERT(p->n < PG_ARRAY_LEN(p->steps));
    pg_cred_step *s = &p->steps[p->n++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    snprintf(s->origin, sizeof s->origin, "%s", origin);
    return s;
}

static int static_keys(ctx *x, pg_cred_plan *p, const char *origin, const char *ak, const char *sk, const char *tok)
{
    pg_cred_step *s = add_step(p, PG_CRED_STATIC, origin);
    if (!set(s->keys.access_key, sizeof s->keys.access_key, ak) ||
        !set(s->keys.secret_key, sizeof s->keys.secret_key, sk) ||
        (tok != NULL && !set(s->keys.session_token, sizeof s->keys.session_token, tok)))
        return fail(x, "%s: an access key, secret or session token is too long", origin);
    s->keys.present = true;
    return PG_OK;
}

/* Role session names are 2-64 of [A-Za-z0-9+=,.@_-] (STS's pattern); a default names profgate. */
static int session_name(ctx *x, pg_cred_step *s, const char *name, const char *what)
{
    if (name == NULL) {
        snprintf(s->session_name, sizeof s->session_name, "profgate-%lld", (long long)x->now_s);
        return PG_OK;
    }
    size_t n = strlen(name);
    if (n < 2 || n > 64 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@_-") != n)
        return fail(x, "%s '%.80s' is not a valid role session name (2-64 of A-Z a-z 0-9 +=,.@_-)", what, name);
    memcpy(s->session_name, name, n + 1);
    return PG_OK;
}

static int role_arn(ctx *x, pg_cred_step *s, const char *arn, const char *what)
{
    if (strncmp(arn, "arn:", 4) != 0 || !set(s->role_arn, sizeof s->role_arn, arn))
        return fail(x, "%s '%.100s' is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)", what, arn);
    return PG_OK;
}

static bool truthy(const char *v)
{
    return v != NULL && strcasecmp(v, "true") == 0;
}

/* The container endpoint. Plain http is allowed only to the addresses ECS and EKS Pod Identity
 * use and to loopback, as in the SDKs: anything else could read the token in transit. */
static bool container_host_ok(const char *url)
{
    if (strncmp(url, "https://", 8) == 0)
        return true;
    if (strncmp(url, "http://", 7) != 0)
        return false;
    const char *h = url + 7;
    static const char *const ok[] = {"169.254.170.2", "169.254.170.23", "[fd00:ec2::23]", "localhost", "[::1]"};
    size_t hl = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/?#");
    for (size_t i = 0; i < PG_ARRAY_LEN(ok); i++)
        if (strlen(ok[i]) == hl && strncmp(h, ok[i], hl) == 0)
            return true;
    /* 127.0.0.0/8 */
    unsigned a, b, c, d;
    char tail;
    char host[64];
    if (hl >= sizeof host)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}

static int container_step(ctx *x, pg_cred_plan *p, const char *origin)
{
    const char *rel = envv(x, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = envv(x, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    pg_cred_step *s = add_step(p, PG_CRED_CONTAINER, origin);
    s->timeout_ms = 2000;
    if (rel != NULL) {
        if (rel[0] != '/')
            return fail(x, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI '%.100s' must start with /", rel);
        int n = snprintf(s->url, sizeof s->url, "http://169.254.170.2%s", rel);
        if (n < 0 || (size_t)n >= sizeof s->url)
            return fail(x, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is too long");
    } else if (full != NULL) {
        if (!container_host_ok(full))
            return fail(x, "AWS_CONTAINER_CREDENTIALS_FULL_URI '%.200s' must be https, or http to loopback, "
                           "169.254.170.2 or 169.254.170.23", full);
        if (!set(s->url, sizeof s->url, full))
            return fail(x, "AWS_CONTAINER_CREDENTIALS_FULL_URI is too long");
    } else {
        return fail(x, "%s: neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor _FULL_URI is set", origin);
    }
    const char *tf = envv(x, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tk = envv(x, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (tf != NULL && !set(s->path, sizeof s->path, tf))
        return fail(x, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is too long");
    if (tf == NULL && tk != NULL && (!set(s->token, sizeof s->token, tk) || strpbrk(tk, "\r\n") != NULL))
        return fail(x, "AWS_CONTAINER_AUTHORIZATION_TOKEN is too long or spans lines");
    return PG_OK;
}

/* An endpoint URL from the environment: http(s), kept without trailing slashes (paths are
 * appended with their own). */
static bool endpoint_url(char *dst, size_t cap, const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    return (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) && pg_creds_copy(dst, cap, url, n);
}

static int imds_step(ctx *x, pg_cred_plan *p, const char *origin)
{
    pg_cred_step *s = add_step(p, PG_CRED_IMDS, origin);
    const char *ep = envv(x, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = envv(x, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (ep == NULL)
        ep = mode != NULL && strcasecmp(mode, "IPv6") == 0 ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
    if (!endpoint_url(s->url, sizeof s->url, ep))
        return fail(x, "AWS_EC2_METADATA_SERVICE_ENDPOINT '%.200s' must be an http(s) URL", ep);
    /* The SDKs' default: one attempt with a one-second timeout (AWS_METADATA_SERVICE_TIMEOUT);
     * a failure is retried by the refresh schedule, not here. */
    const char *t = envv(x, "AWS_METADATA_SERVICE_TIMEOUT");
    double secs = t != NULL ? strtod(t, NULL) : 1.0;
    if (!(secs > 0 && secs <= 60))
        return fail(x, "AWS_METADATA_SERVICE_TIMEOUT '%.20s' must be 0 < seconds <= 60", t);
    s->timeout_ms = (unsigned)(secs * 1000);
    return PG_OK;
}

static int web_identity_step(ctx *x, pg_cred_plan *p, const char *origin, const char *file, const char *arn,
                             const char *name)
{
    pg_cred_step *s = add_step(p, PG_CRED_WEB_IDENTITY, origin);
    if (!set(s->path, sizeof s->path, file))
        return fail(x, "%s: the web identity token file name is too long", origin);
    int rc = role_arn(x, s, arn, "the role ARN");
    return rc ?: session_name(x, s, name, "the role session name");
}

static int resolve_profile(ctx *x, pg_cred_plan *p, const char *profile, unsigned depth);

/* role_arn: the source's steps, then an AssumeRole hop. */
static int assume_role(ctx *x, pg_cred_plan *p, const char *profile, const char *arn, unsigned depth)
{
    char origin[300];
    origin_of(x, profile, origin, sizeof origin);
    if (get(x, profile, "mfa_serial") != NULL)
        return fail(x, "%s: mfa_serial needs a code typed in; profgate cannot prompt (use a role without MFA)", origin);
    const char *src = get(x, profile, "source_profile");
    const char *cs = get(x, profile, "credential_source");
    const char *wit = get(x, profile, "web_identity_token_file");
    int rc = PG_OK;
    if (wit != NULL) {
        return web_identity_step(x, p, origin, wit, arn, get(x, profile, "role_session_name"));
    } else if (src != NULL && cs != NULL) {
        return fail(x, "%s: source_profile and credential_source exclude each other", origin);
    } else if (src != NULL) {
        if (strcmp(src, profile) == 0) {
            /* A profile that names itself: its own static keys are the source. */
            const char *ak = get(x, profile, "aws_access_key_id"), *sk = get(x, profile, "aws_secret_access_key");
            if (ak == NULL || sk == NULL)
                return fail(x, "%s: source_profile names itself but it has no static keys", origin);
            rc = static_keys(x, p, origin, ak, sk, get(x, profile, "aws_session_token"));
        } else {
            rc = resolve_profile(x, p, src, depth + 1);
        }
    } else if (cs != NULL) {
        if (strcmp(cs, "Environment") == 0) {
            const char *ak = envv(x, "AWS_ACCESS_KEY_ID"), *sk = envv(x, "AWS_SECRET_ACCESS_KEY");
            if (ak == NULL || sk == NULL)
                return fail(x, "%s: credential_source = Environment but AWS_ACCESS_KEY_ID/SECRET are not set", origin);
            rc = static_keys(x, p, "environment", ak, sk, envv(x, "AWS_SESSION_TOKEN"));
        } else if (strcmp(cs, "Ec2InstanceMetadata") == 0) {
            rc = imds_step(x, p, origin);
        } else if (strcmp(cs, "EcsContainer") == 0) {
            rc = container_step(x, p, origin);
        } else {
            return fail(x, "%s: credential_source '%.40s' is not Environment, Ec2InstanceMetadata or EcsContainer",
                        origin, cs);
        }
    } else {
        return fail(x, "%s: role_arn needs source_profile, credential_source or web_identity_token_file", origin);
    }
    if (rc != PG_OK)
        return rc;
    if (p->n >= PG_ARRAY_LEN(p->steps))
        return fail(x, "%s: more than %d roles chained", origin, PG_CRED_HOPS);
    pg_cred_step *s = add_step(p, PG_CRED_ASSUME_ROLE, origin);
    rc = role_arn(x, s, arn, "role_arn");
    rc = rc ?: session_name(x, s, get(x, profile, "role_session_name"), "role_session_name");
    const char *ext = get(x, profile, "external_id");
    if (rc == PG_OK && ext != NULL && !set(s->external_id, sizeof s->external_id, ext))
        return fail(x, "%s: external_id is too long", origin);
    const char *d = get(x, profile, "duration_seconds");
    if (rc == PG_OK && d != NULL) {
        char *end;
        unsigned long v = strtoul(d, &end, 10);
        if (*end != '\0' || v < 900 || v > 43200)
            return fail(x, "%s: duration_seconds '%.20s' must be 900..43200", origin, d);
        s->duration_s = (unsigned)v;
    }
    return rc;
}

static int resolve_profile(ctx *x, pg_cred_plan *p, const char *profile, unsigned depth)
{
    if (depth > PG_CRED_HOPS)
        return fail(x, "profile '%.60s': source_profile chain longer than %d (or a cycle)", profile, PG_CRED_HOPS);
    if (!profile_exists(x, profile))
        return fail(x, "profile '%.60s' is in neither %.300s nor %.300s", profile,
                    x->files[0][0] ? x->files[0] : "the credentials file", x->files[1][0] ? x->files[1] : "the config file");
    char origin[300];
    origin_of(x, profile, origin, sizeof origin);
    const char *arn = get(x, profile, "role_arn");
    if (arn != NULL)
        return assume_role(x, p, profile, arn, depth);
    const char *ak = get(x, profile, "aws_access_key_id"), *sk = get(x, profile, "aws_secret_access_key");
    if (ak != NULL || sk != NULL) {
        if (ak == NULL || sk == NULL)
            return fail(x, "%s lacks aws_access_key_id or aws_secret_access_key", origin);
        return static_keys(x, p, origin, ak, sk, get(x, profile, "aws_session_token"));
    }
    const char *cmd = get(x, profile, "credential_process");
    if (cmd != NULL) {
        pg_cred_step *s = add_step(p, PG_CRED_PROCESS, origin);
        if (!set(s->command, sizeof s->command, cmd))
            return fail(x, "%s: credential_process is too long", origin);
        return PG_OK;
    }
    if (get(x, profile, "sso_session") != NULL || get(x, profile, "sso_start_url") != NULL)
        return fail(x, "%s: IAM Identity Center (SSO) profiles need an interactive login; use credential_process "
                       "or a role instead", origin);
    return fail(x, "%s has no credentials (keys, role_arn or credential_process)", origin);
}

/* ------------------------------------------------------------------ the chain */

static int try_environment(ctx *x, pg_cred_plan *p, bool *found)
{
    const char *ak = envv(x, "AWS_ACCESS_KEY_ID"), *sk = envv(x, "AWS_SECRET_ACCESS_KEY");
    if (ak == NULL && sk == NULL)
        return PG_OK;
    if (ak == NULL || sk == NULL)
        return fail(x, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    *found = true;
    return static_keys(x, p, "environment", ak, sk, envv(x, "AWS_SESSION_TOKEN"));
}

static int try_web_identity(ctx *x, pg_cred_plan *p, bool *found)
{
    const char *file = envv(x, "AWS_WEB_IDENTITY_TOKEN_FILE"), *arn = envv(x, "AWS_ROLE_ARN");
    if (file == NULL && arn == NULL)
        return PG_OK;
    if (file == NULL || arn == NULL)
        return fail(x, "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN must be set together");
    *found = true;
    return web_identity_step(x, p, "environment (AWS_WEB_IDENTITY_TOKEN_FILE)", file, arn,
                             envv(x, "AWS_ROLE_SESSION_NAME"));
}

static int try_profile(ctx *x, pg_cred_plan *p, bool *found, bool required)
{
    const char *named = envv(x, "AWS_PROFILE");
    if (named == NULL)
        named = envv(x, "AWS_DEFAULT_PROFILE");
    const char *profile = named != NULL ? named : "default";
    int rc = read_file(x, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", true, 0);
    rc = rc ?: read_file(x, "AWS_CONFIG_FILE", ".aws/config", false, 1);
    if (rc != PG_OK)
        return rc;
    /* The default profile may be absent or hold only settings (region): the chain goes on. A
     * profile asked for by name must exist and yield credentials. */
    if (named == NULL && !required) {
        if (!profile_exists(x, profile))
            return PG_OK;
        if (get(x, profile, "role_arn") == NULL && get(x, profile, "aws_access_key_id") == NULL &&
            get(x, profile, "aws_secret_access_key") == NULL && get(x, profile, "credential_process") == NULL &&
            get(x, profile, "sso_session") == NULL && get(x, profile, "sso_start_url") == NULL)
            return PG_OK;
    }
    *found = true;
    return resolve_profile(x, p, profile, 0);
}

static bool want(const char *choice, const char *name)
{
    return strcmp(choice, "chain") == 0 || strcmp(choice, name) == 0;
}

bool pg_cred_choice_valid(const char *choice)
{
    for (size_t i = 0; i < PG_ARRAY_LEN(choices); i++)
        if (strcmp(choice, choices[i]) == 0)
            return true;
    return false;
}

static int sts_endpoint(ctx *x, pg_cred_plan *p)
{
    snprintf(p->sts_region, sizeof p->sts_region, "%s", x->region);
    const char *ep = envv(x, "AWS_ENDPOINT_URL_STS");
    if (ep != NULL) {
        if (!endpoint_url(p->sts_endpoint, sizeof p->sts_endpoint, ep))
            return fail(x, "AWS_ENDPOINT_URL_STS '%.200s' must be an http(s) URL", ep);
        return PG_OK;
    }
    /* Regional STS (the SDKs' default now): the call stays in the gateway's region. */
    bool china = strncmp(x->region, "cn-", 3) == 0;
    snprintf(p->sts_endpoint, sizeof p->sts_endpoint, "https://sts.%s.amazonaws.com%s", x->region, china ? ".cn" : "");
    return PG_OK;
}

int pg_cred_plan_resolve(pg_cred_plan *p, const char *choice, const char *(*env)(const char *name),
                         const char *region, int64_t now_s, char *why, size_t whylen)
{
    memset(p, 0, sizeof *p);
    snprintf(p->provider, sizeof p->provider, "none");
    if (!pg_cred_choice_valid(choice)) {
        snprintf(why, whylen, "upstream.credentials '%.40s' is not one of: %s", choice, PG_CRED_CHOICES);
        return PG_EINVAL;
    }
    ctx x = {.env = env != NULL ? env : real_env, .region = region, .now_s = now_s, .why = why, .whylen = whylen};
    x.e = calloc(MAX_ENTRIES, sizeof *x.e);
    PG_ASSERT(x.e != NULL);
    int rc = sts_endpoint(&x, p);
    bool found = strcmp(choice, "none") == 0;
    bool alone = strcmp(choice, "chain") != 0;
    if (rc == PG_OK && !found && want(choice, "environment")) {
        snprintf(p->provider, sizeof p->provider, "environment");
        rc = try_environment(&x, p, &found);
    }
    if (rc == PG_OK && !found && want(choice, "web-identity")) {
        snprintf(p->provider, sizeof p->provider, "web-identity");
        rc = try_web_identity(&x, p, &found);
    }
    if (rc == PG_OK && !found && want(choice, "profile")) {
        snprintf(p->provider, sizeof p->provider, "profile");
        rc = try_profile(&x, p, &found, alone);
    }
    if (rc == PG_OK && !found && want(choice, "container") &&
        (envv(&x, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != NULL ||
         envv(&x, "AWS_CONTAINER_CREDENTIALS_FULL_URI") != NULL || alone)) {
        snprintf(p->provider, sizeof p->provider, "container");
        found = true;
        rc = container_step(&x, p, "environment (AWS_CONTAINER_CREDENTIALS_*)");
    }
    if (rc == PG_OK && !found && want(choice, "imds")) {
        if (truthy(envv(&x, "AWS_EC2_METADATA_DISABLED"))) {
            if (alone)
                rc = fail(&x, "upstream.credentials = imds but AWS_EC2_METADATA_DISABLED is true");
        } else {
            snprintf(p->provider, sizeof p->provider, "imds");
            found = true;
            rc = imds_step(&x, p, "instance metadata");
        }
    }
    if (rc == PG_OK && !found && alone)
        rc = fail(&x, "upstream.credentials = %s but that provider is not configured", choice);
    if (rc != PG_OK || !found || strcmp(choice, "none") == 0) {
        if (rc != PG_OK)
            pg_cred_plan_clear(p);
        p->n = 0;
        snprintf(p->provider, sizeof p->provider, "none");
    }
    for (size_t i = 0; i < x.n; i++) {
        /* the files may hold secrets: wipe the values before freeing */
        memset(x.e[i].value, 0, strlen(x.e[i].value));
        free(x.e[i].profile);
        free(x.e[i].key);
        free(x.e[i].value);
    }
    free(x.e);
    return rc;
}

void pg_cred_plan_describe(const pg_cred_plan *p, char *out, size_t outlen)
{
    if (p->n == 0) {
        snprintf(out, outlen, "none (upstream requests are sent unsigned)");
        return;
    }
    size_t used = (size_t)snprintf(out, outlen, "%s: ", p->provider);
    for (size_t i = 0; i < p->n && used < outlen; i++) {
        const pg_cred_step *s = &p->steps[i];
        int n = 0;
        switch (s->kind) {
        case PG_CRED_STATIC:
            n = snprintf(out + used, outlen - used, "static keys %.4s**** from %s", s->keys.access_key, s->origin);
            break;
        case PG_CRED_WEB_IDENTITY:
            n = snprintf(out + used, outlen - used, "web identity token %s for %s from %s", s->path, s->role_arn,
                         s->origin);
            break;
        case PG_CRED_PROCESS:
            n = snprintf(out + used, outlen - used, "credential_process from %s", s->origin);
            break;
        case PG_CRED_CONTAINER:
            n = snprintf(out + used, outlen - used, "container endpoint %s", s->url);
            break;
        case PG_CRED_IMDS:
            n = snprintf(out + used, outlen - used, "instance metadata at %s (IMDSv2)", s->url);
            break;
        case PG_CRED_ASSUME_ROLE:
            n = snprintf(out + used, outlen - used, ", then assume role %s", s->role_arn);
            break;
        case PG_CRED_KIND_COUNT:
            PG_UNREACHABLE();
        }
        if (n < 0)
            break;
        used += (size_t)n;
    }
    bool sts = false;
    for (size_t i = 0; i < p->n; i++)
        sts = sts || p->steps[i].kind == PG_CRED_WEB_IDENTITY || p->steps[i].kind == PG_CRED_ASSUME_ROLE;
    if (sts && used < outlen)
        snprintf(out + used, outlen - used, " (STS %s)", p->sts_endpoint);
}

void pg_cred_plan_clear(pg_cred_plan *p)
{
    for (size_t i = 0; i < PG_ARRAY_LEN(p->steps); i++)
        pg_creds_clear(&p->steps[i].keys);
}
