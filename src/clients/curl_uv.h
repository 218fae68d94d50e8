/*
 * curl_uv.h: libcurl's multi interface driven by a libuv loop (curl's "multi_socket" model), the
 * glue between the two libraries and nothing else. It knows no HTTP semantics: the upstream
 * client adds easy handles and is told when each finishes. Private to the clients layer.
 */
#ifndef PG_CURL_UV_H
#define PG_CURL_UV_H

#include "profgate/common.h"

#include <curl/curl.h>
#include <uv.h>

typedef struct pg_curl_uv pg_curl_uv;

/** A transfer finished (already removed from the multi handle); res is curl's result. */
typedef void (*pg_curl_uv_done_cb)(void *data, CURL *easy, CURLcode res);
/** Runs after every batch of socket actions and their completions (the owner starts more work). */
typedef void (*pg_curl_uv_after_cb)(void *data);

/** A multi handle on loop; NULL when curl or libuv cannot give one. */
pg_curl_uv *pg_curl_uv_new(uv_loop_t *loop, pg_curl_uv_done_cb done, pg_curl_uv_after_cb after, void *data);
/** The multi handle, for options (connection limits, multiplexing). */
CURLM *pg_curl_uv_multi(pg_curl_uv *cu);
/** Starts a transfer; PG_EIO when curl refuses it. */
int pg_curl_uv_add(pg_curl_uv *cu, CURL *easy);
/** Stops a transfer that has not finished; its done callback will not run. */
void pg_curl_uv_remove(pg_curl_uv *cu, CURL *easy);
/**
 * Cleans up the multi handle (every transfer must have been removed) and closes the timer and
 * the poll handles; closed(data) runs once all are closed and the object is freed.
 */
void pg_curl_uv_close(pg_curl_uv *cu, void (*closed)(void *data), void *data);

#endif
