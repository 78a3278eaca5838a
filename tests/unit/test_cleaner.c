/* The log cleaner: compaction to the latest record per key with offsets
 * kept, tombstones and delete.retention.ms, the active segment, the dirty
 * ratio and min.compaction.lag.ms, a crash at every step of the swap, the
 * offset map, and cleaner-offset-checkpoint through the log manager. Time
 * is what the tests say: segment mtimes are set, now_ms is passed. */
#include "unit.h"

#include "log/checkpoint.h"
#include "log/cleaner.h"
#include "log/log.h"
#include "log/log_manager.h"
#include "log/record_batch.h"
#include "util/logger.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define T0 1600000000000LL
#define KEYS 10

typedef struct fixture {
    char *root;
    char dir[4200];
    log_config_t cfg;
    log_t *log;
    cleaner_map_t *map;
    int64_t latest[KEYS];       /* offset of each key's latest record, -1 none */
    char latest_value[KEYS][32]; /* "" for a tombstone */
} fixture_t;

static void fx_open(fixture_t *fx, bool clean_shutdown) {
    log_open_opts_t o = {.recovery_point = 0, .log_start_offset = -1, .high_watermark = INT64_MAX,
                         .clean_shutdown = clean_shutdown, .now_ms = T0};
    char err[512] = "";
    kerr_t e = log_open(fx->dir, &fx->cfg, &o, &fx->log, err, sizeof err);
    if (e != KERR_NONE)
        fprintf(stderr, "log_open: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(e, KERR_NONE);
}

static void fx_init(fixture_t *fx) {
    memset(fx, 0, sizeof *fx);
    fx->root = unit_mkdtemp();
    snprintf(fx->dir, sizeof fx->dir, "%s/t-0", fx->root);
    log_config_default(&fx->cfg);
    fx->cfg.compacted = true;
    fx->cfg.deletes = false;
    fx->cfg.segment_bytes = 2048;
    fx->cfg.index_interval_bytes = 256;
    fx->cfg.file_delete_delay_ms = 0;
    fx->cfg.min_cleanable_ratio = 0;
    fx->cfg.delete_retention_ms = 1000;
    for (int k = 0; k < KEYS; k++)
        fx->latest[k] = -1;
    fx->map = cleaner_map_new(1 << 20, 0.9);
    fx_open(fx, true);
}

static void fx_done(fixture_t *fx) {
    log_close(fx->log);
    cleaner_map_free(fx->map);
    unit_rmtree(fx->root);
    free(fx->root);
}

/* One batch of n records: key k<(first_key + i) % KEYS>, value
 * "v<key>-<round>" (a tombstone when tombstone is set), appended as a
 * leader; the model follows. The high watermark follows the LEO. */
static void append_updates(fixture_t *fx, int first_key, int n, int round, bool tombstone, compression_t codec) {
    record_input_t recs[KEYS];
    char keys[KEYS][8], vals[KEYS][32];
    for (int i = 0; i < n; i++) {
        int k = (first_key + i) % KEYS;
        snprintf(keys[i], sizeof keys[i], "k%d", k);
        snprintf(vals[i], sizeof vals[i], "v%d-%d", k, round);
        recs[i] = (record_input_t){.key = keys[i], .key_len = (int32_t)strlen(keys[i]),
                                   .value = tombstone ? NULL : vals[i],
                                   .value_len = tombstone ? -1 : (int32_t)strlen(vals[i]),
                                   .timestamp = T0 + round};
    }
    batch_build_opts_t o = {.partition_leader_epoch = -1, .compression = codec, .producer_id = -1,
                            .producer_epoch = -1, .base_sequence = -1};
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &o, recs, n), KERR_NONE);
    log_append_info_t info;
    CU_ASSERT_EQUAL_FATAL(log_append_as_leader(fx->log, b.data, b.len, 0, T0 + round, &info), KERR_NONE);
    buf_free(&b);
    for (int i = 0; i < n; i++) {
        int k = (first_key + i) % KEYS;
        fx->latest[k] = info.first_offset + i;
        snprintf(fx->latest_value[k], sizeof fx->latest_value[k], "%s", tombstone ? "" : vals[i]);
    }
    log_set_high_watermark(fx->log, INT64_MAX);
}

