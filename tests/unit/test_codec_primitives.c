/* varint/zigzag, the bounds-checked cursor and the growable buffer: the
 * primitives every Kafka encoder and decoder stands on. */
#include "unit.h"

#include "util/buf.h"
#include "util/cursor.h"
#include "util/endian.h"
#include "util/varint.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static void test_zigzag(void) {
    CU_ASSERT_EQUAL(zigzag_encode32(0), 0u);
    CU_ASSERT_EQUAL(zigzag_encode32(-1), 1u);
    CU_ASSERT_EQUAL(zigzag_encode32(1), 2u);
    CU_ASSERT_EQUAL(zigzag_encode32(-2), 3u);
    CU_ASSERT_EQUAL(zigzag_encode32(INT32_MAX), 0xfffffffeu);
    CU_ASSERT_EQUAL(zigzag_encode32(INT32_MIN), 0xffffffffu);
    CU_ASSERT_EQUAL(zigzag_decode32(0xffffffffu), INT32_MIN);
    CU_ASSERT_EQUAL(zigzag_encode64(INT64_MIN), UINT64_MAX);
    CU_ASSERT_EQUAL(zigzag_decode64(UINT64_MAX), INT64_MIN);
    CU_ASSERT_EQUAL(zigzag_decode64(zigzag_encode64(-123456789012345LL)), -123456789012345LL);
}

/* Byte-exact encodings as Kafka's ByteUtils produces them. */
static void test_varint_bytes(void) {
    uint8_t out[10];
    CU_ASSERT_EQUAL(varint_encode_i32(out, 0), 1);
    CU_ASSERT_EQUAL(out[0], 0x00);
    CU_ASSERT_EQUAL(varint_encode_i32(out, -1), 1);
    CU_ASSERT_EQUAL(out[0], 0x01);
    CU_ASSERT_EQUAL(varint_encode_i32(out, 64), 2); /* zigzag 128 */
    CU_ASSERT_EQUAL(out[0], 0x80);
    CU_ASSERT_EQUAL(out[1], 0x01);
    CU_ASSERT_EQUAL(varint_encode_i32(out, 300), 2); /* zigzag 600 = 0x258 */
    CU_ASSERT_EQUAL(out[0], 0xd8);
    CU_ASSERT_EQUAL(out[1], 0x04);
    CU_ASSERT_EQUAL(varint_encode_i32(out, INT32_MIN), 5);
    CU_ASSERT_EQUAL(varint_encode_i64(out, INT64_MIN), 10);
    CU_ASSERT_EQUAL(varint_size_i32(-65), 2);
    CU_ASSERT_EQUAL(varint_size_i32(-64), 1);
    CU_ASSERT_EQUAL(varint_size_i64(INT64_MAX), 10);
}

static void test_varint_roundtrip(void) {
    static const int64_t values[] = {0, 1, -1, 63, -64, 64, -65, 8191, -8192, 1 << 20, INT32_MAX, INT32_MIN,
                                     (int64_t)INT32_MAX + 1, INT64_MAX, INT64_MIN, -1234567890123LL};
    uint8_t out[10];
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        int64_t v = values[i], back = 0;
        size_t n = varint_encode_i64(out, v);
        CU_ASSERT_EQUAL(n, varint_size_i64(v));
        CU_ASSERT_EQUAL(varint_decode_i64(out, n, &back), n);
        CU_ASSERT_EQUAL(back, v);
        CU_ASSERT_EQUAL(varint_decode_i64(out, n - 1, &back), 0); /* truncated */
        if (v >= INT32_MIN && v <= INT32_MAX) {
            int32_t b32 = 0;
            n = varint_encode_i32(out, (int32_t)v);
            CU_ASSERT_EQUAL(varint_decode_i32(out, n, &b32), n);
            CU_ASSERT_EQUAL(b32, (int32_t)v);
        }
    }
}

/* Overlong encodings are malformed: Kafka rejects a sixth byte for an int32
 * varint and an eleventh for a varlong. */
