/*
 * samsa-dump-log — samsa's kafka-dump-log.sh (Kafka's DumpLogSegments):
 * prints what is in a partition's files and says whether it is sound.
 *
 *   samsa-dump-log [options] FILE...        (also: --files F1,F2,...)
 *   samsa-dump-log --compare-checkpoints FILE1 FILE2...
 *
 * Files are recognised by name: <base offset>.log / .index / .timeindex /
 * .txnindex / .snapshot (also with a .deleted, .cleaned or .swap suffix),
 * the offset checkpoints of a log directory, leader-epoch-checkpoint and
 * meta.properties. Output lines follow Kafka's tool where it has one
 * (storage-and-replication.md and protocol.md §10 describe the formats).
 *
 * The tool only reads: every file is opened O_RDONLY and mapped read-only,
 * which is why the index modules' open functions (read/write mappings that
 * trim the file on close) are not used; the broker's sanity checks are run
 * on a read-only view instead (offset_index_view, time_index_view).
 *
 * Nothing in a file is trusted. A .log is walked batch by batch with
 * batch_check(); where no batch can start, the walk looks for the next
 * position holding a whole batch with a valid CRC and goes on from there,
 * so one damaged region does not hide the rest of the segment.
 *
 * Exit status: 0 when everything read was valid, 1 when corruption,
 * index mismatches or differing checkpoints were found, 2 on usage errors
 * and unreadable files (the worst of all files counts).
 */
#include "util/buf.h"
#include "log/checkpoint.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "proto/kerr.h"
#include "log/leader_epoch.h"
#include "log/log_segment.h"
#include "util/mem.h"
#include "log/meta_properties.h"
#include "log/index.h"
#include "log/record_batch.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DUMP_PROG "samsa-dump-log"

#define DUMP_EXIT_OK 0
#define DUMP_EXIT_INVALID 1
#define DUMP_EXIT_USAGE 2

/* Kafka's --max-message-size default (5 MiB). */
#define DUMP_DEFAULT_MAX_MESSAGE_SIZE (5 * 1024 * 1024)

#define DUMP_MIN_BATCH_LENGTH (BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD) /* 49 */
#define DUMP_LEGACY_MIN_SIZE_V0 14 /* crc, magic, attributes, key and value lengths */
#define DUMP_LEGACY_MIN_SIZE_V1 22 /* ... plus the timestamp */
#define DUMP_LEGACY_OFF_TIMESTAMP 18

#define DUMP_TXN_ENTRY_SIZE 34
#define DUMP_SNAPSHOT_VERSION 1
#define DUMP_SNAPSHOT_HEADER_SIZE 10 /* version, crc, entry count */
#define DUMP_SNAPSHOT_ENTRY_SIZE 46

/* meta.properties is a few hundred bytes; anything this large is not one. */
#define DUMP_META_MAX_SIZE (1u << 20)

typedef struct dump_opts {
    bool print_data;  /* --print-data-log */
    bool deep;        /* --deep-iteration, implied by --print-data-log */
    bool sanity_only; /* --index-sanity-check */
    bool verify_only; /* --verify-index-only */
    bool compare;     /* --compare-checkpoints */
    size_t max_message_size;
    char **files; /* owned, each owned */
    size_t nfiles;
} dump_opts_t;

/* ---- small helpers ------------------------------------------------------------ */

/* The larger of two exit statuses (or column widths). */
static int dump_worst(int a, int b) { return a > b ? a : b; }

static int64_t dump_max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Offsets and timestamps come from untrusted bytes: add them with wrap-around
 * (what Java does) instead of risking signed overflow. */
static int64_t dump_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }

static void dump_flush_buf(FILE *out, const buf_t *b) {
    if (b->len)
        fwrite(b->data, 1, b->len, out);
}

static const char *dump_basename(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Kafka's DefaultRecordBatch.incrementSequence: sequences wrap to 0 after
 * Integer.MAX_VALUE. -1 (no sequence) stays -1. */
static int64_t dump_sequence_add(int32_t base, int64_t delta) {
    if (base < 0)
        return -1;
    int64_t s = (int64_t)base + delta;
    return s > INT32_MAX ? s - ((int64_t)INT32_MAX + 1) : s;
}

/* ---- read-only file mappings -------------------------------------------------- */

typedef struct dump_map {
    const uint8_t *data; /* NULL when len == 0 */
    size_t len;
} dump_map_t;

/* Maps path read-only. Returns NULL, or why not ("not a regular file" or
 * strerror(errno); errno stays set, so callers can tell ENOENT). */
static const char *dump_map_open(const char *path, dump_map_t *m) {
    m->data = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return strerror(errno);
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0) {
        why = strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        why = "not a regular file";
    } else if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            why = strerror(errno);
        } else {
            m->data = p;
            m->len = (size_t)st.st_size;
        }
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return why;
}

static void dump_map_close(dump_map_t *m) {
    if (m->data)
        munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

/* Maps a file named on the command line; an error is reported and is the
 * caller's exit status 2. */
static int dump_map_arg(const char *path, dump_map_t *m) {
    const char *why = dump_map_open(path, m);
    if (!why)
        return 0;
    fprintf(stderr, DUMP_PROG ": %s: %s\n", path, why);
    return -1;
}

/* A regular, readable file? Reports why not. */
static bool dump_readable(const char *path) {
    dump_map_t m;
    if (dump_map_arg(path, &m) != 0)
        return false;
    dump_map_close(&m);
    return true;
}

/* ---- printing keys, values and header names ------------------------------------ */

/* Length of the well-formed UTF-8 sequence of 2-4 bytes at p, or 0 (also
 * for the C1 control characters U+0080-U+009F, which terminals act on). */
static size_t dump_utf8_len(const uint8_t *p, size_t n) {
    uint8_t c = p[0], lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        if (c == 0xC2)
            lo = 0xA0; /* C1 controls */
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

/* Kafka's StringDecoder prints the bytes as UTF-8 text. We do too, but
 * escape what would break the one-line-per-record layout or a terminal:
 * control characters, backslash and invalid UTF-8 become \n, \r, \t, \\ or
 * \xHH. */
static void dump_print_text(FILE *out, const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t u;
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            fputc(c, out);
            i++;
        } else if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
            fputc('\\', out);
            fputc(c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't', out);
            i++;
        } else if (c >= 0x80 && (u = dump_utf8_len(p + i, n - i)) > 0) {
            fwrite(p + i, 1, u, out);
            i += u;
        } else {
            fprintf(out, "\\x%02x", c);
            i++;
        }
    }
}

/* ---- walking a .log ---------------------------------------------------------------- */

typedef enum dump_item_kind {
    DUMP_ITEM_BATCH,   /* a framed v2 batch (CRC valid or not) */
    DUMP_ITEM_LEGACY,  /* a framed magic 0/1 message (not decoded) */
    DUMP_ITEM_INVALID, /* bytes where nothing can start */
} dump_item_kind_t;

typedef struct dump_item {
    dump_item_kind_t kind;
    size_t position;
    size_t size;           /* of the batch, the message, or the invalid run */
    batch_header_t header; /* BATCH */
    bool crc_valid;        /* BATCH */
    int8_t legacy_magic;   /* LEGACY */
    int64_t legacy_offset; /* LEGACY: the (wrapper) message's offset */
    size_t resume;         /* where the walk goes on: position + size, or for a
                              BATCH with a bad CRC a valid batch inside it */
    bool at_end;           /* INVALID: no valid batch follows */
    char reason[160];      /* INVALID: why nothing starts at position */
} dump_item_t;

typedef void (*dump_walk_fn)(void *ctx, const uint8_t *data, const dump_item_t *item);

/* A magic 0/1 message: the framing (offset, size) is the same as a batch's;
 * its contents are not decoded (samsa's logs hold v2 batches only). */
