/* The partition log: appends, reads, rolls, recovery after crashes, retention,
 * truncation, timestamps, and a long random run checked against a model. */
#include "unit.h"

#include "log/log.h"
#include "log/record_batch.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1600000000000LL

typedef struct fixture {
    char *root;
    char dir[4200];
    log_config_t cfg;
    log_t *log;
} fixture_t;

static void fx_open_opts(fixture_t *fx, const log_open_opts_t *opts) {
    char err[512] = "";
    kerr_t e = log_open(fx->dir, &fx->cfg, opts, &fx->log, err, sizeof err);
    if (e != KERR_NONE)
        fprintf(stderr, "log_open: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(e, KERR_NONE);
}

/* Opens as after a crash (no clean-shutdown marker, recovery point 0). */
static void fx_open_unclean(fixture_t *fx) {
    log_open_opts_t o = {.recovery_point = 0, .log_start_offset = -1, .high_watermark = -1,
                         .clean_shutdown = false, .now_ms = T0};
    fx_open_opts(fx, &o);
}

static void fx_open_clean(fixture_t *fx) {
    log_open_opts_t o = {.recovery_point = 0, .log_start_offset = -1, .high_watermark = INT64_MAX,
                         .clean_shutdown = true, .now_ms = T0};
    fx_open_opts(fx, &o);
}

static void fx_init(fixture_t *fx) {
    memset(fx, 0, sizeof *fx);
    fx->root = unit_mkdtemp();
    snprintf(fx->dir, sizeof fx->dir, "%s/orders-0", fx->root);
    log_config_default(&fx->cfg);
    fx->cfg.file_delete_delay_ms = 0;
}

static void fx_done(fixture_t *fx) {
    log_close(fx->log);
    unit_rmtree(fx->root);
    free(fx->root);
}

/* A producer batch of n records with values "v<seq>", keys "k<seq>". */
static void make_batch(buf_t *out, int n, int64_t first_seq, int64_t ts, compression_t codec) {
    record_input_t recs[64];
    char keys[64][24], vals[64][24];
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "k%" PRId64, first_seq + i);
        snprintf(vals[i], sizeof vals[i], "v%" PRId64, first_seq + i);
        recs[i] = (record_input_t){.key = keys[i], .key_len = (int32_t)strlen(keys[i]), .value = vals[i],
                                   .value_len = (int32_t)strlen(vals[i]), .timestamp = ts + i};
    }
    batch_build_opts_t o = {.base_offset = 0, .partition_leader_epoch = -1, .compression = codec,
                            .producer_id = -1, .producer_epoch = -1, .base_sequence = -1};
    buf_reset(out);
    CU_ASSERT_EQUAL_FATAL(record_batch_build(out, &o, recs, n), KERR_NONE);
}

static int64_t append(fixture_t *fx, int n, int64_t seq, int64_t ts) {
    buf_t b = BUF_INIT;
    make_batch(&b, n, seq, ts, COMPRESSION_NONE);
    log_append_info_t info;
    kerr_t e = log_append_as_leader(fx->log, b.data, b.len, 3, ts, &info);
    CU_ASSERT_EQUAL(e, KERR_NONE);
    buf_free(&b);
    return e == KERR_NONE ? info.first_offset : -1;
}

/* Reads from offset and returns the value of the record at exactly offset
 * ("" if absent) — walking the returned batches as a client would. */
static void value_at(fixture_t *fx, int64_t offset, char *out, size_t cap) {
    out[0] = '\0';
    log_read_info_t r;
    CU_ASSERT_EQUAL_FATAL(log_read(fx->log, offset, 1 << 20, -1, true, &r), KERR_NONE);
    if (!r.length)
        return;
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.data);
    size_t pos = 0;
    while (pos + BATCH_HEADER_SIZE <= r.length) {
        batch_header_t h;
        batch_header_read(r.data + pos, &h);
        if (pos + batch_size(&h) > r.length)
            break;
        record_iter_t it;
        CU_ASSERT_EQUAL_FATAL(record_iter_init(&it, r.data + pos, batch_size(&h), 1 << 24), KERR_NONE);
        record_t rec;
        while (record_iter_next(&it, &rec) == 1) {
            if (h.base_offset + rec.offset_delta == offset) {
                snprintf(out, cap, "%.*s", (int)rec.value_len, (const char *)rec.value);
                record_iter_free(&it);
                return;
            }
        }
        record_iter_free(&it);
        pos += batch_size(&h);
    }
}

