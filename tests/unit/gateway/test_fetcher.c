/* Unit tests for fetcher.c through its seam (pg_fetch_tiers): a fake upstream, a fake Redis and
 * a fake clock, so coalescing, leaving, refresh-ahead, class raising, failures and the
 * remaining-TTL rules are checked one event at a time, without a loop or a network. Each fake
 * records what the fetcher asked of it; the test decides when and how each request completes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profgate/fetcher.h"
#include "profgate/pcodec.h"
#include "profgate/profile_json.h"

#define MS PG_NS_PER_MS
#define LIVE_TTL_MS 30000
#define AHEAD_MS 5000
#define MAXREQ 16

/* ---------------------------------------------------------------- fakes */

typedef struct up_req {
    char group[64];
    pg_period period;
    int64_t start_s;
    unsigned cls;
    pg_up_done done;
    void *ctx;
    bool answered;
    bool started;   /* the upstream has started it: it can no longer be withdrawn */
    bool cancelled;
} up_req;

typedef struct l2_req {
    char key[400];
    pg_redis_get_cb cb;
    void *ctx;
    bool answered;
} l2_req;

typedef struct lease_req {
    char key[400];
    void (*cb)(void *ctx, int status, bool granted);
    void *ctx;
    bool answered;
} lease_req;

typedef struct timer_req {
    uint64_t ms;
    void (*cb)(void *ctx);
    void *ctx;
    bool fired;
} timer_req;

typedef struct world {
    int64_t now;
    bool unpacked; /* complete buckets kept as models (cache.merged_bytes = 0) */
    lease_req lease[MAXREQ];
    size_t nlease;
    size_t drops, renews;
    char dropped[400], renewed[400];
    timer_req timers[MAXREQ];
    size_t ntimers;
    up_req up[MAXREQ];
    size_t nup;
    int up_refuse; /* >0: refuse that many calls at once */
    size_t raises;
    l2_req l2[MAXREQ];
    size_t nl2;
    bool l2_up;
    size_t l2_sets;
    char l2_set_key[400];
    int64_t l2_set_ttl;
    pg_fetcher *f;
} world;

static int fake_up_get(void *up, const char *group, pg_period p, int64_t start_s, const pg_up_origin *origin,
                       pg_up_done done, void *ctx, pg_up_call **handle, pg_apierr *err)
{
    world *w = up;
    if (w->up_refuse > 0) {
        w->up_refuse--;
        pg_apierr_set(err, PG_AE_UNAVAILABLE, "queue full");
        return PG_ELIMIT;
    }
    assert_true(w->nup < MAXREQ);
    up_req *r = &w->up[w->nup++];
    snprintf(r->group, sizeof r->group, "%s", group);
    r->period = p;
    r->start_s = start_s;
    r->cls = origin ? origin->cls : PG_FQ_INTERACTIVE;
    r->done = done;
    r->ctx = ctx;
    *handle = (pg_up_call *)r; /* opaque to the fetcher: it only hands it back to up_raise */
    return PG_OK;
}

static void fake_up_raise(void *up, pg_up_call *c, unsigned cls)
{
    world *w = up;
    up_req *r = (up_req *)c;
    assert_true(r >= w->up && r < w->up + w->nup);
    assert_true(cls < r->cls);
    r->cls = cls;
    w->raises++;
}

static bool fake_up_cancel(void *up, pg_up_call *c)
{
    world *w = up;
    up_req *r = (up_req *)c;
    assert_true(r >= w->up && r < w->up + w->nup);
    assert_false(r->answered);
    if (r->started)
        return false;
    r->answered = r->cancelled = true;
    return true;
}

static bool fake_l2_ready(void *l2)
{
    return ((world *)l2)->l2_up;
}

static int fake_l2_get(void *l2, const char *key, size_t klen, pg_redis_get_cb cb, void *ctx)
{
    world *w = l2;
    if (!w->l2_up)
        return PG_EIO;
    assert_true(w->nl2 < MAXREQ);
    l2_req *r = &w->l2[w->nl2++];
    snprintf(r->key, sizeof r->key, "%.*s", (int)klen, key);
    r->cb = cb;
    r->ctx = ctx;
    return PG_OK;
}

static void fake_l2_set(void *l2, const char *key, size_t klen, const void *val, size_t len, int64_t ttl_ms)
{
    world *w = l2;
    (void)val;
    assert_true(len > 0);
    w->l2_sets++;
    snprintf(w->l2_set_key, sizeof w->l2_set_key, "%.*s", (int)klen, key);
    w->l2_set_ttl = ttl_ms;
}

static int64_t fake_now(void *clock)
{
    return ((world *)clock)->now;
}

