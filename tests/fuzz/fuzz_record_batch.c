/*
 * fuzz_record_batch — libFuzzer target for the validation of a producer's
 * record batch: the input is the records field of one Produce partition, as
 * log_append_as_leader (broker/log/log.c) hands it to record_batch_validate.
 *
 * Each input is validated twice — as given, and with its framing repaired
 * (batchLength = the input's length, baseOffset 0, CRC recomputed), because
 * random bytes almost never carry a right CRC-32C and the record parser
 * behind the CRC check is what most needs fuzzing — each time under several
 * topic configurations: every codec as compression.type, compacted, and
 * LogAppendTime. A batch that validates must then hold up everywhere the
 * broker takes it next:
 *  - record_iter_* walks exactly recordsCount records with offset deltas
 *    0..n-1, every header parses, and the records' largest timestamp is the
 *    one validation reported;
 *  - record_batch_assign (and, with CreateTime, record_batch_fix_max_timestamp)
 *    on a copy gives a batch batch_check accepts (BATCH_OK), with the records
 *    untouched;
 *  - where the topic's codec differs, record_batch_recompress gives a batch
 *    that validates again and holds the same records.
 * Raw inputs are also walked with record_iter_* and batch_check regardless of
 * validation, as the log reader and dump tool do.
 */
#include "fuzz.h"

#include "util/buf.h"
#include "proto/compress.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "proto/kerr.h"
#include "log/record_batch.h"

#include <stdbool.h>
#include <string.h>

#define TS0 1600000000000LL          /* "now" for timestamp checks; the seeds use it too */
#define MAX_UNCOMPRESSED (64u << 10) /* keeps decompression bombs cheap; make_seeds.c knows it */
#define MAX_MESSAGE_BYTES 1048588    /* Kafka's default max.message.bytes */

/* The topic configurations every input is validated under; the rest of
 * batch_validate_opts_t comes from opts_for(). */
typedef struct opt_set {
    compression_t topic_compression;
    bool compacted;
    bool log_append_time;
    size_t max_message_bytes;
    int64_t max_timestamp_diff_ms;
} opt_set_t;

static const opt_set_t opt_sets[] = {
    {COMPRESSION_PRODUCER, false, false, MAX_MESSAGE_BYTES, INT64_MAX},
    {COMPRESSION_NONE, false, false, MAX_MESSAGE_BYTES, INT64_MAX},
    {COMPRESSION_GZIP, false, false, MAX_MESSAGE_BYTES, INT64_MAX},
    {COMPRESSION_SNAPPY, false, false, MAX_MESSAGE_BYTES, INT64_MAX},
    {COMPRESSION_LZ4, false, false, MAX_MESSAGE_BYTES, INT64_MAX},
    {COMPRESSION_ZSTD, false, false, MAX_MESSAGE_BYTES, INT64_MAX},
    {COMPRESSION_PRODUCER, true, false, MAX_MESSAGE_BYTES, INT64_MAX},
    {COMPRESSION_LZ4, false, true, MAX_MESSAGE_BYTES, INT64_MAX},
    {COMPRESSION_PRODUCER, true, false, 512, 3600 * 1000},
};
#define NOPT_SETS (sizeof opt_sets / sizeof opt_sets[0])

#define ASSIGN_BASE_OFFSET 123456789012LL
#define ASSIGN_EPOCH 42
#define ASSIGN_NOW (TS0 + 777)

/* ---- walking records ------------------------------------------------------ */

/* What a full walk over a batch's records saw; two walks over the same
 * records (before and after a rewrite or recompression) must agree. */
typedef struct walk {
    int32_t count;
    uint32_t digest; /* CRC-32C over every decoded field */
    int64_t max_ts;  /* -1 when all are -1, like batch_validation_t */
    int32_t max_ts_delta;
    bool deltas_in_order; /* offset deltas are 0..count-1 */
    bool null_key;
} walk_t;

static uint32_t digest_i64(uint32_t crc, int64_t v) {
    uint8_t b[8];
    be64_store(b, (uint64_t)v);
    return crc32c(crc, b, sizeof b);
}

static uint32_t digest_span(uint32_t crc, const uint8_t *p, int32_t len) {
    crc = digest_i64(crc, len);
    return len > 0 ? crc32c(crc, p, (size_t)len) : crc;
}

/* Walks a record's headers; they must be exactly header_count and take
 * exactly headers_len bytes (record_iter_next promised so). */
