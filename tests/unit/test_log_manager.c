/* The log manager: log dirs (creation, locks, clean-shutdown marker,
 * leftovers), logs spread over dirs, the three offset checkpoints byte for
 * byte, recovery after an unclean shutdown, deletion, and the scheduled
 * tasks driven by explicit times. */
#include "unit.h"

#include "util/buf.h"
#include "log/checkpoint.h"
#include "util/config.h"
#include "log/log.h"
#include "log/log_manager.h"
#include "util/logger.h"
#include "log/record_batch.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1600000000000LL /* "now" at open in every test */

/* --- helpers ------------------------------------------------------------------------ */

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    buf_t b = BUF_INIT;
    char chunk[512];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    buf_append(&b, "", 1);
    return (char *)buf_release(&b, NULL);
}

static void put_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int exists_in(const char *dir, const char *name) {
    char *p = join(dir, name);
    int r = exists(p);
    free(p);
    return r;
}

/* Asserts that <dir>/<name> holds exactly expected. */
#define ASSERT_FILE(dir, name, expected)                                                                       \
    do {                                                                                                       \
        char *p_ = join((dir), (name));                                                                        \
        char *got_ = slurp(p_);                                                                                \
        CU_ASSERT_PTR_NOT_NULL(got_);                                                                          \
        if (got_)                                                                                              \
            CU_ASSERT_STRING_EQUAL(got_, (expected));                                                          \
        free(got_);                                                                                            \
        free(p_);                                                                                              \
    } while (0)

/* Entries of dir whose names end with suffix. */
static int count_suffix(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    size_t sl = strlen(suffix);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* A test's world: a temp root with log dirs a/ and b/ (not created: the
 * manager creates them) and a broker config naming them. */
typedef struct env {
    char *root;
    char *a;
    char *b;
    config_t *cfg;
} env_t;

static void env_init(env_t *e, int ndirs) {
    e->root = unit_mkdtemp();
    e->a = join(e->root, "a");
    e->b = join(e->root, "b");
    e->cfg = config_new();
    char list[8192];
    snprintf(list, sizeof list, ndirs == 1 ? "%s" : "%s,%s/", e->a, e->b); /* a trailing slash is dropped */
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(config_set(e->cfg, "log.dirs", list, err, sizeof err), 0);
}

static void env_set(env_t *e, const char *key, const char *value) {
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(config_set(e->cfg, key, value, err, sizeof err), 0);
}

static void env_free(env_t *e) {
    config_free(e->cfg);
    unit_rmtree(e->root);
    free(e->root);
    free(e->a);
    free(e->b);
}

