/*
 * compress — the four codecs Kafka uses for the records section of a batch.
 *
 * Compression writes what the Java client writes (gzip stream, xerial-framed
 * snappy, LZ4 frame with independent 64 KiB blocks, zstd frame). Decompression
 * reads whatever a conforming client may send and treats the input as hostile:
 * no length found inside the input is trusted, and no decoder may produce (or
 * make us allocate) more than max_out bytes.
 */
#include "proto/compress.h"

#include "util/endian.h"

#include <limits.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* ---- names ---------------------------------------------------------------- */

const char *compression_name(compression_t c) {
    switch (c) {
    case COMPRESSION_NONE:
        return "none";
    case COMPRESSION_GZIP:
        return "gzip";
    case COMPRESSION_SNAPPY:
        return "snappy";
    case COMPRESSION_LZ4:
        return "lz4";
    case COMPRESSION_ZSTD:
        return "zstd";
    case COMPRESSION_PRODUCER:
        return "producer";
    }
    return "unknown";
}

/* Exactly the values Kafka's topic/broker compression.type accepts (the
 * validator is case-sensitive and does not know "none"). */
int compression_parse(const char *name, compression_t *out) {
    static const struct {
        const char *name;
        compression_t codec;
    } names[] = {
        {"uncompressed", COMPRESSION_NONE}, {"gzip", COMPRESSION_GZIP}, {"snappy", COMPRESSION_SNAPPY},
        {"lz4", COMPRESSION_LZ4},           {"zstd", COMPRESSION_ZSTD}, {"producer", COMPRESSION_PRODUCER},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].codec;
            return 0;
        }
    }
    return -1;
}

/* ---- bounded output ------------------------------------------------------- */

#define SINK_CHUNK (64 * 1024)

/* Where a decoder writes: straight into the caller's buffer, through windows
 * clipped so that the total never exceeds max_out + 1 bytes. Producing that
 * one extra byte is how an over-long stream (a bomb) is detected without ever
 * holding more than the limit. On failure the buffer is cut back to start. */
typedef struct sink {
    buf_t *out;
    size_t start;
    size_t max_out;
    size_t limit; /* max_out + 1, saturated */
} sink_t;

static void sink_init(sink_t *s, buf_t *out, size_t max_out) {
    s->out = out;
    s->start = out->len;
    s->max_out = max_out;
    s->limit = max_out == SIZE_MAX ? SIZE_MAX : max_out + 1;
}

static size_t sink_produced(const sink_t *s) { return s->out->len - s->start; }
static int sink_over(const sink_t *s) { return sink_produced(s) > s->max_out; }

/* Returns where the next bytes go and sets *room (0 once the limit is hit).
 * Growth is geometric (buf_reserve doubles), so a large output costs a
 * logarithmic number of reallocations. */
static uint8_t *sink_window(sink_t *s, size_t *room) {
    size_t left = s->limit - sink_produced(s);
    if (left && s->out->cap == s->out->len)
        buf_reserve(s->out, left < SINK_CHUNK ? left : SINK_CHUNK);
    size_t avail = s->out->cap - s->out->len;
    *room = avail < left ? avail : left;
    return *room ? s->out->data + s->out->len : NULL;
}

static kerr_t sink_finish(sink_t *s, kerr_t err) {
    if (err == KERR_NONE && sink_over(s))
        err = KERR_CORRUPT_MESSAGE;
    if (err != KERR_NONE)
        s->out->len = s->start;
    return err;
}

/* ---- gzip ----------------------------------------------------------------- */

static kerr_t gzip_compress(const uint8_t *in, size_t len, buf_t *out) {
    if (len > UINT_MAX)
        return KERR_UNKNOWN_SERVER_ERROR;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16: a gzip wrapper, as GZIPOutputStream writes. */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, MAX_WBITS + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return KERR_UNKNOWN_SERVER_ERROR;
    uLong bound = deflateBound(&zs, (uLong)len);
    if (bound > UINT_MAX) {
        deflateEnd(&zs);
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    buf_reserve(out, bound);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    if (rc == Z_STREAM_END)
        out->len += zs.total_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? KERR_NONE : KERR_UNKNOWN_SERVER_ERROR;
}

/* One or more gzip members back to back, nothing else (Java would skip
 * trailing garbage; no client writes any, so we call it corrupt). */
static kerr_t gzip_decompress(const uint8_t *in, size_t len, sink_t *s) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, MAX_WBITS + 16) != Z_OK)
        return KERR_UNKNOWN_SERVER_ERROR;
    kerr_t err = KERR_CORRUPT_MESSAGE;
    size_t fed = 0;
    for (;;) {
        if (zs.avail_in == 0 && fed < len) {
            size_t chunk = len - fed < UINT_MAX ? len - fed : UINT_MAX;
            zs.next_in = (Bytef *)(uintptr_t)(in + fed);
            zs.avail_in = (uInt)chunk;
            fed += chunk;
        }
        size_t room;
        uint8_t *w = sink_window(s, &room);
        if (!room)
            break; /* over max_out */
        zs.next_out = w;
        zs.avail_out = room < UINT_MAX ? (uInt)room : UINT_MAX;
        uInt before = zs.avail_out;
        int rc = inflate(&zs, Z_NO_FLUSH);
        s->out->len += before - zs.avail_out;
        if (rc == Z_STREAM_END) {
            if (zs.avail_in == 0 && fed == len) {
                err = KERR_NONE;
                break;
            }
            if (inflateReset(&zs) != Z_OK) /* next member */
                break;
            continue;
        }
        if (rc != Z_OK)
            break; /* Z_BUF_ERROR here means the input ended mid-stream */
    }
    inflateEnd(&zs);
    return err;
}