static uint32_t walk_headers(uint32_t crc, const record_t *r) {
    const uint8_t *p = r->headers, *end = r->headers + r->headers_len;
    record_header_t h;
    int32_t n = 0;
    int rc;
    while ((rc = record_headers_next(&p, end, &h)) == 1) {
        FUZZ_CHECK(h.key_len >= 0 && (h.value_len >= 0 || (h.value_len == -1 && !h.value)), "header lengths %d/%d",
                   h.key_len, h.value_len);
        crc = digest_span(digest_span(crc, h.key, h.key_len), h.value, h.value_len);
        n++;
    }
    FUZZ_CHECK(rc == 0 && p == end, "headers of an accepted record do not parse (rc %d)", rc);
    FUZZ_CHECK(n == r->header_count, "%d headers walked, record says %d", n, r->header_count);
    return crc;
}

/* A full walk with record_iter_*. Returns the iterator's error; on success
 * (KERR_NONE) *w describes the records. */
static kerr_t walk_records(const uint8_t *batch, size_t len, walk_t *w) {
    memset(w, 0, sizeof *w);
    w->max_ts = -1;
    w->deltas_in_order = true;
    record_iter_t it;
    kerr_t err = record_iter_init(&it, batch, len, MAX_UNCOMPRESSED);
    FUZZ_CHECK(err == it.err, "record_iter_init returned %d, it->err %d", err, it.err);
    record_t r;
    int rc;
    while ((rc = record_iter_next(&it, &r)) == 1) {
        FUZZ_CHECK((r.key_len >= 0 && r.key) || (r.key_len == -1 && !r.key), "key %p/%d", (void *)r.key, r.key_len);
        FUZZ_CHECK((r.value_len >= 0 && r.value) || (r.value_len == -1 && !r.value), "value %p/%d",
                   (void *)r.value, r.value_len);
        int64_t ts = (int64_t)((uint64_t)it.header.first_timestamp + (uint64_t)r.timestamp_delta);
        if (ts > w->max_ts) {
            w->max_ts = ts;
            w->max_ts_delta = r.offset_delta;
        }
        if (r.offset_delta != w->count)
            w->deltas_in_order = false;
        if (!r.key)
            w->null_key = true;
        uint32_t crc = digest_i64(w->digest, r.attributes);
        crc = digest_i64(digest_i64(crc, r.timestamp_delta), r.offset_delta);
        crc = digest_span(digest_span(crc, r.key, r.key_len), r.value, r.value_len);
        w->digest = walk_headers(digest_i64(crc, r.header_count), &r);
        w->count++;
    }
    if (rc == 0) {
        FUZZ_CHECK(w->count == it.header.records_count, "walk ended after %d of %d records", w->count,
                   it.header.records_count);
        FUZZ_CHECK(record_iter_next(&it, &r) == 0, "the end of the records is not sticky");
    } else {
        FUZZ_CHECK(rc == -1 && it.err != KERR_NONE, "record_iter_next gave %d with error %d", rc, it.err);
        FUZZ_CHECK(record_iter_next(&it, &r) == -1, "an iterator error is not sticky");
    }
    err = it.err;
    record_iter_free(&it);
    return err;
}

/* ---- after validation ----------------------------------------------------- */

static uint8_t *dup_bytes(const uint8_t *p, size_t len) {
    uint8_t *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL, "out of memory");
    if (len)
        memcpy(copy, p, len);
    return copy;
}

static void check_walk(const walk_t *a, const walk_t *b, const char *what) {
    FUZZ_CHECK(a->count == b->count && a->digest == b->digest && a->max_ts == b->max_ts &&
                   a->max_ts_delta == b->max_ts_delta,
               "%s changed the records (%d -> %d records)", what, a->count, b->count);
}

/* What Produce does with a batch that validated: assign offsets (and the
 * append time), or fix a wrong maxTimestamp. Both rewrite in place and must
 * leave a batch recovery and followers accept. */
