#include "log/cleaner.h"

#include "util/clock.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "util/errmsg.h"
#include "util/logger.h"
#include "util/mem.h"
#include "log/record_batch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CLEANER_TAG "log-cleaner"
#define CLEANER_PATH_MAX 4096
/* Segment bytes read at a time (a batch larger than this is read whole). */
#define CLEANER_READ_CHUNK (1u << 20)

void cleaner_config_from(const config_t *broker, cleaner_config_t *out) {
    int64_t dedupe = config_get_long(broker, "log.cleaner.dedupe.buffer.size");
    *out = (cleaner_config_t){
        .dedupe_buffer_bytes = dedupe > 0 ? (size_t)dedupe : 0,
        .dedupe_load_factor = config_get_double(broker, "log.cleaner.io.buffer.load.factor"),
        .io_max_bytes_per_sec = config_get_double(broker, "log.cleaner.io.max.bytes.per.second"),
        .backoff_ms = config_get_long(broker, "log.cleaner.backoff.ms"),
    };
}

/* --- the key -> offset map ----------------------------------------------------- */

/* 24 bytes, as Kafka's slot (16-byte MD5 + 8-byte offset). */
typedef struct cleaner_slot {
    uint64_t h1, h2;
    int64_t offset; /* -1: empty */
} cleaner_slot_t;

struct cleaner_map {
    cleaner_slot_t *slots;
    size_t nslots;
    size_t max_entries; /* nslots * load factor */
    size_t entries;
};

