#include "log/log.h"

#include "util/errmsg.h"
#include "util/clock.h"
#include "util/logger.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "log/record_batch.h"
#include "proto/topic_name.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_TAG "log"
#define LOG_PATH_MAX 4096
/* Bound on what validation and recompression may inflate a batch to. */
#define LOG_MAX_UNCOMPRESSED (256u * 1024 * 1024)

/* A segment taken out of the log, whose files go after a delay so that reads
 * already handed to the network (fd + range) can finish. */
typedef struct log_doomed {
    log_segment_t *seg;
    int64_t remove_at_ms;
} log_doomed_t;

struct log {
    char *dir;
    metrics_histogram_t *flush_ms; /* LogFlushStats.LogFlushRateAndTimeMs in metrics_global() */
    log_config_t cfg;
    log_segment_config_t seg_cfg;

    /* Segments in offset order; bases[i] mirrors segs[i]'s base offset so
     * that the floor search touches one small array. */
    log_segment_t **segs;
    int64_t *bases;
    size_t nsegs;
    size_t cap;

    log_doomed_t *doomed;
    size_t ndoomed;
    size_t doomed_cap;

    int64_t start_offset;
    int64_t end_offset;
    int64_t recovery_point;
    int64_t high_watermark;

    int64_t roll_jitter_ms;     /* of the active segment */
    int64_t unflushed_messages; /* records appended since the last flush */
    int64_t last_flush_ms;
    int64_t flush_pending_to;   /* a roll asks for the old segments to be flushed */

    leader_epoch_cache_t *epochs;
    buf_t scratch; /* recompressed batches */

    uint64_t generation;        /* log_layout_generation */
    int64_t cleaner_checkpoint; /* first offset the cleaner has not cleaned */
};

/* Layout generations come from one counter so that a log deleted and
 * created again never repeats one a cleaner job saw. */
static atomic_uint_fast64_t log_generations = 1;

static void log_bump_generation(log_t *log) { log->generation = atomic_fetch_add(&log_generations, 1); }

/* --- configuration ------------------------------------------------------- */

void log_config_default(log_config_t *out) {
    *out = (log_config_t){
        .segment_bytes = 1073741824,
        .segment_ms = 168LL * 3600 * 1000,
        .segment_jitter_ms = 0,
        .index_interval_bytes = 4096,
        .max_index_bytes = 10485760,
        .retention_ms = 168LL * 3600 * 1000,
        .retention_bytes = -1,
        .flush_messages = INT64_MAX,
        .flush_ms = INT64_MAX,
        .max_message_bytes = 1048588,
        .compression = COMPRESSION_PRODUCER,
        .log_append_time = false,
        .compacted = false,
        .deletes = true,
        .delete_retention_ms = 86400000,
        .min_compaction_lag_ms = 0,
        .min_cleanable_ratio = 0.5,
        .max_timestamp_diff_ms = INT64_MAX,
        .file_delete_delay_ms = 60000,
    };
}

void log_config_from_topic(const config_t *broker, const config_topic_t *topic, log_config_t *out) {
    config_topic_t *owned = NULL;
    if (!topic)
        topic = owned = config_topic_new(broker);
    out->segment_bytes = (uint64_t)config_topic_get_int(topic, "segment.bytes");
    out->segment_ms = config_topic_get_long(topic, "segment.ms");
    out->segment_jitter_ms = config_topic_get_long(topic, "segment.jitter.ms");
    out->index_interval_bytes = (uint32_t)config_topic_get_int(topic, "index.interval.bytes");
    out->max_index_bytes = (uint32_t)config_topic_get_int(topic, "segment.index.bytes");
    out->retention_ms = config_topic_get_long(topic, "retention.ms");
    out->retention_bytes = config_topic_get_long(topic, "retention.bytes");
    out->flush_messages = config_topic_get_long(topic, "flush.messages");
    out->flush_ms = config_topic_get_long(topic, "flush.ms");
    out->max_message_bytes = (uint32_t)config_topic_get_int(topic, "max.message.bytes");
    if (compression_parse(config_topic_get_string(topic, "compression.type"), &out->compression) != 0)
        out->compression = COMPRESSION_PRODUCER;
    out->log_append_time = strcmp(config_topic_get_string(topic, "message.timestamp.type"), "LogAppendTime") == 0;
    const char *policy = config_topic_get_string(topic, "cleanup.policy");
    out->compacted = strstr(policy, "compact") != NULL;
    out->deletes = strstr(policy, "delete") != NULL;
    out->delete_retention_ms = config_topic_get_long(topic, "delete.retention.ms");
    out->min_compaction_lag_ms = config_topic_get_long(topic, "min.compaction.lag.ms");
    out->min_cleanable_ratio = config_topic_get_double(topic, "min.cleanable.dirty.ratio");
    out->max_timestamp_diff_ms = config_topic_get_long(topic, "message.timestamp.difference.max.ms");
    out->file_delete_delay_ms = config_topic_get_long(topic, "file.delete.delay.ms");
    if (owned)
        config_topic_free(owned);
}

static void log_apply_segment_config(log_t *log) {
    log->seg_cfg.index_interval_bytes = log->cfg.index_interval_bytes;
    log->seg_cfg.max_index_bytes = log->cfg.max_index_bytes;
    log->seg_cfg.segment_bytes = log->cfg.segment_bytes;
}

void log_set_config(log_t *log, const log_config_t *cfg) {
    log->cfg = *cfg;
    log_apply_segment_config(log);
}

const log_config_t *log_get_config(const log_t *log) { return &log->cfg; }

/* Kafka staggers time-based rolls of many partitions with a random jitter
 * below segment.jitter.ms, drawn for each new segment. */
static int64_t log_draw_jitter(const log_config_t *cfg) {
    if (cfg->segment_jitter_ms <= 0)
        return 0;
    int64_t bound = cfg->segment_jitter_ms < cfg->segment_ms ? cfg->segment_jitter_ms : cfg->segment_ms;
    return bound > 0 ? (int64_t)((uint64_t)random() % (uint64_t)bound) : 0;
}

/* --- the segment list ----------------------------------------------------- */

static void log_push_segment(log_t *log, log_segment_t *seg) {
    if (log->nsegs == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 8;
        log->segs = mem_realloc(log->segs, log->cap * sizeof *log->segs);
        log->bases = mem_realloc(log->bases, log->cap * sizeof *log->bases);
    }
    log->segs[log->nsegs] = seg;
    log->bases[log->nsegs] = log_segment_base_offset(seg);
    log->nsegs++;
}

