/*
 * fetcher.c: in-flight calls keyed by bucket, each with a list of waiters. The upstream body is
 * parsed once into a shared pg_bucket_data; each waiter gets a reference. Waiters are detached
 * from their call before their callbacks run, so a callback that leaves or adds other waiters
 * never sees a list in the middle of being walked.
 *
 * Live buckets are kept fresh ahead of need: a hit on a live entry with less than
 * freshness.refresh_ahead of its freshness left starts one background call for it (no waiters),
 * whose result replaces the entry. A dashboard polling "the last hour" then keeps finding its live
 * buckets fresh instead of waiting for the upstream at every expiry, which matters most when the
 * upstream budget is scarce and the refetch would queue. A live value read from Redis is kept
 * only for what is left of its Redis TTL, so no reader extends the freshness its writer gave it.
 */
#include "profgate/fetcher.h"
#include "profgate/log.h"
#include "profgate/lru.h"
#include "profgate/pcodec.h"
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

/* "pg:v1:" + namespace (< 80) + group (<= 255) + period + start: always fits. */
#define KEY_MAX 400

#define INFLIGHT_MAGIC 0x666c6967u /* "flig" */

struct inflight {
    uint32_t magic;
    pg_fetcher *f;
    inflight *chain;
    char key[KEY_MAX];
    char group[256];
    pg_period period;
    int64_t start_s;
    bool complete;
    int64_t l2_ttl_ms;
    int64_t l2_min_left_ms; /* live: a Redis value with no more than this left counts as a miss */
    pg_up_origin origin; /* the request that started the call: for the upstream's logs and tracing;
                          * its class is raised when a more urgent waiter joins */
    pg_up_call *upcall;  /* while the upstream has it */
    pg_fetch_waiter *waiters;
    bool background;     /* a refresh nobody asked for: it goes on without waiters */
    bool lease_held;     /* this member fetches it for the fleet: dropped once the result is stored */
    int64_t lease_wait_until; /* waiting for another member's fetch until then (0: not waiting) */
    void *poll_timer;    /* pending while waiting to look in Redis again */
};

#define L2_MAX_RAW ((size_t)256 << 20) /* largest decompressed cache value accepted */

#define FETCHER_MAGIC 0x66657463u /* "fetc" */

struct pg_fetcher {
    uint32_t magic;
    uint64_t serials; /* the last pg_bucket_data serial given */
    pg_fetch_tiers t;
    bool closing;
    unsigned timers;        /* lease polls and the renewal tick pending */
    unsigned held;          /* leases this member holds (its calls for the fleet) */
    void *renew_timer;      /* the renewal tick, while leases are held */
    void (*closed)(void *);
    void *closed_data;
    pg_profile_limits lim;
    pg_fetcher_cfg cfg;
    pg_lru *l1;
    inflight *table[NBUCKETS];
    pg_fetcher_stats st;
};

/* What the L1 holds: one reference to a bucket, and when a live bucket stops being fresh. */
typedef struct l1_entry {
    pg_bucket_data *data;
    int64_t expires; /* monotonic ns; 0: complete, never expires */
    bool refreshing; /* a background refresh was started for it (at most one per entry) */
} l1_entry;

/* The refresh-ahead window: freshness.refresh_ahead, at most half of live_ttl so that an entry is
 * served for at least half its life before it is fetched again. */
static int64_t refresh_window_ms(const pg_fetcher *f)
{
    uint64_t w = f->cfg.refresh_ahead_ms, half = f->cfg.live_ttl_ms / 2;
    return (int64_t)(w < half ? w : half);
}

static void l1_free(void *v)
{
    l1_entry *e = v;
    pg_bucket_data_release(e->data);
    free(e);
}

/* A fresh cached bucket (a new reference), or NULL. Expired live entries are dropped here.
 * *refresh: the entry is live, within the refresh window, and nobody has started its refresh. */
