/*
 * apierr.c: the error table and the rest-json error body. boto3 reads the modeled `message`
 * field in lowercase only, and the error code from x-amzn-ErrorType; __type is sent as well
 * because other SDKs read the code from the body.
 */
#include "profgate/apierr.h"
#include "profgate/jsonw.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *name;
    int status;
} table[PG_AE_COUNT] = {
#define PG_X(e, name, status) [PG_AE_##e] = {name, status},
    PG_APIERR_TABLE(PG_X)
#undef PG_X
};

const char *pg_apierr_name(pg_apierr_kind kind)
{
    PG_ASSERT(kind < PG_AE_COUNT);
    return table[kind].name;
}

int pg_apierr_status(pg_apierr_kind kind)
{
    PG_ASSERT(kind < PG_AE_COUNT);
    return table[kind].status;
}

void pg_apierr_set(pg_apierr *e, pg_apierr_kind kind, const char *fmt, ...)
{
    e->kind = kind;
    e->retry_after_ms = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

int64_t pg_apierr_retry_after(const pg_apierr *e)
{
    if (e->kind != PG_AE_THROTTLING && e->kind != PG_AE_UNAVAILABLE)
        return 0;
    return e->retry_after_ms > 0 ? e->retry_after_ms : 1000;
}

int pg_apierr_body(pg_buf *b, const pg_apierr *e)
{
    int rc = pg_buf_puts(b, "{\"message\":");
    if (rc == PG_OK)
        rc = pg_json_cstr(b, e->message);
    if (rc == PG_OK)
        rc = pg_buf_puts(b, ",\"__type\":");
    if (rc == PG_OK)
        rc = pg_json_cstr(b, pg_apierr_name(e->kind));
    if (rc == PG_OK)
        rc = pg_buf_puts(b, "}");
    return rc;
}