/* Removes n segments starting at index i from the list (not from disk). */
static void log_remove_range(log_t *log, size_t i, size_t n) {
    memmove(log->segs + i, log->segs + i + n, (log->nsegs - i - n) * sizeof *log->segs);
    memmove(log->bases + i, log->bases + i + n, (log->nsegs - i - n) * sizeof *log->bases);
    log->nsegs -= n;
}

static log_segment_t *log_active(const log_t *log) { return log->segs[log->nsegs - 1]; }

/* Index of the segment whose base offset is the greatest <= offset, or
 * (size_t)-1 when offset is below the first segment. */
static size_t log_floor_index(const log_t *log, int64_t offset) {
    size_t lo = 0, hi = log->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->bases[mid] <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? (size_t)-1 : lo - 1;
}

/* Takes a segment out of service: renamed *.deleted, removed after
 * file.delete.delay.ms (Kafka's asynchronous delete). */
static void log_doom_segment(log_t *log, log_segment_t *seg, int64_t now_ms) {
    if (log_segment_change_suffix(seg, LOG_SEGMENT_DELETED_SUFFIX) != KERR_NONE)
        log_warn(LOG_TAG, "%s: cannot rename segment %020" PRId64 " for deletion", log->dir,
                 log_segment_base_offset(seg));
    if (log->ndoomed == log->doomed_cap) {
        log->doomed_cap = log->doomed_cap ? log->doomed_cap * 2 : 4;
        log->doomed = mem_realloc(log->doomed, log->doomed_cap * sizeof *log->doomed);
    }
    int64_t delay = log->cfg.file_delete_delay_ms > 0 ? log->cfg.file_delete_delay_ms : 0;
    log->doomed[log->ndoomed++] = (log_doomed_t){seg, now_ms > INT64_MAX - delay ? INT64_MAX : now_ms + delay};
}

void log_remove_deleted(log_t *log, int64_t now_ms) {
    size_t kept = 0;
    for (size_t i = 0; i < log->ndoomed; i++) {
        if (log->doomed[i].remove_at_ms <= now_ms)
            log_segment_delete(log->doomed[i].seg);
        else
            log->doomed[kept++] = log->doomed[i];
    }
    log->ndoomed = kept;
}

/* --- opening: Kafka's loadSegments ---------------------------------------- */

static bool log_has_suffix(const char *name, const char *suffix) {
    size_t n = strlen(name), s = strlen(suffix);
    return n >= s && strcmp(name + n - s, suffix) == 0;
}

static int log_cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The names in dir (without "." entries), read once: loading 10,000
 * partitions read each directory three times before, a third of the
 * load's system calls. NULL with err set when dir cannot be read. */
static char **log_list_dir(const char *dir, size_t *count, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        errmsg_set(err, errlen, "cannot open log directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 8;
    char **names = mem_alloc(cap * sizeof *names);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap *= 2;
            names = mem_realloc(names, cap * sizeof *names);
        }
        names[n++] = mem_strdup(de->d_name);
    }
    closedir(d);
    *count = n;
    return names;
}

static void log_free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* First pass over the directory's names: removes what a crash or an
 * interrupted delete left behind and collects the base offsets of the .log
 * files. Index files without a .log go too (Kafka: "Found an orphaned index
 * file"). */
static void log_scan_names(const char *dir, char *const *names, size_t count, int64_t **bases_out, size_t *n_out) {
    size_t n = 0, cap = 16;
    int64_t *bases = mem_alloc(cap * sizeof *bases);
    char path[LOG_PATH_MAX];
    for (size_t i = 0; i < count; i++) {
        const char *name = names[i];
        if (log_has_suffix(name, ".tmp") || log_has_suffix(name, LOG_SEGMENT_DELETED_SUFFIX) ||
            log_has_suffix(name, LOG_SEGMENT_CLEANED_SUFFIX) || log_has_suffix(name, LOG_SEGMENT_SWAP_SUFFIX)) {
            snprintf(path, sizeof path, "%s/%s", dir, name);
            unlink(path);
            continue;
        }
        int64_t base;
        const char *rest;
        if (!log_segment_parse_filename(name, &base, &rest) || strcmp(rest, LOG_SEGMENT_LOG_EXT) != 0)
            continue;
        if (n == cap) {
            cap *= 2;
            bases = mem_realloc(bases, cap * sizeof *bases);
        }
        bases[n++] = base;
    }
    qsort(bases, n, sizeof *bases, log_cmp_i64);

    /* Orphaned indexes: a second pass, now that every .log is known. */
    for (size_t i = 0; i < count; i++) {
        int64_t base;
        const char *rest;
        if (!log_segment_parse_filename(names[i], &base, &rest))
            continue;
        if (strcmp(rest, LOG_SEGMENT_INDEX_EXT) && strcmp(rest, LOG_SEGMENT_TIME_INDEX_EXT) &&
            strcmp(rest, LOG_SEGMENT_TXN_INDEX_EXT))
            continue;
        if (!bsearch(&base, bases, n, sizeof *bases, log_cmp_i64)) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            log_warn(LOG_TAG, "removing orphaned index file %s", path);
            unlink(path);
        }
    }
    *bases_out = bases;
    *n_out = n;
}

/* During recovery every valid batch passes here: its leader epoch goes into
 * the epoch cache as Kafka's LogSegment.recover does. The cache's file is
 * written at the next tick, not here (leader_epoch_assign_deferred: these
 * entries are rebuilt from the same batches if the broker dies first). */
static void log_recover_batch(void *arg, const uint8_t *batch, const batch_header_t *h, uint32_t position) {
    log_t *log = arg;
    (void)batch, (void)position;
    if (h->partition_leader_epoch >= 0 && h->partition_leader_epoch > leader_epoch_latest_epoch(log->epochs))
        leader_epoch_assign_deferred(log->epochs, h->partition_leader_epoch, h->base_offset, NULL, 0);
}

static kerr_t log_recover_segment(log_t *log, log_segment_t *seg, uint32_t *truncated) {
    leader_epoch_truncate_from_end_deferred(log->epochs, log_segment_base_offset(seg));
    uint32_t cut = 0;
    kerr_t e = log_segment_recover(seg, log->cfg.segment_bytes, log_recover_batch, log, &cut);
    if (e == KERR_NONE && cut)
        log_warn(LOG_TAG, "%s: truncated %" PRIu32 " invalid bytes at the end of segment %020" PRId64, log->dir,
                 cut, log_segment_base_offset(seg));
    *truncated = cut;
    return e;
}

