/*
 * cursor — bounds-checked reading of untrusted big-endian input.
 *
 * Every read checks the remaining length. A read past the end (or a malformed
 * varint) sets the sticky `err` flag and yields zero, so a decoder can read a
 * whole structure and check cursor_ok() once at the end instead of after each
 * field. The cursor never owns the bytes it reads.
 */
#ifndef SAMSA_CURSOR_H
#define SAMSA_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cursor {
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool err;
} cursor_t;

void cursor_init(cursor_t *c, const void *data, size_t len);

static inline bool cursor_ok(const cursor_t *c) { return !c->err; }
static inline size_t cursor_remaining(const cursor_t *c) { return c->err ? 0 : c->len - c->pos; }

int8_t cursor_i8(cursor_t *c);
int16_t cursor_i16(cursor_t *c);
int32_t cursor_i32(cursor_t *c);
int64_t cursor_i64(cursor_t *c);
uint32_t cursor_u32(cursor_t *c);
uint64_t cursor_uvarint(cursor_t *c);  /* up to 64 bits */
uint32_t cursor_uvarint32(cursor_t *c);
int32_t cursor_varint(cursor_t *c);    /* zigzag, 32 bits */
int64_t cursor_varlong(cursor_t *c);   /* zigzag, 64 bits */

/* Returns a pointer to the next n bytes and skips them, or NULL (and sets err)
 * when fewer than n remain. */
const uint8_t *cursor_bytes(cursor_t *c, size_t n);
bool cursor_skip(cursor_t *c, size_t n);

#endif