static bool dump_frame_legacy(const uint8_t *d, size_t avail, size_t max, dump_item_t *it) {
    int8_t magic = (int8_t)d[BATCH_OFF_MAGIC];
    int32_t size = (int32_t)be32_load(d + BATCH_OFF_LENGTH);
    int32_t min = magic == 0 ? DUMP_LEGACY_MIN_SIZE_V0 : DUMP_LEGACY_MIN_SIZE_V1;
    if (size < min || (size_t)size > max) {
        snprintf(it->reason, sizeof it->reason, "magic %d message size %" PRId32 " is outside [%" PRId32 ", %zu]",
                 magic, size, min, max);
        return false;
    }
    if ((size_t)size + BATCH_LOG_OVERHEAD > avail) {
        snprintf(it->reason, sizeof it->reason,
                 "magic %d message of %zu bytes extends past the end of the file (%zu bytes left)", magic,
                 (size_t)size + BATCH_LOG_OVERHEAD, avail);
        return false;
    }
    it->kind = DUMP_ITEM_LEGACY;
    it->size = (size_t)size + BATCH_LOG_OVERHEAD;
    it->legacy_magic = magic;
    it->legacy_offset = (int64_t)be64_load(d);
    return true;
}

/* Whether a batch (or legacy message) is framed at pos; fills *it, or
 * it->reason when not. A CRC mismatch still frames a batch: its length
 * field is all the walk needs, and Kafka's tool goes on the same way. */
static bool dump_frame(const uint8_t *data, size_t len, size_t pos, size_t max, dump_item_t *it) {
    const uint8_t *d = data + pos;
    size_t avail = len - pos;
    memset(it, 0, sizeof *it);
    it->position = pos;
    if (avail <= BATCH_OFF_MAGIC) {
        snprintf(it->reason, sizeof it->reason, "%zu bytes left, fewer than a batch header (%d)", avail,
                 BATCH_HEADER_SIZE);
        return false;
    }
    int8_t magic = (int8_t)d[BATCH_OFF_MAGIC];
    if (magic == 0 || magic == 1)
        return dump_frame_legacy(d, avail, max, it);
    if (magic != BATCH_MAGIC_V2) {
        snprintf(it->reason, sizeof it->reason, "unknown magic %d", magic);
        return false;
    }
    if (avail < BATCH_HEADER_SIZE) {
        snprintf(it->reason, sizeof it->reason, "%zu bytes left, fewer than a batch header (%d)", avail,
                 BATCH_HEADER_SIZE);
        return false;
    }
    int32_t length = (int32_t)be32_load(d + BATCH_OFF_LENGTH);
    batch_check_t check = batch_check(d, avail, max + BATCH_LOG_OVERHEAD, &it->header);
    switch (check) {
    case BATCH_OK:
    case BATCH_BAD_CRC:
        it->kind = DUMP_ITEM_BATCH;
        it->size = batch_size(&it->header);
        it->crc_valid = check == BATCH_OK;
        return true;
    case BATCH_BAD_LENGTH:
        if (length < DUMP_MIN_BATCH_LENGTH)
            snprintf(it->reason, sizeof it->reason, "batchLength %" PRId32 " is below the minimum %d", length,
                     DUMP_MIN_BATCH_LENGTH);
        else
            snprintf(it->reason, sizeof it->reason,
                     "batchLength %" PRId32 " exceeds the maximum message size %zu (--max-message-size)", length,
                     max);
        return false;
    case BATCH_INCOMPLETE:
        snprintf(it->reason, sizeof it->reason, "batch of %zu bytes extends past the end of the file (%zu bytes left)",
                 (size_t)length + BATCH_LOG_OVERHEAD, avail);
        return false;
    case BATCH_BAD_MAGIC:
        break;
    }
    snprintf(it->reason, sizeof it->reason, "unknown magic %d", magic);
    return false;
}

/* The first position in [from, limit) where a whole v2 batch with a valid
 * CRC starts, or limit. Only a verified CRC makes a resynchronisation
 * point: any weaker test would take record bytes for batch headers. Cheap
 * tests first, so the CRC is computed for about one position in 10^5 of
 * random bytes. */
static size_t dump_resync(const uint8_t *data, size_t len, size_t from, size_t limit, size_t max) {
    batch_header_t h;
    for (size_t p = from; p < limit && len - p >= BATCH_HEADER_SIZE; p++) {
        const uint8_t *d = data + p;
        if (d[BATCH_OFF_MAGIC] != BATCH_MAGIC_V2)
            continue;
        int32_t l = (int32_t)be32_load(d + BATCH_OFF_LENGTH);
        if (l < DUMP_MIN_BATCH_LENGTH || (size_t)l > max || (size_t)l + BATCH_LOG_OVERHEAD > len - p)
            continue;
        if (batch_check(d, len - p, max + BATCH_LOG_OVERHEAD, &h) == BATCH_OK)
            return p;
    }
    return limit;
}

/* Calls fn for every batch, legacy message and invalid run of data[0..len),
 * in file order. A batch whose CRC fails may owe that to a damaged length
 * field, which would swallow the batches after it: if a valid batch starts
 * inside it, the walk goes on from there (it->resume). */
static void dump_walk(const uint8_t *data, size_t len, size_t max, dump_walk_fn fn, void *ctx) {
    size_t pos = 0;
    dump_item_t it;
    while (pos < len) {
        if (dump_frame(data, len, pos, max, &it)) {
            it.resume = pos + it.size;
            if (it.kind == DUMP_ITEM_BATCH && !it.crc_valid)
                it.resume = dump_resync(data, len, pos + 1, it.resume, max);
        } else {
            it.kind = DUMP_ITEM_INVALID;
            it.resume = dump_resync(data, len, pos + 1, len, max);
            it.size = it.resume - pos;
            it.at_end = it.resume == len;
        }
        fn(ctx, data, &it);
        pos = it.resume;
    }
}

/* ---- file names ------------------------------------------------------------------------ */

typedef enum dump_kind {
    DUMP_KIND_UNKNOWN,
    DUMP_KIND_LOG,
    DUMP_KIND_INDEX,
    DUMP_KIND_TIME_INDEX,
    DUMP_KIND_TXN_INDEX,
    DUMP_KIND_SNAPSHOT,
    DUMP_KIND_OFFSET_CHECKPOINT,
    DUMP_KIND_EPOCH_CHECKPOINT,
    DUMP_KIND_META,
} dump_kind_t;

/* What a segment file's name says. */
typedef struct dump_name {
    dump_kind_t kind;
    bool has_base;       /* the name starts with a usable base offset */
    int64_t base_offset; /* 0 when !has_base */
    char *stem;          /* owned: the path up to the extension ("dir/000...123") */
    const char *suffix;  /* "" or ".deleted", ".cleaned", ".swap" (static) */
} dump_name_t;

static bool dump_name_is(const char *name, const char *known) {
    size_t n = strlen(known);
    return strncmp(name, known, n) == 0 && (name[n] == '\0' || name[n] == '.');
}

/* Recognises a file by its name. Checkpoints may carry a suffix (a copy
 * named replication-offset-checkpoint.broker1, or a leftover .tmp). A
 * segment file's base offset must leave room for any relative offset, so
 * that base + int32 cannot overflow. */
static void dump_name_parse(const char *path, dump_name_t *nm) {
    static const char *const suffixes[] = {LOG_SEGMENT_DELETED_SUFFIX, ".cleaned", ".swap"};
    static const struct {
        const char *ext;
        dump_kind_t kind;
    } exts[] = {
        {LOG_SEGMENT_LOG_EXT, DUMP_KIND_LOG},        {LOG_SEGMENT_INDEX_EXT, DUMP_KIND_INDEX},
        {LOG_SEGMENT_TIME_INDEX_EXT, DUMP_KIND_TIME_INDEX}, {LOG_SEGMENT_TXN_INDEX_EXT, DUMP_KIND_TXN_INDEX},
        {".snapshot", DUMP_KIND_SNAPSHOT},
    };
    const char *name = dump_basename(path);
    memset(nm, 0, sizeof *nm);
    nm->suffix = "";
    if (dump_name_is(name, CHECKPOINT_RECOVERY_POINT_FILE) || dump_name_is(name, CHECKPOINT_REPLICATION_FILE) ||
        dump_name_is(name, CHECKPOINT_LOG_START_FILE) || dump_name_is(name, CHECKPOINT_CLEANER_FILE)) {
        nm->kind = DUMP_KIND_OFFSET_CHECKPOINT;
        return;
    }
    if (dump_name_is(name, LEADER_EPOCH_CHECKPOINT_FILE)) {
        nm->kind = DUMP_KIND_EPOCH_CHECKPOINT;
        return;
    }
    if (dump_name_is(name, META_PROPERTIES_FILE)) {
        nm->kind = DUMP_KIND_META;
        return;
    }
    size_t len = strlen(path);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t n = strlen(suffixes[i]);
        if (len > n && strcmp(path + len - n, suffixes[i]) == 0) {
            nm->suffix = suffixes[i];
            len -= n;
            break;
        }
    }
    char *stripped = mem_strndup(path, len);
    char *dot = strrchr(stripped, '.');
    if (dot && dot >= dump_basename(stripped)) { /* an extension, not a dot in a directory name */
        for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
            if (strcmp(dot, exts[i].ext) == 0)
                nm->kind = exts[i].kind;
    }
    if (nm->kind == DUMP_KIND_UNKNOWN) {
        free(stripped);
        return;
    }
    *dot = '\0';
    nm->stem = stripped;
    int64_t base;
    if (log_segment_parse_filename(name, &base, NULL) && base <= INT64_MAX - INT32_MAX) {
        nm->has_base = true;
        nm->base_offset = base;
    }
}