static void test_append_and_read_round_trip(void) {
    fixture_t fx;
    fx_init(&fx);
    fx_open_unclean(&fx);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 0);
    CU_ASSERT_EQUAL(append(&fx, 3, 0, T0), 0);
    CU_ASSERT_EQUAL(append(&fx, 2, 3, T0 + 10), 3);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 5);
    char v[32];
    for (int64_t o = 0; o < 5; o++) {
        char want[32];
        snprintf(want, sizeof want, "v%" PRId64, o);
        value_at(&fx, o, v, sizeof v);
        CU_ASSERT_STRING_EQUAL(v, want);
    }
    /* The read of offset 1 starts at the batch holding it (offset 0). */
    log_read_info_t r;
    CU_ASSERT_EQUAL(log_read(fx.log, 1, 1 << 20, -1, true, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.position, 0);
    batch_header_t h;
    batch_header_read(r.data, &h);
    CU_ASSERT_EQUAL(h.base_offset, 0);
    CU_ASSERT_EQUAL(h.partition_leader_epoch, 3);
    /* At the LEO: empty; beyond it: out of range. */
    CU_ASSERT_EQUAL(log_read(fx.log, 5, 1 << 20, -1, true, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.length, 0);
    CU_ASSERT_EQUAL(log_read(fx.log, 6, 1 << 20, -1, true, &r), KERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(log_read(fx.log, -1, 1 << 20, -1, true, &r), KERR_OFFSET_OUT_OF_RANGE);
    /* A high watermark of 3 hides the second batch. */
    CU_ASSERT_EQUAL(log_read(fx.log, 0, 1 << 20, 3, true, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.length, batch_size(&h));
    CU_ASSERT_EQUAL(log_read(fx.log, 3, 1 << 20, 3, true, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.length, 0);
    /* The epoch cache learned epoch 3 at offset 0. */
    CU_ASSERT_EQUAL(leader_epoch_latest_epoch(log_leader_epochs(fx.log)), 3);
    fx_done(&fx);
}

static void test_invalid_batch_writes_nothing(void) {
    fixture_t fx;
    fx_init(&fx);
    fx_open_unclean(&fx);
    buf_t b = BUF_INIT;
    make_batch(&b, 2, 0, T0, COMPRESSION_NONE);
    b.data[b.len - 1] ^= 0x40; /* CRC no longer matches */
    CU_ASSERT_EQUAL(log_append_as_leader(fx.log, b.data, b.len, 0, T0, NULL), KERR_CORRUPT_MESSAGE);
    make_batch(&b, 2, 0, T0, COMPRESSION_NONE);
    fx.cfg.max_message_bytes = (uint32_t)b.len - 1;
    log_set_config(fx.log, &fx.cfg);
    CU_ASSERT_EQUAL(log_append_as_leader(fx.log, b.data, b.len, 0, T0, NULL), KERR_MESSAGE_TOO_LARGE);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 0);
    CU_ASSERT_EQUAL(log_size_bytes(fx.log), 0);
    buf_free(&b);
    fx_done(&fx);
}

static void test_roll_on_segment_bytes(void) {
    fixture_t fx;
    fx_init(&fx);
    buf_t b = BUF_INIT;
    make_batch(&b, 1, 0, T0, COMPRESSION_NONE);
    fx.cfg.segment_bytes = b.len * 3; /* three batches a segment */
    buf_free(&b);
    fx_open_unclean(&fx);
    for (int i = 0; i < 10; i++)
        append(&fx, 1, i, T0 + i);
    CU_ASSERT_EQUAL_FATAL(log_num_segments(fx.log), 4);
    CU_ASSERT_EQUAL(log_segment_base_offset(log_nth_segment(fx.log, 0)), 0);
    CU_ASSERT_EQUAL(log_segment_base_offset(log_nth_segment(fx.log, 1)), 3);
    CU_ASSERT_EQUAL(log_segment_base_offset(log_nth_segment(fx.log, 3)), 9);
    char path[4300];
    snprintf(path, sizeof path, "%s/00000000000000000006.log", fx.dir);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    char v[32];
    value_at(&fx, 7, v, sizeof v);
    CU_ASSERT_STRING_EQUAL(v, "v7");
    /* Reopen: same segments, same LEO. */
    log_close(fx.log);
    fx_open_clean(&fx);
    CU_ASSERT_EQUAL(log_num_segments(fx.log), 4);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 10);
    CU_ASSERT_EQUAL(append(&fx, 1, 10, T0), 10);
    fx_done(&fx);
}

static void test_roll_on_time(void) {
    fixture_t fx;
    fx_init(&fx);
    fx.cfg.segment_ms = 1000;
    fx_open_unclean(&fx);
    append(&fx, 1, 0, T0);
    append(&fx, 1, 1, T0 + 1000); /* Kafka rolls only once *more* than segment.ms has passed */
    CU_ASSERT_EQUAL(log_num_segments(fx.log), 1);
    append(&fx, 1, 2, T0 + 1001);
    CU_ASSERT_EQUAL_FATAL(log_num_segments(fx.log), 2);
    CU_ASSERT_EQUAL(log_segment_base_offset(log_nth_segment(fx.log, 1)), 2);
    fx_done(&fx);
}

static void cut_file(const char *path, off_t by) {
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL_FATAL(truncate(path, st.st_size - by), 0);
}

static void test_recovery_from_torn_tail(void) {
    fixture_t fx;
    fx_init(&fx);
    fx_open_unclean(&fx);
    for (int i = 0; i < 5; i++)
        append(&fx, 2, 2 * i, T0);
    log_close(fx.log);
    char path[4300];
    snprintf(path, sizeof path, "%s/00000000000000000000.log", fx.dir);
    cut_file(path, 7); /* mid-way through the last batch */
    fx_open_unclean(&fx);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 8);
    char v[32];
    value_at(&fx, 7, v, sizeof v);
    CU_ASSERT_STRING_EQUAL(v, "v7");
    CU_ASSERT_EQUAL(append(&fx, 1, 100, T0), 8);
    value_at(&fx, 8, v, sizeof v);
    CU_ASSERT_STRING_EQUAL(v, "v100");
    fx_done(&fx);
}

/* A flipped byte in the second of three segments: the log ends before that
 * batch and the third segment is gone. */
static void test_recovery_from_flipped_byte(void) {
    fixture_t fx;
    fx_init(&fx);
    buf_t b = BUF_INIT;
    make_batch(&b, 1, 0, T0, COMPRESSION_NONE);
    size_t one = b.len;
    fx.cfg.segment_bytes = one * 2;
    buf_free(&b);
    fx_open_unclean(&fx);
    for (int i = 0; i < 6; i++)
        append(&fx, 1, i, T0);
    CU_ASSERT_EQUAL(log_num_segments(fx.log), 3);
    log_close(fx.log);

    char path[4300];
    snprintf(path, sizeof path, "%s/00000000000000000002.log", fx.dir);
    int fd = open(path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t byte;
    off_t at = (off_t)one + 70; /* inside offset 3's records */
    CU_ASSERT_EQUAL(pread(fd, &byte, 1, at), 1);
    byte ^= 0x01;
    CU_ASSERT_EQUAL(pwrite(fd, &byte, 1, at), 1);
    close(fd);

    fx_open_unclean(&fx);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 3);
    CU_ASSERT_EQUAL(log_num_segments(fx.log), 2);
    snprintf(path, sizeof path, "%s/00000000000000000004.log", fx.dir);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    CU_ASSERT_EQUAL(append(&fx, 1, 50, T0), 3);
    fx_done(&fx);
}

/* After a clean shutdown nothing is scanned — but a missing index is still
 * noticed and rebuilt, with the same lookups as before. */
static void test_recovery_rebuilds_deleted_index(void) {
    fixture_t fx;
    fx_init(&fx);
    fx.cfg.index_interval_bytes = 100;
    fx_open_unclean(&fx);
    for (int i = 0; i < 40; i++)
        append(&fx, 3, 3 * i, T0 + i);
    log_roll(fx.log, T0);
    append(&fx, 1, 120, T0);
    size_t entries_before = log_segment_offset_index(log_nth_segment(fx.log, 0))->file.entries;
    CU_ASSERT(entries_before > 10);
    log_close(fx.log);
    char path[4300];
    snprintf(path, sizeof path, "%s/00000000000000000000.index", fx.dir);
    CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
    fx_open_clean(&fx);
    CU_ASSERT_EQUAL(log_segment_offset_index(log_nth_segment(fx.log, 0))->file.entries, entries_before);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    char v[32];
    for (int64_t o = 0; o < 120; o += 7) {
        char want[32];
        snprintf(want, sizeof want, "v%" PRId64, o);
        value_at(&fx, o, v, sizeof v);
        CU_ASSERT_STRING_EQUAL(v, want);
    }
    fx_done(&fx);
}

static void test_retention_by_time_and_size(void) {
    fixture_t fx;
    fx_init(&fx);
    buf_t b = BUF_INIT;
    make_batch(&b, 1, 0, T0, COMPRESSION_NONE);
    size_t one = b.len;
    buf_free(&b);
    fx.cfg.segment_bytes = one; /* one batch a segment */
    fx.cfg.retention_ms = 10000;
    fx_open_unclean(&fx);
    for (int i = 0; i < 6; i++)
        append(&fx, 1, i, T0 + 1000 * i);
    CU_ASSERT_EQUAL(log_num_segments(fx.log), 6);

    /* Nothing may go above the high watermark. */
    log_set_high_watermark(fx.log, 0);
    CU_ASSERT_EQUAL(log_apply_retention(fx.log, T0 + 100000), 0);
    log_set_high_watermark(fx.log, 6);

    /* At T0+12500 the batches of T0, T0+1000 and T0+2000 are > 10 s old. */
    CU_ASSERT_EQUAL(log_apply_retention(fx.log, T0 + 12500), 3);
    CU_ASSERT_EQUAL(log_start_offset(fx.log), 3);
    CU_ASSERT_EQUAL(log_num_segments(fx.log), 3);
    log_read_info_t r;
    CU_ASSERT_EQUAL(log_read(fx.log, 2, 1000, -1, true, &r), KERR_OFFSET_OUT_OF_RANGE);

    /* Size: keep at most two batches' worth — the active one is never deleted. */
    fx.cfg.retention_ms = -1;
    fx.cfg.retention_bytes = (int64_t)one * 2;
    log_set_config(fx.log, &fx.cfg);
    CU_ASSERT_EQUAL(log_apply_retention(fx.log, T0 + 12500), 1);
    CU_ASSERT_EQUAL(log_start_offset(fx.log), 4);
    fx.cfg.retention_bytes = 0;
    log_set_config(fx.log, &fx.cfg);
    CU_ASSERT_EQUAL(log_apply_retention(fx.log, T0 + 12500), 1);
    CU_ASSERT_EQUAL(log_num_segments(fx.log), 1);
    CU_ASSERT_EQUAL(log_start_offset(fx.log), 5);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 6);

    /* Deleted files are gone once the delay (0 here) has passed. */
    log_remove_deleted(fx.log, T0 + 12500);
    char path[4300];
    snprintf(path, sizeof path, "%s/00000000000000000000.log.deleted", fx.dir);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/00000000000000000000.log", fx.dir);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    fx_done(&fx);
}

