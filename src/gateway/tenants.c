/*
 * tenants.c: the tenants file. INI, one section per tenant:
 *
 *   [checkout]
 *   access_key = AKIACHECKOUT00000001
 *   secret_key = ...
 *   groups = checkout-*, payments-api
 *   rate = 20        ; requests per second at the front, 0 for no quota (default)
 *   burst = 40       ; default: twice the rate
 *   weight = 2       ; share of a scarce upstream (default 1)
 *   write = on       ; may change its groups through profgate (api.writes = on; default off)
 *
 * A load parses into a scratch registry and validates everything before touching the live one.
 */
#include "profgate/tenants.h"
#include "profgate/secretfile.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ini.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct parsed {
    pg_tenant t;
    bool has_key, has_secret, has_groups, has_burst;
} parsed;

typedef struct load_ctx {
    parsed *p; /* grown as sections appear (a reload of a few tenants stays small) */
    size_t n, cap;
    char err[256];
} load_ctx;

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PG_TENANT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= '0' && s[i] <= '9') &&
            s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

/* Access key ids are what the SDKs put in the credential scope: letters and digits. */
static bool key_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 16 || n > PG_TENANT_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= '0' && s[i] <= '9'))
            return false;
    return true;
}

static bool secret_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 16 || n > PG_TENANT_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* A group pattern: the characters of group names plus the glob characters * ? [ ] !. */
static bool pattern_ok(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= '0' && s[i] <= '9') &&
            !strchr("-_*?[]!", s[i]))
            return false;
    return true;
}

/* Calls fn for each trimmed, comma-separated pattern; stops when fn returns true. */
static bool each_pattern(const char *list, bool (*fn)(const char *p, size_t n, void *ctx), void *ctx)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && p[m - 1] == ' ')
            m--;
        if (m > 0 && fn(p, m, ctx))
            return true;
        p += n;
    }
    return false;
}

static bool bad_pattern(const char *p, size_t n, void *ctx)
{
    (void)ctx;
    return !pattern_ok(p, n);
}

