/*
 * credsched.h: when temporary credentials are fetched, refreshed and retried, and whether the
 * ones held may still sign. Pure: the wall-clock time comes in as an argument, so the rules are
 * unit-tested without a loop.
 *
 *   - Fresh credentials are refreshed ahead of expiry: at expiry minus the smaller of five minutes
 *     and half their lifetime, so a refresh that fails has time to be retried.
 *   - They stop signing a margin before expiry (the smaller of one minute and a quarter of their
 *     lifetime), so a signed request never reaches the service after its key expired.
 *   - A failed fetch is retried after a back-off that starts at the smaller of one second and an
 *     eighth of the last lifetime and doubles up to one minute (five seconds while nothing usable
 *     is held: calls are waiting); the credentials held keep signing until their margin.
 *
 * The fetching side moves IDLE -> FETCHING -> WAITING -> FETCHING ... and finally CLOSED, through
 * one setter that checks the move.
 */
#ifndef PG_CREDSCHED_H
#define PG_CREDSCHED_H

#include "profgate/common.h"

typedef enum { PG_CS_IDLE, PG_CS_FETCHING, PG_CS_WAITING, PG_CS_CLOSED, PG_CS_COUNT } pg_cs_state;

extern const char *const pg_cs_state_names[PG_CS_COUNT];

typedef struct pg_credsched {
    pg_cs_state state;
    bool held;            /* credentials are held (maybe no longer usable) */
    int64_t expires_ns;   /* of those held; 0: they never expire */
    int64_t fetched_ns;   /* when they were fetched */
    int64_t next_ns;      /* WAITING: when to fetch; INT64_MAX: never (long-lived keys) */
    unsigned failures;    /* consecutive failed fetches */
    uint64_t fetches, refresh_failures;
} pg_credsched;

void pg_credsched_init(pg_credsched *s);
/** The one setter: checks the move. */
void pg_credsched_set_state(pg_credsched *s, pg_cs_state next);
/** A fetch starts (IDLE or WAITING -> FETCHING). */
void pg_credsched_begin(pg_credsched *s);
/** The fetch succeeded at now with credentials expiring at expires_ns (0: never). */
void pg_credsched_success(pg_credsched *s, int64_t now, int64_t expires_ns);
/** The fetch failed at now. */
void pg_credsched_failure(pg_credsched *s, int64_t now);
/** Whether the credentials held may sign a request at now. */
bool pg_credsched_usable(const pg_credsched *s, int64_t now);
/** When the held credentials stop being usable (INT64_MAX: never; 0: none held). */
int64_t pg_credsched_usable_until(const pg_credsched *s);

#endif