static log_manager_t *open_ok(env_t *e, int64_t now_ms) {
    log_manager_opts_t o = {.topic_config = NULL, .topic_config_ctx = NULL, .now_ms = now_ms};
    log_manager_t *lm = NULL;
    char err[512] = "";
    kerr_t rc = log_manager_open(e->cfg, 1, &o, &lm, err, sizeof err);
    if (rc != KERR_NONE)
        fprintf(stderr, "log_manager_open: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, KERR_NONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lm);
    return lm;
}

/* Expects open to fail with a message containing want (and want2 if not
 * NULL). */
static void open_fails(env_t *e, const char *want, const char *want2) {
    log_manager_opts_t o = {.topic_config = NULL, .topic_config_ctx = NULL, .now_ms = T0};
    log_manager_t *lm = (log_manager_t *)1;
    char err[1024] = "";
    logger_level_t level = logger_get_level();
    logger_set_level(LOGGER_OFF);
    kerr_t rc = log_manager_open(e->cfg, 1, &o, &lm, err, sizeof err);
    logger_set_level(level);
    CU_ASSERT_EQUAL(rc, KERR_KAFKA_STORAGE_ERROR);
    CU_ASSERT_PTR_NULL(lm);
    if (!strstr(err, want) || (want2 && !strstr(err, want2)))
        fprintf(stderr, "unexpected message: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    if (want2)
        CU_ASSERT_PTR_NOT_NULL(strstr(err, want2));
}

static log_t *create(log_manager_t *lm, const char *topic, int32_t partition) {
    log_t *log = NULL;
    char err[512] = "";
    CU_ASSERT_EQUAL_FATAL(log_manager_get_or_create(lm, topic, partition, NULL, T0, &log, err, sizeof err),
                          KERR_NONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    return log;
}

/* Appends one batch of count records with value_len-byte values and the
 * given timestamp as a leader in epoch 0. */
static void append(log_t *log, int count, size_t value_len, int64_t ts) {
    record_input_t recs[16];
    char value[512];
    CU_ASSERT_FATAL(count <= 16 && value_len <= sizeof value);
    memset(value, 'v', value_len);
    for (int i = 0; i < count; i++) {
        memset(&recs[i], 0, sizeof recs[i]);
        recs[i].key_len = -1;
        recs[i].value = value;
        recs[i].value_len = (int32_t)value_len;
        recs[i].timestamp = ts;
    }
    batch_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.compression = COMPRESSION_NONE;
    o.partition_leader_epoch = -1;
    o.producer_id = -1;
    o.producer_epoch = -1;
    o.base_sequence = -1;
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &o, recs, count), KERR_NONE);
    log_append_info_t info;
    CU_ASSERT_EQUAL_FATAL(log_append_as_leader(log, b.data, b.len, 0, ts, &info), KERR_NONE);
    buf_free(&b);
}

/* The dir index of topic-partition, found by iteration. */
static size_t dir_of(const log_manager_t *lm, const char *topic, int32_t partition) {
    log_manager_entry_t e;
    for (size_t i = 0; log_manager_at(lm, i, &e); i++)
        if (e.partition == partition && strcmp(e.topic, topic) == 0)
            return e.dir;
    return SIZE_MAX;
}

/* --- opening and closing dirs ----------------------------------------------------------- */

static void test_open_empty_dirs(void) {
    env_t e;
    env_init(&e, 2);
    log_manager_t *lm = open_ok(&e, T0);
    size_t n = 0;
    const char *const *dirs = log_manager_dirs(lm, &n);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(dirs[0], e.a);
    CU_ASSERT_STRING_EQUAL(dirs[1], e.b); /* without the trailing slash */
    CU_ASSERT_EQUAL(log_manager_count(lm), 0);
    CU_ASSERT_FALSE(log_manager_dir_had_clean_shutdown(lm, 0));
    CU_ASSERT_FALSE(log_manager_dir_had_clean_shutdown(lm, 1));
    CU_ASSERT_FALSE(log_manager_dir_had_clean_shutdown(lm, 2));
    CU_ASSERT(exists_in(e.a, ".lock"));
    CU_ASSERT(exists_in(e.b, ".lock"));
    CU_ASSERT_PTR_NULL(log_manager_get(lm, "t", 0));
    log_manager_entry_t ent;
    CU_ASSERT_FALSE(log_manager_at(lm, 0, &ent));
    CU_ASSERT_EQUAL(log_manager_close(lm, true), KERR_NONE);

    /* A clean close leaves the marker and empty checkpoints in every dir. */
    const char *ds[] = {e.a, e.b};
    for (int i = 0; i < 2; i++) {
        CU_ASSERT(exists_in(ds[i], LOG_MANAGER_CLEAN_SHUTDOWN_FILE));
        ASSERT_FILE(ds[i], LOG_MANAGER_CLEAN_SHUTDOWN_FILE, "");
        ASSERT_FILE(ds[i], CHECKPOINT_RECOVERY_POINT_FILE, "0\n0\n");
        ASSERT_FILE(ds[i], CHECKPOINT_LOG_START_FILE, "0\n0\n");
        ASSERT_FILE(ds[i], CHECKPOINT_REPLICATION_FILE, "0\n0\n");
    }

    /* Opening again notes the marker and deletes it. */
    lm = open_ok(&e, T0);
    CU_ASSERT(log_manager_dir_had_clean_shutdown(lm, 0));
    CU_ASSERT(log_manager_dir_had_clean_shutdown(lm, 1));
    CU_ASSERT_FALSE(exists_in(e.a, LOG_MANAGER_CLEAN_SHUTDOWN_FILE));
    CU_ASSERT_FALSE(exists_in(e.b, LOG_MANAGER_CLEAN_SHUTDOWN_FILE));
    CU_ASSERT_EQUAL(log_manager_close(lm, false), KERR_NONE);
    CU_ASSERT_FALSE(exists_in(e.a, LOG_MANAGER_CLEAN_SHUTDOWN_FILE));

    lm = open_ok(&e, T0);
    CU_ASSERT_FALSE(log_manager_dir_had_clean_shutdown(lm, 0));
    log_manager_close(lm, false);
    env_free(&e);
}

static void test_lock_held(void) {
    env_t e;
    env_init(&e, 2);
    log_manager_t *lm = open_ok(&e, T0);
    open_fails(&e, "Failed to acquire lock on file .lock", e.a);

    /* Only b in use: a is free again after the failed open. */
    env_t only_b = e;
    only_b.cfg = config_new();
    char err[256];
    CU_ASSERT_EQUAL_FATAL(config_set(only_b.cfg, "log.dir", e.b, err, sizeof err), 0);
    open_fails(&only_b, "Failed to acquire lock", e.b);
    config_free(only_b.cfg);

    log_manager_close(lm, true);
    lm = open_ok(&e, T0); /* released at close */
    log_manager_close(lm, true);
    env_free(&e);
}

static void test_bad_dirs(void) {
    env_t e;
    env_init(&e, 1);
    char err[256];

    /* A file where a dir should be. */
    put_file(e.a, "not a dir");
    open_fails(&e, "is not a directory", e.a);
    unlink(e.a);

    /* The same dir twice (once through "/./"). */
    char list[8192];
    snprintf(list, sizeof list, "%s,%s/./a", e.a, e.root);
    CU_ASSERT_EQUAL_FATAL(config_set(e.cfg, "log.dirs", list, err, sizeof err), 0);
    open_fails(&e, "Duplicate log directory found", NULL);

    /* No dir at all. */
    CU_ASSERT_EQUAL_FATAL(config_set(e.cfg, "log.dirs", " , ", err, sizeof err), 0);
    open_fails(&e, "names no directory", NULL);

    /* A dir that cannot be created (its parent is a file). */
    char *file = join(e.root, "plain");
    put_file(file, "x");
    snprintf(list, sizeof list, "%s/sub", file);
    CU_ASSERT_EQUAL_FATAL(config_set(e.cfg, "log.dirs", list, err, sizeof err), 0);
    open_fails(&e, list, NULL);
    free(file);
    env_free(&e);
}

/* Not writable: only meaningful when not running as root (root may write
 * anywhere). */
static void test_unwritable_dir(void) {
    if (geteuid() == 0) {
        CU_PASS("running as root: permissions are not enforced");
        return;
    }
    env_t e;
    env_init(&e, 1);
    CU_ASSERT_EQUAL_FATAL(mkdir(e.a, 0555), 0);
    open_fails(&e, "is not a readable and writable log directory", e.a);
    chmod(e.a, 0755);
    env_free(&e);
}

static void test_malformed_checkpoint(void) {
    static const char *const files[] = {CHECKPOINT_RECOVERY_POINT_FILE, CHECKPOINT_LOG_START_FILE,
                                        CHECKPOINT_REPLICATION_FILE};
    for (size_t i = 0; i < 3; i++) {
        env_t e;
        env_init(&e, 2);
        log_manager_close(open_ok(&e, T0), true);
        char *path = join(e.b, files[i]);
        put_file(path, i == 1 ? "1\n0\n" : "0\n1\norders x 5\n");
        open_fails(&e, path, i == 1 ? "version" : "partition is not a number");
        /* Fixed, it opens (and the dirs were unlocked after the failure). */
        put_file(path, "0\n0\n");
        log_manager_t *lm = open_ok(&e, T0);
        log_manager_close(lm, false);
        free(path);
        env_free(&e);
    }
}

/* --- logs over dirs ----------------------------------------------------------------- */

static void test_create_spread(void) {
    env_t e;
    env_init(&e, 2);
    log_manager_t *lm = open_ok(&e, T0);

    /* Fewest logs first, ties to the first listed: a, b, a, b. */
    log_t *t0 = create(lm, "t", 0);
    log_t *t1 = create(lm, "t", 1);
    log_t *t2 = create(lm, "t", 2);
    log_t *u0 = create(lm, "u", 0);
    CU_ASSERT_EQUAL(dir_of(lm, "t", 0), 0);
    CU_ASSERT_EQUAL(dir_of(lm, "t", 1), 1);
    CU_ASSERT_EQUAL(dir_of(lm, "t", 2), 0);
    CU_ASSERT_EQUAL(dir_of(lm, "u", 0), 1);
    char *p = join(e.a, "t-0");
    CU_ASSERT_STRING_EQUAL(log_dir(t0), p);
    free(p);
    p = join(e.b, "u-0");
    CU_ASSERT_STRING_EQUAL(log_dir(u0), p);
    free(p);
    CU_ASSERT(exists_in(e.a, "t-2"));
    CU_ASSERT(exists_in(e.b, "t-1"));

    CU_ASSERT_PTR_EQUAL(log_manager_get(lm, "t", 0), t0);
    CU_ASSERT_PTR_EQUAL(log_manager_get(lm, "t", 1), t1);
    CU_ASSERT_PTR_EQUAL(log_manager_get(lm, "t", 2), t2);
    CU_ASSERT_PTR_EQUAL(log_manager_get(lm, "u", 0), u0);
    CU_ASSERT_PTR_NULL(log_manager_get(lm, "t", 3));
    CU_ASSERT_PTR_NULL(log_manager_get(lm, "u", 1));
    CU_ASSERT_PTR_EQUAL(create(lm, "t", 1), t1); /* existing: the same log */
    CU_ASSERT_EQUAL(log_manager_count(lm), 4);

    /* Once over every log. */
    int seen = 0;
    log_manager_entry_t ent;
    for (size_t i = 0; log_manager_at(lm, i, &ent); i++) {
        CU_ASSERT_PTR_EQUAL(log_manager_get(lm, ent.topic, ent.partition), ent.log);
        seen |= 1 << (ent.topic[0] == 'u' ? 3 : ent.partition);
    }
    CU_ASSERT_EQUAL(seen, 0xf);

    /* Bad names. */
    log_t *log = (log_t *)1;
    char err[256] = "";
    CU_ASSERT_EQUAL(log_manager_get_or_create(lm, "bad/name", 0, NULL, T0, &log, err, sizeof err),
                    KERR_INVALID_TOPIC_EXCEPTION);
    CU_ASSERT_PTR_NULL(log);
    CU_ASSERT_EQUAL(log_manager_get_or_create(lm, "..", 0, NULL, T0, &log, err, sizeof err),
                    KERR_INVALID_TOPIC_EXCEPTION);
    CU_ASSERT_EQUAL(log_manager_get_or_create(lm, "", 0, NULL, T0, &log, err, sizeof err),
                    KERR_INVALID_TOPIC_EXCEPTION);
    CU_ASSERT_EQUAL(log_manager_get_or_create(lm, "t", -1, NULL, T0, &log, err, sizeof err),
                    KERR_UNKNOWN_TOPIC_OR_PARTITION);
    CU_ASSERT_EQUAL(log_manager_count(lm), 4);
    log_manager_close(lm, true);

    /* Reopened: each log where it was. */
    lm = open_ok(&e, T0);
    CU_ASSERT_EQUAL(log_manager_count(lm), 4);
    CU_ASSERT_EQUAL(dir_of(lm, "t", 0), 0);
    CU_ASSERT_EQUAL(dir_of(lm, "t", 1), 1);
    CU_ASSERT_EQUAL(dir_of(lm, "t", 2), 0);
    CU_ASSERT_EQUAL(dir_of(lm, "u", 0), 1);
    /* Now 2 + 2: the next goes to a again, then b holds fewer. */
    create(lm, "v", 0);
    CU_ASSERT_EQUAL(dir_of(lm, "v", 0), 0);
    create(lm, "v", 1);
    CU_ASSERT_EQUAL(dir_of(lm, "v", 1), 1);
    log_manager_close(lm, false);
    env_free(&e);
}

/* When the log cannot be made in the emptiest dir, the next one is tried;
 * what blocked the first is left alone. */
static void test_create_fallback(void) {
    env_t e;
    env_init(&e, 2);
    log_manager_t *lm = open_ok(&e, T0);
    char *blocker = join(e.a, "t-0");
    put_file(blocker, "a file where the partition dir would go");
    logger_level_t level = logger_get_level();
    logger_set_level(LOGGER_OFF);
    log_t *log = create(lm, "t", 0);
    logger_set_level(level);
    CU_ASSERT_EQUAL(dir_of(lm, "t", 0), 1);
    char *p = join(e.b, "t-0");
    CU_ASSERT_STRING_EQUAL(log_dir(log), p);
    free(p);
    char *text = slurp(blocker);
    CU_ASSERT_PTR_NOT_NULL(text);
    free(text);

    /* No dir can take it: the error comes back, nothing is registered. */
    p = join(e.b, "t-1");
    put_file(p, "x");
    free(blocker);
    blocker = join(e.a, "t-1");
    put_file(blocker, "x");
    char err[512] = "";
    log = (log_t *)1;
    logger_set_level(LOGGER_OFF);
    CU_ASSERT_EQUAL(log_manager_get_or_create(lm, "t", 1, NULL, T0, &log, err, sizeof err), KERR_KAFKA_STORAGE_ERROR);
    logger_set_level(level);
    CU_ASSERT_PTR_NULL(log);
    CU_ASSERT_NOT_EQUAL(err[0], '\0');
    CU_ASSERT_PTR_NULL(log_manager_get(lm, "t", 1));
    CU_ASSERT_EQUAL(log_manager_count(lm), 1);
    free(p);
    free(blocker);
    log_manager_close(lm, false);
    env_free(&e);
}

/* Per-topic settings from the caller's callback at open; NULL for others. */
static const config_topic_t *topic_cfg_cb(void *ctx, const char *topic) {
    return strcmp(topic, "short") == 0 ? ctx : NULL;
}

static void test_topic_configs(void) {
    env_t e;
    env_init(&e, 1);
    config_topic_t *tc = config_topic_new(e.cfg);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(config_topic_set(tc, "retention.ms", "12345", err, sizeof err), 0);

    log_manager_t *lm = open_ok(&e, T0);
    log_t *log = NULL;
    CU_ASSERT_EQUAL_FATAL(log_manager_get_or_create(lm, "short", 0, tc, T0, &log, err, sizeof err), KERR_NONE);
    CU_ASSERT_EQUAL(log_get_config(log)->retention_ms, 12345);
    log = create(lm, "long", 0);
    CU_ASSERT_EQUAL(log_get_config(log)->retention_ms, 7 * 24 * 3600 * 1000LL);
    log_manager_close(lm, true);

    log_manager_opts_t o = {.topic_config = topic_cfg_cb, .topic_config_ctx = tc, .now_ms = T0};
    CU_ASSERT_EQUAL_FATAL(log_manager_open(e.cfg, 1, &o, &lm, err, sizeof err), KERR_NONE);
    CU_ASSERT_EQUAL(log_get_config(log_manager_get(lm, "short", 0))->retention_ms, 12345);
    CU_ASSERT_EQUAL(log_get_config(log_manager_get(lm, "long", 0))->retention_ms, 7 * 24 * 3600 * 1000LL);
    log_manager_close(lm, true);
    config_topic_free(tc);
    env_free(&e);
}

/* --- checkpoints and restarts ---------------------------------------------------------- */

/* t-0 (dir a): 3 batches of 2 records, LEO 6. t-1 (dir b): 1 batch, LEO 1.
 * u-0 (dir a): empty. */
static void fill(log_manager_t *lm) {
    log_t *t0 = create(lm, "t", 0);
    log_t *t1 = create(lm, "t", 1);
    create(lm, "u", 0);
    for (int i = 0; i < 3; i++)
        append(t0, 2, 10, T0 + i);
    append(t1, 1, 10, T0);
    CU_ASSERT_EQUAL(log_end_offset(t0), 6);
    CU_ASSERT_EQUAL(log_end_offset(t1), 1);
}

static void test_checkpoint_contents(void) {
    env_t e;
    env_init(&e, 2);
    log_manager_t *lm = open_ok(&e, T0);
    fill(lm);
    log_t *t0 = log_manager_get(lm, "t", 0), *t1 = log_manager_get(lm, "t", 1);
    char err[512] = "";

    /* Nothing flushed yet: recovery points 0. HWs at the log start. */
    CU_ASSERT_EQUAL(log_manager_checkpoint_recovery_points(lm, err, sizeof err), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_RECOVERY_POINT_FILE, "0\n2\nt 0 0\nu 0 0\n");
    ASSERT_FILE(e.b, CHECKPOINT_RECOVERY_POINT_FILE, "0\n1\nt 1 0\n");
    CU_ASSERT_EQUAL(log_flush(t0, 4), KERR_NONE);
    CU_ASSERT_EQUAL(log_manager_checkpoint_recovery_points(lm, err, sizeof err), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_RECOVERY_POINT_FILE, "0\n2\nt 0 4\nu 0 0\n");

    log_set_high_watermark(t0, 5);
    log_set_high_watermark(t1, 1);
    CU_ASSERT_EQUAL(log_manager_checkpoint_high_watermarks(lm, err, sizeof err), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_REPLICATION_FILE, "0\n2\nt 0 5\nu 0 0\n");
    ASSERT_FILE(e.b, CHECKPOINT_REPLICATION_FILE, "0\n1\nt 1 1\n");

    /* Log start offsets: only those above the first segment's base. */
    CU_ASSERT_EQUAL(log_manager_checkpoint_log_start_offsets(lm, err, sizeof err), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_LOG_START_FILE, "0\n0\n");
    ASSERT_FILE(e.b, CHECKPOINT_LOG_START_FILE, "0\n0\n");
    CU_ASSERT_EQUAL(log_advance_start_offset(t0, 3), KERR_NONE);
    CU_ASSERT_EQUAL(log_manager_checkpoint_log_start_offsets(lm, err, sizeof err), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_LOG_START_FILE, "0\n1\nt 0 3\n");
    ASSERT_FILE(e.b, CHECKPOINT_LOG_START_FILE, "0\n0\n");
    CU_ASSERT_FALSE(exists_in(e.a, CHECKPOINT_LOG_START_FILE ".tmp"));

    /* A clean close: everything flushed, recovery points at the LEOs. */
    CU_ASSERT_EQUAL(log_manager_close(lm, true), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_RECOVERY_POINT_FILE, "0\n2\nt 0 6\nu 0 0\n");
    ASSERT_FILE(e.b, CHECKPOINT_RECOVERY_POINT_FILE, "0\n1\nt 1 1\n");
    ASSERT_FILE(e.a, CHECKPOINT_REPLICATION_FILE, "0\n2\nt 0 5\nu 0 0\n");
    ASSERT_FILE(e.a, CHECKPOINT_LOG_START_FILE, "0\n1\nt 0 3\n");
    env_free(&e);
}

static void test_clean_restart(void) {
    env_t e;
    env_init(&e, 2);
    log_manager_t *lm = open_ok(&e, T0);
    fill(lm);
    log_t *t0 = log_manager_get(lm, "t", 0);
    log_set_high_watermark(t0, 6);
    CU_ASSERT_EQUAL(log_advance_start_offset(t0, 2), KERR_NONE);
    log_set_high_watermark(log_manager_get(lm, "t", 1), 1);
    CU_ASSERT_EQUAL(log_manager_close(lm, true), KERR_NONE);
    CU_ASSERT(exists_in(e.a, LOG_MANAGER_CLEAN_SHUTDOWN_FILE));
    CU_ASSERT(exists_in(e.b, LOG_MANAGER_CLEAN_SHUTDOWN_FILE));

    lm = open_ok(&e, T0 + 1000);
    CU_ASSERT_EQUAL(log_manager_count(lm), 3);
    t0 = log_manager_get(lm, "t", 0);
    log_t *t1 = log_manager_get(lm, "t", 1), *u0 = log_manager_get(lm, "u", 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u0);
    CU_ASSERT_EQUAL(log_end_offset(t0), 6);
    CU_ASSERT_EQUAL(log_start_offset(t0), 2);
    CU_ASSERT_EQUAL(log_high_watermark(t0), 6);
    CU_ASSERT_EQUAL(log_recovery_point(t0), 6);
    CU_ASSERT_EQUAL(log_end_offset(t1), 1);
    CU_ASSERT_EQUAL(log_start_offset(t1), 0);
    CU_ASSERT_EQUAL(log_high_watermark(t1), 1);
    CU_ASSERT_EQUAL(log_end_offset(u0), 0);
    CU_ASSERT_EQUAL(dir_of(lm, "t", 1), 1);

    /* Appends continue from the LEO. */
    append(t0, 1, 10, T0 + 10);
    CU_ASSERT_EQUAL(log_end_offset(t0), 7);
    log_manager_close(lm, true);
    env_free(&e);
}

/* Cuts the last n bytes off <dir>/<00..0>.log. */
static void cut_segment(const char *partition_dir, off_t n) {
    char *p = join(partition_dir, "00000000000000000000.log");
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(p, &st), 0);
    CU_ASSERT_FATAL(st.st_size > n);
    CU_ASSERT_EQUAL_FATAL(truncate(p, st.st_size - n), 0);
    free(p);
}

