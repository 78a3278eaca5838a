/*
 * logger — levelled log lines with millisecond timestamps and a component tag.
 *
 * A process has one log sink (stderr until logger_open_file() names a file).
 * The sink is process-wide on purpose: every module logs, and threading a
 * handle through each call would add noise without adding clarity. It is set
 * up once in main() and is safe to use from several threads (each line is one
 * write()).
 *
 *   2026-11-25 12:00:00.123 INFO  [config] loaded 42 keys from server.properties
 */
#ifndef SAMSA_LOGGER_H
#define SAMSA_LOGGER_H

typedef enum {
    LOGGER_TRACE = 0,
    LOGGER_DEBUG,
    LOGGER_INFO,
    LOGGER_WARN,
    LOGGER_ERROR,
    LOGGER_OFF
} logger_level_t;

void logger_set_level(logger_level_t level);
logger_level_t logger_get_level(void);

/* Parses "trace", "debug", "info", "warn", "error", "off" (any case).
 * Returns 0 and sets *out, or -1 for an unknown name. */
int logger_level_parse(const char *name, logger_level_t *out);

/* Appends to path (created if absent). Returns 0, or -1 with errno set.
 * Closes a previously opened file. */
int logger_open_file(const char *path);

/* Back to stderr (closing a file opened by logger_open_file). */
void logger_close_file(void);

void logger_log(logger_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define logger_at(level, comp, ...)                                            \
    do {                                                                       \
        if ((level) >= logger_get_level())                                     \
            logger_log((level), (comp), __VA_ARGS__);                          \
    } while (0)

#define log_trace(comp, ...) logger_at(LOGGER_TRACE, comp, __VA_ARGS__)
#define log_debug(comp, ...) logger_at(LOGGER_DEBUG, comp, __VA_ARGS__)
#define log_info(comp, ...)  logger_at(LOGGER_INFO, comp, __VA_ARGS__)
#define log_warn(comp, ...)  logger_at(LOGGER_WARN, comp, __VA_ARGS__)
#define log_error(comp, ...) logger_at(LOGGER_ERROR, comp, __VA_ARGS__)

#endif
