/*
 * peers.h: connections per client address, for server.max_connections_per_client. A small
 * hash table of the addresses that have connections open (an entry lives while its count is not
 * zero), so its size is bounded by the connections themselves. Pure: no sockets here.
 */
#ifndef PG_PEERS_H
#define PG_PEERS_H

#include "profgate/common.h"

#include <sys/socket.h>

typedef struct pg_peers pg_peers;

/** An empty table; NULL when out of memory. */
pg_peers *pg_peers_new(void);
void pg_peers_free(pg_peers *p);

/** The key of a peer address: its IP (the port is not part of it). False for other families. */
typedef struct pg_peer_key {
    uint8_t ip[16];
    uint8_t family; /* 4 or 6 */
} pg_peer_key;
bool pg_peer_key_of(const struct sockaddr_storage *ss, pg_peer_key *out);

/** Counts one more connection from key unless it already has limit (0: no limit). True when
 *  counted; false when over the limit or out of memory (nothing counted then). */
bool pg_peers_add(pg_peers *p, const pg_peer_key *key, size_t limit);
/** One connection from key ended (it must have been counted). */
void pg_peers_remove(pg_peers *p, const pg_peer_key *key);
/** Connections counted for key (0 when none). */
size_t pg_peers_count(const pg_peers *p, const pg_peer_key *key);

#endif
