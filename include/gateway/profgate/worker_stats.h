/*
 * worker_stats.h: with server.workers > 1, any worker's /metrics shows every worker's figures,
 * each series labelled worker="N", so a scrape through the shared port sees the whole host and
 * not whichever worker the kernel picked. The supervisor maps one shared region before forking;
 * each worker publishes its own metrics snapshot into its slot (every second, and before it
 * renders a scrape); readers copy the others' slots. Each slot is a seqlock: one writer, readers
 * retry a copy that a write overlapped, and give up on a slot after a few tries.
 */
#ifndef PG_WORKER_STATS_H
#define PG_WORKER_STATS_H

#include "profgate/metrics.h"

typedef struct pg_worker_stats pg_worker_stats;

/** A shared region for n workers, mapped before the workers are forked; NULL when mmap fails. */
pg_worker_stats *pg_worker_stats_new(unsigned n);
void pg_worker_stats_free(pg_worker_stats *ws);
unsigned pg_worker_stats_count(const pg_worker_stats *ws);

/** Worker index (1..n) publishes its snapshot. */
void pg_worker_stats_publish(pg_worker_stats *ws, unsigned index, const pg_metrics_snap *s);
/** Worker index is gone (the supervisor, when it dies): scrapes leave it out until it publishes. */
void pg_worker_stats_clear(pg_worker_stats *ws, unsigned index);
/** Copies worker index's last snapshot; false when it has none (or every copy was torn). */
bool pg_worker_stats_read(const pg_worker_stats *ws, unsigned index, pg_metrics_snap *out);

#endif
