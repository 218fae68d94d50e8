/*
 * simgen.h: profgate-sim's deterministic profile data. Each profiling group has a fixed "program"
 * (a call tree over a per-group frame vocabulary, built from seed and group name). Each 5-minute
 * bucket draws samples, Zipf-distributed over the program's frames, from a generator seeded by
 * (seed, group, bucket start); sample i of a bucket happens at start + i * 300 s / S, so a live
 * bucket holds exactly the samples before "now". An hour is the sum of its twelve 5-minute
 * buckets and a day the sum of its 24 hours, so every way of covering a range gives the same data.
 * Pure: time is an argument. Complete aggregates are memoized in a bounded LRU.
 */
#ifndef PG_SIMGEN_H
#define PG_SIMGEN_H

#include "profgate/planner.h"
#include "profgate/profile.h"

/* Counters every sample touches: WALL_TIME plus one thread state. */
#define PG_SIM_NCOUNTERS 5
extern const char *const pg_sim_counter_names[PG_SIM_NCOUNTERS];

typedef struct pg_simgen_cfg {
    uint64_t seed;
    uint32_t nodes;        /* approximate call-tree nodes in one 5-minute bucket */
    int64_t data_since_s;  /* no samples before this instant (rounded down to 5 minutes) */
    size_t cache_bytes;    /* memo budget for aggregates */
} pg_simgen_cfg;

typedef struct pg_simgen pg_simgen;

pg_simgen *pg_simgen_new(const pg_simgen_cfg *cfg);
void pg_simgen_free(pg_simgen *g);

/** The dense counts of a group's program: counts[node * PG_SIM_NCOUNTERS + k]. */
typedef struct pg_simacc {
    uint32_t nprog;
    uint64_t *counts;
    uint64_t samples;
    int64_t duration_ms; /* time with data: buckets after data_since, up to now */
    uint64_t cpu_s;      /* per-bucket integer CPU seconds, summed */
} pg_simacc;

/** Starts an empty accumulator for group (creating its program on first use). */
int pg_simgen_acc_init(pg_simgen *g, const char *group, pg_simacc *acc);
void pg_simgen_acc_free(pg_simacc *acc);

/** Adds the samples of aggregate (p, start_s) that happened before now_ms. */
int pg_simgen_add(pg_simgen *g, const char *group, pg_period p, int64_t start_s, int64_t now_ms, pg_simacc *acc);

/**
 * Builds the profile for the accumulated samples: frames, counts, file/line, start/end (given,
 * in ms) and agentMetadata (sampleWeights, durationInMs, numTimesSampled, cpuTimeInSeconds,
 * fleetInfo, agentInfo). p must be freshly initialized.
 */
int pg_simgen_profile(pg_simgen *g, const char *group, const pg_simacc *acc, int64_t start_ms, int64_t end_ms,
                      pg_profile *p);

/** Samples per 5-minute bucket (the sampling rate is this over 300 s). */
uint32_t pg_simgen_samples_per_bucket(const pg_simgen *g);

/** Did any 5-minute bucket of [start_s, end_s) have data at now_ms? */
bool pg_simgen_has_data(const pg_simgen *g, int64_t start_s, int64_t end_s, int64_t now_ms);

#endif
