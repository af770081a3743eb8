/*  fuzz_keys -- key files (secret.keys, broker.key, admin.key) as
    nrm_keys_load reads them: magic, parts byte, fixed length, public keys
    derived from the secret ones. Property: a file that loads holds only
    known parts, and each part it names has its public key. */
#include "fuzz.h"
#include "nrm_crypto.h"

#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nrm_keys_t *keys = NULL;
    nrm_err_t err = { 0, 0, "" };
    const char *path = fuzz_write("secret.keys", data, size, 0600);
    if (nrm_keys_load(path, &keys, &err) != 0) {
        FUZZ_CHECK(keys == NULL && err.code != 0);
        FUZZ_CHECK(strstr(err.msg, "secret.keys") != NULL);
        return 0;
    }
    int parts = nrm_keys_parts(keys);
    FUZZ_CHECK(parts != 0 && (parts & ~NRM_KEYS_ALL) == 0);
    FUZZ_CHECK(!(parts & NRM_KEYS_SIGN) || nrm_keys_sign_pk(keys) != NULL);
    FUZZ_CHECK(!(parts & NRM_KEYS_CURVE) || nrm_keys_curve_pk(keys) != NULL);
    FUZZ_CHECK(!(parts & NRM_KEYS_BOX) || nrm_keys_box_pk(keys) != NULL);
    nrm_keys_destroy(&keys);
    return 0;
}
