/* CRC-32C against published vectors (RFC 3720 B.4 and the "123456789" check
 * value), on both the SSE4.2 and the table path, plus chaining and alignment. */
#include "unit.h"

#include "util/crc32c.h"

#include <stdlib.h>
#include <string.h>

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn fn) {
    uint8_t buf[48];
    CU_ASSERT_EQUAL(fn(0, "123456789", 9), 0xE3069283u);
    CU_ASSERT_EQUAL(fn(0, "", 0), 0u);

    memset(buf, 0, 32);
    CU_ASSERT_EQUAL(fn(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    CU_ASSERT_EQUAL(fn(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    CU_ASSERT_EQUAL(fn(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    CU_ASSERT_EQUAL(fn(0, buf, 32), 0x113FDB5Cu);

    /* RFC 3720 B.4: an iSCSI read command PDU. */
    static const uint8_t pdu[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
        0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    CU_ASSERT_EQUAL(fn(0, pdu, sizeof pdu), 0xD9963A56u);
}

static void test_sw_vectors(void) { check_vectors(crc32c_sw); }

static void test_hw_vectors(void) {
    if (!crc32c_hw_available()) {
        /* Not a pass in disguise: say so, and still prove the dispatcher works. */
        fprintf(stderr, "\n  (no SSE4.2 on this CPU: hardware path not exercised)\n");
        check_vectors(crc32c);
        return;
    }
    check_vectors(crc32c_hw);
    check_vectors(crc32c_sse42);
    check_vectors(crc32c);
}

static void test_avx512_vectors(void) {
    if (!crc32c_avx512_available()) {
        fprintf(stderr, "\n  (no AVX-512 VPCLMULQDQ on this CPU: folding path not exercised)\n");
        return;
    }
    check_vectors(crc32c_avx512);
}

/* Both paths agree on every length and misalignment, and chaining over a split
 * equals one pass. */
static void test_paths_agree_and_chain(void) {
    uint8_t *data = malloc(40000 + 8);
    uint32_t seed = 12345;
    for (int i = 0; i < 40000 + 8; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (uint8_t)(seed >> 16);
    }
    /* Lengths around the three-stream block sizes (3 x 256, 3 x 8192) too. */
    static const size_t lens[] = {0, 1, 7, 8, 9, 255, 256, 257, 511, 512, 767, 768, 769, 1000, 2047, 16205,
                                  24575, 24576, 24577, 40000};
    for (size_t off = 0; off < 8; off++) {
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t len = lens[li];
            uint32_t sw = crc32c_sw(0, data + off, len);
            CU_ASSERT_EQUAL(crc32c(0, data + off, len), sw);
            if (crc32c_hw_available()) {
                CU_ASSERT_EQUAL(crc32c_hw(0, data + off, len), sw);
                CU_ASSERT_EQUAL(crc32c_sse42(0, data + off, len), sw);
                CU_ASSERT_EQUAL(crc32c_avx512(0x12345678u, data + off, len), crc32c_sw(0x12345678u, data + off, len));
            }
            size_t half = len / 3;
            CU_ASSERT_EQUAL(crc32c_sw(crc32c_sw(0, data + off, half), data + off + half, len - half), sw);
            CU_ASSERT_EQUAL(crc32c(crc32c(0, data + off, half), data + off + half, len - half), sw);
        }
    }
    free(data);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"table path matches published vectors", test_sw_vectors},
        {"SSE4.2 path matches published vectors", test_hw_vectors},
        {"AVX-512 folding path matches published vectors", test_avx512_vectors},
        {"paths agree at every alignment; chaining", test_paths_agree_and_chain},
        {NULL, NULL},
    };
    unit_add_suite("crc32c", tests);
}
