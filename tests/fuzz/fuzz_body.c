/*  fuzz_body -- an opened body as the recipient's agent reads it: protobuf
    bytes from another organisation (nrm_body_decode, every schema check),
    for a message type chosen by the first byte. Property: a body that
    decodes encodes to bytes that decode again. */
#include "fuzz.h"
#include "nrm_body.h"

#include <stdlib.h>

static const char *const s_types[] = { "tip", "referral", "response", "outcome", "withdrawal",
                                       "transfer", "status", "consent", "interpreter-request",
                                       "info-request", "info-reply" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nrm_err_t err = { 0, 0, "" };
    nrm_body_t *b = NULL, *again = NULL;
    fuzz_setup();
    if (size < 1)
        return 0;
    const char *type = s_types[data[0] % (sizeof s_types / sizeof s_types[0])];
    if (nrm_body_decode(type, data + 1, size - 1, &b, &err) != 0) {
        FUZZ_CHECK(b == NULL && err.code != 0);
        return 0;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    FUZZ_CHECK(nrm_body_encode(b, &bytes, &len, NULL) == 0);
    FUZZ_CHECK(nrm_body_decode(type, bytes, len, &again, &err) == 0);
    free(bytes);
    nrm_body_free(&again);
    nrm_body_free(&b);
    return 0;
}
