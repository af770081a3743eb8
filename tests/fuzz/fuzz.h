/*  fuzz.h -- what every fuzz target shares. A target defines
    LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize); it is
    linked either with libFuzzer (clang, -fsanitize=fuzzer) or with
    fuzz_main.c, which replays files. A target must never crash, leak or
    read out of bounds on any input, and asserts the properties it knows
    with FUZZ_CHECK: a broken one aborts, which both drivers report. */
#ifndef NRM_FUZZ_H_INCLUDED
#define NRM_FUZZ_H_INCLUDED
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) \
    do { if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond); } while (0)
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* Once per process: libsodium, quiet logging, a private temporary folder
   (removed at exit). Returns that folder. */
const char *fuzz_setup(void);
/* Writes data to <fuzz_setup()>/name with the given mode; returns the path
   (static buffer) or aborts. */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size, int mode);

/* The property every decoded batch proof has (proof is an
   nrm_batch_proof_t): none (size 0), or a shape nrm_batch_proof_check
   accepts that leads from the leaf of ctx || data to a root. */
void fuzz_check_proof(const void *proof, const char *ctx, const uint8_t *data, size_t len);

#endif
