/* The codecs: exact framing of what we write, round trips, decoding what
 * other writers produce (raw snappy, LZ4 frames with checksums and content
 * size, zstd frames without content size, several gzip members), and the
 * output bound that turns a decompression bomb into CORRUPT_MESSAGE. */
#include "unit.h"

#include "util/buf.h"
#include "proto/compress.h"
#include "util/endian.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static const compression_t codecs[] = {COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4,
                                       COMPRESSION_ZSTD};
#define NCODECS (sizeof codecs / sizeof codecs[0])

/* Half text-like (compressible), half pseudo-random (not), deterministic. */
static uint8_t *sample(size_t len) {
    uint8_t *p = malloc(len ? len : 1);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (i / 1000) % 2 ? (uint8_t)x : (uint8_t)("kafka record batch "[i % 19]);
    }
    return p;
}

static void test_names(void) {
    compression_t c = COMPRESSION_ZSTD;
    CU_ASSERT_STRING_EQUAL(compression_name(COMPRESSION_NONE), "none");
    CU_ASSERT_STRING_EQUAL(compression_name(COMPRESSION_GZIP), "gzip");
    CU_ASSERT_STRING_EQUAL(compression_name(COMPRESSION_SNAPPY), "snappy");
    CU_ASSERT_STRING_EQUAL(compression_name(COMPRESSION_LZ4), "lz4");
    CU_ASSERT_STRING_EQUAL(compression_name(COMPRESSION_ZSTD), "zstd");
    CU_ASSERT_STRING_EQUAL(compression_name(COMPRESSION_PRODUCER), "producer");
    CU_ASSERT_EQUAL(compression_parse("uncompressed", &c), 0);
    CU_ASSERT_EQUAL(c, COMPRESSION_NONE);
    CU_ASSERT_EQUAL(compression_parse("gzip", &c), 0);
    CU_ASSERT_EQUAL(c, COMPRESSION_GZIP);
    CU_ASSERT_EQUAL(compression_parse("snappy", &c), 0);
    CU_ASSERT_EQUAL(c, COMPRESSION_SNAPPY);
    CU_ASSERT_EQUAL(compression_parse("lz4", &c), 0);
    CU_ASSERT_EQUAL(c, COMPRESSION_LZ4);
    CU_ASSERT_EQUAL(compression_parse("zstd", &c), 0);
    CU_ASSERT_EQUAL(c, COMPRESSION_ZSTD);
    CU_ASSERT_EQUAL(compression_parse("producer", &c), 0);
    CU_ASSERT_EQUAL(c, COMPRESSION_PRODUCER);
    c = COMPRESSION_ZSTD;
    CU_ASSERT_EQUAL(compression_parse("GZIP", &c), -1);
    CU_ASSERT_EQUAL(compression_parse("none", &c), -1);
    CU_ASSERT_EQUAL(compression_parse("", &c), -1);
    CU_ASSERT_EQUAL(c, COMPRESSION_ZSTD);
}

/* Every codec, sizes around the 32 KiB (snappy) and 64 KiB (lz4) block
 * boundaries; output is appended after what the buffer already holds. */
static void test_roundtrip(void) {
    static const size_t sizes[] = {0, 1, 19, 32767, 32768, 32769, 65536, 65537, 200000};
    for (size_t c = 0; c < NCODECS; c++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t len = sizes[s];
            uint8_t *in = sample(len);
            buf_t z = BUF_INIT, out = BUF_INIT;
            buf_append_str(&z, "pre");
            buf_append_str(&out, "xyz");
            CU_ASSERT_EQUAL_FATAL(compress_append(codecs[c], in, len, &z), KERR_NONE);
            CU_ASSERT_EQUAL(memcmp(z.data, "pre", 3), 0);
            CU_ASSERT_EQUAL(decompress_append(codecs[c], z.data + 3, z.len - 3, len, &out), KERR_NONE);
            CU_ASSERT_EQUAL(out.len, len + 3);
            CU_ASSERT_EQUAL(memcmp(out.data, "xyz", 3), 0);
            CU_ASSERT(len == 0 || memcmp(out.data + 3, in, len) == 0);
            if (codecs[c] != COMPRESSION_NONE && len == 200000)
                CU_ASSERT(z.len - 3 < len); /* actually compressed */
            buf_free(&z);
            buf_free(&out);
            free(in);
        }
    }
}

