/*
 * listen.c: listen address lists: parsing and formatting (pure: nothing is resolved, so a
 * configuration can be checked without touching the network), and opening one listening socket
 * with the options several processes need to share a port (SO_REUSEPORT).
 */
#include "profgate/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int listen_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int listen_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return PG_EINVAL;
}

static int parse_one_addr(const char *s, size_t len, struct sockaddr_storage *ss)
{
    char host[64], port[8];
    const char *colon;
    size_t hlen;
    if (len > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (rb == NULL || (size_t)(rb - s) + 1 >= len || rb[1] != ':')
            return PG_EINVAL;
        hlen = (size_t)(rb - s) - 1;
        if (hlen >= sizeof host)
            return PG_EINVAL;
        memcpy(host, s + 1, hlen);
        colon = rb + 1;
    } else {
        colon = NULL;
        for (size_t i = 0; i < len; i++)
            if (s[i] == ':')
                colon = s + i;
        if (colon == NULL)
            return PG_EINVAL;
        hlen = (size_t)(colon - s);
        if (hlen >= sizeof host)
            return PG_EINVAL;
        memcpy(host, s, hlen);
    }
    host[hlen] = '\0';
    size_t plen = len - (size_t)(colon + 1 - s);
    if (plen == 0 || plen >= sizeof port)
        return PG_EINVAL;
    memcpy(port, colon + 1, plen);
    port[plen] = '\0';
    for (size_t i = 0; i < plen; i++)
        if (port[i] < '0' || port[i] > '9')
            return PG_EINVAL;
    long p = strtol(port, NULL, 10);
    if (p > 65535)
        return PG_EINVAL;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        return PG_OK;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        return PG_OK;
    }
    return PG_EINVAL;
}

int pg_listen_parse(const char *spec, pg_listen_addrs *out, char *err, size_t errlen)
{
    out->n = 0;
    const char *p = spec;
    for (;;) {
        while (*p == ' ')
            p++;
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (out->n == PG_LISTEN_MAX)
            return listen_err(err, errlen, "at most %d listen addresses", PG_LISTEN_MAX);
        if (parse_one_addr(p, len, &out->addr[out->n]) != PG_OK)
            return listen_err(err, errlen, "'%.*s' is not an address like 127.0.0.1:8080 or [::1]:8080",
                        (int)PG_MIN(len, 80), p);
        out->n++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return PG_OK;
}


int pg_listen_format(const pg_listen_addrs *a, char *buf, size_t buflen)
{
    size_t off = 0;
    for (size_t i = 0; i < a->n; i++) {
        char host[INET6_ADDRSTRLEN];
        const struct sockaddr *sa = (const struct sockaddr *)&a->addr[i];
        int port, n;
        if (sa->sa_family == AF_INET6) {
            const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
            inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
            port = ntohs(v6->sin6_port);
            n = snprintf(buf + off, buflen - off, "%s[%s]:%d", i ? "," : "", host, port);
        } else {
            const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
            inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
            port = ntohs(v4->sin_port);
            n = snprintf(buf + off, buflen - off, "%s%s:%d", i ? "," : "", host, port);
        }
        if (n < 0 || (size_t)n >= buflen - off)
            return PG_ERANGE;
        off += (size_t)n;
    }
    return PG_OK;
}

int pg_listen_socket(const struct sockaddr_storage *addr, bool reuseport, bool listen_now, int backlog, int *fd_out)
{
    const struct sockaddr *sa = (const struct sockaddr *)addr;
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int on = 1;
    /* SO_REUSEADDR as libuv sets it (a restart does not wait for TIME_WAIT); SO_REUSEPORT lets
     * every worker bind the same port, and the kernel spreads new connections over them. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) ||
        (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) ||
        bind(fd, sa, len) != 0 || (listen_now && listen(fd, backlog) != 0)) {
        int e = errno;
        close(fd);
        return -e;
    }
    *fd_out = fd;
    return 0;
}

int pg_listen_bound(int fd, struct sockaddr_storage *out)
{
    socklen_t len = sizeof *out;
    return getsockname(fd, (struct sockaddr *)out, &len) == 0 ? 0 : -errno;
}

bool pg_listen_beyond_loopback(const pg_listen_addrs *a)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&a->addr[i];
        if (sa->sa_family == AF_INET6) {
            if (!IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr))
                return true;
        } else if ((ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) != 127) {
            return true;
        }
    }
    return false;
}
