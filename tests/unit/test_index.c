/* The offset index (.index) and the time index (.timeindex): lookups at every
 * boundary, Kafka's append rules, persistence across close/open (entries =
 * length / entry size), trim on roll, resize, truncate_to, sanity checks. */
#include "unit.h"

#include "util/endian.h"
#include "log/index.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BASE 1000

static char *tmp_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void write_file(const char *path, const uint8_t *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL_FATAL(write(fd, data, len), (ssize_t)len);
    close(fd);
}

#define ASSERT_OP(op, o, p)                                                                                  \
    do {                                                                                                     \
        offset_position_t _r = (op);                                                                         \
        CU_ASSERT_EQUAL(_r.offset, (o));                                                                     \
        CU_ASSERT_EQUAL(_r.position, (uint32_t)(p));                                                         \
    } while (0)

#define ASSERT_TO(op, t, o)                                                                                  \
    do {                                                                                                     \
        timestamp_offset_t _r = (op);                                                                        \
        CU_ASSERT_EQUAL(_r.timestamp, (t));                                                                  \
        CU_ASSERT_EQUAL(_r.offset, (o));                                                                     \
    } while (0)

/* --- offset index --------------------------------------------------------- */

/* Entries (1010, 100), (1020, 200), ..., (1000 + 10n, 100n). */
static void fill_offsets(offset_index_t *idx, int n) {
    for (int i = 1; i <= n; i++)
        CU_ASSERT_TRUE(offset_index_append(idx, BASE + 10 * i, (uint32_t)(100 * i)));
}

static void test_offset_create_and_lookup(void) {
    char *dir = unit_mkdtemp();
    char *path = tmp_path(dir, "00000000000000001000.index");
    offset_index_t idx;
    bool created = false;
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 4096 + 5, &created), KERR_NONE);
    CU_ASSERT_TRUE(created);
    CU_ASSERT_EQUAL(file_size(path), 4096); /* preallocated, rounded down to 8 */
    CU_ASSERT_EQUAL(idx.file.max_entries, 512);
    CU_ASSERT_EQUAL(idx.file.entries, 0);
    CU_ASSERT_EQUAL(offset_index_last_offset(&idx), BASE);
    CU_ASSERT_PTR_NULL(offset_index_sanity_check(&idx));

    /* empty index: always (base, 0) */
    ASSERT_OP(offset_index_lookup(&idx, BASE), BASE, 0);
    ASSERT_OP(offset_index_lookup(&idx, 5000), BASE, 0);
    ASSERT_OP(offset_index_lookup(&idx, 0), BASE, 0);

    fill_offsets(&idx, 3);
    CU_ASSERT_EQUAL(idx.file.entries, 3);
    CU_ASSERT_EQUAL(offset_index_last_offset(&idx), 1030);
    ASSERT_OP(offset_index_lookup(&idx, 0), BASE, 0);       /* below the base */
    ASSERT_OP(offset_index_lookup(&idx, BASE), BASE, 0);    /* before the first entry */
    ASSERT_OP(offset_index_lookup(&idx, 1009), BASE, 0);
    ASSERT_OP(offset_index_lookup(&idx, 1010), 1010, 100); /* exact hits */
    ASSERT_OP(offset_index_lookup(&idx, 1020), 1020, 200);
    ASSERT_OP(offset_index_lookup(&idx, 1030), 1030, 300);
    ASSERT_OP(offset_index_lookup(&idx, 1011), 1010, 100); /* between */
    ASSERT_OP(offset_index_lookup(&idx, 1029), 1020, 200);
    ASSERT_OP(offset_index_lookup(&idx, 1031), 1030, 300); /* after the last */
    ASSERT_OP(offset_index_lookup(&idx, INT64_MAX), 1030, 300);
    ASSERT_OP(offset_index_entry(&idx, 1), 1020, 200);

    /* the bytes are Kafka's: int32 relative offset, int32 position, big-endian */
    CU_ASSERT_EQUAL(be32_load(idx.file.data + 8), 20u);
    CU_ASSERT_EQUAL(be32_load(idx.file.data + 12), 200u);

    CU_ASSERT_EQUAL(index_file_delete(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), -1);
    free(path);
    unit_rmtree(dir);
    free(dir);
}

/* Every lookup over indexes of 1..40 entries (odd and even sizes exercise
 * both halves of the binary search). */
