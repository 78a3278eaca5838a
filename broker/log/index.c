#include "log/index.h"

#include "util/endian.h"
#include "util/logger.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- the mapped file ------------------------------------------------------ */

static kerr_t index_io_fail(const char *what, const char *path) {
    log_warn("index", "%s %s: %s", what, path, strerror(errno));
    return KERR_KAFKA_STORAGE_ERROR;
}

/* Maps len bytes of fd (nothing for an empty file: mmap refuses length 0). */
static kerr_t index_map(index_file_t *f, int fd, size_t len) {
    f->data = NULL;
    f->len = len;
    if (len == 0)
        return KERR_NONE;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        f->len = 0;
        return index_io_fail("cannot map", f->path);
    }
    /* Index pages are touched one at a time, mostly in the middle of a
     * preallocated, sparse file: readahead would fault in (and zero) large
     * runs of pages that hold nothing, which made opening and appending to
     * many partitions slow. */
    madvise(p, len, MADV_RANDOM);
    f->data = p;
    return KERR_NONE;
}

static void index_unmap(index_file_t *f) {
    if (f->data)
        munmap(f->data, f->len);
    f->data = NULL;
    f->len = 0;
}

/* Recomputes what derives from the file length after it changed. */
static void index_fit_entries(index_file_t *f) {
    f->max_entries = (uint32_t)(f->len / f->entry_size);
    if (f->entries > f->max_entries)
        f->entries = f->max_entries;
}

static size_t index_round_down(const index_file_t *f, size_t bytes) {
    return bytes / f->entry_size * f->entry_size;
}

/* Opens (or creates and preallocates) f->path and maps the whole file;
 * *fresh tells whether it was created. */
static kerr_t index_open_map(index_file_t *f, size_t create_len, bool *fresh) {
    /* The existing file first: at start-up every index exists, and this
     * order opens it once instead of failing an exclusive create first. */
    *fresh = false;
    int fd = open(f->path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        *fresh = true;
        fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0)
        return index_io_fail("cannot open", f->path);
    kerr_t err = KERR_NONE;
    struct stat st;
    if (*fresh && ftruncate(fd, (off_t)create_len) != 0)
        err = index_io_fail("cannot preallocate", f->path);
    else if (fstat(fd, &st) != 0)
        err = index_io_fail("cannot stat", f->path);
    else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > INT32_MAX) {
        log_warn("index", "%s is not a regular file below 2 GiB", f->path);
        err = KERR_KAFKA_STORAGE_ERROR;
    } else
        err = index_map(f, fd, (size_t)st.st_size);
    close(fd);
    return err;
}

kerr_t index_file_open(index_file_t *f, const char *path, uint32_t entry_size, uint32_t rel_offset_at,
                       int64_t base_offset, size_t max_index_bytes, bool *created) {
    memset(f, 0, sizeof *f);
    f->path = mem_strdup(path);
    f->entry_size = entry_size;
    f->rel_offset_at = rel_offset_at;
    f->base_offset = base_offset;
    f->max_index_bytes = max_index_bytes;
    bool fresh = false;
    kerr_t err = index_open_map(f, index_round_down(f, max_index_bytes), &fresh);
    if (err != KERR_NONE) {
        index_file_release(f);
        return err;
    }
    /* Kafka: a loaded file is all entries; a new one has none. */
    f->entries = fresh ? 0 : UINT32_MAX;
    index_fit_entries(f);
    if (created)
        *created = fresh;
    return KERR_NONE;
}

/* A read-only index over memory the caller mapped, loaded as
 * index_file_open loads a file. */
static void index_file_view(index_file_t *f, const uint8_t *data, size_t len, uint32_t entry_size, uint32_t rel_offset_at,
                     int64_t base_offset) {
    memset(f, 0, sizeof *f);
    f->data = (uint8_t *)data; /* never written through: only readers may be called on a view */
    f->len = len;
    f->entry_size = entry_size;
    f->rel_offset_at = rel_offset_at;
    f->base_offset = base_offset;
    f->entries = UINT32_MAX;
    index_fit_entries(f);
}

