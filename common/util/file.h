/*
 * file — whole small files: read one into memory, replace one atomically.
 *
 * The broker's small files (checkpoints, meta.properties, the .properties
 * config) are read whole and parsed from memory, and written by replacing
 * them whole. Both directions have failure cases worth a clear message
 * naming the path, so they live here once instead of in every format.
 *
 * Errors follow errmsg.h: one line into the caller's err buffer.
 */
#ifndef SAMSA_FILE_H
#define SAMSA_FILE_H

#include "util/buf.h"

#include <stddef.h>

/* Appends the whole of path to out (the caller owns out and frees it with
 * buf_free, whatever the result). A file longer than max_len bytes is
 * refused as not being what the caller expects: the message says
 * "<path>: larger than <max_len> bytes, not a <what>".
 * Returns 1 when read; 0 when path does not exist (err untouched: for
 * checkpoints that is no entries, for a config file the caller's error);
 * -1 on any other failure, err naming the path and the failing step
 * ("cannot open <path>: <strerror>", "cannot read ...", "cannot stat ..."). */
int file_read_all(const char *path, size_t max_len, const char *what, buf_t *out, char *err, size_t errlen);

/* Replaces path with exactly data[0..len): writes <path>.tmp (truncating a
 * stale one), fsyncs it, renames it over path and fsyncs the directory, so
 * that after a crash path holds either the old or the new contents. On an
 * error before the rename the .tmp is removed and path is untouched.
 * Returns 0 or -1. */
int file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
