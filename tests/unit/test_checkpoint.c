/* Checkpoint files, the leader-epoch cache and meta.properties: the exact
 * bytes Kafka 2.8 writes, what its readers accept and refuse, atomic
 * replacement, and LeaderEpochFileCache's rules case by case. */
#include "unit.h"

#include "util/buf.h"
#include "util/file.h"
#include "log/checkpoint.h"
#include "log/leader_epoch.h"
#include "util/logger.h"
#include "log/meta_properties.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- helpers --------------------------------------------------------------------- */

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void put_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static void put_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(data, 1, len, f);
    fclose(f);
}

/* The whole file as a string (NULL if it does not exist); caller frees. */
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

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void assert_file_is(const char *path, const char *expected) {
    char *got = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_STRING_EQUAL(got, expected);
    free(got);
}

/* A file holding text in a fresh directory; *dir is the caller's to remove. */
static char *file_with(char **dir, const char *name, const char *text) {
    *dir = unit_mkdtemp();
    char *path = join(*dir, name);
    put_file(path, text);
    return path;
}

static void cleanup(char *dir, char *path) {
    unit_rmtree(dir);
    free(dir);
    free(path);
}

/* --- checkpoint: writing -------------------------------------------------------------- */

static void test_offsets_write_exact(void) {
    char *dir = unit_mkdtemp();
    char *path = join(dir, CHECKPOINT_REPLICATION_FILE);
    char *tmp = join(dir, CHECKPOINT_REPLICATION_FILE ".tmp");
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
    checkpoint_offsets_add(&co, "orders", 0, 1523);
    checkpoint_offsets_add(&co, "orders", 1, 1498);
    checkpoint_offsets_add(&co, "__consumer_offsets", 17, 4);
    char err[256] = "";
    CU_ASSERT_EQUAL(checkpoint_offsets_write(path, &co, err, sizeof err), 0);
    assert_file_is(path, "0\n3\norders 0 1523\norders 1 1498\n__consumer_offsets 17 4\n");
    CU_ASSERT_FALSE(file_exists(tmp));

    /* Rewriting replaces the whole file. */
    checkpoint_offsets_free(&co);
    checkpoint_offsets_add(&co, "a.b-c_D", 2147483647, INT64_MAX);
    CU_ASSERT_EQUAL(checkpoint_offsets_write(path, &co, err, sizeof err), 0);
    assert_file_is(path, "0\n1\na.b-c_D 2147483647 9223372036854775807\n");

    checkpoint_offsets_free(&co);
    CU_ASSERT_EQUAL(checkpoint_offsets_write(path, &co, err, sizeof err), 0);
    assert_file_is(path, "0\n0\n");
    CU_ASSERT_FALSE(file_exists(tmp));
    free(tmp);
    cleanup(dir, path);
}

static void test_offsets_write_refuses_invalid(void) {
    char *dir;
    char *path = file_with(&dir, "recovery-point-offset-checkpoint", "0\n1\nold 0 7\n");
    char err[256] = "";
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
    checkpoint_offsets_add(&co, "good", 0, 1);
    checkpoint_offsets_add(&co, "has space", 0, 1);
    CU_ASSERT_EQUAL(checkpoint_offsets_write(path, &co, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "entry 1"));
    checkpoint_offsets_free(&co);
    checkpoint_offsets_add(&co, "t", -1, 1);
    CU_ASSERT_EQUAL(checkpoint_offsets_write(path, &co, err, sizeof err), -1);
    checkpoint_offsets_free(&co);
    checkpoint_offsets_add(&co, "t", 0, -1);
    CU_ASSERT_EQUAL(checkpoint_offsets_write(path, &co, err, sizeof err), -1);
    checkpoint_offsets_free(&co);
    checkpoint_offsets_add(&co, "", 0, 1);
    CU_ASSERT_EQUAL(checkpoint_offsets_write(path, &co, err, sizeof err), -1);
    checkpoint_offsets_free(&co);
    assert_file_is(path, "0\n1\nold 0 7\n"); /* untouched */
    cleanup(dir, path);
}

static void test_generic_write(void) {
    char *dir = unit_mkdtemp();
    char *path = join(dir, "x-checkpoint");
    char err[256] = "";
    const char body[] = "a b\nc d\n";
    CU_ASSERT_EQUAL(checkpoint_write(path, 3, 2, body, strlen(body), err, sizeof err), 0);
    assert_file_is(path, "3\n2\na b\nc d\n");
    CU_ASSERT_EQUAL(file_write_atomic(path, "raw", 3, err, sizeof err), 0);
    assert_file_is(path, "raw");
    CU_ASSERT_EQUAL(file_write_atomic(path, NULL, 0, err, sizeof err), 0);
    assert_file_is(path, "");
    cleanup(dir, path);
}

/* --- checkpoint: reading ----------------------------------------------------------------- */

