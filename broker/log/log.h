/*
 * log — one partition's log: an ordered list of segments, the last one
 * active, with Kafka 2.8's Log.scala semantics (reference:
 * ../shared/reference/storage-and-replication.md §1, §5, §6, §8.1).
 *
 *   <log.dir>/<topic>-<partition>/
 *       <20-digit base>.log/.index/.timeindex   one set per segment (log_segment.h)
 *       leader-epoch-checkpoint                  epoch -> start offset (leader_epoch.h)
 *
 * Offsets: the log start offset (first offset readers may see), the log end
 * offset (LEO, the next offset to assign), the recovery point (everything
 * below it is fsynced, so recovery after a crash starts there) and the high
 * watermark (set by the replica manager; retention never deletes past it).
 *
 * Appends take whole batches. A leader's append validates and assigns
 * offsets in place in the caller's buffer; a follower's append stores the
 * leader's batches unchanged. Reads return a file range of one segment that
 * the network layer sends without copying.
 *
 * Not thread-safe: the owner (the replica manager's partition) serialises
 * calls. Reads may run concurrently with appends only under the owner's lock.
 * In the broker every call on an attached log is made under: partition.lock
 * (request handlers through partition.h; the log manager's tasks through
 * its log_manager_lock_fn), and opening, closing and deleting under the
 * replica manager's logs_lock (broker.h: threads and locks).
 */
#ifndef SAMSA_LOG_H
#define SAMSA_LOG_H

#include "proto/compress.h"
#include "util/config.h"
#include "proto/kerr.h"
#include "log/leader_epoch.h"
#include "log/log_segment.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_LEADER_EPOCH_FILE "leader-epoch-checkpoint"

/* The topic-level settings a log needs, resolved from the topic's overrides
 * and the broker's defaults (log_config_from_topic). */
typedef struct log_config {
    uint64_t segment_bytes;          /* segment.bytes */
    int64_t segment_ms;              /* segment.ms */
    int64_t segment_jitter_ms;       /* segment.jitter.ms */
    uint32_t index_interval_bytes;   /* index.interval.bytes */
    uint32_t max_index_bytes;        /* segment.index.bytes */
    int64_t retention_ms;            /* retention.ms, -1 = forever */
    int64_t retention_bytes;         /* retention.bytes, -1 = no limit */
    int64_t flush_messages;          /* flush.messages (INT64_MAX = leave it to the OS) */
    int64_t flush_ms;                /* flush.ms (INT64_MAX = leave it to the OS) */
    uint32_t max_message_bytes;      /* max.message.bytes */
    compression_t compression;       /* compression.type */
    bool log_append_time;            /* message.timestamp.type=LogAppendTime */
    bool compacted;                  /* cleanup.policy contains compact */
    bool deletes;                    /* cleanup.policy contains delete: time/size retention applies */
    int64_t delete_retention_ms;     /* delete.retention.ms: how long the cleaner keeps tombstones */
    int64_t min_compaction_lag_ms;   /* min.compaction.lag.ms */
    double min_cleanable_ratio;      /* min.cleanable.dirty.ratio */
    int64_t max_timestamp_diff_ms;   /* message.timestamp.difference.max.ms */
    int64_t file_delete_delay_ms;    /* file.delete.delay.ms */
} log_config_t;

/* Kafka's defaults (as a broker with no overrides has them). */
void log_config_default(log_config_t *out);

/* Resolves a topic's settings (NULL topic: the broker's defaults). */
void log_config_from_topic(const config_t *broker, const config_topic_t *topic, log_config_t *out);

/* Every field under: the owner's lock (partition.lock); none is atomic. */
typedef struct log log_t;

/* What the log directory's checkpoints say about this partition. */
typedef struct log_open_opts {
    int64_t recovery_point;   /* recovery-point-offset-checkpoint, 0 if absent */
    int64_t log_start_offset; /* log-start-offset-checkpoint, -1 if absent */
    int64_t high_watermark;   /* replication-offset-checkpoint, -1 if absent */
    bool clean_shutdown;      /* the log dir had .kafka_cleanshutdown */
    int64_t now_ms;
    int64_t cleaner_checkpoint; /* cleaner-offset-checkpoint (first dirty offset), 0 if absent */
} log_open_opts_t;

/* Parses "<topic>-<partition>" (the directory's base name). false if it is
 * not a valid name. topic must hold 250 bytes. */
