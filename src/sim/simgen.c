/*
 * simgen.c: the simulator's data. Programs are built once per group (bounded table, cleared when
 * full) with a splitmix64 generator; bucket samples use their own generator seeded by bucket, so
 * a bucket's data never depends on which other buckets were generated before it.
 */
#include "profgate/simgen.h"
#include "profgate/lru.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pg_sim_counter_names[PG_SIM_NCOUNTERS] = {"WALL_TIME", "RUNNABLE", "WAITING", "TIMED_WAITING",
                                                            "BLOCKED"};

#define BUCKET_S 300
#define MAX_GROUPS 256
#define MAX_DEPTH 40
#define PROGRAM_FACTOR 2
#define SAMPLES_PER_NODE 1

typedef struct program {
    char *group;
    uint32_t n;          /* nodes, 0 is the root */
    uint32_t *parent;
    uint32_t *name;      /* string id in the program's strtab */
    uint32_t *file;      /* string id or PG_STR_NONE */
    int32_t *line_min, *line_max; /* line_min 0: no line */
    double *cdf;         /* Zipf CDF over endpoint ranks */
    uint32_t *endpoint;  /* rank -> node */
    pg_strtab strs;
} program;

struct pg_simgen {
    pg_simgen_cfg cfg;
    uint32_t samples;
    program *progs[MAX_GROUPS];
    size_t nprogs;
    pg_lru *memo;
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t hash_str(const char *s)
{
    return pg_hash64(s, strlen(s));
}

static void program_free(program *p)
{
    if (p == NULL)
        return;
    free(p->group);
    free(p->parent);
    free(p->name);
    free(p->file);
    free(p->line_min);
    free(p->line_max);
    free(p->cdf);
    free(p->endpoint);
    pg_strtab_free(&p->strs);
    free(p);
}

/* Pieces of the per-group frame vocabulary. */
static const char *const syll[] = {"Acct", "Bill", "Cache", "Disp", "Enc", "Fetch", "Gate", "Hash", "Index", "Job",
                                   "Kern", "Load", "Map", "Node", "Order", "Parse", "Query", "Route", "Sched", "Tx",
                                   "User", "Valid", "Work", "Zip"};
static const char *const suffix[] = {"Service", "Handler", "Manager", "Worker", "Client", "Codec", "Pool", "Store"};
static const char *const method[] = {"run", "call", "apply", "get", "put", "load", "save", "encode", "decode",
                                     "handle", "process", "execute", "invoke", "read", "write", "flush",
                                     "lambda$0", "accept", "visit", "merge", "\xce\xbb$apply", "wait", "park"};
static const char *const pkgs[] = {"api", "core", "db", "io", "net", "util", "cache", "auth", "billing", "search",
                                   "queue", "render"};
static const char *const roots[] = {"java.lang.Thread.run", "java.util.concurrent.ThreadPoolExecutor$Worker.run",
                                    "io.netty.util.concurrent.FastThreadLocalRunnable.run", "main"};

/* Builds a group's call-tree program from its seed. Long because it is one deterministic
 * sequence of draws from the group's generator: splitting it would make the order of draws, which
 * fixes every generated profile, harder to see and easier to change by accident. */
static program *program_build(const pg_simgen *g, const char *group)
{
    program *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    uint32_t n = g->cfg.nodes * PROGRAM_FACTOR + 1;
    p->group = strdup(group);
    p->n = n;
    p->parent = calloc(n, sizeof *p->parent);
    p->name = calloc(n, sizeof *p->name);
    p->file = calloc(n, sizeof *p->file);
    p->line_min = calloc(n, sizeof *p->line_min);
    p->line_max = calloc(n, sizeof *p->line_max);
    p->cdf = calloc(n, sizeof *p->cdf);
    p->endpoint = calloc(n, sizeof *p->endpoint);
    uint8_t *depth = calloc(n, 1);
    pg_strtab_init(&p->strs, (size_t)64 << 20, 4u << 20);
    /* (parent, name) pairs seen, so siblings never share a name. */
    pg_strtab pairs;
    pg_strtab_init(&pairs, (size_t)64 << 20, 4u << 20);
    if (!p->group || !p->parent || !p->name || !p->file || !p->line_min || !p->line_max || !p->cdf || !p->endpoint ||
        !depth) {
        free(depth);
        pg_strtab_free(&pairs);
        program_free(p);
        return NULL;
    }
    uint64_t s = g->cfg.seed ^ hash_str(group);
    /* The group's vocabulary: a few hundred classes, each with a handful of methods; which
     * syllables make up class k depends on the group. */
    uint32_t nclasses = 32 + g->cfg.nodes / 16;
    uint32_t voff = (uint32_t)(hash_str(group) % 9973);
    p->parent[0] = UINT32_MAX;
    p->name[0] = PG_STR_NONE;
    p->file[0] = PG_STR_NONE;
    for (uint32_t i = 1; i < n; i++) {
        uint32_t par;
        if (i <= PG_ARRAY_LEN(roots)) {
            par = 0;
        } else if (unit(&s) < 0.65) {
            /* Locality: call something recent, which builds deep chains. */
            uint32_t back = 1 + (uint32_t)(splitmix(&s) % PG_MIN(i - 1, 6u));
            par = i - back;
        } else {
            /* A hub: Zipf-like preference for early (shallow, popular) frames. */
            double u = unit(&s);
            par = 1 + (uint32_t)((double)(i - 1) * u * u * u);
        }
        while (par != 0 && depth[par] >= MAX_DEPTH)
            par = p->parent[par];
        char name[160];
        char pair[176];
        for (int attempt = 0;; attempt++) {
            if (par == 0) {
                snprintf(name, sizeof name, "%s%s", roots[(i - 1) % PG_ARRAY_LEN(roots)],
                         attempt ? "$" : "");
                if (attempt)
                    snprintf(name + strlen(name), sizeof name - strlen(name), "%d", attempt);
            } else {
                /* Zipf-like reuse of classes and methods. */
                double u = unit(&s);
                uint32_t cls = (uint32_t)((double)nclasses * u * u) + voff;
                const char *pk = pkgs[cls % PG_ARRAY_LEN(pkgs)];
                const char *m = method[splitmix(&s) % PG_ARRAY_LEN(method)];
                snprintf(name, sizeof name, "%s.%s%s%s.%s%s", pk, syll[cls % PG_ARRAY_LEN(syll)],
                         syll[(cls / PG_ARRAY_LEN(syll)) % PG_ARRAY_LEN(syll)], suffix[cls % PG_ARRAY_LEN(suffix)], m,
                         attempt > 2 ? "$" : "");
                if (attempt > 2)
                    snprintf(name + strlen(name), sizeof name - strlen(name), "%d", attempt);
            }
            snprintf(pair, sizeof pair, "%u/%s", par, name);
            uint32_t before = pairs.n;
            pg_strtab_intern(&pairs, pair, strlen(pair));
            if (pairs.n != before)
                break;
        }
        p->parent[i] = par;
        depth[i] = (uint8_t)(depth[par] + 1);
        p->name[i] = pg_strtab_intern(&p->strs, name, strlen(name));
        p->file[i] = PG_STR_NONE;
        if (par != 0 && unit(&s) < 0.5) {
            /* "com.g.pkg.ClassName.method" -> "ClassName.java" */
            const char *end = strrchr(name, '.');
            const char *start = end;
            while (start > name && start[-1] != '.')
                start--;
            char file[96];
            snprintf(file, sizeof file, "%.*s.java", (int)PG_MIN(end - start, 80), start);
            p->file[i] = pg_strtab_intern(&p->strs, file, strlen(file));
            int32_t line = 10 + (int32_t)(splitmix(&s) % 900);
            p->line_min[i] = line;
            p->line_max[i] = unit(&s) < 0.5 ? line : line + (int32_t)(splitmix(&s) % 40);
        }
    }
    /* Endpoints: a random permutation of the frames, Zipf(1) weights by rank. */
    for (uint32_t i = 0; i < n; i++)
        p->endpoint[i] = i;
    for (uint32_t i = n - 1; i > 1; i--) {
        uint32_t j = 1 + (uint32_t)(splitmix(&s) % i);
        uint32_t t = p->endpoint[i];
        p->endpoint[i] = p->endpoint[j];
        p->endpoint[j] = t;
    }
    double sum = 0;
    for (uint32_t r = 1; r < n; r++) {
        sum += 1.0 / pow((double)r, 0.9);
        p->cdf[r] = sum;
    }
    for (uint32_t r = 1; r < n; r++)
        p->cdf[r] /= sum;
    free(depth);
    pg_strtab_free(&pairs);
    return p;
}

static program *program_get(pg_simgen *g, const char *group)
{
    for (size_t i = 0; i < g->nprogs; i++)
        if (strcmp(g->progs[i]->group, group) == 0)
            return g->progs[i];
    if (g->nprogs == MAX_GROUPS) {
        /* Rare (hundreds of groups): rebuilding is deterministic, so forgetting is safe. */
        for (size_t i = 0; i < g->nprogs; i++)
            program_free(g->progs[i]);
        g->nprogs = 0;
    }
    program *p = program_build(g, group);
    if (p != NULL)
        g->progs[g->nprogs++] = p;
    return p;
}

static void memo_free(void *v)
{
    pg_simacc *a = v;
    free(a->counts);
    free(a);
}

pg_simgen *pg_simgen_new(const pg_simgen_cfg *cfg)
{
    pg_simgen *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->cfg = *cfg;
    g->cfg.data_since_s = pg_floor_div(cfg->data_since_s, BUCKET_S) * BUCKET_S;
    g->samples = cfg->nodes * SAMPLES_PER_NODE;
    g->memo = pg_lru_new(cfg->cache_bytes, memo_free);
    if (g->memo == NULL) {
        free(g);
        return NULL;
    }
    return g;
}

void pg_simgen_free(pg_simgen *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->nprogs; i++)
        program_free(g->progs[i]);
    pg_lru_free(g->memo);
    free(g);
}

