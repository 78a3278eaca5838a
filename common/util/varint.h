/*
 * varint — Kafka's variable-length integers (protobuf style: 7 bits a byte,
 * least significant group first) and zigzag for signed values.
 *
 * Record fields use signed varint (int32, at most 5 bytes) and varlong
 * (int64, at most 10 bytes); flexible versions use unsigned varints.
 */
#ifndef SAMSA_VARINT_H
#define SAMSA_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define VARINT_MAX_LEN32 5
#define VARINT_MAX_LEN64 10

static inline uint32_t zigzag_encode32(int32_t v) { return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31); }
static inline int32_t zigzag_decode32(uint32_t v) { return (int32_t)(v >> 1) ^ -(int32_t)(v & 1); }
static inline uint64_t zigzag_encode64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t zigzag_decode64(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Encoders write into out (which must hold the maximum length) and return the
 * number of bytes written. */
size_t varint_encode_u64(uint8_t *out, uint64_t v);
size_t varint_encode_i32(uint8_t *out, int32_t v); /* zigzag */
size_t varint_encode_i64(uint8_t *out, int64_t v); /* zigzag */

/* Number of bytes the zigzag encoding of v takes. */
size_t varint_size_i32(int32_t v);
size_t varint_size_i64(int64_t v);
size_t varint_size_u64(uint64_t v);

/* Decoders read at most len bytes from in and return the number consumed, or
 * 0 when the input ends early or the value is longer than its type allows
 * (5 bytes for 32-bit, 10 for 64-bit) — both are malformed input. */
size_t varint_decode_u32(const uint8_t *in, size_t len, uint32_t *out);
size_t varint_decode_u64(const uint8_t *in, size_t len, uint64_t *out);
size_t varint_decode_i32(const uint8_t *in, size_t len, int32_t *out);
size_t varint_decode_i64(const uint8_t *in, size_t len, int64_t *out);

#endif
