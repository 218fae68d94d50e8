/*
 * resources.c: how many CPUs and how much memory this process may use. CPUs, for server.workers = auto: its affinity mask (what
 * taskset and Kubernetes' static CPU manager give), capped by its cgroup's CPU quota (what a
 * container's CPU limit sets), rounded up. A quota of 1.5 CPUs on a 64-core node means 2 workers,
 * not 64 workers fighting over 1.5 CPUs' worth of time. The parsers are pure; the readers only
 * read small files under /proc and /sys.
 */
#include "profgate/resources.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A whole number of at most 18 digits, nothing else but trailing whitespace. */
static int parse_u64(const char *s, const char **end, int64_t *out)
{
    int64_t v = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9' && p - s < 18)
        v = v * 10 + (*p++ - '0');
    if (p == s || (*p >= '0' && *p <= '9'))
        return PG_EINVAL;
    *end = p;
    *out = v;
    return PG_OK;
}

static bool only_space(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t')
        p++;
    return *p == '\0';
}

int pg_cgroup_parse_cpu_max(const char *text, double *cpus)
{
    const char *p = text, *end;
    int64_t quota, period;
    if (strncmp(p, "max", 3) == 0) {
        quota = -1;
        p += 3;
    } else if (parse_u64(p, &end, &quota) != PG_OK) {
        return PG_EINVAL;
    } else {
        p = end;
    }
    if (*p != ' ')
        return PG_EINVAL;
    if (parse_u64(p + 1, &end, &period) != PG_OK || period == 0 || !only_space(end))
        return PG_EINVAL;
    *cpus = quota < 0 ? 0.0 : (double)quota / (double)period;
    return PG_OK;
}

int pg_cgroup_parse_cfs(const char *quota_text, const char *period_text, double *cpus)
{
    const char *end;
    int64_t period;
    if (parse_u64(period_text, &end, &period) != PG_OK || period == 0 || !only_space(end))
        return PG_EINVAL;
    if (strncmp(quota_text, "-1", 2) == 0 && only_space(quota_text + 2)) {
        *cpus = 0.0;
        return PG_OK;
    }
    int64_t quota;
    if (parse_u64(quota_text, &end, &quota) != PG_OK || !only_space(end))
        return PG_EINVAL;
    *cpus = (double)quota / (double)period;
    return PG_OK;
}

unsigned pg_cpus_from(unsigned affinity, double quota)
{
    unsigned n = affinity > 0 ? affinity : 1;
    if (quota > 0.0) {
        double q = ceil(quota);
        if (q < (double)n)
            n = (unsigned)q;
    }
    return n > 0 ? n : 1;
}

/* Reads a small file into buf; false when it cannot. */
static bool read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* The unified (v2) cgroup's path from /proc/self/cgroup's "0::PATH" line, or "" when absent. */
static void v2_path(char *out, size_t len)
{
    char buf[4096];
    out[0] = '\0';
    if (!read_small("/proc/self/cgroup", buf, sizeof buf))
        return;
    for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, "0::", 3) == 0 && strcmp(line + 3, "/") != 0) {
            snprintf(out, len, "%s", line + 3);
            return;
        }
    }
}

/* A cgroup v2 file: the process's own cgroup's (hosts without a cgroup namespace), else the
 * mount's root (a container sees its own cgroup there). parse decides whether it is usable. */
static bool v2_read(const char *leaf, char *buf, size_t len, bool (*parse)(const char *text, void *out), void *out)
{
    char path[4200], own[4096];
    v2_path(own, sizeof own);
    if (own[0] != '\0') {
        snprintf(path, sizeof path, "/sys/fs/cgroup%s/%s", own, leaf);
        if (read_small(path, buf, len) && parse(buf, out))
            return true;
    }
    snprintf(path, sizeof path, "/sys/fs/cgroup/%s", leaf);
    return read_small(path, buf, len) && parse(buf, out);
}

static bool parse_cpu(const char *text, void *out)
{
    return pg_cgroup_parse_cpu_max(text, out) == PG_OK;
}

static bool parse_mem(const char *text, void *out)
{
    return pg_cgroup_parse_mem_max(text, out) == PG_OK;
}

double pg_cgroup_cpu_limit(void)
{
    char buf[256], quota[64], period[64], path[4200];
    double cpus;
    if (v2_read("cpu.max", buf, sizeof buf, parse_cpu, &cpus))
        return cpus;
    /* v1: the cpu controller's CFS quota. */
    static const char *const v1[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"};
    for (size_t i = 0; i < PG_ARRAY_LEN(v1); i++) {
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", v1[i]);
        if (!read_small(path, quota, sizeof quota))
            continue;
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", v1[i]);
        if (read_small(path, period, sizeof period) && pg_cgroup_parse_cfs(quota, period, &cpus) == PG_OK)
            return cpus;
    }
    return 0.0;
}

unsigned pg_cpus_available(void)
{
    cpu_set_t set;
    unsigned affinity = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        affinity = (unsigned)CPU_COUNT(&set);
    if (affinity == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        affinity = n > 0 ? (unsigned)n : 1;
    }
    return pg_cpus_from(affinity, pg_cgroup_cpu_limit());
}

int pg_cgroup_parse_mem_max(const char *text, uint64_t *bytes)
{
    while (*text == ' ')
        text++;
    if (strncmp(text, "max", 3) == 0 && (text[3] == '\0' || text[3] == '\n')) {
        *bytes = 0;
        return PG_OK;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || errno != 0 || (*end != '\0' && *end != '\n'))
        return PG_EINVAL;
    /* v1 says "no limit" with the largest page-aligned value (about 2^63). */
    *bytes = v >= (UINT64_C(1) << 62) ? 0 : (uint64_t)v;
    return PG_OK;
}

static uint64_t cgroup_memory_limit(void)
{
    char buf[64];
    uint64_t b;
    if (v2_read("memory.max", buf, sizeof buf, parse_mem, &b))
        return b;
    if (read_small("/sys/fs/cgroup/memory/memory.limit_in_bytes", buf, sizeof buf) &&
        pg_cgroup_parse_mem_max(buf, &b) == PG_OK)
        return b;
    return 0;
}

uint64_t pg_memory_available(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t phys = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    uint64_t cg = cgroup_memory_limit();
    if (cg != 0 && (phys == 0 || cg < phys))
        return cg;
    return phys;
}
