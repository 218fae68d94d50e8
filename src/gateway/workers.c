/*
 * workers.c: the supervisor's pure core (see workers.h). One setter moves a worker between
 * states and checks the move against the table; no I/O, time comes in as arguments.
 */
#include "profgate/workers.h"
#include "profgate/fsm.h"

#include <stdio.h>

static const char *const state_names[PG_WK_NSTATES] = {
    [PG_WK_OFF] = "off",         [PG_WK_STARTING] = "starting", [PG_WK_READY] = "ready",
    [PG_WK_WAITING] = "waiting", [PG_WK_STOPPING] = "stopping", [PG_WK_EXITED] = "exited",
};

static const bool legal[PG_WK_NSTATES][PG_WK_NSTATES] = {
    [PG_WK_OFF] = {[PG_WK_STARTING] = true, [PG_WK_EXITED] = true},
    [PG_WK_STARTING] = {[PG_WK_READY] = true, [PG_WK_WAITING] = true, [PG_WK_STOPPING] = true,
                        [PG_WK_EXITED] = true},
    [PG_WK_READY] = {[PG_WK_WAITING] = true, [PG_WK_STOPPING] = true},
    [PG_WK_WAITING] = {[PG_WK_STARTING] = true, [PG_WK_EXITED] = true},
    [PG_WK_STOPPING] = {[PG_WK_EXITED] = true},
};

static const pg_fsm machine = {"worker", state_names, PG_WK_NSTATES, &legal[0][0]};

static void set_state(pg_worker *w, size_t i, pg_wk_state to)
{
    char who[32];
    snprintf(who, sizeof who, "worker %zu", i + 1);
    pg_fsm_move(&machine, who, w->state, to);
    w->state = to;
}

const char *pg_wk_state_name(pg_wk_state s)
{
    PG_ASSERT(s < PG_WK_NSTATES);
    return state_names[s];
}

void pg_workers_init(pg_workers *ws, size_t n)
{
    PG_ASSERT(n >= 1 && n <= PG_WORKERS_MAX);
    *ws = (pg_workers){.n = n};
}

void pg_workers_started(pg_workers *ws, size_t i, int pid, int64_t now)
{
    PG_ASSERT(i < ws->n && pid > 0 && !ws->stopping);
    pg_worker *w = &ws->w[i];
    if (w->state == PG_WK_WAITING)
        w->restarts++;
    set_state(w, i, PG_WK_STARTING);
    w->pid = pid;
    w->started_ns = now;
}

bool pg_workers_ready(pg_workers *ws, size_t i)
{
    PG_ASSERT(i < ws->n);
    pg_worker *w = &ws->w[i];
    if (w->state != PG_WK_STARTING) /* stopping already, or a late report */
        return false;
    set_state(w, i, PG_WK_READY);
    if (ws->started)
        return false;
    for (size_t k = 0; k < ws->n; k++)
        if (ws->w[k].state != PG_WK_READY)
            return false;
    ws->started = true;
    return true;
}

size_t pg_workers_find(const pg_workers *ws, int pid)
{
    for (size_t i = 0; i < ws->n; i++) {
        pg_wk_state s = ws->w[i].state;
        if (ws->w[i].pid == pid && (s == PG_WK_STARTING || s == PG_WK_READY || s == PG_WK_STOPPING))
            return i;
    }
    return ws->n;
}

int64_t pg_workers_backoff_ns(unsigned k)
{
    int64_t d = PG_WK_BACKOFF_MIN_NS;
    for (unsigned j = 0; j < k && d < PG_WK_BACKOFF_MAX_NS; j++)
        d *= 2;
    return PG_MIN(d, PG_WK_BACKOFF_MAX_NS);
}

pg_wk_action pg_workers_exited(pg_workers *ws, size_t i, int status, int64_t now)
{
    PG_ASSERT(i < ws->n);
    pg_worker *w = &ws->w[i];
    w->status = status;
    w->pid = 0;
    if (ws->stopping) {
        if (w->state == PG_WK_STARTING || w->state == PG_WK_READY)
            set_state(w, i, PG_WK_STOPPING); /* it died on its own before stop reached it */
        set_state(w, i, PG_WK_EXITED);
        if (ws->status == 0)
            ws->status = status;
        return PG_WK_GONE;
    }
    if (!ws->started) {
        /* A worker that cannot start (bad configuration, port taken, no credentials) would fail
         * the same way again: say so now rather than loop. */
        set_state(w, i, PG_WK_EXITED);
        ws->status = status != 0 ? status : 70 /* EX_SOFTWARE: it exited 0 without being asked */;
        return PG_WK_GIVE_UP;
    }
    w->quick_exits = now - w->started_ns < PG_WK_STEADY_NS ? w->quick_exits + 1 : 0;
    w->restart_at_ns = now + pg_workers_backoff_ns(w->quick_exits);
    set_state(w, i, PG_WK_WAITING);
    return PG_WK_RESTART;
}

void pg_workers_stop(pg_workers *ws)
{
    ws->stopping = true;
    for (size_t i = 0; i < ws->n; i++) {
        pg_worker *w = &ws->w[i];
        if (w->state == PG_WK_STARTING || w->state == PG_WK_READY)
            set_state(w, i, PG_WK_STOPPING);
        else if (w->state == PG_WK_WAITING || w->state == PG_WK_OFF)
            set_state(w, i, PG_WK_EXITED);
    }
}

bool pg_workers_due(const pg_workers *ws, size_t i, int64_t now)
{
    PG_ASSERT(i < ws->n);
    return !ws->stopping && ws->w[i].state == PG_WK_WAITING && ws->w[i].restart_at_ns <= now;
}

int64_t pg_workers_next_restart(const pg_workers *ws)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < ws->n; i++)
        if (ws->w[i].state == PG_WK_WAITING && ws->w[i].restart_at_ns < next)
            next = ws->w[i].restart_at_ns;
    return next;
}

bool pg_workers_all_exited(const pg_workers *ws)
{
    for (size_t i = 0; i < ws->n; i++)
        if (ws->w[i].state != PG_WK_EXITED && ws->w[i].state != PG_WK_OFF)
            return false;
    return true;
}