static pg_bucket_data *l1_get(pg_fetcher *f, const char *key, bool *refresh)
{
    *refresh = false;
    if (f->l1 == NULL)
        return NULL;
    pg_lru_entry *le = pg_lru_get(f->l1, key, strlen(key));
    if (le == NULL) {
        f->st.l1_misses++;
        return NULL;
    }
    l1_entry *e = pg_lru_value(le);
    pg_bucket_data *d = NULL;
    int64_t now = f->t.now_ns(f->t.clock);
    if (e->expires != 0 && now >= e->expires) {
        f->st.l1_expired++;
        f->st.l1_misses++;
    } else {
        d = e->data;
        d->refs++;
        f->st.l1_hits++;
        if (e->expires != 0 && !e->refreshing && e->expires - now < refresh_window_ms(f) * PG_NS_PER_MS)
            *refresh = e->refreshing = true;
    }
    pg_lru_release(f->l1, le);
    if (d == NULL)
        pg_lru_remove(f->l1, key, strlen(key));
    return d;
}

/* The packed form of d (its encoding enc, len bytes, copied), or NULL: then the model is kept. */
static pg_bucket_data *packed_copy(const pg_bucket_data *d, const void *enc, size_t len)
{
    pg_bucket_data *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    pg_buf_init(&p->enc, len);
    if (pg_buf_append(&p->enc, enc, len) != PG_OK) {
        free(p);
        return NULL;
    }
    p->packed = true;
    p->refs = 1;
    p->json_bytes = d->json_bytes;
    p->source = d->source;
    p->serial = d->serial;
    return p;
}

/* fresh_ms: how long a live bucket stays fresh from now (0: not at all); ignored when complete.
 * enc: d's encoding (pg_pcodec, len bytes) if one was made, which a complete bucket is kept as. */
static void l1_put(pg_fetcher *f, const char *key, pg_bucket_data *d, bool complete, int64_t fresh_ms,
                   const void *enc, size_t len)
{
    if (pg_lru_capacity(f->l1) == 0 || (!complete && fresh_ms <= 0))
        return;
    l1_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        return;
    e->data = complete && enc != NULL && f->cfg.pack_complete ? packed_copy(d, enc, len) : NULL;
    if (e->data == NULL) {
        e->data = d;
        d->refs++;
    }
    e->expires = complete ? 0 : f->t.now_ns(f->t.clock) + fresh_ms * PG_NS_PER_MS;
    /* frees e when it cannot fit */
    pg_lru_put(f->l1, key, strlen(key), e, pg_bucket_data_memory(e->data));
}

size_t pg_bucket_data_memory(const pg_bucket_data *d)
{
    return sizeof *d + (d->packed ? d->enc.cap : pg_profile_memory(&d->prof));
}

int pg_bucket_data_profile(const pg_bucket_data *d, const pg_profile_limits *lim, pg_profile *scratch,
                           const pg_profile **out)
{
    if (!d->packed) {
        *out = &d->prof;
        return PG_OK;
    }
    char why[160];
    int rc = pg_profile_init(scratch, lim);
    if (rc != PG_OK)
        return rc;
    rc = pg_pcodec_decode(d->enc.data, d->enc.len, L2_MAX_RAW, scratch, why, sizeof why);
    if (rc != PG_OK) {
        pg_log(PG_LOG_ERROR, "a packed bucket did not decode: %s", why);
        pg_profile_free(scratch);
        return rc;
    }
    *out = scratch;
    return PG_OK;
}

static void maybe_closed(pg_fetcher *f);

static uint32_t hash(const char *s)
{
    return (uint32_t)(pg_hash64(s, strlen(s)) % NBUCKETS);
}

void pg_bucket_data_release(pg_bucket_data *d)
{
    if (d == NULL)
        return;
    PG_ASSERT(d->refs > 0);
    if (--d->refs == 0) {
        if (d->packed)
            pg_buf_free(&d->enc);
        else
            pg_profile_free(&d->prof);
        free(d);
    }
}

