#include "log/checkpoint.h"

#include "proto/topic_name.h"

#include "util/errmsg.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longest excerpt of a bad line quoted in a message. */
#define CHECKPOINT_QUOTE_MAX 64

/* --- writing ---------------------------------------------------------------- */

void checkpoint_format_header(buf_t *out, int version, size_t count) {
    buf_appendf(out, "%d\n%zu\n", version, count);
}

int checkpoint_write(const char *path, int version, size_t count, const char *body,
                     size_t body_len, char *err, size_t errlen) {
    buf_t b = BUF_INIT;
    checkpoint_format_header(&b, version, count);
    buf_append(&b, body, body_len);
    int rc = file_write_atomic(path, b.data, b.len, err, errlen);
    buf_free(&b);
    return rc;
}

/* --- many files at once ------------------------------------------------------ */

static char *staged_name(const char *path) {
    size_t n = strlen(path);
    char *tmp = mem_alloc(n + sizeof CHECKPOINT_STAGED_SUFFIX);
    memcpy(tmp, path, n);
    memcpy(tmp + n, CHECKPOINT_STAGED_SUFFIX, sizeof CHECKPOINT_STAGED_SUFFIX);
    return tmp;
}

int checkpoint_stage(const char *path, const void *text, size_t len, bool sync, char *err, size_t errlen) {
    char *tmp = staged_name(path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const char *failed = fd < 0 ? "create" : NULL;
    for (const uint8_t *p = text; !failed && len > 0;) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno != EINTR)
            failed = "write";
        else if (n > 0)
            p += n, len -= (size_t)n;
    }
    if (!failed && sync && fsync(fd) != 0)
        failed = "fsync";
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && !failed)
        failed = "close", saved = errno;
    if (failed) {
        errmsg_set(err, errlen, "%s: %s failed: %s", tmp, failed, strerror(saved));
        if (fd >= 0)
            unlink(tmp);
    }
    free(tmp);
    return failed ? -1 : 0;
}