static void test_unclean_recovery(void) {
    env_t e;
    env_init(&e, 2);
    log_manager_t *lm = open_ok(&e, T0);
    fill(lm);
    CU_ASSERT_EQUAL(log_manager_close(lm, false), KERR_NONE);
    CU_ASSERT_FALSE(exists_in(e.a, LOG_MANAGER_CLEAN_SHUTDOWN_FILE));
    CU_ASSERT_FALSE(exists_in(e.b, LOG_MANAGER_CLEAN_SHUTDOWN_FILE));

    /* A torn tail: the last batch of t-0 loses its last 5 bytes. */
    char *pd = join(e.a, "t-0");
    cut_segment(pd, 5);

    logger_level_t level = logger_get_level();
    logger_set_level(LOGGER_ERROR); /* the recovery warns */
    lm = open_ok(&e, T0);
    logger_set_level(level);
    CU_ASSERT_FALSE(log_manager_dir_had_clean_shutdown(lm, 0));
    log_t *t0 = log_manager_get(lm, "t", 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t0);
    CU_ASSERT_EQUAL(log_end_offset(t0), 4); /* back to the last whole batch */
    /* Nothing was ever checkpointed as flushed: the recovered bytes may live
     * only in the page cache, so the recovery point stays at 0. */
    CU_ASSERT_EQUAL(log_recovery_point(t0), 0);
    CU_ASSERT_EQUAL(log_end_offset(log_manager_get(lm, "t", 1)), 1);
    /* The next append takes the lost offsets again. */
    append(t0, 1, 10, T0 + 5);
    CU_ASSERT_EQUAL(log_end_offset(t0), 5);
    CU_ASSERT_EQUAL(log_manager_close(lm, true), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_RECOVERY_POINT_FILE, "0\n2\nt 0 5\nu 0 0\n");
    free(pd);
    env_free(&e);
}