static void test_offsets_roundtrip(void) {
    char *dir = unit_mkdtemp();
    char *path = join(dir, CHECKPOINT_LOG_START_FILE);
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT, back = CHECKPOINT_OFFSETS_INIT;
    char topic[32];
    for (int i = 0; i < 100; i++) {
        snprintf(topic, sizeof topic, "topic-%d", i % 7);
        checkpoint_offsets_add(&co, topic, i, (int64_t)i * 1000003);
    }
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(checkpoint_offsets_write(path, &co, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(checkpoint_offsets_read(path, &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(back.count, 100);
    for (size_t i = 0; i < back.count; i++) {
        CU_ASSERT_STRING_EQUAL(back.entries[i].topic, co.entries[i].topic);
        CU_ASSERT_EQUAL(back.entries[i].partition, co.entries[i].partition);
        CU_ASSERT_EQUAL(back.entries[i].offset, co.entries[i].offset);
    }
    const checkpoint_offset_t *e = checkpoint_offsets_find(&back, "topic-3", 38);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->offset, 38LL * 1000003);
    CU_ASSERT_PTR_NULL(checkpoint_offsets_find(&back, "topic-3", 39));
    CU_ASSERT_PTR_NULL(checkpoint_offsets_find(&back, "nope", 0));
    checkpoint_offsets_free(&co);
    checkpoint_offsets_free(&back);
    CU_ASSERT_EQUAL(back.count, 0);
    CU_ASSERT_PTR_NULL(back.entries);
    cleanup(dir, path);
}

/* Expects a successful read of text with n entries into co. */
static void read_ok(const char *text, size_t n, checkpoint_offsets_t *co) {
    char *dir;
    char *path = file_with(&dir, "cp", text);
    char err[256] = "";
    CU_ASSERT_EQUAL(checkpoint_offsets_read(path, co, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_EQUAL(co->count, n);
    cleanup(dir, path);
}

static void test_read_empty_forms(void) {
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
    char err[256] = "";
    CU_ASSERT_EQUAL(checkpoint_offsets_read("/nonexistent-samsa-dir/cp", &co, err, sizeof err), 0);
    CU_ASSERT_EQUAL(co.count, 0);
    read_ok("", 0, &co);
    read_ok("0\n", 0, &co);    /* Kafka: no count line, no entries */
    read_ok("0", 0, &co);
    read_ok("0\n0\n", 0, &co);
    read_ok("0\n0", 0, &co);
    checkpoint_offsets_free(&co);
}

static void test_read_line_endings(void) {
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
    read_ok("0\n1\norders 0 5", 1, &co);                /* last line unterminated */
    read_ok("0\r\n2\r\norders 0 5\r\norders 1 6\r\n", 3, &co);
    read_ok("0\r1\rorders 2 7\r", 4, &co);              /* readLine: lone \r ends a line */
    read_ok("0\n1\norders\t3   8 \t\n", 5, &co);        /* any whitespace run; trailing ignored */
    CU_ASSERT_STRING_EQUAL(co.entries[1].topic, "orders");
    CU_ASSERT_EQUAL(co.entries[2].offset, 6);
    CU_ASSERT_EQUAL(co.entries[3].partition, 2);
    CU_ASSERT_EQUAL(co.entries[4].partition, 3);
    CU_ASSERT_EQUAL(co.entries[4].offset, 8);
    checkpoint_offsets_free(&co);
}

static void test_read_duplicates_last_wins(void) {
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
    read_ok("0\n3\nt 0 5\nt 1 9\nt 0 6\n", 3, &co);
    const checkpoint_offset_t *e = checkpoint_offsets_find(&co, "t", 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->offset, 6);
    checkpoint_offsets_free(&co);
}

/* Expects the read to fail with a message holding each of the needles
 * (the path is always checked). */
static void read_fails(const char *text, size_t len, const char *needle1, const char *needle2) {
    char *dir = unit_mkdtemp();
    char *path = join(dir, "replication-offset-checkpoint");
    put_bytes(path, text, len);
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
    checkpoint_offsets_add(&co, "kept", 1, 2);
    char err[512] = "";
    CU_ASSERT_EQUAL(checkpoint_offsets_read(path, &co, err, sizeof err), -1);
    CU_ASSERT_EQUAL(co.count, 1); /* nothing of the bad file added */
    CU_ASSERT_STRING_EQUAL(co.entries[0].topic, "kept");
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        fprintf(stderr, "\nunexpected message for %.*s: %s\n", (int)len, text, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle1));
    if (needle2)
        CU_ASSERT_PTR_NOT_NULL(strstr(err, needle2));
    checkpoint_offsets_free(&co);
    cleanup(dir, path);
}

#define READ_FAILS(text, n1, n2) read_fails(text, sizeof text - 1, n1, n2)

static void test_read_bad_version(void) {
    READ_FAILS("1\n0\n", ":1: unrecognized checkpoint version 1 (expected 0)", NULL);
    READ_FAILS("x\n0\n", ":1: malformed line 'x'", "version is not a number");
    READ_FAILS("-1\n0\n", ":1:", "version is negative");
    READ_FAILS(" 0\n0\n", ":1:", "not a number");
    READ_FAILS("\n0\n", ":1:", "version is empty");
    READ_FAILS("99999999999999999999\n", ":1:", "version");
}

static void test_read_bad_count(void) {
    READ_FAILS("0\n2\nt 0 5\n", ":2: expected 2 entries, found 1", NULL);
    READ_FAILS("0\n1\nt 0 5\nt 1 6\n", ":2: expected 1 entries, found 2", NULL);
    READ_FAILS("0\n1\n", ":2: expected 1 entries, found 0", NULL);
    READ_FAILS("0\nfive\nt 0 5\n", ":2: malformed line 'five'", "entry count is not a number");
}

static void test_read_malformed_entries(void) {
    READ_FAILS("0\n1\norders 0\n", ":3: malformed entry 'orders 0'", "expected 3 fields, found 2");
    READ_FAILS("0\n1\norders\n", ":3:", "expected 3 fields, found 1");
    READ_FAILS("0\n1\norders 0 5 7\n", ":3:", "more than 3 fields");
    READ_FAILS("0\n1\n orders 0 5\n", ":3:", "leading whitespace");
    READ_FAILS("0\n2\nt 0 1\n\n", ":4:", "empty line");
    READ_FAILS("0\n2\nt 0 1\nt 1 2\n\n", ":5:", "empty line");
    READ_FAILS("0\n1\norders x 5\n", ":3: malformed entry 'orders x 5'", "partition is not a number");
    READ_FAILS("0\n1\norders 0 5x\n", ":3:", "offset is not a number");
    READ_FAILS("0\n1\norders 0 0x10\n", ":3:", "offset is not a number");
    READ_FAILS("0\n1\norders 0 -5\n", ":3:", "offset is negative");
    READ_FAILS("0\n1\norders -1 5\n", ":3:", "partition is negative");
    READ_FAILS("0\n1\norders +1 5\n", ":3:", "partition is not a number");
    READ_FAILS("0\n1\norders 2147483648 5\n", ":3:", "partition is out of range");
    READ_FAILS("0\n1\norders 0 9223372036854775808\n", ":3:", "offset is out of range");
    READ_FAILS("0\n1\na/b 0 5\n", ":3:", "invalid topic name");
    READ_FAILS("0\n1\n.. 0 5\n", ":3:", "invalid topic name");
    READ_FAILS("0\n1\nt\xc3\xa9 0 5\n", ":3: malformed entry 't?? 0 5'", "invalid topic name");
    READ_FAILS("0\n1\nt 0 5\0\n", ":3:", "NUL byte");
    /* The first bad line is reported, even when the count is also wrong. */
    READ_FAILS("0\n3\nt 0 1\nt x 2\n", ":4:", "partition");
}

static void test_read_long_line_quoted_briefly(void) {
    char text[600] = "0\n1\n";
    memset(text + 4, 'a', 500);
    strcpy(text + 504, " 0 x\n");
    char *dir;
    char *path = file_with(&dir, "cp", text);
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
    char err[1024] = "";
    CU_ASSERT_EQUAL(checkpoint_offsets_read(path, &co, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "aaa...'"));
    CU_ASSERT_TRUE(strlen(err) < strlen(path) + 200);
    checkpoint_offsets_free(&co);
    cleanup(dir, path);
}

static void test_read_errors_io(void) {
    char *dir = unit_mkdtemp();
    char err[256] = "";
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
    CU_ASSERT_EQUAL(checkpoint_offsets_read(dir, &co, err, sizeof err), -1); /* a directory */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, dir));
    /* err may be NULL */
    char *path = join(dir, "cp");
    put_file(path, "7\n");
    CU_ASSERT_EQUAL(checkpoint_offsets_read(path, &co, NULL, 0), -1);
    checkpoint_offsets_free(&co);
    cleanup(dir, path);
}

/* A callback that refuses an entry: its reason lands in the message. */
static int refuse_b(void *ctx, char *const *fields, char *err, size_t errlen) {
    int *seen = ctx;
    (*seen)++;
    if (strcmp(fields[0], "b") == 0) {
        snprintf(err, errlen, "b is not welcome");
        return -1;
    }
    return 0;
}

static void test_generic_read(void) {
    char *dir;
    char *path = file_with(&dir, "g", "4\n2\na\nb\n");
    char err[256] = "";
    int seen = 0;
    CU_ASSERT_EQUAL(checkpoint_read(path, 4, 1, refuse_b, &seen, err, sizeof err), -1);
    CU_ASSERT_EQUAL(seen, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ":4: malformed entry 'b': b is not welcome"));
    seen = 0;
    CU_ASSERT_EQUAL(checkpoint_read(path, 0, 1, refuse_b, &seen, err, sizeof err), -1);
    CU_ASSERT_EQUAL(seen, 0);
    CU_ASSERT_EQUAL(checkpoint_read(path, 4, 0, refuse_b, &seen, err, sizeof err), -1);
    CU_ASSERT_EQUAL(checkpoint_read(path, 4, CHECKPOINT_MAX_FIELDS + 1, refuse_b, &seen, err,
                                    sizeof err), -1);
    CU_ASSERT_EQUAL(seen, 0);
    cleanup(dir, path);
}

static void test_parse_number(void) {
    int64_t v = -7;
    char err[128];
    CU_ASSERT_EQUAL(checkpoint_parse_number("0", 10, "n", &v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(checkpoint_parse_number("007", 10, "n", &v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(v, 7);
    CU_ASSERT_EQUAL(checkpoint_parse_number("10", 10, "n", &v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(v, 10);
    CU_ASSERT_EQUAL(checkpoint_parse_number("11", 10, "n", &v, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "n is out of range (max 10)");
    CU_ASSERT_EQUAL(checkpoint_parse_number("9223372036854775807", INT64_MAX, "n", &v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(v, INT64_MAX);
    CU_ASSERT_EQUAL(checkpoint_parse_number("", 10, "n", &v, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "n is empty");
    CU_ASSERT_EQUAL(checkpoint_parse_number("-", 10, "n", &v, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "n is not a number");
    CU_ASSERT_EQUAL(checkpoint_parse_number("-3", 10, "n", &v, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "n is negative");
    CU_ASSERT_EQUAL(v, INT64_MAX); /* untouched on failure */
}

/* --- util/file: whole small files ------------------------------------------------------------ */

static void test_file_read_all(void) {
    char *dir;
    char *path = file_with(&dir, "small", "0123456789");
    char err[256] = "";
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL(file_read_all(path, 10, "test file", &b, err, sizeof err), 1);
    CU_ASSERT_EQUAL(b.len, 10);
    CU_ASSERT_EQUAL(memcmp(b.data, "0123456789", 10), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    buf_reset(&b);

    /* one byte over the bound is refused, naming the path and what it is not */
    char want[512];
    snprintf(want, sizeof want, "%s: larger than 9 bytes, not a test file", path);
    CU_ASSERT_EQUAL(file_read_all(path, 9, "test file", &b, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, want);
    buf_reset(&b);

    /* missing is 0, not an error, and leaves err alone */
    char *missing = join(dir, "no-such-file");
    err[0] = '\0';
    CU_ASSERT_EQUAL(file_read_all(missing, 10, "test file", &b, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_EQUAL(b.len, 0);

    /* a directory cannot be read */
    CU_ASSERT_EQUAL(file_read_all(dir, 10, "test file", &b, err, sizeof err), -1);
    snprintf(want, sizeof want, "cannot read %s: ", dir);
    CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
    buf_free(&b);
    free(missing);
    cleanup(dir, path);
}

/* --- checkpoint: atomicity ------------------------------------------------------------------ */

static void test_stale_tmp_overwritten(void) {
    char *dir = unit_mkdtemp();
    char *path = join(dir, CHECKPOINT_RECOVERY_POINT_FILE);
    char *tmp = join(dir, CHECKPOINT_RECOVERY_POINT_FILE ".tmp");
    /* A longer stale .tmp: O_TRUNC must not leave its tail behind. */
    put_file(tmp, "garbage garbage garbage garbage garbage garbage garbage\n1\n2\n3\n");
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
    checkpoint_offsets_add(&co, "t", 0, 42);
    char err[256] = "";
    CU_ASSERT_EQUAL(checkpoint_offsets_write(path, &co, err, sizeof err), 0);
    assert_file_is(path, "0\n1\nt 0 42\n");
    CU_ASSERT_FALSE(file_exists(tmp));
    checkpoint_offsets_free(&co);
    free(tmp);
    cleanup(dir, path);
}

/* A crash after the .tmp was (partly) written but before the rename: the
 * reader only ever looks at the real file, which still holds the old data. */
static void test_crash_before_rename(void) {
    char *dir = unit_mkdtemp();
    char *path = join(dir, CHECKPOINT_REPLICATION_FILE);
    char *tmp = join(dir, CHECKPOINT_REPLICATION_FILE ".tmp");
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
    checkpoint_offsets_add(&co, "orders", 0, 100);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(checkpoint_offsets_write(path, &co, err, sizeof err), 0);
    put_file(tmp, "0\n2\norders 0 2");  /* torn write of the next version */
    checkpoint_offsets_t back = CHECKPOINT_OFFSETS_INIT;
    CU_ASSERT_EQUAL(checkpoint_offsets_read(path, &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(back.count, 1);
    CU_ASSERT_STRING_EQUAL(back.entries[0].topic, "orders");
    CU_ASSERT_EQUAL(back.entries[0].offset, 100);
    /* The next write goes through regardless. */
    co.entries[0].offset = 200;
    CU_ASSERT_EQUAL(checkpoint_offsets_write(path, &co, err, sizeof err), 0);
    assert_file_is(path, "0\n1\norders 0 200\n");
    CU_ASSERT_FALSE(file_exists(tmp));
    checkpoint_offsets_free(&co);
    checkpoint_offsets_free(&back);
    free(tmp);
    cleanup(dir, path);
}

static void test_write_error_leaves_target(void) {
    char *dir = unit_mkdtemp();
    char *missing = join(dir, "no-such-dir/cp");
    char err[256] = "";
    CU_ASSERT_EQUAL(file_write_atomic(missing, "x", 1, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no-such-dir/cp.tmp"));
    /* The target is a directory: rename fails, the .tmp is cleaned up. */
    char *target = join(dir, "target");
    char *tmp = join(dir, "target.tmp");
    CU_ASSERT_EQUAL_FATAL(mkdir(target, 0755), 0);
    char *inside = join(target, "keep");
    put_file(inside, "k");
    CU_ASSERT_EQUAL(file_write_atomic(target, "x", 1, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot rename"));
    CU_ASSERT_FALSE(file_exists(tmp));
    assert_file_is(inside, "k");
    free(inside);
    free(tmp);
    free(target);
    cleanup(dir, missing);
}

static void test_write_relative_path(void) {
    char *dir = unit_mkdtemp();
    char cwd[4096];
    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
    CU_ASSERT_EQUAL_FATAL(chdir(dir), 0);
    char err[256] = "";
    CU_ASSERT_EQUAL(checkpoint_write(CHECKPOINT_CLEANER_FILE, 0, 0, "", 0, err, sizeof err), 0);
    CU_ASSERT_EQUAL(chdir(cwd), 0);
    char *path = join(dir, CHECKPOINT_CLEANER_FILE);
    assert_file_is(path, "0\n0\n");
    cleanup(dir, path);
}

/* --- leader epoch cache ------------------------------------------------------------------------ */

typedef struct {
    char *dir;
    char *path;
    leader_epoch_cache_t *cache;
} le_fixture_t;

static le_fixture_t le_open(void) {
    le_fixture_t f;
    f.dir = unit_mkdtemp();
    f.path = join(f.dir, LEADER_EPOCH_CHECKPOINT_FILE);
    f.cache = leader_epoch_new(f.path);
    return f;
}

static void le_close(le_fixture_t *f) {
    leader_epoch_free(f->cache);
    cleanup(f->dir, f->path);
}

/* Compares the cache to pairs {epoch, start, epoch, start, ...}. */
static void assert_entries(const leader_epoch_cache_t *c, const int64_t *pairs, size_t n) {
    CU_ASSERT_EQUAL_FATAL(leader_epoch_count(c), n);
    for (size_t i = 0; i < n; i++) {
        leader_epoch_entry_t e = leader_epoch_entry_at(c, i);
        CU_ASSERT_EQUAL(e.epoch, pairs[2 * i]);
        CU_ASSERT_EQUAL(e.start_offset, pairs[2 * i + 1]);
    }
}

#define ASSERT_ENTRIES(c, ...)                                                                   \
    do {                                                                                         \
        static const int64_t pairs_[] = {__VA_ARGS__};                                           \
        assert_entries((c), pairs_, sizeof pairs_ / sizeof pairs_[0] / 2);                       \
    } while (0)

static void assign3(leader_epoch_cache_t *c) {
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 1, 0, NULL, 0), 1);
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 3, 10, NULL, 0), 1);
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 5, 20, NULL, 0), 1);
}

static void test_le_file_exact(void) {
    le_fixture_t f = le_open();
    char err[256] = "";
    CU_ASSERT_FALSE(file_exists(f.path)); /* new() writes nothing */
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 0, 0, err, sizeof err), 1);
    assert_file_is(f.path, "0\n1\n0 0\n");
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 3, 812, err, sizeof err), 1);
    assert_file_is(f.path, "0\n2\n0 0\n3 812\n");
    char *tmp = join(f.dir, LEADER_EPOCH_CHECKPOINT_FILE ".tmp");
    CU_ASSERT_FALSE(file_exists(tmp));
    free(tmp);
    CU_ASSERT_STRING_EQUAL(leader_epoch_path(f.cache), f.path);
    le_close(&f);
}

static void test_le_assign_monotonic(void) {
    le_fixture_t f = le_open();
    CU_ASSERT_EQUAL(leader_epoch_latest_epoch(f.cache), LEADER_EPOCH_UNDEFINED_EPOCH);
    leader_epoch_entry_t e;
    CU_ASSERT_FALSE(leader_epoch_latest_entry(f.cache, &e));
    CU_ASSERT_FALSE(leader_epoch_earliest_entry(f.cache, &e));
    assign3(f.cache);
    ASSERT_ENTRIES(f.cache, 1, 0, 3, 10, 5, 20);
    CU_ASSERT_EQUAL(leader_epoch_latest_epoch(f.cache), 5);
    CU_ASSERT_TRUE(leader_epoch_latest_entry(f.cache, &e));
    CU_ASSERT_EQUAL(e.epoch, 5);
    CU_ASSERT_EQUAL(e.start_offset, 20);
    CU_ASSERT_TRUE(leader_epoch_earliest_entry(f.cache, &e));
    CU_ASSERT_EQUAL(e.epoch, 1);
    CU_ASSERT_EQUAL(e.start_offset, 0);

    /* More batches of the latest epoch: no change, no write. */
    CU_ASSERT_EQUAL(unlink(f.path), 0);
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 5, 20, NULL, 0), 0);
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 5, 35, NULL, 0), 0);
    CU_ASSERT_FALSE(file_exists(f.path));
    ASSERT_ENTRIES(f.cache, 1, 0, 3, 10, 5, 20);
    /* A gap in epochs is fine. */
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 9, 40, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 1, 0, 3, 10, 5, 20, 9, 40);
    assert_file_is(f.path, "0\n4\n1 0\n3 10\n5 20\n9 40\n");
    le_close(&f);
}

/* Kafka: a new entry removes from the end every entry with epoch >= its
 * epoch or start offset >= its start offset, then is appended. Dropping
 * more than an entry that restarts at the same offset is logged. */
static void test_le_assign_truncates(void) {
    le_fixture_t f = le_open();
    char *log = join(f.dir, "warnings.log");
    CU_ASSERT_EQUAL_FATAL(logger_open_file(log), 0);
    assign3(f.cache);
    /* Same epoch, lower offset: the latest entry moves back. */
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 5, 15, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 1, 0, 3, 10, 5, 15);
    /* Lower epoch, higher offset: the higher epochs go. */
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 4, 30, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 1, 0, 3, 10, 4, 30);
    /* Lower epoch than several: all of them go. */
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 2, 40, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 1, 0, 2, 40);
    /* Higher epoch, lower offset: entries starting at or after it go. */
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 6, 5, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 1, 0, 6, 5);
    /* Higher epoch at the same offset as the latest (became leader, no data
     * written in between): replaces it. */
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 7, 5, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 1, 0, 7, 5);
    /* Lower epoch and lower offset than everything: only it remains. */
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 0, 0, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 0, 0);
    assert_file_is(f.path, "0\n1\n0 0\n");
    logger_close_file();
    /* Warned for all but (7,5) replacing (6,5), where no data was lost. */
    char *text = slurp(log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    int warnings = 0;
    for (const char *p = text; (p = strstr(p, "caused truncation")) != NULL; p++)
        warnings++;
    CU_ASSERT_EQUAL(warnings, 5);
    CU_ASSERT_PTR_NULL(strstr(text, "(epoch 7, start offset 5)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "(epoch 2, start offset 40) caused truncation of 2 "
                                        "conflicting entries, from (epoch 3, start offset 10)"));
    free(text);
    free(log);
    le_close(&f);
}

static void test_le_assign_invalid(void) {
    le_fixture_t f = le_open();
    assign3(f.cache);
    char err[256] = "";
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, -1, 30, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid partition leader epoch entry (epoch -1, start offset 30)"));
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 6, -1, err, sizeof err), -1);
    ASSERT_ENTRIES(f.cache, 1, 0, 3, 10, 5, 20);
    le_close(&f);
}

static void assert_end(const leader_epoch_cache_t *c, int32_t requested, int64_t leo,
                       int32_t epoch, int64_t end) {
    leader_epoch_end_offset_t r = leader_epoch_end_offset_for(c, requested, leo);
    CU_ASSERT_EQUAL(r.epoch, epoch);
    CU_ASSERT_EQUAL(r.end_offset, end);
}

static void test_le_end_offset_for(void) {
    leader_epoch_cache_t *c = leader_epoch_new(NULL);
    /* Empty cache: nothing is known. */
    assert_end(c, -1, 50, -1, -1);
    assert_end(c, 0, 50, -1, -1);
    assert_end(c, 3, 50, -1, -1);
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 2, 100, NULL, 0), 1);
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 4, 200, NULL, 0), 1);
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 6, 300, NULL, 0), 1);
    assert_end(c, LEADER_EPOCH_UNDEFINED_EPOCH, 350, -1, -1); /* undefined */
    assert_end(c, 1, 350, 1, 100);     /* below the first: (requested, first start) */
    assert_end(c, 0, 350, 0, 100);
    assert_end(c, 2, 350, 2, 200);     /* known, not latest: next epoch's start */
    assert_end(c, 3, 350, 2, 200);     /* between: (floor epoch, next start) */
    assert_end(c, 4, 350, 4, 300);
    assert_end(c, 5, 350, 4, 300);
    assert_end(c, 6, 350, 6, 350);     /* latest: the log end offset passed in */
    assert_end(c, 6, 999, 6, 999);
    assert_end(c, 7, 350, -1, -1);     /* above latest */
    assert_end(c, INT32_MAX, 350, -1, -1);
    leader_epoch_free(c);

    /* A single entry. */
    c = leader_epoch_new(NULL);
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 0, 0, NULL, 0), 1);
    assert_end(c, 0, 10, 0, 10);
    assert_end(c, 1, 10, -1, -1);
    leader_epoch_free(c);
}

