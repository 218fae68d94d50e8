/*
 * answers.c: the stored-answer cache. An answer whose buckets are all complete can no longer
 * change, so a repeat of the same covered range, format, maxDepth and encoding is answered with
 * the same bytes, without planning fetches, merging or encoding. The view route's answers too
 * (their format and counter are part of the key).
 */
#include "gp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* An encoded answer, kept for repeats of a request whose buckets are all complete: its content
 * can no longer change, so the same covered range, format, maxDepth and encoding give the same
 * bytes. Either way a repeat is never copied in user space. By default the bytes stay in a
 * buffer that the connection writes (the kernel copies it into the socket). With
 * cache.response_sendfile they live in a memfd sent with sendfile: no copy into the socket, but
 * a cost per page handed over, which on loopback exceeded the copy (bench/hitpath,
 * 2026-12-02); in a buffer if no memfd can be had. An answer that was spilled
 * (server.spill_dir) is kept as its spill file. */
typedef struct answer {
    int fd; /* -1: in body */
    pg_buf body;
    size_t len;
    char counter[PG_COUNTER_MAX + 1]; /* X-Profgate-Counter of the view route's answers */
} answer;

static void free_answer(void *v)
{
    answer *a = v;
    if (a->fd >= 0)
        close(a->fd);
    pg_buf_free(&a->body);
    free(a);
}

/* A memfd holding a copy of data, or -1. */
static int memfd_of(const pg_buf *data)
{
    int fd = memfd_create("profgate-answer", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < data->len) {
        ssize_t n = write(fd, data->data + off, data->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    return fd;
}


pg_lru *gw_answers_new(size_t bytes)
{
    return pg_lru_new(bytes, free_answer);
}

/* Group names are at most 255 bytes and counters 64 (validated), so the key always fits. */
#define ANSWER_KEY_MAX 512

static int answer_key(const pg_getprofile_req *r, const pg_plan *plan, bool gzip, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s|%lld|%lld|%d|%d|%d|%s", r->group, (long long)plan->start_s,
                     (long long)plan->end_s, (int)r->format, r->max_depth, gzip, r->counter);
    PG_FMT_FITS(n, outlen);
    return n;
}

static bool plan_immutable(const pg_plan *plan)
{
    if (plan->n == 0)
        return false;
    for (size_t i = 0; i < plan->n; i++)
        if (!plan->b[i].complete)
            return false;
    return true;
}

bool gp_answer_cacheable(const gpreq *g)
{
    /* A diff's answer depends on two plans: not kept (its trees come from the caches anyway). */
    return g->kind != GP_DIFF && pg_lru_capacity(g->gw->answers) > 0 && plan_immutable(&g->plan);
}

/* A repeat of an all-complete request: the stored answer, written from where it is kept. */
bool gp_answer_from_cache(gpreq *g)
{
    if (!gp_answer_cacheable(g))
        return false;
    char key[ANSWER_KEY_MAX];
    int klen = answer_key(&g->r, &g->plan, g->gzip, key, sizeof key);
    pg_lru_entry *e = pg_lru_get(g->gw->answers, key, (size_t)klen);
    if (e == NULL)
        return false;
    g->gw->answer_hits++;
    g->hits = g->plan.n;
    /* The write holds the reference and releases it when done. */
    const answer *a = pg_lru_value(e);
    memcpy(g->counter, a->counter, sizeof g->counter);
    gp_headers ph;
    gp_headers_make(g, &ph);
    if (a->fd >= 0)
        pg_http_respond_fd(g->req, 200, ph.h, ph.n, a->fd, a->len, pg_lru_release_entry, e);
    else
        pg_http_respond_shared(g->req, 200, ph.h, ph.n, a->body.data, a->body.len, pg_lru_release_entry, e);
    return true;
}

static void put_answer(gpreq *g, answer *a)
{
    memcpy(a->counter, g->counter, sizeof a->counter);
    char key[ANSWER_KEY_MAX];
    int klen = answer_key(&g->r, &g->plan, g->gzip, key, sizeof key);
    pg_lru_put(g->gw->answers, key, (size_t)klen, a, a->len + sizeof *a);
}

/* Keeps an all-complete answer for repeats; the cache takes body's buffer. */
void gp_store_answer(gpreq *g, pg_buf *body)
{
    answer *a = malloc(sizeof *a);
    if (a == NULL) {
        pg_buf_free(body);
        return;
    }
    a->len = body->len;
    a->fd = g->gw->d.cfg->cache_response_sendfile ? memfd_of(body) : -1;
    if (a->fd >= 0) {
        pg_buf_free(body);
        pg_buf_init(&a->body, 0);
    } else {
        a->body = *body;
        pg_buf_init(body, 0);
        pg_buf_shrink(&a->body); /* kept and charged at its length, not its growth room */
    }
    put_answer(g, a);
}

/* A spilled answer: the request closes its descriptor when it ends, the cache keeps a dup. */
void gp_store_answer_file(gpreq *g, int fd, size_t len)
{
    answer *a = malloc(sizeof *a);
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (a == NULL || own < 0) {
        free(a);
        if (own >= 0)
            close(own);
        return;
    }
    a->fd = own;
    a->len = len;
    pg_buf_init(&a->body, 0);
    put_answer(g, a);
}

