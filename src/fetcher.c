/*
 * fetcher.c: in-flight calls keyed by bucket, each with a list of waiters. The upstream body is
 * parsed once into a shared pg_bucket_data; each waiter gets a reference. Waiters are detached
 * from their call before their callbacks run, so a callback that leaves or adds other waiters
 * never sees a list in the middle of being walked.
 */
#include "profgate/fetcher.h"
#include "profgate/log.h"
#include "profgate/profile_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 1024

typedef struct inflight inflight;

struct pg_fetch_waiter {
    inflight *call; /* NULL once answered or left */
    pg_fetch_waiter *prev, *next;
    pg_fetch_cb cb;
    void *ctx;
};

struct inflight {
    pg_fetcher *f;
    inflight *chain;
    char key[320];
    pg_fetch_waiter *waiters;
};

struct pg_fetcher {
    pg_upstream *up;
    pg_profile_limits lim;
    inflight *table[NBUCKETS];
    pg_fetcher_stats st;
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h % NBUCKETS;
}

void pg_bucket_data_release(pg_bucket_data *d)
{
    if (d == NULL)
        return;
    PG_ASSERT(d->refs > 0);
    if (--d->refs == 0) {
        pg_profile_free(&d->prof);
        free(d);
    }
}

pg_fetcher *pg_fetcher_new(pg_upstream *u, const pg_profile_limits *lim)
{
    pg_fetcher *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->up = u;
    f->lim = *lim;
    return f;
}

void pg_fetcher_free(pg_fetcher *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        PG_ASSERT(f->table[i] == NULL || f->table[i]->waiters == NULL);
    free(f);
}

static void unlink_call(pg_fetcher *f, inflight *c)
{
    inflight **pp = &f->table[hash(c->key)];
    while (*pp != c)
        pp = &(*pp)->chain;
    *pp = c->chain;
    f->st.inflight--;
}

static void on_upstream(void *ctx, const pg_up_result *r)
{
    inflight *c = ctx;
    pg_fetcher *f = c->f;
    unlink_call(f, c);
    pg_bucket_data *data = NULL;
    pg_apierr perr;
    const pg_apierr *err = r->err;
    if (r->ok) {
        data = calloc(1, sizeof *data);
        char why[160] = "out of memory";
        if (data == NULL || pg_profile_init(&data->prof, &f->lim) != PG_OK ||
            pg_profile_from_json(&data->prof, r->body, r->len, why, sizeof why) != PG_OK) {
            /* Malformed upstream data is an upstream error: reported, never cached. */
            f->st.parse_errors++;
            pg_log(PG_LOG_ERROR, "upstream profile for %s is unusable: %s", c->key, why);
            pg_apierr_set(&perr, PG_AE_INTERNAL, "The upstream returned a profile profgate cannot use: %s", why);
            err = &perr;
            if (data) {
                pg_profile_free(&data->prof);
                free(data);
            }
            data = NULL;
        } else {
            data->refs = 1;
            data->json_bytes = r->len;
        }
    }
    /* Detach every waiter first: callbacks may leave or join other calls. */
    pg_fetch_waiter *w = c->waiters;
    c->waiters = NULL;
    for (pg_fetch_waiter *x = w; x; x = x->next)
        x->call = NULL;
    while (w != NULL) {
        pg_fetch_waiter *next = w->next;
        pg_fetch_cb cb = w->cb;
        void *wctx = w->ctx;
        free(w);
        if (data)
            data->refs++;
        cb(wctx, data, data ? NULL : err);
        w = next;
    }
    pg_bucket_data_release(data); /* the fetcher's own reference (the cache will keep it, #5) */
    free(c);
}

pg_fetch_waiter *pg_fetcher_get(pg_fetcher *f, const char *group, pg_period p, int64_t start_s, pg_fetch_cb cb,
                                void *ctx, bool *coalesced, pg_apierr *err)
{
    char key[320];
    snprintf(key, sizeof key, "%s|%s|%lld", group, pg_period_name(p), (long long)start_s);
    pg_fetch_waiter *w = calloc(1, sizeof *w);
    if (w == NULL) {
        pg_apierr_set(err, PG_AE_INTERNAL, "out of memory");
        return NULL;
    }
    w->cb = cb;
    w->ctx = ctx;
    uint32_t h = hash(key);
    inflight *c = f->table[h];
    while (c && strcmp(c->key, key) != 0)
        c = c->chain;
    *coalesced = c != NULL;
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            free(w);
            pg_apierr_set(err, PG_AE_INTERNAL, "out of memory");
            return NULL;
        }
        c->f = f;
        snprintf(c->key, sizeof c->key, "%s", key);
        if (pg_upstream_get_profile(f->up, group, p, start_s, on_upstream, c, err) != PG_OK) {
            free(c);
            free(w);
            return NULL;
        }
        c->chain = f->table[h];
        f->table[h] = c;
        f->st.calls++;
        f->st.inflight++;
    } else {
        f->st.coalesced++;
    }
    w->call = c;
    w->next = c->waiters;
    if (c->waiters)
        c->waiters->prev = w;
    c->waiters = w;
    return w;
}

void pg_fetcher_leave(pg_fetcher *f, pg_fetch_waiter *w)
{
    (void)f;
    inflight *c = w->call;
    PG_ASSERT(c != NULL); /* answered waiters are freed before their callback; they cannot leave */
    if (w->prev)
        w->prev->next = w->next;
    else
        c->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w);
    /* The call goes on without waiters: its result is parsed and dropped (kept by the cache, #5). */
}

void pg_fetcher_get_stats(const pg_fetcher *f, pg_fetcher_stats *out)
{
    *out = f->st;
}