uint32_t pg_simgen_samples_per_bucket(const pg_simgen *g)
{
    return g->samples;
}

bool pg_simgen_has_data(const pg_simgen *g, int64_t start_s, int64_t end_s, int64_t now_ms)
{
    return end_s > g->cfg.data_since_s && start_s * 1000 < now_ms;
}

int pg_simgen_acc_init(pg_simgen *g, const char *group, pg_simacc *acc)
{
    memset(acc, 0, sizeof *acc);
    program *p = program_get(g, group);
    if (p == NULL)
        return PG_ENOMEM;
    acc->nprog = p->n;
    acc->counts = calloc((size_t)p->n * PG_SIM_NCOUNTERS, sizeof *acc->counts);
    return acc->counts ? PG_OK : PG_ENOMEM;
}

void pg_simgen_acc_free(pg_simacc *acc)
{
    free(acc->counts);
    acc->counts = NULL;
}

static void acc_merge(pg_simacc *dst, const pg_simacc *src)
{
    PG_ASSERT(dst->nprog == src->nprog);
    size_t n = (size_t)dst->nprog * PG_SIM_NCOUNTERS;
    for (size_t i = 0; i < n; i++)
        dst->counts[i] += src->counts[i];
    dst->samples += src->samples;
    dst->duration_ms += src->duration_ms;
    dst->cpu_s += src->cpu_s;
}