static void check_rewrites(const uint8_t *data, size_t len, const batch_validate_opts_t *o,
                           const batch_validation_t *v, const walk_t *w) {
    uint8_t *copy = dup_bytes(data, len);
    record_batch_assign(copy, ASSIGN_BASE_OFFSET, ASSIGN_EPOCH, o->log_append_time, ASSIGN_NOW);
    batch_header_t h;
    batch_check_t bc = batch_check(copy, len, len, &h);
    FUZZ_CHECK(bc == BATCH_OK, "batch_check gave %d after record_batch_assign", bc);
    FUZZ_CHECK(h.base_offset == ASSIGN_BASE_OFFSET && h.partition_leader_epoch == ASSIGN_EPOCH,
               "assign wrote offset %lld epoch %d", (long long)h.base_offset, h.partition_leader_epoch);
    if (o->log_append_time)
        FUZZ_CHECK(batch_is_log_append_time(&h) && h.max_timestamp == ASSIGN_NOW,
                   "LogAppendTime assign left attributes %#x maxTimestamp %lld", h.attributes,
                   (long long)h.max_timestamp);
    else
        FUZZ_CHECK(memcmp(copy + BATCH_OFF_LENGTH, data + BATCH_OFF_LENGTH, 4) == 0 &&
                       memcmp(copy + BATCH_OFF_MAGIC, data + BATCH_OFF_MAGIC, len - BATCH_OFF_MAGIC) == 0,
                   "CreateTime assign changed bytes other than baseOffset and partitionLeaderEpoch");
    walk_t after;
    FUZZ_CHECK(walk_records(copy, len, &after) == KERR_NONE, "assigned batch does not iterate");
    check_walk(w, &after, "record_batch_assign");
    free(copy);

    if (o->log_append_time)
        return;
    copy = dup_bytes(data, len);
    bool changed = record_batch_fix_max_timestamp(copy, v->max_timestamp);
    FUZZ_CHECK(changed == (v->header.max_timestamp != v->max_timestamp), "fix_max_timestamp returned %d", changed);
    bc = batch_check(copy, len, len, &h);
    FUZZ_CHECK(bc == BATCH_OK && h.max_timestamp == v->max_timestamp && !batch_is_log_append_time(&h),
               "after fix_max_timestamp: check %d, maxTimestamp %lld", bc, (long long)h.max_timestamp);
    free(copy);
}

/* A topic whose compression.type differs gets the batch rebuilt with its
 * codec; the rebuilt batch must be as valid as the original and hold the
 * same records. */
static void check_recompress(const uint8_t *data, size_t len, const batch_validate_opts_t *o,
                             const batch_validation_t *v, const walk_t *w) {
    buf_t out = BUF_INIT;
    kerr_t err = record_batch_recompress(data, len, o->topic_compression, MAX_UNCOMPRESSED, &out);
    FUZZ_CHECK(err == KERR_NONE, "recompressing a valid batch to %s failed: %d",
               compression_name(o->topic_compression), err);
    batch_validate_opts_t again = *o;
    again.topic_compression = COMPRESSION_PRODUCER;
    again.max_message_bytes = SIZE_MAX; /* recompression may grow it */
    batch_validation_t v2;
    err = record_batch_validate(out.data, out.len, &again, &v2);
    FUZZ_CHECK(err == KERR_NONE, "the recompressed (%s) batch does not validate: %d",
               compression_name(o->topic_compression), err);
    FUZZ_CHECK(batch_compression(&v2.header) == o->topic_compression, "recompressed batch has codec %d",
               batch_compression(&v2.header));
    FUZZ_CHECK(v2.max_timestamp == v->max_timestamp &&
                   v2.offset_of_max_timestamp_delta == v->offset_of_max_timestamp_delta,
               "recompression changed the max timestamp");
    walk_t after;
    FUZZ_CHECK(walk_records(out.data, out.len, &after) == KERR_NONE, "recompressed batch does not iterate");
    check_walk(w, &after, "record_batch_recompress");
    buf_free(&out);
}

/* Field by field: the struct has padding. */
static bool same_header(const batch_header_t *a, const batch_header_t *b) {
    return a->base_offset == b->base_offset && a->batch_length == b->batch_length &&
           a->partition_leader_epoch == b->partition_leader_epoch && a->magic == b->magic && a->crc == b->crc &&
           a->attributes == b->attributes && a->last_offset_delta == b->last_offset_delta &&
           a->first_timestamp == b->first_timestamp && a->max_timestamp == b->max_timestamp &&
           a->producer_id == b->producer_id && a->producer_epoch == b->producer_epoch &&
           a->base_sequence == b->base_sequence && a->records_count == b->records_count;
}

