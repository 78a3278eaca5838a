#include "unit.h"

#include <CUnit/Basic.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void unit_add_suite(const char *name, const unit_test_t *tests) {
    CU_pSuite suite = CU_add_suite(name, NULL, NULL);
    if (!suite) {
        fprintf(stderr, "cannot add suite %s: %s\n", name, CU_get_error_msg());
        exit(2);
    }
    for (const unit_test_t *t = tests; t->name; t++) {
        if (!CU_add_test(suite, t->name, t->fn)) {
            fprintf(stderr, "cannot add test %s: %s\n", t->name, CU_get_error_msg());
            exit(2);
        }
    }
}

char *unit_mkdtemp(void) {
    const char *base = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/samsa-unit-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        exit(2);
    }
    return strdup(path);
}

static int unit_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void unit_rmtree(const char *path) { nftw(path, unit_rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

int main(int argc, char **argv) {
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
        return 2;
    }
    unit_register();
    CU_basic_set_mode(argc > 1 && strcmp(argv[1], "-q") == 0 ? CU_BRM_SILENT : CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned ran = CU_get_number_of_tests_run();
    unsigned failed = CU_get_number_of_tests_failed();
    unsigned suites_failed = CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    printf("\n%s: %u passed, %u failed\n", name, ran - failed, failed + suites_failed);
    return (failed || suites_failed || ran == 0) ? 1 : 0;
}
