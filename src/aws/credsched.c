/*
 * credsched.c: the refresh, retry and usability rules for temporary credentials (see
 * credsched.h for the rules and why each margin is what it is).
 */
#include "profgate/credsched.h"
#include "profgate/fsm.h"

#include <string.h>

const char *const pg_cs_state_names[PG_CS_COUNT] = {"idle", "fetching", "waiting", "closed"};

#define REFRESH_AHEAD_NS (300 * PG_NS_PER_S)
#define MARGIN_NS (60 * PG_NS_PER_S)
#define BACKOFF_FIRST_NS PG_NS_PER_S
#define BACKOFF_MAX_NS (60 * PG_NS_PER_S)
/* With nothing usable, calls are waiting: retry sooner. */
#define BACKOFF_MAX_EMPTY_NS (5 * PG_NS_PER_S)
/* Never fetch again sooner than this after a success: a service that hands out credentials that
 * are already about to expire must not be asked in a tight loop. */
#define MIN_GAP_NS (100 * PG_NS_PER_MS)

static const bool legal[PG_CS_COUNT][PG_CS_COUNT] = {
    [PG_CS_IDLE] = {[PG_CS_FETCHING] = true, [PG_CS_CLOSED] = true},
    [PG_CS_FETCHING] = {[PG_CS_WAITING] = true, [PG_CS_CLOSED] = true},
    [PG_CS_WAITING] = {[PG_CS_FETCHING] = true, [PG_CS_CLOSED] = true},
};
static const pg_fsm fsm = {"credentials", pg_cs_state_names, PG_CS_COUNT, &legal[0][0]};

void pg_credsched_init(pg_credsched *s)
{
    memset(s, 0, sizeof *s);
    s->state = PG_CS_IDLE;
    s->next_ns = INT64_MAX;
}

void pg_credsched_set_state(pg_credsched *s, pg_cs_state next)
{
    pg_fsm_move(&fsm, NULL, s->state, next);
    s->state = next;
}

void pg_credsched_begin(pg_credsched *s)
{
    pg_credsched_set_state(s, PG_CS_FETCHING);
    s->fetches++;
}

static int64_t lifetime(const pg_credsched *s)
{
    return s->expires_ns > s->fetched_ns ? s->expires_ns - s->fetched_ns : 0;
}

void pg_credsched_success(pg_credsched *s, int64_t now, int64_t expires_ns)
{
    pg_credsched_set_state(s, PG_CS_WAITING);
    s->held = true;
    s->failures = 0;
    s->fetched_ns = now;
    s->expires_ns = expires_ns;
    if (expires_ns == 0) {
        s->next_ns = INT64_MAX;
        return;
    }
    int64_t ahead = PG_MIN(REFRESH_AHEAD_NS, lifetime(s) / 2);
    s->next_ns = PG_MAX(expires_ns - ahead, now + MIN_GAP_NS);
}

void pg_credsched_failure(pg_credsched *s, int64_t now)
{
    pg_credsched_set_state(s, PG_CS_WAITING);
    if (s->held)
        s->refresh_failures++;
    int64_t first = BACKOFF_FIRST_NS;
    if (s->held && s->expires_ns != 0)
        first = PG_MAX(MIN_GAP_NS, PG_MIN(first, lifetime(s) / 8));
    int64_t b = first;
    for (unsigned i = 0; i < s->failures && b < BACKOFF_MAX_NS; i++)
        b *= 2;
    s->failures++;
    s->next_ns = now + PG_MIN(b, pg_credsched_usable(s, now) ? BACKOFF_MAX_NS : BACKOFF_MAX_EMPTY_NS);
}

int64_t pg_credsched_usable_until(const pg_credsched *s)
{
    if (!s->held)
        return 0;
    if (s->expires_ns == 0)
        return INT64_MAX;
    return s->expires_ns - PG_MIN(MARGIN_NS, lifetime(s) / 4);
}

bool pg_credsched_usable(const pg_credsched *s, int64_t now)
{
    return s->held && now < pg_credsched_usable_until(s);
}