static void test_varint_malformed(void) {
    static const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    static const uint8_t too_big32[] = {0xff, 0xff, 0xff, 0xff, 0x1f}; /* 35 bits */
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    static const uint8_t max32[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    uint32_t v32;
    uint64_t v64;
    CU_ASSERT_EQUAL(varint_decode_u32(six, sizeof six, &v32), 0);
    CU_ASSERT_EQUAL(varint_decode_u32(too_big32, sizeof too_big32, &v32), 0);
    CU_ASSERT_EQUAL(varint_decode_u32(max32, sizeof max32, &v32), 5);
    CU_ASSERT_EQUAL(v32, UINT32_MAX);
    CU_ASSERT_EQUAL(varint_decode_u64(eleven, sizeof eleven, &v64), 0);
    CU_ASSERT_EQUAL(varint_decode_u64(six, sizeof six, &v64), 6);
    CU_ASSERT_EQUAL(v64, 1ull << 35);
    CU_ASSERT_EQUAL(varint_decode_u64(six, 0, &v64), 0);
}

static void test_buf_and_cursor_roundtrip(void) {
    buf_t b = BUF_INIT;
    buf_put_i8(&b, -5);
    buf_put_i16(&b, -300);
    buf_put_i32(&b, 0x01020304);
    buf_put_i64(&b, -2);
    buf_put_varint(&b, -77);
    buf_put_varlong(&b, 1LL << 40);
    buf_put_uvarint(&b, 300);
    buf_append_str(&b, "abc");
    buf_appendf(&b, "%d-%s", 42, "x");
    CU_ASSERT_EQUAL(b.len, 1 + 2 + 4 + 8 + 2 + 6 + 2 + 3 + 4);
    CU_ASSERT_EQUAL(b.data[3], 0x01); /* big-endian */
    CU_ASSERT_EQUAL(b.data[6], 0x04);

    cursor_t c;
    cursor_init(&c, b.data, b.len);
    CU_ASSERT_EQUAL(cursor_i8(&c), -5);
    CU_ASSERT_EQUAL(cursor_i16(&c), -300);
    CU_ASSERT_EQUAL(cursor_i32(&c), 0x01020304);
    CU_ASSERT_EQUAL(cursor_i64(&c), -2);
    CU_ASSERT_EQUAL(cursor_varint(&c), -77);
    CU_ASSERT_EQUAL(cursor_varlong(&c), 1LL << 40);
    CU_ASSERT_EQUAL(cursor_uvarint(&c), 300u);
    const uint8_t *p = cursor_bytes(&c, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(memcmp(p, "abc", 3), 0);
    CU_ASSERT_EQUAL(cursor_remaining(&c), 4);
    CU_ASSERT(cursor_ok(&c));
    buf_free(&b);
}

/* Reading past the end sets the sticky error, yields zeros and never reads
 * outside the input. */
static void test_cursor_bounds(void) {
    static const uint8_t in[] = {0x00, 0x01, 0x02};
    cursor_t c;
    cursor_init(&c, in, sizeof in);
    CU_ASSERT_EQUAL(cursor_i16(&c), 1);
    CU_ASSERT_EQUAL(cursor_i32(&c), 0);
    CU_ASSERT(!cursor_ok(&c));
    CU_ASSERT_EQUAL(cursor_i8(&c), 0); /* sticky: even though one byte is left */
    CU_ASSERT_EQUAL(cursor_remaining(&c), 0);
    CU_ASSERT_PTR_NULL(cursor_bytes(&c, 0));

    cursor_init(&c, in, sizeof in);
    CU_ASSERT_PTR_NULL(cursor_bytes(&c, SIZE_MAX)); /* no overflow in the check */
    CU_ASSERT(!cursor_ok(&c));

    static const uint8_t bad_varint[] = {0x80, 0x80};
    cursor_init(&c, bad_varint, sizeof bad_varint);
    CU_ASSERT_EQUAL(cursor_varint(&c), 0);
    CU_ASSERT(!cursor_ok(&c));
}

static void test_buf_growth_patch_release(void) {
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < 10000; i++)
        buf_put_i32(&b, i);
    CU_ASSERT_EQUAL(b.len, 40000);
    CU_ASSERT(b.cap >= b.len);
    CU_ASSERT_EQUAL(be32_load(b.data + 4 * 9999), 9999u);
    buf_patch_i32(&b, 0, -1);
    CU_ASSERT_EQUAL(be32_load(b.data), 0xffffffffu);
    size_t len = 0;
    uint8_t *owned = buf_release(&b, &len);
    CU_ASSERT_EQUAL(len, 40000);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    free(owned);
    buf_reset(&b);
    buf_free(&b);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"zigzag", test_zigzag},
        {"varint byte encodings", test_varint_bytes},
        {"varint round trips", test_varint_roundtrip},
        {"varint overlong or truncated input", test_varint_malformed},
        {"buf and cursor round trip", test_buf_and_cursor_roundtrip},
        {"cursor bounds", test_cursor_bounds},
        {"buf growth, patch, release", test_buf_growth_patch_release},
        {NULL, NULL},
    };
    unit_add_suite("codec-primitives", tests);
}
