/*
 * simcreds.c: STS, the container credentials endpoint and IMDSv2, as the simulator plays them
 * (see simcreds.h). Sessions live in a fixed ring: the oldest is forgotten first, long after it
 * expired at test lifetimes.
 */
#include "profgate/simcreds.h"
#include "profgate/clock.h"
#include "profgate/jsonw.h"
#include "profgate/iso8601.h"
#include "profgate/log.h"
#include "profgate/query.h"
#include "profgate/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SESSIONS 4096
#define IMDS_TOKENS 64
#define ROLE_NAME "profgate-sim-role"

typedef struct session {
    char akid[21];
    char secret[41];
    char token[113];
    int64_t expires_ns;
} session;

typedef struct imds_token {
    char token[45];
    int64_t expires_ns;
} imds_token;

enum { K_WEB_IDENTITY, K_ASSUME_ROLE, K_CONTAINER, K_IMDS, K_COUNT };

struct pg_simcreds {
    int64_t ttl_ns;
    char region[64];
    char static_akid[129], static_secret[129];
    session *s;
    size_t next; /* ring position */
    imds_token imds[IMDS_TOKENS];
    size_t imds_next;
    uint64_t rng;
    uint64_t fail_next; /* credential requests still to fail */
    struct {
        uint64_t issued[K_COUNT];
        uint64_t refused, imds_tokens, imds_unauthorized;
        uint64_t calls_static, calls_session, calls_expired, calls_bad_token;
        char last_web_identity_token[128], last_container_auth[128], last_assumed_by[24];
    } st;
};

static uint64_t rnd(pg_simcreds *sc)
{
    sc->rng ^= sc->rng << 13;
    sc->rng ^= sc->rng >> 7;
    sc->rng ^= sc->rng << 17;
    return sc->rng;
}

static void fill(pg_simcreds *sc, char *out, size_t n, const char *alphabet)
{
    size_t al = strlen(alphabet);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rnd(sc) % al];
    out[n] = '\0';
}

pg_simcreds *pg_simcreds_new(int64_t ttl_s, const char *region, const char *access_key, const char *secret_key)
{
    pg_simcreds *sc = pg_xcalloc(1, sizeof *sc);
    sc->s = pg_xcalloc(SESSIONS, sizeof *sc->s);
    sc->ttl_ns = ttl_s * PG_NS_PER_S;
    snprintf(sc->region, sizeof sc->region, "%s", region ? region : "us-east-1");
    if (access_key != NULL) {
        snprintf(sc->static_akid, sizeof sc->static_akid, "%s", access_key);
        snprintf(sc->static_secret, sizeof sc->static_secret, "%s", secret_key);
    }
    if (getrandom(&sc->rng, sizeof sc->rng, 0) != sizeof sc->rng || sc->rng == 0)
        sc->rng = 0x9e3779b97f4a7c15u;
    return sc;
}

void pg_simcreds_free(pg_simcreds *sc)
{
    if (sc == NULL)
        return;
    free(sc->s);
    free(sc);
}

static const session *find(const pg_simcreds *sc, const char *akid, size_t len)
{
    for (size_t i = 0; i < SESSIONS; i++)
        if (sc->s[i].akid[0] && strlen(sc->s[i].akid) == len && memcmp(sc->s[i].akid, akid, len) == 0)
            return &sc->s[i];
    return NULL;
}

const char *pg_simcreds_secret(void *ctx, const char *akid, size_t len)
{
    pg_simcreds *sc = ctx;
    if (sc->static_akid[0] && strlen(sc->static_akid) == len && memcmp(sc->static_akid, akid, len) == 0)
        return sc->static_secret;
    const session *s = find(sc, akid, len);
    return s != NULL ? s->secret : NULL;
}

static pg_sc_check check(const pg_simcreds *sc, const char *akid, const char *token, size_t tlen, int64_t now_ns)
{
    const session *s = find(sc, akid, strlen(akid));
    if (s == NULL)
        return PG_SC_STATIC;
    if (token == NULL || strlen(s->token) != tlen || memcmp(s->token, token, tlen) != 0)
        return PG_SC_BAD_TOKEN;
    return now_ns >= s->expires_ns ? PG_SC_EXPIRED : PG_SC_SESSION;
}

pg_sc_check pg_simcreds_check(pg_simcreds *sc, const char *akid, const char *token, size_t tlen, int64_t now_ns)
{
    pg_sc_check c = check(sc, akid, token, tlen, now_ns);
    uint64_t *count[] = {&sc->st.calls_static, &sc->st.calls_session, &sc->st.calls_expired, &sc->st.calls_bad_token};
    (*count[c])++;
    return c;
}

