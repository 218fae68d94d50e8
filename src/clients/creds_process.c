/*
 * creds_process.c: credential_process: the command runs with /bin/sh -c (uv_spawn, stdin closed,
 * stderr to profgate's), its stdout (at most a credentials document's size) is parsed when it has
 * both exited and closed its output, and it is killed after a minute.
 */
#include "credsrc_int.h"
#include "profgate/credparse.h"
#include "profgate/log.h"

#include <signal.h>
#include <string.h>

/* The SDKs give credential_process a minute. */
#define PROCESS_TIMEOUT_MS 60000

static void process_finished(pg_credsrc *s)
{
    if (s->proc_running || s->out_open)
        return; /* both the exit and the end of its output */
    uv_timer_stop(&s->proc_timer);
    if (s->closing)
        return;
    pg_creds got;
    char why[300];
    const pg_cred_step *st = &s->plan->steps[s->step];
    int rc = s->proc_status == 0 ? pg_cred_parse_json(s->body.data ? s->body.data : "", s->body.len,
                                                      PG_CRED_JSON_PROCESS, &got, why, sizeof why)
                                 : PG_EINVAL;
    if (s->body.data != NULL)
        memset(s->body.data, 0, s->body.len); /* the output held the secret */
    pg_buf_reset(&s->body);
    if (s->proc_status != 0)
        cs_failed(s, "credential_process (%s) exited with status %lld", st->origin, (long long)s->proc_status);
    else if (rc != PG_OK)
        cs_failed(s, "credential_process (%s): %s", st->origin, why);
    else
        cs_step_done(s, &got);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int term_signal)
{
    pg_credsrc *s = p->data;
    s->proc_status = term_signal ? 128 + term_signal : status;
    s->proc_running = false;
    uv_close((uv_handle_t *)p, cs_handle_closed);
    process_finished(s);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    static char scratch[16384];
    (void)suggested;
    *buf = uv_buf_init(scratch, sizeof scratch);
}

static void on_out_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    pg_credsrc *s = st->data;
    if (n > 0 && pg_buf_append(&s->body, buf->base, (size_t)n) != PG_OK) {
        /* more output than any credentials document: stop reading, the exit reports it */
        pg_buf_reset(&s->body);
        uv_process_kill(&s->proc, SIGKILL);
        n = UV_EOF;
    }
    if (n > 0)
        memset(buf->base, 0, (size_t)n);
    if (n < 0) {
        s->out_open = false;
        uv_close((uv_handle_t *)&s->out, cs_handle_closed);
        process_finished(s);
    }
}

static void on_proc_timeout(uv_timer_t *t)
{
    pg_credsrc *s = t->data;
    if (s->proc_running) {
        pg_log(PG_LOG_WARN, "credentials: credential_process ran longer than %d s; killing it", PROCESS_TIMEOUT_MS / 1000);
        uv_process_kill(&s->proc, SIGKILL);
    }
}

void cs_process_start(pg_credsrc *s, const pg_cred_step *st)
{
    PG_CHECK_UV(uv_pipe_init(s->loop, &s->out, 0));
    s->out.data = s;
    char *argv[] = {"/bin/sh", "-c", (char *)st->command, NULL};
    uv_stdio_container_t io[3] = {{.flags = UV_IGNORE},
                                  {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&s->out},
                                  {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t o = {.exit_cb = on_proc_exit, .file = argv[0], .args = argv, .stdio = io, .stdio_count = 3};
    pg_buf_reset(&s->body);
    s->proc.data = s;
    int rc = uv_spawn(s->loop, &s->proc, &o);
    s->open_handles += 2; /* the process and the pipe: closed, and counted down, separately */
    s->out_open = true;
    if (rc != 0) {
        /* libuv initialized the handle: it must be closed all the same */
        uv_close((uv_handle_t *)&s->proc, cs_handle_closed);
        s->out_open = false;
        uv_close((uv_handle_t *)&s->out, cs_handle_closed);
        cs_failed(s, "cannot run credential_process: %s", uv_strerror(rc));
        return;
    }
    s->proc_running = true;
    PG_CHECK_UV(uv_read_start((uv_stream_t *)&s->out, on_alloc, on_out_read));
    PG_CHECK_UV(uv_timer_start(&s->proc_timer, on_proc_timeout, PROCESS_TIMEOUT_MS, 0));
}

