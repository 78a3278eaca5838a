/* The logger: level filtering, line format and the file sink. */
#include "unit.h"

#include "util/logger.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void test_level_parse(void) {
    logger_level_t l;
    CU_ASSERT_EQUAL(logger_level_parse("debug", &l), 0);
    CU_ASSERT_EQUAL(l, LOGGER_DEBUG);
    CU_ASSERT_EQUAL(logger_level_parse("WARN", &l), 0);
    CU_ASSERT_EQUAL(l, LOGGER_WARN);
    CU_ASSERT_EQUAL(logger_level_parse("warning", &l), 0);
    CU_ASSERT_EQUAL(l, LOGGER_WARN);
    CU_ASSERT_EQUAL(logger_level_parse("loud", &l), -1);
}

static void test_file_sink_format_and_filter(void) {
    char *dir = unit_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/samsa.log", dir);
    CU_ASSERT_EQUAL_FATAL(logger_open_file(path), 0);
    logger_set_level(LOGGER_INFO);
    log_debug("test", "hidden %d", 1);
    log_info("net", "listening on %s:%d", "127.0.0.1", 9092);
    log_error("log", "segment %s corrupt", "00000000000000000000.log");
    logger_close_file();

    const char *text = read_all(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NULL(strstr(text, "hidden"));
    regex_t re;
    CU_ASSERT_EQUAL_FATAL(regcomp(&re,
                                  "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} "
                                  "INFO  \\[net\\] listening on 127\\.0\\.0\\.1:9092\n"
                                  "[0-9-]{10} [0-9:]{8}\\.[0-9]{3} ERROR \\[log\\] segment "
                                  "00000000000000000000\\.log corrupt\n$",
                                  REG_EXTENDED),
                          0);
    CU_ASSERT_EQUAL(regexec(&re, text, 0, NULL, 0), 0);
    regfree(&re);
    unit_rmtree(dir);
    free(dir);
}

/* A message longer than the line buffer is cut, not overflowed. */
static void test_long_line_is_cut(void) {
    char *dir = unit_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/long.log", dir);
    CU_ASSERT_EQUAL_FATAL(logger_open_file(path), 0);
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_warn("test", "%s", big);
    logger_close_file();
    const char *text = read_all(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    size_t len = strlen(text);
    CU_ASSERT_EQUAL(len, 2048 - 1);
    CU_ASSERT_EQUAL(strcmp(text + len - 4, "...\n"), 0);
    unit_rmtree(dir);
    free(dir);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"level names", test_level_parse},
        {"file sink: format and level filter", test_file_sink_format_and_filter},
        {"overlong line is cut", test_long_line_is_cut},
        {NULL, NULL},
    };
    unit_add_suite("logger", tests);
}