static void *fake_after(void *clock, uint64_t ms, void (*cb)(void *ctx), void *ctx)
{
    world *w = clock;
    assert_true(w->ntimers < MAXREQ);
    w->timers[w->ntimers] = (timer_req){.ms = ms, .cb = cb, .ctx = ctx};
    return &w->timers[w->ntimers++];
}

static void fake_cancel(void *clock, void *timer)
{
    (void)clock;
    timer_req *t = timer;
    assert_false(t->fired);
    t->fired = true;
    t->cb(t->ctx);
}

static int fake_lease_take(void *lease, const char *key, uint64_t ttl_ms, void (*cb)(void *, int, bool), void *ctx)
{
    world *w = lease;
    assert_int_equal(ttl_ms, 10000);
    assert_true(w->nlease < MAXREQ);
    lease_req *l = &w->lease[w->nlease++];
    snprintf(l->key, sizeof l->key, "%s", key);
    l->cb = cb;
    l->ctx = ctx;
    return PG_OK;
}

static void fake_lease_drop(void *lease, const char *key)
{
    world *w = lease;
    w->drops++;
    snprintf(w->dropped, sizeof w->dropped, "%s", key);
}

static void fake_lease_renew(void *lease, const char *key, uint64_t ttl_ms)
{
    world *w = lease;
    assert_int_equal(ttl_ms, 10000);
    w->renews++;
    snprintf(w->renewed, sizeof w->renewed, "%s", key);
}

static void world_init_with(world *w, bool with_l2, bool with_leases)
{
    memset(w, 0, sizeof *w);
    w->now = 1000 * PG_NS_PER_S;
    pg_fetch_tiers t = {.up = w, .up_get = fake_up_get, .up_raise = fake_up_raise, .up_cancel = fake_up_cancel,
                        .clock = w, .now_ns = fake_now,
                        .after = fake_after, .cancel = fake_cancel};
    if (with_l2) {
        t.l2 = w;
        t.l2_ready = fake_l2_ready;
        t.l2_get = fake_l2_get;
        t.l2_set = fake_l2_set;
        w->l2_up = true;
    }
    if (with_leases) {
        t.lease = w;
        t.lease_take = fake_lease_take;
        t.lease_drop = fake_lease_drop;
        t.lease_renew = fake_lease_renew;
    }
    pg_fetcher_cfg cfg = {.l1_bytes = 64 << 20, .pack_complete = true, .live_ttl_ms = LIVE_TTL_MS, .refresh_ahead_ms = AHEAD_MS,
                          .lease_ttl_ms = 10000, .lease_poll_ms = 100, .lease_wait_ms = 30000};
    snprintf(cfg.ns, sizeof cfg.ns, "test");
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    w->f = pg_fetcher_new(&t, &lim, &cfg);
    assert_non_null(w->f);
}

static void world_init(world *w, bool with_l2)
{
    world_init_with(w, with_l2, false);
}

static void lease_answer(world *w, size_t i, bool granted)
{
    lease_req *l = &w->lease[i];
    assert_false(l->answered);
    l->answered = true;
    l->cb(l->ctx, PG_OK, granted);
}

static void fire(world *w, size_t i)
{
    timer_req *t = &w->timers[i];
    assert_false(t->fired);
    t->fired = true;
    t->cb(t->ctx);
}

/* A profile whose start identifies which answer it was. */
static void body_of(int64_t start_ms, char *out, size_t outlen)
{
    snprintf(out, outlen, "{\"start\":%lld,\"end\":%lld,\"callgraph\":{\"children\":{\"f\":{\"counts\":{\"W\":1}}}}}",
             (long long)start_ms, (long long)start_ms + 300000);
}

static void up_answer(world *w, size_t i, int64_t start_ms)
{
    up_req *r = &w->up[i];
    assert_false(r->answered);
    r->answered = true;
    char body[256];
    body_of(start_ms, body, sizeof body);
    pg_up_result res = {.ok = true, .status = 200, .body = body, .len = strlen(body), .attempts = 1};
    r->done(r->ctx, &res);
}

static void up_fail(world *w, size_t i, pg_apierr_kind kind)
{
    up_req *r = &w->up[i];
    r->answered = true;
    pg_apierr e;
    pg_apierr_set(&e, kind, "upstream says no");
    pg_up_result res = {.ok = false, .status = 503, .err = &e, .attempts = 3};
    r->done(r->ctx, &res);
}

/* Redis answers a GET with a stored profile (start_ms) and its remaining TTL (-1: none). */
static void l2_answer(world *w, size_t i, int64_t start_ms, int64_t ttl_ms)
{
    l2_req *r = &w->l2[i];
    r->answered = true;
    char body[256];
    body_of(start_ms, body, sizeof body);
    pg_profile p;
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    assert_int_equal(pg_profile_init(&p, &lim), PG_OK);
    char why[128];
    assert_int_equal(pg_profile_from_json(&p, body, strlen(body), why, sizeof why), PG_OK);
    pg_buf enc;
    pg_buf_init(&enc, 1 << 20);
    assert_int_equal(pg_pcodec_encode(&p, 1, &enc), PG_OK);
    r->cb(r->ctx, PG_OK, enc.data, enc.len, ttl_ms);
    pg_buf_free(&enc);
    pg_profile_free(&p);
}

