/*
 * sigv4.c: SigV4 signing and verification. Every intermediate string is built in a bounded
 * pg_buf; signature comparison is constant-time (CRYPTO_memcmp).
 */
#include "profgate/sigv4.h"
#include "profgate/iso8601.h"
#include "profgate/query.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CANON_LIMIT (64 * 1024)

static const char hexd[] = "0123456789abcdef";

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[in[i] >> 4];
        out[2 * i + 1] = hexd[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void pg_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    to_hex(md, sizeof md, out);
}

static void hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
    unsigned int n = 32;
    PG_ASSERT(HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &n) != NULL && n == 32);
}

void pg_amz_date(int64_t ns, char out[17])
{
    char ts[PG_TS_FMT_MAX];
    pg_ts_format(ns - ((ns % PG_NS_PER_S) + PG_NS_PER_S) % PG_NS_PER_S, ts, sizeof ts);
    /* "YYYY-MM-DDThh:mm:ssZ" -> "YYYYMMDDThhmmssZ" */
    size_t o = 0;
    for (const char *p = ts; *p && o < 16; p++)
        if (*p != '-' && *p != ':')
            out[o++] = *p;
    out[o] = '\0';
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

/* SigV4's URI encoding: every byte but the unreserved ones as %XX with uppercase hex. */
static int append_encoded(pg_buf *b, const char *s, size_t n)
{
    int rc = PG_OK;
    for (size_t i = 0; rc == PG_OK && i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (unreserved(ch)) {
            rc = pg_buf_append(b, &s[i], 1);
        } else {
            char esc[3] = {'%', "0123456789ABCDEF"[ch >> 4], "0123456789ABCDEF"[ch & 15]};
            rc = pg_buf_append(b, esc, 3);
        }
    }
    return rc;
}

/* botocore: quote(remove_dot_segments(path), safe='/~'). */
static int canonical_uri(pg_buf *b, pg_slice path)
{
    if (path.len == 0)
        return pg_buf_append(b, "/", 1);
    /* remove_dot_segments: drop empty and "." segments, ".." pops. */
    pg_slice segs[256];
    size_t n = 0;
    size_t i = 0;
    while (i <= path.len) {
        size_t j = i;
        while (j < path.len && path.p[j] != '/')
            j++;
        pg_slice s = {path.p + i, j - i};
        if (s.len == 2 && s.p[0] == '.' && s.p[1] == '.') {
            if (n > 0)
                n--;
        } else if (s.len > 0 && !(s.len == 1 && s.p[0] == '.')) {
            if (n == PG_ARRAY_LEN(segs))
                return PG_ELIMIT;
            segs[n++] = s;
        }
        i = j + 1;
    }
    int rc = PG_OK;
    if (path.p[0] == '/')
        rc = pg_buf_append(b, "/", 1);
    for (size_t k = 0; rc == PG_OK && k < n; k++) {
        if (k > 0)
            rc = pg_buf_append(b, "/", 1);
        rc = rc ?: append_encoded(b, segs[k].p, segs[k].len);
    }
    if (rc == PG_OK && n > 0 && path.p[path.len - 1] == '/')
        rc = pg_buf_append(b, "/", 1);
    return rc;
}

typedef struct {
    pg_slice k, v;
} qpair;

static int slice_cmp(pg_slice a, pg_slice b)
{
    int c = memcmp(a.p, b.p, PG_MIN(a.len, b.len));
    return c != 0 ? c : (a.len < b.len ? -1 : a.len > b.len);
}

static int qpair_cmp(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    int c = slice_cmp(x->k, y->k);
    return c != 0 ? c : slice_cmp(x->v, y->v);
}

/* One name or value as AWS canonicalizes it: percent-decoded ('+' stays '+'), then every byte but
 * the unreserved ones encoded with uppercase hex. A malformed escape is taken as it came (its '%'
 * is encoded, so such a request cannot match). */
static int encode_component(pg_buf *b, pg_slice raw, char *scratch)
{
    size_t n;
    const char *s = scratch;
    if (pg_pct_decode(raw, scratch, &n) != PG_OK) {
        s = raw.p;
        n = raw.len;
    }
    return append_encoded(b, s, n);
}

/* The query as AWS canonicalizes it, whatever form the client sent it in: split on '&', each pair
 * at its first '=', names and values decoded and encoded again (encode_component), sorted by name
 * then value. botocore sends its query in that form already; curl's --aws-sigv4, for one, sends
 * ':' and other characters raw and signs them encoded, as AWS does when it checks. */
static int canonical_query(pg_buf *b, pg_slice q)
{
    if (q.len == 0)
        return PG_OK;
    typedef struct {
        size_t k, klen, v, vlen; /* offsets into enc */
    } span;
    span spans[128];
    qpair pairs[128];
    pg_buf enc;
    pg_buf_init(&enc, 3 * q.len + 1);
    char *scratch = malloc(q.len + 1);
    if (scratch == NULL)
        return PG_ENOMEM;
    size_t n = 0, i = 0;
    int rc = PG_OK;
    while (rc == PG_OK) {
        size_t j = i;
        while (j < q.len && q.p[j] != '&')
            j++;
        if (n == PG_ARRAY_LEN(pairs)) {
            rc = PG_ELIMIT;
            break;
        }
        const char *eq = memchr(q.p + i, '=', j - i);
        pg_slice k = {q.p + i, eq ? (size_t)(eq - q.p) - i : j - i};
        pg_slice v = eq ? (pg_slice){eq + 1, j - (size_t)(eq + 1 - q.p)} : (pg_slice){q.p + j, 0};
        spans[n].k = enc.len;
        rc = encode_component(&enc, k, scratch);
        spans[n].klen = enc.len - spans[n].k;
        spans[n].v = enc.len;
        rc = rc ?: encode_component(&enc, v, scratch);
        spans[n].vlen = enc.len - spans[n].v;
        n++;
        if (j >= q.len)
            break;
        i = j + 1;
    }
    free(scratch);
    /* enc no longer moves: the slices may point into it. */
    const char *base = enc.data != NULL ? enc.data : ""; /* every piece empty: nothing was allocated */
    for (size_t k = 0; rc == PG_OK && k < n; k++)
        pairs[k] = (qpair){{base + spans[k].k, spans[k].klen}, {base + spans[k].v, spans[k].vlen}};
    if (rc == PG_OK)
        qsort(pairs, n, sizeof *pairs, qpair_cmp);
    for (size_t k = 0; rc == PG_OK && k < n; k++) {
        if (k > 0)
            rc = pg_buf_append(b, "&", 1);
        rc = rc ?: pg_buf_append(b, pairs[k].k.p, pairs[k].k.len);
        rc = rc ?: pg_buf_append(b, "=", 1);
        rc = rc ?: pg_buf_append(b, pairs[k].v.p, pairs[k].v.len);
    }
    pg_buf_free(&enc);
    return rc;
}

static int hdr_cmp(const void *a, const void *b)
{
    const pg_http_header *x = *(const pg_http_header *const *)a, *y = *(const pg_http_header *const *)b;
    size_t n = PG_MIN(x->name_len, y->name_len);
    for (size_t i = 0; i < n; i++) {
        int cx = x->name[i] >= 'A' && x->name[i] <= 'Z' ? x->name[i] + 32 : x->name[i];
        int cy = y->name[i] >= 'A' && y->name[i] <= 'Z' ? y->name[i] + 32 : y->name[i];
        if (cx != cy)
            return cx - cy;
    }
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return x < y ? -1 : x > y; /* stable: repeated headers keep their order */
}

static int append_lower(pg_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
        int rc = pg_buf_append(b, &c, 1);
        if (rc != PG_OK)
            return rc;
    }
    return PG_OK;
}