/* rounds of updates of every key, in batches of 5. */
static void append_rounds(fixture_t *fx, int first_round, int rounds) {
    for (int r = first_round; r < first_round + rounds; r++) {
        append_updates(fx, 0, 5, r, false, COMPRESSION_NONE);
        append_updates(fx, 5, 5, r, false, r % 2 ? COMPRESSION_LZ4 : COMPRESSION_NONE);
    }
}

static void set_segment_mtime(fixture_t *fx, size_t i, int64_t ms) {
    char path[4400];
    log_segment_t *seg = log_nth_segment(fx->log, i);
    CU_ASSERT_PTR_NOT_NULL_FATAL(seg);
    log_segment_filename(path, sizeof path, fx->dir, log_segment_base_offset(seg), LOG_SEGMENT_LOG_EXT, NULL);
    struct timespec t[2] = {{.tv_nsec = UTIME_OMIT}, {ms / 1000, (ms % 1000) * 1000000}};
    CU_ASSERT_EQUAL_FATAL(utimensat(AT_FDCWD, path, t, 0), 0);
}

/* Every inactive segment's mtime = ms. */
static void age_segments(fixture_t *fx, int64_t ms) {
    for (size_t i = 0; i + 1 < log_num_segments(fx->log); i++)
        set_segment_mtime(fx, i, ms);
}

/* One pass as the broker runs it, minus the threads. */
static kerr_t clean(fixture_t *fx, int64_t now_ms, int *crash_after_steps) {
    cleaner_job_t *job = cleaner_job_new(fx->log, "t", 0, now_ms);
    if (!job)
        return KERR_NOT_ENOUGH_REPLICAS; /* "nothing to clean" for the asserts */
    kerr_t e = cleaner_job_run(job, fx->map, 0, NULL);
    if (e == KERR_NONE)
        e = cleaner_job_commit(job, fx->log, now_ms, crash_after_steps);
    cleaner_job_free(job);
    return e;
}

typedef struct rec {
    int64_t offset;
    char key[8];
    char value[32]; /* "" for a tombstone */
    bool tombstone;
} rec_t;

/* Everything a consumer reading from the log start gets, in order; empty
 * batches only move the offset on, as in a client. */
static size_t read_all(fixture_t *fx, rec_t *out, size_t cap, size_t *batches) {
    size_t n = 0;
    *batches = 0;
    int64_t offset = log_start_offset(fx->log);
    while (offset < log_end_offset(fx->log)) {
        log_read_info_t r;
        CU_ASSERT_EQUAL_FATAL(log_read(fx->log, offset, 1 << 20, -1, true, &r), KERR_NONE);
        CU_ASSERT_FATAL(r.length > 0 && r.data != NULL);
        size_t pos = 0;
        while (pos + BATCH_HEADER_SIZE <= r.length) {
            batch_header_t h;
            CU_ASSERT_EQUAL_FATAL(batch_check(r.data + pos, r.length - pos, 1 << 20, &h), BATCH_OK);
            record_iter_t it;
            CU_ASSERT_EQUAL_FATAL(record_iter_init(&it, r.data + pos, batch_size(&h), 1 << 24), KERR_NONE);
            record_t rec;
            int rc;
            while ((rc = record_iter_next(&it, &rec)) == 1) {
                CU_ASSERT_FATAL(n < cap);
                rec_t *o = &out[n++];
                o->offset = h.base_offset + rec.offset_delta;
                snprintf(o->key, sizeof o->key, "%.*s", (int)rec.key_len, (const char *)rec.key);
                o->tombstone = rec.value == NULL;
                snprintf(o->value, sizeof o->value, "%.*s", rec.value ? (int)rec.value_len : 0,
                         rec.value ? (const char *)rec.value : "");
            }
            CU_ASSERT_EQUAL(rc, 0);
            record_iter_free(&it);
            offset = batch_next_offset(&h);
            pos += batch_size(&h);
            (*batches)++;
        }
    }
    return n;
}