/* ---- snappy --------------------------------------------------------------- */

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_SIZE 16
#define XERIAL_BLOCK_SIZE (32 * 1024)

static int xerial_header_at(const uint8_t *p, size_t avail) {
    return avail >= XERIAL_HEADER_SIZE && memcmp(p, xerial_magic, sizeof xerial_magic) == 0;
}

/* snappy-java's SnappyOutputStream: magic, version 1, compatible version 1,
 * then blocks of at most 32 KiB input, each prefixed by its compressed size. */
static kerr_t snappy_compress_xerial(const uint8_t *in, size_t len, buf_t *out) {
    size_t start = out->len;
    buf_append(out, xerial_magic, sizeof xerial_magic);
    buf_put_i32(out, 1);
    buf_put_i32(out, 1);
    for (size_t pos = 0; pos < len; pos += XERIAL_BLOCK_SIZE) {
        size_t n = len - pos < XERIAL_BLOCK_SIZE ? len - pos : XERIAL_BLOCK_SIZE;
        size_t clen = snappy_max_compressed_length(n);
        buf_reserve(out, 4 + clen);
        uint8_t *lenp = out->data + out->len;
        if (snappy_compress((const char *)in + pos, n, (char *)lenp + 4, &clen) != SNAPPY_OK) {
            out->len = start;
            return KERR_UNKNOWN_SERVER_ERROR;
        }
        be32_store(lenp, (uint32_t)clen);
        out->len += 4 + clen;
    }
    return KERR_NONE;
}

/* One raw snappy block. Its own preamble announces the output size; we check
 * that against the limit before allocating, and snappy_uncompress validates
 * the rest (it never writes past the announced size). */
static kerr_t snappy_raw_block(const uint8_t *in, size_t len, sink_t *s) {
    size_t ulen;
    if (snappy_uncompressed_length((const char *)in, len, &ulen) != SNAPPY_OK)
        return KERR_CORRUPT_MESSAGE;
    if (ulen > s->max_out - sink_produced(s))
        return KERR_CORRUPT_MESSAGE;
    buf_reserve(s->out, ulen + 1); /* + 1: never hand snappy a NULL buffer */
    size_t got = ulen;
    if (snappy_uncompress((const char *)in, len, (char *)s->out->data + s->out->len, &got) != SNAPPY_OK ||
        got != ulen)
        return KERR_CORRUPT_MESSAGE;
    s->out->len += ulen;
    return KERR_NONE;
}

/* Like snappy-java's SnappyInputStream: xerial framing when the magic is
 * there (concatenated xerial streams included), otherwise one raw block. */
static kerr_t snappy_decompress(const uint8_t *in, size_t len, sink_t *s) {
    if (!xerial_header_at(in, len))
        return snappy_raw_block(in, len, s);
    size_t pos = 0;
    while (pos < len) {
        if (xerial_header_at(in + pos, len - pos)) {
            pos += XERIAL_HEADER_SIZE;
            continue;
        }
        if (len - pos < 4)
            return KERR_CORRUPT_MESSAGE;
        uint32_t blen = be32_load(in + pos);
        pos += 4;
        if (blen == 0 || blen > len - pos)
            return KERR_CORRUPT_MESSAGE;
        kerr_t err = snappy_raw_block(in + pos, blen, s);
        if (err != KERR_NONE)
            return err;
        pos += blen;
    }
    return KERR_NONE;
}

/* ---- lz4 ------------------------------------------------------------------ */

/* KafkaLZ4BlockOutputStream's choices: 64 KiB independent blocks, no block or
 * content checksum, no content size. */
static kerr_t lz4_compress(const uint8_t *in, size_t len, buf_t *out) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
    size_t bound = LZ4F_compressFrameBound(len, &prefs);
    buf_reserve(out, bound);
    size_t n = LZ4F_compressFrame(out->data + out->len, bound, in, len, &prefs);
    if (LZ4F_isError(n))
        return KERR_UNKNOWN_SERVER_ERROR;
    out->len += n;
    return KERR_NONE;
}

/* Any sequence of valid LZ4 frames (checksums, content size, skippable
 * frames are all the library's business). A call that neither consumes nor
 * produces anything means the input ended inside a frame. */
