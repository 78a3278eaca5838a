/*
 * errmsg — the "char *err, size_t errlen" convention: functions that can fail
 * for a reason a person must read write one line into a caller's buffer.
 * err may be NULL (the caller does not want the text).
 */
#ifndef SAMSA_ERRMSG_H
#define SAMSA_ERRMSG_H

#include <stddef.h>

void errmsg_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