/* Kafka's framing, byte by byte where it is fixed. */
static void test_framing_bytes(void) {
    uint8_t *in = sample(70000);
    buf_t z = BUF_INIT;

    CU_ASSERT_EQUAL(compress_append(COMPRESSION_GZIP, in, 100, &z), KERR_NONE);
    CU_ASSERT_EQUAL(z.data[0], 0x1f);
    CU_ASSERT_EQUAL(z.data[1], 0x8b);
    CU_ASSERT_EQUAL(z.data[2], 8); /* deflate */

    /* xerial: magic, version 1, compatible 1, then 32 KiB input blocks. */
    static const uint8_t xerial[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    buf_reset(&z);
    CU_ASSERT_EQUAL(compress_append(COMPRESSION_SNAPPY, in, 70000, &z), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(z.len > 16, 1);
    CU_ASSERT_EQUAL(memcmp(z.data, xerial, 16), 0);
    size_t pos = 16, blocks = 0, total = 0;
    while (pos + 4 <= z.len) {
        uint32_t blen = be32_load(z.data + pos);
        size_t ulen = 0;
        CU_ASSERT_EQUAL_FATAL(pos + 4 + blen <= z.len, 1);
        CU_ASSERT_EQUAL(snappy_uncompressed_length((const char *)z.data + pos + 4, blen, &ulen), SNAPPY_OK);
        CU_ASSERT(ulen <= 32768);
        total += ulen;
        blocks++;
        pos += 4 + blen;
    }
    CU_ASSERT_EQUAL(pos, z.len);
    CU_ASSERT_EQUAL(blocks, 3); /* 32768 + 32768 + 4464 */
    CU_ASSERT_EQUAL(total, 70000);

    /* LZ4 frame: magic, FLG = version 01 + block independence, no checksums,
     * no content size; BD = 64 KiB blocks. */
    buf_reset(&z);
    CU_ASSERT_EQUAL(compress_append(COMPRESSION_LZ4, in, 70000, &z), KERR_NONE);
    CU_ASSERT_EQUAL(be32_load(z.data), 0x04224d18u);
    CU_ASSERT_EQUAL(z.data[4], 0x60);
    CU_ASSERT_EQUAL(z.data[5], 0x40);

    buf_reset(&z);
    CU_ASSERT_EQUAL(compress_append(COMPRESSION_ZSTD, in, 70000, &z), KERR_NONE);
    CU_ASSERT_EQUAL(be32_load(z.data), 0x28b52ffdu);
    CU_ASSERT_EQUAL(ZSTD_getFrameContentSize(z.data, z.len), 70000u);

    CU_ASSERT_EQUAL(compress_append(COMPRESSION_PRODUCER, in, 10, &z), KERR_UNKNOWN_SERVER_ERROR);
    buf_free(&z);
    free(in);
}

/* librdkafka and sarama write raw (unframed) snappy. */
static void test_snappy_raw(void) {
    uint8_t *in = sample(100000);
    size_t clen = snappy_max_compressed_length(100000);
    char *c = malloc(clen);
    CU_ASSERT_EQUAL_FATAL(snappy_compress((const char *)in, 100000, c, &clen), SNAPPY_OK);
    buf_t out = BUF_INIT;
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_SNAPPY, (uint8_t *)c, clen, 100000, &out), KERR_NONE);
    CU_ASSERT_EQUAL(out.len, 100000);
    CU_ASSERT_EQUAL(memcmp(out.data, in, 100000), 0);
    buf_reset(&out);
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_SNAPPY, (uint8_t *)c, clen, 99999, &out), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(out.len, 0);
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_SNAPPY, (uint8_t *)c, clen - 1, 100000, &out),
                    KERR_CORRUPT_MESSAGE);
    buf_free(&out);
    free(c);
    free(in);
}