/* An unclean-opened log whose segments take two batches of two records. */
static void fx_open_two_batch_segments(fixture_t *fx) {
    fx_init(fx);
    buf_t b = BUF_INIT;
    make_batch(&b, 2, 0, T0, COMPRESSION_NONE);
    fx->cfg.segment_bytes = b.len * 2;
    buf_free(&b);
    fx_open_unclean(fx);
}

static void test_truncation(void) {
    fixture_t fx;
    fx_open_two_batch_segments(&fx);
    for (int i = 0; i < 6; i++)
        append(&fx, 2, 2 * i, T0); /* offsets 0..11, segments at 0, 4, 8 */
    log_set_high_watermark(fx.log, 12);
    CU_ASSERT_EQUAL(log_truncate_to(fx.log, 6), KERR_NONE);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 6);
    CU_ASSERT_EQUAL(log_high_watermark(fx.log), 6);
    CU_ASSERT_EQUAL(log_num_segments(fx.log), 2);
    /* Inside a batch: the whole batch goes. */
    CU_ASSERT_EQUAL(log_truncate_to(fx.log, 5), KERR_NONE);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 4);
    CU_ASSERT_EQUAL(append(&fx, 1, 40, T0), 4);
    char v[32];
    value_at(&fx, 4, v, sizeof v);
    CU_ASSERT_STRING_EQUAL(v, "v40");
    CU_ASSERT_EQUAL(log_truncate_fully_and_start_at(fx.log, 100, T0), KERR_NONE);
    CU_ASSERT_EQUAL(log_start_offset(fx.log), 100);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 100);
    CU_ASSERT_EQUAL(log_num_segments(fx.log), 1);
    CU_ASSERT_EQUAL(append(&fx, 1, 41, T0), 100);
    log_close(fx.log);
    fx_open_unclean(&fx);
    CU_ASSERT_EQUAL(log_start_offset(fx.log), 100);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 101);
    fx_done(&fx);
}

