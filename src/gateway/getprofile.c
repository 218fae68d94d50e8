/*
 * getprofile.c: one GetProfile from its head to its last byte, as an explicit state machine
 * (gp.h has the steps; docs/ARCHITECTURE.md the diagram). Authenticate, validate, resolve and
 * plan; answer a repeat of an all-complete plan from the answer cache; fold the plan's stored
 * merged runs; ask the fetcher for every other bucket at once (it coalesces with other requests
 * and paces the upstream), fold each bucket into its run or the answer as it arrives, and when
 * the last one is in, encode and stream the answer. The first failed bucket answers the request
 * with its error; the other waits are left (their upstream calls finish for whoever else needs
 * them). Abort and completion switch on the step; gp_end_request is the one place a request is freed.
 */
#include "gp.h"
#include "profgate/fsm.h"
#include "profgate/iso8601.h"
#include "profgate/log.h"
#include "profgate/merge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BODY_LIMIT ((size_t)1 << 30)

/* Streaming: the encoder makes pieces of about STREAM_CHUNK bytes, and pauses while more than
 * STREAM_HIGH bytes wait to be written, until they fall to STREAM_LOW. So a large answer holds
 * at most a few pieces beyond the merged tree, and a slow reader never makes profgate buffer
 * the whole body. An answer that fits in the first piece goes out whole, with Content-Length. */
#define STREAM_CHUNK ((size_t)64 * 1024)
#define STREAM_HIGH ((size_t)256 * 1024)
#define STREAM_LOW ((size_t)64 * 1024)

static const char *const step_names[GP_STEP_COUNT] = {
    "auth", "validate", "plan", "admit", "fetch", "encode", "stream", "paused", "aborted", "done",
};

gpreq *gp_of(void *data)
{
    gpreq *g = data;
    PG_ASSERT(g != NULL && g->magic == GP_MAGIC);
    return g;
}

void gp_set_step(gpreq *g, gp_step next)
{
    static const bool legal[GP_STEP_COUNT][GP_STEP_COUNT] = {
        [GP_AUTH] = {[GP_VALIDATE] = true, [GP_DONE] = true},
        [GP_VALIDATE] = {[GP_PLAN] = true, [GP_DONE] = true},
        [GP_PLAN] = {[GP_ADMIT] = true, [GP_FETCH] = true, [GP_DONE] = true},
        [GP_ADMIT] = {[GP_FETCH] = true, [GP_DONE] = true},
        [GP_FETCH] = {[GP_ENCODE] = true, [GP_PLAN] = true /* a diff's head range */, [GP_DONE] = true},
        [GP_ENCODE] = {[GP_STREAM] = true, [GP_ABORTED] = true, [GP_DONE] = true},
        [GP_STREAM] = {[GP_PAUSED] = true, [GP_ABORTED] = true, [GP_DONE] = true},
        [GP_PAUSED] = {[GP_STREAM] = true, [GP_DONE] = true},
        [GP_ABORTED] = {[GP_DONE] = true},
    };
    static const pg_fsm fsm = {"GetProfile", step_names, GP_STEP_COUNT, &legal[0][0]};
    pg_fsm_move(&fsm, pg_http_req_id(g->req), g->step, next);
    g->step = next;
}

/* The answer's writer: JSON or Ion, folded stacks, pprof, speedscope, or a diff. */
static int writer_step(gpreq *g, pg_buf *out, size_t budget, bool *done)
{
    if (g->fwriter != NULL)
        return pg_fwriter_step(g->fwriter, out, budget, done);
    if (g->ppwriter != NULL)
        return pg_ppwriter_step(g->ppwriter, out, budget, done);
    if (g->sswriter != NULL)
        return pg_sswriter_step(g->sswriter, out, budget, done);
    if (g->dwriter != NULL)
        return pg_dwriter_step(g->dwriter, out, budget, done);
    return pg_pwriter_step(g->writer, out, budget, done);
}

static void writer_free(gpreq *g)
{
    pg_pwriter_free(g->writer);
    g->writer = NULL;
    pg_fwriter_free(g->fwriter);
    g->fwriter = NULL;
    pg_ppwriter_free(g->ppwriter);
    g->ppwriter = NULL;
    pg_sswriter_free(g->sswriter);
    g->sswriter = NULL;
    pg_dwriter_free(g->dwriter);
    g->dwriter = NULL;
}

/* A diff's base tree, kept while the head's is built and encoded. */
static void base_free(gpreq *g)
{
    if (g->has_base)
        pg_profile_free(&g->base);
    g->has_base = false;
}