/* The samples of one 5-minute bucket before now_ms. */
static void gen_bucket(pg_simgen *g, const program *p, int64_t start_s, int64_t now_ms, pg_simacc *acc)
{
    if (start_s < g->cfg.data_since_s || start_s * 1000 >= now_ms)
        return;
    uint64_t s = g->cfg.seed ^ hash_str(p->group) ^ ((uint64_t)start_s * UINT64_C(0x2545f4914f6cdd1d));
    uint32_t rot = (uint32_t)(splitmix(&s) % (p->n - 1)); /* this bucket's own hot spots */
    uint32_t taken = 0;
    for (uint32_t i = 0; i < g->samples; i++) {
        int64_t at_ms = start_s * 1000 + (int64_t)i * BUCKET_S * 1000 / g->samples;
        if (at_ms >= now_ms)
            break;
        double u = unit(&s);
        /* Binary search of the CDF for the endpoint rank. */
        uint32_t lo = 1, hi = p->n - 1;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (p->cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        uint32_t rank = lo;
        if (unit(&s) < 0.3)
            rank = 1 + (rank - 1 + rot) % (p->n - 1);
        uint32_t node = p->endpoint[rank];
        double st = unit(&s);
        int k = st < 0.5 ? 1 : st < 0.75 ? 2 : st < 0.9 ? 3 : 4;
        acc->counts[(size_t)node * PG_SIM_NCOUNTERS] += 1;
        acc->counts[(size_t)node * PG_SIM_NCOUNTERS + k] += 1;
        taken++;
    }
    int64_t end_ms = PG_MIN((start_s + BUCKET_S) * 1000, now_ms);
    acc->samples += taken;
    acc->duration_ms += end_ms - start_s * 1000;
    acc->cpu_s += taken / 2;
}

int pg_simgen_add(pg_simgen *g, const char *group, pg_period per, int64_t start_s, int64_t now_ms, pg_simacc *acc)
{
    program *p = program_get(g, group);
    if (p == NULL)
        return PG_ENOMEM;
    int64_t len = pg_period_seconds(per);
    if (per == PG_P5M) {
        gen_bucket(g, p, start_s, now_ms, acc);
        return PG_OK;
    }
    bool complete = (start_s + len) * 1000 <= now_ms;
    char key[320];
    int klen = snprintf(key, sizeof key, "%s|%d|%lld", group, (int)per, (long long)start_s);
    if (complete) {
        pg_lru_entry *e = pg_lru_get(g->memo, key, (size_t)klen);
        if (e != NULL) {
            acc_merge(acc, pg_lru_value(e));
            pg_lru_release(g->memo, e);
            return PG_OK;
        }
    }
    /* An aggregate is exactly the sum of its parts: 24 hours, or 12 five-minute buckets. */
    pg_simacc part;
    memset(&part, 0, sizeof part);
    part.nprog = p->n;
    part.counts = calloc((size_t)p->n * PG_SIM_NCOUNTERS, sizeof *part.counts);
    if (part.counts == NULL)
        return PG_ENOMEM;
    pg_period sub = per == PG_P1D ? PG_P1H : PG_P5M;
    int64_t step = pg_period_seconds(sub);
    for (int64_t t = start_s; t < start_s + len; t += step) {
        int rc = pg_simgen_add(g, group, sub, t, now_ms, &part);
        if (rc != PG_OK) {
            free(part.counts);
            return rc;
        }
    }
    acc_merge(acc, &part);
    if (complete) {
        pg_simacc *copy = malloc(sizeof *copy);
        if (copy != NULL) {
            *copy = part;
            pg_lru_put(g->memo, key, (size_t)klen, copy, (size_t)p->n * PG_SIM_NCOUNTERS * sizeof *part.counts);
            return PG_OK;
        }
    }
    free(part.counts);
    return PG_OK;
}

int pg_simgen_profile(pg_simgen *g, const char *group, const pg_simacc *acc, int64_t start_ms, int64_t end_ms,
                      pg_profile *out)
{
    program *p = program_get(g, group);
    if (p == NULL || p->n != acc->nprog)
        return PG_EINVAL;
    uint32_t *map = malloc((size_t)p->n * sizeof *map);
    if (map == NULL)
        return PG_ENOMEM;
    for (uint32_t i = 0; i < p->n; i++)
        map[i] = PG_NODE_NONE;
    map[0] = PG_ROOT;
    int rc = PG_OK;
    uint32_t chain[MAX_DEPTH + 2];
    for (uint32_t i = 1; rc == PG_OK && i < p->n; i++) {
        const uint64_t *c = &acc->counts[(size_t)i * PG_SIM_NCOUNTERS];
        if (c[0] == 0)
            continue;
        /* Create the path from the nearest mapped ancestor down to i. */
        uint32_t depth = 0;
        for (uint32_t x = i; map[x] == PG_NODE_NONE; x = p->parent[x])
            chain[depth++] = x;
        for (uint32_t d = depth; rc == PG_OK && d-- > 0;) {
            uint32_t x = chain[d];
            size_t len;
            const char *name = pg_strtab_get(&p->strs, p->name[x], &len);
            uint32_t id = pg_profile_child(out, map[p->parent[x]], name, len);
            if (id == PG_NODE_NONE) {
                rc = PG_ELIMIT;
                break;
            }
            map[x] = id;
            if (p->file[x] != PG_STR_NONE) {
                const char *f = pg_strtab_get(&p->strs, p->file[x], &len);
                rc = pg_profile_set_file(out, id, f, len);
                rc = rc ?: pg_profile_add_line(out, id, p->line_min[x], p->line_max[x]);
            }
        }
        for (int k = 0; rc == PG_OK && k < PG_SIM_NCOUNTERS; k++)
            if (c[k] != 0)
                rc = pg_profile_add_count(out, map[i], pg_sim_counter_names[k], strlen(pg_sim_counter_names[k]),
                                          (double)c[k]);
    }
    free(map);
    if (rc != PG_OK)
        return rc;
    out->has_start = out->has_end = true;
    out->start_ms = start_ms;
    out->end_ms = end_ms;
    out->has_duration = out->has_samples = out->has_cpu = true;
    out->duration_ms = (double)acc->duration_ms;
    out->num_samples = (double)acc->samples;
    out->cpu_s = (double)acc->cpu_s;
    /* Every bucket samples at the same rate, so the weights agree across any merge. */
    double rate = (double)g->samples / BUCKET_S;
    for (int k = 0; rc == PG_OK && k < PG_SIM_NCOUNTERS; k++)
        rc = pg_profile_set_weight(out, pg_sim_counter_names[k], strlen(pg_sim_counter_names[k]), rate);
    pg_value *extra = pg_value_struct_new();
    if (extra == NULL)
        return PG_ENOMEM;
    out->meta_extra = extra;
    /* Each member is filled before the next is added: adding may move the members. */
    char fleet_id[300];
    snprintf(fleet_id, sizeof fleet_id, "%s-fleet", group);
    pg_value *m = pg_value_set(extra, "fleetInfo", 9);
    if (m == NULL)
        return PG_ENOMEM;
    m->kind = PG_V_STRUCT;
    rc = pg_value_set_str(m, "id", fleet_id);
    rc = rc ?: pg_value_set_str(m, "type", "UNKNOWN");
    m = rc ? NULL : pg_value_set(extra, "agentInfo", 9);
    if (m == NULL)
        return PG_ENOMEM;
    m->kind = PG_V_STRUCT;
    rc = pg_value_set_str(m, "type", "ProfgateSimAgent");
    rc = rc ?: pg_value_set_str(m, "version", "1.0.0");
    rc = rc ?: pg_value_set_str(extra, "runtimeVersion", "17.0.15");
    return rc;
}
