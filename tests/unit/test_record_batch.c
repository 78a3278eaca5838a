/* Record batch v2: the byte-exact test vectors of protocol.md §10, build →
 * iterate round trips for every codec, every validation error path, the
 * in-place rewrites, recompression, and random mutations that must never
 * crash the validator. */
#include "unit.h"

#include "util/buf.h"
#include "proto/compress.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "log/record_batch.h"

#include <stdlib.h>
#include <string.h>

#define TS0 1600000000000LL

static const compression_t codecs[] = {COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4,
                                       COMPRESSION_ZSTD};
#define NCODECS (sizeof codecs / sizeof codecs[0])

static batch_build_opts_t build_opts(compression_t codec) {
    batch_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.compression = codec;
    o.producer_id = -1;
    o.producer_epoch = -1;
    o.base_sequence = -1;
    return o;
}

static batch_validate_opts_t validate_opts(void) {
    batch_validate_opts_t o;
    memset(&o, 0, sizeof o);
    o.max_message_bytes = 1048588;
    o.topic_compression = COMPRESSION_PRODUCER;
    o.max_timestamp_diff_ms = INT64_MAX;
    o.now_ms = TS0;
    return o;
}

static void fix_crc(uint8_t *b, size_t len) { be32_store(b + BATCH_OFF_CRC, crc32c(0, b + 21, len - 21)); }

static kerr_t validate(const buf_t *b) {
    batch_validate_opts_t o = validate_opts();
    batch_validation_t v;
    return record_batch_validate(b->data, b->len, &o, &v);
}

/* A batch around hand-written record bytes: header as a fresh producer batch
 * (count records, deltas 0..count-1 claimed), records compressed with codec. */
static void raw_batch(buf_t *b, const uint8_t *records, size_t len, int32_t count, compression_t codec) {
    buf_reset(b);
    uint8_t *h = buf_extend(b, BATCH_HEADER_SIZE);
    memset(h, 0, BATCH_HEADER_SIZE);
    h[BATCH_OFF_MAGIC] = 2;
    be16_store(h + BATCH_OFF_ATTRIBUTES, (uint16_t)codec);
    be32_store(h + BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(count - 1));
    be64_store(h + BATCH_OFF_FIRST_TIMESTAMP, (uint64_t)TS0);
    be64_store(h + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)TS0);
    be64_store(h + BATCH_OFF_PRODUCER_ID, UINT64_MAX);
    be16_store(h + BATCH_OFF_PRODUCER_EPOCH, 0xffff);
    be32_store(h + BATCH_OFF_BASE_SEQUENCE, UINT32_MAX);
    be32_store(h + BATCH_OFF_RECORDS_COUNT, (uint32_t)count);
    CU_ASSERT_EQUAL_FATAL(compress_append(codec, records, len, b), KERR_NONE);
    be32_store(b->data + BATCH_OFF_LENGTH, (uint32_t)(b->len - BATCH_LOG_OVERHEAD));
    fix_crc(b->data, b->len);
}

/* ---- protocol.md §10 vectors ---------------------------------------------- */

static const uint8_t hi_batch[70] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x00, 0x00, 0x00, 0x00, 0x02, 0x4f,
    0x47, 0x4f, 0x62, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x74, 0x87, 0x6e, 0x80, 0x00, 0x00,
    0x00, 0x01, 0x74, 0x87, 0x6e, 0x80, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x10, 0x00, 0x00, 0x00, 0x01, 0x04, 0x68, 0x69, 0x00};

static void test_vector_build(void) {
    record_input_t r = {NULL, -1, "hi", 2, TS0, 0, NULL};
    batch_build_opts_t o = build_opts(COMPRESSION_NONE);
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &o, &r, 1), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(b.len, 70);
    CU_ASSERT_EQUAL(memcmp(b.data, hi_batch, 70), 0);
    buf_free(&b);
}

