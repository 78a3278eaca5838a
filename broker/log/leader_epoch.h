/*
 * leader_epoch — one partition's leader-epoch cache (Kafka 2.8's
 * LeaderEpochFileCache, KIP-101/KIP-279) and its leader-epoch-checkpoint
 * file in the partition directory.
 *
 * The cache is the list of (epoch, start offset) pairs, strictly ascending
 * in both: epoch E's messages start at its start offset and end where the
 * next entry starts (or at the log end offset for the latest epoch). The
 * file is a checkpoint (checkpoint.h), version 0, entries
 * "<epoch> <startOffset>":
 *
 *   0
 *   2
 *   0 0
 *   3 812
 *
 * Like Kafka, every change that alters the entries rewrites the file at
 * once (atomically) when the cache has a path; a cache made without one
 * lives only in memory. If that write fails the entries in memory are
 * already changed, as in Kafka, where the log directory then goes offline:
 * callers should treat the error as a storage failure.
 *
 * Not thread-safe: the partition that owns the cache serialises access
 * (Kafka uses a read-write lock).
 *
 * Errors: -1 and one line in err (may be NULL).
 */
#ifndef SAMSA_LEADER_EPOCH_H
#define SAMSA_LEADER_EPOCH_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEADER_EPOCH_CHECKPOINT_FILE "leader-epoch-checkpoint"

/* OffsetsForLeaderEpoch's "unknown" answers (EpochEndOffset). */
#define LEADER_EPOCH_UNDEFINED_EPOCH (-1)
#define LEADER_EPOCH_UNDEFINED_EPOCH_OFFSET (-1LL)

typedef struct leader_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} leader_epoch_entry_t;

/* The answer to "where does epoch N end". */
typedef struct leader_epoch_end_offset {
    int32_t epoch;
    int64_t end_offset;
} leader_epoch_end_offset_t;

typedef struct leader_epoch_cache leader_epoch_cache_t;

/* An empty cache. path (copied; NULL = memory only) is the checkpoint file
 * it writes to; nothing is read or written yet. */
leader_epoch_cache_t *leader_epoch_new(const char *path);

/* A cache for path, filled from the file if it exists (a missing file gives
 * an empty cache; the file is not created). The entries are replayed
 * through the assign rules, as Kafka does, so a file whose entries are out
 * of order loads as what assign() would have kept; a negative epoch or
 * offset, or any checkpoint error, fails the load. Returns NULL with err
 * set on error. Loading never writes the file. */
leader_epoch_cache_t *leader_epoch_load(const char *path, char *err, size_t errlen);

void leader_epoch_free(leader_epoch_cache_t *cache);

/* The checkpoint path, or NULL for a memory-only cache. */
const char *leader_epoch_path(const leader_epoch_cache_t *cache);

/* --- changes (each rewrites the file when it changed something) --------- */

/* Records that epoch starts at start_offset. Nothing changes when epoch is
 * already the latest epoch and start_offset is not below its start (the
 * usual case: every batch of the current epoch calls this). Otherwise the
 * entries at the end whose epoch >= epoch or whose start offset >=
 * start_offset are removed, and (epoch, start_offset) is appended. So a
 * lower epoch or a lower offset than the latest entry's truncates, it is
 * never ignored. Returns 1 when the entries changed (and were written), 0
 * when nothing was needed, -1 for a negative epoch or offset (cache
 * unchanged) or a failed write. */
int leader_epoch_assign(leader_epoch_cache_t *cache, int32_t epoch, int64_t start_offset,
                        char *err, size_t errlen);

/* After the log is truncated to end_offset: removes the entries whose start
 * offset >= end_offset. A negative end_offset is ignored. Returns 1 when
 * entries were removed (and the file written), 0 when none were, -1 when
 * the write failed. */
int leader_epoch_truncate_from_end(leader_epoch_cache_t *cache, int64_t end_offset, char *err,
                                   size_t errlen);

/* After the log start offset moves up to start_offset: removes the entries
 * whose start offset <= start_offset except the last of them, which is kept
 * with its start moved to start_offset (its epoch still covers the new first
 * offset). So truncating at 6 keeps an entry starting at 6. Returns 1 when
 * the entries changed (file written), 0 when no entry starts at or below
 * start_offset, -1 when the write failed. */
int leader_epoch_truncate_from_start(leader_epoch_cache_t *cache, int64_t start_offset,
                                     char *err, size_t errlen);

/* The two truncations above with the write deferred as
 * leader_epoch_assign_deferred's is (dirty until leader_epoch_flush_if_dirty
 * or a later write), for loading and recovering a log: what they cut is
 * past the log's end or before its start, so a crash before the write only
 * leaves the next load to cut it again. Writing at once cost every empty
 * partition (its one entry starts at its end) two fsyncs at each start-up.
 * 1 = changed, 0 = not. */
int leader_epoch_truncate_from_end_deferred(leader_epoch_cache_t *cache, int64_t end_offset);
int leader_epoch_truncate_from_start_deferred(leader_epoch_cache_t *cache, int64_t start_offset);
/* Drops every entry in memory only (Kafka's clear()). */
void leader_epoch_clear(leader_epoch_cache_t *cache);