static session *issue(pg_simcreds *sc, int kind, int64_t now_ns)
{
    session *s = &sc->s[sc->next];
    sc->next = (sc->next + 1) % SESSIONS;
    static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memcpy(s->akid, "ASIA", 4);
    fill(sc, s->akid + 4, 16, upper);
    fill(sc, s->secret, 40, b64);
    memcpy(s->token, "IQoJb3JpZ2luX2Vj", 16);
    fill(sc, s->token + 16, 96, b64);
    s->expires_ns = now_ns + sc->ttl_ns;
    sc->st.issued[kind]++;
    return s;
}

/* ------------------------------------------------------------------ answers */

static void respond(pg_http_req *req, int status, const char *ctype, const char *body)
{
    const pg_http_out_header h[] = {{"Content-Type", ctype}};
    pg_http_respond(req, status, h, 1, body, strlen(body));
}

static void sts_error(pg_simcreds *sc, pg_http_req *req, int status, const char *code, const char *msg)
{
    sc->st.refused++;
    char body[1024];
    snprintf(body, sizeof body,
             "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n"
             "    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n"
             "</ErrorResponse>\n",
             code, msg, pg_http_req_id(req));
    respond(req, status, "text/xml", body);
}

static void sts_answer(pg_simcreds *sc, pg_http_req *req, const char *action, const session *s)
{
    char exp[PG_TS_FMT_MAX], body[2048];
    /* STS gives whole seconds */
    pg_ts_format(s->expires_ns - s->expires_ns % PG_NS_PER_S, exp, sizeof exp);
    snprintf(body, sizeof body,
             "<%sResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <%sResult>\n    <Credentials>\n"
             "      <AccessKeyId>%s</AccessKeyId>\n      <SecretAccessKey>%s</SecretAccessKey>\n"
             "      <SessionToken>%s</SessionToken>\n      <Expiration>%s</Expiration>\n    </Credentials>\n"
             "    <AssumedRoleUser>\n      <Arn>arn:aws:sts::123456789012:assumed-role/%s/profgate</Arn>\n"
             "    </AssumedRoleUser>\n  </%sResult>\n  <ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>\n"
             "</%sResponse>\n",
             action, action, s->akid, s->secret, s->token, exp, ROLE_NAME, action, pg_http_req_id(req), action);
    (void)sc;
    respond(req, 200, "text/xml", body);
}

static void json_answer(pg_http_req *req, const session *s, bool imds)
{
    char exp[PG_TS_FMT_MAX], body[1024];
    pg_ts_format(s->expires_ns - s->expires_ns % PG_NS_PER_S, exp, sizeof exp);
    snprintf(body, sizeof body,
             "{%s\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"Token\":\"%s\",\"Expiration\":\"%s\"%s}",
             imds ? "\"Code\":\"Success\",\"Type\":\"AWS-HMAC\"," : "", s->akid, s->secret, s->token, exp,
             imds ? "" : ",\"RoleArn\":\"arn:aws:iam::123456789012:role/" ROLE_NAME "\"");
    respond(req, 200, "application/json", body);
}

static bool injected_failure(pg_simcreds *sc, pg_http_req *req)
{
    if (sc->fail_next == 0)
        return false;
    sc->fail_next--;
    sc->st.refused++;
    respond(req, 503, "text/plain", "injected failure\n");
    return true;
}

static void keep(char *dst, size_t cap, const char *v, size_t len)
{
    pg_printable(v, len, dst, cap);
}

