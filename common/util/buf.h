/*
 * buf — a growable byte buffer that owns its memory.
 *
 * The buffer's owner calls buf_free(); buf_release() hands the bytes to the
 * caller (who then frees them with free()). Appends never fail (see mem.h).
 * Integers are appended big-endian, as Kafka writes them.
 */
#ifndef SAMSA_BUF_H
#define SAMSA_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT {NULL, 0, 0}

void buf_init(buf_t *b);
void buf_free(buf_t *b);
void buf_reset(buf_t *b);            /* len = 0, memory kept */
void buf_reserve(buf_t *b, size_t extra);
uint8_t *buf_release(buf_t *b, size_t *len); /* caller owns the result */

/* Makes room for n bytes at the end and returns where they go; len grows by n. */
uint8_t *buf_extend(buf_t *b, size_t n);

void buf_append(buf_t *b, const void *data, size_t n);
void buf_append_str(buf_t *b, const char *s);
void buf_appendf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void buf_put_i8(buf_t *b, int8_t v);
void buf_put_i16(buf_t *b, int16_t v);
void buf_put_i32(buf_t *b, int32_t v);
void buf_put_i64(buf_t *b, int64_t v);
void buf_put_u32(buf_t *b, uint32_t v);
void buf_put_uvarint(buf_t *b, uint64_t v);
void buf_put_varint(buf_t *b, int32_t v);   /* zigzag */
void buf_put_varlong(buf_t *b, int64_t v);  /* zigzag */

/* Overwrites 4 bytes at off (which must lie within len), for lengths and CRCs
 * known only after the body is written. */
void buf_patch_i32(buf_t *b, size_t off, int32_t v);

#endif
