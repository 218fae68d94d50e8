/* Fuzz target: the answers that carry temporary credentials (credparse.c). The first byte picks
 * the parser (STS XML, the container, IMDS or credential_process JSON, or an IMDS word); the rest
 * is the body.
 * A parser must answer, never crash, and what it accepts must be safe to put in a header:
 * printable ASCII without spaces, an access key of letters and digits, and an expiry. */
#include "profgate/credparse.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *s, bool may_be_empty)
{
    if (!may_be_empty && *s == '\0')
        __builtin_trap();
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    pg_creds c;
    char why[300];
    int rc;
    unsigned which = data[0] % 5;
    const char *body = (const char *)data + 1;
    if (which == 4) {
        /* The word lands in a header or a URL path: bounded, printable, no space or slash. */
        char word[64];
        memset(word, 'X', sizeof word);
        if (pg_cred_parse_word(body, size - 1, word, sizeof word)) {
            if (memchr(word, '\0', sizeof word) == NULL || word[0] == '\0')
                __builtin_trap();
            for (const char *p = word; *p; p++)
                if (*p == '/')
                    __builtin_trap();
            check_value(word, false);
        }
        return 0;
    }
    if (which == 0)
        rc = pg_cred_parse_sts(body, size - 1, &c, why, sizeof why);
    else
        rc = pg_cred_parse_json(body, size - 1, (pg_cred_json_kind)(which - 1), &c, why, sizeof why);
    if (rc == PG_OK) {
        if (!c.present || strlen(c.access_key) < 16)
            __builtin_trap();
        check_value(c.access_key, false);
        check_value(c.secret_key, false);
        check_value(c.session_token, which == 3);
        if (c.expires_ns == 0 && which != 3)
            __builtin_trap();
    } else if (c.present) {
        __builtin_trap();
    }
    return 0;
}