static void l2_miss(world *w, size_t i)
{
    w->l2[i].answered = true;
    w->l2[i].cb(w->l2[i].ctx, PG_ENOTFOUND, NULL, 0, -2);
}

/* What a waiter was told. */
typedef struct got {
    int calls;
    int64_t start_ms; /* of the profile; -1: error */
    pg_bucket_source source;
    pg_apierr_kind kind;
    size_t hit_memory, model_memory; /* an L1 hit: what the L1 is charged, and its decoded model's size */
} got;

static void on_got(void *ctx, pg_bucket_data *data, const pg_apierr *err)
{
    got *g = ctx;
    g->calls++;
    if (data == NULL) {
        g->start_ms = -1;
        g->kind = err->kind;
        return;
    }
    g->start_ms = data->prof.start_ms;
    g->source = data->source;
    pg_bucket_data_release(data);
}

static pg_fetch_outcome ask(world *w, int64_t start_s, bool complete, unsigned cls, got *g, pg_fetch_result *res)
{
    pg_up_origin o = {.cls = (uint8_t)cls};
    pg_fetch_req rq = {.group = "app", .period = PG_P5M, .start_s = start_s, .complete = complete,
                       .l2_ttl_ms = complete ? 0 : LIVE_TTL_MS, .origin = &o, .cb = on_got, .ctx = g};
    pg_apierr err;
    pg_fetch_outcome out = pg_fetcher_get(w->f, &rq, res, &err);
    if (out == PG_FETCH_HIT) {
        /* A complete bucket comes out of the L1 packed: read through its decoder. */
        pg_profile scratch;
        const pg_profile *p;
        pg_profile_limits lim;
        pg_profile_limits_default(&lim);
        assert_int_equal(pg_bucket_data_profile(res->hit, &lim, &scratch, &p), PG_OK);
        assert_true(res->hit->packed == (complete && !w->unpacked));
        g->start_ms = p->start_ms;
        g->hit_memory = pg_bucket_data_memory(res->hit);
        g->model_memory = pg_profile_memory(p);
        if (p == &scratch)
            pg_profile_free(&scratch);
        pg_bucket_data_release(res->hit);
    }
    if (out == PG_FETCH_FAILED)
        g->kind = err.kind;
    return out;
}

/* Ends the test's world: every request still open is answered (Redis: a miss, which may start
 * an upstream call; upstream: a profile), as the clients' close would fail them in the program,
 * so the fetcher is freed with nothing in flight. */
static void world_free(world *w)
{
    for (bool more = true; more;) {
        more = false;
        for (size_t i = 0; i < w->nlease; i++)
            if (!w->lease[i].answered) {
                lease_answer(w, i, true);
                more = true;
            }
        for (size_t i = 0; i < w->ntimers; i++)
            if (!w->timers[i].fired) {
                fire(w, i);
                more = true;
            }
        for (size_t i = 0; i < w->nl2; i++)
            if (!w->l2[i].answered) {
                l2_miss(w, i);
                more = true;
            }
        for (size_t i = 0; i < w->nup; i++)
            if (!w->up[i].answered) {
                up_answer(w, i, 0);
                more = true;
            }
    }
    pg_fetcher_stats st;
    pg_fetcher_get_stats(w->f, &st);
    assert_int_equal(st.inflight, 0);
    pg_fetcher_free(w->f);
}

/* ---------------------------------------------------------------- tests */

static void test_concurrent_requests_share_one_call(void **state)
{
    (void)state;
    world w;
    world_init(&w, false);
    got a = {0}, b = {0};
    pg_fetch_result ra, rb;
    assert_int_equal(ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &ra), PG_FETCH_WAIT);
    assert_false(ra.coalesced);
    assert_int_equal(ask(&w, 600, true, PG_FQ_INTERACTIVE, &b, &rb), PG_FETCH_WAIT);
    assert_true(rb.coalesced);
    assert_int_equal(w.nup, 1);
    assert_int_equal(a.calls + b.calls, 0); /* never inside pg_fetcher_get */
    up_answer(&w, 0, 600000);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(a.start_ms, 600000);
    assert_int_equal(b.start_ms, 600000);
    assert_int_equal(a.source, PG_SRC_UPSTREAM);
    /* Now cached: a third request is a hit, with no call. */
    got c = {0};
    pg_fetch_result rc;
    assert_int_equal(ask(&w, 600, true, PG_FQ_INTERACTIVE, &c, &rc), PG_FETCH_HIT);
    assert_int_equal(c.start_ms, 600000);
    assert_int_equal(w.nup, 1);
    pg_fetcher_stats st;
    pg_fetcher_get_stats(w.f, &st);
    assert_int_equal(st.calls, 1);
    assert_int_equal(st.coalesced, 1);
    assert_int_equal(st.l1_hits, 1);
    assert_int_equal(st.inflight, 0);
    world_free(&w);
}

