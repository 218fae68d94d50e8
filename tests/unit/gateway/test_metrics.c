/* Unit tests for metrics.c: histogram placement, status mapping, and the rendered exposition:
 * labelled series in table order, sparse series omitted when zero, histograms cumulative with
 * _sum and _count, every series preceded by its HELP and TYPE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "profgate/metrics.h"
#include "profgate/worker_stats.h"

#include <sys/wait.h>
#include <unistd.h>

static void test_histo(void **state)
{
    (void)state;
    pg_histo h = {0};
    pg_histo_observe(&h, 400000);      /* 0.4 ms: first bucket (<= 0.5 ms) */
    pg_histo_observe(&h, 500000);      /* exactly 0.5 ms: still the first */
    pg_histo_observe(&h, 3000000);     /* 3 ms: <= 5 ms */
    pg_histo_observe(&h, 60000000000); /* 60 s: above every bound */
    assert_int_equal(h.counts[0], 2);
    assert_int_equal(h.counts[3], 1);
    assert_int_equal(h.counts[PG_HISTO_BOUNDS], 1);
    assert_int_equal(h.n, 4);
    assert_true(h.sum > 60.00389 && h.sum < 60.00391);
}

static void test_status(void **state)
{
    (void)state;
    assert_int_equal(pg_metrics_status(200), PG_MS_200);
    assert_int_equal(pg_metrics_status(429), PG_MS_429);
    assert_int_equal(pg_metrics_status(504), PG_MS_504);
    assert_int_equal(pg_metrics_status(0), PG_MS_OTHER);
    assert_int_equal(pg_metrics_status(418), PG_MS_OTHER);
}

static char *render(const pg_metrics_snap *s)
{
    pg_buf b;
    pg_buf_init(&b, 1 << 20);
    assert_int_equal(pg_metrics_render(&b, s), PG_OK);
    assert_int_equal(pg_buf_append(&b, "", 1), PG_OK);
    return b.data;
}

static void test_render(void **state)
{
    (void)state;
    pg_metrics_snap *s = calloc(1, sizeof *s);
    s->g.requests[PG_MR_GETPROFILE][PG_MS_200][PG_MC_HIT] = 7;
    s->g.requests[PG_MR_READYZ][PG_MS_503][PG_MC_NONE] = 2;
    s->g.buckets[PG_MB_COALESCED] = 3;
    s->up_attempts[PG_MU_TIMEOUT] = 4;
    s->up_rate = 2.5;
    s->cache_bytes[PG_MT_ANSWERS] = 12345;
    pg_histo_observe(&s->up_seconds, 2000000);  /* 2 ms */
    pg_histo_observe(&s->up_seconds, 30000000); /* 30 ms */
    s->start_time = 1795600000.25;
    char *t = render(s);
    assert_non_null(strstr(t, "profgate_build_info{version=\"" PG_VERSION "\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE profgate_requests_total counter\n"));
    assert_non_null(strstr(t, "profgate_requests_total{route=\"GetProfile\",code=\"200\",cache=\"hit\"} 7\n"));
    assert_non_null(strstr(t, "profgate_requests_total{route=\"readyz\",code=\"503\",cache=\"none\"} 2\n"));
    /* Sparse: a zero combination is not written; dense: zeros are. */
    assert_null(strstr(t, "profgate_requests_total{route=\"GetProfile\",code=\"200\",cache=\"miss\"}"));
    assert_non_null(strstr(t, "profgate_buckets_total{source=\"coalesced\"} 3\n"));
    assert_non_null(strstr(t, "profgate_buckets_total{source=\"l1\"} 0\n"));
    assert_non_null(strstr(t, "profgate_upstream_requests_total{outcome=\"timeout\"} 4\n"));
    assert_non_null(strstr(t, "profgate_upstream_rate 2.5\n"));
    assert_non_null(strstr(t, "profgate_cache_bytes{tier=\"answers\"} 12345\n"));
    assert_non_null(strstr(t, "profgate_start_time_seconds 1795600000.25\n"));
    /* Cumulative buckets: 0 up to 1 ms, 1 from 2.5 ms, 2 from 50 ms, 2 at +Inf. */
    assert_non_null(strstr(t, "profgate_upstream_request_duration_seconds_bucket{le=\"0.001\"} 0\n"));
    assert_non_null(strstr(t, "profgate_upstream_request_duration_seconds_bucket{le=\"0.0025\"} 1\n"));
    assert_non_null(strstr(t, "profgate_upstream_request_duration_seconds_bucket{le=\"0.025\"} 1\n"));
    assert_non_null(strstr(t, "profgate_upstream_request_duration_seconds_bucket{le=\"0.05\"} 2\n"));
    assert_non_null(strstr(t, "profgate_upstream_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(t, "profgate_upstream_request_duration_seconds_sum 0.032\n"));
    assert_non_null(strstr(t, "profgate_upstream_request_duration_seconds_count 2\n"));
    /* A sparse histogram with no observations writes no series at all. */
    assert_null(strstr(t, "profgate_request_duration_seconds_bucket"));
    /* Every series line follows its metric's TYPE line. */
    const char *p = t;
    char current[128] = "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (strncmp(p, "# TYPE ", 7) == 0) {
            sscanf(p + 7, "%127s", current);
        } else if (p[0] != '#') {
            assert_true(strncmp(p, current, strlen(current)) == 0);
        }
        p = nl + 1;
    }
    free(t);
    free(s);
}

