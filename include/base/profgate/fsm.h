/*
 * fsm.h: the one check every state machine's setter makes (in the spirit of curl's mstate() and
 * Varnish's request states): is this move in the machine's table of legal moves? An illegal move
 * is a programmer error: it is logged with the machine's state names and aborts. Legal moves are
 * logged at debug level. Each machine keeps its own enum and its own one setter, which calls this.
 */
#ifndef PG_FSM_H
#define PG_FSM_H

#include "profgate/common.h"

typedef struct pg_fsm {
    const char *name;          /* the machine, for logs: "connection", "upstream call", ... */
    const char *const *states; /* the states' names, n of them */
    unsigned n;
    const bool *legal;         /* n x n, row-major: legal[from * n + to] */
} pg_fsm;

/** Checks the move from -> to of the instance who (for logs; may be NULL) and logs it. */
void pg_fsm_move(const pg_fsm *m, const char *who, unsigned from, unsigned to);

#endif
