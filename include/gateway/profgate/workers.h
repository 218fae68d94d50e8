/*
 * workers.h: the supervisor's bookkeeping for server.workers, as a pure core: which worker is in
 * which state, when a dead one may be restarted, and what the supervisor exits with. It forks,
 * waits and signals nothing itself (supervisor.c does, and tells it what happened), so its rules
 * are unit-tested with plain calls and a fake clock.
 *
 * A worker's life: OFF -> STARTING (forked) -> READY (it listens) -> ... When a worker dies after
 * the start-up succeeded, it WAITs out a back-off and starts again; a worker that dies during the
 * start-up (before every worker was ready once) is a broken configuration or environment, not a
 * crash to retry: the supervisor gives up with that worker's status. Stopping moves every live
 * worker to STOPPING (the supervisor sends it SIGTERM) and every waiting one straight to EXITED.
 */
#ifndef PG_WORKERS_H
#define PG_WORKERS_H

#include "profgate/common.h"
#include "profgate/config.h"

typedef enum {
    PG_WK_OFF,
    PG_WK_STARTING,
    PG_WK_READY,
    PG_WK_WAITING, /* dead; restarts at restart_at_ns */
    PG_WK_STOPPING,
    PG_WK_EXITED,
    PG_WK_NSTATES
} pg_wk_state;

/* A worker that ran at least this long before dying counts as having run steadily: its restart
 * comes after the shortest back-off. Shorter runs double the back-off each time, up to the cap. */
#define PG_WK_STEADY_NS (INT64_C(10) * PG_NS_PER_S)
#define PG_WK_BACKOFF_MIN_NS (INT64_C(100) * PG_NS_PER_MS)
#define PG_WK_BACKOFF_MAX_NS (INT64_C(10) * PG_NS_PER_S)

typedef struct pg_worker {
    pg_wk_state state;
    int pid;              /* while STARTING, READY or STOPPING */
    int64_t started_ns;
    int64_t restart_at_ns; /* while WAITING */
    unsigned quick_exits;  /* deaths in a row after runs shorter than PG_WK_STEADY_NS */
    unsigned restarts;
    int status;            /* the last exit: its code, or 128 + the signal that killed it */
} pg_worker;

typedef struct pg_workers {
    size_t n;
    pg_worker w[PG_WORKERS_MAX];
    bool started;  /* every worker was READY at least once: the start-up succeeded */
    bool stopping;
    int status;    /* what the supervisor exits with */
} pg_workers;

typedef enum {
    PG_WK_RESTART, /* the worker waits for its restart (pg_workers_due) */
    PG_WK_GIVE_UP, /* it died during the start-up: stop the others and exit with ws->status */
    PG_WK_GONE     /* it was stopping; nothing to do */
} pg_wk_action;

void pg_workers_init(pg_workers *ws, size_t n);
/** Worker i (OFF or WAITING) was forked as pid at now. */
void pg_workers_started(pg_workers *ws, size_t i, int pid, int64_t now);
/** Worker i reported that it listens. True when this completes the start-up (the first time every
 * worker is ready): the supervisor then reports itself ready. */
bool pg_workers_ready(pg_workers *ws, size_t i);
/** The worker with pid, or ws->n when none is alive with it. */
size_t pg_workers_find(const pg_workers *ws, int pid);
/** Worker i exited with status at now. */
pg_wk_action pg_workers_exited(pg_workers *ws, size_t i, int status, int64_t now);
/** Stops: live workers go to STOPPING (the caller signals each with a pid), waiting ones end. */
void pg_workers_stop(pg_workers *ws);
/** Whether worker i waits for a restart that is due at now. */
bool pg_workers_due(const pg_workers *ws, size_t i, int64_t now);
/** The earliest pending restart, or INT64_MAX. */
int64_t pg_workers_next_restart(const pg_workers *ws);
/** Whether no worker is alive any more (after stopping or giving up). */
bool pg_workers_all_exited(const pg_workers *ws);
/** The back-off before restarting a worker after its k-th quick death in a row (k = 0: steady). */
int64_t pg_workers_backoff_ns(unsigned k);
const char *pg_wk_state_name(pg_wk_state s);

#endif
