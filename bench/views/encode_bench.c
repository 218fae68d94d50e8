/* Encoders of the view route, measured (issue #19): a merged 24-hour profile from the simulator's
 * generator (NODES call-tree nodes per 5-minute bucket), encoded as JSON (GetProfile's answer, the
 * anchor), folded stacks (format=collapsed, the default counter) and pprof (the protobuf, then
 * gzip at level 1 as served) and speedscope's JSON (a profile per counter), REPS times each, interleaved in rotated order within each repetition so that
 * machine drift hits all alike; memcpy of the JSON's size is printed for scale. Median (min-max)
 * milliseconds and MB/s of output. Usage: encode_bench NODES [REPS [ONLY]]; ONLY (a contender's
 * name, such as "json") runs just that one, for profiling it with perf. */
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

enum { C_MEMCPY, C_JSON, C_ION, C_COLLAPSED, C_PPROF, C_PPROF_GZ, C_SPEEDSCOPE, C_N };
static const char *const names[C_N] = {
    "memcpy (JSON's size)", "json (anchor)", "ion", "collapsed", "pprof (protobuf)", "pprof + gzip (as served)",
    "speedscope"};

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

/* One contender once; its output size in *bytes. */
static double run(int c, const pg_profile *p, uint32_t counter, size_t json_len, size_t *bytes)
{
    pg_buf out, gz;
    pg_buf_init(&out, (size_t)2 << 30);
    pg_buf_init(&gz, (size_t)2 << 30);
    bool done = false;
    double t0 = now_ms();
    switch (c) {
    case C_MEMCPY: {
        char *a = malloc(json_len), *b = malloc(json_len);
        memset(a, 'x', json_len);
        t0 = now_ms();
        memcpy(b, a, json_len);
        *bytes = json_len;
        double t = now_ms() - t0;
        __asm__ volatile("" ::"r"(b) : "memory");
        free(a);
        free(b);
        return t;
    }
    case C_JSON:
    case C_ION:
        if (pg_profile_encode(p, c == C_ION, 0, &out) != PG_OK)
            abort();
        break;
    case C_COLLAPSED: {
        pg_fwriter *w;
        if (pg_fwriter_new(p, counter, 0, &w) != PG_OK)
            abort();
        while (!done)
            if (pg_fwriter_step(w, &out, out.len + (256 << 10), &done) != PG_OK)
                abort();
        pg_fwriter_free(w);
        break;
    }
    case C_PPROF:
    case C_PPROF_GZ: {
        pg_ppwriter *w;
        if (pg_ppwriter_new(p, counter, 0, &w) != PG_OK)
            abort();
        while (!done)
            if (pg_ppwriter_step(w, &out, out.len + (256 << 10), &done) != PG_OK)
                abort();
        pg_ppwriter_free(w);
        if (c == C_PPROF_GZ && pg_gzip(out.data, out.len, 1, &gz) != PG_OK) /* the gateway's level for pprof */
            abort();
        break;
    }
    case C_SPEEDSCOPE: {
        pg_sswriter *w;
        if (pg_sswriter_new(p, "bench", counter, 0, &w) != PG_OK)
            abort();
        while (!done)
            if (pg_sswriter_step(w, &out, out.len + (256 << 10), &done) != PG_OK)
                abort();
        pg_sswriter_free(w);
        break;
    }
    default: abort();
    }
    double t = now_ms() - t0;
    *bytes = c == C_PPROF_GZ ? gz.len : out.len;
    pg_buf_free(&out);
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
    uint32_t counter;
    if (pg_profile_pick_counter(&day, NULL, 0, &counter) != PG_OK)
        return 1;
    size_t json_len;
    run(C_JSON, &day, counter, 0, &json_len);
    static double t[C_N][1000];
    size_t bytes[C_N] = {0};
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < C_N; k++) {
            int c = (k + r) % C_N;
            if (only == NULL || strncmp(names[c], only, strlen(only)) == 0)
                t[c][r] = run(c, &day, counter, json_len, &bytes[c]);
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
    pg_simgen_free(g);
    return 0;
}