pg_fetcher *pg_fetcher_new(const pg_fetch_tiers *tiers, const pg_profile_limits *lim, const pg_fetcher_cfg *cfg)
{
    PG_ASSERT(tiers->up_get != NULL && tiers->up_raise != NULL && tiers->up_cancel != NULL && tiers->now_ns != NULL);
    PG_ASSERT(tiers->l2 == NULL || (tiers->l2_ready != NULL && tiers->l2_get != NULL && tiers->l2_set != NULL));
    PG_ASSERT(tiers->lease == NULL ||
              (tiers->l2 != NULL && tiers->lease_take != NULL && tiers->lease_drop != NULL &&
               tiers->lease_renew != NULL && tiers->after != NULL && tiers->cancel != NULL && cfg->lease_ttl_ms > 0 &&
               cfg->lease_poll_ms > 0 && cfg->lease_wait_ms > 0));
    pg_fetcher *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->magic = FETCHER_MAGIC;
    f->t = *tiers;
    f->lim = *lim;
    f->cfg = *cfg;
    /* Always there, so a reload can grow it from 0; at 0 it holds nothing. */
    if ((f->l1 = pg_lru_new(cfg->l1_bytes, l1_free)) == NULL) {
        free(f);
        return NULL;
    }
    return f;
}

/* A call waiting to look in Redis again, or NULL. */
static inflight *find_polling(const pg_fetcher *f)
{
    for (size_t i = 0; i < NBUCKETS; i++)
        for (inflight *c = f->table[i]; c != NULL; c = c->chain)
            if (c->poll_timer != NULL)
                return c;
    return NULL;
}

void pg_fetcher_close(pg_fetcher *f, void (*done)(void *data), void *data)
{
    PG_ASSERT(!f->closing);
    f->closing = true;
    f->closed = done;
    f->closed_data = data;
    /* Cancelling fires each timer now: the tick stops renewing, each poll ends its lookup. */
    if (f->renew_timer != NULL)
        f->t.cancel(f->t.clock, f->renew_timer);
    for (inflight *c; (c = find_polling(f)) != NULL;)
        f->t.cancel(f->t.clock, c->poll_timer);
    PG_ASSERT(f->timers == 0);
    maybe_closed(f);
}

void pg_fetcher_free(pg_fetcher *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        PG_ASSERT(f->table[i] == NULL || f->table[i]->waiters == NULL);
    pg_lru_free(f->l1);
    f->magic = 0;
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

/* Hands the outcome to every waiter and retires the call. data: a reference this consumes. */
static void finish(inflight *c, pg_bucket_data *data, const pg_apierr *err)
{
    pg_fetcher *f = c->f;
    /* After the result was stored (same connection, so Redis sees the SET first): the others
     * waiting for this fetch find it. After a failure: they may try themselves. */
    if (c->lease_held) {
        f->t.lease_drop(f->t.lease, c->key);
        f->held--;
    }
    unlink_call(f, c);
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
    pg_bucket_data_release(data); /* the call's own reference; the caches hold their own */
    c->magic = 0;
    free(c);
}

static bool l2_wanted(const pg_fetcher *f, const inflight *c)
{
    return f->t.l2 != NULL && c->l2_ttl_ms >= 0 && f->t.l2_ready(f->t.l2);
}

/* A fetched bucket into the caches: L1 (a complete one packed), and Redis. One encoding serves
 * both. */
static void store_fetched(pg_fetcher *f, const inflight *c, pg_bucket_data *d)
{
    pg_buf enc;
    pg_buf_init(&enc, L2_MAX_RAW);
    bool l2 = l2_wanted(f, c);
    bool pack = c->complete && f->cfg.pack_complete && pg_lru_capacity(f->l1) > 0;
    bool have = (l2 || pack) && pg_pcodec_encode(&d->prof, 3, &enc) == PG_OK;
    l1_put(f, c->key, d, c->complete, (int64_t)f->cfg.live_ttl_ms, have ? enc.data : NULL, enc.len);
    if (l2 && have) {
        f->t.l2_set(f->t.l2, c->key, strlen(c->key), enc.data, enc.len, c->l2_ttl_ms);
        f->st.l2_stores++;
    }
    pg_buf_free(&enc);
}

static void on_upstream(void *ctx, const pg_up_result *r)
{
    inflight *c = ctx;
    PG_ASSERT(c->magic == INFLIGHT_MAGIC);
    pg_fetcher *f = c->f;
    c->upcall = NULL;
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
            /* Compact before it is shared (it is only read from now on); a failed shrink just
             * leaves it larger. */
            (void)pg_profile_shrink(&data->prof, false);
            data->refs = 1;
            data->serial = ++f->serials;
            data->json_bytes = r->len;
            store_fetched(f, c, data);
        }
    }
    finish(c, data, err);
}

