/*  fuzz_wire_client -- what the broker reads from an authenticated agent:
    a ClientMsg frame (nrm_wire_decode with from_client), then what the
    broker decodes inside it: the envelope of a Submit, the Ack inside a
    Signed, and the batch proof of either. Property: a frame that decodes
    holds what its kind needs within the caps (a batch proof of the exact
    RFC 9162 shape that leads to a root), and its view encodes again with
    the same proof. Every kind an agent or an
    administrator may send is listed; any other kind fails. */
#include "fuzz.h"
#include "nrm_codec.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nrm_wire_t *w = NULL;
    nrm_err_t err = { 0, 0, "" };
    fuzz_setup();
    if (nrm_wire_decode(data, size, true, &w, &err) != 0) {
        FUZZ_CHECK(w == NULL && err.code != 0);
        return 0;
    }
    FUZZ_CHECK(size <= NRM_MAX_FRAME_BYTES);
    switch (w->kind) {
    case NRM_WIRE_SUBMIT: {
        nrm_envelope_t env;
        FUZZ_CHECK(w->envelope.len >= 1 && w->envelope.len <= NRM_MAX_ENVELOPE_BYTES);
        FUZZ_CHECK(w->sealed_body.len <= NRM_MAX_BODY_BYTES);
        if (nrm_envelope_decode(w->envelope.data, w->envelope.len, &env, &err) != 0)
            FUZZ_CHECK(err.reason != 0);
        fuzz_check_proof(&w->batch, NRM_CTX_ENVELOPE, w->envelope.data, w->envelope.len);
        break;
    }
    case NRM_WIRE_ACK: {
        nrm_ack_t ack;
        FUZZ_CHECK(w->signed_obj.sig.len == NRM_SIG_BYTES);
        FUZZ_CHECK(w->signed_obj.body.len >= 1 && w->signed_obj.body.len <= 1024);
        if (nrm_ack_decode(w->signed_obj.body.data, w->signed_obj.body.len, &ack, &err) != 0)
            FUZZ_CHECK(err.reason != 0);
        fuzz_check_proof(&w->batch, NRM_CTX_ACK, w->signed_obj.body.data, w->signed_obj.body.len);
        break;
    }
    case NRM_WIRE_STATUS:
        FUZZ_CHECK(w->count <= NRM_MAX_STATUS_IDS);
        for (size_t i = 0; i < w->count; i++)
            FUZZ_CHECK(w->ids[i].len == NRM_MSGID_BYTES);
        break;
    case NRM_WIRE_ADMIN: {
        nrm_action_t act;
        FUZZ_CHECK(w->signed_obj.sig.len == NRM_SIG_BYTES);
        FUZZ_CHECK(w->signed_obj.body.len >= 1 && w->signed_obj.body.len <= NRM_MAX_ACTION_BYTES);
        if (nrm_action_decode(w->signed_obj.body.data, w->signed_obj.body.len, &act, &err) != 0)
            FUZZ_CHECK(err.reason != 0);
        else
            nrm_action_clear(&act);
        break;
    }
    case NRM_WIRE_HELLO:
    case NRM_WIRE_PING:
    case NRM_WIRE_CHECKPOINT_REQUEST:
        break;
    default:
        fuzz_fail(__FILE__, __LINE__, "a client frame decoded as a server message");
    }
    uint8_t *again = NULL;
    size_t len = 0;
    if (w->kind != NRM_WIRE_HELLO || w->org_id) {
        FUZZ_CHECK(nrm_wire_encode(w, &again, &len, NULL) == 0);
        /* the proof survives the round trip */
        nrm_wire_t *back = NULL;
        if (w->batch.size && nrm_wire_decode(again, len, true, &back, NULL) == 0) {
            FUZZ_CHECK(back->batch.size == w->batch.size && back->batch.index == w->batch.index
                       && back->batch.npath == w->batch.npath
                       && memcmp(back->batch.path, w->batch.path,
                                 w->batch.npath * NRM_HASH_BYTES) == 0);
        }
        nrm_wire_destroy(&back);
    }
    free(again);
    nrm_wire_destroy(&w);
    return 0;
}