/* The one place a request ends: everything it holds is released, and what it held in the
 * memory budget lets waiting requests in. */
void gp_end_request(gpreq *g)
{
    PG_ASSERT(g->step == GP_DONE && g->pending == 0);
    pg_gateway *gw = g->gw;
    gw->active--;
    gp_release(g);
    writer_free(g);
    pg_gzip_stream_free(g->gz);
    pg_buf_free(&g->piece);
    pg_buf_free(&g->zpiece);
    pg_buf_free(&g->keep);
    gp_runs_free(g);
    gp_acc_free(g);
    base_free(g);
    gp_free(g);
    if (gw->wait.n > 0)
        gw_admit_waiting(gw);
}

/* Answers with err and ends the request: a step before the first byte of the answer. */
static void gp_fail_now(gpreq *g, const pg_apierr *err)
{
    gp_set_step(g, GP_DONE);
    pg_http_respond_error(g->req, err);
    gp_end_request(g);
}

/* Leaves every bucket still awaited; their upstream calls go on for other requests. */
static void gp_leave_all(gpreq *g)
{
    for (size_t i = 0; i < g->plan.n; i++)
        if (g->waiters[i] != NULL) {
            pg_fetcher_leave(g->gw->d.fetcher, g->waiters[i]);
            g->waiters[i] = NULL;
            g->pending--;
        }
}

static void gp_fail(gpreq *g, const pg_apierr *err)
{
    gp_leave_all(g);
    gp_fail_now(g, err);
}

static void fail_limits(gpreq *g, int rc)
{
    pg_apierr e;
    pg_apierr_set(&e, PG_AE_INTERNAL, "The merged profile exceeds profgate's limits: %s", pg_strerror(rc));
    gp_fail(g, &e);
}

void gp_headers_make(const gpreq *g, gp_headers *ph)
{
    char s[PG_TS_FMT_MAX], e[PG_TS_FMT_MAX];
    size_t total = g->planned + g->plan.n; /* a diff's counts cover both of its plans */
    int n = snprintf(ph->buckets, sizeof ph->buckets, "total=%zu hit=%zu fetched=%zu coalesced=%zu", total,
                     g->hits, g->fetched, g->coalesced);
    PG_FMT_FITS(n, sizeof ph->buckets);
    pg_ts_format(g->plan.start_s * PG_NS_PER_S, s, sizeof s);
    pg_ts_format(g->plan.end_s * PG_NS_PER_S, e, sizeof e);
    n = snprintf(ph->range, sizeof ph->range, "%s/%s", s, e);
    PG_FMT_FITS(n, sizeof ph->range);
    ph->h[0] = (pg_http_out_header){"Content-Type", pg_format_content_type(g->r.format)};
    ph->h[1] = (pg_http_out_header){"X-Profgate-Cache", g->hits == total ? "hit" : g->hits > 0 ? "partial" : "miss"};
    ph->h[2] = (pg_http_out_header){"X-Profgate-Buckets", ph->buckets};
    ph->h[3] = (pg_http_out_header){"X-Profgate-Range", ph->range};
    ph->n = 4;
    if (g->kind == GP_DIFF) {
        pg_ts_format(g->base_start_s * PG_NS_PER_S, s, sizeof s);
        pg_ts_format(g->base_end_s * PG_NS_PER_S, e, sizeof e);
        n = snprintf(ph->base_range, sizeof ph->base_range, "%s/%s", s, e);
        PG_FMT_FITS(n, sizeof ph->base_range);
        ph->h[ph->n++] = (pg_http_out_header){"X-Profgate-Base-Range", ph->base_range};
    }
    if (g->counter[0])
        ph->h[ph->n++] = (pg_http_out_header){"X-Profgate-Counter", g->counter};
    if (g->gzip && !g->gzip_body)
        ph->h[ph->n++] = (pg_http_out_header){"Content-Encoding", "gzip"};
}

/* ---------------------------------------------------------------- ENCODE, STREAM, PAUSED */

/* Ends a streamed answer (ok: completely sent) and the request. */
static void stream_done(gpreq *g, bool ok)
{
    pg_http_stream_end(g->req, ok);
    gp_set_step(g, GP_DONE);
    if (ok && g->keeping)
        gp_store_answer(g, &g->keep);
    else if (ok && g->spill_whole && g->spill_len <= (uint64_t)g->gw->d.cfg->cache_response_bytes / 4)
        gp_store_answer_file(g, g->spill_fd, (size_t)g->spill_len); /* the bound in-memory copies have */
    gp_end_request(g);
}

