#include "log/log_segment.h"

#include "util/clock.h"
#include "util/endian.h"
#include "util/logger.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A read mapping replaced by a larger one; kept until close so that
 * pointers handed out by log_segment_data() stay valid. */
typedef struct log_segment_old_map {
    void *addr;
    size_t len;
} log_segment_old_map_t;

struct log_segment {
    char *dir;
    char *suffix;
    int64_t base_offset;
    log_segment_config_t cfg;

    int fd;        /* the .log, read/write */
    uint32_t size; /* bytes of the .log we own */
    uint64_t allocated_end; /* blocks reserved past size up to here (seg_allocate_ahead) */
    bool allocate_ahead_failed;
    offset_index_t oi;
    time_index_t ti;

    uint32_t bytes_since_last_index_entry;
    int64_t max_timestamp; /* largest timestamp so far, -1 if none */
    int64_t offset_of_max_timestamp;
    int64_t created_ms;
    bool rolling_ts_known; /* Kafka's rollingBasedTimestamp is Some(...) */
    int64_t rolling_ts;
    bool growing;                /* appended to since open: reserve mapping space */
    const char *recovery_reason; /* static string, NULL when sane */

    uint8_t *map; /* read-only MAP_SHARED view of the .log, map_len bytes */
    size_t map_len;
    log_segment_old_map_t *old_maps;
    size_t n_old_maps;
};

/* A segment that has taken this much reserves disk blocks ahead of its
 * appends, as much again as it holds, at most SEG_ALLOCATE_AHEAD_MAX. */
#define SEG_ALLOCATE_AHEAD_MIN (1u << 20)
#define SEG_ALLOCATE_AHEAD_MAX (8u << 20)

/* --- file names ----------------------------------------------------------- */