static void dump_name_free(dump_name_t *nm) {
    free(nm->stem);
    nm->stem = NULL;
}

/* The path of the same segment's file with another extension. Owned by
 * the caller. */
static char *dump_sibling(const dump_name_t *nm, const char *ext) {
    buf_t b = BUF_INIT;
    buf_append_str(&b, nm->stem);
    buf_append_str(&b, ext);
    buf_append_str(&b, nm->suffix);
    buf_append(&b, "", 1);
    return (char *)buf_release(&b, NULL);
}

static void dump_warn_base(const char *path, const dump_name_t *nm) {
    if (!nm->has_base)
        fprintf(stderr, DUMP_PROG ": %s: the name does not start with a base offset; assuming 0\n", path);
}

/* ---- .log ------------------------------------------------------------------------------- */

typedef struct dump_log_ctx {
    const dump_opts_t *opts;
    const char *path;
    const dump_name_t *name;
    int status;
    bool have_prev;         /* a batch was seen: prev_last is its last offset */
    int64_t prev_last;
    bool have_record;       /* deep iteration: Kafka's non-consecutive check */
    int64_t last_record;
    buf_t nonconsecutive;   /* "  X is followed by Y" lines, printed to stderr */
} dump_log_ctx_t;

static void dump_log_invalid(dump_log_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One problem line on stdout, right after what it is about. */
static void dump_log_invalid(dump_log_ctx_t *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    c->status = DUMP_EXIT_INVALID;
}

static const char *dump_timestamp_type(const batch_header_t *h) {
    return batch_is_log_append_time(h) ? "LogAppendTime" : "CreateTime";
}

/* compression_name() knows only the codecs; 5-7 are damage. */
static const char *dump_codec_name(const batch_header_t *h, char *tmp, size_t tmplen) {
    int codec = h->attributes & BATCH_ATTR_COMPRESSION_MASK;
    if (codec <= COMPRESSION_ZSTD)
        return compression_name((compression_t)codec);
    snprintf(tmp, tmplen, "unknown(%d)", codec);
    return tmp;
}

static void dump_print_batch(const dump_item_t *it) {
    const batch_header_t *h = &it->header;
    char codec[32];
    printf("baseOffset: %" PRId64 " lastOffset: %" PRId64 " count: %" PRId32 " baseSequence: %" PRId32
           " lastSequence: %" PRId64 " producerId: %" PRId64 " producerEpoch: %d partitionLeaderEpoch: %" PRId32
           " isTransactional: %s isControl: %s position: %zu %s: %" PRId64
           " size: %zu magic: %d compresscodec: %s crcValid: %s\n",
           h->base_offset, dump_add(h->base_offset, h->last_offset_delta), h->records_count, h->base_sequence,
           dump_sequence_add(h->base_sequence, h->last_offset_delta), h->producer_id, h->producer_epoch,
           h->partition_leader_epoch, (h->attributes & BATCH_ATTR_TRANSACTIONAL) ? "true" : "false",
           batch_is_control(h) ? "true" : "false", it->position, dump_timestamp_type(h), h->max_timestamp,
           it->size, h->magic, dump_codec_name(h, codec, sizeof codec), it->crc_valid ? "true" : "false");
}

/* Header fields that cannot be right, whatever the CRC: the codec must
 * exist, lastOffsetDelta must be >= 0 without overflowing the offset, and
 * the count must fit the offsets (compaction may lower it, never raise it).
 * Returns whether the last offset is usable. */
static bool dump_check_batch_fields(dump_log_ctx_t *c, const batch_header_t *h, size_t pos) {
    int codec = h->attributes & BATCH_ATTR_COMPRESSION_MASK;
    if (codec > COMPRESSION_ZSTD)
        dump_log_invalid(c, "Invalid batch at position %zu: unknown compression codec %d", pos, codec);
    if (h->last_offset_delta < 0) {
        dump_log_invalid(c, "Invalid batch at position %zu: lastOffsetDelta %" PRId32 " is negative", pos,
                         h->last_offset_delta);
        return false;
    }
    if (h->base_offset > INT64_MAX - h->last_offset_delta) {
        dump_log_invalid(c, "Invalid batch at position %zu: lastOffset overflows (baseOffset %" PRId64
                            " + lastOffsetDelta %" PRId32 ")", pos, h->base_offset, h->last_offset_delta);
        return false;
    }
    if (h->records_count < 0 || (int64_t)h->records_count > (int64_t)h->last_offset_delta + 1)
        dump_log_invalid(c, "Invalid batch at position %zu: count %" PRId32 " does not fit lastOffsetDelta %" PRId32,
                         pos, h->records_count, h->last_offset_delta);
    return true;
}

/* Offsets must lie in the segment (relative offsets fit an int32) and
 * increase from batch to batch. A batch whose last offset is unusable
 * counts as ending at INT64_MAX, so whatever follows it is flagged too. */
static void dump_check_batch(dump_log_ctx_t *c, const dump_item_t *it) {
    const batch_header_t *h = &it->header;
    size_t pos = it->position;
    bool usable = dump_check_batch_fields(c, h, pos);
    int64_t last = usable ? h->base_offset + h->last_offset_delta : INT64_MAX;
    int64_t base = c->name->base_offset;
    if (c->name->has_base && h->base_offset < base)
        dump_log_invalid(c, "Invalid batch at position %zu: baseOffset %" PRId64
                            " is below the segment's base offset %" PRId64, pos, h->base_offset, base);
    else if (c->name->has_base && usable && last - base > INT32_MAX)
        dump_log_invalid(c, "Invalid batch at position %zu: lastOffset %" PRId64
                            " is too far above the segment's base offset %" PRId64, pos, last, base);
    if (c->have_prev && h->base_offset <= c->prev_last)
        dump_log_invalid(c, "Invalid batch at position %zu: baseOffset %" PRId64
                            " is not above the previous batch's lastOffset %" PRId64, pos, h->base_offset,
                         c->prev_last);
    c->have_prev = true;
    c->prev_last = last;
}

/* Kafka prints what a transaction marker says instead of key and value. */
static void dump_print_control(dump_log_ctx_t *c, const record_t *r, int64_t offset) {
    if (!r->key || r->key_len < 4) {
        printf("\n");
        dump_log_invalid(c, "Invalid control record at offset %" PRId64 ": key of %" PRId32 " bytes (expected 4)",
                         offset, r->key_len);
        return;
    }
    int16_t type = (int16_t)be16_load(r->key + 2);
    if (type != 0 && type != 1) {
        printf(" controlType: UNKNOWN(%d)\n", type);
        return;
    }
    if (!r->value || r->value_len < 6) {
        printf("\n");
        dump_log_invalid(c, "Invalid control record at offset %" PRId64 ": marker value of %" PRId32
                            " bytes (expected 6)", offset, r->value_len);
        return;
    }
    printf(" endTxnMarker: %s coordinatorEpoch: %" PRId32 "\n", type == 0 ? "ABORT" : "COMMIT",
           (int32_t)be32_load(r->value + 2));
}

static void dump_print_record(dump_log_ctx_t *c, const batch_header_t *h, const record_t *r, int64_t offset) {
    int64_t ts = batch_is_log_append_time(h) ? h->max_timestamp : dump_add(h->first_timestamp, r->timestamp_delta);
    printf("| offset: %" PRId64 " %s: %" PRId64 " keySize: %" PRId32 " valueSize: %" PRId32 " sequence: %" PRId64
           " headerKeys: [",
           offset, dump_timestamp_type(h), ts, r->key_len, r->value_len,
           dump_sequence_add(h->base_sequence, r->offset_delta));
    const uint8_t *p = r->headers, *end = r->headers + r->headers_len;
    record_header_t hdr;
    for (int first = 1; record_headers_next(&p, end, &hdr) == 1; first = 0) {
        if (!first)
            putchar(',');
        dump_print_text(stdout, hdr.key, (size_t)hdr.key_len);
    }
    putchar(']');
    if (batch_is_control(h)) {
        dump_print_control(c, r, offset);
        return;
    }
    if (c->opts->print_data && r->key) {
        fputs(" key: ", stdout);
        dump_print_text(stdout, r->key, (size_t)r->key_len);
    }
    if (c->opts->print_data && r->value) {
        fputs(" payload: ", stdout);
        dump_print_text(stdout, r->value, (size_t)r->value_len);
    }
    putchar('\n');
}

/* Kafka's deep-iteration bookkeeping: gaps are normal after compaction, so
 * they are listed (on stderr) but do not count as corruption. */
static void dump_track_offset(dump_log_ctx_t *c, int64_t offset) {
    if (c->have_record && offset != dump_add(c->last_record, 1))
        buf_appendf(&c->nonconsecutive, "  %" PRId64 " is followed by %" PRId64 "\n", c->last_record, offset);
    c->have_record = true;
    c->last_record = offset;
}

/* Deep iteration: every record of the batch, decompressed if needed. The
 * CRC is not required (a damaged batch's records may still be readable). */
static void dump_records(dump_log_ctx_t *c, const uint8_t *batch, const dump_item_t *it) {
    const batch_header_t *h = &it->header;
    record_iter_t ri;
    kerr_t err = record_iter_init(&ri, batch, it->size, LOG_SEGMENT_MAX_DECOMPRESSED);
    if (err != KERR_NONE) {
        char codec[32];
        dump_log_invalid(c, "Invalid records in batch at position %zu: cannot read the %s records (%s)",
                         it->position, dump_codec_name(h, codec, sizeof codec), kerr_name(err));
        record_iter_free(&ri);
        return;
    }
    record_t r;
    int rc;
    int32_t n = 0;
    int64_t prev_delta = -1;
    while ((rc = record_iter_next(&ri, &r)) == 1) {
        int64_t offset = dump_add(h->base_offset, r.offset_delta);
        dump_track_offset(c, offset);
        dump_print_record(c, h, &r, offset);
        if (r.offset_delta <= prev_delta || r.offset_delta > h->last_offset_delta)
            dump_log_invalid(c, "Invalid records in batch at position %zu: offsetDelta %" PRId32
                                " out of order or above lastOffsetDelta %" PRId32, it->position, r.offset_delta,
                             h->last_offset_delta);
        prev_delta = r.offset_delta;
        n++;
    }
    if (rc < 0 && ri.remaining == 0)
        dump_log_invalid(c, "Invalid records in batch at position %zu: bytes left after the last of %" PRId32
                            " records", it->position, h->records_count);
    else if (rc < 0)
        dump_log_invalid(c, "Invalid records in batch at position %zu: record %" PRId32 " of %" PRId32
                            " is malformed", it->position, n + 1, h->records_count);
    record_iter_free(&ri);
}

static void dump_log_item(void *arg, const uint8_t *data, const dump_item_t *it) {
    dump_log_ctx_t *c = arg;
    switch (it->kind) {
    case DUMP_ITEM_BATCH:
        dump_print_batch(it);
        if (!it->crc_valid)
            c->status = DUMP_EXIT_INVALID;
        if (it->resume < it->position + it->size)
            dump_log_invalid(c, "Invalid batch at position %zu: a valid batch starts inside it at position %zu; "
                                "going on from there", it->position, it->resume);
        dump_check_batch(c, it);
        if (c->opts->deep)
            dump_records(c, data + it->position, it);
        break;
    case DUMP_ITEM_LEGACY:
        printf("offset: %" PRId64 " position: %zu size: %zu magic: %d (legacy message set: not decoded)\n",
               it->legacy_offset, it->position, it->size, it->legacy_magic);
        break;
    case DUMP_ITEM_INVALID:
        dump_log_invalid(c, "Invalid batch at position %zu: %s", it->position, it->reason);
        if (it->at_end)
            printf("Found %zu invalid bytes at the end of %s\n", it->size, dump_basename(c->path));
        else
            printf("Skipped %zu invalid bytes at position %zu; the next valid batch starts at position %zu\n",
                   it->size, it->position, it->position + it->size);
        break;
    }
}

static int dump_log(const dump_opts_t *o, const char *path, const dump_name_t *nm) {
    dump_map_t m;
    if (dump_map_arg(path, &m) != 0)
        return DUMP_EXIT_USAGE;
    dump_warn_base(path, nm);
    printf("Starting offset: %" PRId64 "\n", nm->base_offset);
    dump_log_ctx_t c = {.opts = o, .path = path, .name = nm, .status = DUMP_EXIT_OK};
    buf_init(&c.nonconsecutive);
    dump_walk(m.data, m.len, o->max_message_size, dump_log_item, &c);
    fflush(stdout);
    if (c.nonconsecutive.len) {
        fprintf(stderr, "Non-consecutive offsets in %s\n", path);
        dump_flush_buf(stderr, &c.nonconsecutive);
    }
    buf_free(&c.nonconsecutive);
    dump_map_close(&m);
    return c.status;
}

/* ---- the batches of a .log, for checking indexes against it ----------------------------- */

typedef struct dump_span {
    size_t position;
    size_t size;
    int64_t base_offset;
    int64_t last_offset;
    bool legacy;
} dump_span_t;

typedef struct dump_spans {
    const uint8_t *data; /* the mapped .log */
    size_t len;
    dump_span_t *v;
    size_t n, cap;
    bool ascending; /* offsets increase from span to span: binary search works */
} dump_spans_t;

static void dump_spans_item(void *arg, const uint8_t *data, const dump_item_t *it) {
    (void)data;
    dump_spans_t *s = arg;
    if (it->kind == DUMP_ITEM_INVALID)
        return;
    dump_span_t sp = {it->position, it->size, it->legacy_offset, it->legacy_offset, true};
    if (it->kind == DUMP_ITEM_BATCH) {
        sp.base_offset = it->header.base_offset;
        sp.last_offset = dump_add(it->header.base_offset, it->header.last_offset_delta);
        sp.legacy = false;
    }
    if (sp.last_offset < sp.base_offset || (s->n > 0 && sp.base_offset <= s->v[s->n - 1].last_offset))
        s->ascending = false;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = mem_realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = sp;
}

static void dump_spans_build(dump_spans_t *s, const dump_map_t *log, size_t max) {
    memset(s, 0, sizeof *s);
    s->data = log->data;
    s->len = log->len;
    s->ascending = true;
    dump_walk(log->data, log->len, max, dump_spans_item, s);
}

static void dump_spans_free(dump_spans_t *s) {
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* The span starting exactly at position, or -1 (positions increase). */
static int64_t dump_spans_at(const dump_spans_t *s, size_t position) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].position < position)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->v[lo].position == position ? (int64_t)lo : -1;
}

