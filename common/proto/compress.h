/*
 * compress — Kafka's codecs for the records section of a batch: gzip,
 * snappy, lz4 and zstd, framed exactly as Kafka frames them
 * (../shared/reference/protocol.md §12).
 */
#ifndef SAMSA_COMPRESS_H
#define SAMSA_COMPRESS_H

#include "util/buf.h"
#include "proto/kerr.h"

#include <stddef.h>
#include <stdint.h>

typedef enum compression {
    COMPRESSION_NONE = 0,
    COMPRESSION_GZIP = 1,
    COMPRESSION_SNAPPY = 2,
    COMPRESSION_LZ4 = 3,
    COMPRESSION_ZSTD = 4,
    COMPRESSION_PRODUCER = 100, /* topic setting only: keep what the producer sent */
} compression_t;

/* "none", "gzip", "snappy", "lz4", "zstd", "producer". */
const char *compression_name(compression_t c);
/* Parses compression.type values ("uncompressed" means none). 0 or -1. */
int compression_parse(const char *name, compression_t *out);

/* Appends the compressed form of in to out. snappy is written with the
 * xerial (snappy-java) framing, lz4 as an LZ4 frame, gzip as a gzip stream,
 * zstd as a zstd frame. Returns KERR_NONE, or KERR_UNKNOWN_SERVER_ERROR if the
 * codec library fails. */
kerr_t compress_append(compression_t codec, const uint8_t *in, size_t len, buf_t *out);

/* Appends the decompressed form of in to out; accepts both xerial-framed and
 * raw snappy, any number of gzip members / lz4 / zstd frames. Fails with
 * KERR_CORRUPT_MESSAGE on malformed input or when the output would exceed
 * max_out bytes (a decompression bomb is malformed input). */
kerr_t decompress_append(compression_t codec, const uint8_t *in, size_t len, size_t max_out, buf_t *out);

#endif