int log_segment_filename(char *out, size_t cap, const char *dir, int64_t base_offset, const char *ext,
                         const char *suffix) {
    int n = snprintf(out, cap, "%s/%020" PRId64 "%s%s", dir, base_offset, ext, suffix ? suffix : "");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

bool log_segment_parse_filename(const char *name, int64_t *base_offset, const char **rest) {
    const char *dot = strchr(name, '.');
    if (!dot || dot == name)
        return false;
    int64_t v = 0;
    for (const char *p = name; p < dot; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (v > (INT64_MAX - (*p - '0')) / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    *base_offset = v;
    if (rest)
        *rest = dot;
    return true;
}

static char *seg_path(const log_segment_t *seg, const char *ext) {
    char buf[PATH_MAX];
    if (log_segment_filename(buf, sizeof buf, seg->dir, seg->base_offset, ext, seg->suffix) < 0)
        return NULL;
    return mem_strdup(buf);
}

static kerr_t seg_io_fail(const char *what, const char *path) {
    log_warn("segment", "%s %s: %s", what, path ? path : "(path too long)", strerror(errno));
    return KERR_KAFKA_STORAGE_ERROR;
}

/* --- blocks reserved ahead ------------------------------------------------- */

/* An append that grows the file makes ext4 reserve and map each new
 * block as the page cache takes it (delayed allocation, ~30% of the cost of
 * writing a batch into memory); into blocks reserved beforehand the same
 * bytes are copied ~40% faster. The reservation (fallocate KEEP_SIZE) leaves
 * the file's size alone, so readers, recovery and the size Kafka tools see
 * do not change. Small segments do without, so thousands of quiet
 * partitions reserve nothing; a busy one holds at most 8 MiB it has not
 * written yet, given back when it rolls or closes. Where the file system
 * cannot reserve, appends go on as before. */
static void seg_allocate_ahead(log_segment_t *seg, uint64_t end) {
    if (seg->allocate_ahead_failed || end <= seg->allocated_end || seg->size < SEG_ALLOCATE_AHEAD_MIN)
        return;
    uint64_t ahead = seg->size < SEG_ALLOCATE_AHEAD_MAX ? seg->size : SEG_ALLOCATE_AHEAD_MAX;
    uint64_t from = seg->allocated_end > seg->size ? seg->allocated_end : seg->size;
    uint64_t to = end + ahead;
    if (to > seg->cfg.segment_bytes)
        to = end > seg->cfg.segment_bytes ? end : seg->cfg.segment_bytes;
    if (fallocate(seg->fd, FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)(to - from)) != 0) {
        seg->allocate_ahead_failed = true;
        return;
    }
    seg->allocated_end = to;
}

/* Gives back the blocks reserved past the end of the data: truncating to the
 * same size frees them. The truncation would also stamp the file's mtime,
 * which time-based retention reads for segments without timestamps, so the
 * old one is put back. */
static void seg_release_ahead(log_segment_t *seg) {
    if (seg->allocated_end <= seg->size)
        return;
    struct stat st;
    bool have_times = fstat(seg->fd, &st) == 0;
    if (ftruncate(seg->fd, seg->size) != 0)
        log_warn("segment", "cannot release the blocks reserved past segment %s/%020" PRId64 ": %s", seg->dir,
                 seg->base_offset, strerror(errno));
    else if (have_times)
        (void)futimens(seg->fd, (const struct timespec[2]){{.tv_nsec = UTIME_OMIT}, st.st_mtim});
    seg->allocated_end = 0;
}

/* --- life cycle ----------------------------------------------------------- */

static log_segment_t *seg_new(const char *dir, int64_t base_offset, const log_segment_config_t *cfg,
                              const char *suffix) {
    log_segment_t *seg = mem_calloc(1, sizeof *seg);
    seg->dir = mem_strdup(dir);
    seg->suffix = mem_strdup(suffix ? suffix : "");
    seg->base_offset = base_offset;
    seg->cfg = *cfg;
    seg->fd = -1;
    seg->max_timestamp = TIME_INDEX_NO_TIMESTAMP;
    seg->offset_of_max_timestamp = base_offset;
    seg->created_ms = clock_wall_ms();
    return seg;
}

static void seg_unmap(log_segment_t *seg) {
    if (seg->map)
        munmap(seg->map, seg->map_len);
    for (size_t i = 0; i < seg->n_old_maps; i++)
        munmap(seg->old_maps[i].addr, seg->old_maps[i].len);
    free(seg->old_maps);
    seg->old_maps = NULL;
    seg->n_old_maps = 0;
    seg->map = NULL;
    seg->map_len = 0;
}

/* Releases everything without touching the files. */
static void seg_free(log_segment_t *seg) {
    seg_unmap(seg);
    if (seg->fd >= 0)
        close(seg->fd);
    index_file_release(&seg->oi.file);
    index_file_release(&seg->ti.file);
    free(seg->dir);
    free(seg->suffix);
    free(seg);
}

/* Opens both indexes; *oi_created / *ti_created tell whether they were
 * missing. */
static kerr_t seg_open_indexes(log_segment_t *seg, bool *oi_created, bool *ti_created) {
    char *oi_path = seg_path(seg, LOG_SEGMENT_INDEX_EXT);
    char *ti_path = seg_path(seg, LOG_SEGMENT_TIME_INDEX_EXT);
    kerr_t err = KERR_KAFKA_STORAGE_ERROR;
    if (oi_path && ti_path) {
        err = offset_index_open(&seg->oi, oi_path, seg->base_offset, seg->cfg.max_index_bytes, oi_created);
        if (err == KERR_NONE)
            err = time_index_open(&seg->ti, ti_path, seg->base_offset, seg->cfg.max_index_bytes, ti_created);
    } else
        log_warn("segment", "path too long in %s", seg->dir);
    free(oi_path);
    free(ti_path);
    return err;
}

/* Kafka deletes files left over from an earlier life of this base offset
 * before rolling to it; a new segment must not inherit a stale index. */
static void seg_remove_stale(const log_segment_t *seg) {
    static const char *const exts[] = {LOG_SEGMENT_LOG_EXT, LOG_SEGMENT_INDEX_EXT, LOG_SEGMENT_TIME_INDEX_EXT,
                                       LOG_SEGMENT_TXN_INDEX_EXT};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char *path = seg_path(seg, exts[i]);
        if (path && unlink(path) == 0)
            log_warn("segment", "newly rolled segment file %s already existed; deleted it first", path);
        free(path);
    }
}

kerr_t log_segment_create(const char *dir, int64_t base_offset, const log_segment_config_t *cfg,
                          const char *suffix, log_segment_t **out) {
    log_segment_t *seg = seg_new(dir, base_offset, cfg, suffix);
    seg_remove_stale(seg);
    char *path = seg_path(seg, LOG_SEGMENT_LOG_EXT);
    seg->fd = path ? open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
    kerr_t err = seg->fd < 0 ? seg_io_fail("cannot create", path) : KERR_NONE;
    free(path);
    if (err == KERR_NONE)
        err = seg_open_indexes(seg, NULL, NULL);
    if (err != KERR_NONE) {
        seg_free(seg);
        return err;
    }
    seg->growing = true;
    *out = seg;
    return KERR_NONE;
}

/* The segment's part of the load-time checks: missing indexes for data, the
 * indexes' own sanity checks, and an offset index entry that no batch
 * header could follow within the .log. */
static const char *seg_sanity_check(const log_segment_t *seg, bool oi_created, bool ti_created) {
    if (seg->size > 0 && oi_created)
        return "offset index missing";
    if (seg->size > 0 && ti_created)
        return "time index missing";
    const char *why = offset_index_sanity_check(&seg->oi);
    if (!why)
        why = time_index_sanity_check(&seg->ti);
    if (!why && seg->oi.file.entries > 0) {
        offset_position_t last = offset_index_entry(&seg->oi, seg->oi.file.entries - 1);
        if ((uint64_t)last.position + BATCH_HEADER_SIZE > seg->size)
            why = "offset index points past the end of the log";
    }
    return why;
}

kerr_t log_segment_open(const char *dir, int64_t base_offset, const log_segment_config_t *cfg,
                        const char *suffix, log_segment_t **out) {
    log_segment_t *seg = seg_new(dir, base_offset, cfg, suffix);
    char *path = seg_path(seg, LOG_SEGMENT_LOG_EXT);
    kerr_t err = KERR_NONE;
    struct stat st;
    seg->fd = path ? open(path, O_RDWR | O_CLOEXEC) : -1;
    if (seg->fd < 0)
        err = seg_io_fail("cannot open", path);
    else if (fstat(seg->fd, &st) != 0)
        err = seg_io_fail("cannot stat", path);
    else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > INT32_MAX) {
        log_warn("segment", "%s is not a regular file below 2 GiB", path);
        err = KERR_KAFKA_STORAGE_ERROR;
    }
    free(path);
    bool oi_created = false, ti_created = false;
    if (err == KERR_NONE) {
        seg->size = (uint32_t)st.st_size;
        /* blocks a crash left reserved past the data (seg_allocate_ahead) */
        if ((uint64_t)st.st_blocks * 512 > (uint64_t)st.st_size + SEG_ALLOCATE_AHEAD_MIN) {
            seg->allocated_end = UINT64_MAX;
            seg_release_ahead(seg);
        }
        err = seg_open_indexes(seg, &oi_created, &ti_created);
    }
    if (err != KERR_NONE) {
        seg_free(seg);
        return err;
    }
    seg->recovery_reason = seg_sanity_check(seg, oi_created, ti_created);
    if (!seg->recovery_reason) {
        timestamp_offset_t last = time_index_last_entry(&seg->ti);
        seg->max_timestamp = last.timestamp;
        seg->offset_of_max_timestamp = last.offset;
    }
    *out = seg;
    return KERR_NONE;
}

