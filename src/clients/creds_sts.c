/*
 * creds_sts.c: the STS steps of a credentials plan: AssumeRoleWithWebIdentity (unsigned, with
 * the token file read again each time) and AssumeRole (SigV4, service sts, signed with the
 * previous step's credentials). The query protocol: a form-encoded POST, an XML answer.
 */
#include "credsrc_int.h"
#include "profgate/clock.h"
#include "profgate/credparse.h"
#include "profgate/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* STS answers within seconds; a slower one is treated as failed and retried. */
#define STS_TIMEOUT_MS 10000

/* Appends name=value, form-encoded (RFC 3986 unreserved characters stay; SigV4 signs the body's
 * hash, so any consistent encoding is fine). */
static int form(pg_buf *b, const char *name, const char *value)
{
    int rc = pg_buf_printf(b, "%s%s=", b->len ? "&" : "", name);
    for (const unsigned char *p = (const unsigned char *)value; rc == PG_OK && *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
            rc = pg_buf_append(b, p, 1);
        else
            rc = pg_buf_printf(b, "%%%02X", *p);
    }
    return rc;
}

void cs_sts_start(pg_credsrc *s, const pg_cred_step *st)
{
    char host[300];
    if (pg_sigv4_host(s->plan->sts_endpoint, true, host, sizeof host) != PG_OK) {
        cs_failed(s, "STS endpoint %.200s is not a URL", s->plan->sts_endpoint);
        return;
    }
    pg_buf_reset(&s->post);
    char dur[16] = "";
    if (st->duration_s)
        snprintf(dur, sizeof dur, "%u", st->duration_s);
    int rc;
    if (st->kind == PG_CRED_WEB_IDENTITY) {
        char *tok = malloc(TOKEN_FILE_MAX + 1);
        PG_ASSERT(tok != NULL);
        if (!cs_token_file(s, st->path, tok, TOKEN_FILE_MAX + 1)) {
            free(tok);
            return;
        }
        rc = form(&s->post, "Action", "AssumeRoleWithWebIdentity");
        rc = rc ?: form(&s->post, "RoleArn", st->role_arn);
        rc = rc ?: form(&s->post, "RoleSessionName", st->session_name);
        rc = rc ?: form(&s->post, "WebIdentityToken", tok);
        memset(tok, 0, TOKEN_FILE_MAX + 1);
        free(tok);
    } else {
        rc = form(&s->post, "Action", "AssumeRole");
        rc = rc ?: form(&s->post, "RoleArn", st->role_arn);
        rc = rc ?: form(&s->post, "RoleSessionName", st->session_name);
        if (st->external_id[0])
            rc = rc ?: form(&s->post, "ExternalId", st->external_id);
    }
    if (dur[0])
        rc = rc ?: form(&s->post, "DurationSeconds", dur);
    rc = rc ?: form(&s->post, "Version", "2011-06-15");
    static const char ctype[] = "application/x-www-form-urlencoded; charset=utf-8";
    char amz_date[17];
    pg_amz_date(pg_realtime_ns(), amz_date);
    bool ok = rc == PG_OK && cs_header(s, "Content-Type: %s", ctype) && cs_header(s, "Accept: text/xml");
    if (ok && st->kind == PG_CRED_ASSUME_ROLE) {
        /* Signed with the previous step's credentials: the hop's caller. */
        const pg_creds *by = &s->work;
        pg_http_header h[4] = {{"host", 4, host, strlen(host)},
                               {"content-type", 12, ctype, sizeof ctype - 1},
                               {"x-amz-date", 10, amz_date, 16}};
        size_t nh = 3;
        if (by->session_token[0])
            h[nh++] = (pg_http_header){"x-amz-security-token", 20, by->session_token, strlen(by->session_token)};
        char hash[65];
        pg_sha256_hex(s->post.data, s->post.len, hash);
        pg_sigv4_input in = {.method = "POST", .path = {"/", 1}, .query = {"", 0}, .headers = h, .nheaders = nh,
                             .payload_hash = hash, .amz_date = amz_date, .region = s->plan->sts_region,
                             .service = "sts"};
        pg_buf auth;
        pg_buf_init(&auth, 2048);
        ok = pg_sigv4_authorization(&in, by->access_key, by->secret_key, &auth) == PG_OK &&
             pg_buf_append(&auth, "", 1) == PG_OK && cs_header(s, "Authorization: %s", auth.data) &&
             cs_header(s, "X-Amz-Date: %s", amz_date) &&
             (!by->session_token[0] || cs_header(s, "X-Amz-Security-Token: %s", by->session_token));
        pg_buf_free(&auth);
    }
    char url[600];
    snprintf(url, sizeof url, "%s/", s->plan->sts_endpoint);
    if (!ok || !cs_http(s, "POST", url, STS_TIMEOUT_MS, false)) {
        cs_release(s);
        cs_failed(s, "could not start the STS request");
    }
}

void cs_sts_answer(pg_credsrc *s, const pg_cred_step *st)
{
    char why[300];
    pg_creds got;
    if (pg_cred_parse_sts(s->body.data ? s->body.data : "", s->body.len, &got, why, sizeof why) != PG_OK) {
        /* STS's own error says most; without one, the status does. */
        if (s->status != 200 && strncmp(why, "STS ", 4) != 0)
            cs_failed(s, "STS answered HTTP %ld for %.200s", s->status, st->role_arn);
        else
            cs_failed(s, "%s (HTTP %ld) for %.200s", why, s->status, st->role_arn);
        return;
    }
    cs_step_done(s, &got);
}