/* A spill encodes at most this much per loop turn, so other connections never wait long behind
 * one (a whole 16 MB answer at once stalled the loop for about 100 ms, seconds under ASan). */
#define SPILL_STEP ((size_t)1 << 20)

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* The whole answer is in the file: everything the tree was needed for is done. */
static void spill_finish(gpreq *g)
{
    writer_free(g);
    pg_gzip_stream_free(g->gz);
    g->gz = NULL;
    gp_runs_free(g);
    gp_acc_free(g);
    base_free(g);
    pg_buf_free(&g->zpiece);
    pg_buf_free(&g->piece);
    pg_buf_init(&g->piece, STREAM_CHUNK); /* from now on it only carries a piece of the file */
    g->spilling = false;
    pg_log(PG_LOG_DEBUG, "rid=%s answer spilled: %llu bytes", pg_http_req_id(g->req), (unsigned long long)g->spill_len);
    gp_charge(g);
}

/* Encodes up to SPILL_STEP more of the answer into the file. False when writing or encoding failed
 * (the answer cannot be finished). */
static bool spill_step(gpreq *g)
{
    size_t made = 0;
    bool done = false;
    int rc = PG_OK;
    while (!done && rc == PG_OK && made < SPILL_STEP) {
        pg_buf_reset(&g->piece);
        rc = writer_step(g, &g->piece, 4 * STREAM_CHUNK, &done);
        pg_buf *out = &g->piece;
        if (rc == PG_OK && g->gz != NULL) {
            pg_buf_reset(&g->zpiece);
            rc = pg_gzip_stream_write(g->gz, g->piece.data, g->piece.len, done, &g->zpiece);
            out = &g->zpiece;
        }
        if (rc == PG_OK && !write_all(g->spill_fd, out->data, out->len))
            rc = PG_EIO;
        if (rc == PG_OK) {
            made += g->piece.len;
            g->spill_len += out->len;
            g->gw->spilled += out->len;
        }
    }
    pg_buf_reset(&g->piece);
    if (rc != PG_OK) {
        pg_log(PG_LOG_ERROR, "rid=%s spilling the answer failed: %s", pg_http_req_id(g->req),
               rc == PG_EIO ? strerror(errno) : pg_strerror(rc));
        return false;
    }
    if (done)
        spill_finish(g);
    return true;
}

static void gp_pump(gpreq *g);

/* One step of a spill under way, from the loop; the stream waiting for the file goes on. */
static void on_spill_tick(uv_timer_t *t)
{
    gpreq *g = gp_of(t->data);
    PG_ASSERT(g->step == GP_PAUSED && g->spilling);
    if (!spill_step(g)) {
        stream_done(g, false);
        return;
    }
    if (g->spilling)
        PG_CHECK_UV(uv_timer_start(&g->wait_timer, on_spill_tick, 1, 0));
    if (g->pump_waits_spill) {
        g->pump_waits_spill = false;
        gp_set_step(g, GP_STREAM);
        gp_pump(g);
    }
}

/* The client reads slowly and memory is short: from now on the rest of the answer is encoded (and
 * gzipped) into an unlinked file, a step per loop turn, and the stream is sent from the file; the
 * tree is freed when the last step is written. The copy kept for the answer cache (what was sent
 * so far) goes to the start of the file, so that the file ends up holding the whole answer and
 * the cache keeps the file instead of a copy in memory. False when no file could be had (nothing
 * changed: the answer goes on from memory). */
static bool spill_start(gpreq *g)
{
    int fd = gp_spill_open(g->gw);
    if (fd < 0)
        return false;
    g->spill_fd = fd;
    g->spill_off = g->spill_len = 0;
    g->spill_whole = false;
    if (g->keeping) {
        if (!write_all(fd, g->keep.data, g->keep.len)) {
            close(fd); /* a partial prefix would be sent as the answer's rest */
            g->spill_fd = -1;
            return false;
        }
        /* Already sent: in the file, not owed to the client (nor counted in gw->spilled). */
        g->spill_off = g->spill_len = g->keep.len;
        g->spill_whole = true;
    }
    g->spilling = true;
    g->gw->spills++;
    pg_buf_free(&g->keep);
    g->keeping = false;
    if (!g->wait_timer_init) {
        PG_CHECK_UV(uv_timer_init(pg_http_req_loop(g->req), &g->wait_timer));
        g->wait_timer.data = g;
        g->wait_timer_init = true;
    }
    PG_CHECK_UV(uv_timer_start(&g->wait_timer, on_spill_tick, 1, 0));
    gp_charge(g);
    return true;
}