const char *log_segment_needs_recovery(const log_segment_t *seg) { return seg->recovery_reason; }

/* --- the read mapping ----------------------------------------------------- */

/* Makes [0, need) readable through seg->map. A segment being appended to
 * reserves segment_bytes (or doubles) so that the active segment is mapped
 * once or a few times in its life; mapping beyond the end of the file is
 * fine as long as only bytes below seg->size are touched. */
static kerr_t seg_map(log_segment_t *seg, size_t need) {
    if (need <= seg->map_len)
        return KERR_NONE;
    size_t len = need;
    if (seg->growing) {
        if (len < seg->cfg.segment_bytes)
            len = (size_t)seg->cfg.segment_bytes;
        if (len < 2 * seg->map_len)
            len = 2 * seg->map_len;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    len = (len + page - 1) / page * page;
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, seg->fd, 0);
    if (p == MAP_FAILED) {
        char *path = seg_path(seg, LOG_SEGMENT_LOG_EXT);
        kerr_t err = seg_io_fail("cannot map", path);
        free(path);
        return err;
    }
    if (seg->map) {
        seg->old_maps = mem_realloc(seg->old_maps, (seg->n_old_maps + 1) * sizeof *seg->old_maps);
        seg->old_maps[seg->n_old_maps].addr = seg->map;
        seg->old_maps[seg->n_old_maps].len = seg->map_len;
        seg->n_old_maps++;
    }
    seg->map = p;
    seg->map_len = len;
    return KERR_NONE;
}

const uint8_t *log_segment_data(log_segment_t *seg, uint32_t position, uint32_t length) {
    if ((uint64_t)position + length > seg->size || seg_map(seg, seg->size) != KERR_NONE)
        return NULL;
    return seg->map ? seg->map + position : NULL;
}

/* --- walking batches ------------------------------------------------------ */

/* Looks at the batch framing at pos (the mapping must cover seg->size).
 * 1: a whole batch of magic 2 with sane offsets is there, *h filled.
 * 0: the end — fewer bytes left than a header or than batchLength says
 *    (the end of the data or a torn tail, as Kafka's batch iterator treats it).
 * -1: malformed framing (batchLength below a header, magic not 2, offsets
 *    that overflow). No CRC check: that is recovery's. */
static int seg_batch_at(const log_segment_t *seg, uint32_t pos, batch_header_t *h) {
    if (pos > seg->size || seg->size - pos < BATCH_HEADER_SIZE)
        return 0;
    batch_header_read(seg->map + pos, h);
    if (h->batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)
        return -1;
    if (batch_size(h) > seg->size - pos)
        return 0;
    if (h->magic != BATCH_MAGIC_V2 || h->last_offset_delta < 0 || h->base_offset < 0 ||
        h->base_offset > INT64_MAX - h->last_offset_delta)
        return -1;
    return 1;
}

