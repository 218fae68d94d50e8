/* pgload: a lean HTTP/1.1 keep-alive load generator for answers of hundreds of kilobytes, so that
 * the hit path's ratio to nginx measures the servers and not the client (issue #21).
 *
 * Why not wrk alone: wrk reads a socket 8 KiB at a time (its RECVBUF), so a 640 KB answer costs it
 * some 80 reads and 80 passes of its parser's callbacks. On a 2-core machine with the servers on
 * one core and wrk on the other, wrk's core was full at 99% while profgate's was at 71%: the req/s
 * ratio then said only that both servers kept up with wrk. pgload does what wrk does for one
 * GET (CONNS keep-alive connections on one thread, the next request sent as the last answer ends,
 * no pipelining, TCP_NODELAY like wrk) but reads up to 1 MiB at a time and parses only the head;
 * the body's bytes are read (copied out of the kernel, as any client must) and counted.
 *
 * What it checks, so that a broken server cannot pass for a fast one: every answer's status is
 * 200, its body has the length its head announced (Content-Length or chunked), and with -b N
 * exactly N bytes; a connection the server closes is an error. Answers ended within the run's
 * SECONDS are counted; latency is from the request's first byte written to the answer's last
 * byte read, every sample kept, so p50 and p99 are exact.
 *
 * It must not become a general HTTP client: one URL, plain HTTP over IPv4, no redirects, no
 * bodies sent.
 *
 * Usage: pgload -c CONNS -d SECONDS [-H 'Name: value']... [-b BODY_BYTES] http://A.B.C.D:PORT/PATH
 * Prints "requests N", "seconds S", "req/s R", "p50_ms", "p99_ms", "errors E", "bytes B", one a
 * line; exits 1 when any answer was an error or none ended within the run. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BYTES (1u << 20) /* one read's room: a loopback answer arrives in 64 KiB pieces */
#define HEAD_MAX 16384u       /* an answer's head larger than this is an error */
#define REQ_MAX 8192u
#define MAX_CONNS 10000

enum phase { P_SEND, P_HEAD, P_BODY, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER };

struct conn {
    int fd;
    enum phase phase;
    size_t sent;       /* bytes of the request written */
    char head[HEAD_MAX];
    size_t head_len;
    uint64_t left;     /* body bytes (P_BODY) or chunk bytes (P_CHUNK_DATA) still to come */
    uint64_t body;     /* body bytes read so far */
    uint64_t chunk;    /* a chunk size being read (P_CHUNK_SIZE) */
    int chunk_ext;     /* inside a chunk extension: skip to the line's end */
    int line_len;      /* P_TRAILER: bytes on the current trailer line */
    int status;
    uint64_t t0;       /* ns: the request's first byte written */
};

static char req[REQ_MAX];
static size_t req_len;
static struct sockaddr_in addr;
static long expect_body = -1;
static uint64_t run_end;
static uint64_t *lat;  /* every answer's latency, ns */
static size_t lat_n, lat_cap;
static uint64_t errors, bytes_in;
static int ep;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void conn_open(struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)
        die("connect");
    c->phase = P_SEND;
    c->sent = 0;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl");
}

/* A failed answer or a closed connection: counted, and the connection is made again so the load
 * stays at CONNS. */
static void conn_fail(struct conn *c)
{
    errors++;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    conn_open(c);
}

static void want(struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl");
}

static void send_request(struct conn *c)
{
    if (c->sent == 0)
        c->t0 = now_ns();
    while (c->sent < req_len) {
        ssize_t n = send(c->fd, req + c->sent, req_len - c->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            want(c, EPOLLOUT);
            return;
        }
        if (n <= 0) {
            conn_fail(c);
            return;
        }
        c->sent += (size_t)n;
    }
    c->phase = P_HEAD;
    c->head_len = 0;
    want(c, EPOLLIN);
}