/* Offsets strictly increase, and the newest record of every key is its
 * latest in the model with its value. Returns how many records lie below
 * below (the cleaned part). */
static size_t check_latest(fixture_t *fx, const rec_t *recs, size_t n, int64_t below) {
    size_t cleaned = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            CU_ASSERT(recs[i].offset > recs[i - 1].offset);
        if (recs[i].offset < below)
            cleaned++;
    }
    for (int k = 0; k < KEYS; k++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", k);
        const rec_t *last = NULL;
        for (size_t i = 0; i < n; i++)
            if (strcmp(recs[i].key, key) == 0)
                last = &recs[i];
        if (fx->latest[k] < 0)
            continue;
        if (!last && fx->latest_value[k][0] == '\0')
            continue; /* a tombstone that went */
        CU_ASSERT_PTR_NOT_NULL_FATAL(last);
        CU_ASSERT_EQUAL(last->offset, fx->latest[k]);
        CU_ASSERT_STRING_EQUAL(last->value, fx->latest_value[k]);
    }
    return cleaned;
}

static void test_compacts_to_latest_per_key(void) {
    fixture_t fx;
    fx_init(&fx);
    append_rounds(&fx, 0, 20); /* 200 records over 10 keys */
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    append_updates(&fx, 0, 3, 100, false, COMPRESSION_NONE); /* the active segment: 3 records */
    int64_t active_base = log_segment_base_offset(log_nth_segment(fx.log, log_num_segments(fx.log) - 1));
    size_t segs_before = log_num_segments(fx.log);
    uint64_t bytes_before = log_size_bytes(fx.log);
    age_segments(&fx, T0);

    CU_ASSERT_EQUAL(clean(&fx, T0, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(log_cleaner_checkpoint(fx.log), active_base);
    /* groups are made by the old sizes: the first pass keeps the segment
     * count, the next one merges the small cleaned segments */
    CU_ASSERT_EQUAL(log_num_segments(fx.log), segs_before);
    CU_ASSERT(log_size_bytes(fx.log) < bytes_before / 5);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 203);
    CU_ASSERT_EQUAL(log_start_offset(fx.log), 0);

    rec_t recs[400];
    size_t batches;
    size_t n = read_all(&fx, recs, 400, &batches);
    /* one record per key before the active segment, plus the active's 3 */
    CU_ASSERT_EQUAL(check_latest(&fx, recs, n, active_base), KEYS);
    CU_ASSERT_EQUAL(n, KEYS + 3);
    /* the cleaned keys are those of round 19, at their original offsets */
    for (size_t i = 0; i < KEYS; i++) {
        CU_ASSERT_EQUAL(recs[i].offset, 190 + (int64_t)i);
        char want[32];
        snprintf(want, sizeof want, "v%zu-19", i);
        CU_ASSERT_STRING_EQUAL(recs[i].value, want);
    }

    /* nothing dirty is left: a second pass finds nothing */
    CU_ASSERT_EQUAL(clean(&fx, T0, NULL), KERR_NOT_ENOUGH_REPLICAS);
    append_rounds(&fx, 200, 1);
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    append_updates(&fx, 0, 3, 300, false, COMPRESSION_NONE);
    active_base = log_segment_base_offset(log_nth_segment(fx.log, log_num_segments(fx.log) - 1));
    CU_ASSERT_EQUAL(clean(&fx, T0, NULL), KERR_NONE);
    CU_ASSERT(log_num_segments(fx.log) < segs_before);
    n = read_all(&fx, recs, 400, &batches);
    CU_ASSERT_EQUAL(check_latest(&fx, recs, n, active_base), KEYS);
    CU_ASSERT_EQUAL(n, KEYS + 3);
    /* reopened after a crash, the cleaned segments recover as they are */
    log_close(fx.log);
    fx_open(&fx, false);
    size_t n2 = read_all(&fx, recs, 400, &batches);
    CU_ASSERT_EQUAL(n2, n);
    CU_ASSERT_EQUAL(check_latest(&fx, recs, n2, active_base), KEYS);
    fx_done(&fx);
}

/* A batch that keeps some of its records is rewritten with its codec, base
 * and last offsets, first timestamp and producer fields, the records at
 * their offsets, a new count, max timestamp and CRC. */
static void test_partial_batch_rewritten(void) {
    fixture_t fx;
    fx_init(&fx);
    append_updates(&fx, 0, 5, 0, false, COMPRESSION_LZ4); /* offsets 0-4 */
    append_updates(&fx, 1, 1, 1, false, COMPRESSION_NONE); /* k1 again: 5 */
    append_updates(&fx, 4, 1, 2, false, COMPRESSION_NONE); /* k4 again: 6 */
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    log_read_info_t r;
    CU_ASSERT_EQUAL_FATAL(log_read(fx.log, 0, 1 << 20, -1, true, &r), KERR_NONE);
    batch_header_t before;
    batch_header_read(r.data, &before);
    CU_ASSERT_EQUAL(clean(&fx, T0, NULL), KERR_NONE);

    CU_ASSERT_EQUAL_FATAL(log_read(fx.log, 0, 1 << 20, -1, true, &r), KERR_NONE);
    batch_header_t h;
    CU_ASSERT_EQUAL_FATAL(batch_check(r.data, r.length, 1 << 20, &h), BATCH_OK);
    CU_ASSERT_EQUAL(h.base_offset, 0);
    CU_ASSERT_EQUAL(h.last_offset_delta, 4);
    CU_ASSERT_EQUAL(h.records_count, 3);
    CU_ASSERT_EQUAL(batch_compression(&h), COMPRESSION_LZ4);
    CU_ASSERT_EQUAL(h.first_timestamp, before.first_timestamp);
    CU_ASSERT_EQUAL(h.max_timestamp, T0);
    CU_ASSERT_EQUAL(h.producer_id, before.producer_id);
    CU_ASSERT_NOT_EQUAL(h.crc, before.crc);
    rec_t recs[16];
    size_t batches;
    size_t n = read_all(&fx, recs, 16, &batches);
    CU_ASSERT_EQUAL_FATAL(n, 5);
    static const int64_t offsets[] = {0, 2, 3, 5, 6};
    static const char *const values[] = {"v0-0", "v2-0", "v3-0", "v1-1", "v4-2"};
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(recs[i].offset, offsets[i]);
        CU_ASSERT_STRING_EQUAL(recs[i].value, values[i]);
    }
    fx_done(&fx);
}