/* A flush in steps: the recovery point becomes what begin saw, whatever
 * was appended or rolled meanwhile; after a truncation it stays, since the
 * offsets it synced may hold other data now; begin with nothing to flush
 * hands out nothing. */
static void test_flush_job_outside_the_lock(void) {
    fixture_t fx;
    fx_open_two_batch_segments(&fx);
    for (int i = 0; i < 3; i++)
        append(&fx, 2, 2 * i, T0); /* offsets 0..5, segments at 0, 4 */
    log_flush_job_t job;
    kerr_t err = KERR_UNKNOWN_SERVER_ERROR;
    CU_ASSERT_TRUE_FATAL(log_flush_begin(fx.log, 4, &job, &err));
    CU_ASSERT_EQUAL(err, KERR_NONE);
    CU_ASSERT_EQUAL(job.offset, 4);
    CU_ASSERT_EQUAL(job.nfds, LOG_SEGMENT_SYNC_FILES); /* the first segment's three files */
    append(&fx, 2, 6, T0);                         /* 6..7: rolls to a segment at 8 */
    append(&fx, 2, 8, T0);
    CU_ASSERT_EQUAL(log_num_segments(fx.log), 3);
    CU_ASSERT_EQUAL(log_flush_sync(&job), KERR_NONE);
    CU_ASSERT_EQUAL(job.nfds, 0);
    CU_ASSERT_PTR_NULL(job.fds);
    CU_ASSERT_EQUAL(log_recovery_point(fx.log), 0);
    log_flush_finish(fx.log, &job);
    CU_ASSERT_EQUAL(log_recovery_point(fx.log), 4);

    /* The rolls asked for everything before the active segment (8): from
     * the recovery point on, that is the segment at 4 alone. */
    CU_ASSERT_EQUAL(log_roll_flush_pending(fx.log), 8);
    CU_ASSERT_TRUE_FATAL(log_flush_begin(fx.log, log_roll_flush_pending(fx.log), &job, &err));
    CU_ASSERT_EQUAL(job.nfds, LOG_SEGMENT_SYNC_FILES);
    CU_ASSERT_EQUAL(log_truncate_to(fx.log, 6), KERR_NONE);
    CU_ASSERT_EQUAL(append(&fx, 2, 60, T0), 6);
    CU_ASSERT_EQUAL(append(&fx, 2, 62, T0), 8);
    CU_ASSERT_EQUAL(log_flush_sync(&job), KERR_NONE);
    log_flush_finish(fx.log, &job);
    CU_ASSERT_EQUAL(log_recovery_point(fx.log), 4);

    CU_ASSERT_EQUAL(log_flush(fx.log, -1), KERR_NONE);
    CU_ASSERT_EQUAL(log_recovery_point(fx.log), 10);
    CU_ASSERT_EQUAL(log_roll_flush_pending(fx.log), -1);
    CU_ASSERT_FALSE(log_flush_begin(fx.log, -1, &job, &err));
    CU_ASSERT_EQUAL(err, KERR_NONE);
    CU_ASSERT_EQUAL(job.nfds, 0);
    fx_done(&fx);
}

