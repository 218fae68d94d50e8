/* Unit tests for up_outcome.c: one table row per kind of attempt result, checked against every
 * field of the decision (counter, retry, breaker, AIMD, client error), so a change to the rules
 * shows as a changed row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "profgate/up_outcome.h"

typedef struct row {
    pg_up_transport t;
    long status;
    const char *errtype;
    pg_up_class cls;
    bool retry, breaker, throttled;
    pg_apierr_kind kind; /* ignored for PG_UPC_OK */
} row;

static const row rows[] = {
    /* Success, whatever 2xx. */
    {PG_UPT_DONE, 200, "", PG_UPC_OK, false, false, false, 0},
    {PG_UPT_DONE, 204, "", PG_UPC_OK, false, false, false, 0},
    /* Throttling: by status, or by error type under another status; never the breaker's business. */
    {PG_UPT_DONE, 429, "", PG_UPC_THROTTLED, true, false, true, PG_AE_THROTTLING},
    {PG_UPT_DONE, 429, "ThrottlingException", PG_UPC_THROTTLED, true, false, true, PG_AE_THROTTLING},
    {PG_UPT_DONE, 400, "ThrottlingException", PG_UPC_THROTTLED, true, false, true, PG_AE_THROTTLING},
    /* Server errors: retried, counted by the breaker; 503 stays "unavailable". */
    {PG_UPT_DONE, 500, "InternalServerException", PG_UPC_SERVER_ERROR, true, true, false, PG_AE_INTERNAL},
    {PG_UPT_DONE, 502, "", PG_UPC_SERVER_ERROR, true, true, false, PG_AE_INTERNAL},
    {PG_UPT_DONE, 503, "ServiceUnavailableException", PG_UPC_SERVER_ERROR, true, true, false, PG_AE_UNAVAILABLE},
    /* Client errors: the caller's to fix, passed on in their own kind, never retried. */
    {PG_UPT_DONE, 400, "ValidationException", PG_UPC_CLIENT_ERROR, false, false, false, PG_AE_VALIDATION},
    {PG_UPT_DONE, 400, "", PG_UPC_CLIENT_ERROR, false, false, false, PG_AE_VALIDATION},
    {PG_UPT_DONE, 422, "ValidationException", PG_UPC_CLIENT_ERROR, false, false, false, PG_AE_VALIDATION},
    {PG_UPT_DONE, 404, "ResourceNotFoundException", PG_UPC_CLIENT_ERROR, false, false, false, PG_AE_NOT_FOUND},
    {PG_UPT_DONE, 403, "AccessDeniedException", PG_UPC_CLIENT_ERROR, false, false, false, PG_AE_ACCESS_DENIED},
    {PG_UPT_DONE, 401, "", PG_UPC_CLIENT_ERROR, false, false, false, PG_AE_ACCESS_DENIED},
    {PG_UPT_DONE, 409, "ConflictException", PG_UPC_CLIENT_ERROR, false, false, false, PG_AE_INTERNAL},
    /* A 3xx is not followed: the API never redirects, so it is an unexpected answer. */
    {PG_UPT_DONE, 301, "", PG_UPC_CLIENT_ERROR, false, false, false, PG_AE_INTERNAL},
    /* Transport failures: retried, counted by the breaker, whatever status was seen. */
    {PG_UPT_TIMEOUT, 0, "", PG_UPC_TIMEOUT, true, true, false, PG_AE_UNAVAILABLE},
    {PG_UPT_CONNECT, 0, "", PG_UPC_CONNECTION_ERROR, true, true, false, PG_AE_UNAVAILABLE},
    {PG_UPT_CONNECT, 200, "", PG_UPC_CONNECTION_ERROR, true, true, false, PG_AE_UNAVAILABLE},
    /* A body over the limit would be too large again: not retried, not the breaker's. */
    {PG_UPT_TOO_LARGE, 200, "", PG_UPC_SERVER_ERROR, false, false, false, PG_AE_INTERNAL},
};

static void test_every_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row *r = &rows[i];
        pg_up_outcome o = pg_up_classify(r->t, r->status, r->errtype);
        char where[96];
        snprintf(where, sizeof where, "row %zu (transport %d, status %ld, '%s')", i, (int)r->t, r->status, r->errtype);
        if (o.cls != r->cls || o.retry != r->retry || o.breaker_failure != r->breaker || o.throttled != r->throttled ||
            (r->cls != PG_UPC_OK && o.kind != r->kind))
            fail_msg("%s: got class %d retry %d breaker %d throttled %d kind %d; want %d %d %d %d %d", where,
                     (int)o.cls, o.retry, o.breaker_failure, o.throttled, (int)o.kind, (int)r->cls, r->retry,
                     r->breaker, r->throttled, (int)r->kind);
    }
}

/* Invariants over the whole space, beyond the rows: throttling never opens the breaker, and
 * anything not retried that is not a success is a client error or a too-large body. */
static void test_invariants(void **state)
{
    (void)state;
    static const char *const types[] = {"", "ThrottlingException", "ValidationException", "X"};
    for (int t = PG_UPT_DONE; t <= PG_UPT_CONNECT; t++)
        for (long st = 0; st < 600; st++)
            for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
                pg_up_outcome o = pg_up_classify((pg_up_transport)t, st, types[k]);
                if (o.throttled)
                    assert_false(o.breaker_failure);
                if (o.cls == PG_UPC_OK)
                    assert_false(o.retry || o.breaker_failure || o.throttled);
                if (!o.retry && o.cls != PG_UPC_OK)
                    assert_true(o.cls == PG_UPC_CLIENT_ERROR || t == PG_UPT_TOO_LARGE);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row),
        cmocka_unit_test(test_invariants),
    };
    return cmocka_run_group_tests_name("up_outcome", tests, NULL, NULL);
}
