/*
 * fairq.c: start-time fair queueing over at most PG_FAIRQ_FLOWS flows. Picking the next flow is
 * a scan of the flows (65): cheap next to an upstream call, and it keeps the structure simple.
 */
#include "profgate/fairq.h"

#include <string.h>

void pg_fairq_init(pg_fairq *q)
{
    memset(q, 0, sizeof *q);
    for (size_t i = 0; i < PG_FAIRQ_FLOWS; i++)
        q->flow[i].weight = 1;
}

void pg_fairq_set_weight(pg_fairq *q, unsigned flow, uint32_t weight)
{
    PG_ASSERT(flow < PG_FAIRQ_FLOWS && weight >= 1);
    q->flow[flow].weight = weight;
    q->flow[flow].tenant = true;
}

size_t pg_fairq_share(const pg_fairq *q, unsigned flow, size_t total)
{
    PG_ASSERT(flow < PG_FAIRQ_FLOWS);
    uint64_t sum = 0;
    for (size_t i = 0; i < PG_FAIRQ_FLOWS; i++)
        if (q->flow[i].tenant)
            sum += q->flow[i].weight;
    if (sum == 0)
        return total;
    uint64_t w = q->flow[flow].tenant ? q->flow[flow].weight : 1;
    size_t share = (size_t)((double)total * (double)w / (double)sum);
    return share > 0 ? share : 1;
}

static void append(pg_fq_flow *f, pg_fq_item *it)
{
    it->next = NULL;
    it->prev = f->tail[it->cls];
    if (f->tail[it->cls])
        f->tail[it->cls]->next = it;
    else
        f->head[it->cls] = it;
    f->tail[it->cls] = it;
}

/* Out of its class list; the flow's counts are the caller's business. */
static void detach(pg_fq_flow *f, pg_fq_item *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        f->head[it->cls] = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        f->tail[it->cls] = it->prev;
    it->prev = it->next = NULL;
}

void pg_fairq_push(pg_fairq *q, pg_fq_item *it, unsigned flow, unsigned cls)
{
    PG_ASSERT(flow < PG_FAIRQ_FLOWS && cls < PG_FQ_CLASSES);
    pg_fq_flow *f = &q->flow[flow];
    if (f->n == 0)
        f->start = f->finish > q->vnow ? f->finish : q->vnow; /* idle time earns nothing */
    it->flow = (uint8_t)flow;
    it->cls = (uint8_t)cls;
    append(f, it);
    f->n++;
    q->n++;
}

pg_fq_item *pg_fairq_peek(const pg_fairq *q)
{
    const pg_fq_flow *best = NULL;
    for (size_t i = 0; i < PG_FAIRQ_FLOWS; i++) {
        const pg_fq_flow *f = &q->flow[i];
        if (f->n > 0 && (best == NULL || f->start < best->start))
            best = f;
    }
    if (best == NULL)
        return NULL;
    for (size_t c = 0; c < PG_FQ_CLASSES; c++)
        if (best->head[c])
            return best->head[c];
    PG_ASSERT(!"a backlogged flow with empty classes");
    return NULL;
}

static void unlink_item(pg_fairq *q, pg_fq_item *it)
{
    pg_fq_flow *f = &q->flow[it->flow];
    PG_ASSERT(f->n > 0);
    detach(f, it);
    f->n--;
    q->n--;
}

void pg_fairq_pop(pg_fairq *q, pg_fq_item *it)
{
    pg_fq_flow *f = &q->flow[it->flow];
    q->vnow = f->start;
    f->finish = f->start + 1.0 / (double)f->weight;
    unlink_item(q, it);
    if (f->n > 0)
        f->start = f->finish;
}

void pg_fairq_raise(pg_fairq *q, pg_fq_item *it, unsigned cls)
{
    PG_ASSERT(cls < PG_FQ_CLASSES);
    if (cls >= it->cls)
        return;
    pg_fq_flow *f = &q->flow[it->flow];
    detach(f, it);
    it->cls = (uint8_t)cls;
    append(f, it);
}

void pg_fairq_remove(pg_fairq *q, pg_fq_item *it)
{
    unlink_item(q, it);
}

size_t pg_fairq_flow_len(const pg_fairq *q, unsigned flow)
{
    PG_ASSERT(flow < PG_FAIRQ_FLOWS);
    return q->flow[flow].n;
}
