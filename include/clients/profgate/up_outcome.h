/*
 * up_outcome.h: what one upstream attempt's result means, as a pure function of the transport
 * result, the HTTP status and the AWS error type: which counter it goes to, whether another
 * attempt is worth it, whether it counts against the circuit breaker, and which API error the
 * client gets if it was the last attempt. The upstream client only carries the decision out, so
 * the rules are table-tested without a network (tests/unit/test_up_outcome.c).
 */
#ifndef PG_UP_OUTCOME_H
#define PG_UP_OUTCOME_H

#include "profgate/apierr.h"

/* How the transfer itself ended, before any HTTP meaning. */
typedef enum {
    PG_UPT_DONE,      /* a complete HTTP response arrived */
    PG_UPT_TOO_LARGE, /* the body passed upstream.max_response */
    PG_UPT_TIMEOUT,   /* the attempt's timeout expired */
    PG_UPT_CONNECT,   /* any other transport failure: DNS, refused, reset, TLS */
} pg_up_transport;

/* The counter an attempt goes to (pg_upstream_stats and the metrics' result label). */
typedef enum {
    PG_UPC_OK,
    PG_UPC_THROTTLED,
    PG_UPC_SERVER_ERROR,
    PG_UPC_TIMEOUT,
    PG_UPC_CONNECTION_ERROR,
    PG_UPC_CLIENT_ERROR,
} pg_up_class;

typedef struct pg_up_outcome {
    pg_up_class cls;
    bool retry;           /* another attempt may succeed (if the deadline and retries allow) */
    bool breaker_failure; /* counts towards opening the breaker (throttling never does) */
    bool throttled;       /* lowers the pacing rate (AIMD) */
    pg_apierr_kind kind;  /* the client's error if this was the last attempt (unused when ok) */
} pg_up_outcome;

/** Classifies one attempt. errtype is the response's AWS error type ("" when none). */
pg_up_outcome pg_up_classify(pg_up_transport t, long status, const char *errtype);

#endif