static void test_le_truncate_from_end(void) {
    le_fixture_t f = le_open();
    assign3(f.cache);
    CU_ASSERT_EQUAL(unlink(f.path), 0);
    /* Nothing at or after the end offset: no change, no write. */
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(f.cache, 25, NULL, 0), 0);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(f.cache, 21, NULL, 0), 0);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(f.cache, -1, NULL, 0), 0);
    CU_ASSERT_FALSE(file_exists(f.path));
    ASSERT_ENTRIES(f.cache, 1, 0, 3, 10, 5, 20);
    /* An entry starting exactly at the end offset goes. */
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(f.cache, 20, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 1, 0, 3, 10);
    assert_file_is(f.path, "0\n2\n1 0\n3 10\n");
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(f.cache, 5, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 1, 0);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(f.cache, 0, NULL, 0), 1);
    CU_ASSERT_EQUAL(leader_epoch_count(f.cache), 0);
    assert_file_is(f.path, "0\n0\n");
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(f.cache, 0, NULL, 0), 0);
    /* Several at once. */
    assign3(f.cache);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(f.cache, 1, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 1, 0);
    le_close(&f);
}

static void test_le_truncate_from_start(void) {
    le_fixture_t f = le_open();
    assign3(f.cache);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(f.cache, 5, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 1, 5, 3, 10, 5, 20);
    assert_file_is(f.path, "0\n3\n1 5\n3 10\n5 20\n");
    /* Exclusive: an entry starting exactly there is kept as it is. */
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(f.cache, 10, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 3, 10, 5, 20);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(f.cache, 15, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 3, 15, 5, 20);
    /* Beyond the last entry: the latest epoch remains, moved up. */
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(f.cache, 25, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 5, 25);
    assert_file_is(f.path, "0\n1\n5 25\n");
    /* Before every entry: nothing to do, nothing written. */
    CU_ASSERT_EQUAL(unlink(f.path), 0);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(f.cache, 24, NULL, 0), 0);
    CU_ASSERT_FALSE(file_exists(f.path));
    ASSERT_ENTRIES(f.cache, 5, 25);
    leader_epoch_clear(f.cache);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(f.cache, 24, NULL, 0), 0);
    /* Several removed at once. */
    assign3(f.cache);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(f.cache, 22, NULL, 0), 1);
    ASSERT_ENTRIES(f.cache, 5, 22);
    le_close(&f);
}

