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
    PG_ASSERT(uv_signal_init(loop, &s->term) == 0 && uv_signal_init(loop, &s->intr) == 0);
    s->term.data = s->intr.data = s;
    PG_ASSERT(uv_signal_start(&s->term, on_signal, SIGTERM) == 0);
    PG_ASSERT(uv_signal_start(&s->intr, on_signal, SIGINT) == 0);
}

void pg_stop_signals_stop(pg_stop_signals *s)
{
    uv_signal_stop(&s->term);
    uv_signal_stop(&s->intr);
}

void pg_stop_signals_close(pg_stop_signals *s)
{
    uv_close((uv_handle_t *)&s->term, NULL);
    uv_close((uv_handle_t *)&s->intr, NULL);
}