/* The first span at or after from whose last offset is >= offset (s->n if
 * none): where Kafka's read for offset would stop. */
static size_t dump_spans_reaching(const dump_spans_t *s, size_t from, int64_t offset) {
    if (!s->ascending) {
        while (from < s->n && s->v[from].last_offset < offset)
            from++;
        return from;
    }
    size_t lo = from, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].last_offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The largest record timestamp of a span, as a time index entry records it
 * (LogAppendTime: the batch's maxTimestamp). Falls back to the header's
 * maxTimestamp when the records cannot be decoded. */
static int64_t dump_span_max_timestamp(const dump_spans_t *s, const dump_span_t *sp) {
    const uint8_t *d = s->data + sp->position;
    if (sp->legacy)
        return d[BATCH_OFF_MAGIC] == 1 ? (int64_t)be64_load(d + DUMP_LEGACY_OFF_TIMESTAMP) : -1;
    batch_header_t h;
    batch_header_read(d, &h);
    if (batch_is_log_append_time(&h))
        return h.max_timestamp;
    record_iter_t ri;
    int64_t max = -1;
    record_t r;
    int rc = -1;
    if (record_iter_init(&ri, d, sp->size, LOG_SEGMENT_MAX_DECOMPRESSED) == KERR_NONE) {
        while ((rc = record_iter_next(&ri, &r)) == 1)
            max = dump_max64(max, dump_add(h.first_timestamp, r.timestamp_delta));
    }
    record_iter_free(&ri);
    return rc == 0 ? max : h.max_timestamp;
}

/* An index file and its segment's .log, both mapped read-only. */
typedef struct dump_index_file {
    const char *path;
    dump_map_t map;
    dump_map_t log; /* empty when !have_log */
    bool have_log;
    char *log_path; /* owned */
    int64_t base;
} dump_index_file_t;

/* Maps the index and, if it exists, the .log next to it. Returns -1 (after
 * reporting) when the index cannot be read; else 0, or 2 when the .log
 * exists but cannot be read (the index is still dumped). */
static int dump_index_file_open(const char *path, const dump_name_t *nm, dump_index_file_t *f) {
    memset(f, 0, sizeof *f);
    f->path = path;
    f->base = nm->base_offset;
    if (dump_map_arg(path, &f->map) != 0)
        return -1;
    dump_warn_base(path, nm);
    f->log_path = dump_sibling(nm, LOG_SEGMENT_LOG_EXT);
    const char *why = dump_map_open(f->log_path, &f->log);
    if (!why) {
        f->have_log = true;
        return DUMP_EXIT_OK;
    }
    if (errno == ENOENT)
        return DUMP_EXIT_OK;
    fprintf(stderr, DUMP_PROG ": %s: %s\n", f->log_path, why);
    return DUMP_EXIT_USAGE;
}

static void dump_index_file_close(dump_index_file_t *f) {
    free(f->log_path);
    dump_map_close(&f->log);
    dump_map_close(&f->map);
}

/* Without the .log the entries are printed unchecked; --verify-index-only
 * then has nothing to verify, which is an error. */
static int dump_index_unchecked(const dump_opts_t *o, const dump_index_file_t *f) {
    if (f->have_log)
        return DUMP_EXIT_OK;
    fprintf(stderr, DUMP_PROG ": %s: %s not found: entries not checked against the log\n", f->path, f->log_path);
    return o->verify_only ? DUMP_EXIT_USAGE : DUMP_EXIT_OK;
}

static int dump_sanity_report(const char *path, const char *why) {
    if (why)
        printf("%s failed sanity check: %s.\n", path, why);
    else
        printf("%s passed sanity check.\n", path);
    return why ? DUMP_EXIT_INVALID : DUMP_EXIT_OK;
}

/* Prints a titled list of problems to stderr (Kafka's layout) and frees
 * it. Returns the exit status it stands for. */
static int dump_report(const char *title, const char *path, buf_t *lines) {
    int status = DUMP_EXIT_OK;
    if (lines->len) {
        fprintf(stderr, "%s%s\n", title, path ? path : "");
        dump_flush_buf(stderr, lines);
        status = DUMP_EXIT_INVALID;
    }
    buf_free(lines);
    return status;
}

static void dump_zero_tail(const dump_opts_t *o, size_t zeros) {
    if (zeros && !o->verify_only)
        printf("(%zu zero entries at the end: preallocated, not written)\n", zeros);
}

/* ---- .index ------------------------------------------------------------------------------ */

static offset_position_t dump_index_entry(const dump_map_t *m, int64_t base, size_t i) {
    const uint8_t *p = m->data + i * OFFSET_INDEX_ENTRY_SIZE;
    offset_position_t e = {dump_add(base, (int32_t)be32_load(p)), be32_load(p + 4)};
    return e;
}

/* The broker's load-time verdict on an offset index: the index's own
 * check, then the segment's part (the last entry must leave room for a
 * batch header within the .log). */
static const char *dump_index_sanity(const dump_index_file_t *f) {
    offset_index_t view; /* read-only: no read/write open that would trim the file */
    offset_index_view(&view, f->map.data, f->map.len, f->base);
    const char *why = offset_index_sanity_check(&view);
    if (!why && f->have_log && view.file.entries > 0) {
        offset_position_t last = dump_index_entry(&f->map, f->base, view.file.entries - 1);
        if ((uint64_t)last.position + BATCH_HEADER_SIZE > f->log.len)
            why = "offset index points past the end of the log";
    }
    return why;
}

/* Whether entry e fits the log. An entry maps the last offset of an append
 * to the position where the append starts; a follower appends several
 * batches at once, so the offset may end a later batch than the one at the
 * position (Kafka's tool flags those; we do not). Mismatch: no batch starts
 * at the position, the batch there starts after the offset, or the batch
 * holding the offset does not end with it. Appends one line to out then. */
static void dump_index_entry_check(const dump_spans_t *s, offset_position_t e, buf_t *out) {
    int64_t k = dump_spans_at(s, e.position);
    if (k < 0) {
        buf_appendf(out, "  Index offset: %" PRId64 ", log offset: -1 (%s position %" PRIu32 ")\n", e.offset,
                        e.position >= s->len ? "beyond the end of the log at" : "no batch starts at", e.position);
        return;
    }
    if (s->v[k].base_offset > e.offset) {
        buf_appendf(out, "  Index offset: %" PRId64 ", log offset: %" PRId64 "\n", e.offset, s->v[k].last_offset);
        return;
    }
    size_t j = dump_spans_reaching(s, (size_t)k, e.offset);
    if (j == s->n)
        buf_appendf(out, "  Index offset: %" PRId64 ", log offset: -1 (beyond the last batch)\n", e.offset);
    else if (s->v[j].last_offset != e.offset)
        buf_appendf(out, "  Index offset: %" PRId64 ", log offset: %" PRId64 "\n", e.offset, s->v[j].last_offset);
}

/* Kafka's dumpIndex: every entry, each checked against the .log; a zero
 * entry after the first is the untrimmed preallocation and ends the list. */
static int dump_index_entries(const dump_opts_t *o, const dump_index_file_t *f) {
    dump_spans_t spans;
    dump_spans_build(&spans, &f->log, o->max_message_size);
    buf_t mismatches = BUF_INIT, disorder = BUF_INIT;
    size_t entries = f->map.len / OFFSET_INDEX_ENTRY_SIZE, zeros = 0;
    offset_position_t prev = {0, 0};
    for (size_t i = 0; i < entries; i++) {
        offset_position_t e = dump_index_entry(&f->map, f->base, i);
        if (i > 0 && e.offset == f->base) {
            zeros = entries - i;
            break;
        }
        if (i > 0 && (e.offset <= prev.offset || e.position <= prev.position))
            buf_appendf(&disorder, "  entry %zu: offset %" PRId64 " position %" PRIu32 " follows offset %" PRId64
                                       " position %" PRIu32 "\n", i, e.offset, e.position, prev.offset, prev.position);
        if (f->have_log)
            dump_index_entry_check(&spans, e, &mismatches);
        if (!o->verify_only)
            printf("offset: %" PRId64 " position: %" PRIu32 "\n", e.offset, e.position);
        prev = e;
    }
    dump_zero_tail(o, zeros);
    fflush(stdout);
    int status = dump_index_unchecked(o, f);
    status = dump_worst(status, dump_report("Mismatches in :", f->path, &mismatches));
    status = dump_worst(status, dump_report("Entries out of order in :", f->path, &disorder));
    dump_spans_free(&spans);
    return status;
}

static int dump_index(const dump_opts_t *o, const char *path, const dump_name_t *nm) {
    dump_index_file_t f;
    int status = dump_index_file_open(path, nm, &f);
    if (status < 0)
        return DUMP_EXIT_USAGE;
    if (o->sanity_only)
        status = dump_worst(status, dump_sanity_report(path, dump_index_sanity(&f)));
    else
        status = dump_worst(status, dump_index_entries(o, &f));
    dump_index_file_close(&f);
    return status;
}

/* ---- .timeindex -------------------------------------------------------------------------- */

static const char *dump_time_index_sanity(const dump_index_file_t *f) {
    time_index_t view;
    time_index_view(&view, f->map.data, f->map.len, f->base);
    return time_index_sanity_check(&view);
}

static timestamp_offset_t dump_time_entry(const dump_map_t *m, int64_t base, size_t i) {
    const uint8_t *p = m->data + i * TIME_INDEX_ENTRY_SIZE;
    timestamp_offset_t e = {(int64_t)be64_load(p), dump_add(base, (int32_t)be32_load(p + 8))};
    return e;
}

/* The three lists Kafka's tool keeps for a time index. */
typedef struct dump_time_errors {
    buf_t not_found;
    buf_t mismatch;
    buf_t disorder;
} dump_time_errors_t;

/* An entry (T, O) says: the batch holding offset O has T as its largest
 * timestamp (leader appends store the record's offset, follower appends and
 * recovery the batch's last offset: either way it lies in that batch, so
 * unlike Kafka's tool we do not require O to end the batch). */
static void dump_time_entry_check(const dump_spans_t *s, timestamp_offset_t e, dump_time_errors_t *errs) {
    size_t j = dump_spans_reaching(s, 0, e.offset);
    if (j == s->n || s->v[j].base_offset > e.offset) {
        buf_appendf(&errs->not_found, "Indexed offset: %" PRId64 ", found log offset: %" PRId64 "\n", e.offset,
                        j == s->n ? (int64_t)-1 : s->v[j].last_offset);
        return;
    }
    int64_t ts = dump_span_max_timestamp(s, &s->v[j]);
    if (ts != e.timestamp)
        buf_appendf(&errs->mismatch, "  Index timestamp: %" PRId64 ", log timestamp: %" PRId64 "\n", e.timestamp,
                        ts);
}

/* Kafka's dumpTimeIndex, with the zero-tail rule of dump_index_entries. */
static int dump_time_index_entries(const dump_opts_t *o, const dump_index_file_t *f) {
    dump_spans_t spans;
    dump_spans_build(&spans, &f->log, o->max_message_size);
    dump_time_errors_t errs = {BUF_INIT, BUF_INIT, BUF_INIT};
    size_t entries = f->map.len / TIME_INDEX_ENTRY_SIZE, zeros = 0;
    int64_t prev_ts = TIME_INDEX_NO_TIMESTAMP;
    for (size_t i = 0; i < entries; i++) {
        timestamp_offset_t e = dump_time_entry(&f->map, f->base, i);
        if (i > 0 && e.offset == f->base) {
            zeros = entries - i;
            break;
        }
        if (f->have_log)
            dump_time_entry_check(&spans, e, &errs);
        if (i > 0 && prev_ts >= e.timestamp)
            buf_appendf(&errs.disorder, "  Index timestamp: %" PRId64 ", Previously indexed timestamp: %" PRId64
                                            "\n", e.timestamp, prev_ts);
        if (!o->verify_only)
            printf("timestamp: %" PRId64 " offset: %" PRId64 "\n", e.timestamp, e.offset);
        prev_ts = e.timestamp;
    }
    dump_zero_tail(o, zeros);
    fflush(stdout);
    int status = dump_index_unchecked(o, f);
    status = dump_worst(status, dump_report("Found timestamp mismatch in :", f->path, &errs.mismatch));
    status = dump_worst(status, dump_report("Found out of order timestamp in :", f->path, &errs.disorder));
    status = dump_worst(status, dump_report("The following indexed offsets are not found in the log.", NULL,
                                          &errs.not_found));
    dump_spans_free(&spans);
    return status;
}

static int dump_time_index(const dump_opts_t *o, const char *path, const dump_name_t *nm) {
    dump_index_file_t f;
    int status = dump_index_file_open(path, nm, &f);
    if (status < 0)
        return DUMP_EXIT_USAGE;
    if (o->sanity_only)
        status = dump_worst(status, dump_sanity_report(path, dump_time_index_sanity(&f)));
    else
        status = dump_worst(status, dump_time_index_entries(o, &f));
    dump_index_file_close(&f);
    return status;
}


/* ---- .txnindex and .snapshot -------------------------------------------------------------- */

/* Aborted transactions: 34-byte entries (storage-and-replication.md §2.4). */
static int dump_txn_index(const char *path) {
    dump_map_t m;
    if (dump_map_arg(path, &m) != 0)
        return DUMP_EXIT_USAGE;
    int status = DUMP_EXIT_OK;
    size_t n = m.len / DUMP_TXN_ENTRY_SIZE;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = m.data + i * DUMP_TXN_ENTRY_SIZE;
        int16_t version = (int16_t)be16_load(p);
        printf("version: %d producerId: %" PRId64 " firstOffset: %" PRId64 " lastOffset: %" PRId64
               " lastStableOffset: %" PRId64 "\n",
               version, (int64_t)be64_load(p + 2), (int64_t)be64_load(p + 10), (int64_t)be64_load(p + 18),
               (int64_t)be64_load(p + 26));
        if (version != 0) {
            printf("Invalid entry %zu: version %d (expected 0)\n", i, version);
            status = DUMP_EXIT_INVALID;
        }
    }
    if (m.len % DUMP_TXN_ENTRY_SIZE) {
        printf("Found %zu invalid bytes at the end of %s\n", m.len % DUMP_TXN_ENTRY_SIZE, dump_basename(path));
        status = DUMP_EXIT_INVALID;
    }
    dump_map_close(&m);
    return status;
}