static void test_active_segment_untouched(void) {
    fixture_t fx;
    fx_init(&fx);
    fx.cfg.segment_bytes = 1 << 20;
    log_set_config(fx.log, &fx.cfg);
    append_rounds(&fx, 0, 5); /* all in the active segment */
    CU_ASSERT_EQUAL(log_num_segments(fx.log), 1);
    uint64_t size = log_size_bytes(fx.log);
    CU_ASSERT_EQUAL(clean(&fx, T0, NULL), KERR_NOT_ENOUGH_REPLICAS);
    CU_ASSERT_EQUAL(log_size_bytes(fx.log), size);
    rec_t recs[100];
    size_t batches;
    CU_ASSERT_EQUAL(read_all(&fx, recs, 100, &batches), 50);
    fx_done(&fx);
}

static void test_tombstones_kept_then_removed(void) {
    fixture_t fx;
    fx_init(&fx);
    append_rounds(&fx, 0, 2);
    append_updates(&fx, 1, 1, 2, true, COMPRESSION_NONE); /* k1 deleted */
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    age_segments(&fx, T0);

    /* pass 1: nothing cleaned before, so every tombstone stays */
    CU_ASSERT_EQUAL(clean(&fx, T0, NULL), KERR_NONE);
    rec_t recs[200];
    size_t batches;
    size_t n = read_all(&fx, recs, 200, &batches);
    CU_ASSERT_EQUAL(n, KEYS);
    CU_ASSERT_STRING_EQUAL(recs[n - 1].key, "k1");
    CU_ASSERT(recs[n - 1].tombstone);

    /* pass 2: new data 5 s later; the horizon is the cleaned part's mtime
     * (T0) - 1 s, and the tombstone's segment (T0) is after it */
    append_updates(&fx, 2, 1, 3, false, COMPRESSION_NONE);
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    set_segment_mtime(&fx, log_num_segments(fx.log) - 2, T0 + 5000);
    CU_ASSERT_EQUAL(clean(&fx, T0 + 5000, NULL), KERR_NONE);
    n = read_all(&fx, recs, 200, &batches);
    CU_ASSERT_EQUAL(n, KEYS);
    bool seen = false;
    for (size_t i = 0; i < n; i++)
        seen |= strcmp(recs[i].key, "k1") == 0 && recs[i].tombstone;
    CU_ASSERT(seen);

    /* pass 3: the last cleaned segment is now 5 s newer than the
     * tombstone's: more than delete.retention.ms, so it goes */
    append_updates(&fx, 3, 1, 4, false, COMPRESSION_NONE);
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    set_segment_mtime(&fx, log_num_segments(fx.log) - 2, T0 + 6000);
    CU_ASSERT_EQUAL(clean(&fx, T0 + 6000, NULL), KERR_NONE);
    n = read_all(&fx, recs, 200, &batches);
    CU_ASSERT_EQUAL(n, KEYS - 1);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT(strcmp(recs[i].key, "k1") != 0);
    check_latest(&fx, recs, n, log_end_offset(fx.log));
    fx_done(&fx);
}