kerr_t index_file_resize(index_file_t *f, size_t new_bytes) {
    size_t len = index_round_down(f, new_bytes);
    if (len == f->len && (len == 0 || f->data))
        return KERR_NONE;
    int fd = open(f->path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return index_io_fail("cannot open", f->path);
    index_unmap(f);
    kerr_t err = KERR_NONE;
    if (ftruncate(fd, (off_t)len) != 0) {
        err = index_io_fail("cannot resize", f->path);
        struct stat st; /* keep whatever length the file has mapped */
        if (fstat(fd, &st) == 0)
            (void)index_map(f, fd, (size_t)st.st_size);
    } else
        err = index_map(f, fd, len);
    close(fd);
    index_fit_entries(f);
    return err;
}

kerr_t index_file_reset(index_file_t *f) {
    f->entries = 0;
    return index_file_resize(f, f->max_index_bytes);
}

kerr_t index_file_trim_to_valid_size(index_file_t *f) {
    return index_file_resize(f, (size_t)f->entries * f->entry_size);
}

kerr_t index_file_flush(index_file_t *f) {
    if (f->data && msync(f->data, f->len, MS_SYNC) != 0)
        return index_io_fail("cannot msync", f->path);
    return KERR_NONE;
}

kerr_t index_file_rename(index_file_t *f, const char *new_path, bool do_rename) {
    if (do_rename && rename(f->path, new_path) != 0 && errno != ENOENT)
        return index_io_fail("cannot rename", f->path);
    free(f->path);
    f->path = mem_strdup(new_path);
    return KERR_NONE;
}

void index_file_release(index_file_t *f) {
    index_unmap(f);
    free(f->path);
    f->path = NULL;
    f->entries = f->max_entries = 0;
}

kerr_t index_file_close(index_file_t *f) {
    kerr_t err = KERR_NONE;
    if (f->path)
        err = index_file_trim_to_valid_size(f);
    index_file_release(f);
    return err;
}

kerr_t index_file_delete(index_file_t *f) {
    kerr_t err = KERR_NONE;
    index_unmap(f);
    if (f->path && unlink(f->path) != 0 && errno != ENOENT)
        err = index_io_fail("cannot delete", f->path);
    index_file_release(f);
    return err;
}

/* --- entries and search --------------------------------------------------- */

static const uint8_t *index_entry_at(const index_file_t *f, uint32_t n) {
    return f->data + (size_t)n * f->entry_size;
}

static int32_t index_rel_offset(const index_file_t *f, uint32_t n) {
    return (int32_t)be32_load(index_entry_at(f, n) + f->rel_offset_at);
}

/* Which field of an entry a search compares: the int32 relative offset or
 * the time index's int64 timestamp (at byte 0). */
typedef enum { INDEX_KEY_REL_OFFSET, INDEX_KEY_TIMESTAMP } index_key_t;

static int64_t index_key_at(const index_file_t *f, uint32_t n, index_key_t key) {
    return key == INDEX_KEY_TIMESTAMP ? (int64_t)be64_load(index_entry_at(f, n)) : index_rel_offset(f, n);
}

/* The largest slot whose key is <= value, or -1. Plain binary search (Kafka
 * adds a "warm section" preference that only changes which pages are
 * touched, not the answer). Terminates on any contents, so a corrupt index
 * gives a wrong slot, never an out-of-bounds read. */
static int64_t index_floor_slot(const index_file_t *f, index_key_t key, int64_t value) {
    if (f->entries == 0 || index_key_at(f, 0, key) > value)
        return -1;
    uint32_t lo = 0, hi = f->entries - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (index_key_at(f, mid, key) <= value)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* An absolute offset in the relative key space, as an int64 so that targets
 * outside the segment compare correctly (below the base: below every entry). */
static int64_t index_rel_key(const index_file_t *f, int64_t offset) {
    return offset < f->base_offset ? INT64_MIN : offset - f->base_offset;
}

void index_file_truncate_to(index_file_t *f, int64_t offset) {
    int64_t rel = index_rel_key(f, offset);
    int64_t slot = index_floor_slot(f, INDEX_KEY_REL_OFFSET, rel);
    bool exact = slot >= 0 && index_rel_offset(f, (uint32_t)slot) == rel;
    f->entries = slot < 0 ? 0 : (uint32_t)slot + (exact ? 0u : 1u);
}

/* The last entry's offset, the base offset when empty. */
static int64_t index_last_offset(const index_file_t *f) {
    return f->entries ? f->base_offset + index_rel_offset(f, f->entries - 1) : f->base_offset;
}

/* --- the offset index ----------------------------------------------------- */

static uint32_t offset_index_position_at(const offset_index_t *idx, uint32_t n) {
    return be32_load(index_entry_at(&idx->file, n) + 4);
}

kerr_t offset_index_open(offset_index_t *idx, const char *path, int64_t base_offset, size_t max_index_bytes,
                         bool *created) {
    return index_file_open(&idx->file, path, OFFSET_INDEX_ENTRY_SIZE, 0, base_offset, max_index_bytes, created);
}

void offset_index_view(offset_index_t *idx, const uint8_t *data, size_t len, int64_t base_offset) {
    index_file_view(&idx->file, data, len, OFFSET_INDEX_ENTRY_SIZE, 0, base_offset);
}

const char *offset_index_sanity_check(const offset_index_t *idx) {
    const index_file_t *f = &idx->file;
    if (f->len % OFFSET_INDEX_ENTRY_SIZE != 0)
        return "offset index length is not a multiple of 8";
    uint32_t n = f->entries;
    if (n == 0)
        return NULL;
    if (index_rel_offset(f, n - 1) < 0)
        return "offset index: last offset is below the base offset";
    if (n >= 2 && (index_rel_offset(f, n - 1) <= index_rel_offset(f, n - 2) ||
                   offset_index_position_at(idx, n - 1) <= offset_index_position_at(idx, n - 2)))
        return "offset index: last entries do not increase";
    return NULL;
}

bool offset_index_append(offset_index_t *idx, int64_t offset, uint32_t position) {
    index_file_t *f = &idx->file;
    if (offset_index_full(idx) || !index_file_can_append_offset(f, offset))
        return false;
    if (f->entries > 0 && offset <= index_last_offset(f))
        return false;
    uint8_t *p = f->data + (size_t)f->entries * OFFSET_INDEX_ENTRY_SIZE;
    be32_store(p, (uint32_t)(offset - f->base_offset));
    be32_store(p + 4, position);
    f->entries++;
    return true;
}

offset_position_t offset_index_lookup(const offset_index_t *idx, int64_t target) {
    offset_position_t r = {idx->file.base_offset, 0};
    int64_t slot = index_floor_slot(&idx->file, INDEX_KEY_REL_OFFSET, index_rel_key(&idx->file, target));
    if (slot >= 0)
        r = offset_index_entry(idx, (uint32_t)slot);
    return r;
}

offset_position_t offset_index_entry(const offset_index_t *idx, uint32_t n) {
    offset_position_t r = {idx->file.base_offset + index_rel_offset(&idx->file, n),
                           offset_index_position_at(idx, n)};
    return r;
}

int64_t offset_index_last_offset(const offset_index_t *idx) { return index_last_offset(&idx->file); }

/* --- the time index ------------------------------------------------------- */

/* The relative offset follows the int64 timestamp. */
#define TIME_INDEX_REL_OFFSET_AT 8

static int64_t time_index_timestamp_at(const time_index_t *idx, uint32_t n) {
    return index_key_at(&idx->file, n, INDEX_KEY_TIMESTAMP);
}

kerr_t time_index_open(time_index_t *idx, const char *path, int64_t base_offset, size_t max_index_bytes,
                       bool *created) {
    return index_file_open(&idx->file, path, TIME_INDEX_ENTRY_SIZE, TIME_INDEX_REL_OFFSET_AT, base_offset,
                           max_index_bytes, created);
}

void time_index_view(time_index_t *idx, const uint8_t *data, size_t len, int64_t base_offset) {
    index_file_view(&idx->file, data, len, TIME_INDEX_ENTRY_SIZE, TIME_INDEX_REL_OFFSET_AT, base_offset);
}

const char *time_index_sanity_check(const time_index_t *idx) {
    const index_file_t *f = &idx->file;
    if (f->len % TIME_INDEX_ENTRY_SIZE != 0)
        return "time index length is not a multiple of 12";
    uint32_t n = f->entries;
    if (n == 0)
        return NULL;
    if (time_index_timestamp_at(idx, n - 1) < time_index_timestamp_at(idx, 0))
        return "time index: last timestamp is below the first";
    if (index_rel_offset(f, n - 1) < 0)
        return "time index: last offset is below the base offset";
    if (n >= 2 && (time_index_timestamp_at(idx, n - 1) <= time_index_timestamp_at(idx, n - 2) ||
                   index_rel_offset(f, n - 1) < index_rel_offset(f, n - 2)))
        return "time index: last entries do not increase";
    return NULL;
}

/* Kafka's maybeAppend, with its exceptions turned into -1. An equal offset
 * with an equal timestamp is the normal "same entry again" case at roll and
 * close, hence 0 rather than -1. */
int time_index_maybe_append(time_index_t *idx, int64_t timestamp, int64_t offset, bool skip_full_check) {
    index_file_t *f = &idx->file;
    if (!skip_full_check && time_index_full(idx))
        return -1;
    timestamp_offset_t last = time_index_last_entry(idx);
    if (f->entries != 0 && (offset < last.offset || timestamp < last.timestamp))
        return -1;
    if (timestamp <= last.timestamp)
        return 0;
    if (f->entries >= f->max_entries || !index_file_can_append_offset(f, offset))
        return -1;
    uint8_t *p = f->data + (size_t)f->entries * TIME_INDEX_ENTRY_SIZE;
    be64_store(p, (uint64_t)timestamp);
    be32_store(p + TIME_INDEX_REL_OFFSET_AT, (uint32_t)(offset - f->base_offset));
    f->entries++;
    return 1;
}

timestamp_offset_t time_index_lookup(const time_index_t *idx, int64_t target) {
    timestamp_offset_t r = {TIME_INDEX_NO_TIMESTAMP, idx->file.base_offset};
    int64_t slot = index_floor_slot(&idx->file, INDEX_KEY_TIMESTAMP, target);
    if (slot >= 0)
        r = time_index_entry(idx, (uint32_t)slot);
    return r;
}

timestamp_offset_t time_index_entry(const time_index_t *idx, uint32_t n) {
    timestamp_offset_t r = {time_index_timestamp_at(idx, n), idx->file.base_offset + index_rel_offset(&idx->file, n)};
    return r;
}

timestamp_offset_t time_index_last_entry(const time_index_t *idx) {
    timestamp_offset_t r = {TIME_INDEX_NO_TIMESTAMP, idx->file.base_offset};
    if (idx->file.entries)
        r = time_index_entry(idx, idx->file.entries - 1);
    return r;
}