/* --- deletion ---------------------------------------------------------------------- */

static void test_delete(void) {
    env_t e;
    env_init(&e, 2);
    log_manager_t *lm = open_ok(&e, T0);
    fill(lm);
    log_t *t0 = log_manager_get(lm, "t", 0);
    log_set_high_watermark(t0, 6);
    CU_ASSERT_EQUAL(log_advance_start_offset(t0, 2), KERR_NONE);
    char err[512] = "";
    CU_ASSERT_EQUAL(log_manager_checkpoint_log_start_offsets(lm, err, sizeof err), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_LOG_START_FILE, "0\n1\nt 0 2\n");

    /* A descriptor on the partition dir follows it through the rename;
     * /proc then names where it went before it was removed. */
    char *pd = join(e.a, "t-0");
    int fd = open(pd, O_RDONLY | O_DIRECTORY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(log_manager_delete(lm, "t", 0, err, sizeof err), KERR_NONE);
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    close(fd);
    CU_ASSERT_FATAL(n > 0);
    target[n] = '\0';
    size_t plen = strlen(pd);
    CU_ASSERT_EQUAL(strncmp(target, pd, plen), 0);
    CU_ASSERT_EQUAL(target[plen], '.');
    CU_ASSERT_EQUAL(strspn(target + plen + 1, "0123456789abcdef"), 32);
    CU_ASSERT_STRING_EQUAL(target + plen + 33, "-delete (deleted)");
    free(pd);
    CU_ASSERT_PTR_NULL(log_manager_get(lm, "t", 0));
    CU_ASSERT_EQUAL(log_manager_count(lm), 2);
    CU_ASSERT_FALSE(exists_in(e.a, "t-0"));
    CU_ASSERT_EQUAL(count_suffix(e.a, "-delete"), 0);
    CU_ASSERT_PTR_NOT_NULL(log_manager_get(lm, "u", 0)); /* the others stay */
    CU_ASSERT_PTR_NOT_NULL(log_manager_get(lm, "t", 1));
    /* The dir's checkpoints no longer name it. */
    ASSERT_FILE(e.a, CHECKPOINT_LOG_START_FILE, "0\n0\n");
    ASSERT_FILE(e.a, CHECKPOINT_RECOVERY_POINT_FILE, "0\n1\nu 0 0\n");
    ASSERT_FILE(e.a, CHECKPOINT_REPLICATION_FILE, "0\n1\nu 0 0\n");

    CU_ASSERT_EQUAL(log_manager_delete(lm, "t", 0, err, sizeof err), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    CU_ASSERT_EQUAL(log_manager_delete(lm, "nope", 3, err, sizeof err), KERR_UNKNOWN_TOPIC_OR_PARTITION);

    /* Created again: a fresh log, in the emptier dir a (1 log vs 1: a). */
    log_t *again = create(lm, "t", 0);
    CU_ASSERT_EQUAL(log_end_offset(again), 0);
    CU_ASSERT_EQUAL(log_start_offset(again), 0);
    CU_ASSERT_EQUAL(dir_of(lm, "t", 0), 0);

    /* Deleting every log, iterating while the indexes shift. */
    log_manager_entry_t ent;
    while (log_manager_at(lm, 0, &ent)) {
        char topic[32];
        snprintf(topic, sizeof topic, "%s", ent.topic);
        CU_ASSERT_EQUAL_FATAL(log_manager_delete(lm, topic, ent.partition, err, sizeof err), KERR_NONE);
    }
    CU_ASSERT_EQUAL(log_manager_count(lm), 0);
    log_manager_close(lm, true);
    lm = open_ok(&e, T0);
    CU_ASSERT_EQUAL(log_manager_count(lm), 0);
    log_manager_close(lm, true);
    env_free(&e);
}

static void test_leftovers_at_open(void) {
    env_t e;
    env_init(&e, 1);
    log_manager_t *lm = open_ok(&e, T0);
    fill(lm);
    log_manager_close(lm, true);

    /* An interrupted delete, and directories that are not logs. */
    char *del = join(e.a, "gone-3.0123456789abcdef0123456789ABCDEF-delete");
    CU_ASSERT_EQUAL_FATAL(mkdir(del, 0755), 0);
    char *inner = join(del, "00000000000000000000.log");
    put_file(inner, "data");
    char *sub = join(del, "sub");
    CU_ASSERT_EQUAL_FATAL(mkdir(sub, 0755), 0);
    char *lost = join(e.a, "lost+found");
    CU_ASSERT_EQUAL_FATAL(mkdir(lost, 0755), 0);
    char *short_uuid = join(e.a, "x-1.abc-delete");
    CU_ASSERT_EQUAL_FATAL(mkdir(short_uuid, 0755), 0);

    logger_level_t level = logger_get_level();
    logger_set_level(LOGGER_ERROR); /* skipping warns */
    lm = open_ok(&e, T0);
    logger_set_level(level);
    CU_ASSERT_FALSE(exists(del));
    CU_ASSERT(exists(lost));
    CU_ASSERT(exists(short_uuid)); /* not Kafka's name: left alone */
    CU_ASSERT_EQUAL(log_manager_count(lm), 3);
    CU_ASSERT_PTR_NULL(log_manager_get(lm, "gone", 3));
    log_manager_close(lm, true);
    free(del);
    free(inner);
    free(sub);
    free(lost);
    free(short_uuid);
    env_free(&e);
}

static void test_duplicate_partition(void) {
    env_t e;
    env_init(&e, 2);
    log_manager_t *lm = open_ok(&e, T0);
    fill(lm); /* t-0 in a */
    log_manager_close(lm, true);
    char *dup = join(e.b, "t-0");
    CU_ASSERT_EQUAL_FATAL(mkdir(dup, 0755), 0);
    open_fails(&e, "Duplicate log directories found", dup);
    char *orig = join(e.a, "t-0");
    open_fails(&e, orig, NULL);
    /* Resolved, the dirs open again: nothing was left locked. */
    unit_rmtree(dup);
    lm = open_ok(&e, T0);
    CU_ASSERT_EQUAL(log_end_offset(log_manager_get(lm, "t", 0)), 6);
    log_manager_close(lm, false);
    free(dup);
    free(orig);
    env_free(&e);
}

static void test_many_partitions(void) {
    env_t e;
    env_init(&e, 2);
    log_manager_t *lm = open_ok(&e, T0);
    char topic[32];
    for (int i = 0; i < 150; i++) {
        snprintf(topic, sizeof topic, "topic%d", i % 7);
        log_t *log = create(lm, topic, i);
        if (i % 10 == 0)
            append(log, 1, 10, T0);
    }
    CU_ASSERT_EQUAL(log_manager_count(lm), 150);
    CU_ASSERT_EQUAL(log_manager_close(lm, true), KERR_NONE);
    lm = open_ok(&e, T0);
    CU_ASSERT_EQUAL_FATAL(log_manager_count(lm), 150);
    size_t per_dir[2] = {0, 0};
    log_manager_entry_t ent;
    for (size_t i = 0; log_manager_at(lm, i, &ent); i++)
        per_dir[ent.dir]++;
    CU_ASSERT_EQUAL(per_dir[0], 75);
    CU_ASSERT_EQUAL(per_dir[1], 75);
    for (int i = 0; i < 150; i++) {
        snprintf(topic, sizeof topic, "topic%d", i % 7);
        log_t *log = log_manager_get(lm, topic, i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(log);
        CU_ASSERT_EQUAL(log_end_offset(log), i % 10 == 0 ? 1 : 0);
        CU_ASSERT_EQUAL(dir_of(lm, topic, i), (size_t)(i % 2));
    }
    CU_ASSERT_PTR_NULL(log_manager_get(lm, "topic0", 1));
    log_manager_close(lm, false);
    env_free(&e);
}

/* --- scheduled tasks ---------------------------------------------------------------- */

static void test_tick_retention(void) {
    env_t e;
    env_init(&e, 1);
    env_set(&e, "log.retention.ms", "15000");
    env_set(&e, "log.segment.bytes", "200");
    env_set(&e, "log.retention.check.interval.ms", "1000");
    env_set(&e, "log.segment.delete.delay.ms", "60000");
    log_manager_t *lm = open_ok(&e, T0);
    log_t *log = create(lm, "r", 0);
    /* Each ~170-byte batch fills a 200-byte segment: 4 segments. */
    const int64_t ts[] = {T0, T0 + 10000, T0 + 20000, T0 + 28000};
    for (int i = 0; i < 4; i++)
        append(log, 1, 100, ts[i]);
    CU_ASSERT_EQUAL_FATAL(log_num_segments(log), 4);
    log_set_high_watermark(log, 4);
    char *pd = join(e.a, "r-0");

    /* Segments 0 and 1 are already too old at T0 + 30000 - 1, but the
     * first retention run is 30 s after open. */
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 29999), KERR_NONE);
    CU_ASSERT_EQUAL(log_num_segments(log), 4);
    CU_ASSERT_EQUAL(log_start_offset(log), 0);

    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 30000), KERR_NONE);
    CU_ASSERT_EQUAL(log_num_segments(log), 2); /* 30 s and 20 s old go; 10 s old stays */
    CU_ASSERT_EQUAL(log_start_offset(log), 2);
    CU_ASSERT_EQUAL(count_suffix(pd, ".log.deleted"), 2);

    /* At T0 + 36000 the third segment is 16 s old, but the next run is due
     * only at T0 + 31000: runs at 31000 and later catch it. */
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 30500), KERR_NONE);
    CU_ASSERT_EQUAL(log_num_segments(log), 2);
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 36000), KERR_NONE);
    CU_ASSERT_EQUAL(log_num_segments(log), 1);
    CU_ASSERT_EQUAL(log_start_offset(log), 3);
    CU_ASSERT_EQUAL(count_suffix(pd, ".log.deleted"), 3);

    /* The files go file.delete.delay.ms after their deletion. */
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 30000 + 59999), KERR_NONE);
    CU_ASSERT_EQUAL(count_suffix(pd, ".log.deleted"), 3);
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 30000 + 61000), KERR_NONE);
    CU_ASSERT_EQUAL(count_suffix(pd, ".log.deleted"), 1);
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 36000 + 61000), KERR_NONE);
    CU_ASSERT_EQUAL(count_suffix(pd, ".log.deleted"), 0);
    CU_ASSERT_EQUAL(count_suffix(pd, ".log"), 1);

    /* The log start offset equals the first segment's base: not written. */
    CU_ASSERT_EQUAL(log_manager_close(lm, true), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_LOG_START_FILE, "0\n0\n");
    ASSERT_FILE(e.a, CHECKPOINT_RECOVERY_POINT_FILE, "0\n1\nr 0 4\n");
    lm = open_ok(&e, T0);
    CU_ASSERT_EQUAL(log_start_offset(log_manager_get(lm, "r", 0)), 3);
    CU_ASSERT_EQUAL(log_end_offset(log_manager_get(lm, "r", 0)), 4);
    log_manager_close(lm, false);
    free(pd);
    env_free(&e);
}

