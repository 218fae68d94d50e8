/*
 * creds_container.c: the container credentials endpoint (ECS task roles, EKS Pod Identity): one
 * GET with the authorization token, read again from its file each time (Pod Identity rotates it).
 */
#include "credsrc_int.h"
#include "profgate/credparse.h"

#include <stdlib.h>
#include <string.h>

void cs_container_start(pg_credsrc *s, const pg_cred_step *st)
{
    bool ok = true;
    if (st->path[0]) {
        char *tok = malloc(TOKEN_FILE_MAX + 1);
        PG_ASSERT(tok != NULL);
        if (!cs_token_file(s, st->path, tok, TOKEN_FILE_MAX + 1)) {
            free(tok);
            return;
        }
        ok = cs_header(s, "Authorization: %s", tok);
        memset(tok, 0, TOKEN_FILE_MAX + 1);
        free(tok);
    } else if (st->token[0]) {
        ok = cs_header(s, "Authorization: %s", st->token);
    }
    if (!ok || !cs_http(s, "GET", st->url, st->timeout_ms, true)) {
        cs_release(s);
        cs_failed(s, "could not start the container credentials request");
    }
}

void cs_container_answer(pg_credsrc *s, const pg_cred_step *st)
{
    (void)st;
    char why[300];
    pg_creds got;
    if (s->status != 200) {
        cs_failed(s, "container endpoint answered HTTP %ld", s->status);
        return;
    }
    if (pg_cred_parse_json(s->body.data ? s->body.data : "", s->body.len, PG_CRED_JSON_CONTAINER, &got, why,
                           sizeof why) != PG_OK) {
        cs_failed(s, "container endpoint: %s", why);
        return;
    }
    cs_step_done(s, &got);
}
