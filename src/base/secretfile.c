/*
 * secretfile.c: opening, checking and reading files that hold secrets (see secretfile.h).
 */
#include "profgate/secretfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pg_secret_fd_check(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return PG_EINVAL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        return PG_EINVAL;
    }
    /* Owned by root or by the user profgate runs as: anyone else could have written it. */
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s holds secrets but is owned by uid %u (neither root nor profgate's uid %u)", path,
                 (unsigned)st.st_uid, (unsigned)geteuid());
        return PG_EINVAL;
    }
    if ((st.st_mode & 0027) != 0) {
        snprintf(err, errlen, "%s holds secrets but others may read or write it (mode %03o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        return PG_EINVAL;
    }
    return PG_OK;
}

/* The one line an opened file holds, read whole (one byte past cap - 1 is probed, so a longer file
 * is refused, never cut); closes fd. */
static int read_line(int fd, const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    PG_ASSERT(cap >= 2);
    size_t n = 0;
    int rc = PG_OK;
    while (n < cap) { /* cap bytes: the line, and one to tell a longer file */
        ssize_t r = read(fd, out + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            rc = PG_EINVAL;
        }
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    char more;
    bool longer = rc == PG_OK && n == cap && read(fd, &more, 1) == 1;
    close(fd);
    while (rc == PG_OK && n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    if (rc == PG_OK && (longer || n == 0 || n >= cap || memchr(out, '\0', n) != NULL ||
                        memchr(out, '\n', n) != NULL || memchr(out, '\r', n) != NULL)) {
        snprintf(err, errlen, "%s must hold one line of at most %zu bytes", path, cap - 1);
        rc = PG_EINVAL;
    }
    if (rc != PG_OK) {
        explicit_bzero(out, cap); /* the compiler may not drop it */
        return rc;
    }
    out[n] = '\0';
    return PG_OK;
}

static int open_line_file(const char *path, bool secret, char *out, size_t cap, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return PG_EINVAL;
    }
    int rc = secret ? pg_secret_fd_check(fd, path, err, errlen) : PG_OK;
    if (rc != PG_OK) {
        close(fd);
        return rc;
    }
    return read_line(fd, path, out, cap, err, errlen);
}

int pg_secret_file_read(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    return open_line_file(path, true, out, cap, err, errlen);
}

int pg_line_file_read(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    return open_line_file(path, false, out, cap, err, errlen);
}
