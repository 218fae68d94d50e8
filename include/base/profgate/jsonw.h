/*
 * jsonw.h: the JSON writing primitives every producer of JSON output uses (error bodies, the
 * plan debug route, later profiles). It only escapes and appends; it never parses.
 */
#ifndef PG_JSONW_H
#define PG_JSONW_H

#include "profgate/buf.h"

/** Appends s[0..len) as a JSON string literal with quotes. Control characters, quote and
 * backslash are escaped; bytes >= 0x80 pass through (input is expected to be UTF-8). */
int pg_json_str(pg_buf *b, const char *s, size_t len);
/** Whether s[0..len) goes into a JSON string as it is (no byte needs escaping): a writer can then
 *  put it between quotes without pg_json_str. Eight bytes at a time. */
bool pg_json_plain(const char *s, size_t len);
/** Same for a NUL-terminated string. */
int pg_json_cstr(pg_buf *b, const char *s);

/** How deep s[0..len) nests arrays and objects (outside strings), as a cheap check before a
 *  parser that recurses: a text nested deeper than any real answer is refused first. */
size_t pg_json_depth(const char *s, size_t len);

#endif