/* Trimall: trims and collapses runs of whitespace to one space. */
static int append_trimmed(pg_buf *b, const char *s, size_t n)
{
    bool pending_space = false, any = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            pending_space = any;
            continue;
        }
        if (pending_space) {
            int rc = pg_buf_append(b, " ", 1);
            if (rc != PG_OK)
                return rc;
            pending_space = false;
        }
        int rc = pg_buf_append(b, &c, 1);
        if (rc != PG_OK)
            return rc;
        any = true;
    }
    return PG_OK;
}

/* Appends canonical headers ("name:v1,v2\n" sorted) and, into signed, "a;b;c". */
static int canonical_headers(const pg_sigv4_input *in, pg_buf *b, pg_buf *signed_list)
{
    const pg_http_header *sorted[64];
    if (in->nheaders > PG_ARRAY_LEN(sorted))
        return PG_ELIMIT;
    for (size_t i = 0; i < in->nheaders; i++)
        sorted[i] = &in->headers[i];
    qsort(sorted, in->nheaders, sizeof *sorted, hdr_cmp);
    int rc = PG_OK;
    for (size_t i = 0; rc == PG_OK && i < in->nheaders; i++) {
        const pg_http_header *h = sorted[i];
        bool same = i > 0 && h->name_len == sorted[i - 1]->name_len &&
                    strncasecmp(h->name, sorted[i - 1]->name, h->name_len) == 0;
        if (same) {
            rc = pg_buf_append(b, ",", 1);
        } else {
            if (i > 0)
                rc = pg_buf_append(b, "\n", 1);
            if (i > 0 && signed_list)
                rc = rc ?: pg_buf_append(signed_list, ";", 1);
            rc = rc ?: append_lower(b, h->name, h->name_len);
            if (signed_list)
                rc = rc ?: append_lower(signed_list, h->name, h->name_len);
            rc = rc ?: pg_buf_append(b, ":", 1);
        }
        rc = rc ?: append_trimmed(b, h->value, h->value_len);
    }
    if (rc == PG_OK && in->nheaders > 0)
        rc = pg_buf_append(b, "\n", 1);
    return rc;
}