kerr_t log_segment_translate_offset(log_segment_t *seg, int64_t offset, uint32_t starting_position,
                                    log_segment_position_t *out) {
    kerr_t err = seg_map(seg, seg->size);
    if (err != KERR_NONE)
        return err;
    uint32_t pos = offset_index_lookup(&seg->oi, offset).position;
    if (pos < starting_position)
        pos = starting_position;
    batch_header_t h;
    for (;;) {
        int r = seg_batch_at(seg, pos, &h);
        if (r == 0)
            return KERR_OFFSET_OUT_OF_RANGE;
        if (r < 0)
            return KERR_CORRUPT_MESSAGE;
        if (batch_last_offset(&h) >= offset) {
            out->offset = batch_last_offset(&h);
            out->position = pos;
            out->size = (uint32_t)batch_size(&h);
            return KERR_NONE;
        }
        pos += (uint32_t)batch_size(&h);
    }
}

kerr_t log_segment_read(log_segment_t *seg, int64_t start_offset, uint32_t max_size, uint64_t max_position,
                        bool min_one_message, log_segment_read_t *out) {
    log_segment_position_t first;
    kerr_t err = log_segment_translate_offset(seg, start_offset, 0, &first);
    if (err != KERR_NONE)
        return err;
    out->offset_metadata.message_offset = start_offset;
    out->offset_metadata.segment_base_offset = seg->base_offset;
    out->offset_metadata.relative_position = first.position;
    out->fd = seg->fd;
    out->position = first.position;
    uint32_t adjusted = min_one_message && first.size > max_size ? first.size : max_size;
    uint64_t end = max_position < seg->size ? max_position : seg->size;
    uint64_t avail = end > first.position ? end - first.position : 0;
    out->length = (uint32_t)(avail < adjusted ? avail : adjusted);
    out->first_entry_incomplete = adjusted > 0 && adjusted < first.size; /* Kafka: size 0 is just empty */
    return KERR_NONE;
}

kerr_t log_segment_next_offset(log_segment_t *seg, int64_t *out) {
    kerr_t err = seg_map(seg, seg->size);
    if (err != KERR_NONE)
        return err;
    uint32_t pos = offset_index_lookup(&seg->oi, offset_index_last_offset(&seg->oi)).position;
    int64_t next = seg->base_offset;
    batch_header_t h;
    int r;
    while ((r = seg_batch_at(seg, pos, &h)) > 0) {
        next = batch_next_offset(&h);
        pos += (uint32_t)batch_size(&h);
    }
    if (r < 0)
        return KERR_CORRUPT_MESSAGE;
    *out = next;
    return KERR_NONE;
}

/* The first record in this batch at or after (timestamp, starting_offset):
 * 1 found, 0 none, -1 malformed records. A LogAppendTime batch stamps every
 * record with the batch's max timestamp. */
static int seg_search_batch(const uint8_t *batch, const batch_header_t *h, int64_t timestamp,
                            int64_t starting_offset, log_segment_timestamp_offset_t *out) {
    record_iter_t it;
    memset(&it, 0, sizeof it);
    if (record_iter_init(&it, batch, batch_size(h), LOG_SEGMENT_MAX_DECOMPRESSED) != KERR_NONE) {
        record_iter_free(&it);
        return -1;
    }
    record_t rec;
    int r;
    while ((r = record_iter_next(&it, &rec)) > 0) {
        int64_t ts, off;
        if (batch_is_log_append_time(h))
            ts = h->max_timestamp;
        else if (__builtin_add_overflow(h->first_timestamp, rec.timestamp_delta, &ts)) {
            r = -1;
            break;
        }
        if (__builtin_add_overflow(h->base_offset, (int64_t)rec.offset_delta, &off)) {
            r = -1;
            break;
        }
        if (ts >= timestamp && off >= starting_offset) {
            out->found = true;
            out->timestamp = ts;
            out->offset = off;
            out->leader_epoch = h->partition_leader_epoch;
            break;
        }
    }
    record_iter_free(&it);
    return r < 0 ? -1 : out->found;
}

kerr_t log_segment_find_offset_by_timestamp(log_segment_t *seg, int64_t timestamp, int64_t starting_offset,
                                            log_segment_timestamp_offset_t *out) {
    memset(out, 0, sizeof *out);
    kerr_t err = seg_map(seg, seg->size);
    if (err != KERR_NONE)
        return err;
    timestamp_offset_t te = time_index_lookup(&seg->ti, timestamp);
    int64_t from = te.offset > starting_offset ? te.offset : starting_offset;
    uint32_t pos = offset_index_lookup(&seg->oi, from).position;
    batch_header_t h;
    int r;
    while ((r = seg_batch_at(seg, pos, &h)) > 0) {
        if (h.max_timestamp >= timestamp && batch_last_offset(&h) >= starting_offset) {
            int found = seg_search_batch(seg->map + pos, &h, timestamp, starting_offset, out);
            if (found < 0)
                return KERR_CORRUPT_MESSAGE;
            if (found)
                return KERR_NONE;
        }
        pos += (uint32_t)batch_size(&h);
    }
    return r < 0 ? KERR_CORRUPT_MESSAGE : KERR_NONE;
}

