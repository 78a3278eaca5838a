#include "log/offset_index.h"

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

static kerr_t mmap_fail(const char *what, const char *path) {
    log_warn("index", "%s %s: %s", what, path, strerror(errno));
    return KERR_KAFKA_STORAGE_ERROR;
}

/* Maps len bytes of fd (nothing for an empty file: mmap refuses length 0). */
static kerr_t mmap_map(offset_index_mmap_t *m, int fd, size_t len) {
    m->data = NULL;
    m->len = len;
    if (len == 0)
        return KERR_NONE;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        m->len = 0;
        return mmap_fail("cannot map", m->path);
    }
    /* Index pages are touched one at a time, mostly in the middle of a
     * preallocated, sparse file: readahead would fault in (and zero) large
     * runs of pages that hold nothing, which made opening and appending to
     * many partitions slow. */
    madvise(p, len, MADV_RANDOM);
    m->data = p;
    return KERR_NONE;
}

static void mmap_unmap(offset_index_mmap_t *m) {
    if (m->data)
        munmap(m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

kerr_t offset_index_mmap_open(offset_index_mmap_t *m, const char *path, size_t create_len, bool *created) {
    m->path = mem_strdup(path);
    m->data = NULL;
    m->len = 0;
    bool fresh = true;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) {
        fresh = false;
        fd = open(path, O_RDWR | O_CLOEXEC);
    }
    if (fd < 0) {
        kerr_t err = mmap_fail("cannot open", path);
        offset_index_mmap_close(m);
        return err;
    }
    kerr_t err = KERR_NONE;
    struct stat st;
    if (fresh && ftruncate(fd, (off_t)create_len) != 0)
        err = mmap_fail("cannot preallocate", path);
    else if (fstat(fd, &st) != 0)
        err = mmap_fail("cannot stat", path);
    else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > INT32_MAX) {
        log_warn("index", "%s is not a regular file below 2 GiB", path);
        err = KERR_KAFKA_STORAGE_ERROR;
    } else
        err = mmap_map(m, fd, (size_t)st.st_size);
    close(fd);
    if (err != KERR_NONE) {
        offset_index_mmap_close(m);
        return err;
    }
    if (created)
        *created = fresh;
    return KERR_NONE;
}