/* Every waiter left a lookup started for requests: nobody needs the bucket now. */
static bool abandoned(const inflight *c)
{
    return c->waiters == NULL && !c->background;
}

static void drop_abandoned(inflight *c)
{
    c->f->st.abandoned++;
    pg_apierr err;
    pg_apierr_set(&err, PG_AE_INTERNAL, "every request waiting for it left");
    finish(c, NULL, &err); /* no waiter to tell; drops a lease it holds */
}

/* A Redis miss, error or unusable value: on to the upstream, unless nobody needs it any more. */
static void to_upstream(inflight *c)
{
    if (abandoned(c)) {
        drop_abandoned(c);
        return;
    }
    pg_apierr err;
    pg_fetcher *f = c->f;
    if (f->t.up_get(f->t.up, c->group, c->period, c->start_s, &c->origin, on_upstream, c, &c->upcall, &err) != PG_OK)
        finish(c, NULL, &err);
}

static void on_l2(void *ctx, int status, const char *val, size_t len, int64_t ttl_ms);

static void maybe_closed(pg_fetcher *f)
{
    if (f->closing && f->timers == 0 && f->closed != NULL) {
        void (*cb)(void *) = f->closed;
        f->closed = NULL;
        cb(f->closed_data);
    }
}

/* Every lease_ttl/3 while this member holds leases: its calls may wait in the upstream's queue
 * longer than a lease lasts (a cold start needs more calls than the budget allows at once), and
 * a lease that expired under a live holder would let another member fetch the bucket again. */
static void on_renew_tick(void *ctx);

static void schedule_renew(pg_fetcher *f)
{
    if (f->renew_timer != NULL || f->closing || f->held == 0)
        return;
    f->timers++;
    f->renew_timer = f->t.after(f->t.clock, PG_MAX(f->cfg.lease_ttl_ms / 3, 1), on_renew_tick, f);
}

static void on_renew_tick(void *ctx)
{
    pg_fetcher *f = ctx;
    PG_ASSERT(f->magic == FETCHER_MAGIC);
    f->renew_timer = NULL;
    f->timers--;
    if (!f->closing) {
        for (size_t i = 0; i < NBUCKETS; i++)
            for (inflight *c = f->table[i]; c != NULL; c = c->chain)
                if (c->lease_held)
                    f->t.lease_renew(f->t.lease, c->key, f->cfg.lease_ttl_ms);
        schedule_renew(f);
    }
    maybe_closed(f);
}

/* Another member holds the bucket's lease: look in Redis again after a while. */
static void on_lease_poll(void *ctx)
{
    inflight *c = ctx;
    PG_ASSERT(c->magic == INFLIGHT_MAGIC);
    pg_fetcher *f = c->f;
    c->poll_timer = NULL;
    f->timers--;
    if (f->closing) {
        pg_apierr err;
        pg_apierr_set(&err, PG_AE_UNAVAILABLE, "profgate is shutting down");
        finish(c, NULL, &err);
    } else if (!f->t.l2_ready(f->t.l2) || f->t.l2_get(f->t.l2, c->key, strlen(c->key), on_l2, c) != PG_OK) {
        to_upstream(c); /* Redis went away meanwhile: on our own */
    }
    maybe_closed(f);
}

