/*
 * index — a segment's two sparse indexes, in Kafka 2.8's formats
 * (AbstractIndex.scala, OffsetIndex.scala, TimeIndex.scala; reference:
 * ../shared/reference/storage-and-replication.md §2.2, §2.3).
 *
 * Both are Kafka's AbstractIndex: a file of fixed-size big-endian entries,
 * preallocated to the maximum index size rounded down to a multiple of the
 * entry size and memory-mapped read/write; the number of valid entries
 * lives in memory. When loading an existing file Kafka assumes every byte
 * is an entry (entries = length / entry size): that is why indexes are
 * trimmed to entries × entry size on roll and on close, and why the
 * partition log resizes the active segment's index back to the maximum
 * after loading it. That life cycle is index_file_t, written once; the two
 * kinds only add their entry layout, lookup and append rule.
 *
 * <base offset>.index: 8-byte entries, offsets strictly increasing
 *
 *   int32 relativeOffset   (offset - segment base offset)
 *   int32 position         (byte position of a batch start in the .log)
 *
 * <base offset>.timeindex: 12-byte entries
 *
 *   int64 timestamp        the largest timestamp seen in the segment so far
 *   int32 relativeOffset   the offset carrying it, minus the base offset
 *
 * A time entry is appended only when its timestamp is greater than the last
 * entry's (timestamps strictly increase, offsets never decrease); with no
 * entries the "last entry" is (-1, base offset), so a timestamp must be >= 0
 * to be indexed at all. The time index counts as full one entry early
 * (max - 1) to keep a slot for the entry written when the segment is rolled
 * or closed (time_index_maybe_append with skip_full_check).
 *
 * Indexes are never checksummed: when a sanity check fails the caller
 * rebuilds them from the .log (log_segment_recover()). The "last entry" is
 * read from the mapping rather than cached, so nothing has to be reloaded
 * when the file is resized or truncated.
 *
 * Not thread-safe: the owning segment serialises all calls.
 */
#ifndef SAMSA_INDEX_H
#define SAMSA_INDEX_H

#include "proto/kerr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OFFSET_INDEX_ENTRY_SIZE 8
#define TIME_INDEX_ENTRY_SIZE 12
#define TIME_INDEX_NO_TIMESTAMP (-1) /* RecordBatch.NO_TIMESTAMP */

/* --- the mmap'd file of fixed-size entries both kinds stand on ------------- */

/* Mapped MAP_SHARED read/write over the whole file length (data is NULL when
 * the length is 0). No file descriptor is kept: resize and delete go through
 * the path, as Kafka's RandomAccessFile-per-operation does. */
typedef struct index_file {
    char *path;              /* owned; NULL once closed */
    uint8_t *data;           /* the mapping, len bytes */
    size_t len;              /* file length == mapping length */
    uint32_t entry_size;     /* 8 or 12 */
    uint32_t rel_offset_at;  /* byte position of the int32 relative offset in an entry */
    int64_t base_offset;
    uint32_t entries;        /* valid entries */
    uint32_t max_entries;    /* len / entry_size */
    size_t max_index_bytes;  /* segment.index.bytes: what reset and resize-to-max use */
} index_file_t;

/* Opens path, creating it preallocated (sparse) to max_index_bytes rounded
 * down to a multiple of entry_size when absent; *created (may be NULL) tells
 * which happened. An existing file is loaded as Kafka does: entries =
 * length / entry_size, whatever its contents; run the kind's sanity check
 * before trusting it. Returns KERR_NONE or KERR_KAFKA_STORAGE_ERROR (logged
 * with the path). */
kerr_t index_file_open(index_file_t *f, const char *path, uint32_t entry_size, uint32_t rel_offset_at,
                       int64_t base_offset, size_t max_index_bytes, bool *created);

/* Sets the file length to new_bytes rounded down to a multiple of the entry
 * size and maps it again; entries beyond the new size are dropped. Pointers
 * into the old mapping become invalid. */
kerr_t index_file_resize(index_file_t *f, size_t new_bytes);

/* Removes all entries and resizes the file to the maximum (recovery). */
kerr_t index_file_reset(index_file_t *f);

/* Truncates the file to entries × entry size (roll, close). */
kerr_t index_file_trim_to_valid_size(index_file_t *f);

/* Removes every entry whose offset is >= offset (Kafka's three cases: no
 * entry at or below it → none left; an entry exactly at it → those before
 * it; else up to and including the floor entry). */
void index_file_truncate_to(index_file_t *f, int64_t offset);

/* msync(MS_SYNC) of the mapping. */
kerr_t index_file_flush(index_file_t *f);

/* Points the index at new_path after the caller renamed the file (or
 * renames it itself when do_rename is true; a missing file is not an
 * error). */
