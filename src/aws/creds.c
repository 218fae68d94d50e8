/*
 * creds.c: what every credentials provider shares: bounded copies, a description safe for logs,
 * and wiping secrets when their lifetime ends.
 */
#include "profgate/creds.h"
#include "profgate/iso8601.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

bool pg_creds_copy(char *dst, size_t cap, const char *src, size_t len)
{
    if (src == NULL || len >= cap || memchr(src, '\0', len) != NULL)
        return false;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return true;
}

void pg_creds_describe(const pg_creds *c, char *out, size_t outlen)
{
    if (!c->present) {
        snprintf(out, outlen, "none");
        return;
    }
    char exp[PG_TS_FMT_MAX] = "";
    if (c->expires_ns != 0)
        pg_ts_format(c->expires_ns, exp, sizeof exp);
    snprintf(out, outlen, "%.4s****%s%s%s", c->access_key, c->session_token[0] ? " with session token" : "",
             exp[0] ? ", expires " : "", exp);
}

void pg_creds_clear(pg_creds *c)
{
    OPENSSL_cleanse(c, sizeof *c);
}