static void test_tick_checkpoints(void) {
    env_t e;
    env_init(&e, 2);
    env_set(&e, "replica.high.watermark.checkpoint.interval.ms", "5000");
    env_set(&e, "log.flush.offset.checkpoint.interval.ms", "60000");
    env_set(&e, "log.flush.start.offset.checkpoint.interval.ms", "20000");
    log_manager_t *lm = open_ok(&e, T0);
    fill(lm);
    log_t *t0 = log_manager_get(lm, "t", 0);
    log_set_high_watermark(t0, 4);
    CU_ASSERT_EQUAL(log_advance_start_offset(t0, 1), KERR_NONE);

    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 4999), KERR_NONE);
    CU_ASSERT_FALSE(exists_in(e.a, CHECKPOINT_REPLICATION_FILE));
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 5000), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_REPLICATION_FILE, "0\n2\nt 0 4\nu 0 0\n");
    ASSERT_FILE(e.b, CHECKPOINT_REPLICATION_FILE, "0\n1\nt 1 0\n");
    log_set_high_watermark(t0, 6);
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 9999), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_REPLICATION_FILE, "0\n2\nt 0 4\nu 0 0\n");
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 10000), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_REPLICATION_FILE, "0\n2\nt 0 6\nu 0 0\n");

    /* The LogManager's own checkpoints start 30 s after open. */
    CU_ASSERT_FALSE(exists_in(e.a, CHECKPOINT_RECOVERY_POINT_FILE));
    CU_ASSERT_FALSE(exists_in(e.a, CHECKPOINT_LOG_START_FILE));
    CU_ASSERT_EQUAL(log_flush(t0, -1), KERR_NONE);
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 30000), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_RECOVERY_POINT_FILE, "0\n2\nt 0 6\nu 0 0\n");
    ASSERT_FILE(e.a, CHECKPOINT_LOG_START_FILE, "0\n1\nt 0 1\n");
    CU_ASSERT_EQUAL(log_advance_start_offset(t0, 5), KERR_NONE);
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 49999), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_LOG_START_FILE, "0\n1\nt 0 1\n");
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 50000), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_LOG_START_FILE, "0\n1\nt 0 5\n");

    /* A tick long after: the HW task runs once and is next due one period
     * later, not at once again for each missed period. */
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 1000000), KERR_NONE);
    log_set_high_watermark(t0, 5);
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 1004999), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_REPLICATION_FILE, "0\n2\nt 0 6\nu 0 0\n");
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 1005000), KERR_NONE);
    ASSERT_FILE(e.a, CHECKPOINT_REPLICATION_FILE, "0\n2\nt 0 5\nu 0 0\n");
    log_manager_close(lm, false);
    env_free(&e);
}

