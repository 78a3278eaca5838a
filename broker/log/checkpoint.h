/*
 * checkpoint — Kafka's checkpoint files (CheckpointFile.scala, 2.8): small
 * text files that a broker rewrites whole, atomically, and reads at start-up.
 *
 *   <version>\n            always 0 for the files Kafka 2.8 writes
 *   <number of entries>\n
 *   <entry>\n              repeated; fields separated by one space
 *
 * Two layers:
 *   - generic: checkpoint_write() (version, count, entry lines, replaced
 *     atomically with util/file.h's file_write_atomic) and checkpoint_read(),
 *     which splits each entry line on whitespace and hands the fields to a
 *     callback;
 *   - offset checkpoints (recovery-point-offset-checkpoint,
 *     replication-offset-checkpoint, log-start-offset-checkpoint,
 *     cleaner-offset-checkpoint): entries "<topic> <partition> <offset>",
 *     held in a checkpoint_offsets_t.
 *
 * Reading follows Kafka: a missing or empty file (or one holding only the
 * version line) has no entries; a wrong version, a malformed line or a count
 * that differs from the entries found is an error, never a partial result.
 * Samsa is stricter than Kafka in one way: numbers must be plain decimal
 * digits (Kafka never writes a sign, and a negative partition, offset or
 * epoch in one of these files can only be damage).
 *
 * Errors: functions return 0 on success and -1 with one line in err (which
 * may be NULL), naming the file and, for content errors, the line:
 *   /var/kafka/replication-offset-checkpoint:4: malformed entry 'orders x 5': partition is not a number
 * Nothing here keeps state between calls; callers serialise writes to the
 * same file (Kafka holds one lock per file).
 */
#ifndef SAMSA_CHECKPOINT_H
#define SAMSA_CHECKPOINT_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHECKPOINT_VERSION 0

#define CHECKPOINT_RECOVERY_POINT_FILE "recovery-point-offset-checkpoint"
#define CHECKPOINT_REPLICATION_FILE "replication-offset-checkpoint"
#define CHECKPOINT_LOG_START_FILE "log-start-offset-checkpoint"
#define CHECKPOINT_CLEANER_FILE "cleaner-offset-checkpoint"

/* Most fields an entry line may have for checkpoint_read(). */
#define CHECKPOINT_MAX_FIELDS 8

/* Larger files are refused as damaged (a checkpoint for 100k partitions is
 * a few MB). */
#define CHECKPOINT_MAX_FILE_SIZE (64u * 1024 * 1024)

/* --- generic layer --------------------------------------------------------- */

/* Appends "<version>\n<count>\n" to out: for a caller that builds the
 * whole file itself (leader_epoch_serialize). */
void checkpoint_format_header(buf_t *out, int version, size_t count);

/* Writes "<version>\n<count>\n" followed by body, which holds the count
 * entry lines, each ending in '\n' (the caller formats them). */
int checkpoint_write(const char *path, int version, size_t count, const char *body,
                     size_t body_len, char *err, size_t errlen);

/* Called once per entry line, in file order, with exactly the nfields
 * NUL-terminated fields given to checkpoint_read() (valid only during the
 * call). Returns 0, or -1 after writing the reason to err (without file and
 * line: the reader adds them, with the line's text). */
typedef int (*checkpoint_entry_fn)(void *ctx, char *const *fields, char *err, size_t errlen);

/* Reads path as a checkpoint of the given version whose entries have
 * nfields (1..CHECKPOINT_MAX_FIELDS) whitespace-separated fields. A missing
 * file is not an error: no entries, returns 0. Entries already passed to fn
 * before an error are the caller's to discard. */
int checkpoint_read(const char *path, int version, size_t nfields, checkpoint_entry_fn fn,
                    void *ctx, char *err, size_t errlen);

/* Parses a field as a non-negative decimal number no larger than max: digits
 * only, no sign, no spaces. Returns 0, or -1 with the reason in err (e.g.
 * "offset is not a number", "epoch is negative"); what names the field in
 * the message. */
int checkpoint_parse_number(const char *field, int64_t max, const char *what, int64_t *out,
                            char *err, size_t errlen);

/* --- many files at once ------------------------------------------------------
 * checkpoint_write costs two fsyncs per file (the file, its directory). A
 * caller replacing thousands of small files (the tick writing the
 * leader-epoch checkpoints a restart made dirty) takes the steps apart, so
 * that only the rename needs its lock:
 *   1. checkpoint_stage: writes "<path>.staged.tmp" (fsynced with sync);
 *   2. checkpoint_install: renames the staged file over path; or
 *      checkpoint_discard removes it;
 *   3. checkpoint_sync_parent_dir: the rename made durable.
 * Only install needs the caller's lock serialising writers of path: a
 * staged file has a name of its own, never file_write_atomic's ".tmp". One
 * left by a crash ends in ".tmp", which loading a log deletes. */
#define CHECKPOINT_STAGED_SUFFIX ".staged.tmp"

int checkpoint_stage(const char *path, const void *text, size_t len, bool sync, char *err, size_t errlen);
int checkpoint_install(const char *path, char *err, size_t errlen);
void checkpoint_discard(const char *path);
/* fsync of the folder holding path (a rename in it becomes durable). */
int checkpoint_sync_parent_dir(const char *path, char *err, size_t errlen);

/* --- offset checkpoints ------------------------------------------------------ */

typedef struct checkpoint_offset {
    char *topic;       /* owned by the checkpoint_offsets_t */
    int32_t partition;
    int64_t offset;
} checkpoint_offset_t;

/* A growable array of entries; the owner calls checkpoint_offsets_free(). */
typedef struct checkpoint_offsets {
    checkpoint_offset_t *entries;
    size_t count;
    size_t cap;
} checkpoint_offsets_t;

#define CHECKPOINT_OFFSETS_INIT {NULL, 0, 0}

void checkpoint_offsets_init(checkpoint_offsets_t *co);
/* Frees the entries and their topics; co is empty and reusable afterwards. */
void checkpoint_offsets_free(checkpoint_offsets_t *co);

/* Appends a copy of topic with partition and offset (no duplicate check). */
void checkpoint_offsets_add(checkpoint_offsets_t *co, const char *topic, int32_t partition,
                            int64_t offset);

/* The last entry for topic-partition (last, as Kafka's read-into-a-map keeps
 * the last of duplicate lines), or NULL. Linear: for lookups at start-up. */
const checkpoint_offset_t *checkpoint_offsets_find(const checkpoint_offsets_t *co,
                                                   const char *topic, int32_t partition);

/* Appends the entries of path to out (which the caller initialised and
 * frees), in file order. Each entry must have a valid topic name, a
 * partition in [0, INT32_MAX] and an offset >= 0. On an error out is left
 * as it was. */
int checkpoint_offsets_read(const char *path, checkpoint_offsets_t *out, char *err, size_t errlen);

/* Writes co's entries in array order, "<topic> <partition> <offset>". An
 * invalid topic name or a negative partition or offset is refused before
 * anything is written, as it could not be read back. */
int checkpoint_offsets_write(const char *path, const checkpoint_offsets_t *co, char *err,
                             size_t errlen);

#endif
