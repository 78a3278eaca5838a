#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CRC32C_POLY_REFLECTED 0x82f63b78u

/* Tables are a pure function of the polynomial, filled once. */
static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_table_once = PTHREAD_ONCE_INIT;

static void crc32c_table_fill(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        crc32c_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = crc32c_table[0][n];
        for (int k = 1; k < 8; k++) {
            c = crc32c_table[0][c & 0xff] ^ (c >> 8);
            crc32c_table[k][n] = c;
        }
    }
}

uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len) {
    pthread_once(&crc32c_table_once, crc32c_table_fill);
    const uint8_t *p = data;
    crc = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc; /* little-endian: the low 4 bytes meet the CRC */
        crc = crc32c_table[7][w & 0xff] ^ crc32c_table[6][(w >> 8) & 0xff] ^
              crc32c_table[5][(w >> 16) & 0xff] ^ crc32c_table[4][(w >> 24) & 0xff] ^
              crc32c_table[3][(w >> 32) & 0xff] ^ crc32c_table[2][(w >> 40) & 0xff] ^
              crc32c_table[1][(w >> 48) & 0xff] ^ crc32c_table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
/*
 * The crc32 instruction has a latency of three cycles but a throughput of
 * one, so a single chain of them runs at a third of what the CPU can do. As
 * in Mark Adler's crc32c, long inputs are cut into three interleaved streams
 * whose CRCs are computed side by side and then combined: shifting a CRC
 * over n zero bytes is a linear operator, applied from precomputed tables
 * (crc32c_shift). Everything below 3 x SHORT bytes takes the single chain.
 */
#define CRC32C_LONG 8192
#define CRC32C_SHORT 256

static uint32_t crc32c_long_tables[4][256];
static uint32_t crc32c_short_tables[4][256];
static pthread_once_t crc32c_shift_once = PTHREAD_ONCE_INIT;

static uint32_t gf2_matrix_times(const uint32_t *mat, uint32_t vec) {
    uint32_t sum = 0;
    while (vec) {
        if (vec & 1)
            sum ^= *mat;
        vec >>= 1;
        mat++;
    }
    return sum;
}

static void gf2_matrix_square(uint32_t *square, const uint32_t *mat) {
    for (int n = 0; n < 32; n++)
        square[n] = gf2_matrix_times(mat, mat[n]);
}

/* The operator that appends len zero bytes (len a power of two) to a CRC
 * register, as a 32x32 bit matrix. */
static void crc32c_zeros_op(uint32_t *even, size_t len) {
    uint32_t odd[32];
    odd[0] = CRC32C_POLY_REFLECTED; /* one zero bit */
    uint32_t row = 1;
    for (int n = 1; n < 32; n++) {
        odd[n] = row;
        row <<= 1;
    }
    gf2_matrix_square(even, odd); /* two zero bits */
    gf2_matrix_square(odd, even); /* four */
    do {
        gf2_matrix_square(even, odd); /* 1, 4, 16, ... bytes */
        len >>= 1;
        if (len == 0)
            return;
        gf2_matrix_square(odd, even); /* 2, 8, 32, ... bytes */
        len >>= 1;
    } while (len);
    memcpy(even, odd, sizeof odd);
}

/* The operator as four byte-indexed tables, so applying it costs four loads. */
static void crc32c_zeros(uint32_t zeros[4][256], size_t len) {
    uint32_t op[32];
    crc32c_zeros_op(op, len);
    for (uint32_t n = 0; n < 256; n++) {
        zeros[0][n] = gf2_matrix_times(op, n);
        zeros[1][n] = gf2_matrix_times(op, n << 8);
        zeros[2][n] = gf2_matrix_times(op, n << 16);
        zeros[3][n] = gf2_matrix_times(op, n << 24);
    }
}

static void crc32c_shift_fill(void) {
    crc32c_zeros(crc32c_long_tables, CRC32C_LONG);
    crc32c_zeros(crc32c_short_tables, CRC32C_SHORT);
}

static inline uint32_t crc32c_shift(uint32_t zeros[4][256], uint32_t crc) {
    return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

/* Three streams of block bytes each, side by side, folded into crc0. */
__attribute__((target("sse4.2"))) static uint64_t crc32c_hw_triple(uint64_t crc0, const uint8_t **next,
                                                                   size_t *len, size_t block,
                                                                   uint32_t zeros[4][256]) {
    while (*len >= 3 * block) {
        uint64_t crc1 = 0, crc2 = 0;
        const uint8_t *p = *next, *end = p + block;
        do {
            uint64_t w0, w1, w2;
            memcpy(&w0, p, 8);
            memcpy(&w1, p + block, 8);
            memcpy(&w2, p + 2 * block, 8);
            crc0 = _mm_crc32_u64(crc0, w0);
            crc1 = _mm_crc32_u64(crc1, w1);
            crc2 = _mm_crc32_u64(crc2, w2);
            p += 8;
        } while (p < end);
        crc0 = crc32c_shift(zeros, (uint32_t)crc0) ^ crc1;
        crc0 = crc32c_shift(zeros, (uint32_t)crc0) ^ crc2;
        *next += 3 * block;
        *len -= 3 * block;
    }
    return crc0;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    if (len >= 3 * CRC32C_SHORT) {
        pthread_once(&crc32c_shift_once, crc32c_shift_fill);
        c = crc32c_hw_triple(c, &p, &len, CRC32C_LONG, crc32c_long_tables);
        c = crc32c_hw_triple(c, &p, &len, CRC32C_SHORT, crc32c_short_tables);
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

bool crc32c_hw_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len) { return crc32c_sw(crc, data, len); }
bool crc32c_hw_available(void) { return false; }
#endif

/* The CPU check is cheap but not free; its answer never changes. */
static _Atomic int crc32c_use_hw = -1;

uint32_t crc32c(uint32_t crc, const void *data, size_t len) {
    int hw = crc32c_use_hw;
    if (hw < 0) {
        hw = crc32c_hw_available() ? 1 : 0;
        crc32c_use_hw = hw;
    }
    return hw ? crc32c_hw(crc, data, len) : crc32c_sw(crc, data, len);
}