/* --- writing -------------------------------------------------------------- */

static kerr_t seg_write_all(log_segment_t *seg, const uint8_t *p, size_t len, uint64_t at) {
    while (len > 0) {
        ssize_t n = pwrite(seg->fd, p, len, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            char *path = seg_path(seg, LOG_SEGMENT_LOG_EXT);
            kerr_t err = seg_io_fail("cannot write", path);
            free(path);
            return err;
        }
        p += n;
        len -= (size_t)n;
        at += (uint64_t)n;
    }
    return KERR_NONE;
}

kerr_t log_segment_append(log_segment_t *seg, const uint8_t *batches, size_t len, int64_t largest_offset,
                          int64_t max_timestamp, int64_t offset_of_max_timestamp) {
    if (len == 0)
        return KERR_NONE;
    if (!index_file_can_append_offset(&seg->oi.file, largest_offset)) {
        log_warn("segment", "offset %" PRId64 " does not fit segment %" PRId64 " (roll first)", largest_offset,
                 seg->base_offset);
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    if (len > (size_t)(INT32_MAX - seg->size))
        return KERR_RECORD_LIST_TOO_LARGE;
    uint32_t position = seg->size;
    seg_allocate_ahead(seg, (uint64_t)position + len);
    kerr_t err = seg_write_all(seg, batches, len, position);
    if (err != KERR_NONE) {
        if (ftruncate(seg->fd, position) != 0)
            log_warn("segment", "cannot cut a failed append back: %s", strerror(errno));
        seg->allocated_end = 0;
        return err;
    }
    if (position == 0) {
        seg->rolling_ts_known = true;
        seg->rolling_ts = max_timestamp;
    }
    seg->size += (uint32_t)len;
    seg->growing = true;
    if (max_timestamp > seg->max_timestamp) {
        seg->max_timestamp = max_timestamp;
        seg->offset_of_max_timestamp = offset_of_max_timestamp;
    }
    if (seg->bytes_since_last_index_entry > seg->cfg.index_interval_bytes) {
        offset_index_append(&seg->oi, largest_offset, position);
        time_index_maybe_append(&seg->ti, seg->max_timestamp, seg->offset_of_max_timestamp, false);
        seg->bytes_since_last_index_entry = 0;
    }
    seg->bytes_since_last_index_entry += (uint32_t)len;
    return KERR_NONE;
}

/* --- recovery and truncation ---------------------------------------------- */

/* What roll, close and recovery leave: the time index's final entry (the
 * slot time_index_full kept for it) and both files trimmed to their entries,
 * as Kafka loads every byte of an index as an entry. Both are trimmed even
 * when the first fails; the first error is returned. */
static kerr_t seg_finish_indexes(log_segment_t *seg) {
    time_index_maybe_append(&seg->ti, seg->max_timestamp, seg->offset_of_max_timestamp, true);
    kerr_t err = index_file_trim_to_valid_size(&seg->oi.file);
    kerr_t err2 = index_file_trim_to_valid_size(&seg->ti.file);
    return err != KERR_NONE ? err : err2;
}

/* Whether a checked batch's offsets may follow prev_last in this segment. */
static bool seg_offsets_valid(const log_segment_t *seg, const batch_header_t *h, int64_t prev_last) {
    if (h->last_offset_delta < 0 || h->base_offset < seg->base_offset || h->base_offset <= prev_last)
        return false;
    if (h->base_offset > INT64_MAX - h->last_offset_delta)
        return false;
    return index_file_can_append_offset(&seg->oi.file, batch_last_offset(h));
}

/* Cuts the .log to new_size (the mapping stays; bytes past the end are never
 * touched again). */
static kerr_t seg_truncate_file(log_segment_t *seg, uint32_t new_size) {
    if (new_size >= seg->size)
        return KERR_NONE;
    if (ftruncate(seg->fd, new_size) != 0) {
        char *path = seg_path(seg, LOG_SEGMENT_LOG_EXT);
        kerr_t err = seg_io_fail("cannot truncate", path);
        free(path);
        return err;
    }
    seg->size = new_size;
    seg->allocated_end = 0; /* the truncation freed them */
    return KERR_NONE;
}

/* Walks the batches from position 0 (indexes already reset), adding index
 * entries exactly as single-batch appends would have (position of the batch
 * minus position of the last entry > index_interval_bytes) and tracking the
 * max timestamp. Returns the bytes of valid batches. */
static uint32_t seg_rebuild(log_segment_t *seg, size_t max_message_size, log_segment_batch_fn fn, void *arg) {
    uint32_t pos = 0, last_entry_pos = 0;
    int64_t prev_last = -1;
    batch_header_t h;
    while (pos < seg->size) {
        batch_check_t check = batch_check(seg->map + pos, seg->size - pos, max_message_size, &h);
        if (check != BATCH_OK || !seg_offsets_valid(seg, &h, prev_last)) {
            log_warn("segment", "segment %s/%020" PRId64 ": invalid batch at byte %" PRIu32 " (check %d)",
                     seg->dir, seg->base_offset, pos, (int)check);
            break;
        }
        int64_t last = batch_last_offset(&h);
        if (h.max_timestamp > seg->max_timestamp) {
            seg->max_timestamp = h.max_timestamp;
            seg->offset_of_max_timestamp = last;
        }
        if (pos - last_entry_pos > seg->cfg.index_interval_bytes) {
            offset_index_append(&seg->oi, last, pos);
            time_index_maybe_append(&seg->ti, seg->max_timestamp, seg->offset_of_max_timestamp, false);
            last_entry_pos = pos;
        }
        if (fn)
            fn(arg, seg->map + pos, &h, pos);
        prev_last = last;
        pos += (uint32_t)batch_size(&h);
    }
    return pos;
}

kerr_t log_segment_recover(log_segment_t *seg, size_t max_message_size, log_segment_batch_fn fn, void *arg,
                           uint32_t *truncated) {
    kerr_t err = seg_map(seg, seg->size);
    if (err == KERR_NONE)
        err = index_file_reset(&seg->oi.file);
    if (err == KERR_NONE)
        err = index_file_reset(&seg->ti.file);
    if (err != KERR_NONE)
        return err;
    seg->max_timestamp = TIME_INDEX_NO_TIMESTAMP;
    seg->offset_of_max_timestamp = seg->base_offset;
    seg->rolling_ts_known = false;
    uint32_t valid = seg_rebuild(seg, max_message_size, fn, arg);
    uint32_t cut = seg->size - valid;
    err = seg_truncate_file(seg, valid);
    if (err != KERR_NONE)
        return err;
    err = seg_finish_indexes(seg); /* like a normally closed segment */
    if (err != KERR_NONE)
        return err;
    seg->recovery_reason = NULL;
    if (truncated)
        *truncated = cut;
    return KERR_NONE;
}

/* Kafka's loadLargestTimestamp after a truncation: the time index's last
 * entry, raised by any larger batch max timestamp after the offset index
 * position of that entry's offset. */
static void seg_load_largest_timestamp(log_segment_t *seg) {
    timestamp_offset_t last = time_index_last_entry(&seg->ti);
    seg->max_timestamp = last.timestamp;
    seg->offset_of_max_timestamp = last.offset;
    uint32_t pos = offset_index_lookup(&seg->oi, last.offset).position;
    batch_header_t h;
    while (seg_batch_at(seg, pos, &h) > 0) {
        if (h.max_timestamp > seg->max_timestamp) {
            seg->max_timestamp = h.max_timestamp;
            seg->offset_of_max_timestamp = batch_last_offset(&h);
        }
        pos += (uint32_t)batch_size(&h);
    }
}

kerr_t log_segment_truncate_to(log_segment_t *seg, int64_t offset, uint32_t *truncated) {
    log_segment_position_t at;
    kerr_t lookup = log_segment_translate_offset(seg, offset, 0, &at);
    if (lookup != KERR_NONE && lookup != KERR_OFFSET_OUT_OF_RANGE)
        return lookup;
    index_file_truncate_to(&seg->oi.file, offset);
    index_file_truncate_to(&seg->ti.file, offset);
    kerr_t err = log_segment_resize_indexes(seg, seg->cfg.max_index_bytes);
    uint32_t before = seg->size;
    if (err == KERR_NONE && lookup == KERR_NONE)
        err = seg_truncate_file(seg, at.position);
    if (err != KERR_NONE)
        return err;
    if (seg->size == 0) {
        seg->created_ms = clock_wall_ms();
        seg->rolling_ts_known = false;
    }
    seg->bytes_since_last_index_entry = 0;
    seg->growing = true;
    if (seg->max_timestamp >= 0)
        seg_load_largest_timestamp(seg);
    if (truncated)
        *truncated = before - seg->size;
    return KERR_NONE;
}

/* --- roll, flush, close, delete ------------------------------------------- */

kerr_t log_segment_flush(log_segment_t *seg) {
    if (fsync(seg->fd) != 0) {
        char *path = seg_path(seg, LOG_SEGMENT_LOG_EXT);
        kerr_t err = seg_io_fail("cannot fsync", path);
        free(path);
        return err;
    }
    kerr_t err = index_file_flush(&seg->oi.file);
    return err != KERR_NONE ? err : index_file_flush(&seg->ti.file);
}

kerr_t log_segment_open_sync_files(const log_segment_t *seg, int fds[LOG_SEGMENT_SYNC_FILES]) {
    const char *index_paths[LOG_SEGMENT_SYNC_FILES - 1] = {seg->oi.file.path, seg->ti.file.path};
    int n = 0;
    kerr_t err = KERR_NONE;
    fds[n] = fcntl(seg->fd, F_DUPFD_CLOEXEC, 0);
    if (fds[n] < 0) {
        char *path = seg_path(seg, LOG_SEGMENT_LOG_EXT);
        err = seg_io_fail("cannot duplicate the descriptor of", path);
        free(path);
    }
    for (n = 1; err == KERR_NONE && n < LOG_SEGMENT_SYNC_FILES; n++) {
        fds[n] = open(index_paths[n - 1], O_RDONLY | O_CLOEXEC);
        if (fds[n] < 0)
            err = seg_io_fail("cannot open", index_paths[n - 1]);
    }
    if (err != KERR_NONE)
        for (int i = 0; i < n; i++)
            if (fds[i] >= 0)
                close(fds[i]);
    return err;
}

kerr_t log_segment_on_roll(log_segment_t *seg) {
    seg_release_ahead(seg);
    seg->growing = false;
    return seg_finish_indexes(seg);
}

kerr_t log_segment_resize_indexes(log_segment_t *seg, size_t max_index_bytes) {
    kerr_t err = index_file_resize(&seg->oi.file, max_index_bytes);
    return err != KERR_NONE ? err : index_file_resize(&seg->ti.file, max_index_bytes);
}

kerr_t log_segment_close(log_segment_t *seg) {
    seg_release_ahead(seg);
    kerr_t err = seg_finish_indexes(seg);
    seg_free(seg);
    return err;
}

kerr_t log_segment_delete(log_segment_t *seg) {
    kerr_t err = KERR_NONE;
    seg_unmap(seg);
    static const char *const exts[] = {LOG_SEGMENT_LOG_EXT, LOG_SEGMENT_TXN_INDEX_EXT};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char *path = seg_path(seg, exts[i]);
        if (!path || (unlink(path) != 0 && errno != ENOENT))
            err = seg_io_fail("cannot delete", path);
        free(path);
    }
    kerr_t e = index_file_delete(&seg->oi.file);
    if (e != KERR_NONE)
        err = e;
    e = index_file_delete(&seg->ti.file);
    if (e != KERR_NONE)
        err = e;
    seg_free(seg);
    return err;
}

