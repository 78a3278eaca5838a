/*
 * log_writer — a process for crash tests of the partition log.
 *
 *   log_writer append DIR     appends batches of 10 records forever; the value
 *                             of the record at offset o is "v<o>"; after each
 *                             append prints "acked <last offset>" (line
 *                             buffered) — until it is killed
 *   log_writer verify DIR     reopens the log as after a crash, checks that
 *                             offsets 0..LEO-1 hold exactly "v<offset>", prints
 *                             "leo <LEO>", appends one more batch and prints
 *                             "appended <first offset>"
 *
 * Exit status: 0 when verify found a consistent log, 1 otherwise, 2 on usage.
 */
#include "util/endian.h"
#include "log/log.h"
#include "log/record_batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITER_RECORDS 10
#define WRITER_T0 1600000000000LL

static log_t *writer_open(const char *dir) {
    log_config_t cfg;
    log_config_default(&cfg);
    cfg.segment_bytes = 1 << 20; /* several segments in a second of appends */
    cfg.file_delete_delay_ms = 0;
    log_open_opts_t o = {.recovery_point = 0, .log_start_offset = -1, .high_watermark = -1,
                         .clean_shutdown = false, .now_ms = WRITER_T0};
    char err[512];
    log_t *log = NULL;
    if (log_open(dir, &cfg, &o, &log, err, sizeof err) != KERR_NONE) {
        fprintf(stderr, "log_writer: %s\n", err);
        exit(1);
    }
    return log;
}

/* A batch whose record i carries "v<first + i>". */
static void writer_batch(buf_t *out, int64_t first) {
    char vals[WRITER_RECORDS][24];
    record_input_t recs[WRITER_RECORDS];
    for (int i = 0; i < WRITER_RECORDS; i++) {
        snprintf(vals[i], sizeof vals[i], "v%" PRId64, first + i);
        recs[i] = (record_input_t){.key_len = -1, .value = vals[i], .value_len = (int32_t)strlen(vals[i]),
                                   .timestamp = WRITER_T0 + first + i};
    }
    batch_build_opts_t bo = {.partition_leader_epoch = -1, .compression = COMPRESSION_NONE, .producer_id = -1,
                             .producer_epoch = -1, .base_sequence = -1};
    buf_reset(out);
    record_batch_build(out, &bo, recs, WRITER_RECORDS);
}

static int writer_append(const char *dir) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    log_t *log = writer_open(dir);
    buf_t b = BUF_INIT;
    for (;;) {
        int64_t first = log_end_offset(log);
        writer_batch(&b, first);
        log_append_info_t info;
        kerr_t e = log_append_as_leader(log, b.data, b.len, 0, WRITER_T0 + first, &info);
        if (e != KERR_NONE) {
            fprintf(stderr, "log_writer: append failed: %s\n", kerr_name(e));
            return 1;
        }
        printf("acked %" PRId64 "\n", info.last_offset);
    }
}

/* Walks every batch of the log and checks each record's value. */
static int writer_check(log_t *log) {
    int64_t next = log_start_offset(log), leo = log_end_offset(log);
    while (next < leo) {
        log_read_info_t r;
        if (log_read(log, next, 1 << 20, -1, true, &r) != KERR_NONE || !r.length || !r.data) {
            fprintf(stderr, "log_writer: cannot read offset %" PRId64 "\n", next);
            return 1;
        }
        size_t pos = 0;
        while (pos + BATCH_HEADER_SIZE <= r.length) {
            batch_header_t h;
            batch_header_read(r.data + pos, &h);
            if (pos + batch_size(&h) > r.length)
                break;
            record_iter_t it;
            record_iter_init(&it, r.data + pos, batch_size(&h), 1 << 20);
            record_t rec;
            while (record_iter_next(&it, &rec) == 1) {
                int64_t off = h.base_offset + rec.offset_delta;
                char want[24];
                int n = snprintf(want, sizeof want, "v%" PRId64, off);
                if (off != next || rec.value_len != n || memcmp(rec.value, want, (size_t)n) != 0) {
                    fprintf(stderr, "log_writer: offset %" PRId64 " holds '%.*s', expected offset %" PRId64 "\n",
                            off, (int)rec.value_len, (const char *)rec.value, next);
                    record_iter_free(&it);
                    return 1;
                }
                next++;
            }
            record_iter_free(&it);
            pos += batch_size(&h);
        }
    }
    return 0;
}

static int writer_verify(const char *dir) {
    log_t *log = writer_open(dir);
    printf("leo %" PRId64 "\n", log_end_offset(log));
    int rc = writer_check(log);
    if (rc == 0) {
        buf_t b = BUF_INIT;
        int64_t first = log_end_offset(log);
        writer_batch(&b, first);
        log_append_info_t info;
        if (log_append_as_leader(log, b.data, b.len, 0, WRITER_T0, &info) != KERR_NONE)
            rc = 1;
        else
            printf("appended %" PRId64 "\n", info.first_offset);
        buf_free(&b);
        if (rc == 0)
            rc = writer_check(log);
    }
    log_close(log);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: log_writer append|verify DIR\n");
        return 2;
    }
    if (strcmp(argv[1], "append") == 0)
        return writer_append(argv[2]);
    if (strcmp(argv[1], "verify") == 0)
        return writer_verify(argv[2]);
    fprintf(stderr, "usage: log_writer append|verify DIR\n");
    return 2;
}