static int canonical_request(const pg_sigv4_input *in, pg_buf *out, pg_buf *signed_list)
{
    int rc = pg_buf_puts(out, in->method);
    rc = rc ?: pg_buf_append(out, "\n", 1);
    rc = rc ?: canonical_uri(out, in->path);
    rc = rc ?: pg_buf_append(out, "\n", 1);
    rc = rc ?: canonical_query(out, in->query);
    rc = rc ?: pg_buf_append(out, "\n", 1);
    size_t sl_start = signed_list->len;
    rc = rc ?: canonical_headers(in, out, signed_list);
    rc = rc ?: pg_buf_append(out, "\n", 1);
    if (rc == PG_OK && signed_list->len > sl_start) /* no headers: nothing allocated to append */
        rc = pg_buf_append(out, signed_list->data + sl_start, signed_list->len - sl_start);
    rc = rc ?: pg_buf_append(out, "\n", 1);
    rc = rc ?: pg_buf_puts(out, in->payload_hash);
    return rc;
}

int pg_sigv4_canonical_request(const pg_sigv4_input *in, pg_buf *out)
{
    pg_buf sl;
    pg_buf_init(&sl, 4096);
    int rc = canonical_request(in, out, &sl);
    pg_buf_free(&sl);
    return rc;
}

int pg_sigv4_string_to_sign(const pg_sigv4_input *in, const char *canonical, size_t len, pg_buf *out)
{
    char h[65];
    pg_sha256_hex(canonical, len, h);
    return pg_buf_printf(out, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", in->amz_date, in->amz_date,
                         in->region, in->service, h);
}

