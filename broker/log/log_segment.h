/*
 * log_segment — one segment of a partition log: the .log file of record
 * batches and its two mmapped indexes, in Kafka 2.8's formats and with
 * LogSegment.scala's rules (reference: ../shared/reference/
 * storage-and-replication.md §1, §2, §5, §6).
 *
 *   <dir>/<20-digit base offset>.log        batches exactly as on the wire
 *   <dir>/<20-digit base offset>.index      index.h (offset index)
 *   <dir>/<20-digit base offset>.timeindex  index.h (time index)
 *
 * Writes: log_segment_append() is one pwrite() of the caller's bytes at the
 * end of the file (page cache only; log_segment_flush() fsyncs) plus, every
 * index.interval.bytes, an index entry stored into the mapped index files —
 * no other system call and no allocation. Kafka's entry rule: *before* the
 * append, if more than index_interval_bytes were appended since the last
 * entry, add (largest offset of this append -> position where it starts).
 *
 * Reads are answered as file ranges (fd, position, length) that the network
 * can sendfile(); the batches are also reachable through a read-only
 * MAP_SHARED mapping of the .log (log_segment_data()), which the read path
 * uses to walk batch headers. The mapping is made lazily on the first read;
 * for a segment being appended to it reserves segment_bytes of address space
 * at once so that growth rarely needs a new mapping. A superseded mapping is
 * kept until close, so pointers from log_segment_data() stay valid until the
 * segment is closed or deleted — but bytes removed by truncation must not be
 * read through them any more (the pages are gone: SIGBUS). sendfile() is
 * always safe.
 *
 * Robustness: log_segment_open() never trusts what it finds. A missing
 * index (with a non-empty .log), an index failing its sanity check, or an
 * offset index entry pointing past the end of the .log is reported by
 * log_segment_needs_recovery(); the partition log decides whether to call
 * log_segment_recover(). Every walk over the .log is bounds-checked, so even
 * an unrecovered segment gives wrong answers at worst, never a crash.
 *
 * Decisions (Kafka 2.8 where it decides):
 *   - time-based roll uses the max timestamp of the first append (or, for a
 *     loaded segment, of the first batch) like Kafka's rollingBasedTimestamp,
 *     falling back to the creation time (set at create/open, and reset when
 *     truncation empties the segment) when that timestamp is < 0;
 *   - when loading, a missing .timeindex with a non-empty .log needs recovery
 *     (Kafka 2.8 silently starts an empty one);
 *   - recovery trims both index files (as Kafka's recover does): the partition
 *     log calls log_segment_resize_indexes() on its active segment after
 *     loading, as Kafka does; truncate_to resizes them itself;
 *   - recovery also stops at a batch whose offsets go backwards or do not fit
 *     the segment (Kafka truncates the whole segment there); everything
 *     before it is kept;
 *   - log.preallocate is not supported (Kafka's default is off).
 *
 * Not thread-safe: the partition log serialises all calls on a segment.
 */
#ifndef SAMSA_LOG_SEGMENT_H
#define SAMSA_LOG_SEGMENT_H

#include "proto/kerr.h"
#include "log/index.h"
#include "log/record_batch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_SEGMENT_LOG_EXT ".log"
#define LOG_SEGMENT_INDEX_EXT ".index"
#define LOG_SEGMENT_TIME_INDEX_EXT ".timeindex"
#define LOG_SEGMENT_TXN_INDEX_EXT ".txnindex"
#define LOG_SEGMENT_DELETED_SUFFIX ".deleted"
#define LOG_SEGMENT_CLEANED_SUFFIX ".cleaned" /* the log cleaner's output being written */
#define LOG_SEGMENT_SWAP_SUFFIX ".swap"       /* a complete replacement, not yet in place */

/* Decompression bound when log_segment_find_offset_by_timestamp() has to
 * look at the records of a compressed batch. */
#define LOG_SEGMENT_MAX_DECOMPRESSED (256u * 1024 * 1024)

