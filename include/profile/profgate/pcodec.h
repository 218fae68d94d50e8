/*
 * pcodec.h: the compact, versioned encoding of a parsed profile, compressed with zstd, that the
 * caches store. Merging cached buckets never re-parses JSON: decoding rebuilds the model directly
 * (strings once, nodes in parent-before-child order). A value carries a magic, a format version
 * and zstd's content checksum; anything that fails to decode is reported, never half-used.
 * Pure and bounded: decoding enforces the model's limits and a maximum decompressed size.
 */
#ifndef PG_PCODEC_H
#define PG_PCODEC_H

#include "profgate/buf.h"
#include "profgate/profile.h"

#define PG_PCODEC_VERSION 1

/* A stored value may expand at most this many times when decompressed (past a first
 * PG_PCODEC_RAW_FREE bytes, which any ratio may reach). Profiles compress 2-3x (the payload is
 * already varint-packed), so a value expanding 64x is a planted bomb: it is refused before its
 * buffer is allocated, and the encoder refuses to produce one, so what it writes reads back. */
#define PG_PCODEC_MAX_RATIO 64
#define PG_PCODEC_RAW_FREE ((size_t)1 << 20)

/** Whether a payload of raw bytes may be stored in stored bytes (the ratio rule above). */
bool pg_pcodec_ratio_ok(unsigned long long raw, size_t stored);

/** Appends the compressed encoding of p to out; PG_ELIMIT (nothing appended) if it would expand
 *  past PG_PCODEC_MAX_RATIO when read back. */
int pg_pcodec_encode(const pg_profile *p, int level, pg_buf *out);

/** Appends the inner payload (what the zstd frame holds) to out: for tests and the fuzzer's
 *  seeds, the counterpart of pg_pcodec_decode_raw. */
int pg_pcodec_encode_raw(const pg_profile *p, pg_buf *out);

/**
 * Decodes data into p (freshly initialized). PG_EINVAL (corrupt, wrong version, bad checksum) or
 * PG_ELIMIT (over max_raw bytes decompressed, or the profile's limits), with a reason in why.
 * A frame that would expand past PG_PCODEC_MAX_RATIO is PG_EINVAL, refused unallocated.
 */
int pg_pcodec_decode(const void *data, size_t len, size_t max_raw, pg_profile *p, char *why, size_t whylen);

/** Decodes the inner payload (what the zstd frame holds) into p: for the fuzzer, which would
 *  otherwise spend its time in zstd's own checks. Same contract as pg_pcodec_decode. */
int pg_pcodec_decode_raw(const void *raw, size_t len, pg_profile *p, char *why, size_t whylen);

#endif
