/*
 * passthrough.c: the service's other operations (operations.h) through profgate. Reads are
 * forwarded as the client sent them (path, query, body), signed with the gateway's credentials,
 * under the same upstream budget and queue as GetProfile; their answers are reused for
 * api.read_ttl and concurrent identical reads share one call. The answer goes back as the
 * upstream gave it: status, body, error type, and the upstream's request id. With tenants, an
 * operation that names a group needs the tenant's access to it, and lists across groups
 * (ListProfilingGroups, GetFindingsReportAccountSummary) show only the groups the tenant may
 * read. Writes pass only with api.writes = on (and, with tenants, a tenant with write = on and
 * access to the group): each is sent once (retried only after a 429, which the service did not
 * carry out), never shared with another, and a successful one empties the cache of reads.
 */
#include "gw.h"
#include "profgate/groupfilter.h"
#include "profgate/jsonw.h"
#include "profgate/log.h"
#include "profgate/operations.h"
#include "profgate/sigv4.h"
#include "profgate/upstream.h"

_Static_assert(PG_UP_OPS == PG_UP_OP_API + PG_OP_COUNT, "one upstream budget per operation");

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define API_MAGIC 0x61706972u  /* "apir" */
#define APIF_MAGIC 0x61706966u /* "apif" */
#define API_KEY_MAX 800

/* A reusable answer (2xx only). */
typedef struct apians {
    int64_t expires_ns; /* monotonic */
    int status;
    char aws_rid[80];
    char ctype[128];
    size_t len;
    char body[];
} apians;

typedef struct apireq {
    uint32_t magic;
    pg_gateway *gw;
    pg_http_req *req;
    pg_op op;
    pg_tenant *tenant; /* filters lists; NULL without tenants */
    struct apireq *next; /* in its fetch's waiters */
} apireq;

/* One upstream call in flight, shared by identical reads. */
typedef struct apifetch {
    uint32_t magic;
    pg_gateway *gw;
    struct apifetch *next;
    char key[API_KEY_MAX];
    apireq *waiters;
    bool write;    /* a write: not in the in-flight list, its answer not reused */
    uint64_t gen;  /* the read cache's generation when the read started */
} apifetch;

static void ans_free(void *v)
{
    free(v);
}

pg_lru *gw_api_cache_new(size_t bytes)
{
    return pg_lru_new(bytes, ans_free);
}

void gw_api_free(pg_gateway *gw)
{
    PG_ASSERT(gw->api_inflight == NULL);
    pg_lru_free(gw->api_cache);
}

static void end(apireq *r)
{
    r->gw->active--;
    r->magic = 0;
    free(r);
}

/* ---- answers */

static bool may_read(void *tenant, const char *group)
{
    return pg_tenant_may_read(tenant, group);
}

static void answer_ok(apireq *r, int status, const char *rid, const char *ctype, const char *body, size_t len)
{
    if (rid != NULL && rid[0])
        pg_http_req_set_upstream_id(r->req, rid);
    const pg_http_out_header h[] = {{"Content-Type", ctype != NULL && ctype[0] ? ctype : "application/json"}};
    bool list = r->op == PG_OP_LIST_PROFILING_GROUPS || r->op == PG_OP_GET_FINDINGS_REPORT_ACCOUNT_SUMMARY;
    if (r->tenant != NULL && list && len > 0) {
        pg_buf b;
        pg_buf_init(&b, len + 64);
        int rc = pg_group_filter(body, len, may_read, r->tenant, &b);
        if (rc == PG_OK) {
            pg_http_respond(r->req, status, h, 1, b.data, b.len);
        } else {
            pg_apierr e;
            pg_apierr_set(&e, PG_AE_INTERNAL, "The upstream's %s answer is not a JSON object",
                          pg_operations[r->op].name);
            pg_http_respond_error(r->req, &e);
        }
        pg_buf_free(&b);
        return;
    }
    pg_http_respond(r->req, status, h, len ? 1 : 0, body, len);
}

static void answer_result(apireq *r, const pg_up_result *res)
{
    if (res->ok) {
        answer_ok(r, res->status ? res->status : 200, res->aws_rid, res->content_type, res->body, res->len);
    } else if (res->errtype != NULL) {
        /* The upstream's own error, as it came (its type, status, message and request id). */
        if (res->aws_rid && res->aws_rid[0])
            pg_http_req_set_upstream_id(r->req, res->aws_rid);
        const pg_http_out_header h[] = {{"Content-Type", "application/json"}, {"x-amzn-ErrorType", res->errtype}};
        pg_http_respond(r->req, res->status, h, 2, res->body, res->len);
    } else {
        pg_http_respond_error(r->req, res->err);
    }
}

