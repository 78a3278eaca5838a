/*
 * fuzz — what the libFuzzer targets in tests/fuzz share: the entry point's
 * prototype (the build warns about functions without one) and the way a
 * target reports a broken invariant.
 *
 * A target reports by printing one line and calling abort(): libFuzzer treats
 * the SIGABRT like any sanitizer report, saves the input as a crash-*
 * artifact and stops, so an asymmetry between encoder and decoder is as loud
 * as an out-of-bounds read.
 */
#ifndef SAMSA_FUZZ_H
#define SAMSA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Called by libFuzzer once per input; data[0..size) is only valid during the
 * call and must not be written. Always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run with a message when cond is false (stays on in NDEBUG
 * builds, unlike assert). */
#define FUZZ_CHECK(cond, ...)                                                                                       \
    do {                                                                                                            \
        if (!(cond)) {                                                                                              \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond);                           \
            fprintf(stderr, __VA_ARGS__);                                                                           \
            fputc('\n', stderr);                                                                                    \
            abort();                                                                                                \
        }                                                                                                           \
    } while (0)

#endif