static void test_vector_parse(void) {
    batch_header_t h;
    CU_ASSERT_EQUAL(batch_check(hi_batch, 70, 1 << 20, &h), BATCH_OK);
    CU_ASSERT_EQUAL(h.base_offset, 0);
    CU_ASSERT_EQUAL(h.batch_length, 58);
    CU_ASSERT_EQUAL(h.partition_leader_epoch, 0);
    CU_ASSERT_EQUAL(h.magic, 2);
    CU_ASSERT_EQUAL(h.crc, 0x4f474f62u);
    CU_ASSERT_EQUAL(h.attributes, 0);
    CU_ASSERT_EQUAL(h.last_offset_delta, 0);
    CU_ASSERT_EQUAL(h.first_timestamp, TS0);
    CU_ASSERT_EQUAL(h.max_timestamp, TS0);
    CU_ASSERT_EQUAL(h.producer_id, -1);
    CU_ASSERT_EQUAL(h.producer_epoch, -1);
    CU_ASSERT_EQUAL(h.base_sequence, -1);
    CU_ASSERT_EQUAL(h.records_count, 1);
    CU_ASSERT_EQUAL(batch_size(&h), 70);
    CU_ASSERT_EQUAL(batch_next_offset(&h), 1);
    CU_ASSERT_EQUAL(batch_compression(&h), COMPRESSION_NONE);

    record_iter_t it;
    record_t r;
    CU_ASSERT_EQUAL_FATAL(record_iter_init(&it, hi_batch, 70, 1 << 20), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(record_iter_next(&it, &r), 1);
    CU_ASSERT_EQUAL(r.attributes, 0);
    CU_ASSERT_EQUAL(r.timestamp_delta, 0);
    CU_ASSERT_EQUAL(r.offset_delta, 0);
    CU_ASSERT_PTR_NULL(r.key);
    CU_ASSERT_EQUAL(r.key_len, -1);
    CU_ASSERT_EQUAL(r.value_len, 2);
    CU_ASSERT_EQUAL(memcmp(r.value, "hi", 2), 0);
    CU_ASSERT_EQUAL(r.header_count, 0);
    CU_ASSERT_EQUAL(r.headers_len, 0);
    CU_ASSERT_EQUAL(record_iter_next(&it, &r), 0);
    record_iter_free(&it);

    batch_validate_opts_t o = validate_opts();
    batch_validation_t v;
    CU_ASSERT_EQUAL(record_batch_validate(hi_batch, 70, &o, &v), KERR_NONE);
    CU_ASSERT_EQUAL(v.max_timestamp, TS0);
    CU_ASSERT_EQUAL(v.offset_of_max_timestamp_delta, 0);
    CU_ASSERT_EQUAL(v.header.records_count, 1);
    CU_ASSERT_FALSE(v.needs_recompression);
}

static void test_vector_header_record(void) {
    static const uint8_t expect[13] = {0x18, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x02, 0x76, 0x02, 0x02, 0x68, 0x02, 0x78};
    record_header_t hdr = {(const uint8_t *)"h", 1, (const uint8_t *)"x", 1};
    record_input_t in = {"k", 1, "v", 1, TS0, 1, &hdr};
    batch_build_opts_t o = build_opts(COMPRESSION_NONE);
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &o, &in, 1), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(b.len, 61 + 13);
    CU_ASSERT_EQUAL(memcmp(b.data + 61, expect, 13), 0);

    record_iter_t it;
    record_t r;
    CU_ASSERT_EQUAL_FATAL(record_iter_init(&it, b.data, b.len, 1 << 20), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(record_iter_next(&it, &r), 1);
    CU_ASSERT_EQUAL(r.key_len, 1);
    CU_ASSERT_EQUAL(r.key[0], 'k');
    CU_ASSERT_EQUAL(r.value_len, 1);
    CU_ASSERT_EQUAL(r.value[0], 'v');
    CU_ASSERT_EQUAL(r.header_count, 1);
    CU_ASSERT_EQUAL(r.headers_len, 4);
    const uint8_t *p = r.headers;
    record_header_t h;
    CU_ASSERT_EQUAL_FATAL(record_headers_next(&p, r.headers + r.headers_len, &h), 1);
    CU_ASSERT_EQUAL(h.key_len, 1);
    CU_ASSERT_EQUAL(h.key[0], 'h');
    CU_ASSERT_EQUAL(h.value_len, 1);
    CU_ASSERT_EQUAL(h.value[0], 'x');
    CU_ASSERT_EQUAL(record_headers_next(&p, r.headers + r.headers_len, &h), 0);
    CU_ASSERT_EQUAL(record_iter_next(&it, &r), 0);
    record_iter_free(&it);
    CU_ASSERT_EQUAL(validate(&b), KERR_NONE);
    buf_free(&b);
}

/* ---- round trips ------------------------------------------------------------ */

typedef struct sample_records {
    record_input_t *recs;
    record_header_t *hdrs;
    char *vals;
    char (*keys)[16];
    int n;
} sample_records_t;

/* Null keys every 3rd record, null values every 5th, two headers (one with a
 * null value) every 4th; value sizes vary; timestamps go up and down. */
static void sample_make(sample_records_t *s, int n) {
    s->n = n;
    s->recs = calloc((size_t)n, sizeof *s->recs);
    s->hdrs = calloc((size_t)n * 2, sizeof *s->hdrs);
    s->keys = calloc((size_t)n, sizeof *s->keys);
    s->vals = malloc(400);
    for (int i = 0; i < 400; i++)
        s->vals[i] = (char)('a' + i % 26);
    for (int i = 0; i < n; i++) {
        record_input_t *r = &s->recs[i];
        snprintf(s->keys[i], sizeof s->keys[i], "key-%d", i);
        r->key = i % 3 == 0 ? NULL : s->keys[i];
        r->key_len = i % 3 == 0 ? -1 : (int32_t)strlen(s->keys[i]);
        r->value = i % 5 == 0 ? NULL : s->vals;
        r->value_len = i % 5 == 0 ? -1 : (i * 37) % 400;
        r->timestamp = TS0 + (i % 7) * 1000 - (i % 2) * 3;
        if (i % 4 == 0) {
            record_header_t *h = &s->hdrs[2 * i];
            h[0] = (record_header_t){(const uint8_t *)"trace", 5, (const uint8_t *)"abc", 3};
            h[1] = (record_header_t){(const uint8_t *)"", 0, NULL, -1};
            r->header_count = 2;
            r->headers = h;
        }
    }
}

static void sample_free(sample_records_t *s) {
    free(s->recs);
    free(s->hdrs);
    free(s->keys);
    free(s->vals);
}

static void check_records(const uint8_t *batch, size_t len, const sample_records_t *s) {
    record_iter_t it;
    record_t r;
    CU_ASSERT_EQUAL_FATAL(record_iter_init(&it, batch, len, 1 << 24), KERR_NONE);
    int i = 0, rc, bad = 0;
    while ((rc = record_iter_next(&it, &r)) == 1) {
        const record_input_t *in = &s->recs[i];
        if (i >= s->n || r.offset_delta != i || it.header.first_timestamp + r.timestamp_delta != in->timestamp ||
            r.key_len != in->key_len || r.value_len != in->value_len || r.header_count != in->header_count ||
            (in->key_len > 0 && memcmp(r.key, in->key, (size_t)in->key_len) != 0) ||
            (in->value_len > 0 && memcmp(r.value, in->value, (size_t)in->value_len) != 0) ||
            (in->key_len < 0) != (r.key == NULL) || (in->value_len < 0) != (r.value == NULL))
            bad++;
        const uint8_t *p = r.headers;
        record_header_t h;
        for (int k = 0; k < r.header_count; k++) {
            if (record_headers_next(&p, r.headers + r.headers_len, &h) != 1 || h.key_len != in->headers[k].key_len ||
                h.value_len != in->headers[k].value_len ||
                (h.value_len > 0 && memcmp(h.value, in->headers[k].value, (size_t)h.value_len) != 0))
                bad++;
        }
        i++;
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(i, s->n);
    CU_ASSERT_EQUAL(bad, 0);
    record_iter_free(&it);
}

static void test_roundtrip(void) {
    static const int counts[] = {1, 1000};
    for (size_t c = 0; c < NCODECS; c++) {
        for (size_t k = 0; k < 2; k++) {
            sample_records_t s;
            sample_make(&s, counts[k]);
            batch_build_opts_t o = build_opts(codecs[c]);
            o.partition_leader_epoch = 3;
            buf_t b = BUF_INIT;
            buf_append_str(&b, "prefix");
            CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &o, s.recs, s.n), KERR_NONE);
            CU_ASSERT_EQUAL(memcmp(b.data, "prefix", 6), 0);
            const uint8_t *batch = b.data + 6;
            size_t len = b.len - 6;
            batch_header_t h;
            CU_ASSERT_EQUAL(batch_check(batch, len, 1 << 24, &h), BATCH_OK);
            CU_ASSERT_EQUAL(batch_size(&h), len);
            CU_ASSERT_EQUAL(batch_compression(&h), codecs[c]);
            CU_ASSERT_EQUAL(h.records_count, s.n);
            CU_ASSERT_EQUAL(h.last_offset_delta, s.n - 1);
            CU_ASSERT_EQUAL(h.partition_leader_epoch, 3);
            CU_ASSERT_EQUAL(h.first_timestamp, TS0);
            int64_t max_ts = s.n == 1 ? TS0 : TS0 + 6000;
            CU_ASSERT_EQUAL(h.max_timestamp, max_ts);
            check_records(batch, len, &s);

            batch_validate_opts_t vo = validate_opts();
            batch_validation_t v;
            CU_ASSERT_EQUAL(record_batch_validate(batch, len, &vo, &v), KERR_NONE);
            CU_ASSERT_EQUAL(v.max_timestamp, max_ts);
            CU_ASSERT_EQUAL(v.offset_of_max_timestamp_delta, s.n == 1 ? 0 : 6);
            CU_ASSERT_FALSE(v.needs_recompression);
            vo.topic_compression = COMPRESSION_GZIP;
            CU_ASSERT_EQUAL(record_batch_validate(batch, len, &vo, &v), KERR_NONE);
            CU_ASSERT_EQUAL(v.needs_recompression, codecs[c] != COMPRESSION_GZIP);
            buf_free(&b);
            sample_free(&s);
        }
    }
}

