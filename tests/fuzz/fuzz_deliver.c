/*  fuzz_deliver -- what an agent reads from the broker: a ServerMsg frame,
    then everything the agent checks in it: the sender certificate and the
    envelope of a Deliver with the seal and the body
    (agent_delivery_check_cached, through a cache of verified certificates
    as the daemon does), the receipt decoding (agent_receipt_check), the
    batch proofs of either, the certificates of a Welcome. The keys are
    made once per process; the fuzzer cannot forge signatures, so this
    covers the decoding and the
    order of checks. Property: a refused delivery has a reason, and a
    delivery whose envelope decoded names the message id. */
#include "fuzz.h"
#include "agent_verify.h"
#include "nrm_codec.h"

#include <stdlib.h>
#include <string.h>

static nrm_keys_t *s_keys;
static nrm_genesis_t s_genesis;
static agent_certcache_t *s_certs;
static nrm_sealcache_t *s_seals;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nrm_wire_t *w = NULL;
    nrm_err_t err = { 0, 0, "" };
    fuzz_setup();
    if (!s_keys) {
        s_keys = nrm_keys_generate(NRM_KEYS_ALL);
        FUZZ_CHECK(s_keys != NULL);
        memcpy(s_genesis.admin_pk, nrm_keys_sign_pk(s_keys), NRM_PK_BYTES);
        memcpy(s_genesis.admin_sign_pks[0], nrm_keys_sign_pk(s_keys), NRM_PK_BYTES);
        memcpy(s_genesis.broker_sign_pk, nrm_keys_sign_pk(s_keys), NRM_PK_BYTES);
        s_genesis.nadmins = 1;
        s_genesis.quorum = 1;
        s_certs = agent_certcache_new(16);
        FUZZ_CHECK(s_certs != NULL);
        s_seals = nrm_sealcache_new(4);
        FUZZ_CHECK(s_seals != NULL);
    }
    if (nrm_wire_decode(data, size, false, &w, &err) != 0) {
        FUZZ_CHECK(w == NULL && err.code != 0);
        return 0;
    }
    switch (w->kind) {
    case NRM_WIRE_DELIVER: {
        agent_delivery_t d;
        const nrm_keys_t *keys[1] = { s_keys };
        fuzz_check_proof(&w->batch, NRM_CTX_ENVELOPE, w->envelope.data, w->envelope.len);
        agent_delivery_check_cached(w, "msdhs", keys, 1, &s_genesis, s_certs, s_seals, &d);
        FUZZ_CHECK(d.status != 0 || d.has_env);
        if (d.status != 0)
            FUZZ_CHECK(d.reason[0] != '\0');
        break;
    }
    case NRM_WIRE_RECEIPT: {
        nrm_receipt_t r;
        fuzz_check_proof(&w->batch, NRM_CTX_RECEIPT, w->signed_obj.body.data,
                         w->signed_obj.body.len);
        if (agent_receipt_check(w, s_genesis.broker_sign_pk, &r, &err) != 0)
            FUZZ_CHECK(err.code != 0);
        break;
    }
    case NRM_WIRE_WELCOME:
        FUZZ_CHECK(w->count <= NRM_MAX_CERTS);
        for (size_t i = 0; i < w->count; i++) {
            nrm_cert_t cert;
            if (agent_cert_check(&w->certs[i], &s_genesis, &cert, &err) != 0)
                FUZZ_CHECK(err.code != 0);
        }
        break;
    case NRM_WIRE_STATUS_REPLY:
    case NRM_WIRE_PONG:
        break;
    default:
        fuzz_fail(__FILE__, __LINE__, "a server frame decoded as a client message");
    }
    nrm_wire_destroy(&w);
    return 0;
}
