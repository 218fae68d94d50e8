/*
 * fsm.c: the legal-move check shared by every state machine's setter.
 */
#include "profgate/fsm.h"
#include "profgate/log.h"

void pg_fsm_move(const pg_fsm *m, const char *who, unsigned from, unsigned to)
{
    PG_ASSERT(from < m->n && to < m->n);
    bool ok = m->legal[from * m->n + to];
    if (!ok || pg_log_enabled(PG_LOG_DEBUG))
        pg_log(ok ? PG_LOG_DEBUG : PG_LOG_ERROR, "%s %s: %s%s -> %s", m->name, who != NULL ? who : "-",
               ok ? "" : "illegal move ", m->states[from], m->states[to]);
    PG_ASSERT(ok);
}
