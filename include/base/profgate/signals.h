/*
 * signals.h: the stop signals (SIGTERM, SIGINT) on the loop, for both programs' mains. It only
 * wires the two libuv signal handles; what a signal means (graceful shutdown, a second signal)
 * is each program's policy, in its callback.
 */
#ifndef PG_SIGNALS_H
#define PG_SIGNALS_H

#include "profgate/common.h"

#include <uv.h>

typedef void (*pg_stop_cb)(void *data, int signum);

typedef struct pg_stop_signals {
    uv_signal_t term, intr;
    pg_stop_cb cb;
    void *data;
} pg_stop_signals;

/** Starts watching SIGTERM and SIGINT; cb(data, signum) runs on each. s must outlive the loop. */
void pg_stop_signals_start(pg_stop_signals *s, uv_loop_t *loop, pg_stop_cb cb, void *data);
/** Stops watching (a further signal gets its default action: the process ends at once). */
void pg_stop_signals_stop(pg_stop_signals *s);
/** Closes both handles, so the loop can end. */
void pg_stop_signals_close(pg_stop_signals *s);

#endif
