/*
 * record_batch — Kafka's record batch v2 (magic 2): the unit the log stores,
 * replicates and serves, byte for byte as producers send it.
 *
 * Layout (big-endian), from ../shared/reference/protocol.md §10:
 *   0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8
 *   17 crc u32 (CRC-32C of bytes 21..end) | 21 attributes i16 | 23 lastOffsetDelta i32
 *   27 firstTimestamp i64 | 35 maxTimestamp i64 | 43 producerId i64 | 51 producerEpoch i16
 *   53 baseSequence i32 | 57 recordsCount i32 | 61 records...
 *
 * The hot path (append of uncompressed or producer-compressed batches) only
 * parses the 61-byte header and checks the CRC; records are decoded only where
 * validation needs them (see record_batch_validate) or for tools and tests.
 */
#ifndef SAMSA_RECORD_BATCH_H
#define SAMSA_RECORD_BATCH_H

#include "util/buf.h"
#include "proto/compress.h"
#include "proto/kerr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BATCH_HEADER_SIZE 61
#define BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength: bytes before what batchLength counts */
#define BATCH_MAGIC_V2 2

#define BATCH_OFF_BASE_OFFSET 0
#define BATCH_OFF_LENGTH 8
#define BATCH_OFF_LEADER_EPOCH 12
#define BATCH_OFF_MAGIC 16
#define BATCH_OFF_CRC 17
#define BATCH_OFF_ATTRIBUTES 21
#define BATCH_OFF_LAST_OFFSET_DELTA 23
#define BATCH_OFF_FIRST_TIMESTAMP 27
#define BATCH_OFF_MAX_TIMESTAMP 35
#define BATCH_OFF_PRODUCER_ID 43
#define BATCH_OFF_PRODUCER_EPOCH 51
#define BATCH_OFF_BASE_SEQUENCE 53
#define BATCH_OFF_RECORDS_COUNT 57

#define BATCH_ATTR_COMPRESSION_MASK 0x07
#define BATCH_ATTR_LOG_APPEND_TIME 0x08
#define BATCH_ATTR_TRANSACTIONAL 0x10
#define BATCH_ATTR_CONTROL 0x20

/* Default bound on a decompressed records section when a caller gives none
 * (batch_validate_opts_t.max_uncompressed == 0). Kafka has no such limit; we
 * need one so a small compressed batch cannot make us allocate gigabytes. */
#define BATCH_DEFAULT_MAX_UNCOMPRESSED ((size_t)64 << 20)

typedef struct batch_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t first_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
} batch_header_t;

static inline size_t batch_size(const batch_header_t *h) { return BATCH_LOG_OVERHEAD + (size_t)h->batch_length; }
static inline int64_t batch_last_offset(const batch_header_t *h) { return h->base_offset + h->last_offset_delta; }
static inline int64_t batch_next_offset(const batch_header_t *h) { return batch_last_offset(h) + 1; }
static inline compression_t batch_compression(const batch_header_t *h) {
    return (compression_t)(h->attributes & BATCH_ATTR_COMPRESSION_MASK);
}
static inline bool batch_is_log_append_time(const batch_header_t *h) {
    return (h->attributes & BATCH_ATTR_LOG_APPEND_TIME) != 0;
}
static inline bool batch_is_control(const batch_header_t *h) { return (h->attributes & BATCH_ATTR_CONTROL) != 0; }

/* Outcome of looking at the bytes where a batch should start. */
typedef enum batch_check {
    BATCH_OK = 0,         /* a whole batch, magic 2, CRC verified */
    BATCH_INCOMPLETE,     /* fewer bytes than the header or than batchLength says: a torn tail */
    BATCH_BAD_LENGTH,     /* batchLength smaller than a header or larger than the limit given */
    BATCH_BAD_MAGIC,      /* magic is not 2 (0/1 are legacy message sets) */
    BATCH_BAD_CRC,        /* CRC-32C mismatch */
} batch_check_t;

/* Reads the header at data (at least BATCH_HEADER_SIZE bytes must be there;
 * no other check). */
void batch_header_read(const uint8_t *data, batch_header_t *out);

/* Checks the batch starting at data with avail bytes available: framing
 * (batchLength within [49, max_size - 12]), magic, and CRC over the whole
 * batch. Fills *out when the header could be read, i.e. whenever avail >= 61
 * (everything but a BATCH_INCOMPLETE for fewer than 61 bytes). The magic byte
 * is checked first (BAD_MAGIC before BAD_LENGTH), then the length, then
 * completeness, then the CRC. Used by recovery and by followers. */
