/*
 * runs.c: merged runs. Two or more consecutive complete buckets are merged once and the result
 * kept (gw->runs), keyed by group, first bucket and the periods of the buckets in order, so a
 * later request covering the same run folds one profile instead of each bucket. Runs of one
 * period (the whole hours of a day) and spans that mix periods (a sliding "last 24 hours": its
 * leading 5-minute buckets, the whole hours, the completed 5-minute buckets since) are both kept:
 * a request whose window has not moved folds one span and its live bucket; when the window moves,
 * the new span is built from the stored period runs. Complete buckets never change, so a stored
 * run never goes stale.
 */
#include "gp.h"
#include "profgate/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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
    int n = snprintf(out, outlen, "%s|%lld", g->r.group, (long long)b->start_s);
    PG_FMT_FITS(n, outlen);
    /* The periods in order, as "|period x count" segments: buckets are contiguous, so this names
     * every bucket of the run (the same span cut differently is a different run). */
    for (size_t i = 0; i < run->count;) {
        size_t k = i;
        while (k < run->count && b[k].period == b[i].period)
            k++;
        int m = snprintf(out + n, outlen - (size_t)n, "|%dx%zu", (int)b[i].period, k - i);
        PG_FMT_FITS(m, outlen - (size_t)n);
        n += m;
        i = k;
    }
    return n;
}

/* A stored run's key, or NULL. */
static pg_lru_entry *stored_run(gpreq *g, const gprun *run)
{
    char key[GP_RUN_KEY_MAX];
    int klen = run_key(g, run, key, sizeof key);
    return pg_lru_get(g->gw->runs, key, (size_t)klen);
}

void gp_acc_free(gpreq *g)
{
    if (g->acc_kept == NULL) {
        pg_profile_free(&g->acc);
        return;
    }
    pg_lru_release(g->gw->runs, g->acc_kept);
    g->acc_kept = NULL;
    memset(&g->acc, 0, sizeof g->acc); /* as pg_profile_free leaves a profile */
}

int gp_acc_own(gpreq *g)
{
    if (g->acc_kept == NULL)
        return PG_OK;
    pg_profile copy;
    int rc = pg_profile_copy(&copy, pg_lru_value(g->acc_kept), &g->acc.lim);
    if (rc != PG_OK)
        return rc;
    copy.has_start = g->acc.has_start, copy.start_ms = g->acc.start_ms;
    copy.has_end = g->acc.has_end, copy.end_ms = g->acc.end_ms;
    gp_acc_free(g);
    g->acc = copy;
    return PG_OK;
}

/* The answer becomes a view of kept profile e (the request takes the reference). */
static void acc_view(gpreq *g, pg_lru_entry *e)
{
    gp_acc_free(g);
    g->acc = *(const pg_profile *)pg_lru_value(e);
    g->acc_kept = e;
}

/* Something is about to be folded into the answer: it is no longer a stored run alone, and no
 * longer a view of one. */
static int answer_folds(gpreq *g)
{
    g->acc_is_run = false;
    g->acc_folds++;
    return gp_acc_own(g);
}

/* Folds p into the answer. */
static int fold_answer(gpreq *g, const pg_profile *p)
{
    return answer_folds(g) ?: pg_profile_merge(&g->acc, p);
}

/* Merges bucket d's profile into target, decoding it first if the L1 keeps it packed. */
static int merge_bucket(pg_profile *target, const pg_bucket_data *d)
{
    pg_profile scratch;
    const pg_profile *p;
    int rc = pg_bucket_data_profile(d, &target->lim, &scratch, &p);
    if (rc != PG_OK)
        return rc;
    rc = pg_profile_merge(target, p);
    if (p == &scratch)
        pg_profile_free(&scratch);
    return rc;
}

/* Folds a stored run into target (the answer, or the span being built) and skips its buckets. */
static int fold_stored(gpreq *g, pg_lru_entry *e, const gprun *run, pg_profile *target)
{
    int rc = PG_OK;
    if (target == &g->acc && g->acc_folds == 0) {
        /* The answer is this run alone, for now: a view of it (held), not a copy. */
        g->acc_folds++;
        acc_view(g, e);
        g->acc_is_run = true;
        g->acc_run_klen = (size_t)run_key(g, run, g->acc_run_key, sizeof g->acc_run_key);
    } else {
        rc = target == &g->acc ? fold_answer(g, pg_lru_value(e)) : pg_profile_merge(target, pg_lru_value(e));
        pg_lru_release(g->gw->runs, e);
    }
    g->gw->run_hits++;
    g->gw->m.buckets[PG_MB_MERGED_RUN] += run->count;
    g->hits += run->count;
    for (size_t k = run->first; k < run->first + run->count; k++)
        g->skip[k] = true;
    return rc;
}

