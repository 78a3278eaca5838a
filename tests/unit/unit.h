/*
 * unit — the glue between CUnit and a unit test program.
 *
 * A test program defines unit_register(), which adds its suites to the CUnit
 * registry; unit_main.c runs them and prints "<program>: N passed, N failed"
 * (tests counted, a test with any failed assertion counts as failed), which
 * tests/run.sh adds up over all programs.
 */
#ifndef SAMSA_UNIT_H
#define SAMSA_UNIT_H

#include <CUnit/CUnit.h>

void unit_register(void);

/* Adds a suite with no setup/teardown and the NULL-terminated tests. */
typedef struct unit_test {
    const char *name;
    CU_TestFunc fn;
} unit_test_t;
void unit_add_suite(const char *name, const unit_test_t *tests);

/* A fresh empty directory under $TMPDIR (or /tmp) for one test; the caller
 * frees the string and may remove the tree with unit_rmtree(). */
char *unit_mkdtemp(void);
void unit_rmtree(const char *path);

#endif