int checkpoint_install(const char *path, char *err, size_t errlen) {
    char *tmp = staged_name(path);
    int rc = rename(tmp, path);
    if (rc != 0)
        errmsg_set(err, errlen, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
    free(tmp);
    return rc;
}

void checkpoint_discard(const char *path) {
    char *tmp = staged_name(path);
    unlink(tmp); /* gone already when its folder was deleted */
    free(tmp);
}

/* Filesystems that cannot fsync a directory say EINVAL: nothing more to do
 * there. */
int checkpoint_sync_parent_dir(const char *path, char *err, size_t errlen) {
    const char *slash = strrchr(path, '/');
    char *dir = !slash ? mem_strdup(".") : mem_strndup(path, slash == path ? 1 : (size_t)(slash - path));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && (fsync(fd) == 0 || errno == EINVAL) ? 0 : -1;
    if (rc != 0)
        errmsg_set(err, errlen, "%s: directory fsync failed: %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

/* --- reading ----------------------------------------------------------------- */

/* Cuts the text into lines as Java's BufferedReader.readLine does: ended by
 * "\n", "\r\n" or "\r", the last one possibly unterminated. */
typedef struct line_iter {
    const char *p;
    size_t len;
    size_t pos;
    int lineno;
} line_iter_t;

static int next_line(line_iter_t *it, const char **line, size_t *line_len) {
    if (it->pos >= it->len)
        return 0;
    const char *start = it->p + it->pos;
    size_t n = 0;
    while (it->pos + n < it->len && start[n] != '\n' && start[n] != '\r')
        n++;
    size_t next = it->pos + n;
    if (next < it->len)
        next += (start[n] == '\r' && next + 1 < it->len && start[n + 1] == '\n') ? 2 : 1;
    it->pos = next;
    it->lineno++;
    *line = start;
    *line_len = n;
    return 1;
}

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* A printable excerpt of a line for messages. */
static void quote_line(const char *line, size_t len, char *out, size_t outlen) {
    size_t n = len < outlen - 4 ? len : outlen - 4;
    for (size_t i = 0; i < n; i++)
        out[i] = (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?';
    strcpy(out + n, len > n ? "..." : "");
}

/* Splits line (modified in place) on runs of whitespace like Java's
 * split("\\s+"): trailing whitespace is ignored, but leading whitespace
 * would make an empty first field, so it is an error here too. */
static int split_fields(char *line, size_t nfields, char **fields, char *err, size_t errlen) {
    if (line[0] == '\0') {
        errmsg_set(err, errlen, "empty line");
        return -1;
    }
    if (is_ws(line[0])) {
        errmsg_set(err, errlen, "leading whitespace");
        return -1;
    }
    size_t n = 0;
    char *p = line;
    while (*p) {
        if (n == nfields) {
            errmsg_set(err, errlen, "more than %zu fields", nfields);
            return -1;
        }
        fields[n++] = p;
        while (*p && !is_ws(*p))
            p++;
        while (*p && is_ws(*p))
            *p++ = '\0';
    }
    if (n != nfields) {
        errmsg_set(err, errlen, "expected %zu fields, found %zu", nfields, n);
        return -1;
    }
    return 0;
}

int checkpoint_parse_number(const char *field, int64_t max, const char *what, int64_t *out,
                            char *err, size_t errlen) {
    if (field[0] == '\0') {
        errmsg_set(err, errlen, "%s is empty", what);
        return -1;
    }
    if (field[0] == '-' && field[1] >= '0' && field[1] <= '9') {
        errmsg_set(err, errlen, "%s is negative", what);
        return -1;
    }
    int64_t v = 0;
    for (const char *p = field; *p; p++) {
        if (*p < '0' || *p > '9') {
            errmsg_set(err, errlen, "%s is not a number", what);
            return -1;
        }
        int d = *p - '0';
        if (v > (max - d) / 10) {
            errmsg_set(err, errlen, "%s is out of range (max %" PRId64 ")", what, max);
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* The version and count lines: the whole line is one number. */
static int parse_header_line(const char *path, int lineno, const char *line, size_t len,
                             const char *what, int64_t *out, char *err, size_t errlen) {
    char text[32], reason[128], q[CHECKPOINT_QUOTE_MAX];
    if (len < sizeof text && memchr(line, '\0', len) == NULL) {
        memcpy(text, line, len);
        text[len] = '\0';
        if (checkpoint_parse_number(text, INT32_MAX, what, out, reason, sizeof reason) == 0)
            return 0;
    } else {
        snprintf(reason, sizeof reason, "%s is not a number", what);
    }
    quote_line(line, len, q, sizeof q);
    errmsg_set(err, errlen, "%s:%d: malformed line '%s': %s", path, lineno, q, reason);
    return -1;
}

/* One entry line: copied into scratch (NUL-terminated, fields split in
 * place) and handed to fn. */
static int read_entry(const char *path, int lineno, const char *line, size_t len,
                      size_t nfields, checkpoint_entry_fn fn, void *ctx, buf_t *scratch,
                      char *err, size_t errlen) {
    char reason[256], q[CHECKPOINT_QUOTE_MAX];
    char *fields[CHECKPOINT_MAX_FIELDS];
    reason[0] = '\0';
    buf_reset(scratch);
    buf_append(scratch, line, len);
    buf_append(scratch, "", 1);
    int rc = -1;
    if (memchr(line, '\0', len) != NULL)
        snprintf(reason, sizeof reason, "NUL byte in line");
    else if (split_fields((char *)scratch->data, nfields, fields, reason, sizeof reason) == 0)
        rc = fn(ctx, fields, reason, sizeof reason);
    if (rc == 0)
        return 0;
    quote_line(line, len, q, sizeof q);
    errmsg_set(err, errlen, "%s:%d: malformed entry '%s': %s", path, lineno, q,
             reason[0] ? reason : "rejected");
    return -1;
}

/* Walks the lines of a checkpoint already in memory. Kafka returns no
 * entries when the version or the count line is missing, checks the count
 * only after reading every entry line, and lets a malformed line fail the
 * whole read. */
static int parse_checkpoint(const char *path, const buf_t *text, int version, size_t nfields,
                            checkpoint_entry_fn fn, void *ctx, char *err, size_t errlen) {
    line_iter_t it = {(const char *)text->data, text->len, 0, 0};
    const char *line;
    size_t len;
    int64_t v, count;
    if (!next_line(&it, &line, &len))
        return 0;
    if (parse_header_line(path, it.lineno, line, len, "version", &v, err, errlen) != 0)
        return -1;
    if (v != version) {
        errmsg_set(err, errlen, "%s:%d: unrecognized checkpoint version %" PRId64 " (expected %d)",
                 path, it.lineno, v, version);
        return -1;
    }
    if (!next_line(&it, &line, &len))
        return 0;
    if (parse_header_line(path, it.lineno, line, len, "entry count", &count, err, errlen) != 0)
        return -1;
    int count_line = it.lineno;
    int64_t found = 0;
    buf_t scratch = BUF_INIT;
    int rc = 0;
    while (rc == 0 && next_line(&it, &line, &len)) {
        rc = read_entry(path, it.lineno, line, len, nfields, fn, ctx, &scratch, err, errlen);
        found++;
    }
    buf_free(&scratch);
    if (rc == 0 && found != count) {
        errmsg_set(err, errlen, "%s:%d: expected %" PRId64 " entries, found %" PRId64, path,
                 count_line, count, found);
        rc = -1;
    }
    return rc;
}

int checkpoint_read(const char *path, int version, size_t nfields, checkpoint_entry_fn fn,
                    void *ctx, char *err, size_t errlen) {
    if (nfields == 0 || nfields > CHECKPOINT_MAX_FIELDS) {
        errmsg_set(err, errlen, "%s: cannot read entries of %zu fields", path, nfields);
        return -1;
    }
    buf_t text = BUF_INIT;
    int rc = file_read_all(path, CHECKPOINT_MAX_FILE_SIZE, "checkpoint file", &text, err, errlen);
    if (rc == 1)
        rc = parse_checkpoint(path, &text, version, nfields, fn, ctx, err, errlen);
    buf_free(&text);
    return rc;
}

/* --- offset checkpoints -------------------------------------------------------- */

void checkpoint_offsets_init(checkpoint_offsets_t *co) {
    co->entries = NULL;
    co->count = 0;
    co->cap = 0;
}

void checkpoint_offsets_free(checkpoint_offsets_t *co) {
    for (size_t i = 0; i < co->count; i++)
        free(co->entries[i].topic);
    free(co->entries);
    checkpoint_offsets_init(co);
}

void checkpoint_offsets_add(checkpoint_offsets_t *co, const char *topic, int32_t partition,
                            int64_t offset) {
    if (co->count == co->cap) {
        co->cap = co->cap ? co->cap * 2 : 16;
        co->entries = mem_realloc(co->entries, co->cap * sizeof *co->entries);
    }
    checkpoint_offset_t *e = &co->entries[co->count++];
    e->topic = mem_strdup(topic);
    e->partition = partition;
    e->offset = offset;
}

const checkpoint_offset_t *checkpoint_offsets_find(const checkpoint_offsets_t *co,
                                                   const char *topic, int32_t partition) {
    for (size_t i = co->count; i-- > 0;) {
        const checkpoint_offset_t *e = &co->entries[i];
        if (e->partition == partition && strcmp(e->topic, topic) == 0)
            return e;
    }
    return NULL;
}

static int offsets_entry(void *ctx, char *const *fields, char *err, size_t errlen) {
    checkpoint_offsets_t *out = ctx;
    int64_t partition, offset;
    /* the name builds directory paths: a checkpoint must not smuggle in "/" or ".." */
    if (!topic_name_valid(fields[0], strlen(fields[0]))) {
        errmsg_set(err, errlen, "invalid topic name");
        return -1;
    }
    if (checkpoint_parse_number(fields[1], INT32_MAX, "partition", &partition, err, errlen) != 0 ||
        checkpoint_parse_number(fields[2], INT64_MAX, "offset", &offset, err, errlen) != 0)
        return -1;
    checkpoint_offsets_add(out, fields[0], (int32_t)partition, offset);
    return 0;
}

/* On error the entries added so far are dropped again, so a caller never
 * sees part of a damaged file. */
int checkpoint_offsets_read(const char *path, checkpoint_offsets_t *out, char *err, size_t errlen) {
    size_t before = out->count;
    if (checkpoint_read(path, CHECKPOINT_VERSION, 3, offsets_entry, out, err, errlen) == 0)
        return 0;
    while (out->count > before)
        free(out->entries[--out->count].topic);
    return -1;
}

int checkpoint_offsets_write(const char *path, const checkpoint_offsets_t *co, char *err,
                             size_t errlen) {
    buf_t body = BUF_INIT;
    for (size_t i = 0; i < co->count; i++) {
        const checkpoint_offset_t *e = &co->entries[i];
        if (!topic_name_valid(e->topic, strlen(e->topic)) || e->partition < 0 || e->offset < 0) {
            errmsg_set(err, errlen, "%s: refusing to write entry %zu (topic '%.*s', partition %" PRId32
                     ", offset %" PRId64 "): invalid topic name or negative number",
                     path, i, CHECKPOINT_QUOTE_MAX, e->topic, e->partition, e->offset);
            buf_free(&body);
            return -1;
        }
        buf_appendf(&body, "%s %" PRId32 " %" PRId64 "\n", e->topic, e->partition, e->offset);
    }
    int rc = checkpoint_write(path, CHECKPOINT_VERSION, co->count, (const char *)body.data,
                              body.len, err, errlen);
    buf_free(&body);
    return rc;
}