/* Sends the next piece of a spilled answer; false when the client is gone or the file fails. */
static bool send_spilled(gpreq *g)
{
    size_t n = (size_t)PG_MIN((uint64_t)STREAM_CHUNK, g->spill_len - g->spill_off);
    pg_buf_reset(&g->piece);
    if (pg_buf_reserve(&g->piece, n) != PG_OK)
        return false;
    ssize_t r = pread(g->spill_fd, g->piece.data, n, (off_t)g->spill_off);
    if (r <= 0) {
        pg_log(PG_LOG_ERROR, "rid=%s reading the spilled answer failed: %s", pg_http_req_id(g->req),
               r < 0 ? strerror(errno) : "short file");
        return false;
    }
    g->spill_off += (uint64_t)r;
    g->gw->spilled -= (size_t)r;
    return pg_http_stream_write(g->req, g->piece.data, (size_t)r);
}

static void on_drain(pg_http_req *req, void *data)
{
    (void)req;
    gpreq *g = gp_of(data);
    gp_set_step(g, GP_STREAM);
    gp_pump(g);
}

/* Sends the piece made so far (through gzip when asked); false when the client is gone. */
static bool send_piece(gpreq *g, bool last)
{
    pg_buf *out = &g->piece;
    if (g->gz != NULL) {
        pg_buf_reset(&g->zpiece);
        if (pg_gzip_stream_write(g->gz, g->piece.data, g->piece.len, last, &g->zpiece) != PG_OK)
            return false;
        out = &g->zpiece;
    }
    if (g->keeping && pg_buf_append(&g->keep, out->data, out->len) != PG_OK) {
        g->keeping = false; /* larger than an answer worth keeping */
        pg_buf_free(&g->keep);
    }
    bool sent = pg_http_stream_write(g->req, out->data, out->len);
    pg_buf_reset(&g->piece);
    return sent;
}

/* STREAM: makes and sends pieces until the answer is complete or the connection's queue is full
 * (PAUSED until it drains). A client that leaves meanwhile moved the step to ABORTED. */
static void gp_pump(gpreq *g)
{
    for (;;) {
        if (g->step == GP_ABORTED) {
            stream_done(g, false);
            return;
        }
        PG_ASSERT(g->step == GP_STREAM);
        if (pg_http_stream_queued(g->req) > STREAM_HIGH) {
            /* The client reads slower than we encode: when memory is short, the rest goes to a
             * file (in steps) and the tree is freed once it is all there. */
            if (gp_should_spill(g))
                (void)spill_start(g);
            gp_set_step(g, GP_PAUSED);
            pg_http_stream_on_drain(g->req, STREAM_LOW, on_drain, g);
            return;
        }
        if (g->spill_fd >= 0) {
            if (g->spill_off == g->spill_len) {
                if (g->spilling) { /* the client caught up with the file: wait for the next step */
                    pg_log(PG_LOG_DEBUG, "rid=%s the client caught up with the spill", pg_http_req_id(g->req));
                    g->pump_waits_spill = true;
                    gp_set_step(g, GP_PAUSED);
                    return;
                }
                stream_done(g, true);
                return;
            }
            if (!send_spilled(g)) {
                stream_done(g, false);
                return;
            }
            continue;
        }
        bool done;
        int rc = writer_step(g, &g->piece, STREAM_CHUNK, &done);
        if (rc != PG_OK) {
            pg_log(PG_LOG_ERROR, "rid=%s encoding failed mid-answer: %s", pg_http_req_id(g->req), pg_strerror(rc));
            stream_done(g, false);
            return;
        }
        if (!send_piece(g, done)) {
            stream_done(g, false);
            return;
        }
        gp_charge(g); /* the copy kept for the answer cache grows */
        if (done && g->step == GP_STREAM) {
            stream_done(g, true);
            return;
        }
    }
}

/* Content-Encoding gzip at zlib's default trade-off; a pprof file at its fastest level, as Go's
 * runtime/pprof writes them (bench/views: level 6 took three times the encoding itself). */
static int gzip_level(const gpreq *g)
{
    return g->gzip_body ? 1 : 6;
}

