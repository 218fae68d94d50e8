/* Fuzz target: the cache codec's inner payload, without its zstd frame (the framed target,
 * fuzz_pcodec, spends most of its time in zstd's own checks). The same checks as fuzz_pcodec:
 * decoding never crashes or exceeds limits, and what decodes re-encodes to the same profile. */
#define PG_FUZZ_RAW 1
#include "fuzz_pcodec.c"
