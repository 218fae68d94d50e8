/*
 * credsrc_int.h: the credentials provider's insides, shared by credsrc.c (the schedule, the steps
 * in order, HTTP exchanges, token files, the object's life) and the one file per kind of step:
 * creds_sts.c (AssumeRoleWithWebIdentity, AssumeRole), creds_container.c, creds_imds.c and
 * creds_process.c. Private to the clients layer.
 */
#ifndef PG_CREDSRC_INT_H
#define PG_CREDSRC_INT_H

#include "profgate/credsrc.h"
#include "curl_uv.h"
#include "profgate/buf.h"

#include <curl/curl.h>

/* Token files hold a JWT or an opaque token: a few kilobytes at most. */
#define TOKEN_FILE_MAX (16 << 10)

#define CREDSRC_MAGIC 0x63727372u /* "crsr" */

struct pg_credsrc {
    uint32_t magic;
    uv_loop_t *loop;
    pg_cred_plan *plan;
    char ca_bundle[1024];
    pg_credsched sched;
    pg_creds cur;        /* what signs (while the schedule says it is usable) */
    pg_creds work;       /* the fetch in progress: each step's result, the next hop's signer */
    size_t step;
    int phase;           /* IMDS: 0 token, 1 role name, 2 credentials */
    char imds_token[128];
    char imds_role[128];
    pg_curl_uv *curl;    /* NULL once closed */
    CURL *easy;          /* reused for each exchange */
    bool inflight;       /* easy is in the multi handle */
    struct curl_slist *hdrs;
    pg_buf body;         /* its answer */
    pg_buf post;         /* its request body (may hold a token: wiped after) */
    long status;
    uv_timer_t timer;    /* the next fetch */
    uv_timer_t proc_timer; /* credential_process's time limit */
    uv_process_t proc;
    uv_pipe_t out;
    bool proc_running, out_open, proc_exited;
    int64_t proc_status;
    int open_handles;
    bool closing;
    void (*watch)(void *);
    void *watch_data;
    void (*closed)(void *);
    void *closed_data;
    uint64_t failures;
    char last_error[300];
};

/* From credsrc.c, for the steps. */
/** The fetch failed: the reason is logged and kept (never a secret); a retry is scheduled. */
void cs_failed(pg_credsrc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** The current step yielded got (taken, and wiped from the caller): on to the next step. */
void cs_step_done(pg_credsrc *s, pg_creds *got);
/** Runs the current step again (its next phase). */
void cs_run_step(pg_credsrc *s);
/** Adds a request header for the next exchange. */
bool cs_header(pg_credsrc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Starts one exchange (s->post as the body if any); its answer comes to the step's answer
 *  function. link_local: never through a proxy. False when it cannot start. */
bool cs_http(pg_credsrc *s, const char *method, const char *url, unsigned timeout_ms, bool link_local);
/** Drops the next exchange's headers and wipes its body (they may hold tokens). */
void cs_release(pg_credsrc *s);
/** Reads a token file (it rotates: read at each fetch) with pg_line_file_read; false after cs_failed. */
bool cs_token_file(pg_credsrc *s, const char *path, char *out, size_t cap);
/** A handle of s closed (the pipe and process of creds_process.c). */
void cs_handle_closed(uv_handle_t *h);

/* The steps: start, and the answer to their exchange (body in s->body, status in s->status). */
void cs_sts_start(pg_credsrc *s, const pg_cred_step *st);
void cs_sts_answer(pg_credsrc *s, const pg_cred_step *st);
void cs_container_start(pg_credsrc *s, const pg_cred_step *st);
void cs_container_answer(pg_credsrc *s, const pg_cred_step *st);
void cs_imds_start(pg_credsrc *s, const pg_cred_step *st);
void cs_imds_answer(pg_credsrc *s, const pg_cred_step *st);
void cs_process_start(pg_credsrc *s, const pg_cred_step *st);

#endif