static void test_le_clear(void) {
    le_fixture_t f = le_open();
    assign3(f.cache);
    leader_epoch_clear(f.cache);
    CU_ASSERT_EQUAL(leader_epoch_count(f.cache), 0);
    CU_ASSERT_EQUAL(leader_epoch_latest_epoch(f.cache), -1);
    assert_file_is(f.path, "0\n3\n1 0\n3 10\n5 20\n"); /* memory only */
    assign3(f.cache);
    char err[256] = "";
    CU_ASSERT_EQUAL(leader_epoch_clear_and_flush(f.cache, err, sizeof err), 0);
    CU_ASSERT_EQUAL(leader_epoch_count(f.cache), 0);
    assert_file_is(f.path, "0\n0\n");
    le_close(&f);
}

static void test_le_load(void) {
    le_fixture_t f = le_open();
    assign3(f.cache);
    char err[256] = "";
    leader_epoch_cache_t *c = leader_epoch_load(f.path, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    ASSERT_ENTRIES(c, 1, 0, 3, 10, 5, 20);
    CU_ASSERT_STRING_EQUAL(leader_epoch_path(c), f.path);
    /* The loaded cache keeps writing to the same file. */
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 6, 30, err, sizeof err), 1);
    assert_file_is(f.path, "0\n4\n1 0\n3 10\n5 20\n6 30\n");
    leader_epoch_free(c);

    /* Missing file: an empty cache, and no file created. */
    char *missing = join(f.dir, "other-checkpoint");
    c = leader_epoch_load(missing, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(leader_epoch_count(c), 0);
    CU_ASSERT_FALSE(file_exists(missing));
    leader_epoch_free(c);
    free(missing);
    le_close(&f);
}

