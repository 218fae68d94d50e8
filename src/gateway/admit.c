/*
 * admit.c: the memory budget for GetProfile answers in flight (server.inflight_bytes) and the
 * per-client cap on GetProfiles in progress (server.max_getprofile_per_client).
 *
 * Every request is charged what it holds: its merged tree, its run accumulators, its encoded
 * pieces, its output queued on the connection and the copy it keeps for the answer cache
 * (gp_charge, after each fold and each piece).
 * A new request is let in while the budget has room; otherwise it waits in ADMIT, oldest first,
 * for at most server.inflight_wait, and is let in as soon as others give memory back, or answered
 * 503 with Retry-After. What is admitted may still grow past the budget (buckets arrive), so the
 * second half is spilling: an answer whose client reads slowly is encoded to an unlinked file (a
 * step per loop turn) and its tree freed (getprofile.c asks gp_should_spill when its stream
 * pauses), which is what keeps a flood of slow readers from holding their trees for minutes.
 */
#include "gp.h"
#include "profgate/log.h"
#include "profgate/resources.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)
/* An answer smaller than this is never worth a file. */
#define SPILL_MIN MIB

size_t gw_inflight_limit(const pg_gateway *gw)
{
    if (gw->d.cfg->inflight_bytes > 0)
        return (size_t)gw->d.cfg->inflight_bytes;
    static size_t automatic;
    if (automatic == 0)
        automatic = PG_MAX((size_t)(pg_memory_available() / 4), 64 * MIB);
    return automatic;
}

/* ---------------------------------------------------------------- per client */

bool gp_per_client(gpreq *g)
{
    pg_gateway *gw = g->gw;
    size_t limit = (size_t)gw->d.cfg->max_getprofile_per_client;
    if (gw->gp_peers == NULL || !pg_http_req_peer(g->req, &g->peer))
        return true;
    if (pg_peers_add(gw->gp_peers, &g->peer, limit)) {
        g->peer_counted = true;
        return true;
    }
    gw->per_client_refused++;
    pg_apierr e;
    pg_apierr_set(&e, PG_AE_THROTTLING,
                  "Too many GetProfile requests in progress from this client address (%zu; "
                  "server.max_getprofile_per_client)", limit);
    e.retry_after_ms = 1000;
    pg_http_respond_error(g->req, &e);
    return false;
}

/* ---------------------------------------------------------------- charging */

static size_t held_by(const gpreq *g)
{
    size_t b = g->piece.cap + g->zpiece.cap + g->keep.cap;
    /* Output copied into the connection's queue and not yet taken by the kernel: up to the
     * stream's high-water mark and a piece. It shrinks as the client reads, between two charges,
     * so the charge errs high until the next piece. */
    if (g->step == GP_STREAM || g->step == GP_PAUSED)
        b += pg_http_stream_queued(g->req);
    if (g->spill_fd >= 0 && !g->spilling)
        return b; /* the tree is gone; the rest is in the file */
    b += pg_profile_memory(&g->acc);
    if (g->has_base)
        b += pg_profile_memory(&g->base);
    /* The writers that index the tree (a diff's base paths, speedscope's walk) hold about as much. */
    if (g->dwriter != NULL)
        b += pg_dwriter_memory(g->dwriter);
    if (g->sswriter != NULL)
        b += pg_sswriter_memory(g->sswriter);
    /* An Ion writer holds its call tree as written (unless a kept layout holds it). */
    if (g->writer != NULL)
        b += pg_pwriter_memory(g->writer);
    for (size_t r = 0; r < g->nruns; r++)
        if (g->runs[r].acc != NULL)
            b += pg_profile_memory(g->runs[r].acc);
    /* Until its tree is complete a request is charged what recent ones grew to: requests that
     * arrive together are not all let in while their trees are still small. */
    return PG_MAX(b, g->reserve);
}

void gp_tree_complete(gpreq *g)
{
    pg_gateway *gw = g->gw;
    size_t tree = pg_profile_memory(&g->acc);
    gw->typical = gw->typical == 0 ? tree : (3 * gw->typical + tree) / 4;
    g->reserve = 0;
    gp_charge(g);
}

void gp_charge(gpreq *g)
{
    pg_gateway *gw = g->gw;
    size_t now = held_by(g), before = g->charged;
    PG_ASSERT(gw->inflight >= before);
    gw->inflight = gw->inflight - before + now;
    g->charged = now;
    if (now < before && gw->wait.n > 0)
        gw_admit_waiting(gw);
}

/* ---------------------------------------------------------------- waiting */

static void wait_remove(gpreq *g)
{
    pg_gateway *gw = g->gw;
    PG_ASSERT(g->waiting && gw->wait.n > 0);
    if (g->wprev)
        g->wprev->wnext = g->wnext;
    else
        gw->wait.head = g->wnext;
    if (g->wnext)
        g->wnext->wprev = g->wprev;
    else
        gw->wait.tail = g->wprev;
    g->wprev = g->wnext = NULL;
    g->waiting = false;
    gw->wait.n--;
    uv_timer_stop(&g->wait_timer);
}

