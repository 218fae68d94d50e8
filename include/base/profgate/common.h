/*
 * common.h: the few things every profgate module shares: error codes, asserts that stay on in
 * release builds, and small helpers. It must not grow into a grab bag: anything with a
 * responsibility of its own gets its own module.
 */
#ifndef PG_COMMON_H
#define PG_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Error codes: functions return 0 or one of these (negative). */
enum {
    PG_OK = 0,
    PG_ENOMEM = -1,   /* allocation failed */
    PG_ELIMIT = -2,   /* a declared limit would be exceeded */
    PG_EINVAL = -3,   /* malformed input */
    PG_ERANGE = -4,   /* well-formed but out of range */
    PG_EIO = -5,      /* an I/O call failed */
    PG_ENOTFOUND = -6 /* nothing by that name */
};

/** Names an error code, strerror-style; never NULL. */
const char *pg_strerror(int err);

/* Programmer errors abort with file and line. Unlike assert(), these stay on in release builds
 * and always evaluate their expression (Varnish's habit): a broken invariant in a server that
 * guards a shared upstream must stop loudly, not corrupt data quietly. */
void pg_assert_fail(const char *expr, const char *file, int line, const char *func)
    __attribute__((noreturn));
#define PG_ASSERT(e) \
    ((e) ? (void)0 : pg_assert_fail(#e, __FILE__, __LINE__, __func__))
/* For calls that cannot fail when used correctly (libuv's init, start and stop on a valid handle):
 * a non-zero result is a programmer error, so it aborts with the call and its result. */
void pg_check_fail(const char *expr, int rc, const char *file, int line, const char *func) __attribute__((noreturn));
#define PG_CHECK_UV(e)                                                  \
    do {                                                                \
        int pg_check_rc_ = (e);                                         \
        if (pg_check_rc_ != 0)                                          \
            pg_check_fail(#e, pg_check_rc_, __FILE__, __LINE__, __func__); \
    } while (0)
/* For snprintf into a fixed buffer whose inputs are bounded: the text must fit, or it is a
 * programmer error (a silently cut key or header would be a wrong answer, not a short one).
 * Where cutting is intended (text from outside, logs), use snprintf with a precision instead. */
#define PG_FMT_FITS(n, size) PG_ASSERT((n) >= 0 && (size_t)(n) < (size))
#define PG_UNREACHABLE() pg_assert_fail("unreachable", __FILE__, __LINE__, __func__)

#define PG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PG_MAX(a, b) ((a) > (b) ? (a) : (b))

/** Allocation that aborts on failure, for small fixed-size control structures whose loss would
 * leave the process in no state worth continuing. Buffers sized by outside input never use it. */
void *pg_xcalloc(size_t n, size_t size);

/** 64-bit FNV-1a of p[0..n): hash tables, cache namespaces, generator seeds. Stable across builds. */
uint64_t pg_hash64(const void *p, size_t n);
/** A hash of p[0..n) for in-memory tables only (interned strings, cache keys): eight bytes per
 *  multiply where pg_hash64 takes one, so names of 50 bytes hash several times faster. Its values
 *  may change between builds: nothing may store them or compare them across processes. */
uint64_t pg_hash_mem(const void *p, size_t n);

/** A NUL-terminated copy of s[0..n); NULL when out of memory. */
char *pg_strndup(const char *s, size_t n);
/** *out = a malloc'd copy of n bytes of p, NULL when there is nothing to copy (p NULL or n 0).
 * False only when allocation fails. For deep copies of a structure's arrays. */
bool pg_memdup(void **out, const void *p, size_t n);

/** Makes *arr (of *cap elements of elem bytes) hold at least need, doubling from 64; false when
 *  allocation fails (the array is then unchanged). The growable arrays of writers and walks. */
bool pg_grow(void **arr, size_t *cap, size_t need, size_t elem);

/** ASCII case-insensitive comparison of a counted string with a C string. */
bool pg_strieq(const char *a, size_t alen, const char *b);

/**
 * Copies in[0..len) into out as printable ASCII for logs and error messages: bytes outside
 * 0x21..0x7e and quotes become '?', and input that does not fit ends in "...". Returns out.
 */
char *pg_printable(const char *in, size_t len, char *out, size_t outlen);

/** Copies a header value to be sent on: printable ASCII and spaces kept, anything else (CR, LF,
 *  controls, non-ASCII) '?', cut to fit. Returns out. */
char *pg_header_safe(const char *in, size_t len, char *out, size_t outlen);

/**
 * Copies in[0..len) into out as a client's value is echoed in an error message: valid UTF-8 as
 * sent (JSON escaping happens where the message is written), control characters, quotes and bytes
 * that are not UTF-8 as '?', whole characters only; input that does not fit ends in "...". Returns out.
 */
char *pg_utf8_echo(const char *in, size_t len, char *out, size_t outlen);

/** Time units used throughout: instants are int64 nanoseconds since the Unix epoch (UTC). */
#define PG_NS_PER_MS INT64_C(1000000)
#define PG_NS_PER_S INT64_C(1000000000)

#endif