static void test_build_rejects(void) {
    batch_build_opts_t o = build_opts(COMPRESSION_NONE);
    record_input_t r = {NULL, -2, "v", 1, TS0, 0, NULL};
    record_header_t bad_hdr = {NULL, -1, NULL, -1};
    buf_t b = BUF_INIT;
    buf_append_str(&b, "x");
    CU_ASSERT_EQUAL(record_batch_build(&b, &o, &r, 1), KERR_INVALID_RECORD);
    r.key_len = -1;
    CU_ASSERT_EQUAL(record_batch_build(&b, &o, &r, 0), KERR_INVALID_RECORD);
    r.header_count = 1;
    r.headers = &bad_hdr;
    CU_ASSERT_EQUAL(record_batch_build(&b, &o, &r, 1), KERR_INVALID_RECORD);
    r.header_count = 0;
    o.compression = COMPRESSION_PRODUCER;
    CU_ASSERT_EQUAL(record_batch_build(&b, &o, &r, 1), KERR_UNKNOWN_SERVER_ERROR);
    CU_ASSERT_EQUAL(b.len, 1); /* nothing appended by a failed build */
    o = build_opts(COMPRESSION_NONE);
    o.transactional = true;
    o.producer_id = 9;
    o.producer_epoch = 2;
    o.base_sequence = 40;
    CU_ASSERT_EQUAL(record_batch_build(&b, &o, &r, 1), KERR_NONE);
    batch_header_t h;
    CU_ASSERT_EQUAL(batch_check(b.data + 1, b.len - 1, 1 << 20, &h), BATCH_OK);
    CU_ASSERT_EQUAL(h.attributes, BATCH_ATTR_TRANSACTIONAL);
    CU_ASSERT_EQUAL(h.producer_id, 9);
    CU_ASSERT_EQUAL(h.producer_epoch, 2);
    CU_ASSERT_EQUAL(h.base_sequence, 40);
    buf_free(&b);
}

/* ---- batch_check ------------------------------------------------------------ */

