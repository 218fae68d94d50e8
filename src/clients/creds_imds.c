/*
 * creds_imds.c: EC2 instance metadata, IMDSv2 only: PUT a session token, GET the role's name,
 * GET its credentials (three phases of one step), never a request without the token.
 */
#include "credsrc_int.h"
#include "profgate/credparse.h"

#include <stdio.h>
#include <string.h>

#define IMDS_TOKEN_TTL "21600"

void cs_imds_start(pg_credsrc *s, const pg_cred_step *st)
{
    char url[1300];
    bool ok;
    if (s->phase == 0) {
        snprintf(url, sizeof url, "%s/latest/api/token", st->url);
        ok = cs_header(s, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL) &&
             cs_http(s, "PUT", url, st->timeout_ms, true);
    } else {
        snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", st->url,
                 s->phase == 2 ? s->imds_role : "");
        ok = cs_header(s, "X-aws-ec2-metadata-token: %s", s->imds_token) &&
             cs_http(s, "GET", url, st->timeout_ms, true);
    }
    if (!ok) {
        cs_release(s);
        cs_failed(s, "could not start the instance metadata request");
    }
}

void cs_imds_answer(pg_credsrc *s, const pg_cred_step *st)
{
    (void)st;
    if (s->status != 200) {
        cs_failed(s, "instance metadata answered HTTP %ld", s->status);
        return;
    }
    if (s->phase < 2) {
        if (!pg_cred_parse_word(s->body.data, s->body.len, s->phase == 0 ? s->imds_token : s->imds_role,
                                s->phase == 0 ? sizeof s->imds_token : sizeof s->imds_role)) {
            cs_failed(s, "instance metadata answered no usable %s", s->phase == 0 ? "token" : "role name");
            return;
        }
        s->phase++;
        cs_run_step(s);
        return;
    }
    char why[300];
    pg_creds got;
    memset(s->imds_token, 0, sizeof s->imds_token);
    if (pg_cred_parse_json(s->body.data ? s->body.data : "", s->body.len, PG_CRED_JSON_IMDS, &got, why, sizeof why) !=
        PG_OK) {
        cs_failed(s, "instance metadata: %s", why);
        return;
    }
    cs_step_done(s, &got);
}