static void test_dirty_ratio_and_compaction_lag(void) {
    fixture_t fx;
    fx_init(&fx);
    fx.cfg.min_cleanable_ratio = 0.5;
    log_set_config(fx.log, &fx.cfg);
    append_rounds(&fx, 0, 10);
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    cleaner_dirt_t d;
    cleaner_assess(fx.log, T0, &d);
    CU_ASSERT_EQUAL(d.first_dirty, 0);
    CU_ASSERT_EQUAL(d.clean_bytes, 0);
    CU_ASSERT(d.dirty_bytes > 0);
    CU_ASSERT(d.ratio == 1.0);
    CU_ASSERT(d.cleanable);

    /* min.compaction.lag.ms: records of T0 + 9 are too young at T0 + 100 */
    fx.cfg.min_compaction_lag_ms = 1000;
    log_set_config(fx.log, &fx.cfg);
    cleaner_assess(fx.log, T0 + 100, &d);
    CU_ASSERT(!d.cleanable);
    CU_ASSERT_EQUAL(d.first_uncleanable, 0);
    CU_ASSERT_EQUAL(clean(&fx, T0 + 100, NULL), KERR_NOT_ENOUGH_REPLICAS);
    fx.cfg.min_compaction_lag_ms = 0;
    log_set_config(fx.log, &fx.cfg);

    CU_ASSERT_EQUAL(clean(&fx, T0, NULL), KERR_NONE);
    uint64_t cleaned = log_size_bytes(fx.log);
    /* a little dirt: below the ratio */
    append_updates(&fx, 0, 1, 50, false, COMPRESSION_NONE);
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    cleaner_assess(fx.log, T0, &d);
    CU_ASSERT(d.dirty_bytes > 0 && d.dirty_bytes < cleaned);
    CU_ASSERT_EQUAL(d.clean_bytes, cleaned);
    CU_ASSERT(d.ratio <= 0.5);
    CU_ASSERT(!d.cleanable);
    CU_ASSERT_EQUAL(clean(&fx, T0, NULL), KERR_NOT_ENOUGH_REPLICAS);
    /* more dirt than clean bytes: above it */
    append_rounds(&fx, 51, 2);
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    cleaner_assess(fx.log, T0, &d);
    CU_ASSERT(d.ratio > 0.5);
    CU_ASSERT(d.cleanable);
    CU_ASSERT_EQUAL(clean(&fx, T0, NULL), KERR_NONE);

    /* the high watermark bounds it too: nothing past it is cleaned */
    append_rounds(&fx, 60, 3);
    int64_t hw = log_end_offset(fx.log);
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    append_rounds(&fx, 70, 3);
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    log_set_high_watermark(fx.log, hw);
    cleaner_assess(fx.log, T0, &d);
    CU_ASSERT(d.first_uncleanable <= hw);
    fx_done(&fx);
}

