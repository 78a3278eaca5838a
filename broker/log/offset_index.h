/*
 * offset_index — a segment's sparse offset index (<base offset>.index), in
 * Kafka 2.8's format (OffsetIndex.scala / AbstractIndex.scala; reference:
 * ../shared/reference/storage-and-replication.md §2.2).
 *
 * The file is an array of 8-byte big-endian entries
 *
 *   int32 relativeOffset   (offset - segment base offset)
 *   int32 position         (byte position of a batch start in the .log)
 *
 * with offsets strictly increasing. A new index file is preallocated to the
 * maximum index size rounded down to a multiple of 8 and memory-mapped
 * read/write; the number of valid entries lives in memory. When loading an
 * existing file Kafka assumes every byte is an entry (entries = length / 8):
 * that is why indexes are trimmed to entries × 8 on roll and on close, and
 * why the partition log resizes the active segment's index back to the
 * maximum after loading it.
 *
 * The index is never checksummed: when offset_index_sanity_check() fails the
 * caller rebuilds it from the .log (log_segment_recover()).
 *
 * The file plumbing (create/preallocate, map, resize, flush, delete) is the
 * offset_index_mmap_* layer, which time_index.c shares: the two are Kafka's
 * AbstractIndex with different entry sizes.
 *
 * Not thread-safe: the owning segment serialises all calls.
 */
#ifndef SAMSA_OFFSET_INDEX_H
#define SAMSA_OFFSET_INDEX_H

#include "proto/kerr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OFFSET_INDEX_ENTRY_SIZE 8

/* --- the mapped file both index kinds stand on ----------------------------- */

/* A file mapped MAP_SHARED read/write over its whole length (data is NULL
 * when the length is 0). No file descriptor is kept: resize and delete go
 * through the path, as Kafka's RandomAccessFile-per-operation does. */
typedef struct offset_index_mmap {
    char *path;    /* owned */
    uint8_t *data; /* the mapping, len bytes */
    size_t len;    /* file length == mapping length */
} offset_index_mmap_t;

/* Opens path, creating it with length create_len (a sparse preallocation)
 * when absent; *created tells which happened. Maps the whole file.
 * Returns KERR_NONE or KERR_KAFKA_STORAGE_ERROR (logged with the path). */
kerr_t offset_index_mmap_open(offset_index_mmap_t *m, const char *path, size_t create_len, bool *created);

/* Sets the file length to len and maps it again (bytes below both lengths
 * are kept). Pointers into the old mapping become invalid. */
kerr_t offset_index_mmap_resize(offset_index_mmap_t *m, size_t len);

/* msync(MS_SYNC) of the mapping. */
kerr_t offset_index_mmap_flush(offset_index_mmap_t *m);

/* Points the mapping at a new path after the caller renamed the file (or
 * renames it itself when do_rename is true). */
kerr_t offset_index_mmap_rename(offset_index_mmap_t *m, const char *new_path, bool do_rename);

/* Unmaps and frees; the file stays. */
void offset_index_mmap_close(offset_index_mmap_t *m);

/* Unmaps, frees and unlinks the file (a missing file is not an error). */
kerr_t offset_index_mmap_delete(offset_index_mmap_t *m);

/* --- the offset index ------------------------------------------------------- */

/* How many entries survive a truncation to an offset, for both index kinds
 * (Kafka's three cases): no entry at or below it → none; an entry exactly at
 * it → those before that entry; else up to and including the floor entry. */
static inline uint32_t offset_index_kept_on_truncate(int64_t floor_slot, bool floor_is_exact) {
    return floor_slot < 0 ? 0 : (uint32_t)floor_slot + (floor_is_exact ? 0u : 1u);
}

typedef struct offset_index {
    offset_index_mmap_t file;
    int64_t base_offset;
    uint32_t entries;     /* valid entries */
    uint32_t max_entries; /* file length / 8 */
    size_t max_index_bytes; /* segment.index.bytes: what resize-to-max and reset use */
    int64_t last_offset;  /* offset of the last entry, base_offset when empty */
} offset_index_t;

/* An offset and the file position of the batch holding it. */
typedef struct offset_position {
    int64_t offset;
    uint32_t position;
} offset_position_t;

/* Opens path (creating it preallocated to max_index_bytes rounded down to a
 * multiple of 8 if absent). An existing file is loaded as Kafka does:
 * entries = max entries = length / 8, whatever its contents; call
 * offset_index_sanity_check() before trusting it. *created may be NULL. */
kerr_t offset_index_open(offset_index_t *idx, const char *path, int64_t base_offset, size_t max_index_bytes,
                         bool *created);

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

/* Removes every entry with offset >= offset. */
void offset_index_truncate_to(offset_index_t *idx, int64_t offset);

/* Removes all entries and resizes the file to the maximum (recovery). */
kerr_t offset_index_reset(offset_index_t *idx);

/* Sets the file length to new_bytes rounded down to a multiple of 8 (entries
 * beyond the new size are dropped). Used with max_index_bytes to reopen the
 * active segment's index for appends. */
kerr_t offset_index_resize(offset_index_t *idx, size_t new_bytes);

/* Truncates the file to entries × 8 (roll, close). */
kerr_t offset_index_trim_to_valid_size(offset_index_t *idx);

static inline bool offset_index_full(const offset_index_t *idx) { return idx->entries >= idx->max_entries; }

/* Whether offset can be stored relative to the base offset. */
static inline bool offset_index_can_append_offset(const offset_index_t *idx, int64_t offset) {
    return offset >= idx->base_offset && offset - idx->base_offset <= INT32_MAX;
}

kerr_t offset_index_flush(offset_index_t *idx);

/* Trims to the valid size and unmaps; the file stays. */
kerr_t offset_index_close(offset_index_t *idx);

/* Unmaps and unlinks the file. */
kerr_t offset_index_delete(offset_index_t *idx);

#endif
