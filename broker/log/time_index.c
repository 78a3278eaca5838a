#include "log/time_index.h"

#include "util/endian.h"

#include <string.h>

static int64_t ts_at(const time_index_t *idx, uint32_t n) {
    return (int64_t)be64_load(idx->file.data + (size_t)n * TIME_INDEX_ENTRY_SIZE);
}

static int32_t rel_at(const time_index_t *idx, uint32_t n) {
    return (int32_t)be32_load(idx->file.data + (size_t)n * TIME_INDEX_ENTRY_SIZE + 8);
}

/* Recomputes what derives from the file length and the entry count. */
static void time_index_reload(time_index_t *idx) {
    idx->max_entries = (uint32_t)(idx->file.len / TIME_INDEX_ENTRY_SIZE);
    if (idx->entries > idx->max_entries)
        idx->entries = idx->max_entries;
    if (idx->entries == 0) {
        idx->last_timestamp = TIME_INDEX_NO_TIMESTAMP;
        idx->last_offset = idx->base_offset;
    } else {
        idx->last_timestamp = ts_at(idx, idx->entries - 1);
        idx->last_offset = idx->base_offset + rel_at(idx, idx->entries - 1);
    }
}

kerr_t time_index_open(time_index_t *idx, const char *path, int64_t base_offset, size_t max_index_bytes,
                       bool *created) {
    memset(idx, 0, sizeof *idx);
    idx->base_offset = base_offset;
    idx->max_index_bytes = max_index_bytes;
    bool fresh = false;
    size_t create_len = max_index_bytes / TIME_INDEX_ENTRY_SIZE * TIME_INDEX_ENTRY_SIZE;
    kerr_t err = offset_index_mmap_open(&idx->file, path, create_len, &fresh);
    if (err != KERR_NONE)
        return err;
    idx->entries = fresh ? 0 : (uint32_t)(idx->file.len / TIME_INDEX_ENTRY_SIZE);
    time_index_reload(idx);
    if (created)
        *created = fresh;
    return KERR_NONE;
}

const char *time_index_sanity_check(const time_index_t *idx) {
    if (idx->file.len % TIME_INDEX_ENTRY_SIZE != 0)
        return "time index length is not a multiple of 12";
    uint32_t n = idx->entries;
    if (n == 0)
        return NULL;
    if (idx->last_timestamp < ts_at(idx, 0))
        return "time index: last timestamp is below the first";
    if (idx->last_offset < idx->base_offset)
        return "time index: last offset is below the base offset";
    if (n >= 2 && (ts_at(idx, n - 1) <= ts_at(idx, n - 2) || rel_at(idx, n - 1) < rel_at(idx, n - 2)))
        return "time index: last entries do not increase";
    return NULL;
}

/* Kafka's maybeAppend, with its exceptions turned into -1. An equal offset
 * with an equal timestamp is the normal "same entry again" case at roll and
 * close, hence 0 rather than -1. */
int time_index_maybe_append(time_index_t *idx, int64_t timestamp, int64_t offset, bool skip_full_check) {
    if (!skip_full_check && time_index_full(idx))
        return -1;
    if (idx->entries != 0 && (offset < idx->last_offset || timestamp < idx->last_timestamp))
        return -1;
    if (timestamp <= idx->last_timestamp)
        return 0;
    if (idx->entries >= idx->max_entries || offset < idx->base_offset || offset - idx->base_offset > INT32_MAX)
        return -1;
    uint8_t *p = idx->file.data + (size_t)idx->entries * TIME_INDEX_ENTRY_SIZE;
    be64_store(p, (uint64_t)timestamp);
    be32_store(p + 8, (uint32_t)(offset - idx->base_offset));
    idx->entries++;
    idx->last_timestamp = timestamp;
    idx->last_offset = offset;
    return 1;
}

/* The largest slot whose key is <= key, where the key is the timestamp
 * (by_offset false) or the relative offset; -1 if none. Terminates on any
 * contents (see offset_index_floor_slot). */
static int64_t time_index_floor_slot(const time_index_t *idx, int64_t key, bool by_offset) {
    if (idx->entries == 0)
        return -1;
    if ((by_offset ? rel_at(idx, 0) : ts_at(idx, 0)) > key)
        return -1;
    uint32_t lo = 0, hi = idx->entries - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if ((by_offset ? rel_at(idx, mid) : ts_at(idx, mid)) <= key)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

timestamp_offset_t time_index_lookup(const time_index_t *idx, int64_t target) {
    timestamp_offset_t r = {TIME_INDEX_NO_TIMESTAMP, idx->base_offset};
    int64_t slot = time_index_floor_slot(idx, target, false);
    if (slot >= 0)
        r = time_index_entry(idx, (uint32_t)slot);
    return r;
}

timestamp_offset_t time_index_entry(const time_index_t *idx, uint32_t n) {
    timestamp_offset_t r = {ts_at(idx, n), idx->base_offset + rel_at(idx, n)};
    return r;
}

/* Searching by offset; the cases are offset_index_kept_on_truncate's. */
void time_index_truncate_to(time_index_t *idx, int64_t offset) {
    int64_t rel = offset < idx->base_offset ? INT64_MIN : offset - idx->base_offset;
    int64_t slot = time_index_floor_slot(idx, rel, true);
    idx->entries = offset_index_kept_on_truncate(slot, slot >= 0 && rel_at(idx, (uint32_t)slot) == rel);
    time_index_reload(idx);
}

kerr_t time_index_reset(time_index_t *idx) {
    idx->entries = 0;
    time_index_reload(idx);
    return time_index_resize(idx, idx->max_index_bytes);
}

kerr_t time_index_resize(time_index_t *idx, size_t new_bytes) {
    size_t len = new_bytes / TIME_INDEX_ENTRY_SIZE * TIME_INDEX_ENTRY_SIZE;
    kerr_t err = offset_index_mmap_resize(&idx->file, len);
    time_index_reload(idx);
    return err;
}

kerr_t time_index_trim_to_valid_size(time_index_t *idx) {
    return time_index_resize(idx, (size_t)idx->entries * TIME_INDEX_ENTRY_SIZE);
}

kerr_t time_index_flush(time_index_t *idx) { return offset_index_mmap_flush(&idx->file); }

kerr_t time_index_close(time_index_t *idx) {
    kerr_t err = KERR_NONE;
    if (idx->file.path)
        err = time_index_trim_to_valid_size(idx);
    offset_index_mmap_close(&idx->file);
    idx->entries = idx->max_entries = 0;
    return err;
}

kerr_t time_index_delete(time_index_t *idx) {
    kerr_t err = offset_index_mmap_delete(&idx->file);
    idx->entries = idx->max_entries = 0;
    return err;
}