static void on_lease(void *ctx, int status, bool granted)
{
    inflight *c = ctx;
    PG_ASSERT(c->magic == INFLIGHT_MAGIC);
    pg_fetcher *f = c->f;
    if (status != PG_OK || f->closing) {
        f->st.lease_errors += status != PG_OK;
        to_upstream(c);
        return;
    }
    if (granted) {
        c->lease_held = true;
        f->held++;
        schedule_renew(f);
        /* Another member may have stored the bucket and dropped its lease between our Redis miss
         * and our lease: it stores before it drops, so one more look now sees its result. */
        if (!f->t.l2_ready(f->t.l2) || f->t.l2_get(f->t.l2, c->key, strlen(c->key), on_l2, c) != PG_OK)
            to_upstream(c);
        return;
    }
    int64_t now = f->t.now_ns(f->t.clock);
    if (c->lease_wait_until == 0) {
        f->st.lease_waits++;
        /* A live holder renews its lease until its call ends, within that call's deadline; a dead
         * one's lease expires sooner. A little more covers the last poll. */
        c->lease_wait_until = now + (int64_t)(f->cfg.lease_wait_ms + 2 * f->cfg.lease_poll_ms) * PG_NS_PER_MS;
    }
    if (now >= c->lease_wait_until) {
        to_upstream(c); /* waited as long as the holder's call could last: fetch it anyway */
        return;
    }
    f->timers++;
    c->poll_timer = f->t.after(f->t.clock, f->cfg.lease_poll_ms, on_lease_poll, c);
}

/* Not in Redis: with leases, the member that takes the bucket's lease fetches it and the others
 * wait for its result in Redis; without (or when the lease cannot be asked for), fetch now. */
static void lease_or_fetch(inflight *c)
{
    pg_fetcher *f = c->f;
    if (abandoned(c)) {
        drop_abandoned(c);
        return;
    }
    if (f->t.lease == NULL || f->closing || f->t.lease_take(f->t.lease, c->key, f->cfg.lease_ttl_ms, on_lease, c) != PG_OK)
        to_upstream(c);
}

static void on_l2(void *ctx, int status, const char *val, size_t len, int64_t ttl_ms)
{
    inflight *c = ctx;
    PG_ASSERT(c->magic == INFLIGHT_MAGIC);
    pg_fetcher *f = c->f;
    /* The key's TTL tells how it was stored. A live bucket is fresh for what is left of the TTL
     * its writer set, never more than live_ttl (a key without expiry, or with a retention-long
     * one, was stored complete by a replica whose settle has passed: the full live_ttl); with
     * too little left it is fetched again. A complete bucket must not adopt a value stored
     * while it was live (TTL within live_ttl): that was fetched before the bucket settled. */
    int64_t live_ms = (int64_t)f->cfg.live_ttl_ms;
    int64_t fresh_ms = ttl_ms < 0 || ttl_ms > live_ms ? live_ms : ttl_ms;
    if (status == PG_OK && (c->complete ? ttl_ms >= 0 && ttl_ms <= live_ms : fresh_ms <= c->l2_min_left_ms))
        status = PG_ENOTFOUND; /* counted as a miss; the fetch overwrites it */
    if (status != PG_OK) {
        if (status == PG_ENOTFOUND && c->lease_held) {
            to_upstream(c); /* the look after taking the lease: the bucket is ours to fetch */
            return;
        }
        if (status == PG_ENOTFOUND)
            f->st.l2_misses++;
        else
            f->st.l2_errors++;
        if (status == PG_ENOTFOUND)
            lease_or_fetch(c);
        else
            to_upstream(c);
        return;
    }
    pg_bucket_data *data = calloc(1, sizeof *data);
    char why[160] = "out of memory";
    if (data == NULL || pg_profile_init(&data->prof, &f->lim) != PG_OK ||
        pg_pcodec_decode(val, len, L2_MAX_RAW, &data->prof, why, sizeof why) != PG_OK) {
        /* Never served: counted, logged, fetched again and overwritten. */
        f->st.l2_corrupt++;
        pg_log(PG_LOG_WARN, "redis value for %s is unusable (%s); refetching it", c->key, why);
        if (data) {
            pg_profile_free(&data->prof);
            free(data);
        }
        to_upstream(c);
        return;
    }
    f->st.l2_hits++;
    f->st.lease_hits += c->lease_wait_until != 0 || c->lease_held;
    (void)pg_profile_shrink(&data->prof, false); /* as for an upstream answer */
    data->refs = 1;
    data->serial = ++f->serials;
    data->source = PG_SRC_REDIS;
    l1_put(f, c->key, data, c->complete, fresh_ms, val, len); /* Redis's bytes are its encoding */
    finish(c, data, NULL);
}