static void check_valid(const uint8_t *data, size_t len, const batch_validate_opts_t *o,
                        const batch_validation_t *v) {
    batch_header_t h;
    batch_check_t bc = batch_check(data, len, len, &h);
    FUZZ_CHECK(bc == BATCH_OK, "validated batch fails batch_check: %d", bc);
    FUZZ_CHECK(same_header(&h, &v->header), "validation reported another header");
    FUZZ_CHECK(v->needs_recompression == (o->topic_compression != COMPRESSION_PRODUCER &&
                                          o->topic_compression != batch_compression(&h)),
               "needs_recompression %d for topic codec %d, batch codec %d", v->needs_recompression,
               o->topic_compression, batch_compression(&h));

    walk_t w;
    kerr_t err = walk_records(data, len, &w);
    FUZZ_CHECK(err == KERR_NONE, "validated batch does not iterate: %d", err);
    FUZZ_CHECK(w.count == h.records_count && w.count == h.last_offset_delta + 1 && w.deltas_in_order,
               "%d records walked for count %d, lastOffsetDelta %d", w.count, h.records_count, h.last_offset_delta);
    FUZZ_CHECK(w.max_ts == v->max_timestamp && w.max_ts_delta == v->offset_of_max_timestamp_delta,
               "max timestamp %lld@%d walked, %lld@%d validated", (long long)w.max_ts, w.max_ts_delta,
               (long long)v->max_timestamp, v->offset_of_max_timestamp_delta);
    FUZZ_CHECK(!o->compacted || !w.null_key, "a null key passed on a compacted topic");
    FUZZ_CHECK(!batch_is_log_append_time(&h), "a producer batch with the LogAppendTime bit passed");

    check_rewrites(data, len, o, v, &w);
    if (v->needs_recompression)
        check_recompress(data, len, o, v, &w);
}

/* ---- the target ------------------------------------------------------------ */

static bool documented_validate_error(kerr_t err) {
    return err == KERR_CORRUPT_MESSAGE || err == KERR_INVALID_RECORD || err == KERR_MESSAGE_TOO_LARGE ||
           err == KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT || err == KERR_INVALID_TIMESTAMP;
}

static batch_validate_opts_t opts_for(const opt_set_t *set) {
    batch_validate_opts_t o;
    memset(&o, 0, sizeof o);
    o.max_message_bytes = set->max_message_bytes;
    o.topic_compression = set->topic_compression;
    o.log_append_time = set->log_append_time;
    o.compacted = set->compacted;
    o.max_timestamp_diff_ms = set->max_timestamp_diff_ms;
    o.now_ms = TS0;
    o.max_uncompressed = MAX_UNCOMPRESSED;
    return o;
}

static void validate_all(const uint8_t *data, size_t len) {
    for (size_t i = 0; i < NOPT_SETS; i++) {
        batch_validate_opts_t o = opts_for(&opt_sets[i]);
        batch_validation_t v;
        kerr_t err = record_batch_validate(data, len, &o, &v);
        if (err == KERR_NONE)
            check_valid(data, len, &o, &v);
        else
            FUZZ_CHECK(documented_validate_error(err), "record_batch_validate returned %d", err);
    }
}

/* The paths that read batches without validating them (log recovery,
 * followers, samsa-dump-log) must survive anything too. */
static void read_unvalidated(const uint8_t *data, size_t len) {
    batch_header_t h;
    batch_check_t bc = batch_check(data, len, SIZE_MAX, &h);
    kerr_t err = batch_check_kerr(bc, data, len);
    FUZZ_CHECK((bc == BATCH_OK) == (err == KERR_NONE), "batch_check %d maps to error %d", bc, err);
    walk_t w;
    (void)walk_records(data, len, &w);
}

/* Makes the header agree with the input: one batch exactly len bytes long,
 * baseOffset 0 as from a producer, and a CRC that matches. Returns NULL when
 * that changes nothing or the input is too short to have a header. */
static uint8_t *repair_framing(const uint8_t *data, size_t len) {
    if (len < BATCH_HEADER_SIZE || len - BATCH_LOG_OVERHEAD > INT32_MAX)
        return NULL;
    uint8_t *copy = dup_bytes(data, len);
    be64_store(copy + BATCH_OFF_BASE_OFFSET, 0);
    be32_store(copy + BATCH_OFF_LENGTH, (uint32_t)(len - BATCH_LOG_OVERHEAD));
    be32_store(copy + BATCH_OFF_CRC, crc32c(0, copy + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
    if (memcmp(copy, data, len) == 0) {
        free(copy);
        return NULL;
    }
    return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    read_unvalidated(data, size);
    validate_all(data, size);
    uint8_t *repaired = repair_framing(data, size);
    if (repaired) {
        validate_all(repaired, size);
        free(repaired);
    }
    return 0;
}