/* A whole answer that fits in the first piece: out with a Content-Length. */
static void respond_whole(gpreq *g)
{
    pg_buf *body = &g->piece;
    if (g->gzip) {
        int rc = pg_gzip(g->piece.data, g->piece.len, gzip_level(g), &g->zpiece);
        if (rc != PG_OK) {
            pg_apierr e;
            pg_apierr_set(&e, PG_AE_INTERNAL, "profgate could not encode the profile: %s", pg_strerror(rc));
            gp_fail_now(g, &e);
            return;
        }
        body = &g->zpiece;
    }
    gp_headers ph;
    gp_headers_make(g, &ph);
    pg_http_respond(g->req, 200, ph.h, ph.n, body->data, body->len);
    gp_set_step(g, GP_DONE);
    if (gp_answer_cacheable(g))
        gp_store_answer(g, body);
    gp_end_request(g);
}

/* The counter shown, for X-Profgate-Counter: only a name of the shape the route accepts (it came
 * from the upstream's data, and goes into a header). */
static void counter_header(gpreq *g, uint32_t counter)
{
    size_t len;
    const char *name = pg_strtab_get(&g->acc.strs, counter, &len);
    if (pg_counter_name_ok(name, len)) {
        memcpy(g->counter, name, len);
        g->counter[len] = '\0';
    }
}

/* speedscope's file, named after the group and the covered range (what its window title shows). */
static int speedscope_writer(gpreq *g, uint32_t counter)
{
    gp_headers ph;
    gp_headers_make(g, &ph);
    char name[PG_GROUP_MAX + sizeof ph.range + 2];
    int n = snprintf(name, sizeof name, "%s %s", g->r.group, ph.range);
    PG_FMT_FITS(n, sizeof name);
    return pg_sswriter_new(&g->acc, name, counter, (uint32_t)g->r.max_depth, &g->sswriter);
}

/* A diff's writer over the base tree and the head's (acc). The counter: the one asked for, else
 * the head's largest (the base's when the head has none). PG_ENOTFOUND when the request was
 * answered instead (a counter in neither profile). */
static int diff_writer(gpreq *g)
{
    const char *want = g->r.counter[0] ? g->r.counter : NULL;
    size_t wlen = want ? strlen(want) : 0;
    uint32_t hc = PG_STR_NONE, bc = PG_STR_NONE;
    const char *name = "";
    size_t len = 0;
    if (pg_profile_pick_counter(&g->acc, want, wlen, &hc) == PG_OK)
        name = pg_strtab_get(&g->acc.strs, hc, &len);
    else if (pg_profile_pick_counter(&g->base, want, wlen, &bc) == PG_OK)
        name = pg_strtab_get(&g->base.strs, bc, &len);
    else if (want != NULL) {
        pg_apierr e; /* nothing sent yet: a proper error */
        pg_apierr_set(&e, PG_AE_VALIDATION, "counter %s is in neither profile", want);
        gp_fail_now(g, &e);
        return PG_ENOTFOUND;
    }
    char counter[PG_COUNTER_MAX + 1] = "";
    if (len > 0 && pg_counter_name_ok(name, len)) {
        memcpy(counter, name, len);
        counter[len] = '\0';
        memcpy(g->counter, counter, len + 1);
    }
    if (bc == PG_STR_NONE && len > 0)
        bc = pg_strtab_find(&g->base.strs, name, len);
    if (hc == PG_STR_NONE && len > 0)
        hc = pg_strtab_find(&g->acc.strs, name, len);
    pg_diff_side b = {&g->base, bc, g->base_start_s, g->base_end_s};
    pg_diff_side h = {&g->acc, hc, g->plan.start_s, g->plan.end_s};
    return pg_dwriter_new(&b, &h, counter, &g->dwriter);
}

/* ENCODE: every bucket is in. The covered range is authoritative for start/end, whatever the
 * buckets said. */
