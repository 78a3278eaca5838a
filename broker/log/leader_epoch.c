#include "log/leader_epoch.h"

#include "util/errmsg.h"
#include "util/file.h"
#include "util/buf.h"
#include "log/checkpoint.h"
#include "util/logger.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct leader_epoch_cache {
    char *path;                     /* NULL: memory only */
    leader_epoch_entry_t *entries;  /* ascending in epoch and in start offset */
    size_t count;
    size_t cap;
    bool dirty; /* changed in memory by a deferred assign, file not written yet */
    uint64_t version; /* a new le_next_version() at creation and at every change */
};

/* Versions are unique in the process, not only per cache: a writer that
 * copied a cache's entries (leader_epoch_serialize) tells by the version
 * that the cache is unchanged AND is the same cache, not a new one made for
 * a log re-created at the same path. */
static _Atomic uint64_t le_last_version;

static uint64_t le_next_version(void) { return atomic_fetch_add(&le_last_version, 1) + 1; }

static const char *le_name(const leader_epoch_cache_t *cache) {
    return cache->path ? cache->path : "(memory)";
}

leader_epoch_cache_t *leader_epoch_new(const char *path) {
    leader_epoch_cache_t *cache = mem_calloc(1, sizeof *cache);
    cache->path = path ? mem_strdup(path) : NULL;
    cache->version = le_next_version();
    return cache;
}

void leader_epoch_free(leader_epoch_cache_t *cache) {
    if (!cache)
        return;
    free(cache->path);
    free(cache->entries);
    free(cache);
}

const char *leader_epoch_path(const leader_epoch_cache_t *cache) { return cache->path; }

/* --- the assign rule ---------------------------------------------------------- */

static void push_entry(leader_epoch_cache_t *cache, int32_t epoch, int64_t start_offset) {
    if (cache->count == cache->cap) {
        cache->cap = cache->cap ? cache->cap * 2 : 8;
        cache->entries = mem_realloc(cache->entries, cache->cap * sizeof *cache->entries);
    }
    cache->entries[cache->count].epoch = epoch;
    cache->entries[cache->count].start_offset = start_offset;
    cache->count++;
}

/* Kafka's assign(entry) without the flush. An update is needed unless the
 * epoch is the latest one and the offset does not go back; then every entry
 * at the end that is not strictly below the new one in both epoch and
 * offset goes, which keeps the list monotonic in both. Removing more than
 * the one entry that merely restarts at the same offset means data of a
 * later epoch was dropped, which Kafka reports as a warning. */
static bool assign_entry(leader_epoch_cache_t *cache, int32_t epoch, int64_t start_offset) {
    if (cache->count > 0) {
        const leader_epoch_entry_t *last = &cache->entries[cache->count - 1];
        if (last->epoch == epoch && start_offset >= last->start_offset)
            return false;
    }
    size_t keep = cache->count;
    while (keep > 0 && (cache->entries[keep - 1].epoch >= epoch ||
                        cache->entries[keep - 1].start_offset >= start_offset))
        keep--;
    size_t removed = cache->count - keep;
    if (removed > 1 || (removed == 1 && cache->entries[keep].start_offset != start_offset))
        log_warn("leader_epoch",
                 "%s: new epoch entry (epoch %" PRId32 ", start offset %" PRId64
                 ") caused truncation of %zu conflicting entries, from (epoch %" PRId32
                 ", start offset %" PRId64 ")",
                 le_name(cache), epoch, start_offset, removed, cache->entries[keep].epoch,
                 cache->entries[keep].start_offset);
    cache->count = keep;
    push_entry(cache, epoch, start_offset);
    return true;
}

/* A change: marked dirty (written by the next flush unless the caller
 * writes at once) and counted. 1 = changed. */
static int mark_changed(leader_epoch_cache_t *cache, bool changed) {
    if (changed) {
        cache->dirty = cache->path != NULL;
        cache->version = le_next_version();
    }
    return changed;
}

/* After a change: write the file if there is one. 1 = changed and written. */
static int flush_changed(leader_epoch_cache_t *cache, char *err, size_t errlen) {
    return leader_epoch_flush(cache, err, errlen) == 0 ? 1 : -1;
}

int leader_epoch_assign(leader_epoch_cache_t *cache, int32_t epoch, int64_t start_offset,
                        char *err, size_t errlen) {
    int rc = leader_epoch_assign_deferred(cache, epoch, start_offset, err, errlen);
    return rc == 1 ? flush_changed(cache, err, errlen) : rc;
}