static bool number(const char *v, double lo, double hi, double *out)
{
    errno = 0;
    char *end;
    double d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d >= lo && d <= hi))
        return false;
    *out = d;
    return true;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *lc = user;
    if (lc->err[0])
        return 0;
    if (!name_ok(section)) {
        snprintf(lc->err, sizeof lc->err, "tenant name [%.64s] must be 1-63 letters, digits, '-', '_' or '.'", section);
        return 0;
    }
    parsed *p = NULL;
    for (size_t i = 0; i < lc->n; i++)
        if (strcmp(lc->p[i].t.name, section) == 0)
            p = &lc->p[i];
    if (p == NULL) {
        if (lc->n == PG_TENANTS_MAX) {
            snprintf(lc->err, sizeof lc->err, "more than %d tenants", PG_TENANTS_MAX);
            return 0;
        }
        if (lc->n == lc->cap) { /* moved by hand: the old block holds secrets and is wiped */
            size_t cap = lc->cap ? 2 * lc->cap : 4;
            parsed *m = calloc(cap, sizeof *m);
            if (m == NULL) {
                snprintf(lc->err, sizeof lc->err, "out of memory");
                return 0;
            }
            if (lc->n > 0) {
                memcpy(m, lc->p, lc->n * sizeof *m);
                OPENSSL_cleanse(lc->p, lc->n * sizeof *lc->p);
            }
            free(lc->p);
            lc->p = m;
            lc->cap = cap;
        }
        p = &lc->p[lc->n++];
        memset(p, 0, sizeof *p);
        snprintf(p->t.name, sizeof p->t.name, "%s", section);
        p->t.weight = 1;
    }
    double d;
    if (strcmp(name, "access_key") == 0) {
        if (!key_ok(value)) {
            snprintf(lc->err, sizeof lc->err, "[%s] access_key must be 16-128 letters and digits", section);
            return 0;
        }
        snprintf(p->t.access_key, sizeof p->t.access_key, "%s", value);
        p->has_key = true;
    } else if (strcmp(name, "secret_key") == 0) {
        if (!secret_ok(value)) {
            /* Never echo the value: it is a secret, even when it is a bad one. */
            snprintf(lc->err, sizeof lc->err, "[%s] secret_key must be 16-128 printable characters", section);
            return 0;
        }
        snprintf(p->t.secret, sizeof p->t.secret, "%s", value);
        p->has_secret = true;
    } else if (strcmp(name, "groups") == 0) {
        if (strlen(value) > PG_TENANT_GROUPS_MAX || each_pattern(value, bad_pattern, NULL)) {
            snprintf(lc->err, sizeof lc->err,
                     "[%s] groups must be comma-separated group names or globs (letters, digits, - _ * ? [ ] !)",
                     section);
            return 0;
        }
        snprintf(p->t.groups, sizeof p->t.groups, "%s", value);
        p->has_groups = true;
    } else if (strcmp(name, "rate") == 0) {
        if (!number(value, 0, 1e6, &d)) {
            snprintf(lc->err, sizeof lc->err, "[%s] rate must be a number of requests per second, 0 to 1000000", section);
            return 0;
        }
        p->t.rate = d;
    } else if (strcmp(name, "burst") == 0) {
        if (!number(value, 1, 1e6, &d)) {
            snprintf(lc->err, sizeof lc->err, "[%s] burst must be a number, 1 to 1000000", section);
            return 0;
        }
        p->t.burst = d;
        p->has_burst = true;
    } else if (strcmp(name, "write") == 0) {
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            snprintf(lc->err, sizeof lc->err, "[%s] write must be on or off", section);
            return 0;
        }
        p->t.write = strcmp(value, "on") == 0;
    } else if (strcmp(name, "weight") == 0) {
        if (!number(value, 1, 1000, &d) || d != (double)(uint32_t)d) {
            snprintf(lc->err, sizeof lc->err, "[%s] weight must be a whole number, 1 to 1000", section);
            return 0;
        }
        p->t.weight = (uint32_t)d;
    } else {
        snprintf(lc->err, sizeof lc->err, "[%s] unknown setting '%.32s'", section, name);
        return 0;
    }
    return 1;
}

static int finish(pg_tenants *ts, load_ctx *lc, int line, const char *name, int64_t now_ns, char *err, size_t errlen)
{
    int rc = PG_EINVAL;
    if (line < 0) {
        snprintf(err, errlen, "%s: cannot read the file", name);
        goto out;
    }
    if (line > 0) {
        snprintf(err, errlen, "%s:%d: %s", name, line, lc->err[0] ? lc->err : "syntax error (expected [tenant] or name = value)");
        goto out;
    }
    for (size_t i = 0; i < lc->n; i++) {
        parsed *p = &lc->p[i];
        if (!p->has_key || !p->has_secret || !p->has_groups) {
            snprintf(err, errlen, "%s: [%s] needs access_key, secret_key and groups", name, p->t.name);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(lc->p[j].t.access_key, p->t.access_key) == 0) {
                snprintf(err, errlen, "%s: [%s] and [%s] have the same access_key", name, lc->p[j].t.name, p->t.name);
                goto out;
            }
        if (!p->has_burst)
            p->t.burst = p->t.rate > 0.5 ? 2 * p->t.rate : 1;
    }
    /* Slots needed: the existing ones plus the new names. */
    size_t extra = 0;
    for (size_t i = 0; i < lc->n; i++) {
        bool found = false;
        for (size_t k = 0; k < ts->n && !found; k++)
            found = strcmp(ts->t[k].name, lc->p[i].t.name) == 0;
        extra += !found;
    }
    if (ts->n + extra > PG_TENANTS_MAX) {
        snprintf(err, errlen, "%s: more than %d tenants over the life of the process; restart to reuse slots", name,
                 PG_TENANTS_MAX);
        goto out;
    }
    for (size_t k = 0; k < ts->n; k++)
        ts->t[k].active = false;
    for (size_t i = 0; i < lc->n; i++) {
        const pg_tenant *src = &lc->p[i].t;
        pg_tenant *dst = NULL;
        for (size_t k = 0; k < ts->n && dst == NULL; k++)
            if (strcmp(ts->t[k].name, src->name) == 0)
                dst = &ts->t[k];
        bool fresh = dst == NULL;
        if (fresh) {
            dst = &ts->t[ts->n++];
            memset(dst, 0, sizeof *dst);
            memcpy(dst->name, src->name, sizeof dst->name);
        }
        bool quota_changed = fresh || dst->rate != src->rate || dst->burst != src->burst;
        memcpy(dst->access_key, src->access_key, sizeof dst->access_key);
        OPENSSL_cleanse(dst->secret, sizeof dst->secret);
        memcpy(dst->secret, src->secret, sizeof dst->secret);
        memcpy(dst->groups, src->groups, sizeof dst->groups);
        dst->rate = src->rate;
        dst->burst = src->burst;
        dst->weight = src->weight;
        dst->write = src->write;
        dst->active = true;
        if (quota_changed && dst->rate > 0)
            pg_tbucket_init(&dst->quota, dst->rate, dst->burst, now_ns);
    }
    rc = PG_OK;
out:
    if (lc->p != NULL)
        OPENSSL_cleanse(lc->p, sizeof *lc->p * lc->cap);
    free(lc->p);
    return rc;
}

