/* The log segment: append/read round trips across index intervals, Kafka's
 * index entry rule, reads from the middle of a batch and with size and
 * position bounds, recovery (torn tail, flipped byte, lost or damaged index),
 * truncate_to at every offset, timestamp search, roll decisions, file names
 * and life cycle. Batches are built here by hand (61-byte header, simple
 * uncompressed records, CRC-32C) so the tests do not depend on the builder. */
#include "unit.h"

#include "util/buf.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "log/log_segment.h"
#include "util/logger.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BASE 1000
#define RECS 3             /* records per batch */
#define PAYLOAD 130        /* value bytes per record */
#define T0 1600000000000LL /* batch k's records have timestamps T0 + 10k + i */
#define EPOCH 7
#define INTERVAL 1000 /* index.interval.bytes: with batches in (333, 500] bytes, an entry every 3rd batch */

/* One v2 batch: RECS-style records with null keys, payload-byte values and
 * timestamps ts + i (all -1 when ts < 0). attributes may carry the
 * LogAppendTime bit, in which case max_timestamp is ts + 1000. */
static void make_batch_attr(buf_t *out, int64_t base_offset, int n, int64_t ts, int payload, int16_t attrs) {
    size_t start = out->len;
    uint8_t *h = buf_extend(out, BATCH_HEADER_SIZE);
    memset(h, 0, BATCH_HEADER_SIZE);
    for (int i = 0; i < n; i++) {
        buf_t body = BUF_INIT;
        buf_put_i8(&body, 0);
        buf_put_varlong(&body, ts < 0 ? 0 : i);
        buf_put_varint(&body, i);
        buf_put_varint(&body, -1);
        buf_put_varint(&body, payload);
        for (int j = 0; j < payload; j++)
            buf_put_i8(&body, (int8_t)(base_offset + i + j));
        buf_put_varint(&body, 0);
        buf_put_varint(out, (int32_t)body.len);
        buf_append(out, body.data, body.len);
        buf_free(&body);
    }
    uint8_t *b = out->data + start;
    size_t size = out->len - start;
    int64_t max_ts = ts < 0 ? -1 : (attrs & BATCH_ATTR_LOG_APPEND_TIME) ? ts + 1000 : ts + n - 1;
    be64_store(b + BATCH_OFF_BASE_OFFSET, (uint64_t)base_offset);
    be32_store(b + BATCH_OFF_LENGTH, (uint32_t)(size - BATCH_LOG_OVERHEAD));
    be32_store(b + BATCH_OFF_LEADER_EPOCH, EPOCH);
    b[BATCH_OFF_MAGIC] = BATCH_MAGIC_V2;
    be16_store(b + BATCH_OFF_ATTRIBUTES, (uint16_t)attrs);
    be32_store(b + BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(n - 1));
    be64_store(b + BATCH_OFF_FIRST_TIMESTAMP, (uint64_t)ts);
    be64_store(b + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)max_ts);
    be64_store(b + BATCH_OFF_PRODUCER_ID, (uint64_t)-1);
    be16_store(b + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)-1);
    be32_store(b + BATCH_OFF_BASE_SEQUENCE, (uint32_t)-1);
    be32_store(b + BATCH_OFF_RECORDS_COUNT, (uint32_t)n);
    be32_store(b + BATCH_OFF_CRC, crc32c(0, b + BATCH_OFF_ATTRIBUTES, size - BATCH_OFF_ATTRIBUTES));
}

static void make_batch(buf_t *out, int64_t base_offset, int n, int64_t ts, int payload) {
    make_batch_attr(out, base_offset, n, ts, payload, 0);
}

/* The test segment: batch k holds offsets BASE + 3k .. BASE + 3k + 2. */
static int64_t batch_base(int k) { return BASE + RECS * k; }
static int64_t batch_last(int k) { return batch_base(k) + RECS - 1; }
static int64_t batch_ts(int k) { return T0 + 10 * k; }
static int64_t batch_max_ts(int k) { return batch_ts(k) + RECS - 1; }

static uint32_t batch_bytes(void) {
    buf_t b = BUF_INIT;
    make_batch(&b, 0, RECS, T0, PAYLOAD);
    uint32_t n = (uint32_t)b.len;
    buf_free(&b);
    return n;
}

static const log_segment_config_t test_cfg = {INTERVAL, 4096, 1u << 20};

static void append_batch(log_segment_t *seg, int k) {
    buf_t b = BUF_INIT;
    make_batch(&b, batch_base(k), RECS, batch_ts(k), PAYLOAD);
    CU_ASSERT_EQUAL(log_segment_append(seg, b.data, b.len, batch_last(k), batch_max_ts(k), batch_last(k)),
                    KERR_NONE);
    buf_free(&b);
}