static int sign(const pg_sigv4_input *in, const char *secret, char out[65], pg_buf *signed_list)
{
    pg_buf cr, sts;
    pg_buf_init(&cr, CANON_LIMIT);
    pg_buf_init(&sts, 1024);
    int rc = canonical_request(in, &cr, signed_list);
    rc = rc ?: pg_sigv4_string_to_sign(in, cr.data, cr.len, &sts);
    if (rc == PG_OK) {
        unsigned char k[32];
        char kdate[8];
        memcpy(kdate, in->amz_date, 8);
        size_t slen = strlen(secret);
        char *key = malloc(slen + 5);
        if (key == NULL) {
            rc = PG_ENOMEM;
        } else {
            memcpy(key, "AWS4", 4);
            memcpy(key + 4, secret, slen);
            hmac(key, slen + 4, kdate, 8, k);
            OPENSSL_cleanse(key, slen + 4);
            free(key);
            hmac(k, 32, in->region, strlen(in->region), k);
            hmac(k, 32, in->service, strlen(in->service), k);
            hmac(k, 32, "aws4_request", 12, k);
            unsigned char sig[32];
            hmac(k, 32, sts.data, sts.len, sig);
            OPENSSL_cleanse(k, sizeof k);
            to_hex(sig, 32, out);
        }
    }
    pg_buf_free(&cr);
    pg_buf_free(&sts);
    return rc;
}

int pg_sigv4_signature(const pg_sigv4_input *in, const char *secret, char out[65])
{
    pg_buf sl;
    pg_buf_init(&sl, 4096);
    int rc = sign(in, secret, out, &sl);
    pg_buf_free(&sl);
    return rc;
}

int pg_sigv4_authorization(const pg_sigv4_input *in, const char *access_key, const char *secret, pg_buf *out)
{
    pg_buf sl;
    pg_buf_init(&sl, 4096);
    char sig[65];
    int rc = sign(in, secret, sig, &sl);
    rc = rc ?: pg_buf_printf(out, "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%.*s, Signature=%s",
                             access_key, in->amz_date, in->region, in->service, (int)sl.len, sl.data, sig);
    pg_buf_free(&sl);
    return rc;
}

/* ------------------------------------------------------------------ verification */

static void why_set(char *why, size_t whylen, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
}

/* Finds "key=" in an Authorization parameter list and returns its value up to ',' (trimmed). */
static bool auth_param(const char *v, size_t len, const char *key, pg_slice *out)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl <= len; i++) {
        if ((i == 0 || v[i - 1] == ' ' || v[i - 1] == ',') && memcmp(v + i, key, kl) == 0) {
            size_t j = i + kl;
            size_t e = j;
            while (e < len && v[e] != ',')
                e++;
            while (e > j && v[e - 1] == ' ')
                e--;
            *out = (pg_slice){v + j, e - j};
            return true;
        }
    }
    return false;
}

static bool slice_is(pg_slice s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* Whether the Host header is one of hosts (comma-separated, compared without case). */
static bool host_accepted(const char *hosts, const pg_http_header *host)
{
    if (host == NULL)
        return false;
    for (const char *p = hosts; *p;) {
        while (*p == ' ')
            p++;
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n == host->value_len && strncasecmp(p, host->value, n) == 0)
            return true;
        if (c == NULL)
            break;
        p = c + 1;
    }
    return false;
}

