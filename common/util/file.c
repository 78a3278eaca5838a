#include "util/file.h"

#include "util/errmsg.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- reading ------------------------------------------------------------------ */

static int file_too_large(const char *path, size_t max_len, const char *what, char *err, size_t errlen) {
    errmsg_set(err, errlen, "%s: larger than %zu bytes, not a %s", path, max_len, what);
    return -1;
}

/* Reads until end of file or one byte past max_len; a file that is not
 * regular (a pipe given as the config) has no size to check beforehand. */
static int file_read_fd(int fd, const char *path, size_t max_len, const char *what, buf_t *out, char *err,
                        size_t errlen) {
    size_t start = out->len;
    for (;;) {
        buf_reserve(out, 4096);
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            errmsg_set(err, errlen, "cannot read %s: %s", path, strerror(errno));
            return -1;
        }
        if (n == 0)
            return 1;
        out->len += (size_t)n;
        if (out->len - start > max_len)
            return file_too_large(path, max_len, what, err, errlen);
    }
}

int file_read_all(const char *path, size_t max_len, const char *what, buf_t *out, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0) {
        errmsg_set(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    int rc;
    if (fstat(fd, &st) != 0) {
        errmsg_set(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        rc = -1;
    } else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_len)
        rc = file_too_large(path, max_len, what, err, errlen); /* refused before reading it */
    else
        rc = file_read_fd(fd, path, max_len, what, out, err, errlen);
    close(fd);
    return rc;
}

/* --- atomic replacement --------------------------------------------------------- */

static int file_write_fd(int fd, const uint8_t *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes and fsyncs tmp; O_TRUNC so that a .tmp left by a crash is simply
 * overwritten. */
static int file_write_tmp(const char *tmp, const void *data, size_t len, char *err, size_t errlen) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        errmsg_set(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    const char *what = NULL;
    if (file_write_fd(fd, data, len) != 0)
        what = "write";
    else if (fsync(fd) != 0)
        what = "fsync";
    int saved = errno;
    if (close(fd) != 0 && !what) {
        what = "close";
        saved = errno;
    }
    if (what) {
        errmsg_set(err, errlen, "%s: %s failed: %s", tmp, what, strerror(saved));
        return -1;
    }
    return 0;
}

/* The rename is only durable once the directory entry is on disk, which
 * takes an fsync of the directory itself. Filesystems that cannot fsync a
 * directory say EINVAL; there is nothing more to do on those. */
static int file_fsync_parent_dir(const char *path, char *err, size_t errlen) {
    const char *slash = strrchr(path, '/');
    char *dir = !slash ? mem_strdup(".") : mem_strndup(path, slash == path ? 1 : (size_t)(slash - path));
    int rc = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        errmsg_set(err, errlen, "%s: cannot open directory: %s", dir, strerror(errno));
        rc = -1;
    } else {
        if (fsync(fd) != 0 && errno != EINVAL) {
            errmsg_set(err, errlen, "%s: directory fsync failed: %s", dir, strerror(errno));
            rc = -1;
        }
        close(fd);
    }
    free(dir);
    return rc;
}

int file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen) {
    size_t plen = strlen(path);
    char *tmp = mem_alloc(plen + sizeof ".tmp");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", sizeof ".tmp");

    int rc = file_write_tmp(tmp, data, len, err, errlen);
    if (rc == 0 && rename(tmp, path) != 0) {
        errmsg_set(err, errlen, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(tmp);
    else
        rc = file_fsync_parent_dir(path, err, errlen);
    free(tmp);
    return rc;
}
