/*
 * runs.c: merged runs. Two or more consecutive complete buckets of one period are merged once
 * and the result kept (gw->runs), keyed by group, period, first bucket and length, so a later
 * request covering the same run folds one profile instead of each bucket. Complete buckets never
 * change, so a stored run never goes stale.
 */
#include "gp.h"
#include "profgate/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Group names are at most 255 bytes (validated), so the key always fits. */
#define RUN_KEY_MAX 400

static void free_run(void *v)
{
    pg_profile_free(v);
    free(v);
}

pg_lru *gw_runs_new(size_t bytes)
{
    return pg_lru_new(bytes, free_run);
}

void gp_runs_free(gpreq *g)
{
    for (size_t r = 0; r < g->nruns; r++)
        if (g->runs[r].acc != NULL) {
            free_run(g->runs[r].acc);
            g->runs[r].acc = NULL;
        }
}

static int run_key(const gpreq *g, const gprun *run, char *out, size_t outlen)
{
    const pg_bucket *b = &g->plan.b[run->first];
    int n = snprintf(out, outlen, "%s|%d|%lld|%zu", g->r.group, (int)b->period, (long long)b->start_s, run->count);
    PG_FMT_FITS(n, outlen);
    return n;
}

/* Splits the plan into runs (two or more consecutive complete buckets of one period), folds the
 * ones already stored and marks their buckets as not needed; the others get an accumulator. */
int gp_plan_runs(gpreq *g)
{
    memset(g->run_of, GP_NO_RUN, sizeof g->run_of);
    if (pg_lru_capacity(g->gw->runs) == 0)
        return PG_OK;
    const pg_plan *plan = &g->plan;
    for (size_t i = 0; i < plan->n;) {
        size_t j = i;
        while (j < plan->n && plan->b[j].complete && plan->b[j].period == plan->b[i].period)
            j++;
        if (j - i < 2) {
            i = j > i ? j : i + 1;
            continue;
        }
        gprun *run = &g->runs[g->nruns];
        *run = (gprun){.first = i, .count = j - i};
        char key[RUN_KEY_MAX];
        int klen = run_key(g, run, key, sizeof key);
        pg_lru_entry *e = pg_lru_get(g->gw->runs, key, (size_t)klen);
        if (e != NULL) {
            int rc = pg_profile_merge(&g->acc, pg_lru_value(e));
            pg_lru_release(g->gw->runs, e);
            if (rc != PG_OK)
                return rc;
            g->gw->run_hits++;
            g->gw->m.buckets[PG_MB_MERGED_RUN] += run->count;
            g->hits += run->count;
            for (size_t k = i; k < j; k++)
                g->skip[k] = true;
        } else {
            run->acc = malloc(sizeof *run->acc);
            if (run->acc == NULL || pg_profile_init(run->acc, &g->gw->limits) != PG_OK) {
                free(run->acc);
                return PG_ENOMEM;
            }
            run->pending = run->count;
            for (size_t k = i; k < j; k++)
                g->run_of[k] = (uint8_t)g->nruns;
            g->nruns++;
        }
        i = j;
    }
    return PG_OK;
}

/* Folds bucket i's profile into its run, or into the answer. A run whose last bucket is in is
 * folded into the answer and stored. */
int gp_fold_bucket(gpreq *g, size_t i, const pg_profile *prof)
{
    if (g->run_of[i] == GP_NO_RUN)
        return pg_profile_merge(&g->acc, prof);
    gprun *run = &g->runs[g->run_of[i]];
    int rc = pg_profile_merge(run->acc, prof);
    if (rc != PG_OK || --run->pending > 0)
        return rc;
    rc = pg_profile_merge(&g->acc, run->acc);
    char key[RUN_KEY_MAX];
    int klen = run_key(g, run, key, sizeof key);
    pg_profile *done = run->acc;
    run->acc = NULL;
    g->gw->run_stores++;
    /* Kept with its index: a stored run is the first thing most answers are built from, and
     * building on a copy needs the index (copied, not rebuilt, per request). */
    (void)pg_profile_shrink(done, true);
    pg_lru_put(g->gw->runs, key, (size_t)klen, done, pg_profile_memory(done)); /* takes it */
    return rc;
}

