/* Encoders of the view route and GetProfile's answer, measured (issues #19 and #21): a 24-hour
 * profile merged from the simulator's generator (NODES call-tree nodes per 5-minute bucket),
 * encoded as JSON (GetProfile's answer, the anchor) and Ion, folded stacks (format=collapsed, the
 * default counter), pprof (the protobuf, then gzip at level 1 as served) and speedscope's JSON (a
 * profile per counter), REPS times each, interleaved in rotated order within each repetition so
 * that machine drift hits all alike; memcpy of the JSON's size is printed for scale. Median
 * (min-max) milliseconds and MB/s of output.
 * The day is encoded as the gateway keeps it (a stored run or span: compacted, in writing order),
 * which is what repeated and sliding answers are written from; JSON and Ion are also timed on the
 * day as the merge left it (a range met for the first time). "ion, layout kept" is Ion written with the
 * layout an earlier writer of the same answer left (pg_ion_layout): how the gateway writes a kept
 * answer again.
 * Every encoder writes its output as the gateway streams it: in pieces of PIECE bytes into one
 * reused buffer (getprofile.c's STREAM_CHUNK), so what is timed is the encoder and not a buffer
 * growing to the whole answer (until 2026-12-02 the output grew in one buffer, and reallocating
 * it was a fifth of the JSON writer's time).
 * Usage: encode_bench NODES [REPS [ONLY]]; ONLY (the start of a contender's name, such as "json")
 * runs just those, for profiling with perf; "=NAME" runs the one named NAME alone. */
#include "profgate/folded.h"
#include "profgate/gzip.h"
#include "profgate/merge.h"
#include "profgate/pprof.h"
#include "profgate/simgen.h"
#include "profgate/speedscope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { C_MEMCPY, C_JSON, C_ION, C_ION_LAYOUT, C_JSON_MERGED, C_ION_MERGED, C_COLLAPSED, C_PPROF, C_PPROF_GZ, C_SPEEDSCOPE, C_N };
static const char *const names[C_N] = {
    "memcpy (JSON's size)", "json (anchor)", "ion", "ion, layout kept", "json, as merged", "ion, as merged", "collapsed", "pprof (protobuf)",
    "pprof + gzip (as served)", "speedscope"};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define PIECE ((size_t)64 * 1024)

/* The output so far: pieces are counted, then the buffer is emptied for the next (the gateway
 * hands each piece to the connection's queue). */
typedef struct sink {
    pg_buf piece;
    size_t total;
} sink;

static void sink_flush(sink *k)
{
    k->total += k->piece.len;
    pg_buf_reset(&k->piece);
}

/* One contender once; its output size in *bytes. p is the day as the gateway keeps it (a stored
 * run or span, compacted in writing order), merged the same day just as pg_profile_merge left it
 * (what a range met for the first time is written from). */