kerr_t offset_index_mmap_resize(offset_index_mmap_t *m, size_t len) {
    if (len == m->len && (len == 0 || m->data))
        return KERR_NONE;
    int fd = open(m->path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return mmap_fail("cannot open", m->path);
    mmap_unmap(m);
    kerr_t err = KERR_NONE;
    if (ftruncate(fd, (off_t)len) != 0) {
        err = mmap_fail("cannot resize", m->path);
        struct stat st; /* keep whatever length the file has mapped */
        if (fstat(fd, &st) == 0)
            (void)mmap_map(m, fd, (size_t)st.st_size);
    } else
        err = mmap_map(m, fd, len);
    close(fd);
    return err;
}

kerr_t offset_index_mmap_flush(offset_index_mmap_t *m) {
    if (m->data && msync(m->data, m->len, MS_SYNC) != 0)
        return mmap_fail("cannot msync", m->path);
    return KERR_NONE;
}

kerr_t offset_index_mmap_rename(offset_index_mmap_t *m, const char *new_path, bool do_rename) {
    if (do_rename && rename(m->path, new_path) != 0 && errno != ENOENT)
        return mmap_fail("cannot rename", m->path);
    free(m->path);
    m->path = mem_strdup(new_path);
    return KERR_NONE;
}

void offset_index_mmap_close(offset_index_mmap_t *m) {
    mmap_unmap(m);
    free(m->path);
    m->path = NULL;
}

kerr_t offset_index_mmap_delete(offset_index_mmap_t *m) {
    kerr_t err = KERR_NONE;
    mmap_unmap(m);
    if (m->path && unlink(m->path) != 0 && errno != ENOENT)
        err = mmap_fail("cannot delete", m->path);
    offset_index_mmap_close(m);
    return err;
}

/* --- the offset index ----------------------------------------------------- */

static int32_t rel_at(const offset_index_t *idx, uint32_t n) {
    return (int32_t)be32_load(idx->file.data + (size_t)n * OFFSET_INDEX_ENTRY_SIZE);
}

static uint32_t pos_at(const offset_index_t *idx, uint32_t n) {
    return be32_load(idx->file.data + (size_t)n * OFFSET_INDEX_ENTRY_SIZE + 4);
}

static void offset_index_reload(offset_index_t *idx) {
    idx->max_entries = (uint32_t)(idx->file.len / OFFSET_INDEX_ENTRY_SIZE);
    if (idx->entries > idx->max_entries)
        idx->entries = idx->max_entries;
    idx->last_offset = idx->entries ? idx->base_offset + rel_at(idx, idx->entries - 1) : idx->base_offset;
}

kerr_t offset_index_open(offset_index_t *idx, const char *path, int64_t base_offset, size_t max_index_bytes,
                         bool *created) {
    memset(idx, 0, sizeof *idx);
    idx->base_offset = base_offset;
    idx->max_index_bytes = max_index_bytes;
    bool fresh = false;
    size_t create_len = max_index_bytes / OFFSET_INDEX_ENTRY_SIZE * OFFSET_INDEX_ENTRY_SIZE;
    kerr_t err = offset_index_mmap_open(&idx->file, path, create_len, &fresh);
    if (err != KERR_NONE)
        return err;
    /* Kafka: a loaded file is all entries; a new one has none. */
    idx->entries = fresh ? 0 : (uint32_t)(idx->file.len / OFFSET_INDEX_ENTRY_SIZE);
    offset_index_reload(idx);
    if (created)
        *created = fresh;
    return KERR_NONE;
}

const char *offset_index_sanity_check(const offset_index_t *idx) {
    if (idx->file.len % OFFSET_INDEX_ENTRY_SIZE != 0)
        return "offset index length is not a multiple of 8";
    if (idx->entries == 0)
        return NULL;
    if (idx->last_offset < idx->base_offset)
        return "offset index: last offset is below the base offset";
    uint32_t n = idx->entries;
    if (n >= 2 && (rel_at(idx, n - 1) <= rel_at(idx, n - 2) || pos_at(idx, n - 1) <= pos_at(idx, n - 2)))
        return "offset index: last entries do not increase";
    return NULL;
}

bool offset_index_append(offset_index_t *idx, int64_t offset, uint32_t position) {
    if (offset_index_full(idx) || !offset_index_can_append_offset(idx, offset))
        return false;
    if (idx->entries > 0 && offset <= idx->last_offset)
        return false;
    uint8_t *p = idx->file.data + (size_t)idx->entries * OFFSET_INDEX_ENTRY_SIZE;
    be32_store(p, (uint32_t)(offset - idx->base_offset));
    be32_store(p + 4, position);
    idx->entries++;
    idx->last_offset = offset;
    return true;
}

/* The largest slot whose relative offset is <= rel, or -1. Plain binary
 * search (Kafka adds a "warm section" preference that only changes which
 * pages are touched, not the answer). Terminates on any contents, so a
 * corrupt index gives a wrong slot, never an out-of-bounds read. */
static int64_t offset_index_floor_slot(const offset_index_t *idx, int64_t rel) {
    if (idx->entries == 0 || rel_at(idx, 0) > rel)
        return -1;
    uint32_t lo = 0, hi = idx->entries - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (rel_at(idx, mid) <= rel)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* An absolute offset in the relative key space, as an int64 so that targets
 * outside the segment compare correctly (below the base: below every entry). */
static int64_t offset_index_rel_key(const offset_index_t *idx, int64_t offset) {
    return offset < idx->base_offset ? INT64_MIN : offset - idx->base_offset;
}

offset_position_t offset_index_lookup(const offset_index_t *idx, int64_t target) {
    offset_position_t r = {idx->base_offset, 0};
    int64_t slot = offset_index_floor_slot(idx, offset_index_rel_key(idx, target));
    if (slot >= 0)
        r = offset_index_entry(idx, (uint32_t)slot);
    return r;
}

offset_position_t offset_index_entry(const offset_index_t *idx, uint32_t n) {
    offset_position_t r = {idx->base_offset + rel_at(idx, n), pos_at(idx, n)};
    return r;
}

void offset_index_truncate_to(offset_index_t *idx, int64_t offset) {
    int64_t rel = offset_index_rel_key(idx, offset);
    int64_t slot = offset_index_floor_slot(idx, rel);
    idx->entries = offset_index_kept_on_truncate(slot, slot >= 0 && rel_at(idx, (uint32_t)slot) == rel);
    offset_index_reload(idx);
}

kerr_t offset_index_reset(offset_index_t *idx) {
    idx->entries = 0;
    offset_index_reload(idx);
    return offset_index_resize(idx, idx->max_index_bytes);
}

kerr_t offset_index_resize(offset_index_t *idx, size_t new_bytes) {
    size_t len = new_bytes / OFFSET_INDEX_ENTRY_SIZE * OFFSET_INDEX_ENTRY_SIZE;
    kerr_t err = offset_index_mmap_resize(&idx->file, len);
    offset_index_reload(idx);
    return err;
}

kerr_t offset_index_trim_to_valid_size(offset_index_t *idx) {
    return offset_index_resize(idx, (size_t)idx->entries * OFFSET_INDEX_ENTRY_SIZE);
}

kerr_t offset_index_flush(offset_index_t *idx) { return offset_index_mmap_flush(&idx->file); }

kerr_t offset_index_close(offset_index_t *idx) {
    kerr_t err = KERR_NONE;
    if (idx->file.path)
        err = offset_index_trim_to_valid_size(idx);
    offset_index_mmap_close(&idx->file);
    idx->entries = idx->max_entries = 0;
    return err;
}

kerr_t offset_index_delete(offset_index_t *idx) {
    kerr_t err = offset_index_mmap_delete(&idx->file);
    idx->entries = idx->max_entries = 0;
    return err;
}
