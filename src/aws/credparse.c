/*
 * credparse.c: the bodies that carry temporary credentials. STS speaks XML; rather than a general
 * XML parser for four leaf elements, this reads exactly the shape STS documents (leaf elements
 * holding text and the five predefined entities or character references) and refuses anything
 * else. Every value is checked to be printable ASCII without spaces, because the key and token go
 * into request headers.
 */
#include "profgate/credparse.h"
#include "profgate/iso8601.h"
#include "profgate/jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

static int why_set(char *why, size_t whylen, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    return PG_EINVAL;
}

/* Access keys are letters and digits; secrets and tokens any printable ASCII but space. */
static bool token_chars(const char *s, bool key)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f)
            return false;
        if (key && !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
            return false;
    }
    return true;
}

static int check_values(pg_creds *c, char *why, size_t whylen)
{
    if (!token_chars(c->access_key, true) || strlen(c->access_key) < 16)
        return why_set(why, whylen, "the access key id is missing or malformed");
    if (!token_chars(c->secret_key, false))
        return why_set(why, whylen, "the secret access key is missing or malformed");
    if (c->session_token[0] && !token_chars(c->session_token, false))
        return why_set(why, whylen, "the session token is malformed");
    c->present = true;
    return PG_OK;
}

/* ------------------------------------------------------------------ STS XML */

static const char *find(const char *b, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    if ((size_t)(end - b) < n)
        return NULL;
    return memmem(b, (size_t)(end - b), needle, n);
}

/* The decoded text of the first <name>...</name> in [b, end): PG_OK, PG_ENOTFOUND when absent,
 * PG_EINVAL when it holds markup, an unknown entity, or does not fit. */
static int leaf(const char *b, const char *end, const char *name, char *out, size_t cap)
{
    char open[48], close[48];
    snprintf(open, sizeof open, "<%s>", name);
    snprintf(close, sizeof close, "</%s>", name);
    const char *s = find(b, end, open);
    if (s == NULL)
        return PG_ENOTFOUND;
    s += strlen(open);
    const char *e = find(s, end, close);
    if (e == NULL)
        return PG_EINVAL;
    size_t o = 0;
    for (const char *p = s; p < e;) {
        char c = *p;
        if (c == '<' || c == '\0')
            return PG_EINVAL;
        if (c == '&') {
            const char *semi = memchr(p, ';', (size_t)(e - p));
            if (semi == NULL || semi - p > 10)
                return PG_EINVAL;
            size_t el = (size_t)(semi - p) + 1;
            static const struct {
                const char *ent;
                char c;
            } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
            c = 0;
            for (size_t i = 0; i < PG_ARRAY_LEN(ents); i++)
                if (strlen(ents[i].ent) == el && memcmp(p, ents[i].ent, el) == 0)
                    c = ents[i].c;
            if (c == 0 && p[1] == '#') {
                char num[12];
                memcpy(num, p + 2, el - 3);
                num[el - 3] = '\0';
                char *endp;
                long v = num[0] == 'x' ? strtol(num + 1, &endp, 16) : strtol(num, &endp, 10);
                /* only printable ASCII: nothing a credential or a message needs is beyond it */
                if (*endp != '\0' || endp == num || v < 0x20 || v > 0x7e)
                    return PG_EINVAL;
                c = (char)v;
            }
            if (c == 0)
                return PG_EINVAL;
            p += el;
        } else {
            p++;
        }
        if (o + 1 >= cap)
            return PG_EINVAL;
        out[o++] = c;
    }
    out[o] = '\0';
    return PG_OK;
}