static void test_check(void) {
    uint8_t b[80];
    batch_header_t h;
    memcpy(b, hi_batch, 70);
    CU_ASSERT_EQUAL(batch_check(b, 69, 1000, &h), BATCH_INCOMPLETE);
    CU_ASSERT_EQUAL(batch_check(b, 60, 1000, &h), BATCH_INCOMPLETE);
    CU_ASSERT_EQUAL(batch_check(b, 70, 69, &h), BATCH_BAD_LENGTH);
    CU_ASSERT_EQUAL(batch_check(b, 70, 70, &h), BATCH_OK);
    be32_store(b + 8, 48);
    CU_ASSERT_EQUAL(batch_check(b, 70, 1000, &h), BATCH_BAD_LENGTH);
    be32_store(b + 8, 0xffffffffu);
    CU_ASSERT_EQUAL(batch_check(b, 70, 1000, &h), BATCH_BAD_LENGTH);
    memcpy(b, hi_batch, 70);
    b[16] = 1;
    CU_ASSERT_EQUAL(batch_check(b, 70, 1000, &h), BATCH_BAD_MAGIC);
    CU_ASSERT_EQUAL(batch_check_kerr(BATCH_BAD_MAGIC, b, 70), KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    b[16] = 7;
    CU_ASSERT_EQUAL(batch_check_kerr(BATCH_BAD_MAGIC, b, 70), KERR_CORRUPT_MESSAGE);
    memcpy(b, hi_batch, 70);
    b[69] ^= 0x40;
    CU_ASSERT_EQUAL(batch_check(b, 70, 1000, &h), BATCH_BAD_CRC);
    CU_ASSERT_EQUAL(batch_check_kerr(BATCH_BAD_CRC, b, 70), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(batch_check_kerr(BATCH_INCOMPLETE, b, 70), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(batch_check_kerr(BATCH_BAD_LENGTH, b, 70), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(batch_check_kerr(BATCH_OK, hi_batch, 70), KERR_NONE);
    /* partitionLeaderEpoch and baseOffset are outside the CRC */
    memcpy(b, hi_batch, 70);
    be64_store(b, 12345);
    be32_store(b + 12, 99);
    CU_ASSERT_EQUAL(batch_check(b, 70, 1000, &h), BATCH_OK);
    CU_ASSERT_EQUAL(h.base_offset, 12345);
    CU_ASSERT_EQUAL(h.partition_leader_epoch, 99);
}

/* ---- validation error paths ------------------------------------------------- */

static void hi(buf_t *b) {
    buf_reset(b);
    buf_append(b, hi_batch, 70);
}

static void test_err_flipped_byte(void) {
    buf_t b = BUF_INIT;
    hi(&b);
    b.data[67] ^= 0x01; /* value length, covered by the CRC */
    CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
    hi(&b);
    b.data[BATCH_OFF_CRC] ^= 0x80;
    CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
    buf_free(&b);
}

static void test_err_truncated(void) {
    buf_t b = BUF_INIT;
    hi(&b);
    b.len = 69;
    CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
    b.len = 40;
    CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
    b.len = 0;
    CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
    hi(&b);
    be32_store(b.data + 8, 40); /* batchLength below a header */
    CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
    buf_free(&b);
}

static void test_err_trailing_after_batch(void) {
    buf_t b = BUF_INIT;
    hi(&b);
    buf_append(&b, hi_batch, 70); /* two batches */
    CU_ASSERT_EQUAL(validate(&b), KERR_INVALID_RECORD);
    buf_free(&b);
}

static void test_err_magic(void) {
    /* protocol.md's magic 1 message set, value "hi" */
    static const uint8_t v1[] = {0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x18, 0xbc, 0x2d, 0x09, 0x0d, 0x01,
                                 0x00, 0x00, 0x00, 0x01, 0x74, 0x87, 0x6e, 0x80, 0x00, 0xff, 0xff, 0xff, 0xff,
                                 0x00, 0x00, 0x00, 0x02, 0x68, 0x69};
    batch_validate_opts_t o = validate_opts();
    batch_validation_t v;
    CU_ASSERT_EQUAL(record_batch_validate(v1, sizeof v1, &o, &v), KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    batch_header_t h;
    batch_check_t c = batch_check(v1, sizeof v1, 1000, &h);
    CU_ASSERT_EQUAL(c, BATCH_INCOMPLETE);
    CU_ASSERT_EQUAL(batch_check_kerr(c, v1, sizeof v1), KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);

    buf_t b = BUF_INIT;
    hi(&b);
    b.data[16] = 1;
    CU_ASSERT_EQUAL(validate(&b), KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    b.data[16] = 0;
    CU_ASSERT_EQUAL(validate(&b), KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    b.data[16] = 3;
    CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
    record_iter_t it;
    b.data[16] = 1;
    CU_ASSERT_EQUAL(record_iter_init(&it, b.data, b.len, 100), KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    record_iter_free(&it);
    buf_free(&b);
}

static void test_err_base_offset(void) {
    buf_t b = BUF_INIT;
    hi(&b);
    be64_store(b.data, 5); /* outside the CRC: the CRC still matches */
    CU_ASSERT_EQUAL(validate(&b), KERR_INVALID_RECORD);
    buf_free(&b);
}

static void test_err_count_mismatch(void) {
    buf_t b = BUF_INIT;
    hi(&b);
    be32_store(b.data + BATCH_OFF_RECORDS_COUNT, 2);
    fix_crc(b.data, b.len);
    CU_ASSERT_EQUAL(validate(&b), KERR_INVALID_RECORD);
    hi(&b);
    be32_store(b.data + BATCH_OFF_LAST_OFFSET_DELTA, 1);
    fix_crc(b.data, b.len);
    CU_ASSERT_EQUAL(validate(&b), KERR_INVALID_RECORD);
    hi(&b); /* an empty batch: lastOffsetDelta -1, count 0 */
    be32_store(b.data + BATCH_OFF_LAST_OFFSET_DELTA, UINT32_MAX);
    be32_store(b.data + BATCH_OFF_RECORDS_COUNT, 0);
    fix_crc(b.data, b.len);
    CU_ASSERT_EQUAL(validate(&b), KERR_INVALID_RECORD);
    hi(&b);
    be32_store(b.data + BATCH_OFF_LAST_OFFSET_DELTA, 0x7fffffffu); /* + 1 must not overflow */
    be32_store(b.data + BATCH_OFF_RECORDS_COUNT, 0x80000000u);
    fix_crc(b.data, b.len);
    CU_ASSERT_EQUAL(validate(&b), KERR_INVALID_RECORD);
    buf_free(&b);
}

static void test_err_control(void) {
    buf_t b = BUF_INIT;
    hi(&b);
    be16_store(b.data + BATCH_OFF_ATTRIBUTES, BATCH_ATTR_CONTROL);
    fix_crc(b.data, b.len);
    CU_ASSERT_EQUAL(validate(&b), KERR_INVALID_RECORD);
    buf_free(&b);
}

static void test_err_producer_sequence(void) {
    buf_t b = BUF_INIT;
    record_input_t r = {"k", 1, "v", 1, TS0, 0, NULL};
    batch_build_opts_t o = build_opts(COMPRESSION_NONE);
    o.producer_id = 7;
    o.producer_epoch = 0;
    o.base_sequence = -1;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &o, &r, 1), KERR_NONE);
    CU_ASSERT_EQUAL(validate(&b), KERR_INVALID_RECORD);
    buf_reset(&b);
    o.base_sequence = 0;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &o, &r, 1), KERR_NONE);
    CU_ASSERT_EQUAL(validate(&b), KERR_NONE);
    buf_free(&b);
}

static void test_err_too_large(void) {
    batch_validate_opts_t o = validate_opts();
    batch_validation_t v;
    o.max_message_bytes = 69;
    CU_ASSERT_EQUAL(record_batch_validate(hi_batch, 70, &o, &v), KERR_MESSAGE_TOO_LARGE);
    o.max_message_bytes = 70;
    CU_ASSERT_EQUAL(record_batch_validate(hi_batch, 70, &o, &v), KERR_NONE);
}

static void test_err_timestamp(void) {
    batch_validate_opts_t o = validate_opts();
    batch_validation_t v;
    o.max_timestamp_diff_ms = 1000;
    o.now_ms = TS0 + 1000;
    CU_ASSERT_EQUAL(record_batch_validate(hi_batch, 70, &o, &v), KERR_NONE);
    o.now_ms = TS0 - 1000;
    CU_ASSERT_EQUAL(record_batch_validate(hi_batch, 70, &o, &v), KERR_NONE);
    o.now_ms = TS0 + 1001;
    CU_ASSERT_EQUAL(record_batch_validate(hi_batch, 70, &o, &v), KERR_INVALID_TIMESTAMP);
    o.now_ms = TS0 - 1001;
    CU_ASSERT_EQUAL(record_batch_validate(hi_batch, 70, &o, &v), KERR_INVALID_TIMESTAMP);
    o.log_append_time = true; /* the topic overwrites timestamps: no range check */
    CU_ASSERT_EQUAL(record_batch_validate(hi_batch, 70, &o, &v), KERR_NONE);

    /* A record without a timestamp (-1) is exempt from the range check. */
    record_input_t r = {"k", 1, "v", 1, -1, 0, NULL};
    batch_build_opts_t bo = build_opts(COMPRESSION_NONE);
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &bo, &r, 1), KERR_NONE);
    o = validate_opts();
    o.max_timestamp_diff_ms = 0;
    CU_ASSERT_EQUAL(record_batch_validate(b.data, b.len, &o, &v), KERR_NONE);
    CU_ASSERT_EQUAL(v.max_timestamp, -1);
    buf_free(&b);
}

/* Kafka's LogValidator: "Producer should not set timestamp type to
 * LogAppendTime" is an InvalidTimestampException. */
static void test_err_producer_log_append_time(void) {
    buf_t b = BUF_INIT;
    hi(&b);
    be16_store(b.data + BATCH_OFF_ATTRIBUTES, BATCH_ATTR_LOG_APPEND_TIME);
    fix_crc(b.data, b.len);
    CU_ASSERT_EQUAL(validate(&b), KERR_INVALID_TIMESTAMP);
    buf_free(&b);
}

static void test_err_compacted_null_key(void) {
    batch_validate_opts_t o = validate_opts();
    batch_validation_t v;
    o.compacted = true;
    CU_ASSERT_EQUAL(record_batch_validate(hi_batch, 70, &o, &v), KERR_INVALID_RECORD);
    record_input_t r[2] = {{"k", 1, "v", 1, TS0, 0, NULL}, {"", 0, NULL, -1, TS0, 0, NULL}};
    batch_build_opts_t bo = build_opts(COMPRESSION_LZ4);
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &bo, r, 2), KERR_NONE);
    CU_ASSERT_EQUAL(record_batch_validate(b.data, b.len, &o, &v), KERR_NONE); /* empty key, tombstone: fine */
    buf_reset(&b);
    r[1].key = NULL;
    r[1].key_len = -1;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &bo, r, 2), KERR_NONE);
    CU_ASSERT_EQUAL(record_batch_validate(b.data, b.len, &o, &v), KERR_INVALID_RECORD);
    /* Kafka 2.8 reports a timestamp error before a key error */
    o.max_timestamp_diff_ms = 0;
    o.now_ms = TS0 + 1;
    CU_ASSERT_EQUAL(record_batch_validate(b.data, b.len, &o, &v), KERR_INVALID_TIMESTAMP);
    buf_free(&b);
}

