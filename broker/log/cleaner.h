/*
 * cleaner — log compaction (Kafka 2.8's LogCleaner, Cleaner,
 * LogCleanerManager and SkimpyOffsetMap): for every log whose
 * cleanup.policy contains compact, keep only the latest record per key in
 * the part of the log before the active segment, and drop tombstones
 * delete.retention.ms after the segment holding them was cleaned.
 *
 * One pass over one log (a job):
 *   1. choose (under the log's owner lock, cleaner_choose): among the
 *      compacted logs the dirtiest — dirty ratio = bytes of the cleanable
 *      segments after the cleaner checkpoint / bytes of all segments up to
 *      the first uncleanable offset — above min.cleanable.dirty.ratio. The
 *      first uncleanable offset is the smallest of the active segment's base,
 *      the base of the first segment the high watermark has not passed, and
 *      the base of the first segment with records younger than
 *      min.compaction.lag.ms. The job keeps a view of the log (log.h:
 *      log_clean_view_t, dup'd fds), never the log_t;
 *   2. run (no lock, cleaner_job_run): build the key -> latest offset map
 *      over the dirty segments (records without a key are skipped: produce
 *      refuses them on a compacted topic), stopping where the map is full;
 *      then recopy every segment below the end of the map, in groups whose
 *      original sizes add up to at most segment.bytes, into one
 *      "<base>.log.cleaned" per group: a record stays when it is the
 *      latest for its key (or past the map) and, for a tombstone (null
 *      value), while its segment's mtime is after the delete horizon (the
 *      mtime of the last segment cleaned before, minus delete.retention.ms).
 *      Batches keep their base and last offsets (offsets never change; a
 *      rewritten batch has its remaining records, its codec, a new max
 *      timestamp and CRC); a batch left empty is dropped — unless a group
 *      of several segments would end before the base offset of its last
 *      one: its last batch is then kept, empty, because crash recovery
 *      replaces the segments based below a .swap's end (as Kafka's
 *      readNextOffset does). Control batches are kept as they are. Indexes
 *      are built as appends build them; the file is fsynced and gets the
 *      group's last mtime (as Kafka does: tombstone ages carry over), or
 *      that of the oldest segment a kept tombstone came from (else merged
 *      tombstones never age: KAFKA-8522). Groups never mix segments cleaned
 *      before with dirty ones, so that the newest cleaned segment — whose
 *      mtime sets the delete horizon — is the newest data;
 *   3. commit (under the log's owner lock, cleaner_job_commit): each group
 *      swapped in with log_replace_with_cleaned (.cleaned -> .swap, old
 *      segments -> .deleted, .swap -> .log) and the cleaner checkpoint
 *      moved to the end of the map. A job whose log changed meanwhile
 *      (truncation, retention, deletion: the layout generation moved) is
 *      dropped with its files.
 *
 * Threads (broker/server/broker.h): the cleaner runs on one thread of its
 * own, "log-cleaner" (log.cleaner.threads above 1 is served by this one
 * thread: one log at a time is enough for the offsets topic and the
 * like). It reads and writes segment bytes there only. Choosing a log and
 * committing a job touch log_t and run where the log manager's tasks run
 * (log_manager_tick, main thread, under logs_lock and the partition's
 * lock): the thread never takes a broker lock, so the lock order is
 * unchanged. Its rate is bounded by log.cleaner.io.max.bytes.per.second
 * (read plus written bytes).
 *
 * Ownership: a job is created by cleaner_choose and owned by the caller
 * until cleaner_submit hands it to the thread; cleaner_take_done hands it
 * back, and the caller commits and frees it.
 */
#ifndef SAMSA_CLEANER_H
#define SAMSA_CLEANER_H

#include "util/config.h"
#include "proto/kerr.h"
#include "log/log.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cleaner_config {
    size_t dedupe_buffer_bytes;   /* log.cleaner.dedupe.buffer.size (24 bytes a key) */
    double dedupe_load_factor;    /* log.cleaner.io.buffer.load.factor */
    double io_max_bytes_per_sec;  /* log.cleaner.io.max.bytes.per.second */
    int64_t backoff_ms;           /* log.cleaner.backoff.ms */
} cleaner_config_t;

void cleaner_config_from(const config_t *broker, cleaner_config_t *out);

/* --- the key -> offset map (Kafka's SkimpyOffsetMap) ----------------------- */

/* Slots of a 128-bit key hash and an offset; two keys with the same hash
 * count as one (as in Kafka, with MD5). Full at load_factor. */
typedef struct cleaner_map cleaner_map_t;