/* Kafka's recoverLog: after an unclean shutdown, every segment from the one
 * holding the recovery point on is checked batch by batch; the first one
 * with invalid bytes is cut there and every later segment is deleted, since
 * nothing after a hole can be trusted. Segments whose indexes failed their
 * checks at open are rebuilt in any case. */
static kerr_t log_recover(log_t *log, bool clean_shutdown, int64_t now_ms) {
    size_t first_unflushed = clean_shutdown ? log->nsegs : log_floor_index(log, log->recovery_point);
    if (first_unflushed == (size_t)-1)
        first_unflushed = 0;
    for (size_t i = 0; i < log->nsegs; i++) {
        log_segment_t *seg = log->segs[i];
        const char *why = log_segment_needs_recovery(seg);
        if (i < first_unflushed && !why)
            continue;
        if (why)
            log_warn(LOG_TAG, "%s: rebuilding segment %020" PRId64 ": %s", log->dir, log->bases[i], why);
        uint32_t truncated = 0;
        kerr_t e = log_recover_segment(log, seg, &truncated);
        if (e != KERR_NONE)
            return e;
        if (truncated && i + 1 < log->nsegs) {
            size_t later = log->nsegs - i - 1;
            log_warn(LOG_TAG, "%s: deleting %zu segment(s) after the invalid bytes", log->dir, later);
            for (size_t j = i + 1; j < log->nsegs; j++)
                log_doom_segment(log, log->segs[j], now_ms);
            log_remove_range(log, i + 1, later);
            break;
        }
    }
    return KERR_NONE;
}

/* The files "<base><ext>" (no suffix) of every segment whose base offset
 * lies in [from, to). */
static void log_unlink_segments_in(const char *dir, int64_t from, int64_t to) {
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[LOG_PATH_MAX];
    while (d && (de = readdir(d))) {
        int64_t base;
        const char *rest;
        if (de->d_name[0] == '.' || !log_segment_parse_filename(de->d_name, &base, &rest) || base < from ||
            base >= to)
            continue;
        if (strcmp(rest, LOG_SEGMENT_LOG_EXT) && strcmp(rest, LOG_SEGMENT_INDEX_EXT) &&
            strcmp(rest, LOG_SEGMENT_TIME_INDEX_EXT) && strcmp(rest, LOG_SEGMENT_TXN_INDEX_EXT))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) != 0 && errno != ENOENT)
            log_warn(LOG_TAG, "cannot remove %s, replaced by a swap segment: %s", path, strerror(errno));
    }
    if (d)
        closedir(d);
}

/* Finishes one swap a crash interrupted (Kafka's completeSwapOperations):
 * a "<base>.log.swap" is a whole cleaned segment — it is renamed from
 * .cleaned only once fsynced — that replaces the segments whose base
 * offsets fall in its offset range. Its indexes are rebuilt, as Kafka does;
 * the replaced files go, then the swap takes the final names. Every step
 * can run again after another crash. */
static void log_complete_swap(log_t *log, int64_t base) {
    char path[LOG_PATH_MAX];
    const char *idx_exts[] = {LOG_SEGMENT_INDEX_EXT, LOG_SEGMENT_TIME_INDEX_EXT};
    for (size_t i = 0; i < 2; i++)
        if (log_segment_filename(path, sizeof path, log->dir, base, idx_exts[i], LOG_SEGMENT_SWAP_SUFFIX) >= 0)
            unlink(path);
    log_segment_t *seg;
    if (log_segment_open(log->dir, base, &log->seg_cfg, LOG_SEGMENT_SWAP_SUFFIX, &seg) != KERR_NONE)
        return; /* logged; log_scan_dir then drops the swap and the old segments stay */
    int64_t next = base;
    if (log_segment_recover(seg, log->cfg.segment_bytes, NULL, NULL, NULL) != KERR_NONE ||
        log_segment_next_offset(seg, &next) != KERR_NONE) {
        log_segment_close(seg);
        return;
    }
    log_unlink_segments_in(log->dir, base, next);
    kerr_t e = log_segment_change_suffix(seg, NULL);
    log_segment_close(seg);
    if (e == KERR_NONE)
        log_info(LOG_TAG, "%s: completed the interrupted swap of segment %020" PRId64 " (offsets up to %" PRId64 ")",
                 log->dir, base, next);
}

/* Returns whether a swap was found (the directory has changed since names
 * was read). */
static bool log_complete_swaps(log_t *log, char *const *names, size_t count) {
    size_t n = 0, cap = 0;
    int64_t *bases = NULL;
    for (size_t i = 0; i < count; i++) {
        int64_t base;
        const char *rest;
        if (!log_segment_parse_filename(names[i], &base, &rest) ||
            strcmp(rest, LOG_SEGMENT_LOG_EXT LOG_SEGMENT_SWAP_SUFFIX) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            bases = mem_realloc(bases, cap * sizeof *bases);
        }
        bases[n++] = base;
    }
    if (n > 1)
        qsort(bases, n, sizeof *bases, log_cmp_i64);
    for (size_t i = 0; i < n; i++)
        log_complete_swap(log, bases[i]);
    free(bases);
    return n > 0;
}

static kerr_t log_open_segments(log_t *log, const int64_t *bases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        log_segment_t *seg;
        kerr_t e = log_segment_open(log->dir, bases[i], &log->seg_cfg, NULL, &seg);
        if (e != KERR_NONE)
            return e;
        log_push_segment(log, seg);
    }
    return KERR_NONE;
}

static kerr_t log_create_segment(log_t *log, int64_t base, log_segment_t **out) {
    kerr_t e = log_segment_create(log->dir, base, &log->seg_cfg, NULL, out);
    if (e == KERR_NONE)
        log_push_segment(log, *out);
    return e;
}