static void test_leaving_does_not_cancel_the_shared_call(void **state)
{
    (void)state;
    world w;
    world_init(&w, false);
    got a = {0}, b = {0};
    pg_fetch_result ra, rb;
    ask(&w, 900, true, PG_FQ_INTERACTIVE, &a, &ra);
    ask(&w, 900, true, PG_FQ_INTERACTIVE, &b, &rb);
    pg_fetcher_leave(w.f, ra.waiter);
    assert_false(w.up[0].cancelled); /* b still waits */
    up_answer(&w, 0, 900000);
    assert_int_equal(a.calls, 0); /* left: never called */
    assert_int_equal(b.calls, 1);
    /* The last waiter leaving still lets the call finish, and its result is cached. */
    got c = {0};
    pg_fetch_result rc;
    assert_int_equal(ask(&w, 1200, true, PG_FQ_INTERACTIVE, &c, &rc), PG_FETCH_WAIT);
    w.up[1].started = true; /* in flight: it can no longer be withdrawn */
    pg_fetcher_leave(w.f, rc.waiter);
    assert_false(w.up[1].cancelled);
    up_answer(&w, 1, 1200000);
    assert_int_equal(c.calls, 0);
    got d = {0};
    pg_fetch_result rd;
    assert_int_equal(ask(&w, 1200, true, PG_FQ_INTERACTIVE, &d, &rd), PG_FETCH_HIT);
    assert_int_equal(d.start_ms, 1200000);
    world_free(&w);
}

static void test_failures_reach_every_waiter_and_are_not_cached(void **state)
{
    (void)state;
    world w;
    world_init(&w, false);
    got a = {0}, b = {0};
    pg_fetch_result ra, rb;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &ra);
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &b, &rb);
    up_fail(&w, 0, PG_AE_UNAVAILABLE);
    assert_int_equal(a.start_ms, -1);
    assert_int_equal(b.start_ms, -1);
    assert_int_equal(a.kind, PG_AE_UNAVAILABLE);
    got c = {0};
    pg_fetch_result rc;
    assert_int_equal(ask(&w, 600, true, PG_FQ_INTERACTIVE, &c, &rc), PG_FETCH_WAIT);
    assert_int_equal(w.nup, 2);
    /* An unusable body is an upstream error too, reported and not cached. */
    up_req *r = &w.up[1];
    r->answered = true;
    pg_up_result res = {.ok = true, .status = 200, .body = "{\"start\":", .len = 9, .attempts = 1};
    r->done(r->ctx, &res);
    assert_int_equal(c.start_ms, -1);
    assert_int_equal(c.kind, PG_AE_INTERNAL);
    /* A refusal at once fails the request at once, with nothing left in flight. */
    w.up_refuse = 1;
    got d = {0};
    pg_fetch_result rd;
    assert_int_equal(ask(&w, 600, true, PG_FQ_INTERACTIVE, &d, &rd), PG_FETCH_FAILED);
    assert_int_equal(d.kind, PG_AE_UNAVAILABLE);
    pg_fetcher_stats st;
    pg_fetcher_get_stats(w.f, &st);
    assert_int_equal(st.inflight, 0);
    assert_int_equal(st.parse_errors, 1);
    world_free(&w);
}

static void test_live_buckets_expire_after_live_ttl(void **state)
{
    (void)state;
    world w;
    world_init(&w, false);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 3000, false, PG_FQ_INTERACTIVE, &a, &r);
    up_answer(&w, 0, 1);
    w.now += (LIVE_TTL_MS - 1) * MS;
    got b = {0};
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &b, &r), PG_FETCH_HIT);
    w.now += 1 * MS;
    got c = {0};
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &c, &r), PG_FETCH_WAIT);
    /* The hit inside the refresh window had already started a refresh: this joins it. */
    assert_true(r.coalesced);
    world_free(&w);
}

