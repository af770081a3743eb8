/*  fuzz_util -- setup shared by the fuzz targets. */
#include "fuzz.h"
#include "nrm_batchsig.h"
#include "nrm_crypto.h"
#include "nrm_log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[256];

void
fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: fuzz property failed: %s\n", file, line, what);
    abort();
}

static void
s_cleanup(void)
{
    char cmd[300];
    if (s_dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", s_dir);
    }
}

const char *
fuzz_setup(void)
{
    if (s_dir[0])
        return s_dir;
    if (nrm_crypto_init() != 0)
        fuzz_fail(__FILE__, __LINE__, "libsodium init");
    nrm_log_init("fuzz", "", NRM_LOG_ERROR - 1);   /* silent */
    const char *tmp = getenv("TMPDIR");
    snprintf(s_dir, sizeof s_dir, "%s/nrm-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s_dir))
        fuzz_fail(__FILE__, __LINE__, "mkdtemp");
    atexit(s_cleanup);
    return s_dir;
}

const char *
fuzz_write(const char *name, const uint8_t *data, size_t size, int mode)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_setup(), name);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        fuzz_fail(__FILE__, __LINE__, "open temporary file");
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            fuzz_fail(__FILE__, __LINE__, "write temporary file");
        off += (size_t) n;
    }
    if (fchmod(fd, (mode_t) mode) != 0)
        fuzz_fail(__FILE__, __LINE__, "chmod temporary file");
    close(fd);
    return path;
}

void
fuzz_check_proof(const void *proof, const char *ctx, const uint8_t *data, size_t len)
{
    const nrm_batch_proof_t *p = proof;
    uint8_t msg[NRM_BATCH_SIGNED_BYTES];
    if (p->size == 0)
        return;
    FUZZ_CHECK(nrm_batch_proof_check(p, NULL) == 0);
    FUZZ_CHECK(p->npath <= NRM_BATCH_PATH_MAX);
    FUZZ_CHECK(nrm_batch_signed_bytes(ctx, data, len, p, msg, NULL) == 0);
}