bool log_parse_dir_name(const char *name, char *topic, size_t topic_cap, int32_t *partition);

/* Opens (creating when absent) the log in dir, Kafka's loadSegments:
 * removes leftovers (.tmp, .deleted, .cleaned, index files without a .log),
 * completes the cleaner's interrupted swaps (a ".log.swap" replaces the
 * segments whose base offsets fall in its offset range, then takes the
 * ".log" name), opens every segment, recovers after an unclean shutdown every
 * segment from the one holding the recovery point on (truncating at the
 * first invalid or torn batch and dropping the segments after it), rebuilds
 * indexes that fail their checks, and loads the leader-epoch cache, trimmed
 * to [log start, LEO). Errors: KERR_KAFKA_STORAGE_ERROR with err filled. */
kerr_t log_open(const char *dir, const log_config_t *cfg, const log_open_opts_t *opts, log_t **out, char *err,
                size_t errlen);

/* Flushes nothing (the caller decides), trims the active segment's indexes,
 * closes every file, frees log. */
void log_close(log_t *log);

/* Closes the log and removes its directory with everything in it. */
kerr_t log_delete(log_t *log);

void log_set_config(log_t *log, const log_config_t *cfg);
const log_config_t *log_get_config(const log_t *log);

/* --- appends ------------------------------------------------------------ */

typedef struct log_append_info {
    int64_t first_offset;
    int64_t last_offset;
    int64_t max_timestamp;
    int64_t offset_of_max_timestamp;
    int64_t log_append_time;  /* -1 unless the topic uses LogAppendTime */
    int64_t log_start_offset;
    uint32_t batch_bytes;     /* bytes written */
} log_append_info_t;

/* A leader's append of one producer batch (Produce v3+ carries exactly
 * one per partition): validated (record_batch_validate), recompressed when
 * the topic's compression.type asks for another codec, given offsets from the
 * LEO and the leader epoch in place in batch (the caller's buffer is
 * modified), rolled onto a new segment when due, written, and flushed when
 * flush.messages says so. Errors are Kafka's (CORRUPT_MESSAGE,
 * INVALID_RECORD, MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE,
 * UNSUPPORTED_FOR_MESSAGE_FORMAT, INVALID_TIMESTAMP, KAFKA_STORAGE_ERROR);
 * nothing is written on error. */
kerr_t log_append_as_leader(log_t *log, uint8_t *batch, size_t len, int32_t leader_epoch, int64_t now_ms,
                            log_append_info_t *info);

/* A follower's append of the leader's batches as they are: each must pass
 * batch_check and continue the log (first offset == LEO, offsets
 * increasing); leader epochs go into the epoch cache. Errors:
 * CORRUPT_MESSAGE, OFFSET_OUT_OF_RANGE (does not start at the LEO),
 * KAFKA_STORAGE_ERROR. */
kerr_t log_append_as_follower(log_t *log, const uint8_t *batches, size_t len, int64_t now_ms,
                              log_append_info_t *info);

/* --- reads -------------------------------------------------------------- */

/* Bytes [position, position + length) of fd (one segment); data points at
 * them through the segment's mapping (NULL if they could not be mapped). The
 * range stays valid until the log is truncated below it, the segment is
 * deleted (deletion is delayed by file.delete.delay.ms for that reason) or
 * the log is closed. */
typedef struct log_read_info {
    int fd;
    uint32_t position;
    uint32_t length;
    const uint8_t *data;
    int64_t segment_base_offset;
    bool first_entry_incomplete;
} log_read_info_t;

/* Kafka's Log.read: batches from the one holding offset on, at most
 * max_bytes (but at least one whole batch when min_one_message), and none
 * holding an offset >= max_offset (the high watermark for consumers, the LEO
 * for followers; pass -1 for the LEO). offset == LEO (or >= max_offset) is
 * an empty read (length 0); offset < log start or > LEO is
 * OFFSET_OUT_OF_RANGE. */
kerr_t log_read(log_t *log, int64_t offset, uint32_t max_bytes, int64_t max_offset, bool min_one_message,
                log_read_info_t *out);

/* ListOffsets: LOG_TIMESTAMP_LATEST (-1) -> LEO, LOG_TIMESTAMP_EARLIEST (-2)
 * -> log start; otherwise the first offset whose record timestamp is >=
 * timestamp (*found false when no record is that recent). */