static void answer_done(struct conn *c)
{
    uint64_t t = now_ns();
    bool ok = c->status == 200 && (expect_body < 0 || c->body == (uint64_t)expect_body);
    if (t <= run_end) {
        if (!ok) {
            errors++;
        } else {
            if (lat_n == lat_cap) {
                lat_cap = lat_cap ? lat_cap * 2 : 65536;
                lat = realloc(lat, lat_cap * sizeof *lat);
                if (!lat)
                    die("realloc");
            }
            lat[lat_n++] = t - c->t0;
        }
    }
    c->phase = P_SEND;
    c->sent = 0;
    send_request(c);
}

/* The head is complete in c->head (ending "\r\n\r\n" at end): status, and how the body ends. */
static int parse_head(struct conn *c)
{
    c->head[c->head_len] = '\0';
    if (strncmp(c->head, "HTTP/1.1 ", 9) != 0)
        return -1;
    c->status = atoi(c->head + 9);
    c->body = 0;
    c->left = 0;
    long long clen = -1;
    int chunked = 0;
    for (char *line = strstr(c->head, "\r\n") + 2; *line && line[0] != '\r'; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            clen = strtoll(line + 15, NULL, 10);
        else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strstr(line, "chunked") &&
                 strstr(line, "chunked") < strstr(line, "\r\n"))
            chunked = 1;
        else if (strncasecmp(line, "Connection:", 11) == 0 && strncasecmp(line + 11, " close", 6) == 0)
            return -1; /* the load is keep-alive; a server closing is an error */
    }
    if (chunked) {
        c->phase = P_CHUNK_SIZE;
        c->chunk = 0;
        c->chunk_ext = 0;
    } else if (clen >= 0) {
        c->phase = P_BODY;
        c->left = (uint64_t)clen;
    } else {
        return -1; /* a body ended by close cannot be kept alive */
    }
    return 0;
}

/* Consumes body bytes in p[0..n); returns how many were taken, or -1 on a malformed body. The
 * answer is complete when the phase returns to P_SEND (answer_done sends the next request). */
static long take_body(struct conn *c, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        switch (c->phase) {
        case P_BODY:
        case P_CHUNK_DATA: {
            size_t k = n - i < c->left ? n - i : (size_t)c->left;
            c->left -= k;
            c->body += k;
            i += k;
            if (c->left == 0)
                c->phase = c->phase == P_BODY ? P_SEND : P_CHUNK_CRLF;
            break;
        }
        case P_CHUNK_SIZE: {
            char ch = p[i++];
            if (ch == '\n') {
                c->left = c->chunk;
                c->phase = c->chunk ? P_CHUNK_DATA : P_TRAILER;
                c->chunk = 0;
                c->chunk_ext = 0;
                c->line_len = 0;
            } else if (ch == ';') {
                c->chunk_ext = 1;
            } else if (!c->chunk_ext && ch != '\r') {
                int d = ch >= '0' && ch <= '9' ? ch - '0'
                        : (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (ch | 0x20) - 'a' + 10
                                                                    : -1;
                if (d < 0 || c->chunk > (UINT64_MAX >> 4))
                    return -1;
                c->chunk = c->chunk * 16 + (uint64_t)d;
            }
            break;
        }
        case P_CHUNK_CRLF: {
            char ch = p[i++];
            if (ch == '\n')
                c->phase = P_CHUNK_SIZE;
            else if (ch != '\r')
                return -1;
            break;
        }
        case P_TRAILER: { /* trailer lines until an empty one */
            char ch = p[i++];
            if (ch == '\n') {
                if (c->line_len == 0)
                    c->phase = P_SEND;
                c->line_len = 0;
            } else if (ch != '\r') {
                c->line_len++;
            }
            break;
        }
        default:
            return (long)i;
        }
        if (c->phase == P_SEND)
            return (long)i;
    }
    return (long)i;
}