void log_segment_unlink_files(const char *dir, int64_t base_offset, const char *suffix) {
    static const char *const exts[] = {LOG_SEGMENT_LOG_EXT, LOG_SEGMENT_INDEX_EXT, LOG_SEGMENT_TIME_INDEX_EXT,
                                       LOG_SEGMENT_TXN_INDEX_EXT};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (log_segment_filename(path, sizeof path, dir, base_offset, exts[i], suffix) >= 0)
            unlink(path);
}

/* Renames <base><ext><current suffix> to <base><ext><suffix>; a missing
 * file (a .txnindex) is fine. *new_path (may be NULL) gets the new name. */
static kerr_t seg_rename_file(const log_segment_t *seg, const char *ext, const char *suffix, char **new_path) {
    char from[PATH_MAX], to[PATH_MAX];
    if (log_segment_filename(from, sizeof from, seg->dir, seg->base_offset, ext, seg->suffix) < 0 ||
        log_segment_filename(to, sizeof to, seg->dir, seg->base_offset, ext, suffix) < 0) {
        errno = ENAMETOOLONG;
        return seg_io_fail("cannot rename in", seg->dir);
    }
    if (rename(from, to) != 0 && errno != ENOENT)
        return seg_io_fail("cannot rename", from);
    if (new_path)
        *new_path = mem_strdup(to);
    return KERR_NONE;
}

