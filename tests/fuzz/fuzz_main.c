/*  fuzz_main -- a standalone driver for the libFuzzer targets, used when the
    compiler is not clang (or no fuzzing engine is wanted): it replays every
    file named on the command line, and every file inside each folder named,
    through LLVMFuzzerTestOneInput. The seed corpus and the crash inputs kept
    as regression tests run this way in every `make test`, also under gcc and
    under AddressSanitizer.

    usage: fuzz_NAME [FILE|DIR]...   (exit 0 if every input ran; a target
    that finds a bug aborts, which fails the test) */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Inputs bigger than this are not replayed (libFuzzer's default -max_len
   is far smaller; the seeds are small). */
#define FUZZ_MAIN_MAX_INPUT (8u << 20)

static int
s_run_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    uint8_t *buf = malloc(FUZZ_MAIN_MAX_INPUT);
    size_t n = buf ? fread(buf, 1, FUZZ_MAIN_MAX_INPUT, f) : 0;
    int bad = !buf || ferror(f) || !feof(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: cannot read (or over %u bytes)\n", path, FUZZ_MAIN_MAX_INPUT);
        free(buf);
        return 1;
    }
    /* A copy of exactly n bytes, so ASan sees a read past the end. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return 1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    (*count)++;
    return 0;
}

static int
s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
s_run_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;           /* ., .., and .gitkeep */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) {
                rc = 1;
                break;
            }
            names = grown;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            rc = 1;
            break;
        }
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, s_cmp);      /* same order every run */
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = s_run_file(path, count);
        free(names[i]);
    }
    free(names);
    return rc;
}

int
main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0;
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc && rc == 0; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            /* A folder of crash inputs may not exist yet: nothing to replay. */
            if (errno == ENOENT)
                continue;
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        rc = S_ISDIR(st.st_mode) ? s_run_dir(argv[i], &count) : s_run_file(argv[i], &count);
    }
    printf("%s: %zu inputs replayed\n", argv[0], count);
    return rc;
}