/* A 6-byte raw snappy block announcing 512 MiB: refused before anything is
 * allocated for it. */
static void test_snappy_lying_preamble(void) {
    static const uint8_t lie[] = {0x80, 0x80, 0x80, 0x80, 0x02, 0x00};
    buf_t out = BUF_INIT;
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_SNAPPY, lie, sizeof lie, 1 << 20, &out), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(out.len, 0);
    CU_ASSERT(out.cap < (1 << 20));
    buf_free(&out);
}

static void xerial_block(buf_t *b, const uint8_t *in, size_t len) {
    size_t clen = snappy_max_compressed_length(len);
    char *c = malloc(clen);
    CU_ASSERT_EQUAL_FATAL(snappy_compress((const char *)in, len, c, &clen), SNAPPY_OK);
    buf_put_u32(b, (uint32_t)clen);
    buf_append(b, c, clen);
    free(c);
}

static void xerial_header(buf_t *b) {
    static const uint8_t h[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    buf_append(b, h, 16);
}

/* kafka-python / snappy-java framing written by hand: uneven block sizes
 * (readers must accept any) and two concatenated streams. */
static void test_snappy_xerial_foreign(void) {
    uint8_t *in = sample(90000);
    buf_t z = BUF_INIT, out = BUF_INIT;
    xerial_header(&z);
    xerial_block(&z, in, 50000); /* bigger than snappy-java's 32 KiB */
    xerial_block(&z, in + 50000, 10);
    xerial_header(&z);
    xerial_block(&z, in + 50010, 39990);
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_SNAPPY, z.data, z.len, 90000, &out), KERR_NONE);
    CU_ASSERT_EQUAL(out.len, 90000);
    CU_ASSERT_EQUAL(memcmp(out.data, in, 90000), 0);
    buf_reset(&out);
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_SNAPPY, z.data, z.len, 89999, &out), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(out.len, 0);

    /* A block length pointing past the end, a zero length, a torn prefix. */
    buf_t bad = BUF_INIT;
    xerial_header(&bad);
    xerial_block(&bad, in, 100);
    be32_store(bad.data + 16, be32_load(bad.data + 16) + 1);
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_SNAPPY, bad.data, bad.len, 1000, &out), KERR_CORRUPT_MESSAGE);
    be32_store(bad.data + 16, 0);
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_SNAPPY, bad.data, bad.len, 1000, &out), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_SNAPPY, bad.data, 18, 1000, &out), KERR_CORRUPT_MESSAGE);
    /* Header alone: an empty stream. */
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_SNAPPY, bad.data, 16, 1000, &out), KERR_NONE);
    CU_ASSERT_EQUAL(out.len, 0);
    buf_free(&bad);
    buf_free(&z);
    buf_free(&out);
    free(in);
}

/* An LZ4 frame as the lz4 library writes it with every optional feature on:
 * content size, block checksums, content checksum, linked blocks. */
static void test_lz4_foreign_frame(void) {
    uint8_t *in = sample(150000);
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max256KB;
    prefs.frameInfo.blockMode = LZ4F_blockLinked;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    prefs.frameInfo.contentSize = 150000;
    size_t cap = LZ4F_compressFrameBound(150000, &prefs);
    uint8_t *z = malloc(cap);
    size_t n = LZ4F_compressFrame(z, cap, in, 150000, &prefs);
    CU_ASSERT_FATAL(!LZ4F_isError(n));
    CU_ASSERT_EQUAL(z[4] & 0x18, 0x18); /* content size + block checksum flags */
    CU_ASSERT_EQUAL(z[4] & 0x04, 0x04); /* content checksum */
    buf_t out = BUF_INIT;
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_LZ4, z, n, 150000, &out), KERR_NONE);
    CU_ASSERT_EQUAL(out.len, 150000);
    CU_ASSERT_EQUAL(memcmp(out.data, in, 150000), 0);
    /* A flipped bit in the last block is caught by the checksums. */
    buf_reset(&out);
    z[n - 10] ^= 0x01;
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_LZ4, z, n, 150000, &out), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(out.len, 0);
    buf_free(&out);
    free(z);
    free(in);
}