static void test_offset_for_timestamp(void) {
    fixture_t fx;
    fx_init(&fx);
    fx_open_unclean(&fx);
    append(&fx, 3, 0, T0);        /* T0, T0+1, T0+2 */
    append(&fx, 3, 3, T0 + 100);  /* T0+100 .. T0+102 */
    bool found;
    int64_t off, ts;
    CU_ASSERT_EQUAL(log_offset_for_timestamp(fx.log, LOG_TIMESTAMP_EARLIEST, &found, &off, &ts), KERR_NONE);
    CU_ASSERT(found);
    CU_ASSERT_EQUAL(off, 0);
    CU_ASSERT_EQUAL(log_offset_for_timestamp(fx.log, LOG_TIMESTAMP_LATEST, &found, &off, &ts), KERR_NONE);
    CU_ASSERT_EQUAL(off, 6);
    CU_ASSERT_EQUAL(log_offset_for_timestamp(fx.log, T0 + 1, &found, &off, &ts), KERR_NONE);
    CU_ASSERT(found);
    CU_ASSERT_EQUAL(off, 1);
    CU_ASSERT_EQUAL(ts, T0 + 1);
    CU_ASSERT_EQUAL(log_offset_for_timestamp(fx.log, T0 + 50, &found, &off, &ts), KERR_NONE);
    CU_ASSERT(found);
    CU_ASSERT_EQUAL(off, 3);
    CU_ASSERT_EQUAL(ts, T0 + 100);
    CU_ASSERT_EQUAL(log_offset_for_timestamp(fx.log, T0 + 103, &found, &off, &ts), KERR_NONE);
    CU_ASSERT(!found);
    fx_done(&fx);
}

