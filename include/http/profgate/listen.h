/*
 * listen.h: the address list a server listens on, "ADDR:PORT[,ADDR:PORT...]" with IPv6 as
 * "[ADDR]:PORT". Numeric addresses only: nothing is resolved, so parsing never blocks.
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

#endif