/* zstd-jni's ZstdOutputStream writes frames without a content size. */
static void test_zstd_streamed_frame(void) {
    uint8_t *in = sample(120000);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    size_t cap = ZSTD_compressBound(120000);
    uint8_t *z = malloc(cap);
    ZSTD_outBuffer ob = {z, cap, 0};
    ZSTD_inBuffer ib = {in, 60000, 0};
    CU_ASSERT_FATAL(!ZSTD_isError(ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_continue)));
    ZSTD_inBuffer ib2 = {in + 60000, 60000, 0};
    size_t rc;
    do {
        rc = ZSTD_compressStream2(cctx, &ob, &ib2, ZSTD_e_end);
        CU_ASSERT_FATAL(!ZSTD_isError(rc));
    } while (rc != 0);
    CU_ASSERT_EQUAL(ZSTD_getFrameContentSize(z, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
    buf_t out = BUF_INIT;
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_ZSTD, z, ob.pos, 120000, &out), KERR_NONE);
    CU_ASSERT_EQUAL(out.len, 120000);
    CU_ASSERT_EQUAL(memcmp(out.data, in, 120000), 0);
    buf_reset(&out);
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_ZSTD, z, ob.pos, 119999, &out), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(out.len, 0);
    buf_free(&out);
    ZSTD_freeCCtx(cctx);
    free(z);
    free(in);
}

/* A frame declaring a 32 MiB window (zstd's own default limit would take
 * it) is refused under a 1 MiB output limit: the decoder would allocate the
 * window before producing anything. Under a 64 MiB limit it decodes. */
static void test_zstd_large_window(void) {
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    CU_ASSERT_FATAL(!ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 25)));
    uint8_t z[256];
    ZSTD_outBuffer ob = {z, sizeof z, 0};
    ZSTD_inBuffer ib = {"hello", 5, 0};
    CU_ASSERT_FATAL(!ZSTD_isError(ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_continue)));
    ZSTD_inBuffer empty = {"", 0, 0};
    CU_ASSERT_FATAL(ZSTD_compressStream2(cctx, &ob, &empty, ZSTD_e_end) == 0);
    buf_t out = BUF_INIT;
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_ZSTD, z, ob.pos, 1 << 20, &out), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(out.len, 0);
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_ZSTD, z, ob.pos, 64 << 20, &out), KERR_NONE);
    CU_ASSERT_EQUAL(out.len, 5);
    buf_free(&out);
    ZSTD_freeCCtx(cctx);
}

/* Several gzip members / zstd frames / lz4 frames back to back decode to the
 * concatenation. */
static void test_concatenated(void) {
    static const compression_t multi[] = {COMPRESSION_GZIP, COMPRESSION_LZ4, COMPRESSION_ZSTD};
    uint8_t *in = sample(5000);
    for (size_t c = 0; c < 3; c++) {
        buf_t z = BUF_INIT, out = BUF_INIT;
        CU_ASSERT_EQUAL(compress_append(multi[c], in, 3000, &z), KERR_NONE);
        CU_ASSERT_EQUAL(compress_append(multi[c], in + 3000, 2000, &z), KERR_NONE);
        CU_ASSERT_EQUAL(decompress_append(multi[c], z.data, z.len, 5000, &out), KERR_NONE);
        CU_ASSERT_EQUAL(out.len, 5000);
        CU_ASSERT_EQUAL(memcmp(out.data, in, 5000), 0);
        /* trailing garbage after the last frame is not a frame */
        buf_reset(&out);
        buf_append_str(&z, "junk");
        CU_ASSERT_EQUAL(decompress_append(multi[c], z.data, z.len, 5000, &out), KERR_CORRUPT_MESSAGE);
        CU_ASSERT_EQUAL(out.len, 0);
        buf_free(&z);
        buf_free(&out);
    }
    free(in);
}