static kerr_t log_load(log_t *log, const log_open_opts_t *opts, char *err, size_t errlen) {
    int64_t *bases = NULL;
    size_t n = 0, nnames = 0;
    char **names = log_list_dir(log->dir, &nnames, err, errlen);
    if (names && log_complete_swaps(log, names, nnames)) {
        log_free_names(names, nnames);
        names = log_list_dir(log->dir, &nnames, err, errlen);
    }
    if (!names)
        return KERR_KAFKA_STORAGE_ERROR;
    log_scan_names(log->dir, names, nnames, &bases, &n);
    log_free_names(names, nnames);
    kerr_t e = log_open_segments(log, bases, n);
    free(bases);
    if (e != KERR_NONE) {
        errmsg_set(err, errlen, "%s: cannot open its segments", log->dir);
        return e;
    }

    log->recovery_point = opts->recovery_point > 0 ? opts->recovery_point : 0;
    if (log->nsegs) {
        e = log_recover(log, opts->clean_shutdown, opts->now_ms);
        if (e != KERR_NONE) {
            errmsg_set(err, errlen, "%s: recovery failed: %s", log->dir, kerr_name(e));
            return e;
        }
    } else {
        log_segment_t *seg;
        e = log_create_segment(log, opts->log_start_offset > 0 ? opts->log_start_offset : 0, &seg);
        if (e != KERR_NONE) {
            errmsg_set(err, errlen, "%s: cannot create its first segment", log->dir);
            return e;
        }
    }
    e = log_segment_next_offset(log_active(log), &log->end_offset);
    if (e != KERR_NONE) {
        errmsg_set(err, errlen, "%s: cannot find the log end offset", log->dir);
        return e;
    }
    log_segment_resize_indexes(log_active(log), log->cfg.max_index_bytes);

    log->start_offset = log->bases[0];
    if (opts->log_start_offset > log->start_offset)
        log->start_offset = opts->log_start_offset < log->end_offset ? opts->log_start_offset : log->end_offset;
    /* Recovered bytes may live only in the page cache: the recovery point
     * stays where it was unless the shutdown was clean. */
    log->recovery_point = opts->clean_shutdown ? log->end_offset
                          : log->recovery_point < log->end_offset ? log->recovery_point
                                                                  : log->end_offset;
    log->flush_pending_to = log->recovery_point;
    log->cleaner_checkpoint = opts->cleaner_checkpoint > 0 ? opts->cleaner_checkpoint : 0;
    log->high_watermark = log->start_offset;
    log_set_high_watermark(log, opts->high_watermark);
    /* Entries past the log end go (in memory now, on disk at the next tick,
     * before any recovery point could pass them). One starting exactly at
     * the end stays, unlike Kafka's truncateFromEnd(LEO): it describes no
     * data, the epoch it names is the partition's last, and the next
     * leader's assign replaces it (start offset >= its own) -- while cutting
     * it made every empty partition's file be written twice per restart
     * (cut at load, the same entry assigned again by LeaderAndIsr): 10,000
     * partitions kept the main thread's tick on 40,000 fsyncs for ~30 s. */
    leader_epoch_truncate_from_end_deferred(log->epochs, log->end_offset + 1);
    leader_epoch_truncate_from_start_deferred(log->epochs, log->start_offset);
    return KERR_NONE;
}

kerr_t log_open(const char *dir, const log_config_t *cfg, const log_open_opts_t *opts, log_t **out, char *err,
                size_t errlen) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        errmsg_set(err, errlen, "cannot create log directory %s: %s", dir, strerror(errno));
        return KERR_KAFKA_STORAGE_ERROR;
    }
    log_t *log = mem_calloc(1, sizeof *log);
    log->dir = mem_strdup(dir);
    log->flush_ms = metrics_histogram(metrics_global(), "kafka_log_logflushstats_logflushrateandtimems",
                                      "Time to fsync a log's unflushed segments, in milliseconds", metrics_ms_buckets,
                                      metrics_ms_nbuckets);
    log_set_config(log, cfg);
    log->roll_jitter_ms = log_draw_jitter(cfg);
    log->last_flush_ms = opts->now_ms;
    log_bump_generation(log);
    buf_init(&log->scratch);

    char path[LOG_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, LOG_LEADER_EPOCH_FILE);
    char epoch_err[512];
    log->epochs = leader_epoch_load(path, epoch_err, sizeof epoch_err);
    if (!log->epochs) {
        /* The cache is rebuilt by recovery; a damaged file must not keep the
         * partition offline (Kafka would fail the log dir). */
        log_warn(LOG_TAG, "%s: %s; starting with an empty leader epoch cache", dir, epoch_err);
        unlink(path);
        log->epochs = leader_epoch_new(path);
    }

    kerr_t e = log_load(log, opts, err, errlen);
    if (e != KERR_NONE) {
        log_close(log);
        return e;
    }
    *out = log;
    return KERR_NONE;
}

void log_close(log_t *log) {
    if (!log)
        return;
    for (size_t i = 0; i < log->nsegs; i++)
        log_segment_close(log->segs[i]);
    log_remove_deleted(log, INT64_MAX);
    leader_epoch_free(log->epochs);
    buf_free(&log->scratch);
    free(log->segs);
    free(log->bases);
    free(log->doomed);
    free(log->dir);
    free(log);
}

static int log_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

kerr_t log_delete(log_t *log) {
    char *dir = mem_strdup(log->dir);
    log_close(log);
    int rc = nftw(dir, log_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc != 0)
        log_error(LOG_TAG, "cannot remove %s: %s", dir, strerror(errno));
    free(dir);
    return rc == 0 ? KERR_NONE : KERR_KAFKA_STORAGE_ERROR;
}

bool log_parse_dir_name(const char *name, char *topic, size_t topic_cap, int32_t *partition) {
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1])
        return false;
    char *end;
    errno = 0;
    long p = strtol(dash + 1, &end, 10);
    if (*end || errno || p < 0 || p > INT32_MAX || dash[1] == '+' || dash[1] == '-')
        return false;
    size_t len = (size_t)(dash - name);
    if (!topic_name_valid(name, len) || len + 1 > topic_cap)
        return false;
    memcpy(topic, name, len);
    topic[len] = '\0';
    *partition = (int32_t)p;
    return true;
}

/* --- appends --------------------------------------------------------------- */

kerr_t log_roll(log_t *log, int64_t now_ms) {
    log_segment_t *active = log_active(log);
    if (log_segment_size(active) == 0)
        return KERR_NONE;
    log_segment_on_roll(active);
    log_segment_t *seg;
    kerr_t e = log_create_segment(log, log->end_offset, &seg);
    if (e != KERR_NONE)
        return e;
    log->roll_jitter_ms = log_draw_jitter(&log->cfg);
    /* Kafka flushes the segments before a roll in the background; the log
     * manager's flush task does it here. */
    log->flush_pending_to = log->end_offset;
    (void)now_ms;
    return KERR_NONE;
}

static kerr_t log_maybe_roll(log_t *log, size_t bytes, int64_t max_timestamp, int64_t max_offset, int64_t now_ms) {
    log_segment_roll_params_t p = {
        .max_segment_bytes = log->cfg.segment_bytes,
        .max_segment_ms = log->cfg.segment_ms,
        .roll_jitter_ms = log->roll_jitter_ms,
        .messages_size = bytes,
        .max_timestamp_in_messages = max_timestamp,
        .max_offset_in_messages = max_offset,
        .now_ms = now_ms,
    };
    if (!log_segment_should_roll(log_active(log), &p))
        return KERR_NONE;
    return log_roll(log, now_ms);
}

