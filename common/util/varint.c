#include "util/varint.h"

size_t varint_encode_u64(uint8_t *out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t varint_encode_i32(uint8_t *out, int32_t v) { return varint_encode_u64(out, zigzag_encode32(v)); }

size_t varint_encode_i64(uint8_t *out, int64_t v) { return varint_encode_u64(out, zigzag_encode64(v)); }

size_t varint_size_u64(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t varint_size_i32(int32_t v) { return varint_size_u64(zigzag_encode32(v)); }

size_t varint_size_i64(int64_t v) { return varint_size_u64(zigzag_encode64(v)); }

/* Shared loop: max_len bounds the encoding, bits the value width. The last
 * allowed byte may only carry the bits that still fit. */
static size_t varint_decode(const uint8_t *in, size_t len, uint64_t *out, size_t max_len, unsigned bits) {
    uint64_t v = 0;
    for (size_t i = 0; i < len && i < max_len; i++) {
        uint64_t b = in[i];
        unsigned shift = (unsigned)(7 * i);
        if (i == max_len - 1) {
            unsigned room = bits - shift;
            if ((b & 0x80) || (b >> room))
                return 0;
        }
        v |= (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

size_t varint_decode_u32(const uint8_t *in, size_t len, uint32_t *out) {
    uint64_t v;
    size_t n = varint_decode(in, len, &v, VARINT_MAX_LEN32, 32);
    if (n)
        *out = (uint32_t)v;
    return n;
}

size_t varint_decode_u64(const uint8_t *in, size_t len, uint64_t *out) {
    return varint_decode(in, len, out, VARINT_MAX_LEN64, 64);
}

size_t varint_decode_i32(const uint8_t *in, size_t len, int32_t *out) {
    uint32_t v;
    size_t n = varint_decode_u32(in, len, &v);
    if (n)
        *out = zigzag_decode32(v);
    return n;
}

size_t varint_decode_i64(const uint8_t *in, size_t len, int64_t *out) {
    uint64_t v;
    size_t n = varint_decode_u64(in, len, &v);
    if (n)
        *out = zigzag_decode64(v);
    return n;
}