#define LOG_TIMESTAMP_LATEST (-1)
#define LOG_TIMESTAMP_EARLIEST (-2)
kerr_t log_offset_for_timestamp(log_t *log, int64_t timestamp, bool *found, int64_t *offset,
                                int64_t *record_timestamp);

/* --- offsets ------------------------------------------------------------ */

int64_t log_start_offset(const log_t *log);
int64_t log_end_offset(const log_t *log);
int64_t log_recovery_point(const log_t *log);
int64_t log_high_watermark(const log_t *log);
/* Clamped to [log start, LEO]. */
void log_set_high_watermark(log_t *log, int64_t hw);
uint64_t log_size_bytes(const log_t *log);
size_t log_num_segments(const log_t *log);
/* Writes the leader-epoch checkpoint if a deferred change is pending
 * (leader_epoch_assign_deferred). */
kerr_t log_flush_leader_epochs(log_t *log);
leader_epoch_cache_t *log_leader_epochs(log_t *log);
const char *log_dir(const log_t *log);

/* Moves the log start offset forward (DeleteRecords, and retention); never
 * past the high watermark. OFFSET_OUT_OF_RANGE if offset > HW. Segments
 * wholly below it go at the next retention pass. */
kerr_t log_advance_start_offset(log_t *log, int64_t offset);

/* --- truncation (followers) ---------------------------------------------- */

/* Removes every offset >= offset (no-op if offset >= LEO); recovery point
 * and HW are lowered to match, epochs after it dropped. */
kerr_t log_truncate_to(log_t *log, int64_t offset);

/* Deletes every segment and starts again, empty, at offset (a follower
 * whose fetch offset fell out of the leader's log). */
kerr_t log_truncate_fully_and_start_at(log_t *log, int64_t offset, int64_t now_ms);

/* --- durability and retention ------------------------------------------- */

/* fsyncs the segments holding offsets below offset (-1: all of them) and
 * raises the recovery point to it. */
kerr_t log_flush(log_t *log, int64_t offset);

/* The same flush in three steps, so that the fsyncs run without the log's
 * owner lock (Kafka's Log.flush syncs its segments outside the log's lock
 * too): a produce to the partition need not wait for the disk.
 *   log_flush_begin   under the lock: which segments, their files
 *   log_flush_sync    no lock: fsyncs and closes the files
 *   log_flush_finish  under the lock: the recovery point rises, unless the
 *                     layout changed meanwhile (truncation, retention, a
 *                     cleaned swap: the next flush does it again)
 * The log must outlive the job (in the broker logs_lock keeps it). */
typedef struct log_flush_job {
    int64_t offset;      /* the recovery point it establishes */
    uint64_t generation; /* log_layout_generation() at begin */
    int *fds;            /* owned; closed and freed by log_flush_sync */
    size_t nfds;
    int64_t started_us;  /* for the flush-time histogram */
    const char *dir;     /* the log's, for messages */
} log_flush_job_t;

/* false when nothing lies between the recovery point and offset (-1: the
 * end), or on an error (*err; the job holds nothing then). */
bool log_flush_begin(log_t *log, int64_t offset, log_flush_job_t *job, kerr_t *err);
kerr_t log_flush_sync(log_flush_job_t *job);
void log_flush_finish(log_t *log, const log_flush_job_t *job);

/* Whether flush.ms has passed since the last flush with unflushed data, or
 * a roll asked for the segments before it to be flushed. */
bool log_flush_due(const log_t *log, int64_t now_ms);

/* The offset a roll asked the segments below it to be flushed to, when
 * that is above the recovery point; else -1. Kafka flushes at once after
 * every roll (in the background), whatever log.flush.* say. */
int64_t log_roll_flush_pending(const log_t *log);

/* Deletes, oldest first and never the active segment or past the high
 * watermark, the segments that are older than retention.ms (by largest
 * timestamp) or beyond retention.bytes — both only when cleanup.policy
 * contains delete, so a compact-only topic keeps its keys — or wholly below
 * the log start offset (any policy);
 * raises the log start offset to the first remaining segment. Their files
 * are renamed *.deleted and removed after file.delete.delay.ms
 * (log_remove_deleted). Returns the number of segments deleted. */
int log_apply_retention(log_t *log, int64_t now_ms);

/* Removes the files of segments deleted at least file.delete.delay.ms
 * before now_ms (all of them with now_ms = INT64_MAX). */
