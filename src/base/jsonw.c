/*
 * jsonw.c: JSON string escaping. Output is bounded by the pg_buf it writes into.
 */
#include "profgate/jsonw.h"

#include <string.h>

/* Whether a byte must be escaped in a JSON string. */
static bool needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

bool pg_json_plain(const char *s, size_t len)
{
    /* A word has a byte below 0x20, a quote or a backslash when one of these has a high bit set
     * (the "has a byte less than n" and "has a zero byte" tricks: no word with such a byte is
     * missed; bytes of 0x80 and above, UTF-8's, are never flagged). */
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        uint64_t q = v ^ (ones * '"'), bs = v ^ (ones * '\\');
        if (((v - ones * 0x20) | (q - ones) | (bs - ones)) & ~v & highs)
            return false;
    }
    for (; i < len; i++)
        if (needs_escape((unsigned char)s[i]))
            return false;
    return true;
}

int pg_json_str(pg_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    /* Most names need no escaping: checked first, then copied with the quotes in one go. */
    if (pg_json_plain(s, len) && len <= SIZE_MAX - 2 && pg_buf_reserve(b, len + 2) == PG_OK) {
        char *p = b->data + b->len;
        p[0] = '"';
        memcpy(p + 1, s, len);
        p[len + 1] = '"';
        b->len += len + 2;
        return PG_OK;
    }
    int rc = pg_buf_append(b, "\"", 1);
    size_t run = 0; /* bytes that need no escaping, appended in one go */
    for (size_t i = 0; rc == PG_OK && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_escape(c)) {
            run++;
            continue;
        }
        rc = pg_buf_append(b, s + i - run, run);
        run = 0;
        if (rc != PG_OK)
            break;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        rc = pg_buf_append(b, esc, n);
    }
    if (rc == PG_OK)
        rc = pg_buf_append(b, s + len - run, run);
    if (rc == PG_OK)
        rc = pg_buf_append(b, "\"", 1);
    return rc;
}

int pg_json_cstr(pg_buf *b, const char *s)
{
    return pg_json_str(b, s, strlen(s));
}

size_t pg_json_depth(const char *s, size_t len)
{
    size_t depth = 0, max = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            depth++; /* not inside PG_MAX, which evaluates its arguments twice */
            max = PG_MAX(max, depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return max;
}
