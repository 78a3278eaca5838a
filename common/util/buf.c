#include "util/buf.h"

#include "util/endian.h"
#include "util/mem.h"
#include "util/varint.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf_t *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_free(buf_t *b) {
    free(b->data);
    buf_init(b);
}

void buf_reset(buf_t *b) { b->len = 0; }

/* Doubling keeps appends amortised O(1). */
void buf_reserve(buf_t *b, size_t extra) {
    if (b->cap - b->len >= extra)
        return;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = mem_realloc(b->data, cap);
    b->cap = cap;
}

uint8_t *buf_release(buf_t *b, size_t *len) {
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    buf_init(b);
    return p;
}

uint8_t *buf_extend(buf_t *b, size_t n) {
    buf_reserve(b, n);
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

void buf_append(buf_t *b, const void *data, size_t n) {
    if (n == 0)
        return;
    memcpy(buf_extend(b, n), data, n);
}

void buf_append_str(buf_t *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_appendf(buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_put_i8(buf_t *b, int8_t v) { *buf_extend(b, 1) = (uint8_t)v; }
void buf_put_i16(buf_t *b, int16_t v) { be16_store(buf_extend(b, 2), (uint16_t)v); }
void buf_put_i32(buf_t *b, int32_t v) { be32_store(buf_extend(b, 4), (uint32_t)v); }
void buf_put_i64(buf_t *b, int64_t v) { be64_store(buf_extend(b, 8), (uint64_t)v); }
void buf_put_u32(buf_t *b, uint32_t v) { be32_store(buf_extend(b, 4), v); }

void buf_put_uvarint(buf_t *b, uint64_t v) {
    buf_reserve(b, VARINT_MAX_LEN64);
    b->len += varint_encode_u64(b->data + b->len, v);
}

void buf_put_varint(buf_t *b, int32_t v) { buf_put_uvarint(b, zigzag_encode32(v)); }
void buf_put_varlong(buf_t *b, int64_t v) { buf_put_uvarint(b, zigzag_encode64(v)); }

void buf_patch_i32(buf_t *b, size_t off, int32_t v) {
    assert(off + 4 <= b->len);
    be32_store(b->data + off, (uint32_t)v);
}