static void test_refresh_ahead_starts_once_and_replaces_the_entry(void **state)
{
    (void)state;
    world w;
    world_init(&w, false);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 3000, false, PG_FQ_INTERACTIVE, &a, &r);
    up_answer(&w, 0, 111);
    /* Outside the refresh window: a plain hit. */
    w.now += (LIVE_TTL_MS - AHEAD_MS - 1) * MS;
    got b = {0};
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &b, &r), PG_FETCH_HIT);
    assert_int_equal(w.nup, 1);
    /* Inside it: still a hit, and one background call in the refresh class. */
    w.now += 2 * MS;
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &b, &r), PG_FETCH_HIT);
    assert_int_equal(b.start_ms, 111);
    assert_int_equal(w.nup, 2);
    assert_int_equal(w.up[1].cls, PG_FQ_REFRESH);
    /* More hits do not start another. */
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &b, &r), PG_FETCH_HIT);
    assert_int_equal(w.nup, 2);
    /* Its result replaces the entry, fresh for a whole live_ttl from now. */
    up_answer(&w, 1, 222);
    w.now += (LIVE_TTL_MS - AHEAD_MS - 1) * MS;
    got c = {0};
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &c, &r), PG_FETCH_HIT);
    assert_int_equal(c.start_ms, 222);
    assert_int_equal(w.nup, 2);
    pg_fetcher_stats st;
    pg_fetcher_get_stats(w.f, &st);
    assert_int_equal(st.refreshes, 1);
    world_free(&w);
}

static void test_complete_buckets_are_never_refreshed(void **state)
{
    (void)state;
    world w;
    world_init(&w, false);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    up_answer(&w, 0, 5);
    w.now += 10 * 86400 * PG_NS_PER_S;
    assert_int_equal(ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r), PG_FETCH_HIT);
    assert_int_equal(w.nup, 1);
    world_free(&w);
}

static void test_joining_raises_a_queued_call(void **state)
{
    (void)state;
    world w;
    world_init(&w, false);
    got a = {0}, b = {0}, c = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_BULK, &a, &r);
    assert_int_equal(w.up[0].cls, PG_FQ_BULK);
    ask(&w, 600, true, PG_FQ_BULK, &b, &r); /* as urgent: nothing to raise */
    assert_int_equal(w.raises, 0);
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &c, &r);
    assert_int_equal(w.raises, 1);
    assert_int_equal(w.up[0].cls, PG_FQ_INTERACTIVE);
    up_answer(&w, 0, 7);
    assert_int_equal(a.calls + b.calls + c.calls, 3);
    world_free(&w);
}

static void test_redis_first_then_upstream_on_a_miss(void **state)
{
    (void)state;
    world w;
    world_init(&w, true);
    got a = {0}, b = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &b, &r);
    assert_int_equal(w.nl2, 1); /* one GET for both */
    assert_int_equal(w.nup, 0);
    l2_miss(&w, 0);
    assert_int_equal(w.nup, 1);
    up_answer(&w, 0, 42);
    assert_int_equal(a.start_ms, 42);
    assert_int_equal(b.start_ms, 42);
    /* Stored in Redis with the caller's TTL (0: a complete bucket kept for ever here). */
    assert_int_equal(w.l2_sets, 1);
    assert_string_equal(w.l2_set_key, "pg:v1:test:app:PT5M:600");
    assert_int_equal(w.l2_set_ttl, 0);
    world_free(&w);
}

static void test_redis_hit_is_reported_as_redis(void **state)
{
    (void)state;
    world w;
    world_init(&w, true);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    l2_answer(&w, 0, 77, -1);
    assert_int_equal(a.start_ms, 77);
    assert_int_equal(a.source, PG_SRC_REDIS);
    assert_int_equal(w.nup, 0);
    assert_int_equal(w.l2_sets, 0); /* nothing to store back */
    world_free(&w);
}

/* A complete bucket from Redis enters the L1 as Redis's own bytes (packed: charged their size,
 * much less than the model), and decodes to what Redis held. (ask checks on every hit that
 * complete ones are packed and live ones are not.) */
static void test_complete_buckets_are_kept_packed(void **state)
{
    (void)state;
    world w;
    world_init(&w, true);
    got a = {0}, b = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    l2_answer(&w, 0, 77, -1);
    assert_int_equal(a.start_ms, 77);
    assert_int_equal(ask(&w, 600, true, PG_FQ_INTERACTIVE, &b, &r), PG_FETCH_HIT);
    assert_int_equal(b.start_ms, 77);
    assert_true(b.hit_memory * 2 < b.model_memory);
    pg_fetcher_stats st;
    pg_fetcher_get_stats(w.f, &st);
    assert_true(st.l1_bytes > 0);
    assert_true(st.l1_bytes < b.model_memory);
    world_free(&w);
}