pg_sigv4_result pg_sigv4_verify(const pg_sigv4_verify_cfg *cfg, const pg_http_head *h, int64_t now_ns,
                                char *why, size_t whylen, char akid[129])
{
    akid[0] = '\0';
    const pg_http_header *auth = pg_http_head_find(h, "authorization");
    if (auth == NULL) {
        why_set(why, whylen, "Missing Authentication Token");
        return PG_SIGV4_MISSING;
    }
    const char *v = auth->value;
    size_t len = auth->value_len;
    static const char alg[] = "AWS4-HMAC-SHA256 ";
    pg_slice cred, signed_hdrs, sig;
    if (len < sizeof alg - 1 || memcmp(v, alg, sizeof alg - 1) != 0 || !auth_param(v, len, "Credential=", &cred) ||
        !auth_param(v, len, "SignedHeaders=", &signed_hdrs) || !auth_param(v, len, "Signature=", &sig)) {
        why_set(why, whylen, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                              "parameters with algorithm AWS4-HMAC-SHA256");
        return PG_SIGV4_MALFORMED;
    }
    /* Credential = AKID/YYYYMMDD/region/service/aws4_request */
    pg_slice part[5];
    size_t np = 0, i = 0;
    while (np < 5) {
        size_t j = i;
        while (j < cred.len && cred.p[j] != '/')
            j++;
        part[np++] = (pg_slice){cred.p + i, j - i};
        if (j >= cred.len)
            break;
        i = j + 1;
    }
    if (np != 5 || part[0].len == 0 || part[0].len > 128 || part[1].len != 8) {
        why_set(why, whylen, "Credential should be of the form ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request");
        return PG_SIGV4_MALFORMED;
    }
    memcpy(akid, part[0].p, part[0].len);
    akid[part[0].len] = '\0';
    const char *secret = cfg->secret_for(cfg->ctx, akid, part[0].len);
    if (secret == NULL) {
        why_set(why, whylen, "The security token included in the request is invalid.");
        return PG_SIGV4_UNKNOWN_KEY;
    }
    char region[64], service[64];
    if (part[2].len >= sizeof region || part[3].len >= sizeof service) {
        why_set(why, whylen, "Credential scope is too long");
        return PG_SIGV4_MALFORMED;
    }
    memcpy(region, part[2].p, part[2].len);
    region[part[2].len] = '\0';
    memcpy(service, part[3].p, part[3].len);
    service[part[3].len] = '\0';
    if (!slice_is(part[4], "aws4_request")) {
        why_set(why, whylen, "Credential should be scoped with a valid terminator: 'aws4_request'.");
        return PG_SIGV4_BAD_SCOPE;
    }
    if (strcmp(service, cfg->service) != 0) {
        snprintf(why, whylen, "Credential should be scoped to correct service: '%s'.", cfg->service);
        return PG_SIGV4_BAD_SCOPE;
    }
    if (cfg->region != NULL && strcmp(region, cfg->region) != 0) {
        snprintf(why, whylen, "Credential should be scoped to a valid region, not '%.63s'.", region);
        return PG_SIGV4_BAD_SCOPE;
    }
    const pg_http_header *date = pg_http_head_find(h, "x-amz-date");
    if (date == NULL || date->value_len != 16) {
        why_set(why, whylen, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
        return PG_SIGV4_MALFORMED;
    }
    char amz_date[17];
    memcpy(amz_date, date->value, 16);
    amz_date[16] = '\0';
    char iso[32];
    snprintf(iso, sizeof iso, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", amz_date, amz_date + 4, amz_date + 6, amz_date + 9,
             amz_date + 11, amz_date + 13);
    int64_t when;
    if (amz_date[8] != 'T' || amz_date[15] != 'Z' || pg_ts_parse(iso, strlen(iso), &when, NULL, 0) != PG_OK) {
        why_set(why, whylen, "X-Amz-Date must be in the form YYYYMMDDTHHMMSSZ");
        return PG_SIGV4_MALFORMED;
    }
    if (memcmp(part[1].p, amz_date, 8) != 0) {
        why_set(why, whylen, "Date in Credential scope does not match YYYYMMDD from X-Amz-Date");
        return PG_SIGV4_BAD_SCOPE;
    }
    if (when < now_ns - cfg->max_skew_ns || when > now_ns + cfg->max_skew_ns) {
        char nowd[17];
        pg_amz_date(now_ns, nowd);
        snprintf(why, whylen, "Signature expired: %s is now earlier or later than %s +/- 15 min.", amz_date, nowd);
        return PG_SIGV4_EXPIRED;
    }
    /* The signed headers, looked up in the request (all values of a repeated header). */
    pg_http_header signed_list[64];
    size_t ns = 0;
    bool has_host = false, has_date = false;
    i = 0;
    while (i < signed_hdrs.len) {
        size_t j = i;
        while (j < signed_hdrs.len && signed_hdrs.p[j] != ';')
            j++;
        pg_slice name = {signed_hdrs.p + i, j - i};
        has_host |= slice_is(name, "host");
        has_date |= slice_is(name, "x-amz-date");
        bool found = false;
        for (size_t k = 0; k < h->nheaders; k++) {
            const pg_http_header *rh = &h->headers[k];
            if (rh->name_len == name.len && strncasecmp(rh->name, name.p, name.len) == 0) {
                if (ns == PG_ARRAY_LEN(signed_list)) {
                    why_set(why, whylen, "Too many signed headers");
                    return PG_SIGV4_BAD_HEADERS;
                }
                signed_list[ns++] = *rh;
                found = true;
            }
        }
        if (!found) {
            char shown[72]; /* the client's bytes: printable, whatever they were (logs and error bodies) */
            snprintf(why, whylen, "The request signature covers header '%s', which the request does not carry.",
                     pg_printable(name.p, PG_MIN(name.len, 64), shown, sizeof shown));
            return PG_SIGV4_BAD_HEADERS;
        }
        i = j + 1;
    }
    if (!has_host || !has_date) {
        why_set(why, whylen, "The host and x-amz-date headers must be signed.");
        return PG_SIGV4_BAD_HEADERS;
    }
    if (cfg->hosts != NULL && !host_accepted(cfg->hosts, pg_http_head_find(h, "host"))) {
        why_set(why, whylen, "The request was signed for a host this endpoint does not answer to.");
        return PG_SIGV4_BAD_SCOPE;
    }
    pg_slice path, query;
    pg_target_split(h->target, h->target_len, &path, &query);
    char method[16];
    if (h->method_len >= sizeof method)
        return PG_SIGV4_MALFORMED;
    memcpy(method, h->method, h->method_len);
    method[h->method_len] = '\0';
    /* The payload hash is the body's: a header claiming another is refused, not believed. */
    char payload[65] = PG_SHA256_HEX_EMPTY;
    if (h->body_bytes > 0)
        pg_sha256_hex(h->body, (size_t)h->body_bytes, payload);
    const pg_http_header *ph = pg_http_head_find(h, "x-amz-content-sha256");
    if (ph != NULL && (ph->value_len != 64 || strncasecmp(ph->value, payload, 64) != 0)) {
        why_set(why, whylen, "The provided 'x-amz-content-sha256' header does not match what was computed.");
        return PG_SIGV4_MISMATCH;
    }
    pg_sigv4_input in = {.method = method, .path = path, .query = query, .headers = signed_list, .nheaders = ns,
                         .payload_hash = payload, .amz_date = amz_date, .region = region, .service = service};
    char expect[65];
    if (pg_sigv4_signature(&in, secret, expect) != PG_OK) {
        why_set(why, whylen, "The request could not be canonicalized");
        return PG_SIGV4_MALFORMED;
    }
    if (sig.len != 64 || CRYPTO_memcmp(expect, sig.p, 64) != 0) {
        why_set(why, whylen, "The request signature we calculated does not match the signature you provided. "
                              "Check your AWS Secret Access Key and signing method.");
        return PG_SIGV4_MISMATCH;
    }
    return PG_SIGV4_OK;
}

pg_apierr_kind pg_sigv4_error_kind(pg_sigv4_result r)
{
    PG_ASSERT(r != PG_SIGV4_OK);
    return r == PG_SIGV4_MISSING ? PG_AE_MISSING_AUTH : r == PG_SIGV4_UNKNOWN_KEY ? PG_AE_UNRECOGNIZED_CLIENT
                                                                                  : PG_AE_INVALID_SIGNATURE;
}

int pg_sigv4_host(const char *url, bool allow_path, char *out, size_t cap)
{
    bool https = strncmp(url, "https://", 8) == 0;
    if (!https && strncmp(url, "http://", 7) != 0)
        return PG_EINVAL;
    const char *h = url + (https ? 8 : 7);
    size_t hl = strcspn(h, "/?#");
    if (hl == 0 || hl >= cap || (!allow_path && h[hl] != '\0'))
        return PG_EINVAL;
    memcpy(out, h, hl);
    out[hl] = '\0';
    if (https && hl > 4 && strcmp(out + hl - 4, ":443") == 0)
        out[hl - 4] = '\0';
    else if (!https && hl > 3 && strcmp(out + hl - 3, ":80") == 0)
        out[hl - 3] = '\0';
    return PG_OK;
}