/* Entries are replayed through assign, so an out-of-order file loads as
 * what assign keeps; the file itself is not rewritten by loading. */
static void test_le_load_replays_assign(void) {
    const char *text = "0\n5\n1 0\n4 30\n3 20\n3 25\n6 10\n";
    char *dir;
    char *path = file_with(&dir, LEADER_EPOCH_CHECKPOINT_FILE, text);
    char err[256] = "";
    logger_level_t level = logger_get_level();
    logger_set_level(LOGGER_ERROR); /* the replay warns, as Kafka's does */
    leader_epoch_cache_t *c = leader_epoch_load(path, err, sizeof err);
    logger_set_level(level);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    /* (4,30) is cut by (3,20); (3,25) is ignored; (6,10) cuts (3,20). */
    ASSERT_ENTRIES(c, 1, 0, 6, 10);
    assert_file_is(path, text);
    leader_epoch_free(c);
    cleanup(dir, path);
}

static void le_load_fails(const char *text, const char *needle) {
    char *dir;
    char *path = file_with(&dir, LEADER_EPOCH_CHECKPOINT_FILE, text);
    char err[256] = "";
    CU_ASSERT_PTR_NULL(leader_epoch_load(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    if (!strstr(err, needle))
        fprintf(stderr, "\nunexpected message for %s: %s\n", text, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
    cleanup(dir, path);
}

static void test_le_load_malformed(void) {
    le_load_fails("1\n1\n0 0\n", ":1: unrecognized checkpoint version 1");
    le_load_fails("0\n2\n0 0\n", ":2: expected 2 entries, found 1");
    le_load_fails("0\n1\n0\n", ":3:");
    le_load_fails("0\n1\n0 0 0\n", "more than 2 fields");
    le_load_fails("0\n1\nx 0\n", "epoch is not a number");
    le_load_fails("0\n1\n0 y\n", "start offset is not a number");
    le_load_fails("0\n1\n-1 0\n", "epoch is negative");
    le_load_fails("0\n1\n0 -5\n", "start offset is negative");
    le_load_fails("0\n1\n2147483648 0\n", "epoch is out of range");
}

/* A deferred assign changes memory only; the file follows on the flush. */
static void test_le_assign_deferred(void) {
    char *dir = unit_mkdtemp();
    char *path = join(dir, "leader-epoch-checkpoint");
    leader_epoch_cache_t *c = leader_epoch_new(path);
    char err[256] = "";
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 0, 0, err, sizeof err), 1);
    assert_file_is(path, "0\n1\n0 0\n");
    CU_ASSERT_FALSE(leader_epoch_dirty(c));
    CU_ASSERT_EQUAL(leader_epoch_assign_deferred(c, 3, 42, err, sizeof err), 1);
    CU_ASSERT_TRUE(leader_epoch_dirty(c));
    CU_ASSERT_EQUAL(leader_epoch_latest_epoch(c), 3);
    assert_file_is(path, "0\n1\n0 0\n"); /* not written yet */
    CU_ASSERT_EQUAL(leader_epoch_assign_deferred(c, 3, 42, err, sizeof err), 0); /* no change */
    CU_ASSERT_EQUAL(leader_epoch_assign_deferred(c, -1, 42, err, sizeof err), -1);
    CU_ASSERT_EQUAL(leader_epoch_flush_if_dirty(c, err, sizeof err), 1);
    assert_file_is(path, "0\n2\n0 0\n3 42\n");
    CU_ASSERT_FALSE(leader_epoch_dirty(c));
    CU_ASSERT_EQUAL(leader_epoch_flush_if_dirty(c, err, sizeof err), 0);
    leader_epoch_free(c);
    /* memory-only caches never become dirty */
    c = leader_epoch_new(NULL);
    CU_ASSERT_EQUAL(leader_epoch_assign_deferred(c, 1, 1, err, sizeof err), 1);
    CU_ASSERT_FALSE(leader_epoch_dirty(c));
    leader_epoch_free(c);
    cleanup(dir, path);
}

/* Deferred truncations (log load and recovery) cut memory only; the file
 * keeps its entries until the flush, and a no-op leaves the cache clean. */
static void test_le_truncate_deferred(void) {
    le_fixture_t f = le_open();
    char err[256] = "";
    assign3(f.cache);
    assert_file_is(f.path, "0\n3\n1 0\n3 10\n5 20\n");
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end_deferred(f.cache, 25), 0);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_start_deferred(f.cache, 0), 0);
    CU_ASSERT_FALSE(leader_epoch_dirty(f.cache));
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end_deferred(f.cache, 20), 1);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_start_deferred(f.cache, 4), 1);
    ASSERT_ENTRIES(f.cache, 1, 4, 3, 10);
    CU_ASSERT_TRUE(leader_epoch_dirty(f.cache));
    assert_file_is(f.path, "0\n3\n1 0\n3 10\n5 20\n"); /* not written yet */
    CU_ASSERT_EQUAL(leader_epoch_flush_if_dirty(f.cache, err, sizeof err), 1);
    assert_file_is(f.path, "0\n2\n1 4\n3 10\n");
    /* the one entry of an empty partition, starting at its end */
    leader_epoch_clear_and_flush(f.cache, err, sizeof err);
    CU_ASSERT_EQUAL(leader_epoch_assign(f.cache, 0, 0, err, sizeof err), 1);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end_deferred(f.cache, 0), 1);
    CU_ASSERT_EQUAL(leader_epoch_count(f.cache), 0);
    assert_file_is(f.path, "0\n1\n0 0\n");
    CU_ASSERT_EQUAL(leader_epoch_flush_if_dirty(f.cache, err, sizeof err), 1);
    assert_file_is(f.path, "0\n0\n");
    le_close(&f);
}