/* Several workers: each family's HELP and TYPE once, then every worker's series, labelled. */
static void test_render_workers(void **state)
{
    (void)state;
    pg_metrics_snap *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    a->g.buckets[PG_MB_L1] = 5;
    b->g.buckets[PG_MB_L1] = 9;
    pg_histo_observe(&b->up_seconds, 2000000);
    b->ntenants = 1;
    strcpy(b->tenants[0].name, "team-a");
    b->tenants[0].requests = 4;
    const pg_metrics_part parts[] = {{a, 1}, {b, 2}};
    pg_buf out;
    pg_buf_init(&out, 1 << 21);
    assert_int_equal(pg_metrics_render_parts(&out, parts, 2), PG_OK);
    assert_int_equal(pg_buf_append(&out, "", 1), PG_OK);
    const char *t = out.data;
    const char *w1 = strstr(t, "profgate_buckets_total{worker=\"1\",source=\"l1\"} 5\n");
    const char *w2 = strstr(t, "profgate_buckets_total{worker=\"2\",source=\"l1\"} 9\n");
    assert_non_null(w1);
    assert_non_null(w2);
    assert_true(w1 < w2);
    assert_non_null(strstr(t, "profgate_upstream_rate{worker=\"1\"} 0\n"));
    assert_non_null(strstr(t, "profgate_upstream_request_duration_seconds_bucket{worker=\"2\",le=\"0.0025\"} 1\n"));
    assert_non_null(strstr(t, "profgate_upstream_request_duration_seconds_count{worker=\"2\"} 1\n"));
    assert_non_null(strstr(t, "profgate_tenant_requests_total{tenant=\"team-a\",worker=\"2\"} 4\n"));
    /* One HELP per family, however many workers. */
    const char *help = "# HELP profgate_buckets_total ";
    const char *first = strstr(t, help);
    assert_non_null(first);
    assert_null(strstr(first + 1, help));
    pg_buf_free(&out);
    free(a);
    free(b);
}

/* The shared slots: absent until published, a copy of what the writer (another process) put
 * there, absent again once cleared. */
static void test_worker_stats(void **state)
{
    (void)state;
    pg_worker_stats *ws = pg_worker_stats_new(2);
    assert_non_null(ws);
    assert_int_equal(pg_worker_stats_count(ws), 2);
    pg_metrics_snap *s = calloc(1, sizeof *s);
    assert_false(pg_worker_stats_read(ws, 1, s));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pg_metrics_snap *mine = calloc(1, sizeof *mine);
        for (uint64_t i = 1; i <= 1000; i++) {
            mine->g.buckets[PG_MB_L1] = i;
            mine->g.buckets[PG_MB_REDIS] = i; /* a torn copy would show two different values */
            pg_worker_stats_publish(ws, 2, mine);
        }
        free(mine);
        _exit(0);
    }
    uint64_t last = 0;
    int st;
    do {
        if (pg_worker_stats_read(ws, 2, s)) {
            assert_int_equal(s->g.buckets[PG_MB_L1], s->g.buckets[PG_MB_REDIS]);
            assert_true(s->g.buckets[PG_MB_L1] >= last); /* never older than what was seen */
            last = s->g.buckets[PG_MB_L1];
        }
    } while (waitpid(pid, &st, WNOHANG) == 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(pg_worker_stats_read(ws, 2, s));
    assert_int_equal(s->g.buckets[PG_MB_L1], 1000);
    assert_false(pg_worker_stats_read(ws, 1, s));
    pg_worker_stats_clear(ws, 2);
    assert_false(pg_worker_stats_read(ws, 2, s));
    free(s);
    pg_worker_stats_free(ws);
}

static void test_doc(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    pg_metrics_write_doc(f);
    fclose(f);
    assert_non_null(strstr(text, "| `profgate_buckets_total` | counter | source (l1, redis, upstream, coalesced, merged_run) |"));
    /* docs/METRICS.md carries the generated table unchanged. */
    FILE *d = fopen(PG_SOURCE_DIR "/docs/METRICS.md", "r");
    assert_non_null(d);
    char *doc = calloc(1, 1 << 20);
    size_t n = fread(doc, 1, (1 << 20) - 1, d);
    fclose(d);
    assert_true(n > 0);
    if (strstr(doc, text) == NULL)
        fail_msg("docs/METRICS.md does not contain the output of profgate --list-metrics; regenerate it");
    free(doc);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_histo), cmocka_unit_test(test_status),
                                       cmocka_unit_test(test_render), cmocka_unit_test(test_render_workers),
                                       cmocka_unit_test(test_worker_stats), cmocka_unit_test(test_doc)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