static void on_upstream(void *ctx, const pg_up_result *res)
{
    apifetch *f = ctx;
    PG_ASSERT(f->magic == APIF_MAGIC);
    pg_gateway *gw = f->gw;
    if (!f->write) {
        apifetch **pp = &gw->api_inflight;
        while (*pp != f)
            pp = &(*pp)->next;
        *pp = f->next;
    } else if (res->ok) {
        /* What the reads cached may have changed: all of it goes (they live seconds anyway). Reads
         * in flight since before this write are not kept either (their generation is older). */
        gw->api_gen++;
        pg_lru_free(gw->api_cache);
        gw->api_cache = gw_api_cache_new(GW_API_CACHE_BYTES);
        PG_ASSERT(gw->api_cache != NULL);
    }
    int64_t ttl = gw->d.cfg->api_read_ttl_ms;
    if (res->ok && ttl > 0 && !f->write && f->gen == gw->api_gen) {
        apians *a = malloc(sizeof *a + res->len);
        if (a != NULL) {
            a->expires_ns = pg_monotonic_ns() + ttl * PG_NS_PER_MS;
            a->status = res->status ? res->status : 200;
            pg_printable(res->aws_rid ? res->aws_rid : "", res->aws_rid ? strlen(res->aws_rid) : 0, a->aws_rid,
                         sizeof a->aws_rid);
            snprintf(a->ctype, sizeof a->ctype, "%s", res->content_type ? res->content_type : "");
            a->len = res->len;
            memcpy(a->body, res->body, res->len);
            if (pg_lru_put(gw->api_cache, f->key, strlen(f->key), a, sizeof *a + a->len) != PG_OK)
                free(a);
        }
    }
    apireq *w = f->waiters;
    while (w != NULL) {
        apireq *next = w->next;
        answer_result(w, res);
        end(w);
        w = next;
    }
    f->magic = 0;
    free(f);
}

/* CreateProfilingGroup's group: the body's "profilingGroupName", validated. */
static bool body_group(const pg_http_head *h, char *out, size_t outlen, pg_apierr *err)
{
    char *text = malloc((size_t)h->body_bytes + 1);
    if (text == NULL) {
        pg_apierr_set(err, PG_AE_INTERNAL, "out of memory");
        return false;
    }
    memcpy(text, h->body ? h->body : "", (size_t)h->body_bytes);
    text[h->body_bytes] = '\0';
    /* The body is the client's: nesting deeper than the model's shapes is not parsed at all. */
    yajl_val root = pg_json_depth(text, (size_t)h->body_bytes) <= 16 ? yajl_tree_parse(text, NULL, 0) : NULL;
    free(text);
    const char *path[] = {"profilingGroupName", NULL};
    yajl_val v = root ? yajl_tree_get(root, path, yajl_t_string) : NULL;
    const char *name = v ? YAJL_GET_STRING(v) : NULL;
    bool ok = name != NULL && strlen(name) < outlen && pg_group_validate(name, strlen(name), err) == PG_OK;
    if (ok)
        memcpy(out, name, strlen(name) + 1);
    else if (name == NULL)
        pg_apierr_set(err, PG_AE_VALIDATION, "The request body must name the profilingGroupName");
    yajl_tree_free(root);
    return ok;
}

/* The read's cache key: the operation, the target as sent, and the body's hash. */
static void read_key(pg_op op, const pg_http_head *h, char *out, size_t len)
{
    char bh[65] = "-";
    if (h->body_bytes > 0)
        pg_sha256_hex(h->body, (size_t)h->body_bytes, bh);
    snprintf(out, len, "%s|%.*s|%s", pg_operations[op].name, (int)PG_MIN(h->target_len, 700), h->target, bh);
}

