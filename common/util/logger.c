#include "util/logger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The sink: see the header for why it is process-wide. */
static _Atomic int logger_level = LOGGER_INFO;
static _Atomic int logger_fd = -1; /* -1: stderr */

static const char *const logger_level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};

void logger_set_level(logger_level_t level) { atomic_store(&logger_level, (int)level); }

logger_level_t logger_get_level(void) { return (logger_level_t)atomic_load(&logger_level); }

int logger_level_parse(const char *name, logger_level_t *out) {
    for (int i = LOGGER_TRACE; i <= LOGGER_OFF; i++) {
        if (strcasecmp(name, logger_level_names[i]) == 0) {
            *out = (logger_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = LOGGER_WARN;
        return 0;
    }
    return -1;
}

int logger_open_file(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int old = atomic_exchange(&logger_fd, fd);
    if (old >= 0)
        close(old);
    return 0;
}

void logger_close_file(void) {
    int old = atomic_exchange(&logger_fd, -1);
    if (old >= 0)
        close(old);
}

/* One line is formatted into a stack buffer and written with a single write()
 * so that lines from different threads never interleave. Overlong messages
 * are cut and end with "...". */
void logger_log(logger_level_t level, const char *component, const char *fmt, ...) {
    if (level < LOGGER_TRACE || level >= LOGGER_OFF)
        return;
    int saved_errno = errno;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    int w = snprintf(line + n, sizeof line - n, ".%03d %-5s [%s] ", (int)(tv.tv_usec / 1000),
                     logger_level_names[level], component ? component : "-");
    if (w > 0)
        n += (size_t)w;

    va_list ap;
    va_start(ap, fmt);
    w = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (w < 0)
        w = 0;
    if ((size_t)w >= sizeof line - n - 1) {
        n = sizeof line - 5;
        memcpy(line + n, "...", 3);
        n += 3;
    } else {
        n += (size_t)w;
    }
    line[n++] = '\n';

    int fd = atomic_load(&logger_fd);
    ssize_t r = write(fd >= 0 ? fd : STDERR_FILENO, line, n);
    (void)r;
    errno = saved_errno;
}
