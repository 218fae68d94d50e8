/*
 * http_parse.h: HTTP/1.1 request parsing on top of llhttp, with every limit enforced: head size,
 * target length, header count, body size. It turns bytes into complete request heads (the body
 * of a GET is counted and discarded) or into an error carrying the status to answer with.
 * Pure: no sockets, no clock. The libuv server feeds it; the fuzz target feeds it directly.
 */
#ifndef PG_HTTP_PARSE_H
#define PG_HTTP_PARSE_H

#include "profgate/common.h"
#include "profgate/query.h"

#include <llhttp.h>

typedef struct pg_http_limits {
    size_t max_head;    /* request line + headers, bytes as stored */
    size_t max_url;     /* request target */
    size_t max_headers; /* header count */
    size_t max_body;    /* body bytes kept (a longer body gets 413) */
} pg_http_limits;

typedef struct pg_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} pg_http_header;

/** A parsed request head. Pointers stay valid until pg_http_parser_next(). */
typedef struct pg_http_head {
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    int http_major, http_minor;
    const pg_http_header *headers;
    size_t nheaders;
    bool keep_alive;
    uint64_t body_bytes;
    const char *body; /* body_bytes of it; NULL without a body */
} pg_http_head;

typedef enum {
    PG_HP_MORE = 0, /* everything given was consumed; no complete request yet */
    PG_HP_REQUEST,  /* a complete request; read it with pg_http_parser_head() */
    PG_HP_ERROR     /* malformed or over a limit; see error_status / error_reason */
} pg_hp_event;

typedef struct pg_http_parser {
    llhttp_t ll;
    pg_http_limits lim;
    char *store;           /* method, target, header names and values; at most lim.max_head */
    size_t store_len, store_cap;
    pg_http_header *hdrs;  /* at most lim.max_headers entries, offsets until the head completes */
    size_t nhdrs, hdrs_cap;
    size_t method_off, method_len, target_off, target_len;
    int field_state;       /* 0 between headers, 1 in a name, 2 in a value, 3 head complete */
    bool in_message;       /* first byte of a request seen, not yet complete */
    bool complete;
    uint64_t body_bytes;
    char *body;            /* up to lim.max_body, allocated on the first body byte */
    int eol;               /* the head's line ends seen (obs-fold watch): 2 after CRLF, 4 at its end */
    bool seen_line;        /* a non-empty line (the request line) was seen */
    int error_status;      /* HTTP status for PG_HP_ERROR */
    const char *error_reason;
    pg_http_head head;
} pg_http_parser;

void pg_http_parser_init(pg_http_parser *p, const pg_http_limits *lim);
void pg_http_parser_free(pg_http_parser *p);

/**
 * Feeds bytes. Returns how many were consumed and sets *ev. After PG_HP_REQUEST the parser holds
 * the request until pg_http_parser_next(); feeding again before that is a programmer error.
 * After PG_HP_ERROR the connection must be closed after answering error_status.
 */
size_t pg_http_parser_feed(pg_http_parser *p, const char *data, size_t len, pg_hp_event *ev);

/** The complete request, valid after PG_HP_REQUEST until pg_http_parser_next(). */
const pg_http_head *pg_http_parser_head(const pg_http_parser *p);

/** Releases the request's storage and readies the parser for the next request. */
void pg_http_parser_next(pg_http_parser *p);

/** Looks a header up case-insensitively; NULL when absent. */
const pg_http_header *pg_http_head_find(const pg_http_head *h, const char *name);

/** Every field named name, joined with ", " into buf (bounded; what fits): one list, as HTTP
 *  reads repeated fields. False when there is none. */
bool pg_http_head_join(const pg_http_head *h, const char *name, char *buf, size_t buflen, size_t *len);

/** The next element of a comma-separated list with weights (Accept, Accept-Encoding): the element
 *  without its parameters, and its q (1 by default; 0 when malformed). False at the end. */
bool pg_http_list_next(const char *v, size_t len, size_t *pos, pg_slice *item, double *q);

/** Whether an Accept-Encoding value accepts coding (q > 0, by name or by "*"). */
bool pg_http_accepts_coding(const char *v, size_t len, const char *coding);

#endif
