/*
 * listen.h: the address list a server listens on, "ADDR:PORT[,ADDR:PORT...]" with IPv6 as
 * "[ADDR]:PORT". Numeric addresses only: nothing is resolved, so parsing never blocks. Also the
 * one place a listening socket is opened by hand, for processes sharing a port (SO_REUSEPORT).
 */
#ifndef PG_LISTEN_H
#define PG_LISTEN_H

#include "profgate/common.h"

#include <sys/socket.h>

#define PG_LISTEN_MAX 8

typedef struct pg_listen_addrs {
    size_t n;
    struct sockaddr_storage addr[PG_LISTEN_MAX];
} pg_listen_addrs;

/** Parses spec into out; on failure err says which address is wrong. */
int pg_listen_parse(const char *spec, pg_listen_addrs *out, char *err, size_t errlen);

/** Whether any address is reachable from beyond this host (not 127.0.0.0/8 or ::1). */
bool pg_listen_beyond_loopback(const pg_listen_addrs *addrs);

/** Writes addrs back as a spec pg_listen_parse reads; PG_ERANGE when buf is too small. */
int pg_listen_format(const pg_listen_addrs *addrs, char *buf, size_t buflen);

/**
 * Opens a non-blocking TCP socket bound to addr (IPv6 sockets are IPv6-only), with SO_REUSEPORT
 * when reuseport, listening (with backlog) when listen_now. 0 and the descriptor, or -errno.
 * A bound socket that does not listen receives no connections: it only holds the port.
 */
int pg_listen_socket(const struct sockaddr_storage *addr, bool reuseport, bool listen_now, int backlog, int *fd);

/** The address fd is bound to (the port the kernel chose for port 0). 0 or -errno. */
int pg_listen_bound(int fd, struct sockaddr_storage *out);

#endif
