/*
 * supervisor.h: server.workers > 1. The supervisor holds the listening ports (bound, never
 * listening: it only keeps them, and resolves port 0 once for all), forks the workers, which
 * each open their own SO_REUSEPORT listener on those ports, restarts a worker that dies, passes
 * SIGHUP on and stops them all on SIGTERM or SIGINT. It owns the pid file and systemd's
 * notifications; workers do neither. It runs no event loop and opens no library state before
 * forking, so every worker starts as clean as a single process does.
 */
#ifndef PG_SUPERVISOR_H
#define PG_SUPERVISOR_H

#include "profgate/common.h"
#include "profgate/listen.h"
#include "profgate/worker_stats.h"

/* What a worker is told: who it is, where to signal that it listens, and where to listen. */
typedef struct pg_worker_ctx {
    unsigned index;     /* 1..count */
    unsigned count;
    int ready_fd;       /* write one byte here once listening, then close it */
    const char *listen; /* server.listen with every port resolved */
    pg_worker_stats *stats; /* the shared metrics region, or NULL */
} pg_worker_ctx;

/* Runs in the forked worker; its return value is the worker's exit status. */
typedef int (*pg_worker_main)(const pg_worker_ctx *ctx, void *data);

typedef struct pg_supervisor_cfg {
    unsigned workers;
    pg_listen_addrs listen;
    int64_t stop_grace_ms; /* after SIGTERM, workers still alive past this are killed */
    const char *pid_file;  /* or NULL */
    pg_worker_stats *stats; /* mapped before the workers fork; a dead worker's slot is cleared */
} pg_supervisor_cfg;

/** Supervises cfg->workers workers running fn(ctx, data) until a stop signal, or until a worker
 * fails during the start-up. Returns the supervisor's exit status (0 after a clean stop). */
int pg_supervise(const pg_supervisor_cfg *cfg, pg_worker_main fn, void *data);

#endif
