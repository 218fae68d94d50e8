/* What a cached bucket costs in memory (issue #21): a 5-minute and a one-hour bucket from the
 * simulator's generator (NODES call-tree nodes per 5-minute bucket), written as the upstream's
 * JSON, parsed back as profgate parses an upstream answer, and measured: the JSON's size, the
 * parsed model as the cache holds it (pg_profile_memory, what the in-process cache is charged;
 * in brackets as parsed, before pg_profile_shrink),
 * bytes per node of each, and the compressed encoding Redis stores, which is also what the L1
 * keeps of a complete bucket (packed; since 2026-12-02: only live buckets stay models there).
 * Usage: bucket_bytes NODES. Prints one markdown table row per bucket. */
#include "profgate/pcodec.h"
#include "profgate/profile_json.h"
#include "profgate/simgen.h"

#include <stdio.h>
#include <stdlib.h>

static void measure(pg_simgen *g, int nodes, const char *label, pg_period period, int64_t secs)
{
    pg_profile_limits lim;
    pg_profile_limits_default(&lim);
    pg_simacc a;
    pg_profile gen, parsed;
    int64_t s = 86400 * 20000;
    if (pg_simgen_acc_init(g, "bench", &a) != PG_OK || pg_simgen_add(g, "bench", period, s, INT64_MAX / 4, &a) != PG_OK ||
        pg_profile_init(&gen, &lim) != PG_OK || pg_simgen_profile(g, "bench", &a, s * 1000, (s + secs) * 1000, &gen) != PG_OK)
        abort();
    pg_buf json, z;
    pg_buf_init(&json, (size_t)1 << 31);
    pg_buf_init(&z, (size_t)1 << 31);
    char why[256];
    if (pg_profile_encode(&gen, false, 0, &json) != PG_OK || pg_profile_init(&parsed, &lim) != PG_OK ||
        pg_profile_from_json(&parsed, json.data, json.len, why, sizeof why) != PG_OK ||
        pg_pcodec_encode(&parsed, 3, &z) != PG_OK) /* the fetcher's level */
        abort();
    size_t grown = pg_profile_memory(&parsed);
    if (pg_profile_shrink(&parsed, false) != PG_OK)
        abort();
    size_t mem = pg_profile_memory(&parsed);
    printf("| %d | %s | %u | %u | %.1f | %.0f | %.1f (%.0f) | %.0f (%.0f) | %.2f | %.1f | %.1f | %.3f |\n", nodes, label,
           parsed.n, parsed.strs.n, (double)json.len / 1024, (double)json.len / parsed.n, (double)mem / 1024,
           (double)grown / 1024, (double)mem / parsed.n, (double)grown / parsed.n, (double)mem / (double)json.len,
           (double)z.len / 1024, (double)z.len / parsed.n, (double)z.len / (double)json.len);
    pg_buf_free(&json);
    pg_buf_free(&z);
    pg_profile_free(&parsed);
    pg_profile_free(&gen);
    pg_simgen_acc_free(&a);
}

int main(int argc, char **argv)
{
    int nodes = argc > 1 ? atoi(argv[1]) : 3000;
    pg_simgen_cfg cfg = {.seed = 1, .nodes = (uint32_t)nodes, .data_since_s = 0, .cache_bytes = (size_t)1 << 30};
    pg_simgen *g = pg_simgen_new(&cfg);
    if (g == NULL)
        return 1;
    measure(g, nodes, "5 min", PG_P5M, 300);
    measure(g, nodes, "1 h", PG_P1H, 3600);
    pg_simgen_free(g);
    return 0;
}