/* Without merged runs every request reads every bucket: complete ones stay models (ask checks). */
static void test_without_merged_runs_complete_buckets_stay_models(void **state)
{
    (void)state;
    world w;
    world_init(&w, true);
    /* As a reload to cache.merged_bytes = 0 says it. */
    pg_fetcher_cfg cfg = {.l1_bytes = 64 << 20, .pack_complete = false, .live_ttl_ms = LIVE_TTL_MS,
                          .refresh_ahead_ms = AHEAD_MS};
    pg_fetcher_reconfigure(w.f, &cfg);
    w.unpacked = true;
    got a = {0}, b = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    l2_answer(&w, 0, 77, -1);
    assert_int_equal(ask(&w, 600, true, PG_FQ_INTERACTIVE, &b, &r), PG_FETCH_HIT);
    assert_int_equal(b.start_ms, 77);
    assert_int_equal(b.hit_memory, b.model_memory + sizeof(pg_bucket_data));
    world_free(&w);
}

static void test_live_value_is_kept_only_for_what_is_left_of_its_ttl(void **state)
{
    (void)state;
    world w;
    world_init(&w, true);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 3000, false, PG_FQ_INTERACTIVE, &a, &r);
    l2_answer(&w, 0, 88, 12000); /* 12 s left of its Redis TTL */
    assert_int_equal(a.start_ms, 88);
    w.now += 11999 * MS;
    got b = {0};
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &b, &r), PG_FETCH_HIT);
    w.now += 1 * MS;
    got c = {0};
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &c, &r), PG_FETCH_WAIT);
    world_free(&w);
}

static void test_complete_bucket_does_not_take_a_value_stored_live(void **state)
{
    (void)state;
    world w;
    world_init(&w, true);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    /* A TTL within live_ttl: stored while the bucket was live, so fetched again. */
    l2_answer(&w, 0, 1, LIVE_TTL_MS);
    assert_int_equal(a.calls, 0);
    assert_int_equal(w.nup, 1);
    up_answer(&w, 0, 2);
    assert_int_equal(a.start_ms, 2);
    pg_fetcher_stats st;
    pg_fetcher_get_stats(w.f, &st);
    assert_int_equal(st.l2_misses, 1);
    /* A TTL longer than live_ttl (a retention-long one) is a complete value: taken. */
    got b = {0};
    ask(&w, 900, true, PG_FQ_INTERACTIVE, &b, &r);
    l2_answer(&w, 1, 3, LIVE_TTL_MS + 1);
    assert_int_equal(b.start_ms, 3);
    assert_int_equal(b.source, PG_SRC_REDIS);
    world_free(&w);
}

static void test_a_refresh_ignores_a_redis_value_about_to_go_stale(void **state)
{
    (void)state;
    world w;
    world_init(&w, true);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 3000, false, PG_FQ_INTERACTIVE, &a, &r);
    l2_miss(&w, 0);
    up_answer(&w, 0, 10);
    w.now += (LIVE_TTL_MS - AHEAD_MS + 1) * MS;
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &a, &r), PG_FETCH_HIT);
    assert_int_equal(w.nl2, 2); /* the refresh asks Redis first */
    /* Redis holds this replica's own copy, with no more than the window left: not fresher. */
    l2_answer(&w, 1, 10, AHEAD_MS);
    assert_int_equal(w.nup, 2);
    assert_int_equal(w.up[1].cls, PG_FQ_REFRESH);
    up_answer(&w, 1, 20);
    got b = {0};
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &b, &r), PG_FETCH_HIT);
    assert_int_equal(b.start_ms, 20);
    world_free(&w);
}

static void test_redis_down_goes_straight_to_the_upstream(void **state)
{
    (void)state;
    world w;
    world_init(&w, true);
    w.l2_up = false;
    got a = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    assert_int_equal(w.nl2, 0);
    assert_int_equal(w.nup, 1);
    up_answer(&w, 0, 9);
    assert_int_equal(a.start_ms, 9);
    assert_int_equal(w.l2_sets, 0); /* not stored while Redis is away */
    world_free(&w);
}

static void test_the_lease_holder_fetches_and_drops_it_after_storing(void **state)
{
    (void)state;
    world w;
    world_init_with(&w, true, true);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    l2_miss(&w, 0);
    assert_int_equal(w.nlease, 1);
    assert_string_equal(w.lease[0].key, "pg:v1:test:app:PT5M:600");
    assert_int_equal(w.nup, 0); /* not before the lease is ours */
    lease_answer(&w, 0, true);
    assert_int_equal(w.nup, 0); /* one more look in Redis first */
    l2_miss(&w, 1);
    assert_int_equal(w.nup, 1);
    /* While its call waits, the holder renews the lease every third of its lifetime. */
    assert_int_equal(w.ntimers, 1);
    assert_int_equal(w.timers[0].ms, 3333);
    fire(&w, 0);
    assert_int_equal(w.renews, 1);
    assert_string_equal(w.renewed, "pg:v1:test:app:PT5M:600");
    assert_int_equal(w.ntimers, 2); /* and again later */
    up_answer(&w, 0, 31);
    assert_int_equal(a.start_ms, 31);
    /* Stored first, then dropped (the order the others rely on). */
    assert_int_equal(w.l2_sets, 1);
    assert_int_equal(w.drops, 1);
    assert_string_equal(w.dropped, "pg:v1:test:app:PT5M:600");
    /* No lease held any more: the next tick renews nothing and stops. */
    fire(&w, 1);
    assert_int_equal(w.renews, 1);
    assert_int_equal(w.ntimers, 2);
    world_free(&w);
}