static void handle_sts(pg_simcreds *sc, pg_http_req *req, int64_t now)
{
    const pg_http_head *h = pg_http_req_head(req);
    pg_slice form = {h->body ? h->body : "", (size_t)h->body_bytes};
    char action[64], arn[2100], name[80], *tok = malloc(20000);
    PG_ASSERT(tok != NULL);
    bool bad = false, b2 = false, b3 = false;
    if (!pg_query_param(form, "Action", action, sizeof action, &bad) || bad ||
        !pg_query_param(form, "RoleArn", arn, sizeof arn, &b2) || b2 || strncmp(arn, "arn:", 4) != 0 ||
        !pg_query_param(form, "RoleSessionName", name, sizeof name, &b3) || b3 || strlen(name) < 2) {
        free(tok);
        sts_error(sc, req, 400, "ValidationError", "Action, RoleArn and RoleSessionName are required");
        return;
    }
    if (strcmp(action, "AssumeRoleWithWebIdentity") == 0) {
        if (!pg_query_param(form, "WebIdentityToken", tok, 20000, &bad) || bad || tok[0] == '\0') {
            free(tok);
            sts_error(sc, req, 400, "ValidationError", "WebIdentityToken is required");
            return;
        }
        keep(sc->st.last_web_identity_token, sizeof sc->st.last_web_identity_token, tok, strlen(tok));
        bool expired = strncmp(tok, "expired", 7) == 0;
        free(tok);
        if (expired) {
            sts_error(sc, req, 400, "ExpiredTokenException", "Token expired: current date/time is after exp");
            return;
        }
        sts_answer(sc, req, "AssumeRoleWithWebIdentity", issue(sc, K_WEB_IDENTITY, now));
        return;
    }
    free(tok);
    if (strcmp(action, "AssumeRole") != 0) {
        sts_error(sc, req, 400, "InvalidAction", "Could not find operation for this action");
        return;
    }
    /* AssumeRole is signed by the caller: its key, and for a session its token, must hold. */
    pg_sigv4_verify_cfg vc = {.service = "sts", .region = sc->region, .max_skew_ns = 15 * 60 * PG_NS_PER_S,
                              .secret_for = pg_simcreds_secret, .ctx = sc};
    char why[256], akid[129];
    pg_sigv4_result r = pg_sigv4_verify(&vc, h, pg_realtime_ns(), why, sizeof why, akid);
    if (r != PG_SIGV4_OK) {
        sts_error(sc, req, 403, r == PG_SIGV4_UNKNOWN_KEY ? "InvalidClientTokenId" : "SignatureDoesNotMatch", why);
        return;
    }
    size_t tl = 0;
    const char *t = pg_http_req_header(req, "x-amz-security-token", &tl);
    pg_sc_check c = check(sc, akid, t, tl, now); /* counted apart from the data calls */
    if (c == PG_SC_EXPIRED || c == PG_SC_BAD_TOKEN) {
        sts_error(sc, req, 403, c == PG_SC_EXPIRED ? "ExpiredToken" : "InvalidClientTokenId",
                  c == PG_SC_EXPIRED ? "The security token included in the request is expired"
                                     : "The security token included in the request is invalid");
        return;
    }
    snprintf(sc->st.last_assumed_by, sizeof sc->st.last_assumed_by, "%.20s", akid);
    sts_answer(sc, req, "AssumeRole", issue(sc, K_ASSUME_ROLE, now));
}

static void handle_container(pg_simcreds *sc, pg_http_req *req, int64_t now)
{
    size_t al = 0;
    const char *auth = pg_http_req_header(req, "authorization", &al);
    if (auth == NULL || al == 0) {
        sc->st.refused++;
        respond(req, 401, "application/json", "{\"message\":\"Authorization header required\"}");
        return;
    }
    keep(sc->st.last_container_auth, sizeof sc->st.last_container_auth, auth, al);
    if (al >= 7 && memcmp(auth, "expired", 7) == 0) {
        sc->st.refused++;
        respond(req, 403, "application/json", "{\"message\":\"the service account token has expired\"}");
        return;
    }
    json_answer(req, issue(sc, K_CONTAINER, now), false);
}

static bool imds_token_ok(pg_simcreds *sc, pg_http_req *req, int64_t now)
{
    size_t tl = 0;
    const char *t = pg_http_req_header(req, "x-aws-ec2-metadata-token", &tl);
    for (size_t i = 0; t != NULL && i < IMDS_TOKENS; i++)
        if (sc->imds[i].token[0] && strlen(sc->imds[i].token) == tl && memcmp(sc->imds[i].token, t, tl) == 0 &&
            now < sc->imds[i].expires_ns)
            return true;
    sc->st.imds_unauthorized++;
    respond(req, 401, "text/plain", "");
    return false;
}