/* Staged writes: nothing visible until installed; a discarded stage
 * leaves the old file; the staged name is not file_write_atomic's. */
static void test_staged_write(void) {
    char *dir;
    char *path = file_with(&dir, "cp", "0\n0\n");
    char *staged = join(dir, "cp" CHECKPOINT_STAGED_SUFFIX);
    char err[256] = "";
    CU_ASSERT_EQUAL(checkpoint_stage(path, "0\n1\n3 7\n", 8, false, err, sizeof err), 0);
    assert_file_is(path, "0\n0\n");
    assert_file_is(staged, "0\n1\n3 7\n");
    CU_ASSERT_EQUAL(checkpoint_install(path, err, sizeof err), 0);
    assert_file_is(path, "0\n1\n3 7\n");
    CU_ASSERT_FALSE(file_exists(staged));
    CU_ASSERT_EQUAL(checkpoint_sync_parent_dir(path, err, sizeof err), 0);
    /* fsynced stage, then discarded */
    CU_ASSERT_EQUAL(checkpoint_stage(path, "0\n0\n", 4, true, err, sizeof err), 0);
    checkpoint_discard(path);
    CU_ASSERT_FALSE(file_exists(staged));
    assert_file_is(path, "0\n1\n3 7\n");
    /* nothing staged: install fails and says why, the file stays */
    CU_ASSERT_EQUAL(checkpoint_install(path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot rename"));
    assert_file_is(path, "0\n1\n3 7\n");
    /* a folder that is gone: every step fails with a message */
    char *gone = join(dir, "gone/cp");
    CU_ASSERT_EQUAL(checkpoint_stage(gone, "x", 1, false, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "create failed"));
    CU_ASSERT_EQUAL(checkpoint_sync_parent_dir(gone, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "directory fsync failed"));
    free(gone);
    free(staged);
    cleanup(dir, path);
}

/* serialize gives the bytes flush writes; the version moves with every
 * change and differs between caches; mark_written cleans only the version
 * that was copied. */
static void test_le_versions(void) {
    le_fixture_t f = le_open();
    char err[256] = "";
    leader_epoch_cache_t *other = leader_epoch_new(f.path);
    CU_ASSERT_NOT_EQUAL(leader_epoch_version(f.cache), leader_epoch_version(other));
    uint64_t v0 = leader_epoch_version(f.cache);
    CU_ASSERT_EQUAL(leader_epoch_assign_deferred(f.cache, 2, 5, err, sizeof err), 1);
    uint64_t v1 = leader_epoch_version(f.cache);
    CU_ASSERT_NOT_EQUAL(v1, v0);
    CU_ASSERT_EQUAL(leader_epoch_assign_deferred(f.cache, 2, 9, err, sizeof err), 0); /* no change */
    CU_ASSERT_EQUAL(leader_epoch_version(f.cache), v1);
    buf_t text = BUF_INIT;
    leader_epoch_serialize(f.cache, &text);
    CU_ASSERT_EQUAL(text.len, 8);
    CU_ASSERT_EQUAL(memcmp(text.data, "0\n1\n2 5\n", 8), 0);
    buf_free(&text);
    /* changed after the copy: stays dirty */
    CU_ASSERT_EQUAL(leader_epoch_assign_deferred(f.cache, 3, 6, err, sizeof err), 1);
    leader_epoch_mark_written(f.cache, v1);
    CU_ASSERT_TRUE(leader_epoch_dirty(f.cache));
    leader_epoch_mark_written(f.cache, leader_epoch_version(f.cache));
    CU_ASSERT_FALSE(leader_epoch_dirty(f.cache));
    /* truncations and clear move it too */
    uint64_t v2 = leader_epoch_version(f.cache);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(f.cache, 6, err, sizeof err), 1);
    CU_ASSERT_NOT_EQUAL(leader_epoch_version(f.cache), v2);
    v2 = leader_epoch_version(f.cache);
    leader_epoch_clear(f.cache);
    CU_ASSERT_NOT_EQUAL(leader_epoch_version(f.cache), v2);
    leader_epoch_free(other);
    le_close(&f);
}

static void test_le_memory_only(void) {
    leader_epoch_cache_t *c = leader_epoch_new(NULL);
    CU_ASSERT_PTR_NULL(leader_epoch_path(c));
    assign3(c);
    char err[256] = "";
    CU_ASSERT_EQUAL(leader_epoch_flush(c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(c, 10, err, sizeof err), 1);
    ASSERT_ENTRIES(c, 1, 0);
    CU_ASSERT_EQUAL(leader_epoch_clear_and_flush(c, err, sizeof err), 0);
    leader_epoch_free(c);
    leader_epoch_free(NULL);
}

/* A failed write is reported; memory already holds the change (Kafka takes
 * the log dir offline at that point). */
static void test_le_flush_error(void) {
    char *dir = unit_mkdtemp();
    char *path = join(dir, "gone/leader-epoch-checkpoint");
    leader_epoch_cache_t *c = leader_epoch_new(path);
    char err[256] = "";
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 1, 0, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "gone/leader-epoch-checkpoint.tmp"));
    ASSERT_ENTRIES(c, 1, 0);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(c, 3, err, sizeof err), -1);
    CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(c, 0, err, sizeof err), -1);
    CU_ASSERT_EQUAL(leader_epoch_clear_and_flush(c, err, sizeof err), -1);
    leader_epoch_free(c);
    cleanup(dir, path);
}

/* --- meta.properties --------------------------------------------------------------------------- */

#define SEP_15_2020_12_26_40_MS 1600172800000LL

static void test_mp_format_exact(void) {
    meta_properties_t mp;
    meta_properties_init(&mp);
    mp.has_broker_id = true;
    mp.broker_id = 1;
    meta_properties_set_cluster_id(&mp, "X3E3uS1tS0CJxkm6hvFc8g");
    buf_t out = BUF_INIT;
    char err[256] = "";
    CU_ASSERT_EQUAL(meta_properties_format(&mp, SEP_15_2020_12_26_40_MS + 999, &out, err, sizeof err), 0);
    buf_append(&out, "", 1);
    CU_ASSERT_STRING_EQUAL((char *)out.data, "#\n"
                                             "#Tue Sep 15 12:26:40 UTC 2020\n"
                                             "broker.id=1\n"
                                             "version=0\n"
                                             "cluster.id=X3E3uS1tS0CJxkm6hvFc8g\n");
    /* Without a cluster id (never registered), another date and broker. */
    buf_reset(&out);
    meta_properties_set_cluster_id(&mp, NULL);
    mp.broker_id = 1002;
    CU_ASSERT_EQUAL(meta_properties_format(&mp, 1614906123000LL, &out, err, sizeof err), 0);
    buf_append(&out, "", 1);
    CU_ASSERT_STRING_EQUAL((char *)out.data, "#\n#Fri Mar 05 01:02:03 UTC 2021\nbroker.id=1002\nversion=0\n");
    buf_free(&out);
    meta_properties_free(&mp);
    CU_ASSERT_PTR_NULL(mp.cluster_id);
    CU_ASSERT_FALSE(mp.has_broker_id);
}