static void gp_encode(gpreq *g)
{
    gp_set_step(g, GP_ENCODE);
    g->acc.has_start = g->acc.has_end = true;
    g->acc.start_ms = g->plan.start_s * 1000;
    g->acc.end_ms = g->plan.end_s * 1000;
    pg_buf_init(&g->piece, BODY_LIMIT);
    pg_buf_init(&g->zpiece, BODY_LIMIT);
    int rc;
    if (g->kind == GP_DIFF) {
        rc = diff_writer(g);
        if (rc == PG_ENOTFOUND)
            return; /* answered */
    } else if (g->r.format == PG_FMT_COLLAPSED || g->r.format == PG_FMT_PPROF || g->r.format == PG_FMT_SPEEDSCOPE) {
        uint32_t counter = PG_STR_NONE; /* a profile without counts: no lines */
        const char *want = g->r.counter[0] ? g->r.counter : NULL;
        if (pg_profile_pick_counter(&g->acc, want, want ? strlen(want) : 0, &counter) != PG_OK && want != NULL) {
            pg_apierr e; /* nothing sent yet: a proper error */
            pg_apierr_set(&e, PG_AE_VALIDATION, "counter %s is not in this profile", want);
            gp_fail_now(g, &e);
            return;
        }
        if (counter != PG_STR_NONE)
            counter_header(g, counter);
        if (g->r.format == PG_FMT_COLLAPSED)
            rc = pg_fwriter_new(&g->acc, counter, (uint32_t)g->r.max_depth, &g->fwriter);
        else if (g->r.format == PG_FMT_PPROF)
            rc = pg_ppwriter_new(&g->acc, counter, (uint32_t)g->r.max_depth, &g->ppwriter);
        else
            rc = speedscope_writer(g, counter);
    } else if (g->r.format == PG_FMT_ION && g->r.max_depth == 0) {
        rc = gw_ion_writer(g->gw, &g->acc, &g->writer);
    } else {
        rc = pg_pwriter_new(&g->acc, g->r.format == PG_FMT_ION, (uint32_t)g->r.max_depth, &g->writer);
    }
    bool done = false;
    rc = rc ?: writer_step(g, &g->piece, STREAM_CHUNK, &done);
    gp_tree_complete(g);
    if (rc == PG_OK && done) {
        respond_whole(g);
        return;
    }
    if (rc == PG_OK && g->gzip)
        rc = pg_gzip_stream_new(gzip_level(g), &g->gz);
    if (rc != PG_OK) {
        pg_apierr e; /* nothing sent yet: a proper error */
        pg_apierr_set(&e, PG_AE_INTERNAL, "profgate could not encode the profile: %s", pg_strerror(rc));
        gp_fail_now(g, &e);
        return;
    }
    if (gp_answer_cacheable(g)) {
        /* An answer larger than a quarter of the cache would only evict the rest. */
        pg_buf_init(&g->keep, (size_t)g->gw->d.cfg->cache_response_bytes / 4);
        g->keeping = true;
    }
    gp_headers ph;
    gp_headers_make(g, &ph);
    /* STREAM before the head goes out: a failed first write aborts inside stream_begin, and the
     * pump then ends the request. */
    gp_set_step(g, GP_STREAM);
    pg_http_stream_begin(g->req, 200, ph.h, ph.n);
    gp_pump(g);
}

/* ---------------------------------------------------------------- FETCH */

static void gp_start(gpreq *g, int64_t now);

/* Every bucket of the plan is in: the answer is encoded, or for a diff's base the head's range
 * is planned and fetched next, the base's tree kept aside. */
static void gp_fetched(gpreq *g)
{
    if (g->kind != GP_DIFF || g->has_base) {
        gp_encode(g);
        return;
    }
    gp_set_step(g, GP_PLAN);
    pg_apierr err;
    if (gp_acc_own(g) != PG_OK) { /* the base outlives the views this request holds */
        pg_apierr_set(&err, PG_AE_INTERNAL, "out of memory");
        gp_fail_now(g, &err);
        return;
    }
    g->base = g->acc;
    g->has_base = true;
    g->base_start_s = g->plan.start_s;
    g->base_end_s = g->plan.end_s;
    g->planned = g->plan.n;
    gp_runs_free(g); /* (all stored by now: none is pending) */
    g->nruns = 0;
    memset(g->skip, 0, sizeof g->skip);
    int64_t now = pg_clock_now(g->gw->d.clock), s, e;
    if (pg_profile_init(&g->acc, &g->gw->limits) != PG_OK) {
        pg_apierr_set(&err, PG_AE_INTERNAL, "out of memory");
        gp_fail_now(g, &err);
        return;
    }
    if (pg_range_resolve(&g->head_r, now, &s, &e, &err) != PG_OK) { /* checked before: only time moved */
        gp_fail_now(g, &err);
        return;
    }
    g->r = g->head_r;
    pg_plan_build(&g->gw->planner, s, e, now, &g->plan);
    gp_start(g, now);
}