void gw_passthrough(pg_gateway *gw, pg_http_req *req, pg_op op, const pg_route_result *m)
{
    pg_apierr err;
    pg_tenant *tenant = NULL;
    if (gw->d.tenants != NULL && (tenant = gw_authenticate(gw, req)) == NULL)
        return; /* answered */
    const pg_operation *o = &pg_operations[op];
    const pg_http_head *h = pg_http_req_head(req);
    if (o->write && !gw->d.cfg->api_writes) {
        pg_apierr_set(&err, PG_AE_ACCESS_DENIED,
                      "profgate does not pass write operations through here (api.writes = off): call %s on the "
                      "service directly",
                      o->name);
        pg_http_respond_error(req, &err);
        return;
    }
    if (o->write && tenant != NULL && !tenant->write) {
        tenant->denied++;
        pg_apierr_set(&err, PG_AE_ACCESS_DENIED,
                      "Tenant %s (%s) is not authorized to perform: codeguru-profiler:%s (write = off)", tenant->name,
                      tenant->access_key, o->name);
        pg_http_respond_error(req, &err);
        return;
    }
    char group[PG_GROUP_MAX + 1] = "";
    if (o->group != PG_OPG_NONE && pg_op_group_of(op, m->params[0], group, sizeof group, &err) != PG_OK) {
        pg_http_respond_error(req, &err);
        return;
    }
    /* CreateProfilingGroup names its group in the body: a tenant may only create its own. */
    if (op == PG_OP_CREATE_PROFILING_GROUP && tenant != NULL && !body_group(h, group, sizeof group, &err)) {
        pg_http_respond_error(req, &err);
        return;
    }
    apireq *r = calloc(1, sizeof *r);
    if (r == NULL) {
        pg_apierr_set(&err, PG_AE_INTERNAL, "out of memory");
        pg_http_respond_error(req, &err);
        return;
    }
    *r = (apireq){.magic = API_MAGIC, .gw = gw, .req = req, .op = op, .tenant = tenant};
    gw->active++;
    pg_up_origin origin = {0}; /* flow 0 (no tenant) unless gw_admit sets the tenant's */
    gw_origin_of(req, &origin);
    origin.cls = PG_FQ_INTERACTIVE;
    if (tenant != NULL && !gw_admit(gw, req, tenant, o->name, group[0] ? group : NULL, &origin)) {
        end(r); /* answered */
        return;
    }
    char key[API_KEY_MAX];
    read_key(op, h, key, sizeof key);
    pg_lru_entry *e = o->write ? NULL : pg_lru_get(gw->api_cache, key, strlen(key));
    if (e != NULL) {
        const apians *a = pg_lru_value(e);
        if (a->expires_ns > pg_monotonic_ns()) {
            gw->api_hits++;
            answer_ok(r, a->status, a->aws_rid, a->ctype, a->body, a->len);
            pg_lru_release(gw->api_cache, e);
            end(r);
            return;
        }
        pg_lru_release(gw->api_cache, e);
        pg_lru_remove(gw->api_cache, key, strlen(key));
    }
    apifetch *f = o->write ? NULL : gw->api_inflight;
    while (f != NULL && strcmp(f->key, key) != 0)
        f = f->next;
    if (f != NULL) {
        gw->api_coalesced++;
        r->next = f->waiters;
        f->waiters = r;
        return;
    }
    char target[640];
    if (h->target_len >= sizeof target) {
        pg_apierr_set(&err, PG_AE_VALIDATION, "The request target is too long to pass on");
        pg_http_respond_error(req, &err);
        end(r);
        return;
    }
    memcpy(target, h->target, h->target_len);
    target[h->target_len] = '\0';
    f = calloc(1, sizeof *f);
    if (f == NULL) {
        pg_apierr_set(&err, PG_AE_INTERNAL, "out of memory");
        pg_http_respond_error(req, &err);
        end(r);
        return;
    }
    *f = (apifetch){.magic = APIF_MAGIC, .gw = gw, .waiters = r, .write = o->write, .gen = gw->api_gen};
    memcpy(f->key, key, strlen(key) + 1);
    if (!o->write) {
        f->next = gw->api_inflight;
        gw->api_inflight = f;
    }
    char desc[PG_GROUP_MAX + 64];
    snprintf(desc, sizeof desc, "%s/%s", o->name, group[0] ? group : "-");
    size_t ctl = 0;
    const char *ct = pg_http_req_header(req, "content-type", &ctl);
    char ctype[128] = "";
    if (ct != NULL)
        pg_header_safe(ct, ctl, ctype, sizeof ctype);
    const pg_up_request rq = {.method = pg_operation_routes[op].method, .target = target, .desc = desc,
                              .content_type = ctype,
                              .body = h->body_bytes ? h->body : NULL, .body_len = (size_t)h->body_bytes,
                              .once = o->write, .op = PG_UP_OP_API + (unsigned)op};
    gw->api_calls++;
    if (pg_upstream_request(gw->d.upstream, &rq, &origin, on_upstream, f, NULL, &err) != PG_OK) {
        pg_up_result res = {.ok = false, .err = &err};
        on_upstream(f, &res);
    }
}
