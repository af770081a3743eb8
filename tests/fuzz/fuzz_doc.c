/*  fuzz_doc -- the JSON documents that come from the organisation's own
    system (`nrm-agent send --file`): nrm_body_parse for a message type
    chosen by the first byte, the rest being the JSON text. Properties: a
    refusal says what was wrong; a document the sender's agent accepts
    encodes to a body that the recipient's agent accepts too (the same
    checks on both ends), and shows as JSON again. */
#include "fuzz.h"
#include "nrm_body.h"

#include <jansson.h>
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
    if (nrm_body_parse(type, (const char *) data + 1, size - 1, "doc.json", &b, &err) != 0) {
        FUZZ_CHECK(b == NULL && err.code != 0 && err.msg[0] != '\0');
        return 0;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    json_t *j = NULL;
    FUZZ_CHECK(nrm_body_encode(b, &bytes, &len, NULL) == 0);
    FUZZ_CHECK(nrm_body_decode(type, bytes, len, &again, &err) == 0);
    FUZZ_CHECK(nrm_body_to_json(again, &j, NULL) == 0);
    json_decref(j);
    free(bytes);
    nrm_body_free(&again);
    nrm_body_free(&b);
    return 0;
}