/* Kafka's DefaultRecordBatch.decrementSequence. */
static int64_t dump_sequence_sub(int32_t seq, int32_t dec) {
    if (seq < dec)
        return (int64_t)INT32_MAX - ((int64_t)dec - seq) + 1;
    return (int64_t)seq - dec;
}

/* One producer: producerId i64, epoch i16, lastSequence i32, lastOffset
 * i64, offsetDelta i32, timestamp i64, coordinatorEpoch i32,
 * currentTxnFirstOffset i64. Kafka prints the batch part only for a
 * lastOffset >= 0. */
static void dump_snapshot_entry(const uint8_t *p) {
    int32_t last_seq = (int32_t)be32_load(p + 10), delta = (int32_t)be32_load(p + 22);
    int64_t last_offset = (int64_t)be64_load(p + 14);
    printf("producerId: %" PRId64 " producerEpoch: %d coordinatorEpoch: %" PRId32 " currentTxnFirstOffset: %" PRId64,
           (int64_t)be64_load(p), (int16_t)be16_load(p + 8), (int32_t)be32_load(p + 34), (int64_t)be64_load(p + 38));
    if (last_offset >= 0)
        printf(" firstSequence: %" PRId64 " lastSequence: %" PRId32 " lastOffset: %" PRId64 " offsetDelta: %" PRId32
               " timestamp: %" PRId64,
               dump_sequence_sub(last_seq, delta), last_seq, last_offset, delta, (int64_t)be64_load(p + 26));
    putchar('\n');
}