batch_check_t batch_check(const uint8_t *data, size_t avail, size_t max_size, batch_header_t *out);

/* The Kafka error for a failed check, as Produce reports it:
 * INCOMPLETE/BAD_LENGTH/BAD_CRC -> CORRUPT_MESSAGE, BAD_MAGIC ->
 * UNSUPPORTED_FOR_MESSAGE_FORMAT (magic 0/1) or CORRUPT_MESSAGE (other).
 * Whatever the check, when avail > 16 and byte 16 (the magic) is 0 or 1 the
 * answer is UNSUPPORTED_FOR_MESSAGE_FORMAT (a short legacy message set gives
 * INCOMPLETE, not BAD_MAGIC). KERR_NONE for BATCH_OK. */
kerr_t batch_check_kerr(batch_check_t check, const uint8_t *data, size_t avail);

/* One record, decoded. Pointers point into the (decompressed) records
 * section and live as long as it does. */
typedef struct record_header {
    const uint8_t *key;
    int32_t key_len;
    const uint8_t *value; /* NULL when value_len == -1 */
    int32_t value_len;
} record_header_t;

typedef struct record {
    int8_t attributes;
    int64_t timestamp_delta;
    int32_t offset_delta;
    const uint8_t *key; /* NULL when key_len == -1 */
    int32_t key_len;
    const uint8_t *value; /* NULL when value_len == -1 */
    int32_t value_len;
    int32_t header_count;
    const uint8_t *headers; /* raw header bytes, decode with record_headers_next */
    size_t headers_len;
} record_t;

/* Iterates the records of one batch. For a compressed batch the records
 * section is decompressed into the iterator's own buffer first (bounded by
 * max_uncompressed; larger → CORRUPT_MESSAGE). */
typedef struct record_iter {
    batch_header_t header;
    buf_t decompressed;
    const uint8_t *pos;
    const uint8_t *end;
    int32_t remaining;
    kerr_t err;
} record_iter_t;

/* record_iter_init checks the framing (at least a header, magic 2,
 * 49 <= batchLength, 12 + batchLength <= batch_len, recordsCount >= 0) but not
 * the CRC. On error it returns (and sets it->err to) CORRUPT_MESSAGE,
 * UNSUPPORTED_FOR_MESSAGE_FORMAT (magic 0/1) or the decompressor's error;
 * record_iter_free must be called either way. Bytes after 12 + batchLength
 * are ignored. */
kerr_t record_iter_init(record_iter_t *it, const uint8_t *batch, size_t batch_len, size_t max_uncompressed);
/* 1 and *out filled; 0 at the end; -1 on malformed data (it->err set to
 * CORRUPT_MESSAGE). Strict: a record's length prefix must equal the bytes its
 * fields take, key/value lengths are -1 or fit the record, header counts are
 * >= 0 and fit, and the records section must hold exactly recordsCount
 * records (the trailing-bytes check happens on the call that returns 0). */
int record_iter_next(record_iter_t *it, record_t *out);
void record_iter_free(record_iter_t *it);
/* Walks a record's headers: 1 and *out filled, 0 at the end, -1 malformed. */
int record_headers_next(const uint8_t **pos, const uint8_t *end, record_header_t *out);

/* What the leader learns while validating a producer's batch. */
typedef struct batch_validation {
    batch_header_t header;
    int64_t max_timestamp;        /* of the records (CreateTime) */
    int32_t offset_of_max_timestamp_delta;
    bool needs_recompression;     /* topic codec differs from the batch's */
} batch_validation_t;

typedef struct batch_validate_opts {
    size_t max_message_bytes;      /* max.message.bytes: MESSAGE_TOO_LARGE above */
    compression_t topic_compression; /* COMPRESSION_PRODUCER keeps the producer's codec */
    bool log_append_time;          /* message.timestamp.type=LogAppendTime */
    bool compacted;                /* cleanup.policy=compact: keys required */
    int64_t max_timestamp_diff_ms; /* message.timestamp.difference.max.ms; INT64_MAX = unlimited */
    int64_t now_ms;
    size_t max_uncompressed;       /* decompressed records section; 0 = BATCH_DEFAULT_MAX_UNCOMPRESSED */
} batch_validate_opts_t;