static void test_follower_append(void) {
    fixture_t fx, leader;
    fx_init(&leader);
    fx_open_unclean(&leader);
    append(&leader, 2, 0, T0);
    append(&leader, 3, 2, T0);
    log_read_info_t r;
    CU_ASSERT_EQUAL_FATAL(log_read(leader.log, 0, 1 << 20, -1, true, &r), KERR_NONE);

    fx_init(&fx);
    fx_open_unclean(&fx);
    log_append_info_t info;
    CU_ASSERT_EQUAL(log_append_as_follower(fx.log, r.data, r.length, T0, &info), KERR_NONE);
    CU_ASSERT_EQUAL(info.first_offset, 0);
    CU_ASSERT_EQUAL(info.last_offset, 4);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 5);
    CU_ASSERT_EQUAL(leader_epoch_latest_epoch(log_leader_epochs(fx.log)), 3);
    /* The same bytes again do not continue the log. */
    CU_ASSERT_EQUAL(log_append_as_follower(fx.log, r.data, r.length, T0, &info), KERR_OFFSET_OUT_OF_RANGE);
    /* A damaged copy is refused. */
    uint8_t *copy = malloc(r.length);
    memcpy(copy, r.data, r.length);
    log_truncate_to(fx.log, 0);
    copy[r.length - 2] ^= 1;
    CU_ASSERT_EQUAL(log_append_as_follower(fx.log, copy, r.length, T0, &info), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 0);
    free(copy);
    fx_done(&fx);
    fx_done(&leader);
}

/* --- a long random run against an in-memory model ----------------------------- */

typedef struct model {
    int64_t *seq;      /* seq[o]: the value written at offset o */
    int64_t *batch_of; /* first offset of the batch holding o */
    int64_t leo;
    int64_t cap;
} model_t;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t bound) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % bound);
}

