/*
 * apierr.h: the API error kinds profgate (and the simulator) answer with, as one table: name,
 * HTTP status, and whether clients should retry. Also the JSON body of an AWS rest-json error.
 * It does not send anything; the HTTP layer puts status, x-amzn-ErrorType and body on the wire.
 */
#ifndef PG_APIERR_H
#define PG_APIERR_H

#include "profgate/buf.h"

/* X(enum, wire name, status) — the wire name is the bare shape name boto3 maps to a modeled
 * exception, never namespaced (docs/CONTRACT.md §2). */
#define PG_APIERR_TABLE(X)                                              \
    X(VALIDATION, "ValidationException", 400)                           \
    X(BAD_REQUEST, "BadRequestException", 400)                          \
    X(ACCESS_DENIED, "AccessDeniedException", 403)                      \
    X(INVALID_SIGNATURE, "InvalidSignatureException", 403)              \
    X(UNRECOGNIZED_CLIENT, "UnrecognizedClientException", 403)          \
    X(MISSING_AUTH, "MissingAuthenticationTokenException", 403)         \
    X(EXPIRED_TOKEN, "ExpiredTokenException", 403)                      \
    X(NOT_FOUND, "ResourceNotFoundException", 404)                      \
    X(UNKNOWN_OPERATION, "UnknownOperationException", 404)              \
    X(METHOD_NOT_ALLOWED, "MethodNotAllowedException", 405)             \
    X(CONFLICT, "ConflictException", 409)                               \
    X(QUOTA_EXCEEDED, "ServiceQuotaExceededException", 402)             \
    X(REQUEST_TIMEOUT, "RequestTimeoutException", 408)                  \
    X(PAYLOAD_TOO_LARGE, "PayloadTooLargeException", 413)               \
    X(URI_TOO_LONG, "UriTooLongException", 414)                         \
    X(THROTTLING, "ThrottlingException", 429)                           \
    X(HEADERS_TOO_LARGE, "RequestHeaderFieldsTooLargeException", 431)   \
    X(INTERNAL, "InternalServerException", 500)                         \
    X(NOT_IMPLEMENTED, "NotImplementedException", 501)                  \
    X(UNAVAILABLE, "ServiceUnavailableException", 503)

typedef enum {
#define PG_X(e, name, status) PG_AE_##e,
    PG_APIERR_TABLE(PG_X)
#undef PG_X
    PG_AE_COUNT
} pg_apierr_kind;

#define PG_APIERR_MSG_MAX 512

typedef struct pg_apierr {
    pg_apierr_kind kind;
    char message[PG_APIERR_MSG_MAX];
    int64_t retry_after_ms; /* when retrying may succeed, if known (0: unknown); see pg_apierr_retry_after */
} pg_apierr;

const char *pg_apierr_name(pg_apierr_kind kind);
int pg_apierr_status(pg_apierr_kind kind);
/** Fills e; the message is truncated (never overflowed) at PG_APIERR_MSG_MAX - 1 bytes. */
void pg_apierr_set(pg_apierr *e, pg_apierr_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/**
 * For answers a client should retry (429 throttling, 503 unavailable): how long to wait, in
 * milliseconds: the producer's estimate when it set one, else one second. 0: not retryable.
 * Sent as Retry-After (whole seconds, rounded up) and x-amz-retry-after (milliseconds).
 */
int64_t pg_apierr_retry_after(const pg_apierr *e);

/** Appends the rest-json error body {"message":"...","__type":"Name"}. */
int pg_apierr_body(pg_buf *b, const pg_apierr *e);

#endif
