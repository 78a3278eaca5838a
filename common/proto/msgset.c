/*
 * msgset — reading and writing legacy message sets (magic 0 and 1); the
 * format and the rules are in msgset.h.
 *
 * Reading trusts no length from the input: every size is checked against
 * the bytes that remain before it is used, and decompression is bounded by
 * the caller's limit. Inner messages of a compressed wrapper point into a
 * decompressed buffer the msgset_t owns, one per wrapper, so a later
 * wrapper never moves the bytes an earlier one's messages point to.
 */
#include "proto/msgset.h"

#include "util/endian.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- LZ4 frame header checksum (KAFKA-3160) ------------------------------- */

/* The frame descriptor's header checksum is the second byte of XXH32 (seed
 * 0) of the descriptor. Kafka's magic 0 writer hashed the 4 magic bytes too,
 * and its magic 0 reader skips the check; liblz4 insists on the right value,
 * so samsa rewrites the byte in both directions. The descriptor is at most
 * 15 bytes: only XXH32's short-input path is needed. */
#define XXH_P1 2654435761U
#define XXH_P2 2246822519U
#define XXH_P3 3266489917U
#define XXH_P4 668265263U
#define XXH_P5 374761393U

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static uint32_t xxh32_short(const uint8_t *p, size_t len) {
    uint32_t h = XXH_P5 + (uint32_t)len;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t k = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24;
        h = rotl32(h + k * XXH_P3, 17) * XXH_P4;
    }
    for (; i < len; i++)
        h = rotl32(h + p[i] * XXH_P5, 11) * XXH_P1;
    h ^= h >> 15;
    h *= XXH_P2;
    h ^= h >> 13;
    h *= XXH_P3;
    h ^= h >> 16;
    return h;
}

/* The offset of the header checksum byte in an LZ4 frame, or 0 when data
 * does not start with a frame descriptor. */
static size_t lz4_hc_offset(const uint8_t *data, size_t len) {
    static const uint8_t magic[4] = {0x04, 0x22, 0x4d, 0x18};
    if (len < 7 || memcmp(data, magic, 4) != 0)
        return 0;
    uint8_t flg = data[4];
    size_t hc = 6 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
    return hc < len ? hc : 0;
}

/* broken: Kafka's magic 0 value (hash from the frame's first byte), else
 * the standard one (from FLG). */
static void lz4_set_hc(uint8_t *frame, size_t len, bool broken) {
    size_t hc = lz4_hc_offset(frame, len);
    if (hc == 0)
        return;
    size_t from = broken ? 0 : 4;
    frame[hc] = (uint8_t)(xxh32_short(frame + from, hc - from) >> 8);
}

/* ---- reading ---------------------------------------------------------------- */

void msgset_init(msgset_t *s) { memset(s, 0, sizeof *s); }

void msgset_free(msgset_t *s) {
    for (size_t i = 0; i < s->ninner; i++)
        buf_free(&s->inner[i]);
    free(s->inner);
    free(s->messages);
    msgset_init(s);
}

bool msgset_is_legacy(const uint8_t *data, size_t len) {
    return len > MSGSET_LOG_OVERHEAD + 4 && data[MSGSET_LOG_OVERHEAD + 4] < 2;
}

static size_t msgset_overhead(int8_t magic) {
    return magic == 0 ? MSGSET_MESSAGE_OVERHEAD_V0 : MSGSET_MESSAGE_OVERHEAD_V1;
}

static void msgset_push(msgset_t *s, const msgset_message_t *m) {
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->messages = mem_realloc(s->messages, s->cap * sizeof *s->messages);
    }
    s->messages[s->count++] = *m;
}

/* Reads an int32 length and that many bytes (-1: null) at *pos below end. */
static bool msgset_read_bytes(const uint8_t *p, size_t *pos, size_t end, const uint8_t **out, int32_t *out_len) {
    if (end - *pos < 4)
        return false;
    int32_t n = (int32_t)be32_load(p + *pos);
    *pos += 4;
    if (n < -1 || (n > 0 && (size_t)n > end - *pos))
        return false;
    *out = n >= 0 ? p + *pos : NULL;
    *out_len = n;
    *pos += n > 0 ? (size_t)n : 0;
    return true;
}