int pg_cache_key(const char *ns, const char *group, pg_period p, int64_t start_s, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "pg:v1:%s:%s:%s:%lld", ns, group, pg_period_name(p), (long long)start_s);
    return n > 0 && (size_t)n < outlen ? PG_OK : PG_ELIMIT;
}

static inflight *find_call(pg_fetcher *f, const char *key)
{
    inflight *c = f->table[hash(key)];
    while (c && strcmp(c->key, key) != 0)
        c = c->chain;
    return c;
}

/* Starts the call for key, with no waiters yet: Redis first when it is up (commands of one loop
 * turn are pipelined: one round trip for a whole plan), otherwise, or on a miss, the upstream.
 * l2_min_left_ms: see inflight. NULL when the upstream refused at once (err says why). */
static inflight *start_call(pg_fetcher *f, const char *key, const pg_fetch_req *rq, int64_t l2_min_left_ms,
                            const pg_up_origin *origin, pg_apierr *err)
{
    inflight *c = calloc(1, sizeof *c);
    if (c == NULL) {
        pg_apierr_set(err, PG_AE_INTERNAL, "out of memory");
        return NULL;
    }
    c->magic = INFLIGHT_MAGIC;
    c->f = f;
    c->complete = rq->complete;
    c->l2_ttl_ms = rq->l2_ttl_ms;
    c->l2_min_left_ms = l2_min_left_ms;
    c->period = rq->period;
    c->start_s = rq->start_s;
    int n = snprintf(c->key, sizeof c->key, "%s", key);
    PG_FMT_FITS(n, sizeof c->key);
    n = snprintf(c->group, sizeof c->group, "%s", rq->group);
    PG_FMT_FITS(n, sizeof c->group);
    if (origin != NULL)
        c->origin = *origin;
    bool via_l2 = f->t.l2 != NULL && f->t.l2_get(f->t.l2, key, strlen(key), on_l2, c) == PG_OK;
    if (!via_l2 && f->t.up_get(f->t.up, c->group, c->period, c->start_s, &c->origin, on_upstream, c, &c->upcall, err) != PG_OK) {
        free(c);
        return NULL;
    }
    uint32_t h = hash(key);
    c->chain = f->table[h];
    f->table[h] = c;
    f->st.calls++;
    f->st.inflight++;
    return c;
}

/* A hit on a live entry near the end of its freshness: one background call replaces it. Nobody
 * waits for it: a refusal (queue full, circuit open) just leaves the entry to expire, and the
 * next request after that fetches as usual. A Redis value counts only if it is fresher than the
 * entry being replaced. */
static void start_refresh(pg_fetcher *f, const char *key, const pg_fetch_req *rq)
{
    if (find_call(f, key) != NULL)
        return;
    pg_apierr rerr;
    pg_up_origin ro = rq->origin != NULL ? *rq->origin : (pg_up_origin){0};
    ro.cls = PG_FQ_REFRESH; /* behind the tenant's waiting requests, ahead of its bulk ones */
    inflight *c = start_call(f, key, rq, refresh_window_ms(f), &ro, &rerr);
    if (c != NULL) {
        c->background = true;
        f->st.refreshes++;
    } else {
        pg_log(PG_LOG_DEBUG, "refresh of %s not started: %s", key, rerr.message);
    }
}

