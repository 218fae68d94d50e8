/*
 * http_parse.c: llhttp callbacks that copy the request line and headers into one bounded store
 * and enforce the limits as bytes arrive, so an oversized head is rejected before it is held in
 * full. on_message_complete pauses llhttp, which makes the parser hand over exactly one request
 * at a time; pipelined bytes after it stay with the caller until the response is under way.
 */
#include "profgate/http_parse.h"

#include <stdlib.h>
#include <strings.h>
#include <string.h>

static pg_http_parser *self(llhttp_t *ll)
{
    return (pg_http_parser *)ll->data;
}

static int fail(pg_http_parser *p, int status, const char *reason)
{
    if (p->error_status == 0) {
        p->error_status = status;
        p->error_reason = reason;
    }
    return -1;
}

#define STORE_FIRST 1024
#define HDRS_FIRST 16

/* Appends a piece of the head to the store, enforcing the head-size limit. Each header also
 * costs 4 bytes (": " and CRLF on the wire) so the limit tracks what the client sent. */
static int store(pg_http_parser *p, const char *at, size_t len)
{
    if (len == 0)
        return 0;
    if (len > p->lim.max_head - p->store_len)
        return fail(p, 431, "request head too large");
    if (p->store_len + len > p->store_cap) { /* store_len may pass store_cap: see on_header_field */
        /* Allocated per request, freed when it is answered, and grown by doubling up to the
         * limit: a typical head (1-2 KB with SigV4) does not hold max_head bytes while it lives. */
        size_t cap = p->store_cap ? p->store_cap : STORE_FIRST;
        while (cap < p->store_len + len)
            cap *= 2;
        if (cap > p->lim.max_head)
            cap = p->lim.max_head;
        char *n = realloc(p->store, cap);
        if (n == NULL)
            return fail(p, 503, "out of memory");
        p->store = n;
        p->store_cap = cap;
    }
    memcpy(p->store + p->store_len, at, len);
    p->store_len += len;
    return 0;
}

static int on_message_begin(llhttp_t *ll)
{
    pg_http_parser *p = self(ll);
    p->in_message = true;
    return 0;
}

static int on_method(llhttp_t *ll, const char *at, size_t len)
{
    pg_http_parser *p = self(ll);
    if (p->method_len == 0)
        p->method_off = p->store_len;
    p->method_len += len;
    return store(p, at, len);
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    pg_http_parser *p = self(ll);
    if (p->target_len == 0)
        p->target_off = p->store_len;
    if (len > p->lim.max_url - p->target_len)
        return fail(p, 414, "request target too long");
    p->target_len += len;
    return store(p, at, len);
}

/* RFC 9110 token characters. Debian's llhttp 8.1 lets spaces through in header names; we do
 * not, since a name like "Content Length" is how request-smuggling attempts start. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Trailer fields (after a chunked body) come after the head is complete and its offsets have
 * become pointers: they are not part of the head, so they are ignored (nothing here uses them). */
#define TRAILERS 3

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    pg_http_parser *p = self(ll);
    if (p->field_state == TRAILERS)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)at[i]))
            return fail(p, 400, "invalid character in a header name");
    if (p->field_state != 1) {
        if (p->nhdrs == p->lim.max_headers)
            return fail(p, 431, "too many request headers");
        if (p->nhdrs == p->hdrs_cap) {
            size_t cap = p->hdrs_cap ? 2 * p->hdrs_cap : HDRS_FIRST;
            if (cap > p->lim.max_headers)
                cap = p->lim.max_headers;
            pg_http_header *n = realloc(p->hdrs, cap * sizeof *n);
            if (n == NULL)
                return fail(p, 503, "out of memory");
            p->hdrs = n;
            p->hdrs_cap = cap;
        }
        if (p->store_len + 4 > p->lim.max_head)
            return fail(p, 431, "request head too large");
        p->store_len += 4; /* accounted, not stored: see store() */
        pg_http_header *h = &p->hdrs[p->nhdrs++];
        h->name = (const char *)(uintptr_t)p->store_len;
        h->name_len = 0;
        h->value_len = 0;
        p->field_state = 1;
    }
    p->hdrs[p->nhdrs - 1].name_len += len;
    return store(p, at, len);
}