typedef struct log_segment log_segment_t;

typedef struct log_segment_config {
    uint32_t index_interval_bytes; /* index.interval.bytes (4096) */
    uint32_t max_index_bytes;      /* segment.index.bytes (10485760) */
    uint64_t segment_bytes;        /* segment.bytes: address space reserved for an
                                      active segment's read mapping; 0 = grow by doubling */
} log_segment_config_t;

/* "<dir>/<base offset as 20 digits><ext><suffix>" into out. Returns the
 * length, or -1 if it does not fit in cap. ext is LOG_SEGMENT_*_EXT; suffix
 * may be NULL ("" — or ".deleted", ".cleaned", ".swap"). */
int log_segment_filename(char *out, size_t cap, const char *dir, int64_t base_offset, const char *ext,
                         const char *suffix);

/* Parses a directory entry name "<digits><ext...>" into its base offset and
 * a pointer to the rest (".log", ".index.deleted", ...). Kafka's rule: the
 * offset is everything before the first '.'. Returns false if that is not a
 * non-negative 64-bit decimal number. */
bool log_segment_parse_filename(const char *name, int64_t *base_offset, const char **rest);

/* Creates a new, empty segment (Kafka's roll): stale files with the same
 * names are deleted first (with a warning, as Kafka does), indexes are
 * preallocated to max_index_bytes. suffix may be NULL. The segment is owned
 * by the caller until log_segment_close() or log_segment_delete(). */
kerr_t log_segment_create(const char *dir, int64_t base_offset, const log_segment_config_t *cfg,
                          const char *suffix, log_segment_t **out);

/* Opens an existing segment. The .log must exist; a missing index is
 * created. Indexes are loaded as Kafka loads them (entries = length / entry
 * size) and checked: see log_segment_needs_recovery(). Fails only on I/O
 * errors (KERR_KAFKA_STORAGE_ERROR, logged) or a .log above 2 GiB. */
kerr_t log_segment_open(const char *dir, int64_t base_offset, const log_segment_config_t *cfg,
                        const char *suffix, log_segment_t **out);

/* NULL when the indexes looked sane at open (or the segment was recovered
 * since), else why the segment needs log_segment_recover(). */
const char *log_segment_needs_recovery(const log_segment_t *seg);

/* Appends len bytes of whole batches (already offset-assigned) at the end.
 * largest_offset is the last offset in them, max_timestamp their largest
 * timestamp and offset_of_max_timestamp its offset. Errors:
 * KERR_UNKNOWN_SERVER_ERROR if largest_offset cannot be stored relative to
 * the base offset (the caller must roll first: log_segment_should_roll),
 * KERR_RECORD_LIST_TOO_LARGE if the segment would pass 2 GiB,
 * KERR_KAFKA_STORAGE_ERROR on a write error (the partial write is cut off
 * again). A full index only means no entry is added. */
kerr_t log_segment_append(log_segment_t *seg, const uint8_t *batches, size_t len, int64_t largest_offset,
                          int64_t max_timestamp, int64_t offset_of_max_timestamp);

/* Where a batch lies: its last offset, file position and size. */
typedef struct log_segment_position {
    int64_t offset;
    uint32_t position;
    uint32_t size;
} log_segment_position_t;

/* The first batch at or after starting_position (or the index's position
 * for offset, whichever is larger) whose last offset is >= offset.
 * KERR_OFFSET_OUT_OF_RANGE if there is none (Kafka's null),
 * KERR_CORRUPT_MESSAGE on malformed framing. */
kerr_t log_segment_translate_offset(log_segment_t *seg, int64_t offset, uint32_t starting_position,
                                    log_segment_position_t *out);

/* Kafka's LogOffsetMetadata. */
typedef struct log_segment_offset_metadata {
    int64_t message_offset;
    int64_t segment_base_offset;
    uint32_t relative_position;
} log_segment_offset_metadata_t;

