/*  fuzz_request -- the enrollment request file an organisation sends to
    the administrators (ORG/request.nrm), as `nrm-admin enroll` reads it:
    nrm_request_verify (Signed wrapper, canonical EnrollRequest, its own
    signature, fields). Property: a refusal has a reason; a request that
    verifies has a valid id and name. */
#include "fuzz.h"
#include "nrm_registry.h"
#include "nrm_util.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nrm_cert_t req;
    uint8_t hash[NRM_HASH_BYTES];
    nrm_err_t err = { 0, 0, "" };
    fuzz_setup();
    if (size > NRM_MAX_CERT_BYTES)
        return 0;               /* nrm-admin refuses a bigger file unread */
    if (nrm_request_verify(data, size, &req, hash, &err) != 0) {
        FUZZ_CHECK(err.code != 0);
        return 0;
    }
    FUZZ_CHECK(nrm_id_valid(req.org_id));
    FUZZ_CHECK(nrm_text_valid(req.name, NRM_NAME_MAX));
    return 0;
}
