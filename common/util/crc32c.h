/*
 * crc32c — CRC-32C (Castagnoli), the checksum of Kafka's record batch v2.
 *
 * crc32c() picks the fastest hardware path the CPU has (AVX-512 folding, or
 * the SSE4.2 instruction) and a portable slicing-by-8 table otherwise; both paths are exported so tests can check
 * each against published vectors. Chaining: crc32c(crc32c(0, a), b) equals
 * the CRC of a followed by b.
 */
#ifndef SAMSA_CRC32C_H
#define SAMSA_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *data, size_t len);
uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len);
uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len); /* only if crc32c_hw_available() */
bool crc32c_hw_available(void);

/* The two hardware paths behind crc32c_hw, for tests and benchmarks: the
 * crc32 instruction in three interleaved streams (SSE4.2), and carry-less
 * multiplication folding (AVX-512 + VPCLMULQDQ, used when the CPU has it and
 * it passed its self-test; otherwise crc32c_avx512 falls back to SSE4.2). */
uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t len);
uint32_t crc32c_avx512(uint32_t crc, const void *data, size_t len);
bool crc32c_avx512_available(void);

#endif