/* The answer to a read: bytes [position, position + length) of fd. */
typedef struct log_segment_read {
    log_segment_offset_metadata_t offset_metadata; /* start_offset, base, position */
    int fd;
    uint32_t position;
    uint32_t length;
    bool first_entry_incomplete; /* max_size cut the first batch */
} log_segment_read_t;

/* Kafka's LogSegment.read: starts at the batch containing start_offset (the
 * first batch whose last offset is >= start_offset) and covers at most
 * max_size bytes (at least the first batch with min_one_message) and
 * nothing at or beyond max_position (pass UINT64_MAX for "the whole
 * segment"). The range may end inside a batch, as Kafka's does.
 * KERR_OFFSET_OUT_OF_RANGE if no batch holds start_offset or a later one. */
kerr_t log_segment_read(log_segment_t *seg, int64_t start_offset, uint32_t max_size, uint64_t max_position,
                        bool min_one_message, log_segment_read_t *out);

/* Pointer to bytes [position, position + length) of the .log through the
 * read mapping, or NULL if the range is not within the segment or cannot be
 * mapped. Lifetime: see the top of this file. */
const uint8_t *log_segment_data(log_segment_t *seg, uint32_t position, uint32_t length);

/* The answer to a timestamp search. */
typedef struct log_segment_timestamp_offset {
    bool found;
    int64_t timestamp;
    int64_t offset;
    int32_t leader_epoch; /* of the batch holding it */
} log_segment_timestamp_offset_t;

/* Kafka's findOffsetByTimestamp: the first record (in offset order) whose
 * timestamp is >= timestamp and whose offset is >= starting_offset, found
 * from the time index and then by walking the batches (records are decoded
 * only in batches whose max timestamp reaches the target). Not found:
 * KERR_NONE with found false. KERR_CORRUPT_MESSAGE on malformed data. */
kerr_t log_segment_find_offset_by_timestamp(log_segment_t *seg, int64_t timestamp, int64_t starting_offset,
                                            log_segment_timestamp_offset_t *out);

/* Called by recovery for every valid batch, in order, so that the partition
 * log can rebuild its leader-epoch cache and producer state. */
typedef void (*log_segment_batch_fn)(void *arg, const uint8_t *batch, const batch_header_t *header,
                                     uint32_t position);

/* Kafka's recover: resets both indexes, walks the batches from position 0
 * checking each with batch_check(max_message_size) and its offsets (within
 * the segment, increasing), rebuilds the index entries exactly as appends
 * of single batches would have made them, cuts the .log at the first
 * invalid or incomplete batch, then appends the final time index entry and
 * trims both indexes. *truncated (may be NULL) gets the bytes cut off. fn may
 * be NULL. Clears log_segment_needs_recovery(). */
kerr_t log_segment_recover(log_segment_t *seg, size_t max_message_size, log_segment_batch_fn fn, void *arg,
                           uint32_t *truncated);

/* Removes every batch holding an offset >= offset — a batch that straddles
 * offset goes entirely — and the index entries for them; resizes the indexes
 * to the maximum (the segment becomes the active one) and recomputes the max
 * timestamp. *truncated (may be NULL) gets the bytes removed.
 * KERR_CORRUPT_MESSAGE (nothing changed) on malformed framing. */
kerr_t log_segment_truncate_to(log_segment_t *seg, int64_t offset, uint32_t *truncated);

/* The offset after the last batch, found by walking from the last index
 * entry (base offset for an empty segment). Costs a walk of up to
 * index_interval_bytes; the partition log caches its end offset. */
kerr_t log_segment_next_offset(log_segment_t *seg, int64_t *out);

/* fsync of the .log, msync of both indexes. */
kerr_t log_segment_flush(log_segment_t *seg);

/* Descriptors a flush can fsync after the owner's lock is released (the
 * log's flush job): a dup of the .log's and the two index files opened by
 * path (fsync of the file covers what the mapping dirtied: Linux's
 * msync(MS_SYNC) is an fsync of the range). Every one stays valid if the
 * segment is rolled, deleted or closed meanwhile. */