cleaner_map_t *cleaner_map_new(size_t bytes, double load_factor);
void cleaner_map_free(cleaner_map_t *m);
void cleaner_map_clear(cleaner_map_t *m);
/* false when the key is new and the map is full. */
bool cleaner_map_put(cleaner_map_t *m, const uint8_t *key, size_t len, int64_t offset);
/* -1 when absent. */
int64_t cleaner_map_get(const cleaner_map_t *m, const uint8_t *key, size_t len);
size_t cleaner_map_size(const cleaner_map_t *m);
size_t cleaner_map_capacity(const cleaner_map_t *m);

/* --- one pass over one log ------------------------------------------------- */

typedef struct cleaner_job cleaner_job_t;

/* How dirty a log is (cleaner_assess). */
typedef struct cleaner_dirt {
    int64_t first_dirty;       /* where the dirty part starts */
    int64_t first_uncleanable; /* where the cleanable part ends (a segment base) */
    uint64_t clean_bytes;
    uint64_t dirty_bytes;      /* cleanable segments at or after first_dirty */
    double ratio;              /* dirty / (clean + dirty), 0 when both are 0 */
    bool cleanable;            /* compacted, dirty_bytes > 0, ratio > min.cleanable.dirty.ratio */
} cleaner_dirt_t;

/* The dirt of log at now_ms (wall clock; under the owner's lock). */
void cleaner_assess(log_t *log, int64_t now_ms, cleaner_dirt_t *out);

/* A job for log (under the owner's lock), or NULL when it is not
 * cleanable. topic/partition name it for the committer (copied). */
cleaner_job_t *cleaner_job_new(log_t *log, const char *topic, int32_t partition, int64_t now_ms);
const char *cleaner_job_topic(const cleaner_job_t *job);
int32_t cleaner_job_partition(const cleaner_job_t *job);

/* What a run did, for logs, tests and figures. */
typedef struct cleaner_stats {
    uint64_t bytes_read;
    uint64_t bytes_written;
    uint64_t records_read;     /* in the segments recopied */
    uint64_t records_kept;
    uint64_t tombstones_dropped;
    size_t groups;
    int64_t end_offset;        /* the new cleaner checkpoint */
    int64_t elapsed_ms;        /* of cleaner_job_run, throttling included */
} cleaner_stats_t;

/* Steps 2 (map) and 3 (recopy into .cleaned files) without any lock: reads
 * the view's dup'd fds, writes in its dir. io_max_bytes_per_sec <= 0 or
 * huge: unthrottled. *stop (may be NULL) is polled between batches: when
 * it turns true the run stops with KERR_UNKNOWN_SERVER_ERROR and removes
 * its files. Errors: KERR_CORRUPT_MESSAGE (a segment does not parse; the
 * log is left alone), KERR_KAFKA_STORAGE_ERROR (I/O). */
kerr_t cleaner_job_run(cleaner_job_t *job, cleaner_map_t *map, double io_max_bytes_per_sec,
                       const atomic_bool *stop);

/* Swaps the groups in (under the owner's lock of the log the job was made
 * for — the caller looks it up again by topic and partition) and moves the
 * cleaner checkpoint. A log that changed shape since the job was made
 * refuses the swap (KERR_UNKNOWN_SERVER_ERROR, files removed); groups
 * already swapped stay (each is whole), the checkpoint stays. crash_after_steps:
 * log_replace_with_cleaned's test hook, counted over all groups (NULL in
 * the broker). */
kerr_t cleaner_job_commit(cleaner_job_t *job, log_t *log, int64_t now_ms, int *crash_after_steps);

/* Removes the job's .cleaned files that are still there (a job not run,
 * failed or not committed) and frees it. NULL is fine. */
void cleaner_job_free(cleaner_job_t *job);

const cleaner_stats_t *cleaner_job_stats(const cleaner_job_t *job);

/* --- the thread ------------------------------------------------------------- */

typedef struct cleaner cleaner_t;

/* Starts the "log-cleaner" thread with its own map of
 * dedupe_buffer_bytes. NULL (err filled) if the thread cannot start. */
cleaner_t *cleaner_start(const cleaner_config_t *cfg, char *err, size_t errlen);
/* Stops the thread (a running job is abandoned, its files removed), frees
 * what is left. NULL is fine. */
void cleaner_stop(cleaner_t *c);

/* Whether the thread has no job (none submitted or running, none done and
 * not taken). */
bool cleaner_idle(cleaner_t *c);
/* Hands job to the thread (which must be idle). */
void cleaner_submit(cleaner_t *c, cleaner_job_t *job);
/* The job the thread finished (run ok or failed: *result), or NULL. */
cleaner_job_t *cleaner_take_done(cleaner_t *c, kerr_t *result);
const cleaner_config_t *cleaner_config(const cleaner_t *c);

#endif
