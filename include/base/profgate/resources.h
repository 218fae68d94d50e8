/*
 * resources.h: what this process may really use, as its cgroup and affinity say: CPUs (affinity,
 * capped by a cgroup CPU quota) for server.workers = auto, and memory (the cgroup's limit, else
 * the machine's) for server.inflight_bytes = auto.
 */
#ifndef PG_RESOURCES_H
#define PG_RESOURCES_H

#include "profgate/common.h"

/** Parses cgroup v2 cpu.max ("QUOTA PERIOD" or "max PERIOD") into CPUs; 0.0 means no limit. */
int pg_cgroup_parse_cpu_max(const char *text, double *cpus);

/** Parses cgroup v1 cpu.cfs_quota_us ("-1": none) and cpu.cfs_period_us into CPUs; 0.0: no limit. */
int pg_cgroup_parse_cfs(const char *quota, const char *period, double *cpus);

/** The process's cgroup CPU limit in CPUs (v2, else v1); 0.0 when there is none or it cannot be read. */
double pg_cgroup_cpu_limit(void);

/** affinity CPUs capped by quota (rounded up; 0.0: no quota); at least 1. */
unsigned pg_cpus_from(unsigned affinity, double quota);

/** pg_cpus_from(this process's affinity, pg_cgroup_cpu_limit()). */
unsigned pg_cpus_available(void);

/** Parses cgroup v2 memory.max or v1 memory.limit_in_bytes ("max", or bytes; v1's "no limit" is a
 *  huge number) into bytes; 0 means no limit. */
int pg_cgroup_parse_mem_max(const char *text, uint64_t *bytes);

/** The memory this process may use: its cgroup's limit (v2, else v1) when lower than the
 *  machine's physical memory, else the physical memory. */
uint64_t pg_memory_available(void);

#endif
