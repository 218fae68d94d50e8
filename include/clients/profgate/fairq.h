/*
 * fairq.h: the upstream's wait queue, fair across flows (tenants) by weight and, within a flow,
 * by class: interactive, then refresh, then bulk. Start-time fair queueing: a flow that becomes
 * backlogged starts at the queue's virtual time (no credit is banked while idle); serving one
 * item advances the flow's
 * virtual time by 1/weight; the backlogged flow with the smallest start is served next (lowest
 * flow id on ties). So while upstream tokens are scarce, backlogged flows get shares in
 * proportion to their weights whatever their queue lengths, and a flow's small requests are not
 * stuck behind its own huge one nor behind its own background refreshes (which nobody waits for
 * yet, but which must beat bulk work to be useful). An item whose urgency grows (a request starts
 * waiting for a queued refresh) is raised to a higher class, keeping its flow's place.
 * Pure and intrusive: items live in the caller's structs.
 */
#ifndef PG_FAIRQ_H
#define PG_FAIRQ_H

#include "profgate/common.h"

#define PG_FAIRQ_FLOWS 65 /* flow 0: no tenant; 1..64: tenant slots */
enum { PG_FQ_INTERACTIVE = 0, PG_FQ_REFRESH = 1, PG_FQ_BULK = 2, PG_FQ_CLASSES = 3 };

typedef struct pg_fq_item {
    struct pg_fq_item *prev, *next;
    uint8_t flow, cls;
} pg_fq_item;

typedef struct pg_fq_flow {
    pg_fq_item *head[PG_FQ_CLASSES], *tail[PG_FQ_CLASSES];
    size_t n;
    double start, finish; /* virtual times */
    uint32_t weight;
    bool tenant;          /* given a weight (a tenant's slot): counts in the queue's shares */
} pg_fq_flow;

typedef struct pg_fairq {
    pg_fq_flow flow[PG_FAIRQ_FLOWS];
    double vnow;
    size_t n;
} pg_fairq;

/** Empty, every weight 1. */
void pg_fairq_init(pg_fairq *q);
/** Changes a flow's weight (>= 1); takes effect from its next service. */
void pg_fairq_set_weight(pg_fairq *q, unsigned flow, uint32_t weight);
void pg_fairq_push(pg_fairq *q, pg_fq_item *it, unsigned flow, unsigned cls);
/** The item to serve next, or NULL when empty (not removed). */
pg_fq_item *pg_fairq_peek(const pg_fairq *q);
/** Removes the item pg_fairq_peek returned, charging its flow for the service. */
void pg_fairq_pop(pg_fairq *q, pg_fq_item *it);
/** Moves a queued item to the tail of a more urgent class of its flow (no-op if not more urgent). */
void pg_fairq_raise(pg_fairq *q, pg_fq_item *it, unsigned cls);
/** Removes any queued item without charging (deadline passed, shutdown). */
void pg_fairq_remove(pg_fairq *q, pg_fq_item *it);
size_t pg_fairq_flow_len(const pg_fairq *q, unsigned flow);
/**
 * How many of total places a flow may hold: its weight's share of the tenants' weights
 * (total x weight / sum of the weights given), at least one; all of them when no flow was given a
 * weight (no tenants: one flow). So one tenant's flood cannot take the places of the others.
 */
size_t pg_fairq_share(const pg_fairq *q, unsigned flow, size_t total);

#endif
