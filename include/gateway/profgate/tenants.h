/*
 * tenants.h: the teams sharing one profgate, from the tenants file (auth.tenants_file): each has
 * an access key and secret its clients sign with (SigV4, as for AWS), the profiling groups it may
 * read (exact names or fnmatch(3) globs), a request quota at the front (token bucket) and a weight
 * in the upstream queue. The registry keeps a tenant in the same slot for the life of the process
 * (a reload updates slots by name, appends new tenants and disables removed ones), so in-flight
 * work can refer to a tenant by its slot. Pure apart from reading the file it is given.
 */
#ifndef PG_TENANTS_H
#define PG_TENANTS_H

#include "profgate/common.h"
#include "profgate/ratelimit.h"

#define PG_TENANTS_MAX 64
#define PG_TENANT_NAME_MAX 63
#define PG_TENANT_KEY_MAX 128
#define PG_TENANT_GROUPS_MAX 2047

typedef struct pg_tenant {
    char name[PG_TENANT_NAME_MAX + 1];
    char access_key[PG_TENANT_KEY_MAX + 1];
    char secret[PG_TENANT_KEY_MAX + 1];
    char groups[PG_TENANT_GROUPS_MAX + 1]; /* comma-separated names and globs */
    double rate, burst;                     /* front quota; rate 0: none */
    uint32_t weight;                        /* share of the upstream when it is scarce */
    bool write;                             /* may change its groups (with api.writes = on) */
    bool active;                            /* false once a reload removed it */
    pg_tbucket quota;
    /* Counters, kept across reloads. */
    uint64_t requests, throttled, denied, upstream_calls;
} pg_tenant;

typedef struct pg_tenants {
    pg_tenant t[PG_TENANTS_MAX];
    size_t n; /* slots in use, active or not */
} pg_tenants;

/**
 * Parses a tenants file's text and merges it into ts: every tenant the text names is updated in
 * (or added to) its slot, tenants it no longer names are disabled. All or nothing: on an error
 * ("NAME:LINE: why" in err) ts is unchanged. now_ns starts new or changed quotas full.
 */
int pg_tenants_load_string(pg_tenants *ts, const char *text, const char *name, int64_t now_ns, char *err,
                           size_t errlen);
/** The same for a file, opened once and refused unless it is a regular file owned by root or
 *  profgate's uid that others may not access and its group may not write (it holds secrets). */
int pg_tenants_load_file(pg_tenants *ts, const char *path, int64_t now_ns, char *err, size_t errlen);

/** The active tenant with this access key, or NULL. */
pg_tenant *pg_tenants_by_key(pg_tenants *ts, const char *akid, size_t len);

/** Whether the tenant may read the profiling group (one of its names or globs matches). */
bool pg_tenant_may_read(const pg_tenant *t, const char *group);

/** Takes one request from the tenant's quota; false when over it. */
bool pg_tenant_take(pg_tenant *t, int64_t now_ns);

/** The slot of a tenant in ts (its flow in the upstream queue is slot + 1). */
size_t pg_tenant_slot(const pg_tenants *ts, const pg_tenant *t);

/** Overwrites every secret (before freeing). */
void pg_tenants_clear(pg_tenants *ts);

#endif
