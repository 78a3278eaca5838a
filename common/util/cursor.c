#include "util/cursor.h"

#include "util/endian.h"
#include "util/varint.h"

void cursor_init(cursor_t *c, const void *data, size_t len) {
    c->data = data;
    c->len = len;
    c->pos = 0;
    c->err = false;
}

const uint8_t *cursor_bytes(cursor_t *c, size_t n) {
    if (c->err || c->len - c->pos < n) {
        c->err = true;
        return NULL;
    }
    const uint8_t *p = c->data + c->pos;
    c->pos += n;
    return p;
}

bool cursor_skip(cursor_t *c, size_t n) { return cursor_bytes(c, n) != NULL; }

int8_t cursor_i8(cursor_t *c) {
    const uint8_t *p = cursor_bytes(c, 1);
    return p ? (int8_t)*p : 0;
}

int16_t cursor_i16(cursor_t *c) {
    const uint8_t *p = cursor_bytes(c, 2);
    return p ? (int16_t)be16_load(p) : 0;
}

int32_t cursor_i32(cursor_t *c) {
    const uint8_t *p = cursor_bytes(c, 4);
    return p ? (int32_t)be32_load(p) : 0;
}

uint32_t cursor_u32(cursor_t *c) {
    const uint8_t *p = cursor_bytes(c, 4);
    return p ? be32_load(p) : 0;
}

int64_t cursor_i64(cursor_t *c) {
    const uint8_t *p = cursor_bytes(c, 8);
    return p ? (int64_t)be64_load(p) : 0;
}

uint64_t cursor_uvarint(cursor_t *c) {
    uint64_t v = 0;
    if (c->err)
        return 0;
    size_t n = varint_decode_u64(c->data + c->pos, c->len - c->pos, &v);
    if (!n) {
        c->err = true;
        return 0;
    }
    c->pos += n;
    return v;
}

uint32_t cursor_uvarint32(cursor_t *c) {
    uint32_t v = 0;
    if (c->err)
        return 0;
    size_t n = varint_decode_u32(c->data + c->pos, c->len - c->pos, &v);
    if (!n) {
        c->err = true;
        return 0;
    }
    c->pos += n;
    return v;
}

int32_t cursor_varint(cursor_t *c) { return zigzag_decode32(cursor_uvarint32(c)); }

int64_t cursor_varlong(cursor_t *c) { return zigzag_decode64(cursor_uvarint(c)); }