static void on_readable(struct conn *c, char *buf)
{
    for (;;) {
        ssize_t n = recv(c->fd, buf, READ_BYTES, 0);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            conn_fail(c);
            return;
        }
        bytes_in += (uint64_t)n;
        size_t i = 0;
        while (i < (size_t)n) {
            if (c->phase == P_HEAD) {
                /* copy up to the head's end; the rest of the read is body */
                while (i < (size_t)n && c->phase == P_HEAD) {
                    if (c->head_len == HEAD_MAX - 1) {
                        conn_fail(c);
                        return;
                    }
                    c->head[c->head_len++] = buf[i++];
                    if (c->head_len >= 4 && memcmp(c->head + c->head_len - 4, "\r\n\r\n", 4) == 0) {
                        if (parse_head(c) < 0) {
                            conn_fail(c);
                            return;
                        }
                        if (c->phase == P_BODY && c->left == 0)
                            c->phase = P_SEND;
                    }
                }
            } else if (c->phase == P_SEND) {
                conn_fail(c); /* bytes nobody asked for: no pipelining here */
                return;
            } else {
                long k = take_body(c, buf + i, (size_t)n - i);
                if (k < 0) {
                    conn_fail(c);
                    return;
                }
                i += (size_t)k;
            }
            if (c->phase == P_SEND) {
                if (i < (size_t)n) {
                    conn_fail(c);
                    return;
                }
                answer_done(c);
                return;
            }
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void usage(void)
{
    fprintf(stderr, "usage: pgload -c CONNS -d SECONDS [-H 'Name: value']... [-b BODY_BYTES] "
                    "http://A.B.C.D:PORT/PATH\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int conns = 0;
    double secs = 0;
    char headers[REQ_MAX / 2] = "";
    size_t hl = 0;
    int opt;
    while ((opt = getopt(argc, argv, "c:d:H:b:")) != -1) {
        switch (opt) {
        case 'c': conns = atoi(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 'b': expect_body = atol(optarg); break;
        case 'H': {
            int w = snprintf(headers + hl, sizeof headers - hl, "%s\r\n", optarg);
            if (w < 0 || (size_t)w >= sizeof headers - hl)
                usage();
            hl += (size_t)w;
            break;
        }
        default: usage();
        }
    }
    if (optind != argc - 1 || conns < 1 || conns > MAX_CONNS || secs <= 0)
        usage();
    const char *url = argv[optind];
    char host[64];
    unsigned port;
    int off = 0;
    if (sscanf(url, "http://%63[0-9.]:%u%n", host, &port, &off) != 2 || url[off] != '/' || port > 65535)
        usage();
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        usage();
    int w = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%u\r\n%s\r\n", url + off, host, port, headers);
    if (w < 0 || (size_t)w >= sizeof req)
        usage();
    req_len = (size_t)w;

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct conn *cs = calloc((size_t)conns, sizeof *cs);
    char *buf = malloc(READ_BYTES);
    if (!cs || !buf)
        die("malloc");
    uint64_t start = now_ns();
    run_end = start + (uint64_t)(secs * 1e9);
    for (int i = 0; i < conns; i++)
        conn_open(&cs[i]);
    struct epoll_event evs[256];
    for (;;) {
        uint64_t t = now_ns();
        if (t >= run_end)
            break;
        int ms = (int)((run_end - t) / 1000000u) + 1;
        int n = epoll_wait(ep, evs, 256, ms);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->phase == P_SEND) {
                int err = 0;
                socklen_t el = sizeof err;
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
                    fprintf(stderr, "pgload: connect: %s\n", strerror(err));
                    exit(2);
                }
                send_request(c);
            } else {
                on_readable(c, buf);
            }
        }
    }
    double took = secs;
    if (lat_n > 0) /* lat is NULL when no answer counted: qsort's pointer must not be */
        qsort(lat, lat_n, sizeof *lat, cmp_u64);
    double p50 = lat_n ? lat[lat_n / 2] / 1e6 : 0, p99 = lat_n ? lat[(lat_n * 99) / 100] / 1e6 : 0;
    printf("requests %zu\nseconds %.3f\nreq/s %.2f\np50_ms %.3f\np99_ms %.3f\nerrors %llu\nbytes %llu\n", lat_n,
           took, lat_n / took, p50, p99, (unsigned long long)errors, (unsigned long long)bytes_in);
    for (int i = 0; i < conns; i++)
        close(cs[i].fd);
    free(cs);
    free(buf);
    free(lat);
    return errors || lat_n == 0 ? 1 : 0; /* no answer in the run is a failure, not 0 req/s */
}