static void test_mp_format_escapes(void) {
    meta_properties_t mp;
    meta_properties_init(&mp);
    mp.has_broker_id = true;
    mp.broker_id = 0;
    meta_properties_set_cluster_id(&mp, " a=b:c#d!e\\f g");
    buf_t out = BUF_INIT;
    char err[256] = "";
    CU_ASSERT_EQUAL(meta_properties_format(&mp, 0, &out, err, sizeof err), 0);
    buf_append(&out, "", 1);
    CU_ASSERT_STRING_EQUAL((char *)out.data, "#\n#Thu Jan 01 00:00:00 UTC 1970\nbroker.id=0\nversion=0\n"
                                             "cluster.id=\\ a\\=b\\:c\\#d\\!e\\\\f g\n");
    /* And it parses back to the same id. */
    meta_properties_t back;
    CU_ASSERT_EQUAL(meta_properties_parse((char *)out.data, out.len - 1, "t", &back, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back.cluster_id);
    CU_ASSERT_STRING_EQUAL(back.cluster_id, " a=b:c#d!e\\f g");
    meta_properties_free(&back);

    buf_reset(&out);
    meta_properties_set_cluster_id(&mp, "caf\xc3\xa9");
    CU_ASSERT_EQUAL(meta_properties_format(&mp, 0, &out, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "0xc3"));
    CU_ASSERT_EQUAL(out.len, 0);
    buf_free(&out);
    meta_properties_free(&mp);
}

static void test_mp_write_read(void) {
    char *dir = unit_mkdtemp();
    char *path = join(dir, META_PROPERTIES_FILE);
    char *tmp = join(dir, META_PROPERTIES_FILE ".tmp");
    meta_properties_t mp, back;
    meta_properties_init(&mp);
    mp.has_broker_id = true;
    mp.broker_id = 3;
    meta_properties_set_cluster_id(&mp, "yhFnqaHiQO2k3CdVrzZHnw");
    char err[256] = "";
    CU_ASSERT_EQUAL(meta_properties_write(dir, &mp, SEP_15_2020_12_26_40_MS, err, sizeof err), 0);
    assert_file_is(path, "#\n#Tue Sep 15 12:26:40 UTC 2020\nbroker.id=3\nversion=0\n"
                         "cluster.id=yhFnqaHiQO2k3CdVrzZHnw\n");
    CU_ASSERT_FALSE(file_exists(tmp));
    CU_ASSERT_EQUAL(meta_properties_read(dir, &back, err, sizeof err), 1);
    CU_ASSERT_EQUAL(back.version, 0);
    CU_ASSERT_TRUE(back.has_broker_id);
    CU_ASSERT_EQUAL(back.broker_id, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back.cluster_id);
    CU_ASSERT_STRING_EQUAL(back.cluster_id, "yhFnqaHiQO2k3CdVrzZHnw");
    meta_properties_free(&back);

    /* A refused cluster id writes nothing and names the file. */
    meta_properties_set_cluster_id(&mp, "bad\nid");
    CU_ASSERT_EQUAL(meta_properties_write(dir, &mp, 0, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "outside printable ASCII"));
    assert_file_is(path, "#\n#Tue Sep 15 12:26:40 UTC 2020\nbroker.id=3\nversion=0\n"
                         "cluster.id=yhFnqaHiQO2k3CdVrzZHnw\n");
    meta_properties_free(&mp);
    free(tmp);
    cleanup(dir, path);
}

/* Reads text as <dir>/meta.properties; expects rc, and err to hold needle. */
static void mp_read_text(const char *text, int rc, const char *needle, meta_properties_t *out) {
    char *dir;
    char *path = file_with(&dir, META_PROPERTIES_FILE, text);
    char err[512] = "";
    CU_ASSERT_EQUAL(meta_properties_read(dir, out, err, sizeof err), rc);
    if (needle) {
        if (!strstr(err, needle))
            fprintf(stderr, "\nunexpected message for %s: %s\n", text, err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    }
    cleanup(dir, path);
}

static void test_mp_read_forms(void) {
    meta_properties_t mp;
    /* Java 8's order, no date line, spaces around '=', an unknown key. */
    mp_read_text("#\ncluster.id = abc\nversion=0\nfoo.bar=1\nbroker.id : 7\n", 1, NULL, &mp);
    CU_ASSERT_EQUAL(mp.version, 0);
    CU_ASSERT_TRUE(mp.has_broker_id);
    CU_ASSERT_EQUAL(mp.broker_id, 7);
    CU_ASSERT_STRING_EQUAL(mp.cluster_id, "abc");
    meta_properties_free(&mp);
    /* No version: 0. No cluster id: absent. CRLF line ends. */
    mp_read_text("broker.id=-1\r\n", 1, NULL, &mp);
    CU_ASSERT_EQUAL(mp.version, 0);
    CU_ASSERT_EQUAL(mp.broker_id, -1);
    CU_ASSERT_PTR_NULL(mp.cluster_id);
    meta_properties_free(&mp);
    /* Only comments: read, nothing set. */
    mp_read_text("#\n#Tue Sep 15 12:26:40 UTC 2020\n", 1, NULL, &mp);
    CU_ASSERT_FALSE(mp.has_broker_id);
    CU_ASSERT_PTR_NULL(mp.cluster_id);
    meta_properties_free(&mp);
    /* The last of a repeated key wins; other versions are read as they are. */
    mp_read_text("version=1\ncluster.id=a\ncluster.id=b\nbroker.id=+5\n", 1, NULL, &mp);
    CU_ASSERT_EQUAL(mp.version, 1);
    CU_ASSERT_EQUAL(mp.broker_id, 5);
    CU_ASSERT_STRING_EQUAL(mp.cluster_id, "b");
    meta_properties_free(&mp);
    mp_read_text("broker.id=2147483647\n", 1, NULL, &mp);
    CU_ASSERT_EQUAL(mp.broker_id, INT32_MAX);
    meta_properties_free(&mp);
    mp_read_text("broker.id=-2147483648\n", 1, NULL, &mp);
    CU_ASSERT_EQUAL(mp.broker_id, INT32_MIN);
    meta_properties_free(&mp);
}

static void test_mp_read_malformed(void) {
    meta_properties_t mp;
    mp_read_text("broker.id=abc\n", -1,
                 ":1: Failed to parse broker.id property as an int: For input string: \"abc\"", &mp);
    meta_properties_free(&mp);
    mp_read_text("#\nbroker.id=2147483648\n", -1, ":2: Failed to parse broker.id", &mp);
    meta_properties_free(&mp);
    mp_read_text("broker.id=\n", -1, "For input string: \"\"", &mp);
    meta_properties_free(&mp);
    mp_read_text("broker.id=-\n", -1, "For input string: \"-\"", &mp);
    meta_properties_free(&mp);
    mp_read_text("version=zero\n", -1, "Failed to parse version property as an int", &mp);
    meta_properties_free(&mp);
    mp_read_text("cluster.id=\\u12\n", -1, "\\uXXXX", &mp);
    meta_properties_free(&mp);
}

static void test_mp_read_missing_and_tmp(void) {
    char *dir = unit_mkdtemp();
    char *path = join(dir, META_PROPERTIES_FILE);
    char *tmp = join(dir, META_PROPERTIES_FILE ".tmp");
    meta_properties_t mp;
    char err[256] = "";
    CU_ASSERT_EQUAL(meta_properties_read(dir, &mp, err, sizeof err), 0);
    CU_ASSERT_FALSE(mp.has_broker_id);
    CU_ASSERT_PTR_NULL(mp.cluster_id);
    CU_ASSERT_EQUAL(meta_properties_check(dir, 5, "c", err, sizeof err), META_PROPERTIES_OK);

    /* Crash between writing the .tmp and the rename: the old file stands,
     * and the leftover .tmp is removed by the read, as Kafka does. */
    meta_properties_init(&mp);
    mp.has_broker_id = true;
    mp.broker_id = 4;
    meta_properties_set_cluster_id(&mp, "old");
    CU_ASSERT_EQUAL_FATAL(meta_properties_write(dir, &mp, 0, err, sizeof err), 0);
    meta_properties_free(&mp);
    put_file(tmp, "broker.id=99\ncluster.id=new");
    CU_ASSERT_EQUAL(meta_properties_read(dir, &mp, err, sizeof err), 1);
    CU_ASSERT_EQUAL(mp.broker_id, 4);
    CU_ASSERT_STRING_EQUAL(mp.cluster_id, "old");
    CU_ASSERT_FALSE(file_exists(tmp));
    meta_properties_free(&mp);

    /* A stale .tmp at write time is overwritten. */
    put_file(tmp, "garbage that is longer than the new file would be, surely it is, yes\n\n\n\n");
    mp.has_broker_id = true;
    mp.broker_id = 5;
    CU_ASSERT_EQUAL(meta_properties_write(dir, &mp, 0, err, sizeof err), 0);
    assert_file_is(path, "#\n#Thu Jan 01 00:00:00 UTC 1970\nbroker.id=5\nversion=0\n");
    CU_ASSERT_FALSE(file_exists(tmp));
    meta_properties_free(&mp);
    free(tmp);
    cleanup(dir, path);
}

/* Writes meta.properties text into a fresh dir, runs the check, expects
 * res and (when given) the exact message after "<path>: ". */
static void check_case(const char *text, int32_t broker_id, const char *cluster_id,
                       meta_properties_check_t res, const char *message) {
    char *dir;
    char *path = file_with(&dir, META_PROPERTIES_FILE, text);
    char err[1024] = "";
    CU_ASSERT_EQUAL(meta_properties_check(dir, broker_id, cluster_id, err, sizeof err), res);
    if (message) {
        char expected[1024];
        snprintf(expected, sizeof expected, "%s: %s", path, message);
        CU_ASSERT_STRING_EQUAL(err, expected);
    }
    cleanup(dir, path);
}

static void test_mp_check(void) {
    const char *file = "#\n#Tue Sep 15 12:26:40 UTC 2020\nbroker.id=1\nversion=0\ncluster.id=X3E3uS1tS0CJxkm6hvFc8g\n";
    check_case(file, 1, "X3E3uS1tS0CJxkm6hvFc8g", META_PROPERTIES_OK, NULL);
    check_case(file, -1, "X3E3uS1tS0CJxkm6hvFc8g", META_PROPERTIES_OK, NULL); /* id not configured */
    check_case(file, 1, NULL, META_PROPERTIES_OK, NULL);                       /* cluster unknown */
    check_case("broker.id=1\n", 1, "any", META_PROPERTIES_OK, NULL);           /* no stored cluster */
    check_case("cluster.id=c\n", 9, "c", META_PROPERTIES_OK, NULL);            /* no stored broker */
    check_case(file, 2, "X3E3uS1tS0CJxkm6hvFc8g", META_PROPERTIES_ERR_BROKER_ID,
               "Configured broker.id 2 doesn't match stored broker.id Some(1) in meta.properties. "
               "If you moved your data, make sure your configured broker.id matches. If you intend "
               "to create a new broker, you should remove all data in your data directories "
               "(log.dirs).");
    check_case(file, 1, "OkOjGPrdRimp8nkFohYkCw", META_PROPERTIES_ERR_CLUSTER_ID,
               "The Cluster ID OkOjGPrdRimp8nkFohYkCw doesn't match stored clusterId "
               "Some(X3E3uS1tS0CJxkm6hvFc8g) in meta.properties. The broker is trying to join the "
               "wrong cluster. Configured zookeeper.connect may be wrong.");
    /* Both wrong: the cluster is checked first, as in KafkaServer.startup. */
    check_case(file, 2, "other", META_PROPERTIES_ERR_CLUSTER_ID, NULL);
    check_case("version=1\nbroker.id=1\ncluster.id=c\n", 1, "c", META_PROPERTIES_ERR_VERSION,
               "Found unexpected version in loaded `meta.properties`: {broker.id=1, cluster.id=c, "
               "version=1}. Zk-based brokers only support version 0 (which is implicit when the "
               "`version` field is missing).");
    check_case("version=1\n", 1, "c", META_PROPERTIES_ERR_VERSION,
               "Found unexpected version in loaded `meta.properties`: {version=1}. Zk-based "
               "brokers only support version 0 (which is implicit when the `version` field is "
               "missing).");
    check_case("broker.id=x\n", 1, "c", META_PROPERTIES_ERR_READ, NULL);
}

void unit_register(void) {
    static const unit_test_t checkpoint_tests[] = {
        {"offsets: exact bytes written", test_offsets_write_exact},
        {"offsets: invalid entries refused on write", test_offsets_write_refuses_invalid},
        {"generic write", test_generic_write},
        {"offsets: round trip and find", test_offsets_roundtrip},
        {"read: missing/empty forms are no entries", test_read_empty_forms},
        {"read: line endings and whitespace", test_read_line_endings},
        {"read: duplicate entries, last wins", test_read_duplicates_last_wins},
        {"read: bad version", test_read_bad_version},
        {"read: count mismatch", test_read_bad_count},
        {"read: malformed entries", test_read_malformed_entries},
        {"read: long bad line quoted briefly", test_read_long_line_quoted_briefly},
        {"read: I/O errors", test_read_errors_io},
        {"generic read callback", test_generic_read},
        {"parse number", test_parse_number},
        {"file: read whole, bounded, missing", test_file_read_all},
        {"atomic: stale .tmp overwritten", test_stale_tmp_overwritten},
        {"atomic: crash before rename", test_crash_before_rename},
        {"atomic: failed write leaves target", test_write_error_leaves_target},
        {"atomic: relative path", test_write_relative_path},
        {"staged: stage, install, discard", test_staged_write},
        {NULL, NULL},
    };
    static const unit_test_t leader_epoch_tests[] = {
        {"exact file bytes", test_le_file_exact},
        {"assign: monotonic", test_le_assign_monotonic},
        {"assign: lower epoch/offset truncates", test_le_assign_truncates},
        {"assign: negative refused", test_le_assign_invalid},
        {"end_offset_for", test_le_end_offset_for},
        {"truncate_from_end", test_le_truncate_from_end},
        {"truncate_from_start", test_le_truncate_from_start},
        {"clear / clear_and_flush", test_le_clear},
        {"load", test_le_load},
        {"load replays assign", test_le_load_replays_assign},
        {"load malformed", test_le_load_malformed},
        {"memory only", test_le_memory_only},
        {"deferred assign: written on flush", test_le_assign_deferred},
        {"deferred truncations: written on flush", test_le_truncate_deferred},
        {"flush error", test_le_flush_error},
        {"versions, serialize, mark_written", test_le_versions},
        {NULL, NULL},
    };
    static const unit_test_t meta_tests[] = {
        {"format: exact bytes", test_mp_format_exact},
        {"format: escapes", test_mp_format_escapes},
        {"write and read", test_mp_write_read},
        {"read: accepted forms", test_mp_read_forms},
        {"read: malformed", test_mp_read_malformed},
        {"read: missing file, stale .tmp", test_mp_read_missing_and_tmp},
        {"check: mismatches", test_mp_check},
        {NULL, NULL},
    };
    unit_add_suite("checkpoint", checkpoint_tests);
    unit_add_suite("leader_epoch", leader_epoch_tests);
    unit_add_suite("meta_properties", meta_tests);
}
