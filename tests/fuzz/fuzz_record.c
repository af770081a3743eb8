/*  fuzz_record -- nrm_record_decode, which nrm-audit runs on every record
    of a log copied from a broker (an auditor must not trust it). Property:
    a record that decodes encodes again (with the same batch proof), holds
    its subject within the record cap, and a batch proof only beside a
    signature and of a shape that leads to a root. */
#include "fuzz.h"
#include "nrm_codec.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nrm_record_t rec;
    nrm_err_t err = { 0, 0, "" };
    fuzz_setup();
    memset(&rec, 0, sizeof rec);
    if (nrm_record_decode(data, size, &rec, &err) != 0) {
        FUZZ_CHECK(err.code != 0);
        nrm_record_clear(&rec);
        return 0;
    }
    FUZZ_CHECK(rec.subject_len <= NRM_MAX_RECORD_BYTES);
    FUZZ_CHECK(rec.batch.size == 0 || rec.has_signature);
    fuzz_check_proof(&rec.batch, NRM_CTX_ENVELOPE, rec.subject, rec.subject_len);
    uint8_t *again = NULL;
    size_t len = 0;
    FUZZ_CHECK(nrm_record_encode(&rec, &again, &len, NULL) == 0);
    nrm_record_t back;
    FUZZ_CHECK(nrm_record_decode(again, len, &back, NULL) == 0);
    FUZZ_CHECK(back.batch.size == rec.batch.size && back.batch.index == rec.batch.index
               && back.batch.npath == rec.batch.npath
               && memcmp(back.batch.path, rec.batch.path, rec.batch.npath * NRM_HASH_BYTES) == 0);
    nrm_record_clear(&back);
    free(again);
    nrm_record_clear(&rec);
    return 0;
}