static void test_random_operations_match_model(void) {
    fixture_t fx;
    fx_init(&fx);
    buf_t b = BUF_INIT;
    make_batch(&b, 1, 0, T0, COMPRESSION_NONE);
    fx.cfg.segment_bytes = b.len * 20;
    fx.cfg.index_interval_bytes = 256;
    buf_free(&b);
    fx_open_unclean(&fx);
    model_t m = {.cap = 100000};
    m.seq = calloc((size_t)m.cap, sizeof *m.seq);
    m.batch_of = calloc((size_t)m.cap, sizeof *m.batch_of);
    int64_t next_seq = 0;
    int mismatches = 0, appends = 0, reads = 0, truncations = 0, reopens = 0;

    for (int op = 0; op < 10000; op++) {
        uint32_t dice = rnd(100);
        if (dice < 55) {
            int n = 1 + (int)rnd(5);
            int64_t first = append(&fx, n, next_seq, T0 + op);
            if (first != m.leo)
                mismatches++;
            for (int i = 0; i < n; i++) {
                m.seq[m.leo + i] = next_seq + i;
                m.batch_of[m.leo + i] = m.leo;
            }
            m.leo += n;
            next_seq += n;
            appends++;
        } else if (dice < 93) {
            if (m.leo == 0)
                continue;
            int64_t o = rnd((uint32_t)m.leo);
            char v[32], want[32];
            snprintf(want, sizeof want, "v%" PRId64, m.seq[o]);
            value_at(&fx, o, v, sizeof v);
            if (strcmp(v, want) != 0)
                mismatches++;
            reads++;
        } else if (dice < 98) {
            if (m.leo == 0)
                continue;
            int64_t o = rnd((uint32_t)m.leo);
            CU_ASSERT_EQUAL(log_truncate_to(fx.log, o), KERR_NONE);
            m.leo = m.batch_of[o]; /* the batch holding o goes whole */
            truncations++;
        } else {
            log_close(fx.log);
            if (rnd(2))
                fx_open_clean(&fx);
            else
                fx_open_unclean(&fx);
            reopens++;
        }
        if (log_end_offset(fx.log) != m.leo)
            mismatches++;
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    CU_ASSERT(appends > 5000 && reads > 3000 && truncations > 300 && reopens > 100);
    free(m.seq);
    free(m.batch_of);
    fx_done(&fx);
}

static void test_dir_names(void) {
    char topic[250];
    int32_t p;
    CU_ASSERT(log_parse_dir_name("orders-3", topic, sizeof topic, &p));
    CU_ASSERT_STRING_EQUAL(topic, "orders");
    CU_ASSERT_EQUAL(p, 3);
    CU_ASSERT(log_parse_dir_name("my-topic.v2-12", topic, sizeof topic, &p));
    CU_ASSERT_STRING_EQUAL(topic, "my-topic.v2");
    CU_ASSERT_EQUAL(p, 12);
    CU_ASSERT(!log_parse_dir_name("orders", topic, sizeof topic, &p));
    CU_ASSERT(!log_parse_dir_name("orders-", topic, sizeof topic, &p));
    CU_ASSERT(!log_parse_dir_name("orders-x", topic, sizeof topic, &p));
    CU_ASSERT(log_parse_dir_name("orders--1", topic, sizeof topic, &p)); /* topic "orders-" is legal */
    CU_ASSERT_STRING_EQUAL(topic, "orders-");
    CU_ASSERT(!log_parse_dir_name("bad topic-1", topic, sizeof topic, &p));
    CU_ASSERT(!log_parse_dir_name("..-1", topic, sizeof topic, &p));
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"append and read round trip", test_append_and_read_round_trip},
        {"an invalid batch writes nothing", test_invalid_batch_writes_nothing},
        {"roll on segment.bytes; reopen", test_roll_on_segment_bytes},
        {"roll on segment.ms", test_roll_on_time},
        {"recovery from a torn tail", test_recovery_from_torn_tail},
        {"recovery from a flipped byte", test_recovery_from_flipped_byte},
        {"recovery rebuilds a deleted index", test_recovery_rebuilds_deleted_index},
        {"retention by time and by size", test_retention_by_time_and_size},
        {"truncation", test_truncation},
        {"a flush job syncs outside the lock", test_flush_job_outside_the_lock},
        {"offset for timestamp", test_offset_for_timestamp},
        {"follower append", test_follower_append},
        {"10,000 random operations match a model", test_random_operations_match_model},
        {"directory names", test_dir_names},
        {NULL, NULL},
    };
    unit_add_suite("log", tests);
}