/* Producer state snapshot: version 1, CRC-32C of everything after byte 6,
 * then the entries (storage-and-replication.md §2.4). */
static int dump_snapshot(const char *path) {
    dump_map_t m;
    if (dump_map_arg(path, &m) != 0)
        return DUMP_EXIT_USAGE;
    int status = DUMP_EXIT_INVALID;
    if (m.len < DUMP_SNAPSHOT_HEADER_SIZE) {
        printf("Invalid snapshot: %zu bytes, fewer than the header (%d)\n", m.len, DUMP_SNAPSHOT_HEADER_SIZE);
        goto out;
    }
    int16_t version = (int16_t)be16_load(m.data);
    uint32_t stored = be32_load(m.data + 2), computed = crc32c(0, m.data + 6, m.len - 6);
    int32_t count = (int32_t)be32_load(m.data + 6);
    if (version != DUMP_SNAPSHOT_VERSION) {
        printf("Invalid snapshot: version %d (expected %d)\n", version, DUMP_SNAPSHOT_VERSION);
        goto out;
    }
    if (stored != computed) {
        printf("Invalid snapshot: CRC is no longer valid (stored crc: %" PRIu32 ", computed crc: %" PRIu32 ")\n",
               stored, computed);
        goto out;
    }
    if (count < 0 || (m.len - DUMP_SNAPSHOT_HEADER_SIZE) != (size_t)count * DUMP_SNAPSHOT_ENTRY_SIZE) {
        printf("Invalid snapshot: %" PRId32 " entries do not fill %zu bytes\n", count, m.len);
        goto out;
    }
    for (int32_t i = 0; i < count; i++) {
        const uint8_t *p = m.data + DUMP_SNAPSHOT_HEADER_SIZE + (size_t)i * DUMP_SNAPSHOT_ENTRY_SIZE;
        dump_snapshot_entry(p);
    }
    status = DUMP_EXIT_OK;
out:
    dump_map_close(&m);
    return status;
}