static kerr_t msgset_parse_set(msgset_t *s, const uint8_t *p, size_t len, bool inner, size_t max_uncompressed);

/* A compressed wrapper: its value decompressed into a buffer of s's own,
 * then read as the inner set. */
static kerr_t msgset_unwrap(msgset_t *s, compression_t codec, const uint8_t *value, int32_t value_len,
                            size_t max_uncompressed) {
    if (value_len < 0)
        return KERR_INVALID_RECORD; /* Kafka: a compressed wrapper without a value */
    if (value_len == 0)
        return KERR_CORRUPT_MESSAGE; /* no codec's stream is empty */
    s->inner = mem_realloc(s->inner, (s->ninner + 1) * sizeof *s->inner);
    buf_t *out = &s->inner[s->ninner++];
    buf_init(out);
    kerr_t e;
    if (codec == COMPRESSION_LZ4 && s->magic == 0) {
        buf_t fixed;
        buf_init(&fixed);
        buf_append(&fixed, value, (size_t)value_len);
        lz4_set_hc(fixed.data, fixed.len, false);
        e = decompress_append(codec, fixed.data, fixed.len, max_uncompressed, out);
        buf_free(&fixed);
    } else {
        e = decompress_append(codec, value, (size_t)value_len, max_uncompressed, out);
    }
    if (e != KERR_NONE)
        return KERR_CORRUPT_MESSAGE;
    size_t before = s->count;
    e = msgset_parse_set(s, out->data, out->len, true, max_uncompressed);
    if (e == KERR_NONE && s->count == before)
        return KERR_INVALID_RECORD; /* a wrapper with no message inside */
    return e;
}

/* One message of size bytes at m (its entry's offset already read). */
static kerr_t msgset_parse_message(msgset_t *s, int64_t offset, const uint8_t *m, size_t size, bool inner,
                                   size_t max_uncompressed) {
    if (size < MSGSET_MESSAGE_OVERHEAD_V0)
        return KERR_CORRUPT_MESSAGE;
    uint32_t crc = be32_load(m);
    if ((uint32_t)crc32(0, m + 4, (uInt)(size - 4)) != crc)
        return KERR_CORRUPT_MESSAGE;
    int8_t magic = (int8_t)m[4];
    uint8_t attr = m[5];
    if (magic != 0 && magic != 1)
        return KERR_INVALID_RECORD;
    if (s->count == 0 && s->ninner == 0)
        s->magic = magic;
    else if (magic != s->magic)
        return KERR_INVALID_RECORD; /* one format per request */
    if (size < msgset_overhead(magic))
        return KERR_CORRUPT_MESSAGE;
    msgset_message_t msg = {.offset = offset, .timestamp = -1};
    size_t pos = 6;
    if (magic == 1) {
        msg.timestamp = (int64_t)be64_load(m + pos);
        pos += 8;
        if (attr & MSGSET_ATTR_LOG_APPEND_TIME)
            return KERR_INVALID_TIMESTAMP; /* only the broker may set it */
    }
    if (!msgset_read_bytes(m, &pos, size, &msg.key, &msg.key_len) ||
        !msgset_read_bytes(m, &pos, size, &msg.value, &msg.value_len) || pos != size)
        return KERR_CORRUPT_MESSAGE;
    compression_t codec = (compression_t)(attr & MSGSET_ATTR_CODEC_MASK);
    if (codec == COMPRESSION_NONE) {
        msgset_push(s, &msg);
        return KERR_NONE;
    }
    if (codec == COMPRESSION_ZSTD)
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    if (codec > COMPRESSION_ZSTD)
        return KERR_CORRUPT_MESSAGE;
    if (inner)
        return KERR_INVALID_RECORD; /* Kafka: no compressed message inside a wrapper */
    s->codec = codec;
    return msgset_unwrap(s, codec, msg.value, msg.value_len, max_uncompressed);
}

static kerr_t msgset_parse_set(msgset_t *s, const uint8_t *p, size_t len, bool inner, size_t max_uncompressed) {
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < MSGSET_LOG_OVERHEAD)
            return KERR_CORRUPT_MESSAGE;
        int64_t offset = (int64_t)be64_load(p + pos);
        int32_t size = (int32_t)be32_load(p + pos + 8);
        pos += MSGSET_LOG_OVERHEAD;
        if (size < 0 || (size_t)size > len - pos)
            return KERR_CORRUPT_MESSAGE;
        kerr_t e = msgset_parse_message(s, offset, p + pos, (size_t)size, inner, max_uncompressed);
        if (e != KERR_NONE)
            return e;
        pos += (size_t)size;
    }
    return KERR_NONE;
}