static kerr_t lz4_decompress(const uint8_t *in, size_t len, sink_t *s) {
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return KERR_UNKNOWN_SERVER_ERROR;
    kerr_t err = KERR_CORRUPT_MESSAGE;
    size_t pos = 0;
    for (;;) {
        size_t room;
        uint8_t *w = sink_window(s, &room);
        if (!room)
            break;
        size_t dst = room, src = len - pos;
        size_t hint = LZ4F_decompress(dctx, w, &dst, in + pos, &src, NULL);
        if (LZ4F_isError(hint))
            break;
        pos += src;
        s->out->len += dst;
        if (hint == 0 && pos == len) {
            err = KERR_NONE;
            break;
        }
        if (hint != 0 && src == 0 && dst == 0)
            break;
    }
    LZ4F_freeDecompressionContext(dctx);
    return err;
}

/* ---- zstd ----------------------------------------------------------------- */

static kerr_t zstd_compress(const uint8_t *in, size_t len, buf_t *out) {
    size_t bound = ZSTD_compressBound(len);
    buf_reserve(out, bound);
    size_t n = ZSTD_compress(out->data + out->len, bound, in, len, ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(n))
        return KERR_UNKNOWN_SERVER_ERROR;
    out->len += n;
    return KERR_NONE;
}

#define ZSTD_WINDOW_LOG_FLOOR 23 /* what levels 1-19 use when the size is unknown */
#define ZSTD_WINDOW_LOG_CEIL 27  /* zstd's (and zstd-jni's) default limit */

/* The streaming decoder allocates the frame's declared window before it has
 * produced a byte, so a 10-byte frame could make us allocate 128 MiB. A
 * window larger than the output limit is never needed, except that ordinary
 * producers declare up to 8 MiB whatever they compress; allow that much. */
static int zstd_window_log_max(size_t max_out) {
    int log = ZSTD_WINDOW_LOG_FLOOR;
    while (log < ZSTD_WINDOW_LOG_CEIL && ((size_t)1 << log) < max_out)
        log++;
    return log;
}

/* Streaming, so frames without a content size work; any number of frames. */
static kerr_t zstd_decompress(const uint8_t *in, size_t len, sink_t *s) {
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx)
        return KERR_UNKNOWN_SERVER_ERROR;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, zstd_window_log_max(s->max_out)))) {
        ZSTD_freeDCtx(dctx);
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    kerr_t err = KERR_CORRUPT_MESSAGE;
    ZSTD_inBuffer ib = {in, len, 0};
    for (;;) {
        size_t room;
        uint8_t *w = sink_window(s, &room);
        if (!room)
            break;
        ZSTD_outBuffer ob = {w, room, 0};
        size_t before = ib.pos;
        size_t rc = ZSTD_decompressStream(dctx, &ob, &ib);
        if (ZSTD_isError(rc))
            break;
        s->out->len += ob.pos;
        if (rc == 0 && ib.pos == ib.size) {
            err = KERR_NONE;
            break;
        }
        if (rc != 0 && ib.pos == before && ob.pos == 0)
            break; /* input ended inside a frame */
    }
    ZSTD_freeDCtx(dctx);
    return err;
}

/* ---- entry points --------------------------------------------------------- */

kerr_t compress_append(compression_t codec, const uint8_t *in, size_t len, buf_t *out) {
    switch (codec) {
    case COMPRESSION_NONE:
        buf_append(out, in, len);
        return KERR_NONE;
    case COMPRESSION_GZIP:
        return gzip_compress(in, len, out);
    case COMPRESSION_SNAPPY:
        return snappy_compress_xerial(in, len, out);
    case COMPRESSION_LZ4:
        return lz4_compress(in, len, out);
    case COMPRESSION_ZSTD:
        return zstd_compress(in, len, out);
    case COMPRESSION_PRODUCER:
        break;
    }
    return KERR_UNKNOWN_SERVER_ERROR;
}

kerr_t decompress_append(compression_t codec, const uint8_t *in, size_t len, size_t max_out, buf_t *out) {
    sink_t s;
    sink_init(&s, out, max_out);
    kerr_t err;
    switch (codec) {
    case COMPRESSION_NONE:
        if (len > max_out)
            return KERR_CORRUPT_MESSAGE;
        buf_append(out, in, len);
        return KERR_NONE;
    case COMPRESSION_GZIP:
        err = gzip_decompress(in, len, &s);
        break;
    case COMPRESSION_SNAPPY:
        err = snappy_decompress(in, len, &s);
        break;
    case COMPRESSION_LZ4:
        err = lz4_decompress(in, len, &s);
        break;
    case COMPRESSION_ZSTD:
        err = zstd_decompress(in, len, &s);
        break;
    default:
        err = KERR_CORRUPT_MESSAGE; /* codec bits 5-7 of an untrusted batch */
        break;
    }
    return sink_finish(&s, err);
}