/* The common tail of both appends: roll if due, write, advance the LEO, and
 * flush when flush.messages says so. (Callers note leader epochs.) */
static kerr_t log_write(log_t *log, const uint8_t *data, size_t len, int64_t last_offset,
                        int64_t max_timestamp, int64_t offset_of_max_timestamp, int64_t records, int64_t now_ms) {
    kerr_t e = log_maybe_roll(log, len, max_timestamp, last_offset, now_ms);
    if (e != KERR_NONE)
        return e;
    e = log_segment_append(log_active(log), data, len, last_offset, max_timestamp, offset_of_max_timestamp);
    if (e != KERR_NONE)
        return e;
    log->end_offset = last_offset + 1;
    log->unflushed_messages += records;
    if (log->unflushed_messages >= log->cfg.flush_messages)
        return log_flush(log, log->end_offset);
    return KERR_NONE;
}

/* A batch of a new epoch starts an entry. Its file is written at the next
 * tick, not here, as a new leader's own entry is (partition.c): Kafka writes
 * it at once, with two fsyncs under the partition's lock, and a follower
 * taking over hundreds of partitions in a failover then stalls its fetcher
 * for all of them, and with it every acks=all produce they replicate. The
 * deferral is safe for the reason recovery's is (log_recover_batch): the
 * entry is rebuilt from its batch, which lies above the recovery point
 * until the entry is on disk (log_manager's recovery_point_of). */
static void log_note_epoch(log_t *log, int32_t epoch, int64_t start_offset) {
    if (epoch >= 0 && epoch > leader_epoch_latest_epoch(log->epochs))
        leader_epoch_assign_deferred(log->epochs, epoch, start_offset, NULL, 0);
}

kerr_t log_append_as_leader(log_t *log, uint8_t *batch, size_t len, int32_t leader_epoch, int64_t now_ms,
                            log_append_info_t *info) {
    batch_validate_opts_t vo = {
        .max_message_bytes = log->cfg.max_message_bytes,
        .topic_compression = log->cfg.compression,
        .log_append_time = log->cfg.log_append_time,
        .compacted = log->cfg.compacted,
        .max_timestamp_diff_ms = log->cfg.max_timestamp_diff_ms,
        .now_ms = now_ms,
    };
    batch_validation_t v;
    kerr_t e = record_batch_validate(batch, len, &vo, &v);
    if (e != KERR_NONE)
        return e;

    uint8_t *data = batch;
    size_t dlen = len;
    if (v.needs_recompression) {
        buf_reset(&log->scratch);
        e = record_batch_recompress(batch, len, log->cfg.compression, LOG_MAX_UNCOMPRESSED, &log->scratch);
        if (e != KERR_NONE)
            return e;
        data = log->scratch.data;
        dlen = log->scratch.len;
    }
    if (dlen > log->cfg.segment_bytes)
        return KERR_RECORD_LIST_TOO_LARGE;

    int64_t first = log->end_offset;
    int64_t last = first + v.header.last_offset_delta;
    record_batch_assign(data, first, leader_epoch, log->cfg.log_append_time, now_ms);
    if (!log->cfg.log_append_time && v.header.max_timestamp != v.max_timestamp)
        record_batch_fix_max_timestamp(data, v.max_timestamp); /* Kafka trusts the records, not the header */
    int64_t max_ts = log->cfg.log_append_time ? now_ms : v.max_timestamp;
    int64_t max_ts_offset = log->cfg.log_append_time ? first : first + v.offset_of_max_timestamp_delta;

    e = log_write(log, data, dlen, last, max_ts, max_ts_offset, v.header.records_count, now_ms);
    if (e != KERR_NONE)
        return e;
    log_note_epoch(log, leader_epoch, first);
    if (info) {
        *info = (log_append_info_t){
            .first_offset = first,
            .last_offset = last,
            .max_timestamp = max_ts,
            .offset_of_max_timestamp = max_ts_offset,
            .log_append_time = log->cfg.log_append_time ? now_ms : -1,
            .log_start_offset = log->start_offset,
            .batch_bytes = (uint32_t)dlen,
        };
    }
    return KERR_NONE;
}

/* Followers store the leader's bytes unchanged, so each batch is only
 * checked (framing, CRC) and must continue the log without gaps going
 * backwards. The size limit is the segment size (Kafka 2.6+ does not apply
 * max.message.bytes to followers). */
kerr_t log_append_as_follower(log_t *log, const uint8_t *batches, size_t len, int64_t now_ms,
                              log_append_info_t *info) {
    int64_t expected = log->end_offset, max_ts = -1, max_ts_offset = log->end_offset, records = 0;
    int64_t first = -1;
    size_t pos = 0;
    while (pos < len) {
        batch_header_t h;
        batch_check_t c = batch_check(batches + pos, len - pos, log->cfg.segment_bytes, &h);
        if (c != BATCH_OK)
            return KERR_CORRUPT_MESSAGE;
        if (h.base_offset < expected || h.last_offset_delta < 0 || h.base_offset > INT64_MAX - h.last_offset_delta - 1)
            return first < 0 ? KERR_OFFSET_OUT_OF_RANGE : KERR_CORRUPT_MESSAGE;
        if (first < 0)
            first = h.base_offset;
        if (h.max_timestamp > max_ts) {
            max_ts = h.max_timestamp;
            max_ts_offset = batch_last_offset(&h);
        }
        records += h.records_count;
        expected = batch_next_offset(&h);
        pos += batch_size(&h);
    }
    if (len == 0)
        return KERR_NONE;
    if (first != log->end_offset)
        return KERR_OFFSET_OUT_OF_RANGE;
    if (len > log->cfg.segment_bytes)
        return KERR_RECORD_LIST_TOO_LARGE;

    kerr_t e = log_write(log, batches, len, expected - 1, max_ts, max_ts_offset, records, now_ms);
    if (e != KERR_NONE)
        return e;
    for (pos = 0; pos < len;) {
        batch_header_t h;
        batch_header_read(batches + pos, &h);
        log_note_epoch(log, h.partition_leader_epoch, h.base_offset);
        pos += batch_size(&h);
    }
    if (info) {
        *info = (log_append_info_t){
            .first_offset = first,
            .last_offset = expected - 1,
            .max_timestamp = max_ts,
            .offset_of_max_timestamp = max_ts_offset,
            .log_append_time = -1,
            .log_start_offset = log->start_offset,
            .batch_bytes = (uint32_t)len,
        };
    }
    return KERR_NONE;
}