/* Validates one producer batch (the whole Produce partition data must be
 * exactly one batch): size, magic, CRC, baseOffset 0, lastOffsetDelta + 1 ==
 * recordsCount > 0, no control batch, producerId/baseSequence consistency,
 * timestamps, record framing (offset deltas 0..n-1 in order), and keys for
 * compacted topics. Compressed batches are decompressed for the record checks.
 * Returns KERR_NONE or the error Kafka gives (CORRUPT_MESSAGE, INVALID_RECORD,
 * MESSAGE_TOO_LARGE, UNSUPPORTED_FOR_MESSAGE_FORMAT, INVALID_TIMESTAMP).
 *
 * In order: magic 0/1 -> UNSUPPORTED_FOR_MESSAGE_FORMAT; short, truncated or
 * bad-length -> CORRUPT_MESSAGE; bytes after the batch -> INVALID_RECORD;
 * baseOffset != 0 -> INVALID_RECORD; len > max_message_bytes ->
 * MESSAGE_TOO_LARGE; CRC -> CORRUPT_MESSAGE; offsets/count/producer/control
 * -> INVALID_RECORD; codec 5-7, undecodable records, decompression failure or
 * output over max_uncompressed -> CORRUPT_MESSAGE; offset deltas not 0..n-1
 * -> INVALID_RECORD; then per-record errors as Kafka 2.8 reports them: any
 * timestamp error (out of range, or the producer set the LogAppendTime bit —
 * Kafka's InvalidTimestampException) -> INVALID_TIMESTAMP, else a null key on
 * a compacted topic -> INVALID_RECORD.
 * On success out->max_timestamp / offset_of_max_timestamp_delta describe the
 * records' own (CreateTime) timestamps: the first record with the largest
 * timestamp (-1 / 0 if all are -1). With LogAppendTime the caller uses now_ms
 * and, like Kafka, the last offset. */
kerr_t record_batch_validate(const uint8_t *data, size_t len, const batch_validate_opts_t *opts,
                             batch_validation_t *out);

/* In-place rewrite on append: baseOffset and partitionLeaderEpoch (outside the
 * CRC); with log_append_time also the timestamp-type bit and maxTimestamp :=
 * now_ms, then the CRC is recomputed. The batch must have passed validation. */
void record_batch_assign(uint8_t *batch, int64_t base_offset, int32_t leader_epoch, bool log_append_time,
                         int64_t now_ms);

/* CreateTime: Kafka rewrites maxTimestamp when it differs from the records'
 * maximum (batch_validation_t.max_timestamp). Sets it, clears the
 * LogAppendTime bit, and recomputes the CRC — only if something changes.
 * Returns whether the batch was modified. The batch must have passed
 * validation. */
bool record_batch_fix_max_timestamp(uint8_t *batch, int64_t max_timestamp);

/* A record to build a batch from (tools, tests, recompression). */
typedef struct record_input {
    const void *key;
    int32_t key_len; /* -1: null */
    const void *value;
    int32_t value_len; /* -1: null */
    int64_t timestamp;
    int32_t header_count;
    const record_header_t *headers;
} record_input_t;

typedef struct batch_build_opts {
    int64_t base_offset;
    int32_t partition_leader_epoch;
    compression_t compression;
    bool log_append_time;
    int64_t producer_id;    /* -1 */
    int16_t producer_epoch; /* -1 */
    int32_t base_sequence;  /* -1 */
    bool transactional;     /* sets the attribute bit only */
    bool control;           /* sets the attribute bit only; the caller supplies the marker record */
} batch_build_opts_t;

/* Appends one complete batch (header, optionally compressed records, CRC) to
 * out. Returns KERR_NONE or an error from the compressor.
 * firstTimestamp is records[0].timestamp, maxTimestamp the largest record
 * timestamp (also with log_append_time: pass the append time as each record's
 * timestamp, or call record_batch_assign afterwards), offset deltas are
 * 0..count-1. KERR_INVALID_RECORD (nothing appended) for count < 1 or an
 * impossible record (lengths < -1, header key length < 0, NULL data with a
 * positive length); KERR_UNKNOWN_SERVER_ERROR for a codec that is not 0-4. */
kerr_t record_batch_build(buf_t *out, const batch_build_opts_t *opts, const record_input_t *records, int count);

/* Rebuilds a validated producer batch with another codec (topic
 * compression.type differs), keeping records, timestamps and producer
 * fields. The new batch is appended to out (which must not hold batch).
 * The records are checked again (as record_iter_next does); on any error
 * nothing is appended. */
kerr_t record_batch_recompress(const uint8_t *batch, size_t len, compression_t codec, size_t max_uncompressed,
                               buf_t *out);

#endif
