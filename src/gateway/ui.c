/*
 * ui.c: profgate's page (/ui/), static files served from ui.root: the page itself (ui/ in the
 * repository) and the libraries npm installed beside it (ui/node_modules, from the lock file). The
 * name comes from pg_static_path (a whitelist); the file must also resolve inside the root once
 * links are followed, be a regular file and be at most UI_FILE_MAX. The files are few and small and
 * local, so they are opened on the loop; the body goes out with sendfile.
 */
#include "gw.h"
#include "profgate/log.h"
#include "profgate/static_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UI_FILE_MAX ((off_t)32 << 20)

/* The page's own HTML may load only what profgate serves: the page works offline by
 * construction, and a CDN link would fail in the browser test. */
#define PAGE_CSP "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"

static void close_file(void *ctx)
{
    close((int)(intptr_t)ctx);
}

static void not_found(pg_http_req *req, const char *why)
{
    pg_apierr e;
    pg_apierr_set(&e, PG_AE_UNKNOWN_OPERATION, "%s", why);
    pg_http_respond_error(req, &e);
}

/* The file rel under root, opened, when it resolves inside root and is a regular file; -1 else. */
static int open_inside(const char *root, const char *rel, off_t *size)
{
    char path[PATH_MAX], real_root[PATH_MAX], real[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", root, rel);
    if (n < 0 || (size_t)n >= sizeof path || realpath(root, real_root) == NULL || realpath(path, real) == NULL)
        return -1;
    size_t rl = strlen(real_root);
    if (strncmp(real, real_root, rl) != 0 || real[rl] != '/')
        return -1; /* a link out of the root */
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > UI_FILE_MAX)) {
        close(fd);
        return -1;
    }
    if (fd >= 0)
        *size = st.st_size;
    return fd;
}

void gw_ui(pg_gateway *gw, pg_http_req *req, pg_slice path)
{
    const char *root = gw->d.cfg->ui_root;
    if (root[0] == '\0') {
        not_found(req, "profgate's page is off: set ui.root to the directory of its files (docs/UI.md)");
        return;
    }
    char rel[PG_STATIC_PATH_MAX + 1];
    const char *ctype;
    switch (pg_static_path(path.p, path.len, "/ui/", rel, &ctype)) {
    case PG_SP_REDIRECT: {
        const pg_http_out_header h[] = {{"Location", "/ui/"}};
        pg_http_respond(req, 301, h, 1, NULL, 0);
        return;
    }
    case PG_SP_NOT_FOUND: not_found(req, "No such file on profgate's page"); return;
    case PG_SP_FILE: break;
    }
    off_t size = 0;
    int fd = open_inside(root, rel, &size);
    if (fd < 0) {
        if (errno != ENOENT)
            pg_log(PG_LOG_DEBUG, "rid=%s ui file %s refused: %s", pg_http_req_id(req), rel, strerror(errno));
        not_found(req, "No such file on profgate's page");
        return;
    }
    pg_http_out_header h[4] = {
        {"Content-Type", ctype}, {"Cache-Control", "no-cache"}, {"X-Content-Type-Options", "nosniff"}};
    size_t nh = 3;
    if (strcmp(rel, "index.html") == 0)
        h[nh++] = (pg_http_out_header){"Content-Security-Policy", PAGE_CSP};
    pg_http_respond_fd(req, 200, h, nh, fd, (size_t)size, close_file, (void *)(intptr_t)fd);
}