/* Records: minimal bodies "len attrs ts off key(-1) value(-1) hdrs(0)". */
#define REC(off) 0x0c, 0x00, 0x00, (uint8_t)((off) * 2), 0x01, 0x01, 0x00

static void test_err_offset_deltas(void) {
    static const uint8_t gap[] = {REC(0), REC(2)};
    static const uint8_t swap[] = {REC(1), REC(0)};
    static const uint8_t good[] = {REC(0), REC(1)};
    buf_t b = BUF_INIT;
    for (size_t c = 0; c < NCODECS; c++) {
        raw_batch(&b, good, sizeof good, 2, codecs[c]);
        CU_ASSERT_EQUAL(validate(&b), KERR_NONE);
        raw_batch(&b, gap, sizeof gap, 2, codecs[c]);
        CU_ASSERT_EQUAL(validate(&b), KERR_INVALID_RECORD);
        raw_batch(&b, swap, sizeof swap, 2, codecs[c]);
        CU_ASSERT_EQUAL(validate(&b), KERR_INVALID_RECORD);
    }
    buf_free(&b);
}

static void test_err_record_count_vs_bytes(void) {
    static const uint8_t three[] = {REC(0), REC(1), REC(2)};
    buf_t b = BUF_INIT;
    for (size_t c = 0; c < NCODECS; c++) {
        raw_batch(&b, three, sizeof three, 2, codecs[c]); /* a record too many: trailing bytes */
        CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
        raw_batch(&b, three, sizeof three - 1, 3, codecs[c]); /* last record cut short */
        CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
        raw_batch(&b, three, 14, 3, codecs[c]); /* fewer records than recordsCount */
        CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
        raw_batch(&b, three, sizeof three, 3, codecs[c]);
        CU_ASSERT_EQUAL(validate(&b), KERR_NONE);
        uint8_t pad[sizeof three + 1];
        memcpy(pad, three, sizeof three);
        pad[sizeof three] = 0;
        raw_batch(&b, pad, sizeof pad, 3, codecs[c]); /* one stray byte after the last record */
        CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
    }
    buf_free(&b);
}