int leader_epoch_assign_deferred(leader_epoch_cache_t *cache, int32_t epoch, int64_t start_offset, char *err,
                                 size_t errlen) {
    if (epoch < 0 || start_offset < 0) {
        errmsg_set(err, errlen,
                   "%s: invalid partition leader epoch entry (epoch %" PRId32 ", start offset %" PRId64 ")",
                   le_name(cache), epoch, start_offset);
        return -1;
    }
    return mark_changed(cache, assign_entry(cache, epoch, start_offset));
}

bool leader_epoch_dirty(const leader_epoch_cache_t *cache) {
    return cache->dirty;
}

int leader_epoch_flush_if_dirty(leader_epoch_cache_t *cache, char *err, size_t errlen) {
    if (!cache->dirty)
        return 0;
    if (leader_epoch_flush(cache, err, errlen) != 0)
        return -1;
    return 1;
}

/* --- loading and writing --------------------------------------------------------- */

static int load_entry(void *ctx, char *const *fields, char *err, size_t errlen) {
    leader_epoch_cache_t *cache = ctx;
    int64_t epoch, start_offset;
    if (checkpoint_parse_number(fields[0], INT32_MAX, "epoch", &epoch, err, errlen) != 0 ||
        checkpoint_parse_number(fields[1], INT64_MAX, "start offset", &start_offset, err,
                                errlen) != 0)
        return -1;
    assign_entry(cache, (int32_t)epoch, start_offset);
    return 0;
}

leader_epoch_cache_t *leader_epoch_load(const char *path, char *err, size_t errlen) {
    leader_epoch_cache_t *cache = leader_epoch_new(path);
    if (checkpoint_read(path, CHECKPOINT_VERSION, 2, load_entry, cache, err, errlen) != 0) {
        leader_epoch_free(cache);
        return NULL;
    }
    return cache;
}

void leader_epoch_serialize(const leader_epoch_cache_t *cache, buf_t *out) {
    checkpoint_format_header(out, CHECKPOINT_VERSION, cache->count);
    for (size_t i = 0; i < cache->count; i++)
        buf_appendf(out, "%" PRId32 " %" PRId64 "\n", cache->entries[i].epoch, cache->entries[i].start_offset);
}

int leader_epoch_flush(leader_epoch_cache_t *cache, char *err, size_t errlen) {
    if (!cache->path)
        return 0;
    buf_t text = BUF_INIT;
    leader_epoch_serialize(cache, &text);
    int rc = file_write_atomic(cache->path, text.data, text.len, err, errlen);
    buf_free(&text);
    if (rc == 0)
        cache->dirty = false;
    return rc;
}

uint64_t leader_epoch_version(const leader_epoch_cache_t *cache) { return cache->version; }

void leader_epoch_mark_written(leader_epoch_cache_t *cache, uint64_t version) {
    if (cache->version == version)
        cache->dirty = false;
}

/* --- truncation -------------------------------------------------------------------- */

/* The truncations in memory: true when the entries changed. */
static bool truncate_end_entries(leader_epoch_cache_t *cache, int64_t end_offset) {
    if (end_offset < 0 || cache->count == 0 ||
        cache->entries[cache->count - 1].start_offset < end_offset)
        return false;
    while (cache->count > 0 && cache->entries[cache->count - 1].start_offset >= end_offset)
        cache->count--;
    return true;
}

int leader_epoch_truncate_from_end(leader_epoch_cache_t *cache, int64_t end_offset, char *err,
                                   size_t errlen) {
    return mark_changed(cache, truncate_end_entries(cache, end_offset)) ? flush_changed(cache, err, errlen) : 0;
}

/* The last entry starting at or before start_offset still owns the offsets
 * from start_offset on, so it stays, moved up to start there; the ones
 * before it describe deleted data. */
static bool truncate_start_entries(leader_epoch_cache_t *cache, int64_t start_offset) {
    size_t removed = 0;
    while (removed < cache->count && cache->entries[removed].start_offset <= start_offset)
        removed++;
    /* Nothing to do when the first entry already starts there: rewriting the
     * file anyway (as Kafka does) costs every partition a file creation and
     * two fsyncs at each start-up. */
    if (removed == 0 || (removed == 1 && cache->entries[0].start_offset == start_offset))
        return false;
    size_t first = removed - 1;
    memmove(cache->entries, cache->entries + first,
            (cache->count - first) * sizeof *cache->entries);
    cache->count -= first;
    cache->entries[0].start_offset = start_offset;
    return true;
}

int leader_epoch_truncate_from_start(leader_epoch_cache_t *cache, int64_t start_offset,
                                     char *err, size_t errlen) {
    return mark_changed(cache, truncate_start_entries(cache, start_offset)) ? flush_changed(cache, err, errlen)
                                                                             : 0;
}