/* --- reads ---------------------------------------------------------------- */

/* The first byte of segment i that a reader bounded by max_offset may not
 * see: the start of the batch holding max_offset, when that batch is in
 * this segment. */
static uint64_t log_max_position(log_t *log, size_t i, int64_t max_offset) {
    bool in_this = i + 1 == log->nsegs || max_offset < log->bases[i + 1];
    if (!in_this)
        return UINT64_MAX;
    if (max_offset <= log->bases[i])
        return 0;
    log_segment_position_t p;
    if (log_segment_translate_offset(log->segs[i], max_offset, 0, &p) != KERR_NONE)
        return UINT64_MAX;
    return p.position;
}

kerr_t log_read(log_t *log, int64_t offset, uint32_t max_bytes, int64_t max_offset, bool min_one_message,
                log_read_info_t *out) {
    *out = (log_read_info_t){.fd = -1};
    if (offset < log->start_offset || offset > log->end_offset)
        return KERR_OFFSET_OUT_OF_RANGE;
    if (max_offset < 0 || max_offset > log->end_offset)
        max_offset = log->end_offset;
    if (offset >= max_offset)
        return KERR_NONE;

    size_t i = log_floor_index(log, offset);
    if (i == (size_t)-1)
        i = 0;
    for (; i < log->nsegs && log->bases[i] < max_offset; i++) {
        uint64_t max_pos = log_max_position(log, i, max_offset);
        log_segment_read_t r;
        kerr_t e = log_segment_read(log->segs[i], offset, max_bytes, max_pos, min_one_message, &r);
        if (e == KERR_OFFSET_OUT_OF_RANGE)
            continue; /* nothing at or after offset in this segment */
        if (e != KERR_NONE)
            return e;
        out->fd = r.fd;
        out->position = r.position;
        out->length = r.length;
        out->segment_base_offset = log->bases[i];
        out->first_entry_incomplete = r.first_entry_incomplete;
        out->data = r.length ? log_segment_data(log->segs[i], r.position, r.length) : NULL;
        return KERR_NONE;
    }
    return KERR_NONE;
}

kerr_t log_offset_for_timestamp(log_t *log, int64_t timestamp, bool *found, int64_t *offset,
                                int64_t *record_timestamp) {
    *found = true;
    *record_timestamp = -1;
    if (timestamp == LOG_TIMESTAMP_LATEST) {
        *offset = log->end_offset;
        return KERR_NONE;
    }
    if (timestamp == LOG_TIMESTAMP_EARLIEST) {
        *offset = log->start_offset;
        return KERR_NONE;
    }
    *found = false;
    for (size_t i = 0; i < log->nsegs; i++) {
        log_segment_t *seg = log->segs[i];
        if (log_segment_max_timestamp(seg) < timestamp)
            continue;
        log_segment_timestamp_offset_t t;
        kerr_t e = log_segment_find_offset_by_timestamp(seg, timestamp, log->start_offset, &t);
        if (e != KERR_NONE)
            return e;
        if (t.found) {
            *found = true;
            *offset = t.offset;
            *record_timestamp = t.timestamp;
            return KERR_NONE;
        }
    }
    return KERR_NONE;
}

/* --- offsets --------------------------------------------------------------- */

int64_t log_start_offset(const log_t *log) { return log->start_offset; }
int64_t log_end_offset(const log_t *log) { return log->end_offset; }
int64_t log_recovery_point(const log_t *log) { return log->recovery_point; }
int64_t log_high_watermark(const log_t *log) { return log->high_watermark; }
size_t log_num_segments(const log_t *log) { return log->nsegs; }
leader_epoch_cache_t *log_leader_epochs(log_t *log) { return log->epochs; }

