/*  fuzz_signed -- the decoders of every signed object: Signed{body,sig}
    wrappers, and inside them Certificate, EnrollRequest, Genesis, Ack and
    Receipt, a Signed with a batch proof, and a batch proof alone. The input
    is tried as each of them (a Signed wrapper and its body are both
    untrusted bytes). Property: an object that decodes is
    canonical (its encoding gives the input again), and a wrapper that
    decodes re-encodes to the input too. */
#include "fuzz.h"
#include "nrm_codec.h"

#include <stdlib.h>
#include <string.h>

#define ROUND_TRIP(type, decode, encode)                                  \
    do {                                                                  \
        type v_;                                                          \
        nrm_err_t e_ = { 0, 0, "" };                                      \
        if (decode(body, len, &v_, &e_) == 0) {                           \
            uint8_t *out_ = NULL;                                         \
            size_t olen_ = 0;                                             \
            FUZZ_CHECK(encode(&v_, &out_, &olen_, NULL) == 0);            \
            FUZZ_CHECK(olen_ == len && memcmp(out_, body, len) == 0);     \
            free(out_);                                                   \
        } else {                                                          \
            FUZZ_CHECK(e_.code != 0 && e_.reason != 0);                   \
        }                                                                 \
    } while (0)

static void
s_objects(const uint8_t *body, size_t len)
{
    ROUND_TRIP(nrm_cert_t, nrm_cert_decode, nrm_cert_encode);
    ROUND_TRIP(nrm_cert_t, nrm_request_decode, nrm_request_encode);
    ROUND_TRIP(nrm_genesis_t, nrm_genesis_decode, nrm_genesis_encode);
    ROUND_TRIP(nrm_ack_t, nrm_ack_decode, nrm_ack_encode);
    ROUND_TRIP(nrm_receipt_t, nrm_receipt_decode, nrm_receipt_encode);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    size_t body_len = 0;
    nrm_err_t err = { 0, 0, "" };
    fuzz_setup();
    s_objects(data, size);
    if (nrm_signed_decode(data, size, NRM_MAX_CERT_BYTES, &body, &body_len, sig, &err) == 0) {
        FUZZ_CHECK(body_len >= 1 && body_len <= NRM_MAX_CERT_BYTES);
        uint8_t *again = NULL;
        size_t len = 0;
        FUZZ_CHECK(nrm_signed_encode(body, body_len, sig, &again, &len, NULL) == 0);
        free(again);
        s_objects(body, body_len);
        free(body);
    }
    /* acks and receipts: a Signed that may carry a batch proof */
    nrm_batch_proof_t proof;
    body = NULL;
    if (nrm_signed_decode_batch(data, size, 1024, &body, &body_len, sig, &proof, &err) == 0) {
        FUZZ_CHECK(body_len >= 1 && body_len <= 1024);
        fuzz_check_proof(&proof, NRM_CTX_RECEIPT, body, body_len);
        uint8_t *again = NULL, *body2 = NULL, sig2[NRM_SIG_BYTES];
        size_t len = 0, body2_len = 0;
        nrm_batch_proof_t proof2;
        FUZZ_CHECK(nrm_signed_encode_batch(body, body_len, sig, &proof, &again, &len, NULL) == 0);
        FUZZ_CHECK(nrm_signed_decode_batch(again, len, 1024, &body2, &body2_len, sig2, &proof2,
                                           NULL) == 0);
        FUZZ_CHECK(body2_len == body_len && memcmp(body2, body, body_len) == 0
                   && proof2.size == proof.size && proof2.index == proof.index
                   && proof2.npath == proof.npath);
        free(body2);
        free(again);
        free(body);
    }
    /* a proof alone, as an agent keeps it beside a signature */
    if (nrm_batch_proof_decode(data, size, &proof, &err) == 0)
        fuzz_check_proof(&proof, NRM_CTX_ACK, data, size);
    return 0;
}