/* ---- checkpoints and meta.properties -------------------------------------------------------- */

static int dump_num_width(int64_t v) {
    char tmp[24];
    return snprintf(tmp, sizeof tmp, "%" PRId64, v);
}

/* "topic partition offset" as an aligned table, in file order. */
static int dump_offset_checkpoint(const char *path) {
    checkpoint_offsets_t co = CHECKPOINT_OFFSETS_INIT;
    char err[512];
    if (checkpoint_offsets_read(path, &co, err, sizeof err) != 0) {
        fprintf(stderr, DUMP_PROG ": %s\n", err);
        checkpoint_offsets_free(&co); /* the array may have grown */
        return DUMP_EXIT_INVALID;
    }
    int tw = (int)strlen("topic"), pw = (int)strlen("partition"), ow = (int)strlen("offset");
    for (size_t i = 0; i < co.count; i++) {
        tw = dump_worst(tw, (int)strlen(co.entries[i].topic));
        pw = dump_worst(pw, dump_num_width(co.entries[i].partition));
        ow = dump_worst(ow, dump_num_width(co.entries[i].offset));
    }
    printf("%-*s  %*s  %*s\n", tw, "topic", pw, "partition", ow, "offset");
    for (size_t i = 0; i < co.count; i++)
        printf("%-*s  %*" PRId32 "  %*" PRId64 "\n", tw, co.entries[i].topic, pw, co.entries[i].partition, ow,
               co.entries[i].offset);
    checkpoint_offsets_free(&co);
    return DUMP_EXIT_OK;
}

typedef struct dump_epochs {
    leader_epoch_entry_t *v;
    size_t n, cap;
} dump_epochs_t;

static int dump_epoch_entry(void *ctx, char *const *fields, char *err, size_t errlen) {
    dump_epochs_t *e = ctx;
    int64_t epoch, offset;
    if (checkpoint_parse_number(fields[0], INT32_MAX, "epoch", &epoch, err, errlen) != 0 ||
        checkpoint_parse_number(fields[1], INT64_MAX, "start offset", &offset, err, errlen) != 0)
        return -1;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->v = mem_realloc(e->v, e->cap * sizeof *e->v);
    }
    e->v[e->n].epoch = (int32_t)epoch;
    e->v[e->n].start_offset = offset;
    e->n++;
    return 0;
}

/* The raw entries, not leader_epoch_load()'s replay: a dump must show what
 * is in the file, and entries that do not ascend are the damage to show. */
static int dump_epoch_checkpoint(const char *path) {
    dump_epochs_t e = {NULL, 0, 0};
    char err[512];
    if (checkpoint_read(path, CHECKPOINT_VERSION, 2, dump_epoch_entry, &e, err, sizeof err) != 0) {
        fprintf(stderr, DUMP_PROG ": %s\n", err);
        free(e.v);
        return DUMP_EXIT_INVALID;
    }
    int ew = (int)strlen("epoch"), ow = (int)strlen("startOffset");
    for (size_t i = 0; i < e.n; i++) {
        ew = dump_worst(ew, dump_num_width(e.v[i].epoch));
        ow = dump_worst(ow, dump_num_width(e.v[i].start_offset));
    }
    printf("%*s  %*s\n", ew, "epoch", ow, "startOffset");
    for (size_t i = 0; i < e.n; i++)
        printf("%*" PRId32 "  %*" PRId64 "\n", ew, e.v[i].epoch, ow, e.v[i].start_offset);
    int status = DUMP_EXIT_OK;
    for (size_t i = 1; i < e.n; i++) {
        if (e.v[i].epoch <= e.v[i - 1].epoch || e.v[i].start_offset <= e.v[i - 1].start_offset) {
            fprintf(stderr, "%s: entries do not ascend: epoch %" PRId32 " startOffset %" PRId64
                            " follows epoch %" PRId32 " startOffset %" PRId64 "\n",
                    path, e.v[i].epoch, e.v[i].start_offset, e.v[i - 1].epoch, e.v[i - 1].start_offset);
            status = DUMP_EXIT_INVALID;
        }
    }
    free(e.v);
    return status;
}

/* Read directly and parsed with meta_properties_parse():
 * meta_properties_read() would delete a leftover .tmp. */
static int dump_meta(const char *path) {
    dump_map_t m;
    if (dump_map_arg(path, &m) != 0)
        return DUMP_EXIT_USAGE;
    int status = DUMP_EXIT_INVALID;
    char err[512];
    meta_properties_t mp;
    meta_properties_init(&mp);
    if (m.len > DUMP_META_MAX_SIZE)
        fprintf(stderr, DUMP_PROG ": %s: %zu bytes is too large for a meta.properties\n", path, m.len);
    else if (meta_properties_parse((const char *)m.data, m.len, path, &mp, err, sizeof err) != 0)
        fprintf(stderr, DUMP_PROG ": %s\n", err);
    else {
        printf("version: %" PRId32 "\n", mp.version);
        if (mp.has_broker_id)
            printf("broker.id: %" PRId32 "\n", mp.broker_id);
        else
            printf("broker.id: (none)\n");
        printf("cluster.id: %s\n", mp.cluster_id ? mp.cluster_id : "(none)");
        status = mp.version == 0 ? DUMP_EXIT_OK : DUMP_EXIT_INVALID;
        if (mp.version != 0)
            fprintf(stderr, "%s: version %" PRId32 " is not accepted by ZooKeeper-mode brokers (expected 0)\n", path,
                    mp.version);
    }
    meta_properties_free(&mp);
    dump_map_close(&m);
    return status;
}

/* ---- --compare-checkpoints ------------------------------------------------------------------- */

/* One entry of one file, for the merge. */
typedef struct dump_cmp_row {
    const char *topic;
    int32_t partition;
    size_t file;
    size_t seq; /* position in its file: the last duplicate wins, as in Kafka */
    int64_t offset;
} dump_cmp_row_t;