static void on_bucket(void *ctx, pg_bucket_data *data, const pg_apierr *err)
{
    gpslot *slot = ctx;
    gpreq *g = gp_of(slot->g);
    PG_ASSERT(g->step == GP_FETCH && g->waiters[slot->i] != NULL);
    g->waiters[slot->i] = NULL; /* answered: the fetcher has already freed the waiter */
    g->pending--;
    if (data == NULL) {
        gp_fail(g, err);
        return;
    }
    if (data->source == PG_SRC_REDIS) {
        /* Served by the shared cache: a hit, not an upstream fetch or a coalesced one. */
        g->hits++;
        if (slot->coalesced)
            g->coalesced--;
        else
            g->fetched--;
        g->gw->m.buckets[PG_MB_REDIS]++;
    } else {
        g->gw->m.buckets[slot->coalesced ? PG_MB_COALESCED : PG_MB_UPSTREAM]++;
    }
    int rc = gp_fold_bucket(g, slot->i, data);
    pg_bucket_data_release(data);
    if (rc != PG_OK) {
        fail_limits(g, rc);
        return;
    }
    gp_charge(g);
    if (g->pending == 0)
        gp_fetched(g);
}

/* The client left. Where nothing of ours is on the stack (ADMIT, FETCH, PAUSED) the request ends
 * now; inside ENCODE or STREAM the code on the stack sees ABORTED and ends it. */
static void on_client_gone(pg_http_req *req, void *data)
{
    gpreq *g = gp_of(data);
    (void)req;
    switch (g->step) {
    case GP_ADMIT:
    case GP_FETCH: {
        if (g->step == GP_ADMIT)
            gp_unwait(g);
        else
            gp_leave_all(g);
        pg_apierr e;
        pg_apierr_set(&e, PG_AE_INTERNAL, "client left");
        gp_fail_now(g, &e); /* the answer is discarded: the connection is gone */
        return;
    }
    case GP_PAUSED:
        stream_done(g, false);
        return;
    case GP_ENCODE:
    case GP_STREAM:
        gp_set_step(g, GP_ABORTED);
        return;
    case GP_AUTH:
    case GP_VALIDATE:
    case GP_PLAN:
    case GP_ABORTED:
    case GP_DONE:
    case GP_STEP_COUNT:
        break;
    }
    PG_UNREACHABLE(); /* the abort callback is registered in FETCH and cleared by the answer */
}

/* How long Redis may keep a fetched bucket: a complete one until its upstream retention ends (for
 * ever in archive mode), a live one for freshness.live_ttl; negative: not at all. */
static int64_t l2_ttl_ms(const pg_gateway *gw, const pg_bucket *b, int64_t now_ns)
{
    if (!b->complete)
        return gw->d.cfg->live_ttl_ms > 0 ? gw->d.cfg->live_ttl_ms : -1;
    if (gw->planner.archive)
        return 0;
    int64_t ttl = (b->start_s + gw->planner.retention_s[b->period]) * 1000 - pg_floor_div(now_ns, PG_NS_PER_MS);
    return ttl > 0 ? ttl : -1;
}

/* FETCH: every bucket not covered by a stored run is asked for at once. Hits are folded in
 * right away (they never wait behind upstream work); the others arrive through on_bucket. */
static void gp_fetch(gpreq *g, int64_t now)
{
    gp_set_step(g, GP_FETCH);
    pg_http_req_on_abort(g->req, on_client_gone, g);
    pg_gateway *gw = g->gw;
    for (size_t i = 0; i < g->plan.n; i++) {
        if (g->skip[i])
            continue;
        const pg_bucket *b = &g->plan.b[i];
        g->slots[i] = (gpslot){.g = g, .i = i};
        pg_fetch_req fr = {.group = g->r.group, .period = b->period, .start_s = b->start_s, .complete = b->complete,
                           .l2_ttl_ms = l2_ttl_ms(gw, b, now), .origin = &g->origin, .cb = on_bucket,
                           .ctx = &g->slots[i]};
        pg_fetch_result res;
        pg_apierr err;
        switch (pg_fetcher_get(gw->d.fetcher, &fr, &res, &err)) {
        case PG_FETCH_FAILED:
            gp_fail(g, &err);
            return;
        case PG_FETCH_HIT: {
            g->hits++;
            gw->m.buckets[PG_MB_L1]++;
            int rc = gp_fold_bucket(g, i, res.hit);
            pg_bucket_data_release(res.hit);
            if (rc != PG_OK) {
                fail_limits(g, rc);
                return;
            }
            continue;
        }
        case PG_FETCH_WAIT:
            g->waiters[i] = res.waiter;
            g->pending++; /* waiter callbacks never run inside pg_fetcher_get */
            g->slots[i].coalesced = res.coalesced;
            g->fetched += !res.coalesced;
            g->coalesced += res.coalesced;
            continue;
        }
        PG_UNREACHABLE();
    }
    gp_charge(g);
    if (g->pending == 0)
        gp_fetched(g);
}

