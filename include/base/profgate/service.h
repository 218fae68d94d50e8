/*
 * service.h: what a supervisor sees of the process: systemd's notify protocol (READY=1 once
 * listening, RELOADING=1 / READY=1 around a reload, STOPPING=1 at shutdown, STATUS=...), and a
 * pid file. Both are optional: without $NOTIFY_SOCKET notifying does nothing.
 */
#ifndef PG_SERVICE_H
#define PG_SERVICE_H

#include "profgate/common.h"

/** Sends state (e.g. "READY=1\nSTATUS=listening") to $NOTIFY_SOCKET if set; PG_OK when unset. */
int pg_service_notify(const char *state);

/** Writes "PID\n" to path atomically (a temporary file renamed over it). */
int pg_pidfile_write(const char *path, char *err, size_t errlen);

/** Removes path if it still names this process. */
void pg_pidfile_remove(const char *path);

#endif
