/*
 * peers.c: connections per client address (see peers.h). Chained hashing over a fixed number of
 * buckets: entries exist only for addresses with open connections.
 */
#include "profgate/peers.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096

typedef struct entry {
    pg_peer_key key;
    size_t count;
    struct entry *next;
} entry;

struct pg_peers {
    entry *b[BUCKETS];
};

pg_peers *pg_peers_new(void)
{
    return calloc(1, sizeof(pg_peers));
}

void pg_peers_free(pg_peers *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < BUCKETS; i++)
        for (entry *e = p->b[i], *next; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    free(p);
}

bool pg_peer_key_of(const struct sockaddr_storage *ss, pg_peer_key *out)
{
    memset(out, 0, sizeof *out);
    if (ss->ss_family == AF_INET) {
        memcpy(out->ip, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        out->family = 4;
        return true;
    }
    if (ss->ss_family == AF_INET6) {
        memcpy(out->ip, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
        out->family = 6;
        return true;
    }
    return false;
}

static entry **slot(pg_peers *p, const pg_peer_key *k)
{
    entry **e = &p->b[pg_hash64(k, sizeof *k) % BUCKETS];
    while (*e != NULL && memcmp(&(*e)->key, k, sizeof *k) != 0)
        e = &(*e)->next;
    return e;
}

bool pg_peers_add(pg_peers *p, const pg_peer_key *key, size_t limit)
{
    entry **e = slot(p, key);
    if (*e == NULL) {
        entry *n = calloc(1, sizeof *n);
        if (n == NULL)
            return false;
        n->key = *key;
        *e = n;
    }
    if (limit > 0 && (*e)->count >= limit)
        return false;
    (*e)->count++;
    return true;
}

void pg_peers_remove(pg_peers *p, const pg_peer_key *key)
{
    entry **e = slot(p, key);
    PG_ASSERT(*e != NULL && (*e)->count > 0);
    if (--(*e)->count == 0) {
        entry *dead = *e;
        *e = dead->next;
        free(dead);
    }
}

size_t pg_peers_count(const pg_peers *p, const pg_peer_key *key)
{
    entry **e = slot((pg_peers *)p, key);
    return *e ? (*e)->count : 0;
}