/* MurmurHash64A: two seeds give the 128 bits a key is known by. */
static uint64_t cleaner_hash64(const uint8_t *data, size_t len, uint64_t seed) {
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    uint64_t h = seed ^ (len * m);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t k;
        memcpy(&k, data + i, 8);
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    uint64_t tail = 0;
    for (size_t j = len - i; j > 0; j--)
        tail = (tail << 8) | data[i + j - 1];
    if (len - i) {
        h ^= tail;
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

cleaner_map_t *cleaner_map_new(size_t bytes, double load_factor) {
    cleaner_map_t *m = mem_calloc(1, sizeof *m);
    m->nslots = bytes / sizeof(cleaner_slot_t);
    if (m->nslots == 0)
        m->nslots = 1;
    if (load_factor <= 0 || load_factor > 1)
        load_factor = 0.9;
    m->max_entries = (size_t)((double)m->nslots * load_factor);
    if (m->max_entries >= m->nslots)
        m->max_entries = m->nslots - 1; /* a probe must always meet an empty slot */
    m->slots = mem_alloc(m->nslots * sizeof *m->slots);
    cleaner_map_clear(m);
    return m;
}

void cleaner_map_free(cleaner_map_t *m) {
    if (!m)
        return;
    free(m->slots);
    free(m);
}

void cleaner_map_clear(cleaner_map_t *m) {
    for (size_t i = 0; i < m->nslots; i++)
        m->slots[i].offset = -1;
    m->entries = 0;
}

/* The slot holding the key's hash, or the empty slot where it would go. */
static cleaner_slot_t *cleaner_map_probe(const cleaner_map_t *m, const uint8_t *key, size_t len) {
    uint64_t h1 = cleaner_hash64(key, len, 0x736f6d6570736575ULL);
    uint64_t h2 = cleaner_hash64(key, len, 0x646f72616e646f6dULL);
    size_t i = (size_t)(h1 % m->nslots);
    for (;;) {
        cleaner_slot_t *s = &m->slots[i];
        if (s->offset < 0) {
            s->h1 = h1;
            s->h2 = h2;
            return s;
        }
        if (s->h1 == h1 && s->h2 == h2)
            return s;
        i = i + 1 == m->nslots ? 0 : i + 1;
    }
}

bool cleaner_map_put(cleaner_map_t *m, const uint8_t *key, size_t len, int64_t offset) {
    cleaner_slot_t *s = cleaner_map_probe(m, key, len);
    if (s->offset < 0) {
        if (m->entries >= m->max_entries)
            return false;
        m->entries++;
    }
    s->offset = offset;
    return true;
}

int64_t cleaner_map_get(const cleaner_map_t *m, const uint8_t *key, size_t len) {
    return cleaner_map_probe(m, key, len)->offset;
}

size_t cleaner_map_size(const cleaner_map_t *m) { return m->entries; }
size_t cleaner_map_capacity(const cleaner_map_t *m) { return m->max_entries; }

/* --- choosing ------------------------------------------------------------------ */

/* Kafka's cleanableOffsets: the cleanable part ends at the active segment,
 * at the first segment the high watermark has not passed (consumers must
 * not see a record vanish that they could not read yet) and at the first
 * segment holding records younger than min.compaction.lag.ms. */
static int64_t cleaner_first_uncleanable(const log_clean_view_t *v, int64_t now_ms) {
    int64_t end = v->active_base;
    for (size_t i = 0; i < v->nsegs; i++) {
        const log_clean_segment_t *s = &v->segs[i];
        bool too_young = v->cfg.min_compaction_lag_ms > 0 &&
                         s->largest_timestamp > now_ms - v->cfg.min_compaction_lag_ms;
        if (s->next_offset > v->high_watermark || too_young) {
            end = s->base_offset;
            break;
        }
    }
    return end;
}

static void cleaner_assess_view(const log_clean_view_t *v, int64_t now_ms, cleaner_dirt_t *out) {
    *out = (cleaner_dirt_t){.first_dirty = v->first_dirty};
    out->first_uncleanable = cleaner_first_uncleanable(v, now_ms);
    for (size_t i = 0; i < v->nsegs && v->segs[i].next_offset <= out->first_uncleanable; i++) {
        if (v->segs[i].next_offset <= v->first_dirty)
            out->clean_bytes += v->segs[i].size;
        else
            out->dirty_bytes += v->segs[i].size;
    }
    uint64_t total = out->clean_bytes + out->dirty_bytes;
    out->ratio = total ? (double)out->dirty_bytes / (double)total : 0;
    out->cleanable = v->cfg.compacted && out->dirty_bytes > 0 && out->ratio > v->cfg.min_cleanable_ratio;
}

void cleaner_assess(log_t *log, int64_t now_ms, cleaner_dirt_t *out) {
    log_clean_view_t v;
    if (log_clean_view_take(log, false, &v) != KERR_NONE) {
        *out = (cleaner_dirt_t){0};
        return;
    }
    cleaner_assess_view(&v, now_ms, out);
    log_clean_view_free(&v);
}

/* --- a job ------------------------------------------------------------------------ */

/* Segments [first, first + count) of the view become one new segment. */
typedef struct cleaner_group {
    size_t first;
    size_t count;
} cleaner_group_t;

struct cleaner_job {
    char *topic;
    int32_t partition;
    log_clean_view_t view;
    cleaner_dirt_t dirt;
    int64_t delete_horizon_ms;
    cleaner_group_t *groups;
    size_t ngroups;
    size_t written;   /* groups whose .cleaned files exist */
    size_t committed; /* groups swapped in */
    cleaner_stats_t stats;
};

/* Kafka's deleteHorizonMs: the mtime of the last segment cleaned before,
 * minus delete.retention.ms (0 when nothing was cleaned: every tombstone
 * stays). */
static int64_t cleaner_delete_horizon(const log_clean_view_t *v) {
    const log_clean_segment_t *last_clean = NULL;
    for (size_t i = 0; i < v->nsegs && v->segs[i].base_offset < v->first_dirty; i++)
        last_clean = &v->segs[i];
    if (!last_clean)
        return 0;
    return last_clean->last_modified_ms - v->cfg.delete_retention_ms;
}

cleaner_job_t *cleaner_job_new(log_t *log, const char *topic, int32_t partition, int64_t now_ms) {
    if (!log_get_config(log)->compacted)
        return NULL;
    cleaner_job_t *job = mem_calloc(1, sizeof *job);
    if (log_clean_view_take(log, true, &job->view) != KERR_NONE) {
        free(job);
        return NULL;
    }
    cleaner_assess_view(&job->view, now_ms, &job->dirt);
    if (!job->dirt.cleanable) {
        cleaner_job_free(job);
        return NULL;
    }
    job->topic = mem_strdup(topic);
    job->partition = partition;
    job->delete_horizon_ms = cleaner_delete_horizon(&job->view);
    return job;
}

const char *cleaner_job_topic(const cleaner_job_t *job) { return job->topic; }
int32_t cleaner_job_partition(const cleaner_job_t *job) { return job->partition; }
const cleaner_stats_t *cleaner_job_stats(const cleaner_job_t *job) { return &job->stats; }

void cleaner_job_free(cleaner_job_t *job) {
    if (!job)
        return;
    for (size_t g = job->committed; g < job->written; g++)
        log_segment_unlink_files(job->view.dir, job->view.segs[job->groups[g].first].base_offset,
                                 LOG_SEGMENT_CLEANED_SUFFIX);
    log_clean_view_free(&job->view);
    free(job->groups);
    free(job->topic);
    free(job);
}

/* --- reading segments, throttled --------------------------------------------------- */

/* Kafka's Throttler: read plus written bytes at most rate per second over
 * the run, sleeping in slices so that a stop is seen soon. */
typedef struct cleaner_throttle {
    double rate;
    int64_t start_us;
    uint64_t bytes;
    const atomic_bool *stop;
} cleaner_throttle_t;

static bool cleaner_stopped(const cleaner_throttle_t *t) { return t->stop && atomic_load(t->stop); }

static void cleaner_throttle(cleaner_throttle_t *t, uint64_t bytes) {
    t->bytes += bytes;
    if (t->rate <= 0 || t->rate >= 1e300) /* the default, Double.MaxValue: no bound */
        return;
    for (;;) {
        double due_us = (double)t->bytes / t->rate * 1e6;
        int64_t ahead_us = (int64_t)due_us - (clock_mono_us() - t->start_us);
        if (ahead_us <= 0 || cleaner_stopped(t))
            return;
        int64_t slice = ahead_us < 100000 ? ahead_us : 100000;
        struct timespec ts = {slice / 1000000, (slice % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Batches of one segment through a dup'd fd: pread in chunks, never a
 * mapping (a truncation meanwhile makes reads short, not SIGBUS). */
typedef struct cleaner_reader {
    int fd;
    uint32_t size;
    uint64_t buf_pos; /* file position of buf.data[0] */
    size_t at;        /* next batch in buf */
    buf_t buf;
    size_t chunk;
    cleaner_throttle_t *throttle;
    cleaner_stats_t *stats;
} cleaner_reader_t;

static void cleaner_reader_start(cleaner_reader_t *rd, const log_clean_segment_t *seg) {
    rd->fd = seg->fd;
    rd->size = seg->size;
    rd->buf_pos = 0;
    rd->at = 0;
    buf_reset(&rd->buf);
}

/* Makes n bytes from rd->at available. 1 yes, 0 the segment ends first, -1
 * an I/O error. */
static int cleaner_reader_fill(cleaner_reader_t *rd, size_t n) {
    if (rd->buf.len - rd->at >= n)
        return 1;
    if (rd->buf_pos + rd->at + n > rd->size)
        return 0;
    if (rd->at > 0) /* the bytes not consumed yet move to the front */
        memmove(rd->buf.data, rd->buf.data + rd->at, rd->buf.len - rd->at);
    rd->buf.len -= rd->at;
    rd->buf_pos += rd->at;
    rd->at = 0;
    size_t want = n - rd->buf.len;
    if (want < rd->chunk)
        want = rd->chunk;
    if (rd->buf_pos + rd->buf.len + want > rd->size)
        want = rd->size - (rd->buf_pos + rd->buf.len);
    buf_reserve(&rd->buf, want);
    while (rd->buf.len < n) {
        ssize_t got = pread(rd->fd, rd->buf.data + rd->buf.len, want, (off_t)(rd->buf_pos + rd->buf.len));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? -1 : 0;
        rd->buf.len += (size_t)got;
        want -= (size_t)got;
        rd->stats->bytes_read += (uint64_t)got;
        cleaner_throttle(rd->throttle, (uint64_t)got);
    }
    return 1;
}

/* 1 and the next whole, CRC-checked batch; 0 at the end; else the error. */
static int cleaner_reader_next(cleaner_reader_t *rd, const uint8_t **batch, batch_header_t *h, kerr_t *err) {
    int r = cleaner_reader_fill(rd, BATCH_HEADER_SIZE);
    if (r == 1) {
        batch_header_read(rd->buf.data + rd->at, h);
        r = h->batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD ? -2 : cleaner_reader_fill(rd, batch_size(h));
    }
    if (r == 1 && batch_check(rd->buf.data + rd->at, rd->buf.len - rd->at, rd->size, h) != BATCH_OK)
        r = -2;
    if (r == 0 && rd->buf_pos + rd->at == rd->size)
        return 0; /* the end of the data is the end of the segment */
    if (r != 1) {
        *err = r == -1 ? KERR_KAFKA_STORAGE_ERROR : KERR_CORRUPT_MESSAGE;
        return -1;
    }
    *batch = rd->buf.data + rd->at;
    rd->at += batch_size(h);
    return 1;
}

/* --- building the map ------------------------------------------------------------- */

/* Kafka's buildOffsetMap: every keyed record of the dirty segments from
 * first_dirty on; *end gets the first offset not in the map (the first
 * uncleanable offset when everything fitted). */
static kerr_t cleaner_build_map(cleaner_job_t *job, cleaner_map_t *map, cleaner_reader_t *rd, int64_t *end) {
    const log_clean_view_t *v = &job->view;
    cleaner_map_clear(map);
    *end = job->dirt.first_uncleanable;
    for (size_t i = 0; i < v->nsegs && v->segs[i].next_offset <= job->dirt.first_uncleanable; i++) {
        if (v->segs[i].next_offset <= job->dirt.first_dirty)
            continue;
        cleaner_reader_start(rd, &v->segs[i]);
        const uint8_t *batch;
        batch_header_t h;
        kerr_t err = KERR_NONE;
        int r;
        while ((r = cleaner_reader_next(rd, &batch, &h, &err)) == 1) {
            if (cleaner_stopped(rd->throttle))
                return KERR_UNKNOWN_SERVER_ERROR;
            if (batch_is_control(&h) || batch_last_offset(&h) < job->dirt.first_dirty)
                continue;
            record_iter_t it;
            record_t rec;
            err = record_iter_init(&it, batch, batch_size(&h), LOG_SEGMENT_MAX_DECOMPRESSED);
            while (err == KERR_NONE && (r = record_iter_next(&it, &rec)) == 1) {
                int64_t offset = h.base_offset + rec.offset_delta;
                if (offset < job->dirt.first_dirty || !rec.key)
                    continue;
                if (!cleaner_map_put(map, rec.key, (size_t)rec.key_len, offset)) {
                    record_iter_free(&it);
                    *end = offset;
                    return KERR_NONE;
                }
            }
            if (err == KERR_NONE && r < 0)
                err = it.err;
            record_iter_free(&it);
            if (err != KERR_NONE)
                return err;
        }
        if (r < 0)
            return err;
    }
    return KERR_NONE;
}

/* --- recopying ---------------------------------------------------------------------- */

/* Kafka's groupSegmentsBySize: consecutive segments below end whose sizes
 * add up to at most segment.bytes and whose offsets fit one segment's
 * relative offsets. One departure: a group never mixes segments cleaned
 * before with dirty ones. The delete horizon comes from the newest cleaned
 * segment; were the dirty part merged into the cleaned one, in a small log
 * that one segment would hold the tombstones too, and they would never be
 * older than the horizon (KAFKA-8522). Kept apart, the newest cleaned
 * segment is the newest data, and with cleaner_set_mtime's rule a tombstone
 * goes at the first pass after the log holds data delete.retention.ms
 * newer than it. */
static void cleaner_group_segments(cleaner_job_t *job, int64_t end) {
    const log_clean_view_t *v = &job->view;
    size_t n = 0;
    while (n < v->nsegs && v->segs[n].base_offset < end)
        n++;
    job->groups = mem_alloc((n ? n : 1) * sizeof *job->groups);
    for (size_t i = 0; i < n;) {
        cleaner_group_t g = {i, 1};
        uint64_t bytes = v->segs[i].size;
        while (i + g.count < n) {
            const log_clean_segment_t *next = &v->segs[i + g.count];
            bool was_clean = v->segs[i].next_offset <= job->dirt.first_dirty;
            if (bytes + next->size > v->cfg.segment_bytes ||
                next->next_offset - 1 - v->segs[i].base_offset > INT32_MAX ||
                (next->next_offset <= job->dirt.first_dirty) != was_clean)
                break;
            bytes += next->size;
            g.count++;
        }
        job->groups[job->ngroups++] = g;
        i += g.count;
    }
}

/* Kafka's shouldRetainRecord: past the map, or the latest for its key
 * (a record without a key goes: it cannot be told from the others). A
 * tombstone stays while its segment is not past the delete horizon. */
static bool cleaner_retain(const cleaner_map_t *map, int64_t map_end, const record_t *r, int64_t offset,
                           bool retain_deletes) {
    if (offset >= map_end)
        return true;
    if (!r->key)
        return false;
    int64_t latest = cleaner_map_get(map, r->key, (size_t)r->key_len);
    return offset >= latest && (r->value || retain_deletes);
}

/* Writes the header of a rewritten batch into out (records already at
 * out->data + at + BATCH_HEADER_SIZE): original header, new length, count,
 * max timestamp and codec bits, then the CRC. */
static void cleaner_seal_batch(buf_t *out, size_t at, const uint8_t *orig, int16_t attributes, int32_t count,
                               int64_t first_ts, int64_t max_ts) {
    uint8_t *b = out->data + at;
    memcpy(b, orig, BATCH_HEADER_SIZE);
    be32_store(b + BATCH_OFF_LENGTH, (uint32_t)(out->len - at - BATCH_LOG_OVERHEAD));
    be16_store(b + BATCH_OFF_ATTRIBUTES, (uint16_t)attributes);
    be64_store(b + BATCH_OFF_FIRST_TIMESTAMP, (uint64_t)first_ts);
    be64_store(b + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)max_ts);
    be32_store(b + BATCH_OFF_RECORDS_COUNT, (uint32_t)count);
    be32_store(b + BATCH_OFF_CRC, crc32c(0, b + BATCH_OFF_ATTRIBUTES, out->len - at - BATCH_OFF_ATTRIBUTES));
}

/* What survives of one batch. */
typedef struct cleaner_filtered {
    buf_t records;  /* the retained records' bytes, uncompressed */
    int32_t kept;
    int32_t tombstones_kept;
    int64_t max_ts; /* of the retained records (CreateTime) */
} cleaner_filtered_t;

static kerr_t cleaner_filter_batch(const cleaner_map_t *map, int64_t map_end,
                                   const uint8_t *batch, const batch_header_t *h, bool retain_deletes,
                                   cleaner_filtered_t *f, cleaner_stats_t *stats) {
    buf_reset(&f->records);
    f->kept = 0;
    f->tombstones_kept = 0;
    f->max_ts = -1;
    record_iter_t it;
    record_t rec;
    kerr_t err = record_iter_init(&it, batch, batch_size(h), LOG_SEGMENT_MAX_DECOMPRESSED);
    int r = 0;
    while (err == KERR_NONE) {
        const uint8_t *from = it.pos;
        if ((r = record_iter_next(&it, &rec)) != 1)
            break;
        int64_t offset = h->base_offset + rec.offset_delta;
        stats->records_read++;
        if (!cleaner_retain(map, map_end, &rec, offset, retain_deletes)) {
            if (rec.key && !rec.value)
                stats->tombstones_dropped++;
            continue;
        }
        /* Offset and timestamp deltas are relative to the batch's base
         * offset and first timestamp, which stay: the bytes are reusable. */
        buf_append(&f->records, from, (size_t)(it.pos - from));
        f->kept++;
        f->tombstones_kept += !rec.value;
        int64_t ts = h->first_timestamp + rec.timestamp_delta;
        if (ts > f->max_ts)
            f->max_ts = ts;
    }
    if (err == KERR_NONE && r < 0)
        err = it.err;
    record_iter_free(&it);
    return err;
}

/* Kafka's writeEmptyHeader: the batch with no records and no codec, both
 * timestamps its max; offsets and producer fields stay. */
static void cleaner_write_empty_batch(const uint8_t *orig, const batch_header_t *h, buf_t *out) {
    size_t at = out->len;
    buf_extend(out, BATCH_HEADER_SIZE);
    int16_t attrs = (int16_t)(h->attributes & ~BATCH_ATTR_COMPRESSION_MASK);
    cleaner_seal_batch(out, at, orig, attrs, 0, h->max_timestamp, h->max_timestamp);
}

/* The batch as it goes into the cleaned segment, appended to out; nothing
 * when none of its records stays. */
static kerr_t cleaner_rewrite_batch(const cleaner_filtered_t *f, const uint8_t *batch, const batch_header_t *h,
                                    buf_t *out) {
    size_t at = out->len;
    if (f->kept == h->records_count) {
        buf_append(out, batch, batch_size(h));
        return KERR_NONE;
    }
    if (f->kept == 0)
        return KERR_NONE;
    buf_extend(out, BATCH_HEADER_SIZE);
    compression_t codec = batch_compression(h);
    if (codec == COMPRESSION_NONE) {
        buf_append(out, f->records.data, f->records.len);
    } else {
        kerr_t err = compress_append(codec, f->records.data, f->records.len, out);
        if (err != KERR_NONE) {
            out->len = at;
            return err;
        }
    }
    int64_t max_ts = batch_is_log_append_time(h) ? h->max_timestamp : f->max_ts;
    cleaner_seal_batch(out, at, batch, h->attributes, f->kept, h->first_timestamp, max_ts);
    return KERR_NONE;
}

/* The cleaned segment's mtime: Kafka's is the last replaced segment's, so
 * that a segment's age carries over. But merged, tombstones written long
 * before would take the newest segment's age at every pass and never go
 * (KAFKA-8522); so the mtime is the oldest of the segments the kept
 * tombstones came from, when that is older. Tombstones never go earlier
 * than in Kafka for it: an older last cleaned segment only moves the
 * horizon back. */
static void cleaner_set_mtime(const char *dir, int64_t base, int64_t mtime_ms) {
    char path[CLEANER_PATH_MAX];
    if (log_segment_filename(path, sizeof path, dir, base, LOG_SEGMENT_LOG_EXT, LOG_SEGMENT_CLEANED_SUFFIX) < 0)
        return;
    struct timespec times[2] = {{.tv_nsec = UTIME_OMIT},
                                {mtime_ms / 1000, (mtime_ms % 1000) * 1000000}};
    if (utimensat(AT_FDCWD, path, times, 0) != 0)
        log_warn(CLEANER_TAG, "cannot set the mtime of %s: %s", path, strerror(errno));
}

static kerr_t cleaner_append(cleaner_job_t *job, log_segment_t *out, const buf_t *batches, int64_t *out_next,
                             cleaner_throttle_t *throttle) {
    batch_header_t nh;
    batch_header_read(batches->data, &nh);
    kerr_t err = log_segment_append(out, batches->data, batches->len, batch_last_offset(&nh), nh.max_timestamp,
                                    batch_last_offset(&nh));
    *out_next = batch_next_offset(&nh);
    job->stats.bytes_written += batches->len;
    cleaner_throttle(throttle, batches->len);
    return err;
}

/* One group into "<base>.log.cleaned" (+ indexes), fsynced. Crash recovery
 * takes a .swap to replace the segments whose base offsets lie below its
 * end (Kafka's readNextOffset); the first one it replaces by name in any
 * case. So when a group of several segments would end before the base of
 * its last one holding data, the group's last batch is kept, empty, to
 * cover them (an empty segment left behind would hold nothing stale);
 * otherwise no empty batch is written (librdkafka takes a fetch answered
 * with nothing but empty batches for a too small fetch size). */
static kerr_t cleaner_clean_group(cleaner_job_t *job, const cleaner_group_t *g, const cleaner_map_t *map,
                                  int64_t map_end, cleaner_reader_t *rd) {
    const log_clean_view_t *v = &job->view;
    const log_clean_segment_t *first = &v->segs[g->first], *last = &v->segs[g->first + g->count - 1];
    log_segment_config_t sc = {v->cfg.index_interval_bytes, v->cfg.max_index_bytes, v->cfg.segment_bytes};
    log_segment_t *out;
    kerr_t err = log_segment_create(v->dir, first->base_offset, &sc, LOG_SEGMENT_CLEANED_SUFFIX, &out);
    if (err != KERR_NONE)
        return err;
    job->written++; /* from now on cleaner_job_free removes the files */
    cleaner_filtered_t f = {.records = BUF_INIT};
    buf_t batch_out = BUF_INIT;
    uint8_t last_batch[BATCH_HEADER_SIZE];
    batch_header_t last_h = {.base_offset = -1};
    int64_t out_next = first->base_offset;
    int64_t mtime = last->last_modified_ms;
    for (size_t i = 0; err == KERR_NONE && i < g->count; i++) {
        const log_clean_segment_t *seg = &v->segs[g->first + i];
        bool retain_deletes = seg->last_modified_ms > job->delete_horizon_ms;
        cleaner_reader_start(rd, seg);
        const uint8_t *batch;
        batch_header_t h;
        int r;
        while (err == KERR_NONE && (r = cleaner_reader_next(rd, &batch, &h, &err)) == 1) {
            if (cleaner_stopped(rd->throttle)) {
                err = KERR_UNKNOWN_SERVER_ERROR;
                break;
            }
            memcpy(last_batch, batch, BATCH_HEADER_SIZE);
            last_h = h;
            buf_reset(&batch_out);
            if (batch_is_control(&h)) {
                buf_append(&batch_out, batch, batch_size(&h));
            } else {
                err = cleaner_filter_batch(map, map_end, batch, &h, retain_deletes, &f, &job->stats);
                if (err == KERR_NONE)
                    err = cleaner_rewrite_batch(&f, batch, &h, &batch_out);
                job->stats.records_kept += err == KERR_NONE ? (uint64_t)f.kept : 0;
                if (f.tombstones_kept > 0 && seg->last_modified_ms < mtime)
                    mtime = seg->last_modified_ms;
            }
            if (err == KERR_NONE && batch_out.len > 0)
                err = cleaner_append(job, out, &batch_out, &out_next, rd->throttle);
        }
        if (err == KERR_NONE && r < 0)
            err = KERR_CORRUPT_MESSAGE;
    }
    const log_clean_segment_t *last_data = last; /* an empty segment left over needs no covering */
    while (last_data > first && last_data->size == 0)
        last_data--;
    if (err == KERR_NONE && last_data > first && out_next <= last_data->base_offset && last_h.base_offset >= 0) {
        buf_reset(&batch_out);
        cleaner_write_empty_batch(last_batch, &last_h, &batch_out);
        err = cleaner_append(job, out, &batch_out, &out_next, rd->throttle);
    }
    buf_free(&f.records);
    buf_free(&batch_out);
    if (err == KERR_NONE)
        err = log_segment_on_roll(out);
    if (err == KERR_NONE)
        err = log_segment_flush(out);
    kerr_t closed = log_segment_close(out);
    if (err == KERR_NONE)
        err = closed;
    if (err == KERR_NONE)
        cleaner_set_mtime(v->dir, first->base_offset, mtime);
    return err;
}

kerr_t cleaner_job_run(cleaner_job_t *job, cleaner_map_t *map, double io_max_bytes_per_sec, const atomic_bool *stop) {
    int64_t t0 = clock_mono_ms();
    cleaner_throttle_t throttle = {io_max_bytes_per_sec, clock_mono_us(), 0, stop};
    cleaner_reader_t rd = {.chunk = CLEANER_READ_CHUNK, .throttle = &throttle, .stats = &job->stats};
    buf_init(&rd.buf);
    int64_t end;
    kerr_t err = cleaner_build_map(job, map, &rd, &end);
    if (err == KERR_NONE && end <= job->dirt.first_dirty) {
        log_warn(CLEANER_TAG, "%s: the dedupe buffer cannot hold the keys of one record batch", job->view.dir);
        err = KERR_UNKNOWN_SERVER_ERROR;
    }
    if (err == KERR_NONE) {
        job->stats.end_offset = end;
        cleaner_group_segments(job, end);
        for (size_t g = 0; err == KERR_NONE && g < job->ngroups; g++)
            err = cleaner_clean_group(job, &job->groups[g], map, end, &rd);
        job->stats.groups = job->ngroups;
    }
    buf_free(&rd.buf);
    job->stats.elapsed_ms = clock_mono_ms() - t0;
    if (err != KERR_NONE && !(stop && atomic_load(stop)))
        log_warn(CLEANER_TAG, "cleaning %s failed: %s", job->view.dir, kerr_name(err));
    return err;
}

kerr_t cleaner_job_commit(cleaner_job_t *job, log_t *log, int64_t now_ms, int *crash_after_steps) {
    uint64_t generation = job->view.generation;
    for (; job->committed < job->ngroups; job->committed++) {
        const cleaner_group_t *g = &job->groups[job->committed];
        kerr_t err = log_replace_with_cleaned(log, &generation, job->view.segs[g->first].base_offset, g->count,
                                              now_ms, crash_after_steps);
        if (err != KERR_NONE) {
            if (err == KERR_UNKNOWN_SERVER_ERROR)
                job->committed++; /* refused: the log removed that group's files */
            return err;
        }
    }
    log_set_cleaner_checkpoint(log, job->stats.end_offset);
    return KERR_NONE;
}

/* --- the thread ------------------------------------------------------------------------ */

struct cleaner {
    cleaner_config_t cfg;     /* immutable */
    cleaner_map_t *map;       /* owner: the cleaner thread */
    pthread_t thread;
    atomic_bool stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cleaner_job_t *pending;   /* under: mu; submitted, not started */
    bool running;             /* under: mu; a job is on the thread */
    cleaner_job_t *done;      /* under: mu; finished, not taken */
    kerr_t done_result;       /* under: mu */
};

static void *cleaner_main(void *arg) {
    cleaner_t *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->pending && !atomic_load(&c->stopping))
            pthread_cond_wait(&c->cv, &c->mu);
        if (atomic_load(&c->stopping))
            break;
        cleaner_job_t *job = c->pending;
        c->pending = NULL;
        c->running = true;
        pthread_mutex_unlock(&c->mu);
        kerr_t err = cleaner_job_run(job, c->map, c->cfg.io_max_bytes_per_sec, &c->stopping);
        pthread_mutex_lock(&c->mu);
        c->running = false;
        c->done = job;
        c->done_result = err;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

cleaner_t *cleaner_start(const cleaner_config_t *cfg, char *err, size_t errlen) {
    cleaner_t *c = mem_calloc(1, sizeof *c);
    c->cfg = *cfg;
    c->map = cleaner_map_new(cfg->dedupe_buffer_bytes, cfg->dedupe_load_factor);
    atomic_init(&c->stopping, false);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    int rc = pthread_create(&c->thread, NULL, cleaner_main, c);
    if (rc != 0) {
        errmsg_set(err, errlen, "cannot start the log cleaner thread: %s", strerror(rc));
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        cleaner_map_free(c->map);
        free(c);
        return NULL;
    }
    pthread_setname_np(c->thread, "log-cleaner");
    if (cfg->io_max_bytes_per_sec > 0 && cfg->io_max_bytes_per_sec < 1e300)
        log_info(CLEANER_TAG, "started: dedupe buffer of %zu keys, at most %.0f bytes/s",
                 cleaner_map_capacity(c->map), cfg->io_max_bytes_per_sec);
    else
        log_info(CLEANER_TAG, "started: dedupe buffer of %zu keys, unthrottled", cleaner_map_capacity(c->map));
    return c;
}

void cleaner_stop(cleaner_t *c) {
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->stopping, true);
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    cleaner_job_free(c->pending);
    cleaner_job_free(c->done);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    cleaner_map_free(c->map);
    free(c);
}

bool cleaner_idle(cleaner_t *c) {
    pthread_mutex_lock(&c->mu);
    bool idle = !c->pending && !c->running && !c->done;
    pthread_mutex_unlock(&c->mu);
    return idle;
}

void cleaner_submit(cleaner_t *c, cleaner_job_t *job) {
    pthread_mutex_lock(&c->mu);
    c->pending = job;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

cleaner_job_t *cleaner_take_done(cleaner_t *c, kerr_t *result) {
    pthread_mutex_lock(&c->mu);
    cleaner_job_t *job = c->done;
    *result = c->done_result;
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    return job;
}

const cleaner_config_t *cleaner_config(const cleaner_t *c) { return &c->cfg; }
