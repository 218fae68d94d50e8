/*
 * secretfile.h: files that hold secrets (the tenants file, the Redis password file), checked on
 * the file as opened (fstat), so the file checked is the file read: a regular file, owned by root
 * or by the user profgate runs as, and neither readable nor writable by others (the group may
 * read: Kubernetes mounts Secrets group-readable for the pod's fsGroup). Also the one-line files
 * credentials come from (web identity and container tokens), which others own and may read.
 */
#ifndef PG_SECRETFILE_H
#define PG_SECRETFILE_H

#include "profgate/common.h"

/** Checks an opened secret file; PG_EINVAL with a reason naming path. */
int pg_secret_fd_check(int fd, const char *path, char *err, size_t errlen);

/**
 * Reads a one-line secret (a password) from a file that passes pg_secret_fd_check: at most
 * cap - 1 bytes once trailing whitespace is dropped, no NUL or line break inside. PG_OK, or
 * PG_EINVAL with a reason (never the secret); out is wiped on failure.
 */
int pg_secret_file_read(const char *path, char *out, size_t cap, char *err, size_t errlen);

/** The same one-line read without the owner and mode check: for tokens that the platform mounts
 *  (Kubernetes projected tokens, the container credentials token), owned by others. */
int pg_line_file_read(const char *path, char *out, size_t cap, char *err, size_t errlen);

#endif
