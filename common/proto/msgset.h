/*
 * msgset — the legacy message sets (magic 0 and 1) that Produce v0-2 carry
 * and Fetch v0-3 return (../shared/reference/protocol.md §10, "Legacy
 * message sets"). samsa stores only record batches v2: this module reads
 * what old producers send, so the broker can convert it to a v2 batch on
 * append as Kafka 2.8 does, and writes message sets from stored records for
 * old consumers (Kafka's down-conversion, RecordsUtil.downConvert).
 *
 * A message set is a run of entries `int64 offset, int32 size, message`;
 * message = `uint32 crc, int8 magic, int8 attributes, [int64 timestamp if
 * magic 1], bytes key, bytes value`, the CRC being CRC-32 (IEEE, zlib's
 * crc32 — not the CRC-32C of v2 batches) over magic..end. Attribute bits 0-2
 * are the codec, bit 3 (magic 1) LogAppendTime. A compressed entry is a
 * wrapper whose value is the compressed inner message set; for magic 1 the
 * inner offsets are relative (0..n-1) and the wrapper carries the absolute
 * offset of the last one. Magic 0 lz4 uses Kafka's broken LZ4 frame header
 * checksum (KAFKA-3160), read and written here.
 *
 * This module knows nothing of v2 batches (common/ sits below broker/log):
 * it yields and takes flat lists of messages; the broker builds or reads the
 * batches.
 */
#ifndef SAMSA_MSGSET_H
#define SAMSA_MSGSET_H

#include "proto/compress.h"
#include "proto/kerr.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSGSET_ATTR_CODEC_MASK 0x07
#define MSGSET_ATTR_LOG_APPEND_TIME 0x08
/* entry header (offset, size) + crc, magic, attributes, key and value lengths */
#define MSGSET_LOG_OVERHEAD 12
#define MSGSET_MESSAGE_OVERHEAD_V0 14
#define MSGSET_MESSAGE_OVERHEAD_V1 22

/* One message, as read (inner messages of compressed wrappers flattened) or
 * to be written. key/value NULL with length -1 for null. */
typedef struct msgset_message {
    int64_t offset;    /* as sent (magic 1 inner: relative); when writing: absolute */
    int64_t timestamp; /* -1 (NO_TIMESTAMP) for magic 0 */
    const uint8_t *key;
    int32_t key_len;
    const uint8_t *value;
    int32_t value_len;
} msgset_message_t;

/* A parsed message set. Messages point into the caller's input or into the
 * decompressed wrapper values the set owns (inner), so they live until
 * msgset_free and as long as the input does. */
typedef struct msgset {
    msgset_message_t *messages;
    size_t count;
    size_t cap;
    int8_t magic;        /* of every message (a mixed set is refused) */
    compression_t codec; /* of the last compressed wrapper, else NONE (Kafka's sourceCodec) */
    buf_t *inner;        /* one buffer per decompressed wrapper */
    size_t ninner;
} msgset_t;

void msgset_init(msgset_t *s);
void msgset_free(msgset_t *s);

/* Whether data (a Produce partition's records) starts like a legacy
 * message set: the magic byte of the first entry is 0 or 1. */
bool msgset_is_legacy(const uint8_t *data, size_t len);

/* Parses and validates a whole message set as a producer sends it, Kafka's
 * checks for magic 0/1 input (LogValidator, LegacyRecord.ensureValid):
 * every entry complete and its size what its fields take, CRC-32 correct
 * (CORRUPT_MESSAGE otherwise, as is an empty or truncated set); one magic
 * throughout, magic 0 or 1 only, no compressed message inside a wrapper, a
 * wrapper with a value (INVALID_RECORD); the LogAppendTime bit set by a
 * producer (INVALID_TIMESTAMP); codec 4+ (zstd needs magic 2:
 * UNSUPPORTED_COMPRESSION_TYPE; 5-7: CORRUPT_MESSAGE). Each wrapper's value
 * is decompressed with at most max_uncompressed bytes (more:
 * CORRUPT_MESSAGE). On error s holds nothing useful but must be freed. */
kerr_t msgset_parse(const uint8_t *data, size_t len, size_t max_uncompressed, msgset_t *s);

/* Bytes one message takes in a set (entry header included) uncompressed. */
size_t msgset_entry_size(int8_t magic, const msgset_message_t *m);

/* Appends the messages as a message set of magic 0 or 1 to out: with codec
 * NONE one entry per message, otherwise one wrapper entry (offset of the
 * last message, the inner set compressed with codec, inner offsets relative
 * for magic 1). With log_append_time (magic 1 only) every message and the
 * wrapper carry log_append_time_ms and the LogAppendTime bit. Magic 0 drops
 * timestamps. KERR_NONE, or the compressor's error (nothing appended), or
 * UNSUPPORTED_COMPRESSION_TYPE for zstd (which only magic 2 can carry). */
kerr_t msgset_write(buf_t *out, int8_t magic, compression_t codec, bool log_append_time, int64_t log_append_time_ms,
                    const msgset_message_t *messages, size_t count);

#endif
