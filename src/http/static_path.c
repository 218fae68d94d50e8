/*
 * static_path.c: request path -> file name under a static site's root (see static_path.h). A
 * whitelist, checked byte by byte, instead of decoding and normalizing: every name the page uses
 * fits it, and nothing that could leave the root (or reach a hidden file) does.
 */
#include "profgate/static_path.h"

#include <string.h>

static const struct {
    const char *ext, *ctype;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".wasm", "application/wasm"},
    {".txt", "text/plain; charset=utf-8"},
};

static bool name_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

static const char *content_type(const char *name, size_t len)
{
    for (size_t i = 0; i < PG_ARRAY_LEN(types); i++) {
        size_t el = strlen(types[i].ext);
        if (len > el && memcmp(name + len - el, types[i].ext, el) == 0)
            return types[i].ctype;
    }
    return NULL;
}

pg_static_kind pg_static_path(const char *path, size_t len, const char *prefix, char *rel, const char **ctype)
{
    size_t plen = strlen(prefix);
    PG_ASSERT(plen > 0 && prefix[plen - 1] == '/');
    if (len == plen - 1 && memcmp(path, prefix, len) == 0)
        return PG_SP_REDIRECT;
    if (len < plen || memcmp(path, prefix, plen) != 0)
        return PG_SP_NOT_FOUND;
    const char *r = path + plen;
    size_t rlen = len - plen;
    if (rlen == 0) {
        r = "index.html";
        rlen = strlen(r);
    }
    if (rlen > PG_STATIC_PATH_MAX)
        return PG_SP_NOT_FOUND;
    bool seg_start = true;
    for (size_t i = 0; i < rlen; i++) {
        char c = r[i];
        if (c == '/') {
            if (seg_start)
                return PG_SP_NOT_FOUND; /* "//" */
            seg_start = true;
            continue;
        }
        if (!name_byte(c) || (seg_start && c == '.'))
            return PG_SP_NOT_FOUND;
        seg_start = false;
    }
    if (seg_start) /* ends in '/': a directory */
        return PG_SP_NOT_FOUND;
    const char *slash = memrchr(r, '/', rlen);
    const char *base = slash ? slash + 1 : r;
    *ctype = content_type(base, rlen - (size_t)(base - r));
    if (*ctype == NULL)
        return PG_SP_NOT_FOUND;
    memcpy(rel, r, rlen);
    rel[rlen] = '\0';
    return PG_SP_FILE;
}
