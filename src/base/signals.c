/*
 * signals.c: two uv_signal_t handles and one callback. The handles live in the caller's struct,
 * which outlives the loop, so closing needs no callback of its own.
 */
#include "profgate/signals.h"

#include <signal.h>

static void on_signal(uv_signal_t *h, int signum)
{
    pg_stop_signals *s = h->data;
    s->cb(s->data, signum);
}

void pg_stop_signals_start(pg_stop_signals *s, uv_loop_t *loop, pg_stop_cb cb, void *data)
{
    s->cb = cb;
    s->data = data;
    PG_CHECK_UV(uv_signal_init(loop, &s->term));
    PG_CHECK_UV(uv_signal_init(loop, &s->intr));
    s->term.data = s->intr.data = s;
    PG_CHECK_UV(uv_signal_start(&s->term, on_signal, SIGTERM));
    PG_CHECK_UV(uv_signal_start(&s->intr, on_signal, SIGINT));
}

void pg_stop_signals_stop(pg_stop_signals *s)
{
    PG_CHECK_UV(uv_signal_stop(&s->term));
    PG_CHECK_UV(uv_signal_stop(&s->intr));
}

void pg_stop_signals_close(pg_stop_signals *s)
{
    uv_close((uv_handle_t *)&s->term, NULL);
    uv_close((uv_handle_t *)&s->intr, NULL);
}