static void test_offset_lookup_all_sizes(void) {
    char *dir = unit_mkdtemp();
    char *path = tmp_path(dir, "x.index");
    for (int n = 1; n <= 40; n++) {
        offset_index_t idx;
        CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 8 * 64, NULL), KERR_NONE);
        fill_offsets(&idx, n);
        for (int64_t t = BASE - 2; t <= BASE + 10 * n + 12; t++) {
            int64_t k = (t - BASE) / 10; /* entries 1..n hold BASE + 10k */
            if (t < BASE + 10)
                ASSERT_OP(offset_index_lookup(&idx, t), BASE, 0);
            else if (k > n)
                ASSERT_OP(offset_index_lookup(&idx, t), BASE + 10 * n, 100 * n);
            else
                ASSERT_OP(offset_index_lookup(&idx, t), BASE + 10 * k, 100 * k);
        }
        CU_ASSERT_EQUAL(index_file_delete(&idx.file), KERR_NONE);
    }
    free(path);
    unit_rmtree(dir);
    free(dir);
}

static void test_offset_append_rules(void) {
    char *dir = unit_mkdtemp();
    char *path = tmp_path(dir, "x.index");
    offset_index_t idx;
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 8 * 4 + 7, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(idx.file.max_entries, 4);
    CU_ASSERT_FALSE(offset_index_append(&idx, BASE - 1, 0));                     /* below base */
    CU_ASSERT_FALSE(offset_index_append(&idx, BASE + (int64_t)INT32_MAX + 1, 0)); /* not relative */
    CU_ASSERT_TRUE(offset_index_append(&idx, BASE, 0)); /* first entry may be the base */
    CU_ASSERT_FALSE(offset_index_append(&idx, BASE, 10)); /* not greater */
    CU_ASSERT_TRUE(offset_index_append(&idx, BASE + 5, 50));
    CU_ASSERT_FALSE(offset_index_append(&idx, BASE + 4, 60));
    CU_ASSERT_TRUE(offset_index_append(&idx, BASE + 6, 60));
    CU_ASSERT_FALSE(offset_index_full(&idx));
    CU_ASSERT_TRUE(offset_index_append(&idx, BASE + (int64_t)INT32_MAX, 70));
    CU_ASSERT_TRUE(offset_index_full(&idx));
    CU_ASSERT_FALSE(offset_index_append(&idx, BASE + (int64_t)INT32_MAX + 1, 80)); /* full */
    CU_ASSERT_EQUAL(idx.file.entries, 4);
    /* lookups on a full index */
    ASSERT_OP(offset_index_lookup(&idx, BASE), BASE, 0);
    ASSERT_OP(offset_index_lookup(&idx, BASE + 5), BASE + 5, 50);
    ASSERT_OP(offset_index_lookup(&idx, BASE + 1000), BASE + 6, 60);
    ASSERT_OP(offset_index_lookup(&idx, BASE + (int64_t)INT32_MAX), BASE + (int64_t)INT32_MAX, 70);
    ASSERT_OP(offset_index_lookup(&idx, INT64_MAX), BASE + (int64_t)INT32_MAX, 70);
    CU_ASSERT_TRUE(index_file_can_append_offset(&idx.file, BASE));
    CU_ASSERT_FALSE(index_file_can_append_offset(&idx.file, BASE - 1));
    CU_ASSERT_EQUAL(index_file_delete(&idx.file), KERR_NONE);
    free(path);
    unit_rmtree(dir);
    free(dir);
}

/* Close trims to entries × 8; reopen loads entries = length / 8 (and is full
 * until resized, like Kafka's loaded index); resize to the maximum reopens it
 * for appends. */