static bool runs_full(const gpreq *g)
{
    return g->nruns == PG_ARRAY_LEN(g->runs);
}

/* A run to be built: an empty accumulator; NULL when out of memory. */
static gprun *new_run(gpreq *g, size_t first, size_t count, uint8_t parent)
{
    PG_ASSERT(!runs_full(g));
    gprun *run = &g->runs[g->nruns];
    *run = (gprun){.first = first, .count = count, .parent = parent};
    run->acc = malloc(sizeof *run->acc);
    if (run->acc == NULL || pg_profile_init(run->acc, &g->gw->limits) != PG_OK) {
        free(run->acc);
        run->acc = NULL;
        return NULL;
    }
    g->nruns++;
    return run;
}

static int piece_done(gpreq *g, gprun *run);

/* A run is complete: folded into its parent (a span, or the answer) and stored. */
static int run_complete(gpreq *g, gprun *run)
{
    gprun *parent = run->parent == GP_NO_RUN ? NULL : &g->runs[run->parent];
    int rc = parent ? pg_profile_merge(parent->acc, run->acc) : fold_answer(g, run->acc);
    char key[GP_RUN_KEY_MAX];
    int klen = run_key(g, run, key, sizeof key);
    pg_profile *done = run->acc;
    run->acc = NULL;
    g->gw->run_stores++;
    /* Kept with its index: a stored run is the first thing most answers are built from, and
     * building on a copy needs the index (copied, not rebuilt, per request). */
    (void)pg_profile_shrink(done, true);
    pg_lru_put(g->gw->runs, key, (size_t)klen, done, pg_profile_memory(done)); /* takes it */
    return rc ?: (parent ? piece_done(g, parent) : PG_OK);
}

/* One of the run's pieces (a bucket, or a run inside a span) is in. */
static int piece_done(gpreq *g, gprun *run)
{
    PG_ASSERT(run->pending > 0);
    return --run->pending > 0 ? PG_OK : run_complete(g, run);
}

/* The per-period runs of [i, j) (two or more consecutive buckets of one period), into parent (a
 * span's index, or GP_NO_RUN for the answer): stored ones folded, the others given an
 * accumulator; buckets outside them are single pieces of the span. *pieces: how many pieces
 * the span waits for. */
static int plan_period_runs(gpreq *g, size_t i, size_t j, uint8_t parent, size_t *pieces)
{
    const pg_plan *plan = &g->plan;
    pg_profile *target = parent == GP_NO_RUN ? &g->acc : g->runs[parent].acc;
    *pieces = 0;
    while (i < j) {
        size_t k = i;
        while (k < j && plan->b[k].period == plan->b[i].period)
            k++;
        if (k - i < 2 || runs_full(g)) {
            /* Single pieces (no room for another run is only a missed saving). */
            for (size_t b = i; b < k && parent != GP_NO_RUN; b++) {
                g->run_of[b] = parent;
                ++*pieces;
            }
            i = k;
            continue;
        }
        gprun probe = {.first = i, .count = k - i};
        pg_lru_entry *e = stored_run(g, &probe);
        if (e != NULL) {
            int rc = fold_stored(g, e, &probe, target);
            if (rc != PG_OK)
                return rc;
        } else {
            gprun *run = new_run(g, i, k - i, parent);
            if (run == NULL)
                return PG_ENOMEM;
            run->pending = run->count;
            for (size_t b = i; b < k; b++)
                g->run_of[b] = (uint8_t)(run - g->runs);
            ++*pieces;
        }
        i = k;
    }
    return PG_OK;
}

/* Splits the plan into runs and folds the ones already stored (their buckets are then not
 * fetched); the others get an accumulator. Two levels: each stretch of two or more consecutive
 * complete buckets is a span; a span that mixes periods (a sliding day: 5-minute buckets, whole
 * hours, 5-minute buckets) is kept whole, and built, when not stored, from its per-period runs
 * (stored or built) and its single buckets. A sliding request whose window has not moved then
 * folds one stored span; when it moves, the new span is built mostly from stored period runs. */