static void test_another_members_fetch_is_waited_for_in_redis(void **state)
{
    (void)state;
    world w;
    world_init_with(&w, true, true);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    l2_miss(&w, 0);
    lease_answer(&w, 0, false); /* another member holds it */
    assert_int_equal(w.ntimers, 1);
    assert_int_equal(w.timers[0].ms, 100);
    w.now += 100 * MS;
    fire(&w, 0);
    assert_int_equal(w.nl2, 2); /* looks again */
    l2_miss(&w, 1);             /* not there yet: the lease is still held */
    lease_answer(&w, 1, false);
    w.now += 100 * MS;
    fire(&w, 1);
    l2_answer(&w, 2, 55, -1); /* the other member's result */
    assert_int_equal(a.start_ms, 55);
    assert_int_equal(a.source, PG_SRC_REDIS);
    assert_int_equal(w.nup, 0); /* no call of our own */
    assert_int_equal(w.drops, 0);
    pg_fetcher_stats st;
    pg_fetcher_get_stats(w.f, &st);
    assert_int_equal(st.lease_waits, 1);
    assert_int_equal(st.lease_hits, 1);
    world_free(&w);
}

/* The race the look after the lease closes: another member stored the bucket and dropped its
 * lease between our miss and our lease request. Its result is taken from Redis, not fetched again. */
static void test_a_lease_taken_just_after_another_members_store_reads_its_result(void **state)
{
    (void)state;
    world w;
    world_init_with(&w, true, true);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    l2_miss(&w, 0);
    lease_answer(&w, 0, true);
    assert_int_equal(w.nl2, 2);
    l2_answer(&w, 1, 88, -1);
    assert_int_equal(a.start_ms, 88);
    assert_int_equal(a.source, PG_SRC_REDIS);
    assert_int_equal(w.nup, 0);
    assert_int_equal(w.drops, 1); /* the lease goes back at once */
    pg_fetcher_stats st;
    pg_fetcher_get_stats(w.f, &st);
    assert_int_equal(st.lease_hits, 1);
    assert_int_equal(st.l2_misses, 1); /* the first look only */
    /* A value stored while the bucket was live does not count: ours to fetch. */
    got b = {0};
    ask(&w, 1200, true, PG_FQ_INTERACTIVE, &b, &r);
    l2_miss(&w, 2);
    lease_answer(&w, 1, true);
    l2_answer(&w, 3, 99, LIVE_TTL_MS / 2);
    assert_int_equal(w.nup, 1);
    up_answer(&w, 0, 120);
    assert_int_equal(b.start_ms, 120);
    world_free(&w);
}

static void test_an_expired_lease_is_taken_over(void **state)
{
    (void)state;
    world w;
    world_init_with(&w, true, true);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    l2_miss(&w, 0);
    lease_answer(&w, 0, false);
    w.now += 100 * MS;
    fire(&w, 0);
    l2_miss(&w, 1);
    lease_answer(&w, 1, true); /* the holder died and its lease expired: ours now */
    l2_miss(&w, 2);
    assert_int_equal(w.nup, 1);
    up_answer(&w, 0, 66);
    assert_int_equal(a.start_ms, 66);
    assert_int_equal(w.drops, 1);
    world_free(&w);
}

static void test_a_lease_held_too_long_is_not_waited_for_forever(void **state)
{
    (void)state;
    world w;
    world_init_with(&w, true, true);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    l2_miss(&w, 0);
    lease_answer(&w, 0, false);
    /* Past the longest the holder's call could last (its deadline, and two polls): fetch anyway. */
    w.now += (30000 + 200) * MS;
    fire(&w, 0);
    l2_miss(&w, 1);
    lease_answer(&w, 1, false);
    assert_int_equal(w.nup, 1);
    assert_int_equal(w.ntimers, 1);
    up_answer(&w, 0, 77);
    assert_int_equal(a.start_ms, 77);
    world_free(&w);
}