static int dump_cmp_order(const void *a, const void *b) {
    const dump_cmp_row_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Prints one topic-partition: its offset in every file ("-" where absent)
 * and, when the files that have it disagree, which ones are behind the
 * highest. Absence is no mark: a broker holds only its own replicas.
 * Returns whether the offsets differ. */
static bool dump_cmp_print(const char *topic, int32_t partition, const int64_t *offs, const bool *has, size_t nfiles) {
    int64_t max = INT64_MIN;
    for (size_t f = 0; f < nfiles; f++)
        if (has[f])
            max = dump_max64(max, offs[f]);
    printf("%s %" PRId32 ":", topic, partition);
    bool differ = false;
    for (size_t f = 0; f < nfiles; f++) {
        if (has[f])
            printf(" %" PRId64, offs[f]);
        else
            printf(" -");
        differ = differ || (has[f] && offs[f] != max);
    }
    if (differ) {
        printf(" <- lagging:");
        const char *sep = " ";
        for (size_t f = 0; f < nfiles; f++) {
            if (has[f] && offs[f] != max) {
                printf("%sfile%zu", sep, f + 1);
                sep = ", ";
            }
        }
    }
    putchar('\n');
    return differ;
}

/* Reads every file as an offset checkpoint into files[]. Returns the worst
 * status: 2 for a file that cannot be read, 1 for a malformed one. */
static int dump_compare_read(const dump_opts_t *o, checkpoint_offsets_t *files) {
    int status = DUMP_EXIT_OK;
    for (size_t f = 0; f < o->nfiles; f++) {
        char err[512];
        checkpoint_offsets_init(&files[f]);
        if (!dump_readable(o->files[f])) {
            status = DUMP_EXIT_USAGE;
        } else if (checkpoint_offsets_read(o->files[f], &files[f], err, sizeof err) != 0) {
            fprintf(stderr, DUMP_PROG ": %s\n", err);
            status = dump_worst(status, DUMP_EXIT_INVALID);
        }
    }
    return status;
}

/* Merges the files' entries by topic-partition (one sort of all of them,
 * so 100k partitions cost no more than a sort) and prints one line each.
 * Returns 1 when any partition differs. */
static int dump_compare_print(const dump_opts_t *o, const checkpoint_offsets_t *files) {
    size_t total = 0, n = 0;
    for (size_t f = 0; f < o->nfiles; f++)
        total += files[f].count;
    dump_cmp_row_t *rows = mem_calloc(total ? total : 1, sizeof *rows);
    for (size_t f = 0; f < o->nfiles; f++)
        for (size_t i = 0; i < files[f].count; i++)
            rows[n++] = (dump_cmp_row_t){files[f].entries[i].topic, files[f].entries[i].partition, f, i,
                                         files[f].entries[i].offset};
    qsort(rows, n, sizeof *rows, dump_cmp_order);
    for (size_t f = 0; f < o->nfiles; f++)
        printf("file%zu: %s\n", f + 1, o->files[f]);
    int64_t *offs = mem_calloc(o->nfiles, sizeof *offs);
    bool *has = mem_calloc(o->nfiles, sizeof *has);
    size_t partitions = 0, differing = 0;
    for (size_t i = 0, j; i < n; i = j) {
        memset(has, 0, o->nfiles * sizeof *has);
        for (j = i; j < n && rows[j].partition == rows[i].partition && strcmp(rows[j].topic, rows[i].topic) == 0; j++) {
            offs[rows[j].file] = rows[j].offset; /* sorted by seq: the last duplicate stays */
            has[rows[j].file] = true;
        }
        partitions++;
        differing += dump_cmp_print(rows[i].topic, rows[i].partition, offs, has, o->nfiles);
    }
    printf("%zu of %zu partitions differ\n", differing, partitions);
    free(offs);
    free(has);
    free(rows);
    return differing ? DUMP_EXIT_INVALID : DUMP_EXIT_OK;
}

/* The book's check for a lagging replica: the same checkpoint (usually
 * replication-offset-checkpoint) from several brokers, side by side, one
 * line per topic-partition in name order. Exit 1 when any differ (as diff(1)
 * does); nothing is compared when a file is unreadable (2) or malformed (1). */
static int dump_compare(const dump_opts_t *o) {
    if (o->nfiles < 2) {
        fprintf(stderr, DUMP_PROG ": --compare-checkpoints needs at least two files\n");
        return DUMP_EXIT_USAGE;
    }
    checkpoint_offsets_t *files = mem_calloc(o->nfiles, sizeof *files);
    int status = dump_compare_read(o, files);
    if (status == DUMP_EXIT_OK)
        status = dump_compare_print(o, files);
    for (size_t f = 0; f < o->nfiles; f++)
        checkpoint_offsets_free(&files[f]);
    free(files);
    return status;
}

/* ---- command line ----------------------------------------------------------------------------- */

static void dump_usage(FILE *out) {
    fprintf(out,
            "usage: " DUMP_PROG " [options] FILE...\n"
            "       " DUMP_PROG " --compare-checkpoints FILE1 FILE2...\n"
            "Dumps segment files (.log, .index, .timeindex, .txnindex, .snapshot), offset and\n"
            "leader-epoch checkpoints and meta.properties, and checks them.\n"
            "  --files F1,F2,...       files to dump (also accepted as arguments)\n"
            "  --print-data-log        print keys and values (implies --deep-iteration)\n"
            "  --deep-iteration        print every record, not only batches\n"
            "  --index-sanity-check    only run the broker's load-time check on index files\n"
            "  --verify-index-only     check indexes against the .log without printing entries\n"
            "  --max-message-size N    largest batch accepted (default %d)\n"
            "  --compare-checkpoints   compare offset checkpoints of several brokers\n"
            "Exit status: 0 valid, 1 corruption or mismatches found, 2 usage or read error.\n",
            DUMP_DEFAULT_MAX_MESSAGE_SIZE);
}

static void dump_opts_add_file(dump_opts_t *o, const char *file, size_t len) {
    if (len == 0)
        return;
    o->files = mem_realloc(o->files, (o->nfiles + 1) * sizeof *o->files);
    o->files[o->nfiles++] = mem_strndup(file, len);
}

static void dump_opts_free(dump_opts_t *o) {
    for (size_t i = 0; i < o->nfiles; i++)
        free(o->files[i]);
    free(o->files);
    o->files = NULL;
    o->nfiles = 0;
}

static int dump_parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > INT32_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

enum { OPT_FILES = 256, OPT_PRINT, OPT_DEEP, OPT_SANITY, OPT_VERIFY, OPT_MAX_SIZE, OPT_COMPARE, OPT_HELP };

/* Returns -1 to go on, or the exit status (help, usage error). */
static int dump_parse_args(int argc, char **argv, dump_opts_t *o) {
    static const struct option longopts[] = {
        {"files", required_argument, NULL, OPT_FILES},
        {"print-data-log", no_argument, NULL, OPT_PRINT},
        {"deep-iteration", no_argument, NULL, OPT_DEEP},
        {"index-sanity-check", no_argument, NULL, OPT_SANITY},
        {"verify-index-only", no_argument, NULL, OPT_VERIFY},
        {"max-message-size", required_argument, NULL, OPT_MAX_SIZE},
        {"compare-checkpoints", no_argument, NULL, OPT_COMPARE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->max_message_size = DUMP_DEFAULT_MAX_MESSAGE_SIZE;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_FILES:
            for (const char *p = optarg;;) {
                const char *comma = strchr(p, ',');
                dump_opts_add_file(o, p, comma ? (size_t)(comma - p) : strlen(p));
                if (!comma)
                    break;
                p = comma + 1;
            }
            break;
        case OPT_PRINT:
            o->print_data = o->deep = true;
            break;
        case OPT_DEEP:
            o->deep = true;
            break;
        case OPT_SANITY:
            o->sanity_only = true;
            break;
        case OPT_VERIFY:
            o->verify_only = true;
            break;
        case OPT_MAX_SIZE:
            if (dump_parse_size(optarg, &o->max_message_size) != 0) {
                fprintf(stderr, DUMP_PROG ": --max-message-size: '%s' is not a number in [1, %d]\n", optarg,
                        INT32_MAX);
                return DUMP_EXIT_USAGE;
            }
            break;
        case OPT_COMPARE:
            o->compare = true;
            break;
        case 'h':
        case OPT_HELP:
            dump_usage(stdout);
            return DUMP_EXIT_OK;
        default:
            dump_usage(stderr);
            return DUMP_EXIT_USAGE;
        }
    }
    for (int i = optind; i < argc; i++)
        dump_opts_add_file(o, argv[i], strlen(argv[i]));
    if (o->nfiles == 0) {
        fprintf(stderr, DUMP_PROG ": no files given\n");
        dump_usage(stderr);
        return DUMP_EXIT_USAGE;
    }
    return -1;
}

/* Dumps one file by what its name says; returns its exit status. */
static int dump_file(const dump_opts_t *o, const char *path) {
    printf("Dumping %s\n", path);
    fflush(stdout);
    if (!dump_readable(path))
        return DUMP_EXIT_USAGE;
    dump_name_t nm;
    dump_name_parse(path, &nm);
    int status = DUMP_EXIT_OK;
    switch (nm.kind) {
    case DUMP_KIND_LOG:
        status = dump_log(o, path, &nm);
        break;
    case DUMP_KIND_INDEX:
        status = dump_index(o, path, &nm);
        break;
    case DUMP_KIND_TIME_INDEX:
        status = dump_time_index(o, path, &nm);
        break;
    case DUMP_KIND_TXN_INDEX:
        status = dump_txn_index(path);
        break;
    case DUMP_KIND_SNAPSHOT:
        status = dump_snapshot(path);
        break;
    case DUMP_KIND_OFFSET_CHECKPOINT:
        status = dump_offset_checkpoint(path);
        break;
    case DUMP_KIND_EPOCH_CHECKPOINT:
        status = dump_epoch_checkpoint(path);
        break;
    case DUMP_KIND_META:
        status = dump_meta(path);
        break;
    case DUMP_KIND_UNKNOWN:
        fprintf(stderr, "Ignoring unknown file %s\n", path);
        break;
    }
    fflush(stdout);
    dump_name_free(&nm);
    return status;
}

int main(int argc, char **argv) {
    dump_opts_t o;
    int status = dump_parse_args(argc, argv, &o);
    if (status >= 0) {
        dump_opts_free(&o);
        return status;
    }
    status = DUMP_EXIT_OK;
    if (o.compare)
        status = dump_compare(&o);
    else
        for (size_t i = 0; i < o.nfiles; i++)
            status = dump_worst(status, dump_file(&o, o.files[i]));
    dump_opts_free(&o);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, DUMP_PROG ": error writing output: %s\n", strerror(errno));
        return DUMP_EXIT_USAGE;
    }
    return status;
}