/* A request now waits for call c: a refresh (or a bulk call) it joins becomes as urgent as the
 * request. It stays in the flow of the tenant that started it. */
static void raise_for(pg_fetcher *f, inflight *c, const pg_up_origin *origin)
{
    unsigned cls = origin != NULL ? origin->cls : PG_FQ_INTERACTIVE;
    if (cls >= c->origin.cls)
        return;
    c->origin.cls = (uint8_t)cls;
    if (c->upcall != NULL)
        f->t.up_raise(f->t.up, c->upcall, cls);
}

pg_fetch_outcome pg_fetcher_get(pg_fetcher *f, const pg_fetch_req *rq, pg_fetch_result *out, pg_apierr *err)
{
    memset(out, 0, sizeof *out);
    char key[KEY_MAX];
    if (pg_cache_key(f->cfg.ns, rq->group, rq->period, rq->start_s, key, sizeof key) != PG_OK) {
        pg_apierr_set(err, PG_AE_INTERNAL, "cache key too long");
        return PG_FETCH_FAILED;
    }
    bool refresh;
    if ((out->hit = l1_get(f, key, &refresh)) != NULL) {
        if (refresh)
            start_refresh(f, key, rq);
        return PG_FETCH_HIT;
    }
    pg_fetch_waiter *w = calloc(1, sizeof *w);
    if (w == NULL) {
        pg_apierr_set(err, PG_AE_INTERNAL, "out of memory");
        return PG_FETCH_FAILED;
    }
    w->cb = rq->cb;
    w->ctx = rq->ctx;
    inflight *c = find_call(f, key);
    out->coalesced = c != NULL;
    if (c == NULL) {
        if ((c = start_call(f, key, rq, 0, rq->origin, err)) == NULL) {
            free(w);
            return PG_FETCH_FAILED;
        }
    } else {
        f->st.coalesced++;
        raise_for(f, c, rq->origin);
    }
    w->call = c;
    w->next = c->waiters;
    if (c->waiters)
        c->waiters->prev = w;
    c->waiters = w;
    out->waiter = w;
    return PG_FETCH_WAIT;
}

void pg_fetcher_leave(pg_fetcher *f, pg_fetch_waiter *w)
{
    inflight *c = w->call;
    PG_ASSERT(c != NULL); /* answered waiters are freed before their callback; they cannot leave */
    if (w->prev)
        w->prev->next = w->next;
    else
        c->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w);
    /* The last one gone: a call still queued upstream is withdrawn (a tenant's client that left
     * should not spend the budget); one in flight finishes and its result is cached. A lookup
     * still in Redis or waiting for a lease is dropped when it gets that far (to_upstream). */
    if (abandoned(c) && c->upcall != NULL && f->t.up_cancel(f->t.up, c->upcall)) {
        c->upcall = NULL;
        drop_abandoned(c);
    }
}

void pg_fetcher_get_stats(const pg_fetcher *f, pg_fetcher_stats *out)
{
    *out = f->st;
    pg_lru_stats ls;
    pg_lru_get_stats(f->l1, &ls);
    out->l1_entries = ls.entries;
    out->l1_bytes = ls.bytes;
    out->l1_evictions = ls.evictions;
    out->l1_capacity = pg_lru_capacity(f->l1);
}

void pg_fetcher_reconfigure(pg_fetcher *f, const pg_fetcher_cfg *cfg)
{
    f->cfg.l1_bytes = cfg->l1_bytes;
    f->cfg.pack_complete = cfg->pack_complete; /* for buckets cached from now on */
    f->cfg.live_ttl_ms = cfg->live_ttl_ms;
    f->cfg.refresh_ahead_ms = cfg->refresh_ahead_ms;
    pg_lru_set_capacity(f->l1, cfg->l1_bytes);
}