/* Each malformed record alone in an otherwise valid batch. */
/* Lengths and timestamp deltas on both sides of the one-, two- and
 * three-byte varint widths (zigzag: 63 | 64, 8191 | 8192, and negatives)
 * decode to exactly what was written. */
static void test_varint_widths(void) {
    static const int32_t lens[] = {0, 63, 64, 65, 8191, 8192, 8193, 100000};
    static const int64_t deltas[] = {0, 63, 64, -64, -65, 8191, 8192, -8192, -8193, 1 << 20};
    enum { N = sizeof lens / sizeof lens[0], D = sizeof deltas / sizeof deltas[0] };
    char *val = calloc(1, 100000);
    CU_ASSERT_FATAL(val != NULL);
    record_input_t in[N * D];
    for (int i = 0; i < N * D; i++)
        in[i] = (record_input_t){val, lens[i % N] < 64 ? lens[i % N] : 3, val, lens[i % N],
                                 TS0 + 20000 + deltas[i % D], 0, NULL};
    in[0].timestamp = TS0 + 20000; /* the base the deltas count from */
    buf_t b = BUF_INIT;
    batch_build_opts_t o = build_opts(COMPRESSION_NONE);
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &o, in, N * D), KERR_NONE);
    batch_validate_opts_t vo = validate_opts();
    vo.max_message_bytes = 1 << 24;
    batch_validation_t v;
    CU_ASSERT_EQUAL(record_batch_validate(b.data, b.len, &vo, &v), KERR_NONE);
    record_iter_t it;
    record_t r;
    CU_ASSERT_EQUAL_FATAL(record_iter_init(&it, b.data, b.len, 1 << 24), KERR_NONE);
    int i = 0;
    while (record_iter_next(&it, &r) == 1) {
        CU_ASSERT_EQUAL(r.offset_delta, i);
        CU_ASSERT_EQUAL(r.key_len, in[i].key_len);
        CU_ASSERT_EQUAL(r.value_len, lens[i % N]);
        CU_ASSERT_EQUAL(r.timestamp_delta, in[i].timestamp - in[0].timestamp);
        i++;
    }
    CU_ASSERT_EQUAL(it.err, KERR_NONE);
    CU_ASSERT_EQUAL(i, N * D);
    record_iter_free(&it);
    buf_free(&b);
    free(val);
}

static void test_err_record_structure(void) {
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
    } cases[] = {
        {"length longer than fields", {0x0e, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00}, 8},
        {"length shorter than fields", {0x0a, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00}, 7},
        {"negative length", {0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00}, 7},
        {"key length -2", {0x0c, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00}, 7},
        {"value length past the record", {0x0e, 0x00, 0x00, 0x00, 0x01, 0x06, 0x61, 0x00}, 8},
        {"header count -1", {0x0c, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01}, 7},
        {"header count beyond bytes", {0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x04, 0x00, 0x01}, 9},
        {"header key null", {0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x01, 0x01}, 9},
        {"header value -2", {0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x00, 0x03}, 9},
        {"overlong varint", {0x0c, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 13},
        {"empty body", {0x00}, 1},
    };
    static const uint8_t ok_hdr[] = {0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x00, 0x01};
    buf_t b = BUF_INIT;
    raw_batch(&b, ok_hdr, sizeof ok_hdr, 1, COMPRESSION_NONE); /* empty key, null value header */
    CU_ASSERT_EQUAL(validate(&b), KERR_NONE);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t c = 0; c < NCODECS; c++) {
            raw_batch(&b, cases[i].bytes, cases[i].len, 1, codecs[c]);
            kerr_t err = validate(&b);
            if (err != KERR_CORRUPT_MESSAGE)
                fprintf(stderr, "\n%s (%s): %s\n", cases[i].what, compression_name(codecs[c]), kerr_name(err));
            CU_ASSERT_EQUAL(err, KERR_CORRUPT_MESSAGE);
        }
    }
    buf_free(&b);
}

static void test_err_bad_codec(void) {
    buf_t b = BUF_INIT;
    hi(&b);
    be16_store(b.data + BATCH_OFF_ATTRIBUTES, 6);
    fix_crc(b.data, b.len);
    CU_ASSERT_EQUAL(validate(&b), KERR_CORRUPT_MESSAGE);
    buf_free(&b);
}

/* 1000 records of 400 zero bytes compress to a few KiB; a small
 * max_uncompressed makes the batch a bomb. */
static void test_err_bomb(void) {
    static uint8_t zeros[400];
    record_input_t *r = calloc(1000, sizeof *r);
    for (int i = 0; i < 1000; i++)
        r[i] = (record_input_t){NULL, -1, zeros, 400, TS0, 0, NULL};
    for (size_t c = 1; c < NCODECS; c++) {
        batch_build_opts_t bo = build_opts(codecs[c]);
        buf_t b = BUF_INIT;
        CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &bo, r, 1000), KERR_NONE);
        CU_ASSERT(b.len < 40000);
        batch_validate_opts_t o = validate_opts();
        batch_validation_t v;
        CU_ASSERT_EQUAL(record_batch_validate(b.data, b.len, &o, &v), KERR_NONE);
        o.max_uncompressed = 100000;
        CU_ASSERT_EQUAL(record_batch_validate(b.data, b.len, &o, &v), KERR_CORRUPT_MESSAGE);
        record_iter_t it;
        CU_ASSERT_EQUAL(record_iter_init(&it, b.data, b.len, 100000), KERR_CORRUPT_MESSAGE);
        record_t rec;
        CU_ASSERT_EQUAL(record_iter_next(&it, &rec), -1);
        record_iter_free(&it);
        buf_free(&b);
    }
    free(r);
}

