/*
 * sigv4.h: AWS Signature Version 4 (CONTRACT §4) with OpenSSL: canonical request,
 * string to sign, signature and Authorization header for requests profgate sends, and
 * verification of requests it receives. Canonicalization follows botocore's SigV4Auth (paths are
 * dot-segment-normalized and URI-encoded once more, query pairs are sorted as sent, header
 * values are trimmed with inner whitespace collapsed). Pure: "now" is an argument; secrets are
 * only ever passed in, never logged.
 */
#ifndef PG_SIGV4_H
#define PG_SIGV4_H

#include "profgate/apierr.h"
#include "profgate/buf.h"
#include "profgate/http_parse.h"
#include "profgate/query.h"

#define PG_SHA256_HEX_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct pg_sigv4_input {
    const char *method;
    pg_slice path;  /* as sent on the wire (already percent-encoded) */
    pg_slice query; /* as sent on the wire */
    const pg_http_header *headers; /* exactly the headers to sign; names in any case */
    size_t nheaders;
    const char *payload_hash;      /* hex SHA-256 of the body */
    const char *amz_date;          /* YYYYMMDDTHHMMSSZ */
    const char *region;
    const char *service;
} pg_sigv4_input;

void pg_sha256_hex(const void *data, size_t len, char out[65]);

/** Appends the canonical request. */
int pg_sigv4_canonical_request(const pg_sigv4_input *in, pg_buf *out);
/** Appends the string to sign for a canonical request. */
int pg_sigv4_string_to_sign(const pg_sigv4_input *in, const char *canonical, size_t len, pg_buf *out);
/** Computes the hex signature with the secret key. */
int pg_sigv4_signature(const pg_sigv4_input *in, const char *secret, char out[65]);
/** Appends the Authorization header value. */
int pg_sigv4_authorization(const pg_sigv4_input *in, const char *access_key, const char *secret, pg_buf *out);

/**
 * The Host header SigV4 signs for an endpoint URL "http(s)://HOST[:PORT]" (a default port is not
 * part of it). PG_OK, or PG_EINVAL when the URL is not http(s) with a host and, unless
 * allow_path, no path.
 */
int pg_sigv4_host(const char *url, bool allow_path, char *out, size_t cap);

/** Formats an instant as the 16-character X-Amz-Date (YYYYMMDDTHHMMSSZ). */
void pg_amz_date(int64_t ns, char out[17]);

/* ---- verification of incoming requests ---- */

typedef enum {
    PG_SIGV4_OK = 0,
    PG_SIGV4_MISSING,        /* no Authorization header */
    PG_SIGV4_MALFORMED,      /* unparseable Authorization or X-Amz-Date */
    PG_SIGV4_UNKNOWN_KEY,    /* access key not recognized */
    PG_SIGV4_BAD_SCOPE,      /* wrong service, region, date or terminator in the credential scope */
    PG_SIGV4_BAD_HEADERS,    /* host or x-amz-date not signed, or a signed header absent */
    PG_SIGV4_EXPIRED,        /* X-Amz-Date more than 15 minutes from now */
    PG_SIGV4_MISMATCH        /* the signature does not match */
} pg_sigv4_result;

/** Looks up the secret for an access key; NULL when unknown. */
typedef const char *(*pg_sigv4_secret_fn)(void *ctx, const char *access_key, size_t len);

typedef struct pg_sigv4_verify_cfg {
    const char *service;  /* required scope service, e.g. "codeguru-profiler" */
    const char *region;   /* required scope region, or NULL for any */
    const char *hosts;    /* the Host values accepted, comma-separated (case-insensitive), or NULL for any */
    int64_t max_skew_ns;  /* 15 minutes */
    pg_sigv4_secret_fn secret_for;
    void *ctx;
} pg_sigv4_verify_cfg;

/**
 * Verifies a received request's signature (its payload hash is the body's; an
 * x-amz-content-sha256 header must agree with it). On failure, why gets a message in the
 * service's words; the access key id is copied into akid (for logs; never the secret).
 */
pg_sigv4_result pg_sigv4_verify(const pg_sigv4_verify_cfg *cfg, const pg_http_head *h, int64_t now_ns,
                                char *why, size_t whylen, char akid[129]);

/** The error AWS answers a failed verification with: MissingAuthenticationTokenException,
 * UnrecognizedClientException, or InvalidSignatureException for everything else. */
pg_apierr_kind pg_sigv4_error_kind(pg_sigv4_result r);

#endif