static void test_offset_persistence(void) {
    char *dir = unit_mkdtemp();
    char *path = tmp_path(dir, "x.index");
    offset_index_t idx;
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 4096, NULL), KERR_NONE);
    fill_offsets(&idx, 7);
    CU_ASSERT_EQUAL(index_file_close(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), 56);

    bool created = true;
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 4096, &created), KERR_NONE);
    CU_ASSERT_FALSE(created);
    CU_ASSERT_EQUAL(idx.file.entries, 7);
    CU_ASSERT_EQUAL(idx.file.max_entries, 7);
    CU_ASSERT_TRUE(offset_index_full(&idx));
    CU_ASSERT_EQUAL(offset_index_last_offset(&idx), 1070);
    CU_ASSERT_PTR_NULL(offset_index_sanity_check(&idx));
    for (int i = 1; i <= 7; i++)
        ASSERT_OP(offset_index_entry(&idx, (uint32_t)(i - 1)), BASE + 10 * i, 100 * i);
    ASSERT_OP(offset_index_lookup(&idx, 1055), 1050, 500);
    CU_ASSERT_FALSE(offset_index_append(&idx, 1080, 800)); /* full */

    CU_ASSERT_EQUAL(index_file_resize(&idx.file, 4096), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), 4096);
    CU_ASSERT_EQUAL(idx.file.entries, 7);
    CU_ASSERT_EQUAL(idx.file.max_entries, 512);
    CU_ASSERT_TRUE(offset_index_append(&idx, 1080, 800));
    ASSERT_OP(offset_index_lookup(&idx, 1085), 1080, 800);
    ASSERT_OP(offset_index_lookup(&idx, 1079), 1070, 700);

    /* trim on roll */
    CU_ASSERT_EQUAL(index_file_trim_to_valid_size(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), 64);
    CU_ASSERT_EQUAL(idx.file.max_entries, 8);
    CU_ASSERT_TRUE(offset_index_full(&idx));
    ASSERT_OP(offset_index_lookup(&idx, 1085), 1080, 800);

    /* reset: no entries, maximum size */
    CU_ASSERT_EQUAL(index_file_reset(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(idx.file.entries, 0);
    CU_ASSERT_EQUAL(file_size(path), 4096);
    ASSERT_OP(offset_index_lookup(&idx, 1085), BASE, 0);
    CU_ASSERT_EQUAL(index_file_close(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), 0);

    /* an empty file loads as an empty index */
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 4096, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(idx.file.entries, 0);
    CU_ASSERT_PTR_NULL(offset_index_sanity_check(&idx));
    ASSERT_OP(offset_index_lookup(&idx, 1085), BASE, 0);
    CU_ASSERT_EQUAL(index_file_close(&idx.file), KERR_NONE);
    free(path);
    unit_rmtree(dir);
    free(dir);
}

static void test_offset_truncate_to(void) {
    char *dir = unit_mkdtemp();
    char *path = tmp_path(dir, "x.index");
    offset_index_t idx;
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 4096, NULL), KERR_NONE);
    /* truncate to every offset around the entries 1010..1050 */
    for (int64_t t = BASE - 1; t <= 1062; t++) {
        index_file_truncate_to(&idx.file, BASE - 100); /* empty it */
        CU_ASSERT_EQUAL(idx.file.entries, 0);
        fill_offsets(&idx, 5);
        index_file_truncate_to(&idx.file, t);
        /* entries with offset >= t are gone */
        uint32_t want = t <= 1010 ? 0 : t > 1050 ? 5 : (uint32_t)((t - 1001) / 10);
        CU_ASSERT_EQUAL(idx.file.entries, want);
        CU_ASSERT_EQUAL(offset_index_last_offset(&idx), want ? BASE + 10 * (int64_t)want : BASE);
        ASSERT_OP(offset_index_lookup(&idx, 2000), want ? BASE + 10 * (int64_t)want : BASE, 100 * want);
    }
    /* appends continue after a truncation, from the new last entry */
    index_file_truncate_to(&idx.file, 1030);
    CU_ASSERT_FALSE(offset_index_append(&idx, 1020, 250));
    CU_ASSERT_TRUE(offset_index_append(&idx, 1025, 250));
    ASSERT_OP(offset_index_lookup(&idx, 1049), 1025, 250);
    CU_ASSERT_EQUAL(index_file_close(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), 24);
    free(path);
    unit_rmtree(dir);
    free(dir);
}