/* ---- rewrites --------------------------------------------------------------- */

static void test_assign(void) {
    buf_t b = BUF_INIT;
    hi(&b);
    record_batch_assign(b.data, 1000, 7, false, TS0 + 5);
    batch_header_t h;
    CU_ASSERT_EQUAL(batch_check(b.data, b.len, 1 << 20, &h), BATCH_OK);
    CU_ASSERT_EQUAL(h.base_offset, 1000);
    CU_ASSERT_EQUAL(h.partition_leader_epoch, 7);
    CU_ASSERT_EQUAL(h.crc, 0x4f474f62u);
    CU_ASSERT_EQUAL(memcmp(b.data + 16, hi_batch + 16, 70 - 16), 0); /* nothing else changed */

    record_batch_assign(b.data, 2000, 8, true, TS0 + 5);
    CU_ASSERT_EQUAL(batch_check(b.data, b.len, 1 << 20, &h), BATCH_OK);
    CU_ASSERT_EQUAL(h.base_offset, 2000);
    CU_ASSERT_EQUAL(h.partition_leader_epoch, 8);
    CU_ASSERT(batch_is_log_append_time(&h));
    CU_ASSERT_EQUAL(h.max_timestamp, TS0 + 5);
    CU_ASSERT_EQUAL(h.first_timestamp, TS0); /* record timestamps untouched */
    CU_ASSERT_NOT_EQUAL(h.crc, 0x4f474f62u);
    CU_ASSERT_EQUAL(memcmp(b.data + 61, hi_batch + 61, 9), 0);
    uint32_t crc = h.crc;
    record_batch_assign(b.data, 3000, 8, true, TS0 + 5); /* same time: same bytes */
    CU_ASSERT_EQUAL(batch_check(b.data, b.len, 1 << 20, &h), BATCH_OK);
    CU_ASSERT_EQUAL(h.crc, crc);
    buf_free(&b);
}

/* A compressed batch keeps its compressed bytes under LogAppendTime. */
static void test_assign_compressed_log_append_time(void) {
    sample_records_t s;
    sample_make(&s, 50);
    batch_build_opts_t bo = build_opts(COMPRESSION_ZSTD);
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &bo, s.recs, s.n), KERR_NONE);
    buf_t copy = BUF_INIT;
    buf_append(&copy, b.data, b.len);
    record_batch_assign(b.data, 77, 1, true, 42);
    batch_header_t h;
    CU_ASSERT_EQUAL(batch_check(b.data, b.len, 1 << 20, &h), BATCH_OK);
    CU_ASSERT_EQUAL(h.max_timestamp, 42);
    CU_ASSERT_EQUAL(h.attributes, BATCH_ATTR_LOG_APPEND_TIME | COMPRESSION_ZSTD);
    CU_ASSERT_EQUAL(memcmp(b.data + 61, copy.data + 61, b.len - 61), 0);
    check_records(b.data, b.len, &s);
    buf_free(&copy);
    buf_free(&b);
    sample_free(&s);
}

static void test_fix_max_timestamp(void) {
    buf_t b = BUF_INIT;
    hi(&b);
    be64_store(b.data + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)(TS0 + 999)); /* producer lied */
    fix_crc(b.data, b.len);
    batch_validate_opts_t o = validate_opts();
    batch_validation_t v;
    CU_ASSERT_EQUAL_FATAL(record_batch_validate(b.data, b.len, &o, &v), KERR_NONE);
    CU_ASSERT_EQUAL(v.max_timestamp, TS0);
    CU_ASSERT_TRUE(record_batch_fix_max_timestamp(b.data, v.max_timestamp));
    CU_ASSERT_EQUAL(memcmp(b.data, hi_batch, 70), 0); /* back to the honest batch, CRC included */
    CU_ASSERT_FALSE(record_batch_fix_max_timestamp(b.data, v.max_timestamp));
    buf_free(&b);
}

/* none -> gzip -> zstd -> snappy -> lz4 -> none keeps every record and
 * header field; only length, codec bits and CRC change. */
static void test_recompress(void) {
    static const compression_t chain[] = {COMPRESSION_GZIP, COMPRESSION_ZSTD, COMPRESSION_SNAPPY, COMPRESSION_LZ4,
                                          COMPRESSION_NONE};
    sample_records_t s;
    sample_make(&s, 300);
    batch_build_opts_t bo = build_opts(COMPRESSION_NONE);
    bo.producer_id = 4;
    bo.producer_epoch = 1;
    bo.base_sequence = 17;
    buf_t cur = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&cur, &bo, s.recs, s.n), KERR_NONE);
    batch_header_t h0;
    batch_header_read(cur.data, &h0);
    for (size_t i = 0; i < sizeof chain / sizeof chain[0]; i++) {
        buf_t next = BUF_INIT;
        CU_ASSERT_EQUAL_FATAL(record_batch_recompress(cur.data, cur.len, chain[i], 1 << 24, &next), KERR_NONE);
        batch_header_t h;
        CU_ASSERT_EQUAL(batch_check(next.data, next.len, 1 << 24, &h), BATCH_OK);
        CU_ASSERT_EQUAL(batch_size(&h), next.len);
        CU_ASSERT_EQUAL(batch_compression(&h), chain[i]);
        CU_ASSERT_EQUAL(h.first_timestamp, h0.first_timestamp);
        CU_ASSERT_EQUAL(h.max_timestamp, h0.max_timestamp);
        CU_ASSERT_EQUAL(h.producer_id, 4);
        CU_ASSERT_EQUAL(h.producer_epoch, 1);
        CU_ASSERT_EQUAL(h.base_sequence, 17);
        CU_ASSERT_EQUAL(h.records_count, 300);
        CU_ASSERT_EQUAL(h.last_offset_delta, 299);
        check_records(next.data, next.len, &s);
        CU_ASSERT_EQUAL(validate(&next), KERR_NONE);
        buf_free(&cur);
        cur = next;
    }
    batch_build_opts_t again = bo;
    buf_t fresh = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&fresh, &again, s.recs, s.n), KERR_NONE);
    CU_ASSERT_EQUAL(cur.len, fresh.len);
    CU_ASSERT_EQUAL(memcmp(cur.data, fresh.data, fresh.len), 0); /* the full circle is byte-exact */

    /* a malformed batch is refused and nothing is appended */
    buf_t bad = BUF_INIT, out = BUF_INIT;
    static const uint8_t two[] = {REC(0), REC(1)};
    raw_batch(&bad, two, sizeof two, 3, COMPRESSION_NONE);
    CU_ASSERT_EQUAL(record_batch_recompress(bad.data, bad.len, COMPRESSION_GZIP, 1 << 20, &out),
                    KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(out.len, 0);
    buf_free(&bad);
    buf_free(&out);
    buf_free(&fresh);
    buf_free(&cur);
    sample_free(&s);
}