int leader_epoch_truncate_from_end_deferred(leader_epoch_cache_t *cache, int64_t end_offset) {
    return mark_changed(cache, truncate_end_entries(cache, end_offset));
}

int leader_epoch_truncate_from_start_deferred(leader_epoch_cache_t *cache, int64_t start_offset) {
    return mark_changed(cache, truncate_start_entries(cache, start_offset));
}

void leader_epoch_clear(leader_epoch_cache_t *cache) {
    cache->count = 0;
    cache->version = le_next_version();
}

int leader_epoch_clear_and_flush(leader_epoch_cache_t *cache, char *err, size_t errlen) {
    leader_epoch_clear(cache);
    return leader_epoch_flush(cache, err, errlen);
}

/* --- queries ------------------------------------------------------------------------ */

size_t leader_epoch_count(const leader_epoch_cache_t *cache) { return cache->count; }

leader_epoch_entry_t leader_epoch_entry_at(const leader_epoch_cache_t *cache, size_t i) {
    return cache->entries[i];
}

int32_t leader_epoch_latest_epoch(const leader_epoch_cache_t *cache) {
    return cache->count ? cache->entries[cache->count - 1].epoch : LEADER_EPOCH_UNDEFINED_EPOCH;
}

bool leader_epoch_latest_entry(const leader_epoch_cache_t *cache, leader_epoch_entry_t *out) {
    if (cache->count == 0)
        return false;
    *out = cache->entries[cache->count - 1];
    return true;
}

bool leader_epoch_earliest_entry(const leader_epoch_cache_t *cache, leader_epoch_entry_t *out) {
    if (cache->count == 0)
        return false;
    *out = cache->entries[0];
    return true;
}

/* The latest epoch is still being written, so it ends at the log end
 * offset; any other epoch ends where the next higher epoch starts. An epoch
 * older than everything cached (its data deleted, or written before leader
 * epochs existed) is answered with the first known start, so the follower
 * replicates from there. Linear scan: a partition has one entry per
 * leadership change that wrote data, a short list. */
leader_epoch_end_offset_t leader_epoch_end_offset_for(const leader_epoch_cache_t *cache,
                                                      int32_t requested, int64_t log_end_offset) {
    leader_epoch_end_offset_t undefined = {LEADER_EPOCH_UNDEFINED_EPOCH,
                                           LEADER_EPOCH_UNDEFINED_EPOCH_OFFSET};
    if (requested == LEADER_EPOCH_UNDEFINED_EPOCH)
        return undefined;
    if (cache->count > 0 && cache->entries[cache->count - 1].epoch == requested)
        return (leader_epoch_end_offset_t){requested, log_end_offset};
    size_t higher = 0;
    while (higher < cache->count && cache->entries[higher].epoch <= requested)
        higher++;
    if (higher == cache->count)
        return undefined;
    if (higher == 0)
        return (leader_epoch_end_offset_t){requested, cache->entries[0].start_offset};
    return (leader_epoch_end_offset_t){cache->entries[higher - 1].epoch,
                                       cache->entries[higher].start_offset};
}

static int64_t leader_epoch_min(int64_t a, int64_t b) { return a < b ? a : b; }

leader_epoch_truncation_t leader_epoch_follower_truncation(const leader_epoch_cache_t *local,
                                                           int64_t log_end_offset, int64_t high_watermark,
                                                           leader_epoch_end_offset_t leader) {
    if (leader.end_offset == LEADER_EPOCH_UNDEFINED_EPOCH_OFFSET)
        return (leader_epoch_truncation_t){leader_epoch_min(high_watermark, log_end_offset), true};
    if (leader.epoch == LEADER_EPOCH_UNDEFINED_EPOCH)
        return (leader_epoch_truncation_t){leader_epoch_min(leader.end_offset, log_end_offset), true};
    leader_epoch_end_offset_t ours = leader_epoch_end_offset_for(local, leader.epoch, log_end_offset);
    /* Not tracking epochs that far back (an upgrade, a new replica): the
     * leader's end of an epoch below ours is safe, as before KIP-279. */
    if (ours.end_offset == LEADER_EPOCH_UNDEFINED_EPOCH_OFFSET)
        return (leader_epoch_truncation_t){leader_epoch_min(leader.end_offset, log_end_offset), true};
    if (ours.epoch != leader.epoch)
        return (leader_epoch_truncation_t){leader_epoch_min(ours.end_offset, log_end_offset), false};
    int64_t common_end = leader_epoch_min(ours.end_offset, leader.end_offset);
    return (leader_epoch_truncation_t){leader_epoch_min(common_end, log_end_offset), true};
}