kerr_t index_file_rename(index_file_t *f, const char *new_path, bool do_rename);

/* Trims to the valid size, unmaps and frees; the file stays. */
kerr_t index_file_close(index_file_t *f);

/* Unmaps and frees without trimming (what a crash leaves; freeing after a
 * failed open). Safe on a closed or zeroed index. */
void index_file_release(index_file_t *f);

/* Unmaps, frees and unlinks the file (a missing file is not an error). */
kerr_t index_file_delete(index_file_t *f);

/* Whether offset can be stored relative to the base offset. */
static inline bool index_file_can_append_offset(const index_file_t *f, int64_t offset) {
    return offset >= f->base_offset && offset - f->base_offset <= INT32_MAX;
}

/* --- the offset index ------------------------------------------------------- */

typedef struct offset_index {
    index_file_t file;
} offset_index_t;

/* An offset and the file position of the batch holding it. */
typedef struct offset_position {
    int64_t offset;
    uint32_t position;
} offset_position_t;

/* index_file_open with the offset index's layout. */
kerr_t offset_index_open(offset_index_t *idx, const char *path, int64_t base_offset, size_t max_index_bytes,
                         bool *created);

/* A read-only offset index over len bytes the caller has mapped (and keeps
 * owning), loaded as offset_index_open loads a file, so that a tool can run
 * the broker's sanity check without opening the file read/write. Only the
 * lookups, entry accessors and sanity check may be used on it; it needs no
 * close. */
void offset_index_view(offset_index_t *idx, const uint8_t *data, size_t len, int64_t base_offset);

/* Kafka's load-time check plus a cheap one of samsa's: the length is a
 * multiple of 8; the last entry's offset is >= the base offset; the last two
 * entries increase strictly in offset and position (a zero-filled tail left by
 * a crash before the trim fails this). Whether the positions fit the .log is
 * the segment's check. Returns NULL when sane, else a static reason. */
const char *offset_index_sanity_check(const offset_index_t *idx);

/* Adds (offset, position) if the index is not full, offset - base fits in an
 * int32 (>= 0) and offset is greater than the last entry's. Returns whether
 * the entry was added; a refused entry changes nothing. */
bool offset_index_append(offset_index_t *idx, int64_t offset, uint32_t position);

/* The entry with the greatest offset <= target; (base offset, 0) when there is
 * none (empty index, or target below the first entry). Binary search. */
offset_position_t offset_index_lookup(const offset_index_t *idx, int64_t target);

/* Entry n (n < entries). */
offset_position_t offset_index_entry(const offset_index_t *idx, uint32_t n);

/* The last entry's offset, the base offset when empty. */
int64_t offset_index_last_offset(const offset_index_t *idx);

static inline bool offset_index_full(const offset_index_t *idx) {
    return idx->file.entries >= idx->file.max_entries;
}

/* --- the time index --------------------------------------------------------- */

typedef struct time_index {
    index_file_t file;
} time_index_t;

/* A timestamp and the offset carrying it. */
typedef struct timestamp_offset {
    int64_t timestamp;
    int64_t offset;
} timestamp_offset_t;

/* index_file_open with the time index's layout. */
kerr_t time_index_open(time_index_t *idx, const char *path, int64_t base_offset, size_t max_index_bytes,
                       bool *created);

/* offset_index_view for a time index. */
void time_index_view(time_index_t *idx, const uint8_t *data, size_t len, int64_t base_offset);

/* Kafka's checks (length a multiple of 12; last timestamp >= first; last
 * offset >= base) plus samsa's: the last two entries increase strictly in
 * timestamp and do not decrease in offset (catches a zero-filled tail).
 * NULL when sane, else a static reason. */
const char *time_index_sanity_check(const time_index_t *idx);

/* Appends (timestamp, offset) when timestamp > the last entry's timestamp.
 * Returns 1 when appended, 0 when not needed (timestamp not greater), -1 when
 * refused: index full (unless skip_full_check, which still never writes past
 * the file), offset not representable, or — with entries present — offset or
 * timestamp going backwards (Kafka throws there). */
int time_index_maybe_append(time_index_t *idx, int64_t timestamp, int64_t offset, bool skip_full_check);

/* The entry with the greatest timestamp <= target, or (-1, base offset). */
timestamp_offset_t time_index_lookup(const time_index_t *idx, int64_t target);

/* Entry n (n < entries). */
timestamp_offset_t time_index_entry(const time_index_t *idx, uint32_t n);

/* The last entry, (-1, base offset) when empty. */
timestamp_offset_t time_index_last_entry(const time_index_t *idx);

static inline bool time_index_full(const time_index_t *idx) {
    return (int64_t)idx->file.entries >= (int64_t)idx->file.max_entries - 1;
}

#endif