static void on_wait_timeout(uv_timer_t *t)
{
    gpreq *g = gp_of(t->data);
    PG_ASSERT(g->step == GP_ADMIT);
    wait_remove(g);
    g->gw->admit_refused++;
    pg_apierr e;
    pg_apierr_set(&e, PG_AE_UNAVAILABLE,
                  "profgate's memory for answers in flight is in use (server.inflight_bytes = %zu bytes); retry shortly",
                  gw_inflight_limit(g->gw));
    e.retry_after_ms = 1000;
    gp_set_step(g, GP_DONE);
    pg_http_respond_error(g->req, &e);
    gp_end_request(g);
}

static bool has_room(const pg_gateway *gw)
{
    return gw->inflight < gw_inflight_limit(gw);
}

/* What a request reserves before its tree is known: what recent ones took, capped so that one
 * request alone always fits. */
static size_t reserve_for(const pg_gateway *gw)
{
    return PG_MIN(gw->typical > 0 ? gw->typical : MIB, gw_inflight_limit(gw) / 2);
}

bool gp_enter(gpreq *g)
{
    pg_gateway *gw = g->gw;
    g->reserve = reserve_for(gw);
    if (gw->wait.n == 0 && has_room(gw)) {
        gp_charge(g);
        return true;
    }
    gp_set_step(g, GP_ADMIT);
    gw->admit_waits++;
    if (!g->wait_timer_init) {
        PG_CHECK_UV(uv_timer_init(pg_http_req_loop(g->req), &g->wait_timer));
        g->wait_timer.data = g;
        g->wait_timer_init = true;
    }
    g->waiting = true;
    g->wprev = gw->wait.tail;
    if (gw->wait.tail)
        gw->wait.tail->wnext = g;
    else
        gw->wait.head = g;
    gw->wait.tail = g;
    gw->wait.n++;
    PG_CHECK_UV(uv_timer_start(&g->wait_timer, on_wait_timeout, (uint64_t)gw->d.cfg->inflight_wait_ms, 0));
    return false;
}

void gp_unwait(gpreq *g)
{
    if (g->waiting)
        wait_remove(g);
    else
        uv_timer_stop(&g->wait_timer); /* let in, its start not run yet */
}

static void on_admitted(uv_timer_t *t)
{
    gpreq *g = gp_of(t->data);
    PG_ASSERT(g->step == GP_ADMIT && !g->waiting);
    gp_fetch_admitted(g);
}

/* Lets in the oldest waiters the budget has room for, each charged its reservation at once.
 * Their work starts from the loop, one timer each (1 ms: libuv runs a 0 ms timer started inside
 * a timer callback in the same pass), so a burst of admissions never runs as one long callback
 * with every other connection waiting behind it. */
void gw_admit_waiting(pg_gateway *gw)
{
    while (gw->wait.head != NULL && has_room(gw)) {
        gpreq *g = gw->wait.head;
        wait_remove(g);
        g->reserve = reserve_for(gw);
        gp_charge(g);
        PG_CHECK_UV(uv_timer_start(&g->wait_timer, on_admitted, 1, 0));
    }
}

/* ---------------------------------------------------------------- spilling */

bool gp_should_spill(const gpreq *g)
{
    const pg_gateway *gw = g->gw;
    size_t limit = gw_inflight_limit(gw);
    if (g->spill_fd >= 0 || !gp_encoding(g) || gw->d.cfg->spill_bytes <= 0 || g->charged < SPILL_MIN ||
        gw->spilled >= (size_t)gw->d.cfg->spill_bytes)
        return false;
    /* Memory is getting short, or this one answer is a large share of it. */
    return gw->inflight > limit / 2 || g->charged > limit / 8;
}

int gp_spill_open(const pg_gateway *gw)
{
    const char *dir = gw->d.cfg->spill_dir;
    if (!dir[0])
        dir = getenv("TMPDIR");
    if (dir == NULL || !dir[0])
        dir = "/var/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    /* A file system without O_TMPFILE: a named file, unlinked at once. */
    char path[600];
    snprintf(path, sizeof path, "%s/profgate-spill-XXXXXX", dir);
    fd = mkstemp(path);
    if (fd < 0) {
        pg_log(PG_LOG_WARN, "cannot spill an answer to %s: %s (server.spill_dir)", dir, strerror(errno));
        return -1;
    }
    unlink(path);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

/* ---------------------------------------------------------------- the end */

static void on_wait_timer_closed(uv_handle_t *h)
{
    gpreq *g = h->data;
    g->magic = 0;
    free(g);
}

void gp_release(gpreq *g)
{
    pg_gateway *gw = g->gw;
    PG_ASSERT(!g->waiting);
    if (g->peer_counted) {
        pg_peers_remove(gw->gp_peers, &g->peer);
        g->peer_counted = false;
    }
    if (g->spill_fd >= 0) {
        gw->spilled -= g->spill_len - g->spill_off;
        close(g->spill_fd);
        g->spill_fd = -1;
    }
    PG_ASSERT(gw->inflight >= g->charged);
    gw->inflight -= g->charged;
    g->charged = 0;
}

void gp_free(gpreq *g)
{
    if (g->wait_timer_init) {
        uv_close((uv_handle_t *)&g->wait_timer, on_wait_timer_closed);
        return;
    }
    g->magic = 0;
    free(g);
}