kerr_t log_flush_leader_epochs(log_t *log) {
    char err[512];
    if (leader_epoch_flush_if_dirty(log->epochs, err, sizeof err) < 0) {
        log_error(LOG_TAG, "%s", err);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    return KERR_NONE;
}
const char *log_dir(const log_t *log) { return log->dir; }
log_segment_t *log_nth_segment(log_t *log, size_t i) { return i < log->nsegs ? log->segs[i] : NULL; }

void log_set_high_watermark(log_t *log, int64_t hw) {
    if (hw < log->start_offset)
        hw = log->start_offset;
    if (hw > log->end_offset)
        hw = log->end_offset;
    log->high_watermark = hw;
}

uint64_t log_size_bytes(const log_t *log) {
    uint64_t total = 0;
    for (size_t i = 0; i < log->nsegs; i++)
        total += log_segment_size(log->segs[i]);
    return total;
}

kerr_t log_advance_start_offset(log_t *log, int64_t offset) {
    if (offset > log->high_watermark)
        return KERR_OFFSET_OUT_OF_RANGE;
    if (offset > log->start_offset) {
        log->start_offset = offset;
        leader_epoch_truncate_from_start(log->epochs, offset, NULL, 0);
    }
    return KERR_NONE;
}

/* --- truncation -------------------------------------------------------------- */

kerr_t log_truncate_to(log_t *log, int64_t offset) {
    if (offset < 0)
        return KERR_OFFSET_OUT_OF_RANGE;
    if (offset >= log->end_offset)
        return KERR_NONE;
    int64_t now_ms = clock_wall_ms();
    if (offset < log->start_offset || offset <= log->bases[0])
        return log_truncate_fully_and_start_at(log, offset, now_ms);

    log_bump_generation(log);
    if (log->cleaner_checkpoint > offset)
        log->cleaner_checkpoint = offset;
    size_t keep = log_floor_index(log, offset) + 1;
    if (log->bases[keep - 1] == offset && keep > 1)
        keep--; /* the segment starting at offset goes whole */
    for (size_t j = keep; j < log->nsegs; j++)
        log_doom_segment(log, log->segs[j], now_ms);
    log_remove_range(log, keep, log->nsegs - keep);

    kerr_t e = log_segment_truncate_to(log_active(log), offset, NULL);
    if (e == KERR_NONE)
        e = log_segment_next_offset(log_active(log), &log->end_offset); /* a straddling batch went whole */
    if (e != KERR_NONE)
        return e;
    offset = log->end_offset;
    if (log->recovery_point > offset)
        log->recovery_point = offset;
    if (log->flush_pending_to > offset)
        log->flush_pending_to = offset;
    if (log->high_watermark > offset)
        log->high_watermark = offset;
    leader_epoch_truncate_from_end(log->epochs, offset, NULL, 0);
    return KERR_NONE;
}

kerr_t log_truncate_fully_and_start_at(log_t *log, int64_t offset, int64_t now_ms) {
    if (offset < 0)
        return KERR_OFFSET_OUT_OF_RANGE;
    for (size_t i = 0; i < log->nsegs; i++)
        log_doom_segment(log, log->segs[i], now_ms);
    log->nsegs = 0;
    log_bump_generation(log);
    log->cleaner_checkpoint = offset;
    log_segment_t *seg;
    kerr_t e = log_create_segment(log, offset, &seg);
    if (e != KERR_NONE)
        return e;
    log->start_offset = log->end_offset = log->recovery_point = log->high_watermark = offset;
    log->flush_pending_to = offset;
    log->unflushed_messages = 0;
    leader_epoch_clear_and_flush(log->epochs, NULL, 0);
    return KERR_NONE;
}

/* --- durability ---------------------------------------------------------------- */

static void log_flush_job_release(log_flush_job_t *job) {
    for (size_t i = 0; i < job->nfds; i++)
        close(job->fds[i]);
    free(job->fds);
    job->fds = NULL;
    job->nfds = 0;
}

bool log_flush_begin(log_t *log, int64_t offset, log_flush_job_t *job, kerr_t *err) {
    memset(job, 0, sizeof *job);
    *err = KERR_NONE;
    if (offset < 0 || offset > log->end_offset)
        offset = log->end_offset;
    if (offset <= log->recovery_point)
        return false;
    size_t first = log_floor_index(log, log->recovery_point);
    if (first == (size_t)-1)
        first = 0;
    size_t last = first;
    while (last < log->nsegs && log->bases[last] < offset)
        last++;
    job->fds = mem_alloc((last - first + 1) * LOG_SEGMENT_SYNC_FILES * sizeof *job->fds);
    for (size_t i = first; i < last; i++) {
        *err = log_segment_open_sync_files(log->segs[i], job->fds + job->nfds);
        if (*err != KERR_NONE) {
            log_flush_job_release(job);
            return false;
        }
        job->nfds += LOG_SEGMENT_SYNC_FILES;
    }
    job->offset = offset;
    job->generation = log->generation;
    job->started_us = clock_mono_us();
    job->dir = log->dir;
    return true;
}

kerr_t log_flush_sync(log_flush_job_t *job) {
    kerr_t err = KERR_NONE;
    for (size_t i = 0; i < job->nfds && err == KERR_NONE; i++) {
        if (fsync(job->fds[i]) != 0) {
            log_warn(LOG_TAG, "%s: cannot fsync a segment's file: %s", job->dir, strerror(errno));
            err = KERR_KAFKA_STORAGE_ERROR;
            job->offset = -1; /* finish must not raise the recovery point */
        }
    }
    log_flush_job_release(job);
    return err;
}

void log_flush_finish(log_t *log, const log_flush_job_t *job) {
    if (job->offset < 0 || job->generation != log->generation || job->offset <= log->recovery_point)
        return;
    metrics_histogram_observe(log->flush_ms, (double)(clock_mono_us() - job->started_us) / 1000.0);
    log->recovery_point = job->offset;
    if (job->offset == log->end_offset)
        log->unflushed_messages = 0;
    log->last_flush_ms = clock_wall_ms();
}

kerr_t log_flush(log_t *log, int64_t offset) {
    log_flush_job_t job;
    kerr_t err;
    if (!log_flush_begin(log, offset, &job, &err))
        return err;
    err = log_flush_sync(&job);
    log_flush_finish(log, &job);
    return err;
}

int64_t log_roll_flush_pending(const log_t *log) {
    return log->flush_pending_to > log->recovery_point ? log->flush_pending_to : -1;
}

bool log_flush_due(const log_t *log, int64_t now_ms) {
    if (log->flush_pending_to > log->recovery_point)
        return true;
    if (log->end_offset <= log->recovery_point || log->cfg.flush_ms == INT64_MAX)
        return false;
    return now_ms - log->last_flush_ms >= log->cfg.flush_ms;
}

/* --- retention ------------------------------------------------------------------- */

typedef bool (*log_retention_pred)(log_t *log, size_t i, int64_t now_ms, int64_t *budget);

static bool log_breaches_time(log_t *log, size_t i, int64_t now_ms, int64_t *budget) {
    (void)budget;
    return log->cfg.retention_ms >= 0 && now_ms - log_segment_largest_timestamp(log->segs[i]) > log->cfg.retention_ms;
}

static bool log_breaches_size(log_t *log, size_t i, int64_t now_ms, int64_t *budget) {
    (void)now_ms;
    int64_t size = log_segment_size(log->segs[i]);
    if (*budget - size < 0)
        return false;
    *budget -= size;
    return true;
}

static bool log_breaches_start(log_t *log, size_t i, int64_t now_ms, int64_t *budget) {
    (void)now_ms, (void)budget;
    return i + 1 < log->nsegs && log->bases[i + 1] <= log->start_offset;
}

/* Kafka's deleteOldSegments loop: oldest first, stopping at the first
 * segment the predicate spares. Only whole segments below the high
 * watermark go, and never the active one. */
static int log_delete_while(log_t *log, log_retention_pred pred, int64_t now_ms, int64_t budget) {
    size_t n = 0;
    while (n + 1 < log->nsegs && log->bases[n + 1] <= log->high_watermark && pred(log, n, now_ms, &budget))
        n++;
    for (size_t i = 0; i < n; i++)
        log_doom_segment(log, log->segs[i], now_ms);
    log_remove_range(log, 0, n);
    if (n)
        log_bump_generation(log);
    if (n && log->bases[0] > log->start_offset) {
        log->start_offset = log->bases[0];
        leader_epoch_truncate_from_start(log->epochs, log->start_offset, NULL, 0);
    }
    return (int)n;
}

int log_apply_retention(log_t *log, int64_t now_ms) {
    int deleted = 0;
    if (log->cfg.deletes)
        deleted += log_delete_while(log, log_breaches_time, now_ms, 0);
    if (log->cfg.deletes && log->cfg.retention_bytes >= 0) {
        int64_t excess = (int64_t)log_size_bytes(log) - log->cfg.retention_bytes;
        if (excess > 0)
            deleted += log_delete_while(log, log_breaches_size, now_ms, excess);
    }
    deleted += log_delete_while(log, log_breaches_start, now_ms, 0);
    if (deleted)
        log_info(LOG_TAG, "%s: deleted %d segment(s) by retention; log start offset %" PRId64, log->dir, deleted,
                 log->start_offset);
    return deleted;
}

/* --- the log cleaner's access ---------------------------------------------------- */

uint64_t log_layout_generation(const log_t *log) { return log->generation; }
int64_t log_cleaner_checkpoint(const log_t *log) { return log->cleaner_checkpoint; }
void log_set_cleaner_checkpoint(log_t *log, int64_t offset) { log->cleaner_checkpoint = offset; }

void log_clean_view_free(log_clean_view_t *v) {
    for (size_t i = 0; i < v->nsegs; i++)
        if (v->segs[i].fd >= 0)
            close(v->segs[i].fd);
    free(v->segs);
    free(v->dir);
    memset(v, 0, sizeof *v);
}

kerr_t log_clean_view_take(log_t *log, bool with_fds, log_clean_view_t *out) {
    *out = (log_clean_view_t){
        .dir = mem_strdup(log->dir),
        .cfg = log->cfg,
        .generation = log->generation,
        .start_offset = log->start_offset,
        .high_watermark = log->high_watermark,
        .active_base = log->bases[log->nsegs - 1],
    };
    /* Kafka's cleanableOffsets: a checkpoint below the log start offset or
     * past the log end (a truncated or re-created log) means from the start. */
    int64_t dirty = log->cleaner_checkpoint;
    if (dirty < log->start_offset || dirty > log->end_offset)
        dirty = log->start_offset;
    out->first_dirty = dirty < out->active_base ? dirty : out->active_base;
    out->nsegs = log->nsegs - 1;
    out->segs = mem_calloc(out->nsegs ? out->nsegs : 1, sizeof *out->segs);
    for (size_t i = 0; i < out->nsegs; i++) {
        log_segment_t *seg = log->segs[i];
        out->segs[i] = (log_clean_segment_t){
            .base_offset = log->bases[i],
            .next_offset = log->bases[i + 1],
            .size = log_segment_size(seg),
            .fd = -1,
            .last_modified_ms = log_segment_last_modified_ms(seg),
            .largest_timestamp = log_segment_largest_timestamp(seg),
        };
    }
    for (size_t i = 0; with_fds && i < out->nsegs; i++) {
        out->segs[i].fd = fcntl(log_segment_fd(log->segs[i]), F_DUPFD_CLOEXEC, 0);
        if (out->segs[i].fd < 0) {
            log_error(LOG_TAG, "%s: cannot dup a segment's fd for the cleaner: %s", log->dir, strerror(errno));
            log_clean_view_free(out);
            return KERR_KAFKA_STORAGE_ERROR;
        }
    }
    return KERR_NONE;
}

/* Whether the cleaner's crash hook stops the swap before the next step. */
static bool log_swap_crashes(int *crash_after_steps) {
    if (!crash_after_steps)
        return false;
    if (*crash_after_steps <= 0)
        return true;
    (*crash_after_steps)--;
    return false;
}

/* The cleaned segment, opened, if it can replace segments [first, first +
 * n_old): sane indexes, and offsets that end after the base offset of the
 * last of them holding data (recovery replaces the segments based below a
 * .swap's end; the first by name) and not after the next segment's. */
static log_segment_t *log_open_cleaned(log_t *log, size_t first, size_t n_old) {
    log_segment_t *seg;
    if (log_segment_open(log->dir, log->bases[first], &log->seg_cfg, LOG_SEGMENT_CLEANED_SUFFIX, &seg) != KERR_NONE)
        return NULL;
    size_t last_data = first + n_old - 1; /* an empty one left behind by a crash holds nothing stale */
    while (last_data > first && log_segment_size(log->segs[last_data]) == 0)
        last_data--;
    int64_t next;
    const char *why = log_segment_needs_recovery(seg);
    if (!why && log_segment_next_offset(seg, &next) != KERR_NONE)
        why = "unreadable";
    else if (!why && (next > log->bases[first + n_old] || (last_data > first && next <= log->bases[last_data])))
        why = "its offsets do not cover the segments it replaces";
    if (why) {
        log_warn(LOG_TAG, "%s: cleaned segment %020" PRId64 " refused: %s", log->dir, log->bases[first], why);
        log_segment_close(seg);
        return NULL;
    }
    return seg;
}

kerr_t log_replace_with_cleaned(log_t *log, uint64_t *generation, int64_t new_base, size_t n_old, int64_t now_ms,
                                int *crash_after_steps) {
    size_t first = log_floor_index(log, new_base);
    bool in_place = *generation == log->generation && n_old > 0 && first != (size_t)-1 &&
                    log->bases[first] == new_base && first + n_old < log->nsegs;
    log_segment_t *seg = in_place ? log_open_cleaned(log, first, n_old) : NULL;
    if (!seg) {
        log_segment_unlink_files(log->dir, new_base, LOG_SEGMENT_CLEANED_SUFFIX);
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    kerr_t e = KERR_KAFKA_STORAGE_ERROR;
    if (log_swap_crashes(crash_after_steps))
        goto crashed;
    e = log_segment_change_suffix(seg, LOG_SEGMENT_SWAP_SUFFIX);
    if (e != KERR_NONE) {
        log_segment_delete(seg);
        log_segment_unlink_files(log->dir, new_base, LOG_SEGMENT_CLEANED_SUFFIX);
        return e;
    }
    if (log_swap_crashes(crash_after_steps))
        goto crashed;
    /* From here on the swap is decided: a crash completes it (log_open). The
     * old segments go the way retention's do, so that reads already handed
     * out (dup'd fds) finish undisturbed. */
    for (size_t i = 0; i < n_old; i++)
        log_doom_segment(log, log->segs[first + i], now_ms);
    log_remove_range(log, first, n_old - 1);
    log->segs[first] = NULL; /* the slot the new segment takes */
    log->bases[first] = new_base;
    log_bump_generation(log);
    *generation = log->generation;
    if (log_swap_crashes(crash_after_steps)) {
        log_remove_range(log, first, 1);
        goto crashed;
    }
    e = log_segment_change_suffix(seg, NULL);
    if (e != KERR_NONE)
        log_error(LOG_TAG, "%s: segment %020" PRId64 " stays a .swap until the next start", log->dir, new_base);
    log->segs[first] = seg; /* serves under either name; the file is complete */
    return KERR_NONE;

crashed:
    log_segment_close(seg);
    return KERR_KAFKA_STORAGE_ERROR;
}