static log_segment_t *make_segment(const char *dir, int batches) {
    log_segment_t *seg = NULL;
    CU_ASSERT_EQUAL_FATAL(log_segment_create(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    for (int k = 0; k < batches; k++)
        append_batch(seg, k);
    return seg;
}

static void seg_file(char *out, size_t cap, const char *dir, const char *ext) {
    CU_ASSERT_FATAL(log_segment_filename(out, cap, dir, BASE, ext, NULL) > 0);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void cut_file(const char *dir, const char *ext, long size) {
    char path[PATH_MAX];
    seg_file(path, sizeof path, dir, ext);
    CU_ASSERT_EQUAL_FATAL(truncate(path, size), 0);
}

static void poke_file(const char *dir, const char *ext, long at, uint8_t xor_mask) {
    char path[PATH_MAX];
    seg_file(path, sizeof path, dir, ext);
    int fd = open(path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t c = 0;
    CU_ASSERT_EQUAL(pread(fd, &c, 1, at), 1);
    c ^= xor_mask;
    CU_ASSERT_EQUAL(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

/* Expected offset index: with B in (333, 500] and INTERVAL 1000, appends of
 * one batch each get an entry at batches 3, 6, 9, ... (before batch 3 the
 * bytes since the last entry are 3B > 1000), mapping the batch's last offset
 * to its start. The time index gets (max timestamp so far, its offset) at the
 * same moments. */
static void check_indexes(const log_segment_t *seg, int batches, bool closed_time_entry) {
    uint32_t B = batch_bytes();
    const offset_index_t *oi = log_segment_offset_index(seg);
    const time_index_t *ti = log_segment_time_index(seg);
    uint32_t want = batches > 0 ? (uint32_t)((batches - 1) / 3) : 0;
    CU_ASSERT_EQUAL(oi->file.entries, want);
    for (uint32_t j = 0; j < oi->file.entries && j < want; j++) {
        int k = 3 * (int)(j + 1);
        offset_position_t e = offset_index_entry(oi, j);
        CU_ASSERT_EQUAL(e.offset, batch_last(k));
        CU_ASSERT_EQUAL(e.position, (uint32_t)k * B);
    }
    uint32_t want_t = want + (closed_time_entry && batches > 0 && (batches - 1) % 3 != 0 ? 1 : 0);
    if (closed_time_entry && batches == 1)
        want_t = 1;
    CU_ASSERT_EQUAL(ti->file.entries, want_t);
    for (uint32_t j = 0; j < ti->file.entries && j < want; j++) {
        int k = 3 * (int)(j + 1);
        timestamp_offset_t e = time_index_entry(ti, j);
        CU_ASSERT_EQUAL(e.timestamp, batch_max_ts(k));
        CU_ASSERT_EQUAL(e.offset, batch_last(k));
    }
    if (want_t > want) {
        timestamp_offset_t e = time_index_entry(ti, want);
        CU_ASSERT_EQUAL(e.timestamp, batch_max_ts(batches - 1));
        CU_ASSERT_EQUAL(e.offset, batch_last(batches - 1));
    }
}

/* Every offset reads from the start of the batch holding it, to the end. */
static void check_reads(log_segment_t *seg, int batches) {
    uint32_t B = batch_bytes();
    for (int64_t o = BASE - 2; o < batch_base(batches) + 3; o++) {
        log_segment_read_t r;
        kerr_t err = log_segment_read(seg, o, UINT32_MAX, UINT64_MAX, false, &r);
        if (batches == 0 || o >= batch_base(batches)) {
            CU_ASSERT_EQUAL(err, KERR_OFFSET_OUT_OF_RANGE);
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(err, KERR_NONE);
        uint32_t k = o < BASE ? 0 : (uint32_t)((o - BASE) / RECS);
        CU_ASSERT_EQUAL(r.position, k * B);
        CU_ASSERT_EQUAL(r.length, (uint32_t)batches * B - k * B);
        CU_ASSERT_EQUAL(r.fd, log_segment_fd(seg));
        CU_ASSERT_EQUAL(r.offset_metadata.message_offset, o);
        CU_ASSERT_EQUAL(r.offset_metadata.segment_base_offset, BASE);
        CU_ASSERT_EQUAL(r.offset_metadata.relative_position, k * B);
        CU_ASSERT_FALSE(r.first_entry_incomplete);
    }
}

/* --- tests ---------------------------------------------------------------- */

static void test_filenames(void) {
    char buf[128];
    CU_ASSERT_EQUAL(log_segment_filename(buf, sizeof buf, "/d/t-0", 0, LOG_SEGMENT_LOG_EXT, NULL), 31);
    CU_ASSERT_STRING_EQUAL(buf, "/d/t-0/00000000000000000000.log");
    log_segment_filename(buf, sizeof buf, "d", 368769, LOG_SEGMENT_TIME_INDEX_EXT, LOG_SEGMENT_DELETED_SUFFIX);
    CU_ASSERT_STRING_EQUAL(buf, "d/00000000000000368769.timeindex.deleted");
    log_segment_filename(buf, sizeof buf, "d", INT64_MAX, LOG_SEGMENT_INDEX_EXT, "");
    CU_ASSERT_STRING_EQUAL(buf, "d/09223372036854775807.index");
    CU_ASSERT_EQUAL(log_segment_filename(buf, 10, "d", 1, LOG_SEGMENT_LOG_EXT, NULL), -1);

    int64_t off = -1;
    const char *rest = NULL;
    CU_ASSERT_TRUE(log_segment_parse_filename("00000000000000368769.index.deleted", &off, &rest));
    CU_ASSERT_EQUAL(off, 368769);
    CU_ASSERT_STRING_EQUAL(rest, ".index.deleted");
    CU_ASSERT_TRUE(log_segment_parse_filename("09223372036854775807.log", &off, &rest));
    CU_ASSERT_EQUAL(off, INT64_MAX);
    CU_ASSERT_FALSE(log_segment_parse_filename("09223372036854775808.log", &off, &rest));
    CU_ASSERT_FALSE(log_segment_parse_filename("abc.log", &off, &rest));
    CU_ASSERT_FALSE(log_segment_parse_filename("12a.log", &off, &rest));
    CU_ASSERT_FALSE(log_segment_parse_filename(".log", &off, &rest));
    CU_ASSERT_FALSE(log_segment_parse_filename("123", &off, &rest));
    CU_ASSERT_FALSE(log_segment_parse_filename("-12.log", &off, &rest));
}

static void test_create_empty(void) {
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 0);
    char path[PATH_MAX];
    seg_file(path, sizeof path, dir, LOG_SEGMENT_LOG_EXT);
    CU_ASSERT_EQUAL(file_size(path), 0);
    seg_file(path, sizeof path, dir, LOG_SEGMENT_INDEX_EXT);
    CU_ASSERT_EQUAL(file_size(path), 4096);
    seg_file(path, sizeof path, dir, LOG_SEGMENT_TIME_INDEX_EXT);
    CU_ASSERT_EQUAL(file_size(path), 4092); /* rounded down to a multiple of 12 */
    CU_ASSERT_EQUAL(log_segment_base_offset(seg), BASE);
    CU_ASSERT_EQUAL(log_segment_size(seg), 0);
    CU_ASSERT_PTR_NULL(log_segment_needs_recovery(seg));
    int64_t next = 0;
    CU_ASSERT_EQUAL(log_segment_next_offset(seg, &next), KERR_NONE);
    CU_ASSERT_EQUAL(next, BASE);
    log_segment_read_t r;
    CU_ASSERT_EQUAL(log_segment_read(seg, BASE, 1000, UINT64_MAX, true, &r), KERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(log_segment_max_timestamp(seg), -1);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    /* close trims the indexes; an empty segment reopens sane and empty */
    CU_ASSERT_EQUAL(file_size(path), 0);
    CU_ASSERT_EQUAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    CU_ASSERT_PTR_NULL(log_segment_needs_recovery(seg));
    CU_ASSERT_EQUAL(log_segment_size(seg), 0);
    CU_ASSERT_EQUAL(log_segment_delete(seg), KERR_NONE);
    seg_file(path, sizeof path, dir, LOG_SEGMENT_LOG_EXT);
    CU_ASSERT_EQUAL(file_size(path), -1);
    seg_file(path, sizeof path, dir, LOG_SEGMENT_INDEX_EXT);
    CU_ASSERT_EQUAL(file_size(path), -1);
    seg_file(path, sizeof path, dir, LOG_SEGMENT_TIME_INDEX_EXT);
    CU_ASSERT_EQUAL(file_size(path), -1);
    unit_rmtree(dir);
    free(dir);
}

static void test_append_read_round_trip(void) {
    uint32_t B = batch_bytes();
    CU_ASSERT_FATAL(B * 3 > INTERVAL && B * 2 <= INTERVAL);
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 30);
    CU_ASSERT_EQUAL(log_segment_size(seg), 30 * B);
    check_indexes(seg, 30, false);
    check_reads(seg, 30);
    CU_ASSERT_EQUAL(log_segment_max_timestamp(seg), batch_max_ts(29));
    CU_ASSERT_EQUAL(log_segment_offset_of_max_timestamp(seg), batch_last(29));
    int64_t next = 0;
    CU_ASSERT_EQUAL(log_segment_next_offset(seg, &next), KERR_NONE);
    CU_ASSERT_EQUAL(next, batch_base(30));

    /* the bytes are exactly what was appended, through the mapping and the fd */
    buf_t all = BUF_INIT;
    for (int k = 0; k < 30; k++)
        make_batch(&all, batch_base(k), RECS, batch_ts(k), PAYLOAD);
    const uint8_t *p = log_segment_data(seg, 0, (uint32_t)all.len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(memcmp(p, all.data, all.len), 0);
    CU_ASSERT_PTR_NULL(log_segment_data(seg, 1, (uint32_t)all.len));
    uint8_t *back = malloc(all.len);
    CU_ASSERT_EQUAL(pread(log_segment_fd(seg), back, all.len, 0), (ssize_t)all.len);
    CU_ASSERT_EQUAL(memcmp(back, all.data, all.len), 0);
    free(back);

    /* the segment keeps growing under the mapping: later reads see new data */
    append_batch(seg, 30);
    check_reads(seg, 31);
    p = log_segment_data(seg, 30 * B, B);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(be64_load(p), (uint64_t)batch_base(30));

    buf_free(&all);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

/* A segment whose reads outgrow several mappings (segment_bytes 0: doubling)
 * keeps old pointers valid until close. */
static void test_mapping_growth(void) {
    char *dir = unit_mkdtemp();
    log_segment_config_t cfg = test_cfg;
    cfg.segment_bytes = 0;
    log_segment_t *seg = NULL;
    CU_ASSERT_EQUAL_FATAL(log_segment_create(dir, BASE, &cfg, NULL, &seg), KERR_NONE);
    append_batch(seg, 0);
    const uint8_t *first = log_segment_data(seg, 0, BATCH_HEADER_SIZE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    for (int k = 1; k < 40; k++) {
        append_batch(seg, k);
        const uint8_t *p = log_segment_data(seg, (uint32_t)k * batch_bytes(), BATCH_HEADER_SIZE);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_EQUAL(be64_load(p), (uint64_t)batch_base(k));
    }
    CU_ASSERT_EQUAL(be64_load(first), (uint64_t)BASE);
    check_reads(seg, 40);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

static void test_read_bounds(void) {
    uint32_t B = batch_bytes();
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 10);
    log_segment_read_t r;
    int64_t mid = batch_base(4) + 1; /* inside batch 4 */

    CU_ASSERT_EQUAL(log_segment_read(seg, mid, B + 10, UINT64_MAX, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.position, 4 * B);
    CU_ASSERT_EQUAL(r.length, B + 10); /* may end inside a batch, as Kafka's */
    CU_ASSERT_FALSE(r.first_entry_incomplete);

    CU_ASSERT_EQUAL(log_segment_read(seg, mid, 10, UINT64_MAX, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.length, 10);
    CU_ASSERT_TRUE(r.first_entry_incomplete);

    CU_ASSERT_EQUAL(log_segment_read(seg, mid, 10, UINT64_MAX, true, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.length, B); /* min one message */
    CU_ASSERT_FALSE(r.first_entry_incomplete);

    CU_ASSERT_EQUAL(log_segment_read(seg, mid, 0, UINT64_MAX, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.length, 0);
    CU_ASSERT_FALSE(r.first_entry_incomplete);
    CU_ASSERT_EQUAL(r.offset_metadata.relative_position, 4 * B);

    /* max_position bounds the range (the high watermark's position) */
    CU_ASSERT_EQUAL(log_segment_read(seg, BASE, UINT32_MAX, 5 * B, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.position, 0);
    CU_ASSERT_EQUAL(r.length, 5 * B);
    CU_ASSERT_EQUAL(log_segment_read(seg, mid, UINT32_MAX, 5 * B + 7, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.length, B + 7);
    CU_ASSERT_EQUAL(log_segment_read(seg, mid, 100, 5 * B + 7, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.length, 100);
    CU_ASSERT_EQUAL(log_segment_read(seg, mid, UINT32_MAX, 2 * B, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.length, 0);
    CU_ASSERT_EQUAL(log_segment_read(seg, mid, UINT32_MAX, 1ull << 40, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.length, 6 * B);

    /* translate_offset, with and without a starting position */
    log_segment_position_t pos;
    CU_ASSERT_EQUAL(log_segment_translate_offset(seg, mid, 0, &pos), KERR_NONE);
    CU_ASSERT_EQUAL(pos.offset, batch_last(4));
    CU_ASSERT_EQUAL(pos.position, 4 * B);
    CU_ASSERT_EQUAL(pos.size, B);
    CU_ASSERT_EQUAL(log_segment_translate_offset(seg, mid, 7 * B, &pos), KERR_NONE);
    CU_ASSERT_EQUAL(pos.offset, batch_last(7)); /* the search starts at 7B */
    CU_ASSERT_EQUAL(pos.position, 7 * B);
    CU_ASSERT_EQUAL(log_segment_translate_offset(seg, mid, 10 * B, &pos), KERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(log_segment_translate_offset(seg, batch_base(10), 0, &pos), KERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

/* Indexes and the max timestamp survive close/open; the close writes the
 * final time index entry; reads and appends continue after a resize. */
static void test_persistence(void) {
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 29);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    char path[PATH_MAX];
    seg_file(path, sizeof path, dir, LOG_SEGMENT_INDEX_EXT);
    CU_ASSERT_EQUAL(file_size(path), 9 * 8);
    seg_file(path, sizeof path, dir, LOG_SEGMENT_TIME_INDEX_EXT);
    CU_ASSERT_EQUAL(file_size(path), 10 * 12);

    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    CU_ASSERT_PTR_NULL(log_segment_needs_recovery(seg));
    check_indexes(seg, 29, true);
    check_reads(seg, 29);
    CU_ASSERT_EQUAL(log_segment_max_timestamp(seg), batch_max_ts(28));
    CU_ASSERT_EQUAL(log_segment_offset_of_max_timestamp(seg), batch_last(28));
    CU_ASSERT_TRUE(log_segment_indexes_full(seg)); /* loaded indexes are full until resized */
    CU_ASSERT_EQUAL(log_segment_resize_indexes(seg, test_cfg.max_index_bytes), KERR_NONE);
    CU_ASSERT_FALSE(log_segment_indexes_full(seg));
    int64_t next = 0;
    CU_ASSERT_EQUAL(log_segment_next_offset(seg, &next), KERR_NONE);
    CU_ASSERT_EQUAL(next, batch_base(29));
    /* after a reopen, bytes since the last entry start at 0 (Kafka) */
    append_batch(seg, 29);
    append_batch(seg, 30);
    CU_ASSERT_EQUAL(log_segment_offset_index(seg)->file.entries, 9);
    check_reads(seg, 31);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

/* on_roll: final time index entry and both indexes trimmed. */
static void test_roll_trims(void) {
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 8);
    CU_ASSERT_EQUAL(log_segment_time_index(seg)->file.entries, 2);
    CU_ASSERT_EQUAL(log_segment_on_roll(seg), KERR_NONE);
    char path[PATH_MAX];
    seg_file(path, sizeof path, dir, LOG_SEGMENT_INDEX_EXT);
    CU_ASSERT_EQUAL(file_size(path), 2 * 8);
    seg_file(path, sizeof path, dir, LOG_SEGMENT_TIME_INDEX_EXT);
    CU_ASSERT_EQUAL(file_size(path), 3 * 12);
    check_indexes(seg, 8, true);
    check_reads(seg, 8);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE); /* nothing more to add */
    CU_ASSERT_EQUAL(file_size(path), 3 * 12);
    unit_rmtree(dir);
    free(dir);
}

typedef struct seen_batches {
    int n;
    uint32_t positions[64];
    int64_t bases[64];
} seen_batches_t;

static void on_batch(void *arg, const uint8_t *batch, const batch_header_t *h, uint32_t position) {
    seen_batches_t *s = arg;
    CU_ASSERT_EQUAL(be64_load(batch), (uint64_t)h->base_offset);
    CU_ASSERT_EQUAL(h->partition_leader_epoch, EPOCH);
    if (s->n < 64) {
        s->positions[s->n] = position;
        s->bases[s->n] = h->base_offset;
    }
    s->n++;
}

/* A crash cut the file mid-batch: recovery cuts the torn batch. */
static void test_recover_torn_tail(void) {
    uint32_t B = batch_bytes();
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 10);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    cut_file(dir, LOG_SEGMENT_LOG_EXT, 10 * B - 7);

    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    CU_ASSERT_PTR_NULL(log_segment_needs_recovery(seg)); /* only a scan can tell */
    /* reads before recovery stop before the torn batch */
    log_segment_read_t r;
    CU_ASSERT_EQUAL(log_segment_read(seg, batch_base(9), 100, UINT64_MAX, false, &r), KERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(log_segment_read(seg, batch_last(8), 100, UINT64_MAX, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.position, 8 * B);
    seen_batches_t seen = {0};
    uint32_t cut = 0;
    CU_ASSERT_EQUAL(log_segment_recover(seg, INT32_MAX, on_batch, &seen, &cut), KERR_NONE);
    CU_ASSERT_EQUAL(cut, B - 7);
    CU_ASSERT_EQUAL(log_segment_size(seg), 9 * B);
    char path[PATH_MAX];
    seg_file(path, sizeof path, dir, LOG_SEGMENT_LOG_EXT);
    CU_ASSERT_EQUAL(file_size(path), 9 * B);
    CU_ASSERT_EQUAL(seen.n, 9);
    for (int k = 0; k < 9; k++) {
        CU_ASSERT_EQUAL(seen.positions[k], (uint32_t)k * B);
        CU_ASSERT_EQUAL(seen.bases[k], batch_base(k));
    }
    check_indexes(seg, 9, true);
    CU_ASSERT_EQUAL(log_segment_max_timestamp(seg), batch_max_ts(8));
    int64_t next = 0;
    CU_ASSERT_EQUAL(log_segment_next_offset(seg, &next), KERR_NONE);
    CU_ASSERT_EQUAL(next, batch_base(9));
    check_reads(seg, 9);

    /* the partition log resizes the active segment's indexes and appends on */
    CU_ASSERT_EQUAL(log_segment_resize_indexes(seg, test_cfg.max_index_bytes), KERR_NONE);
    append_batch(seg, 9);
    check_reads(seg, 10);
    /* recovering a clean segment cuts nothing */
    CU_ASSERT_EQUAL(log_segment_recover(seg, INT32_MAX, NULL, NULL, &cut), KERR_NONE);
    CU_ASSERT_EQUAL(cut, 0);
    check_indexes(seg, 10, true);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

/* A flipped byte inside batch 4: that batch and everything after it go. */
static void test_recover_flipped_byte(void) {
    uint32_t B = batch_bytes();
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 10);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    poke_file(dir, LOG_SEGMENT_LOG_EXT, 4 * B + 200, 0x40);

    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    uint32_t cut = 0;
    CU_ASSERT_EQUAL(log_segment_recover(seg, INT32_MAX, NULL, NULL, &cut), KERR_NONE);
    CU_ASSERT_EQUAL(cut, 6 * B);
    CU_ASSERT_EQUAL(log_segment_size(seg), 4 * B);
    check_indexes(seg, 4, true);
    int64_t next = 0;
    CU_ASSERT_EQUAL(log_segment_next_offset(seg, &next), KERR_NONE);
    CU_ASSERT_EQUAL(next, batch_base(4));
    check_reads(seg, 4);
    CU_ASSERT_EQUAL(log_segment_max_timestamp(seg), batch_max_ts(3));
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);

    /* a batch larger than max_message_size is invalid too */
    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    CU_ASSERT_EQUAL(log_segment_recover(seg, B - 1, NULL, NULL, &cut), KERR_NONE);
    CU_ASSERT_EQUAL(cut, 4 * B);
    CU_ASSERT_EQUAL(log_segment_size(seg), 0);
    CU_ASSERT_EQUAL(log_segment_offset_index(seg)->file.entries, 0);
    CU_ASSERT_EQUAL(log_segment_time_index(seg)->file.entries, 0);
    CU_ASSERT_EQUAL(log_segment_max_timestamp(seg), -1);
    CU_ASSERT_EQUAL(log_segment_next_offset(seg, &next), KERR_NONE);
    CU_ASSERT_EQUAL(next, BASE);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

/* Batches whose offsets go backwards or leave the segment stop recovery. */
static void test_recover_bad_offsets(void) {
    uint32_t B = batch_bytes();
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 3);
    buf_t b = BUF_INIT;
    make_batch(&b, batch_base(1), RECS, batch_ts(3), PAYLOAD); /* offsets again */
    CU_ASSERT_EQUAL(log_segment_append(seg, b.data, b.len, batch_last(1) + 100, batch_ts(3), BASE), KERR_NONE);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    uint32_t cut = 0;
    CU_ASSERT_EQUAL(log_segment_recover(seg, INT32_MAX, NULL, NULL, &cut), KERR_NONE);
    CU_ASSERT_EQUAL(cut, B);
    CU_ASSERT_EQUAL(log_segment_size(seg), 3 * B);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);

    /* a batch below the segment's base offset */
    dir = unit_mkdtemp();
    CU_ASSERT_EQUAL_FATAL(log_segment_create(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    buf_reset(&b);
    make_batch(&b, BASE - 3, RECS, T0, PAYLOAD);
    CU_ASSERT_EQUAL(log_segment_append(seg, b.data, b.len, BASE - 1 + 3, T0, BASE), KERR_NONE);
    CU_ASSERT_EQUAL(log_segment_recover(seg, INT32_MAX, NULL, NULL, &cut), KERR_NONE);
    CU_ASSERT_EQUAL(cut, B);
    CU_ASSERT_EQUAL(log_segment_size(seg), 0);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    buf_free(&b);
    unit_rmtree(dir);
    free(dir);
}

/* Snapshot of a segment's index entries. */
typedef struct index_copy {
    uint32_t n_off, n_time;
    offset_position_t off[64];
    timestamp_offset_t time[64];
} index_copy_t;

static void copy_indexes(const log_segment_t *seg, index_copy_t *c) {
    const offset_index_t *oi = log_segment_offset_index(seg);
    const time_index_t *ti = log_segment_time_index(seg);
    c->n_off = oi->file.entries;
    c->n_time = ti->file.entries;
    for (uint32_t i = 0; i < oi->file.entries && i < 64; i++)
        c->off[i] = offset_index_entry(oi, i);
    for (uint32_t i = 0; i < ti->file.entries && i < 64; i++)
        c->time[i] = time_index_entry(ti, i);
}

static void assert_same_indexes(const index_copy_t *a, const index_copy_t *b) {
    CU_ASSERT_EQUAL(a->n_off, b->n_off);
    CU_ASSERT_EQUAL(a->n_time, b->n_time);
    for (uint32_t i = 0; i < a->n_off && i < b->n_off && i < 64; i++) {
        CU_ASSERT_EQUAL(a->off[i].offset, b->off[i].offset);
        CU_ASSERT_EQUAL(a->off[i].position, b->off[i].position);
    }
    for (uint32_t i = 0; i < a->n_time && i < b->n_time && i < 64; i++) {
        CU_ASSERT_EQUAL(a->time[i].timestamp, b->time[i].timestamp);
        CU_ASSERT_EQUAL(a->time[i].offset, b->time[i].offset);
    }
}

/* Opens, expects needs_recovery, recovers, and compares with the original. */
static void reopen_and_rebuild(const char *dir, const index_copy_t *orig, const char *why_substr) {
    log_segment_t *seg = NULL;
    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    const char *why = log_segment_needs_recovery(seg);
    CU_ASSERT_PTR_NOT_NULL(why);
    if (why)
        CU_ASSERT_PTR_NOT_NULL(strstr(why, why_substr));
    /* an unrecovered segment answers reads without crashing */
    log_segment_read_t r;
    for (int64_t o = BASE; o < batch_base(31); o += 7)
        (void)log_segment_read(seg, o, UINT32_MAX, UINT64_MAX, false, &r);
    uint32_t cut = 1;
    CU_ASSERT_EQUAL(log_segment_recover(seg, INT32_MAX, NULL, NULL, &cut), KERR_NONE);
    CU_ASSERT_EQUAL(cut, 0);
    CU_ASSERT_PTR_NULL(log_segment_needs_recovery(seg));
    index_copy_t rebuilt;
    copy_indexes(seg, &rebuilt);
    assert_same_indexes(orig, &rebuilt);
    check_reads(seg, 30);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
}

static void test_recover_lost_index(void) {
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 30);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    index_copy_t orig;
    copy_indexes(seg, &orig);
    CU_ASSERT_EQUAL(orig.n_off, 9);
    CU_ASSERT_EQUAL(orig.n_time, 10);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    char path[PATH_MAX];

    seg_file(path, sizeof path, dir, LOG_SEGMENT_INDEX_EXT);
    CU_ASSERT_EQUAL(unlink(path), 0);
    reopen_and_rebuild(dir, &orig, "offset index missing");

    seg_file(path, sizeof path, dir, LOG_SEGMENT_TIME_INDEX_EXT);
    CU_ASSERT_EQUAL(unlink(path), 0);
    reopen_and_rebuild(dir, &orig, "time index missing");

    cut_file(dir, LOG_SEGMENT_INDEX_EXT, 8 * 8 + 3); /* wrong length */
    reopen_and_rebuild(dir, &orig, "multiple of 8");

    cut_file(dir, LOG_SEGMENT_TIME_INDEX_EXT, 12 * 9 + 1);
    reopen_and_rebuild(dir, &orig, "multiple of 12");

    poke_file(dir, LOG_SEGMENT_INDEX_EXT, 8 * 8 + 4, 0x7f); /* last position far past the end */
    reopen_and_rebuild(dir, &orig, "past the end");

    cut_file(dir, LOG_SEGMENT_INDEX_EXT, 4096); /* crash before the trim: zero tail */
    reopen_and_rebuild(dir, &orig, "do not increase");

    poke_file(dir, LOG_SEGMENT_TIME_INDEX_EXT, 12 * 9, 0x80); /* last timestamp negative */
    reopen_and_rebuild(dir, &orig, "time index");

    /* a .log cut below what the index points at */
    cut_file(dir, LOG_SEGMENT_LOG_EXT, 20 * batch_bytes());
    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    CU_ASSERT_PTR_NOT_NULL(log_segment_needs_recovery(seg));
    uint32_t cut = 1;
    CU_ASSERT_EQUAL(log_segment_recover(seg, INT32_MAX, NULL, NULL, &cut), KERR_NONE);
    CU_ASSERT_EQUAL(cut, 0);
    check_indexes(seg, 20, true);
    check_reads(seg, 20);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

/* Malformed framing in the middle: reads past it report corruption, reads
 * before it work, nothing crashes; recovery cuts there. */
static void test_corrupt_framing(void) {
    uint32_t B = batch_bytes();
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 6);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    char path[PATH_MAX];
    seg_file(path, sizeof path, dir, LOG_SEGMENT_LOG_EXT);
    int fd = open(path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t len[4];
    be32_store(len, 3); /* batch 2's length below a header */
    CU_ASSERT_EQUAL(pwrite(fd, len, 4, 2 * B + BATCH_OFF_LENGTH), 4);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    log_segment_read_t r;
    CU_ASSERT_EQUAL(log_segment_read(seg, batch_base(1), 100, UINT64_MAX, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.position, B);
    CU_ASSERT_EQUAL(log_segment_read(seg, batch_base(2) + 1, 100, UINT64_MAX, false, &r), KERR_CORRUPT_MESSAGE);
    /* walks that start after the damage (from index entry 3) do not see it */
    CU_ASSERT_EQUAL(log_segment_read(seg, batch_base(4), 100, UINT64_MAX, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.position, 4 * B);
    int64_t next = 0;
    CU_ASSERT_EQUAL(log_segment_next_offset(seg, &next), KERR_NONE);
    CU_ASSERT_EQUAL(next, batch_base(6));
    log_segment_timestamp_offset_t ts;
    CU_ASSERT_EQUAL(log_segment_find_offset_by_timestamp(seg, batch_ts(2), BASE, &ts), KERR_CORRUPT_MESSAGE);
    uint32_t cut = 0;
    CU_ASSERT_EQUAL(log_segment_truncate_to(seg, batch_base(2) + 1, &cut), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(log_segment_size(seg), 6 * B);
    CU_ASSERT_EQUAL(log_segment_offset_index(seg)->file.entries, 1);
    CU_ASSERT_EQUAL(log_segment_recover(seg, INT32_MAX, NULL, NULL, &cut), KERR_NONE);
    CU_ASSERT_EQUAL(cut, 4 * B);
    CU_ASSERT_EQUAL(log_segment_next_offset(seg, &next), KERR_NONE);
    CU_ASSERT_EQUAL(next, batch_base(2));
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

/* truncate_to every offset from below the base to past the end of a
 * 12-batch segment: a batch holding the target goes entirely. */
static void test_truncate_to_every_offset(void) {
    uint32_t B = batch_bytes();
    const int N = 12;
    char *dir = unit_mkdtemp();
    for (int64_t t = BASE - 1; t <= batch_base(N) + 1; t++) {
        log_segment_t *seg = make_segment(dir, N);
        uint32_t cut = 12345;
        CU_ASSERT_EQUAL_FATAL(log_segment_truncate_to(seg, t, &cut), KERR_NONE);
        int k = t >= batch_base(N) ? N : t <= BASE ? 0 : (int)((t - BASE) / RECS); /* batches kept */
        CU_ASSERT_EQUAL(log_segment_size(seg), (uint32_t)k * B);
        CU_ASSERT_EQUAL(cut, (uint32_t)(N - k) * B);
        int64_t next = 0;
        CU_ASSERT_EQUAL(log_segment_next_offset(seg, &next), KERR_NONE);
        CU_ASSERT_EQUAL(next, batch_base(k));
        /* index entries (batches 3, 6, 9) survive if their offset is < t */
        uint32_t want = 0;
        for (int e = 3; e < N; e += 3)
            want += batch_last(e) < t;
        CU_ASSERT_EQUAL(log_segment_offset_index(seg)->file.entries, want);
        CU_ASSERT_EQUAL(log_segment_time_index(seg)->file.entries, want);
        CU_ASSERT_EQUAL(log_segment_max_timestamp(seg), k > 0 ? batch_max_ts(k - 1) : -1);
        CU_ASSERT_EQUAL(log_segment_offset_of_max_timestamp(seg), k > 0 ? batch_last(k - 1) : BASE);
        CU_ASSERT_FALSE(log_segment_indexes_full(seg)); /* resized to the maximum */
        check_reads(seg, k);
        /* appends continue where the data now ends */
        if (k < N) {
            append_batch(seg, k);
            check_reads(seg, k + 1);
        }
        CU_ASSERT_EQUAL(log_segment_delete(seg), KERR_NONE);
    }
    unit_rmtree(dir);
    free(dir);
}

/* After truncation the segment is the active one: appends follow Kafka's
 * entry rule from zero bytes, and the indexes persist correctly. */
static void test_truncate_then_reopen(void) {
    uint32_t B = batch_bytes();
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 20);
    CU_ASSERT_EQUAL(log_segment_on_roll(seg), KERR_NONE);
    CU_ASSERT_EQUAL(log_segment_truncate_to(seg, batch_base(10) + 1, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(log_segment_size(seg), 10 * B);
    for (int k = 10; k < 20; k++)
        append_batch(seg, k);
    /* entries 3, 6, 9 kept; then bytes since the last entry restart at 0 at
     * batch 10, so the next entries are at 13, 16, 19 */
    const offset_index_t *oi = log_segment_offset_index(seg);
    CU_ASSERT_EQUAL(oi->file.entries, 6);
    offset_position_t e = offset_index_entry(oi, 3);
    CU_ASSERT_EQUAL(e.offset, batch_last(13));
    CU_ASSERT_EQUAL(e.position, 13 * B);
    check_reads(seg, 20);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    CU_ASSERT_PTR_NULL(log_segment_needs_recovery(seg));
    CU_ASSERT_EQUAL(log_segment_offset_index(seg)->file.entries, 6);
    check_reads(seg, 20);
    CU_ASSERT_EQUAL(log_segment_max_timestamp(seg), batch_max_ts(19));
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

static void assert_found(log_segment_t *seg, int64_t ts, int64_t start, int64_t want_ts, int64_t want_off) {
    log_segment_timestamp_offset_t r;
    CU_ASSERT_EQUAL(log_segment_find_offset_by_timestamp(seg, ts, start, &r), KERR_NONE);
    CU_ASSERT_TRUE(r.found);
    CU_ASSERT_EQUAL(r.timestamp, want_ts);
    CU_ASSERT_EQUAL(r.offset, want_off);
    CU_ASSERT_EQUAL(r.leader_epoch, EPOCH);
}

static void test_find_by_timestamp(void) {
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 30);
    /* every record: timestamp T0 + 10k + i at offset BASE + 3k + i */
    for (int k = 0; k < 30; k++)
        for (int i = 0; i < RECS; i++)
            assert_found(seg, batch_ts(k) + i, BASE, batch_ts(k) + i, batch_base(k) + i);
    /* between batches: the first record after */
    assert_found(seg, batch_ts(5) + 5, BASE, batch_ts(6), batch_base(6));
    /* before everything: the first record */
    assert_found(seg, 0, BASE, T0, BASE);
    assert_found(seg, -1, BASE, T0, BASE);
    /* starting offset: the first record at or after it with a timestamp >= target */
    assert_found(seg, T0, batch_base(2) + 1, batch_ts(2) + 1, batch_base(2) + 1);
    assert_found(seg, batch_ts(20), batch_base(2), batch_ts(20), batch_base(20));
    assert_found(seg, batch_ts(3), batch_base(25) + 2, batch_ts(25) + 2, batch_base(25) + 2);
    log_segment_timestamp_offset_t r;
    CU_ASSERT_EQUAL(log_segment_find_offset_by_timestamp(seg, batch_max_ts(29) + 1, BASE, &r), KERR_NONE);
    CU_ASSERT_FALSE(r.found);
    CU_ASSERT_EQUAL(log_segment_find_offset_by_timestamp(seg, T0, batch_base(30), &r), KERR_NONE);
    CU_ASSERT_FALSE(r.found);

    /* a LogAppendTime batch: every record carries the batch max timestamp */
    buf_t b = BUF_INIT;
    make_batch_attr(&b, batch_base(30), RECS, batch_ts(30), PAYLOAD, BATCH_ATTR_LOG_APPEND_TIME);
    int64_t lat = batch_ts(30) + 1000;
    CU_ASSERT_EQUAL(log_segment_append(seg, b.data, b.len, batch_last(30), lat, batch_base(30)), KERR_NONE);
    buf_free(&b);
    assert_found(seg, batch_ts(30) + 1, BASE, lat, batch_base(30));
    assert_found(seg, lat, batch_base(30) + 1, lat, batch_base(30) + 1);
    CU_ASSERT_EQUAL(log_segment_find_offset_by_timestamp(seg, lat + 1, BASE, &r), KERR_NONE);
    CU_ASSERT_FALSE(r.found);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

static void test_append_refusals(void) {
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 2);
    uint32_t size = log_segment_size(seg);
    buf_t b = BUF_INIT;
    make_batch(&b, batch_base(2), RECS, batch_ts(2), PAYLOAD);
    CU_ASSERT_EQUAL(log_segment_append(seg, b.data, b.len, BASE + (int64_t)INT32_MAX + 1, batch_ts(2), BASE),
                    KERR_UNKNOWN_SERVER_ERROR);
    CU_ASSERT_EQUAL(log_segment_append(seg, b.data, b.len, BASE - 1, batch_ts(2), BASE),
                    KERR_UNKNOWN_SERVER_ERROR);
    CU_ASSERT_EQUAL(log_segment_append(seg, b.data, 0, batch_last(2), batch_ts(2), BASE), KERR_NONE);
    CU_ASSERT_EQUAL(log_segment_size(seg), size);
    CU_ASSERT_TRUE(log_segment_can_convert_offset(seg, BASE + (int64_t)INT32_MAX));
    CU_ASSERT_FALSE(log_segment_can_convert_offset(seg, BASE + (int64_t)INT32_MAX + 1));
    buf_free(&b);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

static void test_roll_decisions(void) {
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 0);
    int64_t created = log_segment_created_ms(seg);
    CU_ASSERT_TRUE(created > 0);
    /* empty: no first batch, the wall clock decides */
    CU_ASSERT_EQUAL(log_segment_time_waited_for_roll(seg, created + 5000, T0), 5000);
    CU_ASSERT_EQUAL(log_segment_first_batch_timestamp(seg), INT64_MAX);
    log_segment_roll_params_t p = {1000, 60000, 0, 100, T0 + 120000, BASE, created + 120000};
    CU_ASSERT_FALSE(log_segment_should_roll(seg, &p)); /* empty segments never roll on time */

    append_batch(seg, 0); /* max timestamp T0 + 2 */
    uint32_t size = log_segment_size(seg);
    CU_ASSERT_EQUAL(log_segment_first_batch_timestamp(seg), batch_max_ts(0));
    CU_ASSERT_EQUAL(log_segment_time_waited_for_roll(seg, 0, T0 + 100), T0 + 100 - batch_max_ts(0));
    p.max_segment_bytes = size + 100;
    p.messages_size = 100;
    p.max_timestamp_in_messages = batch_max_ts(0) + 60000; /* waited exactly segment.ms: not more */
    CU_ASSERT_FALSE(log_segment_should_roll(seg, &p));
    p.max_timestamp_in_messages++;
    CU_ASSERT_TRUE(log_segment_should_roll(seg, &p));
    p.max_timestamp_in_messages--;
    p.roll_jitter_ms = 1;
    CU_ASSERT_TRUE(log_segment_should_roll(seg, &p));
    p.roll_jitter_ms = 0;
    p.messages_size = 101; /* size > segment.bytes - incoming */
    CU_ASSERT_TRUE(log_segment_should_roll(seg, &p));
    p.messages_size = 100;
    p.max_offset_in_messages = BASE + (int64_t)INT32_MAX + 1;
    CU_ASSERT_TRUE(log_segment_should_roll(seg, &p));
    p.max_offset_in_messages = BASE + (int64_t)INT32_MAX;
    CU_ASSERT_FALSE(log_segment_should_roll(seg, &p));
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);

    /* reopened: the first batch's timestamp is read back lazily */
    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    CU_ASSERT_EQUAL(log_segment_time_waited_for_roll(seg, 0, T0 + 100), T0 + 100 - batch_max_ts(0));
    CU_ASSERT_TRUE(log_segment_indexes_full(seg)); /* loaded, not resized */
    CU_ASSERT_EQUAL(log_segment_resize_indexes(seg, test_cfg.max_index_bytes), KERR_NONE);
    CU_ASSERT_FALSE(log_segment_should_roll(seg, &p));
    /* truncated to empty: the creation time is reset, the clock decides again */
    CU_ASSERT_EQUAL(log_segment_truncate_to(seg, BASE, NULL), KERR_NONE);
    int64_t recreated = log_segment_created_ms(seg);
    CU_ASSERT_TRUE(recreated >= created);
    CU_ASSERT_EQUAL(log_segment_time_waited_for_roll(seg, recreated + 7, T0), 7);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);

    /* a full index forces a roll */
    log_segment_config_t small = test_cfg;
    small.max_index_bytes = 24; /* 3 offset entries, 2 time entries (full at 1) */
    CU_ASSERT_EQUAL_FATAL(log_segment_create(dir, BASE, &small, NULL, &seg), KERR_NONE);
    for (int k = 0; k < 3; k++)
        append_batch(seg, k);
    CU_ASSERT_FALSE(log_segment_indexes_full(seg));
    append_batch(seg, 3);
    CU_ASSERT_TRUE(log_segment_indexes_full(seg)); /* the time index has 1 of 2 */
    p.max_segment_bytes = 1u << 30;
    CU_ASSERT_TRUE(log_segment_should_roll(seg, &p));
    /* appends on a full index still work; entries stop */
    for (int k = 4; k < 15; k++)
        append_batch(seg, k);
    CU_ASSERT_EQUAL(log_segment_offset_index(seg)->file.entries, 3);
    CU_ASSERT_EQUAL(log_segment_time_index(seg)->file.entries, 1);
    check_reads(seg, 15);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

/* Segments without timestamps: retention falls back to the file's mtime. */
static void test_no_timestamps(void) {
    char *dir = unit_mkdtemp();
    log_segment_t *seg = NULL;
    CU_ASSERT_EQUAL_FATAL(log_segment_create(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    buf_t b = BUF_INIT;
    make_batch(&b, BASE, RECS, -1, PAYLOAD);
    CU_ASSERT_EQUAL(log_segment_append(seg, b.data, b.len, BASE + 2, -1, BASE + 2), KERR_NONE);
    buf_free(&b);
    CU_ASSERT_EQUAL(log_segment_max_timestamp(seg), -1);
    char path[PATH_MAX];
    seg_file(path, sizeof path, dir, LOG_SEGMENT_LOG_EXT);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    CU_ASSERT_EQUAL(log_segment_last_modified_ms(seg), mtime);
    CU_ASSERT_EQUAL(log_segment_largest_timestamp(seg), mtime);
    CU_ASSERT_EQUAL(log_segment_first_batch_timestamp(seg), INT64_MAX);
    log_segment_timestamp_offset_t r;
    CU_ASSERT_EQUAL(log_segment_find_offset_by_timestamp(seg, 0, BASE, &r), KERR_NONE);
    CU_ASSERT_FALSE(r.found);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    CU_ASSERT_EQUAL(log_segment_time_index(seg)->file.entries, 0);
    CU_ASSERT_EQUAL(log_segment_largest_timestamp(seg), mtime);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    unit_rmtree(dir);
    free(dir);
}

static void test_suffix_and_delete(void) {
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, 5);
    CU_ASSERT_EQUAL(log_segment_flush(seg), KERR_NONE);
    CU_ASSERT_EQUAL(log_segment_change_suffix(seg, LOG_SEGMENT_DELETED_SUFFIX), KERR_NONE);
    char path[PATH_MAX];
    static const char *const exts[] = {LOG_SEGMENT_LOG_EXT, LOG_SEGMENT_INDEX_EXT, LOG_SEGMENT_TIME_INDEX_EXT};
    for (int i = 0; i < 3; i++) {
        seg_file(path, sizeof path, dir, exts[i]);
        CU_ASSERT_EQUAL(file_size(path), -1);
        log_segment_filename(path, sizeof path, dir, BASE, exts[i], LOG_SEGMENT_DELETED_SUFFIX);
        CU_ASSERT_TRUE(file_size(path) >= 0);
    }
    check_reads(seg, 5); /* still readable through the open fd */
    CU_ASSERT_EQUAL(log_segment_on_roll(seg), KERR_NONE); /* trims the renamed index */
    log_segment_filename(path, sizeof path, dir, BASE, LOG_SEGMENT_INDEX_EXT, LOG_SEGMENT_DELETED_SUFFIX);
    CU_ASSERT_EQUAL(file_size(path), 8);
    CU_ASSERT_EQUAL(log_segment_delete(seg), KERR_NONE);
    for (int i = 0; i < 3; i++) {
        log_segment_filename(path, sizeof path, dir, BASE, exts[i], LOG_SEGMENT_DELETED_SUFFIX);
        CU_ASSERT_EQUAL(file_size(path), -1);
    }

    /* create over stale files replaces them */
    seg = make_segment(dir, 4);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    seg = make_segment(dir, 1);
    CU_ASSERT_EQUAL(log_segment_size(seg), batch_bytes());
    CU_ASSERT_EQUAL(log_segment_offset_index(seg)->file.entries, 0);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);

    /* set_dir follows a directory rename */
    char *moved = malloc(strlen(dir) + 8);
    sprintf(moved, "%s/moved", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(moved, 0755), 0);
    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
    static const char *const exts2[] = {LOG_SEGMENT_LOG_EXT, LOG_SEGMENT_INDEX_EXT, LOG_SEGMENT_TIME_INDEX_EXT};
    for (int i = 0; i < 3; i++) {
        char to[PATH_MAX];
        seg_file(path, sizeof path, dir, exts2[i]);
        log_segment_filename(to, sizeof to, moved, BASE, exts2[i], NULL);
        CU_ASSERT_EQUAL(rename(path, to), 0);
    }
    log_segment_set_dir(seg, moved);
    CU_ASSERT_EQUAL(log_segment_delete(seg), KERR_NONE);
    for (int i = 0; i < 3; i++) {
        log_segment_filename(path, sizeof path, moved, BASE, exts2[i], NULL);
        CU_ASSERT_EQUAL(file_size(path), -1);
    }
    free(moved);
    unit_rmtree(dir);
    free(dir);
}

static uint8_t *slurp(const char *dir, const char *ext, size_t *len) {
    char path[PATH_MAX];
    seg_file(path, sizeof path, dir, ext);
    struct stat st;
    CU_ASSERT_FATAL(stat(path, &st) == 0);
    uint8_t *data = malloc((size_t)st.st_size + 1);
    int fd = open(path, O_RDONLY);
    CU_ASSERT_EQUAL_FATAL(read(fd, data, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return data;
}

static void spit(const char *dir, const char *ext, const uint8_t *data, size_t len) {
    char path[PATH_MAX];
    seg_file(path, sizeof path, dir, ext);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL_FATAL(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* Flips 1..3 random bytes of a copy of data; returns the copy, with 16 zero
 * bytes after it (a damaged file may also be longer). */
static uint8_t *damaged_copy(const uint8_t *data, size_t len, unsigned *seed) {
    uint8_t *c = calloc(1, len + 16);
    memcpy(c, data, len);
    int flips = 1 + rand_r(seed) % 3;
    for (int i = 0; i < flips && len > 0; i++)
        c[(size_t)rand_r(seed) % len] ^= (uint8_t)(1 + rand_r(seed) % 255);
    return c;
}

/* Random damage to the .log (inside the CRC-covered bytes of random batches)
 * and to both indexes (random bytes, random lengths): every call on the
 * unrecovered segment returns, and recovery keeps exactly the batches before
 * the first damaged one, with indexes rebuilt as the appends made them. */
static void test_random_damage(void) {
    const int N = 12;
    uint32_t B = batch_bytes();
    char *dir = unit_mkdtemp();
    log_segment_t *seg = make_segment(dir, N);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    size_t log_len, oi_len, ti_len;
    uint8_t *log_bytes = slurp(dir, LOG_SEGMENT_LOG_EXT, &log_len);
    uint8_t *oi_bytes = slurp(dir, LOG_SEGMENT_INDEX_EXT, &oi_len);
    uint8_t *ti_bytes = slurp(dir, LOG_SEGMENT_TIME_INDEX_EXT, &ti_len);
    unsigned seed = 20261125;
    for (int iter = 0; iter < 150; iter++) {
        /* damage batch first..N-1 at random, CRC-covered bytes only */
        int first = rand_r(&seed) % (N + 1);
        uint8_t *log_copy = malloc(log_len);
        memcpy(log_copy, log_bytes, log_len);
        for (int k = first; k < N; k += 1 + rand_r(&seed) % 4) {
            uint32_t within = BATCH_OFF_ATTRIBUTES + (uint32_t)rand_r(&seed) % (B - BATCH_OFF_ATTRIBUTES);
            uint32_t at = (uint32_t)k * B + within;
            log_copy[at] ^= (uint8_t)(1 + rand_r(&seed) % 255);
        }
        size_t log_cut = iter % 5 == 0 ? (size_t)rand_r(&seed) % (log_len + 1) : log_len;
        int kept = first;
        if (log_cut / B < (size_t)kept)
            kept = (int)(log_cut / B);
        spit(dir, LOG_SEGMENT_LOG_EXT, log_copy, log_cut);
        uint8_t *oi_copy = damaged_copy(oi_bytes, oi_len, &seed);
        uint8_t *ti_copy = damaged_copy(ti_bytes, ti_len, &seed);
        size_t oi_cut = iter % 3 == 0 ? oi_len : (size_t)rand_r(&seed) % (oi_len + 9);
        size_t ti_cut = iter % 4 == 0 ? ti_len : (size_t)rand_r(&seed) % (ti_len + 13);
        spit(dir, LOG_SEGMENT_INDEX_EXT, oi_copy, oi_cut);
        spit(dir, LOG_SEGMENT_TIME_INDEX_EXT, ti_copy, ti_cut);
        free(log_copy);
        free(oi_copy);
        free(ti_copy);

        CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_NONE);
        for (int64_t o = BASE - 1; o <= batch_base(N); o++) {
            log_segment_read_t r;
            kerr_t e = log_segment_read(seg, o, 1000, UINT64_MAX, true, &r);
            CU_ASSERT(e == KERR_NONE || e == KERR_OFFSET_OUT_OF_RANGE || e == KERR_CORRUPT_MESSAGE);
            if (e == KERR_NONE)
                CU_ASSERT((uint64_t)r.position + r.length <= log_segment_size(seg));
        }
        for (int k = -1; k <= N; k++) {
            log_segment_timestamp_offset_t t;
            kerr_t e = log_segment_find_offset_by_timestamp(seg, batch_ts(k) + 1, BASE, &t);
            CU_ASSERT(e == KERR_NONE || e == KERR_CORRUPT_MESSAGE);
        }
        int64_t next;
        (void)log_segment_next_offset(seg, &next);
        (void)log_segment_time_waited_for_roll(seg, 0, T0);

        uint32_t cut = 0;
        CU_ASSERT_EQUAL(log_segment_recover(seg, INT32_MAX, NULL, NULL, &cut), KERR_NONE);
        CU_ASSERT_EQUAL(log_segment_size(seg), (uint32_t)kept * B);
        CU_ASSERT_EQUAL(cut, log_cut - (size_t)kept * B);
        CU_ASSERT_EQUAL(log_segment_next_offset(seg, &next), KERR_NONE);
        CU_ASSERT_EQUAL(next, batch_base(kept));
        check_indexes(seg, kept, true);
        check_reads(seg, kept);
        CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    }
    free(log_bytes);
    free(oi_bytes);
    free(ti_bytes);
    unit_rmtree(dir);
    free(dir);
}

/* Disk blocks the .log holds, in bytes. */
static long file_allocated(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_blocks * 512 : -1;
}

#define BIG_RECS 200
#define BIG_PAYLOAD 1300 /* a batch of ~260 KB */

/* A segment past 1 MiB reserves blocks ahead of its appends (as much again
 * as it holds, at most 8 MiB) without changing its size; roll and close give
 * them back, and an open frees what a crash left reserved. */
static void test_blocks_reserved_ahead(void) {
    char *dir = unit_mkdtemp();
    const log_segment_config_t cfg = {INTERVAL, 4096, 64u << 20};
    log_segment_t *seg = NULL;
    CU_ASSERT_EQUAL_FATAL(log_segment_create(dir, BASE, &cfg, NULL, &seg), KERR_NONE);
    buf_t all = BUF_INIT;
    long B = 0;
    char path[PATH_MAX];
    seg_file(path, sizeof path, dir, LOG_SEGMENT_LOG_EXT);
    for (int k = 0; k < 8; k++) {
        buf_t b = BUF_INIT;
        int64_t base = BASE + (int64_t)k * BIG_RECS;
        make_batch(&b, base, BIG_RECS, T0 + k, BIG_PAYLOAD);
        B = (long)b.len;
        CU_ASSERT_EQUAL(log_segment_append(seg, b.data, b.len, base + BIG_RECS - 1, T0 + k, base), KERR_NONE);
        buf_append(&all, b.data, b.len);
        buf_free(&b);
        CU_ASSERT_EQUAL(file_size(path), (k + 1) * B);
        if (k == 3) /* 4 x ~260 KB < 1 MiB: nothing reserved yet */
            CU_ASSERT_TRUE(file_allocated(path) < (k + 1) * B + 4096);
    }
    /* the 6th append found 5B held and reserved up to 6B + 5B */
    long reserved_to = 11 * B;
    CU_ASSERT_TRUE(file_allocated(path) >= reserved_to - 4096);
    CU_ASSERT_TRUE(file_allocated(path) < reserved_to + 65536);
    log_segment_read_t r;
    CU_ASSERT_EQUAL_FATAL(log_segment_read(seg, BASE, UINT32_MAX, UINT64_MAX, false, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.length, (uint32_t)all.len);
    const uint8_t *data = log_segment_data(seg, 0, (uint32_t)all.len);
    CU_ASSERT_FATAL(data != NULL);
    CU_ASSERT_EQUAL(memcmp(data, all.data, all.len), 0);

    /* retention's fallback clock: an old mtime stays */
    const struct timespec old_times[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = 1000000000, .tv_nsec = 5}};
    CU_ASSERT_EQUAL_FATAL(utimensat(AT_FDCWD, path, old_times, 0), 0);
    CU_ASSERT_EQUAL(log_segment_on_roll(seg), KERR_NONE);
    struct stat after;
    CU_ASSERT_EQUAL_FATAL(stat(path, &after), 0);
    CU_ASSERT_EQUAL(after.st_mtim.tv_sec, 1000000000);
    CU_ASSERT_EQUAL(after.st_mtim.tv_nsec, 5);
    CU_ASSERT_EQUAL(file_size(path), 8 * B);
    CU_ASSERT_TRUE(file_allocated(path) < 8 * B + 4096 + 65536);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);

    /* blocks left reserved past the data, as after a crash */
    int fd = open(path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8 * B, 4 << 20), 0);
    close(fd);
    CU_ASSERT_TRUE(file_allocated(path) >= 8 * B + (4 << 20) - 4096);
    CU_ASSERT_EQUAL_FATAL(log_segment_open(dir, BASE, &cfg, NULL, &seg), KERR_NONE);
    CU_ASSERT_PTR_NULL(log_segment_needs_recovery(seg));
    CU_ASSERT_EQUAL(file_size(path), 8 * B);
    CU_ASSERT_TRUE(file_allocated(path) < 8 * B + 4096 + 65536);
    data = log_segment_data(seg, 0, (uint32_t)all.len);
    CU_ASSERT_FATAL(data != NULL);
    CU_ASSERT_EQUAL(memcmp(data, all.data, all.len), 0);
    CU_ASSERT_EQUAL(log_segment_close(seg), KERR_NONE);
    buf_free(&all);
    unit_rmtree(dir);
    free(dir);
}

static void test_open_missing(void) {
    char *dir = unit_mkdtemp();
    log_segment_t *seg = NULL;
    CU_ASSERT_EQUAL(log_segment_open(dir, BASE, &test_cfg, NULL, &seg), KERR_KAFKA_STORAGE_ERROR);
    CU_ASSERT_PTR_NULL(seg);
    unit_rmtree(dir);
    free(dir);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"20-digit file names", test_filenames},
        {"create, empty segment, delete", test_create_empty},
        {"append/read round trip, index entry rule", test_append_read_round_trip},
        {"read mapping grows, old pointers stay valid", test_mapping_growth},
        {"read bounds: max size, min one, max position", test_read_bounds},
        {"persistence across close/open", test_persistence},
        {"roll trims and writes the final time entry", test_roll_trims},
        {"recover a torn tail", test_recover_torn_tail},
        {"recover a flipped byte and an oversize batch", test_recover_flipped_byte},
        {"recover stops at bad offsets", test_recover_bad_offsets},
        {"lost or damaged index rebuilt identical", test_recover_lost_index},
        {"malformed framing never crashes", test_corrupt_framing},
        {"truncate_to every offset", test_truncate_to_every_offset},
        {"truncate, append, reopen", test_truncate_then_reopen},
        {"find offset by timestamp", test_find_by_timestamp},
        {"append refusals", test_append_refusals},
        {"roll decisions", test_roll_decisions},
        {"segments without timestamps", test_no_timestamps},
        {"suffix change, delete, stale files, set_dir", test_suffix_and_delete},
        {"random damage: no crash, exact recovery", test_random_damage},
        {"open of a missing segment", test_open_missing},
        {"blocks reserved ahead of appends, given back", test_blocks_reserved_ahead},
        {NULL, NULL},
    };
    logger_set_level(LOGGER_ERROR); /* recovery's warnings are expected here */
    unit_add_suite("log_segment", tests);
}