static void test_offset_sanity(void) {
    char *dir = unit_mkdtemp();
    char *path = tmp_path(dir, "x.index");
    offset_index_t idx;
    uint8_t raw[24];

    /* length not a multiple of 8 */
    memset(raw, 0, sizeof raw);
    be32_store(raw, 5);
    be32_store(raw + 4, 100);
    write_file(path, raw, 12);
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 4096, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(idx.file.entries, 1);
    CU_ASSERT_PTR_NOT_NULL(offset_index_sanity_check(&idx));
    index_file_release(&idx.file);

    /* last offset below the base (negative relative offset) */
    be32_store(raw + 8, (uint32_t)-3);
    be32_store(raw + 12, 200);
    write_file(path, raw, 16);
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 4096, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(offset_index_last_offset(&idx), BASE - 3);
    CU_ASSERT_PTR_NOT_NULL(offset_index_sanity_check(&idx));
    index_file_release(&idx.file);

    /* a sane file: (5, 100), (9, 200), (12, 300) */
    be32_store(raw + 8, 9);
    be32_store(raw + 16, 12);
    be32_store(raw + 20, 300);
    write_file(path, raw, 24);
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 4096, NULL), KERR_NONE);
    CU_ASSERT_PTR_NULL(offset_index_sanity_check(&idx));
    index_file_release(&idx.file);

    /* a crash before the trim leaves the preallocated zero tail: every byte
     * loads as an entry and the tail does not increase */
    unlink(path);
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 800, NULL), KERR_NONE);
    fill_offsets(&idx, 3);
    index_file_release(&idx.file); /* no trim */
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, path, BASE, 800, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(idx.file.entries, 100);
    CU_ASSERT_PTR_NOT_NULL(offset_index_sanity_check(&idx));
    /* reset makes it usable again */
    CU_ASSERT_EQUAL(index_file_reset(&idx.file), KERR_NONE);
    CU_ASSERT_PTR_NULL(offset_index_sanity_check(&idx));
    CU_ASSERT_EQUAL(idx.file.entries, 0);
    CU_ASSERT_EQUAL(index_file_close(&idx.file), KERR_NONE);
    free(path);
    unit_rmtree(dir);
    free(dir);
}

/* --- time index ----------------------------------------------------------- */

static void test_time_append_rules(void) {
    char *dir = unit_mkdtemp();
    char *path = tmp_path(dir, "00000000000000001000.timeindex");
    time_index_t idx;
    bool created = false;
    CU_ASSERT_EQUAL_FATAL(time_index_open(&idx, path, BASE, 12 * 100 + 11, &created), KERR_NONE);
    CU_ASSERT_TRUE(created);
    CU_ASSERT_EQUAL(file_size(path), 1200);
    CU_ASSERT_EQUAL(idx.file.max_entries, 100);
    ASSERT_TO(time_index_last_entry(&idx), -1, BASE);

    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, -1, BASE, false), 0); /* not > -1 */
    CU_ASSERT_EQUAL(idx.file.entries, 0);
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 0, BASE + 2, false), 1);
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 0, BASE + 5, false), 0); /* equal timestamp */
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 500, BASE + 5, false), 1);
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 500, BASE + 5, true), 0); /* the same entry again */
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 400, BASE + 9, false), -1); /* timestamp backwards */
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 600, BASE + 4, false), -1); /* offset backwards */
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 600, BASE + 5, false), 1); /* same offset, larger ts */
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 700, BASE - 1, false), -1);
    CU_ASSERT_EQUAL(idx.file.entries, 3);
    ASSERT_TO(time_index_last_entry(&idx), 600, BASE + 5);
    ASSERT_TO(time_index_entry(&idx, 0), 0, BASE + 2);
    /* Kafka's bytes: int64 timestamp, int32 relative offset */
    CU_ASSERT_EQUAL(be64_load(idx.file.data + 12), 500u);
    CU_ASSERT_EQUAL(be32_load(idx.file.data + 20), 5u);
    CU_ASSERT_EQUAL(index_file_delete(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), -1);
    free(path);
    unit_rmtree(dir);
    free(dir);
}

/* Entries (100, 1010), (200, 1020), ..., (100n, 1000 + 10n). */
static void fill_times(time_index_t *idx, int n) {
    for (int i = 1; i <= n; i++)
        CU_ASSERT_EQUAL(time_index_maybe_append(idx, 100 * i, BASE + 10 * i, false), 1);
}