static void handle_imds(pg_simcreds *sc, pg_http_req *req, const char *path, size_t plen, bool put, int64_t now)
{
    static const char token_path[] = "/latest/api/token";
    static const char creds_path[] = "/latest/meta-data/iam/security-credentials/";
    if (put) {
        size_t vl = 0;
        const char *v = pg_http_req_header(req, "x-aws-ec2-metadata-token-ttl-seconds", &vl);
        long ttl = v != NULL && vl < 8 ? strtol(v, NULL, 10) : 0;
        if (plen != sizeof token_path - 1 || memcmp(path, token_path, plen) != 0 || ttl < 1 || ttl > 21600) {
            respond(req, 400, "text/plain", "");
            return;
        }
        imds_token *it = &sc->imds[sc->imds_next];
        sc->imds_next = (sc->imds_next + 1) % IMDS_TOKENS;
        fill(sc, it->token, 44, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
        it->expires_ns = now + ttl * PG_NS_PER_S;
        sc->st.imds_tokens++;
        respond(req, 200, "text/plain", it->token);
        return;
    }
    if (!imds_token_ok(sc, req, now))
        return; /* IMDSv2 only: every read needs a session token */
    if (plen < sizeof creds_path - 1 || memcmp(path, creds_path, sizeof creds_path - 1) != 0) {
        respond(req, 404, "text/plain", "");
        return;
    }
    const char *role = path + sizeof creds_path - 1;
    size_t rl = plen - (sizeof creds_path - 1);
    if (rl == 0) {
        respond(req, 200, "text/plain", ROLE_NAME);
        return;
    }
    if (rl != strlen(ROLE_NAME) || memcmp(role, ROLE_NAME, rl) != 0) {
        respond(req, 404, "text/plain", "");
        return;
    }
    json_answer(req, issue(sc, K_IMDS, now), true);
}

bool pg_simcreds_handle(pg_simcreds *sc, pg_http_req *req, int64_t now)
{
    const pg_http_head *h = pg_http_req_head(req);
    size_t plen = 0; /* the target is not NUL-terminated */
    while (plen < h->target_len && h->target[plen] != '?')
        plen++;
    const char *path = h->target;
    bool get = h->method_len == 3 && memcmp(h->method, "GET", 3) == 0;
    bool put = h->method_len == 3 && memcmp(h->method, "PUT", 3) == 0;
    bool post = h->method_len == 4 && memcmp(h->method, "POST", 4) == 0;
    if (post && plen == 1 && path[0] == '/') {
        if (!injected_failure(sc, req))
            handle_sts(sc, req, now);
        return true;
    }
    if (post && plen == 16 && memcmp(path, "/_sim/creds/fail", 16) == 0) {
        char n[16];
        bool bad = false;
        pg_slice q = {path + plen + (plen < h->target_len), h->target_len - plen - (plen < h->target_len)};
        sc->fail_next = pg_query_param(q, "n", n, sizeof n, &bad) && !bad ? strtoull(n, NULL, 10) : 1;
        respond(req, 200, "application/json", "{\"failing\":true}\n");
        return true;
    }
    if (get && plen == 21 && memcmp(path, "/_sim/creds/container", 21) == 0) {
        if (!injected_failure(sc, req))
            handle_container(sc, req, now);
        return true;
    }
    if ((get || put) && plen >= 8 && memcmp(path, "/latest/", 8) == 0) {
        if (!injected_failure(sc, req))
            handle_imds(sc, req, path, plen, put, now);
        return true;
    }
    return false;
}

int pg_simcreds_stats_json(const pg_simcreds *sc, pg_buf *b)
{
    int rc = pg_buf_printf(b,
                           ",\"credentials\":{\"issued\":{\"webIdentity\":%llu,\"assumeRole\":%llu,\"container\":%llu,"
                           "\"imds\":%llu},\"refused\":%llu,\"imdsTokens\":%llu,\"imdsUnauthorized\":%llu,"
                           "\"signedCalls\":{\"static\":%llu,\"session\":%llu,\"expired\":%llu,\"badToken\":%llu},"
                           "\"lastWebIdentityToken\":",
                           (unsigned long long)sc->st.issued[K_WEB_IDENTITY],
                           (unsigned long long)sc->st.issued[K_ASSUME_ROLE], (unsigned long long)sc->st.issued[K_CONTAINER],
                           (unsigned long long)sc->st.issued[K_IMDS], (unsigned long long)sc->st.refused,
                           (unsigned long long)sc->st.imds_tokens, (unsigned long long)sc->st.imds_unauthorized,
                           (unsigned long long)sc->st.calls_static, (unsigned long long)sc->st.calls_session,
                           (unsigned long long)sc->st.calls_expired, (unsigned long long)sc->st.calls_bad_token);
    rc = rc ?: pg_json_cstr(b, sc->st.last_web_identity_token);
    rc = rc ?: pg_buf_puts(b, ",\"lastContainerAuthorization\":");
    rc = rc ?: pg_json_cstr(b, sc->st.last_container_auth);
    rc = rc ?: pg_buf_puts(b, ",\"lastAssumeRoleBy\":");
    rc = rc ?: pg_json_cstr(b, sc->st.last_assumed_by);
    return rc ?: pg_buf_puts(b, "}");
}

void pg_simcreds_reset_stats(pg_simcreds *sc)
{
    memset(&sc->st, 0, sizeof sc->st);
}