kerr_t msgset_parse(const uint8_t *data, size_t len, size_t max_uncompressed, msgset_t *s) {
    msgset_free(s);
    kerr_t e = msgset_parse_set(s, data, len, false, max_uncompressed);
    if (e == KERR_NONE && s->count == 0)
        e = KERR_CORRUPT_MESSAGE;
    return e;
}

/* ---- writing ---------------------------------------------------------------- */

static size_t msgset_len(int32_t n) { return n > 0 ? (size_t)n : 0; }

size_t msgset_entry_size(int8_t magic, const msgset_message_t *m) {
    return MSGSET_LOG_OVERHEAD + msgset_overhead(magic) + msgset_len(m->key_len) + msgset_len(m->value_len);
}

static void msgset_put_bytes(buf_t *b, const uint8_t *p, int32_t n) {
    buf_put_i32(b, n < 0 ? -1 : n);
    if (n > 0)
        buf_append(b, p, (size_t)n);
}

static void msgset_put_entry(buf_t *b, int64_t offset, int8_t magic, uint8_t attr, int64_t timestamp,
                             const uint8_t *key, int32_t key_len, const uint8_t *value, int32_t value_len) {
    size_t size = msgset_overhead(magic) + msgset_len(key_len) + msgset_len(value_len);
    buf_put_i64(b, offset);
    buf_put_i32(b, (int32_t)size);
    size_t crc_at = b->len;
    buf_put_u32(b, 0);
    buf_put_i8(b, magic);
    buf_put_i8(b, (int8_t)attr);
    if (magic == 1)
        buf_put_i64(b, timestamp);
    msgset_put_bytes(b, key, key_len);
    msgset_put_bytes(b, value, value_len);
    be32_store(b->data + crc_at, (uint32_t)crc32(0, b->data + crc_at + 4, (uInt)(size - 4)));
}

kerr_t msgset_write(buf_t *out, int8_t magic, compression_t codec, bool log_append_time, int64_t log_append_time_ms,
                    const msgset_message_t *messages, size_t count) {
    if (codec == COMPRESSION_ZSTD)
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    bool lat = log_append_time && magic == 1;
    uint8_t ts_attr = lat ? MSGSET_ATTR_LOG_APPEND_TIME : 0;
    if (count == 0)
        return KERR_NONE;
    if (codec == COMPRESSION_NONE) {
        for (size_t i = 0; i < count; i++) {
            const msgset_message_t *m = &messages[i];
            msgset_put_entry(out, m->offset, magic, ts_attr, lat ? log_append_time_ms : m->timestamp, m->key,
                             m->key_len, m->value, m->value_len);
        }
        return KERR_NONE;
    }
    buf_t inner, packed;
    buf_init(&inner);
    buf_init(&packed);
    int64_t max_ts = -1;
    for (size_t i = 0; i < count; i++) {
        const msgset_message_t *m = &messages[i];
        int64_t ts = lat ? log_append_time_ms : m->timestamp;
        if (ts > max_ts)
            max_ts = ts;
        /* Wrapping arithmetic: offsets come from the log, but a relative
         * offset of nonsense must not be undefined behaviour. */
        int64_t offset = magic == 1 ? (int64_t)((uint64_t)m->offset - (uint64_t)messages[0].offset) : m->offset;
        msgset_put_entry(&inner, offset, magic, ts_attr, ts, m->key, m->key_len, m->value, m->value_len);
    }
    kerr_t e = compress_append(codec, inner.data, inner.len, &packed);
    if (e == KERR_NONE) {
        if (codec == COMPRESSION_LZ4 && magic == 0)
            lz4_set_hc(packed.data, packed.len, true);
        msgset_put_entry(out, messages[count - 1].offset, magic, (uint8_t)(codec | ts_attr), max_ts, NULL, -1,
                         packed.data, (int32_t)packed.len);
    }
    buf_free(&inner);
    buf_free(&packed);
    return e;
}