/* A small map ends the pass early: the checkpoint stops where the map
 * stopped, and the next pass goes on from there. */
static void test_map_smaller_than_dirty_part(void) {
    fixture_t fx;
    fx_init(&fx);
    cleaner_map_free(fx.map);
    fx.map = cleaner_map_new(24 * 8, 0.75); /* 6 keys */
    CU_ASSERT_EQUAL(cleaner_map_capacity(fx.map), 6);
    append_rounds(&fx, 0, 4);
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    int64_t end = log_end_offset(fx.log);
    CU_ASSERT_EQUAL(clean(&fx, T0, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(log_cleaner_checkpoint(fx.log), 6);
    int guard = 0;
    while (log_cleaner_checkpoint(fx.log) < end && guard++ < 100)
        CU_ASSERT_EQUAL_FATAL(clean(&fx, T0, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(log_cleaner_checkpoint(fx.log), end);
    rec_t recs[200];
    size_t batches;
    size_t n = read_all(&fx, recs, 200, &batches);
    CU_ASSERT_EQUAL(check_latest(&fx, recs, n, end), n);
    CU_ASSERT(n < 40);
    fx_done(&fx);
}

/* A crash before each step of every group's swap: reopened, the log has
 * every key's latest record once, offsets increasing, and no file of the
 * swap left; a pass after it finishes the job. */
static void test_crash_at_every_swap_step(void) {
    for (int steps = 0;; steps++) {
        fixture_t fx;
        fx_init(&fx);
        fx.cfg.segment_bytes = 1024; /* several groups */
        log_set_config(fx.log, &fx.cfg);
        append_rounds(&fx, 0, 12);
        CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
        append_updates(&fx, 0, 2, 99, false, COMPRESSION_NONE);
        int64_t active_base = log_segment_base_offset(log_nth_segment(fx.log, log_num_segments(fx.log) - 1));
        rec_t before[400], after[400];
        size_t batches;
        size_t n_before = read_all(&fx, before, 400, &batches);
        int budget = steps;
        logger_level_t level = logger_get_level();
        logger_set_level(LOGGER_OFF);
        kerr_t e = clean(&fx, T0, &budget);
        bool crashed = e == KERR_KAFKA_STORAGE_ERROR;
        CU_ASSERT(crashed || e == KERR_NONE);
        log_close(fx.log); /* the process dies here */
        fx_open(&fx, false);
        logger_set_level(level);
        size_t n = read_all(&fx, after, 400, &batches);
        check_latest(&fx, after, n, active_base);
        CU_ASSERT(n <= n_before);
        CU_ASSERT(n >= KEYS + 2);
        /* nothing of a swap is left over */
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "ls %s | grep -qE 'cleaned|swap'", fx.dir);
        CU_ASSERT_NOT_EQUAL(system(cmd), 0);
        /* the next pass compacts what the crash left */
        while (clean(&fx, T0, NULL) == KERR_NONE)
            ;
        n = read_all(&fx, after, 400, &batches);
        CU_ASSERT_EQUAL(check_latest(&fx, after, n, active_base), KEYS);
        fx_done(&fx);
        if (!crashed)
            break;
        CU_ASSERT_FATAL(steps < 200);
    }
}

/* A swap is refused when the log changed while the job ran. */
static void test_job_dropped_when_log_truncated(void) {
    fixture_t fx;
    fx_init(&fx);
    append_rounds(&fx, 0, 6);
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    append_rounds(&fx, 6, 1);
    cleaner_job_t *job = cleaner_job_new(fx.log, "t", 0, T0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(job);
    CU_ASSERT_EQUAL(cleaner_job_run(job, fx.map, 0, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(log_truncate_to(fx.log, 55), KERR_NONE);
    logger_level_t level = logger_get_level();
    logger_set_level(LOGGER_OFF);
    CU_ASSERT_EQUAL(cleaner_job_commit(job, fx.log, T0, NULL), KERR_UNKNOWN_SERVER_ERROR);
    logger_set_level(level);
    cleaner_job_free(job);
    CU_ASSERT_EQUAL(log_end_offset(fx.log), 55);
    CU_ASSERT_EQUAL(log_cleaner_checkpoint(fx.log), 0);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ls %s | grep -qE 'cleaned|swap'", fx.dir);
    CU_ASSERT_NOT_EQUAL(system(cmd), 0);
    rec_t recs[200];
    size_t batches;
    CU_ASSERT_EQUAL(read_all(&fx, recs, 200, &batches), 55);
    fx_done(&fx);
}

static void test_map_put_get(void) {
    cleaner_map_t *m = cleaner_map_new(24 * 100, 0.5);
    CU_ASSERT_EQUAL(cleaner_map_capacity(m), 50);
    char key[16];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        CU_ASSERT(cleaner_map_put(m, (const uint8_t *)key, strlen(key), i));
    }
    CU_ASSERT(!cleaner_map_put(m, (const uint8_t *)"new", 3, 99)); /* full */
    CU_ASSERT(cleaner_map_put(m, (const uint8_t *)"key-7", 5, 700)); /* an update still fits */
    CU_ASSERT_EQUAL(cleaner_map_get(m, (const uint8_t *)"key-7", 5), 700);
    CU_ASSERT_EQUAL(cleaner_map_get(m, (const uint8_t *)"key-8", 5), 8);
    CU_ASSERT_EQUAL(cleaner_map_get(m, (const uint8_t *)"key-80", 6), -1);
    CU_ASSERT_EQUAL(cleaner_map_get(m, (const uint8_t *)"", 0), -1);
    CU_ASSERT_EQUAL(cleaner_map_size(m), 50);
    cleaner_map_clear(m);
    CU_ASSERT_EQUAL(cleaner_map_size(m), 0);
    CU_ASSERT_EQUAL(cleaner_map_get(m, (const uint8_t *)"key-7", 5), -1);
    cleaner_map_free(m);
}

/* Through the log manager and the cleaner thread: a compacted log is
 * cleaned and cleaner-offset-checkpoint names it; a delete-policy log is
 * not cleaned nor listed; compact-only logs keep old segments retention
 * would delete. */
static void test_manager_thread_and_checkpoint(void) {
    char *root = unit_mkdtemp();
    char err[512] = "";
    config_t *cfg = config_new();
    CU_ASSERT_EQUAL_FATAL(config_set(cfg, "log.dirs", root, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(config_set(cfg, "log.cleaner.backoff.ms", "10", err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(config_set(cfg, "log.cleaner.dedupe.buffer.size", "2097152", err, sizeof err), 0);
    config_topic_t *tc = config_topic_new(cfg);
    CU_ASSERT_EQUAL_FATAL(config_topic_set(tc, "cleanup.policy", "compact", err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(config_topic_set(tc, "segment.bytes", "2048", err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(config_topic_set(tc, "retention.ms", "1000", err, sizeof err), 0);
    log_manager_opts_t o = {.now_ms = T0};
    log_manager_t *lm = NULL;
    CU_ASSERT_EQUAL_FATAL(log_manager_open(cfg, 1, &o, &lm, err, sizeof err), KERR_NONE);
    log_t *plain = NULL;
    fixture_t fx;
    memset(&fx, 0, sizeof fx);
    CU_ASSERT_EQUAL_FATAL(log_manager_get_or_create(lm, "c", 3, tc, T0, &fx.log, err, sizeof err), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(log_manager_get_or_create(lm, "d", 0, NULL, T0, &plain, err, sizeof err), KERR_NONE);
    for (int k = 0; k < KEYS; k++)
        fx.latest[k] = -1;
    append_rounds(&fx, 0, 20);
    CU_ASSERT_EQUAL_FATAL(log_roll(fx.log, T0), KERR_NONE);
    int64_t end = log_end_offset(fx.log);
    size_t segs = log_num_segments(fx.log);

    /* retention (compact only): nothing goes although everything is old */
    CU_ASSERT_EQUAL(log_apply_retention(fx.log, T0 + 3600000), 0);
    CU_ASSERT_EQUAL(log_num_segments(fx.log), segs);

    char *path = malloc(strlen(root) + 64);
    sprintf(path, "%s/%s", root, CHECKPOINT_CLEANER_FILE);
    int64_t now = T0;
    for (int i = 0; i < 2000 && log_cleaner_checkpoint(fx.log) < end; i++) {
        CU_ASSERT_EQUAL(log_manager_tick(lm, now), KERR_NONE);
        now += 20;
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
    CU_ASSERT_EQUAL_FATAL(log_cleaner_checkpoint(fx.log), end);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char content[256] = "";
    size_t got = fread(content, 1, sizeof content - 1, f);
    content[got] = '\0';
    fclose(f);
    char want[256];
    snprintf(want, sizeof want, "0\n1\nc 3 %" PRId64 "\n", end);
    CU_ASSERT_STRING_EQUAL(content, want);
    rec_t recs[300];
    size_t batches;
    size_t n = read_all(&fx, recs, 300, &batches);
    CU_ASSERT_EQUAL(check_latest(&fx, recs, n, end), KEYS);
    CU_ASSERT_EQUAL(log_manager_close(lm, true), KERR_NONE);

    /* reopened: the checkpoint is read back (nothing new to clean) */
    CU_ASSERT_EQUAL_FATAL(log_manager_open(cfg, 1, &o, &lm, err, sizeof err), KERR_NONE);
    CU_ASSERT_EQUAL(log_cleaner_checkpoint(log_manager_get(lm, "c", 3)), end);
    CU_ASSERT_EQUAL(log_manager_close(lm, true), KERR_NONE);
    free(path);
    config_topic_free(tc);
    config_free(cfg);
    unit_rmtree(root);
    free(root);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"compacts to the latest record per key, offsets kept", test_compacts_to_latest_per_key},
        {"a batch keeping some records is rewritten", test_partial_batch_rewritten},
        {"the active segment is never cleaned", test_active_segment_untouched},
        {"tombstones kept, then removed after delete.retention.ms", test_tombstones_kept_then_removed},
        {"dirty ratio, min.compaction.lag.ms, high watermark", test_dirty_ratio_and_compaction_lag},
        {"a map smaller than the dirty part", test_map_smaller_than_dirty_part},
        {"a crash at every step of the swap", test_crash_at_every_swap_step},
        {"a job is dropped when the log was truncated", test_job_dropped_when_log_truncated},
        {"offset map put and get", test_map_put_get},
        {"log manager: cleaner thread and cleaner-offset-checkpoint", test_manager_thread_and_checkpoint},
        {NULL, NULL},
    };
    unit_add_suite("cleaner", tests);
}