/* A name is finished: its value (possibly empty, then on_header_value never runs) starts here. */
static int on_header_field_complete(llhttp_t *ll)
{
    pg_http_parser *p = self(ll);
    if (p->field_state == TRAILERS)
        return 0;
    p->hdrs[p->nhdrs - 1].value = (const char *)(uintptr_t)p->store_len;
    p->field_state = 2;
    return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    pg_http_parser *p = self(ll);
    if (p->field_state == TRAILERS)
        return 0;

    p->hdrs[p->nhdrs - 1].value_len += len;
    return store(p, at, len);
}

static int on_header_value_complete(llhttp_t *ll)
{
    pg_http_parser *p = self(ll);
    if (p->field_state == TRAILERS)
        return 0;
    /* Trailing whitespace is not part of a field value (RFC 9110, 5.5). */
    pg_http_header *h = &p->hdrs[p->nhdrs - 1];
    const char *v = p->store + (uintptr_t)h->value;
    while (h->value_len > 0 && (v[h->value_len - 1] == ' ' || v[h->value_len - 1] == '\t'))
        h->value_len--;
    p->field_state = 0;
    return 0;
}

static int on_headers_complete(llhttp_t *ll)
{
    pg_http_parser *p = self(ll);
    /* Offsets become pointers now that the store can no longer move. */
    for (size_t i = 0; i < p->nhdrs; i++) {
        pg_http_header *h = &p->hdrs[i];
        h->name = p->store + (uintptr_t)h->name;
        h->value = p->store + (uintptr_t)h->value;
    }
    p->field_state = TRAILERS;
    /* HTTP/1.0 and 1.1 only: anything else is not a version this server speaks. */
    if (ll->http_major != 1 || ll->http_minor > 1)
        return fail(p, 400, "HTTP version not supported (only HTTP/1.0 and HTTP/1.1)");
    /* Exactly one Host on HTTP/1.1, at most one on 1.0 (RFC 9112 3.2): two Hosts are two
     * authorities, and which one a proxy in front believed is unknowable. */
    size_t hosts = 0, te = 0;
    for (size_t i = 0; i < p->nhdrs; i++) {
        const pg_http_header *h = &p->hdrs[i];
        if (h->name_len == 4 && strncasecmp(h->name, "host", 4) == 0)
            hosts++;
        if (h->name_len == 17 && strncasecmp(h->name, "transfer-encoding", 17) == 0) {
            te++;
            /* The only transfer coding a request may use here is chunked, alone. */
            if (!(h->value_len == 7 && strncasecmp(h->value, "chunked", 7) == 0))
                return fail(p, 501, "Transfer-Encoding other than chunked");
        }
    }
    if (hosts > 1 || (hosts == 0 && ll->http_minor == 1))
        return fail(p, 400, "an HTTP/1.1 request needs exactly one Host header");
    if (te > 1)
        return fail(p, 400, "more than one Transfer-Encoding header");
    if (ll->content_length > p->lim.max_body && (ll->flags & F_CONTENT_LENGTH))
        return fail(p, 413, "request body too large");
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    pg_http_parser *p = self(ll);
    if (p->body_bytes + len > p->lim.max_body)
        return fail(p, 413, "request body too large");
    /* Kept for the handler (a passed-through POST's payload), within max_body; allocated only
     * for a request that has a body, and freed with the message. */
    if (p->body == NULL && (p->body = malloc(p->lim.max_body)) == NULL)
        return fail(p, 500, "out of memory");
    memcpy(p->body + p->body_bytes, at, len);
    p->body_bytes += len;
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    pg_http_parser *p = self(ll);
    p->complete = true;
    p->in_message = false;
    pg_http_head *h = &p->head;
    h->method = p->store ? p->store + p->method_off : "";
    h->method_len = p->method_len;
    h->target = p->store ? p->store + p->target_off : "";
    h->target_len = p->target_len;
    h->http_major = ll->http_major;
    h->http_minor = ll->http_minor;
    h->headers = p->hdrs;
    h->nheaders = p->nhdrs;
    /* An upgrade is not something we speak: answer, then close. */
    h->keep_alive = llhttp_should_keep_alive(ll) && !ll->upgrade;
    h->body_bytes = p->body_bytes;
    h->body = p->body;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_method = on_method,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void reset_message(pg_http_parser *p)
{
    free(p->store);
    free(p->hdrs);
    free(p->body);
    p->store = NULL;
    p->hdrs = NULL;
    p->body = NULL;
    p->store_len = p->store_cap = 0;
    p->hdrs_cap = 0;
    p->nhdrs = 0;
    p->method_off = p->method_len = p->target_off = p->target_len = 0;
    p->field_state = 0;
    p->in_message = false;
    p->complete = false;
    p->body_bytes = 0;
    p->eol = 0;
    p->seen_line = false;
    memset(&p->head, 0, sizeof p->head);
}

void pg_http_parser_init(pg_http_parser *p, const pg_http_limits *lim)
{
    memset(p, 0, sizeof *p);
    p->lim = *lim;
    PG_ASSERT(lim->max_headers > 0 && lim->max_head > 0);
    llhttp_init(&p->ll, HTTP_REQUEST, &settings);
    p->ll.data = p;
}

void pg_http_parser_free(pg_http_parser *p)
{
    reset_message(p);
}

/* llhttp accepts obs-fold (a header line continued by a line that starts with whitespace) and
 * hands the pieces over as one value; RFC 9112 5.2 lets a server refuse it, and a folded Host or
 * Transfer-Encoding is a request-smuggling tool. So the head's raw bytes are watched for CRLF
 * followed by SP or HT, across feeds, until the blank line that ends the head. */
static bool obs_fold(pg_http_parser *p, const char *data, size_t len)
{
    for (size_t i = 0; i < len && p->eol != 4; i++) {
        char c = data[i];
        if (p->eol == 2 && (c == ' ' || c == '\t'))
            return true;
        if (c == '\r')
            p->eol = p->eol == 2 ? 3 : 1;
        else if (c == '\n' && (p->eol == 1 || p->eol == 3))
            p->eol = p->eol == 3 && p->seen_line ? 4 : 2; /* 4: the blank line, the head is over */
        else
            p->eol = 0, p->seen_line = true;
    }
    return false;
}

size_t pg_http_parser_feed(pg_http_parser *p, const char *data, size_t len, pg_hp_event *ev)
{
    PG_ASSERT(!p->complete);
    if (p->error_status == 0 && p->eol != 4 && obs_fold(p, data, len))
        fail(p, 400, "obsolete line folding (obs-fold) in a header");
    if (p->error_status != 0) {
        *ev = PG_HP_ERROR;
        return 0;
    }
    llhttp_errno_t e = llhttp_execute(&p->ll, data, len);
    if (e == HPE_OK) {
        *ev = PG_HP_MORE;
        return len;
    }
    if (e == HPE_PAUSED && p->complete) {
        *ev = PG_HP_REQUEST;
        const char *pos = llhttp_get_error_pos(&p->ll);
        return pos ? (size_t)(pos - data) : len;
    }
    /* llhttp's own errors (malformed syntax) are 400s unless a callback named a status. */
    if (p->error_status == 0) {
        p->error_status = (e == HPE_INVALID_METHOD) ? 501 : 400;
        p->error_reason = llhttp_get_error_reason(&p->ll);
        if (p->error_reason == NULL)
            p->error_reason = llhttp_errno_name(e);
    }
    *ev = PG_HP_ERROR;
    return len;
}

const pg_http_head *pg_http_parser_head(const pg_http_parser *p)
{
    PG_ASSERT(p->complete);
    return &p->head;
}

void pg_http_parser_next(pg_http_parser *p)
{
    PG_ASSERT(p->complete);
    reset_message(p);
    llhttp_resume(&p->ll);
}

const pg_http_header *pg_http_head_find(const pg_http_head *h, const char *name)
{
    for (size_t i = 0; i < h->nheaders; i++)
        if (pg_strieq(h->headers[i].name, h->headers[i].name_len, name))
            return &h->headers[i];
    return NULL;
}

bool pg_http_head_join(const pg_http_head *h, const char *name, char *buf, size_t buflen, size_t *len)
{
    size_t n = strlen(name), o = 0;
    bool found = false;
    for (size_t i = 0; i < h->nheaders; i++) {
        const pg_http_header *x = &h->headers[i];
        if (x->name_len != n || strncasecmp(x->name, name, n) != 0)
            continue;
        /* Several fields of one name are one comma-separated list (RFC 9110, 5.3). */
        size_t need = (found ? 2 : 0) + x->value_len;
        if (o + need >= buflen)
            break; /* what fitted; the caller's buffer bounds it */
        if (found) {
            memcpy(buf + o, ", ", 2);
            o += 2;
        }
        memcpy(buf + o, x->value, x->value_len);
        o += x->value_len;
        found = true;
    }
    if (buflen > 0)
        buf[o] = '\0';
    *len = o;
    return found;
}

bool pg_http_list_next(const char *v, size_t len, size_t *pos, pg_slice *item, double *q)
{
    while (*pos < len) {
        size_t i = *pos, j = i;
        while (j < len && v[j] != ',')
            j++;
        *pos = j + 1;
        size_t a = i, b = j;
        const char *semi = memchr(v + a, ';', b - a);
        size_t pend = b;
        if (semi != NULL)
            b = (size_t)(semi - v);
        while (a < b && (v[a] == ' ' || v[a] == '\t'))
            a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
            b--;
        if (a == b)
            continue; /* empty elements are allowed and mean nothing */
        *item = (pg_slice){v + a, b - a};
        *q = 1.0;
        /* Parameters: only q matters here ("q=0" is "not acceptable"). */
        for (size_t p = semi ? (size_t)(semi - v) + 1 : pend; p < pend;) {
            while (p < pend && (v[p] == ' ' || v[p] == '\t'))
                p++;
            size_t e = p;
            while (e < pend && v[e] != ';')
                e++;
            if (e - p >= 2 && (v[p] == 'q' || v[p] == 'Q') && v[p + 1] == '=') {
                char num[16];
                size_t nl = PG_MIN(e - p - 2, sizeof num - 1);
                memcpy(num, v + p + 2, nl);
                num[nl] = '\0';
                char *end;
                double x = strtod(num, &end);
                while (*end == ' ' || *end == '\t')
                    end++;
                *q = *end == '\0' && x >= 0 && x <= 1 ? x : 0; /* a malformed weight accepts nothing */
            }
            p = e + 1;
        }
        return true;
    }
    return false;
}

bool pg_http_accepts_coding(const char *v, size_t len, const char *coding)
{
    size_t pos = 0;
    pg_slice it;
    double q, star = -1;
    size_t cl = strlen(coding);
    while (pg_http_list_next(v, len, &pos, &it, &q)) {
        bool named = (it.len == cl && strncasecmp(it.p, coding, cl) == 0) ||
                     (strcmp(coding, "gzip") == 0 && it.len == 6 && strncasecmp(it.p, "x-gzip", 6) == 0);
        if (named)
            return q > 0;
        if (it.len == 1 && it.p[0] == '*')
            star = q;
    }
    return star > 0; /* "*" stands for every coding not named */
}