int pg_cred_parse_sts(const char *body, size_t len, pg_creds *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (len > PG_CRED_BODY_MAX)
        return why_set(why, whylen, "the STS answer is larger than any credentials answer");
    const char *end = body + len;
    if (find(body, end, "<ErrorResponse") != NULL) {
        char code[96] = "", msg[400] = "";
        const char *err = find(body, end, "<Error>");
        if (err == NULL || leaf(err, end, "Code", code, sizeof code) != PG_OK)
            return why_set(why, whylen, "STS answered an error without a code");
        if (leaf(err, end, "Message", msg, sizeof msg) != PG_OK)
            msg[0] = '\0';
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                *p = '?';
        for (char *p = code; *p; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.'))
                *p = '?';
        snprintf(why, whylen, "STS %s: %s", code, msg);
        return PG_EINVAL;
    }
    if (find(body, end, "<AssumeRoleResponse") == NULL && find(body, end, "<AssumeRoleWithWebIdentityResponse") == NULL)
        return why_set(why, whylen, "not an STS AssumeRole answer");
    const char *cs = find(body, end, "<Credentials>");
    const char *ce = cs != NULL ? find(cs, end, "</Credentials>") : NULL;
    if (ce == NULL)
        return why_set(why, whylen, "the STS answer has no <Credentials> element");
    char exp[64];
    if (leaf(cs, ce, "AccessKeyId", out->access_key, sizeof out->access_key) != PG_OK ||
        leaf(cs, ce, "SecretAccessKey", out->secret_key, sizeof out->secret_key) != PG_OK ||
        leaf(cs, ce, "SessionToken", out->session_token, sizeof out->session_token) != PG_OK ||
        leaf(cs, ce, "Expiration", exp, sizeof exp) != PG_OK) {
        pg_creds_clear(out);
        return why_set(why, whylen, "the STS answer's Credentials lack a key, secret, token or expiration");
    }
    if (pg_ts_parse(exp, strlen(exp), &out->expires_ns, NULL, 0) != PG_OK || out->expires_ns == 0 ||
        !out->session_token[0]) {
        pg_creds_clear(out);
        return why_set(why, whylen, "the STS answer's Expiration is not a timestamp, or its token is empty");
    }
    int rc = check_values(out, why, whylen);
    if (rc != PG_OK)
        pg_creds_clear(out);
    return rc;
}

/* ------------------------------------------------------------------ JSON */

static const char *str_field(yajl_val root, const char *name)
{
    const char *path[] = {name, NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);
    return v != NULL ? YAJL_GET_STRING(v) : NULL;
}

static bool put(char *dst, size_t cap, const char *v)
{
    return v != NULL && pg_creds_copy(dst, cap, v, strlen(v));
}

int pg_cred_parse_json(const char *body, size_t len, pg_cred_json_kind kind, pg_creds *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (len > PG_CRED_BODY_MAX)
        return why_set(why, whylen, "the credentials document is larger than any should be");
    if (memchr(body, '\0', len) != NULL || pg_json_depth(body, len) > 8)
        return why_set(why, whylen, "the credentials document is not JSON");
    char *text = malloc(len + 1);
    PG_ASSERT(text != NULL);
    memcpy(text, body, len);
    text[len] = '\0';
    yajl_val root = yajl_tree_parse(text, NULL, 0);
    memset(text, 0, len); /* it holds the secret */
    free(text);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return why_set(why, whylen, "the credentials document is not a JSON object");
    }
    int rc = PG_OK;
    const char *code = str_field(root, "Code");
    if (kind == PG_CRED_JSON_IMDS && (code == NULL || strcmp(code, "Success") != 0)) {
        rc = why_set(why, whylen, "instance metadata did not answer Code \"Success\"");
        goto out;
    }
    if (kind == PG_CRED_JSON_PROCESS) {
        const char *path[] = {"Version", NULL};
        yajl_val v = yajl_tree_get(root, path, yajl_t_number);
        if (v == NULL || !YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) != 1) {
            rc = why_set(why, whylen, "credential_process output must have \"Version\": 1");
            goto out;
        }
    }
    const char *tok = str_field(root, kind == PG_CRED_JSON_PROCESS ? "SessionToken" : "Token");
    const char *exp = str_field(root, "Expiration");
    if (!put(out->access_key, sizeof out->access_key, str_field(root, "AccessKeyId")) ||
        !put(out->secret_key, sizeof out->secret_key, str_field(root, "SecretAccessKey")) ||
        (tok != NULL && !put(out->session_token, sizeof out->session_token, tok))) {
        rc = why_set(why, whylen, "the credentials document lacks AccessKeyId or SecretAccessKey, or a value is too long");
        goto out;
    }
    /* Only a process may hand out keys that never expire; the endpoints give temporary ones. */
    if (exp == NULL && kind != PG_CRED_JSON_PROCESS) {
        rc = why_set(why, whylen, "the credentials document has no Expiration");
        goto out;
    }
    if (exp != NULL && (pg_ts_parse(exp, strlen(exp), &out->expires_ns, NULL, 0) != PG_OK || out->expires_ns == 0)) {
        rc = why_set(why, whylen, "the credentials document's Expiration is not an ISO 8601 timestamp");
        goto out;
    }
    if (kind != PG_CRED_JSON_PROCESS && !out->session_token[0]) {
        rc = why_set(why, whylen, "the credentials document has no Token");
        goto out;
    }
    rc = check_values(out, why, whylen);
out:
    if (rc != PG_OK)
        pg_creds_clear(out);
    yajl_tree_free(root);
    return rc;
}

bool pg_cred_parse_word(const char *body, size_t len, char *out, size_t cap)
{
    if (body == NULL || cap == 0)
        return false;
    size_t n = 0; /* the body is not NUL-terminated: up to its first line end, within its length */
    while (n < len && body[n] != '\r' && body[n] != '\n')
        n++;
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)body[i] <= 0x20 || (unsigned char)body[i] >= 0x7f || body[i] == '/')
            return false;
    memcpy(out, body, n);
    out[n] = '\0';
    return true;
}
