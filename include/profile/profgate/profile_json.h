/*
 * profile_json.h: the strict, bounded, streaming parser for upstream JSON profiles (CONTRACT
 * §5). Bytes are fed as they arrive (yajl, no DOM): the parser builds the profile model
 * directly, enforcing the model's limits plus nesting depth and string length. Unknown top-level
 * and agentMetadata members are kept (as pg_value trees); unknown node members are skipped.
 * Malformed input is an error with a reason, never a crash.
 */
#ifndef PG_PROFILE_JSON_H
#define PG_PROFILE_JSON_H

#include "profgate/profile.h"

typedef struct pg_pjson pg_pjson;

/** Starts parsing into p (freshly initialized; the parser does not own it). */
pg_pjson *pg_pjson_new(pg_profile *p, size_t max_string);
void pg_pjson_free(pg_pjson *j);
/** Feeds bytes; PG_EINVAL (malformed) or PG_ELIMIT (over a limit) with pg_pjson_error. */
int pg_pjson_feed(pg_pjson *j, const void *data, size_t len);
/** Ends the input: PG_OK only for one complete, well-formed profile document. */
int pg_pjson_finish(pg_pjson *j);
const char *pg_pjson_error(const pg_pjson *j);

/** Convenience: parses a whole buffer. */
int pg_profile_from_json(pg_profile *p, const void *data, size_t len, char *why, size_t whylen);

#endif