/* 4 MiB of zeros compress to little; one byte below the real size is a
 * bomb for every codec, and the buffer is left as it was. */
static void test_bomb(void) {
    size_t len = 4u << 20;
    uint8_t *zeros = calloc(1, len);
    for (size_t c = 1; c < NCODECS; c++) {
        buf_t z = BUF_INIT, out = BUF_INIT;
        CU_ASSERT_EQUAL_FATAL(compress_append(codecs[c], zeros, len, &z), KERR_NONE);
        CU_ASSERT(z.len < len / 10);
        buf_append_str(&out, "keep");
        CU_ASSERT_EQUAL(decompress_append(codecs[c], z.data, z.len, len - 1, &out), KERR_CORRUPT_MESSAGE);
        CU_ASSERT_EQUAL(out.len, 4);
        CU_ASSERT_EQUAL(decompress_append(codecs[c], z.data, z.len, 1000, &out), KERR_CORRUPT_MESSAGE);
        CU_ASSERT_EQUAL(out.len, 4);
        CU_ASSERT(out.cap <= 2 * len); /* never held much more than the limit */
        CU_ASSERT_EQUAL(decompress_append(codecs[c], z.data, z.len, len, &out), KERR_NONE);
        CU_ASSERT_EQUAL(out.len, len + 4);
        buf_free(&z);
        buf_free(&out);
    }
    buf_t out = BUF_INIT;
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_NONE, zeros, 100, 99, &out), KERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(decompress_append(COMPRESSION_NONE, zeros, 100, 100, &out), KERR_NONE);
    CU_ASSERT_EQUAL(out.len, 100);
    buf_free(&out);
    free(zeros);
}

/* Every truncation of a valid stream is an error (or, for a cut exactly at
 * a frame boundary, impossible here: one frame), never a crash. Empty input
 * and garbage too. */
static void test_truncated_and_garbage(void) {
    uint8_t *in = sample(3000);
    for (size_t c = 1; c < NCODECS; c++) {
        buf_t z = BUF_INIT, out = BUF_INIT;
        CU_ASSERT_EQUAL_FATAL(compress_append(codecs[c], in, 3000, &z), KERR_NONE);
        int bad = 0;
        for (size_t cut = 0; cut < z.len; cut++) {
            buf_reset(&out);
            /* xerial: cutting right after a whole block is a valid shorter stream */
            kerr_t err = decompress_append(codecs[c], z.data, cut, 3000, &out);
            if (err != KERR_CORRUPT_MESSAGE && !(codecs[c] == COMPRESSION_SNAPPY && (cut == 16 || cut == z.len)))
                bad++;
            if (err != KERR_NONE)
                CU_ASSERT_EQUAL(out.len, 0);
        }
        CU_ASSERT_EQUAL(bad, 0);
        buf_reset(&out);
        CU_ASSERT_EQUAL(decompress_append(codecs[c], (const uint8_t *)"not compressed at all", 21, 3000, &out),
                        KERR_CORRUPT_MESSAGE);
        buf_free(&z);
        buf_free(&out);
    }
    buf_t out = BUF_INIT;
    CU_ASSERT_EQUAL(decompress_append((compression_t)5, in, 10, 100, &out), KERR_CORRUPT_MESSAGE);
    buf_free(&out);
    free(in);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"names", test_names},
        {"roundtrip", test_roundtrip},
        {"framing_bytes", test_framing_bytes},
        {"snappy_raw", test_snappy_raw},
        {"snappy_lying_preamble", test_snappy_lying_preamble},
        {"snappy_xerial_foreign", test_snappy_xerial_foreign},
        {"lz4_foreign_frame", test_lz4_foreign_frame},
        {"zstd_streamed_frame", test_zstd_streamed_frame},
        {"zstd_large_window", test_zstd_large_window},
        {"concatenated", test_concatenated},
        {"bomb", test_bomb},
        {"truncated_and_garbage", test_truncated_and_garbage},
        {NULL, NULL},
    };
    unit_add_suite("compress", tests);
}
