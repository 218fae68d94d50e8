/*
 * pprof.h: a profile in pprof's format (profile.proto, the schema Debian ships with
 * golang-github-google-pprof-dev, compiled by protoc-c at build time): what go tool pprof,
 * Pyroscope, Grafana and Polar Signals read.
 *
 * One sample type per counter (unit "count"), sorted by name; the default sample type is the
 * counter given (the view route's counter=, else the largest). Every frame name is a function
 * (with the file of the first node that names one) and one location (with its first known line).
 * A sample per call-tree node with a count: its stack from the node up to the top, its self
 * counts (rounded to integers, as pprof's values are). maxDepth folds as the JSON answer does.
 * time_nanos is the profile's start, duration_nanos its agentMetadata durationInMs, and the
 * period its duration over numTimesSampled (type "wall", unit "nanoseconds") when both are known.
 *
 * The output is the raw protobuf; pprof files are gzip-compressed, which the caller does. It is
 * written in steps, each a Profile message with some of the fields (protobuf merges concatenated
 * messages: repeated fields append), so memory stays at a step's size.
 */
#ifndef PG_PPROF_H
#define PG_PPROF_H

#include "profgate/profile.h"

typedef struct pg_ppwriter pg_ppwriter;
/** default_counter: a string id of p->strs naming a counter, or PG_STR_NONE; max_depth 0: unlimited. */
int pg_ppwriter_new(const pg_profile *p, uint32_t default_counter, uint32_t max_depth, pg_ppwriter **out);
/** Appends to out until out->len reaches budget or the profile is complete (*done). */
int pg_ppwriter_step(pg_ppwriter *w, pg_buf *out, size_t budget, bool *done);
void pg_ppwriter_free(pg_ppwriter *w);

#endif