static void test_a_queued_call_nobody_waits_for_is_withdrawn(void **state)
{
    (void)state;
    world w;
    world_init(&w, false);
    got a = {0}, b = {0};
    pg_fetch_result ra, rb;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &ra);
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &b, &rb);
    pg_fetcher_leave(w.f, ra.waiter);
    assert_false(w.up[0].cancelled);
    pg_fetcher_leave(w.f, rb.waiter); /* the last one: the queued call goes */
    assert_true(w.up[0].cancelled);
    pg_fetcher_stats st;
    pg_fetcher_get_stats(w.f, &st);
    assert_int_equal(st.abandoned, 1);
    assert_int_equal(st.inflight, 0);
    /* A later request starts afresh. */
    got c = {0};
    pg_fetch_result rc;
    assert_int_equal(ask(&w, 600, true, PG_FQ_INTERACTIVE, &c, &rc), PG_FETCH_WAIT);
    assert_false(rc.coalesced);
    assert_int_equal(w.nup, 2);
    world_free(&w);
}

static void test_a_lookup_abandoned_in_redis_never_reaches_the_upstream(void **state)
{
    (void)state;
    world w;
    world_init(&w, true);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    pg_fetcher_leave(w.f, r.waiter);
    l2_miss(&w, 0);
    assert_int_equal(w.nup, 0);
    pg_fetcher_stats st;
    pg_fetcher_get_stats(w.f, &st);
    assert_int_equal(st.abandoned, 1);
    world_free(&w);
}

static void test_a_refresh_is_never_withdrawn(void **state)
{
    (void)state;
    world w;
    world_init(&w, false);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 3000, false, PG_FQ_INTERACTIVE, &a, &r);
    up_answer(&w, 0, 1);
    w.now += (LIVE_TTL_MS - AHEAD_MS + 1) * MS;
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &a, &r), PG_FETCH_HIT); /* starts the refresh */
    assert_int_equal(w.nup, 2);
    w.now += AHEAD_MS * MS; /* the entry expires: a request joins the refresh, then leaves */
    got b = {0};
    assert_int_equal(ask(&w, 3000, false, PG_FQ_INTERACTIVE, &b, &r), PG_FETCH_WAIT);
    assert_true(r.coalesced);
    pg_fetcher_leave(w.f, r.waiter);
    assert_false(w.up[1].cancelled);
    world_free(&w);
}

static void count_close(void *data)
{
    (*(int *)data)++;
}

static void test_closing_ends_lookups_waiting_for_another_member(void **state)
{
    (void)state;
    world w;
    world_init_with(&w, true, true);
    got a = {0};
    pg_fetch_result r;
    ask(&w, 600, true, PG_FQ_INTERACTIVE, &a, &r);
    l2_miss(&w, 0);
    lease_answer(&w, 0, false);
    int closed = 0;
    pg_fetcher_close(w.f, count_close, &closed); /* fires the pending poll at once */
    assert_true(w.timers[0].fired);
    assert_int_equal(closed, 1);
    assert_int_equal(a.start_ms, -1);
    assert_int_equal(a.kind, PG_AE_UNAVAILABLE);
    assert_int_equal(w.nup, 0);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_requests_share_one_call),
        cmocka_unit_test(test_leaving_does_not_cancel_the_shared_call),
        cmocka_unit_test(test_failures_reach_every_waiter_and_are_not_cached),
        cmocka_unit_test(test_live_buckets_expire_after_live_ttl),
        cmocka_unit_test(test_refresh_ahead_starts_once_and_replaces_the_entry),
        cmocka_unit_test(test_complete_buckets_are_never_refreshed),
        cmocka_unit_test(test_joining_raises_a_queued_call),
        cmocka_unit_test(test_redis_first_then_upstream_on_a_miss),
        cmocka_unit_test(test_redis_hit_is_reported_as_redis),
        cmocka_unit_test(test_complete_buckets_are_kept_packed),
        cmocka_unit_test(test_without_merged_runs_complete_buckets_stay_models),
        cmocka_unit_test(test_live_value_is_kept_only_for_what_is_left_of_its_ttl),
        cmocka_unit_test(test_complete_bucket_does_not_take_a_value_stored_live),
        cmocka_unit_test(test_a_refresh_ignores_a_redis_value_about_to_go_stale),
        cmocka_unit_test(test_redis_down_goes_straight_to_the_upstream),
        cmocka_unit_test(test_the_lease_holder_fetches_and_drops_it_after_storing),
        cmocka_unit_test(test_another_members_fetch_is_waited_for_in_redis),
        cmocka_unit_test(test_a_lease_taken_just_after_another_members_store_reads_its_result),
        cmocka_unit_test(test_an_expired_lease_is_taken_over),
        cmocka_unit_test(test_a_lease_held_too_long_is_not_waited_for_forever),
        cmocka_unit_test(test_closing_ends_lookups_waiting_for_another_member),
        cmocka_unit_test(test_a_queued_call_nobody_waits_for_is_withdrawn),
        cmocka_unit_test(test_a_lookup_abandoned_in_redis_never_reaches_the_upstream),
        cmocka_unit_test(test_a_refresh_is_never_withdrawn),
    };
    return cmocka_run_group_tests_name("fetcher", tests, NULL, NULL);
}