kerr_t log_segment_change_suffix(log_segment_t *seg, const char *suffix) {
    char *oi_path = NULL, *ti_path = NULL;
    kerr_t err = seg_rename_file(seg, LOG_SEGMENT_LOG_EXT, suffix, NULL);
    if (err == KERR_NONE)
        err = seg_rename_file(seg, LOG_SEGMENT_TXN_INDEX_EXT, suffix, NULL);
    if (err == KERR_NONE)
        err = seg_rename_file(seg, LOG_SEGMENT_INDEX_EXT, suffix, &oi_path);
    if (err == KERR_NONE)
        err = seg_rename_file(seg, LOG_SEGMENT_TIME_INDEX_EXT, suffix, &ti_path);
    if (err != KERR_NONE) {
        /* Put back what was renamed so that the names stay consistent. */
        char *cur = seg->suffix;
        seg->suffix = mem_strdup(suffix ? suffix : "");
        seg_rename_file(seg, LOG_SEGMENT_LOG_EXT, cur, NULL);
        seg_rename_file(seg, LOG_SEGMENT_TXN_INDEX_EXT, cur, NULL);
        seg_rename_file(seg, LOG_SEGMENT_INDEX_EXT, cur, NULL);
        free(seg->suffix);
        seg->suffix = cur;
        free(oi_path);
        return err;
    }
    index_file_rename(&seg->oi.file, oi_path, false);
    index_file_rename(&seg->ti.file, ti_path, false);
    free(oi_path);
    free(ti_path);
    free(seg->suffix);
    seg->suffix = mem_strdup(suffix ? suffix : "");
    return KERR_NONE;
}