static void test_time_lookup(void) {
    char *dir = unit_mkdtemp();
    char *path = tmp_path(dir, "x.timeindex");
    for (int n = 0; n <= 20; n++) {
        time_index_t idx;
        CU_ASSERT_EQUAL_FATAL(time_index_open(&idx, path, BASE, 12 * 64, NULL), KERR_NONE);
        fill_times(&idx, n);
        for (int64_t t = -2; t <= 100 * n + 120; t++) {
            int64_t k = t / 100;
            if (t < 100 || n == 0)
                ASSERT_TO(time_index_lookup(&idx, t), -1, BASE);
            else if (k > n)
                ASSERT_TO(time_index_lookup(&idx, t), 100 * n, BASE + 10 * n);
            else
                ASSERT_TO(time_index_lookup(&idx, t), 100 * k, BASE + 10 * k);
        }
        ASSERT_TO(time_index_lookup(&idx, INT64_MIN), -1, BASE);
        CU_ASSERT_EQUAL(index_file_delete(&idx.file), KERR_NONE);
    }
    free(path);
    unit_rmtree(dir);
    free(dir);
}

/* Full at max - 1 entries; the last slot is for the entry written at roll
 * (skip_full_check); beyond it nothing is written. */
static void test_time_full(void) {
    char *dir = unit_mkdtemp();
    char *path = tmp_path(dir, "x.timeindex");
    time_index_t idx;
    CU_ASSERT_EQUAL_FATAL(time_index_open(&idx, path, BASE, 12 * 4, NULL), KERR_NONE);
    fill_times(&idx, 3);
    CU_ASSERT_TRUE(time_index_full(&idx));
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 400, 1040, false), -1);
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 400, 1040, true), 1);
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 500, 1050, true), -1);
    CU_ASSERT_EQUAL(idx.file.entries, 4);
    ASSERT_TO(time_index_lookup(&idx, 450), 400, 1040);
    ASSERT_TO(time_index_lookup(&idx, 150), 100, 1010);
    CU_ASSERT_EQUAL(index_file_close(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), 48);
    free(path);
    unit_rmtree(dir);
    free(dir);
}