int pg_tenants_load_string(pg_tenants *ts, const char *text, const char *name, int64_t now_ns, char *err,
                           size_t errlen)
{
    load_ctx lc = {0};
    int line = ini_parse_string(text, on_entry, &lc);
    return finish(ts, &lc, line, name, now_ns, err, errlen);
}

int pg_tenants_load_file(pg_tenants *ts, const char *path, int64_t now_ns, char *err, size_t errlen)
{
    /* Opened once, checked and read through the same descriptor. Symlinks are followed on
     * purpose: Kubernetes mounts a Secret's files as symlinks into a versioned directory. */
    err[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return PG_EINVAL;
    }
    FILE *f = pg_secret_fd_check(fd, path, err, errlen) == PG_OK ? fdopen(fd, "r") : NULL;
    if (f == NULL) {
        if (err[0] == '\0')
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return PG_EINVAL;
    }
    load_ctx lc = {0};
    int line = ini_parse_file(f, on_entry, &lc);
    fclose(f);
    return finish(ts, &lc, line, path, now_ns, err, errlen);
}

pg_tenant *pg_tenants_by_key(pg_tenants *ts, const char *akid, size_t len)
{
    for (size_t i = 0; i < ts->n; i++) {
        pg_tenant *t = &ts->t[i];
        if (t->active && strlen(t->access_key) == len && memcmp(t->access_key, akid, len) == 0)
            return t;
    }
    return NULL;
}

typedef struct match_ctx {
    const char *group;
} match_ctx;

static bool matches(const char *p, size_t n, void *ctx)
{
    const match_ctx *m = ctx;
    char pat[256];
    memcpy(pat, p, n);
    pat[n] = '\0';
    return fnmatch(pat, m->group, 0) == 0;
}

bool pg_tenant_may_read(const pg_tenant *t, const char *group)
{
    match_ctx m = {group};
    return t->active && each_pattern(t->groups, matches, &m);
}

bool pg_tenant_take(pg_tenant *t, int64_t now_ns)
{
    return t->rate <= 0 || pg_tbucket_take(&t->quota, now_ns, 1);
}

size_t pg_tenant_slot(const pg_tenants *ts, const pg_tenant *t)
{
    PG_ASSERT(t >= ts->t && t < ts->t + ts->n);
    return (size_t)(t - ts->t);
}

void pg_tenants_clear(pg_tenants *ts)
{
    OPENSSL_cleanse(ts, sizeof *ts);
}