/* ---- random mutations ------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void mutate(buf_t *m) {
    static const uint8_t special[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe};
    int edits = 1 + (int)(rng() % 3);
    for (int e = 0; e < edits; e++) {
        size_t pos = rng() % 4 ? 61 + rng() % (m->len - 61) : rng() % m->len;
        switch (rng() % 4) {
        case 0:
            m->data[pos] ^= (uint8_t)(1u << (rng() % 8));
            break;
        case 1:
            m->data[pos] = (uint8_t)rng();
            break;
        case 2:
            m->data[pos] = special[rng() % sizeof special];
            break;
        default:
            if (m->len > 70)
                m->len -= 1 + rng() % 8; /* drop a tail, keep the header */
            break;
        }
    }
    if (rng() % 3 == 0) /* keep batchLength consistent with what is left */
        be32_store(m->data + BATCH_OFF_LENGTH, (uint32_t)(m->len - BATCH_LOG_OVERHEAD));
    if (rng() % 8) /* usually make the CRC right so the records get parsed */
        fix_crc(m->data, m->len);
}

static void fuzz_batch(const buf_t *orig, int rounds) {
    int bad = 0, accepted = 0;
    for (int i = 0; i < rounds; i++) {
        buf_t m = BUF_INIT;
        buf_append(&m, orig->data, orig->len);
        mutate(&m);
        batch_validate_opts_t o = validate_opts();
        o.compacted = rng() % 2;
        o.max_uncompressed = 1 << 20;
        batch_validation_t v;
        kerr_t err = record_batch_validate(m.data, m.len, &o, &v);
        if (err == KERR_NONE) {
            /* whatever validation accepts must iterate cleanly */
            accepted++;
            record_iter_t it;
            record_t r;
            int n = 0, rc;
            if (record_iter_init(&it, m.data, m.len, 1 << 20) != KERR_NONE)
                bad++;
            while ((rc = record_iter_next(&it, &r)) == 1)
                n++;
            if (rc != 0 || n != v.header.records_count)
                bad++;
            record_iter_free(&it);
        } else if (err != KERR_CORRUPT_MESSAGE && err != KERR_INVALID_RECORD && err != KERR_INVALID_TIMESTAMP &&
                   err != KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT && err != KERR_MESSAGE_TOO_LARGE) {
            bad++;
        }
        buf_free(&m);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(accepted < rounds); /* the mutations did reject something */
}

static void fuzz_codec(compression_t codec, int rounds) {
    sample_records_t s;
    sample_make(&s, 20);
    batch_build_opts_t bo = build_opts(codec);
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&b, &bo, s.recs, s.n), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(validate(&b), KERR_NONE);
    fuzz_batch(&b, rounds);
    buf_free(&b);
    sample_free(&s);
}

static void test_fuzz_uncompressed(void) { fuzz_codec(COMPRESSION_NONE, 2000); }

static void test_fuzz_compressed(void) {
    for (size_t c = 1; c < NCODECS; c++)
        fuzz_codec(codecs[c], 2000);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"vector_build", test_vector_build},
        {"vector_parse", test_vector_parse},
        {"vector_header_record", test_vector_header_record},
        {"roundtrip", test_roundtrip},
        {"varint_widths", test_varint_widths},
        {"build_rejects", test_build_rejects},
        {"check", test_check},
        {"err_flipped_byte", test_err_flipped_byte},
        {"err_truncated", test_err_truncated},
        {"err_trailing_after_batch", test_err_trailing_after_batch},
        {"err_magic", test_err_magic},
        {"err_base_offset", test_err_base_offset},
        {"err_count_mismatch", test_err_count_mismatch},
        {"err_control", test_err_control},
        {"err_producer_sequence", test_err_producer_sequence},
        {"err_too_large", test_err_too_large},
        {"err_timestamp", test_err_timestamp},
        {"err_producer_log_append_time", test_err_producer_log_append_time},
        {"err_compacted_null_key", test_err_compacted_null_key},
        {"err_offset_deltas", test_err_offset_deltas},
        {"err_record_count_vs_bytes", test_err_record_count_vs_bytes},
        {"err_record_structure", test_err_record_structure},
        {"err_bad_codec", test_err_bad_codec},
        {"err_bomb", test_err_bomb},
        {"assign", test_assign},
        {"assign_compressed_log_append_time", test_assign_compressed_log_append_time},
        {"fix_max_timestamp", test_fix_max_timestamp},
        {"recompress", test_recompress},
        {"fuzz_uncompressed", test_fuzz_uncompressed},
        {"fuzz_compressed", test_fuzz_compressed},
        {NULL, NULL},
    };
    unit_add_suite("record_batch", tests);
}