int gp_plan_runs(gpreq *g)
{
    memset(g->run_of, GP_NO_RUN, sizeof g->run_of);
    g->acc_is_run = false;
    g->acc_folds = 0;
    if (pg_lru_capacity(g->gw->runs) == 0)
        return PG_OK;
    const pg_plan *plan = &g->plan;
    for (size_t i = 0; i < plan->n;) {
        size_t j = i;
        while (j < plan->n && plan->b[j].complete)
            j++;
        if (j == i) {
            i++;
            continue;
        }
        bool mixed = false;
        for (size_t k = i + 1; k < j; k++)
            mixed |= plan->b[k].period != plan->b[i].period;
        size_t pieces;
        int rc;
        if (!mixed) {
            rc = plan_period_runs(g, i, j, GP_NO_RUN, &pieces);
        } else {
            gprun probe = {.first = i, .count = j - i};
            pg_lru_entry *e = stored_run(g, &probe);
            if (e != NULL) {
                rc = fold_stored(g, e, &probe, &g->acc);
            } else if (runs_full(g)) {
                rc = plan_period_runs(g, i, j, GP_NO_RUN, &pieces);
            } else {
                gprun *span = new_run(g, i, j - i, GP_NO_RUN);
                if (span == NULL)
                    return PG_ENOMEM;
                uint8_t si = (uint8_t)(span - g->runs);
                rc = plan_period_runs(g, i, j, si, &pieces);
                span = &g->runs[si];
                span->pending = pieces;
                if (rc == PG_OK && pieces == 0)
                    rc = run_complete(g, span); /* every piece was a stored run */
            }
        }
        if (rc != PG_OK)
            return rc;
        i = j;
    }
    return PG_OK;
}

/* A live bucket folded into an answer that holds only a stored run (the span of a sliding
 * window): that merge is kept too, keyed by the run and this version of the bucket, so the
 * requests of the next seconds (until the bucket is refreshed) copy it instead of merging. The
 * answer is then that kept merge, under its key, so the next live bucket is folded the same way:
 * a window usually ends in two (a bucket is complete only 10 minutes after its end), and merging
 * the second one on every request was an eighth of a sliding day's time. */
/* The answer now holds exactly what key names (a stored run, or one merged with live buckets). */
static void answer_is_kept(gpreq *g, const char *key, size_t n)
{
    if (n >= sizeof g->acc_run_key)
        return; /* too long to extend: later folds merge as usual */
    memcpy(g->acc_run_key, key, n);
    g->acc_run_klen = n;
    g->acc_is_run = true;
}

static int fold_live_onto_run(gpreq *g, size_t i, const pg_bucket_data *d)
{
    const pg_bucket *b = &g->plan.b[i];
    char key[GP_RUN_KEY_MAX + 64];
    int n = snprintf(key, sizeof key, "%.*s|+%dx%lld#%llu", (int)g->acc_run_klen, g->acc_run_key, (int)b->period,
                     (long long)b->start_s, (unsigned long long)d->serial);
    PG_FMT_FITS(n, sizeof key);
    pg_lru_entry *e = pg_lru_get(g->gw->runs, key, (size_t)n);
    if (e != NULL) {
        g->acc_folds++;
        acc_view(g, e);
        g->gw->run_hits++;
        answer_is_kept(g, key, (size_t)n);
        return PG_OK;
    }
    int rc = answer_folds(g) ?: merge_bucket(&g->acc, d);
    pg_profile *keep = rc == PG_OK ? malloc(sizeof *keep) : NULL;
    if (keep != NULL && pg_profile_copy(keep, &g->acc, &g->acc.lim) == PG_OK) {
        (void)pg_profile_shrink(keep, true);
        g->gw->run_stores++;
        pg_lru_put(g->gw->runs, key, (size_t)n, keep, pg_profile_memory(keep)); /* takes it */
    } else {
        free(keep); /* only a missed saving */
    }
    if (rc == PG_OK)
        answer_is_kept(g, key, (size_t)n); /* its key names what it holds, kept or not */
    return rc;
}

/* Folds bucket i's profile into its run, or into the answer. A run whose last piece is in is
 * folded into its parent (a span, or the answer) and stored. */
int gp_fold_bucket(gpreq *g, size_t i, const pg_bucket_data *d)
{
    if (g->run_of[i] == GP_NO_RUN) {
        if (g->acc_is_run && !g->plan.b[i].complete && d->serial != 0)
            return fold_live_onto_run(g, i, d);
        return answer_folds(g) ?: merge_bucket(&g->acc, d);
    }
    gprun *run = &g->runs[g->run_of[i]];
    int rc = merge_bucket(run->acc, d);
    return rc ?: piece_done(g, run);
}
