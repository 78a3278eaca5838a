/*
 * clock — monotonic time for timeouts and measurements, wall time for what is
 * stored or shown (record timestamps, log lines). Never mix the two.
 */
#ifndef SAMSA_CLOCK_H
#define SAMSA_CLOCK_H

#include <stdint.h>

int64_t clock_mono_ms(void);
int64_t clock_mono_us(void);
int64_t clock_mono_ns(void);
int64_t clock_wall_ms(void);
int64_t clock_wall_us(void);

#endif
