/*
 * time_index — a segment's sparse time index (<base offset>.timeindex), in
 * Kafka 2.8's format (TimeIndex.scala; reference:
 * ../shared/reference/storage-and-replication.md §2.3).
 *
 * The file is an array of 12-byte big-endian entries
 *
 *   int64 timestamp        the largest timestamp seen in the segment so far
 *   int32 relativeOffset   the offset carrying it, minus the base offset
 *
 * An entry is appended only when its timestamp is greater than the last
 * entry's (so timestamps strictly increase, offsets never decrease); with no
 * entries the "last entry" is (-1, base offset), so a timestamp must be >= 0
 * to be indexed at all. The index counts as full one entry early (max - 1)
 * to keep a slot for the entry written when the segment is rolled or closed
 * (time_index_maybe_append with skip_full_check).
 *
 * Same life cycle as offset_index (preallocated, mmapped through the shared
 * offset_index_mmap_* layer, entries = length / 12 when loading, trimmed on
 * roll and close). Not thread-safe.
 */
#ifndef SAMSA_TIME_INDEX_H
#define SAMSA_TIME_INDEX_H

#include "log/offset_index.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIME_INDEX_ENTRY_SIZE 12
#define TIME_INDEX_NO_TIMESTAMP (-1) /* RecordBatch.NO_TIMESTAMP */

typedef struct time_index {
    offset_index_mmap_t file;
    int64_t base_offset;
    uint32_t entries;
    uint32_t max_entries;   /* file length / 12 */
    size_t max_index_bytes; /* what resize-to-max and reset use */
    int64_t last_timestamp; /* of the last entry; -1 when empty */
    int64_t last_offset;    /* of the last entry; base offset when empty */
} time_index_t;

/* A timestamp and the offset carrying it. */
typedef struct timestamp_offset {
    int64_t timestamp;
    int64_t offset;
} timestamp_offset_t;

/* Opens path (created preallocated to max_index_bytes rounded down to a
 * multiple of 12 when absent); an existing file is loaded with entries =
 * length / 12. *created may be NULL. */
kerr_t time_index_open(time_index_t *idx, const char *path, int64_t base_offset, size_t max_index_bytes,
                       bool *created);

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
static inline timestamp_offset_t time_index_last_entry(const time_index_t *idx) {
    timestamp_offset_t r = {idx->last_timestamp, idx->last_offset};
    return r;
}

/* Removes every entry whose offset is >= offset. */
void time_index_truncate_to(time_index_t *idx, int64_t offset);

kerr_t time_index_reset(time_index_t *idx);
kerr_t time_index_resize(time_index_t *idx, size_t new_bytes);
kerr_t time_index_trim_to_valid_size(time_index_t *idx);

static inline bool time_index_full(const time_index_t *idx) {
    return (int64_t)idx->entries >= (int64_t)idx->max_entries - 1;
}

kerr_t time_index_flush(time_index_t *idx);
kerr_t time_index_close(time_index_t *idx);
kerr_t time_index_delete(time_index_t *idx);

#endif
