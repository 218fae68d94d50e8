/*
 * listtimes.c: ListProfileTimes' rules (see listtimes.h). Pure: time comes in as an argument,
 * nothing here does I/O.
 */
#include "profgate/listtimes.h"
#include "profgate/iso8601.h"
#include "profgate/planner.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

static int invalid(pg_apierr *err, const char *msg)
{
    pg_apierr_set(err, PG_AE_VALIDATION, "%s", msg);
    return PG_EINVAL;
}

int pg_listtimes_parse(pg_slice raw_group, pg_slice query, pg_listtimes_req *out, pg_apierr *err)
{
    memset(out, 0, sizeof *out);
    char group[3 * (PG_GROUP_MAX + 1)];
    size_t glen;
    if (raw_group.len >= sizeof group)
        return invalid(err, "profilingGroupName is too long");
    if (pg_pct_decode(raw_group, group, &glen) != PG_OK || pg_group_validate(group, glen, err) != PG_OK) {
        if (err->kind != PG_AE_VALIDATION)
            pg_apierr_set(err, PG_AE_VALIDATION, "profilingGroupName is not valid");
        return PG_EINVAL;
    }
    memcpy(out->group, group, glen);
    out->group[glen] = '\0';
    out->group_len = glen;
    char period[80], st[80], et[80], mr[80], ob[80];
    bool bad[6];
    bool has_p = pg_query_param(query, "period", period, sizeof period, &bad[0]);
    bool has_s = pg_query_param(query, "startTime", st, sizeof st, &bad[1]);
    bool has_e = pg_query_param(query, "endTime", et, sizeof et, &bad[2]);
    bool has_m = pg_query_param(query, "maxResults", mr, sizeof mr, &bad[3]);
    out->has_token = pg_query_param(query, "nextToken", out->token, sizeof out->token, &bad[4]);
    bool has_o = pg_query_param(query, "orderBy", ob, sizeof ob, &bad[5]);
    if (!has_p || !has_s || !has_e)
        return invalid(err, "period, startTime and endTime are required");
    out->period = PG_PERIOD_COUNT;
    for (int k = 0; !bad[0] && k < PG_PERIOD_COUNT; k++)
        if (strcmp(period, pg_period_name((pg_period)k)) == 0)
            out->period = (pg_period)k;
    if (out->period == PG_PERIOD_COUNT)
        return invalid(err, "1 validation error detected: Value at 'period' failed to satisfy constraint: Member "
                            "must satisfy enum value set: [PT5M, PT1H, P1D]");
    if (bad[1] || pg_ts_parse(st, strlen(st), &out->start_ns, NULL, 0) != PG_OK)
        return invalid(err, "startTime must be an ISO 8601 timestamp");
    if (bad[2] || pg_ts_parse(et, strlen(et), &out->end_ns, NULL, 0) != PG_OK)
        return invalid(err, "endTime must be an ISO 8601 timestamp");
    if (out->end_ns <= out->start_ns)
        return invalid(err, "endTime must be after startTime");
    out->max_results = PG_LT_DEFAULT_RESULTS;
    if (has_m) {
        char *e;
        long v = bad[3] ? -1 : strtol(mr, &e, 10);
        if (bad[3] || *e != '\0' || e == mr || v < 1 || v > PG_LT_MAX_RESULTS)
            return invalid(err, "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: "
                                "Member must have value between 1 and 1000");
        out->max_results = (int)v;
    }
    if (out->has_token) {
        bool ok = !bad[4] && out->token[0] != '\0';
        for (const char *p = out->token; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                 *p == '-';
        if (!ok)
            return invalid(err, "The nextToken is not valid");
    }
    out->descending = true;
    if (has_o) {
        if (!bad[5] && strcmp(ob, "TimestampAscending") == 0)
            out->descending = false;
        else if (bad[5] || strcmp(ob, "TimestampDescending") != 0)
            return invalid(err, "1 validation error detected: Value at 'orderBy' failed to satisfy constraint: "
                                "Member must satisfy enum value set: [TimestampDescending, TimestampAscending]");
    }
    return PG_OK;
}

void pg_listtimes_bounds(const pg_listtimes_req *r, int64_t now_ns, int64_t retention_s, int64_t *lo, int64_t *hi)
{
    int64_t len = pg_period_seconds(r->period);
    int64_t now_s = pg_floor_div(now_ns, PG_NS_PER_S);
    int64_t first = pg_ceil_div(pg_ceil_div(r->start_ns, PG_NS_PER_S), len) * len;
    int64_t oldest = pg_ceil_div(now_s - retention_s, len) * len;
    /* Starts strictly inside the range's end, and not after now: a period has data once begun. */
    int64_t last_excl = PG_MIN(pg_ceil_div(r->end_ns, PG_NS_PER_S), now_s + 1);
    *lo = PG_MAX(first, oldest);
    *hi = pg_ceil_div(last_excl, len) * len;
    if (*hi < *lo)
        *hi = *lo;
}

int64_t pg_listtimes_window_s(pg_period p)
{
    static const int64_t w[PG_PERIOD_COUNT] = {[PG_P5M] = 86400, [PG_P1H] = 30 * 86400, [PG_P1D] = 1000 * 86400};
    PG_ASSERT(p < PG_PERIOD_COUNT);
    return w[p];
}

/* ---- nextToken: base64url(8-byte big-endian last start | 12 bytes of an HMAC over the request) */

#define TOKEN_MAC 12
#define TOKEN_RAW (8 + TOKEN_MAC)
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void token_mac(const pg_listtimes_req *r, int64_t last_s, const unsigned char key[32], unsigned char out[32])
{
    /* Everything that defines the list; not maxResults, which a paginator may change between pages. */
    char msg[PG_GROUP_MAX + 128];
    int n = snprintf(msg, sizeof msg, "lpt1|%s|%s|%lld|%lld|%d|%lld", r->group, pg_period_name(r->period),
                     (long long)r->start_ns, (long long)r->end_ns, (int)r->descending, (long long)last_s);
    PG_FMT_FITS(n, sizeof msg);
    unsigned int len = 32;
    PG_ASSERT(HMAC(EVP_sha256(), key, 32, (const unsigned char *)msg, (size_t)n, out, &len) != NULL && len == 32);
}

void pg_listtimes_token(const pg_listtimes_req *r, int64_t last_s, const unsigned char key[32],
                        char out[PG_LT_TOKEN_MAX + 1])
{
    unsigned char raw[TOKEN_RAW + 1] = {0}, mac[32];
    for (int i = 0; i < 8; i++)
        raw[i] = (unsigned char)((uint64_t)last_s >> (56 - 8 * i));
    token_mac(r, last_s, key, mac);
    memcpy(raw + 8, mac, TOKEN_MAC);
    size_t o = 0;
    for (size_t i = 0; i < TOKEN_RAW; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | (uint32_t)(i + 2 < TOKEN_RAW ? raw[i + 2] : 0);
        size_t chars = TOKEN_RAW - i >= 3 ? 4 : TOKEN_RAW - i + 1;
        for (size_t k = 0; k < chars; k++)
            out[o++] = b64url[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
}

int pg_listtimes_token_check(const pg_listtimes_req *r, const unsigned char key[32], int64_t *last_s)
{
    const char *t = r->token;
    size_t len = strlen(t);
    if (len != (TOKEN_RAW * 4 + 2) / 3)
        return PG_EINVAL;
    unsigned char raw[TOKEN_RAW + 3] = {0};
    uint32_t acc = 0;
    size_t bits = 0, o = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = strchr(b64url, t[i]);
        if (p == NULL || t[i] == '\0')
            return PG_EINVAL;
        acc = acc << 6 | (uint32_t)(p - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (o < TOKEN_RAW)
        return PG_EINVAL;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | raw[i];
    unsigned char mac[32];
    token_mac(r, (int64_t)v, key, mac);
    if (CRYPTO_memcmp(mac, raw + 8, TOKEN_MAC) != 0)
        return PG_EINVAL;
    *last_s = (int64_t)v;
    return PG_OK;
}

/* ---- a window in Redis: "T1", u16 count, then count u16 slot numbers (start = window + slot *
 * period), strictly ascending. 2 + 2 + 2n bytes: a day of PT5M is at most 580 bytes. */

int pg_listtimes_encode(pg_period p, int64_t ws, const int64_t *times, size_t n, pg_buf *out)
{
    int64_t len = pg_period_seconds(p), slots = pg_listtimes_window_s(p) / len;
    PG_ASSERT(n <= PG_LT_WINDOW_MAX);
    unsigned char hdr[4] = {'T', '1', (unsigned char)(n >> 8), (unsigned char)n};
    int rc = pg_buf_append(out, hdr, sizeof hdr);
    for (size_t i = 0; i < n && rc == PG_OK; i++) {
        int64_t k = (times[i] - ws) / len;
        PG_ASSERT(times[i] == ws + k * len && k >= 0 && k < slots && (i == 0 || times[i] > times[i - 1]));
        unsigned char b[2] = {(unsigned char)(k >> 8), (unsigned char)k};
        rc = pg_buf_append(out, b, 2);
    }
    return rc;
}

int pg_listtimes_decode(pg_period p, int64_t ws, const char *val, size_t len, int64_t *times, size_t max, size_t *n)
{
    const unsigned char *v = (const unsigned char *)val;
    if (len < 4 || v[0] != 'T' || v[1] != '1')
        return PG_EINVAL;
    size_t count = (size_t)v[2] << 8 | v[3];
    int64_t plen = pg_period_seconds(p), slots = pg_listtimes_window_s(p) / plen;
    if (count > max || count > (size_t)slots || len != 4 + 2 * count)
        return PG_EINVAL;
    int64_t prev = -1;
    for (size_t i = 0; i < count; i++) {
        int64_t k = (int64_t)v[4 + 2 * i] << 8 | v[5 + 2 * i];
        if (k <= prev || k >= slots)
            return PG_EINVAL;
        prev = k;
        times[i] = ws + k * plen;
    }
    *n = count;
    return PG_OK;
}

/* ---- the service's JSON answer, read with yajl's event parser (bounded: no tree is built) */

#define BODY_DEPTH 16
typedef struct body_ctx {
    int depth;
    /* Where the parser is: in the top map (1), in profileTimes (2), in one of its items (3). */
    int where;
    char key[16];
    int64_t *times;
    size_t max, n;
    char *token;
    bool seen; /* profileTimes, which the model requires */
} body_ctx;

static int on_start_map(void *c)
{
    body_ctx *b = c;
    if (++b->depth > BODY_DEPTH)
        return 0;
    if (b->depth == 1)
        b->where = 1;
    else if (b->where == 2 && b->depth == 3)
        b->where = 3;
    b->key[0] = '\0';
    return 1;
}

static int on_end_map(void *c)
{
    body_ctx *b = c;
    if (b->where == 3 && b->depth == 3)
        b->where = 2;
    b->depth--;
    b->key[0] = '\0';
    return 1;
}

static int on_start_array(void *c)
{
    body_ctx *b = c;
    if (++b->depth > BODY_DEPTH)
        return 0;
    if (b->where == 1 && b->depth == 2 && strcmp(b->key, "profileTimes") == 0) {
        b->where = 2;
        b->seen = true;
    }
    return 1;
}

static int on_end_array(void *c)
{
    body_ctx *b = c;
    if (b->where == 2 && b->depth == 2)
        b->where = 1;
    b->depth--;
    b->key[0] = '\0';
    return 1;
}

static int on_key(void *c, const unsigned char *k, size_t len)
{
    body_ctx *b = c;
    size_t n = PG_MIN(len, sizeof b->key - 1);
    memcpy(b->key, k, n);
    b->key[len < sizeof b->key ? n : 0] = '\0'; /* a longer key is none we know */
    return 1;
}

static int on_string(void *c, const unsigned char *s, size_t len)
{
    body_ctx *b = c;
    if (b->where == 3 && b->depth == 3 && strcmp(b->key, "start") == 0) {
        int64_t ns;
        if (b->n >= b->max || pg_ts_parse((const char *)s, len, &ns, NULL, 0) != PG_OK)
            return 0;
        b->times[b->n++] = pg_floor_div(ns, PG_NS_PER_S);
    } else if (b->where == 1 && b->depth == 1 && strcmp(b->key, "nextToken") == 0) {
        if (len > PG_LT_TOKEN_MAX)
            return 0;
        memcpy(b->token, s, len);
        b->token[len] = '\0';
    }
    return 1;
}

static int on_scalar(void *c)
{
    (void)c;
    return 1;
}

static int on_null(void *c)
{
    return on_scalar(c);
}
static int on_bool(void *c, int v)
{
    (void)v;
    return on_scalar(c);
}
static int on_number(void *c, const char *s, size_t l)
{
    (void)s, (void)l;
    return on_scalar(c);
}

static const yajl_callbacks body_callbacks = {
    .yajl_null = on_null, .yajl_boolean = on_bool, .yajl_number = on_number, .yajl_string = on_string,
    .yajl_start_map = on_start_map, .yajl_map_key = on_key, .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array, .yajl_end_array = on_end_array,
};

int pg_listtimes_body_parse(const char *body, size_t len, int64_t *times, size_t max, size_t *n,
                            char token[PG_LT_TOKEN_MAX + 1])
{
    body_ctx b = {.times = times, .max = max, .n = *n, .token = token};
    token[0] = '\0';
    yajl_handle y = yajl_alloc(&body_callbacks, NULL, &b);
    if (y == NULL)
        return PG_ENOMEM;
    bool ok = yajl_parse(y, (const unsigned char *)body, len) == yajl_status_ok &&
              yajl_complete_parse(y) == yajl_status_ok && b.depth == 0 && b.seen;
    yajl_free(y);
    if (!ok)
        return PG_EINVAL;
    *n = b.n;
    return PG_OK;
}
