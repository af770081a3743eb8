/*  testutil -- a few macros for plain ctest programs: each failed check
    prints where and what, and the program exits non-zero at the end. */
#ifndef TESTUTIL_H_INCLUDED
#define TESTUTIL_H_INCLUDED
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures;
static int t_checks;

#define CHECK(cond) do { t_checks++; if (!(cond)) { t_failures++; \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_RC(expr, want) do { int t_rc_ = (expr); t_checks++; if (t_rc_ != (want)) { \
    t_failures++; fprintf(stderr, "%s:%d: %s returned %d, expected %d\n", __FILE__, __LINE__, \
    #expr, t_rc_, (want)); } } while (0)
#define CHECK_STR_HAS(hay, needle) do { t_checks++; if (!strstr((hay), (needle))) { \
    t_failures++; fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__, \
    (hay), (needle)); } } while (0)
#define TEST_DONE() do { printf("%d checks, %d failed\n", t_checks, t_failures); \
    return t_failures ? 1 : 0; } while (0)

/* A fresh temporary folder (caller removes it). */
static inline void
t_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/nrm-test-XXXXXX");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(2);
    }
}

static inline void
t_rmdir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}
#endif