/* log_manager_write_leader_epochs: what its lock callback saw, and what a
 * test does while the lock is free between the copy and the install (what
 * another thread may do meanwhile). */
typedef struct epoch_lock_probe {
    log_manager_t *lm;
    int takes;   /* lock(true) calls */
    bool held;
    bool nested; /* taken while held, or released while free */
    enum { EPOCH_CALM, EPOCH_CHANGE_T1, EPOCH_DELETE_T2 } meddle; /* at the second take */
} epoch_lock_probe_t;

static void epoch_probe_lock(void *ctx, bool lock) {
    epoch_lock_probe_t *p = ctx;
    p->nested |= p->held == lock;
    p->held = lock;
    if (!lock || ++p->takes != 2)
        return;
    char err[256] = "";
    if (p->meddle == EPOCH_CHANGE_T1)
        CU_ASSERT_EQUAL(leader_epoch_assign_deferred(log_leader_epochs(log_manager_get(p->lm, "t", 1)), 9, 0, err,
                                                     sizeof err), 1);
    if (p->meddle == EPOCH_DELETE_T2)
        CU_ASSERT_EQUAL(log_manager_delete(p->lm, "t", 2, err, sizeof err), KERR_NONE);
}

static char *epoch_file_of(log_t *log) { return slurp(leader_epoch_path(log_leader_epochs(log))); }