static void test_time_persistence_and_truncate(void) {
    char *dir = unit_mkdtemp();
    char *path = tmp_path(dir, "x.timeindex");
    time_index_t idx;
    CU_ASSERT_EQUAL_FATAL(time_index_open(&idx, path, BASE, 1200, NULL), KERR_NONE);
    fill_times(&idx, 6);
    CU_ASSERT_EQUAL(index_file_close(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), 72);

    CU_ASSERT_EQUAL_FATAL(time_index_open(&idx, path, BASE, 1200, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(idx.file.entries, 6);
    CU_ASSERT_EQUAL(idx.file.max_entries, 6);
    CU_ASSERT_PTR_NULL(time_index_sanity_check(&idx));
    ASSERT_TO(time_index_last_entry(&idx), 600, 1060);
    ASSERT_TO(time_index_lookup(&idx, 349), 300, 1030);
    CU_ASSERT_EQUAL(index_file_resize(&idx.file, 1200), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), 1200);
    CU_ASSERT_EQUAL(idx.file.entries, 6);

    /* truncate_to removes entries whose offset is >= the target */
    for (int64_t t = BASE; t <= 1070; t++) {
        index_file_truncate_to(&idx.file, 0);
        CU_ASSERT_EQUAL(idx.file.entries, 0);
        fill_times(&idx, 6);
        index_file_truncate_to(&idx.file, t);
        uint32_t want = t <= 1010 ? 0 : t > 1060 ? 6 : (uint32_t)((t - 1001) / 10);
        CU_ASSERT_EQUAL(idx.file.entries, want);
        ASSERT_TO(time_index_last_entry(&idx), want ? 100 * (int64_t)want : -1, BASE + 10 * (int64_t)want);
    }
    index_file_truncate_to(&idx.file, 1035);
    CU_ASSERT_EQUAL(time_index_maybe_append(&idx, 350, 1034, false), 1);
    CU_ASSERT_EQUAL(index_file_trim_to_valid_size(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), 48);
    CU_ASSERT_EQUAL(index_file_reset(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(idx.file.entries, 0);
    CU_ASSERT_EQUAL(file_size(path), 1200);
    ASSERT_TO(time_index_last_entry(&idx), -1, BASE);
    CU_ASSERT_EQUAL(index_file_close(&idx.file), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(path), 0);
    free(path);
    unit_rmtree(dir);
    free(dir);
}

static void test_time_sanity(void) {
    char *dir = unit_mkdtemp();
    char *path = tmp_path(dir, "x.timeindex");
    time_index_t idx;
    uint8_t raw[36];
    memset(raw, 0, sizeof raw);
    be64_store(raw, 500);
    be32_store(raw + 8, 1);
    be64_store(raw + 12, 400); /* last timestamp below the first */
    be32_store(raw + 20, 2);
    write_file(path, raw, 24);
    CU_ASSERT_EQUAL_FATAL(time_index_open(&idx, path, BASE, 1200, NULL), KERR_NONE);
    CU_ASSERT_PTR_NOT_NULL(time_index_sanity_check(&idx));
    index_file_release(&idx.file);

    write_file(path, raw, 13); /* not a multiple of 12 */
    CU_ASSERT_EQUAL_FATAL(time_index_open(&idx, path, BASE, 1200, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(idx.file.entries, 1);
    CU_ASSERT_PTR_NOT_NULL(time_index_sanity_check(&idx));
    index_file_release(&idx.file);

    be64_store(raw + 12, 600);
    be32_store(raw + 20, (uint32_t)-1); /* last offset below the base */
    write_file(path, raw, 24);
    CU_ASSERT_EQUAL_FATAL(time_index_open(&idx, path, BASE, 1200, NULL), KERR_NONE);
    CU_ASSERT_PTR_NOT_NULL(time_index_sanity_check(&idx));
    index_file_release(&idx.file);

    be32_store(raw + 20, 2); /* sane: (500, 1001), (600, 1002), (700, 1002) */
    be64_store(raw + 24, 700);
    be32_store(raw + 32, 2);
    write_file(path, raw, 36);
    CU_ASSERT_EQUAL_FATAL(time_index_open(&idx, path, BASE, 1200, NULL), KERR_NONE);
    CU_ASSERT_PTR_NULL(time_index_sanity_check(&idx));
    index_file_release(&idx.file);

    /* untrimmed preallocated file after a crash */
    unlink(path);
    CU_ASSERT_EQUAL_FATAL(time_index_open(&idx, path, BASE, 120, NULL), KERR_NONE);
    fill_times(&idx, 2);
    index_file_release(&idx.file);
    CU_ASSERT_EQUAL_FATAL(time_index_open(&idx, path, BASE, 120, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(idx.file.entries, 10);
    CU_ASSERT_PTR_NOT_NULL(time_index_sanity_check(&idx));
    CU_ASSERT_EQUAL(index_file_close(&idx.file), KERR_NONE);
    free(path);
    unit_rmtree(dir);
    free(dir);
}

static void test_mmap_rename(void) {
    char *dir = unit_mkdtemp();
    char *a = tmp_path(dir, "a.index"), *b = tmp_path(dir, "a.index.deleted");
    offset_index_t idx;
    CU_ASSERT_EQUAL_FATAL(offset_index_open(&idx, a, BASE, 800, NULL), KERR_NONE);
    fill_offsets(&idx, 2);
    CU_ASSERT_EQUAL(index_file_rename(&idx.file, b, true), KERR_NONE);
    CU_ASSERT_EQUAL(file_size(a), -1);
    CU_ASSERT_EQUAL(file_size(b), 800);
    CU_ASSERT_EQUAL(index_file_close(&idx.file), KERR_NONE); /* trims the renamed file */
    CU_ASSERT_EQUAL(file_size(b), 16);
    CU_ASSERT_EQUAL(file_size(a), -1);
    free(a);
    free(b);
    unit_rmtree(dir);
    free(dir);
}

void unit_register(void) {
    static const unit_test_t offset_tests[] = {
        {"create, preallocate, lookup boundaries", test_offset_create_and_lookup},
        {"lookup of every target, 1..40 entries", test_offset_lookup_all_sizes},
        {"append rules and full index", test_offset_append_rules},
        {"persistence, resize, trim on roll, reset", test_offset_persistence},
        {"truncate_to every offset", test_offset_truncate_to},
        {"sanity check", test_offset_sanity},
        {"rename keeps the mapping", test_mmap_rename},
        {NULL, NULL},
    };
    static const unit_test_t time_tests[] = {
        {"append only if the timestamp grows", test_time_append_rules},
        {"lookup of every target, 0..20 entries", test_time_lookup},
        {"full at max - 1, final slot", test_time_full},
        {"persistence and truncate_to", test_time_persistence_and_truncate},
        {"sanity check", test_time_sanity},
        {NULL, NULL},
    };
    unit_add_suite("offset_index", offset_tests);
    unit_add_suite("time_index", time_tests);
}
