/* Legacy message sets: protocol.md §10's test vectors byte for byte, round
 * trips through every codec for both magics (inner offsets, wrapper offset,
 * timestamps, null keys and values), Kafka's magic 0 LZ4 header checksum,
 * and every kind of bad input a producer may send, each with Kafka's error
 * code. */
#include "unit.h"

#include "proto/msgset.h"
#include "util/endian.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* protocol.md §10: value "hi", key null. */
static const uint8_t vec_v0[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0xfd, 0x6e, 0xbd, 0xdb, 0, 0,
                                 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, 'h', 'i'};
static const uint8_t vec_v1[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x18, 0xbc, 0x2d, 0x09, 0x0d, 1, 0,
                                 0, 0, 0x01, 0x74, 0x87, 0x6e, 0x80, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2,
                                 'h', 'i'};
#define TS 1600000000000LL

/* The parse result of bad input: from an exactly sized copy, so ASan
 * catches any read past it. */
static kerr_t parse_err(const uint8_t *p, size_t len) {
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, p, len);
    msgset_t s;
    msgset_init(&s);
    kerr_t e = msgset_parse(copy, len, 1 << 20, &s);
    msgset_free(&s);
    free(copy);
    return e;
}

/* A wrapper entry (offset 0) of magic around value, compressed with codec
 * (value taken as the compressed bytes as they are). */
static void put_wrapper(buf_t *b, int8_t magic, compression_t codec, const uint8_t *value, size_t len) {
    msgset_message_t m = {0, TS, NULL, -1, value, (int32_t)len};
    size_t at = b->len;
    CU_ASSERT_EQUAL(msgset_write(b, magic, COMPRESSION_NONE, false, 0, &m, 1), KERR_NONE);
    b->data[at + 17] = (uint8_t)codec;
    be32_store(b->data + at + 12, (uint32_t)crc32(0, b->data + at + 16, (uInt)(b->len - at - 16)));
}

