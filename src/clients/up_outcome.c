/*
 * up_outcome.c: the meaning of an upstream attempt (see up_outcome.h). The rules follow the
 * service's error contract (docs/CONTRACT.md, "Errors"): throttling (429, or a
 * ThrottlingException under any status) and server errors are retried; client errors are the
 * caller's to fix and are passed on in their own kind; a body over the size limit is the
 * upstream's fault but would only be too large again, so it is not retried.
 */
#include "profgate/up_outcome.h"

#include <string.h>

static pg_up_outcome client_error(long status, const char *errtype)
{
    pg_up_outcome o = {.cls = PG_UPC_CLIENT_ERROR, .kind = PG_AE_INTERNAL};
    if (status == 400 || strcmp(errtype, "ValidationException") == 0)
        o.kind = PG_AE_VALIDATION;
    else if (status == 404)
        o.kind = PG_AE_NOT_FOUND;
    else if (status == 401 || status == 403)
        o.kind = PG_AE_ACCESS_DENIED;
    return o;
}

pg_up_outcome pg_up_classify(pg_up_transport t, long status, const char *errtype)
{
    switch (t) {
    case PG_UPT_TOO_LARGE:
        return (pg_up_outcome){.cls = PG_UPC_SERVER_ERROR, .kind = PG_AE_INTERNAL};
    case PG_UPT_TIMEOUT:
        return (pg_up_outcome){.cls = PG_UPC_TIMEOUT, .retry = true, .breaker_failure = true,
                               .kind = PG_AE_UNAVAILABLE};
    case PG_UPT_CONNECT:
        return (pg_up_outcome){.cls = PG_UPC_CONNECTION_ERROR, .retry = true, .breaker_failure = true,
                               .kind = PG_AE_UNAVAILABLE};
    case PG_UPT_DONE:
        break;
    }
    if (status >= 200 && status < 300)
        return (pg_up_outcome){.cls = PG_UPC_OK};
    if (status == 429 || strcmp(errtype, "ThrottlingException") == 0)
        return (pg_up_outcome){.cls = PG_UPC_THROTTLED, .retry = true, .throttled = true,
                               .kind = PG_AE_THROTTLING};
    if (status >= 500)
        return (pg_up_outcome){.cls = PG_UPC_SERVER_ERROR, .retry = true, .breaker_failure = true,
                               .kind = status == 503 ? PG_AE_UNAVAILABLE : PG_AE_INTERNAL};
    return client_error(status, errtype);
}