/* n logs of topic t, each cache given a deferred entry (epoch p + 1 at 0);
 * then written: every file holds its entry, every cache is clean, no
 * staged file is left. */
static void epoch_batch_case(int n) {
    env_t e;
    env_init(&e, 2);
    log_manager_t *lm = open_ok(&e, T0);
    char err[256] = "";
    for (int p = 0; p < n; p++)
        CU_ASSERT_EQUAL(leader_epoch_assign_deferred(log_leader_epochs(create(lm, "t", p)), p + 1, 0, err,
                                                     sizeof err), 1);
    epoch_lock_probe_t probe = {.lm = lm};
    CU_ASSERT_EQUAL(log_manager_write_leader_epochs(lm, SIZE_MAX, epoch_probe_lock, &probe), KERR_NONE);
    CU_ASSERT_EQUAL(probe.takes, 3 + (n - 1) / 64); /* the renames let go of it every 64 */
    CU_ASSERT_FALSE(probe.held);
    CU_ASSERT_FALSE(probe.nested);
    for (int p = 0; p < n; p++) {
        log_t *log = log_manager_get(lm, "t", p);
        char want[64];
        snprintf(want, sizeof want, "0\n1\n%d 0\n", p + 1);
        char *got = epoch_file_of(log);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        CU_ASSERT_STRING_EQUAL(got, want);
        free(got);
        CU_ASSERT_FALSE(leader_epoch_dirty(log_leader_epochs(log)));
        CU_ASSERT_EQUAL(count_suffix(log_dir(log), CHECKPOINT_STAGED_SUFFIX), 0);
    }
    /* nothing dirty: the lock is taken once, to look */
    probe = (epoch_lock_probe_t){.lm = lm};
    CU_ASSERT_EQUAL(log_manager_write_leader_epochs(lm, SIZE_MAX, epoch_probe_lock, &probe), KERR_NONE);
    CU_ASSERT_EQUAL(probe.takes, 1);
    log_manager_close(lm, false);
    env_free(&e);
}

static void test_leader_epochs_batch(void) {
    epoch_batch_case(3);
    epoch_batch_case(150); /* over two dirs */
}

/* At most max_files a call; the next call takes the rest. */
static void test_leader_epochs_batch_cap(void) {
    env_t e;
    env_init(&e, 1);
    log_manager_t *lm = open_ok(&e, T0);
    char err[256] = "";
    for (int p = 0; p < 3; p++)
        CU_ASSERT_EQUAL(leader_epoch_assign_deferred(log_leader_epochs(create(lm, "t", p)), 4, 0, err, sizeof err),
                        1);
    int dirty = 0;
    CU_ASSERT_EQUAL(log_manager_write_leader_epochs(lm, 2, epoch_probe_lock, &(epoch_lock_probe_t){.lm = lm}),
                    KERR_NONE);
    for (int p = 0; p < 3; p++)
        dirty += leader_epoch_dirty(log_leader_epochs(log_manager_get(lm, "t", p)));
    CU_ASSERT_EQUAL(dirty, 1);
    CU_ASSERT_EQUAL(log_manager_write_leader_epochs(lm, 2, epoch_probe_lock, &(epoch_lock_probe_t){.lm = lm}),
                    KERR_NONE);
    for (int p = 0; p < 3; p++) {
        log_t *log = log_manager_get(lm, "t", p);
        CU_ASSERT_FALSE(leader_epoch_dirty(log_leader_epochs(log)));
        char *got = epoch_file_of(log);
        CU_ASSERT_STRING_EQUAL(got, "0\n1\n4 0\n");
        free(got);
    }
    log_manager_close(lm, false);
    env_free(&e);
}