/* Admitted: the stored merged runs are folded in, then every other bucket is asked for. */
static void gp_start(gpreq *g, int64_t now)
{
    int rc = gp_plan_runs(g);
    if (rc != PG_OK) {
        fail_limits(g, rc);
        return;
    }
    gp_fetch(g, now);
}

void gp_fetch_admitted(gpreq *g)
{
    gp_start(g, pg_clock_now(g->gw->d.clock));
}

/* ---------------------------------------------------------------- AUTH, VALIDATE, PLAN */

void gw_getprofile(pg_gateway *gw, pg_http_req *req, pg_slice group, pg_slice query, gp_kind kind)
{
    gpreq *g = calloc(1, sizeof *g);
    pg_apierr err;
    if (g == NULL || pg_profile_init(&g->acc, &gw->limits) != PG_OK) {
        free(g);
        pg_apierr_set(&err, PG_AE_INTERNAL, "out of memory");
        pg_http_respond_error(req, &err);
        return;
    }
    gw->active++;
    g->magic = GP_MAGIC;
    g->spill_fd = -1;
    g->step = GP_AUTH;
    g->gw = gw;
    g->req = req;
    g->kind = kind;
    static const pg_m_route route[] = {[GP_API] = PG_MR_GETPROFILE, [GP_VIEW] = PG_MR_VIEW, [GP_DIFF] = PG_MR_DIFF};
    g->note = (gw_note){.route = route[kind], .gp = g};
    pg_http_req_set_note(req, &g->note);
    gw_origin_of(req, &g->origin);
    if (gw->d.tenants != NULL && (g->tenant = gw_authenticate(gw, req)) == NULL) {
        gp_set_step(g, GP_DONE); /* answered by gw_authenticate */
        gp_end_request(g);
        return;
    }
    gp_set_step(g, GP_VALIDATE);
    size_t alen = 0;
    char abuf[1024]; /* every Accept field, as one list */
    const char *accept = pg_http_req_header_list(req, "accept", abuf, sizeof abuf, &alen);
    int64_t now = pg_clock_now(gw->d.clock), s, e;
    int rc = kind == GP_VIEW   ? pg_view_parse(group, query, &g->r, &err)
             : kind == GP_DIFF ? pg_diff_parse(group, query, &g->r, &g->head_r, &err)
                               : pg_getprofile_parse(group, query, accept, alen, &g->r, &err);
    /* Both of a diff's ranges are checked before anything is fetched. */
    if (rc != PG_OK || (kind == GP_DIFF && pg_range_resolve(&g->head_r, now, &s, &e, &err) != PG_OK) ||
        pg_range_resolve(&g->r, now, &s, &e, &err) != PG_OK) {
        gp_fail_now(g, &err);
        return;
    }
    if (g->tenant != NULL && !gp_admit(g)) {
        gp_set_step(g, GP_DONE); /* answered by gp_admit */
        gp_end_request(g);
        return;
    }
    if (!gp_per_client(g)) {
        gp_set_step(g, GP_DONE); /* answered by gp_per_client */
        gp_end_request(g);
        return;
    }
    gp_set_step(g, GP_PLAN);
    /* pprof files are gzip-compressed protobuf: compressed whatever the client accepts, and the
     * same stored answer serves every client. */
    g->gzip_body = g->r.format == PG_FMT_PPROF;
    g->gzip = g->gzip_body || pg_http_req_accepts_gzip(req);
    pg_plan_build(&gw->planner, s, e, now, &g->plan);
    g->origin.cls = g->plan.n > (size_t)gw->d.cfg->up_bulk_buckets ? PG_FQ_BULK : PG_FQ_INTERACTIVE;
    pg_log(PG_LOG_DEBUG, "rid=%s group=%s plan buckets=%zu", pg_http_req_id(req), g->r.group, g->plan.n);
    if (gp_answer_from_cache(g)) {
        gp_set_step(g, GP_DONE);
        gp_end_request(g);
        return;
    }
    /* Nothing is held yet: a request waiting for room must not hold what it waits for. */
    if (!gp_enter(g)) {
        pg_http_req_on_abort(req, on_client_gone, g); /* waiting in ADMIT */
        return;
    }
    gp_start(g, now);
}