static double run(int c, const pg_profile *p, const pg_profile *merged, uint32_t counter, size_t json_len,
                  size_t *bytes)
{
    /* The Ion layout the gateway keeps with a kept answer, made by one earlier writer: "ion, layout
     * kept" is a repeated answer's writer; "ion" makes its own, as the first writer does. */
#ifdef PG_HAVE_ION_LAYOUT
    static pg_ion_layout *layout;
    if (c == C_ION_LAYOUT && layout == NULL) {
        pg_pwriter *w;
        if (pg_pwriter_new(p, true, 0, &w) != PG_OK)
            abort();
        layout = pg_ion_layout_ref(pg_pwriter_layout(w));
        pg_pwriter_free(w);
    }
#else
    if (c == C_ION_LAYOUT) { /* a tree from before layouts: not run (no bytes, so no row) */
        *bytes = 0;
        return 0;
    }
#endif
    static sink k; /* kept across runs, as a connection keeps its piece buffer */
    pg_buf gz;
    size_t zbytes = 0; /* pprof + gzip: the compressed bytes */
    if (k.piece.limit == 0)
        pg_buf_init(&k.piece, (size_t)2 << 30);
    k.total = 0;
    pg_buf_init(&gz, (size_t)2 << 30);
    bool done = false;
    double t0 = now_ms();
    switch (c) {
    case C_MEMCPY: {
        /* The JSON's bytes copied piece by piece into the same buffer: what moving the answer
         * costs at memory speed, the floor an encoder is measured against. */
        static char *src;
        static size_t src_len;
        if (src_len != json_len) {
            free(src);
            src = malloc(json_len);
            if (src == NULL)
                abort();
            memset(src, 'x', json_len);
            src_len = json_len;
        }
        t0 = now_ms();
        for (size_t off = 0; off < json_len; off += PIECE) {
            size_t n = PG_MIN(PIECE, json_len - off);
            if (pg_buf_append(&k.piece, src + off, n) != PG_OK)
                abort();
            __asm__ volatile("" ::"r"(k.piece.data) : "memory");
            sink_flush(&k);
        }
        break;
    }
    case C_JSON:
    case C_ION:
    case C_ION_LAYOUT:
    case C_JSON_MERGED:
    case C_ION_MERGED: {
        pg_pwriter *w;
#ifdef PG_HAVE_ION_LAYOUT
        if (c == C_ION_LAYOUT ? pg_pwriter_new_ion(p, layout, &w) != PG_OK || pg_pwriter_layout(w) != layout
                              : pg_pwriter_new(c == C_JSON || c == C_ION ? p : merged, c == C_ION || c == C_ION_MERGED, 0,
                                               &w) != PG_OK)
            abort();
#else
        if (pg_pwriter_new(c == C_JSON || c == C_ION ? p : merged, c == C_ION || c == C_ION_MERGED, 0, &w) != PG_OK)
            abort();
#endif
        while (!done) {
            if (pg_pwriter_step(w, &k.piece, PIECE, &done) != PG_OK)
                abort();
            sink_flush(&k);
        }
        pg_pwriter_free(w);
        break;
    }
    case C_COLLAPSED: {
        pg_fwriter *w;
        if (pg_fwriter_new(p, counter, 0, &w) != PG_OK)
            abort();
        while (!done) {
            if (pg_fwriter_step(w, &k.piece, PIECE, &done) != PG_OK)
                abort();
            sink_flush(&k);
        }
        pg_fwriter_free(w);
        break;
    }
    case C_PPROF:
    case C_PPROF_GZ: {
        pg_ppwriter *w;
        pg_gzip_stream *z = NULL;
        if (pg_ppwriter_new(p, counter, 0, &w) != PG_OK)
            abort();
        /* pprof is served gzipped at level 1 (the gateway's level for it), piece by piece. */
        if (c == C_PPROF_GZ && pg_gzip_stream_new(1, &z) != PG_OK)
            abort();
        while (!done) {
            if (pg_ppwriter_step(w, &k.piece, PIECE, &done) != PG_OK)
                abort();
            if (z != NULL) {
                pg_buf_reset(&gz);
                if (pg_gzip_stream_write(z, k.piece.data, k.piece.len, done, &gz) != PG_OK)
                    abort();
                zbytes += gz.len;
            }
            sink_flush(&k);
        }
        pg_gzip_stream_free(z);
        pg_ppwriter_free(w);
        break;
    }
    case C_SPEEDSCOPE: {
        pg_sswriter *w;
        if (pg_sswriter_new(p, "bench", counter, 0, &w) != PG_OK)
            abort();
        while (!done) {
            if (pg_sswriter_step(w, &k.piece, PIECE, &done) != PG_OK)
                abort();
            sink_flush(&k);
        }
        pg_sswriter_free(w);
        break;
    }
    default: abort();
    }
    double t = now_ms() - t0;
    *bytes = c == C_PPROF_GZ ? zbytes : k.total;
    pg_buf_free(&gz);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: encode_bench NODES [REPS [ONLY]]\n");
        return 64;
    }
    uint32_t nodes = (uint32_t)strtoul(argv[1], NULL, 10);
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    if (reps < 1 || reps > 1000)
        reps = 7;
    const char *only = argc > 3 ? argv[3] : NULL;
    bool only_exact = only != NULL && only[0] == '='; /* "=ion": that contender alone */
    /* 24 hours merged from their 288 five-minute buckets, as a sliding day's answer is. */
    pg_simgen_cfg cfg = {.seed = 1, .nodes = nodes, .data_since_s = 0, .cache_bytes = (size_t)1 << 30};
    pg_simgen *g = pg_simgen_new(&cfg);
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    pg_profile day;
    if (pg_profile_init(&day, &lim) != PG_OK)
        return 1;
    const int64_t start = INT64_C(1795564800); /* a UTC midnight */
    for (int b = 0; b < 288; b++) {
        pg_simacc a;
        pg_profile bucket;
        int64_t s = start + 300 * b;
        if (pg_simgen_acc_init(g, "bench", &a) != PG_OK || pg_simgen_add(g, "bench", PG_P5M, s, INT64_MAX / 4, &a) != PG_OK ||
            pg_profile_init(&bucket, &lim) != PG_OK ||
            pg_simgen_profile(g, "bench", &a, s * 1000, (s + 300) * 1000, &bucket) != PG_OK ||
            pg_profile_merge(&day, &bucket) != PG_OK)
            return 1;
        pg_profile_free(&bucket);
        pg_simgen_acc_free(&a);
    }
    pg_profile merged;
    if (pg_profile_copy(&merged, &day, &lim) != PG_OK || pg_profile_shrink(&day, true) != PG_OK)
        return 1;
    uint32_t counter;
    if (pg_profile_pick_counter(&day, NULL, 0, &counter) != PG_OK)
        return 1;
    size_t json_len;
    run(C_JSON, &day, &merged, counter, 0, &json_len);
    static double t[C_N][1000];
    size_t bytes[C_N] = {0};
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < C_N; k++) {
            int c = (k + r) % C_N;
            if (only == NULL || strncmp(names[c], only, strlen(only)) == 0 || (only_exact && strcmp(names[c], only + 1) == 0))
                t[c][r] = run(c, &day, &merged, counter, json_len, &bytes[c]);
        }
    printf("| nodes/bucket | merged nodes | encoder | output KB | ms, median (min-max) | MB/s (median) | vs json |\n");
    printf("|---|---|---|---|---|---|---|\n");
    qsort(t[C_JSON], (size_t)reps, sizeof(double), cmp_double);
    double json_med = t[C_JSON][reps / 2];
    for (int c = 0; c < C_N; c++) {
        if (bytes[c] == 0)
            continue; /* not run (ONLY) */
        if (c != C_JSON)
            qsort(t[c], (size_t)reps, sizeof(double), cmp_double);
        double med = t[c][reps / 2];
        printf("| %u | %u | %s | %zu | %.2f (%.2f-%.2f) | %.0f | %.2fx |\n", nodes, day.n - 1, names[c], bytes[c] / 1024,
               med, t[c][0], t[c][reps - 1], (double)bytes[c] / 1e6 / (med / 1e3), json_med / med);
    }
    pg_profile_free(&day);
    pg_profile_free(&merged);
    pg_simgen_free(g);
    return 0;
}