void log_segment_set_dir(log_segment_t *seg, const char *dir) {
    free(seg->dir);
    seg->dir = mem_strdup(dir);
    char *oi_path = seg_path(seg, LOG_SEGMENT_INDEX_EXT);
    char *ti_path = seg_path(seg, LOG_SEGMENT_TIME_INDEX_EXT);
    if (oi_path)
        index_file_rename(&seg->oi.file, oi_path, false);
    if (ti_path)
        index_file_rename(&seg->ti.file, ti_path, false);
    free(oi_path);
    free(ti_path);
}

/* --- roll decisions and accessors ----------------------------------------- */

/* Kafka's loadFirstBatchTimestamp: lazily, the first batch's max timestamp. */
static void seg_load_first_batch_timestamp(log_segment_t *seg) {
    if (seg->rolling_ts_known || seg->size == 0 || seg_map(seg, seg->size) != KERR_NONE)
        return;
    batch_header_t h;
    if (seg_batch_at(seg, 0, &h) > 0) {
        seg->rolling_ts_known = true;
        seg->rolling_ts = h.max_timestamp;
    }
}

int64_t log_segment_time_waited_for_roll(log_segment_t *seg, int64_t now_ms, int64_t message_timestamp) {
    seg_load_first_batch_timestamp(seg);
    int64_t waited;
    bool overflow = seg->rolling_ts_known && seg->rolling_ts >= 0
                        ? __builtin_sub_overflow(message_timestamp, seg->rolling_ts, &waited)
                        : __builtin_sub_overflow(now_ms, seg->created_ms, &waited);
    return overflow ? INT64_MIN : waited; /* only a hugely negative timestamp can overflow */
}

int64_t log_segment_first_batch_timestamp(log_segment_t *seg) {
    seg_load_first_batch_timestamp(seg);
    return seg->rolling_ts_known && seg->rolling_ts >= 0 ? seg->rolling_ts : INT64_MAX;
}

bool log_segment_should_roll(log_segment_t *seg, const log_segment_roll_params_t *p) {
    bool reached_ms =
        log_segment_time_waited_for_roll(seg, p->now_ms, p->max_timestamp_in_messages) >
        p->max_segment_ms - p->roll_jitter_ms;
    bool too_big = p->messages_size > p->max_segment_bytes ||
                   (uint64_t)seg->size > p->max_segment_bytes - p->messages_size;
    return too_big || (seg->size > 0 && reached_ms) || log_segment_indexes_full(seg) ||
           !log_segment_can_convert_offset(seg, p->max_offset_in_messages);
}

int64_t log_segment_base_offset(const log_segment_t *seg) { return seg->base_offset; }
uint32_t log_segment_size(const log_segment_t *seg) { return seg->size; }
int log_segment_fd(const log_segment_t *seg) { return seg->fd; }
int64_t log_segment_created_ms(const log_segment_t *seg) { return seg->created_ms; }
int64_t log_segment_max_timestamp(const log_segment_t *seg) { return seg->max_timestamp; }
int64_t log_segment_offset_of_max_timestamp(const log_segment_t *seg) { return seg->offset_of_max_timestamp; }

int64_t log_segment_last_modified_ms(const log_segment_t *seg) {
    struct stat st;
    if (fstat(seg->fd, &st) != 0)
        return 0;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

int64_t log_segment_largest_timestamp(const log_segment_t *seg) {
    return seg->max_timestamp >= 0 ? seg->max_timestamp : log_segment_last_modified_ms(seg);
}

bool log_segment_can_convert_offset(const log_segment_t *seg, int64_t offset) {
    return index_file_can_append_offset(&seg->oi.file, offset);
}

bool log_segment_indexes_full(const log_segment_t *seg) {
    return offset_index_full(&seg->oi) || time_index_full(&seg->ti);
}

const offset_index_t *log_segment_offset_index(const log_segment_t *seg) { return &seg->oi; }
const time_index_t *log_segment_time_index(const log_segment_t *seg) { return &seg->ti; }