#define LOG_SEGMENT_SYNC_FILES 3

/* Fills fds[0..LOG_SEGMENT_SYNC_FILES) with descriptors the caller owns
 * and closes; on an error none is left open. */
kerr_t log_segment_open_sync_files(const log_segment_t *seg, int fds[LOG_SEGMENT_SYNC_FILES]);

/* The segment stops being the active one (Kafka's onBecomeInactiveSegment):
 * final time index entry with the max timestamp, both indexes trimmed. */
kerr_t log_segment_on_roll(log_segment_t *seg);

/* Resizes both index files (to cfg max_index_bytes for the active segment
 * after loading). */
kerr_t log_segment_resize_indexes(log_segment_t *seg, size_t max_index_bytes);

/* Final time index entry, indexes trimmed, everything unmapped and closed;
 * frees seg (also when an error is returned). */
kerr_t log_segment_close(log_segment_t *seg);

/* Unmaps and closes, unlinks the .log, .index, .timeindex (and a .txnindex
 * if present) and frees seg. Missing files are not an error. */
kerr_t log_segment_delete(log_segment_t *seg);

/* Unlinks "<base>.log/.index/.timeindex/.txnindex" + suffix in dir, those
 * that exist (a segment not open, e.g. the cleaner's leftovers). */
void log_segment_unlink_files(const char *dir, int64_t base_offset, const char *suffix);

/* Renames the segment's files from the current suffix to suffix (e.g.
 * LOG_SEGMENT_DELETED_SUFFIX before an asynchronous delete). */
kerr_t log_segment_change_suffix(log_segment_t *seg, const char *suffix);

/* Records that the caller renamed the segment's directory (no file is
 * touched). */
void log_segment_set_dir(log_segment_t *seg, const char *dir);

/* What the partition log's roll check needs (Kafka's RollParams). */
typedef struct log_segment_roll_params {
    uint64_t max_segment_bytes;       /* segment.bytes */
    int64_t max_segment_ms;           /* segment.ms */
    int64_t roll_jitter_ms;           /* this segment's jitter */
    uint64_t messages_size;           /* bytes about to be appended */
    int64_t max_timestamp_in_messages;
    int64_t max_offset_in_messages;
    int64_t now_ms;
} log_segment_roll_params_t;

/* Kafka's shouldRoll: too big for the incoming bytes, waited too long
 * (non-empty only), an index full, or the incoming offsets do not fit. */
bool log_segment_should_roll(log_segment_t *seg, const log_segment_roll_params_t *p);

/* message_timestamp - first batch's max timestamp when that is >= 0, else
 * now - creation time. */
int64_t log_segment_time_waited_for_roll(log_segment_t *seg, int64_t now_ms, int64_t message_timestamp);

/* The first batch's max timestamp, INT64_MAX if unknown or < 0. */
int64_t log_segment_first_batch_timestamp(log_segment_t *seg);

int64_t log_segment_base_offset(const log_segment_t *seg);
uint32_t log_segment_size(const log_segment_t *seg);
int log_segment_fd(const log_segment_t *seg);
int64_t log_segment_created_ms(const log_segment_t *seg);

/* Largest timestamp appended/recovered so far and the offset carrying it;
 * -1 and the base offset before any timestamp >= 0. */
int64_t log_segment_max_timestamp(const log_segment_t *seg);
int64_t log_segment_offset_of_max_timestamp(const log_segment_t *seg);

/* For time retention: the max timestamp if >= 0, else the .log's mtime. */
int64_t log_segment_largest_timestamp(const log_segment_t *seg);

/* The .log's mtime in ms (0 if it cannot be read). */
int64_t log_segment_last_modified_ms(const log_segment_t *seg);

bool log_segment_can_convert_offset(const log_segment_t *seg, int64_t offset);
bool log_segment_indexes_full(const log_segment_t *seg);

const offset_index_t *log_segment_offset_index(const log_segment_t *seg);
const time_index_t *log_segment_time_index(const log_segment_t *seg);

#endif