void log_remove_deleted(log_t *log, int64_t now_ms);

/* Rolls a new active segment at the LEO (no-op when the active one is
 * empty). */
kerr_t log_roll(log_t *log, int64_t now_ms);

/* For tools and tests: the segments in order. */
log_segment_t *log_nth_segment(log_t *log, size_t i);

/* --- the log cleaner's access (cleaner.h) ---------------------------------
 *
 * The cleaner reads segment bytes without the owner's lock: under the lock
 * it takes a view — the inactive segments' ranges and a dup of each .log's
 * fd (the inactive segments never change but by truncation or deletion,
 * both of which bump the layout generation) — and reads through the dups;
 * under the lock again it swaps the segments it wrote in, if the
 * generation is still the one it saw. */

/* One inactive segment as the cleaner sees it. */
typedef struct log_clean_segment {
    int64_t base_offset;
    int64_t next_offset;       /* the next segment's base offset */
    uint32_t size;             /* bytes of the .log */
    int fd;                    /* a dup of the .log's fd, owned by the view */
    int64_t last_modified_ms;  /* the .log's mtime (Kafka's lastModified) */
    int64_t largest_timestamp; /* log_segment_largest_timestamp */
} log_clean_segment_t;

typedef struct log_clean_view {
    char *dir;               /* owned */
    log_config_t cfg;
    uint64_t generation;     /* log_layout_generation() when taken */
    int64_t start_offset;
    int64_t high_watermark;
    int64_t active_base;     /* base offset of the active segment */
    int64_t first_dirty;     /* log_cleaner_checkpoint() clamped to [log start, active base] */
    log_clean_segment_t *segs; /* every segment but the active one, in order */
    size_t nsegs;
} log_clean_view_t;

/* Takes the view (under the owner's lock). with_fds false skips the dups
 * (to compute a dirty ratio). KERR_KAFKA_STORAGE_ERROR if dup fails. */
kerr_t log_clean_view_take(log_t *log, bool with_fds, log_clean_view_t *out);
/* Closes the dups, frees the view; a zeroed view is fine. */
void log_clean_view_free(log_clean_view_t *v);

/* Changes with every removal or truncation of segments (retention,
 * truncation, a swap): unique across the logs of the process. */
uint64_t log_layout_generation(const log_t *log);

/* The end of the cleaned part: the first offset the cleaner has not
 * cleaned (cleaner-offset-checkpoint), 0 before any cleaning. */
int64_t log_cleaner_checkpoint(const log_t *log);
void log_set_cleaner_checkpoint(log_t *log, int64_t offset);

/* File-system steps of one log_replace_with_cleaned group, in order: a
 * crash between any two leaves files that log_open completes or rolls
 * back. */
typedef enum log_swap_step {
    LOG_SWAP_CLEANED_TO_SWAP = 0, /* <base>.*.cleaned -> <base>.*.swap: the new segment is complete */
    LOG_SWAP_OLD_TO_DELETED,      /* the replaced segments -> *.deleted (removed after file.delete.delay.ms) */
    LOG_SWAP_SWAP_TO_LOG,         /* <base>.*.swap -> <base>.log/.index/.timeindex */
    LOG_SWAP_STEPS
} log_swap_step_t;

/* Swaps in the segment the cleaner wrote as "<new_base>.log.cleaned" (with
 * its indexes, fsynced) for the n_old segments starting at new_base, which
 * must be consecutive inactive segments of the log; the new segment must
 * end after the base offset of the last of them that holds data (when
 * that is not the first) and not after the segment that follows. *generation must be the log's
 * layout generation (the view's, then what the previous call left there);
 * it gets the new one. Otherwise — or when the segments are not there —
 * the swap is refused with KERR_UNKNOWN_SERVER_ERROR, the .cleaned files
 * removed and nothing else changed. Under the owner's lock.
 * crash_after_steps (tests; NULL in the broker): when *crash_after_steps is
 * 0 the call stops before the next step as a crash would (files as they
 * are, the log's memory unchanged: close the log and reopen it) and returns
 * KERR_KAFKA_STORAGE_ERROR; each step done decrements it. */
kerr_t log_replace_with_cleaned(log_t *log, uint64_t *generation, int64_t new_base, size_t n_old, int64_t now_ms,
                                int *crash_after_steps);

#endif
