#include "log/log_manager.h"

#include "util/errmsg.h"
#include "log/checkpoint.h"
#include "log/cleaner.h"
#include "proto/topic_name.h"
#include "util/clock.h"
#include "util/file.h"
#include "util/logger.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define LM_COMPONENT "log-manager"

/* Longest file name most filesystems take; Kafka caps "-delete" names to it. */
#define LM_NAME_MAX 255
/* The random part of a "-delete" dir name: a UUID's 32 hex digits. */
#define LM_UUID_HEX 32
/* Topic names are at most 249 bytes (topic_name_valid). */
#define LM_TOPIC_CAP 256

/* --- state ------------------------------------------------------------------ */

typedef struct lm_dir {
    char *path;
    int lock_fd;            /* -1 once released */
    bool had_clean_shutdown;
    size_t log_count;
} lm_dir_t;

/* One hosted log, both in the hash table (by topic-partition) and in the
 * logs array (for iteration; pos is its index there). */
typedef struct lm_log {
    char *topic;
    int32_t partition;
    size_t dir;
    log_t *log;
    size_t pos;
    struct lm_log *next;    /* hash chain */
} lm_log_t;

typedef enum lm_task_id {
    LM_TASK_RETENTION = 0,
    LM_TASK_FLUSH,
    LM_TASK_RECOVERY_CKPT,
    LM_TASK_LOG_START_CKPT,
    LM_TASK_HW_CKPT,
    LM_TASK_REMOVE_DELETED,
    LM_TASK_COUNT
} lm_task_id_t;

typedef struct lm_task {
    int64_t period_ms;      /* <= 0: every tick */
    int64_t next_ms;
} lm_task_t;

struct log_manager {
    const config_t *cfg;
    int32_t broker_id;
    log_manager_topic_config_fn topic_config;
    void *topic_config_ctx;
    log_manager_lock_fn log_lock;
    void *log_lock_ctx;

    lm_dir_t *dirs;
    const char **dir_paths; /* dirs[i].path, for log_manager_dirs() */
    size_t ndirs;

    lm_log_t **logs;
    size_t nlogs;
    size_t logs_cap;
    lm_log_t **buckets;     /* power-of-two count */
    size_t nbuckets;

    lm_task_t tasks[LM_TASK_COUNT];

    cleaner_t *cleaner;         /* NULL: log.cleaner.enable=false */
    int64_t next_clean_ms;      /* when to look for a dirty log again */
};

static char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = mem_alloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* a + b, saturating at INT64_MAX: periods default to "never" (INT64_MAX). */
static int64_t add_sat(int64_t a, int64_t b) {
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    return a + b;
}

/* --- the topic-partition table ---------------------------------------------- */

/* FNV-1a over the topic and the partition. */
static uint64_t tp_hash(const char *topic, int32_t partition) {
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)topic; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    uint32_t v = (uint32_t)partition;
    for (int i = 0; i < 4; i++, v >>= 8)
        h = (h ^ (v & 0xff)) * 1099511628211ULL;
    return h;
}

static lm_log_t *table_find(const log_manager_t *lm, const char *topic, int32_t partition) {
    if (lm->nbuckets == 0)
        return NULL;
    lm_log_t *e = lm->buckets[tp_hash(topic, partition) & (lm->nbuckets - 1)];
    for (; e; e = e->next)
        if (e->partition == partition && strcmp(e->topic, topic) == 0)
            return e;
    return NULL;
}

/* Keeps the load factor at most 1 so that lookups stay O(1) with 100k
 * partitions. */
static void table_grow(log_manager_t *lm) {
    size_t n = lm->nbuckets ? lm->nbuckets * 2 : 64;
    lm_log_t **b = mem_calloc(n, sizeof *b);
    for (size_t i = 0; i < lm->nlogs; i++) {
        lm_log_t *e = lm->logs[i];
        size_t slot = tp_hash(e->topic, e->partition) & (n - 1);
        e->next = b[slot];
        b[slot] = e;
    }
    free(lm->buckets);
    lm->buckets = b;
    lm->nbuckets = n;
}

/* Takes ownership of log. */
static lm_log_t *table_add(log_manager_t *lm, const char *topic, int32_t partition, size_t dir, log_t *log) {
    lm_log_t *e = mem_calloc(1, sizeof *e);
    e->topic = mem_strdup(topic);
    e->partition = partition;
    e->dir = dir;
    e->log = log;
    if (lm->nlogs == lm->logs_cap) {
        lm->logs_cap = lm->logs_cap ? lm->logs_cap * 2 : 64;
        lm->logs = mem_realloc(lm->logs, lm->logs_cap * sizeof *lm->logs);
    }
    e->pos = lm->nlogs;
    lm->logs[lm->nlogs++] = e;
    if (lm->nlogs > lm->nbuckets) {
        table_grow(lm); /* links e too */
    } else {
        size_t slot = tp_hash(topic, partition) & (lm->nbuckets - 1);
        e->next = lm->buckets[slot];
        lm->buckets[slot] = e;
    }
    lm->dirs[dir].log_count++;
    return e;
}

/* Unlinks e and frees it (not its log). */
static void table_remove(log_manager_t *lm, lm_log_t *e) {
    lm_log_t **pp = &lm->buckets[tp_hash(e->topic, e->partition) & (lm->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    lm_log_t *last = lm->logs[--lm->nlogs];
    lm->logs[e->pos] = last;
    last->pos = e->pos;
    lm->dirs[e->dir].log_count--;
    free(e->topic);
    free(e);
}

/* --- removing directory trees -------------------------------------------------- */

/* Removes name (relative to parent_fd) and, if it is a directory,
 * everything under it, without following symlinks. Returns 0 or -1 with
 * errno set. */
static int rmtree_at(int parent_fd, const char *name) {
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOTDIR || errno == ELOOP)
            return unlinkat(parent_fd, name, 0);
        return errno == ENOENT ? 0 : -1;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)
            rc = rmtree_at(dirfd(d), de->d_name);
        else if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT)
            rc = -1;
    }
    int saved = errno;
    closedir(d);
    if (rc != 0) {
        errno = saved;
        return -1;
    }
    return unlinkat(parent_fd, name, AT_REMOVEDIR);
}

/* A rename or unlink only survives a crash once the directory holding the
 * entry is fsynced. Filesystems that cannot fsync a directory say EINVAL. */
static int fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : -1;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* --- directory names --------------------------------------------------------- */

static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* Kafka's "-delete" dirs: "<topic>-<partition>.<32 hex>-delete", the topic
 * possibly cut short to keep the name within 255 bytes, so only the suffix
 * is checked. */
static bool is_delete_dir_name(const char *name) {
    size_t len = strlen(name), slen = strlen(LOG_MANAGER_DELETE_DIR_SUFFIX);
    size_t tail = 1 + LM_UUID_HEX + slen;
    if (len <= tail || strcmp(name + len - slen, LOG_MANAGER_DELETE_DIR_SUFFIX) != 0)
        return false;
    const char *dot = name + len - tail;
    if (*dot != '.')
        return false;
    for (size_t i = 1; i <= LM_UUID_HEX; i++)
        if (!is_hex(dot[i]))
            return false;
    return true;
}

/* A random (version 4) UUID as 32 lowercase hex digits, as Kafka's
 * UUID.randomUUID with the dashes removed. */