static void test_vectors(void) {
    msgset_t s;
    msgset_init(&s);
    CU_ASSERT_EQUAL(msgset_parse(vec_v0, sizeof vec_v0, 1 << 20, &s), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(s.count, 1);
    CU_ASSERT_EQUAL(s.magic, 0);
    CU_ASSERT_EQUAL(s.codec, COMPRESSION_NONE);
    CU_ASSERT_EQUAL(s.messages[0].timestamp, -1);
    CU_ASSERT_EQUAL(s.messages[0].key_len, -1);
    CU_ASSERT_PTR_NULL(s.messages[0].key);
    CU_ASSERT_EQUAL(s.messages[0].value_len, 2);
    CU_ASSERT_EQUAL(memcmp(s.messages[0].value, "hi", 2), 0);
    CU_ASSERT_EQUAL(msgset_parse(vec_v1, sizeof vec_v1, 1 << 20, &s), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(s.count, 1);
    CU_ASSERT_EQUAL(s.magic, 1);
    CU_ASSERT_EQUAL(s.messages[0].timestamp, TS);
    msgset_free(&s);

    msgset_message_t m = {0, TS, NULL, -1, (const uint8_t *)"hi", 2};
    for (int8_t magic = 0; magic <= 1; magic++) {
        buf_t b;
        buf_init(&b);
        CU_ASSERT_EQUAL(msgset_write(&b, magic, COMPRESSION_NONE, false, 0, &m, 1), KERR_NONE);
        const uint8_t *want = magic ? vec_v1 : vec_v0;
        size_t want_len = magic ? sizeof vec_v1 : sizeof vec_v0;
        CU_ASSERT_EQUAL(b.len, want_len);
        CU_ASSERT_EQUAL(b.len, msgset_entry_size(magic, &m));
        CU_ASSERT(b.len == want_len && memcmp(b.data, want, want_len) == 0);
        buf_free(&b);
    }
    CU_ASSERT(msgset_is_legacy(vec_v0, sizeof vec_v0));
    CU_ASSERT(msgset_is_legacy(vec_v1, sizeof vec_v1));
    uint8_t v2_like[sizeof vec_v1];
    memcpy(v2_like, vec_v1, sizeof v2_like);
    v2_like[16] = 2;
    CU_ASSERT(!msgset_is_legacy(v2_like, sizeof v2_like));
    CU_ASSERT(!msgset_is_legacy(vec_v0, 16));
}

/* Three messages at offsets 10..12: a normal one, a null key, a null value. */
static const msgset_message_t sample[] = {
    {10, TS, (const uint8_t *)"k1", 2, (const uint8_t *)"value one", 9},
    {11, TS + 5, NULL, -1, (const uint8_t *)"v2", 2},
    {12, TS + 2, (const uint8_t *)"k3", 2, NULL, -1},
};
#define NSAMPLE 3

static void check_same(const msgset_t *s, int8_t magic, bool relative) {
    CU_ASSERT_EQUAL_FATAL(s->count, NSAMPLE);
    for (size_t i = 0; i < NSAMPLE; i++) {
        const msgset_message_t *a = &sample[i], *b = &s->messages[i];
        CU_ASSERT_EQUAL(b->offset, relative ? (int64_t)i : a->offset);
        CU_ASSERT_EQUAL(b->timestamp, magic ? a->timestamp : -1);
        CU_ASSERT_EQUAL(b->key_len, a->key_len);
        CU_ASSERT_EQUAL(b->value_len, a->value_len);
        CU_ASSERT(a->key_len <= 0 || memcmp(a->key, b->key, (size_t)a->key_len) == 0);
        CU_ASSERT(a->value_len <= 0 || memcmp(a->value, b->value, (size_t)a->value_len) == 0);
        CU_ASSERT((b->key == NULL) == (a->key_len < 0));
        CU_ASSERT((b->value == NULL) == (a->value_len < 0));
    }
}

static void test_round_trips(void) {
    static const compression_t codecs[] = {COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4};
    for (int8_t magic = 0; magic <= 1; magic++) {
        for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
            buf_t b;
            buf_init(&b);
            CU_ASSERT_EQUAL_FATAL(msgset_write(&b, magic, codecs[c], false, 0, sample, NSAMPLE), KERR_NONE);
            if (codecs[c] != COMPRESSION_NONE) {
                /* One wrapper: the last message's offset, the codec, and
                 * (magic 1) the largest timestamp. */
                CU_ASSERT_EQUAL((int64_t)be64_load(b.data), 12);
                CU_ASSERT_EQUAL((size_t)be32_load(b.data + 8) + MSGSET_LOG_OVERHEAD, b.len);
                CU_ASSERT_EQUAL(b.data[17] & MSGSET_ATTR_CODEC_MASK, codecs[c]);
                if (magic == 1)
                    CU_ASSERT_EQUAL((int64_t)be64_load(b.data + 18), TS + 5);
            } else {
                size_t want = 0;
                for (size_t i = 0; i < NSAMPLE; i++)
                    want += msgset_entry_size(magic, &sample[i]);
                CU_ASSERT_EQUAL(b.len, want);
            }
            msgset_t s;
            msgset_init(&s);
            CU_ASSERT_EQUAL(msgset_parse(b.data, b.len, 1 << 20, &s), KERR_NONE);
            CU_ASSERT_EQUAL(s.magic, magic);
            CU_ASSERT_EQUAL(s.codec, codecs[c]);
            /* Magic 1 inner offsets are relative; magic 0 keeps them absolute. */
            check_same(&s, magic, magic == 1 && codecs[c] != COMPRESSION_NONE);
            msgset_free(&s);
            buf_free(&b);
        }
    }
}

static void test_log_append_time(void) {
    buf_t b;
    buf_init(&b);
    CU_ASSERT_EQUAL(msgset_write(&b, 1, COMPRESSION_GZIP, true, TS + 100, sample, NSAMPLE), KERR_NONE);
    CU_ASSERT_EQUAL(b.data[17], COMPRESSION_GZIP | MSGSET_ATTR_LOG_APPEND_TIME);
    CU_ASSERT_EQUAL((int64_t)be64_load(b.data + 18), TS + 100);
    /* A producer may not send the bit: Kafka's INVALID_TIMESTAMP. */
    CU_ASSERT_EQUAL(parse_err(b.data, b.len), KERR_INVALID_TIMESTAMP);
    buf_reset(&b);
    CU_ASSERT_EQUAL(msgset_write(&b, 1, COMPRESSION_NONE, true, TS + 100, sample, 1), KERR_NONE);
    CU_ASSERT_EQUAL(b.data[17], MSGSET_ATTR_LOG_APPEND_TIME);
    CU_ASSERT_EQUAL((int64_t)be64_load(b.data + 18), TS + 100);
    /* Magic 0 has no timestamp: the bit and the time are dropped. */
    buf_reset(&b);
    CU_ASSERT_EQUAL(msgset_write(&b, 0, COMPRESSION_NONE, true, TS + 100, sample, 1), KERR_NONE);
    CU_ASSERT_EQUAL(b.data[17], 0);
    CU_ASSERT_EQUAL(b.len, msgset_entry_size(0, &sample[0]));
    buf_free(&b);
}

/* KAFKA-3160: magic 0 LZ4 frames carry a header checksum over the magic
 * bytes too; magic 1 the standard one. Both are read. */
static void test_lz4_header_checksum(void) {
    buf_t v0, v1;
    buf_init(&v0);
    buf_init(&v1);
    CU_ASSERT_EQUAL(msgset_write(&v0, 0, COMPRESSION_LZ4, false, 0, sample, NSAMPLE), KERR_NONE);
    CU_ASSERT_EQUAL(msgset_write(&v1, 1, COMPRESSION_LZ4, false, 0, sample, NSAMPLE), KERR_NONE);
    /* The frame starts after the wrapper's key (-1) and value length. */
    const uint8_t *f0 = v0.data + MSGSET_LOG_OVERHEAD + 6 + 8;
    const uint8_t *f1 = v1.data + MSGSET_LOG_OVERHEAD + 14 + 8;
    CU_ASSERT_EQUAL(be32_load(f0), 0x04224d18);
    CU_ASSERT_EQUAL(be32_load(f1), 0x04224d18);
    CU_ASSERT_EQUAL(f0[4], f1[4]);
    CU_ASSERT_EQUAL(f0[5], f1[5]);
    /* Same descriptor, different checksum byte. */
    CU_ASSERT_NOT_EQUAL(f0[6], f1[6]);
    /* A magic 0 frame with the standard checksum (other writers) reads too. */
    buf_t std0;
    buf_init(&std0);
    buf_append(&std0, v0.data, v0.len);
    uint8_t *g = std0.data + (f0 - v0.data);
    g[6] = f1[6];
    be32_store(std0.data + 12, (uint32_t)crc32(0, std0.data + 16, (uInt)(std0.len - 16)));
    msgset_t s;
    msgset_init(&s);
    CU_ASSERT_EQUAL(msgset_parse(std0.data, std0.len, 1 << 20, &s), KERR_NONE);
    check_same(&s, 0, false);
    msgset_free(&s);
    buf_free(&std0);
    buf_free(&v0);
    buf_free(&v1);
}

/* Rewrites the CRC of the message whose entry starts at off. */
static void fix_crc(uint8_t *p, size_t off) {
    size_t size = be32_load(p + off + 8);
    be32_store(p + off + 12, (uint32_t)crc32(0, p + off + 16, (uInt)(size - 4)));
}

static void test_corrupt_framing(void) {
    CU_ASSERT_EQUAL(parse_err(vec_v0, 0), KERR_CORRUPT_MESSAGE);
    /* Every proper prefix is truncated: CORRUPT_MESSAGE, reads in bounds. */
    for (size_t n = 1; n < sizeof vec_v1; n++)
        CU_ASSERT_EQUAL(parse_err(vec_v1, n), KERR_CORRUPT_MESSAGE);
    uint8_t p[sizeof vec_v1];
    /* Wrong CRC. */
    memcpy(p, vec_v1, sizeof p);
    p[sizeof p - 1] ^= 1;
    CU_ASSERT_EQUAL(parse_err(p, sizeof p), KERR_CORRUPT_MESSAGE);
    /* Size too small for the message, too large for the input, negative. */
    static const int32_t sizes[] = {3, 13, 0x19, -1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        memcpy(p, vec_v1, sizeof p);
        be32_store(p + 8, (uint32_t)sizes[i]);
        CU_ASSERT_EQUAL(parse_err(p, sizeof p), KERR_CORRUPT_MESSAGE);
    }
    /* A value length past the message, a key length below -1 (CRC fixed:
     * the framing itself is what is wrong). */
    memcpy(p, vec_v1, sizeof p);
    be32_store(p + 30, 3);
    fix_crc(p, 0);
    CU_ASSERT_EQUAL(parse_err(p, sizeof p), KERR_CORRUPT_MESSAGE);
    memcpy(p, vec_v1, sizeof p);
    be32_store(p + 26, (uint32_t)-2);
    fix_crc(p, 0);
    CU_ASSERT_EQUAL(parse_err(p, sizeof p), KERR_CORRUPT_MESSAGE);
    /* Bytes left over inside the message (the value is shorter). */
    memcpy(p, vec_v1, sizeof p);
    be32_store(p + 30, 1);
    fix_crc(p, 0);
    CU_ASSERT_EQUAL(parse_err(p, sizeof p), KERR_CORRUPT_MESSAGE);
}

static void test_invalid_content(void) {
    uint8_t p[sizeof vec_v1];
    /* Magic 2 inside a message set. */
    memcpy(p, vec_v1, sizeof p);
    p[16] = 2;
    fix_crc(p, 0);
    CU_ASSERT_EQUAL(parse_err(p, sizeof p), KERR_INVALID_RECORD);
    /* Codec bits: zstd needs magic 2; 5-7 do not exist. */
    memcpy(p, vec_v1, sizeof p);
    p[17] = COMPRESSION_ZSTD;
    fix_crc(p, 0);
    CU_ASSERT_EQUAL(parse_err(p, sizeof p), KERR_UNSUPPORTED_COMPRESSION_TYPE);
    p[17] = 5;
    fix_crc(p, 0);
    CU_ASSERT_EQUAL(parse_err(p, sizeof p), KERR_CORRUPT_MESSAGE);
    /* A compressed wrapper whose value does not decompress. */
    p[17] = COMPRESSION_GZIP;
    fix_crc(p, 0);
    CU_ASSERT_EQUAL(parse_err(p, sizeof p), KERR_CORRUPT_MESSAGE);
    /* A wrapper with a null value. */
    uint8_t w[sizeof vec_v1 - 2];
    memcpy(w, vec_v1, sizeof w);
    be32_store(w + 8, 0x16);
    be32_store(w + 30, (uint32_t)-1);
    w[17] = COMPRESSION_GZIP;
    fix_crc(w, 0);
    CU_ASSERT_EQUAL(parse_err(w, sizeof w), KERR_INVALID_RECORD);
    /* Mixed magics in one set. */
    buf_t b;
    buf_init(&b);
    buf_append(&b, vec_v0, sizeof vec_v0);
    buf_append(&b, vec_v1, sizeof vec_v1);
    CU_ASSERT_EQUAL(parse_err(b.data, b.len), KERR_INVALID_RECORD);
    /* A wrapper around a compressed message, and one around nothing. */
    buf_t inner, packed;
    buf_init(&inner);
    buf_init(&packed);
    CU_ASSERT_EQUAL(msgset_write(&inner, 1, COMPRESSION_GZIP, false, 0, sample, NSAMPLE), KERR_NONE);
    CU_ASSERT_EQUAL(compress_append(COMPRESSION_GZIP, inner.data, inner.len, &packed), KERR_NONE);
    buf_reset(&b);
    put_wrapper(&b, 1, COMPRESSION_GZIP, packed.data, packed.len);
    CU_ASSERT_EQUAL(parse_err(b.data, b.len), KERR_INVALID_RECORD);
    buf_reset(&b);
    buf_reset(&packed);
    CU_ASSERT_EQUAL(compress_append(COMPRESSION_GZIP, (const uint8_t *)"", 0, &packed), KERR_NONE);
    put_wrapper(&b, 1, COMPRESSION_GZIP, packed.data, packed.len);
    CU_ASSERT_EQUAL(parse_err(b.data, b.len), KERR_INVALID_RECORD);
    /* An empty compressed value (no codec's stream is empty; found by
     * fuzz_msgset: the decompressor must never see a null buffer). */
    buf_reset(&b);
    put_wrapper(&b, 0, COMPRESSION_LZ4, (const uint8_t *)"", 0);
    CU_ASSERT_EQUAL(parse_err(b.data, b.len), KERR_CORRUPT_MESSAGE);
    buf_reset(&b);
    put_wrapper(&b, 1, COMPRESSION_GZIP, (const uint8_t *)"", 0);
    CU_ASSERT_EQUAL(parse_err(b.data, b.len), KERR_CORRUPT_MESSAGE);
    /* The same wrapper around the uncompressed set parses (the control). */
    buf_reset(&b);
    buf_reset(&packed);
    buf_reset(&inner);
    CU_ASSERT_EQUAL(msgset_write(&inner, 1, COMPRESSION_NONE, false, 0, sample, NSAMPLE), KERR_NONE);
    CU_ASSERT_EQUAL(compress_append(COMPRESSION_GZIP, inner.data, inner.len, &packed), KERR_NONE);
    put_wrapper(&b, 1, COMPRESSION_GZIP, packed.data, packed.len);
    CU_ASSERT_EQUAL(parse_err(b.data, b.len), KERR_NONE);
    /* Writing zstd at magic 0/1 is refused. */
    buf_reset(&b);
    CU_ASSERT_EQUAL(msgset_write(&b, 1, COMPRESSION_ZSTD, false, 0, sample, NSAMPLE),
                    KERR_UNSUPPORTED_COMPRESSION_TYPE);
    CU_ASSERT_EQUAL(b.len, 0);
    buf_free(&inner);
    buf_free(&packed);
    buf_free(&b);
}

/* A small wrapper that inflates past the limit is CORRUPT_MESSAGE. */
static void test_decompression_bound(void) {
    size_t big = 200000;
    uint8_t *zeros = calloc(1, big);
    msgset_message_t m = {0, TS, NULL, -1, zeros, (int32_t)big};
    buf_t b;
    buf_init(&b);
    CU_ASSERT_EQUAL(msgset_write(&b, 1, COMPRESSION_GZIP, false, 0, &m, 1), KERR_NONE);
    CU_ASSERT(b.len < 2000);
    msgset_t s;
    msgset_init(&s);
    CU_ASSERT_EQUAL(msgset_parse(b.data, b.len, 100000, &s), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(msgset_parse(b.data, b.len, 300000, &s), KERR_NONE);
    CU_ASSERT_EQUAL(s.count, 1);
    msgset_free(&s);
    buf_free(&b);
    free(zeros);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"protocol.md test vectors", test_vectors},
        {"round trips, every codec and magic", test_round_trips},
        {"LogAppendTime", test_log_append_time},
        {"magic 0 LZ4 header checksum", test_lz4_header_checksum},
        {"corrupt framing", test_corrupt_framing},
        {"invalid content", test_invalid_content},
        {"decompression bound", test_decompression_bound},
        {NULL, NULL},
    };
    unit_add_suite("msgset", tests);
}
