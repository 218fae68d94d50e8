/*
 * creds.c: the credential chain (environment, shared credentials file). The file is parsed with
 * libinih; only the selected profile's three keys are read.
 */
#include "profgate/creds.h"

#include <ini.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *real_env(const char *name)
{
    return getenv(name);
}

static bool copy(char *dst, size_t cap, const char *src)
{
    if (src == NULL || strlen(src) >= cap)
        return false;
    memcpy(dst, src, strlen(src) + 1);
    return true;
}

typedef struct {
    pg_creds *c;
    const char *profile;
    bool found;
} file_ctx;

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    file_ctx *f = user;
    /* The shared credentials file names sections by profile ("default", "dev"); the config file
     * style "profile dev" is accepted too. */
    bool match = strcmp(section, f->profile) == 0 ||
                 (strncmp(section, "profile ", 8) == 0 && strcmp(section + 8, f->profile) == 0);
    if (!match)
        return 1;
    f->found = true;
    if (strcmp(name, "aws_access_key_id") == 0)
        copy(f->c->access_key, sizeof f->c->access_key, value);
    else if (strcmp(name, "aws_secret_access_key") == 0)
        copy(f->c->secret_key, sizeof f->c->secret_key, value);
    else if (strcmp(name, "aws_session_token") == 0)
        copy(f->c->session_token, sizeof f->c->session_token, value);
    return 1;
}

int pg_creds_load(pg_creds *c, const char *(*env)(const char *name), char *why, size_t whylen)
{
    if (env == NULL)
        env = real_env;
    memset(c, 0, sizeof *c);
    const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
    if (ak && *ak && sk && *sk) {
        if (!copy(c->access_key, sizeof c->access_key, ak) || !copy(c->secret_key, sizeof c->secret_key, sk)) {
            snprintf(why, whylen, "AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is too long");
            pg_creds_clear(c);
            return PG_EINVAL;
        }
        const char *tok = env("AWS_SESSION_TOKEN");
        if (tok && *tok && !copy(c->session_token, sizeof c->session_token, tok)) {
            snprintf(why, whylen, "AWS_SESSION_TOKEN is too long");
            pg_creds_clear(c);
            return PG_EINVAL;
        }
        snprintf(c->source, sizeof c->source, "environment");
        c->present = true;
        return PG_OK;
    }
    char path[1024];
    const char *file = env("AWS_SHARED_CREDENTIALS_FILE");
    bool explicit_file = file && *file;
    if (!explicit_file) {
        const char *home = env("HOME");
        if (home == NULL || !*home)
            return PG_OK;
        snprintf(path, sizeof path, "%s/.aws/credentials", home);
        file = path;
    }
    const char *profile = env("AWS_PROFILE");
    if (profile == NULL || !*profile)
        profile = "default";
    FILE *fp = fopen(file, "r");
    if (fp == NULL) {
        if (explicit_file) {
            snprintf(why, whylen, "cannot read AWS_SHARED_CREDENTIALS_FILE %.900s", file);
            return PG_EINVAL;
        }
        return PG_OK;
    }
    file_ctx fc = {.c = c, .profile = profile};
    int line = ini_parse_file(fp, on_entry, &fc);
    fclose(fp);
    if (line != 0) {
        snprintf(why, whylen, "%.900s:%d: not a valid credentials file", file, line);
        pg_creds_clear(c);
        return PG_EINVAL;
    }
    if (!fc.found) {
        if (explicit_file || strcmp(profile, "default") != 0) {
            snprintf(why, whylen, "profile '%.200s' not found in %.700s", profile, file);
            return PG_EINVAL;
        }
        return PG_OK;
    }
    if (!c->access_key[0] || !c->secret_key[0]) {
        snprintf(why, whylen, "profile '%.200s' in %.700s lacks aws_access_key_id or aws_secret_access_key", profile,
                 file);
        pg_creds_clear(c);
        return PG_EINVAL;
    }
    snprintf(c->source, sizeof c->source, "%.200s [%.50s]", file, profile);
    c->present = true;
    return PG_OK;
}

void pg_creds_describe(const pg_creds *c, char *out, size_t outlen)
{
    if (!c->present) {
        snprintf(out, outlen, "none (upstream requests are sent unsigned)");
        return;
    }
    snprintf(out, outlen, "%.4s**** from %s%s", c->access_key, c->source, c->session_token[0] ? " with session token" : "");
}

void pg_creds_clear(pg_creds *c)
{
    OPENSSL_cleanse(c, sizeof *c);
}
