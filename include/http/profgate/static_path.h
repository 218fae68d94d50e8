/*
 * static_path.h: which file, if any, a request path under a static site's prefix names (profgate's
 * page at /ui/). Pure: no file system. Strict, because the answer becomes a file name: the rest of
 * the path after the prefix must be segments of [A-Za-z0-9._-] separated by single '/', none
 * starting with '.' (so no "..", no dotfiles, no npm's .bin links), no percent-escapes, at most
 * PG_STATIC_PATH_MAX bytes, and end in an extension the site serves, which gives the content type.
 * The prefix itself ("/ui/") names index.html; the prefix without its slash is a redirect to it, so
 * that the page's relative links resolve.
 */
#ifndef PG_STATIC_PATH_H
#define PG_STATIC_PATH_H

#include "profgate/common.h"

#define PG_STATIC_PATH_MAX 255

typedef enum {
    PG_SP_FILE,      /* rel and ctype are set */
    PG_SP_REDIRECT,  /* to the prefix with its slash */
    PG_SP_NOT_FOUND, /* not a name this site could have */
} pg_static_kind;

/**
 * Maps path (the request target's path, len bytes, not decoded) under prefix (ending in '/') to a
 * file name relative to the site's root, written NUL-terminated into rel (PG_STATIC_PATH_MAX + 1
 * bytes), and its content type (a static string) into *ctype.
 */
pg_static_kind pg_static_path(const char *path, size_t len, const char *prefix, char *rel, const char **ctype);

#endif
