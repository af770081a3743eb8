/*  fuzz_envelope -- nrm_envelope_decode, the broker's check 8 on every
    submitted envelope. Property: an envelope that decodes is canonical, so
    encoding its fields again gives exactly the input bytes (the signature
    covers those bytes, and every reader must see the same fields). */
#include "fuzz.h"
#include "nrm_codec.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nrm_envelope_t env;
    nrm_err_t err = { 0, 0, "" };
    fuzz_setup();
    if (nrm_envelope_decode(data, size, &env, &err) != 0) {
        FUZZ_CHECK(err.reason != 0);        /* every refusal has a reason */
        FUZZ_CHECK(memchr(err.msg, 0, sizeof err.msg) != NULL);
        return 0;
    }
    FUZZ_CHECK(size <= NRM_MAX_ENVELOPE_BYTES);
    FUZZ_CHECK(env.version == NRM_ENVELOPE_VERSION && env.priority <= 3);
    FUZZ_CHECK(env.body_size <= NRM_MAX_BODY_BYTES);
    uint8_t *again = NULL;
    size_t len = 0;
    FUZZ_CHECK(nrm_envelope_encode(&env, &again, &len, NULL) == 0);
    FUZZ_CHECK(len == size && memcmp(again, data, size) == 0);
    free(again);
    return 0;
}