/* A cache that changed while the files were staged keeps its new entries
 * dirty and its old file; a log deleted meanwhile is no error; the others
 * are written. */
static void test_leader_epochs_batch_races(void) {
    env_t e;
    env_init(&e, 1);
    log_manager_t *lm = open_ok(&e, T0);
    char err[256] = "";
    for (int p = 0; p < 3; p++) {
        leader_epoch_cache_t *c = log_leader_epochs(create(lm, "t", p));
        CU_ASSERT_EQUAL(leader_epoch_assign(c, 1, 0, err, sizeof err), 1);
        CU_ASSERT_EQUAL(leader_epoch_assign_deferred(c, 2, 0, err, sizeof err), 1);
    }
    epoch_lock_probe_t probe = {.lm = lm, .meddle = EPOCH_CHANGE_T1};
    CU_ASSERT_EQUAL(log_manager_write_leader_epochs(lm, SIZE_MAX, epoch_probe_lock, &probe), KERR_NONE);
    char *t0 = epoch_file_of(log_manager_get(lm, "t", 0));
    char *t1 = epoch_file_of(log_manager_get(lm, "t", 1));
    CU_ASSERT_STRING_EQUAL(t0, "0\n1\n2 0\n");
    CU_ASSERT_STRING_EQUAL(t1, "0\n1\n1 0\n"); /* the copy (2 0) was not installed over the newer cache */
    CU_ASSERT_TRUE(leader_epoch_dirty(log_leader_epochs(log_manager_get(lm, "t", 1))));
    CU_ASSERT_EQUAL(count_suffix(log_dir(log_manager_get(lm, "t", 1)), CHECKPOINT_STAGED_SUFFIX), 0);
    free(t0);
    free(t1);
    /* the next call writes what changed; t-2, deleted meanwhile, is no error */
    char *t2_dir = strdup(log_dir(log_manager_get(lm, "t", 2)));
    CU_ASSERT_EQUAL(leader_epoch_assign_deferred(log_leader_epochs(log_manager_get(lm, "t", 2)), 3, 0, err,
                                                 sizeof err), 1);
    probe = (epoch_lock_probe_t){.lm = lm, .meddle = EPOCH_DELETE_T2};
    CU_ASSERT_EQUAL(log_manager_write_leader_epochs(lm, SIZE_MAX, epoch_probe_lock, &probe), KERR_NONE);
    CU_ASSERT_FALSE(probe.held);
    t1 = epoch_file_of(log_manager_get(lm, "t", 1));
    CU_ASSERT_STRING_EQUAL(t1, "0\n1\n9 0\n");
    CU_ASSERT_FALSE(leader_epoch_dirty(log_leader_epochs(log_manager_get(lm, "t", 1))));
    CU_ASSERT_PTR_NULL(log_manager_get(lm, "t", 2));
    CU_ASSERT_FALSE(exists(t2_dir));
    free(t1);
    free(t2_dir);
    log_manager_close(lm, false);
    env_free(&e);
}

/* flush.ms: the flush task fsyncs logs whose time has come; the recovery
 * point follows. */
static void test_tick_flush(void) {
    env_t e;
    env_init(&e, 1);
    env_set(&e, "log.flush.interval.ms", "1000");
    env_set(&e, "log.flush.scheduler.interval.ms", "500");
    log_manager_t *lm = open_ok(&e, T0);
    log_t *log = create(lm, "f", 0);
    append(log, 2, 10, T0);
    CU_ASSERT_EQUAL(log_recovery_point(log), 0);
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 29999), KERR_NONE);
    CU_ASSERT_EQUAL(log_recovery_point(log), 0);
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 30000), KERR_NONE);
    CU_ASSERT_EQUAL(log_recovery_point(log), 2);
    log_manager_close(lm, false);
    env_free(&e);
}

/* A roll's flush waits for no scheduler (Kafka schedules it at once): the
 * next tick syncs the segments before the new one, and only those. */
static void test_tick_flushes_rolled_segments(void) {
    env_t e;
    env_init(&e, 1);
    log_manager_t *lm = open_ok(&e, T0);
    log_t *log = create(lm, "r", 0);
    append(log, 2, 10, T0);
    CU_ASSERT_EQUAL(log_roll(log, T0), KERR_NONE);
    append(log, 3, 10, T0);
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 1), KERR_NONE);
    CU_ASSERT_EQUAL(log_recovery_point(log), 2);
    CU_ASSERT_EQUAL(log_manager_tick(lm, T0 + 2), KERR_NONE);
    CU_ASSERT_EQUAL(log_recovery_point(log), 2);
    log_manager_close(lm, false);
    env_free(&e);
}

void unit_register(void) {
    logger_set_level(LOGGER_WARN);
    static const unit_test_t tests[] = {
        {"open: empty dirs, marker written and consumed", test_open_empty_dirs},
        {"open: lock held by another manager", test_lock_held},
        {"open: file, duplicate, empty and uncreatable dirs", test_bad_dirs},
        {"open: unwritable dir", test_unwritable_dir},
        {"open: malformed checkpoints name the file", test_malformed_checkpoint},
        {"logs: spread over dirs, get, iterate, bad names", test_create_spread},
        {"logs: creation falls back to the next dir", test_create_fallback},
        {"logs: per-topic configs", test_topic_configs},
        {"checkpoints: exact contents and the log-start filter", test_checkpoint_contents},
        {"restart: clean shutdown restores offsets", test_clean_restart},
        {"restart: unclean shutdown recovers a torn tail", test_unclean_recovery},
        {"delete: renamed, removed, checkpoints rewritten", test_delete},
        {"open: -delete leftovers removed, strangers skipped", test_leftovers_at_open},
        {"open: duplicate partition across dirs", test_duplicate_partition},
        {"logs: 150 partitions over two dirs", test_many_partitions},
        {"tick: retention and delayed file removal", test_tick_retention},
        {"tick: checkpoint schedules", test_tick_checkpoints},
        {"leader epochs: written outside the lock", test_leader_epochs_batch},
        {"leader epochs: changed or deleted meanwhile", test_leader_epochs_batch_races},
        {"leader epochs: at most max_files a call", test_leader_epochs_batch_cap},
        {"tick: flush.ms", test_tick_flush},
        {"tick: a roll's flush", test_tick_flushes_rolled_segments},
        {NULL, NULL},
    };
    unit_add_suite("log_manager", tests);
}