/* Drops every entry and writes the empty checkpoint (Kafka's
 * clearAndFlush(), used when the whole log is deleted or replaced). */
int leader_epoch_clear_and_flush(leader_epoch_cache_t *cache, char *err, size_t errlen);

/* Writes the entries to the cache's path (atomically); a no-op returning 0
 * for a memory-only cache. */
int leader_epoch_flush(leader_epoch_cache_t *cache, char *err, size_t errlen);

/* leader_epoch_assign without writing the file: the change is only marked
 * (leader_epoch_dirty) until leader_epoch_flush_if_dirty or any later
 * write. Why it is safe to defer: an entry lost in a crash is rebuilt by log
 * recovery from the epochs the batches themselves carry (every batch after
 * the on-disk recovery point is rescanned), provided the dirty file is
 * written before a recovery point past those batches is — the log manager
 * writes a dirty cache first (log_manager's recovery_point_of). A broker becoming
 * leader of 1,000 partitions thus answers LeaderAndIsr without 1,000 fsyncs
 * in its path. 1 = changed, 0 = no change, -1 = invalid entry. */
int leader_epoch_assign_deferred(leader_epoch_cache_t *cache, int32_t epoch, int64_t start_offset, char *err,
                                 size_t errlen);
bool leader_epoch_dirty(const leader_epoch_cache_t *cache);
/* Writes the file when a deferred change is pending: 1 written, 0 nothing
 * to do, -1 error. */
int leader_epoch_flush_if_dirty(leader_epoch_cache_t *cache, char *err, size_t errlen);

/* --- writing outside the owner's lock ---------------------------------------
 * A caller that writes many caches' files at once (log_manager's tick)
 * copies the bytes under the owner's lock, writes them without it, and
 * installs the file only if the cache did not change meanwhile: the version
 * tells. */

/* Appends the checkpoint file's bytes for the current entries to out. */
void leader_epoch_serialize(const leader_epoch_cache_t *cache, buf_t *out);
/* Changes with every change to the entries (deferred or written at once);
 * unique in the process, so no other cache, not even a later one at the
 * same path, ever has the same version. */
uint64_t leader_epoch_version(const leader_epoch_cache_t *cache);
/* The file durably holds the entries as they were at `version`: the cache
 * is clean unless it changed since. */
void leader_epoch_mark_written(leader_epoch_cache_t *cache, uint64_t version);

/* --- queries ---------------------------------------------------------------- */

size_t leader_epoch_count(const leader_epoch_cache_t *cache);

/* Entry i (0 = oldest); i must be < leader_epoch_count(). */
leader_epoch_entry_t leader_epoch_entry_at(const leader_epoch_cache_t *cache, size_t i);

/* The latest entry's epoch, or LEADER_EPOCH_UNDEFINED_EPOCH when empty. */
int32_t leader_epoch_latest_epoch(const leader_epoch_cache_t *cache);

/* The newest / oldest entry; false when the cache is empty. */
bool leader_epoch_latest_entry(const leader_epoch_cache_t *cache, leader_epoch_entry_t *out);
bool leader_epoch_earliest_entry(const leader_epoch_cache_t *cache, leader_epoch_entry_t *out);

/* Kafka's endOffsetFor, the answer to OffsetsForLeaderEpoch and to the
 * diverging-epoch check of Fetch v12:
 *   requested == UNDEFINED_EPOCH           -> (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
 *   requested == latest epoch              -> (requested, log_end_offset)
 *   no epoch above requested (or empty)    -> (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
 *   no epoch <= requested, E' the first one above -> (requested, start of E')
 *   else                                    -> (largest epoch <= requested, start of the
 *                                               first epoch above requested) */
leader_epoch_end_offset_t leader_epoch_end_offset_for(const leader_epoch_cache_t *cache,
                                                      int32_t requested, int64_t log_end_offset);

/* --- a follower's truncation (KIP-101, KIP-279) ------------------------------ */

/* Where a follower truncates to, given the leader's answer to
 * OffsetsForLeaderEpoch about the follower's latest epoch. */
typedef struct leader_epoch_truncation {
    int64_t offset; /* truncate the log to this (never above its end) */
    /* false: the leader answered an epoch the follower does not have; the
     * follower truncates to the end of its largest epoch below it and asks
     * again about its new latest epoch (the KIP-279 loop) */
    bool complete;
} leader_epoch_truncation_t;

/* Kafka 2.8's getOffsetTruncationState, a pure function of the follower's
 * cache, log end offset and high watermark and the leader's answer:
 *   leader end offset undefined (no epoch information) -> the HW, complete
 *   leader epoch undefined (a v0 answer)  -> min(leader end, LEO), complete
 *   local endOffsetFor(leader epoch) is undefined (we have no epoch up to
 *     it)                                 -> min(leader end, LEO), complete
 *   ... gives the leader's epoch          -> min(leader end, our end of that
 *                                            epoch, LEO), complete
 *   ... gives a smaller epoch             -> min(our end of it, LEO), not
 *                                            complete
 * Each incomplete step drops the follower's latest epoch, so the loop ends. */
leader_epoch_truncation_t leader_epoch_follower_truncation(const leader_epoch_cache_t *local,
                                                           int64_t log_end_offset, int64_t high_watermark,
                                                           leader_epoch_end_offset_t leader);

#endif