static int random_uuid_hex(char out[LM_UUID_HEX + 1]) {
    uint8_t b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

/* "<topic>-<partition>.<uuid>-delete", the topic cut so that the name fits
 * in LM_NAME_MAX bytes (Kafka's logDeleteDirName). */
static int delete_dir_name(const char *topic, int32_t partition, char *out, size_t cap) {
    char uuid[LM_UUID_HEX + 1], suffix[64];
    if (random_uuid_hex(uuid) != 0)
        return -1;
    int slen = snprintf(suffix, sizeof suffix, "-%" PRId32 ".%s%s", partition, uuid, LOG_MANAGER_DELETE_DIR_SUFFIX);
    size_t tlen = strlen(topic);
    if (tlen > LM_NAME_MAX - (size_t)slen)
        tlen = LM_NAME_MAX - (size_t)slen;
    snprintf(out, cap, "%.*s%s", (int)tlen, topic, suffix);
    return 0;
}

/* --- checkpoints at start-up ---------------------------------------------------- */

/* A checkpoint's entries sorted by topic-partition for binary search: a
 * linear checkpoint_offsets_find per log would make start-up quadratic in
 * the number of partitions. */
typedef struct ckpt_index {
    checkpoint_offsets_t co;
    const checkpoint_offset_t **sorted;
} ckpt_index_t;

static int tp_cmp(const char *ta, int32_t pa, const char *tb, int32_t pb) {
    int c = strcmp(ta, tb);
    if (c != 0)
        return c;
    return pa < pb ? -1 : pa > pb;
}

/* Ties (a partition listed twice) keep file order, so that the last one
 * can win as in Kafka's read-into-a-map. */
static int ckpt_entry_cmp(const void *a, const void *b) {
    const checkpoint_offset_t *x = *(const checkpoint_offset_t *const *)a;
    const checkpoint_offset_t *y = *(const checkpoint_offset_t *const *)b;
    int c = tp_cmp(x->topic, x->partition, y->topic, y->partition);
    if (c != 0)
        return c;
    return x < y ? -1 : x > y;
}

static int ckpt_index_read(ckpt_index_t *ix, const char *dir, const char *file, char *err, size_t errlen) {
    checkpoint_offsets_init(&ix->co);
    ix->sorted = NULL;
    char *path = path_join(dir, file);
    int rc = checkpoint_offsets_read(path, &ix->co, err, errlen);
    free(path);
    if (rc != 0)
        return -1;
    ix->sorted = mem_alloc((ix->co.count ? ix->co.count : 1) * sizeof *ix->sorted);
    for (size_t i = 0; i < ix->co.count; i++)
        ix->sorted[i] = &ix->co.entries[i];
    qsort(ix->sorted, ix->co.count, sizeof *ix->sorted, ckpt_entry_cmp);
    return 0;
}

static void ckpt_index_free(ckpt_index_t *ix) {
    checkpoint_offsets_free(&ix->co);
    free(ix->sorted);
    ix->sorted = NULL;
}

/* The offset recorded for topic-partition (the last line for it), or dflt. */
static int64_t ckpt_index_get(const ckpt_index_t *ix, const char *topic, int32_t partition, int64_t dflt) {
    size_t lo = 0, hi = ix->co.count;
    while (lo < hi) { /* first entry > topic-partition */
        size_t mid = lo + (hi - lo) / 2;
        if (tp_cmp(ix->sorted[mid]->topic, ix->sorted[mid]->partition, topic, partition) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return dflt;
    const checkpoint_offset_t *e = ix->sorted[lo - 1];
    return tp_cmp(e->topic, e->partition, topic, partition) == 0 ? e->offset : dflt;
}

typedef struct dir_ckpts {
    ckpt_index_t recovery;
    ckpt_index_t log_start;
    ckpt_index_t hw;
    ckpt_index_t cleaner;
} dir_ckpts_t;

static void dir_ckpts_free(dir_ckpts_t *c) {
    ckpt_index_free(&c->recovery);
    ckpt_index_free(&c->log_start);
    ckpt_index_free(&c->hw);
    ckpt_index_free(&c->cleaner);
}

static int dir_ckpts_read(dir_ckpts_t *c, const char *dir, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    if (ckpt_index_read(&c->recovery, dir, CHECKPOINT_RECOVERY_POINT_FILE, err, errlen) != 0 ||
        ckpt_index_read(&c->log_start, dir, CHECKPOINT_LOG_START_FILE, err, errlen) != 0 ||
        ckpt_index_read(&c->hw, dir, CHECKPOINT_REPLICATION_FILE, err, errlen) != 0 ||
        ckpt_index_read(&c->cleaner, dir, CHECKPOINT_CLEANER_FILE, err, errlen) != 0) {
        dir_ckpts_free(c);
        return -1;
    }
    return 0;
}

/* --- preparing a log dir ------------------------------------------------------- */

/* mkdir -p path. */
static int mkdirs(const char *path) {
    char *p = mem_strdup(path);
    int rc = 0;
    for (char *s = p + 1; rc == 0 && *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    if (rc == 0 && mkdir(p, 0755) != 0 && errno != EEXIST)
        rc = -1;
    free(p);
    return rc;
}

/* Kafka's createAndValidateLogDirs, plus a write check: a dir the broker
 * cannot write fails at the first append otherwise, far from the cause. */
static int dir_prepare(const char *path, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT) {
            errmsg_set(err, errlen, "%s: cannot use log directory: %s", path, strerror(errno));
            return -1;
        }
        log_info(LM_COMPONENT, "Log directory %s not found, creating it", path);
        if (mkdirs(path) != 0 || stat(path, &st) != 0) {
            errmsg_set(err, errlen, "%s: failed to create log directory: %s", path, strerror(errno));
            return -1;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        errmsg_set(err, errlen, "%s is not a directory, so it cannot be a log directory", path);
        return -1;
    }
    if (access(path, R_OK | W_OK | X_OK) != 0) {
        errmsg_set(err, errlen, "%s is not a readable and writable log directory: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Locks <dir>/.lock like Kafka's FileLock. flock() makes a second manager
 * in this process or another samsa fail; an OFD lock on top also conflicts
 * with the POSIX (fcntl) lock a Kafka JVM takes on the same file, so samsa
 * and Kafka cannot share a dir either. Returns the fd to keep open. */
static int dir_lock(const char *dir, char *err, size_t errlen) {
    char *path = path_join(dir, LOG_MANAGER_LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (fd < 0) {
        errmsg_set(err, errlen, "%s: cannot create %s: %s", dir, LOG_MANAGER_LOCK_FILE, strerror(errno));
        return -1;
    }
    int rc = flock(fd, LOCK_EX | LOCK_NB);
#ifdef F_OFD_SETLK
    if (rc == 0) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0};
        rc = fcntl(fd, F_OFD_SETLK, &fl);
        if (rc != 0 && errno == EINVAL) /* no OFD locks on this kernel or filesystem */
            rc = 0;
    }
#endif
    if (rc != 0) {
        int saved = errno;
        close(fd);
        if (saved == EWOULDBLOCK || saved == EAGAIN || saved == EACCES)
            errmsg_set(err, errlen, "Failed to acquire lock on file %s in %s. A Kafka instance in another process or "
                   "thread is using this directory.", LOG_MANAGER_LOCK_FILE, dir);
        else
            errmsg_set(err, errlen, "%s: cannot lock %s: %s", dir, LOG_MANAGER_LOCK_FILE, strerror(saved));
        return -1;
    }
    return fd;
}

/* Notes and deletes the marker. Kafka deletes it before loading
 * (KAFKA-10471) so that a crash while loading means recovery next time;
 * the directory fsync makes that deletion stick. */
static int dir_consume_marker(lm_dir_t *d, char *err, size_t errlen) {
    char *path = path_join(d->path, LOG_MANAGER_CLEAN_SHUTDOWN_FILE);
    int rc = 0;
    if (unlink(path) == 0) {
        d->had_clean_shutdown = true;
        if (fsync_dir(d->path) != 0) {
            errmsg_set(err, errlen, "%s: fsync after deleting %s failed: %s", d->path, LOG_MANAGER_CLEAN_SHUTDOWN_FILE,
                   strerror(errno));
            rc = -1;
        }
    } else if (errno != ENOENT) {
        errmsg_set(err, errlen, "%s: cannot delete: %s", path, strerror(errno));
        rc = -1;
    }
    free(path);
    return rc;
}

static int dir_write_marker(const lm_dir_t *d, char *err, size_t errlen) {
    char *path = path_join(d->path, LOG_MANAGER_CLEAN_SHUTDOWN_FILE);
    int rc = file_write_atomic(path, "", 0, err, errlen);
    free(path);
    return rc;
}

static void free_names(char **names) {
    for (char **p = names; p && *p; p++)
        free(*p);
    free(names);
}

/* The names of the subdirectories of path, NULL-terminated (caller frees
 * with free_names). */
static char **list_subdirs(const char *path, size_t *count, char *err, size_t errlen) {
    DIR *d = opendir(path);
    if (!d) {
        errmsg_set(err, errlen, "%s: cannot list log directory: %s", path, strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 16;
    char **names = mem_alloc(cap * sizeof *names);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
            continue;
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            is_dir = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        if (!is_dir)
            continue;
        if (n + 1 == cap) {
            cap *= 2;
            names = mem_realloc(names, cap * sizeof *names);
        }
        names[n++] = mem_strdup(de->d_name);
    }
    closedir(d);
    names[n] = NULL;
    *count = n;
    return names;
}

/* --- loading logs ------------------------------------------------------------ */

static void resolve_config(const log_manager_t *lm, const char *topic, log_config_t *out) {
    const config_topic_t *tc = lm->topic_config ? lm->topic_config(lm->topic_config_ctx, topic) : NULL;
    log_config_from_topic(lm->cfg, tc, out);
}

/* Opens <dir>/<name> as the log of the topic-partition it names, with the
 * offsets the dir's checkpoints hold for it. */
static kerr_t load_log(log_manager_t *lm, size_t di, const char *name, const dir_ckpts_t *ck, int64_t now_ms,
                       char *err, size_t errlen) {
    lm_dir_t *d = &lm->dirs[di];
    char topic[LM_TOPIC_CAP];
    int32_t partition;
    if (!log_parse_dir_name(name, topic, sizeof topic, &partition)) {
        log_warn(LM_COMPONENT, "Skipping %s/%s: not a <topic>-<partition> log directory", d->path, name);
        return KERR_NONE;
    }
    char *path = path_join(d->path, name);
    const lm_log_t *prev = table_find(lm, topic, partition);
    if (prev) {
        errmsg_set(err, errlen, "Duplicate log directories found: %s, %s/%s-%" PRId32 "!", path,
               lm->dirs[prev->dir].path, prev->topic, prev->partition);
        free(path);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log_config_t lc;
    resolve_config(lm, topic, &lc);
    log_open_opts_t oo = {
        .recovery_point = ckpt_index_get(&ck->recovery, topic, partition, 0),
        .log_start_offset = ckpt_index_get(&ck->log_start, topic, partition, -1),
        .high_watermark = ckpt_index_get(&ck->hw, topic, partition, -1),
        .clean_shutdown = d->had_clean_shutdown,
        .now_ms = now_ms,
        .cleaner_checkpoint = ckpt_index_get(&ck->cleaner, topic, partition, 0),
    };
    int64_t t0 = clock_mono_ms();
    if (!d->had_clean_shutdown)
        log_info(LM_COMPONENT, "Recovering log %s from recovery point %" PRId64, path, oo.recovery_point);
    log_t *log = NULL;
    kerr_t rc = log_open(path, &lc, &oo, &log, err, errlen);
    if (rc != KERR_NONE) {
        free(path);
        return rc;
    }
    if (!d->had_clean_shutdown)
        log_info(LM_COMPONENT, "Recovered log %s in %" PRId64 " ms: log start offset %" PRId64
                 ", log end offset %" PRId64 ", %zu segments", path, clock_mono_ms() - t0, log_start_offset(log),
                 log_end_offset(log), log_num_segments(log));
    table_add(lm, topic, partition, di, log);
    free(path);
    return KERR_NONE;
}

/* Kafka queues "-delete" dirs for deletion after file.delete.delay.ms; when
 * one survives a restart its topic is long gone, so it is removed now. */
static void remove_delete_dir(const lm_dir_t *d, const char *name) {
    char *path = path_join(d->path, name);
    if (rmtree_at(AT_FDCWD, path) == 0)
        log_info(LM_COMPONENT, "Removed %s, a deleted log whose removal had been interrupted", path);
    else
        log_warn(LM_COMPONENT, "Cannot remove deleted log %s: %s", path, strerror(errno));
    free(path);
}

static kerr_t load_dir(log_manager_t *lm, size_t di, int64_t now_ms, char *err, size_t errlen) {
    lm_dir_t *d = &lm->dirs[di];
    dir_ckpts_t ck;
    if (dir_ckpts_read(&ck, d->path, err, errlen) != 0)
        return KERR_KAFKA_STORAGE_ERROR;
    size_t n = 0;
    char **names = NULL;
    kerr_t rc = KERR_KAFKA_STORAGE_ERROR;
    if (dir_consume_marker(d, err, errlen) == 0)
        names = list_subdirs(d->path, &n, err, errlen);
    if (names) {
        int64_t t0 = clock_mono_ms();
        size_t before = lm->nlogs;
        log_info(LM_COMPONENT, "Loading logs from %s (%s shutdown)", d->path,
                 d->had_clean_shutdown ? "clean" : "unclean");
        rc = KERR_NONE;
        for (size_t i = 0; rc == KERR_NONE && i < n; i++) {
            if (is_delete_dir_name(names[i]))
                remove_delete_dir(d, names[i]);
            else
                rc = load_log(lm, di, names[i], &ck, now_ms, err, errlen);
        }
        if (rc == KERR_NONE)
            log_info(LM_COMPONENT, "Loaded %zu logs from %s in %" PRId64 " ms", lm->nlogs - before, d->path,
                     clock_mono_ms() - t0);
        free_names(names);
    }
    dir_ckpts_free(&ck);
    return rc;
}

/* --- open and close ------------------------------------------------------------ */

static void schedule_init(log_manager_t *lm, int64_t now_ms) {
    const config_t *c = lm->cfg;
    lm->tasks[LM_TASK_RETENTION].period_ms = config_get_long(c, "log.retention.check.interval.ms");
    lm->tasks[LM_TASK_FLUSH].period_ms = config_get_long(c, "log.flush.scheduler.interval.ms");
    lm->tasks[LM_TASK_RECOVERY_CKPT].period_ms = config_get_int(c, "log.flush.offset.checkpoint.interval.ms");
    lm->tasks[LM_TASK_LOG_START_CKPT].period_ms = config_get_int(c, "log.flush.start.offset.checkpoint.interval.ms");
    lm->tasks[LM_TASK_HW_CKPT].period_ms = config_get_long(c, "replica.high.watermark.checkpoint.interval.ms");
    lm->tasks[LM_TASK_REMOVE_DELETED].period_ms = LOG_MANAGER_REMOVE_DELETED_INTERVAL_MS;
    for (int t = 0; t < LM_TASK_COUNT; t++) {
        int64_t delay = LOG_MANAGER_INITIAL_TASK_DELAY_MS;
        if (t == LM_TASK_HW_CKPT || t == LM_TASK_REMOVE_DELETED)
            delay = lm->tasks[t].period_ms > 0 ? lm->tasks[t].period_ms : 0;
        lm->tasks[t].next_ms = add_sat(now_ms, delay);
    }
}

/* Closes every log without writing anything and frees lm. */
static void lm_free(log_manager_t *lm) {
    for (size_t i = 0; i < lm->nlogs; i++) {
        log_close(lm->logs[i]->log);
        free(lm->logs[i]->topic);
        free(lm->logs[i]);
    }
    for (size_t i = 0; i < lm->ndirs; i++) {
        if (lm->dirs[i].lock_fd >= 0)
            close(lm->dirs[i].lock_fd); /* releases the locks */
        free(lm->dirs[i].path);
    }
    free(lm->dirs);
    free(lm->dir_paths);
    free(lm->logs);
    free(lm->buckets);
    free(lm);
}

/* Two entries naming one directory would lock themselves out with a
 * confusing message; Kafka compares canonical paths first. */
static int check_distinct(const log_manager_t *lm, size_t upto, char *err, size_t errlen) {
    char *real = realpath(lm->dirs[upto].path, NULL);
    int rc = 0;
    for (size_t i = 0; real && rc == 0 && i < upto; i++) {
        char *other = realpath(lm->dirs[i].path, NULL);
        if (other && strcmp(real, other) == 0) {
            errmsg_set(err, errlen, "Duplicate log directory found: %s and %s are the same directory",
                   lm->dirs[i].path, lm->dirs[upto].path);
            rc = -1;
        }
        free(other);
    }
    free(real);
    return rc;
}

/* Fills lm->dirs from the list; trailing slashes are dropped so that the
 * paths built from them look as configured. */
static void set_dirs(log_manager_t *lm, char **items, size_t n) {
    lm->ndirs = n;
    lm->dirs = mem_calloc(n ? n : 1, sizeof *lm->dirs);
    lm->dir_paths = mem_calloc(n ? n : 1, sizeof *lm->dir_paths);
    for (size_t i = 0; i < n; i++) {
        char *p = mem_strdup(items[i]);
        size_t len = strlen(p);
        while (len > 1 && p[len - 1] == '/')
            p[--len] = '\0';
        lm->dirs[i].path = p;
        lm->dirs[i].lock_fd = -1;
        lm->dir_paths[i] = p;
    }
}

kerr_t log_manager_open(const config_t *broker_cfg, int32_t broker_id, const log_manager_opts_t *opts,
                        log_manager_t **out, char *err, size_t errlen) {
    *out = NULL;
    const char *list = config_log_dirs(broker_cfg);
    size_t n = 0;
    char **items = config_list_split(list ? list : "", &n);
    if (n == 0) {
        config_list_free(items);
        errmsg_set(err, errlen, "log.dirs (or log.dir) names no directory");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log_manager_t *lm = mem_calloc(1, sizeof *lm);
    lm->cfg = broker_cfg;
    lm->broker_id = broker_id;
    lm->topic_config = opts ? opts->topic_config : NULL;
    lm->topic_config_ctx = opts ? opts->topic_config_ctx : NULL;
    lm->log_lock = opts ? opts->log_lock : NULL;
    lm->log_lock_ctx = opts ? opts->log_lock_ctx : NULL;
    set_dirs(lm, items, n);
    config_list_free(items);
    int64_t now_ms = opts ? opts->now_ms : clock_wall_ms();

    log_info(LM_COMPONENT, "Broker %" PRId32 ": loading logs from %zu log dirs", broker_id, lm->ndirs);
    int64_t t0 = clock_mono_ms();
    kerr_t rc = KERR_NONE;
    for (size_t i = 0; rc == KERR_NONE && i < lm->ndirs; i++) {
        if (dir_prepare(lm->dirs[i].path, err, errlen) != 0 || check_distinct(lm, i, err, errlen) != 0 ||
            (lm->dirs[i].lock_fd = dir_lock(lm->dirs[i].path, err, errlen)) < 0)
            rc = KERR_KAFKA_STORAGE_ERROR;
    }
    for (size_t i = 0; rc == KERR_NONE && i < lm->ndirs; i++)
        rc = load_dir(lm, i, now_ms, err, errlen);
    if (rc != KERR_NONE) {
        lm_free(lm);
        return rc;
    }
    log_info(LM_COMPONENT, "Broker %" PRId32 ": %zu logs loaded in %" PRId64 " ms", broker_id, lm->nlogs,
             clock_mono_ms() - t0);
    schedule_init(lm, now_ms);
    if (config_get_bool(broker_cfg, "log.cleaner.enable")) {
        cleaner_config_t cc;
        cleaner_config_from(broker_cfg, &cc);
        if (config_get_int(broker_cfg, "log.cleaner.threads") > 1)
            log_info(LM_COMPONENT, "log.cleaner.threads=%" PRId32 ": one cleaner thread serves every log",
                     config_get_int(broker_cfg, "log.cleaner.threads"));
        lm->cleaner = cleaner_start(&cc, err, errlen);
        if (!lm->cleaner) {
            lm_free(lm);
            return KERR_KAFKA_STORAGE_ERROR;
        }
        lm->next_clean_ms = now_ms;
    }
    *out = lm;
    return KERR_NONE;
}

const char *const *log_manager_dirs(const log_manager_t *lm, size_t *count) {
    if (count)
        *count = lm->ndirs;
    return lm->dir_paths;
}

bool log_manager_dir_had_clean_shutdown(const log_manager_t *lm, size_t i) {
    return i < lm->ndirs && lm->dirs[i].had_clean_shutdown;
}

/* --- checkpoints ----------------------------------------------------------------- */

/* Background tasks touch logs that request threads append to: the owner's
 * lock (if any) is held around each log's part of a task. */
static void lm_lock(const log_manager_t *lm, const lm_log_t *e, bool lock) {
    if (lm->log_lock)
        lm->log_lock(lm->log_lock_ctx, e->topic, e->partition, lock);
}

typedef bool (*offset_fn)(log_t *log, int64_t *out);

/* A recovery point may only reach disk once the leader-epoch entries of
 * the batches below it did: recovery rebuilds entries only from the batches
 * above it. So a cache still dirty (a deferred entry:
 * leader_epoch_assign_deferred) is written here, under the same lock as the
 * read, so that no append can add one in between; a log whose entries
 * cannot be written gets no recovery point (recovered whole). This is the
 * one place that writes them before a recovery-point checkpoint. */
static bool recovery_point_of(log_t *log, int64_t *out) {
    if (log_flush_leader_epochs(log) != KERR_NONE)
        return false;
    *out = log_recovery_point(log);
    return true;
}

/* Kafka writes a log start offset only when the segments cannot tell it:
 * when it lies above the first segment's base offset. */
static bool log_start_of(log_t *log, int64_t *out) {
    log_segment_t *first = log_num_segments(log) > 0 ? log_nth_segment(log, 0) : NULL;
    *out = log_start_offset(log);
    return first && *out > log_segment_base_offset(first);
}

static bool high_watermark_of(log_t *log, int64_t *out) {
    *out = log_high_watermark(log);
    return true;
}

/* Kafka lists the compacted logs the cleaner has cleaned. */
static bool cleaner_point_of(log_t *log, int64_t *out) {
    *out = log_cleaner_checkpoint(log);
    return log_get_config(log)->compacted && *out > 0;
}

static int by_dir_tp(const void *a, const void *b) {
    const lm_log_t *x = *(const lm_log_t *const *)a, *y = *(const lm_log_t *const *)b;
    if (x->dir != y->dir)
        return x->dir < y->dir ? -1 : 1;
    return tp_cmp(x->topic, x->partition, y->topic, y->partition);
}

/* Writes file in dir only_dir (or in every dir when only_dir == SIZE_MAX)
 * from the logs of that dir, sorted, through fn. Every dir is attempted; the
 * first error is the one reported. */
static kerr_t write_checkpoints(log_manager_t *lm, const char *file, offset_fn fn, size_t only_dir, char *err,
                                size_t errlen) {
    lm_log_t **sorted = mem_alloc((lm->nlogs ? lm->nlogs : 1) * sizeof *sorted);
    if (lm->nlogs > 0) {
        memcpy(sorted, lm->logs, lm->nlogs * sizeof *sorted);
        qsort(sorted, lm->nlogs, sizeof *sorted, by_dir_tp);
    }
    kerr_t rc = KERR_NONE;
    size_t i = 0;
    for (size_t di = 0; di < lm->ndirs; di++) {
        checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
        for (; i < lm->nlogs && sorted[i]->dir == di; i++) {
            int64_t off;
            lm_lock(lm, sorted[i], true);
            bool has = fn(sorted[i]->log, &off);
            lm_lock(lm, sorted[i], false);
            if (has)
                checkpoint_offsets_add(&co, sorted[i]->topic, sorted[i]->partition, off < 0 ? 0 : off);
        }
        if (only_dir == SIZE_MAX || only_dir == di) {
            char *path = path_join(lm->dirs[di].path, file);
            char msg[512];
            if (checkpoint_offsets_write(path, &co, msg, sizeof msg) != 0) {
                log_error(LM_COMPONENT, "%s", msg);
                if (rc == KERR_NONE)
                    errmsg_set(err, errlen, "%s", msg);
                rc = KERR_KAFKA_STORAGE_ERROR;
            }
            free(path);
        }
        checkpoint_offsets_free(&co);
    }
    free(sorted);
    return rc;
}

/* ---- leader-epoch checkpoints written outside the caller's lock ----------
 * After an unclean restart every log's cache is dirty (load and recovery
 * defer their truncations), after a failover every cache it led over.
 * Written one by one under the caller's lock, two fsyncs each, 10,000 of
 * them held that lock for ~14 s, and LeaderAndIsr, which needs it to attach
 * a log to a partition, waited behind it (17 s until all led). So:
 *   1. locked: copy every dirty cache's file text and version (under the
 *      log's own lock);
 *   2. unlocked: stage the files (checkpoint_stage, each fsynced);
 *   3. locked: install (rename) each file whose log is still there and whose
 *      cache still has the copied version; discard the others;
 *   4. unlocked: make the renames durable (each folder fsynced);
 *   5. locked: mark clean the caches whose version is still the copied one.
 * The fsyncs are as many as before, only off the lock. One syncfs per log
 * dir would be fewer, but it would flush every partition's unflushed data
 * with them, at every tick that has a dirty cache.
 * The caches stay dirty until 5, so a recovery-point checkpoint written
 * meanwhile writes them itself first (recovery_point_of):
 * epochs still reach disk before a recovery point that skips the batches
 * they would be rebuilt from.
 * A call takes at most max_files caches (the rest wait for the next call)
 * and lets go of the lock every LM_EPOCH_INSTALL_RUN renames. Measured at
 * 10,000 after SIGKILL on the loaded VM, one batch of all took 38 s, 17 of
 * them renaming under the lock, and was thrown away: LeaderAndIsr changed
 * every cache (the new leader's epoch) while it was being written. */

/* Below this many files the write is not worth a log line. */
#define LM_EPOCH_LOG_MIN 100
/* Renames under one hold of the caller's lock. */
#define LM_EPOCH_INSTALL_RUN 64

typedef struct lm_epoch_file {
    char *topic;
    int32_t partition;
    char *path;
    buf_t text;       /* the whole file */
    uint64_t version; /* the cache's when copied */
    bool staged;
    bool installed;
} lm_epoch_file_t;

typedef struct lm_epoch_batch {
    lm_epoch_file_t *files;
    size_t n;
} lm_epoch_batch_t;

/* The cache of e if it is still the one copied into f. */
static leader_epoch_cache_t *epoch_cache_if_current(log_manager_t *lm, const lm_epoch_file_t *f) {
    lm_log_t *e = table_find(lm, f->topic, f->partition);
    leader_epoch_cache_t *c = e ? log_leader_epochs(e->log) : NULL;
    return c && leader_epoch_version(c) == f->version ? c : NULL;
}

static void epoch_batch_collect(log_manager_t *lm, lm_epoch_batch_t *b, size_t max_files) {
    for (size_t i = 0; i < lm->nlogs && b->n < max_files; i++) {
        lm_log_t *e = lm->logs[i];
        lm_lock(lm, e, true);
        leader_epoch_cache_t *c = log_leader_epochs(e->log);
        if (c && leader_epoch_dirty(c)) {
            if (b->n == 0)
                b->files = mem_calloc(lm->nlogs - i < max_files ? lm->nlogs - i : max_files, sizeof *b->files);
            lm_epoch_file_t *f = &b->files[b->n++];
            *f = (lm_epoch_file_t){.topic = mem_strdup(e->topic), .partition = e->partition,
                                   .path = mem_strdup(leader_epoch_path(c)), .version = leader_epoch_version(c)};
            buf_init(&f->text);
            leader_epoch_serialize(c, &f->text);
        }
        lm_lock(lm, e, false);
    }
}

/* A failure to stage a file whose log was deleted meanwhile is no error:
 * step 3 finds the log gone. So staging errors are only remembered here. */
static void epoch_batch_stage(lm_epoch_batch_t *b) {
    for (size_t i = 0; i < b->n; i++) {
        lm_epoch_file_t *f = &b->files[i];
        f->staged = checkpoint_stage(f->path, f->text.data, f->text.len, true, NULL, 0) == 0;
    }
}

/* Called with the caller's lock held; lets go of it between runs. */
static kerr_t epoch_batch_install(log_manager_t *lm, lm_epoch_batch_t *b, log_manager_caller_lock_fn lock,
                                  void *ctx) {
    kerr_t rc = KERR_NONE;
    for (size_t i = 0; i < b->n; i++) {
        lm_epoch_file_t *f = &b->files[i];
        if (i > 0 && i % LM_EPOCH_INSTALL_RUN == 0) {
            lock(ctx, false);
            lock(ctx, true);
        }
        lm_log_t *e = table_find(lm, f->topic, f->partition);
        if (!e) {
            checkpoint_discard(f->path);
            continue;
        }
        char msg[512] = "";
        lm_lock(lm, e, true);
        bool current = epoch_cache_if_current(lm, f) != NULL;
        if (current && f->staged)
            f->installed = checkpoint_install(f->path, msg, sizeof msg) == 0;
        else if (current)
            snprintf(msg, sizeof msg, "%s: cannot stage the new leader-epoch checkpoint", f->path);
        lm_lock(lm, e, false);
        if (!f->installed)
            checkpoint_discard(f->path);
        if (current && !f->installed) {
            log_error(LM_COMPONENT, "%s", msg);
            rc = KERR_KAFKA_STORAGE_ERROR;
        }
    }
    return rc;
}

static kerr_t epoch_batch_sync_dirs(lm_epoch_batch_t *b) {
    kerr_t rc = KERR_NONE;
    for (size_t i = 0; i < b->n; i++) {
        char msg[512];
        if (b->files[i].installed && checkpoint_sync_parent_dir(b->files[i].path, msg, sizeof msg) != 0) {
            log_error(LM_COMPONENT, "%s", msg);
            b->files[i].installed = false; /* not durable: the cache stays dirty */
            rc = KERR_KAFKA_STORAGE_ERROR;
        }
    }
    return rc;
}

static void epoch_batch_mark_written(log_manager_t *lm, const lm_epoch_batch_t *b) {
    for (size_t i = 0; i < b->n; i++) {
        const lm_epoch_file_t *f = &b->files[i];
        lm_log_t *e = f->installed ? table_find(lm, f->topic, f->partition) : NULL;
        if (!e)
            continue;
        lm_lock(lm, e, true);
        leader_epoch_cache_t *c = epoch_cache_if_current(lm, f);
        if (c)
            leader_epoch_mark_written(c, f->version);
        lm_lock(lm, e, false);
    }
}

static size_t epoch_batch_installed(const lm_epoch_batch_t *b) {
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += b->files[i].installed;
    return n;
}

static void epoch_batch_free(lm_epoch_batch_t *b) {
    for (size_t i = 0; i < b->n; i++) {
        free(b->files[i].topic);
        free(b->files[i].path);
        buf_free(&b->files[i].text);
    }
    free(b->files);
}

kerr_t log_manager_write_leader_epochs(log_manager_t *lm, size_t max_files, log_manager_caller_lock_fn lock,
                                       void *ctx) {
    lm_epoch_batch_t b = {0};
    lock(ctx, true);
    epoch_batch_collect(lm, &b, max_files);
    lock(ctx, false);
    kerr_t rc = KERR_NONE;
    if (b.n > 0) {
        int64_t t0 = clock_mono_ms();
        epoch_batch_stage(&b);
        int64_t t1 = clock_mono_ms();
        lock(ctx, true);
        rc = epoch_batch_install(lm, &b, lock, ctx);
        lock(ctx, false);
        int64_t t2 = clock_mono_ms();
        if (epoch_batch_sync_dirs(&b) != KERR_NONE)
            rc = KERR_KAFKA_STORAGE_ERROR;
        lock(ctx, true);
        epoch_batch_mark_written(lm, &b);
        lock(ctx, false);
        if (b.n >= LM_EPOCH_LOG_MIN)
            log_info(LM_COMPONENT,
                     "Wrote %zu leader-epoch checkpoints in %" PRId64 " ms (written and fsynced %" PRId64
                     " ms, renamed %" PRId64 " ms); %zu more changed meanwhile, left for the next tick",
                     epoch_batch_installed(&b), clock_mono_ms() - t0, t1 - t0, t2 - t1,
                     b.n - epoch_batch_installed(&b));
    }
    epoch_batch_free(&b);
    return rc;
}

kerr_t log_manager_checkpoint_recovery_points(log_manager_t *lm, char *err, size_t errlen) {
    return write_checkpoints(lm, CHECKPOINT_RECOVERY_POINT_FILE, recovery_point_of, SIZE_MAX, err, errlen);
}

kerr_t log_manager_checkpoint_log_start_offsets(log_manager_t *lm, char *err, size_t errlen) {
    return write_checkpoints(lm, CHECKPOINT_LOG_START_FILE, log_start_of, SIZE_MAX, err, errlen);
}

kerr_t log_manager_checkpoint_high_watermarks(log_manager_t *lm, char *err, size_t errlen) {
    return write_checkpoints(lm, CHECKPOINT_REPLICATION_FILE, high_watermark_of, SIZE_MAX, err, errlen);
}

/* After a log left dir di, so that a topic re-created later under the same
 * name does not inherit its offsets. */
static kerr_t checkpoint_dir(log_manager_t *lm, size_t di, char *err, size_t errlen) {
    kerr_t a = write_checkpoints(lm, CHECKPOINT_RECOVERY_POINT_FILE, recovery_point_of, di, err, errlen);
    kerr_t b = write_checkpoints(lm, CHECKPOINT_LOG_START_FILE, log_start_of, di, a ? NULL : err, errlen);
    kerr_t c = write_checkpoints(lm, CHECKPOINT_REPLICATION_FILE, high_watermark_of, di, a || b ? NULL : err,
                                 errlen);
    kerr_t d = write_checkpoints(lm, CHECKPOINT_CLEANER_FILE, cleaner_point_of, di, a || b || c ? NULL : err,
                                 errlen);
    return a ? a : b ? b : c ? c : d;
}

/* --- clean shutdown ------------------------------------------------------------ */

/* Kafka's shutdown order: flush every log (the recovery points reach the
 * LEO), write the checkpoints, and only then the marker, per dir, so that
 * the marker promises everything before it is on disk. */
static kerr_t close_cleanly(log_manager_t *lm) {
    bool *dir_ok = mem_alloc(lm->ndirs * sizeof *dir_ok);
    for (size_t i = 0; i < lm->ndirs; i++)
        dir_ok[i] = true;
    kerr_t rc = KERR_NONE;
    for (size_t i = 0; i < lm->nlogs; i++) {
        kerr_t f = log_flush(lm->logs[i]->log, -1);
        if (f != KERR_NONE) {
            log_error(LM_COMPONENT, "Flushing %s at shutdown failed: %s", log_dir(lm->logs[i]->log), kerr_name(f));
            dir_ok[lm->logs[i]->dir] = false;
            rc = KERR_KAFKA_STORAGE_ERROR;
        }
    }
    char msg[512];
    for (size_t di = 0; di < lm->ndirs; di++) {
        if (dir_ok[di] && checkpoint_dir(lm, di, msg, sizeof msg) != KERR_NONE)
            dir_ok[di] = false; /* logged by write_checkpoints */
        if (dir_ok[di] && dir_write_marker(&lm->dirs[di], msg, sizeof msg) != 0) {
            log_error(LM_COMPONENT, "%s", msg);
            dir_ok[di] = false;
        }
        if (!dir_ok[di])
            rc = KERR_KAFKA_STORAGE_ERROR;
    }
    free(dir_ok);
    return rc;
}

kerr_t log_manager_close(log_manager_t *lm, bool clean) {
    if (!lm)
        return KERR_NONE;
    log_info(LM_COMPONENT, "Broker %" PRId32 ": shutting down %zu logs (%s)", lm->broker_id, lm->nlogs,
             clean ? "clean" : "unclean");
    cleaner_stop(lm->cleaner); /* a job in flight is abandoned: its .cleaned files go */
    lm->cleaner = NULL;
    kerr_t rc = clean ? close_cleanly(lm) : KERR_NONE;
    lm_free(lm);
    return rc;
}

/* --- get, create, delete ----------------------------------------------------------- */

log_t *log_manager_get(const log_manager_t *lm, const char *topic, int32_t partition) {
    const lm_log_t *e = table_find(lm, topic, partition);
    return e ? e->log : NULL;
}

/* Dir indexes by ascending log count, ties in log.dirs order (Kafka's
 * nextLogDirs: the dir with the fewest partitions first). */
static void dirs_by_load(const log_manager_t *lm, size_t *order) {
    for (size_t i = 0; i < lm->ndirs; i++) {
        size_t j = i;
        for (; j > 0 && lm->dirs[order[j - 1]].log_count > lm->dirs[i].log_count; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
}

/* One attempt of get_or_create. A directory this attempt created is
 * removed again on failure: left behind, it would be loaded at the next
 * start as a second copy of the partition created in another dir. */
static kerr_t create_in(log_manager_t *lm, size_t di, const char *topic, int32_t partition, const log_config_t *lc,
                        const log_open_opts_t *oo, log_t **out, char *err, size_t errlen) {
    char name[LM_NAME_MAX + 16];
    snprintf(name, sizeof name, "%s-%" PRId32, topic, partition);
    char *path = path_join(lm->dirs[di].path, name);
    struct stat st;
    bool existed = lstat(path, &st) == 0;
    log_t *log = NULL;
    kerr_t rc = log_open(path, lc, oo, &log, err, errlen);
    if (rc == KERR_NONE) {
        table_add(lm, topic, partition, di, log);
        log_info(LM_COMPONENT, "Created log for partition %s in %s", name, path);
        *out = log;
    } else {
        log_error(LM_COMPONENT, "Cannot create log %s: %s", path, err ? err : kerr_name(rc));
        if (!existed && rmtree_at(AT_FDCWD, path) != 0)
            log_error(LM_COMPONENT, "Cannot remove %s after the failed creation: %s", path, strerror(errno));
    }
    free(path);
    return rc;
}

kerr_t log_manager_get_or_create(log_manager_t *lm, const char *topic, int32_t partition,
                                 const config_topic_t *topic_cfg, int64_t now_ms, log_t **out, char *err,
                                 size_t errlen) {
    *out = NULL;
    if (!topic_name_valid(topic, strlen(topic))) {
        errmsg_set(err, errlen, "invalid topic name '%.*s'", LM_NAME_MAX, topic);
        return KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (partition < 0) {
        errmsg_set(err, errlen, "invalid partition %" PRId32 " of %s", partition, topic);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    lm_log_t *e = table_find(lm, topic, partition);
    if (e) {
        *out = e->log;
        return KERR_NONE;
    }
    log_config_t lc;
    log_config_from_topic(lm->cfg, topic_cfg, &lc);
    /* A new log: nothing to recover, no offsets from the checkpoints (which
     * no longer list a deleted namesake). */
    log_open_opts_t oo = {.recovery_point = 0, .log_start_offset = -1, .high_watermark = -1,
                          .clean_shutdown = false, .now_ms = now_ms};
    size_t *order = mem_alloc(lm->ndirs * sizeof *order);
    dirs_by_load(lm, order);
    kerr_t rc = KERR_KAFKA_STORAGE_ERROR;
    for (size_t k = 0; rc != KERR_NONE && k < lm->ndirs; k++)
        rc = create_in(lm, order[k], topic, partition, &lc, &oo, out, err, errlen);
    free(order);
    return rc;
}

/* After a failed rename the log is opened again as it was (the files are
 * as log_close left them, consistent as far as this process is concerned,
 * hence no recovery). Returns false if even that fails. */
static bool reopen_log(log_manager_t *lm, lm_log_t *e, const char *path, const log_config_t *lc,
                       const log_open_opts_t *oo) {
    char msg[512];
    if (log_open(path, lc, oo, &e->log, msg, sizeof msg) == KERR_NONE)
        return true;
    log_error(LM_COMPONENT, "Cannot reopen %s after a failed delete: %s", path, msg);
    table_remove(lm, e);
    return false;
}

/* The log is closed before its directory is renamed: closing touches files
 * by path (segments awaiting removal), which must still be where the log
 * thinks they are. */
kerr_t log_manager_delete(log_manager_t *lm, const char *topic, int32_t partition, char *err, size_t errlen) {
    lm_log_t *e = table_find(lm, topic, partition);
    if (!e) {
        errmsg_set(err, errlen, "no log for %s-%" PRId32, topic, partition);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    size_t di = e->dir;
    const char *parent = lm->dirs[di].path;
    char name[LM_NAME_MAX + 1];
    if (delete_dir_name(topic, partition, name, sizeof name) != 0) {
        errmsg_set(err, errlen, "cannot delete %s-%" PRId32 ": no random bytes for its new name: %s", topic, partition,
               strerror(errno));
        return KERR_KAFKA_STORAGE_ERROR;
    }
    char *from = mem_strdup(log_dir(e->log));
    char *to = path_join(parent, name);
    log_config_t lc = *log_get_config(e->log);
    log_open_opts_t oo = {.recovery_point = log_recovery_point(e->log), .log_start_offset = log_start_offset(e->log),
                          .high_watermark = log_high_watermark(e->log), .clean_shutdown = true,
                          .now_ms = clock_wall_ms()};
    log_close(e->log);
    e->log = NULL;
    kerr_t rc = KERR_NONE;
    if (rename(from, to) != 0) {
        errmsg_set(err, errlen, "cannot rename %s to %s for deletion: %s", from, to, strerror(errno));
        rc = KERR_KAFKA_STORAGE_ERROR;
        if (!reopen_log(lm, e, from, &lc, &oo))
            checkpoint_dir(lm, di, NULL, 0);
    } else {
        if (fsync_dir(parent) != 0)
            log_warn(LM_COMPONENT, "%s: directory fsync after renaming %s failed: %s", parent, from,
                     strerror(errno));
        table_remove(lm, e);
        log_info(LM_COMPONENT, "Deleted log %s (renamed to %s)", from, to);
        if (rmtree_at(AT_FDCWD, to) != 0) {
            errmsg_set(err, errlen, "cannot remove %s: %s (removed at the next start)", to, strerror(errno));
            rc = KERR_KAFKA_STORAGE_ERROR;
        }
        if (checkpoint_dir(lm, di, rc ? NULL : err, errlen) != KERR_NONE)
            rc = KERR_KAFKA_STORAGE_ERROR;
    }
    free(from);
    free(to);
    return rc;
}

size_t log_manager_count(const log_manager_t *lm) { return lm->nlogs; }

bool log_manager_at(const log_manager_t *lm, size_t i, log_manager_entry_t *out) {
    if (i >= lm->nlogs)
        return false;
    const lm_log_t *e = lm->logs[i];
    out->topic = e->topic;
    out->partition = e->partition;
    out->dir = e->dir;
    out->log = e->log;
    return true;
}

/* --- background tasks ----------------------------------------------------------- */

static bool task_due(lm_task_t *t, int64_t now_ms) {
    if (t->period_ms > 0 && now_ms < t->next_ms)
        return false;
    t->next_ms = add_sat(t->next_ms, t->period_ms);
    if (t->next_ms <= now_ms)
        t->next_ms = add_sat(now_ms, t->period_ms);
    return true;
}

/* Kafka's cleanupLogs: each log decides from its config what goes. */
static void run_retention(log_manager_t *lm, int64_t now_ms) {
    int64_t t0 = clock_mono_ms();
    int deleted = 0;
    for (size_t i = 0; i < lm->nlogs; i++) {
        lm_lock(lm, lm->logs[i], true);
        deleted += log_apply_retention(lm->logs[i]->log, now_ms);
        lm_lock(lm, lm->logs[i], false);
    }
    if (deleted > 0)
        log_info(LM_COMPONENT, "Log cleanup completed. %d segments deleted in %" PRId64 " ms", deleted,
                 clock_mono_ms() - t0);
}

/* Kafka's flushDirtyLogs (logs whose flush.ms has passed: everything they
 * hold) when the scheduler says so, and at every tick the flush a roll asks
 * for (the segments before the new one), as Kafka schedules that one at
 * once. The fsyncs run without the partition's lock (log_flush_job_t);
 * logs_lock, which the caller holds, keeps the log. */
static kerr_t run_flush(log_manager_t *lm, bool scheduled, int64_t now_ms) {
    kerr_t rc = KERR_NONE;
    for (size_t i = 0; i < lm->nlogs; i++) {
        log_t *log = lm->logs[i]->log;
        log_flush_job_t job;
        kerr_t f = KERR_NONE;
        lm_lock(lm, lm->logs[i], true);
        bool everything = scheduled && log_flush_due(log, now_ms);
        int64_t rolled_to = log_roll_flush_pending(log);
        bool started = (everything || rolled_to >= 0) && log_flush_begin(log, everything ? -1 : rolled_to, &job, &f);
        lm_lock(lm, lm->logs[i], false);
        if (started) {
            f = log_flush_sync(&job);
            lm_lock(lm, lm->logs[i], true);
            log_flush_finish(log, &job);
            lm_lock(lm, lm->logs[i], false);
        }
        if (f != KERR_NONE) {
            log_error(LM_COMPONENT, "Flushing %s failed: %s", log_dir(log), kerr_name(f));
            rc = KERR_KAFKA_STORAGE_ERROR;
        }
    }
    return rc;
}

static void run_remove_deleted(log_manager_t *lm, int64_t now_ms) {
    for (size_t i = 0; i < lm->nlogs; i++) {
        lm_lock(lm, lm->logs[i], true);
        log_remove_deleted(lm->logs[i]->log, now_ms);
        lm_lock(lm, lm->logs[i], false);
    }
}

/* The cleaner's locked parts (cleaner.h): a finished job is swapped into
 * its log, looked up again by name (it may have been deleted meanwhile),
 * and the dir's cleaner-offset-checkpoint rewritten; an idle cleaner gets
 * the dirtiest compacted log, or is asked again after log.cleaner.backoff.ms. */
static void commit_cleaned(log_manager_t *lm, cleaner_job_t *job, kerr_t result, int64_t now_ms) {
    lm_log_t *e = table_find(lm, cleaner_job_topic(job), cleaner_job_partition(job));
    if (result != KERR_NONE || !e)
        return;
    lm_lock(lm, e, true);
    kerr_t c = cleaner_job_commit(job, e->log, now_ms, NULL);
    lm_lock(lm, e, false);
    const cleaner_stats_t *st = cleaner_job_stats(job);
    if (c != KERR_NONE) {
        log_info(LM_COMPONENT, "Cleaning of %s-%" PRId32 " dropped: the log changed meanwhile (%s)", e->topic,
                 e->partition, kerr_name(c));
        return;
    }
    log_info(LM_COMPONENT, "Cleaned %s-%" PRId32 " up to offset %" PRId64 ": %" PRIu64 " of %" PRIu64
             " records kept, %" PRIu64 " MB read, %" PRIu64 " MB written in %" PRId64 " ms (%.1f MB/s)",
             e->topic, e->partition, st->end_offset, st->records_kept, st->records_read, st->bytes_read >> 20,
             st->bytes_written >> 20, st->elapsed_ms,
             st->elapsed_ms > 0 ? (double)st->bytes_read / 1048576.0 / ((double)st->elapsed_ms / 1000.0) : 0.0);
    write_checkpoints(lm, CHECKPOINT_CLEANER_FILE, cleaner_point_of, e->dir, NULL, 0);
}

static void run_cleaner(log_manager_t *lm, int64_t now_ms) {
    kerr_t result;
    cleaner_job_t *done = cleaner_take_done(lm->cleaner, &result);
    if (done) {
        commit_cleaned(lm, done, result, now_ms);
        cleaner_job_free(done);
        lm->next_clean_ms = result == KERR_NONE ? now_ms : add_sat(now_ms, cleaner_config(lm->cleaner)->backoff_ms);
    }
    if (now_ms < lm->next_clean_ms || !cleaner_idle(lm->cleaner))
        return;
    lm_log_t *dirtiest = NULL;
    double worst = 0;
    for (size_t i = 0; i < lm->nlogs; i++) {
        cleaner_dirt_t dirt;
        lm_lock(lm, lm->logs[i], true);
        cleaner_assess(lm->logs[i]->log, now_ms, &dirt);
        lm_lock(lm, lm->logs[i], false);
        if (dirt.cleanable && (!dirtiest || dirt.ratio > worst)) {
            dirtiest = lm->logs[i];
            worst = dirt.ratio;
        }
    }
    cleaner_job_t *job = NULL;
    if (dirtiest) {
        lm_lock(lm, dirtiest, true);
        job = cleaner_job_new(dirtiest->log, dirtiest->topic, dirtiest->partition, now_ms);
        lm_lock(lm, dirtiest, false);
    }
    if (job)
        cleaner_submit(lm->cleaner, job);
    else
        lm->next_clean_ms = add_sat(now_ms, cleaner_config(lm->cleaner)->backoff_ms);
}

kerr_t log_manager_tick(log_manager_t *lm, int64_t now_ms) {
    kerr_t rc = KERR_NONE;
    lm_task_t *t = lm->tasks;
    if (task_due(&t[LM_TASK_RETENTION], now_ms))
        run_retention(lm, now_ms);
    if (run_flush(lm, task_due(&t[LM_TASK_FLUSH], now_ms), now_ms) != KERR_NONE)
        rc = KERR_KAFKA_STORAGE_ERROR;
    if (task_due(&t[LM_TASK_RECOVERY_CKPT], now_ms) && log_manager_checkpoint_recovery_points(lm, NULL, 0))
        rc = KERR_KAFKA_STORAGE_ERROR;
    if (task_due(&t[LM_TASK_LOG_START_CKPT], now_ms) && log_manager_checkpoint_log_start_offsets(lm, NULL, 0))
        rc = KERR_KAFKA_STORAGE_ERROR;
    if (task_due(&t[LM_TASK_HW_CKPT], now_ms) && log_manager_checkpoint_high_watermarks(lm, NULL, 0))
        rc = KERR_KAFKA_STORAGE_ERROR;
    if (task_due(&t[LM_TASK_REMOVE_DELETED], now_ms))
        run_remove_deleted(lm, now_ms);
    if (lm->cleaner)
        run_cleaner(lm, now_ms);
    return rc;
}
